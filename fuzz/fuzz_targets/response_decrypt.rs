//! Decrypting arbitrary response parameter areas with AES-CFB and XOR sessions never panics,
//! and when it succeeds, encrypting the first parameter again with the same inputs gives back
//! the bytes received (so the right key, nonces and range were used).
//!
//! Input: one set-up byte (hash, cipher, whether the session authorizes a handle), one byte
//! giving the length of nonceTPM (1 to 64, out-of-range lengths are reduced), nonceTPM, then
//! the parameter area. The target answers as the TPM would (a valid response HMAC over those
//! bytes), since only a verified response reaches decryption.

#![no_main]

use libfuzzer_sys::fuzz_target;
use tpm2_wire::crypto::{self, HashAlg, Hasher, HmacCtx};
use tpm2_wire::session::StateRecord;
use tpm2_wire::session::engine::{self, CommandInfo, SessionSlot};
use tpm2_wire::session::{PolicyAuth, SessionKey, SessionState, Symmetric};
use tpm2_wire::wire::{
    Auth, AuthResponseRef, CommandCode, Handle, Nonce, SessionAttributes, SessionType, Writer,
};

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

    let n = hash.digest_size();
    let mut state = SessionState::restore(StateRecord {
        handle: Handle(0x0200_0000),
        session_type: SessionType::HMAC,
        hash,
        symmetric,
        attributes: SessionAttributes(
            SessionAttributes::CONTINUE_SESSION | SessionAttributes::ENCRYPT,
        ),
        session_key: SessionKey::new(&[0x5A; 64][..n]).unwrap(),
        key_is_secret: true,
        nonce_caller: Nonce::new(&[0x01; 64][..n]).unwrap(),
        nonce_tpm: Nonce::new(&[0x02; 64][..n]).unwrap(),
        bound_entity: None,
        policy_auth: PolicyAuth::None,
        audit_digest: None,
        allow_unprotected_encryption: false,
    });
    let auth = Auth::new(b"fuzz auth").unwrap();
    let names: [&[u8]; 2] = [&NV_NAME, &NV_NAME];
    let info = CommandInfo {
        code: if authorizing {
            CommandCode::NV_READ
        } else {
            CommandCode::GET_RANDOM
        },
        names: if authorizing { &names } else { &[] },
        auth_handles: usize::from(authorizing),
        decrypt_param: false,
        encrypt_param: true,
        new_auth: None,
    };
    let mut command = Vec::new();
    let mut params = vec![0, 32, 0, 0];
    let pending = {
        let mut slots = [SessionSlot::Session {
            state: &mut state,
            auth: &auth,
        }];
        engine::authorize(
            &mut rand_core::OsRng,
            &mut Writer::new(&mut command),
            &info,
            &mut slots,
            &mut params,
        )
        .unwrap()
    };

    // The TPM's answer: rpHash over the received parameter area, HMAC keyed with the session
    // key and (for an authorizing session) the auth value.
    let mut rp = Hasher::new(hash);
    rp.update(&0u32.to_be_bytes());
    rp.update(&info.code.0.to_be_bytes());
    rp.update(received);
    let rp = rp.finalize();
    let mut hmac_key = state.session_key().as_bytes().to_vec();
    if authorizing {
        hmac_key.extend_from_slice(tpm2_wire::session::trim_auth(auth.as_bytes()));
    }
    let attributes =
        SessionAttributes(SessionAttributes::CONTINUE_SESSION | SessionAttributes::ENCRYPT);
    let mut m = HmacCtx::new(hash, &hmac_key);
    m.update(rp.as_bytes());
    m.update(nonce_tpm);
    m.update(state.nonce_caller().as_bytes());
    m.update(&[attributes.0]);
    let hmac = m.finalize();
    let auths = [Some(AuthResponseRef {
        nonce: nonce_tpm,
        attributes,
        hmac: hmac.as_bytes(),
    })];

    let mut decrypted = received.to_vec();
    let mut slots = [SessionSlot::Session {
        state: &mut state,
        auth: &auth,
    }];
    let verified = engine::verify_response(&info, &mut slots, &pending, &auths, received)
        .expect("a response the TPM would send verifies");
    if engine::decrypt_response(verified, &info, &slots, &mut decrypted).is_err() {
        return;
    }
    drop(slots);
    assert_eq!(state.nonce_tpm().as_bytes(), nonce_tpm, "nonceTPM rolled");

    // Success means the area starts with a complete sized buffer; re-encrypt its payload.
    let size = usize::from(u16::from_be_bytes([received[0], received[1]]));
    let payload = &mut decrypted[2..2 + size];
    let mut key = state.session_key().as_bytes().to_vec();
    if authorizing {
        // The TPM (and the engine) drop an auth value's trailing zeros.
        key.extend_from_slice(tpm2_wire::session::trim_auth(auth.as_bytes()));
    }
    let (newer, older) = (state.nonce_tpm().as_bytes(), state.nonce_caller().as_bytes());
    match symmetric {
        Symmetric::AesCfb(bits) => {
            crypto::param_cfb(crypto::Direction::Encrypt, hash, bits, &key, newer, older, payload).unwrap()
        }
        // The XOR mask uses the session hash, not the one named in the sym def.
        Symmetric::Xor(_) => crypto::xor_obfuscate(hash, &key, newer, older, payload).unwrap(),
        Symmetric::Null => unreachable!("only ciphers are set up"),
    }
    assert_eq!(decrypted, received, "decryption is not the inverse of encryption");
}

fuzz_target!(|data: &[u8]| run(data));
