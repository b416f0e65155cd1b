//! Every client and outcome against the real operator over HTTP on 127.0.0.1.

use euid_client::transport::{Retry, Transport, TransportConfig};
use euid_client::{
    BidstreamClient, ClientError, DecryptionStatus, EnvelopeRequest, IdentityMapClient,
    IdentityMapInput, IdentityScope, IdentityTokens, IdentityType, PublisherClient, SharingClient,
    TokenGenerateInput, TokenResponse, TokenVersion,
};
use euid_operator::OperatorConfig;
use euid_test_support::{cstg_request, now_ms, TestServer, INSUFFICIENT_TCF, SUFFICIENT_TCF};

fn publisher(server: &TestServer) -> PublisherClient {
    let (url, key, secret) = server.creds();
    PublisherClient::new(&url, &key, &secret).unwrap()
}

fn generate(client: &PublisherClient, input: TokenGenerateInput) -> TokenResponse {
    client
        .generate_token(&input.with_transparency_and_consent_string(SUFFICIENT_TCF))
        .unwrap()
}

/// The raw UID the operator maps `email` to.
fn mapped_email(server: &TestServer, email: &str) -> String {
    let (url, key, secret) = server.creds();
    let map = IdentityMapClient::new(&url, &key, &secret).unwrap();
    let out = map
        .generate_identity_map(&IdentityMapInput::from_emails(&[email]).unwrap())
        .unwrap();
    out.mapped[email].raw_uid.clone()
}

#[test]
fn generate_from_every_input_kind_then_refresh_and_decrypt_as_a_bidder() {
    let server = TestServer::start(OperatorConfig::default());
    let client = publisher(&server);
    let (url, key, secret) = server.creds();
    let bidder = BidstreamClient::new(&url, &key, &secret).unwrap();
    assert_eq!(
        bidder
            .decrypt_token_into_raw_uid("E4AAAAAAAAAAAAAAAA", None)
            .status,
        DecryptionStatus::NotInitialized
    );
    bidder.refresh().unwrap();
    let keys = bidder.keys().unwrap();
    assert_eq!(keys.identity_scope, IdentityScope::Euid);
    assert_eq!(keys.max_bidstream_lifetime_seconds, Some(259_210));

    let email_hash = euid_normalize::hash_email("User@Example.com")
        .unwrap()
        .to_base64();
    let phone_hash = euid_normalize::hash_phone("+15551234567")
        .unwrap()
        .to_base64();
    let cases = [
        (
            TokenGenerateInput::from_email("User@Example.com"),
            IdentityType::Email,
        ),
        (
            TokenGenerateInput::from_email("user@example.com").do_not_hash(),
            IdentityType::Email,
        ),
        (
            TokenGenerateInput::from_hashed_email(email_hash),
            IdentityType::Email,
        ),
        (
            TokenGenerateInput::from_phone("+15551234567"),
            IdentityType::Phone,
        ),
        (
            TokenGenerateInput::from_phone("+15551234567").do_not_hash(),
            IdentityType::Phone,
        ),
        (
            TokenGenerateInput::from_hashed_phone(phone_hash),
            IdentityType::Phone,
        ),
    ];
    let expected_email_uid = mapped_email(&server, "user@example.com");
    let mut phone_uids = Vec::new();
    for (input, identity_type) in cases {
        let label = format!("{input:?}");
        let identity = generate(&client, input).identity().cloned().expect(&label);
        let now = now_ms();
        assert!(
            !identity.is_due_for_refresh(now) && identity.is_refreshable(now),
            "{label}"
        );
        assert!(!identity.has_identity_expired(now), "{label}");
        // Milliseconds: an hour or more ahead, not a thousand times further.
        assert!(identity.identity_expires > now + 3_600_000, "{label}");
        assert!(identity.refresh_expires < now + 400 * 86_400_000, "{label}");

        let out =
            bidder.decrypt_token_into_raw_uid(&identity.advertising_token, Some("example.com"));
        assert_eq!(out.status, DecryptionStatus::Success, "{label}");
        assert_eq!(out.identity_type, Some(identity_type), "{label}");
        assert_eq!(out.identity_scope, Some(IdentityScope::Euid), "{label}");
        assert_eq!(
            out.advertising_token_version,
            Some(TokenVersion::V4),
            "{label}"
        );
        assert_eq!(out.site_id, Some(server.demo.site_id), "{label}");
        assert_eq!(out.is_client_side_generated, Some(false), "{label}");
        let uid = out.uid.unwrap();
        match identity_type {
            IdentityType::Email => assert_eq!(uid, expected_email_uid, "{label}"),
            _ => phone_uids.push(uid.clone()),
        }

        // The browser SDK's JSON round-trips, and refreshing gives a new, decryptable identity.
        let stored = IdentityTokens::from_json_str(&identity.to_json_string()).unwrap();
        assert_eq!(stored, identity);
        let refreshed = client.refresh_token(&stored).unwrap();
        let refreshed = refreshed.identity().expect(&label);
        assert_ne!(refreshed.refresh_token, identity.refresh_token);
        let again = bidder.decrypt_token_into_raw_uid(&refreshed.advertising_token, None);
        assert_eq!(again.uid.as_deref(), Some(uid.as_str()), "{label}");
        assert_eq!(again.status, DecryptionStatus::Success, "{label}");
    }
    assert!(
        phone_uids.windows(2).all(|w| w[0] == w[1]),
        "hashing on the client changed the phone's raw UID"
    );
}

#[test]
fn optout_and_insufficient_consent_outcomes() {
    let config = OperatorConfig::from_json(br#"{"optout_check_on_generate":true}"#).unwrap();
    let server = TestServer::start(config);
    let client = publisher(&server);
    assert_eq!(
        generate(
            &client,
            TokenGenerateInput::from_email("optout@example.com")
        ),
        TokenResponse::OptOut
    );
    assert_eq!(
        generate(
            &client,
            TokenGenerateInput::from_phone("+00000000000").do_not_hash()
        ),
        TokenResponse::OptOut
    );
    let insufficient = client
        .generate_token(
            &TokenGenerateInput::from_email("someone@example.com")
                .with_transparency_and_consent_string(INSUFFICIENT_TCF),
        )
        .unwrap();
    assert_eq!(insufficient, TokenResponse::InsufficientUserConsent);

    // A refresh-optout test identity gets tokens, then opts out on refresh.
    let identity = generate(
        &client,
        TokenGenerateInput::from_email("refresh-optout@example.com"),
    )
    .identity()
    .cloned()
    .unwrap();
    assert_eq!(
        client.refresh_token(&identity).unwrap(),
        TokenResponse::OptOut
    );

    // No consent string at all is a protocol error: HTTP 400, typed.
    let err = client
        .generate_token(&TokenGenerateInput::from_email("someone@example.com"))
        .unwrap_err();
    assert!(
        matches!(err, ClientError::HttpStatus { status: 400, .. }),
        "{err:?}"
    );
}

#[test]
fn refresh_of_a_bad_token_is_a_typed_http_error() {
    let server = TestServer::start(OperatorConfig::default());
    let client = publisher(&server);
    let identity = generate(&client, TokenGenerateInput::from_email("a@example.com"))
        .identity()
        .cloned()
        .unwrap();
    let mut forged = identity.clone();
    forged.refresh_token.replace_range(100..104, "AAAA");
    let err = client.refresh_token(&forged).unwrap_err();
    assert!(
        matches!(err, ClientError::HttpStatus { status: 400, .. }),
        "{err:?}"
    );
    // A refresh answer opened with the wrong key is an envelope error, not a panic.
    let mut wrong_key = identity;
    wrong_key.refresh_response_key = "P941vVeuyjaDRVnFQ8DPd0AZnW4bPeiJPXER2K9QXcU=".to_owned();
    let err = client.refresh_token(&wrong_key).unwrap_err();
    assert!(matches!(err, ClientError::Envelope(_)), "{err:?}");
}

#[test]
fn sharing_encrypts_and_decrypts_and_the_bidstream_limit_applies() {
    let server = TestServer::start(OperatorConfig::default());
    let (url, key, secret) = server.creds();
    let sharer = SharingClient::new(&url, &key, &secret).unwrap();
    assert!(matches!(
        sharer.encrypt_raw_uid_into_token("EKCoNGWPYng/whjBIwANJHKvvGlGyzARtDIAk95FlJyb"),
        Err(ClientError::Encryption(
            euid_client::EncryptionError::NotInitialized
        ))
    ));
    sharer.refresh().unwrap();
    let raw_uid = mapped_email(&server, "share@example.com");
    let token = sharer.encrypt_raw_uid_into_token(&raw_uid).unwrap();
    assert!(token.starts_with("E4"), "{token}");
    let out = sharer.decrypt_token_into_raw_uid(&token);
    assert_eq!(out.status, DecryptionStatus::Success);
    assert_eq!(out.uid.as_deref(), Some(raw_uid.as_str()));
    assert_eq!(out.site_id, Some(server.demo.site_id));

    // A 30-day sharing token is longer-lived than a bidstream token may be.
    let bidder = BidstreamClient::new(&url, &key, &secret).unwrap();
    bidder.refresh().unwrap();
    assert_eq!(
        bidder.decrypt_token_into_raw_uid(&token, None).status,
        DecryptionStatus::InvalidTokenLifetime
    );
    assert!(matches!(
        sharer.encrypt_raw_uid_into_token("not a raw uid"),
        Err(ClientError::Encryption(
            euid_client::EncryptionError::InvalidRawUid
        ))
    ));
}

#[test]
fn identity_map_and_optout_status() {
    let server = TestServer::start(OperatorConfig::default());
    let (url, key, secret) = server.creds();
    let map = IdentityMapClient::new(&url, &key, &secret).unwrap();

    let gone_uid = mapped_email(&server, "gone@example.com");
    // Opt one identity out through /v2/token/logout, with the public sans-IO pieces.
    let transport = Transport::new(&url, &key, TransportConfig::default()).unwrap();
    let secret_parsed = euid_client::ClientSecret::from_base64(&secret).unwrap();
    let mut rng = euid_crypto::BatchedOsRandom::new();
    let request = EnvelopeRequest::seal(
        &secret_parsed,
        "/v2/token/logout",
        br#"{"email":"gone@example.com"}"#,
        now_ms(),
        &mut rng,
    );
    let answer = transport
        .post(request.path, &request.body, Retry::Once)
        .unwrap();
    let answer = request
        .open(&secret_parsed, answer.status, &answer.body)
        .unwrap();
    assert_eq!(answer.status, "success");

    let emails = ["kept@example.com", "Gone@Example.com", "optout@example.com"];
    let out = map
        .generate_identity_map(&IdentityMapInput::from_emails(&emails).unwrap())
        .unwrap();
    assert_eq!(out.mapped.len(), 1, "{out:?}");
    let kept = &out.mapped["kept@example.com"];
    // The operator's default (`identity_v3` off, as live): 32-byte v2 raw UIDs.
    let raw_len = |b64: &str| {
        base64::Engine::decode(&base64::engine::general_purpose::STANDARD, b64)
            .unwrap()
            .len()
    };
    assert!(raw_len(&kept.raw_uid) == 32 && !kept.bucket_id.is_empty());
    assert_eq!(out.unmapped["Gone@Example.com"].reason, "optout");
    assert_eq!(out.unmapped["optout@example.com"].reason, "optout");

    let phones = map
        .generate_identity_map(&IdentityMapInput::from_phones(&["+15551234567"]).unwrap())
        .unwrap();
    assert_eq!(raw_len(&phones.mapped["+15551234567"].raw_uid), 32);
    let hashes = [euid_normalize::hash_email("kept@example.com")
        .unwrap()
        .to_base64()];
    let by_hash = map
        .generate_identity_map(&IdentityMapInput::from_hashed_emails(&hashes).unwrap())
        .unwrap();
    assert_eq!(by_hash.mapped[&hashes[0]].raw_uid, kept.raw_uid);

    let status = map
        .optout_status(&[gone_uid.as_str(), kept.raw_uid.as_str()])
        .unwrap();
    assert_eq!(status.len(), 1, "{status:?}");
    let since = status[&gone_uid];
    assert!((now_ms() - 60_000..=now_ms()).contains(&since), "{since}");
}

#[test]
fn background_refresh_fetches_at_once_and_stops_on_drop() {
    let server = TestServer::start(OperatorConfig::default());
    let (url, key, secret) = server.creds();
    let client = PublisherClient::new(&url, &key, &secret).unwrap();
    let identity = generate(&client, TokenGenerateInput::from_email("bg@example.com"))
        .identity()
        .cloned()
        .unwrap();
    let bidder = std::sync::Arc::new(BidstreamClient::new(&url, &key, &secret).unwrap());
    let refresher = bidder.start_background_refresh(std::time::Duration::from_secs(3600));
    assert!(refresher.is_running());
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while bidder.keys().is_none() {
        assert!(std::time::Instant::now() < deadline, "no keys fetched");
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    assert_eq!(refresher.last_error(), None);
    let out = bidder.decrypt_token_into_raw_uid(&identity.advertising_token, None);
    assert_eq!(out.status, DecryptionStatus::Success);
    // Dropping stops the thread without waiting out the hour. The minute is a hang
    // detector, not a speed limit: a drop that waited for the next refresh would take 3,600 s.
    let (done, stopped) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        drop(refresher);
        let _ = done.send(());
    });
    stopped
        .recv_timeout(std::time::Duration::from_secs(60))
        .expect("dropping the refresher stops its thread");
}

/// A client-side generated token for `email`, made as the browser SDK makes it from `origin`.
fn client_side_token(server: &TestServer, email: &str, origin: &str) -> String {
    let hash = euid_normalize::hash_email(email).unwrap().to_base64();
    let request = cstg_request(
        &server.demo,
        euid_cstg::ClientIdentity::EmailHash(&hash),
        None,
    );
    let mut response = ureq::post(format!("{}/v2/token/client-generate", server.url()))
        .header("Origin", origin)
        .header("Content-Type", "text/plain;charset=UTF-8")
        .send(request.body.as_bytes())
        .unwrap();
    let body = response.body_mut().read_to_string().unwrap();
    let json = request.session.open_response(&body).unwrap();
    let json: serde_json::Value = serde_json::from_slice(&json).unwrap();
    assert_eq!(json["status"], "success", "{json}");
    json["body"]["advertising_token"]
        .as_str()
        .unwrap()
        .to_owned()
}

#[test]
fn key_answers_carry_site_data_and_bidders_check_client_side_tokens_against_it() {
    let server = TestServer::start(OperatorConfig::default());
    let (url, key, secret) = server.creds();

    // The raw key answers: the demo site's keypair names, sorted, as the live operator's shape.
    let transport = Transport::new(&url, &key, TransportConfig::default()).unwrap();
    let secret_parsed = euid_client::ClientSecret::from_base64(&secret).unwrap();
    let mut rng = euid_crypto::BatchedOsRandom::new();
    for path in ["/v2/key/bidstream", "/v2/key/sharing"] {
        let request = EnvelopeRequest::seal(&secret_parsed, path, b"", now_ms(), &mut rng);
        let answer = transport
            .post(path, &request.body, Retry::Idempotent)
            .unwrap();
        let body = request
            .open(&secret_parsed, answer.status, &answer.body)
            .unwrap()
            .into_success_body()
            .unwrap();
        assert_eq!(
            body["site_data"],
            serde_json::json!([{"id": server.demo.site_id, "domain_names": ["127.0.0.1", "localhost"]}]),
            "{path}"
        );
    }

    let bidder = BidstreamClient::new(&url, &key, &secret).unwrap();
    bidder.refresh().unwrap();
    let token = client_side_token(&server, "cstg@example.com", "http://localhost:5173");
    let ok = bidder.decrypt_token_into_raw_uid(&token, Some("localhost"));
    assert_eq!(ok.status, DecryptionStatus::Success);
    assert_eq!(ok.is_client_side_generated, Some(true));
    assert_eq!(
        ok.uid.as_deref(),
        Some(mapped_email(&server, "cstg@example.com").as_str())
    );
    assert_eq!(
        bidder
            .decrypt_token_into_raw_uid(&token, Some("LocalHost"))
            .status,
        DecryptionStatus::Success
    );
    for name in [Some("evil.example"), Some("sub.localhost"), None] {
        assert_eq!(
            bidder.decrypt_token_into_raw_uid(&token, name).status,
            DecryptionStatus::DomainOrAppNameCheckFailed,
            "{name:?}"
        );
    }

    // Sharers do not check names; server-side tokens are never checked.
    let sharer = SharingClient::new(&url, &key, &secret).unwrap();
    sharer.refresh().unwrap();
    assert_eq!(
        sharer.decrypt_token_into_raw_uid(&token).status,
        DecryptionStatus::Success
    );
    let server_side = generate(
        &publisher(&server),
        TokenGenerateInput::from_email("s@example.com"),
    )
    .identity()
    .cloned()
    .unwrap();
    let out =
        bidder.decrypt_token_into_raw_uid(&server_side.advertising_token, Some("evil.example"));
    assert_eq!(out.status, DecryptionStatus::Success);
    assert_eq!(out.is_client_side_generated, Some(false));
}

#[test]
fn async_clients_against_the_operator() {
    use euid_client::{
        AsyncBidstreamClient, AsyncIdentityMapClient, AsyncPublisherClient, AsyncSharingClient,
    };
    let server = TestServer::start(OperatorConfig::default());
    let (url, key, secret) = server.creds();
    let expected_uid = mapped_email(&server, "async@example.com");
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let publisher = AsyncPublisherClient::new(&url, &key, &secret).unwrap();
        let input = TokenGenerateInput::from_email("async@example.com")
            .with_transparency_and_consent_string(SUFFICIENT_TCF);
        let identity = publisher
            .generate_token(&input)
            .await
            .unwrap()
            .identity()
            .cloned()
            .unwrap();
        let refreshed = publisher.refresh_token(&identity).await.unwrap();
        let refreshed = refreshed.identity().unwrap();
        let insufficient = publisher
            .generate_token(
                &TokenGenerateInput::from_email("async@example.com")
                    .with_transparency_and_consent_string(INSUFFICIENT_TCF),
            )
            .await
            .unwrap();
        assert_eq!(insufficient, TokenResponse::InsufficientUserConsent);

        let bidder = std::sync::Arc::new(AsyncBidstreamClient::new(&url, &key, &secret).unwrap());
        let refresher = bidder.start_background_refresh(std::time::Duration::from_secs(3600));
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while bidder.keys().is_none() {
            assert!(std::time::Instant::now() < deadline, "no keys fetched");
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
        assert_eq!(refresher.last_error(), None);
        drop(refresher);
        for token in [&identity.advertising_token, &refreshed.advertising_token] {
            let out = bidder.decrypt_token_into_raw_uid(token, None);
            assert_eq!(out.status, DecryptionStatus::Success);
            assert_eq!(out.uid.as_deref(), Some(expected_uid.as_str()));
        }

        let sharer = AsyncSharingClient::new(&url, &key, &secret).unwrap();
        sharer.refresh().await.unwrap();
        let shared = sharer
            .encrypt_raw_uid_into_token(&expected_uid, None)
            .unwrap();
        let out = sharer.decrypt_token_into_raw_uid(&shared);
        assert_eq!(out.uid.as_deref(), Some(expected_uid.as_str()));

        let map = AsyncIdentityMapClient::new(&url, &key, &secret).unwrap();
        let out = map
            .generate_identity_map(
                &IdentityMapInput::from_emails(&["async@example.com", "optout@example.com"])
                    .unwrap(),
            )
            .await
            .unwrap();
        assert_eq!(out.mapped["async@example.com"].raw_uid, expected_uid);
        assert_eq!(out.unmapped["optout@example.com"].reason, "optout");
        let status = map.optout_status(&[expected_uid.as_str()]).await.unwrap();
        assert!(status.is_empty());
    });
}

#[test]
fn identity_map_v3_against_the_operator() {
    use euid_client::{IdentityMapV3Input, IdentityMapV3Outcome, UnmappedReason};
    let server = TestServer::start(OperatorConfig::default());
    let (url, key, secret) = server.creds();
    let map = IdentityMapClient::new(&url, &key, &secret).unwrap();
    let v2_uid = mapped_email(&server, "mapped@example.com");
    let hash = euid_normalize::hash_email("mapped@example.com")
        .unwrap()
        .to_base64();

    // More than one request's worth (5,000), so the batches go to the real server in order.
    let mut input = IdentityMapV3Input::new()
        .with_email("mapped@example.com")
        .unwrap()
        .with_email("optout@example.com")
        .unwrap()
        .with_phone("+15551234567")
        .unwrap()
        .with_hashed_email(&hash)
        .unwrap();
    for i in 0..5_200 {
        input.push_email(&format!("user{i}@example.com")).unwrap();
    }
    let results = map.generate_identity_map_v3(input).unwrap();
    assert_eq!(results.len(), 5_204);
    let now_s = now_ms() / 1000;
    let by_input: std::collections::HashMap<&str, &IdentityMapV3Outcome> = results
        .iter()
        .map(|r| (r.input.as_str(), &r.outcome))
        .collect();
    let mapped = |input: &str| match by_input[input] {
        IdentityMapV3Outcome::Mapped {
            current_raw_uid,
            previous_raw_uid,
            refresh_from_s,
        } => {
            assert_eq!(*previous_raw_uid, None, "no rotation yet");
            assert!(*refresh_from_s > now_s, "{refresh_from_s}");
            current_raw_uid.clone()
        }
        other => panic!("{input}: {other:?}"),
    };
    assert_eq!(mapped("mapped@example.com"), v2_uid, "v3 and v2 maps agree");
    assert_eq!(mapped(&hash), v2_uid, "the hash maps like the email");
    assert_eq!(
        *by_input["optout@example.com"],
        IdentityMapV3Outcome::Unmapped(UnmappedReason::OptOut)
    );
    let raw_len = |b64: &str| {
        base64::Engine::decode(&base64::engine::general_purpose::STANDARD, b64)
            .unwrap()
            .len()
    };
    assert_eq!(raw_len(&mapped("+15551234567")), 32);
    // Emails keep their input order across the batches.
    let users: Vec<&str> = results
        .iter()
        .map(|r| r.input.as_str())
        .filter(|i| i.starts_with("user"))
        .collect();
    let expected: Vec<String> = (0..5_200).map(|i| format!("user{i}@example.com")).collect();
    assert_eq!(users, expected);
    for user in &users {
        assert_eq!(raw_len(&mapped(user)), 32);
    }
    assert_eq!(
        mapped("user4321@example.com"),
        mapped_email(&server, "user4321@example.com")
    );
}
