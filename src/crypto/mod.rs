//! The cryptography TPM 2.0 sessions need, by TPM algorithm: hashes and HMACs, the KDFa and KDFe
//! key derivations (Part 1 §11.4.10), AES-CFB and XOR parameter encryption (Part 1 §21), and the
//! RSA-OAEP / ECDH "secret" encapsulation used for salted sessions, credentials and imports
//! (Part 1 Annex B.10.3 and C.6.4).
//!
//! Every primitive comes from the RustCrypto crates; this module only selects them by algorithm
//! and lays out the TPM-specific inputs. Knows nothing of frames or I/O.
//!
//! Hash, HMAC, KDF, AES and XOR paths do not allocate. Derived key material that passes through
//! this module's own buffers is zeroized when dropped; outputs written into caller buffers are
//! the caller's to zeroize.

mod hash;
mod kdf;
mod salt;
mod sym;

pub use hash::{hash, hmac, Hasher, HmacCtx};
pub use kdf::{kdfa, kdfe};
pub use salt::{
    ecc_decapsulate, ecc_encapsulate_curve_rng, ecc_encapsulate_curve_with, ecc_encapsulate_with,
    rsa_encapsulate_rng, rsa_encrypt_secret, rsa_secret_hash, EccCurve, Encapsulated,
    EncapsulationKey,
};
#[cfg(feature = "std")]
pub use salt::{ecc_encapsulate, ecc_encapsulate_curve, rsa_encapsulate};
pub use sym::{
    aes_cfb_decrypt, aes_cfb_encrypt, param_cfb_decrypt, param_cfb_encrypt, xor_obfuscate,
};

use rand_core::CryptoRngCore;

use crate::wire::{AlgId, MAX_DIGEST_SIZE};

/// Why a cryptographic operation could not be performed. No variant carries key material.
#[derive(Debug, thiserror::Error)]
pub enum CryptoError {
    #[error("unsupported hash algorithm {0}")]
    UnsupportedHash(AlgId),
    #[error("unsupported cipher {alg} with a {key_bits}-bit key")]
    UnsupportedCipher { alg: AlgId, key_bits: usize },
    #[error("a key with scheme {0} cannot receive an encrypted secret")]
    UnsupportedScheme(AlgId),
    #[error("unsupported ECC curve 0x{0:04x}")]
    UnsupportedCurve(u16),
    #[error("bad {what}: {reason}")]
    BadKey {
        what: &'static str,
        reason: &'static str,
    },
    #[error("{what} must be {expected} bytes, got {actual}")]
    BadLength {
        what: &'static str,
        expected: usize,
        actual: usize,
    },
    #[error("{what} of {size} bytes is too large (at most {max})")]
    TooLarge {
        what: &'static str,
        size: usize,
        max: usize,
    },
    #[error("label is not a text string (OAEP labels must be UTF-8)")]
    BadLabel,
    #[error("RSA-OAEP encryption failed: {0}")]
    Rsa(#[cfg_attr(feature = "std", source)] rsa::Error),
    #[error("the random generator failed: {0}")]
    Random(#[cfg_attr(feature = "std", source)] rand_core::Error),
}

/// A hash algorithm the library supports (TPM_ALG_SHA1/SHA256/SHA384/SHA512).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum HashAlg {
    Sha1,
    Sha256,
    Sha384,
    Sha512,
}

impl HashAlg {
    /// All supported algorithms, smallest digest first.
    pub const ALL: [HashAlg; 4] = [
        HashAlg::Sha1,
        HashAlg::Sha256,
        HashAlg::Sha384,
        HashAlg::Sha512,
    ];

    pub fn from_alg_id(id: AlgId) -> Result<Self, CryptoError> {
        match id {
            AlgId::SHA1 => Ok(HashAlg::Sha1),
            AlgId::SHA256 => Ok(HashAlg::Sha256),
            AlgId::SHA384 => Ok(HashAlg::Sha384),
            AlgId::SHA512 => Ok(HashAlg::Sha512),
            other => Err(CryptoError::UnsupportedHash(other)),
        }
    }

    pub fn alg_id(self) -> AlgId {
        match self {
            HashAlg::Sha1 => AlgId::SHA1,
            HashAlg::Sha256 => AlgId::SHA256,
            HashAlg::Sha384 => AlgId::SHA384,
            HashAlg::Sha512 => AlgId::SHA512,
        }
    }

    /// Digest size in bytes.
    pub fn digest_size(self) -> usize {
        match self {
            HashAlg::Sha1 => 20,
            HashAlg::Sha256 => 32,
            HashAlg::Sha384 => 48,
            HashAlg::Sha512 => 64,
        }
    }
}

/// Fills `out` with random bytes from the operating system.
#[cfg(feature = "std")]
pub fn random(out: &mut [u8]) -> Result<(), CryptoError> {
    random_with(&mut rand_core::OsRng, out)
}

/// Fills `out` with random bytes from `rng` (firmware brings its own generator).
pub fn random_with<R: CryptoRngCore + ?Sized>(
    rng: &mut R,
    out: &mut [u8],
) -> Result<(), CryptoError> {
    rng.try_fill_bytes(out).map_err(CryptoError::Random)
}

/// A digest-sized scratch block for derived key stream; zeroized on drop by its wrapper.
type Block = [u8; MAX_DIGEST_SIZE];

/// TPM labels are NUL-terminated strings. Callers pass them without the NUL; like the reference
/// implementation we add one unless the label already ends in one, so both spellings agree.
fn label_needs_nul(label: &[u8]) -> bool {
    label.last() != Some(&0)
}

#[cfg(test)]
mod tests;
