//! Object public areas (TPMT_PUBLIC, TPM2B_PUBLIC) with their parameters and unique fields,
//! ECC points, the sensitive-create area, and templates for the objects the library creates.
//!
//! Marshalling is deterministic (one encoding per value), so an object's Name can be computed
//! by hashing `Public::to_bytes()` with `Public::name_alg()`; that hashing lives with the
//! crypto code, not here.

use super::pcr::PcrSelectionList;
use super::structures::{
    bad_selector, marshal_sized, plain_struct_codec, unmarshal_sized, LocalityAttributes,
    ObjectAttributes,
};
use super::sym::{EccScheme, KdfScheme, KeyedHashScheme, RsaScheme, SymDefObject};
use super::{
    AlgId, Auth, Data, Digest, EccCurve, EccParameter, Marshal, Name, PublicKeyRsa, Reader, Secret,
    SensitiveData, Tpm2b, Unmarshal, WireError, Writer, MAX_DIGEST_SIZE, MAX_ECC_KEY_BYTES,
    MAX_RSA_KEY_BYTES,
};

/// TPM2B_CREATION_DATA kept opaque: callers only hand it back to the TPM or hash it.
/// TPMS_CREATION_DATA is under 400 bytes even with 16 PCR banks.
pub type CreationData = Tpm2b<1024>;

/// TPMS_CREATION_DATA: what TPM2_Create/CreatePrimary report about the creation
/// environment. Read it from a [`CreationData`] buffer with
/// `CreationDataInfo::from_bytes(data.as_bytes())`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CreationDataInfo {
    /// The PCRs selected by the creator (`creation_pcr`).
    pub pcr_select: PcrSelectionList,
    /// The digest of their values at creation, with the object's nameAlg.
    pub pcr_digest: Digest,
    /// The locality the creating command came from.
    pub locality: LocalityAttributes,
    /// The parent's nameAlg (TPM_ALG_NULL for a primary object).
    pub parent_name_alg: AlgId,
    /// The parent's name (the hierarchy handle for a primary object).
    pub parent_name: Name,
    /// The parent's qualified name.
    pub parent_qualified_name: Name,
    /// The creator's `outside_info`, copied as given.
    pub outside_info: Data,
}

plain_struct_codec!(CreationDataInfo {
    pcr_select: PcrSelectionList,
    pcr_digest: Digest,
    locality: LocalityAttributes,
    parent_name_alg: AlgId,
    parent_name: Name,
    parent_qualified_name: Name,
    outside_info: Data
});

/// TPMS_ECC_POINT
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct EccPoint {
    /// The x coordinate, big-endian, as long as the curve's field.
    pub x: EccParameter,
    /// The y coordinate, big-endian.
    pub y: EccParameter,
}

impl Marshal for EccPoint {
    fn marshal(&self, w: &mut Writer<'_>) {
        self.x.marshal(w);
        self.y.marshal(w);
    }
}

impl Unmarshal for EccPoint {
    fn unmarshal(r: &mut Reader<'_>) -> Result<Self, WireError> {
        Ok(EccPoint {
            x: EccParameter::unmarshal(r)?,
            y: EccParameter::unmarshal(r)?,
        })
    }
}

/// TPM2B_ECC_POINT: a size-prefixed [`EccPoint`].
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct Tpm2bEccPoint(pub EccPoint);

impl Marshal for Tpm2bEccPoint {
    const TPM2B: bool = true;

    fn marshal(&self, w: &mut Writer<'_>) {
        marshal_sized(w, |w| self.0.marshal(w))
    }
}

impl Unmarshal for Tpm2bEccPoint {
    const TPM2B: bool = true;

    fn unmarshal(r: &mut Reader<'_>) -> Result<Self, WireError> {
        Ok(Tpm2bEccPoint(unmarshal_sized(r)?))
    }
}

/// TPMS_RSA_PARMS
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct RsaParms {
    /// For a storage (restricted decryption) key, the cipher that protects its children;
    /// TPM_ALG_NULL otherwise.
    pub symmetric: SymDefObject,
    /// The padding scheme the key is limited to, or TPM_ALG_NULL (any, chosen per command). A
    /// restricted key must name one for signing and none for storage.
    pub scheme: RsaScheme,
    /// Modulus size in bits (1024, 2048, 3072 or 4096, as the TPM supports).
    pub key_bits: u16,
    /// 0 means the default exponent 65537.
    pub exponent: u32,
}

/// TPMS_ECC_PARMS
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct EccParms {
    /// For a storage key, the cipher that protects its children; TPM_ALG_NULL otherwise.
    pub symmetric: SymDefObject,
    /// The signing or key-exchange scheme the key is limited to, or TPM_ALG_NULL.
    pub scheme: EccScheme,
    /// The curve (TPM_ECC_CURVE).
    pub curve: EccCurve,
    /// The KDF for ECDH-derived keys, normally TPM_ALG_NULL.
    pub kdf: KdfScheme,
}

/// TPMS_KEYEDHASH_PARMS
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct KeyedHashParms {
    /// HMAC (an HMAC key), XOR (a derivation parent), or TPM_ALG_NULL (sealed data).
    pub scheme: KeyedHashScheme,
}

/// TPMS_SYMCIPHER_PARMS
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct SymCipherParms {
    /// The key's algorithm, size and mode.
    pub symmetric: SymDefObject,
}

impl Marshal for RsaParms {
    fn marshal(&self, w: &mut Writer<'_>) {
        self.symmetric.marshal(w);
        self.scheme.marshal(w);
        w.u16(self.key_bits);
        w.u32(self.exponent);
    }
}

impl Unmarshal for RsaParms {
    fn unmarshal(r: &mut Reader<'_>) -> Result<Self, WireError> {
        Ok(RsaParms {
            symmetric: SymDefObject::unmarshal(r)?,
            scheme: RsaScheme::unmarshal(r)?,
            key_bits: r.u16()?,
            exponent: r.u32()?,
        })
    }
}

impl Marshal for EccParms {
    fn marshal(&self, w: &mut Writer<'_>) {
        self.symmetric.marshal(w);
        self.scheme.marshal(w);
        self.curve.marshal(w);
        self.kdf.marshal(w);
    }
}

impl Unmarshal for EccParms {
    fn unmarshal(r: &mut Reader<'_>) -> Result<Self, WireError> {
        Ok(EccParms {
            symmetric: SymDefObject::unmarshal(r)?,
            scheme: EccScheme::unmarshal(r)?,
            curve: EccCurve::unmarshal(r)?,
            kdf: KdfScheme::unmarshal(r)?,
        })
    }
}

/// TPMU_PUBLIC_PARMS and TPMU_PUBLIC_ID together, selected by the object type: holding both
/// arms in one variant means a public area's parameters and unique field always agree.
// Sized buffers are inline by design (reading never allocates), so arms differ in size.
#[allow(clippy::large_enum_variant)]
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PublicKey {
    /// TPM_ALG_RSA.
    Rsa {
        /// TPMS_RSA_PARMS.
        parameters: RsaParms,
        /// The modulus (empty in a creation template).
        unique: PublicKeyRsa,
    },
    /// TPM_ALG_ECC.
    Ecc {
        /// TPMS_ECC_PARMS.
        parameters: EccParms,
        /// The public point (empty coordinates in a creation template).
        unique: EccPoint,
    },
    /// TPM_ALG_KEYEDHASH: HMAC keys, derivation parents and sealed data.
    KeyedHash {
        /// TPMS_KEYEDHASH_PARMS.
        parameters: KeyedHashParms,
        /// H_nameAlg(seedValue ‖ data), set by the TPM; it binds the public area to the
        /// private one. Empty in a template.
        unique: Digest,
    },
    /// TPM_ALG_SYMCIPHER: symmetric keys.
    SymCipher {
        /// TPMS_SYMCIPHER_PARMS.
        parameters: SymCipherParms,
        /// H_nameAlg(seedValue ‖ key), set by the TPM. Empty in a template.
        unique: Digest,
    },
}

impl PublicKey {
    /// The TPMI_ALG_PUBLIC type selector.
    pub fn object_type(&self) -> AlgId {
        match self {
            PublicKey::Rsa { .. } => AlgId::RSA,
            PublicKey::Ecc { .. } => AlgId::ECC,
            PublicKey::KeyedHash { .. } => AlgId::KEYEDHASH,
            PublicKey::SymCipher { .. } => AlgId::SYMCIPHER,
        }
    }

    /// The symmetric definition of a storage key (RSA/ECC parents, symmetric ciphers).
    pub fn symmetric(&self) -> Option<SymDefObject> {
        match self {
            PublicKey::Rsa { parameters, .. } => Some(parameters.symmetric),
            PublicKey::Ecc { parameters, .. } => Some(parameters.symmetric),
            PublicKey::SymCipher { parameters, .. } => Some(parameters.symmetric),
            PublicKey::KeyedHash { .. } => None,
        }
    }
}

/// TPMT_PUBLIC
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Public {
    /// The hash of the object's name (and of its authPolicy).
    pub name_alg: AlgId,
    /// TPMA_OBJECT: what the object may be used for and how it is authorized.
    pub object_attributes: ObjectAttributes,
    /// The policy digest that authorizes the object with a policy session, or empty.
    pub auth_policy: Digest,
    /// The type-specific parameters and unique field.
    pub key: PublicKey,
}

impl Public {
    /// The hash algorithm of the object's Name.
    pub fn name_alg(&self) -> AlgId {
        self.name_alg
    }

    /// The object type (TPMI_ALG_PUBLIC): TPM_ALG_RSA, ECC, KEYEDHASH or SYMCIPHER.
    pub fn object_type(&self) -> AlgId {
        self.key.object_type()
    }

    /// An RSA-2048 storage parent: restricted decrypt, AES-128-CFB, NULL scheme, nameAlg
    /// SHA-256, the attributes tpm2_createprimary uses by default (0x00030072), empty
    /// unique (the TPM fills in the modulus).
    pub fn rsa_2048_storage_parent() -> Self {
        Public {
            name_alg: AlgId::SHA256,
            object_attributes: ObjectAttributes::STORAGE_PARENT,
            auth_policy: Digest::empty(),
            key: PublicKey::Rsa {
                parameters: RsaParms {
                    symmetric: SymDefObject::AES_128_CFB,
                    scheme: RsaScheme::Null,
                    key_bits: 2048,
                    exponent: 0,
                },
                unique: PublicKeyRsa::empty(),
            },
        }
    }

    /// An ECC NIST-P256 storage parent with the same attributes and symmetric definition as
    /// [`Self::rsa_2048_storage_parent`], NULL scheme and KDF, empty unique point.
    pub fn ecc_p256_storage_parent() -> Self {
        Public {
            name_alg: AlgId::SHA256,
            object_attributes: ObjectAttributes::STORAGE_PARENT,
            auth_policy: Digest::empty(),
            key: PublicKey::Ecc {
                parameters: EccParms {
                    symmetric: SymDefObject::AES_128_CFB,
                    scheme: EccScheme::Null,
                    curve: EccCurve::NIST_P256,
                    kdf: KdfScheme::Null,
                },
                unique: EccPoint::default(),
            },
        }
    }

    /// An attestation key as `tpm2_createak -G ecc` makes it (for CreatePrimary under the
    /// endorsement hierarchy): restricted signing, fixedTPM|fixedParent|sensitiveDataOrigin|
    /// userWithAuth, ECDSA on NIST-P256 with SHA-256, SHA-256 names, empty unique point.
    pub fn ecc_p256_attestation_key() -> Self {
        Public {
            name_alg: AlgId::SHA256,
            object_attributes: ObjectAttributes::FIXED_TPM
                | ObjectAttributes::FIXED_PARENT
                | ObjectAttributes::SENSITIVE_DATA_ORIGIN
                | ObjectAttributes::USER_WITH_AUTH
                | ObjectAttributes::RESTRICTED
                | ObjectAttributes::SIGN_ENCRYPT,
            auth_policy: Digest::empty(),
            key: PublicKey::Ecc {
                parameters: EccParms {
                    symmetric: SymDefObject::Null,
                    scheme: EccScheme::Ecdsa {
                        hash: AlgId::SHA256,
                    },
                    curve: EccCurve::NIST_P256,
                    kdf: KdfScheme::Null,
                },
                unique: EccPoint::default(),
            },
        }
    }

    /// A sealed-data object (TPM2_Create with the secret in the sensitive area's data, read
    /// back with TPM2_Unseal): keyed-hash with the NULL scheme, fixedTPM|fixedParent|
    /// userWithAuth. No sensitiveDataOrigin (the caller supplies the data) and neither sign
    /// nor decrypt, as tpm2_create sets for sealing.
    pub fn sealed_data(name_alg: AlgId) -> Self {
        Public {
            name_alg,
            object_attributes: ObjectAttributes::FIXED_TPM
                | ObjectAttributes::FIXED_PARENT
                | ObjectAttributes::USER_WITH_AUTH,
            auth_policy: Digest::empty(),
            key: PublicKey::KeyedHash {
                parameters: KeyedHashParms {
                    scheme: KeyedHashScheme::Null,
                },
                unique: Digest::empty(),
            },
        }
    }

    /// An HMAC key hashing with `hash`: keyed-hash with the HMAC scheme, fixedTPM|
    /// fixedParent|sensitiveDataOrigin|userWithAuth|sign, as tpm2_create -G hmac makes.
    pub fn hmac_key(name_alg: AlgId, hash: AlgId) -> Self {
        Public {
            name_alg,
            object_attributes: ObjectAttributes::FIXED_TPM
                | ObjectAttributes::FIXED_PARENT
                | ObjectAttributes::SENSITIVE_DATA_ORIGIN
                | ObjectAttributes::USER_WITH_AUTH
                | ObjectAttributes::SIGN_ENCRYPT,
            auth_policy: Digest::empty(),
            key: PublicKey::KeyedHash {
                parameters: KeyedHashParms {
                    scheme: KeyedHashScheme::Hmac { hash },
                },
                unique: Digest::empty(),
            },
        }
    }
}

impl Marshal for Public {
    fn marshal(&self, w: &mut Writer<'_>) {
        self.object_type().marshal(w);
        self.name_alg.marshal(w);
        self.object_attributes.marshal(w);
        self.auth_policy.marshal(w);
        match &self.key {
            PublicKey::Rsa { parameters, unique } => {
                parameters.marshal(w);
                unique.marshal(w);
            }
            PublicKey::Ecc { parameters, unique } => {
                parameters.marshal(w);
                unique.marshal(w);
            }
            PublicKey::KeyedHash { parameters, unique } => {
                parameters.scheme.marshal(w);
                unique.marshal(w);
            }
            PublicKey::SymCipher { parameters, unique } => {
                parameters.symmetric.marshal(w);
                unique.marshal(w);
            }
        }
    }
}

impl Unmarshal for Public {
    fn unmarshal(r: &mut Reader<'_>) -> Result<Self, WireError> {
        let object_type = AlgId::unmarshal(r)?;
        // Reject an unknown type before reading further: nothing after it can be parsed.
        if !matches!(
            object_type,
            AlgId::RSA | AlgId::ECC | AlgId::KEYEDHASH | AlgId::SYMCIPHER
        ) {
            return Err(bad_selector("TPMT_PUBLIC type", object_type.0));
        }
        let name_alg = AlgId::unmarshal(r)?;
        let object_attributes = ObjectAttributes::unmarshal(r)?;
        let auth_policy = Digest::unmarshal(r)?;
        let key = match object_type {
            AlgId::RSA => PublicKey::Rsa {
                parameters: RsaParms::unmarshal(r)?,
                unique: PublicKeyRsa::unmarshal(r)?,
            },
            AlgId::ECC => PublicKey::Ecc {
                parameters: EccParms::unmarshal(r)?,
                unique: EccPoint::unmarshal(r)?,
            },
            AlgId::KEYEDHASH => PublicKey::KeyedHash {
                parameters: KeyedHashParms {
                    scheme: KeyedHashScheme::unmarshal(r)?,
                },
                unique: Digest::unmarshal(r)?,
            },
            _ => PublicKey::SymCipher {
                parameters: SymCipherParms {
                    symmetric: SymDefObject::unmarshal(r)?,
                },
                unique: Digest::unmarshal(r)?,
            },
        };
        Ok(Public {
            name_alg,
            object_attributes,
            auth_policy,
            key,
        })
    }
}

/// TPM2B_PUBLIC: a size-prefixed [`Public`]; the public area must fill the size exactly.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Tpm2bPublic(pub Public);

impl Marshal for Tpm2bPublic {
    const TPM2B: bool = true;

    fn marshal(&self, w: &mut Writer<'_>) {
        marshal_sized(w, |w| self.0.marshal(w))
    }
}

impl Unmarshal for Tpm2bPublic {
    const TPM2B: bool = true;

    fn unmarshal(r: &mut Reader<'_>) -> Result<Self, WireError> {
        Ok(Tpm2bPublic(unmarshal_sized(r)?))
    }
}

/// TPMS_SENSITIVE_CREATE: the object's auth value and (for sealed data or imported keys) its
/// secret data. Both are secrets: zeroized on drop, redacted in `Debug`.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct SensitiveCreate {
    /// The new object's auth value (USER role authorization).
    pub user_auth: Auth,
    /// The data to seal (a keyed-hash object with no scheme), or key material for some templates;
    /// empty otherwise.
    pub data: SensitiveData,
}

impl Marshal for SensitiveCreate {
    fn marshal(&self, w: &mut Writer<'_>) {
        self.user_auth.marshal(w);
        self.data.marshal(w);
    }
}

impl Unmarshal for SensitiveCreate {
    fn unmarshal(r: &mut Reader<'_>) -> Result<Self, WireError> {
        Ok(SensitiveCreate {
            user_auth: Auth::unmarshal(r)?,
            data: SensitiveData::unmarshal(r)?,
        })
    }
}

/// TPM2B_SENSITIVE_CREATE: a size-prefixed [`SensitiveCreate`].
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct Tpm2bSensitiveCreate(pub SensitiveCreate);

impl Marshal for Tpm2bSensitiveCreate {
    const TPM2B: bool = true;

    fn marshal(&self, w: &mut Writer<'_>) {
        marshal_sized(w, |w| self.0.marshal(w))
    }
}

impl Unmarshal for Tpm2bSensitiveCreate {
    const TPM2B: bool = true;

    fn unmarshal(r: &mut Reader<'_>) -> Result<Self, WireError> {
        Ok(Tpm2bSensitiveCreate(unmarshal_sized(r)?))
    }
}

/// TPM2B_PRIVATE_KEY_RSA: one prime of an RSA key (half the modulus).
pub type PrivateKeyRsa = Secret<{ MAX_RSA_KEY_BYTES / 2 }>;
/// An ECC private scalar (a TPM2B_ECC_PARAMETER that is secret).
pub type EccPrivateKey = Secret<MAX_ECC_KEY_BYTES>;
/// TPM2B_SYM_KEY (MAX_SYM_KEY_BYTES = 32: AES-256).
pub type SymKey = Secret<32>;
/// A secret TPM2B_DIGEST (an obfuscation or derivation seed).
pub type SeedValue = Secret<MAX_DIGEST_SIZE>;

/// TPMU_SENSITIVE_COMPOSITE, selected by the object type.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SensitiveComposite {
    /// An RSA key's first prime.
    Rsa(PrivateKeyRsa),
    /// An ECC private scalar.
    Ecc(EccPrivateKey),
    /// Keyed-hash objects: the HMAC key or the sealed data.
    Bits(SensitiveData),
    /// A symmetric key.
    Sym(SymKey),
}

impl SensitiveComposite {
    /// The object type this arm belongs to (TPMI_ALG_PUBLIC).
    pub fn object_type(&self) -> AlgId {
        match self {
            SensitiveComposite::Rsa(_) => AlgId::RSA,
            SensitiveComposite::Ecc(_) => AlgId::ECC,
            SensitiveComposite::Bits(_) => AlgId::KEYEDHASH,
            SensitiveComposite::Sym(_) => AlgId::SYMCIPHER,
        }
    }
}

/// TPMT_SENSITIVE: an object's private part in clear (TPM2_LoadExternal, TPM2_Import
/// duplication blobs). Every field is a secret: zeroized on drop, redacted in `Debug`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Sensitive {
    /// The object's auth value.
    pub auth_value: Auth,
    /// The seed for a storage or derivation parent (or an obfuscation value).
    pub seed_value: SeedValue,
    /// The private key material.
    pub sensitive: SensitiveComposite,
}

impl Marshal for Sensitive {
    fn marshal(&self, w: &mut Writer<'_>) {
        self.sensitive.object_type().marshal(w);
        self.auth_value.marshal(w);
        self.seed_value.marshal(w);
        match &self.sensitive {
            SensitiveComposite::Rsa(k) => k.marshal(w),
            SensitiveComposite::Ecc(k) => k.marshal(w),
            SensitiveComposite::Bits(k) => k.marshal(w),
            SensitiveComposite::Sym(k) => k.marshal(w),
        }
    }
}

impl Unmarshal for Sensitive {
    fn unmarshal(r: &mut Reader<'_>) -> Result<Self, WireError> {
        let sensitive_type = AlgId::unmarshal(r)?;
        if !matches!(
            sensitive_type,
            AlgId::RSA | AlgId::ECC | AlgId::KEYEDHASH | AlgId::SYMCIPHER
        ) {
            return Err(bad_selector(
                "TPMT_SENSITIVE sensitiveType",
                sensitive_type.0,
            ));
        }
        let auth_value = Auth::unmarshal(r)?;
        let seed_value = SeedValue::unmarshal(r)?;
        let sensitive = match sensitive_type {
            AlgId::RSA => SensitiveComposite::Rsa(Unmarshal::unmarshal(r)?),
            AlgId::ECC => SensitiveComposite::Ecc(Unmarshal::unmarshal(r)?),
            AlgId::KEYEDHASH => SensitiveComposite::Bits(Unmarshal::unmarshal(r)?),
            _ => SensitiveComposite::Sym(Unmarshal::unmarshal(r)?),
        };
        Ok(Sensitive {
            auth_value,
            seed_value,
            sensitive,
        })
    }
}

/// TPM2B_SENSITIVE: a size-prefixed [`Sensitive`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Tpm2bSensitive(pub Sensitive);

impl Marshal for Tpm2bSensitive {
    const TPM2B: bool = true;

    fn marshal(&self, w: &mut Writer<'_>) {
        marshal_sized(w, |w| self.0.marshal(w))
    }
}

impl Unmarshal for Tpm2bSensitive {
    const TPM2B: bool = true;

    fn unmarshal(r: &mut Reader<'_>) -> Result<Self, WireError> {
        Ok(Tpm2bSensitive(unmarshal_sized(r)?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rsa_storage_parent_encoding() {
        let bytes = Public::rsa_2048_storage_parent().to_bytes();
        #[rustfmt::skip]
        let expected = [
            0x00, 0x01, // TPM_ALG_RSA
            0x00, 0x0B, // nameAlg SHA-256
            0x00, 0x03, 0x00, 0x72, // attributes
            0x00, 0x00, // empty authPolicy
            0x00, 0x06, 0x00, 0x80, 0x00, 0x43, // AES-128-CFB
            0x00, 0x10, // NULL scheme
            0x08, 0x00, // 2048 bits
            0x00, 0x00, 0x00, 0x00, // default exponent
            0x00, 0x00, // empty modulus
        ];
        assert_eq!(bytes, expected);
        assert_eq!(
            Public::from_bytes(&bytes).unwrap(),
            Public::rsa_2048_storage_parent()
        );
    }

    #[test]
    fn templates_round_trip() {
        for p in [
            Public::ecc_p256_storage_parent(),
            Public::sealed_data(AlgId::SHA256),
            Public::hmac_key(AlgId::SHA256, AlgId::SHA256),
        ] {
            assert_eq!(Public::from_bytes(&p.to_bytes()).unwrap(), p);
            let sized = Tpm2bPublic(p.clone());
            assert_eq!(Tpm2bPublic::from_bytes(&sized.to_bytes()).unwrap(), sized);
        }
        assert_eq!(
            Public::sealed_data(AlgId::SHA256).object_attributes.0,
            0x0000_0052
        );
        assert_eq!(
            Public::hmac_key(AlgId::SHA256, AlgId::SHA256)
                .object_attributes
                .0,
            0x0004_0072
        );
    }

    fn hex(s: &str) -> Vec<u8> {
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect()
    }

    /// TPM2B_PUBLIC files written by tpm2-tools 5.4 against swtpm 0.7.1: `tpm2_createprimary
    /// -G rsa` / `-G ecc` (then tpm2_readpublic -o), `tpm2_create -i-` (sealing) and
    /// `tpm2_create -G hmac`.
    const TOOLS_RSA_PRIMARY: &str = "011a0001000b00030072000000060080004300100800000000000100bc05ad55b4e02facde19973fc86843ed800ce808b7e520a158e1d42382e34ba631060986788b66066fafa4220fa6fc556fcf9db387b78cc7df723a313f52075de2ff38cad6fddd0bb287692a8e93434168614f231b6b42f5281f3a7f16eaba4da011afd60caa7a1af1d3a1c500c8992f86830c585598d171b959d23595ea8b16f8a01eae8be6da5a01f49d438372d021d2c991ad32828fd151aac1d64227e5237ab9c14732a0f6c3037a3c6992e7b41258226ba53f369101fca3f6cad3f7fd40b0a8d11638340e54a85a06998235de55e3ba4d7d2e8d7c7abe9d86a6547dc86ef92e9d34c16389daa3741613c91d91098df481957c95408c2ad5e88e49deb4dd";
    const TOOLS_ECC_PRIMARY: &str = "005a0023000b0003007200000006008000430010000300100020cab009b8fcca86cee0b4cc9d4323c14f164e77274d8a823a60cac5fbec847196002037a22799e85eb377e7ab0a1accb3f42effe6c15701cee99bce9b9c2222d929cc";
    const TOOLS_SEAL: &str = "002e0008000b00000052000000100020cf981fc207f8517b6d898dbc2e973ba8e014a2c042a472d2949f69d25742c53d";
    const TOOLS_HMAC: &str = "00300008000b0004007200000005000b0020ddd33257f2ae68246165e812e2ed4dea68aca6032addc5eb8d79ac96216a86e8";

    /// Our templates equal what tpm2-tools asked the TPM for, once the TPM-filled unique
    /// field is emptied; and the TPM's encodings re-marshal byte for byte.
    #[test]
    fn templates_match_tpm2_tools_objects() {
        for (recorded, template) in [
            (TOOLS_RSA_PRIMARY, Public::rsa_2048_storage_parent()),
            (TOOLS_ECC_PRIMARY, Public::ecc_p256_storage_parent()),
            (TOOLS_SEAL, Public::sealed_data(AlgId::SHA256)),
            (TOOLS_HMAC, Public::hmac_key(AlgId::SHA256, AlgId::SHA256)),
        ] {
            let bytes = hex(recorded);
            let Tpm2bPublic(mut public) = Tpm2bPublic::from_bytes(&bytes).unwrap();
            assert_eq!(Tpm2bPublic(public.clone()).to_bytes(), bytes);
            match &mut public.key {
                PublicKey::Rsa { unique, .. } => {
                    assert_eq!(unique.len(), 256);
                    *unique = PublicKeyRsa::empty();
                }
                PublicKey::Ecc { unique, .. } => {
                    assert_eq!((unique.x.len(), unique.y.len()), (32, 32));
                    *unique = EccPoint::default();
                }
                PublicKey::KeyedHash { unique, .. } | PublicKey::SymCipher { unique, .. } => {
                    assert_eq!(unique.len(), 32);
                    *unique = Digest::empty();
                }
            }
            assert_eq!(public, template);
        }
    }

    #[test]
    fn tpm2b_public_size_must_match_the_area() {
        let inner = Public::rsa_2048_storage_parent().to_bytes();
        // Size one larger than the area: a stray byte is left inside the TPM2B.
        let mut long = ((inner.len() + 1) as u16).to_be_bytes().to_vec();
        long.extend(&inner);
        long.push(0);
        assert!(matches!(
            Tpm2bPublic::from_bytes(&long),
            Err(WireError::SizeMismatch { .. })
        ));
        // Size one smaller: the area runs past its size.
        let mut short = ((inner.len() - 1) as u16).to_be_bytes().to_vec();
        short.extend(&inner);
        assert!(Tpm2bPublic::from_bytes(&short).is_err());
    }

    #[test]
    fn unknown_object_type_is_an_error() {
        assert!(matches!(
            Public::from_bytes(&[0x00, 0x06, 0x00, 0x0B]),
            Err(WireError::BadValue { value: 6, .. })
        ));
    }

    /// `tpm2_createprimary -G ecc -l sha256:0,1,7 --creation-data FILE -q 0102030405` against
    /// swtpm 0.7.1: a TPM2B_CREATION_DATA.
    const TOOLS_CREATION_DATA: &str = "004200000001000b0383000000202ea9ab9198d1638007400cd2c3bef1cc745b864b76011a0e1bc52180ac6452d401001000044000000100044000000100050102030405";

    #[test]
    fn creation_data_from_tpm2_tools() {
        let bytes = hex(TOOLS_CREATION_DATA);
        let opaque = CreationData::from_bytes(&bytes).unwrap();
        let info = CreationDataInfo::from_bytes(opaque.as_bytes()).unwrap();
        assert_eq!(info.pcr_select.len(), 1);
        assert_eq!(info.pcr_select[0].hash, AlgId::SHA256);
        assert!(info.pcr_select[0].select.pcrs().eq([0, 1, 7]));
        assert_eq!(info.pcr_digest.len(), 32);
        assert_eq!(info.locality, LocalityAttributes::ZERO);
        // A primary's parent is its hierarchy: NULL nameAlg, the handle as its name.
        assert_eq!(info.parent_name_alg, AlgId::NULL);
        assert_eq!(info.parent_name.as_bytes(), [0x40, 0, 0, 1]);
        assert_eq!(info.parent_qualified_name, info.parent_name);
        assert_eq!(info.outside_info.as_bytes(), [1, 2, 3, 4, 5]);
        assert_eq!(info.to_bytes(), opaque.as_bytes());
    }

    #[test]
    fn sensitive_layout_and_redaction() {
        let s = Sensitive {
            auth_value: Auth::new(b"pw").unwrap(),
            seed_value: SeedValue::empty(),
            sensitive: SensitiveComposite::Bits(SensitiveData::new(b"hmac-key-bytes").unwrap()),
        };
        let bytes = s.to_bytes();
        assert_eq!(
            &bytes[..8],
            &[0x00, 0x08, 0x00, 0x02, b'p', b'w', 0x00, 0x00]
        );
        assert_eq!(Sensitive::from_bytes(&bytes).unwrap(), s);
        assert!(!format!("{s:?}").contains("hmac-key"));
        assert!(Sensitive::from_bytes(&[0x00, 0x06, 0, 0, 0, 0, 0, 0]).is_err());
    }

    #[test]
    fn sensitive_create_keeps_secrets_out_of_debug() {
        let s = Tpm2bSensitiveCreate(SensitiveCreate {
            user_auth: Auth::new(b"pa55word").unwrap(),
            data: SensitiveData::new(b"top-secret").unwrap(),
        });
        let dbg = format!("{s:?}");
        assert!(!dbg.contains("pa55word") && !dbg.contains("top-secret"));
        assert_eq!(Tpm2bSensitiveCreate::from_bytes(&s.to_bytes()).unwrap(), s);
    }
}
