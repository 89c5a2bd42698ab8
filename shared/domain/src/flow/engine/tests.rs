use serde_json::json;

use super::*;
use crate::flow::fixtures::{
    OUTBOUND_ADT_A04, activity_flow_json, flow, lead_flow_json, now, outbound_flow_json, set,
    siu_s12,
};

/// An ADT^A04 with escapes, an HL7 null, padding, a coded sex sent with components, and an
/// untidy phone number and e-mail address.
const ADT: &str = "MSH|^~\\&|EPIC|NORTHCLINIC|CONNECTOR|CRM|20240310013000||ADT^A04^ADT_A01|MSG20240310-1|P|2.5\r\
EVN|A04|20240310013000\r\
PID|1||MRN77881^^^NORTH^MR~123-45-6789^^^SSA^SS||Doe^  Jane  ^Q||19800102|F^Female^HL70001|||12 Elm St \\T\\ Apt 4^^Springfield^IL^62701||(555) 201-3344^PRN^PH~^NET^Internet^ Jane.Doe@Example.ORG |\"\"\r\
PV1|1|O|CLINIC^101^1\r";

fn msg(text: &str) -> Message<'_> {
    Message::parse(text).unwrap()
}

fn field<'p>(fields: &'p [CrmField], name: &str) -> Option<&'p str> {
    fields
        .iter()
        .find(|f| f.name == name)
        .map(|f| f.value.as_str())
}

fn p(s: &str) -> Path {
    s.parse().unwrap()
}

/// Asserts the value at each path of `expected` (path, value) in `m`.
#[track_caller]
fn assert_values(m: &Message<'_>, expected: &[(&str, &str)]) {
    for (path, value) in expected {
        assert_eq!(m.get(&p(path)).as_deref(), Some(*value), "{path}");
    }
}

#[test]
fn adt_a04_becomes_a_lead_plan() {
    let f = flow(lead_flow_json());
    let plan = map_ehr_to_crm(&f, &msg(ADT)).unwrap();
    let got: Vec<(&str, &str)> = plan
        .lead_fields
        .iter()
        .map(|f| (f.name.as_str(), f.value.as_str()))
        .collect();
    assert_eq!(
        got,
        [
            ("mx_MRN", "MRN77881"),
            ("FirstName", "Jane"),
            ("LastName", "Doe"),
            ("mx_Date_of_Birth", "1980-01-02"),
            ("mx_Gender", "Female"),
            ("mx_Street1", "12 Elm St & Apt 4"),
            ("mx_City", "Springfield"),
            ("Mobile", "+15552013344"),
            ("EmailAddress", "jane.doe@example.org"),
            ("mx_Work_Phone", ""),
            ("mx_Registered_On", "2024-03-10 06:30:00"),
        ]
    );
    assert_eq!(plan.primary_key, Some(CrmField::new("mx_MRN", "MRN77881")));
    assert_eq!(
        plan.secondary_key,
        Some(CrmField::new("EmailAddress", "jane.doe@example.org"))
    );
    assert_eq!(plan.search_keys().count(), 2);
    assert_eq!(plan.lead_sync, SyncBehaviour::Capture);
    assert!(plan.activity.is_none());
    assert!(plan.warnings.is_empty());
    let create = plan.lead_fields_for_create();
    assert_eq!(field(&create, "Source"), Some("EHR Connector"));
    assert_eq!(field(&plan.lead_fields, "Source"), None);
    let debug = format!("{plan:?}");
    for value in ["MRN77881", "Jane", "Elm", "2013344", "example.org"] {
        assert!(!debug.contains(value), "{value} in {debug}");
    }
}

#[test]
fn search_keys_not_mapped_are_added_to_the_lead() {
    let mut v = lead_flow_json();
    let mappings = v["mappings"].as_array_mut().unwrap();
    mappings.remove(0); // PID-3.1 -> mx_MRN
    let f = flow(v);
    let plan = map_ehr_to_crm(&f, &msg(ADT)).unwrap();
    assert_eq!(plan.primary_key, Some(CrmField::new("mx_MRN", "MRN77881")));
    assert_eq!(field(&plan.lead_fields, "mx_MRN"), Some("MRN77881"));
    assert_eq!(
        plan.lead_fields.last().map(|f| f.name.as_str()),
        Some("mx_MRN")
    );
}

#[test]
fn failed_transforms_on_optional_mappings_are_warnings() {
    let f = flow(lead_flow_json());
    let text = ADT
        .replace("(555) 201-3344", "n/a")
        .replace("19800102", "1980-01-02");
    let plan = map_ehr_to_crm(&f, &msg(&text)).unwrap();
    assert_eq!(field(&plan.lead_fields, "Mobile"), None);
    assert_eq!(field(&plan.lead_fields, "mx_Date_of_Birth"), None);
    assert_eq!(
        plan.warnings,
        [
            MappingError::Transform {
                path: p("PID-7"),
                crm_field: CrmFieldName::parse_for("f", "mx_Date_of_Birth").unwrap(),
                transform: "date",
                reason: TransformError::NotHl7DateTime,
            },
            MappingError::Transform {
                path: p("PID-13.1"),
                crm_field: CrmFieldName::parse_for("f", "Mobile").unwrap(),
                transform: "phone_e164",
                reason: TransformError::Phone(crate::flow::phone::PhoneError::NotAPhoneNumber),
            },
        ]
    );
    let shown = plan
        .warnings
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(" ");
    assert!(
        shown.contains("PID-13.1") && shown.contains("phone_e164"),
        "{shown}"
    );
    assert!(!shown.contains("n/a") && !shown.contains("1980"), "{shown}");
}

#[test]
fn required_mappings_and_failed_required_transforms_fail_the_message() {
    let mut v = lead_flow_json();
    set(&mut v, "/mappings/7/required", json!(true));
    let f = flow(v);
    let text = ADT
        .replace("MRN77881", "")
        .replace("Doe^", "\"\"^")
        .replace("(555) 201-3344", "CALL-ME");
    let errors = map_ehr_to_crm(&f, &msg(&text)).unwrap_err();
    assert_eq!(
        errors.0,
        [
            MappingError::Required {
                path: p("PID-3.1"),
                crm_field: CrmFieldName::parse_for("f", "mx_MRN").unwrap(),
            },
            MappingError::Required {
                path: p("PID-5.1"),
                crm_field: CrmFieldName::parse_for("f", "LastName").unwrap(),
            },
            MappingError::Transform {
                path: p("PID-13.1"),
                crm_field: CrmFieldName::parse_for("f", "Mobile").unwrap(),
                transform: "phone_e164",
                reason: TransformError::Phone(crate::flow::phone::PhoneError::NotAPhoneNumber),
            },
        ]
    );
    let shown = format!(
        "{errors} {:?} {}",
        errors,
        errors.0.iter().map(ToString::to_string).collect::<String>()
    );
    assert!(
        !shown.contains("CALL") && !shown.contains("Jane"),
        "{shown}"
    );
}

#[test]
fn a_message_without_any_search_key_value_fails() {
    let mut v = lead_flow_json();
    set(&mut v, "/mappings/0/required", json!(false));
    let f = flow(v);
    let text = ADT
        .replace("MRN77881", "")
        .replace(" Jane.Doe@Example.ORG ", "");
    let errors = map_ehr_to_crm(&f, &msg(&text)).unwrap_err();
    assert_eq!(errors.0, [MappingError::NoSearchKey]);
    // One key is enough.
    let text = ADT.replace("MRN77881", "");
    let plan = map_ehr_to_crm(&f, &msg(&text)).unwrap();
    assert_eq!(plan.primary_key, None);
    assert!(plan.secondary_key.is_some());
}

#[test]
fn wrong_event_or_direction_is_refused() {
    let f = flow(lead_flow_json());
    let a08 = ADT.replace("ADT^A04^ADT_A01", "ADT^A08^ADT_A01");
    assert_eq!(
        map_ehr_to_crm(&f, &msg(&a08)).unwrap_err().0,
        [MappingError::EventMismatch]
    );
    assert!(f.handles(&msg(ADT)) && !f.handles(&msg(&a08)));
    let out = flow(outbound_flow_json());
    assert_eq!(
        map_ehr_to_crm(&out, &msg(ADT)).unwrap_err().0,
        [MappingError::WrongDirection {
            expected: Direction::EhrToCrm
        }]
    );
    assert!(map_crm_to_ehr(&f, &BTreeMap::new(), now(), "1").is_err());
}

#[test]
fn siu_s12_becomes_an_activity_plan() {
    let f = flow(activity_flow_json());
    let text = siu_s12().replace("1234^Smith^John^^^Dr", "");
    let plan = map_ehr_to_crm(&f, &msg(&text)).unwrap();
    assert_eq!(plan.primary_key, Some(CrmField::new("mx_MRN", "MRN12345")));
    assert_eq!(field(&plan.lead_fields, "LastName"), Some("Doe"));
    let a = plan.activity.as_ref().unwrap();
    assert_eq!(a.sync, SyncBehaviour::Capture);
    assert_eq!(a.event, 201);
    assert_eq!(a.note, "Annual physical");
    // 03:30 EDT, the first morning of daylight-saving time.
    assert_eq!(a.at.to_rfc3339(), "2024-03-10T07:30:00+00:00");
    assert_eq!(a.match_key, Some(CrmField::new("mx_Custom_1", "APT-1001")));
    let got: Vec<(&str, &str)> = a
        .fields
        .iter()
        .map(|f| (f.name.as_str(), f.value.as_str()))
        .collect();
    assert_eq!(
        got,
        [
            ("mx_Custom_1", "APT-1001"),
            ("mx_Custom_2", "2024-03-10 03:30"),
            ("mx_Custom_3", "Scheduled"),
            ("mx_Custom_4", "Unassigned"),
            ("mx_Custom_5", "NORTH"),
        ]
    );
    let input = a.to_input();
    assert_eq!((input.event, input.at, input.fields.len()), (201, a.at, 5));
    let debug = format!("{plan:?}");
    assert!(
        !debug.contains("Annual") && !debug.contains("APT-1001"),
        "{debug}"
    );
}

#[test]
fn activity_time_and_note_fall_back_to_the_message() {
    let mut v = activity_flow_json();
    let mappings = v["mappings"].as_array_mut().unwrap();
    mappings.retain(|m| m["crm_field"] != "ActivityDateTime" && m["crm_field"] != "ActivityNote");
    let f = flow(v);
    let plan = map_ehr_to_crm(&f, &msg(&siu_s12())).unwrap();
    let a = plan.activity.unwrap();
    // MSH-7 20240309120500 in New York (EST).
    assert_eq!(a.at.to_rfc3339(), "2024-03-09T17:05:00+00:00");
    assert_eq!(a.note, "SIU^S12 message MSG00002");

    // MSH-7 in the spring-forward gap: no usable time.
    let gap = siu_s12().replace("20240309120500", "20240310023000");
    assert_eq!(
        map_ehr_to_crm(&f, &msg(&gap)).unwrap_err().0,
        [MappingError::NoActivityTime]
    );
}

#[test]
fn an_unreadable_activity_time_is_a_warning_then_the_message_time() {
    let f = flow(activity_flow_json());
    let text = siu_s12().replace("^^30^20240310033000^", "^^30^soon^");
    let plan = map_ehr_to_crm(&f, &msg(&text)).unwrap();
    assert_eq!(
        plan.activity.as_ref().map(|a| a.at.to_rfc3339()),
        Some("2024-03-09T17:05:00+00:00".to_owned())
    );
    assert!(plan.warnings.contains(&MappingError::NotADateTime {
        path: p("SCH-11.4")
    }));
}

#[test]
fn an_activity_without_its_match_key_fails() {
    let mut v = activity_flow_json();
    set(&mut v, "/mappings/3/required", json!(false));
    let f = flow(v);
    let text = siu_s12().replace("APT-1001^EPIC", "");
    assert_eq!(
        map_ehr_to_crm(&f, &msg(&text)).unwrap_err().0,
        [MappingError::NoActivityMatch { path: p("SCH-1.1") }]
    );
}

fn crm_fields() -> BTreeMap<String, String> {
    [
        ("FirstName", "Jane"),
        ("LastName", "O'Brien^Smith"),
        ("mx_MRN", " MRN12345 "),
        ("mx_Date_of_Birth", "1980-01-02"),
        ("mx_Gender", "Female"),
        ("Mobile", "(555) 201-3344"),
        ("mx_Street1", "12 Elm St & Apt 4|B"),
        ("mx_Last_Visit", "2024-03-10 07:30:00"),
        ("ProspectID", "8f6b-lead"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect()
}

#[test]
fn crm_fields_become_an_hl7_message_that_parses_back() {
    let f = flow(outbound_flow_json());
    let built = map_crm_to_ehr(&f, &crm_fields(), now(), "CC-000042").unwrap();
    let text = built.to_er7();
    let m = Message::parse(&text).unwrap();
    assert_values(
        &m,
        &[
            ("MSH-9", "ADT^A04^ADT_A01"),
            ("MSH-10", "CC-000042"),
            // 2026-11-20T15:00Z in New York.
            ("MSH-7", "20261120100000-0500"),
            ("EVN-2", "20261120100000-0500"),
            ("PID-5.1", "O'Brien^Smith"),
            ("PID-5.2", "Jane"),
            ("PID-3.1", "MRN12345"),
            // Template constants stay.
            ("PID-3.4", "NORTH"),
            ("PID-7", "19800102"),
            ("PID-8", "F"),
            ("PID-11.1", "12 Elm St & Apt 4|B"),
            // A mapped field the CRM lacks is cleared.
            ("PID-11.3", ""),
            ("PID-13.1", "+15552013344"),
            ("PV1-44", "20240310033000-0400"),
        ],
    );
    assert!(!text.contains("Sample^Patient") && !text.contains("Sampletown"));
    assert!(text.contains("O'Brien\\S\\Smith"));
    assert!(!format!("{built:?}").contains("Jane"));
}

#[test]
fn crm_to_ehr_reports_missing_required_values_and_failed_transforms() {
    let f = flow(outbound_flow_json());
    let mut fields = crm_fields();
    fields.remove("LastName");
    fields.insert("mx_MRN".into(), "  ".into());
    fields.insert("mx_Last_Visit".into(), "next Tuesday".into());
    let errors = map_crm_to_ehr(&f, &fields, now(), "1").unwrap_err();
    assert_eq!(
        errors.0,
        [
            MappingError::Required {
                path: p("PID-5.1"),
                crm_field: CrmFieldName::parse_for("f", "LastName").unwrap(),
            },
            MappingError::Transform {
                path: p("PV1-44"),
                crm_field: CrmFieldName::parse_for("f", "mx_Last_Visit").unwrap(),
                transform: "date_time",
                reason: TransformError::NotInFormat,
            },
            MappingError::Required {
                path: p("PID-3.1"),
                crm_field: CrmFieldName::parse_for("f", "mx_MRN").unwrap(),
            },
        ]
    );
    assert!(!errors.0.iter().any(|e| e.to_string().contains("Tuesday")));
}

#[test]
fn crm_to_ehr_activities_carry_their_match_key() {
    let template = siu_s12().replace(
        "EPIC|NORTHCLINIC|CONNECTOR|CRM",
        "CONNECTOR|CRM|EPIC|NORTHCLINIC",
    );
    let v = json!({
        "name": "Appointments to the EHR",
        "channel_id": "north-ehr",
        "direction": "crm_to_ehr",
        "entity": "activity",
        "event_type": "SIU^S12",
        "webhook_event": "activity_create",
        "activity_type": 201,
        "activity_match": {"crm_field": "mx_Custom_1", "hl7_path": "SCH-1.1"},
        "time_zone": "America/Chicago",
        "primary_search": {"crm_field": "mx_MRN", "hl7_path": "PID-3.1"},
        "mrn_crm_field": "mx_MRN",
        "template": template,
        "mappings": [
            {"hl7_path": "SCH-11.4", "crm_field": "ActivityDateTime", "target": "activity",
             "transforms": [{"type": "date_time", "to_format": "%Y-%m-%d %H:%M:%S", "to_time_zone": "UTC"}]},
            {"hl7_path": "SCH-7.2", "crm_field": "ActivityNote", "target": "activity"}
        ]
    });
    let f = flow(v);
    let fields: BTreeMap<String, String> = [
        ("mx_MRN", "MRN12345"),
        ("mx_Custom_1", "APT-2002"),
        ("ActivityDateTime", "2024-11-03 07:30:00"),
        ("ActivityNote", "Follow-up"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect();
    let built = map_crm_to_ehr(&f, &fields, now(), "CC-7").unwrap();
    let m = built.to_message().unwrap();
    assert_values(
        &m,
        &[
            ("SCH-1.1", "APT-2002"),
            ("SCH-1.2", "EPIC"),
            // 07:30 UTC on the day Chicago falls back: 01:30 CST.
            ("SCH-11.4", "20241103013000-0600"),
            ("SCH-7.2", "Follow-up"),
            ("MSH-7", "20261120090000-0600"),
        ],
    );
    assert!(m.segment("EVN").is_none());
}

#[test]
fn the_outbound_template_is_only_a_starting_point() {
    // The template is not modified by building from it.
    let f = flow(outbound_flow_json());
    let _ = map_crm_to_ehr(&f, &crm_fields(), now(), "1").unwrap();
    assert_eq!(f.template.as_str(), OUTBOUND_ADT_A04);
    assert_eq!(
        format!("{:?}", f.template),
        format!("Template(<{} bytes>)", OUTBOUND_ADT_A04.len())
    );
    assert!(!format!("{f:?} {:?}", crate::flow::FlowInput::from(&f)).contains("Sample^Patient"));
}
