//! Atomic file replacement: a reader sees the old file or the new one, never a torn mix, and
//! a failed write leaves the old file as it was.

use std::ffi::OsString;
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use super::FileError;

/// The temporary file `write_atomic` uses for `path`: hidden, in the same directory (so the
/// rename cannot cross filesystems), and named after this process so that a crashed writer's
/// leftover does not block other processes.
pub(crate) fn temp_path(path: &Path) -> Option<PathBuf> {
    let name = path.file_name()?;
    let mut tmp = OsString::from(".");
    tmp.push(name);
    tmp.push(format!(".{}.tmp", std::process::id()));
    Some(path.with_file_name(tmp))
}

/// Replaces `path` with `bytes`: writes a new file next to it (created exclusively, mode 0600
/// whatever the umask), fsyncs it, renames it over `path` and fsyncs the directory. On any
/// failure before the rename the temporary file is removed and `path` is untouched. Two
/// threads of one process writing the same path at once: one of them fails (the temporary
/// name is taken) rather than both interleaving. If `path` is a symlink, the link itself is
/// replaced.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), FileError> {
    replace(path, bytes, true)
}

/// [`write_atomic`] without the fsyncs: atomic for other processes, but not durable across a
/// power loss. For state that dies with the machine anyway, such as the session registry (TPM
/// sessions do not survive a reboot), where the two fsyncs would cost far more than the
/// session start they record.
pub fn write_atomic_volatile(path: &Path, bytes: &[u8]) -> Result<(), FileError> {
    replace(path, bytes, false)
}

fn replace(path: &Path, bytes: &[u8], durable: bool) -> Result<(), FileError> {
    let io = |path: &Path, op, error| FileError::Io {
        path: path.to_path_buf(),
        op,
        error,
    };
    let tmp = temp_path(path).ok_or_else(|| {
        io(
            path,
            "write",
            std::io::Error::new(std::io::ErrorKind::InvalidInput, "path has no file name"),
        )
    })?;
    let mut file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .custom_flags(libc::O_CLOEXEC)
        .open(&tmp)
        .map_err(|e| io(&tmp, "create temporary file", e))?;

    let written = (|| {
        // The umask may have removed bits from 0600 (e.g. umask 0277); set them exactly.
        file.set_permissions(std::fs::Permissions::from_mode(0o600))
            .map_err(|e| io(&tmp, "chmod temporary file", e))?;
        file.write_all(bytes)
            .map_err(|e| io(&tmp, "write temporary file", e))?;
        if durable {
            file.sync_all()
                .map_err(|e| io(&tmp, "fsync temporary file", e))?;
        }
        std::fs::rename(&tmp, path).map_err(|e| io(path, "rename temporary file over", e))
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
        .map_err(|e| io(dir, "fsync directory", e))
}
