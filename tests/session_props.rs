//! Properties of the session engine without a TPM: for random keys, nonces, auth values,
//! names and parameters, a command authorized by the engine verifies on a simulated TPM that
//! applies the TPM's key rules (written out here independently), the TPM's response verifies
//! and decrypts on the host, and any flipped bit, shortened or emptied response HMAC is
//! rejected, after which the session is refused without anything sent. Bound sessions also
//! authorize entities other than the one they are bound to, where the TPM puts that entity's
//! auth value back into the HMAC key.

use hmac::{Hmac, Mac};
use proptest::prelude::*;
use tpm2_wire::crypto::{self, HashAlg};
use tpm2_wire::session::engine::{self, CommandInfo, SessionSlot};
use tpm2_wire::session::StateRecord;
use tpm2_wire::session::{bound_entity, PolicyAuth, SessionError, SessionState, Symmetric};
use tpm2_wire::wire::{
    Auth, AuthResponseRef, CommandCode, Handle, Nonce, Reader, Secret, SessionAttributes,
    SessionType, Writer,
};

fn mac(alg: HashAlg, key: &[u8], parts: &[&[u8]]) -> Vec<u8> {
    macro_rules! run {
        ($h:ty) => {{
            let mut m = <Hmac<$h> as Mac>::new_from_slice(key).unwrap();
            for p in parts {
                m.update(p);
            }
            m.finalize().into_bytes().to_vec()
        }};
    }
    match alg {
        HashAlg::Sha1 => run!(sha1::Sha1),
        HashAlg::Sha256 => run!(sha2::Sha256),
        HashAlg::Sha384 => run!(sha2::Sha384),
        HashAlg::Sha512 => run!(sha2::Sha512),
    }
}

fn trim(auth: &[u8]) -> &[u8] {
    let end = auth.iter().rposition(|&b| b != 0).map_or(0, |i| i + 1);
    &auth[..end]
}

/// The kinds of authorizing session whose key rules differ.
#[derive(Clone, Copy, Debug)]
enum Kind {
    /// HMAC session, not bound to the entity: authValue in the HMAC key.
    Hmac,
    /// HMAC session bound to the entity it authorizes: no authValue in the HMAC key.
    HmacBound,
    /// HMAC session bound to another entity (another name): authValue in the HMAC key.
    HmacBoundElsewhere,
    /// HMAC session bound to an entity of the same name whose auth value has changed since
    /// (the TPM compares name and auth together): authValue in the HMAC key.
    HmacBoundOtherAuth,
    /// Policy session after PolicyAuthValue: authValue in the HMAC key.
    PolicyAuthValue,
    /// Policy session without it: sessionKey alone (and an empty HMAC if that is empty).
    Policy,
}

#[derive(Debug, Clone)]
struct Case {
    kind: Kind,
    hash: HashAlg,
    symmetric: Symmetric,
    session_key: Vec<u8>,
    nonce_caller: Vec<u8>,
    nonce_tpm: Vec<u8>,
    auth: Vec<u8>,
    name: Vec<u8>,
    /// First command parameter (a TPM2B payload) and what follows it.
    cmd_first: Vec<u8>,
    cmd_rest: Vec<u8>,
    rsp_first: Vec<u8>,
    rsp_rest: Vec<u8>,
    decrypt: bool,
    encrypt: bool,
    new_nonce_tpm: Vec<u8>,
    flip_bit: usize,
    /// How many bytes to cut off the response HMAC (1 to all of it).
    cut: usize,
}

/// How a response HMAC is tampered with.
#[derive(Clone, Copy, Debug)]
enum Tamper {
    Flip(usize),
    /// Keep only a prefix, `cut % len + 1` bytes shorter (down to none at all).
    Shorten(usize),
}

fn hash_alg() -> impl Strategy<Value = HashAlg> {
    prop_oneof![
        Just(HashAlg::Sha1),
        Just(HashAlg::Sha256),
        Just(HashAlg::Sha384)
    ]
}

fn case() -> impl Strategy<Value = Case> {
    use proptest::collection::vec;
    (
        prop_oneof![
            Just(Kind::Hmac),
            Just(Kind::HmacBound),
            Just(Kind::HmacBoundElsewhere),
            Just(Kind::HmacBoundOtherAuth),
            Just(Kind::PolicyAuthValue),
            Just(Kind::Policy)
        ],
        hash_alg(),
        0usize..3,
        any::<bool>(),
        vec(any::<u8>(), 0..=20),
        (
            vec(any::<u8>(), 2..=34),
            vec(any::<u8>(), 0..64),
            vec(any::<u8>(), 0..16),
        ),
        (vec(any::<u8>(), 0..64), vec(any::<u8>(), 0..16)),
        any::<bool>(),
        any::<bool>(),
        (any::<usize>(), any::<usize>()),
        any::<[u8; 64]>(),
    )
        .prop_map(
            |(
                kind,
                hash,
                cipher,
                keyed,
                auth,
                (name, cf, cr),
                (rf, rr),
                decrypt,
                encrypt,
                (flip, cut),
                seed,
            )| {
                let n = hash.digest_size();
                let symmetric = match cipher {
                    0 => Symmetric::AesCfb(128),
                    1 => Symmetric::AesCfb(256),
                    // The hash in an XOR definition need not be the session's.
                    _ => Symmetric::Xor(if keyed { hash } else { HashAlg::Sha1 }),
                };
                // Nonces and keys are digest-sized; derive them from the seed so they vary.
                let part = |i: u8| crypto::hash(hash, &[&seed, &[i]]).as_bytes().to_vec();
                Case {
                    kind,
                    hash,
                    symmetric,
                    session_key: if keyed { part(0) } else { Vec::new() },
                    nonce_caller: part(1),
                    nonce_tpm: part(2),
                    auth,
                    name,
                    cmd_first: cf,
                    cmd_rest: cr,
                    rsp_first: rf,
                    rsp_rest: rr,
                    decrypt,
                    encrypt,
                    new_nonce_tpm: part(3)[..n.clamp(16, 32)].to_vec(),
                    flip_bit: flip,
                    cut,
                }
            },
        )
}

fn state(c: &Case) -> SessionState {
    let attrs = SessionAttributes(
        SessionAttributes::CONTINUE_SESSION
            | if c.decrypt {
                SessionAttributes::DECRYPT
            } else {
                0
            }
            | if c.encrypt {
                SessionAttributes::ENCRYPT
            } else {
                0
            },
    );
    SessionState::restore(StateRecord {
        handle: Handle(0x0200_0000),
        session_type: match c.kind {
            Kind::Hmac | Kind::HmacBound | Kind::HmacBoundElsewhere | Kind::HmacBoundOtherAuth => {
                SessionType::HMAC
            }
            _ => SessionType::POLICY,
        },
        hash: c.hash,
        symmetric: c.symmetric,
        attributes: attrs,
        session_key: Secret::new(&c.session_key).unwrap(),
        key_is_secret: !c.session_key.is_empty(),
        nonce_caller: Nonce::new(&c.nonce_caller).unwrap(),
        nonce_tpm: Nonce::new(&c.nonce_tpm).unwrap(),
        bound_entity: match c.kind {
            Kind::HmacBound => Some(bound_entity(&c.name, &c.auth)),
            Kind::HmacBoundElsewhere => Some(bound_entity(&other_name(&c.name), &c.auth)),
            Kind::HmacBoundOtherAuth => Some(bound_entity(&c.name, &other_auth(&c.auth))),
            _ => None,
        },
        policy_auth: match c.kind {
            Kind::PolicyAuthValue => PolicyAuth::AuthValue,
            _ => PolicyAuth::None,
        },
        audit_digest: None,
        allow_unprotected_encryption: true,
        desynchronized: false,
    })
}

/// A name that differs from `name` (in its first byte; the bind auth value lands in the last
/// bytes of the bound-entity value, past any name here, so it cannot cancel the difference).
fn other_name(name: &[u8]) -> Vec<u8> {
    let mut other = name.to_vec();
    other[0] ^= 1;
    other
}

/// An auth value that differs from `auth` even after trailing zeros are trimmed.
fn other_auth(auth: &[u8]) -> Vec<u8> {
    let mut other = trim(auth).to_vec();
    other.push(0x5A);
    other
}

fn sized(first: &[u8], rest: &[u8]) -> Vec<u8> {
    let mut v = (first.len() as u16).to_be_bytes().to_vec();
    v.extend_from_slice(first);
    v.extend_from_slice(rest);
    v
}

/// What the TPM does with parameter encryption: AES-CFB or XOR keyed with sessionKey ‖ authValue.
fn tpm_crypt(c: &Case, newer: &[u8], older: &[u8], data: &mut [u8], encrypt: bool) {
    let key = [&c.session_key[..], trim(&c.auth)].concat();
    let direction = if encrypt {
        crypto::Direction::Encrypt
    } else {
        crypto::Direction::Decrypt
    };
    match c.symmetric {
        Symmetric::AesCfb(bits) => {
            crypto::param_cfb(direction, c.hash, bits, &key, newer, older, data).unwrap()
        }
        // XOR uses the session's hash, not the one in the symmetric definition.
        Symmetric::Xor(_) => crypto::xor_obfuscate(c.hash, &key, newer, older, data).unwrap(),
        Symmetric::Null => unreachable!(),
    }
}

/// The TPM's HMAC key for this session authorizing this entity.
fn tpm_hmac_key(c: &Case) -> Vec<u8> {
    // Only a session bound to this very entity (same name, same auth) leaves it out.
    let with_auth = matches!(
        c.kind,
        Kind::Hmac | Kind::HmacBoundElsewhere | Kind::HmacBoundOtherAuth | Kind::PolicyAuthValue
    );
    let mut key = c.session_key.clone();
    if with_auth {
        key.extend_from_slice(trim(&c.auth));
    }
    key
}

/// Runs one command through the engine and a simulated TPM. With `tamper`, alters the
/// response HMAC and returns the verification result.
fn round_trip(c: &Case, tamper: Option<Tamper>) -> Result<(), SessionError> {
    let code = CommandCode::NV_WRITE;
    let names: [&[u8]; 2] = [&c.name, &c.name];
    let info = CommandInfo {
        code,
        names: &names,
        auth_handles: 1,
        decrypt_param: true,
        encrypt_param: true,
        new_auth: None,
    };
    let auth = Auth::new(&c.auth).unwrap();
    let mut st = state(c);
    let plain = sized(&c.cmd_first, &c.cmd_rest);
    let mut params = plain.clone();
    let mut area = Vec::new();
    let pending = {
        let mut slots = [SessionSlot::Session {
            state: &mut st,
            auth: &auth,
        }];
        engine::authorize(
            &mut rand_core::OsRng,
            &mut Writer::new(&mut area),
            &info,
            &mut slots,
            &mut params,
        )?
    };

    // --- The TPM side ---
    let mut r = Reader::new(&area);
    let size = r.u32().unwrap() as usize;
    assert_eq!(size, area.len() - 4);
    assert_eq!(r.u32().unwrap(), 0x0200_0000);
    let nlen = r.u16().unwrap() as usize;
    let nonce_caller = r.take(nlen).unwrap().to_vec();
    assert_ne!(
        nonce_caller, c.nonce_caller,
        "a fresh nonceCaller per command"
    );
    let attrs = r.u8().unwrap();
    let hlen = r.u16().unwrap() as usize;
    let hmac = r.take(hlen).unwrap().to_vec();
    r.finish().unwrap();

    let cp_hash = crypto::hash(c.hash, &[&code.0.to_be_bytes(), &c.name, &c.name, &params]);
    let key = tpm_hmac_key(c);
    // A policy session whose HMAC key is empty sends and receives an empty HMAC.
    let empty_hmac = matches!(c.kind, Kind::Policy | Kind::PolicyAuthValue) && key.is_empty();
    if empty_hmac {
        assert!(hmac.is_empty());
    } else {
        let expected = mac(
            c.hash,
            &key,
            &[cp_hash.as_bytes(), &nonce_caller, &c.nonce_tpm, &[attrs]],
        );
        assert_eq!(hmac, expected, "command HMAC");
    }
    if c.decrypt {
        if c.cmd_first.len() >= 16 {
            assert_ne!(
                &params[2..2 + c.cmd_first.len()],
                &c.cmd_first[..],
                "encrypted on the wire"
            );
        }
        let mut first = params[2..2 + c.cmd_first.len()].to_vec();
        tpm_crypt(c, &nonce_caller, &c.nonce_tpm, &mut first, false);
        assert_eq!(first, c.cmd_first, "the TPM decrypts the first parameter");
        assert_eq!(&params[2 + c.cmd_first.len()..], &c.cmd_rest[..]);
    } else {
        assert_eq!(params, plain);
    }

    let mut rsp_params = sized(&c.rsp_first, &c.rsp_rest);
    if c.encrypt {
        let n = c.rsp_first.len();
        tpm_crypt(
            c,
            &c.new_nonce_tpm,
            &nonce_caller,
            &mut rsp_params[2..2 + n],
            true,
        );
    }
    let rp_hash = crypto::hash(
        c.hash,
        &[&0u32.to_be_bytes(), &code.0.to_be_bytes(), &rsp_params],
    );
    let rsp_attrs = SessionAttributes(attrs);
    let mut rsp_hmac = if empty_hmac {
        Vec::new()
    } else {
        mac(
            c.hash,
            &key,
            &[
                rp_hash.as_bytes(),
                &c.new_nonce_tpm,
                &nonce_caller,
                &[attrs],
            ],
        )
    };
    match tamper {
        None => {}
        // Nothing to alter: an HMAC where none is due is a tamper too.
        Some(_) if rsp_hmac.is_empty() => rsp_hmac = vec![1],
        Some(Tamper::Flip(bit)) => {
            let bit = bit % (rsp_hmac.len() * 8);
            rsp_hmac[bit / 8] ^= 1 << (bit % 8);
        }
        Some(Tamper::Shorten(cut)) => {
            let keep = rsp_hmac.len() - (cut % rsp_hmac.len() + 1);
            rsp_hmac.truncate(keep);
        }
    }

    // --- Back on the host ---
    let auths = [Some(AuthResponseRef {
        nonce: &c.new_nonce_tpm,
        attributes: rsp_attrs,
        hmac: &rsp_hmac,
    })];
    let mut slots = [SessionSlot::Session {
        state: &mut st,
        auth: &auth,
    }];
    let verified = match engine::verify_response(&info, &mut slots, &pending, &auths, &rsp_params) {
        Ok(verified) => verified,
        Err(e) => {
            assert!(
                st.is_desynchronized(),
                "a failed response poisons the session"
            );
            refused_after_failure(&info, &mut st, &auth, &plain);
            return Err(e);
        }
    };
    engine::decrypt_response(verified, &info, &slots, &mut rsp_params)?;
    assert_eq!(
        rsp_params,
        sized(&c.rsp_first, &c.rsp_rest),
        "response decrypted"
    );
    assert_eq!(
        st.nonce_tpm().as_bytes(),
        &c.new_nonce_tpm[..],
        "nonceTPM rolled"
    );
    assert_eq!(st.nonce_caller().as_bytes(), &nonce_caller[..]);
    Ok(())
}

/// The next command with a session whose response failed: the TPM has rolled its nonce and
/// the host has not, so an HMAC sent now would fail at the TPM (a dictionary-attack count for
/// an entity without noDA). The engine refuses it, and writes no authorization area to send
/// and no encrypted parameter.
fn refused_after_failure(info: &CommandInfo<'_>, st: &mut SessionState, auth: &Auth, plain: &[u8]) {
    let nonce_caller = st.nonce_caller().clone();
    let mut area = Vec::new();
    let mut params = plain.to_vec();
    let r = engine::authorize(
        &mut rand_core::OsRng,
        &mut Writer::new(&mut area),
        info,
        &mut [SessionSlot::Session { state: st, auth }],
        &mut params,
    );
    assert!(
        matches!(r, Err(SessionError::Desynchronized(h)) if h == Handle(0x0200_0000)),
        "the next use of a desynchronized session: {:?}",
        r.map(|p| p.count())
    );
    assert!(area.is_empty(), "nothing to send: {area:02x?}");
    assert_eq!(params, plain, "no parameter encrypted");
    assert_eq!(st.nonce_caller(), &nonce_caller, "no nonce rolled");
}

/// A response HMAC tampered with as `tamper` says fails the integrity check.
fn rejected(c: &Case, tamper: Tamper) -> Result<(), TestCaseError> {
    let r = round_trip(c, Some(tamper));
    prop_assert!(
        matches!(r, Err(SessionError::Integrity(_))),
        "{tamper:?}: tampered HMAC accepted: {r:?}"
    );
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn engine_and_tpm_key_rules_agree(c in case()) {
        prop_assert!(round_trip(&c, None).is_ok());
    }

    #[test]
    fn any_flipped_response_hmac_bit_is_rejected(c in case()) {
        rejected(&c, Tamper::Flip(c.flip_bit))?;
    }

    /// A prefix of the right HMAC (as a verifier comparing only the bytes it was given would
    /// accept), down to an empty one, is rejected.
    #[test]
    fn a_shortened_response_hmac_is_rejected(c in case()) {
        rejected(&c, Tamper::Shorten(c.cut))?;
    }
}
