//! TPM keys and signatures as RustCrypto types and back: a public area ([`Public`]) as an
//! [`rsa::RsaPublicKey`] or a [`p256`]/[`p384`] ECDSA verifying key, a host key as a public
//! area (for TPM2_LoadExternal), a TPMT_SIGNATURE ([`Signature`]) as an RSA PKCS#1 v1.5 or
//! PSS signature or an ECDSA signature, and signature verification on the host.
//!
//! Verification accepts SHA-256, SHA-384 and SHA-512 only: SHA-1 collisions are practical,
//! and a collision is a second message the signature also covers.

use rsa::traits::PublicKeyParts;
use rsa::{BigUint, RsaPublicKey};
use sha2::{Sha256, Sha384, Sha512};

use crate::crypto::{self, HashAlg};
use crate::wire::{
    AlgId, Digest, EccCurve, EccParameter, EccParms, EccPoint, EccScheme, EccSignature, KdfScheme,
    ObjectAttributes, Public, PublicKey, PublicKeyRsa, RsaParms, RsaScheme, RsaSignature,
    SigScheme, Signature, SymDefObject, MAX_RSA_KEY_BYTES,
};

/// The smallest RSA modulus accepted for verification, in bits.
pub const MIN_RSA_BITS: usize = 2048;

/// Why a TPM public key or signature could not be converted, or a signature did not verify.
/// No variant carries key or signature bytes.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum HostKeyError {
    /// The public area is not an RSA or ECC key.
    #[error("a {0} object is not an RSA or ECC key")]
    UnsupportedKeyType(AlgId),
    /// The ECC curve is not NIST P-256 or P-384.
    #[error("unsupported ECC curve {0} (NIST P-256 and P-384 only)")]
    UnsupportedCurve(EccCurve),
    /// The key is not on the curve the caller asked for.
    #[error("the key is on curve {found}, not {expected}")]
    WrongCurve {
        /// The curve asked for.
        expected: EccCurve,
        /// The key's curve.
        found: EccCurve,
    },
    /// The signature or key scheme is not RSASSA, RSAPSS or ECDSA.
    #[error("unsupported signature scheme {0} (RSASSA, RSAPSS and ECDSA only)")]
    UnsupportedScheme(AlgId),
    /// The hash is not SHA-256, SHA-384 or SHA-512.
    #[error("unsupported signature hash {0} (SHA-256, SHA-384 and SHA-512 only)")]
    UnsupportedHash(AlgId),
    /// The RSA modulus is shorter than [`MIN_RSA_BITS`].
    #[error("an RSA key of {bits} bits is below the {min}-bit minimum")]
    WeakKey {
        /// The modulus size.
        bits: usize,
        /// The minimum.
        min: usize,
    },
    /// The public key itself is unusable (a modulus of the wrong size, a point not on the
    /// curve, an exponent out of range, ...).
    #[error("bad public key: {0}")]
    BadPublicKey(&'static str),
    /// The signature's algorithm cannot come from a key of this type (an ECDSA signature
    /// and an RSA key).
    #[error("a {signature} signature cannot come from a {key} key")]
    KeyTypeMismatch {
        /// The key's type (TPM_ALG_RSA or TPM_ALG_ECC).
        key: AlgId,
        /// The signature's algorithm.
        signature: AlgId,
    },
    /// The key is limited to one scheme and the signature uses another.
    #[error("the key signs with {key} but the signature is {signature}")]
    SchemeMismatch {
        /// The key's scheme.
        key: AlgId,
        /// The signature's scheme.
        signature: AlgId,
    },
    /// The key is limited to one hash and the signature names another.
    #[error("the key signs with {key} but the signature names {signature}")]
    HashMismatch {
        /// The key's scheme hash.
        key: AlgId,
        /// The hash the signature names.
        signature: AlgId,
    },
    /// The digest given is not as long as the signature's hash.
    #[error("the digest is {actual} bytes; {hash} digests are {expected}")]
    DigestLength {
        /// The signature's hash.
        hash: AlgId,
        /// Its digest size.
        expected: usize,
        /// The digest's length.
        actual: usize,
    },
    /// There is no signature (TPM_ALG_NULL): the TPM signed with TPM_RH_NULL.
    #[error("no signature (TPM_ALG_NULL)")]
    NullSignature,
    /// The signature's encoding is wrong for the key (an RSA signature not the modulus size,
    /// an ECDSA r or s longer than the curve's order or zero).
    #[error("malformed signature: {0}")]
    MalformedSignature(&'static str),
    /// A host key or signature does not fit the TPM structure (a modulus above 4096 bits).
    #[error("{0} does not fit its TPM structure")]
    TooLarge(&'static str),
    /// The signature is well formed but does not verify with this key over this digest.
    #[error("the signature does not verify")]
    Invalid,
}

/// A signing scheme this module verifies, with its hash.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Scheme {
    RsaSsa,
    RsaPss,
    Ecdsa,
}

/// The hash a signature names, if it is one signatures are verified with.
pub(crate) fn signature_hash_of(signature: &Signature) -> Result<HashAlg, HostKeyError> {
    match signature {
        Signature::Null => Err(HostKeyError::NullSignature),
        Signature::RsaSsa(s) | Signature::RsaPss(s) => signature_hash(s.hash),
        Signature::Ecdsa(s) => signature_hash(s.hash),
        other => Err(HostKeyError::UnsupportedScheme(other.sig_alg())),
    }
}

/// The hashes signatures are verified with.
fn signature_hash(alg: AlgId) -> Result<HashAlg, HostKeyError> {
    match alg {
        AlgId::SHA256 => Ok(HashAlg::Sha256),
        AlgId::SHA384 => Ok(HashAlg::Sha384),
        AlgId::SHA512 => Ok(HashAlg::Sha512),
        other => Err(HostKeyError::UnsupportedHash(other)),
    }
}

/// The bytes of `value` left-padded to `len`; `None` if they are longer. TPMs write ECC
/// coordinates and signature values at the field size, but a shorter one is the same
/// number.
fn left_pad<const N: usize>(value: &[u8]) -> Option<[u8; N]> {
    let mut out = [0u8; N];
    let start = N.checked_sub(value.len())?;
    out[start..].copy_from_slice(value);
    Some(out)
}

// ---------------------------------------------------------------- public keys

/// An RSA public area as an [`RsaPublicKey`]. Fails for another key type, a modulus shorter
/// than [`MIN_RSA_BITS`] or not the size `keyBits` says, or an exponent the RSA crate refuses.
pub fn rsa_public_key(public: &Public) -> Result<RsaPublicKey, HostKeyError> {
    let PublicKey::Rsa { parameters, unique } = &public.key else {
        return Err(HostKeyError::UnsupportedKeyType(public.object_type()));
    };
    let modulus = unique.as_bytes();
    let bits = usize::from(parameters.key_bits);
    if bits < MIN_RSA_BITS {
        return Err(HostKeyError::WeakKey {
            bits,
            min: MIN_RSA_BITS,
        });
    }
    // The modulus must be exactly keyBits long (its top byte non-zero), or the key size the
    // public area claims is not the one that verifies.
    if modulus.len() * 8 != bits || modulus.first().is_none_or(|&b| b == 0) {
        return Err(HostKeyError::BadPublicKey(
            "the modulus is not keyBits long",
        ));
    }
    let exponent = match parameters.exponent {
        0 => 65_537,
        e => e,
    };
    RsaPublicKey::new(BigUint::from_bytes_be(modulus), BigUint::from(exponent))
        .map_err(|_| HostKeyError::BadPublicKey("the RSA crate refuses the modulus or exponent"))
}

/// The coordinates of an ECC public area on `curve`, checked against the curve.
fn ecc_point(public: &Public, curve: EccCurve) -> Result<&EccPoint, HostKeyError> {
    let PublicKey::Ecc { parameters, unique } = &public.key else {
        return Err(HostKeyError::UnsupportedKeyType(public.object_type()));
    };
    if parameters.curve != curve {
        return Err(HostKeyError::WrongCurve {
            expected: curve,
            found: parameters.curve,
        });
    }
    Ok(unique)
}

macro_rules! ecdsa_curve {
    ($crate_:ident, $curve:expr, $n:literal, $to_key:ident, $from_key:ident, $to_sig:ident, $from_sig:ident, $label:literal) => {
        #[doc = concat!("An ECC ", $label, " public area as a [`", stringify!($crate_), "::ecdsa::VerifyingKey`]. Fails for another key")]
        /// type or curve, or a point that is not on the curve.
        pub fn $to_key(public: &Public) -> Result<$crate_::ecdsa::VerifyingKey, HostKeyError> {
            let point = ecc_point(public, $curve)?;
            let (Some(x), Some(y)) = (
                left_pad::<$n>(point.x.as_bytes()),
                left_pad::<$n>(point.y.as_bytes()),
            ) else {
                return Err(HostKeyError::BadPublicKey("a coordinate is longer than the field"));
            };
            let encoded = $crate_::EncodedPoint::from_affine_coordinates(
                $crate_::FieldBytes::from_slice(&x),
                $crate_::FieldBytes::from_slice(&y),
                false,
            );
            $crate_::ecdsa::VerifyingKey::from_encoded_point(&encoded)
                .map_err(|_| HostKeyError::BadPublicKey("the point is not on the curve"))
        }

        #[doc = concat!("A ", $label, " verifying key as the unique point of a public area (the coordinates at")]
        /// the field size, as TPMs write them).
        fn $from_key(key: &$crate_::ecdsa::VerifyingKey) -> Result<EccPoint, HostKeyError> {
            let encoded = key.to_encoded_point(false);
            let (Some(x), Some(y)) = (encoded.x(), encoded.y()) else {
                return Err(HostKeyError::BadPublicKey("the point at infinity"));
            };
            Ok(EccPoint {
                x: EccParameter::new(x).map_err(|_| HostKeyError::TooLarge("an ECC coordinate"))?,
                y: EccParameter::new(y).map_err(|_| HostKeyError::TooLarge("an ECC coordinate"))?,
            })
        }

        #[doc = concat!("A TPM ECDSA signature as a [`", stringify!($crate_), "::ecdsa::Signature`] and the hash it names.")]
        /// Fails for another scheme, an r or s longer than the curve's field, or a zero or
        /// out-of-range value.
        pub fn $to_sig(
            signature: &Signature,
        ) -> Result<(AlgId, $crate_::ecdsa::Signature), HostKeyError> {
            let s = match signature {
                Signature::Ecdsa(s) => s,
                Signature::Null => return Err(HostKeyError::NullSignature),
                other => return Err(HostKeyError::UnsupportedScheme(other.sig_alg())),
            };
            let (Some(r), Some(sv)) = (
                left_pad::<$n>(s.r.as_bytes()),
                left_pad::<$n>(s.s.as_bytes()),
            ) else {
                return Err(HostKeyError::MalformedSignature("r or s is longer than the field"));
            };
            let sig = $crate_::ecdsa::Signature::from_scalars(
                *$crate_::FieldBytes::from_slice(&r),
                *$crate_::FieldBytes::from_slice(&sv),
            )
                .map_err(|_| HostKeyError::MalformedSignature("r or s is zero or not below the order"))?;
            Ok((s.hash, sig))
        }

        #[doc = concat!("A [`", stringify!($crate_), "::ecdsa::Signature`] as a TPM ECDSA signature naming `hash`.")]
        pub fn $from_sig(hash: AlgId, signature: &$crate_::ecdsa::Signature) -> Signature {
            let (r, s) = signature.split_bytes();
            Signature::Ecdsa(EccSignature {
                hash,
                // Field-sized values always fit a TPM2B_ECC_PARAMETER (66 bytes, P-521's).
                r: EccParameter::new(&r).unwrap_or_default(),
                s: EccParameter::new(&s).unwrap_or_default(),
            })
        }
    };
}

ecdsa_curve!(
    p256,
    EccCurve::NIST_P256,
    32,
    p256_verifying_key,
    p256_point,
    p256_signature,
    signature_from_p256,
    "NIST P-256"
);
ecdsa_curve!(
    p384,
    EccCurve::NIST_P384,
    48,
    p384_verifying_key,
    p384_point,
    p384_signature,
    signature_from_p384,
    "NIST P-384"
);

/// A public key held on the host, of a type the TPM and this module share.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum HostPublicKey {
    /// An RSA key.
    Rsa(RsaPublicKey),
    /// A NIST P-256 ECDSA key.
    P256(p256::ecdsa::VerifyingKey),
    /// A NIST P-384 ECDSA key.
    P384(p384::ecdsa::VerifyingKey),
}

impl HostPublicKey {
    /// The key of a TPM public area (RSA, or ECC on P-256 or P-384).
    pub fn from_public(public: &Public) -> Result<Self, HostKeyError> {
        match &public.key {
            PublicKey::Rsa { .. } => Ok(HostPublicKey::Rsa(rsa_public_key(public)?)),
            PublicKey::Ecc { parameters, .. } => match parameters.curve {
                EccCurve::NIST_P256 => Ok(HostPublicKey::P256(p256_verifying_key(public)?)),
                EccCurve::NIST_P384 => Ok(HostPublicKey::P384(p384_verifying_key(public)?)),
                other => Err(HostKeyError::UnsupportedCurve(other)),
            },
            _ => Err(HostKeyError::UnsupportedKeyType(public.object_type())),
        }
    }

    /// A public area for this key, e.g. to load it with TPM2_LoadExternal: `scheme` is
    /// [`SigScheme::Null`] or one matching the key type (RSASSA or RSAPSS for RSA, ECDSA for
    /// ECC), the symmetric algorithm and KDF are NULL, the exponent 65537 is written as 0
    /// (as TPMs do), and the auth policy is empty.
    pub fn to_public(
        &self,
        name_alg: AlgId,
        attributes: ObjectAttributes,
        scheme: SigScheme,
    ) -> Result<Public, HostKeyError> {
        let key = match self {
            HostPublicKey::Rsa(key) => {
                let scheme = match scheme {
                    SigScheme::Null => RsaScheme::Null,
                    SigScheme::RsaSsa { hash } => RsaScheme::RsaSsa { hash },
                    SigScheme::RsaPss { hash } => RsaScheme::RsaPss { hash },
                    other => {
                        return Err(HostKeyError::KeyTypeMismatch {
                            key: AlgId::RSA,
                            signature: other.scheme(),
                        })
                    }
                };
                let modulus = key.n().to_bytes_be();
                let key_bits = u16::try_from(modulus.len() * 8)
                    .ok()
                    .filter(|_| modulus.len() <= MAX_RSA_KEY_BYTES)
                    .ok_or(HostKeyError::TooLarge("the RSA modulus"))?;
                let exponent = match exponent_u32(key)? {
                    65_537 => 0,
                    e => e,
                };
                PublicKey::Rsa {
                    parameters: RsaParms {
                        symmetric: SymDefObject::Null,
                        scheme,
                        key_bits,
                        exponent,
                    },
                    unique: PublicKeyRsa::new(&modulus)
                        .map_err(|_| HostKeyError::TooLarge("the RSA modulus"))?,
                }
            }
            HostPublicKey::P256(key) => ecc_public(EccCurve::NIST_P256, p256_point(key)?, scheme)?,
            HostPublicKey::P384(key) => ecc_public(EccCurve::NIST_P384, p384_point(key)?, scheme)?,
        };
        Ok(Public {
            name_alg,
            object_attributes: attributes,
            auth_policy: Digest::empty(),
            key,
        })
    }
}

/// The public exponent as the u32 a TPMS_RSA_PARMS holds.
fn exponent_u32(key: &RsaPublicKey) -> Result<u32, HostKeyError> {
    let bytes = key.e().to_bytes_be();
    let padded =
        left_pad::<4>(&bytes).ok_or(HostKeyError::BadPublicKey("the exponent exceeds 32 bits"))?;
    Ok(u32::from_be_bytes(padded))
}

fn ecc_public(
    curve: EccCurve,
    unique: EccPoint,
    scheme: SigScheme,
) -> Result<PublicKey, HostKeyError> {
    let scheme = match scheme {
        SigScheme::Null => EccScheme::Null,
        SigScheme::Ecdsa { hash } => EccScheme::Ecdsa { hash },
        other => {
            return Err(HostKeyError::KeyTypeMismatch {
                key: AlgId::ECC,
                signature: other.scheme(),
            })
        }
    };
    Ok(PublicKey::Ecc {
        parameters: EccParms {
            symmetric: SymDefObject::Null,
            scheme,
            curve,
            kdf: KdfScheme::Null,
        },
        unique,
    })
}

// ---------------------------------------------------------------- RSA signatures

fn rsa_signature_parts(signature: &Signature, pss: bool) -> Result<&RsaSignature, HostKeyError> {
    match (signature, pss) {
        (Signature::RsaSsa(s), false) | (Signature::RsaPss(s), true) => Ok(s),
        (Signature::Null, _) => Err(HostKeyError::NullSignature),
        (other, _) => Err(HostKeyError::UnsupportedScheme(other.sig_alg())),
    }
}

/// A TPM RSASSA signature as an [`rsa::pkcs1v15::Signature`] and the hash it names.
pub fn rsa_pkcs1v15_signature(
    signature: &Signature,
) -> Result<(AlgId, rsa::pkcs1v15::Signature), HostKeyError> {
    let s = rsa_signature_parts(signature, false)?;
    let sig = rsa::pkcs1v15::Signature::try_from(s.sig.as_bytes())
        .map_err(|_| HostKeyError::MalformedSignature("an empty RSA signature"))?;
    Ok((s.hash, sig))
}

/// A TPM RSAPSS signature as an [`rsa::pss::Signature`] and the hash it names.
pub fn rsa_pss_signature(
    signature: &Signature,
) -> Result<(AlgId, rsa::pss::Signature), HostKeyError> {
    let s = rsa_signature_parts(signature, true)?;
    let sig = rsa::pss::Signature::try_from(s.sig.as_bytes())
        .map_err(|_| HostKeyError::MalformedSignature("an empty RSA signature"))?;
    Ok((s.hash, sig))
}

fn rsa_signature_bytes(bytes: Box<[u8]>) -> Result<PublicKeyRsa, HostKeyError> {
    PublicKeyRsa::new(&bytes).map_err(|_| HostKeyError::TooLarge("the RSA signature"))
}

/// An [`rsa::pkcs1v15::Signature`] as a TPM RSASSA signature naming `hash`.
pub fn signature_from_rsa_pkcs1v15(
    hash: AlgId,
    signature: &rsa::pkcs1v15::Signature,
) -> Result<Signature, HostKeyError> {
    use rsa::signature::SignatureEncoding;
    Ok(Signature::RsaSsa(RsaSignature {
        hash,
        sig: rsa_signature_bytes(signature.to_bytes())?,
    }))
}

/// An [`rsa::pss::Signature`] as a TPM RSAPSS signature naming `hash`.
pub fn signature_from_rsa_pss(
    hash: AlgId,
    signature: &rsa::pss::Signature,
) -> Result<Signature, HostKeyError> {
    use rsa::signature::SignatureEncoding;
    Ok(Signature::RsaPss(RsaSignature {
        hash,
        sig: rsa_signature_bytes(signature.to_bytes())?,
    }))
}

// ---------------------------------------------------------------- verification

/// The scheme and hash of `signature`, checked against what `public` allows: a key type that
/// can make it, and the key's own scheme and hash when it is limited to one (every restricted
/// signing key is).
fn check_scheme(public: &Public, signature: &Signature) -> Result<(Scheme, HashAlg), HostKeyError> {
    let (scheme, hash) = match signature {
        Signature::Null => return Err(HostKeyError::NullSignature),
        Signature::RsaSsa(s) => (Scheme::RsaSsa, s.hash),
        Signature::RsaPss(s) => (Scheme::RsaPss, s.hash),
        Signature::Ecdsa(s) => (Scheme::Ecdsa, s.hash),
        other => return Err(HostKeyError::UnsupportedScheme(other.sig_alg())),
    };
    let key_scheme = match &public.key {
        PublicKey::Rsa { parameters, .. } => {
            if scheme == Scheme::Ecdsa {
                return Err(HostKeyError::KeyTypeMismatch {
                    key: AlgId::RSA,
                    signature: signature.sig_alg(),
                });
            }
            match parameters.scheme {
                RsaScheme::Null => None,
                s @ (RsaScheme::RsaSsa { .. } | RsaScheme::RsaPss { .. }) => {
                    Some((s.scheme(), s.hash()))
                }
                // A decryption scheme: the key cannot sign at all.
                s => return Err(HostKeyError::UnsupportedScheme(s.scheme())),
            }
        }
        PublicKey::Ecc { parameters, .. } => {
            if scheme != Scheme::Ecdsa {
                return Err(HostKeyError::KeyTypeMismatch {
                    key: AlgId::ECC,
                    signature: signature.sig_alg(),
                });
            }
            match parameters.scheme {
                EccScheme::Null => None,
                s @ EccScheme::Ecdsa { .. } => Some((s.scheme(), s.hash())),
                s => return Err(HostKeyError::UnsupportedScheme(s.scheme())),
            }
        }
        _ => return Err(HostKeyError::UnsupportedKeyType(public.object_type())),
    };
    if let Some((key_alg, key_hash)) = key_scheme {
        if key_alg != signature.sig_alg() {
            return Err(HostKeyError::SchemeMismatch {
                key: key_alg,
                signature: signature.sig_alg(),
            });
        }
        if let Some(key_hash) = key_hash.filter(|&h| h != hash) {
            return Err(HostKeyError::HashMismatch {
                key: key_hash,
                signature: hash,
            });
        }
    }
    Ok((scheme, signature_hash(hash)?))
}

fn pkcs1v15(hash: HashAlg) -> rsa::Pkcs1v15Sign {
    match hash {
        HashAlg::Sha384 => rsa::Pkcs1v15Sign::new::<Sha384>(),
        HashAlg::Sha512 => rsa::Pkcs1v15Sign::new::<Sha512>(),
        _ => rsa::Pkcs1v15Sign::new::<Sha256>(),
    }
}

fn pss(hash: HashAlg, salt_len: usize) -> rsa::Pss {
    match hash {
        HashAlg::Sha384 => rsa::Pss::new_with_salt::<Sha384>(salt_len),
        HashAlg::Sha512 => rsa::Pss::new_with_salt::<Sha512>(salt_len),
        _ => rsa::Pss::new_with_salt::<Sha256>(salt_len),
    }
}

/// Checks `signature` over `digest` (already hashed with the signature's hash) with the key
/// of `public`: the scheme and hash must be ones the key allows (see [`HostKeyError`]), the
/// digest as long as the hash's, and the signature valid.
///
/// An RSAPSS signature is accepted with a salt as long as the digest (what TPMs use) or with
/// the largest salt the modulus allows (what some older TPMs use).
pub fn verify_digest(
    public: &Public,
    digest: &[u8],
    signature: &Signature,
) -> Result<(), HostKeyError> {
    let (scheme, hash) = check_scheme(public, signature)?;
    if digest.len() != hash.digest_size() {
        return Err(HostKeyError::DigestLength {
            hash: hash.alg_id(),
            expected: hash.digest_size(),
            actual: digest.len(),
        });
    }
    match scheme {
        Scheme::RsaSsa | Scheme::RsaPss => {
            let key = rsa_public_key(public)?;
            let bytes = match signature {
                Signature::RsaSsa(s) | Signature::RsaPss(s) => s.sig.as_bytes(),
                _ => return Err(HostKeyError::UnsupportedScheme(signature.sig_alg())),
            };
            if bytes.len() != key.size() {
                return Err(HostKeyError::MalformedSignature(
                    "the RSA signature is not the modulus size",
                ));
            }
            let ok = if scheme == Scheme::RsaSsa {
                key.verify(pkcs1v15(hash), digest, bytes).is_ok()
            } else {
                let h = hash.digest_size();
                let em_len = (key.n().bits() - 1).div_ceil(8);
                let max_salt = em_len.saturating_sub(h + 2);
                key.verify(pss(hash, h), digest, bytes).is_ok()
                    || (max_salt != h && key.verify(pss(hash, max_salt), digest, bytes).is_ok())
            };
            ok.then_some(()).ok_or(HostKeyError::Invalid)
        }
        Scheme::Ecdsa => {
            use p256::ecdsa::signature::hazmat::PrehashVerifier;
            let PublicKey::Ecc { parameters, .. } = &public.key else {
                return Err(HostKeyError::UnsupportedKeyType(public.object_type()));
            };
            let ok = match parameters.curve {
                EccCurve::NIST_P256 => {
                    let key = p256_verifying_key(public)?;
                    let (_, sig) = p256_signature(signature)?;
                    key.verify_prehash(digest, &sig).is_ok()
                }
                EccCurve::NIST_P384 => {
                    let key = p384_verifying_key(public)?;
                    let (_, sig) = p384_signature(signature)?;
                    key.verify_prehash(digest, &sig).is_ok()
                }
                other => return Err(HostKeyError::UnsupportedCurve(other)),
            };
            ok.then_some(()).ok_or(HostKeyError::Invalid)
        }
    }
}

/// Checks `signature` over `message`, which is hashed with the hash the signature names
/// (after that hash is checked against the key), as the TPM hashes what it signs in
/// TPM2_Quote, TPM2_Certify and the other attestation commands. See [`verify_digest`].
pub fn verify_message(
    public: &Public,
    message: &[u8],
    signature: &Signature,
) -> Result<(), HostKeyError> {
    let (_, hash) = check_scheme(public, signature)?;
    let digest = crypto::hash(hash, &[message]);
    verify_digest(public, digest.as_bytes(), signature)
}
