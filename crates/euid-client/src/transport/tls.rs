//! TLS for both transports (feature `tls`): rustls on the ring provider, trusting the Mozilla
//! roots (webpki-root-certs, compiled in: the same trust on every machine and in a bare
//! container) plus the config's extra roots; and rustls' errors as [`TransportError`]s.

use std::sync::Arc;

use rustls::crypto::CryptoProvider;
use rustls::pki_types::CertificateDer;
use rustls::{CertificateError, RootCertStore};

use super::{CertificateProblem, RootCertificate, TransportError};

/// ring, named explicitly: rustls picks no provider from features alone, and aws-lc-rs is
/// never built.
pub(super) fn provider() -> Arc<CryptoProvider> {
    // rustls 0.23.48 deprecates it because ring has no post-quantum key exchange
    // (X25519MLKEM768); X25519 and P-256 remain. aws-lc-rs has it, at about a minute more of
    // build (cmake and C) for every user: ring is the cheaper default here.
    #[allow(deprecated)]
    Arc::new(rustls::crypto::ring::default_provider())
}

/// Checks that rustls can use each extra root as a trust anchor, so a bad one fails when the
/// transport is built rather than on the first call.
#[cfg(any(feature = "blocking", test))]
pub(super) fn check_extra_roots(extra: &[RootCertificate]) -> Result<(), TransportError> {
    add_extra_roots(&mut RootCertStore::empty(), extra)
}

fn add_extra_roots(
    roots: &mut RootCertStore,
    extra: &[RootCertificate],
) -> Result<(), TransportError> {
    for cert in extra {
        roots
            .add(CertificateDer::from(cert.der().to_vec()))
            .map_err(|_| {
                TransportError::RootCertificate("rustls cannot use an extra root certificate")
            })?;
    }
    Ok(())
}

/// The rustls client configuration of the async transport for `base` (named in errors).
#[cfg(feature = "tokio")]
pub(super) fn client_config(
    base: &str,
    extra: &[RootCertificate],
) -> Result<Arc<rustls::ClientConfig>, TransportError> {
    let mut roots = RootCertStore::empty();
    roots.add_parsable_certificates(webpki_root_certs::TLS_SERVER_ROOT_CERTS.iter().cloned());
    add_extra_roots(&mut roots, extra)?;
    let config = rustls::ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .map_err(|e| error(base, &e))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(Arc::new(config))
}

/// The same trust for ureq, which takes roots as certificates.
#[cfg(feature = "blocking")]
pub(super) fn ureq_config(
    extra: &[RootCertificate],
) -> Result<ureq::tls::TlsConfig, TransportError> {
    use ureq::tls::{Certificate, RootCerts, TlsConfig, TlsProvider};
    check_extra_roots(extra)?;
    let roots: Vec<Certificate<'static>> = webpki_root_certs::TLS_SERVER_ROOT_CERTS
        .iter()
        .map(|c| Certificate::from_der(c))
        .chain(
            extra
                .iter()
                .map(|c| Certificate::from_der(c.der()).to_owned()),
        )
        .collect();
    Ok(TlsConfig::builder()
        .provider(TlsProvider::Rustls)
        .root_certs(RootCerts::new_with_certs(&roots))
        .unversioned_rustls_crypto_provider(provider())
        .build())
}

/// A rustls failure as a typed error: a refused certificate, or another handshake failure.
pub(super) fn error(url: &str, err: &rustls::Error) -> TransportError {
    match err {
        rustls::Error::InvalidCertificate(e) => TransportError::Certificate {
            url: url.to_owned(),
            problem: problem(e),
        },
        other => TransportError::Tls {
            url: url.to_owned(),
            reason: other.to_string(),
        },
    }
}

fn problem(e: &CertificateError) -> CertificateProblem {
    match e {
        CertificateError::UnknownIssuer => CertificateProblem::UnknownIssuer,
        CertificateError::BadSignature => CertificateProblem::BadSignature,
        CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. } => {
            CertificateProblem::NotValidForName
        }
        CertificateError::Expired | CertificateError::ExpiredContext { .. } => {
            CertificateProblem::Expired
        }
        CertificateError::NotValidYet | CertificateError::NotValidYetContext { .. } => {
            CertificateProblem::NotValidYet
        }
        CertificateError::Revoked => CertificateProblem::Revoked,
        other => CertificateProblem::Other(other.to_string()),
    }
}

/// The rustls error an I/O error carries (rustls reports handshake failures through
/// `std::io::Error`), if any.
pub(super) fn rustls_error(io: &std::io::Error) -> Option<&rustls::Error> {
    io.get_ref()?.downcast_ref::<rustls::Error>()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bad_extra_roots_are_refused_and_problems_are_typed() {
        assert!(matches!(
            check_extra_roots(&[RootCertificate::from_der(vec![1, 2, 3])]),
            Err(TransportError::RootCertificate(_))
        ));
        assert!(check_extra_roots(&[]).is_ok());
        let refused = error(
            "https://x/v2/key/sharing",
            &rustls::Error::InvalidCertificate(CertificateError::UnknownIssuer),
        );
        assert_eq!(
            refused,
            TransportError::Certificate {
                url: "https://x/v2/key/sharing".to_owned(),
                problem: CertificateProblem::UnknownIssuer
            }
        );
        assert!(matches!(
            error("u", &rustls::Error::HandshakeNotComplete),
            TransportError::Tls { .. }
        ));
        let io = std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            rustls::Error::InvalidCertificate(CertificateError::Expired),
        );
        assert!(rustls_error(&io).is_some());
        assert!(rustls_error(&std::io::Error::other("plain")).is_none());
    }
}
