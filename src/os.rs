//! The operating-system calls the library makes through `libc`, each behind a safe function.
//! This is the only module with `unsafe` code (the crate root denies it everywhere else), so
//! every raw pointer and descriptor handed to the kernel can be reviewed in one place. It sits
//! below `transport`, `files`, `registry` and `auth`, and knows nothing of them.

#![allow(unsafe_code)]

use std::ffi::CStr;
use std::io;
use std::net::SocketAddr;
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd};
use std::path::Path;
use std::time::{Duration, Instant};

fn check(rc: libc::c_int) -> io::Result<()> {
    if rc == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

fn check_len(n: libc::ssize_t) -> io::Result<usize> {
    // Non-negative and at most the buffer's length, so it fits in usize.
    usize::try_from(n).map_err(|_| io::Error::last_os_error())
}

/// Standard input as a borrowed descriptor (descriptor 0 is never closed by the library).
pub(crate) fn stdin() -> BorrowedFd<'static> {
    // SAFETY: descriptor 0 is only ever borrowed here, never closed, so the borrow cannot
    // outlive it as far as this library is concerned.
    unsafe { BorrowedFd::borrow_raw(0) }
}

/// Whether `fd` is a terminal.
pub(crate) fn isatty(fd: BorrowedFd<'_>) -> bool {
    // SAFETY: isatty only inspects the descriptor.
    unsafe { libc::isatty(fd.as_raw_fd()) == 1 }
}

/// One read(2) into `buf`.
pub(crate) fn read(fd: BorrowedFd<'_>, buf: &mut [u8]) -> io::Result<usize> {
    // SAFETY: `buf` is valid for writes of its length; read writes at most that many bytes.
    check_len(unsafe { libc::read(fd.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len()) })
}

/// A terminal's settings.
pub(crate) fn terminal_mode(fd: BorrowedFd<'_>) -> io::Result<libc::termios> {
    let mut t = core::mem::MaybeUninit::<libc::termios>::uninit();
    // SAFETY: tcgetattr fills the whole termios on success, checked before assume_init.
    check(unsafe { libc::tcgetattr(fd.as_raw_fd(), t.as_mut_ptr()) })?;
    // SAFETY: initialized by the successful tcgetattr above.
    Ok(unsafe { t.assume_init() })
}

/// Sets a terminal's settings now.
pub(crate) fn set_terminal_mode(fd: BorrowedFd<'_>, mode: &libc::termios) -> io::Result<()> {
    // SAFETY: a valid termios, read from the terminal and changed field by field.
    check(unsafe { libc::tcsetattr(fd.as_raw_fd(), libc::TCSANOW, mode) })
}

/// Discards what is queued on a terminal's input.
pub(crate) fn discard_terminal_input(fd: BorrowedFd<'_>) {
    // SAFETY: tcflush only discards queued input on this descriptor. Best effort.
    unsafe { libc::tcflush(fd.as_raw_fd(), libc::TCIFLUSH) };
}

/// The process's effective user id.
pub(crate) fn effective_uid() -> u32 {
    // SAFETY: geteuid has no preconditions and cannot fail.
    unsafe { libc::geteuid() }
}

/// The file system type (statfs f_type) of the file system holding `path`.
pub(crate) fn filesystem_type(path: &CStr) -> io::Result<i64> {
    // SAFETY: an all-zero statfs is a valid value to be overwritten.
    let mut fs: libc::statfs = unsafe { core::mem::zeroed() };
    // SAFETY: a NUL-terminated path and a statfs to fill.
    check(unsafe { libc::statfs(path.as_ptr(), &mut fs) })?;
    // The field's type differs between architectures.
    #[allow(clippy::unnecessary_cast)]
    Ok(fs.f_type as i64)
}

/// The file system type of the file system holding the open file `fd`.
pub(crate) fn filesystem_type_of(fd: BorrowedFd<'_>) -> io::Result<i64> {
    // SAFETY: as in `filesystem_type`.
    let mut fs: libc::statfs = unsafe { core::mem::zeroed() };
    // SAFETY: an open descriptor and a statfs to fill.
    check(unsafe { libc::fstatfs(fd.as_raw_fd(), &mut fs) })?;
    #[allow(clippy::unnecessary_cast)]
    Ok(fs.f_type as i64)
}

/// renameat2 with RENAME_NOREPLACE, paths relative to the working directory.
pub(crate) fn rename_noreplace(from: &CStr, to: &CStr) -> io::Result<()> {
    // SAFETY: two NUL-terminated paths.
    check(unsafe {
        libc::renameat2(
            libc::AT_FDCWD,
            from.as_ptr(),
            libc::AT_FDCWD,
            to.as_ptr(),
            libc::RENAME_NOREPLACE,
        )
    })
}

/// A new file `name` in the directory `dir`, owner-only, refusing to follow a link or to open
/// an existing file.
pub(crate) fn create_new_in(dir: BorrowedFd<'_>, name: &CStr) -> io::Result<OwnedFd> {
    // SAFETY: an open directory descriptor and a NUL-terminated name.
    let fd = unsafe {
        libc::openat(
            dir.as_raw_fd(),
            name.as_ptr(),
            libc::O_WRONLY | libc::O_CREAT | libc::O_EXCL | libc::O_NOFOLLOW | libc::O_CLOEXEC,
            0o600 as libc::c_uint,
        )
    };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: `fd` was just opened and is owned by nothing else.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// renameat within one directory.
pub(crate) fn rename_in(dir: BorrowedFd<'_>, from: &CStr, to: &CStr) -> io::Result<()> {
    let d = dir.as_raw_fd();
    // SAFETY: an open directory descriptor and two NUL-terminated names.
    check(unsafe { libc::renameat(d, from.as_ptr(), d, to.as_ptr()) })
}

/// unlinkat of a file in a directory.
pub(crate) fn unlink_in(dir: BorrowedFd<'_>, name: &CStr) -> io::Result<()> {
    // SAFETY: an open directory descriptor and a NUL-terminated name.
    check(unsafe { libc::unlinkat(dir.as_raw_fd(), name.as_ptr(), 0) })
}

/// symlinkat: a link `name` in `dir` whose target is `target`.
pub(crate) fn symlink_in(dir: BorrowedFd<'_>, target: &CStr, name: &CStr) -> io::Result<()> {
    // SAFETY: two NUL-terminated strings and an open directory descriptor.
    check(unsafe { libc::symlinkat(target.as_ptr(), dir.as_raw_fd(), name.as_ptr()) })
}

/// Sends `signal` to the process group `pgid`.
pub(crate) fn kill_group(pgid: i32, signal: libc::c_int) {
    // SAFETY: kill(2) has no memory preconditions. Best effort: the caller waits for the
    // group's leader either way.
    unsafe { libc::kill(-pgid, signal) };
}

/// Makes `cmd`'s child die with SIGKILL when this process dies, and refuse to start when this
/// process (`parent`) is already gone.
pub(crate) fn kill_child_with_parent(cmd: &mut std::process::Command, parent: libc::pid_t) {
    use std::os::unix::process::CommandExt;
    // SAFETY: the closure runs between fork and exec and only makes two async-signal-safe
    // system calls (prctl, getppid); it allocates nothing.
    unsafe {
        cmd.pre_exec(move || {
            if libc::prctl(
                libc::PR_SET_PDEATHSIG,
                libc::SIGKILL as libc::c_ulong,
                0,
                0,
                0,
            ) != 0
            {
                return Err(io::Error::last_os_error());
            }
            // The parent may have died before the prctl: then no signal would ever come.
            if libc::getppid() != parent {
                return Err(io::Error::from_raw_os_error(libc::ESRCH));
            }
            Ok(())
        });
    }
}

/// Puts a descriptor into non-blocking mode.
pub(crate) fn set_nonblocking(fd: BorrowedFd<'_>) -> io::Result<()> {
    let raw = fd.as_raw_fd();
    // SAFETY: fcntl on a descriptor we borrow; F_GETFL/F_SETFL touch only its status flags.
    let flags = unsafe { libc::fcntl(raw, libc::F_GETFL) };
    if flags < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: as above.
    if unsafe { libc::fcntl(raw, libc::F_SETFL, flags | libc::O_NONBLOCK) } < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// poll(2) on one descriptor for `events`, at most `ms` milliseconds. `Ok(true)`: ready
/// (hang-up and error conditions included).
pub(crate) fn poll_one(
    fd: BorrowedFd<'_>,
    events: libc::c_short,
    ms: libc::c_int,
) -> io::Result<bool> {
    let mut pfd = libc::pollfd {
        fd: fd.as_raw_fd(),
        events,
        revents: 0,
    };
    // SAFETY: one valid pollfd, count 1.
    let n = unsafe { libc::poll(&mut pfd, 1, ms) };
    if n < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(n > 0)
}

/// Waits until `fd` is ready for `events` or the deadline passes. `Ok(false)` = timed out.
/// Hang-up and error conditions count as ready: the following read or write reports them.
pub(crate) fn wait(
    fd: BorrowedFd<'_>,
    events: libc::c_short,
    deadline: Instant,
) -> io::Result<bool> {
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        // Round up so a sub-millisecond remainder still waits instead of spinning.
        let ms = left.as_micros().div_ceil(1000).min(i32::MAX as u128) as libc::c_int;
        match poll_one(fd, events, ms) {
            Ok(true) => return Ok(true),
            Ok(false) => {}
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        }
        if Instant::now() >= deadline {
            return Ok(false);
        }
    }
}

/// A socket address to connect a stream socket to.
pub(crate) enum Peer<'a> {
    /// TCP over IPv4 or IPv6.
    Inet(&'a SocketAddr),
    /// A Unix-domain socket path.
    Unix(&'a Path),
}

/// The outcome of [`connect_stream`].
pub(crate) enum Connecting {
    /// Connected.
    Done(OwnedFd),
    /// A signal interrupted connect(2); the connection goes on in the background: wait for
    /// the socket to be writable, then read its error with [`socket_error`].
    Interrupted(OwnedFd),
}

/// A stream socket (close-on-exec) for `peer`, with `send_timeout` as its SO_SNDTIMEO (which
/// also bounds a blocking connect(2)), connected.
pub(crate) fn connect_stream(peer: Peer<'_>, send_timeout: Duration) -> io::Result<Connecting> {
    use std::os::unix::ffi::OsStrExt;
    // SAFETY: the sockaddr structures are plain data; all-zero is a valid starting value.
    let mut storage: libc::sockaddr_storage = unsafe { core::mem::zeroed() };
    let (family, len) = match peer {
        Peer::Inet(SocketAddr::V4(a)) => {
            // SAFETY: sockaddr_storage is large and aligned enough for any sockaddr.
            let sa = unsafe { &mut *(&mut storage as *mut _ as *mut libc::sockaddr_in) };
            sa.sin_family = libc::AF_INET as libc::sa_family_t;
            sa.sin_port = a.port().to_be();
            sa.sin_addr = libc::in_addr {
                s_addr: u32::from_ne_bytes(a.ip().octets()),
            };
            (libc::AF_INET, core::mem::size_of::<libc::sockaddr_in>())
        }
        Peer::Inet(SocketAddr::V6(a)) => {
            // SAFETY: as above.
            let sa = unsafe { &mut *(&mut storage as *mut _ as *mut libc::sockaddr_in6) };
            sa.sin6_family = libc::AF_INET6 as libc::sa_family_t;
            sa.sin6_port = a.port().to_be();
            sa.sin6_addr = libc::in6_addr {
                s6_addr: a.ip().octets(),
            };
            sa.sin6_flowinfo = a.flowinfo();
            sa.sin6_scope_id = a.scope_id();
            (libc::AF_INET6, core::mem::size_of::<libc::sockaddr_in6>())
        }
        Peer::Unix(path) => {
            // SAFETY: as above.
            let sa = unsafe { &mut *(&mut storage as *mut _ as *mut libc::sockaddr_un) };
            sa.sun_family = libc::AF_UNIX as libc::sa_family_t;
            let bytes = path.as_os_str().as_bytes();
            // Room for the terminating NUL, and no NUL inside (it would cut the path short).
            if bytes.len() >= sa.sun_path.len() || bytes.contains(&0) {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidInput,
                    "socket path too long or contains a NUL byte",
                ));
            }
            for (d, s) in sa.sun_path.iter_mut().zip(bytes) {
                *d = *s as libc::c_char;
            }
            (
                libc::AF_UNIX,
                core::mem::size_of::<libc::sa_family_t>() + bytes.len() + 1,
            )
        }
    };
    // SAFETY: plain socket creation; the result is checked before use.
    let fd = unsafe { libc::socket(family, libc::SOCK_STREAM | libc::SOCK_CLOEXEC, 0) };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: `fd` was just created and nothing else owns it.
    let fd = unsafe { OwnedFd::from_raw_fd(fd) };
    // A zero timeval means "no timeout": never pass one.
    let timeout = send_timeout.max(Duration::from_millis(1));
    let tv = libc::timeval {
        tv_sec: timeout.as_secs().min(i32::MAX as u64) as libc::time_t,
        tv_usec: libc::suseconds_t::from(timeout.subsec_micros() as i32),
    };
    // SAFETY: a valid timeval of the size given, on a socket we own.
    check(unsafe {
        libc::setsockopt(
            fd.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_SNDTIMEO,
            (&tv as *const libc::timeval).cast(),
            core::mem::size_of::<libc::timeval>() as libc::socklen_t,
        )
    })?;
    // SAFETY: `storage` holds a socket address of `len` bytes of the socket's family.
    let rc = unsafe {
        libc::connect(
            fd.as_raw_fd(),
            (&storage as *const libc::sockaddr_storage).cast(),
            len as libc::socklen_t,
        )
    };
    if rc == 0 {
        return Ok(Connecting::Done(fd));
    }
    let e = io::Error::last_os_error();
    if e.raw_os_error() == Some(libc::EINTR) {
        return Ok(Connecting::Interrupted(fd));
    }
    Err(e)
}

/// The pending error of a socket (SO_ERROR): `Ok(())` when there is none.
pub(crate) fn socket_error(fd: BorrowedFd<'_>) -> io::Result<()> {
    let mut err: libc::c_int = 0;
    let mut err_len = core::mem::size_of::<libc::c_int>() as libc::socklen_t;
    // SAFETY: `err` and `err_len` are valid for writes of the sizes given.
    check(unsafe {
        libc::getsockopt(
            fd.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_ERROR,
            (&mut err as *mut libc::c_int).cast(),
            &mut err_len,
        )
    })?;
    if err != 0 {
        return Err(io::Error::from_raw_os_error(err));
    }
    Ok(())
}

/// recv(2) that never blocks (MSG_DONTWAIT), whatever the socket's mode.
pub(crate) fn recv_nowait(fd: BorrowedFd<'_>, buf: &mut [u8]) -> io::Result<usize> {
    // SAFETY: `buf` is valid for writes of its length; the descriptor is borrowed open.
    check_len(unsafe {
        libc::recv(
            fd.as_raw_fd(),
            buf.as_mut_ptr().cast(),
            buf.len(),
            libc::MSG_DONTWAIT,
        )
    })
}

/// send(2) that never blocks and never raises SIGPIPE (a closed peer gives EPIPE).
pub(crate) fn send_nowait(fd: BorrowedFd<'_>, buf: &[u8]) -> io::Result<usize> {
    // SAFETY: `buf` is valid for reads of its length; the descriptor is borrowed open.
    check_len(unsafe {
        libc::send(
            fd.as_raw_fd(),
            buf.as_ptr().cast(),
            buf.len(),
            libc::MSG_DONTWAIT | libc::MSG_NOSIGNAL,
        )
    })
}

/// What tests need to set the stage: device nodes, FIFOs, pseudo-terminals, and a look at
/// memory after a value is dropped.
#[cfg(test)]
pub(crate) mod testing {
    use super::*;

    fn c_path(path: &Path) -> std::ffi::CString {
        std::ffi::CString::new(path.as_os_str().as_encoded_bytes()).unwrap()
    }

    /// mknod of a character device with these numbers (needs root).
    pub(crate) fn mknod_char(path: &Path, major: u32, minor: u32) -> io::Result<()> {
        let c = c_path(path);
        // SAFETY: a NUL-terminated path; mknod only creates the node.
        check(unsafe {
            libc::mknod(
                c.as_ptr(),
                libc::S_IFCHR | 0o600,
                libc::makedev(major, minor),
            )
        })
    }

    /// mkfifo with mode 0600.
    pub(crate) fn mkfifo(path: &Path) -> io::Result<()> {
        let c = c_path(path);
        // SAFETY: a NUL-terminated path.
        check(unsafe { libc::mkfifo(c.as_ptr(), 0o600) })
    }

    /// A new pseudo-terminal: (master, slave).
    pub(crate) fn openpty() -> io::Result<(OwnedFd, OwnedFd)> {
        let (mut master, mut slave) = (-1, -1);
        // SAFETY: openpty writes two descriptors; name/termios/winsize may be null.
        check(unsafe {
            libc::openpty(
                &mut master,
                &mut slave,
                core::ptr::null_mut(),
                core::ptr::null(),
                core::ptr::null(),
            )
        })?;
        // SAFETY: both descriptors were just opened by openpty and are owned by nobody else.
        Ok(unsafe { (OwnedFd::from_raw_fd(master), OwnedFd::from_raw_fd(slave)) })
    }

    /// The bytes `value` occupied right after it was dropped in place: what a zeroizing
    /// destructor left behind.
    pub(crate) fn bytes_after_drop<T>(value: T) -> Vec<u8> {
        let mut slot = core::mem::MaybeUninit::new(value);
        // SAFETY: the value is initialised, dropped exactly once here and never used again;
        // its memory stays allocated (in `slot`) and is read only as bytes afterwards.
        unsafe {
            core::ptr::drop_in_place(slot.as_mut_ptr());
            core::slice::from_raw_parts(slot.as_ptr().cast::<u8>(), core::mem::size_of::<T>())
                .to_vec()
        }
    }
}
