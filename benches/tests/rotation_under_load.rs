//! Key rotation under generate + refresh load, through the load driver's library entry point:
//! a real operator on 127.0.0.1, bounded in requests and time.

use euid_benches::load::{run_rotation, LoadArgs};

#[test]
fn keys_rotate_under_load_without_a_failed_request() {
    let args = LoadArgs {
        requests: 3000,
        seconds: 10,
        connections: 4,
        server_threads: 2,
        client_threads: 1,
        rotate_after_seconds: Some(1),
    };
    let report = run_rotation(&args).expect("the rotation run completes");
    println!("{report}");
    assert!(report.requests > 0, "{report}");
    assert_eq!(report.errors, 0, "{report}");
    assert!(report.requests_after_rotation > 0, "{report}");
    // The operator picked the new master key up while the load was still running: some
    // tokens generated under load carry it.
    assert!(report.sampled > 0, "{report}");
    assert!(report.sampled_under_new_master > 0, "{report}");
    assert_ne!(
        report.new_master_key_id, report.old_master_key_id,
        "{report}"
    );
    // Tokens minted before the rotation still decrypt (under the old master key) and
    // refresh through the operator (into tokens under the new one).
    assert!(report.pre_rotation_tokens >= 32, "{report}");
    assert_eq!(
        report.pre_rotation_decrypted, report.pre_rotation_tokens,
        "{report}"
    );
    assert_eq!(
        report.pre_rotation_refreshed, report.pre_rotation_tokens,
        "{report}"
    );
    // Tokens minted after the rotation use the new master key.
    assert_eq!(report.probes_under_new_master, report.probes, "{report}");
    assert!(report.probes > 0, "{report}");
    assert!(report.passed(), "{report}");
}

#[test]
fn the_flag_parses_and_is_positive() {
    let args = LoadArgs::parse(
        ["--requests", "10", "--rotate-after-seconds", "3"]
            .into_iter()
            .map(String::from),
    )
    .unwrap();
    assert_eq!(args.rotate_after_seconds, Some(3));
    assert_eq!(args.requests, 10);
    assert_eq!(
        LoadArgs::parse(["--seconds", "5"].into_iter().map(String::from))
            .unwrap()
            .rotate_after_seconds,
        None
    );
    assert!(LoadArgs::parse(
        ["--rotate-after-seconds", "0"]
            .into_iter()
            .map(String::from)
    )
    .is_err());
}
