//! The crate's error type. Every public fallible function returns [`Error`] (or a module error
//! that converts into it); each variant says what failed and why, with TPM response codes
//! decoded.

use crate::wire::{CommandCode, Handle, Name, ResponseCode, WireError};

/// What went wrong in a TPM operation. Module errors ([`WireError`],
/// [`SessionError`](crate::session::SessionError), [`CryptoError`](crate::crypto::CryptoError),
/// [`TransportError`](crate::transport::TransportError), [`FileError`](crate::files::FileError),
/// [`AuthError`](crate::auth::AuthError), [`RegistryError`](crate::registry::RegistryError) and,
/// with the `sim` feature, `SimError`) all convert into it with `?`, and keep the original
/// error as the [`source`](std::error::Error::source).
///
/// New variants may be added in minor releases: match with a wildcard arm.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The TPM answered with an error code (a TPM_RC other than TPM_RC_SUCCESS).
    #[error("{command} failed: {rc}")]
    Tpm {
        /// The command the TPM refused (TPM_CC).
        command: CommandCode,
        /// The decoded response code; [`ResponseCode::base`] and its other methods say which
        /// handle, session or parameter it refers to.
        rc: ResponseCode,
    },

    /// The bytes could not be exchanged with the TPM.
    #[error(transparent)]
    Transport(#[from] crate::transport::TransportError),

    /// The TPM's response could not be parsed.
    #[error("malformed response to {command}: {source}")]
    Malformed {
        /// The command whose response it was.
        command: CommandCode,
        /// What in the response could not be parsed.
        #[source]
        source: WireError,
    },

    /// A command could not be built (a value too large for its field, ...).
    #[error("cannot build {command}: {source}")]
    Build {
        /// The command that could not be marshalled.
        command: CommandCode,
        /// Which field did not fit.
        #[source]
        source: WireError,
    },

    /// A session could not be used as asked, or a response failed verification.
    #[error("{command}: {source}")]
    Session {
        /// The command the session was to authorize, or whose response failed.
        command: CommandCode,
        /// What was wrong with the session or the response.
        #[source]
        source: crate::session::SessionError,
    },

    /// The session no longer exists in the TPM (flushed behind our back, TPM restarted,
    /// resource manager connection closed). Detected before any HMAC was sent with it, so it
    /// cost no dictionary-attack count; it is not a wrong password.
    #[error("session {handle} was lost: {reason}")]
    SessionLost {
        /// The session's handle (TPM_HT_HMAC_SESSION or TPM_HT_POLICY_SESSION).
        handle: Handle,
        /// How it was found to be gone.
        reason: String,
    },

    /// The session is desynchronized: a command it took part in was sent, but the response was
    /// lost, malformed or failed verification, so the TPM may have moved its nonces past ours.
    /// It is not saved (to a value or a file) and only ever flushed: used again, its HMAC would
    /// fail at the TPM and could count towards dictionary-attack lockout.
    #[error(
        "session {handle} could not be trusted after a failed exchange (response lost, malformed \
         or unverified) and is not saved; it is flushed instead"
    )]
    Desynchronized {
        /// The session's handle.
        handle: Handle,
    },

    /// An object's name is not the one expected: a different key sits at that handle.
    #[error("{handle}: name mismatch (expected {expected:?}, TPM reports {actual:?}); refusing to use it")]
    NameMismatch {
        /// The handle whose name was checked.
        handle: Handle,
        /// The name the caller expected (TPM2B_NAME: nameAlg followed by the digest).
        expected: Box<Name>,
        /// The name the TPM reported for the handle.
        actual: Box<Name>,
    },

    /// A host-side cryptographic operation failed (an unsupported algorithm, a key that
    /// cannot receive a salt, the random generator).
    #[error(transparent)]
    Crypto(#[from] crate::crypto::CryptoError),

    /// A tpm2-tools session or context file could not be read or written.
    #[error(transparent)]
    File(#[from] crate::files::FileError),

    /// A value could not be represented as the TPM structure it goes into, outside any one
    /// command (a name longer than a TPM2B_NAME, a public area too large for a TPM2B_PUBLIC,
    /// a session key longer than the largest digest). Errors in a command's own parameters or
    /// response are [`Error::Build`] and [`Error::Malformed`].
    #[error(transparent)]
    Wire(#[from] WireError),

    /// A session could not be set up or restored as asked, outside any one command: typically
    /// a saved session (from a file) whose parameter-encryption algorithm the session engine
    /// does not support. Errors while a command is authorized or its response verified are
    /// [`Error::Session`], which also names the command.
    #[error(transparent)]
    SessionSetup(#[from] crate::session::SessionError),

    /// An authorization or PCR-selection argument (`str:`, `hex:`, `file:`, `session:`,
    /// `pcr:`) could not be parsed or read.
    #[error(transparent)]
    Auth(#[from] crate::auth::AuthError),

    /// The session ownership registry could not be opened, read or written.
    #[error(transparent)]
    Registry(#[from] crate::registry::RegistryError),

    /// The private swtpm could not be started.
    #[cfg(feature = "sim")]
    #[error(transparent)]
    Sim(#[from] crate::sim::SimError),

    /// The Endorsement Key or its certificate chain could not be trusted (boxed: the EK error
    /// can itself carry a TPM error).
    #[cfg(feature = "ek")]
    #[error(transparent)]
    Ek(Box<crate::ek::EkError>),

    /// A key could not be created, loaded or persisted, or a credential could not be made or
    /// activated (boxed: the key error can itself carry a TPM error).
    #[error(transparent)]
    Key(Box<crate::keys::KeyError>),

    /// A quote, certification or signed time did not verify, or a TPM key or signature could
    /// not be used on the host.
    #[cfg(feature = "attest")]
    #[error(transparent)]
    Attest(Box<crate::attest::AttestError>),

    /// The caller asked for something that cannot be done, and no lower-level error says more
    /// (a session not owned by this connection, an unsalted session asked to confirm its salt
    /// key, a file that holds an object where a session was expected). The message says what
    /// and why.
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

/// `Result` with the crate's [`Error`] as the default error type.
pub type Result<T, E = Error> = core::result::Result<T, E>;

impl From<crate::keys::KeyError> for Error {
    fn from(e: crate::keys::KeyError) -> Self {
        Error::Key(Box::new(e))
    }
}

#[cfg(feature = "attest")]
impl From<crate::attest::AttestError> for Error {
    fn from(e: crate::attest::AttestError) -> Self {
        Error::Attest(Box::new(e))
    }
}

#[cfg(feature = "attest")]
impl From<crate::attest::HostKeyError> for Error {
    fn from(e: crate::attest::HostKeyError) -> Self {
        Error::Attest(Box::new(crate::attest::AttestError::Key(e)))
    }
}

#[cfg(feature = "ek")]
impl From<crate::ek::EkError> for Error {
    fn from(e: crate::ek::EkError) -> Self {
        Error::Ek(Box::new(e))
    }
}
