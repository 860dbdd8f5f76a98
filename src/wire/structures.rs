//! Building blocks shared by the structure modules: bounded lists (TPML_*), size-prefixed
//! wrappers (TPM2B_ around a structure), attribute bit-flag types (TPMA_*) and tickets.

use alloc::vec::Vec;
use core::fmt;
use core::ops::Deref;

use super::{AlgId, Digest, Handle, Marshal, Reader, StructureTag, Unmarshal, WireError, Writer};

impl AlgId {
    /// The digest size of a hash algorithm, `None` for anything that is not a hash this
    /// library knows. TPM_ALG_NULL has an empty digest (e.g. in a TPMT_HA that selects none).
    pub fn digest_size(self) -> Option<usize> {
        match self {
            AlgId::SHA1 => Some(20),
            AlgId::SHA256 | AlgId::SM3_256 | AlgId::SHA3_256 => Some(32),
            AlgId::SHA384 | AlgId::SHA3_384 => Some(48),
            AlgId::SHA512 | AlgId::SHA3_512 => Some(64),
            AlgId::NULL => Some(0),
            _ => None,
        }
    }
}

/// Reads a union selector that matched no known arm.
pub(crate) fn bad_selector(what: &'static str, value: impl Into<u32>) -> WireError {
    WireError::BadValue {
        what,
        value: value.into(),
    }
}

/// Writes `f`'s output behind a u16 size (TPM2B_ wrapper of a structure).
pub(crate) fn marshal_sized(w: &mut Writer<'_>, f: impl FnOnce(&mut Writer<'_>)) {
    // Every structure wrapped this way is built from fixed-capacity fields and is far below
    // 64 KiB, so the size always fits; a failure would be a bug in this module.
    let fits = w.sized_u16(f);
    debug_assert!(fits.is_ok());
}

/// Reads a u16 size then a `T` that must span exactly that many bytes.
pub(crate) fn unmarshal_sized<T: Unmarshal>(r: &mut Reader<'_>) -> Result<T, WireError> {
    let declared = r.u16()? as usize;
    let mut inner = r.sub(declared)?;
    let value = T::unmarshal(&mut inner)?;
    if !inner.is_empty() {
        return Err(WireError::SizeMismatch {
            declared,
            actual: declared - inner.remaining(),
        });
    }
    Ok(value)
}

/// An entry type of a TPML_*: names the list in errors in the specification's terms.
pub trait ListEntry {
    /// The TPML_* structure a list of these is, e.g. `"TPML_HANDLE"`.
    const TPML: &'static str;
}

/// Declares which TPML_* a list of each entry type is.
macro_rules! list_entry {
    ($($ty:ty => $tpml:literal),* $(,)?) => {
        $(impl $crate::wire::structures::ListEntry for $ty {
            const TPML: &'static str = $tpml;
        })*
    };
}
pub(crate) use list_entry;

/// A TPML_*: a u32 count then that many entries, at most `MAX`. The count is checked before
/// anything is allocated, and a list longer than `MAX` cannot be built, so whatever is
/// marshalled can be read back.
#[derive(Clone, PartialEq, Eq)]
pub struct TpmList<T, const MAX: usize>(Vec<T>);

impl<T, const MAX: usize> TpmList<T, MAX> {
    /// The most entries the list holds.
    pub const MAX: usize = MAX;

    /// A list with no entries (count 0).
    pub const fn empty() -> Self {
        TpmList(Vec::new())
    }

    /// The entries.
    pub fn as_slice(&self) -> &[T] {
        &self.0
    }

    /// The entries, as a `Vec`.
    pub fn into_vec(self) -> Vec<T> {
        self.0
    }
}

impl<T: ListEntry, const MAX: usize> TpmList<T, MAX> {
    /// A list of `items`; fails with [`WireError::TooMany`] if there are more than `MAX`.
    pub fn new(items: Vec<T>) -> Result<Self, WireError> {
        if items.len() > MAX {
            return Err(WireError::TooMany {
                what: T::TPML,
                count: items.len(),
                max: MAX,
            });
        }
        Ok(TpmList(items))
    }

    /// Appends one entry; fails with [`WireError::TooMany`] if the list is full.
    pub fn push(&mut self, item: T) -> Result<(), WireError> {
        if self.0.len() >= MAX {
            return Err(WireError::TooMany {
                what: T::TPML,
                count: self.0.len() + 1,
                max: MAX,
            });
        }
        self.0.push(item);
        Ok(())
    }
}

impl<T, const MAX: usize> Default for TpmList<T, MAX> {
    fn default() -> Self {
        Self::empty()
    }
}

impl<T, const MAX: usize> Deref for TpmList<T, MAX> {
    type Target = [T];
    fn deref(&self) -> &[T] {
        &self.0
    }
}

impl<T: ListEntry, const MAX: usize> TryFrom<Vec<T>> for TpmList<T, MAX> {
    type Error = WireError;
    fn try_from(items: Vec<T>) -> Result<Self, WireError> {
        Self::new(items)
    }
}

impl<T: fmt::Debug, const MAX: usize> fmt::Debug for TpmList<T, MAX> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.0.iter()).finish()
    }
}

impl<T: Marshal, const MAX: usize> Marshal for TpmList<T, MAX> {
    fn marshal(&self, w: &mut Writer<'_>) {
        // MAX is far below u32::MAX, so the count always fits.
        w.u32(self.0.len() as u32);
        for item in &self.0 {
            item.marshal(w);
        }
    }
}

impl<T: Unmarshal + ListEntry, const MAX: usize> Unmarshal for TpmList<T, MAX> {
    fn unmarshal(r: &mut Reader<'_>) -> Result<Self, WireError> {
        let count = r.u32()? as usize;
        if count > MAX {
            return Err(WireError::TooMany {
                what: T::TPML,
                count,
                max: MAX,
            });
        }
        let mut items = Vec::with_capacity(count);
        for _ in 0..count {
            items.push(T::unmarshal(r)?);
        }
        Ok(TpmList(items))
    }
}

/// Marshal/Unmarshal for a structure that is just its fields in order (no selectors, no
/// sizes). The field list must follow the specification's field order.
macro_rules! plain_struct_codec {
    ($name:ident { $($field:ident: $ty:ty),* }) => {
        impl Marshal for $name {
            fn marshal(&self, w: &mut Writer<'_>) {
                $(self.$field.marshal(w);)*
            }
        }
        impl Unmarshal for $name {
            fn unmarshal(r: &mut Reader<'_>) -> Result<Self, WireError> {
                Ok($name { $($field: <$ty>::unmarshal(r)?,)* })
            }
        }
    };
}
pub(crate) use plain_struct_codec;

/// Declares a TPMA_* bit-flag newtype. `Debug` prints the set flags by their specification
/// names, multi-bit fields as `name=value`, and any remaining (reserved) bits in hex.
macro_rules! tpm_attributes {
    (
        $(#[$m:meta])* $vis:vis struct $name:ident($int:ty) {
            $($(#[$fm:meta])* $flag:ident = $bit:expr => $fname:literal,)*
        }
        fields { $($(#[$dm:meta])* $getter:ident: $mask:expr => $dname:literal,)* }
    ) => {
        $(#[$m])*
        #[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
        $vis struct $name(pub $int);

        #[allow(dead_code)]
        impl $name {
            $(
                #[doc = concat!("`", $fname, "`: bit ", stringify!($bit), ".")]
                $(#[$fm])*
                pub const $flag: $name = $name(1 << $bit);
            )*

            const FLAG_NAMES: &'static [($int, &'static str)] = &[$((1 << $bit, $fname),)*];
            const FIELD_MASKS: &'static [($int, &'static str)] = &[$(($mask, $dname),)*];

            $(
                $(#[$dm])*
                pub fn $getter(self) -> $int {
                    (self.0 & $mask) >> ($mask as $int).trailing_zeros()
                }
            )*

            /// No bit set.
            pub const fn empty() -> Self {
                $name(0)
            }

            /// The raw bits, as on the wire.
            pub const fn bits(self) -> $int {
                self.0
            }

            /// Whether every bit of `other` is set in `self`.
            pub const fn contains(self, other: $name) -> bool {
                self.0 & other.0 == other.0
            }

            /// `self` with the bits of `other` set (`on`) or cleared.
            pub const fn with(self, other: $name, on: bool) -> Self {
                if on {
                    $name(self.0 | other.0)
                } else {
                    $name(self.0 & !other.0)
                }
            }
        }

        impl core::ops::BitOr for $name {
            type Output = $name;
            fn bitor(self, rhs: $name) -> $name {
                $name(self.0 | rhs.0)
            }
        }

        impl core::ops::BitOrAssign for $name {
            fn bitor_assign(&mut self, rhs: $name) {
                self.0 |= rhs.0;
            }
        }

        impl core::fmt::Debug for $name {
            fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
                let mut sep = "";
                let mut known: $int = 0;
                for &(bit, name) in Self::FLAG_NAMES {
                    known |= bit;
                    if self.0 & bit != 0 {
                        write!(f, "{sep}{name}")?;
                        sep = "|";
                    }
                }
                for &(mask, name) in Self::FIELD_MASKS {
                    known |= mask;
                    let value = (self.0 & mask) >> mask.trailing_zeros();
                    if value != 0 {
                        write!(f, "{sep}{name}=0x{value:x}")?;
                        sep = "|";
                    }
                }
                let rest = self.0 & !known;
                if rest != 0 || sep.is_empty() {
                    write!(f, "{sep}0x{rest:x}")?;
                }
                Ok(())
            }
        }

        $crate::wire::constants::int_newtype_codec!($name, $int);
    };
}

tpm_attributes! {
    /// TPMA_OBJECT
    pub struct ObjectAttributes(u32) {
        FIXED_TPM = 1 => "fixedTPM",
        ST_CLEAR = 2 => "stClear",
        FIXED_PARENT = 4 => "fixedParent",
        SENSITIVE_DATA_ORIGIN = 5 => "sensitiveDataOrigin",
        USER_WITH_AUTH = 6 => "userWithAuth",
        ADMIN_WITH_POLICY = 7 => "adminWithPolicy",
        FIRMWARE_LIMITED = 8 => "firmwareLimited",
        NO_DA = 10 => "noDA",
        ENCRYPTED_DUPLICATION = 11 => "encryptedDuplication",
        RESTRICTED = 16 => "restricted",
        DECRYPT = 17 => "decrypt",
        /// `sign` for asymmetric keys, `encrypt` for symmetric ones.
        SIGN_ENCRYPT = 18 => "sign/encrypt",
        X509_SIGN = 19 => "x509sign",
    }
    fields {}
}

impl ObjectAttributes {
    /// restricted|decrypt|fixedTPM|fixedParent|sensitiveDataOrigin|userWithAuth (0x00030072):
    /// a storage parent, as tpm2_createprimary makes by default.
    pub const STORAGE_PARENT: ObjectAttributes = ObjectAttributes(0x0003_0072);
}

tpm_attributes! {
    /// TPMA_NV. Bits 4-7 hold the index type (TPM_NT, see [`crate::wire::NvType`]).
    pub struct NvAttributes(u32) {
        PPWRITE = 0 => "ppwrite",
        OWNERWRITE = 1 => "ownerwrite",
        AUTHWRITE = 2 => "authwrite",
        POLICYWRITE = 3 => "policywrite",
        POLICY_DELETE = 10 => "policy_delete",
        WRITELOCKED = 11 => "writelocked",
        WRITEALL = 12 => "writeall",
        WRITEDEFINE = 13 => "writedefine",
        WRITE_STCLEAR = 14 => "write_stclear",
        GLOBALLOCK = 15 => "globallock",
        PPREAD = 16 => "ppread",
        OWNERREAD = 17 => "ownerread",
        AUTHREAD = 18 => "authread",
        POLICYREAD = 19 => "policyread",
        NO_DA = 25 => "no_da",
        ORDERLY = 26 => "orderly",
        CLEAR_STCLEAR = 27 => "clear_stclear",
        READLOCKED = 28 => "readlocked",
        WRITTEN = 29 => "written",
        PLATFORMCREATE = 30 => "platformcreate",
        READ_STCLEAR = 31 => "read_stclear",
    }
    fields {
        /// The TPM_NT field (bits 4-7).
        nt: 0x0000_00F0 => "nt",
    }
}

tpm_attributes! {
    /// TPMA_ALGORITHM
    pub struct AlgorithmAttributes(u32) {
        ASYMMETRIC = 0 => "asymmetric",
        SYMMETRIC = 1 => "symmetric",
        HASH = 2 => "hash",
        OBJECT = 3 => "object",
        SIGNING = 8 => "signing",
        ENCRYPTING = 9 => "encrypting",
        METHOD = 10 => "method",
    }
    fields {}
}

tpm_attributes! {
    /// TPMA_CC: a command's properties, as reported by TPM_CAP_COMMANDS.
    pub struct CommandAttributes(u32) {
        NV = 22 => "nv",
        EXTENSIVE = 23 => "extensive",
        FLUSHED = 24 => "flushed",
        R_HANDLE = 28 => "rHandle",
        /// Set for vendor-specific commands.
        V = 29 => "V",
    }
    fields {
        /// The command code's index (bits 0-15).
        command_index: 0x0000_FFFF => "commandIndex",
        /// How many handles the command takes (bits 25-27).
        c_handles: 0x0E00_0000 => "cHandles",
    }
}

tpm_attributes! {
    /// TPMA_LOCALITY. Values of 32 and above use the whole byte as an extended locality.
    pub struct LocalityAttributes(u8) {
        ZERO = 0 => "TPM_LOC_ZERO",
        ONE = 1 => "TPM_LOC_ONE",
        TWO = 2 => "TPM_LOC_TWO",
        THREE = 3 => "TPM_LOC_THREE",
        FOUR = 4 => "TPM_LOC_FOUR",
    }
    fields {
        /// Bits 5-7: the upper bits of an extended locality (0 for localities 0-4).
        extended: 0xE0 => "Extended",
    }
}

/// A ticket (TPMT_TK_CREATION, TPMT_TK_HASHCHECK, TPMT_TK_VERIFIED, TPMT_TK_AUTH): proof
/// from the TPM that it produced or checked something. The tag says which kind.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Ticket {
    /// Which kind of ticket: TPM_ST_CREATION, TPM_ST_HASHCHECK, TPM_ST_VERIFIED, TPM_ST_AUTH_SECRET
    /// or TPM_ST_AUTH_SIGNED.
    pub tag: StructureTag,
    /// The hierarchy whose proof value keyed the ticket's HMAC (TPM_RH_NULL for a NULL ticket).
    pub hierarchy: Handle,
    /// The HMAC, keyed with that hierarchy's proof; empty for a NULL ticket.
    pub digest: Digest,
}

/// TPMT_TK_CREATION (tag TPM_ST_CREATION).
pub type CreationTicket = Ticket;
/// TPMT_TK_HASHCHECK (tag TPM_ST_HASHCHECK).
pub type HashcheckTicket = Ticket;
/// TPMT_TK_VERIFIED (tag TPM_ST_VERIFIED).
pub type VerifiedTicket = Ticket;
/// TPMT_TK_AUTH (tag TPM_ST_AUTH_SECRET or TPM_ST_AUTH_SIGNED).
pub type AuthTicket = Ticket;

impl Ticket {
    /// The NULL ticket a command takes when it has none: `tag` with TPM_RH_NULL and an
    /// empty digest (e.g. TPM2_Sign's validation for an unrestricted key).
    pub fn null(tag: StructureTag) -> Self {
        Ticket {
            tag,
            hierarchy: Handle::RH_NULL,
            digest: Digest::empty(),
        }
    }
}

impl Marshal for Ticket {
    fn marshal(&self, w: &mut Writer<'_>) {
        self.tag.marshal(w);
        self.hierarchy.marshal(w);
        self.digest.marshal(w);
    }
}

impl Unmarshal for Ticket {
    fn unmarshal(r: &mut Reader<'_>) -> Result<Self, WireError> {
        Ok(Ticket {
            tag: StructureTag::unmarshal(r)?,
            hierarchy: Handle::unmarshal(r)?,
            digest: Digest::unmarshal(r)?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn attribute_debug_names_flags_fields_and_reserved_bits() {
        assert_eq!(
            format!("{:?}", ObjectAttributes::STORAGE_PARENT),
            "fixedTPM|fixedParent|sensitiveDataOrigin|userWithAuth|restricted|decrypt"
        );
        assert_eq!(
            format!("{:?}", ObjectAttributes((1 << 30) | (1 << 1))),
            "fixedTPM|0x40000000"
        );
        assert_eq!(format!("{:?}", ObjectAttributes(0)), "0x0");
        let cc = CommandAttributes(0x0240_017a);
        assert_eq!(cc.command_index(), 0x17a);
        assert_eq!(cc.c_handles(), 1);
        assert_eq!(format!("{cc:?}"), "nv|commandIndex=0x17a|cHandles=0x1");
        assert_eq!(NvAttributes(0x0000_0010).nt(), 1);
    }

    #[test]
    fn list_count_is_checked_before_reading_entries() {
        type Small = TpmList<Handle, 2>;
        assert!(Small::new(vec![Handle(1), Handle(2), Handle(3)]).is_err());
        // Claims 3 entries but supplies none: rejected for the count, not truncation.
        assert!(matches!(
            Small::from_bytes(&[0, 0, 0, 3]),
            Err(WireError::TooMany { count: 3, .. })
        ));
        let mut l = Small::new(vec![Handle(7)]).unwrap();
        l.push(Handle(8)).unwrap();
        assert!(l.push(Handle(9)).is_err());
        assert_eq!(Small::from_bytes(&l.to_bytes()).unwrap(), l);
    }
}
