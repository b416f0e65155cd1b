//! The async clients (feature `tokio`): the blocking clients' calls, awaited.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use crate::calls::{client_constructors, Call, Connection, Session};
use crate::keys::KeyCell;
use crate::transport::{AsyncTransport, TransportConfig};
use crate::{
    now_ms, ClientError, ClientType, DecryptionResponse, IdentityMapInput, IdentityMapResponse,
    IdentityMapV3Input, IdentityMapV3Result, IdentityTokens, KeySnapshot, TokenGenerateInput,
    TokenResponse,
};

impl Connection<AsyncTransport> {
    /// POSTs the call's request and reads the answer, without blocking a thread.
    async fn run<T>(&self, call: Call<'_, T>) -> Result<T, ClientError> {
        let response = self
            .transport
            .post_as(call.path, &call.body, call.content_type, call.retry)
            .await?;
        call.answer(response.status, &response.body)
    }
}

/// The async [`PublisherClient`](crate::PublisherClient).
#[derive(Debug)]
pub struct AsyncPublisherClient {
    conn: Connection<AsyncTransport>,
}

client_constructors!(AsyncPublisherClient, AsyncTransport {});

impl AsyncPublisherClient {
    /// Generates an identity: success, opt-out or insufficient consent. Not retried.
    pub async fn generate_token(
        &self,
        input: &TokenGenerateInput,
    ) -> Result<TokenResponse, ClientError> {
        self.conn.run(self.conn.session.generate(input)?).await
    }

    /// Refreshes an identity, decrypting the answer with its `refresh_response_key`. Not
    /// retried.
    pub async fn refresh_token(
        &self,
        identity: &IdentityTokens,
    ) -> Result<TokenResponse, ClientError> {
        self.conn.run(Session::refresh(identity)?).await
    }
}

/// The async [`BidstreamClient`](crate::BidstreamClient). Decryption is synchronous: it
/// never waits for I/O.
#[derive(Debug)]
pub struct AsyncBidstreamClient {
    conn: Connection<AsyncTransport>,
    keys: KeyCell,
}

client_constructors!(
    AsyncBidstreamClient,
    AsyncTransport {
        keys: KeyCell::default()
    }
);

impl AsyncBidstreamClient {
    /// Fetches the keys and swaps them in. On failure the previous keys stay.
    pub async fn refresh(&self) -> Result<(), ClientError> {
        let snapshot = self
            .conn
            .run(self.conn.session.keys("/v2/key/bidstream"))
            .await?;
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
        self.keys
            .decrypt(token, domain_or_app_name, ClientType::Bidstream, now_ms())
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
    conn: Connection<AsyncTransport>,
    keys: KeyCell,
}

client_constructors!(
    AsyncSharingClient,
    AsyncTransport {
        keys: KeyCell::default()
    }
);

impl AsyncSharingClient {
    /// Fetches the keys and swaps them in. On failure the previous keys stay.
    pub async fn refresh(&self) -> Result<(), ClientError> {
        let snapshot = self
            .conn
            .run(self.conn.session.keys("/v2/key/sharing"))
            .await?;
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

/// The async [`IdentityMapClient`](crate::IdentityMapClient).
#[derive(Debug)]
pub struct AsyncIdentityMapClient {
    conn: Connection<AsyncTransport>,
}

client_constructors!(AsyncIdentityMapClient, AsyncTransport {});

impl AsyncIdentityMapClient {
    /// Maps identities to raw UIDs. Retried.
    pub async fn generate_identity_map(
        &self,
        input: &IdentityMapInput,
    ) -> Result<IdentityMapResponse, ClientError> {
        self.conn.run(self.conn.session.identity_map(input)).await
    }

    /// Maps identities with `/v3/identity/map` (binary envelopes), in sequential requests of
    /// at most [`MAX_IDENTITY_MAP_V3_BATCH`](crate::MAX_IDENTITY_MAP_V3_BATCH) identities, as
    /// the docs ask; results keep the input order within each kind, emails first. Retried.
    pub async fn generate_identity_map_v3(
        &self,
        input: IdentityMapV3Input,
    ) -> Result<Vec<IdentityMapV3Result>, ClientError> {
        let mut out = Vec::with_capacity(input.len());
        for call in self.conn.session.identity_map_v3(input) {
            out.extend(self.conn.run(call).await?);
        }
        Ok(out)
    }

    /// Which of these raw UIDs opted out, and since when (Unix ms). Retried.
    pub async fn optout_status<S: AsRef<str>>(
        &self,
        raw_uids: &[S],
    ) -> Result<HashMap<String, i64>, ClientError> {
        self.conn
            .run(self.conn.session.optout_status(raw_uids)?)
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn is_send<T: Send>(_: &T) {}

    /// Callers spawn these futures on multi-threaded runtimes.
    #[test]
    fn futures_are_send() {
        let (url, key, secret) = (
            "http://127.0.0.1:1",
            "k",
            "ioG3wKxAokmp+rERx6A4kM/13qhyolUXIu14WN16Spo=",
        );
        let publisher = AsyncPublisherClient::new(url, key, secret).unwrap();
        let input = TokenGenerateInput::from_email("a@example.com");
        is_send(&publisher.generate_token(&input));
        let bidder = AsyncBidstreamClient::new(url, key, secret).unwrap();
        is_send(&bidder.refresh());
        let map = AsyncIdentityMapClient::new(url, key, secret).unwrap();
        let v2 = IdentityMapInput::from_emails(&["a@example.com"]).unwrap();
        is_send(&map.generate_identity_map(&v2));
        is_send(&map.generate_identity_map_v3(IdentityMapV3Input::new()));
        is_send(&map.optout_status(&["x"]));
    }
}
