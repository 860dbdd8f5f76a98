//! "Secret" encapsulation to a TPM key: the salt of a salted session, the seed of a credential
//! or a duplication blob (TPM 2.0 Part 1 Annex B.10.3 for RSA-OAEP, C.6.4 for ECDH). go-tpm
//! calls this labeled encapsulation.

use alloc::vec::Vec;
use p256::elliptic_curve::ecdh::diffie_hellman;
use p256::elliptic_curve::group::{Curve as _, Group as _};
use p256::elliptic_curve::point::AffineCoordinates;
use p256::elliptic_curve::sec1::{EncodedPoint, FromEncodedPoint, ModulusSize, ToEncodedPoint};
use p256::elliptic_curve::{
    AffinePoint, CurveArithmetic, FieldBytes, FieldBytesSize, NonZeroScalar, PublicKey, SecretKey,
};

use rand_core::CryptoRngCore;
use zeroize::Zeroizing;

use super::comb::{CombedCurve, GeneratorPoint, ReusedPoint};
use super::oaep::RsaRecipient;
use super::{kdfe, random_with, CryptoError, HashAlg};
use crate::wire::{
    AlgId, EccCurve, Public, PublicKey as TpmPublicKey, Reader, Secret, MAX_DIGEST_SIZE,
    MAX_ECC_KEY_BYTES,
};

/// A freshly encapsulated secret: `secret` is what both sides now share (zeroized on drop, never
/// printed), `ciphertext` the TPM2B_ENCRYPTED_SECRET payload that carries it to the TPM.
#[derive(Debug)]
pub struct Encapsulated {
    /// The shared secret (the session salt, or a seed), at most a digest long.
    pub secret: Secret<MAX_DIGEST_SIZE>,
    /// The encrypted secret: an RSA-OAEP ciphertext as long as the modulus, or a marshalled
    /// ephemeral ECC point (TPMS_ECC_POINT).
    pub ciphertext: Vec<u8>,
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
    RsaRecipient::new(modulus, exponent)?.encrypt(name_alg, label, secret, rng)
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
    SecretRecipient::rsa(modulus, exponent)?.encapsulate_len_rng(name_alg, label, secret_len, rng)
}

/// A TPM key that secrets are encrypted to (a session salt, a credential seed), parsed and
/// checked once, with what its public-key operation can precompute: an RSA modulus's
/// Montgomery setup, or for an ECC key the comb of its point, built on the second secret sent
/// to it (from then on each ECDH encapsulation costs about half). Keep one for every secret
/// sent to the same key; `cargo bench --bench crypto_floor -- salt_encapsulation` times parsing,
/// a recipient used once and one reused.
#[derive(Clone, Debug)]
pub struct SecretRecipient {
    key: RecipientKey,
}

#[derive(Clone, Debug)]
enum RecipientKey {
    Rsa(RsaRecipient),
    P256(EccRecipient<p256::NistP256>),
    P384(EccRecipient<p384::NistP384>),
    P521(EccRecipient<p521::NistP521>),
}

/// An ECC key secrets are encrypted to, and the curve's generator: both multiplied through a
/// [`ReusedPoint`], which makes their multiplications cheap once each is reused.
#[derive(Clone, Debug)]
struct EccRecipient<C: CombedCurve> {
    /// x as the TPM's public area carries it: KDFe hashes exactly those bytes.
    x: Vec<u8>,
    generator: GeneratorPoint<C>,
    key: ReusedPoint<C>,
}

impl<C> EccRecipient<C>
where
    C: CombedCurve,
    FieldBytesSize<C>: ModulusSize,
    AffinePoint<C>: FromEncodedPoint<C> + ToEncodedPoint<C>,
{
    fn new(x: &[u8], y: &[u8]) -> Result<Self, CryptoError> {
        let key = public_key_from::<C>(x, y, "TPM ECC public key")?;
        Ok(EccRecipient {
            x: x.to_vec(),
            generator: C::generator(),
            key: ReusedPoint::new(key.to_projective()),
        })
    }

    /// `secret = KDFe(name_alg, x(k·Q), label, x(k·G), x_Q)`; the ciphertext is k·G as a
    /// TPMS_ECC_POINT. The caller zeroizes `ephemeral` (k).
    fn encapsulate(
        &self,
        name_alg: HashAlg,
        ephemeral: &Zeroizing<NonZeroScalar<C>>,
        label: &[u8],
    ) -> Result<Encapsulated, CryptoError> {
        let ephemeral_point = self
            .generator
            .multiply(ephemeral)
            .to_affine()
            .to_encoded_point(false);
        let shared = Zeroizing::new(self.key.multiply(ephemeral));
        let shared_affine = Zeroizing::new(shared.to_affine());
        let (Some(ex), Some(ey), false) = (
            ephemeral_point.x(),
            ephemeral_point.y(),
            bool::from(shared.is_identity()),
        ) else {
            return Err(CryptoError::BadKey {
                what: "ECDH product",
                reason: "point at infinity",
            });
        };
        let z = Zeroizing::new(shared_affine.x());
        // partyV is the TPM key's x exactly as its public area carries it: what the TPM hashes.
        let secret = kdfe_secret(name_alg, &z, label, ex, &self.x)?;
        let mut ciphertext = Vec::with_capacity(4 + ex.len() + ey.len());
        for coordinate in [ex, ey] {
            ciphertext.extend_from_slice(&(coordinate.len() as u16).to_be_bytes());
            ciphertext.extend_from_slice(coordinate);
        }
        Ok(Encapsulated { secret, ciphertext })
    }
}

impl SecretRecipient {
    /// A TPM RSA key (modulus big-endian, `exponent` 0 meaning 65537): secrets go to it with
    /// RSA-OAEP.
    pub fn rsa(modulus: &[u8], exponent: u32) -> Result<Self, CryptoError> {
        Ok(SecretRecipient {
            key: RecipientKey::Rsa(RsaRecipient::new(modulus, exponent)?),
        })
    }

    /// A TPM ECC key on `curve` (x, y big-endian): secrets come from ECDH with an ephemeral key
    /// and KDFe. A point not on the curve is refused here.
    pub fn ecc(curve: EccCurve, x: &[u8], y: &[u8]) -> Result<Self, CryptoError> {
        let key = match Curve::from_tpm(curve)? {
            Curve::P256 => RecipientKey::P256(EccRecipient::new(x, y)?),
            Curve::P384 => RecipientKey::P384(EccRecipient::new(x, y)?),
            Curve::P521 => RecipientKey::P521(EccRecipient::new(x, y)?),
        };
        Ok(SecretRecipient { key })
    }

    /// The recipient a TPM key's public area describes, and the hash its secrets are made
    /// with: the key's nameAlg, or an RSA key's own OAEP scheme hash ([`rsa_secret_hash`]).
    /// [`CryptoError::NotASecretRecipient`] for a key that is neither RSA nor ECC.
    pub fn from_public(public: &Public) -> Result<(Self, HashAlg), CryptoError> {
        let name_alg = HashAlg::from_alg_id(public.name_alg)?;
        match &public.key {
            TpmPublicKey::Rsa {
                parameters, unique, ..
            } => {
                // An RSA key with its own OAEP scheme encrypts secrets with that scheme's hash.
                let hash = rsa_secret_hash(
                    name_alg,
                    parameters.scheme.scheme(),
                    parameters.scheme.hash().unwrap_or(AlgId::NULL),
                )?;
                Ok((Self::rsa(unique.as_bytes(), parameters.exponent)?, hash))
            }
            TpmPublicKey::Ecc {
                parameters, unique, ..
            } => Ok((
                Self::ecc(parameters.curve, unique.x.as_bytes(), unique.y.as_bytes())?,
                name_alg,
            )),
            _ => Err(CryptoError::NotASecretRecipient(public.object_type())),
        }
    }

    /// A fresh secret of one `name_alg` digest for this key, labelled `label` (without its
    /// NUL): RSA-OAEP with `name_alg` (which must be the key's [`rsa_secret_hash`]), or ECDH and
    /// KDFe with `name_alg`. Randomness from the operating system.
    #[cfg(feature = "std")]
    pub fn encapsulate(
        &self,
        name_alg: HashAlg,
        label: &[u8],
    ) -> Result<Encapsulated, CryptoError> {
        self.encapsulate_rng(name_alg, label, &mut rand_core::OsRng)
    }

    /// [`SecretRecipient::encapsulate`] with randomness from `rng`.
    pub fn encapsulate_rng<R: CryptoRngCore>(
        &self,
        name_alg: HashAlg,
        label: &[u8],
        rng: &mut R,
    ) -> Result<Encapsulated, CryptoError> {
        self.encapsulate_len_rng(name_alg, label, name_alg.digest_size(), rng)
    }

    fn encapsulate_len_rng<R: CryptoRngCore>(
        &self,
        name_alg: HashAlg,
        label: &[u8],
        secret_len: usize,
        rng: &mut R,
    ) -> Result<Encapsulated, CryptoError> {
        match &self.key {
            RecipientKey::Rsa(key) => {
                let secret = random_secret(secret_len, rng)?;
                let ciphertext = key.encrypt(name_alg, label, secret.as_bytes(), rng)?;
                Ok(Encapsulated { secret, ciphertext })
            }
            RecipientKey::P256(key) => {
                key.encapsulate(name_alg, &Zeroizing::new(NonZeroScalar::random(rng)), label)
            }
            RecipientKey::P384(key) => {
                key.encapsulate(name_alg, &Zeroizing::new(NonZeroScalar::random(rng)), label)
            }
            RecipientKey::P521(key) => {
                key.encapsulate(name_alg, &Zeroizing::new(NonZeroScalar::random(rng)), label)
            }
        }
    }
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

/// The subset of [`EccCurve`] (TPM_ECC_CURVE) that the elliptic-curve dependencies
/// implement. Callers name curves by the wire constant; this is what it dispatches on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Curve {
    P256,
    P384,
    P521,
}

impl Curve {
    /// [`CryptoError::UnsupportedCurve`] for any curve but NIST P-256, P-384 and P-521.
    pub(crate) fn from_tpm(curve: EccCurve) -> Result<Self, CryptoError> {
        match curve {
            EccCurve::NIST_P256 => Ok(Curve::P256),
            EccCurve::NIST_P384 => Ok(Curve::P384),
            EccCurve::NIST_P521 => Ok(Curve::P521),
            other => Err(CryptoError::UnsupportedCurve(other.0)),
        }
    }

    /// The TPM_ECC_CURVE value.
    #[cfg(feature = "ek")]
    pub(crate) fn tpm(self) -> EccCurve {
        match self {
            Curve::P256 => EccCurve::NIST_P256,
            Curve::P384 => EccCurve::NIST_P384,
            Curve::P521 => EccCurve::NIST_P521,
        }
    }

    /// Bytes in one coordinate (and in the private scalar).
    pub(crate) fn coordinate_size(self) -> usize {
        match self {
            Curve::P256 => 32,
            Curve::P384 => 48,
            Curve::P521 => 66,
        }
    }
}

/// Bytes in one coordinate (and in the private scalar) of `curve`;
/// [`CryptoError::UnsupportedCurve`] for a curve the library does not implement.
pub fn ecc_coordinate_size(curve: EccCurve) -> Result<usize, CryptoError> {
    Curve::from_tpm(curve).map(Curve::coordinate_size)
}

/// Runs `$body` with `$c` bound to the elliptic-curve type of `$curve` (an [`EccCurve`]);
/// returns [`CryptoError::UnsupportedCurve`] from the enclosing function for any other curve.
macro_rules! with_curve {
    ($curve:expr, $c:ident => $body:expr) => {
        match Curve::from_tpm($curve)? {
            Curve::P256 => {
                type $c = p256::NistP256;
                $body
            }
            Curve::P384 => {
                type $c = p384::NistP384;
                $body
            }
            Curve::P521 => {
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
    kdfe_secret(name_alg, shared.raw_secret_bytes(), label, party_u, party_v)
}

/// One `name_alg` digest of KDFe over the shared x coordinate `z`.
fn kdfe_secret(
    name_alg: HashAlg,
    z: &[u8],
    label: &[u8],
    party_u: &[u8],
    party_v: &[u8],
) -> Result<Secret<MAX_DIGEST_SIZE>, CryptoError> {
    let len = name_alg.digest_size();
    let mut buf: Zeroizing<[u8; MAX_DIGEST_SIZE]> = Zeroizing::new([0; MAX_DIGEST_SIZE]);
    kdfe(
        name_alg,
        z,
        label,
        party_u,
        party_v,
        (len * 8) as u32,
        &mut buf[..len],
    )?;
    secret_from(&buf[..len])
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
    SecretRecipient::ecc(curve, x, y)?.encapsulate_rng(name_alg, label, rng)
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
    const WHAT: &str = "ephemeral ECC private key";
    match SecretRecipient::ecc(curve, x, y)?.key {
        RecipientKey::P256(key) => key.encapsulate(
            name_alg,
            &Zeroizing::new(private_scalar(ephemeral_private, WHAT)?),
            label,
        ),
        RecipientKey::P384(key) => key.encapsulate(
            name_alg,
            &Zeroizing::new(private_scalar(ephemeral_private, WHAT)?),
            label,
        ),
        RecipientKey::P521(key) => key.encapsulate(
            name_alg,
            &Zeroizing::new(private_scalar(ephemeral_private, WHAT)?),
            label,
        ),
        RecipientKey::Rsa(_) => unreachable!("SecretRecipient::ecc makes ECC recipients"),
    }
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

fn private_scalar<C: CurveArithmetic>(
    bytes: &[u8],
    what: &'static str,
) -> Result<NonZeroScalar<C>, CryptoError> {
    Ok(private_key::<C>(bytes, what)?.to_nonzero_scalar())
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
