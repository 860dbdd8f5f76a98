//! Library pieces the command line is built on: random bytes of any length, objects named
//! as tpm2-tools names them, and sessions started from a `tpm2_startauthsession`-like spec.

mod common;

use std::path::PathBuf;

use common::*;
use tpm2_wire::client::{ObjectRef, SessionKind, SessionOptions, StartSpec};
use tpm2_wire::session::Symmetric;
use tpm2_wire::wire::{Auth, Handle, Name, Public, SessionAttributes, SessionType};
use tpm2_wire::{Error, Session};

#[test]
fn object_refs_parse_as_tpm2_tools_does() {
    assert_eq!(
        ObjectRef::parse("0x81000001"),
        ObjectRef::Handle(Handle(0x8100_0001))
    );
    assert_eq!(
        ObjectRef::parse("0X80000000"),
        ObjectRef::Handle(Handle(0x8000_0000))
    );
    for path in ["primary.ctx", "0x", "0x123456789", "0xzz", "81000001"] {
        assert_eq!(
            ObjectRef::parse(path),
            ObjectRef::File(PathBuf::from(path)),
            "{path}"
        );
    }
}

#[test]
fn random_bytes_of_any_length() {
    let (_sim, tpm) = swtpm();
    for n in [0, 1, 64, 65, 1000] {
        let bytes = tpm.get_random(n).unwrap();
        assert_eq!(bytes.len(), n);
    }
    let a = tpm.get_random(32).unwrap();
    let b = tpm.get_random(32).unwrap();
    assert_ne!(a, b);

    // Protected by a salted session: encrypted responses, attributes left as they were.
    let salt = salt_key(&tpm, Salt::Ecc).unwrap();
    let mut s = Session::start(&tpm, &SessionOptions::hmac().salted(salt.clone())).unwrap();
    let before = s.state().attributes();
    assert_eq!(tpm.get_random_protected(200, &mut s).unwrap().len(), 200);
    assert_eq!(s.state().attributes(), before);
    // A session that can neither encrypt nor audit is refused, and left usable.
    let mut plain = Session::start(&tpm, &SessionOptions::hmac()).unwrap();
    assert!(tpm.get_random_protected(8, &mut plain).is_err());
    let mut audit = Session::start(&tpm, &SessionOptions::audit()).unwrap();
    assert_eq!(tpm.get_random_protected(8, &mut audit).unwrap().len(), 8);
    assert!(audit.state().audit_digest().is_some());
    drop((s, plain, audit));
    flush(&tpm, salt.entity().handle);
}

#[test]
fn an_object_loaded_from_a_context_file_is_flushed_on_drop() {
    let (_sim, tpm) = swtpm();
    let dir = tempfile::tempdir().unwrap();
    let (key, _) = create_primary(&tpm, Public::rsa_2048_storage_parent(), &Auth::empty());
    let file = dir.path().join("key.ctx");
    tpm.save_object_to_file(key.handle, &file).unwrap();
    flush(&tpm, key.handle);
    assert!(tpm.handles(Handle(0x8000_0000)).unwrap().is_empty());
    {
        let obj = tpm.load_object(&ObjectRef::File(file.clone())).unwrap();
        assert_eq!(obj.entity().name, key.name, "name from the public area");
        assert_eq!(tpm.handles(Handle(0x8000_0000)).unwrap().len(), 1);
    }
    assert!(tpm.handles(Handle(0x8000_0000)).unwrap().is_empty());
    // By handle: read, not owned, not flushed.
    let (key, _) = create_primary(&tpm, Public::rsa_2048_storage_parent(), &Auth::empty());
    drop(tpm.load_object(&ObjectRef::Handle(key.handle)).unwrap());
    assert_eq!(tpm.handles(Handle(0x8000_0000)).unwrap(), vec![key.handle]);
    flush(&tpm, key.handle);
}

#[test]
fn start_specs_follow_tpm2_tools_rules() {
    let (_sim, tpm) = swtpm();
    let (key, _) = create_primary(&tpm, Public::ecc_p256_storage_parent(), &Auth::empty());
    let by_handle = ObjectRef::Handle(key.handle);

    // Trial by default, no cipher.
    let s = StartSpec::default().start(&tpm).unwrap();
    assert_eq!(s.state().session_type(), SessionType::TRIAL);
    assert_eq!(s.state().symmetric(), Symmetric::Null);
    drop(s);
    // -c: salted, bound, AES-128-CFB both ways.
    let s = StartSpec {
        kind: SessionKind::Hmac,
        key: Some(by_handle.clone()),
        ..StartSpec::default()
    }
    .start(&tpm)
    .unwrap();
    assert_eq!(s.state().symmetric(), Symmetric::AesCfb(128));
    assert!(s.state().has_secret_key());
    let a = s.state().attributes();
    assert!(a.contains(SessionAttributes::DECRYPT) && a.contains(SessionAttributes::ENCRYPT));
    drop(s);
    // --audit-session alone: no cipher; with --hmac-session: AES.
    for (kind, sym) in [
        (SessionKind::Audit, Symmetric::Null),
        (SessionKind::HmacAudit, Symmetric::AesCfb(128)),
    ] {
        let s = StartSpec {
            kind,
            ..StartSpec::default()
        }
        .start(&tpm)
        .unwrap();
        assert_eq!(s.state().symmetric(), sym, "{kind:?}");
        assert!(s.state().attributes().contains(SessionAttributes::AUDIT));
    }
    // Refusals, before anything starts.
    let trial_salted = StartSpec {
        salt: Some(by_handle.clone()),
        ..StartSpec::default()
    };
    assert!(matches!(
        trial_salted.start(&tpm),
        Err(Error::InvalidArgument(_))
    ));
    let wrong_name = StartSpec {
        kind: SessionKind::Hmac,
        salt: Some(by_handle.clone()),
        expected_salt_name: Some(Name::new(&[0, 0x0b, 1, 2, 3]).unwrap()),
        ..StartSpec::default()
    };
    assert!(matches!(
        wrong_name.start(&tpm),
        Err(Error::NameMismatch { .. })
    ));
    // The right name: started, and the TPM proved it holds the key.
    let right_name = StartSpec {
        kind: SessionKind::Hmac,
        salt: Some(by_handle),
        expected_salt_name: Some(key.name.clone()),
        ..StartSpec::default()
    };
    drop(right_name.start(&tpm).unwrap());
    assert!(sessions_on(&tpm).0.is_empty() && sessions_on(&tpm).1.is_empty());
    flush(&tpm, key.handle);
}
