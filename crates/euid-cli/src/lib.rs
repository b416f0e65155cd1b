#![doc = include_str!("../README.md")]
#![forbid(unsafe_code)]

mod cli;
mod commands;
mod credentials;
mod error;
mod http;
mod io_util;

use std::ffi::OsString;
use std::io::{Read, Write};

use clap::Parser;

use crate::cli::Cli;
pub use crate::error_codes::*;

/// Process exit codes.
mod error_codes {
    /// The command succeeded.
    pub const EXIT_SUCCESS: u8 = 0;
    /// The operation failed: network, decryption, an error answer from the operator,
    /// insufficient consent for `euid tcf check`.
    pub const EXIT_FAILED: u8 = crate::error::EXIT_FAILED;
    /// Invalid input or usage: a malformed argument, secret, TC string, file or stdin.
    pub const EXIT_INVALID: u8 = crate::error::EXIT_INVALID;
}

/// Runs `euid` with these arguments (the first one is the program name) and streams, and
/// returns the process exit code. Errors are written to `stderr` as one line starting with
/// `euid: `; nothing panics on bad input.
pub fn run<I, T>(
    args: I,
    stdin: &mut dyn Read,
    stdout: &mut dyn Write,
    stderr: &mut dyn Write,
) -> u8
where
    I: IntoIterator<Item = T>,
    T: Into<OsString> + Clone,
{
    let cli = match Cli::try_parse_from(args) {
        Ok(cli) => cli,
        Err(err) => return report_clap_error(&err, stdout, stderr),
    };
    match commands::dispatch(cli.command, stdin, stdout, stderr) {
        Ok(code) => code,
        Err(err) => {
            // A failing stderr leaves nothing better to do than to return the code.
            let _ = writeln!(stderr, "euid: {err}");
            err.code()
        }
    }
}

/// Help and version go to stdout in full; usage errors become one line on stderr.
fn report_clap_error(err: &clap::Error, stdout: &mut dyn Write, stderr: &mut dyn Write) -> u8 {
    use clap::error::ErrorKind;
    match err.kind() {
        ErrorKind::DisplayHelp | ErrorKind::DisplayVersion => {
            let _ = write!(stdout, "{}", err.render());
            EXIT_SUCCESS
        }
        ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand => {
            let _ = write!(stderr, "{}", err.render());
            EXIT_INVALID
        }
        _ => {
            // The message is the first paragraph (it may list missing arguments on further
            // lines); the usage and tips after it would make it more than one line.
            let rendered = err.render().to_string();
            let paragraph = rendered.split("\n\n").next().unwrap_or("invalid usage");
            let message = paragraph.split_whitespace().collect::<Vec<_>>().join(" ");
            let message = message.strip_prefix("error: ").unwrap_or(&message);
            let _ = writeln!(stderr, "euid: {message} (see 'euid --help')");
            EXIT_INVALID
        }
    }
}
