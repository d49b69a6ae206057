//! The commands.

mod assignment;
mod emulator;
mod input;
mod token;
mod user;

use std::sync::Arc;

use acs_identity::{ClientBuilder, CommunicationIdentityClient, ConnectionString};

use crate::cli::{Auth, Cli, Command, Output};
use crate::failure::Failure;

/// What every client command needs.
pub struct Context {
    connection_string: Option<String>,
    auth: Auth,
    endpoint: Option<String>,
    api_version: Option<String>,
    allow_insecure_http: bool,
    pub output: Output,
}

impl Context {
    fn connection_string(&self) -> Result<&str, Failure> {
        self.connection_string.as_deref().ok_or_else(|| {
            Failure::usage(
                "no connection string: pass --connection-string or set ACS_CONNECTION_STRING (or COMMUNICATION_SERVICES_CONNECTION_STRING)",
            )
        })
    }

    /// A builder for the chosen authentication, pinned to --api-version when given.
    fn builder(&self) -> Result<ClientBuilder, Failure> {
        let builder = match self.auth {
            Auth::Key => CommunicationIdentityClient::builder_from_connection_string(
                self.connection_string()?,
            )?,
            Auth::Entra => {
                let endpoint = match (&self.endpoint, &self.connection_string) {
                    (Some(endpoint), _) => endpoint.clone(),
                    (None, Some(cs)) => ConnectionString::parse(cs)
                        .map_err(acs_identity::Error::from)?
                        .endpoint()
                        .to_string(),
                    (None, None) => {
                        return Err(Failure::usage(
                            "--auth entra needs the endpoint: pass --endpoint or set ACS_ENDPOINT",
                        ));
                    }
                };
                let credential: Arc<dyn azure_core::credentials::TokenCredential> =
                    azure_identity::DeveloperToolsCredential::new(None).map_err(|e| {
                        Failure::call(format!("the developer credential is not available: {e}"))
                    })?;
                CommunicationIdentityClient::builder(&endpoint).token_credential(credential)
            }
        }
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

pub async fn run(cli: Cli) -> Result<(), Failure> {
    let cx = Context {
        // clap reads ACS_CONNECTION_STRING; the quickstarts' name comes after it.
        connection_string: cli
            .connection_string
            .or_else(|| acs_identity::connection_string_from_env().map(|(_, conn)| conn)),
        auth: cli.auth,
        endpoint: cli.endpoint,
        api_version: cli.api_version,
        allow_insecure_http: cli.allow_insecure_http,
        output: crate::output::format(cli.output),
    };
    match cli.command {
        Command::User(c) => user::run(&cx, c).await,
        Command::Token(c) => token::run(&cx, c).await,
        Command::Assignment(c) => assignment::run(&cx, c).await,
        Command::Emulator(args) => emulator::run(args).await,
        Command::Completions { shell } => {
            let mut script = Vec::new();
            clap_complete::generate(
                shell,
                &mut <Cli as clap::CommandFactory>::command(),
                "acs-identity",
                &mut script,
            );
            crate::output::raw(&script)
        }
    }
}
