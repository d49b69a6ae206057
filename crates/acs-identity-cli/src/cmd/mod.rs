//! The commands.

mod assignment;
mod emulator;
mod token;
mod user;

use std::path::PathBuf;

use std::sync::Arc;

use acs_identity::{
    ClientBuilder, CommunicationIdentityClient, CommunicationUserIdentifier, ConnectionString,
    TokenScope,
};

use crate::cli::{Auth, Cli, Command, Output};

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
                "invalid connection string (--connection-string, ACS_CONNECTION_STRING or COMMUNICATION_SERVICES_CONNECTION_STRING): {e}"
            )),
            Error::InsecureEndpoint { host } => Failure::usage(format!(
                "refusing plain http to `{host}`: the access key's signatures and the tokens would cross the network in clear text; use an https endpoint, or pass --allow-insecure-http on a trusted network"
            )),
            // Checked before sending; a nextLink comes from the service.
            Error::InvalidArgument { name, reason } if name != "nextLink" => {
                Failure::usage(format!("invalid {}: {reason}", flag(name)))
            }
            e @ Error::Credential { .. } => Failure::call(format!(
                "{} (--auth entra signs in with the `az login` or `azd auth login` of this machine)",
                with_causes(&e)
            )),
            other => Failure::call(other.to_string()),
        }
    }
}

/// The longest cause shown (a tool's stderr can be a whole traceback).
const MAX_CAUSE: usize = 2000;

/// `e` and each of its causes not already in the text, on one line; a
/// token-like word (a JWT, a long base64url run) a tool may have printed
/// is masked.
fn with_causes(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut cause = e.source();
    while let Some(c) = cause {
        let shown = c.to_string();
        if !text.contains(shown.trim()) {
            text.push_str(": ");
            text.push_str(&shown);
        }
        cause = c.source();
    }
    let mut line = String::with_capacity(text.len());
    for part in text.lines().map(str::trim).filter(|l| !l.is_empty()) {
        if !line.is_empty() {
            line.push_str(if line.ends_with(':') { " " } else { "; " });
        }
        line.push_str(part);
    }
    if let Some((cut, _)) = line.char_indices().nth(MAX_CAUSE) {
        line.truncate(cut);
        line.push('…');
    }
    mask_tokens(&line)
}

/// `text` with each JWT-shaped word (`eyJ…`) and each run of 40 or more
/// base64url characters written as `[hidden]`.
fn mask_tokens(text: &str) -> String {
    let token_char = |c: char| c.is_ascii_alphanumeric() || c == '-' || c == '_';
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find(|c: char| token_char(c)) {
        out.push_str(&rest[..start]);
        let word = &rest[start..];
        let jwt = word.starts_with("eyJ");
        let end = word
            .find(|c: char| !(token_char(c) || (jwt && c == '.')))
            .unwrap_or(word.len());
        let (run, after) = word.split_at(end);
        if (jwt && run.contains('.')) || run.len() >= 40 {
            out.push_str("[hidden]");
        } else {
            out.push_str(run);
        }
        rest = after;
    }
    out.push_str(rest);
    out
}

/// The command-line spelling of a library argument.
fn flag(name: &str) -> String {
    match name {
        "user" => "user id".into(),
        "expires_in" => "--expires-in-minutes".into(),
        "endpoint" => "endpoint in the connection string".into(),
        "credential" => "connection string".into(),
        "user_object_id" => "--user-id".into(),
        "client_id" => "--app-id".into(),
        "teams_user_aad_token" => "--teams-token".into(),
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

/// Parses scope names: only the scopes the service documents, with a
/// suggestion for a near miss.
pub fn scopes(names: &[String]) -> Result<Vec<TokenScope>, Failure> {
    names.iter().map(|name| scope(name.trim())).collect()
}

fn scope(name: &str) -> Result<TokenScope, Failure> {
    let known = TokenScope::KNOWN.map(|s| s.as_str().to_owned());
    let parsed: TokenScope = name
        .parse()
        .map_err(|e| Failure::usage(format!("--scopes: {e}")))?;
    if !matches!(parsed, TokenScope::Other(_)) {
        return Ok(parsed);
    }
    let nearest = known
        .iter()
        .map(|k| (strsim::levenshtein(&name.to_ascii_lowercase(), k), k))
        .min();
    let hint = match nearest {
        Some((distance, k)) if distance <= 2 => format!("; did you mean \"{k}\"?"),
        _ => String::new(),
    };
    Err(Failure::usage(format!(
        "--scopes: unknown scope \"{name}\"{hint} (the scopes are {})",
        known.join(", ")
    )))
}

/// A user id as typed, with a hint when it is not an ACS user id.
pub fn user_id(id: &str) -> Result<CommunicationUserIdentifier, Failure> {
    if !id.starts_with("8:") {
        return Err(Failure::usage(format!(
            "\"{id}\" is not a communication user id: those start with `8:acs:` (as `acs-identity user create` prints them)"
        )));
    }
    Ok(CommunicationUserIdentifier::new(id)?)
}

/// The largest token read from stdin or a file.
const MAX_TOKEN_INPUT: u64 = 64 * 1024;

/// The largest file read for `--jwks` or `--changes @FILE`.
pub const MAX_INPUT_FILE: u64 = 1024 * 1024;

/// Reads at most `limit` bytes from `reader` (never more into memory,
/// whatever it is: `/dev/zero`, a huge file); `None` when there is more.
fn read_bounded(reader: impl std::io::Read, limit: u64) -> std::io::Result<Option<Vec<u8>>> {
    use std::io::Read as _;
    let mut bytes = Vec::new();
    reader.take(limit + 1).read_to_end(&mut bytes)?;
    Ok((bytes.len() as u64 <= limit).then_some(bytes))
}

/// The text of the file `path`, at most [`MAX_INPUT_FILE`] bytes;
/// anything else is a usage error naming it as `what` (which names the
/// flag).
pub fn read_input_file(path: &std::path::Path, what: &str) -> Result<String, Failure> {
    let shown = path.display();
    let bytes = std::fs::File::open(path)
        .and_then(|file| read_bounded(file, MAX_INPUT_FILE))
        .map_err(|e| Failure::usage(format!("could not read the {what} {shown}: {e}")))?
        .ok_or_else(|| {
            Failure::usage(format!(
                "the {what} {shown} is larger than {} KiB",
                MAX_INPUT_FILE / 1024
            ))
        })?;
    String::from_utf8(bytes)
        .map_err(|_| Failure::usage(format!("the {what} {shown} is not UTF-8 text")))
}

/// A token given as `--FLAG TOKEN`, `--FLAG -` (stdin) or `--token-file PATH`.
pub fn token_input(
    value: Option<String>,
    file: Option<PathBuf>,
    flag: &str,
) -> Result<String, Failure> {
    let read = |reader: &mut dyn std::io::Read, from: &str| {
        let bytes = read_bounded(reader, MAX_TOKEN_INPUT)
            .map_err(|e| Failure::usage(format!("could not read the token from {from}: {e}")))?
            .ok_or_else(|| {
                Failure::usage(format!(
                    "the token from {from} is larger than {MAX_TOKEN_INPUT} bytes"
                ))
            })?;
        String::from_utf8(bytes)
            .map_err(|_| Failure::usage(format!("the token from {from} is not UTF-8 text")))
    };
    let (text, from) = match (value, file) {
        (Some(v), _) if v == "-" => (
            read(&mut std::io::stdin().lock(), "stdin")?,
            "stdin".to_owned(),
        ),
        (Some(v), _) => (v, flag.to_owned()),
        (None, Some(path)) => {
            let shown = format!("--token-file {}", path.display());
            let mut f = std::fs::File::open(&path)
                .map_err(|e| Failure::usage(format!("could not open {shown}: {e}")))?;
            (read(&mut f, &shown)?, shown)
        }
        (None, None) => return Err(Failure::usage(format!("give {flag} or --token-file"))),
    };
    let token = text.trim();
    if token.is_empty() {
        return Err(Failure::usage(format!("the token from {from} is empty")));
    }
    Ok(token.to_owned())
}

/// Minutes to a lifetime.
pub fn lifetime(minutes: Option<u32>) -> Option<std::time::Duration> {
    minutes.map(|m| std::time::Duration::from_secs(u64::from(m) * 60))
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_in_a_tools_message_are_masked_and_the_rest_kept() {
        let jwt = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJl";
        let opaque = "0.AXkA".to_string() + &"b".repeat(60);
        let shown = mask_tokens(&format!(
            "ERROR: token {jwt} or {opaque} refused for tenant 72f988bf-86f1-41af-91ab-2d7cd011db47."
        ));
        assert_eq!(
            shown,
            "ERROR: token [hidden] or 0.[hidden] refused for tenant 72f988bf-86f1-41af-91ab-2d7cd011db47."
        );
        assert_eq!(mask_tokens("az not found on PATH"), "az not found on PATH");
    }
}
