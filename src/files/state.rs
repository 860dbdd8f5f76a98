//! The one place where a session's file record and the session engine's state meet: a
//! [`SessionState`] becomes an [`EsysSession`] (and a whole [`SessionFile`]) with
//! [`EsysSession::from_state`] / [`SessionFile::from_state`], and goes back with
//! [`EsysSession::to_state`].

use super::{EsysResource, EsysSession, SavedContext, SessionFile};
use crate::crypto::HashAlg;
use crate::session::{SessionError, SessionState, StateRecord, Symmetric};
use crate::wire::{Context, Handle, Name, SessionType};

impl EsysSession {
    /// The record ESYS keeps for a session with this host state. The host-only parts (the
    /// audit digest, the opt-ins, the closed flag) have no place in it. A desynchronized state
    /// is refused ([`SessionError::Desynchronized`]): a record has no way to say so, and
    /// whoever continued the session from it would send HMACs the TPM rejects.
    pub fn from_state(state: &SessionState) -> Result<EsysSession, SessionError> {
        if state.is_desynchronized() {
            return Err(SessionError::Desynchronized(state.handle()));
        }
        Ok(EsysSession {
            bound_entity: state.bound_entity().cloned().unwrap_or_default(),
            symmetric: state.symmetric().into(),
            auth_hash: state.hash().alg_id(),
            session_key: state.session_key().clone(),
            session_type: state.session_type(),
            attributes: state.attributes(),
            nonce_caller: state.nonce_caller().clone(),
            nonce_tpm: state.nonce_tpm().clone(),
            policy_auth: state.policy_auth(),
        })
    }

    /// The host state of the session at `handle` this record describes. Refuses a hash or a
    /// parameter-encryption algorithm the session engine does not implement. The record has
    /// no audit digest: a restored audit session starts without one.
    pub fn to_state(&self, handle: Handle) -> Result<SessionState, SessionError> {
        let hash = HashAlg::from_alg_id(self.auth_hash)?;
        let symmetric = Symmetric::try_from(self.symmetric)?;
        // ESYS records a binding for policy sessions too, but only an HMAC session's binding
        // changes how it authorizes.
        let bound_entity = (self.session_type == SessionType::HMAC
            && !self.bound_entity.is_empty())
        .then(|| self.bound_entity.clone());
        Ok(SessionState::restore(StateRecord {
            handle,
            session_type: self.session_type,
            hash,
            symmetric,
            attributes: self.attributes,
            // The file cannot say whether the key came from a secret; a non-empty key is taken
            // as one (tpm2-tools sessions bound to an empty-auth object are not).
            key_is_secret: !self.session_key.is_empty(),
            session_key: self.session_key.clone(),
            nonce_caller: self.nonce_caller.clone(),
            nonce_tpm: self.nonce_tpm.clone(),
            bound_entity,
            policy_auth: self.policy_auth,
            audit_digest: None,
            allow_unprotected_encryption: false,
            desynchronized: false,
        }))
    }
}

impl SessionFile {
    /// The session file of a session saved as `context` with host state `state`: the header
    /// and the ESYS record agree on type and hash by construction, and the resource's name is
    /// the session handle, as ESYS writes it. A desynchronized state is refused, as
    /// [`EsysSession::from_state`] refuses it.
    pub fn from_state(context: Context, state: &SessionState) -> Result<SessionFile, SessionError> {
        Ok(SessionFile {
            session_type: state.session_type(),
            auth_hash: state.hash().alg_id(),
            context: SavedContext {
                tpm: context,
                resource: EsysResource::Session {
                    handle: state.handle(),
                    name: handle_name(state.handle()),
                    session: EsysSession::from_state(state)?,
                },
            },
        })
    }
}

/// A session's name: its handle's four bytes.
fn handle_name(handle: Handle) -> Name {
    // Four bytes always fit a TPM2B_NAME.
    Name::new(&handle.0.to_be_bytes()).unwrap_or_default()
}
