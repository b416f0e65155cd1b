//! The TLS connector of the store's connections: rustls on the ring provider, with the
//! certificate check each `sslmode` asks for (libpq's rules).

use std::sync::Arc;

use euid_store::StoreError;
use postgres::{Client, Config, NoTls};
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::WebPkiServerVerifier;
use rustls::crypto::{verify_tls12_signature, verify_tls13_signature, CryptoProvider};
use rustls::pki_types::pem::PemObject as _;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{CertificateError, DigitallySignedStruct, RootCertStore, SignatureScheme};
use tokio_postgres_rustls::MakeRustlsConnect;

use crate::settings::{RootCertificates, TlsMode};

/// How a connection is made: in plain TCP, or through rustls.
#[derive(Clone)]
pub(crate) enum Connector {
    Plain,
    Tls(MakeRustlsConnect),
}

impl std::fmt::Debug for Connector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Plain => "Connector::Plain",
            Self::Tls(_) => "Connector::Tls",
        })
    }
}

impl Connector {
    /// The connector for `mode`; `roots` is where trusted certificates come from (read now,
    /// so a missing file is an error at start-up, not at the first connection).
    pub(crate) fn new(
        mode: TlsMode,
        roots: &RootCertificates,
        location: &str,
    ) -> Result<Self, StoreError> {
        if mode == TlsMode::Disable {
            return Ok(Self::Plain);
        }
        // ring, as in euid-client; rustls 0.23.48 deprecates it only for lacking the
        // post-quantum key exchange (X25519 and P-256 remain).
        #[allow(deprecated)]
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let check = match (mode, roots) {
            (TlsMode::VerifyFull, _) => Check::Full,
            (TlsMode::VerifyCa, _) => Check::Chain,
            // libpq: with a root certificate named, require (and prefer) check the chain.
            (_, RootCertificates::File(_)) => Check::Chain,
            _ => Check::None,
        };
        let verifier: Arc<dyn ServerCertVerifier> = match check {
            Check::None => Arc::new(EncryptOnly(Arc::clone(&provider))),
            Check::Chain | Check::Full => {
                let store = Arc::new(root_store(roots, location)?);
                let webpki =
                    WebPkiServerVerifier::builder_with_provider(store, Arc::clone(&provider))
                        .build()
                        .map_err(|e| StoreError::Settings {
                            message: format!("{location}: the TLS root certificates: {e}"),
                        })?;
                if check == Check::Full {
                    webpki
                } else {
                    Arc::new(ChainOnly(webpki))
                }
            }
        };
        let config = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| StoreError::Settings {
                message: format!("{location}: TLS: {e}"),
            })?
            .dangerous()
            .with_custom_certificate_verifier(verifier)
            .with_no_client_auth();
        Ok(Self::Tls(MakeRustlsConnect::new(config)))
    }

    pub(crate) fn connect(&self, config: &Config) -> Result<Client, postgres::Error> {
        match self {
            Self::Plain => config.connect(NoTls),
            Self::Tls(tls) => config.connect(tls.clone()),
        }
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Check {
    /// Encrypt, trust any certificate (libpq's `require` and `prefer` without a root file).
    None,
    /// The chain up to a trusted root, not the host name (`verify-ca`).
    Chain,
    /// The chain and the host name (`verify-full`).
    Full,
}

fn root_store(roots: &RootCertificates, location: &str) -> Result<RootCertStore, StoreError> {
    let mut store = RootCertStore::empty();
    match roots {
        RootCertificates::Mozilla => {
            for der in webpki_root_certs::TLS_SERVER_ROOT_CERTS {
                // A root webpki cannot use is skipped, as a browser would.
                let _ = store.add(der.clone());
            }
        }
        RootCertificates::File(path) => {
            let shown = path.display();
            let pem = std::fs::read(path).map_err(|e| StoreError::Settings {
                message: format!("{location}: sslrootcert {shown}: {e}"),
            })?;
            for cert in CertificateDer::pem_slice_iter(&pem) {
                let cert = cert.map_err(|e| StoreError::Settings {
                    message: format!("{location}: sslrootcert {shown}: not PEM: {e}"),
                })?;
                store.add(cert).map_err(|e| StoreError::Settings {
                    message: format!("{location}: sslrootcert {shown}: {e}"),
                })?;
            }
            if store.is_empty() {
                return Err(StoreError::Settings {
                    message: format!("{location}: sslrootcert {shown} holds no certificate"),
                });
            }
        }
    }
    Ok(store)
}

/// Any certificate is accepted; the handshake's signatures are still checked against it.
#[derive(Debug)]
struct EncryptOnly(Arc<CryptoProvider>);

impl ServerCertVerifier for EncryptOnly {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

/// The chain must lead to a trusted root; the host name is not compared (`verify-ca`).
#[derive(Debug)]
struct ChainOnly(Arc<WebPkiServerVerifier>);

impl ServerCertVerifier for ChainOnly {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        // webpki checks the chain first: a name mismatch is reported only for a good chain.
        match self
            .0
            .verify_server_cert(end_entity, intermediates, server_name, ocsp_response, now)
        {
            Err(rustls::Error::InvalidCertificate(
                CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. },
            )) => Ok(ServerCertVerified::assertion()),
            other => other,
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.supported_verify_schemes()
    }
}
