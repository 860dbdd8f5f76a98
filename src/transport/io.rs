//! Deadline-bounded I/O on non-blocking file descriptors (sockets, pipes, the TPM device),
//! and the frame reader shared by the stream backends.

use std::io::{self, Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd};
use std::os::unix::net::UnixStream;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use super::{TransportError, MAX_FRAME_SIZE};
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
    pub(crate) fn connect(endpoint: &Endpoint, timeout: Duration) -> io::Result<Stream> {
        let stream = match endpoint {
            Endpoint::Tcp { host, port } => {
                let mut last = io::Error::new(io::ErrorKind::NotFound, "host has no address");
                let mut connected = None;
                for addr in (host.as_str(), *port).to_socket_addrs()? {
                    match TcpStream::connect_timeout(&addr, timeout) {
                        Ok(s) => {
                            connected = Some(s);
                            break;
                        }
                        Err(e) => last = e,
                    }
                }
                let s = connected.ok_or(last)?;
                tracing::trace!(endpoint = %endpoint, "transport: connected");
                // Frames are written whole; waiting to coalesce them only adds latency.
                s.set_nodelay(true)?;
                s.set_nonblocking(true)?;
                Stream::Tcp(s)
            }
            Endpoint::Unix { path } => {
                let s = UnixStream::connect(path)?;
                tracing::trace!(endpoint = %endpoint, "transport: connected");
                s.set_nonblocking(true)?;
                Stream::Unix(s)
            }
        };
        Ok(stream)
    }
}

impl Read for Stream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Stream::Tcp(s) => s.read(buf),
            Stream::Unix(s) => s.read(buf),
        }
    }
}

impl Write for Stream {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Stream::Tcp(s) => s.write(buf),
            Stream::Unix(s) => s.write(buf),
        }
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
    let mut got = 0;
    while got < buf.len() {
        match r.read(&mut buf[got..]) {
            Ok(0) => return Err(Stop::Eof { got }),
            Ok(n) => got += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                if !wait(r.as_fd(), libc::POLLIN, deadline).map_err(Stop::Io)? {
                    return Err(Stop::Timeout);
                }
            }
            Err(e) => return Err(Stop::Io(e)),
        }
    }
    Ok(())
}

/// Writes all of `buf` or reports why not.
pub(crate) fn write_all<W: Write + AsFd>(
    w: &mut W,
    buf: &[u8],
    deadline: Instant,
) -> Result<(), Stop> {
    let mut sent = 0;
    while sent < buf.len() {
        match w.write(&buf[sent..]) {
            Ok(0) => return Err(Stop::Eof { got: sent }),
            Ok(n) => sent += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                if !wait(w.as_fd(), libc::POLLOUT, deadline).map_err(Stop::Io)? {
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
    if declared > MAX_FRAME_SIZE {
        return Err(TransportError::MalformedResponse {
            transport: what(),
            reason: format!(
                "header declares {declared} bytes, more than the {MAX_FRAME_SIZE}-byte maximum"
            ),
        });
    }
    Ok(declared)
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
