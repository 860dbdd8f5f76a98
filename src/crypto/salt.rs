//! "Secret" encapsulation to a TPM key: the salt of a salted session, the seed of a credential
//! or a duplication blob (TPM 2.0 Part 1 Annex B.10.3 for RSA-OAEP, C.6.4 for ECDH). go-tpm
//! calls this labeled encapsulation.

use alloc::boxed::Box;
use alloc::vec::Vec;
use p256::elliptic_curve::ecdh::diffie_hellman;
use p256::elliptic_curve::sec1::{EncodedPoint, FromEncodedPoint, ModulusSize, ToEncodedPoint};
use p256::elliptic_curve::{
    AffinePoint, CurveArithmetic, FieldBytes, FieldBytesSize, PublicKey, SecretKey,
};

use rand_core::CryptoRngCore;
use rsa::{BigUint, RsaPublicKey};
use zeroize::Zeroizing;

use crypto_bigint::modular::montgomery_reduction;
use crypto_bigint::{Encoding, Limb, Uint, U1024, U2048, U3072, U4096};

use super::{kdfe, label_needs_nul, random_with, CryptoError, HashAlg, Hasher};
use crate::wire::{AlgId, Reader, Secret, MAX_DIGEST_SIZE, MAX_ECC_KEY_BYTES, MAX_RSA_KEY_BYTES};

/// A freshly encapsulated secret: `secret` is what both sides now share (zeroized on drop, never
/// printed), `ciphertext` the TPM2B_ENCRYPTED_SECRET payload that carries it to the TPM.
#[derive(Debug)]
pub struct Encapsulated {
    pub secret: Secret<MAX_DIGEST_SIZE>,
    pub ciphertext: Vec<u8>,
}

/// The RSA public exponent a TPM means by 0.
const DEFAULT_RSA_EXPONENT: u32 = 65537;
/// Smallest RSA modulus accepted: no TPM makes smaller keys, and smaller ones protect nothing.
const MIN_RSA_BITS: usize = 1024;

fn rsa_public_key(modulus: &[u8], exponent: u32) -> Result<RsaPublicKey, CryptoError> {
    if modulus.len() > MAX_RSA_KEY_BYTES {
        return Err(CryptoError::TooLarge {
            what: "RSA modulus",
            size: modulus.len(),
            max: MAX_RSA_KEY_BYTES,
        });
    }
    let n = BigUint::from_bytes_be(modulus);
    if n.bits() < MIN_RSA_BITS {
        return Err(CryptoError::BadKey {
            what: "RSA modulus",
            reason: "shorter than 1024 bits",
        });
    }
    if !matches!(modulus.last(), Some(low) if low & 1 == 1) {
        return Err(CryptoError::BadKey {
            what: "RSA modulus",
            reason: "even",
        });
    }
    let e = match exponent {
        0 => DEFAULT_RSA_EXPONENT,
        e => e,
    };
    RsaPublicKey::new(n, BigUint::from(e)).map_err(|_| CryptoError::BadKey {
        what: "RSA public key",
        reason: "exponent or modulus out of range",
    })
}

/// An RSA public key ready for the public operation: the modulus checked (through
/// [`rsa_public_key`]) and its Montgomery parameters computed once.
///
/// Not `RsaPublicKey::encrypt`: rsa 0.9 raises to the exponent with a fixed 4-bit window over
/// a whole 64-bit limb and recomputes R² mod n on every call, about 95 Montgomery
/// multiplications for e = 65537 where 17 do (16 squarings and one multiplication). The
/// arithmetic here is crypto-bigint's constant-time Montgomery multiplication (a RustCrypto
/// crate the curve crates already depend on); the exponent is public, so the sequence of
/// squarings and multiplications reveals nothing secret.
#[derive(Clone, Debug)]
struct RsaKey {
    /// The modulus' length in bytes: the ciphertext's length.
    k: usize,
    exponent: u32,
    params: MontParams,
}

/// Montgomery parameters at the smallest supported width that holds the modulus.
#[derive(Clone, Debug)]
enum MontParams {
    W1024(Box<Mont<{ U1024::LIMBS }>>),
    W2048(Box<Mont<{ U2048::LIMBS }>>),
    W3072(Box<Mont<{ U3072::LIMBS }>>),
    W4096(Box<Mont<{ U4096::LIMBS }>>),
}

/// An odd modulus with R² mod n and -n⁻¹ mod 2⁶⁴ (R = 2^(64·LIMBS)). R² is computed with
/// num-bigint's variable-time division, a fraction of crypto-bigint's constant-time one: the
/// modulus is public. Products go through crypto-bigint's constant-time Montgomery reduction.
#[derive(Clone, Debug)]
struct Mont<const LIMBS: usize> {
    n: Uint<LIMBS>,
    r2: Uint<LIMBS>,
    neg_inv: Limb,
}

/// Big-endian `bytes` (at most the width) as an integer of that width.
fn uint_from_be<const LIMBS: usize>(bytes: &[u8]) -> Uint<LIMBS> {
    let mut buf = Zeroizing::new([0u8; MAX_RSA_KEY_BYTES]);
    let width = LIMBS * Limb::BYTES;
    buf[width - bytes.len()..width].copy_from_slice(bytes);
    Uint::from_be_slice(&buf[..width])
}

impl<const LIMBS: usize> Mont<LIMBS>
where
    Uint<LIMBS>: Encoding,
{
    /// `n` big-endian without leading zeros, odd, at most the width.
    fn new(n: &[u8]) -> Mont<LIMBS> {
        let big_n = BigUint::from_bytes_be(n);
        let r2 = (BigUint::from(1u32) << (2 * LIMBS * Limb::BITS)) % &big_n;
        let modulus = uint_from_be::<LIMBS>(n);
        let inv = Uint::<1>::from_word(modulus.as_words()[0]).inv_mod2k_vartime(Limb::BITS);
        Mont {
            r2: uint_from_be(&r2.to_bytes_be()),
            n: modulus,
            neg_inv: Limb(inv.as_words()[0].wrapping_neg()),
        }
    }

    fn mul(&self, a: &Uint<LIMBS>, b: &Uint<LIMBS>) -> Uint<LIMBS> {
        montgomery_reduction(&a.mul_wide(b), &self.n, self.neg_inv)
    }

    fn square(&self, a: &Uint<LIMBS>) -> Uint<LIMBS> {
        montgomery_reduction(&a.square_wide(), &self.n, self.neg_inv)
    }

    /// `m^e mod n` (`m` big-endian and below n), left to right over the bits of the public
    /// exponent; `out` gets the result big-endian in its full length.
    fn pow(&self, m: &[u8], e: u32, out: &mut [u8]) {
        let m = Zeroizing::new(uint_from_be::<LIMBS>(m));
        let base = Zeroizing::new(self.mul(&m, &self.r2));
        let mut acc = Zeroizing::new(*base);
        for bit in (0..31 - e.leading_zeros()).rev() {
            *acc = self.square(&acc);
            if (e >> bit) & 1 == 1 {
                *acc = self.mul(&acc, &base);
            }
        }
        // Out of Montgomery form: multiply by 1.
        let c = montgomery_reduction(&(*acc, Uint::ZERO), &self.n, self.neg_inv);
        let be = c.to_be_bytes();
        let be = be.as_ref();
        out.copy_from_slice(&be[be.len() - out.len()..]);
    }
}

impl RsaKey {
    fn new(modulus: &[u8], exponent: u32) -> Result<RsaKey, CryptoError> {
        // The same checks (size, parity, exponent range) as for the rsa crate's key.
        let key = rsa_public_key(modulus, exponent)?;
        let exponent = match exponent {
            0 => DEFAULT_RSA_EXPONENT,
            e => e,
        };
        let _ = key;
        // Leading zero bytes carry nothing; the ciphertext has the modulus' byte length.
        let first = modulus
            .iter()
            .position(|&b| b != 0)
            .unwrap_or(modulus.len());
        let n = &modulus[first..];
        let params = match n.len() {
            0..=128 => MontParams::W1024(Box::new(Mont::new(n))),
            129..=256 => MontParams::W2048(Box::new(Mont::new(n))),
            257..=384 => MontParams::W3072(Box::new(Mont::new(n))),
            _ => MontParams::W4096(Box::new(Mont::new(n))),
        };
        Ok(RsaKey {
            k: n.len(),
            exponent,
            params,
        })
    }

    /// RSAES-OAEP-ENCRYPT (RFC 8017 7.1.1) of `msg` with `hash` for both the label hash and
    /// MGF1, the seed from `rng`. The label is the TPM label with its terminating NUL.
    fn encrypt<R: CryptoRngCore + ?Sized>(
        &self,
        hash: HashAlg,
        label: &[u8],
        msg: &[u8],
        rng: &mut R,
    ) -> Result<Vec<u8>, CryptoError> {
        core::str::from_utf8(label).map_err(|_| CryptoError::BadLabel)?;
        let k = self.k;
        let h = hash.digest_size();
        if msg.len() + 2 * h + 2 > k {
            return Err(CryptoError::Rsa(rsa::Error::MessageTooLong));
        }
        let mut hasher = Hasher::new(hash);
        hasher.update(label);
        if label_needs_nul(label) {
            hasher.update(&[0]);
        }
        let label_hash = hasher.finalize();
        // EM = 0x00 ‖ maskedSeed ‖ maskedDB, DB = lHash ‖ PS ‖ 0x01 ‖ M.
        let mut em = Zeroizing::new([0u8; MAX_RSA_KEY_BYTES]);
        let em = &mut em[..k];
        let (seed, db) = em[1..].split_at_mut(h);
        random_with(rng, seed)?;
        db[..h].copy_from_slice(label_hash.as_bytes());
        let one_at = db.len() - msg.len() - 1;
        db[one_at] = 1;
        db[one_at + 1..].copy_from_slice(msg);
        mgf1_xor(hash, seed, db);
        mgf1_xor(hash, db, seed);

        let mut out = alloc::vec![0u8; k];
        match &self.params {
            MontParams::W1024(p) => p.pow(em, self.exponent, &mut out),
            MontParams::W2048(p) => p.pow(em, self.exponent, &mut out),
            MontParams::W3072(p) => p.pow(em, self.exponent, &mut out),
            MontParams::W4096(p) => p.pow(em, self.exponent, &mut out),
        }
        Ok(out)
    }
}

/// `out ^= MGF1(hash, seed)`.
fn mgf1_xor(hash: HashAlg, seed: &[u8], out: &mut [u8]) {
    for (counter, chunk) in out.chunks_mut(hash.digest_size()).enumerate() {
        let mut hasher = Hasher::new(hash);
        hasher.update(seed);
        hasher.update(&(counter as u32).to_be_bytes());
        let mut mask: Zeroizing<[u8; MAX_DIGEST_SIZE]> = Zeroizing::new([0; MAX_DIGEST_SIZE]);
        hasher.finalize_into(&mut mask);
        for (o, m) in chunk.iter_mut().zip(mask.iter()) {
            *o ^= m;
        }
    }
}

/// The hash an RSA key's secret encapsulation uses for OAEP (and whose digest size is the
/// secret's size): the key's own OAEP scheme hash if it has one, its `name_alg` when its scheme is
/// TPM_ALG_NULL. Keys with any other scheme cannot receive secrets (the TPM answers
/// TPM_RC_SCHEME). `scheme_hash` is ignored unless `scheme` is TPM_ALG_OAEP.
pub fn rsa_secret_hash(
    name_alg: HashAlg,
    scheme: AlgId,
    scheme_hash: AlgId,
) -> Result<HashAlg, CryptoError> {
    match scheme {
        AlgId::NULL => Ok(name_alg),
        AlgId::OAEP => HashAlg::from_alg_id(scheme_hash),
        other => Err(CryptoError::UnsupportedScheme(other)),
    }
}

/// The OAEP label: the TPM label with its terminating NUL, which the spec hashes as part of it.
/// (The rsa crate's own OAEP, kept to check [`RsaKey::encrypt`] against.)
#[cfg(test)]
fn oaep_padding(name_alg: HashAlg, label: &[u8]) -> Result<rsa::Oaep, CryptoError> {
    use alloc::borrow::ToOwned;
    use rsa::Oaep;
    let mut text = core::str::from_utf8(label)
        .map_err(|_| CryptoError::BadLabel)?
        .to_owned();
    if label_needs_nul(label) {
        text.push('\0');
    }
    Ok(match name_alg {
        HashAlg::Sha1 => Oaep::new_with_label::<sha1::Sha1, _>(text),
        HashAlg::Sha256 => Oaep::new_with_label::<sha2::Sha256, _>(text),
        HashAlg::Sha384 => Oaep::new_with_label::<sha2::Sha384, _>(text),
        HashAlg::Sha512 => Oaep::new_with_label::<sha2::Sha512, _>(text),
    })
}

/// RSA-OAEP encryption of `secret` to a TPM RSA key (modulus big-endian, `exponent` 0 meaning
/// 65537). OAEP and MGF1 use `name_alg`, which must be the key's [`rsa_secret_hash`] (its
/// nameAlg unless the key has an OAEP scheme of its own); the label is `label ‖ 0x00`. The OAEP seed
/// comes from `rng`, so a fixed generator gives a deterministic ciphertext (for tests).
pub fn rsa_encrypt_secret(
    name_alg: HashAlg,
    modulus: &[u8],
    exponent: u32,
    label: &[u8],
    secret: &[u8],
    rng: &mut impl CryptoRngCore,
) -> Result<Vec<u8>, CryptoError> {
    RsaKey::new(modulus, exponent)?.encrypt(name_alg, label, secret, rng)
}

/// A random secret of `secret_len` bytes (normally `name_alg.digest_size()`, with `name_alg`
/// chosen by [`rsa_secret_hash`]) encrypted to a TPM
/// RSA key with [`rsa_encrypt_secret`]; secret and OAEP seed from the operating system.
#[cfg(feature = "std")]
pub fn rsa_encapsulate(
    name_alg: HashAlg,
    modulus: &[u8],
    exponent: u32,
    label: &[u8],
    secret_len: usize,
) -> Result<Encapsulated, CryptoError> {
    rsa_encapsulate_rng(
        name_alg,
        modulus,
        exponent,
        label,
        secret_len,
        &mut rand_core::OsRng,
    )
}

/// [`rsa_encapsulate`] with the secret and the OAEP seed from `rng`.
pub fn rsa_encapsulate_rng<R: CryptoRngCore>(
    name_alg: HashAlg,
    modulus: &[u8],
    exponent: u32,
    label: &[u8],
    secret_len: usize,
    rng: &mut R,
) -> Result<Encapsulated, CryptoError> {
    let secret = random_secret(secret_len, rng)?;
    let ciphertext =
        rsa_encrypt_secret(name_alg, modulus, exponent, label, secret.as_bytes(), rng)?;
    Ok(Encapsulated { secret, ciphertext })
}

fn random_secret<R: CryptoRngCore + ?Sized>(
    len: usize,
    rng: &mut R,
) -> Result<Secret<MAX_DIGEST_SIZE>, CryptoError> {
    if len > MAX_DIGEST_SIZE {
        return Err(CryptoError::TooLarge {
            what: "encapsulated secret",
            size: len,
            max: MAX_DIGEST_SIZE,
        });
    }
    let mut buf: Zeroizing<[u8; MAX_DIGEST_SIZE]> = Zeroizing::new([0; MAX_DIGEST_SIZE]);
    random_with(rng, &mut buf[..len])?;
    secret_from(&buf[..len])
}

fn secret_from(bytes: &[u8]) -> Result<Secret<MAX_DIGEST_SIZE>, CryptoError> {
    Secret::new(bytes).map_err(|_| CryptoError::TooLarge {
        what: "encapsulated secret",
        size: bytes.len(),
        max: MAX_DIGEST_SIZE,
    })
}

/// The ECC curves supported for encapsulation (TPM_ECC_CURVE values).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum EccCurve {
    NistP256,
    NistP384,
    NistP521,
}

impl EccCurve {
    pub fn from_tpm_id(id: u16) -> Result<Self, CryptoError> {
        match id {
            0x0003 => Ok(EccCurve::NistP256),
            0x0004 => Ok(EccCurve::NistP384),
            0x0005 => Ok(EccCurve::NistP521),
            other => Err(CryptoError::UnsupportedCurve(other)),
        }
    }

    /// The TPM_ECC_CURVE value.
    pub fn tpm_id(self) -> u16 {
        match self {
            EccCurve::NistP256 => 0x0003,
            EccCurve::NistP384 => 0x0004,
            EccCurve::NistP521 => 0x0005,
        }
    }

    /// Bytes in one coordinate (and in the private scalar).
    pub fn coordinate_size(self) -> usize {
        match self {
            EccCurve::NistP256 => 32,
            EccCurve::NistP384 => 48,
            EccCurve::NistP521 => 66,
        }
    }
}

/// Runs `$body` with `$c` bound to the elliptic-curve type of `$curve`.
macro_rules! with_curve {
    ($curve:expr, $c:ident => $body:expr) => {
        match $curve {
            EccCurve::NistP256 => {
                type $c = p256::NistP256;
                $body
            }
            EccCurve::NistP384 => {
                type $c = p384::NistP384;
                $body
            }
            EccCurve::NistP521 => {
                type $c = p521::NistP521;
                $body
            }
        }
    };
}

/// Copies a big-endian coordinate into a field-sized array, left-padding short values; a TPM may
/// have stripped leading zeros, and longer values are accepted only if the excess is zeros.
fn field_bytes<C: CurveArithmetic>(
    value: &[u8],
    what: &'static str,
) -> Result<FieldBytes<C>, CryptoError> {
    let mut out = FieldBytes::<C>::default();
    let size = out.len();
    let first_nonzero = value.iter().position(|&b| b != 0).unwrap_or(value.len());
    let significant = &value[first_nonzero..];
    if significant.len() > size {
        return Err(CryptoError::BadKey {
            what,
            reason: "coordinate larger than the curve's field",
        });
    }
    out[size - significant.len()..].copy_from_slice(significant);
    Ok(out)
}

fn public_key_from<C>(x: &[u8], y: &[u8], what: &'static str) -> Result<PublicKey<C>, CryptoError>
where
    C: CurveArithmetic,
    FieldBytesSize<C>: ModulusSize,
    AffinePoint<C>: FromEncodedPoint<C> + ToEncodedPoint<C>,
{
    let x = field_bytes::<C>(x, what)?;
    let y = field_bytes::<C>(y, what)?;
    let point = EncodedPoint::<C>::from_affine_coordinates(&x, &y, false);
    Option::from(PublicKey::<C>::from_encoded_point(&point)).ok_or(CryptoError::BadKey {
        what,
        reason: "point is not on the curve",
    })
}

/// x of a public key as the TPM writes it: the full field width.
fn x_coordinate<C>(key: &PublicKey<C>) -> Result<FieldBytes<C>, CryptoError>
where
    C: CurveArithmetic,
    FieldBytesSize<C>: ModulusSize,
    AffinePoint<C>: FromEncodedPoint<C> + ToEncodedPoint<C>,
{
    let point = key.to_encoded_point(false);
    point.x().cloned().ok_or(CryptoError::BadKey {
        what: "ECC public key",
        reason: "point at infinity",
    })
}

/// The shared secret: `KDFe(name_alg, Z, label, party_u, party_v, digest bits)` where Z is the
/// x coordinate of the ECDH product.
fn derive_secret<C>(
    name_alg: HashAlg,
    private: &SecretKey<C>,
    peer: &PublicKey<C>,
    label: &[u8],
    party_u: &[u8],
    party_v: &[u8],
) -> Result<Secret<MAX_DIGEST_SIZE>, CryptoError>
where
    C: CurveArithmetic,
{
    let scalar = Zeroizing::new(private.to_nonzero_scalar());
    // Lend the scalar: passing it by value would leave an unzeroized copy on the stack.
    #[allow(clippy::needless_borrows_for_generic_args)]
    let shared = diffie_hellman(&*scalar, peer.as_affine());
    let len = name_alg.digest_size();
    let mut buf: Zeroizing<[u8; MAX_DIGEST_SIZE]> = Zeroizing::new([0; MAX_DIGEST_SIZE]);
    kdfe(
        name_alg,
        shared.raw_secret_bytes(),
        label,
        party_u,
        party_v,
        (len * 8) as u32,
        &mut buf[..len],
    )?;
    secret_from(&buf[..len])
}

fn encapsulate_on<C>(
    name_alg: HashAlg,
    ephemeral: &SecretKey<C>,
    x: &[u8],
    y: &[u8],
    label: &[u8],
) -> Result<Encapsulated, CryptoError>
where
    C: CurveArithmetic,
    FieldBytesSize<C>: ModulusSize,
    AffinePoint<C>: FromEncodedPoint<C> + ToEncodedPoint<C>,
{
    let tpm_key = public_key_from::<C>(x, y, "TPM ECC public key")?;
    encapsulate_to(name_alg, ephemeral, &tpm_key, x, label)
}

/// [`encapsulate_on`] to a key already parsed; `x` is its x coordinate as the TPM carries it.
fn encapsulate_to<C>(
    name_alg: HashAlg,
    ephemeral: &SecretKey<C>,
    tpm_key: &PublicKey<C>,
    x: &[u8],
    label: &[u8],
) -> Result<Encapsulated, CryptoError>
where
    C: CurveArithmetic,
    FieldBytesSize<C>: ModulusSize,
    AffinePoint<C>: FromEncodedPoint<C> + ToEncodedPoint<C>,
{
    let ephemeral_point = ephemeral.public_key().to_encoded_point(false);
    let (ex, ey) = match (ephemeral_point.x(), ephemeral_point.y()) {
        (Some(ex), Some(ey)) => (ex, ey),
        _ => {
            return Err(CryptoError::BadKey {
                what: "ephemeral ECC key",
                reason: "point at infinity",
            })
        }
    };
    // partyV is the TPM key's x exactly as its public area carries it: that is what the TPM hashes.
    let secret = derive_secret(name_alg, ephemeral, tpm_key, label, ex, x)?;
    let mut ciphertext = Vec::with_capacity(4 + ex.len() + ey.len());
    for coordinate in [ex, ey] {
        ciphertext.extend_from_slice(&(coordinate.len() as u16).to_be_bytes());
        ciphertext.extend_from_slice(coordinate);
    }
    Ok(Encapsulated { secret, ciphertext })
}

/// A TPM public key parsed and checked once, to encapsulate secrets to it again and again (the
/// salt of every session started with it): the modulus range and parity, or that the point is
/// on its curve, are checked here and not on every encapsulation.
#[derive(Clone)]
pub struct EncapsulationKey {
    hash: HashAlg,
    kind: KeyKind,
}

impl core::fmt::Debug for EncapsulationKey {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        // Not the tables: thousands of points say nothing.
        let kind = match &self.kind {
            KeyKind::Rsa(k) => match k.params {
                MontParams::W1024(_) => "RSA (1024-bit arithmetic)",
                MontParams::W2048(_) => "RSA (2048-bit arithmetic)",
                MontParams::W3072(_) => "RSA (3072-bit arithmetic)",
                MontParams::W4096(_) => "RSA (4096-bit arithmetic)",
            },
            KeyKind::P256 { .. } => "ECC NIST P-256",
            KeyKind::P384 { .. } => "ECC NIST P-384",
            KeyKind::P521 { .. } => "ECC NIST P-521",
        };
        f.debug_struct("EncapsulationKey")
            .field("hash", &self.hash)
            .field("kind", &kind)
            .finish()
    }
}

#[derive(Clone)]
enum KeyKind {
    Rsa(RsaKey),
    P256 {
        /// x as the key's public area carries it (partyV of KDFe, hashed as is).
        x: Vec<u8>,
        /// Multiples of the key and of the generator for [`comb_mul`].
        tables: Box<[CombTable; 2]>,
    },
    P384 {
        key: PublicKey<p384::NistP384>,
        x: Vec<u8>,
    },
    P521 {
        key: PublicKey<p521::NistP521>,
        x: Vec<u8>,
    },
}

impl EncapsulationKey {
    /// An RSA key (modulus big-endian, `exponent` 0 meaning 65537); `name_alg` as for
    /// [`rsa_encrypt_secret`] (the key's [`rsa_secret_hash`]).
    pub fn rsa(name_alg: HashAlg, modulus: &[u8], exponent: u32) -> Result<Self, CryptoError> {
        Ok(EncapsulationKey {
            hash: name_alg,
            kind: KeyKind::Rsa(RsaKey::new(modulus, exponent)?),
        })
    }

    /// An ECC key (x, y big-endian) on `curve`; `name_alg` is the key's name algorithm.
    pub fn ecc(
        curve: EccCurve,
        name_alg: HashAlg,
        x: &[u8],
        y: &[u8],
    ) -> Result<Self, CryptoError> {
        const WHAT: &str = "TPM ECC public key";
        let kind = match curve {
            EccCurve::NistP256 => {
                let key: PublicKey<p256::NistP256> = public_key_from(x, y, WHAT)?;
                KeyKind::P256 {
                    x: x.to_vec(),
                    tables: Box::new([
                        comb_table(key.to_projective()),
                        comb_table(p256::ProjectivePoint::GENERATOR),
                    ]),
                }
            }
            EccCurve::NistP384 => KeyKind::P384 {
                key: public_key_from(x, y, WHAT)?,
                x: x.to_vec(),
            },
            EccCurve::NistP521 => KeyKind::P521 {
                key: public_key_from(x, y, WHAT)?,
                x: x.to_vec(),
            },
        };
        Ok(EncapsulationKey {
            hash: name_alg,
            kind,
        })
    }

    /// The hash of the encapsulation (its digest size is the secret's size).
    pub fn hash(&self) -> HashAlg {
        self.hash
    }

    /// A fresh secret of the hash's digest size, encapsulated to this key under `label`
    /// (`b"SECRET"` for a session salt); randomness from `rng`.
    pub fn encapsulate_rng<R: CryptoRngCore>(
        &self,
        label: &[u8],
        rng: &mut R,
    ) -> Result<Encapsulated, CryptoError> {
        match &self.kind {
            KeyKind::Rsa(key) => {
                let secret = random_secret(self.hash.digest_size(), rng)?;
                let ciphertext = key.encrypt(self.hash, label, secret.as_bytes(), rng)?;
                Ok(Encapsulated { secret, ciphertext })
            }
            KeyKind::P256 { x, tables } => {
                let ephemeral = SecretKey::<p256::NistP256>::random(rng);
                p256_encapsulate(self.hash, &ephemeral, tables, x, label)
            }
            KeyKind::P384 { key, x } => {
                encapsulate_to(self.hash, &SecretKey::random(rng), key, x, label)
            }
            KeyKind::P521 { key, x } => {
                encapsulate_to(self.hash, &SecretKey::random(rng), key, x, label)
            }
        }
    }

    /// [`EncapsulationKey::encapsulate_rng`] with randomness from the operating system.
    #[cfg(feature = "std")]
    pub fn encapsulate(&self, label: &[u8]) -> Result<Encapsulated, CryptoError> {
        self.encapsulate_rng(label, &mut rand_core::OsRng)
    }
}

/// `COMB_ROWS` rows of `j · 16^i · P` for j = 1..=15: with them a scalar multiple of P is 64
/// additions and no doublings, where the generic multiplication does 256 doublings and 64
/// additions. The points stay projective (complete addition formulas take them as they are;
/// p256 0.13 offers no batch inversion to make them affine cheaply). One table is about
/// 90 KB and takes well under a millisecond to build, which a salt key does once for its own
/// point and once for the generator (the ephemeral public key), and then saves on every
/// session it salts.
type CombTable = [[p256::ProjectivePoint; 15]; COMB_ROWS];
const COMB_ROWS: usize = 64;

fn comb_table(point: p256::ProjectivePoint) -> CombTable {
    let mut table = [[p256::ProjectivePoint::IDENTITY; 15]; COMB_ROWS];
    let mut base = point;
    for row in table.iter_mut() {
        let mut multiple = base;
        for entry in row.iter_mut() {
            *entry = multiple;
            multiple += base;
        }
        // multiple is base · 16 now: the next row's base.
        base = multiple;
    }
    table
}

/// `k · P` from P's table, in constant time: every row is read whole and the nibble's entry
/// picked by conditional selection, and the additions are the complete formulas (a zero
/// nibble adds the identity, selected the same way).
fn comb_mul(table: &CombTable, k: &p256::Scalar) -> p256::ProjectivePoint {
    use p256::elliptic_curve::subtle::{ConditionallySelectable, ConstantTimeEq};
    use p256::elliptic_curve::PrimeField;
    let bytes = Zeroizing::new(k.to_repr());
    let mut acc = p256::ProjectivePoint::IDENTITY;
    for (i, row) in table.iter().enumerate() {
        // Row i takes nibble i from the least significant end of the big-endian bytes.
        let byte = bytes[31 - i / 2];
        let nibble = if i % 2 == 0 { byte & 15 } else { byte >> 4 };
        let mut pick = p256::ProjectivePoint::IDENTITY;
        for (j, entry) in row.iter().enumerate() {
            pick.conditional_assign(entry, nibble.ct_eq(&(j as u8 + 1)));
        }
        acc += pick;
    }
    acc
}

/// [`encapsulate_to`] on P-256 with the key's tables; the same secret and ciphertext.
fn p256_encapsulate(
    name_alg: HashAlg,
    ephemeral: &SecretKey<p256::NistP256>,
    tables: &[CombTable; 2],
    x: &[u8],
    label: &[u8],
) -> Result<Encapsulated, CryptoError> {
    let k = Zeroizing::new(*ephemeral.to_nonzero_scalar());
    let shared = comb_mul(&tables[0], &k).to_affine();
    let public = comb_mul(&tables[1], &k).to_affine().to_encoded_point(false);
    let z = Zeroizing::new(shared.to_encoded_point(false));
    let (Some(zx), Some(ex), Some(ey)) = (z.x(), public.x(), public.y()) else {
        return Err(CryptoError::BadKey {
            what: "ephemeral ECC key",
            reason: "point at infinity",
        });
    };
    let len = name_alg.digest_size();
    let mut buf: Zeroizing<[u8; MAX_DIGEST_SIZE]> = Zeroizing::new([0; MAX_DIGEST_SIZE]);
    kdfe(
        name_alg,
        zx,
        label,
        ex,
        x,
        (len * 8) as u32,
        &mut buf[..len],
    )?;
    let secret = secret_from(&buf[..len])?;
    let mut ciphertext = Vec::with_capacity(4 + ex.len() + ey.len());
    for coordinate in [ex, ey] {
        ciphertext.extend_from_slice(&(coordinate.len() as u16).to_be_bytes());
        ciphertext.extend_from_slice(coordinate);
    }
    Ok(Encapsulated { secret, ciphertext })
}

/// ECDH encapsulation to a TPM ECC key (x, y big-endian) on `curve` with a fresh ephemeral key:
/// `secret = KDFe(name_alg, x(ephemeral · Q), label, x_ephemeral, x_Q, digest bits)`;
/// `ciphertext` is the marshalled TPMS_ECC_POINT of the ephemeral public key.
#[cfg(feature = "std")]
pub fn ecc_encapsulate_curve(
    curve: EccCurve,
    name_alg: HashAlg,
    x: &[u8],
    y: &[u8],
    label: &[u8],
) -> Result<Encapsulated, CryptoError> {
    ecc_encapsulate_curve_rng(curve, name_alg, x, y, label, &mut rand_core::OsRng)
}

/// [`ecc_encapsulate_curve`] with the ephemeral key from `rng`.
pub fn ecc_encapsulate_curve_rng<R: CryptoRngCore>(
    curve: EccCurve,
    name_alg: HashAlg,
    x: &[u8],
    y: &[u8],
    label: &[u8],
    rng: &mut R,
) -> Result<Encapsulated, CryptoError> {
    with_curve!(curve, C => {
        let ephemeral = SecretKey::<C>::random(rng);
        encapsulate_on::<C>(name_alg, &ephemeral, x, y, label)
    })
}

/// [`ecc_encapsulate_curve`] with a given ephemeral private scalar (big-endian): deterministic,
/// for known-answer tests.
pub fn ecc_encapsulate_curve_with(
    curve: EccCurve,
    name_alg: HashAlg,
    ephemeral_private: &[u8],
    x: &[u8],
    y: &[u8],
    label: &[u8],
) -> Result<Encapsulated, CryptoError> {
    with_curve!(curve, C => {
        let ephemeral = private_key::<C>(ephemeral_private, "ephemeral ECC private key")?;
        encapsulate_on::<C>(name_alg, &ephemeral, x, y, label)
    })
}

/// [`ecc_encapsulate_curve`] on NIST P-256.
#[cfg(feature = "std")]
pub fn ecc_encapsulate(
    name_alg: HashAlg,
    x: &[u8],
    y: &[u8],
    label: &[u8],
) -> Result<Encapsulated, CryptoError> {
    ecc_encapsulate_curve(EccCurve::NistP256, name_alg, x, y, label)
}

/// [`ecc_encapsulate_curve_with`] on NIST P-256.
pub fn ecc_encapsulate_with(
    name_alg: HashAlg,
    ephemeral_private: &[u8],
    x: &[u8],
    y: &[u8],
    label: &[u8],
) -> Result<Encapsulated, CryptoError> {
    ecc_encapsulate_curve_with(EccCurve::NistP256, name_alg, ephemeral_private, x, y, label)
}

/// The TPM's side of [`ecc_encapsulate_curve`]: recovers the secret from `ciphertext` (a
/// marshalled TPMS_ECC_POINT) with the key's private scalar. Used to check encapsulations and
/// to stand in for a TPM in tests.
pub fn ecc_decapsulate(
    curve: EccCurve,
    name_alg: HashAlg,
    private: &[u8],
    ciphertext: &[u8],
    label: &[u8],
) -> Result<Secret<MAX_DIGEST_SIZE>, CryptoError> {
    let mut reader = Reader::new(ciphertext);
    let ex = read_coordinate(&mut reader)?;
    let ey = read_coordinate(&mut reader)?;
    if !reader.is_empty() {
        return Err(bad_point());
    }
    with_curve!(curve, C => {
        let key = private_key::<C>(private, "ECC private key")?;
        let ephemeral = public_key_from::<C>(ex, ey, "ephemeral ECC point")?;
        let own_x = x_coordinate(&key.public_key())?;
        derive_secret(name_alg, &key, &ephemeral, label, ex, &own_x)
    })
}

fn read_coordinate<'a>(reader: &mut Reader<'a>) -> Result<&'a [u8], CryptoError> {
    let len = usize::from(reader.u16().map_err(|_| bad_point())?);
    if len > MAX_ECC_KEY_BYTES {
        return Err(bad_point());
    }
    reader.take(len).map_err(|_| bad_point())
}

fn bad_point() -> CryptoError {
    CryptoError::BadKey {
        what: "encapsulated ECC point",
        reason: "not a well-formed TPMS_ECC_POINT",
    }
}

fn private_key<C: CurveArithmetic>(
    bytes: &[u8],
    what: &'static str,
) -> Result<SecretKey<C>, CryptoError> {
    // Accept scalars with leading zeros stripped or added, as TPM2B values may carry them.
    let scalar: Zeroizing<FieldBytes<C>> = Zeroizing::new(field_bytes::<C>(bytes, what)?);
    SecretKey::<C>::from_bytes(&scalar).map_err(|_| CryptoError::BadKey {
        what,
        reason: "scalar is zero or not below the curve order",
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A deterministic generator: the same bytes for both implementations.
    struct Counter(u8);

    impl rand_core::RngCore for Counter {
        fn next_u32(&mut self) -> u32 {
            rand_core::impls::next_u32_via_fill(self)
        }
        fn next_u64(&mut self) -> u64 {
            rand_core::impls::next_u64_via_fill(self)
        }
        fn fill_bytes(&mut self, dest: &mut [u8]) {
            for b in dest {
                self.0 = self.0.wrapping_mul(31).wrapping_add(7);
                *b = self.0;
            }
        }
        fn try_fill_bytes(&mut self, dest: &mut [u8]) -> Result<(), rand_core::Error> {
            self.fill_bytes(dest);
            Ok(())
        }
    }
    impl rand_core::CryptoRng for Counter {}

    /// The Montgomery path gives byte for byte what the rsa crate's OAEP encryption gives, for
    /// every supported width (and moduli between widths, with leading zero bytes, and odd
    /// exponents other than 65537), every hash, with and without the label's NUL.
    #[test]
    fn rsa_oaep_matches_the_rsa_crate() {
        let mut cases = 0;
        for bytes in [128usize, 200, 256, 257, 384, 512] {
            for (e, seed) in [
                (0u32, 3u8),
                (3, 9),
                (17, 1),
                (65537, 200),
                (0x1_0001 + 2, 77),
            ] {
                let mut n: Vec<u8> = (0..bytes)
                    .map(|i| (i as u8).wrapping_mul(seed).wrapping_add(0x5b))
                    .collect();
                n[0] |= 0x80;
                n[bytes - 1] |= 1;
                let mut padded = vec![0u8; 3];
                padded.extend_from_slice(&n);
                for alg in [
                    HashAlg::Sha1,
                    HashAlg::Sha256,
                    HashAlg::Sha384,
                    HashAlg::Sha512,
                ] {
                    if 3 * alg.digest_size() + 2 > bytes {
                        continue;
                    }
                    for label in [&b"SECRET"[..], b"DUPLICATE\0"] {
                        let msg: Vec<u8> = (0..alg.digest_size() as u8).collect();
                        let reference = rsa_public_key(&n, e)
                            .unwrap()
                            .encrypt(&mut Counter(seed), oaep_padding(alg, label).unwrap(), &msg)
                            .unwrap();
                        for modulus in [&n[..], &padded[..]] {
                            if modulus.len() > MAX_RSA_KEY_BYTES {
                                continue;
                            }
                            let ours = RsaKey::new(modulus, e)
                                .unwrap()
                                .encrypt(alg, label, &msg, &mut Counter(seed))
                                .unwrap();
                            assert_eq!(ours, reference, "{bytes} bytes, e={e}, {alg:?}");
                            cases += 1;
                        }
                    }
                }
            }
        }
        assert!(cases > 100, "{cases}");
    }

    /// The table path gives the same secret and ciphertext as the generic ECDH, for scalars
    /// with zero nibbles, all-ones nibbles, the largest scalar and assorted others.
    #[test]
    fn p256_tables_match_generic_ecdh() {
        let tpm = SecretKey::<p256::NistP256>::from_slice(&[0x42; 32]).unwrap();
        let point = tpm.public_key().to_encoded_point(false);
        let (x, y) = (point.x().unwrap().to_vec(), point.y().unwrap().to_vec());
        // A TPM may strip a leading zero: partyV is hashed as given, so try that form too.
        let key = EncapsulationKey::ecc(EccCurve::NistP256, HashAlg::Sha256, &x, &y).unwrap();
        let KeyKind::P256 { tables, .. } = &key.kind else {
            panic!("not a P-256 key");
        };
        let mut order_minus_one = [0xffu8; 32];
        order_minus_one.copy_from_slice(&(-p256::Scalar::ONE).to_bytes());
        let mut scalars: Vec<[u8; 32]> = vec![order_minus_one];
        for fill in [0x01u8, 0x10, 0xf0, 0x0f, 0x80, 0x7f] {
            scalars.push([fill; 32]);
        }
        let mut one = [0u8; 32];
        one[31] = 1;
        scalars.push(one);
        let mut sparse = [0u8; 32];
        sparse[0] = 0x80;
        sparse[17] = 0x05;
        scalars.push(sparse);
        for (i, scalar) in scalars.iter().enumerate() {
            let ephemeral = SecretKey::<p256::NistP256>::from_slice(scalar).unwrap();
            for alg in [HashAlg::Sha256, HashAlg::Sha384] {
                let generic =
                    encapsulate_on::<p256::NistP256>(alg, &ephemeral, &x, &y, b"SECRET").unwrap();
                let tabled = p256_encapsulate(alg, &ephemeral, tables, &x, b"SECRET").unwrap();
                assert_eq!(tabled.ciphertext, generic.ciphertext, "scalar {i}");
                assert_eq!(
                    tabled.secret.as_bytes(),
                    generic.secret.as_bytes(),
                    "scalar {i}"
                );
            }
        }
        // And the TPM's side recovers what a fresh encapsulation shares.
        let fresh = key.encapsulate_rng(b"SECRET", &mut Counter(5)).unwrap();
        let recovered = ecc_decapsulate(
            EccCurve::NistP256,
            HashAlg::Sha256,
            &[0x42; 32],
            &fresh.ciphertext,
            b"SECRET",
        )
        .unwrap();
        assert_eq!(recovered.as_bytes(), fresh.secret.as_bytes());
    }

    #[test]
    fn rsa_message_too_long_is_refused() {
        let mut n = vec![0xc3u8; 128];
        n[127] |= 1;
        let key = RsaKey::new(&n, 0).unwrap();
        let msg = [0u8; 64];
        assert!(key
            .encrypt(HashAlg::Sha512, b"SECRET", &msg, &mut Counter(1))
            .is_err());
    }
}
