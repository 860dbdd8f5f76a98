//! Keys the TPM holds, as values that clean up after themselves, and credentials bound to them.
//!
//! - [`templates`]: public areas for attestation keys, signing keys, decryption keys, storage
//!   parents and sealed data.
//! - [`Key`]: a transient object created from a template (TPM2_CreatePrimary, or TPM2_Create
//!   and TPM2_Load), whose name is the one computed from its public area (a TPM that reports
//!   another name is refused and the object flushed). It flushes itself when dropped, unless
//!   made persistent with [`Key::persist`], which gives a [`PersistentKey`].
//! - Credentials: [`make_credential`] encrypts a secret to a storage key (normally the EK) and
//!   binds it to the name of another key (normally an attestation key), on the host, with no
//!   TPM; [`Tpm::activate_credential`](crate::Tpm::activate_credential) has the TPM release it,
//!   which it does only if it holds both keys. This is how a verifier learns that an attestation
//!   key lives in the same TPM as a certified EK.
//!
//! ```
//! # #[cfg(feature = "sim")]
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! use tpm2_wire::command::Entity;
//! use tpm2_wire::keys::{make_credential, templates, Key, KeyAlg};
//! use tpm2_wire::session::engine::SessionSlot;
//! use tpm2_wire::wire::Auth;
//! use tpm2_wire::Tpm;
//!
//! // A private swtpm for this example.
//! let sim = tpm2_wire::sim::Swtpm::spawn_unix()?;
//! let tpm = Tpm::new(Box::new(sim.transport()?));
//! let empty = Auth::empty();
//! // Any restricted decryption key with AES-CFB can protect credentials; the EK is the one a
//! // verifier trusts (`tpm2_wire::ek` checks its certificate).
//! let protector = Key::create_primary(
//!     &tpm,
//!     &Entity::endorsement(),
//!     &mut [SessionSlot::Password(&empty)],
//!     &templates::storage_parent(KeyAlg::EccP256),
//!     &empty,
//! )?;
//! let ak = Key::create_primary(
//!     &tpm,
//!     &Entity::endorsement(),
//!     &mut [SessionSlot::Password(&empty)],
//!     &templates::attestation_key(KeyAlg::EccP256),
//!     &empty,
//! )?;
//! // The verifier's side, with no TPM: only a TPM holding both keys can recover `nonce`.
//! let nonce = [7u8; 32];
//! let (id_object, secret) = make_credential(protector.public(), &ak.entity().name, &nonce)?;
//! let released = tpm.activate_credential(
//!     ak.entity(),
//!     SessionSlot::Password(&empty),
//!     &protector,
//!     SessionSlot::Password(&empty),
//!     &id_object,
//!     &secret,
//! )?;
//! assert_eq!(released.as_bytes(), nonce);
//! // Dropping `ak` and `protector` flushes them.
//! # Ok(())
//! # }
//! # #[cfg(not(feature = "sim"))]
//! # fn main() {}
//! ```

mod credential;
mod object;
pub mod templates;
#[cfg(test)]
mod tests;

pub use credential::{make_credential, make_credential_rng};
pub use object::{CreatedObject, Key, PersistentKey, TpmObject};
pub use templates::KeyAlg;

use crate::wire::{Handle, Name, ResponseCode};

/// Why a key could not be created, loaded, persisted or used, or a credential could not be
/// made or activated. No variant carries key material or a credential.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum KeyError {
    /// A TPM command failed, or its answer could not be read or verified.
    #[error("{what}: {source}")]
    Tpm {
        /// What was being done.
        what: &'static str,
        /// The TPM, transport or session error.
        #[source]
        source: Box<crate::Error>,
    },

    /// The TPM reported a name for the object it created or loaded that is not the hash of
    /// the object's public area. Its handles cannot be trusted to mean that object, so it
    /// was flushed.
    #[error("{what}: the TPM names {handle} {reported:?}, but its public area hashes to {computed:?}; the object was flushed")]
    NameMismatch {
        /// What was being done.
        what: &'static str,
        /// The handle the TPM returned.
        handle: Handle,
        /// The name computed from the public area.
        computed: Box<Name>,
        /// The name the TPM reported.
        reported: Box<Name>,
    },

    /// The TPM created an object whose public area does not follow the template it was
    /// given (only the unique field may differ); it was flushed.
    #[error(
        "{what}: the created object's {field} differs from the template; the object was flushed"
    )]
    TemplateMismatch {
        /// What was being done.
        what: &'static str,
        /// The part that differs.
        field: &'static str,
    },

    /// The key at a persistent handle is not the one expected.
    #[error("the key at {handle} is named {found:?}, not {expected:?}")]
    UnexpectedKey {
        /// The persistent handle.
        handle: Handle,
        /// The name that was expected.
        expected: Box<Name>,
        /// The name of the key found there.
        found: Box<Name>,
    },

    /// A key was to be made persistent at a handle outside the persistent range.
    #[error("{0} is not a persistent handle (0x81xxxxxx)")]
    NotPersistentHandle(Handle),

    /// A credential cannot be encrypted to this key.
    #[error("a credential cannot be protected by this key: {reason}")]
    NotAProtector {
        /// What the key lacks.
        reason: &'static str,
    },

    /// The credential is longer than the protector's name-algorithm digest, which is as
    /// much as TPM2_ActivateCredential returns.
    #[error("a credential of {size} bytes is longer than the {max} bytes the protector allows")]
    CredentialTooLarge {
        /// Its length in bytes.
        size: usize,
        /// The protector's name-algorithm digest size.
        max: usize,
    },

    /// The protector's authorization policy is neither PolicySecret(TPM_RH_ENDORSEMENT) (the EK
    /// policy of the low-range EK templates) nor waived by userWithAuth.
    #[error("the protector's policy is not PolicySecret(TPM_RH_ENDORSEMENT) and it has no userWithAuth: it cannot be authorized here")]
    UnsupportedPolicy,

    /// A host-side cryptographic operation failed (an unsupported algorithm, a malformed
    /// public key, the random generator).
    #[error(transparent)]
    Crypto(#[from] crate::crypto::CryptoError),

    /// A value did not fit the TPM structure it goes into.
    #[error(transparent)]
    Wire(#[from] crate::wire::WireError),
}

impl KeyError {
    /// The TPM's response code, if a TPM command failed with one.
    pub fn response_code(&self) -> Option<ResponseCode> {
        match self {
            KeyError::Tpm { source, .. } => source.response_code(),
            _ => None,
        }
    }

    pub(crate) fn tpm(what: &'static str) -> impl FnOnce(crate::Error) -> KeyError {
        move |e| KeyError::Tpm {
            what,
            source: Box::new(e),
        }
    }
}
