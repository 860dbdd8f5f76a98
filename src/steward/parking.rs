//! Parking (ContextSave) and reloading (ContextLoad) our sessions: room for the command at
//! hand when the TPM or the resource manager runs out of loaded-session slots.

use alloc::boxed::Box;

use super::table::{Place, Used};
use super::{lost_error, Conn};
use crate::command::{ContextLoad, ContextSave, Entity};
use crate::error::{Error, Result};
use crate::session::engine::SessionSlot;
use crate::wire::TpmRc;

/// ContextSave of one entry: it leaves the loaded slots and keeps its handle. A
/// desynchronized session is never parked: its saved context would outlive the process as if
/// it were usable.
pub(super) fn park(cx: &mut Conn<'_>, i: usize) -> Result<()> {
    let handle = cx.steward.entries[i].handle;
    if cx.steward.entries[i].desynchronized {
        return Err(Error::Desynchronized { handle });
    }
    match cx.link.exchange(
        &ContextSave {
            save_handle: Entity::from_handle(handle),
        },
        &mut [],
    ) {
        Ok(rsp) => {
            let st = &mut cx.steward;
            st.newest_sequence = st.newest_sequence.max(rsp.context.sequence);
            st.entries[i].place = Place::Parked(Box::new(rsp.context));
            st.stats.parked += 1;
            tracing::debug!(session = %handle, "steward: parked (context saved)");
            Ok(())
        }
        Err(Error::Tpm { rc, .. }) if rc.is_handle_error() || rc.is_session_reference_error() => {
            cx.steward.mark_lost(i);
            Err(lost_error(
                handle,
                format!("ContextSave of it failed ({rc}): it no longer exists in the TPM"),
            ))
        }
        Err(e) => Err(e),
    }
}

/// ContextLoad of a parked entry. A context that does not load means the session is lost.
pub(super) fn unpark(cx: &mut Conn<'_>, i: usize) -> Result<()> {
    if cx.steward.entries[i].desynchronized {
        return Err(Error::Desynchronized {
            handle: cx.steward.entries[i].handle,
        });
    }
    let Place::Parked(context) = &cx.steward.entries[i].place else {
        return Ok(());
    };
    let context = (**context).clone();
    let handle = cx.steward.entries[i].handle;
    match cx.link.exchange(&ContextLoad { context }, &mut []) {
        Ok(rsp) if rsp.loaded_handle == handle => {
            cx.steward.entries[i].place = Place::Loaded;
            cx.steward.stats.reloaded += 1;
            tracing::debug!(session = %handle, "steward: reloaded (context loaded)");
            Ok(())
        }
        Ok(rsp) => {
            // A session context always loads at its own handle, so this answer is not the
            // TPM's. The handle it names is not flushed: it may be anyone's session.
            cx.steward.mark_lost(i);
            Err(lost_error(
                handle,
                format!("its context loaded as {}", rsp.loaded_handle),
            ))
        }
        Err(Error::Tpm { rc, .. }) if super::load_failure_means_lost(rc) => {
            cx.steward.mark_lost(i);
            Err(lost_error(
                handle,
                format!(
                    "its parked context no longer loads ({rc}): the session was flushed behind \
                     our back or the TPM was reset; no HMAC was sent with it"
                ),
            ))
        }
        Err(e) => Err(e),
    }
}

/// Loads every parked session the command uses. Out of loaded slots, it first parks our
/// idle sessions; if that is not enough, the sessions it loaded are parked again (so we do
/// not sit on slots while waiting) and the exhaustion is returned for the caller's backoff.
pub(super) fn load_used(
    cx: &mut Conn<'_>,
    used: &Used,
    slots: &mut [SessionSlot<'_>],
) -> Result<()> {
    for (ticket, slot) in used.iter() {
        let Some(i) = cx.steward.by_ticket(ticket) else {
            continue;
        };
        let now = cx.steward.tick();
        cx.steward.entries[i].last_use = now;
        if !matches!(cx.steward.entries[i].place, Place::Parked(_)) {
            continue;
        }
        while let Some(i) = cx.steward.by_ticket(ticket) {
            match unpark(cx, i) {
                Ok(()) => break,
                Err(Error::Tpm { rc, command }) if rc.base_code() == TpmRc::SESSION_MEMORY => {
                    if !park_lru(cx, used)? {
                        return Err(Error::Tpm { command, rc });
                    }
                }
                Err(e) => {
                    if let (Error::SessionLost { .. }, Some(s)) = (&e, slot) {
                        if let Some(state) = super::table::slot_state(slots, s) {
                            state.mark_closed();
                        }
                    }
                    return Err(e);
                }
            }
        }
    }
    Ok(())
}

/// Parks the least recently used loaded session that the current command does not use.
pub(super) fn park_lru(cx: &mut Conn<'_>, used: &Used) -> Result<bool> {
    let victim = cx
        .steward
        .entries
        .iter()
        .enumerate()
        .filter(|(_, e)| {
            matches!(e.place, Place::Loaded) && !e.desynchronized && !used.contains(e.ticket)
        })
        .min_by_key(|(_, e)| e.last_use)
        .map(|(i, _)| i);
    match victim {
        Some(i) => match park(cx, i) {
            Ok(()) => Ok(true),
            // It was gone anyway; its slot is free.
            Err(Error::SessionLost { .. }) => Ok(true),
            Err(e) => Err(e),
        },
        None => Ok(false),
    }
}

/// Proactive parking: keep at most `max` of our sessions loaded, counting what this
/// command is about to load or start.
pub(super) fn make_room(cx: &mut Conn<'_>, used: &Used, max: usize, fresh: bool) -> Result<()> {
    let parked_used = used
        .iter()
        .filter(|(t, _)| {
            cx.steward
                .by_ticket(*t)
                .is_some_and(|i| matches!(cx.steward.entries[i].place, Place::Parked(_)))
        })
        .count();
    let need = parked_used + usize::from(fresh);
    while cx.steward.loaded_count() + need > max.max(need) {
        if !park_lru(cx, used)? {
            break;
        }
    }
    Ok(())
}

pub(super) fn enforce_max_loaded(cx: &mut Conn<'_>) {
    let Some(max) = cx.steward.policy.max_loaded_sessions else {
        return;
    };
    while cx.steward.loaded_count() > max {
        match park_lru(cx, &Used::default()) {
            Ok(true) => {}
            _ => break,
        }
    }
}

/// Bookkeeping after an exchange (whatever its outcome): nonces, sessions the TPM ended,
/// guarded sessions back to their parking place.
pub(super) fn after_command(cx: &mut Conn<'_>, used: &Used, slots: &mut [SessionSlot<'_>]) {
    for (ticket, slot) in used.iter() {
        let Some(i) = cx.steward.by_ticket(ticket) else {
            continue;
        };
        if let Some(state) = slot.and_then(|s| super::table::slot_state(slots, s)) {
            if state.is_closed() {
                // continueSession was clear: the TPM flushed it.
                cx.steward.entries.remove(i);
                continue;
            }
            cx.steward.entries[i].nonce_tpm = state.nonce_tpm().clone();
            if state.is_desynchronized() {
                cx.steward.entries[i].desynchronized = true;
            }
        }
        let e = &cx.steward.entries[i];
        if e.guarded && !e.desynchronized && matches!(e.place, Place::Loaded) {
            let _ = park(cx, i);
        }
    }
}

/// Parks again what this command loaded, before waiting for other processes.
pub(super) fn release_used(cx: &mut Conn<'_>, used: &Used) {
    for (ticket, _) in used.iter() {
        if let Some(i) = cx.steward.by_ticket(ticket) {
            let e = &cx.steward.entries[i];
            if matches!(e.place, Place::Loaded) && !e.desynchronized {
                let _ = park(cx, i);
            }
        }
    }
}
