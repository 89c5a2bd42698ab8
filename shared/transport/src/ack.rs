//! Negative ACKs a listener answers with when it cannot pass a message on.

use connector_hl7::chrono::Utc;
use connector_hl7::{AckBuilder, AckCode, AckError, ControlIdGenerator, ErrorCode, Message};

/// An `AR` for `input` with one ERR of `code`, as ER7 bytes (in the character set of the
/// input's MSH-18).
///
/// When `input` parses, the ACK answers it ([`AckBuilder::build`]: applications swapped,
/// MSA-2 its MSH-10). When it does not, the ACK is [`AckBuilder::build_unparsable`]'s best
/// effort from its first line, with the parse error's code instead of `code`. `AR` tells
/// the sender the message was refused for a reason unrelated to its content, so it may send
/// it again later.
pub fn reject(input: &[u8], code: ErrorCode, ids: &ControlIdGenerator) -> Vec<u8> {
    let now = Utc::now();
    let builder = AckBuilder::new(AckCode::ApplicationReject, &ids.next(now))
        .timestamp(now.fixed_offset())
        .error(AckError::new(code));
    match Message::parse_bytes(input) {
        Ok(message) => builder.build(&message).to_bytes(),
        Err(e) => builder.build_unparsable(input, &e).to_bytes(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use connector_hl7::ack::AckInfo;

    #[test]
    fn answers_the_message_when_it_parses() {
        let ids = ControlIdGenerator::new(1);
        let msg = b"MSH|^~\\&|EHR|CLINIC|CC|HQ|20240101||ADT^A04^ADT_A01|ORIG-1|P|2.5.1\rPID|1||9";
        let ack = reject(msg, ErrorCode::ApplicationInternalError, &ids);
        let parsed = Message::parse_bytes(&ack).unwrap();
        let info = AckInfo::read(&parsed).unwrap();
        assert_eq!(info.code, AckCode::ApplicationReject);
        assert!(info.acknowledges("ORIG-1"));
        assert_eq!(info.errors[0].code, Some(207));
        assert_eq!(
            parsed.msh().field(5).map(|f| f.raw().to_owned()).as_deref(),
            Some("EHR")
        );
    }

    #[test]
    fn best_effort_when_it_does_not() {
        let ids = ControlIdGenerator::new(1);
        let ack = reject(b"garbage \x00", ErrorCode::ApplicationInternalError, &ids);
        let parsed = Message::parse_bytes(&ack).unwrap();
        let info = AckInfo::read(&parsed).unwrap();
        assert_eq!(info.code, AckCode::ApplicationReject);
        assert_eq!(info.control_id, None);
    }
}
