//! Policies used end to end on swtpm: data sealed to "either of these PCR states"
//! (PolicyOR), to "any policy this key approves" (PolicyAuthorize with a signature made on the
//! host), and to a host key's signature with an expiration (PolicySigned), reused through
//! the ticket it returns (PolicyTicket) until that expires.

mod common;

use std::time::Duration;

use common::*;
use tpm2_wire::attest::convert::{signature_from_rsa_pkcs1v15, HostPublicKey};
use tpm2_wire::attest::rsa;
use tpm2_wire::client::{Session, SessionOptions, SignedTerms};
use tpm2_wire::command::{Entity, LoadExternal, Unseal, VerifySignature};
use tpm2_wire::crypto::{self, HashAlg};
use tpm2_wire::session::policy::{authorize_digest, key_name, signed_digest, PolicyCalculator};
use tpm2_wire::wire::{
    AlgId, Auth, Digest, Handle, Nonce, ObjectAttributes, OptionalSensitive, PcrSelection,
    PcrSelectionList, Public, SigScheme, Signature, StructureTag, Tpm2bPublic, TpmRc,
};
use tpm2_wire::Tpm;

/// sign | userWithAuth: a public key loaded to verify signatures.
const HOST_KEY: ObjectAttributes = ObjectAttributes(0x0004_0040);
const PCR: u8 = 16;

fn pcr16() -> PcrSelectionList {
    PcrSelectionList::new(vec![PcrSelection::new(AlgId::SHA256, &[PCR]).unwrap()]).unwrap()
}

fn pcr16_value(tpm: &Tpm) -> Digest {
    tpm.pcr_values(&pcr16()).unwrap().remove(0)
}

fn unseal(tpm: &Tpm, item: &Entity, s: &mut Session) -> tpm2_wire::Result<Vec<u8>> {
    let empty = Auth::empty();
    Ok(tpm
        .execute(
            &Unseal {
                item_handle: item.clone(),
            },
            &mut [s.auth(&empty)],
        )?
        .out_data
        .as_bytes()
        .to_vec())
}

fn base_code(e: &tpm2_wire::Error) -> TpmRc {
    e.response_code()
        .unwrap_or_else(|| panic!("not a TPM error: {e}"))
        .base_code()
}

/// An RSA key held on the host, its public area, and the same loaded into the TPM (in the
/// owner hierarchy, so that VerifySignature returns a real ticket).
struct HostKey {
    private: rsa::RsaPrivateKey,
    public: Public,
    loaded: Entity,
}

fn host_key(tpm: &Tpm) -> HostKey {
    let private = rsa::RsaPrivateKey::new(&mut rand_core::OsRng, 2048).unwrap();
    let public = HostPublicKey::Rsa(private.to_public_key())
        .to_public(
            AlgId::SHA256,
            HOST_KEY,
            SigScheme::RsaSsa {
                hash: AlgId::SHA256,
            },
        )
        .unwrap();
    let rsp = tpm
        .run(&LoadExternal {
            in_private: OptionalSensitive::none(),
            in_public: Tpm2bPublic(public.clone()),
            hierarchy: Handle::RH_OWNER,
        })
        .unwrap();
    assert_eq!(rsp.name, key_name(&public).unwrap());
    HostKey {
        private,
        public,
        loaded: Entity::new(rsp.object_handle, rsp.name),
    }
}

impl HostKey {
    /// RSASSA-SHA256 over a digest, made on the host.
    fn sign(&self, digest: &Digest) -> Signature {
        let sig = self
            .private
            .sign(
                rsa::Pkcs1v15Sign::new::<rsa::sha2::Sha256>(),
                digest.as_bytes(),
            )
            .unwrap();
        signature_from_rsa_pkcs1v15(
            AlgId::SHA256,
            &rsa::pkcs1v15::Signature::try_from(sig.as_slice()).unwrap(),
        )
        .unwrap()
    }
}

#[test]
fn sealed_to_either_of_two_pcr_states_with_policy_or() {
    let (_sim, tpm) = swtpm();
    let (parent, _) = create_primary(&tpm, Public::rsa_2048_storage_parent(), &Auth::empty());
    // The two states, computed on the host: now, and after one known extend.
    let state_a = pcr16_value(&tpm);
    let extend_data = b"update to state B";
    let state_b = crypto::hash(
        HashAlg::Sha256,
        &[
            state_a.as_bytes(),
            crypto::hash(HashAlg::Sha256, &[extend_data]).as_bytes(),
        ],
    );
    let branch = |value: &Digest| {
        PolicyCalculator::new(HashAlg::Sha256)
            .policy_pcr(&pcr16(), std::slice::from_ref(value))
            .unwrap()
            .digest()
            .clone()
    };
    let branches = [branch(&state_a), branch(&state_b)];
    let policy = PolicyCalculator::new(HashAlg::Sha256)
        .policy_or(&branches)
        .unwrap()
        .digest()
        .clone();
    let secret = random_bytes(32);
    let item = policy_sealed(&tpm, &parent, &policy, &Auth::empty(), &secret);

    let attempt = |tpm: &Tpm| -> tpm2_wire::Result<Vec<u8>> {
        let mut s = Session::start(tpm, &SessionOptions::policy()).unwrap();
        s.policy_pcr(&pcr16(), &Digest::empty())?;
        let result = s.policy_or(&branches).and_then(|()| {
            assert_eq!(s.policy_digest().unwrap(), policy);
            unseal(tpm, &item, &mut s)
        });
        s.flush().unwrap();
        result
    };
    assert_eq!(attempt(&tpm).unwrap(), secret, "state A");
    extend_pcr(&tpm, PCR.into(), extend_data);
    assert_eq!(pcr16_value(&tpm), state_b);
    assert_eq!(attempt(&tpm).unwrap(), secret, "state B");
    extend_pcr(&tpm, PCR.into(), b"a third state");
    let err = attempt(&tpm).unwrap_err();
    // PolicyOR refuses a session digest that is none of the branches.
    assert_eq!(base_code(&err), TpmRc::VALUE, "{err}");

    flush(&tpm, item.handle);
    flush(&tpm, parent.handle);
    assert_nothing_loaded(&tpm);
}

#[test]
fn sealed_to_any_policy_a_host_key_approves() {
    let (_sim, tpm) = swtpm();
    let (parent, _) = create_primary(&tpm, Public::rsa_2048_storage_parent(), &Auth::empty());
    let key = host_key(&tpm);
    let policy_ref = Nonce::new(b"release v1").unwrap();
    let policy = PolicyCalculator::new(HashAlg::Sha256)
        .policy_authorize(&key.public, &policy_ref)
        .unwrap()
        .digest()
        .clone();
    let secret = random_bytes(24);
    let item = policy_sealed(&tpm, &parent, &policy, &Auth::empty(), &secret);

    // The owner of the key approves "PCR 16 as it is now", on the host.
    let approve = |value: &Digest| {
        let approved = PolicyCalculator::new(HashAlg::Sha256)
            .policy_pcr(&pcr16(), std::slice::from_ref(value))
            .unwrap()
            .digest()
            .clone();
        let signature = key.sign(&authorize_digest(HashAlg::Sha256, &approved, &policy_ref));
        (approved, signature)
    };
    let attempt = |tpm: &Tpm, approved: &Digest, signature: &Signature| {
        let ticket = tpm
            .run(&VerifySignature {
                key_handle: key.loaded.clone(),
                digest: authorize_digest(HashAlg::Sha256, approved, &policy_ref),
                signature: signature.clone(),
            })?
            .validation;
        assert_eq!(ticket.tag, StructureTag::VERIFIED);
        assert_eq!(ticket.hierarchy, Handle::RH_OWNER);
        let mut s = Session::start(tpm, &SessionOptions::policy()).unwrap();
        let result = s
            .policy_pcr(&pcr16(), &Digest::empty())
            .and_then(|()| s.policy_authorize(approved, &policy_ref, &key.loaded.name, &ticket))
            .and_then(|()| {
                assert_eq!(s.policy_digest().unwrap(), policy);
                unseal(tpm, &item, &mut s)
            });
        s.flush().unwrap();
        result
    };

    let (approved_1, signature_1) = approve(&pcr16_value(&tpm));
    assert_eq!(attempt(&tpm, &approved_1, &signature_1).unwrap(), secret);

    // The PCR moves on: the old approval no longer matches the session's digest...
    extend_pcr(&tpm, PCR.into(), b"new firmware");
    let err = attempt(&tpm, &approved_1, &signature_1).unwrap_err();
    assert_eq!(base_code(&err), TpmRc::VALUE, "{err}");
    // ...but a new approval opens the same object, without sealing it again.
    let (approved_2, signature_2) = approve(&pcr16_value(&tpm));
    assert_eq!(attempt(&tpm, &approved_2, &signature_2).unwrap(), secret);

    // A signature over another policy is refused by the TPM before any ticket exists.
    let err = attempt(&tpm, &approved_2, &signature_1).unwrap_err();
    assert_eq!(base_code(&err), TpmRc::SIGNATURE, "{err}");

    flush(&tpm, key.loaded.handle);
    flush(&tpm, item.handle);
    flush(&tpm, parent.handle);
    assert_nothing_loaded(&tpm);
}

#[test]
fn policy_signed_with_expiration_and_its_ticket() {
    let (_sim, tpm) = swtpm();
    let (parent, _) = create_primary(&tpm, Public::rsa_2048_storage_parent(), &Auth::empty());
    let key = host_key(&tpm);
    let policy_ref = Nonce::new(b"one-off approval").unwrap();
    let policy = PolicyCalculator::new(HashAlg::Sha256)
        .policy_signed(&key.public, &policy_ref)
        .unwrap()
        .digest()
        .clone();
    let secret = random_bytes(20);
    let item = policy_sealed(&tpm, &parent, &policy, &Auth::empty(), &secret);

    // Bound to this session's nonce, valid 2 s, and a ticket asked for (negative).
    let terms = SignedTerms {
        bind_nonce: true,
        expiration: -2,
        cp_hash_a: Digest::empty(),
        policy_ref: policy_ref.clone(),
    };
    let mut s = Session::start(&tpm, &SessionOptions::policy()).unwrap();
    let nonce = s.signed_nonce(&terms);
    assert!(!nonce.is_empty());
    // A signature over another nonce (another session's) is refused.
    let stale = signed_digest(
        HashAlg::Sha256,
        &Nonce::new(&[0xA5; 16]).unwrap(),
        terms.expiration,
        &terms.cp_hash_a,
        &policy_ref,
    );
    let err = s
        .policy_signed(&key.loaded, &terms, &key.sign(&stale))
        .unwrap_err();
    assert_eq!(base_code(&err), TpmRc::SIGNATURE, "{err}");

    let a_hash = signed_digest(
        HashAlg::Sha256,
        &nonce,
        terms.expiration,
        &terms.cp_hash_a,
        &policy_ref,
    );
    let rsp = s
        .policy_signed(&key.loaded, &terms, &key.sign(&a_hash))
        .unwrap();
    assert_eq!(rsp.policy_ticket.tag, StructureTag::AUTH_SIGNED);
    assert!(!rsp.timeout.is_empty());
    assert_eq!(s.policy_digest().unwrap(), policy);
    assert_eq!(unseal(&tpm, &item, &mut s).unwrap(), secret);
    s.flush().unwrap();

    // The ticket stands in for the signature in another session, and gives the same digest.
    let mut by_ticket = PolicyCalculator::new(HashAlg::Sha256);
    by_ticket
        .policy_ticket(&rsp.policy_ticket, &key.loaded.name, &policy_ref)
        .unwrap();
    assert_eq!(by_ticket.digest(), &policy);
    let use_ticket = |tpm: &Tpm| -> tpm2_wire::Result<Vec<u8>> {
        let mut s = Session::start(tpm, &SessionOptions::policy()).unwrap();
        let result = s
            .policy_ticket(
                &rsp.timeout,
                &terms.cp_hash_a,
                &policy_ref,
                &key.loaded.name,
                &rsp.policy_ticket,
            )
            .and_then(|()| {
                assert_eq!(s.policy_digest().unwrap(), policy);
                unseal(tpm, &item, &mut s)
            });
        s.flush().unwrap();
        result
    };
    assert_eq!(use_ticket(&tpm).unwrap(), secret);
    // A ticket for another key name is refused.
    let mut s = Session::start(&tpm, &SessionOptions::policy()).unwrap();
    let err = s
        .policy_ticket(
            &rsp.timeout,
            &terms.cp_hash_a,
            &policy_ref,
            &parent.name,
            &rsp.policy_ticket,
        )
        .unwrap_err();
    assert_eq!(base_code(&err), TpmRc::TICKET, "{err}");
    s.flush().unwrap();

    // Past its expiration the ticket is refused.
    std::thread::sleep(Duration::from_millis(2500));
    let err = use_ticket(&tpm).unwrap_err();
    assert_eq!(base_code(&err), TpmRc::EXPIRED, "{err}");

    flush(&tpm, key.loaded.handle);
    flush(&tpm, item.handle);
    flush(&tpm, parent.handle);
    assert_nothing_loaded(&tpm);
}
