//! Session stewardship: keeping the sessions a connection owns alive and honest while the TPM
//! runs out of room, other processes come and go, and the context counter moves on.
//!
//! Every [`Session`] registers in its connection's table (handle → loaded | parked | lost,
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

use std::cell::Cell;
use std::time::Duration;

use crate::client::{exchange, Core, SavedSession, Session, SessionOptions, Tpm};
use crate::command::{
    Command, ContextLoad, ContextSave, Entity, FlushContext, GetCapability, Handles,
};
use crate::error::{Error, Result};
use crate::session::engine::SessionSlot;
use crate::wire::{
    Capability, CommandCode, Context, Handle, Nonce, PropertyTag, ResponseCode, TpmRc, Writer,
};

/// How the steward keeps sessions alive. Set with [`Tpm::set_steward_policy`].
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
    /// Times [`Tpm::start_sessions`] gave back what it had started and tried again.
    pub start_retries: u64,
    /// Sessions found lost.
    pub lost: u64,
}

enum Place {
    Loaded,
    /// Boxed: a context blob is large and most entries are loaded.
    Parked(Box<Context>),
    /// Gone from the TPM (or replaced); the owning [`Session`] must not flush it.
    Lost,
    /// Context-saved by a ContextSave the caller ran on its handle (not by us): the TPM holds
    /// it saved, and a ContextLoad of that context through this connection makes it
    /// [`Place::Loaded`] again. Still ours to flush.
    SavedByCaller,
    /// Flushed by a FlushContext the caller ran on its handle through this connection: there
    /// is nothing left to flush.
    Flushed,
}

struct Entry {
    handle: Handle,
    ticket: u64,
    place: Place,
    last_use: u64,
    /// nonceTPM of the session's latest response: tells our session from another one that
    /// the TPM has since given the same handle.
    nonce_tpm: Nonce,
    guarded: bool,
    /// A response of a command it took part in was lost or failed verification: it stays
    /// where it is (loaded) until flushed, and is never parked, reloaded or re-gapped.
    desynchronized: bool,
}

/// What flushing a [`Session`] takes (see [`Tpm::steward_take_for_flush`]).
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
    policy: StewardPolicy,
    entries: Vec<Entry>,
    clock: u64,
    next_ticket: u64,
    newest_sequence: u64,
    /// Commands since the last blind re-gap (see [`StewardPolicy::regap_every`]).
    since_regap: u64,
    gap_max: Option<u64>,
    stats: StewardStats,
}

thread_local! {
    /// Set while [`Tpm::start_sessions`] runs: exhaustion must come back to it at once (it
    /// releases what it holds before waiting), never wait while holding sessions.
    static NO_WAIT: Cell<bool> = const { Cell::new(false) };
}

impl Steward {
    /// Keeps at most `n` sessions loaded (set from the transport's per-connection limit).
    pub(crate) fn set_max_loaded(&mut self, n: usize) {
        self.policy.max_loaded_sessions = Some(n);
    }

    fn tick(&mut self) -> u64 {
        self.clock += 1;
        self.clock
    }

    fn by_ticket(&self, ticket: u64) -> Option<usize> {
        self.entries.iter().position(|e| e.ticket == ticket)
    }

    /// The live entry for a handle (not a lost one the TPM has since reused).
    fn by_handle(&self, handle: Handle) -> Option<usize> {
        self.entries
            .iter()
            .rposition(|e| e.handle == handle && !matches!(e.place, Place::Lost))
    }

    /// The entry of the session whose host state is at hand: same handle and same nonceTPM.
    fn by_state(&self, handle: Handle, nonce_tpm: &Nonce) -> Option<usize> {
        self.entries
            .iter()
            .position(|e| e.handle == handle && e.nonce_tpm == *nonce_tpm)
    }

    fn loaded_count(&self) -> usize {
        self.entries
            .iter()
            .filter(|e| matches!(e.place, Place::Loaded))
            .count()
    }

    fn mark_lost(&mut self, i: usize) {
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
struct Used {
    tickets: [u64; 6],
    slot: [Option<usize>; 6],
    len: usize,
}

impl Used {
    fn push(&mut self, ticket: u64, slot: Option<usize>) {
        if self.tickets[..self.len].contains(&ticket) || self.len == self.tickets.len() {
            return;
        }
        self.tickets[self.len] = ticket;
        self.slot[self.len] = slot;
        self.len += 1;
    }

    fn contains(&self, ticket: u64) -> bool {
        self.tickets[..self.len].contains(&ticket)
    }

    fn iter(&self) -> impl Iterator<Item = (u64, Option<usize>)> + '_ {
        self.tickets[..self.len]
            .iter()
            .copied()
            .zip(self.slot[..self.len].iter().copied())
    }
}

fn lost_error(handle: Handle, reason: String) -> Error {
    Error::SessionLost { handle, reason }
}

fn slot_state<'s>(
    slots: &'s mut [SessionSlot<'_>],
    i: usize,
) -> Option<&'s mut crate::session::SessionState> {
    match slots.get_mut(i) {
        Some(SessionSlot::Session { state, .. }) => Some(&mut **state),
        _ => None,
    }
}

/// The first u32 (FlushContext) or the savedHandle of a TPMS_CONTEXT (ContextLoad) in the
/// command's parameters: commands that say which session they act on only there.
fn parameter_handle<C: Command>(cmd: &C) -> Option<Handle> {
    let at = match C::CODE {
        CommandCode::FLUSH_CONTEXT => 0,
        CommandCode::CONTEXT_LOAD => 8,
        _ => return None,
    };
    let mut buf = Vec::with_capacity(16);
    cmd.marshal_params(&mut Writer::new(&mut buf));
    let b: [u8; 4] = buf.get(at..at + 4)?.try_into().ok()?;
    Some(Handle(u32::from_be_bytes(b)))
}

/// Runs one command under stewardship (called by [`Tpm::execute`]).
pub(crate) fn execute<C: Command>(
    tpm: &Tpm,
    cmd: &C,
    slots: &mut [SessionSlot<'_>],
) -> Result<C::Response> {
    let code = C::CODE;
    let param_handle = parameter_handle(cmd);
    // Commands that take a new loaded-session slot.
    let needs_fresh_slot = code == CommandCode::START_AUTH_SESSION
        || (code == CommandCode::CONTEXT_LOAD && param_handle.is_some_and(Handle::is_session));
    let no_wait = NO_WAIT.with(Cell::get);

    let mut guard = tpm.lock();
    let mut attempt = 1u32;
    let mut delay = guard.steward.policy.initial_delay;
    loop {
        let core = &mut *guard;
        let used = identify(core, code, cmd.handles(), slots)?;
        let policy = core.steward.policy;
        if let Some(max) = policy.max_loaded_sessions {
            make_room(core, &used, max, needs_fresh_slot)?;
        }
        let mut sequence = None;
        let outcome = match load_used(core, &used, slots) {
            Ok(()) => {
                let r = exchange(core, cmd, slots);
                // Read before bookkeeping commands reuse the response buffer.
                if r.is_ok() && code == CommandCode::CONTEXT_SAVE {
                    sequence = saved_sequence(&core.response);
                }
                after_command(core, &used, slots);
                r
            }
            Err(e) => Err(e),
        };
        let rc = match outcome {
            Ok(rsp) => {
                observe_success(core, code, cmd.handles(), param_handle, sequence);
                enforce_max_loaded(core);
                // Our own parks move the newest sequence we know of too.
                proactive_regap(core);
                blind_regap(core);
                return Ok(rsp);
            }
            Err(Error::Tpm { rc, command }) => {
                if let Some(e) = lost_by_response(core, rc, &used, cmd.handles(), slots) {
                    return Err(e);
                }
                if code == CommandCode::FLUSH_CONTEXT {
                    forget_flushed(core, param_handle);
                }
                if attempt >= policy.max_attempts {
                    return Err(Error::Tpm { command, rc });
                }
                rc
            }
            Err(e) => {
                if is_broken_connection(&e) {
                    // The resource manager dropped this file's state (the transport reopens
                    // the device): what it kept loaded for us is gone, parked contexts live.
                    for i in 0..core.steward.entries.len() {
                        if matches!(core.steward.entries[i].place, Place::Loaded) {
                            core.steward.mark_lost(i);
                        }
                    }
                }
                return Err(e);
            }
        };
        attempt += 1;
        let base = rc.base_code();
        if base == TpmRc::SESSION_MEMORY && park_lru(core, &used)? {
            // Room made from our own idle sessions: no need to wait for anyone.
            tracing::debug!(rc = %rc, attempt, "steward: retrying after parking an idle session");
            continue;
        }
        if rc.is_context_gap() && policy.regap && regap_oldest(core, &used)? {
            tracing::debug!(rc = %rc, attempt, "steward: retrying after a re-gap");
            continue;
        }
        // Waiting for a loaded slot is safe even for start_sessions: by now we hold none
        // (ours were parked above, the command's own are parked below). Waiting for a
        // session handle or object slot while holding sessions is not (hold-and-wait).
        if !rc.is_session_exhaustion() || (no_wait && base != TpmRc::SESSION_MEMORY) {
            return Err(Error::Tpm { command: code, rc });
        }
        // Nothing of ours to give: wait for others, without holding our sessions loaded or
        // the connection locked.
        release_used(core, &used);
        core.steward.stats.waits += 1;
        tracing::debug!(
            rc = %rc,
            attempt,
            delay_ms = delay.as_millis() as u64,
            "steward: TPM out of room, waiting for other processes"
        );
        drop(guard);
        std::thread::sleep(jitter(delay));
        delay = (delay * 2).min(policy.max_delay);
        guard = tpm.lock();
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

fn jitter(d: Duration) -> Duration {
    let mut b = [0u8; 1];
    let r = if crate::crypto::random(&mut b).is_ok() {
        b[0] as u32
    } else {
        128
    };
    // 50 % .. 150 %
    d / 2 + d * r / 255
}

/// Finds the table entries the command uses; a session already known lost or desynchronized
/// is refused here, before anything is loaded or sent for it.
fn identify(
    core: &mut Core,
    code: CommandCode,
    handles: Handles<'_>,
    slots: &mut [SessionSlot<'_>],
) -> Result<Used> {
    let mut used = Used::default();
    let st = &mut core.steward;
    for i in 0..slots.len() {
        if let Some(state) = slot_state(slots, i).filter(|s| s.is_desynchronized()) {
            let handle = state.handle;
            if let Some(e) = st.by_handle(handle) {
                st.entries[e].desynchronized = true;
            }
            return Err(Error::Session {
                command: code,
                source: crate::session::SessionError::Desynchronized(handle),
            });
        }
    }
    if st.entries.is_empty() {
        return Ok(used);
    }
    for i in 0..slots.len() {
        let Some(state) = slot_state(slots, i) else {
            continue;
        };
        let Some(e) = st.by_state(state.handle, &state.nonce_tpm) else {
            continue;
        };
        match st.entries[e].place {
            Place::Lost => {
                state.closed = true;
                return Err(lost_error(
                    state.handle,
                    "it was found lost earlier (flushed behind our back or the TPM was reset)"
                        .into(),
                ));
            }
            Place::Flushed => {
                state.closed = true;
                return Err(lost_error(
                    state.handle,
                    "a FlushContext of its handle ended it".into(),
                ));
            }
            Place::SavedByCaller => {
                return Err(Error::InvalidArgument(format!(
                    "session {} was context-saved by a ContextSave of its handle; load that \
                     context before using the session",
                    state.handle
                )))
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
            used.push(st.entries[e].ticket, None);
        }
    }
    Ok(used)
}

/// ContextSave of one entry: it leaves the loaded slots and keeps its handle. A
/// desynchronized session is never parked: its saved context would outlive the process as if
/// it were usable.
fn park(core: &mut Core, i: usize) -> Result<()> {
    let handle = core.steward.entries[i].handle;
    if core.steward.entries[i].desynchronized {
        return Err(Error::Desynchronized { handle });
    }
    match exchange(
        core,
        &ContextSave {
            save_handle: Entity::from_handle(handle),
        },
        &mut [],
    ) {
        Ok(rsp) => {
            let st = &mut core.steward;
            st.newest_sequence = st.newest_sequence.max(rsp.context.sequence);
            st.entries[i].place = Place::Parked(Box::new(rsp.context));
            st.stats.parked += 1;
            tracing::debug!(session = %handle, "steward: parked (context saved)");
            Ok(())
        }
        Err(Error::Tpm { rc, .. }) if rc.is_handle_error() || rc.is_session_reference_error() => {
            core.steward.mark_lost(i);
            Err(lost_error(
                handle,
                format!("ContextSave of it failed ({rc}): it no longer exists in the TPM"),
            ))
        }
        Err(e) => Err(e),
    }
}

/// ContextLoad of a parked entry. A context that does not load means the session is lost.
fn unpark(core: &mut Core, i: usize) -> Result<()> {
    if core.steward.entries[i].desynchronized {
        return Err(Error::Desynchronized {
            handle: core.steward.entries[i].handle,
        });
    }
    let Place::Parked(context) = &core.steward.entries[i].place else {
        return Ok(());
    };
    let context = (**context).clone();
    let handle = core.steward.entries[i].handle;
    match exchange(core, &ContextLoad { context }, &mut []) {
        Ok(rsp) if rsp.loaded_handle == handle => {
            core.steward.entries[i].place = Place::Loaded;
            core.steward.stats.reloaded += 1;
            tracing::debug!(session = %handle, "steward: reloaded (context loaded)");
            Ok(())
        }
        Ok(rsp) => {
            // A session context always loads at its own handle, so this answer is not the
            // TPM's. The handle it names is not flushed: it may be anyone's session.
            core.steward.mark_lost(i);
            Err(lost_error(
                handle,
                format!("its context loaded as {}", rsp.loaded_handle),
            ))
        }
        Err(Error::Tpm { rc, .. }) if crate::client::load_failure_means_lost(rc) => {
            core.steward.mark_lost(i);
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
fn load_used(core: &mut Core, used: &Used, slots: &mut [SessionSlot<'_>]) -> Result<()> {
    for (ticket, slot) in used.iter() {
        let Some(i) = core.steward.by_ticket(ticket) else {
            continue;
        };
        let now = core.steward.tick();
        core.steward.entries[i].last_use = now;
        if !matches!(core.steward.entries[i].place, Place::Parked(_)) {
            continue;
        }
        while let Some(i) = core.steward.by_ticket(ticket) {
            match unpark(core, i) {
                Ok(()) => break,
                Err(Error::Tpm { rc, command }) if rc.base_code() == TpmRc::SESSION_MEMORY => {
                    if !park_lru(core, used)? {
                        return Err(Error::Tpm { command, rc });
                    }
                }
                Err(e) => {
                    if let (Error::SessionLost { .. }, Some(s)) = (&e, slot) {
                        if let Some(state) = slot_state(slots, s) {
                            state.closed = true;
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
fn park_lru(core: &mut Core, used: &Used) -> Result<bool> {
    let victim = core
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
        Some(i) => match park(core, i) {
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
fn make_room(core: &mut Core, used: &Used, max: usize, fresh: bool) -> Result<()> {
    let parked_used = used
        .iter()
        .filter(|(t, _)| {
            core.steward
                .by_ticket(*t)
                .is_some_and(|i| matches!(core.steward.entries[i].place, Place::Parked(_)))
        })
        .count();
    let need = parked_used + usize::from(fresh);
    while core.steward.loaded_count() + need > max.max(need) {
        if !park_lru(core, used)? {
            break;
        }
    }
    Ok(())
}

fn enforce_max_loaded(core: &mut Core) {
    let Some(max) = core.steward.policy.max_loaded_sessions else {
        return;
    };
    while core.steward.loaded_count() > max {
        match park_lru(core, &Used::default()) {
            Ok(true) => {}
            _ => break,
        }
    }
}

/// Bookkeeping after an exchange (whatever its outcome): nonces, sessions the TPM ended,
/// guarded sessions back to their parking place.
fn after_command(core: &mut Core, used: &Used, slots: &mut [SessionSlot<'_>]) {
    for (ticket, slot) in used.iter() {
        let Some(i) = core.steward.by_ticket(ticket) else {
            continue;
        };
        if let Some(state) = slot.and_then(|s| slot_state(slots, s)) {
            if state.closed {
                // continueSession was clear: the TPM flushed it.
                core.steward.entries.remove(i);
                continue;
            }
            core.steward.entries[i].nonce_tpm = state.nonce_tpm.clone();
            if state.is_desynchronized() {
                core.steward.entries[i].desynchronized = true;
            }
        }
        let e = &core.steward.entries[i];
        if e.guarded && !e.desynchronized && matches!(e.place, Place::Loaded) {
            let _ = park(core, i);
        }
    }
}

/// Parks again what this command loaded, before waiting for other processes.
fn release_used(core: &mut Core, used: &Used) {
    for (ticket, _) in used.iter() {
        if let Some(i) = core.steward.by_ticket(ticket) {
            let e = &core.steward.entries[i];
            if matches!(e.place, Place::Loaded) && !e.desynchronized {
                let _ = park(core, i);
            }
        }
    }
}

/// A "no such session" answer about one of our sessions → [`Error::SessionLost`].
fn lost_by_response(
    core: &mut Core,
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
        state.closed = true;
        (ticket, state.handle, Some(s))
    } else {
        let h = handles.iter().nth(handle?)?.handle;
        if !h.is_session() {
            return None;
        }
        let i = core.steward.by_handle(h)?;
        (core.steward.entries[i].ticket, h, None)
    };
    let i = core.steward.by_ticket(ticket)?;
    core.steward.mark_lost(i);
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
fn forget_flushed(core: &mut Core, handle: Option<Handle>) {
    if let Some(i) = handle.and_then(|h| core.steward.by_handle(h)) {
        core.steward.entries[i].place = Place::Flushed;
    }
}

/// After a successful command: sessions flushed or context-saved by the caller's own commands
/// change place (their owners still settle them); a ContextLoad of a session the caller saved
/// makes it loaded again; saved session contexts move the newest sequence, which may call for
/// a re-gap.
fn observe_success(
    core: &mut Core,
    code: CommandCode,
    handles: Handles<'_>,
    param: Option<Handle>,
    sequence: Option<u64>,
) {
    match code {
        CommandCode::FLUSH_CONTEXT => forget_flushed(core, param),
        CommandCode::CONTEXT_SAVE => {
            let saved = handles.iter().next().map(|e| e.handle);
            if let Some(h) = saved.filter(|h| h.is_session()) {
                // The caller holds the context now; the session is still ours to flush.
                if let Some(i) = core.steward.by_handle(h) {
                    core.steward.entries[i].place = Place::SavedByCaller;
                }
                if let Some(seq) = sequence {
                    let st = &mut core.steward;
                    st.newest_sequence = st.newest_sequence.max(seq);
                }
                proactive_regap(core);
            }
        }
        CommandCode::CONTEXT_LOAD => {
            if let Some(i) = param.and_then(|h| core.steward.by_handle(h)) {
                if matches!(core.steward.entries[i].place, Place::SavedByCaller) {
                    core.steward.entries[i].place = Place::Loaded;
                }
            }
        }
        _ => {}
    }
}

/// TPMS_CONTEXT.sequence of a successful ContextSave response (no sessions: tag 0x8001).
fn saved_sequence(response: &[u8]) -> Option<u64> {
    let tag = u16::from_be_bytes(response.get(0..2)?.try_into().ok()?);
    let at = if tag == 0x8001 { 10 } else { 14 };
    Some(u64::from_be_bytes(
        response.get(at..at + 8)?.try_into().ok()?,
    ))
}

fn regap_threshold(core: &mut Core) -> u64 {
    if let Some(t) = core.steward.policy.regap_threshold {
        return t;
    }
    let max = match core.steward.gap_max {
        Some(m) => m,
        None => {
            let m = exchange(
                core,
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
            core.steward.gap_max = Some(m);
            m
        }
    };
    max / 4 * 3
}

fn proactive_regap(core: &mut Core) {
    if !core.steward.policy.regap
        || !core
            .steward
            .entries
            .iter()
            .any(|e| matches!(e.place, Place::Parked(_)))
    {
        return;
    }
    let threshold = regap_threshold(core);
    loop {
        let newest = core.steward.newest_sequence;
        let stale = core.steward.entries.iter().position(|e| match &e.place {
            Place::Parked(c) => newest.saturating_sub(c.sequence) > threshold,
            _ => false,
        });
        match stale {
            Some(i) => {
                if regap_entry(core, i, &Used::default()).is_err() {
                    return;
                }
            }
            None => return,
        }
    }
}

/// Re-gaps the oldest parked session every [`StewardPolicy::regap_every`] commands.
fn blind_regap(core: &mut Core) {
    let st = &mut core.steward;
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
        if let Some(i) = core.steward.by_ticket(ticket) {
            let _ = regap_entry(core, i, &Used::default());
        }
    }
}

/// Loads a parked session and saves it again: its context gets the newest sequence.
fn regap_entry(core: &mut Core, i: usize, used: &Used) -> Result<()> {
    let ticket = core.steward.entries[i].ticket;
    loop {
        let Some(i) = core.steward.by_ticket(ticket) else {
            return Ok(());
        };
        match unpark(core, i) {
            Ok(()) => break,
            Err(Error::Tpm { rc, command }) if rc.base_code() == TpmRc::SESSION_MEMORY => {
                let mut keep = Used::default();
                keep.push(ticket, None);
                for (t, s) in used.iter() {
                    keep.push(t, s);
                }
                if !park_lru(core, &keep)? {
                    return Err(Error::Tpm { command, rc });
                }
            }
            Err(e) => return Err(e),
        }
    }
    let Some(i) = core.steward.by_ticket(ticket) else {
        return Ok(());
    };
    park(core, i)?;
    core.steward.stats.regapped += 1;
    tracing::debug!(
        session = %core.steward.entries[i].handle,
        "steward: re-gapped (context loaded and saved again)"
    );
    // Regapping is not idleness; do not count it as a parking for pressure.
    core.steward.stats.parked -= 1;
    Ok(())
}

/// Reactive re-gap after TPM_RC_CONTEXT_GAP: the oldest parked session not in use.
fn regap_oldest(core: &mut Core, used: &Used) -> Result<bool> {
    let oldest = core
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
        Some(i) => match regap_entry(core, i, used) {
            Ok(()) => Ok(true),
            Err(Error::SessionLost { .. }) => Ok(true),
            Err(e) => Err(e),
        },
        None => Ok(false),
    }
}

impl Tpm {
    /// Sets how the steward keeps this connection's sessions alive when the TPM runs out of session
    /// slots.
    pub fn set_steward_policy(&self, policy: StewardPolicy) {
        self.lock().steward.policy = policy;
    }

    /// The current steward policy.
    pub fn steward_policy(&self) -> StewardPolicy {
        self.lock().steward.policy
    }

    /// Counters of what the steward did on this connection (sessions parked, reloaded,
    /// re-gapped and lost; backoff waits).
    pub fn steward_stats(&self) -> StewardStats {
        self.lock().steward.stats
    }

    /// Registers a session a [`Session`] now owns; returns its ticket.
    pub(crate) fn steward_register(
        &self,
        handle: Handle,
        nonce_tpm: &Nonce,
        desynchronized: bool,
    ) -> u64 {
        let mut guard = self.lock();
        let core = &mut *guard;
        let st = &mut core.steward;
        // The TPM handed out this handle again: whatever we had under it is gone.
        while let Some(i) = st.by_handle(handle) {
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
            if let Some(i) = core.steward.by_ticket(ticket) {
                let _ = park(core, i);
            }
        } else {
            enforce_max_loaded(core);
        }
        ticket
    }

    /// A [`Session`] is being flushed (explicitly or dropped): takes it out of the table and
    /// says whether a FlushContext should be sent. Not when it was found lost (its handle may
    /// belong to someone else) or a FlushContext of its handle already ended it; otherwise
    /// yes, wherever raw ContextSave/ContextLoad commands left it.
    pub(crate) fn steward_take_for_flush(&self, ticket: u64) -> FlushDecision {
        let mut core = self.lock();
        let Some(i) = core.steward.by_ticket(ticket) else {
            return FlushDecision::Unknown;
        };
        match core.steward.entries.remove(i).place {
            Place::Lost => FlushDecision::Lost,
            Place::Flushed => FlushDecision::AlreadyFlushed,
            Place::Loaded | Place::Parked(_) | Place::SavedByCaller => FlushDecision::Send,
        }
    }

    /// The [`Session`] gives up ownership but leaves the session in the TPM: a parked one is
    /// loaded again first.
    pub(crate) fn steward_release(&self, _handle: Handle, ticket: u64) {
        let mut guard = self.lock();
        let core = &mut *guard;
        if let Some(i) = core.steward.by_ticket(ticket) {
            let _ = unpark(core, i);
            if let Some(i) = core.steward.by_ticket(ticket) {
                core.steward.entries.remove(i);
            }
        }
    }

    /// For [`Session::save`]: the parked context, if the session is parked (it then leaves
    /// the table); a lost session is an error.
    pub(crate) fn steward_take_parked(
        &self,
        handle: Handle,
        ticket: u64,
    ) -> Result<Option<Context>> {
        let mut core = self.lock();
        let Some(i) = core.steward.by_ticket(ticket) else {
            return Ok(None);
        };
        match core.steward.entries[i].place {
            Place::Loaded => Ok(None),
            Place::Lost => Err(lost_error(handle, "it was found lost earlier".into())),
            Place::Flushed => Err(lost_error(
                handle,
                "a FlushContext of its handle ended it".into(),
            )),
            Place::SavedByCaller => Err(Error::InvalidArgument(format!(
                "session {handle} was context-saved by a ContextSave of its handle: that \
                 context is the session now"
            ))),
            Place::Parked(_) => match core.steward.entries.remove(i).place {
                Place::Parked(c) => Ok(Some(*c)),
                _ => Ok(None),
            },
        }
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
            let outcome = NO_WAIT.with(|w| {
                let before = w.replace(true);
                let mut failure = None;
                for o in options {
                    match Session::start(self, o) {
                        Ok(s) => started.push(s),
                        Err(e) => {
                            failure = Some(e);
                            break;
                        }
                    }
                }
                w.set(before);
                failure
            });
            let Some(err) = outcome else {
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
            {
                let mut core = self.lock();
                core.steward.stats.waits += 1;
                core.steward.stats.start_retries += 1;
            }
            tracing::debug!(
                attempt,
                sessions = options.len(),
                "steward: gave back the sessions started so far, waiting to start all again"
            );
            std::thread::sleep(jitter(delay));
            delay = (delay * 2).min(policy.max_delay);
        }
    }

    /// Re-gaps a session context held outside the table (load it and save it again), so
    /// the TPM's context counter can move on without refusing ContextSave with
    /// TPM_RC_CONTEXT_GAP. A context that no longer loads gives [`Error::SessionLost`].
    pub fn regap(&self, saved: &mut SavedSession) -> Result<()> {
        let handle = saved.state.handle;
        match self.context_load(&saved.context) {
            Ok(h) if h == handle => {}
            Ok(h) => {
                let _ = self.run(&FlushContext { flush_handle: h });
                return Err(lost_error(handle, format!("its context loaded as {h}")));
            }
            Err(Error::Tpm { rc, .. }) if crate::client::load_failure_means_lost(rc) => {
                return Err(lost_error(
                    handle,
                    format!("its saved context no longer loads ({rc})"),
                ))
            }
            Err(e) => return Err(e),
        }
        saved.context = self.context_save(handle)?;
        self.lock().steward.stats.regapped += 1;
        Ok(())
    }

    /// How many of this connection's sessions are loaded and how many parked.
    pub fn session_table(&self) -> (usize, usize) {
        let core = self.lock();
        let parked = core
            .steward
            .entries
            .iter()
            .filter(|e| matches!(e.place, Place::Parked(_)))
            .count();
        (core.steward.loaded_count(), parked)
    }
}

impl Session {
    /// Context-saves the session out of the TPM's loaded slots; it is loaded again
    /// transparently when next used.
    pub fn park(&mut self) -> Result<()> {
        let tpm = self.tpm().clone();
        let mut guard = tpm.lock();
        let core = &mut *guard;
        let Some(i) = core.steward.by_ticket(self.ticket) else {
            return Err(Error::InvalidArgument(format!(
                "session {} is not managed by this connection",
                self.handle()
            )));
        };
        match core.steward.entries[i].place {
            Place::Loaded => {
                let r = park(core, i);
                if let Err(Error::SessionLost { .. }) = r {
                    self.state_mut().closed = true;
                }
                r
            }
            Place::Parked(_) => Ok(()),
            Place::Lost => {
                self.state_mut().closed = true;
                Err(lost_error(
                    self.handle(),
                    "it was found lost earlier".into(),
                ))
            }
            Place::Flushed => {
                self.state_mut().closed = true;
                Err(lost_error(
                    self.handle(),
                    "a FlushContext of its handle ended it".into(),
                ))
            }
            // Out of the loaded slots already, by the caller's own ContextSave.
            Place::SavedByCaller => Ok(()),
        }
    }

    /// Whether the session is parked (context-saved by the steward) right now.
    pub fn is_parked(&self) -> bool {
        let core = self.tpm().lock();
        core.steward
            .by_ticket(self.ticket)
            .is_some_and(|i| matches!(core.steward.entries[i].place, Place::Parked(_)))
    }

    /// Guards the session: parked between commands and reloaded before each use, so a
    /// stranger's session that got its handle can never receive our HMAC. Costs a
    /// ContextLoad and a ContextSave per use.
    pub fn set_guarded(&mut self, guarded: bool) -> Result<()> {
        {
            let mut core = self.tpm().lock();
            let Some(i) = core.steward.by_ticket(self.ticket) else {
                return Err(Error::InvalidArgument(format!(
                    "session {} is not managed by this connection",
                    self.handle()
                )));
            };
            if guarded && core.steward.entries[i].desynchronized {
                return Err(Error::Desynchronized {
                    handle: self.handle(),
                });
            }
            core.steward.entries[i].guarded = guarded;
        }
        if guarded {
            self.park()?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sequence_is_read_from_either_response_form() {
        let mut plain = vec![0x80, 0x01, 0, 0, 0, 30, 0, 0, 0, 0];
        plain.extend_from_slice(&0x1122_3344_5566_7788u64.to_be_bytes());
        assert_eq!(saved_sequence(&plain), Some(0x1122_3344_5566_7788));
        let mut with_sessions = vec![0x80, 0x02, 0, 0, 0, 30, 0, 0, 0, 0, 0, 0, 0, 8];
        with_sessions.extend_from_slice(&7u64.to_be_bytes());
        assert_eq!(saved_sequence(&with_sessions), Some(7));
        assert_eq!(
            saved_sequence(&plain[..12]),
            None,
            "short input is no panic"
        );
        assert_eq!(saved_sequence(&[]), None);
    }

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
    fn only_flush_and_context_load_carry_a_handle_in_their_parameters() {
        let flush = FlushContext {
            flush_handle: Handle(0x0200_0005),
        };
        assert_eq!(parameter_handle(&flush), Some(Handle(0x0200_0005)));
        let save = ContextSave {
            save_handle: Entity::from_handle(Handle(0x0200_0005)),
        };
        assert_eq!(parameter_handle(&save), None);
    }
}
