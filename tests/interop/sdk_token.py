"""Drives the official uid2-client SDK for euid-token's interop tests.

Usage: python sdk_token.py <command>, with a JSON request on stdin and a JSON answer on stdout.

  decrypt      {"key_response": <body>, "tokens": [...]}
               -> one {"bidstream": {...}, "sharing": {...}} per token, each the SDK's
                  DecryptedToken fields (status, uid, site_id, identity_scope, identity_type,
                  version) from BidstreamClient and SharingClient.
  encrypt      {"key_response": <body>, "raw_uids": [...]}
               -> one {"status", "token"} per raw UID, from SharingClient.encrypt_raw_uid_into_token.
  mint_legacy  {"master": {"id", "secret"}, "site": {"id", "secret"}, "site_id", "raw_uid",
                "version": 2 | 3, "expires_s", "established_s"}
               -> {"token"} from the SDK's UID2TokenGenerator (its v2 / v3 encoders).

Only the SDK's public classes are used. Keys are loaded with the clients' `_refresh_json`,
the SDK's own way of feeding a key response without HTTP (used by its test suite).
"""
import base64
import datetime as dt
import json
import sys

from uid2_client import (
    BidstreamClient,
    EncryptionKey,
    IdentityScope,
    Params,
    SharingClient,
    UID2TokenGenerator,
)

BASE_URL = "http://127.0.0.1:9"  # never contacted: keys come from _refresh_json
API_KEY = "EUID-C-L-1-abcdef.0123456789abcdef0123456789abcdef01234567"
SECRET = base64.b64encode(bytes(32)).decode()


def _load(client, body):
    response = client._refresh_json(json.dumps({"status": "success", "body": body}))
    if not response.success:
        raise SystemExit(f"SDK refused the key response: {response.reason}")
    return client


def _decrypted(d):
    return {
        "status": d.status.name,
        "uid": d.uid,
        "site_id": d.site_id,
        "identity_scope": None if d.identity_scope is None else int(d.identity_scope),
        "identity_type": None if d.identity_type is None else int(d.identity_type),
        "version": None if d.advertising_token_version is None else int(d.advertising_token_version),
    }


def decrypt(req):
    bidstream = _load(BidstreamClient(BASE_URL, API_KEY, SECRET), req["key_response"])
    sharing = _load(SharingClient(BASE_URL, API_KEY, SECRET), req["key_response"])
    out = []
    for token in req["tokens"]:
        out.append({
            "bidstream": _decrypted(bidstream.decrypt_token_into_raw_uid(token, "example.com")),
            "sharing": _decrypted(sharing.decrypt_token_into_raw_uid(token)),
        })
    return out


def encrypt(req):
    sharing = _load(SharingClient(BASE_URL, API_KEY, SECRET), req["key_response"])
    out = []
    for raw_uid in req["raw_uids"]:
        r = sharing.encrypt_raw_uid_into_token(raw_uid)
        out.append({"status": r.status.name, "token": r.encrypted_data})
    return out


def _key(k):
    t = dt.datetime(2020, 1, 1, tzinfo=dt.timezone.utc)
    return EncryptionKey(k["id"], -1, t, t, t + dt.timedelta(days=3650), base64.b64decode(k["secret"]))


def mint_legacy(req):
    utc = dt.timezone.utc
    params = Params(
        expiry=dt.datetime.fromtimestamp(req["expires_s"], tz=utc),
        identity_scope=IdentityScope.EUID.value,
        token_generated=dt.datetime.fromtimestamp(req["established_s"], tz=utc),
        identity_established=dt.datetime.fromtimestamp(req["established_s"], tz=utc),
    )
    master, site = _key(req["master"]), _key(req["site"])
    if req["version"] == 2:
        token = UID2TokenGenerator.generate_uid2_token_v2(req["raw_uid"], master, req["site_id"], site, params)
    else:
        token = UID2TokenGenerator.generate_uid2_token_v3(req["raw_uid"], master, req["site_id"], site, params)
    return {"token": token}


COMMANDS = {"decrypt": decrypt, "encrypt": encrypt, "mint_legacy": mint_legacy}

if __name__ == "__main__":
    if len(sys.argv) != 2 or sys.argv[1] not in COMMANDS:
        raise SystemExit(f"usage: sdk_token.py {{{'|'.join(COMMANDS)}}} < request.json")
    json.dump(COMMANDS[sys.argv[1]](json.load(sys.stdin)), sys.stdout)
