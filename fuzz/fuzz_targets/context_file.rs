//! Object context files and serialized ESYS_TR blobs from untrusted bytes: parsing must never
//! panic, and whatever parses must re-serialize to bytes that parse to the same value.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tpm2_wire::files::{ObjectFile, SavedContext};

fuzz_target!(|data: &[u8]| {
    if let Ok(ctx) = SavedContext::from_bytes(data) {
        let again = SavedContext::from_bytes(&ctx.to_bytes()).expect("our own output must parse");
        assert_eq!(again, ctx);
    }
    if let Ok(obj) = ObjectFile::from_bytes(data) {
        let again = ObjectFile::from_bytes(&obj.to_bytes()).expect("our own output must parse");
        assert_eq!(again, obj);
    }
});
