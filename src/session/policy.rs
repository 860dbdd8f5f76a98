//! An offline policy calculator: computes, without a TPM, the policy digest a trial session
//! would produce for the same sequence of policy commands.

use crate::crypto::{HashAlg, Hasher};
use crate::wire::{CommandCode, Digest};

/// A policy digest being built, starting from the all-zero digest of its hash.
#[derive(Clone, Debug)]
pub struct PolicyCalculator {
    hash: HashAlg,
    digest: Digest,
}

impl PolicyCalculator {
    /// A calculator at the start of a policy: the all-zero digest of `hash`, as a fresh policy
    /// session holds.
    pub fn new(hash: HashAlg) -> Self {
        let zeros = [0u8; 64];
        PolicyCalculator {
            hash,
            // Cannot fail: digest sizes are at most 64.
            digest: Digest::new(&zeros[..hash.digest_size()]).unwrap_or_default(),
        }
    }

    /// The policy digest so far: what TPM2_PolicyGetDigest would return, and the authPolicy of an
    /// object that needs this policy.
    pub fn digest(&self) -> &Digest {
        &self.digest
    }

    /// The policy's hash algorithm (the object's nameAlg).
    pub fn hash(&self) -> HashAlg {
        self.hash
    }

    /// policyDigest' = H(policyDigest ‖ parts...)
    fn extend(&mut self, parts: &[&[u8]]) {
        let mut h = Hasher::new(self.hash);
        h.update(self.digest.as_bytes());
        for p in parts {
            h.update(p);
        }
        self.digest = h.finalize();
    }

    /// TPM2_PolicyAuthValue.
    pub fn policy_auth_value(&mut self) -> &mut Self {
        self.extend(&[&CommandCode::POLICY_AUTH_VALUE.0.to_be_bytes()]);
        self
    }

    /// TPM2_PolicyPassword extends the digest exactly as PolicyAuthValue does, so a policy
    /// can be satisfied either way.
    pub fn policy_password(&mut self) -> &mut Self {
        self.policy_auth_value()
    }

    /// TPM2_PolicyCommandCode.
    pub fn policy_command_code(&mut self, code: CommandCode) -> &mut Self {
        self.extend(&[
            &CommandCode::POLICY_COMMAND_CODE.0.to_be_bytes(),
            &code.0.to_be_bytes(),
        ]);
        self
    }

    /// TPM2_PolicyPCR with `selection` the marshalled TPML_PCR_SELECTION and `pcr_values`
    /// the selected PCR values in selection order (lowest bank entry and PCR first).
    pub fn policy_pcr(&mut self, selection: &[u8], pcr_values: &[&[u8]]) -> &mut Self {
        let mut h = Hasher::new(self.hash);
        for v in pcr_values {
            h.update(v);
        }
        let pcr_digest = h.finalize();
        self.extend(&[
            &CommandCode::POLICY_PCR.0.to_be_bytes(),
            selection,
            pcr_digest.as_bytes(),
        ]);
        self
    }

    /// TPM2_PolicySecret for the entity named `auth_name`, with `policy_ref`.
    pub fn policy_secret(&mut self, auth_name: &[u8], policy_ref: &[u8]) -> &mut Self {
        self.extend(&[&CommandCode::POLICY_SECRET.0.to_be_bytes(), auth_name]);
        self.extend(&[policy_ref]);
        self
    }
}
