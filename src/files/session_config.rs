//! `tpm2_sessionconfig`: a session file's attributes, shown and changed without a TPM.

use std::path::Path;

use super::{read_session_file, write_session_file, EsysResource, FileError, SessionFile};
use crate::wire::{Handle, SessionAttributes as A};

/// The TPMA_SESSION bits a session file may carry (the others are reserved).
const DEFINED: u8 =
    A::CONTINUE_SESSION | A::AUDIT_EXCLUSIVE | A::AUDIT_RESET | A::DECRYPT | A::ENCRYPT | A::AUDIT;

impl SessionFile {
    /// The saved session's handle (`None` only for a hand-built value that holds no session).
    pub fn handle(&self) -> Option<Handle> {
        match &self.context.resource {
            EsysResource::Session { handle, .. } => Some(*handle),
            _ => None,
        }
    }
}

/// Sets the attributes in `set` and clears those in `clear` in the session file at `path`
/// (clearing wins where both name a bit), and writes it back atomically if either names any
/// bit. Returns the file as it now is. Reserved bits are refused
/// ([`FileError::BadValue`]), so the file stays one that tpm2-tools and this library read.
pub fn configure_session_file(path: &Path, set: A, clear: A) -> Result<SessionFile, FileError> {
    let reserved = (set.0 | clear.0) & !DEFINED;
    if reserved != 0 {
        return Err(FileError::BadValue {
            what: "session attributes to change (reserved bits)",
            value: reserved.into(),
        });
    }
    let mut file = read_session_file(path)?;
    if set.0 | clear.0 != 0 {
        let EsysResource::Session { session, .. } = &mut file.context.resource else {
            // read_session_file refuses files without a session.
            return Err(FileError::NotASession {
                found: file.context.resource.kind(),
            });
        };
        session.attributes = A((session.attributes.0 | set.0) & !clear.0);
        write_session_file(path, &file)?;
    }
    Ok(file)
}
