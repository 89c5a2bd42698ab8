//! From a verified token's claims to an [`Actor`]: one mapping for API Gateway's JWT authorizer
//! (claims as strings, lists flattened to `[staff admin]`) and `connector serve --oidc` (claims
//! as JSON values, lists as arrays). `sub` names the user; the role comes from a role claim
//! (`role` unless `JWT_ROLE_CLAIM` names another, e.g. `custom:role` or `cognito:groups`) and a
//! list of roles yields the most privileged; a patient's user id is the `patient_id` claim (or
//! `JWT_PATIENT_ID_CLAIM`), falling back to `sub`.

use std::collections::HashMap;

use connector_domain::{Actor, Role};
use serde_json::{Map, Value};

use super::problem::Problem;

/// Which claims carry the role and a patient's id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClaimNames {
    role: String,
    patient_id: String,
}

impl Default for ClaimNames {
    fn default() -> Self {
        Self::new("role", "patient_id")
    }
}

impl ClaimNames {
    /// Reads the role from `role` and a patient's id from `patient_id`.
    pub fn new(role: impl Into<String>, patient_id: impl Into<String>) -> Self {
        Self {
            role: role.into(),
            patient_id: patient_id.into(),
        }
    }

    /// Claim names from `JWT_ROLE_CLAIM` and `JWT_PATIENT_ID_CLAIM`, defaulting to `role` and
    /// `patient_id`.
    pub fn from_env() -> Self {
        Self::new(
            std::env::var("JWT_ROLE_CLAIM").unwrap_or_else(|_| "role".to_owned()),
            std::env::var("JWT_PATIENT_ID_CLAIM").unwrap_or_else(|_| "patient_id".to_owned()),
        )
    }

    /// The caller named by claims given as strings (API Gateway's authorizer context).
    pub fn actor_from_strings(&self, claims: &HashMap<String, String>) -> Result<Actor, Problem> {
        let role = claims
            .get(&self.role)
            .and_then(|v| strongest_role([v.as_str()]));
        self.actor(
            claims.get("sub").map(String::as_str),
            role,
            claims.get(&self.patient_id).map(String::as_str),
        )
    }

    /// The caller named by a verified JWT's claims (JSON values; a role claim may be a string
    /// or an array of strings).
    pub fn actor_from_json(&self, claims: &Map<String, Value>) -> Result<Actor, Problem> {
        let role = match claims.get(&self.role) {
            Some(Value::String(text)) => strongest_role([text.as_str()]),
            Some(Value::Array(items)) => strongest_role(items.iter().filter_map(Value::as_str)),
            _ => None,
        };
        self.actor(
            claims.get("sub").and_then(Value::as_str),
            role,
            claims.get(&self.patient_id).and_then(Value::as_str),
        )
    }

    fn actor(
        &self,
        sub: Option<&str>,
        role: Option<Role>,
        patient_id: Option<&str>,
    ) -> Result<Actor, Problem> {
        let sub = sub
            .filter(|s| !s.is_empty())
            .ok_or_else(|| Problem::unauthorized("the token has no subject"))?;
        let role = role.ok_or_else(|| {
            Problem::forbidden("the token carries no staff, admin or patient role")
        })?;
        let user = match role {
            Role::Patient => patient_id.filter(|p| !p.is_empty()).unwrap_or(sub),
            _ => sub,
        };
        Ok(Actor::new(user, role))
    }
}

/// The most privileged role named in claim values, each of which may itself be a flattened
/// list: `admin`, `[staff admin]`, `staff,patient`.
fn strongest_role<'a>(values: impl IntoIterator<Item = &'a str>) -> Option<Role> {
    let rank = |r: &Role| match r {
        Role::Admin => 3,
        Role::Staff => 2,
        Role::Patient => 1,
        Role::System => 0,
    };
    values
        .into_iter()
        .flat_map(|value| {
            value
                .trim_matches(|c| c == '[' || c == ']')
                .split(|c: char| c == ',' || c.is_whitespace())
        })
        .filter_map(Role::parse)
        .filter(|r| *r != Role::System)
        .max_by_key(rank)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn strongest_role_reads_lists() {
        assert_eq!(strongest_role(["admin"]), Some(Role::Admin));
        assert_eq!(strongest_role(["[patient staff]"]), Some(Role::Staff));
        assert_eq!(strongest_role(["staff,admin"]), Some(Role::Admin));
        assert_eq!(strongest_role(["patient", "admin"]), Some(Role::Admin));
        assert_eq!(strongest_role(["system"]), None);
        assert_eq!(strongest_role([""]), None);
    }

    fn strings(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    fn json_claims(value: Value) -> Map<String, Value> {
        value.as_object().cloned().unwrap()
    }

    #[test]
    fn strings_and_json_map_the_same_way() {
        let groups = ClaimNames::new("cognito:groups", "patient_id");
        let from_gateway = groups
            .actor_from_strings(&strings(&[
                ("sub", "u-1"),
                ("cognito:groups", "[staff admin]"),
            ]))
            .unwrap();
        let from_jwt = groups
            .actor_from_json(&json_claims(
                json!({ "sub": "u-1", "cognito:groups": ["staff", "admin"] }),
            ))
            .unwrap();
        assert_eq!(from_gateway, Actor::new("u-1", Role::Admin));
        assert_eq!(from_jwt, from_gateway);

        let names = ClaimNames::default();
        let patient = names
            .actor_from_json(&json_claims(
                json!({ "sub": "u-2", "role": "patient", "patient_id": "P-7" }),
            ))
            .unwrap();
        assert_eq!(patient, Actor::new("P-7", Role::Patient));
        let patient = names
            .actor_from_strings(&strings(&[("sub", "u-2"), ("role", "patient")]))
            .unwrap();
        assert_eq!(
            patient,
            Actor::new("u-2", Role::Patient),
            "falls back to sub"
        );
        // A staff member's patient_id claim is not their identity.
        let staff = names
            .actor_from_json(&json_claims(
                json!({ "sub": "u-3", "role": "staff", "patient_id": "P-7" }),
            ))
            .unwrap();
        assert_eq!(staff, Actor::new("u-3", Role::Staff));
    }

    #[test]
    fn missing_subject_or_role_is_refused() {
        let names = ClaimNames::default();
        let no_sub = names
            .actor_from_json(&json_claims(json!({ "role": "admin" })))
            .unwrap_err();
        assert_eq!(no_sub.status, 401);
        let no_role = names
            .actor_from_json(&json_claims(json!({ "sub": "u", "role": ["system", 3] })))
            .unwrap_err();
        assert_eq!(no_role.status, 403);
        let numeric = names
            .actor_from_json(&json_claims(json!({ "sub": "u", "role": 3 })))
            .unwrap_err();
        assert_eq!(numeric.status, 403);
    }
}
