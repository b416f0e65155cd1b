// The v2 request/response envelope (wire.md §1) with Node crypto, for the publisher
// backend and the browser test.
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';

// v2 request envelope: base64(0x01 ‖ IV ‖ GCM(ts ms BE ‖ nonce ‖ JSON) ‖ tag) under the client secret.
export function sealRequest(secret, json, nonce) {
  const iv = randomBytes(12);
  const ts = Buffer.alloc(8);
  ts.writeBigInt64BE(BigInt(Date.now()));
  const cipher = createCipheriv('aes-256-gcm', secret, iv);
  const ct = Buffer.concat([cipher.update(Buffer.concat([ts, nonce, Buffer.from(json)])), cipher.final()]);
  return Buffer.concat([Buffer.from([1]), iv, ct, cipher.getAuthTag()]).toString('base64');
}

// v2 response: base64(IV ‖ GCM(ts ‖ nonce ‖ JSON) ‖ tag); the nonce must echo ours.
export function openResponse(secret, text, nonce) {
  const bytes = Buffer.from(text, 'base64');
  const decipher = createDecipheriv('aes-256-gcm', secret, bytes.subarray(0, 12));
  decipher.setAuthTag(bytes.subarray(bytes.length - 16));
  const pt = Buffer.concat([decipher.update(bytes.subarray(12, bytes.length - 16)), decipher.final()]);
  if (!pt.subarray(8, 16).equals(nonce)) throw new Error('response nonce does not match');
  return JSON.parse(pt.subarray(16).toString('utf8'));
}

/** POSTs `request` to an encrypted endpoint as `client` ({api_key, client_secret}); {http, json}. */
export async function callOperator(baseUrl, client, path, request) {
  const secret = Buffer.from(client.client_secret, 'base64');
  const nonce = randomBytes(8);
  const res = await fetch(`${baseUrl}${path}`, {
    method: 'POST',
    headers: { Authorization: `Bearer ${client.api_key}` },
    body: sealRequest(secret, JSON.stringify(request), nonce),
  });
  const text = await res.text();
  if (res.status !== 200) return { http: res.status, json: JSON.parse(text) };
  return { http: 200, json: openResponse(secret, text, nonce) };
}
