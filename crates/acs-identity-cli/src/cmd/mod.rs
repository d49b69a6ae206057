//! The commands.

mod assignment;
mod emulator;
mod token;
mod user;

use acs_identity::{ClientBuilder, CommunicationIdentityClient, TokenScope};

use crate::cli::{Cli, Command, Output};

/// A failed command: what goes to stderr.
#[derive(Debug)]
pub struct Failure(String);

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl From<acs_identity::Error> for Failure {
    fn from(e: acs_identity::Error) -> Self {
        Failure(e.to_string())
    }
}

impl From<String> for Failure {
    fn from(s: String) -> Self {
        Failure(s)
    }
}

/// What every client command needs.
pub struct Context {
    connection_string: Option<String>,
    api_version: Option<String>,
    pub output: Output,
}

impl Context {
    fn connection_string(&self) -> Result<&str, Failure> {
        self.connection_string.as_deref().ok_or_else(|| {
            Failure(
                "no connection string: pass --connection-string or set ACS_CONNECTION_STRING"
                    .into(),
            )
        })
    }

    /// A builder from the connection string, pinned to --api-version when given.
    fn builder(&self) -> Result<ClientBuilder, Failure> {
        let builder =
            CommunicationIdentityClient::builder_from_connection_string(self.connection_string()?)?;
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
                .map_err(|e| Failure(e.to_string()))
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
        output: crate::output::format(cli.output),
    };
    match cli.command {
        Command::User(c) => user::run(&cx, c).await,
        Command::Token(c) => token::run(&cx, c).await,
        Command::Assignment(c) => assignment::run(&cx, c).await,
        Command::Emulator(args) => emulator::run(args).await,
    }
}
