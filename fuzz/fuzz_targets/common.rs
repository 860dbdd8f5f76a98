//! What the session-engine targets share: a session in a known state, the client's side of a
//! command, the HMAC a TPM would put on its response, and the client's check of a response.

use tpm2_wire::crypto::{HashAlg, Hasher, HmacCtx};
use tpm2_wire::session::engine::{self, CommandInfo, Pending, SessionSlot};
use tpm2_wire::session::{
    trim_auth, PolicyAuth, SessionError, SessionKey, SessionState, StateRecord, Symmetric,
};
use tpm2_wire::wire::{
    Auth, AuthResponseRef, CommandCode, Digest, Handle, Nonce, SessionAttributes, SessionType,
    Writer,
};

/// An HMAC session with a secret key of `key_byte`s and fixed nonces, so which paths an input
/// reaches does not depend on randomness.
pub fn session(
    hash: HashAlg,
    symmetric: Symmetric,
    attributes: SessionAttributes,
    key_byte: u8,
) -> SessionState {
    let n = hash.digest_size();
    SessionState::restore(StateRecord {
        handle: Handle(0x0200_0000),
        session_type: SessionType::HMAC,
        hash,
        symmetric,
        attributes,
        session_key: SessionKey::new(&[key_byte; 64][..n]).unwrap(),
        key_is_secret: true,
        nonce_caller: Nonce::new(&[0x01; 64][..n]).unwrap(),
        nonce_tpm: Nonce::new(&[0x02; 64][..n]).unwrap(),
        bound_entity: None,
        policy_auth: PolicyAuth::None,
        audit_digest: None,
        allow_unprotected_encryption: false,
        desynchronized: false,
    })
}

/// NV_Read of the index named `names[0]`, authorized by the session; or, not `authorizing`,
/// GetRandom with the session as an extra one. Either response's first parameter may be
/// encrypted.
pub fn command_info<'n>(authorizing: bool, names: &'n [&'n [u8]]) -> CommandInfo<'n> {
    CommandInfo {
        code: if authorizing {
            CommandCode::NV_READ
        } else {
            CommandCode::GET_RANDOM
        },
        names: if authorizing { names } else { &[] },
        auth_handles: usize::from(authorizing),
        decrypt_param: false,
        encrypt_param: true,
        new_auth: None,
    }
}

/// The client's side of sending the command: its authorization area (with a fresh
/// nonceCaller, as in real use), kept pending until the response.
pub fn authorize(state: &mut SessionState, auth: &Auth, info: &CommandInfo<'_>) -> Pending {
    let mut command = Vec::new();
    let mut params = vec![0, 32, 0, 0];
    let mut slots = [SessionSlot::Session { state, auth }];
    let mut w = Writer::new(&mut command);
    engine::authorize(&mut rand_core::OsRng, &mut w, info, &mut slots, &mut params).unwrap()
}

/// The key of the session's HMACs and parameter encryption for `info`: the session key and,
/// for an authorizing session, the auth value without its trailing zeros (as the TPM drops
/// them).
pub fn key(state: &SessionState, auth: &Auth, info: &CommandInfo<'_>) -> Vec<u8> {
    let mut key = state.session_key().as_bytes().to_vec();
    if info.auth_handles > 0 {
        key.extend_from_slice(trim_auth(auth.as_bytes()));
    }
    key
}

/// The response HMAC a TPM computes for a successful `info.code` with parameter area `params`.
pub fn response_hmac(
    state: &SessionState,
    auth: &Auth,
    info: &CommandInfo<'_>,
    params: &[u8],
    nonce_tpm: &[u8],
    attributes: u8,
) -> Digest {
    let mut rp = Hasher::new(state.hash());
    rp.update(&0u32.to_be_bytes());
    rp.update(&info.code.0.to_be_bytes());
    rp.update(params);
    let rp = rp.finalize();
    let mut m = HmacCtx::new(state.hash(), &key(state, auth, info));
    m.update(rp.as_bytes());
    m.update(nonce_tpm);
    m.update(state.nonce_caller().as_bytes());
    m.update(&[attributes]);
    m.finalize()
}

/// The client's side of the response: verify its authorization area against `pending`, then
/// decrypt its parameter area. Err if it does not verify; the decrypted parameters, or None if
/// decryption failed.
pub fn verify_and_decrypt(
    state: &mut SessionState,
    auth: &Auth,
    info: &CommandInfo<'_>,
    pending: &Pending,
    auths: &[Option<AuthResponseRef<'_>>],
    params: &[u8],
) -> Result<Option<Vec<u8>>, SessionError> {
    let mut slots = [SessionSlot::Session { state, auth }];
    let verified = engine::verify_response(info, &mut slots, pending, auths, params)?;
    let mut decrypted = params.to_vec();
    Ok(
        engine::decrypt_response(verified, info, &slots, &mut decrypted)
            .ok()
            .map(|()| decrypted),
    )
}
