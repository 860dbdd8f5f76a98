//! Sessions: host-side state of HMAC, policy and trial sessions, and the generic engine that
//! authorizes a command frame and verifies its response (see [`engine`]). Knows nothing of
//! transports and nothing of individual commands beyond their code, handle names and
//! parameter bytes.

pub mod cp_hash;
pub mod engine;
pub mod key;
pub mod policy;

use core::fmt;
use core::sync::atomic::{AtomicBool, Ordering};

use zeroize::Zeroize;

use crate::crypto::{self, HashAlg};
use crate::wire::{
    AlgId, Digest, Handle, Nonce, Secret, SessionAttributes, SessionType, SymCipher, SymDef,
};

/// The session key: at most one digest of the session's hash. Zeroized on drop.
pub type SessionKey = Secret<64>;

/// Parameter encryption algorithm of a session: the TPMT_SYM_DEF choices the engine
/// implements. The wire form is [`SymDef`]; the conversions both ways are below (`From`
/// and `TryFrom`), and nothing else marshals a session's algorithm.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Symmetric {
    /// No parameter encryption.
    Null,
    /// AES in CFB mode with a 128, 192 or 256-bit key.
    AesCfb(u16),
    /// XOR obfuscation with a mask from KDFa using this hash.
    Xor(HashAlg),
}

impl From<Symmetric> for SymDef {
    fn from(s: Symmetric) -> SymDef {
        match s {
            Symmetric::Null => SymDef::Null,
            Symmetric::AesCfb(key_bits) => SymDef::Cipher(SymCipher {
                algorithm: AlgId::AES,
                key_bits,
                mode: AlgId::CFB,
            }),
            Symmetric::Xor(h) => SymDef::Xor { hash: h.alg_id() },
        }
    }
}

/// Refuses what the engine cannot do: anything but TPM_ALG_NULL, AES-CFB with 128/192/256
/// bits, or XOR with a supported hash ([`SessionError::UnsupportedSymmetric`]).
impl TryFrom<SymDef> for Symmetric {
    type Error = SessionError;

    fn try_from(def: SymDef) -> Result<Self, SessionError> {
        match def {
            SymDef::Null => Ok(Symmetric::Null),
            SymDef::Xor { hash } => HashAlg::from_alg_id(hash)
                .map(Symmetric::Xor)
                .map_err(|_| SessionError::UnsupportedSymmetric(AlgId::XOR, hash.0, AlgId::NULL)),
            SymDef::Cipher(c)
                if c.algorithm == AlgId::AES
                    && c.mode == AlgId::CFB
                    && matches!(c.key_bits, 128 | 192 | 256) =>
            {
                Ok(Symmetric::AesCfb(c.key_bits))
            }
            SymDef::Cipher(c) => Err(SessionError::UnsupportedSymmetric(
                c.algorithm,
                c.key_bits,
                c.mode,
            )),
        }
    }
}

/// What a policy session has been told about how its entity's auth value is proven.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum PolicyAuth {
    /// Neither PolicyAuthValue nor PolicyPassword: the auth value is not used.
    #[default]
    None,
    /// PolicyAuthValue: the auth value goes into the HMAC key.
    AuthValue,
    /// PolicyPassword: the auth value is sent in clear in place of the HMAC.
    Password,
}

/// Errors in using a session, found on the host before anything is sent or after a response.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SessionError {
    /// The parameter-encryption algorithm is not one the engine implements: (algorithm,
    /// key bits or XOR hash, mode).
    #[error("unsupported parameter encryption: algorithm {0}, bits/hash 0x{1:x}, mode {2}")]
    UnsupportedSymmetric(AlgId, u16, AlgId),
    /// Parameter encryption was asked of a session whose key anyone can compute, without
    /// [`SessionState::allow_unprotected_encryption`].
    #[error(
        "refusing parameter encryption on session {0}: its session key is empty or derived from \
         no secret (not salted, and not bound to an entity with a non-empty auth value), so \
         anyone watching the bus can derive the encryption key; start the session salted, or \
         opt in with allow_unprotected_encryption()"
    )]
    EmptyKeyEncryption(Handle),
    /// Parameter encryption was asked of a session started without a symmetric algorithm.
    #[error("session {0} has no parameter encryption algorithm (symmetric is TPM_ALG_NULL)")]
    NoCipher(Handle),
    /// A session asked to encrypt a parameter that is not a TPM2B.
    #[error("{command}: the {direction} parameter is not a sized buffer (TPM2B), so it cannot be encrypted")]
    NotEncryptable {
        /// The command.
        command: crate::wire::CommandCode,
        /// `"command"` (decrypt) or `"response"` (encrypt).
        direction: &'static str,
    },
    /// Two sessions of one command asked to decrypt (or to encrypt); the TPM allows one each.
    #[error("more than one session asks to {0} parameters")]
    DuplicateCrypt(&'static str),
    /// More sessions than a command carries (three).
    #[error("too many sessions: {0} (a command carries at most 3)")]
    TooManySessions(usize),
    /// Fewer session slots than the command has authorized handles.
    #[error("{command} needs {needed} authorizations, {given} given")]
    MissingAuthorization {
        /// The command.
        command: crate::wire::CommandCode,
        /// Its authorized handles.
        needed: usize,
        /// Slots given.
        given: usize,
    },
    /// A trial session was used to authorize a command; trial sessions only compute digests.
    #[error("session {0} is a trial session: it can compute a policy but cannot authorize")]
    TrialSession(Handle),
    /// A session past the authorized handles has none of decrypt, encrypt or audit set, so it
    /// would do nothing.
    #[error("an extra (non-authorizing) session {0} must have decrypt, encrypt or audit set")]
    IdleExtraSession(Handle),
    /// The session was flushed or saved: this value no longer refers to a live session.
    #[error("session {0} was already flushed or saved")]
    Closed(Handle),
    /// The response failed verification (its HMAC, its nonces, its session attributes, or its
    /// authorization area's shape): it was changed on the way or did not come from the TPM.
    /// What failed is named; the session is desynchronized.
    #[error("response integrity check failed: {0}")]
    Integrity(&'static str),
    /// The session is desynchronized (see [`SessionState::is_desynchronized`]) and is refused before
    /// anything is sent.
    #[error(
        "session {0} is desynchronized: an earlier command's response was lost, malformed or \
         failed verification, so the TPM may have moved its nonces past ours; it is never sent \
         to the TPM again (only flushed), so it cannot cost a dictionary-attack count"
    )]
    Desynchronized(Handle),
    /// The bind auth value and the salt together are longer than two digests (bytes given).
    #[error("session key material too long: {0} bytes of bind auth value and salt (at most 128)")]
    KeyMaterialTooLong(usize),
    /// A cryptographic operation (HMAC, KDFa, parameter encryption, randomness) failed.
    #[error(transparent)]
    Crypto(#[from] crypto::CryptoError),
}

/// A session's host state as a record: what a session file or a saved context keeps of it,
/// and the way to rebuild a [`SessionState`] from one ([`SessionState::restore`]). It holds the
/// session key (zeroized on drop, redacted in `Debug`).
#[derive(Clone, Debug)]
pub struct StateRecord {
    /// The session's handle (TPM_HT_HMAC_SESSION or TPM_HT_POLICY_SESSION).
    pub handle: Handle,
    /// TPM_SE_HMAC, TPM_SE_POLICY or TPM_SE_TRIAL.
    pub session_type: SessionType,
    /// The session's hash (authHash): HMACs, KDFa, cpHash and rpHash.
    pub hash: HashAlg,
    /// The parameter-encryption algorithm it was started with.
    pub symmetric: Symmetric,
    /// Attributes sent with the next command.
    pub attributes: SessionAttributes,
    /// The session key; empty for an unbound, unsalted session.
    pub session_key: SessionKey,
    /// The session key was derived from a secret (a salt, or a non-empty bind auth value).
    pub key_is_secret: bool,
    /// nonceCaller of the last command (or of StartAuthSession).
    pub nonce_caller: Nonce,
    /// nonceTPM of the last response.
    pub nonce_tpm: Nonce,
    /// The TPM's bound-entity value, if bound (see [`bound_entity`]).
    pub bound_entity: Option<BoundEntity>,
    /// For a policy session: whether PolicyAuthValue or PolicyPassword was run.
    pub policy_auth: PolicyAuth,
    /// Host-side session audit digest, if the session audits.
    pub audit_digest: Option<Digest>,
    /// The owner opted in to parameter encryption with a key anyone can compute.
    pub allow_unprotected_encryption: bool,
    /// The session is desynchronized (see [`SessionState::is_desynchronized`]). It travels
    /// with the record, so a state restored from it is refused like the original; every path
    /// that writes a record to a file refuses one that has it set.
    pub desynchronized: bool,
}

/// How a session was started: what TPM2_StartAuthSession sent and answered, and the secrets
/// that went into its session key (see [`SessionState::start`]).
pub struct SessionStart<'a> {
    /// The new session's handle (the response's sessionHandle).
    pub handle: Handle,
    /// TPM_SE_HMAC, TPM_SE_POLICY or TPM_SE_TRIAL.
    pub session_type: SessionType,
    /// authHash.
    pub hash: HashAlg,
    /// The parameter-encryption algorithm (`symmetric`).
    pub symmetric: Symmetric,
    /// Attributes for the session's first command.
    pub attributes: SessionAttributes,
    /// nonceCaller as sent.
    pub nonce_caller: Nonce,
    /// nonceTPM as answered.
    pub nonce_tpm: Nonce,
    /// The bound entity's name and auth value, for a bound session.
    pub bind: Option<(&'a [u8], &'a [u8])>,
    /// The salt (decrypted form), empty for an unsalted session.
    pub salt: &'a [u8],
    /// Allow parameter encryption even with a key anyone can compute.
    pub allow_unprotected_encryption: bool,
}

/// Host-side state of a TPM session: everything needed to authorize commands with it, save it
/// and continue it in another process. Its fields are private: it is built when a session
/// starts ([`SessionState::start`]) or from a record ([`SessionState::restore`]), and only the
/// engine moves its nonces and audit digest, after a response verified. Nothing can make a
/// desynchronized session usable again:
///
/// ```compile_fail
/// fn resync(state: &mut tpm2_wire::session::SessionState) {
///     state.poisoned = false;
/// }
/// ```
pub struct SessionState {
    handle: Handle,
    session_type: SessionType,
    hash: HashAlg,
    symmetric: Symmetric,
    attributes: SessionAttributes,
    session_key: SessionKey,
    key_is_secret: bool,
    nonce_caller: Nonce,
    nonce_tpm: Nonce,
    bound_entity: Option<BoundEntity>,
    policy_auth: PolicyAuth,
    audit_digest: Option<Digest>,
    allow_unprotected_encryption: bool,
    /// Set once the TPM has flushed the session (continueSession cleared) or it was saved.
    closed: bool,
    /// Set when a command this session took part in was sent but its response was lost,
    /// malformed or failed verification: the TPM may have rolled its nonce past ours, so the
    /// session is desynchronized. An HMAC computed from our state would then fail at the TPM
    /// and, for a DA-protected entity, count towards dictionary-attack lockout, so it never
    /// authorizes, encrypts or audits anything again and is never saved as usable; it can only
    /// be flushed. Atomic so the connection can mark a session whose policy command (which
    /// carries it in the handle area, not through this state) lost its response, behind a
    /// shared reference; it is only ever set, never cleared.
    poisoned: AtomicBool,
}

impl fmt::Debug for SessionState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SessionState")
            .field("handle", &self.handle)
            .field("session_type", &self.session_type)
            .field("hash", &self.hash)
            .field("symmetric", &self.symmetric)
            .field("attributes", &self.attributes)
            .field("session_key", &self.session_key)
            .field("bound", &self.bound_entity.is_some())
            .field("policy_auth", &self.policy_auth)
            .field("closed", &self.closed)
            .field("desynchronized", &self.is_desynchronized())
            .finish()
    }
}

impl SessionState {
    /// The state of a session TPM2_StartAuthSession just started: derives the session key
    /// ([`key::derive_session_key`]) and, for a bound HMAC session, the bound-entity value.
    /// Policy sessions are never bound for HMAC purposes, even when started with a bind.
    pub fn start(start: SessionStart<'_>) -> Result<SessionState, SessionError> {
        let derived = key::derive_session_key(
            start.hash,
            start.bind.map(|(_, auth)| auth),
            start.salt,
            start.nonce_tpm.as_bytes(),
            start.nonce_caller.as_bytes(),
        )?;
        let bound_entity = match start.bind {
            Some((name, auth)) if start.session_type == SessionType::HMAC => {
                Some(bound_entity(name, auth))
            }
            _ => None,
        };
        Ok(SessionState {
            handle: start.handle,
            session_type: start.session_type,
            hash: start.hash,
            symmetric: start.symmetric,
            attributes: start.attributes,
            session_key: derived.key,
            key_is_secret: derived.is_secret,
            nonce_caller: start.nonce_caller,
            nonce_tpm: start.nonce_tpm,
            bound_entity,
            policy_auth: PolicyAuth::None,
            audit_digest: None,
            allow_unprotected_encryption: start.allow_unprotected_encryption,
            closed: false,
            poisoned: AtomicBool::new(false),
        })
    }

    /// The state a record describes (a session file, a context saved by another process).
    pub fn restore(record: StateRecord) -> SessionState {
        SessionState {
            handle: record.handle,
            session_type: record.session_type,
            hash: record.hash,
            symmetric: record.symmetric,
            attributes: record.attributes,
            session_key: record.session_key,
            key_is_secret: record.key_is_secret,
            nonce_caller: record.nonce_caller,
            nonce_tpm: record.nonce_tpm,
            bound_entity: record.bound_entity,
            policy_auth: record.policy_auth,
            audit_digest: record.audit_digest,
            allow_unprotected_encryption: record.allow_unprotected_encryption,
            closed: false,
            poisoned: AtomicBool::new(record.desynchronized),
        }
    }

    /// The record of this state, to write it down. A desynchronized session's record says so
    /// ([`StateRecord::desynchronized`]): restoring it gives a desynchronized state again, and
    /// the file writers refuse it.
    pub fn record(&self) -> StateRecord {
        StateRecord {
            handle: self.handle,
            session_type: self.session_type,
            hash: self.hash,
            symmetric: self.symmetric,
            attributes: self.attributes,
            session_key: self.session_key.clone(),
            key_is_secret: self.key_is_secret,
            nonce_caller: self.nonce_caller.clone(),
            nonce_tpm: self.nonce_tpm.clone(),
            bound_entity: self.bound_entity.clone(),
            policy_auth: self.policy_auth,
            audit_digest: self.audit_digest.clone(),
            allow_unprotected_encryption: self.allow_unprotected_encryption,
            desynchronized: self.is_desynchronized(),
        }
    }

    /// The session's handle (TPM_HT_HMAC_SESSION or TPM_HT_POLICY_SESSION).
    pub fn handle(&self) -> Handle {
        self.handle
    }

    /// TPM_SE_HMAC, TPM_SE_POLICY or TPM_SE_TRIAL.
    pub fn session_type(&self) -> SessionType {
        self.session_type
    }

    /// The session's hash (authHash): HMACs, KDFa, cpHash and rpHash.
    pub fn hash(&self) -> HashAlg {
        self.hash
    }

    /// The parameter-encryption algorithm it was started with.
    pub fn symmetric(&self) -> Symmetric {
        self.symmetric
    }

    /// Attributes sent with the next command (continueSession is kept set by default).
    pub fn attributes(&self) -> SessionAttributes {
        self.attributes
    }

    /// Sets the attributes sent with the next command (decrypt, encrypt, audit,
    /// continueSession, …).
    pub fn set_attributes(&mut self, attributes: SessionAttributes) {
        self.attributes = attributes;
    }

    /// The session key: KDFa(authHash, bind auth ‖ salt, "ATH", nonceTPM, nonceCaller); empty for
    /// an unbound, unsalted session.
    pub fn session_key(&self) -> &SessionKey {
        &self.session_key
    }

    /// nonceCaller of the last command (or of StartAuthSession).
    pub fn nonce_caller(&self) -> &Nonce {
        &self.nonce_caller
    }

    /// nonceTPM of the last response: the "nonceOlder" of the next command.
    pub fn nonce_tpm(&self) -> &Nonce {
        &self.nonce_tpm
    }

    /// The TPM's bound-entity value (name padded and XORed with the bind auth), if bound.
    pub fn bound_entity(&self) -> Option<&BoundEntity> {
        self.bound_entity.as_ref()
    }

    /// For a policy session: whether PolicyAuthValue or PolicyPassword was run, which decides
    /// how the entity's auth value is proven.
    pub fn policy_auth(&self) -> PolicyAuth {
        self.policy_auth
    }

    /// Records that TPM2_PolicyAuthValue or TPM2_PolicyPassword succeeded on this policy
    /// session (or, with [`PolicyAuth::None`], TPM2_PolicyRestart).
    pub fn set_policy_auth(&mut self, policy_auth: PolicyAuth) {
        self.policy_auth = policy_auth;
    }

    /// Host-side session audit digest; `None` until the session is first used for audit.
    pub fn audit_digest(&self) -> Option<&Digest> {
        self.audit_digest.as_ref()
    }

    /// Whether the owner opted in to parameter encryption with a key anyone can compute.
    pub fn allows_unprotected_encryption(&self) -> bool {
        self.allow_unprotected_encryption
    }

    /// Opts in to parameter encryption even though the session key is empty or derived from
    /// no secret (anyone watching the bus can then read what is encrypted).
    pub fn allow_unprotected_encryption(&mut self) {
        self.allow_unprotected_encryption = true;
    }

    /// Whether the session no longer exists in the TPM as far as we know (the TPM ended it
    /// with continueSession clear, it was flushed, saved, or found lost).
    pub fn is_closed(&self) -> bool {
        self.closed
    }

    /// The TPM no longer holds the session under this state (flushed, saved, found lost).
    #[cfg_attr(not(feature = "std"), allow(dead_code))]
    pub(crate) fn mark_closed(&mut self) {
        self.closed = true;
    }

    /// Its saved context was loaded again: the session is live at its handle.
    #[cfg_attr(not(feature = "std"), allow(dead_code))]
    pub(crate) fn mark_loaded(&mut self) {
        self.closed = false;
    }

    /// The session key was derived from a secret (a salt, or a non-empty bind auth value).
    /// An unsalted session bound to an entity with an empty auth value has a key that anyone
    /// who saw the nonces can compute.
    pub fn key_is_secret(&self) -> bool {
        self.key_is_secret
    }

    /// True when nobody but us and the TPM can know the session key. Otherwise parameter
    /// encryption is readable by anyone watching the bus.
    pub fn has_secret_key(&self) -> bool {
        self.key_is_secret && !self.session_key.is_empty()
    }

    /// Whether the session is desynchronized: a command it took part in was sent but its
    /// response was lost, malformed or failed verification. It then never authorizes, encrypts
    /// or audits anything again and is never saved as usable; it can only be flushed.
    pub fn is_desynchronized(&self) -> bool {
        self.poisoned.load(Ordering::Relaxed)
    }

    /// Marks the session desynchronized (for good).
    pub(crate) fn mark_desynchronized(&self) {
        self.poisoned.store(true, Ordering::Relaxed);
    }

    /// Whether this is a policy or trial session.
    pub fn is_policy(&self) -> bool {
        matches!(self.session_type, SessionType::POLICY | SessionType::TRIAL)
    }

    /// Whether this session is bound to the entity `name` whose auth value is `auth`.
    pub fn is_bound_to(&self, name: &[u8], auth: &[u8]) -> bool {
        match &self.bound_entity {
            Some(b) => {
                subtle::ConstantTimeEq::ct_eq(b.as_bytes(), bound_entity(name, auth).as_bytes())
                    .into()
            }
            None => false,
        }
    }

    /// Picks a fresh nonceCaller of the same size as the current one (digest size at least 16).
    pub(crate) fn roll_nonce_caller<R: rand_core::CryptoRngCore + ?Sized>(
        &mut self,
        rng: &mut R,
    ) -> Result<(), SessionError> {
        let len = self.nonce_caller.len().clamp(16, 64);
        let mut buf = [0u8; 64];
        crypto::random_with(rng, &mut buf[..len])?;
        // Cannot fail: len <= 64 = capacity.
        let _ = self.nonce_caller.set(&buf[..len]);
        buf.zeroize();
        Ok(())
    }
}

/// Removes trailing zero bytes, as the TPM does to every auth value before using it in a key
/// or comparing it.
pub fn trim_auth(auth: &[u8]) -> &[u8] {
    let end = auth.iter().rposition(|&b| b != 0).map_or(0, |i| i + 1);
    &auth[..end]
}

/// sizeof(TPMU_NAME) as the TPM reference code and tpm2-tss lay it out (a 66-byte TPMT_HA
/// unioned with a handle, padded to 4-byte alignment).
pub const BOUND_ENTITY_SIZE: usize = 68;

/// The value a TPM keeps for a bound session (see [`bound_entity`]). It carries the bind auth
/// value (for any real name, in clear in the padding), so it is a secret: zeroized on drop,
/// redacted in `Debug`, compared in constant time.
pub type BoundEntity = crate::wire::Secret<BOUND_ENTITY_SIZE>;

/// The value a TPM keeps for a bound session: the entity's name, zero-padded to
/// [`BOUND_ENTITY_SIZE`] bytes, with the auth value (trailing zeros removed, as the TPM does)
/// XORed into its last bytes. tpm2-tss stores the same value in session files. Comparing it,
/// not the name alone, means a session stops counting as bound once the auth value changes.
pub fn bound_entity(name: &[u8], auth: &[u8]) -> BoundEntity {
    let mut buf = [0u8; BOUND_ENTITY_SIZE];
    let n = name.len().min(buf.len());
    buf[..n].copy_from_slice(&name[..n]);
    let auth = trim_auth(auth);
    let auth = &auth[..auth.len().min(buf.len())];
    let start = buf.len() - auth.len();
    for (d, s) in buf[start..].iter_mut().zip(auth) {
        *d ^= s;
    }
    let out = BoundEntity::new(&buf).unwrap_or_default();
    buf.zeroize();
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trailing_zeros_are_trimmed() {
        assert_eq!(trim_auth(b"ab\0\0"), b"ab");
        assert_eq!(trim_auth(b"\0\0"), b"");
        assert_eq!(trim_auth(b"a\0b"), b"a\0b");
    }

    /// Every algorithm the engine does converts to the TPMT_SYM_DEF bytes TPM2_StartAuthSession
    /// and the session files carry, and back.
    #[test]
    fn symmetric_converts_to_the_wire_sym_def_and_back() {
        use crate::wire::Marshal;
        let cases: [(Symmetric, &[u8]); 6] = [
            (Symmetric::Null, &[0x00, 0x10]),
            (
                Symmetric::AesCfb(128),
                &[0x00, 0x06, 0x00, 0x80, 0x00, 0x43],
            ),
            (
                Symmetric::AesCfb(192),
                &[0x00, 0x06, 0x00, 0xC0, 0x00, 0x43],
            ),
            (
                Symmetric::AesCfb(256),
                &[0x00, 0x06, 0x01, 0x00, 0x00, 0x43],
            ),
            (Symmetric::Xor(HashAlg::Sha1), &[0x00, 0x0A, 0x00, 0x04]),
            (Symmetric::Xor(HashAlg::Sha512), &[0x00, 0x0A, 0x00, 0x0D]),
        ];
        for (sym, bytes) in cases {
            let def = SymDef::from(sym);
            assert_eq!(def.to_bytes(), bytes, "{sym:?}");
            assert_eq!(Symmetric::try_from(def).unwrap(), sym);
        }
    }

    /// What the engine cannot do is refused with the algorithm, bits (or XOR hash) and mode.
    #[test]
    fn symmetric_refuses_what_the_engine_cannot_do() {
        let cipher = |algorithm, key_bits, mode| {
            SymDef::Cipher(SymCipher {
                algorithm,
                key_bits,
                mode,
            })
        };
        for (def, fields) in [
            (
                cipher(AlgId::AES, 128, AlgId::OFB),
                (AlgId::AES, 128, AlgId::OFB),
            ),
            (
                cipher(AlgId::AES, 64, AlgId::CFB),
                (AlgId::AES, 64, AlgId::CFB),
            ),
            (
                cipher(AlgId::SM4, 128, AlgId::CFB),
                (AlgId::SM4, 128, AlgId::CFB),
            ),
            (
                cipher(AlgId::TDES, 128, AlgId::CFB),
                (AlgId::TDES, 128, AlgId::CFB),
            ),
            (
                SymDef::Xor {
                    hash: AlgId::SM3_256,
                },
                (AlgId::XOR, AlgId::SM3_256.0, AlgId::NULL),
            ),
            (
                SymDef::Xor { hash: AlgId::NULL },
                (AlgId::XOR, AlgId::NULL.0, AlgId::NULL),
            ),
        ] {
            match Symmetric::try_from(def) {
                Err(SessionError::UnsupportedSymmetric(a, b, m)) => {
                    assert_eq!((a, b, m), fields, "{def:?}")
                }
                other => panic!("{def:?}: {other:?}"),
            }
        }
    }

    #[test]
    fn bound_entity_matches_the_esys_layout() {
        let name = [0xAAu8; 34];
        let b = bound_entity(&name, b"pw123");
        assert_eq!(b.len(), 68);
        assert_eq!(&b.as_bytes()[..34], &name);
        assert!(b.as_bytes()[34..63].iter().all(|&x| x == 0));
        assert_eq!(&b.as_bytes()[63..], b"pw123");
    }
}
