//! Quotes and certifications by a private swtpm, verified on the host (`tpm2_wire::attest`):
//! RSA and ECC attestation keys, every byte of an attestation and of its signature tampered
//! with, stale nonces and other PCR values, a forged quote signed by an unrestricted key,
//! TPM2_Certify, TPM2_CertifyCreation, TPM2_NV_Certify and TPM2_GetTime, TPM2_Sign and
//! TPM2_VerifySignature both ways across the host, and interop with tpm2-tools
//! (`tpm2_checkquote` checks our quotes, ours checks `tpm2_quote`'s).
//!
//! Every command here whose first parameter is a TPM2B runs under a salted HMAC session that
//! encrypts its first command and response parameters (the nonce goes to the TPM encrypted);
//! the second authorization of two-handle commands is a password.

mod common;

use std::path::PathBuf;
use std::process::{Command, Output};

use common::*;
use tpm2_wire::attest::convert::{
    signature_from_p256, signature_from_p384, signature_from_rsa_pkcs1v15, signature_from_rsa_pss,
    verify_digest, verify_message, HostPublicKey,
};
use tpm2_wire::attest::{
    hierarchy_qualified_name, object_name, qualified_name, verify_certify, verify_certify_creation,
    verify_nv_certify, verify_quote, verify_time, AttestError, AttestationKey, HostKeyError,
    PcrValues,
};
use tpm2_wire::attest::{p256, p384, rsa};
use tpm2_wire::client::{Session, SessionOptions};
use tpm2_wire::command::{
    Certify, CertifyCreation, CreatePrimary, CreatePrimaryResponse, Entity, GetTime,
    GetTimeResponse, Hash, LoadExternal, NvCertify, NvDefineSpace, NvWrite, PcrExtend, Quote,
    QuoteResponse, Sign, VerifySignature,
};
use tpm2_wire::crypto::{self, HashAlg};
use tpm2_wire::session::engine::SessionSlot;
use tpm2_wire::sim::Swtpm;
use tpm2_wire::wire::{
    AlgId, Attestation, Auth, Data, Digest, DigestValues, EccCurve, EccParms, EccPoint, EccScheme,
    Handle, HashValue, KdfScheme, Marshal, MaxBuffer, MaxNvBuffer, NvAttributes, NvPublic,
    ObjectAttributes, OptionalSensitive, PcrSelection, PcrSelectionList, Public, PublicKey,
    PublicKeyRsa, RsaParms, RsaScheme, SensitiveCreate, SigScheme, Signature, StructureTag,
    SymDefObject, Ticket, Tpm2bNvPublic, Tpm2bPublic, Tpm2bSensitiveCreate, Unmarshal,
    TPM_GENERATED_VALUE,
};
use tpm2_wire::Tpm;

/// fixedTPM|fixedParent|sensitiveDataOrigin|userWithAuth|restricted|sign: an AK, as
/// `tpm2_createak` makes it.
const AK: ObjectAttributes = ObjectAttributes(0x0005_0072);
/// The same without restricted: a general signing key.
const SIGNER: ObjectAttributes = ObjectAttributes(0x0004_0072);
/// userWithAuth|sign: a public key loaded from the host.
const HOST_KEY: ObjectAttributes = ObjectAttributes(0x0004_0040);

const PCR: u8 = 16;
const NV_INDEX: u32 = 0x0150_0040;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Alg {
    Rsa,
    Ecc,
}

fn signing_template(alg: Alg, attributes: ObjectAttributes, restricted_scheme: bool) -> Public {
    let hash = AlgId::SHA256;
    let key = match alg {
        Alg::Rsa => PublicKey::Rsa {
            parameters: RsaParms {
                symmetric: SymDefObject::Null,
                scheme: if restricted_scheme {
                    RsaScheme::RsaSsa { hash }
                } else {
                    RsaScheme::Null
                },
                key_bits: 2048,
                exponent: 0,
            },
            unique: PublicKeyRsa::empty(),
        },
        Alg::Ecc => PublicKey::Ecc {
            parameters: EccParms {
                symmetric: SymDefObject::Null,
                scheme: if restricted_scheme {
                    EccScheme::Ecdsa { hash }
                } else {
                    EccScheme::Null
                },
                curve: EccCurve::NIST_P256,
                kdf: KdfScheme::Null,
            },
            unique: EccPoint::default(),
        },
    };
    Public {
        name_alg: AlgId::SHA256,
        object_attributes: attributes,
        auth_policy: Digest::empty(),
        key,
    }
}

fn sel(banks: &[(AlgId, &[u8])]) -> PcrSelectionList {
    PcrSelectionList::new(
        banks
            .iter()
            .map(|(bank, pcrs)| PcrSelection::new(*bank, pcrs).unwrap())
            .collect(),
    )
    .unwrap()
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

struct Env {
    sim: Swtpm,
    tpm: Tpm,
    frames: Frames,
    dir: tempfile::TempDir,
    empty: Auth,
}

impl Env {
    fn new() -> Env {
        let frames = Frames::default();
        let recorded = frames.clone();
        let (sim, tpm) = swtpm_with(move |inner| {
            Box::new(Recording {
                inner,
                frames: recorded,
            })
        });
        Env {
            sim,
            tpm,
            frames,
            dir: tempfile::tempdir().unwrap(),
            empty: Auth::empty(),
        }
    }

    /// A salted HMAC session encrypting the first command and response parameters.
    fn session(&self) -> Session {
        let salt = salt_key(&self.tpm, Salt::Ecc).expect("an ECC salt key");
        let opts = SessionOptions::hmac().salted(salt).encrypt(true, true);
        Session::start(&self.tpm, &opts).expect("a salted HMAC session")
    }

    /// CreatePrimary under `session` (its sensitive area goes to the TPM encrypted).
    fn create_primary(
        &self,
        session: &mut Session,
        hierarchy: Entity,
        template: Public,
    ) -> CreatePrimaryResponse {
        self.tpm
            .execute(
                &CreatePrimary {
                    primary_handle: hierarchy,
                    in_sensitive: Tpm2bSensitiveCreate(SensitiveCreate::default()),
                    in_public: Tpm2bPublic(template),
                    outside_info: Data::new(b"outside").unwrap(),
                    creation_pcr: sel(&[(AlgId::SHA256, &[PCR])]),
                },
                &mut [session.auth(&self.empty)],
            )
            .expect("CreatePrimary")
    }

    /// An AK made with CreatePrimary in `hierarchy`, and the verifier's view of it.
    fn ak(&self, session: &mut Session, alg: Alg, hierarchy: Handle) -> (Entity, AttestationKey) {
        let rsp = self.create_primary(
            session,
            Entity::from_handle(hierarchy),
            signing_template(alg, AK, true),
        );
        let public = rsp.out_public.0;
        let ak = AttestationKey::primary(hierarchy, public).expect("an attestation key");
        assert_eq!(ak.name(), &rsp.name);
        (Entity::new(rsp.object_handle, rsp.name), ak)
    }

    /// Extends PCR 16 in the SHA-256 and SHA-1 banks with random digests.
    fn extend(&self) {
        let digests = DigestValues::new(vec![
            HashValue::new(AlgId::SHA256, &random_bytes(32)).unwrap(),
            HashValue::new(AlgId::SHA1, &random_bytes(20)).unwrap(),
        ])
        .unwrap();
        self.tpm
            .execute(
                &PcrExtend {
                    pcr_handle: Entity::from_handle(Handle(u32::from(PCR))),
                    digests,
                },
                &mut [SessionSlot::Password(&self.empty)],
            )
            .expect("PCR_Extend");
    }

    /// The current values of a selection (a test knows what its own TPM holds).
    fn pcrs(&self, selection: &PcrSelectionList) -> PcrValues {
        let rsp = self.tpm.pcr_read(selection).expect("PCR_Read");
        assert_eq!(&rsp.pcr_selection_out, selection);
        PcrValues::from_pcr_read(&rsp.pcr_selection_out, &rsp.pcr_values).unwrap()
    }

    fn quote(
        &self,
        session: &mut Session,
        ak: &Entity,
        nonce: &[u8],
        selection: &PcrSelectionList,
    ) -> QuoteResponse {
        self.tpm
            .execute(
                &Quote {
                    sign_handle: ak.clone(),
                    qualifying_data: Data::new(nonce).unwrap(),
                    in_scheme: SigScheme::Null,
                    pcr_select: selection.clone(),
                },
                &mut [session.auth(&self.empty)],
            )
            .expect("Quote")
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// Runs a tpm2-tools command against this test's swtpm (never the default probe).
    fn tool(&self, args: &[&str]) -> Output {
        tpm2_tool(&self.sim.tcti(), args)
    }

    /// tpm2-tools leave what they load in swtpm (no resource manager).
    fn flush_transients(&self) {
        self.tool(&["tpm2_flushcontext", "-t"]);
    }
}

fn s(p: &std::path::Path) -> &str {
    p.to_str().unwrap()
}

// ---------------------------------------------------------------- quotes

#[test]
fn quotes_by_rsa_and_ecc_aks_verify_on_the_host() {
    let env = Env::new();
    env.extend();
    let mut session = env.session();
    let selection = sel(&[(AlgId::SHA256, &[0, PCR]), (AlgId::SHA1, &[PCR])]);
    for (alg, hierarchy) in [
        (Alg::Ecc, Handle::RH_ENDORSEMENT),
        (Alg::Rsa, Handle::RH_OWNER),
    ] {
        let (handle, ak) = env.ak(&mut session, alg, hierarchy);
        let expected = env.pcrs(&selection);
        assert_ne!(expected.get(HashAlg::Sha256, PCR), Some(&[0u8; 32][..]));
        let nonce = random_bytes(32);
        env.frames.lock().unwrap().clear();
        let q = env.quote(&mut session, &handle, &nonce, &selection);

        // The nonce went to the TPM encrypted, and the attestation came back encrypted.
        let frames = env.frames.lock().unwrap().clone();
        let (cmd, rsp) = frames
            .iter()
            .find(|(cmd, _)| cmd[6..10] == 0x158u32.to_be_bytes())
            .expect("a Quote frame");
        assert!(!contains(cmd, &nonce), "{alg:?}: nonce in clear");
        assert!(
            !contains(rsp, q.quoted.as_bytes()),
            "{alg:?}: quote in clear"
        );

        let report = verify_quote(&ak, q.quoted.as_bytes(), &q.signature, &nonce, &expected)
            .unwrap_or_else(|e| panic!("{alg:?}: {e}"));
        assert_eq!(report.pcr_select, selection);
        assert_eq!(report.hash, HashAlg::Sha256);
        let attest = Attestation::from_bytes(q.quoted.as_bytes()).unwrap();
        assert_eq!(report.clock.clock_info, attest.clock_info);
        assert_eq!(report.clock.firmware_version, attest.firmware_version);
        assert!(report.clock.clock_info.clock > 0);
        match (alg, &q.signature) {
            (Alg::Rsa, Signature::RsaSsa(_)) | (Alg::Ecc, Signature::Ecdsa(_)) => {}
            other => panic!("unexpected signature {other:?}"),
        }
        flush(&env.tpm, handle.handle);
    }
    session.flush().unwrap();
}

#[test]
fn tampered_quotes_are_refused_byte_by_byte() {
    let env = Env::new();
    env.extend();
    let mut session = env.session();
    let selection = sel(&[(AlgId::SHA256, &[PCR])]);
    for alg in [Alg::Ecc, Alg::Rsa] {
        let (handle, ak) = env.ak(&mut session, alg, Handle::RH_ENDORSEMENT);
        let expected = env.pcrs(&selection);
        let nonce = random_bytes(20);
        let q = env.quote(&mut session, &handle, &nonce, &selection);
        let attest = q.quoted.as_bytes().to_vec();
        verify_quote(&ak, &attest, &q.signature, &nonce, &expected).unwrap();

        // Every byte of the TPMS_ATTEST, each field included, flipped in turn.
        for i in 0..attest.len() {
            for flip in [0x01, 0x80] {
                let mut bad = attest.clone();
                bad[i] ^= flip;
                assert_eq!(
                    verify_quote(&ak, &bad, &q.signature, &nonce, &expected),
                    Err(AttestError::Signature(HostKeyError::Invalid)),
                    "{alg:?}: attest byte {i} ^ {flip:#x}"
                );
            }
        }
        // A byte more or less.
        assert!(verify_quote(&ak, &attest[1..], &q.signature, &nonce, &expected).is_err());
        let mut longer = attest.clone();
        longer.push(0);
        assert!(verify_quote(&ak, &longer, &q.signature, &nonce, &expected).is_err());

        // Every byte of the TPMT_SIGNATURE flipped in turn: it no longer parses, no longer
        // matches the key's scheme, or no longer verifies.
        let sig = q.signature.to_bytes();
        for i in 0..sig.len() {
            let mut bad = sig.clone();
            bad[i] ^= 0x04;
            if let Ok(parsed) = Signature::from_bytes(&bad) {
                let r = verify_quote(&ak, &attest, &parsed, &nonce, &expected);
                assert!(
                    matches!(r, Err(AttestError::Signature(_))),
                    "{alg:?}: signature byte {i}: {r:?}"
                );
            }
        }
        flush(&env.tpm, handle.handle);
    }
    session.flush().unwrap();
}

#[test]
fn a_stale_nonce_or_other_pcr_values_are_refused() {
    let env = Env::new();
    env.extend();
    let mut session = env.session();
    let (handle, ak) = env.ak(&mut session, Alg::Ecc, Handle::RH_ENDORSEMENT);
    let selection = sel(&[(AlgId::SHA256, &[0, PCR])]);
    let expected = env.pcrs(&selection);
    let nonce = random_bytes(32);
    let q = env.quote(&mut session, &handle, &nonce, &selection);
    let attest = q.quoted.as_bytes();
    verify_quote(&ak, attest, &q.signature, &nonce, &expected).unwrap();

    let stale = random_bytes(32);
    assert_eq!(
        verify_quote(&ak, attest, &q.signature, &stale, &expected),
        Err(AttestError::NonceMismatch)
    );
    assert_eq!(
        verify_quote(&ak, attest, &q.signature, &nonce[..31], &expected),
        Err(AttestError::NonceMismatch)
    );

    // The PCR moved on after the quote: the values read now are not the quoted ones.
    env.extend();
    let now = env.pcrs(&selection);
    assert_eq!(
        verify_quote(&ak, attest, &q.signature, &nonce, &now),
        Err(AttestError::PcrDigestMismatch)
    );
    // One value more, one fewer, than the quote covers.
    let more = env.pcrs(&sel(&[(AlgId::SHA256, &[0, 1, PCR])]));
    assert_eq!(
        verify_quote(&ak, attest, &q.signature, &nonce, &more),
        Err(AttestError::PcrNotQuoted {
            bank: AlgId::SHA256,
            pcr: 1
        })
    );
    let fewer = PcrValues::new()
        .with(
            HashAlg::Sha256,
            PCR,
            expected.get(HashAlg::Sha256, PCR).unwrap(),
        )
        .unwrap();
    assert_eq!(
        verify_quote(&ak, attest, &q.signature, &nonce, &fewer),
        Err(AttestError::PcrNotExpected {
            bank: AlgId::SHA256,
            pcr: 0
        })
    );
    // The same AK under another hierarchy is another signer.
    let elsewhere = AttestationKey::primary(Handle::RH_OWNER, ak.public().clone()).unwrap();
    assert_eq!(
        verify_quote(&elsewhere, attest, &q.signature, &nonce, &expected),
        Err(AttestError::SignerMismatch)
    );
    // A certification given where a quote is expected.
    let (cert, cert_sig) = certify(&env, &mut session, &handle, &handle, &nonce);
    assert_eq!(
        verify_quote(&ak, &cert, &cert_sig, &nonce, &expected),
        Err(AttestError::WrongType {
            expected: StructureTag::ATTEST_QUOTE,
            found: StructureTag::ATTEST_CERTIFY
        })
    );
    flush(&env.tpm, handle.handle);
    session.flush().unwrap();
}

#[test]
fn an_unrestricted_key_signs_a_forged_quote_and_is_refused() {
    let env = Env::new();
    let mut session = env.session();
    let rsp = env.create_primary(
        &mut session,
        Entity::owner(),
        signing_template(Alg::Ecc, SIGNER, true),
    );
    let signer = Entity::new(rsp.object_handle, rsp.name);
    let public = rsp.out_public.0;

    // A quote of PCR values the TPM never had, signed by a key that signs any digest.
    let nonce = random_bytes(32);
    let lie = PcrValues::new()
        .with(HashAlg::Sha256, PCR, &[0x42; 32])
        .unwrap();
    let forged = Attestation {
        magic: TPM_GENERATED_VALUE,
        qualified_signer: qualified_name(&hierarchy_qualified_name(Handle::RH_OWNER), &public)
            .unwrap(),
        extra_data: Data::new(&nonce).unwrap(),
        clock_info: Default::default(),
        firmware_version: 0,
        attested: tpm2_wire::wire::Attested::Quote(tpm2_wire::wire::QuoteInfo {
            pcr_select: lie.selection(),
            pcr_digest: crypto::hash(HashAlg::Sha256, &[&[0x42; 32]]),
        }),
    }
    .to_bytes();
    let digest = crypto::hash(HashAlg::Sha256, &[&forged]);
    let sign = |key: &Entity, validation: Ticket, session: &mut Session| {
        env.tpm.execute(
            &Sign {
                key_handle: key.clone(),
                digest: digest.clone(),
                in_scheme: SigScheme::Null,
                validation,
            },
            &mut [session.auth(&env.empty)],
        )
    };
    let sig = sign(&signer, Ticket::null(StructureTag::HASHCHECK), &mut session)
        .expect("an unrestricted key signs any digest")
        .signature;
    // The signature is genuine: only the key's attributes tell the forgery apart.
    verify_message(&public, &forged, &sig).unwrap();
    assert!(matches!(
        AttestationKey::primary(Handle::RH_OWNER, public),
        Err(AttestError::NotRestricted(_))
    ));

    // A restricted key refuses the same digest, with or without a ticket from TPM2_Hash
    // (the TPM gives none for data that starts with TPM_GENERATED_VALUE).
    let (ak, _) = env.ak(&mut session, Alg::Ecc, Handle::RH_OWNER);
    assert!(sign(&ak, Ticket::null(StructureTag::HASHCHECK), &mut session).is_err());
    let hashed = env
        .tpm
        .run(&Hash {
            data: MaxBuffer::new(&forged).unwrap(),
            hash_alg: AlgId::SHA256,
            hierarchy: Handle::RH_OWNER,
        })
        .unwrap();
    assert_eq!(hashed.out_hash, digest);
    assert_eq!(hashed.validation.hierarchy, Handle::RH_NULL);
    assert!(hashed.validation.digest.is_empty());
    assert!(sign(&ak, hashed.validation, &mut session).is_err());
    flush(&env.tpm, ak.handle);
    flush(&env.tpm, signer.handle);
    session.flush().unwrap();
}

// ---------------------------------------------------------------- certifications

/// TPM2_Certify of `object` (authorized by password) signed by `ak` (through `session`).
fn certify(
    env: &Env,
    session: &mut Session,
    object: &Entity,
    ak: &Entity,
    nonce: &[u8],
) -> (Vec<u8>, Signature) {
    let rsp = env
        .tpm
        .execute(
            &Certify {
                object_handle: object.clone(),
                sign_handle: ak.clone(),
                qualifying_data: Data::new(nonce).unwrap(),
                in_scheme: SigScheme::Null,
            },
            &mut [SessionSlot::Password(&env.empty), session.auth(&env.empty)],
        )
        .expect("Certify");
    (rsp.certify_info.as_bytes().to_vec(), rsp.signature)
}

/// Every single-byte change of `attest` makes `verify` fail.
fn tamper_each_byte(what: &str, attest: &[u8], verify: impl Fn(&[u8]) -> Result<(), AttestError>) {
    verify(attest).unwrap_or_else(|e| panic!("{what}: {e}"));
    for i in 0..attest.len() {
        let mut bad = attest.to_vec();
        bad[i] ^= 0x10;
        assert_eq!(
            verify(&bad),
            Err(AttestError::Signature(HostKeyError::Invalid)),
            "{what}: byte {i}"
        );
    }
}

/// NV_Certify of the 8 octets at offset 4 of `nv` (which holds `attested-octets!`) by
/// `sign_handle`: the attestation verifies, every byte tampered is refused, and so are other
/// contents.
fn nv_certify_verifies(
    env: &Env,
    ak: &AttestationKey,
    sign_handle: &Entity,
    nv: &Entity,
    nonce: &[u8],
    sessions: &mut [SessionSlot<'_>],
    what: &str,
) {
    let rsp = env
        .tpm
        .execute(
            &NvCertify {
                sign_handle: sign_handle.clone(),
                auth_handle: nv.clone(),
                nv_index: nv.clone(),
                qualifying_data: Data::new(nonce).unwrap(),
                in_scheme: SigScheme::Null,
                size: 8,
                offset: 4,
            },
            sessions,
        )
        .unwrap_or_else(|e| panic!("{what}: {e}"));
    let verify = |a: &[u8], contents: &[u8]| {
        verify_nv_certify(ak, a, &rsp.signature, nonce, &nv.name, 4, contents).map(|_| ())
    };
    tamper_each_byte(what, rsp.certify_info.as_bytes(), |a| {
        verify(a, b"sted-oct")
    });
    assert_eq!(
        verify(rsp.certify_info.as_bytes(), b"sted-occ"),
        Err(AttestError::NvContentsMismatch),
        "{what}"
    );
}

/// GetTime by `sign_handle`: the attestation verifies and its two clocks agree.
fn get_time_verifies(
    env: &Env,
    ak: &AttestationKey,
    sign_handle: &Entity,
    nonce: &[u8],
    sessions: &mut [SessionSlot<'_>],
    what: &str,
) -> GetTimeResponse {
    let rsp = env
        .tpm
        .execute(
            &GetTime {
                privacy_admin_handle: Entity::endorsement(),
                sign_handle: sign_handle.clone(),
                qualifying_data: Data::new(nonce).unwrap(),
                in_scheme: SigScheme::Null,
            },
            sessions,
        )
        .unwrap_or_else(|e| panic!("{what}: {e}"));
    let report = verify_time(ak, rsp.time_info.as_bytes(), &rsp.signature, nonce).unwrap();
    assert_eq!(report.time.clock_info, report.clock.clock_info, "{what}");
    rsp
}

#[test]
fn certifications_verify_and_their_tampered_versions_fail() {
    let env = Env::new();
    let mut session = env.session();
    let nonce = random_bytes(32);
    let object = env.create_primary(
        &mut session,
        Entity::owner(),
        Public::ecc_p256_storage_parent(),
    );
    let object_entity = Entity::new(object.object_handle, object.name.clone());
    let nv_auth = pw("nv");
    env.tpm
        .execute(
            &NvDefineSpace {
                auth_handle: Entity::owner(),
                auth: nv_auth.clone(),
                public_info: Tpm2bNvPublic(NvPublic {
                    nv_index: Handle(NV_INDEX),
                    name_alg: AlgId::SHA256,
                    attributes: NvAttributes::AUTHREAD
                        | NvAttributes::AUTHWRITE
                        | NvAttributes::NO_DA,
                    auth_policy: Digest::empty(),
                    data_size: 16,
                }),
            },
            &mut [session.auth(&env.empty)],
        )
        .expect("NV_DefineSpace");
    let (nv, _) = env.tpm.nv_read_public(Handle(NV_INDEX)).unwrap();
    env.tpm
        .execute(
            &NvWrite {
                auth_handle: nv.clone(),
                nv_index: nv.clone(),
                data: MaxNvBuffer::new(b"attested-octets!").unwrap(),
                offset: 0,
            },
            &mut [session.auth(&nv_auth)],
        )
        .expect("NV_Write");
    // The index's name changed when it was written.
    let (nv, _) = env.tpm.nv_read_public(Handle(NV_INDEX)).unwrap();

    for alg in [Alg::Ecc, Alg::Rsa] {
        let (handle, ak) = env.ak(&mut session, alg, Handle::RH_ENDORSEMENT);

        let (attest, sig) = certify(&env, &mut session, &object_entity, &handle, &nonce);
        tamper_each_byte(&format!("{alg:?} Certify"), &attest, |a| {
            verify_certify(&ak, a, &sig, &nonce, &object.name).map(|_| ())
        });
        let report = verify_certify(&ak, &attest, &sig, &nonce, &object.name).unwrap();
        assert_eq!(
            report.qualified_name,
            qualified_name(
                &hierarchy_qualified_name(Handle::RH_OWNER),
                &object.out_public.0
            )
            .unwrap()
        );
        assert_eq!(
            verify_certify(&ak, &attest, &sig, &nonce, ak.name()),
            Err(AttestError::CertifiedNameMismatch)
        );

        let rsp = env
            .tpm
            .execute(
                &CertifyCreation {
                    sign_handle: handle.clone(),
                    object_handle: object_entity.clone(),
                    qualifying_data: Data::new(&nonce).unwrap(),
                    creation_hash: object.creation_hash.clone(),
                    in_scheme: SigScheme::Null,
                    creation_ticket: object.creation_ticket.clone(),
                },
                &mut [session.auth(&env.empty)],
            )
            .expect("CertifyCreation");
        let hash = object.creation_hash.as_bytes();
        // The creation hash is the object's nameAlg hash of the creation data it came with.
        assert_eq!(
            crypto::hash(HashAlg::Sha256, &[object.creation_data.as_bytes()]).as_bytes(),
            hash
        );
        tamper_each_byte(
            &format!("{alg:?} CertifyCreation"),
            rsp.certify_info.as_bytes(),
            |a| {
                verify_certify_creation(&ak, a, &rsp.signature, &nonce, &object.name, hash)
                    .map(|_| ())
            },
        );
        assert_eq!(
            verify_certify_creation(
                &ak,
                rsp.certify_info.as_bytes(),
                &rsp.signature,
                &nonce,
                &object.name,
                &[0; 32]
            ),
            Err(AttestError::CreationHashMismatch)
        );

        nv_certify_verifies(
            &env,
            &ak,
            &handle,
            &nv,
            &nonce,
            &mut [session.auth(&env.empty), SessionSlot::Password(&nv_auth)],
            &format!("{alg:?} NV_Certify"),
        );

        let rsp = get_time_verifies(
            &env,
            &ak,
            &handle,
            &nonce,
            &mut [SessionSlot::Password(&env.empty), session.auth(&env.empty)],
            &format!("{alg:?} GetTime"),
        );
        tamper_each_byte(&format!("{alg:?} GetTime"), rsp.time_info.as_bytes(), |a| {
            verify_time(&ak, a, &rsp.signature, &nonce).map(|_| ())
        });
        flush(&env.tpm, handle.handle);
    }
    undefine_nv(&env.tpm, &nv);
    flush(&env.tpm, object.object_handle);
    session.flush().unwrap();
}

// ---------------------------------------------------------------- signatures both ways

#[test]
fn tpm_signatures_verify_on_the_host_and_host_signatures_in_the_tpm() {
    let env = Env::new();
    let mut session = env.session();
    let digest = crypto::hash(HashAlg::Sha256, &[b"signed on the TPM"]);

    // Unrestricted keys with no scheme of their own, signing with each scheme asked for.
    for (alg, schemes) in [
        (
            Alg::Rsa,
            vec![
                SigScheme::RsaSsa {
                    hash: AlgId::SHA256,
                },
                SigScheme::RsaPss {
                    hash: AlgId::SHA256,
                },
            ],
        ),
        (
            Alg::Ecc,
            vec![SigScheme::Ecdsa {
                hash: AlgId::SHA256,
            }],
        ),
    ] {
        let rsp = env.create_primary(
            &mut session,
            Entity::owner(),
            signing_template(alg, SIGNER, false),
        );
        let key = Entity::new(rsp.object_handle, rsp.name);
        let public = rsp.out_public.0;
        for scheme in schemes {
            let sig = env
                .tpm
                .execute(
                    &Sign {
                        key_handle: key.clone(),
                        digest: digest.clone(),
                        in_scheme: scheme,
                        validation: Ticket::null(StructureTag::HASHCHECK),
                    },
                    &mut [session.auth(&env.empty)],
                )
                .expect("Sign")
                .signature;
            assert_eq!(sig.sig_alg(), scheme.scheme());
            verify_digest(&public, digest.as_bytes(), &sig)
                .unwrap_or_else(|e| panic!("{scheme:?}: {e}"));
            let other = crypto::hash(HashAlg::Sha256, &[b"something else"]);
            assert_eq!(
                verify_digest(&public, other.as_bytes(), &sig),
                Err(HostKeyError::Invalid)
            );
        }
        flush(&env.tpm, key.handle);
    }

    // A restricted key signs a digest the TPM hashed itself, proven by TPM2_Hash's ticket.
    let (ak, ak_view) = env.ak(&mut session, Alg::Rsa, Handle::RH_OWNER);
    let data = b"not a TPMS_ATTEST";
    let hashed = env
        .tpm
        .run(&Hash {
            data: MaxBuffer::new(data).unwrap(),
            hash_alg: AlgId::SHA256,
            hierarchy: Handle::RH_OWNER,
        })
        .expect("Hash");
    assert_eq!(hashed.validation.tag, StructureTag::HASHCHECK);
    assert_eq!(hashed.validation.hierarchy, Handle::RH_OWNER);
    let sig = env
        .tpm
        .execute(
            &Sign {
                key_handle: ak.clone(),
                digest: hashed.out_hash.clone(),
                in_scheme: SigScheme::Null,
                validation: hashed.validation,
            },
            &mut [session.auth(&env.empty)],
        )
        .expect("Sign with a hashcheck ticket")
        .signature;
    verify_message(ak_view.public(), data, &sig).unwrap();
    flush(&env.tpm, ak.handle);

    // Host keys loaded as public keys; host signatures checked by the TPM.
    let rsa_key = rsa::RsaPrivateKey::new(&mut rand_core::OsRng, 2048).unwrap();
    let p256_key = p256::ecdsa::SigningKey::random(&mut rand_core::OsRng);
    let p384_key = p384::ecdsa::SigningKey::random(&mut rand_core::OsRng);
    let d384 = crypto::hash(HashAlg::Sha384, &[b"signed on the host"]);
    let d256 = crypto::hash(HashAlg::Sha256, &[b"signed on the host"]);
    let signed: Vec<(&str, HostPublicKey, Digest, Signature)> = {
        use p256::ecdsa::signature::hazmat::PrehashSigner;
        let ssa = rsa_key
            .sign(
                rsa::Pkcs1v15Sign::new::<rsa::sha2::Sha256>(),
                d256.as_bytes(),
            )
            .unwrap();
        let pss = rsa_key
            .sign_with_rng(
                &mut rand_core::OsRng,
                rsa::Pss::new::<rsa::sha2::Sha256>(),
                d256.as_bytes(),
            )
            .unwrap();
        let e256: p256::ecdsa::Signature = p256_key.sign_prehash(d256.as_bytes()).unwrap();
        let e384: p384::ecdsa::Signature = p384_key.sign_prehash(d384.as_bytes()).unwrap();
        let rsa_pub = HostPublicKey::Rsa(rsa_key.to_public_key());
        vec![
            (
                "RSASSA",
                rsa_pub.clone(),
                d256.clone(),
                signature_from_rsa_pkcs1v15(
                    AlgId::SHA256,
                    &rsa::pkcs1v15::Signature::try_from(ssa.as_slice()).unwrap(),
                )
                .unwrap(),
            ),
            (
                "RSAPSS",
                rsa_pub,
                d256.clone(),
                signature_from_rsa_pss(
                    AlgId::SHA256,
                    &rsa::pss::Signature::try_from(pss.as_slice()).unwrap(),
                )
                .unwrap(),
            ),
            (
                "ECDSA P-256",
                HostPublicKey::P256(*p256_key.verifying_key()),
                d256.clone(),
                signature_from_p256(AlgId::SHA256, &e256),
            ),
            (
                "ECDSA P-384",
                HostPublicKey::P384(*p384_key.verifying_key()),
                d384,
                signature_from_p384(AlgId::SHA384, &e384),
            ),
        ]
    };
    for (what, key, digest, sig) in signed {
        let public = key
            .to_public(AlgId::SHA256, HOST_KEY, SigScheme::Null)
            .unwrap();
        verify_digest(&public, digest.as_bytes(), &sig).unwrap();
        let loaded = env
            .tpm
            .run(&LoadExternal {
                in_private: OptionalSensitive::none(),
                in_public: Tpm2bPublic(public.clone()),
                hierarchy: Handle::RH_NULL,
            })
            .unwrap_or_else(|e| panic!("{what}: LoadExternal: {e}"));
        assert_eq!(loaded.name, object_name(&public).unwrap(), "{what}");
        let key_entity = Entity::new(loaded.object_handle, loaded.name);
        let ticket = env
            .tpm
            .run(&VerifySignature {
                key_handle: key_entity.clone(),
                digest: digest.clone(),
                signature: sig.clone(),
            })
            .unwrap_or_else(|e| panic!("{what}: VerifySignature: {e}"))
            .validation;
        assert_eq!(ticket.tag, StructureTag::VERIFIED, "{what}");
        // The TPM refuses the signature over another digest.
        let mut other = digest.clone();
        other.as_mut_bytes()[0] ^= 1;
        assert!(
            env.tpm
                .run(&VerifySignature {
                    key_handle: key_entity.clone(),
                    digest: other,
                    signature: sig,
                })
                .is_err(),
            "{what}"
        );
        flush(&env.tpm, key_entity.handle);
    }
    session.flush().unwrap();
}

// ---------------------------------------------------------------- tpm2-tools

#[test]
fn our_quotes_pass_tpm2_checkquote() {
    let env = Env::new();
    env.extend();
    let mut session = env.session();
    let selection = sel(&[(AlgId::SHA256, &[0, PCR]), (AlgId::SHA1, &[PCR])]);
    let pcr_list = "sha256:0,16+sha1:16";
    for alg in [Alg::Ecc, Alg::Rsa] {
        let (handle, ak) = env.ak(&mut session, alg, Handle::RH_ENDORSEMENT);
        let expected = env.pcrs(&selection);
        let nonce = random_bytes(32);
        let q = env.quote(&mut session, &handle, &nonce, &selection);
        verify_quote(&ak, q.quoted.as_bytes(), &q.signature, &nonce, &expected).unwrap();

        // The files tpm2_checkquote reads: a TPM2B_PUBLIC, the TPMS_ATTEST bytes, a
        // TPMT_SIGNATURE, and the PCR values in selection order ("values" format, with -l).
        let (ak_pub, msg, sig, pcrs) = (
            env.path("ak.pub"),
            env.path("msg"),
            env.path("sig"),
            env.path("pcrs"),
        );
        std::fs::write(&ak_pub, Tpm2bPublic(ak.public().clone()).to_bytes()).unwrap();
        std::fs::write(&msg, q.quoted.as_bytes()).unwrap();
        std::fs::write(&sig, q.signature.to_bytes()).unwrap();
        let mut values = Vec::new();
        for s in selection.iter() {
            let bank = HashAlg::from_alg_id(s.hash).unwrap();
            for pcr in s.select.pcrs() {
                values.extend_from_slice(expected.get(bank, pcr).unwrap());
            }
        }
        std::fs::write(&pcrs, &values).unwrap();
        let nonce_hex = hex(&nonce);
        let check = |msg: &std::path::Path| {
            Command::new("tpm2_checkquote")
                .args([
                    "-u",
                    s(&ak_pub),
                    "-m",
                    s(msg),
                    "-s",
                    s(&sig),
                    "-f",
                    s(&pcrs),
                ])
                .args(["-l", pcr_list, "-g", "sha256", "-q", &nonce_hex])
                .output()
                .expect("tpm2-tools must be installed (Debian package tpm2-tools)")
        };
        let out = check(&msg);
        assert!(
            out.status.success(),
            "{alg:?}: tpm2_checkquote refused our quote: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        // And it does check: a changed byte of the quote fails there too.
        let mut bad = q.quoted.as_bytes().to_vec();
        let last = bad.len() - 1;
        bad[last] ^= 1;
        let bad_msg = env.path("bad-msg");
        std::fs::write(&bad_msg, &bad).unwrap();
        assert!(!check(&bad_msg).status.success(), "{alg:?}");
        flush(&env.tpm, handle.handle);
    }
    session.flush().unwrap();
}

#[test]
fn tpm2_quote_verifies_with_ours() {
    let env = Env::new();
    env.extend();
    let p = |n: &str| env.path(n);
    // An EK and an AK under it, as an attestation client using tpm2-tools would make them.
    env.tool(&[
        "tpm2_createek",
        "-c",
        s(&p("ek.ctx")),
        "-G",
        "ecc",
        "-u",
        s(&p("ek.pub")),
    ]);
    env.flush_transients();
    env.tool(&[
        "tpm2_createak",
        "-C",
        s(&p("ek.ctx")),
        "-c",
        s(&p("ak.ctx")),
        "-G",
        "rsa",
        "-g",
        "sha256",
        "-s",
        "rsassa",
        "-u",
        s(&p("ak.pub")),
        "-n",
        s(&p("ak.name")),
    ]);
    env.flush_transients();
    let nonce = random_bytes(16);
    let pcr_list = "sha256:0,16+sha1:16";
    env.tool(&[
        "tpm2_quote",
        "-c",
        s(&p("ak.ctx")),
        "-l",
        pcr_list,
        "-q",
        &hex(&nonce),
        "-g",
        "sha256",
        "-m",
        s(&p("msg")),
        "-s",
        s(&p("sig")),
        "-o",
        s(&p("pcrs")),
        "-F",
        "values",
    ]);
    env.flush_transients();

    let read = |n: &str| std::fs::read(p(n)).unwrap();
    let ek = Tpm2bPublic::from_bytes(&read("ek.pub")).unwrap().0;
    let ak_public = Tpm2bPublic::from_bytes(&read("ak.pub")).unwrap().0;
    assert_eq!(object_name(&ak_public).unwrap().as_bytes(), read("ak.name"));
    // The AK's parent is the EK, whose parent is the endorsement hierarchy.
    let ek_qn = qualified_name(&hierarchy_qualified_name(Handle::RH_ENDORSEMENT), &ek).unwrap();
    let ak = AttestationKey::child(&ek_qn, ak_public).expect("tpm2_createak makes an AK");
    let sig = Signature::from_bytes(&read("sig")).unwrap();
    let msg = read("msg");
    // The "values" PCR file: the digests in the order of the selection.
    let values = read("pcrs");
    let (sha256, sha1) = values.split_at(64);
    let expected = PcrValues::new()
        .with(HashAlg::Sha256, 0, &sha256[..32])
        .unwrap()
        .with(HashAlg::Sha256, PCR, &sha256[32..])
        .unwrap()
        .with(HashAlg::Sha1, PCR, sha1)
        .unwrap();
    // What the tool wrote is what the TPM holds.
    assert_eq!(
        env.pcrs(&sel(&[(AlgId::SHA256, &[0, PCR]), (AlgId::SHA1, &[PCR])])),
        expected
    );
    let report = verify_quote(&ak, &msg, &sig, &nonce, &expected).expect("tpm2_quote verifies");
    assert_eq!(report.pcr_select.len(), 2);
    assert!(matches!(sig, Signature::RsaSsa(_)));
    let mut stale = nonce.clone();
    stale[0] ^= 1;
    assert_eq!(
        verify_quote(&ak, &msg, &sig, &stale, &expected),
        Err(AttestError::NonceMismatch)
    );
}

// ---------------------------------------------------------------- two sessions, two handles

/// The commands that authorize two handles, each handle through its own session: a salted
/// HMAC session that encrypts for the signing key, and a second HMAC session (another hash,
/// no encryption) or a policy session for the other handle. Each result is checked as above.
#[test]
fn two_authorized_handles_through_two_sessions() {
    let env = Env::new();
    // The salt key is flushed once the session holds the salt: the object slots are needed.
    let salt = salt_key(&env.tpm, Salt::Ecc).expect("an ECC salt key");
    let mut signer_session = Session::start(
        &env.tpm,
        &SessionOptions::hmac()
            .salted(salt.clone())
            .encrypt(true, true),
    )
    .expect("a salted HMAC session");
    flush(&env.tpm, salt.entity().handle);
    let mut other = Session::start(&env.tpm, &SessionOptions::hmac().hash(HashAlg::Sha384))
        .expect("a second HMAC session");
    assert_ne!(signer_session.handle(), other.handle());
    let nonce = random_bytes(32);

    let object = env.create_primary(
        &mut signer_session,
        Entity::owner(),
        Public::ecc_p256_storage_parent(),
    );
    let object_entity = Entity::new(object.object_handle, object.name.clone());
    let (ak_handle, ak) = env.ak(&mut signer_session, Alg::Ecc, Handle::RH_ENDORSEMENT);

    // Certify: the object (ADMIN role) by the second HMAC session, the AK by the salted one.
    let rsp = env
        .tpm
        .execute(
            &Certify {
                object_handle: object_entity.clone(),
                sign_handle: ak_handle.clone(),
                qualifying_data: Data::new(&nonce).unwrap(),
                in_scheme: SigScheme::Null,
            },
            &mut [other.auth(&env.empty), signer_session.auth(&env.empty)],
        )
        .expect("Certify, two HMAC sessions");
    let attest = rsp.certify_info.as_bytes();
    tamper_each_byte("Certify, two sessions", attest, |a| {
        verify_certify(&ak, a, &rsp.signature, &nonce, &object.name).map(|_| ())
    });
    assert_eq!(
        verify_certify(&ak, attest, &rsp.signature, &nonce, ak.name()),
        Err(AttestError::CertifiedNameMismatch)
    );
    flush(&env.tpm, object.object_handle);

    // Certify again, the object's ADMIN role through a policy session: an object with
    // adminWithPolicy and the policy PolicyCommandCode(Certify) + PolicyAuthValue.
    let policy = tpm2_wire::session::policy::PolicyCalculator::new(HashAlg::Sha256)
        .policy_command_code(tpm2_wire::wire::CommandCode::CERTIFY)
        .policy_auth_value()
        .digest()
        .clone();
    let mut template = Public::ecc_p256_storage_parent();
    template.auth_policy = policy;
    template.object_attributes |= ObjectAttributes::ADMIN_WITH_POLICY;
    let admin = env.create_primary(&mut signer_session, Entity::owner(), template);
    let admin_entity = Entity::new(admin.object_handle, admin.name.clone());
    let mut policy_session =
        Session::start(&env.tpm, &SessionOptions::policy()).expect("a policy session");
    policy_session
        .policy_command_code(tpm2_wire::wire::CommandCode::CERTIFY)
        .unwrap();
    policy_session.policy_auth_value().unwrap();
    let rsp = env
        .tpm
        .execute(
            &Certify {
                object_handle: admin_entity.clone(),
                sign_handle: ak_handle.clone(),
                qualifying_data: Data::new(&nonce).unwrap(),
                in_scheme: SigScheme::Null,
            },
            &mut [
                policy_session.auth(&env.empty),
                signer_session.auth(&env.empty),
            ],
        )
        .expect("Certify, policy and HMAC sessions");
    let report = verify_certify(
        &ak,
        rsp.certify_info.as_bytes(),
        &rsp.signature,
        &nonce,
        &admin.name,
    )
    .expect("the certification verifies");
    assert_eq!(
        report.qualified_name,
        qualified_name(
            &hierarchy_qualified_name(Handle::RH_OWNER),
            &admin.out_public.0
        )
        .unwrap()
    );
    policy_session.flush().unwrap();
    flush(&env.tpm, admin.object_handle);

    // NV_Certify: the AK by the salted session, the index by the second session.
    let nv_auth = pw("nv two sessions");
    let nv = written_nv(
        &env.tpm,
        NV_INDEX + 1,
        &nv_auth,
        nv_auth_rw(),
        b"attested-octets!",
    );
    nv_certify_verifies(
        &env,
        &ak,
        &ak_handle,
        &nv,
        &nonce,
        &mut [signer_session.auth(&env.empty), other.auth(&nv_auth)],
        "NV_Certify, two sessions",
    );
    undefine_nv(&env.tpm, &nv);

    // GetTime: the privacy administrator by the second session, the AK by the salted one.
    get_time_verifies(
        &env,
        &ak,
        &ak_handle,
        &nonce,
        &mut [other.auth(&env.empty), signer_session.auth(&env.empty)],
        "GetTime, two sessions",
    );

    // GetSessionAuditDigest, signed: the privacy administrator by the second session, the AK
    // by the salted one; the attested digest is the one the host kept for the audit session.
    let mut audit = Session::start(&env.tpm, &SessionOptions::audit()).expect("audit session");
    for n in [8, 16] {
        random_through(&env.tpm, &mut audit, n);
    }
    let host_digest = audit.state().audit_digest().cloned().expect("audited");
    let rsp = env
        .tpm
        .execute(
            &tpm2_wire::command::GetSessionAuditDigest {
                privacy_admin_handle: Entity::endorsement(),
                sign_handle: ak_handle.clone(),
                session_handle: Entity::from_handle(audit.handle()),
                qualifying_data: Data::new(&nonce).unwrap(),
                in_scheme: AlgId::NULL,
            },
            &mut [other.auth(&env.empty), signer_session.auth(&env.empty)],
        )
        .expect("GetSessionAuditDigest, two sessions");
    let verified = tpm2_wire::attest::verify_attestation(
        &ak,
        rsp.audit_info.as_bytes(),
        &rsp.signature,
        &nonce,
    )
    .expect("the audit attestation verifies");
    match verified.attestation.attested {
        tpm2_wire::wire::Attested::SessionAudit(info) => {
            assert_eq!(info.session_digest, host_digest)
        }
        other => panic!("not a session audit attestation: {other:?}"),
    }
    let mut tampered = rsp.audit_info.as_bytes().to_vec();
    let last = tampered.len() - 1;
    tampered[last] ^= 1;
    assert!(tpm2_wire::attest::verify_attestation(&ak, &tampered, &rsp.signature, &nonce).is_err());
    audit.flush().unwrap();

    flush(&env.tpm, ak_handle.handle);
    other.flush().unwrap();
    signer_session.flush().unwrap();
    assert_nothing_loaded(&env.tpm);
}
