//! Attestation and signing commands (TPM 2.0 Library Part 3, §18 and §20): quotes,
//! certifications and the signed time, signing and verifying digests, and the two commands
//! that feed them (TPM2_Hash for the ticket a restricted key needs, TPM2_LoadExternal for a
//! public key to verify with). What the TPM signs is a marshalled TPMS_ATTEST
//! ([`crate::wire::Attestation`]); verify it on the host with `crate::attest` (feature
//! `attest`).
//!
//! `in_scheme` is a [`SigScheme`]: [`SigScheme::Null`] signs with the key's own scheme,
//! which a restricted key requires (it has one, and refuses any other).

use crate::tpm_command;
use crate::wire::{
    AlgId, Attest, CreationTicket, Data, Digest, Handle, HashcheckTicket, MaxBuffer, Name,
    OptionalSensitive, PcrSelectionList, SigScheme, Signature, Tpm2bPublic, VerifiedTicket,
};

tpm_command! {
    /// TPM2_Quote: the TPM signs the digest of the selected PCRs (TPMS_ATTEST of type
    /// TPM_ST_ATTEST_QUOTE). The digest uses the signing scheme's hash.
    Quote = QUOTE {
        auth_handles: [
            /// The signing key (USER role), normally a restricted signing key (an AK).
            sign_handle,
        ],
        handles: [],
        params: {
            /// Caller data copied into the attestation (extraData): the verifier's nonce.
            qualifying_data: Data,
            /// The signing scheme; [`SigScheme::Null`] for the key's own.
            in_scheme: SigScheme,
            /// The PCRs to quote (TPML_PCR_SELECTION).
            pcr_select: PcrSelectionList,
        },
    }
    /// TPM2_Quote's response.
    QuoteResponse {
        handles: [],
        params: {
            /// The marshalled TPMS_ATTEST (TPM2B_ATTEST) that was signed.
            quoted: Attest,
            /// The signature over `quoted`.
            signature: Signature,
        },
    }
}

tpm_command! {
    /// TPM2_Certify: the TPM signs that an object is loaded in it (TPMS_ATTEST of type
    /// TPM_ST_ATTEST_CERTIFY, with the object's name and qualified name).
    Certify = CERTIFY {
        auth_handles: [
            /// The object to certify (ADMIN role: its auth value unless adminWithPolicy).
            object_handle,
            /// The signing key (USER role).
            sign_handle,
        ],
        handles: [],
        params: {
            /// Caller data copied into the attestation: the verifier's nonce.
            qualifying_data: Data,
            /// The signing scheme; [`SigScheme::Null`] for the key's own.
            in_scheme: SigScheme,
        },
    }
    /// TPM2_Certify's response.
    CertifyResponse {
        handles: [],
        params: {
            /// The marshalled TPMS_ATTEST that was signed.
            certify_info: Attest,
            /// The signature over `certify_info`.
            signature: Signature,
        },
    }
}

tpm_command! {
    /// TPM2_CertifyCreation: the TPM signs that it created an object, given the creation hash
    /// and ticket TPM2_Create or TPM2_CreatePrimary returned for it (TPMS_ATTEST of type
    /// TPM_ST_ATTEST_CREATION).
    CertifyCreation = CERTIFY_CREATION {
        auth_handles: [
            /// The signing key (USER role).
            sign_handle,
        ],
        handles: [
            /// The object whose creation is certified (no authorization).
            object_handle,
        ],
        params: {
            /// Caller data copied into the attestation: the verifier's nonce.
            qualifying_data: Data,
            /// The creationHash returned when the object was created.
            creation_hash: Digest,
            /// The signing scheme; [`SigScheme::Null`] for the key's own.
            in_scheme: SigScheme,
            /// The TPM_ST_CREATION ticket returned when the object was created.
            creation_ticket: CreationTicket,
        },
    }
    /// TPM2_CertifyCreation's response.
    CertifyCreationResponse {
        handles: [],
        params: {
            /// The marshalled TPMS_ATTEST that was signed.
            certify_info: Attest,
            /// The signature over `certify_info`.
            signature: Signature,
        },
    }
}

tpm_command! {
    /// TPM2_NV_Certify: the TPM signs the contents of part of an NV index (TPMS_ATTEST of
    /// type TPM_ST_ATTEST_NV), or, with `size` and `offset` both 0 on TPMs that support it,
    /// the digest of the whole index (TPM_ST_ATTEST_NV_DIGEST).
    NvCertify = NV_CERTIFY {
        auth_handles: [
            /// The signing key (USER role).
            sign_handle,
            /// Who authorizes reading the index: the index itself, TPM_RH_OWNER or
            /// TPM_RH_PLATFORM, as its read attributes allow.
            auth_handle,
        ],
        handles: [
            /// The NV index to certify.
            nv_index,
        ],
        params: {
            /// Caller data copied into the attestation: the verifier's nonce.
            qualifying_data: Data,
            /// The signing scheme; [`SigScheme::Null`] for the key's own.
            in_scheme: SigScheme,
            /// Octets to certify.
            size: u16,
            /// Octet offset of the first one.
            offset: u16,
        },
    }
    /// TPM2_NV_Certify's response.
    NvCertifyResponse {
        handles: [],
        params: {
            /// The marshalled TPMS_ATTEST that was signed.
            certify_info: Attest,
            /// The signature over `certify_info`.
            signature: Signature,
        },
    }
}

tpm_command! {
    /// TPM2_GetTime: the TPM signs its current time, clock and firmware version (TPMS_ATTEST
    /// of type TPM_ST_ATTEST_TIME).
    GetTime = GET_TIME {
        auth_handles: [
            /// TPM_RH_ENDORSEMENT (the privacy administrator).
            privacy_admin_handle,
            /// The signing key (USER role).
            sign_handle,
        ],
        handles: [],
        params: {
            /// Caller data copied into the attestation: the verifier's nonce.
            qualifying_data: Data,
            /// The signing scheme; [`SigScheme::Null`] for the key's own.
            in_scheme: SigScheme,
        },
    }
    /// TPM2_GetTime's response.
    GetTimeResponse {
        handles: [],
        params: {
            /// The marshalled TPMS_ATTEST that was signed.
            time_info: Attest,
            /// The signature over `time_info`.
            signature: Signature,
        },
    }
}

tpm_command! {
    /// TPM2_Sign: signs a digest. A restricted key signs only a digest the TPM computed
    /// itself from data that does not start with TPM_GENERATED_VALUE, proven by the ticket
    /// from [`struct@Hash`]; an unrestricted key takes a NULL ticket.
    Sign = SIGN {
        auth_handles: [
            /// The signing key (USER role).
            key_handle,
        ],
        handles: [],
        params: {
            /// The digest to sign, as long as the scheme's hash.
            digest: Digest,
            /// The signing scheme; [`SigScheme::Null`] for the key's own.
            in_scheme: SigScheme,
            /// The TPM_ST_HASHCHECK ticket from [`struct@Hash`] for a restricted key, or
            /// `Ticket::null(StructureTag::HASHCHECK)`.
            validation: HashcheckTicket,
        },
    }
    /// TPM2_Sign's response.
    SignResponse {
        handles: [],
        params: {
            /// The signature over `digest`.
            signature: Signature,
        },
    }
}

tpm_command! {
    /// TPM2_VerifySignature: the TPM checks a signature over a digest with a loaded public
    /// key and, if it verifies, returns a ticket saying so.
    VerifySignature = VERIFY_SIGNATURE {
        auth_handles: [],
        handles: [
            /// The public key to verify with (no authorization).
            key_handle,
        ],
        params: {
            /// The digest that was signed.
            digest: Digest,
            /// The signature to check.
            signature: Signature,
        },
    }
    /// TPM2_VerifySignature's response (a signature that does not verify is an error
    /// response, TPM_RC_SIGNATURE).
    VerifySignatureResponse {
        handles: [],
        params: {
            /// A TPM_ST_VERIFIED ticket (a NULL ticket when the key is in TPM_RH_NULL).
            validation: VerifiedTicket,
        },
    }
}

tpm_command! {
    /// TPM2_LoadExternal: loads a key the TPM did not create, usually only its public part
    /// (to verify signatures), into a hierarchy (TPM_RH_NULL for a public key).
    LoadExternal = LOAD_EXTERNAL {
        auth_handles: [],
        handles: [],
        params: {
            /// The private part in clear, or [`OptionalSensitive::none`] for a public key.
            in_private: OptionalSensitive,
            /// The public area (TPM2B_PUBLIC).
            in_public: Tpm2bPublic,
            /// The hierarchy it belongs to: TPM_RH_NULL, or for a public key also
            /// TPM_RH_OWNER, TPM_RH_ENDORSEMENT or TPM_RH_PLATFORM.
            hierarchy: Handle,
        },
    }
    /// TPM2_LoadExternal's response.
    LoadExternalResponse {
        handles: [
            /// The loaded object (0x80xxxxxx); flush it when done.
            object_handle,
        ],
        params: {
            /// Its name: nameAlg ‖ H_nameAlg(TPMT_PUBLIC).
            name: Name,
        },
    }
}

tpm_command! {
    /// TPM2_Hash: hashes data in the TPM. With a hierarchy other than TPM_RH_NULL, and data
    /// that does not start with TPM_GENERATED_VALUE, it also returns the ticket
    /// [`Sign`] needs for a restricted key.
    Hash = HASH {
        auth_handles: [], handles: [],
        params: {
            /// The data (TPM2B_MAX_BUFFER; at most the TPM's MAX_DIGEST_BUFFER, 1024 octets
            /// on most TPMs).
            data: MaxBuffer,
            /// The hash algorithm (TPMI_ALG_HASH).
            hash_alg: AlgId,
            /// The hierarchy whose proof keys the ticket, or TPM_RH_NULL for none.
            hierarchy: Handle,
        },
    }
    /// TPM2_Hash's response.
    HashResponse {
        handles: [],
        params: {
            /// The digest.
            out_hash: Digest,
            /// A TPM_ST_HASHCHECK ticket, or a NULL ticket when the data starts with
            /// TPM_GENERATED_VALUE or the hierarchy is TPM_RH_NULL.
            validation: HashcheckTicket,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::command::shape;
    use crate::command::{marshal_params, Command, Entity, Response};
    use crate::wire::{Marshal, PcrSelection, StructureTag, Ticket};

    #[test]
    fn authorizations_and_encryption_follow_part_3() {
        // Part 3's "@" handles and its "decrypt"/"encrypt" columns.
        assert_eq!(shape::<Quote>(), (true, true, 1, 0), "Quote");
        assert_eq!(shape::<Certify>(), (true, true, 2, 0), "Certify");
        assert_eq!(
            shape::<CertifyCreation>(),
            (true, true, 1, 0),
            "CertifyCreation"
        );
        assert_eq!(shape::<NvCertify>(), (true, true, 2, 0), "NV_Certify");
        assert_eq!(shape::<GetTime>(), (true, true, 2, 0), "GetTime");
        assert_eq!(shape::<Sign>(), (true, false, 1, 0), "Sign");
        assert_eq!(
            shape::<VerifySignature>(),
            (true, false, 0, 0),
            "VerifySignature"
        );
        assert_eq!(shape::<LoadExternal>(), (true, true, 0, 1), "LoadExternal");
        assert_eq!(shape::<Hash>(), (true, true, 0, 0), "Hash");
        assert_eq!(<LoadExternalResponse as Response>::HANDLES, 1);
    }

    #[test]
    fn quote_parameters_are_in_part_3_order() {
        let quote = Quote {
            sign_handle: Entity::from_handle(Handle(0x8000_0001)),
            qualifying_data: Data::new(&[0xAA, 0xBB]).unwrap(),
            in_scheme: SigScheme::Ecdsa {
                hash: AlgId::SHA256,
            },
            pcr_select: PcrSelectionList::new(vec![
                PcrSelection::new(AlgId::SHA256, &[0, 16]).unwrap()
            ])
            .unwrap(),
        };
        let mut params = Vec::new();
        marshal_params(&quote, &mut params);
        #[rustfmt::skip]
        let expected = [
            0x00, 0x02, 0xAA, 0xBB, // qualifyingData
            0x00, 0x18, 0x00, 0x0B, // inScheme: ECDSA, SHA-256
            0x00, 0x00, 0x00, 0x01, 0x00, 0x0B, 0x03, 0x01, 0x00, 0x01, // PCRselect
        ];
        assert_eq!(params, expected);
        assert_eq!(Quote::CODE.0, 0x158);
    }

    #[test]
    fn certify_creation_and_nv_certify_handle_and_parameter_order() {
        let sign = Entity::from_handle(Handle(0x8000_0001));
        let object = Entity::from_handle(Handle(0x8000_0002));
        let cc = CertifyCreation {
            sign_handle: sign.clone(),
            object_handle: object.clone(),
            qualifying_data: Data::empty(),
            creation_hash: Digest::new(&[7; 32]).unwrap(),
            in_scheme: SigScheme::Null,
            creation_ticket: Ticket::null(StructureTag::CREATION),
        };
        let handles: Vec<Handle> = cc.handles().iter().map(|e| e.handle).collect();
        assert_eq!(handles, [Handle(0x8000_0001), Handle(0x8000_0002)]);
        let mut params = Vec::new();
        marshal_params(&cc, &mut params);
        let mut expected = vec![0, 0, 0, 32];
        expected.extend([7; 32]);
        expected.extend([0x00, 0x10]);
        expected.extend(Ticket::null(StructureTag::CREATION).to_bytes());
        assert_eq!(params, expected);

        let nv = NvCertify {
            sign_handle: sign,
            auth_handle: Entity::owner(),
            nv_index: Entity::from_handle(Handle(0x0150_0000)),
            qualifying_data: Data::empty(),
            in_scheme: SigScheme::Null,
            size: 8,
            offset: 2,
        };
        let handles: Vec<Handle> = nv.handles().iter().map(|e| e.handle).collect();
        assert_eq!(
            handles,
            [Handle(0x8000_0001), Handle::RH_OWNER, Handle(0x0150_0000)]
        );
        let mut params = Vec::new();
        marshal_params(&nv, &mut params);
        assert_eq!(params, [0, 0, 0x00, 0x10, 0, 8, 0, 2]);
    }

    #[test]
    fn load_external_of_a_public_key_sends_an_empty_sensitive() {
        let load = LoadExternal {
            in_private: OptionalSensitive::none(),
            in_public: Tpm2bPublic(crate::wire::Public::ecc_p256_storage_parent()),
            hierarchy: Handle::RH_NULL,
        };
        let mut params = Vec::new();
        marshal_params(&load, &mut params);
        assert_eq!(&params[..2], [0, 0]);
        assert_eq!(&params[params.len() - 4..], Handle::RH_NULL.0.to_be_bytes());
    }
}
