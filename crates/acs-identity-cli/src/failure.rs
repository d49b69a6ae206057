//! A failed command: its message and its exit code, and how the library's
//! errors read on the command line.

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
