//! Giving a session loaded from a tpm2-tools session file back to that file after use, or, if
//! it can no longer be trusted, ending it and removing the file.

use std::io;
use std::path::{Path, PathBuf};

use super::Session;
use crate::error::Error;
use crate::files;
use crate::wire::Handle;

/// Why [`Session::save_back_to_file`] did not save the session.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SaveBackError {
    /// The session was desynchronized (a response it took part in was lost, malformed or
    /// failed verification), so it was not saved: it was flushed and its file removed, as far
    /// as they could be (see the fields).
    #[error(
        "session 0x{:08x} could not be trusted after that failure (its response was lost, \
         malformed or unverified, so the TPM may have moved past its nonces): {}, and {}; \
         start a new session",
        handle.0,
        ended(flush_error),
        file.describe(path)
    )]
    Desynchronized {
        /// The session's handle.
        handle: Handle,
        /// Why flushing it failed, if it did: the session then still occupies a TPM slot
        /// until it is flushed by handle.
        flush_error: Option<Box<Error>>,
        /// The session file.
        path: PathBuf,
        /// What became of the file.
        file: FileFate,
    },
    /// Saving the session failed (see [`Session::save_to_file`]).
    #[error(transparent)]
    Save(#[from] Error),
}

fn ended(flush_error: &Option<Box<Error>>) -> String {
    match flush_error {
        None => "it was flushed".into(),
        Some(e) => format!("flushing it failed too ({e})"),
    }
}

/// What became of a desynchronized session's file.
#[derive(Debug)]
#[non_exhaustive]
pub enum FileFate {
    /// It was removed.
    Removed,
    /// It was already gone.
    Gone,
    /// It could not be removed.
    NotRemoved(io::Error),
}

impl FileFate {
    fn describe(&self, path: &Path) -> String {
        match self {
            FileFate::Removed => format!("{} was removed", path.display()),
            FileFate::Gone => format!("{} is gone", path.display()),
            FileFate::NotRemoved(e) => format!("{} could not be removed ({e})", path.display()),
        }
    }
}

impl Session {
    /// Saves a session loaded from the session file `path` back to it, so the file stays
    /// usable (by this library or tpm2-tools) after the session took part in a command, even
    /// a failed one. If the file at `path` carries this session's bind auth value, it is
    /// written the same way (nothing new is disclosed); a session whose binding embeds an
    /// auth value is otherwise refused, as [`Session::save_to_file`] refuses it.
    ///
    /// A desynchronized session is not saved: it is flushed and the file removed
    /// ([`SaveBackError::Desynchronized`]). The file's context was spent when the session was
    /// loaded, and writing the session back would hand the next user a session whose HMACs
    /// the TPM rejects, each rejection a dictionary-attack count.
    pub fn save_back_to_file(self, path: &Path) -> Result<(), SaveBackError> {
        if self.state().is_desynchronized() {
            let handle = self.handle();
            let flush_error = self.flush().err().map(Box::new);
            let file = match std::fs::remove_file(path) {
                Ok(()) => FileFate::Removed,
                Err(e) if e.kind() == io::ErrorKind::NotFound => FileFate::Gone,
                Err(e) => FileFate::NotRemoved(e),
            };
            return Err(SaveBackError::Desynchronized {
                handle,
                flush_error,
                path: path.to_path_buf(),
                file,
            });
        }
        // Written with the bind auth value only over a file that already carries this very
        // binding; anywhere else `save_to_file` refuses it.
        let carried = self.embeds_bind_auth()
            && files::read_session_file(path)
                .is_ok_and(|f| f.session().map(|s| &s.bound_entity) == self.state().bound_entity());
        if carried {
            self.save_to_file_with_bind_auth(path)?;
        } else {
            self.save_to_file(path)?;
        }
        Ok(())
    }
}
