//! Creating, replacing and deleting channels and flows: validation (the domain's
//! [`ChannelInput`] / [`FlowInput`] rules, plus the checks that need the store: a flow's channel
//! exists and can carry it, a channel keeps what its flows need, a channel in use is not
//! deleted, every secret reference of a channel resolves) and the `configuration_changes`
//! audit entry each change is stored with.
//!
//! The consent API's `/channels` and `/flows` routes and `connector flows apply` both go through
//! these functions. Audit details hold ids and the names of the changed fields, never values.

use chrono::{DateTime, Utc};
use connector_domain::audit::{AuditEntry, AuditOutcome, LogType};
use connector_domain::flow::{
    Channel, ChannelId, ChannelInput, Direction, Flow, FlowId, FlowInput, SecretRef,
};
use connector_domain::ports::{FlowStore, SecretStatus, SecretStore};
use connector_domain::{Actor, Clock, StoreError, ValidationError, ValidationErrors};
use serde::Serialize;
use serde_json::json;

/// Flow ids that would be shadowed by the fixed routes under `/flows/`.
pub const RESERVED_FLOW_IDS: [&str; 2] = ["test", "template-fields"];

/// The ports the operations use.
#[derive(Clone, Copy)]
pub struct AdminPorts<'a> {
    /// Channels and flows.
    pub flows: &'a dyn FlowStore,
    /// Resolves a channel's secret references (a channel is saved only when they resolve).
    pub secrets: &'a dyn SecretStore,
    /// Time.
    pub clock: &'a dyn Clock,
}

/// What a create-or-replace did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "result", rename_all = "snake_case")]
pub enum Change {
    /// The record is new.
    Created,
    /// The record changed; `changed` names the top-level fields that differ.
    Updated {
        /// The changed fields (`mappings`, `outbound`, ...).
        changed: Vec<String>,
    },
    /// The input equals what is stored: nothing was written or audited.
    Unchanged,
}

/// Why an operation was refused.
#[derive(Debug, thiserror::Error)]
pub enum AdminError {
    /// The input broke the listed rules (nothing was written).
    #[error("{} invalid field(s)", .0.0.len())]
    Invalid(ValidationErrors),
    /// No channel or flow with this id.
    #[error("no such {0}")]
    NotFound(&'static str),
    /// A channel or flow with this id already exists.
    #[error("a {0} with this id already exists")]
    Exists(&'static str),
    /// The channel is still used by flows.
    #[error("the channel is used by {flows} flow(s)")]
    InUse {
        /// How many flows use it.
        flows: usize,
    },
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl AdminError {
    /// Maps a store error, its `NotFound` as [`AdminError::NotFound`] of `what`.
    fn unless_missing(what: &'static str) -> impl FnOnce(StoreError) -> Self {
        move |err| match err {
            StoreError::NotFound => Self::NotFound(what),
            err => err.into(),
        }
    }

    /// Maps a store error, its `Conflict` as [`AdminError::Exists`] of `what`.
    fn unless_taken(what: &'static str) -> impl FnOnce(StoreError) -> Self {
        move |err| match err {
            StoreError::Conflict(_) => Self::Exists(what),
            err => err.into(),
        }
    }
}

/// The stored record a lookup found, or [`AdminError::NotFound`] of `what`.
fn existing<T>(found: Option<T>, what: &'static str) -> Result<T, AdminError> {
    found.ok_or(AdminError::NotFound(what))
}

impl From<ValidationErrors> for AdminError {
    fn from(errors: ValidationErrors) -> Self {
        Self::Invalid(errors)
    }
}

fn audit(actor: &Actor, at: DateTime<Utc>, action: &str, detail: serde_json::Value) -> AuditEntry {
    AuditEntry::new(
        LogType::ConfigurationChanges,
        at,
        actor.clone(),
        action,
        AuditOutcome::Success,
    )
    .with_detail(detail)
}

/// The top-level fields whose values differ, timestamps left out.
fn changed_fields<T: Serialize>(before: &T, after: &T) -> Vec<String> {
    let before = serde_json::to_value(before).unwrap_or_default();
    let after = serde_json::to_value(after).unwrap_or_default();
    let (Some(before), Some(after)) = (before.as_object(), after.as_object()) else {
        return vec!["*".to_owned()];
    };
    let mut keys: Vec<String> = before
        .keys()
        .chain(after.keys())
        .filter(|k| !matches!(k.as_str(), "created_at" | "updated_at"))
        .filter(|k| before.get(k.as_str()) != after.get(k.as_str()))
        .cloned()
        .collect();
    keys.sort();
    keys.dedup();
    keys
}

/// Parses a client-chosen channel id (`channel_id` problems).
pub fn channel_id(id: &str) -> Result<ChannelId, ValidationErrors> {
    ChannelId::parse(id).map_err(Into::into)
}

/// Parses a client-chosen flow id, refusing the ids the routes reserve.
pub fn flow_id(id: &str) -> Result<FlowId, ValidationErrors> {
    if RESERVED_FLOW_IDS.contains(&id) {
        return Err(ValidationError::new("flow_id", "is reserved; choose another id").into());
    }
    FlowId::parse(id).map_err(Into::into)
}

/// Problems of a channel `new` replacing one that `flows` use: crm_to_ehr flows need outbound
/// delivery and webhook settings.
fn check_channel_users(new: &Channel, flows: &[Flow]) -> Result<(), ValidationErrors> {
    let outbound_users = flows
        .iter()
        .filter(|f| f.direction == Direction::CrmToEhr)
        .count();
    let mut errors = ValidationErrors::default();
    if outbound_users > 0 {
        if new.outbound.is_none() {
            errors.push(ValidationError::new(
                "outbound",
                format!("is required: {outbound_users} crm_to_ehr flow(s) use this channel"),
            ));
        }
        if new.crm_webhook.is_none() {
            errors.push(ValidationError::new(
                "crm_webhook",
                format!("is required: {outbound_users} crm_to_ehr flow(s) use this channel"),
            ));
        }
    }
    errors.finish(|| ())
}

/// Validates a flow input with `build` (the domain's `into_flow` or `replace`) and against
/// `channel`, the channel its `channel_id` names as looked up (`None`: no such channel). Every
/// problem is reported at once.
///
/// # Errors
/// The validation problems and, on `channel_id`, a missing channel or one that cannot carry
/// the flow.
pub fn validate_flow(
    input: FlowInput,
    channel: Option<&Channel>,
    build: impl FnOnce(FlowInput) -> Result<Flow, ValidationErrors>,
) -> Result<Flow, ValidationErrors> {
    let names_a_channel = input
        .channel_id
        .as_deref()
        .is_some_and(|id| ChannelId::parse(id.trim()).is_ok());
    let built = build(input);
    let mut errors = match &built {
        Ok(_) => ValidationErrors::default(),
        Err(errors) => errors.clone(),
    };
    if names_a_channel && channel.is_none() {
        errors.push(ValidationError::new(
            "channel_id",
            "names no channel: create the channel first",
        ));
    }
    if let (Ok(flow), Some(channel)) = (&built, channel)
        && let Err(problems) = flow.check_channel(channel)
    {
        errors.0.extend(problems.0);
    }
    match built {
        Ok(flow) if errors.is_empty() => Ok(flow),
        _ => Err(errors),
    }
}

/// Every secret reference of `channel` with its field and whether it resolves here (what
/// `GET /channels/{channel_id}` shows).
pub async fn secret_statuses(
    secrets: &dyn SecretStore,
    channel: &Channel,
) -> Vec<(String, SecretRef, SecretStatus)> {
    let mut out = Vec::new();
    for (field, reference) in channel.secret_refs() {
        let status = secrets.status(reference).await;
        out.push((field, reference.clone(), status));
    }
    out
}

/// What to do about a reference that does not resolve, by kind.
pub fn unresolvable_message(reference: &SecretRef) -> String {
    match reference {
        SecretRef::Local(id) => format!(
            "{reference} cannot be resolved: no secret is stored as {id:?} (store it first: \
             `connector secret set {id}` or PUT /secrets/{id}; on AWS use a secretsmanager: reference)"
        ),
        SecretRef::Env(name) => format!(
            "{reference} cannot be resolved: the environment variable {name} is not set for the connector"
        ),
        SecretRef::SecretsManager(_) => format!(
            "{reference} cannot be resolved: no such secret in Secrets Manager (the embedded \
             deployment reads env: and local: references only)"
        ),
    }
}

/// Refuses a channel with a secret reference that does not resolve, naming the field and
/// the reference. A reference whose status this process cannot tell (`Unknown`) is let
/// through: it may well resolve where it is used.
async fn check_secrets(secrets: &dyn SecretStore, channel: &Channel) -> Result<(), AdminError> {
    let mut errors = ValidationErrors::default();
    for (field, reference, status) in secret_statuses(secrets, channel).await {
        if status == SecretStatus::Unresolvable {
            errors.push(ValidationError::new(
                field,
                unresolvable_message(&reference),
            ));
        }
    }
    errors.finish(|| ()).map_err(AdminError::Invalid)
}

/// The channel a flow input names, if the id is valid and the channel exists.
async fn channel_of(
    flows: &dyn FlowStore,
    input: &FlowInput,
) -> Result<Option<Channel>, StoreError> {
    match input
        .channel_id
        .as_deref()
        .and_then(|id| ChannelId::parse(id.trim()).ok())
    {
        Some(id) => flows.get_channel(&id).await,
        None => Ok(None),
    }
}

/// Creates a channel with the id `id`, refusing one whose secret references do not resolve.
///
/// # Errors
/// `Invalid` (including an unresolvable secret reference, on its field), `Exists`, `Store`.
pub async fn create_channel(
    ports: AdminPorts<'_>,
    actor: &Actor,
    id: ChannelId,
    input: ChannelInput,
) -> Result<Channel, AdminError> {
    let now = ports.clock.now();
    let channel = input.into_channel(id, now)?;
    check_secrets(ports.secrets, &channel).await?;
    let entry = audit(
        actor,
        now,
        "channel.created",
        json!({ "channel_id": channel.channel_id }),
    );
    ports
        .flows
        .create_channel(&channel, &entry)
        .await
        .map_err(AdminError::unless_taken("channel"))?;
    Ok(channel)
}

/// Replaces the channel `id` (`NotFound` when it does not exist). An input equal to what is
/// stored writes nothing (and checks nothing); a changed channel's secret references must
/// resolve.
///
/// # Errors
/// `Invalid` (including a channel that would no longer carry its flows, or an unresolvable
/// secret reference), `NotFound`, `Store`.
pub async fn replace_channel(
    ports: AdminPorts<'_>,
    actor: &Actor,
    id: &ChannelId,
    input: ChannelInput,
) -> Result<(Channel, Change), AdminError> {
    let current = existing(ports.flows.get_channel(id).await?, "channel")?;
    let candidate = input.replace(&current, current.updated_at)?;
    if candidate == current {
        return Ok((current, Change::Unchanged));
    }
    let users = ports.flows.list_flows(Some(id)).await?;
    check_channel_users(&candidate, &users)?;
    check_secrets(ports.secrets, &candidate).await?;
    let now = ports.clock.now();
    let channel = Channel {
        updated_at: now,
        ..candidate
    };
    let changed = changed_fields(&current, &channel);
    let entry = audit(
        actor,
        now,
        "channel.updated",
        json!({ "channel_id": id, "changed": changed }),
    );
    ports
        .flows
        .update_channel(&channel, &entry)
        .await
        .map_err(AdminError::unless_missing("channel"))?;
    Ok((channel, Change::Updated { changed }))
}

/// Creates the channel `id`, or replaces it when it exists (`connector flows apply`).
///
/// # Errors
/// As [`create_channel`] and [`replace_channel`].
pub async fn put_channel(
    ports: AdminPorts<'_>,
    actor: &Actor,
    id: &ChannelId,
    input: ChannelInput,
) -> Result<(Channel, Change), AdminError> {
    if ports.flows.get_channel(id).await?.is_some() {
        replace_channel(ports, actor, id, input).await
    } else {
        let channel = create_channel(ports, actor, id.clone(), input).await?;
        Ok((channel, Change::Created))
    }
}

/// Deletes the channel `id`, unless flows use it.
///
/// # Errors
/// `InUse`, `NotFound`, `Store`.
pub async fn delete_channel(
    ports: AdminPorts<'_>,
    actor: &Actor,
    id: &ChannelId,
) -> Result<(), AdminError> {
    if ports.flows.get_channel(id).await?.is_none() {
        return Err(AdminError::NotFound("channel"));
    }
    let users = ports.flows.list_flows(Some(id)).await?.len();
    if users > 0 {
        return Err(AdminError::InUse { flows: users });
    }
    let entry = audit(
        actor,
        ports.clock.now(),
        "channel.deleted",
        json!({ "channel_id": id }),
    );
    ports
        .flows
        .delete_channel(id, &entry)
        .await
        .map_err(AdminError::unless_missing("channel"))?;
    Ok(())
}

/// Creates a flow with the id `id`, validated against its channel.
///
/// # Errors
/// `Invalid`, `Exists`, `Store`.
pub async fn create_flow(
    ports: AdminPorts<'_>,
    actor: &Actor,
    id: FlowId,
    input: FlowInput,
) -> Result<Flow, AdminError> {
    if RESERVED_FLOW_IDS.contains(&id.as_str()) {
        return Err(ValidationErrors::from(ValidationError::new(
            "flow_id",
            "is reserved; choose another id",
        ))
        .into());
    }
    let now = ports.clock.now();
    let channel = channel_of(ports.flows, &input).await?;
    let flow = validate_flow(input, channel.as_ref(), |input| input.into_flow(id, now))?;
    let entry = audit(
        actor,
        now,
        "flow.created",
        json!({ "flow_id": flow.flow_id, "channel_id": flow.channel_id }),
    );
    ports
        .flows
        .create_flow(&flow, &entry)
        .await
        .map_err(AdminError::unless_taken("flow"))?;
    Ok(flow)
}

/// Replaces the flow `id` (`NotFound` when it does not exist), validated against its channel.
/// An input equal to what is stored writes nothing.
///
/// # Errors
/// `Invalid`, `NotFound`, `Store`.
pub async fn replace_flow(
    ports: AdminPorts<'_>,
    actor: &Actor,
    id: &FlowId,
    input: FlowInput,
) -> Result<(Flow, Change), AdminError> {
    let current = existing(ports.flows.get_flow(id).await?, "flow")?;
    let channel = channel_of(ports.flows, &input).await?;
    let candidate = validate_flow(input, channel.as_ref(), |input| {
        input.replace(&current, current.updated_at)
    })?;
    if candidate == current {
        return Ok((current, Change::Unchanged));
    }
    let now = ports.clock.now();
    let flow = Flow {
        updated_at: now,
        ..candidate
    };
    let changed = changed_fields(&current, &flow);
    let entry = audit(
        actor,
        now,
        "flow.updated",
        json!({
            "flow_id": id,
            "channel_id": flow.channel_id,
            "changed": changed,
        }),
    );
    ports
        .flows
        .update_flow(&flow, &entry)
        .await
        .map_err(AdminError::unless_missing("flow"))?;
    Ok((flow, Change::Updated { changed }))
}

/// Creates the flow `id`, or replaces it when it exists (`connector flows apply`).
///
/// # Errors
/// As [`create_flow`] and [`replace_flow`].
pub async fn put_flow(
    ports: AdminPorts<'_>,
    actor: &Actor,
    id: &FlowId,
    input: FlowInput,
) -> Result<(Flow, Change), AdminError> {
    if ports.flows.get_flow(id).await?.is_some() {
        replace_flow(ports, actor, id, input).await
    } else {
        let flow = create_flow(ports, actor, id.clone(), input).await?;
        Ok((flow, Change::Created))
    }
}

/// Deletes the flow `id`.
///
/// # Errors
/// `NotFound`, `Store`.
pub async fn delete_flow(
    ports: AdminPorts<'_>,
    actor: &Actor,
    id: &FlowId,
) -> Result<(), AdminError> {
    let flow = existing(ports.flows.get_flow(id).await?, "flow")?;
    let entry = audit(
        actor,
        ports.clock.now(),
        "flow.deleted",
        json!({ "flow_id": id, "channel_id": flow.channel_id }),
    );
    ports
        .flows
        .delete_flow(id, &entry)
        .await
        .map_err(AdminError::unless_missing("flow"))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn changed_fields_name_keys_not_values() {
        let before = json!({"name": "A", "port": 1, "updated_at": "x"});
        let after = json!({"name": "B", "port": 1, "tls": true, "updated_at": "y"});
        assert_eq!(changed_fields(&before, &after), ["name", "tls"]);
    }

    #[test]
    fn reserved_flow_ids_are_refused() {
        assert!(flow_id("test").is_err());
        assert!(flow_id("template-fields").is_err());
        assert!(flow_id("adt-a04").is_ok());
        assert_eq!(
            flow_id("bad id").unwrap_err().0[0].field,
            "flow_id",
            "id problems are on flow_id"
        );
    }
}
