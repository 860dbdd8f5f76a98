//! Commands whose first parameter is a TPM2B, each run once under a salted HMAC session that
//! encrypts that parameter (or the first response parameter), with the result checked for what
//! it means: the policy digest equals the one computed on the host, the new auth value works,
//! the loaded object has its name. Together with the command-family tests, every declared
//! command with a TPM2B first parameter runs encrypted at least once.

mod common;

use common::*;
use tpm2_wire::client::{Session, SessionOptions};
use tpm2_wire::command::{
    Create, Entity, GetSessionAuditDigest, HierarchyChangeAuth, Load, NvChangeAuth, NvDefineSpace,
    NvReadPublic, PolicyCounterTimer, PolicyCpHash, PolicyGetDigest, PolicyNameHash, PolicyNv,
    PolicyPcr, PolicySecret, PolicyTemplate, StartAuthSession,
};
use tpm2_wire::crypto::{self, HashAlg};
use tpm2_wire::session::engine::SessionSlot;
use tpm2_wire::session::policy::PolicyCalculator;
use tpm2_wire::session::Symmetric;
use tpm2_wire::wire::{
    AlgId, ArithmeticOp, Attestation, Attested, Auth, CommandCode, Data, Digest, EncryptedSecret,
    Handle, Nonce, NvPublic, Operand, PcrSelection, PcrSelectionList, Public, SensitiveCreate,
    SessionType, SymDef, Timeout, Tpm2bNvPublic, Tpm2bPublic, Tpm2bSensitiveCreate, Unmarshal,
};
use tpm2_wire::Tpm;

/// A salted HMAC session that encrypts command parameters (`decrypt`) and/or response
/// parameters (`encrypt`).
fn crypt_session(tpm: &Tpm, decrypt: bool, encrypt: bool) -> Session {
    let salt = salt_key(tpm, Salt::Rsa).expect("salt key");
    let s = Session::start(
        tpm,
        &SessionOptions::hmac()
            .salted(salt.clone())
            .encrypt(decrypt, encrypt),
    )
    .expect("salted session");
    flush(tpm, salt.entity().handle);
    assert!(s.state().has_secret_key());
    s
}

/// No recorded command or response frame carries `secret` in clear.
fn never_in_clear(frames: &Frames, what: &str, secret: &[u8]) {
    // A copy: asserting while holding the lock would poison it for the transport.
    let recorded = frames.lock().unwrap().clone();
    for (command, response) in &recorded {
        assert!(
            !contains(command, secret),
            "{what} crossed the bus in clear"
        );
        assert!(
            !contains(response, secret),
            "{what} crossed the bus in clear"
        );
    }
}

#[test]
fn policy_commands_with_encrypted_first_parameters_give_the_host_digest() {
    let (_sim, tpm, frames) = swtpm_recording();
    let mut dec = crypt_session(&tpm, true, false);
    let mut enc = crypt_session(&tpm, false, true);
    let mut trial = Session::start(&tpm, &SessionOptions::trial()).unwrap();
    let mut calc = PolicyCalculator::new(HashAlg::Sha256);
    let policy_session = trial.entity();

    let cp = crypto::hash(HashAlg::Sha256, &[b"cpHash"]);
    tpm.execute(
        &PolicyCpHash {
            policy_session: policy_session.clone(),
            cp_hash_a: cp.clone(),
        },
        &mut [dec.extra()],
    )
    .unwrap();
    calc.policy_cp_hash(&cp).unwrap();

    let names = crypto::hash(HashAlg::Sha256, &[b"names"]);
    // PolicyNameHash and PolicyCpHash cannot both be in one policy: a second trial session.
    let mut trial2 = Session::start(&tpm, &SessionOptions::trial()).unwrap();
    tpm.execute(
        &PolicyNameHash {
            policy_session: trial2.entity(),
            name_hash: names.clone(),
        },
        &mut [dec.extra()],
    )
    .unwrap();
    let mut calc2 = PolicyCalculator::new(HashAlg::Sha256);
    calc2.policy_name_hash(&names).unwrap();
    assert_eq!(
        &trial2.policy_digest().unwrap(),
        calc2.digest(),
        "PolicyNameHash"
    );

    let template = crypto::hash(HashAlg::Sha256, &[b"template"]);
    let mut trial3 = Session::start(&tpm, &SessionOptions::trial()).unwrap();
    tpm.execute(
        &PolicyTemplate {
            policy_session: trial3.entity(),
            template_hash: template.clone(),
        },
        &mut [dec.extra()],
    )
    .unwrap();
    let mut calc3 = PolicyCalculator::new(HashAlg::Sha256);
    calc3.policy_template_hash(&template).unwrap();
    assert_eq!(
        &trial3.policy_digest().unwrap(),
        calc3.digest(),
        "PolicyTemplate"
    );

    let operand = Operand::new(&[0, 0, 0, 0, 0, 0, 0, 1]).unwrap();
    tpm.execute(
        &PolicyCounterTimer {
            policy_session: policy_session.clone(),
            operand_b: operand.clone(),
            offset: 0,
            operation: ArithmeticOp::UNSIGNED_GT,
        },
        &mut [dec.extra()],
    )
    .unwrap();
    calc.policy_counter_timer(&operand, 0, ArithmeticOp::UNSIGNED_GT);

    // PolicyPCR with the digest of PCR 16's value given (encrypted) rather than taken.
    let selection =
        PcrSelectionList::new(vec![PcrSelection::new(AlgId::SHA256, &[16]).unwrap()]).unwrap();
    let values = tpm.pcr_values(&selection).unwrap();
    let pcr_digest = crypto::hash(HashAlg::Sha256, &[values[0].as_bytes()]);
    tpm.execute(
        &PolicyPcr {
            policy_session: policy_session.clone(),
            pcr_digest: pcr_digest.clone(),
            pcrs: selection.clone(),
        },
        &mut [dec.extra()],
    )
    .unwrap();
    calc.policy_pcr(&selection, &values).unwrap();

    // PolicySecret: the owner authorized through a session that encrypts nonceTPM on the way
    // in and the timeout on the way out.
    let mut both = crypt_session(&tpm, true, true);
    let empty = Auth::empty();
    let rsp = tpm
        .execute(
            &PolicySecret {
                auth_handle: Entity::owner(),
                policy_session: policy_session.clone(),
                nonce_tpm: trial.state().nonce_tpm().clone(),
                cp_hash_a: Digest::empty(),
                policy_ref: Nonce::new(b"ref").unwrap(),
                expiration: 0,
            },
            &mut [both.auth(&empty)],
        )
        .unwrap();
    assert_eq!(rsp.timeout, Timeout::empty(), "no expiration, no timeout");
    calc.policy_secret(&Entity::owner().name, b"ref");

    // PolicyGetDigest with the response encrypted.
    let got = tpm
        .execute(&PolicyGetDigest { policy_session }, &mut [enc.extra()])
        .unwrap()
        .policy_digest;
    assert_eq!(&got, calc.digest(), "the trial digest equals the host's");
    assert_eq!(
        got,
        trial.policy_digest().unwrap(),
        "and the unencrypted answer"
    );
    for (what, secret) in [
        ("cpHashA", cp.as_bytes()),
        ("nameHash", names.as_bytes()),
        ("templateHash", template.as_bytes()),
        ("operandB", operand.as_bytes()),
        ("pcrDigest", pcr_digest.as_bytes()),
    ] {
        never_in_clear(&frames, what, secret);
    }
}

#[test]
fn policy_nv_with_its_operand_encrypted_matches_the_host() {
    let (_sim, tpm, frames) = swtpm_recording();
    let auth = pw("nv");
    let nv = written_nv(&tpm, 0x0150_0031, &auth, nv_auth_rw(), &[0, 0, 0, 7]);
    let mut dec = crypt_session(&tpm, true, false);
    let mut trial = Session::start(&tpm, &SessionOptions::trial()).unwrap();
    let operand = Operand::new(&[0, 0, 0, 7]).unwrap();
    // The index was written with these bytes by password; only what follows must hide them.
    frames.lock().unwrap().clear();
    tpm.execute(
        &PolicyNv {
            auth_handle: nv.clone(),
            nv_index: nv.clone(),
            policy_session: trial.entity(),
            operand_b: operand.clone(),
            offset: 0,
            operation: ArithmeticOp::EQ,
        },
        &mut [SessionSlot::Password(&auth), dec.extra()],
    )
    .unwrap();
    let mut calc = PolicyCalculator::new(HashAlg::Sha256);
    calc.policy_nv(&nv.name, &operand, 0, ArithmeticOp::EQ);
    assert_eq!(&trial.policy_digest().unwrap(), calc.digest());
    never_in_clear(&frames, "operandB", operand.as_bytes());
    drop(trial);
    undefine_nv(&tpm, &nv);
}

#[test]
fn new_auth_values_travel_encrypted_and_then_authorize() {
    let (_sim, tpm, frames) = swtpm_recording();
    let empty = Auth::empty();
    let new_owner = pw("owner-2");

    // HierarchyChangeAuth, authorized and encrypted by one salted session.
    let mut dec = crypt_session(&tpm, true, false);
    frames.lock().unwrap().clear();
    tpm.execute(
        &HierarchyChangeAuth {
            auth_handle: Entity::owner(),
            new_auth: new_owner.clone(),
        },
        &mut [dec.auth(&empty)],
    )
    .unwrap();
    never_in_clear(&frames, "the new owner auth value", new_owner.as_bytes());
    // The new value authorizes (and puts the old one back).
    tpm.execute(
        &HierarchyChangeAuth {
            auth_handle: Entity::owner(),
            new_auth: empty.clone(),
        },
        &mut [SessionSlot::Password(&new_owner)],
    )
    .expect("the owner answers to the value sent encrypted");

    // NV_ChangeAuth (ADMIN role: a policy session, here salted and encrypting newAuth), then
    // the index answers to the new value only.
    let old = pw("nv-old");
    let new = pw("nv-new");
    let mut admin = PolicyCalculator::new(HashAlg::Sha256);
    admin
        .policy_command_code(CommandCode::NV_CHANGE_AUTH)
        .policy_auth_value();
    let index = 0x0150_0032;
    let defined = define_nv(
        &tpm,
        index,
        HashAlg::Sha256,
        nv_auth_rw(),
        &old,
        admin.digest(),
        4,
    );
    nv_write(&tpm, &defined, b"data", &mut [SessionSlot::Password(&old)]).unwrap();
    let nv = tpm.nv_read_public(Handle(index)).unwrap().0;
    let salt = salt_key(&tpm, Salt::Rsa).unwrap();
    let mut policy = Session::start(
        &tpm,
        &SessionOptions::policy()
            .salted(salt.clone())
            .symmetric(Symmetric::AesCfb(128))
            .encrypt(true, false),
    )
    .unwrap();
    flush(&tpm, salt.entity().handle);
    policy
        .policy_command_code(CommandCode::NV_CHANGE_AUTH)
        .unwrap();
    policy.policy_auth_value().unwrap();
    frames.lock().unwrap().clear();
    tpm.execute(
        &NvChangeAuth {
            nv_index: nv.clone(),
            new_auth: new.clone(),
        },
        &mut [policy.auth(&old)],
    )
    .unwrap();
    never_in_clear(&frames, "the new NV auth value", new.as_bytes());
    assert_eq!(
        nv_read(&tpm, &nv, 4, &mut [SessionSlot::Password(&new)]).unwrap(),
        b"data"
    );
    assert!(nv_read(&tpm, &nv, 4, &mut [SessionSlot::Password(&old)]).is_err());

    // NV_ReadPublic with the public area encrypted on its way out.
    let mut enc = crypt_session(&tpm, false, true);
    frames.lock().unwrap().clear();
    let rsp = tpm
        .execute(
            &NvReadPublic {
                nv_index: nv.clone(),
            },
            &mut [enc.extra()],
        )
        .unwrap();
    assert_eq!(
        rsp.nv_name, nv.name,
        "the name read encrypted is the index's"
    );
    assert_eq!(rsp.nv_public.0.nv_index, Handle(0x0150_0032));
    let public_area = tpm2_wire::wire::Marshal::to_bytes(&rsp.nv_public);
    never_in_clear(&frames, "the NV public area", &public_area[2..]);
    undefine_nv(&tpm, &nv);
}

#[test]
fn a_private_area_loads_through_an_encrypting_session() {
    let (_sim, tpm, frames) = swtpm_recording();
    let (parent, _) = create_primary(&tpm, Public::rsa_2048_storage_parent(), &Auth::empty());
    let empty = Auth::empty();
    let created = tpm
        .execute(
            &Create {
                parent_handle: parent.clone(),
                in_sensitive: Tpm2bSensitiveCreate(SensitiveCreate {
                    user_auth: pw("key"),
                    ..SensitiveCreate::default()
                }),
                in_public: Tpm2bPublic(Public::rsa_2048_storage_parent()),
                outside_info: Data::empty(),
                creation_pcr: PcrSelectionList::default(),
            },
            &mut [SessionSlot::Password(&empty)],
        )
        .unwrap();
    let mut dec = crypt_session(&tpm, true, false);
    // Create's response carried the private area; only the Load must hide it.
    frames.lock().unwrap().clear();
    let loaded = tpm
        .execute(
            &Load {
                parent_handle: parent.clone(),
                in_private: created.out_private.clone(),
                in_public: created.out_public.clone(),
            },
            &mut [dec.auth(&empty)],
        )
        .unwrap();
    assert_eq!(
        loaded.name,
        tpm2_wire::client::object_name(&created.out_public.0).unwrap(),
        "the object loaded from the encrypted private area is the one created"
    );
    // The private area is wrapped by the TPM already; the session encrypts it again on its way
    // in, so the bytes Create returned never appear in the Load command.
    never_in_clear(&frames, "inPrivate", &created.out_private.as_bytes()[..32]);
    flush(&tpm, loaded.object_handle);
    flush(&tpm, parent.handle);
}

#[test]
fn an_nv_index_defined_with_its_auth_value_encrypted_answers_to_it() {
    let (_sim, tpm, frames) = swtpm_recording();
    let auth = pw("defined-encrypted");
    let index = 0x0150_0033;
    let public = NvPublic {
        nv_index: Handle(index),
        name_alg: HashAlg::Sha256.alg_id(),
        attributes: nv_auth_rw(),
        auth_policy: Digest::empty(),
        data_size: 8,
    };
    let mut dec = crypt_session(&tpm, true, false);
    frames.lock().unwrap().clear();
    let empty = Auth::empty();
    tpm.execute(
        &NvDefineSpace {
            auth_handle: Entity::owner(),
            auth: auth.clone(),
            public_info: Tpm2bNvPublic(public),
        },
        &mut [dec.auth(&empty)],
    )
    .unwrap();
    never_in_clear(&frames, "the index's auth value", auth.as_bytes());
    let nv = tpm.nv_read_public(Handle(index)).unwrap().0;
    nv_write(&tpm, &nv, b"8 octets", &mut [SessionSlot::Password(&auth)])
        .expect("the index answers to the value sent encrypted");
    let nv = tpm.nv_read_public(Handle(index)).unwrap().0;
    undefine_nv(&tpm, &nv);
}

#[test]
fn a_session_audit_digest_travels_encrypted_both_ways() {
    let (_sim, tpm, frames) = swtpm_recording();
    let mut audit = Session::start(&tpm, &SessionOptions::audit()).unwrap();
    random_through(&tpm, &mut audit, 16);
    let host = audit.state().audit_digest().cloned().expect("audited");

    let mut both = crypt_session(&tpm, true, true);
    let qualifying = Data::new(b"verifier's nonce").unwrap();
    frames.lock().unwrap().clear();
    let empty = Auth::empty();
    let rsp = tpm
        .execute(
            &GetSessionAuditDigest {
                privacy_admin_handle: Entity::endorsement(),
                sign_handle: Entity::null(),
                session_handle: audit.entity(),
                qualifying_data: qualifying.clone(),
                in_scheme: AlgId::NULL,
            },
            &mut [
                SessionSlot::Password(&empty),
                SessionSlot::Password(&empty),
                both.extra(),
            ],
        )
        .unwrap();
    never_in_clear(&frames, "qualifyingData", qualifying.as_bytes());
    never_in_clear(&frames, "the audit digest", host.as_bytes());
    let attest = Attestation::from_bytes(rsp.audit_info.as_bytes()).unwrap();
    assert_eq!(attest.extra_data, qualifying);
    match attest.attested {
        Attested::SessionAudit(info) => assert_eq!(info.session_digest, host),
        other => panic!("not a session audit: {other:?}"),
    }
}

#[test]
fn a_session_can_be_started_under_another_that_encrypts_its_nonces() {
    let (_sim, tpm, frames) = swtpm_recording();
    let mut both = crypt_session(&tpm, true, true);
    let nonce_caller = Nonce::new(&random_bytes(32)).unwrap();
    frames.lock().unwrap().clear();
    let rsp = tpm
        .execute(
            &StartAuthSession {
                tpm_key: Entity::null(),
                bind: Entity::null(),
                nonce_caller: nonce_caller.clone(),
                encrypted_salt: EncryptedSecret::empty(),
                session_type: SessionType::HMAC,
                symmetric: SymDef::Null,
                auth_hash: AlgId::SHA256,
            },
            &mut [both.extra()],
        )
        .unwrap();
    never_in_clear(&frames, "nonceCaller", nonce_caller.as_bytes());
    never_in_clear(&frames, "nonceTPM", rsp.nonce_tpm.as_bytes());
    assert_eq!(
        rsp.nonce_tpm.len(),
        32,
        "nonceTPM is as long as nonceCaller"
    );
    assert!(rsp.session_handle.is_session());
    flush(&tpm, rsp.session_handle);
}
