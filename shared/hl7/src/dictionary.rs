//! Names of common HL7 v2.5 fields and components, for showing a path to a person
//! ("PID-5: Patient Name", "PID-5.1: Family Name").
//!
//! Field level: every field of MSH, EVN, PID, PD1, NK1, PV1, PV2, SCH, AIS, AIG, AIL, AIP,
//! RGS, OBR, OBX, DG1, IN1, FT1 and GT1 as HL7 v2.5 names them. Component level: the
//! components of the composite data types these fields use most (XPN, XAD, XTN, CX, CE, CWE,
//! XCN, XON, EI, HD, MSG, PL, TQ, TS, PT, VID, DLN, FC, CQ), and subcomponents of FN (family
//! name), SAD (street address) and HD (assigning authority / facility). Everything else is
//! `None`: show the path alone.
//!
//! ```
//! use connector_hl7::{Path, dictionary};
//!
//! let path: Path = "PID-5.1".parse()?;
//! assert_eq!(dictionary::field_name(&path), Some("Family Name"));
//! let d = dictionary::describe(&path).expect("PID-5 is known");
//! assert_eq!((d.field, d.data_type), ("Patient Name", Some("XPN")));
//! # Ok::<(), connector_hl7::PathError>(())
//! ```

use std::collections::HashMap;
use std::sync::LazyLock;

use crate::path::Path;

/// What the dictionary knows about a path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FieldDescription {
    /// The field's name (`Patient Name`).
    pub field: &'static str,
    /// The field's data type when it is a composite the dictionary knows (`XPN`).
    pub data_type: Option<&'static str>,
    /// The component's name, when the path names a component the dictionary knows.
    pub component: Option<&'static str>,
    /// The subcomponent's name, when the path names a subcomponent the dictionary knows.
    pub subcomponent: Option<&'static str>,
}

/// The most specific name the dictionary has for a path: the subcomponent's, the
/// component's or the field's. `None` when the path is below what the dictionary knows
/// (a component of a field whose type it does not list) or the field is unknown.
pub fn field_name(path: &Path) -> Option<&'static str> {
    let d = describe(path)?;
    match (path.component(), path.subcomponent()) {
        (None, _) => Some(d.field),
        (Some(_), None) => d.component,
        (Some(_), Some(_)) => d.subcomponent,
    }
}

/// Everything the dictionary knows about a path; `None` for an unknown segment or field.
pub fn describe(path: &Path) -> Option<FieldDescription> {
    let field = segment_fields(path.segment().as_str())?.get(path.field().checked_sub(1)?)?;
    let component = path
        .component()
        .and_then(|c| components(field.data_type?)?.get(c.checked_sub(1)?));
    let subcomponent = path
        .subcomponent()
        .and_then(|s| components(component?.data_type?)?.get(s.checked_sub(1)?));
    Some(FieldDescription {
        field: field.name,
        data_type: field.data_type,
        component: component.map(|c| c.name),
        subcomponent: subcomponent.map(|s| s.name),
    })
}

/// One field of a segment, or one component of a data type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Entry {
    /// Its HL7 v2.5 name.
    name: &'static str,
    /// Its data type, where the dictionary lists that type's components.
    data_type: Option<&'static str>,
}

/// A segment's fields, in order.
fn segment_fields(segment: &str) -> Option<&'static [Entry]> {
    list("segment", segment)
}

/// A data type's components, in order.
fn components(data_type: &str) -> Option<&'static [Entry]> {
    list("type", data_type)
}

fn list(kind: &str, name: &str) -> Option<&'static [Entry]> {
    LISTS.get(kind)?.get(name).map(Vec::as_slice)
}

/// Lists by kind (`segment`, `type`), then by name (`PID`, `XPN`).
type Lists = HashMap<&'static str, HashMap<&'static str, Vec<Entry>>>;

/// The dictionary's lists, from `dictionary/v2_5.txt`.
static LISTS: LazyLock<Lists> = LazyLock::new(|| lists(include_str!("dictionary/v2_5.txt")));

/// Reads the lists: `[kind NAME]` starts one, each following line is its next entry (`Name` or
/// `Name | TYPE`); blank lines and `#` comments are skipped.
fn lists(text: &'static str) -> Lists {
    let mut lists = Lists::new();
    let mut current = ("", "");
    for line in text.lines().map(str::trim) {
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let entry = match line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            Some(header) => {
                current = header
                    .split_once(' ')
                    .expect("a list header is `[kind NAME]`");
                None
            }
            None => Some(match line.split_once(" | ") {
                Some((name, data_type)) => Entry {
                    name,
                    data_type: Some(data_type),
                },
                None => Entry {
                    name: line,
                    data_type: None,
                },
            }),
        };
        let list = lists.entry(current.0).or_default();
        list.entry(current.1).or_default().extend(entry);
    }
    lists
}

#[cfg(test)]
mod tests {
    use super::*;

    fn name(p: &str) -> Option<&'static str> {
        field_name(&p.parse().unwrap())
    }

    #[test]
    fn field_level_names() {
        for (p, want) in [
            ("PID-3", "Patient Identifier List"),
            ("PID-5", "Patient Name"),
            ("PID-7", "Date/Time of Birth"),
            ("PID-13", "Phone Number - Home"),
            ("PID-39", "Tribal Citizenship"),
            ("MSH-9", "Message Type"),
            ("MSH-10", "Message Control ID"),
            ("EVN-2", "Recorded Date/Time"),
            ("SCH-1", "Placer Appointment ID"),
            ("SCH-11", "Appointment Timing Quantity"),
            ("SCH-25", "Filler Status Code"),
            ("AIS-4", "Start Date/Time"),
            ("AIL-4", "Location Type-AIL"),
            ("AIP-3", "Personnel Resource ID"),
            ("RGS-3", "Resource Group ID"),
            ("PV1-19", "Visit Number"),
            ("PV1-52", "Other Healthcare Provider"),
            ("PV2-49", "Notify Clergy Code"),
            ("NK1-39", "VIP Indicator"),
            ("PD1-21", "Military Status"),
            ("OBR-49", "Result Handling"),
            ("OBX[2]-5", "Observation Value"),
            ("DG1-21", "Diagnosis Action Code"),
            ("IN1-53", "VIP Indicator"),
            ("FT1-31", "Transaction Reference Key"),
            ("GT1-57", "VIP Indicator"),
            ("PID-3[2]", "Patient Identifier List"),
        ] {
            assert_eq!(name(p), Some(want), "{p}");
        }
        assert_eq!(name("PID-40"), None);
        assert_eq!(name("ZPI-1"), None);
    }

    #[test]
    fn component_and_subcomponent_names() {
        for (p, want) in [
            ("PID-5.1", "Family Name"),
            ("PID-5.2", "Given Name"),
            ("PID-5.1.1", "Surname"),
            ("PID-11.1", "Street Address"),
            ("PID-11.1.1", "Street or Mailing Address"),
            ("PID-11.3", "City"),
            ("PID-11.4", "State or Province"),
            ("PID-11.5", "Zip or Postal Code"),
            ("PID-13.1", "Telephone Number"),
            ("PID-13.4", "Email Address"),
            ("PID-13[2].12", "Unformatted Telephone number"),
            ("PID-3.1", "ID Number"),
            ("PID-3.4", "Assigning Authority"),
            ("PID-3.4.1", "Namespace ID"),
            ("PID-3.5", "Identifier Type Code"),
            ("MSH-9.2", "Trigger Event"),
            ("SCH-11.4", "Start Date/Time"),
            ("SCH-1.1", "Entity Identifier"),
            ("AIP-3.2", "Family Name"),
            ("PV1-3.1", "Point of Care"),
            ("PID-7.1", "Time"),
        ] {
            assert_eq!(name(p), Some(want), "{p}");
        }
        let d = describe(&"PID-5.2".parse().unwrap()).unwrap();
        assert_eq!(
            (d.field, d.data_type, d.component),
            ("Patient Name", Some("XPN"), Some("Given Name"))
        );
        assert_eq!(name("PID-8.1"), None);
        assert_eq!(name("PID-5.15"), None);
        assert_eq!(name("PID-5.2.1"), None);
    }

    #[test]
    fn tables_have_the_v2_5_lengths() {
        for (seg, n) in [
            ("MSH", 21),
            ("EVN", 7),
            ("PID", 39),
            ("PD1", 21),
            ("NK1", 39),
            ("PV1", 52),
            ("PV2", 49),
            ("SCH", 27),
            ("AIS", 12),
            ("AIG", 14),
            ("AIL", 12),
            ("AIP", 12),
            ("RGS", 3),
            ("OBR", 49),
            ("OBX", 19),
            ("DG1", 21),
            ("IN1", 53),
            ("FT1", 31),
            ("GT1", 57),
        ] {
            assert_eq!(segment_fields(seg).map(<[_]>::len), Some(n), "{seg}");
        }
        for (dt, n) in [
            ("XPN", 14),
            ("XAD", 14),
            ("XTN", 12),
            ("CX", 10),
            ("XCN", 23),
            ("TQ", 12),
        ] {
            assert_eq!(components(dt).map(<[_]>::len), Some(n), "{dt}");
        }
    }
}
