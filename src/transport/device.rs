//! Linux TPM character devices (`/dev/tpmrm0`, `/dev/tpm0`): one write per command, one read
//! per response, errno values from the kernel's resource manager mapped to explanations.

use std::fs::{File, OpenOptions};
use std::io::{ErrorKind, Read, Write};
use std::os::fd::AsFd;
use std::os::unix::fs::{FileTypeExt, MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use super::io;
use super::{check_command, Transport, TransportError, DEFAULT_TIMEOUT, MAX_TRANSPORT_FRAME_SIZE};
use crate::wire::HEADER_SIZE;

/// The kernel's response buffer is 4096 bytes; reading into a larger one takes any response
/// in a single read.
const READ_SIZE: usize = 8192;

/// A Linux TPM character device: `/dev/tpmrm0` (the kernel resource manager, which gives each open
/// file its own view of objects and at most 3 sessions) or `/dev/tpm0` (the raw TPM, one user at a
/// time). Open it with [`DeviceTransport::open`] or the TCTI `device:PATH`.
#[derive(Debug)]
pub struct DeviceTransport {
    path: PathBuf,
    file: File,
    timeout: Duration,
    /// A command timed out: its response may still arrive and must not be taken for the
    /// next command's.
    abandoned: bool,
    /// The resource manager failed this file with EFAULT: its per-file state is broken and
    /// every later command on it fails too, so the next command reopens the device.
    reopen: bool,
}

impl DeviceTransport {
    /// Opens the device read-write and non-blocking: the write then only queues the command,
    /// and the wait for the response is a `poll` bounded by the timeout. The path must be a
    /// character device (symlinks to one are followed): a regular file, FIFO or anything else
    /// is refused before it is opened for writing, so a mistyped `device:PATH` never gets a
    /// command frame written into it. The opened file must be the very node that was checked
    /// (same device numbers, same inode): a path swapped in between is refused.
    pub fn open(path: impl AsRef<Path>) -> Result<Self, TransportError> {
        Self::open_checked(path.as_ref(), || {})
    }

    /// [`DeviceTransport::open`], with `between` run after the path is checked and before it
    /// is opened (where a swapped path would strike).
    fn open_checked(path: &Path, between: impl FnOnce()) -> Result<Self, TransportError> {
        let open_error = |e: std::io::Error| {
            let hint = match e.kind() {
                ErrorKind::NotFound => " (no such device: is a TPM present and its driver loaded?)",
                ErrorKind::PermissionDenied => {
                    " (permission denied: is the user in the tss group?)"
                }
                _ => "",
            };
            TransportError::Io {
                transport: format!("device:{}", path.display()),
                message: format!("cannot open {}{hint}", path.display()),
                source: Some(e),
            }
        };
        // Checked before opening too: opening a FIFO for writing is itself seen by its reader.
        let checked = std::fs::metadata(path).map_err(open_error)?;
        check_char_device(path, &checked)?;
        between();
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .custom_flags(libc::O_NONBLOCK | libc::O_NOCTTY | libc::O_CLOEXEC)
            .open(path)
            .map_err(open_error)?;
        // The path may have been swapped between the check and the open: the descriptor is
        // what will be written to, and it must be the node that was checked.
        let opened = file.metadata().map_err(open_error)?;
        check_char_device(path, &opened)?;
        check_same_node(path, &checked, &opened)?;
        Ok(Self::from_file(path, file))
    }

    /// Wraps an already open descriptor that behaves like a TPM device (for tests, or a
    /// descriptor passed in by a supervisor). It is switched to non-blocking mode.
    pub fn from_file(path: impl Into<PathBuf>, file: File) -> Self {
        // A descriptor that cannot be made non-blocking still works; waits are then bounded by
        // the poll before each read only.
        let _ = crate::os::set_nonblocking(file.as_fd());
        DeviceTransport {
            path: path.into(),
            file,
            timeout: DEFAULT_TIMEOUT,
            abandoned: false,
            reopen: false,
        }
    }

    fn what(&self) -> String {
        format!("device:{}", self.path.display())
    }

    fn device_error(&self, operation: &'static str, e: std::io::Error) -> TransportError {
        let errno = e.raw_os_error().unwrap_or(0);
        TransportError::Device {
            transport: self.what(),
            operation,
            errno,
            hint: errno_hint(errno),
            source: e,
        }
    }

    fn timeout_error(&self, during: &'static str) -> TransportError {
        TransportError::Timeout {
            transport: self.what(),
            waited: self.timeout,
            during,
        }
    }
}

fn check_char_device(path: &Path, meta: &std::fs::Metadata) -> Result<(), TransportError> {
    if meta.file_type().is_char_device() {
        return Ok(());
    }
    Err(TransportError::NotADevice {
        transport: format!("device:{}", path.display()),
        found: crate::files::kind_name(meta.file_type()),
    })
}

/// The opened node is the one checked before opening: the same device numbers, and the same
/// node (another node with the same numbers may have other permissions, or be someone else's).
fn check_same_node(
    path: &Path,
    checked: &std::fs::Metadata,
    opened: &std::fs::Metadata,
) -> Result<(), TransportError> {
    let same = checked.rdev() == opened.rdev()
        && checked.dev() == opened.dev()
        && checked.ino() == opened.ino();
    if same {
        return Ok(());
    }
    let now = if checked.rdev() == opened.rdev() {
        "another node with the same device numbers".to_string()
    } else {
        format!(
            "device {}:{}, checked {}:{}",
            libc::major(opened.rdev()),
            libc::minor(opened.rdev()),
            libc::major(checked.rdev()),
            libc::minor(checked.rdev()),
        )
    };
    Err(TransportError::Io {
        transport: format!("device:{}", path.display()),
        message: format!(
            "{} was replaced while being opened (now {now}); not used",
            path.display()
        ),
        source: None,
    })
}

/// What the TPM driver means by an errno (drivers/char/tpm/tpm-dev-common.c, tpm2-space.c).
pub(crate) fn errno_hint(errno: i32) -> &'static str {
    match errno {
        libc::ENOMEM => "the resource manager is out of slots for this open file (at most 3 transient objects and 3 sessions per file): flush some",
        libc::EFAULT => "the resource manager could not save or load a context (e.g. TPM_RC_CONTEXT_GAP: an old saved session must be reloaded or flushed); this file's resource-manager state is unusable now, so the device is reopened for the next command: sessions it kept loaded are gone, client-saved contexts still load",
        libc::EBUSY => "a previous response on this file has not been read yet",
        libc::EINVAL => "the kernel rejected the command as malformed (size field, handles or length)",
        libc::EIO => "the TPM did not respond or the driver failed to talk to it",
        libc::EPIPE => "the TPM device was removed",
        _ => "unexpected error from the TPM driver",
    }
}

/// Session slots the Linux resource manager gives each open file of /dev/tpmrmN.
const TPMRM_SESSION_SLOTS: usize = 3;

impl Transport for DeviceTransport {
    fn sessions_per_connection(&self) -> Option<usize> {
        let is_rm = self
            .path
            .file_name()
            .and_then(|n| n.to_str())
            .is_some_and(|n| n.starts_with("tpmrm"));
        is_rm.then_some(TPMRM_SESSION_SLOTS)
    }

    fn transact(&mut self, command: &[u8], response: &mut Vec<u8>) -> Result<(), TransportError> {
        if self.reopen {
            let fresh = Self::open(&self.path)?;
            self.file = fresh.file;
            self.reopen = false;
            self.abandoned = false;
        }
        let r = self.exchange(command, response);
        if let Err(TransportError::Device { errno, .. }) = &r {
            self.reopen = *errno == libc::EFAULT;
        }
        r
    }

    fn describe(&self) -> String {
        self.what()
    }

    fn set_timeout(&mut self, timeout: Duration) {
        self.timeout = super::bounded_timeout(timeout);
    }
}

impl DeviceTransport {
    /// One command and its response on the current file.
    fn exchange(&mut self, command: &[u8], response: &mut Vec<u8>) -> Result<(), TransportError> {
        check_command(&|| self.what(), command)?;
        let deadline = Instant::now() + self.timeout;
        if self.abandoned {
            // Discard the late answer if it is there; if the old command is still running the
            // write below fails with EBUSY, which says so.
            let mut stale = vec![0u8; READ_SIZE];
            let _ = self.file.read(&mut stale);
            self.abandoned = false;
        }
        // The kernel takes a command only as one write of the whole frame.
        loop {
            match self.file.write(command) {
                Ok(n) if n == command.len() => break,
                Ok(n) => {
                    return Err(TransportError::MalformedCommand {
                        transport: self.what(),
                        reason: format!("the driver accepted only {n} of {} bytes", command.len()),
                    })
                }
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(e) if e.kind() == ErrorKind::WouldBlock => {
                    if !crate::os::wait(self.file.as_fd(), libc::POLLOUT, deadline)
                        .map_err(|e| self.device_error("poll", e))?
                    {
                        return Err(self.timeout_error("waiting to send the command"));
                    }
                }
                Err(e) => return Err(self.device_error("write", e)),
            }
        }
        response.clear();
        response.resize(READ_SIZE, 0);
        let mut got = 0;
        // Until the header is in, read as much as the buffer holds; after, only up to the
        // declared size, so extra bytes show up as a malformed response below.
        let mut declared: Option<usize> = None;
        // One read normally returns the whole response; kernels with partial-read support
        // may hand it out in pieces, so keep reading until the header's size is reached.
        loop {
            if !crate::os::wait(self.file.as_fd(), libc::POLLIN, deadline)
                .map_err(|e| self.device_error("poll", e))?
            {
                self.abandoned = true;
                return Err(self.timeout_error("waiting for the response"));
            }
            let end = declared.unwrap_or(response.len());
            let read = self.file.read(&mut response[got..end]);
            match read {
                Ok(0) => {
                    return Err(TransportError::MalformedResponse {
                        transport: self.what(),
                        reason: format!("the device returned end of file after {got} bytes"),
                    })
                }
                Ok(n) => got += n,
                Err(e) if matches!(e.kind(), ErrorKind::Interrupted | ErrorKind::WouldBlock) => {
                    continue
                }
                Err(e) => return Err(self.device_error("read", e)),
            }
            if got < HEADER_SIZE {
                continue;
            }
            let size = io::declared_size(response, &|| self.what())?;
            if got > size {
                return Err(TransportError::MalformedResponse {
                    transport: self.what(),
                    reason: format!("read {got} bytes but the header declares {size}"),
                });
            }
            if got == size {
                response.truncate(size);
                return Ok(());
            }
            // declared_size capped `size` at MAX_TRANSPORT_FRAME_SIZE.
            response.resize(size.min(MAX_TRANSPORT_FRAME_SIZE), 0);
            declared = Some(size);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A character device node with the numbers of /dev/null (1,3) or /dev/zero (1,5): opening
    /// and closing them has no effect.
    fn node(path: &Path, minor: u32) {
        if let Err(e) = crate::os::testing::mknod_char(path, 1, minor) {
            panic!(
                "mknod {}: {e} - this test creates device nodes and must run as root (CI does)",
                path.display()
            );
        }
    }

    /// The path is checked, then swapped for another device node before the open: the
    /// descriptor is refused, whether the new node has other numbers or the same ones.
    #[test]
    fn a_node_swapped_between_check_and_open_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let checked = dir.path().join("checked");
        node(&checked, 3);
        let other_numbers = dir.path().join("other_numbers");
        node(&other_numbers, 5);
        let same_numbers = dir.path().join("same_numbers");
        node(&same_numbers, 3);
        let link = dir.path().join("tpmrm0");

        // Unswapped, the node opens.
        std::os::unix::fs::symlink(&checked, &link).unwrap();
        DeviceTransport::open_checked(&link, || {}).unwrap();

        for swapped_in in [&other_numbers, &same_numbers] {
            let swap = || {
                let tmp = dir.path().join("swap");
                std::os::unix::fs::symlink(swapped_in, &tmp).unwrap();
                std::fs::rename(&tmp, &link).unwrap();
            };
            let e = DeviceTransport::open_checked(&link, swap).unwrap_err();
            assert!(
                matches!(e, TransportError::Io { .. }) && e.to_string().contains("was replaced"),
                "{}: {e}",
                swapped_in.display()
            );
            std::fs::remove_file(&link).unwrap();
            std::os::unix::fs::symlink(&checked, &link).unwrap();
        }
    }
}
