//! From the swagger files under a spec folder to the files of the raw crate.
//!
//! Each `<Service>/{stable,preview}/<api-version>/<Name>.json` with operations
//! becomes two files: `openapi/<module>.json` (the converted document, for
//! review) and `src/generated/<module>.rs` (the progenitor client), where
//! `<module>` is `v` plus the api-version with `-` and `.` as `_`. A
//! generated `src/generated/mod.rs` declares the modules.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use progenitor::{GenerationSettings, Generator, HooksMode, InterfaceStyle, TagStyle};
use quote::quote;
use serde_json::Value;

use crate::swagger2::{self, FsLoader};

/// The generator versions, named in every header (they are pinned with `=`
/// in `xtask/Cargo.toml`; the text below depends on them).
pub const GENERATOR: &str = "progenitor =0.15.1, typify =0.8.0, prettyplease =0.3.0";

/// One api-version found in the spec folder.
#[derive(Debug, Clone)]
pub struct Source {
    /// Path relative to the spec folder, with `/` separators.
    pub rel_path: String,
    /// The api-version (its folder name).
    pub version: String,
    /// The Rust module name.
    pub module: String,
}

/// The files one run produces, keyed by path relative to the output crate.
pub type Files = BTreeMap<PathBuf, String>;

/// Finds the api-versions under `spec_dir`: JSON files three folders deep
/// below a service folder (`Identity/stable/2025-06-30/X.json`) that are
/// Swagger 2.0 documents with at least one path.
pub fn discover(spec_dir: &Path) -> Result<Vec<Source>> {
    let mut found = Vec::new();
    for service in read_dir_sorted(spec_dir)? {
        if !service.is_dir() {
            continue;
        }
        for kind in ["stable", "preview"] {
            let kind_dir = service.join(kind);
            if !kind_dir.is_dir() {
                continue;
            }
            for version_dir in read_dir_sorted(&kind_dir)? {
                if !version_dir.is_dir() {
                    continue;
                }
                for file in read_dir_sorted(&version_dir)? {
                    if file.extension().and_then(|e| e.to_str()) != Some("json") {
                        continue;
                    }
                    let text = std::fs::read_to_string(&file)
                        .with_context(|| format!("reading {}", file.display()))?;
                    let doc: Value = serde_json::from_str(&text)
                        .with_context(|| format!("parsing {}", file.display()))?;
                    let has_paths = doc
                        .get("paths")
                        .and_then(Value::as_object)
                        .is_some_and(|p| !p.is_empty());
                    if doc.get("swagger").and_then(Value::as_str) != Some("2.0") || !has_paths {
                        continue;
                    }
                    let version = file_name(&version_dir);
                    let rel = file.strip_prefix(spec_dir).unwrap_or(&file);
                    let rel_path = rel
                        .components()
                        .map(|c| c.as_os_str().to_string_lossy().into_owned())
                        .collect::<Vec<_>>()
                        .join("/");
                    found.push(Source {
                        rel_path,
                        module: module_name(&version),
                        version,
                    });
                }
            }
        }
    }
    found.sort_by(|a, b| a.module.cmp(&b.module));
    for pair in found.windows(2) {
        if pair[0].module == pair[1].module {
            bail!(
                "{} and {} would both become module `{}`: keep one file per api-version",
                pair[0].rel_path,
                pair[1].rel_path,
                pair[0].module
            );
        }
    }
    if found.is_empty() {
        bail!(
            "no Swagger 2.0 files with operations under {}",
            spec_dir.display()
        );
    }
    Ok(found)
}

/// `2025-03-02-preview` → `v2025_03_02_preview`.
pub fn module_name(version: &str) -> String {
    let body: String = version
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '_'
            }
        })
        .collect();
    format!("v{body}")
}

/// Generates every file for the api-versions under `spec_dir`. `shown_root`
/// is how the spec folder is named in headers (kept relative so the output
/// does not depend on where the checkout lives).
pub fn generate_all(spec_dir: &Path, shown_root: &str) -> Result<Files> {
    let sources = discover(spec_dir)?;
    let mut files = Files::new();
    let mut loader = FsLoader::default();
    // Every api-version and its operations: those with a file here, then
    // the older ones each service's `api-versions.json` lists.
    let mut versions: BTreeMap<String, Vec<String>> = older_versions(spec_dir)?;
    for source in &sources {
        let shown = format!("{}/{}", shown_root.trim_end_matches('/'), source.rel_path);
        let path = spec_dir.join(&source.rel_path);
        let openapi =
            swagger2::convert(&path, &mut loader).with_context(|| format!("converting {shown}"))?;
        let code = generate_module(&openapi).with_context(|| format!("generating from {shown}"))?;
        if versions
            .insert(source.version.clone(), operation_names(&openapi))
            .is_some()
        {
            bail!(
                "{} is listed in api-versions.json and has a file too",
                source.version
            );
        }
        let header = format!(
            "// @generated by `cargo xtask regen` from {shown} ({GENERATOR}). Do not edit.\n\n"
        );
        files.insert(
            PathBuf::from(format!("openapi/{}.json", source.module)),
            to_json(&openapi),
        );
        files.insert(
            PathBuf::from(format!("src/generated/{}.rs", source.module)),
            format!("{header}{code}"),
        );
    }
    files.insert(
        PathBuf::from("src/generated/mod.rs"),
        mod_rs(&sources, &versions, shown_root),
    );
    Ok(files)
}

/// The method names of a converted document's operations, sorted.
fn operation_names(openapi: &Value) -> Vec<String> {
    let mut names: Vec<String> = openapi
        .get("paths")
        .and_then(Value::as_object)
        .into_iter()
        .flat_map(|paths| paths.values())
        .filter_map(Value::as_object)
        .flat_map(|item| item.values())
        .filter_map(|op| op.get("operationId").and_then(Value::as_str))
        .map(str::to_owned)
        .collect();
    names.sort_unstable();
    names
}

/// The api-versions each service folder's `api-versions.json` lists: the
/// service's older versions, which have no file here, with the (method)
/// names of their operations. `{"versions": {"2021-03-07": ["create_identity", …]}}`.
fn older_versions(spec_dir: &Path) -> Result<BTreeMap<String, Vec<String>>> {
    let mut out = BTreeMap::new();
    for service in read_dir_sorted(spec_dir)? {
        let index = service.join("api-versions.json");
        if !index.is_file() {
            continue;
        }
        let text = std::fs::read_to_string(&index)
            .with_context(|| format!("reading {}", index.display()))?;
        let doc: Value =
            serde_json::from_str(&text).with_context(|| format!("parsing {}", index.display()))?;
        let listed = doc
            .get("versions")
            .and_then(Value::as_object)
            .with_context(|| format!("{}: no `versions` object", index.display()))?;
        for (version, ops) in listed {
            let mut names: Vec<String> = ops
                .as_array()
                .with_context(|| format!("{}: {version} is not a list", index.display()))?
                .iter()
                .map(|op| {
                    op.as_str().map(str::to_owned).with_context(|| {
                        format!(
                            "{}: {version} has a name that is not a string",
                            index.display()
                        )
                    })
                })
                .collect::<Result<_>>()?;
            names.sort_unstable();
            out.insert(version.clone(), names);
        }
    }
    Ok(out)
}

fn to_json(value: &Value) -> String {
    let mut text = serde_json::to_string_pretty(value).expect("a Value always serialises");
    text.push('\n');
    text
}

fn mod_rs(
    sources: &[Source],
    versions: &BTreeMap<String, Vec<String>>,
    shown_root: &str,
) -> String {
    let mut out = format!(
        "// @generated by `cargo xtask regen` from the files under {shown_root} ({GENERATOR}). Do not edit.\n\
         //! The generated clients, one module per api-version, and the list of\n\
         //! every api-version with its operations.\n\n"
    );
    for s in sources {
        out.push_str(&format!(
            "/// The client for api-version `{}` (from `{}`).\npub mod {};\n",
            s.version, s.rel_path, s.module
        ));
    }
    out.push_str(
        "\n/// An api-version of the service and the operations it has.\n\
         #[derive(Debug, Clone, Copy, PartialEq, Eq)]\n\
         pub struct ApiVersion {\n\
         \x20   /// The `api-version` query value.\n\
         \x20   pub version: &'static str,\n\
         \x20   /// Whether it is a preview (`-preview` suffix).\n\
         \x20   pub preview: bool,\n\
         \x20   /// The operations, by the method names of the generated clients, sorted.\n\
         \x20   pub operations: &'static [&'static str],\n\
         }\n\
         \n\
         impl ApiVersion {\n\
         \x20   /// Whether `operation` (a method name) exists in this api-version.\n\
         \x20   pub fn has(&self, operation: &str) -> bool {\n\
         \x20       self.operations.binary_search(&operation).is_ok()\n\
         \x20   }\n\
         }\n\
         \n\
         /// Every api-version the project knows, oldest first: those with a\n\
         /// generated module, and the older ones the service still accepts.\n\
         pub const API_VERSIONS: &[ApiVersion] = &[\n",
    );
    for (version, ops) in versions {
        let preview = version.contains("-preview");
        out.push_str(&format!(
            "    ApiVersion {{\n        version: {version:?},\n        preview: {preview},\n        operations: &[\n"
        ));
        for op in ops {
            out.push_str(&format!("            {op:?},\n"));
        }
        out.push_str("        ],\n    },\n");
    }
    out.push_str("];\n");
    for (name, preview, what) in [
        ("STABLE_VERSIONS", false, "stable"),
        ("PREVIEW_VERSIONS", true, "preview"),
    ] {
        out.push_str(&format!(
            "\n/// The {what} api-versions, oldest first.\npub const {name}: &[&str] = &[\n"
        ));
        for version in versions
            .keys()
            .filter(|v| v.contains("-preview") == preview)
        {
            out.push_str(&format!("    {version:?},\n"));
        }
        out.push_str("];\n");
    }
    out
}

/// Runs progenitor on one converted document and formats the result.
pub fn generate_module(openapi: &Value) -> Result<String> {
    let (spec, content_types) = for_progenitor(openapi)?;
    let mut settings = GenerationSettings::new();
    settings
        .with_interface(InterfaceStyle::Positional)
        .with_tag(TagStyle::Merged)
        .with_inner_type(quote!(crate::Inner))
        .with_hooks(HooksMode::Expected)
        .with_derive("schemars::JsonSchema")
        .with_derive("PartialEq");
    let mut generator = Generator::new(&settings);
    let tokens = generator
        .generate_tokens(&spec)
        .map_err(|e| anyhow::anyhow!("{e}"))?;

    let entries = content_types.iter().map(|(op, ct)| quote!((#op, #ct)));
    let extra = quote! {
        /// Request content types other than `application/json`, by method
        /// name: progenitor writes bodies as JSON, and the hooks put the
        /// content type the service expects on the wire.
        pub const REQUEST_CONTENT_TYPES: &[(&str, &str)] = &[#(#entries),*];

        crate::hooks::wire_hooks!();
    };
    let mut file: syn::File =
        syn::parse2(quote!(#tokens #extra)).context("parsing generated code")?;
    schemars_behind_feature(&mut file.items)?;
    Ok(prettyplease::unparse(&file))
}

/// Moves `schemars::JsonSchema` out of every derive list into
/// `#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]`, so
/// the raw crate needs schemars (and its derive macro) only when a user asks
/// for the schemas with the crate's `schemars` feature.
fn schemars_behind_feature(items: &mut [syn::Item]) -> Result<()> {
    for item in items {
        let attrs = match item {
            syn::Item::Struct(s) => &mut s.attrs,
            syn::Item::Enum(e) => &mut e.attrs,
            syn::Item::Mod(m) => {
                if let Some((_, content)) = &mut m.content {
                    schemars_behind_feature(content)?;
                }
                continue;
            }
            _ => continue,
        };
        let mut found = false;
        for attr in attrs.iter_mut() {
            if !attr.path().is_ident("derive") {
                continue;
            }
            let paths = attr
                .parse_args_with(
                    syn::punctuated::Punctuated::<syn::Path, syn::Token![,]>::parse_terminated,
                )
                .context("reading a derive list")?;
            let kept: Vec<&syn::Path> = paths
                .iter()
                .filter(|p| quote!(#p).to_string().replace(' ', "") != "schemars::JsonSchema")
                .collect();
            if kept.len() != paths.len() {
                found = true;
                *attr = syn::parse_quote!(#[derive(#(#kept),*)]);
            }
        }
        if found {
            attrs.push(syn::parse_quote!(
                #[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
            ));
        }
    }
    Ok(())
}

/// Adapts a converted document to what progenitor reads: request bodies in a
/// `+json` content type (merge-patch) are declared as `application/json`,
/// and the real type is returned by method name.
fn for_progenitor(openapi: &Value) -> Result<(openapiv3::OpenAPI, Vec<(String, String)>)> {
    let mut doc = openapi.clone();
    let mut content_types = Vec::new();
    for item in doc
        .get_mut("paths")
        .and_then(Value::as_object_mut)
        .into_iter()
        .flat_map(|p| p.values_mut())
    {
        for op in item
            .as_object_mut()
            .into_iter()
            .flat_map(|i| i.values_mut())
        {
            let name = op
                .get("operationId")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string();
            raw_when_success_shapes_differ(op);
            let Some(content) = op
                .pointer_mut("/requestBody/content")
                .and_then(Value::as_object_mut)
            else {
                continue;
            };
            let json_like: Vec<String> = content
                .keys()
                .filter(|ct| *ct != "application/json" && ct.ends_with("+json"))
                .cloned()
                .collect();
            for ct in json_like {
                if content.contains_key("application/json") {
                    content.remove(&ct);
                    continue;
                }
                let body = content.remove(&ct).expect("key just listed");
                content.insert("application/json".into(), body);
                content_types.push((name.clone(), ct));
            }
        }
    }
    let spec = serde_json::from_value(doc)
        .context("the converted document is not OpenAPI 3.0 as openapiv3 reads it")?;
    Ok((spec, content_types))
}

/// progenitor generates one success type per operation. Where the success
/// responses differ in shape (`update_entra_assignments`: 200 with a list,
/// 204 with nothing), every success response is declared as raw bytes, so
/// the method returns the status and the body stream and the caller decodes
/// the body by status (the types are still generated from the schemas).
fn raw_when_success_shapes_differ(op: &mut Value) {
    let Some(responses) = op.get_mut("responses").and_then(Value::as_object_mut) else {
        return;
    };
    let is_success = |code: &str| code.starts_with('2');
    let shapes: std::collections::BTreeSet<String> = responses
        .iter()
        .filter(|(code, _)| is_success(code))
        .map(|(_, r)| r.get("content").map(Value::to_string).unwrap_or_default())
        .collect();
    if shapes.len() <= 1 {
        return;
    }
    for (_, response) in responses.iter_mut().filter(|(code, _)| is_success(code)) {
        response["content"] = serde_json::json!({ "application/octet-stream": {} });
    }
}

fn read_dir_sorted(dir: &Path) -> Result<Vec<PathBuf>> {
    let mut entries = std::fs::read_dir(dir)
        .with_context(|| format!("listing {}", dir.display()))?
        .map(|e| e.map(|e| e.path()))
        .collect::<std::io::Result<Vec<_>>>()?;
    entries.sort();
    Ok(entries)
}

fn file_name(path: &Path) -> String {
    path.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn module_names() {
        assert_eq!(module_name("2025-03-02-preview"), "v2025_03_02_preview");
        assert_eq!(module_name("2025-06-30"), "v2025_06_30");
    }

    #[test]
    fn mixed_success_shapes_become_raw_and_uniform_ones_stay_typed() {
        let mut mixed = serde_json::json!({"responses": {
            "200": {"description": "", "content": {"application/json": {"schema": {"type": "object"}}}},
            "204": {"description": ""},
            "4XX": {"description": "", "content": {"application/json": {"schema": {"type": "object"}}}}
        }});
        raw_when_success_shapes_differ(&mut mixed);
        assert_eq!(
            mixed["responses"]["200"]["content"],
            serde_json::json!({"application/octet-stream": {}})
        );
        assert_eq!(
            mixed["responses"]["204"]["content"],
            serde_json::json!({"application/octet-stream": {}})
        );
        assert!(mixed["responses"]["4XX"]["content"]["application/json"].is_object());

        let schema =
            serde_json::json!({"application/json": {"schema": {"$ref": "#/components/schemas/A"}}});
        let mut same = serde_json::json!({"responses": {
            "200": {"description": "", "content": schema.clone()},
            "201": {"description": "", "content": schema.clone()}
        }});
        raw_when_success_shapes_differ(&mut same);
        assert_eq!(same["responses"]["200"]["content"], schema);
    }

    #[test]
    fn merge_patch_is_declared_as_json_for_progenitor_and_remembered() {
        let doc = serde_json::json!({
            "openapi": "3.0.3", "info": {"title": "t", "version": "1"},
            "paths": {"/a": {"patch": {
                "operationId": "update_things",
                "requestBody": {"required": true, "content": {
                    "application/merge-patch+json": {"schema": {"type": "object"}}}},
                "responses": {"204": {"description": "none"}}
            }}}
        });
        let (spec, types) = for_progenitor(&doc).unwrap();
        assert_eq!(
            types,
            [(
                "update_things".to_string(),
                "application/merge-patch+json".to_string()
            )]
        );
        let op = spec.paths.paths["/a"]
            .as_item()
            .unwrap()
            .patch
            .as_ref()
            .unwrap();
        let body = op.request_body.as_ref().unwrap().as_item().unwrap();
        assert!(body.content.contains_key("application/json"));
    }
}
