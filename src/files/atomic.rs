//! Writing output files. A regular file (or a new one) is replaced atomically: a reader sees
//! the old file or the new one, never a torn mix, and a failed write leaves the old file as it
//! was. Anything else is never replaced by a regular file: a FIFO or character device (a
//! terminal, `/dev/null`) is written in place, as tpm2-tools does; a symlink is resolved and
//! its target follows the same rules (so `-o /dev/stdout` writes to whatever standard output
//! is); directories, sockets and block devices are refused.

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
/// failure before the rename the temporary file is removed and `path` is untouched. A FIFO or
/// character device is written in place (no temporary file, nothing truncated), within
/// [`input_timeout`](super::input_timeout) (which includes waiting for a FIFO's reader); a
/// write that stops part-way says how much was written. A symlink is followed to its target,
/// which follows the same rules (a link in a sticky world-writable directory such as /tmp is
/// followed only if it belongs to us or to the directory's owner, as the kernel's
/// `protected_symlinks` does). Directories, sockets and block devices are refused.
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

fn write_output(path: &Path, bytes: &[u8], durable: bool) -> Result<(), FileError> {
    match std::fs::symlink_metadata(path) {
        Err(e) if e.kind() == ErrorKind::NotFound => replace(path, bytes, durable),
        Err(e) => Err(io_error(path, "stat", e)),
        Ok(m) if m.is_file() => replace(path, bytes, durable),
        Ok(m) if m.file_type().is_symlink() => write_through_link(path, bytes, durable),
        Ok(m) if is_stream(&m) => write_in_place(path, bytes, &m, libc::O_NOFOLLOW),
        Ok(m) => Err(refuse(path, &m)),
    }
}

/// `path` is a symlink. The kernel resolves it (O_PATH: nothing is opened, so no device
/// reacts and no FIFO waits), including `/proc/self/fd` links such as `/dev/stdout`, whose
/// targets may be pipes with no path at all; what it resolved to decides the rest.
fn write_through_link(path: &Path, bytes: &[u8], durable: bool) -> Result<(), FileError> {
    let probe = OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_PATH | libc::O_CLOEXEC)
        .open(path);
    let target = match probe {
        Ok(f) => f,
        // Dangling: the write creates the file the link points to.
        Err(e) if e.kind() == ErrorKind::NotFound => {
            let end = resolve_dangling(path)?;
            return replace(&end, bytes, durable);
        }
        Err(e) => return Err(io_error(path, "resolve symlink", e)),
    };
    let meta = target
        .metadata()
        .map_err(|e| io_error(path, "stat symlink target", e))?;
    if is_stream(&meta) {
        return write_in_place(path, bytes, &meta, 0);
    }
    if !meta.is_file() {
        return Err(refuse(path, &meta));
    }
    // Replace the target by its own name, after checking that the name still leads to the
    // file the kernel resolved (a deleted file, or one renamed meanwhile, has no usable name).
    let real = std::fs::canonicalize(path).map_err(|e| io_error(path, "resolve symlink", e))?;
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
    replace(&real, bytes, durable)
}

/// Follows a chain of symlinks to the first name that does not exist, refusing what the
/// kernel's `protected_symlinks` would refuse (this walk is ours, not the kernel's).
fn resolve_dangling(path: &Path) -> Result<PathBuf, FileError> {
    let mut at = path.to_path_buf();
    for _ in 0..MAX_SYMLINKS {
        let meta = match std::fs::symlink_metadata(&at) {
            Err(e) if e.kind() == ErrorKind::NotFound => return Ok(at),
            Err(e) => return Err(io_error(&at, "stat", e)),
            Ok(m) => m,
        };
        if !meta.file_type().is_symlink() {
            // Created since the kernel found nothing there: let the caller start over.
            return Err(io_error(
                &at,
                "resolve symlink",
                std::io::Error::new(ErrorKind::AlreadyExists, "appeared while being resolved"),
            ));
        }
        let dir = match at.parent() {
            Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
            _ => PathBuf::from("."),
        };
        may_follow(&at, &meta, &dir)?;
        let next = std::fs::read_link(&at).map_err(|e| io_error(&at, "read symlink", e))?;
        at = dir.join(next);
    }
    Err(io_error(
        path,
        "resolve symlink",
        std::io::Error::from_raw_os_error(libc::ELOOP),
    ))
}

/// The kernel's rule for links in sticky world-writable directories: follow only our own
/// links or the directory owner's, so another user cannot plant a link in /tmp that redirects
/// our write.
fn may_follow(link: &Path, link_meta: &Metadata, dir: &Path) -> Result<(), FileError> {
    let dir_meta = std::fs::metadata(dir).map_err(|e| io_error(dir, "stat", e))?;
    let shared = dir_meta.mode() & (libc::S_ISVTX | libc::S_IWOTH) == libc::S_ISVTX | libc::S_IWOTH;
    // SAFETY: geteuid has no preconditions.
    let me = unsafe { libc::geteuid() };
    if shared && link_meta.uid() != me && link_meta.uid() != dir_meta.uid() {
        return Err(io_error(
            link,
            "resolve symlink",
            std::io::Error::new(
                ErrorKind::PermissionDenied,
                "a symlink owned by another user in a shared sticky directory is not followed",
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
                match crate::transport::io::wait(file.as_fd(), libc::POLLOUT, deadline) {
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

fn replace(path: &Path, bytes: &[u8], durable: bool) -> Result<(), FileError> {
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
        std::fs::rename(&tmp, path).map_err(|e| io_error(path, "rename temporary file over", e))
    })();
    drop(file);
    if let Err(e) = written {
        // Best effort: the original error is the one worth reporting.
        let _ = std::fs::remove_file(&tmp);
        return Err(e);
    }

    if !durable {
        return Ok(());
    }
    // Make the rename itself durable.
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| io_error(dir, "fsync directory", e))
}
