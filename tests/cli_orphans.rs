//! Sessions left behind by a client killed with SIGKILL show up as orphans, and
//! `tpm2-wire session flush --orphans` flushes exactly them: the TPM's session counts return
//! to what they were, while a session parked in a file and one whose owner still runs stay.
//!
//! The client is this test binary itself, re-executed in "holder" mode: it starts sessions
//! through the library (so they are registered), never saves them, reports their handles and
//! waits to be killed.

mod cli_common;

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

use cli_common::{file_handle, session_by_handle, Env};
use tpm2_wire::registry::Registry;
use tpm2_wire::{Session, SessionOptions, Tpm};

const HOLDER_ENV: &str = "TPM2_WIRE_TEST_HOLDER_TCTI";
const TEST_NAME: &str = "killed_client_sessions_are_orphans";

/// Holder mode: start two sessions, print their handles, wait to be killed.
fn hold(tcti: &str) -> ! {
    let tpm = Tpm::open(Some(tcti)).unwrap();
    let a = Session::start(&tpm, &SessionOptions::hmac()).unwrap();
    let b = Session::start(&tpm, &SessionOptions::policy()).unwrap();
    assert_eq!(tpm.registry_error().0, 0, "{:?}", tpm.registry_error());
    println!("ready 0x{:08x} 0x{:08x}", a.handle().0, b.handle().0);
    loop {
        std::thread::sleep(std::time::Duration::from_secs(1));
    }
}

fn status(env: &Env) -> serde_json::Value {
    env.json(&["session", "status", "--json"])
}

#[test]
fn killed_client_sessions_are_orphans() {
    if let Ok(tcti) = std::env::var(HOLDER_ENV) {
        hold(&tcti);
    }
    let env = Env::new();
    // A session parked in a file (its creator, the CLI, has exited).
    env.ok(&["session", "start", "--policy-session", "-S", "parked.ctx"]);
    // A session owned by this (running) process, context-saved in memory.
    let tpm = Tpm::open(Some(&env.tcti)).unwrap();
    tpm.set_registry(Some(Registry::open(Some(&env.registry_dir())).unwrap()));
    let owned = Session::start(&tpm, &SessionOptions::hmac()).unwrap();
    let owned_handle = owned.handle();
    let owned = owned.save().unwrap();
    let before = status(&env);
    assert_eq!(before["orphans"], 0);
    assert_eq!(before["parked"], 1);
    assert_eq!(before["owned"], 1);

    let mut child = Command::new(std::env::current_exe().unwrap())
        .args(["--exact", TEST_NAME, "--nocapture", "--test-threads=1"])
        .env(HOLDER_ENV, &env.tcti)
        .env("TPM2_WIRE_REGISTRY", env.registry_dir())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut reader = BufReader::new(child.stdout.take().unwrap());
    let handles = loop {
        let mut line = String::new();
        assert!(
            reader.read_line(&mut line).unwrap() > 0,
            "holder exited early"
        );
        // The test harness may print its own text before ours on the same line.
        if let Some((_, rest)) = line.split_once("ready ") {
            break rest
                .split_whitespace()
                .map(|h| u32::from_str_radix(&h[2..], 16).unwrap())
                .collect::<Vec<u32>>();
        }
    };
    let pid = child.id();
    // While the holder runs, its sessions are owned, and no selector but --pid/--all takes them.
    for h in &handles {
        let s = session_by_handle(&env, *h).unwrap();
        assert_eq!(s["state"], "owned", "{s}");
        assert_eq!(s["pid"], pid);
        assert_eq!(s["owner_alive"], true);
    }
    let shown = env.json(&["session", "show", "--pid", &pid.to_string(), "--json"]);
    assert_eq!(shown["sessions"].as_array().unwrap().len(), 2, "{shown}");
    assert!(env
        .ok(&["session", "flush", "--orphans"])
        .contains("0 session(s) flushed"));

    // SIGKILL: no destructor runs, the sessions stay in the TPM.
    child.kill().unwrap();
    child.wait().unwrap();
    for h in &handles {
        let s = session_by_handle(&env, *h).unwrap();
        assert_eq!(s["state"], "orphan", "{s}");
        assert_eq!(s["owner_alive"], false);
        assert_eq!(s["loaded"], true);
    }
    let during = status(&env);
    assert_eq!(during["orphans"], 2);
    assert_eq!(during["loaded"], before["loaded"].as_u64().unwrap() + 2);
    let human = env.ok(&["session", "status"]);
    assert!(human.contains("orphans: 2"), "{human}");

    let out = env.ok(&["session", "flush", "--orphans"]);
    assert!(out.contains("2 session(s) flushed, 0 failed"), "{out}");
    for h in &handles {
        assert!(out.contains(&format!("{:06x}\n", h & 0xFF_FFFF)), "{out}");
        assert!(session_by_handle(&env, *h).is_none());
    }
    let after = status(&env);
    assert_eq!(after, before, "status returns to its starting counts");

    // The parked session is intact and usable by tpm2-tools; ours is still loadable.
    let parked = session_by_handle(&env, file_handle(&env.path("parked.ctx"))).unwrap();
    assert_eq!(parked["state"], "parked");
    env.tool_ok("tpm2_policypassword", &["-S", "parked.ctx"]);
    let owned = tpm.load_session(owned).unwrap();
    assert_eq!(owned.handle(), owned_handle);
    owned.flush().unwrap();
    assert!(session_by_handle(&env, owned_handle.0).is_none());

    // --pid and --before select by owner and age; parked sessions are left alone.
    let out = env.ok(&["session", "flush", "--before", "2999/01/01"]);
    assert!(out.contains("0 session(s) flushed"), "{out}");
    let out = env.ok(&["session", "flush", "--all"]);
    assert!(out.contains("1 session(s) flushed"), "{out}");
    assert_eq!(std::fs::read_dir(env.registry_dir()).unwrap().count(), 0);
}

#[test]
fn flush_by_pid_and_date() {
    let env = Env::new();
    let tpm = Tpm::open(Some(&env.tcti)).unwrap();
    tpm.set_registry(Some(Registry::open(Some(&env.registry_dir())).unwrap()));
    let a = Session::start(&tpm, &SessionOptions::hmac())
        .unwrap()
        .keep();
    let b = Session::start(&tpm, &SessionOptions::trial())
        .unwrap()
        .keep();
    let me = std::process::id().to_string();
    // Nothing was created before 1971; everything before 2999.
    let out = env.ok(&["session", "flush", "--before", "1971/01/01"]);
    assert!(out.contains("0 session(s) flushed"), "{out}");
    let shown = env.json(&["session", "show", "--before", "2999/12/31", "--json"]);
    assert_eq!(shown["sessions"].as_array().unwrap().len(), 2);
    let err = env.fails(&["session", "flush", "--before", "2024/02/30"]);
    assert!(err.contains("YYYY/MM/DD"), "{err}");
    let out = env.ok(&["session", "flush", "--pid", &me]);
    assert!(out.contains("2 session(s) flushed"), "{out}");
    assert!(session_by_handle(&env, a.handle().0).is_none());
    assert!(session_by_handle(&env, b.handle().0).is_none());
    // A handle that is not a session handle is refused before anything is sent.
    let err = env.fails(&["session", "flush", "--handle", "0x81000001"]);
    assert!(err.contains("not a session handle"), "{err}");
}
