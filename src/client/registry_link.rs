//! Records the sessions a connection starts in the ownership registry ([`crate::registry`]),
//! so that leftover sessions can be attributed to their (possibly dead) owners. Recording is
//! best effort: a failure never fails the session, but is counted and kept for
//! [`Tpm::registry_error`].

use super::Tpm;
use crate::crypto::HashAlg;
use crate::registry::{Registry, SessionRecord};
use crate::wire::{Handle, SessionType};

/// Whether and where a connection records its sessions' owners.
pub(crate) enum Setting {
    /// Not chosen yet: the default directory is opened on first use.
    Default,
    Set(Option<Registry>),
}

/// The registry state of one connection, kept in its core (shared by its clones).
pub(crate) struct RegistryLink {
    setting: Setting,
    failures: u64,
    last_error: Option<String>,
}

impl Default for RegistryLink {
    fn default() -> Self {
        RegistryLink {
            setting: Setting::Default,
            failures: 0,
            last_error: None,
        }
    }
}

fn with_entry<T>(tpm: &Tpm, f: impl FnOnce(&mut RegistryLink) -> T) -> T {
    f(&mut tpm.lock().registry)
}

pub(crate) fn set(tpm: &Tpm, registry: Option<Registry>) {
    with_entry(tpm, |e| e.setting = Setting::Set(registry));
}

/// The registry in use for `tpm` (opening the default one on first use), or `None` if
/// disabled or the default one cannot be opened (that failure is counted once).
pub(crate) fn registry(tpm: &Tpm) -> Option<Registry> {
    with_entry(tpm, |e| {
        if let Setting::Default = e.setting {
            let opened = match Registry::open(None) {
                Ok(r) => Some(r),
                // Turned off on purpose: not a failure.
                Err(crate::registry::RegistryError::Disabled) => None,
                Err(err) => {
                    e.failures += 1;
                    e.last_error = Some(err.to_string());
                    None
                }
            };
            e.setting = Setting::Set(opened);
        }
        match &e.setting {
            Setting::Set(r) => r.clone(),
            Setting::Default => None,
        }
    })
}

pub(crate) fn status(tpm: &Tpm) -> (u64, Option<String>) {
    with_entry(tpm, |e| (e.failures, e.last_error.clone()))
}

fn failed(tpm: &Tpm, err: crate::registry::RegistryError) {
    with_entry(tpm, |e| {
        e.failures += 1;
        e.last_error = Some(err.to_string());
    });
}

fn run<T>(tpm: &Tpm, f: impl FnOnce(&Registry, &str) -> Result<T, crate::registry::RegistryError>) {
    let Some(reg) = registry(tpm) else { return };
    if let Err(err) = f(&reg, &tpm.describe()) {
        failed(tpm, err);
    }
}

pub(crate) fn started(tpm: &Tpm, handle: Handle, session_type: SessionType, hash: HashAlg) {
    run(tpm, |reg, desc| {
        reg.record(&SessionRecord::new_owned(
            desc.to_string(),
            handle,
            session_type,
            hash,
        ))
    });
}

pub(crate) fn ended(tpm: &Tpm, handle: Handle) {
    run(tpm, |reg, desc| reg.remove(desc, handle));
}

pub(crate) fn saved_to_file(tpm: &Tpm, handle: Handle, path: &std::path::Path) {
    run(tpm, |reg, desc| reg.set_file(desc, handle, path));
}

pub(crate) fn desynchronized(tpm: &Tpm, handle: Handle) {
    run(tpm, |reg, desc| reg.mark_desynchronized(desc, handle));
}

pub(crate) fn loaded(tpm: &Tpm, handle: Handle) {
    run(tpm, |reg, desc| reg.take_ownership(desc, handle));
}

impl Tpm {
    /// Sets the session ownership registry this connection records its sessions in (shared
    /// by its clones); `None` disables recording. Without a call, the default registry
    /// ([`crate::registry::default_dir`]) is used.
    pub fn set_registry(&self, registry: Option<crate::registry::Registry>) {
        set(self, registry)
    }

    /// [`Tpm::set_registry`] as a builder step: `Tpm::open(None)?.with_registry(None)` runs
    /// without recording session owners (stewardship of this connection's own sessions is
    /// unaffected; other processes just cannot tell whose they are). The environment can do
    /// the same for a whole process: `TPM2_WIRE_REGISTRY=off`.
    pub fn with_registry(self, registry: Option<crate::registry::Registry>) -> Self {
        set(&self, registry);
        self
    }

    /// The registry in use, if any (opens the default one on first use).
    pub fn registry(&self) -> Option<crate::registry::Registry> {
        registry(self)
    }

    /// How many registry updates failed on this connection, and the last failure. Sessions
    /// start and flush regardless; a session whose record failed is invisible to
    /// `tpm2-wire session flush --orphans`.
    pub fn registry_error(&self) -> (u64, Option<String>) {
        status(self)
    }
}
