//! Names: how the TPM identifies entities in cpHash and policy computations.

use crate::command::{Entity, NvReadPublic, ReadPublic};
use crate::crypto::{self, HashAlg};
use crate::error::{Error, Result};
use crate::wire::{Handle, Marshal, Name, NvPublic, Public};

fn digest_name(name_alg: crate::wire::AlgId, body: &[u8]) -> Result<Name> {
    Ok(crypto::name_digest(
        HashAlg::from_alg_id(name_alg)?,
        &[body],
    ))
}

/// An object's name: nameAlg ‖ H_nameAlg(TPMT_PUBLIC).
pub fn object_name(public: &Public) -> Result<Name> {
    Ok(crypto::object_name(public)?)
}

/// An NV index's name: nameAlg ‖ H_nameAlg(TPMS_NV_PUBLIC). It changes when the index is
/// first written (TPMA_NV_WRITTEN), so recompute it from a fresh public area after writes.
pub fn nv_name(public: &NvPublic) -> Result<Name> {
    digest_name(public.name_alg, &public.to_bytes())
}

impl super::Tpm {
    /// Reads an object's public area and checks that the name the TPM reports is the hash
    /// of that public area (so the two cannot disagree), returning the entity and its public.
    pub fn read_public(&self, handle: Handle) -> Result<(Entity, Public)> {
        let rsp = self.run(&ReadPublic {
            object_handle: Entity::from_handle(handle),
        })?;
        let public = rsp.out_public.0;
        let computed = object_name(&public)?;
        if computed != rsp.name {
            return Err(Error::NameMismatch {
                handle,
                expected: Box::new(computed),
                actual: Box::new(rsp.name),
            });
        }
        Ok((Entity::new(handle, computed), public))
    }

    /// Reads an NV index's public area and returns the entity with its computed name.
    pub fn nv_read_public(&self, index: Handle) -> Result<(Entity, NvPublic)> {
        let rsp = self.run(&NvReadPublic {
            nv_index: Entity::from_handle(index),
        })?;
        let public = rsp.nv_public.0;
        let computed = nv_name(&public)?;
        if computed != rsp.nv_name {
            return Err(Error::NameMismatch {
                handle: index,
                expected: Box::new(computed),
                actual: Box::new(rsp.nv_name),
            });
        }
        Ok((Entity::new(index, computed), public))
    }
}

/// An NV index as the client tracks it: its public area and the name derived from it. The
/// name covers the attributes, so it changes when the TPM sets TPMA_NV_WRITTEN on the first
/// write; [`super::Tpm::nv_write`] keeps it current.
#[derive(Clone, Debug)]
pub struct NvIndex {
    /// The index handle and its name, computed from `public`.
    pub entity: Entity,
    /// The public area the name was computed from.
    pub public: NvPublic,
}

impl NvIndex {
    /// The index described by `public`, with its name computed (fails only for a nameAlg the
    /// library does not implement).
    pub fn new(public: NvPublic) -> Result<NvIndex> {
        let name = nv_name(&public)?;
        Ok(NvIndex {
            entity: Entity::new(public.nv_index, name),
            public,
        })
    }

    /// Records that the index has been written: sets TPMA_NV_WRITTEN and recomputes the
    /// name, as the TPM does, without asking it.
    pub fn mark_written(&mut self) -> Result<()> {
        use crate::wire::NvAttributes;
        if !self.public.attributes.contains(NvAttributes::WRITTEN) {
            self.public.attributes = self.public.attributes.with(NvAttributes::WRITTEN, true);
            self.entity.name = nv_name(&self.public)?;
        }
        Ok(())
    }
}

impl super::Tpm {
    /// Reads an NV index's public area (its name checked against it).
    pub fn nv_index(&self, index: Handle) -> Result<NvIndex> {
        let (entity, public) = self.nv_read_public(index)?;
        Ok(NvIndex { entity, public })
    }

    /// TPM2_NV_Write, authorized for `auth_handle` (`None`: the index itself) by `sessions`,
    /// then the index's name updated for TPMA_NV_WRITTEN so the next command's cpHash is right.
    pub fn nv_write(
        &self,
        auth_handle: Option<&Entity>,
        index: &mut NvIndex,
        data: &[u8],
        offset: u16,
        sessions: &mut [crate::session::engine::SessionSlot<'_>],
    ) -> Result<()> {
        let cmd = crate::command::NvWrite {
            auth_handle: auth_handle.unwrap_or(&index.entity).clone(),
            nv_index: index.entity.clone(),
            data: crate::wire::MaxNvBuffer::new(data).map_err(|source| Error::Build {
                command: crate::wire::CommandCode::NV_WRITE,
                source,
            })?,
            offset,
        };
        self.execute(&cmd, sessions)?;
        index.mark_written()
    }
}
