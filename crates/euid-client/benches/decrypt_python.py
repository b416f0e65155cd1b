"""The Python SDK's side of `cargo bench -p euid-client --bench decrypt`: the same keys, raw
UID and clock as benches/decrypt.rs; mints one v4 token with the SDK's SharingClient and times
BidstreamClient decrypting it (domain "example.com"), as the Rust bench does.

Prints one JSON line: {"token": ..., "ns_per_decrypt": best of 5 runs of N decrypts}.
Run by scripts/bench-decrypt-vs-python.sh with the interop venv's Python.
"""
import base64
import datetime as dt
import json
import sys
import time

from uid2_client import BidstreamClient, SharingClient

RAW_UID = "EKCoNGWPYng/whjBIwANJHKvvGlGyzARtDIAk95FlJyb"
NOW = dt.datetime.fromtimestamp(1_700_000_000, tz=dt.timezone.utc)
BODY = {
    "identity_scope": "EUID", "caller_site_id": 1, "master_keyset_id": 9999999,
    "default_keyset_id": 20, "max_bidstream_lifetime_seconds": 2_592_010,
    "keys": [
        {"id": 164, "keyset_id": 9999999, "created": 1, "activates": 1, "expires": 4_000_000_000,
         "secret": "iyXxrRJcJOilqBcSJsN7XKCIuShbraXdqBCppCaLCJs="},
        {"id": 165, "keyset_id": 20, "created": 1, "activates": 1, "expires": 4_000_000_000,
         "secret": "IPsHwoSa+lbKdGgdg8CL1zCkC0HibqcObDP+fUEYF4U="},
    ],
}
ARGS = ("http://127.0.0.1:9", "EUID-C-L-1-abcdef.0123456789", base64.b64encode(bytes(32)).decode())


def load(client):
    r = client._refresh_json(json.dumps({"status": "success", "body": BODY}))
    assert r.success, r.reason
    return client


def main():
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 2_000
    token = load(SharingClient(*ARGS))._encrypt_raw_uid_into_token(RAW_UID, None, NOW).encrypted_data
    bidder = load(BidstreamClient(*ARGS))
    out = bidder._decrypt_token_into_raw_uid(token, "example.com", NOW)
    assert out.uid == RAW_UID, out.status
    best = None
    for _ in range(5):
        start = time.perf_counter_ns()
        for _ in range(n):
            bidder._decrypt_token_into_raw_uid(token, "example.com", NOW)
        per = (time.perf_counter_ns() - start) / n
        best = per if best is None else min(best, per)
    print(json.dumps({"token": token, "ns_per_decrypt": best}))


if __name__ == "__main__":
    main()
