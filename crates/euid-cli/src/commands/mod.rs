//! One module per command family; `dispatch` routes a parsed command line to them.

use std::io::{Read, Write};

use crate::cli::{Command, KeysCommand, TcfCommand, TokenCommand};
use crate::error::{CliError, CliResult};

/// Runs one command and returns its exit code (0, or 1 for `tcf check` on insufficient consent).
pub(crate) fn dispatch(
    command: Command,
    stdin: &mut dyn Read,
    stdout: &mut dyn Write,
    stderr: &mut dyn Write,
) -> CliResult<u8> {
    let _ = (stdin, stdout, stderr);
    match command {
        Command::EncryptRequest(_) | Command::DecryptResponse(_) => {
            Err(not_landed("euid-envelope"))
        }
        Command::Generate(_) | Command::Refresh(_) => Err(not_landed("euid-envelope")),
        Command::Normalize(_) | Command::Hash(_) => Err(not_landed("euid-normalize")),
        Command::Tcf(TcfCommand::Decode { .. } | TcfCommand::Check { .. }) => {
            Err(not_landed("euid-tcf"))
        }
        Command::Token(TokenCommand::Decrypt(_)) => Err(not_landed("euid-token")),
        Command::Init(_) | Command::Keys(KeysCommand::Rotate { .. }) => {
            Err(not_landed("euid-operator"))
        }
    }
}

// Temporary while the core crates land on main (issue 8); removed once every command is built.
fn not_landed(dependency: &str) -> CliError {
    CliError::failed(format!(
        "this command is not built yet: it waits for {dependency}"
    ))
}
