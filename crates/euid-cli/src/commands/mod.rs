//! One module per command family; `dispatch` routes a parsed command line to them.

mod api;
mod data_dir;
mod envelope;
mod identity;
mod map;
mod salts;
mod store;
mod tcf;
mod token;

use std::io::{Read, Write};

use crate::cli::{Command, KeysCommand, SaltsCommand, TcfCommand, TokenCommand};
use crate::error::CliResult;

/// Runs one command and returns its exit code (0, or 1 for `tcf check` on insufficient consent).
pub(crate) fn dispatch(
    command: Command,
    stdin: &mut dyn Read,
    stdout: &mut dyn Write,
    stderr: &mut dyn Write,
) -> CliResult<u8> {
    match command {
        Command::EncryptRequest(args) => envelope::encrypt_request(&args, stdin, stdout),
        Command::DecryptResponse(args) => envelope::decrypt_response(&args, stdin, stdout),
        Command::Generate(args) => api::generate(&args, stdout),
        Command::Refresh(args) => api::refresh(&args, stdin, stdout),
        Command::Map(args) => map::map(&args, stdin, stdout, stderr),
        Command::Normalize(args) => identity::normalize(&args, stdout),
        Command::Hash(args) => identity::hash(&args, stdout),
        Command::Tcf(TcfCommand::Decode { string }) => tcf::decode(&string, stdout),
        Command::Tcf(TcfCommand::Check {
            string,
            vendor,
            purposes,
        }) => tcf::check(&string, vendor, purposes.as_deref(), stdout),
        Command::Token(TokenCommand::Decrypt(args)) => token::decrypt(&args, stdout),
        Command::Init(args) => data_dir::init(&args, stdout, stderr),
        Command::Keys(KeysCommand::Rotate {
            target,
            activates_in,
            lifetime,
        }) => data_dir::rotate(
            &store::target(target.data_dir, target.store)?,
            activates_in,
            lifetime,
            stdout,
        ),
        Command::Salts(SaltsCommand::Rotate { target, fraction }) => salts::rotate(
            &store::target(target.data_dir, target.store)?,
            fraction,
            stdout,
        ),
        Command::Import(args) => store::import(&args, stdout),
    }
}
