//! HTTPS for both transports on 127.0.0.1: a self-signed certificate made here (rcgen), a small
//! TLS terminator (tokio-rustls) in front of the real in-process operator, and the clients
//! calling generate, refresh, keys and identity map through it; an untrusted certificate and
//! a certificate for another name fail with typed errors, once (never retried).
#![cfg(all(feature = "tls", feature = "blocking", feature = "tokio"))]

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use euid_client::transport::{
    CertificateProblem, RootCertificate, Transport, TransportConfig, TransportError,
};
use euid_client::{
    AsyncBidstreamClient, AsyncPublisherClient, AsyncSharingClient, BidstreamClient, ClientError,
    DecryptionStatus, IdentityMapClient, IdentityMapInput, PublisherClient, SharingClient,
    TokenGenerateInput,
};
use euid_operator::OperatorConfig;
use euid_test_support::{TestServer, SUFFICIENT_TCF};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};

/// A certificate and its key, made for `names` (IP addresses become IP SANs).
struct TestCert {
    der: CertificateDer<'static>,
    pem: String,
    key: Vec<u8>,
}

fn self_signed(names: &[&str]) -> TestCert {
    let names: Vec<String> = names.iter().map(|n| (*n).to_owned()).collect();
    let made = rcgen::generate_simple_self_signed(names).unwrap();
    TestCert {
        der: made.cert.der().clone(),
        pem: made.cert.pem(),
        key: made.signing_key.serialize_der(),
    }
}

/// A TLS terminator on 127.0.0.1 in front of the operator, on the operator's runtime: each
/// connection is accepted with `cert`, then its bytes are copied to and from the operator.
/// Counts the TCP connections it accepted.
struct Terminator {
    addr: SocketAddr,
    connections: Arc<AtomicUsize>,
}

fn terminator(server: &TestServer, cert: &TestCert) -> Terminator {
    #[allow(deprecated)] // ring: see euid-client's transport/tls.rs
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(
            vec![cert.der.clone()],
            PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(cert.key.clone())),
        )
        .unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let addr = listener.local_addr().unwrap();
    let operator = server.addr;
    let connections = Arc::new(AtomicUsize::new(0));
    let counted = connections.clone();
    let _runtime = server.runtime.enter();
    let listener = tokio::net::TcpListener::from_std(listener).unwrap();
    server.runtime.spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            counted.fetch_add(1, Ordering::SeqCst);
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                // A refused handshake ends here: the client reports why.
                let Ok(mut tls) = acceptor.accept(tcp).await else {
                    return;
                };
                let Ok(mut upstream) = tokio::net::TcpStream::connect(operator).await else {
                    return;
                };
                let _ = tokio::io::copy_bidirectional(&mut tls, &mut upstream).await;
            });
        }
    });
    Terminator { addr, connections }
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

fn trusting(cert: &TestCert) -> TransportConfig {
    TransportConfig {
        timeout: Duration::from_secs(10),
        initial_backoff: Duration::from_millis(10),
        max_backoff: Duration::from_millis(20),
        ..TransportConfig::default()
    }
    .with_root_certificate_pem(cert.pem.as_bytes())
    .unwrap()
}

fn generate_input() -> TokenGenerateInput {
    TokenGenerateInput::from_email("tls@example.com")
        .with_transparency_and_consent_string(SUFFICIENT_TCF)
}

#[test]
fn blocking_clients_work_over_https() {
    let server = TestServer::start(OperatorConfig::default());
    let cert = self_signed(&["127.0.0.1", "localhost"]);
    let tls = terminator(&server, &cert);
    let (_, key, secret) = server.creds();
    let url = format!("https://{}", tls.addr);
    let config = trusting(&cert);

    let publisher = PublisherClient::with_config(&url, &key, &secret, config.clone()).unwrap();
    let identity = publisher
        .generate_token(&generate_input())
        .unwrap()
        .identity()
        .cloned()
        .expect("tokens");
    let refreshed = publisher.refresh_token(&identity).unwrap();
    assert!(refreshed.identity().is_some());

    let bidder = BidstreamClient::with_config(&url, &key, &secret, config.clone()).unwrap();
    bidder.refresh().unwrap();
    let out = bidder.decrypt_token_into_raw_uid(&identity.advertising_token, None);
    assert_eq!(out.status, DecryptionStatus::Success);

    let sharer = SharingClient::with_config(&url, &key, &secret, config.clone()).unwrap();
    sharer.refresh().unwrap();
    let raw_uid = out.uid.unwrap();
    let token = sharer.encrypt_raw_uid_into_token(&raw_uid).unwrap();
    assert_eq!(
        sharer.decrypt_token_into_raw_uid(&token).uid.as_deref(),
        Some(raw_uid.as_str())
    );

    let map = IdentityMapClient::with_config(&url, &key, &secret, config).unwrap();
    let mapped = map
        .generate_identity_map(&IdentityMapInput::from_emails(&["tls@example.com"]).unwrap())
        .unwrap();
    assert_eq!(mapped.mapped["tls@example.com"].raw_uid, raw_uid);
    // Every client crossed the terminator (ureq keeps one agent's connection alive).
    assert!(tls.connections.load(Ordering::SeqCst) >= 4);
}

#[test]
fn async_clients_work_over_https() {
    let server = TestServer::start(OperatorConfig::default());
    let cert = self_signed(&["127.0.0.1"]);
    let tls = terminator(&server, &cert);
    let (_, key, secret) = server.creds();
    let url = format!("https://{}", tls.addr);
    let config = trusting(&cert);
    let runtime = runtime();
    runtime.block_on(async {
        let publisher =
            AsyncPublisherClient::with_config(&url, &key, &secret, config.clone()).unwrap();
        let identity = publisher
            .generate_token(&generate_input())
            .await
            .unwrap()
            .identity()
            .cloned()
            .expect("tokens");
        let refreshed = publisher.refresh_token(&identity).await.unwrap();
        assert!(refreshed.identity().is_some());

        let bidder =
            AsyncBidstreamClient::with_config(&url, &key, &secret, config.clone()).unwrap();
        bidder.refresh().await.unwrap();
        let out = bidder.decrypt_token_into_raw_uid(&identity.advertising_token, None);
        assert_eq!(out.status, DecryptionStatus::Success);

        let sharer = AsyncSharingClient::with_config(&url, &key, &secret, config).unwrap();
        sharer.refresh().await.unwrap();
        assert!(sharer.keys().is_some());
    });
    assert!(tls.connections.load(Ordering::SeqCst) >= 4);
}

/// The error of a key fetch (an idempotent, retried call) from both transports.
fn key_fetch_errors(
    url: &str,
    key: &str,
    secret: &str,
    config: &TransportConfig,
) -> [ClientError; 2] {
    let blocking = BidstreamClient::with_config(url, key, secret, config.clone())
        .unwrap()
        .refresh()
        .unwrap_err();
    let runtime = runtime();
    let asynchronous = runtime.block_on(async {
        AsyncBidstreamClient::with_config(url, key, secret, config.clone())
            .unwrap()
            .refresh()
            .await
            .unwrap_err()
    });
    [blocking, asynchronous]
}

fn assert_refused(err: &ClientError, expected: &CertificateProblem) {
    match err {
        ClientError::Transport(TransportError::Certificate { url, problem }) => {
            assert_eq!(problem, expected);
            assert!(url.ends_with("/v2/key/bidstream"), "{url}");
            assert!(err.to_string().contains("certificate was refused"), "{err}");
        }
        other => panic!("expected a refused certificate, got {other:?}"),
    }
}

#[test]
fn an_untrusted_certificate_is_refused_once_with_a_typed_error() {
    let server = TestServer::start(OperatorConfig::default());
    let cert = self_signed(&["127.0.0.1"]);
    let tls = terminator(&server, &cert);
    let (_, key, secret) = server.creds();
    let url = format!("https://{}", tls.addr);
    // The Mozilla roots only: the self-signed certificate chains to none of them.
    let config = TransportConfig {
        max_retries: 3,
        ..trusting(&cert)
    };
    let config = TransportConfig {
        extra_root_certificates: Vec::new(),
        ..config
    };
    for err in key_fetch_errors(&url, &key, &secret, &config) {
        assert_refused(&err, &CertificateProblem::UnknownIssuer);
    }
    // One connection per transport: a refused certificate is not retried.
    assert_eq!(tls.connections.load(Ordering::SeqCst), 2);

    // Trusting another self-signed certificate of the same subject name but another key
    // does not help either.
    let other = self_signed(&["127.0.0.1"]);
    for err in key_fetch_errors(&url, &key, &secret, &trusting(&other)) {
        assert_refused(&err, &CertificateProblem::BadSignature);
    }
}

#[test]
fn a_certificate_for_another_name_is_refused() {
    let server = TestServer::start(OperatorConfig::default());
    let cert = self_signed(&["operator.example"]);
    let tls = terminator(&server, &cert);
    let (_, key, secret) = server.creds();
    let url = format!("https://{}", tls.addr);
    for err in key_fetch_errors(&url, &key, &secret, &trusting(&cert)) {
        assert_refused(&err, &CertificateProblem::NotValidForName);
    }
    assert_eq!(tls.connections.load(Ordering::SeqCst), 2);
}

#[test]
fn an_unusable_extra_root_is_refused_when_the_client_is_built() {
    let config = TransportConfig {
        extra_root_certificates: vec![RootCertificate::from_der(b"not a certificate".to_vec())],
        ..TransportConfig::default()
    };
    let blocking = Transport::new("https://127.0.0.1:1", "k", config.clone()).unwrap_err();
    let asynchronous =
        euid_client::transport::AsyncTransport::new("https://127.0.0.1:1", "k", config)
            .unwrap_err();
    for err in [blocking, asynchronous] {
        assert!(
            matches!(
                err,
                ClientError::Transport(TransportError::RootCertificate(_))
            ),
            "{err:?}"
        );
    }
}
