//! Decode + EUID policy check, the operator's per-request TCF cost.
//!
//! The same two strings are timed with IAB's JS decoder by `tests/js/tcf_bench.mjs`; both
//! figures are in docs/PERFORMANCE.md.
#![allow(missing_docs)] // criterion_main! generates an undocumented `main`.

use criterion::{black_box, criterion_group, criterion_main, Criterion};
use euid_tcf::{ConsentPolicy, ConsentVerdict, TcString};

/// The EUID documentation's example string (range-encoded vendor 21).
const DOCS: &str = "CPhJRpMPhJRpMABAMBFRACBoALAAAEJAAIYgAKwAQAKgArABAAqAAA";

/// Encoded by IAB's JS encoder: 800 vendors with consent in 97 range entries (max id 4784),
/// 300 with legitimate interest. Keep in sync with `tests/js/tcf_bench.mjs`.
const VENDORS_800: &str = "CP3tAUAP3tAUAEsACBENB4EoAP_AAEPAAAYglYQQYABgAtAFwAdIBwAHjAT8BRoDJANBAeIB8ID_AQdAk0CY4FpgXVAwoDDIGoAa9A4QDlYHpAfVBCcELoJIAlHBN4E4YKegqPBXkFfILJAtVBgUGDIMdAyDBlMGWoNGA0hBqsGrIN9A4dByEHLoOlA6pB7EHuIQNBBPCJ4IooRahGDCOgI9YSiBKfCaUJsYTgBOHCdwJ4YUEhQzCiQKMIU8BUhCwALGAW2QuVC5-GAYYLQxpDG0GPkMtQy3hoUGisNbQ1vhs8G00N3g3fhwEHBkOLg47h0yHVcPCg8Vh5AHmEPhQ-Sh_mH_sQExAgiDSIN0Q5hD2iKSIq0RrxG6iRUJF0SlhKbiVAJWAUAQF4ABAAxACsAP4AlgC9ANkA44CegKrAgsCEIEcgSfAnUCfYGNgZhA88D0YIggivBNoE4oJ5gnpBbAFvoM2Az1BvsHAoO3A7fCAcIEoRCBEPCJIIl4SVBJpCakJvoT8hQAAAAA";

fn benches(c: &mut Criterion) {
    let policy = ConsentPolicy::default();
    for (name, text) in [("docs", DOCS), ("800_vendors", VENDORS_800)] {
        // Not a timing check: makes sure the benchmark measures the full, successful path.
        assert_eq!(
            policy.evaluate(text),
            Ok(ConsentVerdict::Sufficient),
            "{name}"
        );
        c.bench_function(&format!("decode_policy_{name}"), |b| {
            b.iter(|| policy.evaluate(black_box(text)))
        });
        c.bench_function(&format!("full_decode_{name}"), |b| {
            b.iter(|| TcString::parse(black_box(text)).map(|tc| tc.decode()))
        });
    }
    let model = euid_tcf::decode(VENDORS_800).expect("bench string decodes");
    assert_eq!(model.vendor_consents.len(), 800);
    assert!(TcString::parse(VENDORS_800).is_ok_and(|tc| tc.vendor_consents_range_encoded()));
}

criterion_group!(tcf, benches);
criterion_main!(tcf);
