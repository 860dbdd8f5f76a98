//! Instructions the client executes per session command, against the instructions of the
//! cryptography that command cannot avoid (the "floor"): the same two workloads as
//! `benches/sessions.rs`, counted by callgrind instead of timed. Instruction counts do not
//! move with the load of a shared machine (wall-clock figures there swing by half), so this is
//! the figure to watch for regressions of the session path.
//!
//! `cargo bench --bench instructions` (needs valgrind: `apt-get install valgrind`) runs each
//! workload in a child process under `valgrind --tool=callgrind`, counting only inside the
//! loop (the fake TPM side is toggled out), twice with different iteration counts, and prints
//! the difference per command: client, floor and their ratio.

#[path = "sessions.rs"]
#[allow(dead_code)]
mod sessions;

use std::hint::black_box;
use std::process::{Command, ExitCode};

use sessions::{ClientCase, FloorCase, Kind};

/// Iteration counts of the two runs; the difference cancels whatever a run does once.
const SHORT: u64 = 100;
const LONG: u64 = 600;

#[inline(never)]
fn counted_client(case: &mut ClientCase, iters: u64) {
    black_box(case.run(iters));
}

#[inline(never)]
fn counted_floor(case: &mut FloorCase, iters: u64) {
    black_box(case.run(iters));
}

/// In the child: warm up (lazy initialisation, first allocations), then the counted loop.
fn child(kind: usize, side: &str, iters: u64) {
    let kind = Kind::ALL[kind];
    match side {
        "client" => {
            let mut case = ClientCase::new(kind);
            case.run(20);
            counted_client(&mut case, iters);
        }
        _ => {
            let mut case = FloorCase::new(kind);
            case.run(20);
            counted_floor(&mut case, iters);
        }
    }
}

/// Instructions callgrind counted in `side`'s loop for `iters` commands.
fn count(kind: usize, side: &str, iters: u64) -> Result<u64, String> {
    let exe = std::env::current_exe().map_err(|e| format!("own path: {e}"))?;
    let dir = tempfile::tempdir().map_err(|e| format!("temporary directory: {e}"))?;
    let out = dir.path().join("callgrind.out");
    let status = Command::new("valgrind")
        .arg("--tool=callgrind")
        .arg("--collect-atstart=no")
        .arg(format!("--toggle-collect=*counted_{side}*"))
        // The fake TPM (and the timing around it) is not the client: toggled off inside.
        .arg("--toggle-collect=*sessions::Timed*transact*")
        .arg(format!("--callgrind-out-file={}", out.display()))
        .arg(&exe)
        .args(["--child", &kind.to_string(), side, &iters.to_string()])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .map_err(|e| format!("cannot run valgrind ({e}); install it: apt-get install valgrind"))?;
    if !status.success() {
        return Err(format!("valgrind run failed: {status}"));
    }
    let text = std::fs::read_to_string(&out).map_err(|e| format!("{}: {e}", out.display()))?;
    text.lines()
        .find_map(|l| {
            l.strip_prefix("totals:")
                .or_else(|| l.strip_prefix("summary:"))
        })
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .ok_or_else(|| format!("no totals in {}", out.display()))
}

fn per_command(kind: usize, side: &str) -> Result<f64, String> {
    let short = count(kind, side, SHORT)?;
    let long = count(kind, side, LONG)?;
    Ok(long.saturating_sub(short) as f64 / (LONG - SHORT) as f64)
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().collect();
    if let Some(i) = args.iter().position(|a| a == "--child") {
        let kind = args[i + 1].parse().expect("kind index");
        let iters = args[i + 3].parse().expect("iteration count");
        child(kind, &args[i + 2], iters);
        return ExitCode::SUCCESS;
    }
    // `cargo test --benches` runs every benchmark once without --bench: nothing to smoke-test
    // here beyond building.
    if !args.iter().any(|a| a == "--bench") {
        return ExitCode::SUCCESS;
    }
    println!("session command, client side (SHA-256, AES-128-CFB): instructions per command");
    println!(
        "{:<26} {:>12} {:>12} {:>7}",
        "command", "client", "floor", "ratio"
    );
    for (i, kind) in Kind::ALL.iter().enumerate() {
        let row = per_command(i, "client").and_then(|c| Ok((c, per_command(i, "floor")?)));
        match row {
            Ok((client, floor)) => println!(
                "{:<26} {:>12.0} {:>12.0} {:>7.3}",
                kind.name(),
                client,
                floor,
                client / floor
            ),
            Err(e) => {
                eprintln!("error: {e}");
                return ExitCode::FAILURE;
            }
        }
    }
    ExitCode::SUCCESS
}
