//! Hashes and HMACs selected by [`HashAlg`], streaming and without allocation.

use hmac::digest::generic_array::GenericArray;
use hmac::digest::{FixedOutput, Mac, Update};
use hmac::Hmac;

use super::{Block, CryptoError, HashAlg};
use crate::wire::{Digest, Marshal, Name, Public, MAX_NAME_SIZE};

/// A streaming hash over one of the supported algorithms.
#[derive(Clone)]
pub enum Hasher {
    /// SHA-1.
    Sha1(sha1::Sha1),
    /// SHA-256.
    Sha256(sha2::Sha256),
    /// SHA-384.
    Sha384(sha2::Sha384),
    /// SHA-512.
    Sha512(sha2::Sha512),
}

impl Hasher {
    /// A fresh hash of `alg`.
    pub fn new(alg: HashAlg) -> Self {
        match alg {
            HashAlg::Sha1 => Hasher::Sha1(Default::default()),
            HashAlg::Sha256 => Hasher::Sha256(Default::default()),
            HashAlg::Sha384 => Hasher::Sha384(Default::default()),
            HashAlg::Sha512 => Hasher::Sha512(Default::default()),
        }
    }

    /// The algorithm.
    pub fn alg(&self) -> HashAlg {
        match self {
            Hasher::Sha1(_) => HashAlg::Sha1,
            Hasher::Sha256(_) => HashAlg::Sha256,
            Hasher::Sha384(_) => HashAlg::Sha384,
            Hasher::Sha512(_) => HashAlg::Sha512,
        }
    }

    /// Feeds more data.
    pub fn update(&mut self, data: &[u8]) {
        match self {
            Hasher::Sha1(h) => Update::update(h, data),
            Hasher::Sha256(h) => Update::update(h, data),
            Hasher::Sha384(h) => Update::update(h, data),
            Hasher::Sha512(h) => Update::update(h, data),
        }
    }

    /// The digest (as a TPM2B_DIGEST of the algorithm's size).
    pub fn finalize(self) -> Digest {
        let mut block = [0u8; super::MAX_DIGEST_SIZE];
        let len = self.finalize_into(&mut block);
        digest_from(&block[..len])
    }

    /// Writes the digest into the front of `out` (no intermediate copy, so key stream written
    /// here exists only where the caller put it) and returns its length.
    pub(crate) fn finalize_into(self, out: &mut Block) -> usize {
        let len = self.alg().digest_size();
        let dst = &mut out[..len];
        match self {
            Hasher::Sha1(h) => h.finalize_into(GenericArray::from_mut_slice(dst)),
            Hasher::Sha256(h) => h.finalize_into(GenericArray::from_mut_slice(dst)),
            Hasher::Sha384(h) => h.finalize_into(GenericArray::from_mut_slice(dst)),
            Hasher::Sha512(h) => h.finalize_into(GenericArray::from_mut_slice(dst)),
        }
        len
    }
}

/// Hash of the concatenation of `parts`.
pub fn hash(alg: HashAlg, parts: &[&[u8]]) -> Digest {
    let mut h = Hasher::new(alg);
    for part in parts {
        h.update(part);
    }
    h.finalize()
}

/// A TPM name-style digest: `alg ‖ H_alg(parts…)` as a TPM2B_NAME — an object's or NV
/// index's name (over its public area), a qualified name (over parent ‖ name).
pub fn name_digest(alg: HashAlg, parts: &[&[u8]]) -> Name {
    let digest = hash(alg, parts);
    let mut buf = [0u8; MAX_NAME_SIZE];
    buf[..2].copy_from_slice(&alg.alg_id().0.to_be_bytes());
    buf[2..2 + digest.len()].copy_from_slice(digest.as_bytes());
    // Cannot fail: the algorithm id and one digest (at most 64 bytes) fit a TPM2B_NAME.
    Name::new(&buf[..2 + digest.len()]).unwrap_or_default()
}

/// An object's name: nameAlg ‖ H_nameAlg(TPMT_PUBLIC);
/// [`CryptoError::UnsupportedHash`] for a nameAlg this library cannot compute.
pub fn object_name(public: &Public) -> Result<Name, CryptoError> {
    let alg = HashAlg::from_alg_id(public.name_alg)?;
    Ok(name_digest(alg, &[&public.to_bytes()]))
}

/// A streaming HMAC over one of the supported algorithms.
///
/// The keyed state can be cloned to run several MACs under one key without re-keying.
#[derive(Clone)]
pub struct HmacCtx {
    alg: HashAlg,
    mac: HmacState,
}

#[derive(Clone)]
enum HmacState {
    Sha1(Hmac<sha1::Sha1>),
    Sha256(Hmac<sha2::Sha256>),
    Sha384(Hmac<sha2::Sha384>),
    Sha512(Hmac<sha2::Sha512>),
}

fn keyed<M: Mac + hmac::digest::KeyInit>(key: &[u8]) -> M {
    // RFC 2104 HMAC accepts keys of every length (long keys are hashed, short ones padded), and
    // the hmac crate's `new_from_slice` only returns an error for fixed-key MACs.
    <M as hmac::digest::KeyInit>::new_from_slice(key).expect("HMAC accepts keys of any length")
}

impl HmacCtx {
    /// An HMAC of `alg` keyed with `key` (any length: RFC 2104 hashes long keys and pads short
    /// ones, as the TPM does).
    pub fn new(alg: HashAlg, key: &[u8]) -> Self {
        let mac = match alg {
            HashAlg::Sha1 => HmacState::Sha1(keyed(key)),
            HashAlg::Sha256 => HmacState::Sha256(keyed(key)),
            HashAlg::Sha384 => HmacState::Sha384(keyed(key)),
            HashAlg::Sha512 => HmacState::Sha512(keyed(key)),
        };
        HmacCtx { alg, mac }
    }

    /// The algorithm.
    pub fn alg(&self) -> HashAlg {
        self.alg
    }

    /// Feeds more data.
    pub fn update(&mut self, data: &[u8]) {
        match &mut self.mac {
            HmacState::Sha1(m) => Mac::update(m, data),
            HmacState::Sha256(m) => Mac::update(m, data),
            HmacState::Sha384(m) => Mac::update(m, data),
            HmacState::Sha512(m) => Mac::update(m, data),
        }
    }

    /// The MAC. To check a MAC, prefer the constant-time [`HmacCtx::verify`].
    pub fn finalize(self) -> Digest {
        let mut block = [0u8; super::MAX_DIGEST_SIZE];
        let len = self.finalize_into(&mut block);
        digest_from(&block[..len])
    }

    /// Constant-time comparison of the MAC with `expected`; false when the lengths differ.
    pub fn verify(self, expected: &[u8]) -> bool {
        match self.mac {
            HmacState::Sha1(m) => m.verify_slice(expected).is_ok(),
            HmacState::Sha256(m) => m.verify_slice(expected).is_ok(),
            HmacState::Sha384(m) => m.verify_slice(expected).is_ok(),
            HmacState::Sha512(m) => m.verify_slice(expected).is_ok(),
        }
    }

    /// Writes the MAC into the front of `out` and returns its length.
    pub(crate) fn finalize_into(self, out: &mut Block) -> usize {
        let len = self.alg.digest_size();
        let dst = &mut out[..len];
        match self.mac {
            HmacState::Sha1(m) => m.finalize_into(GenericArray::from_mut_slice(dst)),
            HmacState::Sha256(m) => m.finalize_into(GenericArray::from_mut_slice(dst)),
            HmacState::Sha384(m) => m.finalize_into(GenericArray::from_mut_slice(dst)),
            HmacState::Sha512(m) => m.finalize_into(GenericArray::from_mut_slice(dst)),
        }
        len
    }
}

/// HMAC of the concatenation of `parts`.
pub fn hmac(alg: HashAlg, key: &[u8], parts: &[&[u8]]) -> Digest {
    let mut mac = HmacCtx::new(alg, key);
    for part in parts {
        mac.update(part);
    }
    mac.finalize()
}

fn digest_from(bytes: &[u8]) -> Digest {
    // Every supported digest fits a TPM2B_DIGEST (capacity MAX_DIGEST_SIZE = SHA-512's size).
    Digest::new(bytes).expect("digest sizes never exceed MAX_DIGEST_SIZE")
}
