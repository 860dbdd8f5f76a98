//! The host verifier: a TPMS_ATTEST and its signature, checked against the attestation key,
//! the verifier's nonce and what the verifier expects the TPM to have attested.

use subtle::ConstantTimeEq;

use crate::crypto::{self, HashAlg};
use crate::wire::{
    Attestation, Attested, ClockInfo, Handle, MaxNvBuffer, Name, ObjectAttributes,
    PcrSelectionList, Public, Signature, StructureTag, TimeInfo, Unmarshal, TPM_GENERATED_VALUE,
};

use super::convert::{signature_hash_of, verify_message, HostPublicKey};
use super::{AttestError, PcrValues};

/// An object's name: nameAlg ‖ H_nameAlg(TPMT_PUBLIC).
pub fn object_name(public: &Public) -> Result<Name, AttestError> {
    crypto::object_name(public).map_err(|_| AttestError::UnsupportedNameAlg(public.name_alg))
}

/// The qualified name of an object whose parent has the qualified name `parent`:
/// nameAlg ‖ H_nameAlg(parent ‖ name), with the object's nameAlg. The qualified name of a
/// hierarchy is its handle ([`hierarchy_qualified_name`]).
pub fn qualified_name(parent: &Name, public: &Public) -> Result<Name, AttestError> {
    let alg = HashAlg::from_alg_id(public.name_alg)
        .map_err(|_| AttestError::UnsupportedNameAlg(public.name_alg))?;
    let name = object_name(public)?;
    Ok(crypto::name_digest(
        alg,
        &[parent.as_bytes(), name.as_bytes()],
    ))
}

/// The qualified name of a hierarchy (TPM_RH_OWNER, TPM_RH_ENDORSEMENT, TPM_RH_PLATFORM,
/// TPM_RH_NULL): its handle, the parent of the primary objects made in it.
pub fn hierarchy_qualified_name(hierarchy: Handle) -> Name {
    // Four bytes always fit a TPM2B_NAME.
    Name::new(&hierarchy.0.to_be_bytes()).unwrap_or_default()
}

/// The key a verifier trusts to sign attestations: a restricted signing key that cannot
/// leave its TPM (fixedTPM), with the qualified name the TPM reports as the signer.
///
/// A restricted key signs only TPMS_ATTEST structures the TPM built (and digests the TPM
/// itself hashed from data not starting with TPM_GENERATED_VALUE), so a structure it signed
/// is one the TPM attests to. An unrestricted key signs any digest, so anyone with its
/// authorization could sign a forged TPMS_ATTEST; a key without fixedTPM may have been
/// imported from outside, its private part known to someone. Both are refused here.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AttestationKey {
    public: Public,
    name: Name,
    qualified_name: Name,
}

impl AttestationKey {
    /// The key with public area `public` and qualified name `qualified_name` (as computed
    /// with [`qualified_name`], or from a trusted record). Fails unless the key is
    /// restricted, signing and fixedTPM, of a type and scheme this module verifies.
    pub fn new(public: Public, qualified_name: Name) -> Result<Self, AttestError> {
        let attributes = public.object_attributes;
        if !attributes.contains(ObjectAttributes::RESTRICTED) {
            return Err(AttestError::NotRestricted(attributes));
        }
        if !attributes.contains(ObjectAttributes::SIGN_ENCRYPT)
            || attributes.contains(ObjectAttributes::DECRYPT)
        {
            return Err(AttestError::NotSigning(attributes));
        }
        if !attributes.contains(ObjectAttributes::FIXED_TPM) {
            return Err(AttestError::NotFixedTpm(attributes));
        }
        HostPublicKey::from_public(&public).map_err(AttestError::Key)?;
        let name = object_name(&public)?;
        Ok(AttestationKey {
            public,
            name,
            qualified_name,
        })
    }

    /// A primary key made in `hierarchy` (e.g. TPM_RH_ENDORSEMENT): its qualified name is
    /// computed from the hierarchy and the public area.
    pub fn primary(hierarchy: Handle, public: Public) -> Result<Self, AttestError> {
        let qn = qualified_name(&hierarchy_qualified_name(hierarchy), &public)?;
        Self::new(public, qn)
    }

    /// A key made under a parent whose qualified name is `parent` (e.g. an AK under the EK,
    /// as `tpm2_createak` makes it).
    pub fn child(parent: &Name, public: Public) -> Result<Self, AttestError> {
        let qn = qualified_name(parent, &public)?;
        Self::new(public, qn)
    }

    /// The key's public area.
    pub fn public(&self) -> &Public {
        &self.public
    }

    /// The key's name.
    pub fn name(&self) -> &Name {
        &self.name
    }

    /// The key's qualified name, which every attestation it signs names as its signer.
    pub fn qualified_name(&self) -> &Name {
        &self.qualified_name
    }
}

/// What every verified attestation reports besides its type-specific part.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct AttestedClock {
    /// The TPM vendor's firmware version.
    pub firmware_version: u64,
    /// The TPM's clock, resetCount, restartCount and safe flag. The counts are obfuscated
    /// unless the key is in the endorsement or platform hierarchy.
    pub clock_info: ClockInfo,
}

/// A TPMS_ATTEST whose signature, magic, signer and nonce were verified, and the hash it was
/// signed with. The type-specific part is not checked yet: the `verify_*` functions do that.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VerifiedAttestation {
    /// The parsed structure.
    pub attestation: Attestation,
    /// The signature's hash (a quote's PCR digest uses it too).
    pub hash: HashAlg,
}

impl VerifiedAttestation {
    /// The firmware version and clock the structure reports.
    pub fn clock(&self) -> AttestedClock {
        AttestedClock {
            firmware_version: self.attestation.firmware_version,
            clock_info: self.attestation.clock_info,
        }
    }
}

/// Verifies `attest` (the bytes of a TPM2B_ATTEST, as the TPM signed them) and `signature`
/// with `key`, and that the structure is one the TPM generated, names `key` as its signer
/// and carries `nonce` as its extraData (compared in constant time). The signature is
/// checked first, so nothing unauthenticated is interpreted beyond its scheme.
pub fn verify_attestation(
    key: &AttestationKey,
    attest: &[u8],
    signature: &Signature,
    nonce: &[u8],
) -> Result<VerifiedAttestation, AttestError> {
    verify_message(&key.public, attest, signature).map_err(AttestError::Signature)?;
    // verify_message accepted the hash, so it is one HashAlg knows.
    let hash = signature_hash_of(signature).map_err(AttestError::Signature)?;
    let attestation = Attestation::from_bytes(attest).map_err(AttestError::Parse)?;
    if attestation.magic != TPM_GENERATED_VALUE {
        return Err(AttestError::NotTpmGenerated(attestation.magic));
    }
    if attestation.qualified_signer != key.qualified_name {
        return Err(AttestError::SignerMismatch);
    }
    if !bool::from(attestation.extra_data.as_bytes().ct_eq(nonce)) {
        return Err(AttestError::NonceMismatch);
    }
    Ok(VerifiedAttestation { attestation, hash })
}

fn wrong_type(expected: StructureTag, found: &Attested) -> AttestError {
    AttestError::WrongType {
        expected,
        found: found.tag(),
    }
}

/// What a verified quote reports.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct QuoteReport {
    /// Firmware version and clock.
    pub clock: AttestedClock,
    /// The quoted PCRs, as the quote lists them.
    pub pcr_select: PcrSelectionList,
    /// The hash of the signature and of the PCR digest.
    pub hash: HashAlg,
}

/// Verifies a TPM2_Quote: [`verify_attestation`], then that it is a quote
/// (TPM_ST_ATTEST_QUOTE) of exactly the PCRs in `pcrs` whose digest (hashed with the
/// signature's hash) is that of the values in `pcrs`.
///
/// An empty `nonce` is refused ([`AttestError::EmptyNonce`]): a quote without the verifier's
/// nonce could have been made at any time before and replayed, so it says nothing about the
/// PCRs now. [`verify_quote_without_nonce`] is for the caller who wants that anyway.
pub fn verify_quote(
    key: &AttestationKey,
    attest: &[u8],
    signature: &Signature,
    nonce: &[u8],
    pcrs: &PcrValues,
) -> Result<QuoteReport, AttestError> {
    if nonce.is_empty() {
        return Err(AttestError::EmptyNonce);
    }
    check_quote(key, attest, signature, nonce, pcrs)
}

/// [`verify_quote`] of a quote made without a nonce (empty qualifyingData), which the quote
/// must then carry. Such a quote proves the PCR values at some time since the TPM's clock
/// values it reports, not now: it can be replayed by anyone who saw it. For a verifier that
/// establishes freshness by other means (the clock and resetCount it reports against a
/// trusted record, for instance).
pub fn verify_quote_without_nonce(
    key: &AttestationKey,
    attest: &[u8],
    signature: &Signature,
    pcrs: &PcrValues,
) -> Result<QuoteReport, AttestError> {
    check_quote(key, attest, signature, &[], pcrs)
}

fn check_quote(
    key: &AttestationKey,
    attest: &[u8],
    signature: &Signature,
    nonce: &[u8],
    pcrs: &PcrValues,
) -> Result<QuoteReport, AttestError> {
    let verified = verify_attestation(key, attest, signature, nonce)?;
    let Attested::Quote(info) = &verified.attestation.attested else {
        return Err(wrong_type(
            StructureTag::ATTEST_QUOTE,
            &verified.attestation.attested,
        ));
    };
    let expected = pcrs.quote_digest(&info.pcr_select, verified.hash)?;
    if !bool::from(expected.as_bytes().ct_eq(info.pcr_digest.as_bytes())) {
        return Err(AttestError::PcrDigestMismatch);
    }
    Ok(QuoteReport {
        clock: verified.clock(),
        pcr_select: info.pcr_select.clone(),
        hash: verified.hash,
    })
}

/// What a verified TPM2_Certify reports.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct CertifyReport {
    /// Firmware version and clock.
    pub clock: AttestedClock,
    /// The certified object's qualified name, as the TPM reports it.
    pub qualified_name: Name,
}

/// Verifies a TPM2_Certify: [`verify_attestation`], then that it certifies
/// (TPM_ST_ATTEST_CERTIFY) the object named `name` (see [`object_name`]).
pub fn verify_certify(
    key: &AttestationKey,
    attest: &[u8],
    signature: &Signature,
    nonce: &[u8],
    name: &Name,
) -> Result<CertifyReport, AttestError> {
    let verified = verify_attestation(key, attest, signature, nonce)?;
    let Attested::Certify(info) = &verified.attestation.attested else {
        return Err(wrong_type(
            StructureTag::ATTEST_CERTIFY,
            &verified.attestation.attested,
        ));
    };
    if info.name != *name {
        return Err(AttestError::CertifiedNameMismatch);
    }
    Ok(CertifyReport {
        clock: verified.clock(),
        qualified_name: info.qualified_name.clone(),
    })
}

/// What a verified TPM2_CertifyCreation reports.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct CreationReport {
    /// Firmware version and clock.
    pub clock: AttestedClock,
}

/// Verifies a TPM2_CertifyCreation: [`verify_attestation`], then that it certifies
/// (TPM_ST_ATTEST_CREATION) the creation of the object named `name` with creation data
/// hashing to `creation_hash` (the creationHash TPM2_Create or TPM2_CreatePrimary returned,
/// or the nameAlg hash of the TPMS_CREATION_DATA the verifier holds).
pub fn verify_certify_creation(
    key: &AttestationKey,
    attest: &[u8],
    signature: &Signature,
    nonce: &[u8],
    name: &Name,
    creation_hash: &[u8],
) -> Result<CreationReport, AttestError> {
    let verified = verify_attestation(key, attest, signature, nonce)?;
    let Attested::Creation(info) = &verified.attestation.attested else {
        return Err(wrong_type(
            StructureTag::ATTEST_CREATION,
            &verified.attestation.attested,
        ));
    };
    if info.object_name != *name {
        return Err(AttestError::CreatedObjectMismatch);
    }
    if info.creation_hash.as_bytes() != creation_hash {
        return Err(AttestError::CreationHashMismatch);
    }
    Ok(CreationReport {
        clock: verified.clock(),
    })
}

/// What a verified TPM2_NV_Certify reports.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct NvCertifyReport {
    /// Firmware version and clock.
    pub clock: AttestedClock,
}

/// Verifies a TPM2_NV_Certify of a range of octets: [`verify_attestation`], then that it
/// certifies (TPM_ST_ATTEST_NV) that the index named `index_name` holds `contents` at
/// `offset`. The name of an index changes when it is first written: give the name it has
/// now.
pub fn verify_nv_certify(
    key: &AttestationKey,
    attest: &[u8],
    signature: &Signature,
    nonce: &[u8],
    index_name: &Name,
    offset: u16,
    contents: &[u8],
) -> Result<NvCertifyReport, AttestError> {
    let verified = verify_attestation(key, attest, signature, nonce)?;
    let Attested::Nv(info) = &verified.attestation.attested else {
        return Err(wrong_type(
            StructureTag::ATTEST_NV,
            &verified.attestation.attested,
        ));
    };
    if info.index_name != *index_name {
        return Err(AttestError::NvIndexMismatch);
    }
    if info.offset != offset {
        return Err(AttestError::NvOffsetMismatch {
            expected: offset,
            found: info.offset,
        });
    }
    let expected = MaxNvBuffer::new(contents).map_err(|_| AttestError::NvContentsMismatch)?;
    if info.nv_contents != expected {
        return Err(AttestError::NvContentsMismatch);
    }
    Ok(NvCertifyReport {
        clock: verified.clock(),
    })
}

/// What a verified TPM2_GetTime reports.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct TimeReport {
    /// Firmware version and clock.
    pub clock: AttestedClock,
    /// Milliseconds since the last TPM Reset or Restart, and the clock once more.
    pub time: TimeInfo,
}

/// Verifies a TPM2_GetTime: [`verify_attestation`], then that it attests the time
/// (TPM_ST_ATTEST_TIME).
pub fn verify_time(
    key: &AttestationKey,
    attest: &[u8],
    signature: &Signature,
    nonce: &[u8],
) -> Result<TimeReport, AttestError> {
    let verified = verify_attestation(key, attest, signature, nonce)?;
    let Attested::Time(info) = &verified.attestation.attested else {
        return Err(wrong_type(
            StructureTag::ATTEST_TIME,
            &verified.attestation.attested,
        ));
    };
    Ok(TimeReport {
        clock: verified.clock(),
        time: info.time,
    })
}
