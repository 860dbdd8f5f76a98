//! The offline PolicyCalculator against the TPM's own trial-session digests, and real policy
//! sessions satisfying policies (PolicyPassword, PolicyAuthValue, PolicySecret, PolicyPCR).

mod common;

use std::sync::{Arc, Mutex};

use common::*;
use tpm2_wire::client::{Session, SessionOptions};
use tpm2_wire::command::Entity;
use tpm2_wire::crypto::HashAlg;
use tpm2_wire::session::engine::SessionSlot;
use tpm2_wire::session::policy::PolicyCalculator;
use tpm2_wire::session::Symmetric;
use tpm2_wire::wire::{
    AlgId, Auth, CommandCode, Digest, Handle, Nonce, PcrSelection, PcrSelectionList, Public, TpmRc,
};
use tpm2_wire::Tpm;

const POLICY_HASHES: [HashAlg; 2] = [HashAlg::Sha1, HashAlg::Sha256];

/// One step of a policy, run both offline and on a TPM session.
#[derive(Clone, Debug)]
enum Step {
    Password,
    AuthValue,
    CommandCode(CommandCode),
    /// sha256 bank, these PCRs, at their current values.
    Pcr(Vec<u8>),
    /// PolicySecret for this entity (authorized by password) with this policyRef.
    Secret(Entity, Auth, Vec<u8>),
}

fn pcr_selection(pcrs: &[u8]) -> PcrSelectionList {
    PcrSelectionList::new(vec![PcrSelection::new(AlgId::SHA256, pcrs).unwrap()]).unwrap()
}

/// The current values of sha256 PCRs, in selection order.
fn pcr_values(tpm: &Tpm, pcrs: &[u8]) -> Vec<Digest> {
    let sel = pcr_selection(pcrs);
    let rsp = tpm.pcr_read(&sel).unwrap();
    assert_eq!(rsp.pcr_selection_out, sel, "all PCRs read in one call");
    rsp.pcr_values.as_slice().to_vec()
}

fn calculate(tpm: &Tpm, hash: HashAlg, steps: &[Step]) -> Digest {
    let mut c = PolicyCalculator::new(hash);
    for step in steps {
        match step {
            Step::Password => c.policy_password(),
            Step::AuthValue => c.policy_auth_value(),
            Step::CommandCode(cc) => c.policy_command_code(*cc),
            Step::Pcr(pcrs) => {
                let values = pcr_values(tpm, pcrs);
                c.policy_pcr(&pcr_selection(pcrs), &values).unwrap()
            }
            Step::Secret(entity, _, policy_ref) => c.policy_secret(&entity.name, policy_ref),
        };
    }
    c.digest().clone()
}

/// Runs the steps on `s` (a trial or policy session).
fn apply(s: &mut Session, steps: &[Step]) {
    for step in steps {
        match step {
            Step::Password => s.policy_password().unwrap(),
            Step::AuthValue => s.policy_auth_value().unwrap(),
            Step::CommandCode(cc) => s.policy_command_code(*cc).unwrap(),
            // An empty digest: the TPM uses the PCRs' current values.
            Step::Pcr(pcrs) => s
                .policy_pcr(&pcr_selection(pcrs), &Digest::empty())
                .unwrap(),
            Step::Secret(entity, auth, policy_ref) => s
                .policy_secret(
                    entity,
                    SessionSlot::Password(auth),
                    &Nonce::new(policy_ref).unwrap(),
                )
                .unwrap(),
        }
    }
}

fn trial_digest(tpm: &Tpm, hash: HashAlg, steps: &[Step]) -> Digest {
    let mut s = Session::start(tpm, &SessionOptions::trial().hash(hash)).unwrap();
    apply(&mut s, steps);
    s.policy_digest().unwrap()
}

#[test]
fn calculator_matches_trial_sessions() {
    let (_sim, tpm) = swtpm();
    let key_auth = pw("key-secret");
    let (key, _) = create_primary(&tpm, Public::rsa_2048_storage_parent(), &key_auth);
    let owner = (Entity::owner(), Auth::empty());
    let policies: Vec<(&str, Vec<Step>)> = vec![
        ("empty", vec![]),
        ("PolicyPassword", vec![Step::Password]),
        ("PolicyAuthValue", vec![Step::AuthValue]),
        (
            "PolicyCommandCode",
            vec![Step::CommandCode(CommandCode::UNSEAL)],
        ),
        ("PolicyPCR sha256:0,1,2", vec![Step::Pcr(vec![0, 1, 2])]),
        ("PolicyPCR sha256:16", vec![Step::Pcr(vec![16])]),
        (
            "PolicySecret owner",
            vec![Step::Secret(owner.0.clone(), owner.1.clone(), vec![])],
        ),
        (
            "PolicySecret key with policyRef",
            vec![Step::Secret(key.clone(), key_auth.clone(), b"ref".to_vec())],
        ),
        (
            "CommandCode + PCR + AuthValue",
            vec![
                Step::CommandCode(CommandCode::NV_READ),
                Step::Pcr(vec![0, 1, 2]),
                Step::AuthValue,
            ],
        ),
        (
            "Secret + CommandCode + Password",
            vec![
                Step::Secret(owner.0.clone(), owner.1.clone(), b"x".to_vec()),
                Step::CommandCode(CommandCode::UNSEAL),
                Step::Password,
            ],
        ),
    ];
    for round in 0..2 {
        if round == 1 {
            // New PCR values must give new, still matching, digests.
            extend_pcr(&tpm, 1, b"round two");
            extend_pcr(&tpm, 16, b"debug pcr");
        }
        for hash in POLICY_HASHES {
            for (what, steps) in &policies {
                let offline = calculate(&tpm, hash, steps);
                let trial = trial_digest(&tpm, hash, steps);
                assert_eq!(offline, trial, "{what}, {hash:?}, round {round}");
                assert_eq!(offline.len(), hash.digest_size());
            }
        }
    }
    // PolicyPassword and PolicyAuthValue give the same digest, by design.
    assert_eq!(
        calculate(&tpm, HashAlg::Sha256, &[Step::Password]),
        calculate(&tpm, HashAlg::Sha256, &[Step::AuthValue])
    );
    flush(&tpm, key.handle);
}

/// The digest of a known policy, fixed by the specification: PolicyAuthValue under SHA-256
/// is 8fcd2169…db0e (what tpm2_policypassword/tpm2_policyauthvalue print).
#[test]
fn calculator_known_answer() {
    let d = PolicyCalculator::new(HashAlg::Sha256)
        .policy_auth_value()
        .digest()
        .clone();
    let expected = "8fcd2169ab92694e0c633f1ab772842b8241bbc20288981fc7ac1eddc1fddb0e";
    let hex: String = d.as_bytes().iter().map(|b| format!("{b:02x}")).collect();
    assert_eq!(hex, expected);
}

/// PolicyPassword: the auth value travels in clear in the HMAC field, and opens the object;
/// a wrong one does not.
#[test]
fn policy_password_sends_the_password_in_clear_and_unseals() {
    let frames = Arc::new(Mutex::new(Vec::new()));
    let rec = frames.clone();
    let (_sim, tpm) = swtpm_with(move |inner| Box::new(Recording { inner, frames: rec }));
    let (parent, _) = create_primary(&tpm, Public::rsa_2048_storage_parent(), &Auth::empty());
    let auth = pw("clear-text-pw");
    let policy = PolicyCalculator::new(HashAlg::Sha256)
        .policy_password()
        .digest()
        .clone();
    let secret = random_bytes(32);
    let item = policy_sealed(&tpm, &parent, &policy, &auth, &secret);

    let mut s = Session::start(&tpm, &SessionOptions::policy()).unwrap();
    for _ in 0..2 {
        s.policy_password().unwrap();
        frames.lock().unwrap().clear();
        assert_eq!(unseal(&tpm, &item, &mut [s.auth(&auth)]).unwrap(), secret);
        let frames = frames.lock().unwrap();
        let command = &frames[0].0;
        // ... ‖ attributes ‖ u16 size ‖ password  ends the authorization area, and no
        // parameters follow for Unseal.
        let tail = [&(auth.len() as u16).to_be_bytes()[..], auth.as_bytes()].concat();
        assert!(
            command.ends_with(&tail),
            "password in clear in the HMAC field"
        );
    }
    // Without PolicyPassword (policy state reset after each use) the policy is not met.
    let err = unseal(&tpm, &item, &mut [s.auth(&auth)]).unwrap_err();
    assert_eq!(
        err.response_code().unwrap().base_code(),
        TpmRc::POLICY_FAIL,
        "{err}"
    );
    drop(s);

    // A wrong password after PolicyPassword: an authorization failure for session 1.
    let mut s = Session::start(&tpm, &SessionOptions::policy()).unwrap();
    s.policy_password().unwrap();
    let err = unseal(&tpm, &item, &mut [s.auth(&pw("wrong"))]).unwrap_err();
    assert_eq!(err.response_code().unwrap().session(), Some(1), "{err}");
    assert!(err.response_code().unwrap().is_auth_fail(), "{err}");
    drop(s);
    reset_lockout(&tpm);
    flush(&tpm, item.handle);
    flush(&tpm, parent.handle);
    assert_nothing_loaded(&tpm);
}

/// PolicyAuthValue on a salted policy session with response encryption: the auth value goes
/// into the HMAC key and the encryption key, and the secret comes back encrypted.
#[test]
fn policy_auth_value_unseals_with_encryption() {
    let (_sim, tpm) = swtpm();
    let (parent, _) = create_primary(&tpm, Public::rsa_2048_storage_parent(), &Auth::empty());
    let auth = pw("hmac-pw");
    let policy = PolicyCalculator::new(HashAlg::Sha256)
        .policy_command_code(CommandCode::UNSEAL)
        .policy_auth_value()
        .digest()
        .clone();
    let secret = random_bytes(48);
    let item = policy_sealed(&tpm, &parent, &policy, &auth, &secret);
    let salt = salt_key(&tpm, Salt::Ecc).unwrap();
    let mut s = Session::start(
        &tpm,
        &SessionOptions::policy()
            .symmetric(Symmetric::AesCfb(128))
            .salted(salt.clone())
            .encrypt(false, true),
    )
    .unwrap();
    for _ in 0..3 {
        s.policy_command_code(CommandCode::UNSEAL).unwrap();
        s.policy_auth_value().unwrap();
        assert_eq!(unseal(&tpm, &item, &mut [s.auth(&auth)]).unwrap(), secret);
    }
    drop(s);
    flush(&tpm, salt.entity().handle);
    flush(&tpm, item.handle);
    flush(&tpm, parent.handle);
    assert_nothing_loaded(&tpm);
}

/// PolicySecret(owner) + PolicyPCR: met while the PCR holds its value, failed after an extend.
#[test]
fn policy_secret_and_pcr_unseal_until_the_pcr_changes() {
    let (_sim, tpm) = swtpm();
    let (parent, _) = create_primary(&tpm, Public::rsa_2048_storage_parent(), &Auth::empty());
    let owner = Entity::owner();
    let steps = [
        Step::Secret(owner.clone(), Auth::empty(), vec![]),
        Step::Pcr(vec![3]),
    ];
    let policy = calculate(&tpm, HashAlg::Sha256, &steps);
    let secret = random_bytes(16);
    let item = policy_sealed(&tpm, &parent, &policy, &Auth::empty(), &secret);

    let mut s = Session::start(&tpm, &SessionOptions::policy()).unwrap();
    apply(&mut s, &steps);
    assert_eq!(s.policy_digest().unwrap(), policy);
    assert_eq!(
        unseal(&tpm, &item, &mut [s.auth(&Auth::empty())]).unwrap(),
        secret
    );

    extend_pcr(&tpm, 3, b"changed");
    apply(&mut s, &steps);
    assert_ne!(s.policy_digest().unwrap(), policy);
    let err = unseal(&tpm, &item, &mut [s.auth(&Auth::empty())]).unwrap_err();
    assert_eq!(
        err.response_code().unwrap().base_code(),
        TpmRc::POLICY_FAIL,
        "{err}"
    );
    drop(s);
    flush(&tpm, item.handle);
    flush(&tpm, parent.handle);
    assert_nothing_loaded(&tpm);
}

/// PolicyAuthValue when both the session key and the auth value are empty: the HMAC key is
/// empty, so both sides send an empty HMAC. An unsalted, unbound HMAC session with an empty
/// auth value still computes a (publicly keyed) HMAC, which the TPM also accepts.
#[test]
fn empty_hmac_keys() {
    let (_sim, tpm) = swtpm();
    let (parent, _) = create_primary(&tpm, Public::rsa_2048_storage_parent(), &Auth::empty());
    let policy = PolicyCalculator::new(HashAlg::Sha256)
        .policy_auth_value()
        .digest()
        .clone();
    let secret = random_bytes(8);
    let item = policy_sealed(&tpm, &parent, &policy, &Auth::empty(), &secret);
    let mut s = Session::start(&tpm, &SessionOptions::policy()).unwrap();
    for _ in 0..2 {
        s.policy_auth_value().unwrap();
        assert_eq!(
            unseal(&tpm, &item, &mut [s.auth(&Auth::empty())]).unwrap(),
            secret
        );
    }
    drop(s);

    let mut h = Session::start(&tpm, &SessionOptions::hmac().symmetric(Symmetric::Null)).unwrap();
    let created = seal(
        &tpm,
        &parent,
        &Auth::empty(),
        &secret,
        &mut [h.auth(&Auth::empty())],
    );
    let plain = load(&tpm, &parent, &created, h.auth(&Auth::empty()));
    assert_eq!(
        unseal(&tpm, &plain, &mut [h.auth(&Auth::empty())]).unwrap(),
        secret
    );
    drop(h);
    flush(&tpm, plain.handle);
    flush(&tpm, item.handle);
    flush(&tpm, parent.handle);
    assert_nothing_loaded(&tpm);
}

/// TPM2_NV_ChangeAuth under a policy session (PolicyCommandCode + PolicyAuthValue): the
/// response HMAC is keyed with the new auth value; both values behave as expected after.
#[test]
fn nv_change_auth_under_a_policy_session() {
    let (_sim, tpm) = swtpm();
    let old = pw("old-nv-auth");
    let new = pw("new-nv-auth");
    let policy = PolicyCalculator::new(HashAlg::Sha256)
        .policy_command_code(CommandCode::NV_CHANGE_AUTH)
        .policy_auth_value()
        .digest()
        .clone();
    let nv = define_nv(
        &tpm,
        0x0150_0040,
        HashAlg::Sha256,
        tpm2_wire::wire::NvAttributes::AUTHREAD
            | tpm2_wire::wire::NvAttributes::AUTHWRITE
            | tpm2_wire::wire::NvAttributes::NO_DA,
        &old,
        &policy,
        8,
    );
    let salt = salt_key(&tpm, Salt::Rsa).unwrap();
    let mut s = Session::start(
        &tpm,
        &SessionOptions::policy()
            .symmetric(Symmetric::AesCfb(128))
            .salted(salt.clone())
            .encrypt(true, false),
    )
    .unwrap();
    s.policy_command_code(CommandCode::NV_CHANGE_AUTH).unwrap();
    s.policy_auth_value().unwrap();
    tpm.execute(
        &tpm2_wire::command::NvChangeAuth {
            nv_index: nv.clone(),
            new_auth: new.clone(),
        },
        &mut [s.auth(&old)],
    )
    .unwrap();
    let write = |auth: &Auth| {
        tpm.execute(
            &tpm2_wire::command::NvWrite {
                auth_handle: nv.clone(),
                nv_index: nv.clone(),
                data: tpm2_wire::wire::MaxNvBuffer::new(b"12345678").unwrap(),
                offset: 0,
            },
            &mut [SessionSlot::Password(auth)],
        )
    };
    write(&new).unwrap();
    let err = write(&old).unwrap_err();
    assert_eq!(
        err.response_code().unwrap().base_code(),
        TpmRc::BAD_AUTH,
        "{err}"
    );
    drop(s);
    flush(&tpm, salt.entity().handle);
    let nv = tpm.nv_read_public(nv.handle).unwrap().0;
    undefine_nv(&tpm, &nv);
    assert_nothing_loaded(&tpm);
}

/// TPM2_NV_UndefineSpaceSpecial under a policy session with PolicyAuthValue: the index that
/// authorized the command no longer exists when the TPM builds its response, so it keys the
/// response HMAC without an auth value.
#[test]
fn nv_undefine_space_special_under_a_policy_session() {
    let (_sim, tpm) = swtpm();
    let auth = pw("delete-me");
    let policy = PolicyCalculator::new(HashAlg::Sha256)
        .policy_command_code(CommandCode::NV_UNDEFINE_SPACE_SPECIAL)
        .policy_auth_value()
        .digest()
        .clone();
    let index = Handle(0x0140_0001);
    let nv = define_policy_delete_nv(&tpm, index, &auth, policy);
    let platform = Auth::empty();
    let mut s = Session::start(&tpm, &SessionOptions::policy()).unwrap();
    s.policy_command_code(CommandCode::NV_UNDEFINE_SPACE_SPECIAL)
        .unwrap();
    s.policy_auth_value().unwrap();
    tpm.execute(
        &tpm2_wire::command::NvUndefineSpaceSpecial {
            nv_index: nv.clone(),
            platform: Entity::platform(),
        },
        &mut [s.auth(&auth), SessionSlot::Password(&platform)],
    )
    .unwrap();
    assert!(tpm.nv_read_public(index).is_err(), "the index is gone");
    drop(s);
    assert_nothing_loaded(&tpm);
}

/// PolicySecret authorized by a salted HMAC session that also encrypts both directions
/// (nonceTPM in, timeout out), against a key with an auth value.
#[test]
fn policy_secret_authorized_by_an_encrypting_hmac_session() {
    let (_sim, tpm) = swtpm();
    let key_auth = pw("key-auth");
    let (key, _) = create_primary(&tpm, Public::ecc_p256_storage_parent(), &key_auth);
    let salt = salt_key(&tpm, Salt::Ecc).unwrap();
    let mut hmac = Session::start(
        &tpm,
        &SessionOptions::hmac()
            .salted(salt.clone())
            .encrypt(true, true),
    )
    .unwrap();
    let steps = [Step::Secret(key.clone(), key_auth.clone(), b"why".to_vec())];
    let expected = calculate(&tpm, HashAlg::Sha256, &steps);
    for _ in 0..2 {
        let mut trial = Session::start(&tpm, &SessionOptions::trial()).unwrap();
        trial
            .policy_secret(&key, hmac.auth(&key_auth), &Nonce::new(b"why").unwrap())
            .unwrap();
        assert_eq!(trial.policy_digest().unwrap(), expected);
    }
    // A wrong key auth is refused (and counted: the key is not noDA).
    let mut trial = Session::start(&tpm, &SessionOptions::trial()).unwrap();
    let err = trial
        .policy_secret(&key, hmac.auth(&pw("nope")), &Nonce::empty())
        .unwrap_err();
    assert!(err.response_code().unwrap().is_auth_fail(), "{err}");
    drop((trial, hmac));
    reset_lockout(&tpm);
    flush(&tpm, salt.entity().handle);
    flush(&tpm, key.handle);
    assert_nothing_loaded(&tpm);
}
