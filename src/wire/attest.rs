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
    pub clock: u64,
    pub reset_count: u32,
    pub restart_count: u32,
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
    pub name: Name,
    pub qualified_name: Name,
}

/// TPMS_CREATION_INFO
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CreationInfo {
    pub object_name: Name,
    pub creation_hash: Digest,
}

/// TPMS_QUOTE_INFO
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct QuoteInfo {
    pub pcr_select: PcrSelectionList,
    pub pcr_digest: Digest,
}

/// TPMS_COMMAND_AUDIT_INFO
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CommandAuditInfo {
    pub audit_counter: u64,
    pub digest_alg: AlgId,
    pub audit_digest: Digest,
    pub command_digest: Digest,
}

/// TPMS_SESSION_AUDIT_INFO
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SessionAuditInfo {
    pub exclusive_session: bool,
    pub session_digest: Digest,
}

/// TPMS_TIME_INFO
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct TimeInfo {
    pub time: u64,
    pub clock_info: ClockInfo,
}

/// TPMS_TIME_ATTEST_INFO
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct TimeAttestInfo {
    pub time: TimeInfo,
    pub firmware_version: u64,
}

/// TPMS_NV_CERTIFY_INFO
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NvCertifyInfo {
    pub index_name: Name,
    pub offset: u16,
    pub nv_contents: MaxNvBuffer,
}

/// TPMS_NV_DIGEST_CERTIFY_INFO
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NvDigestCertifyInfo {
    pub index_name: Name,
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
    Certify(CertifyInfo),
    Creation(CreationInfo),
    Quote(QuoteInfo),
    CommandAudit(CommandAuditInfo),
    SessionAudit(SessionAuditInfo),
    Time(TimeAttestInfo),
    Nv(NvCertifyInfo),
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
    pub qualified_signer: Name,
    pub extra_data: Data,
    pub clock_info: ClockInfo,
    pub firmware_version: u64,
    pub attested: Attested,
}

impl Attestation {
    pub fn is_tpm_generated(&self) -> bool {
        self.magic == TPM_GENERATED_VALUE
    }

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
    pub hash: AlgId,
    pub sig: PublicKeyRsa,
}

/// TPMS_SIGNATURE_ECC (ECDSA, ECDAA, SM2, ECSCHNORR)
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EccSignature {
    pub hash: AlgId,
    pub r: EccParameter,
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
    Null,
    RsaSsa(RsaSignature),
    RsaPss(RsaSignature),
    Ecdsa(EccSignature),
    EcDaa(EccSignature),
    Sm2(EccSignature),
    EcSchnorr(EccSignature),
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
