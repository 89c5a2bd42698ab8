//! Real-shaped sample messages of HL7 v2.3 to v2.8 (written from the standard's examples; all
//! patient data invented), read, checked field by field, and round-tripped through the builder.

use std::fs;
use std::path::PathBuf;

use connector_hl7::batch::Batch;
use connector_hl7::{
    AckCode, AckInfo, ErrorLocation, Hl7DateTime, Message, OwnedMessage, Path, Value,
};

fn fixture(name: &str) -> Vec<u8> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name);
    fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn all_fixtures() -> Vec<(String, Vec<u8>)> {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
    let mut out = Vec::new();
    for dir in fs::read_dir(&root).unwrap() {
        let dir = dir.unwrap().path();
        if !dir.is_dir() {
            continue; // .gitattributes
        }
        for f in fs::read_dir(&dir).unwrap() {
            let f = f.unwrap().path();
            let name = f.strip_prefix(&root).unwrap().display().to_string();
            out.push((name, fs::read(&f).unwrap()));
        }
    }
    out.sort();
    out
}

fn p(s: &str) -> Path {
    s.parse().unwrap()
}

fn get(m: &Message<'_>, path: &str) -> Option<String> {
    m.get(&p(path)).map(|v| v.into_owned())
}

/// An ERR location as (segment, its occurrence, field).
fn where_of(loc: &ErrorLocation) -> (&str, usize, Option<usize>) {
    (loc.segment.as_str(), loc.sequence, loc.field)
}

/// The control ID (MSH-10) of the message `text`.
fn control_id_of(text: &str) -> String {
    let message = Message::parse(text).unwrap();
    message.control_id().unwrap().into_owned()
}

/// Asserts the value at each path of `expected` (path, value).
#[track_caller]
fn assert_values(m: &Message<'_>, expected: &[(&str, &str)]) {
    for (path, value) in expected {
        assert_eq!(get(m, path).as_deref(), Some(*value), "{path}");
    }
}

#[test]
fn every_fixture_parses_and_declares_its_directory_version() {
    let all = all_fixtures();
    assert!(all.len() >= 16);
    for (name, bytes) in &all {
        if name.contains("batch") {
            continue;
        }
        let m = Message::parse_bytes(bytes).unwrap_or_else(|e| panic!("{name}: {e}"));
        let dir = name.split('/').next().unwrap();
        let want = dir.trim_start_matches("v").replace('_', ".");
        assert_eq!(m.version().as_deref(), Some(want.as_str()), "{name}");
        assert!(m.control_id().is_some_and(|c| !c.is_empty()), "{name}");
    }
}

#[test]
fn v23_adt_a01() {
    let b = fixture("v2_3/adt_a01.hl7");
    let m = Message::parse_bytes(&b).unwrap();
    assert_values(
        &m,
        &[
            ("MSH-9.1", "ADT"),
            ("MSH-9.2", "A01"),
            ("MSH-8", "SECURITY"),
            ("PID-3.1", "PATID1234"),
            ("PID-3[2].1", "123456789"),
            ("PID-3[2].5", "SS"),
            ("PID-5.1", "EVERYWOMAN"),
            ("PID-5.7", "L"),
            ("PID-11.3", "GREENSBORO"),
            ("PID-13", "(555) 555-2004"),
            ("PV1-3.1", "2000"),
            ("PV1-7.2", "ATTEND"),
        ],
    );
    assert_eq!(m.value(&p("PV1-16")), Value::Empty);
    assert_eq!(m.value(&p("PV1-17")), Value::Absent);
    assert_eq!(get(&m, "NK1-3.2").as_deref(), Some("SPOUSE"));
}

#[test]
fn v23_oru_with_crlf_escapes_and_several_obx() {
    let b = fixture("v2_3/oru_r01.hl7");
    assert!(b.windows(2).any(|w| w == b"\r\n"));
    let m = Message::parse_bytes(&b).unwrap();
    assert_eq!(m.segment_count(), 7);
    let obx3: Vec<String> = m
        .segments_named("OBX")
        .map(|s| s.value_at(3, 1, Some(1), None).as_str().unwrap().to_owned())
        .collect();
    assert_eq!(obx3, ["1554-5", "2345-7", "8247-9"]);
    assert_values(
        &m,
        &[
            ("OBX-5.2", "182"),
            ("OBX[2]-5", "95"),
            ("OBX[3]-5", "Fasting & post-prandial ^ see note"),
            ("NTE-3", "Specimen slightly hemolyzed\nRepeat advised"),
            ("OBR-31.2", "HIPPOCRATES"),
        ],
    );
}

#[test]
fn v231_custom_delimiters_and_z_segment() {
    let b = fixture("v2_3_1/adt_a04.hl7");
    let m = Message::parse_bytes(&b).unwrap();
    let s = m.separators();
    assert_eq!(
        (
            s.field(),
            s.component(),
            s.repetition(),
            s.escape(),
            s.subcomponent()
        ),
        ('#', '$', '*', '@', '!')
    );
    assert_values(
        &m,
        &[
            ("MSH-1", "#"),
            ("MSH-2", "$*@!"),
            ("MSH-9.3", "ADT_A01"),
            ("PID-3[2].1", "000-12-3456"),
            ("PID-5.2", "JAMIE"),
            ("ZPI-2", "Note with # hash and $ dollar"),
        ],
    );
    // Building keeps the custom set and escapes with it.
    let mut o = OwnedMessage::from_message(&m);
    o.set(&p("ZPI-3"), "a#b$c").unwrap();
    let er7 = o.to_er7();
    assert!(er7.contains("ZPI#1#Note with @F@ hash and @S@ dollar#a@F@b@S@c\r"));
}

#[test]
fn v24_latin1_with_blank_lines() {
    let b = fixture("v2_4/adt_a08.hl7");
    assert!(
        std::str::from_utf8(&b).is_err(),
        "the fixture is ISO 8859-1 bytes"
    );
    let m = Message::parse_bytes(&b).unwrap();
    assert_eq!(m.segment_count(), 4);
    assert_values(
        &m,
        &[
            ("PID-5.1", "Müller"),
            ("PID-5.2", "Zoë"),
            ("PID-11.1", "Hauptstraße 1"),
            ("MSH-18", "8859/1"),
        ],
    );
    // Written back in ISO 8859-1.
    let o = OwnedMessage::from_message(&m);
    let again = o.to_bytes();
    assert!(again.contains(&0xFC));
    let m2 = Message::parse_bytes(&again).unwrap();
    assert_eq!(m2.leaves(), m.leaves());
}

#[test]
fn v24_siu_s12_and_dft_p03() {
    let m_bytes = fixture("v2_4/siu_s12.hl7");
    let m = Message::parse_bytes(&m_bytes).unwrap();
    assert_eq!(get(&m, "MSH-9").as_deref(), Some("SIU^S12"));
    assert_eq!(get(&m, "SCH-11.4").as_deref(), Some("20240315090000"));
    let start = Hl7DateTime::parse(&get(&m, "SCH-11.4").unwrap()).unwrap();
    assert_eq!(start.naive().to_string(), "2024-03-15 09:00:00");
    assert_values(
        &m,
        &[
            ("AIP-3.2", "Doctorly"),
            ("AIL-3.2", "ROOM 3"),
            ("SCH-25", "Booked"),
        ],
    );

    let d = fixture("v2_4/dft_p03.hl7");
    let m = Message::parse_bytes(&d).unwrap();
    assert_values(
        &m,
        &[
            ("MSH-9.2", "P03"),
            ("FT1[2]-7.1", "36415"),
            ("FT1-11", "85.00"),
            ("FT1-22.3", "Dana"),
        ],
    );
    assert_eq!(m.segments_named("FT1").count(), 2);
}

#[test]
fn v25_adt_a28_null_and_repetitions() {
    let b = fixture("v2_5/adt_a28.hl7");
    let m = Message::parse_bytes(&b).unwrap();
    assert_values(
        &m,
        &[
            ("MSH-9.3", "ADT_A05"),
            ("PID-5[2].7", "A"),
            ("PID-5.4", "Jr"),
            ("PID-13[2].4", "bruno.sample@example.org"),
        ],
    );
    assert!(m.is_null(&p("PID-28")));
    assert_eq!(m.value(&p("PID-27")), Value::Empty);
    assert_eq!(get(&m, "AL1-3.2").as_deref(), Some("Penicillin"));
    let ts = Hl7DateTime::parse(&get(&m, "MSH-7").unwrap()).unwrap();
    assert_eq!(
        ts.to_fixed().unwrap().to_rfc3339(),
        "2024-01-01T08:30:00-05:00"
    );
}

#[test]
fn v25_siu_s14_and_v26_siu_s15() {
    let m_bytes = fixture("v2_5/siu_s14.hl7");
    let m = Message::parse_bytes(&m_bytes).unwrap();
    assert_eq!(m.trigger_event().as_deref(), Some("S14"));
    assert_eq!(get(&m, "SCH-7").as_deref(), Some("rescheduled by patient"));
    assert_eq!(get(&m, "RGS-2").as_deref(), Some("U"));
    let c = fixture("v2_6/siu_s15.hl7");
    let m = Message::parse_bytes(&c).unwrap();
    assert_eq!(m.trigger_event().as_deref(), Some("S15"));
    assert_eq!(get(&m, "SCH-25").as_deref(), Some("Cancelled"));
}

#[test]
fn acks_of_three_versions_are_read() {
    let b = fixture("v2_5/ack_ae.hl7");
    let m = Message::parse_bytes(&b).unwrap();
    let a = AckInfo::read(&m).unwrap();
    assert_eq!(a.code, AckCode::ApplicationError);
    assert!(a.acknowledges("SIU-1002"));
    assert_eq!(a.errors.len(), 2);
    assert_eq!(a.errors[0].code, Some(101));
    assert_eq!(a.errors[1].location.unwrap().field, Some(11));

    let b = fixture("v2_6/ack_aa.hl7");
    let m = Message::parse_bytes(&b).unwrap();
    let a = AckInfo::read(&m).unwrap();
    assert!(a.code.is_accept() && a.acknowledges("SIU-1003") && a.errors.is_empty());

    let b = fixture("v2_3/ack_legacy.hl7");
    let m = Message::parse_bytes(&b).unwrap();
    let a = AckInfo::read(&m).unwrap();
    assert_eq!(a.errors.len(), 2);
    assert_eq!(a.errors[1].code, Some(102));
    let loc = a.errors[1].location.unwrap();
    assert_eq!(where_of(&loc), ("OBX", 2, Some(5)));
}

#[test]
fn v25_batch_file() {
    let b = fixture("v2_5/batch_adt.hl7");
    let text = std::str::from_utf8(&b).unwrap();
    let batch = Batch::parse(text).unwrap();
    batch.check_counts().unwrap();
    let ids: Vec<String> = batch.messages().map(control_id_of).collect();
    assert_eq!(ids, ["B-1", "B-2"]);
    assert!(Message::parse(text).is_err(), "a batch is not a message");
}

#[test]
fn v251_oru_many_obx_escapes_and_z_segment() {
    let b = fixture("v2_5_1/oru_r01.hl7");
    let m = Message::parse_bytes(&b).unwrap();
    assert_eq!(m.segments_named("OBX").count(), 6);
    assert_values(
        &m,
        &[
            ("OBX[4]-3.2", "LDL Cholesterol calc"),
            ("OBX[2]-8", "H"),
            ("OBX[5]-5", "Fasting 12h\nRatio chol|HDL high"),
            ("OBX[6]-5[2].2", "High"),
            ("OBX-7", "<200"),
            ("NTE-3", "Reviewed by Dr. Doctorly & team"),
            ("ZDS-1.4", "DICOM"),
            ("MSH-15", "AL"),
        ],
    );
}

#[test]
fn v27_truncation_character_and_spaces() {
    let b = fixture("v2_7/adt_a01.hl7");
    let m = Message::parse_bytes(&b).unwrap();
    assert_eq!(m.separators().truncation(), Some('#'));
    assert_values(
        &m,
        &[
            ("MSH-2", "^~\\&#"),
            ("MSH-3", "ADT"),
            ("PID-5.1", "Longname#"),
            ("OBX-5", "  172  "),
            ("PV1-44", "20240401115500"),
        ],
    );
    let mut o = OwnedMessage::from_message(&m);
    o.set(&p("PID-5.2"), "A#B").unwrap();
    assert!(o.to_er7().contains("|Longname\\P\\^A\\P\\B^"));
}

#[test]
fn v28_utf8() {
    let b = fixture("v2_8/oru_r01.hl7");
    let m = Message::parse_bytes(&b).unwrap();
    assert_eq!(m.charset(), Some(connector_hl7::Charset::Utf8));
    assert_values(
        &m,
        &[
            ("PID-5.2", "Jürgen"),
            ("PID-11.3", "Köln"),
            ("OBX[4]-5", "Grüße é café"),
        ],
    );
    let ts = Hl7DateTime::parse(&get(&m, "MSH-7").unwrap()).unwrap();
    assert_eq!(ts.precision(), connector_hl7::Precision::Fraction(3));
}

/// parse(build(parse(m))) == parse(m), for every fixture: the builder writes back an
/// untouched message byte for byte (segments ending in `\r`), so the leaves are identical.
#[test]
fn round_trip_through_the_builder() {
    for (name, bytes) in all_fixtures() {
        if name.contains("batch") {
            continue;
        }
        let m = Message::parse_bytes(&bytes).unwrap();
        let built = OwnedMessage::from_message(&m);
        let text = built.to_er7();
        let again = Message::parse(&text).unwrap();
        assert_eq!(again.leaves(), m.leaves(), "{name}");
        let segments: Vec<&str> = m.segments().map(|s| s.raw()).collect();
        assert_eq!(text, format!("{}\r", segments.join("\r")), "{name}");
        // and once more through the bytes in the declared charset
        let third = Message::parse_bytes(&built.to_bytes())
            .unwrap()
            .into_owned();
        assert_eq!(third.leaves(), m.leaves(), "{name}");
    }
}

/// Every leaf of every fixture can be set to a value holding every delimiter and read back,
/// and the rest of the message is unchanged.
#[test]
fn set_then_get_on_every_leaf_of_every_fixture() {
    for (name, bytes) in all_fixtures() {
        if name.contains("batch") {
            continue;
        }
        let m = Message::parse_bytes(&bytes).unwrap();
        let leaves = m.leaves();
        for leaf in leaves
            .iter()
            .filter(|l| !(l.path.segment().is_header() && l.path.field() <= 2))
        {
            let mut o = OwnedMessage::from_message(&m);
            let v = "x|y^z~w\\v&u\nline";
            o.set(&leaf.path, v).unwrap();
            let back = o.to_message().unwrap();
            assert_eq!(
                back.get(&leaf.path).as_deref(),
                Some(v),
                "{name} {}",
                leaf.path
            );
            let others: Vec<_> = back
                .leaves()
                .into_iter()
                .filter(|l| l.path != leaf.path)
                .collect();
            let before: Vec<_> = leaves
                .iter()
                .filter(|l| l.path != leaf.path)
                .cloned()
                .collect();
            assert_eq!(others, before, "{name} {}", leaf.path);
        }
    }
}
