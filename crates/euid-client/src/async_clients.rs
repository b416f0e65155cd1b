//! The async clients (feature `tokio`): the blocking clients' calls, awaited.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use euid_crypto::BatchedOsRandom;
use euid_envelope::ClientSecret;

use crate::keys::KeyCell;
use crate::transport::{AsyncTransport, Retry, TransportConfig};
use crate::{
    decrypt_token, encrypt_raw_uid, now_ms, open_refresh, refresh_request_body, ClientError,
    ClientType, DecryptionResponse, EnvelopeRequest, IdentityMapInput, IdentityMapResponse,
    IdentityMapV3Input, IdentityMapV3Result, IdentityTokens, KeySnapshot, ResponseJson,
    TokenGenerateInput, TokenResponse, MAX_IDENTITY_MAP_V3_BATCH,
};

/// One operator, one API key and client secret. `Debug` never shows either.
#[derive(Debug)]
struct AsyncConnection {
    transport: AsyncTransport,
    secret: ClientSecret,
    rng: Mutex<BatchedOsRandom>,
}

impl AsyncConnection {
    fn new(
        base_url: &str,
        api_key: &str,
        client_secret: &str,
        config: TransportConfig,
    ) -> Result<Self, ClientError> {
        Ok(Self {
            transport: AsyncTransport::new(base_url, api_key, config)?,
            secret: ClientSecret::from_base64(client_secret)?,
            rng: Mutex::new(BatchedOsRandom::new()),
        })
    }

    async fn call(
        &self,
        path: &'static str,
        json: &[u8],
        retry: Retry,
    ) -> Result<ResponseJson, ClientError> {
        // The lock is released before the first await.
        let request = {
            let mut rng = self.rng.lock().unwrap_or_else(PoisonError::into_inner);
            EnvelopeRequest::seal(&self.secret, path, json, now_ms(), &mut *rng)
        };
        self.send(&request, retry).await
    }

    /// Seals `json` as a binary envelope (the v3 identity map), POSTs it and opens the answer.
    async fn call_binary(
        &self,
        path: &'static str,
        json: &[u8],
    ) -> Result<ResponseJson, ClientError> {
        let request = {
            let mut rng = self.rng.lock().unwrap_or_else(PoisonError::into_inner);
            EnvelopeRequest::seal_binary(&self.secret, path, json, now_ms(), &mut *rng)
        };
        self.send(&request, Retry::Idempotent).await
    }

    async fn send(
        &self,
        request: &EnvelopeRequest,
        retry: Retry,
    ) -> Result<ResponseJson, ClientError> {
        let response = self
            .transport
            .post_as(request.path, &request.body, request.content_type, retry)
            .await?;
        request.open(&self.secret, response.status, &response.body)
    }

    async fn fetch_keys(&self, path: &'static str) -> Result<KeySnapshot, ClientError> {
        let response = self.call(path, b"", Retry::Idempotent).await?;
        KeySnapshot::from_body(&response.body)
    }
}

macro_rules! constructors {
    ($name:ident { $($field:ident: $init:expr),* }) => {
        impl $name {
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
                Ok($name {
                    conn: AsyncConnection::new(base_url, api_key, client_secret, config)?,
                    $($field: $init),*
                })
            }
        }
    };
}

/// The async [`PublisherClient`](crate::PublisherClient).
#[derive(Debug)]
pub struct AsyncPublisherClient {
    conn: AsyncConnection,
}

constructors!(AsyncPublisherClient {});

impl AsyncPublisherClient {
    /// Generates an identity: success, opt-out or insufficient consent. Not retried.
    pub async fn generate_token(
        &self,
        input: &TokenGenerateInput,
    ) -> Result<TokenResponse, ClientError> {
        let json = input.to_request_json()?;
        let response = self
            .conn
            .call("/v2/token/generate", &json, Retry::Once)
            .await?;
        TokenResponse::from_generate(response)
    }

    /// Refreshes an identity, decrypting the answer with its `refresh_response_key`. Not
    /// retried.
    pub async fn refresh_token(
        &self,
        identity: &IdentityTokens,
    ) -> Result<TokenResponse, ClientError> {
        let key = identity.refresh_response_key()?;
        let response = self
            .conn
            .transport
            .post(
                "/v2/token/refresh",
                &refresh_request_body(&identity.refresh_token),
                Retry::Once,
            )
            .await?;
        let json = open_refresh(&key, response.status, &response.body)?;
        TokenResponse::from_refresh(json, now_ms())
    }
}

/// The async [`BidstreamClient`](crate::BidstreamClient). Decryption is synchronous: it
/// never waits for I/O.
#[derive(Debug)]
pub struct AsyncBidstreamClient {
    conn: AsyncConnection,
    keys: KeyCell,
}

constructors!(AsyncBidstreamClient {
    keys: KeyCell::default()
});

impl AsyncBidstreamClient {
    /// Fetches the keys and swaps them in. On failure the previous keys stay.
    pub async fn refresh(&self) -> Result<(), ClientError> {
        let snapshot = self.conn.fetch_keys("/v2/key/bidstream").await?;
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
        let keys = self.keys.get();
        decrypt_token(
            keys.as_deref(),
            token,
            domain_or_app_name,
            ClientType::Bidstream,
            now_ms(),
        )
    }

    /// Refreshes the keys every `interval` on a tokio task (the first at once) until the
    /// handle is dropped. A failed refresh keeps the previous keys. Needs a tokio runtime.
    pub fn start_background_refresh(
        self: &Arc<Self>,
        interval: Duration,
    ) -> AsyncBackgroundRefresh {
        let client = Arc::clone(self);
        let last_error = Arc::new(Mutex::new(None));
        let errors = Arc::clone(&last_error);
        let task = tokio::spawn(async move {
            loop {
                let outcome = client.refresh().await.err().map(|e| e.to_string());
                *errors.lock().unwrap_or_else(PoisonError::into_inner) = outcome;
                tokio::time::sleep(interval).await;
            }
        });
        AsyncBackgroundRefresh { task, last_error }
    }
}

/// A running async key refresher; dropping it stops the task.
#[derive(Debug)]
pub struct AsyncBackgroundRefresh {
    task: tokio::task::JoinHandle<()>,
    last_error: Arc<Mutex<Option<String>>>,
}

impl AsyncBackgroundRefresh {
    /// Why the latest refresh failed, or `None` if it succeeded (or none ran yet).
    pub fn last_error(&self) -> Option<String> {
        self.last_error
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }
}

impl Drop for AsyncBackgroundRefresh {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// The async [`SharingClient`](crate::SharingClient).
#[derive(Debug)]
pub struct AsyncSharingClient {
    conn: AsyncConnection,
    keys: KeyCell,
}

constructors!(AsyncSharingClient {
    keys: KeyCell::default()
});

impl AsyncSharingClient {
    /// Fetches the keys and swaps them in. On failure the previous keys stay.
    pub async fn refresh(&self) -> Result<(), ClientError> {
        let snapshot = self.conn.fetch_keys("/v2/key/sharing").await?;
        self.keys.set(snapshot);
        Ok(())
    }

    /// The current key snapshot, if any.
    pub fn keys(&self) -> Option<Arc<KeySnapshot>> {
        self.keys.get()
    }

    /// Encrypts a raw UID (standard base64) into a sharing token with `keyset_id` (default:
    /// the key answer's `default_keyset_id`).
    pub fn encrypt_raw_uid_into_token(
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

/// The async [`IdentityMapClient`](crate::IdentityMapClient).
#[derive(Debug)]
pub struct AsyncIdentityMapClient {
    conn: AsyncConnection,
}

constructors!(AsyncIdentityMapClient {});

impl AsyncIdentityMapClient {
    /// Maps identities to raw UIDs. Retried.
    pub async fn generate_identity_map(
        &self,
        input: &IdentityMapInput,
    ) -> Result<IdentityMapResponse, ClientError> {
        let response = self
            .conn
            .call(
                "/v2/identity/map",
                &input.to_request_json(),
                Retry::Idempotent,
            )
            .await?;
        input.parse_response(&response.into_success_body()?)
    }

    /// Maps identities with `/v3/identity/map` (binary envelopes), in sequential requests of
    /// at most [`MAX_IDENTITY_MAP_V3_BATCH`] identities, as the docs ask; results keep the
    /// input order within each kind, emails first. Retried.
    pub async fn generate_identity_map_v3(
        &self,
        input: IdentityMapV3Input,
    ) -> Result<Vec<IdentityMapV3Result>, ClientError> {
        let mut out = Vec::with_capacity(input.len());
        for batch in input.into_batches(MAX_IDENTITY_MAP_V3_BATCH) {
            let response = self
                .conn
                .call_binary("/v3/identity/map", &batch.to_request_json())
                .await?;
            out.extend(batch.parse_response(&response.into_success_body()?)?);
        }
        Ok(out)
    }

    /// Which of these raw UIDs opted out, and since when (Unix ms). Retried.
    pub async fn optout_status<S: AsRef<str>>(
        &self,
        raw_uids: &[S],
    ) -> Result<HashMap<String, i64>, ClientError> {
        let json = crate::optout_status_request_json(raw_uids)?;
        let response = self
            .conn
            .call("/v2/optout/status", &json, Retry::Idempotent)
            .await?;
        crate::parse_optout_status(&response.into_success_body()?)
    }
}
