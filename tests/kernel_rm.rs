//! The library against a real Linux kernel TPM resource manager (`/dev/tpmrm0`).
//!
//! # How it works
//!
//! This test binary plays both sides (`harness = false`, its own `main`):
//!
//! * **Host** (a plain `cargo test --test kernel_rm`):
//!   1. Tools. `kernel_rm/prepare-tools.sh` fetches Debian packages with `apt-get download`
//!      (QEMU, its firmware, OVMF, a Debian kernel, a static busybox) and unpacks them into
//!      the cache folder `target/kernel_rm-tools` (or `$KERNEL_RM_TOOLS`). Nothing of QEMU is
//!      installed; as root it installs only QEMU's missing shared libraries (apt-get update
//!      first on a fresh machine). The folder is reused while its `.stamp` equals the script
//!      compiled into this test; edit the script or delete the folder to refetch. Without
//!      root and without the tools the test fails and says what to install.
//!   2. Initramfs. `kernel_rm/build-initrd.sh` packs busybox, `kernel_rm/init.sh` as `/init`,
//!      this very test binary as `/bin/kernel_rm` and the `tpm2-wire` CLI as
//!      `/bin/tpm2-wire`, each with its shared libraries and loader (no nested cargo build).
//!   3. Boot. A fresh swtpm (its own temp folder for state, control socket and log, on tmpfs
//!      when `$XDG_RUNTIME_DIR` or `/dev/shm` is one) and QEMU with software emulation (TCG;
//!      never KVM, which is nested and far slower here), booting the uncompressed kernel
//!      through its PVH entry with the qboot firmware, the console on QEMU's stdout. Each check names the guest machine it needs
//!      (`guest::Machine`), and each machine gets its own boot and swtpm: the default
//!      machine runs the quick checks (limit 120 s); the `icount` machine
//!      (`-icount shift=auto,sleep=off`) runs the context-gap checks, which send tens of
//!      thousands of commands and would spend most of their time in the kernel driver's ~1 ms
//!      polling sleeps on the default machine. Their time depends on how busy the host is, so
//!      their limit is on silence, not on the total: the guest prints a `KRM-PROGRESS` line
//!      every 2048 commands, each of their loops stops (failing) at a budget of commands, and
//!      the boot fails if the console shows no `KRM-` line for 180 s. The `ovmf`,
//!      `ovmf-secure-boot` and `ovmf-secure-boot-ms` machines (limit 120 s each, about 13 s
//!      idle) boot the compressed `vmlinuz` through UEFI firmware instead: OVMF from pflash,
//!      its code read-only and a private copy of its variable store; q35, and SMM for the
//!      secure-boot build, with its snakeoil keys and a kernel signed here, or with
//!      Microsoft's db; TCG too, as under a nested KVM such as kvm-pvm OVMF faults in its
//!      first instructions. The firmware sends TPM2_Startup itself and measures the boot
//!      into the TPM; their checks (`measured_boot*`, see `kernel_rm/measured_boot.rs`)
//!      quote with a nonce the host passes on the kernel command line and print what a
//!      verifier needs as `KRM-BLOB` lines, and the host verifies the quote, the event log's
//!      replay, the secure-boot state and tampered copies of the log. Every step has a time
//!      limit; swtpm, QEMU and the temp folders are cleaned up on every path. A boot whose
//!      guest kernel gave up probing the TPM (its fixed wait for TPM2_Startup timed out, so
//!      there is no TPM and no check ran) is booted again, at most three boots in all; any
//!      other failure, above all a failing check, is final.
//!   4. Verdict. The guest prints `KRM-CHECK <name> PASS|FAIL <detail>` per check and
//!      `KRM-RESULT: PASS` at the end. The host reports each check in libtest style and fails
//!      if a check failed (in the guest, or in the host's half of a measured-boot check), a
//!      check's line is missing, the final marker is missing, or QEMU exited non-zero (init
//!      reports failures through isa-debug-exit as well).
//! * **Guest** (`/init` runs `/bin/kernel_rm` with `KERNEL_RM_GUEST=1`): runs the checks in
//!   `kernel_rm/guest.rs` against `/dev/tpmrm0` and `/dev/tpm0` and prints the markers.
//!
//! Timing: the guest marks timed phases with `KRM-MARK <phase> begin|end <ops>` lines and the
//! host prints them by its own clock (`host clock: ...`), since the guest's clock is QEMU's
//! virtual clock under `-icount`.
//!
//! Selecting checks: `cargo test --test kernel_rm -- gap_cost` runs only the checks whose
//! names contain a filter (the guest learns them from the kernel command line), booting only
//! the machines they need: `-- --exact context_gap` boots the icount machine alone, and
//! `-- --skip context_gap` the default and OVMF ones, `-- measured_boot` the OVMF ones alone.
//! Experiments with the guest machine (the defaults are what the test is tuned for):
//! `KERNEL_RM_TPM_DEVICE=tpm-crb` (QEMU's TPM interface, default `tpm-tis`),
//! `KERNEL_RM_QEMU_ARGS="-smp 2"` (extra QEMU arguments), `KERNEL_RM_APPEND=...` (extra
//! kernel command-line words; `krm_dmesg=1` prints the kernel's TPM messages even on success).
//!
//! Host needs: a Debian-based system with apt (bookworm tested), swtpm, xz-utils, gzip,
//! openssl, binutils (strip, optional); root once for QEMU's libraries.

#[path = "kernel_rm/guest.rs"]
mod guest;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitCode, ExitStatus, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

const PREPARE_SCRIPT: &str = include_str!("kernel_rm/prepare-tools.sh");
const SCRIPTS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/kernel_rm");
const CLI_BINARY: &str = env!("CARGO_BIN_EXE_tpm2-wire");

const PREPARE_TIMEOUT: Duration = Duration::from_secs(900);
const INITRD_TIMEOUT: Duration = Duration::from_secs(60);
const SWTPM_START_TIMEOUT: Duration = Duration::from_secs(10);
const BOOT_TIMEOUT: Duration = Duration::from_secs(120);
/// The icount boot's three checks each drive the TPM's context counter past 65535 (about
/// 180 s together on an idle 2-core host, 300 s at a load average of 9, more on a busier one).
/// The guest shows progress every 2048 commands and its loops are bounded, so the limit is the
/// longest wait for the next `KRM-` line (30 s at that load, mostly the kernel's boot); a
/// guest that hangs fails after it.
const ICOUNT_SILENCE_LIMIT: Duration = Duration::from_secs(180);
/// Boots of one machine at most, when the kernel's TPM probe times out (see `host`).
const BOOT_ATTEMPTS: usize = 3;

const TEST_NAME: &str = "kernel_rm";

fn main() -> ExitCode {
    if std::env::var_os("KERNEL_RM_GUEST").is_some() {
        return guest::run();
    }

    // Behave like a libtest binary towards cargo's usual arguments. The checks of one guest
    // machine share a boot; a filter selects the checks whose names contain it, and only
    // those (and their machines' boots) run.
    let name_of = |c: &guest::Check| format!("{TEST_NAME}::{}", c.name);
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.iter().any(|a| a == "--list") {
        for check in guest::CHECKS {
            println!("{}: test", name_of(check));
        }
        return ExitCode::SUCCESS;
    }
    // `--skip F` takes F as a skip filter, as libtest does; other words are filters.
    let mut filters: Vec<&String> = Vec::new();
    let mut skips: Vec<&String> = Vec::new();
    let mut words = args.iter();
    while let Some(word) = words.next() {
        if word == "--skip" {
            skips.extend(words.next());
        } else if !word.starts_with('-') {
            filters.push(word);
        }
    }
    let exact = args.iter().any(|a| a == "--exact");
    let matches = |c: &guest::Check, f: &str| {
        let name = name_of(c);
        if exact {
            name == f || c.name == f
        } else {
            name.contains(f)
        }
    };
    let selected: Vec<&'static guest::Check> = guest::CHECKS
        .iter()
        .filter(|c| filters.is_empty() || filters.iter().any(|f| matches(c, f)))
        .filter(|c| !skips.iter().any(|f| matches(c, f)))
        .collect();
    let filtered_out = guest::CHECKS.len() - selected.len();
    if args.iter().any(|a| a == "--ignored") || selected.is_empty() {
        println!(
            "\nrunning 0 tests\n\ntest result: ok. 0 passed; 0 failed; 0 ignored; 0 measured; {} filtered out\n",
            guest::CHECKS.len()
        );
        return ExitCode::SUCCESS;
    }

    let started = Instant::now();
    println!("\nrunning {} tests", selected.len());
    let (passed, failed) = match host(&selected) {
        Ok(report) => report,
        Err(e) => {
            println!("test {TEST_NAME} ... FAILED\n\nkernel_rm: {e}\n");
            (0, selected.len())
        }
    };
    let verdict = if failed == 0 { "ok" } else { "FAILED" };
    println!(
        "\ntest result: {verdict}. {passed} passed; {failed} failed; 0 ignored; 0 measured; {filtered_out} filtered out; finished in {:.2}s\n",
        started.elapsed().as_secs_f64()
    );
    if failed == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

/// Prepares, boots and judges; returns (passed, failed) check counts.
fn host(selected: &[&'static guest::Check]) -> Result<(usize, usize), String> {
    let t = Instant::now();
    let tools = Tools::ensure()?;
    println!(
        "kernel_rm: tools {} in {:.1}s",
        tools.origin,
        t.elapsed().as_secs_f64()
    );

    let work = tempfile::Builder::new()
        .prefix("kernel_rm-")
        .tempdir()
        .map_err(|e| format!("cannot create a temp folder: {e}"))?;

    let t = Instant::now();
    let initrd = work.path().join("initrd.gz");
    let test_binary =
        std::env::current_exe().map_err(|e| format!("cannot locate this test binary: {e}"))?;
    let mut build = Command::new("sh");
    build
        .arg(Path::new(SCRIPTS).join("build-initrd.sh"))
        .arg(&tools.busybox)
        .arg(Path::new(SCRIPTS).join("init.sh"))
        .arg(&initrd)
        .arg(format!("kernel_rm={}", test_binary.display()))
        .arg(format!("tpm2-wire={CLI_BINARY}"));
    run_to_completion(&mut build, INITRD_TIMEOUT, "build-initrd.sh")?;
    let size = std::fs::metadata(&initrd).map(|m| m.len()).unwrap_or(0);
    println!(
        "kernel_rm: initramfs {:.1} MB in {:.1}s",
        size as f64 / 1e6,
        t.elapsed().as_secs_f64()
    );

    // One boot per guest machine, each with its own swtpm and time limit.
    let (mut passed, mut failed) = (0, 0);
    for machine in [
        guest::Machine::Default,
        guest::Machine::Icount,
        guest::Machine::Ovmf,
        guest::Machine::OvmfSecureBoot,
        guest::Machine::OvmfSecureBootMs,
    ] {
        let group: Vec<&'static guest::Check> = selected
            .iter()
            .copied()
            .filter(|c| c.machine == machine)
            .collect();
        if group.is_empty() {
            continue;
        }
        // The measured-boot checks quote with a nonce only this host knows (fresh per boot).
        let nonce = random_nonce()?;
        let mut attempt = 1;
        let (t, result) = loop {
            let t = Instant::now();
            let result = boot(&tools, &initrd, work.path(), &group, machine, &nonce);
            // The guest kernel waits a fixed 750 ms of its own clock for the TPM to answer
            // TPM2_Startup. Under icount with sleep=off that clock runs ahead of the host's
            // while the guest polls, so on a busy host the kernel's probe can give up before
            // swtpm has answered, and the guest has no TPM at all. That is the kernel driver
            // timing out on a slow host, not a defect of the library, and no check has run,
            // so a fresh boot is honest. Only that exact failure is retried, a bounded number
            // of times; a check failing inside the guest, or any other failure, is final. (The
            // kernel has no parameter that lengthens the wait, and tpm-crb waits the same.)
            if attempt < BOOT_ATTEMPTS {
                if let Some(why) = result.as_ref().ok().and_then(probe_timed_out) {
                    println!(
                        "kernel_rm: {} boot {attempt} of at most {BOOT_ATTEMPTS}: the kernel's TPM probe timed out, so the guest has no TPM and ran no check; booting again ({why})",
                        machine_name(machine)
                    );
                    attempt += 1;
                    continue;
                }
            }
            break (t, result);
        };
        match result {
            Ok(boot) => {
                let which = if attempt > 1 {
                    format!(" (boot {attempt})")
                } else {
                    String::new()
                };
                println!(
                    "kernel_rm: {} boot{which} and guest checks {:.1}s, QEMU {}",
                    machine_name(machine),
                    t.elapsed().as_secs_f64(),
                    describe_status(boot.status)
                );
                report_marks(&boot.marks);
                let (p, f) = judge(&boot, &group, &nonce, &initrd, &tools, work.path());
                passed += p;
                failed += f;
            }
            Err(e) => {
                println!("kernel_rm: {} boot: {e}", machine_name(machine));
                for check in &group {
                    println!(
                        "test {TEST_NAME}::{} ... FAILED (its boot failed)",
                        check.name
                    );
                }
                failed += group.len();
            }
        }
    }
    Ok((passed, failed))
}

fn machine_name(machine: guest::Machine) -> &'static str {
    match machine {
        guest::Machine::Default => "default",
        guest::Machine::Icount => "icount",
        guest::Machine::Ovmf => "ovmf",
        guest::Machine::OvmfSecureBoot => "ovmf-secure-boot",
        guest::Machine::OvmfSecureBootMs => "ovmf-secure-boot-ms",
    }
}

/// A fresh random nonce for one boot.
fn random_nonce() -> Result<Vec<u8>, String> {
    let mut nonce = vec![0u8; 32];
    tpm2_wire::crypto::random(&mut nonce).map_err(|e| format!("host random: {e}"))?;
    Ok(nonce)
}

/// The console line of a guest whose kernel created no TPM device (`kernel_rm/init.sh`).
const NO_TPM_RESULT: &str = "KRM-RESULT: FAIL no /dev/tpm0 or /dev/tpmrm0 character device";

/// When the guest ran no check because the kernel found no TPM, and the kernel's messages say
/// its TPM probe timed out (`tpm tpm0: Operation Timed out`, `tpm_tis: probe of MSFT0101:00
/// failed with error -62`, -62 being ETIME): those messages, joined. `None` for any other
/// outcome.
fn probe_timed_out(boot: &Boot) -> Option<String> {
    let no_tpm = boot.console.iter().any(|l| l == NO_TPM_RESULT);
    let ran_a_check = boot.console.iter().any(|l| l.starts_with("KRM-CHECK "));
    if !no_tpm || ran_a_check {
        return None;
    }
    let timeouts: Vec<&str> = boot
        .console
        .iter()
        .filter_map(|l| l.strip_prefix("KRM-DMESG "))
        .filter(|m| {
            let probe_failed = m.contains("probe of ") && m.ends_with("failed with error -62");
            (m.contains("tpm") && m.ends_with("Operation Timed out")) || probe_failed
        })
        .map(str::trim)
        .collect();
    if timeouts.is_empty() {
        None
    } else {
        Some(timeouts.join("; "))
    }
}

/// How long a boot may take.
#[derive(Clone, Copy)]
enum Limit {
    /// From QEMU's start to its end.
    Total(Duration),
    /// Between two `KRM-` lines on the console (and before the first, and after the last).
    Silence(Duration),
}

/// QEMU arguments and time limit of a guest machine (its firmware is chosen in `boot`).
fn machine_setup(machine: guest::Machine) -> (&'static [&'static str], Limit) {
    match machine {
        guest::Machine::Default => (&[], Limit::Total(BOOT_TIMEOUT)),
        guest::Machine::Ovmf => (&["-machine", "q35"], Limit::Total(BOOT_TIMEOUT)),
        // The secure-boot build keeps its variable store behind SMM, which needs q35 with SMM
        // and the flash marked secure.
        guest::Machine::OvmfSecureBoot | guest::Machine::OvmfSecureBootMs => (
            &[
                "-machine",
                "q35,smm=on",
                "-global",
                "driver=cfi.pflash01,property=secure,value=on",
            ],
            Limit::Total(BOOT_TIMEOUT),
        ),
        // The kernel driver polls the TPM with ~1 ms sleeps; with sleep=off the guest's idle
        // time costs no wall time (the context-gap checks send tens of thousands of commands).
        guest::Machine::Icount => (
            &["-icount", "shift=auto,sleep=off"],
            Limit::Silence(ICOUNT_SILENCE_LIMIT),
        ),
    }
}

/// Times the guest's marked phases (`KRM-MARK <phase> begin`, `KRM-MARK <phase> end <ops>`)
/// by the host's clock, which stays wall time whatever the guest's clock does.
fn report_marks(marks: &[(Instant, String)]) {
    let mut begun: Vec<(&str, Instant)> = Vec::new();
    for (at, line) in marks {
        let words: Vec<&str> = line.split_whitespace().collect();
        match words.as_slice() {
            ["KRM-MARK", phase, "begin"] => begun.push((phase, *at)),
            ["KRM-MARK", phase, "end", ops] => {
                let Some(start) = begun
                    .iter()
                    .rev()
                    .find(|(p, _)| p == phase)
                    .map(|(_, t)| *t)
                else {
                    continue;
                };
                let ops: u32 = ops.parse().unwrap_or(0).max(1);
                let total = at.duration_since(start);
                println!(
                    "kernel_rm: host clock: {phase}: {:.0} us per op ({ops} ops in {:.3} s)",
                    total.as_secs_f64() * 1e6 / f64::from(ops),
                    total.as_secs_f64()
                );
            }
            _ => {}
        }
    }
}

/// The unpacked guest tools.
struct Tools {
    qemu: PathBuf,
    module_dir: PathBuf,
    firmware_dirs: [PathBuf; 2],
    /// Firmware and kernel: qboot + vmlinux (fast), or SeaBIOS + vmlinuz (fallback).
    bios: PathBuf,
    kernel: PathBuf,
    /// The bzImage, which OVMF boots through its EFI stub.
    vmlinuz: PathBuf,
    /// OVMF's flash images (`OVMF_CODE_4M*.fd`, `OVMF_VARS_4M*.fd`).
    ovmf: PathBuf,
    /// sbsign and sbattach.
    sbsigntool: PathBuf,
    /// OVMF's snakeoil key (unencrypted) and certificate (PEM, and DER).
    signer_key: PathBuf,
    signer_pem: PathBuf,
    signer_der: PathBuf,
    busybox: PathBuf,
    origin: &'static str,
}

impl Tools {
    fn dir() -> PathBuf {
        if let Some(dir) = std::env::var_os("KERNEL_RM_TOOLS") {
            return PathBuf::from(dir);
        }
        // CARGO_TARGET_TMPDIR is <target>/tmp; the cache sits beside it.
        let tmp = Path::new(env!("CARGO_TARGET_TMPDIR"));
        tmp.parent().unwrap_or(tmp).join("kernel_rm-tools")
    }

    fn ensure() -> Result<Tools, String> {
        which("swtpm").ok_or("swtpm is not installed (Debian: apt-get install swtpm)")?;
        let dir = Self::dir();
        let mut origin = "cached";
        if !Self::usable(&dir) {
            origin = "prepared";
            println!(
                "kernel_rm: preparing guest tools in {} (one-time, downloads about 95 MB)",
                dir.display()
            );
            let mut prepare = Command::new("sh");
            prepare
                .arg(Path::new(SCRIPTS).join("prepare-tools.sh"))
                .arg(&dir);
            run_to_completion(&mut prepare, PREPARE_TIMEOUT, "prepare-tools.sh")?;
            if !Self::usable(&dir) {
                return Err(format!(
                    "prepare-tools.sh finished but {} is still incomplete",
                    dir.display()
                ));
            }
        }
        let sys = dir.join("sys");
        let vmlinux = dir.join("vmlinux");
        let (bios, kernel) = if vmlinux.is_file() {
            (sys.join("usr/share/qemu/qboot.rom"), vmlinux)
        } else {
            (
                sys.join("usr/share/seabios/bios-256k.bin"),
                dir.join("vmlinuz"),
            )
        };
        Ok(Tools {
            qemu: sys.join("usr/bin/qemu-system-x86_64"),
            module_dir: sys.join("usr/lib/x86_64-linux-gnu/qemu"),
            firmware_dirs: [sys.join("usr/share/qemu"), sys.join("usr/share/seabios")],
            bios,
            kernel,
            vmlinuz: dir.join("vmlinuz"),
            ovmf: sys.join("usr/share/OVMF"),
            sbsigntool: sys.join("usr/bin"),
            signer_key: dir.join("snakeoil-key.pem"),
            signer_pem: dir.join("snakeoil.pem"),
            signer_der: dir.join("snakeoil.der"),
            busybox: dir.join("busybox"),
            origin,
        })
    }

    /// Complete (stamp matches this test's script) and QEMU finds all its libraries.
    fn usable(dir: &Path) -> bool {
        let stamp_ok = std::fs::read_to_string(dir.join(".stamp"))
            .map(|s| s == PREPARE_SCRIPT)
            .unwrap_or(false);
        if !stamp_ok {
            return false;
        }
        let qemu = dir.join("sys/usr/bin/qemu-system-x86_64");
        let tcg = dir.join("sys/usr/lib/x86_64-linux-gnu/qemu/accel-tcg-x86_64.so");
        match Command::new("ldd").arg(&qemu).arg(&tcg).output() {
            Ok(out) => {
                out.status.success() && !String::from_utf8_lossy(&out.stdout).contains("not found")
            }
            Err(_) => false,
        }
    }
}

fn which(program: &str) -> Option<PathBuf> {
    std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|p| p.join(program))
            .find(|p| p.is_file())
    })
}

/// Kills and reaps a child when dropped, so no path out of the test leaves it running.
struct Reaped(Child);

impl Drop for Reaped {
    fn drop(&mut self) {
        if let Ok(None) = self.0.try_wait() {
            let _ = self.0.kill();
        }
        let _ = self.0.wait();
    }
}

/// Waits for `child` to exit, killing it after `limit`.
fn wait_limited(child: &mut Reaped, limit: Duration, what: &str) -> Result<ExitStatus, String> {
    let deadline = Instant::now() + limit;
    loop {
        match child.0.try_wait() {
            Ok(Some(status)) => return Ok(status),
            Ok(None) if Instant::now() >= deadline => {
                let _ = child.0.kill();
                return Err(format!(
                    "{what} did not finish within {}s; killed",
                    limit.as_secs()
                ));
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(50)),
            Err(e) => return Err(format!("waiting for {what}: {e}")),
        }
    }
}

/// Runs a helper script with its output passed through, bounded by `limit`.
fn run_to_completion(cmd: &mut Command, limit: Duration, what: &str) -> Result<(), String> {
    let child = cmd
        .stdin(Stdio::null())
        .spawn()
        .map_err(|e| format!("cannot start {what}: {e}"))?;
    let mut child = Reaped(child);
    let status = wait_limited(&mut child, limit, what)?;
    if status.success() {
        Ok(())
    } else {
        Err(format!(
            "{what} failed ({}); see its messages above",
            describe_status(status)
        ))
    }
}

fn describe_status(status: ExitStatus) -> String {
    match status.code() {
        Some(code) => format!("exit status {code}"),
        None => format!("{status}"),
    }
}

struct Boot {
    status: ExitStatus,
    console: Vec<String>,
    /// `KRM-MARK` lines with the host time they arrived.
    marks: Vec<(Instant, String)>,
    swtpm_log: String,
}

/// Boots the guest once with a fresh swtpm, runs `selected` (all of `machine`), and collects
/// its console.
fn boot(
    tools: &Tools,
    initrd: &Path,
    work: &Path,
    selected: &[&'static guest::Check],
    machine: guest::Machine,
    nonce: &[u8],
) -> Result<Boot, String> {
    let name = machine_name(machine);
    let (machine_args, limit) = machine_setup(machine);
    // A fresh folder per boot for swtpm's state, control socket and log, removed when this
    // function returns (it outlives swtpm, which is declared after it).
    let (swtpm_dir, on) = swtpm_folder(work, name)?;
    println!("kernel_rm: {name} boot: swtpm state on {on}");
    let state = swtpm_dir.path();
    let socket = state.join("ctrl.sock");
    // swtpm chats on stderr ("Data client disconnected"); kept for the failure report.
    let swtpm_log_path = state.join("swtpm.log");
    let swtpm_log = std::fs::File::create(&swtpm_log_path)
        .map_err(|e| format!("cannot create the swtpm log: {e}"))?;
    // UEFI firmware sends TPM2_Startup itself (and measures after it); qboot and SeaBIOS
    // do not, so swtpm starts the TPM for them.
    let uefi = firmware_vars(machine).is_some();
    let swtpm = Command::new("swtpm")
        .arg("socket")
        .arg("--tpm2")
        .arg("--tpmstate")
        .arg(format!("dir={}", state.display()))
        .arg("--ctrl")
        .arg(format!("type=unixio,path={}", socket.display()))
        .args(if uefi {
            &[][..]
        } else {
            &["--flags", "startup-clear"][..]
        })
        .stdin(Stdio::null())
        .stdout(
            swtpm_log
                .try_clone()
                .map_err(|e| format!("swtpm log: {e}"))?,
        )
        .stderr(swtpm_log)
        .spawn()
        .map_err(|e| format!("cannot start swtpm: {e}"))?;
    // Declared before QEMU so it is dropped (killed) after QEMU.
    let mut swtpm = Reaped(swtpm);
    let deadline = Instant::now() + SWTPM_START_TIMEOUT;
    while !socket.exists() {
        if let Ok(Some(status)) = swtpm.0.try_wait() {
            return Err(format!(
                "swtpm exited at start-up ({})",
                describe_status(status)
            ));
        }
        if Instant::now() >= deadline {
            return Err(format!(
                "swtpm did not create its socket within {}s",
                SWTPM_START_TIMEOUT.as_secs()
            ));
        }
        std::thread::sleep(Duration::from_millis(20));
    }

    // The kernel hands command-line words it does not know (`name=value`, no dot) to /init
    // as environment variables: that is how the guest learns which checks to run.
    let mut append = String::from("console=ttyS0 quiet loglevel=1 panic=-1");
    if selected.len() != guest::CHECKS.len() {
        // Always the case with more than one machine: the selection names this boot's checks.
        let names: Vec<&str> = selected.iter().map(|c| c.name).collect();
        append.push_str(&format!(" {}={}", guest::SELECT_VAR, names.join(",")));
    }
    if uefi {
        append.push_str(&format!(
            " {}={}",
            guest::measured_boot::NONCE_VAR,
            nonce.iter().map(|b| format!("{b:02x}")).collect::<String>()
        ));
    }
    let knobs = Knobs::from_env();
    if !knobs.append.is_empty() {
        append.push(' ');
        append.push_str(&knobs.append);
    }
    if knobs.changed() {
        println!("kernel_rm: {knobs}");
    }

    let mut qemu = Command::new(&tools.qemu);
    qemu.env("QEMU_MODULE_DIR", &tools.module_dir)
        .arg("-L")
        .arg(&tools.firmware_dirs[0])
        .arg("-L")
        .arg(&tools.firmware_dirs[1])
        .args([
            "-display", "none", "-vga", "none", "-nic", "none", "-monitor", "none",
        ])
        // 512 MB: sign_kernel predicts where QEMU puts the initrd from it.
        .args(["-serial", "stdio", "-m", "512", "-no-reboot"])
        // RDRAND seeds the guest kernel's random pool at boot; without it the first
        // getrandom() (the first session nonce) blocks for about a second.
        .args(["-cpu", "qemu64,+rdrand"]);
    if let Some((code, vars)) = firmware_vars(machine) {
        // Code read-only, and a private copy of the variable store, which the firmware
        // writes (boot entries, MOR) and which must start the same on every boot.
        let private_vars = state.join("vars.fd");
        std::fs::copy(tools.ovmf.join(vars), &private_vars)
            .map_err(|e| format!("cannot copy {vars}: {e}"))?;
        let kernel = if machine == guest::Machine::OvmfSecureBoot {
            sign_kernel(tools, initrd, work)?
        } else {
            tools.vmlinuz.clone()
        };
        qemu.arg("-drive")
            .arg(format!(
                "if=pflash,format=raw,unit=0,readonly=on,file={}",
                tools.ovmf.join(code).display()
            ))
            .arg("-drive")
            .arg(format!(
                "if=pflash,format=raw,unit=1,file={}",
                private_vars.display()
            ))
            .arg("-kernel")
            .arg(&kernel);
    } else {
        qemu.arg("-bios")
            .arg(&tools.bios)
            .arg("-kernel")
            .arg(&tools.kernel);
    }
    qemu.arg("-initrd")
        .arg(initrd)
        .arg("-append")
        .arg(&append)
        .arg("-chardev")
        .arg(format!("socket,id=chrtpm,path={}", socket.display()))
        .args(["-tpmdev", "emulator,id=tpm0,chardev=chrtpm"])
        .arg("-device")
        .arg(format!("{},tpmdev=tpm0", knobs.tpm_device))
        .args(["-device", "isa-debug-exit,iobase=0xf4,iosize=0x04"])
        .args(machine_args)
        .args(knobs.qemu_args.split_whitespace())
        .stdin(Stdio::null())
        .stdout(Stdio::piped());
    let mut qemu = Reaped(
        qemu.spawn()
            .map_err(|e| format!("cannot start QEMU: {e}"))?,
    );

    // The console arrives line by line; show the markers as they come so a slow or stuck
    // guest is visible while it runs.
    let stdout = qemu.0.stdout.take().ok_or("QEMU has no stdout pipe")?;
    let (tx, rx) = mpsc::channel::<String>();
    let reader = std::thread::spawn(move || {
        for line in BufReader::new(stdout).split(b'\n') {
            let Ok(line) = line else { break };
            let line = String::from_utf8_lossy(&line)
                .trim_end_matches('\r')
                .to_string();
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let started = Instant::now();
    let mut last_sign = started;
    let mut longest_silence = Duration::ZERO;
    let mut after_longest = String::new();
    let mut console = Vec::new();
    let mut marks = Vec::new();
    let mut timed_out = false;
    loop {
        let deadline = match limit {
            Limit::Total(total) => started + total,
            Limit::Silence(silence) => last_sign + silence,
        };
        let left = deadline.saturating_duration_since(Instant::now());
        match rx.recv_timeout(left) {
            Ok(line) => {
                if line.starts_with("KRM-") {
                    let now = Instant::now();
                    if now - last_sign > longest_silence {
                        longest_silence = now - last_sign;
                        after_longest = line.chars().take(60).collect();
                    }
                    last_sign = now;
                }
                let quiet = line.starts_with("KRM-MARK ")
                    || line.starts_with("KRM-PROGRESS ")
                    || line.starts_with("KRM-BLOB ");
                if line.starts_with("KRM-") && !quiet {
                    println!("  guest: {line}");
                }
                if line.starts_with("KRM-MARK ") {
                    marks.push((Instant::now(), line.clone()));
                }
                console.push(line);
            }
            Err(mpsc::RecvTimeoutError::Disconnected) => break,
            Err(mpsc::RecvTimeoutError::Timeout) => {
                timed_out = true;
                break;
            }
        }
    }
    if timed_out {
        drop(qemu); // kills QEMU, which closes the pipe and ends the reader
        let _ = reader.join();
        drop(swtpm);
        let what = match limit {
            Limit::Total(total) => format!("did not finish within {}s", total.as_secs()),
            Limit::Silence(silence) => format!(
                "showed no progress for {}s (after {:.0}s)",
                silence.as_secs(),
                started.elapsed().as_secs_f64()
            ),
        };
        return Err(format!(
            "the guest {what}; console:\n{}\nswtpm:\n{}",
            console.join("\n"),
            std::fs::read_to_string(&swtpm_log_path).unwrap_or_default()
        ));
    }
    if let Limit::Silence(silence) = limit {
        println!(
            "kernel_rm: {name} boot: longest wait for a guest line {:.1}s, ended by `{after_longest}` (limit {}s)",
            longest_silence.as_secs_f64(),
            silence.as_secs()
        );
    }
    let _ = reader.join();
    // stdout closed: QEMU is exiting; give it a moment to do so.
    let status = wait_limited(&mut qemu, Duration::from_secs(10), "QEMU")?;
    drop(qemu);
    drop(swtpm);
    let swtpm_log = std::fs::read_to_string(&swtpm_log_path).unwrap_or_default();
    Ok(Boot {
        status,
        console,
        marks,
        swtpm_log,
    })
}

/// Where `sign_kernel` leaves the signed kernel (in the run's work folder).
fn signed_kernel_path(work: &Path) -> PathBuf {
    work.join("vmlinuz.signed")
}

/// The kernel signed with OVMF's snakeoil key as QEMU will hand it to the firmware, and
/// returns its path.
///
/// QEMU rewrites a few bytes of the bzImage setup header before the firmware loads it
/// (`x86_load_linux` in hw/i386/x86.c, QEMU 7.2), which breaks any signature made over the
/// file as shipped: the firmware then refuses the image, and OVMF's fallback loader runs it
/// unverified and unmeasured. So the same bytes are written here first and the result
/// signed; QEMU's rewrite then changes nothing. The initrd address QEMU picks depends on the
/// guest's RAM (512 MB, set in `boot`) and the initrd's size.
fn sign_kernel(tools: &Tools, initrd: &Path, work: &Path) -> Result<PathBuf, String> {
    let unsigned = work.join("vmlinuz.unsigned");
    std::fs::copy(&tools.vmlinuz, &unsigned).map_err(|e| format!("copy vmlinuz: {e}"))?;
    // Debian's signature goes first (the image then carries the snakeoil one alone); an
    // unsigned kernel makes sbattach fail, which is fine.
    let _ = Command::new(tools.sbsigntool.join("sbattach"))
        .arg("--remove")
        .arg(&unsigned)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
    let mut image = std::fs::read(&unsigned).map_err(|e| format!("read vmlinuz: {e}"))?;
    let initrd_size = std::fs::metadata(initrd)
        .map_err(|e| format!("initrd: {e}"))?
        .len();
    let initrd_size = u32::try_from(initrd_size).map_err(|_| "initrd over 4 GB".to_string())?;
    patch_setup_header(&mut image, initrd_size)?;
    std::fs::write(&unsigned, &image).map_err(|e| format!("write vmlinuz: {e}"))?;
    let signed = signed_kernel_path(work);
    let mut sign = Command::new(tools.sbsigntool.join("sbsign"));
    sign.arg("--key")
        .arg(&tools.signer_key)
        .arg("--cert")
        .arg(&tools.signer_pem)
        .arg("--output")
        .arg(&signed)
        .arg(&unsigned)
        .stdout(Stdio::null());
    run_to_completion(&mut sign, INITRD_TIMEOUT, "sbsign")?;
    Ok(signed)
}

/// QEMU 7.2's setup-header rewrite for a bzImage with an initrd, for a guest with
/// `GUEST_RAM` below 4 GB.
fn patch_setup_header(image: &mut [u8], initrd_size: u32) -> Result<(), String> {
    const GUEST_RAM: u32 = 512 << 20;
    // QEMU reserves this much at the top of RAM for ACPI tables (acpi_data_size).
    const ACPI_DATA_SIZE: u32 = 0x20000 + 0x8000;
    const XLF_CAN_BE_LOADED_ABOVE_4G: u16 = 1 << 1;
    if image.len() < 0x240 || image[0x202..0x206] != *b"HdrS" {
        return Err("vmlinuz is not a bzImage".to_string());
    }
    let u16_at = |i: &[u8], at: usize| u16::from_le_bytes([i[at], i[at + 1]]);
    let protocol = u16_at(image, 0x206);
    if protocol < 0x20c {
        return Err(format!("boot protocol {protocol:#x}: too old to sign here"));
    }
    let mut initrd_max = if u16_at(image, 0x236) & XLF_CAN_BE_LOADED_ABOVE_4G != 0 {
        u32::MAX
    } else {
        u32::from_le_bytes(image[0x22c..0x230].try_into().unwrap_or_default())
    };
    initrd_max = initrd_max.min(GUEST_RAM - ACPI_DATA_SIZE - 1);
    let initrd_addr = (initrd_max - initrd_size) & !0xfff;
    image[0x210] = 0xb0; // type_of_loader: QEMU
    image[0x211] |= 0x80; // loadflags: CAN_USE_HEAP
    image[0x218..0x21c].copy_from_slice(&initrd_addr.to_le_bytes()); // ramdisk_image
    image[0x21c..0x220].copy_from_slice(&initrd_size.to_le_bytes()); // ramdisk_size
    image[0x224..0x226].copy_from_slice(&0xfe00u16.to_le_bytes()); // heap_end_ptr
    image[0x228..0x22c].copy_from_slice(&0x20000u32.to_le_bytes()); // cmd_line_ptr
    Ok(())
}

/// The OVMF code and variable-store images of a UEFI machine (in `usr/share/OVMF`); `None`
/// for the machines that boot with qboot or SeaBIOS.
fn firmware_vars(machine: guest::Machine) -> Option<(&'static str, &'static str)> {
    match machine {
        guest::Machine::Default | guest::Machine::Icount => None,
        guest::Machine::Ovmf => Some(("OVMF_CODE_4M.fd", "OVMF_VARS_4M.fd")),
        // Debian's PK, Microsoft's KEK and db, SecureBoot on.
        // The snakeoil key as PK, KEK and db, SecureBoot on.
        guest::Machine::OvmfSecureBoot => {
            Some(("OVMF_CODE_4M.secboot.fd", "OVMF_VARS_4M.snakeoil.fd"))
        }
        // Debian's PK, Microsoft's KEK and db, SecureBoot on.
        guest::Machine::OvmfSecureBootMs => Some(("OVMF_CODE_4M.secboot.fd", "OVMF_VARS_4M.ms.fd")),
    }
}

/// A fresh folder for one swtpm, on a RAM-backed file system (tmpfs) when one is available:
/// swtpm writes its state file when the guest's kernel sends TPM2_Startup, and a flush to a
/// busy disk can outlast the kernel's wait for the answer. Falls back to `work`. Returns the
/// folder (removed when dropped) and a description of where it is.
fn swtpm_folder(work: &Path, name: &str) -> Result<(tempfile::TempDir, String), String> {
    let prefix = format!("kernel_rm-swtpm-{name}-");
    let candidates = std::env::var_os("XDG_RUNTIME_DIR")
        .map(PathBuf::from)
        .into_iter()
        .chain([PathBuf::from("/dev/shm")]);
    for base in candidates {
        if !base.is_absolute() || !is_tmpfs(&base) {
            continue;
        }
        if let Ok(dir) = tempfile::Builder::new().prefix(&prefix).tempdir_in(&base) {
            return Ok((dir, format!("tmpfs ({})", base.display())));
        }
    }
    let dir = tempfile::Builder::new()
        .prefix(&prefix)
        .tempdir_in(work)
        .map_err(|e| format!("cannot create the swtpm folder: {e}"))?;
    Ok((dir, "the work folder (no writable tmpfs found)".to_string()))
}

/// Whether `path` lies on a tmpfs, by the innermost mount that holds it in
/// `/proc/self/mountinfo`. False when that cannot be told.
fn is_tmpfs(path: &Path) -> bool {
    let Ok(path) = path.canonicalize() else {
        return false;
    };
    let Ok(mountinfo) = std::fs::read_to_string("/proc/self/mountinfo") else {
        return false;
    };
    // Fields: id parent major:minor root mount-point options [optional...] - type source ...
    // The mount point escapes blanks and backslashes as octal (`\040`). A later line mounted
    // over an earlier one at the same point, so the last longest match wins.
    let mut innermost: Option<(usize, bool)> = None;
    for line in mountinfo.lines() {
        let mut fields = line.split(' ');
        let Some(point) = fields.nth(4) else { continue };
        let Some(fs_type) = fields.skip_while(|f| *f != "-").nth(1) else {
            continue;
        };
        let point = PathBuf::from(unescape_octal(point));
        if !path.starts_with(&point) {
            continue;
        }
        let depth = point.components().count();
        if innermost.is_none_or(|(d, _)| depth >= d) {
            innermost = Some((depth, fs_type == "tmpfs"));
        }
    }
    innermost.is_some_and(|(_, tmpfs)| tmpfs)
}

/// Undoes the kernel's `\ooo` escapes of a mount point.
fn unescape_octal(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let escape = bytes
            .get(i + 1..i + 4)
            .filter(|d| bytes[i] == b'\\' && d.iter().all(|c| (b'0'..=b'7').contains(c)))
            .and_then(|d| {
                u8::try_from(d.iter().fold(0u32, |v, c| v * 8 + u32::from(c - b'0'))).ok()
            });
        if let Some(byte) = escape {
            out.push(byte);
            i += 4;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Guest machine settings for experiments (see the header), from the environment.
struct Knobs {
    /// QEMU's TPM interface: `tpm-tis` (default) or `tpm-crb`.
    tpm_device: String,
    /// Extra QEMU arguments, split at whitespace.
    qemu_args: String,
    /// Extra kernel command-line words.
    append: String,
}

impl Knobs {
    const TPM_DEVICE: &'static str = "KERNEL_RM_TPM_DEVICE";
    const QEMU_ARGS: &'static str = "KERNEL_RM_QEMU_ARGS";
    const APPEND: &'static str = "KERNEL_RM_APPEND";
    const DEFAULT_TPM_DEVICE: &'static str = "tpm-tis";

    fn from_env() -> Knobs {
        let var = |name: &str| std::env::var(name).unwrap_or_default().trim().to_string();
        let tpm_device = var(Self::TPM_DEVICE);
        Knobs {
            tpm_device: if tpm_device.is_empty() {
                Self::DEFAULT_TPM_DEVICE.to_string()
            } else {
                tpm_device
            },
            qemu_args: var(Self::QEMU_ARGS),
            append: var(Self::APPEND),
        }
    }

    fn changed(&self) -> bool {
        self.tpm_device != Self::DEFAULT_TPM_DEVICE
            || !self.qemu_args.is_empty()
            || !self.append.is_empty()
    }
}

impl std::fmt::Display for Knobs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "guest machine: TPM interface {}, extra QEMU arguments {:?}, extra kernel arguments {:?}",
            self.tpm_device, self.qemu_args, self.append
        )
    }
}

/// The host's half of a check, if it has one: the measured-boot checks print what they
/// measured and the host verifies it with its `nonce`.
fn host_half(
    name: &str,
    console: &[String],
    nonce: &[u8],
    initrd: &Path,
    tools: &Tools,
    work: &Path,
) -> Option<Result<String, String>> {
    use guest::measured_boot::{host, Expect};
    let read = |path: &Path| std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()));
    let expect = match name {
        "measured_boot" => {
            // What QEMU handed the firmware: vmlinuz with its setup-header rewrite.
            let kernel = read(&tools.vmlinuz).and_then(|mut image| {
                let size = std::fs::metadata(initrd)
                    .map_err(|e| format!("initrd: {e}"))?
                    .len();
                let size = u32::try_from(size).map_err(|_| "initrd over 4 GB".to_string())?;
                patch_setup_header(&mut image, size)?;
                Ok(image)
            });
            match kernel {
                Ok(kernel) => Expect::Plain { kernel },
                Err(e) => return Some(Err(e)),
            }
        }
        "measured_boot_secure" => {
            let signer = match read(&tools.signer_der) {
                Ok(der) => der,
                Err(e) => return Some(Err(e)),
            };
            let kernel = match read(&signed_kernel_path(work)) {
                Ok(image) => image,
                Err(e) => return Some(Err(e)),
            };
            Expect::Verified { signer, kernel }
        }
        "measured_boot_secure_unverified" => Expect::Unverified,
        _ => return None,
    };
    Some(read(initrd).and_then(|initrd| host(console, nonce, expect, &initrd)))
}

/// Reports each check in libtest style; returns (passed, failed).
fn judge(
    boot: &Boot,
    selected: &[&'static guest::Check],
    nonce: &[u8],
    initrd: &Path,
    tools: &Tools,
    work: &Path,
) -> (usize, usize) {
    let mut passed = 0;
    let mut failed = Vec::new();
    for check in selected {
        let prefix = format!("KRM-CHECK {} ", check.name);
        let mut line = boot
            .console
            .iter()
            .find_map(|l| l.strip_prefix(&prefix))
            .map(str::to_string);
        // A guest PASS still needs the host's verdict.
        if line
            .as_deref()
            .is_some_and(|rest| rest == "PASS" || rest.starts_with("PASS "))
        {
            match host_half(check.name, &boot.console, nonce, initrd, tools, work) {
                Some(Ok(detail)) => println!("kernel_rm: {} (host): {detail}", check.name),
                Some(Err(reason)) => line = Some(format!("FAIL host: {reason}")),
                None => {}
            }
        }
        match line.as_deref() {
            Some(rest) if rest == "PASS" || rest.starts_with("PASS ") => {
                println!("test {TEST_NAME}::{} ... ok", check.name);
                passed += 1;
            }
            Some(rest) => {
                let reason = rest.strip_prefix("FAIL").unwrap_or(rest).trim();
                println!("test {TEST_NAME}::{} ... FAILED ({reason})", check.name);
                failed.push(check.name);
            }
            None => {
                println!(
                    "test {TEST_NAME}::{} ... FAILED (no result line from the guest)",
                    check.name
                );
                failed.push(check.name);
            }
        }
    }
    let result_pass = boot.console.iter().any(|l| l == "KRM-RESULT: PASS");
    let mut problems = Vec::new();
    if !failed.is_empty() {
        problems.push(format!("failed checks: {}", failed.join(", ")));
    }
    if !result_pass {
        problems.push("no `KRM-RESULT: PASS` line on the console".to_string());
    }
    if !boot.status.success() {
        problems.push(format!("QEMU {}", describe_status(boot.status)));
    }
    if problems.is_empty() {
        return (passed, 0);
    }
    println!(
        "\nkernel_rm: {}\n---- guest console ----",
        problems.join("; ")
    );
    // The measured-boot blobs are hundreds of hex lines; the host's verdict says what failed.
    let mut blobs = 0;
    for line in &boot.console {
        if line.starts_with("KRM-BLOB ") {
            blobs += 1;
        } else {
            println!("{line}");
        }
    }
    if blobs > 0 {
        println!("({blobs} KRM-BLOB lines left out)");
    }
    println!(
        "---- end of guest console ----\n---- swtpm ----\n{}---- end of swtpm ----",
        boot.swtpm_log
    );
    // A bad final marker or exit status fails the run even when every check line passed.
    (passed, failed.len().max(1))
}
