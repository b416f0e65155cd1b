//! Reading stdin and files, writing stdout.

use std::io::{ErrorKind, Read, Write};
use std::path::Path;

use crate::error::{CliError, CliResult};

/// Reads at most this much from stdin or a file: generous for any EUID request or response.
const MAX_INPUT: u64 = 16 * 1024 * 1024;

/// Reads all of stdin (bounded).
pub(crate) fn read_stdin(stdin: &mut dyn Read) -> CliResult<Vec<u8>> {
    let mut buf = Vec::new();
    stdin
        .take(MAX_INPUT + 1)
        .read_to_end(&mut buf)
        .map_err(|e| CliError::failed(format!("cannot read stdin: {e}")))?;
    if buf.len() as u64 > MAX_INPUT {
        return Err(CliError::invalid("stdin is larger than 16 MiB"));
    }
    Ok(buf)
}

/// Reads a whole file (bounded), naming it in the error.
pub(crate) fn read_file(path: &Path) -> CliResult<Vec<u8>> {
    let file = std::fs::File::open(path)
        .map_err(|e| CliError::invalid(format!("cannot open {}: {e}", path.display())))?;
    let mut buf = Vec::new();
    file.take(MAX_INPUT + 1)
        .read_to_end(&mut buf)
        .map_err(|e| CliError::invalid(format!("cannot read {}: {e}", path.display())))?;
    if buf.len() as u64 > MAX_INPUT {
        return Err(CliError::invalid(format!(
            "{} is larger than 16 MiB",
            path.display()
        )));
    }
    Ok(buf)
}

/// Writes one line to stdout; a closed pipe (`| head`) is not an error worth reporting.
pub(crate) fn print_line(stdout: &mut dyn Write, text: &str) -> CliResult {
    let result = stdout
        .write_all(text.as_bytes())
        .and_then(|()| stdout.write_all(b"\n"))
        .and_then(|()| stdout.flush());
    match result {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == ErrorKind::BrokenPipe => Ok(()),
        Err(e) => Err(CliError::failed(format!("cannot write stdout: {e}"))),
    }
}

/// Prints a value as JSON on one line.
pub(crate) fn print_json(stdout: &mut dyn Write, value: &impl serde::Serialize) -> CliResult {
    let text = serde_json::to_string(value)
        .map_err(|e| CliError::failed(format!("cannot format the output as JSON: {e}")))?;
    print_line(stdout, &text)
}

/// Bytes as text, or an invalid-input error naming what they are.
pub(crate) fn utf8<'a>(bytes: &'a [u8], what: &str) -> CliResult<&'a str> {
    std::str::from_utf8(bytes).map_err(|_| CliError::invalid(format!("{what} is not UTF-8 text")))
}

/// At most the first 500 characters of a body, as text, for an error line.
pub(crate) fn excerpt(bytes: &[u8]) -> String {
    const MAX: usize = 500;
    let text = String::from_utf8_lossy(bytes);
    match text.char_indices().nth(MAX) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None => text.into_owned(),
    }
}
