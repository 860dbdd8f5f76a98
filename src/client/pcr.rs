//! PCR selections from tpm2-tools specifiers, and the PCR digest TPM2_PolicyPCR compares:
//! computed from PCR values in a file (as `tpm2_pcrread -o` writes them) or read from the TPM.

use std::path::{Path, PathBuf};

use super::Tpm;
use crate::auth::PcrSelectionSpec;
use crate::crypto::{self, CryptoError, HashAlg};
use crate::error::{Error, Result};
use crate::files::{self, FileError};
use crate::wire::{AlgId, CommandCode, Digest, PcrSelection, PcrSelectionList, WireError};

/// A parsed specifier (`sha1:0,1+sha256:all`) as the TPML_PCR_SELECTION of a command, banks
/// in the order given (which is the order PolicyPCR hashes them in).
impl TryFrom<&PcrSelectionSpec> for PcrSelectionList {
    type Error = WireError;

    fn try_from(spec: &PcrSelectionSpec) -> core::result::Result<Self, WireError> {
        let mut banks = Vec::with_capacity(spec.banks.len());
        for b in &spec.banks {
            // The parser admits PCRs 0 to 23 only; PcrSelection refuses anything above 31.
            let pcrs: Vec<u8> = b.indices().map(|i| i as u8).collect();
            banks.push(PcrSelection::new(b.hash, &pcrs)?);
        }
        PcrSelectionList::new(banks)
    }
}

/// Why PCR values could not be read from a file.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PcrValuesError {
    /// A bank's hash is not one this library computes, so its values' size is unknown.
    #[error(transparent)]
    Hash(#[from] CryptoError),
    /// The file could not be read, or holds more than the selection's values.
    #[error(transparent)]
    File(#[from] FileError),
    /// The file holds fewer bytes than the selection's values take.
    #[error("{}: {size} bytes, but the selection's PCR values take {expected}", path.display())]
    Short {
        /// The file.
        path: PathBuf,
        /// Its size in bytes.
        size: usize,
        /// The size of the selection's values.
        expected: usize,
    },
}

impl From<PcrValuesError> for Error {
    fn from(e: PcrValuesError) -> Self {
        match e {
            PcrValuesError::Hash(e) => Error::Crypto(e),
            PcrValuesError::File(e) => Error::File(e),
            PcrValuesError::Short {
                path,
                size,
                expected,
            } => Error::File(FileError::InFile {
                path,
                error: Box::new(FileError::Truncated {
                    what: "PCR values",
                    needed: expected,
                    available: size,
                }),
            }),
        }
    }
}

/// Each selected PCR as (bank, PCR number, digest size), in selection order: bank by bank,
/// lowest PCR first, the order of PCR values in TPM2_PCR_Read and in PolicyPCR's digest.
fn selected_pcrs(
    selection: &PcrSelectionList,
) -> core::result::Result<Vec<(AlgId, u8, usize)>, CryptoError> {
    let mut out = Vec::new();
    for bank in selection.iter() {
        let size = HashAlg::from_alg_id(bank.hash)?.digest_size();
        out.extend(bank.select.pcrs().map(|pcr| (bank.hash, pcr, size)));
    }
    Ok(out)
}

/// The digest TPM2_PolicyPCR compares: `hash` (the policy session's hash) over the PCR
/// values of `selection`, read from `path` (raw values in selection order, as
/// `tpm2_pcrread -o` writes them). The file must hold exactly those values; a larger one (or
/// an endless device) is refused without being read past that size.
pub fn pcr_digest_from_file(
    path: &Path,
    selection: &PcrSelectionList,
    hash: HashAlg,
) -> core::result::Result<Digest, PcrValuesError> {
    let expected: usize = selected_pcrs(selection)?.iter().map(|p| p.2).sum();
    let values = files::read_bounded(path, "PCR values file", expected)?;
    if values.len() != expected {
        return Err(PcrValuesError::Short {
            path: path.to_path_buf(),
            size: values.len(),
            expected,
        });
    }
    Ok(crypto::hash(hash, &[&values]))
}

fn malformed(what: &'static str, value: u32) -> Error {
    Error::Malformed {
        command: CommandCode::PCR_READ,
        source: WireError::BadValue { what, value },
    }
}

impl Tpm {
    /// The current values of the PCRs in `selection`, in selection order (bank by bank, lowest
    /// PCR first), across as many TPM2_PCR_Read calls as it takes (a TPM returns at most eight
    /// per call). Every value is checked to be one that was asked for, once, with its bank's
    /// digest size. A PCR the TPM does not return (a bank it has not allocated) is an error:
    /// a policy computed without it would never be satisfied.
    pub fn pcr_values(&self, selection: &PcrSelectionList) -> Result<Vec<Digest>> {
        let wanted = selected_pcrs(selection)?;
        let mut values: Vec<Option<Digest>> = vec![None; wanted.len()];
        loop {
            let missing: Vec<usize> = (0..wanted.len()).filter(|&i| values[i].is_none()).collect();
            let Some(&first_missing) = missing.first() else {
                break;
            };
            let mut ask = PcrSelectionList::default();
            for bank in selection.iter() {
                let pcrs: Vec<u8> = missing
                    .iter()
                    .filter(|&&i| wanted[i].0 == bank.hash)
                    .map(|&i| wanted[i].1)
                    .collect();
                if !pcrs.is_empty() {
                    ask.push(PcrSelection::new(bank.hash, &pcrs)?)?;
                }
            }
            let rsp = self.pcr_read(&ask)?;
            let mut digests = rsp.pcr_values.iter();
            let mut progress = false;
            for bank in rsp.pcr_selection_out.iter() {
                for pcr in bank.select.pcrs() {
                    let i = missing
                        .iter()
                        .copied()
                        .find(|&i| wanted[i].0 == bank.hash && wanted[i].1 == pcr)
                        .ok_or_else(|| malformed("PCR returned (not asked for)", pcr.into()))?;
                    let d = digests
                        .next()
                        .ok_or_else(|| malformed("number of PCR values (too few)", pcr.into()))?;
                    if d.len() != wanted[i].2 || values[i].is_some() {
                        return Err(malformed("PCR value (wrong size or repeated)", pcr.into()));
                    }
                    values[i] = Some(d.clone());
                    progress = true;
                }
            }
            if digests.next().is_some() {
                return Err(malformed(
                    "number of PCR values (more than PCRs)",
                    rsp.pcr_values.len() as u32,
                ));
            }
            if !progress {
                // Asking again would get the same answer: say which PCR is not there.
                let (bank, pcr, _) = wanted[first_missing];
                return Err(Error::PcrNotReturned { bank, pcr });
            }
        }
        Ok(values.into_iter().flatten().collect())
    }

    /// The digest TPM2_PolicyPCR compares: `hash` (the policy session's hash) over the current
    /// values of `selection` ([`Tpm::pcr_values`]). Giving PolicyPCR an empty digest instead
    /// makes the TPM use its current values itself; this one can be kept and compared later.
    pub fn pcr_digest(&self, selection: &PcrSelectionList, hash: HashAlg) -> Result<Digest> {
        let values = self.pcr_values(selection)?;
        let parts: Vec<&[u8]> = values.iter().map(|d| d.as_bytes()).collect();
        Ok(crypto::hash(hash, &parts))
    }
}
