//! The first byte picks a wire type; the rest builds an arbitrary value of it (feature
//! `arbitrary`), which must marshal, read back equal and re-marshal to the same bytes. The
//! cases are shared with `tests/arbitrary_roundtrip.rs`, which runs them on stable.
#![no_main]

use libfuzzer_sys::fuzz_target;

#[path = "../../tests/roundtrip/mod.rs"]
mod roundtrip;

fuzz_target!(|data: &[u8]| {
    roundtrip::round_trip(data);
});
