//! The guest half of the kernel_rm test: runs inside the QEMU guest and drives the Linux
//! kernel's TPM resource manager (`/dev/tpmrm0`) and the raw device (`/dev/tpm0`) through the
//! library itself (`device:` transport, typed commands, sessions, session files). It prints
//! one `KRM-CHECK <name> PASS|FAIL <detail>` line per check and a final
//! `KRM-RESULT: PASS|FAIL` line.
//!
//! Each check is a plain function in [`CHECKS`]; the host side learns the expected names from
//! the same table. The host may run a subset: it passes `krm_checks=a,b` on the kernel
//! command line, which the kernel hands to `/init` (and so to this program) as an
//! environment variable. Checks that need several processes re-execute this binary with
//! [`ROLE_VAR`] naming the part to play (see [`run_role`]). Each check names the guest
//! [`Machine`] it needs; the host boots once per machine.

#[path = "../common/mod.rs"]
mod common;
#[path = "measured_boot.rs"]
pub mod measured_boot;

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use tpm2_wire::client::{HandleRange, SaltKey, Session, SessionOptions};
use tpm2_wire::command::{Empty, Entity, FlushContext, GetRandom, Handles};
use tpm2_wire::session::engine::SessionSlot;
use tpm2_wire::transport::{DeviceTransport, TransportError};
use tpm2_wire::wire::{
    Auth, CommandCode, Digest, Handle, NvAttributes, NvPublic, PropertyTag, Public, RcKind,
    RcLayer, ResponseCode, TpmRc, Writer,
};
use tpm2_wire::{Error, Tpm};

pub const TPMRM: &str = "/dev/tpmrm0";
pub const TPM: &str = "/dev/tpm0";

/// Set (to a role name) when this binary runs as one process of a multi-process check.
pub const ROLE_VAR: &str = "KRM_ROLE";
/// The session file the roles of `cross_process_saved` hand over.
const ROLE_FILE_VAR: &str = "KRM_ROLE_FILE";
/// Comma-separated check names to run (from the kernel command line); unset: all.
pub const SELECT_VAR: &str = "krm_checks";

/// What a check reports: `Ok(detail)` passes, `Err(reason)` fails.
pub type CheckResult = Result<String, String>;

pub struct Check {
    pub name: &'static str,
    pub run: fn() -> CheckResult,
    /// The guest machine the check needs; checks of one machine share a boot.
    pub machine: Machine,
}

/// How the guest machine runs.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Machine {
    /// QEMU's default timing: the checks that are quick.
    Default,
    /// `-icount shift=auto,sleep=off`: the guest's idle time (the kernel driver polls the TPM
    /// with ~1 ms sleeps) costs no wall time. For checks of tens of thousands of commands.
    Icount,
    /// UEFI firmware (OVMF) measuring the boot into the TPM, secure boot off.
    Ovmf,
    /// OVMF's secure-boot build with its snakeoil key enrolled (PK, KEK, db), booting the
    /// kernel signed with that key.
    OvmfSecureBoot,
    /// OVMF's secure-boot build with Debian's PK and Microsoft's KEK and db enrolled, booting
    /// Debian's kernel, which that db does not admit.
    OvmfSecureBootMs,
}

/// Every check, in the order they run. The host requires a PASS line for each selected name.
pub const CHECKS: &[Check] = &[
    Check {
        name: "basic",
        run: basic,
        machine: Machine::Default,
    },
    Check {
        name: "cli",
        run: cli,
        machine: Machine::Default,
    },
    Check {
        name: "per_fd_slots",
        run: per_fd_slots,
        machine: Machine::Default,
    },
    Check {
        name: "per_fd_object_slots",
        run: per_fd_object_slots,
        machine: Machine::Default,
    },
    Check {
        name: "close_flushes",
        run: close_flushes,
        machine: Machine::Default,
    },
    Check {
        name: "client_saved_survives",
        run: client_saved_survives,
        machine: Machine::Default,
    },
    Check {
        name: "unsupported_cc",
        run: unsupported_cc,
        machine: Machine::Default,
    },
    Check {
        name: "device_errnos",
        run: device_errnos,
        machine: Machine::Default,
    },
    Check {
        name: "salted_bound_encrypted",
        run: salted_bound_encrypted,
        machine: Machine::Default,
    },
    Check {
        name: "cross_process_saved",
        run: cross_process_saved,
        machine: Machine::Default,
    },
    Check {
        name: "unsaved_gone_after_close",
        run: unsaved_gone_after_close,
        machine: Machine::Default,
    },
    Check {
        name: "gap_cost",
        run: gap_cost,
        machine: Machine::Default,
    },
    Check {
        name: "many_sessions_one_file",
        run: many_sessions_one_file,
        machine: Machine::Default,
    },
    Check {
        name: "exhaustion_processes",
        run: exhaustion_processes,
        machine: Machine::Default,
    },
    Check {
        name: "orphans_cli",
        run: orphans_cli,
        machine: Machine::Default,
    },
    Check {
        name: "context_gap",
        run: context_gap,
        machine: Machine::Icount,
    },
    Check {
        name: "context_gap_two_processes",
        run: context_gap_two_processes,
        machine: Machine::Icount,
    },
    // Last: it leaves the TPM refusing saves until it recovers.
    Check {
        name: "context_gap_without_regap",
        run: context_gap_without_regap,
        machine: Machine::Icount,
    },
    // The host verifies what these print (measured_boot::host).
    Check {
        name: "measured_boot",
        run: measured_boot::guest,
        machine: Machine::Ovmf,
    },
    Check {
        name: "measured_boot_secure",
        run: measured_boot::guest,
        machine: Machine::OvmfSecureBoot,
    },
    Check {
        name: "measured_boot_secure_unverified",
        run: measured_boot::guest,
        machine: Machine::OvmfSecureBootMs,
    },
];

/// The checks a `krm_checks` value selects (all when it is absent or empty).
pub fn selected(selection: Option<&str>) -> Vec<&'static Check> {
    let wanted: Vec<&str> = selection
        .unwrap_or("")
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .collect();
    CHECKS
        .iter()
        .filter(|c| wanted.is_empty() || wanted.contains(&c.name))
        .collect()
}

/// Runs the selected checks, prints the markers, and returns the process exit status.
pub fn run() -> std::process::ExitCode {
    if let Ok(role) = std::env::var(ROLE_VAR) {
        return run_role(&role);
    }
    // Splits the host's "boot and checks" time into kernel boot and checks.
    let uptime = std::fs::read_to_string("/proc/uptime").unwrap_or_default();
    println!(
        "KRM-INFO guest program started at kernel uptime {} s",
        uptime.split_whitespace().next().unwrap_or("?")
    );
    let started = Instant::now();
    let mut failed = 0;
    for check in selected(std::env::var(SELECT_VAR).ok().as_deref()) {
        let t = Instant::now();
        // A panicking check is a failed check, not a lost result line.
        let outcome = std::panic::catch_unwind(check.run)
            .unwrap_or_else(|panic| Err(format!("panicked: {}", panic_message(&panic))));
        let ms = t.elapsed().as_millis();
        match outcome {
            Ok(detail) => println!(
                "KRM-CHECK {} PASS [{ms} ms] {}",
                check.name,
                one_line(&detail)
            ),
            Err(reason) => {
                failed += 1;
                println!(
                    "KRM-CHECK {} FAIL [{ms} ms] {}",
                    check.name,
                    one_line(&reason)
                );
            }
        }
    }
    println!("KRM-INFO checks took {} ms", started.elapsed().as_millis());
    if failed == 0 {
        println!("KRM-RESULT: PASS");
        std::process::ExitCode::SUCCESS
    } else {
        println!("KRM-RESULT: FAIL {failed} check(s) failed");
        std::process::ExitCode::FAILURE
    }
}

fn panic_message(panic: &Box<dyn std::any::Any + Send>) -> String {
    if let Some(s) = panic.downcast_ref::<&str>() {
        (*s).to_string()
    } else if let Some(s) = panic.downcast_ref::<String>() {
        s.clone()
    } else {
        "(non-string payload)".to_string()
    }
}

/// Markers are line-based; a detail must not break the line.
fn one_line(s: &str) -> String {
    s.replace(['\n', '\r'], " | ")
}

// ---------------------------------------------------------------------------------------
// Helpers over the library

/// Adds what was being done to a library error.
fn ctx<E: std::fmt::Display>(what: impl std::fmt::Display) -> impl FnOnce(E) -> String {
    move |e| format!("{what}: {e}")
}

/// A fresh open of a TPM character device through the library's TCTI parsing, so each call
/// is a new resource-manager client (its own 3 object and 3 session slots).
fn open(path: &str) -> Result<Tpm, String> {
    Tpm::open(Some(&format!("device:{path}"))).map_err(ctx(format!("open device:{path}")))
}

fn pw(s: &str) -> Auth {
    // Test constants are far below the 64-byte limit.
    Auth::new(s.as_bytes()).unwrap_or_else(|_| Auth::empty())
}

fn random_bytes(n: usize) -> Result<Vec<u8>, String> {
    let mut v = vec![0u8; n];
    tpm2_wire::crypto::random(&mut v).map_err(ctx("host random"))?;
    Ok(v)
}

fn property(tpm: &Tpm, property: PropertyTag) -> Result<u32, String> {
    tpm.property(property)
        .map_err(ctx(format!("GetCapability({property:?})")))?
        .ok_or_else(|| format!("the TPM does not report {property:?}"))
}

/// The handles the TPM lists in `range` (TPM_CAP_HANDLES, through the library's pager).
/// Through the resource manager, transient objects are those of this open file, with virtual
/// handles; sessions and NV indices are the TPM's. Saved sessions come back with their 0x02
/// HMAC handles.
fn handles_in(tpm: &Tpm, range: HandleRange) -> Result<Vec<Handle>, String> {
    tpm.handles_in(range)
        .map_err(ctx(format!("GetCapability(HANDLES {range:?})")))
}

/// Every session the TPM knows of, loaded or saved, sorted.
fn all_sessions(tpm: &Tpm) -> Result<Vec<Handle>, String> {
    let mut all = handles_in(tpm, HandleRange::LoadedSessions)?;
    all.extend(handles_in(tpm, HandleRange::SavedSessions)?);
    all.sort_unstable();
    Ok(all)
}

/// Err unless `observer` lists exactly the sessions of `before`; `what` introduces the list
/// of those it sees instead.
fn sessions_as_before(observer: &Tpm, before: &[Handle], what: &str) -> Result<(), String> {
    let now = all_sessions(observer)?;
    if now != before {
        return Err(format!("{what} {} (before {})", list(&now), list(before)));
    }
    Ok(())
}

/// A check's verdict after its clean-up ran: its own outcome first, then the clean-up's, then
/// no session left that was not there `before`.
fn verdict(
    outcome: CheckResult,
    cleanup: Result<(), String>,
    observer: &Tpm,
    before: &[Handle],
) -> CheckResult {
    let detail = outcome?;
    cleanup?;
    sessions_as_before(observer, before, "sessions left:")?;
    Ok(detail)
}

fn list(handles: &[Handle]) -> String {
    let items: Vec<String> = handles.iter().map(|h| format!("0x{:08x}", h.0)).collect();
    format!("[{}]", items.join(" "))
}

/// A primary key under the owner hierarchy (owner auth empty, by password).
fn create_primary(tpm: &Tpm, template: Public, auth: &Auth) -> Result<(Entity, Public), String> {
    let owner = Auth::empty();
    tpm.create_primary(
        &Entity::owner(),
        SessionSlot::Password(&owner),
        template,
        auth,
    )
    .map_err(ctx("CreatePrimary"))
}

fn flush_handle(tpm: &Tpm, handle: Handle) -> Result<(), String> {
    tpm.run(&FlushContext {
        flush_handle: handle,
    })
    .map(|_| ())
    .map_err(ctx(format!("FlushContext({handle})")))
}

/// Defines an NV index (owner auth empty, by password) and returns it with its current name.
fn define_nv(
    tpm: &Tpm,
    index: u32,
    attributes: NvAttributes,
    auth: &Auth,
    size: u16,
    slot: SessionSlot<'_>,
) -> Result<Entity, String> {
    let public = NvPublic {
        nv_index: Handle(index),
        name_alg: tpm2_wire::crypto::HashAlg::Sha256.alg_id(),
        attributes,
        auth_policy: Digest::empty(),
        data_size: size,
    };
    common::nv::define_space(tpm, public, auth, slot)
        .map_err(ctx(format!("NV_DefineSpace(0x{index:08x})")))?;
    nv_entity(tpm, index)
}

/// The index with the name the TPM reports now (it changes when the index is first written).
fn nv_entity(tpm: &Tpm, index: u32) -> Result<Entity, String> {
    Ok(tpm
        .nv_read_public(Handle(index))
        .map_err(ctx(format!("NV_ReadPublic(0x{index:08x})")))?
        .0)
}

fn undefine_nv(tpm: &Tpm, index: &Entity) -> Result<(), String> {
    common::nv::undefine_space(tpm, index)
        .map_err(ctx(format!("NV_UndefineSpace({})", index.handle)))
}

/// Undefines an index left by an earlier, failed run of the same check (fresh swtpm per boot,
/// so this only matters when a check runs twice).
fn undefine_if_present(tpm: &Tpm, index: u32) -> Result<(), String> {
    if handles_in(tpm, HandleRange::NvIndex)?.contains(&Handle(index)) {
        undefine_nv(tpm, &nv_entity(tpm, index)?)?;
    }
    Ok(())
}

/// TPM_PT_LOCKOUT_COUNTER: failed authorizations counted toward dictionary-attack lockout.
fn lockout_counter(tpm: &Tpm) -> Result<u32, String> {
    property(tpm, PropertyTag::LOCKOUT_COUNTER)
}

/// Which typed error a library call surfaced, spelled out for the report.
fn describe_error(e: &Error) -> String {
    match e {
        Error::Tpm { command, rc } => format!(
            "Error::Tpm {{ command: {command}, rc: 0x{:08x} = {rc}, layer {:?}, kind {:?} }}",
            rc.0,
            rc.layer().name().unwrap_or("?"),
            rc.kind()
        ),
        Error::Transport(TransportError::Device {
            operation,
            errno,
            hint,
            ..
        }) => format!(
            "TransportError::Device {{ operation: {operation}, errno: {errno} ({}), hint: {hint:?} }}",
            errno_name(*errno)
        ),
        Error::SessionLost { handle, reason } => {
            format!("Error::SessionLost {{ handle: {handle}, reason: {reason:?} }}")
        }
        other => format!("{other} ({other:?})"),
    }
}

fn errno_name(errno: i32) -> &'static str {
    match errno {
        libc::ENOMEM => "ENOMEM",
        libc::EFAULT => "EFAULT",
        libc::EBUSY => "EBUSY",
        libc::EINVAL => "EINVAL",
        libc::EIO => "EIO",
        libc::ENOENT => "ENOENT",
        _ => "?",
    }
}

// ---------------------------------------------------------------------------------------
// The checks

/// GetRandom through the resource manager and on the raw device; TPM properties the other
/// checks rely on.
fn basic() -> CheckResult {
    let mut details = Vec::new();
    for path in [TPMRM, TPM] {
        let tpm = open(path)?;
        let r = tpm
            .run(&GetRandom {
                bytes_requested: 16,
            })
            .map_err(ctx(format!("{path}: GetRandom(16)")))?;
        if r.random_bytes.len() != 16 {
            return Err(format!(
                "{path}: GetRandom(16) gave {} bytes",
                r.random_bytes.len()
            ));
        }
        details.push(format!("{} GetRandom 16 bytes", tpm.describe()));
    }

    let tpm = open(TPMRM)?;
    let family = property(&tpm, PropertyTag::FAMILY_INDICATOR)?;
    // "2.0\0"
    if family != 0x322E_3000 {
        return Err(format!(
            "TPM_PT_FAMILY_INDICATOR is 0x{family:08x}, not \"2.0\""
        ));
    }
    details.push("TPM_PT_FAMILY_INDICATOR \"2.0\"".to_string());
    for p in [
        PropertyTag::HR_LOADED_MIN,
        PropertyTag::ACTIVE_SESSIONS_MAX,
        PropertyTag::CONTEXT_GAP_MAX,
    ] {
        details.push(format!("{p:?} {}", property(&tpm, p)?));
    }
    Ok(details.join(", "))
}

/// What a CLI case expects on stdout.
#[allow(dead_code)] // variants are used as the CLI grows
enum Expect {
    /// Exit status 0, anything on stdout.
    Success,
    /// Exit status 0 and each of these texts somewhere on stdout.
    Contains(&'static [&'static str]),
    /// Exit status 0 and stdout is exactly this many bytes as lowercase hex (one line).
    HexBytes(usize),
}

/// How a CLI case names the TPM.
enum Tcti {
    /// `TPM2TOOLS_TCTI=device:/dev/tpmrm0` in the environment.
    Env,
    /// `-T device:/dev/tpmrm0` on the command line, no environment variable.
    Flag,
}

/// One invocation of the `tpm2-wire` CLI inside the guest.
struct CliCase {
    args: &'static [&'static str],
    tcti: Tcti,
    expect: Expect,
}

/// Add cases here as the CLI grows: one line each.
const CLI_CASES: &[CliCase] = &[
    CliCase {
        args: &["--help"],
        tcti: Tcti::Env,
        expect: Expect::Success,
    },
    CliCase {
        args: &["random", "16"],
        tcti: Tcti::Env,
        expect: Expect::HexBytes(16),
    },
    CliCase {
        args: &["random", "8"],
        tcti: Tcti::Flag,
        expect: Expect::HexBytes(8),
    },
    CliCase {
        args: &["getcap", "properties-variable"],
        tcti: Tcti::Env,
        expect: Expect::Contains(&["TPM_PT_HR_LOADED_AVAIL: ", "TPM_PT_HR_ACTIVE_AVAIL: "]),
    },
];

const CLI: &str = "/bin/tpm2-wire";

fn cli() -> CheckResult {
    let mut ran = Vec::new();
    for case in CLI_CASES {
        let mut command = Command::new(CLI);
        command.env_remove("TPM2TOOLS_TCTI");
        match case.tcti {
            Tcti::Env => {
                command.env("TPM2TOOLS_TCTI", format!("device:{TPMRM}"));
            }
            Tcti::Flag => {
                command.arg("-T").arg(format!("device:{TPMRM}"));
            }
        }
        command.args(case.args);
        let shown = match case.tcti {
            Tcti::Env => format!(
                "TPM2TOOLS_TCTI=device:{TPMRM} {CLI} {}",
                case.args.join(" ")
            ),
            Tcti::Flag => format!("{CLI} -T device:{TPMRM} {}", case.args.join(" ")),
        };
        let out = command
            .output()
            .map_err(|e| format!("{shown}: cannot run: {e}"))?;
        let stdout = String::from_utf8_lossy(&out.stdout);
        if !out.status.success() {
            return Err(format!(
                "{shown}: {} stderr: {}",
                out.status,
                String::from_utf8_lossy(&out.stderr).trim()
            ));
        }
        match case.expect {
            Expect::Success => {}
            Expect::Contains(texts) => {
                for text in texts {
                    if !stdout.contains(text) {
                        return Err(format!("{shown}: stdout lacks {text:?}: {}", stdout.trim()));
                    }
                }
            }
            Expect::HexBytes(n) => {
                let line = stdout.strip_suffix('\n').unwrap_or(&stdout);
                let lower_hex = |b: u8| b.is_ascii_digit() || (b'a'..=b'f').contains(&b);
                if line.len() != 2 * n || !line.bytes().all(lower_hex) {
                    return Err(format!(
                        "{shown}: expected {n} bytes as lowercase hex and a newline, got {stdout:?}"
                    ));
                }
            }
        }
        ran.push(shown);
    }
    Ok(format!("ran {}", ran.join("; ")))
}

/// The resource manager gives each open file 3 session slots and ContextLoads all of them
/// before every command. A 4th StartAuthSession therefore fails one of two ways: when the TPM
/// has room for only 3 loaded sessions (the reference implementation and swtpm), the TPM
/// itself answers TPM_RC_SESSION_MEMORY, passed through unchanged (`Error::Tpm`); with more
/// room, the RM flushes the new session and the read of the response fails with ENOMEM
/// (`TransportError::Device`). Either way the TPM must not keep the 4th session, and the file
/// must stay usable.
fn per_fd_slots() -> CheckResult {
    let observer = open(TPMRM)?;
    let loaded_min = property(&observer, PropertyTag::HR_LOADED_MIN)?;
    if loaded_min < 3 {
        return Err(format!(
            "TPM_PT_HR_LOADED_MIN is {loaded_min}, below the specification's 3"
        ));
    }
    let before = all_sessions(&observer)?;

    // Insisting on a 4th loaded session: no parking of idle ones, no retry. (By default the
    // library parks idle sessions to stay within the file's 3; see many_sessions_one_file.)
    let tpm = open(TPMRM)?;
    tpm.set_steward_policy(tpm2_wire::steward::StewardPolicy {
        max_loaded_sessions: None,
        max_attempts: 1,
        ..Default::default()
    });
    let mut ours = Vec::new();
    for i in 0..3 {
        ours.push(
            Session::start(&tpm, &SessionOptions::hmac())
                .map_err(ctx(format!("session {}", i + 1)))?,
        );
    }
    let handles: Vec<Handle> = ours.iter().map(Session::handle).collect();
    let seen = match Session::start(&tpm, &SessionOptions::hmac()) {
        Ok(s) => {
            let h = s.handle();
            // Dropping it flushes it.
            return Err(format!("a 4th session {h} was granted on one open file"));
        }
        Err(e) => e,
    };
    // What the TPM's loaded-session room predicts (observed on swtpm: 3 → SESSION_MEMORY).
    let how = refused_fourth(
        &seen,
        "session",
        (TpmRc::SESSION_MEMORY, "TPM_RC_SESSION_MEMORY"),
        ("TPM_PT_HR_LOADED_MIN", loaded_min),
    )?;

    // The rejected session must not linger in the TPM: exactly our 3 are new.
    let after = all_sessions(&observer)?;
    let mut expected = before.clone();
    expected.extend(&handles);
    expected.sort_unstable();
    if after != expected {
        return Err(format!(
            "sessions before {}, ours {}, after the 4th {} (the rejected one should be gone)",
            list(&before),
            list(&handles),
            list(&after)
        ));
    }
    // The file still works after the failure, with its 3 sessions.
    tpm.run(&GetRandom { bytes_requested: 8 })
        .map_err(ctx("GetRandom after the 4th session"))?;
    for s in ours {
        let h = s.handle();
        s.flush().map_err(ctx(format!("flush {h}")))?;
    }
    sessions_as_before(&observer, &before, "after flushing ours: sessions")?;
    Ok(format!(
        "3 sessions {} then {how} (TPM_PT_HR_LOADED_MIN {loaded_min}); nothing left over",
        list(&handles)
    ))
}

/// The same limit for transient objects: the RM keeps 3 per open file, ContextSaves and
/// flushes them after every command (so the TPM itself holds none between commands) and
/// loads all 3 before the next. A 4th CreatePrimary then fails with TPM_RC_OBJECT_MEMORY
/// from a TPM with room for only 3 loaded objects, else with ENOMEM from the RM.
fn per_fd_object_slots() -> CheckResult {
    let tpm = open(TPMRM)?;
    let transient_min = property(&tpm, PropertyTag::HR_TRANSIENT_MIN)?;
    let mut ours = Vec::new();
    let outcome = (|| -> CheckResult {
        for i in 0..3 {
            let (key, _) = create_primary(&tpm, Public::ecc_p256_storage_parent(), &Auth::empty())
                .map_err(|e| format!("object {}: {e}", i + 1))?;
            ours.push(key.handle);
        }
        let mut listed = handles_in(&tpm, HandleRange::Transient)?;
        listed.sort_unstable();
        let mut sorted = ours.clone();
        sorted.sort_unstable();
        if listed != sorted {
            return Err(format!(
                "this file lists transients {}, created {}",
                list(&listed),
                list(&ours)
            ));
        }
        // Between commands the TPM holds none of them: the RM saved and flushed them.
        let in_tpm = handles_in(&open(TPM)?, HandleRange::Transient)?;
        if !in_tpm.is_empty() {
            return Err(format!(
                "the raw device lists loaded transients {} between commands",
                list(&in_tpm)
            ));
        }
        let owner = Auth::empty();
        let fourth = tpm.create_primary(
            &Entity::owner(),
            SessionSlot::Password(&owner),
            Public::ecc_p256_storage_parent(),
            &owner,
        );
        let seen = match fourth {
            Ok((key, _)) => {
                ours.push(key.handle);
                return Err(format!(
                    "a 4th object {} was granted on one open file",
                    key.handle
                ));
            }
            Err(e) => e,
        };
        let how = refused_fourth(
            &seen,
            "object",
            (TpmRc::OBJECT_MEMORY, "TPM_RC_OBJECT_MEMORY"),
            ("TPM_PT_HR_TRANSIENT_MIN", transient_min),
        )?;
        let mut listed = handles_in(&tpm, HandleRange::Transient)?;
        listed.sort_unstable();
        if listed != sorted {
            return Err(format!(
                "after the 4th: this file lists {} (expected {})",
                list(&listed),
                list(&sorted)
            ));
        }
        Ok(format!(
            "3 objects {} (none loaded in the TPM between commands), then {how} (TPM_PT_HR_TRANSIENT_MIN {transient_min})",
            list(&ours)
        ))
    })();
    let mut flushed = Ok(());
    for h in &ours {
        flushed = flushed.and(flush_handle(&tpm, *h));
    }
    let detail = outcome?;
    flushed?;
    let left = handles_in(&tpm, HandleRange::Transient)?;
    if !left.is_empty() {
        return Err(format!("transients left after flushing: {}", list(&left)));
    }
    Ok(format!("{detail}; all flushed"))
}

/// How a 4th session or object (`what`) on one open file was refused, spelled out: the TPM's
/// `memory` error (code, name) when it has room for only 3 of them (`min`: the TPM_PT_HR_*_MIN
/// property and its value), else ENOMEM from the RM. Err if it is neither, or not the one
/// `min` predicts.
fn refused_fourth(
    seen: &Error,
    what: &str,
    memory: (TpmRc, &'static str),
    min: (&str, u32),
) -> Result<String, String> {
    let how = describe_error(seen);
    let got = match seen {
        Error::Tpm { rc, .. }
            if rc.layer() == RcLayer::TPM
                && rc.base_code() == memory.0
                && rc.is_session_exhaustion() =>
        {
            memory.1
        }
        Error::Transport(TransportError::Device { errno, .. }) if *errno == libc::ENOMEM => {
            "ENOMEM"
        }
        _ => {
            return Err(format!(
                "4th {what}: expected Error::Tpm {} or TransportError::Device ENOMEM, got {how}",
                memory.1
            ))
        }
    };
    let predicted = if min.1 == 3 { memory.1 } else { "ENOMEM" };
    if got != predicted {
        let (property, value) = min;
        return Err(format!(
            "4th {what}: {property} {value} predicts {predicted}, got {how}"
        ));
    }
    Ok(how)
}

/// A session the client did not save is flushed when its file closes.
fn close_flushes() -> CheckResult {
    let observer = open(TPMRM)?;
    let tpm = open(TPMRM)?;
    let session = Session::start(&tpm, &SessionOptions::hmac()).map_err(ctx("StartAuthSession"))?;
    let handle = session.handle();

    // Between commands the RM keeps the session context-saved, so it shows in the saved list.
    let saved = handles_in(&observer, HandleRange::SavedSessions)?;
    let loaded = handles_in(&observer, HandleRange::LoadedSessions)?;
    if !saved.contains(&handle) && !loaded.contains(&handle) {
        return Err(format!(
            "session {handle} not listed while its file is open (loaded {}, saved {})",
            list(&loaded),
            list(&saved)
        ));
    }
    let where_open = if saved.contains(&handle) {
        "saved"
    } else {
        "loaded"
    };

    // Leave the session to the RM and close the file (the last clone of `tpm`).
    let _state = session.keep();
    drop(tpm);
    let all = all_sessions(&observer)?;
    if all.contains(&handle) {
        return Err(format!(
            "session {handle} still listed after close: {}",
            list(&all)
        ));
    }
    Ok(format!(
        "session {handle} was {where_open} while open, gone after close"
    ))
}

/// A session the client ContextSaved itself is forgotten by the RM, survives the close of its
/// file, and is continued (host state and all) and flushed from a fresh open.
fn client_saved_survives() -> CheckResult {
    let a = open(TPMRM)?;
    // An audit session can ride along on GetRandom and its response HMAC proves that the
    // nonces continue across the save.
    let mut session =
        Session::start(&a, &SessionOptions::audit()).map_err(ctx("StartAuthSession"))?;
    let handle = session.handle();
    a.execute(&GetRandom { bytes_requested: 8 }, &mut [session.extra()])
        .map_err(ctx("GetRandom audited before the save"))?;
    let saved = session.save().map_err(ctx("Session::save"))?;
    if saved.context.saved_handle != handle {
        return Err(format!(
            "ContextSave savedHandle {} != session {handle}",
            saved.context.saved_handle
        ));
    }
    drop(a);

    let b = open(TPMRM)?;
    let all = all_sessions(&b)?;
    if !all.contains(&handle) {
        return Err(format!(
            "client-saved session {handle} gone after its file closed: {}",
            list(&all)
        ));
    }
    let mut session = b
        .load_session(saved)
        .map_err(|e| format!("Tpm::load_session on a fresh open: {}", describe_error(&e)))?;
    b.execute(&GetRandom { bytes_requested: 8 }, &mut [session.extra()])
        .map_err(ctx("GetRandom audited after the load on another file"))?;
    session.flush().map_err(ctx("flush"))?;
    let all = all_sessions(&b)?;
    if all.contains(&handle) {
        return Err(format!("session {handle} still listed after the flush"));
    }
    Ok(format!(
        "session {handle} saved, survived close, loaded and used on a fresh open, flushed"
    ))
}

/// A command code no TPM implements (below TPM_CC_FIRST), as a typed command.
struct UnknownCommand;

impl tpm2_wire::command::Command for UnknownCommand {
    const CODE: CommandCode = CommandCode(0x0000_0001);
    const AUTH_HANDLES: usize = 0;
    const DECRYPT: bool = false;
    type Response = Empty;

    fn handles(&self) -> Handles<'_> {
        Handles::new(&[])
    }

    fn marshal_params(&self, _: &mut Writer<'_>) {}
}

/// The RM checks command codes against the TPM's command list and answers unknown ones
/// itself with TPM_RC_COMMAND_CODE in its own layer (11); the raw device passes them to the
/// TPM, which answers in the TPM layer.
fn unsupported_cc() -> CheckResult {
    let mut details = Vec::new();
    for (path, layer, raw) in [
        (TPMRM, RcLayer::RESMGR, 0x000B_0143u32),
        (TPM, RcLayer::TPM, 0x0000_0143),
    ] {
        let tpm = open(path)?;
        let rc = match tpm.run(&UnknownCommand) {
            Err(Error::Tpm { command, rc })
                if command == <UnknownCommand as tpm2_wire::command::Command>::CODE =>
            {
                rc
            }
            Err(e) => {
                return Err(format!(
                    "{path}: expected Error::Tpm for command 0x00000001, got {}",
                    describe_error(&e)
                ))
            }
            Ok(_) => return Err(format!("{path}: command code 0x00000001 succeeded")),
        };
        let decoded_ok = rc.0 == raw
            && rc.layer() == layer
            && rc.base_code() == TpmRc::COMMAND_CODE
            && rc.kind() == RcKind::Error
            && rc.name() == Some("TPM_RC_COMMAND_CODE");
        if !decoded_ok {
            return Err(format!(
                "{path}: rc 0x{:08x} decoded as layer {:?}, base {:?}, kind {:?}, {rc}; expected 0x{raw:08x}, layer {:?}, TPM_RC_COMMAND_CODE",
                rc.0,
                rc.layer(),
                rc.base_code(),
                rc.kind(),
                layer
            ));
        }
        details.push(format!("{path}: 0x{:08x} = \"{rc}\"", rc.0));
    }
    // The decoding is what a caller sees in the error text.
    let rm = ResponseCode(0x000B_0143);
    if rm.to_string() != "resource manager: TPM_RC_COMMAND_CODE" {
        return Err(format!("0x000B0143 displays as {rm}"));
    }
    Ok(details.join(", "))
}

/// The kernel's refusals reach the caller as `TransportError::Device` with the errno and a
/// hint: EINVAL for a transient handle this open file does not have (the RM cannot map it,
/// e.g. an object handle from another process), EBUSY for a write while a response on the
/// same open file is unread. The file stays usable after each.
fn device_errnos() -> CheckResult {
    use std::io::{Read, Write};

    let device_errno = |e: &Error| match e {
        Error::Transport(TransportError::Device {
            errno,
            hint,
            operation,
            ..
        }) => Some((*errno, *hint, *operation)),
        _ => None,
    };
    let tpm = open(TPMRM)?;
    // The first virtual handle the RM hands out; this fresh file has no objects.
    let foreign = Handle(0x80FF_FFFF);
    let einval = match tpm.read_public(foreign) {
        Ok(_) => return Err(format!("ReadPublic({foreign}) on a fresh file succeeded")),
        Err(e) => e,
    };
    let (errno, einval_hint, _) = device_errno(&einval)
        .filter(|(errno, hint, _)| *errno == libc::EINVAL && !hint.is_empty())
        .ok_or_else(|| {
            format!(
                "ReadPublic({foreign}) not in this file: expected TransportError::Device EINVAL, got {}",
                describe_error(&einval)
            )
        })?;
    tpm.run(&GetRandom { bytes_requested: 8 })
        .map_err(ctx(format!("GetRandom after errno {errno}")))?;

    // A plain blocking write leaves its response pending on the open file; the library's
    // transport then writes through a second descriptor of the same open file.
    let mut file = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(TPMRM)
        .map_err(ctx(format!("open {TPMRM}")))?;
    const GET_RANDOM_8: [u8; 12] = [0x80, 0x01, 0, 0, 0, 0x0c, 0, 0, 0x01, 0x7b, 0, 8];
    file.write_all(&GET_RANDOM_8)
        .map_err(ctx("raw write of GetRandom"))?;
    let shared = file.try_clone().map_err(ctx("dup"))?;
    let busy = Tpm::new(Box::new(DeviceTransport::from_file(TPMRM, shared)));
    let ebusy = match busy.run(&GetRandom { bytes_requested: 8 }) {
        Ok(_) => return Err("a write with a response pending succeeded".into()),
        Err(e) => e,
    };
    let (_, ebusy_hint, ebusy_op) = device_errno(&ebusy)
        .filter(|(errno, hint, _)| *errno == libc::EBUSY && !hint.is_empty())
        .ok_or_else(|| {
            format!(
                "write with a response pending: expected TransportError::Device EBUSY, got {}",
                describe_error(&ebusy)
            )
        })?;
    if ebusy_hint == einval_hint {
        return Err(format!(
            "EBUSY and EINVAL give the same hint {ebusy_hint:?}"
        ));
    }
    // Collect the pending response; then the library's transport works on that file again.
    let mut pending = [0u8; 64];
    let n = file
        .read(&mut pending)
        .map_err(ctx("reading the pending response"))?;
    if n != 20 || pending[6..10] != [0, 0, 0, 0] {
        return Err(format!(
            "pending GetRandom response: {:02x?}",
            &pending[..n]
        ));
    }
    busy.run(&GetRandom { bytes_requested: 8 })
        .map_err(ctx("GetRandom after EBUSY and the read"))?;
    Ok(format!(
        "{}; {} (operation {ebusy_op}); both files usable afterwards",
        describe_error(&einval),
        describe_error(&ebusy)
    ))
}

const SBE_NV_INDEX: u32 = 0x0150_4B01;
const SBE_NV_SIZE: u16 = 32;
const SBE_ROUNDS: usize = 4;

/// An HMAC session salted with an RSA-2048 storage key and bound to it (with its auth value),
/// encrypting command and response parameters, carries NV_DefineSpace, NV_Write, NV_Read and
/// GetRandom through the RM. The data and the NV auth value never travel in clear, the nonces
/// roll on every command, and nothing is left behind.
fn salted_bound_encrypted() -> CheckResult {
    // A copy of every frame, to prove what never travels in clear.
    let frames = common::Frames::default();
    let transport = DeviceTransport::open(TPMRM).map_err(ctx(format!("open {TPMRM}")))?;
    let tpm = Tpm::new(Box::new(common::Recording {
        inner: Box::new(transport),
        frames: frames.clone(),
    }));
    undefine_if_present(&tpm, SBE_NV_INDEX)?;
    let sessions_before = all_sessions(&tpm)?;

    let parent_auth = pw("krm-parent-auth");
    let (parent, public) = create_primary(&tpm, Public::rsa_2048_storage_parent(), &parent_auth)?;
    let outcome = (|| -> CheckResult {
        let salt = SaltKey::from_public(parent.clone(), &public).map_err(ctx("SaltKey"))?;
        let mut s = Session::start(
            &tpm,
            &SessionOptions::hmac()
                .salted(salt)
                .bound(parent.clone(), parent_auth.clone())
                .encrypt(true, true),
        )
        .map_err(ctx("StartAuthSession salted+bound"))?;
        let handle = s.handle();
        if !s.state().key_is_secret() {
            return Err("the salted session's key is not marked secret".into());
        }
        s.confirm_salt_key().map_err(ctx("confirm_salt_key"))?;

        let mut nonces = vec![s.state().nonce_tpm().as_bytes().to_vec()];
        let mut rolled = |s: &Session, what: &str| -> Result<(), String> {
            let n = s.state().nonce_tpm().as_bytes().to_vec();
            if nonces.contains(&n) {
                return Err(format!("{what}: nonceTPM did not change"));
            }
            nonces.push(n);
            Ok(())
        };

        // The NV auth value goes in the encrypted first parameter of NV_DefineSpace.
        let nv_auth = pw("krm-nv-auth-5f3a");
        let owner = Auth::empty();
        let mut nv = define_nv(
            &tpm,
            SBE_NV_INDEX,
            NvAttributes::AUTHREAD | NvAttributes::AUTHWRITE | NvAttributes::NO_DA,
            &nv_auth,
            SBE_NV_SIZE,
            s.auth(&owner),
        )?;
        rolled(&s, "NV_DefineSpace")?;

        let inner = (|| -> Result<Vec<Vec<u8>>, String> {
            let mut secrets = Vec::new();
            for round in 0..SBE_ROUNDS {
                let data = random_bytes(SBE_NV_SIZE as usize)?;
                common::nv_write(&tpm, &nv, &data, &mut [s.auth(&nv_auth)])
                    .map_err(ctx(format!("NV_Write round {round}")))?;
                rolled(&s, "NV_Write")?;
                if round == 0 {
                    // The first write sets TPMA_NV_WRITTEN, which changes the index's name.
                    nv = nv_entity(&tpm, SBE_NV_INDEX)?;
                }
                let back = common::nv_read(&tpm, &nv, SBE_NV_SIZE, &mut [s.auth(&nv_auth)])
                    .map_err(ctx(format!("NV_Read round {round}")))?;
                rolled(&s, "NV_Read")?;
                if back != data {
                    return Err(format!(
                        "round {round}: NV_Read gave other bytes than written"
                    ));
                }
                secrets.push(data);
            }
            let r = tpm
                .execute(
                    &GetRandom {
                        bytes_requested: 32,
                    },
                    &mut [s.extra()],
                )
                .map_err(ctx("GetRandom encrypted"))?;
            rolled(&s, "GetRandom")?;
            if r.random_bytes.len() != 32 {
                return Err(format!("GetRandom(32) gave {} bytes", r.random_bytes.len()));
            }
            secrets.push(r.random_bytes.as_bytes().to_vec());
            Ok(secrets)
        })();
        let undefined = undefine_nv(&tpm, &nv);
        let flushed = s.flush().map_err(ctx(format!("flush session {handle}")));
        let mut secrets = inner?;
        undefined?;
        flushed?;

        secrets.push(nv_auth.as_bytes().to_vec());
        let frames = frames.lock().map_err(|_| "frame log poisoned")?;
        for (i, secret) in secrets.iter().enumerate() {
            if frames
                .iter()
                .any(|(c, r)| common::contains(c, secret) || common::contains(r, secret))
            {
                return Err(format!("secret #{i} travelled in clear"));
            }
        }
        Ok(format!(
            "session {handle} (salt key confirmed), NV define + {SBE_ROUNDS}x write/read of {SBE_NV_SIZE} bytes + GetRandom(32): {} nonces, all distinct; {} frames, no secret in clear",
            nonces.len(),
            frames.len()
        ))
    })();
    let parent_flushed = flush_handle(&tpm, parent.handle);
    let detail = outcome?;
    parent_flushed?;

    let transients = handles_in(&tpm, HandleRange::Transient)?;
    let sessions_after = all_sessions(&tpm)?;
    let nv_left = handles_in(&tpm, HandleRange::NvIndex)?.contains(&Handle(SBE_NV_INDEX));
    if !transients.is_empty() || sessions_after != sessions_before || nv_left {
        return Err(format!(
            "left behind: transients {}, sessions {} (before {}), NV index defined: {nv_left}",
            list(&transients),
            list(&sessions_after),
            list(&sessions_before)
        ));
    }
    Ok(format!("{detail}; nothing left"))
}

/// The session file the roles of `cross_process_saved` share.
const CROSS_FILE: &str = "/tmp/krm-cross-session.ctx";

/// Runs this binary as one role of a multi-process check; returns its stdout, or why it
/// failed (with its output).
fn run_child(role: &str, file: &str) -> Result<String, String> {
    let out = role_command(role)?
        .env(ROLE_FILE_VAR, file)
        .output()
        .map_err(ctx(format!("spawn role {role}")))?;
    role_output(role, &out)
}

/// One process of a multi-process check: prints what it did and exits 0, or why not and 1.
fn run_role(role: &str) -> std::process::ExitCode {
    let file = std::env::var(ROLE_FILE_VAR).unwrap_or_default();
    let outcome = match role {
        "cross-start" => role_cross_start(Path::new(&file)),
        "cross-use" => role_cross_use(Path::new(&file)),
        "cross-flush" => role_cross_flush(Path::new(&file)),
        "exhaustion" => role_exhaustion(),
        "orphan-holder" => role_orphan_holder(),
        "gap-worker" => role_gap_worker(),
        other => Err(format!("unknown role {other:?}")),
    };
    match outcome {
        Ok(detail) => {
            println!("{detail}");
            std::process::ExitCode::SUCCESS
        }
        Err(reason) => {
            println!("FAILED: {reason}");
            std::process::ExitCode::FAILURE
        }
    }
}

/// Process A: a salted session able to encrypt responses, saved to a tpm2-tools session file.
fn role_cross_start(file: &Path) -> CheckResult {
    let tpm = open(TPMRM)?;
    // ECC: the primary is quick to create; it only salts and is flushed before the save.
    let (key, public) = create_primary(&tpm, Public::ecc_p256_storage_parent(), &Auth::empty())?;
    let salt = SaltKey::from_public(key.clone(), &public).map_err(ctx("SaltKey"))?;
    let session = Session::start(
        &tpm,
        &SessionOptions::hmac().salted(salt).encrypt(false, true),
    );
    flush_handle(&tpm, key.handle)?;
    let session = session.map_err(ctx("StartAuthSession salted"))?;
    let handle = session.handle();
    session
        .save_to_file(file)
        .map_err(ctx(format!("save_to_file {}", file.display())))?;
    Ok(format!("{}", handle.0))
}

/// Process B: continues the session from the file, encrypts a GetRandom, saves it back.
fn role_cross_use(file: &Path) -> CheckResult {
    let tpm = open(TPMRM)?;
    let mut session = tpm
        .load_session_file(file)
        .map_err(|e| format!("load_session_file: {}", describe_error(&e)))?;
    let handle = session.handle();
    for _ in 0..2 {
        let r = tpm
            .execute(
                &GetRandom {
                    bytes_requested: 16,
                },
                &mut [session.extra()],
            )
            .map_err(ctx("GetRandom encrypted by the loaded session"))?;
        if r.random_bytes.len() != 16 {
            return Err(format!("GetRandom(16) gave {} bytes", r.random_bytes.len()));
        }
    }
    session
        .save_to_file(file)
        .map_err(ctx("save_to_file back"))?;
    Ok(format!("{}", handle.0))
}

/// Process C: loads the session from the file and flushes it.
fn role_cross_flush(file: &Path) -> CheckResult {
    let tpm = open(TPMRM)?;
    let session = tpm
        .load_session_file(file)
        .map_err(|e| format!("load_session_file: {}", describe_error(&e)))?;
    let handle = session.handle();
    session.flush().map_err(ctx("flush"))?;
    Ok(format!("{}", handle.0))
}

/// A session started and saved to a file in process A, continued (encrypting) from process B
/// and flushed by process C, each with its own fresh open of /dev/tpmrm0; afterwards the TPM
/// no longer has it and the file no longer loads (`Error::SessionLost`).
fn cross_process_saved() -> CheckResult {
    let observer = open(TPMRM)?;
    let _ = std::fs::remove_file(CROSS_FILE);
    let handle_of = |out: &str| -> Result<Handle, String> {
        out.lines()
            .last()
            .and_then(|l| l.trim().parse::<u32>().ok())
            .map(Handle)
            .ok_or_else(|| format!("no session handle in the role's output {out:?}"))
    };

    let a = handle_of(&run_child("cross-start", CROSS_FILE)?)?;
    let saved = handles_in(&observer, HandleRange::SavedSessions)?;
    if !saved.contains(&a) {
        return Err(format!(
            "after process A exited, session {a} is not in the saved list {}",
            list(&saved)
        ));
    }
    let b = handle_of(&run_child("cross-use", CROSS_FILE)?)?;
    if b != a {
        return Err(format!("process B continued {b}, A started {a}"));
    }
    if !handles_in(&observer, HandleRange::SavedSessions)?.contains(&a) {
        return Err(format!("after process B exited, session {a} is not saved"));
    }
    let c = handle_of(&run_child("cross-flush", CROSS_FILE)?)?;
    if c != a {
        return Err(format!("process C flushed {c}, A started {a}"));
    }
    let all = all_sessions(&observer)?;
    if all.contains(&a) {
        return Err(format!(
            "session {a} still listed after C flushed it: {}",
            list(&all)
        ));
    }
    let reload = match observer.load_session_file(Path::new(CROSS_FILE)) {
        Err(e @ Error::SessionLost { .. }) => describe_error(&e),
        Err(e) => {
            return Err(format!(
                "loading the file of the flushed session: expected Error::SessionLost, got {}",
                describe_error(&e)
            ))
        }
        Ok(s) => {
            let h = s.handle();
            let _ = s.flush();
            return Err(format!("the flushed session's file loaded again as {h}"));
        }
    };
    let _ = std::fs::remove_file(CROSS_FILE);
    Ok(format!(
        "session {a}: A started+saved to file, B loaded+encrypted GetRandom x2+saved, C loaded+flushed; gone; reloading the file: {reload}"
    ))
}

const UGC_NV_INDEX: u32 = 0x0150_4B02;

/// A session not saved is flushed by the RM when its file closes; using its host state on a
/// fresh open then fails with `Error::SessionLost` (the TPM's "no such session" answer,
/// mapped by the library; no auth failure), and the lockout counter does not move.
fn unsaved_gone_after_close() -> CheckResult {
    let observer = open(TPMRM)?;
    undefine_if_present(&observer, UGC_NV_INDEX)?;
    // Dictionary-attack protected (no NO_DA): a wrong HMAC here would count.
    let nv_auth = pw("krm-ugc-auth");
    let owner = Auth::empty();
    let nv = define_nv(
        &observer,
        UGC_NV_INDEX,
        NvAttributes::AUTHREAD | NvAttributes::AUTHWRITE,
        &nv_auth,
        8,
        SessionSlot::Password(&owner),
    )?;
    let outcome = (|| -> CheckResult {
        common::nv_write(
            &observer,
            &nv,
            &[0x5a; 8],
            &mut [SessionSlot::Password(&nv_auth)],
        )
        .map_err(ctx("NV_Write by password"))?;
        let nv = nv_entity(&observer, UGC_NV_INDEX)?;
        let lockout_before = lockout_counter(&observer)?;

        let a = open(TPMRM)?;
        let mut session =
            Session::start(&a, &SessionOptions::hmac()).map_err(ctx("StartAuthSession"))?;
        let handle = session.handle();
        let first = common::nv_read(&a, &nv, 8, &mut [session.auth(&nv_auth)])
            .map_err(ctx("NV_Read with the session before the close"))?;
        if first != [0x5a; 8] {
            return Err("NV_Read before the close gave other bytes".into());
        }
        // Keep the host state, leave the TPM session to the RM, close the file.
        let state = session.keep();
        drop(a);
        let all = all_sessions(&observer)?;
        if all.contains(&handle) {
            return Err(format!("session {handle} still listed after close"));
        }

        let b = open(TPMRM)?;
        let mut adopted = Session::adopt(&b, state);
        let result = common::nv_read(&b, &nv, 8, &mut [adopted.auth(&nv_auth)]);
        // No flush of a handle we know is gone.
        let _ = adopted.keep();
        let seen = match result {
            Ok(_) => {
                return Err(format!(
                    "session {handle} still worked after its file closed"
                ))
            }
            Err(e) => e,
        };
        let how = describe_error(&seen);
        if !matches!(seen, Error::SessionLost { handle: h, .. } if h == handle) {
            return Err(format!(
                "using the closed session {handle}: expected Error::SessionLost for it, got {how}"
            ));
        }
        let lockout_after = lockout_counter(&observer)?;
        if lockout_after != lockout_before {
            return Err(format!(
                "lockout counter moved from {lockout_before} to {lockout_after} ({how})"
            ));
        }
        Ok(format!(
            "session {handle} gone after close; its next use: {how}; lockout counter stayed {lockout_before}"
        ))
    })();
    let undefined = undefine_nv(&observer, &nv_entity(&observer, UGC_NV_INDEX)?);
    let detail = outcome?;
    undefined?;
    Ok(detail)
}

// ---------------------------------------------------------------------------------------
// gap_cost: what a context-gap check would cost in this guest

/// Microseconds per operation.
fn per_op(elapsed: Duration, ops: u32) -> f64 {
    elapsed.as_secs_f64() * 1e6 / f64::from(ops.max(1))
}

/// A timed phase, also marked on the console so the host can time it with its own clock:
/// under `-icount` the guest's clock is QEMU's virtual clock, not wall time.
struct Phase {
    name: String,
    started: Instant,
}

impl Phase {
    fn begin(name: &str) -> Phase {
        println!("KRM-MARK {name} begin");
        Phase {
            name: name.to_string(),
            started: Instant::now(),
        }
    }

    /// Microseconds per operation by the guest's clock.
    fn end(self, ops: u32) -> f64 {
        let us = per_op(self.started.elapsed(), ops);
        println!("KRM-MARK {} end {ops}", self.name);
        us
    }
}

/// Commands between two progress lines of a long loop.
const PROGRESS_EVERY: u64 = 2048;

/// A `KRM-PROGRESS <phase> <done>/<budget>` line on stderr, which is the console both for
/// the guest program and for a role process whose stdout its parent reads. The host's time
/// limit for the icount machine is a longest silence, not a total, so a slow host only makes
/// these checks slower; every loop that prints progress is bounded by its budget, so a guest
/// that keeps printing still ends.
fn progress(phase: &str, done: u64, budget: u64) {
    use std::io::Write;
    // One write, so the line is never split by another process's output.
    let line = format!("KRM-PROGRESS {phase} {done}/{budget}\n");
    let _ = std::io::stderr().write_all(line.as_bytes());
}

/// A command without sessions, for the base cost of one round trip.
fn time_plain(tpm: &Tpm, rounds: u32, label: &str) -> Result<f64, String> {
    let phase = Phase::begin(&format!("plain-{label}"));
    for _ in 0..rounds {
        tpm.run(&GetRandom { bytes_requested: 1 })
            .map_err(ctx("GetRandom(1)"))?;
    }
    Ok(phase.end(rounds))
}

/// ContextLoad + ContextSave of one session, `pairs` times, by the client itself. Returns µs
/// per pair and how far the TPM's context counter advances per pair (from the sequence
/// numbers the saves return; the RM adds its own save after each ContextLoad).
fn time_pairs(tpm: &Tpm, pairs: u32, label: &str) -> Result<(f64, f64), String> {
    let session = Session::start(tpm, &SessionOptions::hmac()).map_err(ctx("StartAuthSession"))?;
    let handle = session.handle();
    let _ = session.keep();
    let measured = (|| -> Result<(f64, f64), String> {
        let mut context = tpm.context_save(handle).map_err(ctx("ContextSave"))?;
        let first = context.sequence;
        let phase = Phase::begin(&format!("pairs-{label}"));
        for _ in 0..pairs {
            tpm.context_load(&context).map_err(ctx("ContextLoad"))?;
            context = tpm.context_save(handle).map_err(ctx("ContextSave"))?;
        }
        let us = phase.end(pairs);
        let advance = context.sequence.saturating_sub(first) as f64 / f64::from(pairs.max(1));
        tpm.context_load(&context)
            .map_err(ctx("final ContextLoad"))?;
        Ok((us, advance))
    })();
    // On the raw device nobody else would ever flush it.
    let flushed = flush_handle(tpm, handle);
    let r = measured?;
    flushed?;
    Ok(r)
}

/// The context counter as the next session save will see it, read through a probe session
/// on its own open file: (probe file, saved probe context, counter).
fn counter_probe_start() -> Result<(Tpm, tpm2_wire::wire::Context, Handle), String> {
    let probe = open(TPMRM)?;
    let s = Session::start(&probe, &SessionOptions::hmac()).map_err(ctx("probe session"))?;
    let handle = s.handle();
    let _ = s.keep();
    let context = probe
        .context_save(handle)
        .map_err(ctx("probe ContextSave"))?;
    Ok((probe, context, handle))
}

/// Loads and saves the probe again; returns the new context (its sequence is the counter).
fn counter_probe_step(
    probe: &Tpm,
    context: &tpm2_wire::wire::Context,
    handle: Handle,
) -> Result<tpm2_wire::wire::Context, String> {
    probe
        .context_load(context)
        .map_err(ctx("probe ContextLoad"))?;
    probe.context_save(handle).map_err(ctx("probe ContextSave"))
}

/// Commands on a file whose 3 sessions the RM loads and saves around each command: µs per
/// command and the counter's advance per command (measured with a probe session, with the
/// probe's own overhead subtracted).
fn time_held(sessions: usize, rounds: u32) -> Result<(f64, f64, f64), String> {
    let tpm = open(TPMRM)?;
    let mut held = Vec::new();
    for _ in 0..sessions {
        held.push(Session::start(&tpm, &SessionOptions::hmac()).map_err(ctx("held session"))?);
    }
    let (probe, c0, probe_handle) = counter_probe_start()?;
    let measured = (|| -> Result<(f64, f64, f64), String> {
        let c1 = counter_probe_step(&probe, &c0, probe_handle)?;
        let overhead = c1.sequence.saturating_sub(c0.sequence);
        let phase = Phase::begin(&format!("held{sessions}-tpmrm0"));
        for _ in 0..rounds {
            tpm.run(&GetRandom { bytes_requested: 1 })
                .map_err(ctx("GetRandom(1) with sessions held"))?;
        }
        let us = phase.end(rounds);
        let c2 = counter_probe_step(&probe, &c1, probe_handle)?;
        let advance = c2
            .sequence
            .saturating_sub(c1.sequence)
            .saturating_sub(overhead) as f64
            / f64::from(rounds.max(1));
        probe
            .context_load(&c2)
            .map_err(ctx("probe final ContextLoad"))?;
        // The same with a prebuilt frame: what is left without the library's (unoptimized,
        // emulated) marshalling and checks, i.e. system call, RM and TPM.
        const GET_RANDOM_1: [u8; 12] = [0x80, 0x01, 0, 0, 0, 0x0c, 0, 0, 0x01, 0x7b, 0, 1];
        let phase = Phase::begin(&format!("held{sessions}-rawframe-tpmrm0"));
        for _ in 0..rounds {
            let r = tpm
                .transact_raw(&GET_RANDOM_1)
                .map_err(ctx("raw GetRandom(1)"))?;
            if r.get(6..10) != Some(&[0, 0, 0, 0][..]) {
                return Err(format!("raw GetRandom(1) answered {r:02x?}"));
            }
        }
        let raw_us = phase.end(rounds);
        Ok((us, advance, raw_us))
    })();
    let flushed = flush_handle(&probe, probe_handle);
    for s in held {
        let _ = s.flush();
    }
    let r = measured?;
    flushed?;
    Ok(r)
}

/// Not a pass/fail property of the RM: measures what advancing the TPM's context counter by
/// TPM_PT_CONTEXT_GAP_MAX (the context-gap check's cost) takes here, by three routes. Fails
/// only if a measurement cannot be taken or the counter does not advance at all. The figures
/// here are by the guest's clock; the host prints the same phases by its own clock.
fn gap_cost() -> CheckResult {
    const ROUNDS: u32 = 100;
    let rm = open(TPMRM)?;
    let gap_max = property(&rm, PropertyTag::CONTEXT_GAP_MAX)?;
    let plain_rm = time_plain(&rm, ROUNDS, "tpmrm0")?;
    let (pair_rm, adv_rm) = time_pairs(&rm, ROUNDS, "tpmrm0")?;
    drop(rm);
    let (held_us, held_adv, held_raw_us) = time_held(3, ROUNDS)?;
    // /dev/tpm0 allows one open at a time; nothing else holds it now.
    let raw = open(TPM)?;
    let plain_raw = time_plain(&raw, ROUNDS, "tpm0")?;
    let (pair_raw, adv_raw) = time_pairs(&raw, ROUNDS, "tpm0")?;
    drop(raw);

    if adv_rm <= 0.0 || adv_raw <= 0.0 || held_adv <= 0.0 {
        return Err(format!(
            "the context counter did not advance (per pair: tpmrm0 {adv_rm}, tpm0 {adv_raw}; per held command {held_adv})"
        ));
    }
    let secs = |us_per_op: f64, advance: f64| us_per_op * f64::from(gap_max) / advance / 1e6;
    let info = [
        format!("TPM_PT_CONTEXT_GAP_MAX {gap_max} (times by the guest clock, virtual under -icount; the host prints wall-clock times)"),
        format!("plain GetRandom: tpmrm0 {plain_rm:.0} us, tpm0 {plain_raw:.0} us"),
        format!(
            "ContextLoad+ContextSave pair: tpmrm0 {pair_rm:.0} us (counter +{adv_rm:.2}/pair), tpm0 {pair_raw:.0} us (+{adv_raw:.2}/pair)"
        ),
        format!(
            "GetRandom with 3 sessions held on tpmrm0: {held_us:.0} us (counter +{held_adv:.2}/command), {held_raw_us:.0} us as a prebuilt frame"
        ),
        format!(
            "advancing the counter by {gap_max}: tpmrm0 pairs {:.0} s, tpm0 pairs {:.0} s, tpmrm0 3-held commands {:.0} s",
            secs(pair_rm, adv_rm),
            secs(pair_raw, adv_raw),
            secs(held_us, held_adv)
        ),
    ];
    for line in &info {
        println!("KRM-INFO gap_cost {line}");
    }
    Ok(info.join("; "))
}

// ---------------------------------------------------------------------------------------
// Stewardship behind the resource manager

/// Loaded and parked sessions of the connection, as a check detail.
fn table(tpm: &Tpm) -> String {
    let (loaded, parked) = tpm.session_table();
    format!("{loaded} loaded + {parked} parked")
}

/// One process wants 6 sessions on one open file, with the library's default policy
/// (`Tpm::new` keeps at most 3 loaded behind /dev/tpmrm0): all start (all or none), each
/// protects several GetRandoms (3 audit sessions, 3 salted ones that encrypt the response,
/// used in pairs), and never more than 3 are loaded after a command, so no write meets the
/// RM's per-file limit (ENOMEM). The steward parks and reloads on the way. All are flushed
/// and the TPM has nothing left.
fn many_sessions_one_file() -> CheckResult {
    const ROUNDS: usize = 3;
    let observer = open(TPMRM)?;
    let before = all_sessions(&observer)?;
    let tpm = open(TPMRM)?;
    let policy = tpm.steward_policy();
    if policy.max_loaded_sessions != Some(3) {
        return Err(format!(
            "Tpm::open(device:{TPMRM}) set max_loaded_sessions {:?}, expected Some(3)",
            policy.max_loaded_sessions
        ));
    }
    // ECC: quick to create; it only salts and is flushed before the sessions are used.
    let (key, public) = create_primary(&tpm, Public::ecc_p256_storage_parent(), &Auth::empty())?;
    let salt = SaltKey::from_public(key.clone(), &public).map_err(ctx("SaltKey"));
    let started = salt.and_then(|salt| {
        let encrypting = SessionOptions::hmac().salted(salt).encrypt(false, true);
        let mut options = vec![SessionOptions::audit(); 3];
        options.extend(vec![encrypting; 3]);
        tpm.start_sessions(&options)
            .map_err(|e| format!("start_sessions(6): {}", describe_error(&e)))
    });
    flush_handle(&tpm, key.handle)?;
    let mut sessions = started?;
    let handles: Vec<Handle> = sessions.iter().map(Session::handle).collect();
    let after_start = table(&tpm);

    let outcome = (|| -> CheckResult {
        let listed = all_sessions(&observer)?;
        if let Some(h) = handles.iter().find(|h| !listed.contains(h)) {
            return Err(format!(
                "session {h} not listed by the TPM: {}",
                list(&listed)
            ));
        }
        let (audit, encrypting) = sessions.split_at_mut(3);
        let mut max_loaded = 0;
        let mut uses = 0;
        for round in 0..ROUNDS {
            for (i, (a, e)) in audit.iter_mut().zip(encrypting.iter_mut()).enumerate() {
                let (ha, he) = (a.handle(), e.handle());
                let r = tpm
                    .execute(
                        &GetRandom {
                            bytes_requested: 16,
                        },
                        &mut [a.extra(), e.extra()],
                    )
                    .map_err(|err| {
                        format!(
                            "round {round} pair {i}: GetRandom audited by {ha}, encrypted by {he}: {}",
                            describe_error(&err)
                        )
                    })?;
                if r.random_bytes.len() != 16 {
                    return Err(format!("GetRandom(16) gave {} bytes", r.random_bytes.len()));
                }
                uses += 2;
                let (loaded, _) = tpm.session_table();
                max_loaded = max_loaded.max(loaded);
                if loaded > 3 {
                    return Err(format!(
                        "round {round} pair {i}: {} after the command",
                        table(&tpm)
                    ));
                }
            }
        }
        // Each alone as well: the order of reloads changes.
        for s in audit.iter_mut().chain(encrypting.iter_mut()) {
            let h = s.handle();
            tpm.execute(&GetRandom { bytes_requested: 8 }, &mut [s.extra()])
                .map_err(|err| format!("GetRandom with {h} alone: {}", describe_error(&err)))?;
            uses += 1;
        }
        let stats = tpm.steward_stats();
        if stats.parked == 0 || stats.reloaded == 0 {
            return Err(format!(
                "6 sessions on one file without parking: {stats:?} ({})",
                table(&tpm)
            ));
        }
        Ok(format!(
            "6 sessions {} started (then {after_start}), {uses} session uses, at most {max_loaded} loaded after a command, {stats:?}",
            list(&handles)
        ))
    })();
    let mut flushed = Ok(());
    for s in sessions {
        let h = s.handle();
        flushed = flushed.and(s.flush().map_err(ctx(format!("flush {h}"))));
    }
    let detail = outcome?;
    flushed?;
    sessions_as_before(&observer, &before, "after flushing: sessions")?;
    Ok(format!("{detail}; all flushed, nothing left"))
}

/// This binary as one role of a multi-process check, not yet started.
fn role_command(role: &str) -> Result<Command, String> {
    let exe = std::env::current_exe().map_err(ctx("current_exe"))?;
    let mut command = Command::new(exe);
    command.env(ROLE_VAR, role);
    Ok(command)
}

/// What a role printed, if it succeeded; else why not, with its output.
fn role_output(role: &str, out: &std::process::Output) -> Result<String, String> {
    let stdout = String::from_utf8_lossy(&out.stdout).trim().to_string();
    let stderr = String::from_utf8_lossy(&out.stderr).trim().to_string();
    if !out.status.success() {
        return Err(format!(
            "role {role}: {} stdout: {stdout} stderr: {stderr}",
            out.status
        ));
    }
    Ok(stdout)
}

/// A role's verdict from its output: the last line, `FAILED: ...` or the role's detail.
fn role_verdict(role: &str, out: &std::process::Output) -> Result<String, String> {
    let stdout = role_output(role, out)?;
    Ok(stdout.lines().last().unwrap_or("").to_string())
}

const EXH_PROCESSES: usize = 24;
const EXH_SESSIONS: usize = 3;
const EXH_ROUNDS: usize = 3;
/// Created by the parent once every process runs, so they all want their sessions at once.
const EXH_GO_FILE: &str = "/tmp/krm-exhaustion-go";
/// How long a process holds its sessions between uses, so holders overlap.
const EXH_HOLD: Duration = Duration::from_millis(100);

/// One of the `exhaustion_processes` clients: waits for the start signal, starts its 3
/// sessions all or none (the library retries with backoff while the TPM has no session handle
/// left), audits GetRandoms with each, flushes them and prints its steward statistics.
fn role_exhaustion() -> CheckResult {
    let tpm = open(TPMRM)?;
    let deadline = Instant::now() + Duration::from_secs(30);
    while !Path::new(EXH_GO_FILE).exists() {
        if Instant::now() > deadline {
            return Err("no start signal within 30 s".into());
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    let mut sessions = tpm
        .start_sessions(&vec![SessionOptions::audit(); EXH_SESSIONS])
        .map_err(|e| format!("start_sessions({EXH_SESSIONS}): {}", describe_error(&e)))?;
    for round in 0..EXH_ROUNDS {
        for s in sessions.iter_mut() {
            let h = s.handle();
            tpm.execute(&GetRandom { bytes_requested: 8 }, &mut [s.extra()])
                .map_err(|e| {
                    format!(
                        "round {round}: GetRandom audited by {h}: {}",
                        describe_error(&e)
                    )
                })?;
        }
        std::thread::sleep(EXH_HOLD);
    }
    for s in sessions {
        let h = s.handle();
        s.flush().map_err(ctx(format!("flush {h}")))?;
    }
    let st = tpm.steward_stats();
    Ok(format!(
        "waits {} start_retries {}",
        st.waits, st.start_retries
    ))
}

/// More processes want sessions at once than the TPM has session handles
/// (TPM_PT_ACTIVE_SESSIONS_MAX): 24 processes × 3 sessions, each on its own open file, each
/// auditing a few GetRandoms. The TPM refuses some StartAuthSessions (TPM_RC_SESSION_HANDLES,
/// passed through by the RM); the library gives back what it holds, backs off and tries
/// again, so every process completes, and afterwards no session is left.
fn exhaustion_processes() -> CheckResult {
    let observer = open(TPMRM)?;
    let active_max = property(&observer, PropertyTag::ACTIVE_SESSIONS_MAX)? as usize;
    if EXH_PROCESSES * EXH_SESSIONS <= active_max {
        return Err(format!(
            "{EXH_PROCESSES} x {EXH_SESSIONS} sessions do not exceed TPM_PT_ACTIVE_SESSIONS_MAX {active_max}"
        ));
    }
    let before = all_sessions(&observer)?;
    let _ = std::fs::remove_file(EXH_GO_FILE);
    let mut children = Vec::new();
    let mut spawn_error = None;
    for _ in 0..EXH_PROCESSES {
        let spawned = role_command("exhaustion").and_then(|mut c| {
            c.stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .map_err(ctx("spawn role exhaustion"))
        });
        match spawned {
            Ok(child) => children.push(child),
            Err(e) => {
                spawn_error = Some(e);
                break;
            }
        }
    }
    // Started or not, the children must be released and reaped.
    let started = Instant::now();
    std::fs::write(EXH_GO_FILE, b"go").map_err(ctx("write the start signal"))?;
    let mut failures = Vec::new();
    let (mut waits, mut retries, mut waited) = (0u64, 0u64, 0usize);
    for child in children {
        let verdict = child
            .wait_with_output()
            .map_err(ctx("wait for role exhaustion"))
            .and_then(|out| role_verdict("exhaustion", &out));
        match verdict {
            Ok(line) => {
                let words: Vec<&str> = line.split_whitespace().collect();
                match words.as_slice() {
                    ["waits", w, "start_retries", r] => {
                        let w: u64 = w.parse().unwrap_or(0);
                        let r: u64 = r.parse().unwrap_or(0);
                        waits += w;
                        retries += r;
                        waited += usize::from(w + r > 0);
                    }
                    _ => failures.push(format!("unexpected output {line:?}")),
                }
            }
            Err(e) => failures.push(e),
        }
    }
    let elapsed = started.elapsed();
    let _ = std::fs::remove_file(EXH_GO_FILE);
    if let Some(e) = spawn_error {
        return Err(e);
    }
    if !failures.is_empty() {
        return Err(format!(
            "{} of {EXH_PROCESSES} processes failed: {}",
            failures.len(),
            failures.join(" / ")
        ));
    }
    if waits == 0 {
        return Err(format!(
            "{EXH_PROCESSES} x {EXH_SESSIONS} sessions never met exhaustion (no process waited)"
        ));
    }
    sessions_as_before(&observer, &before, "sessions left:")?;
    Ok(format!(
        "{EXH_PROCESSES} processes x {EXH_SESSIONS} sessions (TPM_PT_ACTIVE_SESSIONS_MAX {active_max}) all completed in {:.1} s; {waited} processes backed off ({waits} waits, {retries} all-or-none restarts); no session left",
        elapsed.as_secs_f64()
    ))
}

/// The registry folder of `orphans_cli`, given to the client and the CLI alike.
const ORPHAN_REGISTRY: &str = "/tmp/krm-orphans-registry";

/// The `orphans_cli` client: starts two sessions through the library (registered with this
/// process as owner), parks one (context-saved by the library, held in memory only), prints
/// the handles and waits to be killed.
fn role_orphan_holder() -> CheckResult {
    let tpm = open(TPMRM)?;
    let mut parked = Session::start(&tpm, &SessionOptions::audit()).map_err(ctx("session 1"))?;
    let loaded = Session::start(&tpm, &SessionOptions::policy()).map_err(ctx("session 2"))?;
    audited_get_random(&tpm, &mut parked, "before parking")?;
    parked.park().map_err(ctx("Session::park"))?;
    if !parked.is_parked() {
        return Err("session 1 is not parked after park()".into());
    }
    let (failures, last) = tpm.registry_error();
    if failures != 0 {
        return Err(format!("registry updates failed: {last:?}"));
    }
    println!(
        "ready 0x{:08x} 0x{:08x}",
        parked.handle().0,
        loaded.handle().0
    );
    loop {
        std::thread::sleep(Duration::from_secs(1));
    }
}

/// Runs the CLI with the orphan check's registry and the TPM in the environment; its stdout.
fn cli_run(args: &[&str]) -> Result<String, String> {
    let shown = format!("{CLI} {}", args.join(" "));
    let out = Command::new(CLI)
        .args(args)
        .env("TPM2TOOLS_TCTI", format!("device:{TPMRM}"))
        .env("TPM2_WIRE_REGISTRY", ORPHAN_REGISTRY)
        .output()
        .map_err(|e| format!("{shown}: cannot run: {e}"))?;
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    if !out.status.success() {
        return Err(format!(
            "{shown}: {} stdout: {} stderr: {}",
            out.status,
            stdout.trim(),
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    }
    Ok(stdout)
}

fn cli_json(args: &[&str]) -> Result<serde_json::Value, String> {
    let out = cli_run(args)?;
    serde_json::from_str(out.trim())
        .map_err(|e| format!("{CLI} {}: not JSON ({e}): {}", args.join(" "), out.trim()))
}

/// The `session show --json` entry of a handle.
fn shown_session(handle: Handle) -> Result<Option<serde_json::Value>, String> {
    let shown = cli_json(&["session", "show", "--json"])?;
    let want = format!("0x{:08x}", handle.0);
    let sessions = shown["sessions"]
        .as_array()
        .ok_or_else(|| format!("session show --json has no sessions array: {shown}"))?;
    Ok(sessions
        .iter()
        .find(|s| s["handle"] == want.as_str())
        .cloned())
}

/// A client holding a session parked by the library (context-saved in its memory, in no
/// file) is killed with SIGKILL. Its other, loaded session goes with its open file (the RM
/// flushes it); the parked one stays in the TPM, and `tpm2-wire session show` lists it as an
/// orphan (owner dead, no file). `session flush --orphans` flushes exactly it, and
/// `session status --json` is back at its starting counts.
fn orphans_cli() -> CheckResult {
    use std::io::{BufRead, BufReader};

    let _ = std::fs::remove_dir_all(ORPHAN_REGISTRY);
    let before = cli_json(&["session", "status", "--json"])?;
    let mut child = role_command("orphan-holder")?
        .env("TPM2_WIRE_REGISTRY", ORPHAN_REGISTRY)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .map_err(ctx("spawn role orphan-holder"))?;
    let pid = child.id();
    let stdout = child.stdout.take();
    let ready = (|| -> Result<(Handle, Handle), String> {
        let stdout = stdout.ok_or("the holder has no stdout pipe")?;
        let mut line = String::new();
        BufReader::new(stdout)
            .read_line(&mut line)
            .map_err(ctx("reading the holder's output"))?;
        let handles: Vec<Handle> = line
            .strip_prefix("ready ")
            .ok_or_else(|| format!("holder said {:?}", line.trim()))?
            .split_whitespace()
            .filter_map(|h| u32::from_str_radix(h.trim_start_matches("0x"), 16).ok())
            .map(Handle)
            .collect();
        match handles.as_slice() {
            [parked, loaded] => Ok((*parked, *loaded)),
            _ => Err(format!("holder said {:?}", line.trim())),
        }
    })();
    let owned_while_alive = match &ready {
        Ok((parked, _)) => shown_session(*parked),
        Err(_) => Ok(None),
    };
    // SIGKILL: no destructor runs in the client.
    let _ = child.kill();
    let _ = child.wait();
    let (parked, loaded) = ready?;
    let alive = owned_while_alive?
        .ok_or_else(|| format!("parked session {parked} not shown while its owner ran"))?;
    if alive["state"] != "owned" || alive["pid"] != pid {
        return Err(format!(
            "while its owner {pid} ran, session {parked} showed as {alive}"
        ));
    }

    let orphan = shown_session(parked)?
        .ok_or_else(|| format!("after SIGKILL, parked session {parked} is not shown"))?;
    if orphan["state"] != "orphan" || orphan["owner_alive"] != false || orphan["pid"] != pid {
        return Err(format!(
            "after SIGKILL, session {parked} showed as {orphan}"
        ));
    }
    if let Some(s) = shown_session(loaded)? {
        return Err(format!(
            "the killed client's loaded session {loaded} outlived its open file: {s}"
        ));
    }
    let human = cli_run(&["session", "show"])?;
    let row = human
        .lines()
        .find(|l| l.starts_with(&format!("0x{:08x}", parked.0)))
        .ok_or_else(|| format!("session show lacks {parked}: {human}"))?;
    if !row.split_whitespace().any(|w| w == "orphan") {
        return Err(format!("session show row of {parked}: {row}"));
    }
    let during = cli_json(&["session", "status", "--json"])?;
    if during["orphans"] != 1 {
        return Err(format!("status with the orphan: {during}"));
    }

    let flushed = cli_run(&["session", "flush", "--orphans"])?;
    if !flushed.contains("1 session(s) flushed, 0 failed") {
        return Err(format!("session flush --orphans: {}", flushed.trim()));
    }
    if let Some(s) = shown_session(parked)? {
        return Err(format!("session {parked} still shown after the flush: {s}"));
    }
    let after = cli_json(&["session", "status", "--json"])?;
    if after != before {
        return Err(format!("status before {before}, after the flush {after}"));
    }
    let _ = std::fs::remove_dir_all(ORPHAN_REGISTRY);
    Ok(format!(
        "client {pid} parked {parked} and held {loaded}; after SIGKILL {loaded} was gone (RM), {parked} showed as orphan (`{}`); flush --orphans: {}; status back to {after}",
        row.split_whitespace().collect::<Vec<_>>().join(" "),
        flushed.lines().last().unwrap_or("").trim()
    ))
}

// ---------------------------------------------------------------------------------------
// context_gap: a parked session outlives TPM_PT_CONTEXT_GAP_MAX saves by others

/// The TPM's session context counter now: a probe session on `tpm` (which must hold no
/// sessions of its own), saved, loaded and flushed again, so it leaves no old context.
fn context_counter(tpm: &Tpm) -> Result<u64, String> {
    let probe = Session::start(tpm, &SessionOptions::hmac()).map_err(ctx("probe session"))?;
    let saved = probe.save().map_err(ctx("probe save"))?;
    let sequence = saved.context.sequence;
    let probe = tpm.load_session(saved).map_err(ctx("probe load"))?;
    probe.flush().map_err(ctx("probe flush"))?;
    Ok(sequence)
}

/// The counter advance both gap checks drive: past TPM_PT_CONTEXT_GAP_MAX with a margin.
fn gap_target(gap_max: u64) -> u64 {
    gap_max + gap_max / 16
}

/// An audited GetRandom: its response HMAC proves the session (and its nonces) intact.
fn audited_get_random(tpm: &Tpm, s: &mut Session, what: &str) -> Result<(), String> {
    let h = s.handle();
    tpm.execute(&GetRandom { bytes_requested: 8 }, &mut [s.extra()])
        .map(|_| ())
        .map_err(|e| format!("{what}: GetRandom audited by {h}: {}", describe_error(&e)))
}

/// Commands on `tpm` with 3 of its sessions loaded: the RM saves all 3 after each, so the
/// TPM's context counter moves 3 per command (2 while one is parked). Runs until the counter
/// is `target` past `start`; checks it every [`PROGRESS_EVERY`] commands through `observer`.
/// Fails if `target` commands (a third of them should do) have not moved it that far.
/// Returns (commands, counter advance).
fn drive_counter(
    tpm: &Tpm,
    work: &mut [Session],
    observer: &Tpm,
    start: u64,
    target: u64,
    phase: &str,
) -> Result<(u64, u64), String> {
    let mut commands = 0u64;
    loop {
        for _ in 0..PROGRESS_EVERY {
            tpm.run(&GetRandom { bytes_requested: 1 }).map_err(|e| {
                format!(
                    "GetRandom(1) #{commands} with {}: {}",
                    table(tpm),
                    describe_error(&e)
                )
            })?;
            commands += 1;
            // A re-gap parks one of the work sessions to make room; use it again, so the
            // RM keeps saving 3 per command.
            if tpm.session_table().0 < work.len() {
                for w in work.iter_mut().filter(|w| w.is_parked()) {
                    let h = w.handle();
                    tpm.execute(&GetRandom { bytes_requested: 1 }, &mut [w.extra()])
                        .map_err(|e| {
                            format!("reloading work session {h}: {}", describe_error(&e))
                        })?;
                    commands += 1;
                }
            }
        }
        let advance = context_counter(observer)?.saturating_sub(start);
        if advance >= target {
            return Ok((commands, advance));
        }
        if commands >= target {
            return Err(format!(
                "{commands} commands moved the context counter only {advance} of {target}"
            ));
        }
        progress(phase, commands, target);
    }
}

/// One process keeps an audit session parked by the library (context-saved, in the steward's
/// table) while its own work behind the kernel RM (3 more sessions on the same file, plain
/// GetRandoms: +3 saves per command) moves the TPM's context counter more than
/// TPM_PT_CONTEXT_GAP_MAX past the parked context. Without re-gapping, the TPM would refuse
/// the RM's next session save (TPM_RC_CONTEXT_GAP) and the write would fail with EFAULT; the
/// library's blind re-gap (default policy, every 4096 commands) keeps the old context fresh:
/// every command succeeds, the old session's audited GetRandom verifies afterwards.
fn context_gap() -> CheckResult {
    let observer = open(TPMRM)?;
    let gap_max = u64::from(property(&observer, PropertyTag::CONTEXT_GAP_MAX)?);
    let before = all_sessions(&observer)?;
    let tpm = open(TPMRM)?;
    let policy = tpm.steward_policy();
    let mut old = Session::start(&tpm, &SessionOptions::audit()).map_err(ctx("old session"))?;
    let mut work = Vec::new();
    let outcome = (|| -> CheckResult {
        audited_get_random(&tpm, &mut old, "before parking")?;
        old.park().map_err(ctx("Session::park"))?;
        let start = context_counter(&observer)?;
        for i in 0..3 {
            work.push(
                Session::start(&tpm, &SessionOptions::audit())
                    .map_err(ctx(format!("work session {}", i + 1)))?,
            );
        }
        let phase = Phase::begin("context_gap");
        let (commands, advance) = drive_counter(
            &tpm,
            &mut work,
            &observer,
            start,
            gap_target(gap_max),
            "context_gap",
        )?;
        phase.end(u32::try_from(commands).unwrap_or(u32::MAX));
        let stats = tpm.steward_stats();
        if stats.regapped == 0 {
            return Err(format!("no re-gap in {commands} commands: {stats:?}"));
        }
        if !old.is_parked() {
            return Err(format!("the old session {} is not parked", old.handle()));
        }
        audited_get_random(&tpm, &mut old, "after the counter moved on")?;
        Ok(format!(
            "old session {} parked while {commands} commands moved the context counter {advance} (TPM_PT_CONTEXT_GAP_MAX {gap_max}); regap_every {:?}; no write failed; audited use afterwards verified; {stats:?}",
            old.handle(),
            policy.regap_every
        ))
    })();
    let mut flushed = old.flush().map_err(ctx("flush the old session"));
    for w in work {
        flushed = flushed.and(w.flush().map_err(ctx("flush a work session")));
    }
    verdict(outcome, flushed, &observer, &before)
}

/// Re-gap interval of the two-process variant's idle process. Its steward counts only its
/// own commands, while another process's saves move the counter; with both processes taking
/// turns on one TPM the holder runs about one command per worker command, but nothing
/// guarantees the ratio, so it re-gaps far more often than the default 4096 (at 2 commands
/// per interval, still cheap).
const GAP_HOLDER_REGAP_EVERY: u64 = 256;
const GAP_COMMANDS_VAR: &str = "KRM_GAP_COMMANDS";

/// The worker of `context_gap_two_processes`: 3 sessions on its own file and plain
/// GetRandoms, +3 saves by the RM per command.
fn role_gap_worker() -> CheckResult {
    let commands: u64 = std::env::var(GAP_COMMANDS_VAR)
        .ok()
        .and_then(|v| v.parse().ok())
        .ok_or_else(|| format!("no {GAP_COMMANDS_VAR}"))?;
    let tpm = open(TPMRM)?;
    let held = tpm
        .start_sessions(&vec![SessionOptions::hmac(); 3])
        .map_err(|e| format!("start_sessions(3): {}", describe_error(&e)))?;
    for i in 0..commands {
        tpm.run(&GetRandom { bytes_requested: 1 })
            .map_err(|e| format!("GetRandom(1) #{i}: {}", describe_error(&e)))?;
        if (i + 1) % PROGRESS_EVERY == 0 {
            progress("context_gap_two_processes-worker", i + 1, commands);
        }
    }
    for s in held {
        s.flush().map_err(ctx("flush"))?;
    }
    Ok(format!("{commands} commands"))
}

/// The stronger variant: the counter is moved by a second process (its own file, 3 sessions,
/// +3 saves per command) while this one keeps the old session parked and runs plain commands
/// (its file holds no session, so they save nothing). Its steward re-gaps blindly every
/// [`GAP_HOLDER_REGAP_EVERY`] of its own commands; the worker's writes never fail (EFAULT)
/// and the old session's audited GetRandom verifies afterwards.
fn context_gap_two_processes() -> CheckResult {
    let observer = open(TPMRM)?;
    let gap_max = u64::from(property(&observer, PropertyTag::CONTEXT_GAP_MAX)?);
    let before = all_sessions(&observer)?;
    let tpm = open(TPMRM)?;
    tpm.set_steward_policy(tpm2_wire::steward::StewardPolicy {
        regap_every: Some(GAP_HOLDER_REGAP_EVERY),
        ..tpm.steward_policy()
    });
    let mut old = Session::start(&tpm, &SessionOptions::audit()).map_err(ctx("old session"))?;
    let outcome = (|| -> CheckResult {
        audited_get_random(&tpm, &mut old, "before parking")?;
        old.park().map_err(ctx("Session::park"))?;
        let start = context_counter(&observer)?;
        let worker_commands = gap_target(gap_max) / 3 + 1;
        // Its stderr is the console: the worker's progress lines show the host that the
        // counter is moving while this process only runs plain commands.
        let mut child = role_command("gap-worker")?
            .env(GAP_COMMANDS_VAR, worker_commands.to_string())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::inherit())
            .spawn()
            .map_err(ctx("spawn role gap-worker"))?;
        let phase = Phase::begin("context_gap_two_processes");
        let mut own = 0u64;
        let mut own_error = None;
        loop {
            match child.try_wait() {
                Ok(Some(_)) => break,
                Ok(None) => {}
                Err(e) => {
                    own_error = Some(format!("waiting for the worker: {e}"));
                    break;
                }
            }
            if let Err(e) = tpm.run(&GetRandom { bytes_requested: 1 }) {
                own_error = Some(format!(
                    "holder's GetRandom(1) #{own}: {}",
                    describe_error(&e)
                ));
                break;
            }
            own += 1;
        }
        let out = child
            .wait_with_output()
            .map_err(ctx("wait for the worker"))?;
        phase.end(u32::try_from(worker_commands).unwrap_or(u32::MAX));
        let worker = role_verdict("gap-worker", &out)?;
        if let Some(e) = own_error {
            return Err(e);
        }
        let advance = context_counter(&observer)?.saturating_sub(start);
        if advance <= gap_max {
            return Err(format!(
                "the counter moved only {advance} (TPM_PT_CONTEXT_GAP_MAX {gap_max})"
            ));
        }
        let stats = tpm.steward_stats();
        if stats.regapped == 0 {
            return Err(format!("no re-gap in {own} own commands: {stats:?}"));
        }
        audited_get_random(&tpm, &mut old, "after the worker moved the counter")?;
        Ok(format!(
            "old session {} parked while another process ({worker}) moved the context counter {advance} (TPM_PT_CONTEXT_GAP_MAX {gap_max}); this process ran {own} plain commands, regap_every {GAP_HOLDER_REGAP_EVERY}; no write failed; audited use afterwards verified; {stats:?}",
            old.handle()
        ))
    })();
    let flushed = old.flush().map_err(ctx("flush the old session"));
    verdict(outcome, flushed, &observer, &before)
}

/// The failure the re-gap prevents, shown once: the same setup as [`context_gap`] with
/// re-gapping off. When the counter is about to pass TPM_PT_CONTEXT_GAP_MAX beyond the parked
/// context, the TPM refuses the RM's session save (TPM_RC_CONTEXT_GAP) and the write fails
/// with EFAULT (`TransportError::Device`). The RM then keeps that file's previous, stale
/// session contexts, so the file stays broken (reported, not required). The parked context
/// itself is intact: loaded on a fresh open, its audited GetRandom verifies, and once it is
/// saved anew the counter moves on again.
fn context_gap_without_regap() -> CheckResult {
    let observer = open(TPMRM)?;
    let gap_max = u64::from(property(&observer, PropertyTag::CONTEXT_GAP_MAX)?);
    let before = all_sessions(&observer)?;
    let tpm = open(TPMRM)?;
    tpm.set_steward_policy(tpm2_wire::steward::StewardPolicy {
        regap: false,
        ..tpm.steward_policy()
    });
    let mut old = Session::start(&tpm, &SessionOptions::audit()).map_err(ctx("old session"))?;
    audited_get_random(&tpm, &mut old, "before parking")?;
    old.park().map_err(ctx("Session::park"))?;
    let mut old_saved = Some(old);
    let start = context_counter(&observer)?;
    let mut work = Vec::new();
    for i in 0..3 {
        work.push(
            Session::start(&tpm, &SessionOptions::audit())
                .map_err(ctx(format!("work session {}", i + 1)))?,
        );
    }
    let limit = gap_target(gap_max) / 3;
    let phase = Phase::begin("context_gap_without_regap");
    let mut failure = None;
    let mut commands = 0u64;
    while commands < limit {
        if let Err(e) = tpm.run(&GetRandom { bytes_requested: 1 }) {
            failure = Some(e);
            break;
        }
        commands += 1;
        if commands % PROGRESS_EVERY == 0 {
            progress("context_gap_without_regap", commands, limit);
        }
    }
    phase.end(u32::try_from(commands).unwrap_or(u32::MAX));
    let outcome = (|| -> CheckResult {
        let failure = failure.as_ref().ok_or_else(|| {
            format!("{commands} commands (+3 saves each) without re-gapping, and none failed")
        })?;
        let efault = matches!(
            failure,
            Error::Transport(TransportError::Device { errno, .. }) if *errno == libc::EFAULT
        );
        if !efault {
            return Err(format!(
                "command #{commands} failed, but not with EFAULT: {}",
                describe_error(failure)
            ));
        }
        // The transport reopens the device after EFAULT (the RM's state for the old file is
        // unusable), so the same connection goes on; the steward counted the sessions the RM
        // kept loaded for us as lost and keeps the parked one.
        tpm.run(&GetRandom { bytes_requested: 1 })
            .map_err(ctx("the same connection after EFAULT"))?;
        let mut old = old_saved.take().ok_or("the old session is gone")?;
        let used = audited_get_random(&tpm, &mut old, "the parked session after EFAULT");
        let flushed = old.flush().map_err(ctx("flush the old session"));
        used?;
        flushed?;
        let same_file_after = "works (device reopened)";
        let advance = context_counter(&observer)
            .map_err(|e| format!("after the old session was saved anew, saves still fail: {e}"))?
            .saturating_sub(start);
        Ok(format!(
            "without re-gap: plain GetRandom #{commands} (about {} saves past the parked context, TPM_PT_CONTEXT_GAP_MAX {gap_max}) failed with {}; the same connection afterwards: {same_file_after}; the parked session verified on it, and saves work again (counter +{advance})",
            3 * commands,
            describe_error(failure)
        ))
    })();
    // Closing the broken file lets the RM flush what its space still lists.
    for w in work {
        let _ = w.keep();
    }
    if let Some(old) = old_saved {
        let _ = old.keep();
    }
    drop(tpm);
    verdict(outcome, Ok(()), &observer, &before)
}
