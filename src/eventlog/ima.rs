//! The Linux IMA runtime measurement list in its binary form, decoded and replayed into PCRs.
//!
//! The kernel publishes the list as `binary_runtime_measurements` in securityfs (SHA-1 template
//! digests), and recent kernels add one list per PCR bank (`binary_runtime_measurements_sha256`
//! and so on) whose template digests have that bank's size. [`ListFormat`] says which one the
//! bytes are. Each entry is, with no padding:
//!
//! | field                 | size                                                   |
//! | --------------------- | ------------------------------------------------------ |
//! | PCR index             | u32                                                    |
//! | template digest       | the bank's digest size (20 bytes in the classic list)  |
//! | template name length  | u32                                                    |
//! | template name         | that many bytes, no NUL (`ima-ng`, or a format string) |
//! | template data length  | u32 (absent for the legacy `ima` template)             |
//! | template data         | that many bytes                                        |
//!
//! For every template but `ima`, the template data is a sequence of fields, each a u32 length
//! and its bytes, and the template digest is the bank's hash of exactly those bytes. The legacy
//! `ima` template has no data length: its data is a 20-byte file digest, then a u32 length and
//! the file name without NUL, and its template digest hashes the digest followed by the name
//! zero-padded to 256 bytes.
//!
//! Byte order is the kernel's: the host's own, unless the kernel runs with `ima_canonical_fmt`,
//! which makes it little-endian everywhere. Little-endian (x86, arm64, and any canonical list)
//! is the default; [`ByteOrder::Big`] reads a list from a big-endian host without that option.
//!
//! An entry whose template digest is all zeros is a violation (a file read while open for
//! writing, or the like): the kernel extends its PCR with all ones instead, so that the PCR can
//! never again match a clean replay. [`ImaReplay`] does the same. It replays the list's own bank,
//! or recomputes another bank from the template data as the kernel extends it
//! ([`ImaReplay::recomputing`]), so the classic SHA-1 list also gives the SHA-256 PCR 10.
//!
//! The list comes from an untrusted agent. Every length is checked against the bytes present
//! before use, no entry may be longer than [`ListFormat::max_entry_len`], PCR indices above 23
//! are refused, and nothing here allocates except the field list of an unknown template
//! (bounded by its data length). [`ImaReplay`] takes the list in pieces as it grows and never
//! looks at a complete entry twice.

use alloc::vec::Vec;
use core::fmt;

use subtle::ConstantTimeEq;

use crate::crypto::{HashAlg, Hasher};
use crate::wire::MAX_DIGEST_SIZE;

/// The PCR the kernel measures into unless its policy names another.
pub const DEFAULT_PCR: u32 = 10;

/// The number of PCRs an entry may name (0 to 23, a PC Client TPM's PCRs).
pub const PCR_COUNT: usize = 24;

/// The longest template name accepted. The kernel's names and format strings are far shorter;
/// the bound keeps a hostile header from claiming a name the size of memory.
pub const MAX_TEMPLATE_NAME_LEN: usize = 255;

/// The longest file name the legacy `ima` template can carry: its template digest covers the
/// name in a 256-byte buffer that always ends in NUL.
pub const IMA_NAME_LEN_MAX: usize = 255;

/// The size of the legacy `ima` template's file digest (SHA-1).
pub const IMA_DIGEST_LEN: usize = 20;

/// The default for [`ListFormat::max_entry_len`]: far above any entry the kernel writes (a path
/// is at most 4 KiB, a signature a few hundred bytes, a measured buffer a few KiB).
pub const DEFAULT_MAX_ENTRY_LEN: u32 = 1 << 20;

/// The byte order of the list's integers.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub enum ByteOrder {
    /// Little-endian: x86 and arm64 hosts, and every host booted with `ima_canonical_fmt`.
    #[default]
    Little,
    /// Big-endian: a big-endian host (s390x, ppc64) without `ima_canonical_fmt`.
    Big,
}

impl ByteOrder {
    fn u32(self, bytes: [u8; 4]) -> u32 {
        match self {
            ByteOrder::Little => u32::from_le_bytes(bytes),
            ByteOrder::Big => u32::from_be_bytes(bytes),
        }
    }
}

/// Which list the bytes are: the PCR bank its template digests belong to, and its byte order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ListFormat {
    /// The bank: SHA-1 for `binary_runtime_measurements`, SHA-256 for
    /// `binary_runtime_measurements_sha256`, and so on. Template digests have its size, are
    /// checked with its hash, and are extended into PCRs of this bank.
    pub bank: HashAlg,
    /// The byte order of the list's integers.
    pub byte_order: ByteOrder,
    /// The longest entry accepted, from its PCR index to the end of its template data. A longer
    /// one is refused as soon as its header says so, rather than waited for.
    pub max_entry_len: u32,
}

impl ListFormat {
    /// The classic `binary_runtime_measurements` of a little-endian host: SHA-1 digests.
    pub const SHA1: ListFormat = ListFormat::new(HashAlg::Sha1);

    /// The list of `bank`, little-endian, with the default entry bound.
    pub const fn new(bank: HashAlg) -> Self {
        ListFormat {
            bank,
            byte_order: ByteOrder::Little,
            max_entry_len: DEFAULT_MAX_ENTRY_LEN,
        }
    }

    /// The same list in `byte_order`.
    pub const fn with_byte_order(mut self, byte_order: ByteOrder) -> Self {
        self.byte_order = byte_order;
        self
    }

    /// The same list with entries bounded by `max_entry_len` bytes.
    pub const fn with_max_entry_len(mut self, max_entry_len: u32) -> Self {
        self.max_entry_len = max_entry_len;
        self
    }
}

impl Default for ListFormat {
    fn default() -> Self {
        ListFormat::SHA1
    }
}

/// Why a measurement list was refused. Every variant names the entry (counted from 0 in the
/// whole list) and the byte offset where that entry starts in the whole list.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ImaError {
    /// The list ends inside an entry (only when the list is known to be complete).
    #[error("IMA entry {index} at byte {offset}: the list ends {missing} or more bytes short of the entry's end")]
    Truncated {
        /// The entry.
        index: u64,
        /// Where it starts.
        offset: u64,
        /// How many more bytes the entry needs at least.
        missing: u64,
    },
    /// A length field claims more than the format allows.
    #[error("IMA entry {index} at byte {offset}: {field} of {len} bytes is longer than the {max} allowed")]
    TooLong {
        /// The entry.
        index: u64,
        /// Where it starts.
        offset: u64,
        /// The length field: "template name", "entry" or "ima file name".
        field: &'static str,
        /// The length claimed (for "entry", the entry's total length).
        len: u64,
        /// The most allowed.
        max: u64,
    },
    /// The entry names a PCR the TPM does not have.
    #[error("IMA entry {index} at byte {offset}: PCR {pcr} is out of range (0 to 23)")]
    PcrOutOfRange {
        /// The entry.
        index: u64,
        /// Where it starts.
        offset: u64,
        /// The PCR index it carries.
        pcr: u32,
    },
    /// The template digest is not the hash of the template data (and not a violation's zeros).
    #[error(
        "IMA entry {index} at byte {offset}: the template digest does not match the template data"
    )]
    TemplateDigestMismatch {
        /// The entry.
        index: u64,
        /// Where it starts.
        offset: u64,
    },
    /// The template data does not have its template's layout.
    #[error("IMA entry {index} at byte {offset}: bad template data: {reason}")]
    BadTemplateData {
        /// The entry.
        index: u64,
        /// Where it starts.
        offset: u64,
        /// What is wrong with it.
        reason: &'static str,
    },
}

/// One entry of the list, borrowed from the bytes it was read from.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct ImaEntry<'a> {
    index: u64,
    offset: u64,
    pcr: u32,
    template_digest: &'a [u8],
    template_name: &'a [u8],
    template_data: &'a [u8],
    format: ListFormat,
}

impl fmt::Debug for ImaEntry<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ImaEntry")
            .field("index", &self.index)
            .field("offset", &self.offset)
            .field("pcr", &self.pcr)
            .field("template_name", &EscapedBytes(self.template_name))
            .field("template_data_len", &self.template_data.len())
            .finish()
    }
}

/// Bytes shown as an escaped string (names and paths are usually ASCII, never trusted).
struct EscapedBytes<'a>(&'a [u8]);

impl fmt::Debug for EscapedBytes<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "\"{}\"", self.0.escape_ascii())
    }
}

impl<'a> ImaEntry<'a> {
    /// The entry's position in the whole list, counted from 0.
    pub fn index(&self) -> u64 {
        self.index
    }

    /// The byte offset where the entry starts in the whole list.
    pub fn offset(&self) -> u64 {
        self.offset
    }

    /// The PCR the kernel extended with this entry.
    pub fn pcr(&self) -> u32 {
        self.pcr
    }

    /// The template digest as the list carries it (all zeros for a violation).
    pub fn template_digest(&self) -> &'a [u8] {
        self.template_digest
    }

    /// The template name (`ima`, `ima-ng`, `ima-sig`, `ima-buf`, another name, or a format
    /// string such as `d-ng|n-ng` for a template the kernel knows only by its fields).
    pub fn template_name(&self) -> &'a [u8] {
        self.template_name
    }

    /// The template data as the list carries it. For the legacy `ima` template: the 20-byte
    /// file digest, the name's u32 length, and the name.
    pub fn template_data(&self) -> &'a [u8] {
        self.template_data
    }

    /// Whether this is a violation entry: a template digest of all zeros, extended as all ones.
    pub fn is_violation(&self) -> bool {
        self.template_digest.iter().all(|&b| b == 0)
    }

    /// Checks the template digest against the template data, in the list's bank. A violation
    /// passes: its digest is zeros by design and its data is not what gets extended.
    pub fn check_template_digest(&self) -> Result<(), ImaError> {
        if self.is_violation() {
            return Ok(());
        }
        let mut computed = [0u8; MAX_DIGEST_SIZE];
        let len = self.template_hash(self.format.bank, &mut computed)?;
        if bool::from(computed[..len].ct_eq(self.template_digest)) {
            Ok(())
        } else {
            Err(ImaError::TemplateDigestMismatch {
                index: self.index,
                offset: self.offset,
            })
        }
    }

    /// The hash of the template data in `alg`, as the kernel computes a template digest: for
    /// the legacy `ima` template, the file digest and the name in its 256-byte buffer.
    fn template_hash(
        &self,
        alg: HashAlg,
        out: &mut [u8; MAX_DIGEST_SIZE],
    ) -> Result<usize, ImaError> {
        let mut hasher = Hasher::new(alg);
        if self.template_name == b"ima" {
            let (digest, name) = self.ima_fields()?;
            hasher.update(digest);
            hasher.update(name);
            hasher.update(&[0u8; IMA_NAME_LEN_MAX + 1][name.len()..]);
        } else {
            hasher.update(self.template_data);
        }
        Ok(hasher.finalize_into(out))
    }

    /// The template data decoded by its template: `ima`, `ima-ng`, `ima-sig` and `ima-buf` (or
    /// their format strings) into their fields, anything else into its raw fields.
    pub fn template(&self) -> Result<Template<'a>, ImaError> {
        let fields = match self.template_name {
            b"ima" => {
                let (digest, path) = self.ima_fields()?;
                return Ok(Template::Ima { digest, path });
            }
            b"ima-ng" | b"d-ng|n-ng" => 2,
            b"ima-sig" | b"d-ng|n-ng|sig" | b"ima-buf" | b"d-ng|n-ng|buf" => 3,
            _ => {
                let mut raw = Vec::new();
                let mut fields = self.fields();
                while let Some(field) = fields.next_field()? {
                    raw.push(field);
                }
                return Ok(Template::Other { fields: raw });
            }
        };
        let mut reader = self.fields();
        let digest = self.file_digest(reader.expect_field()?)?;
        let path = self.nul_terminated(reader.expect_field()?)?;
        let third = if fields == 3 {
            reader.expect_field()?
        } else {
            &[]
        };
        if reader.next_field()?.is_some() {
            return Err(self.bad("more fields than the template has"));
        }
        Ok(match self.template_name {
            b"ima-ng" | b"d-ng|n-ng" => Template::ImaNg { digest, path },
            b"ima-sig" | b"d-ng|n-ng|sig" => Template::ImaSig {
                digest,
                path,
                signature: third,
            },
            _ => Template::ImaBuf {
                digest,
                name: path,
                buffer: third,
            },
        })
    }

    /// Checks that the template data has its template's layout, without allocating.
    fn check_layout(&self) -> Result<(), ImaError> {
        match self.template_name {
            b"ima" | b"ima-ng" | b"d-ng|n-ng" | b"ima-sig" | b"d-ng|n-ng|sig" | b"ima-buf"
            | b"d-ng|n-ng|buf" => self.template().map(drop),
            _ => {
                let mut fields = self.fields();
                while fields.next_field()?.is_some() {}
                Ok(())
            }
        }
    }

    /// The bytes a PCR of `bank` is extended with: all ones for a violation; otherwise the
    /// template digest in the list's own bank, and the template data's hash in another.
    fn extend_value(
        &self,
        bank: HashAlg,
        out: &mut [u8; MAX_DIGEST_SIZE],
    ) -> Result<usize, ImaError> {
        let len = bank.digest_size();
        if self.is_violation() {
            out[..len].fill(0xff);
        } else if bank == self.format.bank {
            out[..len].copy_from_slice(self.template_digest);
        } else {
            self.template_hash(bank, out)?;
        }
        Ok(len)
    }

    fn bad(&self, reason: &'static str) -> ImaError {
        ImaError::BadTemplateData {
            index: self.index,
            offset: self.offset,
            reason,
        }
    }

    fn fields(&self) -> FieldReader<'a, '_> {
        FieldReader {
            rest: self.template_data,
            entry: self,
        }
    }

    /// The legacy template's digest and name; the parser has already checked their framing.
    fn ima_fields(&self) -> Result<(&'a [u8], &'a [u8]), ImaError> {
        let data = self.template_data;
        if data.len() < IMA_DIGEST_LEN + 4 {
            return Err(self.bad("the ima template is shorter than its digest and name length"));
        }
        let (digest, rest) = data.split_at(IMA_DIGEST_LEN);
        let name = &rest[4..];
        let claimed = self
            .format
            .byte_order
            .u32([rest[0], rest[1], rest[2], rest[3]]);
        if u64::from(claimed) != name.len() as u64 || name.len() > IMA_NAME_LEN_MAX {
            return Err(self.bad("the ima template's name length does not fit"));
        }
        Ok((digest, name))
    }

    /// A `d-ng` field: the algorithm name, ':', NUL, then the digest.
    fn file_digest(&self, field: &'a [u8]) -> Result<FileDigest<'a>, ImaError> {
        let colon = field
            .iter()
            .position(|&b| b == b':')
            .ok_or_else(|| self.bad("the file digest has no algorithm prefix"))?;
        if field.get(colon + 1) != Some(&0) {
            return Err(self.bad("the file digest's algorithm prefix does not end in NUL"));
        }
        let algorithm = core::str::from_utf8(&field[..colon])
            .map_err(|_| self.bad("the file digest's algorithm name is not text"))?;
        Ok(FileDigest {
            algorithm,
            digest: &field[colon + 2..],
        })
    }

    /// An `n-ng` field without its NUL; the kernel always writes one, and only one.
    fn nul_terminated(&self, field: &'a [u8]) -> Result<&'a [u8], ImaError> {
        match field.split_last() {
            Some((0, name)) if !name.contains(&0) => Ok(name),
            _ => Err(self.bad("the name is not a NUL-terminated string")),
        }
    }
}

/// Reads the u32-length-prefixed fields of a template's data.
struct FieldReader<'a, 'e> {
    rest: &'a [u8],
    entry: &'e ImaEntry<'a>,
}

impl<'a> FieldReader<'a, '_> {
    fn next_field(&mut self) -> Result<Option<&'a [u8]>, ImaError> {
        if self.rest.is_empty() {
            return Ok(None);
        }
        let Some((len, body)) = self.rest.split_first_chunk::<4>() else {
            return Err(self.entry.bad("a field length is cut short"));
        };
        let len = self.entry.format.byte_order.u32(*len);
        let Ok(len) = usize::try_from(len) else {
            return Err(self.entry.bad("a field is longer than the template data"));
        };
        if len > body.len() {
            return Err(self.entry.bad("a field is longer than the template data"));
        }
        let (field, rest) = body.split_at(len);
        self.rest = rest;
        Ok(Some(field))
    }

    fn expect_field(&mut self) -> Result<&'a [u8], ImaError> {
        self.next_field()?
            .ok_or_else(|| self.entry.bad("fewer fields than the template has"))
    }
}

/// A file digest with its algorithm, from a `d-ng` field.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FileDigest<'a> {
    /// The kernel's name for the algorithm (`sha256`, `sha1`, `sm3`, ...); empty if the kernel
    /// wrote none.
    pub algorithm: &'a str,
    /// The digest. A violation's is 20 zero bytes whatever the algorithm.
    pub digest: &'a [u8],
}

impl FileDigest<'_> {
    /// The algorithm, if it is one this library hashes with.
    pub fn hash_alg(&self) -> Option<HashAlg> {
        HashAlg::from_name(self.algorithm)
    }
}

/// The template data of an entry, decoded.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Template<'a> {
    /// The legacy `ima` template (`d|n`): a SHA-1 file digest and a name of at most 255 bytes.
    Ima {
        /// The file's SHA-1 digest (zeros for a violation).
        digest: &'a [u8],
        /// The file name, no NUL.
        path: &'a [u8],
    },
    /// `ima-ng` (`d-ng|n-ng`): a file digest with its algorithm, and the path.
    ImaNg {
        /// The file digest.
        digest: FileDigest<'a>,
        /// The path, without its NUL.
        path: &'a [u8],
    },
    /// `ima-sig` (`d-ng|n-ng|sig`): as `ima-ng`, with the file's signature (the
    /// `security.ima` extended attribute; empty when the file has none).
    ImaSig {
        /// The file digest.
        digest: FileDigest<'a>,
        /// The path, without its NUL.
        path: &'a [u8],
        /// The signature bytes, possibly empty.
        signature: &'a [u8],
    },
    /// `ima-buf` (`d-ng|n-ng|buf`): a buffer the kernel measured (the kexec command line, a
    /// key, device-mapper state, ...), its digest, and the name the kernel gave it.
    ImaBuf {
        /// The buffer's digest.
        digest: FileDigest<'a>,
        /// What the buffer is, without its NUL.
        name: &'a [u8],
        /// The buffer.
        buffer: &'a [u8],
    },
    /// Any other template: its fields, each without its length.
    Other {
        /// The fields in order.
        fields: Vec<&'a [u8]>,
    },
}

/// What reading the front of some bytes found.
enum Step<'a> {
    /// A whole entry, and its length in bytes.
    Entry(ImaEntry<'a>, usize),
    /// Not enough bytes for the next entry yet; at least this many more are needed.
    Incomplete(u64),
}

/// Reads one entry from the front of `buf`, checking each length as soon as it is present.
fn read_entry<'a>(
    buf: &'a [u8],
    format: ListFormat,
    index: u64,
    offset: u64,
) -> Result<Step<'a>, ImaError> {
    let digest_len = format.bank.digest_size();
    let order = format.byte_order;
    let max = u64::from(format.max_entry_len);
    let too_long = |field, len, max| ImaError::TooLong {
        index,
        offset,
        field,
        len,
        max,
    };
    let mut at = 0usize;
    // Takes `n` bytes at `at`, or says how many are missing.
    let take = |at: &mut usize, n: usize| -> Result<&'a [u8], u64> {
        let end = at.saturating_add(n);
        match buf.get(*at..end) {
            Some(bytes) => {
                *at = end;
                Ok(bytes)
            }
            None => Err((end - buf.len()) as u64),
        }
    };
    let read_u32 = |at: &mut usize| -> Result<u32, u64> {
        take(at, 4).map(|b| order.u32([b[0], b[1], b[2], b[3]]))
    };
    macro_rules! need {
        ($e:expr) => {
            match $e {
                Ok(v) => v,
                Err(missing) => return Ok(Step::Incomplete(missing)),
            }
        };
    }
    // Each check runs once its length is known, so a bad header is refused before its body.
    let check_total = |total: u64| {
        if total > max {
            Err(too_long("entry", total, max))
        } else {
            Ok(())
        }
    };

    let pcr = need!(read_u32(&mut at));
    if pcr as usize >= PCR_COUNT {
        return Err(ImaError::PcrOutOfRange { index, offset, pcr });
    }
    let template_digest = need!(take(&mut at, digest_len));
    let name_len = need!(read_u32(&mut at));
    if name_len as usize > MAX_TEMPLATE_NAME_LEN {
        return Err(too_long(
            "template name",
            u64::from(name_len),
            MAX_TEMPLATE_NAME_LEN as u64,
        ));
    }
    check_total(at as u64 + u64::from(name_len))?;
    let template_name = need!(take(&mut at, name_len as usize));
    let data_start;
    let data_len;
    if template_name == b"ima" {
        data_start = at;
        need!(take(&mut at, IMA_DIGEST_LEN));
        let file_name_len = need!(read_u32(&mut at));
        if file_name_len as usize > IMA_NAME_LEN_MAX {
            return Err(too_long(
                "ima file name",
                u64::from(file_name_len),
                IMA_NAME_LEN_MAX as u64,
            ));
        }
        data_len = IMA_DIGEST_LEN + 4 + file_name_len as usize;
        at = data_start;
    } else {
        data_len = need!(read_u32(&mut at)) as usize;
        data_start = at;
    }
    check_total(data_start as u64 + data_len as u64)?;
    let template_data = need!(take(&mut at, data_len));
    Ok(Step::Entry(
        ImaEntry {
            index,
            offset,
            pcr,
            template_digest,
            template_name,
            template_data,
            format,
        },
        at,
    ))
}

/// The entries of a complete list, in order; the list's end must be an entry's end.
///
/// Only reads: it checks framing and bounds but not template digests (see
/// [`ImaEntry::check_template_digest`], and [`ImaReplay`], which checks every one). After an
/// error it yields nothing more.
pub fn entries(list: &[u8], format: ListFormat) -> Entries<'_> {
    Entries {
        rest: list,
        format,
        index: 0,
        offset: 0,
        failed: false,
    }
}

/// Iterator over the entries of a complete list; see [`entries`].
#[derive(Clone, Debug)]
pub struct Entries<'a> {
    rest: &'a [u8],
    format: ListFormat,
    index: u64,
    offset: u64,
    failed: bool,
}

impl<'a> Iterator for Entries<'a> {
    type Item = Result<ImaEntry<'a>, ImaError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.failed || self.rest.is_empty() {
            return None;
        }
        let result = match read_entry(self.rest, self.format, self.index, self.offset) {
            Ok(Step::Entry(entry, len)) => {
                self.rest = &self.rest[len..];
                self.index += 1;
                self.offset += len as u64;
                return Some(Ok(entry));
            }
            Ok(Step::Incomplete(missing)) => Err(ImaError::Truncated {
                index: self.index,
                offset: self.offset,
                missing,
            }),
            Err(e) => Err(e),
        };
        self.failed = true;
        Some(result)
    }
}

/// Whether a replayed PCR equals the value it was compared with.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PcrCheck {
    /// The replayed value is the expected one.
    Match,
    /// It is not (or the expected value does not have the bank's digest size).
    Mismatch,
}

/// A replay of the list in progress: the PCR values so far, and where the list continues.
///
/// The PCRs replayed are those of the list's bank, or of another bank with
/// [`ImaReplay::recomputing`].
///
/// Feed it the list from the start, then only the bytes appended since: [`ImaReplay::feed`]
/// consumes whole entries and returns how many bytes it used; the rest (the start of an entry
/// not yet complete) must be given again, followed by the new bytes. Every PCR an entry names
/// starts at zeros. Every entry's template digest is checked before it is extended; after an
/// error the replay refuses further bytes, so it never continues past an entry it refused.
#[derive(Clone)]
pub struct ImaReplay {
    format: ListFormat,
    pcr_bank: HashAlg,
    pcrs: [[u8; MAX_DIGEST_SIZE]; PCR_COUNT],
    extended: u32,
    entries: u64,
    offset: u64,
    failed: Option<ImaError>,
}

impl fmt::Debug for ImaReplay {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ImaReplay")
            .field("format", &self.format)
            .field("pcr_bank", &self.pcr_bank)
            .field("entries", &self.entries)
            .field("offset", &self.offset)
            .field("extended", &format_args!("{:#x}", self.extended))
            .field("failed", &self.failed)
            .finish()
    }
}

impl ImaReplay {
    /// A replay of an empty list of `format`.
    pub fn new(format: ListFormat) -> Self {
        ImaReplay::recomputing(format, format.bank)
    }

    /// A replay of the PCR bank `pcr_bank` from a list of another bank (typically the SHA-256
    /// bank from the classic SHA-1 list). Since Linux 5.8 the kernel extends each bank with
    /// that bank's own hash of the template data, so each entry's extend value is recomputed
    /// from its data (all ones for a violation); the list's own template digests are still
    /// checked. Older kernels extended other banks with the zero-padded SHA-1 digest instead,
    /// which this does not model.
    pub fn recomputing(format: ListFormat, pcr_bank: HashAlg) -> Self {
        ImaReplay {
            format,
            pcr_bank,
            pcrs: [[0; MAX_DIGEST_SIZE]; PCR_COUNT],
            extended: 0,
            entries: 0,
            offset: 0,
            failed: None,
        }
    }

    /// The list's format.
    pub fn format(&self) -> ListFormat {
        self.format
    }

    /// The bank of the PCRs replayed.
    pub fn pcr_bank(&self) -> HashAlg {
        self.pcr_bank
    }

    /// How many entries have been replayed.
    pub fn entries(&self) -> u64 {
        self.entries
    }

    /// How many bytes of the list have been consumed: the offset the next bytes fed must start
    /// at.
    pub fn offset(&self) -> u64 {
        self.offset
    }

    /// Replays the whole entries at the front of `bytes`, which must continue the list at
    /// [`ImaReplay::offset`]; returns how many bytes they took. A partial entry at the end is
    /// left for the next call.
    pub fn feed(&mut self, bytes: &[u8]) -> Result<usize, ImaError> {
        self.feed_with(bytes, |_, _| {})
    }

    /// As [`ImaReplay::feed`], calling `visit` with each entry once it is checked and
    /// extended, and the value of its PCR just after (to find the entry a quote was taken at).
    pub fn feed_with<F>(&mut self, bytes: &[u8], visit: F) -> Result<usize, ImaError>
    where
        F: FnMut(&ImaEntry<'_>, &[u8]),
    {
        self.replay_entries(bytes, visit).map(|(used, _)| used)
    }

    /// Replays whole entries; returns the bytes used and, if a partial entry follows, how many
    /// more bytes it needs at least.
    fn replay_entries<F>(&mut self, bytes: &[u8], mut visit: F) -> Result<(usize, u64), ImaError>
    where
        F: FnMut(&ImaEntry<'_>, &[u8]),
    {
        if let Some(e) = &self.failed {
            return Err(e.clone());
        }
        let mut used = 0usize;
        let mut missing = 0;
        while used < bytes.len() {
            let step = read_entry(&bytes[used..], self.format, self.entries, self.offset);
            let (entry, len) = match step {
                Ok(Step::Entry(entry, len)) => (entry, len),
                Ok(Step::Incomplete(more)) => {
                    missing = more;
                    break;
                }
                Err(e) => return Err(self.fail(e)),
            };
            if let Err(e) = entry
                .check_template_digest()
                .and_then(|()| entry.check_layout())
            {
                return Err(self.fail(e));
            }
            let mut value = [0u8; MAX_DIGEST_SIZE];
            let size = match entry.extend_value(self.pcr_bank, &mut value) {
                Ok(size) => size,
                Err(e) => return Err(self.fail(e)),
            };
            let pcr = &mut self.pcrs[entry.pcr() as usize];
            let mut hasher = Hasher::new(self.pcr_bank);
            hasher.update(&pcr[..size]);
            hasher.update(&value[..size]);
            hasher.finalize_into(pcr);
            self.extended |= 1 << entry.pcr();
            self.entries += 1;
            self.offset += len as u64;
            used += len;
            visit(&entry, &pcr[..size]);
        }
        Ok((used, missing))
    }

    /// Replays `bytes` as the rest of a complete list: a partial entry at the end is an error.
    pub fn finish(&mut self, bytes: &[u8]) -> Result<(), ImaError> {
        let (used, missing) = self.replay_entries(bytes, |_, _| {})?;
        if used == bytes.len() {
            return Ok(());
        }
        Err(self.fail(ImaError::Truncated {
            index: self.entries,
            offset: self.offset,
            missing,
        }))
    }

    /// The replayed value of `pcr` (zeros if no entry named it), or `None` beyond PCR 23.
    pub fn pcr(&self, pcr: u32) -> Option<&[u8]> {
        let size = self.pcr_bank.digest_size();
        self.pcrs.get(pcr as usize).map(|v| &v[..size])
    }

    /// The PCRs the list's entries extended, and their replayed values, lowest index first.
    pub fn extended_pcrs(&self) -> impl Iterator<Item = (u32, &[u8])> + '_ {
        let size = self.pcr_bank.digest_size();
        (0..PCR_COUNT as u32)
            .filter(|i| self.extended & (1 << i) != 0)
            .map(move |i| (i, &self.pcrs[i as usize][..size]))
    }

    /// Compares the replayed `pcr` with `expected` (e.g. from a verified quote), in constant
    /// time. A PCR no entry named replays to zeros.
    pub fn check_pcr(&self, pcr: u32, expected: &[u8]) -> PcrCheck {
        match self.pcr(pcr) {
            Some(value) if bool::from(value.ct_eq(expected)) => PcrCheck::Match,
            _ => PcrCheck::Mismatch,
        }
    }

    fn fail(&mut self, e: ImaError) -> ImaError {
        self.failed = Some(e.clone());
        e
    }
}

/// Replays a complete list into its PCRs.
pub fn replay(list: &[u8], format: ListFormat) -> Result<ImaReplay, ImaError> {
    let mut replay = ImaReplay::new(format);
    replay.finish(list)?;
    Ok(replay)
}
