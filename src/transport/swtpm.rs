//! swtpm: raw TPM frames on the data socket, the swtpm control protocol on the second socket
//! (port + 1 or `<path>.ctrl`) for locality and resets.

use std::time::{Duration, Instant};

use super::io::{self, Endpoint, Pending, Stream};
use super::{
    check_command, with_auto_startup, Transport, TransportError, CONNECT_TIMEOUT, DEFAULT_TIMEOUT,
};

/// swtpm control commands (`tpm_ioctl.h`), each answered by a u32 result.
const CMD_INIT: u32 = 0x02;
const CMD_SET_LOCALITY: u32 = 0x05;
/// CMD_INIT flag: also discard the volatile state file.
const INIT_FLAG_DELETE_VOLATILE: u32 = 1;

/// A client of swtpm's data socket.
///
/// By default every command gets its own connection, as with tpm2-tss's swtpm TCTI. swtpm
/// serves one data connection at a time, so a connection held open between commands makes
/// every other client of the same swtpm (tpm2-tools, another process) wait, with no timeout
/// on their side. [`SwtpmTransport::set_connection_per_command`]`(false)` keeps it open for
/// speed when this transport is the only client (two to three times faster for small commands; see
/// `benches/transport.rs`); a connection swtpm closed in between (e.g. a
/// restart) is then re-established once, before the command is sent.
#[derive(Debug)]
pub struct SwtpmTransport {
    endpoint: Endpoint,
    data: Option<Stream>,
    timeout: Duration,
    auto_startup: bool,
    connection_per_command: bool,
}

impl SwtpmTransport {
    /// Checks that the data socket accepts connections (so an absent swtpm is reported
    /// here, not at first use), then releases it.
    pub fn connect(endpoint: Endpoint) -> Result<Self, TransportError> {
        Self::connect_with_timeout(endpoint, DEFAULT_TIMEOUT)
    }

    /// [`SwtpmTransport::connect`] with a command timeout other than [`DEFAULT_TIMEOUT`];
    /// connecting waits at most [`CONNECT_TIMEOUT`], or `timeout` if shorter.
    pub fn connect_with_timeout(
        endpoint: Endpoint,
        timeout: Duration,
    ) -> Result<Self, TransportError> {
        let t = SwtpmTransport {
            endpoint,
            data: None,
            timeout: super::bounded_timeout(timeout),
            auto_startup: true,
            connection_per_command: true,
        };
        drop(t.open_data()?);
        Ok(t)
    }

    /// Whether a TPM_RC_INITIALIZE answer triggers TPM2_Startup(CLEAR) and a resend (on by
    /// default). Relays that must pass frames through untouched turn it off.
    pub fn set_auto_startup(&mut self, on: bool) {
        self.auto_startup = on;
    }

    /// Whether each command gets a fresh data connection (the default, as with tpm2-tss) or
    /// one connection is kept open (faster, but while it is open no other client of this
    /// swtpm is served).
    pub fn set_connection_per_command(&mut self, on: bool) {
        self.connection_per_command = on;
        if on {
            self.data = None;
        }
    }

    /// The data socket this transport connects to.
    pub fn endpoint(&self) -> &Endpoint {
        &self.endpoint
    }

    /// TPM reset through the control channel (CMD_INIT). The TPM then needs TPM2_Startup,
    /// which the next command sends automatically unless auto-startup is off.
    pub fn reset(&mut self, delete_volatile: bool) -> Result<(), TransportError> {
        let flags = if delete_volatile {
            INIT_FLAG_DELETE_VOLATILE
        } else {
            0
        };
        self.control(CMD_INIT, "CMD_INIT", &flags.to_be_bytes())?;
        // swtpm drops data connections on init; start the next command on a fresh one.
        self.data = None;
        Ok(())
    }

    fn what(&self) -> String {
        swtpm_name(&self.endpoint)
    }

    fn open_data(&self) -> Result<Stream, TransportError> {
        open_data(&self.endpoint, self.timeout, self.connection_per_command)
    }

    /// One control command on its own connection: u32 code + payload → u32 result.
    fn control(
        &mut self,
        command: u32,
        name: &'static str,
        payload: &[u8],
    ) -> Result<(), TransportError> {
        let what = || self.what();
        let ctrl = self.endpoint.companion();
        let deadline = Instant::now() + self.timeout;
        let mut s =
            Stream::connect(&ctrl, self.timeout.min(CONNECT_TIMEOUT), true).map_err(|e| {
                TransportError::Io {
                    transport: what(),
                    message: format!("cannot connect to swtpm control socket {ctrl}"),
                    source: Some(e),
                }
            })?;
        let mut request = Vec::with_capacity(4 + payload.len());
        request.extend_from_slice(&command.to_be_bytes());
        request.extend_from_slice(payload);
        io::write_all(&mut s, &request, deadline)
            .map_err(|e| io::stop_error(e, &what, self.timeout, "sending a control command", 0))?;
        let mut result = [0u8; 4];
        io::read_exact(&mut s, &mut result, deadline)
            .map_err(|e| io::stop_error(e, &what, self.timeout, "reading a control result", 0))?;
        let result = u32::from_be_bytes(result);
        if result != 0 {
            return Err(TransportError::Control {
                transport: what(),
                channel: "control",
                command,
                name,
                result,
            });
        }
        Ok(())
    }

    /// Sends one frame and reads one back.
    ///
    /// With a connection per command that is socket, setsockopt (the connect timeout),
    /// connect, send, poll, recv and close: nothing to ask of a connection that is new, and
    /// the response is read whole in one go (see [`io::read_frame_eager`]).
    fn exchange(&mut self, command: &[u8], response: &mut Vec<u8>) -> Result<(), TransportError> {
        let deadline = Instant::now() + self.timeout;
        let timeout = self.timeout;
        let endpoint = &self.endpoint;
        // Formatted only for an error: the steady state allocates nothing.
        let what = || swtpm_name(endpoint);
        let per_command = self.connection_per_command;
        let stream = match self.data.as_mut() {
            // A kept connection swtpm has closed since the last command shows up as EOF
            // here. Reconnect before sending, so a command is never sent twice.
            Some(s) if !per_command => match io::pending(s) {
                Pending::Nothing => None,
                Pending::Closed => Some(open_data(endpoint, timeout, per_command)?),
                Pending::Bytes(n) => {
                    self.data = None;
                    return Err(TransportError::MalformedResponse {
                        transport: what(),
                        reason: format!(
                            "{n}+ unsolicited bytes arrived before the command was sent"
                        ),
                    });
                }
            },
            _ => Some(open_data(endpoint, timeout, per_command)?),
        };
        if let Some(fresh) = stream {
            self.data = Some(fresh);
        }
        let Some(stream) = self.data.as_mut() else {
            return Err(TransportError::Closed {
                transport: what(),
                detail: "no data connection".into(),
            });
        };
        match io::write_all(stream, command, deadline) {
            Ok(()) => {}
            // The peer closed between our check and the write: swtpm drops a partial
            // command with its connection, so one resend on a fresh connection is safe.
            Err(io::Stop::Io(e))
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::BrokenPipe | std::io::ErrorKind::ConnectionReset
                ) =>
            {
                self.data = None;
                let mut fresh = open_data(endpoint, timeout, per_command)?;
                io::write_all(&mut fresh, command, deadline)
                    .map_err(|e| io::stop_error(e, &what, timeout, "sending the command", 0))?;
                self.data = Some(fresh);
            }
            Err(stop) => {
                self.data = None;
                return Err(io::stop_error(
                    stop,
                    &what,
                    timeout,
                    "sending the command",
                    0,
                ));
            }
        }
        let Some(stream) = self.data.as_mut() else {
            return Err(TransportError::Closed {
                transport: what(),
                detail: "no data connection".into(),
            });
        };
        let result = io::read_frame_eager(stream, response, deadline, timeout, &what);
        if result.is_err() || per_command {
            // After a failed exchange the stream position is unknown: never reuse it.
            self.data = None;
        }
        result
    }
}

fn swtpm_name(endpoint: &Endpoint) -> String {
    format!("swtpm:{}", endpoint.conf())
}

/// A data connection. Nagle's algorithm is left on for a connection per command: the one
/// frame written on it goes out at once anyway (nothing is in flight before it), so the
/// setsockopt would buy nothing.
fn open_data(
    endpoint: &Endpoint,
    timeout: Duration,
    per_command: bool,
) -> Result<Stream, TransportError> {
    Stream::connect(endpoint, timeout.min(CONNECT_TIMEOUT), !per_command).map_err(|e| {
        TransportError::Io {
            transport: swtpm_name(endpoint),
            message: format!("cannot connect to swtpm data socket {endpoint}"),
            source: Some(e),
        }
    })
}

impl Transport for SwtpmTransport {
    fn transact(&mut self, command: &[u8], response: &mut Vec<u8>) -> Result<(), TransportError> {
        check_command(&|| self.what(), command)?;
        if self.auto_startup {
            with_auto_startup(command, response, |c, r| self.exchange(c, r))
        } else {
            self.exchange(command, response)
        }
    }

    fn describe(&self) -> String {
        self.what()
    }

    fn set_timeout(&mut self, timeout: Duration) {
        self.timeout = super::bounded_timeout(timeout);
    }

    fn set_locality(&mut self, locality: u8) -> Result<(), TransportError> {
        self.control(CMD_SET_LOCALITY, "CMD_SET_LOCALITY", &[locality])
    }
}
