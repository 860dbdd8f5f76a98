//! Keys as RAII handles and credentials, against a private swtpm, with tpm2-tools 5.4 as the
//! independent peer.
//!
//! Keys: every template of `tpm2_wire::keys::templates` makes a working key (signatures verify
//! on the host, decryption keys salt sessions, storage parents hold children, sealed data
//! unseals under its policy only); keys flush themselves when dropped, persistent ones stay;
//! a TPM that names an object other than by the hash of its public area is refused and the
//! object flushed.
//!
//! Credentials: made on the host for an attestation key and encrypted to an EK (templates L-1,
//! L-2 and H-3), they are released by the TPM with the same secret; a credential for another
//! name, or altered, is refused with the TPM's response code; credentials cross over with
//! `tpm2_makecredential` / `tpm2_activatecredential` in both directions.

mod common;

use std::path::{Path, PathBuf};
use std::process::Output;

use common::*;
use rsa::signature::Verifier;
use tpm2_wire::client::{SaltKey, Session, SessionOptions};
use tpm2_wire::command::{Entity, MakeCredential, PcrExtend, Unseal};
use tpm2_wire::crypto::HashAlg;
use tpm2_wire::ek::{CaBundle, EkAlg, EkTemplate, VerifiedEk};
use tpm2_wire::files::{read_credential_file, write_credential_file, CredentialFile};
use tpm2_wire::keys::{
    make_credential, templates, Key, KeyAlg, KeyError, PersistentKey, TpmObject,
};
use tpm2_wire::session::engine::SessionSlot;
use tpm2_wire::session::policy::PolicyCalculator;
use tpm2_wire::sim::{Relay, Swtpm, Tamper};
use tpm2_wire::tpm_command;
use tpm2_wire::transport::SwtpmTransport;
use tpm2_wire::wire::{
    AlgId, Auth, CommandCode, CredentialSecret, Digest, DigestValues, EncryptedSecret, Handle,
    HashValue, HashcheckTicket, IdObject, Marshal, MaxBuffer, PcrSelection, PcrSelectionList,
    PublicKey, SensitiveCreate, SensitiveData, SigScheme, Signature, StructureTag, Ticket,
    Tpm2bPublic, TpmRc,
};
use tpm2_wire::{Error, Tpm};

tpm_command! {
    /// TPM2_Hash, for the ticket a restricted key needs to sign a digest.
    Hash = HASH {
        auth_handles: [], handles: [],
        params: { data: MaxBuffer, hash_alg: AlgId, hierarchy: Handle },
    }
    /// TPM2_Hash's response.
    HashResponse { handles: [], params: { out_hash: Digest, validation: HashcheckTicket } }
}

tpm_command! {
    /// TPM2_Sign.
    Sign = SIGN {
        auth_handles: [key_handle], handles: [],
        params: { digest: Digest, in_scheme: SigScheme, validation: HashcheckTicket },
    }
    /// TPM2_Sign's response.
    SignResponse { handles: [], params: { signature: Signature } }
}

fn empty() -> Auth {
    Auth::empty()
}

/// A primary key under `hierarchy` (empty hierarchy auth, by password) with an empty auth
/// value.
fn primary(tpm: &Tpm, hierarchy: Entity, template: &tpm2_wire::wire::Public) -> Key {
    let e = empty();
    Key::create_primary(
        tpm,
        &hierarchy,
        &mut [SessionSlot::Password(&e)],
        template,
        &e,
    )
    .expect("CreatePrimary")
}

fn ek(tpm: &Tpm, template: EkTemplate) -> Key {
    primary(tpm, Entity::endorsement(), &template.public())
}

/// A key created and loaded under `parent` (empty parent auth, by password).
fn child(tpm: &Tpm, parent: &Key, template: &tpm2_wire::wire::Public, auth: &Auth) -> Key {
    let e = empty();
    Key::create_and_load(
        tpm,
        parent.entity(),
        &mut [SessionSlot::Password(&e)],
        template,
        &SensitiveCreate {
            user_auth: auth.clone(),
            ..SensitiveCreate::default()
        },
    )
    .expect("Create and Load")
}

fn transients(tpm: &Tpm) -> Vec<Handle> {
    tpm.handles(Handle(0x8000_0000)).expect("transient handles")
}

fn persistents(tpm: &Tpm) -> Vec<Handle> {
    tpm.handles(Handle(0x8100_0000))
        .expect("persistent handles")
}

/// Activates with the AK's empty auth value and the endorsement hierarchy's empty auth.
fn activate(
    tpm: &Tpm,
    ak: &Key,
    ek: &impl TpmObject,
    id: &IdObject,
    secret: &EncryptedSecret,
) -> Result<CredentialSecret, KeyError> {
    let (a, e) = (empty(), empty());
    tpm.activate_credential(
        ak.entity(),
        SessionSlot::Password(&a),
        ek,
        SessionSlot::Password(&e),
        id,
        secret,
    )
}

/// The TPM refused ActivateCredential with `code` (its base code).
fn refused_with(result: Result<CredentialSecret, KeyError>, code: TpmRc) {
    let e = result.expect_err("the TPM must refuse the credential");
    let rc = e
        .response_code()
        .unwrap_or_else(|| panic!("not a TPM error: {e}"));
    assert_eq!(rc.base_code(), code, "{e}");
    match &e {
        KeyError::Tpm { source, .. } => assert!(
            matches!(**source, Error::Tpm { command, .. } if command == CommandCode::ACTIVATE_CREDENTIAL),
            "{e}"
        ),
        other => panic!("{other}"),
    }
}

#[test]
fn host_made_credentials_activate_on_the_tpm_for_their_key_only() {
    let (_sim, tpm, frames) = swtpm_recording();
    // swtpm holds three transient objects: the storage parent, an EK and an AK.
    let srk = primary(
        &tpm,
        Entity::owner(),
        &templates::storage_parent(KeyAlg::Rsa2048),
    );
    for (template, ak_alg, under_srk) in [
        (EkTemplate::L1, KeyAlg::Rsa2048, true),
        (EkTemplate::L2, KeyAlg::EccP256, false),
        (EkTemplate::H3, KeyAlg::EccP256, true),
    ] {
        let ek = ek(&tpm, template);
        // AKs made both ways: created under the storage parent, and primary.
        let ak_template = templates::attestation_key(ak_alg);
        let ak = if under_srk {
            child(&tpm, &srk, &ak_template, &empty())
        } else {
            primary(&tpm, Entity::endorsement(), &ak_template)
        };
        let digest = HashAlg::from_alg_id(ek.public().name_alg)
            .unwrap()
            .digest_size();
        for len in [1, 16, digest] {
            let secret = random_bytes(len);
            let (id, seed) = make_credential(ek.public(), &ak.entity().name, &secret).unwrap();
            frames.lock().unwrap().clear();
            let released = activate(&tpm, &ak, &ek, &id, &seed).expect("ActivateCredential");
            assert_eq!(released.as_bytes(), secret, "{template} {len}");
            // The credential crossed the bus encrypted (the protector's session encrypts
            // the response).
            if len >= 16 {
                // Judged with the lock released: a failed assertion must not poison it for
                // the flushes that follow.
                let (sent, leaked) = {
                    let frames = frames.lock().unwrap();
                    (
                        frames.iter().any(|(c, _)| c[6..10] == [0, 0, 1, 0x47]),
                        frames.iter().any(|(_, r)| contains(r, &secret)),
                    )
                };
                assert!(sent, "ActivateCredential was recorded");
                assert!(
                    !leaked,
                    "{template}: the credential crossed the bus in clear"
                );
            }
        }

        let secret = random_bytes(16);
        let (id, seed) = make_credential(ek.public(), &ak.entity().name, &secret).unwrap();
        // Made for another key (the storage parent), it does not activate for `ak`.
        let (for_srk, srk_seed) =
            make_credential(ek.public(), &srk.entity().name, &secret).unwrap();
        refused_with(
            activate(&tpm, &ak, &ek, &for_srk, &srk_seed),
            TpmRc::INTEGRITY,
        );
        // Any change to the blob breaks its HMAC.
        for flip in 0..3 {
            let mut bad = id.clone();
            match flip {
                0 => bad.integrity_hmac.as_mut_bytes()[0] ^= 0x01,
                1 => bad.enc_identity.as_mut_bytes()[0] ^= 0x80,
                _ => {
                    let n = bad.enc_identity.len();
                    bad.enc_identity.as_mut_bytes()[n - 1] ^= 0x01
                }
            }
            refused_with(activate(&tpm, &ak, &ek, &bad, &seed), TpmRc::INTEGRITY);
        }
        // A changed seed: a point off the curve for ECC; an OAEP decoding error for RSA, which
        // the reference implementation reports as TPM_RC_VALUE and libtpms as TPM_RC_FAILURE
        // (without entering failure mode: the activation below still works).
        let mut bad_seed = seed.clone();
        let n = bad_seed.len();
        bad_seed.as_mut_bytes()[n - 1] ^= 0x01;
        let e = activate(&tpm, &ak, &ek, &id, &bad_seed).unwrap_err();
        let rc = e.response_code().unwrap_or_else(|| panic!("{e}"));
        match ek.public().key {
            PublicKey::Rsa { .. } => assert!(
                [TpmRc::VALUE, TpmRc::FAILURE].contains(&rc.base_code()),
                "{template}: {e}"
            ),
            _ => assert_eq!(
                (rc.base_code(), rc.parameter()),
                (TpmRc::ECC_POINT, Some(2)),
                "{template}: {e}"
            ),
        }
        // The untouched pair still works after all that.
        assert_eq!(
            activate(&tpm, &ak, &ek, &id, &seed).unwrap().as_bytes(),
            secret
        );

        // The TPM's own MakeCredential produces what activates the same way; the credential
        // goes in and the blob comes out encrypted by a session salted to the EK.
        let salt =
            tpm2_wire::client::SaltKey::from_public(ek.entity().clone(), ek.public()).unwrap();
        let mut crypt = tpm2_wire::client::Session::start(
            &tpm,
            &tpm2_wire::client::SessionOptions::hmac()
                .salted(salt)
                .encrypt(true, true),
        )
        .unwrap();
        let made = tpm
            .execute(
                &MakeCredential {
                    handle: ek.entity().clone(),
                    credential: CredentialSecret::new(&secret).unwrap(),
                    object_name: ak.entity().name.clone(),
                },
                &mut [crypt.extra()],
            )
            .expect("MakeCredential");
        drop(crypt);
        let released = activate(&tpm, &ak, &ek, &made.credential_blob, &made.secret).unwrap();
        assert_eq!(released.as_bytes(), secret);
    }
    assert_eq!(lockout_counter(&tpm), 0);
    drop(srk);
    assert_nothing_loaded(&tpm);
}

/// The whole chain: an EK whose certificate verifies up to the manufacturer's CA protects a
/// credential for an AK, which the TPM releases.
#[test]
fn a_verified_ek_protects_credentials() {
    let (sim, ca) = Swtpm::spawn_with_ek_certs()
        .expect("swtpm and swtpm_setup must be installed (Debian packages swtpm, swtpm-tools)");
    let tpm = Tpm::new(Box::new(sim.transport().expect("connect to swtpm")));
    let bundle = CaBundle::from_files(&[&ca.root_cert, &ca.intermediate_cert]).unwrap();
    for alg in [EkAlg::Rsa, EkAlg::Ecc] {
        let ek = VerifiedEk::create(&tpm, alg, &bundle).expect("the EK verifies");
        let ak = primary(
            &tpm,
            Entity::endorsement(),
            &templates::attestation_key(KeyAlg::EccP256),
        );
        let secret = random_bytes(32);
        let (id, seed) = make_credential(ek.public(), &ak.entity().name, &secret).unwrap();
        let released = activate(&tpm, &ak, &ek, &id, &seed).expect("ActivateCredential");
        assert_eq!(released.as_bytes(), secret, "{alg} EK ({})", ek.template());
    }
    assert_eq!(lockout_counter(&tpm), 0);
    assert_nothing_loaded(&tpm);
}

#[test]
fn credentials_are_refused_for_keys_that_cannot_protect_them() {
    let (_sim, tpm) = swtpm();
    let ak = primary(
        &tpm,
        Entity::owner(),
        &templates::attestation_key(KeyAlg::EccP256),
    );
    let decrypt = primary(
        &tpm,
        Entity::owner(),
        &templates::decryption_key(KeyAlg::Rsa2048),
    );
    assert!(matches!(
        make_credential(decrypt.public(), &ak.entity().name, b"x"),
        Err(KeyError::NotAProtector { .. })
    ));
    let ek = ek(&tpm, EkTemplate::L1);
    assert!(matches!(
        make_credential(ek.public(), &ak.entity().name, &[0; 33]),
        Err(KeyError::CredentialTooLarge { size: 33, max: 32 })
    ));
}

struct Tools {
    sim: Swtpm,
    tpm: Tpm,
    dir: tempfile::TempDir,
}

impl Tools {
    fn new() -> Tools {
        let (sim, tpm) = swtpm();
        Tools {
            sim,
            tpm,
            dir: tempfile::tempdir().unwrap(),
        }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// Runs a tpm2-tools command; `tcti` is this test's swtpm, or "none" for offline use.
    /// The TCTI is given on the command line, and the environment names this test's swtpm,
    /// so the tools never probe for another TPM.
    fn run(&self, args: &[&str], tcti: Option<&str>) -> Output {
        let tcti = tcti.map_or_else(|| self.sim.tcti(), str::to_string);
        let mut with_tcti = vec![args[0], "--tcti", &tcti];
        with_tcti.extend_from_slice(&args[1..]);
        tpm2_tool(&self.sim.tcti(), &with_tcti)
    }
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[test]
fn credentials_cross_over_with_tpm2_tools() {
    let t = Tools::new();
    let tpm = &t.tpm;
    for template in [EkTemplate::L1, EkTemplate::L2] {
        let ek = ek(tpm, template);
        let ak = primary(
            tpm,
            Entity::endorsement(),
            &templates::attestation_key(KeyAlg::Rsa2048),
        );

        // tpm2_makecredential, offline, to our EK and AK name; we activate.
        let ek_pub = t.path("ek.pub");
        std::fs::write(&ek_pub, Tpm2bPublic(ek.public().clone()).to_bytes()).unwrap();
        let secret = random_bytes(32);
        let secret_file = t.path("secret.bin");
        std::fs::write(&secret_file, &secret).unwrap();
        let tools_cred = t.path("tools.cred");
        t.run(
            &[
                "tpm2_makecredential",
                "-u",
                s(&ek_pub),
                "-s",
                s(&secret_file),
                "-n",
                &hex(ak.entity().name.as_bytes()),
                "-o",
                s(&tools_cred),
            ],
            Some("none"),
        );
        let file = read_credential_file(&tools_cred).expect("tpm2_makecredential's file");
        let released = activate(tpm, &ak, &ek, &file.id_object, &file.secret).unwrap();
        assert_eq!(released.as_bytes(), secret, "{template}");

        // Ours, in the tools' file format; tpm2_activatecredential releases it.
        let secret = random_bytes(32);
        let (id_object, seed) = make_credential(ek.public(), &ak.entity().name, &secret).unwrap();
        let our_cred = t.path("ours.cred");
        write_credential_file(
            &our_cred,
            &CredentialFile {
                id_object,
                secret: seed,
            },
        )
        .unwrap();
        let (ek_ctx, ak_ctx, session) = (t.path("ek.ctx"), t.path("ak.ctx"), t.path("s.ctx"));
        tpm.save_object_to_file(ek.entity().handle, &ek_ctx)
            .unwrap();
        tpm.save_object_to_file(ak.entity().handle, &ak_ctx)
            .unwrap();
        // The tools load their own copies, and swtpm holds three objects: flush ours.
        drop((ek, ak));
        t.run(
            &[
                "tpm2_startauthsession",
                "--policy-session",
                "-S",
                s(&session),
            ],
            None,
        );
        t.run(&["tpm2_policysecret", "-S", s(&session), "-c", "e"], None);
        let out = t.path("activated.bin");
        t.run(
            &[
                "tpm2_activatecredential",
                "-c",
                s(&ak_ctx),
                "-C",
                s(&ek_ctx),
                "-i",
                s(&our_cred),
                "-o",
                s(&out),
                "-P",
                &format!("session:{}", s(&session)),
            ],
            None,
        );
        t.run(&["tpm2_flushcontext", s(&session)], None);
        assert_eq!(std::fs::read(&out).unwrap(), secret, "{template}");
        // The tools leave the copies they loaded (swtpm has no resource manager).
        t.run(&["tpm2_flushcontext", "-t"], None);
    }
    assert_eq!(lockout_counter(tpm), 0);
    assert_nothing_loaded(tpm);
}

/// Verifies an RSASSA-SHA256 or ECDSA-SHA256 signature over `message` with the key's public
/// area, on the host.
fn verify(key: &Key, message: &[u8], signature: &Signature) {
    match (&key.public().key, signature) {
        (PublicKey::Rsa { unique, .. }, Signature::RsaSsa(sig)) => {
            assert_eq!(sig.hash, AlgId::SHA256);
            let public = rsa::RsaPublicKey::new(
                rsa::BigUint::from_bytes_be(unique.as_bytes()),
                rsa::BigUint::from(65537u32),
            )
            .unwrap();
            let verifier = rsa::pkcs1v15::VerifyingKey::<rsa::sha2::Sha256>::new(public);
            let sig = rsa::pkcs1v15::Signature::try_from(sig.sig.as_bytes()).unwrap();
            verifier
                .verify(message, &sig)
                .expect("RSASSA signature verifies");
        }
        (PublicKey::Ecc { unique, .. }, Signature::Ecdsa(sig)) => {
            assert_eq!(sig.hash, AlgId::SHA256);
            let point = p256::EncodedPoint::from_affine_coordinates(
                unique.x.as_bytes().into(),
                unique.y.as_bytes().into(),
                false,
            );
            let verifier = p256::ecdsa::VerifyingKey::from_encoded_point(&point).unwrap();
            let sig = p256::ecdsa::Signature::from_scalars(
                <[u8; 32]>::try_from(sig.r.as_bytes()).unwrap(),
                <[u8; 32]>::try_from(sig.s.as_bytes()).unwrap(),
            )
            .unwrap();
            verifier
                .verify(message, &sig)
                .expect("ECDSA signature verifies");
        }
        (key, sig) => panic!("unexpected signature {sig:?} for {key:?}"),
    }
}

/// Signs `message` with `key`: a restricted key needs the TPM to have hashed it (a ticket).
fn sign(tpm: &Tpm, key: &Key, message: &[u8], restricted: bool) -> Signature {
    let hashed = tpm
        .run(&Hash {
            data: MaxBuffer::new(message).unwrap(),
            hash_alg: AlgId::SHA256,
            hierarchy: if restricted {
                Handle::RH_OWNER
            } else {
                Handle::RH_NULL
            },
        })
        .expect("Hash");
    let validation = if restricted {
        hashed.validation
    } else {
        Ticket::null(StructureTag::HASHCHECK)
    };
    let e = empty();
    tpm.execute(
        &Sign {
            key_handle: key.entity().clone(),
            digest: hashed.out_hash,
            in_scheme: SigScheme::Null,
            validation,
        },
        &mut [SessionSlot::Password(&e)],
    )
    .expect("Sign")
    .signature
}

#[test]
fn every_template_makes_a_working_key() {
    let (_sim, tpm) = swtpm();
    for alg in KeyAlg::ALL {
        // A storage parent holds children; the attestation key below is one.
        // swtpm holds three transient objects, and TPM2_Create needs one of them: keys are
        // dropped (flushed) as soon as they are done with.
        let parent = primary(&tpm, Entity::owner(), &templates::storage_parent(alg));
        let message = b"signed by a key from a template";
        let signing = child(&tpm, &parent, &templates::signing_key(alg), &empty());
        verify(&signing, message, &sign(&tpm, &signing, message, false));
        drop(signing);
        let ak = child(&tpm, &parent, &templates::attestation_key(alg), &empty());
        verify(&ak, message, &sign(&tpm, &ak, message, true));

        // A restricted key refuses a digest the TPM did not hash.
        let e = empty();
        let err = tpm
            .execute(
                &Sign {
                    key_handle: ak.entity().clone(),
                    digest: Digest::new(&[0x11; 32]).unwrap(),
                    in_scheme: SigScheme::Null,
                    validation: Ticket::null(StructureTag::HASHCHECK),
                },
                &mut [SessionSlot::Password(&e)],
            )
            .unwrap_err();
        assert_eq!(err.response_code().unwrap().base_code(), TpmRc::TICKET);
        drop(ak);

        // A decryption key decrypts a salt: the session key depends on it, and the TPM
        // answers under that key.
        let decrypt = child(&tpm, &parent, &templates::decryption_key(alg), &empty());
        let salt = SaltKey::from_public(decrypt.entity().clone(), decrypt.public()).unwrap();
        let mut session = Session::start(
            &tpm,
            &SessionOptions::hmac().salted(salt).encrypt(false, true),
        )
        .expect("session salted to the decryption key");
        assert!(session.state().has_secret_key());
        session
            .confirm_salt_key()
            .expect("the TPM decrypted the salt");
        session.flush().unwrap();
    }
    sealed_data_unseals_under_its_policy_only(&tpm);
    assert_eq!(lockout_counter(&tpm), 0);
    assert_nothing_loaded(&tpm);
}

fn sealed_data_unseals_under_its_policy_only(tpm: &Tpm) {
    let pcr16 =
        PcrSelectionList::new(vec![PcrSelection::new(AlgId::SHA256, &[16]).unwrap()]).unwrap();
    let value = tpm.pcr_read(&pcr16).unwrap().pcr_values[0].clone();
    let mut policy = PolicyCalculator::new(HashAlg::Sha256);
    policy.policy_pcr(&pcr16, &[value]).unwrap();
    let template = templates::sealed_data(HashAlg::Sha256, policy.digest());

    let parent = primary(
        tpm,
        Entity::owner(),
        &templates::storage_parent(KeyAlg::EccP256),
    );
    let seal_auth = pw("seal-auth");
    let secret = b"released only while PCR 16 is unchanged";
    let e = empty();
    let sealed = Key::create_and_load(
        tpm,
        parent.entity(),
        &mut [SessionSlot::Password(&e)],
        &template,
        &SensitiveCreate {
            user_auth: seal_auth.clone(),
            data: SensitiveData::new(secret).unwrap(),
        },
    )
    .expect("Create and Load the sealed object");

    let unseal_with_policy = || {
        let mut s = Session::start(tpm, &SessionOptions::policy()).unwrap();
        s.policy_pcr(&pcr16, &Digest::empty()).unwrap();
        let none = empty();
        tpm.execute(
            &Unseal {
                item_handle: sealed.entity().clone(),
            },
            &mut [s.auth(&none)],
        )
    };
    let out = unseal_with_policy().expect("Unseal under the policy");
    assert_eq!(out.out_data.as_bytes(), secret);

    // Its auth value alone does not unseal it: userWithAuth is off.
    let err = tpm
        .execute(
            &Unseal {
                item_handle: sealed.entity().clone(),
            },
            &mut [SessionSlot::Password(&seal_auth)],
        )
        .unwrap_err();
    assert_eq!(
        err.response_code().unwrap().base_code(),
        TpmRc::AUTH_UNAVAILABLE
    );

    // Once PCR 16 changes, the policy no longer holds.
    tpm.execute(
        &PcrExtend {
            pcr_handle: Entity::from_handle(Handle(16)),
            digests: DigestValues::new(vec![HashValue::new(AlgId::SHA256, &[7; 32]).unwrap()])
                .unwrap(),
        },
        &mut [SessionSlot::Password(&e)],
    )
    .unwrap();
    let err = unseal_with_policy().unwrap_err();
    assert_eq!(err.response_code().unwrap().base_code(), TpmRc::POLICY_FAIL);
}

#[test]
fn keys_flush_on_drop_and_persistent_keys_stay() {
    let (_sim, tpm) = swtpm();
    let e = empty();
    let srk = primary(
        &tpm,
        Entity::owner(),
        &templates::storage_parent(KeyAlg::EccP256),
    );
    let ak = child(
        &tpm,
        &srk,
        &templates::attestation_key(KeyAlg::EccP256),
        &empty(),
    );
    let mut loaded = transients(&tpm);
    loaded.sort();
    let mut expected = vec![srk.entity().handle, ak.entity().handle];
    expected.sort();
    assert_eq!(loaded, expected);
    drop(ak);
    assert_eq!(transients(&tpm), vec![srk.entity().handle]);
    drop(srk);
    assert_eq!(transients(&tpm), vec![]);

    // Persisting flushes the transient copy; the persistent key outlives its value.
    let at = Handle(0x8100_0123);
    let key = primary(
        &tpm,
        Entity::owner(),
        &templates::signing_key(KeyAlg::Rsa2048),
    );
    let name = key.entity().name.clone();
    let persistent = key
        .persist(at, &mut [SessionSlot::Password(&e)])
        .expect("EvictControl");
    assert_eq!(persistent.entity().handle, at);
    assert_eq!(persistent.entity().name, name);
    assert_eq!(transients(&tpm), vec![]);
    drop(persistent);
    assert_eq!(persistents(&tpm), vec![at]);

    // Reopened by name, it signs; under a wrong name it is refused.
    let mut wrong = name.clone();
    wrong.as_mut_bytes()[2] ^= 1;
    assert!(matches!(
        PersistentKey::open(&tpm, at, &wrong),
        Err(KeyError::UnexpectedKey { .. })
    ));
    let reopened = PersistentKey::open(&tpm, at, &name).expect("the persistent key");
    let salt = reopened.salt_key();
    assert!(salt.is_err(), "a signing key cannot take a salt");
    reopened
        .evict(&mut [SessionSlot::Password(&e)])
        .expect("EvictControl (remove)");
    assert_eq!(persistents(&tpm), vec![]);

    // A handle outside the persistent range is refused before anything is sent, and the
    // key is still flushed.
    let key = primary(
        &tpm,
        Entity::owner(),
        &templates::signing_key(KeyAlg::EccP256),
    );
    assert!(matches!(
        key.persist(Handle(0x8000_0001), &mut [SessionSlot::Password(&e)]),
        Err(KeyError::NotPersistentHandle(_))
    ));
    assert_nothing_loaded(&tpm);
}

/// A swtpm reached through a relay that can rewrite responses, and a direct connection.
fn relayed() -> (Swtpm, Relay, Tpm, Tpm) {
    let sim = Swtpm::spawn_unix().expect("swtpm must be installed (Debian package swtpm)");
    let relay = Relay::start(sim.endpoint()).expect("relay");
    let tpm = Tpm::new(Box::new(
        SwtpmTransport::connect(relay.endpoint()).expect("connect to the relay"),
    ));
    let direct = Tpm::new(Box::new(sim.transport().expect("connect to swtpm")));
    (sim, relay, tpm, direct)
}

#[test]
fn a_tpm_naming_an_object_wrongly_is_refused_and_the_object_flushed() {
    let (_sim, relay, tpm, direct) = relayed();
    let e = empty();
    // The name is the last response parameter; a password session's response area (an
    // empty nonce, the attributes and an empty HMAC) is the 5 bytes after it.
    let flip_name = || Tamper::FlipFromEnd {
        from_end: 5,
        mask: 0x01,
    };
    relay.tamper(Some(CommandCode::CREATE_PRIMARY), flip_name());
    let err = Key::create_primary(
        &tpm,
        &Entity::owner(),
        &mut [SessionSlot::Password(&e)],
        &templates::storage_parent(KeyAlg::EccP256),
        &e,
    )
    .unwrap_err();
    assert_eq!(relay.tampered(), 1);
    assert!(matches!(err, KeyError::NameMismatch { .. }), "{err}");
    assert_eq!(
        transients(&direct),
        vec![],
        "the refused primary was flushed"
    );

    let parent = primary(
        &tpm,
        Entity::owner(),
        &templates::storage_parent(KeyAlg::EccP256),
    );
    let created = Key::create(
        &tpm,
        parent.entity(),
        &mut [SessionSlot::Password(&e)],
        &templates::attestation_key(KeyAlg::EccP256),
        &SensitiveCreate::default(),
    )
    .unwrap();
    relay.tamper(Some(CommandCode::LOAD), flip_name());
    let err = Key::load(
        &tpm,
        parent.entity(),
        &mut [SessionSlot::Password(&e)],
        &created,
    )
    .unwrap_err();
    assert_eq!(relay.tampered(), 2);
    assert!(matches!(err, KeyError::NameMismatch { .. }), "{err}");
    assert_eq!(
        transients(&direct),
        vec![parent.entity().handle],
        "the refused object was flushed"
    );
    // Untampered, the same blobs load.
    let key = Key::load(
        &tpm,
        parent.entity(),
        &mut [SessionSlot::Password(&e)],
        &created,
    )
    .unwrap();
    assert_eq!(
        key.entity().name,
        tpm2_wire::client::object_name(&created.public).unwrap()
    );
    drop((key, parent));
    assert_eq!(transients(&direct), vec![]);
}

/// A CreatePrimary response whose public area has `edit` applied and whose name is that
/// area's hash, so that only comparing the answer with the template can tell.
fn forge_public(rsp: &[u8], edit: fn(&mut tpm2_wire::wire::Public)) -> Vec<u8> {
    use tpm2_wire::wire::{CreationData, Name, Reader, Unmarshal};
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

#[test]
fn a_tpm_answering_another_public_area_is_refused_and_the_object_flushed() {
    let (_sim, relay, tpm, direct) = relayed();
    let e = empty();
    let template = templates::attestation_key(KeyAlg::EccP256);
    // Unchanged, the forger's rewriting is accepted: the forgery below is the only change.
    relay.tamper(
        Some(CommandCode::CREATE_PRIMARY),
        Tamper::Rewrite(Box::new(|rsp: &[u8]| forge_public(rsp, |_| {}))),
    );
    let key = primary(&tpm, Entity::owner(), &template);
    assert_eq!(relay.tampered(), 1);
    drop(key);
    // A key that is not restricted (it would sign anything) under a consistent name.
    relay.tamper(
        Some(CommandCode::CREATE_PRIMARY),
        Tamper::Rewrite(Box::new(|rsp: &[u8]| {
            forge_public(rsp, |p| {
                p.object_attributes = p
                    .object_attributes
                    .with(tpm2_wire::wire::ObjectAttributes::RESTRICTED, false)
            })
        })),
    );
    let err = Key::create_primary(
        &tpm,
        &Entity::owner(),
        &mut [SessionSlot::Password(&e)],
        &template,
        &e,
    )
    .unwrap_err();
    assert_eq!(relay.tampered(), 2);
    assert!(
        matches!(
            err,
            KeyError::TemplateMismatch {
                field: "object attributes",
                ..
            }
        ),
        "{err}"
    );
    assert_eq!(
        transients(&direct),
        vec![],
        "the refused primary was flushed"
    );
}

/// A Create response whose public area has `edit` applied (Create returns no name, so only
/// comparing the answer with the template can tell).
fn forge_created_public(rsp: &[u8], edit: fn(&mut tpm2_wire::wire::Public)) -> Vec<u8> {
    use tpm2_wire::wire::{Reader, Unmarshal};
    // An error answer (a TPM_RC_RETRY the library retries, say) is passed on as it is.
    if rsp.len() <= 14 {
        return rsp.to_vec();
    }
    // Header (10), parameter size (4), then outPrivate (a TPM2B) and outPublic.
    let params = &rsp[14..];
    let private_len = 2 + usize::from(u16::from_be_bytes([params[0], params[1]]));
    let mut r = Reader::new(&params[private_len..]);
    let Tpm2bPublic(mut public) = Tpm2bPublic::unmarshal(&mut r).unwrap();
    let public_end = private_len + r.position();
    let param_size = u32::from_be_bytes(rsp[10..14].try_into().unwrap()) as usize;
    edit(&mut public);
    let mut new_params = params[..private_len].to_vec();
    new_params.extend_from_slice(&Tpm2bPublic(public).to_bytes());
    new_params.extend_from_slice(&params[public_end..param_size]);
    let mut out = rsp[..10].to_vec();
    out.extend_from_slice(&(new_params.len() as u32).to_be_bytes());
    out.extend_from_slice(&new_params);
    out.extend_from_slice(&params[param_size..]);
    let size = out.len() as u32;
    out[2..6].copy_from_slice(&size.to_be_bytes());
    out
}

/// TPM2_Create answered with a public area that differs from the template in its nameAlg,
/// its auth policy or its parameters: each is refused, naming the part that differs.
#[test]
fn a_created_object_that_does_not_follow_its_template_is_refused() {
    use tpm2_wire::wire::{EccCurve, Public};
    let (_sim, relay, tpm, _direct) = relayed();
    let e = empty();
    let parent = primary(
        &tpm,
        Entity::owner(),
        &templates::storage_parent(KeyAlg::EccP256),
    );
    let template = templates::attestation_key(KeyAlg::EccP256);
    let create = || {
        Key::create(
            &tpm,
            parent.entity(),
            &mut [SessionSlot::Password(&e)],
            &template,
            &SensitiveCreate::default(),
        )
    };
    // Unchanged, the forger's rewriting is accepted: each forgery below is the only change.
    relay.tamper(
        Some(CommandCode::CREATE),
        Tamper::Rewrite(Box::new(|rsp: &[u8]| forge_created_public(rsp, |_| {}))),
    );
    let created = create().unwrap();
    assert!(relay.tampered() >= 1);
    assert_eq!(created.public.object_attributes, template.object_attributes);

    type Edit = fn(&mut Public);
    let forgeries: [(Edit, &str); 3] = [
        (|p| p.name_alg = AlgId::SHA384, "nameAlg"),
        (
            |p| p.auth_policy = Digest::new(&[0x5a; 32]).unwrap(),
            "auth policy",
        ),
        (
            |p| {
                if let PublicKey::Ecc { parameters, .. } = &mut p.key {
                    parameters.curve = EccCurve::NIST_P384;
                }
            },
            "type or parameters",
        ),
    ];
    for (edit, part) in forgeries {
        let before = relay.tampered();
        relay.tamper(
            Some(CommandCode::CREATE),
            Tamper::Rewrite(Box::new(move |rsp: &[u8]| forge_created_public(rsp, edit))),
        );
        let err = create().unwrap_err();
        assert!(relay.tampered() > before);
        assert!(
            matches!(&err, KeyError::TemplateMismatch { field, .. } if *field == part),
            "{part}: {err}"
        );
    }
}

/// ActivateCredential with both authorizations through sessions: the AK through an HMAC
/// session, and the EK's policy (PolicySecret on the endorsement hierarchy) satisfied through
/// a second HMAC session. The released secret is the one made on the host, and a credential
/// made for another key is refused the same way.
#[test]
fn activation_with_the_ak_and_the_endorsement_authorized_by_sessions() {
    let (_sim, tpm) = swtpm();
    let e = empty();
    for (template, ak_alg) in [
        (EkTemplate::L1, KeyAlg::Rsa2048),
        (EkTemplate::L2, KeyAlg::EccP256),
    ] {
        let ek = ek(&tpm, template);
        let ak = primary(
            &tpm,
            Entity::endorsement(),
            &templates::attestation_key(ak_alg),
        );
        let mut ak_session = Session::start(&tpm, &SessionOptions::hmac()).unwrap();
        let mut endorsement =
            Session::start(&tpm, &SessionOptions::hmac().hash(HashAlg::Sha384)).unwrap();
        assert_ne!(ak_session.handle(), endorsement.handle());
        let secret = random_bytes(24);
        let (id, seed) = make_credential(ek.public(), &ak.entity().name, &secret).unwrap();
        let released = tpm
            .activate_credential(
                ak.entity(),
                ak_session.auth(&e),
                &ek,
                endorsement.auth(&e),
                &id,
                &seed,
            )
            .expect("ActivateCredential, two HMAC sessions and the EK's policy session");
        assert_eq!(released.as_bytes(), secret, "{template}");

        let (for_ek, ek_seed) = make_credential(ek.public(), &ek.entity().name, &secret).unwrap();
        refused_with(
            tpm.activate_credential(
                ak.entity(),
                ak_session.auth(&e),
                &ek,
                endorsement.auth(&e),
                &for_ek,
                &ek_seed,
            ),
            TpmRc::INTEGRITY,
        );
        ak_session.flush().unwrap();
        endorsement.flush().unwrap();
    }
    assert_nothing_loaded(&tpm);
}
