//! Turns the workspace README's ```rust blocks into tests (`tests/e2e/readme.rs`
//! includes what this writes). Each block is a complete piece of code a
//! reader can copy, so it may not hide setup behind `# ` lines; it defines
//! one `async fn` whose parameters the test supplies by name
//! (`connection_string`, `teams_token`, `entra_token`).

use std::fmt::Write as _;
use std::path::Path;

fn main() {
    let readme = Path::new(env!("CARGO_MANIFEST_DIR")).join("../README.md");
    println!("cargo::rerun-if-changed={}", readme.display());
    let text = std::fs::read_to_string(&readme).expect("the workspace README");
    let mut out = String::new();
    for (n, block) in rust_blocks(&text).into_iter().enumerate() {
        let (name, params) = function(&block)
            .unwrap_or_else(|| panic!("README rust block {}: no `async fn NAME(...)`", n + 1));
        if let Some(line) = block.lines().find(|l| l == &"#" || l.starts_with("# ")) {
            panic!(
                "README rust block {} ({name}) hides a line: {line:?}",
                n + 1
            );
        }
        let module = format!("block_{}_{name}", n + 1);
        let args: Vec<String> = params
            .iter()
            .map(|p| match p.as_str() {
                "connection_string" => "&setting.connection_string".to_owned(),
                // The emulator reads a user's token by its claims: the
                // Teams user's token serves as the Entra user's too.
                "teams_token" | "entra_token" => "&setting.teams_token".to_owned(),
                other => panic!("README block {name}: no value for parameter `{other}`"),
            })
            .collect();
        let teams = params
            .iter()
            .any(|p| p == "teams_token" || p == "entra_token");
        // The test sits in the block's module, where its function is visible.
        writeln!(
            out,
            "mod {module} {{\n{block}\n#[tokio::test]\nasync fn readme_{name}() {{\n    let setting = crate::readme::Setting::new({teams}).await;\n    {name}({}).await.expect(\"README block {name}\");\n}}\n}}",
            args.join(", ")
        )
        .unwrap();
    }
    let dest = Path::new(&std::env::var("OUT_DIR").unwrap()).join("readme.rs");
    std::fs::write(dest, out).unwrap();
}

/// The bodies of the ```rust code blocks.
fn rust_blocks(text: &str) -> Vec<String> {
    let mut blocks = Vec::new();
    let mut current: Option<String> = None;
    for line in text.lines() {
        match (&mut current, line.trim_end()) {
            (None, "```rust") => current = Some(String::new()),
            (Some(_), "```") => blocks.extend(current.take()),
            (Some(body), _) => {
                body.push_str(line);
                body.push('\n');
            }
            (None, _) => {}
        }
    }
    blocks
}

/// The name and parameter names of the block's first `async fn`.
fn function(block: &str) -> Option<(String, Vec<String>)> {
    let start = block.find("async fn ")? + "async fn ".len();
    let rest = &block[start..];
    let open = rest.find('(')?;
    let close = rest.find(')')?;
    let params = rest[open + 1..close]
        .split(',')
        .filter_map(|p| p.split(':').next())
        .map(|p| p.trim().to_owned())
        .filter(|p| !p.is_empty())
        .collect();
    Some((rest[..open].trim().to_owned(), params))
}
