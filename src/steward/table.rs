//! The per-connection session table: where each of our sessions is (loaded, parked, lost,
//! saved or flushed by the caller), looked up by ticket, handle or host state.

use alloc::boxed::Box;
use alloc::vec::Vec;

use super::{StewardPolicy, StewardStats};
use crate::session::engine::SessionSlot;
use crate::session::SessionState;
use crate::wire::{Context, Handle, Nonce};

pub(crate) enum Place {
    Loaded,
    /// Boxed: a context blob is large and most entries are loaded.
    Parked(Box<Context>),
    /// Gone from the TPM (or replaced); its owner must not flush it.
    Lost,
    /// Context-saved by a ContextSave the caller ran on its handle (not by us): the TPM holds
    /// it saved, and a ContextLoad of that context through this connection makes it
    /// [`Place::Loaded`] again. Still ours to flush.
    SavedByCaller,
    /// Flushed by a FlushContext the caller ran on its handle through this connection: there
    /// is nothing left to flush.
    Flushed,
}

pub(crate) struct Entry {
    pub(crate) handle: Handle,
    pub(crate) ticket: u64,
    pub(crate) place: Place,
    pub(crate) last_use: u64,
    /// nonceTPM of the session's latest response: tells our session from another one that
    /// the TPM has since given the same handle.
    pub(crate) nonce_tpm: Nonce,
    pub(crate) guarded: bool,
    /// A response of a command it took part in was lost or failed verification: it stays
    /// where it is (loaded) until flushed, and is never parked, reloaded or re-gapped.
    pub(crate) desynchronized: bool,
}

/// What flushing one of our sessions takes (see [`super::take_for_flush`]).
pub(crate) enum FlushDecision {
    /// Send FlushContext.
    Send,
    /// Found lost: not ours to flush any more.
    Lost,
    /// A FlushContext of its handle through this connection already ended it.
    AlreadyFlushed,
    /// Not in this connection's table.
    Unknown,
}

/// The per-connection session table.
#[derive(Default)]
pub(crate) struct Steward {
    pub(super) policy: StewardPolicy,
    pub(super) entries: Vec<Entry>,
    pub(super) clock: u64,
    pub(super) next_ticket: u64,
    pub(super) newest_sequence: u64,
    /// Commands since the last blind re-gap (see [`StewardPolicy::regap_every`]).
    pub(super) since_regap: u64,
    pub(super) gap_max: Option<u64>,
    pub(super) stats: StewardStats,
    /// Sessions a command carried in its handle area that became desynchronized, for the
    /// client to record in the registry (see [`Steward::take_newly_desynchronized`]).
    pub(super) newly_desynchronized: Vec<Handle>,
}

impl Steward {
    pub(super) fn tick(&mut self) -> u64 {
        self.clock += 1;
        self.clock
    }

    pub(super) fn by_ticket(&self, ticket: u64) -> Option<usize> {
        self.entries.iter().position(|e| e.ticket == ticket)
    }

    /// The live entry for a handle (not a lost one the TPM has since reused).
    pub(super) fn by_handle(&self, handle: Handle) -> Option<usize> {
        self.entries
            .iter()
            .rposition(|e| e.handle == handle && !matches!(e.place, Place::Lost))
    }

    /// The entry of the session whose host state is at hand: same handle and same nonceTPM.
    pub(super) fn by_state(&self, handle: Handle, nonce_tpm: &Nonce) -> Option<usize> {
        self.entries
            .iter()
            .position(|e| e.handle == handle && e.nonce_tpm == *nonce_tpm)
    }

    /// Whether the session with this ticket is desynchronized.
    pub(crate) fn is_desynchronized(&self, ticket: u64) -> bool {
        self.by_ticket(ticket)
            .is_some_and(|i| self.entries[i].desynchronized)
    }

    /// The handle-area sessions that became desynchronized since the last call.
    pub(crate) fn take_newly_desynchronized(&mut self) -> Vec<Handle> {
        core::mem::take(&mut self.newly_desynchronized)
    }

    pub(super) fn loaded_count(&self) -> usize {
        self.entries
            .iter()
            .filter(|e| matches!(e.place, Place::Loaded))
            .count()
    }

    pub(super) fn mark_lost(&mut self, i: usize) {
        if let Some(e) = self.entries.get_mut(i) {
            if !matches!(e.place, Place::Lost) {
                e.place = Place::Lost;
                self.stats.lost += 1;
                tracing::warn!(session = %e.handle, "steward: session lost (never flushed by us)");
            }
        }
    }
}

/// The table entries a command uses: by ticket, with the slot index when the session sits
/// in the authorization area.
#[derive(Default)]
pub(super) struct Used {
    pub(super) tickets: [u64; 6],
    pub(super) slot: [Option<usize>; 6],
    pub(super) len: usize,
}

impl Used {
    pub(super) fn push(&mut self, ticket: u64, slot: Option<usize>) {
        if self.tickets[..self.len].contains(&ticket) || self.len == self.tickets.len() {
            return;
        }
        self.tickets[self.len] = ticket;
        self.slot[self.len] = slot;
        self.len += 1;
    }

    pub(super) fn contains(&self, ticket: u64) -> bool {
        self.tickets[..self.len].contains(&ticket)
    }

    pub(super) fn iter(&self) -> impl Iterator<Item = (u64, Option<usize>)> + '_ {
        self.tickets[..self.len]
            .iter()
            .copied()
            .zip(self.slot[..self.len].iter().copied())
    }
}

pub(super) fn slot_state<'s>(
    slots: &'s mut [SessionSlot<'_>],
    i: usize,
) -> Option<&'s mut SessionState> {
    match slots.get_mut(i) {
        Some(SessionSlot::Session { state, .. }) => Some(&mut **state),
        _ => None,
    }
}
