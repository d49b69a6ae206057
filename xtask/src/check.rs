//! Comparing generated files with what is on disk, and writing them.

use std::fmt;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use similar::TextDiff;

use crate::generate::Files;

/// A file on disk that does not match what the generator produces.
pub struct Stale {
    path: PathBuf,
    kind: StaleKind,
}

enum StaleKind {
    Missing,
    Extra,
    Differs { diff: String },
}

impl fmt::Display for Stale {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let path = self.path.display();
        match &self.kind {
            StaleKind::Missing => write!(f, "missing: {path} (the generator produces it)"),
            StaleKind::Extra => write!(f, "extra: {path} (no spec produces it any more)"),
            StaleKind::Differs { diff } => write!(f, "differs: {path}\n{diff}"),
        }
    }
}

/// The generated folders the generator owns inside the output crate.
const OWNED: &[(&str, &str)] = &[("src/generated", "rs"), ("openapi", "json")];

/// Lists every difference between `files` and the output crate at `out_dir`.
pub fn stale_files(out_dir: &Path, files: &Files) -> Result<Vec<Stale>> {
    let mut stale = Vec::new();
    for (rel, want) in files {
        let path = out_dir.join(rel);
        match std::fs::read_to_string(&path) {
            Ok(have) => {
                let have = have.replace("\r\n", "\n");
                if &have != want {
                    stale.push(Stale {
                        path: rel.clone(),
                        kind: StaleKind::Differs {
                            diff: diff(&have, want, rel),
                        },
                    });
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                stale.push(Stale {
                    path: rel.clone(),
                    kind: StaleKind::Missing,
                });
            }
            Err(e) => return Err(e).with_context(|| format!("reading {}", path.display())),
        }
    }
    for rel in owned_files(out_dir)? {
        if !files.contains_key(&rel) {
            stale.push(Stale {
                path: rel,
                kind: StaleKind::Extra,
            });
        }
    }
    Ok(stale)
}

/// Writes the files that differ, removes owned files nothing produces, and
/// returns how many files changed.
pub fn write_files(out_dir: &Path, files: &Files) -> Result<usize> {
    let mut changed = 0;
    for (rel, text) in files {
        let path = out_dir.join(rel);
        if std::fs::read_to_string(&path).ok().as_deref() == Some(text.as_str()) {
            continue;
        }
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)
                .with_context(|| format!("creating {}", parent.display()))?;
        }
        // Write beside, then rename: an interrupted run leaves no half file.
        let tmp = path.with_extension("tmp");
        std::fs::write(&tmp, text).with_context(|| format!("writing {}", tmp.display()))?;
        std::fs::rename(&tmp, &path).with_context(|| format!("replacing {}", path.display()))?;
        changed += 1;
    }
    for rel in owned_files(out_dir)? {
        if !files.contains_key(&rel) {
            let path = out_dir.join(&rel);
            std::fs::remove_file(&path).with_context(|| format!("removing {}", path.display()))?;
            changed += 1;
        }
    }
    Ok(changed)
}

fn owned_files(out_dir: &Path) -> Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    for (dir, ext) in OWNED {
        let full = out_dir.join(dir);
        let Ok(entries) = std::fs::read_dir(&full) else {
            continue;
        };
        for entry in entries {
            let path = entry
                .with_context(|| format!("listing {}", full.display()))?
                .path();
            if path.extension().and_then(|e| e.to_str()) == Some(ext) {
                let name = path.file_name().expect("listed files have names");
                out.push(Path::new(dir).join(name));
            }
        }
    }
    out.sort();
    Ok(out)
}

/// A unified diff, cut after a screenful per file.
pub fn diff(have: &str, want: &str, rel: &Path) -> String {
    const MAX_LINES: usize = 80;
    let name = rel.display().to_string();
    let text = TextDiff::from_lines(have, want)
        .unified_diff()
        .context_radius(3)
        .header(
            &format!("{name} (checked in)"),
            &format!("{name} (generated)"),
        )
        .to_string();
    let total = text.lines().count();
    if total <= MAX_LINES {
        return text;
    }
    let mut cut: String = text
        .lines()
        .take(MAX_LINES)
        .map(|l| format!("{l}\n"))
        .collect();
    cut.push_str(&format!("… {} more diff lines\n", total - MAX_LINES));
    cut
}

#[cfg(test)]
mod tests {
    use super::*;

    fn files(entries: &[(&str, &str)]) -> Files {
        entries
            .iter()
            .map(|(p, t)| (PathBuf::from(p), t.to_string()))
            .collect()
    }

    #[test]
    fn write_then_check_is_clean_and_edits_are_reported_with_a_diff() {
        let dir = std::env::temp_dir().join(format!("xtask-check-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let want = files(&[
            ("src/generated/mod.rs", "pub mod a;\n"),
            ("src/generated/a.rs", "fn a() {}\n"),
        ]);
        assert_eq!(write_files(&dir, &want).unwrap(), 2);
        assert!(stale_files(&dir, &want).unwrap().is_empty());
        assert_eq!(
            write_files(&dir, &want).unwrap(),
            0,
            "a second run changes nothing"
        );

        std::fs::write(dir.join("src/generated/a.rs"), "fn a() { edited() }\n").unwrap();
        std::fs::write(dir.join("src/generated/old.rs"), "").unwrap();
        std::fs::remove_file(dir.join("src/generated/mod.rs")).unwrap();
        let report: Vec<String> = stale_files(&dir, &want)
            .unwrap()
            .iter()
            .map(|s| s.to_string())
            .collect();
        assert_eq!(report.len(), 3, "{report:?}");
        assert!(
            report
                .iter()
                .any(|r| r.starts_with("differs: src/generated/a.rs")
                    && r.contains("-fn a() { edited() }")
                    && r.contains("+fn a() {}"))
        );
        assert!(
            report
                .iter()
                .any(|r| r.starts_with("missing: src/generated/mod.rs"))
        );
        assert!(
            report
                .iter()
                .any(|r| r.starts_with("extra: src/generated/old.rs"))
        );

        // Writing again restores the files and removes the stray one.
        write_files(&dir, &want).unwrap();
        assert!(stale_files(&dir, &want).unwrap().is_empty());
        assert!(!dir.join("src/generated/old.rs").exists());
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn crlf_checkouts_are_not_stale() {
        let dir = std::env::temp_dir().join(format!("xtask-crlf-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("openapi")).unwrap();
        std::fs::write(dir.join("openapi/a.json"), "{\r\n}\r\n").unwrap();
        assert!(
            stale_files(&dir, &files(&[("openapi/a.json", "{\n}\n")]))
                .unwrap()
                .is_empty()
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn long_diffs_are_cut() {
        let have: String = (0..200).map(|i| format!("{i}\n")).collect();
        let d = diff(&have, "", Path::new("x.rs"));
        assert!(d.lines().count() <= 81);
        assert!(d.contains("more diff lines"));
    }
}
