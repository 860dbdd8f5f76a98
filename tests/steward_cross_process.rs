//! One session across three real processes: started and saved by the first, used by the
//! second, flushed by the third; a fourth that tries it afterwards gets `SessionLost`.
//! The processes are this test binary run again with a role in the environment.

mod common;

use std::path::Path;
use std::process::Command;

use common::*;
use tpm2_wire::client::{Session, SessionOptions};
use tpm2_wire::command::GetRandom;
use tpm2_wire::{Error, Tpm};

const ROLE: &str = "TPM2_WIRE_STEWARD_ROLE";
const TCTI: &str = "TPM2_WIRE_STEWARD_TCTI";
const FILE: &str = "TPM2_WIRE_STEWARD_FILE";

fn audited_random(tpm: &Tpm, s: &mut Session) -> tpm2_wire::Result<()> {
    let r = tpm.execute(&GetRandom { bytes_requested: 8 }, &mut [s.extra()])?;
    assert_eq!(r.random_bytes.len(), 8);
    Ok(())
}

/// Child role: `start`, `use`, `flush` or `use-lost`. Prints one line saying what it did.
#[test]
#[ignore = "child role, run by one_session_across_three_processes"]
fn role() {
    // Run without its parent (`--ignored`): nothing to do.
    let Ok(role) = std::env::var(ROLE) else {
        return;
    };
    let tpm = Tpm::open(Some(&std::env::var(TCTI).unwrap())).unwrap();
    let file = std::env::var(FILE).unwrap();
    let file = Path::new(&file);
    match role.as_str() {
        "start" => {
            let mut s = Session::start(&tpm, &SessionOptions::audit()).unwrap();
            audited_random(&tpm, &mut s).unwrap();
            let h = s.handle();
            s.save_to_file(file).unwrap();
            println!("role-result started {h}");
        }
        "use" => {
            let mut s = tpm.load_session_file(file).unwrap();
            audited_random(&tpm, &mut s).unwrap();
            let h = s.handle();
            s.save_to_file(file).unwrap();
            println!("role-result used {h}");
        }
        "flush" => {
            let s = tpm.load_session_file(file).unwrap();
            let h = s.handle();
            s.flush().unwrap();
            println!("role-result flushed {h}");
        }
        "use-lost" => match tpm.load_session_file(file) {
            Err(Error::SessionLost { handle, reason }) => {
                println!("role-result lost {handle}: {reason}")
            }
            other => panic!("expected SessionLost, got {other:?}"),
        },
        other => panic!("unknown role {other}"),
    }
}

fn run_role(role: &str, tcti: &str, file: &Path) -> String {
    let out = Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "role",
            "--ignored",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(ROLE, role)
        .env(TCTI, tcti)
        .env(FILE, file)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "role {role} failed: {stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let line = stdout
        .lines()
        .find_map(|l| l.split_once("role-result ").map(|(_, r)| r.to_string()))
        .unwrap_or_else(|| panic!("role {role} did not run: {stdout}"));
    eprintln!("{role}: {line}");
    line
}

#[test]
fn one_session_across_three_processes() {
    let (sim, tpm) = swtpm();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("session.ctx");
    let tcti = sim.tcti();

    let started = run_role("start", &tcti, &file);
    let handle = started.strip_prefix("started ").unwrap().to_string();
    // Saved, not loaded, between the processes.
    assert_eq!(tpm.handles_in(HandleRange::LoadedSessions).unwrap(), vec![]);
    assert_eq!(
        run_role("use", &tcti, &file),
        format!("used {handle}"),
        "the same session"
    );
    assert_eq!(run_role("flush", &tcti, &file), format!("flushed {handle}"));
    let lost = run_role("use-lost", &tcti, &file);
    assert!(lost.starts_with(&format!("lost {handle}")), "{lost}");
    assert_eq!(lockout_counter(&tpm), 0);
    assert_nothing_loaded(&tpm);
    assert_eq!(
        tpm.handles_in(HandleRange::SavedSessions).unwrap(),
        vec![],
        "nothing saved either"
    );
}
