//! A man in the middle flips one byte of a session-protected response. Whatever byte it
//! flips, the client returns an error, never data; flips inside the HMAC-covered parameter
//! and authorization areas are reported as session integrity failures.

mod common;

use std::sync::{Arc, Mutex};

use common::*;
use tpm2_wire::client::{Session, SessionOptions};
use tpm2_wire::command::GetRandom;
use tpm2_wire::crypto::HashAlg;
use tpm2_wire::session::{SessionError, Symmetric};
use tpm2_wire::transport::{Transport, TransportError};
use tpm2_wire::{Error, Tpm};

/// Flips `mask` into one byte of the next response, once; keeps the response as the TPM sent
/// it.
#[derive(Default)]
struct Arm {
    flip: Option<(usize, u8)>,
    clean: Vec<u8>,
}

struct Tamper {
    inner: Box<dyn Transport>,
    arm: Arc<Mutex<Arm>>,
}

impl Transport for Tamper {
    fn transact(&mut self, command: &[u8], response: &mut Vec<u8>) -> Result<(), TransportError> {
        self.inner.transact(command, response)?;
        let mut arm = self.arm.lock().unwrap();
        arm.clean.clone_from(response);
        if let Some((offset, mask)) = arm.flip.take() {
            response[offset] ^= mask;
        }
        Ok(())
    }

    fn describe(&self) -> String {
        format!("tamper({})", self.inner.describe())
    }
}

fn tampered_swtpm() -> (tpm2_wire::sim::Swtpm, Tpm, Arc<Mutex<Arm>>) {
    let arm = Arc::new(Mutex::new(Arm::default()));
    let a = arm.clone();
    let (sim, tpm) = swtpm_with(move |inner| Box::new(Tamper { inner, arm: a }));
    (sim, tpm, arm)
}

/// Whether a byte of a response (one session, first parameter a TPM2B) is covered by the
/// response HMAC and is not a size field that frames what follows.
fn hmac_covered(offset: usize, response: &[u8]) -> bool {
    let param_size = u32::from_be_bytes(response[10..14].try_into().unwrap()) as usize;
    let params = 14..14 + param_size;
    let auth = params.end;
    let nonce_len = u16::from_be_bytes([response[auth], response[auth + 1]]) as usize;
    let hmac_size = auth + 2 + nonce_len + 1;
    if params.contains(&offset) {
        // Past the first parameter's size field.
        offset >= params.start + 2
    } else {
        // Nonce, attributes and HMAC bytes; not the two size fields.
        offset >= auth + 2 && !(hmac_size..hmac_size + 2).contains(&offset)
    }
}

/// Runs `command` untouched once, then once per byte offset and flip mask, each time with a
/// fresh session started with `opts`: every run must fail, covered bytes with an integrity
/// error.
fn every_flip_fails<T: std::fmt::Debug>(
    tpm: &Tpm,
    arm: &Arc<Mutex<Arm>>,
    opts: &SessionOptions,
    mut command: impl FnMut(&mut Session) -> tpm2_wire::Result<T>,
) {
    let start = || Session::start(tpm, opts).unwrap();
    let mut s = start();
    command(&mut s).expect("an untouched response verifies");
    let clean = arm.lock().unwrap().clean.clone();
    drop(s);
    let covered = (0..clean.len())
        .filter(|&o| hmac_covered(o, &clean))
        .count();
    assert!(covered > 60, "parameters, nonce and HMAC are covered");

    for mask in [0x01u8, 0xFF] {
        for offset in 0..clean.len() {
            let mut s = start();
            arm.lock().unwrap().flip = Some((offset, mask));
            let err = match command(&mut s) {
                Ok(v) => panic!("flip 0x{mask:02x} at byte {offset} returned Ok({v:?})"),
                Err(e) => e,
            };
            if hmac_covered(offset, &clean) {
                assert!(
                    matches!(
                        err,
                        Error::Session {
                            source: SessionError::Integrity(_),
                            ..
                        }
                    ),
                    "flip 0x{mask:02x} at byte {offset}: {err}"
                );
            }
            // Whatever the flip broke (header, sizes, response code, nonce, HMAC), the TPM
            // ran the command and rolled its nonce: the session can no longer be trusted and
            // refuses to go on, so it never costs a dictionary-attack count.
            assert!(
                s.state().is_desynchronized(),
                "flip 0x{mask:02x} at byte {offset}: {err}"
            );
            let again = command(&mut s).unwrap_err();
            assert!(matches!(again, Error::Desynchronized { .. }), "{again}");
        }
    }
}

#[test]
fn any_flipped_byte_of_an_encrypted_nv_read_is_an_error() {
    let (_sim, tpm, arm) = tampered_swtpm();
    let auth = pw("nv-pass");
    let nv = written_nv(&tpm, 0x0150_0020, &auth, nv_auth_rw(), &random_bytes(32));
    let salt = salt_key(&tpm, Salt::Ecc).unwrap();
    let opts = SessionOptions::hmac()
        .salted(salt.clone())
        .encrypt(false, true);
    every_flip_fails(&tpm, &arm, &opts, |s| {
        nv_read(&tpm, &nv, 32, &mut [s.auth(&auth)])
    });
    flush(&tpm, salt.entity().handle);
    undefine_nv(&tpm, &nv);
}

#[test]
fn any_flipped_byte_of_an_encrypted_get_random_is_an_error() {
    let (_sim, tpm, arm) = tampered_swtpm();
    // ECC: a fresh RSA-salted session per flip would spend most of the time in RSA decryption.
    let salt = salt_key(&tpm, Salt::Ecc).unwrap();
    let opts = SessionOptions::hmac()
        .hash(HashAlg::Sha384)
        .symmetric(Symmetric::Xor(HashAlg::Sha384))
        .salted(salt.clone())
        .encrypt(false, true);
    let random = GetRandom {
        bytes_requested: 32,
    };
    every_flip_fails(&tpm, &arm, &opts, |s| {
        tpm.execute(&random, &mut [s.extra()])
    });
    flush(&tpm, salt.entity().handle);
}
