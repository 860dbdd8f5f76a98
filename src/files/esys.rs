//! The ESYS metadata tpm2-tss stores inside every saved context (`IESYS_RESOURCE` and
//! `IESYS_SESSION`), marshalled as tpm2-tss 3.x does: TPM canonical big-endian.

use super::parse::Fields;
use super::FileError;
use crate::session::PolicyAuth;
use crate::wire::{
    AlgId, Handle, Marshal, Name, Nonce, Secret, SessionAttributes, SessionType, SymDef,
    Tpm2bNvPublic, Tpm2bPublic, Writer, MAX_DIGEST_SIZE, MAX_ENCRYPTED_SECRET, MAX_PUBLIC_SIZE,
};

/// sizeof(TPMU_NAME) in tpm2-tss: the 66-byte TPMT_HA padded to the 4-byte alignment of the
/// handle member. ESYS's `bound_entity` always has this size, two more than any real name.
pub const ESYS_NAME_SIZE: usize = crate::session::BOUND_ENTITY_SIZE;
/// ESYS's `bound_entity`: a TPM2B_NAME as tpm2-tss sizes it (see [`ESYS_NAME_SIZE`]). It
/// carries the bind auth value, hence a [`crate::session::BoundEntity`] (zeroized on drop,
/// redacted in `Debug`).
pub type EsysName = crate::session::BoundEntity;
/// ESYS keeps `sessionKey || authValue` in a buffer of 2 * sizeof(TPMU_HA).
const MAX_SESSION_VALUE: usize = 2 * MAX_DIGEST_SIZE;
/// sizeof(TPMS_NV_PUBLIC): index, name algorithm, attributes, policy digest, data size.
const MAX_NV_PUBLIC_SIZE: usize = 4 + 2 + 4 + 2 + MAX_DIGEST_SIZE + 2;

/// ESYS resource type tags (`IESYSC_*_RSRC`).
const RSRC_NONE: u32 = 0;
const RSRC_KEY: u32 = 1;
const RSRC_NV: u32 = 2;
const RSRC_SESSION: u32 = 3;
const RSRC_DEGRADED_SESSION: u32 = 4;

/// TPMA_SESSION bits 3 and 4 are reserved; a TPM rejects them, so a file holding them is corrupt.
const SESSION_ATTRIBUTES_RESERVED: u8 = 0x18;

/// ESYS's `type_policy_session` values: what it adds to the HMAC key of a policy session.
const POLICY_NONE: u32 = 0;
const POLICY_AUTH_VALUE: u32 = 1;
const POLICY_PASSWORD: u32 = 2;

/// The `type_policy_session` value ESYS writes for `auth`.
pub(crate) fn policy_auth_to_esys(auth: PolicyAuth) -> u32 {
    match auth {
        PolicyAuth::None => POLICY_NONE,
        PolicyAuth::AuthValue => POLICY_AUTH_VALUE,
        PolicyAuth::Password => POLICY_PASSWORD,
    }
}

/// The policy marker a `type_policy_session` value stands for; anything else is corrupt.
pub(crate) fn policy_auth_from_esys(value: u32) -> Result<PolicyAuth, FileError> {
    match value {
        POLICY_NONE => Ok(PolicyAuth::None),
        POLICY_AUTH_VALUE => Ok(PolicyAuth::AuthValue),
        POLICY_PASSWORD => Ok(PolicyAuth::Password),
        value => Err(FileError::BadValue {
            what: "policy session kind",
            value,
        }),
    }
}

/// The session state ESYS saves (`IESYS_SESSION`), minus what must never be persisted: the
/// salt, the encrypted salt and the `sessionValue` cache (sessionKey || authValue) are dropped
/// on read and written empty.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EsysSession {
    /// Empty if unbound; else see [`super::esys_bound_entity`] (always 68 bytes). Caution: for
    /// any real name the bind authValue sits in the padding XORed with zeros, i.e. in clear.
    /// It is kept because ESYS compares it to decide whether to leave the authValue out of the
    /// HMAC key when the bound object itself is authorized.
    pub bound_entity: EsysName,
    /// The parameter-encryption algorithm, as recorded (checked against what the session
    /// engine supports only when the session is restored).
    pub symmetric: SymDef,
    /// The session's hash algorithm.
    pub auth_hash: AlgId,
    /// Empty for an unsalted, unbound session.
    pub session_key: Secret<MAX_DIGEST_SIZE>,
    /// TPM_SE_HMAC, TPM_SE_POLICY or TPM_SE_TRIAL.
    pub session_type: SessionType,
    /// The TPMA_SESSION attributes ESYS will send next (reserved bits refused).
    pub attributes: SessionAttributes,
    /// The caller nonce of the previous command; pick a fresh one for the next.
    pub nonce_caller: Nonce,
    /// The TPM's latest nonce: the next command's nonceTPM.
    pub nonce_tpm: Nonce,
    /// Whether PolicyAuthValue or PolicyPassword was run on this (policy) session.
    pub policy_auth: PolicyAuth,
}

impl EsysSession {
    fn marshal(&self, w: &mut Writer<'_>) {
        self.bound_entity.marshal(w);
        w.u16(0); // encryptedSalt
        w.u16(0); // salt
        self.symmetric.marshal(w);
        self.auth_hash.marshal(w);
        self.session_key.marshal(w);
        self.session_type.marshal(w);
        self.attributes.marshal(w);
        self.nonce_caller.marshal(w);
        self.nonce_tpm.marshal(w);
        // encrypt / decrypt: ESYS never sets these in a saved session and recomputes them per
        // command.
        w.u32(0);
        w.u32(0);
        w.u32(policy_auth_to_esys(self.policy_auth));
        w.u16(0); // sizeSessionValue: never write an auth value
        w.u16(0); // sizeHmacValue
    }

    fn parse(f: &mut Fields<'_>) -> Result<Self, FileError> {
        let bound_entity = f.secret("bound entity")?;
        // Never persisted by ESYS; the salt is a secret, so skip both without copying.
        f.skip_sized("encrypted salt", MAX_ENCRYPTED_SECRET)?;
        f.skip_sized("salt", MAX_DIGEST_SIZE)?;
        let symmetric = f.value("symmetric algorithm")?;
        let auth_hash = parse_auth_hash(f.u16("session auth hash")?)?;
        let session_key = f.secret("session key")?;
        let session_type = parse_session_type(f.u8("session type")?)?;
        let attributes = f.u8("session attributes")?;
        if attributes & SESSION_ATTRIBUTES_RESERVED != 0 {
            return Err(FileError::BadValue {
                what: "session attributes (reserved bits set)",
                value: attributes as u32,
            });
        }
        let nonce_caller = f.value("nonceCaller")?;
        let nonce_tpm = f.value("nonceTPM")?;
        for what in ["parameter encryption flag", "parameter decryption flag"] {
            let v = f.u32(what)?;
            if v > 1 {
                return Err(FileError::BadValue { what, value: v });
            }
        }
        let policy_auth = policy_auth_from_esys(f.u32("policy session kind")?)?;
        // tpm2-tools leaves sessionKey || authValue here in clear; skip it without copying.
        let value_len = f.u16("session value size")? as usize;
        if value_len > MAX_SESSION_VALUE {
            return Err(FileError::TooLarge {
                what: "session value",
                size: value_len,
                max: MAX_SESSION_VALUE,
            });
        }
        f.skip(value_len, "session value")?;
        let hmac_len = f.u16("HMAC value size")? as usize;
        if hmac_len > MAX_SESSION_VALUE {
            return Err(FileError::TooLarge {
                what: "HMAC value size",
                size: hmac_len,
                max: MAX_SESSION_VALUE,
            });
        }
        Ok(EsysSession {
            bound_entity,
            symmetric,
            auth_hash,
            session_key,
            session_type,
            attributes: SessionAttributes(attributes),
            nonce_caller,
            nonce_tpm,
            policy_auth,
        })
    }
}

pub(crate) fn parse_session_type(v: u8) -> Result<SessionType, FileError> {
    match SessionType(v) {
        t @ (SessionType::HMAC | SessionType::POLICY | SessionType::TRIAL) => Ok(t),
        _ => Err(FileError::BadValue {
            what: "session type",
            value: v as u32,
        }),
    }
}

pub(crate) fn parse_auth_hash(v: u16) -> Result<AlgId, FileError> {
    match AlgId(v) {
        h @ (AlgId::SHA1
        | AlgId::SHA256
        | AlgId::SHA384
        | AlgId::SHA512
        | AlgId::SM3_256
        | AlgId::SHA3_256
        | AlgId::SHA3_384
        | AlgId::SHA3_512) => Ok(h),
        _ => Err(FileError::BadValue {
            what: "session auth hash",
            value: v as u32,
        }),
    }
}

/// ESYS's view of one TPM entity (`IESYS_RESOURCE`): its handle and name at save time, plus what
/// ESYS needs to use it without asking the TPM.
// Variants hold fixed-capacity TPM2Bs inline like every wire type; a resource is read once per
// file, so its size does not matter enough to box.
#[allow(clippy::large_enum_variant)]
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum EsysResource {
    /// A hierarchy, PCR or other entity whose name is its handle (`IESYSC_WITHOUT_MISC_RSRC`).
    None {
        /// The TPM handle.
        handle: Handle,
        /// Its name (the handle's four bytes).
        name: Name,
    },
    /// A loaded or persistent object.
    Key {
        /// The TPM handle at save time.
        handle: Handle,
        /// The object's name as ESYS recorded it (not verified here).
        name: Name,
        /// Its public area. Marshalling is canonical and re-marshals the parsed bytes exactly,
        /// so a name computed over `public.0.to_bytes()` is the name of the bytes in the file.
        public: Tpm2bPublic,
    },
    /// An NV index.
    Nv {
        /// The NV index.
        handle: Handle,
        /// Its name as ESYS recorded it.
        name: Name,
        /// Its public area (re-marshals to exactly the bytes read, like `Key`'s).
        nv_public: Tpm2bNvPublic,
    },
    /// An HMAC, policy or trial session (`IESYSC_SESSION_RSRC`).
    Session {
        /// The session handle.
        handle: Handle,
        /// Its name (the handle's four bytes).
        name: Name,
        /// The session state ESYS keeps.
        session: EsysSession,
    },
}

impl EsysResource {
    /// The TPM handle recorded for the resource.
    pub fn handle(&self) -> Handle {
        match self {
            EsysResource::None { handle, .. }
            | EsysResource::Key { handle, .. }
            | EsysResource::Nv { handle, .. }
            | EsysResource::Session { handle, .. } => *handle,
        }
    }

    /// The name recorded for the resource (as written by whoever wrote the file: verify it against
    /// the TPM before trusting it).
    pub fn name(&self) -> &Name {
        match self {
            EsysResource::None { name, .. }
            | EsysResource::Key { name, .. }
            | EsysResource::Nv { name, .. }
            | EsysResource::Session { name, .. } => name,
        }
    }

    /// "none", "key", "NV index" or "session", for messages.
    pub fn kind(&self) -> &'static str {
        match self {
            EsysResource::None { .. } => "none",
            EsysResource::Key { .. } => "key",
            EsysResource::Nv { .. } => "NV index",
            EsysResource::Session { .. } => "session",
        }
    }

    pub(crate) fn marshal(&self, w: &mut Writer<'_>) {
        self.handle().marshal(w);
        self.name().marshal(w);
        match self {
            EsysResource::None { .. } => w.u32(RSRC_NONE),
            EsysResource::Key { public, .. } => {
                w.u32(RSRC_KEY);
                public.marshal(w);
            }
            EsysResource::Nv { nv_public, .. } => {
                w.u32(RSRC_NV);
                nv_public.marshal(w);
            }
            EsysResource::Session { session, .. } => {
                w.u32(RSRC_SESSION);
                session.marshal(w);
            }
        }
    }

    pub(crate) fn parse(f: &mut Fields<'_>) -> Result<Self, FileError> {
        let handle = Handle(f.u32("resource handle")?);
        let name = f.tpm2b("resource name")?;
        match f.u32("resource type")? {
            RSRC_NONE => Ok(EsysResource::None { handle, name }),
            RSRC_KEY => Ok(EsysResource::Key {
                handle,
                name,
                public: f.sized_value("public area", MAX_PUBLIC_SIZE)?,
            }),
            RSRC_NV => Ok(EsysResource::Nv {
                handle,
                name,
                nv_public: f.sized_value("NV public area", MAX_NV_PUBLIC_SIZE)?,
            }),
            RSRC_SESSION => Ok(EsysResource::Session {
                handle,
                name,
                session: EsysSession::parse(f)?,
            }),
            RSRC_DEGRADED_SESSION => Err(FileError::DegradedSession),
            other => Err(FileError::UnknownResourceType(other)),
        }
    }

    /// The bare `Esys_TR_Serialize` form (what `tpm2_evictcontrol -o` writes).
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::new();
        self.marshal(&mut Writer::new(&mut out));
        out
    }

    /// Parses the bare `Esys_TR_Serialize` form; every byte must belong to the resource.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, FileError> {
        let mut f = Fields::new(bytes);
        let resource = Self::parse(&mut f)?;
        f.finish("serialized ESYS resource")?;
        Ok(resource)
    }
}
