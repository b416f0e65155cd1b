//! Bidstream decryption of a v4 token: what a bidder pays per bid request.
//!
//! With `EUID_BENCH_TOKEN` set, that token is decrypted instead of one minted here:
//! `scripts/bench-decrypt-vs-python.sh` passes the token the Python SDK minted with the same
//! keys, so both SDKs decrypt the same bytes.
//!
//! With `EUID_BENCH_LOOP=N` set, it only decrypts N times and exits (no criterion): run it
//! under `valgrind --tool=callgrind` with two values of N, and the difference of the
//! instruction counts over the difference of N is the cost of one decrypt, whatever the
//! machine's load (`docs/PERFORMANCE.md`).
#![allow(missing_docs)] // criterion_group! generates undocumented items

use criterion::{criterion_group, criterion_main, Criterion};
use euid_client::{decrypt_token, encrypt_raw_uid, ClientType, KeySnapshot};

fn bench(c: &mut Criterion) {
    let keys = KeySnapshot::from_body(&serde_json::json!({
        "identity_scope": "EUID", "caller_site_id": 1, "master_keyset_id": 9999999,
        "default_keyset_id": 20, "max_bidstream_lifetime_seconds": 2_592_010,
        "keys": [
            {"id": 164, "keyset_id": 9999999, "created": 1, "activates": 1,
             "expires": 4_000_000_000_i64, "secret": "iyXxrRJcJOilqBcSJsN7XKCIuShbraXdqBCppCaLCJs="},
            {"id": 165, "keyset_id": 20, "created": 1, "activates": 1,
             "expires": 4_000_000_000_i64, "secret": "IPsHwoSa+lbKdGgdg8CL1zCkC0HibqcObDP+fUEYF4U="},
        ],
    }))
    .expect("keys");
    let now = 1_700_000_000_000;
    let mut rng = euid_crypto::BatchedOsRandom::new();
    let raw_uid = "EKCoNGWPYng/whjBIwANJHKvvGlGyzARtDIAk95FlJyb";
    let token = match std::env::var("EUID_BENCH_TOKEN") {
        Ok(token) => token,
        Err(_) => encrypt_raw_uid(Some(&keys), raw_uid, None, now, &mut rng).expect("token"),
    };
    let check = decrypt_token(
        Some(&keys),
        &token,
        Some("example.com"),
        ClientType::Bidstream,
        now,
    );
    assert_eq!(check.uid.as_deref(), Some(raw_uid), "{:?}", check.status);
    if let Some(n) = std::env::var("EUID_BENCH_LOOP")
        .ok()
        .and_then(|n| n.parse::<u64>().ok())
    {
        let mut ok = 0u64;
        for _ in 0..n {
            let out = decrypt_token(
                Some(std::hint::black_box(&keys)),
                std::hint::black_box(&token),
                Some("example.com"),
                ClientType::Bidstream,
                now,
            );
            ok += u64::from(out.is_success());
        }
        assert_eq!(ok, n);
        std::process::exit(0);
    }
    c.bench_function("bidstream_decrypt_v4", |b| {
        b.iter(|| {
            decrypt_token(
                Some(std::hint::black_box(&keys)),
                std::hint::black_box(&token),
                Some("example.com"),
                ClientType::Bidstream,
                now,
            )
        })
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
