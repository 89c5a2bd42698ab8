//! `infra/openapi.yaml` describes the HTTP API the routers really serve: exactly the routes of
//! `consent_api::ROUTES` plus `GET /health`, `hl7_inbound::ROUTES` and `crm_outbound::ROUTES`,
//! every error as `application/problem+json`, and no
//! dangling `$ref`. (`scripts/infra/lint.sh` also validates the document against the OpenAPI 3.1
//! schema and compares it with the SAM template and the sample events.)

use std::collections::BTreeSet;
use std::path::PathBuf;

use connector_app::http::consent_api::ROUTES;
use connector_app::http::{crm_outbound, hl7_inbound};
use serde_json::{Map, Value};
use yaml_rust2::{Yaml, YamlLoader};

/// The operation keys of an OpenAPI path item.
const METHODS: [&str; 8] = [
    "get", "put", "post", "delete", "patch", "head", "options", "trace",
];

/// The one route outside `consent_api::ROUTES` (served by `http::router`).
const HEALTH: (&str, &str) = ("GET", "/health");

/// The problem schema every error response must use.
const PROBLEM_SCHEMA: &str = "#/components/schemas/Problem";
const PROBLEM_JSON: &str = "application/problem+json";
/// Where a response's problem+json schema is, as a JSON pointer (`/` escaped as `~1`).
const PROBLEM_JSON_SCHEMA: &str = "/content/application~1problem+json/schema";

fn spec_path() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../infra/openapi.yaml")
}

/// The document as JSON (OpenAPI's own data model), so `$ref`s resolve as JSON pointers.
fn spec() -> Value {
    let path = spec_path();
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    let docs = YamlLoader::load_from_str(&text)
        .unwrap_or_else(|e| panic!("{} is not valid YAML: {e}", path.display()));
    assert_eq!(
        docs.len(),
        1,
        "{} must hold one YAML document",
        path.display()
    );
    to_json(&docs[0], "")
}

fn to_json(node: &Yaml, at: &str) -> Value {
    match node {
        Yaml::Null => Value::Null,
        Yaml::Boolean(b) => Value::Bool(*b),
        Yaml::Integer(i) => Value::from(*i),
        Yaml::Real(text) => text
            .parse::<f64>()
            .ok()
            .and_then(serde_json::Number::from_f64)
            .map_or_else(|| Value::String(text.clone()), Value::Number),
        Yaml::String(s) => Value::String(s.clone()),
        Yaml::Array(items) => Value::Array(
            items
                .iter()
                .enumerate()
                .map(|(i, item)| to_json(item, &format!("{at}/{i}")))
                .collect(),
        ),
        Yaml::Hash(entries) => {
            let mut map = Map::new();
            for (key, value) in entries {
                let key = match key {
                    Yaml::String(s) | Yaml::Real(s) => s.clone(),
                    Yaml::Integer(i) => i.to_string(),
                    Yaml::Boolean(b) => b.to_string(),
                    other => panic!("{at}: unsupported mapping key {other:?}"),
                };
                let value = to_json(value, &format!("{at}/{key}"));
                assert!(
                    map.insert(key.clone(), value).is_none(),
                    "{at}: duplicate key {key:?}"
                );
            }
            Value::Object(map)
        }
        Yaml::Alias(_) | Yaml::BadValue => panic!("{at}: unsupported YAML node {node:?}"),
    }
}

/// Every operation: `(METHOD, path, operation)`.
fn operations(spec: &Value) -> Vec<(String, String, &Value)> {
    let paths = spec["paths"]
        .as_object()
        .expect("openapi.yaml has a `paths` mapping");
    let mut found = Vec::new();
    for (path, item) in paths {
        let item = item
            .as_object()
            .unwrap_or_else(|| panic!("paths.{path} is not a mapping"));
        for (key, operation) in item {
            if METHODS.contains(&key.as_str()) {
                found.push((key.to_ascii_uppercase(), path.clone(), operation));
            }
        }
    }
    found
}

/// Follows `$ref`s (local JSON pointers) until a node without one.
fn resolve<'a>(spec: &'a Value, mut node: &'a Value) -> Result<&'a Value, String> {
    for _ in 0..16 {
        let Some(reference) = node.get("$ref").and_then(Value::as_str) else {
            return Ok(node);
        };
        node = reference
            .strip_prefix('#')
            .and_then(|pointer| spec.pointer(pointer))
            .ok_or_else(|| format!("`$ref: {reference}` does not resolve"))?;
    }
    Err("`$ref` chain longer than 16".to_owned())
}

/// `- missing` / `+ extra` lines, or nothing when the sets agree.
fn diff(expected: &BTreeSet<(String, String)>, actual: &BTreeSet<(String, String)>) -> String {
    let mut lines = Vec::new();
    for (method, path) in expected.difference(actual) {
        lines.push(format!(
            "  - {method} {path}   (served by the router, missing from openapi.yaml)"
        ));
    }
    for (method, path) in actual.difference(expected) {
        lines.push(format!(
            "  + {method} {path}   (in openapi.yaml, not a route of the router)"
        ));
    }
    lines.join("\n")
}

#[test]
fn documents_exactly_the_routers_routes() {
    let served: BTreeSet<(String, String)> = ROUTES
        .iter()
        .chain(std::iter::once(&HEALTH))
        .chain(hl7_inbound::ROUTES)
        .chain(crm_outbound::ROUTES)
        .map(|(method, path)| ((*method).to_owned(), (*path).to_owned()))
        .collect();
    assert_eq!(
        served.len(),
        ROUTES.len() + 1 + hl7_inbound::ROUTES.len() + crm_outbound::ROUTES.len(),
        "a route is listed twice (or consent_api::ROUTES lists GET /health)"
    );
    let spec = spec();
    let documented: BTreeSet<(String, String)> = operations(&spec)
        .into_iter()
        .map(|(method, path, _)| (method, path))
        .collect();
    let diff = diff(&served, &documented);
    assert!(
        diff.is_empty(),
        "infra/openapi.yaml and the routers' ROUTES (+ GET /health) disagree:\n{diff}"
    );
}

#[test]
fn every_operation_answers_errors_as_problem_json() {
    let spec = spec();
    let default_security = spec.get("security");
    let mut problems = Vec::new();
    for (method, path, operation) in operations(&spec) {
        let at = format!("{method} {path}");
        let Some(responses) = operation["responses"].as_object() else {
            problems.push(format!("{at}: no responses"));
            continue;
        };
        // Authenticated unless the operation (or the document) opts out with `security: []`.
        let security = operation.get("security").or(default_security);
        let authenticated = security.is_some_and(|s| s.as_array().is_some_and(|a| !a.is_empty()));
        // The authentication layer can answer any authenticated operation with 401 and 403, so
        // each declares both (and so at least one 4xx); `GET /health` has no error of its own.
        if authenticated {
            for status in ["401", "403"] {
                if !responses.contains_key(status) {
                    problems.push(format!("{at}: authenticated, but declares no {status}"));
                }
            }
        }
        for (status, response) in responses {
            if !(status.starts_with('4') || status.starts_with('5')) {
                continue;
            }
            let schema = resolve(&spec, response).and_then(|r| {
                r.pointer(PROBLEM_JSON_SCHEMA)
                    .ok_or_else(|| format!("no {PROBLEM_JSON} content"))
            });
            match schema {
                Ok(schema)
                    if schema.get("$ref").and_then(Value::as_str) == Some(PROBLEM_SCHEMA) => {}
                Ok(_) => problems.push(format!(
                    "{at} {status}: the {PROBLEM_JSON} schema is not {PROBLEM_SCHEMA}"
                )),
                Err(why) => problems.push(format!("{at} {status}: {why}")),
            }
        }
    }
    assert!(
        problems.is_empty(),
        "error responses in infra/openapi.yaml:\n  {}",
        problems.join("\n  ")
    );
}

/// Every `$ref` in the document, as `(where, target)`.
fn refs(node: &Value, at: &str, found: &mut Vec<(String, String)>) {
    match node {
        Value::Object(map) => {
            for (key, value) in map {
                let here = format!("{at}/{}", key.replace('~', "~0").replace('/', "~1"));
                match (key.as_str(), value) {
                    ("$ref", Value::String(target)) => found.push((here, target.clone())),
                    _ => refs(value, &here, found),
                }
            }
        }
        Value::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                refs(item, &format!("{at}/{i}"), found);
            }
        }
        _ => {}
    }
}

#[test]
fn every_ref_resolves() {
    let spec = spec();
    let mut found = Vec::new();
    refs(&spec, "#", &mut found);
    assert!(
        found.len() > 50,
        "only {} `$ref`s found; is this the right document?",
        found.len()
    );
    let dangling: Vec<String> = found
        .iter()
        .filter(|(_, target)| {
            target
                .strip_prefix('#')
                .and_then(|pointer| spec.pointer(pointer))
                .is_none()
        })
        .map(|(at, target)| format!("{at}: {target}"))
        .collect();
    assert!(
        dangling.is_empty(),
        "`$ref`s in infra/openapi.yaml that do not resolve (only local `#/...` pointers are allowed):\n  {}",
        dangling.join("\n  ")
    );
}

/// The `Id` schema is the domain's id grammar, and every operation that takes a body documents
/// 413 (over the body limit) and every operation 400 (an unreadable path, query or body).
#[test]
fn ids_and_input_errors_are_documented() {
    let spec = spec();
    let id = &spec["components"]["schemas"]["Id"];
    assert_eq!(id["pattern"], connector_domain::ids::ID_PATTERN);
    assert_eq!(id["maxLength"], connector_domain::ids::ID_MAX_LEN);
    let mut missing = Vec::new();
    for (method, path, operation) in operations(&spec) {
        if path == "/health" || method == "HEAD" {
            continue;
        }
        let responses = &operation["responses"];
        if responses.get("400").is_none() {
            missing.push(format!("{method} {path}: 400"));
        }
        if operation.get("requestBody").is_some() && responses.get("413").is_none() {
            missing.push(format!("{method} {path}: 413"));
        }
    }
    assert!(missing.is_empty(), "undocumented: {missing:#?}");
}
