use proptest::prelude::*;

use super::*;
use crate::crypto::HashAlg;
use crate::session::StateRecord;
use crate::session::{PolicyAuth, SessionError, SessionKey, SessionState, Symmetric};
use crate::wire::{
    Context, ContextData, Digest, Nonce, NvAttributes, NvPublic, Public, Secret, SessionAttributes,
    SymCipher, SymDef, Tpm2bNvPublic, Tpm2bPublic,
};

fn session(kind: PolicyAuth, key: &[u8]) -> EsysSession {
    EsysSession {
        bound_entity: EsysName::empty(),
        symmetric: SymDef::AES_128_CFB,
        auth_hash: AlgId::SHA256,
        session_key: Secret::new(key).unwrap(),
        session_type: SessionType::HMAC,
        attributes: SessionAttributes(SessionAttributes::CONTINUE_SESSION),
        nonce_caller: Nonce::new(&[0x11; 32]).unwrap(),
        nonce_tpm: Nonce::new(&[0x22; 32]).unwrap(),
        policy_auth: kind,
    }
}

fn session_file(s: EsysSession) -> SessionFile {
    SessionFile {
        session_type: s.session_type,
        auth_hash: s.auth_hash,
        context: SavedContext {
            tpm: Context {
                hierarchy: Handle::RH_NULL,
                saved_handle: Handle(0x0200_0000),
                sequence: 7,
                context_blob: ContextData::new(&[0xAB; 100]).unwrap(),
            },
            resource: EsysResource::Session {
                handle: Handle(0x0200_0000),
                name: Name::new(&[2, 0, 0, 0]).unwrap(),
                session: s,
            },
        },
    }
}

/// The offset of the IESYS_SESSION's sizeSessionValue in `session_file(..)`'s bytes.
fn session_value_offset(bytes: &[u8]) -> usize {
    bytes.len() - 4
}

/// Splices a sessionValue into a file we wrote, as tpm2-tools would leave it.
fn with_session_value(mut bytes: Vec<u8>, value: &[u8]) -> Vec<u8> {
    let at = session_value_offset(&bytes);
    bytes[at..at + 2].copy_from_slice(&(value.len() as u16).to_be_bytes());
    bytes.splice(at + 2..at + 2, value.iter().copied());
    let n = bytes.len();
    bytes[n - 2..].copy_from_slice(&(value.len() as u16).to_be_bytes());
    // Grow the context blob size (after 11 header bytes + 8 + 4 + 4 + 8).
    let blob_size_at = 11 + 8 + 16;
    let old = u16::from_be_bytes([bytes[blob_size_at], bytes[blob_size_at + 1]]);
    bytes[blob_size_at..blob_size_at + 2]
        .copy_from_slice(&(old + value.len() as u16).to_be_bytes());
    bytes
}

#[test]
fn session_file_round_trips() {
    let f = session_file(session(PolicyAuth::Password, &[0x5A; 32]));
    let bytes = f.to_bytes();
    assert_eq!(
        &bytes[..11],
        &[0xBA, 0xDC, 0xC0, 0xDE, 0, 0, 0, 2, 0, 0, 0x0B]
    );
    assert_eq!(SessionFile::from_bytes(&bytes).unwrap(), f);
    // The embedded context starts right after the header and is a valid context file alone
    // for a context whose resource we accept.
    assert_eq!(SavedContext::from_bytes(&bytes[11..]).unwrap(), f.context);
}

#[test]
fn session_value_is_skipped_and_never_rewritten() {
    let f = session_file(session(PolicyAuth::None, &[0x5A; 32]));
    let password = b"correct horse";
    let mut value = vec![0x5A; 32];
    value.extend_from_slice(password);
    let leaked = with_session_value(f.to_bytes(), &value);
    assert!(leaked.windows(password.len()).any(|w| w == password));
    let parsed = SessionFile::from_bytes(&leaked).unwrap();
    assert_eq!(parsed, f);
    let rewritten = parsed.to_bytes();
    assert!(!rewritten.windows(password.len()).any(|w| w == password));
    assert_eq!(rewritten, f.to_bytes());
}

#[test]
fn secrets_do_not_show_in_debug() {
    let f = session_file(session(PolicyAuth::None, b"sessionkeysessionkey"));
    let dbg = format!("{f:?}");
    assert!(!dbg.contains("sessionkey"));
    assert!(!dbg.contains("73657373696f6e6b6579"));
}

#[test]
fn sym_def_marshals_like_tpm2_tss() {
    let mut s = session(PolicyAuth::None, &[]);
    for (sym, tail) in [
        (SymDef::Null, vec![0x00, 0x10]),
        (
            SymDef::Xor {
                hash: AlgId::SHA256,
            },
            vec![0x00, 0x0A, 0x00, 0x0B],
        ),
        (
            SymDef::AES_128_CFB,
            vec![0x00, 0x06, 0x00, 0x80, 0x00, 0x43],
        ),
    ] {
        s.symmetric = sym;
        let bytes = session_file(s.clone()).to_bytes();
        // symmetric follows handle, name(2+4), rsrcType, bound entity, encryptedSalt, salt.
        let at = 11 + 8 + 16 + 2 + 4 + 2 + 100 + 2 + 4 + 6 + 4 + 6;
        assert_eq!(&bytes[at..at + tail.len()], &tail[..]);
        let back = SessionFile::from_bytes(&bytes).unwrap();
        assert_eq!(back.session().unwrap().symmetric, sym);
    }
}

#[test]
fn bound_entity_pads_and_xors_the_auth_at_the_end() {
    let name = Name::new(&[0x00, 0x0B, 1, 2, 3]).unwrap();
    let b = esys_bound_entity(&name, b"pw");
    assert_eq!(b.len(), 68);
    assert_eq!(&b.as_bytes()[..5], name.as_bytes());
    assert!(b.as_bytes()[5..66].iter().all(|&x| x == 0));
    assert_eq!(&b.as_bytes()[66..], b"pw");
    // A full-size name overlapping the auth is XORed, not overwritten.
    let full = Name::new(&[0xFF; 66]).unwrap();
    let b = esys_bound_entity(&full, &[0x0F; 3]);
    assert_eq!(&b.as_bytes()[64..], &[0xFF, 0xFF ^ 0x0F, 0x0F, 0x0F]);
    // Trailing zeros of the auth value do not count, as in the TPM.
    assert_eq!(
        esys_bound_entity(&name, b"pw\0\0"),
        esys_bound_entity(&name, b"pw")
    );
}

/// The bound entity holds the bind auth value in clear (XORed into zero padding): dropping it
/// must wipe it, and `Debug` of a loaded session must not show it.
#[test]
fn bound_entity_is_wiped_on_drop_and_redacted() {
    let name = Name::new(&[0x00, 0x0B, 1, 2, 3]).unwrap();
    let mut s = session(PolicyAuth::None, &[]);
    s.bound_entity = esys_bound_entity(&name, b"s3cr3t");
    let shown = format!("{s:?}");
    assert!(
        !shown.contains(&hex(b"s3cr3t")) && !shown.contains("s3cr3t"),
        "{shown}"
    );
    let shown = format!("{:?}", session_file(s.clone()));
    assert!(!shown.contains(&hex(b"s3cr3t")), "{shown}");

    let after =
        crate::os::testing::bytes_after_drop::<EsysName>(esys_bound_entity(&name, b"s3cr3t"));
    assert!(!after.windows(6).any(|w| w == b"s3cr3t"), "{after:?}");
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

fn other_resources() -> Vec<EsysResource> {
    vec![
        EsysResource::None {
            handle: Handle::RH_OWNER,
            name: Name::new(&[0x40, 0, 0, 1]).unwrap(),
        },
        EsysResource::Key {
            handle: Handle(0x8100_0001),
            name: Name::new(&[0x00, 0x0B, 9, 9]).unwrap(),
            public: Tpm2bPublic(Public::rsa_2048_storage_parent()),
        },
        EsysResource::Nv {
            handle: Handle(0x0150_0000),
            name: Name::new(&[0x00, 0x0B, 7]).unwrap(),
            nv_public: Tpm2bNvPublic(NvPublic {
                nv_index: Handle(0x0150_0000),
                name_alg: AlgId::SHA256,
                attributes: NvAttributes(0x0006_0006),
                auth_policy: Digest::new(&[6; 14]).unwrap(),
                data_size: 6,
            }),
        },
    ]
}

#[test]
fn every_resource_kind_round_trips_in_both_forms() {
    for r in other_resources() {
        let ctx = SavedContext {
            tpm: Context {
                hierarchy: Handle::RH_OWNER,
                saved_handle: Handle(0x8000_0000),
                sequence: u64::MAX,
                context_blob: ContextData::new(&[1; 10]).unwrap(),
            },
            resource: r.clone(),
        };
        assert_eq!(SavedContext::from_bytes(&ctx.to_bytes()).unwrap(), ctx);
        assert_eq!(
            ObjectFile::from_bytes(&ctx.to_bytes()).unwrap(),
            ObjectFile::Context(ctx.clone())
        );
        assert_eq!(
            ObjectFile::from_bytes(&r.to_bytes()).unwrap(),
            ObjectFile::Serialized(r.clone())
        );
        // Not a session: a session file must refuse it, both ways.
        let sf = SessionFile {
            session_type: SessionType::HMAC,
            auth_hash: AlgId::SHA256,
            context: ctx,
        };
        assert!(matches!(
            SessionFile::from_bytes(&sf.to_bytes()),
            Err(FileError::NotASession { .. })
        ));
        let dir = tempfile::tempdir().unwrap();
        assert!(write_session_file(&dir.path().join("s"), &sf).is_err());
        assert!(!dir.path().join("s").exists());
    }
}

#[test]
fn resource_type_errors() {
    let r = &other_resources()[0];
    let mut bytes = r.to_bytes();
    let at = 4 + 2 + 4;
    bytes[at + 3] = 4;
    assert!(matches!(
        EsysResource::from_bytes(&bytes),
        Err(FileError::DegradedSession)
    ));
    bytes[at + 3] = 5;
    assert!(matches!(
        EsysResource::from_bytes(&bytes),
        Err(FileError::UnknownResourceType(5))
    ));
}

#[test]
fn header_and_reserved_field_errors() {
    let f = session_file(session(PolicyAuth::None, &[]));
    let good = f.to_bytes();
    let edit = |at: usize, v: &[u8]| {
        let mut b = good.clone();
        b[at..at + v.len()].copy_from_slice(v);
        SessionFile::from_bytes(&b).unwrap_err()
    };
    assert!(matches!(
        edit(11 + 8 + 16 + 2, &[0, 0, 0, 1]),
        FileError::NonZeroReserved { .. }
    ));
    assert!(matches!(
        edit(11 + 8 + 16 + 2 + 4 + 2 + 100, &[0, 9]),
        FileError::NonZeroReserved { .. }
    ));
    assert!(matches!(
        edit(8, &[0x01]),
        FileError::SessionTypeMismatch { .. }
    ));
    assert!(matches!(
        edit(8, &[0x02]),
        FileError::BadValue {
            what: "session type",
            value: 2
        }
    ));
    assert!(matches!(
        edit(9, &[0x00, 0x0C]),
        FileError::AuthHashMismatch { .. }
    ));
    let e = edit(4, &[0, 0, 0, 1]);
    assert!(e.to_string().contains("object context file"), "{e}");
    assert!(matches!(
        SavedContext::from_bytes(&good).unwrap_err(),
        FileError::BadVersion { found: 2, .. }
    ));
    // Trailing bytes after the file and inside the blob.
    let mut long = good.clone();
    long.push(0);
    assert!(matches!(
        SessionFile::from_bytes(&long),
        Err(FileError::TrailingBytes { .. })
    ));
    let mut inner = good.clone();
    inner.push(0);
    let blob_size_at = 11 + 8 + 16;
    let old = u16::from_be_bytes([inner[blob_size_at], inner[blob_size_at + 1]]);
    inner[blob_size_at..blob_size_at + 2].copy_from_slice(&(old + 1).to_be_bytes());
    assert!(matches!(
        SessionFile::from_bytes(&inner),
        Err(FileError::TrailingBytes {
            what: "ESYS context data",
            count: 1
        })
    ));
}

#[test]
fn oversized_context_is_refused_when_writing() {
    let mut f = session_file(session(PolicyAuth::None, &[]));
    f.context.tpm.context_blob = ContextData::new(&[0; MAX_CONTEXT_SIZE]).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let e = write_session_file(&dir.path().join("big"), &f).unwrap_err();
    assert!(
        matches!(e.without_path(), FileError::TooLarge { .. }),
        "{e}"
    );
    assert!(matches!(
        SessionFile::from_bytes(&f.to_bytes()),
        Err(FileError::TooLarge { .. })
    ));
}

fn arb_name() -> impl Strategy<Value = Name> {
    prop::collection::vec(any::<u8>(), 0..=66).prop_map(|v| Name::new(&v).unwrap())
}

fn arb_esys_name() -> impl Strategy<Value = EsysName> {
    prop::collection::vec(any::<u8>(), 0..=68).prop_map(|v| EsysName::new(&v).unwrap())
}

fn arb_nonce() -> impl Strategy<Value = Nonce> {
    prop::collection::vec(any::<u8>(), 0..=64).prop_map(|v| Nonce::new(&v).unwrap())
}

fn arb_session() -> impl Strategy<Value = EsysSession> {
    let sym = prop_oneof![
        Just(SymDef::Null),
        any::<u16>().prop_map(|h| SymDef::Xor { hash: AlgId(h) }),
        (any::<u16>(), any::<u16>()).prop_map(|(k, m)| SymDef::Cipher(SymCipher {
            algorithm: AlgId::AES,
            key_bits: k,
            mode: AlgId(m)
        })),
    ];
    (
        arb_esys_name(),
        sym,
        prop::sample::select(vec![
            AlgId::SHA1,
            AlgId::SHA256,
            AlgId::SHA384,
            AlgId::SHA512,
        ]),
        prop::collection::vec(any::<u8>(), 0..=64),
        prop::sample::select(vec![
            SessionType::HMAC,
            SessionType::POLICY,
            SessionType::TRIAL,
        ]),
        any::<u8>().prop_map(|a| a & !0x18),
        arb_nonce(),
        arb_nonce(),
        prop::sample::select(vec![
            PolicyAuth::None,
            PolicyAuth::AuthValue,
            PolicyAuth::Password,
        ]),
    )
        .prop_map(|(be, sym, hash, key, st, attrs, nc, nt, pk)| EsysSession {
            bound_entity: be,
            symmetric: sym,
            auth_hash: hash,
            session_key: Secret::new(&key).unwrap(),
            session_type: st,
            attributes: SessionAttributes(attrs),
            nonce_caller: nc,
            nonce_tpm: nt,
            policy_auth: pk,
        })
}

fn arb_session_file() -> impl Strategy<Value = SessionFile> {
    (
        arb_session(),
        any::<u32>(),
        any::<u32>(),
        any::<u64>(),
        prop::collection::vec(any::<u8>(), 0..=2000),
        arb_name(),
    )
        .prop_map(|(s, h, sh, seq, blob, name)| SessionFile {
            session_type: s.session_type,
            auth_hash: s.auth_hash,
            context: SavedContext {
                tpm: Context {
                    hierarchy: Handle(h),
                    saved_handle: Handle(sh),
                    sequence: seq,
                    context_blob: ContextData::new(&blob).unwrap(),
                },
                resource: EsysResource::Session {
                    handle: Handle(sh),
                    name,
                    session: s,
                },
            },
        })
}

proptest! {
    #[test]
    fn any_session_file_round_trips(f in arb_session_file()) {
        let bytes = f.to_bytes();
        prop_assert_eq!(SessionFile::from_bytes(&bytes).unwrap(), f);
    }

    #[test]
    fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..600)) {
        let _ = SessionFile::from_bytes(&bytes);
        let _ = SavedContext::from_bytes(&bytes);
        let _ = ObjectFile::from_bytes(&bytes);
    }

    #[test]
    fn mutated_files_never_panic(
        f in arb_session_file(),
        edits in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..8),
        cut in any::<prop::sample::Index>(),
    ) {
        let mut bytes = f.to_bytes();
        for (i, v) in edits {
            let i = i.index(bytes.len());
            bytes[i] = v;
        }
        let _ = SessionFile::from_bytes(&bytes);
        let _ = ObjectFile::from_bytes(&bytes[11..]);
        bytes.truncate(cut.index(bytes.len()));
        prop_assert!(SessionFile::from_bytes(&bytes).is_err());
    }
}

/// Host states of every shape a session file carries: bound HMAC with AES, policy with a
/// marker and XOR, trial with no cipher.
fn engine_states() -> Vec<SessionState> {
    let state = |handle, session_type, hash, symmetric, bound: bool, policy_auth| {
        SessionState::restore(StateRecord {
            handle: Handle(handle),
            session_type,
            hash,
            symmetric,
            attributes: SessionAttributes(0x61),
            session_key: SessionKey::new(&[0x5A; 48]).unwrap(),
            key_is_secret: true,
            nonce_caller: Nonce::new(&[0x11; 48]).unwrap(),
            nonce_tpm: Nonce::new(&[0x22; 48]).unwrap(),
            bound_entity: bound
                .then(|| crate::session::bound_entity(&[0x00, 0x0B, 1, 2, 3], b"bind")),
            policy_auth,
            audit_digest: Some(Digest::new(&[0x33; 48]).unwrap()),
            allow_unprotected_encryption: true,
            desynchronized: false,
        })
    };
    vec![
        state(
            0x0200_0001,
            SessionType::HMAC,
            HashAlg::Sha384,
            Symmetric::AesCfb(256),
            true,
            PolicyAuth::None,
        ),
        state(
            0x0300_0002,
            SessionType::POLICY,
            HashAlg::Sha256,
            Symmetric::Xor(HashAlg::Sha512),
            false,
            PolicyAuth::Password,
        ),
        state(
            0x0300_0003,
            SessionType::TRIAL,
            HashAlg::Sha1,
            Symmetric::Null,
            false,
            PolicyAuth::AuthValue,
        ),
    ]
}

/// A session saved to its file form and read back has the same host state, less what the
/// format does not hold (the audit digest and the caller's opt-in).
#[test]
fn session_state_round_trips_through_its_file_record() {
    let context = Context {
        sequence: 9,
        saved_handle: Handle(0x0200_0001),
        hierarchy: Handle::RH_NULL,
        context_blob: ContextData::new(&[0xCD; 80]).unwrap(),
    };
    for state in engine_states() {
        let file = SessionFile::from_state(context.clone(), &state).unwrap();
        file.check_consistent().unwrap();
        let back = SessionFile::from_bytes(&file.to_bytes()).unwrap();
        assert_eq!(back, file);
        assert_eq!(back.context.tpm, context);
        let EsysResource::Session {
            handle,
            name,
            session,
        } = &back.context.resource
        else {
            panic!("not a session: {:?}", back.context.resource.kind())
        };
        assert_eq!(*handle, state.handle());
        assert_eq!(name.as_bytes(), state.handle().0.to_be_bytes());
        let got = session.to_state(*handle).unwrap();
        assert_eq!(got.handle(), state.handle());
        assert_eq!(got.session_type(), state.session_type());
        assert_eq!(got.hash(), state.hash());
        assert_eq!(got.symmetric(), state.symmetric());
        assert_eq!(got.attributes(), state.attributes());
        assert_eq!(got.session_key(), state.session_key());
        assert!(got.key_is_secret());
        assert_eq!(got.nonce_caller(), state.nonce_caller());
        assert_eq!(got.nonce_tpm(), state.nonce_tpm());
        assert_eq!(got.bound_entity(), state.bound_entity());
        assert_eq!(got.policy_auth(), state.policy_auth());
        assert_eq!(got.audit_digest(), None);
        assert!(
            !got.allows_unprotected_encryption() && !got.is_closed() && !got.is_desynchronized()
        );
    }
}

/// A record the engine cannot continue is refused with its cause; a policy session's recorded
/// binding does not make it bound.
#[test]
fn session_records_the_engine_cannot_use_are_refused() {
    let mut s = session(PolicyAuth::None, &[]);
    s.symmetric = SymDef::Xor {
        hash: AlgId::SM3_256,
    };
    assert!(matches!(
        s.to_state(Handle(0x0200_0000)),
        Err(SessionError::UnsupportedSymmetric(
            AlgId::XOR,
            0x12,
            AlgId::NULL
        ))
    ));
    let mut s = session(PolicyAuth::None, &[]);
    s.auth_hash = AlgId::SHA3_256;
    assert!(matches!(
        s.to_state(Handle(0x0200_0000)),
        Err(SessionError::Crypto(
            crate::crypto::CryptoError::UnsupportedHash(AlgId::SHA3_256)
        ))
    ));
    let mut s = session(PolicyAuth::AuthValue, &[]);
    s.session_type = SessionType::POLICY;
    s.bound_entity = esys_bound_entity(&Name::new(&[0x00, 0x0B, 7]).unwrap(), b"");
    let state = s.to_state(Handle(0x0300_0000)).unwrap();
    assert_eq!(state.bound_entity(), None);
    assert_eq!(state.policy_auth(), PolicyAuth::AuthValue);
    assert!(!state.key_is_secret(), "an empty session key is no secret");
}

/// ESYS's `type_policy_session` values, both ways.
#[test]
fn policy_markers_use_the_esys_values() {
    for (auth, value) in [
        (PolicyAuth::None, 0),
        (PolicyAuth::AuthValue, 1),
        (PolicyAuth::Password, 2),
    ] {
        assert_eq!(esys::policy_auth_to_esys(auth), value);
        assert_eq!(esys::policy_auth_from_esys(value).unwrap(), auth);
        let bytes = session_file(session(auth, &[])).to_bytes();
        // The marker is the u32 before sizeSessionValue and sizeHmacValue.
        assert_eq!(bytes[bytes.len() - 8..bytes.len() - 4], value.to_be_bytes());
    }
    assert!(matches!(
        esys::policy_auth_from_esys(3),
        Err(FileError::BadValue {
            what: "policy session kind",
            value: 3
        })
    ));
}

/// The public areas in key and NV records are read as TPM structures: bytes that are not a
/// public area are refused when the file is read, not passed on.
#[test]
fn resource_public_areas_are_parsed() {
    let key = &other_resources()[1];
    let mut bytes = key.to_bytes();
    // After handle, name (2 + 4) and resource type: the TPM2B_PUBLIC, whose area starts with
    // its type. TPM_ALG_AES is no object type.
    let at = 4 + 2 + 4 + 4 + 2;
    assert_eq!(bytes[at..at + 2], [0x00, 0x01], "an RSA key");
    bytes[at..at + 2].copy_from_slice(&[0x00, 0x06]);
    assert!(matches!(
        EsysResource::from_bytes(&bytes),
        Err(FileError::BadValue {
            what: "public area",
            value: 0x06
        })
    ));
    // A size that leaves bytes of the area unread inside the TPM2B.
    let mut bytes = key.to_bytes();
    let size = u16::from_be_bytes([bytes[at - 2], bytes[at - 1]]);
    bytes[at - 2..at].copy_from_slice(&(size + 1).to_be_bytes());
    bytes.insert(at + usize::from(size), 0);
    assert!(EsysResource::from_bytes(&bytes).is_err());
    let nv = &other_resources()[2];
    let mut bytes = nv.to_bytes();
    let size = u16::from_be_bytes([bytes[4 + 2 + 3 + 4], bytes[4 + 2 + 3 + 5]]);
    assert_eq!(usize::from(size), 4 + 2 + 4 + 2 + 14 + 2);
    bytes.truncate(bytes.len() - 1);
    assert!(EsysResource::from_bytes(&bytes).is_err());

    // A size no public area can have is the format's limit, not a short file.
    for (resource, at, what, max) in [
        (key, at - 2, "public area", crate::wire::MAX_PUBLIC_SIZE),
        (nv, 4 + 2 + 3 + 4, "NV public area", 4 + 2 + 4 + 2 + 64 + 2),
    ] {
        let mut bytes = resource.to_bytes();
        bytes[at..at + 2].copy_from_slice(&[0xFF, 0xFF]);
        let e = EsysResource::from_bytes(&bytes).unwrap_err();
        assert!(
            matches!(e, FileError::TooLarge { what: w, size: 0xFFFF, max: m } if w == what && m == max),
            "{e}"
        );
    }
}

/// A session's TPMT_SYM_DEF is read as one: TPM_ALG_SYMCIPHER is an object type, not a
/// symmetric algorithm, so its bytes cannot be interpreted.
#[test]
fn a_session_symmetric_that_is_no_sym_def_is_refused() {
    let f = session_file(session(PolicyAuth::None, &[]));
    let mut bytes = f.to_bytes();
    // As in `sym_def_marshals_like_tpm2_tss`.
    let at = 11 + 8 + 16 + 2 + 4 + 2 + 100 + 2 + 4 + 6 + 4 + 6;
    assert_eq!(bytes[at..at + 2], [0x00, 0x06]);
    bytes[at..at + 2].copy_from_slice(&[0x00, 0x25]);
    assert!(matches!(
        SessionFile::from_bytes(&bytes),
        Err(FileError::BadValue {
            what: "symmetric algorithm",
            value: 0x25
        })
    ));
}
