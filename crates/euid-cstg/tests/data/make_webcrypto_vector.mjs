// Regenerates webcrypto_vector.json: a CSTG exchange made with WebCrypto exactly as
// @unified-id/euid-sdk 4.0.66 does it (node >= 20: `node make_webcrypto_vector.mjs`).
const { subtle } = globalThis.crypto;
const b64 = (buf) => Buffer.from(buf).toString('base64');
const curve = { name: 'ECDH', namedCurve: 'P-256' };
const server = await subtle.generateKey(curve, true, ['deriveKey']);
const client = await subtle.generateKey(curve, true, ['deriveKey']);
const serverPublicKey = 'EUID-X-L-' + b64(await subtle.exportKey('spki', server.publicKey));
const serverPrivateKey = 'EUID-Y-L-' + b64(await subtle.exportKey('pkcs8', server.privateKey));
// The SDK strips the 9-character prefix and imports the rest as SPKI.
const imported = await subtle.importKey('spki', Buffer.from(serverPublicKey.substring(9), 'base64'), curve, false, []);
const shared = await subtle.deriveKey({ name: 'ECDH', public: imported }, client.privateKey, { name: 'AES-GCM', length: 256 }, false, ['encrypt', 'decrypt']);
const enc = new TextEncoder();
const now = 1764316800123;
const request = { email_hash: 'tMmiiTI7IaAcPpQPFQ65uMVCWH8av9jw4cwf/F5HVRQ=' };
const iv = globalThis.crypto.getRandomValues(new Uint8Array(12));
const ciphertext = await subtle.encrypt({ name: 'AES-GCM', iv, additionalData: enc.encode(JSON.stringify([now])) }, shared, enc.encode(JSON.stringify(request)));
const body = {
  payload: b64(ciphertext),
  iv: b64(iv),
  public_key: b64(await subtle.exportKey('spki', client.publicKey)),
  timestamp: now,
  subscription_id: 'WebCrypto1',
};
// A response sealed by the client's key, to check our opening with the same shared secret.
const respIv = globalThis.crypto.getRandomValues(new Uint8Array(12));
const respPlain = '{"status":"optout"}';
const respCt = await subtle.encrypt({ name: 'AES-GCM', iv: respIv }, shared, enc.encode(respPlain));
const response = b64(Buffer.concat([Buffer.from(respIv), Buffer.from(respCt)]));
const vector = { server_public_key: serverPublicKey, server_private_key: serverPrivateKey, request_body: JSON.stringify(body), email_hash: request.email_hash, timestamp: now, response_sealed_by_webcrypto: response, response_plaintext: respPlain };
process.stdout.write(JSON.stringify(vector, null, 2) + '\n');
