//! Policy commands on a policy (or trial) session that take more than the session handle,
//! and the PCR reads they need.

use super::{Session, Tpm};
use crate::command::{Entity, PcrRead, PcrReadResponse, PolicyPcr, PolicySecret};
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
    /// `authorization` (a password or another session for that entity). No expiration, no
    /// cpHash restriction; the returned timeout and ticket are dropped.
    pub fn policy_secret(
        &mut self,
        auth_entity: &Entity,
        authorization: SessionSlot<'_>,
        policy_ref: &Nonce,
    ) -> Result<()> {
        let tpm = self.tpm().clone();
        tpm.execute(
            &PolicySecret {
                auth_handle: auth_entity.clone(),
                policy_session: self.entity(),
                // Ties the authorization to this session's current nonce.
                nonce_tpm: self.state().nonce_tpm().clone(),
                cp_hash_a: Digest::empty(),
                policy_ref: policy_ref.clone(),
                expiration: 0,
            },
            &mut [authorization],
        )?;
        Ok(())
    }
}
