//! The ownership registry through the library: what `Session::start`, `flush`, drop,
//! `save_to_file` and loading a session file record, and that a registry failure never fails
//! a session.

use std::path::Path;

use tpm2_wire::command::GetRandom;
use tpm2_wire::inventory::{self, Ownership};
use tpm2_wire::registry::{Registry, SessionRecord};
use tpm2_wire::sim::Swtpm;
use tpm2_wire::wire::{SessionAttributes, SessionType};
use tpm2_wire::{Session, SessionOptions, Tpm};

fn setup() -> (Swtpm, Tpm, tempfile::TempDir, Registry) {
    let sim = Swtpm::spawn_unix().unwrap();
    let tpm = Tpm::new(Box::new(sim.transport().unwrap()));
    let dir = tempfile::tempdir().unwrap();
    let reg = Registry::open(Some(&dir.path().join("reg"))).unwrap();
    tpm.set_registry(Some(reg.clone()));
    (sim, tpm, dir, reg)
}

fn record(tpm: &Tpm, reg: &Registry, s: &Session) -> Option<SessionRecord> {
    reg.get(&tpm.describe(), s.handle()).unwrap()
}

#[test]
fn start_records_and_flush_or_drop_removes() {
    let (_sim, tpm, _dir, reg) = setup();
    let s = Session::start(&tpm, &SessionOptions::policy()).unwrap();
    let r = record(&tpm, &reg, &s).expect("recorded at start");
    assert_eq!(r.pid, std::process::id());
    assert_eq!(r.session_type, SessionType::POLICY);
    assert_eq!(r.handle, s.handle());
    assert_eq!(r.tpm, tpm.describe());
    assert_eq!(r.file, None);
    assert!(r.owner_alive() && !r.held_by_file() && !r.is_orphan());
    let info = inventory::sessions(&tpm, Some(&reg)).unwrap();
    assert_eq!(info.len(), 1);
    assert_eq!(info[0].ownership, Ownership::Owned);
    assert!(info[0].loaded);

    let h = s.handle();
    s.flush().unwrap();
    assert!(reg.get(&tpm.describe(), h).unwrap().is_none());

    let s = Session::start(&tpm, &SessionOptions::hmac()).unwrap();
    let h = s.handle();
    assert!(reg.get(&tpm.describe(), h).unwrap().is_some());
    drop(s);
    assert!(reg.get(&tpm.describe(), h).unwrap().is_none());
    assert!(reg.list().unwrap().records.is_empty());

    // Ended by the TPM (continueSession cleared on its last use): the record goes too.
    let mut s = Session::start(&tpm, &SessionOptions::audit()).unwrap();
    let h = s.handle();
    s.set_attributes(SessionAttributes(SessionAttributes::AUDIT));
    tpm.execute(&GetRandom { bytes_requested: 4 }, &mut [s.extra()])
        .unwrap();
    assert!(s.state().closed);
    assert!(reg.get(&tpm.describe(), h).unwrap().is_some());
    drop(s);
    assert!(reg.get(&tpm.describe(), h).unwrap().is_none());
    assert!(inventory::sessions(&tpm, Some(&reg)).unwrap().is_empty());
    assert_eq!(tpm.registry_error().0, 0);
}

#[test]
fn files_park_sessions_and_loading_takes_them_back() {
    let (_sim, tpm, dir, reg) = setup();
    let path = dir.path().join("s.ctx");
    let s = Session::start(&tpm, &SessionOptions::trial()).unwrap();
    let h = s.handle();
    s.save_to_file(&path).unwrap();
    let r = reg.get(&tpm.describe(), h).unwrap().unwrap();
    assert_eq!(r.file.as_deref(), Some(path.as_path()));
    assert!(r.held_by_file());
    // A file that belongs to someone else does not hold a session of this user.
    let mut foreign = r.clone();
    foreign.uid = r.uid.wrapping_add(1);
    assert!(!foreign.held_by_file());
    let info = inventory::sessions(&tpm, Some(&reg)).unwrap();
    assert_eq!(info[0].ownership, Ownership::Parked);
    assert!(!info[0].loaded);

    // Loaded again: its saved context is spent, this process holds it.
    let s = tpm.load_session_file(&path).unwrap();
    let r = reg.get(&tpm.describe(), h).unwrap().unwrap();
    assert_eq!(r.file, None);
    assert_eq!(r.pid, std::process::id());
    // Saved back: parked again.
    s.save_to_file(&path).unwrap();
    assert!(reg.get(&tpm.describe(), h).unwrap().unwrap().held_by_file());
    // Another session's file at that path no longer holds this one.
    let other = Session::start(&tpm, &SessionOptions::trial()).unwrap();
    let other_h = other.handle();
    other.save_to_file(&path).unwrap();
    let r = reg.get(&tpm.describe(), h).unwrap().unwrap();
    assert!(!r.held_by_file());
    assert!(reg
        .get(&tpm.describe(), other_h)
        .unwrap()
        .unwrap()
        .held_by_file());
    // A removed file holds nothing.
    std::fs::remove_file(&path).unwrap();
    assert!(!reg
        .get(&tpm.describe(), other_h)
        .unwrap()
        .unwrap()
        .held_by_file());

    // Flushing by inventory prunes the records of sessions that are gone.
    let report = inventory::flush(&tpm, Some(&reg), &inventory::Selector::All, false).unwrap();
    assert_eq!(report.flushed.len(), 2);
    assert!(reg.list().unwrap().records.is_empty());
}

#[test]
fn disabled_or_broken_registry_never_fails_sessions() {
    let (_sim, tpm, dir, reg) = setup();
    tpm.set_registry(None);
    let s = Session::start(&tpm, &SessionOptions::hmac()).unwrap();
    assert!(reg.list().unwrap().records.is_empty());
    s.flush().unwrap();

    // A registry whose directory disappears: the session starts, the failure is counted.
    let gone = dir.path().join("gone");
    let broken = Registry::open(Some(&gone)).unwrap();
    std::fs::remove_dir(&gone).unwrap();
    tpm.set_registry(Some(broken));
    let s = Session::start(&tpm, &SessionOptions::hmac()).unwrap();
    let (failures, last) = tpm.registry_error();
    assert_eq!(failures, 1);
    assert!(last.unwrap().contains("gone"));
    s.flush().unwrap();
    // Clones share the connection and its registry setting.
    let clone = tpm.clone();
    assert_eq!(clone.registry_error().0, tpm.registry_error().0);
}

#[test]
fn insecure_registry_directories_are_refused() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().join("open");
    std::fs::create_dir(&d).unwrap();
    std::fs::set_permissions(&d, std::fs::Permissions::from_mode(0o777)).unwrap();
    let err = Registry::open(Some(&d)).unwrap_err().to_string();
    assert!(err.contains("group or others may write"), "{err}");
    // A planted record that is not a record is reported, not trusted.
    let ok = dir.path().join("ok");
    let reg = Registry::open(Some(&ok)).unwrap();
    std::fs::write(ok.join("0011223344556677-000001.session"), b"pid=1\n").unwrap();
    let listing = reg.list().unwrap();
    assert!(listing.records.is_empty());
    assert_eq!(listing.invalid.len(), 1);
    assert!(Path::new(&ok).is_dir());
}

fn sample_record(handle: u32) -> SessionRecord {
    SessionRecord::new_owned(
        "swtpm:host=127.0.0.1,port=2321".into(),
        tpm2_wire::wire::Handle(handle),
        SessionType::HMAC,
        tpm2_wire::crypto::HashAlg::Sha256,
    )
}

/// The entry file of `record` in `dir` (the only `.session` file there).
fn only_entry(dir: &Path) -> std::path::PathBuf {
    let entries: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(entries.len(), 1, "{entries:?}");
    entries[0].clone()
}

#[test]
fn a_symlink_at_an_entry_is_replaced_never_followed() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let regdir = dir.path().join("reg");
    let reg = Registry::open(Some(&regdir)).unwrap();
    let record = sample_record(0x0200_0007);
    reg.record(&record).unwrap();
    let entry = only_entry(&regdir);
    reg.remove(&record.tpm, record.handle).unwrap();
    // Something planted a link where the next record goes (only this user can write there,
    // but a record must never be written through a link to some other file of the user's).
    let victim = dir.path().join("victim");
    std::fs::write(&victim, b"precious").unwrap();
    std::os::unix::fs::symlink(&victim, &entry).unwrap();
    reg.record(&record).unwrap();
    assert_eq!(std::fs::read(&victim).unwrap(), b"precious");
    let meta = std::fs::symlink_metadata(&entry).unwrap();
    assert!(meta.is_file(), "the link was replaced by the record");
    assert_eq!(meta.permissions().mode() & 0o777, 0o600);
    assert_eq!(reg.get(&record.tpm, record.handle).unwrap(), Some(record));
    // Nothing but the record is left behind (no temporary file).
    assert_eq!(only_entry(&regdir), entry);
}

#[test]
fn records_go_to_the_directory_that_was_checked() {
    let dir = tempfile::tempdir().unwrap();
    let regdir = dir.path().join("reg");
    let reg = Registry::open(Some(&regdir)).unwrap();
    // The checked directory moves away and another takes its name after the registry was
    // opened: the records still go to the directory that was checked, and only there.
    let moved = dir.path().join("moved");
    std::fs::rename(&regdir, &moved).unwrap();
    std::fs::create_dir(&regdir).unwrap();
    let record = sample_record(0x0200_0009);
    reg.record(&record).unwrap();
    assert_eq!(std::fs::read_dir(&regdir).unwrap().count(), 0);
    let entry = only_entry(&moved);
    let text = std::fs::read(&entry).unwrap();
    assert_eq!(SessionRecord::parse(&text).unwrap(), record);
    assert!(reg.remove(&record.tpm, record.handle).unwrap());
    assert_eq!(std::fs::read_dir(&moved).unwrap().count(), 0);
}
