//! The handle ranges TPM2_GetCapability(TPM_CAP_HANDLES) lists, and single TPM properties.

use super::Tpm;
use crate::command::GetCapability;
use crate::error::{Error, Result};
use crate::wire::{Capability, CommandCode, Handle, HandleType, PropertyTag, WireError};

/// A range of handles the TPM lists with TPM_CAP_HANDLES, named by what it holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum HandleRange {
    /// TPM_HT_PCR: the PCRs.
    Pcr,
    /// TPM_HT_NV_INDEX: defined NV indices.
    NvIndex,
    /// TPM_HT_LOADED_SESSION: sessions loaded in a TPM slot.
    LoadedSessions,
    /// TPM_HT_SAVED_SESSION: context-saved sessions that are still active. The TPM lists them
    /// with the HMAC-session prefix (0x02) whatever their type.
    SavedSessions,
    /// TPM_HT_PERMANENT: hierarchies and other permanent handles.
    Permanent,
    /// TPM_HT_TRANSIENT: loaded objects. Behind a resource manager, only those of this
    /// connection, with its virtual handles.
    Transient,
    /// TPM_HT_PERSISTENT: objects made persistent with TPM2_EvictControl.
    Persistent,
}

impl HandleRange {
    /// The handle TPM_CAP_HANDLES is asked for to list this range: its type in the top byte.
    pub const fn first(self) -> Handle {
        let ty = match self {
            HandleRange::Pcr => HandleType::PCR,
            HandleRange::NvIndex => HandleType::NV_INDEX,
            // TPM_HT_LOADED_SESSION and TPM_HT_SAVED_SESSION share the values of
            // TPM_HT_HMAC_SESSION and TPM_HT_POLICY_SESSION.
            HandleRange::LoadedSessions => HandleType::HMAC_SESSION,
            HandleRange::SavedSessions => HandleType::POLICY_SESSION,
            HandleRange::Permanent => HandleType::PERMANENT,
            HandleRange::Transient => HandleType::TRANSIENT,
            HandleRange::Persistent => HandleType::PERSISTENT,
        };
        Handle((ty.0 as u32) << 24)
    }
}

impl Tpm {
    /// Every handle in `range`, in the order the TPM lists them, across as many
    /// GetCapability calls as it takes (see [`Tpm::handles`]).
    pub fn handles_in(&self, range: HandleRange) -> Result<Vec<Handle>> {
        self.handles(range.first())
    }

    /// One TPM property (TPM_CAP_TPM_PROPERTIES), or `None` if the TPM does not report it.
    /// One GetCapability call; [`Tpm::properties`] reads a whole group.
    pub fn property(&self, tag: PropertyTag) -> Result<Option<u32>> {
        let rsp = self.run(&GetCapability {
            capability: Capability::TPM_PROPERTIES,
            property: tag.0,
            property_count: 1,
        })?;
        let answered = rsp.capability_data.capability();
        if answered != Capability::TPM_PROPERTIES {
            // The answer is to another question: reading "not reported" from it would be a
            // guess.
            return Err(Error::Malformed {
                command: CommandCode::GET_CAPABILITY,
                source: WireError::BadValue {
                    what: "capability in the answer (another one was asked for)",
                    value: answered.0,
                },
            });
        }
        Ok(rsp.capability_data.property(tag))
    }
}
