//! A private swtpm for tests and examples, and an in-process Microsoft-simulator front for it.
//!
//! [`Swtpm`] starts `swtpm socket --tpm2` on free loopback ports (or Unix sockets) with a
//! fresh state directory, waits until it answers, and kills it when dropped. [`MssimFront`]
//! speaks the Microsoft simulator protocol and relays to a swtpm, because swtpm's own control
//! port does not understand the simulator's platform commands. [`Relay`] sits between a
//! client and a swtpm and tampers with chosen responses (a hostile bus in tests).

pub mod ek;
mod front;
mod relay;
mod responder;

pub use front::MssimFront;
pub use relay::{Relay, Rewriter, Tamper};
pub use responder::Responder;

use std::fs::File;
use std::net::{Ipv4Addr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use crate::transport::{Endpoint, SwtpmTransport, Transport, TransportError};

/// Why a simulator could not be started.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SimError {
    /// The `swtpm` program is not on the `PATH`. Tests fail on it rather than skip.
    #[error("swtpm not found: install the Debian package swtpm")]
    NotInstalled,
    /// Preparing or starting the simulator failed (its state directory, sockets, process).
    #[error("{what}: {source}")]
    Io {
        /// What was being done.
        what: String,
        /// The operating system's error.
        #[source]
        source: std::io::Error,
    },
    /// swtpm started but did not become usable.
    #[error("swtpm did not start: {reason}; its output: {log}")]
    Startup {
        /// What went wrong.
        reason: String,
        /// What swtpm printed, for diagnosis.
        log: String,
    },
    /// Connecting to the started simulator failed.
    #[error(transparent)]
    Transport(#[from] TransportError),
}

fn io_error(what: impl Into<String>) -> impl FnOnce(std::io::Error) -> SimError {
    let what = what.into();
    move |source| SimError::Io { what, source }
}

/// How swtpm is reached.
#[derive(Clone, Debug)]
enum Listen {
    Tcp { port: u16, ctrl_port: u16 },
    Unix { socket: PathBuf },
}

/// A running private swtpm. Dropping it kills the process and removes its state directory.
#[derive(Debug)]
pub struct Swtpm {
    child: Option<Child>,
    state_dir: PathBuf,
    listen: Listen,
}

/// How long a fresh swtpm may take to answer its first command.
const READY_TIMEOUT: Duration = Duration::from_secs(15);
/// Attempts at finding a port pair nobody else grabs between our probe and swtpm's bind.
const PORT_ATTEMPTS: usize = 8;

impl Swtpm {
    /// Starts swtpm on two free consecutive loopback TCP ports (data P, control P+1).
    pub fn spawn() -> Result<Swtpm, SimError> {
        let mut sim = Swtpm {
            child: None,
            state_dir: make_state_dir()?,
            listen: Listen::Tcp {
                port: 0,
                ctrl_port: 0,
            },
        };
        let mut last = None;
        for _ in 0..PORT_ATTEMPTS {
            let port = {
                // Released just before swtpm binds them; a thief in between is retried below.
                let (data, _ctrl) = bind_pair()?;
                data.local_addr()
                    .map_err(io_error("reading a bound address"))?
                    .port()
            };
            sim.listen = Listen::Tcp {
                port,
                ctrl_port: port + 1,
            };
            match sim.start() {
                Ok(()) => return Ok(sim),
                // Someone took a port between our probe and swtpm's bind: try another pair.
                Err(e @ SimError::Startup { .. })
                    if e.to_string().contains("Address already in use") =>
                {
                    last = Some(e)
                }
                // Dropping `sim` removes the state directory.
                Err(e) => return Err(e),
            }
        }
        Err(last.unwrap_or_else(|| SimError::Startup {
            reason: "no free pair of consecutive loopback ports found".into(),
            log: String::new(),
        }))
    }

    /// Starts swtpm on Unix sockets inside the state directory (`swtpm.sock` and
    /// `swtpm.sock.ctrl`), for the `swtpm:path=` form.
    pub fn spawn_unix() -> Result<Swtpm, SimError> {
        let state_dir = make_state_dir()?;
        let mut sim = Swtpm {
            child: None,
            state_dir: state_dir.clone(),
            listen: Listen::Unix {
                socket: state_dir.join("swtpm.sock"),
            },
        };
        sim.start()?;
        Ok(sim)
    }

    /// The TCTI string that reaches this swtpm.
    pub fn tcti(&self) -> String {
        format!("swtpm:{}", self.endpoint().conf())
    }

    /// The data socket ([`Endpoint::Tcp`] on 127.0.0.1, or [`Endpoint::Unix`]).
    pub fn endpoint(&self) -> Endpoint {
        match &self.listen {
            Listen::Tcp { port, .. } => Endpoint::Tcp {
                host: "127.0.0.1".into(),
                port: *port,
            },
            Listen::Unix { socket } => Endpoint::Unix {
                path: socket.clone(),
            },
        }
    }

    /// The data port (None for Unix sockets).
    pub fn port(&self) -> Option<u16> {
        match self.listen {
            Listen::Tcp { port, .. } => Some(port),
            Listen::Unix { .. } => None,
        }
    }

    /// The control port (None for Unix sockets).
    pub fn ctrl_port(&self) -> Option<u16> {
        match self.listen {
            Listen::Tcp { ctrl_port, .. } => Some(ctrl_port),
            Listen::Unix { .. } => None,
        }
    }

    /// The data socket path (None for TCP).
    pub fn socket_path(&self) -> Option<&Path> {
        match &self.listen {
            Listen::Tcp { .. } => None,
            Listen::Unix { socket } => Some(socket),
        }
    }

    /// swtpm's private state directory (removed on drop).
    pub fn state_dir(&self) -> &Path {
        &self.state_dir
    }

    /// The swtpm process id, while it runs.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// A connected transport to this swtpm.
    pub fn transport(&self) -> Result<SwtpmTransport, SimError> {
        Ok(SwtpmTransport::connect(self.endpoint())?)
    }

    /// Stops swtpm and starts it again on the same state and addresses: a TPM reset (all
    /// sessions and transient objects are gone, NV and hierarchies remain).
    pub fn restart(&mut self) -> Result<(), SimError> {
        self.stop();
        let until = Instant::now() + Duration::from_secs(5);
        loop {
            match self.start() {
                Ok(()) => return Ok(()),
                // The old listener may linger for a moment; retry briefly.
                Err(SimError::Startup { .. }) if Instant::now() < until => {
                    std::thread::sleep(Duration::from_millis(100));
                }
                Err(e) => return Err(e),
            }
        }
    }

    fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    fn start(&mut self) -> Result<(), SimError> {
        let dir = self.state_dir.display().to_string();
        let mut args: Vec<String> = vec![
            "socket".into(),
            "--tpm2".into(),
            "--tpmstate".into(),
            format!("dir={dir}"),
            "--flags".into(),
            "not-need-init,startup-clear".into(),
        ];
        match &self.listen {
            Listen::Tcp { port, ctrl_port } => {
                args.push("--server".into());
                args.push(format!("type=tcp,port={port},bindaddr=127.0.0.1"));
                args.push("--ctrl".into());
                args.push(format!("type=tcp,port={ctrl_port},bindaddr=127.0.0.1"));
            }
            Listen::Unix { socket } => {
                // swtpm refuses to bind over a stale socket file from a previous run.
                let ctrl = Endpoint::Unix {
                    path: socket.clone(),
                }
                .companion();
                let _ = std::fs::remove_file(socket);
                if let Endpoint::Unix { path } = &ctrl {
                    let _ = std::fs::remove_file(path);
                    args.push("--server".into());
                    args.push(format!("type=unixio,path={}", socket.display()));
                    args.push("--ctrl".into());
                    args.push(format!("type=unixio,path={}", path.display()));
                }
            }
        }
        let log_path = self.state_dir.join("swtpm.log");
        let log = File::create(&log_path)
            .map_err(io_error(format!("creating {}", log_path.display())))?;
        let log_err = log
            .try_clone()
            .map_err(io_error("duplicating the log file"))?;
        let child = Command::new("swtpm")
            .args(&args)
            .stdin(Stdio::null())
            .stdout(log)
            .stderr(log_err)
            .spawn()
            .map_err(|e| {
                if e.kind() == std::io::ErrorKind::NotFound {
                    SimError::NotInstalled
                } else {
                    SimError::Io {
                        what: "starting swtpm".into(),
                        source: e,
                    }
                }
            })?;
        self.child = Some(child);
        match self.wait_ready() {
            Ok(()) => Ok(()),
            Err(reason) => {
                self.stop();
                Err(SimError::Startup {
                    reason,
                    log: std::fs::read_to_string(&log_path).unwrap_or_default(),
                })
            }
        }
    }

    /// Polls until swtpm answers TPM2_GetRandom(8) with success, or exits, or time runs out.
    fn wait_ready(&mut self) -> Result<(), String> {
        const GET_RANDOM_8: [u8; 12] = [0x80, 0x01, 0, 0, 0, 0x0C, 0, 0, 0x01, 0x7B, 0, 8];
        let until = Instant::now() + READY_TIMEOUT;
        let mut last = String::from("not tried");
        while Instant::now() < until {
            if let Some(child) = self.child.as_mut() {
                if let Ok(Some(status)) = child.try_wait() {
                    self.child = None;
                    return Err(format!("swtpm exited ({status})"));
                }
            }
            let answer = SwtpmTransport::connect(self.endpoint()).and_then(|mut t| {
                t.set_timeout(Duration::from_secs(2));
                let mut rsp = Vec::new();
                t.transact(&GET_RANDOM_8, &mut rsp)?;
                Ok(rsp)
            });
            match answer {
                Ok(rsp) if rsp.get(6..10) == Some(&[0, 0, 0, 0][..]) => return Ok(()),
                Ok(rsp) => last = format!("GetRandom answered {rsp:02x?}"),
                Err(e) => last = e.to_string(),
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        Err(format!("no answer within {READY_TIMEOUT:?} (last: {last})"))
    }
}

impl Drop for Swtpm {
    fn drop(&mut self) {
        self.stop();
        let _ = std::fs::remove_dir_all(&self.state_dir);
    }
}

/// A new empty directory under the system temp dir, unique to this process and call.
fn make_state_dir() -> Result<PathBuf, SimError> {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let mut last = None;
    for _ in 0..16 {
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or(0);
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let dir = std::env::temp_dir().join(format!(
            "tpm2-wire-swtpm-{}-{n}-{nanos:08x}",
            std::process::id()
        ));
        match std::fs::create_dir(&dir) {
            Ok(()) => return Ok(dir),
            Err(e) => last = Some(e),
        }
    }
    Err(SimError::Io {
        what: "creating a swtpm state directory".into(),
        source: last.unwrap_or_else(|| std::io::Error::other("no attempt made")),
    })
}

/// Two listeners on consecutive loopback ports P and P+1.
///
/// The ports are drawn at random *below* the kernel's ephemeral range: Linux hands even
/// ephemeral ports to outgoing connections, and each closed connection keeps its port in
/// TIME_WAIT for a minute, so on a busy machine P+1 next to a `bind(0)` port is often taken.
pub(crate) fn bind_pair() -> Result<(TcpListener, TcpListener), SimError> {
    use rand_core::RngCore;
    let ephemeral_low = std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range")
        .ok()
        .and_then(|r| r.split_whitespace().next()?.parse::<u16>().ok())
        .unwrap_or(32768);
    // Stay above the well-known and commonly configured service ports.
    const LOWEST: u16 = 10000;
    let span = ephemeral_low
        .saturating_sub(LOWEST)
        .saturating_sub(1)
        .max(1);
    let mut last = None;
    for _ in 0..256 {
        let port = LOWEST + (rand_core::OsRng.next_u32() % u32::from(span)) as u16;
        let first = match TcpListener::bind((Ipv4Addr::LOCALHOST, port)) {
            Ok(l) => l,
            Err(e) => {
                last = Some(e);
                continue;
            }
        };
        match TcpListener::bind((Ipv4Addr::LOCALHOST, port + 1)) {
            Ok(second) => return Ok((first, second)),
            Err(e) => last = Some(e),
        }
    }
    Err(SimError::Io {
        what: "finding two consecutive free loopback ports".into(),
        source: last.unwrap_or_else(|| std::io::Error::other("no attempt made")),
    })
}
