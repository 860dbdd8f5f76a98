//! Parsing any bytes as a registry record must not panic; whatever parses writes back to
//! text that parses to the same record.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tpm2_wire::registry::SessionRecord;

fuzz_target!(|data: &[u8]| {
    if let Ok(record) = SessionRecord::parse(data) {
        let text = record.to_text().expect("a parsed record is writable");
        assert_eq!(
            SessionRecord::parse(text.as_bytes()).ok().as_ref(),
            Some(&record)
        );
    }
});
