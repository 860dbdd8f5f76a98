//! Policy commands on a policy (or trial) session that take more than the session handle,
//! and the PCR reads they need.

use super::policy_more::SignedTerms;
use super::{Session, Tpm};
use crate::command::{
    Entity, PcrRead, PcrReadResponse, PolicyPcr, PolicySecret, PolicySecretResponse,
};
use crate::error::Result;
use crate::session::engine::SessionSlot;
use crate::wire::{Digest, Nonce, PcrSelectionList};

impl Tpm {
    /// TPM2_PCR_Read. The TPM returns at most eight digests per call and says which PCRs they
    /// are in `pcr_selection_out`; ask again for the rest if that is fewer than requested.
    pub fn pcr_read(&self, selection: &PcrSelectionList) -> Result<PcrReadResponse> {
        self.run(&PcrRead {
            pcr_selection_in: selection.clone(),
        })
    }
}

impl Session {
    /// TPM2_PolicyPCR. `pcr_digest` is the hash (with this session's hash) of the expected PCR
    /// values in selection order; an empty digest makes the TPM use the current values.
    pub fn policy_pcr(&mut self, pcrs: &PcrSelectionList, pcr_digest: &Digest) -> Result<()> {
        self.tpm().run(&PolicyPcr {
            policy_session: self.entity(),
            pcr_digest: pcr_digest.clone(),
            pcrs: pcrs.clone(),
        })?;
        Ok(())
    }

    /// TPM2_PolicySecret: proves knowledge of `auth_entity`'s auth value, given by
    /// `authorization` (a password or another session for that entity), bound to this
    /// session's current nonce. No expiration, no cpHash restriction; the returned timeout and
    /// ticket are dropped.
    pub fn policy_secret(
        &mut self,
        auth_entity: &Entity,
        authorization: SessionSlot<'_>,
        policy_ref: &Nonce,
    ) -> Result<()> {
        let terms = SignedTerms {
            bind_nonce: true,
            expiration: 0,
            cp_hash_a: Digest::empty(),
            policy_ref: policy_ref.clone(),
        };
        self.policy_secret_with(auth_entity, authorization, &terms)?;
        Ok(())
    }

    /// TPM2_PolicySecret with `terms` (as `tpm2_policysecret -x -t -q` give them): proves
    /// knowledge of `auth_entity`'s auth value through `authorization`. Returns the timeout and
    /// the ticket (a NULL ticket unless `terms.expiration` is negative).
    pub fn policy_secret_with(
        &mut self,
        auth_entity: &Entity,
        authorization: SessionSlot<'_>,
        terms: &SignedTerms,
    ) -> Result<PolicySecretResponse> {
        let tpm = self.tpm().clone();
        tpm.execute(
            &PolicySecret {
                auth_handle: auth_entity.clone(),
                policy_session: self.entity(),
                nonce_tpm: self.signed_nonce(terms),
                cp_hash_a: terms.cp_hash_a.clone(),
                policy_ref: terms.policy_ref.clone(),
                // The INT32 as its bits, as the wire carries it.
                expiration: terms.expiration as u32,
            },
            &mut [authorization],
        )
    }
}
