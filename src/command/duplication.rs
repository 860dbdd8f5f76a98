//! TPM2_Duplicate, TPM2_Import and TPM2_Rewrap (TPM 2.0 Part 3, "Duplication Commands"):
//! moving a key that is not fixedParent to another parent, here or on another TPM.
//!
//! A duplicate has an optional inner wrapper (a symmetric key the caller keeps, in
//! [`WrapperKey`]) and an outer wrapper (a seed encrypted to the new parent). The object's
//! DUP role is authorized only by a policy session (PolicyCommandCode(TPM_CC_Duplicate) or
//! PolicyDuplicationSelect).

use crate::tpm_command;
use crate::wire::{EncryptedSecret, Name, Private, SymDefObject, Tpm2bPublic, WrapperKey};

tpm_command! {
    /// TPM2_Duplicate: wraps a loaded object for `new_parent_handle`.
    Duplicate = DUPLICATE {
        auth_handles: [
            /// The object to duplicate, DUP role: a policy session only.
            object_handle,
        ],
        handles: [
            /// The new parent (only its public area is needed here), or TPM_RH_NULL for no
            /// outer wrapper.
            new_parent_handle,
        ],
        params: {
            /// The inner wrapper's key (TPM2B_DATA), or empty for the TPM to pick one when
            /// `symmetric_alg` is not TPM_ALG_NULL. Encrypt it with a session.
            encryption_key_in: WrapperKey,
            /// The inner wrapper's algorithm (TPMT_SYM_DEF_OBJECT+), or TPM_ALG_NULL for none.
            symmetric_alg: SymDefObject,
        },
    }
    /// TPM2_Duplicate's response.
    DuplicateResponse {
        handles: [],
        params: {
            /// The key the TPM picked for the inner wrapper (TPM2B_DATA), empty if the caller
            /// gave one or there is no inner wrapper. Encrypt it with a session.
            encryption_key_out: WrapperKey,
            /// The wrapped sensitive area (TPM2B_PRIVATE).
            duplicate: Private,
            /// The outer wrapper's seed, encrypted to the new parent (TPM2B_ENCRYPTED_SECRET).
            out_sym_seed: EncryptedSecret,
        },
    }
}

tpm_command! {
    /// TPM2_Import: turns a duplicate into a private area protected by `parent_handle`, to
    /// load with TPM2_Load.
    Import = IMPORT {
        auth_handles: [
            /// The new parent, USER role.
            parent_handle,
        ],
        handles: [],
        params: {
            /// The inner wrapper's key (TPM2B_DATA), empty if there is none. Encrypt it with a
            /// session.
            encryption_key: WrapperKey,
            /// The duplicated object's public area (TPM2B_PUBLIC); its name must match the one
            /// bound into the duplicate.
            object_public: Tpm2bPublic,
            /// The duplicate (TPM2B_PRIVATE).
            duplicate: Private,
            /// The outer wrapper's seed (TPM2B_ENCRYPTED_SECRET).
            in_sym_seed: EncryptedSecret,
            /// The inner wrapper's algorithm (TPMT_SYM_DEF_OBJECT+), or TPM_ALG_NULL.
            symmetric_alg: SymDefObject,
        },
    }
    /// TPM2_Import's response.
    ImportResponse {
        handles: [],
        params: {
            /// The private area, protected by `parent_handle` (TPM2B_PRIVATE).
            out_private: Private,
        },
    }
}

tpm_command! {
    /// TPM2_Rewrap: replaces a duplicate's outer wrapper for `old_parent` by one for
    /// `new_parent`; the inner wrapper stays.
    Rewrap = REWRAP {
        auth_handles: [
            /// The parent the duplicate is wrapped for, USER role.
            old_parent,
        ],
        handles: [
            /// The parent to wrap it for.
            new_parent,
        ],
        params: {
            /// The duplicate (TPM2B_PRIVATE).
            in_duplicate: Private,
            /// The duplicated object's name (TPM2B_NAME).
            name: Name,
            /// The seed encrypted to `old_parent` (TPM2B_ENCRYPTED_SECRET).
            in_sym_seed: EncryptedSecret,
        },
    }
    /// TPM2_Rewrap's response.
    RewrapResponse {
        handles: [],
        params: {
            /// The duplicate wrapped for `new_parent` (TPM2B_PRIVATE).
            out_duplicate: Private,
            /// The seed encrypted to `new_parent` (TPM2B_ENCRYPTED_SECRET).
            out_sym_seed: EncryptedSecret,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::command::shape;
    use crate::command::Entity;

    #[test]
    fn parameter_encryption_and_handles_follow_part_3() {
        assert_eq!(shape::<Duplicate>(), (true, true, 1, 0));
        assert_eq!(shape::<Import>(), (true, true, 1, 0));
        assert_eq!(shape::<Rewrap>(), (true, true, 1, 0));
    }

    #[test]
    fn the_wrapper_key_stays_out_of_debug() {
        let cmd = Duplicate {
            object_handle: Entity::null(),
            new_parent_handle: Entity::null(),
            encryption_key_in: WrapperKey::new(b"inner-wrapper-key").unwrap(),
            symmetric_alg: SymDefObject::AES_128_CFB,
        };
        let shown = format!("{cmd:?}");
        // The key in hex, as a non-secret TPM2B would show it.
        assert!(!shown.contains("696e6e6572"), "{shown}");
    }
}
