//! Bounded reads: every file the library or the command line reads goes through here, so no
//! input can make a read allocate more than its format allows or wait for ever.
//!
//! A regular file is checked against the limit by its size before any byte is read. A FIFO,
//! a pipe or a character device (`/dev/zero`, a terminal) has no size: it is read up to one
//! byte past the limit, and the whole read must finish within a timeout, so a FIFO whose
//! writer never writes (or never closes it) fails instead of hanging. The timeout is
//! [`DEFAULT_INPUT_TIMEOUT`], or the number of seconds in `$TPM2_WIRE_INPUT_TIMEOUT`.
//! Directories, sockets and block devices are refused.

use std::fs::{File, FileType, OpenOptions};
use std::os::fd::{AsFd, BorrowedFd};
use std::os::unix::fs::{FileTypeExt, OpenOptionsExt};
use std::path::Path;
use std::time::{Duration, Instant};

use zeroize::Zeroizing;

use super::FileError;

/// How long reading a FIFO, pipe or character device (and writing to one, see
/// [`write_atomic`](super::write_atomic)) may take in all: long enough for a producer such as
/// a decryption tool asking for a passphrase, short enough that a forgotten FIFO ends.
pub const DEFAULT_INPUT_TIMEOUT: Duration = Duration::from_secs(30);

/// Environment variable overriding [`DEFAULT_INPUT_TIMEOUT`]: whole seconds, 1 to 86400.
pub const INPUT_TIMEOUT_ENV: &str = "TPM2_WIRE_INPUT_TIMEOUT";

/// The first allocation for a stream of unknown size; it grows (by copying into a fresh
/// zeroizing buffer) up to the caller's limit.
const FIRST_CHUNK: usize = 16 * 1024;

/// [`DEFAULT_INPUT_TIMEOUT`], or `$TPM2_WIRE_INPUT_TIMEOUT` seconds when that is a number
/// from 1 to 86400 (anything else is ignored: the default still bounds every wait).
pub fn input_timeout() -> Duration {
    std::env::var(INPUT_TIMEOUT_ENV)
        .ok()
        .and_then(|v| v.trim().parse::<u64>().ok())
        .filter(|s| (1..=86_400).contains(s))
        .map_or(DEFAULT_INPUT_TIMEOUT, Duration::from_secs)
}

/// "a directory", "a FIFO", ...: for errors that say what a path turned out to be.
pub(crate) fn kind_name(ft: FileType) -> &'static str {
    if ft.is_file() {
        "a regular file"
    } else if ft.is_dir() {
        "a directory"
    } else if ft.is_symlink() {
        "a symbolic link"
    } else if ft.is_fifo() {
        "a FIFO"
    } else if ft.is_socket() {
        "a socket"
    } else if ft.is_block_device() {
        "a block device"
    } else if ft.is_char_device() {
        "a character device"
    } else {
        "an unknown kind of file"
    }
}

/// Reads `path` (a regular file, FIFO or character device) whole, refusing more than `max`
/// bytes; `what` names the content in errors ("name file"). Waits at most
/// [`input_timeout`] for a FIFO or device. The buffer is zeroized when dropped.
pub fn read_bounded(
    path: &Path,
    what: &'static str,
    max: usize,
) -> Result<Zeroizing<Vec<u8>>, FileError> {
    read_bounded_within(path, what, max, input_timeout())
}

/// [`read_bounded`] with an explicit timeout.
pub fn read_bounded_within(
    path: &Path,
    what: &'static str,
    max: usize,
    timeout: Duration,
) -> Result<Zeroizing<Vec<u8>>, FileError> {
    let (file, size) = open_input(path)?;
    if let Some(size) = size.filter(|&s| s > max as u64) {
        return Err(FileError::TooLarge {
            what,
            size: usize::try_from(size).unwrap_or(usize::MAX),
            max,
        }
        .in_file(path));
    }
    let bytes = read_prefix_of(path, &file, max.saturating_add(1), size, timeout)?;
    if bytes.len() > max {
        return Err(FileError::ExceedsLimit { what, max }.in_file(path));
    }
    Ok(bytes)
}

/// At most `cap` bytes of `path` (fewer only at end of input), for callers that judge the
/// length themselves.
pub(crate) fn read_prefix(
    path: &Path,
    cap: usize,
    timeout: Duration,
) -> Result<Zeroizing<Vec<u8>>, FileError> {
    let (file, size) = open_input(path)?;
    read_prefix_of(path, &file, cap, size, timeout)
}

/// At most `cap` bytes of standard input, which must not be a terminal (a terminal is read
/// line by line with a prompt, elsewhere). The descriptor is not ours: it is neither closed
/// nor switched to non-blocking mode (that flag is shared with every process holding it);
/// each read waits in `poll` first, so only a second reader of the same pipe racing us could
/// make one block.
pub(crate) fn read_stdin_prefix(
    cap: usize,
    timeout: Duration,
) -> Result<Zeroizing<Vec<u8>>, FileError> {
    read_fd(crate::os::stdin(), cap, None, Instant::now() + timeout)
        .map_err(|stop| stop.into_error(Path::new("<standard input>"), timeout))
}

/// Opens for reading without waiting: O_NONBLOCK, so that opening a FIFO does not wait for a
/// writer, and O_NOCTTY, so that a terminal does not become our controlling terminal.
/// Returns the size of a regular file, `None` for a stream.
fn open_input(path: &Path) -> Result<(File, Option<u64>), FileError> {
    let io = |op, error| FileError::Io {
        path: path.to_path_buf(),
        op,
        error,
    };
    let file = OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK | libc::O_NOCTTY | libc::O_CLOEXEC)
        .open(path)
        .map_err(|e| io("open", e))?;
    let meta = file.metadata().map_err(|e| io("stat", e))?;
    let ft = meta.file_type();
    if ft.is_file() {
        Ok((file, Some(meta.len())))
    } else if ft.is_fifo() || ft.is_char_device() {
        Ok((file, None))
    } else {
        Err(FileError::WrongFileType {
            kind: kind_name(ft),
            op: "read",
            expected: "a regular file, FIFO or character device",
        }
        .in_file(path))
    }
}

fn read_prefix_of(
    path: &Path,
    file: &File,
    cap: usize,
    size: Option<u64>,
    timeout: Duration,
) -> Result<Zeroizing<Vec<u8>>, FileError> {
    read_fd(file.as_fd(), cap, size, Instant::now() + timeout)
        .map_err(|stop| stop.into_error(path, timeout))
}

/// Why [`read_fd`] stopped without reaching end of input or the cap.
enum Stop {
    Timeout,
    Io(std::io::Error),
}

impl Stop {
    fn into_error(self, path: &Path, waited: Duration) -> FileError {
        match self {
            Stop::Timeout => FileError::Timeout {
                waited,
                during: "waiting for the end of input (a FIFO, pipe or device whose writer \
                         neither finished nor closed it; TPM2_WIRE_INPUT_TIMEOUT sets the limit \
                         in seconds)",
            }
            .in_file(path),
            Stop::Io(error) => FileError::Io {
                path: path.to_path_buf(),
                op: "read",
                error,
            },
        }
    }
}

/// Reads until end of input or `cap` bytes, all before `deadline`. `size` (a regular file's
/// length) sizes the first allocation. Growing copies into a fresh buffer and drops the old
/// one, which zeroizes it: a plain `Vec` reallocation would leave a copy behind.
fn read_fd(
    fd: BorrowedFd<'_>,
    cap: usize,
    size: Option<u64>,
    deadline: Instant,
) -> Result<Zeroizing<Vec<u8>>, Stop> {
    let first = match size {
        // One byte more than the size, so that end of file is seen without growing.
        Some(s) => usize::try_from(s).unwrap_or(usize::MAX).saturating_add(1),
        None => FIRST_CHUNK,
    };
    let mut buf = Zeroizing::new(vec![0u8; first.min(cap)]);
    let mut filled = 0;
    while filled < cap {
        if filled == buf.len() {
            let mut bigger = Zeroizing::new(vec![0u8; buf.len().saturating_mul(2).min(cap)]);
            bigger[..filled].copy_from_slice(&buf[..filled]);
            buf = bigger;
        }
        // A regular file is always ready; a stream is waited for, within the deadline.
        match crate::os::wait(fd, libc::POLLIN, deadline) {
            Ok(true) => {}
            Ok(false) => return Err(Stop::Timeout),
            Err(e) => return Err(Stop::Io(e)),
        }
        let room = &mut buf[filled..];
        let n = match crate::os::read(fd, room) {
            Ok(n) => n,
            Err(e) => match e.kind() {
                std::io::ErrorKind::Interrupted | std::io::ErrorKind::WouldBlock => continue,
                _ => return Err(Stop::Io(e)),
            },
        };
        if n == 0 {
            break;
        }
        filled += n;
    }
    // truncate keeps the allocation; Zeroizing wipes the whole capacity on drop.
    buf.truncate(filled);
    Ok(buf)
}
