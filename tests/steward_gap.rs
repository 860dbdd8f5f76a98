//! TPM_RC_CONTEXT_GAP: an old saved session blocks ContextSave once the TPM's context counter
//! is TPM_PT_CONTEXT_GAP_MAX ahead of it, unless it is re-gapped (loaded and saved again).

mod common;

use std::time::Instant;

use common::*;
use tpm2_wire::client::{SavedSession, Session, SessionOptions};
use tpm2_wire::command::GetRandom;
use tpm2_wire::sim::Swtpm;
use tpm2_wire::steward::{StewardPolicy, StewardStats};
use tpm2_wire::wire::{PropertyTag, TpmRc};
use tpm2_wire::{Error, Tpm};

/// One kept-open connection: 130,000 commands in seconds rather than minutes.
fn fast(sim: &Swtpm) -> Tpm {
    let mut t = sim.transport().unwrap();
    t.set_connection_per_command(false);
    Tpm::new(Box::new(t))
}

fn gap_max(tpm: &Tpm) -> u64 {
    tpm.property(PropertyTag::CONTEXT_GAP_MAX)
        .unwrap()
        .expect("TPM_PT_CONTEXT_GAP_MAX reported")
        .into()
}

/// Other work: saves and reloads another session `n` times (one ContextSave each). Stops
/// at the first error and returns it with the number of rounds done.
fn churn(tpm: &Tpm, saved: SavedSession, n: u64) -> (Option<SavedSession>, u64, Option<Error>) {
    let mut saved = saved;
    for i in 0..n {
        let s = match tpm.load_session(saved) {
            Ok(s) => s,
            Err(e) => return (None, i, Some(e)),
        };
        saved = match s.save() {
            Ok(x) => x,
            Err(e) => return (None, i, Some(e)),
        };
    }
    (Some(saved), n, None)
}

/// The old session still works: an audited GetRandom.
fn use_audit_session(tpm: &Tpm, s: &mut Session) {
    let r = tpm.execute(&GetRandom { bytes_requested: 8 }, &mut [s.extra()]);
    assert_eq!(r.unwrap().random_bytes.len(), 8);
}

fn finish(tpm: &Tpm, saved: SavedSession) {
    tpm.load_session(saved).unwrap().flush().unwrap();
}

/// An audit session, parked (saved and flushed by the steward).
fn parked_audit_session(tpm: &Tpm) -> Session {
    let mut s = Session::start(tpm, &SessionOptions::audit()).unwrap();
    s.park().unwrap();
    s
}

/// An HMAC session saved by its user.
fn saved_hmac_session(tpm: &Tpm) -> SavedSession {
    let s = Session::start(tpm, &SessionOptions::hmac()).unwrap();
    s.save().unwrap()
}

/// A parked audit session while another session is saved TPM_PT_CONTEXT_GAP_MAX + 500 times,
/// under `policy` (the default if none): no save may fail, and the old session must work
/// afterwards. Returns the steward's statistics after the churn and whether the old session
/// was still parked then.
fn parked_through_churn(policy: Option<StewardPolicy>) -> (StewardStats, bool) {
    let sim = Swtpm::spawn_unix().unwrap();
    let tpm = fast(&sim);
    let max = gap_max(&tpm);
    if let Some(policy) = policy {
        tpm.set_steward_policy(policy);
    }
    let mut old = parked_audit_session(&tpm);
    let other = saved_hmac_session(&tpm);

    let t = Instant::now();
    let (other, rounds, err) = churn(&tpm, other, max + 500);
    let stats = tpm.steward_stats();
    eprintln!(
        "{rounds} ContextLoad+ContextSave rounds in {:?} (TPM_PT_CONTEXT_GAP_MAX = {max:#x}), stats {stats:?}",
        t.elapsed()
    );
    assert!(err.is_none(), "{err:?}");
    let parked = old.is_parked();
    use_audit_session(&tpm, &mut old);
    old.flush().unwrap();
    finish(&tpm, other.unwrap());
    assert_nothing_loaded(&tpm);
    (stats, parked)
}

#[test]
fn parked_session_is_regapped_proactively() {
    let (stats, parked) = parked_through_churn(None);
    assert!(stats.regapped >= 1, "the old session was re-gapped");
    assert!(parked, "re-gapping leaves it parked");
}

#[test]
fn parked_session_is_regapped_on_context_gap() {
    // Never proactively: only the TPM's refusal triggers the re-gap.
    let (stats, _) = parked_through_churn(Some(StewardPolicy {
        regap_threshold: Some(u64::MAX),
        regap_every: None,
        ..StewardPolicy::default()
    }));
    assert_eq!(stats.regapped, 1, "re-gapped once, on 0x901");
}

#[test]
fn tpm_refuses_without_regap_and_user_held_session_is_regapped_on_request() {
    let sim = Swtpm::spawn_unix().unwrap();
    let tpm = fast(&sim);
    let max = gap_max(&tpm);
    tpm.set_steward_policy(StewardPolicy {
        regap: false,
        ..StewardPolicy::default()
    });
    // Held by the user, outside the steward's table.
    let mut old = Session::start(&tpm, &SessionOptions::audit())
        .unwrap()
        .save()
        .unwrap();
    let other = saved_hmac_session(&tpm);
    let (_, rounds, err) = churn(&tpm, other, max + 500);
    let rc = err
        .expect("the TPM must refuse a ContextSave too far ahead of the old context")
        .response_code();
    assert_eq!(
        rc.map(|rc| rc.base_code()),
        Some(TpmRc::CONTEXT_GAP),
        "{rc:?}"
    );
    eprintln!("ContextSave refused with {rc:?} after {rounds} rounds");
    assert!(rounds < max + 1, "refused within the gap");
    // The refused session was flushed when its Session dropped; the TPM still has room for
    // a new one, but cannot save it until the old context is re-gapped.
    let fresh = Session::start(&tpm, &SessionOptions::hmac()).unwrap();
    let fresh_handle = fresh.handle();
    let fresh = match fresh.save() {
        Err(e) => {
            assert_eq!(
                e.response_code().map(|rc| rc.base_code()),
                Some(TpmRc::CONTEXT_GAP)
            );
            Session::start(&tpm, &SessionOptions::hmac()).unwrap()
        }
        Ok(_) => panic!("{fresh_handle}: saved despite the gap"),
    };
    tpm.regap(&mut old).unwrap();
    let fresh = fresh
        .save()
        .expect("saves once the old context is re-gapped");
    let mut old = tpm.load_session(old).unwrap();
    use_audit_session(&tpm, &mut old);
    old.flush().unwrap();
    finish(&tpm, fresh);
    assert_nothing_loaded(&tpm);
}

/// The context counter moved by another connection, whose saves this one never sees (as
/// behind the kernel's resource manager, which saves sessions after every command): the
/// periodic blind re-gap still keeps the parked session loadable.
#[test]
fn parked_session_survives_a_counter_moved_by_another_connection() {
    let sim = Swtpm::spawn_unix().unwrap();
    // Two connections to one swtpm: each must open a connection per command to share it.
    let ours = Tpm::new(Box::new(sim.transport().unwrap()));
    let theirs = Tpm::new(Box::new(sim.transport().unwrap()));
    let max = gap_max(&ours);
    ours.set_steward_policy(StewardPolicy {
        regap_threshold: Some(u64::MAX),
        regap_every: Some(512),
        ..StewardPolicy::default()
    });
    // Several parked sessions: each must be refreshed in time, not only the oldest.
    let mut olds: Vec<Session> = (0..6).map(|_| parked_audit_session(&ours)).collect();
    let mut other = saved_hmac_session(&theirs);
    let t = Instant::now();
    let mut rounds = 0;
    while rounds < max + 500 {
        let (next, done, err) = churn(&theirs, other, 64);
        assert!(err.is_none(), "after {} rounds: {err:?}", rounds + done);
        other = next.unwrap();
        rounds += done;
        // Our own unrelated work: the steward counts it and re-gaps blindly.
        ours.run(&GetRandom { bytes_requested: 1 }).unwrap();
    }
    eprintln!(
        "{rounds} saves by the other connection in {:?}",
        t.elapsed()
    );
    assert!(ours.steward_stats().regapped >= 6);
    for mut old in olds.drain(..) {
        use_audit_session(&ours, &mut old);
        old.flush().unwrap();
    }
    finish(&theirs, other);
}
