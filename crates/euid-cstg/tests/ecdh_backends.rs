//! The two ECDH backends side by side (only when both features are on, as in workspace builds):
//! for random server and client keys they derive the same shared key and decode the same
//! request, and they refuse the same damaged keys with the same error.
#![cfg(all(feature = "aws-lc", feature = "pure-rust"))]

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use euid_crypto::{BatchedOsRandom, RandomSource};
use euid_cstg::{
    decode_request, decode_request_with, ClientIdentity, ClientRequest, CstgError, EcdhBackend,
    KeypairStore, ServerKeypair,
};
use p256::elliptic_curve::sec1::ToEncodedPoint as _;
use p256::pkcs8::DecodePublicKey as _;
use proptest::prelude::*;
use serde_json::Value;

const SUB: &str = "Backends01";
const ORIGIN: &str = "https://example.com";
const HASH: &str = "tMmiiTI7IaAcPpQPFQ65uMVCWH8av9jw4cwf/F5HVRQ=";

/// Deterministic bytes from a proptest seed, so a failing case replays (the counter keeps a
/// rejected 32-byte draw from repeating forever).
struct Seeded {
    seed: Vec<u8>,
    at: usize,
    round: u8,
}

impl Seeded {
    fn new(seed: Vec<u8>) -> Self {
        Self {
            seed,
            at: 0,
            round: 0,
        }
    }
}

impl RandomSource for Seeded {
    fn fill(&mut self, dest: &mut [u8]) {
        for b in dest {
            if self.at == self.seed.len() {
                self.at = 0;
                self.round = self.round.wrapping_add(1);
            }
            *b = self.seed[self.at] ^ self.round.wrapping_mul(0x9d);
            self.at += 1;
        }
    }
}

fn store_and_request(seed: Vec<u8>, app: Option<&str>) -> (KeypairStore, ClientRequest) {
    let mut rng = Seeded::new(seed);
    let keypair = ServerKeypair::generate(
        SUB,
        5,
        vec!["example.com".into()],
        vec!["com.example.app".into()],
        0,
        &mut rng,
    );
    let public = keypair.public_key_text().to_owned();
    let mut store = KeypairStore::new();
    store.insert(keypair).unwrap();
    let request = ClientRequest::encode(
        &public,
        SUB,
        ClientIdentity::EmailHash(HASH),
        1_764_316_800_000,
        app,
        &mut rng,
    )
    .unwrap();
    (store, request)
}

/// Each backend's answer: the identity hash and shared key on success, the error otherwise.
fn outcomes(store: &KeypairStore, body: &[u8]) -> Vec<Result<(String, [u8; 32]), CstgError>> {
    EcdhBackend::COMPILED
        .iter()
        .map(|&backend| {
            decode_request_with(backend, store, body, Some(ORIGIN))
                .map(|d| (d.identity.hash.clone(), *d.shared_key().expose_secret()))
        })
        .collect()
}

fn with_public_key(body: &str, der: &[u8]) -> String {
    let mut v: Value = serde_json::from_str(body).unwrap();
    v["public_key"] = Value::String(STANDARD.encode(der));
    v.to_string()
}

fn client_public_der(body: &str) -> Vec<u8> {
    let v: Value = serde_json::from_str(body).unwrap();
    STANDARD.decode(v["public_key"].as_str().unwrap()).unwrap()
}

/// The SPKI DER of the same point in compressed SEC1 form (33 bytes).
fn compressed_spki(der: &[u8]) -> Vec<u8> {
    let public = p256::PublicKey::from_public_key_der(der).unwrap();
    let mut out = vec![
        0x30, 0x39, 0x30, 0x13, 0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01, 0x06, 0x08,
        0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07, 0x03, 0x22, 0x00,
    ];
    out.extend_from_slice(public.to_encoded_point(true).as_bytes());
    out
}

#[test]
fn both_backends_are_compiled_and_aws_lc_is_the_default() {
    assert_eq!(
        EcdhBackend::COMPILED,
        &[EcdhBackend::AwsLc, EcdhBackend::PureRust]
    );
    assert_eq!(EcdhBackend::DEFAULT, EcdhBackend::AwsLc);
    let (store, request) = store_and_request(vec![7; 64], None);
    let default = decode_request(&store, request.body.as_bytes(), Some(ORIGIN)).unwrap();
    let pure = decode_request_with(
        EcdhBackend::PureRust,
        &store,
        request.body.as_bytes(),
        Some(ORIGIN),
    )
    .unwrap();
    assert_eq!(
        default.shared_key().expose_secret(),
        pure.shared_key().expose_secret()
    );
}

#[test]
fn a_point_off_the_curve_is_refused_by_both() {
    let (store, request) = store_and_request(vec![3; 64], None);
    let mut der = client_public_der(&request.body);
    let last = der.len() - 1;
    der[last] ^= 1; // y changes, x stays: no longer on the curve
    let body = with_public_key(&request.body, &der);
    assert_eq!(
        outcomes(&store, body.as_bytes()),
        vec![Err(CstgError::BadPublicKey), Err(CstgError::BadPublicKey)]
    );
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    #[test]
    fn both_backends_derive_the_same_key_and_decode_the_same_request(
        seed in proptest::collection::vec(any::<u8>(), 64..=160),
        app in proptest::option::of("[a-z.]{1,20}"),
        answer in proptest::collection::vec(any::<u8>(), 0..200),
    ) {
        let app = app.map(|a| if a.len() % 2 == 0 { "com.example.app".to_owned() } else { a });
        let (store, request) = store_and_request(seed, app.as_deref());
        let body = request.body.as_bytes();
        let results = outcomes(&store, body);
        prop_assert_eq!(&results[0], &results[1]);
        for backend in EcdhBackend::COMPILED {
            if let Ok(decoded) = decode_request_with(*backend, &store, body, Some(ORIGIN)) {
                let sealed = decoded.seal_response(&answer, &mut BatchedOsRandom::new());
                prop_assert_eq!(request.session.open_response(&sealed).unwrap(), answer.clone());
            }
        }
    }

    #[test]
    fn both_backends_give_the_same_answer_for_other_client_keys(
        seed in proptest::collection::vec(any::<u8>(), 64..=128),
        garbage in proptest::collection::vec(any::<u8>(), 0..100),
        which in 0u8..4,
    ) {
        let (store, request) = store_and_request(seed.clone(), None);
        let der = client_public_der(&request.body);
        let replaced = match which {
            // The same point, compressed: accepted by both, same key.
            0 => compressed_spki(&der),
            // Another client's key: agreed fine, but the payload does not open.
            1 => {
                let (_, other) = store_and_request(seed.iter().map(|b| b ^ 0x55).collect(), None);
                client_public_der(&other.body)
            }
            // A damaged key: one byte of the DER changed.
            2 => {
                let mut d = der;
                let i = usize::from(garbage.first().copied().unwrap_or(0)) % d.len();
                d[i] ^= garbage.get(1).copied().unwrap_or(1).max(1);
                d
            }
            // Not a key at all.
            _ => garbage,
        };
        let body = with_public_key(&request.body, &replaced);
        let results = outcomes(&store, body.as_bytes());
        prop_assert_eq!(&results[0], &results[1]);
        if which == 0 {
            prop_assert!(results[0].is_ok());
        }
    }
}
