//! The mappings of a flow: each on its own, then against each other.

use std::collections::BTreeMap;

use connector_hl7::Message;

use super::fields::{enum_or, is_activity_pseudo_field, parse_crm_field, parse_path};
use super::template::check_path;
use super::transforms::parse_transform;
use super::{MAX_MAPPINGS, MAX_TRANSFORMS};
use crate::flow::input::MappingInput;
use crate::flow::model::{
    ACTIVITY_DATE_TIME_FIELD, CrmFieldName, Direction, Entity, LEAD_SOURCE_FIELD, Mapping, TooLong,
};
use crate::flow::transform::Transform;
use crate::{ValidationError, ValidationErrors};

/// Context for mapping validation.
pub(super) struct FlowShape<'t> {
    pub(super) direction: Option<Direction>,
    pub(super) entity: Option<Entity>,
    pub(super) template: Option<&'t Message<'t>>,
    pub(super) lead_source_set: bool,
}

/// One mapping (`i` its index), or `None` with the problems recorded.
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
    let target = mapping_target(e, &p, m, shape);
    if let Some(name) = &crm_field {
        check_field_fits_target(e, &crm_name, name, target, shape);
    }
    let transforms = mapping_transforms(e, &p, m, shape, crm_field.as_ref());
    let length_ok = check_max_length(e, &p, m);
    let on_too_long = on_too_long(e, &p, m);
    let transforms = transforms.filter(|_| length_ok)?;
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

/// The entity a mapping writes (lead when left out); activity mappings need an activity flow.
fn mapping_target(
    e: &mut ValidationErrors,
    p: &str,
    m: &MappingInput,
    shape: &FlowShape<'_>,
) -> Option<Entity> {
    let target = enum_or(
        e,
        &format!("{p}.target"),
        m.target.as_deref(),
        Entity::Lead,
        Entity::parse,
        "must be lead or activity",
    );
    if target == Some(Entity::Activity) && shape.entity == Some(Entity::Lead) {
        e.push(ValidationError::new(
            format!("{p}.target"),
            "activity mappings need an activity flow",
        ));
    }
    target
}

/// A lead mapping may not write an activity pseudo-field, nor the Source that `lead_source`
/// sets.
fn check_field_fits_target(
    e: &mut ValidationErrors,
    crm_name: &str,
    name: &CrmFieldName,
    target: Option<Entity>,
    shape: &FlowShape<'_>,
) {
    if is_activity_pseudo_field(name) && target == Some(Entity::Lead) {
        e.push(ValidationError::new(
            crm_name,
            "is an activity field: set target to activity",
        ));
    }
    if name.as_str() == LEAD_SOURCE_FIELD && target == Some(Entity::Lead) && shape.lead_source_set {
        e.push(ValidationError::new(
            crm_name,
            "Source is set from lead_source: leave out one of them",
        ));
    }
}

/// The mapping's transforms, or `None` when any is invalid (every problem recorded).
fn mapping_transforms(
    e: &mut ValidationErrors,
    p: &str,
    m: &MappingInput,
    shape: &FlowShape<'_>,
    crm_field: Option<&CrmFieldName>,
) -> Option<Vec<Transform>> {
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
        && crm_field.is_some_and(|n| n.as_str() == ACTIVITY_DATE_TIME_FIELD)
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
    transforms_ok.then_some(transforms)
}

/// Whether the mapping's `max_length`, if given, is in range (recording the problem if not).
fn check_max_length(e: &mut ValidationErrors, p: &str, m: &MappingInput) -> bool {
    if let Some(n) = m.max_length
        && !(1..=Mapping::MAX_MAX_LENGTH).contains(&n)
    {
        e.push(ValidationError::new(
            format!("{p}.max_length"),
            format!("must be 1 to {}", Mapping::MAX_MAX_LENGTH),
        ));
        return false;
    }
    true
}

/// What to do with a value over `max_length` (reject when left out).
fn on_too_long(e: &mut ValidationErrors, p: &str, m: &MappingInput) -> Option<TooLong> {
    enum_or(
        e,
        &format!("{p}.on_too_long"),
        m.on_too_long.as_deref(),
        TooLong::Reject,
        TooLong::parse,
        "must be reject or truncate",
    )
}

/// The mappings that parsed, each with its index, and whether all did.
pub(super) struct ParsedMappings {
    pub(super) parsed: Vec<(usize, Mapping)>,
    pub(super) all_ok: bool,
}

/// Every mapping in turn (at most [`super::MAX_MAPPINGS`]), then the duplicates among them.
pub(super) fn parse_mappings(
    e: &mut ValidationErrors,
    inputs: &[MappingInput],
    shape: &FlowShape<'_>,
) -> ParsedMappings {
    if inputs.len() > MAX_MAPPINGS {
        e.push(ValidationError::new(
            "mappings",
            format!("must be at most {MAX_MAPPINGS}"),
        ));
    }
    let mut parsed: Vec<(usize, Mapping)> = Vec::with_capacity(inputs.len());
    let mut all_ok = inputs.len() <= MAX_MAPPINGS;
    for (i, m) in inputs.iter().enumerate() {
        match parse_mapping(e, i, m, shape) {
            Some(mapping) => parsed.push((i, mapping)),
            None => all_ok = false,
        }
    }
    if let Some(d) = shape.direction {
        check_duplicates(e, &parsed, d);
    }
    ParsedMappings { parsed, all_ok }
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
