//! The session engine against a real TPM (swtpm): encryption on the wire, several sessions on
//! one command, auth failures, sealing under a salted and bound session, and name checks.

mod common;

use std::sync::atomic::Ordering;

use common::*;
use tpm2_wire::client::{object_name, SaltKey, Session, SessionOptions};
use tpm2_wire::command::{Entity, EvictControl, GetRandom};
use tpm2_wire::crypto::HashAlg;
use tpm2_wire::session::engine::SessionSlot;
use tpm2_wire::session::Symmetric;
use tpm2_wire::wire::{Auth, Digest, Handle, Name, NvAttributes, Public, SessionAttributes, TpmRc};
use tpm2_wire::{Error, Tpm};

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

/// The secret never appears on the wire in either direction when encrypted, and does when
/// not (so the check itself can fail).
#[test]
fn encrypted_parameters_never_travel_in_clear() {
    let (_sim, tpm, frames) = swtpm_recording();
    let auth = pw("nv-pass");
    let nv = written_nv(&tpm, 0x0150_0001, &auth, nv_auth_rw(), &[0; 48]);
    let salt = salt_key(&tpm, Salt::Ecc).unwrap();
    let mut s = Session::start(&tpm, &SessionOptions::hmac().salted(salt.clone())).unwrap();

    for encrypted in [false, true] {
        let secret = random_bytes(48);
        frames.lock().unwrap().clear();
        s.set_attributes(attrs(if encrypted {
            SessionAttributes::DECRYPT
        } else {
            0
        }));
        nv_write(&tpm, &nv, &secret, &mut [s.auth(&auth)]).unwrap();
        s.set_attributes(attrs(if encrypted {
            SessionAttributes::ENCRYPT
        } else {
            0
        }));
        assert_eq!(
            nv_read(&tpm, &nv, 48, &mut [s.auth(&auth)]).unwrap(),
            secret
        );
        let frames = frames.lock().unwrap();
        assert_eq!(frames.len(), 2);
        assert_eq!(
            contains(&frames[0].0, &secret),
            !encrypted,
            "NV_Write command"
        );
        assert_eq!(
            contains(&frames[1].1, &secret),
            !encrypted,
            "NV_Read response"
        );
    }
    drop(s);
    flush(&tpm, salt.entity().handle);
}

/// The first slot of a command: `auth` by password, or through the HMAC session `s`.
fn authorize<'a>(s: &'a mut Session, auth: &'a Auth, by_password: bool) -> SessionSlot<'a> {
    if by_password {
        SessionSlot::Password(auth)
    } else {
        s.auth(auth)
    }
}

/// An HMAC session authorizes; a second, salted session with another hash does the
/// encryption. Its nonces are folded into the first session's HMAC.
#[test]
fn encryption_session_separate_from_authorizing_session() {
    let (_sim, tpm) = swtpm();
    let auth = pw("nv-pass");
    let nv = written_nv(&tpm, 0x0150_0002, &auth, nv_auth_rw(), &[0; 64]);
    let salt = salt_key(&tpm, Salt::Rsa).unwrap();
    let mut authorizer =
        Session::start(&tpm, &SessionOptions::hmac().symmetric(Symmetric::Null)).unwrap();
    let mut crypt = Session::start(
        &tpm,
        &SessionOptions::hmac()
            .hash(HashAlg::Sha384)
            .symmetric(Symmetric::AesCfb(256))
            .salted(salt.clone()),
    )
    .unwrap();
    // Four rounds authorized by the HMAC session, then one by password: a password can
    // authorize while a session only encrypts.
    for by_password in [false, false, false, false, true] {
        let secret = random_bytes(64);
        crypt.set_attributes(attrs(SessionAttributes::DECRYPT));
        let first = authorize(&mut authorizer, &auth, by_password);
        nv_write(&tpm, &nv, &secret, &mut [first, crypt.extra()]).unwrap();
        crypt.set_attributes(attrs(SessionAttributes::ENCRYPT));
        let first = authorize(&mut authorizer, &auth, by_password);
        let read = nv_read(&tpm, &nv, 64, &mut [first, crypt.extra()]).unwrap();
        assert_eq!(read, secret);
    }
    drop((authorizer, crypt));
    flush(&tpm, salt.entity().handle);
    assert_nothing_loaded(&tpm);
}

/// One non-first session both decrypts the command's first parameter and encrypts the
/// response's (TPM2_Create: inSensitive and outPrivate); its nonce counts once in the
/// authorizing session's HMAC. Then Unseal with three sessions: authorize, encrypt, audit.
#[test]
fn one_extra_session_decrypts_and_encrypts_then_three_sessions() {
    let (_sim, tpm) = swtpm();
    let parent_auth = pw("parent-pass");
    let (parent, _) = create_primary(&tpm, Public::rsa_2048_storage_parent(), &parent_auth);
    let salt = salt_key(&tpm, Salt::Ecc).unwrap();
    let mut authorizer = Session::start(&tpm, &SessionOptions::hmac().hash(HashAlg::Sha1)).unwrap();
    let mut crypt = Session::start(&tpm, &SessionOptions::hmac().salted(salt.clone())).unwrap();
    crypt.set_attributes(attrs(
        SessionAttributes::DECRYPT | SessionAttributes::ENCRYPT,
    ));

    let secret = random_bytes(40);
    let seal_auth = pw("seal-pass");
    let slots = &mut [authorizer.auth(&parent_auth), crypt.extra()];
    let created = seal(&tpm, &parent, &seal_auth, &secret, slots);
    // outPrivate was decrypted correctly if the TPM accepts it back.
    let sealed = load(&tpm, &parent, &created, authorizer.auth(&parent_auth));

    let mut audit = Session::start(&tpm, &SessionOptions::audit().hash(HashAlg::Sha384)).unwrap();
    crypt.set_attributes(attrs(SessionAttributes::ENCRYPT));
    for _ in 0..3 {
        let slots = &mut [authorizer.auth(&seal_auth), crypt.extra(), audit.extra()];
        assert_eq!(unseal(&tpm, &sealed, slots).unwrap(), secret);
    }
    let host = audit
        .state()
        .audit_digest()
        .cloned()
        .expect("audit digest kept");
    assert_eq!(tpm_session_audit_digest(&tpm, audit.handle()), host);
    drop((authorizer, crypt, audit));
    flush(&tpm, sealed.handle);
    flush(&tpm, parent.handle);
    flush(&tpm, salt.entity().handle);
    assert_nothing_loaded(&tpm);
}

/// A wrong auth value on a DA-protected entity: TPM_RC_AUTH_FAIL naming session 1. The
/// session stays usable with the right value; the DA counter is reset afterwards.
#[test]
fn wrong_auth_value_names_the_session() {
    let (_sim, tpm) = swtpm();
    let auth = pw("right");
    // Not NO_DA: failures count against dictionary-attack lockout.
    let da_counted = NvAttributes::AUTHREAD | NvAttributes::AUTHWRITE;
    let nv = written_nv(&tpm, 0x0150_0003, &auth, da_counted, &[0; 16]);
    let salt = salt_key(&tpm, Salt::Rsa).unwrap();
    let mut s = Session::start(&tpm, &SessionOptions::hmac().salted(salt.clone())).unwrap();
    assert_eq!(lockout_counter(&tpm), 0);

    let err = nv_read(&tpm, &nv, 16, &mut [s.auth(&pw("wrong"))]).unwrap_err();
    let rc = err.response_code().expect("a TPM error");
    assert_eq!(rc.base_code(), TpmRc::AUTH_FAIL);
    assert_eq!(rc.session(), Some(1));
    assert!(err.to_string().contains("session 1"), "{err}");
    assert_eq!(lockout_counter(&tpm), 1);

    // A wrong password is reported the same way.
    let err = nv_read(&tpm, &nv, 16, &mut [SessionSlot::Password(&pw("nope"))]).unwrap_err();
    assert_eq!(err.response_code().unwrap().session(), Some(1), "{err}");

    // The failed commands did not desynchronize the session.
    s.set_attributes(attrs(SessionAttributes::ENCRYPT));
    assert_eq!(
        nv_read(&tpm, &nv, 16, &mut [s.auth(&auth)]).unwrap(),
        vec![0u8; 16]
    );

    reset_lockout(&tpm);
    drop(s);
    flush(&tpm, salt.entity().handle);
}

/// Sealing: a salted session bound to the parent carries the secret in (decrypt) and out
/// (encrypt); Unseal returns it.
#[test]
fn sealed_secret_round_trip_under_salted_bound_session() {
    let (_sim, tpm) = swtpm();
    let parent_auth = pw("storage");
    let (parent, parent_public) =
        create_primary(&tpm, Public::rsa_2048_storage_parent(), &parent_auth);
    let salt = SaltKey::from_public(parent.clone(), &parent_public).unwrap();
    let mut s = Session::start(
        &tpm,
        &SessionOptions::hmac()
            .salted(salt)
            .bound(parent.clone(), parent_auth.clone())
            .encrypt(true, false),
    )
    .unwrap();
    assert!(s
        .state()
        .is_bound_to(parent.name.as_bytes(), parent_auth.as_bytes()));
    let secret = random_bytes(64);
    let seal_auth = pw("unseal-me");
    let slots = &mut [s.auth(&parent_auth)];
    let created = seal(&tpm, &parent, &seal_auth, &secret, slots);
    s.set_attributes(attrs(0));
    let sealed = load(&tpm, &parent, &created, s.auth(&parent_auth));
    // The same session, not bound to the sealed object: its auth goes into the HMAC key.
    s.set_attributes(attrs(SessionAttributes::ENCRYPT));
    assert_eq!(
        unseal(&tpm, &sealed, &mut [s.auth(&seal_auth)]).unwrap(),
        secret
    );
    drop(s);
    flush(&tpm, sealed.handle);
    flush(&tpm, parent.handle);
    assert_nothing_loaded(&tpm);
}

/// A session bound to an NV index stops counting as bound when the first write changes the
/// index's name; commands that use the new name still authorize (the auth value now goes
/// into the HMAC key).
#[test]
fn bound_session_follows_the_nv_name_change() {
    let (_sim, tpm) = swtpm();
    let auth = pw("bind-me");
    let nv = define_nv(
        &tpm,
        0x0150_0004,
        HashAlg::Sha256,
        NvAttributes::AUTHREAD | NvAttributes::AUTHWRITE | NvAttributes::NO_DA,
        &auth,
        &Digest::empty(),
        8,
    );
    let mut s = Session::start(
        &tpm,
        &SessionOptions::hmac()
            .bound(nv.clone(), auth.clone())
            .encrypt(true, false),
    )
    .unwrap();
    nv_write(&tpm, &nv, b"12345678", &mut [s.auth(&auth)]).unwrap();
    let written = tpm.nv_read_public(nv.handle).unwrap().0;
    assert_ne!(written.name, nv.name, "TPMA_NV_WRITTEN changes the name");
    assert!(!s
        .state()
        .is_bound_to(written.name.as_bytes(), auth.as_bytes()));
    s.set_attributes(attrs(SessionAttributes::ENCRYPT));
    assert_eq!(
        nv_read(&tpm, &written, 8, &mut [s.auth(&auth)]).unwrap(),
        b"12345678"
    );
    drop(s);
    undefine_nv(&tpm, &written);
}

const PERSISTENT: u32 = 0x8100_0001;

fn persist_rsa_key(tpm: &Tpm) -> Name {
    let (key, _) = create_primary(tpm, Public::rsa_2048_storage_parent(), &Auth::empty());
    let owner = Auth::empty();
    tpm.execute(
        &EvictControl {
            auth: Entity::owner(),
            object_handle: key.clone(),
            persistent_handle: Handle(PERSISTENT),
        },
        &mut [SessionSlot::Password(&owner)],
    )
    .unwrap();
    flush(tpm, key.handle);
    key.name
}

/// The name we compute for a persistent key equals what the TPM reports and what
/// `tpm2_readpublic -n` writes (raw name bytes, no size prefix).
#[test]
fn persistent_key_name_matches_tpm2_tools() {
    let (sim, tpm) = swtpm();
    let name = persist_rsa_key(&tpm);
    let (entity, public) = tpm.read_public(Handle(PERSISTENT)).unwrap();
    assert_eq!(entity.name, name);
    assert_eq!(object_name(&public).unwrap(), name);
    // swtpm serves one connection at a time: let the tool in, then reconnect.
    drop(tpm);

    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("key.name");
    let handle = format!("0x{PERSISTENT:08x}");
    let args = [
        "tpm2_readpublic",
        "-c",
        &handle,
        "-n",
        file.to_str().unwrap(),
    ];
    tpm2_tool(&sim.tcti(), &args);
    let tool_name = std::fs::read(&file).unwrap();
    assert_eq!(tool_name, name.as_bytes());
    assert_eq!(
        tool_name.len(),
        34,
        "nameAlg (2) + SHA-256 digest (32), no size field"
    );
}

/// A wrong expected name stops everything before a session is started.
#[test]
fn wrong_expected_salt_key_name_is_refused_before_any_session() {
    let (_sim, tpm, sent) = swtpm_counting();
    let name = persist_rsa_key(&tpm);
    let mut wrong = name.as_bytes().to_vec();
    wrong[10] ^= 1;
    let wrong = Name::new(&wrong).unwrap();

    let before = sent.load(Ordering::SeqCst);
    let err = SaltKey::verified(&tpm, Handle(PERSISTENT), &wrong).unwrap_err();
    match &err {
        Error::NameMismatch {
            handle,
            expected,
            actual,
        } => {
            assert_eq!(*handle, Handle(PERSISTENT));
            assert_eq!(**expected, wrong);
            assert_eq!(**actual, name);
        }
        other => panic!("expected NameMismatch, got {other}"),
    }
    assert_eq!(
        sent.load(Ordering::SeqCst) - before,
        1,
        "only ReadPublic was sent"
    );

    // With the right name: salt, start, and have the TPM confirm the key under the session.
    let key = SaltKey::verified(&tpm, Handle(PERSISTENT), &name).unwrap();
    let mut s = Session::start(&tpm, &SessionOptions::hmac().salted(key)).unwrap();
    s.confirm_salt_key().unwrap();
    let mut audit_only = Session::start(
        &tpm,
        &SessionOptions::hmac()
            .symmetric(Symmetric::Null)
            .salted(SaltKey::verified(&tpm, Handle(PERSISTENT), &name).unwrap()),
    )
    .unwrap();
    audit_only.confirm_salt_key().unwrap();
}

/// A salt key whose public area is not that of the key at its handle (as if a forged
/// ReadPublic answer slipped through). An RSA salt encrypted to the wrong key fails OAEP
/// decoding in the TPM, so StartAuthSession itself fails. An ECC one decodes to a different
/// salt: the session starts, but confirming the salt key fails because the TPM derived a
/// different session key. Either way nothing is protected with a key an attacker knows.
#[test]
fn substituted_salt_key_is_caught() {
    let (_sim, tpm) = swtpm();
    let (_other_sim, other) = swtpm();
    for template in [
        Public::rsa_2048_storage_parent(),
        Public::ecc_p256_storage_parent(),
    ] {
        let (real, _) = create_primary(&tpm, template.clone(), &Auth::empty());
        // The attacker's key of the same type, from another TPM.
        let (k, attacker) = create_primary(&other, template, &Auth::empty());
        flush(&other, k.handle);
        let forged = SaltKey::from_public(real.clone(), &attacker).unwrap();
        match Session::start(&tpm, &SessionOptions::hmac().salted(forged)) {
            Err(e) => {
                assert!(
                    matches!(attacker.key, tpm2_wire::wire::PublicKey::Rsa { .. }),
                    "{e}"
                );
                assert_eq!(e.response_code().unwrap().base_code(), TpmRc::VALUE, "{e}");
            }
            Ok(mut s) => {
                assert!(matches!(
                    attacker.key,
                    tpm2_wire::wire::PublicKey::Ecc { .. }
                ));
                let err = s.confirm_salt_key().unwrap_err();
                assert!(
                    matches!(&err, Error::Tpm { .. } | Error::Session { .. }),
                    "substitution must be caught: {err}"
                );
            }
        }
        flush(&tpm, real.handle);
    }
    assert_eq!(
        lockout_counter(&tpm),
        0,
        "a failed salt confirmation is not a DA failure"
    );
}

/// The salt's size and the KDFs follow the salt key's name algorithm, whatever the session's
/// own hash is.
#[test]
fn salt_keys_with_other_name_algorithms() {
    let (_sim, tpm) = swtpm();
    let auth = pw("nv-pass");
    let nv = written_nv(&tpm, 0x0150_0005, &auth, nv_auth_rw(), &[0; 32]);
    for template in [
        Public::rsa_2048_storage_parent(),
        Public::ecc_p256_storage_parent(),
    ] {
        for name_alg in [HashAlg::Sha1, HashAlg::Sha384] {
            let mut t = template.clone();
            t.name_alg = name_alg.alg_id();
            let (key, public) = create_primary(&tpm, t, &Auth::empty());
            let salt = SaltKey::from_public(key.clone(), &public).unwrap();
            assert_eq!(salt.name_alg(), name_alg);
            for session_hash in [HashAlg::Sha1, HashAlg::Sha256] {
                let mut s = Session::start(
                    &tpm,
                    &SessionOptions::hmac()
                        .hash(session_hash)
                        .salted(salt.clone())
                        .encrypt(true, false),
                )
                .unwrap();
                let secret = random_bytes(32);
                nv_write(&tpm, &nv, &secret, &mut [s.auth(&auth)]).unwrap_or_else(|e| {
                    panic!(
                        "{:?} key, nameAlg {name_alg:?}, session {session_hash:?}: {e}",
                        public.object_type()
                    )
                });
                s.set_attributes(attrs(SessionAttributes::ENCRYPT));
                assert_eq!(
                    nv_read(&tpm, &nv, 32, &mut [s.auth(&auth)]).unwrap(),
                    secret
                );
            }
            flush(&tpm, key.handle);
        }
    }
}

/// Dropping a session flushes it; a session the TPM ended (continueSession cleared) is known
/// to be closed and is not flushed a second time.
#[test]
fn sessions_are_flushed_once() {
    let (_sim, tpm, sent) = swtpm_counting();
    let s = Session::start(&tpm, &SessionOptions::hmac()).unwrap();
    assert_eq!(
        tpm.handles_in(HandleRange::LoadedSessions).unwrap(),
        vec![s.handle()]
    );
    drop(s);
    assert_nothing_loaded(&tpm);

    let s = Session::start(&tpm, &SessionOptions::policy()).unwrap();
    let mut last =
        Session::start(&tpm, &SessionOptions::hmac().symmetric(Symmetric::Null)).unwrap();
    last.set_attributes(SessionAttributes(SessionAttributes::AUDIT));
    tpm.execute(&GetRandom { bytes_requested: 4 }, &mut [last.extra()])
        .unwrap();
    assert!(last.state().is_closed(), "the TPM ended the session");
    let before = sent.load(Ordering::SeqCst);
    last.flush().unwrap();
    assert_eq!(
        sent.load(Ordering::SeqCst),
        before,
        "no FlushContext for a closed session"
    );
    s.flush().unwrap();
    assert_nothing_loaded(&tpm);
}

/// XOR parameter obfuscation whose hash differs from the session's hash.
#[test]
fn xor_with_a_hash_other_than_the_session_hash() {
    let (_sim, tpm) = swtpm();
    let auth = pw("nv-pass");
    let nv = written_nv(&tpm, 0x0150_0006, &auth, nv_auth_rw(), &[0; 32]);
    let salt = salt_key(&tpm, Salt::Ecc).unwrap();
    for (session_hash, xor_hash) in [
        (HashAlg::Sha256, HashAlg::Sha1),
        (HashAlg::Sha1, HashAlg::Sha384),
    ] {
        let mut s = Session::start(
            &tpm,
            &SessionOptions::hmac()
                .hash(session_hash)
                .symmetric(Symmetric::Xor(xor_hash))
                .salted(salt.clone())
                .encrypt(true, false),
        )
        .unwrap();
        let secret = random_bytes(32);
        nv_write(&tpm, &nv, &secret, &mut [s.auth(&auth)]).unwrap();
        s.set_attributes(attrs(0));
        let plain = nv_read(&tpm, &nv, 32, &mut [s.auth(&auth)]).unwrap();
        assert_eq!(
            plain, secret,
            "session {session_hash:?}, XOR {xor_hash:?}: command side"
        );
        s.set_attributes(attrs(SessionAttributes::ENCRYPT));
        let read = nv_read(&tpm, &nv, 32, &mut [s.auth(&auth)]).unwrap();
        assert_eq!(
            read, secret,
            "session {session_hash:?}, XOR {xor_hash:?}: response side"
        );
    }
    flush(&tpm, salt.entity().handle);
}

/// Changing the owner auth under an HMAC session (new value encrypted in transit), then
/// using it, then changing it back. A session bound to the owner stops being bound once the
/// owner's auth value changes.
#[test]
fn hierarchy_change_auth_under_sessions() {
    let (_sim, tpm) = swtpm();
    let salt = salt_key(&tpm, Salt::Ecc).unwrap();
    let old = Auth::empty();
    let new = pw("owner-secret");
    for bound in [false, true] {
        let mut opts = SessionOptions::hmac()
            .salted(salt.clone())
            .encrypt(true, false);
        if bound {
            opts = opts.bound(Entity::owner(), old.clone());
        }
        let mut s = Session::start(&tpm, &opts).unwrap();
        tpm.execute(
            &tpm2_wire::command::HierarchyChangeAuth {
                auth_handle: Entity::owner(),
                new_auth: new.clone(),
            },
            &mut [s.auth(&old)],
        )
        .unwrap_or_else(|e| panic!("bound={bound}: change: {e}"));
        // The new value works, by password and under the same session.
        s.set_attributes(attrs(0));
        let (k, _) = tpm
            .create_primary(
                &Entity::owner(),
                s.auth(&new),
                Public::ecc_p256_storage_parent(),
                &Auth::empty(),
            )
            .unwrap_or_else(|e| panic!("bound={bound}: use new auth: {e}"));
        flush(&tpm, k.handle);
        s.set_attributes(attrs(SessionAttributes::DECRYPT));
        tpm.execute(
            &tpm2_wire::command::HierarchyChangeAuth {
                auth_handle: Entity::owner(),
                new_auth: old.clone(),
            },
            &mut [s.auth(&new)],
        )
        .unwrap_or_else(|e| panic!("bound={bound}: change back: {e}"));
    }
    flush(&tpm, salt.entity().handle);
    assert_nothing_loaded(&tpm);
    assert_eq!(lockout_counter(&tpm), 0);
}

/// TPM2_Clear authorized by lockout under an HMAC session: Clear empties lockoutAuth, and
/// the TPM keys the response HMAC with that empty value.
#[test]
fn clear_under_an_hmac_session_with_lockout_auth() {
    let (_sim, tpm) = swtpm();
    let lockout = pw("lockout-secret");
    let salt = salt_key(&tpm, Salt::Ecc).unwrap();
    let mut s = Session::start(
        &tpm,
        &SessionOptions::hmac()
            .salted(salt.clone())
            .encrypt(true, false),
    )
    .unwrap();
    tpm.execute(
        &tpm2_wire::command::HierarchyChangeAuth {
            auth_handle: Entity::lockout(),
            new_auth: lockout.clone(),
        },
        &mut [SessionSlot::Password(&Auth::empty())],
    )
    .unwrap();
    s.set_attributes(attrs(0));
    tpm.execute(
        &tpm2_wire::command::Clear {
            auth_handle: Entity::lockout(),
        },
        &mut [s.auth(&lockout)],
    )
    .unwrap();
    // lockoutAuth is empty again: DictionaryAttackLockReset by empty password works.
    reset_lockout(&tpm);
    drop(s);
    assert_nothing_loaded(&tpm);
}

#[test]
fn nv_name_follows_the_written_attribute_offline() {
    use tpm2_wire::client::NvIndex;
    use tpm2_wire::session::engine::SessionSlot;
    use tpm2_wire::wire::{Auth, Digest, Handle, NvAttributes, NvPublic};
    let (_sim, tpm) = swtpm();
    let auth = pw("nvpw");
    let public = NvPublic {
        nv_index: Handle(0x0150_0042),
        name_alg: tpm2_wire::wire::AlgId::SHA256,
        attributes: NvAttributes::AUTHWRITE | NvAttributes::AUTHREAD | NvAttributes::NO_DA,
        auth_policy: Digest::empty(),
        data_size: 16,
    };
    let owner = Auth::empty();
    tpm.execute(
        &tpm2_wire::command::NvDefineSpace {
            auth_handle: tpm2_wire::command::Entity::owner(),
            auth: auth.clone(),
            public_info: tpm2_wire::wire::Tpm2bNvPublic(public.clone()),
        },
        &mut [SessionSlot::Password(&owner)],
    )
    .unwrap();
    let mut idx = NvIndex::new(public).unwrap();
    assert_eq!(
        idx.entity,
        tpm.nv_index(Handle(0x0150_0042)).unwrap().entity
    );
    let before = idx.entity.name.clone();
    // A bound HMAC session cares about the name: a stale one would fail the HMAC check.
    let mut s = Session::start(
        &tpm,
        &SessionOptions::hmac().bound(idx.entity.clone(), auth.clone()),
    )
    .unwrap();
    tpm.nv_write(None, &mut idx, b"0123456789abcdef", 0, &mut [s.auth(&auth)])
        .unwrap();
    assert_ne!(idx.entity.name, before, "TPMA_NV_WRITTEN changes the name");
    assert_eq!(
        idx.entity,
        tpm.nv_index(Handle(0x0150_0042)).unwrap().entity,
        "offline name equals the TPM's after the write"
    );
    tpm.nv_write(None, &mut idx, b"fedcba9876543210", 0, &mut [s.auth(&auth)])
        .unwrap();
}

#[test]
fn a_panic_while_holding_sessions_leaks_none() {
    let (_sim, tpm) = swtpm();
    let before = tpm.handles_in(HandleRange::LoadedSessions).unwrap();
    let t = tpm.clone();
    let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(move || {
        let _a = Session::start(&t, &SessionOptions::hmac()).unwrap();
        let _b = Session::start(&t, &SessionOptions::policy()).unwrap();
        panic!("the application fails while holding two sessions");
    }));
    assert!(r.is_err());
    let loaded = tpm.handles_in(HandleRange::LoadedSessions).unwrap();
    let saved = tpm.handles_in(HandleRange::SavedSessions).unwrap();
    assert_eq!(loaded, before, "unwinding flushed both sessions");
    assert!(saved.is_empty());
}
