//! The client: owns a transport and runs typed commands through the one pipeline
//! typed command → marshal → authorize/encrypt → transport → verify/decrypt → typed response.

mod capability;
mod context;
mod cp_hash;
mod handles;
mod names;
mod object;
mod pcr;
mod policy;
mod policy_more;
mod primary;
mod random;
pub(crate) mod registry_link;
mod session;
mod session_file;
mod start;
mod stewardship;
mod trace;

pub use capability::command_code;
pub use context::*;
pub use cp_hash::{command_cp_hash, tools_cp_hash_alg, CpHashSession};
pub use handles::HandleRange;
pub use names::*;
pub use object::{LoadedObject, ObjectRef};
pub use pcr::{pcr_digest_from_file, PcrValuesError};
pub use policy_more::SignedTerms;
pub use session::*;
pub use session_file::{FileFate, SaveBackError};
pub use start::{SessionKind, StartSpec};

use std::sync::{Arc, Mutex, MutexGuard};

use crate::command::Command;
use crate::error::{Error, Result};
use crate::link::Link;
use crate::session::engine::SessionSlot;
use crate::steward::{Attempts, Conn, Step, Steward, Waiting};
use crate::transport::{RetryPolicy, Transport};

struct Core {
    link: Link,
    /// The sessions this connection's [`Session`]s own, and how to keep them alive.
    steward: Steward,
    registry: registry_link::RegistryLink,
}

impl Core {
    fn conn(&mut self) -> Conn<'_> {
        Conn {
            steward: &mut self.steward,
            link: &mut self.link,
        }
    }
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
        let mut steward = Steward::default();
        // Behind the kernel resource manager a 4th session of one open file fails: keep at
        // most what the connection allows loaded, parking the rest.
        if let Some(n) = transport.sessions_per_connection() {
            steward.set_max_loaded(n);
        }
        Tpm {
            core: Arc::new(Mutex::new(Core {
                link: Link::new(transport),
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

    fn lock(&self) -> MutexGuard<'_, Core> {
        // The core holds only buffers and the transport; a panic elsewhere leaves nothing
        // half-updated that a later command depends on.
        self.core.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// What the transport is, e.g. `swtpm:host=127.0.0.1,port=2321`.
    pub fn describe(&self) -> String {
        self.lock().link.transport.describe()
    }

    /// How often commands the TPM answers with TPM_RC_RETRY, TPM_RC_YIELDED or TPM_RC_TESTING are
    /// resent (the default: 10 sends over about 3.6 s).
    pub fn set_retry_policy(&self, policy: RetryPolicy) {
        self.lock().link.retry = policy;
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
        self.execute_waiting(cmd, sessions, Waiting::Allowed)
    }

    fn execute_waiting<C: Command>(
        &self,
        cmd: &C,
        sessions: &mut [SessionSlot<'_>],
        waiting: Waiting,
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
        let result = self.stewarded(cmd, sessions, waiting);
        if result.is_err() {
            // Policy sessions the command carried as handles (the steward marked and logged them).
            let handles = self.lock().steward.take_newly_desynchronized();
            for handle in handles {
                registry_link::desynchronized(self, handle);
            }
            let now = desynchronized(sessions);
            for (i, slot) in sessions.iter().enumerate() {
                if let SessionSlot::Session { state, .. } = slot {
                    if now[i] && !was_desynchronized[i] {
                        tracing::warn!(
                            session = %state.handle(),
                            "session desynchronized: it will only be flushed"
                        );
                        registry_link::desynchronized(self, state.handle());
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

    /// Runs the command's attempts under the steward, sleeping between them without holding
    /// the connection when the TPM is out of room.
    fn stewarded<C: Command>(
        &self,
        cmd: &C,
        sessions: &mut [SessionSlot<'_>],
        waiting: Waiting,
    ) -> Result<C::Response> {
        let mut guard = self.lock();
        let mut attempts = Attempts::new(&guard.steward);
        loop {
            match crate::steward::run(&mut guard.conn(), cmd, sessions, &mut attempts, waiting) {
                Step::Done(result) => return result,
                Step::Wait(delay) => {
                    drop(guard);
                    std::thread::sleep(delay);
                    guard = self.lock();
                }
            }
        }
    }

    /// Sends a raw command frame and returns the raw response (no sessions applied, no
    /// checks beyond framing). For tools such as a `tpm2_send` equivalent.
    pub fn transact_raw(&self, command: &[u8]) -> Result<Vec<u8>> {
        let mut core = self.lock();
        let mut out = Vec::new();
        core.link.transport.transact(command, &mut out)?;
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
