//! The `euid` command-line tool; everything but the process plumbing lives in the library.

use std::process::ExitCode;

fn main() -> ExitCode {
    // Belt and braces: a bug must still end as one line, never a backtrace.
    std::panic::set_hook(Box::new(|_| {
        eprintln!("euid: internal error (this is a bug in euid; please report it)");
    }));
    let mut stdin = std::io::stdin().lock();
    let mut stdout = std::io::stdout().lock();
    let mut stderr = std::io::stderr().lock();
    let code = euid_cli::run(std::env::args_os(), &mut stdin, &mut stdout, &mut stderr);
    ExitCode::from(code)
}
