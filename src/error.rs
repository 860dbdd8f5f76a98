//! The crate's error type. Every public fallible function returns [`Error`] (or a module error
//! that converts into it); each variant says what failed and why, with TPM response codes
//! decoded.

use crate::wire::{AlgId, CommandCode, Handle, Name, ResponseCode, WireError};

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
    /// It is refused before anything is sent for it, not saved (to a value or a file), and only
    /// ever flushed: used again, its HMAC would fail at the TPM and could count towards
    /// dictionary-attack lockout. The one shape desynchronization takes at the client.
    #[error(
        "session {handle} could not be trusted after a failed exchange (response lost, malformed \
         or unverified): it is never sent to the TPM again except to be flushed, and never saved"
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

    /// A key that cannot encrypt a session salt: only RSA keys and ECC keys on P-256, P-384
    /// or P-521 can.
    #[error(
        "{handle}: a session can only be salted with an RSA or ECC P-256/P-384/P-521 key (this \
         is {object_type})"
    )]
    NotASaltKey {
        /// The key's handle.
        handle: Handle,
        /// The key's type (TPMI_ALG_PUBLIC).
        object_type: AlgId,
    },

    /// [`Session::confirm_salt_key`](crate::Session::confirm_salt_key) on a session that was
    /// not salted.
    #[error("session {handle} is not salted: there is no salt key to confirm")]
    NotSalted {
        /// The session's handle.
        handle: Handle,
    },

    /// A session the caller handed to this connection is not in its session table (it was
    /// started or adopted on another connection), so it is neither flushed nor parked here:
    /// its handle may belong to another session by now.
    #[error(
        "session {handle} is not in this connection's session table, so it is not touched (its \
         handle may belong to another session by now)"
    )]
    NotThisConnections {
        /// The session's handle.
        handle: Handle,
    },

    /// The caller ran ContextSave on a session's handle: that context is the session now, and
    /// must be loaded before the session is used or saved again.
    #[error(
        "session {handle} was context-saved by a ContextSave of its handle; load that context \
         before using or saving the session"
    )]
    SavedByCaller {
        /// The session's handle.
        handle: Handle,
    },

    /// A session bound to an entity with a non-empty auth value is not written to a session
    /// file: the tpm2-tools format would carry that auth value in clear.
    #[error(
        "session {handle} is bound to an entity with a non-empty auth value; the tpm2-tools \
         session format would carry that auth value in clear, so it is not written (start the \
         session salted instead of bound, or opt in explicitly)"
    )]
    BindAuthNotWritten {
        /// The session's handle.
        handle: Handle,
    },

    /// A [`StartSpec`](crate::client::StartSpec) whose parts exclude each other.
    #[error("{0}")]
    StartConflict(StartConflict),

    /// The TPM does not return a PCR that was asked for (its bank may not be allocated).
    #[error("the TPM does not return PCR {pcr} of the {bank} bank (is the bank allocated?)")]
    PcrNotReturned {
        /// The bank's hash.
        bank: AlgId,
        /// The PCR index.
        pcr: u8,
    },

    /// A session used to protect a response can neither encrypt it (it needs a cipher and a
    /// salted or bound session key) nor audit it.
    #[error(
        "session {handle} can neither encrypt the response (it needs a cipher and a salted or \
         bound session key) nor audit it"
    )]
    CannotProtectResponse {
        /// The session's handle.
        handle: Handle,
    },

    /// A date that is not `YYYY/MM/DD`.
    #[error("date {input:?}: expected YYYY/MM/DD")]
    BadDate {
        /// What was given.
        input: String,
    },
}

/// Parts of a [`StartSpec`](crate::client::StartSpec) that exclude each other.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum StartConflict {
    /// A ready salt key and a key context or salt object.
    #[error("a ready salt key excludes a key context or salt object")]
    SaltKeyAndSaltObject,
    /// A key context (which salts and binds) and a separate bind or salt object.
    #[error("a key context salts and binds at once: it excludes a separate bind or salt object")]
    KeyAndBindOrSalt,
    /// A trial session salted or bound.
    #[error(
        "trial sessions cannot be salted or bound (they never encrypt parameters); start a \
         policy or HMAC session"
    )]
    TrialSaltedOrBound,
    /// A salt key name to check, but no salt key.
    #[error("a salt key name to check was given, but no salt key")]
    SaltNameWithoutSalt,
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
