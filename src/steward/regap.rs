//! Re-gapping: loading and saving parked sessions again before the TPM's context counter gets
//! too far ahead of them (the TPM refuses to save any context once the oldest one is more than
//! TPM_PT_CONTEXT_GAP_MAX behind), and after TPM_RC_CONTEXT_GAP.

use alloc::vec::Vec;

use super::parking::{park, park_lru, unpark};
use super::table::{Place, Used};
use super::Conn;
use crate::command::GetCapability;
use crate::error::{Error, Result};
use crate::wire::{Capability, PropertyTag, TpmRc};

pub(super) fn regap_threshold(cx: &mut Conn<'_>) -> u64 {
    if let Some(t) = cx.steward.policy.regap_threshold {
        return t;
    }
    let max = match cx.steward.gap_max {
        Some(m) => m,
        None => {
            let m = cx
                .link
                .exchange(
                    &GetCapability {
                        capability: Capability::TPM_PROPERTIES,
                        property: PropertyTag::CONTEXT_GAP_MAX.0,
                        property_count: 1,
                    },
                    &mut [],
                )
                .ok()
                .and_then(|r| r.capability_data.property(PropertyTag::CONTEXT_GAP_MAX))
                // The smallest gap the specification allows (8-bit context slots).
                .map_or(0xFF, u64::from);
            cx.steward.gap_max = Some(m);
            m
        }
    };
    max / 4 * 3
}

pub(super) fn proactive_regap(cx: &mut Conn<'_>) {
    if !cx.steward.policy.regap
        || !cx
            .steward
            .entries
            .iter()
            .any(|e| matches!(e.place, Place::Parked(_)))
    {
        return;
    }
    let threshold = regap_threshold(cx);
    loop {
        let newest = cx.steward.newest_sequence;
        let stale = cx.steward.entries.iter().position(|e| match &e.place {
            Place::Parked(c) => newest.saturating_sub(c.sequence) > threshold,
            _ => false,
        });
        match stale {
            Some(i) => {
                if regap_entry(cx, i, &Used::default()).is_err() {
                    return;
                }
            }
            None => return,
        }
    }
}

/// Re-gaps the oldest parked session every [`StewardPolicy::regap_every`] commands.
pub(super) fn blind_regap(cx: &mut Conn<'_>) {
    let st = &mut cx.steward;
    let Some(every) = st.policy.regap_every.filter(|_| st.policy.regap) else {
        return;
    };
    st.since_regap += 1;
    if st.since_regap < every {
        return;
    }
    st.since_regap = 0;
    // Every parked session, oldest first: refreshing only the oldest would leave each of N
    // parked sessions N intervals between refreshes, too long once N grows. Best effort: a
    // failure shows up, with its cause, when the session is next used.
    let mut parked: Vec<(u64, u64)> = st
        .entries
        .iter()
        .filter_map(|e| match &e.place {
            Place::Parked(c) => Some((c.sequence, e.ticket)),
            _ => None,
        })
        .collect();
    parked.sort_unstable();
    for (_, ticket) in parked {
        if let Some(i) = cx.steward.by_ticket(ticket) {
            let _ = regap_entry(cx, i, &Used::default());
        }
    }
}

/// Loads a parked session and saves it again: its context gets the newest sequence.
pub(super) fn regap_entry(cx: &mut Conn<'_>, i: usize, used: &Used) -> Result<()> {
    let ticket = cx.steward.entries[i].ticket;
    loop {
        let Some(i) = cx.steward.by_ticket(ticket) else {
            return Ok(());
        };
        match unpark(cx, i) {
            Ok(()) => break,
            Err(Error::Tpm { rc, command }) if rc.base_code() == TpmRc::SESSION_MEMORY => {
                let mut keep = Used::default();
                keep.push(ticket, None);
                for (t, s) in used.iter() {
                    keep.push(t, s);
                }
                if !park_lru(cx, &keep)? {
                    return Err(Error::Tpm { command, rc });
                }
            }
            Err(e) => return Err(e),
        }
    }
    let Some(i) = cx.steward.by_ticket(ticket) else {
        return Ok(());
    };
    park(cx, i)?;
    cx.steward.stats.regapped += 1;
    tracing::debug!(
        session = %cx.steward.entries[i].handle,
        "steward: re-gapped (context loaded and saved again)"
    );
    // Regapping is not idleness; do not count it as a parking for pressure.
    cx.steward.stats.parked -= 1;
    Ok(())
}

/// Reactive re-gap after TPM_RC_CONTEXT_GAP: the oldest parked session not in use.
pub(super) fn regap_oldest(cx: &mut Conn<'_>, used: &Used) -> Result<bool> {
    let oldest = cx
        .steward
        .entries
        .iter()
        .enumerate()
        .filter_map(|(i, e)| match &e.place {
            Place::Parked(c) if !used.contains(e.ticket) => Some((i, c.sequence)),
            _ => None,
        })
        .min_by_key(|(_, s)| *s)
        .map(|(i, _)| i);
    match oldest {
        Some(i) => match regap_entry(cx, i, used) {
            Ok(()) => Ok(true),
            Err(Error::SessionLost { .. }) => Ok(true),
            Err(e) => Err(e),
        },
        None => Ok(false),
    }
}
