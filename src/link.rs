//! One connection's exchange pipeline: typed command → marshal → authorize/encrypt →
//! transport → verify/decrypt → typed response, in one attempt. Below both the client (which
//! owns a [`Link`]) and the steward (which runs its own ContextSave/ContextLoad through it);
//! it knows neither.

use alloc::boxed::Box;
use alloc::vec::Vec;

use rand_core::OsRng;

use crate::command::{AuthChange, Command, Handles, Response};
use crate::error::{Error, Result};
use crate::session::engine::{self, CommandInfo, SessionSlot};
use crate::session::SessionError;
use crate::transport::{RetryPolicy, Transport};
use crate::wire::{
    begin_command, finish_command, Handle, Marshal, Reader, ResponseCode, ResponseFrame,
    SessionAttributes, StructureTag, Writer,
};

/// A transport with the buffers every command reuses (so the steady state allocates nothing)
/// and the transport-level retry policy.
pub(crate) struct Link {
    pub(crate) transport: Box<dyn Transport>,
    frame: Vec<u8>,
    params: Vec<u8>,
    response: Vec<u8>,
    pub(crate) retry: RetryPolicy,
}

impl Link {
    pub(crate) fn new(transport: Box<dyn Transport>) -> Self {
        Link {
            transport,
            frame: Vec::with_capacity(4096),
            params: Vec::with_capacity(4096),
            response: Vec::with_capacity(4096),
            retry: RetryPolicy::default(),
        }
    }

    /// One attempt at a command: marshal, authorize, send (with transport-level retries), verify.
    pub(crate) fn exchange<C: Command>(
        &mut self,
        cmd: &C,
        sessions: &mut [SessionSlot<'_>],
    ) -> Result<C::Response> {
        self.exchange_outcome(cmd, sessions)
            .map_err(Failure::into_error)
    }

    /// [`Link::exchange`], saying whether a failure left the TPM's side unknown: then the
    /// authorization sessions are already desynchronized here, and the caller must do the same
    /// to sessions the command carried in its handle area (policy commands), which this
    /// pipeline does not hold.
    pub(crate) fn exchange_outcome<C: Command>(
        &mut self,
        cmd: &C,
        sessions: &mut [SessionSlot<'_>],
    ) -> core::result::Result<C::Response, Failure> {
        let command = C::CODE;

        self.params.clear();
        cmd.marshal_params(&mut Writer::new(&mut self.params));

        let handles = cmd.handles();
        let mut names: [&[u8]; 3] = [&[]; 3];
        for (slot, e) in names.iter_mut().zip(handles.iter()) {
            *slot = e.name.as_bytes();
        }
        let new_auth = match cmd.auth_change() {
            AuthChange::None => None,
            AuthChange::To(auth) => Some(auth.as_bytes()),
            AuthChange::Emptied => Some(&[][..]),
        };
        let info = CommandInfo {
            code: command,
            names: &names[..handles.len()],
            auth_handles: C::AUTH_HANDLES,
            decrypt_param: C::DECRYPT,
            encrypt_param: C::Response::ENCRYPT,
            new_auth,
        };
        if sessions.is_empty() && C::AUTH_HANDLES > 0 {
            return Err(Failure::Settled(Error::Session {
                command,
                source: crate::session::SessionError::MissingAuthorization {
                    command,
                    needed: C::AUTH_HANDLES,
                    given: 0,
                },
            }));
        }

        self.frame.clear();
        let mut w = Writer::new(&mut self.frame);
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
                engine::authorize(&mut OsRng, &mut w, &info, sessions, &mut self.params).map_err(
                    |source| {
                        Failure::Settled(match source {
                            // One shape at the client, whichever layer refused it.
                            SessionError::Desynchronized(handle) => {
                                Error::Desynchronized { handle }
                            }
                            source => Error::Session { command, source },
                        })
                    },
                )?,
            )
        };
        w.bytes(&self.params);
        finish_command(&mut w, start)
            .map_err(|source| Failure::Settled(Error::Build { command, source }))?;

        let sent_auth = SentAuth::of(&handles, C::AUTH_HANDLES, sessions);
        match self.receive::<C>(&info, sessions, pending.as_ref(), sent_auth) {
            Ok(out) => Ok(out),
            Err(Failure::Settled(e)) => Err(Failure::Settled(e)),
            Err(Failure::Unverified(e)) => {
                // The TPM may have run the command and rolled the sessions' nonces; ours cannot
                // follow. Using them again would fail the TPM's HMAC check and, on a DA-protected
                // entity, count towards lockout.
                engine::desynchronize(sessions);
                Err(Failure::Unverified(e))
            }
        }
    }

    /// Sends the built frame and turns the response into the typed response: parse, verify,
    /// decrypt, unmarshal.
    fn receive<C: Command>(
        &mut self,
        info: &CommandInfo<'_>,
        sessions: &mut [SessionSlot<'_>],
        pending: Option<&engine::Pending>,
        sent_auth: SentAuth,
    ) -> core::result::Result<C::Response, Failure> {
        let command = C::CODE;
        let unverified = |e: Error| Failure::Unverified(e);
        let sends = match crate::transport::transact_with_retry(
            &mut *self.transport,
            &self.frame,
            &mut self.response,
            &self.retry,
        ) {
            Ok(sends) => sends,
            // Refused before anything was written: the TPM saw nothing.
            Err(e @ crate::transport::TransportError::MalformedCommand { .. }) => {
                return Err(Failure::Settled(e.into()))
            }
            Err(e) => return Err(unverified(e.into())),
        };

        let response = &mut self.response;
        let frame = ResponseFrame::parse(response, C::Response::HANDLES)
            .map_err(|source| unverified(Error::Malformed { command, source }))?;
        if frame.code != 0 {
            let e = Error::Tpm {
                command,
                rc: ResponseCode(frame.code),
            };
            // An error response carries no authorization, so it may be forged over a command
            // the TPM ran (rolling the sessions' nonces). It is taken as genuine, except where
            // doubting it costs little and believing a forgery could cost a
            // dictionary-attack count (the crate documentation's "What a hostile bus can do").
            return Err(if sends > 1 || sent_auth.doubt_errors {
                Failure::Unverified(e)
            } else {
                Failure::Settled(e)
            });
        }
        // The areas' places, so the parameters can be decrypted in place once the borrow of
        // the parsed frame ends.
        let (handles_at, params_at) = (frame.handles_range(), frame.parameters_range());

        if let Some(pending) = pending {
            if frame.tag != StructureTag::SESSIONS {
                return Err(unverified(Error::Session {
                    command,
                    source: crate::session::SessionError::Integrity(
                        "sessions were sent but the response carries no authorization area",
                    ),
                }));
            }
            let verified =
                engine::verify_response(info, sessions, pending, &frame.auths, frame.parameters)
                    .map_err(|source| unverified(Error::Session { command, source }))?;
            // Verified: the sessions are in step with the TPM from here on.
            let params = &mut response[params_at.clone()];
            engine::decrypt_response(verified, info, sessions, params)
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

        let mut hr = Reader::new(&response[handles_at]);
        let mut pr = Reader::new(&response[params_at]);
        C::Response::unmarshal(&mut hr, &mut pr)
            .and_then(|r| pr.finish().map(|_| r))
            .map_err(|source| Failure::Settled(Error::Malformed { command, source }))
    }
}

/// How an exchange failed.
pub(crate) enum Failure {
    /// Before the response was verified: the sessions' state can no longer be trusted.
    Unverified(Error),
    /// With the sessions' state known: refused before sending, a TPM error code (the TPM rolls
    /// no nonce for a failed command), or a verified response whose parameters do not decode.
    Settled(Error),
}

impl Failure {
    pub(crate) fn into_error(self) -> Error {
        match self {
            Failure::Unverified(e) | Failure::Settled(e) => e,
        }
    }
}

/// What the authorization area sent says about trusting an error response.
#[derive(Clone, Copy)]
struct SentAuth {
    /// An error response is treated as outcome unknown: a session authorized the lockout
    /// hierarchy (whose failed authorization locks it for the whole recovery time), or a
    /// session was sent with continueSession clear (its owner gave it up with this command,
    /// so doubting it costs nothing).
    doubt_errors: bool,
}

impl SentAuth {
    fn of(handles: &Handles<'_>, auth_handles: usize, sessions: &[SessionSlot<'_>]) -> SentAuth {
        let mut doubt_errors = false;
        for (i, slot) in sessions.iter().enumerate() {
            let SessionSlot::Session { state, .. } = slot else {
                continue;
            };
            let lockout = i < auth_handles
                && handles
                    .iter()
                    .nth(i)
                    .is_some_and(|e| e.handle == Handle::RH_LOCKOUT);
            let given_up = !state
                .attributes()
                .contains(SessionAttributes::CONTINUE_SESSION);
            doubt_errors |= lockout || given_up;
        }
        SentAuth { doubt_errors }
    }
}
