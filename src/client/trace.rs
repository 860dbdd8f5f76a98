//! Display forms of a command's handles and sessions for tracing spans. They print handles,
//! names of session kinds and attributes only: never an auth value, key or nonce.

use core::fmt;

use crate::command::Handles;
use crate::session::engine::SessionSlot;
use crate::wire::{SessionAttributes, SessionType};

pub(super) struct HandleList<'a>(pub(super) Handles<'a>);

impl fmt::Display for HandleList<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[")?;
        for (i, e) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str(", ")?;
            }
            write!(f, "{}", e.handle)?;
        }
        f.write_str("]")
    }
}

pub(super) struct SessionList<'a, 'b>(pub(super) &'a [SessionSlot<'b>]);

impl fmt::Display for SessionList<'_, '_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[")?;
        for (i, slot) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str(", ")?;
            }
            match slot {
                SessionSlot::Password(_) => f.write_str("password")?,
                SessionSlot::Session { state, .. } => {
                    let kind = match state.session_type() {
                        SessionType::HMAC => "hmac",
                        SessionType::POLICY => "policy",
                        SessionType::TRIAL => "trial",
                        _ => "session",
                    };
                    write!(f, "{} {kind}", state.handle())?;
                    let a = state.attributes();
                    for (flag, name) in [
                        (SessionAttributes::DECRYPT, "decrypt"),
                        (SessionAttributes::ENCRYPT, "encrypt"),
                        (SessionAttributes::AUDIT, "audit"),
                    ] {
                        if a.contains(flag) {
                            write!(f, "+{name}")?;
                        }
                    }
                }
            }
        }
        f.write_str("]")
    }
}
