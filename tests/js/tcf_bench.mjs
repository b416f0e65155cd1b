// Times IAB's JS decoder (@iabtechlabtcf/core) on the strings of `cargo bench -p euid-tcf`,
// decode + the EUID policy check, for docs/PERFORMANCE.md.
//
// Usage: node tcf_bench.mjs [milliseconds per case, default 2000]
//
// "raw" is TCString.decode(s, {}) (bit-level decode into a plain object); "strict" is
// TCString.decode(s) into a TCModel, which rejects the docs string (cmpId 1) after reading it.
import { readFileSync } from 'node:fs';
import { TCString } from '@iabtechlabtcf/core';

const DOCS = 'CPhJRpMPhJRpMABAMBFRACBoALAAAEJAAIYgAKwAQAKgArABAAqAAA';
// Keep in sync with crates/euid-tcf/benches/tcf.rs.
const VENDORS_800 = 'CP3tAUAP3tAUAEsACBENB4EoAP_AAEPAAAYglYQQYABgAtAFwAdIBwAHjAT8BRoDJANBAeIB8ID_AQdAk0CY4FpgXVAwoDDIGoAa9A4QDlYHpAfVBCcELoJIAlHBN4E4YKegqPBXkFfILJAtVBgUGDIMdAyDBlMGWoNGA0hBqsGrIN9A4dByEHLoOlA6pB7EHuIQNBBPCJ4IooRahGDCOgI9YSiBKfCaUJsYTgBOHCdwJ4YUEhQzCiQKMIU8BUhCwALGAW2QuVC5-GAYYLQxpDG0GPkMtQy3hoUGisNbQ1vhs8G00N3g3fhwEHBkOLg47h0yHVcPCg8Vh5AHmEPhQ-Sh_mH_sQExAgiDSIN0Q5hD2iKSIq0RrxG6iRUJF0SlhKbiVAJWAUAQF4ABAAxACsAP4AlgC9ANkA44CegKrAgsCEIEcgSfAnUCfYGNgZhA88D0YIggivBNoE4oJ5gnpBbAFvoM2Az1BvsHAoO3A7fCAcIEoRCBEPCJIIl4SVBJpCakJvoT8hQAAAAA';

const budgetMs = Number.parseInt(process.argv[2] ?? '2000', 10);
const EUID = [1, 2, 3, 4, 7, 10];

function sufficient(tc) {
  const granted = new Set();
  if (tc.vendorConsents.has(21)) for (const p of tc.purposeConsents.values()) granted.add(p);
  if (tc.vendorLegitimateInterests.has(21)) {
    for (const p of tc.purposeLegitimateInterests.values()) granted.add(p);
  }
  return EUID.every((p) => granted.has(p));
}

function time(name, fn) {
  // Warm up the JIT, then run batches until the budget is spent; report the best batch mean.
  for (let i = 0; i < 2000; i++) fn();
  let best = Infinity;
  const end = Date.now() + budgetMs;
  while (Date.now() < end) {
    const n = 500;
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < n; i++) fn();
    const ns = Number(process.hrtime.bigint() - t0) / n;
    best = Math.min(best, ns);
  }
  const shown = best >= 1000 ? `${(best / 1000).toFixed(2)} µs` : `${best.toFixed(0)} ns`;
  console.log(`${name.padEnd(32)} ${shown}`);
}

for (const [name, s] of [['docs', DOCS], ['800_vendors', VENDORS_800]]) {
  if (!sufficient(TCString.decode(s, {}))) throw new Error(`${name}: expected sufficient consent`);
  time(`js raw decode_policy_${name}`, () => sufficient(TCString.decode(s, {})));
}
time('js strict decode_policy_800_vendors', () => sufficient(TCString.decode(VENDORS_800)));
const lib = JSON.parse(
  readFileSync(new URL('./node_modules/@iabtechlabtcf/core/package.json', import.meta.url), 'utf8'),
);
console.log(`node ${process.version}, @iabtechlabtcf/core ${lib.version}`);
