//! The blocking clients: publisher, bidstream, sharing and identity map.

use std::collections::HashMap;
use std::sync::mpsc::{self, RecvTimeoutError};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use crate::calls::{client_constructors, Call, Connection, Session};
use crate::keys::KeyCell;
use crate::transport::{Transport, TransportConfig};
use crate::{
    now_ms, ClientError, ClientType, DecryptionResponse, IdentityMapInput, IdentityMapResponse,
    IdentityMapV3Input, IdentityMapV3Result, IdentityTokens, KeySnapshot, TokenGenerateInput,
    TokenResponse,
};

impl Connection<Transport> {
    /// POSTs the call's request and reads the answer.
    fn run<T>(&self, call: Call<'_, T>) -> Result<T, ClientError> {
        let response =
            self.transport
                .post_as(call.path, &call.body, call.content_type, call.retry)?;
        call.answer(response.status, &response.body)
    }
}

/// A publisher: generates and refreshes identities with `/v2/token/generate` and
/// `/v2/token/refresh`. Neither call is retried (see [`Retry::Once`](crate::transport::Retry::Once)).
#[derive(Debug)]
pub struct PublisherClient {
    conn: Connection<Transport>,
}

client_constructors!(PublisherClient, Transport {});

impl PublisherClient {
    /// Generates an identity: success, opt-out or insufficient consent.
    pub fn generate_token(&self, input: &TokenGenerateInput) -> Result<TokenResponse, ClientError> {
        self.conn.run(self.conn.session.generate(input)?)
    }

    /// Refreshes an identity, decrypting the answer with its `refresh_response_key`.
    pub fn refresh_token(&self, identity: &IdentityTokens) -> Result<TokenResponse, ClientError> {
        self.conn.run(Session::refresh(identity)?)
    }
}

/// A bidder: keys from `/v2/key/bidstream`, decryption of tokens from bid requests.
#[derive(Debug)]
pub struct BidstreamClient {
    conn: Connection<Transport>,
    keys: KeyCell,
}

client_constructors!(
    BidstreamClient,
    Transport {
        keys: KeyCell::default()
    }
);

impl BidstreamClient {
    /// Fetches the keys and swaps them in. On failure the previous keys stay.
    pub fn refresh(&self) -> Result<(), ClientError> {
        let snapshot = self.conn.run(self.conn.session.keys("/v2/key/bidstream"))?;
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
        self.keys
            .decrypt(token, domain_or_app_name, ClientType::Bidstream, now_ms)
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
    conn: Connection<Transport>,
    keys: KeyCell,
}

client_constructors!(
    SharingClient,
    Transport {
        keys: KeyCell::default()
    }
);

impl SharingClient {
    /// Fetches the keys and swaps them in. On failure the previous keys stay.
    pub fn refresh(&self) -> Result<(), ClientError> {
        let snapshot = self.conn.run(self.conn.session.keys("/v2/key/sharing"))?;
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
        self.conn
            .session
            .encrypt_raw_uid(&self.keys, raw_uid, keyset_id)
    }

    /// Decrypts a sharing token.
    pub fn decrypt_token_into_raw_uid(&self, token: &str) -> DecryptionResponse {
        self.keys
            .decrypt(token, None, ClientType::Sharing, now_ms())
    }
}

/// An advertiser or data provider: `/v2/identity/map` and `/v2/optout/status`, both retried.
#[derive(Debug)]
pub struct IdentityMapClient {
    conn: Connection<Transport>,
}

client_constructors!(IdentityMapClient, Transport {});

impl IdentityMapClient {
    /// Maps identities to raw UIDs.
    pub fn generate_identity_map(
        &self,
        input: &IdentityMapInput,
    ) -> Result<IdentityMapResponse, ClientError> {
        self.conn.run(self.conn.session.identity_map(input))
    }

    /// Maps identities with `/v3/identity/map` (binary envelopes), in sequential requests of
    /// at most [`MAX_IDENTITY_MAP_V3_BATCH`](crate::MAX_IDENTITY_MAP_V3_BATCH) identities, as
    /// the docs ask; results keep the input order within each kind, emails first. Retried.
    pub fn generate_identity_map_v3(
        &self,
        input: IdentityMapV3Input,
    ) -> Result<Vec<IdentityMapV3Result>, ClientError> {
        let mut out = Vec::with_capacity(input.len());
        for call in self.conn.session.identity_map_v3(input) {
            out.extend(self.conn.run(call)?);
        }
        Ok(out)
    }

    /// Which of these raw UIDs opted out, and since when (Unix ms). At most 5000 per call.
    pub fn optout_status<S: AsRef<str>>(
        &self,
        raw_uids: &[S],
    ) -> Result<HashMap<String, i64>, ClientError> {
        self.conn.run(self.conn.session.optout_status(raw_uids)?)
    }
}
