//! Command audit, two-phase ECC key exchange, and the administration of hierarchies, PCRs and
//! the platform (TPM 2.0 Part 3): TPM2_SetCommandCodeAuditStatus, TPM2_GetCommandAuditDigest,
//! TPM2_Commit, TPM2_EC_Ephemeral, TPM2_ZGen_2Phase, TPM2_ECC_Parameters,
//! TPM2_HierarchyControl, TPM2_ClearControl, TPM2_SetPrimaryPolicy, TPM2_ChangeEPS,
//! TPM2_ChangePPS, TPM2_PCR_Allocate, TPM2_PCR_SetAuthPolicy, TPM2_PCR_SetAuthValue,
//! TPM2_PP_Commands, TPM2_SetAlgorithmSet and TPM2_CertifyX509.

use crate::command::AuthChange;
use crate::tpm_command;
use crate::wire::{
    AlgId, AlgorithmDetailEcc, Attest, CommandCodeList, Data, Digest, EccCurve, EccParameter,
    EccSharedPoint, Handle, MaxBuffer, PcrSelectionList, SensitiveData, SigScheme, Signature,
    Tpm2bEccPoint,
};

tpm_command! {
    /// TPM2_SetCommandCodeAuditStatus: changes the hash of the command audit digest (which
    /// clears it), or adds and removes commands from the audit list. The TPM does not do
    /// both at once: with a new `audit_alg` the lists must be empty.
    SetCommandCodeAuditStatus = SET_COMMAND_CODE_AUDIT_STATUS {
        auth_handles: [
            /// TPM_RH_OWNER or TPM_RH_PLATFORM (TPMI_RH_PROVISION).
            auth,
        ],
        handles: [],
        params: {
            /// The new audit hash (TPMI_ALG_HASH+), or TPM_ALG_NULL to keep it.
            audit_alg: AlgId,
            /// Commands to audit (TPML_CC).
            set_list: CommandCodeList,
            /// Commands to stop auditing (TPML_CC).
            clear_list: CommandCodeList,
        },
    }
    /// TPM2_SetCommandCodeAuditStatus's response: nothing.
    SetCommandCodeAuditStatusResponse { handles: [], params: {} }
}

tpm_command! {
    /// TPM2_GetCommandAuditDigest: the command audit digest, signed, in a TPMS_ATTEST of type
    /// TPM_ST_ATTEST_COMMAND_AUDIT; the TPM then clears the digest.
    GetCommandAuditDigest = GET_COMMAND_AUDIT_DIGEST {
        auth_handles: [
            /// TPM_RH_ENDORSEMENT (the privacy administrator).
            privacy_handle,
            /// The signing key, or TPM_RH_NULL for an unsigned digest.
            sign_handle,
        ],
        handles: [],
        params: {
            /// Caller data copied into the attestation (TPM2B_DATA), e.g. a nonce.
            qualifying_data: Data,
            /// The signing scheme (TPMT_SIG_SCHEME+); [`SigScheme::Null`] for the key's own.
            in_scheme: SigScheme,
        },
    }
    /// TPM2_GetCommandAuditDigest's response.
    GetCommandAuditDigestResponse {
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
    /// TPM2_Commit: the first phase of an anonymous (ECDAA) or Schnorr signature: the TPM
    /// picks a random r and returns K, L and E, with a counter that the signing command uses.
    Commit = COMMIT {
        auth_handles: [
            /// The ECC signing key (USER role).
            sign_handle,
        ],
        handles: [],
        params: {
            /// A point P1 on the key's curve (TPM2B_ECC_POINT), or empty.
            p1: Tpm2bEccPoint,
            /// Octets s2 hashed to the x coordinate of P2 (TPM2B_SENSITIVE_DATA), or empty.
            s2: SensitiveData,
            /// The y coordinate of P2 (TPM2B_ECC_PARAMETER), or empty.
            y2: EccParameter,
        },
    }
    /// TPM2_Commit's response.
    CommitResponse {
        handles: [],
        params: {
            /// K = \[d\](x2, y2), empty without s2.
            k: Tpm2bEccPoint,
            /// L = \[r\](x2, y2), empty without s2.
            l: Tpm2bEccPoint,
            /// E = \[r\]P1 (or \[r\]G when P1 is empty).
            e: Tpm2bEccPoint,
            /// The commit counter that identifies r.
            counter: u16,
        },
    }
}

tpm_command! {
    /// TPM2_EC_Ephemeral: a fresh ephemeral key Q = \[r\]G for a two-phase key exchange; r stays
    /// in the TPM under the returned counter, for [`ZGen2Phase`].
    EcEphemeral = EC_EPHEMERAL {
        auth_handles: [], handles: [],
        params: {
            /// The curve (TPMI_ECC_CURVE).
            curve_id: EccCurve,
        },
    }
    /// TPM2_EC_Ephemeral's response.
    EcEphemeralResponse {
        handles: [],
        params: {
            /// The ephemeral public key Q (TPM2B_ECC_POINT).
            q: Tpm2bEccPoint,
            /// The counter that identifies r.
            counter: u16,
        },
    }
}

tpm_command! {
    /// TPM2_ZGen_2Phase: the TPM's side of a two-phase key exchange (SP 800-56A C(2e, 2s)
    /// with TPM_ALG_ECDH): Z1 from its static key and the other party's static key, Z2 from
    /// its ephemeral key (from [`EcEphemeral`] or [`Commit`]) and the other party's ephemeral
    /// key.
    ZGen2Phase = ZGEN_2PHASE {
        auth_handles: [
            /// The TPM's static key (an unrestricted ECC decryption key), USER role.
            key_a,
        ],
        handles: [],
        params: {
            /// The other party's static public key QsB (TPM2B_ECC_POINT).
            in_qs_b: Tpm2bEccPoint,
            /// The other party's ephemeral public key QeB (TPM2B_ECC_POINT).
            in_qe_b: Tpm2bEccPoint,
            /// The key exchange scheme (TPMI_ECC_KEY_EXCHANGE): TPM_ALG_ECDH, ECMQV or SM2.
            in_scheme: AlgId,
            /// The counter of the TPM's ephemeral key.
            counter: u16,
        },
    }
    /// TPM2_ZGen_2Phase's response.
    ZGen2PhaseResponse {
        handles: [],
        params: {
            /// Z1: for ECDH, \[dsA\]QsB. Secret, zeroized on drop.
            out_z1: EccSharedPoint,
            /// Z2: for ECDH, \[deA\]QeB. Secret, zeroized on drop.
            out_z2: EccSharedPoint,
        },
    }
}

tpm_command! {
    /// TPM2_ECC_Parameters: a curve's parameters as the TPM implements them.
    EccParameters = ECC_PARAMETERS {
        auth_handles: [], handles: [],
        params: {
            /// The curve (TPMI_ECC_CURVE).
            curve_id: EccCurve,
        },
    }
    /// TPM2_ECC_Parameters's response.
    EccParametersResponse {
        handles: [],
        params: {
            /// The curve's parameters (TPMS_ALGORITHM_DETAIL_ECC).
            parameters: AlgorithmDetailEcc,
        },
    }
}

tpm_command! {
    /// TPM2_HierarchyControl: enables or disables a hierarchy (or phEnableNV). The platform
    /// may change any; a hierarchy may only disable itself. Once disabled, only the platform
    /// re-enables it (until the next TPM Reset, which enables it anyway).
    HierarchyControl = HIERARCHY_CONTROL {
        auth_handles: [
            /// TPM_RH_PLATFORM, TPM_RH_OWNER or TPM_RH_ENDORSEMENT (TPMI_RH_HIERARCHY).
            auth_handle,
        ],
        handles: [],
        params: {
            /// The hierarchy to change (TPMI_RH_ENABLES): TPM_RH_OWNER, ENDORSEMENT, PLATFORM
            /// or PLATFORM_NV.
            enable: Handle,
            /// `true` to enable it, `false` to disable it (TPMI_YES_NO).
            state: bool,
        },
    }
    /// TPM2_HierarchyControl's response: nothing.
    HierarchyControlResponse { handles: [], params: {} }
}

tpm_command! {
    /// TPM2_ClearControl: disables or re-enables TPM2_Clear (disableClear). Lockout may only
    /// disable it; the platform may do both.
    ClearControl = CLEAR_CONTROL {
        auth_handles: [
            /// TPM_RH_LOCKOUT or TPM_RH_PLATFORM (TPMI_RH_CLEAR).
            auth,
        ],
        handles: [],
        params: {
            /// `true` to disable TPM2_Clear, `false` to allow it (TPMI_YES_NO).
            disable: bool,
        },
    }
    /// TPM2_ClearControl's response: nothing.
    ClearControlResponse { handles: [], params: {} }
}

tpm_command! {
    /// TPM2_SetPrimaryPolicy: sets the authorization policy of a hierarchy (or of lockout),
    /// which a policy session then satisfies instead of the auth value.
    SetPrimaryPolicy = SET_PRIMARY_POLICY {
        auth_handles: [
            /// TPM_RH_LOCKOUT, OWNER, ENDORSEMENT or PLATFORM (TPMI_RH_HIERARCHY_POLICY).
            auth_handle,
        ],
        handles: [],
        params: {
            /// The policy digest (TPM2B_DIGEST), empty to remove the policy.
            auth_policy: Digest,
            /// The policy's hash (TPMI_ALG_HASH+), TPM_ALG_NULL with an empty policy.
            hash_alg: AlgId,
        },
    }
    /// TPM2_SetPrimaryPolicy's response: nothing.
    SetPrimaryPolicyResponse { handles: [], params: {} }
}

tpm_command! {
    /// TPM2_ChangeEPS: replaces the endorsement primary seed (every endorsement key changes)
    /// and flushes the endorsement hierarchy's objects; resets endorsementAuth and
    /// endorsementPolicy.
    ChangeEps = CHANGE_EPS {
        auth_handles: [
            /// TPM_RH_PLATFORM.
            auth_handle,
        ],
        handles: [],
        params: {},
    }
    /// TPM2_ChangeEPS's response: nothing.
    ChangeEpsResponse { handles: [], params: {} }
}

tpm_command! {
    /// TPM2_ChangePPS: replaces the platform primary seed and flushes the platform
    /// hierarchy's objects. The platform's auth value stays.
    ChangePps = CHANGE_PPS {
        auth_handles: [
            /// TPM_RH_PLATFORM.
            auth_handle,
        ],
        handles: [],
        params: {},
    }
    /// TPM2_ChangePPS's response: nothing.
    ChangePpsResponse { handles: [], params: {} }
}

tpm_command! {
    /// TPM2_PCR_Allocate: sets which PCRs each bank will have after the next TPM Reset.
    PcrAllocate = PCR_ALLOCATE {
        auth_handles: [
            /// TPM_RH_PLATFORM.
            auth_handle,
        ],
        handles: [],
        params: {
            /// The requested allocation (TPML_PCR_SELECTION); banks not listed stay as they
            /// are.
            pcr_allocation: PcrSelectionList,
        },
    }
    /// TPM2_PCR_Allocate's response.
    PcrAllocateResponse {
        handles: [],
        params: {
            /// Whether the allocation is possible (it takes effect at the next TPM Reset).
            allocation_success: bool,
            /// The number of PCRs in each bank.
            max_pcr: u32,
            /// Octets of NV the allocation needs.
            size_needed: u32,
            /// Octets of NV available for PCRs.
            size_available: u32,
        },
    }
}

tpm_command! {
    /// TPM2_PCR_SetAuthPolicy: sets the policy of a PCR's policy group (a TPM that has
    /// none answers TPM_RC_VALUE for the PCR).
    PcrSetAuthPolicy = PCR_SET_AUTH_POLICY {
        auth_handles: [
            /// TPM_RH_PLATFORM.
            auth_handle,
        ],
        handles: [],
        params: {
            /// The policy digest (TPM2B_DIGEST).
            auth_policy: Digest,
            /// The policy's hash (TPMI_ALG_HASH+).
            hash_alg: AlgId,
            /// A PCR of the group (TPMI_DH_PCR).
            pcr_num: Handle,
        },
    }
    /// TPM2_PCR_SetAuthPolicy's response: nothing.
    PcrSetAuthPolicyResponse { handles: [], params: {} }
}

tpm_command! {
    /// TPM2_PCR_SetAuthValue: sets the auth value of a PCR's authorization group, the entity
    /// it is authorized by, so the TPM keys the response HMAC with the new value.
    PcrSetAuthValue = PCR_SET_AUTH_VALUE {
        auth_handles: [
            /// The PCR, with its group's current auth value.
            pcr_handle,
        ],
        handles: [],
        params: {
            /// The new auth value (TPM2B_DIGEST). Encrypt it with a session.
            auth: crate::wire::Auth,
        },
        auth_change: |c| AuthChange::To(&c.auth),
    }
    /// TPM2_PCR_SetAuthValue's response: nothing.
    PcrSetAuthValueResponse { handles: [], params: {} }
}

tpm_command! {
    /// TPM2_PP_Commands: sets which commands need physical presence when the platform
    /// authorizes them (and clears others). The command itself needs physical presence.
    PpCommands = PP_COMMANDS {
        auth_handles: [
            /// TPM_RH_PLATFORM, with physical presence asserted.
            auth,
        ],
        handles: [],
        params: {
            /// Commands to add to the list (TPML_CC).
            set_list: CommandCodeList,
            /// Commands to remove from the list (TPML_CC).
            clear_list: CommandCodeList,
        },
    }
    /// TPM2_PP_Commands's response: nothing.
    PpCommandsResponse { handles: [], params: {} }
}

tpm_command! {
    /// TPM2_SetAlgorithmSet: selects a vendor-defined set of algorithms, effective after the
    /// next TPM Reset.
    SetAlgorithmSet = SET_ALGORITHM_SET {
        auth_handles: [
            /// TPM_RH_PLATFORM.
            auth_handle,
        ],
        handles: [],
        params: {
            /// The vendor's set number.
            algorithm_set: u32,
        },
    }
    /// TPM2_SetAlgorithmSet's response: nothing.
    SetAlgorithmSetResponse { handles: [], params: {} }
}

tpm_command! {
    /// TPM2_CertifyX509: the TPM completes a partial X.509 certificate for a loaded object
    /// (its subject public key and the signature fields) and signs it.
    CertifyX509 = CERTIFY_X509 {
        auth_handles: [
            /// The object to certify, ADMIN role.
            object_handle,
            /// The signing key, USER role.
            sign_handle,
        ],
        handles: [],
        params: {
            /// Reserved (TPM2B_DATA): must be empty.
            reserved: Data,
            /// The signing scheme (TPMT_SIG_SCHEME+); [`SigScheme::Null`] for the key's own.
            in_scheme: SigScheme,
            /// The partial certificate: a DER SEQUENCE of the TBS fields the caller chooses
            /// (TPM2B_MAX_BUFFER).
            partial_certificate: MaxBuffer,
        },
    }
    /// TPM2_CertifyX509's response.
    CertifyX509Response {
        handles: [],
        params: {
            /// The DER the TPM added: the version, serial number, signature algorithm and
            /// subject public key info (TPM2B_MAX_BUFFER).
            added_to_certificate: MaxBuffer,
            /// The digest of the whole TBSCertificate that was signed (TPM2B_DIGEST).
            tbs_digest: Digest,
            /// The signature over it.
            signature: Signature,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::command::shape;
    use crate::command::{Command, Entity};
    use crate::wire::{Auth, Handle};

    #[test]
    fn parameter_encryption_and_handles_follow_part_3() {
        assert_eq!(shape::<SetCommandCodeAuditStatus>(), (false, false, 1, 0));
        assert_eq!(shape::<GetCommandAuditDigest>(), (true, true, 2, 0));
        assert_eq!(shape::<Commit>(), (true, true, 1, 0));
        assert_eq!(shape::<EcEphemeral>(), (false, true, 0, 0));
        assert_eq!(shape::<ZGen2Phase>(), (true, true, 1, 0));
        assert_eq!(shape::<EccParameters>(), (false, false, 0, 0));
        assert_eq!(shape::<HierarchyControl>(), (false, false, 1, 0));
        assert_eq!(shape::<ClearControl>(), (false, false, 1, 0));
        assert_eq!(shape::<SetPrimaryPolicy>(), (true, false, 1, 0));
        assert_eq!(shape::<ChangeEps>(), (false, false, 1, 0));
        assert_eq!(shape::<ChangePps>(), (false, false, 1, 0));
        assert_eq!(shape::<PcrAllocate>(), (false, false, 1, 0));
        assert_eq!(shape::<PcrSetAuthPolicy>(), (true, false, 1, 0));
        assert_eq!(shape::<PcrSetAuthValue>(), (true, false, 1, 0));
        assert_eq!(shape::<PpCommands>(), (false, false, 1, 0));
        assert_eq!(shape::<SetAlgorithmSet>(), (false, false, 1, 0));
        assert_eq!(shape::<CertifyX509>(), (true, true, 2, 0));
    }

    #[test]
    fn pcr_set_auth_value_changes_the_auth_it_is_authorized_with() {
        let cmd = PcrSetAuthValue {
            pcr_handle: Entity::from_handle(Handle(16)),
            auth: Auth::new(b"pcr-group-auth").unwrap(),
        };
        assert!(
            matches!(cmd.auth_change(), AuthChange::To(a) if a.as_bytes() == b"pcr-group-auth")
        );
        let h = HierarchyControl {
            auth_handle: Entity::platform(),
            enable: Handle::RH_OWNER,
            state: false,
        };
        assert!(matches!(h.auth_change(), AuthChange::None));
    }
}
