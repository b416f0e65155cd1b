//! Every command's `--help` has an example, and never shows a secret taken from the
//! environment.

mod common;

use common::euid_env;

const COMMANDS: [&[&str]; 15] = [
    &[],
    &["encrypt-request"],
    &["decrypt-response"],
    &["generate"],
    &["refresh"],
    &["map"],
    &["normalize"],
    &["hash"],
    &["tcf"],
    &["tcf", "decode"],
    &["tcf", "check"],
    &["token"],
    &["token", "decrypt"],
    &["init"],
    &["keys", "rotate"],
];

#[test]
fn every_help_has_an_example_and_hides_secrets_from_the_environment() {
    let env = [
        ("EUID_SECRET", "SECRET-FROM-ENV-VALUE"),
        ("EUID_API_KEY", "API-KEY-FROM-ENV-VALUE"),
    ];
    for command in COMMANDS {
        let mut args = command.to_vec();
        args.push("--help");
        let run = euid_env(&args, b"", &env);
        assert_eq!(run.code, 0, "{args:?}: {}", run.stderr);
        assert!(
            run.stdout.contains("Example"),
            "{args:?} --help has no example"
        );
        assert!(run.stdout.contains("euid "), "{args:?}");
        assert!(
            !run.stdout.contains("FROM-ENV-VALUE"),
            "{args:?} --help shows a secret"
        );
    }
}

#[test]
fn usage_errors_are_one_line() {
    for args in [
        &["no-such-command"][..],
        &["generate", "--email", "a@b.c", "--phone", "+12345678901"],
        &["normalize", "fax", "123"],
        &["tcf", "check", "x", "--vendor", "70000"],
        &["token", "decrypt", "x"],
        &["map", "--input", "x", "--type", "fax"],
    ] {
        euid_env(args, b"", &[]).assert_error(2, "see 'euid --help'", &[]);
    }
}
