//! The session engine against a real TPM (swtpm).

mod common;

use common::*;
use tpm2_wire::client::{SaltKey, Session, SessionOptions};
use tpm2_wire::command::GetRandom;
use tpm2_wire::wire::Public;

#[test]
fn salted_session_encrypts_get_random_responses() {
    let (_sim, tpm) = swtpm();
    let (key, public) = create_primary(&tpm, Public::rsa_2048_storage_parent(), &pw(""));
    let salt = SaltKey::from_public(key.clone(), &public).unwrap();
    let mut s = Session::start(
        &tpm,
        &SessionOptions::hmac().salted(salt).encrypt(false, true),
    )
    .unwrap();
    for _ in 0..5 {
        let r = tpm
            .execute(
                &GetRandom {
                    bytes_requested: 32,
                },
                &mut [s.extra()],
            )
            .unwrap();
        assert_eq!(r.random_bytes.len(), 32);
    }
    flush(&tpm, key.handle);
}
