//! Property tests: no input makes anything panic; escapes, paths and set/get round-trip.

use connector_hl7::batch::Batch;
use connector_hl7::escape::{decode, encode};
use connector_hl7::mllp::{self, MllpDecoder};
use connector_hl7::{
    AckBuilder, AckCode, AckInfo, Hl7DateTime, Message, OwnedMessage, Path, Separators,
};
use proptest::prelude::*;

/// Strings that look like HL7 often enough to reach deep into the parser.
fn hl7ish() -> impl Strategy<Value = String> {
    let alphabet = prop::sample::select(vec![
        "|", "^", "~", "\\", "&", "#", "\r", "\n", "\r\n", "MSH", "PID", "OBX", "MSA", "ERR",
        "FHS", "BHS", "BTS", "FTS", "\\F\\", "\\S\\", "\\X41\\", "\\.br\\", "\"\"", "A", "1", " ",
        "é", "\u{feff}", "\0", "x",
    ]);
    (
        prop::sample::select(vec![
            "MSH|^~\\&|",
            "MSH|^~\\&#|",
            "MSH#$*@!#",
            "",
            "FHS|^~\\&|",
        ]),
        prop::collection::vec(alphabet, 0..200),
    )
        .prop_map(|(head, parts)| format!("{head}{}", parts.concat()))
}

fn exercise(m: &Message<'_>) {
    for leaf in m.leaves() {
        assert_eq!(m.value(&leaf.path), leaf.value);
    }
    for path in ["MSH-9.2", "PID-5.1", "OBX[2]-5[2].1.1", "MSH-2", "MSA-2"] {
        let _ = m.get(&path.parse().unwrap());
    }
    let owned = OwnedMessage::from_message(m);
    let text = owned.to_er7();
    let again = Message::parse(&text).expect("a built message parses");
    assert_eq!(again.leaves(), m.leaves());
    let _ = AckInfo::read(m);
    let ack = AckBuilder::new(AckCode::ApplicationAccept, "X").build(m);
    Message::parse(&ack.to_er7()).expect("an ACK parses");
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn parser_never_panics_on_bytes(bytes in prop::collection::vec(any::<u8>(), 0..400)) {
        if let Ok(m) = Message::parse_bytes(&bytes) {
            exercise(&m);
        } else if let Err(e) = Message::parse_bytes(&bytes) {
            let ack = AckBuilder::new(AckCode::ApplicationAccept, "X").build_unparsable(&bytes, &e);
            prop_assert!(Message::parse(&ack.to_er7()).is_ok());
        }
    }

    #[test]
    fn parser_never_panics_on_hl7ish_text(s in hl7ish()) {
        match Message::parse(&s) {
            Ok(m) => exercise(&m),
            Err(e) => {
                let ack = AckBuilder::new(AckCode::CommitAccept, "X").build_unparsable(s.as_bytes(), &e);
                prop_assert!(Message::parse(&ack.to_er7()).is_ok());
            }
        }
        if let Ok(b) = Batch::parse(&s) {
            let _ = b.check_counts();
            for m in b.messages() {
                if let Ok(m) = Message::parse(m) { exercise(&m); }
            }
        }
    }

    #[test]
    fn other_readers_never_panic(s in ".{0,40}", bytes in prop::collection::vec(any::<u8>(), 0..300), cut in 0usize..300) {
        let _ = s.parse::<Path>();
        let _ = Hl7DateTime::parse(&s);
        let _ = Separators::from_header(s.as_bytes());
        let mut d = MllpDecoder::new(64);
        let (a, b) = bytes.split_at(cut.min(bytes.len()));
        d.push(a);
        while d.next_frame().is_some() {}
        d.push(b);
        while d.next_frame().is_some() {}
    }

    #[test]
    fn escape_round_trips(s in any::<String>(), custom in any::<bool>()) {
        let seps = if custom {
            Separators::new('#', '$', '*', '@', '!', Some('%')).unwrap()
        } else {
            Separators::STANDARD
        };
        let e = encode(&s, &seps);
        prop_assert!(!e.contains(['\r', '\n', seps.field(), seps.component(), seps.repetition(), seps.subcomponent()]));
        let back = decode(&e, &seps).into_owned();
        prop_assert_eq!(back, s.clone());
    }

    #[test]
    fn path_display_round_trips(
        seg in "[A-Z][A-Z0-9]{2}",
        occ in 1usize..200, field in 1usize..200, rep in 1usize..20,
        comp in prop::option::of(1usize..30), sub in prop::option::of(1usize..10),
    ) {
        let mut p = Path::new(&seg, field).unwrap().with_occurrence(occ).unwrap().with_repetition(rep).unwrap();
        if let Some(c) = comp {
            p = p.with_component(c).unwrap();
            if let Some(s) = sub { p = p.with_subcomponent(s).unwrap(); }
        }
        let text = p.to_string();
        prop_assert_eq!(text.parse::<Path>().unwrap(), p);
        prop_assert_eq!(text.parse::<Path>().unwrap().to_string(), text);
    }

    #[test]
    fn mllp_frames_survive_any_split(
        frames in prop::collection::vec(prop::collection::vec(any::<u8>().prop_filter("no framing bytes", |b| *b != 0x0B && *b != 0x1C), 0..60), 1..5),
        chunk in 1usize..17,
    ) {
        let wire: Vec<u8> = frames.iter().flat_map(|f| mllp::encode(f)).collect();
        let mut d = MllpDecoder::new(1000);
        let mut got = Vec::new();
        for c in wire.chunks(chunk) {
            d.push(c);
            while let Some(f) = d.next_frame() { got.push(f.unwrap()); }
        }
        prop_assert_eq!(got, frames);
        prop_assert_eq!(d.skipped_bytes(), 0);
    }

    #[test]
    fn set_then_get_returns_the_value(
        seg in prop::sample::select(vec!["PID", "PV1", "OBX", "ZZ1", "MSH", "NTE"]),
        occ in 1usize..4, field in 1usize..25, rep in 1usize..4,
        comp in prop::option::of(1usize..6), sub in prop::option::of(1usize..4),
        value in any::<String>().prop_filter("non-empty", |v| !v.is_empty()),
    ) {
        let template = "MSH|^~\\&|EHR|CLINIC|CRM|HQ|20240101||ADT^A08|T1|P|2.5\rPID|1||1^^^MRN~2^^^SS||Doe^Jane&X^Q\rOBX|1|ST|a^b||c\rOBX|2\r";
        let mut m = OwnedMessage::parse(template).unwrap();
        let occ = if seg == "MSH" { 1 } else { occ };
        let field = if seg == "MSH" { field.max(3) } else { field };
        let mut p = Path::new(seg, field).unwrap().with_occurrence(occ).unwrap().with_repetition(rep).unwrap();
        if let Some(c) = comp {
            p = p.with_component(c).unwrap();
            if let Some(s) = sub { p = p.with_subcomponent(s).unwrap(); }
        }
        m.set(&p, &value).unwrap();
        let got = m.get(&p).map(|v| v.into_owned());
        prop_assert_eq!(got.as_deref(), Some(value.as_str()));
        let parsed = m.to_message().unwrap();
        let got = parsed.get(&p).map(|v| v.into_owned());
        prop_assert_eq!(got.as_deref(), Some(value.as_str()));
    }
}
