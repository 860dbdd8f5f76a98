//! NV index public areas (TPMS_NV_PUBLIC, TPM2B_NV_PUBLIC).

use super::structures::{marshal_sized, unmarshal_sized, NvAttributes};
use super::{AlgId, Digest, Handle, Marshal, Reader, Unmarshal, WireError, Writer};

crate::wire::constants::tpm_enum! {
    /// TPM_NT: the kind of an NV index (bits 4-7 of TPMA_NV).
    pub struct NvType(u8) {
        ORDINARY = 0x0 => "TPM_NT_ORDINARY",
        COUNTER = 0x1 => "TPM_NT_COUNTER",
        BITS = 0x2 => "TPM_NT_BITS",
        EXTEND = 0x4 => "TPM_NT_EXTEND",
        PIN_FAIL = 0x8 => "TPM_NT_PIN_FAIL",
        PIN_PASS = 0x9 => "TPM_NT_PIN_PASS",
    }
}

impl NvAttributes {
    /// The index's kind (its TPM_NT field).
    pub fn nv_type(self) -> NvType {
        NvType(self.nt() as u8)
    }

    /// `self` with its TPM_NT field set to `nv_type` (only the low 4 bits are used).
    pub fn with_nv_type(self, nv_type: NvType) -> Self {
        NvAttributes((self.0 & !0xF0) | (u32::from(nv_type.0 & 0x0F) << 4))
    }
}

/// TPMS_NV_PUBLIC
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NvPublic {
    /// The index's handle (0x01xxxxxx).
    pub nv_index: Handle,
    /// The hash of the index's name, and of extend indices.
    pub name_alg: AlgId,
    /// TPMA_NV: the index's kind, who may read and write it, and its state (WRITTEN, locks).
    pub attributes: NvAttributes,
    /// The policy that authorizes policy-session access, or empty.
    pub auth_policy: Digest,
    /// Size of the data area in bytes (8 for counter and bits indices, the digest size for extend
    /// indices).
    pub data_size: u16,
}

impl NvPublic {
    /// The hash algorithm of the index's Name (the Name is nameAlg || H(this area)).
    pub fn name_alg(&self) -> AlgId {
        self.name_alg
    }
}

impl Marshal for NvPublic {
    fn marshal(&self, w: &mut Writer<'_>) {
        self.nv_index.marshal(w);
        self.name_alg.marshal(w);
        self.attributes.marshal(w);
        self.auth_policy.marshal(w);
        w.u16(self.data_size);
    }
}

impl Unmarshal for NvPublic {
    fn unmarshal(r: &mut Reader<'_>) -> Result<Self, WireError> {
        Ok(NvPublic {
            nv_index: Handle::unmarshal(r)?,
            name_alg: AlgId::unmarshal(r)?,
            attributes: NvAttributes::unmarshal(r)?,
            auth_policy: Digest::unmarshal(r)?,
            data_size: r.u16()?,
        })
    }
}

/// TPM2B_NV_PUBLIC: a size-prefixed [`NvPublic`] that must fill its size exactly.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Tpm2bNvPublic(pub NvPublic);

impl Marshal for Tpm2bNvPublic {
    const TPM2B: bool = true;

    fn marshal(&self, w: &mut Writer<'_>) {
        marshal_sized(w, |w| self.0.marshal(w))
    }
}

impl Unmarshal for Tpm2bNvPublic {
    const TPM2B: bool = true;

    fn unmarshal(r: &mut Reader<'_>) -> Result<Self, WireError> {
        Ok(Tpm2bNvPublic(unmarshal_sized(r)?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nv_public_layout_and_type() {
        let nv = NvPublic {
            nv_index: Handle(0x0150_0016),
            name_alg: AlgId::SHA256,
            attributes: (NvAttributes::OWNERWRITE | NvAttributes::OWNERREAD)
                .with_nv_type(NvType::COUNTER),
            auth_policy: Digest::empty(),
            data_size: 8,
        };
        let sized = Tpm2bNvPublic(nv.clone()).to_bytes();
        assert_eq!(
            sized,
            [0, 14, 0x01, 0x50, 0x00, 0x16, 0, 0x0B, 0, 0x02, 0, 0x12, 0, 0, 0, 8]
        );
        assert_eq!(Tpm2bNvPublic::from_bytes(&sized).unwrap().0, nv);
        assert_eq!(nv.attributes.nv_type(), NvType::COUNTER);
        assert_eq!(
            format!("{:?}", nv.attributes),
            "ownerwrite|ownerread|nt=0x1"
        );
    }
}
