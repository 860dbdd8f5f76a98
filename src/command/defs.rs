//! One declaration per TPM command (TPM 2.0 Library Part 3). Handles before the `;` in the
//! specification's "@" notation are the `auth_handles`.

use crate::session::Symmetric;
use crate::tpm_command;
use crate::wire::{
    AlgId, Attest, Auth, Capability, CapabilityData, CommandCode, Context, CreationData,
    CreationTicket, Data, Digest, DigestList, DigestValues, EncryptedSecret, Handle, MaxNvBuffer,
    Name, Nonce, PcrSelectionList, Private, SensitiveData, SessionType, Signature, StartupType,
    Timeout, Tpm2bNvPublic, Tpm2bPublic, Tpm2bSensitiveCreate,
};

tpm_command! {
    /// TPM2_Startup
    Startup = STARTUP {
        auth_handles: [], handles: [],
        params: { startup_type: StartupType },
        decrypt: false,
    }
    StartupResponse { handles: [], params: {}, encrypt: false }
}

tpm_command! {
    /// TPM2_Shutdown
    Shutdown = SHUTDOWN {
        auth_handles: [], handles: [],
        params: { shutdown_type: StartupType },
        decrypt: false,
    }
    ShutdownResponse { handles: [], params: {}, encrypt: false }
}

tpm_command! {
    /// TPM2_SelfTest
    SelfTest = SELF_TEST {
        auth_handles: [], handles: [],
        params: { full_test: bool },
        decrypt: false,
    }
    SelfTestResponse { handles: [], params: {}, encrypt: false }
}

tpm_command! {
    /// TPM2_GetRandom: at most one digest of the TPM's largest hash per call.
    GetRandom = GET_RANDOM {
        auth_handles: [], handles: [],
        params: { bytes_requested: u16 },
        decrypt: false,
    }
    GetRandomResponse { handles: [], params: { random_bytes: Digest }, encrypt: true }
}

tpm_command! {
    /// TPM2_FlushContext. The handle to flush is a parameter, not a handle-area entry.
    FlushContext = FLUSH_CONTEXT {
        auth_handles: [], handles: [],
        params: { flush_handle: Handle },
        decrypt: false,
    }
    FlushContextResponse { handles: [], params: {}, encrypt: false }
}

tpm_command! {
    /// TPM2_StartAuthSession
    StartAuthSession = START_AUTH_SESSION {
        auth_handles: [],
        handles: [tpm_key, bind],
        params: {
            nonce_caller: Nonce,
            encrypted_salt: EncryptedSecret,
            session_type: SessionType,
            symmetric: Symmetric,
            auth_hash: AlgId,
        },
        decrypt: true,
    }
    StartAuthSessionResponse {
        handles: [session_handle],
        params: { nonce_tpm: Nonce },
        encrypt: true,
    }
}

tpm_command! {
    /// TPM2_PolicyRestart
    PolicyRestart = POLICY_RESTART {
        auth_handles: [], handles: [session_handle],
        params: {},
        decrypt: false,
    }
    PolicyRestartResponse { handles: [], params: {}, encrypt: false }
}

tpm_command! {
    /// TPM2_PolicyPassword
    PolicyPassword = POLICY_PASSWORD {
        auth_handles: [], handles: [policy_session],
        params: {},
        decrypt: false,
    }
    PolicyPasswordResponse { handles: [], params: {}, encrypt: false }
}

tpm_command! {
    /// TPM2_PolicyAuthValue
    PolicyAuthValue = POLICY_AUTH_VALUE {
        auth_handles: [], handles: [policy_session],
        params: {},
        decrypt: false,
    }
    PolicyAuthValueResponse { handles: [], params: {}, encrypt: false }
}

tpm_command! {
    /// TPM2_PolicyCommandCode
    PolicyCommandCode = POLICY_COMMAND_CODE {
        auth_handles: [], handles: [policy_session],
        params: { code: CommandCode },
        decrypt: false,
    }
    PolicyCommandCodeResponse { handles: [], params: {}, encrypt: false }
}

tpm_command! {
    /// TPM2_PolicyGetDigest
    PolicyGetDigest = POLICY_GET_DIGEST {
        auth_handles: [], handles: [policy_session],
        params: {},
        decrypt: false,
    }
    PolicyGetDigestResponse { handles: [], params: { policy_digest: Digest }, encrypt: true }
}

tpm_command! {
    /// TPM2_NV_Read
    NvRead = NV_READ {
        auth_handles: [auth_handle],
        handles: [nv_index],
        params: { size: u16, offset: u16 },
        decrypt: false,
    }
    NvReadResponse { handles: [], params: { data: MaxNvBuffer }, encrypt: true }
}

tpm_command! {
    /// TPM2_NV_Write
    NvWrite = NV_WRITE {
        auth_handles: [auth_handle],
        handles: [nv_index],
        params: { data: MaxNvBuffer, offset: u16 },
        decrypt: true,
    }
    NvWriteResponse { handles: [], params: {}, encrypt: false }
}

tpm_command! {
    /// TPM2_NV_UndefineSpace
    NvUndefineSpace = NV_UNDEFINE_SPACE {
        auth_handles: [auth_handle],
        handles: [nv_index],
        params: {},
        decrypt: false,
    }
    NvUndefineSpaceResponse { handles: [], params: {}, encrypt: false }
}

tpm_command! {
    /// TPM2_Unseal
    Unseal = UNSEAL {
        auth_handles: [item_handle],
        handles: [],
        params: {},
        decrypt: false,
    }
    UnsealResponse { handles: [], params: { out_data: SensitiveData }, encrypt: true }
}

tpm_command! {
    /// TPM2_HierarchyChangeAuth
    HierarchyChangeAuth = HIERARCHY_CHANGE_AUTH {
        auth_handles: [auth_handle],
        handles: [],
        params: { new_auth: Auth },
        decrypt: true,
    }
    HierarchyChangeAuthResponse { handles: [], params: {}, encrypt: false }
}

tpm_command! {
    /// TPM2_DictionaryAttackLockReset
    DictionaryAttackLockReset = DICTIONARY_ATTACK_LOCK_RESET {
        auth_handles: [lock_handle],
        handles: [],
        params: {},
        decrypt: false,
    }
    DictionaryAttackLockResetResponse { handles: [], params: {}, encrypt: false }
}

tpm_command! {
    /// TPM2_DictionaryAttackParameters
    DictionaryAttackParameters = DICTIONARY_ATTACK_PARAMETERS {
        auth_handles: [lock_handle],
        handles: [],
        params: { new_max_tries: u32, new_recovery_time: u32, lockout_recovery: u32 },
        decrypt: false,
    }
    DictionaryAttackParametersResponse { handles: [], params: {}, encrypt: false }
}

tpm_command! {
    /// TPM2_Clear
    Clear = CLEAR {
        auth_handles: [auth_handle],
        handles: [],
        params: {},
        decrypt: false,
    }
    ClearResponse { handles: [], params: {}, encrypt: false }
}

tpm_command! {
    /// TPM2_EvictControl
    EvictControl = EVICT_CONTROL {
        auth_handles: [auth],
        handles: [object_handle],
        params: { persistent_handle: Handle },
        decrypt: false,
    }
    EvictControlResponse { handles: [], params: {}, encrypt: false }
}

tpm_command! {
    /// TPM2_PolicySecret
    PolicySecret = POLICY_SECRET {
        auth_handles: [auth_handle],
        handles: [policy_session],
        params: { nonce_tpm: Nonce, cp_hash_a: Digest, policy_ref: Nonce, expiration: u32 },
        decrypt: true,
    }
    PolicySecretResponse {
        handles: [],
        params: { timeout: Timeout, ticket: crate::wire::AuthTicket },
        encrypt: true,
    }
}

tpm_command! {
    /// TPM2_GetCapability
    GetCapability = GET_CAPABILITY {
        auth_handles: [], handles: [],
        params: { capability: Capability, property: u32, property_count: u32 },
        decrypt: false,
    }
    GetCapabilityResponse {
        handles: [],
        params: { more_data: bool, capability_data: CapabilityData },
        encrypt: false,
    }
}

tpm_command! {
    /// TPM2_PCR_Read
    PcrRead = PCR_READ {
        auth_handles: [], handles: [],
        params: { pcr_selection_in: PcrSelectionList },
        decrypt: false,
    }
    PcrReadResponse {
        handles: [],
        params: { pcr_update_counter: u32, pcr_selection_out: PcrSelectionList, pcr_values: DigestList },
        encrypt: false,
    }
}

tpm_command! {
    /// TPM2_PCR_Extend
    PcrExtend = PCR_EXTEND {
        auth_handles: [pcr_handle], handles: [],
        params: { digests: DigestValues },
        decrypt: false,
    }
    PcrExtendResponse { handles: [], params: {}, encrypt: false }
}

tpm_command! {
    /// TPM2_PolicyPCR
    PolicyPcr = POLICY_PCR {
        auth_handles: [], handles: [policy_session],
        params: { pcr_digest: Digest, pcrs: PcrSelectionList },
        decrypt: true,
    }
    PolicyPcrResponse { handles: [], params: {}, encrypt: false }
}

tpm_command! {
    /// TPM2_ReadPublic
    ReadPublic = READ_PUBLIC {
        auth_handles: [], handles: [object_handle],
        params: {},
        decrypt: false,
    }
    ReadPublicResponse {
        handles: [],
        params: { out_public: Tpm2bPublic, name: Name, qualified_name: Name },
        encrypt: true,
    }
}

tpm_command! {
    /// TPM2_CreatePrimary
    CreatePrimary = CREATE_PRIMARY {
        auth_handles: [primary_handle], handles: [],
        params: {
            in_sensitive: Tpm2bSensitiveCreate,
            in_public: Tpm2bPublic,
            outside_info: Data,
            creation_pcr: PcrSelectionList,
        },
        decrypt: true,
    }
    CreatePrimaryResponse {
        handles: [object_handle],
        params: {
            out_public: Tpm2bPublic,
            creation_data: CreationData,
            creation_hash: Digest,
            creation_ticket: CreationTicket,
            name: Name,
        },
        encrypt: true,
    }
}

tpm_command! {
    /// TPM2_Create
    Create = CREATE {
        auth_handles: [parent_handle], handles: [],
        params: {
            in_sensitive: Tpm2bSensitiveCreate,
            in_public: Tpm2bPublic,
            outside_info: Data,
            creation_pcr: PcrSelectionList,
        },
        decrypt: true,
    }
    CreateResponse {
        handles: [],
        params: {
            out_private: Private,
            out_public: Tpm2bPublic,
            creation_data: CreationData,
            creation_hash: Digest,
            creation_ticket: CreationTicket,
        },
        encrypt: true,
    }
}

tpm_command! {
    /// TPM2_Load
    Load = LOAD {
        auth_handles: [parent_handle], handles: [],
        params: { in_private: Private, in_public: Tpm2bPublic },
        decrypt: true,
    }
    LoadResponse { handles: [object_handle], params: { name: Name }, encrypt: true }
}

tpm_command! {
    /// TPM2_NV_DefineSpace
    NvDefineSpace = NV_DEFINE_SPACE {
        auth_handles: [auth_handle], handles: [],
        params: { auth: Auth, public_info: Tpm2bNvPublic },
        decrypt: true,
    }
    NvDefineSpaceResponse { handles: [], params: {}, encrypt: false }
}

tpm_command! {
    /// TPM2_NV_ReadPublic
    NvReadPublic = NV_READ_PUBLIC {
        auth_handles: [], handles: [nv_index],
        params: {},
        decrypt: false,
    }
    NvReadPublicResponse {
        handles: [],
        params: { nv_public: Tpm2bNvPublic, nv_name: Name },
        encrypt: true,
    }
}

tpm_command! {
    /// TPM2_GetSessionAuditDigest. `in_scheme` is a TPMT_SIG_SCHEME without details, which
    /// covers TPM_ALG_NULL (use the key's own scheme, or no signature with TPM_RH_NULL).
    GetSessionAuditDigest = GET_SESSION_AUDIT_DIGEST {
        auth_handles: [privacy_admin_handle, sign_handle],
        handles: [session_handle],
        params: { qualifying_data: Data, in_scheme: AlgId },
        decrypt: true,
    }
    GetSessionAuditDigestResponse {
        handles: [],
        params: { audit_info: Attest, signature: Signature },
        encrypt: true,
    }
}

tpm_command! {
    /// TPM2_ContextSave
    ContextSave = CONTEXT_SAVE {
        auth_handles: [], handles: [save_handle],
        params: {},
        decrypt: false,
    }
    ContextSaveResponse { handles: [], params: { context: Context }, encrypt: false }
}

tpm_command! {
    /// TPM2_ContextLoad
    ContextLoad = CONTEXT_LOAD {
        auth_handles: [], handles: [],
        params: { context: Context },
        decrypt: false,
    }
    ContextLoadResponse { handles: [loaded_handle], params: {}, encrypt: false }
}

tpm_command! {
    /// TPM2_NV_ChangeAuth: the index's auth value becomes `new_auth` (ADMIN role, so a policy
    /// session with PolicyCommandCode(TPM_CC_NV_ChangeAuth) must authorize it).
    NvChangeAuth = NV_CHANGE_AUTH {
        auth_handles: [nv_index],
        handles: [],
        params: { new_auth: Auth },
        decrypt: true,
    }
    NvChangeAuthResponse { handles: [], params: {}, encrypt: false }
}

tpm_command! {
    /// TPM2_NV_UndefineSpaceSpecial: deletes a TPMA_NV_POLICY_DELETE index; the index (ADMIN
    /// role, policy session) and the platform hierarchy authorize it.
    NvUndefineSpaceSpecial = NV_UNDEFINE_SPACE_SPECIAL {
        auth_handles: [nv_index, platform],
        handles: [],
        params: {},
        decrypt: false,
    }
    NvUndefineSpaceSpecialResponse { handles: [], params: {}, encrypt: false }
}
