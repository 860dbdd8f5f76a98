//! Saving and loading contexts: sessions keep their host state (keys, nonces, policy markers)
//! across ContextSave/ContextLoad, across processes, and through the session files tpm2-tools
//! reads and writes.

use std::path::Path;

use super::{Session, Tpm};
use crate::command::{ContextLoad, ContextSave, Entity};
use crate::error::{Error, Result};
use crate::files::{self, EsysResource, FileError, SavedContext, SessionFile};
use crate::session::SessionState;
use crate::wire::{Context, Handle, Public, Tpm2bPublic};

/// A session that is out of the TPM's loaded slots (context-saved) together with everything
/// the host needs to continue it. Secrets inside are zeroized on drop.
#[derive(Debug)]
pub struct SavedSession {
    /// The TPM's saved context (TPMS_CONTEXT).
    pub context: Context,
    /// The host-side session state (nonces, session key, attributes).
    pub state: SessionState,
}

impl Tpm {
    /// TPM2_ContextSave of any handle.
    pub fn context_save(&self, handle: Handle) -> Result<Context> {
        Ok(self
            .run(&ContextSave {
                save_handle: Entity::from_handle(handle),
            })?
            .context)
    }

    /// TPM2_ContextLoad; returns the handle the TPM assigned (the same for sessions).
    pub fn context_load(&self, context: &Context) -> Result<Handle> {
        Ok(self
            .run(&ContextLoad {
                context: context.clone(),
            })?
            .loaded_handle)
    }

    /// Loads a saved session back and returns the owning [`Session`]. A session that was
    /// flushed, replaced or lost in a TPM restart is reported as [`Error::SessionLost`].
    pub fn load_session(&self, saved: SavedSession) -> Result<Session> {
        let SavedSession { context, mut state } = saved;
        match self.context_load(&context) {
            Ok(handle) if handle == state.handle() => {
                state.mark_loaded();
                // Loaded, its saved context is spent: this process is the owner now.
                super::registry_link::loaded(self, handle);
                Ok(Session::adopt(self, state))
            }
            Ok(handle) => {
                // A session context always loads at its own handle, so this answer is not
                // the TPM's. The handle it names is not flushed: it may be anyone's session.
                Err(Error::SessionLost {
                    handle: state.handle(),
                    reason: format!("the TPM loaded the context as {handle}"),
                })
            }
            Err(Error::Tpm { rc, .. }) if crate::steward::load_failure_means_lost(rc) => {
                Err(Error::SessionLost {
                    handle: state.handle(),
                    reason: format!(
                    "its saved context no longer loads ({rc}): the session was flushed, the TPM \
                     was reset, or the context is stale"
                ),
                })
            }
            Err(e) => Err(e),
        }
    }
}

impl Session {
    /// Context-saves the session: it leaves the TPM's loaded slots but stays alive, and this
    /// value no longer flushes it when dropped. Continue it with [`Tpm::load_session`].
    /// A session the steward has parked gives its parked context (no extra ContextSave).
    ///
    /// A desynchronized session ([`SessionState::is_desynchronized`]) is refused with
    /// [`Error::Desynchronized`] and flushed as this value drops.
    pub fn save(self) -> Result<SavedSession> {
        if self.state().is_desynchronized() {
            return Err(Error::Desynchronized {
                handle: self.handle(),
            });
        }
        let context = match self.tpm().steward_take_parked(self.handle(), self.ticket)? {
            Some(context) => context,
            None => self.tpm().context_save(self.handle())?,
        };
        let mut state = self.keep();
        state.mark_loaded();
        Ok(SavedSession { context, state })
    }

    /// Saves the session into a session file that tpm2-tools accepts (`-S FILE`,
    /// `session:FILE`). No auth value is ever written. The session stays alive in the TPM.
    ///
    /// A desynchronized session is refused ([`Error::Desynchronized`]) and flushed; the file is
    /// left as it was. If the file cannot be written, the session is loaded back and flushed,
    /// so a failed write strands nothing in the TPM.
    pub fn save_to_file(self, path: &Path) -> Result<()> {
        // Refuse before saving: a refused session stays owned (and flushed on drop), not
        // stranded in the TPM.
        if self.state().is_desynchronized() {
            return Err(Error::Desynchronized {
                handle: self.handle(),
            });
        }
        if embeds_bind_auth(self.state().bound_entity()) {
            return SavedSession::refuse_bind_auth(self.handle());
        }
        let tpm = self.tpm().clone();
        let saved = self.save()?;
        let file = saved.to_file()?;
        write_or_reclaim(&tpm, saved, &file, path)
    }

    /// [`Session::save_to_file`] for a session bound to an entity with a non-empty auth
    /// value, accepting that the file then carries that auth value in clear (ESYS's format;
    /// see [`SavedSession::to_file`]). For callers that opted in explicitly, or that re-save a
    /// session loaded from such a file.
    pub fn save_to_file_with_bind_auth(self, path: &Path) -> Result<()> {
        let tpm = self.tpm().clone();
        let saved = self.save()?;
        let file = saved.to_file_with_bind_auth()?;
        write_or_reclaim(&tpm, saved, &file, path)
    }

    /// Whether this session's binding embeds a non-empty auth value (so that
    /// [`Session::save_to_file`] refuses it).
    pub fn embeds_bind_auth(&self) -> bool {
        embeds_bind_auth(self.state().bound_entity())
    }
}

/// Writes a saved session's file; if that fails, takes the session back from the TPM's saved
/// contexts and flushes it rather than leave it there with nobody holding its context.
fn write_or_reclaim(tpm: &Tpm, saved: SavedSession, file: &SessionFile, path: &Path) -> Result<()> {
    let handle = saved.state.handle();
    match files::write_session_file(path, file) {
        Ok(()) => {
            super::registry_link::saved_to_file(tpm, handle, path);
            Ok(())
        }
        Err(e) => {
            // Dropping the reloaded session flushes it (and settles its registry record).
            if let Ok(session) = tpm.load_session(saved) {
                drop(session);
            }
            Err(e.into())
        }
    }
}

impl Tpm {
    /// Loads a session from a tpm2-tools session file.
    pub fn load_session_file(&self, path: &Path) -> Result<Session> {
        let file = files::read_session_file(path)?;
        self.load_session(SavedSession::from_file(file)?)
    }
}

fn embeds_bind_auth(bound: Option<&crate::session::BoundEntity>) -> bool {
    bound.is_some_and(|b| b.as_bytes().last().is_some_and(|&x| x != 0))
}

impl SavedSession {
    /// The session file form (tpm2-tools 5.4 / ESYS metadata).
    ///
    /// A session bound to an entity with a non-empty auth value is refused: ESYS records the
    /// binding as the entity's name with the auth value XORed onto zero padding, i.e. the
    /// auth value in clear, and we never write auth values into files. Leaving the binding
    /// out is no escape either, since tpm2-tools would then put the auth value into the HMAC
    /// key, fail the TPM's check and count a dictionary-attack failure. Use
    /// [`SavedSession::to_file_with_bind_auth`] to accept the disclosure knowingly.
    pub fn to_file(&self) -> Result<SessionFile> {
        if self.embeds_bind_auth() && !self.state.is_desynchronized() {
            return Self::refuse_bind_auth(self.state.handle());
        }
        self.to_file_with_bind_auth()
    }

    fn refuse_bind_auth<T>(handle: Handle) -> Result<T> {
        Err(Error::BindAuthNotWritten { handle })
    }

    /// Whether the recorded binding embeds an auth value. The auth value (trailing zeros
    /// removed, so its last byte is non-zero) is XORed onto the end of the padded name, and no
    /// name reaches the last byte, so that byte is non-zero exactly when an auth value is there.
    pub fn embeds_bind_auth(&self) -> bool {
        embeds_bind_auth(self.state.bound_entity())
    }

    /// [`SavedSession::to_file`] without the bind-auth refusal. A desynchronized session is
    /// refused ([`Error::Desynchronized`]): its file would look usable and is not.
    pub fn to_file_with_bind_auth(&self) -> Result<SessionFile> {
        let s = &self.state;
        if s.is_desynchronized() {
            return Err(Error::Desynchronized { handle: s.handle() });
        }
        SessionFile::from_state(self.context.clone(), s)
            .map_err(|_| Error::Desynchronized { handle: s.handle() })
    }

    /// Restores a session from its file form. The host-side audit digest is not part of the
    /// tpm2-tools format; a restored audit session starts without one.
    pub fn from_file(file: SessionFile) -> Result<SavedSession> {
        let ctx = &file.context;
        let EsysResource::Session {
            handle, session, ..
        } = &ctx.resource
        else {
            return Err(FileError::NotASession {
                found: ctx.resource.kind(),
            }
            .into());
        };
        // A file read with `read_session_file` was checked already; one built by hand was not.
        file.check_consistent()?;
        let state = session.to_state(*handle)?;
        Ok(SavedSession {
            context: file.context.tpm,
            state,
        })
    }
}

/// A transient object saved out of the TPM, with its public area and name.
#[derive(Clone, Debug)]
pub struct SavedObject {
    /// The TPM's saved context (TPMS_CONTEXT).
    pub context: Context,
    /// The object's handle at save time and its verified name.
    pub entity: Entity,
    /// Its public area.
    pub public: Public,
}

impl Tpm {
    /// Saves a loaded object into an object context file tpm2-tools accepts (`-c FILE`).
    pub fn save_object_to_file(&self, handle: Handle, path: &Path) -> Result<()> {
        let (entity, public) = self.read_public(handle)?;
        let context = self.context_save(handle)?;
        let saved = SavedContext {
            tpm: context,
            resource: EsysResource::Key {
                handle,
                name: entity.name.clone(),
                public: Tpm2bPublic(public),
            },
        };
        files::write_context_file(path, &saved).map_err(Error::from)
    }

    /// Loads an object from a tpm2-tools object context file (`tpm2_createprimary -c`) and
    /// returns it with its verified name: the name is recomputed from the loaded object's
    /// public area, not taken from the file.
    pub fn load_object_file(&self, path: &Path) -> Result<(Entity, Public)> {
        match files::read_object_file(path)? {
            files::ObjectFile::Context(saved) => {
                let handle = self.context_load(&saved.tpm)?;
                self.read_public(handle)
            }
            files::ObjectFile::Serialized(resource) => self.read_public(resource.handle()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::files::EsysResource;
    use crate::session::SessionError;
    use crate::wire::{AlgId, SessionType, SymCipher, SymDef};

    fn hmac_session_file() -> SessionFile {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/hmac.ctx");
        files::read_session_file(Path::new(path)).unwrap()
    }

    #[test]
    fn an_unsupported_cipher_in_a_session_file_keeps_its_typed_cause() {
        let mut file = hmac_session_file();
        let EsysResource::Session { session, .. } = &mut file.context.resource else {
            panic!("hmac.ctx holds a session");
        };
        session.symmetric = SymDef::Cipher(SymCipher {
            algorithm: AlgId::AES,
            key_bits: 128,
            mode: AlgId::OFB,
        });
        let err = SavedSession::from_file(file).unwrap_err();
        assert!(
            matches!(
                err,
                Error::SessionSetup(SessionError::UnsupportedSymmetric(
                    AlgId::AES,
                    128,
                    AlgId::OFB
                ))
            ),
            "{err:?}"
        );
    }

    #[test]
    fn a_session_file_built_inconsistent_is_a_file_error() {
        let mut file = hmac_session_file();
        file.session_type = SessionType::POLICY;
        let err = SavedSession::from_file(file).unwrap_err();
        assert!(
            matches!(
                err,
                Error::File(FileError::SessionTypeMismatch {
                    header: SessionType::POLICY,
                    saved: SessionType::HMAC,
                })
            ),
            "{err:?}"
        );
    }
}
