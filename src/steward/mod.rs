//! Session stewardship: keeping the sessions a connection owns alive and honest while the TPM
//! runs out of room, other processes come and go, and the context counter moves on.
//!
//! Every [`Session`](crate::Session) registers in its connection's table (handle → loaded | parked | lost,
//! least recently used first). Around each command the steward
//!
//! * reloads (ContextLoad) the parked sessions the command uses, before any HMAC is computed;
//!   a context that no longer loads means the session is gone: [`Error::SessionLost`];
//! * parks (ContextSave) its own idle sessions when the TPM has no loaded-session slot left
//!   (TPM_RC_SESSION_MEMORY), or proactively past [`StewardPolicy::max_loaded_sessions`]
//!   (3 for the kernel resource manager, which fails a 4th session of one file with ENOMEM);
//! * waits with bounded, jittered backoff when every session handle or object slot is taken
//!   (TPM_RC_SESSION_HANDLES, TPM_RC_OBJECT_MEMORY, or SESSION_MEMORY with nothing of ours to
//!   park), releasing the connection while it sleeps;
//! * turns "no such session" answers (TPM_RC_REFERENCE_Sn / _Hn, or TPM_RC_HANDLE naming a
//!   session) into [`Error::SessionLost`] and marks the session closed, so it is not
//!   mistaken for a wrong password and never flushed (its handle may be someone else's now);
//! * re-gaps parked sessions (load and save again) before the TPM's context counter gets too
//!   far ahead of them, and after TPM_RC_CONTEXT_GAP.
//!
//! A *guarded* session is parked between commands and reloaded before each use. A session
//! flushed behind our back whose handle went to another process's new session then fails
//! at the reload, before our HMAC can reach the stranger's session (where a mismatch would
//! count against dictionary-attack lockout). It costs two extra commands (ContextLoad and
//! ContextSave) per use.
//!
//! What the steward cannot do: re-gap sessions other processes hold (their old contexts can
//! make *our* ContextSave fail with TPM_RC_CONTEXT_GAP; that is reported as is), or tell a
//! reused handle from ours for an unguarded session that is loaded.
//!
//! The steward is a policy the client consults: it runs one command's attempts on a
//! locked connection and says when to back off; the client owns the lock, the sleeping, and
//! every public method.

mod lost;
mod parking;
mod regap;
mod table;

use alloc::string::String;
use std::time::Duration;

pub(crate) use table::{FlushDecision, Steward};

use crate::command::{Command, ContextEffect, Response};
use crate::error::{Error, Result};
use crate::link::{Failure, Link};
use crate::session::engine::SessionSlot;
use crate::wire::{Context, Handle, Nonce, ResponseCode, TpmRc};
#[cfg(test)]
use table::Used;
use table::{Entry, Place};

/// How the steward keeps sessions alive. Set with [`Tpm::set_steward_policy`](crate::Tpm::set_steward_policy).
#[derive(Clone, Copy, Debug)]
pub struct StewardPolicy {
    /// Attempts of one command while the TPM reports exhaustion (first try included).
    pub max_attempts: u32,
    /// First backoff delay; doubled after each wait up to `max_delay`, each wait jittered
    /// to 50–150 % so competing processes do not retry in lockstep.
    pub initial_delay: Duration,
    /// Longest single backoff delay.
    pub max_delay: Duration,
    /// How many of our sessions may stay loaded between commands. `None`: only react to
    /// TPM_RC_SESSION_MEMORY. `Some(3)` suits the kernel resource manager (/dev/tpmrm0);
    /// `Some(0)` parks every session after each use (many processes sharing a TPM).
    pub max_loaded_sessions: Option<usize>,
    /// Guard every session started or adopted from now on (see the module documentation).
    pub guarded: bool,
    /// Re-gap parked sessions (proactively and on TPM_RC_CONTEXT_GAP).
    pub regap: bool,
    /// Re-gap a parked session once the newest context sequence seen is this far ahead of
    /// it. `None`: three quarters of TPM_PT_CONTEXT_GAP_MAX (read once from the TPM).
    pub regap_threshold: Option<u64>,
    /// Also re-gap the oldest parked session after this many commands, whatever sequence
    /// numbers we have seen. Behind a resource manager (which context-saves sessions after
    /// every command) and with other processes at work, the TPM's context counter moves
    /// without our seeing it; this bounds how far it can get ahead unnoticed, at the cost of
    /// two commands per interval. `None`: only what we see.
    pub regap_every: Option<u64>,
}

impl Default for StewardPolicy {
    fn default() -> Self {
        StewardPolicy {
            max_attempts: 12,
            initial_delay: Duration::from_millis(10),
            max_delay: Duration::from_millis(500),
            max_loaded_sessions: None,
            guarded: false,
            regap: true,
            regap_threshold: None,
            regap_every: Some(REGAP_EVERY),
        }
    }
}

/// Default [`StewardPolicy::regap_every`]: even if every command made the resource manager
/// save three sessions, a parked context would be refreshed long before the smallest gap a
/// TPM reports (0xFFFF for libtpms) runs out. Costs 2 commands per 4096.
const REGAP_EVERY: u64 = 4096;

/// What the steward has done on a connection so far.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct StewardStats {
    /// ContextSaves of idle sessions to free a loaded slot (or because they are guarded).
    pub parked: u64,
    /// ContextLoads of parked sessions before a command used them.
    pub reloaded: u64,
    /// Sessions re-gapped (loaded and saved again).
    pub regapped: u64,
    /// Backoff waits on exhaustion.
    pub waits: u64,
    /// Times [`Tpm::start_sessions`](crate::Tpm::start_sessions) gave back what it had started and tried again.
    pub start_retries: u64,
    /// Sessions found lost.
    pub lost: u64,
}

/// One connection as the steward works on it: its session table and the pipeline it sends
/// its own ContextSave/ContextLoad through.
pub(crate) struct Conn<'a> {
    pub(crate) steward: &'a mut Steward,
    pub(crate) link: &'a mut Link,
}

/// Whether a command may wait for other processes when the TPM is out of room.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Waiting {
    /// Wait (with backoff) for any exhaustion.
    Allowed,
    /// The caller holds sessions it will give back before waiting itself (starting several
    /// sessions, all or none): come back at once, except for a loaded-session slot, which is
    /// safe to wait for since by then we hold none loaded (hold-and-wait otherwise).
    OnlyForLoadedSlot,
}

/// The attempts of one command so far, kept across the waits between them.
pub(crate) struct Attempts {
    attempt: u32,
    delay: Duration,
}

impl Attempts {
    pub(crate) fn new(steward: &Steward) -> Self {
        Attempts {
            attempt: 1,
            delay: steward.policy.initial_delay,
        }
    }
}

/// What [`run`] decided.
pub(crate) enum Step<R> {
    /// The command's outcome.
    Done(Result<R>),
    /// The TPM is out of room and nothing of ours can make it: release the connection, sleep
    /// this long, and call [`run`] again.
    Wait(Duration),
}

/// Runs one command under stewardship until it is done or must wait for other processes.
pub(crate) fn run<C: Command>(
    cx: &mut Conn<'_>,
    cmd: &C,
    slots: &mut [SessionSlot<'_>],
    attempts: &mut Attempts,
    waiting: Waiting,
) -> Step<C::Response> {
    match run_until_wait(cx, cmd, slots, attempts, waiting) {
        Ok(Some(rsp)) => Step::Done(Ok(rsp)),
        Ok(None) => {
            let policy = cx.steward.policy;
            let delay = attempts.delay;
            attempts.delay = (delay * 2).min(policy.max_delay);
            Step::Wait(jitter(delay))
        }
        Err(e) => Step::Done(Err(e)),
    }
}

/// `Ok(None)`: wait and try again.
fn run_until_wait<C: Command>(
    cx: &mut Conn<'_>,
    cmd: &C,
    slots: &mut [SessionSlot<'_>],
    attempts: &mut Attempts,
    waiting: Waiting,
) -> Result<Option<C::Response>> {
    let code = C::CODE;
    let effect = cmd.context_effect();
    // Commands that take a new loaded-session slot.
    let needs_fresh_slot = match effect {
        ContextEffect::StartsSession => true,
        ContextEffect::Loads(h) => h.is_session(),
        _ => false,
    };
    loop {
        let used = lost::identify(cx, effect, cmd.handles(), slots)?;
        let policy = cx.steward.policy;
        if let Some(max) = policy.max_loaded_sessions {
            parking::make_room(cx, &used, max, needs_fresh_slot)?;
        }
        let outcome = match parking::load_used(cx, &used, slots) {
            Ok(()) => {
                let r = cx.link.exchange_outcome(cmd, slots);
                if let Err(Failure::Unverified(_)) = &r {
                    // The link desynchronized the authorization sessions; those the command
                    // carried as handles (a policy session in a policy command) are ours to mark.
                    lost::desynchronize_handles(cx, &used);
                }
                parking::after_command(cx, &used, slots);
                match r {
                    Ok(rsp) => Ok(rsp),
                    // Outcome unknown: nothing to retry or recognise; the sessions are marked.
                    Err(Failure::Unverified(e)) => return Err(e),
                    Err(Failure::Settled(e)) => Err(e),
                }
            }
            Err(e) => Err(e),
        };
        let rc = match outcome {
            Ok(rsp) => {
                let sequence = rsp.saved_context().map(|c| c.sequence);
                lost::observe_success(cx, effect, sequence);
                parking::enforce_max_loaded(cx);
                // Our own parks move the newest sequence we know of too.
                regap::proactive_regap(cx);
                regap::blind_regap(cx);
                return Ok(Some(rsp));
            }
            Err(Error::Tpm { rc, command }) => {
                if let Some(e) = lost::lost_by_response(cx, rc, &used, cmd.handles(), slots) {
                    return Err(e);
                }
                if let ContextEffect::Flushes(h) = effect {
                    lost::forget_flushed(cx, Some(h));
                }
                if attempts.attempt >= policy.max_attempts {
                    return Err(Error::Tpm { command, rc });
                }
                rc
            }
            Err(e) => {
                if is_broken_connection(&e) {
                    // The resource manager dropped this file's state (the transport reopens
                    // the device): what it kept loaded for us is gone, parked contexts live.
                    for i in 0..cx.steward.entries.len() {
                        if matches!(cx.steward.entries[i].place, Place::Loaded) {
                            cx.steward.mark_lost(i);
                        }
                    }
                }
                return Err(e);
            }
        };
        attempts.attempt += 1;
        let base = rc.base_code();
        if base == TpmRc::SESSION_MEMORY && parking::park_lru(cx, &used)? {
            // Room made from our own idle sessions: no need to wait for anyone.
            tracing::debug!(rc = %rc, attempt = attempts.attempt, "steward: retrying after parking an idle session");
            continue;
        }
        if rc.is_context_gap() && policy.regap && regap::regap_oldest(cx, &used)? {
            tracing::debug!(rc = %rc, attempt = attempts.attempt, "steward: retrying after a re-gap");
            continue;
        }
        // Waiting for a loaded slot is safe even while starting several sessions: by now we
        // hold none (ours were parked above, the command's own are parked below). Waiting for
        // a session handle or object slot while holding sessions is not (hold-and-wait).
        if !rc.is_session_exhaustion()
            || (waiting == Waiting::OnlyForLoadedSlot && base != TpmRc::SESSION_MEMORY)
        {
            return Err(Error::Tpm { command: code, rc });
        }
        // Nothing of ours to give: wait for others, without holding our sessions loaded or
        // the connection locked.
        parking::release_used(cx, &used);
        cx.steward.stats.waits += 1;
        tracing::debug!(
            rc = %rc,
            attempt = attempts.attempt,
            delay_ms = attempts.delay.as_millis() as u64,
            "steward: TPM out of room, waiting for other processes"
        );
        return Ok(None);
    }
}

/// EFAULT from the kernel resource manager: it could not save or load a context for this
/// file (e.g. TPM_RC_CONTEXT_GAP on its own save) and has thrown away the file's sessions.
fn is_broken_connection(e: &Error) -> bool {
    matches!(
        e,
        Error::Transport(crate::transport::TransportError::Device { errno, .. })
            if *errno == libc::EFAULT
    )
}

pub(crate) fn jitter(d: Duration) -> Duration {
    let mut b = [0u8; 1];
    let r = if crate::crypto::random(&mut b).is_ok() {
        b[0] as u32
    } else {
        128
    };
    // 50 % .. 150 %
    d / 2 + d * r / 255
}

pub(crate) fn lost_error(handle: Handle, reason: String) -> Error {
    Error::SessionLost { handle, reason }
}

/// Errors a ContextLoad of a session gives when the session no longer exists, or the context
/// is not the session's current one. None of them involves an HMAC check, so none costs a
/// dictionary-attack count.
pub(crate) fn load_failure_means_lost(rc: ResponseCode) -> bool {
    rc.is_handle_error()
        || rc.is_session_reference_error()
        || matches!(
            rc.base_code(),
            TpmRc::INTEGRITY | TpmRc::VALUE | TpmRc::SIZE | TpmRc::HANDLE
        )
}

impl Steward {
    /// Keeps at most `n` sessions loaded (set from the transport's per-connection limit).
    pub(crate) fn set_max_loaded(&mut self, n: usize) {
        self.policy.max_loaded_sessions = Some(n);
    }

    pub(crate) fn policy(&self) -> StewardPolicy {
        self.policy
    }

    pub(crate) fn set_policy(&mut self, policy: StewardPolicy) {
        self.policy = policy;
    }

    pub(crate) fn stats(&self) -> StewardStats {
        self.stats
    }

    /// Starting several sessions gave back what it had and waits to start them all again.
    pub(crate) fn note_start_retry(&mut self) {
        self.stats.waits += 1;
        self.stats.start_retries += 1;
    }

    /// A context held outside the table was re-gapped.
    pub(crate) fn note_regap(&mut self) {
        self.stats.regapped += 1;
    }

    /// How many of the connection's sessions are loaded and how many parked.
    pub(crate) fn counts(&self) -> (usize, usize) {
        let parked = self
            .entries
            .iter()
            .filter(|e| matches!(e.place, Place::Parked(_)))
            .count();
        (self.loaded_count(), parked)
    }

    /// Whether the session with this ticket is parked right now.
    pub(crate) fn is_parked(&self, ticket: u64) -> bool {
        self.by_ticket(ticket)
            .is_some_and(|i| matches!(self.entries[i].place, Place::Parked(_)))
    }

    /// A session is being flushed (explicitly or dropped): takes it out of the table and says
    /// whether a FlushContext should be sent. Not when it was found lost (its handle may belong
    /// to someone else) or a FlushContext of its handle already ended it; otherwise yes,
    /// wherever raw ContextSave/ContextLoad commands left it.
    pub(crate) fn take_for_flush(&mut self, ticket: u64) -> FlushDecision {
        let Some(i) = self.by_ticket(ticket) else {
            return FlushDecision::Unknown;
        };
        match self.entries.remove(i).place {
            Place::Lost => FlushDecision::Lost,
            Place::Flushed => FlushDecision::AlreadyFlushed,
            Place::Loaded | Place::Parked(_) | Place::SavedByCaller => FlushDecision::Send,
        }
    }

    /// For saving a session: its parked context, if the session is parked (it then leaves
    /// the table); a lost session is an error.
    pub(crate) fn take_parked(&mut self, handle: Handle, ticket: u64) -> Result<Option<Context>> {
        let Some(i) = self.by_ticket(ticket) else {
            return Ok(None);
        };
        match self.entries[i].place {
            Place::Loaded => Ok(None),
            Place::Lost => Err(lost_error(handle, "it was found lost earlier".into())),
            Place::Flushed => Err(lost_error(
                handle,
                "a FlushContext of its handle ended it".into(),
            )),
            Place::SavedByCaller => Err(Error::SavedByCaller { handle }),
            Place::Parked(_) => match self.entries.remove(i).place {
                Place::Parked(c) => Ok(Some(*c)),
                _ => Ok(None),
            },
        }
    }
}

impl Conn<'_> {
    /// Registers a session that a [`Session`](crate::Session) now owns; returns its ticket.
    /// `adopted`: the session was not just started but taken over (loaded from a context or
    /// a file, or restored from a record): if this connection knew it as desynchronized, it
    /// stays so, whatever the state it comes back with says.
    pub(crate) fn register(
        &mut self,
        handle: Handle,
        nonce_tpm: &Nonce,
        desynchronized: bool,
        adopted: bool,
    ) -> u64 {
        let st = &mut *self.steward;
        let mut desynchronized = desynchronized;
        // The TPM handed out this handle again (a new session), or the session is being
        // adopted again: either way the old entry is done with.
        while let Some(i) = st.by_handle(handle) {
            desynchronized |= adopted && st.entries[i].desynchronized;
            st.mark_lost(i);
        }
        st.next_ticket += 1;
        let ticket = st.next_ticket;
        let now = st.tick();
        let guarded = st.policy.guarded && !desynchronized;
        st.entries.push(Entry {
            handle,
            ticket,
            place: Place::Loaded,
            last_use: now,
            nonce_tpm: nonce_tpm.clone(),
            guarded,
            desynchronized,
        });
        if guarded {
            if let Some(i) = self.steward.by_ticket(ticket) {
                let _ = parking::park(self, i);
            }
        } else {
            parking::enforce_max_loaded(self);
        }
        ticket
    }

    /// The owner gives up the session but leaves it in the TPM: a parked one is loaded again
    /// first.
    pub(crate) fn release(&mut self, ticket: u64) {
        if let Some(i) = self.steward.by_ticket(ticket) {
            let _ = parking::unpark(self, i);
            if let Some(i) = self.steward.by_ticket(ticket) {
                self.steward.entries.remove(i);
            }
        }
    }

    /// Parks one session on its owner's request. [`Error::SessionLost`] when it turns out
    /// gone (the owner marks it closed).
    pub(crate) fn park_session(&mut self, handle: Handle, ticket: u64) -> Result<()> {
        let Some(i) = self.steward.by_ticket(ticket) else {
            return Err(not_managed(handle));
        };
        match self.steward.entries[i].place {
            Place::Loaded => parking::park(self, i),
            Place::Parked(_) => Ok(()),
            Place::Lost => Err(lost_error(handle, "it was found lost earlier".into())),
            Place::Flushed => Err(lost_error(
                handle,
                "a FlushContext of its handle ended it".into(),
            )),
            // Out of the loaded slots already, by the caller's own ContextSave.
            Place::SavedByCaller => Ok(()),
        }
    }

    /// Guards a session or stops guarding it (see the module documentation); a guarded one is
    /// parked at once.
    pub(crate) fn set_guarded(&mut self, handle: Handle, ticket: u64, guarded: bool) -> Result<()> {
        let Some(i) = self.steward.by_ticket(ticket) else {
            return Err(not_managed(handle));
        };
        if guarded && self.steward.entries[i].desynchronized {
            return Err(Error::Desynchronized { handle });
        }
        self.steward.entries[i].guarded = guarded;
        if guarded {
            self.park_session(handle, ticket)?;
        }
        Ok(())
    }
}

fn not_managed(handle: Handle) -> Error {
    Error::NotThisConnections { handle }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jitter_stays_within_half_and_one_and_a_half() {
        let d = Duration::from_millis(100);
        for _ in 0..200 {
            let j = jitter(d);
            assert!(j >= d / 2 && j <= d * 3 / 2, "{j:?}");
        }
    }

    #[test]
    fn used_set_is_bounded_and_deduplicated() {
        let mut u = Used::default();
        for t in 0..10 {
            u.push(t % 7, None);
        }
        assert_eq!(u.len, 6);
        u.push(3, Some(0));
        assert_eq!(u.iter().filter(|(t, _)| *t == 3).count(), 1);
        assert!(u.contains(5) && !u.contains(6));
    }

    #[test]
    fn only_flush_save_and_load_declare_a_context_effect() {
        use crate::command::{ContextLoad, ContextSave, Entity, FlushContext, GetRandom};
        let flush = FlushContext {
            flush_handle: Handle(0x0200_0005),
        };
        assert_eq!(
            flush.context_effect(),
            ContextEffect::Flushes(Handle(0x0200_0005))
        );
        let save = ContextSave {
            save_handle: Entity::from_handle(Handle(0x0200_0005)),
        };
        assert_eq!(
            save.context_effect(),
            ContextEffect::Saves(Handle(0x0200_0005))
        );
        let load = ContextLoad {
            context: Context {
                sequence: 1,
                saved_handle: Handle(0x0300_0001),
                hierarchy: Handle::RH_NULL,
                context_blob: Default::default(),
            },
        };
        assert_eq!(
            load.context_effect(),
            ContextEffect::Loads(Handle(0x0300_0001))
        );
        assert_eq!(
            GetRandom { bytes_requested: 8 }.context_effect(),
            ContextEffect::None
        );
    }
}
