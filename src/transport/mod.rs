//! Transports: how command bytes reach a TPM and response bytes come back. One trait, several
//! backends, configured by tpm2-tss style TCTI strings. Knows nothing of sessions.

/// Why a frame could not be exchanged with the TPM.
#[derive(Debug, thiserror::Error)]
pub enum TransportError {
    #[error("{transport}: {message}")]
    Io {
        transport: String,
        message: String,
        #[source]
        source: Option<std::io::Error>,
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
}
