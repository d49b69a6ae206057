//! What the user typed, checked and read: scope names, user ids, tokens
//! (inline, stdin or a file), input files and lifetimes.

use std::path::PathBuf;

use acs_identity::{CommunicationUserIdentifier, TokenScope};

use crate::failure::Failure;

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
