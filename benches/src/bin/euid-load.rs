//! `euid-load`: the end-to-end load driver (see `euid_benches::load`).
//!
//! ```text
//! cargo run --release -p euid-benches --bin euid-load -- --requests 200000 --seconds 15 --connections 32
//! cargo run --release -p euid-benches --bin euid-load -- --requests 20000 --seconds 10 --connections 8 --rotate-after-seconds 3
//! ```
//!
//! With `--rotate-after-seconds`, the run is a key rotation under generate + refresh load
//! (see `euid_benches::load::run_rotation`) instead of the throughput comparison.

use std::process::ExitCode;

use euid_benches::load::{run, run_rotation, LoadArgs};

fn main() -> ExitCode {
    let args = match LoadArgs::parse(std::env::args().skip(1)) {
        Ok(args) => args,
        Err(message) => {
            eprintln!("euid-load: {message}\n{}", LoadArgs::USAGE);
            return ExitCode::from(2);
        }
    };
    if args.rotate_after_seconds.is_some() {
        return match run_rotation(&args) {
            Ok(report) => {
                print!("{report}");
                if report.passed() {
                    ExitCode::SUCCESS
                } else {
                    ExitCode::from(1)
                }
            }
            Err(message) => {
                eprintln!("euid-load: {message}");
                ExitCode::from(1)
            }
        };
    }
    match run(&args) {
        Ok(report) => {
            print!("{report}");
            if report.total_errors() == 0 {
                ExitCode::SUCCESS
            } else {
                eprintln!(
                    "euid-load: {} requests failed verification",
                    report.total_errors()
                );
                ExitCode::from(1)
            }
        }
        Err(message) => {
            eprintln!("euid-load: {message}");
            ExitCode::from(1)
        }
    }
}
