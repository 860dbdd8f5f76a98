//! An offline policy calculator: computes, without a TPM, the policy digest a trial session
//! would produce for the same sequence of policy commands.
//!
//! Inputs are typed (names, command codes, a PCR selection and its values, public keys), and
//! every size the TPM would check is checked here too, so a policy that the TPM would refuse
//! is refused here with a [`PolicyError`] instead of yielding a digest no session can reach.

use crate::crypto::{self, HashAlg, Hasher};
use crate::wire::{
    AlgId, ArithmeticOp, AuthTicket, CommandCode, Digest, LocalityAttributes, Marshal, Name, Nonce,
    Operand, PcrSelectionList, Public, StructureTag, MAX_DIGEST_LIST,
};

/// Why a policy step cannot be computed: the input is one the TPM would refuse.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PolicyError {
    /// TPM2_PolicyOR takes 2 to 8 branches.
    #[error("PolicyOR takes 2 to {max} branch digests, {0} given", max = MAX_DIGEST_LIST)]
    OrBranches(usize),
    /// A digest that must have the policy hash's size does not.
    #[error("{what} is {size} bytes; the policy's {hash:?} digests are {expected}")]
    DigestSize {
        /// Which input.
        what: &'static str,
        /// Its size.
        size: usize,
        /// The policy's hash.
        hash: HashAlg,
        /// The size it must have.
        expected: usize,
    },
    /// The PCR values given do not match the selection's count.
    #[error("PolicyPCR: {given} PCR values for {selected} selected PCRs")]
    PcrCount {
        /// PCRs the selection names.
        selected: usize,
        /// Values given.
        given: usize,
    },
    /// A PCR value's size is not its bank's digest size.
    #[error("PolicyPCR: the value for PCR {pcr} of bank {bank} is {size} bytes, not {expected}")]
    PcrValueSize {
        /// The bank.
        bank: AlgId,
        /// The PCR.
        pcr: u8,
        /// The value's size.
        size: usize,
        /// The bank's digest size.
        expected: usize,
    },
    /// A hash algorithm (a PCR bank, a key's nameAlg) this library cannot compute.
    #[error("{what}: {alg} is not a hash algorithm this library computes")]
    UnsupportedHash {
        /// Where it was found.
        what: &'static str,
        /// The algorithm.
        alg: AlgId,
    },
    /// A ticket that is not a TPMT_TK_AUTH (TPM_ST_AUTH_SIGNED or TPM_ST_AUTH_SECRET).
    #[error("PolicyTicket needs an AUTH_SIGNED or AUTH_SECRET ticket, not {0}")]
    TicketTag(StructureTag),
}

/// A policy digest being built, starting from the all-zero digest of its hash.
#[derive(Clone, Debug)]
pub struct PolicyCalculator {
    hash: HashAlg,
    digest: Digest,
}

/// The all-zero digest of `hash`.
fn zeros(hash: HashAlg) -> Digest {
    let zeros = [0u8; 64];
    // Cannot fail: digest sizes are at most 64.
    Digest::new(&zeros[..hash.digest_size()]).unwrap_or_default()
}

/// An object's name: nameAlg ‖ H_nameAlg(TPMT_PUBLIC).
pub fn key_name(public: &Public) -> Result<Name, PolicyError> {
    crypto::object_name(public).map_err(|_| PolicyError::UnsupportedHash {
        what: "the key's nameAlg",
        alg: public.name_alg,
    })
}

/// What a key signs to approve `approved_policy` for TPM2_PolicyAuthorize:
/// aHash = H(approvedPolicy ‖ policyRef) with `key_name_alg`, the signing key's nameAlg (the
/// TPM checks the TPM2_VerifySignature ticket against that hash), so the signature scheme
/// must use the same hash.
pub fn authorize_digest(
    key_name_alg: HashAlg,
    approved_policy: &Digest,
    policy_ref: &Nonce,
) -> Digest {
    crypto::hash(
        key_name_alg,
        &[approved_policy.as_bytes(), policy_ref.as_bytes()],
    )
}

/// What a key signs for TPM2_PolicySigned: aHash = H_sign(nonceTPM ‖ expiration ‖ cpHashA ‖
/// policyRef), with the signature scheme's hash (`expiration` as a big-endian INT32).
pub fn signed_digest(
    sign_hash: HashAlg,
    nonce_tpm: &Nonce,
    expiration: i32,
    cp_hash_a: &Digest,
    policy_ref: &Nonce,
) -> Digest {
    crypto::hash(
        sign_hash,
        &[
            nonce_tpm.as_bytes(),
            &expiration.to_be_bytes(),
            cp_hash_a.as_bytes(),
            policy_ref.as_bytes(),
        ],
    )
}

impl PolicyCalculator {
    /// A calculator at the start of a policy: the all-zero digest of `hash`, as a fresh policy
    /// session holds.
    pub fn new(hash: HashAlg) -> Self {
        PolicyCalculator {
            hash,
            digest: zeros(hash),
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

    /// The part 3 "PolicyUpdate": H(policyDigest ‖ code ‖ name), then H(that ‖ policyRef).
    fn update(&mut self, code: CommandCode, name: &Name, policy_ref: &Nonce) {
        self.extend(&[&code.0.to_be_bytes(), name.as_bytes()]);
        self.extend(&[policy_ref.as_bytes()]);
    }

    /// Refuses a digest that is not of the policy hash's size, as the TPM does.
    fn check_size(&self, what: &'static str, d: &Digest) -> Result<(), PolicyError> {
        let expected = self.hash.digest_size();
        if d.len() != expected {
            return Err(PolicyError::DigestSize {
                what,
                size: d.len(),
                hash: self.hash,
                expected,
            });
        }
        Ok(())
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

    /// TPM2_PolicyPCR: the PCRs of `selection` must hold `values`, given in selection order
    /// (banks in list order, each bank's PCRs from the lowest), as TPM2_PCR_Read returns them.
    pub fn policy_pcr(
        &mut self,
        selection: &PcrSelectionList,
        values: &[Digest],
    ) -> Result<&mut Self, PolicyError> {
        let selected: usize = selection
            .as_slice()
            .iter()
            .map(|s| s.select.pcrs().count())
            .sum();
        if selected != values.len() {
            return Err(PolicyError::PcrCount {
                selected,
                given: values.len(),
            });
        }
        let mut h = Hasher::new(self.hash);
        let mut values = values.iter();
        for bank in selection.as_slice() {
            let alg =
                HashAlg::from_alg_id(bank.hash).map_err(|_| PolicyError::UnsupportedHash {
                    what: "PolicyPCR's bank",
                    alg: bank.hash,
                })?;
            for pcr in bank.select.pcrs() {
                // Cannot run out: the counts were compared above.
                let Some(v) = values.next() else { break };
                if v.len() != alg.digest_size() {
                    return Err(PolicyError::PcrValueSize {
                        bank: bank.hash,
                        pcr,
                        size: v.len(),
                        expected: alg.digest_size(),
                    });
                }
                h.update(v.as_bytes());
            }
        }
        let pcr_digest = h.finalize();
        self.policy_pcr_digest(selection, &pcr_digest)
    }

    /// TPM2_PolicyPCR with the hash of the expected values already computed (with this
    /// policy's hash), e.g. from a tpm2-tools PCR file.
    pub fn policy_pcr_digest(
        &mut self,
        selection: &PcrSelectionList,
        pcr_digest: &Digest,
    ) -> Result<&mut Self, PolicyError> {
        self.check_size("PolicyPCR's pcrDigest", pcr_digest)?;
        self.extend(&[
            &CommandCode::POLICY_PCR.0.to_be_bytes(),
            &selection.to_bytes(),
            pcr_digest.as_bytes(),
        ]);
        Ok(self)
    }

    /// TPM2_PolicySecret for the entity named `auth_name`, with `policy_ref`.
    pub fn policy_secret(&mut self, auth_name: &Name, policy_ref: &[u8]) -> &mut Self {
        self.extend(&[
            &CommandCode::POLICY_SECRET.0.to_be_bytes(),
            auth_name.as_bytes(),
        ]);
        self.extend(&[policy_ref]);
        self
    }

    /// TPM2_PolicyOR: the digest becomes H(zeros ‖ TPM_CC_PolicyOR ‖ branches), whichever
    /// branch the session is in. Takes 2 to 8 branches of this policy's digest size.
    pub fn policy_or(&mut self, branches: &[Digest]) -> Result<&mut Self, PolicyError> {
        if !(2..=MAX_DIGEST_LIST).contains(&branches.len()) {
            return Err(PolicyError::OrBranches(branches.len()));
        }
        for b in branches {
            self.check_size("a PolicyOR branch", b)?;
        }
        self.digest = zeros(self.hash);
        let mut parts: [&[u8]; MAX_DIGEST_LIST + 1] = [&[]; MAX_DIGEST_LIST + 1];
        let code = CommandCode::POLICY_OR.0.to_be_bytes();
        parts[0] = &code;
        for (slot, b) in parts[1..].iter_mut().zip(branches) {
            *slot = b.as_bytes();
        }
        self.extend(&parts[..=branches.len()]);
        Ok(self)
    }

    /// TPM2_PolicyAuthorize by the key `key` (its name computed from its public area): the
    /// digest becomes H(zeros ‖ TPM_CC_PolicyAuthorize ‖ keyName), then H(that ‖ policyRef).
    pub fn policy_authorize(
        &mut self,
        key: &Public,
        policy_ref: &Nonce,
    ) -> Result<&mut Self, PolicyError> {
        let name = key_name(key)?;
        Ok(self.policy_authorize_name(&name, policy_ref))
    }

    /// TPM2_PolicyAuthorize by the key named `key_name`.
    pub fn policy_authorize_name(&mut self, key_name: &Name, policy_ref: &Nonce) -> &mut Self {
        self.digest = zeros(self.hash);
        self.update(CommandCode::POLICY_AUTHORIZE, key_name, policy_ref);
        self
    }

    /// TPM2_PolicySigned by the key `key` (its name computed from its public area).
    pub fn policy_signed(
        &mut self,
        key: &Public,
        policy_ref: &Nonce,
    ) -> Result<&mut Self, PolicyError> {
        let name = key_name(key)?;
        self.update(CommandCode::POLICY_SIGNED, &name, policy_ref);
        Ok(self)
    }

    /// TPM2_PolicyTicket: the same digest as the PolicySigned (TPM_ST_AUTH_SIGNED ticket) or
    /// PolicySecret (TPM_ST_AUTH_SECRET) that produced `ticket`, by `auth_name`.
    pub fn policy_ticket(
        &mut self,
        ticket: &AuthTicket,
        auth_name: &Name,
        policy_ref: &Nonce,
    ) -> Result<&mut Self, PolicyError> {
        let code = match ticket.tag {
            StructureTag::AUTH_SIGNED => CommandCode::POLICY_SIGNED,
            StructureTag::AUTH_SECRET => CommandCode::POLICY_SECRET,
            other => return Err(PolicyError::TicketTag(other)),
        };
        self.update(code, auth_name, policy_ref);
        Ok(self)
    }

    /// TPM2_PolicyLocality.
    pub fn policy_locality(&mut self, locality: LocalityAttributes) -> &mut Self {
        self.extend(&[&CommandCode::POLICY_LOCALITY.0.to_be_bytes(), &[locality.0]]);
        self
    }

    /// H(operandB ‖ offset ‖ operation): the comparison PolicyNV and PolicyCounterTimer add.
    fn args(&self, operand_b: &Operand, offset: u16, operation: ArithmeticOp) -> Digest {
        crypto::hash(
            self.hash,
            &[
                operand_b.as_bytes(),
                &offset.to_be_bytes(),
                &operation.0.to_be_bytes(),
            ],
        )
    }

    /// TPM2_PolicyNV on the index named `nv_name` (its name once written, as the TPM reports
    /// it when the policy is used).
    pub fn policy_nv(
        &mut self,
        nv_name: &Name,
        operand_b: &Operand,
        offset: u16,
        operation: ArithmeticOp,
    ) -> &mut Self {
        let args = self.args(operand_b, offset, operation);
        self.extend(&[
            &CommandCode::POLICY_NV.0.to_be_bytes(),
            args.as_bytes(),
            nv_name.as_bytes(),
        ]);
        self
    }

    /// TPM2_PolicyCounterTimer.
    pub fn policy_counter_timer(
        &mut self,
        operand_b: &Operand,
        offset: u16,
        operation: ArithmeticOp,
    ) -> &mut Self {
        let args = self.args(operand_b, offset, operation);
        self.extend(&[
            &CommandCode::POLICY_COUNTER_TIMER.0.to_be_bytes(),
            args.as_bytes(),
        ]);
        self
    }

    /// TPM2_PolicyCpHash: `cp_hash_a` must have this policy's digest size.
    pub fn policy_cp_hash(&mut self, cp_hash_a: &Digest) -> Result<&mut Self, PolicyError> {
        self.check_size("PolicyCpHash's cpHashA", cp_hash_a)?;
        self.extend(&[
            &CommandCode::POLICY_CP_HASH.0.to_be_bytes(),
            cp_hash_a.as_bytes(),
        ]);
        Ok(self)
    }

    /// TPM2_PolicyNameHash with `name_hash` = H(names of the command's handles), of this
    /// policy's digest size.
    pub fn policy_name_hash(&mut self, name_hash: &Digest) -> Result<&mut Self, PolicyError> {
        self.check_size("PolicyNameHash's nameHash", name_hash)?;
        self.extend(&[
            &CommandCode::POLICY_NAME_HASH.0.to_be_bytes(),
            name_hash.as_bytes(),
        ]);
        Ok(self)
    }

    /// TPM2_PolicyNameHash for a command on the handles named `names` (in handle order).
    pub fn policy_names(&mut self, names: &[Name]) -> &mut Self {
        let mut h = Hasher::new(self.hash);
        for n in names {
            h.update(n.as_bytes());
        }
        let name_hash = h.finalize();
        self.extend(&[
            &CommandCode::POLICY_NAME_HASH.0.to_be_bytes(),
            name_hash.as_bytes(),
        ]);
        self
    }

    /// TPM2_PolicyNvWritten.
    pub fn policy_nv_written(&mut self, written_set: bool) -> &mut Self {
        self.extend(&[
            &CommandCode::POLICY_NV_WRITTEN.0.to_be_bytes(),
            &[u8::from(written_set)],
        ]);
        self
    }

    /// TPM2_PolicyTemplate for objects created from exactly `template`.
    pub fn policy_template(&mut self, template: &Public) -> &mut Self {
        let template_hash = crypto::hash(self.hash, &[&template.to_bytes()]);
        self.extend(&[
            &CommandCode::POLICY_TEMPLATE.0.to_be_bytes(),
            template_hash.as_bytes(),
        ]);
        self
    }

    /// TPM2_PolicyTemplate with the template's hash already computed (this policy's size).
    pub fn policy_template_hash(
        &mut self,
        template_hash: &Digest,
    ) -> Result<&mut Self, PolicyError> {
        self.check_size("PolicyTemplate's templateHash", template_hash)?;
        self.extend(&[
            &CommandCode::POLICY_TEMPLATE.0.to_be_bytes(),
            template_hash.as_bytes(),
        ]);
        Ok(self)
    }

    /// TPM2_PolicyAuthorizeNV with the approved policy in the index named `nv_name`: the
    /// digest becomes H(zeros ‖ TPM_CC_PolicyAuthorizeNV ‖ nvName).
    pub fn policy_authorize_nv(&mut self, nv_name: &Name) -> &mut Self {
        self.digest = zeros(self.hash);
        self.extend(&[
            &CommandCode::POLICY_AUTHORIZE_NV.0.to_be_bytes(),
            nv_name.as_bytes(),
        ]);
        self
    }

    /// TPM2_PolicyDuplicationSelect: the object's name goes in only with `include_object`.
    pub fn policy_duplication_select(
        &mut self,
        object_name: &Name,
        new_parent_name: &Name,
        include_object: bool,
    ) -> &mut Self {
        let object: &[u8] = if include_object {
            object_name.as_bytes()
        } else {
            &[]
        };
        self.extend(&[
            &CommandCode::POLICY_DUPLICATION_SELECT.0.to_be_bytes(),
            object,
            new_parent_name.as_bytes(),
            &[u8::from(include_object)],
        ]);
        self
    }

    /// TPM2_PolicyPhysicalPresence.
    pub fn policy_physical_presence(&mut self) -> &mut Self {
        self.extend(&[&CommandCode::POLICY_PHYSICAL_PRESENCE.0.to_be_bytes()]);
        self
    }
}

#[cfg(test)]
mod tests {
    use alloc::vec;
    use alloc::vec::Vec;

    use super::*;
    use crate::wire::{PcrSelection, Ticket};

    fn d(hash: HashAlg, label: &[u8]) -> Digest {
        crypto::hash(hash, &[label])
    }

    fn sel(banks: &[(AlgId, &[u8])]) -> PcrSelectionList {
        PcrSelectionList::new(
            banks
                .iter()
                .map(|(alg, pcrs)| PcrSelection::new(*alg, pcrs).unwrap())
                .collect(),
        )
        .unwrap()
    }

    #[test]
    fn policy_or_takes_two_to_eight_branches_of_the_policy_size() {
        let h = HashAlg::Sha256;
        let mut c = PolicyCalculator::new(h);
        let one = [d(h, b"a")];
        assert_eq!(c.policy_or(&one).err(), Some(PolicyError::OrBranches(1)));
        let nine: Vec<Digest> = (0u8..9).map(|i| d(h, &[i])).collect();
        assert_eq!(c.policy_or(&nine).err(), Some(PolicyError::OrBranches(9)));
        let mixed = [d(h, b"a"), d(HashAlg::Sha1, b"b")];
        assert!(matches!(
            c.policy_or(&mixed),
            Err(PolicyError::DigestSize {
                size: 20,
                expected: 32,
                ..
            })
        ));
        // Nothing refused changed the digest.
        assert_eq!(c.digest(), PolicyCalculator::new(h).digest());
        assert!(c.policy_or(&nine[..8]).is_ok());
    }

    #[test]
    fn policy_or_is_the_same_from_any_branch() {
        let h = HashAlg::Sha384;
        let mut a = PolicyCalculator::new(h);
        a.policy_auth_value();
        let mut b = PolicyCalculator::new(h);
        b.policy_command_code(CommandCode::UNSEAL);
        let branches = [a.digest().clone(), b.digest().clone()];
        a.policy_or(&branches).unwrap();
        b.policy_or(&branches).unwrap();
        assert_eq!(a.digest(), b.digest());
        assert_eq!(
            a.digest(),
            &crypto::hash(
                h,
                &[
                    &[0u8; 48],
                    &CommandCode::POLICY_OR.0.to_be_bytes(),
                    branches[0].as_bytes(),
                    branches[1].as_bytes(),
                ]
            )
        );
    }

    #[test]
    fn policy_pcr_refuses_values_that_do_not_fit_the_selection() {
        let h = HashAlg::Sha256;
        let mut c = PolicyCalculator::new(h);
        let selection = sel(&[(AlgId::SHA256, &[0, 7]), (AlgId::SHA1, &[3])]);
        let good = vec![d(h, b"0"), d(h, b"7"), d(HashAlg::Sha1, b"3")];
        assert_eq!(
            c.policy_pcr(&selection, &good[..2]).err(),
            Some(PolicyError::PcrCount {
                selected: 3,
                given: 2
            })
        );
        let swapped = vec![d(h, b"0"), d(HashAlg::Sha1, b"3"), d(h, b"7")];
        assert_eq!(
            c.policy_pcr(&selection, &swapped).err(),
            Some(PolicyError::PcrValueSize {
                bank: AlgId::SHA256,
                pcr: 7,
                size: 20,
                expected: 32
            })
        );
        let sm3 = sel(&[(AlgId(0x0012), &[1])]);
        assert!(matches!(
            c.policy_pcr(&sm3, &[d(h, b"x")]),
            Err(PolicyError::UnsupportedHash { .. })
        ));
        assert!(matches!(
            c.policy_pcr_digest(&selection, &d(HashAlg::Sha1, b"short")),
            Err(PolicyError::DigestSize { .. })
        ));
        assert_eq!(c.digest(), PolicyCalculator::new(h).digest());

        c.policy_pcr(&selection, &good).unwrap();
        let mut by_digest = PolicyCalculator::new(h);
        let pcr_digest = crypto::hash(
            h,
            &[good[0].as_bytes(), good[1].as_bytes(), good[2].as_bytes()],
        );
        by_digest
            .policy_pcr_digest(&selection, &pcr_digest)
            .unwrap();
        assert_eq!(c.digest(), by_digest.digest());
    }

    #[test]
    fn sized_inputs_must_have_the_policy_hash_size() {
        let mut c = PolicyCalculator::new(HashAlg::Sha1);
        let long = d(HashAlg::Sha256, b"x");
        assert!(c.policy_cp_hash(&long).is_err());
        assert!(c.policy_name_hash(&long).is_err());
        assert!(c.policy_template_hash(&long).is_err());
        assert!(c.policy_cp_hash(&Digest::empty()).is_err());
        assert_eq!(c.digest(), PolicyCalculator::new(HashAlg::Sha1).digest());
        assert!(c.policy_cp_hash(&d(HashAlg::Sha1, b"x")).is_ok());
    }

    #[test]
    fn policy_ticket_follows_the_ticket_kind() {
        let h = HashAlg::Sha256;
        let name = Name::new(&[0x40, 0, 0, 1]).unwrap();
        let policy_ref = Nonce::new(b"ref").unwrap();
        let ticket = |tag| Ticket {
            tag,
            hierarchy: crate::wire::Handle::RH_OWNER,
            digest: d(h, b"hmac"),
        };
        let mut c = PolicyCalculator::new(h);
        c.policy_ticket(&ticket(StructureTag::AUTH_SECRET), &name, &policy_ref)
            .unwrap();
        let mut secret = PolicyCalculator::new(h);
        secret.policy_secret(&name, policy_ref.as_bytes());
        assert_eq!(c.digest(), secret.digest());

        let mut c = PolicyCalculator::new(h);
        assert_eq!(
            c.policy_ticket(&ticket(StructureTag::VERIFIED), &name, &policy_ref)
                .err(),
            Some(PolicyError::TicketTag(StructureTag::VERIFIED))
        );
        c.policy_ticket(&ticket(StructureTag::AUTH_SIGNED), &name, &policy_ref)
            .unwrap();
        assert_ne!(c.digest(), secret.digest());
    }

    #[test]
    fn a_key_with_an_unknown_name_alg_has_no_name_here() {
        let mut key = Public::rsa_2048_storage_parent();
        key.name_alg = AlgId::NULL;
        let mut c = PolicyCalculator::new(HashAlg::Sha256);
        assert!(matches!(
            c.policy_authorize(&key, &Nonce::default()),
            Err(PolicyError::UnsupportedHash { .. })
        ));
        assert!(matches!(
            c.policy_signed(&key, &Nonce::default()),
            Err(PolicyError::UnsupportedHash { .. })
        ));
        assert_eq!(c.digest(), PolicyCalculator::new(HashAlg::Sha256).digest());
    }
}
