//! PCR selections (TPMS_PCR_SELECT, TPMS_PCR_SELECTION, TPML_PCR_SELECTION), tagged hashes
//! (TPMT_HA, TPML_DIGEST_VALUES) and digest lists (TPML_DIGEST).

use core::fmt;

use super::structures::{bad_selector, list_entry, TpmList};
use super::{AlgId, Digest, Marshal, Reader, Unmarshal, WireError, Writer, MAX_DIGEST_SIZE};

/// The largest PCR bitmap accepted: 4 bytes, 32 PCRs (TPMs implement 24; tpm2-tss allows 4).
pub const PCR_SELECT_MAX: usize = 4;
/// How many PCR banks / hash algorithms a list may carry (tpm2-tss's TPM2_NUM_PCR_BANKS).
pub const MAX_PCR_BANKS: usize = 16;
/// TPML_DIGEST holds at most 8 digests (PolicyOR branches, PCR_Read values).
pub const MAX_DIGEST_LIST: usize = 8;

/// TPMS_PCR_SELECT: a PCR bitmap of `sizeofSelect` bytes (PCR n is bit n % 8 of byte n / 8).
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct PcrSelect {
    size: u8,
    // Bytes past `size` are always zero, so derived equality compares only the bitmap.
    bitmap: [u8; PCR_SELECT_MAX],
}

impl PcrSelect {
    /// The usual 3-byte bitmap (24 PCRs) with nothing selected.
    pub const fn none() -> Self {
        PcrSelect {
            size: 3,
            bitmap: [0; PCR_SELECT_MAX],
        }
    }

    /// A bitmap selecting `pcrs`, 3 bytes long unless a PCR above 23 needs the fourth.
    pub fn from_pcrs(pcrs: &[u8]) -> Result<Self, WireError> {
        let mut out = Self::none();
        for &pcr in pcrs {
            let byte = pcr as usize / 8;
            if byte >= PCR_SELECT_MAX {
                return Err(WireError::BadValue {
                    what: "PCR index",
                    value: pcr as u32,
                });
            }
            out.size = out.size.max(byte as u8 + 1);
            out.bitmap[byte] |= 1 << (pcr % 8);
        }
        Ok(out)
    }

    /// A bitmap taken as is (`sizeofSelect` = `bitmap.len()`, at most 4).
    pub fn from_bitmap(bitmap: &[u8]) -> Result<Self, WireError> {
        if bitmap.len() > PCR_SELECT_MAX {
            return Err(WireError::TooLarge {
                what: "PCR bitmap",
                size: bitmap.len(),
                max: PCR_SELECT_MAX,
            });
        }
        let mut out = PcrSelect {
            size: bitmap.len() as u8,
            bitmap: [0; PCR_SELECT_MAX],
        };
        out.bitmap[..bitmap.len()].copy_from_slice(bitmap);
        Ok(out)
    }

    /// The bitmap, `sizeofSelect` bytes long.
    pub fn bitmap(&self) -> &[u8] {
        &self.bitmap[..self.size as usize]
    }

    /// Whether PCR `pcr` is selected (`false` beyond the bitmap).
    pub fn is_selected(&self, pcr: u8) -> bool {
        self.bitmap()
            .get(pcr as usize / 8)
            .is_some_and(|b| b & (1 << (pcr % 8)) != 0)
    }

    /// The selected PCR indices, in increasing order.
    pub fn pcrs(&self) -> impl Iterator<Item = u8> + '_ {
        (0..(self.size * 8)).filter(|&p| self.is_selected(p))
    }

    /// Whether no PCR is selected (the bitmap may still be several bytes long).
    pub fn is_empty(&self) -> bool {
        self.bitmap().iter().all(|&b| b == 0)
    }
}

impl Default for PcrSelect {
    fn default() -> Self {
        Self::none()
    }
}

impl fmt::Debug for PcrSelect {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_set().entries(self.pcrs()).finish()
    }
}

impl Marshal for PcrSelect {
    fn marshal(&self, w: &mut Writer<'_>) {
        w.u8(self.size);
        w.bytes(self.bitmap());
    }
}

impl Unmarshal for PcrSelect {
    fn unmarshal(r: &mut Reader<'_>) -> Result<Self, WireError> {
        let size = r.u8()? as usize;
        if size > PCR_SELECT_MAX {
            return Err(WireError::TooLarge {
                what: "TPMS_PCR_SELECT sizeofSelect",
                size,
                max: PCR_SELECT_MAX,
            });
        }
        Self::from_bitmap(r.take(size)?)
    }
}

/// TPMS_PCR_SELECTION: a bank (hash algorithm) and the PCRs selected in it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct PcrSelection {
    /// The bank: the PCR hash algorithm (TPMI_ALG_HASH).
    pub hash: AlgId,
    /// The PCRs selected in that bank.
    pub select: PcrSelect,
}

impl PcrSelection {
    /// Selects `pcrs` (PCR indices, 0 to 31) in the bank of `hash`; fails with
    /// [`WireError::BadValue`] for an index above 31.
    pub fn new(hash: AlgId, pcrs: &[u8]) -> Result<Self, WireError> {
        Ok(PcrSelection {
            hash,
            select: PcrSelect::from_pcrs(pcrs)?,
        })
    }
}

impl Marshal for PcrSelection {
    fn marshal(&self, w: &mut Writer<'_>) {
        self.hash.marshal(w);
        self.select.marshal(w);
    }
}

impl Unmarshal for PcrSelection {
    fn unmarshal(r: &mut Reader<'_>) -> Result<Self, WireError> {
        Ok(PcrSelection {
            hash: AlgId::unmarshal(r)?,
            select: PcrSelect::unmarshal(r)?,
        })
    }
}

/// TPML_PCR_SELECTION
pub type PcrSelectionList = TpmList<PcrSelection, MAX_PCR_BANKS>;
/// TPML_DIGEST
pub type DigestList = TpmList<Digest, MAX_DIGEST_LIST>;
/// TPML_DIGEST_VALUES: one digest per bank, as PCR_Extend takes them.
pub type DigestValues = TpmList<HashValue, MAX_PCR_BANKS>;
list_entry!(
    PcrSelection => "TPML_PCR_SELECTION",
    Digest => "TPML_DIGEST",
    HashValue => "TPML_DIGEST_VALUES",
);

/// TPMT_HA: a hash algorithm and a digest whose length that algorithm fixes (no size field
/// on the wire). The length is checked when one is built, so one that exists always
/// marshals to something that reads back.
#[derive(Clone, PartialEq, Eq)]
pub struct HashValue {
    alg: AlgId,
    digest: Digest,
}

impl HashValue {
    /// Fails if `alg` is not a known hash or `digest` is not its digest size.
    pub fn new(alg: AlgId, digest: &[u8]) -> Result<Self, WireError> {
        let size = alg
            .digest_size()
            .ok_or_else(|| bad_selector("TPMT_HA hashAlg", alg.0))?;
        if digest.len() != size {
            return Err(WireError::SizeMismatch {
                declared: size,
                actual: digest.len(),
            });
        }
        Ok(HashValue {
            alg,
            digest: Digest::new(digest)?,
        })
    }

    /// The hash algorithm (TPMI_ALG_HASH).
    pub fn alg(&self) -> AlgId {
        self.alg
    }

    /// The digest, exactly the algorithm's digest size.
    pub fn digest(&self) -> &[u8] {
        self.digest.as_bytes()
    }
}

impl fmt::Debug for HashValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{:?}", self.alg, self.digest)
    }
}

impl Marshal for HashValue {
    fn marshal(&self, w: &mut Writer<'_>) {
        self.alg.marshal(w);
        w.bytes(self.digest.as_bytes());
    }
}

impl Unmarshal for HashValue {
    fn unmarshal(r: &mut Reader<'_>) -> Result<Self, WireError> {
        let alg = AlgId::unmarshal(r)?;
        let size = alg
            .digest_size()
            .ok_or_else(|| bad_selector("TPMT_HA hashAlg", alg.0))?;
        debug_assert!(size <= MAX_DIGEST_SIZE);
        Self::new(alg, r.take(size)?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pcr_selection_layout() {
        let sel = PcrSelection::new(AlgId::SHA256, &[0, 7, 16]).unwrap();
        assert_eq!(sel.to_bytes(), [0x00, 0x0B, 3, 0x81, 0x00, 0x01]);
        assert_eq!(sel.select.pcrs().collect::<Vec<_>>(), [0, 7, 16]);
        let wide = PcrSelect::from_pcrs(&[31]).unwrap();
        assert_eq!(wide.bitmap(), [0, 0, 0, 0x80]);
        assert!(PcrSelect::from_pcrs(&[32]).is_err());
        // sizeofSelect 5 is refused before the bitmap is read.
        assert!(matches!(
            PcrSelection::from_bytes(&[0, 0x0B, 5, 0, 0, 0, 0, 0]),
            Err(WireError::TooLarge { size: 5, .. })
        ));
    }

    #[test]
    fn hash_value_size_follows_the_algorithm() {
        let ha = HashValue::new(AlgId::SHA1, &[0xAB; 20]).unwrap();
        let bytes = ha.to_bytes();
        assert_eq!(bytes.len(), 22);
        assert_eq!(HashValue::from_bytes(&bytes).unwrap(), ha);
        assert!(HashValue::new(AlgId::SHA256, &[0; 20]).is_err());
        assert!(HashValue::from_bytes(&[0x00, 0x06, 0x00]).is_err());
        assert_eq!(HashValue::from_bytes(&[0x00, 0x10]).unwrap().digest(), []);
    }
}
