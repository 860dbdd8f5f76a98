//! The guest half of the kernel_rm test: runs inside the QEMU guest, talks to the Linux
//! kernel's TPM resource manager (`/dev/tpmrm0`) and the raw device (`/dev/tpm0`) with raw
//! frames (one `write` of the whole command, one `read` of the whole response, same fd), and
//! prints one `KRM-CHECK <name> PASS|FAIL <detail>` line per check and a final
//! `KRM-RESULT: PASS|FAIL` line.
//!
//! Each check is a plain function in [`CHECKS`]; the host side learns the expected names
//! from the same table. Frames are built with the library's wire writer so the checks can
//! move to the library's transport and session API once that exists.

use std::fs::{File, OpenOptions};
use std::io::{Read, Write};
use std::process::Command;
use std::time::Instant;

use tpm2_wire::wire::{
    begin_command, finish_command, CommandCode, Handle, Reader, ResponseFrame, StructureTag, Writer,
};

pub const TPMRM: &str = "/dev/tpmrm0";
pub const TPM: &str = "/dev/tpm0";

/// What a check reports: `Ok(detail)` passes, `Err(reason)` fails.
pub type CheckResult = Result<String, String>;

pub struct Check {
    pub name: &'static str,
    pub run: fn() -> CheckResult,
}

/// Every check, in the order they run. The host requires a PASS line for each name.
pub const CHECKS: &[Check] = &[
    Check {
        name: "basic",
        run: basic,
    },
    Check {
        name: "cli",
        run: cli,
    },
    Check {
        name: "per_fd_slots",
        run: per_fd_slots,
    },
    Check {
        name: "close_flushes",
        run: close_flushes,
    },
    Check {
        name: "client_saved_survives",
        run: client_saved_survives,
    },
    Check {
        name: "unsupported_cc",
        run: unsupported_cc,
    },
];

/// Runs every check, prints the markers, and returns the process exit status.
pub fn run() -> std::process::ExitCode {
    // Splits the host's "boot and checks" time into kernel boot and checks.
    let uptime = std::fs::read_to_string("/proc/uptime").unwrap_or_default();
    println!(
        "KRM-INFO guest program started at kernel uptime {} s",
        uptime.split_whitespace().next().unwrap_or("?")
    );
    let started = Instant::now();
    let mut failed = 0;
    for check in CHECKS {
        // A panicking check is a failed check, not a lost result line.
        let outcome = std::panic::catch_unwind(check.run)
            .unwrap_or_else(|panic| Err(format!("panicked: {}", panic_message(&panic))));
        match outcome {
            Ok(detail) => println!("KRM-CHECK {} PASS {}", check.name, one_line(&detail)),
            Err(reason) => {
                failed += 1;
                println!("KRM-CHECK {} FAIL {}", check.name, one_line(&reason));
            }
        }
    }
    println!("KRM-INFO checks took {} ms", started.elapsed().as_millis());
    // Not a check: the figure the context-gap test will need to budget its run time.
    match measure_context_saves() {
        Ok(info) => println!("KRM-INFO context_save_rate {info}"),
        Err(e) => println!("KRM-INFO context_save_rate unavailable: {e}"),
    }
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
// Raw device access and frames

/// One open TPM character device: the unit the kernel resource manager scopes its
/// per-client state (3 objects, 3 sessions) to.
struct Device {
    file: File,
    path: &'static str,
}

impl Device {
    fn open(path: &'static str) -> Result<Device, String> {
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .open(path)
            .map_err(|e| format!("open {path}: {e}"))?;
        Ok(Device { file, path })
    }

    /// Writes the whole command at once and reads the whole response from the same fd, as
    /// the TPM character devices require.
    fn transact(&mut self, command: &[u8]) -> Result<Vec<u8>, std::io::Error> {
        let written = self.file.write(command)?;
        if written != command.len() {
            return Err(std::io::Error::other(format!(
                "short write: {written} of {} bytes",
                command.len()
            )));
        }
        let mut buf = vec![0u8; 4096];
        let n = self.file.read(&mut buf)?;
        buf.truncate(n);
        Ok(buf)
    }

    /// Sends `command` and splits a response with `handles` response handles; a transport
    /// failure or a malformed frame is an error, a TPM error code is returned as the code.
    fn call(&mut self, command: &[u8], handles: usize) -> Result<Response, String> {
        let raw = self
            .transact(command)
            .map_err(|e| format!("{}: {e}", self.path))?;
        let frame = ResponseFrame::parse(&raw, handles)
            .map_err(|e| format!("{}: bad response {}: {e}", self.path, hex(&raw)))?;
        Ok(Response {
            code: frame.code,
            handles: frame.handles.to_vec(),
            parameters: frame.parameters.to_vec(),
        })
    }

    /// Like [`Device::call`] but any non-zero response code is an error naming `what`.
    fn call_ok(&mut self, what: &str, command: &[u8], handles: usize) -> Result<Response, String> {
        let r = self.call(command, handles)?;
        if r.code != 0 {
            return Err(format!(
                "{what} on {}: response code 0x{:08x}",
                self.path, r.code
            ));
        }
        Ok(r)
    }
}

struct Response {
    code: u32,
    handles: Vec<u8>,
    parameters: Vec<u8>,
}

impl Response {
    fn handle(&self) -> Result<u32, String> {
        Reader::new(&self.handles)
            .u32()
            .map_err(|e| format!("response handle: {e}"))
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// A command without sessions: header, then whatever `body` writes (handles, parameters).
fn command(code: CommandCode, body: impl FnOnce(&mut Writer<'_>)) -> Vec<u8> {
    let mut buf = Vec::new();
    let mut w = Writer::new(&mut buf);
    let start = begin_command(&mut w, StructureTag::NO_SESSIONS, code);
    body(&mut w);
    finish_command(&mut w, start).expect("a test command fits in a u32 size");
    buf
}

fn get_random(count: u16) -> Vec<u8> {
    command(CommandCode::GET_RANDOM, |w| w.u16(count))
}

const TPM_CAP_HANDLES: u32 = 0x0000_0001;
const TPM_CAP_TPM_PROPERTIES: u32 = 0x0000_0006;
const TPM_PT_FAMILY_INDICATOR: u32 = 0x100;
/// How many sessions the TPM can hold loaded at once (at least; the specification
/// requires 3 or more).
const TPM_PT_HR_LOADED_MIN: u32 = 0x110;
/// In TPM_CAP_HANDLES, 0x02 lists the sessions loaded in the TPM and 0x03 the sessions
/// that are context-saved (still active, but not loaded).
const HT_LOADED_SESSION: u32 = 0x0200_0000;
const HT_SAVED_SESSION: u32 = 0x0300_0000;
const TPM_ALG_NULL: u16 = 0x0010;
const TPM_ALG_SHA256: u16 = 0x000B;
const TPM_SE_HMAC: u8 = 0x00;
/// TPM_RC_COMMAND_CODE as the TPM returns it.
const TPM_RC_COMMAND_CODE: u32 = 0x143;
const TPM_RC_SESSION_MEMORY: u32 = 0x903;
/// TPM_RC_COMMAND_CODE in the layer the kernel resource manager uses for responses it
/// synthesizes itself (TSS2_RESMGR_TPM_RC_LAYER, 11 << 16).
const RESMGR_RC_COMMAND_CODE: u32 = (11 << 16) | TPM_RC_COMMAND_CODE;

fn get_capability(capability: u32, property: u32, count: u32) -> Vec<u8> {
    command(CommandCode::GET_CAPABILITY, |w| {
        w.u32(capability);
        w.u32(property);
        w.u32(count);
    })
}

/// An unsalted, unbound HMAC session with SHA-256 and no parameter encryption.
fn start_hmac_session(nonce_byte: u8) -> Vec<u8> {
    command(CommandCode::START_AUTH_SESSION, |w| {
        w.u32(Handle::RH_NULL.0); // tpmKey
        w.u32(Handle::RH_NULL.0); // bind
        w.u16(16); // nonceCaller
        w.bytes(&[nonce_byte; 16]);
        w.u16(0); // encryptedSalt
        w.u8(TPM_SE_HMAC);
        w.u16(TPM_ALG_NULL); // symmetric
        w.u16(TPM_ALG_SHA256); // authHash
    })
}

fn context_save(handle: u32) -> Vec<u8> {
    command(CommandCode::CONTEXT_SAVE, |w| w.u32(handle))
}

/// `context` is a TPMS_CONTEXT exactly as ContextSave returned it.
fn context_load(context: &[u8]) -> Vec<u8> {
    command(CommandCode::CONTEXT_LOAD, |w| w.bytes(context))
}

fn flush_context(handle: u32) -> Vec<u8> {
    command(CommandCode::FLUSH_CONTEXT, |w| w.u32(handle))
}

/// Starts an HMAC session on `dev` and returns its handle.
fn start_session(dev: &mut Device, nonce_byte: u8) -> Result<u32, String> {
    let r = dev.call_ok("StartAuthSession", &start_hmac_session(nonce_byte), 1)?;
    let handle = r.handle()?;
    if handle >> 24 != 0x02 {
        return Err(format!(
            "StartAuthSession returned handle 0x{handle:08x}, not an HMAC session"
        ));
    }
    Ok(handle)
}

/// The handles the TPM lists for one TPM_CAP_HANDLES range.
fn handles(dev: &mut Device, range: u32) -> Result<Vec<u32>, String> {
    let r = dev.call_ok(
        "GetCapability(HANDLES)",
        &get_capability(TPM_CAP_HANDLES, range, 64),
        0,
    )?;
    let mut rd = Reader::new(&r.parameters);
    let parse = |rd: &mut Reader<'_>| -> Result<Vec<u32>, tpm2_wire::wire::WireError> {
        let _more_data = rd.u8()?;
        let capability = rd.u32()?;
        if capability != TPM_CAP_HANDLES {
            return Err(tpm2_wire::wire::WireError::BadValue {
                what: "capability",
                value: capability,
            });
        }
        let count = rd.u32()?;
        let mut out = Vec::new();
        for _ in 0..count.min(256) {
            out.push(rd.u32()?);
        }
        Ok(out)
    };
    parse(&mut rd).map_err(|e| format!("GetCapability(HANDLES) response: {e}"))
}

/// Every session the TPM knows of, loaded or saved.
fn all_sessions(dev: &mut Device) -> Result<Vec<u32>, String> {
    let mut all = handles(dev, HT_LOADED_SESSION)?;
    all.extend(handles(dev, HT_SAVED_SESSION)?);
    all.sort_unstable();
    Ok(all)
}

fn list(handles: &[u32]) -> String {
    let items: Vec<String> = handles.iter().map(|h| format!("0x{h:08x}")).collect();
    format!("[{}]", items.join(" "))
}

/// A bare error response: header only, tagged NO_SESSIONS.
fn error_response(code: u32) -> Vec<u8> {
    let mut v = vec![0x80, 0x01, 0, 0, 0, 10];
    v.extend_from_slice(&code.to_be_bytes());
    v
}

/// One TPM property (TPM_CAP_TPM_PROPERTIES).
fn tpm_property(dev: &mut Device, property: u32) -> Result<u32, String> {
    let r = dev.call_ok(
        "GetCapability(TPM_PROPERTIES)",
        &get_capability(TPM_CAP_TPM_PROPERTIES, property, 1),
        0,
    )?;
    let mut rd = Reader::new(&r.parameters);
    let parse = |rd: &mut Reader<'_>| -> Result<Option<u32>, tpm2_wire::wire::WireError> {
        let _more_data = rd.u8()?;
        let _capability = rd.u32()?;
        let count = rd.u32()?;
        for _ in 0..count.min(256) {
            let (p, v) = (rd.u32()?, rd.u32()?);
            if p == property {
                return Ok(Some(v));
            }
        }
        Ok(None)
    };
    parse(&mut rd)
        .map_err(|e| format!("GetCapability(TPM_PROPERTIES) response: {e}"))?
        .ok_or_else(|| format!("the TPM does not report property 0x{property:x}"))
}

// ---------------------------------------------------------------------------------------
// The checks

/// GetRandom through the resource manager and on the raw device; TPM properties.
fn basic() -> CheckResult {
    let mut details = Vec::new();
    for path in [TPMRM, TPM] {
        let mut dev = Device::open(path)?;
        let r = dev.call_ok("GetRandom(16)", &get_random(16), 0)?;
        let mut rd = Reader::new(&r.parameters);
        let size = rd
            .u16()
            .map_err(|e| format!("{path}: GetRandom response: {e}"))?;
        if size != 16 || rd.remaining() != 16 {
            return Err(format!(
                "{path}: GetRandom(16) gave {size} bytes ({} in the frame)",
                rd.remaining()
            ));
        }
        details.push(format!("{path} GetRandom 16 bytes"));
    }

    let mut dev = Device::open(TPMRM)?;
    let family = tpm_property(&mut dev, TPM_PT_FAMILY_INDICATOR)?;
    // "2.0\0"
    if family != 0x322E_3000 {
        return Err(format!(
            "TPM_PT_FAMILY_INDICATOR is 0x{family:08x}, not \"2.0\""
        ));
    }
    details.push("TPM_PT_FAMILY_INDICATOR \"2.0\"".to_string());
    Ok(details.join(", "))
}

/// One invocation of the `tpm2-wire` CLI inside the guest.
struct CliCase {
    args: &'static [&'static str],
    /// Text that must appear on stdout (empty: anything).
    stdout_contains: &'static str,
}

/// Add cases here as the CLI grows, e.g. `random 16` or `getcap properties-variable`
/// against `/dev/tpmrm0`.
const CLI_CASES: &[CliCase] = &[CliCase {
    args: &["--help"],
    stdout_contains: "",
}];

const CLI: &str = "/bin/tpm2-wire";

fn cli() -> CheckResult {
    let mut ran = Vec::new();
    for case in CLI_CASES {
        let shown = format!("{CLI} {}", case.args.join(" "));
        let out = Command::new(CLI)
            .args(case.args)
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
        if !stdout.contains(case.stdout_contains) {
            return Err(format!(
                "{shown}: stdout lacks {:?}: {}",
                case.stdout_contains,
                stdout.trim()
            ));
        }
        ran.push(shown);
    }
    Ok(format!("ran {}", ran.join("; ")))
}

/// The resource manager gives each open fd 3 session slots, and it ContextLoads all of them
/// before every command. A 4th StartAuthSession therefore fails one of two ways: when the
/// TPM has room for only 3 loaded sessions (the reference implementation and swtpm), the TPM
/// itself answers TPM_RC_SESSION_MEMORY, passed through unchanged; with more room, the RM
/// flushes the new session and the write fails with ENOMEM. Either way the TPM must not keep
/// the 4th session, and the fd must stay usable.
fn per_fd_slots() -> CheckResult {
    let mut observer = Device::open(TPMRM)?;
    let loaded_min = tpm_property(&mut observer, TPM_PT_HR_LOADED_MIN)?;
    if loaded_min < 3 {
        return Err(format!(
            "TPM_PT_HR_LOADED_MIN is {loaded_min}, below the specification's 3"
        ));
    }
    let before = all_sessions(&mut observer)?;

    let mut dev = Device::open(TPMRM)?;
    let mut ours = Vec::new();
    for i in 0..3u8 {
        ours.push(
            start_session(&mut dev, 0x10 + i).map_err(|e| format!("session {}: {e}", i + 1))?,
        );
    }
    let fourth = dev.transact(&start_hmac_session(0x13));
    let how = if loaded_min == 3 {
        match fourth {
            Ok(raw) if raw == error_response(TPM_RC_SESSION_MEMORY) => "TPM_RC_SESSION_MEMORY",
            Ok(raw) => {
                return Err(format!(
                    "4th session: expected TPM_RC_SESSION_MEMORY (TPM holds {loaded_min} loaded sessions), got {}",
                    hex(&raw)
                ))
            }
            Err(e) => return Err(format!("4th session: expected TPM_RC_SESSION_MEMORY, write failed with {e}")),
        }
    } else {
        match fourth {
            Err(e) if e.raw_os_error() == Some(libc::ENOMEM) => "ENOMEM",
            Err(e) => {
                return Err(format!(
                    "4th session: expected ENOMEM, write failed with {e}"
                ))
            }
            Ok(raw) => {
                return Err(format!(
                    "4th session: expected ENOMEM, got response {}",
                    hex(&raw)
                ))
            }
        }
    };

    // The rejected session must not linger in the TPM: exactly our 3 are new.
    let after = all_sessions(&mut observer)?;
    let mut expected = before.clone();
    expected.extend(&ours);
    expected.sort_unstable();
    if after != expected {
        return Err(format!(
            "sessions before {}, ours {}, after the 4th {} (the rejected one should be gone)",
            list(&before),
            list(&ours),
            list(&after)
        ));
    }
    // The fd still works after the failure, with its 3 sessions.
    dev.call_ok("GetRandom after the 4th session", &get_random(8), 0)?;
    Ok(format!(
        "3 sessions {} then {how} (TPM_PT_HR_LOADED_MIN {loaded_min}); nothing left over",
        list(&ours)
    ))
}

/// A session the client did not save is flushed when its fd closes.
fn close_flushes() -> CheckResult {
    let mut observer = Device::open(TPMRM)?;
    let mut dev = Device::open(TPMRM)?;
    let handle = start_session(&mut dev, 0x20)?;

    // Between commands the RM keeps the session context-saved, so it shows in the saved list.
    let saved = handles(&mut observer, HT_SAVED_SESSION)?;
    let loaded = handles(&mut observer, HT_LOADED_SESSION)?;
    if !saved.contains(&handle) && !loaded.contains(&handle) {
        return Err(format!(
            "session 0x{handle:08x} not listed while its fd is open (loaded {}, saved {})",
            list(&loaded),
            list(&saved)
        ));
    }
    let where_open = if saved.contains(&handle) {
        "saved"
    } else {
        "loaded"
    };

    drop(dev);
    let all = all_sessions(&mut observer)?;
    if all.contains(&handle) {
        return Err(format!(
            "session 0x{handle:08x} still listed after close: {}",
            list(&all)
        ));
    }
    Ok(format!(
        "session 0x{handle:08x} was {where_open} while open, gone after close"
    ))
}

/// A session the client ContextSaved itself is forgotten by the RM, survives the close of
/// its fd, and can be loaded and flushed from another fd.
fn client_saved_survives() -> CheckResult {
    let mut a = Device::open(TPMRM)?;
    let handle = start_session(&mut a, 0x30)?;
    let saved = a.call_ok("ContextSave", &context_save(handle), 0)?;
    let context = saved.parameters;
    // TPMS_CONTEXT: sequence (u64), savedHandle (u32), hierarchy (u32), contextBlob.
    let saved_handle = Reader::new(&context)
        .take(12)
        .map(|b| u32::from_be_bytes([b[8], b[9], b[10], b[11]]))
        .map_err(|e| format!("ContextSave response: {e}"))?;
    if saved_handle != handle {
        return Err(format!(
            "ContextSave savedHandle 0x{saved_handle:08x} != session 0x{handle:08x}"
        ));
    }
    drop(a);

    let mut b = Device::open(TPMRM)?;
    let all = all_sessions(&mut b)?;
    if !all.contains(&handle) {
        return Err(format!(
            "client-saved session 0x{handle:08x} gone after its fd closed: {}",
            list(&all)
        ));
    }
    let loaded = b.call_ok("ContextLoad on a second fd", &context_load(&context), 1)?;
    let loaded_handle = loaded.handle()?;
    if loaded_handle != handle {
        return Err(format!(
            "ContextLoad returned 0x{loaded_handle:08x}, saved 0x{handle:08x}"
        ));
    }
    b.call_ok("FlushContext", &flush_context(handle), 0)?;
    let all = all_sessions(&mut b)?;
    if all.contains(&handle) {
        return Err(format!(
            "session 0x{handle:08x} still listed after FlushContext"
        ));
    }
    Ok(format!(
        "session 0x{handle:08x} survived close, ContextLoad on another fd rc 0, flushed"
    ))
}

/// The RM checks command codes against the TPM's command list and answers unknown ones
/// itself with TPM_RC_COMMAND_CODE in its own layer; the raw device passes them to the TPM.
fn unsupported_cc() -> CheckResult {
    // Below TPM_CC_FIRST (0x11F): no TPM implements it.
    let unknown = CommandCode(0x0000_0001);
    let frame = command(unknown, |_| {});
    let mut details = Vec::new();
    for (path, expected) in [(TPMRM, RESMGR_RC_COMMAND_CODE), (TPM, TPM_RC_COMMAND_CODE)] {
        let mut dev = Device::open(path)?;
        let raw = dev
            .transact(&frame)
            .map_err(|e| format!("{path}: unknown command code: {e}"))?;
        let r = ResponseFrame::parse(&raw, 0)
            .map_err(|e| format!("{path}: bad response {}: {e}", hex(&raw)))?;
        if r.code != expected || raw.len() != 10 {
            return Err(format!(
                "{path}: command code {unknown} got {} (expected a bare header with 0x{expected:08x})",
                hex(&raw)
            ));
        }
        details.push(format!("{path} 0x{:08x}", r.code));
    }
    Ok(details.join(", "))
}

/// Times commands on an fd that holds 1 and then 3 sessions: the RM ContextLoads and
/// ContextSaves each held session around every command, so each command advances the TPM's
/// context counter by the number of sessions held. A context-gap test needs about 65536
/// such saves.
fn measure_context_saves() -> Result<String, String> {
    const ROUNDS: u32 = 50;
    let mut dev = Device::open(TPMRM)?;
    let mut held = Vec::new();
    let mut figures = Vec::new();
    for sessions in [1u32, 3] {
        while held.len() < sessions as usize {
            held.push(start_session(&mut dev, 0x70 + held.len() as u8)?);
        }
        let started = Instant::now();
        for _ in 0..ROUNDS {
            dev.call_ok("GetRandom", &get_random(1), 0)?;
        }
        let per_save = started.elapsed() / (ROUNDS * sessions);
        figures.push(format!(
            "{} us per save with {sessions} session(s) held (65536 saves: about {} s)",
            per_save.as_micros(),
            (per_save * 65536).as_secs()
        ));
    }
    for handle in held {
        dev.call_ok("FlushContext", &flush_context(handle), 0)?;
    }
    Ok(figures.join("; "))
}
