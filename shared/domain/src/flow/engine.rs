//! The mapping engine: pure functions from an HL7 message to a CRM plan ([`map_ehr_to_crm`])
//! and from CRM fields to an HL7 message ([`map_crm_to_ehr`]). No I/O: the caller searches,
//! creates and updates in the CRM, or sends the message.
//!
//! **Reading HL7.** Each mapping's path is read decoded (escape sequences resolved). If the
//! message has components below the path's level (a field the flow expects as one value
//! arrives as `F^Female`), the first component is read, as HL7's rules for receivers say.
//!
//! **Absent, empty and null.** An absent or empty HL7 value leaves the CRM field out of the
//! plan (the CRM keeps what it has; a `default` transform may supply a value). The HL7 null
//! `""` means "delete the value you hold": the CRM field is planned as the empty string, which
//! clears it in LeadSquared; transforms are not applied to it and it does not satisfy
//! `required`.
//!
//! **Failures.** A transform that fails on a `required` mapping fails the message; on any
//! other mapping the field is left out and the failure is reported in
//! [`CrmPlan::warnings`] (with the path and the transform, never the value), so one malformed
//! phone number does not block a patient's registration. CRM -> EHR is strict: any failure
//! fails the message, since an EHR must not receive a half-mapped message.
//!
//! **Search keys.** A key's value is what the mapping of the same CRM field produced (so a
//! `phone_e164` search key searches the normalised number), or, when no mapping writes that
//! field, the trimmed value at the key's own path; that field is then added to the lead's
//! fields, so a created lead carries its MRN. At least one key must have a value.
//!
//! **Activities.** `ActivityNote` and `ActivityDateTime` mappings (target `activity`) set the
//! note and the time. Without an `ActivityDateTime` value the time is EVN-2 (Recorded
//! Date/Time) or else MSH-7; HL7 times without an offset are read in the flow's zone. For
//! SIU messages map `SCH-11.4` (appointment start) or `AIS-4`. Without a note mapping the note
//! is `"<event type> message <MSH-10>"`. The activity is found for update through
//! [`Flow::activity_match`] ([`ActivityPlan::match_key`]).

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Utc};
use connector_hl7::datetime::format_timestamp;
use connector_hl7::{BuildError, Hl7DateTime, Message, OwnedMessage, ParseError, Path, Value};

use super::model::{
    ACTIVITY_DATE_TIME_FIELD, ACTIVITY_NOTE_FIELD, CrmFieldName, Direction, Entity, Flow,
    LEAD_SOURCE_FIELD, Mapping, SearchKey, SyncBehaviour, TooLong,
};
use super::transform::{TransformContext, TransformError, apply_all};
use crate::crm::{ActivityInput, CrmField};

/// What an EHR -> CRM message asks of the CRM. Field values are PHI: `Debug` redacts them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CrmPlan {
    /// The lead's fields, in mapping order, search keys included.
    pub lead_fields: Vec<CrmField>,
    /// The flow's lead source, for LeadSquared's `Source` on creation only (see
    /// [`CrmPlan::lead_fields_for_create`]): rewriting it on update would change where an
    /// existing lead came from.
    pub lead_source: Option<String>,
    /// The primary search key and its value, when the message has one.
    pub primary_key: Option<CrmField>,
    /// The secondary search key and its value, when the message has one.
    pub secondary_key: Option<CrmField>,
    /// What to do with the lead.
    pub lead_sync: SyncBehaviour,
    /// The activity, for activity flows.
    pub activity: Option<ActivityPlan>,
    /// Non-required mappings left out because a transform failed, or an unreadable
    /// `ActivityDateTime` replaced by the message time (paths and transforms only).
    pub warnings: Vec<MappingError>,
    /// The CRM fields whose values were cut to their mapping's maximum length
    /// (`on_too_long: truncate`).
    pub truncated: Vec<CrmFieldName>,
}

impl CrmPlan {
    /// The search keys with values, primary first.
    pub fn search_keys(&self) -> impl Iterator<Item = &CrmField> {
        self.primary_key.iter().chain(&self.secondary_key)
    }

    /// The fields of a lead to create: [`CrmPlan::lead_fields`] plus `Source`.
    pub fn lead_fields_for_create(&self) -> Vec<CrmField> {
        let mut fields = self.lead_fields.clone();
        if let Some(source) = &self.lead_source {
            fields.push(CrmField::new(LEAD_SOURCE_FIELD, source.clone()));
        }
        fields
    }
}

/// The activity part of a [`CrmPlan`]. `Debug` shows no values.
#[derive(Clone, PartialEq, Eq)]
pub struct ActivityPlan {
    /// What to do with the activity.
    pub sync: SyncBehaviour,
    /// LeadSquared `ActivityEvent` code.
    pub event: i32,
    /// The note (PHI).
    pub note: String,
    /// When it happened.
    pub at: DateTime<Utc>,
    /// Its custom fields, match key included.
    pub fields: Vec<CrmField>,
    /// The field and value that find the existing activity (`mx_Custom_1` = appointment id).
    pub match_key: Option<CrmField>,
}

impl ActivityPlan {
    /// The CRM port's input for creating or updating the activity.
    pub fn to_input(&self) -> ActivityInput {
        ActivityInput {
            event: self.event,
            note: self.note.clone(),
            at: self.at,
            fields: self.fields.clone(),
        }
    }
}

impl std::fmt::Debug for ActivityPlan {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ActivityPlan")
            .field("sync", &self.sync)
            .field("event", &self.event)
            .field("note", &crate::phi::REDACTED)
            .field("at", &self.at)
            .field("fields", &self.fields)
            .field("match_key", &self.match_key)
            .finish()
    }
}

/// One mapping problem. Says where (path, CRM field, transform), never what.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MappingError {
    /// The flow runs the other way.
    #[error("the flow is not a {expected} flow")]
    WrongDirection {
        /// The direction the function maps.
        expected: Direction,
    },
    /// MSH-9 of the message is not the flow's event type.
    #[error("MSH-9 of the message is not the flow's event type")]
    EventMismatch,
    /// The flow's template does not parse (validation prevents this).
    #[error("the flow's template does not parse: {0}")]
    Template(#[source] ParseError),
    /// A required mapping (or the MRN key of a CRM -> EHR flow) has no value.
    #[error("{path} ({crm_field}) is required and has no value")]
    Required {
        /// The HL7 path.
        path: Path,
        /// The CRM field.
        crm_field: CrmFieldName,
    },
    /// A transform failed.
    #[error("{path} ({crm_field}): the {transform} transform failed: {reason}")]
    Transform {
        /// The HL7 path.
        path: Path,
        /// The CRM field.
        crm_field: CrmFieldName,
        /// The transform's wire name.
        transform: &'static str,
        /// Why.
        #[source]
        reason: TransformError,
    },
    /// An `ActivityDateTime` value is not an HL7 date/time (or falls in a DST gap).
    #[error("{path} (ActivityDateTime) is not a usable HL7 date/time")]
    NotADateTime {
        /// The HL7 path.
        path: Path,
    },
    /// A value is longer than its CRM field's maximum length (`on_too_long: reject`).
    #[error("{path} ({crm_field}) is longer than {max_length} characters")]
    TooLong {
        /// The HL7 path.
        path: Path,
        /// The CRM field.
        crm_field: CrmFieldName,
        /// The mapping's maximum length.
        max_length: usize,
    },
    /// No search key has a value, so the lead cannot be found or created.
    #[error("no search key has a value in the message")]
    NoSearchKey,
    /// The activity's match key has no value, so the activity cannot be found.
    #[error("the activity match key {path} has no value")]
    NoActivityMatch {
        /// The key's HL7 path.
        path: Path,
    },
    /// No activity time: no `ActivityDateTime`, and neither EVN-2 nor MSH-7 is a date/time.
    #[error("no activity date/time: map ActivityDateTime or send EVN-2 or MSH-7")]
    NoActivityTime,
    /// A value could not be set in the message being built.
    #[error("cannot set {path}: {source}")]
    Build {
        /// The HL7 path.
        path: Path,
        /// Why.
        #[source]
        source: BuildError,
    },
}

/// Every problem of one mapping run.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{} mapping problem(s)", .0.len())]
pub struct MappingErrors(pub Vec<MappingError>);

impl From<MappingError> for MappingErrors {
    fn from(e: MappingError) -> Self {
        Self(vec![e])
    }
}

/// A mapped value.
enum Cell {
    /// Nothing: leave the CRM field alone.
    Nothing,
    /// The HL7 null: clear the CRM field.
    Clear,
    /// A value.
    Text(String),
}

impl From<Option<String>> for Cell {
    fn from(v: Option<String>) -> Self {
        v.map_or(Cell::Nothing, Cell::Text)
    }
}

/// The value at a path, taking the first component (and subcomponent) when the message has
/// parts below the path's level.
fn read_leaf<'m>(message: &'m Message<'_>, path: &Path) -> Value<'m> {
    let Some(rep) = message
        .segment_occurrence(path.segment().as_str(), path.occurrence())
        .and_then(|s| s.field(path.field()))
        .and_then(|f| f.repetition(path.repetition()))
    else {
        return Value::Absent;
    };
    let comp = match path.component() {
        None if rep.is_leaf() => return rep.value(),
        None => rep.component(1),
        Some(c) => rep.component(c),
    };
    let Some(comp) = comp else {
        return Value::Absent;
    };
    let sub = match path.subcomponent() {
        None if comp.is_leaf() => return comp.value(),
        None => comp.subcomponent(1),
        Some(s) => comp.subcomponent(s),
    };
    sub.map_or(Value::Absent, |s| s.value())
}

fn text_at(message: &Message<'_>, path: &Path) -> Option<String> {
    match read_leaf(message, path) {
        Value::Text(t) => Some(t.trim().to_owned()).filter(|t| !t.is_empty()),
        _ => None,
    }
}

/// An HL7 date/time as UTC, reading values without an offset in `zone`.
fn instant(text: &str, zone: chrono_tz::Tz) -> Option<DateTime<Utc>> {
    Hl7DateTime::parse(text.trim())
        .ok()?
        .to_timezone(&zone, &Utc)
}

fn transform_context(flow: &Flow) -> TransformContext {
    TransformContext {
        direction: flow.direction,
        time_zone: flow.time_zone,
        default_country_code: flow.default_country_code,
    }
}

/// A key's value: what the mapping of the same field produced, or the value at its path.
fn key_value(
    key: &SearchKey,
    fields: &[CrmField],
    mapped: &BTreeSet<&str>,
    message: &Message<'_>,
) -> Option<String> {
    if mapped.contains(key.crm_field.as_str()) {
        fields
            .iter()
            .find(|f| key.crm_field == *f.name.as_str())
            .map(|f| f.value.clone())
            .filter(|v| !v.is_empty())
    } else {
        text_at(message, &key.hl7_path)
    }
}

/// Maps an HL7 message to a CRM plan (see the [module documentation](self)).
///
/// # Errors
/// Every problem found: wrong direction or event type, required mappings without a value,
/// failed transforms on required mappings, no search key, no activity match key or time.
pub fn map_ehr_to_crm(flow: &Flow, message: &Message<'_>) -> Result<CrmPlan, MappingErrors> {
    check_ehr_to_crm(flow, message)?;
    let ctx = transform_context(flow);
    let activity_flow = flow.entity == Entity::Activity;
    let mut out = Mapped::default();
    for m in &flow.mappings {
        if m.target == Entity::Activity && !activity_flow {
            continue;
        }
        out.map_one(flow, m, message, &ctx);
    }
    let (primary_key, secondary_key) = out.search_keys(flow, message);
    let activity = if activity_flow {
        out.activity_plan(flow, message)
    } else {
        None
    };
    if !out.errors.is_empty() {
        return Err(MappingErrors(out.errors));
    }
    Ok(CrmPlan {
        lead_fields: out.lead_fields,
        lead_source: flow.lead_source.clone(),
        primary_key,
        secondary_key,
        lead_sync: flow.lead_sync,
        activity,
        warnings: out.warnings,
        truncated: out.truncated,
    })
}

/// The flow must be EHR -> CRM and the message of its event type.
fn check_ehr_to_crm(flow: &Flow, message: &Message<'_>) -> Result<(), MappingErrors> {
    if flow.direction != Direction::EhrToCrm {
        return Err(MappingError::WrongDirection {
            expected: Direction::EhrToCrm,
        }
        .into());
    }
    if !flow.event_type.matches(message) {
        return Err(MappingError::EventMismatch.into());
    }
    Ok(())
}

/// What the mappings of an EHR -> CRM flow have produced so far.
#[derive(Default)]
struct Mapped<'f> {
    errors: Vec<MappingError>,
    warnings: Vec<MappingError>,
    truncated: Vec<CrmFieldName>,
    lead_fields: Vec<CrmField>,
    activity_fields: Vec<CrmField>,
    /// The lead fields some mapping writes (with a value or not).
    lead_mapped: BTreeSet<&'f str>,
    /// The activity fields some mapping writes (with a value or not).
    activity_mapped: BTreeSet<&'f str>,
    note: Option<String>,
    at: Option<DateTime<Utc>>,
}

impl<'f> Mapped<'f> {
    /// Reads, transforms, checks and places one mapping's value.
    fn map_one(
        &mut self,
        flow: &Flow,
        m: &'f Mapping,
        message: &Message<'_>,
        ctx: &TransformContext,
    ) {
        match m.target {
            Entity::Lead => self.lead_mapped.insert(m.crm_field.as_str()),
            Entity::Activity => self.activity_mapped.insert(m.crm_field.as_str()),
        };
        let Some(value) = self.value_of(m, message, ctx) else {
            return;
        };
        let Some(value) = self.fit_length(m, value) else {
            return;
        };
        self.place(flow, m, value);
    }

    /// The mapping's transformed value (empty: clear the CRM field); `None` when there is
    /// nothing to write, with failures recorded as errors (required) or warnings.
    fn value_of(
        &mut self,
        m: &Mapping,
        message: &Message<'_>,
        ctx: &TransformContext,
    ) -> Option<String> {
        let cell = match read_cell(m, message, ctx) {
            Ok(cell) => cell,
            Err(err) if m.required => {
                self.errors.push(err);
                return None;
            }
            Err(err) => {
                self.warnings.push(err);
                return None;
            }
        };
        if m.required && !matches!(cell, Cell::Text(_)) {
            self.errors.push(MappingError::Required {
                path: m.hl7_path,
                crm_field: m.crm_field.clone(),
            });
            return None;
        }
        match cell {
            Cell::Nothing => None,
            Cell::Clear => Some(String::new()),
            Cell::Text(t) => Some(t),
        }
    }

    /// `value` within the mapping's maximum length: truncated, or `None` (an error) when the
    /// mapping rejects longer values. `ActivityDateTime` is not limited.
    fn fit_length(&mut self, m: &Mapping, mut value: String) -> Option<String> {
        let max_length = m.max_length();
        if m.crm_field.as_str() != ACTIVITY_DATE_TIME_FIELD
            && let Some((cut, _)) = value.char_indices().nth(max_length)
        {
            match m.on_too_long {
                TooLong::Reject => {
                    self.errors.push(MappingError::TooLong {
                        path: m.hl7_path,
                        crm_field: m.crm_field.clone(),
                        max_length,
                    });
                    return None;
                }
                TooLong::Truncate => {
                    value.truncate(cut);
                    self.truncated.push(m.crm_field.clone());
                }
            }
        }
        Some(value)
    }

    /// Puts `value` where the mapping says: the activity's note or time, an activity field
    /// or a lead field.
    fn place(&mut self, flow: &Flow, m: &Mapping, value: String) {
        match (m.target, m.crm_field.as_str()) {
            (Entity::Activity, ACTIVITY_NOTE_FIELD) => self.note = Some(value),
            (Entity::Activity, ACTIVITY_DATE_TIME_FIELD) => {
                if value.is_empty() {
                    return;
                }
                match instant(&value, flow.time_zone) {
                    Some(t) => self.at = Some(t),
                    None => {
                        let err = MappingError::NotADateTime { path: m.hl7_path };
                        if m.required {
                            self.errors.push(err);
                        } else {
                            self.warnings.push(err);
                        }
                    }
                }
            }
            (Entity::Activity, name) => self.activity_fields.push(CrmField::new(name, value)),
            (Entity::Lead, name) => self.lead_fields.push(CrmField::new(name, value)),
        }
    }

    /// The primary and secondary search keys with their values; a key no mapping writes adds
    /// its field to the lead. An error when neither has a value.
    fn search_keys(
        &mut self,
        flow: &Flow,
        message: &Message<'_>,
    ) -> (Option<CrmField>, Option<CrmField>) {
        let mut keys = Vec::with_capacity(2);
        for key in flow.search_keys() {
            let value = key_value(key, &self.lead_fields, &self.lead_mapped, message);
            let unmapped = !self.lead_mapped.contains(key.crm_field.as_str());
            if let Some(v) = &value
                && unmapped
                && v.chars().count() > Mapping::DEFAULT_MAX_LENGTH as usize
            {
                self.errors.push(MappingError::TooLong {
                    path: key.hl7_path,
                    crm_field: key.crm_field.clone(),
                    max_length: Mapping::DEFAULT_MAX_LENGTH as usize,
                });
                continue;
            }
            if let Some(v) = &value
                && unmapped
                && !self
                    .lead_fields
                    .iter()
                    .any(|f| key.crm_field == *f.name.as_str())
            {
                self.lead_fields
                    .push(CrmField::new(key.crm_field.as_str(), v.clone()));
            }
            keys.push(value.map(|v| CrmField::new(key.crm_field.as_str(), v)));
        }
        let mut keys = keys.into_iter();
        let primary_key = keys.next().flatten();
        let secondary_key = keys.next().flatten();
        if primary_key.is_none() && secondary_key.is_none() {
            self.errors.push(MappingError::NoSearchKey);
        }
        (primary_key, secondary_key)
    }

    /// The activity of an activity flow: its match key, time and note (`None`, with an
    /// error, when it has no time).
    fn activity_plan(&mut self, flow: &Flow, message: &Message<'_>) -> Option<ActivityPlan> {
        let sync = flow.activity_sync.unwrap_or(SyncBehaviour::DoNothing);
        let match_key = self.activity_match_key(flow, message);
        if let Some(k) = &flow.activity_match
            && match_key.is_none()
            && sync != SyncBehaviour::DoNothing
        {
            self.errors
                .push(MappingError::NoActivityMatch { path: k.hl7_path });
        }
        let at = self.at.or_else(|| message_time(flow, message));
        if at.is_none() {
            self.errors.push(MappingError::NoActivityTime);
        }
        let note = self
            .note
            .take()
            .unwrap_or_else(|| default_note(flow, message));
        at.map(|at| ActivityPlan {
            sync,
            event: flow.activity_type.unwrap_or_default(),
            note,
            at,
            fields: std::mem::take(&mut self.activity_fields),
            match_key,
        })
    }

    /// The activity match key with its value; a key no mapping writes adds its field to the
    /// activity.
    fn activity_match_key(&mut self, flow: &Flow, message: &Message<'_>) -> Option<CrmField> {
        let k = flow.activity_match.as_ref()?;
        let v = key_value(k, &self.activity_fields, &self.activity_mapped, message)?;
        if !self.activity_mapped.contains(k.crm_field.as_str()) {
            self.activity_fields
                .push(CrmField::new(k.crm_field.as_str(), v.clone()));
        }
        Some(CrmField::new(k.crm_field.as_str(), v))
    }
}

/// The mapping's value read from the message and transformed (the HL7 null clears).
fn read_cell(
    m: &Mapping,
    message: &Message<'_>,
    ctx: &TransformContext,
) -> Result<Cell, MappingError> {
    match read_leaf(message, &m.hl7_path) {
        Value::Null => Ok(Cell::Clear),
        Value::Absent | Value::Empty => apply_all(&m.transforms, None, ctx).map(Cell::from),
        Value::Text(t) => apply_all(&m.transforms, Some(t.into_owned()), ctx).map(Cell::from),
    }
    .map_err(|(i, reason)| MappingError::Transform {
        path: m.hl7_path,
        crm_field: m.crm_field.clone(),
        transform: m.transforms.get(i).map_or("unknown", |t| t.kind()),
        reason,
    })
}

/// The activity time when no mapping gives one: EVN-2, or else MSH-7.
fn message_time(flow: &Flow, message: &Message<'_>) -> Option<DateTime<Utc>> {
    ["EVN-2", "MSH-7"].iter().find_map(|p| {
        let path: Path = p.parse().ok()?;
        instant(&text_at(message, &path)?, flow.time_zone)
    })
}

/// The activity note when no mapping gives one: `"<event type> message <MSH-10>"`.
fn default_note(flow: &Flow, message: &Message<'_>) -> String {
    match message.control_id() {
        Some(id) if !id.is_empty() => format!("{} message {id}", flow.event_type),
        _ => format!("{} message", flow.event_type),
    }
}

/// Builds the HL7 message of a CRM -> EHR flow from the CRM's fields (lead fields and, for
/// activity webhooks, activity fields, by schema name).
///
/// Starts from the flow's template; sets each mapping's path from its CRM field (transforms
/// applied; a field the CRM does not send, or sends empty, clears the position so that no
/// sample value of the template goes out); writes the search keys and activity match key
/// that no mapping covers; sets EVN-2 (when the template has EVN and no mapping sets it) and
/// MSH-7 to `now` in the flow's zone, and MSH-10 to `control_id`. Positions no mapping or key
/// names are sent as the template has them: use the template for constants (MSH-3 to MSH-6,
/// assigning authorities), not for sample patient data.
///
/// # Errors
/// Every problem found: wrong direction, required mappings (and the MRN) without a value,
/// failed transforms, values that cannot be set.
pub fn map_crm_to_ehr(
    flow: &Flow,
    fields: &BTreeMap<String, String>,
    now: DateTime<Utc>,
    control_id: &str,
) -> Result<OwnedMessage, MappingErrors> {
    if flow.direction != Direction::CrmToEhr {
        return Err(MappingError::WrongDirection {
            expected: Direction::CrmToEhr,
        }
        .into());
    }
    let mut message =
        OwnedMessage::parse(flow.template.as_str()).map_err(MappingError::Template)?;
    let ctx = transform_context(flow);
    let mut errors = Vec::new();
    let mut set_paths: Vec<Path> = Vec::new();
    let source = |name: &CrmFieldName| {
        fields
            .get(name.as_str())
            .map(|v| v.trim())
            .filter(|v| !v.is_empty())
    };

    for m in &flow.mappings {
        set_paths.push(m.hl7_path);
        let value = match apply_all(&m.transforms, source(&m.crm_field).map(str::to_owned), &ctx) {
            Ok(v) => v,
            Err((i, reason)) => {
                errors.push(MappingError::Transform {
                    path: m.hl7_path,
                    crm_field: m.crm_field.clone(),
                    transform: m.transforms.get(i).map_or("unknown", |t| t.kind()),
                    reason,
                });
                continue;
            }
        };
        if m.required && value.is_none() {
            errors.push(MappingError::Required {
                path: m.hl7_path,
                crm_field: m.crm_field.clone(),
            });
            continue;
        }
        if let Err(source) = message.set(&m.hl7_path, value.as_deref().unwrap_or_default()) {
            errors.push(MappingError::Build {
                path: m.hl7_path,
                source,
            });
        }
    }

    for key in flow.search_keys().chain(&flow.activity_match) {
        let value = source(&key.crm_field);
        if key.crm_field == flow.mrn_crm_field && value.is_none() {
            errors.push(MappingError::Required {
                path: key.hl7_path,
                crm_field: key.crm_field.clone(),
            });
            continue;
        }
        if set_paths.contains(&key.hl7_path) {
            continue;
        }
        set_paths.push(key.hl7_path);
        if let Err(source) = message.set(&key.hl7_path, value.unwrap_or_default()) {
            errors.push(MappingError::Build {
                path: key.hl7_path,
                source,
            });
        }
    }

    let local_now = now.with_timezone(&flow.time_zone);
    let evn_mapped = set_paths
        .iter()
        .any(|p| p.segment().as_str() == "EVN" && p.field() == 2);
    if !evn_mapped
        && message.segment_ids().any(|id| id.as_str() == "EVN")
        && let Ok(evn2) = Path::new("EVN", 2)
        && let Err(source) = message.set(&evn2, &format_timestamp(&local_now))
    {
        errors.push(MappingError::Build { path: evn2, source });
    }
    message.set_timestamp(&local_now);
    message.set_control_id(control_id);

    if errors.is_empty() {
        Ok(message)
    } else {
        Err(MappingErrors(errors))
    }
}

#[cfg(test)]
mod tests;
