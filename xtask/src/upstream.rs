//! `cargo xtask upstream-check`: Microsoft's published files, as published,
//! must regenerate into a raw crate that compiles, and where an api-version
//! is in both trees the code must equal ours apart from prose.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result, bail};
use serde_json::Value;

use crate::check;
use crate::generate::{self, Source};
use crate::swagger2::{self, FsLoader};
use crate::workspace_root;

const DEFAULT_REFERENCE: &str =
    "../shared/reference/azure-rest-api-specs/specification/communication/data-plane";

pub fn run(reference: Option<PathBuf>) -> Result<bool> {
    let root = workspace_root();
    let reference = reference.unwrap_or_else(|| root.join(DEFAULT_REFERENCE));
    if !reference.is_dir() {
        bail!("no reference folder at {}", reference.display());
    }
    let mut ok = true;

    // 1. Prose aside, the published files generate the same code as ours.
    let ours = generate::discover(&root.join("spec"))?;
    let theirs = generate::discover(&reference)?;
    for source in &theirs {
        let Some(mine) = ours.iter().find(|s| s.module == source.module) else {
            println!("{}: upstream only ({})", source.module, source.rel_path);
            continue;
        };
        let a = code_without_prose(&root.join("spec"), mine)?;
        let b = code_without_prose(&reference, source)?;
        if a == b {
            println!(
                "{}: generated code equals ours apart from prose",
                source.module
            );
        } else {
            ok = false;
            println!("{}: generated code differs from ours:", source.module);
            print!(
                "{}",
                check::diff(&a, &b, Path::new(&format!("{}.rs", source.module)))
            );
        }
    }

    // 2. A copy of the raw crate, regenerated from the published files, compiles.
    let krate = root.join("target/upstream-check/acs-identity-raw");
    if krate.exists() {
        std::fs::remove_dir_all(&krate).with_context(|| format!("removing {}", krate.display()))?;
    }
    let raw = root.join("crates/acs-identity-raw");
    std::fs::create_dir_all(krate.join("src"))?;
    std::fs::write(krate.join("Cargo.toml"), standalone_manifest(&root, &raw)?)?;
    for entry in std::fs::read_dir(raw.join("src"))? {
        let path = entry?.path();
        if path.is_file() {
            std::fs::copy(
                &path,
                krate
                    .join("src")
                    .join(path.file_name().expect("a file name")),
            )?;
        }
    }
    // The crate docs include its README.
    std::fs::copy(raw.join("README.md"), krate.join("README.md"))?;
    std::fs::copy(root.join("Cargo.lock"), krate.join("Cargo.lock"))?;
    let files = generate::generate_all(&reference, "upstream")?;
    check::write_files(&krate, &files)?;
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let status = Command::new(cargo)
        .args(["check", "--quiet", "--lib", "--manifest-path"])
        .arg(krate.join("Cargo.toml"))
        .env(
            "CARGO_TARGET_DIR",
            root.join("target/upstream-check/target"),
        )
        .status()
        .context("running cargo check")?;
    let modules: Vec<&str> = theirs.iter().map(|s| s.module.as_str()).collect();
    if status.success() {
        println!(
            "raw crate regenerated from the published files compiles ({})",
            modules.join(", ")
        );
    } else {
        ok = false;
        println!("raw crate regenerated from the published files does not compile");
    }
    Ok(ok)
}

/// The generated module for one source, with every prose key removed from the
/// converted document first (so only facts shape the text).
fn code_without_prose(spec_dir: &Path, source: &Source) -> Result<String> {
    let mut doc = swagger2::convert(&spec_dir.join(&source.rel_path), &mut FsLoader::default())?;
    strip_prose(&mut doc);
    generate::generate_module(&doc)
}

fn strip_prose(value: &mut Value) {
    match value {
        Value::Object(map) => {
            // Some prose keys are required (a response's `description`, the
            // `title` in `info`): those are emptied, the rest removed.
            for key in ["description", "summary"] {
                if let Some(v) = map.get_mut(key).filter(|v| v.is_string()) {
                    *v = Value::String(String::new());
                }
            }
            if map.contains_key("version") && map.get("title").is_some_and(Value::is_string) {
                map.insert("title".into(), Value::String(String::new()));
            } else if map.get("title").is_some_and(Value::is_string) {
                map.remove("title");
            }
            map.remove("example");
            map.values_mut().for_each(strip_prose);
        }
        Value::Array(items) => items.iter_mut().for_each(strip_prose),
        _ => {}
    }
}

/// The raw crate's manifest, made standalone: `workspace = true` entries are
/// replaced by the workspace's values, so the copy builds outside it.
fn standalone_manifest(root: &Path, raw: &Path) -> Result<String> {
    let read = |p: &Path| -> Result<toml::Table> {
        let text =
            std::fs::read_to_string(p).with_context(|| format!("reading {}", p.display()))?;
        text.parse::<toml::Table>()
            .with_context(|| format!("parsing {}", p.display()))
    };
    let workspace = read(&root.join("Cargo.toml"))?;
    let mut manifest = read(&raw.join("Cargo.toml"))?;
    let ws = workspace
        .get("workspace")
        .and_then(|w| w.as_table())
        .context("no [workspace]")?;
    let ws_package = ws
        .get("package")
        .and_then(|p| p.as_table())
        .cloned()
        .unwrap_or_default();
    let ws_deps = ws
        .get("dependencies")
        .and_then(|d| d.as_table())
        .cloned()
        .unwrap_or_default();

    if let Some(package) = manifest.get_mut("package").and_then(|p| p.as_table_mut()) {
        for (key, value) in package.iter_mut() {
            if is_workspace_ref(value) {
                *value = ws_package
                    .get(key)
                    .cloned()
                    .with_context(|| format!("workspace.package.{key}"))?;
            }
        }
    }
    if let Some(deps) = manifest
        .get_mut("dependencies")
        .and_then(|d| d.as_table_mut())
    {
        for (name, dep) in deps.iter_mut() {
            if is_workspace_ref(dep) {
                let inherited = ws_deps
                    .get(name)
                    .cloned()
                    .with_context(|| format!("workspace dependency {name}"))?;
                *dep = inherit(inherited, dep);
            }
        }
    }
    manifest.remove("dev-dependencies");
    manifest.remove("lints");
    manifest.insert("workspace".into(), toml::Value::Table(toml::Table::new()));
    Ok(toml::to_string(&manifest)?)
}

/// A workspace dependency with what the member adds to it: `features` are
/// added to the workspace's, and `optional` (and anything else) is the
/// member's, as cargo reads `{ workspace = true, ... }`.
fn inherit(inherited: toml::Value, member: &toml::Value) -> toml::Value {
    let mut table = match inherited {
        toml::Value::Table(t) => t,
        version => toml::Table::from_iter([("version".to_owned(), version)]),
    };
    if let Some(extra) = member.as_table() {
        for (key, value) in extra {
            match (key.as_str(), table.get_mut(key), value) {
                ("workspace", ..) => {}
                ("features", Some(toml::Value::Array(have)), toml::Value::Array(more)) => {
                    have.extend(more.iter().cloned())
                }
                _ => {
                    table.insert(key.clone(), value.clone());
                }
            }
        }
    }
    toml::Value::Table(table)
}

fn is_workspace_ref(value: &toml::Value) -> bool {
    value.get("workspace").and_then(toml::Value::as_bool) == Some(true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn member_keys_are_kept_when_a_dependency_is_inherited() {
        let member: toml::Value =
            toml::from_str("workspace = true\noptional = true\nfeatures = [\"b\"]").unwrap();
        let table: toml::Value = toml::from_str("version = \"1\"\nfeatures = [\"a\"]").unwrap();
        let got = inherit(table, &member);
        assert_eq!(got["version"].as_str(), Some("1"));
        assert_eq!(got["optional"].as_bool(), Some(true));
        assert_eq!(
            got["features"],
            toml::Value::Array(vec!["a".into(), "b".into()])
        );
        assert!(got.get("workspace").is_none());
        let plain = inherit(toml::Value::String("=0.15.1".into()), &member);
        assert_eq!(plain["version"].as_str(), Some("=0.15.1"));
        assert_eq!(plain["optional"].as_bool(), Some(true));
    }

    #[test]
    fn prose_is_emptied_or_removed() {
        let mut v = serde_json::json!({
            "info": {"title": "T", "version": "1", "description": "d"},
            "components": {"schemas": {"A": {"title": "A", "description": "x", "type": "string"}}}
        });
        strip_prose(&mut v);
        assert_eq!(
            v["info"],
            serde_json::json!({"title": "", "version": "1", "description": ""})
        );
        assert_eq!(
            v["components"]["schemas"]["A"],
            serde_json::json!({"description": "", "type": "string"})
        );
    }
}
