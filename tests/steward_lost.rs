//! Sessions lost behind our back are reported as `Error::SessionLost`, never as a wrong
//! password, and cost no dictionary-attack count.

mod common;

use common::*;
use tpm2_wire::client::{Session, SessionOptions};
use tpm2_wire::command::{Entity, FlushContext};
use tpm2_wire::steward::StewardPolicy;
use tpm2_wire::wire::{Auth, NvAttributes};
use tpm2_wire::{Error, Tpm};

const INDEX: u32 = 0x0150_0020;

/// An NV index WITHOUT noDA: a wrong HMAC for it counts against dictionary-attack lockout.
/// Written once by password so its name is final.
fn da_protected_nv(tpm: &Tpm, auth: &Auth) -> Entity {
    let da_counted = NvAttributes::AUTHREAD | NvAttributes::AUTHWRITE;
    written_nv(tpm, INDEX, auth, da_counted, b"secret!!")
}

fn read_with(tpm: &Tpm, nv: &Entity, s: &mut Session, auth: &Auth) -> tpm2_wire::Result<Vec<u8>> {
    nv_read(tpm, nv, 8, &mut [s.auth(auth)])
}

fn expect_lost(r: tpm2_wire::Result<Vec<u8>>, handle: tpm2_wire::wire::Handle) -> String {
    match r {
        Err(Error::SessionLost { handle: h, reason }) => {
            assert_eq!(h, handle);
            eprintln!("lost session {h}: {reason}");
            reason
        }
        other => panic!("expected SessionLost, got {other:?}"),
    }
}

#[test]
fn session_flushed_by_another_connection_is_lost_not_a_wrong_password() {
    let (sim, tpm) = swtpm();
    let auth = pw("nv-pass");
    let nv = da_protected_nv(&tpm, &auth);
    let mut s = Session::start(&tpm, &SessionOptions::hmac()).unwrap();
    assert_eq!(read_with(&tpm, &nv, &mut s, &auth).unwrap(), b"secret!!");

    let other = Tpm::open(Some(&sim.tcti())).unwrap();
    other
        .run(&FlushContext {
            flush_handle: s.handle(),
        })
        .unwrap();

    let reason = expect_lost(read_with(&tpm, &nv, &mut s, &auth), s.handle());
    assert!(
        reason.contains("TPM_RC_REFERENCE_S0"),
        "the TPM names the session slot: {reason}"
    );
    assert!(s.state().is_closed(), "the session is marked closed");
    assert_eq!(lockout_counter(&tpm), 0, "no dictionary-attack count");
    // Used again: refused without asking the TPM.
    expect_lost(read_with(&tpm, &nv, &mut s, &auth), s.handle());
    assert_eq!(tpm.steward_stats().lost, 1);
    drop(s);
    assert_nothing_loaded(&tpm);
    undefine_nv(&tpm, &nv);
}

#[test]
fn policy_session_flushed_behind_our_back_is_lost_in_the_handle_area() {
    let (sim, tpm) = swtpm();
    let mut s = Session::start(&tpm, &SessionOptions::policy()).unwrap();
    Tpm::open(Some(&sim.tcti()))
        .unwrap()
        .run(&FlushContext {
            flush_handle: s.handle(),
        })
        .unwrap();
    match s.policy_password() {
        Err(Error::SessionLost { handle, reason }) => {
            assert_eq!(handle, s.handle());
            eprintln!("policy command on a flushed session: {reason}");
        }
        other => panic!("expected SessionLost, got {other:?}"),
    }
    // Dropping it must not flush: the handle is not ours any more.
    let stranger = Session::start(
        &Tpm::open(Some(&sim.tcti())).unwrap(),
        &SessionOptions::policy(),
    )
    .unwrap()
    .keep();
    assert_eq!(
        stranger.handle(),
        s.handle(),
        "the TPM reuses the freed handle"
    );
    drop(s);
    // Still there: our drop did not flush it.
    flush(&tpm, stranger.handle());
}

#[test]
fn parked_session_flushed_behind_our_back_fails_at_reload() {
    let (sim, tpm) = swtpm();
    let auth = pw("nv-pass");
    let nv = da_protected_nv(&tpm, &auth);
    let mut s = Session::start(&tpm, &SessionOptions::hmac()).unwrap();
    s.park().unwrap();
    assert!(s.is_parked());
    assert_eq!(
        tpm.handles_in(HandleRange::LoadedSessions).unwrap(),
        vec![],
        "parked: not loaded"
    );
    // Flushing a saved session's handle is valid.
    Tpm::open(Some(&sim.tcti()))
        .unwrap()
        .run(&FlushContext {
            flush_handle: s.handle(),
        })
        .unwrap();
    let reason = expect_lost(read_with(&tpm, &nv, &mut s, &auth), s.handle());
    assert!(reason.contains("no longer loads"), "{reason}");
    assert_eq!(lockout_counter(&tpm), 0);
    drop(s);
    assert_nothing_loaded(&tpm);
    undefine_nv(&tpm, &nv);
}

#[test]
fn sessions_are_lost_after_a_tpm_restart() {
    let (mut sim, tpm) = swtpm();
    let auth = pw("nv-pass");
    let nv = da_protected_nv(&tpm, &auth);
    let mut loaded = Session::start(&tpm, &SessionOptions::hmac()).unwrap();
    let mut parked = Session::start(&tpm, &SessionOptions::hmac()).unwrap();
    parked.park().unwrap();
    assert_eq!(
        read_with(&tpm, &nv, &mut loaded, &auth).unwrap(),
        b"secret!!"
    );
    sim.restart().unwrap();
    // A restart without orderly shutdown itself counts one failure (TPM DA protection).
    let after_restart = lockout_counter(&tpm);
    expect_lost(read_with(&tpm, &nv, &mut loaded, &auth), loaded.handle());
    expect_lost(read_with(&tpm, &nv, &mut parked, &auth), parked.handle());
    assert_eq!(
        lockout_counter(&tpm),
        after_restart,
        "our use counted nothing"
    );
    reset_lockout(&tpm);
    drop((loaded, parked));
    assert_nothing_loaded(&tpm);
    undefine_nv(&tpm, &nv);
}

/// Flushed behind our back, and a stranger's new session got the same handle.
fn reuse_scenario(guarded: bool) -> (tpm2_wire::Result<Vec<u8>>, u32) {
    let (sim, tpm) = swtpm();
    let auth = pw("nv-pass");
    let nv = da_protected_nv(&tpm, &auth);
    let mut s = Session::start(&tpm, &SessionOptions::hmac()).unwrap();
    if guarded {
        s.set_guarded(true).unwrap();
    }
    assert_eq!(read_with(&tpm, &nv, &mut s, &auth).unwrap(), b"secret!!");
    assert_eq!(s.is_parked(), guarded);

    let other = Tpm::open(Some(&sim.tcti())).unwrap();
    other
        .run(&FlushContext {
            flush_handle: s.handle(),
        })
        .unwrap();
    let stranger = Session::start(&other, &SessionOptions::hmac())
        .unwrap()
        .keep();
    assert_eq!(stranger.handle(), s.handle(), "the stranger got our handle");

    let r = read_with(&tpm, &nv, &mut s, &auth);
    let count = lockout_counter(&tpm);
    // Unguarded, our drop would flush the stranger's session too (it looks like ours);
    // keep it out of the way and clean up by hand.
    let _ = s.keep();
    // Always leave the TPM usable.
    reset_lockout(&tpm);
    flush(&tpm, stranger.handle());
    assert_nothing_loaded(&tpm);
    undefine_nv(&tpm, &nv);
    (r, count)
}

#[test]
fn guarded_session_never_sends_its_hmac_to_a_strangers_session() {
    let (r, count) = reuse_scenario(true);
    match r {
        Err(Error::SessionLost { reason, .. }) => eprintln!("guarded: {reason}"),
        other => panic!("expected SessionLost, got {other:?}"),
    }
    assert_eq!(count, 0, "no dictionary-attack count");
}

#[test]
fn unguarded_session_with_a_reused_handle_is_the_dangerous_case() {
    let (r, count) = reuse_scenario(false);
    let rc = r
        .expect_err("our HMAC cannot match the stranger's session")
        .response_code();
    assert!(
        rc.is_some_and(|rc| rc.is_auth_fail()),
        "an HMAC failure, as a wrong password would give: {rc:?}"
    );
    assert_eq!(count, 1, "and it counted against dictionary-attack lockout");
}

#[test]
fn tpm_wide_guarded_policy_parks_sessions_between_commands() {
    let (_sim, tpm) = swtpm();
    tpm.set_steward_policy(StewardPolicy {
        guarded: true,
        ..StewardPolicy::default()
    });
    let auth = pw("nv-pass");
    let nv = da_protected_nv(&tpm, &auth);
    let mut s = Session::start(&tpm, &SessionOptions::hmac()).unwrap();
    assert!(s.is_parked());
    let before = tpm.steward_stats();
    for _ in 0..3 {
        assert_eq!(read_with(&tpm, &nv, &mut s, &auth).unwrap(), b"secret!!");
        assert!(s.is_parked());
    }
    let after = tpm.steward_stats();
    assert_eq!(
        after.reloaded - before.reloaded,
        3,
        "one ContextLoad per use"
    );
    assert_eq!(after.parked - before.parked, 3, "one ContextSave per use");
    // A guarded session saves without another ContextSave and continues elsewhere.
    let saved = s.save().unwrap();
    let mut s = tpm.load_session(saved).unwrap();
    assert_eq!(read_with(&tpm, &nv, &mut s, &auth).unwrap(), b"secret!!");
    s.flush().unwrap();
    assert_nothing_loaded(&tpm);
    undefine_nv(&tpm, &nv);
}

#[test]
fn keep_of_a_parked_session_leaves_it_loaded_and_save_of_a_lost_one_fails() {
    let (sim, tpm) = swtpm();
    let mut s = Session::start(&tpm, &SessionOptions::audit()).unwrap();
    s.park().unwrap();
    let h = s.handle();
    let state = s.keep();
    assert_eq!(
        tpm.handles_in(HandleRange::LoadedSessions).unwrap(),
        vec![h],
        "kept loaded, not stranded"
    );
    flush(&tpm, state.handle());

    let mut s = Session::start(&tpm, &SessionOptions::audit()).unwrap();
    s.park().unwrap();
    Tpm::open(Some(&sim.tcti()))
        .unwrap()
        .run(&FlushContext {
            flush_handle: s.handle(),
        })
        .unwrap();
    // Use finds it lost; a later save reports it too instead of saving a stale context.
    let r = tpm.execute(
        &tpm2_wire::command::GetRandom { bytes_requested: 4 },
        &mut [s.extra()],
    );
    assert!(matches!(r, Err(Error::SessionLost { .. })), "{r:?}");
    assert!(matches!(s.save(), Err(Error::SessionLost { .. })));
    assert_nothing_loaded(&tpm);
    assert_eq!(tpm.handles_in(HandleRange::SavedSessions).unwrap(), vec![]);
}
