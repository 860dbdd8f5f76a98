//! Keys as values: created from a template, named by the hash of their public area, flushed
//! when dropped unless made persistent.

use super::KeyError;
use crate::client::{object_name, LoadedObject};
use crate::command::{Entity, EvictControl, FlushContext, Load};
use crate::session::engine::SessionSlot;
use crate::wire::{
    Auth, Data, Handle, HandleType, Name, PcrSelectionList, Private, Public, PublicKey,
    SensitiveCreate, Tpm2bPublic, Tpm2bSensitiveCreate,
};
use crate::Tpm;

/// An object in the TPM with the name computed from its public area: what a command needs to
/// use it ([`TpmObject::entity`]) and what a host needs to know about it
/// ([`TpmObject::public`]).
pub trait TpmObject {
    /// The handle and the name computed from the public area.
    fn entity(&self) -> &Entity;
    /// The public area.
    fn public(&self) -> &Public;
}

impl TpmObject for LoadedObject {
    fn entity(&self) -> &Entity {
        LoadedObject::entity(self)
    }

    fn public(&self) -> &Public {
        LoadedObject::public(self)
    }
}

#[cfg(feature = "ek")]
impl TpmObject for crate::ek::VerifiedEk {
    fn entity(&self) -> &Entity {
        crate::ek::VerifiedEk::entity(self)
    }

    fn public(&self) -> &Public {
        crate::ek::VerifiedEk::public(self)
    }
}

/// An object TPM2_Create made and has not loaded: its private area (encrypted by the TPM to
/// its parent, so it can be stored anywhere) and its public area. Load it with [`Key::load`].
#[derive(Clone, Debug)]
pub struct CreatedObject {
    /// TPM2B_PRIVATE: opaque, only the parent can load it.
    pub private: Private,
    /// The public area, with the unique field the TPM filled in.
    pub public: Public,
}

/// A transient key in the TPM, flushed when this value drops (best effort: a lost connection
/// loses the key anyway). Its name is always the hash of its public area: a TPM that reports
/// another name when the key is created or loaded is refused, and the object flushed.
#[derive(Debug)]
pub struct Key {
    tpm: Tpm,
    object: LoadedObject,
}

impl Key {
    /// TPM2_CreatePrimary under `hierarchy` (TPM_RH_OWNER, TPM_RH_ENDORSEMENT,
    /// TPM_RH_PLATFORM or TPM_RH_NULL), authorized by `authorization` (one slot for the
    /// hierarchy, then any encrypt/audit sessions), with `template` and the key's auth value
    /// `auth`. The TPM's answer must follow the template and name the key by the hash of its
    /// public area.
    pub fn create_primary(
        tpm: &Tpm,
        hierarchy: &Entity,
        authorization: &mut [SessionSlot<'_>],
        template: &Public,
        auth: &Auth,
    ) -> Result<Key, KeyError> {
        let (entity, public) = create_primary(tpm, hierarchy, authorization, template, auth)?;
        Ok(Key::owned(tpm, entity, public))
    }

    /// TPM2_Create under `parent` (a storage parent), authorized by `authorization`: a key
    /// (or, with [`sealed_data`](super::templates::sealed_data), a sealed object) from
    /// `template` with the auth value and data of `sensitive`. Give `authorization` a session
    /// that encrypts commands when `sensitive` holds secrets: it crosses the bus otherwise in
    /// clear. The public area the TPM returns must follow the template.
    pub fn create(
        tpm: &Tpm,
        parent: &Entity,
        authorization: &mut [SessionSlot<'_>],
        template: &Public,
        sensitive: &SensitiveCreate,
    ) -> Result<CreatedObject, KeyError> {
        const WHAT: &str = "creating a key (TPM2_Create)";
        let rsp = tpm
            .execute(
                &crate::command::Create {
                    parent_handle: parent.clone(),
                    in_sensitive: Tpm2bSensitiveCreate(sensitive.clone()),
                    in_public: Tpm2bPublic(template.clone()),
                    outside_info: Data::empty(),
                    creation_pcr: PcrSelectionList::default(),
                },
                authorization,
            )
            .map_err(KeyError::tpm(WHAT))?;
        let public = rsp.out_public.0;
        if let Some(field) = template_difference(template, &public) {
            // Nothing was loaded: there is nothing to flush.
            return Err(KeyError::TemplateMismatch { what: WHAT, field });
        }
        Ok(CreatedObject {
            private: rsp.out_private,
            public,
        })
    }

    /// TPM2_Load of `created` under `parent`, authorized by `authorization`. The name the TPM
    /// reports must be the hash of `created.public`.
    pub fn load(
        tpm: &Tpm,
        parent: &Entity,
        authorization: &mut [SessionSlot<'_>],
        created: &CreatedObject,
    ) -> Result<Key, KeyError> {
        const WHAT: &str = "loading a key (TPM2_Load)";
        let computed = object_name(&created.public).map_err(KeyError::tpm(WHAT))?;
        let rsp = tpm
            .execute(
                &Load {
                    parent_handle: parent.clone(),
                    in_private: created.private.clone(),
                    in_public: Tpm2bPublic(created.public.clone()),
                },
                authorization,
            )
            .map_err(KeyError::tpm(WHAT))?;
        let handle = rsp.object_handle;
        if rsp.name != computed {
            flush(tpm, handle);
            return Err(KeyError::NameMismatch {
                what: WHAT,
                handle,
                computed: Box::new(computed),
                reported: Box::new(rsp.name),
            });
        }
        Ok(Key::owned(
            tpm,
            Entity::new(handle, computed),
            created.public.clone(),
        ))
    }

    /// [`Key::create`] then [`Key::load`], both authorized by `authorization` (a session in
    /// it serves both commands).
    pub fn create_and_load(
        tpm: &Tpm,
        parent: &Entity,
        authorization: &mut [SessionSlot<'_>],
        template: &Public,
        sensitive: &SensitiveCreate,
    ) -> Result<Key, KeyError> {
        let created = Key::create(tpm, parent, authorization, template, sensitive)?;
        Key::load(tpm, parent, authorization, &created)
    }

    fn owned(tpm: &Tpm, entity: Entity, public: Public) -> Key {
        Key {
            tpm: tpm.clone(),
            object: LoadedObject::new(tpm, entity, public, true),
        }
    }

    /// TPM2_EvictControl: makes the key persistent at `persistent_handle` (0x81xxxxxx; the
    /// owner range is 0x81000000-0x817FFFFF), authorized by `owner_auth` (one slot for
    /// TPM_RH_OWNER). The transient copy is flushed, on success or failure alike, and the
    /// persistent key stays in the TPM when the returned value drops.
    pub fn persist(
        self,
        persistent_handle: Handle,
        owner_auth: &mut [SessionSlot<'_>],
    ) -> Result<PersistentKey, KeyError> {
        if persistent_handle.handle_type() != HandleType::PERSISTENT {
            return Err(KeyError::NotPersistentHandle(persistent_handle));
        }
        self.tpm
            .execute(
                &EvictControl {
                    auth: Entity::owner(),
                    object_handle: self.entity().clone(),
                    persistent_handle,
                },
                owner_auth,
            )
            .map_err(KeyError::tpm("making a key persistent (TPM2_EvictControl)"))?;
        // The persistent copy has the same public area, hence the same name.
        let entity = Entity::new(persistent_handle, self.entity().name.clone());
        let persistent = PersistentKey {
            tpm: self.tpm.clone(),
            object: LoadedObject::new(&self.tpm, entity, self.public().clone(), false),
        };
        Ok(persistent)
    }
}

/// The key is a loaded object (its handle, its name computed from its public area, its public
/// area), which it owns.
impl core::ops::Deref for Key {
    type Target = LoadedObject;

    fn deref(&self) -> &LoadedObject {
        &self.object
    }
}

impl TpmObject for Key {
    fn entity(&self) -> &Entity {
        self.object.entity()
    }

    fn public(&self) -> &Public {
        self.object.public()
    }
}

/// A persistent key: it stays in the TPM when this value drops; [`PersistentKey::evict`]
/// removes it.
#[derive(Debug)]
pub struct PersistentKey {
    tpm: Tpm,
    object: LoadedObject,
}

impl PersistentKey {
    /// The persistent key at `handle`, accepted only if its name is `expected_name` (known out
    /// of band, e.g. from when it was made persistent). The name is the hash of the public
    /// area the TPM returns ([`Tpm::read_public`]).
    pub fn open(
        tpm: &Tpm,
        handle: Handle,
        expected_name: &Name,
    ) -> Result<PersistentKey, KeyError> {
        if handle.handle_type() != HandleType::PERSISTENT {
            return Err(KeyError::NotPersistentHandle(handle));
        }
        let (entity, public) = tpm
            .read_public(handle)
            .map_err(KeyError::tpm("reading a persistent key (TPM2_ReadPublic)"))?;
        if entity.name != *expected_name {
            return Err(KeyError::UnexpectedKey {
                handle,
                expected: Box::new(expected_name.clone()),
                found: Box::new(entity.name),
            });
        }
        Ok(PersistentKey {
            tpm: tpm.clone(),
            object: LoadedObject::new(tpm, entity, public, false),
        })
    }

    /// TPM2_EvictControl: removes the key from the TPM, authorized by `owner_auth` (one slot
    /// for TPM_RH_OWNER). On failure the key stays in the TPM; [`PersistentKey::open`] finds it
    /// again.
    pub fn evict(self, owner_auth: &mut [SessionSlot<'_>]) -> Result<(), KeyError> {
        let handle = self.entity().handle;
        self.tpm
            .execute(
                &EvictControl {
                    auth: Entity::owner(),
                    object_handle: self.entity().clone(),
                    persistent_handle: handle,
                },
                owner_auth,
            )
            .map_err(KeyError::tpm(
                "removing a persistent key (TPM2_EvictControl)",
            ))?;
        Ok(())
    }
}

/// The key is a loaded object (its handle, its name computed from its public area, its public
/// area), which it owns.
impl core::ops::Deref for PersistentKey {
    type Target = LoadedObject;

    fn deref(&self) -> &LoadedObject {
        &self.object
    }
}

impl TpmObject for PersistentKey {
    fn entity(&self) -> &Entity {
        self.object.entity()
    }

    fn public(&self) -> &Public {
        self.object.public()
    }
}

fn flush(tpm: &Tpm, handle: Handle) {
    // Best effort: the object is refused either way, and a lost connection took it along.
    let _ = tpm.run(&FlushContext {
        flush_handle: handle,
    });
}

/// TPM2_CreatePrimary through [`Tpm::create_primary_with`] (which checks the reported name
/// against the public area), and the public area checked against the template; an object that
/// fails either check is flushed.
fn create_primary(
    tpm: &Tpm,
    hierarchy: &Entity,
    authorization: &mut [SessionSlot<'_>],
    template: &Public,
    auth: &Auth,
) -> Result<(Entity, Public), KeyError> {
    const WHAT: &str = "creating a primary key (TPM2_CreatePrimary)";
    let (entity, public) = tpm
        .create_primary_with(hierarchy, authorization, template.clone(), auth)
        .map_err(|e| match e {
            crate::Error::NameMismatch {
                handle,
                expected,
                actual,
            } => KeyError::NameMismatch {
                what: WHAT,
                handle,
                computed: expected,
                reported: actual,
            },
            e => KeyError::tpm(WHAT)(e),
        })?;
    if let Some(field) = template_difference(template, &public) {
        flush(tpm, entity.handle);
        return Err(KeyError::TemplateMismatch { what: WHAT, field });
    }
    Ok((entity, public))
}

/// Which part of `created` differs from `template`, ignoring the unique field (which the TPM
/// fills in).
fn template_difference(template: &Public, created: &Public) -> Option<&'static str> {
    if created.name_alg != template.name_alg {
        return Some("nameAlg");
    }
    if created.object_attributes != template.object_attributes {
        return Some("object attributes");
    }
    if created.auth_policy != template.auth_policy {
        return Some("auth policy");
    }
    let same_parameters = match (&created.key, &template.key) {
        (PublicKey::Rsa { parameters: a, .. }, PublicKey::Rsa { parameters: b, .. }) => a == b,
        (PublicKey::Ecc { parameters: a, .. }, PublicKey::Ecc { parameters: b, .. }) => a == b,
        (
            PublicKey::KeyedHash { parameters: a, .. },
            PublicKey::KeyedHash { parameters: b, .. },
        ) => a == b,
        (
            PublicKey::SymCipher { parameters: a, .. },
            PublicKey::SymCipher { parameters: b, .. },
        ) => a == b,
        _ => false,
    };
    (!same_parameters).then_some("type or parameters")
}
