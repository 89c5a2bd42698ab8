//! Fuzzes the parser and everything that reads a parsed message: paths, leaves, the builder
//! round trip, ACK building and reading, batch files, dates.
#![no_main]

use connector_hl7::batch::Batch;
use connector_hl7::{AckBuilder, AckCode, AckInfo, Hl7DateTime, Message, OwnedMessage, Path};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    match Message::parse_bytes(data) {
        Ok(m) => {
            let leaves = m.leaves();
            for leaf in &leaves {
                assert_eq!(m.value(&leaf.path), leaf.value);
            }
            let owned = OwnedMessage::from_message(&m);
            let text = owned.to_er7();
            let again = Message::parse(&text).expect("a built message parses");
            assert_eq!(again.leaves(), leaves);
            let _ = AckInfo::read(&m);
            let ack = AckBuilder::new(AckCode::ApplicationError, "F1").build(&m);
            Message::parse(&ack.to_er7()).expect("an ACK parses");
        }
        Err(e) => {
            let ack = AckBuilder::new(AckCode::ApplicationAccept, "F2").build_unparsable(data, &e);
            Message::parse(&ack.to_er7()).expect("an ACK parses");
        }
    }
    if let Ok(s) = std::str::from_utf8(data) {
        if let Ok(b) = Batch::parse(s) {
            let _ = b.check_counts();
            for m in b.messages() {
                let _ = Message::parse(m);
            }
        }
        if let Ok(p) = s.parse::<Path>() {
            assert_eq!(p.to_string().parse::<Path>(), Ok(p));
        }
        if let Ok(d) = Hl7DateTime::parse(s) {
            let _ = d.to_fixed();
            let _ = d.to_string();
        }
    }
});
