//! Primary objects: TPM2_CreatePrimary with the new object's name checked against its public
//! area, so callers get an [`Entity`] they can put into cpHash and salt computations.

use super::{object_name, Tpm};
use crate::command::{CreatePrimary, Entity, FlushContext};
use crate::error::{Error, Result};
use crate::session::engine::SessionSlot;
use crate::wire::{
    Auth, Data, PcrSelectionList, Public, SensitiveCreate, Tpm2bPublic, Tpm2bSensitiveCreate,
};

impl Tpm {
    /// TPM2_CreatePrimary under `hierarchy` (e.g. [`Entity::owner`],
    /// [`Entity::endorsement`]), authorized by `authorization` (a password or a session for the
    /// hierarchy), from `template`, with `auth` as the new object's auth value.
    ///
    /// Returns the transient object, named by the hash of the public area the TPM returned,
    /// and that public area; flush it with [`FlushContext`] when done. A TPM whose reported
    /// name is not that hash gets [`Error::NameMismatch`] (its object is flushed): every
    /// later HMAC over that name would fail, or worse, be computed for another object.
    pub fn create_primary(
        &self,
        hierarchy: &Entity,
        authorization: SessionSlot<'_>,
        template: Public,
        auth: &Auth,
    ) -> Result<(Entity, Public)> {
        self.create_primary_with(hierarchy, &mut [authorization], template, auth)
    }

    /// [`Tpm::create_primary`] with any sessions: the hierarchy's authorization first, then
    /// sessions that encrypt or audit (e.g. one that encrypts the new object's auth value).
    pub fn create_primary_with(
        &self,
        hierarchy: &Entity,
        sessions: &mut [SessionSlot<'_>],
        template: Public,
        auth: &Auth,
    ) -> Result<(Entity, Public)> {
        let rsp = self.execute(
            &CreatePrimary {
                primary_handle: hierarchy.clone(),
                in_sensitive: Tpm2bSensitiveCreate(SensitiveCreate {
                    user_auth: auth.clone(),
                    ..Default::default()
                }),
                in_public: Tpm2bPublic(template),
                outside_info: Data::empty(),
                creation_pcr: PcrSelectionList::default(),
            },
            sessions,
        )?;
        let handle = rsp.object_handle;
        let public = rsp.out_public.0;
        let checked = object_name(&public).and_then(|name| {
            if name == rsp.name {
                Ok(name)
            } else {
                Err(Error::NameMismatch {
                    handle,
                    expected: Box::new(name),
                    actual: Box::new(rsp.name),
                })
            }
        });
        match checked {
            Ok(name) => Ok((Entity::new(handle, name), public)),
            Err(e) => {
                // Nobody can use an object whose name is in doubt: do not leave it loaded.
                let _ = self.run(&FlushContext {
                    flush_handle: handle,
                });
                Err(e)
            }
        }
    }
}
