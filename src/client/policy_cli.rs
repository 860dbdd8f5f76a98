//! What the tpm2-tools policy tools need beyond the plain `Session::policy_*` methods:
//! TPM2_PolicySecret with the tool's terms (nonce binding, expiration) and its ticket.

use super::policy_more::SignedTerms;
use super::Session;
use crate::command::{Entity, PolicySecret, PolicySecretResponse};
use crate::error::Result;
use crate::session::engine::SessionSlot;

impl Session {
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
