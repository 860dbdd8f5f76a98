//! The crate's error type. Every public fallible function returns [`Error`] (or a module error
//! that converts into it); each variant says what failed and why, with TPM response codes
//! decoded.

use crate::wire::{CommandCode, Handle, Name, ResponseCode, WireError};

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The TPM answered with an error code.
    #[error("{command} failed: {rc}")]
    Tpm {
        command: CommandCode,
        rc: ResponseCode,
    },

    /// The bytes could not be exchanged with the TPM.
    #[error(transparent)]
    Transport(#[from] crate::transport::TransportError),

    /// The TPM's response could not be parsed.
    #[error("malformed response to {command}: {source}")]
    Malformed {
        command: CommandCode,
        #[source]
        source: WireError,
    },

    /// A command could not be built (a value too large for its field, ...).
    #[error("cannot build {command}: {source}")]
    Build {
        command: CommandCode,
        #[source]
        source: WireError,
    },

    /// A session could not be used as asked, or a response failed verification.
    #[error("{command}: {source}")]
    Session {
        command: CommandCode,
        #[source]
        source: crate::session::SessionError,
    },

    /// The session no longer exists in the TPM (flushed behind our back, TPM restarted,
    /// resource manager connection closed). Detected before any HMAC was sent with it, so it
    /// cost no dictionary-attack count; it is not a wrong password.
    #[error("session {handle} was lost: {reason}")]
    SessionLost { handle: Handle, reason: String },

    /// The session is desynchronized: a command it took part in was sent, but the response was
    /// lost, malformed or failed verification, so the TPM may have moved its nonces past ours.
    /// It is not saved (to a value or a file) and only ever flushed: used again, its HMAC would
    /// fail at the TPM and could count towards dictionary-attack lockout.
    #[error(
        "session {handle} could not be trusted after a failed exchange (response lost, malformed \
         or unverified) and is not saved; it is flushed instead"
    )]
    Desynchronized { handle: Handle },

    /// An object's name is not the one expected: a different key sits at that handle.
    #[error("{handle}: name mismatch (expected {expected:?}, TPM reports {actual:?}); refusing to use it")]
    NameMismatch {
        handle: Handle,
        expected: Box<Name>,
        actual: Box<Name>,
    },

    #[error(transparent)]
    Crypto(#[from] crate::crypto::CryptoError),

    /// A tpm2-tools session or context file could not be read or written.
    #[error(transparent)]
    File(#[from] crate::files::FileError),

    #[error("invalid argument: {0}")]
    InvalidArgument(String),
}

impl Error {
    /// The TPM response code, if the TPM answered with an error.
    pub fn response_code(&self) -> Option<ResponseCode> {
        match self {
            Error::Tpm { rc, .. } => Some(*rc),
            _ => None,
        }
    }
}

pub type Result<T, E = Error> = core::result::Result<T, E>;
