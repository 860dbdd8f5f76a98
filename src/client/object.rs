//! Objects named the way tpm2-tools names them (a handle, or a context file), loaded for use and
//! flushed again when no longer needed.

use std::path::{Path, PathBuf};

use super::{SaltKey, Tpm};
use crate::command::{Entity, FlushContext};
use crate::error::Result;
use crate::files;
use crate::wire::{Handle, Public};

/// An object as tpm2-tools takes it on its command line: a handle such as `0x81000001` (hex),
/// or the path of a context file (`tpm2_createprimary -c primary.ctx`) or of a serialized
/// ESYS_TR (`tpm2_evictcontrol -o`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ObjectRef {
    /// An object already loaded or persistent in the TPM.
    Handle(Handle),
    /// A file to load the object from.
    File(PathBuf),
}

impl ObjectRef {
    /// `0x` followed by 1 to 8 hex digits is a handle; anything else is a path.
    pub fn parse(spec: &str) -> ObjectRef {
        match spec
            .strip_prefix("0x")
            .or_else(|| spec.strip_prefix("0X"))
            .filter(|h| !h.is_empty() && h.len() <= 8)
            .and_then(|h| u32::from_str_radix(h, 16).ok())
        {
            Some(h) => ObjectRef::Handle(Handle(h)),
            None => ObjectRef::File(PathBuf::from(spec)),
        }
    }
}

impl core::fmt::Display for ObjectRef {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            ObjectRef::Handle(h) => write!(f, "0x{:08x}", h.0),
            ObjectRef::File(p) => write!(f, "{}", p.display()),
        }
    }
}

/// An object in the TPM, with the name computed from its public area (never taken from a file
/// or trusted from the TPM's word alone). One loaded from a context file is transient and
/// belongs to this value: it is flushed when the value drops.
#[derive(Debug)]
pub struct LoadedObject {
    tpm: Tpm,
    entity: Entity,
    public: Public,
    /// The transient handle this value loaded and must flush.
    owned: Option<Handle>,
}

impl LoadedObject {
    /// An object whose name the caller computed from `public`; flushed on drop if `owned`.
    pub(crate) fn new(tpm: &Tpm, entity: Entity, public: Public, owned: bool) -> Self {
        let owned = owned.then_some(entity.handle);
        LoadedObject {
            tpm: tpm.clone(),
            entity,
            public,
            owned,
        }
    }

    /// The object's handle and verified name.
    pub fn entity(&self) -> &Entity {
        &self.entity
    }

    /// The object's public area.
    pub fn public(&self) -> &Public {
        &self.public
    }

    /// The object as the key to salt a session with.
    pub fn salt_key(&self) -> Result<SaltKey> {
        SaltKey::from_public(self.entity.clone(), &self.public)
    }
}

impl Drop for LoadedObject {
    fn drop(&mut self) {
        if let Some(h) = self.owned {
            // Best effort: a connection that died has lost the object with it.
            let _ = self.tpm.run(&FlushContext { flush_handle: h });
        }
    }
}

impl Tpm {
    /// Reads (a handle) or loads (a context file) the object `r` names. Its name is checked
    /// against its public area ([`Tpm::read_public`]); a transient object loaded here is
    /// flushed when the returned value drops.
    pub fn load_object(&self, r: &ObjectRef) -> Result<LoadedObject> {
        let (entity, public, owned) = match r {
            ObjectRef::Handle(h) => {
                let (entity, public) = self.read_public(*h)?;
                (entity, public, None)
            }
            ObjectRef::File(path) => {
                // A serialized ESYS_TR names an object that stays where it is; a context file
                // loads a new transient copy that is ours.
                let serialized = matches!(
                    files::read_object_file(Path::new(path))?,
                    files::ObjectFile::Serialized(_)
                );
                let (entity, public) = self.load_object_file(path)?;
                let owned = (!serialized).then_some(entity.handle);
                (entity, public, owned)
            }
        };
        Ok(LoadedObject {
            tpm: self.clone(),
            entity,
            public,
            owned,
        })
    }
}
