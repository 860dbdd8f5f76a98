//! TPM2_Duplicate, TPM2_Import and TPM2_Rewrap against swtpm, checked by what they mean: a
//! key duplicated to another parent (with no inner wrapper, an inner wrapper with the
//! caller's key, or one the TPM picks) imports there, loads with the original's name and
//! signs for the original's public key; a duplicate rewrapped for a third parent imports
//! there; a wrong inner key or parent is refused.

mod command_fixtures;
mod common;

use command_fixtures::*;
use common::*;
use tpm2_wire::attest::convert::verify_digest;
use tpm2_wire::client::{Session, SessionOptions};
use tpm2_wire::command::{
    Duplicate, DuplicateResponse, Entity, FlushContext, Import, Load, Rewrap, Sign,
};
use tpm2_wire::session::engine::SessionSlot;
use tpm2_wire::wire::{
    Auth, CommandCode, Digest, Private, Public, SigScheme, StructureTag, SymDefObject, Ticket,
    Tpm2bPublic, TpmRc, WrapperKey,
};
use tpm2_wire::Tpm;

/// The key to duplicate: its public area and its private area under parent A.
struct Original {
    public: Public,
    private: Private,
    name: tpm2_wire::wire::Name,
}

/// The TPM refused the command with one of `bases`.
#[track_caller]
fn assert_refused<T: std::fmt::Debug>(result: tpm2_wire::Result<T>, bases: &[TpmRc]) {
    match result {
        Err(tpm2_wire::Error::Tpm { rc, .. }) => assert!(bases.contains(&rc.base_code()), "{rc}"),
        other => panic!("expected one of {bases:?}, got {other:?}"),
    }
}

fn flush(tpm: &Tpm, e: &Entity) {
    tpm.run(&FlushContext {
        flush_handle: e.handle,
    })
    .expect("flush");
}

fn load(
    tpm: &Tpm,
    parent: &Entity,
    private: &Private,
    public: &Public,
) -> tpm2_wire::Result<Entity> {
    let empty = Auth::empty();
    let rsp = tpm.execute(
        &Load {
            parent_handle: parent.clone(),
            in_private: private.clone(),
            in_public: Tpm2bPublic(public.clone()),
        },
        &mut [SessionSlot::Password(&empty)],
    )?;
    Ok(Entity::new(rsp.object_handle, rsp.name))
}

/// Duplicates the original (loaded under `parent_a` for the command) for `new_parent`,
/// authorizing the DUP role with PolicyCommandCode(TPM_CC_Duplicate) and encrypting the
/// wrapper keys with the salted session.
fn duplicate(
    tpm: &Tpm,
    parent_a: &Entity,
    original: &Original,
    new_parent: &Entity,
    key_in: &[u8],
    symmetric_alg: SymDefObject,
    salted: &mut Session,
) -> tpm2_wire::Result<DuplicateResponse> {
    let key = load(tpm, parent_a, &original.private, &original.public).expect("load original");
    assert_eq!(key.name, original.name);
    let mut policy = Session::start(tpm, &SessionOptions::policy()).expect("policy session");
    policy
        .policy_command_code(CommandCode::DUPLICATE)
        .expect("PolicyCommandCode");
    let empty = Auth::empty();
    let rsp = tpm.execute(
        &Duplicate {
            object_handle: key.clone(),
            new_parent_handle: new_parent.clone(),
            encryption_key_in: WrapperKey::new(key_in).unwrap(),
            symmetric_alg,
        },
        &mut [policy.auth(&empty), salted.extra()],
    );
    policy.flush().expect("flush the policy session");
    flush(tpm, &key);
    rsp
}

fn import(
    tpm: &Tpm,
    parent: &Entity,
    original: &Original,
    key: &[u8],
    (duplicate, seed): (&Private, &tpm2_wire::wire::EncryptedSecret),
    symmetric_alg: SymDefObject,
    salted: &mut Session,
) -> tpm2_wire::Result<Private> {
    let empty = Auth::empty();
    tpm.execute(
        &Import {
            parent_handle: parent.clone(),
            encryption_key: WrapperKey::new(key).unwrap(),
            object_public: Tpm2bPublic(original.public.clone()),
            duplicate: duplicate.clone(),
            in_sym_seed: seed.clone(),
            symmetric_alg,
        },
        &mut [salted.auth(&empty)],
    )
    .map(|r| r.out_private)
}

/// The imported private area loads under `parent` with the original's name, and what it
/// signs verifies with the original's public key on the host.
fn check_imported(tpm: &Tpm, parent: &Entity, original: &Original, private: &Private) {
    let key = load(tpm, parent, private, &original.public).expect("load the imported key");
    assert_eq!(key.name, original.name, "the imported key is the original");
    let digest = random_bytes(32);
    let empty = Auth::empty();
    let sig = tpm
        .execute(
            &Sign {
                key_handle: key.clone(),
                digest: Digest::new(&digest).unwrap(),
                in_scheme: SigScheme::Null,
                validation: Ticket::null(StructureTag::HASHCHECK),
            },
            &mut [SessionSlot::Password(&empty)],
        )
        .expect("Sign with the imported key")
        .signature;
    verify_digest(&original.public, &digest, &sig).expect("the original's key verifies it");
    flush(tpm, &key);
}

/// Parent A (an ECC storage primary) with a signing key under it that only
/// PolicyCommandCode(TPM_CC_Duplicate) lets out, and the salted session that carries the
/// wrapper keys encrypted.
struct Duplication<'t> {
    tpm: &'t Tpm,
    parent_a: Entity,
    original: Original,
    salted: Session,
}

impl<'t> Duplication<'t> {
    /// The fixture, and parent B (an RSA storage primary) to duplicate to.
    fn new(tpm: &'t Tpm) -> (Self, Entity) {
        let salted = salted_session(tpm);
        let empty = Auth::empty();
        let (parent_a, _) = primary(tpm, &Public::ecc_p256_storage_parent(), &empty, b"");
        let (parent_b, _) = primary(tpm, &Public::rsa_2048_storage_parent(), &empty, b"");
        let template = ecc_sign_template(true, &policy_command_code_digest(CommandCode::DUPLICATE));
        let (key, public, created) = create_loaded(
            tpm,
            &parent_a,
            &mut [SessionSlot::Password(&empty)],
            &template,
            &empty,
            b"",
        );
        flush(tpm, &key);
        let original = Original {
            public,
            private: created.out_private,
            name: key.name,
        };
        let fixture = Duplication {
            tpm,
            parent_a,
            original,
            salted,
        };
        (fixture, parent_b)
    }

    fn duplicate(
        &mut self,
        new_parent: &Entity,
        key_in: &[u8],
        symmetric_alg: SymDefObject,
    ) -> tpm2_wire::Result<DuplicateResponse> {
        duplicate(
            self.tpm,
            &self.parent_a,
            &self.original,
            new_parent,
            key_in,
            symmetric_alg,
            &mut self.salted,
        )
    }

    fn import(
        &mut self,
        parent: &Entity,
        key: &[u8],
        wrapped: (&Private, &tpm2_wire::wire::EncryptedSecret),
        symmetric_alg: SymDefObject,
    ) -> tpm2_wire::Result<Private> {
        import(
            self.tpm,
            parent,
            &self.original,
            key,
            wrapped,
            symmetric_alg,
            &mut self.salted,
        )
    }

    fn check_imported(&self, parent: &Entity, private: &Private) {
        check_imported(self.tpm, parent, &self.original, private)
    }
}

/// What Duplicate answered, as Import and Rewrap take it.
fn wrapped(dup: &DuplicateResponse) -> (&Private, &tpm2_wire::wire::EncryptedSecret) {
    (&dup.duplicate, &dup.out_sym_seed)
}

#[test]
fn a_duplicated_key_imports_under_another_parent_and_signs_as_the_original() {
    let (_sim, tpm, frames) = swtpm_recording();
    let (mut d, parent_b) = Duplication::new(&tpm);

    // No inner wrapper: nothing comes back for the caller to keep.
    let dup = d
        .duplicate(&parent_b, b"", SymDefObject::Null)
        .expect("Duplicate, outer wrapper only");
    assert!(dup.encryption_key_out.is_empty());
    assert!(
        !dup.out_sym_seed.is_empty(),
        "an outer wrapper for parent B"
    );
    let private = d
        .import(&parent_b, b"", wrapped(&dup), SymDefObject::Null)
        .expect("Import");
    d.check_imported(&parent_b, &private);
    // Parent A cannot import what was wrapped for parent B.
    assert!(d
        .import(&d.parent_a.clone(), b"", wrapped(&dup), SymDefObject::Null)
        .is_err());

    // An inner wrapper with the caller's key, which crosses the bus only encrypted.
    let inner_key = random_bytes(16);
    frames.lock().unwrap().clear();
    let dup = d
        .duplicate(&parent_b, &inner_key, SymDefObject::AES_128_CFB)
        .expect("Duplicate with the caller's inner key");
    assert!(
        dup.encryption_key_out.is_empty(),
        "the caller's key is not returned"
    );
    frames.lock().unwrap().clear();
    let private = d
        .import(
            &parent_b,
            &inner_key,
            wrapped(&dup),
            SymDefObject::AES_128_CFB,
        )
        .expect("Import with the inner key");
    assert!(!contains(&frames.lock().unwrap()[0].0, &inner_key));
    d.check_imported(&parent_b, &private);
    // Another inner key opens nothing: the inner integrity, decrypted with it, is garbage
    // whose size field (TPM_RC_SIZE) or digest (TPM_RC_INTEGRITY) the TPM refuses.
    let mut wrong = inner_key.clone();
    wrong[0] ^= 1;
    assert_refused(
        d.import(&parent_b, &wrong, wrapped(&dup), SymDefObject::AES_128_CFB),
        &[TpmRc::SIZE, TpmRc::INTEGRITY],
    );

    // An inner wrapper with a key the TPM picks; it comes back encrypted by the session.
    frames.lock().unwrap().clear();
    let dup = d
        .duplicate(&parent_b, b"", SymDefObject::AES_128_CFB)
        .expect("Duplicate with the TPM's inner key");
    let tpm_key = dup.encryption_key_out.as_bytes().to_vec();
    assert_eq!(tpm_key.len(), 16, "an AES-128 key");
    let duplicate_rsp = &frames
        .lock()
        .unwrap()
        .iter()
        .find(|(c, _)| c[6..10] == CommandCode::DUPLICATE.0.to_be_bytes())
        .expect("the Duplicate frame")
        .1
        .clone();
    assert!(
        !contains(duplicate_rsp, &tpm_key),
        "the key crossed the bus in clear"
    );
    let private = d
        .import(
            &parent_b,
            &tpm_key,
            wrapped(&dup),
            SymDefObject::AES_128_CFB,
        )
        .expect("Import with the TPM's inner key");
    d.check_imported(&parent_b, &private);
}

#[test]
fn a_rewrapped_duplicate_imports_under_the_third_parent_only() {
    let (_sim, tpm) = swtpm();
    let empty = Auth::empty();
    let (mut d, parent_b) = Duplication::new(&tpm);
    let inner_key = random_bytes(16);
    let dup = d
        .duplicate(&parent_b, &inner_key, SymDefObject::AES_128_CFB)
        .expect("Duplicate");
    flush(&tpm, &d.parent_a);

    // Parent C: an ECC storage key in the endorsement hierarchy.
    let (parent_c, _, _) = create_loaded(
        &tpm,
        &Entity::endorsement(),
        &mut [SessionSlot::Password(&empty)],
        &Public::ecc_p256_storage_parent(),
        &empty,
        b"",
    );
    let rewrapped = tpm
        .execute(
            &Rewrap {
                old_parent: parent_b.clone(),
                new_parent: parent_c.clone(),
                in_duplicate: dup.duplicate.clone(),
                name: d.original.name.clone(),
                in_sym_seed: dup.out_sym_seed.clone(),
            },
            &mut [d.salted.auth(&empty)],
        )
        .expect("Rewrap");
    assert_ne!(rewrapped.out_sym_seed, dup.out_sym_seed);
    // Rewrapped for C: B no longer opens it, C does (the inner wrapper stays).
    assert!(d
        .import(
            &parent_b,
            &inner_key,
            (&rewrapped.out_duplicate, &rewrapped.out_sym_seed),
            SymDefObject::AES_128_CFB
        )
        .is_err());
    let private = d
        .import(
            &parent_c,
            &inner_key,
            (&rewrapped.out_duplicate, &rewrapped.out_sym_seed),
            SymDefObject::AES_128_CFB,
        )
        .expect("Import under C");
    flush(&tpm, &parent_b);
    d.check_imported(&parent_c, &private);

    // A rewrap under another name fails the outer wrapper's integrity check.
    let mut other = d.original.name.as_bytes().to_vec();
    let last = other.len() - 1;
    other[last] ^= 1;
    let (parent_b, _) = primary(&tpm, &Public::rsa_2048_storage_parent(), &empty, b"");
    assert!(tpm
        .execute(
            &Rewrap {
                old_parent: parent_b,
                new_parent: parent_c,
                in_duplicate: dup.duplicate,
                name: tpm2_wire::wire::Name::new(&other).unwrap(),
                in_sym_seed: dup.out_sym_seed,
            },
            &mut [d.salted.auth(&empty)],
        )
        .is_err());
}
