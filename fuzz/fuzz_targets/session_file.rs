//! Session files from untrusted bytes: parsing must never panic, and whatever parses must
//! re-serialize to bytes that parse to the same value.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tpm2_wire::files::SessionFile;

fuzz_target!(|data: &[u8]| {
    if let Ok(f) = SessionFile::from_bytes(data) {
        let again = SessionFile::from_bytes(&f.to_bytes()).expect("our own output must parse");
        assert_eq!(again, f);
    }
});
