//! Every combination of session type, salt, binding, parameter cipher and session hash, each
//! round-tripping secret data through both encrypted directions over many commands on one
//! session (so nonces roll and every key rule is exercised against the TPM).
//!
//! One test per (session type, salt) with one swtpm each; the other dimensions loop inside,
//! and a failure names its combination.

mod common;

use std::sync::atomic::Ordering;
use std::sync::Arc;

use common::*;
use tpm2_wire::client::{SaltKey, Session, SessionOptions};
use tpm2_wire::command::{NvRead, NvWrite};
use tpm2_wire::crypto::HashAlg;
use tpm2_wire::session::policy::PolicyCalculator;
use tpm2_wire::session::{SessionError, Symmetric};
use tpm2_wire::wire::{Auth, Digest, MaxNvBuffer, NvAttributes, SessionAttributes};
use tpm2_wire::{Error, Tpm};

const DATA_SIZE: u16 = 64;
const ROUNDS: usize = 4;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Hmac,
    Policy,
}

fn ciphers(hash: HashAlg) -> [Symmetric; 3] {
    [
        Symmetric::AesCfb(128),
        Symmetric::AesCfb(256),
        Symmetric::Xor(hash),
    ]
}

fn attrs(extra: u8) -> SessionAttributes {
    SessionAttributes(SessionAttributes::CONTINUE_SESSION | extra)
}

struct Combo<'a> {
    kind: Kind,
    salt: Option<&'a SaltKey>,
    bound: bool,
    symmetric: Symmetric,
    hash: HashAlg,
    index: u32,
}

/// Defines an index only `combo.kind` sessions can use, writes and reads it ROUNDS times
/// through one session (decrypt on writes, encrypt on reads), compares, and cleans up.
fn run_combo(tpm: &Tpm, c: &Combo<'_>) -> tpm2_wire::Result<()> {
    let auth = Auth::new(&random_bytes(16)).unwrap();
    let (attributes, policy) = match c.kind {
        Kind::Hmac => (
            NvAttributes::AUTHREAD | NvAttributes::AUTHWRITE | NvAttributes::NO_DA,
            Digest::empty(),
        ),
        Kind::Policy => (
            // Policy only: no authValue role, so only a satisfied policy session gets in.
            NvAttributes::POLICYREAD | NvAttributes::POLICYWRITE | NvAttributes::NO_DA,
            PolicyCalculator::new(c.hash)
                .policy_auth_value()
                .digest()
                .clone(),
        ),
    };
    let mut nv = define_nv(tpm, c.index, c.hash, attributes, &auth, &policy, DATA_SIZE);
    let written_before = c.kind == Kind::Hmac && c.bound;
    if written_before {
        // The first write sets TPMA_NV_WRITTEN and so changes the index's name; bind to the
        // name it keeps from then on, so the session stays bound for the whole run.
        let first = MaxNvBuffer::new(&[0u8; DATA_SIZE as usize]).unwrap();
        tpm.execute(
            &NvWrite {
                auth_handle: nv.clone(),
                nv_index: nv.clone(),
                data: first,
                offset: 0,
            },
            &mut [tpm2_wire::session::engine::SessionSlot::Password(&auth)],
        )?;
        nv = tpm.nv_read_public(nv.handle)?.0;
    }

    let mut opts = match c.kind {
        Kind::Hmac => SessionOptions::hmac(),
        Kind::Policy => SessionOptions::policy(),
    }
    .hash(c.hash)
    .symmetric(c.symmetric);
    if let Some(k) = c.salt {
        opts = opts.salted(k.clone());
    }
    if c.bound {
        opts = opts.bound(nv.clone(), auth.clone());
    } else if c.salt.is_none() {
        // Unsalted and unbound: the session key is empty, so encryption hides nothing from a
        // bus observer. The test has to opt in.
        opts = opts.allow_unprotected_encryption();
    }
    let mut s = Session::start(tpm, &opts)?;
    if c.kind == Kind::Hmac && c.bound {
        assert!(s.state().is_bound_to(nv.name.as_bytes(), auth.as_bytes()));
    }

    for round in 0..ROUNDS {
        let data = random_bytes(DATA_SIZE as usize);
        if c.kind == Kind::Policy {
            s.policy_auth_value()?;
        }
        s.set_attributes(attrs(SessionAttributes::DECRYPT));
        tpm.execute(
            &NvWrite {
                auth_handle: nv.clone(),
                nv_index: nv.clone(),
                data: MaxNvBuffer::new(&data).unwrap(),
                offset: 0,
            },
            &mut [s.auth(&auth)],
        )?;
        if round == 0 && !written_before {
            // The first write changed the name; later commands must use the new one.
            nv = tpm.nv_read_public(nv.handle)?.0;
        }

        if c.kind == Kind::Policy {
            s.policy_auth_value()?;
        }
        s.set_attributes(attrs(SessionAttributes::ENCRYPT));
        let read = tpm.execute(
            &NvRead {
                auth_handle: nv.clone(),
                nv_index: nv.clone(),
                size: DATA_SIZE,
                offset: 0,
            },
            &mut [s.auth(&auth)],
        )?;
        assert_eq!(read.data.as_bytes(), &data[..], "round {round}: read back");
    }
    s.flush()?;
    undefine_nv(tpm, &nv);
    Ok(())
}

fn run_matrix(kind: Kind, salt: Salt) {
    let (_sim, tpm) = swtpm();
    let key = salt_key(&tpm, salt);
    let mut index = 0x0150_0000;
    let mut ran = 0;
    for bound in [false, true] {
        for hash in HASHES {
            for symmetric in ciphers(hash) {
                index += 1;
                let combo = Combo {
                    kind,
                    salt: key.as_ref(),
                    bound,
                    symmetric,
                    hash,
                    index,
                };
                if let Err(e) = run_combo(&tpm, &combo) {
                    panic!("{kind:?} session, salt {salt:?}, bound={bound}, {symmetric:?}, {hash:?}: {e}");
                }
                ran += 1;
            }
        }
    }
    assert_eq!(ran, 18);
    if let Some(k) = key {
        flush(&tpm, k.entity().handle);
    }
    assert_nothing_loaded(&tpm);
}

#[test]
fn hmac_unsalted() {
    run_matrix(Kind::Hmac, Salt::None);
}

#[test]
fn hmac_rsa_salted() {
    run_matrix(Kind::Hmac, Salt::Rsa);
}

#[test]
fn hmac_ecc_salted() {
    run_matrix(Kind::Hmac, Salt::Ecc);
}

#[test]
fn policy_unsalted() {
    run_matrix(Kind::Policy, Salt::None);
}

#[test]
fn policy_rsa_salted() {
    run_matrix(Kind::Policy, Salt::Rsa);
}

#[test]
fn policy_ecc_salted() {
    run_matrix(Kind::Policy, Salt::Ecc);
}

/// Without the opt-in, an unsalted, unbound session refuses to encrypt, and nothing reaches
/// the TPM.
#[test]
fn empty_session_key_encryption_is_refused_before_sending() {
    let sent = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let counter = sent.clone();
    let (_sim, tpm) = swtpm_with(move |inner| {
        Box::new(Counting {
            inner,
            sent: counter,
        })
    });
    let auth = pw("nv-secret");
    let nv = define_nv(
        &tpm,
        0x0150_0100,
        HashAlg::Sha256,
        NvAttributes::AUTHREAD | NvAttributes::AUTHWRITE | NvAttributes::NO_DA,
        &auth,
        &Digest::empty(),
        DATA_SIZE,
    );
    let mut s = Session::start(&tpm, &SessionOptions::hmac().encrypt(true, false)).unwrap();
    let before = sent.load(Ordering::SeqCst);
    let err = tpm
        .execute(
            &NvWrite {
                auth_handle: nv.clone(),
                nv_index: nv.clone(),
                data: MaxNvBuffer::new(b"would travel readable").unwrap(),
                offset: 0,
            },
            &mut [s.auth(&auth)],
        )
        .unwrap_err();
    assert!(
        matches!(
            err,
            Error::Session {
                source: SessionError::EmptyKeyEncryption(h),
                ..
            } if h == s.handle()
        ),
        "{err}"
    );
    assert_eq!(sent.load(Ordering::SeqCst), before, "nothing was sent");

    // The session is still usable without encryption.
    s.set_attributes(attrs(0));
    tpm.execute(
        &NvWrite {
            auth_handle: nv.clone(),
            nv_index: nv.clone(),
            data: MaxNvBuffer::new(b"plain").unwrap(),
            offset: 0,
        },
        &mut [s.auth(&auth)],
    )
    .unwrap();
    drop(s);
    let nv = tpm.nv_read_public(nv.handle).unwrap().0;
    undefine_nv(&tpm, &nv);
}
