//! Deadline-bounded I/O on non-blocking file descriptors (sockets, pipes, the TPM device),
//! and the frame reader shared by the stream backends.

use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd};
use std::os::unix::net::UnixStream;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use super::{TransportError, MAX_TRANSPORT_FRAME_SIZE};
use crate::wire::HEADER_SIZE;

/// Where a socket backend connects.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Endpoint {
    /// A TCP address.
    Tcp {
        /// Host name or IP address.
        host: String,
        /// TCP port (the data port; the companion channel is at `port + 1`).
        port: u16,
    },
    /// A Unix-domain socket.
    Unix {
        /// The socket's path (the companion channel is at `<path>.ctrl`).
        path: PathBuf,
    },
}

impl Endpoint {
    /// The second channel of a simulator: the platform (mssim) or control (swtpm) socket,
    /// at port + 1 or at `<path>.ctrl`.
    pub fn companion(&self) -> Endpoint {
        match self {
            Endpoint::Tcp { host, port } => Endpoint::Tcp {
                host: host.clone(),
                // The TCTI parser refuses 65535, so this cannot overflow for parsed endpoints.
                port: port.saturating_add(1),
            },
            Endpoint::Unix { path } => {
                let mut p = path.clone().into_os_string();
                p.push(".ctrl");
                Endpoint::Unix { path: p.into() }
            }
        }
    }

    /// The `key=value` form used in TCTI strings.
    pub fn conf(&self) -> String {
        match self {
            Endpoint::Tcp { host, port } => format!("host={host},port={port}"),
            Endpoint::Unix { path } => format!("path={}", path.display()),
        }
    }
}

impl std::fmt::Display for Endpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Endpoint::Tcp { host, port } => write!(f, "{host}:{port}"),
            Endpoint::Unix { path } => write!(f, "{}", path.display()),
        }
    }
}

/// A connected, non-blocking socket of either family.
#[derive(Debug)]
pub(crate) enum Stream {
    Tcp(TcpStream),
    Unix(UnixStream),
}

impl Stream {
    /// Connects with a bounded wait. `nodelay` turns Nagle's algorithm off on TCP, for
    /// protocols that write a frame in several pieces over a connection kept open.
    pub(crate) fn connect(
        endpoint: &Endpoint,
        timeout: Duration,
        nodelay: bool,
    ) -> io::Result<Stream> {
        let stream = match endpoint {
            Endpoint::Tcp { host, port } => {
                let mut last = io::Error::new(io::ErrorKind::NotFound, "host has no address");
                let mut connected = None;
                // An IP literal is parsed here without a lookup.
                for addr in (host.as_str(), *port).to_socket_addrs()? {
                    match connect_tcp(&addr, timeout) {
                        Ok(s) => {
                            connected = Some(s);
                            break;
                        }
                        Err(e) => last = e,
                    }
                }
                let s = connected.ok_or(last)?;
                tracing::trace!(endpoint = %endpoint, "transport: connected");
                if nodelay {
                    s.set_nodelay(true)?;
                }
                Stream::Tcp(s)
            }
            Endpoint::Unix { path } => {
                let s = connect_unix(path, timeout)?;
                tracing::trace!(endpoint = %endpoint, "transport: connected");
                Stream::Unix(s)
            }
        };
        Ok(stream)
    }

    fn raw(&self) -> libc::c_int {
        self.as_fd().as_raw_fd()
    }
}

/// A new stream socket, connected with a blocking `connect` bounded by the socket's send
/// timeout (socket(7): connect then fails with EINPROGRESS, or EAGAIN on Unix sockets). That
/// is one system call where a non-blocking connect takes three (connect, poll, getsockopt)
/// and two mode switches. The socket stays in blocking mode: every read and write after this
/// passes MSG_DONTWAIT and waits in `poll` with a deadline instead (see [`Stream`]'s `Read`
/// and `Write`), so the send timeout set here never applies to them.
fn connect_socket(
    family: libc::c_int,
    addr: *const libc::sockaddr,
    len: libc::socklen_t,
    timeout: Duration,
) -> io::Result<OwnedFd> {
    // SAFETY: plain socket creation; the result is checked before use.
    let fd = unsafe { libc::socket(family, libc::SOCK_STREAM | libc::SOCK_CLOEXEC, 0) };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: `fd` was just created and nothing else owns it.
    let fd = unsafe { OwnedFd::from_raw_fd(fd) };
    // A zero timeval means "no timeout": never pass one.
    let timeout = timeout.max(Duration::from_millis(1));
    let tv = libc::timeval {
        tv_sec: timeout.as_secs().min(i32::MAX as u64) as libc::time_t,
        tv_usec: libc::suseconds_t::from(timeout.subsec_micros() as i32),
    };
    // SAFETY: a valid timeval of the size given, on a socket we own.
    let rc = unsafe {
        libc::setsockopt(
            fd.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_SNDTIMEO,
            (&tv as *const libc::timeval).cast(),
            std::mem::size_of::<libc::timeval>() as libc::socklen_t,
        )
    };
    if rc != 0 {
        return Err(io::Error::last_os_error());
    }
    let deadline = Instant::now() + timeout;
    // SAFETY: `addr` points to a socket address of `len` bytes (the callers build it).
    if unsafe { libc::connect(fd.as_raw_fd(), addr, len) } == 0 {
        return Ok(fd);
    }
    let e = io::Error::last_os_error();
    match e.raw_os_error() {
        Some(libc::EINPROGRESS) | Some(libc::EAGAIN) => Err(io::Error::new(
            io::ErrorKind::TimedOut,
            format!("connecting timed out after {timeout:?}"),
        )),
        // A signal interrupted the wait; the attempt goes on in the background.
        Some(libc::EINTR) => {
            if !wait(fd.as_fd(), libc::POLLOUT, deadline)? {
                return Err(io::Error::new(
                    io::ErrorKind::TimedOut,
                    format!("connecting timed out after {timeout:?}"),
                ));
            }
            let mut err: libc::c_int = 0;
            let mut err_len = std::mem::size_of::<libc::c_int>() as libc::socklen_t;
            // SAFETY: `err` and `err_len` are valid for writes of the sizes given.
            let rc = unsafe {
                libc::getsockopt(
                    fd.as_raw_fd(),
                    libc::SOL_SOCKET,
                    libc::SO_ERROR,
                    (&mut err as *mut libc::c_int).cast(),
                    &mut err_len,
                )
            };
            if rc != 0 {
                return Err(io::Error::last_os_error());
            }
            if err != 0 {
                return Err(io::Error::from_raw_os_error(err));
            }
            Ok(fd)
        }
        _ => Err(e),
    }
}

fn connect_tcp(addr: &SocketAddr, timeout: Duration) -> io::Result<TcpStream> {
    let fd = match addr {
        SocketAddr::V4(a) => {
            // SAFETY: sockaddr_in is plain data; all-zero is a valid starting value.
            let mut sa: libc::sockaddr_in = unsafe { std::mem::zeroed() };
            sa.sin_family = libc::AF_INET as libc::sa_family_t;
            sa.sin_port = a.port().to_be();
            sa.sin_addr = libc::in_addr {
                s_addr: u32::from_ne_bytes(a.ip().octets()),
            };
            connect_socket(
                libc::AF_INET,
                (&sa as *const libc::sockaddr_in).cast(),
                std::mem::size_of::<libc::sockaddr_in>() as libc::socklen_t,
                timeout,
            )?
        }
        SocketAddr::V6(a) => {
            // SAFETY: as above.
            let mut sa: libc::sockaddr_in6 = unsafe { std::mem::zeroed() };
            sa.sin6_family = libc::AF_INET6 as libc::sa_family_t;
            sa.sin6_port = a.port().to_be();
            sa.sin6_addr = libc::in6_addr {
                s6_addr: a.ip().octets(),
            };
            sa.sin6_flowinfo = a.flowinfo();
            sa.sin6_scope_id = a.scope_id();
            connect_socket(
                libc::AF_INET6,
                (&sa as *const libc::sockaddr_in6).cast(),
                std::mem::size_of::<libc::sockaddr_in6>() as libc::socklen_t,
                timeout,
            )?
        }
    };
    Ok(TcpStream::from(fd))
}

fn connect_unix(path: &std::path::Path, timeout: Duration) -> io::Result<UnixStream> {
    use std::os::unix::ffi::OsStrExt;
    // SAFETY: sockaddr_un is plain data; all-zero is a valid starting value.
    let mut sa: libc::sockaddr_un = unsafe { std::mem::zeroed() };
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
    let len = std::mem::size_of::<libc::sa_family_t>() + bytes.len() + 1;
    let fd = connect_socket(
        libc::AF_UNIX,
        (&sa as *const libc::sockaddr_un).cast(),
        len as libc::socklen_t,
        timeout,
    )?;
    Ok(UnixStream::from(fd))
}

/// Reads and writes never block, whatever the socket's mode: MSG_DONTWAIT on each call (no
/// fcntl/ioctl round trips to switch modes), MSG_NOSIGNAL so a closed peer gives EPIPE, not
/// SIGPIPE. Callers wait in [`wait`] on WouldBlock.
impl Read for Stream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        // SAFETY: `buf` is valid for writes of its length; the descriptor is ours.
        let n = unsafe {
            libc::recv(
                self.raw(),
                buf.as_mut_ptr().cast(),
                buf.len(),
                libc::MSG_DONTWAIT,
            )
        };
        if n < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(n as usize)
    }
}

impl Write for Stream {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        // SAFETY: `buf` is valid for reads of its length; the descriptor is ours.
        let n = unsafe {
            libc::send(
                self.raw(),
                buf.as_ptr().cast(),
                buf.len(),
                libc::MSG_DONTWAIT | libc::MSG_NOSIGNAL,
            )
        };
        if n < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(n as usize)
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl AsFd for Stream {
    fn as_fd(&self) -> BorrowedFd<'_> {
        match self {
            Stream::Tcp(s) => s.as_fd(),
            Stream::Unix(s) => s.as_fd(),
        }
    }
}

/// Puts a descriptor into non-blocking mode so every wait goes through `poll` with a deadline.
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

/// Why a deadline-bounded read or write stopped early.
#[derive(Debug)]
pub(crate) enum Stop {
    Timeout,
    /// End of stream after `got` bytes of the requested amount.
    Eof {
        got: usize,
    },
    Io(io::Error),
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
        let mut pfd = libc::pollfd {
            fd: fd.as_raw_fd(),
            events,
            revents: 0,
        };
        // SAFETY: one valid pollfd, count 1.
        let n = unsafe { libc::poll(&mut pfd, 1, ms) };
        if n < 0 {
            let e = io::Error::last_os_error();
            if e.kind() == io::ErrorKind::Interrupted {
                continue;
            }
            return Err(e);
        }
        if n > 0 {
            return Ok(true);
        }
        if Instant::now() >= deadline {
            return Ok(false);
        }
    }
}

/// Fills `buf` completely or reports why not.
pub(crate) fn read_exact<R: Read + AsFd>(
    r: &mut R,
    buf: &mut [u8],
    deadline: Instant,
) -> Result<(), Stop> {
    transfer(r, buf.len(), libc::POLLIN, deadline, |r, done| {
        r.read(&mut buf[done..])
    })
}

/// Writes all of `buf` or reports why not.
pub(crate) fn write_all<W: Write + AsFd>(
    w: &mut W,
    buf: &[u8],
    deadline: Instant,
) -> Result<(), Stop> {
    transfer(w, buf.len(), libc::POLLOUT, deadline, |w, done| {
        w.write(&buf[done..])
    })
}

/// Moves `len` bytes with `step` (given how many are done, it moves some more), waiting for
/// `events` on the descriptor whenever it would block, until the deadline.
fn transfer<T: AsFd>(
    t: &mut T,
    len: usize,
    events: libc::c_short,
    deadline: Instant,
    mut step: impl FnMut(&mut T, usize) -> io::Result<usize>,
) -> Result<(), Stop> {
    let mut done = 0;
    while done < len {
        match step(t, done) {
            Ok(0) => return Err(Stop::Eof { got: done }),
            Ok(n) => done += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                if !wait(t.as_fd(), events, deadline).map_err(Stop::Io)? {
                    return Err(Stop::Timeout);
                }
            }
            Err(e) => return Err(Stop::Io(e)),
        }
    }
    Ok(())
}

/// What is waiting on a non-blocking descriptor right now.
pub(crate) enum Pending {
    Nothing,
    /// At least this many unread bytes (the peer sent more than it should have).
    Bytes(usize),
    /// The peer closed its end.
    Closed,
}

/// Looks for unread input without waiting. Consumes up to 64 bytes if there are any: they
/// are garbage the caller is about to report anyway.
pub(crate) fn pending<R: Read + AsFd>(r: &mut R) -> Pending {
    let mut probe = [0u8; 64];
    loop {
        match r.read(&mut probe) {
            Ok(0) => return Pending::Closed,
            Ok(n) => return Pending::Bytes(n),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Pending::Nothing,
            Err(_) => return Pending::Closed,
        }
    }
}

/// Reads one response frame (header, then the size the header declares) into `response`.
/// `what` names the transport in errors.
pub(crate) fn read_frame<R: Read + AsFd>(
    r: &mut R,
    response: &mut Vec<u8>,
    deadline: Instant,
    timeout: Duration,
    what: &dyn Fn() -> String,
) -> Result<(), TransportError> {
    response.clear();
    response.resize(HEADER_SIZE, 0);
    read_exact(r, response, deadline)
        .map_err(|s| stop_error(s, what, timeout, "reading the response header", 0))?;
    let declared = declared_size(response, what)?;
    response.resize(declared, 0);
    read_exact(r, &mut response[HEADER_SIZE..], deadline)
        .map_err(|s| stop_error(s, what, timeout, "reading the response body", declared))?;
    Ok(())
}

/// Bytes of buffer a response is first read into: every common response fits, so it arrives
/// in one read.
const READ_AHEAD: usize = 4096;
/// Extra room past a declared size, so bytes beyond the frame that arrive with its end are
/// seen by the same read.
const OVERRUN_ROOM: usize = 64;

/// Reads one response frame, for a peer that sends nothing but responses to our commands (so
/// reading past the frame can only ever find garbage): waits first (the answer is never
/// there yet right after a command is sent), then reads whatever has arrived into a buffer
/// with room to spare. A response that arrives in one piece costs one `poll` and one read,
/// and bytes past the declared size that came with it are reported as a malformed response
/// without a further read to look for them.
pub(crate) fn read_frame_eager<R: Read + AsFd>(
    r: &mut R,
    response: &mut Vec<u8>,
    deadline: Instant,
    timeout: Duration,
    what: &dyn Fn() -> String,
) -> Result<(), TransportError> {
    response.clear();
    response.resize(READ_AHEAD, 0);
    let mut got = 0;
    let mut declared = None;
    loop {
        let during = if declared.is_some() {
            "reading the response body"
        } else {
            "reading the response header"
        };
        let stop = |s| stop_error(s, what, timeout, during, declared.unwrap_or(0));
        if !wait(r.as_fd(), libc::POLLIN, deadline).map_err(|e| stop(Stop::Io(e)))? {
            return Err(stop(Stop::Timeout));
        }
        match r.read(&mut response[got..]) {
            Ok(0) => {
                let got = got.saturating_sub(if declared.is_some() { HEADER_SIZE } else { 0 });
                return Err(stop(Stop::Eof { got }));
            }
            Ok(n) => got += n,
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::Interrupted | io::ErrorKind::WouldBlock
                ) =>
            {
                continue
            }
            Err(e) => return Err(stop(Stop::Io(e))),
        }
        if declared.is_none() && got >= HEADER_SIZE {
            let size = declared_size(&response[..HEADER_SIZE], what)?;
            if size + OVERRUN_ROOM > response.len() {
                response.resize(size + OVERRUN_ROOM, 0);
            }
            declared = Some(size);
        }
        if let Some(size) = declared {
            if got > size {
                response.truncate(size);
                return Err(TransportError::MalformedResponse {
                    transport: what(),
                    reason: format!(
                        "response is longer than its header's {size} bytes ({}+ extra bytes followed)",
                        got - size
                    ),
                });
            }
            if got == size {
                response.truncate(size);
                return Ok(());
            }
        }
    }
}

/// The size a response header declares, checked against the frame limits.
pub(crate) fn declared_size(
    header: &[u8],
    what: &dyn Fn() -> String,
) -> Result<usize, TransportError> {
    let header =
        crate::wire::Header::parse(header).map_err(|e| TransportError::MalformedResponse {
            transport: what(),
            reason: e.to_string(),
        })?;
    let declared = header.size();
    if declared < HEADER_SIZE {
        return Err(TransportError::MalformedResponse {
            transport: what(),
            reason: format!(
                "header declares {declared} bytes, less than the {HEADER_SIZE}-byte header"
            ),
        });
    }
    within_frame_limit(declared, "header declares", what)
}

/// `size` if a response of that many bytes may be read; `who` says where the size came from.
pub(crate) fn within_frame_limit(
    size: usize,
    who: &str,
    what: &dyn Fn() -> String,
) -> Result<usize, TransportError> {
    if size > MAX_TRANSPORT_FRAME_SIZE {
        return Err(TransportError::MalformedResponse {
            transport: what(),
            reason: format!(
                "{who} {size} bytes, more than the {MAX_TRANSPORT_FRAME_SIZE}-byte maximum"
            ),
        });
    }
    Ok(size)
}

/// Turns a stopped read into the matching typed error. `expected` is the frame size when
/// known (0 while reading a header or prefix).
pub(crate) fn stop_error(
    stop: Stop,
    what: &dyn Fn() -> String,
    timeout: Duration,
    during: &'static str,
    expected: usize,
) -> TransportError {
    match stop {
        Stop::Timeout => TransportError::Timeout {
            transport: what(),
            waited: timeout,
            during,
        },
        Stop::Eof { got: 0 } if expected == 0 => TransportError::Closed {
            transport: what(),
            detail: format!("peer closed the connection while {during}"),
        },
        Stop::Eof { got } => TransportError::MalformedResponse {
            transport: what(),
            reason: if expected == 0 {
                format!("stream ended after {got} bytes while {during}")
            } else {
                format!(
                    "stream ended while {during}: header declares {expected} bytes, only {} arrived",
                    got + HEADER_SIZE
                )
            },
        },
        Stop::Io(e) => TransportError::Io {
            transport: what(),
            message: format!("I/O error while {during}"),
            source: Some(e),
        },
    }
}

/// After a complete frame: anything further on the stream means the peer's answer was
/// longer than its header said.
pub(crate) fn check_no_trailing<R: Read + AsFd>(
    r: &mut R,
    declared: usize,
    what: &dyn Fn() -> String,
) -> Result<(), TransportError> {
    match pending(r) {
        Pending::Bytes(n) => Err(TransportError::MalformedResponse {
            transport: what(),
            reason: format!(
                "response is longer than its header's {declared} bytes ({n}+ extra bytes followed)"
            ),
        }),
        Pending::Nothing | Pending::Closed => Ok(()),
    }
}
