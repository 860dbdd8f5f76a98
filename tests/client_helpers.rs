//! Library pieces the command line is built on: random bytes of any length, objects named
//! as tpm2-tools names them, sessions started from a `tpm2_startauthsession`-like spec,
//! primaries, handle ranges and properties, PCR digests for PolicyPCR, and session files
//! given back after use or configured in place.

mod common;

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;

use common::*;
use tpm2_wire::auth::parse_pcr_selection;
use tpm2_wire::client::{
    pcr_digest_from_file, FileFate, ObjectRef, PcrValuesError, SaveBackError, SessionKind,
    SessionOptions, StartSpec,
};
use tpm2_wire::command::{Entity, PcrExtend};
use tpm2_wire::crypto::HashAlg;
use tpm2_wire::error::StartConflict;
use tpm2_wire::files;
use tpm2_wire::session::engine::SessionSlot;
use tpm2_wire::session::Symmetric;
use tpm2_wire::transport::{Transport, TransportError};
use tpm2_wire::wire::{
    AlgId, Auth, CommandCode, Digest, DigestList, DigestValues, Handle, HashValue, Marshal, Name,
    PcrSelection, PcrSelectionList, PropertyTag, Public, Reader, SessionAttributes, SessionType,
    Unmarshal, Writer,
};
use tpm2_wire::{Error, Session, Tpm};

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
    assert!(tpm.handles_in(HandleRange::Transient).unwrap().is_empty());
    {
        let obj = tpm.load_object(&ObjectRef::File(file.clone())).unwrap();
        assert_eq!(obj.entity().name, key.name, "name from the public area");
        assert_eq!(tpm.handles_in(HandleRange::Transient).unwrap().len(), 1);
    }
    assert!(tpm.handles_in(HandleRange::Transient).unwrap().is_empty());
    // By handle: read, not owned, not flushed.
    let (key, _) = create_primary(&tpm, Public::rsa_2048_storage_parent(), &Auth::empty());
    drop(tpm.load_object(&ObjectRef::Handle(key.handle)).unwrap());
    assert_eq!(
        tpm.handles_in(HandleRange::Transient).unwrap(),
        vec![key.handle]
    );
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
        Err(Error::StartConflict(StartConflict::TrialSaltedOrBound))
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

/// Flips the last byte of a response's name (CreatePrimary under a password: the name is the
/// last parameter, followed by the 5-byte password response).
struct WrongName {
    inner: Box<dyn Transport>,
}

impl Transport for WrongName {
    fn transact(&mut self, command: &[u8], response: &mut Vec<u8>) -> Result<(), TransportError> {
        self.inner.transact(command, response)?;
        if command[6..10] == CommandCode::CREATE_PRIMARY.0.to_be_bytes() && response.len() > 16 {
            let at = response.len() - 6;
            response[at] ^= 1;
        }
        Ok(())
    }

    fn describe(&self) -> String {
        self.inner.describe()
    }
}

#[test]
fn create_primary_names_the_object_by_its_public_area() {
    let (_sim, tpm) = swtpm();
    let (key, public) = create_primary(&tpm, Public::rsa_2048_storage_parent(), &Auth::empty());
    let (read, read_public) = tpm.read_public(key.handle).unwrap();
    assert_eq!((read, read_public), (key.clone(), public));
    flush(&tpm, key.handle);

    // A TPM (or a bus) that reports another name: refused, and the object is not left loaded.
    let (_sim, tpm) = swtpm_with(|inner| Box::new(WrongName { inner }));
    let owner = Auth::empty();
    let err = tpm
        .create_primary(
            &Entity::owner(),
            SessionSlot::Password(&owner),
            Public::ecc_p256_storage_parent(),
            &Auth::empty(),
        )
        .unwrap_err();
    assert!(matches!(err, Error::NameMismatch { .. }), "{err}");
    assert_nothing_loaded(&tpm);
}

#[test]
fn handle_ranges_and_single_properties() {
    assert_eq!(HandleRange::LoadedSessions.first(), Handle(0x0200_0000));
    assert_eq!(HandleRange::SavedSessions.first(), Handle(0x0300_0000));
    assert_eq!(HandleRange::Transient.first(), Handle(0x8000_0000));
    assert_eq!(HandleRange::Persistent.first(), Handle(0x8100_0000));
    assert_eq!(HandleRange::NvIndex.first(), Handle(0x0100_0000));

    let (_sim, tpm) = swtpm();
    assert_eq!(tpm.property(PropertyTag::HR_LOADED_AVAIL).unwrap(), Some(3));
    // Not a property any TPM reports: the answer starts at the next one, so it is absent.
    assert_eq!(tpm.property(PropertyTag(0x1FF)).unwrap(), None);
    // A context-saved session is listed in the saved range (with the 0x02 prefix), not in
    // the loaded one.
    let s = Session::start(&tpm, &SessionOptions::hmac()).unwrap();
    let index = s.handle().0 & 0x00FF_FFFF;
    let saved = s.save().unwrap();
    assert!(tpm
        .handles_in(HandleRange::LoadedSessions)
        .unwrap()
        .is_empty());
    let listed = tpm.handles_in(HandleRange::SavedSessions).unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].0 & 0x00FF_FFFF, index);
    assert_eq!(
        listed[0].0 >> 24,
        0x02,
        "listed with the HMAC-session prefix"
    );
    drop(tpm.load_session(saved).unwrap());
    assert_nothing_loaded(&tpm);
}

/// sha256:0..=9 + sha1:0,1: twelve PCRs, more than one TPM2_PCR_Read returns.
fn twelve_pcrs() -> PcrSelectionList {
    let spec = parse_pcr_selection("sha256:0,1,2,3,4,5,6,7,8,9+sha1:0,1").unwrap();
    PcrSelectionList::try_from(&spec).unwrap()
}

#[test]
fn pcr_digests_from_the_tpm_and_from_a_file_are_the_ones_policy_pcr_uses() {
    let (_sim, tpm) = swtpm();
    // Distinct values, so that a value read twice or out of order changes the digest.
    for pcr in 0..10u8 {
        let digests = DigestValues::new(vec![
            HashValue::new(AlgId::SHA256, &[pcr + 1; 32]).unwrap(),
            HashValue::new(AlgId::SHA1, &[pcr + 101; 20]).unwrap(),
        ])
        .unwrap();
        let empty = Auth::empty();
        tpm.execute(
            &PcrExtend {
                pcr_handle: Entity::from_handle(Handle(pcr.into())),
                digests,
            },
            &mut [SessionSlot::Password(&empty)],
        )
        .unwrap();
    }
    let sel = twelve_pcrs();
    let values = tpm.pcr_values(&sel).unwrap();
    assert_eq!(values.len(), 12);
    assert_eq!(values.iter().filter(|v| v.len() == 20).count(), 2);
    let distinct: std::collections::HashSet<_> = values.iter().map(|v| v.as_bytes()).collect();
    assert_eq!(distinct.len(), 12, "every PCR read once");

    let ours = tpm.pcr_digest(&sel, HashAlg::Sha256).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("pcrs.bin");
    std::fs::write(
        &file,
        values
            .iter()
            .flat_map(|v| v.as_bytes().to_vec())
            .collect::<Vec<u8>>(),
    )
    .unwrap();
    assert_eq!(
        pcr_digest_from_file(&file, &sel, HashAlg::Sha256).unwrap(),
        ours
    );

    // The TPM, given no digest, hashes its current values itself: the same policy results.
    let policy = |digest: &Digest| {
        let mut s = Session::start(&tpm, &SessionOptions::trial()).unwrap();
        s.policy_pcr(&sel, digest).unwrap();
        s.policy_digest().unwrap()
    };
    assert_eq!(policy(&ours), policy(&Digest::empty()));

    // A file of the wrong size, or for a bank without a known hash, is refused.
    std::fs::write(&file, [0u8; 33]).unwrap();
    let err = pcr_digest_from_file(&file, &sel, HashAlg::Sha256).unwrap_err();
    assert!(
        matches!(
            err,
            PcrValuesError::Short {
                size: 33,
                expected: 360,
                ..
            }
        ),
        "{err}"
    );
    assert!(err.to_string().contains("33 bytes"), "{err}");
    assert!(matches!(Error::from(err), Error::File(_)));
    std::fs::write(&file, [0u8; 361]).unwrap();
    let err = pcr_digest_from_file(&file, &sel, HashAlg::Sha256).unwrap_err();
    assert!(matches!(err, PcrValuesError::File(_)), "{err}");
    let sm3 = PcrSelectionList::try_from(&parse_pcr_selection("sm3_256:0").unwrap()).unwrap();
    let err = pcr_digest_from_file(&file, &sm3, HashAlg::Sha256).unwrap_err();
    assert!(matches!(err, PcrValuesError::Hash(_)), "{err}");
    assert_nothing_loaded(&tpm);
}

/// Answers TPM2_PCR_Read without a TPM: `per_call` of the PCRs asked for (zero values), or
/// with the faults below.
struct FakePcrs {
    per_call: usize,
    fault: Fault,
    calls: Arc<AtomicUsize>,
}

#[derive(Clone, Copy, PartialEq)]
enum Fault {
    None,
    /// Always PCR 0 of the first bank, whatever was asked.
    SameAgain,
    /// One digest more than PCRs.
    ExtraDigest,
    /// Digests of the wrong size.
    ShortDigest,
}

impl Transport for FakePcrs {
    fn transact(&mut self, command: &[u8], response: &mut Vec<u8>) -> Result<(), TransportError> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        let mut r = Reader::new(&command[10..]);
        let asked = PcrSelectionList::unmarshal(&mut r).unwrap();
        let mut answered = Vec::new();
        let mut digests = Vec::new();
        let mut left = self.per_call;
        for bank in asked.iter() {
            let size = if bank.hash == AlgId::SHA1 { 20 } else { 32 };
            let mut pcrs: Vec<u8> = bank.select.pcrs().take(left).collect();
            if self.fault == Fault::SameAgain {
                pcrs = vec![0];
            }
            left -= pcrs.len().min(left);
            let size = if self.fault == Fault::ShortDigest {
                size - 1
            } else {
                size
            };
            digests.extend(pcrs.iter().map(|_| Digest::new(&vec![0; size]).unwrap()));
            answered.push(PcrSelection::new(bank.hash, &pcrs).unwrap());
            if self.fault == Fault::SameAgain {
                break;
            }
        }
        if self.fault == Fault::ExtraDigest {
            digests.push(Digest::new(&[0; 32]).unwrap());
        }
        response.clear();
        let mut w = Writer::new(response);
        w.u16(0x8001);
        w.u32(0);
        w.u32(0);
        w.u32(7);
        PcrSelectionList::new(answered).unwrap().marshal(&mut w);
        DigestList::new(digests).unwrap().marshal(&mut w);
        let n = w.len() as u32;
        w.patch_u32(2, n);
        Ok(())
    }

    fn describe(&self) -> String {
        "fake PCRs".into()
    }
}

fn fake_pcrs(per_call: usize, fault: Fault) -> (Tpm, Arc<AtomicUsize>) {
    let calls = Arc::new(AtomicUsize::new(0));
    let tpm = Tpm::new(Box::new(FakePcrs {
        per_call,
        fault,
        calls: calls.clone(),
    }));
    tpm.set_registry(None);
    (tpm, calls)
}

#[test]
fn pcr_reads_page_and_refuse_what_was_not_asked_for() {
    let sel = twelve_pcrs();
    let (tpm, calls) = fake_pcrs(5, Fault::None);
    assert_eq!(tpm.pcr_values(&sel).unwrap().len(), 12);
    assert_eq!(calls.load(Ordering::SeqCst), 3, "5 + 5 + 2");

    // A TPM that returns nothing cannot make the read go round forever.
    let (tpm, calls) = fake_pcrs(0, Fault::None);
    assert!(matches!(
        tpm.pcr_values(&sel),
        Err(Error::PcrNotReturned { .. })
    ));
    assert_eq!(calls.load(Ordering::SeqCst), 1);
    for fault in [Fault::SameAgain, Fault::ExtraDigest, Fault::ShortDigest] {
        let (tpm, calls) = fake_pcrs(4, fault);
        let err = tpm.pcr_values(&sel).unwrap_err();
        assert!(matches!(err, Error::Malformed { .. }), "{err}");
        assert!(calls.load(Ordering::SeqCst) <= 2);
    }
}

/// Flips the last byte of the next response once armed (an HMAC, for a session response).
struct Tamper {
    inner: Box<dyn Transport>,
    armed: Arc<AtomicBool>,
}

impl Transport for Tamper {
    fn transact(&mut self, command: &[u8], response: &mut Vec<u8>) -> Result<(), TransportError> {
        self.inner.transact(command, response)?;
        if self.armed.swap(false, Ordering::SeqCst) {
            if let Some(last) = response.last_mut() {
                *last ^= 1;
            }
        }
        Ok(())
    }

    fn describe(&self) -> String {
        self.inner.describe()
    }
}

#[test]
fn sessions_go_back_to_their_files_unless_they_cannot_be_trusted() {
    let armed = Arc::new(AtomicBool::new(false));
    let a = armed.clone();
    let (_sim, tpm) = swtpm_with(move |inner| Box::new(Tamper { inner, armed: a }));
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s.ctx");
    Session::start(&tpm, &SessionOptions::audit())
        .unwrap()
        .save_to_file(&path)
        .unwrap();

    // Used and saved back: the file holds the session's new state.
    let mut s = tpm.load_session_file(&path).unwrap();
    tpm.get_random_protected(8, &mut s).unwrap();
    let nonce = s.state().nonce_tpm().clone();
    s.save_back_to_file(&path).unwrap();
    let mut s = tpm.load_session_file(&path).unwrap();
    assert_eq!(s.state().nonce_tpm(), &nonce);

    // A response that fails verification: the session is flushed and the file removed.
    armed.store(true, Ordering::SeqCst);
    assert!(tpm.get_random_protected(8, &mut s).is_err());
    assert!(s.state().is_desynchronized());
    let err = s.save_back_to_file(&path).unwrap_err();
    assert!(
        matches!(
            err,
            SaveBackError::Desynchronized {
                flush_error: None,
                file: FileFate::Removed,
                ..
            }
        ),
        "{err}"
    );
    assert!(err.to_string().contains("was removed"), "{err}");
    assert!(!path.exists());
    assert_nothing_loaded(&tpm);
}

#[test]
fn a_bind_auth_value_goes_back_only_into_the_file_that_carried_it() {
    let (_sim, tpm) = swtpm();
    let dir = tempfile::tempdir().unwrap();
    let auth = pw("bind-secret");
    let (key, _) = create_primary(&tpm, Public::ecc_p256_storage_parent(), &auth);
    let opts = SessionOptions::hmac().bound(key.clone(), auth);
    let carried = dir.path().join("carried.ctx");
    Session::start(&tpm, &opts)
        .unwrap()
        .save_to_file_with_bind_auth(&carried)
        .unwrap();

    // Back into its own file: as it was.
    let s = tpm.load_session_file(&carried).unwrap();
    assert!(s.embeds_bind_auth());
    s.save_back_to_file(&carried).unwrap();
    // Into any other file: refused, as save_to_file refuses it; that file is not written.
    let other = dir.path().join("other.ctx");
    let s = tpm.load_session_file(&carried).unwrap();
    let err = s.save_back_to_file(&other).unwrap_err();
    assert!(
        matches!(err, SaveBackError::Save(Error::BindAuthNotWritten { .. })),
        "{err}"
    );
    assert!(!other.exists());
    flush(&tpm, key.handle);
    assert_nothing_loaded(&tpm);
}

#[test]
fn session_file_attributes_are_set_and_cleared_in_place() {
    let (_sim, tpm) = swtpm();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s.ctx");
    Session::start(&tpm, &SessionOptions::hmac())
        .unwrap()
        .save_to_file(&path)
        .unwrap();
    let attrs = |f: &files::SessionFile| f.session().unwrap().attributes;
    let before = std::fs::read(&path).unwrap();
    let file =
        files::configure_session_file(&path, SessionAttributes(0), SessionAttributes(0)).unwrap();
    assert_eq!(
        attrs(&file),
        SessionAttributes(SessionAttributes::CONTINUE_SESSION)
    );
    assert_eq!(
        std::fs::read(&path).unwrap(),
        before,
        "nothing asked, nothing written"
    );

    let set = SessionAttributes(SessionAttributes::AUDIT | SessionAttributes::DECRYPT);
    let clear = SessionAttributes(SessionAttributes::DECRYPT);
    let file = files::configure_session_file(&path, set, clear).unwrap();
    let want = SessionAttributes::CONTINUE_SESSION | SessionAttributes::AUDIT;
    assert_eq!(attrs(&file), SessionAttributes(want), "clearing wins");
    assert_eq!(
        attrs(&files::read_session_file(&path).unwrap()),
        SessionAttributes(want)
    );
    assert_eq!(
        file.handle(),
        Some(tpm.load_session_file(&path).unwrap().handle())
    );

    // Reserved bits would make a file nobody reads: refused, the file left as it was.
    let before = std::fs::read(&path).unwrap();
    let err = files::configure_session_file(&path, SessionAttributes(0x08), SessionAttributes(0))
        .unwrap_err();
    assert!(matches!(err, files::FileError::BadValue { .. }), "{err}");
    assert_eq!(std::fs::read(&path).unwrap(), before);
    assert_nothing_loaded(&tpm);
}

#[test]
fn name_files_are_checked_for_form() {
    let (_sim, tpm) = swtpm();
    let dir = tempfile::tempdir().unwrap();
    let (key, _) = create_primary(&tpm, Public::ecc_p256_storage_parent(), &Auth::empty());
    let good = dir.path().join("good.name");
    std::fs::write(&good, key.name.as_bytes()).unwrap();
    assert_eq!(files::read_name_file(&good).unwrap(), key.name);
    let bad = dir.path().join("bad.name");
    std::fs::write(&bad, &key.name.as_bytes()[..20]).unwrap();
    let err = files::read_name_file(&bad).unwrap_err();
    assert!(matches!(err, files::FileError::InFile { .. }), "{err}");
    assert!(err.to_string().contains("bad.name"), "{err}");
    flush(&tpm, key.handle);
}
