// The browser test: the real operator binary (fresh data dir, tiny refresh_from), this
// publisher backend, and headless Chromium driven by playwright-core, all on 127.0.0.1.
//
//   node browser-test.mjs [--operator-bin PATH] [--cli-bin PATH] [--python PATH] [--screenshot PATH]
//
// Checks: CSTG from the page gives a token that the Python SDK (and the euid CLI, when built)
// decrypt to the raw UID /v2/identity/map gives for the same email; the SDK refreshes an
// identity whose refresh_from has passed (counted in /metrics); the server-side flow; and a
// page from an unlisted origin gets 403 invalid_http_origin. Ends with "N passed, N failed".
// With CI set, a missing Chromium, operator binary or Python SDK fails instead of skipping.
import { spawn, execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { callOperator } from './envelope.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const root = resolve(here, '..', '..');
const { values: args } = parseArgs({
  options: {
    'operator-bin': { type: 'string', default: join(root, 'target', 'debug', 'euid-operator') },
    'cli-bin': { type: 'string', default: join(root, 'target', 'debug', 'euid') },
    python: { type: 'string', default: process.env.EUID_TEST_PYTHON ?? join(root, 'target', 'interop-venv', 'bin', 'python') },
    chromium: { type: 'string', default: '/usr/bin/chromium' },
    screenshot: { type: 'string' },
  },
});
const CI = Boolean(process.env.CI);
const EMAIL = 'browser-test@example.com';

let passed = 0;
let failed = 0;
const children = [];
const tmp = mkdtempSync(join(tmpdir(), 'euid-browser-test-'));

function finish(code) {
  for (const child of children) child.kill('SIGTERM');
  rmSync(tmp, { recursive: true, force: true });
  console.log(`${passed} passed, ${failed} failed`);
  process.exit(code ?? (failed ? 1 : 0));
}

function missing(what) {
  if (CI) {
    console.error(`browser test: ${what} is missing (required in CI)`);
    failed += 1;
    finish(1);
  }
  console.error(`browser test: skipped, ${what} is missing`);
  finish(0);
}

async function check(name, fn) {
  try {
    const result = await fn();
    if (typeof result === 'string' && result.startsWith('skip')) {
      console.log(`${result}: ${name}`);
      return;
    }
    passed += 1;
    console.log(`ok   ${name}`);
  } catch (err) {
    failed += 1;
    console.log(`FAIL ${name}: ${err?.stack ?? err}`);
  }
}

function assert(cond, message) {
  if (!cond) throw new Error(message);
}

async function waitFor(what, fn, timeoutMs = 20000) {
  const deadline = Date.now() + timeoutMs;
  let last;
  while (Date.now() < deadline) {
    try {
      const value = await fn();
      if (value) return value;
    } catch (err) {
      last = err;
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`timed out waiting for ${what}${last ? `: ${last.message}` : ''}`);
}

/** Starts a process; resolves with the first stdout line matching `ready`. */
function start(cmd, argv, ready) {
  const child = spawn(cmd, argv, { stdio: ['ignore', 'pipe', 'pipe'] });
  children.push(child);
  let output = '';
  return new Promise((resolvePromise, reject) => {
    const onData = (chunk) => {
      output += chunk;
      const m = output.match(ready);
      if (m) resolvePromise(m);
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', (chunk) => { output += chunk; });
    child.on('exit', (code) => reject(new Error(`${cmd} exited with ${code}: ${output}`)));
  });
}

if (!existsSync(args.chromium)) missing(`Chromium (${args.chromium})`);
if (!existsSync(args['operator-bin'])) missing(`the operator binary (${args['operator-bin']}; cargo build -p euid-operator)`);
if (!existsSync(args.python)) missing(`the Python SDK venv (${args.python}; bash scripts/test-setup.sh)`);
let chromium;
try {
  ({ chromium } = await import('playwright-core'));
} catch {
  missing('playwright-core (npm ci in examples/publisher-page)');
}

// The operator: fresh data dir, refresh_from one second after issue.
const dataDir = join(tmp, 'data');
const configPath = join(tmp, 'config.json');
writeFileSync(configPath, JSON.stringify({ refresh_identity_token_after_seconds: 1 }));
const operatorProcess = start(args['operator-bin'], ['--data-dir', dataDir, '--listen', '127.0.0.1:0', '--config', configPath], /(?!)/);
operatorProcess.catch((err) => { console.error(String(err)); });
const demo = await waitFor('demo-client.json', () => JSON.parse(readFileSync(join(dataDir, 'demo-client.json'), 'utf8')));
const operatorUrl = demo.base_url;
await waitFor('operator health', async () => (await fetch(`${operatorUrl}/ops/healthcheck`)).ok);

// The publisher backend, on a free port.
const [, pageUrl] = await start(process.execPath, [join(here, 'server.mjs'), '--data-dir', dataDir, '--port', '0'], /publisher page on (http:\/\/\S+\/)/);
const pagePort = new URL(pageUrl).port;

const userDataDir = join(tmp, 'chromium-profile');
const context = await chromium.launchPersistentContext(userDataDir, {
  executablePath: args.chromium,
  headless: true,
  args: [
    '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
    '--disable-background-networking', '--disable-component-update', '--disable-sync',
    // An origin the demo keypair does not list, still served from 127.0.0.1.
    '--host-resolver-rules=MAP unlisted.test 127.0.0.1',
    // WebCrypto needs a secure context; 127.0.0.1 is one, a plain-http name is not.
    `--unsafely-treat-insecure-origin-as-secure=http://unlisted.test:${pagePort}`,
  ],
  viewport: { width: 1100, height: 820 },
});
children.push({ kill: () => context.close().catch(() => {}) });

async function openPage(base) {
  const page = await context.newPage();
  page.on('pageerror', (err) => console.log(`page error: ${err.message}`));
  await page.goto(`${base}?refreshRetryPeriod=1000`);
  await page.waitForFunction(() => window.pageState && window.pageState.status !== null);
  return page;
}

async function rawUidFromMap(email) {
  const { http, json } = await callOperator(operatorUrl, demo, '/v2/identity/map', { email: [email] });
  assert(http === 200 && json.status === 'success', `identity map: ${http} ${JSON.stringify(json)}`);
  return json.body.mapped[0].advertising_id;
}

function pythonDecrypt(token) {
  const script = `
import json, sys
from uid2_client import SharingClient
c = SharingClient(sys.argv[1], sys.argv[2], sys.argv[3])
r = c.refresh()
if not r.success: raise SystemExit("refresh: %s" % r.reason)
d = c.decrypt_token_into_raw_uid(sys.argv[4])
print(json.dumps({"status": str(d.status), "uid": d.uid, "site_id": d.site_id}))
`;
  const out = execFileSync(args.python, ['-c', script, operatorUrl, demo.api_key, demo.client_secret, token], { encoding: 'utf8' });
  return JSON.parse(out);
}

let page;
let cstgToken;
await check('client-side generate: the page gets a token through setIdentityFromEmail', async () => {
  page = await openPage(pageUrl);
  const cstgResponse = page.waitForResponse((r) => r.url().includes('/v2/token/client-generate'));
  await page.fill('#client-side input[name=email]', EMAIL);
  await page.click('#client-side button');
  const response = await cstgResponse;
  assert(response.status() === 200, `client-generate answered ${response.status()}`);
  cstgToken = await waitFor('an identity on the page', () => page.evaluate(() => window.pageState.identity?.advertising_token));
  const errors = await page.evaluate(() => window.pageState.errors);
  assert(errors.length === 0, `page errors: ${errors}`);
  assert(/^E4/.test(cstgToken), `unexpected token ${cstgToken}`);
});

await check('the Python SDK decrypts the CSTG token to the raw UID of /v2/identity/map', async () => {
  assert(cstgToken, 'no CSTG token');
  const expected = await rawUidFromMap(EMAIL);
  const decrypted = pythonDecrypt(cstgToken);
  assert(decrypted.status.endsWith('SUCCESS'), `SDK status ${decrypted.status}`);
  assert(decrypted.uid === expected, `SDK raw UID ${decrypted.uid} != mapped ${expected}`);
  assert(decrypted.site_id === demo.site_id, `site ${decrypted.site_id}`);
});

await check('the euid CLI decrypts the CSTG token to the same raw UID', async () => {
  assert(cstgToken, 'no CSTG token');
  if (!existsSync(args['cli-bin'])) {
    // scripts/test.sh builds it; only a hand-run outside CI may lack it.
    assert(!CI, `${args['cli-bin']} is missing (required in CI)`);
    return `skip (${args['cli-bin']} not built; cargo build --bin euid)`;
  }
  const keys = await callOperator(operatorUrl, demo, '/v2/key/sharing', {});
  assert(keys.http === 200 && keys.json.status === 'success', `key sharing: ${keys.http}`);
  const keysFile = join(tmp, 'sharing-keys.json');
  writeFileSync(keysFile, JSON.stringify(keys.json));
  const out = JSON.parse(execFileSync(args['cli-bin'], ['token', 'decrypt', cstgToken, '--keys', keysFile], { encoding: 'utf8' }));
  const expected = await rawUidFromMap(EMAIL);
  assert(out.raw_uid === expected, `CLI raw UID ${out.raw_uid} != mapped ${expected}`);
  assert(out.is_client_side_generated === true, `CLI says not client-side: ${JSON.stringify(out)}`);
  assert(out.site_id === demo.site_id, `CLI site ${out.site_id}`);
});

await check('the SDK refreshes an identity whose refresh_from has passed, and /metrics counts it', async () => {
  assert(cstgToken, 'no CSTG token');
  await waitFor('an SDK refresh', () => page.evaluate(() => window.pageState.refreshes >= 1), 30000);
  const now = await page.evaluate(() => window.pageState.identity?.advertising_token);
  assert(now && now !== cstgToken, 'the advertising token did not change');
  const metrics = await (await fetch(`${operatorUrl}/metrics`)).text();
  // Anchored to whole lines: an unanchored `} 1` would also match 10, 11, ...
  assert(/^euid_http_requests_total\{endpoint="\/v2\/token\/refresh",status="200"\} [1-9][0-9]*$/m.test(metrics), `no refresh in /metrics:\n${metrics}`);
  assert(/^euid_http_requests_total\{endpoint="\/v2\/token\/client-generate",status="200"\} 1$/m.test(metrics), `not exactly one CSTG in /metrics:\n${metrics}`);
  // A fresh identity with its status, for the README screenshot.
  if (args.screenshot) {
    mkdirSync(dirname(resolve(args.screenshot)), { recursive: true });
    await page.screenshot({ path: resolve(args.screenshot), fullPage: true });
  }
});

await check('server-side flow: the backend generates, the SDK takes the identity', async () => {
  await page.click('#logout');
  await page.fill('#server-side input[name=email]', 'server-side@example.com');
  await page.click('#server-side button');
  const token = await waitFor('the server-side identity', () => page.evaluate(() => window.pageState.status === 'identity available' && window.pageState.identity?.advertising_token));
  const expected = await rawUidFromMap('server-side@example.com');
  assert(pythonDecrypt(token).uid === expected, 'server-side token decrypts to another raw UID');
});

await check('a page from an unlisted origin gets 403 invalid_http_origin', async () => {
  const other = await openPage(`http://unlisted.test:${pagePort}/`);
  const cstgResponse = other.waitForResponse((r) => r.url().includes('/v2/token/client-generate'), { timeout: 10000 });
  await other.click('#client-side button');
  other.on('requestfailed', (r) => console.log(`     request failed: ${r.url()} ${r.failure()?.errorText}`));
  const response = await cstgResponse.catch(async (err) => {
    throw new Error(`${err.message}; page errors: ${JSON.stringify(await other.evaluate(() => window.pageState.errors))}`);
  });
  assert(response.status() === 403, `status ${response.status()}`);
  const body = JSON.parse(await response.text());
  assert(body.status === 'invalid_http_origin', JSON.stringify(body));
  await waitFor('the SDK error on the page', () => other.evaluate(() => window.pageState.errors.length > 0));
  const identity = await other.evaluate(() => window.pageState.identity);
  assert(!identity, 'an identity was set despite the 403');
});

await context.close();
finish();
