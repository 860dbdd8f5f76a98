//! Deadline-bounded I/O on non-blocking file descriptors (sockets, pipes, the TPM device),
//! and the frame reader shared by the stream backends.

use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::os::unix::net::UnixStream;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use super::{TransportError, MAX_TRANSPORT_FRAME_SIZE};
use crate::os;
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
}

/// A new stream socket, connected with a blocking `connect` bounded by the socket's send
/// timeout (socket(7): connect then fails with EINPROGRESS, or EAGAIN on Unix sockets). That
/// is one system call where a non-blocking connect takes three (connect, poll, getsockopt)
/// and two mode switches. The socket stays in blocking mode: every read and write after this
/// passes MSG_DONTWAIT and waits in `poll` with a deadline instead (see [`Stream`]'s `Read`
/// and `Write`), so the send timeout set here never applies to them.
fn connect_socket(peer: os::Peer<'_>, timeout: Duration) -> io::Result<OwnedFd> {
    let deadline = Instant::now() + timeout;
    let timed_out = || {
        io::Error::new(
            io::ErrorKind::TimedOut,
            format!("connecting timed out after {timeout:?}"),
        )
    };
    match os::connect_stream(peer, timeout) {
        Ok(os::Connecting::Done(fd)) => Ok(fd),
        // A signal interrupted the wait; the attempt goes on in the background.
        Ok(os::Connecting::Interrupted(fd)) => {
            if !os::wait(fd.as_fd(), libc::POLLOUT, deadline)? {
                return Err(timed_out());
            }
            os::socket_error(fd.as_fd())?;
            Ok(fd)
        }
        Err(e) if matches!(e.raw_os_error(), Some(libc::EINPROGRESS | libc::EAGAIN)) => {
            Err(timed_out())
        }
        Err(e) => Err(e),
    }
}

fn connect_tcp(addr: &SocketAddr, timeout: Duration) -> io::Result<TcpStream> {
    Ok(TcpStream::from(connect_socket(
        os::Peer::Inet(addr),
        timeout,
    )?))
}

fn connect_unix(path: &std::path::Path, timeout: Duration) -> io::Result<UnixStream> {
    Ok(UnixStream::from(connect_socket(
        os::Peer::Unix(path),
        timeout,
    )?))
}

/// Reads and writes never block, whatever the socket's mode: MSG_DONTWAIT on each call (no
/// fcntl/ioctl round trips to switch modes), MSG_NOSIGNAL so a closed peer gives EPIPE, not
/// SIGPIPE. Callers wait in [`wait`] on WouldBlock.
impl Read for Stream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        os::recv_nowait(self.as_fd(), buf)
    }
}

impl Write for Stream {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        os::send_nowait(self.as_fd(), buf)
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
                if !os::wait(t.as_fd(), events, deadline).map_err(Stop::Io)? {
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
        if !os::wait(r.as_fd(), libc::POLLIN, deadline).map_err(|e| stop(Stop::Io(e)))? {
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
