//! The Microsoft TPM 2.0 simulator protocol: a TPM socket carrying prefixed frames and a
//! platform socket (port + 1 or `<path>.ctrl`) for power, NV and session control.

use std::time::{Duration, Instant};

use super::io::{self, Endpoint, Pending, Stream};
use super::{
    check_command, with_auto_startup, Transport, TransportError, CONNECT_TIMEOUT, DEFAULT_TIMEOUT,
};

/// Simulator command codes (the same numbers on both sockets).
pub(crate) const POWER_ON: u32 = 1;
pub(crate) const SEND_COMMAND: u32 = 8;
pub(crate) const NV_ON: u32 = 11;
pub(crate) const SESSION_END: u32 = 20;

/// A connection to a Microsoft-protocol simulator. Powers it on (POWER_ON, NV_ON) when
/// connecting and ends both sessions (TPM_SESSION_END) when dropped.
#[derive(Debug)]
pub struct MssimTransport {
    endpoint: Endpoint,
    /// None after a failed exchange until the next command reconnects.
    tpm: Option<Stream>,
    platform: Stream,
    locality: u8,
    timeout: Duration,
    /// Reused for the prefixed command so a steady stream of commands allocates nothing.
    scratch: Vec<u8>,
}

impl MssimTransport {
    /// Connects both sockets and powers the simulator on, with the default command timeout
    /// ([`DEFAULT_TIMEOUT`]).
    pub fn connect(endpoint: Endpoint) -> Result<Self, TransportError> {
        Self::connect_with_timeout(endpoint, DEFAULT_TIMEOUT)
    }

    /// [`MssimTransport::connect`] with a command timeout; connecting and the power-on
    /// handshake wait at most [`CONNECT_TIMEOUT`], or `timeout` if shorter (so a simulator
    /// that accepts but never answers is noticed within `timeout`).
    pub fn connect_with_timeout(
        endpoint: Endpoint,
        timeout: Duration,
    ) -> Result<Self, TransportError> {
        let timeout = super::bounded_timeout(timeout);
        let what = format!("mssim:{}", endpoint.conf());
        let handshake = timeout.min(CONNECT_TIMEOUT);
        let tpm = connect(&endpoint, "TPM", &what, handshake)?;
        let platform = connect(&endpoint.companion(), "platform", &what, handshake)?;
        let mut t = MssimTransport {
            endpoint,
            tpm: Some(tpm),
            platform,
            locality: 0,
            timeout: handshake,
            scratch: Vec::new(),
        };
        t.platform_command(POWER_ON, "POWER_ON")?;
        t.platform_command(NV_ON, "NV_ON")?;
        t.timeout = timeout;
        Ok(t)
    }

    fn what(&self) -> String {
        format!("mssim:{}", self.endpoint.conf())
    }

    /// A platform command: u32 code → u32 result, non-zero meaning failure.
    pub fn platform_command(
        &mut self,
        code: u32,
        name: &'static str,
    ) -> Result<(), TransportError> {
        let what = self.what();
        let what = || what.clone();
        let deadline = Instant::now() + self.timeout;
        io::write_all(&mut self.platform, &code.to_be_bytes(), deadline)
            .map_err(|e| io::stop_error(e, &what, self.timeout, "sending a platform command", 0))?;
        let mut result = [0u8; 4];
        io::read_exact(&mut self.platform, &mut result, deadline)
            .map_err(|e| io::stop_error(e, &what, self.timeout, "reading a platform result", 0))?;
        let result = u32::from_be_bytes(result);
        if result != 0 {
            return Err(TransportError::Control {
                transport: what(),
                channel: "platform",
                command: code,
                name,
                result,
            });
        }
        Ok(())
    }

    /// Runs one command. After any failure the TPM connection is in an unknown position (a
    /// late answer could be taken for the next command's), so it is dropped and the next
    /// command reconnects; the same happens when the simulator closed it in between.
    fn exchange(&mut self, command: &[u8], response: &mut Vec<u8>) -> Result<(), TransportError> {
        let what = self.what();
        let stale = match self.tpm.as_mut() {
            None => true,
            Some(s) => match io::pending(s) {
                Pending::Nothing => false,
                Pending::Closed => true,
                Pending::Bytes(n) => {
                    self.tpm = None;
                    return Err(TransportError::MalformedResponse {
                        transport: what,
                        reason: format!(
                            "{n}+ unsolicited bytes arrived before the command was sent"
                        ),
                    });
                }
            },
        };
        if stale {
            self.tpm = Some(connect(
                &self.endpoint,
                "TPM",
                &what,
                self.timeout.min(CONNECT_TIMEOUT),
            )?);
        }
        let Some(tpm) = self.tpm.as_mut() else {
            return Err(TransportError::Closed {
                transport: what,
                detail: "no TPM connection".into(),
            });
        };
        let result = send_and_receive(
            tpm,
            &mut self.scratch,
            self.locality,
            command,
            response,
            self.timeout,
            &what,
        );
        if result.is_err() {
            self.tpm = None;
        }
        result
    }
}

fn connect(
    endpoint: &Endpoint,
    which: &str,
    what: &str,
    timeout: Duration,
) -> Result<Stream, TransportError> {
    Stream::connect(endpoint, timeout, true).map_err(|err| TransportError::Io {
        transport: what.to_string(),
        message: format!("cannot connect to the simulator's {which} socket {endpoint}"),
        source: Some(err),
    })
}

/// `u32 8 | u8 locality | u32 size | command` out, `u32 size | response | u32 0` back.
fn send_and_receive(
    tpm: &mut Stream,
    scratch: &mut Vec<u8>,
    locality: u8,
    command: &[u8],
    response: &mut Vec<u8>,
    timeout: Duration,
    what: &str,
) -> Result<(), TransportError> {
    let what = || what.to_string();
    let deadline = Instant::now() + timeout;
    scratch.clear();
    scratch.extend_from_slice(&SEND_COMMAND.to_be_bytes());
    scratch.push(locality);
    // check_command bounded the length by MAX_TRANSPORT_FRAME_SIZE, so it fits in a u32.
    scratch.extend_from_slice(&(command.len() as u32).to_be_bytes());
    scratch.extend_from_slice(command);
    io::write_all(tpm, scratch, deadline)
        .map_err(|e| io::stop_error(e, &what, timeout, "sending the command", 0))?;

    let mut size = [0u8; 4];
    io::read_exact(tpm, &mut size, deadline)
        .map_err(|e| io::stop_error(e, &what, timeout, "reading the response size", 0))?;
    let size = io::within_frame_limit(
        u32::from_be_bytes(size) as usize,
        "simulator announces",
        &what,
    )?;
    io::read_frame(tpm, response, deadline, timeout, &what)?;
    if response.len() != size {
        return Err(TransportError::MalformedResponse {
            transport: what(),
            reason: format!(
                "simulator announced {size} bytes but the response header declares {}",
                response.len()
            ),
        });
    }
    let mut trailer = [0u8; 4];
    io::read_exact(tpm, &mut trailer, deadline)
        .map_err(|e| io::stop_error(e, &what, timeout, "reading the response trailer", 0))?;
    if trailer != [0; 4] {
        return Err(TransportError::MalformedResponse {
            transport: what(),
            reason: format!(
                "non-zero trailer 0x{:08x} after the response",
                u32::from_be_bytes(trailer)
            ),
        });
    }
    Ok(())
}

impl Transport for MssimTransport {
    fn transact(&mut self, command: &[u8], response: &mut Vec<u8>) -> Result<(), TransportError> {
        check_command(&|| self.what(), command)?;
        with_auto_startup(command, response, |c, r| self.exchange(c, r))
    }

    fn describe(&self) -> String {
        self.what()
    }

    fn set_timeout(&mut self, timeout: Duration) {
        self.timeout = super::bounded_timeout(timeout);
    }

    /// Stored and sent with each following command, as the simulator protocol does.
    fn set_locality(&mut self, locality: u8) -> Result<(), TransportError> {
        self.locality = locality;
        Ok(())
    }
}

impl Drop for MssimTransport {
    fn drop(&mut self) {
        // Best effort: the simulator answers nothing to SESSION_END, and a dead peer is fine.
        let deadline = Instant::now() + Duration::from_millis(100);
        let end = SESSION_END.to_be_bytes();
        if let Some(tpm) = self.tpm.as_mut() {
            let _ = io::write_all(tpm, &end, deadline);
        }
        let _ = io::write_all(&mut self.platform, &end, deadline);
    }
}
