//! All printing to stdout goes through here.
#![allow(clippy::print_stdout)]

use std::io::{IsTerminal, Write};

use serde_json::Value;

use crate::cli::Output;

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
pub fn print(format: Output, value: &Value) {
    match format {
        Output::Json => println!(
            "{}",
            serde_json::to_string_pretty(value).expect("a Value serialises")
        ),
        Output::Table => {
            let mut rows = Vec::new();
            flatten("", value, &mut rows);
            let width = rows.iter().map(|(k, _)| k.len()).max().unwrap_or(0);
            for (key, value) in rows {
                println!("{key:width$}  {value}");
            }
        }
    }
}

/// Prints one line (e.g. the emulator's connection string) and flushes.
pub fn line(text: &str) {
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{text}");
    let _ = out.flush();
}

/// Prints a confirmation for commands that return nothing: only in table
/// format (JSON output stays empty, the exit code tells).
pub fn done(format: Output, message: &str) {
    if format == Output::Table {
        println!("{message}");
    }
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
