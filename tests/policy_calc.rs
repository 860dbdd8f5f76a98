//! Every policy command computed offline by `PolicyCalculator` against the digest the TPM's
//! own trial session reaches for the same command, for SHA-1, SHA-256 and SHA-384 sessions.

mod common;

use common::*;
use tpm2_wire::client::{Session, SessionOptions};
use tpm2_wire::command::Entity;
use tpm2_wire::crypto::{self, HashAlg};
use tpm2_wire::keys::templates::{signing_key, KeyAlg};
use tpm2_wire::session::engine::SessionSlot;
use tpm2_wire::session::policy::{key_name, PolicyCalculator};
use tpm2_wire::wire::{
    AlgId, ArithmeticOp, Auth, CommandCode, Digest, EccParameter, EccSignature, Handle,
    LocalityAttributes, Marshal, Name, Nonce, NvAttributes, NvType, Operand, PcrSelection,
    PcrSelectionList, Public, Signature,
};
use tpm2_wire::Tpm;

const NV_INDEX: u32 = 0x0150_0020;

/// What the policies below refer to on the TPM.
struct Fixture {
    /// A loaded key: PolicySigned's authObject (a trial session checks no signature).
    key: Entity,
    key_public: Public,
    /// A written NV index readable with its own auth value.
    nv: Entity,
    nv_auth: Auth,
}

fn fixture(tpm: &Tpm) -> Fixture {
    let (key, key_public) = create_primary(tpm, signing_key(KeyAlg::EccP256), &Auth::empty());
    let nv_auth = pw("nv auth");
    let attrs = (NvAttributes::AUTHREAD | NvAttributes::AUTHWRITE | NvAttributes::NO_DA)
        .with_nv_type(NvType::ORDINARY);
    define_nv(
        tpm,
        NV_INDEX,
        HashAlg::Sha256,
        attrs,
        &nv_auth,
        &Digest::empty(),
        16,
    );
    let mut index = tpm.nv_index(Handle(NV_INDEX)).unwrap();
    tpm.nv_write(
        None,
        &mut index,
        &[7u8; 16],
        0,
        &mut [SessionSlot::Password(&nv_auth)],
    )
    .unwrap();
    // The name once written, which PolicyNV and PolicyAuthorizeNV use.
    let nv = tpm.nv_read_public(Handle(NV_INDEX)).unwrap().0;
    Fixture {
        key,
        key_public,
        nv,
        nv_auth,
    }
}

/// A digest of `hash`'s size, different for each `label`.
fn digest(hash: HashAlg, label: &str) -> Digest {
    crypto::hash(hash, &[label.as_bytes()])
}

fn name_of(handle: u32) -> Name {
    Entity::from_handle(Handle(handle)).name
}

fn pcrs() -> PcrSelectionList {
    PcrSelectionList::new(vec![
        PcrSelection::new(AlgId::SHA256, &[0, 1, 2, 16]).unwrap()
    ])
    .unwrap()
}

/// One policy command, run offline on `c` and in the trial session `s`.
type Case = fn(&Tpm, &Fixture, HashAlg, &mut PolicyCalculator, &mut Session);

fn cases() -> Vec<(&'static str, Case)> {
    vec![
        ("PolicyOR", |_, _, h, c, s| {
            let branches = [digest(h, "a"), digest(h, "b"), digest(h, "c")];
            c.policy_or(&branches).unwrap();
            s.policy_or(&branches).unwrap();
        }),
        ("PolicyOR of 8", |_, _, h, c, s| {
            let branches: Vec<Digest> = (0..8).map(|i| digest(h, &i.to_string())).collect();
            c.policy_or(&branches).unwrap();
            s.policy_or(&branches).unwrap();
        }),
        ("PolicyAuthorize", |_, f, _, c, s| {
            let policy_ref = Nonce::new(b"approved by").unwrap();
            c.policy_authorize(&f.key_public, &policy_ref).unwrap();
            // A trial session checks no ticket: a NULL one will do.
            let ticket = tpm2_wire::wire::Ticket::null(tpm2_wire::wire::StructureTag::VERIFIED);
            let approved = s.policy_digest().unwrap();
            s.policy_authorize(&approved, &policy_ref, &f.key.name, &ticket)
                .unwrap();
        }),
        ("PolicySigned", |_, f, _, c, s| {
            let policy_ref = Nonce::new(b"signed ref").unwrap();
            c.policy_signed(&f.key_public, &policy_ref).unwrap();
            let terms = tpm2_wire::client::SignedTerms {
                policy_ref,
                ..Default::default()
            };
            // A well-formed signature that the trial session does not check.
            let sig = Signature::Ecdsa(EccSignature {
                hash: AlgId::SHA256,
                r: EccParameter::new(&[1; 32]).unwrap(),
                s: EccParameter::new(&[2; 32]).unwrap(),
            });
            s.policy_signed(&f.key, &terms, &sig).unwrap();
        }),
        ("PolicyLocality", |_, _, _, c, s| {
            let loc = LocalityAttributes::ONE | LocalityAttributes::THREE;
            c.policy_locality(loc);
            s.policy_locality(loc).unwrap();
        }),
        ("PolicyNV", |_, f, _, c, s| {
            let operand = Operand::new(&[7, 7, 7]).unwrap();
            c.policy_nv(&f.nv.name, &operand, 2, ArithmeticOp::UNSIGNED_GE);
            s.policy_nv(
                &f.nv,
                SessionSlot::Password(&f.nv_auth),
                &f.nv,
                &operand,
                2,
                ArithmeticOp::UNSIGNED_GE,
            )
            .unwrap();
        }),
        ("PolicyCounterTimer", |_, _, _, c, s| {
            let operand = Operand::new(&1000u64.to_be_bytes()).unwrap();
            c.policy_counter_timer(&operand, 0, ArithmeticOp::UNSIGNED_GT);
            s.policy_counter_timer(&operand, 0, ArithmeticOp::UNSIGNED_GT)
                .unwrap();
        }),
        ("PolicyCpHash", |_, _, h, c, s| {
            let cp = digest(h, "cpHash");
            c.policy_cp_hash(&cp).unwrap();
            s.policy_cp_hash(&cp).unwrap();
        }),
        ("PolicyNameHash", |_, f, h, c, s| {
            let names = [f.key.name.clone(), f.nv.name.clone()];
            c.policy_names(&names);
            let mut name_hash = crypto::Hasher::new(h);
            for n in &names {
                name_hash.update(n.as_bytes());
            }
            s.policy_name_hash(&name_hash.finalize()).unwrap();
        }),
        ("PolicyNvWritten yes", |_, _, _, c, s| {
            c.policy_nv_written(true);
            s.policy_nv_written(true).unwrap();
        }),
        ("PolicyNvWritten no", |_, _, _, c, s| {
            c.policy_nv_written(false);
            s.policy_nv_written(false).unwrap();
        }),
        ("PolicyTemplate", |_, _, h, c, s| {
            let template = Public::ecc_p256_storage_parent();
            c.policy_template(&template);
            s.policy_template(&crypto::hash(h, &[&template.to_bytes()]))
                .unwrap();
        }),
        ("PolicyAuthorizeNV", |_, f, _, c, s| {
            c.policy_authorize_nv(&f.nv.name);
            s.policy_authorize_nv(&f.nv, SessionSlot::Password(&f.nv_auth), &f.nv)
                .unwrap();
        }),
        ("PolicyDuplicationSelect with object", |_, f, _, c, s| {
            let parent = name_of(0x4000_0001);
            c.policy_duplication_select(&f.key.name, &parent, true);
            s.policy_duplication_select(&f.key.name, &parent, true)
                .unwrap();
        }),
        ("PolicyDuplicationSelect without object", |_, f, _, c, s| {
            c.policy_duplication_select(&f.key.name, &f.nv.name, false);
            s.policy_duplication_select(&f.key.name, &f.nv.name, false)
                .unwrap();
        }),
        ("PolicyPhysicalPresence", |_, _, _, c, s| {
            c.policy_physical_presence();
            s.policy_physical_presence().unwrap();
        }),
        ("PolicyPCR typed", |tpm, _, _, c, s| {
            let values = tpm.pcr_values(&pcrs()).unwrap();
            c.policy_pcr(&pcrs(), &values).unwrap();
            s.policy_pcr(&pcrs(), &Digest::empty()).unwrap();
        }),
        ("PolicyCommandCode", |_, _, _, c, s| {
            c.policy_command_code(CommandCode::DUPLICATE);
            s.policy_command_code(CommandCode::DUPLICATE).unwrap();
        }),
    ]
}

#[test]
fn calculator_matches_trial_session_for_every_policy_command() {
    let (_sim, tpm) = swtpm();
    let f = fixture(&tpm);
    for hash in HASHES {
        let all = cases();
        // Each command alone, from the zero digest, and then all of them in one policy
        // (so every command is also checked starting from a non-zero digest).
        let mut chained = PolicyCalculator::new(hash);
        chained.policy_auth_value();
        let mut chained_session =
            Session::start(&tpm, &SessionOptions::trial().hash(hash)).unwrap();
        chained_session.policy_auth_value().unwrap();
        for (name, case) in &all {
            // From the zero digest, and after PolicyAuthValue (which conflicts with no other
            // command), so that commands that reset the digest are seen to reset it.
            for after_auth_value in [false, true] {
                let mut c = PolicyCalculator::new(hash);
                let mut s = Session::start(&tpm, &SessionOptions::trial().hash(hash)).unwrap();
                if after_auth_value {
                    c.policy_auth_value();
                    s.policy_auth_value().unwrap();
                }
                case(&tpm, &f, hash, &mut c, &mut s);
                let trial = s.policy_digest().unwrap();
                s.flush().unwrap();
                assert_eq!(trial.len(), hash.digest_size(), "{name} {hash:?}");
                assert_eq!(
                    c.digest(),
                    &trial,
                    "{name} with {hash:?}, after PolicyAuthValue: {after_auth_value}"
                );
            }

            // Left out of the chain: commands that reset the digest, and those that set a
            // session field another one already set (cpHash, nameHash and templateHash
            // share one; NvWritten takes one value).
            let alone = [
                "PolicyOR",
                "PolicyAuthorize",
                "PolicyDuplicationSelect",
                "PolicyNameHash",
                "PolicyTemplate",
                "PolicyNvWritten no",
            ];
            if !alone.iter().any(|a| name.starts_with(a)) {
                case(&tpm, &f, hash, &mut chained, &mut chained_session);
            }
        }
        let trial = chained_session.policy_digest().unwrap();
        chained_session.flush().unwrap();
        assert_ne!(trial, *PolicyCalculator::new(hash).digest());
        assert_eq!(chained.digest(), &trial, "all chained with {hash:?}");
    }
    // PolicySigned's key name is computed from the public area, as the TPM's is.
    assert_eq!(key_name(&f.key_public).unwrap(), f.key.name);
    flush(&tpm, f.key.handle);
    undefine_nv(&tpm, &f.nv);
    assert_nothing_loaded(&tpm);
}
