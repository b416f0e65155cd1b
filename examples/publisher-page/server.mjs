// The publisher's tiny backend: serves the page and the EUID browser SDK from node_modules,
// and makes server-side identities with /v2/token/generate (v2 envelope with Node crypto)
// for the demo client of an operator's data directory. No dependencies, no network but the
// operator's address.
//
//   node server.mjs [--data-dir ../../euid-data] [--port 3000] [--host 127.0.0.1]
import { createServer } from 'node:http';
import { readFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { callOperator } from './envelope.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const { values: args } = parseArgs({
  options: {
    'data-dir': { type: 'string', default: process.env.EUID_DATA_DIR ?? join(here, '..', '..', 'euid-data') },
    port: { type: 'string', default: process.env.PORT ?? '3000' },
    host: { type: 'string', default: '127.0.0.1' },
  },
});
const dataDir = resolve(args['data-dir']);

// A TCF string with consent for EUID's vendor and purposes (from the EUID docs); a real
// publisher passes the user's own string from its CMP.
const DEMO_TCF_CONSENT = 'CPhJRpMPhJRpMABAMBFRACBoALAAAEJAAIYgAKwAQAKgArABAAqAAA';

// Read on every use, so the page follows an operator that (re)initialized its data dir.
async function demoClient() {
  return JSON.parse(await readFile(join(dataDir, 'demo-client.json'), 'utf8'));
}

function operatorUrl(demo) {
  return process.env.EUID_OPERATOR_URL ?? demo.base_url;
}

async function tokenGenerate(email) {
  const demo = await demoClient();
  return callOperator(operatorUrl(demo), demo, '/v2/token/generate', { email, tcf_consent_string: DEMO_TCF_CONSENT });
}

const STATIC = {
  '/': ['public/index.html', 'text/html; charset=utf-8'],
  '/index.html': ['public/index.html', 'text/html; charset=utf-8'],
  '/app.mjs': ['public/app.mjs', 'text/javascript; charset=utf-8'],
  '/sdk/euidSdk.mjs': ['node_modules/@unified-id/euid-sdk/euidSdk.mjs', 'text/javascript; charset=utf-8'],
};

async function readBody(req) {
  const chunks = [];
  for await (const chunk of req) chunks.push(chunk);
  return Buffer.concat(chunks).toString('utf8');
}

function send(res, status, type, body) {
  res.writeHead(status, { 'Content-Type': type, 'Cache-Control': 'no-store' });
  res.end(body);
}

const server = createServer(async (req, res) => {
  try {
    const path = new URL(req.url, 'http://page').pathname;
    if (req.method === 'GET' && STATIC[path]) {
      const [file, type] = STATIC[path];
      return send(res, 200, type, await readFile(join(here, file)));
    }
    if (req.method === 'GET' && path === '/config') {
      const demo = await demoClient();
      return send(res, 200, 'application/json', JSON.stringify({
        operatorUrl: operatorUrl(demo),
        subscriptionId: demo.subscription_id,
        serverPublicKey: demo.server_public_key,
      }));
    }
    if (req.method === 'POST' && path === '/login') {
      const { email } = JSON.parse(await readBody(req));
      const { http, json } = await tokenGenerate(String(email ?? ''));
      return send(res, http === 200 ? 200 : 502, 'application/json', JSON.stringify(json));
    }
    send(res, 404, 'text/plain', 'not found');
  } catch (err) {
    send(res, 500, 'text/plain', String(err?.message ?? err));
  }
});

server.listen(Number(args.port), args.host, () => {
  const { port } = server.address();
  // The browser test waits for this line.
  console.log(`publisher page on http://${args.host}:${port}/ (data dir ${dataDir})`);
});
