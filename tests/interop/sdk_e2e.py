"""End-to-end conformance run of the official uid2-client SDK against a live euid-rs operator.

Usage: python sdk_e2e.py BASE_URL API_KEY CLIENT_SECRET SITE_ID OPTED_OUT_EMAIL

OPTED_OUT_EMAIL is an email the harness logged out before the run.

Uses only the SDK's public API. Every check raises AssertionError with a reason; on success the
script prints one JSON object on stdout (raw UIDs, tokens to cross-check with `euid`), so the
Rust harness can verify what the SDK cannot (e.g. that `euid token decrypt` reads the token the
SDK minted).
"""

import base64
import datetime as dt
import json
import sys
import time
import urllib.error

from uid2_client import (
    BidstreamClient,
    DecryptionStatus,
    IdentityMapClient,
    IdentityMapInput,
    IdentityMapV3Client,
    IdentityMapV3Input,
    SharingClient,
    TokenGenerateInput,
    Uid2PublisherClient,
)
from uid2_client.identity_scope import IdentityScope
from uid2_client.unmapped_identity_reason import UnmappedIdentityReason

SUFFICIENT_TCF = "CPhJRpMPhJRpMABAMBFRACBoALAAAEJAAIYgAKwAQAKgArABAAqAAA"
INSUFFICIENT_TCF = "CPehXK9PehXK9ABAMBFRACBoADAAAEJAAIYgAKwAQAKgArABAAqAAA"  # purpose 1 missing

HOUR_MS = 3600 * 1000
DAY_MS = 24 * HOUR_MS


def check(condition, message):
    if not condition:
        raise AssertionError(message)


def check_times(identity, label):
    """The SDK compares these with seconds, so it cannot catch a unit mistake: check ms here."""
    now_ms = int(time.time() * 1000)
    rf, ie, re_ = identity.get_refresh_from(), identity.get_identity_expires(), identity.get_refresh_expires()
    for name, value in (("refresh_from", rf), ("identity_expires", ie), ("refresh_expires", re_)):
        check(isinstance(value, int), f"{label}: {name} is not an integer: {value!r}")
        # Milliseconds since the epoch: after now minus a minute, within 400 days.
        check(now_ms - 60_000 < value < now_ms + 400 * DAY_MS, f"{label}: {name}={value} is not a future Unix-ms time")
    check(rf < ie <= re_, f"{label}: want refresh_from < identity_expires <= refresh_expires, got {rf}, {ie}, {re_}")


def generate(publisher, token_input, label):
    response = publisher.generate_token(token_input.with_transparency_and_consent_string(SUFFICIENT_TCF))
    check(response.is_success(), f"{label}: generate did not succeed")
    identity = response.get_identity()
    check(identity is not None, f"{label}: no identity")
    check(len(identity.get_refresh_token()) == 388, f"{label}: refresh token is not 388 characters")
    check_times(identity, label)
    return identity


def refresh_twice(publisher, identity, label):
    """Each refresh must be decrypted with the key returned by the previous one."""
    tokens = []
    current = identity
    for i in (1, 2):
        refreshed = publisher.refresh_token(current)
        check(refreshed.is_success(), f"{label}: refresh {i} did not succeed")
        nxt = refreshed.get_identity()
        check(nxt.get_refresh_response_key() != current.get_refresh_response_key(), f"{label}: refresh {i} reused the response key")
        check(nxt.get_advertising_token() != current.get_advertising_token(), f"{label}: refresh {i} returned the same token")
        check_times(nxt, f"{label} refresh {i}")
        tokens.append(nxt.get_advertising_token())
        current = nxt
    return tokens


def decrypt_everywhere(bidstream, sharing, token, site_id, label, identity_type):
    uids = set()
    for name, decrypted in (
        ("bidstream", bidstream.decrypt_token_into_raw_uid(token, "example.com")),
        ("sharing", sharing.decrypt_token_into_raw_uid(token)),
    ):
        check(decrypted.status == DecryptionStatus.SUCCESS, f"{label}: {name} decrypt status {decrypted.status}")
        check(decrypted.identity_scope == IdentityScope.EUID, f"{label}: {name} scope {decrypted.identity_scope}")
        check(decrypted.site_id == site_id, f"{label}: {name} site id {decrypted.site_id} != {site_id}")
        check(int(decrypted.identity_type) == identity_type, f"{label}: {name} identity type {decrypted.identity_type}")
        check(decrypted.advertising_token_version == 128, f"{label}: {name} version {decrypted.advertising_token_version}")
        uids.add(decrypted.uid)
    check(len(uids) == 1, f"{label}: bidstream and sharing disagree on the raw UID")
    return uids.pop()


def main():
    base_url, api_key, secret, site_id = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
    opted_out_email = sys.argv[5]
    publisher = Uid2PublisherClient(base_url, api_key, secret)
    bidstream = BidstreamClient(base_url, api_key, secret)
    sharing = SharingClient(base_url, api_key, secret)
    mapper = IdentityMapClient(base_url, api_key, secret)
    for name, client in (("bidstream", bidstream), ("sharing", sharing)):
        refreshed = client.refresh()
        check(refreshed.success, f"{name} key refresh failed: {refreshed.reason}")

    email = "Jane.Doe+ads@Example.com"
    phone = "+4915123456789"
    results = {"checks": []}

    # Insufficient consent: the SDK raises for the unexpected status.
    try:
        publisher.generate_token(TokenGenerateInput.from_email(email).with_transparency_and_consent_string(INSUFFICIENT_TCF))
        raise AssertionError("insufficient consent: generate did not raise")
    except ValueError as err:
        check("insufficient_user_consent" in str(err), f"insufficient consent: unexpected error {err}")
    results["checks"].append("insufficient_consent_raises")

    # Undecodable consent: a protocol error, so the SDK sees an HTTPError (400).
    try:
        publisher.generate_token(TokenGenerateInput.from_email(email).with_transparency_and_consent_string("invalid_consent_string"))
        raise AssertionError("invalid consent: generate did not raise")
    except urllib.error.HTTPError as err:
        check(err.code == 400, f"invalid consent: HTTP {err.code}")
    results["checks"].append("invalid_consent_400")

    email_map = mapper.generate_identity_map(IdentityMapInput.from_emails([email]))
    email_uid = email_map.mapped_identities[email].get_raw_uid()
    phone_map = mapper.generate_identity_map(IdentityMapInput.from_phones([phone]))
    phone_uid = phone_map.mapped_identities[phone].get_raw_uid()
    # The live default (identity_v3 off): 32-byte v2 raw UIDs, no scope/type prefix.
    for label, uid in (("email", email_uid), ("phone", phone_uid)):
        check(len(base64.b64decode(uid)) == 32, f"{label} raw UID is not a 32-byte v2 one: {uid}")

    hashed_email = TokenGenerateInput.from_email(email).get_as_json_string()
    email_hash = json.loads(hashed_email)["email_hash"]
    phone_hash = json.loads(TokenGenerateInput.from_phone(phone).get_as_json_string())["phone_hash"]

    # Identity map v3: the SDK's only binary client (octet-stream envelope both ways).
    mapper_v3 = IdentityMapV3Client(base_url, api_key, secret)
    v3_input = (IdentityMapV3Input.from_emails([email, opted_out_email])
                .with_phones([phone])
                .with_hashed_emails(["not-a-hash"])
                .with_hashed_phones([phone_hash]))
    before_v3 = dt.datetime.now(tz=dt.timezone.utc)
    v3 = mapper_v3.generate_identity_map(v3_input)
    after_v3 = dt.datetime.now(tz=dt.timezone.utc)
    check(v3.is_success(), f"v3 map status {v3.status}")
    mapped = v3.mapped_identities
    for raw, want in ((email, email_uid), (phone, phone_uid), (phone_hash, phone_uid)):
        check(raw in mapped, f"v3 map: {raw} not mapped ({v3.unmapped_identities.keys()})")
        got = mapped[raw]
        check(got.current_raw_uid == want, f"v3 map {raw}: u {got.current_raw_uid} != v2 map {want}")
        check(got.previous_raw_uid is None, f"v3 map {raw}: p {got.previous_raw_uid} on fresh salts")
        # The next UTC midnight after the request's clock (midnight may pass during the call).
        check(before_v3 < got.refresh_from <= after_v3 + dt.timedelta(days=1),
              f"v3 map {raw}: r is {got.refresh_from}")
    unmapped = v3.unmapped_identities
    check(unmapped["not-a-hash"].reason == UnmappedIdentityReason.INVALID_IDENTIFIER,
          f"v3 map invalid hash: {unmapped.get('not-a-hash') and unmapped['not-a-hash'].raw_reason}")
    check(unmapped[opted_out_email].reason == UnmappedIdentityReason.OPTOUT,
          f"v3 map logged-out email: {unmapped.get(opted_out_email) and unmapped[opted_out_email].raw_reason}")
    hashed_only = mapper_v3.generate_identity_map(IdentityMapV3Input.from_hashed_emails([email_hash]))
    check(hashed_only.mapped_identities[email_hash].current_raw_uid == email_uid, "v3 map of the email hash")
    results["checks"].append("identity_map_v3")

    # Buckets: all of them since the epoch, none since the far future; the email's is listed.
    email_bucket = email_map.mapped_identities[email].get_bucket_id()
    buckets = mapper.get_identity_buckets(dt.datetime(1970, 1, 1, tzinfo=dt.timezone.utc))
    check(buckets.is_success() and buckets.buckets, "buckets since 1970: none")
    check(any(b.get_bucket_id() == email_bucket for b in buckets.buckets), "the email's bucket is not listed")
    for b in buckets.buckets:
        dt.datetime.strptime(b.get_last_updated(), "%Y-%m-%dT%H:%M:%S.%f")
        check(len(b.get_last_updated()) == 23, f"last_updated {b.get_last_updated()}")
    later = mapper.get_identity_buckets(dt.datetime(2999, 1, 1, 0, 0, 0, 123456, tzinfo=dt.timezone.utc))
    check(later.buckets == [], "buckets since 2999: not empty")
    results["bucket_count"] = len(buckets.buckets)
    results["checks"].append("identity_buckets")
    cases = [
        ("email (hashed locally)", TokenGenerateInput.from_email(email), email_uid, 0),
        ("email (sent raw)", TokenGenerateInput.from_email(email).do_not_hash(), email_uid, 0),
        ("email_hash", TokenGenerateInput.from_hashed_email(email_hash), email_uid, 0),
        ("phone", TokenGenerateInput.from_phone(phone), phone_uid, 1),
    ]
    results["tokens"] = {}
    for label, token_input, want_uid, identity_type in cases:
        identity = generate(publisher, token_input, label)
        tokens = [identity.get_advertising_token()] + refresh_twice(publisher, identity, label)
        for i, token in enumerate(tokens):
            check(token.startswith("E4" if identity_type == 0 else "F4"), f"{label}: token prefix {token[:2]}")
            uid = decrypt_everywhere(bidstream, sharing, token, site_id, f"{label} token {i}", identity_type)
            check(uid == want_uid, f"{label} token {i}: raw UID {uid} != identity map {want_uid}")
        results["tokens"][label] = tokens[-1]
        results["checks"].append(f"generate_refresh_decrypt:{label}")

    # The seed's and the live operator's refresh-optout identities: a token, then optout on refresh.
    for test_email in ("optout@email.com", "refresh-optout@example.com"):
        identity = generate(publisher, TokenGenerateInput.from_email(test_email), test_email)
        refreshed = publisher.refresh_token(identity)
        check(refreshed.is_optout(), f"{test_email}: refresh is not optout (status {refreshed.status})")
        results["checks"].append(f"test_identity_optout:{test_email}")

    # The SDK as a token-format oracle: it mints, our `euid token decrypt` reads it back.
    minted = sharing.encrypt_raw_uid_into_token(email_uid)
    check(minted.success, f"sharing encrypt failed: {minted.status}")
    back = sharing.decrypt_token_into_raw_uid(minted.encrypted_data)
    check(back.success and back.uid == email_uid, "sharing encrypt/decrypt round trip failed")
    results["sdk_minted_token"] = minted.encrypted_data
    results["email_raw_uid"] = email_uid
    results["phone_raw_uid"] = phone_uid
    results["checks"].append("sharing_encrypt")

    print(json.dumps(results))


if __name__ == "__main__":
    main()
