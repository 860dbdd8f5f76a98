//! Parameter types of the symmetric, asymmetric, clock, self-test and object-creation commands
//! (TPM 2.0 Part 2): TPM2B_IV, TPM2B_TEMPLATE, TPMT_PUBLIC_PARMS, TPML_ALG, TPM_CLOCK_ADJUST,
//! and the TPM2B_MAX_BUFFER, TPM2B_PUBLIC_KEY_RSA and TPM2B_ECC_POINT forms that carry secrets
//! (plaintext, ECDH shared points), which are zeroized on drop and redacted in `Debug`.

use core::fmt;

use super::structures::{bad_selector, list_entry, marshal_sized, TpmList};
use super::{
    AlgId, EccParms, KeyedHashParms, KeyedHashScheme, Marshal, Public, PublicKey, Reader, RsaParms,
    Secret, SymCipherParms, SymDefObject, Tpm2b, Unmarshal, WireError, Writer, MAX_ECC_KEY_BYTES,
    MAX_NV_BUFFER_SIZE, MAX_PUBLIC_SIZE, MAX_RSA_KEY_BYTES,
};

/// MAX_SYM_BLOCK_SIZE: the largest block of a supported block cipher (AES, 16 bytes).
pub const MAX_SYM_BLOCK_SIZE: usize = 16;
/// MAX_ALG_LIST_SIZE: the most algorithms in a TPML_ALG.
pub const MAX_ALG_LIST_SIZE: usize = 64;

/// TPM2B_IV: the initial value of a symmetric mode (TPM2_EncryptDecrypt), one cipher block
/// at most; the TPM returns the chaining value to continue with.
pub type Iv = Tpm2b<MAX_SYM_BLOCK_SIZE>;

/// A TPM2B_MAX_BUFFER that carries a secret: the plaintext going into or coming out of
/// TPM2_EncryptDecrypt(2). Zeroized on drop, redacted in `Debug`.
pub type SecretBuffer = Secret<MAX_NV_BUFFER_SIZE>;

/// A TPM2B_PUBLIC_KEY_RSA that carries a plaintext message (TPM2_RSA_Encrypt's input,
/// TPM2_RSA_Decrypt's output). Zeroized on drop, redacted in `Debug`.
pub type RsaMessage = Secret<MAX_RSA_KEY_BYTES>;

/// TPML_ALG: a list of algorithm ids (TPM2_IncrementalSelfTest).
pub type AlgList = TpmList<AlgId, MAX_ALG_LIST_SIZE>;
list_entry!(AlgId => "TPML_ALG");

/// A TPM2B_ECC_POINT that carries an ECDH shared point Z (TPM2_ECDH_KeyGen's `zPoint`,
/// TPM2_ECDH_ZGen's `outPoint`): its x coordinate is the shared secret. Both coordinates are
/// zeroized on drop, compared in constant time and redacted in `Debug`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct EccSharedPoint {
    /// The x coordinate, big-endian: the shared secret Z of SP 800-56A.
    pub x: Secret<MAX_ECC_KEY_BYTES>,
    /// The y coordinate, big-endian.
    pub y: Secret<MAX_ECC_KEY_BYTES>,
}

impl Marshal for EccSharedPoint {
    const TPM2B: bool = true;

    fn marshal(&self, w: &mut Writer<'_>) {
        marshal_sized(w, |w| {
            self.x.marshal(w);
            self.y.marshal(w);
        })
    }
}

impl Unmarshal for EccSharedPoint {
    const TPM2B: bool = true;

    fn unmarshal(r: &mut Reader<'_>) -> Result<Self, WireError> {
        let declared = usize::from(r.u16()?);
        let mut inner = r.sub(declared)?;
        let point = EccSharedPoint {
            x: Secret::unmarshal(&mut inner)?,
            y: Secret::unmarshal(&mut inner)?,
        };
        if !inner.is_empty() {
            return Err(WireError::SizeMismatch {
                declared,
                actual: declared - inner.remaining(),
            });
        }
        Ok(point)
    }
}

/// TPMT_PUBLIC_PARMS: an object type and its parameters without the rest of a public area, as
/// TPM2_TestParms asks whether the TPM supports them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum PublicParms {
    /// TPM_ALG_RSA.
    Rsa(RsaParms),
    /// TPM_ALG_ECC.
    Ecc(EccParms),
    /// TPM_ALG_KEYEDHASH.
    KeyedHash(KeyedHashParms),
    /// TPM_ALG_SYMCIPHER.
    SymCipher(SymCipherParms),
}

impl PublicParms {
    /// The TPMI_ALG_PUBLIC type selector.
    pub fn object_type(&self) -> AlgId {
        match self {
            PublicParms::Rsa(_) => AlgId::RSA,
            PublicParms::Ecc(_) => AlgId::ECC,
            PublicParms::KeyedHash(_) => AlgId::KEYEDHASH,
            PublicParms::SymCipher(_) => AlgId::SYMCIPHER,
        }
    }
}

impl From<&PublicKey> for PublicParms {
    /// The parameters of a public area (or template), without its unique field.
    fn from(key: &PublicKey) -> Self {
        match key {
            PublicKey::Rsa { parameters, .. } => PublicParms::Rsa(*parameters),
            PublicKey::Ecc { parameters, .. } => PublicParms::Ecc(*parameters),
            PublicKey::KeyedHash { parameters, .. } => PublicParms::KeyedHash(*parameters),
            PublicKey::SymCipher { parameters, .. } => PublicParms::SymCipher(*parameters),
        }
    }
}

impl Marshal for PublicParms {
    fn marshal(&self, w: &mut Writer<'_>) {
        self.object_type().marshal(w);
        match self {
            PublicParms::Rsa(p) => p.marshal(w),
            PublicParms::Ecc(p) => p.marshal(w),
            PublicParms::KeyedHash(p) => p.scheme.marshal(w),
            PublicParms::SymCipher(p) => p.symmetric.marshal(w),
        }
    }
}

impl Unmarshal for PublicParms {
    fn unmarshal(r: &mut Reader<'_>) -> Result<Self, WireError> {
        Ok(match AlgId::unmarshal(r)? {
            AlgId::RSA => PublicParms::Rsa(RsaParms::unmarshal(r)?),
            AlgId::ECC => PublicParms::Ecc(EccParms::unmarshal(r)?),
            AlgId::KEYEDHASH => PublicParms::KeyedHash(KeyedHashParms {
                scheme: KeyedHashScheme::unmarshal(r)?,
            }),
            AlgId::SYMCIPHER => PublicParms::SymCipher(SymCipherParms {
                symmetric: SymDefObject::unmarshal(r)?,
            }),
            other => return Err(bad_selector("TPMT_PUBLIC_PARMS type", other.0)),
        })
    }
}

/// TPM_CLOCK_ADJUST (an INT8): how TPM2_ClockRateAdjust changes the rate of the TPM's clock.
/// Values outside -3..=3 are kept as they are; the TPM refuses them.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct ClockAdjust(pub i8);

impl ClockAdjust {
    /// `TPM_CLOCK_COARSE_SLOWER` (-3).
    pub const COARSE_SLOWER: ClockAdjust = ClockAdjust(-3);
    /// `TPM_CLOCK_MEDIUM_SLOWER` (-2).
    pub const MEDIUM_SLOWER: ClockAdjust = ClockAdjust(-2);
    /// `TPM_CLOCK_FINE_SLOWER` (-1).
    pub const FINE_SLOWER: ClockAdjust = ClockAdjust(-1);
    /// `TPM_CLOCK_NO_CHANGE` (0).
    pub const NO_CHANGE: ClockAdjust = ClockAdjust(0);
    /// `TPM_CLOCK_FINE_FASTER` (1).
    pub const FINE_FASTER: ClockAdjust = ClockAdjust(1);
    /// `TPM_CLOCK_MEDIUM_FASTER` (2).
    pub const MEDIUM_FASTER: ClockAdjust = ClockAdjust(2);
    /// `TPM_CLOCK_COARSE_FASTER` (3).
    pub const COARSE_FASTER: ClockAdjust = ClockAdjust(3);

    /// The specification's name for this value, if it is one.
    pub fn name(self) -> Option<&'static str> {
        Some(match self.0 {
            -3 => "TPM_CLOCK_COARSE_SLOWER",
            -2 => "TPM_CLOCK_MEDIUM_SLOWER",
            -1 => "TPM_CLOCK_FINE_SLOWER",
            0 => "TPM_CLOCK_NO_CHANGE",
            1 => "TPM_CLOCK_FINE_FASTER",
            2 => "TPM_CLOCK_MEDIUM_FASTER",
            3 => "TPM_CLOCK_COARSE_FASTER",
            _ => return None,
        })
    }
}

impl fmt::Debug for ClockAdjust {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl fmt::Display for ClockAdjust {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.name() {
            Some(n) => f.write_str(n),
            None => write!(f, "{}", self.0),
        }
    }
}

impl Marshal for ClockAdjust {
    fn marshal(&self, w: &mut Writer<'_>) {
        // An INT8 is its two's-complement byte.
        w.u8(self.0 as u8)
    }
}

impl Unmarshal for ClockAdjust {
    fn unmarshal(r: &mut Reader<'_>) -> Result<Self, WireError> {
        Ok(ClockAdjust(r.u8()? as i8))
    }
}

/// TPM2B_TEMPLATE: the public template of TPM2_CreateLoaded, a marshalled TPMT_PUBLIC in a
/// sized buffer. It is opaque rather than a [`Public`] because a template for a derived
/// object carries a TPMS_DERIVE (label and context) where a public area has its unique field.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Template(Tpm2b<MAX_PUBLIC_SIZE>);

impl Template {
    /// The template for an ordinary or primary object: `public`, marshalled. Fails with
    /// [`WireError::TooLarge`] if it does not fit (no public area this crate can build is
    /// that large).
    pub fn from_public(public: &Public) -> Result<Self, WireError> {
        Ok(Template(Tpm2b::new(&public.to_bytes())?))
    }

    /// A template given as marshalled bytes (e.g. with a TPMS_DERIVE in place of the unique
    /// field); fails with [`WireError::TooLarge`] beyond `MAX_PUBLIC_SIZE` bytes.
    pub fn from_raw(bytes: &[u8]) -> Result<Self, WireError> {
        Ok(Template(Tpm2b::new(bytes)?))
    }

    /// The marshalled template (without the size field).
    pub fn as_bytes(&self) -> &[u8] {
        self.0.as_bytes()
    }

    /// The template read as a public area: fails unless it is exactly one TPMT_PUBLIC.
    pub fn public(&self) -> Result<Public, WireError> {
        Public::from_bytes(self.as_bytes())
    }
}

impl Marshal for Template {
    const TPM2B: bool = true;

    fn marshal(&self, w: &mut Writer<'_>) {
        self.0.marshal(w)
    }
}

impl Unmarshal for Template {
    const TPM2B: bool = true;

    fn unmarshal(r: &mut Reader<'_>) -> Result<Self, WireError> {
        Ok(Template(Tpm2b::unmarshal(r)?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::{EccCurve, EccScheme, KdfScheme, RsaScheme, SymCipher};

    #[test]
    fn public_parms_layout_matches_the_public_area() {
        let public = Public::rsa_2048_storage_parent();
        let parms = PublicParms::from(&public.key);
        let bytes = parms.to_bytes();
        // TPMT_PUBLIC_PARMS is the type, then what follows the auth policy in TPMT_PUBLIC.
        let area = public.to_bytes();
        assert_eq!(&bytes[..2], &area[..2]);
        assert_eq!(&bytes[2..], &area[10..area.len() - 2]);
        assert_eq!(PublicParms::from_bytes(&bytes).unwrap(), parms);
        let ecc = PublicParms::Ecc(EccParms {
            symmetric: SymDefObject::Null,
            scheme: EccScheme::Ecdh {
                hash: AlgId::SHA256,
            },
            curve: EccCurve::NIST_P256,
            kdf: KdfScheme::Null,
        });
        assert_eq!(
            ecc.to_bytes(),
            [0x00, 0x23, 0x00, 0x10, 0x00, 0x19, 0x00, 0x0B, 0x00, 0x03, 0x00, 0x10]
        );
        let sym = PublicParms::SymCipher(SymCipherParms {
            symmetric: SymDefObject::Cipher(SymCipher::AES_128_CFB),
        });
        assert_eq!(
            sym.to_bytes(),
            [0x00, 0x25, 0x00, 0x06, 0x00, 0x80, 0x00, 0x43]
        );
        let rsa = PublicParms::Rsa(RsaParms {
            symmetric: SymDefObject::Null,
            scheme: RsaScheme::Null,
            key_bits: 1024,
            exponent: 0,
        });
        assert_eq!(PublicParms::from_bytes(&rsa.to_bytes()).unwrap(), rsa);
        // An unknown type is refused before anything after it is read.
        assert!(matches!(
            PublicParms::from_bytes(&[0x00, 0x06, 0x00, 0x10]),
            Err(WireError::BadValue { value: 6, .. })
        ));
    }

    #[test]
    fn shared_point_is_sized_redacted_and_checked() {
        let p = EccSharedPoint {
            x: Secret::new(&[0x11; 32]).unwrap(),
            y: Secret::new(&[0x22; 32]).unwrap(),
        };
        let bytes = p.to_bytes();
        assert_eq!(&bytes[..4], &[0x00, 68, 0x00, 32]);
        assert_eq!(EccSharedPoint::from_bytes(&bytes).unwrap(), p);
        assert!(!format!("{p:?}").contains("11"));
        // A size that leaves a stray byte inside the TPM2B, and one the coordinates overrun.
        let mut long = bytes.clone();
        long[1] += 1;
        long.push(0);
        assert!(matches!(
            EccSharedPoint::from_bytes(&long),
            Err(WireError::SizeMismatch {
                declared: 69,
                actual: 68
            })
        ));
        let mut short = bytes.clone();
        short[1] -= 1;
        assert!(EccSharedPoint::from_bytes(&short).is_err());
        // A coordinate longer than any curve's.
        let mut big = vec![0x00, 71, 0x00, 67];
        big.extend([0u8; 69]);
        assert!(matches!(
            EccSharedPoint::from_bytes(&big),
            Err(WireError::TooLarge { size: 67, .. })
        ));
    }

    #[test]
    fn clock_adjust_is_a_signed_byte() {
        assert_eq!(ClockAdjust::COARSE_SLOWER.to_bytes(), [0xFD]);
        assert_eq!(
            ClockAdjust::from_bytes(&[0xFF]).unwrap(),
            ClockAdjust::FINE_SLOWER
        );
        assert_eq!(ClockAdjust(3).to_string(), "TPM_CLOCK_COARSE_FASTER");
        assert_eq!(ClockAdjust(-7).to_string(), "-7");
        assert!(ClockAdjust::from_bytes(&[]).is_err());
    }

    #[test]
    fn template_holds_a_public_area_and_refuses_oversize() {
        let public = Public::ecc_p256_storage_parent();
        let t = Template::from_public(&public).unwrap();
        assert_eq!(t.public().unwrap(), public);
        // The same bytes as a TPM2B_PUBLIC.
        assert_eq!(t.to_bytes(), crate::wire::Tpm2bPublic(public).to_bytes());
        assert!(Template::from_raw(&[0u8; MAX_PUBLIC_SIZE + 1]).is_err());
        let mut oversized = ((MAX_PUBLIC_SIZE + 1) as u16).to_be_bytes().to_vec();
        oversized.extend(vec![0u8; MAX_PUBLIC_SIZE + 1]);
        assert!(matches!(
            Template::from_bytes(&oversized),
            Err(WireError::TooLarge { .. })
        ));
        // Raw bytes that are no public area are kept, and say so when read as one.
        let raw = Template::from_raw(&[0x00, 0x23]).unwrap();
        assert!(raw.public().is_err());
    }

    #[test]
    fn alg_list_count_is_bounded() {
        let list = AlgList::new(vec![AlgId::AES, AlgId::SHA256]).unwrap();
        assert_eq!(list.to_bytes(), [0, 0, 0, 2, 0x00, 0x06, 0x00, 0x0B]);
        assert!(AlgList::new(vec![AlgId::SHA1; MAX_ALG_LIST_SIZE + 1]).is_err());
        assert!(matches!(
            AlgList::from_bytes(&[0, 0, 0, 65]),
            Err(WireError::TooMany { count: 65, .. })
        ));
    }
}
