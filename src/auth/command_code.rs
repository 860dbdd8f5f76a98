//! Command codes as tpm2-tools takes them (`tpm2_policycommandcode`): a number, or a name in
//! tpm2-tools' (`TPM2_CC_Unseal`) or the specification's (`TPM_CC_Unseal`) spelling.

use crate::wire::CommandCode;

/// Why a command code argument was refused.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CommandCodeError {
    /// Neither a number that fits a TPM_CC nor the name of a command this library knows.
    #[error("unknown command code {0:?}")]
    Unknown(String),
}

/// Parses `0x153` (hex, as tpm2-tools writes numbers), `339` (decimal) or `TPM2_CC_Unseal`
/// (the `TPM2_CC_` prefix as written; the rest, or a `TPM_CC_` name, in any case). Numbers are taken as given, known or not (vendor
/// commands included); names only for the commands this library declares.
pub fn parse_command_code(s: &str) -> Result<CommandCode, CommandCodeError> {
    let unknown = || CommandCodeError::Unknown(s.to_string());
    if let Some(hex) = s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")) {
        return match hex.len() {
            1..=8 if hex.bytes().all(|b| b.is_ascii_hexdigit()) => u32::from_str_radix(hex, 16)
                .map(CommandCode)
                .map_err(|_| unknown()),
            _ => Err(unknown()),
        };
    }
    if !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) {
        return s.parse().map(CommandCode).map_err(|_| unknown());
    }
    let wanted = s.replacen("TPM2_CC_", "TPM_CC_", 1);
    // Every TPM 2.0 command code lies in TPM_CC_FIRST..=TPM_CC_LAST of the current
    // specification and its near future.
    (0x11Fu32..=0x1FF)
        .map(CommandCode)
        .find(|c| c.name().is_some_and(|n| n.eq_ignore_ascii_case(&wanted)))
        .ok_or_else(unknown)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_and_both_spellings_of_names() {
        for s in [
            "0x15e",
            "0X15E",
            "350",
            "TPM2_CC_Unseal",
            "TPM_CC_Unseal",
            "tpm_cc_unseal",
        ] {
            assert_eq!(parse_command_code(s).unwrap(), CommandCode::UNSEAL, "{s}");
        }
        assert_eq!(
            parse_command_code("0x20000001").unwrap(),
            CommandCode(0x2000_0001),
            "vendor codes by number"
        );
        for s in [
            "",
            "0x",
            "0x+1",
            "0x123456789",
            "4294967296",
            "-1",
            "TPM2_CC_Nonsense",
            "Unseal2",
        ] {
            assert!(
                matches!(parse_command_code(s), Err(CommandCodeError::Unknown(_))),
                "{s}"
            );
        }
    }
}
