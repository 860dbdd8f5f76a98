//! An in-process stand-in for a TPM's session handling, for benchmarks, allocation tests and
//! fuzzing of the client pipeline where a real TPM (or swtpm) would dominate the timings or
//! cannot be used.
//!
//! [`Responder`] is a [`Transport`] that answers a handful of commands (GetRandom, NV_Write,
//! NV_Read, NV_Increment, Sign) the way a TPM does as far as sessions go: it checks every command HMAC, decrypts
//! the first command parameter, rolls nonceTPM, encrypts the first response parameter and
//! writes correct response HMACs. Its sessions are set up out of band with
//! [`Responder::open_session`], which returns the matching host-side [`SessionState`] (as if
//! the session had been started salted: a random session key both sides know). It is not a
//! TPM: no hierarchies, one shared NV area, "random" bytes that are a fixed pattern, and
//! "signatures" that are HMACs with a key derived from the signing key's handle
//! ([`Responder::fake_signing_key`]), so a test can check one without the responder.
//!
//! Once built it does not allocate: every buffer it needs is reserved up front.

use crate::command::Entity;
use crate::crypto::{self, HashAlg, Hasher, HmacCtx};
use crate::session::{
    trim_auth, PolicyAuth, SessionError, SessionKey, SessionState, StateRecord, Symmetric,
};
use crate::transport::{Transport, TransportError};
use crate::wire::{
    AlgId, Auth, AuthCommand, CommandCode, Digest, Handle, HashValue, HashcheckTicket, Marshal,
    Name, Nonce, PublicKeyRsa, Reader, RsaSignature, SessionAttributes, SessionType, SigScheme,
    Signature, StructureTag, Unmarshal, WireError, Writer, DEFAULT_MAX_COMMAND_SIZE, HEADER_SIZE,
    MAX_NV_BUFFER_SIZE, MAX_SESSIONS,
};

/// Response codes the responder answers with (TPM 2.0 Part 2, TPM_RC).
mod rc {
    pub const BAD_TAG: u32 = 0x01E;
    pub const AUTH_MISSING: u32 = 0x125;
    pub const COMMAND_SIZE: u32 = 0x142;
    pub const COMMAND_CODE: u32 = 0x143;
    pub const NV_RANGE: u32 = 0x146;
    pub const VALUE: u32 = 0x084;
    pub const HANDLE: u32 = 0x08B;
    pub const AUTH_FAIL: u32 = 0x08E;
    pub const SIZE: u32 = 0x095;
    pub const INSUFFICIENT: u32 = 0x09A;

    /// A format-1 code attributed to session `index` (0-based), as the TPM reports it.
    pub fn for_session(code: u32, index: usize) -> u32 {
        code | ((8 + 1 + index as u32) << 8)
    }
}

/// The TPM's side of one session.
struct MirrorSession {
    handle: Handle,
    hash: HashAlg,
    symmetric: Symmetric,
    session_key: SessionKey,
    nonce_tpm: Nonce,
    open: bool,
}

/// An entity the responder knows: its handle, name (for cpHash) and auth value.
struct KnownEntity {
    handle: Handle,
    name: Name,
    auth: Auth,
}

/// What the responder knows about a command it implements.
struct Shape {
    handles: usize,
    auth_handles: usize,
}

fn shape(code: CommandCode) -> Option<Shape> {
    match code {
        CommandCode::GET_RANDOM => Some(Shape {
            handles: 0,
            auth_handles: 0,
        }),
        CommandCode::NV_WRITE | CommandCode::NV_READ | CommandCode::NV_INCREMENT => Some(Shape {
            handles: 2,
            auth_handles: 1,
        }),
        CommandCode::SIGN => Some(Shape {
            handles: 1,
            auth_handles: 1,
        }),
        _ => None,
    }
}

/// A fake TPM for session-protected GetRandom, NV_Write, NV_Read, NV_Increment and Sign. See
/// the module docs.
pub struct Responder {
    sessions: Vec<MirrorSession>,
    entities: Vec<KnownEntity>,
    nv: Vec<u8>,
    /// Command parameters, decrypted in place.
    params: Vec<u8>,
    /// Response parameters, encrypted in place.
    out: Vec<u8>,
}

impl Default for Responder {
    fn default() -> Self {
        Self::new()
    }
}

impl core::fmt::Debug for Responder {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Responder")
            .field("sessions", &self.sessions.len())
            .field("entities", &self.entities.len())
            .finish()
    }
}

/// Error of a command: a response code, or a malformed command (answered with `rc`).
type Outcome<T> = Result<T, u32>;

fn malformed(e: WireError) -> u32 {
    match e {
        WireError::Truncated { .. } => rc::INSUFFICIENT,
        WireError::TooLarge { .. } => rc::SIZE,
        _ => rc::VALUE,
    }
}

/// The payload range of the sized buffer that starts a parameter area.
fn first_sized(params: &[u8]) -> Outcome<core::ops::Range<usize>> {
    let mut r = Reader::new(params);
    let n = r.u16().map_err(malformed)? as usize;
    r.take(n).map_err(malformed)?;
    Ok(2..2 + n)
}

/// sessionKey ‖ authValue, in a buffer wiped on drop.
struct Key {
    buf: [u8; 128],
    len: usize,
}

impl Key {
    fn new(session_key: &[u8], auth: Option<&Auth>) -> Key {
        let mut k = Key {
            buf: [0; 128],
            len: 0,
        };
        for part in [
            session_key,
            auth.map_or(&[][..], |a| trim_auth(a.as_bytes())),
        ] {
            let n = part.len().min(k.buf.len() - k.len);
            k.buf[k.len..k.len + n].copy_from_slice(&part[..n]);
            k.len += n;
        }
        k
    }

    fn bytes(&self) -> &[u8] {
        &self.buf[..self.len]
    }
}

impl Drop for Key {
    fn drop(&mut self) {
        zeroize::Zeroize::zeroize(&mut self.buf);
    }
}

fn crypt(
    s: &MirrorSession,
    key: &Key,
    newer: &[u8],
    older: &[u8],
    data: &mut [u8],
    encrypt: bool,
) -> Outcome<()> {
    let r = match s.symmetric {
        Symmetric::Null => return Err(rc::VALUE),
        // As the TPM does: the XOR mask uses the session hash, not the one in the sym def.
        Symmetric::Xor(_) => crypto::xor_obfuscate(s.hash, key.bytes(), newer, older, data),
        Symmetric::AesCfb(bits) => {
            let direction = if encrypt {
                crypto::Direction::Encrypt
            } else {
                crypto::Direction::Decrypt
            };
            crypto::param_cfb(direction, s.hash, bits, key.bytes(), newer, older, data)
        }
    };
    r.map_err(|_| rc::VALUE)
}

impl Responder {
    /// A responder with no sessions and no NV data.
    pub fn new() -> Self {
        Responder {
            sessions: Vec::with_capacity(MAX_SESSIONS),
            entities: Vec::with_capacity(4),
            nv: vec![0; MAX_NV_BUFFER_SIZE],
            params: Vec::with_capacity(DEFAULT_MAX_COMMAND_SIZE),
            out: Vec::with_capacity(DEFAULT_MAX_COMMAND_SIZE),
        }
    }

    /// Creates a session on both sides: a random session key and nonces, handle
    /// 0x02000000 + n. The returned host state has `attributes` (continueSession is added).
    pub fn open_session(
        &mut self,
        hash: HashAlg,
        symmetric: Symmetric,
        attributes: SessionAttributes,
    ) -> Result<SessionState, SessionError> {
        let size = hash.digest_size();
        let mut bytes = [0u8; 64];
        crypto::random(&mut bytes[..size])?;
        let session_key = SessionKey::new(&bytes[..size])
            .map_err(|_| SessionError::Integrity("session key longer than the largest digest"))?;
        zeroize::Zeroize::zeroize(&mut bytes);
        let nonce = |buf: &mut [u8; 64]| -> Result<Nonce, SessionError> {
            crypto::random(&mut buf[..size])?;
            Ok(Nonce::new(&buf[..size]).unwrap_or_default())
        };
        let nonce_caller = nonce(&mut bytes)?;
        let nonce_tpm = nonce(&mut bytes)?;
        let handle = Handle(0x0200_0000 + self.sessions.len() as u32);
        self.sessions.push(MirrorSession {
            handle,
            hash,
            symmetric,
            session_key: session_key.clone(),
            nonce_tpm: nonce_tpm.clone(),
            open: true,
        });
        Ok(SessionState::restore(StateRecord {
            handle,
            session_type: SessionType::HMAC,
            hash,
            symmetric,
            attributes: attributes.with(SessionAttributes::CONTINUE_SESSION, true),
            session_key,
            key_is_secret: true,
            nonce_caller,
            nonce_tpm,
            bound_entity: None,
            policy_auth: PolicyAuth::None,
            audit_digest: None,
            allow_unprotected_encryption: false,
            desynchronized: false,
        }))
    }

    /// Makes an NV index known under `index` with auth value `auth`; its name is a SHA-256
    /// name made up from the handle (the responder keeps no NV public areas). NV_Read and
    /// NV_Write with this index as both handles use the shared NV area.
    pub fn nv_index(&mut self, index: u32, auth: Auth) -> Entity {
        self.known_entity(b"responder NV index", index, auth)
    }

    /// Makes a signing key known under `handle` with auth value `auth`; its name is made up
    /// from the handle like [`Responder::nv_index`]'s. TPM2_Sign with it answers, for an RSASSA
    /// or RSAPSS scheme, a [`Responder::FAKE_RSA_SIZE`]-octet "signature" that is the HMAC
    /// (with [`Responder::fake_signing_key`]) of the digest repeated, and for an HMAC or NULL
    /// scheme a TPM_ALG_HMAC signature that is that HMAC once.
    pub fn signing_key(&mut self, handle: u32, auth: Auth) -> Entity {
        self.known_entity(b"responder signing key", handle, auth)
    }

    /// Registers an entity at `handle` whose SHA-256 name is made up from `label` and the
    /// handle, so distinct kinds of entity never share a name.
    fn known_entity(&mut self, label: &[u8], handle: u32, auth: Auth) -> Entity {
        let digest = crypto::hash(HashAlg::Sha256, &[label, &handle.to_be_bytes()]);
        let mut name = [0u8; 34];
        name[..2].copy_from_slice(&crate::wire::AlgId::SHA256.0.to_be_bytes());
        name[2..].copy_from_slice(digest.as_bytes());
        let entity = Entity::new(Handle(handle), Name::new(&name).unwrap_or_default());
        self.entities.push(KnownEntity {
            handle: entity.handle,
            name: entity.name.clone(),
            auth,
        });
        entity
    }

    /// The size of the fake RSA signatures: a 2048-bit modulus.
    pub const FAKE_RSA_SIZE: usize = 256;

    /// The HMAC key of the fake signatures by the key at `handle`.
    pub fn fake_signing_key(handle: Handle) -> Digest {
        crypto::hash(
            HashAlg::Sha256,
            &[b"responder signing secret", &handle.0.to_be_bytes()],
        )
    }

    /// The bytes GetRandom answers with: `0, 1, 2, ...`, so a test can check that what it
    /// decrypted is what was sent.
    pub fn random_pattern(n: usize) -> impl Iterator<Item = u8> {
        (0..n).map(|i| i as u8)
    }

    /// Whether `bytes` is the answer to GetRandom(`n`): [`Responder::random_pattern`] of `n`.
    pub fn is_random_answer(bytes: &[u8], n: usize) -> bool {
        bytes.iter().copied().eq(Self::random_pattern(n))
    }

    fn is_signing_key(&self, handle: Handle) -> bool {
        // Signing keys are transient-object handles; NV indices are 0x01xxxxxx.
        handle.0 >> 24 == 0x80 && self.entity(handle).is_some()
    }

    fn entity(&self, handle: Handle) -> Option<&KnownEntity> {
        self.entities.iter().find(|e| e.handle == handle)
    }

    /// Answers one command frame into `response`.
    pub fn respond(&mut self, command: &[u8], response: &mut Vec<u8>) {
        response.clear();
        let code = match self.process(command, response) {
            Ok(()) => return,
            Err(code) => code,
        };
        response.clear();
        let mut w = Writer::new(response);
        w.u16(StructureTag::NO_SESSIONS.0);
        w.u32(HEADER_SIZE as u32);
        w.u32(code);
    }

    fn process(&mut self, command: &[u8], response: &mut Vec<u8>) -> Outcome<()> {
        let mut r = Reader::new(command);
        let tag = StructureTag(r.u16().map_err(malformed)?);
        let size = r.u32().map_err(malformed)? as usize;
        if size != command.len() {
            return Err(rc::COMMAND_SIZE);
        }
        let code = CommandCode(r.u32().map_err(malformed)?);
        let shape = shape(code).ok_or(rc::COMMAND_CODE)?;
        let mut handles = [Handle(0); 2];
        for h in handles.iter_mut().take(shape.handles) {
            *h = Handle(r.u32().map_err(malformed)?);
        }
        let handles = &handles[..shape.handles];

        let mut auths: [Option<AuthCommand>; MAX_SESSIONS] = [None, None, None];
        let mut count = 0;
        match tag {
            StructureTag::NO_SESSIONS if shape.auth_handles > 0 => return Err(rc::AUTH_MISSING),
            StructureTag::NO_SESSIONS => {}
            StructureTag::SESSIONS => {
                let n = r.u32().map_err(malformed)? as usize;
                let mut ar = r.sub(n).map_err(malformed)?;
                while !ar.is_empty() {
                    let slot = auths.get_mut(count).ok_or(rc::SIZE)?;
                    *slot = Some(AuthCommand::unmarshal(&mut ar).map_err(malformed)?);
                    count += 1;
                }
                if count < shape.auth_handles {
                    return Err(rc::AUTH_MISSING);
                }
            }
            _ => return Err(rc::BAD_TAG),
        }
        let wire_params = r.rest();

        // Which entry (if any) decrypts the command and encrypts the response.
        let mut decrypt = None;
        let mut encrypt = None;
        let mut session_of = [None; MAX_SESSIONS];
        for (i, a) in auths.iter().enumerate().take(count) {
            let Some(a) = a else { continue };
            if a.session_handle == Handle::RS_PW {
                if i >= shape.auth_handles {
                    return Err(rc::for_session(rc::VALUE, i));
                }
                continue;
            }
            let s = self
                .sessions
                .iter()
                .position(|s| s.open && s.handle == a.session_handle)
                .ok_or(rc::for_session(rc::HANDLE, i))?;
            session_of[i] = Some(s);
            if a.attributes.contains(SessionAttributes::DECRYPT) {
                decrypt = Some(i);
            }
            if a.attributes.contains(SessionAttributes::ENCRYPT) {
                encrypt = Some(i);
            }
        }

        let names = self.names(handles)?;
        // Auth values of the authorized handles, copied so the sessions can be updated below.
        let mut entity_auth: [Option<Auth>; 2] = [None, None];
        for (slot, h) in entity_auth.iter_mut().zip(handles).take(shape.auth_handles) {
            *slot = self.entity(*h).map(|e| e.auth.clone());
        }
        let auth_of = |i: usize| entity_auth.get(i).and_then(Option::as_ref);

        // Check every authorization before anything is decrypted or executed.
        for (i, a) in auths.iter().enumerate().take(count) {
            let Some(a) = a else { continue };
            let Some(s) = session_of[i] else {
                let want = auth_of(i).map_or(&[][..], |x| trim_auth(x.as_bytes()));
                if trim_auth(a.hmac.as_bytes()) != want {
                    return Err(rc::for_session(rc::AUTH_FAIL, i));
                }
                continue;
            };
            let s = &self.sessions[s];
            let mut h = Hasher::new(s.hash);
            h.update(&code.0.to_be_bytes());
            for n in names.iter().take(shape.handles) {
                h.update(n.as_bytes());
            }
            h.update(wire_params);
            let cp = h.finalize();
            let key = Key::new(s.session_key.as_bytes(), auth_of(i));
            let mut m = HmacCtx::new(s.hash, key.bytes());
            m.update(cp.as_bytes());
            m.update(a.nonce.as_bytes());
            m.update(s.nonce_tpm.as_bytes());
            if i == 0 && shape.auth_handles > 0 {
                let extra_dec = decrypt.filter(|&d| d != 0);
                let extra_enc = encrypt.filter(|&e| e != 0 && Some(e) != decrypt);
                for j in [extra_dec, extra_enc].into_iter().flatten() {
                    if let Some(x) = session_of[j] {
                        m.update(self.sessions[x].nonce_tpm.as_bytes());
                    }
                }
            }
            m.update(&[a.attributes.0]);
            if !m.verify(a.hmac.as_bytes()) {
                return Err(rc::for_session(rc::AUTH_FAIL, i));
            }
        }

        self.params.clear();
        self.params.extend_from_slice(wire_params);
        if let (Some(d), Some(a)) = (decrypt, decrypt.and_then(|d| auths[d].as_ref())) {
            let range = first_sized(&self.params)?;
            let s = &self.sessions[session_of[d].ok_or(rc::VALUE)?];
            let key = Key::new(s.session_key.as_bytes(), auth_of(d));
            crypt(
                s,
                &key,
                a.nonce.as_bytes(),
                s.nonce_tpm.as_bytes(),
                &mut self.params[range],
                false,
            )?;
        }

        self.out.clear();
        self.execute(code, handles)?;

        // Success: roll nonceTPM, encrypt, and answer with one HMAC per session.
        for (i, a) in auths.iter().enumerate().take(count) {
            if let (Some(s), Some(a)) = (session_of[i], a) {
                let s = &mut self.sessions[s];
                let mut buf = [0u8; 64];
                let n = s.hash.digest_size();
                crypto::random(&mut buf[..n]).map_err(|_| rc::VALUE)?;
                let _ = s.nonce_tpm.set(&buf[..n]);
                if !a.attributes.contains(SessionAttributes::CONTINUE_SESSION) {
                    s.open = false;
                }
            }
        }
        if let (Some(e), Some(a)) = (encrypt, encrypt.and_then(|e| auths[e].as_ref())) {
            let range = first_sized(&self.out)?;
            let s = &self.sessions[session_of[e].ok_or(rc::VALUE)?];
            let key = Key::new(s.session_key.as_bytes(), auth_of(e));
            crypt(
                s,
                &key,
                s.nonce_tpm.as_bytes(),
                a.nonce.as_bytes(),
                &mut self.out[range],
                true,
            )?;
        }

        let mut w = Writer::new(response);
        w.u16(tag.0);
        let size_at = w.placeholder_u32();
        w.u32(0);
        if tag == StructureTag::SESSIONS {
            w.u32(self.out.len() as u32);
        }
        w.bytes(&self.out);
        for (i, a) in auths.iter().enumerate().take(count) {
            let Some(a) = a else { continue };
            let Some(s) = session_of[i] else {
                // Password: empty nonce, the attributes, empty HMAC.
                w.u16(0);
                w.u8(a.attributes.0);
                w.u16(0);
                continue;
            };
            let s = &self.sessions[s];
            let mut h = Hasher::new(s.hash);
            h.update(&0u32.to_be_bytes());
            h.update(&code.0.to_be_bytes());
            h.update(&self.out);
            let rp = h.finalize();
            let key = Key::new(s.session_key.as_bytes(), auth_of(i));
            let mut m = HmacCtx::new(s.hash, key.bytes());
            m.update(rp.as_bytes());
            m.update(s.nonce_tpm.as_bytes());
            m.update(a.nonce.as_bytes());
            m.update(&[a.attributes.0]);
            let hmac: Digest = m.finalize();
            w.u16(s.nonce_tpm.len() as u16);
            w.bytes(s.nonce_tpm.as_bytes());
            w.u8(a.attributes.0);
            w.u16(hmac.len() as u16);
            w.bytes(hmac.as_bytes());
        }
        let total = w.len();
        w.patch_u32(size_at, total as u32);
        Ok(())
    }

    /// The names of the command's handles, in order.
    fn names(&self, handles: &[Handle]) -> Outcome<[Name; 2]> {
        let mut names = [Name::empty(), Name::empty()];
        for (i, (n, h)) in names.iter_mut().zip(handles).enumerate() {
            *n = if h.name_is_handle() {
                Name::new(&h.0.to_be_bytes()).unwrap_or_default()
            } else {
                self.entity(*h)
                    .map(|e| e.name.clone())
                    .ok_or(rc::HANDLE | ((1 + i as u32) << 8))?
            };
        }
        Ok(names)
    }

    /// Runs the command on the decrypted parameters, writing the response parameters.
    fn execute(&mut self, code: CommandCode, handles: &[Handle]) -> Outcome<()> {
        if code == CommandCode::SIGN && !handles.first().is_some_and(|h| self.is_signing_key(*h)) {
            return Err(rc::HANDLE | (1 << 8));
        }
        let mut r = Reader::new(&self.params);
        let mut w = Writer::new(&mut self.out);
        match code {
            CommandCode::GET_RANDOM => {
                let n = (r.u16().map_err(malformed)? as usize).min(64);
                r.finish().map_err(malformed)?;
                w.u16(n as u16);
                for b in Self::random_pattern(n) {
                    w.u8(b);
                }
            }
            CommandCode::NV_WRITE => {
                let n = r.u16().map_err(malformed)? as usize;
                let data = r.take(n).map_err(malformed)?;
                let offset = r.u16().map_err(malformed)? as usize;
                r.finish().map_err(malformed)?;
                let dst = self
                    .nv
                    .get_mut(offset..offset + data.len())
                    .ok_or(rc::NV_RANGE)?;
                dst.copy_from_slice(data);
            }
            CommandCode::NV_READ => {
                let n = r.u16().map_err(malformed)? as usize;
                let offset = r.u16().map_err(malformed)? as usize;
                r.finish().map_err(malformed)?;
                let src = self.nv.get(offset..offset + n).ok_or(rc::NV_RANGE)?;
                w.u16(n as u16);
                w.bytes(src);
            }
            CommandCode::NV_INCREMENT => {
                // The first 8 octets of the NV area are the counter, big-endian.
                r.finish().map_err(malformed)?;
                let mut value = [0u8; 8];
                value.copy_from_slice(&self.nv[..8]);
                let next = u64::from_be_bytes(value)
                    .checked_add(1)
                    .ok_or(rc::NV_RANGE)?;
                self.nv[..8].copy_from_slice(&next.to_be_bytes());
            }
            CommandCode::SIGN => {
                let digest = Digest::unmarshal(&mut r).map_err(malformed)?;
                let scheme = SigScheme::unmarshal(&mut r).map_err(malformed)?;
                let ticket = HashcheckTicket::unmarshal(&mut r).map_err(malformed)?;
                r.finish().map_err(malformed)?;
                if ticket.tag != StructureTag::HASHCHECK {
                    return Err(rc::VALUE);
                }
                let hash_id = match scheme {
                    SigScheme::Null => AlgId::SHA256,
                    SigScheme::RsaSsa { hash }
                    | SigScheme::RsaPss { hash }
                    | SigScheme::Hmac { hash } => hash,
                    _ => return Err(rc::VALUE),
                };
                let hash = HashAlg::from_alg_id(hash_id).map_err(|_| rc::VALUE)?;
                if digest.len() != hash.digest_size() {
                    return Err(rc::SIZE);
                }
                let key = Self::fake_signing_key(handles[0]);
                let mac = crypto::hmac(hash, key.as_bytes(), &[digest.as_bytes()]);
                let signature = match scheme {
                    SigScheme::RsaSsa { .. } | SigScheme::RsaPss { .. } => {
                        let mut sig = [0u8; Self::FAKE_RSA_SIZE];
                        for (b, m) in sig.iter_mut().zip(mac.as_bytes().iter().cycle()) {
                            *b = *m;
                        }
                        let rsa = RsaSignature {
                            hash: hash_id,
                            sig: PublicKeyRsa::new(&sig).map_err(|_| rc::SIZE)?,
                        };
                        if matches!(scheme, SigScheme::RsaSsa { .. }) {
                            Signature::RsaSsa(rsa)
                        } else {
                            Signature::RsaPss(rsa)
                        }
                    }
                    _ => Signature::Hmac(
                        HashValue::new(hash_id, mac.as_bytes()).map_err(|_| rc::VALUE)?,
                    ),
                };
                signature.marshal(&mut w);
            }
            _ => return Err(rc::COMMAND_CODE),
        }
        Ok(())
    }
}

impl Transport for Responder {
    fn transact(&mut self, command: &[u8], response: &mut Vec<u8>) -> Result<(), TransportError> {
        self.respond(command, response);
        Ok(())
    }

    fn describe(&self) -> String {
        "in-process session responder".into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::command::{GetRandom, NvRead, NvWrite};
    use crate::session::engine::SessionSlot;
    use crate::wire::MaxNvBuffer;
    use crate::Tpm;

    fn pw(s: &str) -> Auth {
        Auth::new(s.as_bytes()).unwrap()
    }

    /// An unencrypted SHA-256 session of `resp`, and the client over it.
    fn plain_session_over(mut resp: Responder) -> (Tpm, SessionState) {
        let s = resp
            .open_session(
                HashAlg::Sha256,
                Symmetric::Null,
                SessionAttributes::default(),
            )
            .unwrap();
        (Tpm::new(Box::new(resp)), s)
    }

    #[test]
    fn encrypted_nv_round_trip_and_get_random_through_the_client() {
        for sym in [Symmetric::AesCfb(128), Symmetric::Xor(HashAlg::Sha256)] {
            for hash in [HashAlg::Sha1, HashAlg::Sha256, HashAlg::Sha384] {
                let mut resp = Responder::new();
                let auth = pw("nv secret");
                let nv = resp.nv_index(0x0100_0001, auth.clone());
                let dec = SessionAttributes(SessionAttributes::DECRYPT);
                let mut s = resp.open_session(hash, sym, dec).unwrap();
                let tpm = Tpm::new(Box::new(resp));
                let data: Vec<u8> = (0..300u32).map(|i| (i * 7) as u8).collect();
                tpm.execute(
                    &NvWrite {
                        auth_handle: nv.clone(),
                        nv_index: nv.clone(),
                        data: MaxNvBuffer::new(&data).unwrap(),
                        offset: 10,
                    },
                    &mut [SessionSlot::Session {
                        state: &mut s,
                        auth: &auth,
                    }],
                )
                .unwrap();
                // NV_Write has no response parameter, NV_Read no command TPM2B: switch sides.
                s.set_attributes(
                    s.attributes()
                        .with(SessionAttributes::DECRYPT, false)
                        .with(SessionAttributes::ENCRYPT, true),
                );
                let r = tpm
                    .execute(
                        &NvRead {
                            auth_handle: nv.clone(),
                            nv_index: nv.clone(),
                            size: 300,
                            offset: 10,
                        },
                        &mut [SessionSlot::Session {
                            state: &mut s,
                            auth: &auth,
                        }],
                    )
                    .unwrap();
                assert_eq!(r.data.as_bytes(), &data[..], "{sym:?} {hash:?}");
                let empty = Auth::empty();
                let r = tpm
                    .execute(
                        &GetRandom {
                            bytes_requested: 32,
                        },
                        &mut [SessionSlot::Session {
                            state: &mut s,
                            auth: &empty,
                        }],
                    )
                    .unwrap();
                assert!(Responder::is_random_answer(r.random_bytes.as_bytes(), 32));
            }
        }
    }

    #[test]
    fn wrong_auth_value_is_refused_with_auth_fail() {
        let mut resp = Responder::new();
        let nv = resp.nv_index(0x0100_0001, pw("right"));
        let (tpm, mut s) = plain_session_over(resp);
        let wrong = pw("wrong");
        let e = tpm
            .execute(
                &NvRead {
                    auth_handle: nv.clone(),
                    nv_index: nv,
                    size: 4,
                    offset: 0,
                },
                &mut [SessionSlot::Session {
                    state: &mut s,
                    auth: &wrong,
                }],
            )
            .unwrap_err();
        assert_eq!(e.response_code().map(|c| c.0), Some(0x98E));
    }

    #[test]
    fn sign_answers_only_for_a_signing_key_and_a_digest_of_the_scheme_hash() {
        use crate::command::Sign;
        use crate::wire::{SigScheme, Ticket};
        let mut resp = Responder::new();
        let auth = pw("key");
        let key = resp.signing_key(0x8000_0002, auth.clone());
        let nv = resp.nv_index(0x0100_0003, auth.clone());
        let (tpm, mut s) = plain_session_over(resp);
        let mut sign = |handle: &Entity, digest: &[u8]| {
            tpm.execute(
                &Sign {
                    key_handle: handle.clone(),
                    digest: Digest::new(digest).unwrap(),
                    in_scheme: SigScheme::Hmac {
                        hash: AlgId::SHA384,
                    },
                    validation: Ticket::null(StructureTag::HASHCHECK),
                },
                &mut [SessionSlot::Session {
                    state: &mut s,
                    auth: &auth,
                }],
            )
        };
        let ok = sign(&key, &[7; 48]).unwrap();
        let mac = crypto::hmac(
            HashAlg::Sha384,
            Responder::fake_signing_key(key.handle).as_bytes(),
            &[&[7; 48]],
        );
        assert_eq!(
            ok.signature,
            Signature::Hmac(HashValue::new(AlgId::SHA384, mac.as_bytes()).unwrap())
        );
        let code = |r: crate::Result<_>| r.unwrap_err().response_code().map(|c| c.0);
        assert_eq!(code(sign(&key, &[7; 32])), Some(rc::SIZE));
        assert_eq!(code(sign(&nv, &[7; 48])), Some(rc::HANDLE | (1 << 8)));
    }

    #[test]
    fn arbitrary_frames_get_an_answer_and_no_panic() {
        let mut resp = Responder::new();
        let mut out = Vec::new();
        let mut seed = 1u32;
        for len in 0..600usize {
            let mut frame: Vec<u8> = (0..len)
                .map(|_| {
                    seed = seed.wrapping_mul(1_103_515_245).wrapping_add(12345);
                    (seed >> 16) as u8
                })
                .collect();
            if len >= 10 {
                frame[..2].copy_from_slice(&[0x80, 0x02]);
                frame[2..6].copy_from_slice(&(len as u32).to_be_bytes());
                frame[6..10].copy_from_slice(&[0, 0, 1, [0x7B, 0x37, 0x4E][len % 3]]);
            }
            resp.respond(&frame, &mut out);
            assert!(out.len() >= HEADER_SIZE);
        }
    }
}
