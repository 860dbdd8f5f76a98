//! The PCR values a verifier expects, and the digest a quote must carry for them.

use alloc::collections::BTreeMap;
use alloc::vec::Vec;

use crate::crypto::{HashAlg, Hasher};
use crate::wire::{
    AlgId, Digest, DigestList, PcrSelection, PcrSelectionList, MAX_PCR_BANKS, PCR_SELECT_MAX,
};

use super::AttestError;

/// The highest PCR index a selection can name (a 4-byte bitmap).
pub const MAX_PCR_INDEX: u8 = (PCR_SELECT_MAX * 8 - 1) as u8;

/// Why PCR values could not be recorded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ExpectedPcrError {
    /// A PCR index above [`MAX_PCR_INDEX`].
    #[error("PCR {0} is beyond the last selectable PCR ({MAX_PCR_INDEX})")]
    Index(u8),
    /// A value is not as long as its bank's digests.
    #[error("a {bank} value for PCR {pcr} must be {expected} bytes, not {actual}")]
    Length {
        /// The bank.
        bank: AlgId,
        /// The PCR.
        pcr: u8,
        /// The bank's digest size.
        expected: usize,
        /// The value's length.
        actual: usize,
    },
    /// The same PCR of the same bank was given twice.
    #[error("PCR {pcr} of the {bank} bank was given twice")]
    Duplicate {
        /// The bank.
        bank: AlgId,
        /// The PCR.
        pcr: u8,
    },
    /// More banks than a TPML_PCR_SELECTION holds.
    #[error("more than {MAX_PCR_BANKS} PCR banks")]
    TooManyBanks,
    /// A bank that is not one of the supported hashes (SHA-1, SHA-256, SHA-384, SHA-512).
    #[error("unsupported PCR bank {0}")]
    UnsupportedBank(AlgId),
    /// A TPM2_PCR_Read answer whose values do not match its selection.
    #[error("the PCR selection names {selected} PCRs but {values} values were given")]
    Count {
        /// PCRs the selection names.
        selected: usize,
        /// Values given.
        values: usize,
    },
}

/// The PCR values a verifier expects, by bank and PCR index: what it replayed from an event
/// log, or a known-good set. Each value is checked to be as long as its bank's digest.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PcrValues {
    // Banks in the order they were first given (a quote may order them any way), PCRs in
    // increasing order as the TPM concatenates them.
    banks: Vec<(HashAlg, BTreeMap<u8, Digest>)>,
}

impl PcrValues {
    /// No values.
    pub fn new() -> Self {
        Self::default()
    }

    /// Records the value of `pcr` in the `bank` bank.
    pub fn insert(&mut self, bank: HashAlg, pcr: u8, value: &[u8]) -> Result<(), ExpectedPcrError> {
        if pcr > MAX_PCR_INDEX {
            return Err(ExpectedPcrError::Index(pcr));
        }
        if value.len() != bank.digest_size() {
            return Err(ExpectedPcrError::Length {
                bank: bank.alg_id(),
                pcr,
                expected: bank.digest_size(),
                actual: value.len(),
            });
        }
        let i = match self.banks.iter().position(|(b, _)| *b == bank) {
            Some(i) => i,
            None if self.banks.len() >= MAX_PCR_BANKS => {
                return Err(ExpectedPcrError::TooManyBanks)
            }
            None => {
                self.banks.push((bank, BTreeMap::new()));
                self.banks.len() - 1
            }
        };
        let values = &mut self.banks[i].1;
        if values.contains_key(&pcr) {
            return Err(ExpectedPcrError::Duplicate {
                bank: bank.alg_id(),
                pcr,
            });
        }
        // The length was checked against the bank's digest size, which a Digest holds.
        let digest = Digest::new(value).map_err(|_| ExpectedPcrError::Length {
            bank: bank.alg_id(),
            pcr,
            expected: bank.digest_size(),
            actual: value.len(),
        })?;
        values.insert(pcr, digest);
        Ok(())
    }

    /// `self` with the value of `pcr` in the `bank` bank recorded (see [`PcrValues::insert`]).
    pub fn with(mut self, bank: HashAlg, pcr: u8, value: &[u8]) -> Result<Self, ExpectedPcrError> {
        self.insert(bank, pcr, value)?;
        Ok(self)
    }

    /// The values a TPM2_PCR_Read answer holds (`pcr_selection_out` and `pcr_values`),
    /// e.g. to quote the current values of a test TPM. A verifier should get its values from
    /// somewhere it trusts, not from the TPM it verifies.
    pub fn from_pcr_read(
        selection: &PcrSelectionList,
        values: &DigestList,
    ) -> Result<Self, ExpectedPcrError> {
        let selected: usize = selection.iter().map(|s| s.select.pcrs().count()).sum();
        if selected != values.len() {
            return Err(ExpectedPcrError::Count {
                selected,
                values: values.len(),
            });
        }
        let mut out = PcrValues::new();
        let mut next = values.iter();
        for s in selection.iter() {
            let bank = HashAlg::from_alg_id(s.hash)
                .map_err(|_| ExpectedPcrError::UnsupportedBank(s.hash))?;
            for (pcr, value) in s.select.pcrs().zip(&mut next) {
                out.insert(bank, pcr, value.as_bytes())?;
            }
        }
        Ok(out)
    }

    /// The value of `pcr` in the `bank` bank, if one was given.
    pub fn get(&self, bank: HashAlg, pcr: u8) -> Option<&[u8]> {
        self.bank(bank)?.get(&pcr).map(Digest::as_bytes)
    }

    /// How many values there are, over all banks.
    pub fn len(&self) -> usize {
        self.banks.iter().map(|(_, v)| v.len()).sum()
    }

    /// Whether no value was given.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The selection of every PCR with a value, bank by bank: what to ask TPM2_Quote for.
    pub fn selection(&self) -> PcrSelectionList {
        let mut list = PcrSelectionList::default();
        for (bank, values) in &self.banks {
            let pcrs: Vec<u8> = values.keys().copied().collect();
            // Indices were checked on insertion and the bank count is bounded by the list's.
            if let Ok(selection) = PcrSelection::new(bank.alg_id(), &pcrs) {
                let _ = list.push(selection);
            }
        }
        list
    }

    fn bank(&self, bank: HashAlg) -> Option<&BTreeMap<u8, Digest>> {
        self.banks.iter().find(|(b, _)| *b == bank).map(|(_, v)| v)
    }

    /// The pcrDigest a quote of `quoted` must carry for these values, hashed with `hash`:
    /// the values concatenated in the quote's selection order (bank by bank as listed, each
    /// bank's PCRs in increasing order). Fails if the quote selects a PCR without a value
    /// here, selects a bank twice, or leaves out a PCR that has a value here: the verifier
    /// learns nothing about a PCR that was not quoted.
    pub(crate) fn quote_digest(
        &self,
        quoted: &PcrSelectionList,
        hash: HashAlg,
    ) -> Result<Digest, AttestError> {
        let mut hasher = Hasher::new(hash);
        let mut seen: Vec<HashAlg> = Vec::new();
        let mut covered = 0usize;
        for selection in quoted.iter() {
            if selection.select.is_empty() {
                continue;
            }
            let bank = HashAlg::from_alg_id(selection.hash).ok();
            let values = bank.and_then(|b| self.bank(b));
            let (Some(bank), Some(values)) = (bank, values) else {
                let first = selection.select.pcrs().next().unwrap_or_default();
                return Err(AttestError::PcrNotExpected {
                    bank: selection.hash,
                    pcr: first,
                });
            };
            if seen.contains(&bank) {
                return Err(AttestError::DuplicatePcrBank(selection.hash));
            }
            seen.push(bank);
            for pcr in selection.select.pcrs() {
                let value = values.get(&pcr).ok_or(AttestError::PcrNotExpected {
                    bank: selection.hash,
                    pcr,
                })?;
                hasher.update(value.as_bytes());
                covered += 1;
            }
        }
        if covered != self.len() {
            // Some expected value was not in the quote: name the first one.
            for (bank, values) in &self.banks {
                let quoted_bank = quoted.iter().find(|s| s.hash == bank.alg_id());
                for &pcr in values.keys() {
                    if !quoted_bank.is_some_and(|s| s.select.is_selected(pcr)) {
                        return Err(AttestError::PcrNotQuoted {
                            bank: bank.alg_id(),
                            pcr,
                        });
                    }
                }
            }
        }
        Ok(hasher.finalize())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crypto::hash;

    fn values() -> PcrValues {
        PcrValues::new()
            .with(HashAlg::Sha256, 16, &[0x16; 32])
            .unwrap()
            .with(HashAlg::Sha256, 0, &[0x00; 32])
            .unwrap()
            .with(HashAlg::Sha1, 23, &[0x23; 20])
            .unwrap()
    }

    #[test]
    fn values_are_checked_as_they_are_given() {
        let mut v = PcrValues::new();
        assert_eq!(
            v.insert(HashAlg::Sha256, 0, &[0; 20]),
            Err(ExpectedPcrError::Length {
                bank: AlgId::SHA256,
                pcr: 0,
                expected: 32,
                actual: 20
            })
        );
        assert_eq!(
            v.insert(HashAlg::Sha1, 32, &[0; 20]),
            Err(ExpectedPcrError::Index(32))
        );
        v.insert(HashAlg::Sha1, 31, &[0; 20]).unwrap();
        assert_eq!(
            v.insert(HashAlg::Sha1, 31, &[1; 20]),
            Err(ExpectedPcrError::Duplicate {
                bank: AlgId::SHA1,
                pcr: 31
            })
        );
        assert_eq!(v.get(HashAlg::Sha1, 31), Some(&[0u8; 20][..]));
        assert_eq!(v.len(), 1);
    }

    #[test]
    fn the_selection_lists_banks_in_order_given_and_pcrs_in_increasing_order() {
        let sel = values().selection();
        assert_eq!(sel.len(), 2);
        assert_eq!(sel[0].hash, AlgId::SHA256);
        assert!(sel[0].select.pcrs().eq([0, 16]));
        assert_eq!(sel[1].hash, AlgId::SHA1);
        assert!(sel[1].select.pcrs().eq([23]));
    }

    #[test]
    fn the_digest_follows_the_quote_order() {
        let v = values();
        // The quote lists sha1 first: its value comes first in the digest.
        let quoted = PcrSelectionList::new(vec![
            PcrSelection::new(AlgId::SHA1, &[23]).unwrap(),
            PcrSelection::new(AlgId::SHA256, &[0, 16]).unwrap(),
        ])
        .unwrap();
        let expected = hash(HashAlg::Sha256, &[&[0x23; 20], &[0x00; 32], &[0x16; 32]]);
        assert_eq!(v.quote_digest(&quoted, HashAlg::Sha256).unwrap(), expected);
    }

    #[test]
    fn a_quote_that_selects_more_fewer_or_repeated_pcrs_is_refused() {
        let v = values();
        let more = PcrSelectionList::new(vec![
            PcrSelection::new(AlgId::SHA256, &[0, 7, 16]).unwrap(),
            PcrSelection::new(AlgId::SHA1, &[23]).unwrap(),
        ])
        .unwrap();
        assert!(matches!(
            v.quote_digest(&more, HashAlg::Sha256),
            Err(AttestError::PcrNotExpected { pcr: 7, .. })
        ));
        let fewer =
            PcrSelectionList::new(vec![PcrSelection::new(AlgId::SHA256, &[0, 16]).unwrap()])
                .unwrap();
        assert!(matches!(
            v.quote_digest(&fewer, HashAlg::Sha256),
            Err(AttestError::PcrNotQuoted { pcr: 23, .. })
        ));
        let twice = PcrSelectionList::new(vec![
            PcrSelection::new(AlgId::SHA256, &[0]).unwrap(),
            PcrSelection::new(AlgId::SHA256, &[16]).unwrap(),
            PcrSelection::new(AlgId::SHA1, &[23]).unwrap(),
        ])
        .unwrap();
        assert!(matches!(
            v.quote_digest(&twice, HashAlg::Sha256),
            Err(AttestError::DuplicatePcrBank(AlgId::SHA256))
        ));
        let unknown_bank =
            PcrSelectionList::new(vec![PcrSelection::new(AlgId::SM3_256, &[0]).unwrap()]).unwrap();
        assert!(matches!(
            v.quote_digest(&unknown_bank, HashAlg::Sha256),
            Err(AttestError::PcrNotExpected {
                bank: AlgId::SM3_256,
                pcr: 0
            })
        ));
    }

    #[test]
    fn pcr_read_answers_convert_in_selection_order() {
        let sel = PcrSelectionList::new(vec![PcrSelection::new(AlgId::SHA256, &[1, 2]).unwrap()])
            .unwrap();
        let digests = DigestList::new(vec![
            Digest::new(&[1; 32]).unwrap(),
            Digest::new(&[2; 32]).unwrap(),
        ])
        .unwrap();
        let v = PcrValues::from_pcr_read(&sel, &digests).unwrap();
        assert_eq!(v.get(HashAlg::Sha256, 2), Some(&[2u8; 32][..]));
        let short = DigestList::new(vec![Digest::new(&[1; 32]).unwrap()]).unwrap();
        assert_eq!(
            PcrValues::from_pcr_read(&sel, &short),
            Err(ExpectedPcrError::Count {
                selected: 2,
                values: 1
            })
        );
    }
}
