//! `cmd:`: a shell command, spawned once per transport, that relays raw frames on its
//! stdin/stdout (e.g. `tpm2_send`, or `nc` to a relay).
//!
//! The command must not outlive us. Dropping the transport ends its whole process group. If
//! this process dies without dropping it (SIGKILL, abort), the kernel sends SIGKILL to the
//! command (`PR_SET_PDEATHSIG`), and whatever the command started itself sees end of file on
//! the stdin it shares with it. `PR_SET_PDEATHSIG` fires when the *thread* that forked the
//! child exits, not the process, so children are forked by one dedicated thread that lives as
//! long as the process: a transport opened in a short-lived thread keeps its command.

use std::os::unix::process::CommandExt;
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::sync::{mpsc, Mutex};
use std::time::{Duration, Instant};

use super::io::{self, Pending};
use super::{check_command, Transport, TransportError, DEFAULT_TIMEOUT};

/// The child process and its pipes, non-blocking so every wait is bounded.
#[derive(Debug)]
pub struct CmdTransport {
    command: String,
    child: Child,
    stdin: Option<ChildStdin>,
    stdout: ChildStdout,
    timeout: Duration,
    /// Set after a failed exchange: the relay's byte stream is out of step (a late answer
    /// would be taken for the next command's), so the transport refuses further use.
    failed: Option<String>,
}

impl CmdTransport {
    /// Runs `sh -c command` with piped stdin/stdout (stderr is inherited). The child gets its
    /// own process group so that dropping the transport also ends what the shell started.
    pub fn spawn(command: &str) -> Result<Self, TransportError> {
        let what = || format!("cmd:{command}");
        let io_err = |message: &str, e: std::io::Error| TransportError::Io {
            transport: what(),
            message: message.to_string(),
            source: Some(e),
        };
        let mut child =
            spawn_from_forker(command).map_err(|e| io_err("cannot start /bin/sh", e))?;
        let (Some(stdin), Some(stdout)) = (child.stdin.take(), child.stdout.take()) else {
            let _ = child.kill();
            let _ = child.wait();
            return Err(TransportError::Io {
                transport: what(),
                message: "child has no pipes".into(),
                source: None,
            });
        };
        let t = CmdTransport {
            command: command.to_string(),
            child,
            stdin: Some(stdin),
            stdout,
            timeout: DEFAULT_TIMEOUT,
            failed: None,
        };
        let nonblocking = t
            .stdin
            .as_ref()
            .map_or(Ok(()), |s| {
                crate::os::set_nonblocking(std::os::fd::AsFd::as_fd(s))
            })
            .and_then(|()| crate::os::set_nonblocking(std::os::fd::AsFd::as_fd(&t.stdout)));
        nonblocking.map_err(|e| io_err("cannot make the pipes non-blocking", e))?;
        Ok(t)
    }

    fn what(&self) -> String {
        format!("cmd:{}", self.command)
    }

    /// The child's state for error messages: its exit status, or that it is alive but
    /// closed its stdout.
    fn child_state(&mut self) -> String {
        match self.child.try_wait() {
            Ok(Some(status)) => format!("the command exited ({status})"),
            Ok(None) => "the command closed its stdout".into(),
            Err(e) => format!("the command's state is unknown ({e})"),
        }
    }

    /// A pipe EOF or EPIPE becomes `Closed` with the child's exit status.
    fn closed_or(&mut self, e: TransportError) -> TransportError {
        match e {
            TransportError::Closed { transport, detail } => {
                // Give a child that is exiting a moment to be reaped so its status shows.
                std::thread::sleep(Duration::from_millis(20));
                TransportError::Closed {
                    transport,
                    detail: format!("{detail}: {}", self.child_state()),
                }
            }
            TransportError::Io {
                source: Some(s), ..
            } if s.kind() == std::io::ErrorKind::BrokenPipe => {
                std::thread::sleep(Duration::from_millis(20));
                TransportError::Closed {
                    transport: self.what(),
                    detail: format!(
                        "the command stopped reading its stdin: {}",
                        self.child_state()
                    ),
                }
            }
            other => other,
        }
    }

    fn exchange(&mut self, command: &[u8], response: &mut Vec<u8>) -> Result<(), TransportError> {
        let what = self.what();
        let what = || what.clone();
        let deadline = Instant::now() + self.timeout;
        match io::pending(&mut self.stdout) {
            Pending::Nothing => {}
            Pending::Closed => {
                return Err(TransportError::Closed {
                    transport: what(),
                    detail: "stdout is closed".into(),
                })
            }
            Pending::Bytes(n) => {
                return Err(TransportError::MalformedResponse {
                    transport: what(),
                    reason: format!("{n}+ unsolicited bytes arrived before the command was sent"),
                })
            }
        }
        let Some(stdin) = self.stdin.as_mut() else {
            return Err(TransportError::Closed {
                transport: what(),
                detail: "stdin is closed".into(),
            });
        };
        io::write_all(stdin, command, deadline).map_err(|e| {
            io::stop_error(
                e,
                &what,
                self.timeout,
                "writing the command to the command's stdin",
                0,
            )
        })?;
        io::read_frame(&mut self.stdout, response, deadline, self.timeout, &what)?;
        io::check_no_trailing(&mut self.stdout, response.len(), &what)
    }
}

impl Transport for CmdTransport {
    fn transact(&mut self, command: &[u8], response: &mut Vec<u8>) -> Result<(), TransportError> {
        check_command(&|| self.what(), command)?;
        if let Some(earlier) = &self.failed {
            return Err(TransportError::Closed {
                transport: self.what(),
                detail: format!(
                    "unusable after an earlier failure ({earlier}); open a new transport"
                ),
            });
        }
        let result = self
            .exchange(command, response)
            .map_err(|e| self.closed_or(e));
        if let Err(e) = &result {
            self.failed = Some(e.to_string());
        }
        result
    }

    fn describe(&self) -> String {
        self.what()
    }

    fn set_timeout(&mut self, timeout: Duration) {
        self.timeout = super::bounded_timeout(timeout);
    }
}

impl Drop for CmdTransport {
    /// Closes stdin (a relay like `tpm2_send` exits on EOF), then escalates SIGTERM → SIGKILL
    /// to the whole process group, and always reaps the child.
    fn drop(&mut self) {
        self.stdin = None;
        let pgid = self.child.id() as libc::pid_t;
        let exited_within = |child: &mut Child, wait: Duration| {
            let until = Instant::now() + wait;
            loop {
                match child.try_wait() {
                    Ok(Some(_)) | Err(_) => return true,
                    Ok(None) if Instant::now() >= until => return false,
                    Ok(None) => std::thread::sleep(Duration::from_millis(5)),
                }
            }
        };
        if !exited_within(&mut self.child, Duration::from_millis(100)) {
            // Our own child's process group: the child is not reaped yet, so its pid (= the
            // group id) cannot have been reused.
            crate::os::kill_group(pgid, libc::SIGTERM);
            if !exited_within(&mut self.child, Duration::from_millis(500)) {
                crate::os::kill_group(pgid, libc::SIGKILL);
            }
        }
        let _ = self.child.wait();
    }
}

/// A request to the forking thread: the command, and where to send the started child.
struct SpawnRequest {
    command: String,
    reply: mpsc::Sender<std::io::Result<Child>>,
}

/// The channel to the thread that forks every `cmd:` child (see the module docs for why one
/// thread); started on first use.
static FORKER: Mutex<Option<mpsc::Sender<SpawnRequest>>> = Mutex::new(None);

/// Has the forking thread start `sh -c command`, starting that thread if needed.
fn spawn_from_forker(command: &str) -> std::io::Result<Child> {
    let (reply, answer) = mpsc::channel();
    let request = SpawnRequest {
        command: command.to_string(),
        reply,
    };
    {
        // Holds only a channel end: a panic elsewhere cannot leave it half-updated.
        let mut forker = FORKER.lock().unwrap_or_else(|e| e.into_inner());
        let sender = match forker.as_ref() {
            Some(s) => s.clone(),
            None => {
                let (tx, rx) = mpsc::channel::<SpawnRequest>();
                std::thread::Builder::new()
                    .name("tpm2-wire cmd forker".into())
                    .spawn(move || {
                        for r in rx {
                            let _ = r.reply.send(spawn_shell(&r.command));
                        }
                    })?;
                forker.insert(tx).clone()
            }
        };
        if let Err(mpsc::SendError(request)) = sender.send(request) {
            // The forking thread is gone (it never exits on its own): fork here instead of
            // failing, and let the next spawn start a new thread.
            *forker = None;
            return spawn_shell(&request.command);
        }
    }
    answer.recv().unwrap_or_else(|_| {
        Err(std::io::Error::other(
            "the thread that starts cmd: children went away",
        ))
    })
}

/// `sh -c command` with piped stdin/stdout, in its own process group, killed by the kernel if
/// the forking thread (see the module docs) dies.
fn spawn_shell(command: &str) -> std::io::Result<Child> {
    let parent = std::process::id() as libc::pid_t;
    let mut cmd = Command::new("/bin/sh");
    cmd.arg("-c")
        .arg(command)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .process_group(0);
    crate::os::kill_child_with_parent(&mut cmd, parent);
    cmd.spawn()
}
