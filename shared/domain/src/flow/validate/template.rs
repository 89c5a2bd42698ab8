//! The template check, and the checks an HL7 path gets against the template and direction.

use connector_hl7::{Message, Path};

use super::MAX_TEMPLATE_BYTES;
use super::fields::required;
use crate::flow::model::{Direction, Hl7EventType};
use crate::{ValidationError, ValidationErrors};

/// Whether the template's element at `path` has components (or subcomponents) below the
/// path's level.
pub(super) fn has_parts(template: &Message<'_>, path: &Path) -> bool {
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
pub(super) fn check_path(
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
pub(super) fn check_template<'t>(
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
        Err(err) => e.refuse("template", format!("is not an HL7 v2 message: {err}")),
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
