//! The language server's frame parser on any byte stream, split into reads at any points:
//! never panics, never loops, and never holds more than a bounded header's worth of bytes
//! that is not a frame.
#![no_main]

use socratic::lsp::frames::{next_frame, Frame};

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let Some((&split, rest)) = data.split_first() else { return };
    let chunk = 1 + split as usize;
    let mut buf = Vec::new();
    for piece in rest.chunks(chunk) {
        buf.extend_from_slice(piece);
        let mut taken = 0;
        while let Some(frame) = next_frame(&mut buf) {
            taken += 1;
            assert!(taken <= rest.len() + 1, "next_frame keeps returning frames without consuming bytes");
            if let Frame::Fatal(_) = frame {
                return;
            }
        }
    }
});
