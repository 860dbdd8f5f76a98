//! One declaration per TPM command (TPM 2.0 Library Part 3). Handles before the `;` in the
//! specification's "@" notation are the `auth_handles`: each needs one authorization (a
//! password or a session) in the same position of the command's session slots.
//!
//! The response structs hold their TPM2B parameters inline, in fixed-capacity buffers (see
//! [`crate::wire`] on why they are returned by value).

use super::{AuthChange, ContextEffect};
use crate::tpm_command;
use crate::wire::{
    AlgId, Attest, Auth, Capability, CapabilityData, CommandCode, Context, CreationData,
    CreationTicket, Data, Digest, DigestList, DigestValues, EncryptedSecret, Handle, MaxNvBuffer,
    Name, Nonce, PcrSelectionList, Private, SensitiveData, SessionType, Signature, StartupType,
    SymDef, Timeout, Tpm2bNvPublic, Tpm2bPublic, Tpm2bSensitiveCreate,
};

tpm_command! {
    /// TPM2_Startup: the first command after the TPM is powered on (or reset), which the
    /// platform firmware normally sends. A TPM that has not seen it answers
    /// TPM_RC_INITIALIZE to everything else.
    Startup = STARTUP {
        auth_handles: [], handles: [],
        params: {
            /// TPM_SU_CLEAR for a fresh start (TPM Reset or Restart), TPM_SU_STATE to resume
            /// the state saved by a `Shutdown(TPM_SU_STATE)`.
            startup_type: StartupType,
        },
    }
    /// TPM2_Startup's response: nothing.
    StartupResponse { handles: [], params: {} }
}

tpm_command! {
    /// TPM2_Shutdown: prepares the TPM for a power loss, saving its state to NV.
    Shutdown = SHUTDOWN {
        auth_handles: [], handles: [],
        params: {
            /// TPM_SU_CLEAR (the next Startup must be CLEAR) or TPM_SU_STATE (save the state
            /// for a `Startup(TPM_SU_STATE)`).
            shutdown_type: StartupType,
        },
    }
    /// TPM2_Shutdown's response: nothing.
    ShutdownResponse { handles: [], params: {} }
}

tpm_command! {
    /// TPM2_SelfTest: tests the TPM's algorithms.
    SelfTest = SELF_TEST {
        auth_handles: [], handles: [],
        params: {
            /// `true`: test every function; `false`: only those not tested yet.
            full_test: bool,
        },
    }
    /// TPM2_SelfTest's response: nothing (failures are reported as TPM_RC_FAILURE).
    SelfTestResponse { handles: [], params: {} }
}

tpm_command! {
    /// TPM2_GetRandom: at most one digest of the TPM's largest hash per call.
    GetRandom = GET_RANDOM {
        auth_handles: [], handles: [],
        params: {
            /// How many octets are wanted; the TPM returns at most the size of its largest
            /// digest (64 for SHA-512), and may return fewer.
            bytes_requested: u16,
        },
    }
    /// TPM2_GetRandom's response.
    GetRandomResponse {
        handles: [],
        params: {
            /// The random octets (TPM2B_DIGEST); may be shorter than requested.
            random_bytes: Digest,
        },
    }
}

tpm_command! {
    /// TPM2_FlushContext: removes a loaded object or a session from the TPM. The handle to
    /// flush is a parameter, not a handle-area entry, so it needs no authorization.
    FlushContext = FLUSH_CONTEXT {
        auth_handles: [], handles: [],
        params: {
            /// A transient object (0x80xxxxxx), or an HMAC or policy session (loaded or
            /// saved).
            flush_handle: Handle,
        },
        context_effect: |c| ContextEffect::Flushes(c.flush_handle),
    }
    /// TPM2_FlushContext's response: nothing.
    FlushContextResponse { handles: [], params: {} }
}

tpm_command! {
    /// TPM2_StartAuthSession: starts an HMAC, policy or trial session. Usually done through
    /// [`Session::start`](crate::client::Session::start), which computes the session key.
    StartAuthSession = START_AUTH_SESSION {
        auth_handles: [],
        handles: [
            /// The key that decrypts `encrypted_salt` (an RSA or ECC decryption key), or
            /// TPM_RH_NULL for an unsalted session.
            tpm_key,
            /// The entity whose auth value goes into the session key (a bound session), or
            /// TPM_RH_NULL.
            bind,
        ],
        params: {
            /// The caller's first nonce (TPM2B_NONCE, 16 octets up to the digest size of
            /// `auth_hash`).
            nonce_caller: Nonce,
            /// The salt, encrypted to `tpm_key` (RSA-OAEP or ECDH, "SECRET" label), or empty.
            encrypted_salt: EncryptedSecret,
            /// TPM_SE_HMAC, TPM_SE_POLICY or TPM_SE_TRIAL.
            session_type: SessionType,
            /// The parameter-encryption algorithm (TPMT_SYM_DEF): AES-CFB, XOR, or
            /// TPM_ALG_NULL (a [`crate::session::Symmetric`] converts into it).
            symmetric: SymDef,
            /// The session's hash algorithm (TPMI_ALG_HASH): HMACs, KDFa and policy digests.
            auth_hash: AlgId,
        },
        context_effect: |_| ContextEffect::StartsSession,
    }
    /// TPM2_StartAuthSession's response.
    StartAuthSessionResponse {
        handles: [
            /// The new session (TPM_HT_HMAC_SESSION or TPM_HT_POLICY_SESSION).
            session_handle,
        ],
        params: {
            /// The TPM's first nonce, the same size as `nonce_caller`.
            nonce_tpm: Nonce,
        },
    }
}

tpm_command! {
    /// TPM2_PolicyRestart: resets a policy session's policyDigest to zeros, keeping the
    /// session (and its nonces) alive.
    PolicyRestart = POLICY_RESTART {
        auth_handles: [],
        handles: [
            /// The policy session to reset.
            session_handle,
        ],
        params: {},
    }
    /// TPM2_PolicyRestart's response: nothing.
    PolicyRestartResponse { handles: [], params: {} }
}

tpm_command! {
    /// TPM2_PolicyPassword: the policy will need the entity's auth value sent in clear in
    /// place of the session HMAC.
    PolicyPassword = POLICY_PASSWORD {
        auth_handles: [],
        handles: [
            /// The policy (or trial) session to extend.
            policy_session,
        ],
        params: {},
    }
    /// TPM2_PolicyPassword's response: nothing.
    PolicyPasswordResponse { handles: [], params: {} }
}

tpm_command! {
    /// TPM2_PolicyAuthValue: the policy will need the entity's auth value, proven in the
    /// session HMAC (it goes into the HMAC key).
    PolicyAuthValue = POLICY_AUTH_VALUE {
        auth_handles: [],
        handles: [
            /// The policy (or trial) session to extend.
            policy_session,
        ],
        params: {},
    }
    /// TPM2_PolicyAuthValue's response: nothing.
    PolicyAuthValueResponse { handles: [], params: {} }
}

tpm_command! {
    /// TPM2_PolicyCommandCode: limits the policy to one command.
    PolicyCommandCode = POLICY_COMMAND_CODE {
        auth_handles: [],
        handles: [
            /// The policy (or trial) session to extend.
            policy_session,
        ],
        params: {
            /// The only command the session will authorize.
            code: CommandCode,
        },
    }
    /// TPM2_PolicyCommandCode's response: nothing.
    PolicyCommandCodeResponse { handles: [], params: {} }
}

tpm_command! {
    /// TPM2_PolicyGetDigest: reads a policy or trial session's current policyDigest, e.g. to
    /// compute the authPolicy of a new object.
    PolicyGetDigest = POLICY_GET_DIGEST {
        auth_handles: [],
        handles: [
            /// The policy or trial session.
            policy_session,
        ],
        params: {},
    }
    /// TPM2_PolicyGetDigest's response.
    PolicyGetDigestResponse {
        handles: [],
        params: {
            /// The policyDigest, the size of the session's hash.
            policy_digest: Digest,
        },
    }
}

tpm_command! {
    /// TPM2_NV_Read: reads part of an ordinary, bits, counter or extend NV index.
    NvRead = NV_READ {
        auth_handles: [
            /// Who authorizes the read: the index itself, TPM_RH_OWNER or TPM_RH_PLATFORM
            /// (TPMI_RH_NV_AUTH), as the index's TPMA_NV_*READ attributes allow.
            auth_handle,
        ],
        handles: [
            /// The NV index (0x01xxxxxx).
            nv_index,
        ],
        params: {
            /// Octets to read; at most TPM_PT_NV_BUFFER_MAX (and MAX_NV_BUFFER_SIZE here).
            size: u16,
            /// Octet offset of the first octet to read.
            offset: u16,
        },
    }
    /// TPM2_NV_Read's response.
    NvReadResponse {
        handles: [],
        params: {
            /// The octets read (TPM2B_MAX_NV_BUFFER).
            data: MaxNvBuffer,
        },
    }
}

tpm_command! {
    /// TPM2_NV_Write: writes part of an ordinary NV index.
    NvWrite = NV_WRITE {
        auth_handles: [
            /// Who authorizes the write: the index itself, TPM_RH_OWNER or TPM_RH_PLATFORM,
            /// as the index's TPMA_NV_*WRITE attributes allow.
            auth_handle,
        ],
        handles: [
            /// The NV index (0x01xxxxxx).
            nv_index,
        ],
        params: {
            /// The octets to write (TPM2B_MAX_NV_BUFFER); at most TPM_PT_NV_BUFFER_MAX per
            /// command.
            data: MaxNvBuffer,
            /// Octet offset at which `data` is written.
            offset: u16,
        },
    }
    /// TPM2_NV_Write's response: nothing.
    NvWriteResponse { handles: [], params: {} }
}

tpm_command! {
    /// TPM2_NV_UndefineSpace: deletes an NV index (not one with TPMA_NV_POLICY_DELETE; see
    /// [`NvUndefineSpaceSpecial`]).
    NvUndefineSpace = NV_UNDEFINE_SPACE {
        auth_handles: [
            /// The hierarchy that defined the index: TPM_RH_OWNER, or TPM_RH_PLATFORM for a
            /// TPMA_NV_PLATFORMCREATE index.
            auth_handle,
        ],
        handles: [
            /// The NV index to delete.
            nv_index,
        ],
        params: {},
    }
    /// TPM2_NV_UndefineSpace's response: nothing.
    NvUndefineSpaceResponse { handles: [], params: {} }
}

tpm_command! {
    /// TPM2_Unseal: returns the data sealed in a keyed-hash object.
    Unseal = UNSEAL {
        auth_handles: [
            /// The loaded sealed-data object (TPM_ALG_KEYEDHASH with no sign or decrypt
            /// attribute), authorized with its auth value or policy (USER role).
            item_handle,
        ],
        handles: [],
        params: {},
    }
    /// TPM2_Unseal's response.
    UnsealResponse {
        handles: [],
        params: {
            /// The sealed data (TPM2B_SENSITIVE_DATA), zeroized on drop. Encrypt it with a
            /// session: it crosses the bus otherwise in clear.
            out_data: SensitiveData,
        },
    }
}

tpm_command! {
    /// TPM2_HierarchyChangeAuth: sets the auth value of a hierarchy or of lockout.
    HierarchyChangeAuth = HIERARCHY_CHANGE_AUTH {
        auth_handles: [
            /// TPM_RH_OWNER, TPM_RH_ENDORSEMENT, TPM_RH_PLATFORM or TPM_RH_LOCKOUT, authorized
            /// with its current auth value.
            auth_handle,
        ],
        handles: [],
        params: {
            /// The new auth value (TPM2B_AUTH), at most the size of the TPM's largest digest.
            /// Encrypt it with a session: it crosses the bus otherwise in clear.
            new_auth: Auth,
        },
        auth_change: |c| AuthChange::To(&c.new_auth),
    }
    /// TPM2_HierarchyChangeAuth's response: nothing.
    HierarchyChangeAuthResponse { handles: [], params: {} }
}

tpm_command! {
    /// TPM2_DictionaryAttackLockReset: clears the dictionary-attack failure count and ends
    /// lockout.
    DictionaryAttackLockReset = DICTIONARY_ATTACK_LOCK_RESET {
        auth_handles: [
            /// TPM_RH_LOCKOUT. A wrong lockout auth value locks lockout itself out for
            /// lockoutRecovery seconds.
            lock_handle,
        ],
        handles: [],
        params: {},
    }
    /// TPM2_DictionaryAttackLockReset's response: nothing.
    DictionaryAttackLockResetResponse { handles: [], params: {} }
}

tpm_command! {
    /// TPM2_DictionaryAttackParameters: sets the dictionary-attack protection parameters.
    DictionaryAttackParameters = DICTIONARY_ATTACK_PARAMETERS {
        auth_handles: [
            /// TPM_RH_LOCKOUT.
            lock_handle,
        ],
        handles: [],
        params: {
            /// Authorization failures before lockout (maxTries); 0 means always locked out.
            new_max_tries: u32,
            /// Seconds after which one failure is forgotten (recoveryTime); 0 disables
            /// dictionary-attack protection.
            new_recovery_time: u32,
            /// Seconds lockout stays unusable after a failed lockout authorization
            /// (lockoutRecovery); 0 means until the next TPM Reset.
            lockout_recovery: u32,
        },
    }
    /// TPM2_DictionaryAttackParameters's response: nothing.
    DictionaryAttackParametersResponse { handles: [], params: {} }
}

tpm_command! {
    /// TPM2_Clear: flushes and deletes the objects of the storage and endorsement hierarchies,
    /// deletes the owner's NV indices, resets the owner, endorsement and lockout auth values
    /// and policies, and changes the storage primary seed.
    Clear = CLEAR {
        auth_handles: [
            /// TPM_RH_LOCKOUT or TPM_RH_PLATFORM.
            auth_handle,
        ],
        handles: [],
        params: {},
        // Clearing resets lockoutAuth too; the platform's auth value stays.
        auth_change: |c| match c.auth_handle.handle {
            Handle::RH_LOCKOUT => AuthChange::Emptied,
            _ => AuthChange::None,
        },
    }
    /// TPM2_Clear's response: nothing.
    ClearResponse { handles: [], params: {} }
}

tpm_command! {
    /// TPM2_EvictControl: makes a transient object persistent at `persistent_handle`, or
    /// removes a persistent object.
    EvictControl = EVICT_CONTROL {
        auth_handles: [
            /// TPM_RH_OWNER or TPM_RH_PLATFORM (the hierarchy of the object).
            auth,
        ],
        handles: [
            /// The loaded transient object to persist, or the persistent object to remove.
            object_handle,
        ],
        params: {
            /// Where to persist it (0x81xxxxxx; owner range 0x81000000-0x817FFFFF); the same
            /// as `object_handle` to remove it.
            persistent_handle: Handle,
        },
    }
    /// TPM2_EvictControl's response: nothing.
    EvictControlResponse { handles: [], params: {} }
}

tpm_command! {
    /// TPM2_PolicySecret: the policy will need the auth value (or policy) of another entity,
    /// proven by authorizing this command with it.
    PolicySecret = POLICY_SECRET {
        auth_handles: [
            /// The entity whose authorization is required (a hierarchy, an object, an NV
            /// index).
            auth_handle,
        ],
        handles: [
            /// The policy (or trial) session to extend.
            policy_session,
        ],
        params: {
            /// The policy session's nonceTPM, to bind the authorization to this session, or
            /// empty.
            nonce_tpm: Nonce,
            /// A cpHash the authorization is limited to, or empty.
            cp_hash_a: Digest,
            /// A value the policy may require (policyRef), or empty.
            policy_ref: Nonce,
            /// The specification's INT32 `expiration`, as its bits: seconds the authorization
            /// stays valid after `nonce_tpm` was issued (0: no limit); a negative value also
            /// asks for a ticket.
            expiration: u32,
        },
    }
    /// TPM2_PolicySecret's response.
    PolicySecretResponse {
        handles: [],
        params: {
            /// When the ticket expires (TPM2B_TIMEOUT), if one was asked for.
            timeout: Timeout,
            /// A TPM_ST_AUTH_SECRET ticket for TPM2_PolicyTicket, or a NULL ticket.
            ticket: crate::wire::AuthTicket,
        },
    }
}

tpm_command! {
    /// TPM2_GetCapability: one page of a capability list. [`Tpm::handles`],
    /// [`Tpm::properties`], [`Tpm::algorithms`] and [`Tpm::commands`] follow `more_data` to
    /// the end.
    ///
    /// [`Tpm::handles`]: crate::Tpm::handles
    /// [`Tpm::properties`]: crate::Tpm::properties
    /// [`Tpm::algorithms`]: crate::Tpm::algorithms
    /// [`Tpm::commands`]: crate::Tpm::commands
    GetCapability = GET_CAPABILITY {
        auth_handles: [], handles: [],
        params: {
            /// Which list (TPM_CAP).
            capability: Capability,
            /// The first item wanted: a handle, a TPM_PT, an algorithm id or a command code,
            /// depending on `capability`.
            property: u32,
            /// At most this many items in the answer.
            property_count: u32,
        },
    }
    /// TPM2_GetCapability's response.
    GetCapabilityResponse {
        handles: [],
        params: {
            /// The TPM has more items after the last one returned.
            more_data: bool,
            /// The items (TPMS_CAPABILITY_DATA); its capability should be the one asked for.
            capability_data: CapabilityData,
        },
    }
}

tpm_command! {
    /// TPM2_PCR_Read: reads the PCRs of a selection. The TPM may return fewer than asked for
    /// (at most 8 digests per answer); `pcr_selection_out` says which.
    PcrRead = PCR_READ {
        auth_handles: [], handles: [],
        params: {
            /// The banks and PCRs to read (TPML_PCR_SELECTION).
            pcr_selection_in: PcrSelectionList,
        },
    }
    /// TPM2_PCR_Read's response.
    PcrReadResponse {
        handles: [],
        params: {
            /// The PCR update counter, incremented when a PCR changes (except PCRs with
            /// TPM_PT_PCR_NO_INCREMENT); equal values across reads mean no PCR changed in
            /// between.
            pcr_update_counter: u32,
            /// The PCRs actually read, in the order of `pcr_values`.
            pcr_selection_out: PcrSelectionList,
            /// Their values (TPML_DIGEST), bank by bank, lowest PCR first.
            pcr_values: DigestList,
        },
    }
}

tpm_command! {
    /// TPM2_PCR_Extend: extends a PCR in one or more banks: PCR = H(PCR ‖ digest).
    PcrExtend = PCR_EXTEND {
        auth_handles: [
            /// The PCR (0x000000xx), authorized with its auth value (normally empty).
            pcr_handle,
        ],
        handles: [],
        params: {
            /// One digest per bank to extend (TPML_DIGEST_VALUES).
            digests: DigestValues,
        },
    }
    /// TPM2_PCR_Extend's response: nothing.
    PcrExtendResponse { handles: [], params: {} }
}

tpm_command! {
    /// TPM2_PolicyPCR: the policy will need the selected PCRs to have the values they have
    /// now (or that hash to `pcr_digest`).
    PolicyPcr = POLICY_PCR {
        auth_handles: [],
        handles: [
            /// The policy (or trial) session to extend.
            policy_session,
        ],
        params: {
            /// The expected hash of the selected PCR values, or empty to use their current
            /// values.
            pcr_digest: Digest,
            /// The PCRs (TPML_PCR_SELECTION).
            pcrs: PcrSelectionList,
        },
    }
    /// TPM2_PolicyPCR's response: nothing.
    PolicyPcrResponse { handles: [], params: {} }
}

tpm_command! {
    /// TPM2_ReadPublic: an object's public area and name. The name is not to be trusted on
    /// its own: [`Tpm::read_public`](crate::Tpm::read_public) recomputes it from the public
    /// area.
    ReadPublic = READ_PUBLIC {
        auth_handles: [],
        handles: [
            /// A loaded or persistent object.
            object_handle,
        ],
        params: {},
    }
    /// TPM2_ReadPublic's response.
    ReadPublicResponse {
        handles: [],
        params: {
            /// The public area (TPM2B_PUBLIC).
            out_public: Tpm2bPublic,
            /// The name: nameAlg ‖ H_nameAlg(TPMT_PUBLIC).
            name: Name,
            /// The qualified name (the name chained with the parents' qualified names).
            qualified_name: Name,
        },
    }
}

tpm_command! {
    /// TPM2_CreatePrimary: creates a primary object from a hierarchy's seed; the same
    /// template gives the same key every time.
    CreatePrimary = CREATE_PRIMARY {
        auth_handles: [
            /// TPM_RH_OWNER, TPM_RH_ENDORSEMENT, TPM_RH_PLATFORM or TPM_RH_NULL.
            primary_handle,
        ],
        handles: [],
        params: {
            /// The new object's auth value and, for a sealed object, its data
            /// (TPM2B_SENSITIVE_CREATE).
            in_sensitive: Tpm2bSensitiveCreate,
            /// The template (TPM2B_PUBLIC).
            in_public: Tpm2bPublic,
            /// Data copied into the creation data, e.g. to tie it to an event; usually empty.
            outside_info: Data,
            /// PCRs whose values are recorded in the creation data; usually empty.
            creation_pcr: PcrSelectionList,
        },
    }
    /// TPM2_CreatePrimary's response.
    CreatePrimaryResponse {
        handles: [
            /// The loaded primary object (0x80xxxxxx).
            object_handle,
        ],
        params: {
            /// Its public area, with the unique field (the public key) filled in.
            out_public: Tpm2bPublic,
            /// TPMS_CREATION_DATA: what the object was created under.
            creation_data: CreationData,
            /// H_nameAlg(creation_data), for TPM2_CertifyCreation.
            creation_hash: Digest,
            /// A TPM_ST_CREATION ticket proving the TPM created the object.
            creation_ticket: CreationTicket,
            /// The object's name.
            name: Name,
        },
    }
}

tpm_command! {
    /// TPM2_Create: creates an ordinary object (a key or sealed data) under a storage parent;
    /// load it with [`Load`].
    Create = CREATE {
        auth_handles: [
            /// The storage parent (a restricted decryption key).
            parent_handle,
        ],
        handles: [],
        params: {
            /// The new object's auth value and, for a sealed object, its data
            /// (TPM2B_SENSITIVE_CREATE). Encrypt it with a session.
            in_sensitive: Tpm2bSensitiveCreate,
            /// The template (TPM2B_PUBLIC).
            in_public: Tpm2bPublic,
            /// Data copied into the creation data; usually empty.
            outside_info: Data,
            /// PCRs whose values are recorded in the creation data; usually empty.
            creation_pcr: PcrSelectionList,
        },
    }
    /// TPM2_Create's response. About 7 KB by value: see [`crate::wire`] on stack use.
    CreateResponse {
        handles: [],
        params: {
            /// The private area, encrypted to the parent (TPM2B_PRIVATE).
            out_private: Private,
            /// The public area, with the unique field filled in.
            out_public: Tpm2bPublic,
            /// TPMS_CREATION_DATA: what the object was created under.
            creation_data: CreationData,
            /// H_nameAlg(creation_data).
            creation_hash: Digest,
            /// A TPM_ST_CREATION ticket proving the TPM created the object.
            creation_ticket: CreationTicket,
        },
    }
}

tpm_command! {
    /// TPM2_Load: loads an object created by [`Create`] under its parent.
    Load = LOAD {
        auth_handles: [
            /// The parent the object was created under.
            parent_handle,
        ],
        handles: [],
        params: {
            /// The private area from [`CreateResponse::out_private`].
            in_private: Private,
            /// The public area from [`CreateResponse::out_public`].
            in_public: Tpm2bPublic,
        },
    }
    /// TPM2_Load's response.
    LoadResponse {
        handles: [
            /// The loaded object (0x80xxxxxx).
            object_handle,
        ],
        params: {
            /// The object's name.
            name: Name,
        },
    }
}

tpm_command! {
    /// TPM2_NV_DefineSpace: defines an NV index.
    NvDefineSpace = NV_DEFINE_SPACE {
        auth_handles: [
            /// TPM_RH_OWNER, or TPM_RH_PLATFORM for a TPMA_NV_PLATFORMCREATE index.
            auth_handle,
        ],
        handles: [],
        params: {
            /// The index's auth value (TPM2B_AUTH). Encrypt it with a session.
            auth: Auth,
            /// The index's public area: index, nameAlg, attributes, authPolicy, size.
            public_info: Tpm2bNvPublic,
        },
    }
    /// TPM2_NV_DefineSpace's response: nothing.
    NvDefineSpaceResponse { handles: [], params: {} }
}

tpm_command! {
    /// TPM2_NV_ReadPublic: an NV index's public area and name. Its name changes when the
    /// index is first written (TPMA_NV_WRITTEN).
    NvReadPublic = NV_READ_PUBLIC {
        auth_handles: [],
        handles: [
            /// The NV index.
            nv_index,
        ],
        params: {},
    }
    /// TPM2_NV_ReadPublic's response.
    NvReadPublicResponse {
        handles: [],
        params: {
            /// The public area (TPM2B_NV_PUBLIC).
            nv_public: Tpm2bNvPublic,
            /// The name: nameAlg ‖ H_nameAlg(TPMS_NV_PUBLIC).
            nv_name: Name,
        },
    }
}

tpm_command! {
    /// TPM2_GetSessionAuditDigest: an audit session's digest, signed (TPMS_ATTEST of type
    /// TPM_ST_ATTEST_SESSION_AUDIT). `in_scheme` is a TPMT_SIG_SCHEME without details, which
    /// covers TPM_ALG_NULL (use the key's own scheme, or no signature with TPM_RH_NULL).
    GetSessionAuditDigest = GET_SESSION_AUDIT_DIGEST {
        auth_handles: [
            /// TPM_RH_ENDORSEMENT (the privacy administrator).
            privacy_admin_handle,
            /// The signing key, or TPM_RH_NULL for an unsigned digest.
            sign_handle,
        ],
        handles: [
            /// The audit session.
            session_handle,
        ],
        params: {
            /// Caller data copied into the attestation (extraData), e.g. a nonce.
            qualifying_data: Data,
            /// The signing scheme (TPMI_ALG_SIG_SCHEME); TPM_ALG_NULL for the key's own.
            in_scheme: AlgId,
        },
    }
    /// TPM2_GetSessionAuditDigest's response.
    GetSessionAuditDigestResponse {
        handles: [],
        params: {
            /// The marshalled TPMS_ATTEST (TPM2B_ATTEST) that was signed.
            audit_info: Attest,
            /// The signature over `audit_info`, or a TPM_ALG_NULL signature.
            signature: Signature,
        },
    }
}

tpm_command! {
    /// TPM2_ContextSave: saves a loaded object or session out of the TPM. A saved session
    /// stays assigned in the TPM; a saved object stays loaded until flushed.
    ContextSave = CONTEXT_SAVE {
        auth_handles: [],
        handles: [
            /// The transient object or session to save.
            save_handle,
        ],
        params: {},
        context_effect: |c| ContextEffect::Saves(c.save_handle.handle),
    }
    /// TPM2_ContextSave's response.
    ContextSaveResponse {
        handles: [],
        params: {
            /// The saved context (TPMS_CONTEXT), integrity-protected and encrypted by the TPM.
            context: Context,
        },
        saved_context: context,
    }
}

tpm_command! {
    /// TPM2_ContextLoad: loads a saved context back. A session loads at its old handle; an
    /// object gets a new one.
    ContextLoad = CONTEXT_LOAD {
        auth_handles: [], handles: [],
        params: {
            /// The context from [`ContextSaveResponse::context`].
            context: Context,
        },
        context_effect: |c| ContextEffect::Loads(c.context.saved_handle),
    }
    /// TPM2_ContextLoad's response.
    ContextLoadResponse {
        handles: [
            /// Where the context was loaded.
            loaded_handle,
        ],
        params: {},
    }
}

tpm_command! {
    /// TPM2_NV_ChangeAuth: the index's auth value becomes `new_auth` (ADMIN role, so a policy
    /// session with PolicyCommandCode(TPM_CC_NV_ChangeAuth) must authorize it).
    NvChangeAuth = NV_CHANGE_AUTH {
        auth_handles: [
            /// The NV index, authorized with a policy session.
            nv_index,
        ],
        handles: [],
        params: {
            /// The new auth value (TPM2B_AUTH). Encrypt it with a session.
            new_auth: Auth,
        },
        auth_change: |c| AuthChange::To(&c.new_auth),
    }
    /// TPM2_NV_ChangeAuth's response: nothing.
    NvChangeAuthResponse { handles: [], params: {} }
}

tpm_command! {
    /// TPM2_NV_UndefineSpaceSpecial: deletes a TPMA_NV_POLICY_DELETE index; the index (ADMIN
    /// role, policy session) and the platform hierarchy authorize it.
    NvUndefineSpaceSpecial = NV_UNDEFINE_SPACE_SPECIAL {
        auth_handles: [
            /// The NV index, authorized with a policy session.
            nv_index,
            /// TPM_RH_PLATFORM.
            platform,
        ],
        handles: [],
        params: {},
        // The index that authorized the command is gone; the TPM answers with no auth value.
        auth_change: |_| AuthChange::Emptied,
    }
    /// TPM2_NV_UndefineSpaceSpecial's response: nothing.
    NvUndefineSpaceSpecialResponse { handles: [], params: {} }
}
