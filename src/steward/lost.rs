//! Telling which of our sessions a command uses, and which are gone: refused before anything
//! is sent when already known lost or desynchronized, recognised from the TPM's "no such
//! session" answers, and followed through the caller's own FlushContext, ContextSave and
//! ContextLoad.

use alloc::format;
use alloc::string::ToString;

use super::regap::proactive_regap;
use super::table::{slot_state, Place, Used};
use super::{lost_error, Conn};
use crate::command::{ContextEffect, Handles};
use crate::error::{Error, Result};
use crate::session::engine::SessionSlot;
use crate::wire::{Handle, ResponseCode, TpmRc};

/// Finds the table entries the command uses; a session already known lost or desynchronized
/// is refused here, before anything is loaded or sent for it.
pub(super) fn identify(
    cx: &mut Conn<'_>,
    effect: ContextEffect,
    handles: Handles<'_>,
    slots: &mut [SessionSlot<'_>],
) -> Result<Used> {
    let mut used = Used::default();
    let st = &mut cx.steward;
    for i in 0..slots.len() {
        if let Some(state) = slot_state(slots, i).filter(|s| s.is_desynchronized()) {
            let handle = state.handle();
            if let Some(e) = st.by_handle(handle) {
                st.entries[e].desynchronized = true;
            }
            return Err(Error::Desynchronized { handle });
        }
    }
    if st.entries.is_empty() {
        return Ok(used);
    }
    for i in 0..slots.len() {
        let Some(state) = slot_state(slots, i) else {
            continue;
        };
        let Some(e) = st.by_state(state.handle(), state.nonce_tpm()) else {
            continue;
        };
        if st.entries[e].desynchronized {
            // Marked through its handle (a policy command whose response was lost): the
            // state learns it here, before any HMAC is computed from it.
            state.mark_desynchronized();
            return Err(Error::Desynchronized {
                handle: state.handle(),
            });
        }
        match st.entries[e].place {
            Place::Lost => {
                state.mark_closed();
                return Err(lost_error(
                    state.handle(),
                    "it was found lost earlier (flushed behind our back or the TPM was reset)"
                        .into(),
                ));
            }
            Place::Flushed => {
                state.mark_closed();
                return Err(lost_error(
                    state.handle(),
                    "a FlushContext of its handle ended it".into(),
                ));
            }
            Place::SavedByCaller => {
                return Err(Error::SavedByCaller {
                    handle: state.handle(),
                })
            }
            Place::Loaded | Place::Parked(_) => {}
        }
        used.push(st.entries[e].ticket, Some(i));
    }
    for h in handles.iter() {
        if !h.handle.is_session() {
            continue;
        }
        if let Some(e) = st.by_handle(h.handle) {
            // Only a FlushContext may name a desynchronized session: a ContextSave would hand
            // out a context that looks usable, a policy command would run on a session whose
            // host state no longer matches the TPM's.
            if st.entries[e].desynchronized && effect != ContextEffect::Flushes(h.handle) {
                return Err(Error::Desynchronized { handle: h.handle });
            }
            used.push(st.entries[e].ticket, None);
        }
    }
    Ok(used)
}

/// A command's outcome is unknown (its response was lost, malformed, or an error that cannot
/// be trusted): the sessions it carried in its handle area are desynchronized, like those of
/// its authorization area. A policy command that ran in the TPM may have changed what the
/// session's next authorization must prove (PolicyAuthValue, PolicyPassword), and the host
/// cannot know.
pub(super) fn desynchronize_handles(cx: &mut Conn<'_>, used: &Used) {
    for (ticket, slot) in used.iter() {
        if slot.is_some() {
            continue;
        }
        if let Some(i) = cx.steward.by_ticket(ticket) {
            let e = &mut cx.steward.entries[i];
            if !e.desynchronized {
                e.desynchronized = true;
                tracing::warn!(
                    session = %e.handle,
                    "session desynchronized: it will only be flushed"
                );
                cx.steward.newly_desynchronized.push(e.handle);
            }
        }
    }
}

/// A "no such session" answer about one of our sessions → [`Error::SessionLost`].
pub(super) fn lost_by_response(
    cx: &mut Conn<'_>,
    rc: ResponseCode,
    used: &Used,
    handles: Handles<'_>,
    slots: &mut [SessionSlot<'_>],
) -> Option<Error> {
    // Observed on swtpm for a session that no longer exists: TPM_RC_REFERENCE_S0 in the
    // authorization area, TPM_RC_REFERENCE_H0 in the handle area. TPM_RC_HANDLE naming a
    // session or handle is taken the same way; TPM_RC_VALUE is not (it also means a bad
    // parameter of a live session).
    let missing = rc.base_code() == TpmRc::HANDLE;
    // Which of our sessions the TPM names: a slot of the authorization area, or a handle.
    let (slot, handle) = if rc.is_session_reference_error() {
        (Some((rc.base() - TpmRc::REFERENCE_S0.0) as usize), None)
    } else if let (Some(n), true) = (rc.session(), missing) {
        (Some(usize::from(n).checked_sub(1)?), None)
    } else if rc.is_warning()
        && (TpmRc::REFERENCE_H0.0..=TpmRc::REFERENCE_H6.0).contains(&rc.base())
    {
        (None, Some((rc.base() - TpmRc::REFERENCE_H0.0) as usize))
    } else if let (Some(n), true) = (rc.handle(), missing) {
        (None, Some(usize::from(n).checked_sub(1)?))
    } else {
        return None;
    };
    let (ticket, handle, slot) = if let Some(s) = slot {
        let (ticket, _) = used.iter().find(|(_, sl)| *sl == Some(s))?;
        let state = slot_state(slots, s)?;
        state.mark_closed();
        (ticket, state.handle(), Some(s))
    } else {
        let h = handles.iter().nth(handle?)?.handle;
        if !h.is_session() {
            return None;
        }
        let i = cx.steward.by_handle(h)?;
        (cx.steward.entries[i].ticket, h, None)
    };
    let i = cx.steward.by_ticket(ticket)?;
    cx.steward.mark_lost(i);
    let where_ = match slot {
        Some(s) => format!("authorization slot {}", s + 1),
        None => "handle area".to_string(),
    };
    Some(lost_error(
        handle,
        format!(
            "the TPM answered {rc} ({where_}): no such session any more (flushed behind our \
             back, TPM reset, or resource manager connection closed); no HMAC was checked, so \
             no dictionary-attack count"
        ),
    ))
}

/// A FlushContext of `handle` ran (or the TPM said there was no such handle to flush): the
/// session's owner must not flush it again.
pub(super) fn forget_flushed(cx: &mut Conn<'_>, handle: Option<Handle>) {
    if let Some(i) = handle.and_then(|h| cx.steward.by_handle(h)) {
        cx.steward.entries[i].place = Place::Flushed;
    }
}

/// After a successful command: sessions flushed or context-saved by the caller's own commands
/// change place (their owners still settle them); a ContextLoad of a session the caller saved
/// makes it loaded again; saved session contexts move the newest sequence, which may call for
/// a re-gap.
pub(super) fn observe_success(
    cx: &mut Conn<'_>,
    effect: ContextEffect,
    saved_sequence: Option<u64>,
) {
    match effect {
        ContextEffect::Flushes(h) => forget_flushed(cx, Some(h)),
        ContextEffect::Saves(h) if h.is_session() => {
            // The caller holds the context now; the session is still ours to flush.
            if let Some(i) = cx.steward.by_handle(h) {
                cx.steward.entries[i].place = Place::SavedByCaller;
            }
            if let Some(seq) = saved_sequence {
                let st = &mut *cx.steward;
                st.newest_sequence = st.newest_sequence.max(seq);
            }
            proactive_regap(cx);
        }
        ContextEffect::Loads(h) => {
            if let Some(i) = cx.steward.by_handle(h) {
                if matches!(cx.steward.entries[i].place, Place::SavedByCaller) {
                    cx.steward.entries[i].place = Place::Loaded;
                }
            }
        }
        _ => {}
    }
}
