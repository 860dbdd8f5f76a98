//! Attestations verified on the host (feature `attest`): quotes, certifications of objects,
//! of their creation and of NV contents, and the signed time, each a TPMS_ATTEST signed by an
//! attestation key (AK).
//!
//! The verifier trusts an AK ([`AttestationKey`]: a restricted, fixedTPM signing key, known by
//! its public area and qualified name, e.g. through credential activation against a verified
//! EK), picks a fresh nonce, and asks the TPM to quote or certify with it
//! ([`crate::command::Quote`], [`crate::command::Certify`], ...). What comes back is checked
//! here: the signature over the TPMS_ATTEST bytes with the AK's key, the TPM's magic, the AK as
//! the signer, the nonce, and what was attested (the PCR digest recomputed from the values the
//! verifier expects, the certified object's name, the NV contents). Every failure is its own
//! [`AttestError`] variant.
//!
//! ```no_run
//! use tpm2_wire::attest::{verify_quote, AttestationKey, PcrValues};
//! use tpm2_wire::command::{Entity, Quote};
//! use tpm2_wire::crypto::HashAlg;
//! use tpm2_wire::session::engine::SessionSlot;
//! use tpm2_wire::wire::{Auth, Data, Handle, Public, SigScheme};
//! use tpm2_wire::Tpm;
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! # let tpm = Tpm::open(None)?;
//! # let (ak_public, ak_handle): (Public, Entity) = todo!();
//! # let nonce = [0u8; 32];
//! # let pcr16_value = [0u8; 32];
//! // The verifier's side: the AK it trusts and the PCR values it expects.
//! let ak = AttestationKey::primary(Handle::RH_ENDORSEMENT, ak_public)?;
//! let expected = PcrValues::new().with(HashAlg::Sha256, 16, &pcr16_value)?;
//!
//! // The TPM's side.
//! let auth = Auth::empty();
//! let quote = tpm.execute(
//!     &Quote {
//!         sign_handle: ak_handle,
//!         qualifying_data: Data::new(&nonce)?,
//!         in_scheme: SigScheme::Null,
//!         pcr_select: expected.selection(),
//!     },
//!     &mut [SessionSlot::Password(&auth)],
//! )?;
//!
//! // Back on the verifier's side.
//! let report = verify_quote(&ak, quote.quoted.as_bytes(), &quote.signature, &nonce, &expected)?;
//! println!("resetCount {}", report.clock.clock_info.reset_count);
//! # Ok(())
//! # }
//! ```
//!
//! [`convert`] turns TPM keys and signatures into RustCrypto types and back, and verifies
//! any TPM signature on the host.

pub mod convert;
mod pcr;
#[cfg(test)]
mod tests;
mod verify;

pub use convert::{HostKeyError, HostPublicKey};
pub use pcr::{ExpectedPcrError, PcrValues, MAX_PCR_INDEX};
pub use verify::{
    hierarchy_qualified_name, object_name, qualified_name, verify_attestation, verify_certify,
    verify_certify_creation, verify_nv_certify, verify_quote, verify_quote_without_nonce,
    verify_time, AttestationKey, AttestedClock, CertifyReport, CreationReport, NvCertifyReport,
    QuoteReport, TimeReport, VerifiedAttestation,
};
/// The RustCrypto crates whose key and signature types [`convert`] takes and returns.
pub use {p256, p384, rsa};

use crate::wire::{AlgId, ObjectAttributes, StructureTag, WireError};

/// Why an attestation, or the key that signed it, was refused. Each variant names the check
/// that failed; none carries key material.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum AttestError {
    /// The key is not restricted: it signs any digest, so it could have signed a forged
    /// TPMS_ATTEST.
    #[error("the attestation key is not restricted ({0:?}): it could sign forged attestations")]
    NotRestricted(ObjectAttributes),
    /// The key is not a signing key (sign clear, or decrypt set).
    #[error("the attestation key is not a signing-only key ({0:?})")]
    NotSigning(ObjectAttributes),
    /// The key is not fixedTPM: it may have been imported, its private part known outside
    /// the TPM.
    #[error(
        "the attestation key is not fixedTPM ({0:?}): its private part may exist outside the TPM"
    )]
    NotFixedTpm(ObjectAttributes),
    /// The key's nameAlg is not a hash this library computes names with.
    #[error("unsupported name algorithm {0}")]
    UnsupportedNameAlg(AlgId),
    /// The key's public area is not one this module verifies with.
    #[error("attestation key: {0}")]
    Key(HostKeyError),
    /// The signature is refused: not the key's scheme or hash, malformed, or not valid over
    /// the TPMS_ATTEST bytes.
    #[error("signature: {0}")]
    Signature(HostKeyError),
    /// The signed bytes are not a TPMS_ATTEST (or have bytes after it).
    #[error("the signed structure is not a TPMS_ATTEST: {0}")]
    Parse(WireError),
    /// The structure does not start with TPM_GENERATED_VALUE: the TPM did not build it.
    #[error("magic 0x{0:08x} is not TPM_GENERATED_VALUE")]
    NotTpmGenerated(u32),
    /// The structure attests something else than asked for (a certification given as a
    /// quote).
    #[error("a {found} structure where {expected} was expected")]
    WrongType {
        /// The type the verifier asked for.
        expected: StructureTag,
        /// The structure's type.
        found: StructureTag,
    },
    /// The signer named in the structure is not the attestation key.
    #[error("the structure's signer is not the attestation key's qualified name")]
    SignerMismatch,
    /// The structure's extraData is not the verifier's nonce: it is not fresh.
    #[error("the structure's extraData is not the verifier's nonce")]
    NonceMismatch,
    /// A quote was to be verified against an empty nonce: nothing would show it fresh.
    #[error("a quote verified without a nonce proves nothing about now (ask for verify_quote_without_nonce by name)")]
    EmptyNonce,
    /// The quote selects a PCR the verifier has no value for.
    #[error("the quote selects PCR {pcr} of the {bank} bank, for which no value was given")]
    PcrNotExpected {
        /// The bank.
        bank: AlgId,
        /// The PCR.
        pcr: u8,
    },
    /// A PCR the verifier has a value for is not in the quote.
    #[error("PCR {pcr} of the {bank} bank was not quoted")]
    PcrNotQuoted {
        /// The bank.
        bank: AlgId,
        /// The PCR.
        pcr: u8,
    },
    /// The quote selects a bank twice.
    #[error("the quote selects the {0} bank twice")]
    DuplicatePcrBank(AlgId),
    /// The quote's PCR digest is not that of the expected values.
    #[error("the quoted PCR digest does not match the expected PCR values")]
    PcrDigestMismatch,
    /// The certified object is not the one expected.
    #[error("the certified object's name is not the expected one")]
    CertifiedNameMismatch,
    /// The object whose creation is certified is not the one expected.
    #[error("the object whose creation is certified is not the expected one")]
    CreatedObjectMismatch,
    /// The certified creation hash is not the expected one.
    #[error("the certified creation hash is not the expected one")]
    CreationHashMismatch,
    /// The certified NV index is not the one expected.
    #[error("the certified NV index's name is not the expected one")]
    NvIndexMismatch,
    /// The certified octets start at another offset.
    #[error("the certified NV octets start at offset {found}, not {expected}")]
    NvOffsetMismatch {
        /// The offset expected.
        expected: u16,
        /// The certified offset.
        found: u16,
    },
    /// The certified NV contents are not the expected ones.
    #[error("the certified NV contents are not the expected ones")]
    NvContentsMismatch,
}
