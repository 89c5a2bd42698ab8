//! A JSON body extractor whose errors never echo the input: serde's messages can quote values
//! (`invalid type: string "..."`), and values may be PHI.

use axum::extract::{FromRequest, Request};
use axum::http::header;
use serde::de::DeserializeOwned;

use super::problem::Problem;

/// Largest accepted JSON body.
const MAX_BODY_BYTES: usize = 256 * 1024;

/// Like `axum::Json`, but a bad body becomes a problem response that names the place and the kind
/// of error, or the missing/unknown field, never a value. An empty body reads as `{}`.
#[derive(Debug)]
pub struct JsonBody<T>(pub T);

impl<S, T> FromRequest<S> for JsonBody<T>
where
    S: Send + Sync,
    T: DeserializeOwned,
{
    type Rejection = Problem;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        let content_type = request
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let bytes = axum::body::Bytes::from_request(request, state)
            .await
            .map_err(|_| Problem::bad_request("the request body could not be read"))?;
        if bytes.len() > MAX_BODY_BYTES {
            return Err(Problem::bad_request("the request body is too large"));
        }
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return parse(b"{}");
        }
        if let Some(ct) = content_type
            && !ct.starts_with("application/json")
            && !ct.ends_with("+json")
        {
            return Err(Problem::new(
                axum::http::StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported-media-type",
                "Unsupported media type",
                "send the body as application/json",
            ));
        }
        parse(&bytes)
    }
}

fn parse<T: DeserializeOwned>(bytes: &[u8]) -> Result<JsonBody<T>, Problem> {
    serde_json::from_slice(bytes)
        .map(JsonBody)
        .map_err(|err| Problem::bad_request(describe(&err)))
}

/// Describes a serde_json error by position and kind; quotes serde's message only for missing or
/// unknown fields, whose messages name fields, not values.
pub(crate) fn describe(err: &serde_json::Error) -> String {
    let message = err.to_string();
    let place = format!("line {} column {}", err.line(), err.column());
    if message.starts_with("unknown field") || message.starts_with("missing field") {
        let field_part = message.split(" at line").next().unwrap_or("");
        return format!("{field_part} ({place})");
    }
    match err.classify() {
        serde_json::error::Category::Syntax | serde_json::error::Category::Eof => {
            format!("the body is not valid JSON ({place})")
        }
        _ => format!("a value has the wrong type or form ({place})"),
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
}
