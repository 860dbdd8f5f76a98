//! Shared test fixtures: a private swtpm per test and a client connected to it.
#![allow(dead_code)]

use tpm2_wire::command::{CreatePrimary, Entity};
use tpm2_wire::sim::Swtpm;
use tpm2_wire::transport::Transport;
use tpm2_wire::wire::{
    Auth, Data, Handle, PcrSelectionList, Public, SensitiveCreate, Tpm2bPublic,
    Tpm2bSensitiveCreate,
};
use tpm2_wire::Tpm;

pub fn swtpm() -> (Swtpm, Tpm) {
    let sim = Swtpm::spawn().expect("swtpm must be installed (Debian package swtpm)");
    let transport: Box<dyn Transport> = Box::new(sim.transport().expect("connect to swtpm"));
    (sim, Tpm::new(transport))
}

pub fn pw(s: &str) -> Auth {
    Auth::new(s.as_bytes()).unwrap()
}

/// Creates a primary key under the owner hierarchy (empty owner auth) with `auth`.
pub fn create_primary(tpm: &Tpm, template: Public, auth: &Auth) -> (Entity, Public) {
    let owner_auth = Auth::empty();
    let rsp = tpm
        .execute(
            &CreatePrimary {
                primary_handle: Entity::owner(),
                in_sensitive: Tpm2bSensitiveCreate(SensitiveCreate {
                    user_auth: auth.clone(),
                    ..Default::default()
                }),
                in_public: Tpm2bPublic(template),
                outside_info: Data::empty(),
                creation_pcr: PcrSelectionList::default(),
            },
            &mut [tpm2_wire::session::engine::SessionSlot::Password(
                &owner_auth,
            )],
        )
        .expect("CreatePrimary");
    let public = rsp.out_public.0;
    let name = tpm2_wire::client::object_name(&public).unwrap();
    assert_eq!(name, rsp.name, "name computed from the public area");
    (Entity::new(rsp.object_handle, name), public)
}

pub fn flush(tpm: &Tpm, h: Handle) {
    tpm.run(&tpm2_wire::command::FlushContext { flush_handle: h })
        .expect("flush");
}
