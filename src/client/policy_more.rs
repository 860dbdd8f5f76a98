//! The policy commands beyond PolicyPCR and PolicySecret, one method each on a policy (or
//! trial) session. [`PolicyCalculator`](crate::session::policy::PolicyCalculator) computes the
//! digest each of them leaves, offline.

use super::Session;
use crate::command::{
    Entity, PolicyAuthorize, PolicyAuthorizeNv, PolicyCounterTimer, PolicyCpHash,
    PolicyDuplicationSelect, PolicyLocality, PolicyNameHash, PolicyNv, PolicyNvWritten, PolicyOr,
    PolicyPhysicalPresence, PolicySigned, PolicySignedResponse, PolicyTemplate, PolicyTicket,
};
use crate::error::Result;
use crate::session::engine::SessionSlot;
use crate::wire::{
    ArithmeticOp, AuthTicket, Digest, DigestList, LocalityAttributes, Name, Nonce, Operand,
    Signature, Timeout, VerifiedTicket,
};

/// What TPM2_PolicySigned's signature covers besides the session's nonceTPM (see
/// [`signed_digest`](crate::session::policy::signed_digest)).
#[derive(Clone, Debug, Default)]
pub struct SignedTerms {
    /// Whether the signature covers this session's nonceTPM (binding it to this session).
    pub bind_nonce: bool,
    /// Seconds the authorization stays valid (0: no limit, counted from the nonce when it is
    /// bound); negative also asks the TPM for a ticket.
    pub expiration: i32,
    /// A cpHash the authorization is limited to, or empty.
    pub cp_hash_a: Digest,
    /// The policyRef, or empty.
    pub policy_ref: Nonce,
}

impl Session {
    /// TPM2_PolicyOR over 2 to 8 branch digests; the session's digest must be one of them
    /// (a trial session accepts any).
    pub fn policy_or(&mut self, branches: &[Digest]) -> Result<()> {
        let list = DigestList::new(branches.to_vec())?;
        self.tpm().run(&PolicyOr {
            policy_session: self.entity(),
            p_hash_list: list,
        })?;
        Ok(())
    }

    /// TPM2_PolicyAuthorize: the session's digest is `approved_policy`, which the key named
    /// `key_sign` signed (over H(approved_policy ‖ policy_ref)); `check_ticket` is what
    /// TPM2_VerifySignature returned for that signature.
    pub fn policy_authorize(
        &mut self,
        approved_policy: &Digest,
        policy_ref: &Nonce,
        key_sign: &Name,
        check_ticket: &VerifiedTicket,
    ) -> Result<()> {
        self.tpm().run(&PolicyAuthorize {
            policy_session: self.entity(),
            approved_policy: approved_policy.clone(),
            policy_ref: policy_ref.clone(),
            key_sign: key_sign.clone(),
            check_ticket: check_ticket.clone(),
        })?;
        Ok(())
    }

    /// The nonceTPM a TPM2_PolicySigned signature must cover with `terms`, empty unless
    /// `terms.bind_nonce`.
    pub fn signed_nonce(&self, terms: &SignedTerms) -> Nonce {
        if terms.bind_nonce {
            self.state().nonce_tpm().clone()
        } else {
            Nonce::default()
        }
    }

    /// TPM2_PolicySigned: `auth` is the signature, by the loaded key `auth_object`, over
    /// [`signed_digest`](crate::session::policy::signed_digest) of
    /// [`signed_nonce`](Self::signed_nonce) and `terms`. Returns the timeout and the ticket
    /// (a NULL ticket unless `terms.expiration` is negative).
    pub fn policy_signed(
        &mut self,
        auth_object: &Entity,
        terms: &SignedTerms,
        auth: &Signature,
    ) -> Result<PolicySignedResponse> {
        let nonce_tpm = self.signed_nonce(terms);
        self.tpm().run(&PolicySigned {
            auth_object: auth_object.clone(),
            policy_session: self.entity(),
            nonce_tpm,
            cp_hash_a: terms.cp_hash_a.clone(),
            policy_ref: terms.policy_ref.clone(),
            // The INT32 as its bits, as the wire carries it.
            expiration: terms.expiration as u32,
            auth: auth.clone(),
        })
    }

    /// TPM2_PolicyTicket: satisfies an earlier PolicySigned (or PolicySecret) again with the
    /// `timeout` and `ticket` it returned; `auth_name` is the signing key's (or entity's)
    /// name and `cp_hash_a`/`policy_ref` are the ones it was given.
    pub fn policy_ticket(
        &mut self,
        timeout: &Timeout,
        cp_hash_a: &Digest,
        policy_ref: &Nonce,
        auth_name: &Name,
        ticket: &AuthTicket,
    ) -> Result<()> {
        self.tpm().run(&PolicyTicket {
            policy_session: self.entity(),
            timeout: timeout.clone(),
            cp_hash_a: cp_hash_a.clone(),
            policy_ref: policy_ref.clone(),
            auth_name: auth_name.clone(),
            ticket: ticket.clone(),
        })?;
        Ok(())
    }

    /// TPM2_PolicyLocality.
    pub fn policy_locality(&mut self, locality: LocalityAttributes) -> Result<()> {
        self.tpm().run(&PolicyLocality {
            policy_session: self.entity(),
            locality,
        })?;
        Ok(())
    }

    /// TPM2_PolicyNV: compares the index `nv_index` at `offset` with `operand_b`; reading it
    /// is authorized by `authorization` for `auth_entity` (the index or its owner).
    pub fn policy_nv(
        &mut self,
        auth_entity: &Entity,
        authorization: SessionSlot<'_>,
        nv_index: &Entity,
        operand_b: &Operand,
        offset: u16,
        operation: ArithmeticOp,
    ) -> Result<()> {
        let tpm = self.tpm().clone();
        tpm.execute(
            &PolicyNv {
                auth_handle: auth_entity.clone(),
                nv_index: nv_index.clone(),
                policy_session: self.entity(),
                operand_b: operand_b.clone(),
                offset,
                operation,
            },
            &mut [authorization],
        )?;
        Ok(())
    }

    /// TPM2_PolicyCounterTimer: compares the TPM's TPMS_TIME_INFO at `offset` with
    /// `operand_b`.
    pub fn policy_counter_timer(
        &mut self,
        operand_b: &Operand,
        offset: u16,
        operation: ArithmeticOp,
    ) -> Result<()> {
        self.tpm().run(&PolicyCounterTimer {
            policy_session: self.entity(),
            operand_b: operand_b.clone(),
            offset,
            operation,
        })?;
        Ok(())
    }

    /// TPM2_PolicyCpHash.
    pub fn policy_cp_hash(&mut self, cp_hash_a: &Digest) -> Result<()> {
        self.tpm().run(&PolicyCpHash {
            policy_session: self.entity(),
            cp_hash_a: cp_hash_a.clone(),
        })?;
        Ok(())
    }

    /// TPM2_PolicyNameHash.
    pub fn policy_name_hash(&mut self, name_hash: &Digest) -> Result<()> {
        self.tpm().run(&PolicyNameHash {
            policy_session: self.entity(),
            name_hash: name_hash.clone(),
        })?;
        Ok(())
    }

    /// TPM2_PolicyNvWritten.
    pub fn policy_nv_written(&mut self, written_set: bool) -> Result<()> {
        self.tpm().run(&PolicyNvWritten {
            policy_session: self.entity(),
            written_set,
        })?;
        Ok(())
    }

    /// TPM2_PolicyTemplate.
    pub fn policy_template(&mut self, template_hash: &Digest) -> Result<()> {
        self.tpm().run(&PolicyTemplate {
            policy_session: self.entity(),
            template_hash: template_hash.clone(),
        })?;
        Ok(())
    }

    /// TPM2_PolicyAuthorizeNV: the approved policy is in `nv_index`, read with
    /// `authorization` for `auth_entity` (the index or its owner).
    pub fn policy_authorize_nv(
        &mut self,
        auth_entity: &Entity,
        authorization: SessionSlot<'_>,
        nv_index: &Entity,
    ) -> Result<()> {
        let tpm = self.tpm().clone();
        tpm.execute(
            &PolicyAuthorizeNv {
                auth_handle: auth_entity.clone(),
                nv_index: nv_index.clone(),
                policy_session: self.entity(),
            },
            &mut [authorization],
        )?;
        Ok(())
    }

    /// TPM2_PolicyDuplicationSelect.
    pub fn policy_duplication_select(
        &mut self,
        object_name: &Name,
        new_parent_name: &Name,
        include_object: bool,
    ) -> Result<()> {
        self.tpm().run(&PolicyDuplicationSelect {
            policy_session: self.entity(),
            object_name: object_name.clone(),
            new_parent_name: new_parent_name.clone(),
            include_object,
        })?;
        Ok(())
    }

    /// TPM2_PolicyPhysicalPresence.
    pub fn policy_physical_presence(&mut self) -> Result<()> {
        self.tpm().run(&PolicyPhysicalPresence {
            policy_session: self.entity(),
        })?;
        Ok(())
    }
}
