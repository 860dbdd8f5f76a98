//! TCTI strings come from the command line and the environment: parsing any string must not
//! panic, and whatever parses must print back to a string that parses to the same value.

#![no_main]

use libfuzzer_sys::fuzz_target;
use tpm2_wire::transport::Tcti;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(tcti) = Tcti::parse(text) {
        let printed = tcti.to_string();
        let reparsed = Tcti::parse(&printed).expect("a printed TCTI must parse");
        assert_eq!(reparsed, tcti, "round trip through {printed:?}");
    }
});
