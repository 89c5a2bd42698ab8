//! Validation of [`FlowInput`] and [`ChannelInput`]: every problem is collected, each on the
//! input path that holds it (`mappings[1].transforms[0].to_format`), and no message quotes a
//! value (a template may be a real message; names and maps are the clinic's data).

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use connector_hl7::{Message, Path};

use super::channel::ChannelId;
use super::input::{FlowInput, MappingInput, SearchKeyInput, TransformInput};
use super::model::{
    ACTIVITY_DATE_TIME_FIELD, ACTIVITY_NOTE_FIELD, CountryCode, CrmFieldName, Direction, Entity,
    Flow, FlowId, Hl7EventType, LEAD_SOURCE_FIELD, Mapping, RESERVED_FIELDS, SearchKey,
    SyncBehaviour, Template, TooLong, WebhookEvent,
};
use super::secret::SecretRef;
use super::transform::{self, Transform};
use crate::{ValidationError, ValidationErrors};

/// The largest template accepted.
pub(crate) const MAX_TEMPLATE_BYTES: usize = 64 * 1024;
/// The most mappings a flow may have.
pub(crate) const MAX_MAPPINGS: usize = 200;
/// The most transforms a mapping may have.
pub(crate) const MAX_TRANSFORMS: usize = 10;

const TRANSFORM_KINDS: &str =
    "must be one of trim, upper, lower, default, value_map, date_time, date, phone_e164";

fn required(field: impl Into<String>) -> ValidationError {
    ValidationError::new(field, "is required")
}

/// A required single-line name: trimmed, 1 to 100 characters.
fn name_field(e: &mut ValidationErrors, field: &str, value: Option<String>) -> Option<String> {
    let Some(value) = value else {
        e.push(required(field));
        return None;
    };
    let value = value.trim();
    if value.is_empty() {
        e.push(required(field));
        None
    } else if value.chars().count() > 100 {
        e.push(ValidationError::new(
            field,
            "must be at most 100 characters",
        ));
        None
    } else if value.chars().any(char::is_control) {
        e.push(ValidationError::new(field, "must be a single line"));
        None
    } else {
        Some(value.to_owned())
    }
}

/// An optional description: at most 1000 characters, default empty.
fn description_field(e: &mut ValidationErrors, field: &str, value: Option<String>) -> String {
    let value = value.unwrap_or_default();
    if value.chars().count() > 1000 {
        e.push(ValidationError::new(
            field,
            "must be at most 1000 characters",
        ));
        String::new()
    } else {
        value.trim().to_owned()
    }
}

/// A required enumeration given as text.
fn enum_field<T>(
    e: &mut ValidationErrors,
    field: &str,
    value: Option<&str>,
    parse: impl Fn(&str) -> Option<T>,
    rule: &str,
) -> Option<T> {
    match value {
        None => {
            e.push(required(field));
            None
        }
        Some(v) => {
            let parsed = parse(v.trim());
            if parsed.is_none() {
                e.push(ValidationError::new(field, rule));
            }
            parsed
        }
    }
}

/// An integer in a range, with a default when left out.
fn int_field(
    e: &mut ValidationErrors,
    field: &str,
    value: Option<i64>,
    default: Option<u32>,
    min: u32,
    max: u32,
) -> Option<u32> {
    match value {
        None if default.is_none() => {
            e.push(required(field));
            None
        }
        None => default,
        Some(v) => match u32::try_from(v) {
            Ok(n) if (min..=max).contains(&n) => Some(n),
            _ => {
                e.push(ValidationError::new(
                    field,
                    format!("must be from {min} to {max}"),
                ));
                None
            }
        },
    }
}

fn secret_field(e: &mut ValidationErrors, field: &str, value: Option<&str>) -> Option<SecretRef> {
    match value {
        None => {
            e.push(required(field));
            None
        }
        Some(v) => SecretRef::parse(v.trim())
            .map_err(|err| e.push(ValidationError::new(field, err.to_string())))
            .ok(),
    }
}

fn parse_path(e: &mut ValidationErrors, field: &str, value: Option<&str>) -> Option<Path> {
    match value.map(str::trim) {
        None | Some("") => {
            e.push(required(field));
            None
        }
        Some(v) => v
            .parse::<Path>()
            .map_err(|err| {
                e.push(ValidationError::new(
                    field,
                    format!("is not an HL7 path such as PID-5.1: {err}"),
                ));
            })
            .ok(),
    }
}

fn parse_crm_field(
    e: &mut ValidationErrors,
    field: &str,
    value: Option<&str>,
) -> Option<CrmFieldName> {
    match value.map(str::trim) {
        None | Some("") => {
            e.push(required(field));
            None
        }
        Some(v) => {
            let name = e.check(CrmFieldName::parse_for(field, v))?;
            if RESERVED_FIELDS.contains(&name.as_str()) {
                e.push(ValidationError::new(
                    field,
                    "is reserved by the CRM and cannot be written",
                ));
                return None;
            }
            Some(name)
        }
    }
}

fn is_activity_pseudo_field(name: &CrmFieldName) -> bool {
    name.as_str() == ACTIVITY_NOTE_FIELD || name.as_str() == ACTIVITY_DATE_TIME_FIELD
}

/// Whether the template's element at `path` has components (or subcomponents) below the
/// path's level.
fn has_parts(template: &Message<'_>, path: &Path) -> bool {
    let Some(rep) = template
        .segment_occurrence(path.segment().as_str(), path.occurrence())
        .and_then(|s| s.field(path.field()))
        .and_then(|f| f.repetition(path.repetition()))
    else {
        return false;
    };
    match (path.component(), path.subcomponent()) {
        (None, _) => !rep.is_leaf(),
        (Some(c), None) => rep.component(c).is_some_and(|comp| !comp.is_leaf()),
        (Some(_), Some(_)) => false,
    }
}

/// The checks a path gets against the flow's direction and template.
fn check_path(
    e: &mut ValidationErrors,
    field: &str,
    path: &Path,
    template: Option<&Message<'_>>,
    direction: Option<Direction>,
) {
    let seg = path.segment();
    if direction == Some(Direction::CrmToEhr) {
        if seg.as_str() == "MSH" && matches!(path.field(), 1 | 2 | 7 | 9 | 10) {
            e.push(ValidationError::new(
                field,
                "cannot be set: MSH-1, MSH-2 and MSH-9 come from the template, MSH-7 and MSH-10 from the connector",
            ));
            return;
        }
        if seg.is_header() && seg.as_str() != "MSH" {
            e.push(ValidationError::new(
                field,
                "batch header segments cannot be set",
            ));
            return;
        }
    }
    let Some(t) = template else { return };
    let present = if direction == Some(Direction::CrmToEhr) {
        t.segment_occurrence(seg.as_str(), path.occurrence())
            .is_some()
    } else {
        t.segment(seg.as_str()).is_some()
    };
    if !present {
        let what = if direction == Some(Direction::CrmToEhr) && path.occurrence() > 1 {
            format!(
                "names occurrence {} of segment {seg}, which the template does not have",
                path.occurrence()
            )
        } else {
            format!("names segment {seg}, which the template does not have")
        };
        e.push(ValidationError::new(field, what));
    } else if has_parts(t, path) {
        e.push(ValidationError::new(
            field,
            "has components in the template: map one of them (add .1, .2 ...)",
        ));
    }
}

/// A parsed template, or the problems with it.
fn check_template<'t>(
    e: &mut ValidationErrors,
    text: Option<&'t str>,
    event_type: Option<&Hl7EventType>,
) -> Option<Message<'t>> {
    let Some(text) = text.filter(|t| !t.trim().is_empty()) else {
        e.push(required("template"));
        return None;
    };
    if text.len() > MAX_TEMPLATE_BYTES {
        e.push(ValidationError::new("template", "must be at most 64 KiB"));
        return None;
    }
    match Message::parse(text) {
        Err(err) => {
            e.push(ValidationError::new(
                "template",
                format!("is not an HL7 v2 message: {err}"),
            ));
            None
        }
        Ok(m) => {
            if let Some(ev) = event_type
                && !ev.matches(&m)
            {
                e.push(ValidationError::new(
                    "template",
                    "MSH-9 (message code and trigger event) must equal event_type",
                ));
            }
            Some(m)
        }
    }
}

/// The parts of a key, each `None` when missing or invalid.
struct KeyParts {
    crm_field: Option<CrmFieldName>,
    hl7_path: Option<Path>,
}

impl KeyParts {
    fn key(&self) -> Option<SearchKey> {
        Some(SearchKey {
            crm_field: self.crm_field.clone()?,
            hl7_path: self.hl7_path?,
        })
    }
}

fn parse_key(
    e: &mut ValidationErrors,
    prefix: &str,
    input: &SearchKeyInput,
    template: Option<&Message<'_>>,
    direction: Option<Direction>,
) -> KeyParts {
    let field_name = format!("{prefix}.crm_field");
    let mut crm_field = parse_crm_field(e, &field_name, input.crm_field.as_deref());
    if crm_field.as_ref().is_some_and(is_activity_pseudo_field) {
        e.push(ValidationError::new(
            field_name,
            "must be a CRM field, not ActivityNote or ActivityDateTime",
        ));
        crm_field = None;
    }
    let path_name = format!("{prefix}.hl7_path");
    let hl7_path = parse_path(e, &path_name, input.hl7_path.as_deref());
    if let Some(p) = &hl7_path {
        check_path(e, &path_name, p, template, direction);
    }
    KeyParts {
        crm_field,
        hl7_path,
    }
}

fn parse_transform(e: &mut ValidationErrors, p: &str, t: &TransformInput) -> Option<Transform> {
    let Some(kind) = t.kind.as_deref().map(str::trim) else {
        e.push(required(format!("{p}.type")));
        return None;
    };
    let allowed: &[&str] = match kind {
        "trim" | "upper" | "lower" | "phone_e164" => &[],
        "default" => &["value"],
        "value_map" => &["map", "otherwise"],
        "date_time" => &["to_format", "to_time_zone"],
        "date" => &["to_format"],
        _ => {
            e.push(ValidationError::new(format!("{p}.type"), TRANSFORM_KINDS));
            return None;
        }
    };
    let mut misplaced = false;
    for (name, present) in [
        ("value", t.value.is_some()),
        ("map", t.map.is_some()),
        ("otherwise", t.otherwise.is_some()),
        ("to_format", t.to_format.is_some()),
        ("to_time_zone", t.to_time_zone.is_some()),
    ] {
        if present && !allowed.contains(&name) {
            e.push(ValidationError::new(
                format!("{p}.{name}"),
                format!("does not apply to {kind} transforms"),
            ));
            misplaced = true;
        }
    }
    let out = match kind {
        "trim" => Some(Transform::Trim),
        "upper" => Some(Transform::Upper),
        "lower" => Some(Transform::Lower),
        "phone_e164" => Some(Transform::PhoneE164),
        "default" => match t.value.as_deref() {
            None | Some("") => {
                e.push(required(format!("{p}.value")));
                None
            }
            Some(v) if v.chars().count() > 1000 => {
                e.push(ValidationError::new(
                    format!("{p}.value"),
                    "must be at most 1000 characters",
                ));
                None
            }
            Some(v) => Some(Transform::Default {
                value: v.to_owned(),
            }),
        },
        "value_map" => value_map(e, p, t),
        "date_time" => {
            let to_format = format_field(e, p, t.to_format.as_deref(), false);
            let to_time_zone = match t.to_time_zone.as_deref().map(str::trim) {
                None => Some(None),
                Some(z) => match z.parse::<Tz>() {
                    Ok(tz) => Some(Some(tz)),
                    Err(_) => {
                        e.push(ValidationError::new(
                            format!("{p}.to_time_zone"),
                            "must be an IANA time zone name such as America/New_York",
                        ));
                        None
                    }
                },
            };
            Some(Transform::DateTime {
                to_format: to_format?,
                to_time_zone: to_time_zone?,
            })
        }
        "date" => format_field(e, p, t.to_format.as_deref(), true)
            .map(|to_format| Transform::Date { to_format }),
        _ => None,
    };
    out.filter(|_| !misplaced)
}

fn value_map(e: &mut ValidationErrors, p: &str, t: &TransformInput) -> Option<Transform> {
    let field = format!("{p}.map");
    let Some(map) = t.map.as_ref().filter(|m| !m.is_empty()) else {
        e.push(required(field));
        return None;
    };
    if map.len() > 500 {
        e.push(ValidationError::new(field, "must have at most 500 entries"));
        return None;
    }
    if map
        .iter()
        .any(|(k, v)| k.chars().count() > 200 || v.chars().count() > 200)
    {
        e.push(ValidationError::new(
            field,
            "keys and values must be at most 200 characters",
        ));
        return None;
    }
    if t.otherwise
        .as_ref()
        .is_some_and(|o| o.chars().count() > 200)
    {
        e.push(ValidationError::new(
            format!("{p}.otherwise"),
            "must be at most 200 characters",
        ));
        return None;
    }
    Some(Transform::ValueMap {
        map: map.clone(),
        otherwise: t.otherwise.clone(),
    })
}

fn format_field(
    e: &mut ValidationErrors,
    p: &str,
    value: Option<&str>,
    date_only: bool,
) -> Option<String> {
    let field = format!("{p}.to_format");
    let Some(f) = value.filter(|f| !f.trim().is_empty()) else {
        e.push(required(field));
        return None;
    };
    if f.chars().count() > 100 {
        e.push(ValidationError::new(
            field,
            "must be at most 100 characters",
        ));
        None
    } else if !transform::format_is_valid(f) {
        e.push(ValidationError::new(
            field,
            "must be a chrono format such as %Y-%m-%d %H:%M:%S",
        ));
        None
    } else if date_only && !transform::format_fits_date(f) {
        e.push(ValidationError::new(
            field,
            "may use date fields only (%Y %m %d %b ...), not time fields",
        ));
        None
    } else if !date_only && !transform::format_fits_date_time(f) {
        e.push(ValidationError::new(field, "cannot format a date/time"));
        None
    } else {
        Some(f.to_owned())
    }
}

/// Context for mapping validation.
struct FlowShape<'t> {
    direction: Option<Direction>,
    entity: Option<Entity>,
    template: Option<&'t Message<'t>>,
    lead_source_set: bool,
}

fn parse_mapping(
    e: &mut ValidationErrors,
    i: usize,
    m: &MappingInput,
    shape: &FlowShape<'_>,
) -> Option<Mapping> {
    let p = format!("mappings[{i}]");
    let path_field = format!("{p}.hl7_path");
    let hl7_path = parse_path(e, &path_field, m.hl7_path.as_deref());
    if let Some(path) = &hl7_path {
        check_path(e, &path_field, path, shape.template, shape.direction);
    }
    let crm_name = format!("{p}.crm_field");
    let crm_field = parse_crm_field(e, &crm_name, m.crm_field.as_deref());
    let target = match m.target.as_deref().map(str::trim) {
        None => Some(Entity::Lead),
        Some(t) => {
            let parsed = Entity::parse(t);
            if parsed.is_none() {
                e.push(ValidationError::new(
                    format!("{p}.target"),
                    "must be lead or activity",
                ));
            }
            parsed
        }
    };
    if target == Some(Entity::Activity) && shape.entity == Some(Entity::Lead) {
        e.push(ValidationError::new(
            format!("{p}.target"),
            "activity mappings need an activity flow",
        ));
    }
    if let Some(name) = &crm_field {
        if is_activity_pseudo_field(name) && target == Some(Entity::Lead) {
            e.push(ValidationError::new(
                crm_name.clone(),
                "is an activity field: set target to activity",
            ));
        }
        if name.as_str() == LEAD_SOURCE_FIELD
            && target == Some(Entity::Lead)
            && shape.lead_source_set
        {
            e.push(ValidationError::new(
                crm_name.clone(),
                "Source is set from lead_source: leave out one of them",
            ));
        }
    }
    let inputs = m.transforms.as_deref().unwrap_or_default();
    if inputs.len() > MAX_TRANSFORMS {
        e.push(ValidationError::new(
            format!("{p}.transforms"),
            format!("must be at most {MAX_TRANSFORMS}"),
        ));
    }
    let mut transforms = Vec::with_capacity(inputs.len());
    let mut transforms_ok = inputs.len() <= MAX_TRANSFORMS;
    for (j, t) in inputs.iter().enumerate() {
        match parse_transform(e, &format!("{p}.transforms[{j}]"), t) {
            Some(t) => transforms.push(t),
            None => transforms_ok = false,
        }
    }
    if shape.direction == Some(Direction::EhrToCrm)
        && crm_field
            .as_ref()
            .is_some_and(|n| n.as_str() == ACTIVITY_DATE_TIME_FIELD)
        && transforms
            .iter()
            .any(|t| matches!(t, Transform::DateTime { .. } | Transform::Date { .. }))
    {
        e.push(ValidationError::new(
            format!("{p}.transforms"),
            "ActivityDateTime takes the HL7 date/time as it is: remove date_time and date",
        ));
        transforms_ok = false;
    }
    if let Some(n) = m.max_length
        && !(1..=Mapping::MAX_MAX_LENGTH).contains(&n)
    {
        e.push(ValidationError::new(
            format!("{p}.max_length"),
            format!("must be 1 to {}", Mapping::MAX_MAX_LENGTH),
        ));
        transforms_ok = false;
    }
    let on_too_long = match m.on_too_long.as_deref().map(str::trim) {
        None => Some(TooLong::Reject),
        Some(t) => {
            let parsed = TooLong::parse(t);
            if parsed.is_none() {
                e.push(ValidationError::new(
                    format!("{p}.on_too_long"),
                    "must be reject or truncate",
                ));
            }
            parsed
        }
    };
    if !transforms_ok {
        return None;
    }
    Some(Mapping {
        hl7_path: hl7_path?,
        crm_field: crm_field?,
        target: target?,
        transforms,
        required: m.required.unwrap_or(false),
        max_length: m.max_length,
        on_too_long: on_too_long?,
    })
}

/// Refuses mappings that write the same thing twice: the same CRM field of the same entity
/// (EHR -> CRM) or the same HL7 position (CRM -> EHR).
fn check_duplicates(e: &mut ValidationErrors, mappings: &[(usize, Mapping)], direction: Direction) {
    let mut seen: BTreeMap<String, usize> = BTreeMap::new();
    for (i, m) in mappings {
        let (key, field, what) = match direction {
            Direction::EhrToCrm => (
                format!("{}:{}", m.target.as_str(), m.crm_field),
                "crm_field",
                "is already the target of",
            ),
            Direction::CrmToEhr => (m.hl7_path.to_string(), "hl7_path", "is already set by"),
        };
        match seen.get(&key) {
            Some(first) => e.push(ValidationError::new(
                format!("mappings[{i}].{field}"),
                format!("{what} mappings[{first}]"),
            )),
            None => {
                seen.insert(key, *i);
            }
        }
    }
}

/// In EHR -> CRM flows, a key's CRM field that a mapping also writes must be read from the
/// same HL7 position, or the key would search for another value than the one written.
fn check_key_against_mappings(
    e: &mut ValidationErrors,
    prefix: &str,
    key: &SearchKey,
    target: Entity,
    mappings: &[(usize, Mapping)],
) {
    if let Some((i, _)) = mappings.iter().find(|(_, m)| {
        m.target == target && m.crm_field == key.crm_field && m.hl7_path != key.hl7_path
    }) {
        e.push(ValidationError::new(
            format!("{prefix}.hl7_path"),
            format!("differs from mappings[{i}].hl7_path, which writes the same CRM field"),
        ));
    }
}

impl FlowInput {
    /// Validates a new flow; `created_at` and `updated_at` are `now`.
    ///
    /// # Errors
    /// Every problem found, each on its input path; messages never quote values.
    pub fn into_flow(self, flow_id: FlowId, now: DateTime<Utc>) -> Result<Flow, ValidationErrors> {
        self.build(flow_id, now, now)
    }

    /// Validates a replacement of `current` (same id and creation time; `updated_at` is `now`).
    ///
    /// # Errors
    /// As [`FlowInput::into_flow`].
    pub fn replace(self, current: &Flow, now: DateTime<Utc>) -> Result<Flow, ValidationErrors> {
        self.build(current.flow_id.clone(), current.created_at, now)
    }

    fn build(
        self,
        flow_id: FlowId,
        created_at: DateTime<Utc>,
        updated_at: DateTime<Utc>,
    ) -> Result<Flow, ValidationErrors> {
        let mut e = ValidationErrors::default();
        let name = name_field(&mut e, "name", self.name);
        let description = description_field(&mut e, "description", self.description);
        let channel_id = match self.channel_id {
            None => {
                e.push(required("channel_id"));
                None
            }
            Some(id) => e.check(ChannelId::parse(id.trim())),
        };
        let direction = enum_field(
            &mut e,
            "direction",
            self.direction.as_deref(),
            Direction::parse,
            "must be ehr_to_crm or crm_to_ehr",
        );
        let entity = enum_field(
            &mut e,
            "entity",
            self.entity.as_deref(),
            Entity::parse,
            "must be lead or activity",
        );
        let event_type = match self.event_type.as_deref() {
            None => {
                e.push(required("event_type"));
                None
            }
            Some(t) => e.check(Hl7EventType::parse(t.trim())),
        };
        let ehr_to_crm = direction == Some(Direction::EhrToCrm);
        let crm_to_ehr = direction == Some(Direction::CrmToEhr);

        let lead_sync = match (direction, self.lead_sync.as_deref()) {
            (Some(Direction::CrmToEhr), Some(_)) => {
                e.push(ValidationError::new(
                    "lead_sync",
                    "applies only to ehr_to_crm flows (crm_to_ehr flows follow webhook_event)",
                ));
                None
            }
            (Some(Direction::CrmToEhr), None) => Some(SyncBehaviour::Capture),
            (Some(Direction::EhrToCrm), None) => {
                e.push(ValidationError::new(
                    "lead_sync",
                    "is required for ehr_to_crm flows",
                ));
                None
            }
            (_, value) => value.and_then(|v| sync_field(&mut e, "lead_sync", v)),
        };
        let ehr_activity = ehr_to_crm && entity == Some(Entity::Activity);
        let activity_sync = match self.activity_sync.as_deref() {
            Some(_) if direction.is_some() && entity.is_some() && !ehr_activity => {
                e.push(ValidationError::new(
                    "activity_sync",
                    "applies only to ehr_to_crm activity flows",
                ));
                None
            }
            Some(v) => sync_field(&mut e, "activity_sync", v),
            None if ehr_activity => {
                e.push(ValidationError::new(
                    "activity_sync",
                    "is required for ehr_to_crm activity flows",
                ));
                None
            }
            None => None,
        };
        let activity_type = match (entity, self.activity_type) {
            (Some(Entity::Activity), None) => {
                e.push(ValidationError::new(
                    "activity_type",
                    "is required for activity flows",
                ));
                None
            }
            (Some(Entity::Lead), Some(_)) => {
                e.push(ValidationError::new(
                    "activity_type",
                    "applies only to activity flows",
                ));
                None
            }
            (_, Some(n)) => match i32::try_from(n) {
                Ok(code) if code > 0 => Some(code),
                _ => {
                    e.push(ValidationError::new(
                        "activity_type",
                        "must be a positive LeadSquared ActivityEvent code",
                    ));
                    None
                }
            },
            (_, None) => None,
        };
        let lead_source = match self.lead_source.as_deref().map(str::trim) {
            None | Some("") => None,
            Some(_) if crm_to_ehr => {
                e.push(ValidationError::new(
                    "lead_source",
                    "applies only to ehr_to_crm flows",
                ));
                None
            }
            Some(s) if s.chars().count() > 100 || s.chars().any(char::is_control) => {
                e.push(ValidationError::new(
                    "lead_source",
                    "must be a single line of at most 100 characters",
                ));
                None
            }
            Some(s) => Some(s.to_owned()),
        };
        let country_given = self.default_country_code.is_some();
        let default_country_code = self
            .default_country_code
            .as_deref()
            .and_then(|c| e.check(CountryCode::parse(c)));
        let time_zone = match self.time_zone.as_deref().map(str::trim) {
            None | Some("") => Some(Tz::UTC),
            Some(z) => match z.parse::<Tz>() {
                Ok(tz) => Some(tz),
                Err(_) => {
                    e.push(ValidationError::new(
                        "time_zone",
                        "must be an IANA time zone name such as America/New_York",
                    ));
                    None
                }
            },
        };
        let webhook_event = match (direction, self.webhook_event.as_deref()) {
            (Some(Direction::EhrToCrm), Some(_)) => {
                e.push(ValidationError::new(
                    "webhook_event",
                    "applies only to crm_to_ehr flows",
                ));
                None
            }
            (Some(Direction::CrmToEhr), None) => {
                e.push(ValidationError::new(
                    "webhook_event",
                    "is required for crm_to_ehr flows",
                ));
                None
            }
            (_, None) => None,
            (_, Some(w)) => match WebhookEvent::parse(w.trim()) {
                None => {
                    e.push(ValidationError::new(
                        "webhook_event",
                        "must be lead_create, lead_update, activity_create or activity_update",
                    ));
                    None
                }
                Some(ev) => {
                    if entity.is_some_and(|en| en != ev.entity()) {
                        e.push(ValidationError::new(
                            "webhook_event",
                            "must be an event of the flow's entity (lead_* for lead flows, activity_* for activity flows)",
                        ));
                    }
                    Some(ev)
                }
            },
        };

        let template = check_template(
            &mut e,
            self.template.as_ref().map(Template::as_str),
            event_type.as_ref(),
        );
        let shape = FlowShape {
            direction,
            entity,
            template: template.as_ref(),
            lead_source_set: lead_source.is_some(),
        };

        let primary = match &self.primary_search {
            None => {
                e.push(required("primary_search"));
                None
            }
            Some(k) => Some(parse_key(
                &mut e,
                "primary_search",
                k,
                shape.template,
                direction,
            )),
        };
        let secondary = self
            .secondary_search
            .as_ref()
            .map(|k| parse_key(&mut e, "secondary_search", k, shape.template, direction));
        if let (Some(p), Some(s)) = (&primary, &secondary)
            && p.crm_field.is_some()
            && p.crm_field == s.crm_field
        {
            e.push(ValidationError::new(
                "secondary_search.crm_field",
                "must differ from primary_search.crm_field",
            ));
        }
        let mrn_crm_field = parse_crm_field(&mut e, "mrn_crm_field", self.mrn_crm_field.as_deref());
        if let (Some(mrn), Some(p)) = (&mrn_crm_field, &primary) {
            let key_fields: Vec<&Option<CrmFieldName>> = std::iter::once(&p.crm_field)
                .chain(secondary.as_ref().map(|s| &s.crm_field))
                .collect();
            if key_fields.iter().all(|f| f.is_some())
                && !key_fields.iter().any(|f| f.as_ref() == Some(mrn))
            {
                e.push(ValidationError::new(
                    "mrn_crm_field",
                    "must be the crm_field of primary_search or secondary_search (the MRN must be a search key)",
                ));
            }
        }

        let activity_match = match (entity, &self.activity_match) {
            (Some(Entity::Lead), Some(_)) => {
                e.push(ValidationError::new(
                    "activity_match",
                    "applies only to activity flows",
                ));
                None
            }
            (_, Some(k)) => Some(parse_key(
                &mut e,
                "activity_match",
                k,
                shape.template,
                direction,
            )),
            (Some(Entity::Activity), None)
                if ehr_to_crm && activity_sync != Some(SyncBehaviour::DoNothing) =>
            {
                e.push(ValidationError::new(
                    "activity_match",
                    "is required for ehr_to_crm activity flows, to find the activity to update",
                ));
                None
            }
            _ => None,
        };

        let inputs = self.mappings.unwrap_or_default();
        if inputs.len() > MAX_MAPPINGS {
            e.push(ValidationError::new(
                "mappings",
                format!("must be at most {MAX_MAPPINGS}"),
            ));
        }
        let mut parsed: Vec<(usize, Mapping)> = Vec::with_capacity(inputs.len());
        let mut mappings_ok = inputs.len() <= MAX_MAPPINGS;
        for (i, m) in inputs.iter().enumerate() {
            match parse_mapping(&mut e, i, m, &shape) {
                Some(mapping) => parsed.push((i, mapping)),
                None => mappings_ok = false,
            }
        }
        if let Some(d) = direction {
            check_duplicates(&mut e, &parsed, d);
        }
        if ehr_to_crm {
            for (prefix, parts) in [
                ("primary_search", &primary),
                ("secondary_search", &secondary),
            ] {
                if let Some(key) = parts.as_ref().and_then(KeyParts::key) {
                    check_key_against_mappings(&mut e, prefix, &key, Entity::Lead, &parsed);
                }
            }
            if let Some(key) = activity_match.as_ref().and_then(KeyParts::key) {
                check_key_against_mappings(
                    &mut e,
                    "activity_match",
                    &key,
                    Entity::Activity,
                    &parsed,
                );
            }
        }
        let uses_phone = parsed
            .iter()
            .any(|(_, m)| m.transforms.contains(&Transform::PhoneE164))
            || inputs.iter().any(|m| {
                m.transforms
                    .iter()
                    .flatten()
                    .any(|t| t.kind.as_deref().map(str::trim) == Some("phone_e164"))
            });
        if uses_phone && !country_given {
            e.push(ValidationError::new(
                "default_country_code",
                "is required when a mapping uses phone_e164",
            ));
        }

        let primary_search = primary.as_ref().and_then(KeyParts::key);
        let secondary_search = secondary.as_ref().and_then(KeyParts::key);
        let activity_match = activity_match.as_ref().and_then(KeyParts::key);
        let secondary_ok = secondary.is_none() || secondary_search.is_some();
        let activity_match_ok = self.activity_match.is_none() || activity_match.is_some();
        let enabled = self.enabled.unwrap_or(true);
        let template = self.template.unwrap_or_default();
        if !(mappings_ok && secondary_ok && activity_match_ok) && e.is_empty() {
            // Every path that yields `None` above records a problem; this is a safety net.
            e.push(ValidationError::new("flow", "is invalid"));
        }
        match (
            name,
            channel_id,
            direction,
            entity,
            event_type,
            lead_sync,
            time_zone,
            primary_search,
            mrn_crm_field,
        ) {
            (
                Some(name),
                Some(channel_id),
                Some(direction),
                Some(entity),
                Some(event_type),
                Some(lead_sync),
                Some(time_zone),
                Some(primary_search),
                Some(mrn_crm_field),
            ) if e.is_empty() => Ok(Flow {
                flow_id,
                name,
                description,
                channel_id,
                direction,
                entity,
                event_type,
                lead_sync,
                activity_sync,
                activity_type,
                activity_match,
                lead_source,
                default_country_code,
                time_zone,
                primary_search,
                secondary_search,
                mrn_crm_field,
                template,
                mappings: parsed.into_iter().map(|(_, m)| m).collect(),
                webhook_event,
                enabled,
                created_at,
                updated_at,
            }),
            _ => {
                if e.is_empty() {
                    e.push(ValidationError::new("flow", "is invalid"));
                }
                Err(e)
            }
        }
    }
}

fn sync_field(e: &mut ValidationErrors, field: &str, value: &str) -> Option<SyncBehaviour> {
    let parsed = SyncBehaviour::parse(value.trim());
    if parsed.is_none() {
        e.push(ValidationError::new(
            field,
            "must be capture, create_only, update_only or do_nothing",
        ));
    }
    parsed
}

mod channel;

#[cfg(test)]
mod tests;
