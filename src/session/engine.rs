//! The generic authorization engine. It works on frames by position (handle names, the
//! authorization area, the first parameter), so no command is ever special-cased:
//!
//! command: roll nonces → encrypt the first parameter → cpHash → HMACs → authorization area
//! response: check the area's shape → verify every HMAC (constant time) → roll state → decrypt
//!
//! Nothing here allocates: hashes, HMACs and keys live in fixed-size stack buffers.

use zeroize::Zeroize;

use super::{PolicyAuth, SessionError, SessionState, Symmetric};
use crate::crypto::{self, Direction, HashAlg, Hasher, HmacCtx};
use crate::wire::{
    Auth, AuthCommandRef, AuthResponseRef, CommandCode, Digest, Handle, Marshal, SessionAttributes,
    SessionType, Writer, MAX_SESSIONS,
};

/// One entry of a command's authorization area.
pub enum SessionSlot<'a> {
    /// TPM_RS_PW with this password (for an authorized handle only).
    Password(&'a Auth),
    /// A session. `auth` is the auth value of the entity it authorizes (ignored for sessions
    /// past the command's authorized handles, which only encrypt, decrypt or audit).
    Session {
        /// The session, updated with the new nonces when the response verifies.
        state: &'a mut SessionState,
        /// The auth value of the entity it authorizes (empty for an extra session).
        auth: &'a Auth,
    },
}

/// What the engine needs to know about a command.
#[derive(Clone, Copy, Debug)]
pub struct CommandInfo<'n> {
    /// The command code (goes into cpHash).
    pub code: CommandCode,
    /// Names of every handle in the handle area, in order.
    pub names: &'n [&'n [u8]],
    /// How many leading handles need authorization.
    pub auth_handles: usize,
    /// The first command parameter is a TPM2B (so it may be encrypted).
    pub decrypt_param: bool,
    /// The first response parameter is a TPM2B.
    pub encrypt_param: bool,
    /// When the command changes the auth value of the entity its first authorization is for:
    /// the value it holds once the command has run (empty when the command deletes the entity
    /// or clears it). The TPM keys the response HMAC with that value.
    pub new_auth: Option<&'n [u8]>,
}

/// Per-slot facts decided when the command was authorized and needed again for its response.
#[derive(Default, Clone)]
pub struct Pending {
    count: usize,
    include_auth: [bool; MAX_SESSIONS],
    sent_empty_hmac: [bool; MAX_SESSIONS],
    sent_attributes: [SessionAttributes; MAX_SESSIONS],
    /// cpHash in the hash of each session that audits the command.
    audit_cp_hash: [Option<Digest>; MAX_SESSIONS],
    decrypt: Option<usize>,
    encrypt: Option<usize>,
    /// The authorized entity's auth value once the command has run, when the command changes
    /// it: the TPM keys the response HMAC with the value it then holds.
    changed_auth: Option<Auth>,
}

impl Pending {
    /// Number of authorization entries written.
    pub fn count(&self) -> usize {
        self.count
    }
}

/// Largest HMAC or cipher key: a session key plus an auth value, each at most one digest.
const MAX_KEY: usize = 128;

/// sessionKey ‖ authValue in a stack buffer that is wiped when dropped.
struct KeyBuf {
    buf: [u8; MAX_KEY],
    len: usize,
}

impl KeyBuf {
    fn new(state: &SessionState, auth: Option<&Auth>) -> Self {
        let mut k = KeyBuf {
            buf: [0; MAX_KEY],
            len: 0,
        };
        k.push(state.session_key.as_bytes());
        if let Some(a) = auth {
            k.push(super::trim_auth(a.as_bytes()));
        }
        k
    }

    fn push(&mut self, b: &[u8]) {
        let n = b.len().min(MAX_KEY - self.len);
        self.buf[self.len..self.len + n].copy_from_slice(&b[..n]);
        self.len += n;
    }

    fn bytes(&self) -> &[u8] {
        &self.buf[..self.len]
    }
}

impl Drop for KeyBuf {
    fn drop(&mut self) {
        self.buf.zeroize();
    }
}

/// Hashes computed once per algorithm and shared by sessions using the same one.
struct HashCache {
    entries: [Option<(HashAlg, Digest)>; MAX_SESSIONS],
}

impl HashCache {
    fn new() -> Self {
        HashCache {
            entries: [None, None, None],
        }
    }

    fn get(&mut self, alg: HashAlg, compute: impl FnOnce(HashAlg) -> Digest) -> Digest {
        for (a, d) in self.entries.iter().flatten() {
            if *a == alg {
                return d.clone();
            }
        }
        let d = compute(alg);
        if let Some(slot) = self.entries.iter_mut().find(|e| e.is_none()) {
            *slot = Some((alg, d.clone()));
        }
        d
    }
}

fn cp_hash(alg: HashAlg, info: &CommandInfo<'_>, params: &[u8]) -> Digest {
    super::cp_hash::cp_hash(alg, info.code, info.names, params)
}

fn rp_hash(alg: HashAlg, code: CommandCode, params: &[u8]) -> Digest {
    let mut h = Hasher::new(alg);
    h.update(&0u32.to_be_bytes());
    h.update(&code.0.to_be_bytes());
    h.update(params);
    h.finalize()
}

/// The sized buffer at the start of a parameter area: its payload range.
fn first_sized(params: &[u8]) -> Result<core::ops::Range<usize>, SessionError> {
    if params.len() < 2 {
        return Err(SessionError::Integrity(
            "first parameter shorter than its size field",
        ));
    }
    let n = u16::from_be_bytes([params[0], params[1]]) as usize;
    if 2 + n > params.len() {
        return Err(SessionError::Integrity(
            "first parameter runs past the parameter area",
        ));
    }
    Ok(2..2 + n)
}

/// Encrypts or decrypts `data` with the session's cipher. `newer`/`older` are the nonces in
/// the order the direction requires (caller then TPM for commands, TPM then caller for responses).
fn crypt(
    state: &SessionState,
    auth: Option<&Auth>,
    newer: &[u8],
    older: &[u8],
    data: &mut [u8],
    encrypt: bool,
) -> Result<(), SessionError> {
    let key = KeyBuf::new(state, auth);
    match state.symmetric {
        Symmetric::Null => Err(SessionError::NoCipher(state.handle)),
        // The TPM derives the XOR mask with the session's hash; the hash named in the
        // session's TPMT_SYM_DEF is not used for it.
        Symmetric::Xor(_) => Ok(crypto::xor_obfuscate(
            state.hash,
            key.bytes(),
            newer,
            older,
            data,
        )?),
        Symmetric::AesCfb(bits) => {
            let direction = if encrypt {
                Direction::Encrypt
            } else {
                Direction::Decrypt
            };
            Ok(crypto::param_cfb(
                direction,
                state.hash,
                bits,
                key.bytes(),
                newer,
                older,
                data,
            )?)
        }
    }
}

fn slot_state<'s>(slot: &'s SessionSlot<'_>) -> Option<&'s SessionState> {
    match slot {
        SessionSlot::Session { state, .. } => Some(state),
        SessionSlot::Password(_) => None,
    }
}

/// Authorizes a command: rolls every session's nonceCaller with fresh bytes from `rng`,
/// encrypts the first parameter in `params` if a session asks for it, and writes the
/// authorization area (with its size) into `w`. Returns what [`verify_response`] needs. The
/// randomness is the caller's (the operating system's generator on a host; firmware and other
/// `no_std` users bring their own).
pub fn authorize<R: rand_core::CryptoRngCore + ?Sized>(
    rng: &mut R,
    w: &mut Writer<'_>,
    info: &CommandInfo<'_>,
    slots: &mut [SessionSlot<'_>],
    params: &mut [u8],
) -> Result<Pending, SessionError> {
    if slots.len() > MAX_SESSIONS {
        return Err(SessionError::TooManySessions(slots.len()));
    }
    if slots.len() < info.auth_handles {
        return Err(SessionError::MissingAuthorization {
            command: info.code,
            needed: info.auth_handles,
            given: slots.len(),
        });
    }
    let mut p = Pending {
        count: slots.len(),
        ..Pending::default()
    };
    for (i, slot) in slots.iter().enumerate() {
        let Some(s) = slot_state(slot) else { continue };
        if s.closed {
            return Err(SessionError::Closed(s.handle));
        }
        if s.is_desynchronized() {
            return Err(SessionError::Desynchronized(s.handle));
        }
        if s.session_type == SessionType::TRIAL {
            return Err(SessionError::TrialSession(s.handle));
        }
        let a = s.attributes;
        if i >= info.auth_handles
            && !(a.contains(SessionAttributes::DECRYPT)
                || a.contains(SessionAttributes::ENCRYPT)
                || a.contains(SessionAttributes::AUDIT))
        {
            return Err(SessionError::IdleExtraSession(s.handle));
        }
        // A session asking for both directions (what `tpm2_startauthsession -c` makes) is
        // used on commands that can encrypt only one of them: the other flag is left out of
        // this command, as ESYS does. A session whose every requested direction is impossible
        // is an error: the caller asked for encryption this command cannot give.
        let wants_dec = a.contains(SessionAttributes::DECRYPT);
        let wants_enc = a.contains(SessionAttributes::ENCRYPT);
        let dec = wants_dec && info.decrypt_param;
        let enc = wants_enc && info.encrypt_param;
        if (wants_dec || wants_enc) && !dec && !enc {
            return Err(SessionError::NotEncryptable {
                command: info.code,
                direction: if wants_dec {
                    "first command"
                } else {
                    "first response"
                },
            });
        }
        let effective = a
            .with(SessionAttributes::DECRYPT, dec)
            .with(SessionAttributes::ENCRYPT, enc);
        p.sent_attributes[i] = effective;
        for (bit, which, slot_ref) in [
            (SessionAttributes::DECRYPT, "decrypt", &mut p.decrypt),
            (SessionAttributes::ENCRYPT, "encrypt", &mut p.encrypt),
        ] {
            if !effective.contains(bit) {
                continue;
            }
            if slot_ref.is_some() {
                return Err(SessionError::DuplicateCrypt(which));
            }
            if s.symmetric == Symmetric::Null {
                return Err(SessionError::NoCipher(s.handle));
            }
            if !s.has_secret_key() && !s.allow_unprotected_encryption {
                return Err(SessionError::EmptyKeyEncryption(s.handle));
            }
            *slot_ref = Some(i);
        }
    }

    // An oversized value is the TPM's to reject; nothing to remember then.
    p.changed_auth = info
        .new_auth
        .and_then(|auth| Auth::new(super::trim_auth(auth)).ok());

    // Fresh nonceCaller for every session, before anything depends on it.
    for slot in slots.iter_mut() {
        if let SessionSlot::Session { state, .. } = slot {
            state.roll_nonce_caller(rng)?;
        }
    }

    if let Some(d) = p.decrypt {
        let range = first_sized(params)?;
        if let SessionSlot::Session { state, auth } = &slots[d] {
            let auth = (d < info.auth_handles).then_some(*auth);
            crypt(
                state,
                auth,
                state.nonce_caller.as_bytes(),
                state.nonce_tpm.as_bytes(),
                &mut params[range],
                true,
            )?;
        }
    }

    // Extra nonces folded into the first session's HMAC (Part 1, 19.6.5): those of a decrypt
    // and an encrypt session that are not the first one, counted once if they are the same.
    let mut extra_nonces: [Option<crate::wire::Nonce>; 2] = [None, None];
    if info.auth_handles > 0 {
        if let Some(d) = p.decrypt.filter(|&d| d != 0) {
            extra_nonces[0] = slot_state(&slots[d]).map(|s| s.nonce_tpm.clone());
        }
        if let Some(e) = p.encrypt.filter(|&e| e != 0 && Some(e) != p.decrypt) {
            extra_nonces[1] = slot_state(&slots[e]).map(|s| s.nonce_tpm.clone());
        }
    }

    let mut cp = HashCache::new();
    let size_at = w.placeholder_u32();
    for (i, slot) in slots.iter_mut().enumerate() {
        let authorizing = i < info.auth_handles;
        match slot {
            SessionSlot::Password(pw) => {
                AuthCommandRef {
                    session_handle: Handle::RS_PW,
                    nonce: &[],
                    attributes: SessionAttributes(SessionAttributes::CONTINUE_SESSION),
                    hmac: pw.as_bytes(),
                }
                .marshal(w);
            }
            SessionSlot::Session { state, auth } => {
                let attrs = p.sent_attributes[i];
                let cp_hash = cp.get(state.hash, |alg| cp_hash(alg, info, params));
                if attrs.contains(SessionAttributes::AUDIT) {
                    p.audit_cp_hash[i] = Some(cp_hash.clone());
                }
                let policy = state.session_type == SessionType::POLICY;
                if authorizing && policy && state.policy_auth == PolicyAuth::Password {
                    // PolicyPassword: the auth value travels in clear instead of an HMAC.
                    p.sent_empty_hmac[i] = false;
                    AuthCommandRef {
                        session_handle: state.handle,
                        nonce: state.nonce_caller.as_bytes(),
                        attributes: attrs,
                        hmac: super::trim_auth(auth.as_bytes()),
                    }
                    .marshal(w);
                    continue;
                }
                let include_auth = authorizing
                    && if policy {
                        state.policy_auth == PolicyAuth::AuthValue
                    } else {
                        !state.is_bound_to(info.names[i], auth.as_bytes())
                    };
                p.include_auth[i] = include_auth;
                let key = KeyBuf::new(state, include_auth.then_some(*auth));
                let hmac = if key.len == 0 && policy {
                    // The TPM accepts an empty HMAC when the key is empty (policy sessions
                    // that need no auth value), and then answers with an empty one.
                    p.sent_empty_hmac[i] = true;
                    Digest::empty()
                } else {
                    let mut m = HmacCtx::new(state.hash, key.bytes());
                    m.update(cp_hash.as_bytes());
                    m.update(state.nonce_caller.as_bytes());
                    m.update(state.nonce_tpm.as_bytes());
                    if i == 0 {
                        for n in extra_nonces.iter().flatten() {
                            m.update(n.as_bytes());
                        }
                    }
                    m.update(&[attrs.0]);
                    m.finalize()
                };
                AuthCommandRef {
                    session_handle: state.handle,
                    nonce: state.nonce_caller.as_bytes(),
                    attributes: attrs,
                    hmac: hmac.as_bytes(),
                }
                .marshal(w);
            }
        }
    }
    w.patch_u32_len_since(size_at);
    Ok(p)
}

/// Proof that a response's authorization area verified: the only way to reach
/// [`decrypt_response`], so a response parameter is never decrypted (and trusted) before its
/// HMACs were checked.
#[must_use = "a verified response still has to be decrypted"]
pub struct Verified {
    encrypt: Option<usize>,
}

/// Verifies a successful response's authorization area against the sessions that authorized
/// the command, then (only if every check passed) rolls their nonces and updates audit
/// digests. Pass the returned [`Verified`] to [`decrypt_response`].
///
/// `auths` are the response's authorization entries; `params` is the response parameter area
/// as received.
pub fn verify_response(
    info: &CommandInfo<'_>,
    slots: &mut [SessionSlot<'_>],
    pending: &Pending,
    auths: &[Option<AuthResponseRef<'_>>],
    params: &[u8],
) -> Result<Verified, SessionError> {
    let count = auths.iter().flatten().count();
    if count != pending.count || slots.len() != pending.count {
        // Every check below must run for every session; a response that drops an entry
        // must not pass as one that had nothing to check.
        desynchronize(slots);
        return Err(SessionError::Integrity(
            "the response does not carry one authorization per session sent",
        ));
    }
    let mut rp = HashCache::new();
    for (i, (slot, a)) in slots.iter().zip(auths.iter().flatten()).enumerate() {
        let ok = match slot {
            SessionSlot::Password(_) => a.nonce.is_empty() && a.hmac.is_empty(),
            SessionSlot::Session { state, auth } => {
                let nonce_ok = !a.nonce.is_empty() && a.nonce.len() <= crate::wire::MAX_DIGEST_SIZE;
                let policy = state.session_type == SessionType::POLICY;
                // PolicyPassword and an empty HMAC key both get an empty HMAC back.
                let password =
                    i < info.auth_handles && policy && state.policy_auth == PolicyAuth::Password;
                let hmac_ok = if password || pending.sent_empty_hmac[i] {
                    a.hmac.is_empty()
                } else {
                    let rp_hash = rp.get(state.hash, |alg| rp_hash(alg, info.code, params));
                    let auth = match &pending.changed_auth {
                        Some(changed) if i == 0 => changed,
                        _ => *auth,
                    };
                    let key = KeyBuf::new(state, pending.include_auth[i].then_some(auth));
                    let mut m = HmacCtx::new(state.hash, key.bytes());
                    m.update(rp_hash.as_bytes());
                    m.update(a.nonce);
                    m.update(state.nonce_caller.as_bytes());
                    m.update(&[a.attributes.0]);
                    m.verify(a.hmac)
                };
                nonce_ok && hmac_ok
            }
        };
        if !ok {
            desynchronize(slots);
            return Err(SessionError::Integrity(
                "response HMAC mismatch: the response was altered or the session state is wrong",
            ));
        }
    }

    // All verified: now commit the new state.
    for (i, (slot, a)) in slots.iter_mut().zip(auths.iter().flatten()).enumerate() {
        let SessionSlot::Session { state, .. } = slot else {
            continue;
        };
        // Length was checked above.
        let _ = state.nonce_tpm.set(a.nonce);
        if !a.attributes.contains(SessionAttributes::CONTINUE_SESSION) {
            state.closed = true;
        }
        if i < info.auth_handles && state.session_type == SessionType::POLICY {
            // The TPM resets a policy session's policy state once it has authorized a command.
            state.policy_auth = PolicyAuth::None;
        }
        if let Some(cp_hash) = &pending.audit_cp_hash[i] {
            let sent = pending.sent_attributes[i];
            if state.audit_digest.is_none() || sent.contains(SessionAttributes::AUDIT_RESET) {
                let zeros = [0u8; 64];
                state.audit_digest = Digest::new(&zeros[..state.hash.digest_size()]).ok();
                // An audit session is no longer bound (the TPM clears isBound).
                state.bound_entity = None;
            }
            let rp_hash = rp.get(state.hash, |alg| rp_hash(alg, info.code, params));
            if let Some(d) = &mut state.audit_digest {
                let mut h = Hasher::new(state.hash);
                h.update(d.as_bytes());
                h.update(cp_hash.as_bytes());
                h.update(rp_hash.as_bytes());
                *d = h.finalize();
            }
        }
    }

    Ok(Verified {
        encrypt: pending.encrypt,
    })
}

/// Decrypts the first response parameter in place if a session asked for response encryption;
/// takes the proof that the response verified.
pub fn decrypt_response(
    verified: Verified,
    info: &CommandInfo<'_>,
    slots: &[SessionSlot<'_>],
    params: &mut [u8],
) -> Result<(), SessionError> {
    if let Some(e) = verified.encrypt {
        let range = first_sized(params)?;
        if let SessionSlot::Session { state, auth } = &slots[e] {
            let auth = (e < info.auth_handles).then_some(*auth);
            crypt(
                state,
                auth,
                state.nonce_tpm.as_bytes(),
                state.nonce_caller.as_bytes(),
                &mut params[range],
                false,
            )?;
        }
    }
    Ok(())
}

/// Marks every session of a command desynchronized (see
/// [`SessionState::is_desynchronized`](super::SessionState::is_desynchronized)): for a response that failed
/// verification here, and for the client when a response was lost or malformed after the
/// command was sent.
pub fn desynchronize(slots: &mut [SessionSlot<'_>]) {
    for slot in slots {
        if let SessionSlot::Session { state, .. } = slot {
            state.mark_desynchronized();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::session::StateRecord;
    use crate::wire::{Nonce, Secret};
    use alloc::vec::Vec;

    /// Deterministic bytes: the test needs no operating-system generator.
    struct Counter(u8);

    impl rand_core::RngCore for Counter {
        fn next_u32(&mut self) -> u32 {
            rand_core::impls::next_u32_via_fill(self)
        }
        fn next_u64(&mut self) -> u64 {
            rand_core::impls::next_u64_via_fill(self)
        }
        fn fill_bytes(&mut self, dest: &mut [u8]) {
            for b in dest {
                self.0 = self.0.wrapping_add(1);
                *b = self.0;
            }
        }
        fn try_fill_bytes(&mut self, dest: &mut [u8]) -> Result<(), rand_core::Error> {
            self.fill_bytes(dest);
            Ok(())
        }
    }

    impl rand_core::CryptoRng for Counter {}

    fn hmac_session() -> SessionState {
        SessionState::restore(StateRecord {
            handle: Handle(0x0200_0000),
            session_type: SessionType::HMAC,
            hash: HashAlg::Sha256,
            symmetric: Symmetric::Null,
            attributes: SessionAttributes(SessionAttributes::CONTINUE_SESSION),
            session_key: Secret::new(&[7; 32]).unwrap(),
            key_is_secret: true,
            nonce_caller: Nonce::new(&[1; 32]).unwrap(),
            nonce_tpm: Nonce::new(&[2; 32]).unwrap(),
            bound_entity: None,
            policy_auth: PolicyAuth::None,
            audit_digest: None,
            allow_unprotected_encryption: false,
            desynchronized: false,
        })
    }

    const NAME: [u8; 4] = [0x40, 0x00, 0x00, 0x01];

    fn info() -> CommandInfo<'static> {
        const NAMES: &[&[u8]] = &[&NAME];
        CommandInfo {
            code: CommandCode::GET_RANDOM,
            names: NAMES,
            auth_handles: 1,
            decrypt_param: false,
            encrypt_param: false,
            new_auth: None,
        }
    }

    /// Authorizes one command with `state`, writing its authorization area into `area`.
    fn authorize_once(
        rng: &mut Counter,
        state: &mut SessionState,
        auth: &Auth,
        area: &mut Vec<u8>,
    ) -> Result<Pending, SessionError> {
        let mut params = [0u8, 8];
        authorize(
            rng,
            &mut Writer::new(area),
            &info(),
            &mut [SessionSlot::Session { state, auth }],
            &mut params,
        )
    }

    /// After a response fails verification the TPM has rolled its nonce and the host has
    /// not, so the next HMAC could only fail at the TPM (a dictionary-attack count for an
    /// entity without noDA): the engine itself refuses the session, whatever caller drives
    /// it, and writes nothing to send.
    #[test]
    fn a_session_whose_response_failed_is_refused_before_anything_is_written() {
        let auth = Auth::new(b"pw").unwrap();
        let nonce = [9u8; 32];
        let hmac = [0u8; 32];
        let forged = AuthResponseRef {
            nonce: &nonce,
            attributes: SessionAttributes(SessionAttributes::CONTINUE_SESSION),
            hmac: &hmac,
        };
        // Both ways a response can fail: a wrong HMAC, and no authorization entry at all.
        let responses: [&[Option<AuthResponseRef<'_>>]; 2] = [&[Some(forged)], &[None]];
        for auths in responses {
            let mut rng = Counter(0);
            let mut state = hmac_session();
            let mut area = Vec::new();
            let pending = authorize_once(&mut rng, &mut state, &auth, &mut area).unwrap();
            assert!(!area.is_empty());
            let failed = verify_response(
                &info(),
                &mut [SessionSlot::Session {
                    state: &mut state,
                    auth: &auth,
                }],
                &pending,
                auths,
                &[],
            );
            assert!(matches!(failed, Err(SessionError::Integrity(_))));
            let nonce_caller = state.nonce_caller().clone();

            let mut area = Vec::new();
            let refused = authorize_once(&mut rng, &mut state, &auth, &mut area);
            assert!(
                matches!(refused, Err(SessionError::Desynchronized(h)) if h == Handle(0x0200_0000)),
                "{:?}",
                refused.map(|p| p.count())
            );
            assert!(area.is_empty(), "nothing to send: {area:02x?}");
            assert_eq!(
                state.nonce_caller(),
                &nonce_caller,
                "no nonce rolled for a refused command"
            );
        }
    }
}
