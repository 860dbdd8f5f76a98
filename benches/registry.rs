//! What the session ownership registry costs a session start and flush: one record written
//! (atomically: temporary file, rename) and removed, through the same calls the client makes
//! (`Registry::record` of `SessionRecord::new_owned`, then `Registry::remove`). Measured on
//! tmpfs (/dev/shm, where `$XDG_RUNTIME_DIR` lives on most systems) and on the file system of
//! the build directory (a disk, like the `/tmp` fallback on many machines); the file system
//! types are printed. Each is reported as wall time and as this thread's CPU time.
//!
//! `cargo bench --bench registry`

use std::hint::black_box;
use std::path::Path;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion};
use tpm2_wire::crypto::HashAlg;
use tpm2_wire::registry::{Registry, SessionRecord};
use tpm2_wire::wire::{Handle, SessionType};

fn fs_type(path: &Path) -> String {
    use std::os::unix::ffi::OsStrExt;
    let c = std::ffi::CString::new(path.as_os_str().as_bytes()).expect("no NUL in path");
    // SAFETY: statfs writes into the zeroed struct we pass; `c` is NUL-terminated.
    let mut st: libc::statfs = unsafe { std::mem::zeroed() };
    // SAFETY: as above.
    if unsafe { libc::statfs(c.as_ptr(), &mut st) } != 0 {
        return "unknown".into();
    }
    match st.f_type {
        libc::TMPFS_MAGIC => "tmpfs".into(),
        libc::EXT4_SUPER_MAGIC => "ext4".into(),
        libc::XFS_SUPER_MAGIC => "xfs".into(),
        libc::BTRFS_SUPER_MAGIC => "btrfs".into(),
        libc::OVERLAYFS_SUPER_MAGIC => "overlayfs".into(),
        other => format!("0x{other:x}"),
    }
}

fn bench_on(c: &mut Criterion, label: &str, parent: &Path) {
    let tmp = tempfile::tempdir_in(parent).expect("temporary directory");
    let reg = Registry::open(Some(&tmp.path().join("registry"))).expect("registry opens");
    let name = format!("registry_start_flush/{label} ({})", fs_type(tmp.path()));
    let tpm = "swtpm:host=127.0.0.1,port=2321";
    let mut index = 0u32;
    let mut pair = || {
        // A different handle each time, as the TPM hands them out.
        index = (index + 1) & 0xff;
        let handle = Handle(0x0200_0000 | index);
        let record =
            SessionRecord::new_owned(tpm.to_string(), handle, SessionType::HMAC, HashAlg::Sha256);
        reg.record(black_box(&record)).expect("recorded");
        assert!(reg.remove(tpm, handle).expect("removed"));
    };
    c.bench_function(&format!("{name}/wall"), |b| b.iter(&mut pair));
    // CPU time of this thread, user and kernel: what the caller pays, whatever else the
    // machine is doing (wall time on a loaded machine includes waiting for a core).
    c.bench_function(&format!("{name}/thread CPU"), |b| {
        b.iter_custom(|iters| {
            let start = thread_cpu();
            for _ in 0..iters {
                pair();
            }
            thread_cpu().saturating_sub(start)
        })
    });
}

fn thread_cpu() -> Duration {
    // SAFETY: clock_gettime writes into the timespec we pass.
    let mut ts: libc::timespec = unsafe { std::mem::zeroed() };
    // SAFETY: as above; CLOCK_THREAD_CPUTIME_ID is always valid.
    unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32)
}

fn registry(c: &mut Criterion) {
    let shm = Path::new("/dev/shm");
    if shm.is_dir() && fs_type(shm) == "tmpfs" {
        bench_on(c, "tmpfs", shm);
    } else {
        eprintln!("no tmpfs at /dev/shm: the tmpfs figure is missing");
    }
    bench_on(c, "build directory", Path::new(env!("CARGO_TARGET_TMPDIR")));
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .sample_size(30)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2));
    targets = registry
}
criterion_main!(benches);
