//! Random bytes of any length from the TPM's generator.

use super::{Session, Tpm};
use crate::command::GetRandom;
use crate::error::{Error, Result};
use crate::session::Symmetric;
use crate::wire::{CommandCode, SessionAttributes, WireError};

/// Bytes asked for per TPM2_GetRandom: a TPM returns at most one digest of its largest hash.
const CHUNK: usize = 64;

impl Tpm {
    /// `n` random bytes from the TPM (as many TPM2_GetRandom calls as it takes). A TPM that
    /// answers with no bytes, or with more than asked, is an error, never an endless loop.
    pub fn get_random(&self, n: usize) -> Result<Vec<u8>> {
        self.get_random_inner(n, None)
    }

    /// [`Tpm::get_random`] with `session` protecting every response: it encrypts them when it
    /// can (a cipher and a secret session key) and audits them when it has the audit
    /// attribute; a session that can do neither is refused before anything is sent. The
    /// session's own attributes are left as they were.
    pub fn get_random_protected(&self, n: usize, session: &mut Session) -> Result<Vec<u8>> {
        let original = session.state().attributes();
        let st = session.state();
        let mut attrs = SessionAttributes(SessionAttributes::CONTINUE_SESSION);
        if st.symmetric() != Symmetric::Null && st.has_secret_key() {
            attrs = attrs.with(SessionAttributes::ENCRYPT, true);
        }
        if original.contains(SessionAttributes::AUDIT) {
            attrs = attrs.with(SessionAttributes::AUDIT, true);
        }
        if attrs.0 == SessionAttributes::CONTINUE_SESSION {
            return Err(Error::CannotProtectResponse {
                handle: st.handle(),
            });
        }
        session.set_attributes(attrs);
        let out = self.get_random_inner(n, Some(session));
        session.set_attributes(original);
        out
    }

    fn get_random_inner(&self, n: usize, mut session: Option<&mut Session>) -> Result<Vec<u8>> {
        let mut out = Vec::with_capacity(n);
        while out.len() < n {
            let want = (n - out.len()).min(CHUNK) as u16;
            let cmd = GetRandom {
                bytes_requested: want,
            };
            let rsp = match session.as_deref_mut() {
                Some(s) => self.execute(&cmd, &mut [s.extra()])?,
                None => self.run(&cmd)?,
            };
            let got = rsp.random_bytes.as_bytes();
            if got.is_empty() || got.len() > usize::from(want) {
                return Err(Error::Malformed {
                    command: CommandCode::GET_RANDOM,
                    source: WireError::BadValue {
                        what: "number of random bytes returned (asked for 1 to 64)",
                        value: got.len() as u32,
                    },
                });
            }
            out.extend_from_slice(got);
        }
        Ok(out)
    }
}
