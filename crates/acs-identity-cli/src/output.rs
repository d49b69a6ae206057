//! All printing to stdout goes through here.

use std::io::{IsTerminal, Write};

use serde_json::Value;

use crate::cli::Output;
use crate::failure::Failure;

/// Picks the format: as asked, else JSON when stdout is not a terminal.
pub fn format(asked: Option<Output>) -> Output {
    asked.unwrap_or_else(|| {
        if std::io::stdout().is_terminal() {
            Output::Table
        } else {
            Output::Json
        }
    })
}

/// Prints a value in the chosen format.
///
/// # Errors
///
/// A failed write to stdout (a full disk, a closed pipe).
pub fn print(format: Output, value: &Value) -> Result<(), Failure> {
    let mut out = std::io::stdout().lock();
    match format {
        // serde_json escapes every control character in strings.
        Output::Json => serde_json::to_writer_pretty(&mut out, value)
            .map_err(std::io::Error::from)
            .and_then(|()| writeln!(out)),
        Output::Table => {
            let mut rows = Vec::new();
            flatten("", value, &mut rows);
            let rows: Vec<(String, String)> = rows
                .into_iter()
                .map(|(k, v)| (terminal_safe(&k), terminal_safe(&v)))
                .collect();
            let width = rows
                .iter()
                .map(|(k, _)| k.chars().count())
                .max()
                .unwrap_or(0);
            rows.iter()
                .try_for_each(|(key, value)| writeln!(out, "{key:width$}  {value}"))
        }
    }
    .and_then(|()| out.flush())
    .map_err(write_failed)
}

/// Prints one line (e.g. the emulator's connection string) and flushes.
///
/// # Errors
///
/// A failed write to stdout.
pub fn line(text: &str) -> Result<(), Failure> {
    let mut out = std::io::stdout().lock();
    writeln!(out, "{}", terminal_safe(text))
        .and_then(|()| out.flush())
        .map_err(write_failed)
}

/// Prints a confirmation for commands that return nothing: only in table
/// format (JSON output stays empty, the exit code tells).
///
/// # Errors
///
/// A failed write to stdout.
pub fn done(format: Output, message: &str) -> Result<(), Failure> {
    if format == Output::Table {
        line(message)?;
    }
    Ok(())
}

/// Writes text the command itself made (a completion script) as it is.
///
/// # Errors
///
/// A failed write to stdout.
pub fn raw(bytes: &[u8]) -> Result<(), Failure> {
    let mut out = std::io::stdout().lock();
    out.write_all(bytes)
        .and_then(|()| out.flush())
        .map_err(write_failed)
}

/// Writes `error: …` to stderr. A failure to write there has nowhere to be
/// reported, so it is ignored (the exit code still tells).
pub fn error(failure: &Failure) {
    let mut err = std::io::stderr().lock();
    let _ = writeln!(err, "error: {}", terminal_safe(&failure.to_string()));
    let _ = err.flush();
}

fn write_failed(e: std::io::Error) -> Failure {
    Failure::call(format!("could not write to stdout: {e}"))
}

/// `text` with every character that a terminal would act on written as an
/// escape instead (`\u{1b}`): C0 and C1 controls, DEL, and the Unicode
/// marks that reorder or hide text. Whatever the server sends is shown,
/// never obeyed.
pub fn terminal_safe(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        let acts = c.is_control()
            || matches!(c, '\u{200b}'..='\u{200f}' | '\u{2028}'..='\u{202e}' | '\u{2066}'..='\u{2069}' | '\u{feff}');
        if acts {
            out.extend(c.escape_unicode());
        } else {
            out.push(c);
        }
    }
    out
}

fn flatten(prefix: &str, value: &Value, rows: &mut Vec<(String, String)>) {
    match value {
        Value::Object(map) => {
            for (k, v) in map {
                let key = if prefix.is_empty() {
                    k.clone()
                } else {
                    format!("{prefix}.{k}")
                };
                flatten(&key, v, rows);
            }
        }
        Value::Array(items) if items.iter().any(|i| i.is_object()) => {
            for (i, v) in items.iter().enumerate() {
                flatten(&format!("{prefix}[{i}]"), v, rows);
            }
        }
        Value::Array(items) => {
            let parts: Vec<String> = items.iter().map(scalar).collect();
            rows.push((prefix.to_string(), parts.join(",")));
        }
        other => rows.push((prefix.to_string(), scalar(other))),
    }
}

fn scalar(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn controls_and_reordering_marks_are_escaped() {
        assert_eq!(terminal_safe("plain text: é, 日本"), "plain text: é, 日本");
        assert_eq!(terminal_safe("a\u{1b}[2Jb\u{7}"), "a\\u{1b}[2Jb\\u{7}");
        assert_eq!(
            terminal_safe("\u{9b}31m\r\n\t\u{7f}"),
            "\\u{9b}31m\\u{d}\\u{a}\\u{9}\\u{7f}"
        );
        assert_eq!(terminal_safe("x\u{202e}y\u{2066}"), "x\\u{202e}y\\u{2066}");
        for c in (0u32..0x20).chain(0x7f..0xa0).filter_map(char::from_u32) {
            assert!(!terminal_safe(&format!("<{c}>")).contains(c), "{:?}", c);
        }
    }

    #[test]
    fn nested_values_flatten_to_dotted_rows() {
        let mut rows = Vec::new();
        flatten(
            "",
            &json!({"identity": {"id": "8:acs:1"}, "scopes": ["chat", "voip"], "value": [{"a": 1}]}),
            &mut rows,
        );
        assert_eq!(
            rows,
            [
                ("identity.id".to_string(), "8:acs:1".to_string()),
                ("scopes".into(), "chat,voip".into()),
                ("value[0].a".into(), "1".into())
            ]
        );
    }
}
