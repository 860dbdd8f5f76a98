//! Decrypting arbitrary response parameter areas with AES-CFB and XOR sessions never panics,
//! and when it succeeds, encrypting the first parameter again with the same inputs gives back
//! the bytes received (so the right key, nonces and range were used).
//!
//! Input: one set-up byte (hash, cipher, whether the session authorizes a handle), one byte
//! giving the length of nonceTPM (1 to 64, out-of-range lengths are reduced), nonceTPM, then
//! the parameter area. The target answers as the TPM would (a valid response HMAC over those
//! bytes), since only a verified response reaches decryption.

#![no_main]

#[path = "common.rs"]
mod common;

use libfuzzer_sys::fuzz_target;
use tpm2_wire::crypto::{self, HashAlg};
use tpm2_wire::session::Symmetric;
use tpm2_wire::wire::{Auth, AuthResponseRef, SessionAttributes};

const NV_NAME: [u8; 22] = [
    0x00, 0x04, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20,
];

fn run(data: &[u8]) {
    let [ctl, nonce_len, rest @ ..] = data else {
        return;
    };
    let hash = HashAlg::ALL[usize::from(ctl & 3)];
    let symmetric = match (ctl >> 2) & 7 {
        0 => Symmetric::AesCfb(128),
        1 => Symmetric::AesCfb(192),
        2 => Symmetric::AesCfb(256),
        n => Symmetric::Xor(HashAlg::ALL[usize::from(n & 3)]),
    };
    let authorizing = ctl & 0x20 != 0;
    let nonce_len = 1 + usize::from(*nonce_len) % 64;
    if rest.len() < nonce_len {
        return;
    }
    let (nonce_tpm, received) = rest.split_at(nonce_len);

    let attributes =
        SessionAttributes(SessionAttributes::CONTINUE_SESSION | SessionAttributes::ENCRYPT);
    let mut state = common::session(hash, symmetric, attributes, 0x5A);
    let auth = Auth::new(b"fuzz auth").unwrap();
    let names: [&[u8]; 2] = [&NV_NAME, &NV_NAME];
    let info = common::command_info(authorizing, &names);
    let pending = common::authorize(&mut state, &auth, &info);

    // The TPM's answer: a valid response HMAC over the received parameter area.
    let hmac = common::response_hmac(&state, &auth, &info, received, nonce_tpm, attributes.0);
    let auths = [Some(AuthResponseRef {
        nonce: nonce_tpm,
        attributes,
        hmac: hmac.as_bytes(),
    })];
    let checked = common::verify_and_decrypt(&mut state, &auth, &info, &pending, &auths, received);
    let Some(mut decrypted) = checked.expect("a response the TPM would send verifies") else {
        return;
    };
    assert_eq!(state.nonce_tpm().as_bytes(), nonce_tpm, "nonceTPM rolled");

    // Success means the area starts with a complete sized buffer; re-encrypt its payload.
    let size = usize::from(u16::from_be_bytes([received[0], received[1]]));
    let payload = &mut decrypted[2..2 + size];
    let key = common::key(&state, &auth, &info);
    let (newer, older) = (
        state.nonce_tpm().as_bytes(),
        state.nonce_caller().as_bytes(),
    );
    match symmetric {
        Symmetric::AesCfb(bits) => crypto::param_cfb(
            crypto::Direction::Encrypt,
            hash,
            bits,
            &key,
            newer,
            older,
            payload,
        )
        .unwrap(),
        // The XOR mask uses the session hash, not the one named in the sym def.
        Symmetric::Xor(_) => crypto::xor_obfuscate(hash, &key, newer, older, payload).unwrap(),
        Symmetric::Null => unreachable!("only ciphers are set up"),
    }
    assert_eq!(
        decrypted, received,
        "decryption is not the inverse of encryption"
    );
}

fuzz_target!(|data: &[u8]| run(data));
