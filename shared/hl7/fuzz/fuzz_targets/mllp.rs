//! Fuzzes the streaming MLLP decoder: the first byte picks the read size, the rest is the
//! byte stream. Frames must come out whole and never larger than the limit.
#![no_main]

use connector_hl7::mllp::MllpDecoder;
use libfuzzer_sys::fuzz_target;

const LIMIT: usize = 256;

fuzz_target!(|data: &[u8]| {
    let Some((&chunk, stream)) = data.split_first() else {
        return;
    };
    let chunk = usize::from(chunk).max(1);
    let mut decoder = MllpDecoder::new(LIMIT);
    for piece in stream.chunks(chunk) {
        decoder.push(piece);
        while let Some(frame) = decoder.next_frame() {
            if let Ok(f) = frame {
                assert!(f.len() <= LIMIT);
                assert!(!f.contains(&0x0B));
            }
        }
        assert!(decoder.buffered() <= LIMIT + 1 + chunk);
    }
});
