//! The event data of TCG PC Client firmware log events, decoded by event type, and the
//! secure-boot facts a verifier draws from them.
//!
//! [`decode_event`] takes an event's type and data, as any log parser hands them out, and
//! returns an [`EventData`]. It does not need the log: the same bytes reach it from
//! [`super`]'s parser, from a test, or from a fuzzer. [`SecureBootState::from_events`] takes
//! `(type, PCR, data)` triples and gathers the secure-boot configuration (the `SecureBoot`
//! variable, PK, KEK, db, dbx), the authorities firmware measured into PCR 7 and the images
//! it loaded.
//!
//! Event data is written by firmware and carried by an agent the verifier does not trust. Every
//! length and count is checked against the bytes that remain before it is used, nothing is
//! allocated beyond a constant factor of the input, and the work is linear in it. A structure
//! that does not fit gives a [`UefiError`] naming the field and its offset within the event
//! data.
//!
//! Text choices:
//! - UEFI variable names must be valid UTF-16: an unpaired surrogate is an error. A name is
//!   what well-known variables are recognised by, so two different unit sequences must never
//!   map to the same `String`.
//! - Names that are only shown (partition names, boot option descriptions, file paths in
//!   device paths) are decoded with U+FFFD in place of unpaired surrogates; the raw bytes stay
//!   available where the structure keeps them (device path nodes).
//! - Action strings (`EV_ACTION`, `EV_EFI_ACTION`) must be printable ASCII (tab, CR and LF
//!   allowed), with trailing NULs dropped.

use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;

/// Why the data of an event could not be decoded. Offsets count bytes from the start of the
/// event data.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum UefiError {
    /// A field or structure runs past the end of the data.
    #[error("{what} at offset {offset} needs {needed} bytes, {available} left")]
    Truncated {
        /// The field or structure.
        what: &'static str,
        /// Where it starts.
        offset: usize,
        /// Bytes it needs.
        needed: u64,
        /// Bytes that remain from `offset`.
        available: usize,
    },
    /// The structure ended but bytes were left over.
    #[error("{what}: {extra} bytes left over at offset {offset}")]
    TrailingBytes {
        /// The structure.
        what: &'static str,
        /// Where the extra bytes start.
        offset: usize,
        /// How many there are.
        extra: usize,
    },
    /// A field holds a value its structure does not allow.
    #[error("invalid {what} at offset {offset}: {value:#x}")]
    Invalid {
        /// The field.
        what: &'static str,
        /// Where it is.
        offset: usize,
        /// The value found.
        value: u64,
    },
    /// A Spec ID event that a log could not open with.
    #[error("the Spec ID event, at offset {offset}: {reason}")]
    SpecId {
        /// Where the offending field is.
        offset: usize,
        /// What is wrong.
        reason: &'static str,
    },
    /// An area is not a whole number of the entries it holds.
    #[error("{what} at offset {offset}: {size} bytes is not a multiple of {unit}")]
    NotMultiple {
        /// The area.
        what: &'static str,
        /// Where it starts.
        offset: usize,
        /// Its size in bytes.
        size: u64,
        /// The entry size.
        unit: u64,
    },
    /// UTF-16 text holds an unpaired surrogate.
    #[error("{what} at offset {offset}: unpaired UTF-16 surrogate {unit:#06x}")]
    Utf16 {
        /// The text field.
        what: &'static str,
        /// Where the surrogate is.
        offset: usize,
        /// The surrogate.
        unit: u16,
    },
    /// Text that must be printable ASCII holds another byte.
    #[error("{what} at offset {offset}: byte {byte:#04x} is not printable ASCII")]
    NotAscii {
        /// The text field.
        what: &'static str,
        /// Where the byte is.
        offset: usize,
        /// The byte.
        byte: u8,
    },
}

/// A bounds-checked little-endian reader over event data; `base` is the offset of `data` in
/// the event, so errors name positions the caller can find.
struct Reader<'a> {
    data: &'a [u8],
    pos: usize,
    base: usize,
}

impl<'a> Reader<'a> {
    fn new(data: &'a [u8], base: usize) -> Self {
        Reader { data, pos: 0, base }
    }

    fn offset(&self) -> usize {
        self.base + self.pos
    }

    fn remaining(&self) -> usize {
        self.data.len() - self.pos
    }

    fn bytes(&mut self, n: u64, what: &'static str) -> Result<&'a [u8], UefiError> {
        let available = self.remaining();
        match usize::try_from(n) {
            Ok(n) if n <= available => {
                let out = &self.data[self.pos..self.pos + n];
                self.pos += n;
                Ok(out)
            }
            _ => Err(UefiError::Truncated {
                what,
                offset: self.offset(),
                needed: n,
                available,
            }),
        }
    }

    fn array<const N: usize>(&mut self, what: &'static str) -> Result<[u8; N], UefiError> {
        let b = self.bytes(N as u64, what)?;
        let mut out = [0u8; N];
        out.copy_from_slice(b);
        Ok(out)
    }

    fn u8(&mut self, what: &'static str) -> Result<u8, UefiError> {
        Ok(self.array::<1>(what)?[0])
    }

    fn u16(&mut self, what: &'static str) -> Result<u16, UefiError> {
        Ok(u16::from_le_bytes(self.array(what)?))
    }

    fn u32(&mut self, what: &'static str) -> Result<u32, UefiError> {
        Ok(u32::from_le_bytes(self.array(what)?))
    }

    fn u64(&mut self, what: &'static str) -> Result<u64, UefiError> {
        Ok(u64::from_le_bytes(self.array(what)?))
    }

    fn guid(&mut self, what: &'static str) -> Result<Guid, UefiError> {
        Ok(Guid(self.array(what)?))
    }

    fn rest(&mut self) -> &'a [u8] {
        let out = &self.data[self.pos..];
        self.pos = self.data.len();
        out
    }

    fn finish(&self, what: &'static str) -> Result<(), UefiError> {
        match self.remaining() {
            0 => Ok(()),
            extra => Err(UefiError::TrailingBytes {
                what,
                offset: self.offset(),
                extra,
            }),
        }
    }
}

// The event type is the log's: one type for the framing and the decoding.
use super::log::parse_spec_id;
pub use super::log::{AlgorithmSize, EventType, SpecId};

/// A UEFI GUID as its 16 bytes appear in memory and in event data (the first three fields
/// little-endian). Displayed in the registry form, `8be4df61-93ca-11d2-aa0d-00e098032b8c`.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Guid(pub [u8; 16]);

impl Guid {
    /// The GUID with these fields, as the UEFI specification writes them.
    pub const fn from_fields(d1: u32, d2: u16, d3: u16, d4: [u8; 8]) -> Self {
        let a = d1.to_le_bytes();
        let b = d2.to_le_bytes();
        let c = d3.to_le_bytes();
        Guid([
            a[0], a[1], a[2], a[3], b[0], b[1], c[0], c[1], d4[0], d4[1], d4[2], d4[3], d4[4],
            d4[5], d4[6], d4[7],
        ])
    }

    /// `EFI_GLOBAL_VARIABLE`: SecureBoot, PK, KEK, BootOrder, Boot####.
    pub const EFI_GLOBAL_VARIABLE: Guid = Guid::from_fields(
        0x8be4_df61,
        0x93ca,
        0x11d2,
        [0xaa, 0x0d, 0x00, 0xe0, 0x98, 0x03, 0x2b, 0x8c],
    );
    /// `EFI_IMAGE_SECURITY_DATABASE_GUID`: db and dbx.
    pub const IMAGE_SECURITY_DATABASE: Guid = Guid::from_fields(
        0xd719_b2cb,
        0x3d3a,
        0x4596,
        [0xa3, 0xbc, 0xda, 0xd0, 0x0e, 0x67, 0x65, 0x6f],
    );
    /// `EFI_CERT_X509_GUID`: a signature list of DER X.509 certificates.
    pub const CERT_X509: Guid = Guid::from_fields(
        0xa5c0_59a1,
        0x94e4,
        0x4aa7,
        [0x87, 0xb5, 0xab, 0x15, 0x5c, 0x2b, 0xf0, 0x72],
    );
    /// `EFI_CERT_SHA256_GUID`: a signature list of SHA-256 image digests.
    pub const CERT_SHA256: Guid = Guid::from_fields(
        0xc1c4_1626,
        0x504c,
        0x4092,
        [0xac, 0xa9, 0x41, 0xf9, 0x36, 0x93, 0x43, 0x28],
    );
    /// shim's vendor GUID (`SHIM_LOCK_GUID`), under which it measures `SbatLevel`, `MokList`
    /// and its built-in certificate.
    pub const SHIM_LOCK: Guid = Guid::from_fields(
        0x605d_ab50,
        0xe046,
        0x4300,
        [0xab, 0xb6, 0x3d, 0xd8, 0x10, 0xdd, 0x8b, 0x23],
    );
}

impl fmt::Display for Guid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let g = &self.0;
        write!(
            f,
            "{:08x}-{:04x}-{:04x}-{:02x}{:02x}-{:02x}{:02x}{:02x}{:02x}{:02x}{:02x}",
            u32::from_le_bytes([g[0], g[1], g[2], g[3]]),
            u16::from_le_bytes([g[4], g[5]]),
            u16::from_le_bytes([g[6], g[7]]),
            g[8],
            g[9],
            g[10],
            g[11],
            g[12],
            g[13],
            g[14],
            g[15]
        )
    }
}

impl fmt::Debug for Guid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

/// UTF-16LE code units from bytes (an odd last byte is the caller's to reject).
fn units(bytes: &[u8]) -> impl Iterator<Item = u16> + '_ {
    bytes
        .chunks_exact(2)
        .map(|c| u16::from_le_bytes([c[0], c[1]]))
}

/// UTF-16LE to a `String`, refusing unpaired surrogates; `offset` is where `bytes` starts.
fn utf16_strict(bytes: &[u8], what: &'static str, offset: usize) -> Result<String, UefiError> {
    let mut out = String::with_capacity(bytes.len() / 2);
    let mut at = 0usize;
    for r in char::decode_utf16(units(bytes)) {
        match r {
            Ok(c) => {
                out.push(c);
                at += c.len_utf16();
            }
            Err(e) => {
                return Err(UefiError::Utf16 {
                    what,
                    offset: offset + 2 * at,
                    unit: e.unpaired_surrogate(),
                })
            }
        }
    }
    Ok(out)
}

/// UTF-16LE up to the first NUL, unpaired surrogates shown as U+FFFD (display-only text).
fn utf16_lossy_to_nul(bytes: &[u8]) -> String {
    char::decode_utf16(units(bytes).take_while(|&u| u != 0))
        .map(|r| r.unwrap_or(char::REPLACEMENT_CHARACTER))
        .collect()
}

/// Drops trailing NULs: firmware and boot loaders differ on whether they measure the C
/// terminator, and the text is the same either way.
fn trim_nuls(mut b: &[u8]) -> &[u8] {
    while let [rest @ .., 0] = b {
        b = rest;
    }
    b
}

fn printable_ascii(bytes: &[u8], what: &'static str, offset: usize) -> Result<String, UefiError> {
    let trimmed = trim_nuls(bytes);
    for (i, &b) in trimmed.iter().enumerate() {
        if !(b == b' ' || b.is_ascii_graphic() || b == b'\t' || b == b'\n' || b == b'\r') {
            return Err(UefiError::NotAscii {
                what,
                offset: offset + i,
                byte: b,
            });
        }
    }
    // Every byte was checked to be ASCII, so this is the identity.
    Ok(trimmed.iter().map(|&b| char::from(b)).collect())
}

/// The total length of the DER SEQUENCE `b` starts with, from its tag and length octets only.
fn der_sequence_len(b: &[u8]) -> Option<usize> {
    let (&tag, rest) = b.split_first()?;
    if tag != 0x30 {
        return None;
    }
    let (&first, rest) = rest.split_first()?;
    if first < 0x80 {
        return Some(2 + usize::from(first));
    }
    let n = usize::from(first & 0x7f);
    if n == 0 || n > 4 || rest.len() < n {
        return None;
    }
    let len = rest[..n]
        .iter()
        .fold(0usize, |acc, &x| (acc << 8) | usize::from(x));
    len.checked_add(2 + n)
}

/// Whether `b` is exactly one DER SEQUENCE, as an X.509 certificate is.
fn is_der_sequence(b: &[u8]) -> bool {
    der_sequence_len(b) == Some(b.len())
}

/// A DER X.509 certificate, kept as the bytes firmware measured. Only the outer SEQUENCE's
/// length is checked here; parsing is left to the verifier (or `Certificate::parse` with the
/// `ek` feature).
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Certificate(pub Vec<u8>);

impl Certificate {
    /// The DER bytes.
    pub fn der(&self) -> &[u8] {
        &self.0
    }

    /// The certificate parsed.
    ///
    /// # Errors
    ///
    /// The DER decoder's error when the bytes are not a certificate.
    #[cfg(feature = "ek")]
    pub fn parse(&self) -> Result<x509_cert::Certificate, x509_cert::der::Error> {
        use x509_cert::der::Decode;
        x509_cert::Certificate::from_der(&self.0)
    }
}

impl fmt::Debug for Certificate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Certificate({} bytes DER)", self.0.len())
    }
}

/// The data of one `EFI_SIGNATURE_DATA`, by the type of its list.
#[derive(Clone, PartialEq, Eq, Debug)]
#[non_exhaustive]
pub enum SignatureData {
    /// A certificate (`EFI_CERT_X509_GUID`).
    X509(Certificate),
    /// A SHA-256 image digest (`EFI_CERT_SHA256_GUID`).
    Sha256([u8; 32]),
    /// Another type's data, as it is; the type GUID is the list's (or unknown, for a lone
    /// authority).
    Other(Vec<u8>),
}

/// One `EFI_SIGNATURE_DATA`: who enrolled it and what it is.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct SignatureEntry {
    /// `SignatureOwner`.
    pub owner: Guid,
    /// The certificate, digest or other data.
    pub data: SignatureData,
}

/// One `EFI_SIGNATURE_LIST`: entries of one type and size.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct SignatureList {
    /// `SignatureType`.
    pub signature_type: Guid,
    /// The type-specific `SignatureHeader` (empty for X.509 and SHA-256).
    pub header: Vec<u8>,
    /// The entries.
    pub entries: Vec<SignatureEntry>,
}

const SIGNATURE_LIST_HEADER: u64 = 28;
const SIGNATURE_OWNER: u64 = 16;

/// Decodes the contents of a signature database variable (PK, KEK, db, dbx): a sequence of
/// `EFI_SIGNATURE_LIST`s, which may be empty. `base` is the offset of `data` in the event data
/// (0 when it is not inside an event).
///
/// # Errors
///
/// [`UefiError::Truncated`] when a list runs past the data; [`UefiError::Invalid`] when
/// `SignatureListSize` is smaller than its header and `SignatureHeaderSize`, `SignatureSize` is
/// under 16, an X.509 entry is not exactly one DER SEQUENCE or a SHA-256 entry is not 32 bytes;
/// [`UefiError::NotMultiple`] when the entries area is not a multiple of `SignatureSize`.
pub fn decode_signature_lists(data: &[u8], base: usize) -> Result<Vec<SignatureList>, UefiError> {
    let mut r = Reader::new(data, base);
    let mut lists = Vec::new();
    while r.remaining() > 0 {
        let start = r.offset();
        let signature_type = r.guid("EFI_SIGNATURE_LIST header")?;
        let list_size = r.u32("SignatureListSize")?;
        let header_size = r.u32("SignatureHeaderSize")?;
        let sig_size_at = r.offset();
        let sig_size = r.u32("SignatureSize")?;
        let fixed = SIGNATURE_LIST_HEADER + u64::from(header_size);
        if u64::from(list_size) < fixed {
            return Err(UefiError::Invalid {
                what: "SignatureListSize (below header and SignatureHeaderSize)",
                offset: start + 16,
                value: list_size.into(),
            });
        }
        if u64::from(sig_size) < SIGNATURE_OWNER {
            return Err(UefiError::Invalid {
                what: "SignatureSize (below 16)",
                offset: sig_size_at,
                value: sig_size.into(),
            });
        }
        // Checked before anything is read, so a list running past the data fails as a whole.
        let body_len = u64::from(list_size) - SIGNATURE_LIST_HEADER;
        let body_at = r.offset();
        let body = r.bytes(body_len, "EFI_SIGNATURE_LIST")?;
        let (header, entries_area) = body.split_at(header_size as usize);
        let entries_at = body_at + header.len();
        if entries_area.len() as u64 % u64::from(sig_size) != 0 {
            return Err(UefiError::NotMultiple {
                what: "EFI_SIGNATURE_LIST entries",
                offset: entries_at,
                size: entries_area.len() as u64,
                unit: sig_size.into(),
            });
        }
        if signature_type == Guid::CERT_SHA256 && sig_size != 16 + 32 {
            return Err(UefiError::Invalid {
                what: "SignatureSize of an EFI_CERT_SHA256 list",
                offset: sig_size_at,
                value: sig_size.into(),
            });
        }
        // sig_size >= 16, so the count is at most a sixteenth of the input.
        let mut entries = Vec::with_capacity(entries_area.len() / sig_size as usize);
        for (i, chunk) in entries_area.chunks_exact(sig_size as usize).enumerate() {
            let at = entries_at + i * sig_size as usize;
            let (owner, payload) = chunk.split_at(16);
            let owner = Guid(owner.try_into().expect("16-byte split"));
            let data = if signature_type == Guid::CERT_X509 {
                if !is_der_sequence(payload) {
                    return Err(UefiError::Invalid {
                        what: "X.509 entry (not one DER SEQUENCE)",
                        offset: at + 16,
                        value: payload.len() as u64,
                    });
                }
                SignatureData::X509(Certificate(payload.to_vec()))
            } else if signature_type == Guid::CERT_SHA256 {
                SignatureData::Sha256(payload.try_into().expect("size checked above"))
            } else {
                SignatureData::Other(payload.to_vec())
            };
            entries.push(SignatureEntry { owner, data });
        }
        lists.push(SignatureList {
            signature_type,
            header: header.to_vec(),
            entries,
        });
    }
    Ok(lists)
}

/// A well-known UEFI variable, recognised by vendor GUID and name.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
#[non_exhaustive]
pub enum WellKnownVariable {
    /// `SecureBoot` (global): whether secure boot is enforced.
    SecureBoot,
    /// `PK` (global): the platform key.
    Pk,
    /// `KEK` (global): the key exchange keys.
    Kek,
    /// `db` (image security database): what may run.
    Db,
    /// `dbx` (image security database): what must not run.
    Dbx,
    /// `BootOrder` (global).
    BootOrder,
    /// `Boot####` (global), with its number.
    Boot(u16),
}

impl WellKnownVariable {
    /// Recognises `name` under `guid`.
    pub fn recognise(guid: &Guid, name: &str) -> Option<Self> {
        if *guid == Guid::IMAGE_SECURITY_DATABASE {
            return match name {
                "db" => Some(Self::Db),
                "dbx" => Some(Self::Dbx),
                _ => None,
            };
        }
        if *guid != Guid::EFI_GLOBAL_VARIABLE {
            return None;
        }
        match name {
            "SecureBoot" => Some(Self::SecureBoot),
            "PK" => Some(Self::Pk),
            "KEK" => Some(Self::Kek),
            "BootOrder" => Some(Self::BootOrder),
            _ => {
                // The specification spells the number as four upper-case hex digits.
                let digits = name.strip_prefix("Boot")?;
                if digits.len() == 4
                    && digits
                        .bytes()
                        .all(|b| b.is_ascii_digit() || (b'A'..=b'F').contains(&b))
                {
                    u16::from_str_radix(digits, 16).ok().map(Self::Boot)
                } else {
                    None
                }
            }
        }
    }
}

/// An `EFI_LOAD_OPTION`, the contents of a `Boot####` variable.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct LoadOption {
    /// `Attributes` (bit 0: active).
    pub attributes: u32,
    /// `Description`, for display (unpaired surrogates shown as U+FFFD).
    pub description: String,
    /// `FilePathList`.
    pub file_path: DevicePath,
    /// `OptionalData`.
    pub optional_data: Vec<u8>,
}

impl LoadOption {
    fn decode(data: &[u8], base: usize) -> Result<Self, UefiError> {
        let mut r = Reader::new(data, base);
        let attributes = r.u32("EFI_LOAD_OPTION Attributes")?;
        let path_len = r.u16("FilePathListLength")?;
        let desc_at = r.offset();
        let rest = &data[r.pos..];
        // The description runs to its NUL unit, which must be there.
        let units_len =
            rest.chunks_exact(2)
                .position(|c| c == [0, 0])
                .ok_or(UefiError::Truncated {
                    what: "EFI_LOAD_OPTION Description (no NUL)",
                    offset: desc_at,
                    needed: rest.len() as u64 + 2,
                    available: rest.len(),
                })?;
        let desc = r.bytes(2 * units_len as u64 + 2, "Description")?;
        let description = utf16_lossy_to_nul(desc);
        let path_at = r.offset();
        let path = r.bytes(path_len.into(), "FilePathList")?;
        let file_path = DevicePath::decode(path, path_at)?;
        Ok(LoadOption {
            attributes,
            description,
            file_path,
            optional_data: r.rest().to_vec(),
        })
    }
}

/// What a variable's data holds, when the variable is one this module knows.
#[derive(Clone, PartialEq, Eq, Debug)]
#[non_exhaustive]
pub enum VariableContents {
    /// `SecureBoot`: one byte, 1 (enabled) or 0; empty data (the variable did not exist)
    /// is 0.
    SecureBoot(bool),
    /// PK, KEK, db or dbx.
    SignatureLists(Vec<SignatureList>),
    /// `BootOrder`: option numbers.
    BootOrder(Vec<u16>),
    /// `Boot####`.
    LoadOption(LoadOption),
    /// The authority of an `EV_EFI_VARIABLE_AUTHORITY` event.
    Authority(Authority),
    /// A variable this module does not interpret; its bytes are in [`Variable::data`].
    Unknown,
}

/// A `UEFI_VARIABLE_DATA`: the variable's GUID, name and data, and the data decoded when the
/// variable is well known.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct Variable {
    /// `VariableName` (the vendor GUID).
    pub guid: Guid,
    /// `UnicodeName`.
    pub name: String,
    /// `VariableData`.
    pub data: Vec<u8>,
    /// `data` decoded.
    pub contents: VariableContents,
    /// Bytes after `VariableData` that the event data holds. Some shim releases measure a
    /// few bytes past the structure; they count for the digest but carry no meaning.
    pub trailing: usize,
}

impl Variable {
    /// Which well-known variable this is.
    pub fn well_known(&self) -> Option<WellKnownVariable> {
        WellKnownVariable::recognise(&self.guid, &self.name)
    }

    /// Splits `UEFI_VARIABLE_DATA` into GUID, name and data, the data's offset and the count of
    /// bytes after it.
    fn decode_raw(data: &[u8]) -> Result<(Guid, String, &[u8], usize, usize), UefiError> {
        let mut r = Reader::new(data, 0);
        let guid = r.guid("UEFI_VARIABLE_DATA VariableName")?;
        let name_len_at = r.offset();
        let name_len = r.u64("UnicodeNameLength")?;
        let data_len = r.u64("VariableDataLength")?;
        let name_bytes = name_len.checked_mul(2).ok_or(UefiError::Invalid {
            what: "UnicodeNameLength",
            offset: name_len_at,
            value: name_len,
        })?;
        let name_at = r.offset();
        let name = r.bytes(name_bytes, "UnicodeName")?;
        let name = utf16_strict(name, "UnicodeName", name_at)?;
        let data_at = r.offset();
        let value = r.bytes(data_len, "VariableData")?;
        Ok((guid, name, value, data_at, r.remaining()))
    }

    /// Decodes the data of an `EV_EFI_VARIABLE_DRIVER_CONFIG`, `EV_EFI_VARIABLE_BOOT` or
    /// `EV_EFI_VARIABLE_BOOT2` event, interpreting the contents of the well-known variables.
    ///
    /// # Errors
    ///
    /// The header or a field does not fit (bytes after `VariableData` are counted in
    /// `trailing`, not refused), the name is not valid UTF-16, or a well-known
    /// variable's contents are malformed (a `SecureBoot` value other than one byte 0 or 1, a
    /// bad signature list, an odd-length `BootOrder`, a bad load option). An empty
    /// `SecureBoot`, which is how firmware measures it when it does not exist, is `false`.
    pub fn decode(data: &[u8]) -> Result<Self, UefiError> {
        let (guid, name, value, at, trailing) = Self::decode_raw(data)?;
        let contents = match WellKnownVariable::recognise(&guid, &name) {
            Some(WellKnownVariable::SecureBoot) => match value {
                // Firmware measures an absent variable as empty data: no secure boot.
                [] | [0] => VariableContents::SecureBoot(false),
                [1] => VariableContents::SecureBoot(true),
                [v] => {
                    return Err(UefiError::Invalid {
                        what: "SecureBoot value",
                        offset: at,
                        value: (*v).into(),
                    })
                }
                _ => {
                    return Err(UefiError::Invalid {
                        what: "SecureBoot length (not 1)",
                        offset: at,
                        value: value.len() as u64,
                    })
                }
            },
            Some(
                WellKnownVariable::Pk
                | WellKnownVariable::Kek
                | WellKnownVariable::Db
                | WellKnownVariable::Dbx,
            ) => VariableContents::SignatureLists(decode_signature_lists(value, at)?),
            Some(WellKnownVariable::BootOrder) => {
                if value.len() % 2 != 0 {
                    return Err(UefiError::NotMultiple {
                        what: "BootOrder",
                        offset: at,
                        size: value.len() as u64,
                        unit: 2,
                    });
                }
                VariableContents::BootOrder(units(value).collect())
            }
            Some(WellKnownVariable::Boot(_)) => {
                VariableContents::LoadOption(LoadOption::decode(value, at)?)
            }
            None => VariableContents::Unknown,
        };
        Ok(Variable {
            guid,
            name,
            data: value.to_vec(),
            contents,
            trailing,
        })
    }

    /// Splits the data of any variable event (`EV_EFI_VARIABLE_*`) into GUID, name and data
    /// without interpreting the data; `contents` is always [`VariableContents::Unknown`].
    /// For showing a variable as it was measured: a well-known variable whose contents
    /// [`Variable::decode`] refuses (a malformed db, a two-byte `SecureBoot`) still shows.
    ///
    /// # Errors
    ///
    /// The header or a field does not fit, or the name is not valid UTF-16.
    pub fn decode_plain(data: &[u8]) -> Result<Self, UefiError> {
        let (guid, name, value, _, trailing) = Self::decode_raw(data)?;
        Ok(Variable {
            guid,
            name,
            data: value.to_vec(),
            contents: VariableContents::Unknown,
            trailing,
        })
    }

    /// Decodes the data of an `EV_EFI_VARIABLE_AUTHORITY` event; `contents` is always
    /// [`VariableContents::Authority`]. See [`Authority`] for the forms recognised.
    ///
    /// # Errors
    ///
    /// The header or a field does not fit, or the name is not valid UTF-16.
    pub fn decode_authority(data: &[u8]) -> Result<Self, UefiError> {
        let (guid, name, value, at, trailing) = Self::decode_raw(data)?;
        let authority = Authority::decode(&guid, &name, value, at);
        Ok(Variable {
            guid,
            name,
            data: value.to_vec(),
            contents: VariableContents::Authority(authority),
            trailing,
        })
    }
}

/// What an `EV_EFI_VARIABLE_AUTHORITY` event says verified an image.
///
/// The specification has firmware measure the `EFI_SIGNATURE_DATA` from db that verified the
/// image. Logs in the field also hold a bare certificate (shim releases that dropped the
/// owner GUID), a whole one-entry `EFI_SIGNATURE_LIST`, and shim's `SbatLevel`. The forms are
/// tried in this order, and the first that accounts for every byte wins:
/// 1. `SbatLevel` under shim's GUID: [`Authority::Sbat`];
/// 2. an owner GUID followed by exactly one DER SEQUENCE: a certificate with its owner;
/// 3. exactly one DER SEQUENCE: [`Authority::BareCertificate`];
/// 4. a well-formed signature list sequence with exactly one list of one entry:
///    [`Authority::SignatureList`];
/// 5. an owner GUID and data: 32 bytes are a SHA-256 digest, anything else is kept as
///    [`SignatureData::Other`];
/// 6. data shorter than an owner GUID (shim's `MokListTrusted` switch, one byte):
///    [`Authority::Other`].
///
/// Only the first four name a signer ([`Authority::is_signer`]).
#[derive(Clone, PartialEq, Eq, Debug)]
#[non_exhaustive]
pub enum Authority {
    /// An `EFI_SIGNATURE_DATA`, as the specification has it.
    Signature(SignatureEntry),
    /// A certificate without its owner GUID.
    BareCertificate(Certificate),
    /// A whole `EFI_SIGNATURE_LIST` with one entry.
    SignatureList(SignatureList),
    /// shim's `SbatLevel` (revocation levels as CSV text, not a signer).
    Sbat(Vec<u8>),
    /// Data too short to be a signature (not a signer).
    Other(Vec<u8>),
}

impl Authority {
    fn decode(guid: &Guid, name: &str, data: &[u8], at: usize) -> Self {
        if *guid == Guid::SHIM_LOCK && name == "SbatLevel" {
            return Authority::Sbat(data.to_vec());
        }
        if data.len() > 16 && is_der_sequence(&data[16..]) {
            return Authority::Signature(SignatureEntry {
                owner: Guid(data[..16].try_into().expect("16 bytes")),
                data: SignatureData::X509(Certificate(data[16..].to_vec())),
            });
        }
        if is_der_sequence(data) {
            return Authority::BareCertificate(Certificate(data.to_vec()));
        }
        if let Ok(mut lists) = decode_signature_lists(data, at) {
            if lists.len() == 1 && lists[0].entries.len() == 1 {
                return Authority::SignatureList(lists.remove(0));
            }
        }
        if data.len() < 16 {
            return Authority::Other(data.to_vec());
        }
        let (owner, rest) = data.split_at(16);
        let payload = match <[u8; 32]>::try_from(rest) {
            Ok(digest) => SignatureData::Sha256(digest),
            Err(_) => SignatureData::Other(rest.to_vec()),
        };
        Authority::Signature(SignatureEntry {
            owner: Guid(owner.try_into().expect("16 bytes")),
            data: payload,
        })
    }

    /// Whether this names what verified an image (a certificate, digest or other signature
    /// entry), rather than shim's settings.
    pub fn is_signer(&self) -> bool {
        matches!(
            self,
            Authority::Signature(_) | Authority::BareCertificate(_) | Authority::SignatureList(_)
        )
    }

    /// The certificate, when the authority is one.
    pub fn certificate(&self) -> Option<&Certificate> {
        match self {
            Authority::Signature(SignatureEntry {
                data: SignatureData::X509(c),
                ..
            })
            | Authority::BareCertificate(c) => Some(c),
            Authority::SignatureList(list) => match list.entries.first() {
                Some(SignatureEntry {
                    data: SignatureData::X509(c),
                    ..
                }) => Some(c),
                _ => None,
            },
            _ => None,
        }
    }

    /// The image digest, when the authority is a db hash.
    pub fn sha256(&self) -> Option<&[u8; 32]> {
        match self {
            Authority::Signature(SignatureEntry {
                data: SignatureData::Sha256(d),
                ..
            }) => Some(d),
            Authority::SignatureList(list) => match list.entries.first() {
                Some(SignatureEntry {
                    data: SignatureData::Sha256(d),
                    ..
                }) => Some(d),
                _ => None,
            },
            _ => None,
        }
    }
}

/// A device path node: `Type`, `SubType` and the bytes after the 4-byte header.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct DevicePathNode {
    /// `Type` (1 hardware, 2 ACPI, 3 messaging, 4 media, 5 BIOS boot, 0x7f end).
    pub node_type: u8,
    /// `SubType`.
    pub subtype: u8,
    /// The node's data.
    pub data: Vec<u8>,
}

/// The fields of a hard drive media node (type 4, subtype 1).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct HardDrive {
    /// `PartitionNumber`.
    pub partition: u32,
    /// `PartitionStart` (LBA).
    pub start: u64,
    /// `PartitionSize` (blocks).
    pub size: u64,
    /// `PartitionSignature` (a GUID for GPT, the first 4 bytes for MBR).
    pub signature: [u8; 16],
    /// `MBRType` (1 MBR, 2 GPT).
    pub mbr_type: u8,
    /// `SignatureType` (0 none, 1 MBR, 2 GUID).
    pub signature_type: u8,
}

impl DevicePathNode {
    /// The UTF-16 path of a file path media node (type 4, subtype 4), for display.
    pub fn file_path(&self) -> Option<String> {
        (self.node_type == 4 && self.subtype == 4).then(|| utf16_lossy_to_nul(&self.data))
    }

    /// The fields of a hard drive media node (type 4, subtype 1) of the right size.
    pub fn hard_drive(&self) -> Option<HardDrive> {
        if self.node_type != 4 || self.subtype != 1 || self.data.len() != 38 {
            return None;
        }
        let mut r = Reader::new(&self.data, 0);
        // The length was checked, so none of these reads can fail.
        Some(HardDrive {
            partition: r.u32("").ok()?,
            start: r.u64("").ok()?,
            size: r.u64("").ok()?,
            signature: r.array("").ok()?,
            mbr_type: r.u8("").ok()?,
            signature_type: r.u8("").ok()?,
        })
    }

    /// Whether this is the node ending the whole path (0x7f, 0xff).
    pub fn is_end(&self) -> bool {
        self.node_type == 0x7f && self.subtype == 0xff
    }
}

impl fmt::Display for DevicePathNode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let d = &self.data;
        match (self.node_type, self.subtype) {
            (1, 1) if d.len() == 2 => write!(f, "Pci(0x{:x},0x{:x})", d[1], d[0]),
            (2, 1) if d.len() == 8 => {
                let hid = u32::from_le_bytes([d[0], d[1], d[2], d[3]]);
                let uid = u32::from_le_bytes([d[4], d[5], d[6], d[7]]);
                // EISA IDs with the PNP vendor code: PNP0A03/PNP0A08 are PCI root bridges.
                if hid & 0xffff == 0x41d0 {
                    match hid >> 16 {
                        0x0a03 | 0x0a08 => write!(f, "PciRoot(0x{uid:x})"),
                        id => write!(f, "Acpi(PNP{id:04X},0x{uid:x})"),
                    }
                } else {
                    write!(f, "Acpi(0x{hid:08x},0x{uid:x})")
                }
            }
            (4, 1) => match self.hard_drive() {
                Some(hd) if hd.signature_type == 2 => write!(
                    f,
                    "HD({},GPT,{},0x{:x},0x{:x})",
                    hd.partition,
                    Guid(hd.signature),
                    hd.start,
                    hd.size
                ),
                Some(hd) if hd.signature_type == 1 => {
                    let s = &hd.signature;
                    write!(
                        f,
                        "HD({},MBR,0x{:08x},0x{:x},0x{:x})",
                        hd.partition,
                        u32::from_le_bytes([s[0], s[1], s[2], s[3]]),
                        hd.start,
                        hd.size
                    )
                }
                _ => self.generic(f),
            },
            (4, 4) => f.write_str(&utf16_lossy_to_nul(d)),
            (4, 6) if d.len() == 16 => {
                write!(f, "FvFile({})", Guid(d[..].try_into().expect("16 bytes")))
            }
            (4, 7) if d.len() == 16 => {
                write!(f, "Fv({})", Guid(d[..].try_into().expect("16 bytes")))
            }
            (4, 8) if d.len() == 20 => {
                let start = u64::from_le_bytes(d[4..12].try_into().expect("8 bytes"));
                let end = u64::from_le_bytes(d[12..20].try_into().expect("8 bytes"));
                write!(f, "Offset(0x{start:x},0x{end:x})")
            }
            (0x7f, 0xff) => Ok(()),
            (0x7f, 0x01) => f.write_str(","),
            _ => self.generic(f),
        }
    }
}

impl DevicePathNode {
    fn generic(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Path({},{},", self.node_type, self.subtype)?;
        for b in &self.data {
            write!(f, "{b:02x}")?;
        }
        f.write_str(")")
    }
}

/// A UEFI device path: its nodes in order, end nodes included.
#[derive(Clone, PartialEq, Eq, Debug, Default)]
pub struct DevicePath {
    /// The nodes.
    pub nodes: Vec<DevicePathNode>,
}

impl DevicePath {
    /// Splits `data` into nodes; `base` is its offset in the event data. Every node's length
    /// must be at least its 4-byte header and lie within `data`; the walk covers all of
    /// `data` (a load option's list holds several paths, each with its end node).
    ///
    /// # Errors
    ///
    /// [`UefiError::Truncated`] when a node header or body runs past the end,
    /// [`UefiError::Invalid`] when a node's length is under 4.
    pub fn decode(data: &[u8], base: usize) -> Result<Self, UefiError> {
        let mut r = Reader::new(data, base);
        let mut nodes = Vec::new();
        while r.remaining() > 0 {
            let node_type = r.u8("device path node Type")?;
            let subtype = r.u8("device path node SubType")?;
            let len_at = r.offset();
            let len = r.u16("device path node Length")?;
            if len < 4 {
                return Err(UefiError::Invalid {
                    what: "device path node Length (below 4)",
                    offset: len_at,
                    value: len.into(),
                });
            }
            let body = r.bytes(u64::from(len) - 4, "device path node")?;
            nodes.push(DevicePathNode {
                node_type,
                subtype,
                data: body.to_vec(),
            });
        }
        Ok(DevicePath { nodes })
    }
}

impl DevicePath {
    /// Whether the path names a range of a PCI device's memory: a PCI node (1, 1) and after
    /// it a relative offset range node (4, 8), the form firmware gives option ROM drivers.
    pub fn is_pci_option_rom(&self) -> bool {
        let mut pci = false;
        for node in &self.nodes {
            match (node.node_type, node.subtype) {
                (1, 1) => pci = true,
                (4, 8) if pci => return true,
                _ => {}
            }
        }
        false
    }
}

impl fmt::Display for DevicePath {
    /// EDK2-like text: nodes joined by `/`, the end node left out, another instance after `,`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut first = true;
        for node in &self.nodes {
            if node.is_end() {
                continue;
            }
            let instance_end = node.node_type == 0x7f;
            if !first && !instance_end {
                f.write_str("/")?;
            }
            write!(f, "{node}")?;
            first = instance_end;
        }
        Ok(())
    }
}

/// A `UEFI_IMAGE_LOAD_EVENT`: where an image was loaded and where it came from.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct ImageLoad {
    /// `ImageLocationInMemory`.
    pub location: u64,
    /// `ImageLengthInMemory`.
    pub length: u64,
    /// `ImageLinkTimeAddress`.
    pub link_time_address: u64,
    /// `DevicePath`.
    pub device_path: DevicePath,
    /// Bytes after the device path that the event data holds (older shim releases measure
    /// a fixed-size structure past a shorter path); they count for the digest only.
    pub trailing: usize,
}

impl ImageLoad {
    /// Decodes the data of an `EV_EFI_BOOT_SERVICES_APPLICATION`, `..._DRIVER` or
    /// `EV_EFI_RUNTIME_SERVICES_DRIVER` event.
    ///
    /// # Errors
    ///
    /// A field or the device path does not fit. Bytes after the path are counted in
    /// `trailing`, not refused.
    pub fn decode(data: &[u8]) -> Result<Self, UefiError> {
        let mut r = Reader::new(data, 0);
        let location = r.u64("ImageLocationInMemory")?;
        let length = r.u64("ImageLengthInMemory")?;
        let link_time_address = r.u64("ImageLinkTimeAddress")?;
        let path_len = r.u64("LengthOfDevicePath")?;
        let path_at = r.offset();
        let path = r.bytes(path_len, "DevicePath")?;
        let trailing = r.remaining();
        Ok(ImageLoad {
            trailing,
            location,
            length,
            link_time_address,
            device_path: DevicePath::decode(path, path_at)?,
        })
    }
}

/// The fixed part of a `UEFI_IMAGE_LOAD_EVENT`, read without decoding the device path that
/// follows it at [`ImageLoadHeader::SIZE`]. For showing an event whose path [`ImageLoad`]
/// refuses, or whose `LengthOfDevicePath` disagrees with the bytes present.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct ImageLoadHeader {
    /// `ImageLocationInMemory`.
    pub location: u64,
    /// `ImageLengthInMemory`.
    pub length: u64,
    /// `ImageLinkTimeAddress`.
    pub link_time_address: u64,
    /// `LengthOfDevicePath`, as recorded (not checked against the data).
    pub device_path_len: u64,
}

impl ImageLoadHeader {
    /// The header's size: the device path starts at this offset in the event data.
    pub const SIZE: usize = 32;

    /// Reads the header from the start of `data`; what follows it is not looked at.
    ///
    /// # Errors
    ///
    /// `data` is shorter than [`ImageLoadHeader::SIZE`].
    pub fn decode(data: &[u8]) -> Result<Self, UefiError> {
        let mut r = Reader::new(data, 0);
        Ok(ImageLoadHeader {
            location: r.u64("ImageLocationInMemory")?,
            length: r.u64("ImageLengthInMemory")?,
            link_time_address: r.u64("ImageLinkTimeAddress")?,
            device_path_len: r.u64("LengthOfDevicePath")?,
        })
    }
}

/// One GPT partition entry.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct GptPartition {
    /// `PartitionTypeGUID`.
    pub type_guid: Guid,
    /// `UniquePartitionGUID`.
    pub unique_guid: Guid,
    /// `StartingLBA`.
    pub first_lba: u64,
    /// `EndingLBA` (inclusive).
    pub last_lba: u64,
    /// `Attributes`.
    pub attributes: u64,
    /// `PartitionName`, for display (to its NUL, unpaired surrogates as U+FFFD).
    pub name: String,
}

/// A `UEFI_GPT_DATA`: the boot disk's GPT header fields and its partitions.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct Gpt {
    /// `Revision` of the header.
    pub revision: u32,
    /// `MyLBA`.
    pub my_lba: u64,
    /// `AlternateLBA`.
    pub alternate_lba: u64,
    /// `FirstUsableLBA`.
    pub first_usable_lba: u64,
    /// `LastUsableLBA`.
    pub last_usable_lba: u64,
    /// `DiskGUID`.
    pub disk_guid: Guid,
    /// `NumberOfPartitionEntries` in the header (the table's capacity).
    pub entries_in_table: u32,
    /// The partitions firmware measured (`NumberOfPartitions`).
    pub partitions: Vec<GptPartition>,
}

const GPT_SIGNATURE: u64 = u64::from_le_bytes(*b"EFI PART");
const GPT_HEADER_SIZE: usize = 92;
const GPT_ENTRY_MIN: u32 = 128;

impl Gpt {
    /// Decodes the data of an `EV_EFI_GPT_EVENT`.
    ///
    /// # Errors
    ///
    /// The header is short or not signed "EFI PART", `SizeOfPartitionEntry` is under 128,
    /// the partitions do not fit in the data (the count is checked before anything is
    /// allocated), or bytes follow them.
    pub fn decode(data: &[u8]) -> Result<Self, UefiError> {
        let mut r = Reader::new(data, 0);
        let header = r.bytes(GPT_HEADER_SIZE as u64, "EFI_PARTITION_TABLE_HEADER")?;
        let mut h = Reader::new(header, 0);
        let signature = h.u64("GPT Signature")?;
        if signature != GPT_SIGNATURE {
            return Err(UefiError::Invalid {
                what: "GPT Signature",
                offset: 0,
                value: signature,
            });
        }
        let revision = h.u32("Revision")?;
        let _header_size = h.u32("HeaderSize")?;
        let _header_crc = h.u32("HeaderCRC32")?;
        let _reserved = h.u32("Reserved")?;
        let my_lba = h.u64("MyLBA")?;
        let alternate_lba = h.u64("AlternateLBA")?;
        let first_usable_lba = h.u64("FirstUsableLBA")?;
        let last_usable_lba = h.u64("LastUsableLBA")?;
        let disk_guid = h.guid("DiskGUID")?;
        let _entry_lba = h.u64("PartitionEntryLBA")?;
        let entries_in_table = h.u32("NumberOfPartitionEntries")?;
        let entry_size_at = h.offset();
        let entry_size = h.u32("SizeOfPartitionEntry")?;
        if entry_size < GPT_ENTRY_MIN {
            return Err(UefiError::Invalid {
                what: "SizeOfPartitionEntry (below 128)",
                offset: entry_size_at,
                value: entry_size.into(),
            });
        }
        let count_at = r.offset();
        let count = r.u64("NumberOfPartitions")?;
        let total = count
            .checked_mul(u64::from(entry_size))
            .ok_or(UefiError::Invalid {
                what: "NumberOfPartitions",
                offset: count_at,
                value: count,
            })?;
        let entries_at = r.offset();
        let entries = r.bytes(total, "GPT partition entries")?;
        r.finish("UEFI_GPT_DATA")?;
        let mut partitions = Vec::with_capacity(entries.len() / entry_size as usize);
        for (i, e) in entries.chunks_exact(entry_size as usize).enumerate() {
            let mut p = Reader::new(e, entries_at + i * entry_size as usize);
            partitions.push(GptPartition {
                type_guid: p.guid("PartitionTypeGUID")?,
                unique_guid: p.guid("UniquePartitionGUID")?,
                first_lba: p.u64("StartingLBA")?,
                last_lba: p.u64("EndingLBA")?,
                attributes: p.u64("Attributes")?,
                name: utf16_lossy_to_nul(p.bytes(72, "PartitionName")?),
            });
        }
        Ok(Gpt {
            revision,
            my_lba,
            alternate_lba,
            first_usable_lba,
            last_usable_lba,
            disk_guid,
            entries_in_table,
            partitions,
        })
    }
}

/// The data of an `EV_IPL` event: boot loader text, recognised where its form is known.
#[derive(Clone, PartialEq, Eq, Debug)]
#[non_exhaustive]
pub enum Ipl {
    /// GRUB's `grub_cmd: ` followed by a command it ran.
    GrubCommand(String),
    /// GRUB's `kernel_cmdline: ` followed by the kernel command line.
    KernelCmdline(String),
    /// GRUB's `module_cmdline: ` followed by a module's command line.
    ModuleCmdline(String),
    /// Other text, ASCII/UTF-8 or (`utf16`) UTF-16LE, such as systemd-boot's command line or
    /// a file name.
    Text {
        /// The text, trailing NULs dropped.
        text: String,
        /// Whether it was UTF-16LE.
        utf16: bool,
    },
    /// Data that is not text (shim measures MokList contents this way).
    Binary(Vec<u8>),
}

impl Ipl {
    /// Decodes `EV_IPL` data; never fails, binary data is kept as it is.
    pub fn decode(data: &[u8]) -> Self {
        let trimmed = trim_nuls(data);
        let is_text =
            |s: &str| !s.is_empty() && !s.chars().any(|c| c.is_control() && !c.is_whitespace());
        if let Ok(s) = core::str::from_utf8(trimmed) {
            if is_text(s) {
                for (prefix, make) in [
                    ("grub_cmd: ", Ipl::GrubCommand as fn(String) -> Ipl),
                    ("kernel_cmdline: ", Ipl::KernelCmdline),
                    ("module_cmdline: ", Ipl::ModuleCmdline),
                ] {
                    if let Some(rest) = s.strip_prefix(prefix) {
                        return make(String::from(rest));
                    }
                }
                return Ipl::Text {
                    text: String::from(s),
                    utf16: false,
                };
            }
        }
        // UTF-16LE: NUL units (not bytes) trimmed from the end. Some systemd-boot releases
        // measure one byte of the terminator only, leaving an odd length.
        let even = match data {
            [rest @ .., 0] if data.len() % 2 == 1 => rest,
            _ => data,
        };
        if even.len() % 2 == 0 {
            let mut n = even.len() / 2;
            while n > 0 && even[2 * n - 2..2 * n] == [0, 0] {
                n -= 1;
            }
            if let Ok(s) = utf16_strict(&even[..2 * n], "", 0) {
                if is_text(&s) {
                    return Ipl::Text {
                        text: s,
                        utf16: true,
                    };
                }
            }
        }
        Ipl::Binary(data.to_vec())
    }

    /// The kernel command line, when this event is one: GRUB's `kernel_cmdline`, or UTF-16
    /// text (systemd-boot and systemd-stub measure the command line so).
    pub fn kernel_cmdline(&self) -> Option<&str> {
        match self {
            Ipl::KernelCmdline(s) => Some(s),
            Ipl::Text { text, utf16: true } => Some(text),
            _ => None,
        }
    }
}

/// An `EV_ACTION` or `EV_EFI_ACTION` string, with the well-known ones recognised.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct Action {
    /// The text, trailing NULs dropped.
    pub text: String,
}

/// The action strings firmware commonly measures.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
#[non_exhaustive]
pub enum KnownAction {
    /// "Calling EFI Application from Boot Option".
    CallingEfiApplication,
    /// "Returning from EFI Application from Boot Option".
    ReturningFromEfiApplication,
    /// "Exit Boot Services Invocation".
    ExitBootServicesInvocation,
    /// "Exit Boot Services Returned with Success".
    ExitBootServicesSuccess,
    /// "Exit Boot Services Returned with Failure".
    ExitBootServicesFailure,
    /// "UEFI Debug Mode": a debugger was enabled (PCR 7).
    UefiDebugMode,
    /// "DMA Protection Disabled" (PCR 7).
    DmaProtectionDisabled,
}

impl Action {
    /// Which well-known action this is.
    pub fn known(&self) -> Option<KnownAction> {
        Some(match self.text.as_str() {
            "Calling EFI Application from Boot Option" => KnownAction::CallingEfiApplication,
            "Returning from EFI Application from Boot Option" => {
                KnownAction::ReturningFromEfiApplication
            }
            "Exit Boot Services Invocation" => KnownAction::ExitBootServicesInvocation,
            "Exit Boot Services Returned with Success" => KnownAction::ExitBootServicesSuccess,
            "Exit Boot Services Returned with Failure" => KnownAction::ExitBootServicesFailure,
            "UEFI Debug Mode" => KnownAction::UefiDebugMode,
            "DMA Protection Disabled" => KnownAction::DmaProtectionDisabled,
            _ => return None,
        })
    }
}

/// An `EV_SEPARATOR`'s value.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Separator {
    /// 0: pre-OS measurements into this PCR ended normally.
    Normal,
    /// 1, or 0xFFFFFFFF on older firmware: firmware hit an error; what follows in this PCR
    /// cannot be relied on.
    Error(u32),
    /// Another value.
    Other(u32),
}

impl Separator {
    /// Decodes the 4 bytes of an `EV_SEPARATOR`.
    ///
    /// # Errors
    ///
    /// The data is not 4 bytes.
    pub fn decode(data: &[u8]) -> Result<Self, UefiError> {
        let mut r = Reader::new(data, 0);
        let v = r.u32("EV_SEPARATOR value")?;
        r.finish("EV_SEPARATOR")?;
        Ok(match v {
            0 => Separator::Normal,
            1 | 0xffff_ffff => Separator::Error(v),
            v => Separator::Other(v),
        })
    }

    /// Whether this separator reports a firmware error.
    pub fn is_error(&self) -> bool {
        matches!(self, Separator::Error(_))
    }
}

/// The data of an `EV_NO_ACTION` event, by its 16-byte signature.
#[derive(Clone, PartialEq, Eq, Debug)]
#[non_exhaustive]
pub enum NoAction {
    /// "Spec ID Event03", held to the rules of a log's header.
    SpecId(SpecId),
    /// "StartupLocality": the locality from which TPM2_Startup was sent.
    StartupLocality(u8),
    /// "SP800-155 Event" (a reference manifest pointer), body kept as it is.
    Sp800_155(Vec<u8>),
    /// Another signature or none; the whole data.
    Other(Vec<u8>),
}

impl NoAction {
    /// Decodes `EV_NO_ACTION` data.
    ///
    /// # Errors
    ///
    /// A recognised signature whose structure does not fit: a Spec ID event that a log's
    /// parser would refuse as its header (see [`LogError::SpecId`](super::log::LogError)), a
    /// StartupLocality event that is not one byte long.
    pub fn decode(data: &[u8]) -> Result<Self, UefiError> {
        let (sig, body) = match data.split_first_chunk::<16>() {
            Some((sig, body)) => (sig, body),
            None => return Ok(NoAction::Other(data.to_vec())),
        };
        match sig {
            b"Spec ID Event03\0" => parse_spec_id(data)
                .map(NoAction::SpecId)
                .map_err(|(offset, reason)| UefiError::SpecId { offset, reason }),
            b"StartupLocality\0" => {
                let mut r = Reader::new(body, 16);
                let locality = r.u8("StartupLocality")?;
                r.finish("StartupLocality event")?;
                Ok(NoAction::StartupLocality(locality))
            }
            b"SP800-155 Event\0" => Ok(NoAction::Sp800_155(body.to_vec())),
            _ => Ok(NoAction::Other(data.to_vec())),
        }
    }
}

/// An `EV_EFI_PLATFORM_FIRMWARE_BLOB` (or, with a description, `..._BLOB2`).
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct FirmwareBlob {
    /// `BlobDescription` (BLOB2 only; empty otherwise).
    pub description: Vec<u8>,
    /// `BlobBase`.
    pub base: u64,
    /// `BlobLength`.
    pub length: u64,
}

impl FirmwareBlob {
    /// Decodes a `UEFI_PLATFORM_FIRMWARE_BLOB` (16 bytes), or with `described` a
    /// `UEFI_PLATFORM_FIRMWARE_BLOB2` (a description before them). Besides those two event
    /// types, firmware uses the first form for `EV_S_CRTM_CONTENTS` and, when it is 16 bytes,
    /// `EV_POST_CODE`.
    ///
    /// # Errors
    ///
    /// A field does not fit, or bytes follow `BlobLength`.
    pub fn decode(data: &[u8], described: bool) -> Result<Self, UefiError> {
        let mut r = Reader::new(data, 0);
        let description = if described {
            let n = r.u8("BlobDescriptionSize")?;
            r.bytes(n.into(), "BlobDescription")?.to_vec()
        } else {
            Vec::new()
        };
        let base = r.u64("BlobBase")?;
        let length = r.u64("BlobLength")?;
        r.finish("UEFI_PLATFORM_FIRMWARE_BLOB")?;
        Ok(FirmwareBlob {
            description,
            base,
            length,
        })
    }
}

/// One `EFI_CONFIGURATION_TABLE` of an `EV_EFI_HANDOFF_TABLES` event.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct HandoffTable {
    /// `VendorGuid`.
    pub guid: Guid,
    /// `VendorTable` (an address).
    pub address: u64,
}

fn decode_handoff_tables(data: &[u8]) -> Result<Vec<HandoffTable>, UefiError> {
    let mut r = Reader::new(data, 0);
    let count_at = r.offset();
    let count = r.u64("NumberOfTables")?;
    // 24 bytes per table: check the count against what is left before allocating.
    let total = count.checked_mul(24).ok_or(UefiError::Invalid {
        what: "NumberOfTables",
        offset: count_at,
        value: count,
    })?;
    let tables = r.bytes(total, "TableEntry")?;
    r.finish("UEFI_HANDOFF_TABLE_POINTERS")?;
    Ok(tables
        .chunks_exact(24)
        .map(|t| HandoffTable {
            guid: Guid(t[..16].try_into().expect("16 bytes")),
            address: u64::from_le_bytes(t[16..].try_into().expect("8 bytes")),
        })
        .collect())
}

/// A `TCG_PCClientTaggedEvent` (`EV_EVENT_TAG`): an ID its writer chose and data of its own.
/// Linux's EFI stub logs two into PCR 9 (see the `LINUX_*` IDs); their digests are of what
/// they describe (the initrd, the command line), not of this data.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct TaggedEvent {
    /// `taggedEventID`.
    pub id: u32,
    /// `taggedEventData`.
    pub data: Vec<u8>,
}

impl TaggedEvent {
    /// The Linux EFI stub's initrd measurement: the digest is the initrd's hash.
    pub const LINUX_INITRD: u32 = 0x8F3B_22EC;
    /// The Linux EFI stub's load options (the kernel command line as UTF-16): the digest is
    /// the hash of those bytes.
    pub const LINUX_LOAD_OPTIONS: u32 = 0x8F3B_22ED;

    /// Decodes `EV_EVENT_TAG` data.
    ///
    /// # Errors
    ///
    /// The size field runs past the data, or bytes follow the tagged data.
    pub fn decode(data: &[u8]) -> Result<Self, UefiError> {
        let mut r = Reader::new(data, 0);
        let id = r.u32("taggedEventID")?;
        let size = r.u32("taggedEventDataSize")?;
        let tagged = r.bytes(size.into(), "taggedEventData")?.to_vec();
        r.finish("TCG_PCClientTaggedEvent")?;
        Ok(TaggedEvent { id, data: tagged })
    }
}

/// The data of one event, decoded by its type.
#[derive(Clone, PartialEq, Eq, Debug)]
#[non_exhaustive]
pub enum EventData {
    /// `EV_NO_ACTION`.
    NoAction(NoAction),
    /// `EV_SEPARATOR`.
    Separator(Separator),
    /// `EV_ACTION` or `EV_EFI_ACTION`.
    Action(Action),
    /// `EV_IPL`.
    Ipl(Ipl),
    /// `EV_EFI_VARIABLE_DRIVER_CONFIG`, `EV_EFI_VARIABLE_BOOT` or `EV_EFI_VARIABLE_BOOT2`.
    Variable(Variable),
    /// `EV_EFI_VARIABLE_AUTHORITY`; `contents` is [`VariableContents::Authority`].
    Authority(Variable),
    /// `EV_EFI_BOOT_SERVICES_APPLICATION`, `EV_EFI_BOOT_SERVICES_DRIVER` or
    /// `EV_EFI_RUNTIME_SERVICES_DRIVER`.
    ImageLoad(ImageLoad),
    /// `EV_EFI_GPT_EVENT`.
    Gpt(Gpt),
    /// `EV_EFI_PLATFORM_FIRMWARE_BLOB` or `EV_EFI_PLATFORM_FIRMWARE_BLOB2`.
    FirmwareBlob(FirmwareBlob),
    /// `EV_EFI_HANDOFF_TABLES`.
    HandoffTables(Vec<HandoffTable>),
    /// `EV_EVENT_TAG`.
    Tagged(TaggedEvent),
    /// Any other type: the data as it is.
    Other(Vec<u8>),
}

/// Decodes the data of an event of type `event_type`.
///
/// # Errors
///
/// The data does not have the structure its type calls for; the [`UefiError`] names the
/// field and its offset in `data`. Types without a structure here never fail.
pub fn decode_event(event_type: EventType, data: &[u8]) -> Result<EventData, UefiError> {
    Ok(match event_type {
        EventType::NO_ACTION => EventData::NoAction(NoAction::decode(data)?),
        EventType::SEPARATOR => EventData::Separator(Separator::decode(data)?),
        EventType::ACTION | EventType::EFI_ACTION => EventData::Action(Action {
            text: printable_ascii(data, "action string", 0)?,
        }),
        EventType::IPL => EventData::Ipl(Ipl::decode(data)),
        EventType::EFI_VARIABLE_DRIVER_CONFIG
        | EventType::EFI_VARIABLE_BOOT
        | EventType::EFI_VARIABLE_BOOT2 => EventData::Variable(Variable::decode(data)?),
        EventType::EFI_VARIABLE_AUTHORITY => {
            EventData::Authority(Variable::decode_authority(data)?)
        }
        EventType::EFI_BOOT_SERVICES_APPLICATION
        | EventType::EFI_BOOT_SERVICES_DRIVER
        | EventType::EFI_RUNTIME_SERVICES_DRIVER => EventData::ImageLoad(ImageLoad::decode(data)?),
        EventType::EFI_GPT_EVENT => EventData::Gpt(Gpt::decode(data)?),
        EventType::EFI_PLATFORM_FIRMWARE_BLOB => {
            EventData::FirmwareBlob(FirmwareBlob::decode(data, false)?)
        }
        EventType::EFI_PLATFORM_FIRMWARE_BLOB2 => {
            EventData::FirmwareBlob(FirmwareBlob::decode(data, true)?)
        }
        EventType::EFI_HANDOFF_TABLES => EventData::HandoffTables(decode_handoff_tables(data)?),
        EventType::EVENT_TAG => EventData::Tagged(TaggedEvent::decode(data)?),
        _ => EventData::Other(data.to_vec()),
    })
}

/// Why [`SecureBootState::from_events`] refused a sequence of events. `event` is the
/// position of the offending event in the sequence given (from 0).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SecureBootError {
    /// An event's data did not decode.
    #[error("event {event} ({event_type}): {source}")]
    Decode {
        /// Position of the event.
        event: usize,
        /// Its type.
        event_type: EventType,
        /// What did not decode.
        source: UefiError,
    },
    /// A secure-boot variable was measured twice into PCR 7.
    #[error("event {event}: variable {name} measured again")]
    DuplicateVariable {
        /// Position of the second measurement.
        event: usize,
        /// The variable.
        name: String,
    },
    /// A secure-boot variable was measured into PCR 7 after its separator: it is not the
    /// configuration the firmware verified with.
    #[error("event {event}: variable {name} measured after the separator")]
    VariableAfterSeparator {
        /// Position of the measurement.
        event: usize,
        /// The variable.
        name: String,
    },
    /// PCR 7 has a second separator.
    #[error("event {event}: second separator in PCR 7")]
    DuplicateSeparator {
        /// Position of the second separator.
        event: usize,
    },
    /// PCR 7's separator reports a firmware error, or has a value that is not the normal one.
    #[error("event {event}: PCR 7 separator is {value:#x}, not 0")]
    BadSeparator {
        /// Position of the separator.
        event: usize,
        /// Its value.
        value: u32,
    },
}

/// A secure-boot variable's value on its way into the state.
enum Recorded {
    SecureBoot(bool),
    Database(Database, Vec<SignatureList>),
}

/// The signature databases the state keeps.
#[derive(Clone, Copy)]
enum Database {
    Pk,
    Kek,
    Db,
    Dbx,
}

/// An `EV_EFI_VARIABLE_AUTHORITY` event in PCR 7.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct AuthorityUse {
    /// Position of the event in the sequence.
    pub event: usize,
    /// The variable the authority came from (`db`, `MokList`, `Shim`, `SbatLevel`, ...).
    pub variable: String,
    /// Its vendor GUID.
    pub guid: Guid,
    /// The authority.
    pub authority: Authority,
    /// Whether it was measured after PCR 7's separator. That does not tell firmware from a
    /// boot loader: edk2 measures the separator before it launches boot options, so the
    /// authority that verified the first boot application (a boot loader, or a kernel booted
    /// directly) comes after it too, as do those a boot loader such as shim measures.
    pub after_separator: bool,
}

/// An image load event: an application in PCR 4 or a driver in PCR 2.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct ImageUse {
    /// Position of the event in the sequence.
    pub event: usize,
    /// `EV_EFI_BOOT_SERVICES_APPLICATION` or `EV_EFI_BOOT_SERVICES_DRIVER`.
    pub event_type: EventType,
    /// The PCR (4 or 2).
    pub pcr: u32,
    /// The load event.
    pub image: ImageLoad,
    /// Whether its device path is a PCI device's memory (a PCI node followed by a relative
    /// offset range media node): an option ROM. A hint only, as the path is not verified.
    pub option_rom: bool,
    /// How many PCR 7 authority events naming a signer ([`Authority::is_signer`]) came
    /// before it in the sequence.
    pub authorities_before: usize,
}

/// Something a verifier should weigh before trusting that secure boot held.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
#[non_exhaustive]
pub enum SecureBootIssue {
    /// No `SecureBoot` variable in PCR 7.
    NoSecureBootVariable,
    /// `SecureBoot` was 0.
    Disabled,
    /// Secure boot was on but PK, KEK or db (which is named) was absent or empty.
    EmptyDatabase(WellKnownVariable),
    /// Secure boot was on and no authority naming a signer was measured into PCR 7.
    NoAuthority,
    /// Secure boot was on and the application (PCR 4) at this position in `images` loaded
    /// before any signer authority had been measured.
    ApplicationWithoutAuthority(usize),
    /// Secure boot was on and the driver (PCR 2) at this position in `images` loaded before
    /// any signer authority had been measured. Common in the field: firmware policy often
    /// runs PCI option ROMs without checking them against db, so this is weaker evidence than
    /// an application's.
    DriverWithoutAuthority(usize),
    /// Firmware reported "UEFI Debug Mode" in PCR 7.
    DebugMode,
    /// Firmware reported "DMA Protection Disabled" in PCR 7.
    DmaProtectionDisabled,
    /// PCR 7 holds an event of a type secure boot does not measure (the index into
    /// `other_pcr7_events`).
    UnexpectedPcr7Event(usize),
}

/// The secure-boot configuration and its use, as measured into PCRs 7, 4 and 2.
///
/// [`SecureBootState::from_events`] reads `(event type, PCR, data)` triples in log order:
/// - PCR 7 `EV_EFI_VARIABLE_DRIVER_CONFIG`: `SecureBoot` (one byte, 1 enabled, 0 or empty
///   disabled), PK, KEK, db and dbx are recorded; each at most once and before PCR 7's
///   separator, or an error. Other variables are ignored.
/// - PCR 7 `EV_SEPARATOR`: exactly one, with value 0, or an error.
/// - PCR 7 `EV_EFI_VARIABLE_AUTHORITY`: recorded in order, marked before or after the
///   separator.
/// - PCR 7 `EV_EFI_ACTION`: "UEFI Debug Mode" and "DMA Protection Disabled" set flags;
///   other actions are ignored. `EV_NO_ACTION` is ignored (it extends no PCR); any other type
///   is listed in `other_pcr7_events`.
/// - PCR 4 `EV_EFI_BOOT_SERVICES_APPLICATION` and PCR 2 `EV_EFI_BOOT_SERVICES_DRIVER`: recorded
///   with the number of signer authorities measured before them.
///
/// Firmware measures each distinct authority once, the first time it verifies an image, so
/// the log cannot tie a later image to the authority that verified it. What it does show is
/// that the first image verified must come after at least one authority: an image loaded
/// while secure boot is enabled with no signer authority measured before it is reported by
/// [`SecureBootState::unverified_images`] and [`SecureBootState::issues`] (applications and
/// drivers apart). shim's `SbatLevel` and `MokListTrusted` measurements are authorities in
/// the log but name no signer, so they do not count.
///
/// Compared with go-attestation's `ParseSecurebootState`:
/// - event digests are not checked here (the log's replay does that), and PCR 2's separator
///   is not examined;
/// - a debugger, DMA protection being off, PCR 7 event types other than the ones above, empty
///   or absent PK/KEK/db and the lack of any signer authority are [`SecureBootState::issues`]
///   rather than errors, so a verifier sees all of them at once;
/// - images are examined one by one against the authorities before them (go-attestation only
///   requires some authority somewhere in PCR 7);
/// - its driver source hint is [`ImageUse::option_rom`], for every driver rather than those
///   before PCR 2's separator;
/// - authorities that are hashes, bare certificates or one-entry signature lists are kept,
///   as are certificates this module does not parse (go-attestation parses them and fails on
///   those it cannot).
#[derive(Clone, PartialEq, Eq, Debug, Default)]
pub struct SecureBootState {
    /// The `SecureBoot` variable's value; `None` when it was not measured.
    pub enabled: Option<bool>,
    /// The platform key, when measured.
    pub pk: Option<Vec<SignatureList>>,
    /// The key exchange keys, when measured.
    pub kek: Option<Vec<SignatureList>>,
    /// The allowed signature database, when measured.
    pub db: Option<Vec<SignatureList>>,
    /// The forbidden signature database, when measured.
    pub dbx: Option<Vec<SignatureList>>,
    /// The authorities measured into PCR 7, in order.
    pub authorities: Vec<AuthorityUse>,
    /// The applications (PCR 4) and drivers (PCR 2) loaded, in order.
    pub images: Vec<ImageUse>,
    /// Whether PCR 7's separator was seen.
    pub separator: bool,
    /// Whether "UEFI Debug Mode" was measured into PCR 7.
    pub debug_mode: bool,
    /// Whether "DMA Protection Disabled" was measured into PCR 7.
    pub dma_protection_disabled: bool,
    /// Positions and types of PCR 7 events of other types.
    pub other_pcr7_events: Vec<(usize, EventType)>,
}

impl SecureBootState {
    /// Gathers the state from `(event type, PCR, data)` triples in log order; events in
    /// other PCRs are skipped without being decoded.
    ///
    /// # Errors
    ///
    /// An event that matters does not decode, or PCR 7 breaks the rules above (a variable
    /// twice or after the separator, a second separator, a separator other than 0).
    pub fn from_events<'a, I>(events: I) -> Result<Self, SecureBootError>
    where
        I: IntoIterator<Item = (EventType, u32, &'a [u8])>,
    {
        let mut st = SecureBootState::default();
        let mut signers = 0usize;
        for (event, (event_type, pcr, data)) in events.into_iter().enumerate() {
            let decode_err = |source| SecureBootError::Decode {
                event,
                event_type,
                source,
            };
            match (pcr, event_type) {
                (7, EventType::EFI_VARIABLE_DRIVER_CONFIG) => {
                    let var = Variable::decode(data).map_err(decode_err)?;
                    let slot = match (var.well_known(), var.contents) {
                        (Some(WellKnownVariable::SecureBoot), VariableContents::SecureBoot(on)) => {
                            Recorded::SecureBoot(on)
                        }
                        (Some(which), VariableContents::SignatureLists(lists)) => {
                            let db = match which {
                                WellKnownVariable::Pk => Database::Pk,
                                WellKnownVariable::Kek => Database::Kek,
                                WellKnownVariable::Db => Database::Db,
                                WellKnownVariable::Dbx => Database::Dbx,
                                _ => continue,
                            };
                            Recorded::Database(db, lists)
                        }
                        _ => continue,
                    };
                    let seen = match &slot {
                        Recorded::SecureBoot(_) => st.enabled.is_some(),
                        Recorded::Database(which, _) => st.database(*which).is_some(),
                    };
                    if seen {
                        return Err(SecureBootError::DuplicateVariable {
                            event,
                            name: var.name,
                        });
                    }
                    if st.separator {
                        return Err(SecureBootError::VariableAfterSeparator {
                            event,
                            name: var.name,
                        });
                    }
                    match slot {
                        Recorded::SecureBoot(on) => st.enabled = Some(on),
                        Recorded::Database(which, lists) => *st.database(which) = Some(lists),
                    }
                }
                (7, EventType::SEPARATOR) => {
                    if st.separator {
                        return Err(SecureBootError::DuplicateSeparator { event });
                    }
                    match Separator::decode(data).map_err(decode_err)? {
                        Separator::Normal => st.separator = true,
                        Separator::Error(value) | Separator::Other(value) => {
                            return Err(SecureBootError::BadSeparator { event, value })
                        }
                    }
                }
                (7, EventType::EFI_VARIABLE_AUTHORITY) => {
                    let var = Variable::decode_authority(data).map_err(decode_err)?;
                    if let VariableContents::Authority(authority) = var.contents {
                        signers += usize::from(authority.is_signer());
                        st.authorities.push(AuthorityUse {
                            event,
                            variable: var.name,
                            guid: var.guid,
                            authority,
                            after_separator: st.separator,
                        });
                    }
                }
                (7, EventType::EFI_ACTION) => {
                    let text = printable_ascii(data, "action string", 0).map_err(decode_err)?;
                    match (Action { text }).known() {
                        Some(KnownAction::UefiDebugMode) => st.debug_mode = true,
                        Some(KnownAction::DmaProtectionDisabled) => {
                            st.dma_protection_disabled = true
                        }
                        _ => {}
                    }
                }
                (7, EventType::NO_ACTION) => {}
                (7, other) => st.other_pcr7_events.push((event, other)),
                (4, EventType::EFI_BOOT_SERVICES_APPLICATION)
                | (2, EventType::EFI_BOOT_SERVICES_DRIVER) => {
                    let image = ImageLoad::decode(data).map_err(decode_err)?;
                    st.images.push(ImageUse {
                        option_rom: image.device_path.is_pci_option_rom(),
                        event,
                        event_type,
                        pcr,
                        image,
                        authorities_before: signers,
                    });
                }
                _ => {}
            }
        }
        Ok(st)
    }

    /// The slot of one of the four signature databases.
    fn database(&mut self, which: Database) -> &mut Option<Vec<SignatureList>> {
        match which {
            Database::Pk => &mut self.pk,
            Database::Kek => &mut self.kek,
            Database::Db => &mut self.db,
            Database::Dbx => &mut self.dbx,
        }
    }

    /// The images (applications and drivers) loaded while secure boot was enabled before any
    /// signer authority was measured: nothing in the log shows what verified them. Empty
    /// when secure boot was not enabled.
    pub fn unverified_images(&self) -> impl Iterator<Item = &ImageUse> + '_ {
        let on = self.enabled == Some(true);
        self.images
            .iter()
            .filter(move |i| on && i.authorities_before == 0)
    }

    /// Everything that should make a verifier doubt that secure boot held on this boot, in a
    /// fixed order; empty when none applies.
    pub fn issues(&self) -> Vec<SecureBootIssue> {
        let mut out = Vec::new();
        match self.enabled {
            None => out.push(SecureBootIssue::NoSecureBootVariable),
            Some(false) => out.push(SecureBootIssue::Disabled),
            Some(true) => {
                for (db, which) in [
                    (&self.pk, WellKnownVariable::Pk),
                    (&self.kek, WellKnownVariable::Kek),
                    (&self.db, WellKnownVariable::Db),
                ] {
                    let empty = db
                        .as_ref()
                        .is_none_or(|lists| lists.iter().all(|l| l.entries.is_empty()));
                    if empty {
                        out.push(SecureBootIssue::EmptyDatabase(which));
                    }
                }
                if !self.authorities.iter().any(|a| a.authority.is_signer()) {
                    out.push(SecureBootIssue::NoAuthority);
                }
                for (i, image) in self.images.iter().enumerate() {
                    if image.authorities_before == 0 {
                        out.push(if image.pcr == 4 {
                            SecureBootIssue::ApplicationWithoutAuthority(i)
                        } else {
                            SecureBootIssue::DriverWithoutAuthority(i)
                        });
                    }
                }
            }
        }
        if self.debug_mode {
            out.push(SecureBootIssue::DebugMode);
        }
        if self.dma_protection_disabled {
            out.push(SecureBootIssue::DmaProtectionDisabled);
        }
        for i in 0..self.other_pcr7_events.len() {
            out.push(SecureBootIssue::UnexpectedPcr7Event(i));
        }
        out
    }
}
