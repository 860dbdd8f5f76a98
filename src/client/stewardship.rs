//! The public face of session stewardship (see [`crate::steward`]): its policy and counters,
//! starting several sessions all or none, parking and guarding a session, re-gapping a saved
//! one. The steward decides; these methods lock the connection and hand it the facts.

use crate::command::FlushContext;
use crate::error::{Error, Result};
use crate::steward::{
    load_failure_means_lost, lost_error, FlushDecision, StewardPolicy, StewardStats, Waiting,
};
use crate::wire::{Context, Handle, Nonce};

use super::{SavedSession, Session, SessionOptions, Tpm};

impl Tpm {
    /// Sets how the steward keeps this connection's sessions alive when the TPM runs out of
    /// session slots.
    pub fn set_steward_policy(&self, policy: StewardPolicy) {
        self.lock().steward.set_policy(policy);
    }

    /// The current steward policy.
    pub fn steward_policy(&self) -> StewardPolicy {
        self.lock().steward.policy()
    }

    /// Counters of what the steward did on this connection (sessions parked, reloaded,
    /// re-gapped and lost; backoff waits).
    pub fn steward_stats(&self) -> StewardStats {
        self.lock().steward.stats()
    }

    /// How many of this connection's sessions are loaded and how many parked.
    pub fn session_table(&self) -> (usize, usize) {
        self.lock().steward.counts()
    }

    /// Registers a session a [`Session`] now owns; returns its ticket.
    pub(crate) fn steward_register(
        &self,
        handle: Handle,
        nonce_tpm: &Nonce,
        desynchronized: bool,
        adopted: bool,
    ) -> u64 {
        self.lock()
            .conn()
            .register(handle, nonce_tpm, desynchronized, adopted)
    }

    /// Whether the steward knows the session with this ticket as desynchronized.
    pub(crate) fn steward_is_desynchronized(&self, ticket: u64) -> bool {
        self.lock().steward.is_desynchronized(ticket)
    }

    /// A [`Session`] is being flushed: whether to send FlushContext (see
    /// [`FlushDecision`]).
    pub(crate) fn steward_take_for_flush(&self, ticket: u64) -> FlushDecision {
        self.lock().steward.take_for_flush(ticket)
    }

    /// The [`Session`] gives up ownership but leaves the session in the TPM.
    pub(crate) fn steward_release(&self, ticket: u64) {
        self.lock().conn().release(ticket)
    }

    /// For [`Session::save`]: the parked context, if the session is parked.
    pub(crate) fn steward_take_parked(
        &self,
        handle: Handle,
        ticket: u64,
    ) -> Result<Option<Context>> {
        self.lock().steward.take_parked(handle, ticket)
    }

    /// Starts several sessions, all or none: when the TPM runs out of room while starting
    /// the k-th, the ones already started are flushed before backing off and trying again,
    /// so processes that each hold some cannot deadlock waiting for each other.
    pub fn start_sessions(&self, options: &[SessionOptions]) -> Result<Vec<Session>> {
        let policy = self.steward_policy();
        let mut delay = policy.initial_delay;
        let mut attempt = 1;
        loop {
            let mut started = Vec::with_capacity(options.len());
            let mut failure = None;
            for o in options {
                // Holding the sessions started so far: never wait for others while holding them.
                match Session::start_waiting(self, o, Waiting::OnlyForLoadedSlot) {
                    Ok(s) => started.push(s),
                    Err(e) => {
                        failure = Some(e);
                        break;
                    }
                }
            }
            let Some(err) = failure else {
                return Ok(started);
            };
            // Flushes what we hold before waiting.
            drop(started);
            let exhausted = err
                .response_code()
                .is_some_and(|rc| rc.is_session_exhaustion());
            if !exhausted || attempt >= policy.max_attempts {
                return Err(err);
            }
            attempt += 1;
            self.lock().steward.note_start_retry();
            tracing::debug!(
                attempt,
                sessions = options.len(),
                "steward: gave back the sessions started so far, waiting to start all again"
            );
            std::thread::sleep(crate::steward::jitter(delay));
            delay = (delay * 2).min(policy.max_delay);
        }
    }

    /// Re-gaps a session context held outside the table (load it and save it again), so
    /// the TPM's context counter can move on without refusing ContextSave with
    /// TPM_RC_CONTEXT_GAP. A context that no longer loads gives [`Error::SessionLost`].
    pub fn regap(&self, saved: &mut SavedSession) -> Result<()> {
        let handle = saved.state.handle();
        match self.context_load(&saved.context) {
            Ok(h) if h == handle => {}
            Ok(h) => {
                let _ = self.run(&FlushContext { flush_handle: h });
                return Err(lost_error(handle, format!("its context loaded as {h}")));
            }
            Err(Error::Tpm { rc, .. }) if load_failure_means_lost(rc) => {
                return Err(lost_error(
                    handle,
                    format!("its saved context no longer loads ({rc})"),
                ))
            }
            Err(e) => return Err(e),
        }
        saved.context = self.context_save(handle)?;
        self.lock().steward.note_regap();
        Ok(())
    }
}

impl Session {
    /// Context-saves the session out of the TPM's loaded slots; it is loaded again
    /// transparently when next used.
    pub fn park(&mut self) -> Result<()> {
        let r = self
            .tpm
            .lock()
            .conn()
            .park_session(self.handle(), self.ticket);
        if let Err(Error::SessionLost { .. }) = r {
            self.state.mark_closed();
        }
        r
    }

    /// Whether the session is parked (context-saved by the steward) right now.
    pub fn is_parked(&self) -> bool {
        self.tpm.lock().steward.is_parked(self.ticket)
    }

    /// Guards the session: parked between commands and reloaded before each use, so a
    /// stranger's session that got its handle can never receive our HMAC. Costs a
    /// ContextLoad and a ContextSave per use.
    pub fn set_guarded(&mut self, guarded: bool) -> Result<()> {
        let r = self
            .tpm
            .lock()
            .conn()
            .set_guarded(self.handle(), self.ticket, guarded);
        if let Err(Error::SessionLost { .. }) = r {
            self.state.mark_closed();
        }
        r
    }
}
