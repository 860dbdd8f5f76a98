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
    assert!(s.state().is_closed());
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

/// A record entry's text: a file's content, or a link's target (on tmpfs).
fn entry_text(entry: &Path) -> Vec<u8> {
    match std::fs::read_link(entry) {
        Ok(target) => target.into_os_string().into_encoded_bytes(),
        Err(_) => std::fs::read(entry).unwrap(),
    }
}

/// A temporary directory on tmpfs (where records are links) and one on the file system of
/// the build directory (where they are files): every registry behaviour holds on both.
fn registry_parents() -> Vec<tempfile::TempDir> {
    let shm = Path::new("/dev/shm");
    assert!(
        shm.is_dir(),
        "these tests need a tmpfs at /dev/shm (the registry writes links there)"
    );
    vec![
        tempfile::tempdir_in(shm).unwrap(),
        tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).unwrap(),
    ]
}

#[test]
fn a_symlink_at_an_entry_is_replaced_never_followed() {
    use std::os::unix::fs::PermissionsExt;
    for dir in registry_parents() {
        let regdir = dir.path().join("reg");
        let reg = Registry::open(Some(&regdir)).unwrap();
        let record = sample_record(0x0200_0007);
        reg.record(&record).unwrap();
        let entry = only_entry(&regdir);
        reg.remove(&record.tpm, record.handle).unwrap();
        // Something planted a link where the next record goes (only this user can write
        // there, but a record must never be written through a link to another file).
        let victim = dir.path().join("victim");
        std::fs::write(&victim, b"precious").unwrap();
        std::os::unix::fs::symlink(&victim, &entry).unwrap();
        // Read as what it is: not a record.
        assert!(reg.get(&record.tpm, record.handle).is_err());
        reg.record(&record).unwrap();
        assert_eq!(std::fs::read(&victim).unwrap(), b"precious");
        let meta = std::fs::symlink_metadata(&entry).unwrap();
        assert!(meta.is_file(), "the link was replaced by the record");
        assert_eq!(meta.permissions().mode() & 0o777, 0o600);
        assert_eq!(reg.get(&record.tpm, record.handle).unwrap(), Some(record));
        // Nothing but the record is left behind (no temporary file).
        assert_eq!(only_entry(&regdir), entry);
    }
}

/// On tmpfs a fresh record is one symbolic link holding the compact text; a record that is
/// changed becomes a file (renamed over the link); both read back the same through the
/// registry, and removal leaves nothing.
#[test]
fn fresh_records_on_tmpfs_are_links_and_change_into_files() {
    for (i, dir) in registry_parents().into_iter().enumerate() {
        let on_tmpfs = i == 0;
        let regdir = dir.path().join("reg");
        let reg = Registry::open(Some(&regdir)).unwrap();
        let record = sample_record(0x0300_0011);
        reg.record(&record).unwrap();
        let entry = only_entry(&regdir);
        let meta = std::fs::symlink_metadata(&entry).unwrap();
        assert_eq!(
            meta.file_type().is_symlink(),
            on_tmpfs,
            "{}",
            entry.display()
        );
        if on_tmpfs {
            let target = std::fs::read_link(&entry).unwrap();
            let text = target.as_os_str().as_encoded_bytes();
            assert!(text.starts_with(b"tws1\n"), "{target:?}");
            assert!(text.len() < 128, "{} bytes: not kept inline", text.len());
            assert_eq!(SessionRecord::parse(text).unwrap(), record);
        }
        assert_eq!(
            reg.get(&record.tpm, record.handle).unwrap(),
            Some(record.clone())
        );
        assert_eq!(reg.list().unwrap().records, vec![record.clone()]);

        assert!(reg
            .set_file(&record.tpm, record.handle, Path::new("/parked/session.ctx"))
            .unwrap());
        assert!(std::fs::symlink_metadata(&entry).unwrap().is_file());
        let changed = reg.get(&record.tpm, record.handle).unwrap().unwrap();
        assert_eq!(
            changed.file.as_deref(),
            Some(Path::new("/parked/session.ctx"))
        );
        assert_eq!(only_entry(&regdir), entry);

        assert!(reg.remove(&record.tpm, record.handle).unwrap());
        assert_eq!(std::fs::read_dir(&regdir).unwrap().count(), 0);
        // And a link again for the next session at that handle.
        reg.record(&record).unwrap();
        assert_eq!(
            std::fs::symlink_metadata(&entry)
                .unwrap()
                .file_type()
                .is_symlink(),
            on_tmpfs
        );
        assert!(reg.remove(&record.tpm, record.handle).unwrap());
    }
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
    assert_eq!(SessionRecord::parse(&entry_text(&entry)).unwrap(), record);
    assert!(reg.remove(&record.tpm, record.handle).unwrap());
    assert_eq!(std::fs::read_dir(&moved).unwrap().count(), 0);
}
