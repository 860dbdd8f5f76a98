//! [`arbitrary::Arbitrary`] for the wire types (feature `arbitrary`), for fuzzing harnesses
//! and property tests, here and in crates that use this one.
//!
//! Every value is built through the type's public constructors and keeps the type's
//! invariants: a TPM2B within its capacity, a TPML within its maximum count, a union's
//! selector matching its arm, a TPMT_HA digest as long as its algorithm's. So whatever is
//! produced marshals, reads back equal, and re-marshals to the same bytes. None of these
//! implementations fails: an input that runs out yields zeros and empty buffers.
//!
//! Integers that name something (algorithms, handles, command codes, tags, ...) are drawn
//! half the time from the range where the specification's values lie, so that the named
//! values turn up often; otherwise from the whole integer, whose unknown values the newtypes
//! keep as they are.

use alloc::vec::Vec;
use core::ops::RangeInclusive;

use ::arbitrary::unstructured::Int;
use ::arbitrary::{Arbitrary, Error, Result, Unstructured};
use zerocopy::byteorder::{BigEndian, U16, U32};

use super::*;

/// A constructor's error, which the sizes chosen below rule out; reported rather than
/// unwrapped so that no input can make this code panic.
fn built<T>(r: core::result::Result<T, WireError>) -> Result<T> {
    r.map_err(|_| Error::IncorrectFormat)
}

/// Half the time a value in `near` (where the named values lie), otherwise any value.
fn biased<'a, T: Int + Arbitrary<'a>>(
    u: &mut Unstructured<'a>,
    near: RangeInclusive<T>,
) -> Result<T> {
    if u.arbitrary()? {
        u.int_in_range(near)
    } else {
        T::arbitrary(u)
    }
}

/// At most `max` bytes taken from the input (fewer when it runs out).
fn some_bytes<'a>(u: &mut Unstructured<'a>, max: usize) -> Result<&'a [u8]> {
    let n = u.arbitrary_len::<u8>()?.min(max);
    u.bytes(n)
}

/// Newtypes over wire integers: `$name($int)` biased towards `$near`.
macro_rules! newtype {
    ($($name:ident($int:ty) near $near:expr;)*) => {$(
        impl<'a> Arbitrary<'a> for $name {
            fn arbitrary(u: &mut Unstructured<'a>) -> Result<Self> {
                Ok($name(biased::<$int>(u, $near)?))
            }

            fn size_hint(_depth: usize) -> (usize, Option<usize>) {
                (1, Some(1 + core::mem::size_of::<$int>()))
            }
        }
    )*};
}

newtype! {
    AlgId(u16) near 0x0000..=0x0044;
    StructureTag(u16) near 0x8000..=0x8025;
    SessionType(u8) near 0x00..=0x03;
    StartupType(u16) near 0x0000..=0x0001;
    CommandCode(u32) near 0x0000_011F..=0x0000_0198;
    HandleType(u8) near 0x00..=0x03;
    Capability(u32) near 0x0000_0000..=0x0000_000A;
    PropertyTag(u32) near 0x0000_0100..=0x0000_0214;
    PcrPropertyTag(u32) near 0x0000_0000..=0x0000_0014;
    EccCurve(u16) near 0x0000..=0x0020;
    TpmRc(u32) near 0x0000_0000..=0x0000_097F;
    NvType(u8) near 0x0..=0xF;
    RcLayer(u8) near 0..=13;
    ArithmeticOp(u16) near 0x0000..=0x000B;
    // Format-zero and format-one codes with a software layer byte up to the driver's.
    ResponseCode(u32) near 0x0000_0000..=0x000D_0FFF;
}

/// Attribute bit fields: every bit pattern is a value (reserved bits are kept).
macro_rules! bits {
    ($($name:ident($int:ty);)*) => {$(
        impl<'a> Arbitrary<'a> for $name {
            fn arbitrary(u: &mut Unstructured<'a>) -> Result<Self> {
                Ok($name(<$int>::arbitrary(u)?))
            }

            fn size_hint(_depth: usize) -> (usize, Option<usize>) {
                (core::mem::size_of::<$int>(), Some(core::mem::size_of::<$int>()))
            }
        }
    )*};
}

bits! {
    ObjectAttributes(u32);
    NvAttributes(u32);
    AlgorithmAttributes(u32);
    CommandAttributes(u32);
    LocalityAttributes(u8);
    SessionAttributes(u8);
}

/// The handle types a handle's top byte names (TPM_HT).
const HANDLE_TYPES: [u8; 8] = [0x00, 0x01, 0x02, 0x03, 0x40, 0x80, 0x81, 0x90];

impl<'a> Arbitrary<'a> for Handle {
    fn arbitrary(u: &mut Unstructured<'a>) -> Result<Self> {
        Ok(Handle(match u.choose_index(3)? {
            // The permanent handles (TPM_RH_*, TPM_RS_PW).
            0 => u.int_in_range(0x4000_0000..=0x4000_0010)?,
            // A handle of a known type with a small index.
            1 => (u32::from(*u.choose(&HANDLE_TYPES)?) << 24) | u32::from(u.arbitrary::<u8>()?),
            _ => u.arbitrary()?,
        }))
    }

    fn size_hint(_depth: usize) -> (usize, Option<usize>) {
        (1, Some(5))
    }
}

impl<'a> Arbitrary<'a> for RcKind {
    fn arbitrary(u: &mut Unstructured<'a>) -> Result<Self> {
        Ok(match u.choose_index(7)? {
            0 => RcKind::Success,
            1 => RcKind::Tpm12,
            2 => RcKind::Vendor,
            3 => RcKind::Warning,
            4 => RcKind::Error,
            5 => RcKind::FormatOne,
            _ => RcKind::Software,
        })
    }
}

impl<'a, const N: usize> Arbitrary<'a> for Tpm2b<N> {
    fn arbitrary(u: &mut Unstructured<'a>) -> Result<Self> {
        built(Tpm2b::new(some_bytes(u, N)?))
    }
}

impl<'a, const N: usize> Arbitrary<'a> for Secret<N> {
    fn arbitrary(u: &mut Unstructured<'a>) -> Result<Self> {
        built(Secret::new(some_bytes(u, N)?))
    }
}

impl<'a> Arbitrary<'a> for Nonce {
    fn arbitrary(u: &mut Unstructured<'a>) -> Result<Self> {
        built(Nonce::new(some_bytes(u, Nonce::CAPACITY)?))
    }
}

impl<'a> Arbitrary<'a> for Tpm2bRef<'a> {
    fn arbitrary(u: &mut Unstructured<'a>) -> Result<Self> {
        // The size field is a u16: anything longer could not be written.
        Ok(Tpm2bRef(some_bytes(u, u16::MAX as usize)?))
    }
}

impl<'a, T: Arbitrary<'a> + ListEntry, const MAX: usize> Arbitrary<'a> for TpmList<T, MAX> {
    fn arbitrary(u: &mut Unstructured<'a>) -> Result<Self> {
        let n = u.arbitrary_len::<T>()?.min(MAX);
        let mut items = Vec::with_capacity(n);
        for _ in 0..n {
            items.push(T::arbitrary(u)?);
        }
        built(TpmList::new(items))
    }
}

// ---- PCR selections and tagged hashes ----

impl<'a> Arbitrary<'a> for PcrSelect {
    fn arbitrary(u: &mut Unstructured<'a>) -> Result<Self> {
        let n = u.int_in_range(0..=PCR_SELECT_MAX)?;
        let mut bitmap = [0u8; PCR_SELECT_MAX];
        u.fill_buffer(&mut bitmap[..n])?;
        built(PcrSelect::from_bitmap(&bitmap[..n]))
    }
}

impl<'a> Arbitrary<'a> for PcrSelection {
    fn arbitrary(u: &mut Unstructured<'a>) -> Result<Self> {
        Ok(PcrSelection {
            hash: u.arbitrary()?,
            select: u.arbitrary()?,
        })
    }
}

/// The algorithms a TPMT_HA may carry: those [`AlgId::digest_size`] knows.
const HASH_ALGS: [AlgId; 9] = [
    AlgId::SHA1,
    AlgId::SHA256,
    AlgId::SHA384,
    AlgId::SHA512,
    AlgId::SM3_256,
    AlgId::SHA3_256,
    AlgId::SHA3_384,
    AlgId::SHA3_512,
    AlgId::NULL,
];

impl<'a> Arbitrary<'a> for HashValue {
    fn arbitrary(u: &mut Unstructured<'a>) -> Result<Self> {
        let alg = *u.choose(&HASH_ALGS)?;
        let size = alg.digest_size().ok_or(Error::IncorrectFormat)?;
        let mut digest = [0u8; MAX_DIGEST_SIZE];
        let digest = digest.get_mut(..size).ok_or(Error::IncorrectFormat)?;
        u.fill_buffer(digest)?;
        built(HashValue::new(alg, digest))
    }
}

// ---- Symmetric definitions and schemes ----

/// The block ciphers a TPMT_SYM_DEF(_OBJECT) may name besides NULL and XOR.
const BLOCK_CIPHERS: [AlgId; 4] = [AlgId::AES, AlgId::SM4, AlgId::CAMELLIA, AlgId::TDES];

impl<'a> Arbitrary<'a> for SymCipher {
    fn arbitrary(u: &mut Unstructured<'a>) -> Result<Self> {
        Ok(SymCipher {
            algorithm: *u.choose(&BLOCK_CIPHERS)?,
            key_bits: u.arbitrary()?,
            mode: u.arbitrary()?,
        })
    }
}

impl<'a> Arbitrary<'a> for SymDef {
    fn arbitrary(u: &mut Unstructured<'a>) -> Result<Self> {
        Ok(match u.choose_index(3)? {
            0 => SymDef::Null,
            1 => SymDef::Xor {
                hash: u.arbitrary()?,
            },
            _ => SymDef::Cipher(u.arbitrary()?),
        })
    }
}

impl<'a> Arbitrary<'a> for SymDefObject {
    fn arbitrary(u: &mut Unstructured<'a>) -> Result<Self> {
        Ok(match u.choose_index(2)? {
            0 => SymDefObject::Null,
            _ => SymDefObject::Cipher(u.arbitrary()?),
        })
    }
}

impl<'a> Arbitrary<'a> for RsaScheme {
    fn arbitrary(u: &mut Unstructured<'a>) -> Result<Self> {
        Ok(match u.choose_index(5)? {
            0 => RsaScheme::Null,
            1 => RsaScheme::RsaEs,
            2 => RsaScheme::RsaSsa {
                hash: u.arbitrary()?,
            },
            3 => RsaScheme::RsaPss {
                hash: u.arbitrary()?,
            },
            _ => RsaScheme::Oaep {
                hash: u.arbitrary()?,
            },
        })
    }
}

impl<'a> Arbitrary<'a> for EccScheme {
    fn arbitrary(u: &mut Unstructured<'a>) -> Result<Self> {
        Ok(match u.choose_index(7)? {
            0 => EccScheme::Null,
            1 => EccScheme::Ecdsa {
                hash: u.arbitrary()?,
            },
            2 => EccScheme::Ecdh {
                hash: u.arbitrary()?,
            },
            3 => EccScheme::Sm2 {
                hash: u.arbitrary()?,
            },
            4 => EccScheme::EcSchnorr {
                hash: u.arbitrary()?,
            },
            5 => EccScheme::EcMqv {
                hash: u.arbitrary()?,
            },
            _ => EccScheme::EcDaa {
                hash: u.arbitrary()?,
                count: u.arbitrary()?,
            },
        })
    }
}

impl<'a> Arbitrary<'a> for KdfScheme {
    fn arbitrary(u: &mut Unstructured<'a>) -> Result<Self> {
        Ok(match u.choose_index(5)? {
            0 => KdfScheme::Null,
            1 => KdfScheme::Mgf1 {
                hash: u.arbitrary()?,
            },
            2 => KdfScheme::Kdf1Sp800_56a {
                hash: u.arbitrary()?,
            },
            3 => KdfScheme::Kdf2 {
                hash: u.arbitrary()?,
            },
            _ => KdfScheme::Kdf1Sp800_108 {
                hash: u.arbitrary()?,
            },
        })
    }
}

impl<'a> Arbitrary<'a> for SigScheme {
    fn arbitrary(u: &mut Unstructured<'a>) -> Result<Self> {
        Ok(match u.choose_index(8)? {
            0 => SigScheme::Null,
            1 => SigScheme::RsaSsa {
                hash: u.arbitrary()?,
            },
            2 => SigScheme::RsaPss {
                hash: u.arbitrary()?,
            },
            3 => SigScheme::Ecdsa {
                hash: u.arbitrary()?,
            },
            4 => SigScheme::Sm2 {
                hash: u.arbitrary()?,
            },
            5 => SigScheme::EcSchnorr {
                hash: u.arbitrary()?,
            },
            6 => SigScheme::Hmac {
                hash: u.arbitrary()?,
            },
            _ => SigScheme::EcDaa {
                hash: u.arbitrary()?,
                count: u.arbitrary()?,
            },
        })
    }
}

impl<'a> Arbitrary<'a> for KeyedHashScheme {
    fn arbitrary(u: &mut Unstructured<'a>) -> Result<Self> {
        Ok(match u.choose_index(3)? {
            0 => KeyedHashScheme::Null,
            1 => KeyedHashScheme::Hmac {
                hash: u.arbitrary()?,
            },
            _ => KeyedHashScheme::Xor {
                hash: u.arbitrary()?,
                kdf: u.arbitrary()?,
            },
        })
    }
}

// ---- Tickets, contexts, NV public areas ----

impl<'a> Arbitrary<'a> for Ticket {
    fn arbitrary(u: &mut Unstructured<'a>) -> Result<Self> {
        Ok(Ticket {
            tag: u.arbitrary()?,
            hierarchy: u.arbitrary()?,
            digest: u.arbitrary()?,
        })
    }
}

impl<'a> Arbitrary<'a> for Context {
    fn arbitrary(u: &mut Unstructured<'a>) -> Result<Self> {
        Ok(Context {
            sequence: u.arbitrary()?,
            saved_handle: u.arbitrary()?,
            hierarchy: u.arbitrary()?,
            context_blob: u.arbitrary()?,
        })
    }
}

impl<'a> Arbitrary<'a> for NvPublic {
    fn arbitrary(u: &mut Unstructured<'a>) -> Result<Self> {
        Ok(NvPublic {
            nv_index: u.arbitrary()?,
            name_alg: u.arbitrary()?,
            attributes: u.arbitrary()?,
            auth_policy: u.arbitrary()?,
            data_size: u.arbitrary()?,
        })
    }
}

impl<'a> Arbitrary<'a> for Tpm2bNvPublic {
    fn arbitrary(u: &mut Unstructured<'a>) -> Result<Self> {
        Ok(Tpm2bNvPublic(u.arbitrary()?))
    }
}

// ---- Public and sensitive areas ----

impl<'a> Arbitrary<'a> for EccPoint {
    fn arbitrary(u: &mut Unstructured<'a>) -> Result<Self> {
        Ok(EccPoint {
            x: u.arbitrary()?,
            y: u.arbitrary()?,
        })
    }
}

impl<'a> Arbitrary<'a> for Tpm2bEccPoint {
    fn arbitrary(u: &mut Unstructured<'a>) -> Result<Self> {
        Ok(Tpm2bEccPoint(u.arbitrary()?))
    }
}

impl<'a> Arbitrary<'a> for RsaParms {
    fn arbitrary(u: &mut Unstructured<'a>) -> Result<Self> {
        Ok(RsaParms {
            symmetric: u.arbitrary()?,
            scheme: u.arbitrary()?,
            key_bits: u.arbitrary()?,
            exponent: u.arbitrary()?,
        })
    }
}

impl<'a> Arbitrary<'a> for EccParms {
    fn arbitrary(u: &mut Unstructured<'a>) -> Result<Self> {
        Ok(EccParms {
            symmetric: u.arbitrary()?,
            scheme: u.arbitrary()?,
            curve: u.arbitrary()?,
            kdf: u.arbitrary()?,
        })
    }
}

impl<'a> Arbitrary<'a> for KeyedHashParms {
    fn arbitrary(u: &mut Unstructured<'a>) -> Result<Self> {
        Ok(KeyedHashParms {
            scheme: u.arbitrary()?,
        })
    }
}

impl<'a> Arbitrary<'a> for SymCipherParms {
    fn arbitrary(u: &mut Unstructured<'a>) -> Result<Self> {
        Ok(SymCipherParms {
            symmetric: u.arbitrary()?,
        })
    }
}

impl<'a> Arbitrary<'a> for PublicKey {
    fn arbitrary(u: &mut Unstructured<'a>) -> Result<Self> {
        Ok(match u.choose_index(4)? {
            0 => PublicKey::Rsa {
                parameters: u.arbitrary()?,
                unique: u.arbitrary()?,
            },
            1 => PublicKey::Ecc {
                parameters: u.arbitrary()?,
                unique: u.arbitrary()?,
            },
            2 => PublicKey::KeyedHash {
                parameters: u.arbitrary()?,
                unique: u.arbitrary()?,
            },
            _ => PublicKey::SymCipher {
                parameters: u.arbitrary()?,
                unique: u.arbitrary()?,
            },
        })
    }
}

impl<'a> Arbitrary<'a> for Public {
    fn arbitrary(u: &mut Unstructured<'a>) -> Result<Self> {
        Ok(Public {
            name_alg: u.arbitrary()?,
            object_attributes: u.arbitrary()?,
            auth_policy: u.arbitrary()?,
            key: u.arbitrary()?,
        })
    }
}

impl<'a> Arbitrary<'a> for Tpm2bPublic {
    fn arbitrary(u: &mut Unstructured<'a>) -> Result<Self> {
        Ok(Tpm2bPublic(u.arbitrary()?))
    }
}

impl<'a> Arbitrary<'a> for CreationDataInfo {
    fn arbitrary(u: &mut Unstructured<'a>) -> Result<Self> {
        Ok(CreationDataInfo {
            pcr_select: u.arbitrary()?,
            pcr_digest: u.arbitrary()?,
            locality: u.arbitrary()?,
            parent_name_alg: u.arbitrary()?,
            parent_name: u.arbitrary()?,
            parent_qualified_name: u.arbitrary()?,
            outside_info: u.arbitrary()?,
        })
    }
}

impl<'a> Arbitrary<'a> for SensitiveCreate {
    fn arbitrary(u: &mut Unstructured<'a>) -> Result<Self> {
        Ok(SensitiveCreate {
            user_auth: u.arbitrary()?,
            data: u.arbitrary()?,
        })
    }
}

impl<'a> Arbitrary<'a> for Tpm2bSensitiveCreate {
    fn arbitrary(u: &mut Unstructured<'a>) -> Result<Self> {
        Ok(Tpm2bSensitiveCreate(u.arbitrary()?))
    }
}

impl<'a> Arbitrary<'a> for SensitiveComposite {
    fn arbitrary(u: &mut Unstructured<'a>) -> Result<Self> {
        Ok(match u.choose_index(4)? {
            0 => SensitiveComposite::Rsa(u.arbitrary()?),
            1 => SensitiveComposite::Ecc(u.arbitrary()?),
            2 => SensitiveComposite::Bits(u.arbitrary()?),
            _ => SensitiveComposite::Sym(u.arbitrary()?),
        })
    }
}

impl<'a> Arbitrary<'a> for Sensitive {
    fn arbitrary(u: &mut Unstructured<'a>) -> Result<Self> {
        Ok(Sensitive {
            auth_value: u.arbitrary()?,
            seed_value: u.arbitrary()?,
            sensitive: u.arbitrary()?,
        })
    }
}

impl<'a> Arbitrary<'a> for Tpm2bSensitive {
    fn arbitrary(u: &mut Unstructured<'a>) -> Result<Self> {
        Ok(Tpm2bSensitive(u.arbitrary()?))
    }
}

impl<'a> Arbitrary<'a> for OptionalSensitive {
    fn arbitrary(u: &mut Unstructured<'a>) -> Result<Self> {
        Ok(OptionalSensitive(u.arbitrary()?))
    }
}

// ---- Attestation and signatures ----

impl<'a> Arbitrary<'a> for ClockInfo {
    fn arbitrary(u: &mut Unstructured<'a>) -> Result<Self> {
        Ok(ClockInfo {
            clock: u.arbitrary()?,
            reset_count: u.arbitrary()?,
            restart_count: u.arbitrary()?,
            safe: u.arbitrary()?,
        })
    }
}

impl<'a> Arbitrary<'a> for CertifyInfo {
    fn arbitrary(u: &mut Unstructured<'a>) -> Result<Self> {
        Ok(CertifyInfo {
            name: u.arbitrary()?,
            qualified_name: u.arbitrary()?,
        })
    }
}

impl<'a> Arbitrary<'a> for CreationInfo {
    fn arbitrary(u: &mut Unstructured<'a>) -> Result<Self> {
        Ok(CreationInfo {
            object_name: u.arbitrary()?,
            creation_hash: u.arbitrary()?,
        })
    }
}

impl<'a> Arbitrary<'a> for QuoteInfo {
    fn arbitrary(u: &mut Unstructured<'a>) -> Result<Self> {
        Ok(QuoteInfo {
            pcr_select: u.arbitrary()?,
            pcr_digest: u.arbitrary()?,
        })
    }
}

impl<'a> Arbitrary<'a> for CommandAuditInfo {
    fn arbitrary(u: &mut Unstructured<'a>) -> Result<Self> {
        Ok(CommandAuditInfo {
            audit_counter: u.arbitrary()?,
            digest_alg: u.arbitrary()?,
            audit_digest: u.arbitrary()?,
            command_digest: u.arbitrary()?,
        })
    }
}

impl<'a> Arbitrary<'a> for SessionAuditInfo {
    fn arbitrary(u: &mut Unstructured<'a>) -> Result<Self> {
        Ok(SessionAuditInfo {
            exclusive_session: u.arbitrary()?,
            session_digest: u.arbitrary()?,
        })
    }
}

impl<'a> Arbitrary<'a> for TimeInfo {
    fn arbitrary(u: &mut Unstructured<'a>) -> Result<Self> {
        Ok(TimeInfo {
            time: u.arbitrary()?,
            clock_info: u.arbitrary()?,
        })
    }
}

impl<'a> Arbitrary<'a> for TimeAttestInfo {
    fn arbitrary(u: &mut Unstructured<'a>) -> Result<Self> {
        Ok(TimeAttestInfo {
            time: u.arbitrary()?,
            firmware_version: u.arbitrary()?,
        })
    }
}

impl<'a> Arbitrary<'a> for NvCertifyInfo {
    fn arbitrary(u: &mut Unstructured<'a>) -> Result<Self> {
        Ok(NvCertifyInfo {
            index_name: u.arbitrary()?,
            offset: u.arbitrary()?,
            nv_contents: u.arbitrary()?,
        })
    }
}

impl<'a> Arbitrary<'a> for NvDigestCertifyInfo {
    fn arbitrary(u: &mut Unstructured<'a>) -> Result<Self> {
        Ok(NvDigestCertifyInfo {
            index_name: u.arbitrary()?,
            nv_digest: u.arbitrary()?,
        })
    }
}

impl<'a> Arbitrary<'a> for Attested {
    fn arbitrary(u: &mut Unstructured<'a>) -> Result<Self> {
        Ok(match u.choose_index(8)? {
            0 => Attested::Certify(u.arbitrary()?),
            1 => Attested::Creation(u.arbitrary()?),
            2 => Attested::Quote(u.arbitrary()?),
            3 => Attested::CommandAudit(u.arbitrary()?),
            4 => Attested::SessionAudit(u.arbitrary()?),
            5 => Attested::Time(u.arbitrary()?),
            6 => Attested::Nv(u.arbitrary()?),
            _ => Attested::NvDigest(u.arbitrary()?),
        })
    }
}

impl<'a> Arbitrary<'a> for Attestation {
    fn arbitrary(u: &mut Unstructured<'a>) -> Result<Self> {
        Ok(Attestation {
            // Mostly the TPM's magic, so a verifier under test gets past its first check.
            magic: if u.ratio(3u8, 4)? {
                TPM_GENERATED_VALUE
            } else {
                u.arbitrary()?
            },
            qualified_signer: u.arbitrary()?,
            extra_data: u.arbitrary()?,
            clock_info: u.arbitrary()?,
            firmware_version: u.arbitrary()?,
            attested: u.arbitrary()?,
        })
    }
}

impl<'a> Arbitrary<'a> for RsaSignature {
    fn arbitrary(u: &mut Unstructured<'a>) -> Result<Self> {
        Ok(RsaSignature {
            hash: u.arbitrary()?,
            sig: u.arbitrary()?,
        })
    }
}

impl<'a> Arbitrary<'a> for EccSignature {
    fn arbitrary(u: &mut Unstructured<'a>) -> Result<Self> {
        Ok(EccSignature {
            hash: u.arbitrary()?,
            r: u.arbitrary()?,
            s: u.arbitrary()?,
        })
    }
}

impl<'a> Arbitrary<'a> for Signature {
    fn arbitrary(u: &mut Unstructured<'a>) -> Result<Self> {
        Ok(match u.choose_index(8)? {
            0 => Signature::Null,
            1 => Signature::RsaSsa(u.arbitrary()?),
            2 => Signature::RsaPss(u.arbitrary()?),
            3 => Signature::Ecdsa(u.arbitrary()?),
            4 => Signature::EcDaa(u.arbitrary()?),
            5 => Signature::Sm2(u.arbitrary()?),
            6 => Signature::EcSchnorr(u.arbitrary()?),
            _ => Signature::Hmac(u.arbitrary()?),
        })
    }
}

// ---- Command parameters: public parameters, shared points, templates, clock ----

impl<'a> Arbitrary<'a> for PublicParms {
    fn arbitrary(u: &mut Unstructured<'a>) -> Result<Self> {
        Ok(match u.choose_index(4)? {
            0 => PublicParms::Rsa(u.arbitrary()?),
            1 => PublicParms::Ecc(u.arbitrary()?),
            2 => PublicParms::KeyedHash(u.arbitrary()?),
            _ => PublicParms::SymCipher(u.arbitrary()?),
        })
    }
}

impl<'a> Arbitrary<'a> for EccSharedPoint {
    fn arbitrary(u: &mut Unstructured<'a>) -> Result<Self> {
        Ok(EccSharedPoint {
            x: u.arbitrary()?,
            y: u.arbitrary()?,
        })
    }
}

impl<'a> Arbitrary<'a> for AlgorithmDetailEcc {
    fn arbitrary(u: &mut Unstructured<'a>) -> Result<Self> {
        Ok(AlgorithmDetailEcc {
            curve_id: u.arbitrary()?,
            key_size: u.arbitrary()?,
            kdf: u.arbitrary()?,
            sign: u.arbitrary()?,
            p: u.arbitrary()?,
            a: u.arbitrary()?,
            b: u.arbitrary()?,
            g_x: u.arbitrary()?,
            g_y: u.arbitrary()?,
            n: u.arbitrary()?,
            h: u.arbitrary()?,
        })
    }
}

impl<'a> Arbitrary<'a> for Template {
    fn arbitrary(u: &mut Unstructured<'a>) -> Result<Self> {
        // Mostly a real public area; otherwise any bytes that fit (a derivation template, or
        // garbage the TPM must refuse).
        if u.ratio(3u8, 4)? {
            built(Template::from_public(&u.arbitrary()?))
        } else {
            built(Template::from_raw(some_bytes(u, MAX_PUBLIC_SIZE)?))
        }
    }
}

impl<'a> Arbitrary<'a> for ClockAdjust {
    fn arbitrary(u: &mut Unstructured<'a>) -> Result<Self> {
        // Half the time one of the seven defined adjustments.
        Ok(ClockAdjust(biased::<i8>(u, -3..=3)?))
    }

    fn size_hint(_depth: usize) -> (usize, Option<usize>) {
        (1, Some(2))
    }
}

// ---- Capability data ----

impl<'a> Arbitrary<'a> for AlgProperty {
    fn arbitrary(u: &mut Unstructured<'a>) -> Result<Self> {
        Ok(AlgProperty {
            alg: u.arbitrary()?,
            properties: u.arbitrary()?,
        })
    }
}

impl<'a> Arbitrary<'a> for TaggedProperty {
    fn arbitrary(u: &mut Unstructured<'a>) -> Result<Self> {
        Ok(TaggedProperty {
            property: u.arbitrary()?,
            value: u.arbitrary()?,
        })
    }
}

impl<'a> Arbitrary<'a> for TaggedPcrSelect {
    fn arbitrary(u: &mut Unstructured<'a>) -> Result<Self> {
        Ok(TaggedPcrSelect {
            tag: u.arbitrary()?,
            select: u.arbitrary()?,
        })
    }
}

impl<'a> Arbitrary<'a> for TaggedPolicy {
    fn arbitrary(u: &mut Unstructured<'a>) -> Result<Self> {
        Ok(TaggedPolicy {
            handle: u.arbitrary()?,
            policy_hash: u.arbitrary()?,
        })
    }
}

impl<'a> Arbitrary<'a> for CapabilityData {
    fn arbitrary(u: &mut Unstructured<'a>) -> Result<Self> {
        Ok(match u.choose_index(10)? {
            0 => CapabilityData::Algorithms(u.arbitrary()?),
            1 => CapabilityData::Handles(u.arbitrary()?),
            2 => CapabilityData::Commands(u.arbitrary()?),
            3 => CapabilityData::PpCommands(u.arbitrary()?),
            4 => CapabilityData::AuditCommands(u.arbitrary()?),
            5 => CapabilityData::Pcrs(u.arbitrary()?),
            6 => CapabilityData::TpmProperties(u.arbitrary()?),
            7 => CapabilityData::PcrProperties(u.arbitrary()?),
            8 => CapabilityData::EccCurves(u.arbitrary()?),
            _ => CapabilityData::AuthPolicies(u.arbitrary()?),
        })
    }
}

// ---- Frames ----

impl<'a> Arbitrary<'a> for Header {
    fn arbitrary(u: &mut Unstructured<'a>) -> Result<Self> {
        Ok(Header {
            tag: U16::<BigEndian>::new(StructureTag::arbitrary(u)?.0),
            size: U32::<BigEndian>::new(u.arbitrary()?),
            code: U32::<BigEndian>::new(u.arbitrary()?),
        })
    }

    fn size_hint(_depth: usize) -> (usize, Option<usize>) {
        (HEADER_SIZE, Some(1 + HEADER_SIZE))
    }
}

impl<'a> Arbitrary<'a> for AuthCommand {
    fn arbitrary(u: &mut Unstructured<'a>) -> Result<Self> {
        Ok(AuthCommand {
            session_handle: u.arbitrary()?,
            nonce: u.arbitrary()?,
            attributes: u.arbitrary()?,
            hmac: u.arbitrary()?,
        })
    }
}

impl<'a> Arbitrary<'a> for AuthCommandRef<'a> {
    fn arbitrary(u: &mut Unstructured<'a>) -> Result<Self> {
        // Nonce and HMAC as long as a TPMS_AUTH_COMMAND's TPM2B_NONCE and TPM2B_AUTH allow,
        // so the area reads back as an [`AuthCommand`].
        Ok(AuthCommandRef {
            session_handle: u.arbitrary()?,
            nonce: some_bytes(u, MAX_DIGEST_SIZE)?,
            attributes: u.arbitrary()?,
            hmac: some_bytes(u, MAX_DIGEST_SIZE)?,
        })
    }
}

impl<'a> Arbitrary<'a> for AuthResponseRef<'a> {
    fn arbitrary(u: &mut Unstructured<'a>) -> Result<Self> {
        Ok(AuthResponseRef {
            nonce: some_bytes(u, MAX_DIGEST_SIZE)?,
            attributes: u.arbitrary()?,
            hmac: some_bytes(u, MAX_DIGEST_SIZE)?,
        })
    }
}

impl<'a> Arbitrary<'a> for ResponseFrame<'a> {
    /// A response as [`ResponseFrame::parse`] splits one: an error is a bare header; a
    /// success has 0 or 1 handle, and with TPM_ST_SESSIONS up to [`MAX_SESSIONS`]
    /// authorizations.
    fn arbitrary(u: &mut Unstructured<'a>) -> Result<Self> {
        let error = u.ratio(1u8, 4)?;
        let mut frame = ResponseFrame {
            tag: StructureTag::NO_SESSIONS,
            code: 0,
            handles: &[],
            parameters: &[],
            auths: [None; MAX_SESSIONS],
            auth_count: 0,
        };
        if error {
            frame.tag = u.arbitrary()?;
            frame.code = u.arbitrary::<u32>()?.max(1);
            return Ok(frame);
        }
        let sessions = u.arbitrary()?;
        let handles = if u.arbitrary()? && u.len() >= 4 { 4 } else { 0 };
        frame.handles = u.bytes(handles)?;
        // What a DEFAULT_MAX_COMMAND_SIZE frame leaves once the header and size fields are written.
        frame.parameters = some_bytes(u, DEFAULT_MAX_COMMAND_SIZE - HEADER_SIZE - 8)?;
        if sessions {
            frame.tag = StructureTag::SESSIONS;
            frame.auth_count = u.int_in_range(0..=MAX_SESSIONS)?;
            for slot in frame.auths.iter_mut().take(frame.auth_count) {
                *slot = Some(u.arbitrary()?);
            }
        }
        Ok(frame)
    }
}

/// `count` byte strings of up to `max_len` bytes from a xorshift generator seeded with `seed`:
/// the same inputs on every run, for a quick smoke run of an `Arbitrary`-based harness (in a
/// test or CI) where a fuzzer is not at hand.
pub fn sample_inputs(seed: u64, count: usize, max_len: usize) -> impl Iterator<Item = Vec<u8>> {
    // xorshift64 never leaves zero, so a zero seed would give only zeros.
    let mut state = seed | 1;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    (0..count).map(move |_| {
        let len = next() as usize % (max_len + 1);
        (0..len).map(|_| next() as u8).collect()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Which arms of a union `T`'s arbitrary values reach. `arm` must match exhaustively,
    /// so a new variant does not compile until it is counted here (and produced above).
    fn arms_reached<T: for<'a> Arbitrary<'a>>(arm: fn(&T) -> usize) -> Vec<usize> {
        let mut seen = Vec::new();
        for data in sample_inputs(0x9E37_79B9_7F4A_7C15, 2000, 64) {
            let value = T::arbitrary(&mut Unstructured::new(&data)).unwrap();
            let a = arm(&value);
            if !seen.contains(&a) {
                seen.push(a);
            }
        }
        seen.sort_unstable();
        seen
    }

    macro_rules! every_arm {
        ($ty:ty, $n:expr, |$v:ident| $m:expr) => {
            assert_eq!(
                arms_reached::<$ty>(|$v| $m),
                (0..$n).collect::<Vec<_>>(),
                "arms of {}",
                stringify!($ty)
            );
        };
    }

    #[test]
    fn every_union_arm_is_produced() {
        every_arm!(SymDef, 3, |v| match v {
            SymDef::Null => 0,
            SymDef::Xor { .. } => 1,
            SymDef::Cipher(_) => 2,
        });
        every_arm!(SymDefObject, 2, |v| match v {
            SymDefObject::Null => 0,
            SymDefObject::Cipher(_) => 1,
        });
        every_arm!(RsaScheme, 5, |v| match v {
            RsaScheme::Null => 0,
            RsaScheme::RsaEs => 1,
            RsaScheme::RsaSsa { .. } => 2,
            RsaScheme::RsaPss { .. } => 3,
            RsaScheme::Oaep { .. } => 4,
        });
        every_arm!(EccScheme, 7, |v| match v {
            EccScheme::Null => 0,
            EccScheme::Ecdsa { .. } => 1,
            EccScheme::Ecdh { .. } => 2,
            EccScheme::Sm2 { .. } => 3,
            EccScheme::EcSchnorr { .. } => 4,
            EccScheme::EcMqv { .. } => 5,
            EccScheme::EcDaa { .. } => 6,
        });
        every_arm!(KdfScheme, 5, |v| match v {
            KdfScheme::Null => 0,
            KdfScheme::Mgf1 { .. } => 1,
            KdfScheme::Kdf1Sp800_56a { .. } => 2,
            KdfScheme::Kdf2 { .. } => 3,
            KdfScheme::Kdf1Sp800_108 { .. } => 4,
        });
        every_arm!(SigScheme, 8, |v| match v {
            SigScheme::Null => 0,
            SigScheme::RsaSsa { .. } => 1,
            SigScheme::RsaPss { .. } => 2,
            SigScheme::Ecdsa { .. } => 3,
            SigScheme::Sm2 { .. } => 4,
            SigScheme::EcSchnorr { .. } => 5,
            SigScheme::Hmac { .. } => 6,
            SigScheme::EcDaa { .. } => 7,
        });
        every_arm!(KeyedHashScheme, 3, |v| match v {
            KeyedHashScheme::Null => 0,
            KeyedHashScheme::Hmac { .. } => 1,
            KeyedHashScheme::Xor { .. } => 2,
        });
        every_arm!(PublicKey, 4, |v| match v {
            PublicKey::Rsa { .. } => 0,
            PublicKey::Ecc { .. } => 1,
            PublicKey::KeyedHash { .. } => 2,
            PublicKey::SymCipher { .. } => 3,
        });
        every_arm!(SensitiveComposite, 4, |v| match v {
            SensitiveComposite::Rsa(_) => 0,
            SensitiveComposite::Ecc(_) => 1,
            SensitiveComposite::Bits(_) => 2,
            SensitiveComposite::Sym(_) => 3,
        });
        every_arm!(Attested, 8, |v| match v {
            Attested::Certify(_) => 0,
            Attested::Creation(_) => 1,
            Attested::Quote(_) => 2,
            Attested::CommandAudit(_) => 3,
            Attested::SessionAudit(_) => 4,
            Attested::Time(_) => 5,
            Attested::Nv(_) => 6,
            Attested::NvDigest(_) => 7,
        });
        every_arm!(Signature, 8, |v| match v {
            Signature::Null => 0,
            Signature::RsaSsa(_) => 1,
            Signature::RsaPss(_) => 2,
            Signature::Ecdsa(_) => 3,
            Signature::EcDaa(_) => 4,
            Signature::Sm2(_) => 5,
            Signature::EcSchnorr(_) => 6,
            Signature::Hmac(_) => 7,
        });
        every_arm!(PublicParms, 4, |v| match v {
            PublicParms::Rsa(_) => 0,
            PublicParms::Ecc(_) => 1,
            PublicParms::KeyedHash(_) => 2,
            PublicParms::SymCipher(_) => 3,
        });
        every_arm!(CapabilityData, 10, |v| match v {
            CapabilityData::Algorithms(_) => 0,
            CapabilityData::Handles(_) => 1,
            CapabilityData::Commands(_) => 2,
            CapabilityData::PpCommands(_) => 3,
            CapabilityData::AuditCommands(_) => 4,
            CapabilityData::Pcrs(_) => 5,
            CapabilityData::TpmProperties(_) => 6,
            CapabilityData::PcrProperties(_) => 7,
            CapabilityData::EccCurves(_) => 8,
            CapabilityData::AuthPolicies(_) => 9,
        });
        every_arm!(RcKind, 7, |v| match v {
            RcKind::Success => 0,
            RcKind::Tpm12 => 1,
            RcKind::Vendor => 2,
            RcKind::Warning => 3,
            RcKind::Error => 4,
            RcKind::FormatOne => 5,
            RcKind::Software => 6,
        });
    }

    /// The selector lists above agree with what the unmarshallers accept: every hash
    /// [`AlgId::digest_size`] knows is offered for a TPMT_HA, and exactly the block ciphers a
    /// TPMT_SYM_DEF accepts besides NULL and XOR are offered for a cipher.
    #[test]
    fn selector_lists_match_the_unmarshallers() {
        for alg in (0..=u16::MAX).map(AlgId) {
            assert_eq!(
                alg.digest_size().is_some(),
                HASH_ALGS.contains(&alg),
                "{alg}"
            );
            let mut cipher = alg.to_bytes();
            cipher.extend([0, 128, 0, 0x43]);
            let accepted = matches!(SymDef::from_bytes(&cipher), Ok(SymDef::Cipher(_)));
            assert_eq!(accepted, BLOCK_CIPHERS.contains(&alg), "{alg}");
        }
    }

    /// Sizes reach each capacity and never pass it; list counts likewise.
    #[test]
    fn buffers_and_lists_reach_but_never_pass_their_bounds() {
        let mut longest = [0usize; 3];
        for data in sample_inputs(0x9E37_79B9_7F4A_7C15, 300, 12_000) {
            let mut u = Unstructured::new(&data);
            let t = Timeout::arbitrary(&mut u).unwrap();
            let c = ContextData::arbitrary(&mut u).unwrap();
            let l = DigestList::arbitrary(&mut u).unwrap();
            assert!(t.len() <= 8 && c.len() <= MAX_CONTEXT_SIZE && l.len() <= MAX_DIGEST_LIST);
            for (m, n) in longest.iter_mut().zip([t.len(), c.len(), l.len()]) {
                *m = (*m).max(n);
            }
        }
        assert_eq!(longest, [8, MAX_CONTEXT_SIZE, MAX_DIGEST_LIST]);
    }

    /// An input that runs out still yields a value (zeros and empty buffers).
    #[test]
    fn exhausted_input_still_yields_values() {
        let mut u = Unstructured::new(&[]);
        assert_eq!(Public::arbitrary(&mut u).unwrap().auth_policy.len(), 0);
        let ha = HashValue::arbitrary(&mut Unstructured::new(&[])).unwrap();
        assert_eq!(ha.digest(), [0u8; 20]);
    }
}
