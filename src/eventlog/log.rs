//! The TCG PC Client Platform Firmware Profile event log, in its SHA-1 form
//! (TCG_PCClientPCREvent records) and its crypto-agile form (a Spec ID header, then
//! TCG_PCR_EVENT2 records), parsed without copying and without trusting it.
//!
//! # Framing rules
//!
//! Every size and count is checked against the bytes left before anything is read or
//! allocated, so the parser's memory is proportional to the log and its time linear in it.
//! Where the bytes still have exactly one reading, a firmware oddity is accepted and recorded
//! as a [`Finding`]; where they do not (a digest of an algorithm the header never sized, the
//! same bank twice in one event, a truncated record), the whole log is refused with a
//! [`LogError`] naming the event and the byte offset.
//!
//! # Quirks, and what the parser does with them
//!
//! - **Trailing padding**: when every byte after the last complete event is zero, parsing
//!   stops there and records [`Finding::TrailingZeros`]. An all-zero record would be an
//!   EV_PREBOOT_CERT (a type the TPM 2.0 profile never uses) with no data, so nothing real
//!   is lost. Likewise when every byte after it is 0xFF ([`Finding::TrailingFill`]): edk2
//!   fills the whole log area with 0xFF before logging, and a log read from that area (the
//!   ACPI TPM2 or CCEL table's, rather than the kernel's trimmed copy) still carries the rest;
//!   an all-0xFF record would name PCR 0xFFFFFFFF, which no log may extend. Other bytes that
//!   do not make a whole event are [`LogError::Truncated`].
//! - **Zero-length and oddly sized events**: the size field frames the event unambiguously,
//!   so any size is accepted; event types of a fixed size (EV_SEPARATOR: 4 bytes,
//!   EV_EFI_HCRTM_EVENT: 5) of another size get [`Finding::UnexpectedDataSize`]. The
//!   StartupLocality event changes how PCR 0 starts, so it must be exactly 17 bytes
//!   ([`LogError::StartupLocality`] otherwise).
//! - **A bank missing from an event** (e.g. only a SHA-1 digest in a log whose header lists
//!   SHA-1 and SHA-256): accepted, with [`Finding::BankMissing`]. Replay leaves that bank's
//!   PCR unchanged, as TPM2_PCR_Extend does for a bank it is given no digest for; a quote of
//!   that bank then shows whether the TPM saw the same.
//! - **Duplicated separators**: a second EV_SEPARATOR in the same PCR is extended like any
//!   event and recorded as [`Finding::DuplicateSeparator`].
//! - **A missing ExitBootServices event**: a UEFI log that reaches the OS loader (a
//!   separator in PCR 4) without the EV_EFI_ACTION "Exit Boot Services Invocation" gets
//!   [`Finding::ExitBootServicesMissing`]. No event is invented: if the firmware measured it
//!   without logging it, the replay of PCR 5 differs from the quote and the log is refused.
//! - **Vendor or unknown event types**: extended like any event (their digests are what the
//!   TPM was given), and recorded as [`Finding::UnknownEventType`].
//! - **Digests over the event's own data**: for the event types listed in
//!   [`EventType::digest_covers_data`], every bank's digest that this crate can compute is
//!   checked against the hash of the event data; a difference is
//!   [`Finding::DigestMismatch`] (the log shows one thing and measured another).

use alloc::vec::Vec;
use core::fmt;

use crate::crypto::{hash, HashAlg};
use crate::wire::{AlgId, Reader, WireError};

/// The smallest record either form can hold: a crypto-agile TCG_PCR_EVENT2 with no digest
/// and no data (pcrIndex, eventType, digest count, eventSize: 4 bytes each). A log of `n`
/// bytes has at most `n / MIN_EVENT_SIZE` events.
pub const MIN_EVENT_SIZE: usize = 16;

/// The highest PCR a PC Client log may extend.
pub const MAX_PCR: u32 = 23;

/// The most algorithms a Spec ID header may list (TPML_PCR_SELECTION's bound).
pub const MAX_BANKS: usize = crate::wire::MAX_PCR_BANKS;

const SHA1_DIGEST_SIZE: usize = 20;
const SPEC_ID_SIGNATURE: &[u8; 16] = b"Spec ID Event03\0";
const STARTUP_LOCALITY_SIGNATURE: &[u8; 16] = b"StartupLocality\0";
const EXIT_BOOT_SERVICES: &[u8] = b"Exit Boot Services Invocation";

macro_rules! event_types {
    ($($(#[$doc:meta])* $name:ident = $value:expr,)*) => {
        impl EventType {
            $($(#[$doc])* pub const $name: EventType = EventType($value);)*

            /// The specification's name (`EV_SEPARATOR`), or `None` for a type it does not
            /// define.
            pub fn name(self) -> Option<&'static str> {
                match self {
                    $(EventType::$name => Some(concat!("EV_", stringify!($name))),)*
                    _ => None,
                }
            }
        }
    };
}

/// An event type (the log's eventType field), with the PC Client Platform Firmware Profile's
/// values as named constants. Any value is representable: firmware and vendors use others.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct EventType(pub u32);

event_types! {
    /// EV_PREBOOT_CERT (deprecated).
    PREBOOT_CERT = 0x0000_0000,
    /// EV_POST_CODE: POST code, embedded firmware.
    POST_CODE = 0x0000_0001,
    /// EV_UNUSED.
    UNUSED = 0x0000_0002,
    /// EV_NO_ACTION: logged but never extended.
    NO_ACTION = 0x0000_0003,
    /// EV_SEPARATOR: the end of pre-OS measurements into a PCR.
    SEPARATOR = 0x0000_0004,
    /// EV_ACTION: an action string.
    ACTION = 0x0000_0005,
    /// EV_EVENT_TAG.
    EVENT_TAG = 0x0000_0006,
    /// EV_S_CRTM_CONTENTS.
    S_CRTM_CONTENTS = 0x0000_0007,
    /// EV_S_CRTM_VERSION.
    S_CRTM_VERSION = 0x0000_0008,
    /// EV_CPU_MICROCODE.
    CPU_MICROCODE = 0x0000_0009,
    /// EV_PLATFORM_CONFIG_FLAGS.
    PLATFORM_CONFIG_FLAGS = 0x0000_000A,
    /// EV_TABLE_OF_DEVICES.
    TABLE_OF_DEVICES = 0x0000_000B,
    /// EV_COMPACT_HASH.
    COMPACT_HASH = 0x0000_000C,
    /// EV_IPL: initial program loader (boot loaders use it for their own measurements).
    IPL = 0x0000_000D,
    /// EV_IPL_PARTITION_DATA.
    IPL_PARTITION_DATA = 0x0000_000E,
    /// EV_NONHOST_CODE.
    NONHOST_CODE = 0x0000_000F,
    /// EV_NONHOST_CONFIG.
    NONHOST_CONFIG = 0x0000_0010,
    /// EV_NONHOST_INFO.
    NONHOST_INFO = 0x0000_0011,
    /// EV_OMIT_BOOT_DEVICE_EVENTS.
    OMIT_BOOT_DEVICE_EVENTS = 0x0000_0012,
    /// EV_POST_CODE2.
    POST_CODE2 = 0x0000_0013,
    /// EV_EFI_EVENT_BASE.
    EFI_EVENT_BASE = 0x8000_0000,
    /// EV_EFI_VARIABLE_DRIVER_CONFIG: a UEFI configuration variable (Secure Boot keys...).
    EFI_VARIABLE_DRIVER_CONFIG = 0x8000_0001,
    /// EV_EFI_VARIABLE_BOOT: a Boot#### or BootOrder variable.
    EFI_VARIABLE_BOOT = 0x8000_0002,
    /// EV_EFI_BOOT_SERVICES_APPLICATION: a UEFI application loaded (boot loader, shell).
    EFI_BOOT_SERVICES_APPLICATION = 0x8000_0003,
    /// EV_EFI_BOOT_SERVICES_DRIVER.
    EFI_BOOT_SERVICES_DRIVER = 0x8000_0004,
    /// EV_EFI_RUNTIME_SERVICES_DRIVER.
    EFI_RUNTIME_SERVICES_DRIVER = 0x8000_0005,
    /// EV_EFI_GPT_EVENT: the GPT partition table.
    EFI_GPT_EVENT = 0x8000_0006,
    /// EV_EFI_ACTION: an action string ("Calling EFI Application from Boot Option", ...).
    EFI_ACTION = 0x8000_0007,
    /// EV_EFI_PLATFORM_FIRMWARE_BLOB.
    EFI_PLATFORM_FIRMWARE_BLOB = 0x8000_0008,
    /// EV_EFI_HANDOFF_TABLES.
    EFI_HANDOFF_TABLES = 0x8000_0009,
    /// EV_EFI_PLATFORM_FIRMWARE_BLOB2.
    EFI_PLATFORM_FIRMWARE_BLOB2 = 0x8000_000A,
    /// EV_EFI_HANDOFF_TABLES2.
    EFI_HANDOFF_TABLES2 = 0x8000_000B,
    /// EV_EFI_VARIABLE_BOOT2.
    EFI_VARIABLE_BOOT2 = 0x8000_000C,
    /// EV_EFI_GPT_EVENT2.
    EFI_GPT_EVENT2 = 0x8000_000D,
    /// EV_EFI_HCRTM_EVENT: the H-CRTM measured PCR 0 before the firmware ran.
    EFI_HCRTM_EVENT = 0x8000_0010,
    /// EV_EFI_VARIABLE_AUTHORITY: the Secure Boot authority that allowed an image.
    EFI_VARIABLE_AUTHORITY = 0x8000_00E0,
    /// EV_EFI_SPDM_FIRMWARE_BLOB.
    EFI_SPDM_FIRMWARE_BLOB = 0x8000_00E1,
    /// EV_EFI_SPDM_FIRMWARE_CONFIG.
    EFI_SPDM_FIRMWARE_CONFIG = 0x8000_00E2,
}

impl EventType {
    /// Whether the profile defines this event's digest as the hash of its own event data, so
    /// the two can be checked against each other: EV_SEPARATOR, EV_ACTION, EV_EFI_ACTION,
    /// EV_OMIT_BOOT_DEVICE_EVENTS and EV_EFI_VARIABLE_DRIVER_CONFIG (whose digest is over the
    /// whole UEFI_VARIABLE_DATA).
    ///
    /// Not checked: EV_EFI_VARIABLE_BOOT (firmware hashes the variable's contents alone or
    /// the whole structure, depending on its age), EV_EFI_VARIABLE_BOOT2 and
    /// EV_EFI_VARIABLE_AUTHORITY (likewise), images, firmware blobs, GPT and handoff tables
    /// (measured from memory the log only describes), EV_IPL (boot loaders hash a part of it
    /// of their choosing), EV_S_CRTM_VERSION and EV_POST_CODE (platform-defined).
    pub fn digest_covers_data(self) -> bool {
        matches!(
            self,
            EventType::SEPARATOR
                | EventType::ACTION
                | EventType::EFI_ACTION
                | EventType::OMIT_BOOT_DEVICE_EVENTS
                | EventType::EFI_VARIABLE_DRIVER_CONFIG
        )
    }

    /// Whether the profile defines this type.
    pub fn is_known(self) -> bool {
        self.name().is_some()
    }
}

impl fmt::Debug for EventType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl fmt::Display for EventType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.name() {
            Some(n) => f.write_str(n),
            None => write!(f, "0x{:08x}", self.0),
        }
    }
}

/// Which of the two layouts the log uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum LogFormat {
    /// TCG_PCClientPCREvent records, each with one SHA-1 digest (TPM 1.2 and older TPM 2.0
    /// firmware).
    Sha1,
    /// A Spec ID Event03 header, then TCG_PCR_EVENT2 records with one digest per bank.
    CryptoAgile,
}

/// One algorithm of the Spec ID header: its id and the size of its digests in the log.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AlgorithmSize {
    /// The TPM_ALG_ID.
    pub alg: AlgId,
    /// Digest size in bytes.
    pub digest_size: u16,
}

/// The TCG_EfiSpecIDEvent that opens a crypto-agile log.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SpecId {
    /// platformClass (0: client, 1: server).
    pub platform_class: u32,
    /// specVersionMinor.
    pub version_minor: u8,
    /// specVersionMajor.
    pub version_major: u8,
    /// specErrata.
    pub errata: u8,
    /// uintnSize (1: 32-bit UINTN, 2: 64-bit).
    pub uintn_size: u8,
    /// The banks the log carries digests for, in the header's order.
    pub algorithms: Vec<AlgorithmSize>,
    /// vendorInfo.
    pub vendor_info: Vec<u8>,
}

/// One digest of an event, as the log claims it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct EventDigest<'a> {
    /// The bank.
    pub alg: AlgId,
    /// The digest bytes (the header's size for `alg`).
    pub digest: &'a [u8],
}

/// One event, borrowed from the log's bytes. Nothing in it is trusted until a
/// [`VerifiedLog`](super::replay::VerifiedLog) vouches for it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Event<'a> {
    /// Position in the log, from 0 (the Spec ID header of a crypto-agile log is event 0).
    pub index: usize,
    /// Byte offset of the record in the log.
    pub offset: usize,
    /// pcrIndex.
    pub pcr: u32,
    /// eventType.
    pub event_type: EventType,
    /// The digests, in the log's order.
    pub digests: Vec<EventDigest<'a>>,
    /// The event data.
    pub data: &'a [u8],
}

impl<'a> Event<'a> {
    /// The digest for bank `alg`, if the event has one.
    pub fn digest(&self, alg: AlgId) -> Option<&'a [u8]> {
        self.digests.iter().find(|d| d.alg == alg).map(|d| d.digest)
    }

    /// Whether the event is extended into its PCR (everything except EV_NO_ACTION).
    pub fn is_extended(&self) -> bool {
        self.event_type != EventType::NO_ACTION
    }

    /// The locality of a StartupLocality EV_NO_ACTION event.
    pub fn startup_locality(&self) -> Option<u8> {
        if self.event_type == EventType::NO_ACTION
            && self.data.len() == 17
            && self.data.starts_with(STARTUP_LOCALITY_SIGNATURE)
        {
            return Some(self.data[16]);
        }
        None
    }
}

/// A firmware oddity the parser accepted because its bytes have one reading. Findings never
/// change what the replay computes; they tell a verifier what to look at.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Finding {
    /// Only zero bytes follow the last event (pre-allocated log space).
    TrailingZeros {
        /// Offset of the first padding byte.
        offset: usize,
        /// How many bytes.
        len: usize,
    },
    /// Only 0xFF bytes follow the last event (the unused part of a firmware log area).
    TrailingFill {
        /// Offset of the first fill byte.
        offset: usize,
        /// How many bytes.
        len: usize,
    },
    /// An event of a fixed-size type with data of another size.
    UnexpectedDataSize {
        /// The event.
        index: usize,
        /// Its type.
        event_type: EventType,
        /// Its data size.
        size: usize,
    },
    /// An event without a digest for a bank the header lists; that bank is not extended.
    BankMissing {
        /// The event.
        index: usize,
        /// The bank.
        alg: AlgId,
    },
    /// A second EV_SEPARATOR in the same PCR.
    DuplicateSeparator {
        /// The event.
        index: usize,
        /// The PCR.
        pcr: u32,
    },
    /// A UEFI log that reaches the OS loader without logging ExitBootServices.
    ExitBootServicesMissing,
    /// An event type the profile does not define.
    UnknownEventType {
        /// The event.
        index: usize,
        /// Its type.
        event_type: EventType,
    },
    /// An event whose digest is defined over its data, with a digest that is not the hash
    /// of that data.
    DigestMismatch {
        /// The event.
        index: usize,
        /// Its PCR.
        pcr: u32,
        /// Its type.
        event_type: EventType,
        /// The bank whose digest differs.
        alg: AlgId,
    },
}

/// Why a log was refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum LogError {
    /// The log has no event.
    #[error("the event log is empty")]
    Empty,
    /// A record runs past the end of the log.
    #[error("event {index} at offset {offset}: {field} runs past the end of the log")]
    Truncated {
        /// The event.
        index: usize,
        /// Offset of the field.
        offset: usize,
        /// The field.
        field: &'static str,
    },
    /// The Spec ID header is malformed.
    #[error("the Spec ID event at offset {offset}: {reason}")]
    SpecId {
        /// Offset of the offending field.
        offset: usize,
        /// What is wrong.
        reason: &'static str,
    },
    /// A digest of an algorithm the Spec ID header does not list: its size is unknown, so the
    /// rest of the log cannot be framed.
    #[error(
        "event {index} at offset {offset}: digest of algorithm {alg} not in the Spec ID header"
    )]
    UnknownDigestAlgorithm {
        /// The event.
        index: usize,
        /// Offset of the digest.
        offset: usize,
        /// The algorithm.
        alg: AlgId,
    },
    /// Two digests of the same bank in one event: which one was extended is ambiguous.
    #[error("event {index} at offset {offset}: two {alg} digests")]
    DuplicateDigest {
        /// The event.
        index: usize,
        /// Offset of the second digest.
        offset: usize,
        /// The algorithm.
        alg: AlgId,
    },
    /// More digests than the header has banks.
    #[error("event {index} at offset {offset}: {count} digests for {banks} banks")]
    TooManyDigests {
        /// The event.
        index: usize,
        /// Offset of the count.
        offset: usize,
        /// The count.
        count: u32,
        /// Banks in the header.
        banks: usize,
    },
    /// An extended event for a PCR beyond [`MAX_PCR`].
    #[error("event {index} at offset {offset}: PCR {pcr} is beyond PCR {MAX_PCR}")]
    PcrOutOfRange {
        /// The event.
        index: usize,
        /// Offset of the record.
        offset: usize,
        /// The PCR.
        pcr: u32,
    },
    /// A StartupLocality event that cannot say how PCR 0 started.
    #[error("event {index} at offset {offset}: StartupLocality event {reason}")]
    StartupLocality {
        /// The event.
        index: usize,
        /// Offset of the record.
        offset: usize,
        /// What is wrong.
        reason: &'static str,
    },
    /// An H-CRTM event that is not the first measurement into PCR 0, or contradicts the
    /// StartupLocality event.
    #[error("event {index} at offset {offset}: H-CRTM event {reason}")]
    Hcrtm {
        /// The event.
        index: usize,
        /// Offset of the record.
        offset: usize,
        /// What is wrong.
        reason: &'static str,
    },
}

/// A parsed event log. Parsed is not trusted: replay it, compare with a verified quote, and
/// use the events through the [`VerifiedLog`](super::replay::VerifiedLog) that comparison
/// returns.
#[derive(Clone, Debug)]
pub struct EventLog<'a> {
    pub(crate) bytes: &'a [u8],
    pub(crate) format: LogFormat,
    pub(crate) spec_id: Option<SpecId>,
    pub(crate) events: Vec<Event<'a>>,
    pub(crate) findings: Vec<Finding>,
    /// PCR 0's starting locality (0, 3 or 4).
    pub(crate) pcr0_locality: u8,
}

fn le_u32(r: &mut Reader<'_>) -> Result<u32, WireError> {
    Ok(u32::from_le_bytes(r.take_array()?))
}

fn le_u16(r: &mut Reader<'_>) -> Result<u16, WireError> {
    Ok(u16::from_le_bytes(r.take_array()?))
}

/// Reads a field, turning a short read into [`LogError::Truncated`] at its offset.
macro_rules! field {
    ($r:expr, $index:expr, $name:literal, $read:expr) => {{
        let offset = $r.position();
        $read.map_err(|_| LogError::Truncated {
            index: $index,
            offset,
            field: $name,
        })?
    }};
}

impl<'a> EventLog<'a> {
    /// Parses a log in either form (see the module documentation for what is accepted).
    pub fn parse(bytes: &'a [u8]) -> Result<Self, LogError> {
        let mut r = Reader::new(bytes);
        if r.is_empty() {
            return Err(LogError::Empty);
        }
        let mut log = EventLog {
            bytes,
            format: LogFormat::Sha1,
            spec_id: None,
            events: Vec::new(),
            findings: Vec::new(),
            pcr0_locality: 0,
        };
        // The first record is always in the SHA-1 layout; its data says which form follows.
        let first = read_sha1_event(&mut r, 0)?;
        if first.event_type == EventType::NO_ACTION && first.data.starts_with(SPEC_ID_SIGNATURE) {
            let data_offset = r.position() - first.data.len();
            let spec = parse_spec_id(first.data).map_err(|(at, reason)| LogError::SpecId {
                offset: data_offset + at,
                reason,
            })?;
            log.spec_id = Some(spec);
            log.format = LogFormat::CryptoAgile;
        }
        log.events.push(first);
        // Where the trailing zeros start, found once so that each event boundary checks for
        // padding in constant time (scanning the rest each time would be quadratic).
        let padding_from = bytes.iter().rposition(|&b| b != 0).map_or(0, |i| i + 1);
        let fill_from = bytes.iter().rposition(|&b| b != 0xFF).map_or(0, |i| i + 1);
        loop {
            if r.is_empty() {
                break;
            }
            let (offset, len) = (r.position(), r.remaining());
            if offset >= padding_from {
                log.findings.push(Finding::TrailingZeros { offset, len });
                break;
            }
            if offset >= fill_from {
                log.findings.push(Finding::TrailingFill { offset, len });
                break;
            }
            let index = log.events.len();
            let event = match &log.spec_id {
                Some(spec) => read_agile_event(&mut r, index, &spec.algorithms)?,
                None => read_sha1_event(&mut r, index)?,
            };
            log.events.push(event);
        }
        log.check_events()?;
        Ok(log)
    }

    /// Which form the log is in.
    pub fn format(&self) -> LogFormat {
        self.format
    }

    /// The Spec ID header of a crypto-agile log.
    pub fn spec_id(&self) -> Option<&SpecId> {
        self.spec_id.as_ref()
    }

    /// The banks the log carries digests for: SHA-1 alone for the SHA-1 form, the header's
    /// algorithms for the crypto-agile form (including any this crate cannot hash).
    pub fn banks(&self) -> Vec<AlgId> {
        match &self.spec_id {
            Some(spec) => spec.algorithms.iter().map(|a| a.alg).collect(),
            None => alloc::vec![AlgId::SHA1],
        }
    }

    /// Every event in log order, including EV_NO_ACTION ones and the Spec ID header. For
    /// inspection and debugging: decisions belong on a
    /// [`VerifiedLog`](super::replay::VerifiedLog).
    pub fn unverified_events(&self) -> &[Event<'a>] {
        &self.events
    }

    /// What the parser accepted but noted, in log order.
    pub fn findings(&self) -> &[Finding] {
        &self.findings
    }

    /// The locality TPM2_Startup ran at, as the StartupLocality event (or an H-CRTM event,
    /// which implies 4) says; 0 without either. PCR 0 starts as that byte, right-aligned.
    pub fn startup_locality(&self) -> u8 {
        self.pcr0_locality
    }

    /// The log's bytes.
    pub fn bytes(&self) -> &'a [u8] {
        self.bytes
    }

    /// The checks that need more than one record: PCR range, PCR 0's start, separators,
    /// ExitBootServices, digests over data. One pass over the events.
    fn check_events(&mut self) -> Result<(), LogError> {
        let mut pcr0_extended = false;
        let mut locality_seen = false;
        let mut separators = [false; MAX_PCR as usize + 1];
        let mut uefi = false;
        let mut ebs = false;
        let banks = self.banks();
        let mut findings = Vec::new();
        for (i, e) in self.events.iter().enumerate() {
            // The Spec ID header is the framing itself, not an event.
            if i == 0 && self.spec_id.is_some() {
                continue;
            }
            if e.event_type == EventType::NO_ACTION {
                if e.data.starts_with(STARTUP_LOCALITY_SIGNATURE) {
                    let bad = |reason| LogError::StartupLocality {
                        index: e.index,
                        offset: e.offset,
                        reason,
                    };
                    let locality = e.startup_locality().ok_or(bad("is not 17 bytes"))?;
                    if e.pcr != 0 {
                        return Err(bad("is not logged against PCR 0"));
                    }
                    if locality_seen {
                        return Err(bad("appears twice"));
                    }
                    if pcr0_extended {
                        return Err(bad("follows a measurement into PCR 0"));
                    }
                    if !matches!(locality, 0 | 3 | 4) {
                        return Err(bad("names a locality other than 0, 3 or 4"));
                    }
                    locality_seen = true;
                    self.pcr0_locality = locality;
                }
                continue;
            }
            if e.pcr > MAX_PCR {
                return Err(LogError::PcrOutOfRange {
                    index: e.index,
                    offset: e.offset,
                    pcr: e.pcr,
                });
            }
            if e.event_type == EventType::EFI_HCRTM_EVENT && e.pcr == 0 {
                // TPM 2.0 Library Part 1, H-CRTM: _TPM_Hash_Start resets PCR 0 to 4 (locality
                // 4) and the H-CRTM digest is its first extend.
                let bad = |reason| LogError::Hcrtm {
                    index: e.index,
                    offset: e.offset,
                    reason,
                };
                if pcr0_extended {
                    return Err(bad("follows a measurement into PCR 0"));
                }
                if locality_seen && self.pcr0_locality != 4 {
                    return Err(bad("contradicts the StartupLocality event"));
                }
                self.pcr0_locality = 4;
                if e.data.len() != 5 {
                    findings.push(Finding::UnexpectedDataSize {
                        index: e.index,
                        event_type: e.event_type,
                        size: e.data.len(),
                    });
                }
            }
            if e.pcr == 0 {
                pcr0_extended = true;
            }
            if e.event_type.0 & 0x8000_0000 != 0 {
                uefi = true;
            }
            if !e.event_type.is_known() {
                findings.push(Finding::UnknownEventType {
                    index: e.index,
                    event_type: e.event_type,
                });
            }
            if e.event_type == EventType::SEPARATOR {
                if e.data.len() != 4 {
                    findings.push(Finding::UnexpectedDataSize {
                        index: e.index,
                        event_type: e.event_type,
                        size: e.data.len(),
                    });
                }
                let seen = &mut separators[e.pcr as usize];
                if *seen {
                    findings.push(Finding::DuplicateSeparator {
                        index: e.index,
                        pcr: e.pcr,
                    });
                }
                *seen = true;
            }
            if e.event_type == EventType::EFI_ACTION && e.data.starts_with(EXIT_BOOT_SERVICES) {
                ebs = true;
            }
            for &alg in &banks {
                if e.digest(alg).is_none() {
                    findings.push(Finding::BankMissing {
                        index: e.index,
                        alg,
                    });
                }
            }
            if e.event_type.digest_covers_data() {
                for d in &e.digests {
                    let Ok(h) = HashAlg::from_alg_id(d.alg) else {
                        continue;
                    };
                    if hash(h, &[e.data]).as_bytes() != d.digest {
                        findings.push(Finding::DigestMismatch {
                            index: e.index,
                            pcr: e.pcr,
                            event_type: e.event_type,
                            alg: d.alg,
                        });
                    }
                }
            }
        }
        if uefi && separators[4] && !ebs {
            findings.push(Finding::ExitBootServicesMissing);
        }
        // Trailing padding was found during framing, before these.
        findings.append(&mut self.findings);
        findings.sort_by_key(finding_order);
        self.findings = findings;
        Ok(())
    }
}

/// Findings in log order; those about the log as a whole last.
fn finding_order(f: &Finding) -> usize {
    match f {
        Finding::UnexpectedDataSize { index, .. }
        | Finding::BankMissing { index, .. }
        | Finding::DuplicateSeparator { index, .. }
        | Finding::UnknownEventType { index, .. }
        | Finding::DigestMismatch { index, .. } => *index,
        Finding::TrailingZeros { .. }
        | Finding::TrailingFill { .. }
        | Finding::ExitBootServicesMissing => usize::MAX,
    }
}

fn read_sha1_event<'a>(r: &mut Reader<'a>, index: usize) -> Result<Event<'a>, LogError> {
    let offset = r.position();
    let pcr = field!(r, index, "pcrIndex", le_u32(r));
    let event_type = EventType(field!(r, index, "eventType", le_u32(r)));
    let digest = field!(r, index, "digest", r.take(SHA1_DIGEST_SIZE));
    let size = field!(r, index, "eventSize", le_u32(r));
    let data = field!(r, index, "event data", r.take(size as usize));
    Ok(Event {
        index,
        offset,
        pcr,
        event_type,
        digests: alloc::vec![EventDigest {
            alg: AlgId::SHA1,
            digest,
        }],
        data,
    })
}

fn read_agile_event<'a>(
    r: &mut Reader<'a>,
    index: usize,
    algorithms: &[AlgorithmSize],
) -> Result<Event<'a>, LogError> {
    let offset = r.position();
    let pcr = field!(r, index, "pcrIndex", le_u32(r));
    let event_type = EventType(field!(r, index, "eventType", le_u32(r)));
    let count_offset = r.position();
    let count = field!(r, index, "digest count", le_u32(r));
    // No bank twice, so never more digests than banks: this bounds the allocation too.
    if count as usize > algorithms.len() {
        return Err(LogError::TooManyDigests {
            index,
            offset: count_offset,
            count,
            banks: algorithms.len(),
        });
    }
    let mut digests = Vec::with_capacity(count as usize);
    for _ in 0..count {
        let digest_offset = r.position();
        let alg = AlgId(field!(r, index, "digest algorithm", le_u16(r)));
        let Some(size) = algorithms.iter().find(|a| a.alg == alg) else {
            return Err(LogError::UnknownDigestAlgorithm {
                index,
                offset: digest_offset,
                alg,
            });
        };
        if digests.iter().any(|d: &EventDigest<'_>| d.alg == alg) {
            return Err(LogError::DuplicateDigest {
                index,
                offset: digest_offset,
                alg,
            });
        }
        let digest = field!(r, index, "digest", r.take(usize::from(size.digest_size)));
        digests.push(EventDigest { alg, digest });
    }
    let size = field!(r, index, "eventSize", le_u32(r));
    let data = field!(r, index, "event data", r.take(size as usize));
    Ok(Event {
        index,
        offset,
        pcr,
        event_type,
        digests,
        data,
    })
}

/// A Spec ID event's data (from its signature on), checked as a log header must be. The
/// error is the offending field's offset in `data` and what is wrong with it.
pub(crate) fn parse_spec_id(data: &[u8]) -> Result<SpecId, (usize, &'static str)> {
    let mut r = Reader::new(data);
    let bad = |r: &Reader<'_>, reason| (r.position(), reason);
    let short = "is shorter than its fields";
    r.take(SPEC_ID_SIGNATURE.len())
        .map_err(|_| bad(&r, short))?;
    let platform_class = le_u32(&mut r).map_err(|_| bad(&r, short))?;
    let [version_minor, version_major, errata, uintn_size] =
        r.take_array::<4>().map_err(|_| bad(&r, short))?;
    let count = le_u32(&mut r).map_err(|_| bad(&r, short))?;
    if count == 0 {
        return Err(bad(&r, "lists no algorithm"));
    }
    // A TPM has a handful of banks; the cap keeps each event's digest lookups constant-time
    // (a header of thousands of zero-sized digests would make framing quadratic).
    if count as usize > MAX_BANKS {
        return Err(bad(&r, "lists more algorithms than a TPM has banks"));
    }
    if count as usize > r.remaining() / 4 {
        return Err(bad(&r, "lists more algorithms than it holds"));
    }
    let mut algorithms: Vec<AlgorithmSize> = Vec::with_capacity(count as usize);
    for _ in 0..count {
        let at = r.clone();
        let alg = AlgId(le_u16(&mut r).map_err(|_| bad(&r, short))?);
        let digest_size = le_u16(&mut r).map_err(|_| bad(&r, short))?;
        if algorithms.iter().any(|a| a.alg == alg) {
            return Err(bad(&at, "lists an algorithm twice"));
        }
        if let Ok(h) = HashAlg::from_alg_id(alg) {
            if usize::from(digest_size) != h.digest_size() {
                return Err(bad(&at, "gives a known algorithm the wrong digest size"));
            }
        }
        algorithms.push(AlgorithmSize { alg, digest_size });
    }
    let vendor_size = r.u8().map_err(|_| bad(&r, short))?;
    let vendor_info = r
        .take(usize::from(vendor_size))
        .map_err(|_| bad(&r, "vendorInfo runs past the event"))?
        .to_vec();
    if !r.is_empty() {
        return Err(bad(&r, "has bytes after vendorInfo"));
    }
    Ok(SpecId {
        platform_class,
        version_minor,
        version_major,
        errata,
        uintn_size,
        algorithms,
        vendor_info,
    })
}
