//! Paths chosen by an attacker or by mistake: a `device:` TCTI pointing at a plain file,
//! outputs that are devices, FIFOs, sockets or symlinks, temporary names planted in advance,
//! and inputs that never end (an endless device) or never arrive (a FIFO nobody writes).
//!
//! Device nodes are made here, in a temporary directory, with the numbers of /dev/null (1,3),
//! /dev/zero (1,5) and /dev/full (1,7): that needs root (CI runs as root); no test touches the
//! real /dev/null, /dev/zero, /dev/full or /dev/stdout.

mod cli_common;

use std::ffi::CString;
use std::io::{Read, Write};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::fs::{FileTypeExt, MetadataExt, OpenOptionsExt};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use cli_common::{assert_success, Env, CLI};
use tpm2_wire::files::{self, FileError};
use tpm2_wire::transport::{DeviceTransport, TransportError};

const NULL: (u32, u32) = (1, 3);
const ZERO: (u32, u32) = (1, 5);
const FULL: (u32, u32) = (1, 7);

fn cstr(p: &Path) -> CString {
    CString::new(p.as_os_str().as_encoded_bytes()).unwrap()
}

/// A character device node with the given numbers, owned by this test.
fn char_node(path: &Path, (major, minor): (u32, u32)) -> PathBuf {
    // SAFETY: a valid NUL-terminated path; mknod only creates the node.
    let rc = unsafe {
        libc::mknod(
            cstr(path).as_ptr(),
            libc::S_IFCHR | 0o600,
            libc::makedev(major, minor),
        )
    };
    assert_eq!(
        rc,
        0,
        "mknod {} ({major},{minor}): {} - these tests create device nodes and must run as root \
         (CI does)",
        path.display(),
        std::io::Error::last_os_error()
    );
    path.to_path_buf()
}

fn fifo(path: &Path) -> PathBuf {
    // SAFETY: a valid NUL-terminated path.
    assert_eq!(unsafe { libc::mkfifo(cstr(path).as_ptr(), 0o600) }, 0);
    path.to_path_buf()
}

fn is_char_device(path: &Path, (major, minor): (u32, u32)) -> bool {
    std::fs::symlink_metadata(path)
        .is_ok_and(|m| m.file_type().is_char_device() && m.rdev() == libc::makedev(major, minor))
}

fn is_fifo(path: &Path) -> bool {
    std::fs::symlink_metadata(path).is_ok_and(|m| m.file_type().is_fifo())
}

fn is_symlink_to(path: &Path, target: &Path) -> bool {
    std::fs::read_link(path).is_ok_and(|t| t == target)
}

/// Opens a FIFO for reading without blocking and collects what arrives until the writer
/// closes it, for at most `limit` (so a writer that never comes cannot hang the test).
fn fifo_reader(path: &Path, limit: Duration) -> std::thread::JoinHandle<Vec<u8>> {
    let path = path.to_path_buf();
    let f = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK)
        .open(&path)
        .unwrap();
    std::thread::spawn(move || {
        let deadline = Instant::now() + limit;
        let mut got = Vec::new();
        let mut seen_writer = false;
        let mut buf = [0u8; 4096];
        while Instant::now() < deadline {
            match (&f).read(&mut buf) {
                Ok(0) if seen_writer => break,
                Ok(0) => std::thread::sleep(Duration::from_millis(10)),
                Ok(n) => {
                    seen_writer = true;
                    got.extend_from_slice(&buf[..n]);
                }
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                    seen_writer = true;
                    std::thread::sleep(Duration::from_millis(10));
                }
                Err(e) => panic!("{e}"),
            }
        }
        got
    })
}

/// Feeds a FIFO with zeros for as long as someone reads it (or `limit` passes).
fn endless_writer(path: &Path, limit: Duration) -> std::thread::JoinHandle<usize> {
    let path = path.to_path_buf();
    std::thread::spawn(move || {
        let deadline = Instant::now() + limit;
        // Waits for the reader; O_NONBLOCK open fails until there is one.
        let f = loop {
            match std::fs::OpenOptions::new()
                .write(true)
                .custom_flags(libc::O_NONBLOCK)
                .open(&path)
            {
                Ok(f) => break f,
                Err(_) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(5)),
                Err(e) => panic!("no reader: {e}"),
            }
        };
        let zeros = [0u8; 4096];
        let mut sent = 0;
        while Instant::now() < deadline {
            match (&f).write(&zeros) {
                Ok(n) => sent += n,
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                    std::thread::sleep(Duration::from_millis(1))
                }
                // The reader closed it (EPIPE; Rust ignores SIGPIPE).
                Err(_) => break,
            }
        }
        sent
    })
}

/// Waits for a child at most `limit`, killing it past that. Returns its output and whether it
/// ended by itself.
fn wait_bounded(mut child: Child, limit: Duration) -> (Output, bool) {
    let deadline = Instant::now() + limit;
    let mut finished = false;
    while Instant::now() < deadline {
        if child.try_wait().unwrap().is_some() {
            finished = true;
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    if !finished {
        let _ = child.kill();
    }
    (child.wait_with_output().unwrap(), finished)
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

// ---- device: TCTI ----

#[test]
fn device_tcti_refuses_files_and_symlinks_and_leaves_them_alone() {
    let dir = tempfile::tempdir().unwrap();
    let content: Vec<u8> = (0..=255u8).cycle().take(1000).collect();
    let file = dir.path().join("not-a-tpm");
    std::fs::write(&file, &content).unwrap();
    let link = dir.path().join("tpmrm0");
    std::os::unix::fs::symlink(&file, &link).unwrap();
    let pipe = fifo(&dir.path().join("fifo"));

    for path in [&file, &link, &pipe] {
        let e = DeviceTransport::open(path).unwrap_err();
        assert!(
            matches!(e, TransportError::NotADevice { .. }),
            "{}: {e}",
            path.display()
        );
        let msg = e.to_string();
        assert!(msg.contains("not a TPM character device"), "{msg}");
    }
    let e = DeviceTransport::open(&file).unwrap_err().to_string();
    assert!(e.contains("a regular file"), "{e}");
    let e = DeviceTransport::open(&pipe).unwrap_err().to_string();
    assert!(e.contains("a FIFO"), "{e}");

    // Through the CLI, as TPM2TOOLS_TCTI: a clear error, and not one byte changed.
    for path in [&file, &link] {
        let out = Command::new(CLI)
            .args(["random", "4"])
            .env("TPM2TOOLS_TCTI", format!("device:{}", path.display()))
            .env("TPM2_WIRE_REGISTRY", dir.path().join("registry"))
            .output()
            .unwrap();
        assert!(!out.status.success());
        assert!(
            stderr(&out).contains("not a TPM character device"),
            "{}",
            stderr(&out)
        );
        assert_eq!(std::fs::read(&file).unwrap(), content);
    }
    assert!(is_symlink_to(&link, &file));
    assert!(is_fifo(&pipe));
}

/// Opening a FIFO's write end is itself an event for its reader: a reader blocked in open()
/// wakes up (and then sees end of file when we close). `device:FIFO` must be refused from what
/// the path is, before anything opens it, so a reader never notices.
///
/// Two readers watch. A witness opened non-blocking beforehand: Linux reports POLLHUP on it
/// once a writer has come and gone, which tells deterministically whether anything opened the
/// write end. And a thread blocked opening the FIFO for reading, released only at the end by
/// our own writer: it must get our bytes, not end of file from an earlier writer.
#[test]
fn device_tcti_does_not_open_a_fifo_it_refuses() {
    let dir = tempfile::tempdir().unwrap();
    let path = fifo(&dir.path().join("tpmrm0"));
    let witness = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK)
        .open(&path)
        .unwrap();
    let blocked = std::thread::spawn({
        let path = path.clone();
        move || {
            let mut got = [0u8; 7];
            std::fs::File::open(path)?.read_exact(&mut got)?;
            Ok::<_, std::io::Error>(got)
        }
    });

    let direct = DeviceTransport::open(&path).unwrap_err();
    let tcti = match tpm2_wire::transport::open(Some(&format!("device:{}", path.display()))) {
        Ok(_) => panic!("device:{} opened a FIFO", path.display()),
        Err(e) => e,
    };
    let mut pfd = libc::pollfd {
        fd: witness.as_raw_fd(),
        events: libc::POLLIN,
        revents: 0,
    };
    // SAFETY: one valid pollfd; a zero timeout only reports the current state.
    let rc = unsafe { libc::poll(&mut pfd, 1, 0) };
    assert!(rc >= 0, "{}", std::io::Error::last_os_error());
    let writer_came = pfd.revents & libc::POLLHUP != 0;

    // Release the blocked reader (the witness keeps a read end open, so this never waits).
    let mut release = std::fs::OpenOptions::new().write(true).open(&path).unwrap();
    release.write_all(b"release").unwrap();
    let got = blocked.join().unwrap();
    drop(release);

    for e in [&direct, &tcti] {
        assert!(
            matches!(
                e,
                TransportError::NotADevice {
                    found: "a FIFO",
                    ..
                }
            ),
            "{e}"
        );
        assert!(e.to_string().contains("not a TPM character device"), "{e}");
    }
    assert!(!writer_came, "the FIFO's write end was opened");
    assert_eq!(got.unwrap(), *b"release", "the blocked reader was woken");
    assert!(is_fifo(&path));
}

// ---- outputs ----

#[test]
fn device_nodes_are_written_in_place_not_replaced() {
    let dir = tempfile::tempdir().unwrap();
    let null = char_node(&dir.path().join("null"), NULL);
    files::write_atomic(&null, b"digest").unwrap();
    files::write_atomic_volatile(&null, b"digest").unwrap();
    assert!(is_char_device(&null, NULL), "the node was replaced");

    // /dev/full's numbers: the write fails, says so, and the node stays.
    let full = char_node(&dir.path().join("full"), FULL);
    let e = files::write_atomic(&full, &[7u8; 32]).unwrap_err();
    match e.without_path() {
        FileError::PartialWrite {
            written: 0,
            total: 32,
            error,
        } => assert_eq!(error.raw_os_error(), Some(libc::ENOSPC)),
        other => panic!("{other:?}"),
    }
    assert!(e.to_string().contains("wrote only 0 of 32 bytes"), "{e}");
    assert!(is_char_device(&full, FULL), "the node was replaced");

    // A symlink to a device node: the node is written, neither is replaced.
    let link = dir.path().join("out");
    std::os::unix::fs::symlink(&null, &link).unwrap();
    files::write_atomic(&link, b"digest").unwrap();
    assert!(is_symlink_to(&link, &null));
    assert!(is_char_device(&null, NULL));
    assert_eq!(
        std::fs::read_dir(dir.path()).unwrap().count(),
        3,
        "leftovers"
    );
}

#[test]
fn fifos_are_written_in_place() {
    let dir = tempfile::tempdir().unwrap();
    let path = fifo(&dir.path().join("fifo"));
    let reader = fifo_reader(&path, Duration::from_secs(20));
    let payload: Vec<u8> = (0..100_000u32).map(|i| i as u8).collect();
    files::write_atomic(&path, &payload).unwrap();
    assert_eq!(reader.join().unwrap(), payload);
    assert!(is_fifo(&path), "the FIFO was replaced");
}

/// What `-o /dev/stdout` does, without touching the real /dev/stdout: a symlink of our own to
/// `/proc/self/fd/N` for a pipe of ours. The pipe gets the bytes; the link stays a link.
#[test]
fn a_link_to_an_open_pipe_writes_into_the_pipe() {
    let dir = tempfile::tempdir().unwrap();
    let mut fds = [0; 2];
    // SAFETY: pipe fills two descriptors, owned below.
    assert_eq!(unsafe { libc::pipe(fds.as_mut_ptr()) }, 0);
    let (rd, wr) = unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) };
    let target = PathBuf::from(format!("/proc/self/fd/{}", wr.as_raw_fd()));
    let link = dir.path().join("stdout");
    std::os::unix::fs::symlink(&target, &link).unwrap();
    files::write_atomic(&link, b"raw digest bytes").unwrap();
    drop(wr);
    let mut got = Vec::new();
    std::fs::File::from(rd).read_to_end(&mut got).unwrap();
    assert_eq!(got, b"raw digest bytes");
    assert!(is_symlink_to(&link, &target), "the link was replaced");
}

#[test]
fn links_to_regular_files_replace_the_target_and_keep_the_link() {
    let dir = tempfile::tempdir().unwrap();
    let sub = dir.path().join("sub");
    std::fs::create_dir(&sub).unwrap();
    let real = sub.join("real.dig");
    std::fs::write(&real, b"old").unwrap();
    let link = dir.path().join("out.dig");
    std::os::unix::fs::symlink("sub/real.dig", &link).unwrap();
    files::write_atomic(&link, b"new").unwrap();
    assert_eq!(std::fs::read(&real).unwrap(), b"new");
    assert!(is_symlink_to(&link, Path::new("sub/real.dig")));
    let mode = std::fs::metadata(&real).unwrap().mode() & 0o777;
    assert_eq!(mode, 0o600);

    // A dangling link creates its target.
    let dangling = dir.path().join("new.dig");
    std::os::unix::fs::symlink("sub/created.dig", &dangling).unwrap();
    files::write_atomic(&dangling, b"fresh").unwrap();
    assert_eq!(std::fs::read(sub.join("created.dig")).unwrap(), b"fresh");
    assert!(std::fs::symlink_metadata(&dangling)
        .unwrap()
        .file_type()
        .is_symlink());
}

/// A sticky, world-writable directory like /tmp, made inside `parent`.
fn sticky_dir(parent: &Path) -> PathBuf {
    let shared = parent.join("tmp");
    std::fs::create_dir(&shared).unwrap();
    std::fs::set_permissions(
        &shared,
        std::os::unix::fs::PermissionsExt::from_mode(0o1777),
    )
    .unwrap();
    shared
}

/// A symlink at `link` to `target`, owned by `uid` as if that user had made it.
fn link_owned_by(target: &Path, link: &Path, uid: u32) {
    std::os::unix::fs::symlink(target, link).unwrap();
    // SAFETY: lchown on a path we created; changes the link's owner only.
    let rc = unsafe { libc::lchown(cstr(link).as_ptr(), uid, uid) };
    assert_eq!(rc, 0, "lchown needs root (CI runs as root)");
}

const OTHER_USER: u32 = 65534;

/// The error names the link that was not followed.
fn refused_as_planted(e: &FileError, link: &Path) -> bool {
    e.to_string().contains(&format!(
        "{} is a symlink owned by another user in a shared sticky directory",
        link.display()
    ))
}

/// A link another user planted in a sticky world-writable directory (like /tmp) is not
/// followed: it could point our write anywhere. The kernel's own rule (`fs.protected_symlinks`)
/// may be off, so the rule is applied here to every link met on the way, whether its target
/// exists or not and whether it is the last component or a directory on the way.
#[test]
fn planted_links_in_sticky_directories_are_not_followed() {
    let dir = tempfile::tempdir().unwrap();
    let shared = sticky_dir(dir.path());

    // Dangling: the write would create the victim.
    let victim = dir.path().join("victim");
    let link = shared.join("out");
    link_owned_by(&victim, &link, OTHER_USER);
    let e = files::write_atomic(&link, b"x").unwrap_err();
    assert!(refused_as_planted(&e, &link), "{e}");
    assert!(!victim.exists(), "the planted link was followed");
    assert!(is_symlink_to(&link, &victim));

    // To an existing file: the write would replace it.
    let precious = dir.path().join("precious");
    std::fs::write(&precious, b"keep me").unwrap();
    let link = shared.join("existing");
    link_owned_by(&precious, &link, OTHER_USER);
    let e = files::write_atomic(&link, b"x").unwrap_err();
    assert!(refused_as_planted(&e, &link), "{e}");
    assert_eq!(std::fs::read(&precious).unwrap(), b"keep me");
    assert!(is_symlink_to(&link, &precious));

    // A directory on the way: `shared/d/out` through another user's `shared/d`.
    let elsewhere = dir.path().join("elsewhere");
    std::fs::create_dir(&elsewhere).unwrap();
    std::fs::write(elsewhere.join("out"), b"keep me").unwrap();
    link_owned_by(&elsewhere, &shared.join("d"), OTHER_USER);
    for path in [shared.join("d/out"), shared.join("d/new")] {
        let e = files::write_atomic(&path, b"x").unwrap_err();
        assert!(
            refused_as_planted(&e, &shared.join("d")),
            "{}: {e}",
            path.display()
        );
    }
    assert_eq!(std::fs::read(elsewhere.join("out")).unwrap(), b"keep me");
    assert!(!elsewhere.join("new").exists());

    // Further down a chain that starts with a link of our own in a private directory.
    let ours = dir.path().join("ours");
    std::os::unix::fs::symlink(shared.join("existing"), &ours).unwrap();
    let e = files::write_atomic(&ours, b"x").unwrap_err();
    assert!(refused_as_planted(&e, &shared.join("existing")), "{e}");
    assert_eq!(std::fs::read(&precious).unwrap(), b"keep me");

    // The volatile variant follows the same rule.
    let e = files::write_atomic_volatile(&shared.join("existing"), b"x").unwrap_err();
    assert!(refused_as_planted(&e, &shared.join("existing")), "{e}");
    assert_eq!(std::fs::read(&precious).unwrap(), b"keep me");
}

/// The rule is the kernel's, not "never follow": our own links in a sticky directory are
/// followed, and so are links owned by the directory's owner.
#[test]
fn own_links_and_the_directory_owners_links_in_sticky_directories_are_followed() {
    let dir = tempfile::tempdir().unwrap();
    let shared = sticky_dir(dir.path());
    let target = dir.path().join("target");
    std::fs::write(&target, b"old").unwrap();
    let mine = shared.join("mine");
    std::os::unix::fs::symlink(&target, &mine).unwrap();
    files::write_atomic(&mine, b"by our link").unwrap();
    assert_eq!(std::fs::read(&target).unwrap(), b"by our link");
    assert!(is_symlink_to(&mine, &target));

    // A sticky directory owned by another user, holding that user's link.
    let theirs_dir = shared.join("theirs");
    std::fs::create_dir(&theirs_dir).unwrap();
    std::fs::set_permissions(
        &theirs_dir,
        std::os::unix::fs::PermissionsExt::from_mode(0o1777),
    )
    .unwrap();
    // SAFETY: chown on a directory we created.
    let rc = unsafe { libc::chown(cstr(&theirs_dir).as_ptr(), OTHER_USER, OTHER_USER) };
    assert_eq!(rc, 0, "chown needs root (CI runs as root)");
    let owners = theirs_dir.join("owners");
    link_owned_by(&target, &owners, OTHER_USER);
    files::write_atomic(&owners, b"by the owner's link").unwrap();
    assert_eq!(std::fs::read(&target).unwrap(), b"by the owner's link");
}

/// Links are resolved as the kernel resolves them: relative targets from the link's own
/// directory (`..` included), chains of links, links to directories on the way; a loop is an
/// error, not a hang, and a trailing slash on a file's name is an error, not a write.
#[test]
fn link_chains_resolve_like_the_kernel() {
    let dir = tempfile::tempdir().unwrap();
    let a = dir.path().join("a");
    let b = dir.path().join("b");
    std::fs::create_dir_all(a.join("deep")).unwrap();
    std::fs::create_dir(&b).unwrap();
    let real = b.join("real");
    std::fs::write(&real, b"old").unwrap();
    // a/deep/first -> ../second, a/second -> ../b/real
    std::os::unix::fs::symlink("../second", a.join("deep/first")).unwrap();
    std::os::unix::fs::symlink("../b/real", a.join("second")).unwrap();
    files::write_atomic(&a.join("deep/first"), b"via a chain").unwrap();
    assert_eq!(std::fs::read(&real).unwrap(), b"via a chain");
    assert!(is_symlink_to(&a.join("deep/first"), Path::new("../second")));

    // A link to a directory on the way, then `..` out of the directory it leads to: the
    // kernel's `..` is the real parent (b's parent), not the link's.
    std::os::unix::fs::symlink(&b, a.join("to_b")).unwrap();
    files::write_atomic(&a.join("to_b/../b/real"), b"through a directory link").unwrap();
    assert_eq!(std::fs::read(&real).unwrap(), b"through a directory link");
    files::write_atomic(&a.join("to_b/created"), b"new").unwrap();
    assert_eq!(std::fs::read(b.join("created")).unwrap(), b"new");

    // A loop.
    std::os::unix::fs::symlink("loop2", dir.path().join("loop1")).unwrap();
    std::os::unix::fs::symlink("loop1", dir.path().join("loop2")).unwrap();
    let e = files::write_atomic(&dir.path().join("loop1"), b"x").unwrap_err();
    match e.without_path() {
        FileError::Io { error, .. } => assert_eq!(error.raw_os_error(), Some(libc::ELOOP)),
        other => panic!("{other:?}"),
    }

    // `real/` names a directory that is not there.
    let mut slash = real.clone().into_os_string();
    slash.push("/");
    let e = files::write_atomic(Path::new(&slash), b"x").unwrap_err();
    match e.without_path() {
        FileError::Io { error, .. } => assert_eq!(error.raw_os_error(), Some(libc::ENOTDIR)),
        other => panic!("{other:?}"),
    }
    assert_eq!(std::fs::read(&real).unwrap(), b"through a directory link");
    let names = |d: &Path| std::fs::read_dir(d).unwrap().count();
    assert_eq!(names(&b), 2, "leftovers");
}

#[test]
fn sockets_and_directories_are_refused_not_replaced() {
    let dir = tempfile::tempdir().unwrap();
    let sock = dir.path().join("sock");
    let _listener = std::os::unix::net::UnixListener::bind(&sock).unwrap();
    let e = files::write_atomic(&sock, b"x").unwrap_err();
    assert!(
        matches!(
            e.without_path(),
            FileError::WrongFileType {
                kind: "a socket",
                ..
            }
        ),
        "{e}"
    );
    assert!(std::fs::symlink_metadata(&sock)
        .unwrap()
        .file_type()
        .is_socket());

    let sub = dir.path().join("d");
    std::fs::create_dir(&sub).unwrap();
    let e = files::write_atomic(&sub, b"x").unwrap_err();
    assert!(
        e.to_string().contains("a directory cannot be written"),
        "{e}"
    );
    assert_eq!(
        std::fs::read_dir(dir.path()).unwrap().count(),
        2,
        "leftovers"
    );
}

/// The temporary name used to be `.NAME.<pid>.tmp`: anyone who could write the directory
/// could create it first and make every write of that process fail. Now it is random.
#[test]
fn planted_temporary_names_do_not_block_writes() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s.ctx");
    let pid = std::process::id();
    let planted_dir = dir.path().join(format!(".s.ctx.{pid}.tmp"));
    std::fs::create_dir(&planted_dir).unwrap();
    let elsewhere = dir.path().join("elsewhere");
    std::os::unix::fs::symlink(&elsewhere, dir.path().join(format!(".out.{pid}.tmp"))).unwrap();

    files::write_atomic(&path, b"first").unwrap();
    files::write_atomic(&path, b"second").unwrap();
    assert_eq!(std::fs::read(&path).unwrap(), b"second");
    files::write_atomic(&dir.path().join("out"), b"third").unwrap();
    assert_eq!(std::fs::read(dir.path().join("out")).unwrap(), b"third");
    assert!(!elsewhere.exists());
    assert!(planted_dir.is_dir());
    // Nothing left behind but what was planted and written.
    let mut names: Vec<String> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(
        names,
        [
            format!(".out.{pid}.tmp"),
            format!(".s.ctx.{pid}.tmp"),
            "out".into(),
            "s.ctx".into()
        ]
    );
}

// ---- inputs ----

#[test]
fn endless_inputs_are_cut_at_the_limit() {
    let dir = tempfile::tempdir().unwrap();
    let zero = char_node(&dir.path().join("zero"), ZERO);
    let e = files::read_bounded(&zero, "name file", 66).unwrap_err();
    assert!(
        matches!(
            e.without_path(),
            FileError::ExceedsLimit {
                what: "name file",
                max: 66
            }
        ),
        "{e}"
    );
    assert!(e.to_string().contains("zero"), "{e}");
    let e = files::read_context_file(&zero).unwrap_err();
    assert!(
        matches!(e.without_path(), FileError::ExceedsLimit { .. }),
        "{e}"
    );

    // The same through a FIFO that never stops.
    let path = fifo(&dir.path().join("fifo"));
    let writer = endless_writer(&path, Duration::from_secs(20));
    let e = files::read_bounded(&path, "PCR values file", 1000).unwrap_err();
    assert!(
        matches!(e.without_path(), FileError::ExceedsLimit { max: 1000, .. }),
        "{e}"
    );
    writer.join().unwrap();

    // A regular file is judged by its size, before anything is read.
    let big = dir.path().join("big");
    std::fs::File::create(&big)
        .unwrap()
        .set_len(1 << 30)
        .unwrap();
    let e = files::read_bounded(&big, "name file", 66).unwrap_err();
    assert!(
        matches!(
            e.without_path(),
            FileError::TooLarge {
                size: 1_073_741_824,
                ..
            }
        ),
        "{e}"
    );
    let e = files::read_bounded(dir.path(), "name file", 66).unwrap_err();
    assert!(e.to_string().contains("a directory cannot be read"), "{e}");
}

#[test]
fn fifos_are_read_within_the_timeout() {
    let dir = tempfile::tempdir().unwrap();
    let path = fifo(&dir.path().join("fifo"));

    // Nobody ever writes.
    let started = Instant::now();
    let e =
        files::read_bounded_within(&path, "name file", 66, Duration::from_millis(300)).unwrap_err();
    let took = started.elapsed();
    assert!(matches!(e.without_path(), FileError::Timeout { .. }), "{e}");
    assert!(
        took >= Duration::from_millis(300) && took < Duration::from_secs(5),
        "{took:?}"
    );

    // A writer that delivers a context file and closes: parsed like a regular file.
    let ctx = std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/data/primary.ctx"
    ))
    .unwrap();
    let expected = files::SavedContext::from_bytes(&ctx).unwrap();
    let writer = {
        let path = path.clone();
        let ctx = ctx.clone();
        std::thread::spawn(move || std::fs::write(path, ctx).unwrap())
    };
    assert_eq!(files::read_context_file(&path).unwrap(), expected);
    writer.join().unwrap();
}

#[test]
fn password_files_are_bounded() {
    let dir = tempfile::tempdir().unwrap();
    let zero = char_node(&dir.path().join("zero"), ZERO);
    let e = tpm2_wire::auth::parse_password(&format!("file:{}", zero.display())).unwrap_err();
    assert!(e.to_string().contains("longer than"), "{e}");

    let path = fifo(&dir.path().join("pw"));
    let writer = std::thread::spawn({
        let path = path.clone();
        move || std::fs::write(path, b"hunter2\n").unwrap()
    });
    let auth = tpm2_wire::auth::parse_password(&format!("file:{}", path.display())).unwrap();
    assert_eq!(auth.as_bytes(), b"hunter2");
    writer.join().unwrap();
}

// ---- the CLI ----

/// `tpm2-wire` with a private registry and a short input timeout.
fn cli(dir: &Path, args: &[&str]) -> Command {
    let mut c = Command::new(CLI);
    c.args(args)
        .current_dir(dir)
        .env("TPM2_WIRE_REGISTRY", dir.join("registry"))
        .env("TPM2_WIRE_INPUT_TIMEOUT", "1")
        .env_remove("TPM2TOOLS_TCTI")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    c
}

/// `session start -n` used to read the name file whole: an endless device grew the buffer
/// until memory ran out (here capped at 1 GiB of address space so that failure is quick),
/// and a FIFO nobody writes blocked for ever.
#[test]
fn cli_name_files_are_bounded() {
    let env = Env::new();
    let zero = char_node(&env.path("zero"), ZERO);
    let silent = fifo(&env.path("silent"));
    let start = |name: &Path| {
        let mut c = env.cli_cmd(&[
            "session",
            "start",
            "--hmac-session",
            "--tpmkey-context",
            "0x81000001",
            "-n",
            name.to_str().unwrap(),
            "-S",
            "s.ctx",
        ]);
        c.env("TPM2_WIRE_INPUT_TIMEOUT", "1")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        // SAFETY: only setrlimit, async-signal-safe, between fork and exec.
        unsafe {
            c.pre_exec(|| {
                let lim = libc::rlimit {
                    rlim_cur: 1 << 30,
                    rlim_max: 1 << 30,
                };
                if libc::setrlimit(libc::RLIMIT_AS, &lim) != 0 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
        let started = Instant::now();
        let (out, finished) = wait_bounded(c.spawn().unwrap(), Duration::from_secs(30));
        (out, finished, started.elapsed())
    };

    let (out, finished, _) = start(&zero);
    assert!(finished && !out.status.success(), "{out:?}");
    assert!(
        stderr(&out).contains("name file is more than the 66 bytes allowed"),
        "{}",
        stderr(&out)
    );

    let (out, finished, took) = start(&silent);
    assert!(finished, "hung on a FIFO nobody writes: {out:?}");
    assert!(
        stderr(&out).contains("timed out after 1s waiting for the end of input"),
        "{}",
        stderr(&out)
    );
    assert!(took < Duration::from_secs(15), "{took:?}");
    assert!(!env.path("s.ctx").exists());
}

/// `file:-` with a pipe that stays open but silent, and `file:FIFO` with no writer: both used
/// to block for ever. They fail before any TPM is contacted, so none is started here.
#[test]
fn cli_password_inputs_time_out() {
    let dir = tempfile::tempdir().unwrap();
    let silent = fifo(&dir.path().join("silent"));
    let bind_auth = format!("file:{}", silent.display());
    for auth in ["file:-", bind_auth.as_str()] {
        let mut c = cli(
            dir.path(),
            &[
                "-T",
                "swtpm:host=127.0.0.1,port=1",
                "session",
                "start",
                "--hmac-session",
                "--bind-context",
                "0x40000001",
                "--bind-auth",
                auth,
                "-S",
                "s.ctx",
            ],
        );
        c.stdin(Stdio::piped());
        let mut child = c.spawn().unwrap();
        // Held open and never written until the child is done.
        let stdin = child.stdin.take();
        let (out, finished) = wait_bounded(child, Duration::from_secs(30));
        drop(stdin);
        assert!(finished, "{auth}: hung: {}", stderr(&out));
        assert!(!out.status.success());
        let msg = stderr(&out);
        assert!(msg.contains("timed out after 1s"), "{auth}: {msg}");
    }
}

/// `policy digest -o` into a device node, a FIFO and a link to an open pipe (the shape of
/// `-o /dev/stdout`): written in place, none of them replaced.
#[test]
fn cli_outputs_are_written_in_place() {
    let env = Env::new();
    env.ok(&["session", "start", "--policy-session", "-S", "s.ctx"]);
    // A digest that is not all zeros, so that raw bytes are recognisable.
    env.ok(&["policy", "password", "-S", "s.ctx"]);
    let digest = |out: &str| -> String {
        let text = env.ok(&["policy", "digest", "-S", "s.ctx", "-o", out]);
        text.trim_end().to_string()
    };

    let null = char_node(&env.path("null"), NULL);
    assert_eq!(digest(null.to_str().unwrap()).len(), 64);
    assert!(is_char_device(&null, NULL), "-o replaced the device node");

    let full = char_node(&env.path("full"), FULL);
    let err = env.fails(&["policy", "digest", "-S", "s.ctx", "-o", "full"]);
    assert!(err.contains("No space left on device"), "{err}");
    assert!(is_char_device(&full, FULL), "-o replaced the device node");

    let pipe = fifo(&env.path("fifo"));
    let reader = fifo_reader(&pipe, Duration::from_secs(20));
    let hex = digest("fifo");
    assert_eq!(cli_common::hex(&reader.join().unwrap()), hex);
    assert!(is_fifo(&pipe));

    // A link to the child's own standard output, like /dev/stdout: the raw digest goes to
    // stdout ahead of the hex line.
    let link = env.path("stdout");
    std::os::unix::fs::symlink("/proc/self/fd/1", &link).unwrap();
    let out = env
        .cli_cmd(&["policy", "digest", "-S", "s.ctx", "-o", "stdout"])
        .output()
        .unwrap();
    assert_success("policy digest -o stdout-link", &out);
    let (raw, text) = out.stdout.split_at(32);
    assert_eq!(String::from_utf8_lossy(text).trim_end(), hex);
    assert_eq!(cli_common::hex(raw), hex);
    assert!(is_symlink_to(&link, Path::new("/proc/self/fd/1")));
}
