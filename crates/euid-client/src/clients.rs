//! The blocking clients: publisher, bidstream, sharing and identity map.

use std::collections::HashMap;
use std::sync::mpsc::{self, RecvTimeoutError};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use euid_crypto::BatchedOsRandom;
use euid_envelope::ClientSecret;

use crate::keys::KeyCell;
use crate::transport::{Retry, Transport, TransportConfig};
use crate::{
    decrypt_token, encrypt_raw_uid, now_ms, open_refresh, refresh_request_body, ClientError,
    ClientType, DecryptionResponse, EnvelopeRequest, IdentityMapInput, IdentityMapResponse,
    IdentityMapV3Input, IdentityMapV3Result, IdentityTokens, KeySnapshot, ResponseJson,
    TokenGenerateInput, TokenResponse, MAX_IDENTITY_MAP_V3_BATCH,
};

/// One operator, one API key and client secret. `Debug` never shows either.
#[derive(Debug)]
struct Connection {
    transport: Transport,
    secret: ClientSecret,
    rng: Mutex<BatchedOsRandom>,
}

impl Connection {
    fn new(
        base_url: &str,
        api_key: &str,
        client_secret: &str,
        config: TransportConfig,
    ) -> Result<Self, ClientError> {
        Ok(Self {
            transport: Transport::new(base_url, api_key, config)?,
            secret: ClientSecret::from_base64(client_secret)?,
            rng: Mutex::new(BatchedOsRandom::new()),
        })
    }

    /// Seals `json`, POSTs it and opens the answer.
    fn call(
        &self,
        path: &'static str,
        json: &[u8],
        retry: Retry,
    ) -> Result<ResponseJson, ClientError> {
        let request = {
            let mut rng = self.rng.lock().unwrap_or_else(PoisonError::into_inner);
            EnvelopeRequest::seal(&self.secret, path, json, now_ms(), &mut *rng)
        };
        self.send(&request, retry)
    }

    /// Seals `json` as a binary envelope (the v3 identity map), POSTs it and opens the answer.
    fn call_binary(&self, path: &'static str, json: &[u8]) -> Result<ResponseJson, ClientError> {
        let request = {
            let mut rng = self.rng.lock().unwrap_or_else(PoisonError::into_inner);
            EnvelopeRequest::seal_binary(&self.secret, path, json, now_ms(), &mut *rng)
        };
        self.send(&request, Retry::Idempotent)
    }

    fn send(&self, request: &EnvelopeRequest, retry: Retry) -> Result<ResponseJson, ClientError> {
        let response =
            self.transport
                .post_as(request.path, &request.body, request.content_type, retry)?;
        request.open(&self.secret, response.status, &response.body)
    }

    fn fetch_keys(&self, path: &'static str) -> Result<KeySnapshot, ClientError> {
        let response = self.call(path, b"", Retry::Idempotent)?;
        KeySnapshot::from_body(&response.body)
    }
}

/// A publisher: generates and refreshes identities with `/v2/token/generate` and
/// `/v2/token/refresh`. Neither call is retried (see [`Retry::Once`]).
#[derive(Debug)]
pub struct PublisherClient {
    conn: Connection,
}

impl PublisherClient {
    /// A client for the operator at `base_url` with default timeouts and retries.
    pub fn new(base_url: &str, api_key: &str, client_secret: &str) -> Result<Self, ClientError> {
        Self::with_config(base_url, api_key, client_secret, TransportConfig::default())
    }

    /// A client with the given timeouts and retries.
    pub fn with_config(
        base_url: &str,
        api_key: &str,
        client_secret: &str,
        config: TransportConfig,
    ) -> Result<Self, ClientError> {
        Ok(Self {
            conn: Connection::new(base_url, api_key, client_secret, config)?,
        })
    }

    /// Generates an identity: success, opt-out or insufficient consent.
    pub fn generate_token(&self, input: &TokenGenerateInput) -> Result<TokenResponse, ClientError> {
        let json = input.to_request_json()?;
        let response = self.conn.call("/v2/token/generate", &json, Retry::Once)?;
        TokenResponse::from_generate(response)
    }

    /// Refreshes an identity, decrypting the answer with its `refresh_response_key`.
    pub fn refresh_token(&self, identity: &IdentityTokens) -> Result<TokenResponse, ClientError> {
        let key = identity.refresh_response_key()?;
        let response = self.conn.transport.post(
            "/v2/token/refresh",
            &refresh_request_body(&identity.refresh_token),
            Retry::Once,
        )?;
        let json = open_refresh(&key, response.status, &response.body)?;
        TokenResponse::from_refresh(json, now_ms())
    }
}

/// A bidder: keys from `/v2/key/bidstream`, decryption of tokens from bid requests.
#[derive(Debug)]
pub struct BidstreamClient {
    conn: Connection,
    keys: KeyCell,
}

impl BidstreamClient {
    /// A client for the operator at `base_url` with default timeouts and retries.
    pub fn new(base_url: &str, api_key: &str, client_secret: &str) -> Result<Self, ClientError> {
        Self::with_config(base_url, api_key, client_secret, TransportConfig::default())
    }

    /// A client with the given timeouts and retries.
    pub fn with_config(
        base_url: &str,
        api_key: &str,
        client_secret: &str,
        config: TransportConfig,
    ) -> Result<Self, ClientError> {
        Ok(Self {
            conn: Connection::new(base_url, api_key, client_secret, config)?,
            keys: KeyCell::default(),
        })
    }

    /// Fetches the keys and swaps them in. On failure the previous keys stay.
    pub fn refresh(&self) -> Result<(), ClientError> {
        let snapshot = self.conn.fetch_keys("/v2/key/bidstream")?;
        self.keys.set(snapshot);
        Ok(())
    }

    /// The current key snapshot, if any.
    pub fn keys(&self) -> Option<Arc<KeySnapshot>> {
        self.keys.get()
    }

    /// Decrypts a token from a bid request made on `domain_or_app_name`.
    pub fn decrypt_token_into_raw_uid(
        &self,
        token: &str,
        domain_or_app_name: Option<&str>,
    ) -> DecryptionResponse {
        self.decrypt_token_into_raw_uid_at(token, domain_or_app_name, now_ms())
    }

    /// [`Self::decrypt_token_into_raw_uid`] at a given time, Unix ms.
    pub fn decrypt_token_into_raw_uid_at(
        &self,
        token: &str,
        domain_or_app_name: Option<&str>,
        now_ms: i64,
    ) -> DecryptionResponse {
        let keys = self.keys.get();
        decrypt_token(
            keys.as_deref(),
            token,
            domain_or_app_name,
            ClientType::Bidstream,
            now_ms,
        )
    }
}

impl BidstreamClient {
    /// Refreshes the keys every `interval` on a background thread until the handle is
    /// dropped. A failed refresh keeps the previous keys (and is retried as configured);
    /// decrypts never wait for it. The first refresh happens at once.
    pub fn start_background_refresh(self: &Arc<Self>, interval: Duration) -> BackgroundRefresh {
        let (stop, stopped) = mpsc::channel::<()>();
        let client = Arc::clone(self);
        let last_error = Arc::new(Mutex::new(None));
        let errors = Arc::clone(&last_error);
        let thread = std::thread::Builder::new()
            .name("euid-key-refresh".to_owned())
            .spawn(move || loop {
                let outcome = client.refresh().err().map(|e| e.to_string());
                *errors.lock().unwrap_or_else(PoisonError::into_inner) = outcome;
                match stopped.recv_timeout(interval) {
                    Err(RecvTimeoutError::Timeout) => {}
                    Ok(()) | Err(RecvTimeoutError::Disconnected) => break,
                }
            })
            .ok();
        BackgroundRefresh {
            stop: Some(stop),
            thread,
            last_error,
        }
    }
}

/// A running background key refresher; dropping it stops the thread.
#[derive(Debug)]
pub struct BackgroundRefresh {
    stop: Option<mpsc::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
    last_error: Arc<Mutex<Option<String>>>,
}

impl BackgroundRefresh {
    /// Why the latest refresh failed, or `None` if it succeeded (or none ran yet).
    pub fn last_error(&self) -> Option<String> {
        self.last_error
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Whether the refresher thread could be started.
    pub fn is_running(&self) -> bool {
        self.thread.as_ref().is_some_and(|t| !t.is_finished())
    }
}

impl Drop for BackgroundRefresh {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// A sharer: keys from `/v2/key/sharing`, raw UIDs encrypted into tokens and back.
#[derive(Debug)]
pub struct SharingClient {
    conn: Connection,
    keys: KeyCell,
}

impl SharingClient {
    /// A client for the operator at `base_url` with default timeouts and retries.
    pub fn new(base_url: &str, api_key: &str, client_secret: &str) -> Result<Self, ClientError> {
        Self::with_config(base_url, api_key, client_secret, TransportConfig::default())
    }

    /// A client with the given timeouts and retries.
    pub fn with_config(
        base_url: &str,
        api_key: &str,
        client_secret: &str,
        config: TransportConfig,
    ) -> Result<Self, ClientError> {
        Ok(Self {
            conn: Connection::new(base_url, api_key, client_secret, config)?,
            keys: KeyCell::default(),
        })
    }

    /// Fetches the keys and swaps them in. On failure the previous keys stay.
    pub fn refresh(&self) -> Result<(), ClientError> {
        let snapshot = self.conn.fetch_keys("/v2/key/sharing")?;
        self.keys.set(snapshot);
        Ok(())
    }

    /// The current key snapshot, if any.
    pub fn keys(&self) -> Option<Arc<KeySnapshot>> {
        self.keys.get()
    }

    /// Encrypts a raw UID (standard base64) into a sharing token with the default keyset.
    pub fn encrypt_raw_uid_into_token(&self, raw_uid: &str) -> Result<String, ClientError> {
        self.encrypt_raw_uid_into_token_for_keyset(raw_uid, None)
    }

    /// Encrypts a raw UID into a sharing token with the active key of `keyset_id`.
    pub fn encrypt_raw_uid_into_token_for_keyset(
        &self,
        raw_uid: &str,
        keyset_id: Option<i32>,
    ) -> Result<String, ClientError> {
        let keys = self.keys.get();
        let mut rng = self.conn.rng.lock().unwrap_or_else(PoisonError::into_inner);
        Ok(encrypt_raw_uid(
            keys.as_deref(),
            raw_uid,
            keyset_id,
            now_ms(),
            &mut *rng,
        )?)
    }

    /// Decrypts a sharing token.
    pub fn decrypt_token_into_raw_uid(&self, token: &str) -> DecryptionResponse {
        let keys = self.keys.get();
        decrypt_token(keys.as_deref(), token, None, ClientType::Sharing, now_ms())
    }
}

/// An advertiser or data provider: `/v2/identity/map` and `/v2/optout/status`, both retried.
#[derive(Debug)]
pub struct IdentityMapClient {
    conn: Connection,
}

impl IdentityMapClient {
    /// A client for the operator at `base_url` with default timeouts and retries.
    pub fn new(base_url: &str, api_key: &str, client_secret: &str) -> Result<Self, ClientError> {
        Self::with_config(base_url, api_key, client_secret, TransportConfig::default())
    }

    /// A client with the given timeouts and retries.
    pub fn with_config(
        base_url: &str,
        api_key: &str,
        client_secret: &str,
        config: TransportConfig,
    ) -> Result<Self, ClientError> {
        Ok(Self {
            conn: Connection::new(base_url, api_key, client_secret, config)?,
        })
    }

    /// Maps identities to raw UIDs.
    pub fn generate_identity_map(
        &self,
        input: &IdentityMapInput,
    ) -> Result<IdentityMapResponse, ClientError> {
        let response = self.conn.call(
            "/v2/identity/map",
            &input.to_request_json(),
            Retry::Idempotent,
        )?;
        input.parse_response(&response.into_success_body()?)
    }

    /// Maps identities with `/v3/identity/map` (binary envelopes), in sequential requests of
    /// at most [`MAX_IDENTITY_MAP_V3_BATCH`] identities, as the docs ask; results keep the
    /// input order within each kind, emails first. Retried.
    pub fn generate_identity_map_v3(
        &self,
        input: IdentityMapV3Input,
    ) -> Result<Vec<IdentityMapV3Result>, ClientError> {
        let mut out = Vec::with_capacity(input.len());
        for batch in input.into_batches(MAX_IDENTITY_MAP_V3_BATCH) {
            let response = self
                .conn
                .call_binary("/v3/identity/map", &batch.to_request_json())?;
            out.extend(batch.parse_response(&response.into_success_body()?)?);
        }
        Ok(out)
    }

    /// Which of these raw UIDs opted out, and since when (Unix ms). At most 5000 per call.
    pub fn optout_status<S: AsRef<str>>(
        &self,
        raw_uids: &[S],
    ) -> Result<HashMap<String, i64>, ClientError> {
        let json = crate::optout_status_request_json(raw_uids)?;
        let response = self
            .conn
            .call("/v2/optout/status", &json, Retry::Idempotent)?;
        crate::parse_optout_status(&response.into_success_body()?)
    }
}
