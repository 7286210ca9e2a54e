//! `/api/v1/docs`: the OpenAPI document as a server-rendered page — every path and
//! method with its summary, description, parameters, request body and responses, and
//! the schemas they use. Read from the same document `/api/v1/openapi.json` serves,
//! so the page cannot drift from the API.

use super::{Chrome, render};
use crate::i18n::Tr;
use askama::Template;
use axum::extract::OriginalUri;
use axum::http::StatusCode;
use axum::response::Response;
use serde_json::Value;

/// One parameter of an operation.
pub struct Param {
    pub name: String,
    pub location: String,
    pub required: bool,
    pub schema: String,
    pub description: String,
}

/// One response of an operation.
pub struct Reply {
    pub status: String,
    pub description: String,
    pub body: String,
}

/// One method on one path.
pub struct Operation {
    pub anchor: String,
    pub method: String,
    pub path: String,
    pub summary: String,
    pub description: String,
    pub params: Vec<Param>,
    /// Content type and schema of the request body.
    pub body: Option<(String, String)>,
    pub replies: Vec<Reply>,
    pub secured: bool,
}

/// The operations of one tag.
pub struct Group {
    pub name: String,
    pub description: String,
    pub operations: Vec<Operation>,
}

/// A named schema and its properties (name, type, required, description).
pub struct SchemaDoc {
    pub name: String,
    pub description: String,
    pub properties: Vec<(String, String, bool, String)>,
}

#[derive(Template)]
#[template(path = "api_docs.html")]
struct DocsPage {
    c: Chrome,
    t: Tr,
    title: String,
    version: String,
    description: String,
    groups: Vec<Group>,
    schemas: Vec<SchemaDoc>,
}

fn text(v: &Value, key: &str) -> String {
    v.get(key).and_then(Value::as_str).unwrap_or_default().to_owned()
}

/// A short name for a schema: the referenced component, `T[]`, or the JSON type.
pub fn schema_name(v: &Value) -> String {
    if let Some(r) = v.get("$ref").and_then(Value::as_str) {
        return r.rsplit('/').next().unwrap_or(r).to_owned();
    }
    for key in ["oneOf", "anyOf", "allOf"] {
        if let Some(list) = v.get(key).and_then(Value::as_array) {
            let names: Vec<String> = list.iter().map(schema_name).filter(|n| n != "null").collect();
            return names.join(" | ");
        }
    }
    let ty = match v.get("type") {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Array(a)) => {
            a.iter().filter_map(Value::as_str).filter(|s| *s != "null").collect::<Vec<_>>().join(" | ")
        }
        _ => return if v.as_object().is_some_and(|o| o.is_empty()) { "any".into() } else { "object".into() },
    };
    match ty.as_str() {
        "array" => format!("{}[]", v.get("items").map(schema_name).unwrap_or_else(|| "any".into())),
        _ => match v.get("format").and_then(Value::as_str) {
            Some(f) => format!("{ty} ({f})"),
            None => ty,
        },
    }
}

const METHODS: &[&str] = &["get", "post", "put", "patch", "delete", "head", "options", "trace"];

/// Build the page model from an OpenAPI document (as JSON).
pub fn groups(doc: &Value) -> Vec<Group> {
    let mut groups: Vec<Group> = doc
        .get("tags")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .map(|t| Group { name: text(t, "name"), description: text(t, "description"), operations: vec![] })
        .collect();
    let paths = doc.get("paths").and_then(Value::as_object).cloned().unwrap_or_default();
    for (path, item) in &paths {
        for method in METHODS {
            let Some(op) = item.get(*method) else { continue };
            let params = op
                .get("parameters")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .map(|p| Param {
                    name: text(p, "name"),
                    location: text(p, "in"),
                    required: p.get("required").and_then(Value::as_bool).unwrap_or(false),
                    schema: p.get("schema").map(schema_name).unwrap_or_default(),
                    description: text(p, "description"),
                })
                .collect();
            let body = op.get("requestBody").and_then(|b| b.get("content")).and_then(Value::as_object).map(|c| {
                let types: Vec<&str> = c.keys().map(String::as_str).collect();
                let schema = c.values().next().and_then(|x| x.get("schema")).map(schema_name).unwrap_or_default();
                (types.join(", "), schema)
            });
            let replies = op
                .get("responses")
                .and_then(Value::as_object)
                .into_iter()
                .flatten()
                .map(|(status, r)| Reply {
                    status: status.clone(),
                    description: text(r, "description"),
                    body: r
                        .get("content")
                        .and_then(Value::as_object)
                        .and_then(|c| c.iter().next())
                        .map(|(ct, x)| match x.get("schema") {
                            Some(s) => format!("{} ({ct})", schema_name(s)),
                            None => ct.clone(),
                        })
                        .unwrap_or_default(),
                })
                .collect();
            let operation = Operation {
                anchor: format!("{method}-{}", path.trim_matches('/').replace(['/', '{', '}'], "-")),
                method: method.to_uppercase(),
                path: path.clone(),
                summary: text(op, "summary"),
                description: text(op, "description"),
                params,
                body,
                replies,
                secured: op.get("security").and_then(Value::as_array).is_some_and(|s| !s.is_empty()),
            };
            let tag = op.get("tags").and_then(|t| t.get(0)).and_then(Value::as_str).unwrap_or("other").to_owned();
            match groups.iter_mut().find(|g| g.name == tag) {
                Some(g) => g.operations.push(operation),
                None => groups.push(Group { name: tag, description: String::new(), operations: vec![operation] }),
            }
        }
    }
    groups.retain(|g| !g.operations.is_empty());
    groups
}

/// The component schemas with their properties.
pub fn schemas(doc: &Value) -> Vec<SchemaDoc> {
    let Some(all) = doc.pointer("/components/schemas").and_then(Value::as_object) else { return vec![] };
    all.iter()
        .map(|(name, s)| {
            let required: Vec<&str> =
                s.get("required").and_then(Value::as_array).into_iter().flatten().filter_map(Value::as_str).collect();
            let properties = s
                .get("properties")
                .and_then(Value::as_object)
                .into_iter()
                .flatten()
                .map(|(p, v)| (p.clone(), schema_name(v), required.contains(&p.as_str()), text(v, "description")))
                .collect();
            SchemaDoc { name: name.clone(), description: text(s, "description"), properties }
        })
        .collect()
}

pub async fn page(t: Tr, OriginalUri(uri): OriginalUri) -> Response {
    let doc = serde_json::to_value(&*crate::api::openapi()).unwrap_or_default();
    let info = doc.get("info").cloned().unwrap_or_default();
    let page = DocsPage {
        c: Chrome::public(t, t.get("docs-title"), uri.path()),
        t,
        title: text(&info, "title"),
        version: text(&info, "version"),
        description: text(&info, "description"),
        groups: groups(&doc),
        schemas: schemas(&doc),
    };
    render(StatusCode::OK, &page)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn schema_names_are_short() {
        assert_eq!(schema_name(&json!({"$ref": "#/components/schemas/Problem"})), "Problem");
        assert_eq!(schema_name(&json!({"type": "array", "items": {"$ref": "#/components/schemas/User"}})), "User[]");
        assert_eq!(schema_name(&json!({"type": ["integer", "null"], "format": "int64"})), "integer (int64)");
        assert_eq!(schema_name(&json!({})), "any");
    }

    #[test]
    fn every_operation_of_the_api_is_listed() {
        let doc = serde_json::to_value(&*crate::api::openapi()).unwrap();
        let groups = groups(&doc);
        let ops: Vec<(String, String)> =
            groups.iter().flat_map(|g| g.operations.iter().map(|o| (o.method.clone(), o.path.clone()))).collect();
        let expected: usize = doc["paths"]
            .as_object()
            .unwrap()
            .values()
            .map(|i| METHODS.iter().filter(|m| i.get(**m).is_some()).count())
            .sum();
        assert_eq!(ops.len(), expected);
        assert!(ops.contains(&("GET".into(), "/api/v1/enterprises".into())));
        let create = groups
            .iter()
            .flat_map(|g| &g.operations)
            .find(|o| o.method == "POST" && o.path == "/api/v1/enterprises")
            .unwrap();
        assert!(create.body.is_some() && create.replies.iter().any(|r| r.status == "422"));
        assert!(schemas(&doc).iter().any(|s| s.name == "Problem" && !s.properties.is_empty()));
    }
}
