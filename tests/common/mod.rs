//! Shared test fixtures: a private swtpm per test and a client connected to it.
#![allow(dead_code)]

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

pub use tpm2_wire::client::HandleRange;
use tpm2_wire::client::SaltKey;
use tpm2_wire::command::{
    Create, CreateResponse, DictionaryAttackLockReset, Entity, Load, NvDefineSpace, NvUndefineSpace,
};
use tpm2_wire::crypto::HashAlg;
use tpm2_wire::session::engine::SessionSlot;
use tpm2_wire::sim::Swtpm;
use tpm2_wire::transport::{Transport, TransportError};
use tpm2_wire::wire::{
    Auth, Data, Digest, Handle, NvAttributes, NvPublic, PcrSelectionList, PropertyTag, Public,
    SensitiveCreate, SensitiveData, Tpm2bNvPublic, Tpm2bPublic, Tpm2bSensitiveCreate,
};
use tpm2_wire::Tpm;

pub fn swtpm() -> (Swtpm, Tpm) {
    swtpm_with(|t| t)
}

/// A private swtpm whose transport is wrapped by `wrap` (to count or tamper with frames).
pub fn swtpm_with(wrap: impl FnOnce(Box<dyn Transport>) -> Box<dyn Transport>) -> (Swtpm, Tpm) {
    // Unix sockets: no loopback ports to race for on a busy machine.
    let sim = Swtpm::spawn_unix().expect("swtpm must be installed (Debian package swtpm)");
    let transport: Box<dyn Transport> = Box::new(sim.transport().expect("connect to swtpm"));
    (sim, Tpm::new(wrap(transport)))
}

/// A transport that counts the commands it sends.
pub struct Counting {
    pub inner: Box<dyn Transport>,
    pub sent: Arc<AtomicUsize>,
}

impl Transport for Counting {
    fn transact(&mut self, command: &[u8], response: &mut Vec<u8>) -> Result<(), TransportError> {
        self.sent.fetch_add(1, Ordering::SeqCst);
        self.inner.transact(command, response)
    }

    fn describe(&self) -> String {
        format!("counting({})", self.inner.describe())
    }
}

pub fn pw(s: &str) -> Auth {
    Auth::new(s.as_bytes()).unwrap()
}

pub fn random_bytes(n: usize) -> Vec<u8> {
    let mut v = vec![0u8; n];
    tpm2_wire::crypto::random(&mut v).unwrap();
    v
}

pub const HASHES: [HashAlg; 3] = [HashAlg::Sha1, HashAlg::Sha256, HashAlg::Sha384];

/// Creates a primary key under the owner hierarchy (empty owner auth) with `auth`, through
/// the library's [`Tpm::create_primary`] (which checks the name against the public area).
pub fn create_primary(tpm: &Tpm, template: Public, auth: &Auth) -> (Entity, Public) {
    let owner_auth = Auth::empty();
    tpm.create_primary(
        &Entity::owner(),
        SessionSlot::Password(&owner_auth),
        template,
        auth,
    )
    .expect("CreatePrimary")
}

pub fn flush(tpm: &Tpm, h: Handle) {
    tpm.run(&tpm2_wire::command::FlushContext { flush_handle: h })
        .expect("flush");
}

/// Which key salts a session.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Salt {
    None,
    Rsa,
    Ecc,
}

/// A primary storage key to salt sessions with (none for `Salt::None`); flush it when done.
pub fn salt_key(tpm: &Tpm, salt: Salt) -> Option<SaltKey> {
    let template = match salt {
        Salt::None => return None,
        Salt::Rsa => Public::rsa_2048_storage_parent(),
        Salt::Ecc => Public::ecc_p256_storage_parent(),
    };
    let (key, public) = create_primary(tpm, template, &Auth::empty());
    Some(SaltKey::from_public(key, &public).unwrap())
}

/// Defines an NV index under the owner hierarchy (owner auth empty, by password) and returns
/// it with the name the TPM reports for it.
pub fn define_nv(
    tpm: &Tpm,
    index: u32,
    name_alg: HashAlg,
    attributes: NvAttributes,
    auth: &Auth,
    policy: &Digest,
    size: u16,
) -> Entity {
    let owner = Auth::empty();
    tpm.execute(
        &NvDefineSpace {
            auth_handle: Entity::owner(),
            auth: auth.clone(),
            public_info: Tpm2bNvPublic(NvPublic {
                nv_index: Handle(index),
                name_alg: name_alg.alg_id(),
                attributes,
                auth_policy: policy.clone(),
                data_size: size,
            }),
        },
        &mut [SessionSlot::Password(&owner)],
    )
    .expect("NV_DefineSpace");
    tpm.nv_read_public(Handle(index)).expect("NV_ReadPublic").0
}

pub fn undefine_nv(tpm: &Tpm, index: &Entity) {
    let owner = Auth::empty();
    tpm.execute(
        &NvUndefineSpace {
            auth_handle: Entity::owner(),
            nv_index: index.clone(),
        },
        &mut [SessionSlot::Password(&owner)],
    )
    .expect("NV_UndefineSpace");
}

/// TPM_PT_LOCKOUT_COUNTER: failed authorizations counted against dictionary-attack lockout.
pub fn lockout_counter(tpm: &Tpm) -> u32 {
    tpm.property(PropertyTag::LOCKOUT_COUNTER)
        .expect("GetCapability")
        .expect("TPM_PT_LOCKOUT_COUNTER reported")
}

/// Clears the dictionary-attack counter (lockout auth is empty on a fresh swtpm).
pub fn reset_lockout(tpm: &Tpm) {
    let lockout = Auth::empty();
    tpm.execute(
        &DictionaryAttackLockReset {
            lock_handle: Entity::lockout(),
        },
        &mut [SessionSlot::Password(&lockout)],
    )
    .expect("DictionaryAttackLockReset");
    assert_eq!(lockout_counter(tpm), 0, "lockout counter back to 0");
}

/// Command and response frames, in order.
pub type Frames = Arc<std::sync::Mutex<Vec<(Vec<u8>, Vec<u8>)>>>;

/// A transport that keeps a copy of every command and response frame.
pub struct Recording {
    pub inner: Box<dyn Transport>,
    pub frames: Frames,
}

impl Transport for Recording {
    fn transact(&mut self, command: &[u8], response: &mut Vec<u8>) -> Result<(), TransportError> {
        let r = self.inner.transact(command, response);
        self.frames
            .lock()
            .unwrap()
            .push((command.to_vec(), response.clone()));
        r
    }

    fn describe(&self) -> String {
        format!("recording({})", self.inner.describe())
    }
}

pub fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

/// The TPM's audit digest of `session` (TPM2_GetSessionAuditDigest, unsigned), parsed from
/// the TPMS_ATTEST it returns.
pub fn tpm_session_audit_digest(tpm: &Tpm, session: Handle) -> Digest {
    use tpm2_wire::wire::{AlgId, Attestation, Attested, Unmarshal};
    let empty = Auth::empty();
    let rsp = tpm
        .execute(
            &tpm2_wire::command::GetSessionAuditDigest {
                privacy_admin_handle: Entity::endorsement(),
                sign_handle: Entity::null(),
                session_handle: Entity::from_handle(session),
                qualifying_data: Data::empty(),
                in_scheme: AlgId::NULL,
            },
            &mut [SessionSlot::Password(&empty), SessionSlot::Password(&empty)],
        )
        .expect("GetSessionAuditDigest");
    let attest = Attestation::from_bytes(rsp.audit_info.as_bytes()).expect("TPMS_ATTEST");
    assert!(attest.is_tpm_generated());
    match attest.attested {
        Attested::SessionAudit(info) => info.session_digest,
        other => panic!("not a session audit attestation: {other:?}"),
    }
}

pub fn create_sealed(
    tpm: &Tpm,
    parent: &Entity,
    template: Public,
    seal_auth: &Auth,
    secret: &[u8],
    slots: &mut [SessionSlot<'_>],
) -> CreateResponse {
    tpm.execute(
        &Create {
            parent_handle: parent.clone(),
            in_sensitive: Tpm2bSensitiveCreate(SensitiveCreate {
                user_auth: seal_auth.clone(),
                data: SensitiveData::new(secret).unwrap(),
            }),
            in_public: Tpm2bPublic(template),
            outside_info: Data::empty(),
            creation_pcr: PcrSelectionList::default(),
        },
        slots,
    )
    .expect("Create")
}

pub fn load(tpm: &Tpm, parent: &Entity, created: &CreateResponse, slot: SessionSlot<'_>) -> Entity {
    let rsp = tpm
        .execute(
            &Load {
                parent_handle: parent.clone(),
                in_private: created.out_private.clone(),
                in_public: created.out_public.clone(),
            },
            &mut [slot],
        )
        .expect("Load");
    assert_eq!(
        rsp.name,
        tpm2_wire::client::object_name(&created.out_public.0).unwrap()
    );
    Entity::new(rsp.object_handle, rsp.name)
}

/// The sessions the TPM holds: (loaded, context-saved), through the library's capability
/// pager (the TPM reports saved sessions with the 0x02 prefix whatever their type).
pub fn sessions_on(tpm: &Tpm) -> (Vec<Handle>, Vec<Handle>) {
    (
        tpm.handles_in(HandleRange::LoadedSessions)
            .expect("loaded sessions"),
        tpm.handles_in(HandleRange::SavedSessions)
            .expect("saved sessions"),
    )
}

/// Nothing left behind: no sessions, loaded or saved, and no transient objects.
pub fn assert_nothing_loaded(tpm: &Tpm) {
    let (loaded, saved) = sessions_on(tpm);
    assert_eq!(loaded, Vec::<Handle>::new(), "sessions left loaded");
    assert_eq!(saved, Vec::<Handle>::new(), "sessions left saved");
    assert_eq!(
        tpm.handles_in(HandleRange::Transient)
            .expect("transient objects"),
        Vec::<Handle>::new(),
        "transient objects left loaded"
    );
}
