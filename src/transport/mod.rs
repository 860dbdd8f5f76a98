//! Transports: how command bytes reach a TPM and response bytes come back. One trait, several
//! backends, configured by tpm2-tss style TCTI strings. Knows nothing of sessions.

use std::time::Duration;

use crate::command::{Command, Startup};
use crate::wire::{
    begin_command, finish_command, CommandCode, Header, ResponseCode, StartupType, StructureTag,
    Writer, HEADER_SIZE,
};

mod cmd;
mod device;
pub(crate) mod io;
mod mssim;
mod retry;
mod swtpm;
mod tcti;

pub use cmd::CmdTransport;
pub use device::DeviceTransport;
pub use io::Endpoint;
pub use mssim::MssimTransport;
pub use retry::{transact_with_retry, RetryPolicy};
pub use swtpm::SwtpmTransport;
pub use tcti::{
    open, open_with_env_value, probe, Tcti, DEFAULT_DEVICES, DEFAULT_PROBE, MAX_TIMEOUT_SECS,
    TCTI_ENV_VAR,
};

/// The largest frame a transport moves: commands longer than this are not sent, and a peer
/// announcing a longer response is refused before anything is allocated. Real TPMs take and
/// give at most a few KiB (MAX_COMMAND_SIZE / MAX_RESPONSE_SIZE, 4096 on most:
/// [`crate::wire::DEFAULT_MAX_COMMAND_SIZE`]); the margin is for vendor extensions and TPMs with
/// larger buffers, which say so in TPM_PT_MAX_COMMAND_SIZE / TPM_PT_MAX_RESPONSE_SIZE.
pub const MAX_TRANSPORT_FRAME_SIZE: usize = 64 * 1024;

/// How long a backend waits for a response unless told otherwise (the TCTI option
/// `timeout=SECONDS`, [`Transport::set_timeout`], or the CLI's `--timeout`). Generous because
/// RSA key generation on a real TPM can take a minute or more. See [`Tcti`] for each
/// transport's default.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(300);

/// Caps a timeout at [`MAX_TIMEOUT_SECS`], so `Instant::now() + timeout` cannot overflow
/// (which would panic) whatever a caller passes to [`Transport::set_timeout`].
pub(crate) fn bounded_timeout(timeout: Duration) -> Duration {
    timeout.min(Duration::from_secs(MAX_TIMEOUT_SECS))
}

/// How long opening a connection (and a simulator's power-on handshake) may take. Separate
/// from the command timeout, which must allow for slow key generation.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// Why a frame could not be exchanged with the TPM.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TransportError {
    /// Opening, reading or writing the connection failed.
    #[error("{transport}: {message}")]
    Io {
        /// The transport, as [`Transport::describe`] gives it.
        transport: String,
        /// What was being done.
        message: String,
        /// The operating system's error, if there was one.
        #[source]
        source: Option<std::io::Error>,
    },
    /// A `device:` path is not a character device (a regular file, a FIFO, ...); nothing was
    /// written to it.
    #[error("{transport}: the path is {found}, not a TPM character device; refusing to write TPM commands to it")]
    NotADevice {
        /// The transport.
        transport: String,
        /// What the path is instead ("a regular file", "a FIFO", ...).
        found: &'static str,
    },
    /// A TCTI configuration string could not be understood.
    #[error("bad TCTI {tcti:?}: {reason}")]
    BadTcti {
        /// The string as given.
        tcti: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The peer answered something that is not one complete response frame.
    #[error("{transport}: malformed response: {reason}")]
    MalformedResponse {
        /// The transport.
        transport: String,
        /// What is wrong with the frame (its header, its size, bytes missing or extra).
        reason: String,
    },
    /// The command handed to the transport is not a well-formed frame.
    #[error("{transport}: refusing to send malformed command: {reason}")]
    MalformedCommand {
        /// The transport.
        transport: String,
        /// What is wrong with the frame.
        reason: String,
    },
    /// No (complete) answer within the transport's timeout.
    #[error("{transport}: timed out after {waited:?} while {during}")]
    Timeout {
        /// The transport.
        transport: String,
        /// How long it waited.
        waited: Duration,
        /// What it was doing (e.g. "reading a control result").
        during: &'static str,
    },
    /// The peer went away (closed the connection, or the command process exited).
    #[error("{transport}: {detail}")]
    Closed {
        /// The transport.
        transport: String,
        /// How (e.g. the relay command's exit status).
        detail: String,
    },
    /// The kernel TPM driver refused the command; `hint` says what the errno means there.
    #[error("{transport}: {operation} failed with errno {errno} ({source}): {hint}")]
    Device {
        /// The transport.
        transport: String,
        /// `"write"`, `"read"` or `"poll"`.
        operation: &'static str,
        /// The errno value.
        errno: i32,
        /// What the errno means for a TPM device (e.g. EFAULT from the resource manager on a
        /// session it does not know).
        hint: &'static str,
        /// The operating system's error.
        #[source]
        source: std::io::Error,
    },
    /// A simulator's platform or control channel answered a non-zero result.
    #[error("{transport}: {channel} command {command} ({name}) failed with result 0x{result:x}")]
    Control {
        /// The transport.
        transport: String,
        /// `"platform"` (mssim) or `"control"` (swtpm).
        channel: &'static str,
        /// The channel's command number.
        command: u32,
        /// Its name (e.g. `"POWER_ON"`, `"CMD_INIT"`).
        name: &'static str,
        /// The result code the simulator returned.
        result: u32,
    },
    /// The backend cannot do what was asked (e.g. localities over a character device).
    #[error("{transport}: {what} is not supported by this transport")]
    Unsupported {
        /// The transport.
        transport: String,
        /// What was asked.
        what: &'static str,
    },
    /// Default probing found nothing; `tried` lists each candidate with why it failed.
    #[error("no TPM found (set {env} or pass a TCTI such as -T swtpm:host=127.0.0.1,port=2321); tried: {}", tried.join("; "))]
    NoTpmFound {
        /// The environment variable that names the TPM (`TPM2TOOLS_TCTI`).
        env: &'static str,
        /// Each candidate tried, with why it failed.
        tried: Vec<String>,
    },
}

/// Moves whole frames to and from a TPM.
pub trait Transport: Send {
    /// Sends one complete command frame and reads one complete response frame into
    /// `response` (which is cleared first). The response's header size has been checked
    /// against the bytes received.
    fn transact(&mut self, command: &[u8], response: &mut Vec<u8>) -> Result<(), TransportError>;

    /// A short description for errors and logs, e.g. `swtpm:host=127.0.0.1,port=2321`.
    fn describe(&self) -> String;

    /// Sets how long one `transact` may wait for the peer (capped at [`MAX_TIMEOUT_SECS`]).
    /// Backends without timeouts ignore it.
    fn set_timeout(&mut self, timeout: Duration) {
        let _ = timeout;
    }

    /// How many sessions one connection may keep at once, when something between us and the
    /// TPM limits it (the kernel resource manager gives each open file 3). `None`: only the
    /// TPM's own limits apply.
    fn sessions_per_connection(&self) -> Option<usize> {
        None
    }

    /// Selects the locality for the following commands (simulators only).
    fn set_locality(&mut self, locality: u8) -> Result<(), TransportError> {
        let _ = locality;
        Err(TransportError::Unsupported {
            transport: self.describe(),
            what: "setting the locality",
        })
    }
}

impl<T: Transport + ?Sized> Transport for Box<T> {
    fn transact(&mut self, command: &[u8], response: &mut Vec<u8>) -> Result<(), TransportError> {
        (**self).transact(command, response)
    }

    fn describe(&self) -> String {
        (**self).describe()
    }

    fn set_timeout(&mut self, timeout: Duration) {
        (**self).set_timeout(timeout)
    }

    fn set_locality(&mut self, locality: u8) -> Result<(), TransportError> {
        (**self).set_locality(locality)
    }

    fn sessions_per_connection(&self) -> Option<usize> {
        (**self).sessions_per_connection()
    }
}

/// The response code of a (length-checked) response frame.
pub(crate) fn response_code(frame: &[u8]) -> Option<ResponseCode> {
    Header::parse(frame)
        .ok()
        .map(|h| ResponseCode(h.code.get()))
}

/// The frame of a command without handles and sessions, for what transports send on their
/// own (TPM2_Startup, the probe's TPM2_GetRandom).
pub(crate) fn bare_command<C: Command>(cmd: &C) -> Vec<u8> {
    let mut frame = Vec::with_capacity(HEADER_SIZE + 8);
    let mut w = Writer::new(&mut frame);
    let start = begin_command(&mut w, StructureTag::NO_SESSIONS, C::CODE);
    cmd.marshal_params(&mut w);
    // Only fails beyond 4 GiB; these frames are a dozen bytes.
    let _ = finish_command(&mut w, start);
    frame
}

/// Checks that `command` is one frame whose header size matches its length, so no backend
/// puts a frame on the wire that would desynchronise the peer.
pub(crate) fn check_command(
    transport: &dyn Fn() -> String,
    command: &[u8],
) -> Result<(), TransportError> {
    let bad = |reason: String| TransportError::MalformedCommand {
        transport: transport(),
        reason,
    };
    let header = crate::wire::Header::parse(command)
        .map_err(|_| bad(format!("{} bytes is shorter than a header", command.len())))?;
    if header.size() != command.len() {
        return Err(bad(format!(
            "header says {} bytes but {} were given",
            header.size(),
            command.len()
        )));
    }
    if command.len() > MAX_TRANSPORT_FRAME_SIZE {
        return Err(bad(format!(
            "{} bytes exceeds the {MAX_TRANSPORT_FRAME_SIZE}-byte maximum",
            command.len()
        )));
    }
    Ok(())
}

/// Runs `exchange`; if the simulator answers TPM_RC_INITIALIZE (it was powered on but never
/// started), sends TPM2_Startup(CLEAR) once and repeats the command. Real TPMs are started by
/// firmware, so only simulator backends use this.
pub(crate) fn with_auto_startup(
    command: &[u8],
    response: &mut Vec<u8>,
    mut exchange: impl FnMut(&[u8], &mut Vec<u8>) -> Result<(), TransportError>,
) -> Result<(), TransportError> {
    exchange(command, response)?;
    // TPM_RC_INITIALIZE to a Startup means the TPM has been started already.
    let is_startup = Header::parse(command).is_ok_and(|h| h.code.get() == CommandCode::STARTUP.0);
    if is_startup || !response_code(response).is_some_and(ResponseCode::is_initialize) {
        return Ok(());
    }
    let startup = bare_command(&Startup {
        startup_type: StartupType::CLEAR,
    });
    let mut startup_response = Vec::with_capacity(16);
    exchange(&startup, &mut startup_response)?;
    if !response_code(&startup_response).is_some_and(ResponseCode::is_success) {
        // Leave the original TPM_RC_INITIALIZE for the caller to see.
        return Ok(());
    }
    exchange(command, response)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::command::GetRandom;
    use crate::wire::TpmRc;

    fn answer(code: u32) -> Vec<u8> {
        let mut r = vec![0x80, 0x01, 0, 0, 0, 10];
        r.extend_from_slice(&code.to_be_bytes());
        r
    }

    #[test]
    fn bare_commands_are_the_specification_bytes() {
        let startup = bare_command(&Startup {
            startup_type: StartupType::CLEAR,
        });
        assert_eq!(startup, [0x80, 0x01, 0, 0, 0, 12, 0, 0, 0x01, 0x44, 0, 0]);
        let random = bare_command(&GetRandom { bytes_requested: 8 });
        assert_eq!(random, [0x80, 0x01, 0, 0, 0, 12, 0, 0, 0x01, 0x7B, 0, 8]);
    }

    /// The frames `with_auto_startup` exchanges, answering each with the next scripted code.
    fn exchanges(command: &[u8], codes: &[u32]) -> (Vec<Vec<u8>>, Option<ResponseCode>) {
        let mut sent = Vec::new();
        let mut response = Vec::new();
        with_auto_startup(command, &mut response, |c, r| {
            *r = answer(codes.get(sent.len()).copied().unwrap_or(0));
            sent.push(c.to_vec());
            Ok(())
        })
        .unwrap();
        (sent, response_code(&response))
    }

    #[test]
    fn an_unstarted_tpm_is_started_and_the_command_resent() {
        let get_random = bare_command(&GetRandom { bytes_requested: 8 });
        let startup = bare_command(&Startup {
            startup_type: StartupType::CLEAR,
        });
        let (sent, rc) = exchanges(&get_random, &[TpmRc::INITIALIZE.0, 0, 0]);
        assert_eq!(sent, [get_random.clone(), startup, get_random]);
        assert_eq!(rc, Some(ResponseCode::SUCCESS));
    }

    #[test]
    fn a_startup_answered_initialize_is_left_alone() {
        // TPM_RC_INITIALIZE to any Startup means "already started": no Startup(CLEAR) follows.
        let state = bare_command(&Startup {
            startup_type: StartupType::STATE,
        });
        let (sent, rc) = exchanges(&state, &[TpmRc::INITIALIZE.0]);
        assert_eq!(sent, [state]);
        assert_eq!(rc, Some(ResponseCode(TpmRc::INITIALIZE.0)));
        // A failed Startup(CLEAR) leaves the original answer for the caller to see.
        let get_random = bare_command(&GetRandom { bytes_requested: 8 });
        let (sent, rc) = exchanges(&get_random, &[TpmRc::INITIALIZE.0, TpmRc::FAILURE.0]);
        assert_eq!(sent.len(), 2);
        assert_eq!(rc, Some(ResponseCode(TpmRc::INITIALIZE.0)));
    }
}
