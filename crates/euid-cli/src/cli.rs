//! The command line, as clap derives it.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

/// The docs' TC string that grants everything the EUID policy asks for.
pub(crate) const DOCS_TCF_STRING: &str = "CPhJRpMPhJRpMABAMBFRACBoALAAAEJAAIYgAKwAQAKgArABAAqAAA";

/// Where `euid generate` and `euid refresh` send requests unless told otherwise.
pub(crate) const DEFAULT_URL: &str = "http://127.0.0.1:8080";

#[derive(Debug, Parser)]
#[command(
    name = "euid",
    version,
    about = "The EUID v2 API from the command line: envelopes, tokens, identities, TCF strings, operator data",
    after_help = "Exit codes: 0 success; 1 the operation failed (network, decryption, an error answer from the operator); 2 invalid input or usage.\n\nExample: the seed's workflow, with euid in place of the Python scripts:\n  echo '{\"email\":\"user@example.com\",\"tcf_consent_string\":\"CPhJRpMPhJRpMABAMBFRACBoALAAAEJAAIYgAKwAQAKgArABAAqAAA\"}' \\\n    | euid encrypt-request \"$SECRET\" \\\n    | curl -X POST http://127.0.0.1:8080/v2/token/generate -H \"Authorization: Bearer $API_KEY\" -d @- \\\n    | euid decrypt-response \"$SECRET\""
)]
pub(crate) struct Cli {
    #[command(subcommand)]
    pub(crate) command: Command,
}

#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// Encrypt an unencrypted JSON request body (stdin) into a v2 request envelope (base64, stdout).
    #[command(
        after_help = "Example:\n  echo '{\"email\":\"user@example.com\",\"tcf_consent_string\":\"CPhJRpMPhJRpMABAMBFRACBoALAAAEJAAIYgAKwAQAKgArABAAqAAA\"}' | euid encrypt-request \"$SECRET\"\n\nEmpty stdin makes an envelope without JSON, as the key endpoints expect:\n  euid encrypt-request \"$SECRET\" < /dev/null"
    )]
    EncryptRequest(EncryptRequestArgs),

    /// Decrypt an operator response (stdin) and print its JSON.
    #[command(
        after_help = "Examples:\n  ... | curl -X POST \"$URL/v2/token/generate\" -H \"Authorization: Bearer $API_KEY\" -d @- | euid decrypt-response \"$SECRET\"\n  curl -X POST \"$URL/v2/token/refresh\" -d \"$REFRESH_TOKEN\" | euid decrypt-response --refresh \"$REFRESH_RESPONSE_KEY\"\n\nAn operator error answer (plain JSON, HTTP 400/401/500) is printed on stderr and the exit code is 1."
    )]
    DecryptResponse(DecryptResponseArgs),

    /// Generate tokens: encrypt, POST /v2/token/generate, decrypt, print the JSON.
    #[command(
        after_help = "Examples:\n  euid generate --demo euid-data --email user@example.com\n  EUID_API_KEY=... EUID_SECRET=... euid generate --url http://127.0.0.1:8080 --phone +12345678901\n  euid generate --demo euid-data --email-hash tMmiiTI7IaAcPpQPFQ65uMVCWH8av9jw4cwf/F5HVRQ= --tcf CPhJRpMPhJRpMABAMBFRACBoALAAAEJAAIYgAKwAQAKgArABAAqAAA"
    )]
    Generate(GenerateArgs),

    /// Refresh tokens: POST /v2/token/refresh with a refresh token, decrypt, print the JSON.
    #[command(
        after_help = "Examples:\n  euid generate --demo euid-data --email user@example.com | euid refresh\n  euid refresh --refresh-token \"$REFRESH_TOKEN\" --refresh-response-key \"$REFRESH_RESPONSE_KEY\"\n\nWithout --refresh-token, stdin holds the JSON printed by `euid generate` (or a previous `euid refresh`)."
    )]
    Refresh(RefreshArgs),

    /// Map a list of emails, phones or hashes to raw EUIDs with POST /v3/identity/map; write CSV.
    #[command(
        after_help = "Examples:\n  euid map --demo euid-data --input crm.txt --output mapped.csv\n  euid map --demo euid-data --input crm.csv --column phone --type phone\n  EUID_URL=... EUID_API_KEY=... EUID_SECRET=... euid map --input hashes.txt --type email_hash\n\nThe output has the header input,raw_uid,previous_raw_uid,refresh_from,unmapped_reason and one row per non-blank input line, in input order; refresh_from is Unix seconds. A line that is not a valid identity of --type is answered 'invalid identifier' without being sent. With --input -, stdin is read. A progress bar is drawn on stderr when it is a terminal."
    )]
    Map(MapArgs),

    /// Normalize an email or phone number and print the normalized form and its base64 SHA-256 hash.
    #[command(
        after_help = "Examples:\n  euid normalize email ' Jane.Doe+news@Gmail.com'\n  euid normalize phone +12345678901"
    )]
    Normalize(IdentityValueArgs),

    /// Print only the base64 SHA-256 hash of a normalized email or phone number.
    #[command(
        after_help = "Examples:\n  euid hash email user@example.com\n  euid hash phone +12345678901"
    )]
    Hash(IdentityValueArgs),

    /// Decode TCF v2 consent strings and check them against the EUID policy.
    #[command(
        subcommand,
        after_help = "Examples:\n  euid tcf decode CPhJRpMPhJRpMABAMBFRACBoALAAAEJAAIYgAKwAQAKgArABAAqAAA\n  euid tcf check CPhJRpMPhJRpMABAMBFRACBoALAAAEJAAIYgAKwAQAKgArABAAqAAA --vendor 21 --purposes 1,2,3,4,7,10"
    )]
    Tcf(TcfCommand),

    /// Decrypt advertising tokens.
    #[command(
        subcommand,
        after_help = "Example:\n  euid token decrypt \"$ADVERTISING_TOKEN\" --keys keys.json"
    )]
    Token(TokenCommand),

    /// Create an operator data directory (keys, salts, a demo client), as the operator does on first start.
    #[command(
        after_help = "Examples:\n  euid init euid-data && cat euid-data/demo-client.json\n  euid init --no-demo-client /srv/euid-data\n  euid init --store postgres://euid@db.internal:5432/euid --demo-client demo-client.json\n\nIn an existing directory, init creates what is missing and never overwrites a file. Directories it creates are 0700, files 0600.\n\nWith --store (env EUID_STORE) no data directory is given, and --demo-client FILE or --no-demo-client is required: init applies the database's pending schema migrations and, on a database without data, seeds it with the same initial data as a fresh data directory. A database that already holds data gets the migrations only; init then refuses to seed it and exits 1."
    )]
    Init(InitArgs),

    /// Manage an operator data directory's keys.
    #[command(
        subcommand,
        after_help = "Examples:\n  euid keys rotate euid-data\n  euid keys rotate --store postgres://euid@db.internal:5432/euid"
    )]
    Keys(KeysCommand),

    /// Manage an operator data directory's salts.
    #[command(
        subcommand,
        after_help = "Examples:\n  euid salts rotate euid-data --fraction 0.05\n  euid salts rotate --store postgres://euid@db.internal:5432/euid"
    )]
    Salts(SaltsCommand),

    /// Copy an operator data directory into an empty PostgreSQL database: keys, salts,
    /// clients, keypairs and every opt-out.
    #[command(
        after_help = "Example:\n  euid import --from euid-data --store postgres://euid@db.internal:5432/euid\n\nThe database must hold no data (run it on a new one; its schema is created or upgraded first). Stop the operator that uses the directory first, so no opt-out is recorded during the copy. The URL's password never appears in the output or an error."
    )]
    Import(ImportArgs),
}

#[derive(Args)]
pub(crate) struct EncryptRequestArgs {
    /// The client secret (base64 of 32 bytes).
    #[arg(env = "EUID_SECRET", hide_env_values = true)]
    pub(crate) secret: String,
    /// Use this 8-byte nonce (16 hex digits) instead of a random one, to check its echo with
    /// `euid decrypt-response --nonce`.
    #[arg(long, value_name = "HEX")]
    pub(crate) nonce: Option<String>,
    /// Use this request timestamp (Unix ms) instead of the clock (for testing clock skew).
    #[arg(long, value_name = "MS", allow_negative_numbers = true)]
    pub(crate) timestamp_ms: Option<i64>,
}

#[derive(Args)]
pub(crate) struct DecryptResponseArgs {
    /// The client secret (base64 of 32 bytes), or with --refresh the `refresh_response_key`.
    #[arg(env = "EUID_SECRET", hide_env_values = true)]
    pub(crate) secret: String,
    /// Decrypt a /v2/token/refresh response: SECRET is the `refresh_response_key` and the body
    /// has no timestamp or nonce.
    #[arg(long, conflicts_with = "nonce")]
    pub(crate) refresh: bool,
    /// Check that the response echoes this request nonce (16 hex digits).
    #[arg(long, value_name = "HEX")]
    pub(crate) nonce: Option<String>,
}

/// How to reach the operator and authenticate.
#[derive(Args)]
pub(crate) struct ConnectionArgs {
    /// The operator's base URL, http:// or https:// [default: the `base_url` of --demo's
    /// demo-client.json, else http://127.0.0.1:8080].
    #[arg(long, env = "EUID_URL")]
    pub(crate) url: Option<String>,
    /// The API key (sent as `Authorization: Bearer KEY`).
    #[arg(long, env = "EUID_API_KEY", hide_env_values = true)]
    pub(crate) api_key: Option<String>,
    /// The client secret (base64 of 32 bytes).
    #[arg(long, env = "EUID_SECRET", hide_env_values = true)]
    pub(crate) secret: Option<String>,
    /// Read the API key and secret from DATA_DIR/demo-client.json (written by `euid init` or the
    /// operator's first start).
    #[arg(long, value_name = "DATA_DIR")]
    pub(crate) demo: Option<PathBuf>,
    /// Give up on the HTTP exchange after this many seconds.
    #[arg(long, value_name = "SECONDS", default_value_t = 30)]
    pub(crate) timeout: u64,
}

#[derive(Args)]
#[command(group(clap::ArgGroup::new("identity").required(true).multiple(false)))]
pub(crate) struct GenerateArgs {
    #[command(flatten)]
    pub(crate) connection: ConnectionArgs,
    /// An email address.
    #[arg(long, group = "identity")]
    pub(crate) email: Option<String>,
    /// The base64 SHA-256 hash of a normalized email address.
    #[arg(long, group = "identity")]
    pub(crate) email_hash: Option<String>,
    /// A phone number in E.164 form (`+` and digits).
    #[arg(long, group = "identity")]
    pub(crate) phone: Option<String>,
    /// The base64 SHA-256 hash of a normalized phone number.
    #[arg(long, group = "identity")]
    pub(crate) phone_hash: Option<String>,
    /// The TCF consent string sent as `tcf_consent_string`.
    #[arg(long, value_name = "STRING", default_value = DOCS_TCF_STRING)]
    pub(crate) tcf: String,
}

/// What the lines of `euid map --input` hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum MapType {
    /// Email addresses (normalized and hashed before sending).
    Email,
    /// Phone numbers in E.164 form (hashed before sending).
    Phone,
    /// Base64 SHA-256 hashes of normalized emails.
    #[value(name = "email_hash")]
    EmailHash,
    /// Base64 SHA-256 hashes of normalized phone numbers.
    #[value(name = "phone_hash")]
    PhoneHash,
}

#[derive(Debug, Args)]
pub(crate) struct MapArgs {
    #[command(flatten)]
    pub(crate) connection: ConnectionArgs,
    /// The list: one identity per line, or a CSV file with --column (`-` reads stdin).
    #[arg(long, value_name = "FILE")]
    pub(crate) input: PathBuf,
    /// Where to write the CSV [default: stdout].
    #[arg(long, value_name = "FILE")]
    pub(crate) output: Option<PathBuf>,
    /// What each identity is.
    #[arg(long = "type", value_name = "TYPE", value_enum, default_value_t = MapType::Email)]
    pub(crate) kind: MapType,
    /// Read --input as CSV with a header line and map this column.
    #[arg(long, value_name = "NAME")]
    pub(crate) column: Option<String>,
}

#[derive(Args)]
pub(crate) struct RefreshArgs {
    #[command(flatten)]
    pub(crate) connection: ConnectionArgs,
    /// The 388-character refresh token (default: read from the JSON on stdin).
    #[arg(long, requires = "refresh_response_key")]
    pub(crate) refresh_token: Option<String>,
    /// The `refresh_response_key` that came with the refresh token.
    #[arg(long, requires = "refresh_token")]
    pub(crate) refresh_response_key: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum IdentityKind {
    /// An email address.
    Email,
    /// A phone number in E.164 form.
    Phone,
}

#[derive(Args)]
pub(crate) struct IdentityValueArgs {
    /// What VALUE is.
    pub(crate) kind: IdentityKind,
    /// The email address or phone number.
    pub(crate) value: String,
}

#[derive(Debug, Subcommand)]
pub(crate) enum TcfCommand {
    /// Decode a TC string and print every field as one JSON object.
    #[command(
        after_help = "Example:\n  euid tcf decode CPhJRpMPhJRpMABAMBFRACBoALAAAEJAAIYgAKwAQAKgArABAAqAAA\n\nAn invalid string exits with code 2 and one line on stderr."
    )]
    Decode {
        /// The TC string.
        string: String,
    },
    /// Evaluate a TC string against the EUID consent policy and print the verdict.
    #[command(
        after_help = "Examples:\n  euid tcf check CPhJRpMPhJRpMABAMBFRACBoALAAAEJAAIYgAKwAQAKgArABAAqAAA\n  euid tcf check \"$TC_STRING\" --vendor 21 --purposes 1,2,3,4,7,10\n\nExit code 0 when consent is sufficient, 1 when insufficient, 2 for an invalid string."
    )]
    Check {
        /// The TC string.
        string: String,
        /// The vendor id that needs consent (EUID: 21).
        #[arg(long, value_name = "N")]
        vendor: Option<u16>,
        /// The purposes that must be granted, comma-separated (EUID: 1,2,3,4,7,10).
        #[arg(long, value_name = "LIST", value_delimiter = ',')]
        purposes: Option<Vec<u8>>,
    },
}

#[derive(Debug, Subcommand)]
pub(crate) enum TokenCommand {
    /// Decrypt an advertising token (v2, v3 or v4) with the keys of a key response and print every field as JSON.
    #[command(
        after_help = "Example:\n  euid encrypt-request \"$SECRET\" < /dev/null \\\n    | curl -s -X POST \"$URL/v2/key/bidstream\" -H \"Authorization: Bearer $API_KEY\" -d @- \\\n    | euid decrypt-response \"$SECRET\" > keys.json\n  euid token decrypt \"$ADVERTISING_TOKEN\" --keys keys.json"
    )]
    Decrypt(TokenDecryptArgs),
}

#[derive(Args)]
pub(crate) struct TokenDecryptArgs {
    /// The advertising token.
    pub(crate) token: String,
    /// A /v2/key/bidstream or /v2/key/sharing response (`{"status":"success","body":{...}}` or the body alone).
    #[arg(long, value_name = "FILE")]
    pub(crate) keys: PathBuf,
    /// Decode an expired token instead of failing.
    #[arg(long)]
    pub(crate) ignore_expiry: bool,
}

#[derive(Debug, Args)]
pub(crate) struct InitArgs {
    /// The data directory to create, or to complete (not given with --store).
    pub(crate) data_dir: Option<PathBuf>,
    /// Initialise a PostgreSQL database instead of a data directory: apply the pending
    /// schema migrations and, on a database without data, seed it.
    #[arg(long, env = "EUID_STORE", value_name = "URL", hide_env_values = true)]
    pub(crate) store: Option<StoreUrl>,
    /// With --store: write the demo client's credentials to FILE (the demo-client.json
    /// format, mode 0600; an existing file is refused).
    #[arg(long, value_name = "FILE", conflicts_with = "no_demo_client")]
    pub(crate) demo_client: Option<PathBuf>,
    /// Create no demo client: clients.json gets no client and there is no demo-client.json.
    #[arg(long)]
    pub(crate) no_demo_client: bool,
    /// Create salts even though optout.db exists: every opt-out recorded under the lost
    /// salts stops matching. Without it, missing salts next to optout.db are an error.
    #[arg(long)]
    pub(crate) allow_new_salts: bool,
}

/// A `--store` URL (`postgres://USER:PASSWORD@HOST:PORT/DB`): `Debug` shows it with the
/// password replaced, so a `{:?}` of the command line never prints it.
#[derive(Clone)]
pub(crate) struct StoreUrl(pub(crate) String);

impl std::str::FromStr for StoreUrl {
    type Err = std::convert::Infallible;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(Self(s.to_owned()))
    }
}

impl std::fmt::Debug for StoreUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&euid_store_postgres::redact_url(&self.0))
    }
}

/// The store a data command works on: a data directory, or a database with `--store`.
#[derive(Debug, Args)]
pub(crate) struct TargetArgs {
    /// The operator data directory (not given with --store).
    pub(crate) data_dir: Option<PathBuf>,
    /// Work on a PostgreSQL database instead of a data directory.
    #[arg(long, env = "EUID_STORE", value_name = "URL", hide_env_values = true)]
    pub(crate) store: Option<StoreUrl>,
}

/// `euid import`: a data directory into a database.
#[derive(Debug, Args)]
pub(crate) struct ImportArgs {
    /// The data directory to copy (keys, salts, clients, keypairs and optout.db). Stop the
    /// operator that uses it first.
    #[arg(long, value_name = "DIR")]
    pub(crate) from: PathBuf,
    /// The PostgreSQL database to copy it into; it must hold no data.
    #[arg(long, env = "EUID_STORE", value_name = "URL", hide_env_values = true)]
    pub(crate) store: StoreUrl,
}

#[derive(Debug, Subcommand)]
pub(crate) enum KeysCommand {
    /// Add new keys that activate after a delay; old keys stay until they expire.
    #[command(
        after_help = "Examples:\n  euid keys rotate euid-data\n  euid keys rotate euid-data --activates-in 600 --lifetime 7200\n\nA running operator picks the new keys up when it reloads the data directory."
    )]
    Rotate {
        #[command(flatten)]
        target: TargetArgs,
        /// Seconds from now until the new keys activate, so every operator and SDK holds them
        /// before they are used.
        #[arg(long, value_name = "SECONDS", default_value_t = 3600)]
        activates_in: i64,
        /// Lifetime of the new keys after activation, in seconds (default: one hour, which
        /// keeps each key well under 2^32 random-IV messages; see docs/KEYS.md).
        #[arg(
            long,
            value_name = "SECONDS",
            default_value_t = euid_store::DEFAULT_KEY_LIFETIME_SECONDS
        )]
        lifetime: i64,
    },
}

#[derive(Debug, Subcommand)]
pub(crate) enum SaltsCommand {
    /// Give a random fraction of the salt buckets new salts (or new key material), keeping
    /// the old ones as previous; prints the rotated bucket ids.
    #[command(
        after_help = "Examples:\n  euid salts rotate euid-data\n  euid salts rotate euid-data --fraction 0.5\n\nA running operator picks the new salts up when it reloads the data directory: /v3/identity/map then gives the rotated buckets' new raw UIDs as `u` and the old ones as `p`, and /v2/identity/buckets lists them. Opt-outs and refresh tokens keep working (both carry the first-level hash, which rotation does not change)."
    )]
    Rotate {
        #[command(flatten)]
        target: TargetArgs,
        /// The fraction of buckets to rotate, between 0 and 1 (at least one bucket when
        /// positive).
        #[arg(long, value_name = "F", default_value_t = 0.05)]
        fraction: f64,
    },
}

// Debug for the argument structs that hold secrets, tokens or identities: clap does not need
// Debug, but a `{:?}` of the parsed command line must not print them.

/// What `Debug` shows in place of a secret, token or identity that is set.
const REDACTED: &str = "<redacted>";

fn redacted<T>(value: &Option<T>) -> Option<&'static str> {
    value.as_ref().map(|_| REDACTED)
}

impl std::fmt::Debug for EncryptRequestArgs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EncryptRequestArgs")
            .field("secret", &REDACTED)
            .field("nonce", &self.nonce)
            .field("timestamp_ms", &self.timestamp_ms)
            .finish()
    }
}

impl std::fmt::Debug for DecryptResponseArgs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DecryptResponseArgs")
            .field("secret", &REDACTED)
            .field("refresh", &self.refresh)
            .field("nonce", &self.nonce)
            .finish()
    }
}

impl std::fmt::Debug for ConnectionArgs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ConnectionArgs")
            .field("url", &self.url)
            .field("api_key", &redacted(&self.api_key))
            .field("secret", &redacted(&self.secret))
            .field("demo", &self.demo)
            .field("timeout", &self.timeout)
            .finish()
    }
}

impl std::fmt::Debug for GenerateArgs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GenerateArgs")
            .field("connection", &self.connection)
            .field("email", &redacted(&self.email))
            .field("email_hash", &redacted(&self.email_hash))
            .field("phone", &redacted(&self.phone))
            .field("phone_hash", &redacted(&self.phone_hash))
            .field("tcf", &self.tcf)
            .finish()
    }
}

impl std::fmt::Debug for RefreshArgs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RefreshArgs")
            .field("connection", &self.connection)
            .field("refresh_token", &redacted(&self.refresh_token))
            .field(
                "refresh_response_key",
                &redacted(&self.refresh_response_key),
            )
            .finish()
    }
}

impl std::fmt::Debug for IdentityValueArgs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IdentityValueArgs")
            .field("kind", &self.kind)
            .field("value", &REDACTED)
            .finish()
    }
}

impl std::fmt::Debug for TokenDecryptArgs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenDecryptArgs")
            .field("token", &REDACTED)
            .field("keys", &self.keys)
            .field("ignore_expiry", &self.ignore_expiry)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &str = "c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0LXNlYw==";
    const API_KEY: &str = "EUID-C-L-999-abcde.fghijklmnopqrstuvwxyz0123456789ABCDEFGHIJ";

    fn debug_of(args: &[&str]) -> String {
        let cli = Cli::try_parse_from(std::iter::once("euid").chain(args.iter().copied()))
            .unwrap_or_else(|e| panic!("{args:?}: {e}"));
        format!("{cli:?}")
    }

    #[test]
    fn debug_of_a_store_url_shows_no_password() {
        let url = "postgres://euid:pg-password-1@db:5432/euid";
        for args in [
            &["init", "--store", url, "--no-demo-client"][..],
            &["keys", "rotate", "--store", url],
            &["salts", "rotate", "--store", url],
            &["import", "--from", "euid-data", "--store", url],
        ] {
            let debug = debug_of(args);
            assert!(!debug.contains("pg-password-1"), "{debug}");
            assert!(
                debug.contains("postgres://euid:***@db:5432/euid"),
                "{debug}"
            );
        }
    }

    #[test]
    fn debug_of_a_parsed_command_line_shows_no_secret_token_or_identity() {
        let token = "A4AAAAFakeAdvertisingTokenForTheDebugTest0123456789";
        let refresh = "RefreshTokenForTheDebugTest0123456789abcdef";
        let cases: &[(&[&str], &[&str])] = &[
            (
                &["encrypt-request", SECRET, "--nonce", "0011223344556677"],
                &[SECRET],
            ),
            (&["decrypt-response", "--refresh", SECRET], &[SECRET]),
            (
                &[
                    "generate",
                    "--api-key",
                    API_KEY,
                    "--secret",
                    SECRET,
                    "--email",
                    "jane.doe@example.com",
                ],
                &[API_KEY, SECRET, "jane.doe@example.com"],
            ),
            (
                &[
                    "generate",
                    "--api-key",
                    API_KEY,
                    "--secret",
                    SECRET,
                    "--phone-hash",
                    SECRET,
                ],
                &[API_KEY, SECRET],
            ),
            (
                &[
                    "refresh",
                    "--refresh-token",
                    refresh,
                    "--refresh-response-key",
                    SECRET,
                ],
                &[refresh, SECRET],
            ),
            (
                &["normalize", "email", "jane.doe@example.com"],
                &["jane.doe@example.com"],
            ),
            (&["hash", "phone", "+12025550123"], &["+12025550123"]),
            (
                &["token", "decrypt", token, "--keys", "keys.json"],
                &[token],
            ),
        ];
        for (args, secrets) in cases {
            let debug = debug_of(args);
            assert!(debug.contains(REDACTED), "{debug}");
            for secret in *secrets {
                assert!(!debug.contains(secret), "{secret} in {debug}");
            }
        }
        // What is not secret is still shown.
        assert!(
            debug_of(&["encrypt-request", SECRET, "--nonce", "0011223344556677"])
                .contains("0011223344556677")
        );
    }
}
