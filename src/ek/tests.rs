//! Chains built here, in Rust: ECDSA P-256/P-384 and RSA PKCS#1 v1.5 / PSS signatures, CA
//! constraints, the EK profile's rules, bundle and NV parsing. The swtpm-made chains are
//! exercised by `tests/ek_trust.rs`.

use std::str::FromStr;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use rsa::pkcs8::EncodePublicKey;
use rsa::signature::{RandomizedSigner, SignatureEncoding, Signer as _};
use sha2::Digest as _;
use x509_cert::der::asn1::{Any, BitString, GeneralizedTime, ObjectIdentifier, OctetString};
use x509_cert::der::{Decode, Encode};
use x509_cert::ext::pkix::{
    AuthorityKeyIdentifier, BasicConstraints, ExtendedKeyUsage, KeyUsage, KeyUsages,
    SubjectKeyIdentifier,
};
use x509_cert::ext::Extension;
use x509_cert::name::Name;
use x509_cert::serial_number::SerialNumber;
use x509_cert::spki::{AlgorithmIdentifierOwned, SubjectPublicKeyInfoOwned};
use x509_cert::time::{Time, Validity};
use x509_cert::{Certificate, TbsCertificate, Version};

use super::*;

const NOW: u64 = 1_800_000_000;

fn at(secs: u64) -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(secs)
}

fn gtime(secs: u64) -> Time {
    Time::GeneralTime(GeneralizedTime::from_unix_duration(Duration::from_secs(secs)).unwrap())
}

fn oid(s: &str) -> ObjectIdentifier {
    ObjectIdentifier::new_unwrap(s)
}

enum Key {
    Rsa(rsa::RsaPrivateKey),
    P256(p256::ecdsa::SigningKey),
    P384(p384::ecdsa::SigningKey),
}

enum Sig {
    Pkcs1Sha256,
    PssSha256 {
        claimed_salt: u8,
        salt: usize,
    },
    Ecdsa,
    /// ECDSA with the other curve's hash (SHA-384 by a P-256 key, SHA-256 by a P-384 key).
    EcdsaCrossedHash,
    Sha1WithRsa,
}

impl Key {
    fn rsa() -> Key {
        Key::Rsa(rsa::RsaPrivateKey::new(&mut rand_core::OsRng, 2048).unwrap())
    }
    fn p256() -> Key {
        Key::P256(p256::ecdsa::SigningKey::random(&mut rand_core::OsRng))
    }
    fn p384() -> Key {
        Key::P384(p384::ecdsa::SigningKey::random(&mut rand_core::OsRng))
    }

    fn spki(&self) -> SubjectPublicKeyInfoOwned {
        let ec = |curve: &str, point: &[u8]| SubjectPublicKeyInfoOwned {
            algorithm: AlgorithmIdentifierOwned {
                oid: oid("1.2.840.10045.2.1"),
                parameters: Some(Any::from(oid(curve))),
            },
            subject_public_key: BitString::from_bytes(point).unwrap(),
        };
        match self {
            Key::Rsa(k) => {
                let der = k.to_public_key().to_public_key_der().unwrap();
                SubjectPublicKeyInfoOwned::from_der(der.as_bytes()).unwrap()
            }
            Key::P256(k) => ec(
                "1.2.840.10045.3.1.7",
                k.verifying_key().to_encoded_point(false).as_bytes(),
            ),
            Key::P384(k) => ec(
                "1.3.132.0.34",
                k.verifying_key().to_encoded_point(false).as_bytes(),
            ),
        }
    }

    fn algorithm(&self, sig: &Sig) -> AlgorithmIdentifierOwned {
        let (id, parameters) = match (self, sig) {
            (_, Sig::Pkcs1Sha256) => ("1.2.840.113549.1.1.11", Some(Any::null())),
            (_, Sig::Sha1WithRsa) => ("1.2.840.113549.1.1.5", Some(Any::null())),
            (_, Sig::PssSha256 { claimed_salt, .. }) => {
                let p = rsa::pkcs1::RsaPssParams::new::<sha2::Sha256>(*claimed_salt);
                (
                    "1.2.840.113549.1.1.10",
                    Some(Any::from_der(&p.to_der().unwrap()).unwrap()),
                )
            }
            (Key::P256(_), Sig::Ecdsa) | (Key::P384(_), Sig::EcdsaCrossedHash) => {
                ("1.2.840.10045.4.3.2", None)
            }
            (_, Sig::Ecdsa | Sig::EcdsaCrossedHash) => ("1.2.840.10045.4.3.3", None),
        };
        AlgorithmIdentifierOwned {
            oid: oid(id),
            parameters,
        }
    }

    fn sign(&self, sig: &Sig, tbs: &[u8]) -> Vec<u8> {
        match (self, sig) {
            (Key::Rsa(k), Sig::Pkcs1Sha256 | Sig::Sha1WithRsa) => {
                rsa::pkcs1v15::SigningKey::<sha2::Sha256>::new(k.clone())
                    .sign(tbs)
                    .to_vec()
            }
            (Key::Rsa(k), Sig::PssSha256 { salt, .. }) => {
                rsa::pss::BlindedSigningKey::<sha2::Sha256>::new_with_salt_len(k.clone(), *salt)
                    .sign_with_rng(&mut rand_core::OsRng, tbs)
                    .to_vec()
            }
            (Key::P256(k), Sig::Ecdsa) => {
                let s: p256::ecdsa::Signature = k.sign(tbs);
                let b = s.to_bytes();
                der_ecdsa(&b[..32], &b[32..])
            }
            (Key::P384(k), Sig::Ecdsa) => {
                let s: p384::ecdsa::Signature = k.sign(tbs);
                let b = s.to_bytes();
                der_ecdsa(&b[..48], &b[48..])
            }
            (Key::P256(k), Sig::EcdsaCrossedHash) => {
                use p256::ecdsa::signature::hazmat::PrehashSigner;
                let s: p256::ecdsa::Signature = k.sign_prehash(&sha2::Sha384::digest(tbs)).unwrap();
                let b = s.to_bytes();
                der_ecdsa(&b[..32], &b[32..])
            }
            (Key::P384(k), Sig::EcdsaCrossedHash) => {
                use p384::ecdsa::signature::hazmat::PrehashSigner;
                let s: p384::ecdsa::Signature = k.sign_prehash(&sha2::Sha256::digest(tbs)).unwrap();
                let b = s.to_bytes();
                der_ecdsa(&b[..48], &b[48..])
            }
            _ => unreachable!("no such combination in these tests"),
        }
    }
}

/// ECDSA-Sig-Value ::= SEQUENCE { r INTEGER, s INTEGER } (short lengths only).
fn der_ecdsa(r: &[u8], s: &[u8]) -> Vec<u8> {
    let mut body = Vec::new();
    for v in [r, s] {
        let v = &v[v.iter().position(|&b| b != 0).unwrap_or(v.len() - 1)..];
        let pad = v[0] & 0x80 != 0;
        body.push(0x02);
        body.push((v.len() + usize::from(pad)) as u8);
        if pad {
            body.push(0);
        }
        body.extend_from_slice(v);
    }
    let mut out = vec![0x30, body.len() as u8];
    out.extend(body);
    out
}

fn ext(id: &str, critical: bool, value: impl Encode) -> Extension {
    Extension {
        extn_id: oid(id),
        critical,
        extn_value: OctetString::new(value.to_der().unwrap()).unwrap(),
    }
}

fn ca_extensions(path_len: Option<u8>) -> Vec<Extension> {
    vec![
        ext(
            "2.5.29.19",
            true,
            BasicConstraints {
                ca: true,
                path_len_constraint: path_len,
            },
        ),
        ext("2.5.29.15", true, KeyUsage(KeyUsages::KeyCertSign.into())),
    ]
}

/// The extensions of an EK certificate as the profile describes them: critical SAN with the
/// TPM manufacturer attributes, basicConstraints without cA, keyUsage, tcg-kp-EKCertificate.
fn ek_extensions(usage: KeyUsages) -> Vec<Extension> {
    // SAN: directoryName of TPMManufacturer, TPMModel, TPMVersion (as swtpm writes them).
    let san = hex("3046a444304231163014060567810502010c0b69643a30303030313031343110300e060567810502020c05737774706d31163014060567810502030c0b69643a3230313931303233");
    vec![
        Extension {
            extn_id: oid("2.5.29.17"),
            critical: true,
            extn_value: OctetString::new(san).unwrap(),
        },
        ext(
            "2.5.29.19",
            true,
            BasicConstraints {
                ca: false,
                path_len_constraint: None,
            },
        ),
        ext("2.5.29.15", true, KeyUsage(usage.into())),
        ext(
            "2.5.29.37",
            false,
            ExtendedKeyUsage(vec![oid("2.23.133.8.1")]),
        ),
    ]
}

fn hex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

struct Spec<'a> {
    subject: &'a str,
    issuer: &'a str,
    key: &'a Key,
    signer: &'a Key,
    sig: Sig,
    extensions: Vec<Extension>,
    validity: (u64, u64),
}

fn build(spec: Spec<'_>) -> Vec<u8> {
    let algorithm = spec.signer.algorithm(&spec.sig);
    let tbs = TbsCertificate {
        version: Version::V3,
        serial_number: SerialNumber::new(&[1, 2, 3]).unwrap(),
        signature: algorithm.clone(),
        issuer: Name::from_str(spec.issuer).unwrap(),
        validity: Validity {
            not_before: gtime(spec.validity.0),
            not_after: gtime(spec.validity.1),
        },
        subject: if spec.subject.is_empty() {
            Name::default()
        } else {
            Name::from_str(spec.subject).unwrap()
        },
        subject_public_key_info: spec.key.spki(),
        issuer_unique_id: None,
        subject_unique_id: None,
        extensions: Some(spec.extensions),
    };
    let signature = spec.signer.sign(&spec.sig, &tbs.to_der().unwrap());
    Certificate {
        tbs_certificate: tbs,
        signature_algorithm: algorithm,
        signature: BitString::from_bytes(&signature).unwrap(),
    }
    .to_der()
    .unwrap()
}

const VALID: (u64, u64) = (NOW - 1000, NOW + 1000);

fn ca(
    subject: &str,
    issuer: &str,
    key: &Key,
    signer: &Key,
    sig: Sig,
    path_len: Option<u8>,
) -> Vec<u8> {
    build(Spec {
        subject,
        issuer,
        key,
        signer,
        sig,
        extensions: ca_extensions(path_len),
        validity: VALID,
    })
}

fn bundle(certs: &[&[u8]]) -> CaBundle {
    let mut b = CaBundle::new();
    for (i, c) in certs.iter().enumerate() {
        b.add_bytes(&format!("test {i}"), c).unwrap();
    }
    b
}

/// An ECDSA world: a P-384 root (ECDSA-SHA384), a P-256 intermediate, an ECC P-256 EK.
struct EcWorld {
    root: Vec<u8>,
    intermediate: Vec<u8>,
    intermediate_key: Key,
    ek_key: Key,
}

fn ec_world() -> EcWorld {
    let root_key = Key::p384();
    let intermediate_key = Key::p256();
    EcWorld {
        root: ca("CN=Root", "CN=Root", &root_key, &root_key, Sig::Ecdsa, None),
        intermediate: ca(
            "CN=Inter",
            "CN=Root",
            &intermediate_key,
            &root_key,
            Sig::Ecdsa,
            Some(0),
        ),
        intermediate_key,
        ek_key: Key::p256(),
    }
}

impl EcWorld {
    fn ek(&self, extensions: Vec<Extension>, validity: (u64, u64)) -> Vec<u8> {
        build(Spec {
            subject: "",
            issuer: "CN=Inter",
            key: &self.ek_key,
            signer: &self.intermediate_key,
            sig: Sig::Ecdsa,
            extensions,
            validity,
        })
    }
}

#[test]
fn ecdsa_p256_and_p384_chain_verifies_with_the_tcg_extensions() {
    let w = ec_world();
    let ek = EkCertificate::from_der(&w.ek(ek_extensions(KeyUsages::KeyAgreement), VALID)).unwrap();
    assert_eq!(ek.subject(), "(empty subject)");
    let chain = bundle(&[&w.root, &w.intermediate])
        .verify_at(&ek, at(NOW))
        .unwrap();
    assert_eq!(chain.subjects, ["(empty subject)", "CN=Inter", "CN=Root"]);
    let CertifiedKey::Ecc { curve, x, y } = ek.key() else {
        panic!("an ECC key")
    };
    assert_eq!(
        (*curve, x.len(), y.len()),
        (crate::wire::EccCurve::NIST_P256, 32, 32)
    );

    // One flipped bit in the signed part: the signature no longer verifies.
    let mut tampered = ek.der().to_vec();
    let serial = tampered.windows(3).position(|w| w == [1, 2, 3]).unwrap();
    tampered[serial + 2] ^= 1;
    let tampered = EkCertificate::from_der(&tampered).unwrap();
    let err = bundle(&[&w.root, &w.intermediate])
        .verify_at(&tampered, at(NOW))
        .unwrap_err();
    assert!(
        matches!(&err, EkError::BadSignature { issuer, .. } if issuer == "CN=Inter"),
        "{err}"
    );
}

#[test]
fn rsa_pkcs1_and_pss_chain_verifies() {
    let root_key = Key::rsa();
    let ek_key = Key::rsa();
    let root = ca(
        "CN=Root",
        "CN=Root",
        &root_key,
        &root_key,
        Sig::Pkcs1Sha256,
        None,
    );
    let ek = |claimed_salt, salt| {
        build(Spec {
            subject: "CN=EK",
            issuer: "CN=Root",
            key: &ek_key,
            signer: &root_key,
            sig: Sig::PssSha256 { claimed_salt, salt },
            extensions: ek_extensions(KeyUsages::KeyEncipherment),
            validity: VALID,
        })
    };
    let good = EkCertificate::from_der(&ek(32, 32)).unwrap();
    bundle(&[&root]).verify_at(&good, at(NOW)).unwrap();
    assert!(matches!(good.key(), CertifiedKey::Rsa { modulus, .. } if modulus.len() == 256));
    // Parameters that do not describe the signature: refused.
    let bad = EkCertificate::from_der(&ek(32, 20)).unwrap();
    let err = bundle(&[&root]).verify_at(&bad, at(NOW)).unwrap_err();
    assert!(matches!(err, EkError::BadSignature { .. }), "{err}");
    // A salt shorter than the hash, though the signature matches its parameters: not one of
    // the parameter sets accepted.
    let short_salt = EkCertificate::from_der(&ek(20, 20)).unwrap();
    let err = bundle(&[&root])
        .verify_at(&short_salt, at(NOW))
        .unwrap_err();
    assert!(
        matches!(&err, EkError::Unsupported { detail, .. } if detail.contains("salt length")),
        "{err}"
    );

    // SHA-1 signatures are refused outright.
    let sha1 = build(Spec {
        subject: "CN=EK",
        issuer: "CN=Root",
        key: &ek_key,
        signer: &root_key,
        sig: Sig::Sha1WithRsa,
        extensions: ek_extensions(KeyUsages::KeyEncipherment),
        validity: VALID,
    });
    let sha1 = EkCertificate::from_der(&sha1).unwrap();
    let err = bundle(&[&root]).verify_at(&sha1, at(NOW)).unwrap_err();
    assert!(
        matches!(&err, EkError::Unsupported { detail, .. } if detail == "1.2.840.113549.1.1.5"),
        "{err}"
    );
}

#[test]
fn ca_constraints_are_enforced() {
    let root_key = Key::p384();
    let inter_key = Key::p256();
    let inter2_key = Key::p256();
    let ek_key = Key::p256();
    let ek = |issuer: &str, signer: &Key| {
        EkCertificate::from_der(&build(Spec {
            subject: "CN=EK",
            issuer,
            key: &ek_key,
            signer,
            sig: Sig::Ecdsa,
            extensions: ek_extensions(KeyUsages::KeyAgreement),
            validity: VALID,
        }))
        .unwrap()
    };
    // Root allows no intermediate below it (pathLen 0), there is one.
    let root = ca(
        "CN=Root",
        "CN=Root",
        &root_key,
        &root_key,
        Sig::Ecdsa,
        Some(0),
    );
    let inter = ca(
        "CN=Inter",
        "CN=Root",
        &inter_key,
        &root_key,
        Sig::Ecdsa,
        None,
    );
    let err = bundle(&[&root, &inter])
        .verify_at(&ek("CN=Inter", &inter_key), at(NOW))
        .unwrap_err();
    assert!(
        matches!(&err, EkError::PathLenExceeded { subject, allowed: 0, found: 1 } if subject == "CN=Root"),
        "{err}"
    );
    // Two intermediates under a root with pathLen 1: too many.
    let root1 = ca(
        "CN=Root",
        "CN=Root",
        &root_key,
        &root_key,
        Sig::Ecdsa,
        Some(1),
    );
    let inter2 = ca(
        "CN=Inter2",
        "CN=Inter",
        &inter2_key,
        &inter_key,
        Sig::Ecdsa,
        None,
    );
    let err = bundle(&[&root1, &inter, &inter2])
        .verify_at(&ek("CN=Inter2", &inter2_key), at(NOW))
        .unwrap_err();
    assert!(
        matches!(err, EkError::PathLenExceeded { found: 2, .. }),
        "{err}"
    );
    bundle(&[&root1, &inter, &inter2])
        .verify_at(&ek("CN=Inter", &inter_key), at(NOW))
        .unwrap();

    // An intermediate whose keyUsage lacks keyCertSign.
    let root = ca("CN=Root", "CN=Root", &root_key, &root_key, Sig::Ecdsa, None);
    let mut extensions = ca_extensions(None);
    extensions[1] = ext(
        "2.5.29.15",
        true,
        KeyUsage(KeyUsages::DigitalSignature.into()),
    );
    let no_sign = build(Spec {
        subject: "CN=Inter",
        issuer: "CN=Root",
        key: &inter_key,
        signer: &root_key,
        sig: Sig::Ecdsa,
        extensions,
        validity: VALID,
    });
    let err = bundle(&[&root, &no_sign])
        .verify_at(&ek("CN=Inter", &inter_key), at(NOW))
        .unwrap_err();
    assert!(
        matches!(&err, EkError::NoCertSign { subject } if subject == "CN=Inter"),
        "{err}"
    );

    // The intermediate alone is no trust anchor.
    let err = bundle(&[&inter])
        .verify_at(&ek("CN=Inter", &inter_key), at(NOW))
        .unwrap_err();
    assert!(
        matches!(&err, EkError::UnknownIssuer { issuer, .. } if issuer == "CN=Root"),
        "{err}"
    );

    // A root is trusted for being in the bundle: its self-signature is not what makes it
    // trusted (anyone can self-sign), so one made by another key still anchors; the key that
    // counts is the one it holds, which must have signed the intermediate.
    let resigned_root = ca(
        "CN=Root",
        "CN=Root",
        &root_key,
        &Key::p384(),
        Sig::Ecdsa,
        None,
    );
    bundle(&[&resigned_root, &inter])
        .verify_at(&ek("CN=Inter", &inter_key), at(NOW))
        .unwrap();
    let other_key = Key::p384();
    let other_root = ca(
        "CN=Root",
        "CN=Root",
        &other_key,
        &other_key,
        Sig::Ecdsa,
        None,
    );
    let err = bundle(&[&other_root, &inter])
        .verify_at(&ek("CN=Inter", &inter_key), at(NOW))
        .unwrap_err();
    assert!(
        matches!(&err, EkError::BadSignature { subject, issuer } if subject == "CN=Inter" && issuer == "CN=Root"),
        "{err}"
    );
}

#[test]
fn validity_of_every_certificate_is_checked() {
    let w = ec_world();
    let b = bundle(&[&w.root, &w.intermediate]);
    let ek = EkCertificate::from_der(&w.ek(ek_extensions(KeyUsages::KeyAgreement), VALID)).unwrap();
    b.verify_at(&ek, at(NOW)).unwrap();
    let err = b.verify_at(&ek, at(NOW + 2000)).unwrap_err();
    assert!(
        matches!(&err, EkError::Expired { subject, .. } if subject == "(empty subject)"),
        "{err}"
    );
    let err = b.verify_at(&ek, at(NOW - 2000)).unwrap_err();
    assert!(matches!(err, EkError::NotYetValid { .. }), "{err}");
    // An EK certificate valid for ever (GeneralizedTime 9999) still needs valid issuers.
    let forever = EkCertificate::from_der(&w.ek(
        ek_extensions(KeyUsages::KeyAgreement),
        (NOW - 1000, 253_402_300_799),
    ))
    .unwrap();
    let err = b.verify_at(&forever, at(NOW + 2000)).unwrap_err();
    assert!(
        matches!(&err, EkError::Expired { subject, .. } if subject == "CN=Inter"),
        "{err}"
    );
}

#[test]
fn ek_certificates_follow_the_profile() {
    let w = ec_world();
    let refused =
        |extensions: Vec<Extension>| EkCertificate::from_der(&w.ek(extensions, VALID)).unwrap_err();
    // A CA key is no EK.
    let mut e = ek_extensions(KeyUsages::KeyAgreement);
    e[1] = ext(
        "2.5.29.19",
        true,
        BasicConstraints {
            ca: true,
            path_len_constraint: None,
        },
    );
    assert!(matches!(refused(e), EkError::NotAnEkCertificate { .. }));
    // An ECC EK agrees keys; encipherment is an RSA EK's usage.
    let err = refused(ek_extensions(KeyUsages::KeyEncipherment));
    assert!(
        matches!(&err, EkError::NotAnEkCertificate { reason, .. } if reason.contains("keyAgreement")),
        "{err}"
    );
    // Another extended key usage.
    let mut e = ek_extensions(KeyUsages::KeyAgreement);
    e[3] = ext(
        "2.5.29.37",
        false,
        ExtendedKeyUsage(vec![oid("1.3.6.1.5.5.7.3.1")]),
    );
    assert!(matches!(refused(e), EkError::NotAnEkCertificate { .. }));
    // The same extension twice.
    let mut e = ek_extensions(KeyUsages::KeyAgreement);
    e.push(e[3].clone());
    assert!(matches!(refused(e), EkError::DuplicateExtension { .. }));
    // A critical extension nobody here acts on (certificatePolicies).
    let mut e = ek_extensions(KeyUsages::KeyAgreement);
    e.push(Extension {
        extn_id: oid("2.5.29.32"),
        critical: true,
        extn_value: OctetString::new(vec![0x30, 0x00]).unwrap(),
    });
    let err = refused(e);
    assert!(
        matches!(&err, EkError::UnknownCriticalExtension { oid, .. } if oid == "2.5.29.32"),
        "{err}"
    );
    // A malformed known extension.
    let mut e = ek_extensions(KeyUsages::KeyAgreement);
    e[2].extn_value = OctetString::new(vec![0x04, 0x00]).unwrap();
    assert!(matches!(refused(e), EkError::BadExtension { .. }));
}

#[test]
fn nv_contents_may_be_padded_but_nothing_else() {
    let w = ec_world();
    let der = w.ek(ek_extensions(KeyUsages::KeyAgreement), VALID);
    for pad in [0x00u8, 0xFF] {
        let mut nv = der.clone();
        nv.extend([pad; 37]);
        assert_eq!(EkCertificate::from_nv_contents(&nv).unwrap().der(), der);
    }
    let mut nv = der.clone();
    nv.extend([0, 0, 1]);
    assert!(matches!(
        EkCertificate::from_nv_contents(&nv),
        Err(EkError::NotCanonical { .. })
    ));
    // A truncated certificate, and trailing bytes outside NV, are parse errors.
    assert!(matches!(
        EkCertificate::from_nv_contents(&der[..der.len() - 1]),
        Err(EkError::Parse { .. })
    ));
    let mut long = der.clone();
    long.push(0);
    assert!(EkCertificate::from_der(&long).is_err());
    // BER: the outer length in long form where short or shorter form fits.
    let mut ber = vec![0x30, 0x83, 0x00];
    ber.extend_from_slice(&der[2..]);
    assert_eq!(der[1], 0x82);
    assert!(EkCertificate::from_der(&ber).is_err());
    assert!(EkCertificate::from_der(&[]).is_err());
    assert!(matches!(
        EkCertificate::from_der(&vec![0x30; MAX_CERTIFICATE_SIZE + 1]),
        Err(EkError::TooLarge { .. })
    ));
}

#[test]
fn bundles_from_pem_and_der() {
    use x509_cert::der::pem::{encode_string, LineEnding};
    let w = ec_world();
    let root_pem = encode_string("CERTIFICATE", LineEnding::LF, &w.root).unwrap();
    let inter_pem = encode_string("CERTIFICATE", LineEnding::CRLF, &w.intermediate).unwrap();
    let text = format!("subject=CN=Root\n{root_pem}\nsome words between\n{inter_pem}trailing\n");
    let b = CaBundle::from_bytes(text.as_bytes()).unwrap();
    assert_eq!(b.certificates().len(), 2);
    assert_eq!(b.certificates()[1].subject(), "CN=Inter");
    // The same certificate twice counts once.
    let twice = format!("{root_pem}{root_pem}");
    assert_eq!(
        CaBundle::from_bytes(twice.as_bytes())
            .unwrap()
            .certificates()
            .len(),
        1
    );
    // DER.
    assert_eq!(
        CaBundle::from_bytes(&w.root).unwrap().certificates().len(),
        1
    );
    // A private key in a bundle, an unterminated block, broken base64, nothing at all.
    let key = "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n";
    assert!(matches!(
        CaBundle::from_bytes(key.as_bytes()),
        Err(EkError::NotACertificate { label, .. }) if label == "PRIVATE KEY"
    ));
    let cut = &root_pem[..root_pem.len() - 20];
    assert!(matches!(
        CaBundle::from_bytes(cut.as_bytes()),
        Err(EkError::Pem { .. })
    ));
    let broken = root_pem.replacen('A', "*", 1);
    assert!(CaBundle::from_bytes(broken.as_bytes()).is_err());
    assert!(matches!(
        CaBundle::from_bytes(b"no certificate here"),
        Err(EkError::Parse { .. })
    ));
    assert!(matches!(
        CaBundle::from_files(&[]),
        Err(EkError::EmptyBundle)
    ));
}

#[test]
fn look_alike_issuers_exhaust_a_bounded_search() {
    let w = ec_world();
    let ek = EkCertificate::from_der(&w.ek(ek_extensions(KeyUsages::KeyAgreement), VALID)).unwrap();
    // Many CAs named like the EK's issuer, none holding its key, listed before the real one.
    let decoys: Vec<Vec<u8>> = (0..40)
        .map(|_| {
            let k = Key::p256();
            ca("CN=Inter", "CN=Root", &k, &k, Sig::Ecdsa, None)
        })
        .collect();
    let mut certs: Vec<&[u8]> = decoys.iter().map(Vec::as_slice).collect();
    certs.push(&w.intermediate);
    certs.push(&w.root);
    let err = bundle(&certs).verify_at(&ek, at(NOW)).unwrap_err();
    assert!(matches!(err, EkError::ChainSearchExhausted { .. }), "{err}");
    // A few decoys are searched past.
    let mut certs: Vec<&[u8]> = decoys[..5].iter().map(Vec::as_slice).collect();
    certs.push(&w.intermediate);
    certs.push(&w.root);
    bundle(&certs).verify_at(&ek, at(NOW)).unwrap();
}

#[test]
fn certified_keys_compare_with_tpm_public_areas() {
    use crate::wire::{EccParameter, PublicKeyRsa};
    let mut l1 = EkTemplate::L1.public();
    let modulus: Vec<u8> = (0..=255u8).map(|b| b | 0x80).collect();
    let cert_key = CertifiedKey::Rsa {
        modulus: modulus.clone(),
        exponent: vec![1, 0, 1],
    };
    if let crate::wire::PublicKey::Rsa { unique, .. } = &mut l1.key {
        *unique = PublicKeyRsa::new(&modulus).unwrap();
    }
    assert_eq!(cert_key.mismatch(&l1), None);
    let other = CertifiedKey::Rsa {
        modulus: modulus.clone(),
        exponent: vec![3],
    };
    assert_eq!(other.mismatch(&l1), Some("the RSA exponents differ"));
    let mut h3 = EkTemplate::H3.public();
    assert!(cert_key.mismatch(&h3).is_some());
    // ECC: a TPM may strip leading zeros from a coordinate.
    let x: Vec<u8> = std::iter::once(0).chain(1..48).collect();
    let y = vec![7u8; 48];
    if let crate::wire::PublicKey::Ecc { unique, .. } = &mut h3.key {
        unique.x = EccParameter::new(&x[1..]).unwrap();
        unique.y = EccParameter::new(&y).unwrap();
    }
    let ecc = CertifiedKey::Ecc {
        curve: crate::wire::EccCurve::NIST_P384,
        x: x.clone(),
        y: y.clone(),
    };
    assert_eq!(ecc.mismatch(&h3), None);
    // The same x with another y is another point (the other y of that x, or off the curve):
    // both coordinates must match, not either.
    let other_y = CertifiedKey::Ecc {
        curve: crate::wire::EccCurve::NIST_P384,
        x: x.clone(),
        y: vec![8u8; 48],
    };
    assert_eq!(other_y.mismatch(&h3), Some("the ECC points differ"));
    let other_x = CertifiedKey::Ecc {
        curve: crate::wire::EccCurve::NIST_P384,
        x: vec![9u8; 48],
        y: y.clone(),
    };
    assert_eq!(other_x.mismatch(&h3), Some("the ECC points differ"));
    let p256 = CertifiedKey::Ecc {
        curve: crate::wire::EccCurve::NIST_P256,
        x,
        y,
    };
    assert_eq!(p256.mismatch(&h3), Some("the curves differ"));
}

/// A CA certificate whose RSA modulus is zero (or tiny) is refused as a signer, not a panic.
#[test]
fn a_ca_with_a_degenerate_rsa_key_is_refused() {
    let w = ec_world();
    let signer = Key::p256();
    for modulus in [&[0u8][..], &[0, 0, 0], &[0x01, 0x00, 0x01]] {
        let pkcs1 = rsa::pkcs1::RsaPublicKey {
            modulus: x509_cert::der::asn1::UintRef::new(modulus).unwrap(),
            public_exponent: x509_cert::der::asn1::UintRef::new(&[1, 0, 1]).unwrap(),
        };
        let spki = SubjectPublicKeyInfoOwned {
            algorithm: AlgorithmIdentifierOwned {
                oid: oid("1.2.840.113549.1.1.1"),
                parameters: Some(Any::null()),
            },
            subject_public_key: BitString::from_bytes(&pkcs1.to_der().unwrap()).unwrap(),
        };
        let mut cert = Certificate::from_der(&ca(
            "CN=Inter",
            "CN=Inter",
            &signer,
            &signer,
            Sig::Ecdsa,
            None,
        ))
        .unwrap();
        cert.tbs_certificate.subject_public_key_info = spki;
        let tbs = cert.tbs_certificate.to_der().unwrap();
        cert.signature = BitString::from_bytes(&signer.sign(&Sig::Ecdsa, &tbs)).unwrap();
        let degenerate = cert.to_der().unwrap();
        // An RSA-signed EK certificate naming it as issuer.
        let rsa_signed = {
            let rsa_key = Key::Rsa(rsa::RsaPrivateKey::new(&mut rand_core::OsRng, 1024).unwrap());
            build(Spec {
                subject: "",
                issuer: "CN=Inter",
                key: &w.ek_key,
                signer: &rsa_key,
                sig: Sig::Pkcs1Sha256,
                extensions: ek_extensions(KeyUsages::KeyAgreement),
                validity: VALID,
            })
        };
        let ek = EkCertificate::from_der(&rsa_signed).unwrap();
        let err = bundle(&[&degenerate]).verify_at(&ek, at(NOW)).unwrap_err();
        assert!(
            matches!(&err, EkError::Unsupported { what, .. } if what.contains("RSA key size")),
            "{err}"
        );
    }
}

#[test]
fn ek_errors_convert_into_the_crate_error() {
    fn refuse() -> crate::Result<()> {
        Err(EkError::EmptyBundle)?
    }
    let e = refuse().unwrap_err();
    assert!(matches!(&e, crate::Error::Ek(b) if matches!(**b, EkError::EmptyBundle)));
    assert_eq!(e.to_string(), "the CA bundle holds no certificate");
}

const ANY_EKU: &str = "2.5.29.37.0";
const TCG_KP_EK_CERTIFICATE: &str = "2.23.133.8.1";
const SERVER_AUTH: &str = "1.3.6.1.5.5.7.3.1";

/// An EK certificate with an extendedKeyUsage must name tcg-kp-EKCertificate;
/// anyExtendedKeyUsage does not stand in for it.
#[test]
fn the_ek_certificate_needs_tcg_kp_ek_certificate_not_any_usage() {
    let w = ec_world();
    let b = bundle(&[&w.root, &w.intermediate]);
    let with_eku = |usages: &[&str]| {
        let mut e = ek_extensions(KeyUsages::KeyAgreement);
        e[3] = ext(
            "2.5.29.37",
            false,
            ExtendedKeyUsage(usages.iter().map(|u| oid(u)).collect()),
        );
        w.ek(e, VALID)
    };
    let err = EkCertificate::from_der(&with_eku(&[ANY_EKU])).unwrap_err();
    assert!(
        matches!(&err, EkError::NotAnEkCertificate { reason, .. } if reason.contains("tcg-kp-EKCertificate")),
        "{err}"
    );
    let both = EkCertificate::from_der(&with_eku(&[ANY_EKU, TCG_KP_EK_CERTIFICATE])).unwrap();
    b.verify_at(&both, at(NOW)).unwrap();
    // Without the extension at all, as many EK certificates in the field are.
    let mut e = ek_extensions(KeyUsages::KeyAgreement);
    e.truncate(3);
    let none = EkCertificate::from_der(&w.ek(e, VALID)).unwrap();
    b.verify_at(&none, at(NOW)).unwrap();
}

/// A CA whose extendedKeyUsage leaves out EK certification issues no accepted EK
/// certificate, whether it is the intermediate or the root.
#[test]
fn a_ca_restricted_to_other_usages_issues_no_ek_certificate() {
    let root_key = Key::p384();
    let inter_key = Key::p256();
    let ek_key = Key::p256();
    let with_eku = |subject: &str, issuer: &str, key: &Key, signer: &Key, usages: &[&str]| {
        let mut extensions = ca_extensions(None);
        if !usages.is_empty() {
            extensions.push(ext(
                "2.5.29.37",
                false,
                ExtendedKeyUsage(usages.iter().map(|u| oid(u)).collect()),
            ));
        }
        build(Spec {
            subject,
            issuer,
            key,
            signer,
            sig: Sig::Ecdsa,
            extensions,
            validity: VALID,
        })
    };
    let ek = EkCertificate::from_der(&build(Spec {
        subject: "CN=EK",
        issuer: "CN=Inter",
        key: &ek_key,
        signer: &inter_key,
        sig: Sig::Ecdsa,
        extensions: ek_extensions(KeyUsages::KeyAgreement),
        validity: VALID,
    }))
    .unwrap();
    let root = with_eku("CN=Root", "CN=Root", &root_key, &root_key, &[]);
    let verify = |root: &[u8], inter: &[u8]| bundle(&[root, inter]).verify_at(&ek, at(NOW));

    for refused in [&[SERVER_AUTH][..], &[ANY_EKU]] {
        let inter = with_eku("CN=Inter", "CN=Root", &inter_key, &root_key, refused);
        let err = verify(&root, &inter).unwrap_err();
        assert!(
            matches!(&err, EkError::IssuerNotForEkCertificates { subject } if subject == "CN=Inter"),
            "{refused:?}: {err}"
        );
    }
    let inter = with_eku(
        "CN=Inter",
        "CN=Root",
        &inter_key,
        &root_key,
        &[SERVER_AUTH, TCG_KP_EK_CERTIFICATE],
    );
    verify(&root, &inter).unwrap();

    // The root is held to the same rule.
    let server_root = with_eku("CN=Root", "CN=Root", &root_key, &root_key, &[SERVER_AUTH]);
    let err = verify(&server_root, &inter).unwrap_err();
    assert!(
        matches!(&err, EkError::IssuerNotForEkCertificates { subject } if subject == "CN=Root"),
        "{err}"
    );
}

/// nameConstraints ::= { permittedSubtrees: dNSName example.com }.
fn name_constraints(critical: bool) -> Extension {
    let mut value = vec![0x30, 0x11, 0xa0, 0x0f, 0x30, 0x0d, 0x82, 0x0b];
    value.extend_from_slice(b"example.com");
    Extension {
        extn_id: oid("2.5.29.30"),
        critical,
        extn_value: OctetString::new(value).unwrap(),
    }
}

/// Name constraints are never ignored: a chain through a CA that sets them, critical or
/// not, is refused, saying so; the same CA without them verifies.
#[test]
fn a_chain_with_name_constraints_is_refused() {
    let w = ec_world();
    let root_key = Key::p384();
    let root = ca("CN=Root", "CN=Root", &root_key, &root_key, Sig::Ecdsa, None);
    let inter = |constraints: Option<Extension>| {
        let mut extensions = ca_extensions(None);
        extensions.extend(constraints);
        build(Spec {
            subject: "CN=Inter",
            issuer: "CN=Root",
            key: &w.intermediate_key,
            signer: &root_key,
            sig: Sig::Ecdsa,
            extensions,
            validity: VALID,
        })
    };
    let ek = EkCertificate::from_der(&w.ek(ek_extensions(KeyUsages::KeyAgreement), VALID)).unwrap();
    bundle(&[&root, &inter(None)])
        .verify_at(&ek, at(NOW))
        .unwrap();
    for critical in [false, true] {
        let constrained = inter(Some(name_constraints(critical)));
        let err = bundle(&[&root, &constrained])
            .verify_at(&ek, at(NOW))
            .unwrap_err();
        assert!(
            matches!(&err, EkError::NameConstraints { subject } if subject == "CN=Inter"),
            "critical {critical}: {err}"
        );
    }
    // On the EK certificate itself (where RFC 5280 does not put them) as well.
    let mut e = ek_extensions(KeyUsages::KeyAgreement);
    e.push(name_constraints(false));
    let ek = EkCertificate::from_der(&w.ek(e, VALID)).unwrap();
    let err = bundle(&[&root, &inter(None)])
        .verify_at(&ek, at(NOW))
        .unwrap_err();
    assert!(matches!(err, EkError::NameConstraints { .. }), "{err}");
}

/// ECDSA signatures are accepted with each curve's own hash only: a P-256 CA signing with
/// SHA-384, or a P-384 CA with SHA-256, is refused though the signature is valid.
#[test]
fn ecdsa_curves_pair_with_their_own_hash_only() {
    for (root_key, curve) in [(Key::p256(), "P-256"), (Key::p384(), "P-384")] {
        let ek_key = Key::p256();
        let root = ca("CN=Root", "CN=Root", &root_key, &root_key, Sig::Ecdsa, None);
        let ek = |sig| {
            EkCertificate::from_der(&build(Spec {
                subject: "CN=EK",
                issuer: "CN=Root",
                key: &ek_key,
                signer: &root_key,
                sig,
                extensions: ek_extensions(KeyUsages::KeyAgreement),
                validity: VALID,
            }))
            .unwrap()
        };
        bundle(&[&root])
            .verify_at(&ek(Sig::Ecdsa), at(NOW))
            .unwrap();
        let err = bundle(&[&root])
            .verify_at(&ek(Sig::EcdsaCrossedHash), at(NOW))
            .unwrap_err();
        assert!(
            matches!(&err, EkError::Unsupported { detail, .. } if detail.contains(curve)),
            "{curve}: {err}"
        );
    }
}

/// A root self-signed with SHA-1 (as long-lived manufacturer roots are) still anchors the
/// chains under it: its self-signature is never checked.
#[test]
fn a_root_self_signed_with_sha1_still_anchors() {
    let root_key = Key::rsa();
    let inter_key = Key::p256();
    let ek_key = Key::p256();
    let root = ca(
        "CN=Root",
        "CN=Root",
        &root_key,
        &root_key,
        Sig::Sha1WithRsa,
        None,
    );
    let inter = ca(
        "CN=Inter",
        "CN=Root",
        &inter_key,
        &root_key,
        Sig::Pkcs1Sha256,
        None,
    );
    let ek = EkCertificate::from_der(&build(Spec {
        subject: "CN=EK",
        issuer: "CN=Inter",
        key: &ek_key,
        signer: &inter_key,
        sig: Sig::Ecdsa,
        extensions: ek_extensions(KeyUsages::KeyAgreement),
        validity: VALID,
    }))
    .unwrap();
    let chain = bundle(&[&root, &inter]).verify_at(&ek, at(NOW)).unwrap();
    assert_eq!(chain.subjects, ["CN=EK", "CN=Inter", "CN=Root"]);
}

fn key_ids(subject_key: &[u8], authority_key: &[u8]) -> Vec<Extension> {
    vec![
        ext(
            "2.5.29.14",
            false,
            SubjectKeyIdentifier(OctetString::new(subject_key).unwrap()),
        ),
        ext(
            "2.5.29.35",
            false,
            AuthorityKeyIdentifier {
                key_identifier: Some(OctetString::new(authority_key).unwrap()),
                authority_cert_issuer: None,
                authority_cert_serial_number: None,
            },
        ),
    ]
}

/// A root's key rollover: the new key certified under the same name by the old one. The
/// self-issued rollover certificate sits in the chain between the intermediate (signed by
/// the new key) and the old root, and, being self-issued, does not count towards the old
/// root's pathLenConstraint.
#[test]
fn a_self_issued_rollover_certificate_sits_in_the_chain() {
    let old_key = Key::p384();
    let new_key = Key::p384();
    let inter_key = Key::p256();
    let ek_key = Key::p256();
    let ca_with = |key: &Key, signer: &Key, subject, issuer, ids: (&[u8], &[u8])| {
        let mut extensions = ca_extensions(Some(1));
        extensions.extend(key_ids(ids.0, ids.1));
        build(Spec {
            subject,
            issuer,
            key,
            signer,
            sig: Sig::Ecdsa,
            extensions,
            validity: VALID,
        })
    };
    let old_root = ca_with(&old_key, &old_key, "CN=Root", "CN=Root", (b"old", b"old"));
    let rollover = ca_with(&new_key, &old_key, "CN=Root", "CN=Root", (b"new", b"old"));
    let inter = ca_with(
        &inter_key,
        &new_key,
        "CN=Inter",
        "CN=Root",
        (b"inter", b"new"),
    );
    let ek = EkCertificate::from_der(&build(Spec {
        subject: "CN=EK",
        issuer: "CN=Inter",
        key: &ek_key,
        signer: &inter_key,
        sig: Sig::Ecdsa,
        extensions: ek_extensions(KeyUsages::KeyAgreement),
        validity: VALID,
    }))
    .unwrap();
    let chain = bundle(&[&old_root, &rollover, &inter])
        .verify_at(&ek, at(NOW))
        .unwrap();
    assert_eq!(chain.subjects, ["CN=EK", "CN=Inter", "CN=Root", "CN=Root"]);
    // The rollover certificate is no anchor by itself: it names the old key as its signer.
    let err = bundle(&[&rollover, &inter])
        .verify_at(&ek, at(NOW))
        .unwrap_err();
    assert!(
        matches!(&err, EkError::UnknownIssuer { subject, .. } if subject == "CN=Root"),
        "{err}"
    );
}

/// One certificate the verifier cannot use (an Ed25519 key, an unknown critical extension)
/// is skipped when the bundle is read; the rest of the bundle still verifies chains.
#[test]
fn an_unusable_certificate_in_a_bundle_is_skipped() {
    use x509_cert::der::pem::{encode_string, LineEnding};
    let w = ec_world();
    let signer = Key::p256();
    let mut ed25519 = Certificate::from_der(&ca(
        "CN=Edwards",
        "CN=Edwards",
        &signer,
        &signer,
        Sig::Ecdsa,
        None,
    ))
    .unwrap();
    ed25519.tbs_certificate.subject_public_key_info = SubjectPublicKeyInfoOwned {
        algorithm: AlgorithmIdentifierOwned {
            oid: oid("1.3.101.112"),
            parameters: None,
        },
        subject_public_key: BitString::from_bytes(&[7; 32]).unwrap(),
    };
    let tbs = ed25519.tbs_certificate.to_der().unwrap();
    ed25519.signature = BitString::from_bytes(&signer.sign(&Sig::Ecdsa, &tbs)).unwrap();
    let ed25519 = ed25519.to_der().unwrap();
    let mut extensions = ca_extensions(None);
    extensions.push(Extension {
        extn_id: oid("1.3.6.1.4.1.55555.2"),
        critical: true,
        extn_value: OctetString::new(vec![0x05, 0x00]).unwrap(),
    });
    let critical = build(Spec {
        subject: "CN=Critical",
        issuer: "CN=Critical",
        key: &signer,
        signer: &signer,
        sig: Sig::Ecdsa,
        extensions,
        validity: VALID,
    });
    let pem = |der: &[u8]| encode_string("CERTIFICATE", LineEnding::LF, der).unwrap();
    let text = [
        pem(&ed25519),
        pem(&w.root),
        pem(&critical),
        pem(&w.intermediate),
    ]
    .concat();
    let b = CaBundle::from_bytes(text.as_bytes()).unwrap();
    let subjects: Vec<&str> = b.certificates().iter().map(|c| c.subject()).collect();
    assert_eq!(subjects, ["CN=Root", "CN=Inter"]);
    let ek = EkCertificate::from_der(&w.ek(ek_extensions(KeyUsages::KeyAgreement), VALID)).unwrap();
    b.verify_at(&ek, at(NOW)).unwrap();
    // A bundle of nothing usable is empty, and bytes that are no certificate still fail it.
    assert!(matches!(
        CaBundle::from_bytes(&ed25519),
        Err(EkError::EmptyBundle)
    ));
    let broken = format!(
        "{}-----BEGIN CERTIFICATE-----\nMAA=\n-----END CERTIFICATE-----\n",
        pem(&w.root)
    );
    assert!(matches!(
        CaBundle::from_bytes(broken.as_bytes()),
        Err(EkError::Parse { .. })
    ));
}

/// Which time a chain is valid at is the caller's: the current time by default, or a time
/// chosen, or none. A chain whose certificates all expired long ago shows the difference.
#[test]
fn the_validation_time_is_the_callers_choice() {
    let long_ago = (1_000_000, 2_000_000);
    let root_key = Key::p384();
    let ek_key = Key::p256();
    let root = build(Spec {
        subject: "CN=Root",
        issuer: "CN=Root",
        key: &root_key,
        signer: &root_key,
        sig: Sig::Ecdsa,
        extensions: ca_extensions(None),
        validity: long_ago,
    });
    let ek = EkCertificate::from_der(&build(Spec {
        subject: "CN=EK",
        issuer: "CN=Root",
        key: &ek_key,
        signer: &root_key,
        sig: Sig::Ecdsa,
        extensions: ek_extensions(KeyUsages::KeyAgreement),
        validity: long_ago,
    }))
    .unwrap();
    let b = bundle(&[&root]);
    assert_eq!(b.validation_time(), ValidationTime::Now);
    let err = b.verify(&ek).unwrap_err();
    assert!(matches!(err, EkError::Expired { .. }), "{err}");

    let then = b
        .clone()
        .with_validation_time(ValidationTime::At(at(1_500_000)));
    then.verify(&ek).unwrap();
    let err = then
        .clone()
        .with_validation_time(ValidationTime::At(at(500_000)))
        .verify(&ek)
        .unwrap_err();
    assert!(matches!(err, EkError::NotYetValid { .. }), "{err}");

    let unchecked = b.with_validation_time(ValidationTime::Unchecked);
    unchecked.verify(&ek).unwrap();
    // Only the validity periods are waived: the signature still counts.
    let other_key = Key::p384();
    let other_root = build(Spec {
        subject: "CN=Root",
        issuer: "CN=Root",
        key: &other_key,
        signer: &other_key,
        sig: Sig::Ecdsa,
        extensions: ca_extensions(None),
        validity: long_ago,
    });
    let err = bundle(&[&other_root])
        .with_validation_time(ValidationTime::Unchecked)
        .verify(&ek)
        .unwrap_err();
    assert!(matches!(err, EkError::BadSignature { .. }), "{err}");
}
