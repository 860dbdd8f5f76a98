//! TPM2_MakeCredential and TPM2_ActivateCredential (TPM 2.0 Part 3, "Credential Management").
//!
//! A credential is a secret bound to two keys: it is encrypted to a storage key the verifier
//! trusts (normally the EK) and integrity-protected with the name of the key it was made for
//! (normally an attestation key). Only a TPM holding both releases it. The host-side
//! equivalent of MakeCredential, with no TPM, is [`crate::keys::make_credential`].

use crate::tpm_command;
use crate::wire::{CredentialSecret, EncryptedSecret, IdObject, Name};

tpm_command! {
    /// TPM2_MakeCredential: the TPM does what a verifier does on its own host (see
    /// [`crate::keys::make_credential`]): encrypts `credential` to the public key at `handle`,
    /// bound to `object_name`. Needs no authorization; `handle` may hold just a public area
    /// (TPM2_LoadExternal).
    MakeCredential = MAKE_CREDENTIAL {
        auth_handles: [],
        handles: [
            /// The key the credential is encrypted to: a restricted decryption (storage) key,
            /// normally the EK.
            handle,
        ],
        params: {
            /// The secret (TPM2B_DIGEST), at most the digest size of `handle`'s nameAlg.
            /// Encrypt it with a session: it crosses the bus otherwise in clear.
            credential: CredentialSecret,
            /// The name of the key that may activate it (TPM2B_NAME).
            object_name: Name,
        },
    }
    /// TPM2_MakeCredential's response.
    MakeCredentialResponse {
        handles: [],
        params: {
            /// The encrypted, integrity-protected credential (TPM2B_ID_OBJECT).
            credential_blob: IdObject,
            /// The seed, encrypted to `handle` (TPM2B_ENCRYPTED_SECRET, label "IDENTITY").
            secret: EncryptedSecret,
        },
    }
}

tpm_command! {
    /// TPM2_ActivateCredential: releases the credential in `credential_blob` if it was made
    /// for the name of `activate_handle` and encrypted to `key_handle`.
    /// [`Tpm::activate_credential`](crate::Tpm::activate_credential) runs it with the EK's
    /// policy.
    ActivateCredential = ACTIVATE_CREDENTIAL {
        auth_handles: [
            /// The key the credential was made for (ADMIN role: its auth value, or a policy
            /// with PolicyCommandCode when it has adminWithPolicy).
            activate_handle,
            /// The key the seed was encrypted to (USER role), normally the EK, whose policy
            /// is PolicySecret(TPM_RH_ENDORSEMENT).
            key_handle,
        ],
        handles: [],
        params: {
            /// The credential blob from MakeCredential (TPM2B_ID_OBJECT).
            credential_blob: IdObject,
            /// The encrypted seed from MakeCredential (TPM2B_ENCRYPTED_SECRET).
            secret: EncryptedSecret,
        },
    }
    /// TPM2_ActivateCredential's response.
    ActivateCredentialResponse {
        handles: [],
        params: {
            /// The credential (TPM2B_DIGEST), zeroized on drop. Encrypt it with a session: it
            /// crosses the bus otherwise in clear.
            cert_info: CredentialSecret,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::command::shape;

    #[test]
    fn parameter_encryption_and_authorizations_follow_part_3() {
        // Both commands have "decrypt" and "encrypt" set in Part 3; ActivateCredential
        // authorizes two handles, MakeCredential none.
        assert_eq!(shape::<MakeCredential>(), (true, true, 0, 0));
        assert_eq!(shape::<ActivateCredential>(), (true, true, 2, 0));
    }
}
