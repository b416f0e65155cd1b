"""Drives the official uid2-client SDK for euid-client's interop tests (tests/sdk_interop.rs).

Usage: python sdk_client.py <command>, with a JSON request on stdin and a JSON answer on stdout.

  decrypt  {"key_response": <body>, "client": "sharing" | "bidstream", "domain": str | null,
            "now_ms": int | null, "tokens": [...]}
           -> one {"status", "uid"} per token, or {"raised": "<exception class>"} where the SDK
              raises instead of answering. With now_ms the SDK decrypts at that time (through
              the clients' `_decrypt_token_into_raw_uid`, which its own tests use); without it,
              at the wall clock through the public method.
  encrypt  {"key_response": <body>, "raw_uids": [...]}
           -> one {"status", "token"} per raw UID, from SharingClient.encrypt_raw_uid_into_token.

Keys are loaded with the clients' `_refresh_json`, the SDK's own way of feeding a key response
without HTTP.
"""
import base64
import datetime as dt
import json
import sys

from uid2_client import BidstreamClient, SharingClient

BASE_URL = "http://127.0.0.1:9"  # never contacted: keys come from _refresh_json
API_KEY = "EUID-C-L-1-abcdef.0123456789abcdef0123456789abcdef01234567"
SECRET = base64.b64encode(bytes(32)).decode()


def _load(client, body):
    response = client._refresh_json(json.dumps({"status": "success", "body": body}))
    if not response.success:
        raise SystemExit(f"SDK refused the key response: {response.reason}")
    return client


def _decrypt_one(client, kind, token, domain, now):
    try:
        if kind == "bidstream":
            if now is None:
                d = client.decrypt_token_into_raw_uid(token, domain)
            else:
                d = client._decrypt_token_into_raw_uid(token, domain, now)
        elif now is None:
            d = client.decrypt_token_into_raw_uid(token)
        else:
            d = client._decrypt_token_into_raw_uid(token, now)
    except Exception as exc:  # the SDK raises on some malformed tokens
        return {"raised": type(exc).__name__}
    return {"status": d.status.name, "uid": d.uid}


def decrypt(req):
    kind = req["client"]
    cls = BidstreamClient if kind == "bidstream" else SharingClient
    client = _load(cls(BASE_URL, API_KEY, SECRET), req["key_response"])
    now = None
    if req.get("now_ms") is not None:
        now = dt.datetime.fromtimestamp(req["now_ms"] / 1000, tz=dt.timezone.utc)
    return [_decrypt_one(client, kind, t, req.get("domain"), now) for t in req["tokens"]]


def encrypt(req):
    sharing = _load(SharingClient(BASE_URL, API_KEY, SECRET), req["key_response"])
    out = []
    for raw_uid in req["raw_uids"]:
        r = sharing.encrypt_raw_uid_into_token(raw_uid)
        out.append({"status": r.status.name, "token": r.encrypted_data})
    return out


COMMANDS = {"decrypt": decrypt, "encrypt": encrypt}

if __name__ == "__main__":
    if len(sys.argv) != 2 or sys.argv[1] not in COMMANDS:
        raise SystemExit(f"usage: sdk_client.py {{{'|'.join(COMMANDS)}}} < request.json")
    json.dump(COMMANDS[sys.argv[1]](json.load(sys.stdin)), sys.stdout)
