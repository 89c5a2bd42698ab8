//! JSON body extractors whose errors never echo the input: serde's messages can quote values
//! (`invalid type: string "..."`), and values may be PHI.
//!
//! The rules (README "HTTP API rules", infra/openapi.yaml): a body is `application/json`
//! (parameters such as `charset` allowed; anything else, or no content type, is 415); at most
//! 256 KiB (413); a JSON object at the top and wherever the schema has an object (an array in
//! its place is 400, though serde would read it as the object's fields in order); integer fields
//! take JSON integers only (`17.0` is 400). [`JsonBody`] requires a body (an empty one is 400);
//! [`OptionalJsonBody`] reads an empty one as `{}`.

use axum::extract::{FromRequest, Request};
use axum::http::{StatusCode, header};
use serde::de::DeserializeOwned;

use super::problem::Problem;
use super::strict;

/// Largest accepted JSON body.
pub const MAX_BODY_BYTES: usize = 256 * 1024;

/// Like `axum::Json`, but strict (see the module) and a bad body becomes a problem response that
/// names the place and the kind of error, or the missing/unknown field, never a value. The body
/// is required.
#[derive(Debug)]
pub struct JsonBody<T>(pub T);

/// As [`JsonBody`], for routes whose body is optional: an empty body reads as `{}`.
#[derive(Debug)]
pub struct OptionalJsonBody<T>(pub T);

impl<S, T> FromRequest<S> for JsonBody<T>
where
    S: Send + Sync,
    T: DeserializeOwned,
{
    type Rejection = Problem;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        read(request, state, false).await.map(JsonBody)
    }
}

impl<S, T> FromRequest<S> for OptionalJsonBody<T>
where
    S: Send + Sync,
    T: DeserializeOwned,
{
    type Rejection = Problem;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        read(request, state, true).await.map(OptionalJsonBody)
    }
}

/// 413 for a body over [`MAX_BODY_BYTES`].
fn too_large() -> Problem {
    Problem::new(
        StatusCode::PAYLOAD_TOO_LARGE,
        "payload-too-large",
        "Payload too large",
        format!(
            "the request body is larger than {} KiB",
            MAX_BODY_BYTES / 1024
        ),
    )
}

/// Whether a `Content-Type` value is `application/json`, with or without parameters.
pub(crate) fn is_json(content_type: &str) -> bool {
    content_type
        .split(';')
        .next()
        .is_some_and(|essence| essence.trim().eq_ignore_ascii_case("application/json"))
}

async fn read<S, T>(request: Request, state: &S, optional: bool) -> Result<T, Problem>
where
    S: Send + Sync,
    T: DeserializeOwned,
{
    let content_type = request
        .headers()
        .get(header::CONTENT_TYPE)
        .map(|v| v.to_str().map(str::to_owned));
    let bytes = axum::body::Bytes::from_request(request, state)
        .await
        .map_err(|rejection| {
            if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
                too_large()
            } else {
                Problem::bad_request("the request body could not be read")
            }
        })?;
    if bytes.len() > MAX_BODY_BYTES {
        return Err(too_large());
    }
    if bytes.iter().all(u8::is_ascii_whitespace) {
        if optional {
            return parse(b"{}");
        }
        return Err(Problem::bad_request(
            "this route needs a JSON object as the request body",
        ));
    }
    match content_type {
        Some(Ok(ct)) if is_json(&ct) => {}
        _ => {
            return Err(Problem::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported-media-type",
                "Unsupported media type",
                "send the body as application/json",
            ));
        }
    }
    if bytes.iter().find(|b| !b.is_ascii_whitespace()) != Some(&b'{') {
        return Err(Problem::bad_request("the body must be a JSON object"));
    }
    parse(&bytes)
}

fn parse<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, Problem> {
    let value: T =
        serde_json::from_slice(bytes).map_err(|err| Problem::bad_request(describe(&err)))?;
    // serde reads an array in an object's place as the object's fields in order: refuse that.
    let tree: serde_json::Value =
        serde_json::from_slice(bytes).map_err(|err| Problem::bad_request(describe(&err)))?;
    strict::check::<T>(&tree).map_err(Problem::bad_request)?;
    Ok(value)
}

/// What a serde_json error is about, read without quoting a value (serde's messages can quote
/// values, and values may be PHI): what the API's problems and `connector flows`' messages say.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JsonFault {
    /// A missing or unknown field: serde's message up to its position (it names the field,
    /// never a value).
    Field(String),
    /// Not valid JSON (a syntax error, or the text ends early).
    Syntax,
    /// A value of the wrong type or form.
    Value,
}

impl JsonFault {
    /// The fault of `err`, and where it is (`line L column C`).
    pub fn of(err: &serde_json::Error) -> (Self, String) {
        let place = format!("line {} column {}", err.line(), err.column());
        let message = err.to_string();
        let fault = if message.starts_with("unknown field") || message.starts_with("missing field")
        {
            Self::Field(message.split(" at line").next().unwrap_or("").to_owned())
        } else {
            match err.classify() {
                serde_json::error::Category::Syntax | serde_json::error::Category::Eof => {
                    Self::Syntax
                }
                _ => Self::Value,
            }
        };
        (fault, place)
    }
}

/// Describes a serde_json error by position and kind; quotes serde's message only for missing or
/// unknown fields, whose messages name fields, not values.
pub(crate) fn describe(err: &serde_json::Error) -> String {
    match JsonFault::of(err) {
        (JsonFault::Field(field), place) => format!("{field} ({place})"),
        (JsonFault::Syntax, place) => format!("the body is not valid JSON ({place})"),
        (JsonFault::Value, place) => format!("a value has the wrong type or form ({place})"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Input {
        days: u32,
    }

    #[test]
    fn messages_do_not_echo_values() {
        let err = serde_json::from_str::<Input>(r#"{"days": "Avery Quill"}"#).unwrap_err();
        let text = describe(&err);
        assert!(!text.contains("Avery"), "{text}");
        assert!(text.contains("line 1"));
    }

    #[test]
    fn unknown_fields_are_named() {
        let err = serde_json::from_str::<Input>(r#"{"dayz": 1}"#).unwrap_err();
        assert!(describe(&err).starts_with("unknown field `dayz`"));
    }

    #[test]
    fn json_media_types() {
        assert!(is_json("application/json"));
        assert!(is_json("Application/JSON ; charset=utf-8"));
        for other in [
            "application/jsonx",
            "application/json-seq",
            "text/json",
            "application/problem+json",
            "",
        ] {
            assert!(!is_json(other), "{other}");
        }
    }

    #[test]
    fn integral_floats_are_not_integers() {
        assert!(parse::<Input>(br#"{"days": 17.0}"#).is_err());
        assert!(parse::<Input>(br#"{"days": 17}"#).is_ok());
    }
}
