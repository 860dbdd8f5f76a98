//! cpHash, the digest of a command that sessions sign and audit and that policies can be
//! limited to, computed on its own: without running the command, as tpm2-tools' `--cphash`
//! writes it for TPM2_PolicyCpHash or PolicySecret's cpHashA.

use crate::crypto::{HashAlg, Hasher};
use crate::wire::{CommandCode, Digest};

/// cpHash = H(commandCode ‖ name of each handle ‖ parameters), `params` being the parameter
/// area unencrypted (TPM 2.0 Part 1, 18.7).
pub fn cp_hash(alg: HashAlg, code: CommandCode, names: &[&[u8]], params: &[u8]) -> Digest {
    let mut h = Hasher::new(alg);
    h.update(&code.0.to_be_bytes());
    for n in names {
        h.update(n);
    }
    h.update(params);
    h.finalize()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn concatenates_code_names_and_parameters() {
        let names: [&[u8]; 2] = [&[0x40, 0, 0, 1], &[0x03, 0, 0, 0]];
        let d = cp_hash(HashAlg::Sha256, CommandCode(0x151), &names, &[0, 0]);
        let all = [0, 0, 1, 0x51, 0x40, 0, 0, 1, 0x03, 0, 0, 0, 0, 0];
        assert_eq!(d, crate::crypto::hash(HashAlg::Sha256, &[&all]));
        let d1 = cp_hash(HashAlg::Sha1, CommandCode(0x151), &names, &[0, 0]);
        assert_eq!(d1, crate::crypto::hash(HashAlg::Sha1, &[&all]));
    }
}
