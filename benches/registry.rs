//! What the session ownership registry costs a session start and flush: one record written
//! (atomically: temporary file, rename) and removed, through the same calls the client makes
//! (`Registry::record` of `SessionRecord::new_owned`, then `Registry::remove`). Measured on
//! tmpfs (/dev/shm, where `$XDG_RUNTIME_DIR` lives on most systems) and on the file system of
//! the build directory (a disk, like the `/tmp` fallback on many machines); the file system
//! types are printed. Each is reported as wall time and as this thread's CPU time.
//!
//! `cargo bench --bench registry`

mod common;

use std::hint::black_box;
use std::path::Path;
use std::time::Duration;

use common::fs::fs_name;
use criterion::{criterion_group, criterion_main, Criterion};
use tpm2_wire::crypto::HashAlg;
use tpm2_wire::registry::{Registry, SessionRecord};
use tpm2_wire::wire::{Handle, SessionType};

fn bench_on(c: &mut Criterion, label: &str, parent: &Path) {
    let tmp = tempfile::tempdir_in(parent).expect("temporary directory");
    let reg = Registry::open(Some(&tmp.path().join("registry"))).expect("registry opens");
    let name = format!("registry_start_flush/{label} ({})", fs_name(tmp.path()));
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
    if shm.is_dir() && fs_name(shm) == "tmpfs" {
        bench_on(c, "tmpfs", shm);
    } else {
        eprintln!("no tmpfs at /dev/shm: the tmpfs figure is missing");
    }
    bench_on(c, "build directory", Path::new(env!("CARGO_TARGET_TMPDIR")));
}

criterion_group! {
    name = benches;
    config = common::short();
    targets = registry
}
criterion_main!(benches);
