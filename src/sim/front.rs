//! An in-process Microsoft simulator front: TPM port P and platform port P+1 on loopback
//! (or a Unix socket and `<socket>.ctrl`), relaying TPM commands to a swtpm's data socket as
//! raw frames.

use std::io::{ErrorKind, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use super::{SimError, Swtpm};
use crate::transport::{Endpoint, SwtpmTransport, Transport, MAX_TRANSPORT_FRAME_SIZE};
use crate::wire::HEADER_SIZE;

/// Simulator command codes (TPM and platform sockets share the numbering).
const POWER_ON: u32 = 1;
const POWER_OFF: u32 = 2;
const PHYS_PRES_ON: u32 = 3;
const PHYS_PRES_OFF: u32 = 4;
const SEND_COMMAND: u32 = 8;
const CANCEL_ON: u32 = 9;
const CANCEL_OFF: u32 = 10;
const NV_ON: u32 = 11;
const NV_OFF: u32 = 12;
const KEY_CACHE_ON: u32 = 13;
const KEY_CACHE_OFF: u32 = 14;
const RESET: u32 = 17;
const RESTART: u32 = 18;
const SESSION_END: u32 = 20;
const STOP: u32 = 21;

/// How often blocked threads look at the shutdown flag.
const TICK: Duration = Duration::from_millis(20);

/// A running front. Dropping it stops accepting, closes every connection, joins all threads
/// and removes its Unix socket files, if any.
#[derive(Debug)]
pub struct MssimFront {
    endpoint: Endpoint,
    shutdown: Arc<AtomicBool>,
    acceptors: Vec<JoinHandle<()>>,
}

#[derive(Clone, Copy, Debug)]
enum Channel {
    Tpm,
    Platform,
}

/// A listening socket of either family.
#[derive(Debug)]
enum Listener {
    Tcp(TcpListener),
    Unix(UnixListener),
}

impl Listener {
    fn set_nonblocking(&self) -> std::io::Result<()> {
        match self {
            Listener::Tcp(l) => l.set_nonblocking(true),
            Listener::Unix(l) => l.set_nonblocking(true),
        }
    }

    fn accept(&self) -> std::io::Result<Conn> {
        match self {
            Listener::Tcp(l) => l.accept().map(|(s, _)| Conn::Tcp(s)),
            Listener::Unix(l) => l.accept().map(|(s, _)| Conn::Unix(s)),
        }
    }
}

/// An accepted connection of either family.
#[derive(Debug)]
enum Conn {
    Tcp(TcpStream),
    Unix(UnixStream),
}

impl Conn {
    /// Blocking with short read timeouts, so the serving thread notices shutdown.
    fn configure(&self) -> std::io::Result<()> {
        match self {
            Conn::Tcp(s) => {
                s.set_nonblocking(false)?;
                s.set_read_timeout(Some(TICK))?;
                s.set_write_timeout(Some(WRITE_TIMEOUT))?;
                s.set_nodelay(true)
            }
            Conn::Unix(s) => {
                s.set_nonblocking(false)?;
                s.set_read_timeout(Some(TICK))?;
                s.set_write_timeout(Some(WRITE_TIMEOUT))
            }
        }
    }
}

impl Read for Conn {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        match self {
            Conn::Tcp(s) => s.read(buf),
            Conn::Unix(s) => s.read(buf),
        }
    }
}

impl Write for Conn {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        match self {
            Conn::Tcp(s) => s.write(buf),
            Conn::Unix(s) => s.write(buf),
        }
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// How long a reply may take to leave; a client that stops reading is dropped.
const WRITE_TIMEOUT: Duration = Duration::from_secs(10);

impl MssimFront {
    /// Listens on two free consecutive loopback ports and relays to the swtpm at `swtpm`.
    /// Platform commands (power, NV, cancel, ...) are acknowledged with 0 and not forwarded:
    /// the swtpm is expected to be started already (`--flags startup-clear`).
    pub fn start(swtpm: Endpoint) -> Result<MssimFront, SimError> {
        let (tpm, platform) = super::bind_pair()?;
        let port = tpm
            .local_addr()
            .map_err(super::io_error("reading the front's address"))?
            .port();
        let endpoint = Endpoint::Tcp {
            host: "127.0.0.1".into(),
            port,
        };
        MssimFront::run(endpoint, Listener::Tcp(tpm), Listener::Tcp(platform), swtpm)
    }

    /// Like [`MssimFront::start`], on Unix sockets at `socket` and `<socket>.ctrl` (the
    /// `mssim:path=` form). Both files must not exist yet; they are removed on drop.
    pub fn start_unix(swtpm: Endpoint, socket: &Path) -> Result<MssimFront, SimError> {
        let endpoint = Endpoint::Unix {
            path: socket.to_path_buf(),
        };
        let ctrl = socket_path(&endpoint.companion());
        let tpm = UnixListener::bind(socket)
            .map_err(super::io_error(format!("binding {}", socket.display())))?;
        let platform = match UnixListener::bind(&ctrl) {
            Ok(l) => l,
            Err(e) => {
                let _ = std::fs::remove_file(socket);
                return Err(SimError::Io {
                    what: format!("binding {}", ctrl.display()),
                    source: e,
                });
            }
        };
        MssimFront::run(
            endpoint,
            Listener::Unix(tpm),
            Listener::Unix(platform),
            swtpm,
        )
    }

    fn run(
        endpoint: Endpoint,
        tpm: Listener,
        platform: Listener,
        swtpm: Endpoint,
    ) -> Result<MssimFront, SimError> {
        // From here on, dropping `front` (also on error) stops the threads and removes sockets.
        let mut front = MssimFront {
            endpoint,
            shutdown: Arc::new(AtomicBool::new(false)),
            acceptors: Vec::new(),
        };
        for (listener, channel) in [(tpm, Channel::Tpm), (platform, Channel::Platform)] {
            listener
                .set_nonblocking()
                .map_err(super::io_error("configuring the front's listener"))?;
            let flag = Arc::clone(&front.shutdown);
            let target = swtpm.clone();
            let handle = std::thread::Builder::new()
                .name(format!("mssim-front-{channel:?}"))
                .spawn(move || accept_loop(listener, channel, target, flag))
                .map_err(super::io_error("starting the front's thread"))?;
            front.acceptors.push(handle);
        }
        Ok(front)
    }

    /// A front for a running [`Swtpm`].
    pub fn for_swtpm(swtpm: &Swtpm) -> Result<MssimFront, SimError> {
        MssimFront::start(swtpm.endpoint())
    }

    /// `mssim:host=127.0.0.1,port=P` or `mssim:path=SOCKET`.
    pub fn tcti(&self) -> String {
        format!("mssim:{}", self.endpoint.conf())
    }

    /// The TPM command socket clients connect to.
    pub fn endpoint(&self) -> &Endpoint {
        &self.endpoint
    }

    /// The TPM port (the platform port is one above); `None` for Unix sockets.
    pub fn port(&self) -> Option<u16> {
        match self.endpoint {
            Endpoint::Tcp { port, .. } => Some(port),
            Endpoint::Unix { .. } => None,
        }
    }
}

fn socket_path(endpoint: &Endpoint) -> PathBuf {
    match endpoint {
        Endpoint::Unix { path } => path.clone(),
        Endpoint::Tcp { .. } => PathBuf::new(),
    }
}

impl Drop for MssimFront {
    fn drop(&mut self) {
        self.shutdown.store(true, Ordering::SeqCst);
        for handle in self.acceptors.drain(..) {
            let _ = handle.join();
        }
        if let Endpoint::Unix { path } = &self.endpoint {
            let _ = std::fs::remove_file(path);
            let _ = std::fs::remove_file(socket_path(&self.endpoint.companion()));
        }
    }
}

fn accept_loop(listener: Listener, channel: Channel, swtpm: Endpoint, shutdown: Arc<AtomicBool>) {
    let mut connections: Vec<JoinHandle<()>> = Vec::new();
    while !shutdown.load(Ordering::SeqCst) {
        match listener.accept() {
            Ok(stream) => {
                let flag = Arc::clone(&shutdown);
                let target = swtpm.clone();
                let spawned = std::thread::Builder::new()
                    .name(format!("mssim-front-{channel:?}-conn"))
                    .spawn(move || serve(stream, channel, &target, &flag));
                // Without a thread the connection is dropped, which the client sees as closed.
                if let Ok(handle) = spawned {
                    connections.push(handle);
                }
            }
            Err(e) if e.kind() == ErrorKind::WouldBlock || e.kind() == ErrorKind::Interrupted => {
                std::thread::sleep(TICK)
            }
            Err(_) => std::thread::sleep(TICK),
        }
        // Reap finished connections so a long-lived front does not accumulate handles.
        let (done, running): (Vec<_>, Vec<_>) =
            connections.into_iter().partition(|h| h.is_finished());
        for handle in done {
            let _ = handle.join();
        }
        connections = running;
    }
    for handle in connections {
        let _ = handle.join();
    }
}

/// Fills `buf` unless the peer closes, an error occurs or shutdown is requested.
fn read_full(stream: &mut Conn, buf: &mut [u8], shutdown: &AtomicBool) -> Option<()> {
    let mut got = 0;
    while got < buf.len() {
        if shutdown.load(Ordering::SeqCst) {
            return None;
        }
        match stream.read(&mut buf[got..]) {
            Ok(0) => return None,
            Ok(n) => got += n,
            Err(e)
                if matches!(
                    e.kind(),
                    ErrorKind::WouldBlock | ErrorKind::TimedOut | ErrorKind::Interrupted
                ) => {}
            Err(_) => return None,
        }
    }
    Some(())
}

fn read_u32(stream: &mut Conn, shutdown: &AtomicBool) -> Option<u32> {
    let mut b = [0u8; 4];
    read_full(stream, &mut b, shutdown)?;
    Some(u32::from_be_bytes(b))
}

/// Serves one connection until the client ends it, sends something we do not understand,
/// or the front shuts down.
fn serve(mut stream: Conn, channel: Channel, swtpm: &Endpoint, shutdown: &AtomicBool) {
    // Accepted sockets may inherit non-blocking mode; short read timeouts instead let the
    // thread notice shutdown.
    if stream.configure().is_err() {
        return;
    }
    let mut relay: Option<SwtpmTransport> = None;
    let mut locality = 0u8;
    let mut command = Vec::new();
    let mut response = Vec::new();
    while let Some(code) = read_u32(&mut stream, shutdown) {
        match (channel, code) {
            (_, SESSION_END | STOP) => return,
            (
                Channel::Platform,
                POWER_ON | POWER_OFF | PHYS_PRES_ON | PHYS_PRES_OFF | CANCEL_ON | CANCEL_OFF
                | NV_ON | NV_OFF | KEY_CACHE_ON | KEY_CACHE_OFF | RESET | RESTART,
            ) => {
                if stream.write_all(&0u32.to_be_bytes()).is_err() {
                    return;
                }
            }
            (Channel::Tpm, SEND_COMMAND) => {
                let mut loc = [0u8; 1];
                if read_full(&mut stream, &mut loc, shutdown).is_none() {
                    return;
                }
                let Some(size) = read_u32(&mut stream, shutdown) else {
                    return;
                };
                let size = size as usize;
                if !(HEADER_SIZE..=MAX_TRANSPORT_FRAME_SIZE).contains(&size) {
                    return;
                }
                command.resize(size, 0);
                if read_full(&mut stream, &mut command, shutdown).is_none() {
                    return;
                }
                let Some(relay) = relay_for(&mut relay, swtpm) else {
                    return;
                };
                if loc[0] != locality {
                    if relay.set_locality(loc[0]).is_err() {
                        return;
                    }
                    locality = loc[0];
                }
                if relay.transact(&command, &mut response).is_err() {
                    return;
                }
                let mut reply = Vec::with_capacity(response.len() + 8);
                reply.extend_from_slice(&(response.len() as u32).to_be_bytes());
                reply.extend_from_slice(&response);
                reply.extend_from_slice(&0u32.to_be_bytes());
                if stream.write_all(&reply).is_err() {
                    return;
                }
            }
            // Unknown codes may carry payloads we cannot skip: end the connection.
            _ => return,
        }
    }
}

/// The swtpm connection for one client connection, opened on its first command.
fn relay_for<'a>(
    relay: &'a mut Option<SwtpmTransport>,
    swtpm: &Endpoint,
) -> Option<&'a mut SwtpmTransport> {
    if relay.is_none() {
        let mut t = SwtpmTransport::connect(swtpm.clone()).ok()?;
        // A relay passes answers through; the client decides about TPM2_Startup.
        t.set_auto_startup(false);
        t.set_timeout(Duration::from_secs(120));
        *relay = Some(t);
    }
    relay.as_mut()
}
