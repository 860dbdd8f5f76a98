//! Replaying a PC Client event log into PCR values, comparing them with quoted values, and
//! the [`VerifiedLog`] a verifier makes its decisions on.
//!
//! The log comes from an untrusted agent; the quote, once its signature and nonce are
//! verified, is what the TPM says. [`EventLog::verify`] replays the log and accepts it only
//! if every quoted PCR comes out equal, returning a [`VerifiedLog`]: the one way to the
//! events for decisions. A log that does not reproduce the quote is refused as a whole,
//! since which of its events are the lie cannot be told. With the `attest` feature,
//! `Replay::pcr_values` gives the expected values for `attest::verify_quote`, and
//! `EventLog::verify_pcr_values` takes the same values once the quote verified.
//!
//! ```
//! use tpm2_wire::crypto::{hash, HashAlg};
//! use tpm2_wire::eventlog::log::{EventLog, EventType};
//!
//! // A SHA-1-form log of one event: an EV_SEPARATOR in PCR 7.
//! let data = [0u8; 4];
//! let mut bytes = Vec::new();
//! bytes.extend_from_slice(&7u32.to_le_bytes());
//! bytes.extend_from_slice(&EventType::SEPARATOR.0.to_le_bytes());
//! bytes.extend_from_slice(hash(HashAlg::Sha1, &[&data]).as_bytes());
//! bytes.extend_from_slice(&4u32.to_le_bytes());
//! bytes.extend_from_slice(&data);
//!
//! // What a verified quote of PCR 7 says: extend(0^20, SHA-1(data)).
//! let pcr7 = hash(HashAlg::Sha1, &[&[0u8; 20], hash(HashAlg::Sha1, &[&data]).as_bytes()]);
//!
//! let log = EventLog::parse(&bytes)?;
//! let verified = log.clone().verify(&[(HashAlg::Sha1, 7, pcr7.as_bytes())])?;
//! let events: Vec<_> = verified.events().collect();
//! assert_eq!(events.len(), 1);
//! assert_eq!(events[0].event_type(), EventType::SEPARATOR);
//!
//! // Any other value and the whole log is refused.
//! assert!(log.verify(&[(HashAlg::Sha1, 7, &[0u8; 20])]).is_err());
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use alloc::vec::Vec;

use crate::crypto::{HashAlg, Hasher};
use crate::wire::AlgId;

use super::log::{Event, EventLog, EventType, Finding, LogFormat, MAX_PCR};

const PCR_COUNT: usize = MAX_PCR as usize + 1;
const MAX_DIGEST: usize = 64;

/// PCRs 0 to 23 of one bank, as a replay computed them.
#[derive(Clone, PartialEq, Eq)]
struct Bank {
    alg: HashAlg,
    pcrs: [[u8; MAX_DIGEST]; PCR_COUNT],
    /// Which PCRs some event extended (bit n: PCR n).
    extended: u32,
}

/// The PCR values a log replays to, for every bank of the log this crate can hash (SHA-1,
/// SHA-256, SHA-384, SHA-512; other banks listed by the Spec ID header are skipped).
///
/// Every PCR starts at zero, except PCR 0, whose last byte is the startup locality
/// ([`EventLog::startup_locality`]): 3 when TPM2_Startup ran at locality 3, 4 when an H-CRTM
/// measured first (TPM 2.0 Library Part 1: the H-CRTM sequence resets PCR 0 to 4 before
/// extending its digest). PCRs 17 to 22, which a TPM resets to all ones until a dynamic
/// launch, are replayed from zero as the log's events would have extended them after one.
#[derive(Clone, PartialEq, Eq)]
pub struct Replay {
    banks: Vec<Bank>,
}

impl core::fmt::Debug for Replay {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        let mut m = f.debug_map();
        for b in &self.banks {
            for pcr in 0..PCR_COUNT as u32 {
                if b.extended & (1 << pcr) != 0 {
                    m.entry(
                        &(b.alg.name(), pcr),
                        &Hex(self.get(b.alg, pcr).unwrap_or(&[])),
                    );
                }
            }
        }
        m.finish()
    }
}

struct Hex<'a>(&'a [u8]);

impl core::fmt::Debug for Hex<'_> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        for b in self.0 {
            write!(f, "{b:02x}")?;
        }
        Ok(())
    }
}

impl Replay {
    /// The banks replayed, in the log's order.
    pub fn banks(&self) -> impl Iterator<Item = HashAlg> + '_ {
        self.banks.iter().map(|b| b.alg)
    }

    /// The replayed value of `pcr` in `bank`; `None` for a bank the log does not carry or a
    /// PCR beyond 23.
    pub fn get(&self, bank: HashAlg, pcr: u32) -> Option<&[u8]> {
        let b = self.banks.iter().find(|b| b.alg == bank)?;
        Some(&b.pcrs.get(pcr as usize)?[..bank.digest_size()])
    }

    /// Whether some event extended `pcr` in `bank` (otherwise its value is the start value).
    pub fn extended(&self, bank: HashAlg, pcr: u32) -> bool {
        pcr <= MAX_PCR
            && self
                .banks
                .iter()
                .any(|b| b.alg == bank && b.extended & (1 << pcr) != 0)
    }

    /// Compares the replay with the values of a quote, one entry per quoted PCR.
    pub fn compare<'q>(&self, quoted: &[(HashAlg, u32, &'q [u8])]) -> Vec<PcrCheck<'q>> {
        quoted
            .iter()
            .map(|&(bank, pcr, value)| {
                let outcome = match self.get(bank, pcr) {
                    None => PcrOutcome::NotInLog,
                    Some(replayed) if replayed == value => PcrOutcome::Match,
                    Some(replayed) => {
                        let mut buf = [0u8; MAX_DIGEST];
                        buf[..replayed.len()].copy_from_slice(replayed);
                        PcrOutcome::Mismatch {
                            replayed: buf,
                            len: replayed.len(),
                        }
                    }
                };
                PcrCheck {
                    bank,
                    pcr,
                    quoted: value,
                    outcome,
                }
            })
            .collect()
    }

    /// The replayed values of `pcrs` in each bank, as the attestation verifier's expected
    /// values: give them to [`verify_quote`](crate::attest::verify_quote) with the quote's
    /// selection.
    #[cfg(feature = "attest")]
    pub fn pcr_values(
        &self,
        selection: &[(HashAlg, &[u32])],
    ) -> Result<crate::attest::PcrValues, VerifyError> {
        let mut out = crate::attest::PcrValues::new();
        for &(bank, pcrs) in selection {
            for &pcr in pcrs {
                let value = self
                    .get(bank, pcr)
                    .ok_or(VerifyError::NotInLog { bank, pcr })?;
                let index = u8::try_from(pcr).map_err(|_| VerifyError::NotInLog { bank, pcr })?;
                out.insert(bank, index, value)
                    .map_err(|_| VerifyError::NotInLog { bank, pcr })?;
            }
        }
        Ok(out)
    }
}

/// What comparing one quoted PCR with the replay found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum PcrOutcome {
    /// The replay reproduces the quoted value.
    Match,
    /// The replay gives another value.
    Mismatch {
        /// The replayed value (its first `len` bytes).
        replayed: [u8; MAX_DIGEST],
        /// The bank's digest size.
        len: usize,
    },
    /// The log has no such bank, or the PCR is beyond 23.
    NotInLog,
}

/// One quoted PCR and what the replay said about it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PcrCheck<'q> {
    /// The bank.
    pub bank: HashAlg,
    /// The PCR.
    pub pcr: u32,
    /// The quoted value.
    pub quoted: &'q [u8],
    /// Match or not.
    pub outcome: PcrOutcome,
}

impl PcrCheck<'_> {
    /// Whether the replay reproduces the quoted value.
    pub fn matches(&self) -> bool {
        self.outcome == PcrOutcome::Match
    }
}

/// Why a log was refused against quoted PCR values.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum VerifyError {
    /// No quoted value was given: nothing vouches for the log.
    #[error("no quoted PCR value to verify the log against")]
    NothingQuoted,
    /// The same PCR of the same bank was quoted twice.
    #[error("PCR {pcr} of the {bank:?} bank is given twice")]
    DuplicateQuote {
        /// The bank.
        bank: HashAlg,
        /// The PCR.
        pcr: u32,
    },
    /// A quoted PCR the log cannot replay (a bank it does not carry, a PCR beyond 23).
    #[error("PCR {pcr} of the {bank:?} bank is not in the log")]
    NotInLog {
        /// The bank.
        bank: HashAlg,
        /// The PCR.
        pcr: u32,
    },
    /// The replay does not reproduce a quoted PCR: the log is refused as a whole.
    #[error(
        "the replay does not reproduce PCR {pcr} of the {bank:?} bank (first of {mismatches})"
    )]
    Mismatch {
        /// The bank of the first mismatch.
        bank: HashAlg,
        /// The PCR of the first mismatch.
        pcr: u32,
        /// How many quoted PCRs differ.
        mismatches: usize,
    },
    /// An event in a quoted PCR whose digest is defined over its data does not hash its data:
    /// the log shows one thing and measured another.
    #[error("event {index} in PCR {pcr}: its data does not hash to its digest")]
    DataMismatch {
        /// The event.
        index: usize,
        /// Its PCR.
        pcr: u32,
    },
}

impl<'a> EventLog<'a> {
    /// Replays the log: every extended event's digest is extended into its PCR in every bank
    /// that has one (see [`Replay`] for start values). Linear in the log.
    pub fn replay(&self) -> Replay {
        let mut banks: Vec<Bank> = Vec::new();
        for alg in self.banks() {
            if let Ok(h) = HashAlg::from_alg_id(alg) {
                let mut pcrs = [[0u8; MAX_DIGEST]; PCR_COUNT];
                pcrs[0][h.digest_size() - 1] = self.pcr0_locality;
                banks.push(Bank {
                    alg: h,
                    pcrs,
                    extended: 0,
                });
            }
        }
        let skip = usize::from(self.format == LogFormat::CryptoAgile);
        for e in self.events.iter().skip(skip).filter(|e| e.is_extended()) {
            for bank in &mut banks {
                let Some(digest) = e.digest(bank.alg.alg_id()) else {
                    continue;
                };
                // The parser refused extended events beyond PCR 23 and sized every digest of
                // a known bank from the header, which must agree with the hash.
                let Some(pcr) = bank.pcrs.get_mut(e.pcr as usize) else {
                    continue;
                };
                let n = bank.alg.digest_size();
                let mut h = Hasher::new(bank.alg);
                h.update(&pcr[..n]);
                h.update(digest);
                pcr[..n].copy_from_slice(h.finalize().as_bytes());
                bank.extended |= 1 << e.pcr;
            }
        }
        Replay { banks }
    }

    /// Replays the log and checks it against the PCR values of a verified quote
    /// (`(bank, pcr, value)`). Every quoted PCR must be reproduced by the replay, and no event
    /// in a quoted PCR may have a digest that contradicts its data
    /// ([`Finding::DigestMismatch`]); otherwise the log is refused as a whole. Use
    /// [`Replay::compare`] for a per-PCR report of what differs.
    pub fn verify(self, quoted: &[(HashAlg, u32, &[u8])]) -> Result<VerifiedLog<'a>, VerifyError> {
        if quoted.is_empty() {
            return Err(VerifyError::NothingQuoted);
        }
        for (i, &(bank, pcr, _)) in quoted.iter().enumerate() {
            if quoted[..i].iter().any(|&(b, p, _)| b == bank && p == pcr) {
                return Err(VerifyError::DuplicateQuote { bank, pcr });
            }
        }
        let replay = self.replay();
        let checks = replay.compare(quoted);
        if let Some(c) = checks.iter().find(|c| c.outcome == PcrOutcome::NotInLog) {
            return Err(VerifyError::NotInLog {
                bank: c.bank,
                pcr: c.pcr,
            });
        }
        let mismatches = checks.iter().filter(|c| !c.matches()).count();
        if let Some(c) = checks.iter().find(|c| !c.matches()) {
            return Err(VerifyError::Mismatch {
                bank: c.bank,
                pcr: c.pcr,
                mismatches,
            });
        }
        let mut quoted_banks = [0u32; 4];
        for &(bank, pcr, _) in quoted {
            quoted_banks[bank_slot(bank)] |= 1 << pcr;
        }
        for f in &self.findings {
            if let Finding::DigestMismatch { index, pcr, .. } = *f {
                if quoted_banks.iter().any(|m| m & (1 << pcr) != 0) {
                    return Err(VerifyError::DataMismatch { index, pcr });
                }
            }
        }
        Ok(VerifiedLog {
            log: self,
            replay,
            quoted: quoted_banks,
        })
    }

    /// [`EventLog::verify`] against the expected values a quote was verified with
    /// ([`verify_quote`](crate::attest::verify_quote) succeeded for `values`), e.g. those
    /// [`Replay::pcr_values`] gave.
    #[cfg(feature = "attest")]
    pub fn verify_pcr_values(
        self,
        values: &crate::attest::PcrValues,
    ) -> Result<VerifiedLog<'a>, VerifyError> {
        let mut quoted: Vec<(HashAlg, u32, &[u8])> = Vec::new();
        for selection in values.selection().iter() {
            let Ok(bank) = HashAlg::from_alg_id(selection.hash) else {
                continue;
            };
            for pcr in selection.select.pcrs() {
                if let Some(v) = values.get(bank, pcr) {
                    quoted.push((bank, u32::from(pcr), v));
                }
            }
        }
        self.verify(&quoted)
    }
}

fn bank_slot(bank: HashAlg) -> usize {
    match bank {
        HashAlg::Sha1 => 0,
        HashAlg::Sha256 => 1,
        HashAlg::Sha384 => 2,
        HashAlg::Sha512 => 3,
    }
}

/// A log whose replay reproduced every quoted PCR: the only way to its events for decisions.
///
/// It vouches for no more than the quote did: [`VerifiedLog::events`] yields only events
/// extended into a quoted PCR, and each event's digests only for the banks quoted for that
/// PCR. Event data is vouched for where the digest covers it
/// ([`EventType::digest_covers_data`], checked in every bank); for other event types the
/// data describes what was measured but is not itself measured.
#[derive(Clone, Debug)]
pub struct VerifiedLog<'a> {
    log: EventLog<'a>,
    replay: Replay,
    /// Per bank slot, the quoted PCRs (bit n: PCR n).
    quoted: [u32; 4],
}

/// An event of a [`VerifiedLog`], in a PCR the quote covered.
#[derive(Clone, Copy, Debug)]
pub struct VerifiedEvent<'v, 'a> {
    event: &'v Event<'a>,
    quoted: [u32; 4],
}

impl<'v, 'a> VerifiedEvent<'v, 'a> {
    /// Position in the log.
    pub fn index(&self) -> usize {
        self.event.index
    }

    /// The PCR it was extended into.
    pub fn pcr(&self) -> u32 {
        self.event.pcr
    }

    /// Its type.
    pub fn event_type(&self) -> EventType {
        self.event.event_type
    }

    /// Its data (see [`VerifiedLog`] for what that does and does not prove).
    pub fn data(&self) -> &'a [u8] {
        self.event.data
    }

    /// Its digest in `bank`, if that bank of its PCR was quoted and the event has one.
    pub fn digest(&self, bank: HashAlg) -> Option<&'a [u8]> {
        if self.quoted[bank_slot(bank)] & (1 << self.event.pcr) == 0 {
            return None;
        }
        self.event.digest(bank.alg_id())
    }
}

impl<'a> VerifiedLog<'a> {
    /// The events extended into quoted PCRs, in log order (EV_NO_ACTION events are never
    /// extended, so never vouched for).
    pub fn events(&self) -> impl Iterator<Item = VerifiedEvent<'_, 'a>> + '_ {
        let quoted = self.quoted;
        let any = quoted.iter().fold(0, |a, m| a | m);
        let skip = usize::from(self.log.format() == LogFormat::CryptoAgile);
        self.log
            .events
            .iter()
            .skip(skip)
            .filter(move |e| e.is_extended() && e.pcr <= MAX_PCR && any & (1 << e.pcr) != 0)
            .map(move |event| VerifiedEvent { event, quoted })
    }

    /// The replayed (and quoted) value of `pcr` in `bank`, if that PCR was quoted.
    pub fn pcr(&self, bank: HashAlg, pcr: u32) -> Option<&[u8]> {
        if pcr > MAX_PCR || self.quoted[bank_slot(bank)] & (1 << pcr) == 0 {
            return None;
        }
        self.replay.get(bank, pcr)
    }

    /// The parser's findings on the whole log.
    pub fn findings(&self) -> &[Finding] {
        self.log.findings()
    }

    /// The banks the log carries.
    pub fn banks(&self) -> Vec<AlgId> {
        self.log.banks()
    }
}
