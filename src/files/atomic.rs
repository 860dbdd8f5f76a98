//! Writing output files. A regular file (or a new one) is replaced atomically: a reader sees
//! the old file or the new one, never a torn mix, and a failed write leaves the old file as it
//! was. Anything else is never replaced by a regular file: a FIFO or character device (a
//! terminal, `/dev/null`) is written in place, as tpm2-tools does; a symlink is resolved and
//! its target follows the same rules (so `-o /dev/stdout` writes to whatever standard output
//! is); directories, sockets and block devices are refused.

use std::collections::VecDeque;
use std::ffi::OsString;
use std::fs::{File, Metadata, OpenOptions};
use std::io::{ErrorKind, Write};
use std::os::fd::AsFd;
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::os::unix::fs::{FileTypeExt, MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use rand_core::{OsRng, RngCore};

use super::bounded::{input_timeout, kind_name};
use super::FileError;

/// Fresh temporary names tried before giving up: each is 64 random bits, so a collision with a
/// name someone planted means they can read our random numbers.
const TEMP_ATTEMPTS: usize = 16;
/// Bytes of the target's name kept in the temporary name, so that a long (but valid) name
/// cannot push the temporary one past NAME_MAX (255).
const TEMP_NAME_KEEP: usize = 200;
/// Symlinks followed before giving up, as the kernel's limit.
const MAX_SYMLINKS: usize = 40;
/// How often opening a FIFO is retried while it has no reader.
const FIFO_RETRY: Duration = Duration::from_millis(20);

/// Writes `bytes` to `path`. A new or regular file is replaced atomically: the bytes go to a
/// new file next to it (an unpredictable hidden name, created exclusively, mode 0600 whatever
/// the umask), which is fsynced and renamed over `path`, and the directory is fsynced; on any
/// failure before the rename the temporary file is removed and `path` is untouched. A name
/// that was free is taken only if it still is at the rename: whatever appeared there meanwhile
/// (a FIFO, a link) is not replaced, and the write starts over with it. A FIFO or
/// character device is written in place (no temporary file, nothing truncated), within
/// [`input_timeout`](super::input_timeout) (which includes waiting for a FIFO's reader); a
/// write that stops part-way says how much was written. A symlink is followed to its target,
/// which follows the same rules. Every link met on the way (the last component or a directory,
/// dangling or not) that sits in a sticky world-writable directory such as /tmp is followed
/// only if it belongs to us or to the directory's owner, the kernel's `protected_symlinks`
/// rule, applied whether or not that setting is on. Directories, sockets and block devices are
/// refused.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), FileError> {
    write_output(path, bytes, true)
}

/// [`write_atomic`] without the fsyncs: atomic for other processes, but not durable across a
/// power loss. For state that dies with the machine anyway, such as the session registry (TPM
/// sessions do not survive a reboot), where the two fsyncs would cost far more than the
/// session start they record.
pub fn write_atomic_volatile(path: &Path, bytes: &[u8]) -> Result<(), FileError> {
    write_output(path, bytes, false)
}

fn io_error(path: &Path, op: &'static str, error: std::io::Error) -> FileError {
    FileError::Io {
        path: path.to_path_buf(),
        op,
        error,
    }
}

fn refuse(path: &Path, meta: &Metadata) -> FileError {
    FileError::WrongFileType {
        kind: kind_name(meta.file_type()),
        op: "written",
        expected: "a regular file (replaced), a FIFO or a character device (written in place)",
    }
    .in_file(path)
}

fn is_stream(meta: &Metadata) -> bool {
    let ft = meta.file_type();
    ft.is_fifo() || ft.is_char_device()
}

/// Times the write starts over when a name that was free when the path was resolved is taken
/// before the new file is renamed to it.
const RACE_ATTEMPTS: usize = 8;

fn write_output(path: &Path, bytes: &[u8], durable: bool) -> Result<(), FileError> {
    for _ in 0..RACE_ATTEMPTS {
        let outcome = match resolve(path)? {
            Resolved::Plain(end, None) => replace(&end, bytes, durable, Target::New)?,
            Resolved::Plain(end, Some(m)) if m.is_file() => {
                replace(&end, bytes, durable, Target::Existing)?
            }
            Resolved::Plain(end, Some(m)) if is_stream(&m) => {
                write_in_place(&end, bytes, &m, libc::O_NOFOLLOW)?;
                Replaced::Done
            }
            Resolved::Plain(_, Some(m)) => return Err(refuse(path, &m)),
            Resolved::Kernel(through) => write_through_proc(path, &through, bytes, durable)?,
        };
        if let Replaced::Done = outcome {
            return Ok(());
        }
    }
    Err(io_error(
        path,
        "write",
        std::io::Error::new(
            ErrorKind::AlreadyExists,
            "the name kept being taken by something else while the new file was written",
        ),
    ))
}

/// Where an output path leads.
enum Resolved {
    /// A path with no symlink in it (when it was walked), and what is there (`None`: nothing,
    /// so the write creates it).
    Plain(PathBuf, Option<Metadata>),
    /// A path through a link in /proc (`/dev/stdout` leads to `/proc/self/fd/1`): such links
    /// stand for open files, which may have no name at all (a pipe), so only the kernel can
    /// follow them.
    Kernel(PathBuf),
}

/// Resolves `path` one component at a time, as the kernel would, but applying the rule for
/// links in sticky world-writable directories ([`may_follow`]) to every link met on the way,
/// wherever it is in the path and whether or not its target exists: the kernel applies it only
/// when `fs.protected_symlinks` is on, and without it another user's link in /tmp would
/// redirect the write onto any file we can write.
fn resolve(path: &Path) -> Result<Resolved, FileError> {
    if path.as_os_str().is_empty() {
        return Err(io_error(path, "stat", ErrorKind::NotFound.into()));
    }
    let mut at = PathBuf::new();
    let mut pending = VecDeque::new();
    splice(&mut at, &mut pending, path.as_os_str().as_bytes());
    let mut links = 0;
    while let Some(name) = pending.pop_front() {
        match name.as_bytes() {
            // `at` is a directory already.
            b"." => continue,
            // `at` has no symlink in it, so its parent is the lexical one.
            b".." => {
                if at.file_name().is_some() {
                    at.pop();
                } else if !at.has_root() {
                    at.push("..");
                }
                continue;
            }
            _ => {}
        }
        let next = at.join(&name);
        let last = pending.is_empty();
        let meta = match std::fs::symlink_metadata(&next) {
            Err(e) if e.kind() == ErrorKind::NotFound && last => {
                return Ok(Resolved::Plain(next, None))
            }
            Err(e) => return Err(io_error(path, "stat", e)),
            Ok(m) => m,
        };
        if meta.file_type().is_symlink() {
            links += 1;
            if links > MAX_SYMLINKS {
                return Err(io_error(
                    path,
                    "resolve symlink",
                    std::io::Error::from_raw_os_error(libc::ELOOP),
                ));
            }
            let dir = dir_of(&at);
            may_follow(path, &next, &meta, dir)?;
            if on_procfs(path, dir)? {
                let mut through = next;
                through.extend(pending);
                return Ok(Resolved::Kernel(through));
            }
            let target =
                std::fs::read_link(&next).map_err(|e| io_error(path, "read symlink", e))?;
            splice(&mut at, &mut pending, target.as_os_str().as_bytes());
            continue;
        }
        if last {
            return Ok(Resolved::Plain(next, Some(meta)));
        }
        if !meta.is_dir() {
            return Err(io_error(
                path,
                "stat",
                std::io::Error::from_raw_os_error(libc::ENOTDIR),
            ));
        }
        at = next;
    }
    // The path ended in `.` or `..`: a directory.
    let end = dir_of(&at).to_path_buf();
    let meta = std::fs::symlink_metadata(&end).map_err(|e| io_error(path, "stat", e))?;
    Ok(Resolved::Plain(end, Some(meta)))
}

/// Puts the components of `text` (a path, or a symlink's target) in front of those still to
/// be resolved; an absolute one restarts from the root.
fn splice(at: &mut PathBuf, pending: &mut VecDeque<OsString>, text: &[u8]) {
    if text.starts_with(b"/") {
        *at = PathBuf::from("/");
    }
    // A trailing slash means the name must be a directory: `.` after it asks for that.
    if text.len() > 1 && text.ends_with(b"/") {
        pending.push_front(OsString::from("."));
    }
    for part in text.split(|&b| b == b'/').filter(|p| !p.is_empty()).rev() {
        pending.push_front(OsString::from_vec(part.to_vec()));
    }
}

/// The directory a resolved prefix names (`.` for the empty one).
fn dir_of(at: &Path) -> &Path {
    if at.as_os_str().is_empty() {
        Path::new(".")
    } else {
        at
    }
}

/// Whether `dir` is in /proc (`path` is the output path, for errors).
fn on_procfs(path: &Path, dir: &Path) -> Result<bool, FileError> {
    let c = std::ffi::CString::new(dir.as_os_str().as_bytes()).map_err(|_| {
        io_error(
            path,
            "statfs",
            std::io::Error::new(ErrorKind::InvalidInput, "path contains a NUL byte"),
        )
    })?;
    let fs_type = crate::os::filesystem_type(&c).map_err(|e| io_error(path, "statfs", e))?;
    // The constant's type differs between architectures.
    #[allow(clippy::unnecessary_cast)]
    let proc = fs_type == libc::PROC_SUPER_MAGIC as i64;
    Ok(proc)
}

/// `through` passes a link in /proc. The kernel resolves it (O_PATH: nothing is opened, so no
/// device reacts and no FIFO waits), including links such as `/proc/self/fd/1` whose targets
/// may be pipes with no path at all; what it resolved to decides the rest.
fn write_through_proc(
    path: &Path,
    through: &Path,
    bytes: &[u8],
    durable: bool,
) -> Result<Replaced, FileError> {
    let target = OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_PATH | libc::O_CLOEXEC)
        .open(through)
        .map_err(|e| io_error(path, "resolve symlink", e))?;
    let meta = target
        .metadata()
        .map_err(|e| io_error(path, "stat symlink target", e))?;
    if is_stream(&meta) {
        write_in_place(through, bytes, &meta, 0)?;
        return Ok(Replaced::Done);
    }
    if !meta.is_file() {
        return Err(refuse(path, &meta));
    }
    // Replace the file by its own name, after checking that the name still leads to the file
    // the kernel resolved (a deleted file, or one renamed meanwhile, has no usable name).
    let real = std::fs::canonicalize(through).map_err(|e| io_error(path, "resolve symlink", e))?;
    let same = std::fs::symlink_metadata(&real)
        .is_ok_and(|m| m.is_file() && m.dev() == meta.dev() && m.ino() == meta.ino());
    if !same {
        return Err(io_error(
            path,
            "resolve symlink",
            std::io::Error::new(
                ErrorKind::NotFound,
                format!(
                    "the link's target is no longer at {} (deleted or moved)",
                    real.display()
                ),
            ),
        ));
    }
    replace(&real, bytes, durable, Target::Existing)
}

/// The kernel's rule for links in sticky world-writable directories: follow only our own
/// links or the directory owner's, so another user cannot plant a link in /tmp that redirects
/// our write. `link` is in `dir`, on the way to the output `path`.
fn may_follow(path: &Path, link: &Path, link_meta: &Metadata, dir: &Path) -> Result<(), FileError> {
    let dir_meta = std::fs::metadata(dir).map_err(|e| io_error(path, "stat", e))?;
    let shared = dir_meta.mode() & (libc::S_ISVTX | libc::S_IWOTH) == libc::S_ISVTX | libc::S_IWOTH;
    let me = crate::os::effective_uid();
    if shared && link_meta.uid() != me && link_meta.uid() != dir_meta.uid() {
        return Err(io_error(
            path,
            "resolve symlink",
            std::io::Error::new(
                ErrorKind::PermissionDenied,
                format!(
                    "{} is a symlink owned by another user in a shared sticky directory, \
                     not followed",
                    link.display()
                ),
            ),
        ));
    }
    Ok(())
}

/// Writes into an existing FIFO or character device without truncating or replacing it.
/// `meta` is what the path was found to be; the opened file must be the same object.
fn write_in_place(
    path: &Path,
    bytes: &[u8],
    meta: &Metadata,
    extra_flags: libc::c_int,
) -> Result<(), FileError> {
    let timeout = input_timeout();
    let deadline = Instant::now() + timeout;
    let fifo = meta.file_type().is_fifo();
    // O_NONBLOCK: opening a FIFO without a reader fails (ENXIO) instead of waiting for ever,
    // and it is retried here until the deadline. O_NOCTTY: a terminal must not become our
    // controlling terminal.
    let file = loop {
        let opened = OpenOptions::new()
            .write(true)
            .custom_flags(libc::O_NONBLOCK | libc::O_NOCTTY | libc::O_CLOEXEC | extra_flags)
            .open(path);
        match opened {
            Ok(f) => break f,
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(e) if fifo && e.raw_os_error() == Some(libc::ENXIO) => {
                if Instant::now() >= deadline {
                    return Err(FileError::Timeout {
                        waited: timeout,
                        during: "waiting for a reader to open the FIFO",
                    }
                    .in_file(path));
                }
                std::thread::sleep(FIFO_RETRY);
            }
            Err(e) => return Err(io_error(path, "open", e)),
        }
    };
    let opened = file.metadata().map_err(|e| io_error(path, "stat", e))?;
    if !is_stream(&opened) || opened.dev() != meta.dev() || opened.ino() != meta.ino() {
        return Err(io_error(
            path,
            "open",
            std::io::Error::other("replaced by another file while opening"),
        ));
    }
    let mut written = 0;
    let partial = |written, error| {
        FileError::PartialWrite {
            written,
            total: bytes.len(),
            error,
        }
        .in_file(path)
    };
    while written < bytes.len() {
        match (&file).write(&bytes[written..]) {
            Ok(0) => return Err(partial(written, ErrorKind::WriteZero.into())),
            Ok(n) => written += n,
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(e) if e.kind() == ErrorKind::WouldBlock => {
                match crate::os::wait(file.as_fd(), libc::POLLOUT, deadline) {
                    Ok(true) => {}
                    Ok(false) => {
                        let e = std::io::Error::new(
                            ErrorKind::TimedOut,
                            format!("timed out after {timeout:?} waiting for the reader"),
                        );
                        return Err(partial(written, e));
                    }
                    Err(e) => return Err(partial(written, e)),
                }
            }
            // EPIPE (the reader went away), ENOSPC (/dev/full), EIO, ...
            Err(e) => return Err(partial(written, e)),
        }
    }
    Ok(())
}

/// A hidden name next to `path` with 64 random bits in it: nobody can predict it, so nobody
/// can block the write (or catch it) by creating that name first.
fn temp_path(path: &Path) -> Option<PathBuf> {
    let name = path.file_name()?.as_bytes();
    let mut tmp = b".".to_vec();
    tmp.extend_from_slice(&name[..name.len().min(TEMP_NAME_KEEP)]);
    tmp.extend_from_slice(format!(".{:016x}.tmp", OsRng.next_u64()).as_bytes());
    Some(path.with_file_name(OsString::from_vec(tmp)))
}

/// Creates a fresh temporary file for `path`, retrying on the (astronomically unlikely, or
/// planted) name collision.
fn create_temp(path: &Path) -> Result<(PathBuf, File), FileError> {
    let mut last = None;
    for _ in 0..TEMP_ATTEMPTS {
        let tmp = temp_path(path).ok_or_else(|| {
            io_error(
                path,
                "write",
                std::io::Error::new(ErrorKind::InvalidInput, "path has no file name"),
            )
        })?;
        // create_new is O_CREAT|O_EXCL: an existing name, symlink or not, is never opened.
        match OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .custom_flags(libc::O_CLOEXEC | libc::O_NOFOLLOW)
            .open(&tmp)
        {
            Ok(f) => return Ok((tmp, f)),
            Err(e) if e.kind() == ErrorKind::AlreadyExists => last = Some((tmp, e)),
            Err(e) => return Err(io_error(&tmp, "create temporary file", e)),
        }
    }
    let (tmp, e) = last.expect("at least one attempt");
    Err(io_error(&tmp, "create temporary file", e))
}

/// What [`replace`] expects at the name it renames the new file to.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Target {
    /// Nothing: whatever appears there meanwhile (another user's FIFO or link) is left alone.
    New,
    /// A regular file, which the new one replaces.
    Existing,
}

/// What [`replace`] did.
#[derive(Debug, PartialEq, Eq)]
enum Replaced {
    /// The new file is at the name.
    Done,
    /// The name was free but something took it before the rename; nothing was changed.
    NameTaken,
}

/// Renames `from` to `to` only if `to` does not exist (atomically, where the file system
/// supports it). `Ok(false)`: `to` exists.
fn rename_new(from: &Path, to: &Path) -> std::io::Result<bool> {
    let c = |p: &Path| {
        std::ffi::CString::new(p.as_os_str().as_bytes())
            .map_err(|_| std::io::Error::new(ErrorKind::InvalidInput, "path contains a NUL byte"))
    };
    let (cf, ct) = (c(from)?, c(to)?);
    let Err(e) = crate::os::rename_noreplace(&cf, &ct) else {
        return Ok(true);
    };
    match e.raw_os_error() {
        Some(libc::EEXIST) => Ok(false),
        // A file system (or kernel) without RENAME_NOREPLACE: a plain rename, which replaces
        // whatever got there since the name was found free.
        Some(libc::EINVAL | libc::ENOSYS) => std::fs::rename(from, to).map(|()| true),
        _ => Err(e),
    }
}

fn replace(
    path: &Path,
    bytes: &[u8],
    durable: bool,
    target: Target,
) -> Result<Replaced, FileError> {
    let (tmp, mut file) = create_temp(path)?;
    let written = (|| {
        // The umask may have removed bits from 0600 (e.g. umask 0277); set them exactly.
        file.set_permissions(std::fs::Permissions::from_mode(0o600))
            .map_err(|e| io_error(&tmp, "chmod temporary file", e))?;
        file.write_all(bytes)
            .map_err(|e| io_error(&tmp, "write temporary file", e))?;
        if durable {
            file.sync_all()
                .map_err(|e| io_error(&tmp, "fsync temporary file", e))?;
        }
        let renamed = match target {
            Target::New => rename_new(&tmp, path),
            Target::Existing => std::fs::rename(&tmp, path).map(|()| true),
        };
        renamed.map_err(|e| io_error(path, "rename temporary file over", e))
    })();
    drop(file);
    match written {
        Ok(true) => {}
        Ok(false) => {
            let _ = std::fs::remove_file(&tmp);
            return Ok(Replaced::NameTaken);
        }
        Err(e) => {
            // Best effort: the original error is the one worth reporting.
            let _ = std::fs::remove_file(&tmp);
            return Err(e);
        }
    }

    if !durable {
        return Ok(Replaced::Done);
    }
    // Make the rename itself durable.
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| io_error(dir, "fsync directory", e))?;
    Ok(Replaced::Done)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mkfifo(path: &Path) {
        crate::os::testing::mkfifo(path).unwrap();
    }

    /// A name found free may be taken before the new file is renamed to it (another user's
    /// FIFO or link in /tmp): what took it is left as it is, and the write starts over.
    #[test]
    fn a_name_taken_after_it_was_found_free_is_not_replaced() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("out");
        mkfifo(&out);
        let link = dir.path().join("link");
        std::os::unix::fs::symlink("elsewhere", &link).unwrap();
        for (name, volatile) in [(&out, false), (&link, true)] {
            let r = replace(name, b"new", !volatile, Target::New).unwrap();
            assert_eq!(r, Replaced::NameTaken, "{}", name.display());
        }
        assert!(std::fs::symlink_metadata(&out)
            .unwrap()
            .file_type()
            .is_fifo());
        assert_eq!(std::fs::read_link(&link).unwrap(), Path::new("elsewhere"));
        assert!(!dir.path().join("elsewhere").exists());
        // No temporary file left behind.
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 2);

        // Still free: created.
        let fresh = dir.path().join("fresh");
        assert_eq!(
            replace(&fresh, b"new", true, Target::New).unwrap(),
            Replaced::Done
        );
        assert_eq!(std::fs::read(&fresh).unwrap(), b"new");
    }
}
