//! The session ownership registry: which process started each TPM session, when, and which
//! session file (if any) holds it, so that sessions left behind by crashed processes can be
//! found and flushed without touching sessions that someone still owns or parked on purpose.
//!
//! One small text file per session, in a per-user directory:
//! `$TPM2_WIRE_REGISTRY` if set, else `$XDG_RUNTIME_DIR/tpm2-wire`, else `/tmp/tpm2-wire-<uid>`.
//! The directory is created with mode 0700 and refused if it is not a directory owned by the
//! user or if group or others may write to it (another user could plant records and steer
//! `flush` at sessions that are not orphans). Records are written atomically with mode 0600.
//!
//! On tmpfs a new record is a symbolic link whose target is the record's text in a compact
//! form (created in one step, read with `readlink`, never followed; the directory's mode
//! keeps it private): first line `tws1`, then the same lines with the keys `t`, `h`, `y`,
//! `a`, `p`, `s`, `u`, `c`, `f`, `d` for `tpm` through `desynchronized`.
//!
//! Record format (UTF-8 lines, `\n`-terminated, at most [`MAX_RECORD_SIZE`] bytes):
//! ```text
//! tpm2-wire-session 1
//! tpm=swtpm:host=127.0.0.1,port=2321
//! handle=0x03000001
//! type=policy
//! hash=sha256
//! pid=4242
//! pid_start=123456
//! uid=1000
//! created=1732230000
//! file=/home/u/policy.ctx
//! desynchronized=1732230100
//! ```
//! Every key but `file` and `desynchronized` is required, each at most once; unknown keys are
//! refused. `desynchronized` is the Unix time at which a response to a command the session
//! took part in was lost or failed verification: the session can no longer be used, only
//! flushed (its owner flushes it; if that failed, `tpm2-wire session flush` can). `tpm` and
//! `file` escape `\` as `\\`, and control characters and non-UTF-8 bytes as `\xHH`.
//! `pid_start` is field 22 of `/proc/<pid>/stat` (start time in clock ticks since boot), so a
//! recycled pid is not taken for the owner.

use std::ffi::{CStr, OsString};
use std::io;
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::os::unix::fs::{DirBuilderExt, MetadataExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use crate::crypto::{self, HashAlg};
use crate::wire::{Handle, SessionType};

/// Environment variable naming the registry directory, or turning the registry off with
/// [`REGISTRY_OFF`].
pub const REGISTRY_ENV_VAR: &str = "TPM2_WIRE_REGISTRY";
/// The value of [`REGISTRY_ENV_VAR`] that turns the default registry off for the process.
pub const REGISTRY_OFF: &str = "off";

/// Whether the environment turns the default registry off (`TPM2_WIRE_REGISTRY=off`).
pub fn disabled_by_env() -> bool {
    std::env::var_os(REGISTRY_ENV_VAR).is_some_and(|v| v == REGISTRY_OFF)
}
/// Largest record file accepted: two paths of up to 1 KiB each, escaped, fit comfortably.
pub const MAX_RECORD_SIZE: usize = 8 * 1024;
/// Largest number of entries `list` reads: far more sessions than any TPM holds at once.
pub const MAX_RECORDS: usize = 4096;
/// Longest `tpm` or `file` value accepted (before escaping).
const MAX_VALUE_LEN: usize = 2048;
const HEADER: &str = "tpm2-wire-session 1";
/// The first line of the compact form (see [`SessionRecord::to_compact_text`]).
const COMPACT_HEADER: &str = "tws1";
/// The keys, in the order records are written.
const LONG_KEYS: [&str; 10] = [
    "tpm",
    "handle",
    "type",
    "hash",
    "pid",
    "pid_start",
    "uid",
    "created",
    "file",
    "desynchronized",
];
/// The compact form's keys, standing for [`LONG_KEYS`] in the same order.
const COMPACT_KEYS: [&str; 10] = ["t", "h", "y", "a", "p", "s", "u", "c", "f", "d"];
const SUFFIX: &str = ".session";
/// Handles of sessions differ in their low 24 bits; the TPM may report a saved policy
/// session with the HMAC prefix, so records are keyed by these bits only.
pub const SESSION_INDEX_MASK: u32 = 0x00FF_FFFF;

/// Why the registry could not be opened, read or written.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RegistryError {
    /// A file-system operation on the registry failed.
    #[error("registry {}: {op}: {error}", path.display())]
    Io {
        /// The directory or record file.
        path: PathBuf,
        /// What was being done.
        op: &'static str,
        /// The operating system's error.
        #[source]
        error: io::Error,
    },
    /// The registry directory is not safe to use (not owned by this user, writable by others,
    /// a symbolic link, ...); nothing in it is read or written.
    #[error("registry directory {} refused: {reason}", path.display())]
    Insecure {
        /// The directory.
        path: PathBuf,
        /// Why it was refused.
        reason: String,
    },
    /// A record file could not be parsed or is not safe to trust.
    #[error("registry record {}: {reason}", path.display())]
    BadRecord {
        /// The record file.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },
    /// A session's record could not be written as given: a value in it (the TCTI string, the
    /// session file's path) is longer than a record allows (2048 bytes).
    #[error("cannot record session: {0}")]
    Unrecordable(String),
    /// The default registry was turned off (`TPM2_WIRE_REGISTRY=off`).
    #[error("the session registry is turned off (TPM2_WIRE_REGISTRY=off)")]
    Disabled,
    /// A record's text that does not parse (before it is known which file it came from).
    #[error("malformed registry record: {0}")]
    Malformed(String),
}

/// Who owns a session, and where it lives.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SessionRecord {
    /// The TPM the session lives on, as its TCTI string ([`crate::Tpm::describe`]).
    pub tpm: String,
    /// The session handle (records are keyed by its low 24 bits).
    pub handle: Handle,
    /// The session type.
    pub session_type: SessionType,
    /// The session hash.
    pub hash: HashAlg,
    /// The process that owns the session.
    pub pid: u32,
    /// Start time of `pid` (field 22 of `/proc/<pid>/stat`).
    pub pid_start: u64,
    /// The user the owner process runs as.
    pub uid: u32,
    /// Unix seconds.
    pub created: u64,
    /// The session file that holds the session (absolute path), if it was saved to one.
    pub file: Option<PathBuf>,
    /// Unix seconds at which the session became desynchronized (a response it took part in
    /// was lost, malformed or failed verification); it is then only ever flushed.
    pub desynchronized: Option<u64>,
}

/// Start time of a process in clock ticks since boot (`/proc/<pid>/stat` field 22), or
/// `None` if there is no such process (or no `/proc`).
pub fn process_start_time(pid: u32) -> Option<u64> {
    let stat = std::fs::read(format!("/proc/{pid}/stat")).ok()?;
    parse_stat_start_time(&stat)
}

/// Field 22 of a `/proc/<pid>/stat` line. The command name (field 2) is in parentheses and may
/// itself contain spaces and parentheses, so fields are counted from the last `)`.
fn parse_stat_start_time(stat: &[u8]) -> Option<u64> {
    let close = stat.iter().rposition(|&b| b == b')')?;
    let rest = std::str::from_utf8(stat.get(close + 1..)?).ok()?;
    // After ")" come fields 3, 4, ...: field 22 is the 20th.
    rest.split_ascii_whitespace().nth(19)?.parse().ok()
}

/// This process: its pid and start time (cached; it cannot change).
pub fn current_process() -> (u32, u64) {
    static START: std::sync::OnceLock<u64> = std::sync::OnceLock::new();
    let pid = std::process::id();
    let start = *START.get_or_init(|| process_start_time(pid).unwrap_or(0));
    (pid, start)
}

fn now_unix() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

fn euid() -> u32 {
    crate::os::effective_uid()
}

impl SessionRecord {
    /// A record for a session this process has just started.
    pub fn new_owned(
        tpm: String,
        handle: Handle,
        session_type: SessionType,
        hash: HashAlg,
    ) -> SessionRecord {
        let (pid, pid_start) = current_process();
        SessionRecord {
            tpm,
            handle,
            session_type,
            hash,
            pid,
            pid_start,
            uid: euid(),
            created: now_unix(),
            file: None,
            desynchronized: None,
        }
    }

    /// Whether the owner process still runs: a process with that pid exists and started when
    /// the recorded one did. Without `/proc` this cannot be known and the owner is presumed
    /// alive, so that nothing is flushed on a guess.
    pub fn owner_alive(&self) -> bool {
        if std::fs::metadata("/proc/self/stat").is_err() {
            return true;
        }
        match std::fs::read(format!("/proc/{}/stat", self.pid)) {
            Ok(stat) => match parse_stat_start_time(&stat) {
                Some(start) => start == self.pid_start,
                None => true,
            },
            Err(e) if e.kind() == io::ErrorKind::NotFound => false,
            Err(_) => true,
        }
    }

    /// Whether the recorded session file exists, belongs to the record's user and holds this
    /// session (a session file whose saved session has this handle). A file that exists but
    /// cannot be read (permissions, I/O errors) is presumed to hold it, so a parked session is
    /// never mistaken for an orphan; a file of another user, or something that is not a
    /// session file, does not hold it.
    pub fn held_by_file(&self) -> bool {
        let Some(path) = &self.file else {
            return false;
        };
        match std::fs::metadata(path) {
            Ok(m) if !m.is_file() || m.uid() != self.uid => return false,
            Ok(_) => {}
            Err(e) if e.kind() == io::ErrorKind::NotFound => return false,
            Err(_) => return true,
        }
        match crate::files::read_session_file(path) {
            Ok(file) => {
                file.context.resource.handle().0 & SESSION_INDEX_MASK
                    == self.handle.0 & SESSION_INDEX_MASK
            }
            Err(crate::files::FileError::Io { error, .. })
                if matches!(
                    error.kind(),
                    io::ErrorKind::NotFound | io::ErrorKind::InvalidInput
                ) =>
            {
                false
            }
            Err(crate::files::FileError::Io { .. }) => true,
            // Replaced by something that is not a session file: it no longer holds it.
            Err(_) => false,
        }
    }

    /// Owner gone and no file holds the session: nobody can use it any more.
    pub fn is_orphan(&self) -> bool {
        !self.owner_alive() && !self.held_by_file()
    }

    /// Whether this record describes the session at `handle` (matching the low 24 bits).
    pub fn matches_handle(&self, handle: Handle) -> bool {
        self.handle.0 & SESSION_INDEX_MASK == handle.0 & SESSION_INDEX_MASK
    }

    /// The record's text form.
    pub fn to_text(&self) -> Result<String, RegistryError> {
        self.render(HEADER, &LONG_KEYS)
    }

    /// The compact text form: the same lines under [`COMPACT_HEADER`] with one-letter keys
    /// (see [`COMPACT_KEYS`]), so that a fresh record usually fits the 127 bytes a tmpfs
    /// symbolic link keeps inline (see [`Registry::record`]).
    fn to_compact_text(&self) -> Result<String, RegistryError> {
        self.render(COMPACT_HEADER, &COMPACT_KEYS)
    }

    fn render(&self, header: &str, keys: &[&str; 10]) -> Result<String, RegistryError> {
        use std::fmt::Write;
        let tpm = escape(self.tpm.as_bytes(), "tpm")?;
        let [k_tpm, k_handle, k_type, k_hash, k_pid, k_start, k_uid, k_created, k_file, k_desync] =
            keys;
        let mut out = String::with_capacity(256);
        // Writing to a String cannot fail.
        let _ = write!(
            out,
            "{header}\n{k_tpm}={tpm}\n{k_handle}=0x{:08x}\n{k_type}={}\n{k_hash}={}\n{k_pid}={}\n{k_start}={}\n{k_uid}={}\n{k_created}={}\n",
            self.handle.0,
            self.session_type.label(),
            self.hash.name(),
            self.pid,
            self.pid_start,
            self.uid,
            self.created
        );
        if let Some(file) = &self.file {
            let _ = writeln!(
                out,
                "{k_file}={}",
                escape(file.as_os_str().as_bytes(), "file")?
            );
        }
        if let Some(when) = self.desynchronized {
            let _ = writeln!(out, "{k_desync}={when}");
        }
        Ok(out)
    }

    /// Parses a record's text form strictly (see the module documentation).
    pub fn parse(bytes: &[u8]) -> Result<SessionRecord, RegistryError> {
        Self::parse_text(bytes).map_err(RegistryError::Malformed)
    }

    fn parse_text(bytes: &[u8]) -> Result<SessionRecord, String> {
        if bytes.len() > MAX_RECORD_SIZE {
            return Err(format!(
                "{} bytes, more than the {MAX_RECORD_SIZE} allowed",
                bytes.len()
            ));
        }
        let text = std::str::from_utf8(bytes).map_err(|_| "not UTF-8".to_string())?;
        let body = text
            .strip_suffix('\n')
            .ok_or("does not end with a newline")?;
        let mut lines = body.split('\n');
        let compact = match lines.next() {
            Some(HEADER) => false,
            Some(COMPACT_HEADER) => true,
            _ => return Err(format!("first line is not \"{HEADER}\"")),
        };
        let mut tpm = None;
        let mut handle = None;
        let mut session_type = None;
        let mut hash = None;
        let mut pid = None;
        let mut pid_start = None;
        let mut uid = None;
        let mut created = None;
        let mut file = None;
        let mut desynchronized = None;
        for (i, line) in lines.enumerate() {
            let line_no = i + 2;
            let (key, value) = line
                .split_once('=')
                .ok_or_else(|| format!("line {line_no}: expected key=value"))?;
            let raw_key = key;
            // The compact form's keys are the long ones, one letter each.
            let key = match compact {
                false => key,
                true => COMPACT_KEYS
                    .iter()
                    .position(|k| *k == key)
                    .map_or("", |i| LONG_KEYS[i]),
            };
            let bad = |what: &str| format!("line {line_no}: invalid {key} ({what})");
            let dup = || format!("line {line_no}: {key} given twice");
            fn set<T>(
                slot: &mut Option<T>,
                v: T,
                dup: impl FnOnce() -> String,
            ) -> Result<(), String> {
                if slot.is_some() {
                    return Err(dup());
                }
                *slot = Some(v);
                Ok(())
            }
            match key {
                "tpm" => {
                    let v = unescape(value).map_err(&bad)?;
                    let v = String::from_utf8(v).map_err(|_| bad("not UTF-8"))?;
                    if v.is_empty() {
                        return Err(bad("empty"));
                    }
                    set(&mut tpm, v, dup)?
                }
                "handle" => {
                    let h = value
                        .strip_prefix("0x")
                        .filter(|h| h.len() == 8)
                        .and_then(|h| u32::from_str_radix(h, 16).ok())
                        .ok_or_else(|| bad("expected 0x and 8 hex digits"))?;
                    if !Handle(h).is_session() {
                        return Err(bad("not a session handle"));
                    }
                    set(&mut handle, Handle(h), dup)?
                }
                "type" => set(
                    &mut session_type,
                    SessionType::from_label(value).ok_or_else(|| bad("hmac, policy or trial"))?,
                    dup,
                )?,
                "hash" => set(
                    &mut hash,
                    HashAlg::from_name(value)
                        .ok_or_else(|| bad("sha1, sha256, sha384 or sha512"))?,
                    dup,
                )?,
                "pid" => set(
                    &mut pid,
                    parse_decimal(value).ok_or_else(|| bad("number"))?,
                    dup,
                )?,
                "pid_start" => set(
                    &mut pid_start,
                    parse_decimal(value).ok_or_else(|| bad("number"))?,
                    dup,
                )?,
                "uid" => set(
                    &mut uid,
                    parse_decimal(value).ok_or_else(|| bad("number"))?,
                    dup,
                )?,
                "created" => set(
                    &mut created,
                    parse_decimal(value).ok_or_else(|| bad("number"))?,
                    dup,
                )?,
                "file" => {
                    let v = unescape(value).map_err(&bad)?;
                    if v.is_empty() || v.first() != Some(&b'/') {
                        return Err(bad("not an absolute path"));
                    }
                    set(&mut file, PathBuf::from(OsString::from_vec(v)), dup)?
                }
                "desynchronized" => set(
                    &mut desynchronized,
                    parse_decimal(value).ok_or_else(|| bad("number"))?,
                    dup,
                )?,
                _ => {
                    return Err(format!(
                        "line {line_no}: unknown key \"{}\"",
                        raw_key.escape_debug()
                    ))
                }
            }
        }
        let missing = |k: &str| format!("missing {k}");
        let pid: u64 = pid.ok_or_else(|| missing("pid"))?;
        let uid: u64 = uid.ok_or_else(|| missing("uid"))?;
        Ok(SessionRecord {
            tpm: tpm.ok_or_else(|| missing("tpm"))?,
            handle: handle.ok_or_else(|| missing("handle"))?,
            session_type: session_type.ok_or_else(|| missing("type"))?,
            hash: hash.ok_or_else(|| missing("hash"))?,
            pid: u32::try_from(pid).map_err(|_| "pid out of range".to_string())?,
            pid_start: pid_start.ok_or_else(|| missing("pid_start"))?,
            uid: u32::try_from(uid).map_err(|_| "uid out of range".to_string())?,
            created: created.ok_or_else(|| missing("created"))?,
            file,
            desynchronized,
        })
    }
}

/// Plain decimal: no sign, no leading zeros (except "0"), at most 20 digits.
fn parse_decimal(s: &str) -> Option<u64> {
    if s.is_empty() || s.len() > 20 || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    if s.len() > 1 && s.starts_with('0') {
        return None;
    }
    s.parse().ok()
}

fn escape(bytes: &[u8], what: &str) -> Result<String, RegistryError> {
    if bytes.len() > MAX_VALUE_LEN {
        return Err(RegistryError::Unrecordable(format!(
            "{what} is {} bytes, more than {MAX_VALUE_LEN}",
            bytes.len()
        )));
    }
    let mut out = String::with_capacity(bytes.len());
    for chunk in bytes.utf8_chunks() {
        for c in chunk.valid().chars() {
            match c {
                '\\' => out.push_str("\\\\"),
                c if c.is_control() => {
                    let mut buf = [0u8; 4];
                    for b in c.encode_utf8(&mut buf).bytes() {
                        out.push_str(&format!("\\x{b:02x}"));
                    }
                }
                c => out.push(c),
            }
        }
        for b in chunk.invalid() {
            out.push_str(&format!("\\x{b:02x}"));
        }
    }
    Ok(out)
}

fn unescape(s: &str) -> Result<Vec<u8>, &'static str> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        if b == b'\\' {
            match bytes.get(i + 1) {
                Some(b'\\') => {
                    out.push(b'\\');
                    i += 2;
                }
                Some(b'x') => {
                    let hex = bytes.get(i + 2..i + 4).ok_or("truncated \\x escape")?;
                    let hex = std::str::from_utf8(hex).map_err(|_| "bad \\x escape")?;
                    if !hex.bytes().all(|c| matches!(c, b'0'..=b'9' | b'a'..=b'f')) {
                        return Err("bad \\x escape (two lowercase hex digits)");
                    }
                    out.push(u8::from_str_radix(hex, 16).map_err(|_| "bad \\x escape")?);
                    i += 4;
                }
                _ => return Err("unknown escape"),
            }
        } else if b < 0x20 || b == 0x7f {
            return Err("unescaped control character");
        } else {
            out.push(b);
            i += 1;
        }
        if out.len() > MAX_VALUE_LEN {
            return Err("value too long");
        }
    }
    Ok(out)
}

/// An open registry directory.
#[derive(Clone, Debug)]
pub struct Registry {
    dir: PathBuf,
    /// The directory as checked at open (owner, mode, a real directory). Records are written
    /// and removed relative to it, so a directory swapped in at the same path afterwards is
    /// never written to, and each write resolves one name instead of the whole path.
    handle: Arc<OwnedFd>,
    /// Whether new records are symbolic links (on tmpfs, see [`Registry::record`]).
    links: bool,
}

/// What [`Registry::list`] found: the records, and the entries that could not be read (each
/// with why), so a bad entry is reported rather than silently skipped.
#[derive(Debug, Default)]
pub struct Listing {
    /// The records that could be read.
    pub records: Vec<SessionRecord>,
    /// Why each other entry could not be.
    pub invalid: Vec<RegistryError>,
}

/// The directory used when none is given: `$TPM2_WIRE_REGISTRY`, else
/// `$XDG_RUNTIME_DIR/tpm2-wire`, else `/tmp/tpm2-wire-<uid>`.
pub fn default_dir() -> PathBuf {
    if let Some(d) = std::env::var_os(REGISTRY_ENV_VAR).filter(|d| !d.is_empty()) {
        return PathBuf::from(d);
    }
    if let Some(d) = std::env::var_os("XDG_RUNTIME_DIR").filter(|d| !d.is_empty()) {
        return PathBuf::from(d).join("tpm2-wire");
    }
    PathBuf::from(format!("/tmp/tpm2-wire-{}", euid()))
}

impl Registry {
    /// Opens (creating if needed, mode 0700) the registry at `dir`, or at [`default_dir`].
    /// With `None` and `TPM2_WIRE_REGISTRY=off`, gives [`RegistryError::Disabled`].
    pub fn open(dir: Option<&Path>) -> Result<Registry, RegistryError> {
        if dir.is_none() && disabled_by_env() {
            return Err(RegistryError::Disabled);
        }
        let dir = dir.map_or_else(default_dir, Path::to_path_buf);
        let dir = std::path::absolute(&dir).map_err(|error| RegistryError::Io {
            path: dir.clone(),
            op: "resolve",
            error,
        })?;
        match std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(&dir)
        {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
            Err(error) => {
                return Err(RegistryError::Io {
                    path: dir,
                    op: "create directory",
                    error,
                })
            }
        }
        // Opened without following a symlink, then checked through the descriptor: what is
        // checked is what is written to.
        let handle = open_dir_nofollow(&dir).map_err(|error| match error.raw_os_error() {
            Some(libc::ELOOP) | Some(libc::ENOTDIR) => RegistryError::Insecure {
                path: dir.clone(),
                reason: "not a directory (symlinks are not followed)".into(),
            },
            _ => RegistryError::Io {
                path: dir.clone(),
                op: "open directory",
                error,
            },
        })?;
        let meta = std::fs::File::from(handle.try_clone().map_err(|error| RegistryError::Io {
            path: dir.clone(),
            op: "open directory",
            error,
        })?)
        .metadata()
        .map_err(|error| RegistryError::Io {
            path: dir.clone(),
            op: "stat",
            error,
        })?;
        let insecure = |reason: String| RegistryError::Insecure {
            path: dir.clone(),
            reason,
        };
        if !meta.file_type().is_dir() {
            return Err(insecure(
                "not a directory (symlinks are not followed)".into(),
            ));
        }
        if meta.uid() != euid() {
            return Err(insecure(format!(
                "owned by uid {}, not by this user ({})",
                meta.uid(),
                euid()
            )));
        }
        if meta.mode() & 0o022 != 0 {
            return Err(insecure(format!(
                "group or others may write to it (mode {:o})",
                meta.mode() & 0o7777
            )));
        }
        let links = is_tmpfs(&handle);
        Ok(Registry {
            dir,
            handle: Arc::new(handle),
            links,
        })
    }

    /// The registry directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The entry for a session: a digest of the TPM string (so any TCTI string makes a safe
    /// file name) and the handle's low 24 bits.
    fn entry_path(&self, tpm: &str, handle: Handle) -> PathBuf {
        let name = entry_name(tpm, handle);
        self.dir
            .join(std::str::from_utf8(&name).unwrap_or_default())
    }

    /// Writes (or replaces) the record of a session.
    ///
    /// Not through [`crate::files::write_atomic`]: that one writes to paths a user chose,
    /// anywhere, and so must follow or refuse symlinks, write FIFOs and devices in place and
    /// use unpredictable temporary names against other users. The registry is a directory
    /// only this user can write to, opened once without following symlinks and checked
    /// (owner, mode) through the descriptor kept in `handle`. Within it, the same guarantees
    /// hold with a third of the system calls: the record goes to a new temporary file
    /// (O_CREAT|O_EXCL|O_NOFOLLOW, mode 0600 and never more, whatever the umask) and is
    /// renamed over the entry, so readers see the old record or the new one, never a torn
    /// one; an entry that is a symlink is replaced, never followed. The temporary name (pid
    /// and a counter) only has to be unique among this user's processes; a stale one left by
    /// a crashed process is skipped by O_EXCL. No fsync: the records describe TPM sessions,
    /// which do not survive a reboot either.
    ///
    /// On tmpfs (where `$XDG_RUNTIME_DIR` lives), a record for an entry that does not exist
    /// yet (a session just started) is instead one `symlinkat` whose target is the record's
    /// compact text: the link appears whole or not at all, and readers `readlink` it, never
    /// follow it. One system call where the file takes four, and a target under 128 bytes is
    /// kept in the inode: about a third of the CPU time of create, write, close and rename.
    /// An entry that exists already (a record being changed, or a stale one of a session the
    /// TPM has since dropped) makes the link fail with EEXIST, and the record goes the file
    /// way, renamed over it, as does one too long for a link target. On disk file systems a
    /// link that long costs a block and a journal entry (more than the file), so records
    /// there are always files.
    pub fn record(&self, record: &SessionRecord) -> Result<(), RegistryError> {
        let name = entry_name(&record.tpm, record.handle);
        let linked = match self.links {
            true => self.link_entry(&name, record.to_compact_text()?.as_bytes()),
            false => Err(io::Error::from_raw_os_error(libc::EEXIST)),
        };
        let written = match linked {
            Ok(()) => Ok(()),
            Err(e) if matches!(e.raw_os_error(), Some(libc::EEXIST | libc::ENAMETOOLONG)) => {
                self.write_entry(&name, record.to_text()?.as_bytes())
            }
            Err(e) => Err(("create", e)),
        };
        written.map_err(|(op, error)| RegistryError::Io {
            path: self.entry_path(&record.tpm, record.handle),
            op,
            error,
        })
    }

    /// The record as a new symbolic link (see [`Registry::record`]).
    fn link_entry(&self, name: &[u8; ENTRY_NAME_LEN], text: &[u8]) -> io::Result<()> {
        let mut target = [0u8; LINK_TARGET_MAX + 1];
        // Record text never holds a NUL (control characters are escaped), but a target
        // cut short by one would be a different record: refuse rather than truncate.
        if text.len() > LINK_TARGET_MAX || text.contains(&0) {
            return Err(io::Error::from_raw_os_error(libc::ENAMETOOLONG));
        }
        target[..text.len()].copy_from_slice(text);
        let entry = c_name(name);
        let target = CStr::from_bytes_until_nul(&target)
            .map_err(|_| io::Error::from_raw_os_error(libc::ENAMETOOLONG))?;
        crate::os::symlink_in(self.handle.as_fd(), target, c_str(&entry))
    }

    fn write_entry(
        &self,
        name: &[u8; ENTRY_NAME_LEN],
        bytes: &[u8],
    ) -> Result<(), (&'static str, io::Error)> {
        static COUNTER: AtomicU64 = AtomicU64::new(0);
        let dir = self.handle.as_fd();
        let entry = c_name(name);
        let mut last = io::Error::from_raw_os_error(libc::EEXIST);
        for _ in 0..TEMP_ATTEMPTS {
            let tmp = temp_name(name, COUNTER.fetch_add(1, Ordering::Relaxed));
            let file = match crate::os::create_new_in(dir, c_str(&tmp)) {
                Ok(fd) => std::fs::File::from(fd),
                Err(e) if e.raw_os_error() == Some(libc::EEXIST) => {
                    last = e;
                    continue;
                }
                Err(e) => return Err(("create temporary file", e)),
            };
            let written = io::Write::write_all(&mut &file, bytes).map_err(|e| ("write", e));
            drop(file);
            let renamed = written.and_then(|()| {
                crate::os::rename_in(dir, c_str(&tmp), c_str(&entry)).map_err(|e| ("rename", e))
            });
            if renamed.is_err() {
                // Best effort: the first error is the one to report.
                let _ = crate::os::unlink_in(dir, c_str(&tmp));
            }
            return renamed;
        }
        Err(("create temporary file", last))
    }

    /// The record of the session at `handle` on `tpm`, if there is one.
    pub fn get(&self, tpm: &str, handle: Handle) -> Result<Option<SessionRecord>, RegistryError> {
        let path = self.entry_path(tpm, handle);
        match read_record(&path) {
            Ok(r) if r.tpm == tpm && r.matches_handle(handle) => Ok(Some(r)),
            Ok(_) => Err(RegistryError::BadRecord {
                path,
                reason: "names another TPM or handle than its file name".into(),
            }),
            Err(RegistryError::Io { error, .. }) if error.kind() == io::ErrorKind::NotFound => {
                Ok(None)
            }
            Err(e) => Err(e),
        }
    }

    /// Changes the record of a session, if there is one; returns whether there was.
    pub fn update(
        &self,
        tpm: &str,
        handle: Handle,
        change: impl FnOnce(&mut SessionRecord),
    ) -> Result<bool, RegistryError> {
        let Some(mut record) = self.get(tpm, handle)? else {
            return Ok(false);
        };
        let before = record.clone();
        change(&mut record);
        // Sessions parked and reloaded in memory over and over change nothing: no write.
        if record != before {
            self.record(&record)?;
        }
        Ok(true)
    }

    /// Records that `file` now holds the session (this process saved it there).
    pub fn set_file(&self, tpm: &str, handle: Handle, file: &Path) -> Result<bool, RegistryError> {
        let file = std::path::absolute(file).map_err(|error| RegistryError::Io {
            path: file.to_path_buf(),
            op: "resolve",
            error,
        })?;
        let (pid, pid_start) = current_process();
        self.update(tpm, handle, |r| {
            r.file = Some(file);
            r.pid = pid;
            r.pid_start = pid_start;
        })
    }

    /// Records that the session became desynchronized now: it cannot be used any more, and no
    /// file holds it as usable.
    pub fn mark_desynchronized(&self, tpm: &str, handle: Handle) -> Result<bool, RegistryError> {
        let now = now_unix();
        self.update(tpm, handle, |r| {
            r.desynchronized.get_or_insert(now);
            r.file = None;
        })
    }

    /// Records that this process holds the session loaded (no file holds it any more: a
    /// loaded session's saved context is spent).
    pub fn take_ownership(&self, tpm: &str, handle: Handle) -> Result<bool, RegistryError> {
        let (pid, pid_start) = current_process();
        self.update(tpm, handle, |r| {
            r.file = None;
            r.pid = pid;
            r.pid_start = pid_start;
            r.handle = handle;
        })
    }

    /// Removes the record of a session; returns whether there was one.
    pub fn remove(&self, tpm: &str, handle: Handle) -> Result<bool, RegistryError> {
        let entry = c_name(&entry_name(tpm, handle));
        let Err(e) = crate::os::unlink_in(self.handle.as_fd(), c_str(&entry)) else {
            return Ok(true);
        };
        match e {
            e if e.kind() == io::ErrorKind::NotFound => Ok(false),
            error => Err(RegistryError::Io {
                path: self.entry_path(tpm, handle),
                op: "remove",
                error,
            }),
        }
    }

    /// Every record in the registry (all TPMs), at most [`MAX_RECORDS`].
    pub fn list(&self) -> Result<Listing, RegistryError> {
        let rd = std::fs::read_dir(&self.dir).map_err(|error| RegistryError::Io {
            path: self.dir.clone(),
            op: "list",
            error,
        })?;
        let mut listing = Listing::default();
        for entry in rd {
            let entry = entry.map_err(|error| RegistryError::Io {
                path: self.dir.clone(),
                op: "list",
                error,
            })?;
            let name = entry.file_name();
            let name = name.as_bytes();
            // Hidden names are write_atomic's temporary files.
            if name.starts_with(b".") || !name.ends_with(SUFFIX.as_bytes()) {
                continue;
            }
            if listing.records.len() + listing.invalid.len() >= MAX_RECORDS {
                listing.invalid.push(RegistryError::BadRecord {
                    path: self.dir.clone(),
                    reason: format!("more than {MAX_RECORDS} entries; the rest were not read"),
                });
                break;
            }
            let path = entry.path();
            match read_record(&path) {
                Ok(r) if self.entry_path(&r.tpm, r.handle) == path => listing.records.push(r),
                Ok(_) => listing.invalid.push(RegistryError::BadRecord {
                    path,
                    reason: "names another TPM or handle than its file name".into(),
                }),
                // Removed between listing and reading: flushed meanwhile.
                Err(RegistryError::Io { error, .. }) if error.kind() == io::ErrorKind::NotFound => {
                }
                Err(e) => listing.invalid.push(e),
            }
        }
        listing
            .records
            .sort_by_key(|r| (r.tpm.clone(), r.handle.0 & SESSION_INDEX_MASK));
        Ok(listing)
    }

    /// The records of sessions on `tpm`.
    pub fn list_for(&self, tpm: &str) -> Result<Listing, RegistryError> {
        let mut l = self.list()?;
        l.records.retain(|r| r.tpm == tpm);
        Ok(l)
    }
}

/// Longest record written as a link target (PATH_MAX less its NUL); longer ones are files.
const LINK_TARGET_MAX: usize = 4095;
/// Length of an entry name: 16 hex digits of the TPM digest, `-`, 6 hex digits, `.session`.
const ENTRY_NAME_LEN: usize = 16 + 1 + 6 + SUFFIX.len();
/// Fresh temporary names tried before giving up (each collision is a stale file of a
/// crashed process of this user with the same pid).
const TEMP_ATTEMPTS: usize = 16;

/// The entry name of a session, built without allocating.
fn entry_name(tpm: &str, handle: Handle) -> [u8; ENTRY_NAME_LEN] {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let d = crypto::hash(HashAlg::Sha256, &[tpm.as_bytes()]);
    let mut name = [0u8; ENTRY_NAME_LEN];
    for (i, b) in d.as_bytes().iter().take(8).enumerate() {
        name[2 * i] = HEX[usize::from(b >> 4)];
        name[2 * i + 1] = HEX[usize::from(b & 15)];
    }
    name[16] = b'-';
    let index = handle.0 & SESSION_INDEX_MASK;
    for i in 0..6 {
        name[17 + i] = HEX[((index >> (20 - 4 * i)) & 15) as usize];
    }
    name[23..].copy_from_slice(SUFFIX.as_bytes());
    name
}

/// `name` with a terminating NUL, for the `*at` system calls.
fn c_name(name: &[u8; ENTRY_NAME_LEN]) -> [u8; ENTRY_NAME_LEN + 1] {
    let mut out = [0u8; ENTRY_NAME_LEN + 1];
    out[..ENTRY_NAME_LEN].copy_from_slice(name);
    out
}

/// A NUL-terminated name buffer as a C string (the buffers above always hold a NUL; an empty
/// name, which every call refuses, stands in otherwise).
fn c_str(buf: &[u8]) -> &CStr {
    CStr::from_bytes_until_nul(buf).unwrap_or(c"")
}

/// `.<entry>.<pid>-<n>.tmp`, NUL-terminated: hidden (so `list` skips it) and unique among the
/// processes of this user that are alive.
fn temp_name(entry: &[u8; ENTRY_NAME_LEN], n: u64) -> [u8; 1 + ENTRY_NAME_LEN + 42] {
    use std::io::Write;
    let mut out = [0u8; 1 + ENTRY_NAME_LEN + 42];
    out[0] = b'.';
    out[1..=ENTRY_NAME_LEN].copy_from_slice(entry);
    let mut tail = &mut out[1 + ENTRY_NAME_LEN..];
    // At most 1 + 10 + 1 + 20 + 4 = 36 bytes: fits, and the rest stays NUL.
    let _ = write!(tail, ".{}-{n}.tmp", std::process::id());
    out
}

/// Whether the directory is on tmpfs.
fn is_tmpfs(dir: &OwnedFd) -> bool {
    // The constant's type differs between architectures.
    #[allow(clippy::unnecessary_cast)]
    crate::os::filesystem_type_of(dir.as_fd()).is_ok_and(|t| t == libc::TMPFS_MAGIC as i64)
}

/// Opens a directory for `*at` calls, refusing a symlink in the last component.
fn open_dir_nofollow(dir: &Path) -> io::Result<OwnedFd> {
    use std::os::unix::fs::OpenOptionsExt;
    let f = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_DIRECTORY | libc::O_NOFOLLOW | libc::O_CLOEXEC)
        .open(dir)?;
    Ok(OwnedFd::from(f))
}

fn read_record(path: &Path) -> Result<SessionRecord, RegistryError> {
    use std::io::Read;
    let io_err = |op, error| RegistryError::Io {
        path: path.to_path_buf(),
        op,
        error,
    };
    let opened = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags_nofollow()
        .open(path);
    let buf = match opened {
        Ok(file) => {
            let mut buf = Vec::new();
            file.take(MAX_RECORD_SIZE as u64 + 1)
                .read_to_end(&mut buf)
                .map_err(|e| io_err("read", e))?;
            buf
        }
        // A record written as a link: its target is the text (read, never followed; the
        // kernel bounds it by PATH_MAX).
        Err(e) if e.raw_os_error() == Some(libc::ELOOP) => std::fs::read_link(path)
            .map_err(|e| io_err("read link", e))?
            .into_os_string()
            .into_vec(),
        Err(e) => return Err(io_err("open", e)),
    };
    SessionRecord::parse_text(&buf).map_err(|reason| RegistryError::BadRecord {
        path: path.to_path_buf(),
        reason,
    })
}

trait NoFollow {
    fn custom_flags_nofollow(&mut self) -> &mut Self;
}

impl NoFollow for std::fs::OpenOptions {
    fn custom_flags_nofollow(&mut self) -> &mut Self {
        use std::os::unix::fs::OpenOptionsExt;
        // A record is never a symlink; following one could read any file of the user's.
        self.custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC | libc::O_NONBLOCK)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> SessionRecord {
        SessionRecord {
            tpm: "swtpm:host=127.0.0.1,port=2321".into(),
            handle: Handle(0x0300_0001),
            session_type: SessionType::POLICY,
            hash: HashAlg::Sha256,
            pid: 42,
            pid_start: 12345,
            uid: 1000,
            created: 1_700_000_000,
            file: Some(PathBuf::from("/home/u/a\\b\nc\u{7f}.ctx")),
            desynchronized: Some(1_700_000_100),
        }
    }

    #[test]
    fn record_round_trips() {
        let r = sample();
        let text = r.to_text().unwrap();
        assert!(
            text.contains("file=/home/u/a\\\\b\\x0ac\\x7f.ctx\n"),
            "{text}"
        );
        assert_eq!(SessionRecord::parse(text.as_bytes()).unwrap(), r);
        let mut r2 = r.clone();
        r2.file = Some(PathBuf::from(OsString::from_vec(b"/x/\xff\xfe".to_vec())));
        let t2 = r2.to_text().unwrap();
        assert!(t2.contains("file=/x/\\xff\\xfe\n"));
        assert_eq!(SessionRecord::parse(t2.as_bytes()).unwrap(), r2);
    }

    #[test]
    fn strict_parsing() {
        let good = sample().to_text().unwrap();
        let cases: Vec<String> = vec![
            good.replace("tpm2-wire-session 1", "tpm2-wire-session 2"),
            good.replace("pid=42\n", "pid=42\npid=42\n"),
            good.replace("pid=42\n", ""),
            good.replace("pid=42\n", "pid=042\n"),
            good.replace("pid=42\n", "pid=+42\n"),
            good.replace("pid=42\n", "pid=99999999999\n"),
            good.replace("handle=0x03000001", "handle=0x81000001"),
            good.replace("handle=0x03000001", "handle=3000001"),
            good.replace("type=policy", "type=Policy"),
            good.replace("hash=sha256", "hash=sm3"),
            good.replace("file=/home", "file=home"),
            good.replace("\\x0a", "\\x0A"),
            good.replace("\\x0a", "\\n"),
            format!("{good}extra=1\n"),
            good.trim_end().to_string(),
            good.replace("uid=1000\n", "uid 1000\n"),
            format!("{good}{}", "x".repeat(MAX_RECORD_SIZE)),
        ];
        for c in cases {
            assert!(SessionRecord::parse(c.as_bytes()).is_err(), "{c:?}");
        }
    }

    #[test]
    fn compact_form_round_trips_and_is_as_strict() {
        let r = sample();
        let text = r.to_compact_text().unwrap();
        assert!(text.starts_with("tws1\nt=swtpm:"), "{text}");
        assert_eq!(SessionRecord::parse(text.as_bytes()).unwrap(), r);
        let mut fresh = r.clone();
        fresh.file = None;
        fresh.desynchronized = None;
        let short = fresh.to_compact_text().unwrap();
        assert!(short.len() < 128, "{} bytes: {short}", short.len());
        assert_eq!(SessionRecord::parse(short.as_bytes()).unwrap(), fresh);
        let cases: Vec<String> = vec![
            // Long keys under the compact header, and the other way round.
            short.replace("\nt=", "\ntpm="),
            r.to_text().unwrap().replace("tpm2-wire-session 1", "tws1"),
            fresh.to_text().unwrap().replace("\ntpm=", "\nt="),
            short.replace("\np=", "\nx="),
            short.replace("\nh=", "\nh=0x81000001\nh="),
            short.replace("\nu=1000\n", "\n"),
            short.replace("tws1", "tws2"),
        ];
        for c in cases {
            assert!(SessionRecord::parse(c.as_bytes()).is_err(), "{c:?}");
        }
    }

    #[test]
    fn stat_field_22() {
        let line = b"1234 (a) b) (c) S 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 777 20\n";
        assert_eq!(parse_stat_start_time(line), Some(777));
        assert_eq!(parse_stat_start_time(b"1234 (x) S 1"), None);
        let (pid, start) = current_process();
        assert_eq!(process_start_time(pid), Some(start));
    }

    #[test]
    fn registry_directory_rules() {
        use std::os::unix::fs::PermissionsExt;
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("reg");
        let reg = Registry::open(Some(&dir)).unwrap();
        let mode = std::fs::metadata(&dir).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o700);
        let mut r = sample();
        r.file = None;
        reg.record(&r).unwrap();
        let listing = reg.list().unwrap();
        assert_eq!(listing.records, vec![r.clone()]);
        // The TPM reports a saved policy session with the HMAC prefix: same entry.
        assert!(reg.get(&r.tpm, Handle(0x0200_0001)).unwrap().is_some());
        assert!(reg.set_file(&r.tpm, r.handle, Path::new("/x/y")).unwrap());
        assert_eq!(
            reg.get(&r.tpm, r.handle).unwrap().unwrap().file,
            Some(PathBuf::from("/x/y"))
        );
        assert!(reg.remove(&r.tpm, r.handle).unwrap());
        assert!(!reg.remove(&r.tpm, r.handle).unwrap());
        assert!(reg.list().unwrap().records.is_empty());

        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o770)).unwrap();
        assert!(matches!(
            Registry::open(Some(&dir)),
            Err(RegistryError::Insecure { .. })
        ));
        let link = tmp.path().join("link");
        std::os::unix::fs::symlink(&dir, &link).unwrap();
        assert!(matches!(
            Registry::open(Some(&link)),
            Err(RegistryError::Insecure { .. })
        ));
    }

    #[test]
    fn orphan_rules() {
        let mut r = sample();
        r.file = None;
        let (pid, start) = current_process();
        r.pid = pid;
        r.pid_start = start;
        assert!(r.owner_alive());
        assert!(!r.is_orphan());
        // Same pid, different start time: a recycled pid, not the owner.
        r.pid_start = start + 1;
        assert!(!r.owner_alive());
        assert!(r.is_orphan());
        r.file = Some(PathBuf::from("/nonexistent/session.ctx"));
        assert!(!r.held_by_file());
        assert!(r.is_orphan());
    }
}
