// Differential oracle for euid-tcf: builds random TC models with IAB's reference library
// (@iabtechlabtcf/core), encodes them, decodes the strings again with the same library, and
// prints one JSON line per string: {"input": <TC string>, "fields": <what IAB's decoder read>}.
// The Rust test `crates/euid-tcf/tests/js_differential.rs` decodes every string itself and
// requires agreement on every field.
//
// Usage: node tcf_differential.mjs <seed> <count>
//        node tcf_differential.mjs --decode < strings
// The second form reads TC strings (one a line, e.g. euid-tcf's re-encodings of the first
// form's models) and prints {"fields": ...} (or {"error": ...}) for each, from IAB's decoder.
//
// Encoding goes segment by segment through SegmentEncoder on a plain object, which needs no
// Global Vendor List (TCString.encode would fetch one and rewrite fields). Decoding uses
// TCString.decode(s, {}) ("raw" mode, decoding into a plain object), which skips the TCModel
// setters' semantic checks (cmpId > 1, ...) but not the bit-level decoding.
import {
  PurposeRestriction,
  PurposeRestrictionVector,
  Segment,
  SegmentEncoder,
  TCString,
  Vector,
} from '@iabtechlabtcf/core';

const decodeMode = process.argv[2] === '--decode';
const seed = decodeMode ? 1 : Number.parseInt(process.argv[2] ?? '1', 10);
const count = Number.parseInt(process.argv[3] ?? '1000', 10);
if (!Number.isInteger(seed) || !Number.isInteger(count) || count < 0) {
  console.error('usage: node tcf_differential.mjs <seed> <count>');
  process.exit(2);
}

// mulberry32: small, seeded, reproducible across Node versions.
let state = seed >>> 0;
function random() {
  state = (state + 0x6d2b79f5) >>> 0;
  let t = state;
  t = Math.imul(t ^ (t >>> 15), t | 1);
  t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
}
const int = (lo, hi) => lo + Math.floor(random() * (hi - lo + 1)); // inclusive
const chance = (p) => random() < p;
const pick = (items) => items[int(0, items.length - 1)];

function subsetOf(n, density) {
  const ids = [];
  for (let i = 1; i <= n; i++) if (chance(density)) ids.push(i);
  return ids;
}

const EUID_PURPOSES = [1, 2, 3, 4, 7, 10];

// Purposes: sometimes exactly what EUID needs (so the policy sees both outcomes), else random.
function purposes() {
  if (chance(0.3)) {
    const ids = new Set(EUID_PURPOSES.filter(() => chance(0.9)));
    subsetOf(24, 0.1).forEach((p) => ids.add(p));
    return [...ids];
  }
  return subsetOf(24, random());
}

// Vendor id sets in shapes that make the encoder pick either encoding.
function vendorIds() {
  const ids = new Set();
  switch (int(0, 5)) {
    case 0: // empty
      break;
    case 1: // dense and small: bit field
      subsetOf(int(1, 120), random()).forEach((v) => ids.add(v));
      break;
    case 2: { // sparse over a large id space: range encoding with single ids
      const max = int(200, pick([1000, 3000, 65535]));
      const n = int(1, 60);
      for (let i = 0; i < n; i++) ids.add(int(1, max));
      break;
    }
    case 3: { // runs: range encoding with real ranges (~800 vendors in a few dozen runs)
      let at = int(1, 50);
      const runs = int(1, 40);
      for (let r = 0; r < runs && at < 65000; r++) {
        const len = int(1, 60);
        for (let v = at; v < at + len && v <= 65535; v++) ids.add(v);
        at += len + int(1, 300);
      }
      break;
    }
    case 4: // large dense bit field
      subsetOf(int(500, 2500), random()).forEach((v) => ids.add(v));
      break;
    default: // the EUID vendor alone, or with neighbours
      ids.add(21);
      if (chance(0.5)) subsetOf(int(22, 900), 0.02).forEach((v) => ids.add(v));
      break;
  }
  if (chance(0.4)) ids.add(21);
  return [...ids];
}

function vector(ids) {
  const v = new Vector();
  if (ids.length > 0) v.set(ids);
  return v;
}

function restrictions() {
  const prv = new PurposeRestrictionVector();
  const n = chance(0.5) ? 0 : int(1, 12);
  let maxVendor = 0;
  for (let i = 0; i < n; i++) {
    const purposeId = chance(0.9) ? int(1, 24) : int(25, 63);
    const pr = new PurposeRestriction(purposeId, int(0, 2));
    for (const v of vendorIds().slice(0, 200)) {
      prv.add(v, pr);
      maxVendor = Math.max(maxVendor, v);
    }
  }
  // The encoder asks a GVL which ids exist, to let a range span ids that do not. A stub with
  // random holes gives ranges that span gaps; decoders must then agree on the spanned ids.
  const holes = chance(0.5);
  const gvlIds = new Set();
  for (let v = 1; v <= maxVendor + 1; v++) if (!holes || chance(0.8)) gvlIds.add(v);
  prv.gvl = { vendorIds: gvlIds };
  return prv;
}

function letters() {
  const l = () => String.fromCharCode(65 + int(0, 25));
  return l() + l();
}

function randomModel() {
  const created = new Date(int(0, 2 ** 36 - 1) * 100);
  const model = {
    version: 2,
    created,
    lastUpdated: chance(0.5) ? created : new Date(int(0, 2 ** 36 - 1) * 100),
    cmpId: int(0, 4095),
    cmpVersion: int(0, 4095),
    consentScreen: int(0, 63),
    consentLanguage: letters(),
    vendorListVersion: int(0, 4095),
    policyVersion: pick([2, 4, 5, int(0, 63)]),
    isServiceSpecific: chance(0.8),
    useNonStandardTexts: chance(0.2),
    specialFeatureOptins: vector(subsetOf(12, random())),
    purposeConsents: vector(purposes()),
    purposeLegitimateInterests: vector(purposes()),
    purposeOneTreatment: chance(0.3),
    publisherCountryCode: letters(),
    vendorConsents: vector(vendorIds()),
    vendorLegitimateInterests: vector(vendorIds()),
    publisherRestrictions: restrictions(),
    vendorsDisclosed: vector(vendorIds()),
    vendorsAllowed: vector(vendorIds()),
    publisherConsents: vector(subsetOf(24, random())),
    publisherLegitimateInterests: vector(subsetOf(24, random())),
  };
  const numCustom = chance(0.5) ? 0 : int(1, 63);
  model.numCustomPurposes = numCustom;
  model.publisherCustomConsents = vector(subsetOf(numCustom, random()));
  model.publisherCustomLegitimateInterests = vector(subsetOf(numCustom, random()));
  return model;
}

function encode(model) {
  const segments = [];
  if (chance(0.6)) segments.push(Segment.VENDORS_DISCLOSED);
  if (chance(0.2)) segments.push(Segment.VENDORS_ALLOWED);
  if (chance(0.4)) segments.push(Segment.PUBLISHER_TC);
  // Optional segments may come in any order.
  for (let i = segments.length - 1; i > 0; i--) {
    const j = int(0, i);
    [segments[i], segments[j]] = [segments[j], segments[i]];
  }
  return [Segment.CORE, ...segments].map((s) => SegmentEncoder.encode(model, s)).join('.');
}

// Sorted ids of a Vector as inclusive [start, end] runs (keeps the output small).
function ranges(ids) {
  const sorted = [...ids].sort((a, b) => a - b);
  const out = [];
  for (const id of sorted) {
    const last = out[out.length - 1];
    if (last && id === last[1] + 1) last[1] = id;
    else if (!last || id > last[1]) out.push([id, id]);
  }
  return out;
}
const idList = (v) => (v ? [...v.values()].sort((a, b) => a - b) : []);
const idRanges = (v) => (v ? ranges(v.values()) : []);

function fields(d) {
  const prv = d.publisherRestrictions;
  const pubRestrictions = prv
    ? prv.getRestrictions().map((pr) => ({
        purposeId: pr.purposeId,
        restrictionType: pr.restrictionType,
        vendors: ranges(prv.getVendors(pr)),
      }))
    : [];
  const hasPubTc = d.numCustomPurposes !== undefined;
  // The EUID rule, computed from IAB's decode: vendor 21; purposes 1,2,3,4,7,10 each granted
  // by consent (vendor consent) or legitimate interest (vendor LI).
  const granted = new Set();
  if (d.vendorConsents.has(21)) idList(d.purposeConsents).forEach((p) => granted.add(p));
  if (d.vendorLegitimateInterests.has(21)) {
    idList(d.purposeLegitimateInterests).forEach((p) => granted.add(p));
  }
  return {
    version: d.version,
    created: d.created.getTime(),
    lastUpdated: d.lastUpdated.getTime(),
    cmpId: d.cmpId,
    cmpVersion: d.cmpVersion,
    consentScreen: d.consentScreen,
    consentLanguage: d.consentLanguage,
    vendorListVersion: d.vendorListVersion,
    policyVersion: d.policyVersion,
    isServiceSpecific: d.isServiceSpecific,
    useNonStandardTexts: d.useNonStandardTexts,
    specialFeatureOptins: idList(d.specialFeatureOptins),
    purposeConsents: idList(d.purposeConsents),
    purposeLegitimateInterests: idList(d.purposeLegitimateInterests),
    purposeOneTreatment: d.purposeOneTreatment,
    publisherCountryCode: d.publisherCountryCode,
    vendorConsents: idRanges(d.vendorConsents),
    vendorLegitimateInterests: idRanges(d.vendorLegitimateInterests),
    publisherRestrictions: pubRestrictions,
    vendorsDisclosed: idRanges(d.vendorsDisclosed),
    vendorsAllowed: idRanges(d.vendorsAllowed),
    publisherConsents: idList(d.publisherConsents),
    publisherLegitimateInterests: idList(d.publisherLegitimateInterests),
    numCustomPurposes: hasPubTc ? d.numCustomPurposes : null,
    publisherCustomConsents: idList(d.publisherCustomConsents),
    publisherCustomLegitimateInterests: idList(d.publisherCustomLegitimateInterests),
    euidMissingPurposes: EUID_PURPOSES.filter((p) => !granted.has(p)),
  };
}

if (decodeMode) {
  const { readFileSync } = await import('node:fs');
  const lines = readFileSync(0, 'utf8').split('\n').filter((l) => l.length > 0);
  const decoded = lines.map((line) => {
    try {
      return JSON.stringify({ fields: fields(TCString.decode(line, {})) });
    } catch (err) {
      return JSON.stringify({ error: String(err) });
    }
  });
  // No process.exit: it could cut a large write to a pipe short.
  process.stdout.write(decoded.join('\n') + (decoded.length ? '\n' : ''));
} else {
  const out = [];
  for (let i = 0; i < count; i++) {
    const input = encode(randomModel());
    const decoded = TCString.decode(input, {});
    out.push(JSON.stringify({ input, fields: fields(decoded) }));
  }
  process.stdout.write(out.join('\n') + (out.length ? '\n' : ''));
}
