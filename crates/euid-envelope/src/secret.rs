use euid_crypto::{AesGcmKey, CryptoError};

/// Why a client secret could not be loaded. Never contains the secret.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SecretError {
    /// The text is not standard base64.
    #[error("client secret is not valid base64")]
    NotBase64,
    /// The secret does not decode to exactly 32 bytes.
    #[error("client secret must decode to 32 bytes, got {0}")]
    WrongLength(usize),
}

/// A client's 32-byte secret, decoded once, with its AES-256-GCM key schedule prepared.
///
/// `Debug` is redacted and the raw bytes are zeroized on drop (see [`AesGcmKey`]).
#[derive(Clone)]
pub struct ClientSecret {
    key: AesGcmKey,
}

impl ClientSecret {
    /// Decodes a secret from its standard base64 text (44 characters).
    pub fn from_base64(text: &str) -> Result<Self, SecretError> {
        match AesGcmKey::from_base64(text.trim()) {
            Ok(key) => Ok(Self { key }),
            Err(CryptoError::KeyLength(n)) => Err(SecretError::WrongLength(n)),
            Err(_) => Err(SecretError::NotBase64),
        }
    }

    /// Wraps 32 raw secret bytes.
    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        Self {
            key: AesGcmKey::from_bytes(bytes),
        }
    }

    /// The prepared AES-256-GCM key.
    pub fn key(&self) -> &AesGcmKey {
        &self.key
    }
}

impl std::fmt::Debug for ClientSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ClientSecret(<redacted>)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loads_and_redacts() {
        let secret =
            ClientSecret::from_base64("ioG3wKxAokmp+rERx6A4kM/13qhyolUXIu14WN16Spo=").unwrap();
        assert_eq!(format!("{secret:?}"), "ClientSecret(<redacted>)");
        assert_eq!(
            ClientSecret::from_base64("AAAA").unwrap_err(),
            SecretError::WrongLength(3)
        );
        assert_eq!(
            ClientSecret::from_base64("%%%").unwrap_err(),
            SecretError::NotBase64
        );
    }
}
