//! The server's static-key P-256 ECDH, computed by one of two backends chosen by cargo feature:
//! AWS-LC (`aws-lc`, assembly, the default) or p256 (`pure-rust`). Keys are always parsed and
//! encoded by p256, so both backends accept and refuse exactly the same keys and files.

#[cfg(feature = "aws-lc")]
use std::sync::Arc;

use euid_crypto::AesGcmKey;
use p256::{PublicKey, SecretKey};
use zeroize::Zeroize;

#[cfg(not(any(feature = "aws-lc", feature = "pure-rust")))]
compile_error!(
    "euid-cstg needs an ECDH backend: enable the `aws-lc` (default) or the `pure-rust` feature"
);

/// Which implementation computes the server's ECDH in [`decode_request_with`].
///
/// Not part of the stable API: it exists so benchmarks and tests can put the two backends side
/// by side. Only the backends compiled in (by cargo feature) exist as variants.
///
/// [`decode_request_with`]: crate::decode_request_with
#[doc(hidden)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum EcdhBackend {
    /// AWS-LC through aws-lc-rs (feature `aws-lc`).
    #[cfg(feature = "aws-lc")]
    AwsLc,
    /// The pure-Rust `p256` crate (feature `pure-rust`).
    #[cfg(feature = "pure-rust")]
    PureRust,
}

impl EcdhBackend {
    /// What [`decode_request`](crate::decode_request) uses: AWS-LC whenever it is compiled in.
    #[cfg(feature = "aws-lc")]
    pub const DEFAULT: Self = Self::AwsLc;
    /// What [`decode_request`](crate::decode_request) uses: AWS-LC whenever it is compiled in.
    #[cfg(not(feature = "aws-lc"))]
    pub const DEFAULT: Self = Self::PureRust;

    /// Every backend compiled in, the default first.
    pub const COMPILED: &'static [Self] = &[
        #[cfg(feature = "aws-lc")]
        Self::AwsLc,
        #[cfg(feature = "pure-rust")]
        Self::PureRust,
    ];

    /// A short name for bench ids: `aws-lc` or `pure-rust`.
    pub const fn name(self) -> &'static str {
        match self {
            #[cfg(feature = "aws-lc")]
            Self::AwsLc => "aws-lc",
            #[cfg(feature = "pure-rust")]
            Self::PureRust => "pure-rust",
        }
    }
}

/// A server's static private key, prepared once for every backend compiled in.
#[derive(Clone)]
pub(crate) struct StaticKey {
    secret: SecretKey,
    // aws-lc-rs keys are not `Clone`; keypairs are cloned with snapshots, so share it.
    #[cfg(feature = "aws-lc")]
    aws_lc: Arc<aws_lc_rs::agreement::PrivateKey>,
}

impl StaticKey {
    /// Prepares `secret` for each backend; `None` if a backend refuses it (a valid P-256
    /// scalar never is refused, but a refusal must not become a panic).
    pub(crate) fn new(secret: SecretKey) -> Option<Self> {
        #[cfg(feature = "aws-lc")]
        let aws_lc = {
            let mut bytes: [u8; 32] = secret.to_bytes().into();
            let key = aws_lc_rs::agreement::PrivateKey::from_private_key(
                &aws_lc_rs::agreement::ECDH_P256,
                &bytes,
            );
            bytes.zeroize();
            Arc::new(key.ok()?)
        };
        Some(Self {
            secret,
            #[cfg(feature = "aws-lc")]
            aws_lc,
        })
    }

    pub(crate) fn secret(&self) -> &SecretKey {
        &self.secret
    }

    /// ECDH with the client's public key in `backend`; `None` if the backend refuses the key.
    pub(crate) fn agree(&self, public: &PublicKey, backend: EcdhBackend) -> Option<AesGcmKey> {
        match backend {
            #[cfg(feature = "aws-lc")]
            EcdhBackend::AwsLc => agree_aws_lc(&self.aws_lc, public),
            #[cfg(feature = "pure-rust")]
            EcdhBackend::PureRust => Some(agree_p256(&self.secret, public)),
        }
    }
}

#[cfg(feature = "aws-lc")]
fn agree_aws_lc(key: &aws_lc_rs::agreement::PrivateKey, public: &PublicKey) -> Option<AesGcmKey> {
    use aws_lc_rs::agreement::{agree, UnparsedPublicKey, ECDH_P256};
    use p256::elliptic_curve::sec1::ToEncodedPoint as _;
    // p256 already parsed and checked the point; hand AWS-LC the plain SEC1 form of it.
    let point = public.to_encoded_point(false);
    agree(
        key,
        UnparsedPublicKey::new(&ECDH_P256, point.as_bytes()),
        (),
        |shared| <[u8; 32]>::try_from(shared).map(aes_key).map_err(|_| ()),
    )
    .ok()
}

/// ECDH in p256: the client's side (always) and the server's with the `pure-rust` backend.
pub(crate) fn agree_p256(secret: &SecretKey, public: &PublicKey) -> AesGcmKey {
    let shared = p256::ecdh::diffie_hellman(secret.to_nonzero_scalar(), public.as_affine());
    aes_key((*shared.raw_secret_bytes()).into())
}

/// The raw 32-byte x-coordinate is the AES key, with no KDF (what WebCrypto's `deriveKey`
/// to AES-GCM does).
fn aes_key(mut raw: [u8; 32]) -> AesGcmKey {
    let key = AesGcmKey::from_bytes(raw);
    raw.zeroize();
    key
}
