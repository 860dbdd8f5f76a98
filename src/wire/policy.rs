//! Types that only policy commands take: the comparison of TPM2_PolicyNV and
//! TPM2_PolicyCounterTimer (TPM_EO) and its operand (TPM2B_OPERAND).

use super::constants::tpm_enum;
use super::Digest;

/// TPM2B_OPERAND: the value TPM2_PolicyNV and TPM2_PolicyCounterTimer compare against (the
/// specification defines it as a TPM2B_DIGEST).
pub type Operand = Digest;

tpm_enum! {
    /// TPM_EO: how TPM2_PolicyNV / TPM2_PolicyCounterTimer compare the operand with the
    /// stored value (`A` is the stored value, `B` the operand; comparisons are big-endian).
    pub struct ArithmeticOp(u16) {
        /// A = B.
        EQ = 0x0000 => "TPM_EO_EQ",
        /// A ≠ B.
        NEQ = 0x0001 => "TPM_EO_NEQ",
        /// A > B, signed.
        SIGNED_GT = 0x0002 => "TPM_EO_SIGNED_GT",
        /// A > B, unsigned.
        UNSIGNED_GT = 0x0003 => "TPM_EO_UNSIGNED_GT",
        /// A < B, signed.
        SIGNED_LT = 0x0004 => "TPM_EO_SIGNED_LT",
        /// A < B, unsigned.
        UNSIGNED_LT = 0x0005 => "TPM_EO_UNSIGNED_LT",
        /// A ≥ B, signed.
        SIGNED_GE = 0x0006 => "TPM_EO_SIGNED_GE",
        /// A ≥ B, unsigned.
        UNSIGNED_GE = 0x0007 => "TPM_EO_UNSIGNED_GE",
        /// A ≤ B, signed.
        SIGNED_LE = 0x0008 => "TPM_EO_SIGNED_LE",
        /// A ≤ B, unsigned.
        UNSIGNED_LE = 0x0009 => "TPM_EO_UNSIGNED_LE",
        /// All bits set in B are set in A.
        BITSET = 0x000A => "TPM_EO_BITSET",
        /// All bits set in B are clear in A.
        BITCLEAR = 0x000B => "TPM_EO_BITCLEAR",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::{Marshal, Unmarshal};

    #[test]
    fn arithmetic_op_is_a_u16_and_keeps_unknown_values() {
        assert_eq!(ArithmeticOp::BITCLEAR.to_bytes(), [0x00, 0x0B]);
        let unknown = ArithmeticOp::from_bytes(&[0x12, 0x34]).unwrap();
        assert_eq!(unknown, ArithmeticOp(0x1234));
        assert_eq!(unknown.to_string(), "0x1234");
        assert_eq!(ArithmeticOp::UNSIGNED_LE.to_string(), "TPM_EO_UNSIGNED_LE");
        assert!(ArithmeticOp::from_bytes(&[0x00]).is_err());
    }
}
