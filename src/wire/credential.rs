//! Credential protection (TPM 2.0 Part 1, "Credential Protection"; Part 2 TPMS_ID_OBJECT):
//! the blob TPM2_MakeCredential produces and TPM2_ActivateCredential consumes, and the secret
//! it carries.

use super::{
    Digest, Marshal, Reader, Secret, Tpm2b, Unmarshal, WireError, Writer, MAX_DIGEST_SIZE,
};

/// The most bytes of `encIdentity`: a marshalled TPM2B_DIGEST (its size field included,
/// since the whole of it is encrypted).
pub const MAX_ENC_IDENTITY: usize = 2 + MAX_DIGEST_SIZE;

/// sizeof(TPMS_ID_OBJECT): the integrity HMAC (a TPM2B_DIGEST) and `encIdentity`.
pub const MAX_ID_OBJECT: usize = 2 + MAX_DIGEST_SIZE + MAX_ENC_IDENTITY;

/// The encrypted credential inside an [`IdObject`]: CFB ciphertext of a marshalled
/// TPM2B_DIGEST, size field included, so its own length is not on the wire.
pub type EncIdentity = Tpm2b<MAX_ENC_IDENTITY>;

/// The credential a TPM2_MakeCredential protects and TPM2_ActivateCredential releases (a
/// TPM2B_DIGEST, at most the protector's name-algorithm digest long). A secret: zeroized on
/// drop, redacted in `Debug`.
pub type CredentialSecret = Secret<MAX_DIGEST_SIZE>;

/// TPM2B_ID_OBJECT: a TPMS_ID_OBJECT behind a size field. TPMS_ID_OBJECT is `integrityHMAC`
/// (a TPM2B_DIGEST, in clear) followed by `encIdentity`, which Part 2 declares a TPM2B_DIGEST
/// but which is encrypted whole, size field included; so here it is the bytes that follow the
/// HMAC up to the end of the TPM2B, at most [`MAX_ENC_IDENTITY`] of them.
///
/// ```
/// use tpm2_wire::wire::{Digest, EncIdentity, IdObject, Marshal, Unmarshal};
///
/// let id = IdObject {
///     integrity_hmac: Digest::new(&[0xAA; 32]).unwrap(),
///     enc_identity: EncIdentity::new(&[0x55; 18]).unwrap(),
/// };
/// let bytes = id.to_bytes();
/// assert_eq!(&bytes[..4], &[0x00, 2 + 32 + 18, 0x00, 32]);
/// assert_eq!(IdObject::from_bytes(&bytes).unwrap(), id);
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct IdObject {
    /// HMAC over `encIdentity ‖ name` with a key derived from the seed ("INTEGRITY").
    pub integrity_hmac: Digest,
    /// The credential, encrypted with a key derived from the seed and the name ("STORAGE").
    pub enc_identity: EncIdentity,
}

impl Marshal for IdObject {
    const TPM2B: bool = true;

    fn marshal(&self, w: &mut Writer<'_>) {
        // At most 2 + 64 + 66 bytes: the size always fits.
        w.u16((2 + self.integrity_hmac.len() + self.enc_identity.len()) as u16);
        self.integrity_hmac.marshal(w);
        w.bytes(self.enc_identity.as_bytes());
    }
}

impl Unmarshal for IdObject {
    const TPM2B: bool = true;

    fn unmarshal(r: &mut Reader<'_>) -> Result<Self, WireError> {
        let size = usize::from(r.u16()?);
        if size > MAX_ID_OBJECT {
            return Err(WireError::TooLarge {
                what: "TPM2B_ID_OBJECT",
                size,
                max: MAX_ID_OBJECT,
            });
        }
        let mut inner = r.sub(size)?;
        let integrity_hmac = Digest::unmarshal(&mut inner)?;
        let rest = inner.rest();
        if rest.len() > MAX_ENC_IDENTITY {
            return Err(WireError::TooLarge {
                what: "TPMS_ID_OBJECT encIdentity",
                size: rest.len(),
                max: MAX_ENC_IDENTITY,
            });
        }
        Ok(IdObject {
            integrity_hmac,
            enc_identity: EncIdentity::new(rest)?,
        })
    }
}

#[cfg(feature = "arbitrary")]
impl<'a> ::arbitrary::Arbitrary<'a> for IdObject {
    fn arbitrary(u: &mut ::arbitrary::Unstructured<'a>) -> ::arbitrary::Result<Self> {
        // Each part within its own capacity, so the whole is within MAX_ID_OBJECT.
        Ok(IdObject {
            integrity_hmac: u.arbitrary()?,
            enc_identity: u.arbitrary()?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_hmac_is_sized_and_the_rest_is_enc_identity() {
        // size 7: HMAC of 2 bytes, then 3 bytes of encIdentity.
        let bytes = [0x00, 0x07, 0x00, 0x02, 0xAA, 0xBB, 0x01, 0x02, 0x03];
        let id = IdObject::from_bytes(&bytes).unwrap();
        assert_eq!(id.integrity_hmac.as_bytes(), [0xAA, 0xBB]);
        assert_eq!(id.enc_identity.as_bytes(), [1, 2, 3]);
        assert_eq!(id.to_bytes(), bytes);
    }

    #[test]
    fn sizes_beyond_the_structure_are_refused() {
        // An outer size above sizeof(TPMS_ID_OBJECT), with the bytes present.
        let mut big = vec![0x00, 0x85, 0x00, 0x00];
        big.extend([0u8; 0x83]);
        assert!(matches!(
            IdObject::from_bytes(&big),
            Err(WireError::TooLarge { size: 0x85, .. })
        ));
        // Within the outer bound, but encIdentity longer than a marshalled digest.
        let mut long = vec![0x00, 0x45, 0x00, 0x00];
        long.extend([0u8; 0x43]);
        assert!(matches!(
            IdObject::from_bytes(&long),
            Err(WireError::TooLarge { size: 0x43, .. })
        ));
        // An HMAC size running past the outer size.
        assert!(IdObject::from_bytes(&[0x00, 0x03, 0x00, 0x05, 0x01]).is_err());
    }
}
