#!/usr/bin/env python3
"""Writes the structured seeds of the fuzz targets whose input is "mode byte + plaintext"
(see each target's header comment), from testdata/tokens_and_envelopes.json.

Run from the repository root: python3 fuzz/make_seeds.py  (needs `cryptography`).
Seeds of the other targets are plain inputs, committed as they are.
"""
import base64, json, os, struct
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

root = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
golden = json.load(open(os.path.join(root, "testdata/tokens_and_envelopes.json")))


def seed(target, name, data):
    d = os.path.join(root, "fuzz/corpus", target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, "seed-" + name), "wb") as f:
        f.write(data)


req = golden["request_envelope"]
req_json = req["json"].encode()
seed("envelope_request", "golden", b"\x03" + req["expect_base64"].encode())
seed("envelope_request", "golden-json-base64", b"\x00" + req_json)
seed("envelope_request", "golden-json-binary", b"\x01" + req_json)
seed("envelope_request", "tampered", b"\x02" + req_json)
seed("envelope_request", "skew-edge", bytes([0 | 1 << 2]) + req_json)
seed("envelope_request", "skew-out", bytes([1 | 3 << 2]) + req_json)
seed("envelope_request", "array", b"\x00[1,2]")
seed("envelope_request", "empty", b"\x00")

resp = golden["response_envelope"]
token_body = json.dumps({"status": "success", "body": {
    "advertising_token": "A4AAAAB", "refresh_token": "AAAAAB", "identity_expires": 1,
    "refresh_expires": 2, "refresh_from": 3,
    "refresh_response_key": golden["refresh_response"]["refresh_response_key"]}}).encode()
seed("envelope_response", "golden", b"\x03" + resp["expect_base64"].encode())
seed("envelope_response", "golden-json-raw", b"\x00" + resp["json"].encode())
seed("envelope_response", "golden-json-base64", b"\x01" + resp["json"].encode())
seed("envelope_response", "token-json-newline", b"\x02" + token_body)
seed("envelope_response", "other-nonce", b"\x05" + resp["json"].encode())
seed("envelope_response", "operator-error", b'\x03{"status":"client_error","message":"Invalid"}')

ref = golden["refresh_response"]
seed("envelope_refresh_response", "golden", b"\x03" + ref["expect_base64"].encode())
seed("envelope_refresh_response", "golden-json-raw", b"\x00" + ref["json"].encode())
seed("envelope_refresh_response", "token-json-base64", b"\x01" + token_body)

seed("aes_gcm_open", "short", bytes(range(12)) + b"\x00\x07" + b"hello")
seed("aes_gcm_open", "json", bytes(12) + b"\x01\x00" + req_json)

# refresh_token_decode: mode 0 = prefix + 90-byte payload; mode 1 = key + inner token text.
prefix = 0x17  # EUID phone, as the operator mints them
payload = (struct.pack(">qq", 1_900_000_000_000, 1_700_000_000_000)
           + struct.pack(">iBii", 1, 2, 3, 4)  # operator: site, type, version, key id
           + struct.pack(">iqiIq", 9000, 0, 0, 0, 1_700_000_000_000)
           + bytes([prefix]) + bytes(range(32)))
assert len(payload) == 90
seed("refresh_token_decode", "payload", b"\x00" + bytes([prefix]) + payload)
iv = bytes([0x42] * 12)
inner = base64.b64encode(bytes([prefix, 112]) + struct.pack(">i", 2) + iv
                         + AESGCM(bytes([2] * 32)).encrypt(iv, payload, None))
assert len(inner) == 168
seed("refresh_token_decode", "envelope-json",
     b"\x01" + ref["refresh_response_key"].encode() + inner + b"\x01")
for name in ["envelope", "inner"]:
    path = os.path.join(root, "fuzz/corpus/refresh_token_decode", "seed-" + name)
    data = open(path, "rb").read()
    if data[:1] != b"\x02":
        seed("refresh_token_decode", name, b"\x02" + data)

# advertising_token_decode: mode 0 = prefix, version, 33-byte master fixed part, site payload.
master_fixed = (struct.pack(">qq", 4_000_000_000_000, 1_700_000_000_000)
                + struct.pack(">iBii", 1, 2, 3, 4) + struct.pack(">i", 165))
site_fixed = struct.pack(">iqiIqq", 9000, 0, 0, 0, 1_700_000_000_000, 1_700_000_000_000)
seed("advertising_token_decode", "sealed-v4-email", b"\x00\x13\x01" + master_fixed + site_fixed
     + bytes([0x13 & 0xfc | 0x10]) + bytes(32))
seed("advertising_token_decode", "sealed-v3-phone-32", b"\x00\x17\x00" + master_fixed + site_fixed
     + bytes(32))
seed("advertising_token_decode", "sealed-master-only", b"\x01\x13\x01" + master_fixed)
for name in ["sdk-cross-platform-v4", "v2-sdk", "v3", "v4"]:
    path = os.path.join(root, "fuzz/corpus/advertising_token_decode", "seed-" + name)
    data = open(path, "rb").read()
    if data[:1] != b"\x02":
        seed("advertising_token_decode", name, b"\x02" + data)

# cstg_request: mode 0/1 = payload plaintext; 2 = whole body.
seed("cstg_request", "payload-email", b'\x00{"email_hash":"tMmiiTI7IaAcPpQPFQ65uMVCWH8av9jw4cwf/F5HVRQ="}')
seed("cstg_request", "payload-phone-app", b'\x01{"phone_hash":"EObwtHBUqDNZR33LNSMdtt5cafsYFuGmuY4ZLenlue4="}')
seed("cstg_request", "payload-both", b'\x00{"email_hash":"a","phone_hash":"b"}')
for name in ["app-name-phone-hash", "both-hashes", "empty-object", "webcrypto"]:
    path = os.path.join(root, "fuzz/corpus/cstg_request", "seed-" + name)
    data = open(path, "rb").read()
    if data[:1] != b"\x02":
        seed("cstg_request", name, b"\x02" + data)

# cli_inputs: 0 keys file, 1 refresh stdin, 2 demo-client.json, 3 token text.
keys = golden["keys"]
keys_file = {"status": "success", "body": {"keys": [
    {"id": int(i), "created": 0, "activates": 0, "expires": 4_000_000_000, "secret": s}
    for i, s in keys.items()]}}
seed("cli_inputs", "keys-file", b"\x00" + json.dumps(keys_file).encode())
seed("cli_inputs", "refresh-stdin", b"\x01" + token_body)
seed("cli_inputs", "demo-client", b"\x02" + json.dumps({
    "api_key": "UID2-C-L-999-abcdef", "client_secret": golden["client_secret"],
    "site_id": 999, "base_url": "http://127.0.0.1:1"}).encode())
seed("cli_inputs", "token", b"\x03" + golden["advertising_tokens"][0]["token"].encode())

# operator_http: selector, Content-Type NUL Content-Length NUL body.
seed("operator_http", "binary", b"\x81application/octet-stream\x00\x00")
seed("operator_http", "base64-charset", b"\x80text/plain; charset=utf-8\x00\x00")
seed("operator_http", "binary-params", b"\x81 Application/Octet-Stream ; x=1\x0012\x00")
seed("operator_http", "too-long", b"\x00application/json\x0099999\x00{}")
seed("operator_http", "client-generate", b"\x08application/json\x00\x00{}")
