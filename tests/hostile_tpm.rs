//! A hostile bus between the library and the TPM: a relay ([`tpm2_wire::sim::Relay`]) that
//! drops, truncates, delays, flips or rewrites chosen responses after the TPM has run the
//! command.
//!
//! The property that matters most: a session whose response was lost or could not be verified
//! is desynchronized (the TPM may have moved its nonces past ours). It must never reach the
//! TPM again, except to be flushed, and never be saved as usable: used again, its HMAC would
//! fail at the TPM and, for a DA-protected entity, count towards dictionary-attack lockout.

mod common;

use std::time::Duration;

use common::*;
use tpm2_wire::client::{SaltKey, Session, SessionOptions};
use tpm2_wire::command::{
    DictionaryAttackLockReset, Entity, GetRandom, PolicyAuthValue, PolicyCommandCode, Unseal,
};
use tpm2_wire::crypto::HashAlg;
use tpm2_wire::files::{EsysSession, SessionFile};
use tpm2_wire::registry::Registry;
use tpm2_wire::session::engine::SessionSlot;
use tpm2_wire::session::policy::PolicyCalculator;
use tpm2_wire::session::{SessionError, SessionState};
use tpm2_wire::sim::{Relay, Swtpm, Tamper};
use tpm2_wire::transport::{SwtpmTransport, Transport};
use tpm2_wire::wire::{Auth, CommandCode, Context, Handle, Public, SessionAttributes, TpmRc};
use tpm2_wire::{Error, Tpm};

/// A private swtpm, a relay in front of it, a client through the relay with a private
/// registry, and a direct client for checks the relay must not touch.
struct Rig {
    relay: Relay,
    tpm: Tpm,
    direct: Tpm,
    registry: Registry,
    dir: tempfile::TempDir,
    _sim: Swtpm,
}

impl Rig {
    /// A session through the relay that encrypts responses (the CLI's `random -S`).
    fn encrypting(&self, opts: SessionOptions) -> Session {
        Session::start(&self.tpm, &opts.encrypt(false, true)).unwrap()
    }
}

fn rig() -> Rig {
    let sim = Swtpm::spawn_unix().expect("swtpm must be installed (Debian package swtpm)");
    let relay = Relay::start(sim.endpoint()).expect("relay");
    let mut transport = SwtpmTransport::connect(relay.endpoint()).expect("connect to the relay");
    // Short enough that a held response times out quickly.
    transport.set_timeout(Duration::from_secs(2));
    let tpm = Tpm::new(Box::new(transport));
    let dir = tempfile::tempdir().unwrap();
    let registry = Registry::open(Some(&dir.path().join("registry"))).expect("registry");
    tpm.set_registry(Some(registry.clone()));
    let direct = Tpm::new(Box::new(sim.transport().expect("connect to swtpm")));
    Rig {
        relay,
        tpm,
        direct,
        registry,
        dir,
        _sim: sim,
    }
}

/// The two ways a response goes missing in the reproduction.
#[derive(Clone, Copy, Debug)]
enum Attack {
    /// The TPM ran the command; the client never sees the response.
    Drop,
    /// The last byte of the response HMAC is flipped.
    FlipHmac,
}

fn arm(relay: &Relay, code: CommandCode, attack: Attack) {
    relay.tamper(
        Some(code),
        match attack {
            Attack::Drop => Tamper::Drop,
            Attack::FlipHmac => Tamper::FlipFromEnd {
                from_end: 0,
                mask: 0x01,
            },
        },
    );
}

fn count(relay: &Relay, code: CommandCode) -> usize {
    relay.seen().iter().filter(|&&c| c == code).count()
}

fn is_desync_refusal(e: &Error, handle: Handle) -> bool {
    matches!(e, Error::Desynchronized { handle: h } if *h == handle)
}

fn assert_no_sessions(tpm: &Tpm) {
    assert_eq!(
        sessions_on(tpm),
        (vec![], vec![]),
        "sessions left (loaded, saved)"
    );
}

const GET_RANDOM: CommandCode = CommandCode::GET_RANDOM;
const ATTEMPTS: usize = 5;

/// A session bound to a DA-protected key, used to encrypt GetRandom's response (the CLI's
/// `random -S`): after a lost or tampered response it is never sent again, cannot be saved,
/// is flushed, and the lockout counter stays at 0 however often it is tried.
fn bound_session_after(attack: Attack) {
    let r = rig();
    let key_auth = pw("da-protected-key");
    // A primary storage key without noDA: failed authorizations of it count.
    let (key, _) = create_primary(&r.direct, Public::rsa_2048_storage_parent(), &key_auth);
    let mut s = r.encrypting(SessionOptions::hmac().bound(key.clone(), key_auth.clone()));
    let handle = s.handle();
    let random = GetRandom { bytes_requested: 8 };
    r.tpm.execute(&random, &mut [s.extra()]).expect("clean use");

    arm(&r.relay, GET_RANDOM, attack);
    let err = r.tpm.execute(&random, &mut [s.extra()]).unwrap_err();
    assert_eq!(r.relay.tampered(), 1, "{attack:?} applied");
    assert!(s.state().is_desynchronized(), "{attack:?}: {err}");
    let record = r
        .registry
        .get(&r.tpm.describe(), handle)
        .unwrap()
        .expect("the session's record");
    assert!(
        record.desynchronized.is_some(),
        "the record says what happened"
    );

    let sent = count(&r.relay, GET_RANDOM);
    for _ in 0..ATTEMPTS {
        let e = r.tpm.execute(&random, &mut [s.extra()]).unwrap_err();
        assert!(is_desync_refusal(&e, handle), "{e}");
    }
    assert_eq!(count(&r.relay, GET_RANDOM), sent, "never sent again");

    // Not saved as usable: the file is not written, and the session is flushed.
    let file = r.dir.path().join("bound.ctx");
    let e = s.save_to_file_with_bind_auth(&file).unwrap_err();
    assert!(
        matches!(e, Error::Desynchronized { handle: h } if h == handle),
        "{e}"
    );
    assert!(!file.exists());
    assert_no_sessions(&r.direct);
    assert!(r.registry.get(&r.tpm.describe(), handle).unwrap().is_none());
    assert_eq!(lockout_counter(&r.direct), 0);

    // The key is fine: a new session bound to it works through the same relay.
    let mut fresh = r.encrypting(SessionOptions::hmac().bound(key.clone(), key_auth));
    r.tpm.execute(&random, &mut [fresh.extra()]).unwrap();
    drop(fresh);
    assert_eq!(lockout_counter(&r.direct), 0);
    flush(&r.direct, key.handle);
}

#[test]
fn bound_session_after_a_dropped_response() {
    bound_session_after(Attack::Drop);
}

#[test]
fn bound_session_after_a_flipped_response_hmac() {
    bound_session_after(Attack::FlipHmac);
}

/// A DA-protected sealed object (auth value `auth`) under a fresh primary: (parent, sealed).
fn sealed_object(r: &Rig, auth: &Auth, secret: &[u8]) -> (Entity, Entity) {
    let empty = Auth::empty();
    let (parent, _) = create_primary(&r.direct, Public::rsa_2048_storage_parent(), &empty);
    let created = seal(
        &r.direct,
        &parent,
        auth,
        secret,
        &mut [SessionSlot::Password(&empty)],
    );
    let sealed = load(&r.direct, &parent, &created, SessionSlot::Password(&empty));
    (parent, sealed)
}

/// A session authorizing Unseal of a DA-protected sealed object.
fn authorizing_session_after(attack: Attack) {
    let r = rig();
    let seal_auth = pw("sealed-secret-auth");
    let secret = random_bytes(24);
    let (parent, sealed) = sealed_object(&r, &seal_auth, &secret);
    let unseal = Unseal {
        item_handle: sealed.clone(),
    };

    let mut s = Session::start(&r.tpm, &SessionOptions::hmac()).unwrap();
    let handle = s.handle();
    let out = r.tpm.execute(&unseal, &mut [s.auth(&seal_auth)]).unwrap();
    assert_eq!(out.out_data.as_bytes(), &secret[..]);

    arm(&r.relay, CommandCode::UNSEAL, attack);
    let err = r
        .tpm
        .execute(&unseal, &mut [s.auth(&seal_auth)])
        .unwrap_err();
    assert!(s.state().is_desynchronized(), "{attack:?}: {err}");
    let sent = count(&r.relay, CommandCode::UNSEAL);
    for _ in 0..ATTEMPTS {
        let e = r
            .tpm
            .execute(&unseal, &mut [s.auth(&seal_auth)])
            .unwrap_err();
        assert!(is_desync_refusal(&e, handle), "{e}");
    }
    assert_eq!(count(&r.relay, CommandCode::UNSEAL), sent);
    let e = s.save().unwrap_err();
    assert!(matches!(e, Error::Desynchronized { .. }), "{e}");
    assert_no_sessions(&r.direct);
    assert_eq!(lockout_counter(&r.direct), 0);

    let mut fresh = Session::start(&r.tpm, &SessionOptions::hmac()).unwrap();
    let out = r
        .tpm
        .execute(&unseal, &mut [fresh.auth(&seal_auth)])
        .unwrap();
    assert_eq!(out.out_data.as_bytes(), &secret[..]);
    drop(fresh);
    assert_eq!(lockout_counter(&r.direct), 0);
    flush(&r.direct, sealed.handle);
    flush(&r.direct, parent.handle);
}

#[test]
fn authorizing_session_after_a_dropped_response() {
    authorizing_session_after(Attack::Drop);
}

#[test]
fn authorizing_session_after_a_flipped_response_hmac() {
    authorizing_session_after(Attack::FlipHmac);
}

/// Every other way a response can fail before it is verified desynchronizes the sessions too:
/// a truncated frame, a frame whose size lies, a response held past the timeout, garbage, and
/// a success stripped of its authorization area.
#[test]
fn every_unverified_failure_desynchronizes() {
    let r = rig();
    let salt = salt_key(&r.direct, Salt::Ecc).unwrap();
    let random = GetRandom {
        bytes_requested: 16,
    };
    let attacks: Vec<(&str, Tamper)> = vec![
        ("truncated", Tamper::Truncate(20)),
        // Just past the client's 2 s timeout, so the flush that follows is served in time.
        (
            "held past the timeout",
            Tamper::Delay(Duration::from_secs(3)),
        ),
        (
            "garbage",
            Tamper::Rewrite(Box::new(|rsp: &[u8]| vec![0xA5; rsp.len()])),
        ),
        (
            "size field lies",
            Tamper::Rewrite(Box::new(|rsp: &[u8]| {
                let mut v = rsp.to_vec();
                v[2..6].copy_from_slice(&(rsp.len() as u32 + 100).to_be_bytes());
                v
            })),
        ),
        (
            "authorization area stripped",
            Tamper::Rewrite(Box::new(|rsp: &[u8]| {
                // TPM_ST_NO_SESSIONS, parameters only: header + the TPM2B of random bytes.
                let n = u16::from_be_bytes([rsp[14], rsp[15]]) as usize;
                let mut v = rsp[..16 + n].to_vec();
                v[0..2].copy_from_slice(&0x8001u16.to_be_bytes());
                // No parameterSize without sessions.
                v.splice(10..14, []);
                let len = v.len() as u32;
                v[2..6].copy_from_slice(&len.to_be_bytes());
                v
            })),
        ),
    ];
    for (what, tamper) in attacks {
        let mut s = r.encrypting(SessionOptions::hmac().salted(salt.clone()));
        r.tpm.execute(&random, &mut [s.extra()]).expect("clean use");
        r.relay.tamper(Some(GET_RANDOM), tamper);
        let err = r.tpm.execute(&random, &mut [s.extra()]).unwrap_err();
        assert_eq!(r.relay.pending(), 0, "{what}: applied");
        assert!(s.state().is_desynchronized(), "{what}: {err}");
        let e = r.tpm.execute(&random, &mut [s.extra()]).unwrap_err();
        assert!(is_desync_refusal(&e, s.handle()), "{what}: {e}");
        assert!(
            matches!(s.save(), Err(Error::Desynchronized { .. })),
            "{what}"
        );
        assert_no_sessions(&r.direct);
    }
    flush(&r.direct, salt.entity().handle);
}

/// A TPM error code is not a lost response: the TPM rolls no nonce for a failed command, so
/// the session stays usable (and is saved back by the CLI).
#[test]
fn a_tpm_error_code_keeps_the_session() {
    let r = rig();
    let seal_auth = pw("right");
    let (parent, sealed) = sealed_object(&r, &seal_auth, b"x");
    let mut s = Session::start(&r.tpm, &SessionOptions::hmac()).unwrap();
    let unseal = Unseal {
        item_handle: sealed.clone(),
    };
    let e = r
        .tpm
        .execute(&unseal, &mut [s.auth(&pw("wrong"))])
        .unwrap_err();
    assert!(e.response_code().is_some(), "{e}");
    assert!(!s.state().is_desynchronized());
    r.tpm.execute(&unseal, &mut [s.auth(&seal_auth)]).unwrap();
    let saved = s.save().expect("a session in step can be saved");
    r.tpm.load_session(saved).unwrap().flush().unwrap();
    reset_lockout(&r.direct);
    flush(&r.direct, sealed.handle);
    flush(&r.direct, parent.handle);
}

/// The steward never reloads, parks or re-gaps a desynchronized session: a guarded session
/// (parked between uses) that loses a response stays loaded until it is flushed.
#[test]
fn the_steward_never_parks_a_desynchronized_session() {
    let r = rig();
    let salt = salt_key(&r.direct, Salt::Rsa).unwrap();
    let mut s = r.encrypting(SessionOptions::hmac().salted(salt.clone()));
    s.set_guarded(true).unwrap();
    assert!(s.is_parked());
    let random = GetRandom { bytes_requested: 8 };
    r.tpm.execute(&random, &mut [s.extra()]).unwrap();
    assert!(s.is_parked(), "guarded: parked again after use");
    arm(&r.relay, GET_RANDOM, Attack::Drop);
    r.tpm.execute(&random, &mut [s.extra()]).unwrap_err();
    assert!(!s.is_parked(), "a desynchronized session is not parked");
    let saves = count(&r.relay, CommandCode::CONTEXT_SAVE);
    let loads = count(&r.relay, CommandCode::CONTEXT_LOAD);
    assert!(r.tpm.execute(&random, &mut [s.extra()]).is_err());
    assert!(s.park().is_err());
    assert!(s.set_guarded(true).is_err());
    assert_eq!(count(&r.relay, CommandCode::CONTEXT_SAVE), saves);
    assert_eq!(count(&r.relay, CommandCode::CONTEXT_LOAD), loads);
    drop(s);
    assert_no_sessions(&r.direct);
    flush(&r.direct, salt.entity().handle);
}

// ---------------------------------------------------------------------------------------------
// Forged answers the library must catch.

/// The offsets of ReadPublic's outPublic and name in a response frame without sessions.
fn read_public_parts(rsp: &[u8]) -> (&[u8], &[u8], &[u8]) {
    let pub_len = u16::from_be_bytes([rsp[10], rsp[11]]) as usize;
    let out_public = &rsp[10..12 + pub_len];
    let at = 12 + pub_len;
    let name_len = u16::from_be_bytes([rsp[at], rsp[at + 1]]) as usize;
    let name = &rsp[at..at + 2 + name_len];
    (out_public, name, &rsp[at + 2 + name_len..])
}

/// An interposer answers ReadPublic of the trusted key with its own key's public area and the
/// trusted key's name. `SaltKey::verified` must refuse it: the name is checked against the
/// hash of the public area actually returned, so a salt is never encrypted to the
/// interposer's key.
#[test]
fn a_forged_read_public_answer_is_refused() {
    let r = rig();
    let empty = Auth::empty();
    let (trusted, _) = create_primary(&r.direct, Public::rsa_2048_storage_parent(), &empty);
    let (attacker, _) = create_primary(&r.direct, Public::ecc_p256_storage_parent(), &empty);
    let raw = |h: Handle| {
        let mut cmd = vec![0x80, 0x01, 0, 0, 0, 14, 0, 0, 0x01, 0x73];
        cmd.extend_from_slice(&h.0.to_be_bytes());
        r.direct.transact_raw(&cmd).unwrap()
    };
    let attacker_rsp = raw(attacker.handle);
    let attacker_public = read_public_parts(&attacker_rsp).0.to_vec();
    r.relay.tamper(
        Some(CommandCode::READ_PUBLIC),
        Tamper::Rewrite(Box::new(move |rsp: &[u8]| {
            let (_, name, rest) = read_public_parts(rsp);
            let mut v = rsp[..10].to_vec();
            v.extend_from_slice(&attacker_public);
            v.extend_from_slice(name);
            v.extend_from_slice(rest);
            let len = v.len() as u32;
            v[2..6].copy_from_slice(&len.to_be_bytes());
            v
        })),
    );
    let e = SaltKey::verified(&r.tpm, trusted.handle, &trusted.name).unwrap_err();
    assert_eq!(r.relay.tampered(), 1);
    assert!(matches!(e, Error::NameMismatch { .. }), "{e}");

    // A forged name with the true public area is refused as well.
    r.relay.tamper(
        Some(CommandCode::READ_PUBLIC),
        Tamper::FlipFromEnd {
            // The last byte of the name; the qualified name (2 + 34 bytes) follows it.
            from_end: 36,
            mask: 0x80,
        },
    );
    let e = r.tpm.read_public(trusted.handle).unwrap_err();
    assert!(matches!(e, Error::NameMismatch { .. }), "{e}");
    // Untampered, both agree.
    assert_eq!(
        r.tpm.read_public(trusted.handle).unwrap().0.name,
        trusted.name
    );
    flush(&r.direct, trusted.handle);
    flush(&r.direct, attacker.handle);
}

/// A parked session whose ContextLoad answer names another handle is not ours any more: the
/// steward reports it lost and never sends an HMAC with it.
#[test]
fn a_reload_at_another_handle_is_a_lost_session() {
    let r = rig();
    let mut s = Session::start(&r.tpm, &SessionOptions::audit()).unwrap();
    let handle = s.handle();
    s.park().unwrap();
    r.relay.tamper(
        Some(CommandCode::CONTEXT_LOAD),
        Tamper::Rewrite(Box::new(move |rsp: &[u8]| {
            let mut v = rsp.to_vec();
            v[10..14].copy_from_slice(&(handle.0 + 1).to_be_bytes());
            v
        })),
    );
    let randoms = count(&r.relay, GET_RANDOM);
    let flushes = count(&r.relay, CommandCode::FLUSH_CONTEXT);
    let e = r
        .tpm
        .execute(&GetRandom { bytes_requested: 8 }, &mut [s.extra()])
        .unwrap_err();
    assert_eq!(r.relay.tampered(), 1);
    assert!(
        matches!(e, Error::SessionLost { handle: h, .. } if h == handle),
        "{e}"
    );
    assert_eq!(count(&r.relay, GET_RANDOM), randoms, "no HMAC sent");
    // The handle the forged answer names may be a stranger's: it is not flushed.
    drop(s);
    assert_eq!(count(&r.relay, CommandCode::FLUSH_CONTEXT), flushes);
    assert_eq!(lockout_counter(&r.direct), 0);
}

// ---------------------------------------------------------------------------------------------
// A passive observer of the bus.

/// Parameter encryption is refused on every session whose key anyone who saw the nonces
/// could derive: unsalted and unbound, bound to an entity with an empty auth value, and such a
/// session continued from a file.
#[test]
fn encryption_with_a_derivable_key_is_refused() {
    let r = rig();
    let empty = Auth::empty();
    let (key, _) = create_primary(&r.direct, Public::rsa_2048_storage_parent(), &empty);
    let random = GetRandom { bytes_requested: 8 };
    let refused = |s: &mut Session, what: &str| {
        let randoms = count(&r.relay, GET_RANDOM);
        let e = r.tpm.execute(&random, &mut [s.extra()]).unwrap_err();
        assert!(
            matches!(
                e,
                Error::Session {
                    source: SessionError::EmptyKeyEncryption(_),
                    ..
                }
            ),
            "{what}: {e}"
        );
        assert_eq!(count(&r.relay, GET_RANDOM), randoms, "{what}: nothing sent");
    };

    let mut plain = r.encrypting(SessionOptions::hmac());
    assert!(!plain.state().has_secret_key());
    refused(&mut plain, "unsalted, unbound");

    let mut bound_empty = r.encrypting(SessionOptions::hmac().bound(key.clone(), Auth::empty()));
    // Its key is not empty (KDFa of the nonces), but anyone can compute it.
    assert!(!bound_empty.state().session_key().is_empty());
    assert!(!bound_empty.state().has_secret_key());
    refused(&mut bound_empty, "bound to an empty auth value");

    let file = r.dir.path().join("plain.ctx");
    plain.save_to_file(&file).unwrap();
    let mut reloaded = r.tpm.load_session_file(&file).unwrap();
    refused(&mut reloaded, "unsalted, from a file");

    // The opt-in is what permits it.
    reloaded.allow_unprotected_encryption();
    r.tpm.execute(&random, &mut [reloaded.extra()]).unwrap();
    drop((reloaded, bound_empty));
    flush(&r.direct, key.handle);
}

/// The relay itself: untampered traffic passes unchanged (a check of the harness, so a broken
/// relay cannot make the tests above pass for the wrong reason).
#[test]
fn the_relay_passes_clean_traffic() {
    let r = rig();
    let mut s = Session::start(&r.tpm, &SessionOptions::audit()).unwrap();
    assert!(s.state().attributes().contains(SessionAttributes::AUDIT));
    for _ in 0..20 {
        random_through(&r.tpm, &mut s, 32);
    }
    assert_eq!(count(&r.relay, GET_RANDOM), 20);
    assert_eq!(r.relay.tampered(), 0);
    let host = s.state().audit_digest().cloned().expect("audited");
    assert_eq!(tpm_session_audit_digest(&r.direct, s.handle()), host);
    drop(s);
    assert_no_sessions(&r.direct);
}

/// A session file that cannot be written (its directory is a regular file: refused even for
/// root) strands nothing: the session, already context-saved, is loaded back and flushed.
#[test]
fn a_failed_session_file_write_leaves_no_session() {
    let r = rig();
    let salt = salt_key(&r.direct, Salt::Ecc).unwrap();
    let not_a_dir = r.dir.path().join("plain-file");
    std::fs::write(&not_a_dir, b"x").unwrap();
    let s = Session::start(&r.tpm, &SessionOptions::hmac().salted(salt.clone())).unwrap();
    let handle = s.handle();
    let e = s.save_to_file(&not_a_dir.join("s.ctx")).unwrap_err();
    assert!(matches!(e, Error::File(_)), "{e}");
    assert_no_sessions(&r.direct);
    assert!(r.registry.get(&r.tpm.describe(), handle).unwrap().is_none());
    flush(&r.direct, salt.entity().handle);
}

// ---------------------------------------------------------------------------------------------
// Policy commands carry their session as a handle, not in an authorization slot.

/// A DA-protected sealed object (auth value `auth`) that only PolicyAuthValue opens:
/// (parent, sealed).
fn auth_value_sealed(r: &Rig, auth: &Auth) -> (Entity, Entity) {
    let empty = Auth::empty();
    let (parent, _) = create_primary(&r.direct, Public::rsa_2048_storage_parent(), &empty);
    let mut calc = PolicyCalculator::new(HashAlg::Sha256);
    calc.policy_auth_value();
    let sealed = policy_sealed(&r.direct, &parent, calc.digest(), auth, b"policy secret");
    (parent, sealed)
}

/// The response to a policy command is lost after the TPM ran it: the TPM may now expect
/// the object's auth value in the next HMAC (PolicyAuthValue) while the host does not know.
/// The session is desynchronized like one that lost an authorization's response: it never
/// authorizes, is never context-saved or saved to a file, and only FlushContext reaches the
/// TPM for it. Through the `Session` method and through `Tpm::run` of the command itself.
#[test]
fn a_policy_command_that_lost_its_response_desynchronizes_its_session() {
    let r = rig();
    let auth = pw("policy-object-auth");
    let (parent, sealed) = auth_value_sealed(&r, &auth);
    let unseal = Unseal {
        item_handle: sealed.clone(),
    };
    for direct_command in [false, true] {
        let mut s = Session::start(&r.tpm, &SessionOptions::policy()).unwrap();
        let handle = s.handle();
        arm(&r.relay, CommandCode::POLICY_AUTH_VALUE, Attack::Drop);
        let err = if direct_command {
            r.tpm
                .run(&PolicyAuthValue {
                    policy_session: s.entity(),
                })
                .unwrap_err()
        } else {
            s.policy_auth_value().unwrap_err()
        };
        assert!(err.response_code().is_none(), "{err}");
        assert!(s.state().is_desynchronized(), "{err}");
        assert!(s.state().record().desynchronized, "the record says so");
        let record = r
            .registry
            .get(&r.tpm.describe(), handle)
            .unwrap()
            .expect("the session's record");
        assert!(record.desynchronized.is_some(), "the registry says so");

        let seen = r.relay.seen().len();
        for _ in 0..ATTEMPTS {
            let e = r.tpm.execute(&unseal, &mut [s.auth(&auth)]).unwrap_err();
            assert!(is_desync_refusal(&e, handle), "{e}");
        }
        let e = r
            .tpm
            .run(&PolicyCommandCode {
                policy_session: s.entity(),
                code: CommandCode::UNSEAL,
            })
            .unwrap_err();
        assert!(is_desync_refusal(&e, handle), "{e}");
        let e = r.tpm.context_save(handle).unwrap_err();
        assert!(is_desync_refusal(&e, handle), "{e}");
        assert_eq!(
            r.relay.seen().len(),
            seen,
            "nothing sent: {:?}",
            r.relay.seen()
        );

        let e = s.save().unwrap_err();
        assert!(matches!(e, Error::Desynchronized { .. }), "{e}");
        assert_no_sessions(&r.direct);
        assert_eq!(lockout_counter(&r.direct), 0);
    }

    // The object opens with a session that saw every response.
    let mut s = Session::start(&r.tpm, &SessionOptions::policy()).unwrap();
    s.policy_auth_value().unwrap();
    let out = r.tpm.execute(&unseal, &mut [s.auth(&auth)]).unwrap();
    assert_eq!(out.out_data.as_bytes(), b"policy secret");
    drop(s);
    assert_eq!(lockout_counter(&r.direct), 0);
    flush(&r.direct, sealed.handle);
    flush(&r.direct, parent.handle);
}

/// The laundering path: a desynchronized session's record restored into a new state,
/// adopted, context-saved and written to a file, then used on another connection. The flag
/// travels with the record, the steward refuses the desynchronized handle in a ContextSave,
/// and no file writer takes such a state; the lockout counter stays at 0.
#[test]
fn a_desynchronized_session_cannot_be_laundered() {
    let r = rig();
    let key_auth = pw("da-protected-key");
    let (key, _) = create_primary(&r.direct, Public::rsa_2048_storage_parent(), &key_auth);
    let mut s = r.encrypting(SessionOptions::hmac().bound(key.clone(), key_auth.clone()));
    let handle = s.handle();
    let random = GetRandom { bytes_requested: 8 };
    arm(&r.relay, GET_RANDOM, Attack::Drop);
    r.tpm.execute(&random, &mut [s.extra()]).unwrap_err();
    assert!(s.state().is_desynchronized());

    let restored = SessionState::restore(s.state().record());
    assert!(restored.is_desynchronized(), "restore keeps the flag");
    let context = Context {
        sequence: 1,
        saved_handle: handle,
        hierarchy: Handle::RH_NULL,
        context_blob: Default::default(),
    };
    assert!(matches!(
        SessionFile::from_state(context.clone(), &restored),
        Err(SessionError::Desynchronized(h)) if h == handle
    ));
    assert!(EsysSession::from_state(&restored).is_err());

    let seen = r.relay.seen().len();
    let e = r.tpm.context_save(handle).unwrap_err();
    assert!(is_desync_refusal(&e, handle), "{e}");
    assert_eq!(r.relay.seen().len(), seen, "no ContextSave was sent");

    // A record with the flag cleared by hand, adopted on the connection that knows better.
    let mut cleared = s.state().record();
    cleared.desynchronized = false;
    let mut adopted = Session::adopt(&r.tpm, SessionState::restore(cleared));
    assert!(adopted.state().is_desynchronized());
    let e = r.tpm.execute(&random, &mut [adopted.extra()]).unwrap_err();
    assert!(is_desync_refusal(&e, handle), "{e}");
    assert!(matches!(adopted.save(), Err(Error::Desynchronized { .. })));
    // Refused, and flushed as it dropped: a FlushContext is all that was sent for it.
    assert_eq!(
        r.relay.seen()[seen..],
        [CommandCode::FLUSH_CONTEXT],
        "only a flush was sent"
    );
    drop(s);
    assert_no_sessions(&r.direct);
    assert_eq!(lockout_counter(&r.direct), 0);
    flush(&r.direct, key.handle);
}

// ---------------------------------------------------------------------------------------------
// Forged error responses: an error carries no authorization, so it cannot be verified.

/// A response frame with no parameters and this response code.
fn error_frame(rc: u32) -> Vec<u8> {
    let mut v = vec![0x80, 0x01, 0, 0, 0, 10];
    v.extend_from_slice(&rc.to_be_bytes());
    v
}

fn forge(relay: &Relay, code: CommandCode, rc: u32) {
    relay.tamper(
        Some(code),
        Tamper::Rewrite(Box::new(move |_| error_frame(rc))),
    );
}

/// A success rewritten as TPM_RC_RETRY: the library resends the same frame, whose HMAC the
/// TPM (having rolled its nonce) rejects. That resend is the one authorization a forged
/// warning can cost; the session is then desynchronized, so no second one follows.
#[test]
fn a_forged_retry_desynchronizes_the_resent_sessions() {
    let r = rig();
    let seal_auth = pw("right");
    let (parent, sealed) = sealed_object(&r, &seal_auth, b"x");
    let unseal = Unseal {
        item_handle: sealed.clone(),
    };
    let mut s = Session::start(&r.tpm, &SessionOptions::hmac()).unwrap();
    let handle = s.handle();
    forge(&r.relay, CommandCode::UNSEAL, TpmRc::RETRY.0);
    let e = r
        .tpm
        .execute(&unseal, &mut [s.auth(&seal_auth)])
        .unwrap_err();
    assert_eq!(count(&r.relay, CommandCode::UNSEAL), 2, "sent, then resent");
    assert!(
        e.response_code().is_some(),
        "the TPM's answer to the resend: {e}"
    );
    assert!(s.state().is_desynchronized(), "{e}");
    let counted = lockout_counter(&r.direct);
    for _ in 0..ATTEMPTS {
        let e = r
            .tpm
            .execute(&unseal, &mut [s.auth(&seal_auth)])
            .unwrap_err();
        assert!(is_desync_refusal(&e, handle), "{e}");
    }
    assert_eq!(count(&r.relay, CommandCode::UNSEAL), 2, "never sent again");
    assert_eq!(lockout_counter(&r.direct), counted);
    drop(s);
    reset_lockout(&r.direct);
    flush(&r.direct, sealed.handle);
    flush(&r.direct, parent.handle);
}

/// A success rewritten as an error, for a session authorizing the lockout hierarchy (whose
/// failed authorization locks it for the whole recovery time) or sent with continueSession
/// clear (given up by its owner): the outcome is taken as unknown and the session
/// desynchronized, so its stale HMAC never reaches the TPM.
#[test]
fn a_forged_error_desynchronizes_where_doubt_costs_nothing() {
    let r = rig();
    let lockout = Auth::empty();
    let reset = DictionaryAttackLockReset {
        lock_handle: Entity::lockout(),
    };
    let mut s = Session::start(&r.tpm, &SessionOptions::hmac()).unwrap();
    r.tpm
        .execute(&reset, &mut [s.auth(&lockout)])
        .expect("clean use");
    forge(
        &r.relay,
        CommandCode::DICTIONARY_ATTACK_LOCK_RESET,
        TpmRc::VALUE.0,
    );
    let e = r.tpm.execute(&reset, &mut [s.auth(&lockout)]).unwrap_err();
    assert!(e.response_code().is_some(), "{e}");
    assert!(s.state().is_desynchronized(), "lockout: {e}");
    let e = r.tpm.execute(&reset, &mut [s.auth(&lockout)]).unwrap_err();
    assert!(is_desync_refusal(&e, s.handle()), "{e}");
    drop(s);
    // The lockout hierarchy still takes its auth value.
    reset_lockout(&r.direct);

    let seal_auth = pw("right");
    let (parent, sealed) = sealed_object(&r, &seal_auth, b"x");
    let unseal = Unseal {
        item_handle: sealed.clone(),
    };
    let mut s = Session::start(&r.tpm, &SessionOptions::hmac()).unwrap();
    s.set_attributes(SessionAttributes::default());
    forge(&r.relay, CommandCode::UNSEAL, TpmRc::VALUE.0);
    let e = r
        .tpm
        .execute(&unseal, &mut [s.auth(&seal_auth)])
        .unwrap_err();
    assert!(s.state().is_desynchronized(), "continueSession clear: {e}");
    drop(s);
    assert_no_sessions(&r.direct);
    assert_eq!(lockout_counter(&r.direct), 0);
    flush(&r.direct, sealed.handle);
    flush(&r.direct, parent.handle);
}

/// Elsewhere an error response is taken as the TPM's (the TPM rolls no nonce for a failed
/// command, and doubting every refusal would end a session at each one): a forged error over
/// a success leaves the host one nonce behind. This pins that documented limit: the session
/// stays usable on the host, and its next authorization fails at the TPM, as it would had the
/// bus altered that command in flight.
#[test]
fn a_forged_ordinary_error_is_taken_as_the_tpms() {
    let r = rig();
    let seal_auth = pw("right");
    let (parent, sealed) = sealed_object(&r, &seal_auth, b"x");
    let unseal = Unseal {
        item_handle: sealed.clone(),
    };
    let mut s = Session::start(&r.tpm, &SessionOptions::hmac()).unwrap();
    forge(&r.relay, CommandCode::UNSEAL, TpmRc::VALUE.0);
    let e = r
        .tpm
        .execute(&unseal, &mut [s.auth(&seal_auth)])
        .unwrap_err();
    assert_eq!(
        e.response_code().map(|rc| rc.0),
        Some(TpmRc::VALUE.0),
        "{e}"
    );
    assert!(!s.state().is_desynchronized());
    let e = r
        .tpm
        .execute(&unseal, &mut [s.auth(&seal_auth)])
        .unwrap_err();
    assert!(
        e.response_code().is_some(),
        "the TPM refuses the stale HMAC: {e}"
    );
    drop(s);
    reset_lockout(&r.direct);
    flush(&r.direct, sealed.handle);
    flush(&r.direct, parent.handle);
}
