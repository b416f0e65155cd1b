//! One client-side token generation request and the keypair store that decodes it, for
//! comparing the ECDH backends of `euid-cstg` (this crate turns both on).

use euid_crypto::BatchedOsRandom;
use euid_cstg::{
    decode_request_with, ClientIdentity, ClientRequest, CstgError, EcdhBackend, KeypairStore,
    ServerKeypair,
};

const SUBSCRIPTION: &str = "bench00001";
const ORIGIN: &str = "http://localhost:8080";

/// A store with one site keypair and a browser-made request for it.
pub struct CstgFixture {
    store: KeypairStore,
    body: Vec<u8>,
}

impl CstgFixture {
    /// A fresh random keypair and one request encrypted for it, as the browser SDK builds it.
    pub fn new() -> Self {
        let mut rng = BatchedOsRandom::new();
        let keypair = ServerKeypair::generate(
            SUBSCRIPTION,
            7,
            vec!["localhost".into()],
            vec![],
            0,
            &mut rng,
        );
        let public = keypair.public_key_text().to_owned();
        let mut store = KeypairStore::new();
        // A fresh store has no keypair with this id yet.
        let _ = store.insert(keypair);
        let body = ClientRequest::encode(
            &public,
            SUBSCRIPTION,
            ClientIdentity::EmailHash("tMmiiTI7IaAcPpQPFQ65uMVCWH8av9jw4cwf/F5HVRQ="),
            1_700_000_000_000,
            None,
            &mut rng,
        )
        .map(|request| request.body.into_bytes())
        .unwrap_or_default();
        Self { store, body }
    }

    /// Decodes the request with `backend`; returns the site id it was made for.
    pub fn decode(&self, backend: EcdhBackend) -> Result<i32, CstgError> {
        decode_request_with(backend, &self.store, &self.body, Some(ORIGIN))
            .map(|decoded| decoded.keypair.site_id)
    }
}

impl Default for CstgFixture {
    fn default() -> Self {
        Self::new()
    }
}
