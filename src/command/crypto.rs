//! Hashes, HMACs and encryption done by the TPM with its keys (TPM 2.0 Part 3, "Hash/HMAC/Event
//! Sequences", "Symmetric Primitives", "Asymmetric Primitives"): TPM2_HMAC, the hash, HMAC and
//! event sequences, TPM2_EncryptDecrypt(2), TPM2_RSA_Encrypt/Decrypt and TPM2_ECDH_KeyGen/ZGen.
//!
//! A sequence (TPM2_HashSequenceStart, TPM2_HMAC_Start) is a transient object whose name is
//! the empty buffer (it has no public area): authorize it with
//! `Entity::new(handle, Name::empty())`. Completing it flushes it.

use crate::tpm_command;
use crate::wire::{
    AlgId, Auth, Data, Digest, DigestValues, EccSharedPoint, Handle, HashcheckTicket, Iv,
    MaxBuffer, PublicKeyRsa, RsaMessage, RsaScheme, SecretBuffer, Tpm2bEccPoint,
};

tpm_command! {
    /// TPM2_HMAC: the HMAC of `buffer` with a loaded HMAC key, in one command.
    Hmac = HMAC {
        auth_handles: [
            /// The HMAC key (a keyed-hash object with the sign attribute), USER role.
            handle,
        ],
        handles: [],
        params: {
            /// The data (TPM2B_MAX_BUFFER), at most TPM_PT_INPUT_BUFFER octets.
            buffer: MaxBuffer,
            /// The hash (TPMI_ALG_HASH+): the key's scheme hash, or TPM_ALG_NULL to use it.
            hash_alg: AlgId,
        },
    }
    /// TPM2_HMAC's response.
    HmacResponse {
        handles: [],
        params: {
            /// The HMAC (TPM2B_DIGEST).
            out_hmac: Digest,
        },
    }
}

tpm_command! {
    /// TPM2_HashSequenceStart: starts a hash sequence, or with TPM_ALG_NULL an event sequence
    /// (every implemented hash at once, for [`EventSequenceComplete`]).
    HashSequenceStart = HASH_SEQUENCE_START {
        auth_handles: [], handles: [],
        params: {
            /// The auth value of the sequence object (TPM2B_AUTH), which every
            /// [`SequenceUpdate`] and the completion need. Encrypt it with a session.
            auth: Auth,
            /// The hash (TPMI_ALG_HASH+), or TPM_ALG_NULL for an event sequence.
            hash_alg: AlgId,
        },
    }
    /// TPM2_HashSequenceStart's response.
    HashSequenceStartResponse {
        handles: [
            /// The sequence object (0x80xxxxxx); its [`Name`](crate::wire::Name) is the empty buffer.
            sequence_handle,
        ],
        params: {},
    }
}

tpm_command! {
    /// TPM2_HMAC_Start: starts an HMAC sequence with a loaded HMAC key.
    HmacStart = HMAC_START {
        auth_handles: [
            /// The HMAC key (USER role). The sequence keeps its own auth value.
            handle,
        ],
        handles: [],
        params: {
            /// The auth value of the new sequence object (TPM2B_AUTH). Encrypt it with a
            /// session.
            auth: Auth,
            /// The hash (TPMI_ALG_HASH+): the key's scheme hash, or TPM_ALG_NULL to use it.
            hash_alg: AlgId,
        },
    }
    /// TPM2_HMAC_Start's response.
    HmacStartResponse {
        handles: [
            /// The sequence object (0x80xxxxxx); its name is the empty buffer.
            sequence_handle,
        ],
        params: {},
    }
}

tpm_command! {
    /// TPM2_SequenceUpdate: adds data to a hash, HMAC or event sequence.
    SequenceUpdate = SEQUENCE_UPDATE {
        auth_handles: [
            /// The sequence object, authorized with the auth value it was started with.
            sequence_handle,
        ],
        handles: [],
        params: {
            /// The next octets (TPM2B_MAX_BUFFER).
            buffer: MaxBuffer,
        },
    }
    /// TPM2_SequenceUpdate's response: nothing.
    SequenceUpdateResponse { handles: [], params: {} }
}

tpm_command! {
    /// TPM2_SequenceComplete: adds the last data to a hash or HMAC sequence and returns the
    /// digest; the sequence object is flushed. The TPM computes the response HMAC before it
    /// flushes the object, so the sequence's auth value keys it as usual.
    SequenceComplete = SEQUENCE_COMPLETE {
        auth_handles: [
            /// The sequence object.
            sequence_handle,
        ],
        handles: [],
        params: {
            /// The last octets (TPM2B_MAX_BUFFER), possibly empty.
            buffer: MaxBuffer,
            /// The hierarchy whose proof keys the ticket (TPMI_RH_HIERARCHY+), or TPM_RH_NULL
            /// for a NULL ticket.
            hierarchy: Handle,
        },
    }
    /// TPM2_SequenceComplete's response.
    SequenceCompleteResponse {
        handles: [],
        params: {
            /// The digest or HMAC (TPM2B_DIGEST).
            result: Digest,
            /// A TPM_ST_HASHCHECK ticket saying the data did not start with
            /// TPM_GENERATED_VALUE (a NULL ticket for an HMAC sequence or TPM_RH_NULL).
            validation: HashcheckTicket,
        },
    }
}

tpm_command! {
    /// TPM2_EventSequenceComplete: completes an event sequence, returning the digest of every
    /// implemented hash, and extends them into a PCR (unless it is TPM_RH_NULL).
    EventSequenceComplete = EVENT_SEQUENCE_COMPLETE {
        auth_handles: [
            /// The PCR to extend (TPMI_DH_PCR+, usually with an empty auth value), or
            /// TPM_RH_NULL.
            pcr_handle,
            /// The event sequence object.
            sequence_handle,
        ],
        handles: [],
        params: {
            /// The last octets (TPM2B_MAX_BUFFER), possibly empty.
            buffer: MaxBuffer,
        },
    }
    /// TPM2_EventSequenceComplete's response.
    EventSequenceCompleteResponse {
        handles: [],
        params: {
            /// One digest per implemented hash (TPML_DIGEST_VALUES).
            results: DigestValues,
        },
    }
}

tpm_command! {
    /// TPM2_EncryptDecrypt: encrypts or decrypts with a loaded symmetric key. Its first
    /// parameter is not a TPM2B, so no session can encrypt the data going in: use
    /// [`EncryptDecrypt2`] for plaintext that must not cross the bus in clear.
    EncryptDecrypt = ENCRYPT_DECRYPT {
        auth_handles: [
            /// The symmetric key (TPM_ALG_SYMCIPHER, with decrypt and/or sign set), USER role.
            key_handle,
        ],
        handles: [],
        params: {
            /// `true` to decrypt, `false` to encrypt (TPMI_YES_NO).
            decrypt: bool,
            /// The mode (TPMI_ALG_CIPHER_MODE+): TPM_ALG_CFB, CBC, CTR, OFB, ECB, or
            /// TPM_ALG_NULL for the key's own.
            mode: AlgId,
            /// The initial value (TPM2B_IV), one block; empty for ECB.
            iv_in: Iv,
            /// The data (TPM2B_MAX_BUFFER); for CBC and ECB a whole number of blocks.
            in_data: SecretBuffer,
        },
    }
    /// TPM2_EncryptDecrypt's response.
    EncryptDecryptResponse {
        handles: [],
        params: {
            /// The result (TPM2B_MAX_BUFFER), as long as `in_data`.
            out_data: SecretBuffer,
            /// The chaining value to continue with (TPM2B_IV).
            iv_out: Iv,
        },
    }
}

tpm_command! {
    /// TPM2_EncryptDecrypt2: [`EncryptDecrypt`] with the data first, so a session can encrypt
    /// it on the way in.
    EncryptDecrypt2 = ENCRYPT_DECRYPT2 {
        auth_handles: [
            /// The symmetric key, USER role.
            key_handle,
        ],
        handles: [],
        params: {
            /// The data (TPM2B_MAX_BUFFER).
            in_data: SecretBuffer,
            /// `true` to decrypt, `false` to encrypt.
            decrypt: bool,
            /// The mode (TPMI_ALG_CIPHER_MODE+), or TPM_ALG_NULL for the key's own.
            mode: AlgId,
            /// The initial value (TPM2B_IV).
            iv_in: Iv,
        },
    }
    /// TPM2_EncryptDecrypt2's response.
    EncryptDecrypt2Response {
        handles: [],
        params: {
            /// The result (TPM2B_MAX_BUFFER).
            out_data: SecretBuffer,
            /// The chaining value to continue with (TPM2B_IV).
            iv_out: Iv,
        },
    }
}

tpm_command! {
    /// TPM2_RSA_Encrypt: RSAES-PKCS1-v1_5 or OAEP with a loaded RSA key's public part. Needs
    /// no authorization; a session may still encrypt the message on the bus.
    RsaEncrypt = RSA_ENCRYPT {
        auth_handles: [],
        handles: [
            /// The RSA key (with the decrypt attribute, not restricted).
            key_handle,
        ],
        params: {
            /// The plaintext (TPM2B_PUBLIC_KEY_RSA), shorter than the modulus by the padding.
            message: RsaMessage,
            /// The padding (TPMT_RSA_DECRYPT): RSAES, OAEP with a hash, or NULL for the key's
            /// own scheme.
            in_scheme: RsaScheme,
            /// The OAEP label (TPM2B_DATA): empty, or ending in a zero octet.
            label: Data,
        },
    }
    /// TPM2_RSA_Encrypt's response.
    RsaEncryptResponse {
        handles: [],
        params: {
            /// The ciphertext, as long as the modulus (TPM2B_PUBLIC_KEY_RSA).
            out_data: PublicKeyRsa,
        },
    }
}

tpm_command! {
    /// TPM2_RSA_Decrypt: removes RSAES-PKCS1-v1_5 or OAEP padding with a loaded RSA key's
    /// private part.
    RsaDecrypt = RSA_DECRYPT {
        auth_handles: [
            /// The RSA key (decrypt, not restricted), USER role.
            key_handle,
        ],
        handles: [],
        params: {
            /// The ciphertext (TPM2B_PUBLIC_KEY_RSA).
            cipher_text: PublicKeyRsa,
            /// The padding (TPMT_RSA_DECRYPT), or NULL for the key's own scheme.
            in_scheme: RsaScheme,
            /// The OAEP label the ciphertext was made with (TPM2B_DATA).
            label: Data,
        },
    }
    /// TPM2_RSA_Decrypt's response.
    RsaDecryptResponse {
        handles: [],
        params: {
            /// The plaintext, zeroized on drop. Encrypt it with a session: it crosses the bus
            /// otherwise in clear.
            message: RsaMessage,
        },
    }
}

tpm_command! {
    /// TPM2_ECDH_KeyGen: the TPM picks an ephemeral key pair on the curve of a loaded ECC key
    /// and returns the ephemeral public point and the shared point with the key's public
    /// point (the sender's half of one-pass ECDH).
    EcdhKeyGen = ECDH_KEY_GEN {
        auth_handles: [],
        handles: [
            /// The ECC key whose public point is the peer's.
            key_handle,
        ],
        params: {},
    }
    /// TPM2_ECDH_KeyGen's response.
    EcdhKeyGenResponse {
        handles: [],
        params: {
            /// The shared point: ephemeral private scalar × the key's public point. A secret:
            /// encrypt it with a session.
            z_point: EccSharedPoint,
            /// The ephemeral public point, for the holder of the key's private part.
            pub_point: Tpm2bEccPoint,
        },
    }
}

tpm_command! {
    /// TPM2_ECDH_ZGen: multiplies a peer's public point by a loaded ECC key's private scalar
    /// (the receiver's half of ECDH).
    EcdhZGen = ECDH_ZGEN {
        auth_handles: [
            /// The ECC key (decrypt, not restricted, scheme ECDH or NULL), USER role.
            key_handle,
        ],
        handles: [],
        params: {
            /// The peer's public point (TPM2B_ECC_POINT), on the key's curve.
            in_point: Tpm2bEccPoint,
        },
    }
    /// TPM2_ECDH_ZGen's response.
    EcdhZGenResponse {
        handles: [],
        params: {
            /// The shared point; its x coordinate is the shared secret. Encrypt it with a
            /// session.
            out_point: EccSharedPoint,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::command::shape;
    use crate::command::{AuthChange, Command, Response};

    #[test]
    fn parameter_encryption_and_authorizations_follow_part_3() {
        // Part 3's "decrypt"/"encrypt" columns and the "@" handles of each command.
        assert_eq!(shape::<Hmac>(), (true, true, 1, 0));
        assert_eq!(shape::<HashSequenceStart>(), (true, false, 0, 1));
        assert_eq!(shape::<HmacStart>(), (true, false, 1, 1));
        assert_eq!(shape::<SequenceUpdate>(), (true, false, 1, 0));
        assert_eq!(shape::<SequenceComplete>(), (true, true, 1, 0));
        assert_eq!(shape::<EventSequenceComplete>(), (true, false, 2, 0));
        assert_eq!(shape::<EncryptDecrypt>(), (false, true, 1, 0));
        assert_eq!(shape::<EncryptDecrypt2>(), (true, true, 1, 0));
        assert_eq!(shape::<RsaEncrypt>(), (true, true, 0, 0));
        assert_eq!(shape::<RsaDecrypt>(), (true, true, 1, 0));
        assert_eq!(shape::<EcdhKeyGen>(), (false, true, 0, 0));
        assert_eq!(shape::<EcdhZGen>(), (true, true, 1, 0));
        assert_eq!(
            <HashSequenceStartResponse as Response>::HANDLES
                + <HmacStartResponse as Response>::HANDLES,
            2
        );
    }

    #[test]
    fn starting_a_sequence_does_not_change_the_keys_auth() {
        let start = HmacStart {
            handle: crate::command::Entity::from_handle(Handle(0x8000_0000)),
            auth: Auth::new(b"sequence").unwrap(),
            hash_alg: AlgId::SHA256,
        };
        assert!(matches!(start.auth_change(), AuthChange::None));
        assert!(!format!("{start:?}").contains("sequence"));
    }
}
