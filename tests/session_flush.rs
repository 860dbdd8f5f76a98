//! `Session::flush()` and drop end the session in the TPM whatever raw context commands were
//! run on its handle through the same connection, and never flush a handle that is no longer
//! theirs.

mod common;

use common::*;
use tpm2_wire::client::{Session, SessionOptions};
use tpm2_wire::command::{ContextLoad, ContextSave, Entity, FlushContext};
use tpm2_wire::registry::Registry;
use tpm2_wire::wire::{Context, Handle};
use tpm2_wire::Tpm;

struct Rig {
    tpm: Tpm,
    registry: Registry,
    _dir: tempfile::TempDir,
    _sim: tpm2_wire::sim::Swtpm,
}

fn rig() -> Rig {
    let (sim, tpm) = swtpm();
    let dir = tempfile::tempdir().unwrap();
    let registry = Registry::open(Some(&dir.path().join("registry"))).unwrap();
    tpm.set_registry(Some(registry.clone()));
    Rig {
        tpm,
        registry,
        _dir: dir,
        _sim: sim,
    }
}

fn raw_save(tpm: &Tpm, h: Handle) -> Context {
    tpm.run(&ContextSave {
        save_handle: Entity::from_handle(h),
    })
    .unwrap()
    .context
}

fn raw_load(tpm: &Tpm, context: Context) -> Handle {
    tpm.run(&ContextLoad { context }).unwrap().loaded_handle
}

fn assert_gone(r: &Rig, h: Handle) {
    assert_eq!(
        sessions_on(&r.tpm),
        (vec![], vec![]),
        "sessions left (loaded, saved)"
    );
    assert!(
        r.registry.get(&r.tpm.describe(), h).unwrap().is_none(),
        "registry record left"
    );
}

/// What `bench_sessions` does in its ContextSave/Load scenario.
#[test]
fn flush_after_a_raw_save_and_raw_load() {
    let r = rig();
    let s = Session::start(&r.tpm, &SessionOptions::hmac()).unwrap();
    let h = s.handle();
    let ctx = raw_save(&r.tpm, h);
    assert_eq!(raw_load(&r.tpm, ctx), h);
    s.flush().unwrap();
    assert_gone(&r, h);
}

#[test]
fn drop_after_a_raw_save_and_the_librarys_own_load() {
    let r = rig();
    let s = Session::start(&r.tpm, &SessionOptions::audit()).unwrap();
    let h = s.handle();
    let ctx = r.tpm.context_save(h).unwrap();
    assert_eq!(r.tpm.context_load(&ctx).unwrap(), h);
    drop(s);
    assert_gone(&r, h);
}

/// Saved and never loaded back: FlushContext ends a saved session too.
#[test]
fn flush_after_a_raw_save_alone() {
    let r = rig();
    let s = Session::start(&r.tpm, &SessionOptions::policy()).unwrap();
    let h = s.handle();
    let _ = raw_save(&r.tpm, h);
    assert_eq!(sessions_on(&r.tpm).1.len(), 1, "saved");
    s.flush().unwrap();
    assert_gone(&r, h);
}

/// Flushed by hand first: flush() has nothing left to do, says so with Ok, sends nothing, and
/// clears the registry record.
#[test]
fn flush_after_a_raw_flush() {
    let r = rig();
    let s = Session::start(&r.tpm, &SessionOptions::hmac()).unwrap();
    let h = s.handle();
    r.tpm.run(&FlushContext { flush_handle: h }).unwrap();
    s.flush().unwrap();
    assert_gone(&r, h);
}

/// Flushed by hand, then the TPM gives the same handle to a new session: dropping the old
/// `Session` must not flush the new one.
#[test]
fn a_raw_flush_and_a_reused_handle_is_not_flushed_twice() {
    let r = rig();
    let old = Session::start(&r.tpm, &SessionOptions::hmac()).unwrap();
    let h = old.handle();
    r.tpm.run(&FlushContext { flush_handle: h }).unwrap();
    let new = Session::start(&r.tpm, &SessionOptions::hmac()).unwrap();
    drop(old);
    if new.handle() == h {
        assert_eq!(sessions_on(&r.tpm).0, vec![h], "the new session lives");
    }
    drop(new);
    assert_gone(&r, h);
}

/// A session the steward parked is flushed from its saved place.
#[test]
fn flush_of_a_parked_session() {
    let r = rig();
    let mut s = Session::start(&r.tpm, &SessionOptions::hmac()).unwrap();
    let h = s.handle();
    s.park().unwrap();
    assert!(s.is_parked());
    s.flush().unwrap();
    assert_gone(&r, h);
}
