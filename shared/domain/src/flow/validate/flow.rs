//! [`FlowInput`] to [`Flow`]: the flow's own settings, its template, its keys and its
//! mappings, checked in that order (the order of the problems reported), then assembled.

use chrono::{DateTime, Utc};
use chrono_tz::Tz;

use super::Identity;
use super::fields::{description_field, enum_field, name_field, required, sync_field};
use super::keys::{FlowKeys, KeyParts};
use super::mappings::{FlowShape, ParsedMappings, parse_mappings};
use super::template::check_template;
use crate::flow::channel::ChannelId;
use crate::flow::input::FlowInput;
use crate::flow::model::{
    CountryCode, CrmFieldName, Direction, Entity, Flow, FlowId, Hl7EventType, Mapping, SearchKey,
    SyncBehaviour, Template, WebhookEvent,
};
use crate::flow::transform::Transform;
use crate::{ValidationError, ValidationErrors};

impl FlowInput {
    /// Validates a new flow; `created_at` and `updated_at` are `now`.
    ///
    /// # Errors
    /// Every problem found, each on its input path; messages never quote values.
    pub fn into_flow(self, flow_id: FlowId, now: DateTime<Utc>) -> Result<Flow, ValidationErrors> {
        self.build(Identity::new(flow_id, now))
    }

    /// Validates a replacement of `current` (same id and creation time; `updated_at` is `now`).
    ///
    /// # Errors
    /// As [`FlowInput::into_flow`].
    pub fn replace(self, current: &Flow, now: DateTime<Utc>) -> Result<Flow, ValidationErrors> {
        let identity = Identity::replacing(current.flow_id.clone(), current.created_at, now);
        self.build(identity)
    }

    /// Checks the settings, the template, the keys and the mappings in turn, then the rules
    /// across them, and assembles the flow when nothing was wrong.
    fn build(self, identity: Identity<FlowId>) -> Result<Flow, ValidationErrors> {
        let mut e = ValidationErrors::default();
        let settings = Settings::parse(&mut e, &self);
        let template = check_template(
            &mut e,
            self.template.as_ref().map(Template::as_str),
            settings.event_type.as_ref(),
        );
        let shape = FlowShape {
            direction: settings.direction,
            entity: settings.entity,
            template: template.as_ref(),
            lead_source_set: settings.lead_source.is_some(),
        };
        let keys = FlowKeys::parse(&mut e, &self, &shape, settings.activity_sync);
        let inputs = self.mappings.as_deref().unwrap_or_default();
        let mappings = parse_mappings(&mut e, inputs, &shape);
        if settings.direction == Some(Direction::EhrToCrm) {
            keys.check_against(&mut e, &mappings.parsed);
        }
        check_phone_country(&mut e, &self, &mappings, settings.country_given);
        let keys = Keys::complete(&keys);
        let parts_ok = mappings.all_ok
            && keys.secondary_ok
            && (self.activity_match.is_none() || keys.activity_match.is_some());
        if !parts_ok && e.is_empty() {
            // Every path that yields `None` above records a problem; this is a safety net.
            e.push(ValidationError::new("flow", "is invalid"));
        }
        let stamp = Stamp {
            identity,
            enabled: self.enabled.unwrap_or(true),
            template: self.template.unwrap_or_default(),
        };
        let mappings = mappings.parsed.into_iter().map(|(_, m)| m).collect();
        assemble(e, settings, keys, mappings, stamp)
    }
}

/// The flow's own settings (all but the template, keys and mappings), each `None` when
/// missing or invalid.
struct Settings {
    name: Option<String>,
    description: String,
    channel_id: Option<ChannelId>,
    direction: Option<Direction>,
    entity: Option<Entity>,
    event_type: Option<Hl7EventType>,
    lead_sync: Option<SyncBehaviour>,
    activity_sync: Option<SyncBehaviour>,
    activity_type: Option<i32>,
    lead_source: Option<String>,
    /// Whether a default country code was given at all (valid or not).
    country_given: bool,
    default_country_code: Option<CountryCode>,
    time_zone: Option<Tz>,
    webhook_event: Option<WebhookEvent>,
}

impl Settings {
    /// Each setting of `input` in turn.
    fn parse(e: &mut ValidationErrors, input: &FlowInput) -> Self {
        let name = name_field(e, "name", input.name.clone());
        let description = description_field(e, "description", input.description.clone());
        let channel_id = match &input.channel_id {
            None => {
                e.push(required("channel_id"));
                None
            }
            Some(id) => e.check(ChannelId::parse(id.trim())),
        };
        let direction = enum_field(
            e,
            "direction",
            input.direction.as_deref(),
            Direction::parse,
            "must be ehr_to_crm or crm_to_ehr",
        );
        let entity = enum_field(
            e,
            "entity",
            input.entity.as_deref(),
            Entity::parse,
            "must be lead or activity",
        );
        let event_type = match input.event_type.as_deref() {
            None => {
                e.push(required("event_type"));
                None
            }
            Some(t) => e.check(Hl7EventType::parse(t.trim())),
        };
        let kind = FlowKind { direction, entity };
        let lead_sync = kind.lead_sync(e, input.lead_sync.as_deref());
        let activity_sync = kind.activity_sync(e, input.activity_sync.as_deref());
        let activity_type = kind.activity_type(e, input.activity_type);
        let lead_source = kind.lead_source(e, input.lead_source.as_deref());
        let default_country_code = input
            .default_country_code
            .as_deref()
            .and_then(|c| e.check(CountryCode::parse(c)));
        let time_zone = time_zone(e, input.time_zone.as_deref());
        let webhook_event = kind.webhook_event(e, input.webhook_event.as_deref());
        Self {
            name,
            description,
            channel_id,
            direction,
            entity,
            event_type,
            lead_sync,
            activity_sync,
            activity_type,
            lead_source,
            country_given: input.default_country_code.is_some(),
            default_country_code,
            time_zone,
            webhook_event,
        }
    }
}

/// What is known of the flow's direction and entity: the settings that apply to some kinds of
/// flow only are checked against it.
#[derive(Clone, Copy)]
struct FlowKind {
    direction: Option<Direction>,
    entity: Option<Entity>,
}

impl FlowKind {
    /// How EHR -> CRM flows treat the lead (required there); CRM -> EHR flows always capture.
    fn lead_sync(self, e: &mut ValidationErrors, value: Option<&str>) -> Option<SyncBehaviour> {
        match (self.direction, value) {
            (Some(Direction::CrmToEhr), Some(_)) => e.refuse(
                "lead_sync",
                "applies only to ehr_to_crm flows (crm_to_ehr flows follow webhook_event)",
            ),
            (Some(Direction::CrmToEhr), None) => Some(SyncBehaviour::Capture),
            (Some(Direction::EhrToCrm), None) => {
                e.refuse("lead_sync", "is required for ehr_to_crm flows")
            }
            (_, value) => value.and_then(|v| sync_field(e, "lead_sync", v)),
        }
    }

    /// How EHR -> CRM activity flows treat the activity (required there, refused elsewhere).
    fn activity_sync(self, e: &mut ValidationErrors, value: Option<&str>) -> Option<SyncBehaviour> {
        let ehr_activity =
            self.direction == Some(Direction::EhrToCrm) && self.entity == Some(Entity::Activity);
        match value {
            Some(_) if self.direction.is_some() && self.entity.is_some() && !ehr_activity => {
                e.refuse("activity_sync", "applies only to ehr_to_crm activity flows")
            }
            Some(v) => sync_field(e, "activity_sync", v),
            None if ehr_activity => {
                e.refuse("activity_sync", "is required for ehr_to_crm activity flows")
            }
            None => None,
        }
    }

    /// The LeadSquared ActivityEvent code of an activity flow (positive; refused for lead flows).
    fn activity_type(self, e: &mut ValidationErrors, value: Option<i64>) -> Option<i32> {
        match (self.entity, value) {
            (Some(Entity::Activity), None) => {
                e.refuse("activity_type", "is required for activity flows")
            }
            (Some(Entity::Lead), Some(_)) => {
                e.refuse("activity_type", "applies only to activity flows")
            }
            (_, Some(n)) => match i32::try_from(n) {
                Ok(code) if code > 0 => Some(code),
                _ => e.refuse(
                    "activity_type",
                    "must be a positive LeadSquared ActivityEvent code",
                ),
            },
            (_, None) => None,
        }
    }

    /// The lead Source an EHR -> CRM flow stamps: one line of at most 100 characters.
    fn lead_source(self, e: &mut ValidationErrors, value: Option<&str>) -> Option<String> {
        match value.map(str::trim) {
            None | Some("") => None,
            Some(_) if self.direction == Some(Direction::CrmToEhr) => {
                e.refuse("lead_source", "applies only to ehr_to_crm flows")
            }
            Some(s) if s.chars().count() > 100 || s.chars().any(char::is_control) => e.refuse(
                "lead_source",
                "must be a single line of at most 100 characters",
            ),
            Some(s) => Some(s.to_owned()),
        }
    }

    /// The CRM webhook event a CRM -> EHR flow follows (required there, of the flow's entity).
    fn webhook_event(self, e: &mut ValidationErrors, value: Option<&str>) -> Option<WebhookEvent> {
        match (self.direction, value) {
            (Some(Direction::EhrToCrm), Some(_)) => {
                e.refuse("webhook_event", "applies only to crm_to_ehr flows")
            }
            (Some(Direction::CrmToEhr), None) => {
                e.refuse("webhook_event", "is required for crm_to_ehr flows")
            }
            (_, None) => None,
            (_, Some(w)) => match WebhookEvent::parse(w.trim()) {
                None => e.refuse(
                    "webhook_event",
                    "must be lead_create, lead_update, activity_create or activity_update",
                ),
                Some(ev) => {
                    if self.entity.is_some_and(|en| en != ev.entity()) {
                        e.push(ValidationError::new(
                            "webhook_event",
                            "must be an event of the flow's entity (lead_* for lead flows, activity_* for activity flows)",
                        ));
                    }
                    Some(ev)
                }
            },
        }
    }
}

/// The flow's time zone (UTC when left out).
fn time_zone(e: &mut ValidationErrors, value: Option<&str>) -> Option<Tz> {
    match value.map(str::trim) {
        None | Some("") => Some(Tz::UTC),
        Some(z) => match z.parse::<Tz>() {
            Ok(tz) => Some(tz),
            Err(_) => e.refuse(
                "time_zone",
                "must be an IANA time zone name such as America/New_York",
            ),
        },
    }
}

/// A mapping that normalises phone numbers needs the flow's default country code.
fn check_phone_country(
    e: &mut ValidationErrors,
    input: &FlowInput,
    mappings: &ParsedMappings,
    country_given: bool,
) {
    let uses_phone = mappings
        .parsed
        .iter()
        .any(|(_, m)| m.transforms.contains(&Transform::PhoneE164))
        || input.mappings.iter().flatten().any(|m| {
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
}

/// The flow's complete keys (`None` when left out or incomplete).
struct Keys {
    primary: Option<SearchKey>,
    /// False when a secondary key was given but is incomplete.
    secondary_ok: bool,
    secondary: Option<SearchKey>,
    mrn_crm_field: Option<CrmFieldName>,
    activity_match: Option<SearchKey>,
}

impl Keys {
    /// The keys whose parts are all valid.
    fn complete(keys: &FlowKeys) -> Self {
        Self {
            primary: keys.primary.as_ref().and_then(KeyParts::key),
            secondary_ok: keys.secondary.as_ref().is_none_or(|k| k.key().is_some()),
            secondary: keys.secondary.as_ref().and_then(KeyParts::key),
            mrn_crm_field: keys.mrn_crm_field.clone(),
            activity_match: keys.activity_match.as_ref().and_then(KeyParts::key),
        }
    }
}

/// What the flow takes without checks: its identity and dates, switch and template text.
struct Stamp {
    identity: Identity<FlowId>,
    enabled: bool,
    template: Template,
}

/// The flow, when every required part is there and no problem was recorded.
fn assemble(
    mut e: ValidationErrors,
    s: Settings,
    keys: Keys,
    mappings: Vec<Mapping>,
    stamp: Stamp,
) -> Result<Flow, ValidationErrors> {
    match (
        s.name,
        s.channel_id,
        s.direction,
        s.entity,
        s.event_type,
        s.lead_sync,
        s.time_zone,
        keys.primary,
        keys.mrn_crm_field,
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
            flow_id: stamp.identity.id,
            name,
            description: s.description,
            channel_id,
            direction,
            entity,
            event_type,
            lead_sync,
            activity_sync: s.activity_sync,
            activity_type: s.activity_type,
            activity_match: keys.activity_match,
            lead_source: s.lead_source,
            default_country_code: s.default_country_code,
            time_zone,
            primary_search,
            secondary_search: keys.secondary,
            mrn_crm_field,
            template: stamp.template,
            mappings,
            webhook_event: s.webhook_event,
            enabled: stamp.enabled,
            created_at: stamp.identity.created_at,
            updated_at: stamp.identity.updated_at,
        }),
        _ => {
            if e.is_empty() {
                e.push(ValidationError::new("flow", "is invalid"));
            }
            Err(e)
        }
    }
}
