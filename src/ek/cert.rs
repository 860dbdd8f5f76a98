//! Parsing certificates: the EK certificate and the CA certificates of a bundle.
//!
//! Parsing checks everything that does not depend on another certificate: canonical DER, X.509
//! v3, no duplicate extension, every extension this verifier acts on decodes, no critical
//! extension it does not act on, a supported public key. The EK certificate is further held
//! to the EK Credential Profile.

use std::time::Duration;

use x509_cert::der::asn1::{BitString, ObjectIdentifier};
use x509_cert::der::{Decode, Encode, SliceReader};
use x509_cert::ext::pkix::{
    AuthorityKeyIdentifier, BasicConstraints, ExtendedKeyUsage, KeyUsage, SubjectAltName,
    SubjectKeyIdentifier,
};
use x509_cert::Certificate;

use super::EkError;
use crate::crypto::Curve;
use crate::wire::EccCurve;
use crate::wire::{Public, PublicKey};

/// The largest certificate accepted (EK certificates are about 1 KiB, CA certificates with
/// RSA-4096 keys under 3 KiB).
pub const MAX_CERTIFICATE_SIZE: usize = 16 * 1024;

const OID_BASIC_CONSTRAINTS: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.29.19");
const OID_KEY_USAGE: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.29.15");
const OID_EXT_KEY_USAGE: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.29.37");
const OID_SUBJECT_ALT_NAME: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.29.17");
const OID_SUBJECT_KEY_ID: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.29.14");
const OID_AUTHORITY_KEY_ID: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.29.35");
/// tcg-kp-EKCertificate: the extended key usage the profile gives EK certificates.
const OID_TCG_KP_EK_CERTIFICATE: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.23.133.8.1");

const OID_RSA_ENCRYPTION: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.1");
const OID_EC_PUBLIC_KEY: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.2.1");
const OID_P256: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.3.1.7");
const OID_P384: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.132.0.34");
const OID_P521: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.132.0.35");

const OID_NAME_CONSTRAINTS: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.29.30");

/// The extensions whose criticality this verifier honours: it acts on each of them. The EK
/// Credential Profile makes subjectAltName critical (the TPM manufacturer, model and version
/// live there when the subject is empty); nothing is done with its content, and nothing needs
/// to be, because no chain with name constraints is accepted: a certificate carrying
/// nameConstraints, critical or not, fails the chain it is on.
const CRITICAL_ALLOWED: [ObjectIdentifier; 5] = [
    OID_BASIC_CONSTRAINTS,
    OID_KEY_USAGE,
    OID_EXT_KEY_USAGE,
    OID_SUBJECT_ALT_NAME,
    OID_NAME_CONSTRAINTS,
];

/// A public key a certificate certifies.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CertifiedKey {
    /// An RSA key: big-endian modulus and exponent, without leading zero bytes.
    Rsa {
        /// The modulus.
        modulus: Vec<u8>,
        /// The public exponent.
        exponent: Vec<u8>,
    },
    /// An elliptic-curve key: affine coordinates, each the curve's full field width.
    Ecc {
        /// The curve (NIST P-256, P-384 or P-521 in a parsed certificate).
        curve: EccCurve,
        /// x, big-endian.
        x: Vec<u8>,
        /// y, big-endian.
        y: Vec<u8>,
    },
}

impl CertifiedKey {
    /// Whether `public` (a TPM public area) holds exactly this key; `None` if it does, else
    /// what differs.
    pub fn mismatch(&self, public: &Public) -> Option<&'static str> {
        match (self, &public.key) {
            (CertifiedKey::Rsa { modulus, exponent }, PublicKey::Rsa { parameters, unique }) => {
                // The TPM writes 0 for the default exponent 65537.
                let tpm_exponent = match parameters.exponent {
                    0 => 65537,
                    e => e,
                };
                let tpm_exponent = tpm_exponent.to_be_bytes();
                if strip(unique.as_bytes()) != modulus.as_slice() {
                    Some("the RSA moduli differ")
                } else if strip(&tpm_exponent) != exponent.as_slice() {
                    Some("the RSA exponents differ")
                } else if usize::from(parameters.key_bits) != bit_len(modulus) {
                    Some("the TPM's key size differs from the modulus")
                } else {
                    None
                }
            }
            (CertifiedKey::Ecc { curve, x, y }, PublicKey::Ecc { parameters, unique }) => {
                match crate::crypto::ecc_coordinate_size(*curve) {
                    _ if parameters.curve != *curve => Some("the curves differ"),
                    Err(_) => Some("the curve is not one the library implements"),
                    Ok(size)
                        if padded(unique.x.as_bytes(), size).as_deref() != Some(x.as_slice())
                            || padded(unique.y.as_bytes(), size).as_deref()
                                != Some(y.as_slice()) =>
                    {
                        Some("the ECC points differ")
                    }
                    Ok(_) => None,
                }
            }
            (CertifiedKey::Rsa { .. }, _) => {
                Some("the certificate holds an RSA key, the EK is not RSA")
            }
            (CertifiedKey::Ecc { .. }, _) => {
                Some("the certificate holds an ECC key, the EK is not ECC")
            }
        }
    }
}

fn strip(bytes: &[u8]) -> &[u8] {
    let first = bytes.iter().position(|&b| b != 0).unwrap_or(bytes.len());
    &bytes[first..]
}

pub(crate) fn bit_len(big_endian: &[u8]) -> usize {
    let s = strip(big_endian);
    match s.first() {
        Some(&top) => s.len() * 8 - top.leading_zeros() as usize,
        None => 0,
    }
}

/// `value` left-padded to `size` bytes, or None if it has more significant bytes than that.
fn padded(value: &[u8], size: usize) -> Option<Vec<u8>> {
    let s = strip(value);
    if s.len() > size {
        return None;
    }
    let mut out = vec![0u8; size - s.len()];
    out.extend_from_slice(s);
    Some(out)
}

/// A certificate that parsed and passed the checks that need no other certificate.
#[derive(Clone, Debug)]
pub(crate) struct Parsed {
    pub(crate) der: Vec<u8>,
    pub(crate) cert: Certificate,
    /// Where the signed part (TBSCertificate, header included) lies in `der`.
    tbs: core::ops::Range<usize>,
    pub(crate) subject: String,
    pub(crate) key: CertifiedKey,
    pub(crate) basic_constraints: Option<BasicConstraints>,
    pub(crate) key_usage: Option<KeyUsage>,
    pub(crate) ext_key_usage: Option<Vec<ObjectIdentifier>>,
    pub(crate) subject_key_id: Option<Vec<u8>>,
    pub(crate) authority_key_id: Option<Vec<u8>>,
    /// Whether it carries nameConstraints (not evaluated: such a chain is refused).
    pub(crate) name_constraints: bool,
}

impl Parsed {
    pub(crate) fn parse(what: &str, der: &[u8]) -> Result<Parsed, EkError> {
        if der.len() > MAX_CERTIFICATE_SIZE {
            return Err(EkError::TooLarge {
                what: what.into(),
                size: der.len(),
                max: MAX_CERTIFICATE_SIZE,
            });
        }
        let parse_error = |source| EkError::Parse {
            what: what.into(),
            source,
        };
        let cert = Certificate::from_der(der).map_err(parse_error)?;
        // The signature covers the bytes as read; accept only the one encoding the parsed
        // value has, so what is checked and what is used cannot differ.
        if cert.to_der().map_err(parse_error)? != der {
            return Err(EkError::NotCanonical { what: what.into() });
        }
        let tbs = tbs_range(der).map_err(parse_error)?;
        let subject = describe_name(&cert.tbs_certificate.subject);
        let version = cert.tbs_certificate.version as u8 + 1;
        if version != 3 {
            return Err(EkError::UnsupportedVersion { subject, version });
        }
        if cert.signature_algorithm != cert.tbs_certificate.signature {
            return Err(EkError::AlgorithmMismatch { subject });
        }
        let key = certified_key(&subject, &cert)?;
        let mut parsed = Parsed {
            der: der.to_vec(),
            tbs,
            subject,
            key,
            basic_constraints: None,
            key_usage: None,
            ext_key_usage: None,
            subject_key_id: None,
            authority_key_id: None,
            name_constraints: false,
            cert,
        };
        parsed.read_extensions()?;
        Ok(parsed)
    }

    fn read_extensions(&mut self) -> Result<(), EkError> {
        let extensions = self
            .cert
            .tbs_certificate
            .extensions
            .clone()
            .unwrap_or_default();
        for (i, ext) in extensions.iter().enumerate() {
            let oid = ext.extn_id;
            if extensions[..i].iter().any(|e| e.extn_id == oid) {
                return Err(EkError::DuplicateExtension {
                    subject: self.subject.clone(),
                    oid: oid.to_string(),
                });
            }
            if ext.critical && !CRITICAL_ALLOWED.contains(&oid) {
                return Err(EkError::UnknownCriticalExtension {
                    subject: self.subject.clone(),
                    oid: oid.to_string(),
                });
            }
            let value = ext.extn_value.as_bytes();
            let bad = |source| EkError::BadExtension {
                subject: self.subject.clone(),
                oid: oid.to_string(),
                source,
            };
            match oid {
                OID_BASIC_CONSTRAINTS => {
                    self.basic_constraints = Some(BasicConstraints::from_der(value).map_err(bad)?)
                }
                OID_KEY_USAGE => self.key_usage = Some(KeyUsage::from_der(value).map_err(bad)?),
                OID_EXT_KEY_USAGE => {
                    self.ext_key_usage = Some(ExtendedKeyUsage::from_der(value).map_err(bad)?.0)
                }
                OID_SUBJECT_ALT_NAME => {
                    SubjectAltName::from_der(value).map_err(bad)?;
                }
                OID_SUBJECT_KEY_ID => {
                    let id = SubjectKeyIdentifier::from_der(value).map_err(bad)?;
                    self.subject_key_id = Some(id.0.as_bytes().to_vec());
                }
                OID_AUTHORITY_KEY_ID => {
                    let id = AuthorityKeyIdentifier::from_der(value).map_err(bad)?;
                    self.authority_key_id = id.key_identifier.map(|k| k.as_bytes().to_vec());
                }
                OID_NAME_CONSTRAINTS => self.name_constraints = true,
                // Non-critical and not acted on: ignored, as RFC 5280 allows.
                _ => {}
            }
        }
        Ok(())
    }

    /// Whether the extendedKeyUsage, if there is one, includes tcg-kp-EKCertificate: a key
    /// whose usages are listed may be used for those only. anyExtendedKeyUsage is not taken
    /// for it, as RFC 5280 lets a verifier that needs one purpose require that purpose.
    pub(crate) fn usable_for_ek_certificates(&self) -> bool {
        self.ext_key_usage
            .as_ref()
            .is_none_or(|eku| eku.contains(&OID_TCG_KP_EK_CERTIFICATE))
    }

    /// The signed bytes.
    pub(crate) fn tbs(&self) -> &[u8] {
        &self.der[self.tbs.clone()]
    }

    pub(crate) fn signature(&self) -> &BitString {
        &self.cert.signature
    }

    pub(crate) fn issuer(&self) -> String {
        describe_name(&self.cert.tbs_certificate.issuer)
    }

    pub(crate) fn is_self_issued(&self) -> bool {
        self.cert.tbs_certificate.issuer == self.cert.tbs_certificate.subject
    }

    /// Whether this certificate, found in the caller's bundle, ends a chain: it is self-issued
    /// and names no other key as its signer (its authorityKeyIdentifier, if any, is its own
    /// subjectKeyIdentifier). Its self-signature is not checked: anyone can self-sign, so
    /// the caller's choice to put it in the bundle is what makes it trusted, and a root
    /// self-signed with SHA-1 anchors as well as any. A self-issued certificate naming
    /// another key is a key rollover, verified like an intermediate.
    pub(crate) fn is_trust_anchor(&self) -> bool {
        self.is_self_issued()
            && (self.authority_key_id.is_none() || self.authority_key_id == self.subject_key_id)
    }

    /// notBefore and notAfter as durations since the Unix epoch.
    pub(crate) fn validity(&self) -> (Duration, Duration) {
        let v = &self.cert.tbs_certificate.validity;
        (
            v.not_before.to_unix_duration(),
            v.not_after.to_unix_duration(),
        )
    }

    pub(crate) fn validity_text(&self) -> (String, String) {
        let v = &self.cert.tbs_certificate.validity;
        (
            v.not_before.to_date_time().to_string(),
            v.not_after.to_date_time().to_string(),
        )
    }
}

/// A subject or issuer for messages: the RFC 4514 string, or a placeholder for an empty name
/// (EK certificates may have an empty subject).
fn describe_name(name: &x509_cert::name::Name) -> String {
    let s = name.to_string();
    if s.is_empty() {
        "(empty subject)".into()
    } else {
        s
    }
}

/// The byte range of TBSCertificate (its header and value) inside a Certificate: it follows
/// the outer SEQUENCE header.
fn tbs_range(der: &[u8]) -> Result<core::ops::Range<usize>, x509_cert::der::Error> {
    let mut reader = SliceReader::new(der)?;
    let outer = x509_cert::der::Header::decode(&mut reader)?;
    let start = usize::try_from(outer.encoded_len()?)?;
    let rest = der
        .get(start..)
        .ok_or(x509_cert::der::ErrorKind::Incomplete {
            expected_len: outer.length,
            actual_len: x509_cert::der::Length::ZERO,
        })?;
    let len = der_length(rest)?;
    if len > rest.len() {
        return Err(x509_cert::der::ErrorKind::Length {
            tag: x509_cert::der::Tag::Sequence,
        }
        .into());
    }
    Ok(start..start + len)
}

fn certified_key(subject: &str, cert: &Certificate) -> Result<CertifiedKey, EkError> {
    let spki = &cert.tbs_certificate.subject_public_key_info;
    let bad = |reason: &str| EkError::BadPublicKey {
        subject: subject.into(),
        reason: reason.into(),
    };
    let key_bits = spki
        .subject_public_key
        .as_bytes()
        .ok_or_else(|| bad("the key's BIT STRING has unused bits"))?;
    match spki.algorithm.oid {
        OID_RSA_ENCRYPTION => {
            // RFC 3279: the parameters are NULL (some encoders leave them out).
            if let Some(p) = &spki.algorithm.parameters {
                if !p.is_null() {
                    return Err(bad("rsaEncryption with parameters other than NULL"));
                }
            }
            let key = rsa::pkcs1::RsaPublicKey::from_der(key_bits)
                .map_err(|_| bad("not a PKCS#1 RSAPublicKey"))?;
            Ok(CertifiedKey::Rsa {
                modulus: strip(key.modulus.as_bytes()).to_vec(),
                exponent: strip(key.public_exponent.as_bytes()).to_vec(),
            })
        }
        OID_EC_PUBLIC_KEY => {
            let curve_oid = spki
                .algorithm
                .parameters
                .as_ref()
                .and_then(|p| p.decode_as::<ObjectIdentifier>().ok())
                .ok_or_else(|| bad("id-ecPublicKey without a named curve"))?;
            let curve = match curve_oid {
                OID_P256 => Curve::P256,
                OID_P384 => Curve::P384,
                OID_P521 => Curve::P521,
                other => {
                    return Err(EkError::Unsupported {
                        subject: subject.into(),
                        what: "elliptic curve",
                        detail: other.to_string(),
                    })
                }
            };
            let size = curve.coordinate_size();
            // Uncompressed SEC1 point: 0x04 ‖ x ‖ y.
            if key_bits.len() != 1 + 2 * size || key_bits[0] != 0x04 {
                return Err(bad("not an uncompressed point of the curve's size"));
            }
            let (x, y) = key_bits[1..].split_at(size);
            // On the curve? Decoding it as a verifying key checks.
            let on_curve = match curve {
                Curve::P256 => p256::PublicKey::from_sec1_bytes(key_bits).is_ok(),
                Curve::P384 => p384::PublicKey::from_sec1_bytes(key_bits).is_ok(),
                Curve::P521 => p521::PublicKey::from_sec1_bytes(key_bits).is_ok(),
            };
            if !on_curve {
                return Err(bad("the point is not on the curve"));
            }
            Ok(CertifiedKey::Ecc {
                curve: curve.tpm(),
                x: x.to_vec(),
                y: y.to_vec(),
            })
        }
        other => Err(EkError::Unsupported {
            subject: subject.into(),
            what: "public key algorithm",
            detail: other.to_string(),
        }),
    }
}

/// An EK certificate: parsed, and held to the EK Credential Profile. Its chain is checked by
/// [`CaBundle::verify`](super::CaBundle::verify).
#[derive(Clone, Debug)]
pub struct EkCertificate {
    pub(crate) parsed: Parsed,
}

impl EkCertificate {
    /// Parses a DER EK certificate. Besides the checks every certificate gets, the key must be
    /// an end entity's (basicConstraints, if present, without cA), its keyUsage (if present)
    /// must allow keyEncipherment for RSA or keyAgreement for ECC, and its extendedKeyUsage
    /// (if present) must include tcg-kp-EKCertificate (2.23.133.8.1): anyExtendedKeyUsage
    /// alone is refused. The EK Credential Profile gives EK certificates that usage when they
    /// list usages; certificates in the field without the extension are accepted.
    pub fn from_der(der: &[u8]) -> Result<EkCertificate, EkError> {
        let parsed = Parsed::parse("EK certificate", der)?;
        let refuse = |reason| EkError::NotAnEkCertificate {
            subject: parsed.subject.clone(),
            reason,
        };
        if parsed.basic_constraints.as_ref().is_some_and(|b| b.ca) {
            return Err(refuse(
                "it is a CA certificate (basicConstraints cA is set)",
            ));
        }
        if let Some(usage) = &parsed.key_usage {
            match parsed.key {
                CertifiedKey::Rsa { .. } if !usage.key_encipherment() => {
                    return Err(refuse(
                        "its keyUsage lacks keyEncipherment, which an RSA EK has",
                    ))
                }
                CertifiedKey::Ecc { .. } if !usage.key_agreement() => {
                    return Err(refuse(
                        "its keyUsage lacks keyAgreement, which an ECC EK has",
                    ))
                }
                _ => {}
            }
        }
        if !parsed.usable_for_ek_certificates() {
            return Err(refuse(
                "its extendedKeyUsage lacks tcg-kp-EKCertificate (2.23.133.8.1)",
            ));
        }
        Ok(EkCertificate { parsed })
    }

    /// Parses the contents of an EK certificate NV index: the DER certificate, possibly
    /// followed by padding (zero or 0xFF bytes) up to the index's size. Anything else after
    /// the certificate is refused.
    pub fn from_nv_contents(bytes: &[u8]) -> Result<EkCertificate, EkError> {
        let len = der_length(bytes).map_err(|source| EkError::Parse {
            what: "EK certificate".into(),
            source,
        })?;
        let (cert, padding) = bytes.split_at(len.min(bytes.len()));
        let pad = padding.first().copied().unwrap_or(0);
        if !(pad == 0 || pad == 0xFF) || padding.iter().any(|&b| b != pad) {
            return Err(EkError::NotCanonical {
                what: "EK certificate (bytes other than padding follow it in NV)".into(),
            });
        }
        EkCertificate::from_der(cert)
    }

    /// The certificate as read (DER).
    pub fn der(&self) -> &[u8] {
        &self.parsed.der
    }

    /// The subject, as an RFC 4514 string ("(empty subject)" when empty, as the profile
    /// allows).
    pub fn subject(&self) -> &str {
        &self.parsed.subject
    }

    /// The issuer, as an RFC 4514 string.
    pub fn issuer(&self) -> String {
        self.parsed.issuer()
    }

    /// The certified public key.
    pub fn key(&self) -> &CertifiedKey {
        &self.parsed.key
    }

    /// The parsed X.509 structure.
    pub fn x509(&self) -> &Certificate {
        &self.parsed.cert
    }
}

/// The length of the DER element at the start of `bytes` (header included).
fn der_length(bytes: &[u8]) -> Result<usize, x509_cert::der::Error> {
    let mut reader = SliceReader::new(bytes)?;
    let header = x509_cert::der::Header::decode(&mut reader)?;
    let total = (header.encoded_len()? + header.length)?;
    usize::try_from(total)
}

/// A certificate of a CA bundle: parsed, not yet trusted for anything.
#[derive(Clone, Debug)]
pub struct CaCertificate {
    pub(crate) parsed: Parsed,
}

impl CaCertificate {
    /// Parses a DER certificate. Whether it may issue certificates is checked when a chain
    /// goes through it.
    pub fn from_der(der: &[u8]) -> Result<CaCertificate, EkError> {
        Ok(CaCertificate {
            parsed: Parsed::parse("CA certificate", der)?,
        })
    }

    pub(crate) fn parse_as(what: &str, der: &[u8]) -> Result<CaCertificate, EkError> {
        Ok(CaCertificate {
            parsed: Parsed::parse(what, der)?,
        })
    }

    /// The certificate as read (DER).
    pub fn der(&self) -> &[u8] {
        &self.parsed.der
    }

    /// The subject, as an RFC 4514 string.
    pub fn subject(&self) -> &str {
        &self.parsed.subject
    }

    /// The parsed X.509 structure.
    pub fn x509(&self) -> &Certificate {
        &self.parsed.cert
    }
}
