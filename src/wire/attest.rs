//! Attestation structures (TPMS_ATTEST with TPMU_ATTEST, TPMS_CLOCK_INFO) and signatures
//! (TPMT_SIGNATURE).

use super::pcr::{HashValue, PcrSelectionList};
use super::structures::{bad_selector, plain_struct_codec};
use super::{
    AlgId, Data, Digest, EccParameter, Marshal, MaxNvBuffer, Name, PublicKeyRsa, Reader,
    StructureTag, Unmarshal, WireError, Writer,
};

/// TPM_GENERATED_VALUE: the magic that starts every TPMS_ATTEST the TPM produced ("\xffTCG").
pub const TPM_GENERATED_VALUE: u32 = 0xff54_4347;

/// TPMS_CLOCK_INFO
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub struct ClockInfo {
    /// Milliseconds the TPM has been powered (TPMS_CLOCK_INFO.clock); it only moves forward, and is
    /// saved to NV periodically.
    pub clock: u64,
    /// TPM Resets (cold starts with `Startup(CLEAR)` after `Shutdown(CLEAR)` or none) since the TPM
    /// was last cleared.
    pub reset_count: u32,
    /// TPM Restarts and Resumes since the last TPM Reset.
    pub restart_count: u32,
    /// Whether `clock` is known not to have been reported before with a larger value (no unorderly
    /// shutdown since it was last saved).
    pub safe: bool,
}

impl Marshal for ClockInfo {
    fn marshal(&self, w: &mut Writer<'_>) {
        w.u64(self.clock);
        w.u32(self.reset_count);
        w.u32(self.restart_count);
        self.safe.marshal(w);
    }
}

impl Unmarshal for ClockInfo {
    fn unmarshal(r: &mut Reader<'_>) -> Result<Self, WireError> {
        Ok(ClockInfo {
            clock: r.u64()?,
            reset_count: r.u32()?,
            restart_count: r.u32()?,
            safe: bool::unmarshal(r)?,
        })
    }
}

/// TPMS_CERTIFY_INFO
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CertifyInfo {
    /// The certified object's name.
    pub name: Name,
    /// Its qualified name (chained with its parents').
    pub qualified_name: Name,
}

/// TPMS_CREATION_INFO
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CreationInfo {
    /// The name of the object whose creation is certified.
    pub object_name: Name,
    /// The creationHash TPM2_Create or TPM2_CreatePrimary returned for it.
    pub creation_hash: Digest,
}

/// TPMS_QUOTE_INFO
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct QuoteInfo {
    /// The quoted PCRs.
    pub pcr_select: PcrSelectionList,
    /// The digest of their values, concatenated in selection order, with the signing scheme's hash.
    pub pcr_digest: Digest,
}

/// TPMS_COMMAND_AUDIT_INFO
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CommandAuditInfo {
    /// How many times the command audit digest was reset (auditCounter).
    pub audit_counter: u64,
    /// The hash of the audit digest.
    pub digest_alg: AlgId,
    /// The current command audit digest.
    pub audit_digest: Digest,
    /// The digest of the list of audited command codes.
    pub command_digest: Digest,
}

/// TPMS_SESSION_AUDIT_INFO
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SessionAuditInfo {
    /// Whether every command since the session became exclusive (TPMA_SESSION_AUDITEXCLUSIVE) was
    /// audited by it, so no other command ran in between.
    pub exclusive_session: bool,
    /// The session's audit digest: the chain of H(cpHash ‖ rpHash) over its commands.
    pub session_digest: Digest,
}

/// TPMS_TIME_INFO
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct TimeInfo {
    /// Milliseconds since the last TPM Reset or TPM Restart (not saved across power loss).
    pub time: u64,
    /// The clock and the reset and restart counters.
    pub clock_info: ClockInfo,
}

/// TPMS_TIME_ATTEST_INFO
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct TimeAttestInfo {
    /// The time and clock.
    pub time: TimeInfo,
    /// The TPM vendor's firmware version.
    pub firmware_version: u64,
}

/// TPMS_NV_CERTIFY_INFO
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NvCertifyInfo {
    /// The NV index's name.
    pub index_name: Name,
    /// Octet offset of `nv_contents` in the index.
    pub offset: u16,
    /// The certified octets.
    pub nv_contents: MaxNvBuffer,
}

/// TPMS_NV_DIGEST_CERTIFY_INFO
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NvDigestCertifyInfo {
    /// The NV index's name.
    pub index_name: Name,
    /// The digest of the whole index's contents.
    pub nv_digest: Digest,
}

plain_struct_codec!(CertifyInfo {
    name: Name,
    qualified_name: Name
});
plain_struct_codec!(CreationInfo {
    object_name: Name,
    creation_hash: Digest
});
plain_struct_codec!(QuoteInfo {
    pcr_select: PcrSelectionList,
    pcr_digest: Digest
});
plain_struct_codec!(CommandAuditInfo {
    audit_counter: u64,
    digest_alg: AlgId,
    audit_digest: Digest,
    command_digest: Digest
});
plain_struct_codec!(SessionAuditInfo {
    exclusive_session: bool,
    session_digest: Digest
});
plain_struct_codec!(TimeInfo {
    time: u64,
    clock_info: ClockInfo
});
plain_struct_codec!(TimeAttestInfo {
    time: TimeInfo,
    firmware_version: u64
});
plain_struct_codec!(NvCertifyInfo {
    index_name: Name,
    offset: u16,
    nv_contents: MaxNvBuffer
});
plain_struct_codec!(NvDigestCertifyInfo {
    index_name: Name,
    nv_digest: Digest
});

/// TPMU_ATTEST, selected by the TPMS_ATTEST type (a TPM_ST_ATTEST_* tag).
// Sized buffers are inline by design (reading never allocates), so arms differ in size.
#[allow(clippy::large_enum_variant)]
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Attested {
    /// TPM_ST_ATTEST_CERTIFY: TPM2_Certify.
    Certify(CertifyInfo),
    /// TPM_ST_ATTEST_CREATION: TPM2_CertifyCreation.
    Creation(CreationInfo),
    /// TPM_ST_ATTEST_QUOTE: TPM2_Quote.
    Quote(QuoteInfo),
    /// TPM_ST_ATTEST_COMMAND_AUDIT: TPM2_GetCommandAuditDigest.
    CommandAudit(CommandAuditInfo),
    /// TPM_ST_ATTEST_SESSION_AUDIT: TPM2_GetSessionAuditDigest.
    SessionAudit(SessionAuditInfo),
    /// TPM_ST_ATTEST_TIME: TPM2_GetTime.
    Time(TimeAttestInfo),
    /// TPM_ST_ATTEST_NV: TPM2_NV_Certify of a range of octets.
    Nv(NvCertifyInfo),
    /// TPM_ST_ATTEST_NV_DIGEST: TPM2_NV_Certify of a whole index, as a digest.
    NvDigest(NvDigestCertifyInfo),
}

impl Attested {
    /// The TPMI_ST_ATTEST tag that selects this arm.
    pub fn tag(&self) -> StructureTag {
        match self {
            Attested::Certify(_) => StructureTag::ATTEST_CERTIFY,
            Attested::Creation(_) => StructureTag::ATTEST_CREATION,
            Attested::Quote(_) => StructureTag::ATTEST_QUOTE,
            Attested::CommandAudit(_) => StructureTag::ATTEST_COMMAND_AUDIT,
            Attested::SessionAudit(_) => StructureTag::ATTEST_SESSION_AUDIT,
            Attested::Time(_) => StructureTag::ATTEST_TIME,
            Attested::Nv(_) => StructureTag::ATTEST_NV,
            Attested::NvDigest(_) => StructureTag::ATTEST_NV_DIGEST,
        }
    }
}

/// TPMS_ATTEST: what the TPM signs in TPM2_Quote, TPM2_Certify, TPM2_NV_Certify, ...
/// Parse it from the bytes of a TPM2B_ATTEST ([`crate::wire::Attest`]) with
/// `Attestation::from_bytes(attest.as_bytes())`; verify the signature over those same bytes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Attestation {
    /// Must be [`TPM_GENERATED_VALUE`] for a structure the TPM produced; kept as read so a
    /// verifier can report what it found.
    pub magic: u32,
    /// The qualified name of the signing key.
    pub qualified_signer: Name,
    /// The caller's qualifyingData, e.g. a freshness nonce.
    pub extra_data: Data,
    /// The TPM's clock and its reset and restart counts (the counts are obfuscated unless the
    /// signing key is in the endorsement or platform hierarchy).
    pub clock_info: ClockInfo,
    /// The TPM vendor's firmware version.
    pub firmware_version: u64,
    /// The type-specific part.
    pub attested: Attested,
}

impl Attestation {
    /// Whether `magic` is TPM_GENERATED_VALUE. A restricted signing key signs only such structures,
    /// which is what makes the signature an attestation.
    pub fn is_tpm_generated(&self) -> bool {
        self.magic == TPM_GENERATED_VALUE
    }

    /// The TPM_ST_ATTEST_* type of the structure.
    pub fn attest_type(&self) -> StructureTag {
        self.attested.tag()
    }
}

impl Marshal for Attestation {
    fn marshal(&self, w: &mut Writer<'_>) {
        w.u32(self.magic);
        self.attested.tag().marshal(w);
        self.qualified_signer.marshal(w);
        self.extra_data.marshal(w);
        self.clock_info.marshal(w);
        w.u64(self.firmware_version);
        match &self.attested {
            Attested::Certify(i) => i.marshal(w),
            Attested::Creation(i) => i.marshal(w),
            Attested::Quote(i) => i.marshal(w),
            Attested::CommandAudit(i) => i.marshal(w),
            Attested::SessionAudit(i) => i.marshal(w),
            Attested::Time(i) => i.marshal(w),
            Attested::Nv(i) => i.marshal(w),
            Attested::NvDigest(i) => i.marshal(w),
        }
    }
}

impl Unmarshal for Attestation {
    fn unmarshal(r: &mut Reader<'_>) -> Result<Self, WireError> {
        let magic = r.u32()?;
        let tag = StructureTag::unmarshal(r)?;
        let qualified_signer = Name::unmarshal(r)?;
        let extra_data = Data::unmarshal(r)?;
        let clock_info = ClockInfo::unmarshal(r)?;
        let firmware_version = r.u64()?;
        let attested = match tag {
            StructureTag::ATTEST_CERTIFY => Attested::Certify(Unmarshal::unmarshal(r)?),
            StructureTag::ATTEST_CREATION => Attested::Creation(Unmarshal::unmarshal(r)?),
            StructureTag::ATTEST_QUOTE => Attested::Quote(Unmarshal::unmarshal(r)?),
            StructureTag::ATTEST_COMMAND_AUDIT => Attested::CommandAudit(Unmarshal::unmarshal(r)?),
            StructureTag::ATTEST_SESSION_AUDIT => Attested::SessionAudit(Unmarshal::unmarshal(r)?),
            StructureTag::ATTEST_TIME => Attested::Time(Unmarshal::unmarshal(r)?),
            StructureTag::ATTEST_NV => Attested::Nv(Unmarshal::unmarshal(r)?),
            StructureTag::ATTEST_NV_DIGEST => Attested::NvDigest(Unmarshal::unmarshal(r)?),
            other => return Err(bad_selector("TPMS_ATTEST type", other.0)),
        };
        Ok(Attestation {
            magic,
            qualified_signer,
            extra_data,
            clock_info,
            firmware_version,
            attested,
        })
    }
}

/// TPMS_SIGNATURE_RSA (RSASSA and RSAPSS)
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RsaSignature {
    /// The hash that was signed with.
    pub hash: AlgId,
    /// The signature, as big as the key's modulus.
    pub sig: PublicKeyRsa,
}

/// TPMS_SIGNATURE_ECC (ECDSA, ECDAA, SM2, ECSCHNORR)
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EccSignature {
    /// The hash that was signed with.
    pub hash: AlgId,
    /// The signature's r, big-endian.
    pub r: EccParameter,
    /// The signature's s, big-endian.
    pub s: EccParameter,
}

plain_struct_codec!(RsaSignature {
    hash: AlgId,
    sig: PublicKeyRsa
});
plain_struct_codec!(EccSignature {
    hash: AlgId,
    r: EccParameter,
    s: EccParameter
});

/// TPMT_SIGNATURE
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Signature {
    /// TPM_ALG_NULL: no signature (e.g. an attestation with TPM_RH_NULL as the signing key).
    Null,
    /// TPM_ALG_RSASSA: RSASSA-PKCS1-v1_5.
    RsaSsa(RsaSignature),
    /// TPM_ALG_RSAPSS: RSASSA-PSS.
    RsaPss(RsaSignature),
    /// TPM_ALG_ECDSA.
    Ecdsa(EccSignature),
    /// TPM_ALG_ECDAA.
    EcDaa(EccSignature),
    /// TPM_ALG_SM2.
    Sm2(EccSignature),
    /// TPM_ALG_ECSCHNORR.
    EcSchnorr(EccSignature),
    /// TPM_ALG_HMAC: a keyed-hash "signature" by an HMAC key.
    Hmac(HashValue),
}

impl Signature {
    /// The TPMI_ALG_SIG_SCHEME selector.
    pub fn sig_alg(&self) -> AlgId {
        match self {
            Signature::Null => AlgId::NULL,
            Signature::RsaSsa(_) => AlgId::RSASSA,
            Signature::RsaPss(_) => AlgId::RSAPSS,
            Signature::Ecdsa(_) => AlgId::ECDSA,
            Signature::EcDaa(_) => AlgId::ECDAA,
            Signature::Sm2(_) => AlgId::SM2,
            Signature::EcSchnorr(_) => AlgId::ECSCHNORR,
            Signature::Hmac(_) => AlgId::HMAC,
        }
    }
}

impl Marshal for Signature {
    fn marshal(&self, w: &mut Writer<'_>) {
        self.sig_alg().marshal(w);
        match self {
            Signature::Null => {}
            Signature::RsaSsa(s) | Signature::RsaPss(s) => s.marshal(w),
            Signature::Ecdsa(s)
            | Signature::EcDaa(s)
            | Signature::Sm2(s)
            | Signature::EcSchnorr(s) => s.marshal(w),
            Signature::Hmac(h) => h.marshal(w),
        }
    }
}

impl Unmarshal for Signature {
    fn unmarshal(r: &mut Reader<'_>) -> Result<Self, WireError> {
        Ok(match AlgId::unmarshal(r)? {
            AlgId::NULL => Signature::Null,
            AlgId::RSASSA => Signature::RsaSsa(Unmarshal::unmarshal(r)?),
            AlgId::RSAPSS => Signature::RsaPss(Unmarshal::unmarshal(r)?),
            AlgId::ECDSA => Signature::Ecdsa(Unmarshal::unmarshal(r)?),
            AlgId::ECDAA => Signature::EcDaa(Unmarshal::unmarshal(r)?),
            AlgId::SM2 => Signature::Sm2(Unmarshal::unmarshal(r)?),
            AlgId::ECSCHNORR => Signature::EcSchnorr(Unmarshal::unmarshal(r)?),
            AlgId::HMAC => Signature::Hmac(Unmarshal::unmarshal(r)?),
            other => return Err(bad_selector("TPMT_SIGNATURE sigAlg", other.0)),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::PcrSelection;

    fn quote() -> Attestation {
        Attestation {
            magic: TPM_GENERATED_VALUE,
            qualified_signer: Name::new(&[0x00, 0x0B, 1, 2, 3]).unwrap(),
            extra_data: Data::new(b"nonce").unwrap(),
            clock_info: ClockInfo {
                clock: 1000,
                reset_count: 1,
                restart_count: 2,
                safe: true,
            },
            firmware_version: 0x2019_1023_0016_3600,
            attested: Attested::Quote(QuoteInfo {
                pcr_select: PcrSelectionList::new(vec![PcrSelection::new(
                    AlgId::SHA256,
                    &[0, 1, 2],
                )
                .unwrap()])
                .unwrap(),
                pcr_digest: Digest::new(&[0x5A; 32]).unwrap(),
            }),
        }
    }

    #[test]
    fn quote_layout_and_round_trip() {
        let q = quote();
        let bytes = q.to_bytes();
        assert_eq!(&bytes[..6], &[0xff, 0x54, 0x43, 0x47, 0x80, 0x18]);
        let back = Attestation::from_bytes(&bytes).unwrap();
        assert!(back.is_tpm_generated());
        assert_eq!(back.attest_type(), StructureTag::ATTEST_QUOTE);
        assert_eq!(back, q);
    }

    #[test]
    fn unknown_attest_type_is_an_error() {
        let mut bytes = quote().to_bytes();
        bytes[4..6].copy_from_slice(&StructureTag::CREATION.0.to_be_bytes());
        assert!(matches!(
            Attestation::from_bytes(&bytes),
            Err(WireError::BadValue { value: 0x8021, .. })
        ));
    }

    #[test]
    fn signatures() {
        assert_eq!(Signature::Null.to_bytes(), [0x00, 0x10]);
        let hmac = Signature::Hmac(HashValue::new(AlgId::SHA256, &[7; 32]).unwrap());
        let bytes = hmac.to_bytes();
        assert_eq!(&bytes[..4], &[0x00, 0x05, 0x00, 0x0B]);
        assert_eq!(bytes.len(), 36);
        assert_eq!(Signature::from_bytes(&bytes).unwrap(), hmac);
        let ecdsa = Signature::Ecdsa(EccSignature {
            hash: AlgId::SHA256,
            r: EccParameter::new(&[1; 32]).unwrap(),
            s: EccParameter::new(&[2; 32]).unwrap(),
        });
        assert_eq!(Signature::from_bytes(&ecdsa.to_bytes()).unwrap(), ecdsa);
        assert!(Signature::from_bytes(&[0x00, 0x99]).is_err());
    }
}
