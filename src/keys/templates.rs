//! Public-area templates (TPMT_PUBLIC for TPM2_CreatePrimary and TPM2_Create) for the keys an
//! application usually needs. Every template has nameAlg SHA-256, fixedTPM and fixedParent
//! (the key never leaves this TPM or its parent), and an empty unique field.

use crate::crypto::HashAlg;
use crate::wire::{
    AlgId, Digest, EccCurve, EccParms, EccPoint, EccScheme, KdfScheme, ObjectAttributes, Public,
    PublicKey, PublicKeyRsa, RsaParms, RsaScheme, SymDefObject,
};

/// The asymmetric algorithm of a template.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum KeyAlg {
    /// RSA with a 2048-bit modulus and the default exponent.
    Rsa2048,
    /// ECC on NIST P-256.
    EccP256,
}

impl KeyAlg {
    /// Both algorithms.
    pub const ALL: [KeyAlg; 2] = [KeyAlg::Rsa2048, KeyAlg::EccP256];
}

/// fixedTPM|fixedParent|sensitiveDataOrigin|userWithAuth: a key the TPM generated, used with
/// its auth value.
const GENERATED: ObjectAttributes = ObjectAttributes(
    ObjectAttributes::FIXED_TPM.0
        | ObjectAttributes::FIXED_PARENT.0
        | ObjectAttributes::SENSITIVE_DATA_ORIGIN.0
        | ObjectAttributes::USER_WITH_AUTH.0,
);

fn rsa(attributes: ObjectAttributes, scheme: RsaScheme) -> Public {
    Public {
        name_alg: AlgId::SHA256,
        object_attributes: attributes,
        auth_policy: Digest::empty(),
        key: PublicKey::Rsa {
            parameters: RsaParms {
                symmetric: SymDefObject::Null,
                scheme,
                key_bits: 2048,
                exponent: 0,
            },
            unique: PublicKeyRsa::empty(),
        },
    }
}

fn ecc(attributes: ObjectAttributes, scheme: EccScheme) -> Public {
    Public {
        name_alg: AlgId::SHA256,
        object_attributes: attributes,
        auth_policy: Digest::empty(),
        key: PublicKey::Ecc {
            parameters: EccParms {
                symmetric: SymDefObject::Null,
                scheme,
                curve: EccCurve::NIST_P256,
                kdf: KdfScheme::Null,
            },
            unique: EccPoint::default(),
        },
    }
}

fn asymmetric(
    alg: KeyAlg,
    attributes: ObjectAttributes,
    rsa_scheme: RsaScheme,
    ecc_scheme: EccScheme,
) -> Public {
    match alg {
        KeyAlg::Rsa2048 => rsa(attributes, rsa_scheme),
        KeyAlg::EccP256 => ecc(attributes, ecc_scheme),
    }
}

/// An attestation key (AK): restricted signing, RSASSA-SHA256 or ECDSA-SHA256, attributes
/// 0x00050072 (restricted|sign|fixedTPM|fixedParent|sensitiveDataOrigin|userWithAuth), as
/// `tpm2_createak` makes. Restricted: it signs only what the TPM produced (quotes,
/// certifications) or digests the TPM hashed itself (TPM2_Hash tickets), so its signature
/// cannot be forged over a TPMS_ATTEST.
pub fn attestation_key(alg: KeyAlg) -> Public {
    asymmetric(
        alg,
        GENERATED | ObjectAttributes::RESTRICTED | ObjectAttributes::SIGN_ENCRYPT,
        RsaScheme::RsaSsa {
            hash: AlgId::SHA256,
        },
        EccScheme::Ecdsa {
            hash: AlgId::SHA256,
        },
    )
}

/// An unrestricted signing key: signs any digest, RSASSA-SHA256 or ECDSA-SHA256, attributes
/// 0x00040072 (sign|fixedTPM|fixedParent|sensitiveDataOrigin|userWithAuth).
pub fn signing_key(alg: KeyAlg) -> Public {
    asymmetric(
        alg,
        GENERATED | ObjectAttributes::SIGN_ENCRYPT,
        RsaScheme::RsaSsa {
            hash: AlgId::SHA256,
        },
        EccScheme::Ecdsa {
            hash: AlgId::SHA256,
        },
    )
}

/// An unrestricted decryption key: RSA-OAEP with SHA-256, or ECDH with SHA-256, attributes
/// 0x00020072 (decrypt|fixedTPM|fixedParent|sensitiveDataOrigin|userWithAuth). Sessions can
/// be salted to it.
pub fn decryption_key(alg: KeyAlg) -> Public {
    asymmetric(
        alg,
        GENERATED | ObjectAttributes::DECRYPT,
        RsaScheme::Oaep {
            hash: AlgId::SHA256,
        },
        EccScheme::Ecdh {
            hash: AlgId::SHA256,
        },
    )
}

/// A storage parent: restricted decryption with AES-128-CFB for its children, no scheme,
/// attributes 0x00030072; exactly the primary `tpm2_createprimary` makes by default
/// ([`Public::rsa_2048_storage_parent`], [`Public::ecc_p256_storage_parent`]). It can also
/// protect credentials ([`make_credential`](super::make_credential)).
pub fn storage_parent(alg: KeyAlg) -> Public {
    match alg {
        KeyAlg::Rsa2048 => Public::rsa_2048_storage_parent(),
        KeyAlg::EccP256 => Public::ecc_p256_storage_parent(),
    }
}

/// Sealed data released only under `policy` (a policy digest of `name_alg`, e.g. from
/// [`PolicyCalculator`](crate::session::policy::PolicyCalculator)): a keyed-hash object with
/// no scheme, fixedTPM|fixedParent, and neither userWithAuth (its auth value alone does not
/// unseal it) nor sensitiveDataOrigin (the caller supplies the data, in the sensitive area of
/// TPM2_Create).
pub fn sealed_data(name_alg: HashAlg, policy: &Digest) -> Public {
    Public {
        name_alg: name_alg.alg_id(),
        object_attributes: ObjectAttributes::FIXED_TPM | ObjectAttributes::FIXED_PARENT,
        auth_policy: policy.clone(),
        ..Public::sealed_data(name_alg.alg_id())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::Marshal;

    #[test]
    fn attributes_are_those_of_the_tools() {
        for alg in KeyAlg::ALL {
            assert_eq!(attestation_key(alg).object_attributes.0, 0x0005_0072);
            assert_eq!(signing_key(alg).object_attributes.0, 0x0004_0072);
            assert_eq!(decryption_key(alg).object_attributes.0, 0x0002_0072);
            assert_eq!(storage_parent(alg).object_attributes.0, 0x0003_0072);
        }
        let policy = Digest::new(&[0x11; 32]).unwrap();
        let sealed = sealed_data(HashAlg::Sha256, &policy);
        assert_eq!(sealed.object_attributes.0, 0x0000_0012);
        assert_eq!(sealed.auth_policy, policy);
    }

    /// The AK's wire form, field by field (RSA), as TPM2_CreatePrimary receives it.
    #[test]
    fn rsa_attestation_key_encoding() {
        #[rustfmt::skip]
        let expected = [
            0x00, 0x01, // TPM_ALG_RSA
            0x00, 0x0B, // nameAlg SHA-256
            0x00, 0x05, 0x00, 0x72, // attributes
            0x00, 0x00, // empty authPolicy
            0x00, 0x10, // no symmetric algorithm
            0x00, 0x14, 0x00, 0x0B, // RSASSA with SHA-256
            0x08, 0x00, // 2048 bits
            0x00, 0x00, 0x00, 0x00, // default exponent
            0x00, 0x00, // empty modulus
        ];
        assert_eq!(attestation_key(KeyAlg::Rsa2048).to_bytes(), expected);
    }

    #[test]
    fn ecc_decryption_key_encoding() {
        #[rustfmt::skip]
        let expected = [
            0x00, 0x23, // TPM_ALG_ECC
            0x00, 0x0B, // nameAlg SHA-256
            0x00, 0x02, 0x00, 0x72, // attributes
            0x00, 0x00, // empty authPolicy
            0x00, 0x10, // no symmetric algorithm
            0x00, 0x19, 0x00, 0x0B, // ECDH with SHA-256
            0x00, 0x03, // NIST P-256
            0x00, 0x10, // no KDF
            0x00, 0x00, 0x00, 0x00, // empty point
        ];
        assert_eq!(decryption_key(KeyAlg::EccP256).to_bytes(), expected);
    }
}
