//! A man in the middle on swtpm's data channel, for tests of what a hostile bus or TPM can do
//! to a client: drop, delay, truncate, flip or rewrite any response after the TPM has run the
//! command.
//!
//! The relay listens on a Unix socket of its own and forwards whole frames to the upstream
//! swtpm, one client connection at a time (as swtpm serves them). Its TCTI string
//! ([`Relay::tcti`]) works for the library and the `tpm2-wire` command line alike; swtpm's
//! control channel is reached directly (a link beside the relay's socket), so only data frames
//! pass through the relay.

use std::io::{self, Read, Write};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use super::{io_error, make_state_dir, SimError};
use crate::transport::Endpoint;
use crate::wire::{CommandCode, HEADER_SIZE};

/// Makes the bytes sent in place of a response from the response itself.
pub type Rewriter = Box<dyn FnMut(&[u8]) -> Vec<u8> + Send>;

/// What the relay does to one response.
pub enum Tamper {
    /// Forward the command, swallow the response and close the client's connection: the TPM
    /// ran the command, the client never learns how it went.
    Drop,
    /// XOR `mask` into the byte `from_end` bytes before the end of the response (0: the last
    /// byte, which ends the last session's response HMAC).
    FlipFromEnd {
        /// Offset from the last byte (0 is the last byte).
        from_end: usize,
        /// The bits to flip.
        mask: u8,
    },
    /// Send only the first `len` bytes of the response, then close the connection.
    Truncate(usize),
    /// Hold the response this long before sending it.
    Delay(Duration),
    /// Send what this function makes of the response instead.
    Rewrite(Rewriter),
}

impl core::fmt::Debug for Tamper {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Tamper::Drop => f.write_str("Drop"),
            Tamper::FlipFromEnd { from_end, mask } => f
                .debug_struct("FlipFromEnd")
                .field("from_end", from_end)
                .field("mask", mask)
                .finish(),
            Tamper::Truncate(n) => f.debug_tuple("Truncate").field(n).finish(),
            Tamper::Delay(d) => f.debug_tuple("Delay").field(d).finish(),
            Tamper::Rewrite(_) => f.write_str("Rewrite(..)"),
        }
    }
}

struct Rule {
    code: Option<CommandCode>,
    tamper: Tamper,
}

#[derive(Default)]
struct Shared {
    rules: Mutex<Vec<Rule>>,
    /// Command codes relayed so far, in order.
    seen: Mutex<Vec<CommandCode>>,
    tampered: AtomicUsize,
    stop: AtomicBool,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// A running relay. Dropping it stops the relay and removes its socket directory.
pub struct Relay {
    dir: PathBuf,
    socket: PathBuf,
    shared: Arc<Shared>,
    thread: Option<JoinHandle<()>>,
}

impl core::fmt::Debug for Relay {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Relay")
            .field("socket", &self.socket)
            .finish()
    }
}

/// Largest frame relayed; anything larger closes the connection.
const MAX_FRAME: usize = 64 * 1024;
/// How long the relay waits for swtpm's answer.
const UPSTREAM_TIMEOUT: Duration = Duration::from_secs(60);
/// How often an idle relay looks at its stop flag.
const POLL: Duration = Duration::from_millis(100);

impl Relay {
    /// Starts a relay in front of the swtpm whose data channel is `upstream` (a Unix socket
    /// or loopback TCP). With a Unix-socket swtpm, its control socket is linked beside the
    /// relay's, so [`Relay::tcti`] is a complete swtpm TCTI.
    pub fn start(upstream: Endpoint) -> Result<Relay, SimError> {
        let dir = make_state_dir()?;
        let socket = dir.join("relay.sock");
        let listener = UnixListener::bind(&socket).map_err(io_error("binding the relay socket"))?;
        if let Endpoint::Unix { .. } = &upstream {
            if let Endpoint::Unix { path: ctrl } = upstream.companion() {
                let mut link = socket.clone().into_os_string();
                link.push(".ctrl");
                std::os::unix::fs::symlink(ctrl, PathBuf::from(link))
                    .map_err(io_error("linking the control socket"))?;
            }
        }
        let shared = Arc::new(Shared::default());
        let worker = Arc::clone(&shared);
        let thread = std::thread::Builder::new()
            .name("tpm2-wire-relay".into())
            .spawn(move || serve(&listener, &upstream, &worker))
            .map_err(io_error("starting the relay thread"))?;
        Ok(Relay {
            dir,
            socket,
            shared,
            thread: Some(thread),
        })
    }

    /// The TCTI string that reaches the TPM through this relay.
    pub fn tcti(&self) -> String {
        format!("swtpm:{}", self.endpoint().conf())
    }

    /// The relay's data socket.
    pub fn endpoint(&self) -> Endpoint {
        Endpoint::Unix {
            path: self.socket.clone(),
        }
    }

    /// The relay's socket path.
    pub fn socket_path(&self) -> &Path {
        &self.socket
    }

    /// Tampers with the next response to `code` (any command with `None`). Rules apply in the
    /// order given, each once.
    pub fn tamper(&self, code: Option<CommandCode>, tamper: Tamper) {
        lock(&self.shared.rules).push(Rule { code, tamper });
    }

    /// Rules given but not applied yet.
    pub fn pending(&self) -> usize {
        lock(&self.shared.rules).len()
    }

    /// Responses tampered with so far.
    pub fn tampered(&self) -> usize {
        self.shared.tampered.load(Ordering::SeqCst)
    }

    /// Command codes relayed so far, in order.
    pub fn seen(&self) -> Vec<CommandCode> {
        lock(&self.shared.seen).clone()
    }
}

impl Drop for Relay {
    fn drop(&mut self) {
        self.shared.stop.store(true, Ordering::SeqCst);
        // Wakes the accept call.
        let _ = UnixStream::connect(&self.socket);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn serve(listener: &UnixListener, upstream: &Endpoint, shared: &Shared) {
    for client in listener.incoming() {
        if shared.stop.load(Ordering::SeqCst) {
            return;
        }
        let Ok(client) = client else { continue };
        // A failed connection ends only that connection; the client sees it closed.
        let _ = relay_connection(client, upstream, shared);
    }
}

enum Upstream {
    Unix(UnixStream),
    Tcp(std::net::TcpStream),
}

impl Upstream {
    fn connect(endpoint: &Endpoint) -> io::Result<Upstream> {
        let up = match endpoint {
            Endpoint::Unix { path } => {
                let s = UnixStream::connect(path)?;
                s.set_read_timeout(Some(UPSTREAM_TIMEOUT))?;
                Upstream::Unix(s)
            }
            Endpoint::Tcp { host, port } => {
                let s = std::net::TcpStream::connect((host.as_str(), *port))?;
                s.set_read_timeout(Some(UPSTREAM_TIMEOUT))?;
                s.set_nodelay(true)?;
                Upstream::Tcp(s)
            }
        };
        Ok(up)
    }

    fn stream(&mut self) -> &mut dyn ReadWrite {
        match self {
            Upstream::Unix(s) => s,
            Upstream::Tcp(s) => s,
        }
    }
}

trait ReadWrite: Read + Write {}
impl<T: Read + Write> ReadWrite for T {}

fn relay_connection(
    mut client: UnixStream,
    upstream: &Endpoint,
    shared: &Shared,
) -> io::Result<()> {
    client.set_read_timeout(Some(POLL))?;
    let mut up = Upstream::connect(upstream)?;
    let mut command = Vec::with_capacity(4096);
    let mut response = Vec::with_capacity(4096);
    loop {
        if !read_frame(&mut client, &mut command, Some(&shared.stop))? {
            return Ok(());
        }
        let code = CommandCode(u32::from_be_bytes([
            command[6], command[7], command[8], command[9],
        ]));
        lock(&shared.seen).push(code);
        up.stream().write_all(&command)?;
        if !read_frame(up.stream(), &mut response, None)? {
            return Ok(());
        }
        let rule = {
            let mut rules = lock(&shared.rules);
            rules
                .iter()
                .position(|r| r.code.is_none_or(|c| c == code))
                .map(|i| rules.remove(i))
        };
        let Some(rule) = rule else {
            client.write_all(&response)?;
            continue;
        };
        shared.tampered.fetch_add(1, Ordering::SeqCst);
        match rule.tamper {
            Tamper::Drop => return Ok(()),
            Tamper::FlipFromEnd { from_end, mask } => {
                if let Some(i) = response.len().checked_sub(from_end + 1) {
                    response[i] ^= mask;
                }
                client.write_all(&response)?;
            }
            Tamper::Truncate(len) => {
                client.write_all(&response[..len.min(response.len())])?;
                return Ok(());
            }
            Tamper::Delay(d) => {
                let until = Instant::now() + d;
                while Instant::now() < until && !shared.stop.load(Ordering::SeqCst) {
                    std::thread::sleep(POLL.min(until.saturating_duration_since(Instant::now())));
                }
                client.write_all(&response)?;
            }
            Tamper::Rewrite(mut f) => client.write_all(&f(&response))?,
        }
    }
}

/// Reads one frame (header, then the size it declares). `Ok(false)`: the peer closed before a
/// frame began, or the relay is stopping.
fn read_frame(r: &mut dyn Read, buf: &mut Vec<u8>, stop: Option<&AtomicBool>) -> io::Result<bool> {
    buf.clear();
    buf.resize(HEADER_SIZE, 0);
    if !fill(r, &mut buf[..], stop, true)? {
        return Ok(false);
    }
    let size = u32::from_be_bytes([buf[2], buf[3], buf[4], buf[5]]) as usize;
    if !(HEADER_SIZE..=MAX_FRAME).contains(&size) {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!("frame size {size}"),
        ));
    }
    buf.resize(size, 0);
    if !fill(r, &mut buf[HEADER_SIZE..], stop, false)? {
        return Err(io::ErrorKind::UnexpectedEof.into());
    }
    Ok(true)
}

fn fill(
    r: &mut dyn Read,
    mut buf: &mut [u8],
    stop: Option<&AtomicBool>,
    at_start: bool,
) -> io::Result<bool> {
    let mut got_any = !at_start;
    while !buf.is_empty() {
        match r.read(buf) {
            Ok(0) if !got_any => return Ok(false),
            Ok(0) => return Err(io::ErrorKind::UnexpectedEof.into()),
            Ok(n) => {
                got_any = true;
                buf = &mut buf[n..];
            }
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock
                        | io::ErrorKind::TimedOut
                        | io::ErrorKind::Interrupted
                ) =>
            {
                if stop.is_some_and(|s| s.load(Ordering::SeqCst)) {
                    return Ok(false);
                }
                // The upstream read has no stop flag: its timeout is the limit.
                if stop.is_none() && e.kind() != io::ErrorKind::Interrupted {
                    return Err(e);
                }
            }
            Err(e) => return Err(e),
        }
    }
    Ok(true)
}
