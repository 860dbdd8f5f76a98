//! The client: owns a transport and runs typed commands through the one pipeline
//! typed command → marshal → authorize/encrypt → transport → verify/decrypt → typed response.

mod capability;
mod context;
mod handles;
mod names;
mod object;
mod pcr;
mod policy;
mod primary;
mod random;
pub(crate) mod registry_link;
mod session;
mod session_file;
mod start;
mod trace;

pub use capability::command_code;
pub use context::*;
pub use handles::HandleRange;
pub use names::*;
pub use object::{LoadedObject, ObjectRef};
pub use pcr::{pcr_digest_from_file, PcrValuesError};
pub use session::*;
pub use session_file::{FileFate, SaveBackError};
pub use start::{SessionKind, StartSpec};

use std::sync::{Arc, Mutex, MutexGuard};

use crate::command::{Command, Response};
use crate::error::{Error, Result};
use crate::session::engine::{self, CommandInfo, SessionSlot};
use crate::transport::{RetryPolicy, Transport};
use crate::wire::{
    begin_command, finish_command, Marshal, Reader, ResponseCode, ResponseFrame, StructureTag,
    Writer,
};

pub(crate) struct Core {
    transport: Box<dyn Transport>,
    frame: Vec<u8>,
    params: Vec<u8>,
    pub(crate) response: Vec<u8>,
    retry: RetryPolicy,
    /// The sessions this connection's [`Session`]s own, and how to keep them alive.
    pub(crate) steward: crate::steward::Steward,
    pub(crate) registry: registry_link::RegistryLink,
}

/// A connection to a TPM. Cheap to clone (clones share the connection); commands from
/// several threads are serialized.
#[derive(Clone)]
pub struct Tpm {
    core: Arc<Mutex<Core>>,
}

impl core::fmt::Debug for Tpm {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "Tpm({})", self.describe())
    }
}

impl Tpm {
    /// A connection over `transport`. The ownership registry (see [`crate::registry`]) is on unless
    /// `TPM2_WIRE_REGISTRY=off`; behind the kernel resource manager at most 3 sessions are kept
    /// loaded, the rest parked by the steward.
    pub fn new(transport: Box<dyn Transport>) -> Self {
        let mut steward = crate::steward::Steward::default();
        // Behind the kernel resource manager a 4th session of one open file fails: keep at
        // most what the connection allows loaded, parking the rest.
        if let Some(n) = transport.sessions_per_connection() {
            steward.set_max_loaded(n);
        }
        Tpm {
            core: Arc::new(Mutex::new(Core {
                transport,
                frame: Vec::with_capacity(4096),
                params: Vec::with_capacity(4096),
                response: Vec::with_capacity(4096),
                retry: RetryPolicy::default(),
                steward,
                registry: registry_link::RegistryLink::default(),
            })),
        }
    }

    /// Opens the TPM named by a TCTI string; with `None`, the `TPM2TOOLS_TCTI` environment
    /// variable, then the default probe.
    pub fn open(tcti: Option<&str>) -> Result<Self> {
        Ok(Tpm::new(crate::transport::open(tcti)?))
    }

    pub(crate) fn lock(&self) -> MutexGuard<'_, Core> {
        // The core holds only buffers and the transport; a panic elsewhere leaves nothing
        // half-updated that a later command depends on.
        self.core.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// What the transport is, e.g. `swtpm:host=127.0.0.1,port=2321`.
    pub fn describe(&self) -> String {
        self.lock().transport.describe()
    }

    /// How often commands the TPM answers with TPM_RC_RETRY, TPM_RC_YIELDED or TPM_RC_TESTING are
    /// resent (the default: 10 sends over about 3.6 s).
    pub fn set_retry_policy(&self, policy: RetryPolicy) {
        self.lock().retry = policy;
    }

    /// Runs a command that needs no authorization and no sessions.
    pub fn run<C: Command>(&self, cmd: &C) -> Result<C::Response> {
        self.execute(cmd, &mut [])
    }

    /// Runs a command. `sessions` holds one entry per authorized handle of the command, in
    /// order, optionally followed by sessions that only encrypt, decrypt or audit (three in
    /// all at most).
    pub fn execute<C: Command>(
        &self,
        cmd: &C,
        sessions: &mut [SessionSlot<'_>],
    ) -> Result<C::Response> {
        // One span per command. Its fields are formatted only when a subscriber wants them,
        // so the steady-state path stays allocation-free; none of them is secret.
        let span = tracing::debug_span!(
            "tpm_command",
            command = %C::CODE,
            handles = %trace::HandleList(cmd.handles()),
            sessions = %trace::SessionList(sessions),
            rc = tracing::field::Empty,
            error = tracing::field::Empty,
            micros = tracing::field::Empty,
        );
        let _entered = span.enter();
        let started = (!span.is_disabled()).then(std::time::Instant::now);

        // The steward loads parked sessions the command needs, survives exhaustion and
        // context gaps, and recognises sessions lost behind our back.
        let was_desynchronized = desynchronized(sessions);
        let result = crate::steward::execute(self, cmd, sessions);
        if result.is_err() {
            let now = desynchronized(sessions);
            for (i, slot) in sessions.iter().enumerate() {
                if let SessionSlot::Session { state, .. } = slot {
                    if now[i] && !was_desynchronized[i] {
                        tracing::warn!(
                            session = %state.handle,
                            "session desynchronized: it will only be flushed"
                        );
                        registry_link::desynchronized(self, state.handle);
                    }
                }
            }
        }
        if let Some(started) = started {
            span.record("micros", started.elapsed().as_micros() as u64);
            match &result {
                Ok(_) => {
                    span.record("rc", "TPM_RC_SUCCESS");
                }
                Err(Error::Tpm { rc, .. }) => {
                    span.record("rc", tracing::field::display(rc));
                }
                Err(e) => {
                    span.record("error", tracing::field::display(e));
                }
            }
        }
        result
    }

    /// Sends a raw command frame and returns the raw response (no sessions applied, no
    /// checks beyond framing). For tools such as a `tpm2_send` equivalent.
    pub fn transact_raw(&self, command: &[u8]) -> Result<Vec<u8>> {
        let mut core = self.lock();
        let mut out = Vec::new();
        core.transport.transact(command, &mut out)?;
        Ok(out)
    }
}

/// Which of a command's (at most three) sessions are desynchronized.
fn desynchronized(sessions: &[SessionSlot<'_>]) -> [bool; 3] {
    let mut out = [false; 3];
    for (flag, slot) in out.iter_mut().zip(sessions) {
        *flag = matches!(slot, SessionSlot::Session { state, .. } if state.is_desynchronized());
    }
    out
}

/// One attempt at a command: marshal, authorize, send (with transport-level retries), verify.
pub(crate) fn exchange<C: Command>(
    core: &mut Core,
    cmd: &C,
    sessions: &mut [SessionSlot<'_>],
) -> Result<C::Response> {
    let command = C::CODE;

    core.params.clear();
    cmd.marshal_params(&mut Writer::new(&mut core.params));

    let handles = cmd.handles();
    let mut names: [&[u8]; 3] = [&[]; 3];
    for (slot, e) in names.iter_mut().zip(handles.iter()) {
        *slot = e.name.as_bytes();
    }
    let info = CommandInfo {
        code: command,
        names: &names[..handles.len()],
        auth_handles: C::AUTH_HANDLES,
        decrypt_param: C::DECRYPT,
        encrypt_param: C::Response::ENCRYPT,
    };
    if sessions.is_empty() && C::AUTH_HANDLES > 0 {
        return Err(Error::Session {
            command,
            source: crate::session::SessionError::MissingAuthorization {
                command,
                needed: C::AUTH_HANDLES,
                given: 0,
            },
        });
    }

    core.frame.clear();
    let mut w = Writer::new(&mut core.frame);
    let tag = if sessions.is_empty() {
        StructureTag::NO_SESSIONS
    } else {
        StructureTag::SESSIONS
    };
    let start = begin_command(&mut w, tag, command);
    for e in handles.iter() {
        e.handle.marshal(&mut w);
    }
    let pending = if sessions.is_empty() {
        None
    } else {
        Some(
            engine::authorize(&mut w, &info, sessions, &mut core.params)
                .map_err(|source| Error::Session { command, source })?,
        )
    };
    w.bytes(&core.params);
    finish_command(&mut w, start).map_err(|source| Error::Build { command, source })?;

    match receive::<C>(core, &info, sessions, pending.as_ref()) {
        Ok(out) => Ok(out),
        Err(Failure::Settled(e)) => Err(e),
        Err(Failure::Unverified(e)) => {
            // The TPM may have run the command and rolled the sessions' nonces; ours cannot
            // follow. Using them again would fail the TPM's HMAC check and, on a DA-protected
            // entity, count towards lockout.
            engine::desynchronize(sessions);
            Err(e)
        }
    }
}

/// How an exchange failed once its command was handed to the transport.
enum Failure {
    /// Before the response was verified: the sessions' state can no longer be trusted.
    Unverified(Error),
    /// With the sessions' state known: a TPM error code (the TPM rolls no nonce for a failed
    /// command), or a verified response whose parameters do not decode.
    Settled(Error),
}

/// Sends the built frame and turns the response into the typed response: parse, verify,
/// decrypt, unmarshal.
fn receive<C: Command>(
    core: &mut Core,
    info: &CommandInfo<'_>,
    sessions: &mut [SessionSlot<'_>],
    pending: Option<&engine::Pending>,
) -> core::result::Result<C::Response, Failure> {
    let command = C::CODE;
    let unverified = |e: Error| Failure::Unverified(e);
    match crate::transport::transact_with_retry(
        &mut *core.transport,
        &core.frame,
        &mut core.response,
        &core.retry,
    ) {
        Ok(()) => {}
        // Refused before anything was written: the TPM saw nothing.
        Err(e @ crate::transport::TransportError::MalformedCommand { .. }) => {
            return Err(Failure::Settled(e.into()))
        }
        Err(e) => return Err(unverified(e.into())),
    }

    let response = &mut core.response;
    let frame = ResponseFrame::parse(response, C::Response::HANDLES)
        .map_err(|source| unverified(Error::Malformed { command, source }))?;
    if frame.code != 0 {
        return Err(Failure::Settled(Error::Tpm {
            command,
            rc: ResponseCode(frame.code),
        }));
    }
    // Offsets of the areas, so the parameters can be decrypted in place once the borrow
    // of the parsed frame ends.
    let base = response.as_ptr() as usize;
    let handles_at = frame.handles.as_ptr() as usize - base;
    let handles_len = frame.handles.len();
    let params_at = frame.parameters.as_ptr() as usize - base;
    let params_len = frame.parameters.len();

    if let Some(pending) = pending {
        if frame.tag != StructureTag::SESSIONS {
            return Err(unverified(Error::Session {
                command,
                source: crate::session::SessionError::Integrity(
                    "sessions were sent but the response carries no authorization area",
                ),
            }));
        }
        engine::verify_response(info, sessions, pending, &frame.auths, frame.parameters)
            .map_err(|source| unverified(Error::Session { command, source }))?;
        // Verified: the sessions are in step with the TPM from here on.
        let params = &mut response[params_at..params_at + params_len];
        engine::decrypt_response(info, sessions, pending, params)
            .map_err(|source| Failure::Settled(Error::Session { command, source }))?;
    } else if frame.tag != StructureTag::NO_SESSIONS {
        return Err(Failure::Settled(Error::Malformed {
            command,
            source: crate::wire::WireError::BadValue {
                what: "response tag (no sessions were sent)",
                value: frame.tag.0 as u32,
            },
        }));
    }

    let mut hr = Reader::new(&response[handles_at..handles_at + handles_len]);
    let mut pr = Reader::new(&response[params_at..params_at + params_len]);
    C::Response::unmarshal(&mut hr, &mut pr)
        .and_then(|r| pr.finish().map(|_| r))
        .map_err(|source| Failure::Settled(Error::Malformed { command, source }))
}
