//! RSA-OAEP encryption to a TPM key (PKCS #1 v2.2 §7.1.1, with the TPM's label convention).
//!
//! The `rsa` crate of the project's RustCrypto generation computes the public-key operation with
//! a general-purpose big-integer library and redoes the modulus's Montgomery setup on every call:
//! about 180 µs per RSA-2048 encryption, most of what a salted session start costs the host.
//! Here the setup is done once per key ([`RsaRecipient::new`]) and the multiplications are
//! crypto-bigint's constant-time Montgomery arithmetic (the crate elliptic-curve already depends
//! on): about 38 µs. The exponent is public, so it is applied bit by bit; the message, which
//! carries the secret, only ever goes through constant-time multiplications.

use alloc::boxed::Box;
use alloc::vec;
use alloc::vec::Vec;
use crypto_bigint::modular::montgomery_reduction;
use crypto_bigint::{Limb, Uint, Word, U1024, U2048, U3072, U4096};
use rand_core::CryptoRngCore;
use rsa::traits::PublicKeyParts;
use rsa::{BigUint, RsaPublicKey};
use zeroize::{Zeroize, Zeroizing};

use super::{label_needs_nul, random_with, Block, CryptoError, HashAlg, Hasher};
use crate::wire::{MAX_DIGEST_SIZE, MAX_RSA_KEY_BYTES};

/// The RSA public exponent a TPM means by 0.
const DEFAULT_RSA_EXPONENT: u32 = 65537;
/// Smallest RSA modulus accepted: no TPM makes smaller keys, and smaller ones protect nothing.
const MIN_RSA_BITS: usize = 1024;

/// An RSA public key ready for encryption: checked once, with its Montgomery parameters
/// precomputed.
#[derive(Clone, Debug)]
pub(crate) struct RsaRecipient {
    /// The modulus's length in bytes (`k`): the ciphertext's length.
    size: usize,
    exponent: u32,
    modulus: Montgomery,
}

/// The modulus in the smallest supported width that holds it (boxed: a 4096-bit one takes
/// 1 KiB).
#[derive(Clone, Debug)]
enum Montgomery {
    W1024(Box<Modulus<{ U1024::LIMBS }>>),
    W2048(Box<Modulus<{ U2048::LIMBS }>>),
    W3072(Box<Modulus<{ U3072::LIMBS }>>),
    W4096(Box<Modulus<{ U4096::LIMBS }>>),
}

/// An odd modulus `n` with what Montgomery multiplication needs (R = 2^(word bits · LIMBS)).
#[derive(Clone, Debug)]
struct Modulus<const LIMBS: usize> {
    n: Uint<LIMBS>,
    /// R² mod n: multiplying by it enters Montgomery form.
    r_squared: Uint<LIMBS>,
    /// −n⁻¹ mod 2^(word bits).
    neg_inv: Limb,
}

impl<const LIMBS: usize> Modulus<LIMBS> {
    /// `modulus`: big-endian, odd, at most `LIMBS` words; `big` the same number.
    fn new(modulus: &[u8], big: &BigUint) -> Self {
        let n = uint_from_be(modulus);
        // One division with the rsa crate's integers: the modulus is public, and crypto-bigint's
        // constant-time remainder goes bit by bit (270 µs for RSA-2048, against a few here).
        let r_squared = (BigUint::from(1u8) << (2 * LIMBS * Limb::BITS)) % big;
        let r_squared = uint_from_be(&r_squared.to_bytes_be());
        // n⁻¹ mod 2^(word bits) depends on n's lowest word only.
        let low = Uint::<1>::from_word(n.as_words()[0]);
        let neg_inv = Limb(low.inv_mod2k(Limb::BITS).as_words()[0].wrapping_neg());
        Modulus {
            n,
            r_squared,
            neg_inv,
        }
    }

    /// a · b · R⁻¹ mod n, for a, b < n.
    fn multiply(&self, a: &Uint<LIMBS>, b: &Uint<LIMBS>) -> Uint<LIMBS> {
        montgomery_reduction(&a.mul_wide(b), &self.n, self.neg_inv)
    }

    /// a² · R⁻¹ mod n, for a < n.
    fn square(&self, a: &Uint<LIMBS>) -> Uint<LIMBS> {
        montgomery_reduction(&a.square_wide(), &self.n, self.neg_inv)
    }
}

impl RsaRecipient {
    /// A TPM RSA key: modulus big-endian (leading zero bytes allowed), `exponent` 0 meaning
    /// 65537. Moduli below 1024 bits or even, and exponents the `rsa` crate refuses, are refused.
    pub(crate) fn new(modulus: &[u8], exponent: u32) -> Result<Self, CryptoError> {
        if modulus.len() > MAX_RSA_KEY_BYTES {
            return Err(CryptoError::TooLarge {
                what: "RSA modulus",
                size: modulus.len(),
                max: MAX_RSA_KEY_BYTES,
            });
        }
        let significant = &modulus[modulus.iter().take_while(|&&b| b == 0).count()..];
        let n = BigUint::from_bytes_be(significant);
        if n.bits() < MIN_RSA_BITS {
            return Err(CryptoError::BadKey {
                what: "RSA modulus",
                reason: "shorter than 1024 bits",
            });
        }
        if !matches!(significant.last(), Some(low) if low & 1 == 1) {
            return Err(CryptoError::BadKey {
                what: "RSA modulus",
                reason: "even",
            });
        }
        let exponent = match exponent {
            0 => DEFAULT_RSA_EXPONENT,
            e => e,
        };
        // The rsa crate's own checks (exponent range, modulus size), so both paths accept the
        // same keys.
        let key =
            RsaPublicKey::new(n, BigUint::from(exponent)).map_err(|_| CryptoError::BadKey {
                what: "RSA public key",
                reason: "exponent or modulus out of range",
            })?;
        let n = key.n();
        let modulus = match significant.len() {
            ..=128 => Montgomery::W1024(Box::new(Modulus::new(significant, n))),
            129..=256 => Montgomery::W2048(Box::new(Modulus::new(significant, n))),
            257..=384 => Montgomery::W3072(Box::new(Modulus::new(significant, n))),
            _ => Montgomery::W4096(Box::new(Modulus::new(significant, n))),
        };
        Ok(RsaRecipient {
            size: significant.len(),
            exponent,
            modulus,
        })
    }

    /// RSA-OAEP encryption of `message` with `hash` for OAEP and MGF1 and the label
    /// `label ‖ 0x00` (the TPM hashes the label with its terminating NUL). The OAEP seed comes
    /// from `rng`.
    pub(crate) fn encrypt<R: CryptoRngCore + ?Sized>(
        &self,
        hash: HashAlg,
        label: &[u8],
        message: &[u8],
        rng: &mut R,
    ) -> Result<Vec<u8>, CryptoError> {
        let mut encoded = Zeroizing::new(vec![0u8; self.size]);
        oaep_encode(hash, label, message, &mut encoded, rng)?;
        let mut ciphertext = vec![0u8; self.size];
        match &self.modulus {
            Montgomery::W1024(p) => public_operation(p, self.exponent, &encoded, &mut ciphertext),
            Montgomery::W2048(p) => public_operation(p, self.exponent, &encoded, &mut ciphertext),
            Montgomery::W3072(p) => public_operation(p, self.exponent, &encoded, &mut ciphertext),
            Montgomery::W4096(p) => public_operation(p, self.exponent, &encoded, &mut ciphertext),
        }
        Ok(ciphertext)
    }
}

/// A big-endian number no longer than the width, left-padded with zeros.
fn uint_from_be<const LIMBS: usize>(bytes: &[u8]) -> Uint<LIMBS> {
    let mut words = [0 as Word; LIMBS];
    for (word, chunk) in words.iter_mut().zip(bytes.rchunks(Limb::BYTES)) {
        *word = chunk
            .iter()
            .fold(0 as Word, |acc, &b| (acc << 8) | Word::from(b));
    }
    let value = Uint::from_words(words);
    words.zeroize();
    value
}

/// `out = message^exponent mod n`, `message` and `out` big-endian of the modulus's length.
fn public_operation<const LIMBS: usize>(
    modulus: &Modulus<LIMBS>,
    exponent: u32,
    message: &[u8],
    out: &mut [u8],
) {
    let mut integer = uint_from_be::<LIMBS>(message);
    // m·R mod n: the message in Montgomery form.
    let mut base = modulus.multiply(&integer, &modulus.r_squared);
    integer.zeroize();
    let mut power = base;
    // The exponent is public: left-to-right square-and-multiply over its bits.
    for bit in (0..u32::BITS - 1 - exponent.leading_zeros()).rev() {
        power = modulus.square(&power);
        if (exponent >> bit) & 1 == 1 {
            power = modulus.multiply(&power, &base);
        }
    }
    base.zeroize();
    // Leaving Montgomery form is a reduction of (power, 0).
    let result = montgomery_reduction(&(power, Uint::ZERO), &modulus.n, modulus.neg_inv);
    power.zeroize();
    let bytes = result
        .as_words()
        .iter()
        .flat_map(|word| word.to_le_bytes())
        .take(out.len());
    for (dst, src) in out.iter_mut().rev().zip(bytes) {
        *dst = src;
    }
}

/// EME-OAEP encoding (PKCS #1 v2.2 §7.1.1) of `message` into `encoded` (the modulus's length).
fn oaep_encode<R: CryptoRngCore + ?Sized>(
    hash: HashAlg,
    label: &[u8],
    message: &[u8],
    encoded: &mut [u8],
    rng: &mut R,
) -> Result<(), CryptoError> {
    let digest_len = hash.digest_size();
    // A modulus shorter than the encoding's fixed part (two digests and two bytes) holds no
    // message at all, not even an empty one.
    let room = encoded
        .len()
        .checked_sub(2 * digest_len + 2)
        .ok_or(CryptoError::BadKey {
            what: "RSA modulus",
            reason: "too short for OAEP with this hash",
        })?;
    if message.len() > room {
        return Err(CryptoError::TooLarge {
            what: "RSA-OAEP message",
            size: message.len(),
            max: room,
        });
    }
    let (zero, rest) = encoded.split_at_mut(1);
    zero[0] = 0;
    let (seed, block) = rest.split_at_mut(digest_len);
    let mut label_hash = Hasher::new(hash);
    label_hash.update(label);
    if label_needs_nul(label) {
        label_hash.update(&[0]);
    }
    block[..digest_len].copy_from_slice(label_hash.finalize().as_bytes());
    let message_at = block.len() - message.len();
    block[digest_len..message_at - 1].fill(0);
    block[message_at - 1] = 1;
    block[message_at..].copy_from_slice(message);
    random_with(rng, seed)?;
    mgf1_xor(hash, seed, block);
    mgf1_xor(hash, block, seed);
    Ok(())
}

/// `out ^= MGF1(seed)` (PKCS #1 v2.2 §B.2.1): the digests of `seed ‖ counter` for counter 0, 1, ….
fn mgf1_xor(hash: HashAlg, seed: &[u8], out: &mut [u8]) {
    for (counter, chunk) in out.chunks_mut(hash.digest_size()).enumerate() {
        let mut hasher = Hasher::new(hash);
        hasher.update(seed);
        hasher.update(&(counter as u32).to_be_bytes());
        // The mask unmasks the secret: it lives only in this zeroized block.
        let mut mask: Zeroizing<Block> = Zeroizing::new([0; MAX_DIGEST_SIZE]);
        hasher.finalize_into(&mut mask);
        for (byte, m) in chunk.iter_mut().zip(mask.iter()) {
            *byte ^= m;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand_core::{OsRng, RngCore};

    /// Bytes from a counter: two generators made alike produce the same stream.
    struct Stream(u8);
    impl RngCore for Stream {
        fn next_u32(&mut self) -> u32 {
            rand_core::impls::next_u32_via_fill(self)
        }
        fn next_u64(&mut self) -> u64 {
            rand_core::impls::next_u64_via_fill(self)
        }
        fn fill_bytes(&mut self, out: &mut [u8]) {
            for b in out {
                self.0 = self.0.wrapping_mul(31).wrapping_add(7);
                *b = self.0;
            }
        }
        fn try_fill_bytes(&mut self, out: &mut [u8]) -> Result<(), rand_core::Error> {
            self.fill_bytes(out);
            Ok(())
        }
    }
    impl rand_core::CryptoRng for Stream {}

    #[test]
    fn the_public_operation_equals_the_rsa_crates_for_every_width() {
        for bits in [1024usize, 1032, 2040, 2048, 2056, 3072, 3080, 4096] {
            let mut modulus = vec![0u8; bits.div_ceil(8)];
            OsRng.fill_bytes(&mut modulus);
            modulus[0] |= 0x80;
            *modulus.last_mut().unwrap() |= 1;
            let key = RsaRecipient::new(&modulus, 0).unwrap();
            assert_eq!(key.size, modulus.len());
            for exponent in [3u32, 17, 65537, 0xffff_fffd] {
                let mut message = vec![0u8; modulus.len()];
                OsRng.fill_bytes(&mut message[1..]);
                let mut ours = vec![0u8; modulus.len()];
                match &key.modulus {
                    Montgomery::W1024(p) => public_operation(p, exponent, &message, &mut ours),
                    Montgomery::W2048(p) => public_operation(p, exponent, &message, &mut ours),
                    Montgomery::W3072(p) => public_operation(p, exponent, &message, &mut ours),
                    Montgomery::W4096(p) => public_operation(p, exponent, &message, &mut ours),
                }
                let theirs = BigUint::from_bytes_be(&message)
                    .modpow(&BigUint::from(exponent), &BigUint::from_bytes_be(&modulus));
                assert_eq!(
                    BigUint::from_bytes_be(&ours),
                    theirs,
                    "{bits} bits, e = {exponent}"
                );
            }
        }
    }

    #[test]
    fn oaep_equals_the_rsa_crates_byte_for_byte_and_its_private_key_decrypts_it() {
        for bits in [1024usize, 2048] {
            let private = rsa::RsaPrivateKey::new(&mut OsRng, bits).unwrap();
            let modulus = private.n().to_bytes_be();
            let key = RsaRecipient::new(&modulus, 0).unwrap();
            for (hash, label) in [
                (HashAlg::Sha1, &b"SECRET"[..]),
                (HashAlg::Sha256, b"DUPLICATE\0"),
                (HashAlg::Sha384, b"IDENTITY"),
                (HashAlg::Sha512, b"STORAGE"),
            ] {
                let message = [0x5a; 20];
                if bits == 1024 && hash == HashAlg::Sha512 {
                    // 2·64 + 2 + 20 bytes exceed a 128-byte modulus.
                    assert!(key.encrypt(hash, label, &message, &mut Stream(1)).is_err());
                    continue;
                }
                let ours = key.encrypt(hash, label, &message, &mut Stream(1)).unwrap();
                let text = core::str::from_utf8(label).unwrap().trim_end_matches('\0');
                let text = alloc::format!("{text}\0");
                let padding = || match hash {
                    HashAlg::Sha1 => rsa::Oaep::new_with_label::<sha1::Sha1, _>(text.clone()),
                    HashAlg::Sha256 => rsa::Oaep::new_with_label::<sha2::Sha256, _>(text.clone()),
                    HashAlg::Sha384 => rsa::Oaep::new_with_label::<sha2::Sha384, _>(text.clone()),
                    HashAlg::Sha512 => rsa::Oaep::new_with_label::<sha2::Sha512, _>(text.clone()),
                };
                let theirs = rsa::RsaPublicKey::from(&private)
                    .encrypt(&mut Stream(1), padding(), &message)
                    .unwrap();
                assert_eq!(ours, theirs, "{bits} bits, {hash:?}");
                assert_eq!(private.decrypt(padding(), &ours).unwrap(), message);
            }
        }
    }

    /// A modulus of `bytes` bytes with its top and bottom bits set (odd, full length).
    fn odd_modulus(bytes: usize) -> Vec<u8> {
        let mut modulus = vec![0u8; bytes];
        OsRng.fill_bytes(&mut modulus);
        modulus[0] |= 0x80;
        modulus[bytes - 1] |= 1;
        modulus
    }

    #[test]
    fn a_modulus_shorter_than_the_oaep_overhead_is_refused_even_for_an_empty_message() {
        // SHA-512 OAEP needs 2·64 + 2 = 130 bytes before any message: 1024- and 1032-bit
        // moduli (128 and 129 bytes) cannot carry one, 1040 bits (130 bytes) carries up to 0.
        for bytes in [128usize, 129] {
            let key = RsaRecipient::new(&odd_modulus(bytes), 0).unwrap();
            for message in [&[][..], &[7u8; 1]] {
                let err = key
                    .encrypt(HashAlg::Sha512, b"SECRET", message, &mut OsRng)
                    .unwrap_err();
                assert!(
                    matches!(
                        err,
                        CryptoError::BadKey {
                            what: "RSA modulus",
                            ..
                        }
                    ),
                    "{bytes} bytes, {} byte message: {err}",
                    message.len()
                );
            }
        }
        let key = RsaRecipient::new(&odd_modulus(130), 0).unwrap();
        assert_eq!(
            key.encrypt(HashAlg::Sha512, b"SECRET", &[], &mut OsRng)
                .unwrap()
                .len(),
            130
        );
        assert!(matches!(
            key.encrypt(HashAlg::Sha512, b"SECRET", &[1], &mut OsRng),
            Err(CryptoError::TooLarge { max: 0, .. })
        ));
    }

    #[test]
    fn moduli_just_below_1024_bits_are_refused_although_a_secret_would_fit() {
        // 1016 bits leave room for a SHA-256 secret (127 − 66 = 61 bytes), so only the size
        // check stands between such a key and a session secret.
        for bits in [1016usize, 1023] {
            let mut modulus = odd_modulus(bits.div_ceil(8));
            // The top byte keeps `top` bits, the highest of them set.
            let top = bits - 8 * (modulus.len() - 1);
            modulus[0] = (modulus[0] & ((1u16 << top) - 1) as u8) | 1 << (top - 1);
            assert_eq!(BigUint::from_bytes_be(&modulus).bits(), bits);
            let err = RsaRecipient::new(&modulus, 0).unwrap_err();
            assert!(
                matches!(
                    err,
                    CryptoError::BadKey {
                        reason: "shorter than 1024 bits",
                        ..
                    }
                ),
                "{bits} bits: {err}"
            );
        }
    }

    #[test]
    fn messages_that_do_not_fit_and_bad_keys_are_refused() {
        let mut modulus = vec![0xc5u8; 128];
        modulus[127] |= 1;
        let key = RsaRecipient::new(&modulus, 0).unwrap();
        // 128 − 2·32 − 2 = 62 bytes fit with SHA-256.
        assert!(key
            .encrypt(HashAlg::Sha256, b"L", &[1; 62], &mut OsRng)
            .is_ok());
        assert!(matches!(
            key.encrypt(HashAlg::Sha256, b"L", &[1; 63], &mut OsRng),
            Err(CryptoError::TooLarge { max: 62, .. })
        ));
        // Leading zeros do not count toward the size; an exponent of 1 is refused.
        let mut padded = vec![0u8; 4];
        padded.extend_from_slice(&modulus);
        assert_eq!(RsaRecipient::new(&padded, 0).unwrap().size, 128);
        assert!(matches!(
            RsaRecipient::new(&modulus, 1),
            Err(CryptoError::BadKey { .. })
        ));
        assert!(RsaRecipient::new(&[0u8; 256], 0).is_err());
        assert!(RsaRecipient::new(&[], 0).is_err());
    }
}
