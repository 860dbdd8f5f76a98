//! tpm2-tools PCR bank specifiers: `sha1:0,1+sha256:all`.
//!
//! The grammar follows tpm2-tools `lib/pcr.c` (`pcr_parse_selections`): banks joined by `+`,
//! each `HASH:LIST` where HASH is a hash name or a numeric TPM_ALG_ID of a hash, and LIST is
//! `all`, `none`, or comma-separated PCR numbers. tpm2-tools has no ranges (`0-7`), so neither
//! do we. Where tpm2-tools is lax we are strict rather than guess:
//! - a PCR or bank listed twice is an error (tpm2-tools ORs the bits together silently);
//! - `all`/`none` must be the whole list (tpm2-tools accepts `allgarbage` as `all`);
//! - numbers with a leading zero are refused: tpm2-tools reads them with `strtoul(.., 0)`,
//!   i.e. as octal, so `010` would silently mean PCR 8;
//! - whitespace is refused (`strtoul` skips leading blanks);
//! - forward-sealing values (`0=DIGEST`) are refused: they only exist for sealing tools,
//!   never in `pcr:` authorizations, which is what this parser is for.
//!
//! We accept a little more than tpm2-tools in one respect: it copies each PCR into a 4-byte
//! buffer and each hash into a 9-byte one, so it refuses `0x10`..`0x17` and long ids like
//! `0x0000000b`. `Display` only writes decimal PCRs and hash names, which tpm2-tools reads.

use core::fmt;

use super::AuthError;
use crate::crypto::HashAlg;
use crate::wire::AlgId;

/// Number of PCRs tpm2-tools can select (TPM2_PCR_LAST + 1); its selections are 3 bytes.
pub const PCR_COUNT: u32 = 24;
/// The bit mask `all` selects: PCRs 0..=23.
pub const ALL_PCRS: u32 = (1 << PCR_COUNT) - 1;

/// Bank hashes tpm2-tools names (`tpm2_alg_util.c`, hash flag) that the library cannot
/// compute but a TPM may have; the four it computes are spelled by [`HashAlg::name`].
/// Matching is case-sensitive, as it is there (`strcmp`).
const OTHER_HASH_NAMES: &[(&str, AlgId)] = &[
    ("sm3_256", AlgId::SM3_256),
    ("sha3_256", AlgId::SHA3_256),
    ("sha3_384", AlgId::SHA3_384),
    ("sha3_512", AlgId::SHA3_512),
];

/// Every bank hash tpm2-tools names, with its name.
fn bank_hashes() -> impl Iterator<Item = (&'static str, AlgId)> {
    HashAlg::ALL
        .into_iter()
        .map(|h| (h.name(), h.alg_id()))
        .chain(OTHER_HASH_NAMES.iter().copied())
}

/// The tpm2-tools name of a bank's hash, if it has one.
fn bank_hash_name(hash: AlgId) -> Option<&'static str> {
    bank_hashes()
        .find(|(_, id)| *id == hash)
        .map(|(name, _)| name)
}

/// One bank of a PCR selection: a hash algorithm and a bit set of PCRs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct PcrBank {
    /// The bank's hash algorithm.
    pub hash: AlgId,
    /// Bit `i` selects PCR `i` (0..=23).
    pub pcrs: u32,
}

impl PcrBank {
    /// Whether PCR `index` is selected.
    pub fn contains(&self, index: u32) -> bool {
        index < 32 && self.pcrs & (1 << index) != 0
    }

    /// The selected PCR numbers, ascending.
    pub fn indices(&self) -> impl Iterator<Item = u32> + '_ {
        (0..32).filter(move |&i| self.contains(i))
    }
}

/// A parsed PCR bank specifier. Banks keep the order they were given in (the TPM hashes the
/// selected PCRs in TPML_PCR_SELECTION order, so order matters for PolicyPCR digests).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct PcrSelectionSpec {
    /// The banks, in the order given.
    pub banks: Vec<PcrBank>,
}

/// Prints the canonical tpm2-tools form: hash names, `all`/`none` where they apply, PCRs in
/// ascending decimal. Every selection [`parse_pcr_selection`] returns prints to a string that
/// parses back to the same value. (An empty selection prints as the empty string, which is not
/// a valid specifier; hashes without a tpm2-tools name print as hex ids.)
impl fmt::Display for PcrSelectionSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, bank) in self.banks.iter().enumerate() {
            if i > 0 {
                f.write_str("+")?;
            }
            match bank_hash_name(bank.hash) {
                Some(name) => f.write_str(name)?,
                None => write!(f, "0x{:x}", bank.hash.0)?,
            }
            f.write_str(":")?;
            match bank.pcrs {
                ALL_PCRS => f.write_str("all")?,
                0 => f.write_str("none")?,
                _ => {
                    for (n, pcr) in bank.indices().enumerate() {
                        if n > 0 {
                            f.write_str(",")?;
                        }
                        write!(f, "{pcr}")?;
                    }
                }
            }
        }
        Ok(())
    }
}

impl core::str::FromStr for PcrSelectionSpec {
    type Err = AuthError;
    fn from_str(s: &str) -> Result<Self, AuthError> {
        parse_pcr_selection(s)
    }
}

/// Parses a tpm2-tools PCR bank specifier such as `sha256:0,1,2,3` or `sha1:0x3,4+sha256:all`.
pub fn parse_pcr_selection(s: &str) -> Result<PcrSelectionSpec, AuthError> {
    if s.is_empty() {
        return Err(AuthError::EmptyPcrSelection);
    }
    let mut banks: Vec<PcrBank> = Vec::new();
    for (i, text) in s.split('+').enumerate() {
        let bank_no = i + 1;
        let bank = parse_bank(bank_no, text)?;
        if banks.iter().any(|b| b.hash == bank.hash) {
            return Err(AuthError::DuplicatePcrBank {
                bank: bank_no,
                hash: bank_label(bank.hash),
            });
        }
        banks.push(bank);
    }
    Ok(PcrSelectionSpec { banks })
}

fn bank_label(hash: AlgId) -> String {
    match bank_hash_name(hash) {
        Some(name) => name.to_owned(),
        None => format!("0x{:x}", hash.0),
    }
}

fn parse_bank(bank_no: usize, text: &str) -> Result<PcrBank, AuthError> {
    if text.is_empty() {
        return Err(AuthError::EmptyPcrBank { bank: bank_no });
    }
    let Some((hash_text, list)) = text.split_once(':') else {
        return Err(AuthError::MissingPcrBankColon { bank: bank_no });
    };
    let hash = parse_hash(bank_no, hash_text)?;
    let pcrs = parse_list(bank_no, hash, list)?;
    Ok(PcrBank { hash, pcrs })
}

fn parse_hash(bank_no: usize, text: &str) -> Result<AlgId, AuthError> {
    if let Some((_, id)) = bank_hashes().find(|(name, _)| *name == text) {
        return Ok(id);
    }
    let unknown = || AuthError::UnknownPcrHash {
        bank: bank_no,
        name: text.to_owned(),
    };
    match parse_number(text) {
        Ok(n) => {
            let id = u16::try_from(n).map_err(|_| unknown())?;
            // A numeric id is accepted only if it is a hash, as tpm2-tools does.
            bank_hashes()
                .map(|(_, id)| id)
                .find(|known| known.0 == id)
                .ok_or_else(unknown)
        }
        Err(NumberError::LeadingZero) => Err(AuthError::AmbiguousOctal {
            bank: bank_no,
            what: "hash algorithm id",
            text: text.to_owned(),
        }),
        Err(_) => Err(unknown()),
    }
}

fn parse_list(bank_no: usize, hash: AlgId, list: &str) -> Result<u32, AuthError> {
    let hash_label = || bank_label(hash);
    match list {
        "" => {
            return Err(AuthError::EmptyPcrList {
                bank: bank_no,
                hash: hash_label(),
            })
        }
        "all" => return Ok(ALL_PCRS),
        "none" => return Ok(0),
        _ => {}
    }
    let mut pcrs = 0u32;
    for item in list.split(',') {
        let invalid = |reason: &'static str| AuthError::InvalidPcr {
            bank: bank_no,
            hash: hash_label(),
            text: item.to_owned(),
            reason,
        };
        if item.is_empty() {
            return Err(invalid("empty entry (stray comma?)"));
        }
        if item == "all" || item == "none" {
            return Err(invalid("'all'/'none' must be the whole list"));
        }
        if item.contains('=') {
            return Err(invalid(
                "forward-sealing values (PCR=DIGEST) are not allowed here",
            ));
        }
        let pcr = match parse_number(item) {
            Ok(n) => n,
            Err(NumberError::LeadingZero) => {
                return Err(AuthError::AmbiguousOctal {
                    bank: bank_no,
                    what: "PCR number",
                    text: item.to_owned(),
                })
            }
            Err(NumberError::Overflow) => u64::MAX,
            Err(NumberError::NotANumber) if item.contains('-') => {
                return Err(invalid(
                    "ranges are not part of the tpm2-tools syntax; list each PCR",
                ))
            }
            Err(NumberError::NotANumber) => {
                return Err(invalid("not a decimal or 0x-prefixed hex number"))
            }
        };
        if pcr >= u64::from(PCR_COUNT) {
            return Err(AuthError::PcrOutOfRange {
                bank: bank_no,
                hash: hash_label(),
                text: item.to_owned(),
                max: PCR_COUNT - 1,
            });
        }
        let bit = 1u32 << pcr;
        if pcrs & bit != 0 {
            return Err(AuthError::DuplicatePcr {
                bank: bank_no,
                hash: hash_label(),
                pcr: pcr as u32,
            });
        }
        pcrs |= bit;
    }
    Ok(pcrs)
}

enum NumberError {
    NotANumber,
    LeadingZero,
    Overflow,
}

/// Decimal, or hex after `0x`/`0X` (the forms `strtoul(.., 0)` reads, minus octal).
fn parse_number(text: &str) -> Result<u64, NumberError> {
    let (digits, radix) = match text.strip_prefix("0x").or_else(|| text.strip_prefix("0X")) {
        Some(hex) => (hex, 16),
        None => (text, 10),
    };
    if digits.is_empty() || !digits.chars().all(|c| c.is_digit(radix)) {
        return Err(NumberError::NotANumber);
    }
    if radix == 10 && digits.len() > 1 && digits.starts_with('0') {
        return Err(NumberError::LeadingZero);
    }
    // All characters are digits, so the only possible failure is overflow.
    u64::from_str_radix(digits, radix).map_err(|_| NumberError::Overflow)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bank(hash: AlgId, pcrs: &[u32]) -> PcrBank {
        PcrBank {
            hash,
            pcrs: pcrs.iter().fold(0, |m, p| m | 1 << p),
        }
    }

    #[test]
    fn single_bank_list() {
        let s = parse_pcr_selection("sha256:0,1,2,3").unwrap();
        assert_eq!(s.banks, vec![bank(AlgId::SHA256, &[0, 1, 2, 3])]);
    }

    #[test]
    fn several_banks_keep_their_order() {
        let s = parse_pcr_selection("sha256:all+sha1:0,1").unwrap();
        assert_eq!(
            s.banks,
            vec![
                PcrBank {
                    hash: AlgId::SHA256,
                    pcrs: ALL_PCRS
                },
                bank(AlgId::SHA1, &[0, 1]),
            ]
        );
    }

    #[test]
    fn every_hash_name_and_numeric_ids() {
        for (name, id) in bank_hashes() {
            let s = parse_pcr_selection(&format!("{name}:7")).unwrap();
            assert_eq!(s.banks, vec![bank(id, &[7])], "{name}");
            let dec = parse_pcr_selection(&format!("{}:7", id.0)).unwrap();
            let hex = parse_pcr_selection(&format!("0x{:x}:7", id.0)).unwrap();
            assert_eq!(dec, s);
            assert_eq!(hex, s);
        }
        assert_eq!(
            parse_pcr_selection("0x000b:1").unwrap().banks,
            vec![bank(AlgId::SHA256, &[1])]
        );
    }

    #[test]
    fn hex_pcr_numbers_and_none() {
        let s = parse_pcr_selection("sha1:0x0,0xa,0X17+sha256:none").unwrap();
        assert_eq!(
            s.banks,
            vec![bank(AlgId::SHA1, &[0, 10, 23]), bank(AlgId::SHA256, &[])]
        );
    }

    #[test]
    fn display_is_canonical_and_reparses() {
        let s = parse_pcr_selection("sha256:3,0x1,0+sha1:none+sha384:all").unwrap();
        assert_eq!(s.to_string(), "sha256:0,1,3+sha1:none+sha384:all");
        let every: Vec<String> = (0..24).map(|i| i.to_string()).collect();
        let s = parse_pcr_selection(&format!("sha512:{}", every.join(","))).unwrap();
        assert_eq!(s.to_string(), "sha512:all");
        assert_eq!(s.to_string().parse::<PcrSelectionSpec>().unwrap(), s);
    }

    #[test]
    fn out_of_range_pcr_names_the_limit() {
        let e = parse_pcr_selection("sha256:0,24").unwrap_err();
        assert!(matches!(e, AuthError::PcrOutOfRange { max: 23, .. }), "{e}");
        assert!(e.to_string().contains("\"24\"") && e.to_string().contains("23"));
        let e = parse_pcr_selection("sha256:0x18").unwrap_err();
        assert!(matches!(e, AuthError::PcrOutOfRange { .. }));
        let e = parse_pcr_selection("sha256:99999999999999999999999").unwrap_err();
        assert!(matches!(e, AuthError::PcrOutOfRange { .. }));
    }

    #[test]
    fn duplicates_are_refused() {
        let e = parse_pcr_selection("sha256:1,2,1").unwrap_err();
        assert!(matches!(e, AuthError::DuplicatePcr { pcr: 1, .. }), "{e}");
        let e = parse_pcr_selection("sha256:1,0x1").unwrap_err();
        assert!(matches!(e, AuthError::DuplicatePcr { pcr: 1, .. }));
        let e = parse_pcr_selection("sha256:1+sha1:2+0xb:3").unwrap_err();
        assert!(
            matches!(e, AuthError::DuplicatePcrBank { bank: 3, .. }),
            "{e}"
        );
    }

    #[test]
    fn malformed_specifiers_say_what_is_wrong() {
        type Check = fn(&AuthError) -> bool;
        let cases: &[(&str, Check)] = &[
            ("", |e| matches!(e, AuthError::EmptyPcrSelection)),
            ("sha256", |e| {
                matches!(e, AuthError::MissingPcrBankColon { bank: 1 })
            }),
            ("sha256:1+", |e| {
                matches!(e, AuthError::EmptyPcrBank { bank: 2 })
            }),
            ("+sha256:1", |e| {
                matches!(e, AuthError::EmptyPcrBank { bank: 1 })
            }),
            ("sha256:", |e| matches!(e, AuthError::EmptyPcrList { .. })),
            ("md5:1", |e| matches!(e, AuthError::UnknownPcrHash { .. })),
            ("SHA256:1", |e| {
                matches!(e, AuthError::UnknownPcrHash { .. })
            }),
            ("rsa:1", |e| matches!(e, AuthError::UnknownPcrHash { .. })),
            // 0x1 is TPM_ALG_RSA: a valid algorithm, but not a hash.
            ("0x1:1", |e| matches!(e, AuthError::UnknownPcrHash { .. })),
            ("0x10000b:1", |e| {
                matches!(e, AuthError::UnknownPcrHash { .. })
            }),
            ("011:1", |e| matches!(e, AuthError::AmbiguousOctal { .. })),
            ("sha256:01", |e| {
                matches!(e, AuthError::AmbiguousOctal { .. })
            }),
            ("sha256:1,,2", |e| matches!(e, AuthError::InvalidPcr { .. })),
            ("sha256:1,", |e| matches!(e, AuthError::InvalidPcr { .. })),
            (
                "sha256:0-7",
                |e| matches!(e, AuthError::InvalidPcr { reason, .. } if reason.contains("ranges")),
            ),
            ("sha256:all,1", |e| {
                matches!(e, AuthError::InvalidPcr { .. })
            }),
            ("sha256:allx", |e| matches!(e, AuthError::InvalidPcr { .. })),
            ("sha256: 1", |e| matches!(e, AuthError::InvalidPcr { .. })),
            ("sha256:0x", |e| matches!(e, AuthError::InvalidPcr { .. })),
            ("sha256:-1", |e| matches!(e, AuthError::InvalidPcr { .. })),
            (
                "sha256:1=abcd",
                |e| matches!(e, AuthError::InvalidPcr { reason, .. } if reason.contains("forward")),
            ),
        ];
        for (input, check) in cases {
            let e = parse_pcr_selection(input).unwrap_err();
            assert!(check(&e), "{input:?} gave {e:?}");
        }
    }

    #[test]
    fn errors_name_the_bank_and_entry() {
        let e = parse_pcr_selection("sha1:0+sha256:1,x7").unwrap_err();
        let msg = e.to_string();
        assert!(
            msg.contains("bank 2") && msg.contains("sha256") && msg.contains("\"x7\""),
            "{msg}"
        );
    }
}
