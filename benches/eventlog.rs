//! Firmware logs: four vendored real logs of 31 to 73 KiB (`tests/data/eventlogs/`), parsed
//! (framing, the Spec ID header, and the data-digest check of the events whose digest is
//! defined over their data), replayed in every bank, and verified against their own replayed
//! values as a verifier does after a quote. `floor` is the hashing no replay can avoid, done
//! directly over the events' bytes gathered beforehand: each data-digest check's hash, and
//! one PCR extend per extended event and bank.
//!
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
use tpm2_wire::eventlog::log::EventLog;

/// Real logs of the size a PC's or a cloud VM's firmware writes.
const FIRMWARE_LOGS: [&str; 4] = [
    "goattest-coreos_36_shielded_vm_no_secure_boot_eventlog.bin",
    "tpm2tools-event-gce-ubuntu-2104-log.bin",
    "goattest-ubuntu_2104_shielded_vm_no_secure_boot_eventlog.bin",
    "goattest-option_rom_eventlog.bin",
];

/// What the floor hashes for one log: data to hash (with its bank), and extends.
struct FloorWork {
    data: Vec<(HashAlg, Vec<u8>)>,
    /// (bank, the bank's slot, PCR, digest)
    extends: Vec<(HashAlg, usize, usize, Vec<u8>)>,
}

fn floor_work(bytes: &[u8]) -> FloorWork {
    let log = EventLog::parse(bytes).expect("a vendored log parses");
    let mut work = FloorWork {
        data: Vec::new(),
        extends: Vec::new(),
    };
    let events = log.unverified_events();
    // A crypto-agile log's first record is its Spec ID header, never extended.
    let header = usize::from(log.spec_id().is_some());
    for event in &events[header..] {
        for digest in &event.digests {
            let Ok(bank) = HashAlg::from_alg_id(digest.alg) else {
                continue;
            };
            if event.event_type.digest_covers_data() {
                work.data.push((bank, event.data.to_vec()));
            }
            if event.is_extended() {
                let slot = HashAlg::ALL.iter().position(|&b| b == bank).unwrap();
                work.extends
                    .push((bank, slot, event.pcr as usize, digest.digest.to_vec()));
            }
        }
    }
    work
}

fn firmware_logs(c: &mut Criterion) {
    let mut group = c.benchmark_group("firmware_log");
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/eventlogs/");
    for name in FIRMWARE_LOGS {
        let bytes = std::fs::read(format!("{dir}{name}")).expect("a vendored log");
        let label = format!("{}KiB", bytes.len() / 1024);
        let quoted: Vec<(HashAlg, u32, Vec<u8>)> = {
            let replay = EventLog::parse(&bytes).expect("parses").replay();
            replay
                .banks()
                .flat_map(|bank| (0..24).map(move |pcr| (bank, pcr)))
                .filter(|&(bank, pcr)| replay.extended(bank, pcr))
                .map(|(bank, pcr)| (bank, pcr, replay.get(bank, pcr).unwrap().to_vec()))
                .collect()
        };
        let quoted: Vec<(HashAlg, u32, &[u8])> =
            quoted.iter().map(|(b, p, v)| (*b, *p, &v[..])).collect();
        group.throughput(Throughput::Bytes(bytes.len() as u64));
        group.bench_with_input(BenchmarkId::new("parse", &label), &bytes, |b, bytes| {
            b.iter(|| EventLog::parse(black_box(bytes)).unwrap())
        });
        group.bench_with_input(
            BenchmarkId::new("parse_replay", &label),
            &bytes,
            |b, bytes| b.iter(|| EventLog::parse(black_box(bytes)).unwrap().replay()),
        );
        group.bench_with_input(
            BenchmarkId::new("parse_verify", &label),
            &bytes,
            |b, bytes| {
                b.iter(|| {
                    let log = EventLog::parse(black_box(bytes)).unwrap();
                    log.verify(&quoted).unwrap().events().count()
                })
            },
        );
        let work = floor_work(&bytes);
        group.bench_with_input(BenchmarkId::new("floor", &label), &work, |b, work| {
            b.iter(|| {
                let mut pcrs = [[[0u8; 64]; 24]; 4];
                let mut checked = 0usize;
                for (bank, data) in black_box(&work.data) {
                    checked ^= usize::from(hash(*bank, &[data]).as_bytes()[0]);
                }
                for (bank, slot, pcr, digest) in black_box(&work.extends) {
                    let size = bank.digest_size();
                    let slot = &mut pcrs[*slot][*pcr];
                    let mut extend = Hasher::new(*bank);
                    extend.update(&slot[..size]);
                    extend.update(digest);
                    slot[..size].copy_from_slice(extend.finalize().as_bytes());
                }
                (pcrs, checked)
            })
        });
    }
    group.finish();
}

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
    targets = firmware_logs, ima_replay
}
criterion_main!(benches);
