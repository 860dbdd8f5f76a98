//! Audit sessions: the digest kept on the host equals the one the TPM attests to with
//! TPM2_GetSessionAuditDigest, across commands, hashes, auditReset, and sessions that also
//! authorize or encrypt.

mod common;

use common::*;
use tpm2_wire::client::{Session, SessionOptions};
use tpm2_wire::command::{Entity, GetRandom};
use tpm2_wire::crypto::{self, HashAlg};
use tpm2_wire::session::engine::SessionSlot;
use tpm2_wire::session::Symmetric;
use tpm2_wire::wire::{Auth, CommandCode, Digest, SessionAttributes};
use tpm2_wire::Tpm;

const NV_DATA: &[u8; 16] = b"0123456789abcdef";

fn nv(tpm: &Tpm, index: u32, auth: &Auth) -> Entity {
    written_nv(tpm, index, auth, nv_auth_rw(), NV_DATA)
}

fn read(tpm: &Tpm, nv: &Entity, slots: &mut [SessionSlot<'_>]) -> Vec<u8> {
    nv_read(tpm, nv, 16, slots).unwrap()
}

fn host_digest(s: &Session) -> Digest {
    s.state()
        .audit_digest()
        .cloned()
        .expect("the session has audited")
}

#[test]
fn audit_digest_matches_the_tpm_across_commands_hashes_and_resets() {
    let (_sim, tpm) = swtpm();
    let auth = pw("nv-pass");
    let nv = nv(&tpm, 0x0150_0030, &auth);
    for hash in HASHES {
        let mut s = Session::start(&tpm, &SessionOptions::audit().hash(hash)).unwrap();
        assert!(s.state().audit_digest().is_none(), "nothing audited yet");
        let mut previous = Vec::new();
        for round in 0..3 {
            tpm.execute(&GetRandom { bytes_requested: 8 }, &mut [s.extra()])
                .unwrap();
            read(&tpm, &nv, &mut [SessionSlot::Password(&auth), s.extra()]);
            let host = host_digest(&s);
            assert_eq!(host.len(), hash.digest_size());
            assert_eq!(
                tpm_session_audit_digest(&tpm, s.handle()),
                host,
                "{hash:?} round {round}"
            );
            assert!(!previous.contains(&host), "every command moves the digest");
            previous.push(host);
        }

        // auditReset: the digest starts again from zeros with this command, so it is
        // H(0…0 ‖ cpHash ‖ rpHash) of that one command, computed here independently.
        s.set_attributes(attrs(
            SessionAttributes::AUDIT | SessionAttributes::AUDIT_RESET,
        ));
        let r = tpm
            .execute(&GetRandom { bytes_requested: 8 }, &mut [s.extra()])
            .unwrap();
        s.set_attributes(attrs(SessionAttributes::AUDIT));
        let cc = CommandCode::GET_RANDOM.0.to_be_bytes();
        let cp_hash = crypto::hash(hash, &[&cc, &8u16.to_be_bytes()]);
        let rp_hash = crypto::hash(
            hash,
            &[
                &0u32.to_be_bytes(),
                &cc,
                &8u16.to_be_bytes(),
                r.random_bytes.as_bytes(),
            ],
        );
        let zeros = vec![0u8; hash.digest_size()];
        let expected = crypto::hash(hash, &[&zeros, cp_hash.as_bytes(), rp_hash.as_bytes()]);
        assert_eq!(host_digest(&s), expected, "{hash:?} after reset");
        assert_eq!(tpm_session_audit_digest(&tpm, s.handle()), expected);
        tpm.execute(&GetRandom { bytes_requested: 8 }, &mut [s.extra()])
            .unwrap();
        assert_eq!(tpm_session_audit_digest(&tpm, s.handle()), host_digest(&s));
    }
    undefine_nv(&tpm, &nv);
    assert_nothing_loaded(&tpm);
}

/// One session both authorizes and audits (and in the second part also encrypts), salted,
/// on an NV index with an auth value.
#[test]
fn authorizing_and_encrypting_audit_session() {
    let (_sim, tpm) = swtpm();
    let auth = pw("nv-pass");
    let nv = nv(&tpm, 0x0150_0031, &auth);
    let salt = salt_key(&tpm, Salt::Rsa).unwrap();
    let opts = SessionOptions::hmac()
        .hash(HashAlg::Sha384)
        .symmetric(Symmetric::AesCfb(256))
        .salted(salt.clone());
    let mut s = Session::start(&tpm, &opts).unwrap();
    for bits in [
        SessionAttributes::AUDIT,
        SessionAttributes::AUDIT | SessionAttributes::ENCRYPT,
    ] {
        s.set_attributes(attrs(bits));
        for _ in 0..2 {
            assert_eq!(read(&tpm, &nv, &mut [s.auth(&auth)]), NV_DATA);
            assert_eq!(tpm_session_audit_digest(&tpm, s.handle()), host_digest(&s));
        }
    }
    drop(s);
    flush(&tpm, salt.entity().handle);
    undefine_nv(&tpm, &nv);
    assert_nothing_loaded(&tpm);
}

/// A session bound to the NV index it authorizes stops being bound once it audits (the TPM
/// clears isBound when auditing starts), so from the first audited command on, the auth
/// value is part of the HMAC key.
#[test]
fn bound_session_that_starts_auditing() {
    let (_sim, tpm) = swtpm();
    let auth = pw("nv-pass");
    let nv = nv(&tpm, 0x0150_0032, &auth);
    let mut s = Session::start(
        &tpm,
        &SessionOptions::hmac().bound(nv.clone(), auth.clone()),
    )
    .unwrap();
    s.set_attributes(attrs(0));
    read(&tpm, &nv, &mut [s.auth(&auth)]);
    s.set_attributes(attrs(SessionAttributes::AUDIT));
    for round in 0..3 {
        nv_read(&tpm, &nv, 16, &mut [s.auth(&auth)])
            .unwrap_or_else(|e| panic!("round {round}: {e}"));
        assert_eq!(tpm_session_audit_digest(&tpm, s.handle()), host_digest(&s));
    }
    drop(s);
    undefine_nv(&tpm, &nv);
    assert_nothing_loaded(&tpm);
}
