//! Defining and removing NV indices under the owner hierarchy. The test fixtures and the
//! kernel resource-manager guest include this file too.

use tpm2_wire::command::{Entity, NvDefineSpace, NvUndefineSpace};
use tpm2_wire::session::engine::SessionSlot;
use tpm2_wire::wire::{Auth, NvPublic, Tpm2bNvPublic};
use tpm2_wire::Tpm;

/// NV_DefineSpace of `public` with the index's own auth value `auth`; `owner` authorizes the
/// owner hierarchy (its password, or a session that may also encrypt `auth` on the way).
pub fn define_space(
    tpm: &Tpm,
    public: NvPublic,
    auth: &Auth,
    owner: SessionSlot<'_>,
) -> tpm2_wire::Result<()> {
    let define = NvDefineSpace {
        auth_handle: Entity::owner(),
        auth: auth.clone(),
        public_info: Tpm2bNvPublic(public),
    };
    tpm.execute(&define, &mut [owner]).map(|_| ())
}

/// NV_UndefineSpace of `index`, authorized by the owner hierarchy's password, which must be
/// empty (as on a fresh TPM).
pub fn undefine_space(tpm: &Tpm, index: &Entity) -> tpm2_wire::Result<()> {
    let owner = Auth::empty();
    let undefine = NvUndefineSpace {
        auth_handle: Entity::owner(),
        nv_index: index.clone(),
    };
    tpm.execute(&undefine, &mut [SessionSlot::Password(&owner)])
        .map(|_| ())
}
