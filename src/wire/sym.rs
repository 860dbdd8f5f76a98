//! Symmetric definitions (TPMT_SYM_DEF, TPMT_SYM_DEF_OBJECT) and the algorithm schemes
//! (TPMT_RSA_SCHEME, TPMT_ECC_SCHEME, TPMT_KDF_SCHEME, TPMT_KEYEDHASH_SCHEME, TPMT_SIG_SCHEME).
//! Each is an algorithm selector followed by a union whose arm the selector picks; a selector
//! this library does not know is an error, since the bytes after it cannot be interpreted.

use super::structures::bad_selector;
use super::{AlgId, Marshal, Reader, Unmarshal, WireError, Writer};

/// A block cipher with its key size and mode: the non-NULL, non-XOR arm of a symmetric
/// definition.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct SymCipher {
    /// TPM_ALG_AES, TPM_ALG_SM4, TPM_ALG_CAMELLIA or TPM_ALG_TDES.
    pub algorithm: AlgId,
    /// Key size in bits (128, 192 or 256 for AES).
    pub key_bits: u16,
    /// The block-cipher mode (TPM_ALG_CFB for parameter encryption and storage keys).
    pub mode: AlgId,
}

impl SymCipher {
    /// AES-128 in CFB mode: what parameter encryption and default storage parents use.
    pub const AES_128_CFB: SymCipher = SymCipher {
        algorithm: AlgId::AES,
        key_bits: 128,
        mode: AlgId::CFB,
    };

    /// AES-256 in CFB mode.
    pub const AES_256_CFB: SymCipher = SymCipher {
        algorithm: AlgId::AES,
        key_bits: 256,
        mode: AlgId::CFB,
    };

    fn is_block_cipher(alg: AlgId) -> bool {
        matches!(alg, AlgId::AES | AlgId::SM4 | AlgId::CAMELLIA | AlgId::TDES)
    }

    fn marshal_after_alg(&self, w: &mut Writer<'_>) {
        w.u16(self.key_bits);
        self.mode.marshal(w);
    }

    fn unmarshal_after_alg(algorithm: AlgId, r: &mut Reader<'_>) -> Result<Self, WireError> {
        Ok(SymCipher {
            algorithm,
            key_bits: r.u16()?,
            mode: AlgId::unmarshal(r)?,
        })
    }
}

/// TPMT_SYM_DEF: the symmetric algorithm of a session (parameter encryption) or of
/// TPM2_EncryptDecrypt-style commands. The session engine's own choice,
/// [`Symmetric`](crate::session::Symmetric), is the subset it implements and converts to and
/// from this type.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum SymDef {
    /// TPM_ALG_NULL: no key bits, no mode.
    Null,
    /// TPM_ALG_XOR obfuscation: the key-bits slot holds a hash algorithm and there is no mode.
    Xor {
        /// The hash algorithm of the XOR obfuscation's KDFa.
        hash: AlgId,
    },
    /// A block cipher with its key size and mode.
    Cipher(SymCipher),
}

impl SymDef {
    /// AES-128 in CFB mode: the usual parameter-encryption algorithm.
    pub const AES_128_CFB: SymDef = SymDef::Cipher(SymCipher::AES_128_CFB);

    /// The selector (TPMI_ALG_SYM): TPM_ALG_NULL, TPM_ALG_XOR or the cipher.
    pub fn algorithm(&self) -> AlgId {
        match self {
            SymDef::Null => AlgId::NULL,
            SymDef::Xor { .. } => AlgId::XOR,
            SymDef::Cipher(c) => c.algorithm,
        }
    }
}

impl Marshal for SymDef {
    fn marshal(&self, w: &mut Writer<'_>) {
        self.algorithm().marshal(w);
        match self {
            SymDef::Null => {}
            SymDef::Xor { hash } => hash.marshal(w),
            SymDef::Cipher(c) => c.marshal_after_alg(w),
        }
    }
}

impl Unmarshal for SymDef {
    fn unmarshal(r: &mut Reader<'_>) -> Result<Self, WireError> {
        match AlgId::unmarshal(r)? {
            AlgId::NULL => Ok(SymDef::Null),
            AlgId::XOR => Ok(SymDef::Xor {
                hash: AlgId::unmarshal(r)?,
            }),
            alg if SymCipher::is_block_cipher(alg) => {
                Ok(SymDef::Cipher(SymCipher::unmarshal_after_alg(alg, r)?))
            }
            alg => Err(bad_selector("TPMT_SYM_DEF algorithm", alg.0)),
        }
    }
}

/// TPMT_SYM_DEF_OBJECT: the symmetric algorithm of an object (a storage parent's inner
/// wrapping, a symmetric key). XOR is not allowed here.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum SymDefObject {
    /// TPM_ALG_NULL: no symmetric algorithm (not a storage key).
    Null,
    /// A block cipher with its key size and mode.
    Cipher(SymCipher),
}

impl SymDefObject {
    /// AES-128 in CFB mode: what storage parents normally use.
    pub const AES_128_CFB: SymDefObject = SymDefObject::Cipher(SymCipher::AES_128_CFB);

    /// The selector (TPMI_ALG_SYM_OBJECT): TPM_ALG_NULL or the cipher.
    pub fn algorithm(&self) -> AlgId {
        match self {
            SymDefObject::Null => AlgId::NULL,
            SymDefObject::Cipher(c) => c.algorithm,
        }
    }
}

impl Marshal for SymDefObject {
    fn marshal(&self, w: &mut Writer<'_>) {
        self.algorithm().marshal(w);
        if let SymDefObject::Cipher(c) = self {
            c.marshal_after_alg(w);
        }
    }
}

impl Unmarshal for SymDefObject {
    fn unmarshal(r: &mut Reader<'_>) -> Result<Self, WireError> {
        match AlgId::unmarshal(r)? {
            AlgId::NULL => Ok(SymDefObject::Null),
            alg if SymCipher::is_block_cipher(alg) => Ok(SymDefObject::Cipher(
                SymCipher::unmarshal_after_alg(alg, r)?,
            )),
            alg => Err(bad_selector("TPMT_SYM_DEF_OBJECT algorithm", alg.0)),
        }
    }
}

/// Declares a scheme enum: a selector algorithm, then per arm either nothing, a hash
/// algorithm (TPMS_SCHEME_HASH), or (ECDAA) a hash and a u16 commit count.
macro_rules! scheme_enum {
    (
        $(#[$m:meta])* $name:ident, $what:literal {
            empty { $($(#[$em:meta])* $empty:ident = $ealg:ident,)* }
            hash { $($(#[$hm:meta])* $hashed:ident = $halg:ident,)* }
            ecdaa { $($(#[$dm:meta])* $daa:ident = $dalg:ident,)* }
        }
    ) => {
        $(#[$m])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        pub enum $name {
            $(
                #[doc = concat!("TPM_ALG_", stringify!($ealg), ".")]
                $(#[$em])*
                $empty,
            )*
            $(
                #[doc = concat!("TPM_ALG_", stringify!($halg), ".")]
                $(#[$hm])*
                $hashed {
                    /// The scheme's hash algorithm (TPMS_SCHEME_HASH).
                    hash: AlgId,
                },
            )*
            $(
                #[doc = concat!("TPM_ALG_", stringify!($dalg), ".")]
                $(#[$dm])*
                $daa {
                    /// The scheme's hash algorithm.
                    hash: AlgId,
                    /// The TPM2_Commit counter value to use (TPMS_SCHEME_ECDAA).
                    count: u16,
                },
            )*
        }

        impl $name {
            /// The selector algorithm.
            pub fn scheme(&self) -> AlgId {
                match self {
                    $($name::$empty => AlgId::$ealg,)*
                    $($name::$hashed { .. } => AlgId::$halg,)*
                    $($name::$daa { .. } => AlgId::$dalg,)*
                }
            }

            /// The scheme's hash algorithm, if it has one.
            pub fn hash(&self) -> Option<AlgId> {
                match self {
                    $($name::$empty => None,)*
                    $($name::$hashed { hash } => Some(*hash),)*
                    $($name::$daa { hash, .. } => Some(*hash),)*
                }
            }
        }

        impl Marshal for $name {
            fn marshal(&self, w: &mut Writer<'_>) {
                self.scheme().marshal(w);
                match self {
                    $($name::$empty => {})*
                    $($name::$hashed { hash } => hash.marshal(w),)*
                    $($name::$daa { hash, count } => {
                        hash.marshal(w);
                        w.u16(*count);
                    })*
                }
            }
        }

        impl Unmarshal for $name {
            fn unmarshal(r: &mut Reader<'_>) -> Result<Self, WireError> {
                let alg = AlgId::unmarshal(r)?;
                $(if alg == AlgId::$ealg {
                    return Ok($name::$empty);
                })*
                $(if alg == AlgId::$halg {
                    return Ok($name::$hashed { hash: AlgId::unmarshal(r)? });
                })*
                $(if alg == AlgId::$dalg {
                    let hash = AlgId::unmarshal(r)?;
                    return Ok($name::$daa { hash, count: r.u16()? });
                })*
                Err(bad_selector($what, alg.0))
            }
        }
    };
}

scheme_enum! {
    /// TPMT_RSA_SCHEME (as used in TPMS_RSA_PARMS).
    RsaScheme, "TPMT_RSA_SCHEME scheme" {
        empty {
            Null = NULL,
            RsaEs = RSAES,
        }
        hash {
            RsaSsa = RSASSA,
            RsaPss = RSAPSS,
            Oaep = OAEP,
        }
        ecdaa {}
    }
}

scheme_enum! {
    /// TPMT_ECC_SCHEME (as used in TPMS_ECC_PARMS).
    EccScheme, "TPMT_ECC_SCHEME scheme" {
        empty {
            Null = NULL,
        }
        hash {
            Ecdsa = ECDSA,
            Ecdh = ECDH,
            Sm2 = SM2,
            EcSchnorr = ECSCHNORR,
            EcMqv = ECMQV,
        }
        ecdaa {
            EcDaa = ECDAA,
        }
    }
}

scheme_enum! {
    /// TPMT_KDF_SCHEME
    KdfScheme, "TPMT_KDF_SCHEME scheme" {
        empty {
            Null = NULL,
        }
        hash {
            Mgf1 = MGF1,
            Kdf1Sp800_56a = KDF1_SP800_56A,
            Kdf2 = KDF2,
            Kdf1Sp800_108 = KDF1_SP800_108,
        }
        ecdaa {}
    }
}

scheme_enum! {
    /// TPMT_SIG_SCHEME: the signing scheme a command asks for (TPM2_Sign, TPM2_Quote, ...).
    SigScheme, "TPMT_SIG_SCHEME scheme" {
        empty {
            Null = NULL,
        }
        hash {
            RsaSsa = RSASSA,
            RsaPss = RSAPSS,
            Ecdsa = ECDSA,
            Sm2 = SM2,
            EcSchnorr = ECSCHNORR,
            Hmac = HMAC,
        }
        ecdaa {
            EcDaa = ECDAA,
        }
    }
}

/// TPMT_KEYEDHASH_SCHEME: NULL (sealed data), HMAC (an HMAC key) or XOR (an obfuscation key).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum KeyedHashScheme {
    /// TPM_ALG_NULL: no scheme; a keyed-hash object with it holds sealed data.
    Null,
    /// TPM_ALG_HMAC: an HMAC key.
    Hmac {
        /// The HMAC's hash algorithm.
        hash: AlgId,
    },
    /// TPMS_SCHEME_XOR: a hash and a KDF (TPMI_ALG_KDF).
    Xor {
        /// The hash the KDF uses.
        hash: AlgId,
        /// The KDF (TPM_ALG_KDF1_SP800_108 in practice).
        kdf: AlgId,
    },
}

impl KeyedHashScheme {
    /// The selector (TPMI_ALG_KEYEDHASH_SCHEME).
    pub fn scheme(&self) -> AlgId {
        match self {
            KeyedHashScheme::Null => AlgId::NULL,
            KeyedHashScheme::Hmac { .. } => AlgId::HMAC,
            KeyedHashScheme::Xor { .. } => AlgId::XOR,
        }
    }
}

impl Marshal for KeyedHashScheme {
    fn marshal(&self, w: &mut Writer<'_>) {
        self.scheme().marshal(w);
        match self {
            KeyedHashScheme::Null => {}
            KeyedHashScheme::Hmac { hash } => hash.marshal(w),
            KeyedHashScheme::Xor { hash, kdf } => {
                hash.marshal(w);
                kdf.marshal(w);
            }
        }
    }
}

impl Unmarshal for KeyedHashScheme {
    fn unmarshal(r: &mut Reader<'_>) -> Result<Self, WireError> {
        match AlgId::unmarshal(r)? {
            AlgId::NULL => Ok(KeyedHashScheme::Null),
            AlgId::HMAC => Ok(KeyedHashScheme::Hmac {
                hash: AlgId::unmarshal(r)?,
            }),
            AlgId::XOR => Ok(KeyedHashScheme::Xor {
                hash: AlgId::unmarshal(r)?,
                kdf: AlgId::unmarshal(r)?,
            }),
            alg => Err(bad_selector("TPMT_KEYEDHASH_SCHEME scheme", alg.0)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn xor_sym_def_has_a_hash_and_no_mode() {
        let xor = SymDef::Xor {
            hash: AlgId::SHA256,
        };
        assert_eq!(xor.to_bytes(), [0x00, 0x0A, 0x00, 0x0B]);
        assert_eq!(SymDef::from_bytes(&[0x00, 0x0A, 0x00, 0x0B]).unwrap(), xor);
        // A trailing "mode" would be left over.
        assert!(SymDef::from_bytes(&[0x00, 0x0A, 0x00, 0x0B, 0x00, 0x43]).is_err());
    }

    #[test]
    fn null_sym_def_and_scheme_are_just_the_selector() {
        assert_eq!(SymDef::Null.to_bytes(), [0x00, 0x10]);
        assert_eq!(SymDefObject::Null.to_bytes(), [0x00, 0x10]);
        assert_eq!(RsaScheme::Null.to_bytes(), [0x00, 0x10]);
        assert_eq!(
            KeyedHashScheme::from_bytes(&[0x00, 0x10]).unwrap(),
            KeyedHashScheme::Null
        );
        assert_eq!(
            EccScheme::from_bytes(&[0x00, 0x10]).unwrap(),
            EccScheme::Null
        );
    }

    #[test]
    fn aes_cfb_layout_and_unknown_selectors() {
        assert_eq!(
            SymDef::AES_128_CFB.to_bytes(),
            [0x00, 0x06, 0x00, 0x80, 0x00, 0x43]
        );
        // XOR is not a valid object symmetric algorithm; 0x0099 is no algorithm at all.
        assert!(SymDefObject::from_bytes(&[0x00, 0x0A, 0x00, 0x0B]).is_err());
        assert!(matches!(
            SymDef::from_bytes(&[0x00, 0x99]),
            Err(WireError::BadValue { value: 0x99, .. })
        ));
        assert!(RsaScheme::from_bytes(&[0x00, 0x18, 0x00, 0x0B]).is_err());
        let daa = EccScheme::EcDaa {
            hash: AlgId::SHA256,
            count: 7,
        };
        assert_eq!(daa.to_bytes(), [0x00, 0x1A, 0x00, 0x0B, 0x00, 0x07]);
        assert_eq!(EccScheme::from_bytes(&daa.to_bytes()).unwrap(), daa);
    }
}
