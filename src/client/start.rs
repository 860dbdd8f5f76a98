//! Starting a session the way `tpm2_startauthsession` describes it: objects named by handle or
//! context file, tpm2-tools' defaults, and a salt key checked against a name known out of band.

use super::{ObjectRef, SaltKey, Session, SessionOptions, Tpm};
use crate::crypto::HashAlg;
use crate::error::{Error, Result, StartConflict};
use crate::session::Symmetric;
use crate::wire::{Auth, Name, SessionType};

/// Which kind of session to start.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum SessionKind {
    /// A trial session: computes a policy digest, authorizes nothing (tpm2-tools' default).
    #[default]
    Trial,
    /// A policy session.
    Policy,
    /// An HMAC session.
    Hmac,
    /// An HMAC session with the audit attribute, without a cipher by default (tpm2-tools'
    /// `--audit-session`).
    Audit,
    /// An HMAC session with the audit attribute and the HMAC session's default cipher
    /// (tpm2-tools' `--hmac-session --audit-session`).
    HmacAudit,
}

/// Everything `tpm2_startauthsession` takes, as one value; [`StartSpec::start`] applies
/// tpm2-tools' rules to it.
#[derive(Clone, Debug, Default)]
pub struct StartSpec {
    /// The kind of session.
    pub kind: SessionKind,
    /// The session's hash (`-g`); SHA-256 when `None`.
    pub hash: Option<HashAlg>,
    /// Parameter encryption (`-G`). `None`: AES-128-CFB when the session is salted, bound or
    /// asked for as an HMAC session ([`SessionKind::Hmac`], [`SessionKind::HmacAudit`]), no
    /// cipher otherwise (tpm2-tools' default).
    pub symmetric: Option<Symmetric>,
    /// Salt with and bind to this object, and encrypt command and response parameters (`-c`).
    pub key: Option<ObjectRef>,
    /// Bind to this object (`--bind-context`).
    pub bind: Option<ObjectRef>,
    /// The auth value of the object the session is bound to (`--bind-auth`).
    pub bind_auth: Auth,
    /// Salt with this object (`--tpmkey-context`).
    pub salt: Option<ObjectRef>,
    /// Salt with this key, already vouched for (e.g. [`SaltKey::from_verified_ek`]); excludes
    /// `key` and `salt`. The TPM is then asked to prove it holds the key, as with
    /// `expected_salt_name`.
    pub salt_key: Option<SaltKey>,
    /// The name the salt key must have (`-n`, a name obtained out of band). When given, an
    /// HMAC session with a cipher also has the TPM prove it holds that key
    /// ([`Session::confirm_salt_key`]).
    pub expected_salt_name: Option<Name>,
}

impl StartSpec {
    /// Checks the combination, loads the objects it names (flushing transient ones again
    /// before returning), and starts the session.
    pub fn start(&self, tpm: &Tpm) -> Result<Session> {
        let salt_ref = self.key.as_ref().or(self.salt.as_ref());
        let bind_ref = self.key.as_ref().or(self.bind.as_ref());
        if self.salt_key.is_some() && salt_ref.is_some() {
            return Err(Error::StartConflict(StartConflict::SaltKeyAndSaltObject));
        }
        let salted = salt_ref.is_some() || self.salt_key.is_some();
        if self.key.is_some() && (self.bind.is_some() || self.salt.is_some()) {
            return Err(Error::StartConflict(StartConflict::KeyAndBindOrSalt));
        }
        if self.kind == SessionKind::Trial && (salted || bind_ref.is_some()) {
            return Err(Error::StartConflict(StartConflict::TrialSaltedOrBound));
        }
        if self.expected_salt_name.is_some() && salt_ref.is_none() {
            return Err(Error::StartConflict(StartConflict::SaltNameWithoutSalt));
        }
        let hash = self.hash.unwrap_or(HashAlg::Sha256);
        let mut opts = match self.kind {
            SessionKind::Trial => SessionOptions::trial(),
            SessionKind::Policy => SessionOptions::policy(),
            SessionKind::Hmac => SessionOptions::hmac(),
            SessionKind::Audit | SessionKind::HmacAudit => SessionOptions::audit(),
        }
        .hash(hash);

        // Held until the session has started: a transient object loaded from a file is
        // flushed when these drop.
        let salt_obj = salt_ref.map(|r| tpm.load_object(r)).transpose()?;
        if let (Some(obj), Some(expected)) = (&salt_obj, &self.expected_salt_name) {
            if obj.entity().name != *expected {
                return Err(Error::NameMismatch {
                    handle: obj.entity().handle,
                    expected: Box::new(expected.clone()),
                    actual: Box::new(obj.entity().name.clone()),
                });
            }
        }
        if let Some(obj) = &salt_obj {
            opts = opts.salted(obj.salt_key()?);
        }
        if let Some(key) = &self.salt_key {
            opts = opts.salted(key.clone());
        }
        let bind_obj = match (&self.key, &self.bind) {
            (Some(_), _) => None,
            (None, Some(r)) => Some(tpm.load_object(r)?),
            (None, None) => None,
        };
        if let Some(entity) = bind_obj
            .as_ref()
            .or(self.key.as_ref().and(salt_obj.as_ref()))
            .map(|o| o.entity().clone())
        {
            opts = opts.bound(entity, self.bind_auth.clone());
        }
        let sym = self.symmetric.unwrap_or(
            if salted
                || bind_ref.is_some()
                || matches!(self.kind, SessionKind::Hmac | SessionKind::HmacAudit)
            {
                Symmetric::AesCfb(128)
            } else {
                Symmetric::Null
            },
        );
        opts = opts.symmetric(sym);
        if self.key.is_some() {
            opts = opts.encrypt(true, true);
        }

        let mut session = Session::start(tpm, &opts)?;
        // With a name to check against, have the TPM prove it holds that key: its answer is
        // authenticated under the salted session key.
        if (self.expected_salt_name.is_some() || self.salt_key.is_some())
            && opts.session_type == SessionType::HMAC
            && sym != Symmetric::Null
        {
            session.confirm_salt_key()?;
        }
        Ok(session)
    }
}
