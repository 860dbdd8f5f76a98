//! Structures of the duplication, ECC and hierarchy-administration commands (TPM 2.0 Part 2):
//! the inner-wrapper key of TPM2_Duplicate / TPM2_Import, TPMS_ALGORITHM_DETAIL_ECC of
//! TPM2_ECC_Parameters.

use super::structures::plain_struct_codec;
use super::{
    EccCurve, EccParameter, EccScheme, KdfScheme, Marshal, Reader, Secret, Unmarshal, WireError,
    Writer, MAX_DIGEST_SIZE,
};

/// A TPM2B_DATA that carries the symmetric key of a duplicate's inner wrapper
/// (TPM2_Duplicate's `encryptionKeyIn`/`encryptionKeyOut`, TPM2_Import's `encryptionKey`).
/// Anyone holding it and the outer wrapper's seed can unwrap the duplicate, so it is a secret:
/// zeroized on drop, compared in constant time and redacted in `Debug`. Its capacity is
/// sizeof(TPMT_HA), the size of TPM2B_DATA.
pub type WrapperKey = Secret<{ MAX_DIGEST_SIZE + 2 }>;

/// TPMS_ALGORITHM_DETAIL_ECC: a curve's parameters as the TPM implements them
/// (TPM2_ECC_Parameters).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AlgorithmDetailEcc {
    /// The curve (TPM_ECC_CURVE).
    pub curve_id: EccCurve,
    /// Its key size in bits.
    pub key_size: u16,
    /// The curve's KDF, or TPM_ALG_NULL (TPMT_KDF_SCHEME+).
    pub kdf: KdfScheme,
    /// The curve's signing scheme, or TPM_ALG_NULL (TPMT_ECC_SCHEME+).
    pub sign: EccScheme,
    /// The prime p of the field.
    pub p: EccParameter,
    /// Coefficient a of the curve equation.
    pub a: EccParameter,
    /// Coefficient b of the curve equation.
    pub b: EccParameter,
    /// The x coordinate of the base point G.
    pub g_x: EccParameter,
    /// The y coordinate of the base point G.
    pub g_y: EccParameter,
    /// The order n of G.
    pub n: EccParameter,
    /// The cofactor h (a size of zero means 1).
    pub h: EccParameter,
}

plain_struct_codec!(AlgorithmDetailEcc {
    curve_id: EccCurve,
    key_size: u16,
    kdf: KdfScheme,
    sign: EccScheme,
    p: EccParameter,
    a: EccParameter,
    b: EccParameter,
    g_x: EccParameter,
    g_y: EccParameter,
    n: EccParameter,
    h: EccParameter
});

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wrapper_key_is_a_redacted_tpm2b_data() {
        let key = WrapperKey::new(&[0xA5; 66]).unwrap();
        assert!(!format!("{key:?}").contains("a5"));
        assert!(
            WrapperKey::new(&[0; 67]).is_err(),
            "more than sizeof(TPMT_HA)"
        );
        assert_eq!(&key.to_bytes()[..2], &[0, 66]);
    }

    #[test]
    fn a_truncated_curve_detail_is_an_error() {
        let detail = AlgorithmDetailEcc {
            curve_id: EccCurve::NIST_P256,
            key_size: 256,
            kdf: KdfScheme::Null,
            sign: EccScheme::Null,
            p: EccParameter::new(&[0xFF; 32]).unwrap(),
            a: EccParameter::new(&[0xFC; 32]).unwrap(),
            b: EccParameter::new(&[0x5A; 32]).unwrap(),
            g_x: EccParameter::new(&[1; 32]).unwrap(),
            g_y: EccParameter::new(&[2; 32]).unwrap(),
            n: EccParameter::new(&[3; 32]).unwrap(),
            h: EccParameter::new(&[1]).unwrap(),
        };
        let bytes = detail.to_bytes();
        assert_eq!(AlgorithmDetailEcc::from_bytes(&bytes).unwrap(), detail);
        for cut in 0..bytes.len() {
            assert!(
                AlgorithmDetailEcc::from_bytes(&bytes[..cut]).is_err(),
                "{cut}"
            );
        }
    }
}
