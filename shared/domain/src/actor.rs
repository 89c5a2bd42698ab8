//! Who performs an action: recorded on every consent change and audit entry.

use serde::{Deserialize, Serialize};

/// The role a caller acts in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Clinic staff: manage patients and consents.
    Staff,
    /// Clinic administrator: everything staff can, plus settings, flows and the audit log.
    Admin,
    /// A patient through the portal: only their own consents.
    Patient,
    /// The connector itself (opt-in by default, background jobs).
    System,
}

impl Role {
    /// Parses a role name as used in headers and JWT claims.
    pub fn parse(value: &str) -> Option<Self> {
        match value.trim().to_ascii_lowercase().as_str() {
            "staff" => Some(Self::Staff),
            "admin" => Some(Self::Admin),
            "patient" => Some(Self::Patient),
            "system" => Some(Self::System),
            _ => None,
        }
    }

    /// The role's wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Staff => "staff",
            Self::Admin => "admin",
            Self::Patient => "patient",
            Self::System => "system",
        }
    }
}

/// An authenticated caller: a user id (a JWT `sub`, a local user name) and a role.
/// User ids are account identifiers, not PHI, and may be logged.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Actor {
    /// The user's identifier.
    pub user: String,
    /// The role the user acts in.
    pub role: Role,
}

impl Actor {
    /// An actor with the given user and role.
    pub fn new(user: impl Into<String>, role: Role) -> Self {
        Self {
            user: user.into(),
            role,
        }
    }

    /// The connector itself, acting for `job` (e.g. `opt-in-default`, `batch-collector`).
    pub fn system(job: &str) -> Self {
        Self {
            user: format!("system:{job}"),
            role: Role::System,
        }
    }

    /// True for staff and admins, who may manage any patient's consents.
    pub fn is_clinic_user(&self) -> bool {
        matches!(self.role, Role::Staff | Role::Admin)
    }
}
