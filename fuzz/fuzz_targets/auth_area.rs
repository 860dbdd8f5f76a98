//! Arbitrary bytes as the response to a session-protected command: parsing the frame,
//! verifying its authorization area and decrypting its first parameter must never panic, and
//! verification must never succeed unless the response HMAC is the one the session expects.
//!
//! The first input byte picks the set-up: response handles (0 or 1), hash, parameter
//! encryption, whether the session authorizes a handle or is an extra (encrypt or audit)
//! session, whether the harness splices the correct HMAC into the frame (so the fuzzer also
//! reaches the paths after a successful check) and whether it corrects the header's size
//! field. The rest is the response frame.
//!
//! nonceCaller is fresh randomness per run, as in real use; the HMAC splice follows it, so
//! which paths an input reaches does not depend on it.

#![no_main]

#[path = "common.rs"]
mod common;

use libfuzzer_sys::fuzz_target;
use tpm2_wire::crypto::HashAlg;
use tpm2_wire::session::{SessionState, Symmetric};
use tpm2_wire::wire::{Auth, Digest, ResponseFrame, SessionAttributes, StructureTag, HEADER_SIZE};

/// The name of the one authorized handle (an NV index with a SHA-256 name).
const NV_NAME: [u8; 34] = [
    0x00, 0x0B, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23,
    24, 25, 26, 27, 28, 29, 30, 31, 32,
];

struct Setup {
    response_handles: usize,
    hash: HashAlg,
    symmetric: Symmetric,
    authorizing: bool,
    splice_hmac: bool,
    fix_size: bool,
}

impl Setup {
    fn from_byte(b: u8) -> Setup {
        Setup {
            response_handles: usize::from(b & 1),
            hash: if b & 2 == 0 {
                HashAlg::Sha256
            } else {
                HashAlg::Sha1
            },
            symmetric: match (b >> 2) & 3 {
                0 => Symmetric::Null,
                1 => Symmetric::AesCfb(128),
                2 => Symmetric::Xor(HashAlg::Sha256),
                _ => Symmetric::AesCfb(256),
            },
            authorizing: b & 0x10 != 0,
            splice_hmac: b & 0x20 != 0,
            fix_size: b & 0x40 != 0,
        }
    }

    fn attributes(&self) -> SessionAttributes {
        let mut bits = SessionAttributes::CONTINUE_SESSION;
        if self.symmetric != Symmetric::Null {
            bits |= SessionAttributes::ENCRYPT;
        } else if !self.authorizing {
            // An extra session must do something: audit.
            bits |= SessionAttributes::AUDIT;
        }
        SessionAttributes(bits)
    }

    fn state(&self) -> SessionState {
        common::session(self.hash, self.symmetric, self.attributes(), 0x42)
    }
}

/// `frame` with the HMAC of its single authorization replaced by `hmac` (sizes patched).
fn splice(frame: &[u8], parsed: &ResponseFrame<'_>, hmac: &[u8]) -> Option<Vec<u8>> {
    let a = parsed.auths[0]?;
    let mut out = frame[..HEADER_SIZE].to_vec();
    out.extend_from_slice(parsed.handles);
    out.extend_from_slice(&(parsed.parameters.len() as u32).to_be_bytes());
    out.extend_from_slice(parsed.parameters);
    out.extend_from_slice(&(a.nonce.len() as u16).to_be_bytes());
    out.extend_from_slice(a.nonce);
    out.push(a.attributes.0);
    out.extend_from_slice(&(hmac.len() as u16).to_be_bytes());
    out.extend_from_slice(hmac);
    let size = out.len() as u32;
    out[2..6].copy_from_slice(&size.to_be_bytes());
    Some(out)
}

fn run(data: &[u8]) {
    let Some((&ctl, frame)) = data.split_first() else {
        return;
    };
    let setup = Setup::from_byte(ctl);
    let auth = Auth::new(b"fuzz auth").unwrap();
    let names: [&[u8]; 2] = [&NV_NAME, &NV_NAME];
    let info = common::command_info(setup.authorizing, &names);
    let mut state = setup.state();
    let pending = common::authorize(&mut state, &auth, &info);
    // The HMAC the session expects on a frame's single authorization.
    let expected_hmac = |parsed: &ResponseFrame<'_>| {
        let a = parsed.auths[0]?;
        let params = parsed.parameters;
        Some(common::response_hmac(
            &state,
            &auth,
            &info,
            params,
            a.nonce,
            a.attributes.0,
        ))
    };

    // Optionally make the header's size right, so the fuzzer spends its time past framing.
    let mut sized;
    let frame = if setup.fix_size && frame.len() >= HEADER_SIZE {
        sized = frame.to_vec();
        let len = sized.len() as u32;
        sized[2..6].copy_from_slice(&len.to_be_bytes());
        &sized[..]
    } else {
        frame
    };
    let Ok(parsed) = ResponseFrame::parse(frame, setup.response_handles) else {
        return;
    };
    let mut owned = None;
    if setup.splice_hmac && parsed.code == 0 && parsed.tag == StructureTag::SESSIONS {
        if let Some(want) = expected_hmac(&parsed) {
            owned = splice(frame, &parsed, want.as_bytes());
        }
    }
    let frame: &[u8] = owned.as_deref().unwrap_or(frame);
    let Ok(parsed) = ResponseFrame::parse(frame, setup.response_handles) else {
        return;
    };
    if parsed.code != 0 {
        return;
    }

    let expected = expected_hmac(&parsed);
    // Decryption (done when the response verifies) must not panic whatever it is given.
    let checked = common::verify_and_decrypt(
        &mut state,
        &auth,
        &info,
        &pending,
        &parsed.auths,
        parsed.parameters,
    );
    if checked.is_ok() {
        assert_eq!(
            parsed.auth_count, 1,
            "verified a response with the wrong number of sessions"
        );
        let a = parsed.auths[0].expect("one authorization");
        assert_eq!(
            Some(a.hmac),
            expected.as_ref().map(Digest::as_bytes),
            "verified a response whose HMAC is not the expected one"
        );
    }
}

fuzz_target!(|data: &[u8]| run(data));
