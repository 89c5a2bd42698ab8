//! Search keys (primary, secondary, the MRN field) and the activity match key.

use connector_hl7::{Message, Path};

use super::fields::required;
use super::fields::{is_activity_pseudo_field, parse_crm_field, parse_path};
use super::mappings::FlowShape;
use super::template::check_path;
use crate::flow::input::{FlowInput, SearchKeyInput};
use crate::flow::model::{CrmFieldName, Direction, Entity, Mapping, SearchKey, SyncBehaviour};
use crate::{ValidationError, ValidationErrors};

/// The parts of a key, each `None` when missing or invalid.
pub(super) struct KeyParts {
    pub(super) crm_field: Option<CrmFieldName>,
    pub(super) hl7_path: Option<Path>,
}

impl KeyParts {
    pub(super) fn key(&self) -> Option<SearchKey> {
        Some(SearchKey {
            crm_field: self.crm_field.clone()?,
            hl7_path: self.hl7_path?,
        })
    }
}

/// One key at `prefix`: a CRM field (not an activity pseudo-field) and an HL7 path checked
/// against the template.
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

/// The keys of a flow, each `None` when left out (or, for the MRN field, invalid).
pub(super) struct FlowKeys {
    pub(super) primary: Option<KeyParts>,
    pub(super) secondary: Option<KeyParts>,
    pub(super) mrn_crm_field: Option<CrmFieldName>,
    pub(super) activity_match: Option<KeyParts>,
}

impl FlowKeys {
    /// The search keys, the MRN field and the activity match key of `input`, in that order.
    pub(super) fn parse(
        e: &mut ValidationErrors,
        input: &FlowInput,
        shape: &FlowShape<'_>,
        activity_sync: Option<SyncBehaviour>,
    ) -> Self {
        let (primary, secondary) = search_keys(e, input, shape);
        let mrn_crm_field = mrn_field(e, input, primary.as_ref(), secondary.as_ref());
        let activity_match = activity_match(e, input, shape, activity_sync);
        Self {
            primary,
            secondary,
            mrn_crm_field,
            activity_match,
        }
    }

    /// In EHR -> CRM flows, checks each complete key against the mappings that write its field.
    pub(super) fn check_against(&self, e: &mut ValidationErrors, mappings: &[(usize, Mapping)]) {
        for (prefix, parts) in [
            ("primary_search", &self.primary),
            ("secondary_search", &self.secondary),
        ] {
            if let Some(key) = parts.as_ref().and_then(KeyParts::key) {
                check_key_against_mappings(e, prefix, &key, Entity::Lead, mappings);
            }
        }
        if let Some(key) = self.activity_match.as_ref().and_then(KeyParts::key) {
            check_key_against_mappings(e, "activity_match", &key, Entity::Activity, mappings);
        }
    }
}

/// The primary (required) and secondary search keys, which must search different fields.
fn search_keys(
    e: &mut ValidationErrors,
    input: &FlowInput,
    shape: &FlowShape<'_>,
) -> (Option<KeyParts>, Option<KeyParts>) {
    let primary = match &input.primary_search {
        None => {
            e.push(required("primary_search"));
            None
        }
        Some(k) => Some(parse_key(
            e,
            "primary_search",
            k,
            shape.template,
            shape.direction,
        )),
    };
    let secondary = input
        .secondary_search
        .as_ref()
        .map(|k| parse_key(e, "secondary_search", k, shape.template, shape.direction));
    if let (Some(p), Some(s)) = (&primary, &secondary)
        && p.crm_field.is_some()
        && p.crm_field == s.crm_field
    {
        e.push(ValidationError::new(
            "secondary_search.crm_field",
            "must differ from primary_search.crm_field",
        ));
    }
    (primary, secondary)
}

/// The CRM field holding the MRN, which must be the field of a search key.
fn mrn_field(
    e: &mut ValidationErrors,
    input: &FlowInput,
    primary: Option<&KeyParts>,
    secondary: Option<&KeyParts>,
) -> Option<CrmFieldName> {
    let mrn_crm_field = parse_crm_field(e, "mrn_crm_field", input.mrn_crm_field.as_deref());
    if let (Some(mrn), Some(p)) = (&mrn_crm_field, primary) {
        let key_fields: Vec<&Option<CrmFieldName>> = std::iter::once(&p.crm_field)
            .chain(secondary.map(|s| &s.crm_field))
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
    mrn_crm_field
}

/// The key that finds the activity to update: activity flows only, required for EHR -> CRM
/// activity flows that may update.
fn activity_match(
    e: &mut ValidationErrors,
    input: &FlowInput,
    shape: &FlowShape<'_>,
    activity_sync: Option<SyncBehaviour>,
) -> Option<KeyParts> {
    let ehr_to_crm = shape.direction == Some(Direction::EhrToCrm);
    match (shape.entity, &input.activity_match) {
        (Some(Entity::Lead), Some(_)) => {
            e.refuse("activity_match", "applies only to activity flows")
        }
        (_, Some(k)) => Some(parse_key(
            e,
            "activity_match",
            k,
            shape.template,
            shape.direction,
        )),
        (Some(Entity::Activity), None)
            if ehr_to_crm && activity_sync != Some(SyncBehaviour::DoNothing) =>
        {
            e.refuse(
                "activity_match",
                "is required for ehr_to_crm activity flows, to find the activity to update",
            )
        }
        _ => None,
    }
}
