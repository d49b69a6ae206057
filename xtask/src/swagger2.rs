//! Swagger 2.0 → OpenAPI 3.0.3, on plain `serde_json::Value`s.
//!
//! progenitor reads only OpenAPI 3.0.x, and no crate on the registry converts
//! Azure's swagger files faithfully (parameter `$ref`s, external file `$ref`s,
//! `default` responses, `x-ms-*` extensions). The rules applied here, each
//! covered by a unit test below:
//!
//! 1. `swagger: "2.0"` becomes `openapi: "3.0.3"`; `info`, `tags`, `security`
//!    and top-level `x-*` extensions are copied.
//! 2. `definitions` become `components.schemas`, and every `#/definitions/X`
//!    reference becomes `#/components/schemas/X`.
//! 3. References into other files (`../../../Common/…/common.json#/definitions/X`)
//!    are bundled: the definition and everything it references are imported
//!    into `components.schemas`; references inside the imported file resolve
//!    against that file.
//! 4. Parameter references (`#/parameters/X`, also into other files) are
//!    inlined; path-level parameters are merged into each operation, the
//!    operation's own winning on `name` + `in`.
//! 5. An `in: body` parameter becomes `requestBody`, one content entry per
//!    `consumes` type; `required` is kept (absent means optional, so
//!    `POST /identities` keeps its optional body). `in: formData` becomes a
//!    form body.
//! 6. Query, path and header parameters move their type keywords under
//!    `schema`; path parameters are required; `collectionFormat` becomes
//!    `style`/`explode`.
//! 7. Response `schema` becomes `content`, one entry per `produces` type;
//!    response headers move their type keywords under `schema`.
//! 8. A `default` response becomes explicit `4XX` and `5XX` responses (progenitor
//!    treats `default` as both success and error, which it cannot generate).
//! 9. `x-ms-parameterized-host` becomes `servers`; `securityDefinitions`
//!    become `components.securitySchemes`.
//! 10. `x-ms-enum` with `modelAsString: true` marks an extensible enum: the
//!     closed `enum` list is dropped (the known values move into the
//!     description and `x-ms-enum` stays) so a value the service adds later
//!     still deserialises.
//! 11. A body sent as `application/merge-patch+json` keeps that content type,
//!     and the values of its map (`additionalProperties`) become nullable,
//!     since `null` is how merge-patch removes an entry.
//! 12. Path keys are kept exactly, including literal `/:action` segments.
//! 13. The `api-version` query parameter loses `minLength`/`maxLength`/`pattern`
//!     (progenitor would otherwise make a validated newtype per operation).
//! 14. `x-nullable` becomes `nullable`; a string `discriminator` becomes
//!     `{propertyName}`; `type: file` becomes a binary string.
//! 15. Keywords beside a `$ref` are dropped (OpenAPI 3.0 ignores them).
//! 16. `x-ms-examples` and 2.0 response `examples` are dropped: they point to
//!     example files, not schemas.
//! 18. A `default` on an optional property says what the service assumes
//!     when the property is absent; it moves into the description, so the
//!     generated type leaves the property out unless the caller sets it
//!     (instead of always sending the default).
//! 17. Each `operationId` is replaced by a plain snake_case method name (see
//!     [`crate::naming`]); the original is kept in `x-ms-original-operation-id`.

#[cfg(test)]
use std::collections::BTreeMap;
use std::collections::HashMap;
use std::path::{Component, Path, PathBuf};

use anyhow::{Context, Result, anyhow, bail};
use serde_json::{Map, Value, json};

use crate::naming;

/// Loads the JSON document at a path (a real file, or a fixture in tests).
pub trait Loader {
    /// Returns the parsed document at `path`.
    fn load(&mut self, path: &Path) -> Result<Value>;
}

/// Reads documents from disk, caching each one.
#[derive(Default)]
pub struct FsLoader {
    cache: HashMap<PathBuf, Value>,
}

impl Loader for FsLoader {
    fn load(&mut self, path: &Path) -> Result<Value> {
        if let Some(v) = self.cache.get(path) {
            return Ok(v.clone());
        }
        let text =
            std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
        let value: Value =
            serde_json::from_str(&text).with_context(|| format!("parsing {}", path.display()))?;
        self.cache.insert(path.to_path_buf(), value.clone());
        Ok(value)
    }
}

/// The content type used when a swagger file names none.
const JSON: &str = "application/json";
const MERGE_PATCH: &str = "application/merge-patch+json";

/// Converts the Swagger 2.0 document at `root` (loaded through `loader`) into
/// an OpenAPI 3.0.3 document.
pub fn convert(root: &Path, loader: &mut dyn Loader) -> Result<Value> {
    let root = normalize(root);
    let doc = loader.load(&root)?;
    match doc.get("swagger").and_then(Value::as_str) {
        Some("2.0") => {}
        Some(other) => bail!("{}: swagger version {other:?} is not 2.0", root.display()),
        None => bail!(
            "{}: not a Swagger 2.0 document (no `swagger` key)",
            root.display()
        ),
    }
    let mut cx = Converter {
        root: root.clone(),
        loader,
        schemas: Map::new(),
        imported: HashMap::new(),
        merge_patch_schemas: Vec::new(),
    };
    cx.run(&doc)
}

struct Converter<'a> {
    root: PathBuf,
    loader: &'a mut dyn Loader,
    /// `components.schemas`, in order: the root's definitions, then imports.
    schemas: Map<String, Value>,
    /// (file, definition name) → name in `components.schemas`, for imports.
    imported: HashMap<(PathBuf, String), String>,
    /// Schemas used as merge-patch bodies (rule 11), applied at the end.
    merge_patch_schemas: Vec<String>,
}

impl Converter<'_> {
    fn run(&mut self, doc: &Value) -> Result<Value> {
        let root = self.root.clone();
        let mut out = Map::new();
        out.insert("openapi".into(), json!("3.0.3"));
        out.insert(
            "info".into(),
            doc.get("info")
                .cloned()
                .unwrap_or_else(|| json!({"title": "", "version": ""})),
        );
        if let Some(servers) = servers(doc) {
            out.insert("servers".into(), servers);
        }
        if let Some(tags) = doc.get("tags") {
            out.insert("tags".into(), tags.clone());
        }

        // Root definitions first, under their own names and in file order, so
        // that imports which collide get a suffix instead of the reverse.
        let defs = doc.get("definitions").and_then(Value::as_object);
        for name in defs.into_iter().flat_map(|d| d.keys()) {
            self.schemas.insert(name.clone(), Value::Null);
            self.imported
                .insert((root.clone(), name.clone()), name.clone());
        }
        for (name, schema) in defs.into_iter().flatten() {
            let converted = self.schema(schema, &root)?;
            self.schemas.insert(name.clone(), converted);
        }

        let paths = self.paths(doc)?;
        out.insert("paths".into(), paths);

        for name in std::mem::take(&mut self.merge_patch_schemas) {
            if let Some(schema) = self.schemas.get_mut(&name) {
                make_map_values_nullable(schema);
            }
        }

        let mut components = Map::new();
        if !self.schemas.is_empty() {
            components.insert(
                "schemas".into(),
                Value::Object(std::mem::take(&mut self.schemas)),
            );
        }
        if let Some(defs) = doc.get("securityDefinitions").and_then(Value::as_object) {
            let mut schemes = Map::new();
            for (name, def) in defs {
                schemes.insert(name.clone(), security_scheme(def)?);
            }
            components.insert("securitySchemes".into(), Value::Object(schemes));
        }
        if !components.is_empty() {
            out.insert("components".into(), Value::Object(components));
        }
        if let Some(security) = doc.get("security") {
            out.insert("security".into(), security.clone());
        }
        for (key, value) in doc.as_object().into_iter().flatten() {
            if key.starts_with("x-") && key != "x-ms-parameterized-host" {
                out.insert(key.clone(), value.clone());
            }
        }
        Ok(Value::Object(out))
    }

    fn paths(&mut self, doc: &Value) -> Result<Value> {
        let root = self.root.clone();
        let global_consumes = strings(doc.get("consumes"));
        let global_produces = strings(doc.get("produces"));
        let mut out = Map::new();
        let mut ids = Vec::new();
        for (path, item) in doc
            .get("paths")
            .and_then(Value::as_object)
            .into_iter()
            .flatten()
        {
            let item = item
                .as_object()
                .ok_or_else(|| anyhow!("path {path}: not an object"))?;
            let common = item
                .get("parameters")
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_default();
            let mut new_item = Map::new();
            for (key, op) in item {
                if key == "parameters" {
                    continue;
                }
                if key.starts_with("x-") {
                    new_item.insert(key.clone(), op.clone());
                    continue;
                }
                let where_ = format!("{} {path}", key.to_uppercase());
                let op = op
                    .as_object()
                    .ok_or_else(|| anyhow!("{where_}: not an object"))?;
                let consumes = strings(op.get("consumes")).or_else(|| global_consumes.clone());
                let produces = strings(op.get("produces")).or_else(|| global_produces.clone());
                let converted = self
                    .operation(op, &common, consumes, produces, &root)
                    .with_context(|| where_.clone())?;
                if let Some(id) = op.get("operationId").and_then(Value::as_str) {
                    ids.push(id.to_string());
                }
                new_item.insert(key.clone(), converted);
            }
            out.insert(path.clone(), Value::Object(new_item));
        }
        // Rule 17: plain method names, decided over the whole document.
        let names = naming::method_names(&ids)?;
        for item in out.values_mut().filter_map(Value::as_object_mut) {
            for op in item.values_mut().filter_map(Value::as_object_mut) {
                let Some(id) = op
                    .get("operationId")
                    .and_then(Value::as_str)
                    .map(str::to_string)
                else {
                    continue;
                };
                let name = names[&id].clone();
                if name != id {
                    op.insert("operationId".into(), json!(name));
                    op.insert("x-ms-original-operation-id".into(), json!(id));
                }
            }
        }
        Ok(Value::Object(out))
    }

    fn operation(
        &mut self,
        op: &Map<String, Value>,
        common: &[Value],
        consumes: Option<Vec<String>>,
        produces: Option<Vec<String>>,
        file: &Path,
    ) -> Result<Value> {
        // Resolve and merge parameters (rule 4), keyed by (in, name).
        let mut params: Vec<(PathBuf, Map<String, Value>)> = Vec::new();
        for raw in common.iter().chain(
            op.get("parameters")
                .and_then(Value::as_array)
                .into_iter()
                .flatten(),
        ) {
            let (pfile, param) = self.deref(raw, file)?;
            let param = param
                .as_object()
                .cloned()
                .ok_or_else(|| anyhow!("parameter is not an object"))?;
            let key = |p: &Map<String, Value>| (p.get("in").cloned(), p.get("name").cloned());
            if let Some(slot) = params.iter_mut().find(|(_, p)| key(p) == key(&param)) {
                *slot = (pfile, param);
            } else {
                params.push((pfile, param));
            }
        }

        let mut out = Map::new();
        for (key, value) in op {
            match key.as_str() {
                "operationId" | "summary" | "description" | "tags" | "deprecated" | "security"
                | "externalDocs" => {
                    out.insert(key.clone(), value.clone());
                }
                k if k.starts_with("x-") && k != "x-ms-examples" => {
                    out.insert(key.clone(), value.clone());
                }
                _ => {}
            }
        }

        let consumes = consumes.unwrap_or_else(|| vec![JSON.to_string()]);
        let mut new_params = Vec::new();
        let mut form_fields = Vec::new();
        for (pfile, param) in &params {
            match param.get("in").and_then(Value::as_str) {
                Some("body") => {
                    let body = self.request_body(param, &consumes, pfile)?;
                    out.insert("requestBody".into(), body);
                }
                Some("formData") => form_fields.push(param.clone()),
                Some("query" | "path" | "header") => new_params.push(self.parameter(param, pfile)?),
                Some(other) => bail!("parameter location {other:?} is not supported"),
                None => bail!("parameter without `in`"),
            }
        }
        if !form_fields.is_empty() {
            out.insert(
                "requestBody".into(),
                self.form_body(&form_fields, &consumes, file)?,
            );
        }
        if !new_params.is_empty() {
            out.insert("parameters".into(), Value::Array(new_params));
        }

        let produces = produces.unwrap_or_else(|| vec![JSON.to_string()]);
        let mut responses = Map::new();
        let declared = op
            .get("responses")
            .and_then(Value::as_object)
            .cloned()
            .unwrap_or_default();
        for (code, response) in &declared {
            if code.starts_with("x-") {
                continue;
            }
            let (rfile, response) = self.deref(response, file)?;
            let converted = self.response(&response, &produces, &rfile)?;
            if code == "default" {
                // Rule 8.
                for class in ["4XX", "5XX"] {
                    if !declared.contains_key(class) {
                        responses.insert(class.into(), converted.clone());
                    }
                }
            } else {
                responses.insert(code.clone(), converted);
            }
        }
        out.insert("responses".into(), Value::Object(responses));

        // Order the keys the way OpenAPI documents usually read.
        let order = [
            "tags",
            "summary",
            "description",
            "operationId",
            "parameters",
            "requestBody",
            "responses",
        ];
        let mut ordered = Map::new();
        for key in order {
            if let Some(v) = out.remove(key) {
                ordered.insert(key.into(), v);
            }
        }
        ordered.extend(out);
        Ok(Value::Object(ordered))
    }

    fn request_body(
        &mut self,
        param: &Map<String, Value>,
        consumes: &[String],
        file: &Path,
    ) -> Result<Value> {
        let schema = param
            .get("schema")
            .ok_or_else(|| anyhow!("body parameter without schema"))?;
        let converted = self.schema(schema, file)?;
        let mut content = Map::new();
        for ct in consumes {
            if ct == MERGE_PATCH {
                if let Some(name) = local_schema_name(&converted) {
                    self.merge_patch_schemas.push(name);
                } else {
                    let mut inline = converted.clone();
                    make_map_values_nullable(&mut inline);
                    content.insert(ct.clone(), json!({ "schema": inline }));
                    continue;
                }
            }
            content.insert(ct.clone(), json!({ "schema": converted }));
        }
        let mut body = Map::new();
        if let Some(d) = param.get("description") {
            body.insert("description".into(), d.clone());
        }
        body.insert("content".into(), Value::Object(content));
        let required = param
            .get("required")
            .and_then(Value::as_bool)
            .unwrap_or(false);
        body.insert("required".into(), json!(required));
        copy_extensions(param, &mut body);
        Ok(Value::Object(body))
    }

    fn form_body(
        &mut self,
        fields: &[Map<String, Value>],
        consumes: &[String],
        file: &Path,
    ) -> Result<Value> {
        let mut properties = Map::new();
        let mut required = Vec::new();
        for field in fields {
            let name = field
                .get("name")
                .and_then(Value::as_str)
                .ok_or_else(|| anyhow!("formData parameter without name"))?;
            let mut schema = self.schema(&Value::Object(type_keywords(field)), file)?;
            if let (Some(d), Some(obj)) = (field.get("description"), schema.as_object_mut()) {
                obj.insert("description".into(), d.clone());
            }
            properties.insert(name.into(), schema);
            if field.get("required").and_then(Value::as_bool) == Some(true) {
                required.push(json!(name));
            }
        }
        let mut schema = json!({ "type": "object", "properties": properties });
        if !required.is_empty() {
            schema["required"] = Value::Array(required.clone());
        }
        let ct = consumes
            .iter()
            .find(|c| {
                c.as_str() == "multipart/form-data"
                    || c.as_str() == "application/x-www-form-urlencoded"
            })
            .cloned()
            .unwrap_or_else(|| "application/x-www-form-urlencoded".into());
        Ok(json!({
            "content": { ct: { "schema": schema } },
            "required": !required.is_empty(),
        }))
    }

    fn parameter(&mut self, param: &Map<String, Value>, file: &Path) -> Result<Value> {
        let mut out = Map::new();
        let location = param.get("in").and_then(Value::as_str).unwrap_or_default();
        let name = param
            .get("name")
            .and_then(Value::as_str)
            .unwrap_or_default();
        out.insert("name".into(), json!(name));
        out.insert("in".into(), json!(location));
        if let Some(d) = param.get("description") {
            out.insert("description".into(), d.clone());
        }
        let required =
            location == "path" || param.get("required").and_then(Value::as_bool) == Some(true);
        out.insert("required".into(), json!(required));
        if let Some(v) = param.get("allowEmptyValue") {
            out.insert("allowEmptyValue".into(), v.clone());
        }
        match param.get("collectionFormat").and_then(Value::as_str) {
            None => {}
            Some("csv") if location == "query" => {
                out.insert("style".into(), json!("form"));
                out.insert("explode".into(), json!(false));
            }
            Some("csv") => {
                out.insert("style".into(), json!("simple"));
            }
            Some("multi") => {
                out.insert("style".into(), json!("form"));
                out.insert("explode".into(), json!(true));
            }
            Some("ssv") => {
                out.insert("style".into(), json!("spaceDelimited"));
            }
            Some("pipes") => {
                out.insert("style".into(), json!("pipeDelimited"));
            }
            Some(other) => {
                bail!("parameter {name}: collectionFormat {other:?} has no OpenAPI 3 form")
            }
        }
        let mut keywords = type_keywords(param);
        if name == "api-version" && location == "query" {
            // Rule 13.
            for k in ["minLength", "maxLength", "pattern"] {
                keywords.remove(k);
            }
        }
        out.insert(
            "schema".into(),
            self.schema(&Value::Object(keywords), file)?,
        );
        copy_extensions(param, &mut out);
        Ok(Value::Object(out))
    }

    fn response(&mut self, response: &Value, produces: &[String], file: &Path) -> Result<Value> {
        let response = response
            .as_object()
            .ok_or_else(|| anyhow!("response is not an object"))?;
        let mut out = Map::new();
        let description = response
            .get("description")
            .cloned()
            .unwrap_or_else(|| json!(""));
        out.insert("description".into(), description);
        if let Some(headers) = response.get("headers").and_then(Value::as_object) {
            let mut new_headers = Map::new();
            for (name, header) in headers {
                let header = header
                    .as_object()
                    .ok_or_else(|| anyhow!("header {name}: not an object"))?;
                let mut h = Map::new();
                if let Some(d) = header.get("description") {
                    h.insert("description".into(), d.clone());
                }
                h.insert(
                    "schema".into(),
                    self.schema(&Value::Object(type_keywords(header)), file)?,
                );
                copy_extensions(header, &mut h);
                new_headers.insert(name.clone(), Value::Object(h));
            }
            out.insert("headers".into(), Value::Object(new_headers));
        }
        if let Some(schema) = response.get("schema") {
            let converted = self.schema(schema, file)?;
            let mut content = Map::new();
            for ct in produces {
                content.insert(ct.clone(), json!({ "schema": converted }));
            }
            out.insert("content".into(), Value::Object(content));
        }
        copy_extensions(response, &mut out);
        Ok(Value::Object(out))
    }

    /// Follows a non-schema `$ref` (parameter or response), returning the file
    /// the target lives in and the target itself.
    fn deref(&mut self, value: &Value, file: &Path) -> Result<(PathBuf, Value)> {
        let mut file = file.to_path_buf();
        let mut value = value.clone();
        for _ in 0..32 {
            let Some(reference) = value.get("$ref").and_then(Value::as_str) else {
                return Ok((file, value));
            };
            let (target_file, pointer) = split_ref(reference, &file);
            let doc = self.loader.load(&target_file)?;
            value = doc.pointer(&pointer).cloned().ok_or_else(|| {
                anyhow!("unresolved reference {reference} (from {})", file.display())
            })?;
            file = target_file;
        }
        bail!("reference chain too long at {}", file.display())
    }

    /// Converts a schema that lives in `file`.
    fn schema(&mut self, schema: &Value, file: &Path) -> Result<Value> {
        let Some(obj) = schema.as_object() else {
            return Ok(schema.clone());
        };
        if let Some(reference) = obj.get("$ref").and_then(Value::as_str) {
            // Rule 15: siblings of `$ref` are dropped.
            let name = self.schema_ref(reference, file)?;
            return Ok(json!({ "$ref": format!("#/components/schemas/{name}") }));
        }
        let mut out = Map::new();
        for (key, value) in obj {
            match key.as_str() {
                "properties" | "patternProperties" => {
                    let mut props = Map::new();
                    for (name, prop) in value.as_object().into_iter().flatten() {
                        props.insert(name.clone(), self.schema(prop, file)?);
                    }
                    out.insert(key.clone(), Value::Object(props));
                }
                "items" | "additionalProperties" | "not" if value.is_object() => {
                    out.insert(key.clone(), self.schema(value, file)?);
                }
                "allOf" | "anyOf" | "oneOf" => {
                    let mut list = Vec::new();
                    for s in value.as_array().into_iter().flatten() {
                        list.push(self.schema(s, file)?);
                    }
                    out.insert(key.clone(), Value::Array(list));
                }
                "x-nullable" => {
                    out.insert("nullable".into(), value.clone());
                }
                "discriminator" => {
                    let d = match value {
                        Value::String(p) => json!({ "propertyName": p }),
                        other => other.clone(),
                    };
                    out.insert(key.clone(), d);
                }
                "type" if value == "file" => {
                    out.insert("type".into(), json!("string"));
                    out.insert("format".into(), json!("binary"));
                }
                "x-ms-examples" => {}
                _ => {
                    out.insert(key.clone(), value.clone());
                }
            }
        }
        open_extensible_enum(&mut out);
        defaults_to_description(&mut out);
        Ok(Value::Object(out))
    }

    /// Returns the `components.schemas` name for a schema reference, importing
    /// the target (and, recursively, what it references) when it lives in
    /// another file.
    fn schema_ref(&mut self, reference: &str, file: &Path) -> Result<String> {
        let (target_file, pointer) = split_ref(reference, file);
        let Some(def) = pointer.strip_prefix("/definitions/") else {
            bail!("schema reference {reference} does not point into `definitions`");
        };
        let def = def.replace("~1", "/").replace("~0", "~");
        let key = (target_file.clone(), def.clone());
        if let Some(name) = self.imported.get(&key) {
            return Ok(name.clone());
        }
        let doc = self.loader.load(&target_file)?;
        let target = doc
            .pointer(&pointer)
            .cloned()
            .ok_or_else(|| anyhow!("unresolved reference {reference} (from {})", file.display()))?;
        let mut name = def.clone();
        let mut n = 2;
        while self.schemas.contains_key(&name) {
            name = format!("{def}{n}");
            n += 1;
        }
        self.imported.insert(key, name.clone());
        self.schemas.insert(name.clone(), Value::Null);
        let converted = self.schema(&target, &target_file)?;
        self.schemas.insert(name.clone(), converted);
        Ok(name)
    }
}

/// Rule 10: an extensible enum keeps its known values as documentation only.
fn open_extensible_enum(schema: &mut Map<String, Value>) {
    let model_as_string = schema
        .get("x-ms-enum")
        .and_then(|e| e.get("modelAsString"))
        .and_then(Value::as_bool)
        == Some(true);
    if !model_as_string {
        return;
    }
    let Some(Value::Array(values)) = schema.remove("enum") else {
        return;
    };
    let known: Vec<String> = values
        .iter()
        .map(|v| match v {
            Value::String(s) => format!("`{s}`"),
            other => format!("`{other}`"),
        })
        .collect();
    let note = format!("Known values: {}; others may appear.", known.join(", "));
    let description = match schema.get("description").and_then(Value::as_str) {
        Some(d) if !d.is_empty() => format!("{}\n\n{note}", d.trim_end()),
        _ => note,
    };
    schema.insert("description".into(), json!(description));
}

/// Rule 18: defaults of optional properties are left to the service.
fn defaults_to_description(schema: &mut Map<String, Value>) {
    let required: Vec<String> = strings(schema.get("required")).unwrap_or_default();
    let Some(Value::Object(props)) = schema.get_mut("properties") else {
        return;
    };
    for (name, prop) in props.iter_mut() {
        if required.contains(name) {
            continue;
        }
        let Some(obj) = prop.as_object_mut() else {
            continue;
        };
        let Some(default) = obj.remove("default") else {
            continue;
        };
        let note = format!("When absent, the service uses `{default}`.");
        let description = match obj.get("description").and_then(Value::as_str) {
            Some(d) if !d.is_empty() => format!("{}\n\n{note}", d.trim_end()),
            _ => note,
        };
        obj.insert("description".into(), json!(description));
    }
}

/// Rule 11: `null` removes an entry in a merge-patch map.
fn make_map_values_nullable(schema: &mut Value) {
    let Some(ap) = schema.get_mut("additionalProperties") else {
        return;
    };
    match ap {
        Value::Object(obj) if obj.contains_key("$ref") => {
            let reference = obj.clone();
            *ap = json!({ "allOf": [reference], "nullable": true });
        }
        Value::Object(obj) => {
            obj.insert("nullable".into(), json!(true));
        }
        _ => {}
    }
}

fn local_schema_name(schema: &Value) -> Option<String> {
    schema
        .get("$ref")
        .and_then(Value::as_str)
        .and_then(|r| r.strip_prefix("#/components/schemas/"))
        .map(str::to_string)
}

/// The keywords of a non-body parameter or header that describe its type.
fn type_keywords(param: &Map<String, Value>) -> Map<String, Value> {
    const KEYS: &[&str] = &[
        "type",
        "format",
        "items",
        "enum",
        "default",
        "minimum",
        "maximum",
        "exclusiveMinimum",
        "exclusiveMaximum",
        "minLength",
        "maxLength",
        "pattern",
        "minItems",
        "maxItems",
        "uniqueItems",
        "multipleOf",
        "x-ms-enum",
        "x-nullable",
    ];
    let mut out = Map::new();
    for key in KEYS {
        if let Some(v) = param.get(*key) {
            let v = if *key == "items" {
                items_keywords(v)
            } else {
                v.clone()
            };
            out.insert((*key).into(), v);
        }
    }
    out
}

fn items_keywords(items: &Value) -> Value {
    match items.as_object() {
        Some(obj) if !obj.contains_key("$ref") => {
            let mut inner = type_keywords(obj);
            inner.remove("x-nullable");
            Value::Object(inner)
        }
        _ => items.clone(),
    }
}

fn copy_extensions(from: &Map<String, Value>, to: &mut Map<String, Value>) {
    for (key, value) in from {
        if key.starts_with("x-")
            && key != "x-ms-examples"
            && key != "x-ms-enum"
            && key != "x-nullable"
        {
            to.insert(key.clone(), value.clone());
        }
    }
}

fn strings(value: Option<&Value>) -> Option<Vec<String>> {
    value?.as_array().map(|a| {
        a.iter()
            .filter_map(Value::as_str)
            .map(str::to_string)
            .collect()
    })
}

/// Rule 9: the server URL from `x-ms-parameterized-host`, or `host`/`basePath`.
fn servers(doc: &Value) -> Option<Value> {
    if let Some(host) = doc.get("x-ms-parameterized-host") {
        let template = host.get("hostTemplate")?.as_str()?;
        let scheme_prefix = host
            .get("useSchemePrefix")
            .and_then(Value::as_bool)
            .unwrap_or(true);
        let base = doc.get("basePath").and_then(Value::as_str).unwrap_or("");
        let url = if scheme_prefix {
            let scheme = first_scheme(doc);
            format!("{scheme}://{template}{base}")
        } else {
            format!("{template}{base}")
        };
        let mut variables = Map::new();
        for param in host
            .get("parameters")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            // Host parameters may be `$ref`s to `#/parameters/X`.
            let param = match param.get("$ref").and_then(Value::as_str) {
                Some(r) => doc.pointer(r.trim_start_matches('#')).unwrap_or(param),
                None => param,
            };
            let Some(name) = param.get("name").and_then(Value::as_str) else {
                continue;
            };
            let mut var = Map::new();
            let default = param
                .get("default")
                .and_then(Value::as_str)
                .map(str::to_string)
                .or_else(|| {
                    param
                        .get("description")
                        .and_then(Value::as_str)
                        .and_then(url_in_text)
                })
                .unwrap_or_default();
            var.insert("default".into(), json!(default));
            if let Some(d) = param.get("description") {
                var.insert("description".into(), d.clone());
            }
            if let Some(e) = param.get("enum") {
                var.insert("enum".into(), e.clone());
            }
            variables.insert(name.into(), Value::Object(var));
        }
        let mut server = Map::new();
        server.insert("url".into(), json!(url));
        if !variables.is_empty() {
            server.insert("variables".into(), Value::Object(variables));
        }
        return Some(json!([server]));
    }
    let host = doc.get("host")?.as_str()?;
    let base = doc.get("basePath").and_then(Value::as_str).unwrap_or("");
    Some(json!([{ "url": format!("{}://{host}{base}", first_scheme(doc)) }]))
}

fn first_scheme(doc: &Value) -> String {
    doc.get("schemes")
        .and_then(Value::as_array)
        .and_then(|s| s.first())
        .and_then(Value::as_str)
        .unwrap_or("https")
        .to_string()
}

fn url_in_text(text: &str) -> Option<String> {
    let start = text.find("https://").or_else(|| text.find("http://"))?;
    let url: String = text[start..]
        .chars()
        .take_while(|c| !c.is_whitespace() && !matches!(c, ')' | ',' | '`' | '"' | '\''))
        .collect();
    Some(url.trim_end_matches('.').to_string())
}

fn security_scheme(def: &Value) -> Result<Value> {
    let mut out = Map::new();
    let kind = def.get("type").and_then(Value::as_str).unwrap_or_default();
    match kind {
        "basic" => {
            out.insert("type".into(), json!("http"));
            out.insert("scheme".into(), json!("basic"));
        }
        "apiKey" => {
            out.insert("type".into(), json!("apiKey"));
            out.insert("name".into(), def.get("name").cloned().unwrap_or(json!("")));
            out.insert(
                "in".into(),
                def.get("in").cloned().unwrap_or(json!("header")),
            );
        }
        "oauth2" => {
            out.insert("type".into(), json!("oauth2"));
            let flow = def.get("flow").and_then(Value::as_str).unwrap_or_default();
            let name = match flow {
                "implicit" => "implicit",
                "password" => "password",
                "application" => "clientCredentials",
                "accessCode" => "authorizationCode",
                other => bail!("oauth2 flow {other:?} is not known"),
            };
            let mut f = Map::new();
            for key in ["authorizationUrl", "tokenUrl"] {
                if let Some(v) = def.get(key) {
                    f.insert(key.into(), v.clone());
                }
            }
            f.insert(
                "scopes".into(),
                def.get("scopes").cloned().unwrap_or(json!({})),
            );
            out.insert("flows".into(), json!({ name: f }));
        }
        other => bail!("security scheme type {other:?} is not known"),
    }
    if let Some(d) = def.get("description") {
        out.insert("description".into(), d.clone());
    }
    Ok(Value::Object(out))
}

/// Splits `file.json#/pointer` into the file it names (relative to `from`)
/// and the JSON pointer.
fn split_ref(reference: &str, from: &Path) -> (PathBuf, String) {
    let (file_part, pointer) = reference.split_once('#').unwrap_or((reference, ""));
    let file = if file_part.is_empty() {
        from.to_path_buf()
    } else {
        normalize(&from.parent().unwrap_or(Path::new("")).join(file_part))
    };
    (file, pointer.to_string())
}

/// Resolves `.` and `..` lexically, so one file always has one key.
pub fn normalize(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for part in path.components() {
        match part {
            Component::CurDir => {}
            Component::ParentDir => {
                if !out.pop() {
                    out.push("..");
                }
            }
            other => out.push(other.as_os_str()),
        }
    }
    out
}

/// An in-memory loader for tests.
#[cfg(test)]
#[derive(Default)]
pub struct MapLoader(pub BTreeMap<PathBuf, Value>);

#[cfg(test)]
impl Loader for MapLoader {
    fn load(&mut self, path: &Path) -> Result<Value> {
        self.0
            .get(&normalize(path))
            .cloned()
            .ok_or_else(|| anyhow!("no fixture at {}", path.display()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(doc: Value) -> Value {
        run_with(doc, &[])
    }

    fn run_with(doc: Value, others: &[(&str, Value)]) -> Value {
        let mut loader = MapLoader::default();
        loader
            .0
            .insert(PathBuf::from("spec/Svc/stable/v1/api.json"), doc);
        for (path, value) in others {
            loader.0.insert(normalize(Path::new(path)), value.clone());
        }
        convert(Path::new("spec/Svc/stable/v1/api.json"), &mut loader).unwrap()
    }

    fn minimal(paths: Value) -> Value {
        json!({ "swagger": "2.0", "info": {"title": "T", "version": "v1"}, "paths": paths })
    }

    #[test]
    fn version_info_and_definitions_are_carried_over() {
        let out = run(json!({
            "swagger": "2.0",
            "info": {"title": "T", "version": "2025-01-01"},
            "tags": [{"name": "Identity"}],
            "x-custom": 1,
            "paths": {},
            "definitions": {
                "A": {"type": "object", "properties": {"b": {"$ref": "#/definitions/B"}}},
                "B": {"type": "string"}
            }
        }));
        assert_eq!(out["openapi"], "3.0.3");
        assert_eq!(out["info"]["version"], "2025-01-01");
        assert_eq!(out["tags"][0]["name"], "Identity");
        assert_eq!(out["x-custom"], 1);
        assert_eq!(
            out["components"]["schemas"]["A"]["properties"]["b"]["$ref"],
            "#/components/schemas/B"
        );
        assert_eq!(out["components"]["schemas"]["B"]["type"], "string");
    }

    #[test]
    fn rejects_documents_that_are_not_swagger_2() {
        let mut loader = MapLoader::default();
        loader
            .0
            .insert(PathBuf::from("a.json"), json!({"openapi": "3.0.0"}));
        let err = convert(Path::new("a.json"), &mut loader).unwrap_err();
        assert!(
            err.to_string().contains("not a Swagger 2.0 document"),
            "{err}"
        );
    }

    #[test]
    fn parameter_refs_are_inlined_and_merged_with_path_level_ones() {
        let out = run(json!({
            "swagger": "2.0", "info": {"title": "T", "version": "v1"},
            "parameters": {
                "Azure.Core.Foundations.ApiVersionParameter": {
                    "name": "api-version", "in": "query", "required": true, "type": "string",
                    "minLength": 1, "x-ms-parameter-location": "method", "x-ms-client-name": "apiVersion"
                }
            },
            "paths": { "/things/{id}": {
                "parameters": [
                    {"name": "id", "in": "path", "type": "string", "description": "path-level"},
                    {"name": "q", "in": "query", "type": "integer", "format": "int32"}
                ],
                "get": {
                    "operationId": "Things_Get",
                    "parameters": [
                        {"$ref": "#/parameters/Azure.Core.Foundations.ApiVersionParameter"},
                        {"name": "id", "in": "path", "required": true, "type": "string", "description": "op-level"}
                    ],
                    "responses": {"200": {"description": "OK"}}
                }
            }}
        }));
        let params = out["paths"]["/things/{id}"]["get"]["parameters"]
            .as_array()
            .unwrap();
        assert_eq!(params.len(), 3);
        let by_name = |n: &str| params.iter().find(|p| p["name"] == n).unwrap().clone();
        assert_eq!(by_name("id")["description"], "op-level");
        assert_eq!(by_name("id")["required"], true);
        assert_eq!(
            by_name("q")["schema"],
            json!({"type": "integer", "format": "int32"})
        );
        assert_eq!(by_name("q")["required"], false);
        let api = by_name("api-version");
        assert_eq!(api["in"], "query");
        assert_eq!(api["required"], true);
        // Rule 13: no minLength on api-version.
        assert_eq!(api["schema"], json!({"type": "string"}));
        assert_eq!(api["x-ms-client-name"], "apiVersion");
    }

    #[test]
    fn minlength_is_kept_on_other_parameters() {
        let out = run(minimal(json!({"/x": {"get": {
            "operationId": "X_Get",
            "parameters": [{"name": "name", "in": "query", "type": "string", "minLength": 1}],
            "responses": {"200": {"description": "OK"}}
        }}})));
        assert_eq!(
            out["paths"]["/x"]["get"]["parameters"][0]["schema"]["minLength"],
            1
        );
    }

    #[test]
    fn optional_body_stays_optional_and_required_body_is_required() {
        let out = run(minimal(json!({
            "/identities": {"post": {
                "operationId": "Identity_Create",
                "consumes": ["application/json"],
                "parameters": [{"name": "body", "in": "body", "description": "d", "schema": {"type": "object"}}],
                "responses": {"201": {"description": "Created"}}
            }},
            "/tokens": {"post": {
                "operationId": "Token_Issue",
                "parameters": [{"name": "body", "in": "body", "required": true, "schema": {"type": "object"}}],
                "responses": {"200": {"description": "OK"}}
            }}
        })));
        let create = &out["paths"]["/identities"]["post"]["requestBody"];
        assert_eq!(create["required"], false);
        assert_eq!(create["description"], "d");
        assert_eq!(
            create["content"]["application/json"]["schema"]["type"],
            "object"
        );
        assert_eq!(
            out["paths"]["/tokens"]["post"]["requestBody"]["required"],
            true
        );
        assert!(out["paths"]["/tokens"]["post"].get("parameters").is_none());
    }

    #[test]
    fn global_consumes_and_produces_are_pushed_down() {
        let mut doc = minimal(json!({"/x": {"put": {
            "operationId": "X_Put",
            "parameters": [{"name": "body", "in": "body", "required": true, "schema": {"type": "object"}}],
            "responses": {"200": {"description": "OK", "schema": {"type": "object"}}}
        }}}));
        doc["consumes"] = json!(["application/vnd.test+json"]);
        doc["produces"] = json!(["application/vnd.out+json"]);
        let out = run(doc);
        let op = &out["paths"]["/x"]["put"];
        assert!(op["requestBody"]["content"]["application/vnd.test+json"].is_object());
        assert!(op["responses"]["200"]["content"]["application/vnd.out+json"].is_object());
    }

    #[test]
    fn external_file_refs_are_bundled_with_their_own_refs() {
        let common = json!({
            "swagger": "2.0", "info": {"title": "C", "version": "c"}, "paths": {},
            "definitions": {
                "ErrorResponse": {"type": "object", "required": ["error"],
                    "properties": {"error": {"$ref": "#/definitions/Error"}}},
                "Error": {"type": "object", "properties": {
                    "code": {"type": "string"},
                    "details": {"type": "array", "items": {"$ref": "#/definitions/Error"}},
                    "innererror": {"$ref": "#/definitions/Error", "readOnly": true, "x-ms-client-name": "innerError"}
                }},
                "Unused": {"type": "string"}
            }
        });
        let doc = minimal(json!({"/x": {"get": {
            "operationId": "X_Get",
            "responses": {
                "200": {"description": "OK"},
                "default": {"description": "Error",
                    "schema": {"$ref": "../../../Common/stable/2023-11-15/common.json#/definitions/ErrorResponse"}}
            }
        }}}));
        let out = run_with(
            doc,
            &[("spec/Common/stable/2023-11-15/common.json", common)],
        );
        let schemas = out["components"]["schemas"].as_object().unwrap();
        assert_eq!(
            schemas.keys().collect::<Vec<_>>(),
            ["ErrorResponse", "Error"]
        );
        assert_eq!(
            schemas["ErrorResponse"]["properties"]["error"]["$ref"],
            "#/components/schemas/Error"
        );
        // Self-recursive definitions resolve to the same import; rule 15
        // drops the siblings of `$ref`.
        assert_eq!(
            schemas["Error"]["properties"]["details"]["items"]["$ref"],
            "#/components/schemas/Error"
        );
        assert_eq!(
            schemas["Error"]["properties"]["innererror"],
            json!({"$ref": "#/components/schemas/Error"})
        );
    }

    #[test]
    fn imported_definition_that_collides_with_a_local_one_gets_a_suffix() {
        let common = json!({"swagger": "2.0", "definitions": {"Error": {"type": "integer"}}});
        let mut doc = minimal(json!({"/x": {"get": {
            "operationId": "X_Get",
            "responses": {"200": {"description": "OK",
                "schema": {"$ref": "common.json#/definitions/Error"}}}
        }}}));
        doc["definitions"] = json!({"Error": {"type": "string"}});
        let out = run_with(doc, &[("spec/Svc/stable/v1/common.json", common)]);
        assert_eq!(out["components"]["schemas"]["Error"]["type"], "string");
        assert_eq!(out["components"]["schemas"]["Error2"]["type"], "integer");
        assert_eq!(
            out["paths"]["/x"]["get"]["responses"]["200"]["content"]["application/json"]["schema"]
                ["$ref"],
            "#/components/schemas/Error2"
        );
    }

    #[test]
    fn parameter_refs_into_other_files_resolve() {
        let common = json!({"swagger": "2.0", "parameters": {
            "ApiVersion": {"name": "api-version", "in": "query", "required": true, "type": "string"}
        }});
        let out = run_with(
            minimal(json!({"/x": {"get": {
                "operationId": "X_Get",
                "parameters": [{"$ref": "../common.json#/parameters/ApiVersion"}],
                "responses": {"204": {"description": "No Content"}}
            }}})),
            &[("spec/Svc/stable/common.json", common)],
        );
        assert_eq!(
            out["paths"]["/x"]["get"]["parameters"][0]["name"],
            "api-version"
        );
    }

    #[test]
    fn default_response_becomes_4xx_and_5xx() {
        let out = run(minimal(json!({"/x": {"delete": {
            "operationId": "X_Delete",
            "responses": {
                "204": {"description": "No Content"},
                "default": {"description": "Error", "schema": {"type": "object"}, "x-ms-error-response": true}
            }
        }}})));
        let responses = out["paths"]["/x"]["delete"]["responses"]
            .as_object()
            .unwrap();
        assert_eq!(responses.keys().collect::<Vec<_>>(), ["204", "4XX", "5XX"]);
        assert_eq!(responses["4XX"], responses["5XX"]);
        assert_eq!(
            responses["4XX"]["content"]["application/json"]["schema"]["type"],
            "object"
        );
        assert_eq!(responses["4XX"]["x-ms-error-response"], true);
        assert!(responses["204"].get("content").is_none());
    }

    #[test]
    fn explicit_error_class_wins_over_default() {
        let out = run(minimal(json!({"/x": {"get": {
            "operationId": "X_Get",
            "responses": {
                "200": {"description": "OK"},
                "4XX": {"description": "client"},
                "default": {"description": "other"}
            }
        }}})));
        let responses = &out["paths"]["/x"]["get"]["responses"];
        assert_eq!(responses["4XX"]["description"], "client");
        assert_eq!(responses["5XX"]["description"], "other");
    }

    #[test]
    fn parameterized_host_becomes_a_server() {
        let mut doc = minimal(json!({}));
        doc["x-ms-parameterized-host"] = json!({
            "hostTemplate": "{endpoint}", "useSchemePrefix": false,
            "parameters": [{"name": "endpoint", "in": "path", "required": true, "type": "string",
                "format": "url", "x-ms-skip-url-encoding": true,
                "description": "The resource, e.g. https://my-resource.communication.azure.com."}]
        });
        let out = run(doc);
        assert_eq!(out["servers"][0]["url"], "{endpoint}");
        assert_eq!(
            out["servers"][0]["variables"]["endpoint"]["default"],
            "https://my-resource.communication.azure.com"
        );
        assert!(out.get("x-ms-parameterized-host").is_none());
    }

    #[test]
    fn parameterized_host_with_scheme_prefix_and_plain_host() {
        let mut doc = minimal(json!({}));
        doc["schemes"] = json!(["https"]);
        doc["x-ms-parameterized-host"] = json!({"hostTemplate": "{account}.example.net",
            "parameters": [{"name": "account", "in": "path", "type": "string", "default": "a"}]});
        assert_eq!(
            run(doc)["servers"][0]["url"],
            "https://{account}.example.net"
        );
        let mut doc = minimal(json!({}));
        doc["host"] = json!("api.example.net");
        doc["basePath"] = json!("/v1");
        assert_eq!(run(doc)["servers"][0]["url"], "https://api.example.net/v1");
    }

    #[test]
    fn extensible_enum_is_opened_and_closed_enum_is_kept() {
        let mut doc = minimal(json!({}));
        doc["definitions"] = json!({
            "Open": {"type": "string", "description": "Kind.", "enum": ["user", "group"],
                "x-ms-enum": {"name": "Open", "modelAsString": true}},
            "Closed": {"type": "string", "enum": ["a", "b"],
                "x-ms-enum": {"name": "Closed", "modelAsString": false}},
            "Plain": {"type": "string", "enum": ["x"]}
        });
        let out = run(doc);
        let schemas = &out["components"]["schemas"];
        assert!(schemas["Open"].get("enum").is_none());
        assert_eq!(
            schemas["Open"]["description"],
            "Kind.\n\nKnown values: `user`, `group`; others may appear."
        );
        assert_eq!(schemas["Open"]["x-ms-enum"]["name"], "Open");
        assert_eq!(schemas["Closed"]["enum"], json!(["a", "b"]));
        assert_eq!(schemas["Plain"]["enum"], json!(["x"]));
    }

    #[test]
    fn extensible_enum_on_a_parameter_is_opened() {
        let out = run(minimal(json!({"/x": {"get": {
            "operationId": "X_Get",
            "parameters": [{"name": "kind", "in": "query", "type": "string", "enum": ["a"],
                "x-ms-enum": {"name": "Kind", "modelAsString": true}}],
            "responses": {"200": {"description": "OK"}}
        }}})));
        let schema = &out["paths"]["/x"]["get"]["parameters"][0]["schema"];
        assert!(schema.get("enum").is_none());
        assert_eq!(schema["type"], "string");
    }

    #[test]
    fn merge_patch_body_keeps_content_type_and_allows_null_values() {
        let mut doc = minimal(json!({"/assignments": {"patch": {
            "operationId": "Assignments_Update",
            "consumes": ["application/merge-patch+json"],
            "parameters": [{"name": "body", "in": "body", "required": true,
                "schema": {"$ref": "#/definitions/Bulk"}}],
            "responses": {"204": {"description": "No Content"}}
        }}}));
        doc["definitions"] = json!({
            "Bulk": {"type": "object", "additionalProperties": {"$ref": "#/definitions/Item"}},
            "Item": {"type": "object", "properties": {"a": {"type": "string"}}}
        });
        let out = run(doc);
        let content = &out["paths"]["/assignments"]["patch"]["requestBody"]["content"];
        assert_eq!(
            content["application/merge-patch+json"]["schema"]["$ref"],
            "#/components/schemas/Bulk"
        );
        assert_eq!(
            out["components"]["schemas"]["Bulk"]["additionalProperties"],
            json!({"allOf": [{"$ref": "#/components/schemas/Item"}], "nullable": true})
        );
        // Not a merge-patch body: untouched.
        assert!(
            out["components"]["schemas"]["Item"]
                .get("nullable")
                .is_none()
        );
    }

    #[test]
    fn action_paths_are_kept_literally() {
        let out = run(minimal(json!({
            "/identities/{id}/:issueAccessToken": {"post": {
                "operationId": "Identity_IssueAccessToken",
                "parameters": [{"name": "id", "in": "path", "required": true, "type": "string"}],
                "responses": {"200": {"description": "OK"}}
            }},
            "/teamsUser/:exchangeAccessToken": {"post": {
                "operationId": "TeamsUser_Exchange", "responses": {"200": {"description": "OK"}}
            }}
        })));
        let paths: Vec<_> = out["paths"].as_object().unwrap().keys().cloned().collect();
        assert_eq!(
            paths,
            [
                "/identities/{id}/:issueAccessToken",
                "/teamsUser/:exchangeAccessToken"
            ]
        );
    }

    #[test]
    fn x_nullable_discriminator_and_file_are_translated() {
        let mut doc = minimal(json!({}));
        doc["definitions"] = json!({
            "A": {"type": "object", "discriminator": "kind", "properties": {
                "kind": {"type": "string"},
                "note": {"type": "string", "x-nullable": true},
                "blob": {"type": "file"}
            }}
        });
        let a = &run(doc)["components"]["schemas"]["A"];
        assert_eq!(a["discriminator"], json!({"propertyName": "kind"}));
        assert_eq!(
            a["properties"]["note"],
            json!({"type": "string", "nullable": true})
        );
        assert_eq!(
            a["properties"]["blob"],
            json!({"type": "string", "format": "binary"})
        );
    }

    #[test]
    fn defaults_of_optional_properties_move_to_the_description() {
        let mut doc = minimal(json!({}));
        doc["definitions"] = json!({
            "Req": {"type": "object", "required": ["kept"], "properties": {
                "expiresInMinutes": {"type": "integer", "format": "int32", "minimum": 60,
                    "maximum": 1440, "default": 1440, "description": "Lifetime."},
                "kept": {"type": "integer", "default": 5}
            }}
        });
        let props = &run(doc)["components"]["schemas"]["Req"]["properties"];
        assert_eq!(
            props["expiresInMinutes"],
            json!({"type": "integer", "format": "int32", "minimum": 60, "maximum": 1440,
                "description": "Lifetime.\n\nWhen absent, the service uses `1440`."})
        );
        assert_eq!(
            props["kept"]["default"], 5,
            "required properties keep their default"
        );
    }

    #[test]
    fn ref_siblings_are_dropped() {
        let mut doc = minimal(json!({}));
        doc["definitions"] = json!({
            "A": {"type": "object", "properties": {
                "b": {"$ref": "#/definitions/B", "description": "ignored", "readOnly": true}
            }},
            "B": {"type": "object"}
        });
        let out = run(doc);
        assert_eq!(
            out["components"]["schemas"]["A"]["properties"]["b"],
            json!({"$ref": "#/components/schemas/B"})
        );
    }

    #[test]
    fn examples_are_dropped() {
        let out = run(minimal(json!({"/x": {"get": {
            "operationId": "X_Get",
            "x-ms-examples": {"Get": {"$ref": "./examples/Get.json"}},
            "responses": {"200": {"description": "OK", "examples": {"application/json": {}}}}
        }}})));
        let op = &out["paths"]["/x"]["get"];
        assert!(op.get("x-ms-examples").is_none());
        assert!(op["responses"]["200"].get("examples").is_none());
    }

    #[test]
    fn collection_formats_and_headers() {
        let out = run(minimal(json!({"/x": {"get": {
            "operationId": "X_Get",
            "parameters": [
                {"name": "ids", "in": "query", "type": "array", "items": {"type": "string"}, "collectionFormat": "csv"},
                {"name": "tag", "in": "query", "type": "array", "items": {"type": "string"}, "collectionFormat": "multi"},
                {"name": "x-ms-client-request-id", "in": "header", "type": "string", "format": "uuid"}
            ],
            "responses": {"200": {"description": "OK",
                "headers": {"Retry-After": {"type": "integer", "format": "int32", "description": "s"}}}}
        }}})));
        let op = &out["paths"]["/x"]["get"];
        assert_eq!(op["parameters"][0]["style"], "form");
        assert_eq!(op["parameters"][0]["explode"], false);
        assert_eq!(
            op["parameters"][0]["schema"],
            json!({"type": "array", "items": {"type": "string"}})
        );
        assert_eq!(op["parameters"][1]["explode"], true);
        assert_eq!(op["parameters"][2]["in"], "header");
        assert_eq!(op["parameters"][2]["schema"]["format"], "uuid");
        assert_eq!(
            op["responses"]["200"]["headers"]["Retry-After"],
            json!({"description": "s", "schema": {"type": "integer", "format": "int32"}})
        );
    }

    #[test]
    fn form_data_becomes_a_form_body() {
        let out = run(minimal(json!({"/x": {"post": {
            "operationId": "X_Post",
            "consumes": ["application/x-www-form-urlencoded"],
            "parameters": [{"name": "a", "in": "formData", "type": "string", "required": true}],
            "responses": {"200": {"description": "OK"}}
        }}})));
        let body = &out["paths"]["/x"]["post"]["requestBody"];
        assert_eq!(body["required"], true);
        let schema = &body["content"]["application/x-www-form-urlencoded"]["schema"];
        assert_eq!(schema["properties"]["a"]["type"], "string");
        assert_eq!(schema["required"], json!(["a"]));
    }

    #[test]
    fn security_definitions_become_security_schemes() {
        let mut doc = minimal(json!({}));
        doc["securityDefinitions"] = json!({
            "azure_auth": {"type": "oauth2", "flow": "implicit",
                "authorizationUrl": "https://login.example/authorize", "scopes": {"s": "d"}},
            "key": {"type": "apiKey", "name": "Authorization", "in": "header"}
        });
        let out = run(doc);
        let schemes = &out["components"]["securitySchemes"];
        assert_eq!(
            schemes["azure_auth"]["flows"]["implicit"]["authorizationUrl"],
            "https://login.example/authorize"
        );
        assert_eq!(
            schemes["key"],
            json!({"type": "apiKey", "name": "Authorization", "in": "header"})
        );
    }

    #[test]
    fn operation_ids_become_method_names() {
        let out = run(minimal(
            json!({"/identities/{id}/:issueAccessToken": {"post": {
                "operationId": "CommunicationIdentity_IssueAccessToken",
                "parameters": [{"name": "id", "in": "path", "required": true, "type": "string"}],
                "responses": {"200": {"description": "OK"}}
            }}}),
        ));
        let op = &out["paths"]["/identities/{id}/:issueAccessToken"]["post"];
        assert_eq!(op["operationId"], "issue_access_token");
        assert_eq!(
            op["x-ms-original-operation-id"],
            "CommunicationIdentity_IssueAccessToken"
        );
    }

    #[test]
    fn unresolved_reference_is_a_clear_error() {
        let mut loader = MapLoader::default();
        loader.0.insert(
            PathBuf::from("a.json"),
            minimal(json!({"/x": {"get": {"operationId": "X_Get",
                "responses": {"200": {"description": "OK", "schema": {"$ref": "#/definitions/Missing"}}}}}})),
        );
        let err = format!(
            "{:#}",
            convert(Path::new("a.json"), &mut loader).unwrap_err()
        );
        assert!(err.contains("#/definitions/Missing"), "{err}");
        assert!(err.contains("GET /x"), "{err}");
    }

    #[test]
    fn normalize_resolves_parent_segments() {
        assert_eq!(
            normalize(Path::new("spec/Identity/preview/v/../../../Common/c.json")),
            PathBuf::from("spec/Common/c.json")
        );
    }
}
