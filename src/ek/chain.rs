//! Chain verification: from the EK certificate through the bundle's intermediates to one of
//! its roots, checking at each link the signature, that the issuer is a CA allowed to sign
//! EK chains (basicConstraints, keyUsage, extendedKeyUsage, pathLenConstraint, no
//! nameConstraints) and every certificate's validity period.
//!
//! A root is a self-issued certificate of the bundle that names no other key as its signer.
//! It is trusted because the caller put it in the bundle, not for its self-signature, which
//! is not checked (so a root self-signed with SHA-1 still anchors). Self-issued certificates
//! that name another key (a CA's key rollover) are links like any intermediate, and do not
//! count towards pathLenConstraint.
//!
//! Signatures accepted on certificates, and nothing else (SHA-1 in particular is refused):
//!
//! - ECDSA with each curve's own hash: P-256 with SHA-256, P-384 with SHA-384 (a P-256 key
//!   signing with SHA-384, or any curve with SHA-512, is refused);
//! - RSA PKCS#1 v1.5 with SHA-256, SHA-384 or SHA-512, from keys of 2048 to 4096 bits;
//! - RSASSA-PSS with SHA-256, SHA-384 or SHA-512, MGF1 with the same hash and a salt as long
//!   as the hash (the parameter sets RFC 8017 recommends), from the same RSA keys.

use std::time::{Duration, SystemTime};

use sha2::Digest as _;
use x509_cert::der::asn1::ObjectIdentifier;
use x509_cert::der::{Decode, Encode};
use x509_cert::spki::AlgorithmIdentifierOwned;

use super::bundle::{CaBundle, ValidationTime};
use super::cert::{CertifiedKey, EkCertificate, Parsed};
use super::EkError;
use crate::crypto::Curve;
use crate::wire::EccCurve;

/// The longest chain accepted, EK certificate and root included.
pub const MAX_CHAIN_DEPTH: usize = 8;

/// How many signatures one verification may check while searching for a path: bounds the
/// work a bundle full of look-alike issuers can cause.
const SIGNATURE_BUDGET: usize = 32;

/// The smallest RSA key accepted for a CA's signatures.
const MIN_RSA_BITS: usize = 2048;

const OID_SHA256_WITH_RSA: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.11");
const OID_SHA384_WITH_RSA: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.12");
const OID_SHA512_WITH_RSA: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.13");
const OID_RSASSA_PSS: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.10");
const OID_MGF1: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.8");
const OID_ECDSA_SHA256: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.4.3.2");
const OID_ECDSA_SHA384: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.4.3.3");
const OID_SHA256: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.16.840.1.101.3.4.2.1");
const OID_SHA384: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.16.840.1.101.3.4.2.2");
const OID_SHA512: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.16.840.1.101.3.4.2.3");

/// A chain that verified: the subjects from the EK certificate up to the root.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VerifiedChain {
    /// Subjects, EK certificate first, the bundle's root last.
    pub subjects: Vec<String>,
}

#[derive(Clone, Copy, Debug)]
enum Hash {
    Sha256,
    Sha384,
    Sha512,
}

impl Hash {
    fn from_oid(oid: ObjectIdentifier) -> Option<Hash> {
        match oid {
            OID_SHA256 => Some(Hash::Sha256),
            OID_SHA384 => Some(Hash::Sha384),
            OID_SHA512 => Some(Hash::Sha512),
            _ => None,
        }
    }

    /// The digest's length in bytes.
    fn len(self) -> usize {
        match self {
            Hash::Sha256 => 32,
            Hash::Sha384 => 48,
            Hash::Sha512 => 64,
        }
    }

    fn digest(self, data: &[u8]) -> Vec<u8> {
        match self {
            Hash::Sha256 => sha2::Sha256::digest(data).to_vec(),
            Hash::Sha384 => sha2::Sha384::digest(data).to_vec(),
            Hash::Sha512 => sha2::Sha512::digest(data).to_vec(),
        }
    }
}

enum Scheme {
    Pkcs1v15(Hash),
    Pss { hash: Hash, salt_len: usize },
    Ecdsa(Hash),
}

fn unsupported(subject: &str, detail: String) -> EkError {
    EkError::Unsupported {
        subject: subject.into(),
        what: "signature algorithm",
        detail,
    }
}

/// The signature scheme of `alg`, refusing SHA-1 and anything not listed in the module docs.
fn scheme(subject: &str, alg: &AlgorithmIdentifierOwned) -> Result<Scheme, EkError> {
    let absent_or_null = alg.parameters.as_ref().is_none_or(|p| p.is_null());
    let no_parameters = alg.parameters.is_none();
    let scheme = match alg.oid {
        OID_SHA256_WITH_RSA if absent_or_null => Scheme::Pkcs1v15(Hash::Sha256),
        OID_SHA384_WITH_RSA if absent_or_null => Scheme::Pkcs1v15(Hash::Sha384),
        OID_SHA512_WITH_RSA if absent_or_null => Scheme::Pkcs1v15(Hash::Sha512),
        OID_ECDSA_SHA256 if no_parameters => Scheme::Ecdsa(Hash::Sha256),
        OID_ECDSA_SHA384 if no_parameters => Scheme::Ecdsa(Hash::Sha384),
        OID_RSASSA_PSS => pss_scheme(subject, alg)?,
        other => return Err(unsupported(subject, other.to_string())),
    };
    Ok(scheme)
}

fn pss_scheme(subject: &str, alg: &AlgorithmIdentifierOwned) -> Result<Scheme, EkError> {
    let bad = |what: &str| unsupported(subject, format!("RSASSA-PSS {what}"));
    let params = alg
        .parameters
        .as_ref()
        .ok_or_else(|| bad("without parameters (SHA-1 defaults)"))?;
    let der = params.to_der().map_err(|_| bad("parameters"))?;
    let params = rsa::pkcs1::RsaPssParams::from_der(&der).map_err(|_| bad("parameters"))?;
    let hash = Hash::from_oid(params.hash.oid).ok_or_else(|| bad("hash (only SHA-2)"))?;
    if params.mask_gen.oid != OID_MGF1
        || params.mask_gen.parameters.map(|p| p.oid) != Some(params.hash.oid)
    {
        return Err(bad("mask generation (only MGF1 with the signature's hash)"));
    }
    if params.trailer_field != rsa::pkcs1::TrailerField::BC {
        return Err(bad("trailer field"));
    }
    // The salt as long as the hash, as RFC 8017 recommends and CAs use: one parameter set
    // per hash.
    let salt_len = usize::from(params.salt_len);
    if salt_len != hash.len() {
        return Err(bad("salt length (only that of the hash)"));
    }
    Ok(Scheme::Pss { hash, salt_len })
}

/// Whether `signature` over `tbs` verifies with `key` under `alg`. `Ok(false)` is a signature
/// that does not verify; errors are algorithms or keys that cannot be used at all.
fn verify_signature(
    subject: &str,
    issuer: &Parsed,
    alg: &AlgorithmIdentifierOwned,
    tbs: &[u8],
    signature: &[u8],
) -> Result<bool, EkError> {
    let scheme = scheme(subject, alg)?;
    match (&issuer.key, scheme) {
        (
            CertifiedKey::Rsa { modulus, exponent },
            scheme @ (Scheme::Pkcs1v15(_) | Scheme::Pss { .. }),
        ) => {
            let key = rsa_key(issuer, modulus, exponent)?;
            Ok(match scheme {
                Scheme::Pkcs1v15(hash) => {
                    let digest = hash.digest(tbs);
                    let padding = match hash {
                        Hash::Sha256 => rsa::Pkcs1v15Sign::new::<sha2::Sha256>(),
                        Hash::Sha384 => rsa::Pkcs1v15Sign::new::<sha2::Sha384>(),
                        Hash::Sha512 => rsa::Pkcs1v15Sign::new::<sha2::Sha512>(),
                    };
                    key.verify(padding, &digest, signature).is_ok()
                }
                Scheme::Pss { hash, salt_len } => {
                    let digest = hash.digest(tbs);
                    let padding = match hash {
                        Hash::Sha256 => rsa::Pss::new_with_salt::<sha2::Sha256>(salt_len),
                        Hash::Sha384 => rsa::Pss::new_with_salt::<sha2::Sha384>(salt_len),
                        Hash::Sha512 => rsa::Pss::new_with_salt::<sha2::Sha512>(salt_len),
                    };
                    key.verify(padding, &digest, signature).is_ok()
                }
                Scheme::Ecdsa(_) => false,
            })
        }
        (
            CertifiedKey::Ecc {
                curve: EccCurve::NIST_P521,
                ..
            },
            Scheme::Ecdsa(_),
        ) => Err(EkError::Unsupported {
            subject: issuer.subject.clone(),
            what: "key for signing certificates",
            detail: "ECDSA with NIST P-521".into(),
        }),
        (CertifiedKey::Ecc { curve, x, y }, Scheme::Ecdsa(hash)) => {
            // Each curve with the hash of its strength only.
            let paired = matches!(
                (*curve, hash),
                (EccCurve::NIST_P256, Hash::Sha256) | (EccCurve::NIST_P384, Hash::Sha384)
            );
            if !paired {
                return Err(unsupported(
                    subject,
                    format!(
                        "{} with the {} key of {} (only P-256 with SHA-256, P-384 with SHA-384)",
                        alg.oid,
                        curve_name(*curve),
                        issuer.subject
                    ),
                ));
            }
            let digest = hash.digest(tbs);
            Ok(verify_ecdsa(*curve, x, y, &digest, signature))
        }
        _ => Err(unsupported(
            subject,
            format!("{} with the key type of {}", alg.oid, issuer.subject),
        )),
    }
}

fn curve_name(curve: EccCurve) -> &'static str {
    match curve {
        EccCurve::NIST_P256 => "P-256",
        EccCurve::NIST_P384 => "P-384",
        EccCurve::NIST_P521 => "P-521",
        _ => "other curve",
    }
}

fn rsa_key(issuer: &Parsed, modulus: &[u8], exponent: &[u8]) -> Result<rsa::RsaPublicKey, EkError> {
    let bits = super::cert::bit_len(modulus);
    if bits < MIN_RSA_BITS {
        return Err(EkError::Unsupported {
            subject: issuer.subject.clone(),
            what: "RSA key size for signing certificates",
            detail: format!("{bits} bits (at least {MIN_RSA_BITS})"),
        });
    }
    rsa::RsaPublicKey::new(
        rsa::BigUint::from_bytes_be(modulus),
        rsa::BigUint::from_bytes_be(exponent),
    )
    .map_err(|e| EkError::BadPublicKey {
        subject: issuer.subject.clone(),
        reason: e.to_string(),
    })
}

/// ECDSA-Sig-Value ::= SEQUENCE { r INTEGER, s INTEGER }, checked against the prehashed data.
fn verify_ecdsa(curve: EccCurve, x: &[u8], y: &[u8], digest: &[u8], signature: &[u8]) -> bool {
    use p256::ecdsa::signature::hazmat::PrehashVerifier;
    let Ok(curve) = Curve::from_tpm(curve) else {
        return false;
    };
    let Some((r, s)) = ecdsa_scalars(signature, curve.coordinate_size()) else {
        return false;
    };
    let mut point = Vec::with_capacity(1 + x.len() + y.len());
    point.push(0x04);
    point.extend_from_slice(x);
    point.extend_from_slice(y);
    macro_rules! verify_on {
        ($krate:ident) => {{
            let Ok(key) = $krate::ecdsa::VerifyingKey::from_sec1_bytes(&point) else {
                return false;
            };
            let Ok(sig) = $krate::ecdsa::Signature::from_scalars(
                *$krate::FieldBytes::from_slice(&r),
                *$krate::FieldBytes::from_slice(&s),
            ) else {
                return false;
            };
            key.verify_prehash(digest, &sig).is_ok()
        }};
    }
    match curve {
        Curve::P256 => verify_on!(p256),
        Curve::P384 => verify_on!(p384),
        // Refused before it gets here (p521's ECDSA is not among the dependencies).
        Curve::P521 => false,
    }
}

/// r and s of a DER ECDSA-Sig-Value, each left-padded to `size` bytes.
fn ecdsa_scalars(signature: &[u8], size: usize) -> Option<(Vec<u8>, Vec<u8>)> {
    use x509_cert::der::asn1::UintRef;
    use x509_cert::der::{Reader, SliceReader};
    let mut reader = SliceReader::new(signature).ok()?;
    let (r, s) = reader
        .sequence(|seq| Ok((UintRef::decode(seq)?, UintRef::decode(seq)?)))
        .ok()?;
    reader.finish(()).ok()?;
    let pad = |v: &[u8]| -> Option<Vec<u8>> {
        if v.len() > size {
            return None;
        }
        let mut out = vec![0u8; size - v.len()];
        out.extend_from_slice(v);
        Some(out)
    };
    Some((pad(r.as_bytes())?, pad(s.as_bytes())?))
}

fn time_text(t: Duration) -> String {
    x509_cert::der::DateTime::from_unix_duration(t)
        .map(|d| d.to_string())
        .unwrap_or_else(|_| format!("{} s after 1970", t.as_secs()))
}

/// `c`'s validity period holds `now`; with no time, nothing is checked
/// ([`ValidationTime::Unchecked`]).
fn check_validity(c: &Parsed, now: Option<Duration>) -> Result<(), EkError> {
    let Some(now) = now else {
        return Ok(());
    };
    let (not_before, not_after) = c.validity();
    let (before_text, after_text) = c.validity_text();
    if now < not_before {
        return Err(EkError::NotYetValid {
            subject: c.subject.clone(),
            not_before: before_text,
            now: time_text(now),
        });
    }
    if now > not_after {
        return Err(EkError::Expired {
            subject: c.subject.clone(),
            not_after: after_text,
            now: time_text(now),
        });
    }
    Ok(())
}

struct Search<'a> {
    bundle: &'a CaBundle,
    now: Option<Duration>,
    budget: usize,
    path: Vec<usize>,
}

impl Search<'_> {
    /// Finds an issuer for `child` (which has `cas_below` CAs between it and the EK
    /// certificate) and, unless that issuer is a root, continues from it.
    fn extend(&mut self, child: &Parsed, cas_below: usize) -> Result<(), EkError> {
        if self.path.len() + 1 >= MAX_CHAIN_DEPTH {
            return Err(EkError::ChainTooLong {
                max: MAX_CHAIN_DEPTH,
            });
        }
        let issuer_name = &child.cert.tbs_certificate.issuer;
        let mut candidates: Vec<usize> = (0..self.bundle.certs.len())
            .filter(|i| !self.path.contains(i))
            .filter(|&i| &self.bundle.certs[i].parsed.cert.tbs_certificate.subject == issuer_name)
            .collect();
        // Issuers whose key identifier the child names come first.
        candidates.sort_by_key(|&i| {
            let ski = &self.bundle.certs[i].parsed.subject_key_id;
            !(child.authority_key_id.is_some() && *ski == child.authority_key_id)
        });
        let mut first_error = None;
        for i in candidates {
            let issuer = &self.bundle.certs[i].parsed;
            match self.link(child, issuer, cas_below) {
                Ok(()) => {}
                Err(e) => {
                    if matches!(e, EkError::ChainSearchExhausted { .. }) {
                        return Err(e);
                    }
                    first_error.get_or_insert(e);
                    continue;
                }
            }
            self.path.push(i);
            let result = if issuer.is_trust_anchor() {
                Ok(())
            } else {
                // A self-issued CA (a key rollover) does not count towards pathLenConstraint
                // (RFC 5280, 6.1.4 (l)).
                let cas = cas_below + usize::from(!issuer.is_self_issued());
                self.extend(issuer, cas)
            };
            match result {
                Ok(()) => return Ok(()),
                Err(e @ EkError::ChainSearchExhausted { .. }) => return Err(e),
                Err(e) => {
                    self.path.pop();
                    first_error.get_or_insert(e);
                }
            }
        }
        Err(first_error.unwrap_or_else(|| EkError::UnknownIssuer {
            subject: child.subject.clone(),
            issuer: child.issuer(),
        }))
    }

    fn spend(&mut self) -> Result<(), EkError> {
        if self.budget == 0 {
            return Err(EkError::ChainSearchExhausted {
                budget: SIGNATURE_BUDGET,
            });
        }
        self.budget -= 1;
        Ok(())
    }

    /// `issuer` signed `child` and may sign certificates.
    fn link(&mut self, child: &Parsed, issuer: &Parsed, cas_below: usize) -> Result<(), EkError> {
        self.spend()?;
        let signature = child
            .signature()
            .as_bytes()
            .ok_or_else(|| EkError::BadSignature {
                subject: child.subject.clone(),
                issuer: issuer.subject.clone(),
            })?;
        if !verify_signature(
            &child.subject,
            issuer,
            &child.cert.signature_algorithm,
            child.tbs(),
            signature,
        )? {
            return Err(EkError::BadSignature {
                subject: child.subject.clone(),
                issuer: issuer.subject.clone(),
            });
        }
        let Some(constraints) = issuer.basic_constraints.as_ref().filter(|b| b.ca) else {
            return Err(EkError::NotACa {
                subject: issuer.subject.clone(),
            });
        };
        if issuer
            .key_usage
            .as_ref()
            .is_some_and(|u| !u.key_cert_sign())
        {
            return Err(EkError::NoCertSign {
                subject: issuer.subject.clone(),
            });
        }
        if issuer.name_constraints {
            return Err(EkError::NameConstraints {
                subject: issuer.subject.clone(),
            });
        }
        // A CA that lists its extended key usages certifies EKs only if it lists that one.
        if !issuer.usable_for_ek_certificates() {
            return Err(EkError::IssuerNotForEkCertificates {
                subject: issuer.subject.clone(),
            });
        }
        if let Some(allowed) = constraints.path_len_constraint {
            if cas_below > usize::from(allowed) {
                return Err(EkError::PathLenExceeded {
                    subject: issuer.subject.clone(),
                    allowed,
                    found: cas_below,
                });
            }
        }
        check_validity(issuer, self.now)
    }
}

impl CaBundle {
    /// Verifies `ek`'s chain up to a root of this bundle, at the bundle's
    /// [`validation_time`](CaBundle::validation_time) (the current time unless chosen
    /// otherwise).
    pub fn verify(&self, ek: &EkCertificate) -> Result<VerifiedChain, EkError> {
        self.verify_with(ek, self.validation_time)
    }

    /// Verifies `ek`'s chain up to a root of this bundle, as of `now`: each
    /// signature, each issuer's CA constraints, each certificate's validity at `now`.
    pub fn verify_at(&self, ek: &EkCertificate, now: SystemTime) -> Result<VerifiedChain, EkError> {
        self.verify_with(ek, ValidationTime::At(now))
    }

    fn verify_with(
        &self,
        ek: &EkCertificate,
        time: ValidationTime,
    ) -> Result<VerifiedChain, EkError> {
        let now = time.resolve();
        if ek.parsed.name_constraints {
            return Err(EkError::NameConstraints {
                subject: ek.parsed.subject.clone(),
            });
        }
        check_validity(&ek.parsed, now)?;
        let mut search = Search {
            bundle: self,
            now,
            budget: SIGNATURE_BUDGET,
            path: Vec::new(),
        };
        search.extend(&ek.parsed, 0)?;
        let mut subjects = vec![ek.parsed.subject.clone()];
        subjects.extend(
            search
                .path
                .iter()
                .map(|&i| self.certs[i].parsed.subject.clone()),
        );
        Ok(VerifiedChain { subjects })
    }
}
