//! Policy commands (TPM 2.0 Library Part 3, §23) beyond the ones every session needs: each
//! extends a policy (or trial) session's policyDigest. [`crate::session::policy::PolicyCalculator`]
//! computes the same digests offline; [`crate::Session`] has a method for each.

use crate::tpm_command;
use crate::wire::{
    ArithmeticOp, AuthTicket, Digest, DigestList, LocalityAttributes, Name, Nonce, Operand,
    Signature, Timeout, VerifiedTicket,
};

tpm_command! {
    /// TPM2_PolicyOR: the policy is satisfied if the session's digest is one of the branches;
    /// the digest becomes H(zeros ‖ TPM_CC_PolicyOR ‖ branches).
    PolicyOr = POLICY_OR {
        auth_handles: [],
        handles: [
            /// The policy (or trial) session to extend.
            policy_session,
        ],
        params: {
            /// The branch digests (TPML_DIGEST, 2 to 8 entries).
            p_hash_list: DigestList,
        },
    }
    /// TPM2_PolicyOR's response: nothing.
    PolicyOrResponse { handles: [], params: {} }
}

tpm_command! {
    /// TPM2_PolicyAuthorize: replaces a policy digest the key `key_sign` approved (signed)
    /// with one naming that key, so the key can approve new policies later.
    PolicyAuthorize = POLICY_AUTHORIZE {
        auth_handles: [],
        handles: [
            /// The policy (or trial) session to extend.
            policy_session,
        ],
        params: {
            /// The approved policy digest: the session's current digest.
            approved_policy: Digest,
            /// The policyRef the approval was signed with, or empty.
            policy_ref: Nonce,
            /// The name of the key that signed the approval.
            key_sign: Name,
            /// The TPM_ST_VERIFIED ticket TPM2_VerifySignature gave for the signature over
            /// H(approved_policy ‖ policy_ref) (ignored in a trial session).
            check_ticket: VerifiedTicket,
        },
    }
    /// TPM2_PolicyAuthorize's response: nothing.
    PolicyAuthorizeResponse { handles: [], params: {} }
}

tpm_command! {
    /// TPM2_PolicySigned: the policy will need a signature by the key `auth_object` over
    /// H(nonceTPM ‖ expiration ‖ cpHashA ‖ policyRef).
    PolicySigned = POLICY_SIGNED {
        auth_handles: [],
        handles: [
            /// The loaded public key that checks the signature.
            auth_object,
            /// The policy (or trial) session to extend.
            policy_session,
        ],
        params: {
            /// The session's nonceTPM the signature covers, or empty.
            nonce_tpm: Nonce,
            /// A cpHash the authorization is limited to, or empty.
            cp_hash_a: Digest,
            /// A value the policy may require (policyRef), or empty.
            policy_ref: Nonce,
            /// The specification's INT32 `expiration`, as its bits: seconds the authorization
            /// stays valid (0: no limit); a negative value also asks for a ticket.
            expiration: u32,
            /// The signature.
            auth: Signature,
        },
    }
    /// TPM2_PolicySigned's response.
    PolicySignedResponse {
        handles: [],
        params: {
            /// When the ticket expires (TPM2B_TIMEOUT), if one was asked for.
            timeout: Timeout,
            /// A TPM_ST_AUTH_SIGNED ticket for TPM2_PolicyTicket, or a NULL ticket.
            policy_ticket: AuthTicket,
        },
    }
}

tpm_command! {
    /// TPM2_PolicyTicket: satisfies a PolicySigned or PolicySecret again with the ticket it
    /// returned (not in a trial session).
    PolicyTicket = POLICY_TICKET {
        auth_handles: [],
        handles: [
            /// The policy session to extend.
            policy_session,
        ],
        params: {
            /// The timeout the ticket came with.
            timeout: Timeout,
            /// The cpHash of the original authorization, or empty.
            cp_hash_a: Digest,
            /// The policyRef of the original authorization, or empty.
            policy_ref: Nonce,
            /// The name of the key (PolicySigned) or entity (PolicySecret) that authorized.
            auth_name: Name,
            /// The ticket (TPMT_TK_AUTH).
            ticket: AuthTicket,
        },
    }
    /// TPM2_PolicyTicket's response: nothing.
    PolicyTicketResponse { handles: [], params: {} }
}

tpm_command! {
    /// TPM2_PolicyLocality: the policy will need the command to come from one of these
    /// localities.
    PolicyLocality = POLICY_LOCALITY {
        auth_handles: [],
        handles: [
            /// The policy (or trial) session to extend.
            policy_session,
        ],
        params: {
            /// The allowed localities (TPMA_LOCALITY).
            locality: LocalityAttributes,
        },
    }
    /// TPM2_PolicyLocality's response: nothing.
    PolicyLocalityResponse { handles: [], params: {} }
}

tpm_command! {
    /// TPM2_PolicyNV: the policy will need the contents of an NV index, at `offset`, to
    /// compare with `operand_b` as `operation` says.
    PolicyNv = POLICY_NV {
        auth_handles: [
            /// The index itself or its owner, authorizing the read.
            auth_handle,
        ],
        handles: [
            /// The NV index to read.
            nv_index,
            /// The policy (or trial) session to extend.
            policy_session,
        ],
        params: {
            /// The value to compare with (TPM2B_OPERAND).
            operand_b: Operand,
            /// Octet offset into the index.
            offset: u16,
            /// The comparison (TPM_EO).
            operation: ArithmeticOp,
        },
    }
    /// TPM2_PolicyNV's response: nothing.
    PolicyNvResponse { handles: [], params: {} }
}

tpm_command! {
    /// TPM2_PolicyCounterTimer: the policy will need the TPM's TPMS_TIME_INFO, at `offset`,
    /// to compare with `operand_b` as `operation` says.
    PolicyCounterTimer = POLICY_COUNTER_TIMER {
        auth_handles: [],
        handles: [
            /// The policy (or trial) session to extend.
            policy_session,
        ],
        params: {
            /// The value to compare with (TPM2B_OPERAND).
            operand_b: Operand,
            /// Octet offset into the marshalled TPMS_TIME_INFO.
            offset: u16,
            /// The comparison (TPM_EO).
            operation: ArithmeticOp,
        },
    }
    /// TPM2_PolicyCounterTimer's response: nothing.
    PolicyCounterTimerResponse { handles: [], params: {} }
}

tpm_command! {
    /// TPM2_PolicyCpHash: the policy will only authorize a command with this cpHash.
    PolicyCpHash = POLICY_CP_HASH {
        auth_handles: [],
        handles: [
            /// The policy (or trial) session to extend.
            policy_session,
        ],
        params: {
            /// The cpHash (the session's hash size).
            cp_hash_a: Digest,
        },
    }
    /// TPM2_PolicyCpHash's response: nothing.
    PolicyCpHashResponse { handles: [], params: {} }
}

tpm_command! {
    /// TPM2_PolicyNameHash: the policy will only authorize a command on the handles whose
    /// names hash to `name_hash`.
    PolicyNameHash = POLICY_NAME_HASH {
        auth_handles: [],
        handles: [
            /// The policy (or trial) session to extend.
            policy_session,
        ],
        params: {
            /// H(name1 ‖ name2 ...) with the session's hash.
            name_hash: Digest,
        },
    }
    /// TPM2_PolicyNameHash's response: nothing.
    PolicyNameHashResponse { handles: [], params: {} }
}

tpm_command! {
    /// TPM2_PolicyNvWritten: the policy will need the authorized NV index to be written
    /// (or not yet written).
    PolicyNvWritten = POLICY_NV_WRITTEN {
        auth_handles: [],
        handles: [
            /// The policy (or trial) session to extend.
            policy_session,
        ],
        params: {
            /// Whether TPMA_NV_WRITTEN must be set (TPMI_YES_NO).
            written_set: bool,
        },
    }
    /// TPM2_PolicyNvWritten's response: nothing.
    PolicyNvWrittenResponse { handles: [], params: {} }
}

tpm_command! {
    /// TPM2_PolicyTemplate: the policy will only authorize creating an object whose
    /// template hashes to `template_hash`.
    PolicyTemplate = POLICY_TEMPLATE {
        auth_handles: [],
        handles: [
            /// The policy (or trial) session to extend.
            policy_session,
        ],
        params: {
            /// H(TPMT_PUBLIC template) with the session's hash.
            template_hash: Digest,
        },
    }
    /// TPM2_PolicyTemplate's response: nothing.
    PolicyTemplateResponse { handles: [], params: {} }
}

tpm_command! {
    /// TPM2_PolicyAuthorizeNV: like PolicyAuthorize, with the approved policy stored in an NV
    /// index instead of signed.
    PolicyAuthorizeNv = POLICY_AUTHORIZE_NV {
        auth_handles: [
            /// The index itself or its owner, authorizing the read.
            auth_handle,
        ],
        handles: [
            /// The NV index holding the approved policy (a TPMT_HA).
            nv_index,
            /// The policy (or trial) session to extend.
            policy_session,
        ],
        params: {},
    }
    /// TPM2_PolicyAuthorizeNV's response: nothing.
    PolicyAuthorizeNvResponse { handles: [], params: {} }
}

tpm_command! {
    /// TPM2_PolicyDuplicationSelect: the policy will only authorize duplicating to the
    /// parent `new_parent_name` (and, if `include_object`, only the object `object_name`).
    PolicyDuplicationSelect = POLICY_DUPLICATION_SELECT {
        auth_handles: [],
        handles: [
            /// The policy (or trial) session to extend.
            policy_session,
        ],
        params: {
            /// The name of the object to duplicate.
            object_name: Name,
            /// The name of the new parent.
            new_parent_name: Name,
            /// Whether the object's name goes into the policy (TPMI_YES_NO).
            include_object: bool,
        },
    }
    /// TPM2_PolicyDuplicationSelect's response: nothing.
    PolicyDuplicationSelectResponse { handles: [], params: {} }
}

tpm_command! {
    /// TPM2_PolicyPhysicalPresence: the policy will need physical presence asserted.
    PolicyPhysicalPresence = POLICY_PHYSICAL_PRESENCE {
        auth_handles: [],
        handles: [
            /// The policy (or trial) session to extend.
            policy_session,
        ],
        params: {},
    }
    /// TPM2_PolicyPhysicalPresence's response: nothing.
    PolicyPhysicalPresenceResponse { handles: [], params: {} }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::command::shape;

    /// Part 3's "decrypt"/"encrypt" columns and authorized handles, command by command.
    #[test]
    fn encryption_and_authorizations_follow_part_3() {
        assert_eq!(shape::<PolicyOr>(), (false, false, 0, 0));
        assert_eq!(shape::<PolicyAuthorize>(), (true, false, 0, 0));
        assert_eq!(shape::<PolicySigned>(), (true, true, 0, 0));
        assert_eq!(shape::<PolicyTicket>(), (true, false, 0, 0));
        assert_eq!(shape::<PolicyLocality>(), (false, false, 0, 0));
        assert_eq!(shape::<PolicyNv>(), (true, false, 1, 0));
        assert_eq!(shape::<PolicyCounterTimer>(), (true, false, 0, 0));
        assert_eq!(shape::<PolicyCpHash>(), (true, false, 0, 0));
        assert_eq!(shape::<PolicyNameHash>(), (true, false, 0, 0));
        assert_eq!(shape::<PolicyNvWritten>(), (false, false, 0, 0));
        assert_eq!(shape::<PolicyTemplate>(), (true, false, 0, 0));
        assert_eq!(shape::<PolicyAuthorizeNv>(), (false, false, 1, 0));
        assert_eq!(shape::<PolicyDuplicationSelect>(), (true, false, 0, 0));
        assert_eq!(shape::<PolicyPhysicalPresence>(), (false, false, 0, 0));
    }
}
