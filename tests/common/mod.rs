//! Shared test fixtures: a private swtpm per test and a client connected to it. The kernel
//! resource-manager guest includes this file too, built without the `sim` feature.
#![allow(dead_code)]

#[path = "../../examples/common/nv.rs"]
pub mod nv;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

pub use tpm2_wire::client::HandleRange;
use tpm2_wire::client::{SaltKey, Session};
use tpm2_wire::command::{
    Create, CreateResponse, DictionaryAttackLockReset, Entity, GetRandom, Load, NvDefineSpace,
    NvRead, NvWrite, PcrExtend, Unseal,
};
use tpm2_wire::crypto::HashAlg;
use tpm2_wire::session::engine::SessionSlot;
#[cfg(feature = "sim")]
use tpm2_wire::sim::Swtpm;
use tpm2_wire::transport::{Transport, TransportError};
use tpm2_wire::wire::{
    AlgId, Auth, Data, Digest, DigestValues, Handle, HashValue, MaxNvBuffer, NvAttributes,
    NvPublic, ObjectAttributes, PcrSelectionList, PropertyTag, Public, SensitiveCreate,
    SensitiveData, SessionAttributes, Tpm2bNvPublic, Tpm2bPublic, Tpm2bSensitiveCreate,
};
use tpm2_wire::Tpm;

/// A private swtpm and a client connected to it.
#[cfg(feature = "sim")]
pub fn swtpm() -> (Swtpm, Tpm) {
    swtpm_with(|t| t)
}

/// A private swtpm whose transport is wrapped by `wrap` (to count or tamper with frames).
#[cfg(feature = "sim")]
pub fn swtpm_with(wrap: impl FnOnce(Box<dyn Transport>) -> Box<dyn Transport>) -> (Swtpm, Tpm) {
    // Unix sockets: no loopback ports to race for on a busy machine.
    let sim = Swtpm::spawn_unix().expect("swtpm must be installed (Debian package swtpm)");
    let transport: Box<dyn Transport> = Box::new(sim.transport().expect("connect to swtpm"));
    (sim, Tpm::new(wrap(transport)))
}

/// A private swtpm whose client counts the commands it sends.
#[cfg(feature = "sim")]
pub fn swtpm_counting() -> (Swtpm, Tpm, Arc<AtomicUsize>) {
    let sent = Arc::new(AtomicUsize::new(0));
    let (sim, tpm) = swtpm_with(|inner| {
        let sent = sent.clone();
        Box::new(Counting { inner, sent })
    });
    (sim, tpm, sent)
}

/// A private swtpm whose client keeps a copy of every command and response frame.
#[cfg(feature = "sim")]
pub fn swtpm_recording() -> (Swtpm, Tpm, Frames) {
    let frames = Frames::default();
    let (sim, tpm) = swtpm_with(|inner| {
        let frames = frames.clone();
        Box::new(Recording { inner, frames })
    });
    (sim, tpm, frames)
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

/// continueSession plus `extra`.
pub fn attrs(extra: u8) -> SessionAttributes {
    SessionAttributes(SessionAttributes::CONTINUE_SESSION | extra)
}

/// GetRandom(`n`) with `s` as an extra session (to encrypt or audit the response).
pub fn random_through(tpm: &Tpm, s: &mut Session, n: u16) -> Vec<u8> {
    let r = tpm
        .execute(&GetRandom { bytes_requested: n }, &mut [s.extra()])
        .unwrap();
    assert_eq!(r.random_bytes.len(), usize::from(n));
    r.random_bytes.as_bytes().to_vec()
}

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
    let public = NvPublic {
        nv_index: Handle(index),
        name_alg: name_alg.alg_id(),
        attributes,
        auth_policy: policy.clone(),
        data_size: size,
    };
    let owner = Auth::empty();
    nv::define_space(tpm, public, auth, SessionSlot::Password(&owner)).expect("NV_DefineSpace");
    tpm.nv_read_public(Handle(index)).expect("NV_ReadPublic").0
}

/// Read and written with the index's own auth value; failures do not count against
/// dictionary-attack lockout.
pub fn nv_auth_rw() -> NvAttributes {
    NvAttributes::AUTHREAD | NvAttributes::AUTHWRITE | NvAttributes::NO_DA
}

/// A SHA-256-named NV index with an auth value, written once with `data` by password (so
/// its name is final), with that name.
pub fn written_nv(
    tpm: &Tpm,
    index: u32,
    auth: &Auth,
    attributes: NvAttributes,
    data: &[u8],
) -> Entity {
    let size = u16::try_from(data.len()).unwrap();
    let empty = Digest::empty();
    let nv = define_nv(tpm, index, HashAlg::Sha256, attributes, auth, &empty, size);
    nv_write(tpm, &nv, data, &mut [SessionSlot::Password(auth)]).unwrap();
    tpm.nv_read_public(Handle(index)).unwrap().0
}

/// NV_Write of `data` at offset 0, authorized by the index itself.
pub fn nv_write(
    tpm: &Tpm,
    nv: &Entity,
    data: &[u8],
    slots: &mut [SessionSlot<'_>],
) -> tpm2_wire::Result<()> {
    let write = NvWrite {
        auth_handle: nv.clone(),
        nv_index: nv.clone(),
        data: MaxNvBuffer::new(data)?,
        offset: 0,
    };
    tpm.execute(&write, slots).map(|_| ())
}

/// NV_Read of `size` bytes at offset 0, authorized by the index itself.
pub fn nv_read(
    tpm: &Tpm,
    nv: &Entity,
    size: u16,
    slots: &mut [SessionSlot<'_>],
) -> tpm2_wire::Result<Vec<u8>> {
    let read = NvRead {
        auth_handle: nv.clone(),
        nv_index: nv.clone(),
        size,
        offset: 0,
    };
    Ok(tpm.execute(&read, slots)?.data.as_bytes().to_vec())
}

pub fn undefine_nv(tpm: &Tpm, index: &Entity) {
    nv::undefine_space(tpm, index).expect("NV_UndefineSpace");
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

/// A tpm2-tools command (`args[0]` is the tool) against the TPM `tcti` names; it must
/// succeed.
pub fn tpm2_tool(tcti: &str, args: &[&str]) -> std::process::Output {
    let out = std::process::Command::new(args[0])
        .args(&args[1..])
        .env("TPM2TOOLS_TCTI", tcti)
        .output()
        .expect("tpm2-tools must be installed (Debian package tpm2-tools)");
    assert!(
        out.status.success(),
        "{args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// Whether `needle` occurs in `haystack` (an empty needle does not).
pub fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    !needle.is_empty() && haystack.windows(needle.len()).any(|w| w == needle)
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

/// A SHA-256 sealed object with auth value `auth` that only `policy` opens (userWithAuth
/// clear), loaded under `parent`.
pub fn policy_sealed(
    tpm: &Tpm,
    parent: &Entity,
    policy: &Digest,
    auth: &Auth,
    secret: &[u8],
) -> Entity {
    let mut template = Public::sealed_data(AlgId::SHA256);
    template.object_attributes = template
        .object_attributes
        .with(ObjectAttributes::USER_WITH_AUTH, false);
    template.auth_policy = policy.clone();
    let empty = Auth::empty();
    let created = create_sealed(
        tpm,
        parent,
        template,
        auth,
        secret,
        &mut [SessionSlot::Password(&empty)],
    );
    load(tpm, parent, &created, SessionSlot::Password(&empty))
}

/// Extends PCR `pcr`'s SHA-256 bank with the SHA-256 digest of `data`.
pub fn extend_pcr(tpm: &Tpm, pcr: u32, data: &[u8]) {
    let digest = tpm2_wire::crypto::hash(HashAlg::Sha256, &[data]);
    let empty = Auth::empty();
    tpm.execute(
        &PcrExtend {
            pcr_handle: Entity::from_handle(Handle(pcr)),
            digests: DigestValues::new(vec![
                HashValue::new(AlgId::SHA256, digest.as_bytes()).unwrap()
            ])
            .unwrap(),
        },
        &mut [SessionSlot::Password(&empty)],
    )
    .unwrap();
}

/// A platform-created 8-octet NV index at `index` that `policy` (which must allow
/// PolicyDelete) undefines with NV_UndefineSpaceSpecial; its public area as the TPM reads it.
pub fn define_policy_delete_nv(tpm: &Tpm, index: Handle, auth: &Auth, policy: Digest) -> Entity {
    let platform = Auth::empty();
    tpm.execute(
        &NvDefineSpace {
            auth_handle: Entity::platform(),
            auth: auth.clone(),
            public_info: Tpm2bNvPublic(NvPublic {
                nv_index: index,
                name_alg: AlgId::SHA256,
                attributes: NvAttributes::AUTHREAD
                    | NvAttributes::AUTHWRITE
                    | NvAttributes::NO_DA
                    | NvAttributes::POLICY_DELETE
                    | NvAttributes::PLATFORMCREATE,
                auth_policy: policy,
                data_size: 8,
            }),
        },
        &mut [SessionSlot::Password(&platform)],
    )
    .expect("NV_DefineSpace");
    tpm.nv_read_public(index).unwrap().0
}

/// A SHA-256 sealed-data object holding `secret` under `parent`.
pub fn seal(
    tpm: &Tpm,
    parent: &Entity,
    seal_auth: &Auth,
    secret: &[u8],
    slots: &mut [SessionSlot<'_>],
) -> CreateResponse {
    let template = Public::sealed_data(AlgId::SHA256);
    create_sealed(tpm, parent, template, seal_auth, secret, slots)
}

pub fn unseal(
    tpm: &Tpm,
    item: &Entity,
    slots: &mut [SessionSlot<'_>],
) -> tpm2_wire::Result<Vec<u8>> {
    let cmd = Unseal {
        item_handle: item.clone(),
    };
    Ok(tpm.execute(&cmd, slots)?.out_data.as_bytes().to_vec())
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
