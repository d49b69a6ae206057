//! The commands.

mod assignment;
mod emulator;
mod token;
mod user;

use acs_identity::{ClientBuilder, CommunicationIdentityClient, TokenScope};

use crate::cli::{Cli, Command, Output};

/// A failed command: what goes to stderr, and whether it is a usage error
/// (exit 2: something was wrong before any request was sent) or a failed
/// call (exit 1).
#[derive(Debug)]
pub struct Failure {
    message: String,
    usage: bool,
}

impl Failure {
    /// Wrong input, found before anything was sent (exit 2).
    pub fn usage(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
            usage: true,
        }
    }

    /// A call or a write that failed (exit 1).
    pub fn call(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
            usage: false,
        }
    }

    /// The process exit code for this failure.
    pub fn exit_code(&self) -> u8 {
        if self.usage { 2 } else { 1 }
    }
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl From<acs_identity::Error> for Failure {
    fn from(e: acs_identity::Error) -> Self {
        use acs_identity::Error;
        match e {
            Error::ConnectionString(e) => Failure::usage(format!(
                "invalid connection string (--connection-string or ACS_CONNECTION_STRING): {e}"
            )),
            Error::InsecureEndpoint { host } => Failure::usage(format!(
                "refusing plain http to `{host}`: the access key's signatures and the tokens would cross the network in clear text; use an https endpoint, or pass --allow-insecure-http on a trusted network"
            )),
            // Checked before sending; a nextLink comes from the service.
            Error::InvalidArgument { name, reason } if name != "nextLink" => {
                Failure::usage(format!("invalid {}: {reason}", flag(name)))
            }
            other => Failure::call(other.to_string()),
        }
    }
}

/// The command-line spelling of a library argument.
fn flag(name: &str) -> String {
    match name {
        "user" => "user id".into(),
        "expires_in" => "--expires-in-minutes".into(),
        "endpoint" => "endpoint in the connection string".into(),
        "credential" => "connection string".into(),
        other => format!("--{}", other.replace('_', "-")),
    }
}

/// Text from the command's own input checks is a usage error.
impl From<String> for Failure {
    fn from(s: String) -> Self {
        Failure::usage(s)
    }
}

/// What every client command needs.
pub struct Context {
    connection_string: Option<String>,
    api_version: Option<String>,
    allow_insecure_http: bool,
    pub output: Output,
}

impl Context {
    fn connection_string(&self) -> Result<&str, Failure> {
        self.connection_string.as_deref().ok_or_else(|| {
            Failure::usage(
                "no connection string: pass --connection-string or set ACS_CONNECTION_STRING",
            )
        })
    }

    /// A builder from the connection string, pinned to --api-version when given.
    fn builder(&self) -> Result<ClientBuilder, Failure> {
        let builder =
            CommunicationIdentityClient::builder_from_connection_string(self.connection_string()?)?
                .allow_insecure_http(self.allow_insecure_http);
        Ok(match &self.api_version {
            Some(v) => builder.api_version(v),
            None => builder,
        })
    }

    /// The stable client (or pinned to --api-version).
    pub fn stable(&self) -> Result<CommunicationIdentityClient, Failure> {
        Ok(self.builder()?.build()?)
    }

    /// The preview client (preview-only commands pick it themselves).
    pub fn preview(&self) -> Result<acs_identity::preview::CommunicationIdentityClient, Failure> {
        Ok(self.builder()?.build_preview()?)
    }
}

/// Parses scope names.
pub fn scopes(names: &[String]) -> Result<Vec<TokenScope>, Failure> {
    names
        .iter()
        .map(|s| {
            s.trim()
                .parse::<TokenScope>()
                .map_err(|e| Failure::usage(format!("--scopes: {e}")))
        })
        .collect()
}

/// Minutes to a lifetime.
pub fn lifetime(minutes: Option<u32>) -> Option<std::time::Duration> {
    minutes.map(|m| std::time::Duration::from_secs(u64::from(m) * 60))
}

pub async fn run(cli: Cli) -> Result<(), Failure> {
    let cx = Context {
        connection_string: cli.connection_string,
        api_version: cli.api_version,
        allow_insecure_http: cli.allow_insecure_http,
        output: crate::output::format(cli.output),
    };
    match cli.command {
        Command::User(c) => user::run(&cx, c).await,
        Command::Token(c) => token::run(&cx, c).await,
        Command::Assignment(c) => assignment::run(&cx, c).await,
        Command::Emulator(args) => emulator::run(args).await,
    }
}
