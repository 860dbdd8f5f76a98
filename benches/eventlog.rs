//! Replaying a Linux IMA measurement list: a synthetic 10,000-entry `ima-ng` list (SHA-256 file
//! digests, paths of typical length) in the SHA-1 and SHA-256 banks, whole and fed in 4 KiB
//! reads as a verifier polling a growing list would. `floor` is the same work done directly:
//! per entry, one hash of the template data (the template digest check) and one PCR extend,
//! with no parsing, so the difference is what reading and checking the list costs.

mod common;

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use tpm2_wire::crypto::{hash, HashAlg, Hasher};
use tpm2_wire::eventlog::ima::{replay, ImaReplay, ListFormat};

const ENTRIES: usize = 10_000;

/// The list, and each entry's template data (for the floor).
fn list(bank: HashAlg) -> (Vec<u8>, Vec<Vec<u8>>) {
    let mut list = Vec::new();
    let mut datas = Vec::with_capacity(ENTRIES);
    for i in 0..ENTRIES {
        let path = format!("/usr/lib/x86_64-linux-gnu/libexample-{i:05}.so.1\0");
        let file_digest = hash(HashAlg::Sha256, &[path.as_bytes()]);
        let mut digest_field = b"sha256:\0".to_vec();
        digest_field.extend_from_slice(file_digest.as_bytes());
        let mut data = Vec::new();
        for field in [&digest_field[..], path.as_bytes()] {
            data.extend_from_slice(&(field.len() as u32).to_le_bytes());
            data.extend_from_slice(field);
        }
        list.extend_from_slice(&10u32.to_le_bytes());
        list.extend_from_slice(hash(bank, &[&data]).as_bytes());
        list.extend_from_slice(&6u32.to_le_bytes());
        list.extend_from_slice(b"ima-ng");
        list.extend_from_slice(&(data.len() as u32).to_le_bytes());
        list.extend_from_slice(&data);
        datas.push(data);
    }
    (list, datas)
}

fn ima_replay(c: &mut Criterion) {
    let mut group = c.benchmark_group("ima_replay");
    for bank in [HashAlg::Sha1, HashAlg::Sha256] {
        let (bytes, datas) = list(bank);
        let format = ListFormat::new(bank);
        group.throughput(Throughput::Elements(ENTRIES as u64));
        group.bench_with_input(
            BenchmarkId::new("whole", bank.name()),
            &bytes,
            |b, bytes| b.iter(|| replay(black_box(bytes), format).unwrap()),
        );
        group.bench_with_input(
            BenchmarkId::new("reads_4k", bank.name()),
            &bytes,
            |b, bytes| {
                b.iter(|| {
                    let mut replay = ImaReplay::new(format);
                    let mut pending = Vec::with_capacity(8192);
                    for read in black_box(bytes).chunks(4096) {
                        pending.extend_from_slice(read);
                        let used = replay.feed(&pending).unwrap();
                        pending.drain(..used);
                    }
                    assert!(pending.is_empty());
                    replay
                })
            },
        );
        group.bench_with_input(
            BenchmarkId::new("floor", bank.name()),
            &datas,
            |b, datas| {
                b.iter(|| {
                    let size = bank.digest_size();
                    let mut pcr = [0u8; 64];
                    for data in black_box(datas) {
                        let digest = hash(bank, &[data]);
                        let mut extend = Hasher::new(bank);
                        extend.update(&pcr[..size]);
                        extend.update(digest.as_bytes());
                        pcr[..size].copy_from_slice(extend.finalize().as_bytes());
                    }
                    pcr
                })
            },
        );
    }
    group.finish();
}

criterion_group! {
    name = benches;
    config = common::short();
    targets = ima_replay
}
criterion_main!(benches);
