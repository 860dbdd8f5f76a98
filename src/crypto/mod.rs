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

mod comb;
mod hash;
mod kdf;
mod oaep;
mod salt;
mod sym;

/// The curve type the ECC functions take: the wire's TPM_ECC_CURVE, re-exported here.
pub use crate::wire::EccCurve;
pub use hash::{hash, hmac, name_digest, object_name, Hasher, HmacCtx};
pub use kdf::{kdfa, kdfe};
#[cfg(any(feature = "ek", test))]
pub(crate) use salt::Curve;
pub use salt::SecretRecipient;
pub use salt::{
    ecc_coordinate_size, ecc_decapsulate, ecc_encapsulate_curve_rng, ecc_encapsulate_curve_with,
    rsa_encapsulate_rng, rsa_encrypt_secret, rsa_secret_hash, Encapsulated,
};
#[cfg(feature = "std")]
pub use salt::{ecc_encapsulate_curve, rsa_encapsulate};
pub use sym::{aes_cfb_decrypt, aes_cfb_encrypt, param_cfb, xor_obfuscate, Direction};

use rand_core::CryptoRngCore;

use crate::wire::{AlgId, MAX_DIGEST_SIZE};

/// Why a cryptographic operation could not be performed. No variant carries key material.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CryptoError {
    /// The hash algorithm is not one the library implements (SHA-1, SHA-256, SHA-384,
    /// SHA-512).
    #[error("unsupported hash algorithm {0}")]
    UnsupportedHash(AlgId),
    /// A key of this type cannot have secrets encrypted to it (only RSA and ECC keys can).
    #[error("a {0} key cannot have secrets encrypted to it (only RSA and ECC keys can)")]
    NotASecretRecipient(AlgId),
    /// The symmetric cipher or key size is not one the library implements (AES-128, -192 and
    /// -256 in CFB mode).
    #[error("unsupported cipher {alg} with a {key_bits}-bit key")]
    UnsupportedCipher {
        /// The cipher.
        alg: AlgId,
        /// The key size asked for, in bits.
        key_bits: usize,
    },
    /// The key's scheme does not allow encrypting a secret to it (e.g. an RSA key restricted
    /// to signing).
    #[error("a key with scheme {0} cannot receive an encrypted secret")]
    UnsupportedScheme(AlgId),
    /// The ECC curve (a TPM_ECC_CURVE value) is not one the library implements (NIST P-256,
    /// P-384, P-521).
    #[error("unsupported ECC curve 0x{0:04x}")]
    UnsupportedCurve(u16),
    /// A public key is unusable: a modulus too small, a point not on the curve, ...
    #[error("bad {what}: {reason}")]
    BadKey {
        /// Which key or part of it.
        what: &'static str,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// An input has the wrong length for the operation.
    #[error("{what} must be {expected} bytes, got {actual}")]
    BadLength {
        /// The input.
        what: &'static str,
        /// Its required length in bytes.
        expected: usize,
        /// Its actual length in bytes.
        actual: usize,
    },
    /// An input or output exceeds what the operation or its TPM2B allows.
    #[error("{what} of {size} bytes is too large (at most {max})")]
    TooLarge {
        /// The input or output.
        what: &'static str,
        /// Its size in bytes.
        size: usize,
        /// The most allowed, in bytes.
        max: usize,
    },
    /// The random number generator failed; nothing was sent.
    #[error("the random generator failed: {0}")]
    Random(#[cfg_attr(feature = "std", source)] rand_core::Error),
}

/// A hash algorithm the library supports (TPM_ALG_SHA1/SHA256/SHA384/SHA512).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum HashAlg {
    /// SHA-1 (TPM_ALG_SHA1, 20-byte digest). Still what many PCR banks and older policies use.
    Sha1,
    /// SHA-256 (TPM_ALG_SHA256, 32-byte digest).
    Sha256,
    /// SHA-384 (TPM_ALG_SHA384, 48-byte digest).
    Sha384,
    /// SHA-512 (TPM_ALG_SHA512, 64-byte digest).
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

    /// The algorithm for a TPM_ALG_ID; [`CryptoError::UnsupportedHash`] for any other id (including
    /// TPM_ALG_NULL and SM3).
    pub fn from_alg_id(id: AlgId) -> Result<Self, CryptoError> {
        match id {
            AlgId::SHA1 => Ok(HashAlg::Sha1),
            AlgId::SHA256 => Ok(HashAlg::Sha256),
            AlgId::SHA384 => Ok(HashAlg::Sha384),
            AlgId::SHA512 => Ok(HashAlg::Sha512),
            other => Err(CryptoError::UnsupportedHash(other)),
        }
    }

    /// The TPM_ALG_ID.
    pub fn alg_id(self) -> AlgId {
        match self {
            HashAlg::Sha1 => AlgId::SHA1,
            HashAlg::Sha256 => AlgId::SHA256,
            HashAlg::Sha384 => AlgId::SHA384,
            HashAlg::Sha512 => AlgId::SHA512,
        }
    }

    /// The tpm2-tools spelling (`sha256`), as in `-g sha256` or `sha256:0,1,2`.
    pub fn name(self) -> &'static str {
        match self {
            HashAlg::Sha1 => "sha1",
            HashAlg::Sha256 => "sha256",
            HashAlg::Sha384 => "sha384",
            HashAlg::Sha512 => "sha512",
        }
    }

    /// The algorithm spelled `name` by tpm2-tools (the inverse of [`HashAlg::name`]).
    pub fn from_name(name: &str) -> Option<Self> {
        HashAlg::ALL.into_iter().find(|h| h.name() == name)
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
