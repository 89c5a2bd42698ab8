//! [`Reply`]: a finished HTTP answer (from a socket or from the Lambda handler's router), with
//! the assertions the tests make of it.

use connector_app::ehr_to_crm::ER7_CONTENT_TYPE;
use reqwest::header::HeaderMap;
use serde_json::Value;

use crate::support::hl7::Ack;

/// A finished response: status, headers, the body as text and, when it is JSON, parsed
/// (`Null` when empty or not JSON).
#[derive(Debug)]
pub struct Reply {
    /// The HTTP status.
    pub status: u16,
    /// The `content-type` header (empty when absent).
    pub content_type: String,
    /// Every header.
    pub headers: HeaderMap,
    /// The body as text.
    pub text: String,
    /// The body as JSON (`Null` when empty or of another media type).
    pub body: Value,
}

impl Reply {
    /// A reply from its parts; a JSON media type must carry valid JSON.
    pub fn new(status: u16, headers: HeaderMap, bytes: &[u8]) -> Self {
        let content_type = headers
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_owned();
        let text = String::from_utf8_lossy(bytes).into_owned();
        let body = if bytes.is_empty() {
            Value::Null
        } else if content_type.contains("json") {
            serde_json::from_slice(bytes).expect("JSON body")
        } else {
            serde_json::from_slice(bytes).unwrap_or(Value::Null)
        };
        Self {
            status,
            content_type,
            headers,
            text,
            body,
        }
    }

    /// Reads a `reqwest` response to the end.
    pub async fn read(response: reqwest::Response) -> Self {
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let bytes = response.bytes().await.expect("body");
        Self::new(status, headers, &bytes)
    }

    /// Reads a router's response to the end.
    pub async fn read_axum(response: axum::response::Response) -> Self {
        use http_body_util::BodyExt;
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let bytes = response
            .into_body()
            .collect()
            .await
            .expect("body")
            .to_bytes();
        Self::new(status, headers, &bytes)
    }

    /// Asserts `status`, and returns the reply.
    #[track_caller]
    pub fn expect(self, status: u16) -> Self {
        assert_eq!(self.status, status, "{:#}", self.body);
        self
    }

    /// Asserts a problem+json answer with `status`, and returns it.
    #[track_caller]
    pub fn assert_problem(self, status: u16) -> Self {
        assert_eq!(self.status, status, "{:#} {}", self.body, self.text);
        assert_eq!(self.content_type, "application/problem+json");
        for key in ["type", "title", "status", "detail"] {
            assert!(
                self.body.get(key).is_some(),
                "problem lacks {key}: {}",
                self.body
            );
        }
        self
    }

    /// Asserts a problem+json answer with `status` and the problem type `kind` (such as
    /// `/problems/mapping`), and returns it.
    #[track_caller]
    pub fn assert_problem_type(self, status: u16, kind: &str) -> Self {
        let reply = self.assert_problem(status);
        assert_eq!(reply.body["type"], kind, "{:#}", reply.body);
        reply
    }

    /// Asserts a 422 validation problem whose first error names `field`, and returns it.
    #[track_caller]
    pub fn assert_invalid(self, field: &str) -> Self {
        let reply = self.assert_problem(422);
        assert_eq!(reply.body["errors"][0]["field"], field, "{:#}", reply.body);
        reply
    }

    /// The `field` of each entry of a validation problem's `errors`, in order.
    #[track_caller]
    pub fn error_fields(&self) -> Vec<String> {
        self.body["errors"]
            .as_array()
            .expect("a problem with errors")
            .iter()
            .map(|e| e["field"].as_str().expect("a field").to_owned())
            .collect()
    }

    /// The ACK in the body; asserts a 200 with the ER7 media type.
    #[track_caller]
    pub fn ack(&self) -> Ack {
        assert_eq!(self.status, 200, "{}", self.text);
        assert_eq!(self.content_type, ER7_CONTENT_TYPE);
        Ack::parse(&self.text)
    }

    /// The delivery ids of a CRM webhook's `Success` answer (asserting a 200 `Success`).
    #[track_caller]
    pub fn delivery_ids(&self) -> Vec<String> {
        assert_eq!(self.status, 200, "{:#}", self.body);
        assert_eq!(self.body["Status"], "Success", "{:#}", self.body);
        self.body["DeliveryIds"]
            .as_array()
            .expect("DeliveryIds")
            .iter()
            .map(|v| v.as_str().expect("an id").to_owned())
            .collect()
    }
}
