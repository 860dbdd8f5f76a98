//! Decoding any 32-bit response code must not panic, and its parts must agree.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tpm2_wire::wire::ResponseCode;

fuzz_target!(|data: [u8; 4]| {
    let rc = ResponseCode(u32::from_be_bytes(data));
    let shown = rc.to_string();
    assert!(!shown.is_empty());
    let _ = rc.description();
    let _ = rc.kind();
    let located = [rc.parameter(), rc.handle(), rc.session()]
        .iter()
        .filter(|n| n.is_some())
        .count();
    assert!(located <= 1);
    assert!(located == 0 || rc.is_format_one());
    if rc.is_auth_fail() || rc.is_session_exhaustion() || rc.is_retry_class() {
        assert!(rc.name().is_some());
    }
});
