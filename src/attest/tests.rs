//! Host-only tests: conversions both ways, signature verification with keys generated here,
//! a quote swtpm made (through tpm2-tools) verified from its bytes, and each check of the
//! verifier failing on a structure signed here with exactly one thing wrong.

use p256::ecdsa::signature::hazmat::PrehashSigner;
use rand_core::OsRng;
use rsa::traits::PublicKeyParts;

use super::convert::*;
use super::*;
use crate::crypto::{hash, HashAlg};
use crate::wire::{
    Attestation, Attested, CertifyInfo, ClockInfo, CreationInfo, Data, Digest, EccCurve,
    EccParameter, EccSignature, Handle, Marshal, MaxNvBuffer, Name, NvCertifyInfo, PcrSelection,
    PcrSelectionList, Public, PublicKey, QuoteInfo, RsaSignature, SigScheme, Signature,
    TimeAttestInfo, Unmarshal, TPM_GENERATED_VALUE,
};

fn hex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

const AK_ATTRIBUTES: ObjectAttributes = ObjectAttributes(
    ObjectAttributes::FIXED_TPM.0
        | ObjectAttributes::FIXED_PARENT.0
        | ObjectAttributes::SENSITIVE_DATA_ORIGIN.0
        | ObjectAttributes::USER_WITH_AUTH.0
        | ObjectAttributes::RESTRICTED.0
        | ObjectAttributes::SIGN_ENCRYPT.0,
);

const SIGN_ONLY: ObjectAttributes =
    ObjectAttributes(ObjectAttributes::USER_WITH_AUTH.0 | ObjectAttributes::SIGN_ENCRYPT.0);

// ---------------------------------------------------------------- a quote from swtpm

/// `tpm2_createprimary -C e -G ecc256:ecdsa-sha256:null -a
/// "fixedtpm|fixedparent|sensitivedataorigin|userwithauth|restricted|sign"`, then
/// `tpm2_readpublic -o` (TPM2B_PUBLIC), `-n` and `-q`, against swtpm 0.7.1.
const TOOLS_AK_PUB: &str = "00580023000b00050072000000100018000b000300100020543a44241c72e08a6a6aa73df5ddb13a161a890f3101b55cb96a5d4f89055e4500203d6e81a9e006727cc036b916ca3f638021a57437423e7e066d48c9861108dbf0";
const TOOLS_AK_NAME: &str = "000b0b45cdf9ca53d3431fb022f5959b50008e92d18aa0af0690823bcc88ccb1fde7";
const TOOLS_AK_QNAME: &str = "000b5d4d2ae10782b8b31e1439f16bbfe09af6a3d550691ce5091d1a22d29d2a95ef";
/// `tpm2_pcrextend 16:sha256=aa…aa`, then `tpm2_quote -l sha256:0,16+sha1:16 -q 0102030405
/// -g sha256 -m msg -s sig -o pcrs -F values` with that AK.
const TOOLS_QUOTE_MSG: &str = "ff54434780180022000b5d4d2ae10782b8b31e1439f16bbfe09af6a3d550691ce5091d1a22d29d2a95ef000501020304050000000000000e16000000010000000001201910230016363600000002000b0301000100040300000100201c014b6ee9b16b97f52fbb879e738dfbe0ff1d14c8e34dce1fea480344a3a68d";
const TOOLS_QUOTE_SIG: &str = "0018000b00206a10b5c0db57689d1814a90a3d3dcf7b867bbe65106afe0ea003b74ac9b752aa00203212115ee7db4f96dabeb7c9323baa93dcedf508357e0cea577e50b5730d7b52";
const TOOLS_PCR16_SHA256: &str = "9ef814b42fa0be12d197c44d3e8e03441a4b1118237658368ba1351090e556ed";

fn tools_ak() -> Public {
    crate::wire::Tpm2bPublic::from_bytes(&hex(TOOLS_AK_PUB))
        .unwrap()
        .0
}

fn tools_pcrs() -> PcrValues {
    PcrValues::new()
        .with(HashAlg::Sha256, 0, &[0; 32])
        .unwrap()
        .with(HashAlg::Sha256, 16, &hex(TOOLS_PCR16_SHA256))
        .unwrap()
        .with(HashAlg::Sha1, 16, &[0; 20])
        .unwrap()
}

#[test]
fn names_and_qualified_names_agree_with_the_tpm() {
    let public = tools_ak();
    assert_eq!(object_name(&public).unwrap().as_bytes(), hex(TOOLS_AK_NAME));
    let ak = AttestationKey::primary(Handle::RH_ENDORSEMENT, public.clone()).unwrap();
    assert_eq!(ak.qualified_name().as_bytes(), hex(TOOLS_AK_QNAME));
    // The same key under the owner hierarchy would be another signer.
    let owner = AttestationKey::primary(Handle::RH_OWNER, public).unwrap();
    assert_ne!(owner.qualified_name(), ak.qualified_name());
}

#[test]
fn a_swtpm_quote_verifies_and_reports_its_clock_and_selection() {
    let ak = AttestationKey::primary(Handle::RH_ENDORSEMENT, tools_ak()).unwrap();
    let sig = Signature::from_bytes(&hex(TOOLS_QUOTE_SIG)).unwrap();
    let msg = hex(TOOLS_QUOTE_MSG);
    let report = verify_quote(&ak, &msg, &sig, &[1, 2, 3, 4, 5], &tools_pcrs()).unwrap();
    assert_eq!(report.hash, HashAlg::Sha256);
    assert_eq!(report.pcr_select.len(), 2);
    assert!(report.pcr_select[0].select.pcrs().eq([0, 16]));
    assert_eq!(report.clock.firmware_version, 0x2019_1023_0016_3636);
    assert_eq!(report.clock.clock_info.clock, 0x0e16);
    assert_eq!(report.clock.clock_info.reset_count, 1);
    assert_eq!(report.clock.clock_info.restart_count, 0);
    assert!(report.clock.clock_info.safe);

    // The same quote with any other expectation fails, each with its own error.
    assert_eq!(
        verify_quote(&ak, &msg, &sig, &[1, 2, 3, 4, 6], &tools_pcrs()),
        Err(AttestError::NonceMismatch)
    );
    let other_pcr16 = PcrValues::new()
        .with(HashAlg::Sha256, 0, &[0; 32])
        .unwrap()
        .with(HashAlg::Sha256, 16, &[0xAA; 32])
        .unwrap()
        .with(HashAlg::Sha1, 16, &[0; 20])
        .unwrap();
    assert_eq!(
        verify_quote(&ak, &msg, &sig, &[1, 2, 3, 4, 5], &other_pcr16),
        Err(AttestError::PcrDigestMismatch)
    );
    let owner_ak = AttestationKey::primary(Handle::RH_OWNER, tools_ak()).unwrap();
    assert_eq!(
        verify_quote(&owner_ak, &msg, &sig, &[1, 2, 3, 4, 5], &tools_pcrs()),
        Err(AttestError::SignerMismatch)
    );
    for i in 0..msg.len() {
        let mut bad = msg.clone();
        bad[i] ^= 0x01;
        assert!(
            matches!(
                verify_quote(&ak, &bad, &sig, &[1, 2, 3, 4, 5], &tools_pcrs()),
                Err(AttestError::Signature(HostKeyError::Invalid))
            ),
            "byte {i} flipped"
        );
    }
}

// ---------------------------------------------------------------- host keys

struct HostAk {
    key: p256::ecdsa::SigningKey,
    ak: AttestationKey,
}

impl HostAk {
    fn key_and_public(attributes: ObjectAttributes) -> (p256::ecdsa::SigningKey, Public) {
        let key = p256::ecdsa::SigningKey::random(&mut OsRng);
        let public = HostPublicKey::P256(*key.verifying_key())
            .to_public(
                AlgId::SHA256,
                attributes,
                SigScheme::Ecdsa {
                    hash: AlgId::SHA256,
                },
            )
            .unwrap();
        (key, public)
    }

    fn p256() -> HostAk {
        let (key, public) = Self::key_and_public(AK_ATTRIBUTES);
        let ak = AttestationKey::primary(Handle::RH_ENDORSEMENT, public).unwrap();
        HostAk { key, ak }
    }

    fn sign(&self, bytes: &[u8]) -> Signature {
        let digest = hash(HashAlg::Sha256, &[bytes]);
        let sig: p256::ecdsa::Signature = self.key.sign_prehash(digest.as_bytes()).unwrap();
        signature_from_p256(AlgId::SHA256, &sig)
    }

    fn attestation(&self, attested: Attested) -> Attestation {
        Attestation {
            magic: TPM_GENERATED_VALUE,
            qualified_signer: self.ak.qualified_name().clone(),
            extra_data: Data::new(b"nonce").unwrap(),
            clock_info: ClockInfo {
                clock: 1234,
                reset_count: 5,
                restart_count: 6,
                safe: true,
            },
            firmware_version: 42,
            attested,
        }
    }
}

fn pcr_values() -> PcrValues {
    PcrValues::new()
        .with(HashAlg::Sha256, 16, &[0x16; 32])
        .unwrap()
}

fn quote_info(values: &PcrValues) -> Attested {
    let digest = hash(HashAlg::Sha256, &[&[0x16; 32]]);
    Attested::Quote(QuoteInfo {
        pcr_select: values.selection(),
        pcr_digest: digest,
    })
}

#[test]
fn each_check_of_the_verifier_fails_on_its_own() {
    let h = HostAk::p256();
    let pcrs = pcr_values();
    let good = h.attestation(quote_info(&pcrs));
    let check = |a: &Attestation| {
        let bytes = a.to_bytes();
        verify_quote(&h.ak, &bytes, &h.sign(&bytes), b"nonce", &pcrs)
    };
    let report = check(&good).unwrap();
    assert_eq!(report.clock.clock_info.reset_count, 5);
    assert_eq!(report.clock.firmware_version, 42);

    let mut a = good.clone();
    a.magic = 0xff54_4348;
    assert_eq!(check(&a), Err(AttestError::NotTpmGenerated(0xff54_4348)));

    let mut a = good.clone();
    a.qualified_signer = h.ak.name().clone();
    assert_eq!(check(&a), Err(AttestError::SignerMismatch));

    let mut a = good.clone();
    a.extra_data = Data::new(b"nonc").unwrap();
    assert_eq!(check(&a), Err(AttestError::NonceMismatch));

    let mut a = good.clone();
    a.attested = Attested::Time(TimeAttestInfo::default());
    assert_eq!(
        check(&a),
        Err(AttestError::WrongType {
            expected: StructureTag::ATTEST_QUOTE,
            found: StructureTag::ATTEST_TIME
        })
    );

    let mut a = good.clone();
    a.attested = Attested::Quote(QuoteInfo {
        pcr_select: pcrs.selection(),
        pcr_digest: hash(HashAlg::Sha256, &[&[0x17; 32]]),
    });
    assert_eq!(check(&a), Err(AttestError::PcrDigestMismatch));

    let mut a = good.clone();
    a.attested = Attested::Quote(QuoteInfo {
        pcr_select: PcrSelectionList::new(vec![
            PcrSelection::new(AlgId::SHA256, &[16, 17]).unwrap()
        ])
        .unwrap(),
        pcr_digest: Digest::empty(),
    });
    assert_eq!(
        check(&a),
        Err(AttestError::PcrNotExpected {
            bank: AlgId::SHA256,
            pcr: 17
        })
    );

    // Signed, but with a byte after the structure.
    let mut bytes = good.to_bytes();
    bytes.push(0);
    assert!(matches!(
        verify_quote(&h.ak, &bytes, &h.sign(&bytes), b"nonce", &pcrs),
        Err(AttestError::Parse(_))
    ));

    // Signed by another key.
    let other = HostAk::p256();
    let bytes = good.to_bytes();
    assert_eq!(
        verify_quote(&h.ak, &bytes, &other.sign(&bytes), b"nonce", &pcrs),
        Err(AttestError::Signature(HostKeyError::Invalid))
    );
}

/// A quote carries the verifier's nonce or it proves nothing about now: an empty nonce is
/// refused, even for a quote made with none, unless the caller asks for that by name.
#[test]
fn a_quote_without_a_nonce_is_refused_unless_asked_for_by_name() {
    let h = HostAk::p256();
    let pcrs = pcr_values();
    let mut unfresh = h.attestation(quote_info(&pcrs));
    unfresh.extra_data = Data::empty();
    let bytes = unfresh.to_bytes();
    let sig = h.sign(&bytes);
    assert_eq!(
        verify_quote(&h.ak, &bytes, &sig, &[], &pcrs),
        Err(AttestError::EmptyNonce)
    );
    let report = verify_quote_without_nonce(&h.ak, &bytes, &sig, &pcrs).unwrap();
    assert_eq!(report.clock.clock_info.reset_count, 5);
    // Asking for no nonce does not accept a quote that has one.
    let fresh = h.attestation(quote_info(&pcrs)).to_bytes();
    assert_eq!(
        verify_quote_without_nonce(&h.ak, &fresh, &h.sign(&fresh), &pcrs),
        Err(AttestError::NonceMismatch)
    );
}

#[test]
fn certifications_check_what_they_certify() {
    let h = HostAk::p256();
    let name = Name::new(&[0x00, 0x0B, 1, 2, 3]).unwrap();
    let qn = Name::new(&[0x00, 0x0B, 4, 5, 6]).unwrap();
    let signed = |attested: Attested| {
        let bytes = h.attestation(attested).to_bytes();
        let sig = h.sign(&bytes);
        (bytes, sig)
    };

    let (bytes, sig) = signed(Attested::Certify(CertifyInfo {
        name: name.clone(),
        qualified_name: qn.clone(),
    }));
    let report = verify_certify(&h.ak, &bytes, &sig, b"nonce", &name).unwrap();
    assert_eq!(report.qualified_name, qn);
    assert_eq!(
        verify_certify(&h.ak, &bytes, &sig, b"nonce", &qn),
        Err(AttestError::CertifiedNameMismatch)
    );
    assert!(matches!(
        verify_nv_certify(&h.ak, &bytes, &sig, b"nonce", &name, 0, b""),
        Err(AttestError::WrongType { .. })
    ));

    let (bytes, sig) = signed(Attested::Creation(CreationInfo {
        object_name: name.clone(),
        creation_hash: Digest::new(&[9; 32]).unwrap(),
    }));
    verify_certify_creation(&h.ak, &bytes, &sig, b"nonce", &name, &[9; 32]).unwrap();
    assert_eq!(
        verify_certify_creation(&h.ak, &bytes, &sig, b"nonce", &qn, &[9; 32]),
        Err(AttestError::CreatedObjectMismatch)
    );
    assert_eq!(
        verify_certify_creation(&h.ak, &bytes, &sig, b"nonce", &name, &[8; 32]),
        Err(AttestError::CreationHashMismatch)
    );

    let (bytes, sig) = signed(Attested::Nv(NvCertifyInfo {
        index_name: name.clone(),
        offset: 2,
        nv_contents: MaxNvBuffer::new(b"abc").unwrap(),
    }));
    verify_nv_certify(&h.ak, &bytes, &sig, b"nonce", &name, 2, b"abc").unwrap();
    assert_eq!(
        verify_nv_certify(&h.ak, &bytes, &sig, b"nonce", &qn, 2, b"abc"),
        Err(AttestError::NvIndexMismatch)
    );
    assert_eq!(
        verify_nv_certify(&h.ak, &bytes, &sig, b"nonce", &name, 0, b"abc"),
        Err(AttestError::NvOffsetMismatch {
            expected: 0,
            found: 2
        })
    );
    assert_eq!(
        verify_nv_certify(&h.ak, &bytes, &sig, b"nonce", &name, 2, b"abd"),
        Err(AttestError::NvContentsMismatch)
    );

    let (bytes, sig) = signed(Attested::Time(TimeAttestInfo::default()));
    let report = verify_time(&h.ak, &bytes, &sig, b"nonce").unwrap();
    assert_eq!(report.clock.clock_info.clock, 1234);
}

#[test]
fn only_restricted_fixed_signing_keys_are_attestation_keys() {
    let (_, public) = HostAk::key_and_public(AK_ATTRIBUTES);
    let qn = Name::new(&[0x40, 0, 0, 0x0B]).unwrap();
    AttestationKey::new(public.clone(), qn.clone()).unwrap();
    for (attributes, expected) in [
        (
            AK_ATTRIBUTES.with(ObjectAttributes::RESTRICTED, false),
            "restricted",
        ),
        (
            AK_ATTRIBUTES.with(ObjectAttributes::SIGN_ENCRYPT, false),
            "sign",
        ),
        (AK_ATTRIBUTES | ObjectAttributes::DECRYPT, "sign"),
        (
            AK_ATTRIBUTES.with(ObjectAttributes::FIXED_TPM, false),
            "fixedTPM",
        ),
    ] {
        let mut p = public.clone();
        p.object_attributes = attributes;
        let err = AttestationKey::new(p, qn.clone()).unwrap_err();
        let ok = match expected {
            "restricted" => matches!(err, AttestError::NotRestricted(_)),
            "sign" => matches!(err, AttestError::NotSigning(_)),
            _ => matches!(err, AttestError::NotFixedTpm(_)),
        };
        assert!(ok, "{attributes:?}: {err}");
    }
    let mut p = public;
    p.name_alg = AlgId::SM3_256;
    assert_eq!(
        AttestationKey::new(p, qn),
        Err(AttestError::UnsupportedNameAlg(AlgId::SM3_256))
    );
}

// ---------------------------------------------------------------- conversions

fn rsa_key() -> rsa::RsaPrivateKey {
    rsa::RsaPrivateKey::new(&mut OsRng, 2048).unwrap()
}

#[test]
fn host_keys_convert_to_public_areas_and_back() {
    let p256 = HostPublicKey::P256(*p256::ecdsa::SigningKey::random(&mut OsRng).verifying_key());
    let p384 = HostPublicKey::P384(*p384::ecdsa::SigningKey::random(&mut OsRng).verifying_key());
    let rsa = HostPublicKey::Rsa(rsa_key().to_public_key());
    for (key, scheme) in [
        (
            &p256,
            SigScheme::Ecdsa {
                hash: AlgId::SHA256,
            },
        ),
        (&p384, SigScheme::Null),
        (
            &rsa,
            SigScheme::RsaPss {
                hash: AlgId::SHA384,
            },
        ),
    ] {
        let public = key.to_public(AlgId::SHA256, SIGN_ONLY, scheme).unwrap();
        assert_eq!(&HostPublicKey::from_public(&public).unwrap(), key);
        assert_eq!(Public::from_bytes(&public.to_bytes()).unwrap(), public);
    }
    let public = rsa
        .to_public(AlgId::SHA256, SIGN_ONLY, SigScheme::Null)
        .unwrap();
    let PublicKey::Rsa { parameters, unique } = &public.key else {
        panic!("not RSA")
    };
    assert_eq!((parameters.key_bits, parameters.exponent), (2048, 0));
    assert_eq!(unique.len(), 256);
    // A scheme of the other key type is refused.
    assert!(matches!(
        p256.to_public(
            AlgId::SHA256,
            SIGN_ONLY,
            SigScheme::RsaSsa {
                hash: AlgId::SHA256
            }
        ),
        Err(HostKeyError::KeyTypeMismatch { .. })
    ));
    // And a public area of the wrong type or curve.
    let ecc = p256
        .to_public(AlgId::SHA256, SIGN_ONLY, SigScheme::Null)
        .unwrap();
    assert!(matches!(
        rsa_public_key(&ecc),
        Err(HostKeyError::UnsupportedKeyType(_))
    ));
    assert_eq!(
        p384_verifying_key(&ecc).unwrap_err(),
        HostKeyError::WrongCurve {
            expected: EccCurve::NIST_P384,
            found: EccCurve::NIST_P256
        }
    );
}

#[test]
fn bad_public_keys_are_refused() {
    let key = p256::ecdsa::SigningKey::random(&mut OsRng);
    let public = HostPublicKey::P256(*key.verifying_key())
        .to_public(AlgId::SHA256, SIGN_ONLY, SigScheme::Null)
        .unwrap();
    let mut off_curve = public.clone();
    if let PublicKey::Ecc { unique, .. } = &mut off_curve.key {
        unique.y.as_mut_bytes()[31] ^= 1;
    }
    assert_eq!(
        p256_verifying_key(&off_curve).unwrap_err(),
        HostKeyError::BadPublicKey("the point is not on the curve")
    );
    let mut long = public;
    if let PublicKey::Ecc { unique, .. } = &mut long.key {
        let mut x = vec![0];
        x.extend_from_slice(unique.x.as_bytes());
        unique.x = EccParameter::new(&x).unwrap();
    }
    assert!(matches!(
        p256_verifying_key(&long),
        Err(HostKeyError::BadPublicKey(_))
    ));

    let rsa = HostPublicKey::Rsa(rsa_key().to_public_key())
        .to_public(AlgId::SHA256, SIGN_ONLY, SigScheme::Null)
        .unwrap();
    let mut weak = rsa.clone();
    if let PublicKey::Rsa { parameters, unique } = &mut weak.key {
        parameters.key_bits = 1024;
        *unique = crate::wire::PublicKeyRsa::new(&unique.as_bytes()[..128]).unwrap();
    }
    assert_eq!(
        rsa_public_key(&weak).unwrap_err(),
        HostKeyError::WeakKey {
            bits: 1024,
            min: 2048
        }
    );
    let mut lying = rsa;
    if let PublicKey::Rsa { parameters, .. } = &mut lying.key {
        parameters.key_bits = 3072;
    }
    assert!(matches!(
        rsa_public_key(&lying),
        Err(HostKeyError::BadPublicKey(_))
    ));
}

#[test]
fn rsa_pkcs1v15_and_pss_signatures_verify_and_convert() {
    let private = rsa_key();
    let key = HostPublicKey::Rsa(private.to_public_key());
    let any = key
        .to_public(AlgId::SHA256, SIGN_ONLY, SigScheme::Null)
        .unwrap();
    let digest = hash(HashAlg::Sha256, &[b"message"]);

    let raw = private
        .sign(rsa::Pkcs1v15Sign::new::<sha2::Sha256>(), digest.as_bytes())
        .unwrap();
    let sig = signature_from_rsa_pkcs1v15(
        AlgId::SHA256,
        &rsa::pkcs1v15::Signature::try_from(raw.as_slice()).unwrap(),
    )
    .unwrap();
    verify_digest(&any, digest.as_bytes(), &sig).unwrap();
    verify_message(&any, b"message", &sig).unwrap();
    let (h, back) = rsa_pkcs1v15_signature(&sig).unwrap();
    assert_eq!((h, back.to_string().len()), (AlgId::SHA256, 512));
    assert_eq!(
        verify_message(&any, b"messagf", &sig),
        Err(HostKeyError::Invalid)
    );

    // PSS with the digest-sized salt TPMs use, and with the largest salt older ones use.
    let max_salt = 256 - 32 - 2;
    for salt in [32, max_salt] {
        let raw = private
            .sign_with_rng(
                &mut OsRng,
                rsa::Pss::new_with_salt::<sha2::Sha256>(salt),
                digest.as_bytes(),
            )
            .unwrap();
        let sig = signature_from_rsa_pss(
            AlgId::SHA256,
            &rsa::pss::Signature::try_from(raw.as_slice()).unwrap(),
        )
        .unwrap();
        verify_digest(&any, digest.as_bytes(), &sig).unwrap();
        assert_eq!(rsa_pss_signature(&sig).unwrap().0, AlgId::SHA256);
    }

    // A key limited to RSASSA-SHA256 takes neither PSS nor another hash.
    let ssa = key
        .to_public(
            AlgId::SHA256,
            SIGN_ONLY,
            SigScheme::RsaSsa {
                hash: AlgId::SHA256,
            },
        )
        .unwrap();
    verify_digest(&ssa, digest.as_bytes(), &sig_ssa(&private, HashAlg::Sha256)).unwrap();
    let pss_sig = Signature::RsaPss(match sig_ssa(&private, HashAlg::Sha256) {
        Signature::RsaSsa(s) => s,
        _ => unreachable!(),
    });
    assert_eq!(
        verify_digest(&ssa, digest.as_bytes(), &pss_sig),
        Err(HostKeyError::SchemeMismatch {
            key: AlgId::RSASSA,
            signature: AlgId::RSAPSS
        })
    );
    let d384 = hash(HashAlg::Sha384, &[b"message"]);
    assert_eq!(
        verify_digest(&ssa, d384.as_bytes(), &sig_ssa(&private, HashAlg::Sha384)),
        Err(HostKeyError::HashMismatch {
            key: AlgId::SHA256,
            signature: AlgId::SHA384
        })
    );
    // A signature one byte short of the modulus.
    let Signature::RsaSsa(mut s) = sig_ssa(&private, HashAlg::Sha256) else {
        unreachable!()
    };
    s.sig = crate::wire::PublicKeyRsa::new(&s.sig.as_bytes()[1..]).unwrap();
    assert!(matches!(
        verify_digest(&any, digest.as_bytes(), &Signature::RsaSsa(s)),
        Err(HostKeyError::MalformedSignature(_))
    ));
    // A digest of the wrong length for the hash.
    assert!(matches!(
        verify_digest(&any, &[0; 20], &sig_ssa(&private, HashAlg::Sha256)),
        Err(HostKeyError::DigestLength { .. })
    ));
}

fn sig_ssa(private: &rsa::RsaPrivateKey, hash_alg: HashAlg) -> Signature {
    let digest = hash(hash_alg, &[b"message"]);
    let scheme = match hash_alg {
        HashAlg::Sha384 => rsa::Pkcs1v15Sign::new::<sha2::Sha384>(),
        _ => rsa::Pkcs1v15Sign::new::<sha2::Sha256>(),
    };
    let raw = private.sign(scheme, digest.as_bytes()).unwrap();
    Signature::RsaSsa(RsaSignature {
        hash: hash_alg.alg_id(),
        sig: crate::wire::PublicKeyRsa::new(&raw).unwrap(),
    })
}

#[test]
fn ecdsa_signatures_verify_and_convert_on_both_curves() {
    let k256 = p256::ecdsa::SigningKey::random(&mut OsRng);
    let k384 = p384::ecdsa::SigningKey::random(&mut OsRng);
    let pub256 = HostPublicKey::P256(*k256.verifying_key())
        .to_public(AlgId::SHA256, SIGN_ONLY, SigScheme::Null)
        .unwrap();
    let pub384 = HostPublicKey::P384(*k384.verifying_key())
        .to_public(AlgId::SHA384, SIGN_ONLY, SigScheme::Null)
        .unwrap();
    for hash_alg in [HashAlg::Sha256, HashAlg::Sha384, HashAlg::Sha512] {
        let digest = hash(hash_alg, &[b"message"]);
        let s256: p256::ecdsa::Signature = k256.sign_prehash(digest.as_bytes()).unwrap();
        let s384: p384::ecdsa::Signature = k384.sign_prehash(digest.as_bytes()).unwrap();
        let t256 = signature_from_p256(hash_alg.alg_id(), &s256);
        let t384 = signature_from_p384(hash_alg.alg_id(), &s384);
        verify_message(&pub256, b"message", &t256).unwrap();
        verify_message(&pub384, b"message", &t384).unwrap();
        assert_eq!(p256_signature(&t256).unwrap(), (hash_alg.alg_id(), s256));
        assert_eq!(p384_signature(&t384).unwrap(), (hash_alg.alg_id(), s384));
        // Each key refuses the other's signature.
        assert!(verify_message(&pub256, b"message", &t384).is_err());
        assert_eq!(
            verify_message(&pub384, b"messagf", &t384),
            Err(HostKeyError::Invalid)
        );
    }
    let digest = hash(HashAlg::Sha256, &[b"message"]);
    let s: p256::ecdsa::Signature = k256.sign_prehash(digest.as_bytes()).unwrap();
    let good = signature_from_p256(AlgId::SHA256, &s);
    // SHA-1 is refused even though the key would verify it.
    let Signature::Ecdsa(mut sha1) = good.clone() else {
        unreachable!()
    };
    sha1.hash = AlgId::SHA1;
    assert_eq!(
        verify_digest(&pub256, &[0; 20], &Signature::Ecdsa(sha1)),
        Err(HostKeyError::UnsupportedHash(AlgId::SHA1))
    );
    // r longer than the field, and r = 0.
    let Signature::Ecdsa(e) = &good else {
        unreachable!()
    };
    let mut long = vec![1];
    long.extend_from_slice(e.r.as_bytes());
    let bad = |r: &[u8]| {
        Signature::Ecdsa(EccSignature {
            hash: AlgId::SHA256,
            r: EccParameter::new(r).unwrap(),
            s: e.s.clone(),
        })
    };
    assert!(matches!(
        verify_digest(&pub256, digest.as_bytes(), &bad(&long)),
        Err(HostKeyError::MalformedSignature(_))
    ));
    assert!(matches!(
        verify_digest(&pub256, digest.as_bytes(), &bad(&[0; 32])),
        Err(HostKeyError::MalformedSignature(_))
    ));
    // An RSA signature for an ECC key, no signature, an HMAC.
    assert!(matches!(
        verify_digest(
            &pub256,
            digest.as_bytes(),
            &Signature::RsaSsa(RsaSignature {
                hash: AlgId::SHA256,
                sig: Default::default(),
            })
        ),
        Err(HostKeyError::KeyTypeMismatch { .. })
    ));
    assert_eq!(
        verify_digest(&pub256, digest.as_bytes(), &Signature::Null),
        Err(HostKeyError::NullSignature)
    );
    // A key limited to ECDSA-SHA384 refuses SHA-256.
    let limited = HostPublicKey::P256(*k256.verifying_key())
        .to_public(
            AlgId::SHA256,
            SIGN_ONLY,
            SigScheme::Ecdsa {
                hash: AlgId::SHA384,
            },
        )
        .unwrap();
    assert_eq!(
        verify_digest(&limited, digest.as_bytes(), &good),
        Err(HostKeyError::HashMismatch {
            key: AlgId::SHA384,
            signature: AlgId::SHA256
        })
    );
    // The RSA key type conversion keeps the modulus.
    let r = rsa_key();
    let public = HostPublicKey::Rsa(r.to_public_key())
        .to_public(AlgId::SHA256, SIGN_ONLY, SigScheme::Null)
        .unwrap();
    assert_eq!(rsa_public_key(&public).unwrap().n(), r.n());
}
