//! Session exhaustion is survived: our idle sessions are parked for loaded slots, several
//! sessions are acquired all or none, and many processes sharing one TPM all complete.

mod common;

use std::process::{Child, Command, Stdio};
use std::sync::atomic::Ordering;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use common::*;
use tpm2_wire::client::{SavedSession, Session, SessionOptions};
use tpm2_wire::sim::Swtpm;
use tpm2_wire::steward::StewardPolicy;
use tpm2_wire::wire::TpmRc;
use tpm2_wire::Tpm;

fn audited_random(tpm: &Tpm, s: &mut Session) {
    random_through(tpm, s, 16);
}

/// Another client of `sim` holding `n` HMAC sessions, saved (active session handles taken,
/// loaded slots free).
fn hog(sim: &Swtpm, n: usize) -> (Tpm, Vec<SavedSession>) {
    let hog = Tpm::open(Some(&sim.tcti())).unwrap();
    let held = (0..n)
        .map(|_| {
            let s = Session::start(&hog, &SessionOptions::hmac()).unwrap();
            s.save().unwrap()
        })
        .collect();
    (hog, held)
}

/// `release` on a connection of its own to `sim`, 200 ms from now in another thread.
fn release_later(sim: &Swtpm, release: impl FnOnce(&Tpm) + Send + 'static) -> JoinHandle<()> {
    let tcti = sim.tcti();
    std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(200));
        release(&Tpm::open(Some(&tcti)).unwrap());
    })
}

fn flush_saved(tpm: &Tpm, sessions: Vec<SavedSession>) {
    for s in sessions {
        tpm.load_session(s).unwrap().flush().unwrap();
    }
}

#[test]
fn more_sessions_than_loaded_slots_are_parked_and_reloaded() {
    let (_sim, tpm) = swtpm();
    // swtpm has 3 loaded-session slots; the 4th start meets TPM_RC_SESSION_MEMORY.
    let mut sessions: Vec<Session> = (0..6)
        .map(|_| Session::start(&tpm, &SessionOptions::audit()).unwrap())
        .collect();
    let stats = tpm.steward_stats();
    assert!(stats.parked >= 3, "{stats:?}");
    for _ in 0..2 {
        for s in sessions.iter_mut() {
            audited_random(&tpm, s);
            let (loaded, _) = sessions_on(&tpm);
            assert!(loaded.len() <= 3);
            assert!(loaded.contains(&s.handle()), "the session in use is loaded");
        }
    }
    assert!(tpm.steward_stats().reloaded >= 6);
    drop(sessions);
    assert_eq!(
        sessions_on(&tpm),
        (vec![], vec![]),
        "all flushed, parked ones too"
    );
}

#[test]
fn max_loaded_sessions_parks_proactively_and_save_reuses_the_parked_context() {
    let (_sim, tpm, sent) = swtpm_counting();
    tpm.set_steward_policy(StewardPolicy {
        max_loaded_sessions: Some(2),
        ..StewardPolicy::default()
    });
    let mut sessions: Vec<Session> = (0..4)
        .map(|_| Session::start(&tpm, &SessionOptions::audit()).unwrap())
        .collect();
    assert_eq!(tpm.session_table(), (2, 2));
    for s in sessions.iter_mut().rev() {
        audited_random(&tpm, s);
        assert!(tpm.session_table().0 <= 2);
        assert!(sessions_on(&tpm).0.len() <= 2);
    }
    assert_eq!(
        tpm.steward_stats().waits,
        0,
        "never needed the TPM to refuse"
    );
    // Saving a parked session sends nothing: its parked context is the saved one.
    let parked = sessions.iter().position(|s| s.is_parked()).unwrap();
    let s = sessions.remove(parked);
    let before = sent.load(Ordering::SeqCst);
    let saved = s.save().unwrap();
    assert_eq!(sent.load(Ordering::SeqCst), before, "no ContextSave sent");
    let mut s = tpm.load_session(saved).unwrap();
    audited_random(&tpm, &mut s);
    drop(s);
    drop(sessions);
    assert_eq!(sessions_on(&tpm), (vec![], vec![]));
}

#[test]
fn start_sessions_takes_all_or_none() {
    let (sim, tpm) = swtpm();
    // Another client holds 62 of the 64 active sessions, saved (so loaded slots are free).
    let (hog, mut held) = hog(&sim, 62);
    tpm.set_steward_policy(StewardPolicy {
        max_attempts: 3,
        initial_delay: Duration::from_millis(1),
        max_delay: Duration::from_millis(5),
        ..StewardPolicy::default()
    });
    let three = [
        SessionOptions::hmac(),
        SessionOptions::policy(),
        SessionOptions::audit(),
    ];
    let err = tpm.start_sessions(&three).unwrap_err();
    assert_eq!(
        err.response_code().map(|rc| rc.base_code()),
        Some(TpmRc::SESSION_HANDLES),
        "{err}"
    );
    let (loaded, saved) = sessions_on(&tpm);
    assert_eq!(
        (loaded.len(), saved.len()),
        (0, 62),
        "nothing half-acquired is left behind"
    );

    // Once the other client lets go of some, the three are acquired.
    let release: Vec<SavedSession> = held.drain(..5).collect();
    let releaser = release_later(&sim, move |t| flush_saved(t, release));
    tpm.set_steward_policy(StewardPolicy {
        max_attempts: 40,
        ..StewardPolicy::default()
    });
    let got = tpm.start_sessions(&three).unwrap();
    assert_eq!(got.len(), 3);
    releaser.join().unwrap();
    drop(got);
    flush_saved(&hog, held);
    assert_eq!(sessions_on(&tpm), (vec![], vec![]));
}

const WORKER_ENV: &str = "TPM2_WIRE_STEWARD_WORKER_TCTI";
const WORKERS: usize = 24;

/// Child role of `worker_processes_outnumbering_the_session_slots_all_complete`: holds three
/// sessions at a time and does audited commands with each.
#[test]
#[ignore = "child role, run by worker_processes_outnumbering_the_session_slots_all_complete"]
fn worker_process() {
    // Run without its parent (`--ignored`): nothing to do.
    let Ok(tcti) = std::env::var(WORKER_ENV) else {
        return;
    };
    let tpm = Tpm::open(Some(&tcti)).unwrap();
    tpm.set_steward_policy(StewardPolicy {
        // Many processes, 3 loaded slots: keep nothing loaded between commands.
        max_loaded_sessions: Some(0),
        max_attempts: 1000,
        initial_delay: Duration::from_millis(5),
        max_delay: Duration::from_millis(100),
        ..StewardPolicy::default()
    });
    for _round in 0..2 {
        let mut sessions = tpm
            .start_sessions(&[
                SessionOptions::audit(),
                SessionOptions::audit(),
                SessionOptions::audit(),
            ])
            .unwrap();
        for i in 0..3 {
            for s in sessions.iter_mut() {
                audited_random(&tpm, s);
            }
            if i == 0 {
                // Hold the sessions (parked) a while, so the workers' sessions overlap and
                // outnumber the TPM's 64 active-session handles.
                std::thread::sleep(Duration::from_millis(150));
            }
        }
        for s in sessions {
            s.flush().unwrap();
        }
    }
    let st = tpm.steward_stats();
    println!(
        "steward-stats parked={} reloaded={} waits={} start_retries={}",
        st.parked, st.reloaded, st.waits, st.start_retries
    );
}

fn wait_bounded(mut child: Child, until: Instant) -> std::process::Output {
    loop {
        if child.try_wait().unwrap().is_some() {
            return child.wait_with_output().unwrap();
        }
        if Instant::now() > until {
            let _ = child.kill();
            panic!("worker {} did not finish in time", child.id());
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn worker_processes_outnumbering_the_session_slots_all_complete() {
    let (sim, tpm) = swtpm();
    let exe = std::env::current_exe().unwrap();
    let started = Instant::now();
    let children: Vec<Child> = (0..WORKERS)
        .map(|_| {
            Command::new(&exe)
                .args([
                    "--exact",
                    "worker_process",
                    "--ignored",
                    "--nocapture",
                    "--test-threads=1",
                ])
                .env(WORKER_ENV, sim.tcti())
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    let until = Instant::now() + Duration::from_secs(240);
    let (mut parked, mut waits, mut start_retries) = (0u64, 0u64, 0u64);
    for child in children {
        let out = wait_bounded(child, until);
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "worker failed: {stdout}\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let line = stdout
            .lines()
            .find_map(|l| l.split_once("steward-stats").map(|(_, rest)| rest))
            .unwrap_or_else(|| panic!("the worker did not run: {stdout}"));
        for field in line.split_whitespace() {
            let (k, v) = field.split_once('=').unwrap();
            let v: u64 = v.parse().unwrap();
            match k {
                "parked" => parked += v,
                "waits" => waits += v,
                "start_retries" => start_retries += v,
                _ => {}
            }
        }
    }
    eprintln!(
        "{WORKERS} workers × 3 sessions done in {:?}: {parked} parkings, {waits} waits, \
         {start_retries} all-or-none restarts",
        started.elapsed()
    );
    assert!(parked > 0, "loaded-slot pressure: sessions were parked");
    assert!(
        start_retries > 0,
        "active-slot pressure: start_sessions had to give back and retry"
    );
    assert_eq!(
        sessions_on(&tpm),
        (vec![], vec![]),
        "no session left on the TPM"
    );
}

/// Threads sharing one connection, each with its own sessions: more sessions than loaded
/// slots, parked and reloaded inside one table, and waits do not block the other threads.
#[test]
fn threads_sharing_a_connection_share_the_loaded_slots() {
    let (_sim, tpm) = swtpm();
    let workers: Vec<_> = (0..4)
        .map(|_| {
            let tpm = tpm.clone();
            std::thread::spawn(move || {
                let mut sessions = tpm
                    .start_sessions(&[SessionOptions::audit(), SessionOptions::audit()])
                    .unwrap();
                for _ in 0..5 {
                    for s in sessions.iter_mut() {
                        audited_random(&tpm, s);
                    }
                }
            })
        })
        .collect();
    for w in workers {
        w.join().unwrap();
    }
    assert!(tpm.steward_stats().parked > 0);
    assert_eq!(sessions_on(&tpm), (vec![], vec![]));
}

/// A single StartAuthSession waits (bounded) for a session handle another client frees.
#[test]
fn start_waits_for_a_free_session_handle() {
    let (sim, tpm) = swtpm();
    let (hog, mut held) = hog(&sim, 64);
    let one = held.pop().unwrap();
    let releaser = release_later(&sim, move |t| flush_saved(t, vec![one]));
    let s = Session::start(&tpm, &SessionOptions::audit()).unwrap();
    releaser.join().unwrap();
    assert!(tpm.steward_stats().waits >= 1, "it had to wait");
    drop(s);
    flush_saved(&hog, held);
    assert_eq!(sessions_on(&tpm), (vec![], vec![]));
}

/// TPM_RC_OBJECT_MEMORY: all transient slots taken by another client; our CreatePrimary
/// waits until one is freed.
#[test]
fn object_memory_is_waited_out() {
    let (sim, tpm) = swtpm();
    let hog = Tpm::open(Some(&sim.tcti())).unwrap();
    // The hog learns at once that the TPM is full (no waiting).
    hog.set_steward_policy(StewardPolicy {
        max_attempts: 1,
        ..StewardPolicy::default()
    });
    let mut objects = Vec::new();
    loop {
        let owner = tpm2_wire::wire::Auth::empty();
        let r = hog.create_primary(
            &tpm2_wire::command::Entity::owner(),
            tpm2_wire::session::engine::SessionSlot::Password(&owner),
            tpm2_wire::wire::Public::ecc_p256_storage_parent(),
            &owner,
        );
        match r {
            Ok((key, _)) => objects.push(key.handle),
            Err(e) => {
                assert_eq!(
                    e.response_code().map(|rc| rc.base_code()),
                    Some(TpmRc::OBJECT_MEMORY),
                    "{e}"
                );
                break;
            }
        }
        assert!(objects.len() < 64, "the TPM never ran out of object slots");
    }
    let first = objects.remove(0);
    let releaser = release_later(&sim, move |t| flush(t, first));
    let (key, _) = create_primary(
        &tpm,
        tpm2_wire::wire::Public::ecc_p256_storage_parent(),
        &tpm2_wire::wire::Auth::empty(),
    );
    releaser.join().unwrap();
    assert!(tpm.steward_stats().waits >= 1, "it had to wait");
    flush(&tpm, key.handle);
    for h in objects {
        flush(&tpm, h);
    }
    assert_nothing_loaded(&tpm);
}
