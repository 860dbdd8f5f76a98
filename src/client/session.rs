//! Starting sessions and owning them: a [`Session`] flushes itself from the TPM when dropped,
//! unless it was saved, kept on purpose, or already ended by the TPM.

use super::Tpm;
use crate::command::{
    Entity, FlushContext, PolicyAuthValue, PolicyCommandCode, PolicyGetDigest, PolicyPassword,
    PolicyRestart, ReadPublic, StartAuthSession,
};
use crate::crypto::{self, HashAlg};
use crate::error::{Error, Result};
use crate::session::engine::SessionSlot;
use crate::session::{PolicyAuth, SessionKey, SessionStart, SessionState, StateRecord, Symmetric};
use crate::steward::Waiting;
use crate::wire::{
    Auth, CommandCode, Digest, EncryptedSecret, Handle, Name, Nonce, SessionAttributes, SessionType,
};

/// A loaded TPM key to encrypt the salt to: its handle and name, its name algorithm (the hash
/// of the salt encryption) and its public key, parsed and checked once (a key that is no RSA
/// key, or no point on its curve, is refused when the `SaltKey` is made), so starting many
/// sessions salted to it repeats only the public-key operation, with what it can precompute
/// kept: an RSA modulus's Montgomery setup, the comb of an ECC key's point (3 KiB for
/// P-256). Reuse one `SaltKey` for every session salted to the same key.
#[derive(Clone, Debug)]
pub struct SaltKey {
    entity: Entity,
    name_alg: HashAlg,
    recipient: crypto::SecretRecipient,
}

fn not_a_salt_key(entity: &Entity, public: &crate::wire::Public) -> Error {
    Error::NotASaltKey {
        handle: entity.handle,
        object_type: public.object_type(),
    }
}

impl SaltKey {
    /// The salt key for a loaded object with this public area.
    pub fn from_public(entity: Entity, public: &crate::wire::Public) -> Result<SaltKey> {
        let (recipient, name_alg) = match crypto::SecretRecipient::from_public(public) {
            Ok(r) => r,
            Err(
                crypto::CryptoError::NotASecretRecipient(_)
                | crypto::CryptoError::UnsupportedCurve(_),
            ) => return Err(not_a_salt_key(&entity, public)),
            Err(e) => return Err(e.into()),
        };
        Ok(SaltKey {
            entity,
            name_alg,
            recipient,
        })
    }

    /// The loaded key (handle and name), passed as tpmKey to TPM2_StartAuthSession.
    pub fn entity(&self) -> &Entity {
        &self.entity
    }

    /// The hash of OAEP or KDFe: the key's nameAlg, or its own OAEP scheme's hash.
    pub fn name_alg(&self) -> HashAlg {
        self.name_alg
    }

    /// The salt key at `handle`, read from the TPM and accepted only if its name is
    /// `expected_name` (known out of band, e.g. from a name file). A key substituted at that
    /// handle, or a forged ReadPublic answer, gives [`Error::NameMismatch`] before any
    /// session is started. Follow [`Session::start`] with [`Session::confirm_salt_key`] to
    /// have the TPM itself vouch for the key under the salted session.
    pub fn verified(tpm: &Tpm, handle: Handle, expected_name: &Name) -> Result<SaltKey> {
        let (entity, public) = tpm.read_public(handle)?;
        if entity.name != *expected_name {
            return Err(Error::NameMismatch {
                handle,
                expected: Box::new(expected_name.clone()),
                actual: Box::new(entity.name),
            });
        }
        SaltKey::from_public(entity, &public)
    }
}

/// How to start a session.
#[derive(Clone, Debug)]
pub struct SessionOptions {
    /// TPM_SE_HMAC, TPM_SE_POLICY or TPM_SE_TRIAL.
    pub session_type: SessionType,
    /// The session hash (authHash); SHA-256 by default.
    pub hash: HashAlg,
    /// The parameter-encryption algorithm; AES-128-CFB for HMAC sessions by default, none for
    /// policy and trial sessions.
    pub symmetric: Symmetric,
    /// The key the salt is encrypted to, if salted. Salt sessions that encrypt: without a salt (or
    /// a bind auth value) anyone who sees the nonces can compute the session key.
    pub salt: Option<SaltKey>,
    /// The entity to bind to and its auth value.
    pub bind: Option<(Entity, Auth)>,
    /// The TPMA_SESSION attributes sent with each command (continueSession by default).
    pub attributes: SessionAttributes,
    /// Permit parameter encryption even though the session key will be empty.
    pub allow_unprotected_encryption: bool,
}

impl SessionOptions {
    /// An HMAC session: SHA-256, AES-128-CFB available for parameter encryption (not turned on),
    /// unsalted, unbound.
    pub fn hmac() -> Self {
        SessionOptions {
            session_type: SessionType::HMAC,
            hash: HashAlg::Sha256,
            symmetric: Symmetric::AesCfb(128),
            salt: None,
            bind: None,
            attributes: SessionAttributes(SessionAttributes::CONTINUE_SESSION),
            allow_unprotected_encryption: false,
        }
    }

    /// A policy session: SHA-256, no parameter encryption, unsalted, unbound.
    pub fn policy() -> Self {
        SessionOptions {
            session_type: SessionType::POLICY,
            symmetric: Symmetric::Null,
            ..Self::hmac()
        }
    }

    /// A trial session, to compute a policy digest (TPM2_PolicyGetDigest) without authorizing
    /// anything.
    pub fn trial() -> Self {
        SessionOptions {
            session_type: SessionType::TRIAL,
            symmetric: Symmetric::Null,
            ..Self::hmac()
        }
    }

    /// An HMAC session with the audit attribute (what `tpm2_startauthsession --audit-session`
    /// starts).
    pub fn audit() -> Self {
        SessionOptions {
            symmetric: Symmetric::Null,
            attributes: SessionAttributes(
                SessionAttributes::CONTINUE_SESSION | SessionAttributes::AUDIT,
            ),
            ..Self::hmac()
        }
    }

    /// Sets the session hash.
    pub fn hash(mut self, hash: HashAlg) -> Self {
        self.hash = hash;
        self
    }

    /// Sets the parameter-encryption algorithm.
    pub fn symmetric(mut self, symmetric: Symmetric) -> Self {
        self.symmetric = symmetric;
        self
    }

    /// Salts the session with `key`: the session key then depends on a secret only this process and
    /// the TPM know.
    pub fn salted(mut self, key: SaltKey) -> Self {
        self.salt = Some(key);
        self
    }

    /// Binds the session to `entity`, whose auth value `auth` goes into the session key. Commands
    /// on that entity then need no auth value in the HMAC key.
    pub fn bound(mut self, entity: Entity, auth: Auth) -> Self {
        self.bind = Some((entity, auth));
        self
    }

    /// Sets decrypt (command parameter) and encrypt (response parameter) encryption.
    pub fn encrypt(mut self, command: bool, response: bool) -> Self {
        self.attributes = self
            .attributes
            .with(SessionAttributes::DECRYPT, command)
            .with(SessionAttributes::ENCRYPT, response);
        self
    }

    /// Permits parameter encryption with a session key anyone can compute (unsalted, and unbound or
    /// bound to an empty auth value). Only obfuscation; off by default.
    pub fn allow_unprotected_encryption(mut self) -> Self {
        self.allow_unprotected_encryption = true;
        self
    }
}

/// A TPM session owned by this process. Dropping it flushes it from the TPM.
pub struct Session {
    pub(super) tpm: Tpm,
    pub(super) state: SessionState,
    /// The key the salt was encrypted to, for [`Session::confirm_salt_key`].
    salt_key: Option<Entity>,
    /// This session's entry in the connection's session table (see [`crate::steward`]).
    pub(super) ticket: u64,
    /// The registry already knows how this session ended (flushed through `flush`), so the
    /// destructor must not touch its record again.
    registry_settled: bool,
}

impl core::fmt::Debug for Session {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        self.state.fmt(f)
    }
}

fn encapsulate(key: &SaltKey) -> Result<crypto::Encapsulated> {
    Ok(key.recipient.encapsulate(key.name_alg, b"SECRET")?)
}

impl Session {
    /// Starts a session with TPM2_StartAuthSession.
    pub fn start(tpm: &Tpm, opts: &SessionOptions) -> Result<Session> {
        Session::start_waiting(tpm, opts, Waiting::Allowed)
    }

    /// [`Session::start`], saying whether TPM2_StartAuthSession may wait for other processes
    /// when the TPM is out of room.
    pub(super) fn start_waiting(
        tpm: &Tpm,
        opts: &SessionOptions,
        waiting: Waiting,
    ) -> Result<Session> {
        let code = CommandCode::START_AUTH_SESSION;
        let nonce_len = opts.hash.digest_size().max(16);
        let mut nonce = [0u8; 64];
        crypto::random(&mut nonce[..nonce_len])?;
        let nonce_caller = Nonce::new(&nonce[..nonce_len]).map_err(|source| Error::Build {
            command: code,
            source,
        })?;

        let mut salt: Option<crypto::Encapsulated> = None;
        let mut encrypted_salt = EncryptedSecret::empty();
        if let Some(key) = &opts.salt {
            let enc = encapsulate(key)?;
            encrypted_salt =
                EncryptedSecret::new(&enc.ciphertext).map_err(|source| Error::Build {
                    command: code,
                    source,
                })?;
            salt = Some(enc);
        }
        let tpm_key = opts
            .salt
            .as_ref()
            .map_or_else(Entity::null, |k| k.entity().clone());
        let bind = opts
            .bind
            .as_ref()
            .map_or_else(Entity::null, |(e, _)| e.clone());

        let rsp = tpm.execute_waiting(
            &StartAuthSession {
                tpm_key,
                bind: bind.clone(),
                nonce_caller: nonce_caller.clone(),
                encrypted_salt,
                session_type: opts.session_type,
                symmetric: opts.symmetric.into(),
                auth_hash: opts.hash.alg_id(),
            },
            &mut [],
            waiting,
        )?;

        // The TPM derives a key whenever the session is bound (not to TPM_RH_NULL) or salted.
        let bind = opts
            .bind
            .as_ref()
            .filter(|(e, _)| e.handle != Handle::RH_NULL)
            .map(|(e, a)| (e.name.as_bytes(), a.as_bytes()));
        let state = SessionState::start(SessionStart {
            handle: rsp.session_handle,
            session_type: opts.session_type,
            hash: opts.hash,
            symmetric: opts.symmetric,
            attributes: opts.attributes,
            nonce_caller,
            nonce_tpm: rsp.nonce_tpm.clone(),
            bind,
            salt: salt.as_ref().map_or(&[], |s| s.secret.as_bytes()),
            allow_unprotected_encryption: opts.allow_unprotected_encryption,
        })
        .map_err(|source| Error::Session {
            command: code,
            source,
        })?;

        super::registry_link::started(tpm, rsp.session_handle, opts.session_type, opts.hash);
        Ok(Session {
            tpm: tpm.clone(),
            ticket: tpm.steward_register(rsp.session_handle, &rsp.nonce_tpm, false, false),
            salt_key: opts.salt.as_ref().map(|k| k.entity().clone()),
            registry_settled: false,
            state,
        })
    }

    /// Takes ownership of a session whose host state was restored (from a file or a context
    /// saved by another process).
    ///
    /// A desynchronized state stays desynchronized (it can only be flushed), and so does a
    /// session this connection already knew as desynchronized, whatever the state says.
    pub fn adopt(tpm: &Tpm, state: SessionState) -> Session {
        let ticket = tpm.steward_register(
            state.handle(),
            state.nonce_tpm(),
            state.is_desynchronized(),
            true,
        );
        let session = Session {
            tpm: tpm.clone(),
            ticket,
            state,
            salt_key: None,
            registry_settled: false,
        };
        session.learn_desynchronized();
        session
    }

    /// Takes in what the connection's session table knows: a command that carried this
    /// session in its handle area (a policy command) and lost its response marked it there.
    fn learn_desynchronized(&self) {
        if !self.state.is_desynchronized() && self.tpm.steward_is_desynchronized(self.ticket) {
            self.state.mark_desynchronized();
        }
    }

    /// The session handle.
    pub fn handle(&self) -> Handle {
        self.state.handle()
    }

    /// The host-side state (nonces, attributes, key). Whether it is desynchronized is up to
    /// date, also when a policy command on this session lost its response.
    pub fn state(&self) -> &SessionState {
        self.learn_desynchronized();
        &self.state
    }

    /// Opts in to parameter encryption even though the session key is empty or derived from
    /// no secret (anyone watching the bus can then read what is encrypted).
    pub fn allow_unprotected_encryption(&mut self) {
        self.state.allow_unprotected_encryption();
    }

    /// The connection the session belongs to.
    pub fn tpm(&self) -> &Tpm {
        &self.tpm
    }

    /// This session as the authorization of a handle whose auth value is `auth` (or as an
    /// extra encrypt/decrypt/audit session, where `auth` is ignored).
    pub fn auth<'a>(&'a mut self, auth: &'a Auth) -> SessionSlot<'a> {
        SessionSlot::Session {
            state: &mut self.state,
            auth,
        }
    }

    /// This session as an extra session that only encrypts, decrypts or audits.
    pub fn extra(&mut self) -> SessionSlot<'_> {
        static EMPTY: std::sync::OnceLock<Auth> = std::sync::OnceLock::new();
        SessionSlot::Session {
            state: &mut self.state,
            auth: EMPTY.get_or_init(Auth::empty),
        }
    }

    /// Sets the TPMA_SESSION attributes for the following commands.
    pub fn set_attributes(&mut self, attributes: SessionAttributes) {
        self.state.set_attributes(attributes);
    }

    /// The session handle as a command handle (for policy commands).
    pub fn entity(&self) -> Entity {
        Entity::from_handle(self.state.handle())
    }

    /// TPM2_PolicyRestart: resets the policy digest to zeros (and forgets PolicyPassword /
    /// PolicyAuthValue).
    pub fn policy_restart(&mut self) -> Result<()> {
        self.tpm.run(&PolicyRestart {
            session_handle: self.entity(),
        })?;
        self.state.set_policy_auth(PolicyAuth::None);
        Ok(())
    }

    /// TPM2_PolicyPassword: the auth value will be sent in clear when this session authorizes.
    pub fn policy_password(&mut self) -> Result<()> {
        self.tpm.run(&PolicyPassword {
            policy_session: self.entity(),
        })?;
        self.state.set_policy_auth(PolicyAuth::Password);
        Ok(())
    }

    /// TPM2_PolicyAuthValue: the auth value will go into the HMAC key.
    pub fn policy_auth_value(&mut self) -> Result<()> {
        self.tpm.run(&PolicyAuthValue {
            policy_session: self.entity(),
        })?;
        self.state.set_policy_auth(PolicyAuth::AuthValue);
        Ok(())
    }

    /// TPM2_PolicyCommandCode: limits the policy to command `code`.
    pub fn policy_command_code(&mut self, code: CommandCode) -> Result<()> {
        self.tpm.run(&PolicyCommandCode {
            policy_session: self.entity(),
            code,
        })?;
        Ok(())
    }

    /// TPM2_PolicyGetDigest: the policy digest so far.
    pub fn policy_digest(&mut self) -> Result<Digest> {
        Ok(self
            .tpm
            .run(&PolicyGetDigest {
                policy_session: self.entity(),
            })?
            .policy_digest)
    }

    /// Proves that the TPM holds the salt key this session was started with: reads the key's
    /// public area again with this session attached (encrypting the response, or auditing
    /// when the session has no cipher), so the answer carries an HMAC under the salted
    /// session key. Only the holder of the key's private part could have derived that key,
    /// so a substituted key fails here (the TPM rejects our HMAC, or we reject its), and the
    /// name it reports must be the one the session was started with.
    pub fn confirm_salt_key(&mut self) -> Result<()> {
        let Some(key) = self.salt_key.clone() else {
            return Err(Error::NotSalted {
                handle: self.state.handle(),
            });
        };
        let saved = self.state.attributes();
        let role = if self.state.symmetric() == Symmetric::Null {
            SessionAttributes::AUDIT
        } else {
            SessionAttributes::ENCRYPT
        };
        self.state.set_attributes(SessionAttributes(
            SessionAttributes::CONTINUE_SESSION | role,
        ));
        let tpm = self.tpm.clone();
        let rsp = tpm.execute(
            &ReadPublic {
                object_handle: key.clone(),
            },
            &mut [self.extra()],
        );
        self.state.set_attributes(saved);
        let rsp = rsp?;
        let computed = super::object_name(&rsp.out_public.0)?;
        if rsp.name != key.name || computed != key.name {
            return Err(Error::NameMismatch {
                handle: key.handle,
                expected: Box::new(key.name),
                actual: Box::new(rsp.name),
            });
        }
        Ok(())
    }

    /// Flushes the session now, reporting any error (dropping flushes too, silently).
    pub fn flush(mut self) -> Result<()> {
        let r = self.flush_inner();
        self.state.mark_closed();
        // flush_inner removed the record, or kept it because the TPM could not be asked.
        self.registry_settled = true;
        r
    }

    fn flush_inner(&mut self) -> Result<()> {
        use crate::steward::FlushDecision;
        if self.state.is_closed() {
            return Ok(());
        }
        match self.tpm.steward_take_for_flush(self.ticket) {
            FlushDecision::Send => {}
            // Its handle may belong to someone else by now.
            FlushDecision::Lost => return Ok(()),
            FlushDecision::AlreadyFlushed => {
                super::registry_link::ended(&self.tpm, self.state.handle());
                return Ok(());
            }
            FlushDecision::Unknown => {
                return Err(Error::NotThisConnections {
                    handle: self.state.handle(),
                })
            }
        }
        let flushed = self.tpm.run(&FlushContext {
            flush_handle: self.state.handle(),
        });
        // The TPM answered: the session is gone now, or was already.
        if matches!(flushed, Ok(_) | Err(Error::Tpm { .. })) {
            super::registry_link::ended(&self.tpm, self.state.handle());
        }
        flushed?;
        Ok(())
    }

    /// Leaves the session in the TPM and returns its host state (for example to write it to a
    /// file that another process will continue).
    pub fn keep(mut self) -> SessionState {
        self.learn_desynchronized();
        self.tpm.steward_release(self.ticket);
        let state = core::mem::replace(&mut self.state, placeholder_state());
        self.state.mark_closed();
        state
    }
}

fn placeholder_state() -> SessionState {
    let mut state = SessionState::restore(StateRecord {
        handle: Handle(0),
        session_type: SessionType::HMAC,
        hash: HashAlg::Sha256,
        symmetric: Symmetric::Null,
        attributes: SessionAttributes::default(),
        session_key: SessionKey::empty(),
        key_is_secret: false,
        nonce_caller: Nonce::empty(),
        nonce_tpm: Nonce::empty(),
        bound_entity: None,
        policy_auth: PolicyAuth::None,
        audit_digest: None,
        allow_unprotected_encryption: false,
        desynchronized: false,
    });
    state.mark_closed();
    state
}

impl Drop for Session {
    fn drop(&mut self) {
        // Best effort: a session the TPM already dropped or a dead connection is not an
        // error worth panicking over in a destructor.
        if self.state.is_closed() {
            // Ended by the TPM (continueSession cleared); `keep` leaves handle 0 behind.
            if self.state.handle().0 != 0 && !self.registry_settled {
                super::registry_link::ended(&self.tpm, self.state.handle());
            }
        } else {
            let _ = self.flush_inner();
        }
    }
}
