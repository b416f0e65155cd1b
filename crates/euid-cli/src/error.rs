//! The one error type every command returns, and its exit code.

use std::fmt;

/// Exit code for a failed operation: network, decryption, an operator error answer.
pub(crate) const EXIT_FAILED: u8 = 1;
/// Exit code for invalid input or usage.
pub(crate) const EXIT_INVALID: u8 = 2;

/// A command's failure: one line for stderr and the exit code that goes with it.
#[derive(Debug)]
pub(crate) struct CliError {
    code: u8,
    message: String,
    /// stdout was closed by its reader (`| head`): stop quietly.
    broken_pipe: bool,
}

impl CliError {
    /// The input (an argument, stdin, a file) is invalid: exit code 2.
    pub(crate) fn invalid(message: impl Into<String>) -> Self {
        Self {
            code: EXIT_INVALID,
            message: message.into(),
            broken_pipe: false,
        }
    }

    /// The operation failed: exit code 1.
    pub(crate) fn failed(message: impl Into<String>) -> Self {
        Self {
            code: EXIT_FAILED,
            message: message.into(),
            broken_pipe: false,
        }
    }

    /// The output's reader went away; not worth reporting.
    pub(crate) fn broken_pipe() -> Self {
        Self {
            broken_pipe: true,
            ..Self::failed("the output was closed")
        }
    }

    /// Whether this is [`Self::broken_pipe`].
    pub(crate) fn is_broken_pipe(&self) -> bool {
        self.broken_pipe
    }

    /// The same failure, saying how many rows were written before it.
    pub(crate) fn after_rows(mut self, rows: u64) -> Self {
        if rows > 0 {
            self.message = format!("{} ({rows} rows written before this)", self.message);
        }
        self
    }

    /// The process exit code.
    pub(crate) fn code(&self) -> u8 {
        self.code
    }
}

impl fmt::Display for CliError {
    // Always a single line, whatever the underlying message holds.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut first = true;
        for part in self
            .message
            .split(['\n', '\r'])
            .map(str::trim)
            .filter(|p| !p.is_empty())
        {
            if !first {
                f.write_str(" ")?;
            }
            f.write_str(part)?;
            first = false;
        }
        Ok(())
    }
}

/// The result every command returns.
pub(crate) type CliResult<T = ()> = Result<T, CliError>;
