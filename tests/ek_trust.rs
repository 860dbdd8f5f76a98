//! Trust in the EK against a swtpm manufactured with EK certificates (`swtpm_setup` and
//! `swtpm_localca`, see `tpm2_wire::sim::ek`): the RSA (L-1) and ECC (H-3) EKs verify up to the
//! fixture's CA and salt working sessions; a certificate from another CA, an expired or
//! non-CA intermediate, a key that is not the certified one, an EK answer that breaks its
//! template and an unknown critical extension are each refused, with an error naming the
//! check.
//!
//! Broken certificates are made here by re-signing the fixture's own certificates with the
//! fixture CA's keys after one edit, and each test first re-signs without the edit to show
//! the re-signing itself is sound.

use std::path::Path;
use std::time::SystemTime;

use rsa::pkcs1::DecodeRsaPrivateKey;
use rsa::signature::{SignatureEncoding, Signer};
use tpm2_wire::client::{HandleRange, SaltKey, Session, SessionOptions};
use tpm2_wire::command::GetRandom;
use tpm2_wire::ek::x509_cert::der::asn1::{BitString, ObjectIdentifier, OctetString};
use tpm2_wire::ek::x509_cert::der::{Decode, Encode};
use tpm2_wire::ek::x509_cert::ext::Extension;
use tpm2_wire::ek::x509_cert::time::Time;
use tpm2_wire::ek::x509_cert::Certificate;
use tpm2_wire::ek::{
    find_certificate, CaBundle, EkAlg, EkCertificate, EkError, EkTemplate, ValidationTime,
    VerifiedEk,
};
use tpm2_wire::sim::ek::{manufacture, EkCa};
use tpm2_wire::sim::Swtpm;
use tpm2_wire::wire::{Auth, Handle, Public, PublicKey, PublicKeyRsa, Tpm2bPublic};
use tpm2_wire::Tpm;

fn fixture() -> (Swtpm, EkCa, Tpm) {
    let (sim, ca) = Swtpm::spawn_with_ek_certs()
        .expect("swtpm and swtpm_setup must be installed (Debian packages swtpm, swtpm-tools)");
    let tpm = Tpm::new(Box::new(sim.transport().expect("connect to swtpm")));
    (sim, ca, tpm)
}

fn bundle_of(paths: &[&Path]) -> CaBundle {
    CaBundle::from_files(paths).expect("CA bundle")
}

fn transient_objects(tpm: &Tpm) -> Vec<Handle> {
    tpm.handles_in(HandleRange::Transient)
        .expect("GetCapability(handles)")
}

fn pem_cert(path: &Path) -> Certificate {
    let bundle = CaBundle::from_files(&[path]).unwrap();
    Certificate::from_der(bundle.certificates()[0].der()).unwrap()
}

/// The PKCS#1 key of a swtpm_localca key file (a text dump of the key precedes the PEM).
fn signing_key(path: &Path) -> rsa::pkcs1v15::SigningKey<rsa::sha2::Sha256> {
    let text = std::fs::read_to_string(path).unwrap();
    let pem = &text[text.find("-----BEGIN").expect("a PEM key")..];
    rsa::pkcs1v15::SigningKey::new(rsa::RsaPrivateKey::from_pkcs1_pem(pem).unwrap())
}

/// `cert` with `edit` applied to its signed part, signed again (sha256WithRSAEncryption, as
/// swtpm_localca signs) with `key`.
fn resign(
    cert: &Certificate,
    key: &rsa::pkcs1v15::SigningKey<rsa::sha2::Sha256>,
    edit: impl FnOnce(&mut tpm2_wire::ek::x509_cert::TbsCertificate),
) -> Vec<u8> {
    let mut out = cert.clone();
    edit(&mut out.tbs_certificate);
    let signature = key.sign(&out.tbs_certificate.to_der().unwrap());
    out.signature = BitString::from_bytes(&signature.to_vec()).unwrap();
    out.to_der().unwrap()
}

/// A bundle of the fixture's root and its intermediate re-signed by the root after `edit`
/// (written to `dir/name`).
fn with_reissued_intermediate(
    ca: &EkCa,
    dir: &Path,
    name: &str,
    edit: impl FnOnce(&mut tpm2_wire::ek::x509_cert::TbsCertificate),
) -> CaBundle {
    let intermediate = pem_cert(&ca.intermediate_cert);
    let der = resign(&intermediate, &signing_key(&ca.root_key), edit);
    let path = dir.join(name);
    std::fs::write(&path, pem(&der)).unwrap();
    bundle_of(&[&ca.root_cert, &path])
}

/// The EK made from `template` (labelled `label`) checked against `cert`.
fn create_with(
    tpm: &Tpm,
    label: &str,
    template: &Public,
    cert: EkCertificate,
    bundle: &CaBundle,
) -> Result<VerifiedEk, EkError> {
    VerifiedEk::create_with(tpm, label, template, cert, bundle, &Auth::empty())
}

fn pem(der: &[u8]) -> String {
    use tpm2_wire::ek::x509_cert::der::pem::{encode_string, LineEnding};
    encode_string("CERTIFICATE", LineEnding::LF, der).unwrap()
}

fn time(rfc3339_seconds: u64) -> Time {
    Time::GeneralTime(
        tpm2_wire::ek::x509_cert::der::asn1::GeneralizedTime::from_unix_duration(
            std::time::Duration::from_secs(rfc3339_seconds),
        )
        .unwrap(),
    )
}

/// Starts a session salted to the verified EK, encrypts a response with it and proves the
/// TPM holds the key.
fn salted_session_works(tpm: &Tpm, ek: &VerifiedEk) {
    let salt = SaltKey::from_verified_ek(ek).expect("salt key from the EK");
    let opts = SessionOptions::hmac().salted(salt).encrypt(false, true);
    let mut session = Session::start(tpm, &opts).expect("StartAuthSession salted to the EK");
    assert!(session.state().has_secret_key());
    for _ in 0..2 {
        let r = tpm
            .execute(
                &GetRandom {
                    bytes_requested: 32,
                },
                &mut [session.extra()],
            )
            .expect("GetRandom with an encrypted, HMAC-verified response");
        assert_eq!(r.random_bytes.len(), 32);
        assert!(r.random_bytes.as_bytes().iter().any(|&b| b != 0));
    }
    // The answer carries an HMAC under the salted session key: only the holder of the EK's
    // private part could have derived it.
    session.confirm_salt_key().expect("the TPM holds the EK");
    session.flush().unwrap();
}

#[test]
fn rsa_and_ecc_eks_verify_and_salt_a_working_session() {
    let (_sim, ca, tpm) = fixture();
    let bundle = bundle_of(&[&ca.root_cert, &ca.intermediate_cert]);
    for (alg, template, persistent) in [
        (EkAlg::Rsa, EkTemplate::L1, 0x8101_0001),
        (EkAlg::Ecc, EkTemplate::H3, 0x8101_0016),
    ] {
        let ek = VerifiedEk::create(&tpm, alg, &bundle).expect("the EK verifies");
        assert_eq!(ek.template(), template.label());
        assert_eq!(
            ek.chain().subjects,
            ["CN=unknown", "CN=swtpm-localca", "CN=swtpm-localca-rootca"]
        );
        // The template makes exactly the EK swtpm_setup persisted (and certified).
        let (persisted_entity, persisted) = tpm.read_public(Handle(persistent)).unwrap();
        assert_eq!(ek.public(), &persisted, "{template}");
        assert_eq!(ek.entity().name, persisted_entity.name, "{template}");
        assert_eq!(ek.certificate().key().mismatch(&persisted), None);
        match (&ek.public().key, alg) {
            (PublicKey::Rsa { parameters, .. }, EkAlg::Rsa) => {
                assert_eq!(parameters.key_bits, 2048)
            }
            (PublicKey::Ecc { parameters, .. }, EkAlg::Ecc) => assert_eq!(parameters.curve.0, 4),
            other => panic!("unexpected key {other:?}"),
        }
        salted_session_works(&tpm, &ek);
        // The session needs the EK only to start: flushing it leaves nothing behind.
        drop(ek);
        assert_eq!(transient_objects(&tpm), []);
    }
}

/// Every template the TPM implements creates a key under the endorsement hierarchy that
/// salts a working session (P-521 included), without authorizing the key.
#[test]
fn every_template_makes_a_key_that_salts_a_session() {
    use tpm2_wire::command::{Entity, FlushContext};
    use tpm2_wire::session::engine::SessionSlot;
    let (_sim, _ca, tpm) = fixture();
    let empty = Auth::empty();
    for template in EkTemplate::ALL {
        let created = tpm.create_primary(
            &Entity::endorsement(),
            SessionSlot::Password(&empty),
            template.public(),
            &empty,
        );
        let (entity, public) = match created {
            Ok(created) => created,
            // swtpm (libtpms) stops at RSA-3072: H-7's 4096 bits are a bad value to it.
            Err(e) if template == EkTemplate::H7 && e.to_string().contains("TPM_RC_VALUE") => {
                continue
            }
            Err(e) => panic!("CreatePrimary({template}): {e}"),
        };
        let handle = entity.handle;
        let salt = SaltKey::from_public(entity, &public).unwrap();
        let opts = SessionOptions::hmac().salted(salt).encrypt(false, true);
        let mut session = Session::start(&tpm, &opts).unwrap();
        let r = tpm
            .execute(
                &GetRandom {
                    bytes_requested: 16,
                },
                &mut [session.extra()],
            )
            .unwrap_or_else(|e| panic!("GetRandom salted to {template}: {e}"));
        assert_eq!(r.random_bytes.len(), 16);
        session.confirm_salt_key().unwrap();
        session.flush().unwrap();
        tpm.run(&FlushContext {
            flush_handle: handle,
        })
        .unwrap();
    }
}

#[test]
fn a_certificate_from_another_ca_is_refused() {
    let (_sim, ca, tpm) = fixture();
    let other_dir = tempfile::tempdir().unwrap();
    let other = manufacture(other_dir.path()).expect("a second, unrelated CA");

    // The other CA has the same names (swtpm_localca names every CA alike), not the same keys.
    let bundle = bundle_of(&[&other.root_cert, &other.intermediate_cert]);
    for alg in [EkAlg::Rsa, EkAlg::Ecc] {
        let err = VerifiedEk::create(&tpm, alg, &bundle).unwrap_err();
        assert!(
            matches!(&err, EkError::BadSignature { subject, issuer }
                if subject == "CN=unknown" && issuer == "CN=swtpm-localca"),
            "{err}"
        );
        assert!(
            err.to_string().contains("signature does not verify"),
            "{err}"
        );
    }
    // Our intermediate under their root: the intermediate's signature is what fails.
    let bundle = bundle_of(&[&other.root_cert, &ca.intermediate_cert]);
    let err = VerifiedEk::create(&tpm, EkAlg::Rsa, &bundle).unwrap_err();
    assert!(
        matches!(&err, EkError::BadSignature { subject, issuer }
            if subject == "CN=swtpm-localca" && issuer == "CN=swtpm-localca-rootca"),
        "{err}"
    );
    // Their root only: the intermediate is nowhere.
    let err = VerifiedEk::create(&tpm, EkAlg::Rsa, &bundle_of(&[&other.root_cert])).unwrap_err();
    assert!(
        matches!(&err, EkError::UnknownIssuer { issuer, .. } if issuer == "CN=swtpm-localca"),
        "{err}"
    );
    // Nothing was created for a certificate that did not verify.
    assert_eq!(transient_objects(&tpm), []);
}

#[test]
fn an_expired_intermediate_is_refused() {
    let (_sim, ca, tpm) = fixture();
    let dir = tempfile::tempdir().unwrap();

    let same = with_reissued_intermediate(&ca, dir.path(), "same.pem", |_| {});
    VerifiedEk::create(&tpm, EkAlg::Rsa, &same).expect("the re-signed intermediate verifies");

    let bundle = with_reissued_intermediate(&ca, dir.path(), "expired.pem", |tbs| {
        tbs.validity.not_before = time(1_546_300_800); // 2019-01-01
        tbs.validity.not_after = time(1_577_836_800); // 2020-01-01
    });
    let err = VerifiedEk::create(&tpm, EkAlg::Rsa, &bundle).unwrap_err();
    assert!(
        matches!(&err, EkError::Expired { subject, not_after, .. }
            if subject == "CN=swtpm-localca" && not_after.starts_with("2020-01-01")),
        "{err}"
    );
    // Checked as of a time inside its validity, the same chain verifies.
    let (_, cert) = find_certificate(&tpm, EkAlg::Rsa).unwrap();
    let in_2019 = SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(1_560_000_000);
    let err = bundle.verify_at(&cert, in_2019).unwrap_err();
    // ... except that the fixture's root and EK certificate were not valid yet in 2019.
    assert!(matches!(err, EkError::NotYetValid { .. }), "{err}");
    assert_eq!(transient_objects(&tpm), []);

    // A verifier that keeps machines in service past their certificates' expiry chooses not
    // to check validity periods: the same chain then gives a working EK.
    let unchecked = bundle.with_validation_time(ValidationTime::Unchecked);
    let ek = VerifiedEk::create(&tpm, EkAlg::Rsa, &unchecked)
        .expect("the expired intermediate is accepted when validity is not checked");
    salted_session_works(&tpm, &ek);
}

#[test]
fn a_non_ca_intermediate_is_refused() {
    let (_sim, ca, tpm) = fixture();
    let dir = tempfile::tempdir().unwrap();
    let basic_constraints = ObjectIdentifier::new_unwrap("2.5.29.19");

    let not_ca = with_reissued_intermediate(&ca, dir.path(), "not-ca.pem", |tbs| {
        let ext = tbs
            .extensions
            .as_mut()
            .unwrap()
            .iter_mut()
            .find(|e| e.extn_id == basic_constraints)
            .expect("the intermediate has basicConstraints");
        // BasicConstraints ::= SEQUENCE {} (cA defaults to FALSE).
        ext.extn_value = OctetString::new(vec![0x30, 0x00]).unwrap();
    });
    let err = VerifiedEk::create(&tpm, EkAlg::Rsa, &not_ca).unwrap_err();
    assert!(
        matches!(&err, EkError::NotACa { subject } if subject == "CN=swtpm-localca"),
        "{err}"
    );

    // Without basicConstraints at all, it is no CA either.
    let no_constraints = with_reissued_intermediate(&ca, dir.path(), "no-constraints.pem", |tbs| {
        tbs.extensions
            .as_mut()
            .unwrap()
            .retain(|e| e.extn_id != basic_constraints);
    });
    let err = VerifiedEk::create(&tpm, EkAlg::Rsa, &no_constraints).unwrap_err();
    assert!(matches!(err, EkError::NotACa { .. }), "{err}");
    assert_eq!(transient_objects(&tpm), []);
}

#[test]
fn a_key_that_is_not_the_certified_one_is_refused() {
    let (_sim, ca, tpm) = fixture();
    let bundle = bundle_of(&[&ca.root_cert, &ca.intermediate_cert]);
    let (_, rsa_cert) = find_certificate(&tpm, EkAlg::Rsa).unwrap();

    // The RSA certificate against the ECC EK.
    let err = create_with(
        &tpm,
        "H-3",
        &EkTemplate::H3.public(),
        rsa_cert.clone(),
        &bundle,
    )
    .unwrap_err();
    assert!(
        matches!(&err, EkError::KeyMismatch { template, detail, .. }
            if template == "H-3" && detail.contains("RSA key")),
        "{err}"
    );

    // The L-1 template with one byte of its unique field changed: another RSA-2048 key.
    let mut tweaked = EkTemplate::L1.public();
    if let PublicKey::Rsa { unique, .. } = &mut tweaked.key {
        let mut bytes = unique.as_bytes().to_vec();
        bytes[0] = 1;
        *unique = PublicKeyRsa::new(&bytes).unwrap();
    }
    let err = create_with(&tpm, "L-1 (tweaked)", &tweaked, rsa_cert.clone(), &bundle).unwrap_err();
    assert!(
        matches!(&err, EkError::KeyMismatch { detail, .. } if *detail == "the RSA moduli differ"),
        "{err}"
    );
    assert!(
        err.to_string().contains("refusing it as a salt key"),
        "{err}"
    );
    // The mismatching keys were flushed.
    assert_eq!(transient_objects(&tpm), []);

    // The untweaked template is accepted with the same certificate.
    let ek = create_with(&tpm, "L-1", &EkTemplate::L1.public(), rsa_cert, &bundle).unwrap();
    salted_session_works(&tpm, &ek);
}

/// A CreatePrimary answer with `edit` applied to its public area and the name made to match
/// it, so that only comparing the answer with the template can tell.
fn forge_primary_public(rsp: &[u8], edit: fn(&mut Public)) -> Vec<u8> {
    use tpm2_wire::wire::{CreationData, Digest, Marshal, Name, Reader, Ticket, Unmarshal};
    if rsp.len() <= 18 {
        return rsp.to_vec();
    }
    // Header (10), object handle (4), parameter size (4), then the parameters.
    let params = &rsp[18..];
    let mut r = Reader::new(params);
    let Tpm2bPublic(mut public) = Tpm2bPublic::unmarshal(&mut r).unwrap();
    let middle = r.position();
    CreationData::unmarshal(&mut r).unwrap();
    Digest::unmarshal(&mut r).unwrap();
    Ticket::unmarshal(&mut r).unwrap();
    let name_at = r.position();
    Name::unmarshal(&mut r).unwrap();
    let end = r.position();
    edit(&mut public);
    let name = tpm2_wire::client::object_name(&public).unwrap();
    let mut new_params = Tpm2bPublic(public).to_bytes();
    new_params.extend_from_slice(&params[middle..name_at]);
    new_params.extend_from_slice(&name.to_bytes());
    let mut out = rsp[..14].to_vec();
    out.extend_from_slice(&(new_params.len() as u32).to_be_bytes());
    out.extend_from_slice(&new_params);
    out.extend_from_slice(&params[end..]);
    let size = out.len() as u32;
    out[2..6].copy_from_slice(&size.to_be_bytes());
    out
}

/// A TPM whose CreatePrimary answer does not follow the EK template, or names the EK other
/// than by the hash of its public area, is refused with the chain verified, and the object
/// it made is flushed.
#[test]
fn an_ek_that_does_not_follow_its_template_is_refused() {
    use tpm2_wire::sim::{Relay, Tamper};
    use tpm2_wire::transport::SwtpmTransport;
    use tpm2_wire::wire::{CommandCode, ObjectAttributes};
    let (sim, ca, direct) = fixture();
    let relay = Relay::start(sim.endpoint()).expect("relay");
    let tpm = Tpm::new(Box::new(
        SwtpmTransport::connect(relay.endpoint()).expect("connect to the relay"),
    ));
    let bundle = bundle_of(&[&ca.root_cert, &ca.intermediate_cert]);

    // Rewritten without a change, the answer is accepted: the forgeries are the only change.
    relay.tamper(
        Some(CommandCode::CREATE_PRIMARY),
        Tamper::Rewrite(Box::new(|rsp: &[u8]| forge_primary_public(rsp, |_| {}))),
    );
    let ek = VerifiedEk::create(&tpm, EkAlg::Rsa, &bundle).expect("the EK verifies");
    assert!(relay.tampered() >= 1);
    drop(ek);

    // An EK whose private part could leave the TPM (fixedTPM cleared), under a consistent
    // name.
    let before = relay.tampered();
    relay.tamper(
        Some(CommandCode::CREATE_PRIMARY),
        Tamper::Rewrite(Box::new(|rsp: &[u8]| {
            forge_primary_public(rsp, |p| {
                p.object_attributes = p.object_attributes.with(ObjectAttributes::FIXED_TPM, false)
            })
        })),
    );
    let err = VerifiedEk::create(&tpm, EkAlg::Rsa, &bundle).unwrap_err();
    assert!(relay.tampered() > before);
    assert!(
        matches!(&err, EkError::TemplateMismatch { template, what }
            if template == "L-1" && *what == "the object attributes"),
        "{err}"
    );
    assert_eq!(transient_objects(&direct), [], "the refused EK was flushed");

    // The true public area under another name. The name is the last response parameter; a
    // password session's response area (an empty nonce, the attributes, an empty HMAC) is
    // the 5 bytes after it.
    let before = relay.tampered();
    relay.tamper(
        Some(CommandCode::CREATE_PRIMARY),
        Tamper::FlipFromEnd {
            from_end: 5,
            mask: 0x01,
        },
    );
    let err = VerifiedEk::create(&tpm, EkAlg::Ecc, &bundle).unwrap_err();
    assert!(relay.tampered() > before);
    assert!(
        matches!(&err, EkError::TemplateMismatch { template, what }
            if template == "H-3" && what.contains("name")),
        "{err}"
    );
    assert_eq!(transient_objects(&direct), [], "the refused EK was flushed");
}

#[test]
fn an_unknown_critical_extension_is_refused() {
    let (_sim, ca, tpm) = fixture();
    let bundle = bundle_of(&[&ca.root_cert, &ca.intermediate_cert]);
    let (_, ek_cert) = find_certificate(&tpm, EkAlg::Rsa).unwrap();
    let original = Certificate::from_der(ek_cert.der()).unwrap();
    let key = signing_key(&ca.intermediate_key);
    let with_extension = |critical: bool| {
        resign(&original, &key, |tbs| {
            tbs.extensions.as_mut().unwrap().push(Extension {
                extn_id: ObjectIdentifier::new_unwrap("1.3.6.1.4.1.55555.1"),
                critical,
                extn_value: OctetString::new(vec![0x05, 0x00]).unwrap(),
            })
        })
    };

    // Re-signed unchanged, and with the extension marked non-critical, it verifies: a
    // non-critical extension may be ignored.
    let same = EkCertificate::from_der(&resign(&original, &key, |_| {})).unwrap();
    bundle
        .verify(&same)
        .expect("the re-signed EK certificate verifies");
    let non_critical = EkCertificate::from_der(&with_extension(false)).unwrap();
    bundle
        .verify(&non_critical)
        .expect("a non-critical unknown extension is ignored");

    let err = EkCertificate::from_der(&with_extension(true)).unwrap_err();
    assert!(
        matches!(&err, EkError::UnknownCriticalExtension { subject, oid }
            if subject == "CN=unknown" && oid == "1.3.6.1.4.1.55555.1"),
        "{err}"
    );

    // The TCG extensions the fixture's certificate carries, its critical subjectAltName with
    // the TPM manufacturer's attributes included, are accepted.
    let san = original
        .tbs_certificate
        .extensions
        .as_ref()
        .unwrap()
        .iter()
        .find(|e| e.extn_id == ObjectIdentifier::new_unwrap("2.5.29.17"))
        .expect("the EK certificate has a subjectAltName");
    assert!(san.critical);
    assert_eq!(transient_objects(&tpm), []);
}

#[cfg(feature = "cli")]
mod cli {
    use super::*;
    use std::process::Command;

    fn run(sim: &Swtpm, dir: &Path, args: &[&str]) -> std::process::Output {
        Command::new(env!("CARGO_BIN_EXE_tpm2-wire"))
            .arg("-T")
            .arg(sim.tcti())
            .args(args)
            .current_dir(dir)
            .env("TPM2_WIRE_REGISTRY", dir.join("registry"))
            .env_remove("TPM2TOOLS_TCTI")
            .output()
            .unwrap()
    }

    /// `session start --hmac-session --tpmkey-context ek` with a two-file CA bundle.
    fn start_salted_to_ek(
        sim: &Swtpm,
        dir: &Path,
        [root, intermediate]: [&str; 2],
        alg: &str,
        file: &str,
    ) -> std::process::Output {
        run(
            sim,
            dir,
            &[
                "session",
                "start",
                "--hmac-session",
                "--tpmkey-context",
                "ek",
                "--ek-ca",
                root,
                "--ek-ca",
                intermediate,
                "--ek-alg",
                alg,
                "-S",
                file,
            ],
        )
    }

    #[test]
    fn session_start_salted_to_the_verified_ek() {
        let (sim, ca, _tpm) = fixture();
        let dir = tempfile::tempdir().unwrap();
        let root = ca.root_cert.to_str().unwrap();
        let intermediate = ca.intermediate_cert.to_str().unwrap();
        for alg in ["rsa", "ecc"] {
            let out = start_salted_to_ek(
                &sim,
                dir.path(),
                [root, intermediate],
                alg,
                &format!("{alg}.ctx"),
            );
            assert!(
                out.status.success(),
                "{}",
                String::from_utf8_lossy(&out.stderr)
            );
            let out = run(
                &sim,
                dir.path(),
                &["random", "16", "-S", &format!("{alg}.ctx")],
            );
            assert!(
                out.status.success(),
                "{}",
                String::from_utf8_lossy(&out.stderr)
            );
        }

        // Another CA: refused, saying which check failed, and no session file is written.
        let other_dir = tempfile::tempdir().unwrap();
        let other = manufacture(other_dir.path()).unwrap();
        let out = start_salted_to_ek(
            &sim,
            dir.path(),
            [
                other.root_cert.to_str().unwrap(),
                other.intermediate_cert.to_str().unwrap(),
            ],
            "rsa",
            "refused.ctx",
        );
        assert!(!out.status.success());
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains("signature does not verify"), "{stderr}");
        assert!(!dir.path().join("refused.ctx").exists());

        // "ek" without a CA bundle is refused before the TPM is asked anything.
        let out = run(
            &sim,
            dir.path(),
            &[
                "session",
                "start",
                "--hmac-session",
                "--tpmkey-context",
                "ek",
                "-S",
                "x.ctx",
            ],
        );
        assert!(!out.status.success());
        assert!(String::from_utf8_lossy(&out.stderr).contains("--ek-ca"));
    }
}
