//! Each client call as one request to send and one way to read its answer, shared by the
//! blocking and the async clients: [`Session`] builds the [`Call`] (sealed envelope, path,
//! `Content-Type`, retry policy), the transport only moves its bytes, and [`Call::answer`]
//! opens what came back. The wall clock and the OS random source are read here, so the
//! clients need not.

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};

use euid_crypto::{AesGcmKey, BatchedOsRandom};
use euid_envelope::ClientSecret;

use crate::keys::KeyCell;
use crate::transport::Retry;
use crate::{
    encrypt_raw_uid, now_ms, open_refresh, refresh_request_body, ClientError, EnvelopeRequest,
    IdentityMapInput, IdentityMapResponse, IdentityMapV3Input, IdentityMapV3Result, IdentityTokens,
    KeySnapshot, ResponseJson, TokenGenerateInput, TokenResponse, MAX_IDENTITY_MAP_V3_BATCH,
};

/// A client's transport and its session.
#[derive(Debug)]
pub(crate) struct Connection<T> {
    pub(crate) transport: T,
    pub(crate) session: Session,
}

impl<T> Connection<T> {
    pub(crate) fn new(transport: T, client_secret: &str) -> Result<Self, ClientError> {
        Ok(Self {
            transport,
            session: Session::new(client_secret)?,
        })
    }
}

/// The client secret and the random source for nonces and IVs. `Debug` never shows the
/// secret.
#[derive(Debug)]
pub(crate) struct Session {
    secret: ClientSecret,
    rng: Mutex<BatchedOsRandom>,
}

/// How an answer is opened.
enum Open<'a> {
    /// A sealed envelope: under the client secret, echoing the request's nonce.
    Envelope {
        request: EnvelopeRequest,
        secret: &'a ClientSecret,
    },
    /// `/v2/token/refresh`: under the previous identity's `refresh_response_key` (boxed: an
    /// expanded AES key is much larger than the other variant).
    Refresh(Box<AesGcmKey>),
}

/// What a call reads from the opened answer.
type Read<'a, T> = Box<dyn FnOnce(ResponseJson) -> Result<T, ClientError> + Send + 'a>;

/// One request, ready to POST, and how to read its answer.
pub(crate) struct Call<'a, T> {
    pub(crate) path: &'static str,
    pub(crate) body: Vec<u8>,
    pub(crate) content_type: &'static str,
    pub(crate) retry: Retry,
    open: Open<'a>,
    read: Read<'a, T>,
}

impl<T> Call<'_, T> {
    /// Opens the HTTP answer (status and body) and reads it.
    pub(crate) fn answer(self, http_status: u16, body: &[u8]) -> Result<T, ClientError> {
        let json = match &self.open {
            Open::Envelope { request, secret } => request.open(secret, http_status, body)?,
            Open::Refresh(key) => open_refresh(key, http_status, body)?,
        };
        (self.read)(json)
    }
}

impl Session {
    pub(crate) fn new(client_secret: &str) -> Result<Self, ClientError> {
        Ok(Self {
            secret: ClientSecret::from_base64(client_secret)?,
            rng: Mutex::new(BatchedOsRandom::new()),
        })
    }

    /// Seals `json` for `path` now; `binary` for the raw-bytes envelope of the v3 map.
    fn envelope<'a, T>(
        &'a self,
        path: &'static str,
        json: &[u8],
        binary: bool,
        retry: Retry,
        read: impl FnOnce(ResponseJson) -> Result<T, ClientError> + Send + 'a,
    ) -> Call<'a, T> {
        let mut request = {
            // Released before any I/O (and before the async clients' first await).
            let mut rng = self.rng.lock().unwrap_or_else(PoisonError::into_inner);
            if binary {
                EnvelopeRequest::seal_binary(&self.secret, path, json, now_ms(), &mut *rng)
            } else {
                EnvelopeRequest::seal(&self.secret, path, json, now_ms(), &mut *rng)
            }
        };
        Call {
            path,
            body: std::mem::take(&mut request.body),
            content_type: request.content_type,
            retry,
            open: Open::Envelope {
                request,
                secret: &self.secret,
            },
            read: Box::new(read),
        }
    }

    /// `/v2/token/generate`: not retried (each attempt mints new tokens).
    pub(crate) fn generate(
        &self,
        input: &TokenGenerateInput,
    ) -> Result<Call<'_, TokenResponse>, ClientError> {
        let json = input.to_request_json()?;
        Ok(self.envelope(
            "/v2/token/generate",
            &json,
            false,
            Retry::Once,
            TokenResponse::from_generate,
        ))
    }

    /// `/v2/token/refresh`: the refresh token as the body, the answer opened with the
    /// identity's `refresh_response_key`. Not retried.
    pub(crate) fn refresh(
        identity: &IdentityTokens,
    ) -> Result<Call<'static, TokenResponse>, ClientError> {
        Ok(Call {
            path: "/v2/token/refresh",
            body: refresh_request_body(&identity.refresh_token),
            content_type: crate::envelope::TEXT,
            retry: Retry::Once,
            open: Open::Refresh(Box::new(identity.refresh_response_key()?)),
            read: Box::new(|json| TokenResponse::from_refresh(json, now_ms())),
        })
    }

    /// `/v2/key/bidstream` or `/v2/key/sharing`: retried.
    pub(crate) fn keys(&self, path: &'static str) -> Call<'_, KeySnapshot> {
        self.envelope(path, b"", false, Retry::Idempotent, |json| {
            KeySnapshot::from_body(&json.body)
        })
    }

    /// `/v2/identity/map`: retried.
    pub(crate) fn identity_map<'a>(
        &'a self,
        input: &'a IdentityMapInput,
    ) -> Call<'a, IdentityMapResponse> {
        self.envelope(
            "/v2/identity/map",
            &input.to_request_json(),
            false,
            Retry::Idempotent,
            move |json| input.parse_response(&json.into_success_body()?),
        )
    }

    /// `/v3/identity/map` in requests of at most [`MAX_IDENTITY_MAP_V3_BATCH`] identities,
    /// each sealed when the iterator reaches it (so its timestamp is fresh): retried.
    pub(crate) fn identity_map_v3(
        &self,
        input: IdentityMapV3Input,
    ) -> impl Iterator<Item = Call<'_, Vec<IdentityMapV3Result>>> + '_ {
        input
            .into_batches(MAX_IDENTITY_MAP_V3_BATCH)
            .into_iter()
            .map(move |batch| {
                let json = batch.to_request_json();
                self.envelope(
                    "/v3/identity/map",
                    &json,
                    true,
                    Retry::Idempotent,
                    move |answer| batch.parse_response(&answer.into_success_body()?),
                )
            })
    }

    /// `/v2/optout/status`: retried.
    pub(crate) fn optout_status<S: AsRef<str>>(
        &self,
        raw_uids: &[S],
    ) -> Result<Call<'_, HashMap<String, i64>>, ClientError> {
        let json = crate::optout_status_request_json(raw_uids)?;
        Ok(self.envelope(
            "/v2/optout/status",
            &json,
            false,
            Retry::Idempotent,
            |json| crate::parse_optout_status(&json.into_success_body()?),
        ))
    }

    /// Encrypts a raw UID into a sharing token with the current keys, now.
    pub(crate) fn encrypt_raw_uid(
        &self,
        keys: &KeyCell,
        raw_uid: &str,
        keyset_id: Option<i32>,
    ) -> Result<String, ClientError> {
        let keys = keys.get();
        let mut rng = self.rng.lock().unwrap_or_else(PoisonError::into_inner);
        Ok(encrypt_raw_uid(
            keys.as_deref(),
            raw_uid,
            keyset_id,
            now_ms(),
            &mut *rng,
        )?)
    }
}

/// `new` and `with_config` for a client whose connection runs on `$transport`.
macro_rules! client_constructors {
    ($client:ident, $transport:ty { $($field:ident: $init:expr),* }) => {
        impl $client {
            /// A client for the operator at `base_url` (`http[s]://host[:port][/prefix]`)
            /// with default timeouts and retries.
            pub fn new(
                base_url: &str,
                api_key: &str,
                client_secret: &str,
            ) -> Result<Self, ClientError> {
                Self::with_config(base_url, api_key, client_secret, TransportConfig::default())
            }

            /// A client with the given timeouts, retries and extra TLS roots.
            pub fn with_config(
                base_url: &str,
                api_key: &str,
                client_secret: &str,
                config: TransportConfig,
            ) -> Result<Self, ClientError> {
                let transport = <$transport>::new(base_url, api_key, config)?;
                Ok(Self {
                    conn: $crate::calls::Connection::new(transport, client_secret)?,
                    $($field: $init),*
                })
            }
        }
    };
}
pub(crate) use client_constructors;
