//! The crypto floor: nanoseconds per operation for the primitives a session spends its time in
//! (HMAC, hash, KDFa, AES-CFB). The session engine's per-command cost is compared against these.

use std::hint::black_box;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use tpm2_wire::crypto::{aes_cfb_encrypt, hash, hmac, kdfa, HashAlg};

const SIZES: [usize; 2] = [64, 1024];

fn bench_hmac_sha256(c: &mut Criterion) {
    let mut group = c.benchmark_group("hmac_sha256");
    let key = [0x42u8; 32];
    for size in SIZES {
        let data = vec![0xa5u8; size];
        group.throughput(Throughput::Bytes(size as u64));
        group.bench_with_input(BenchmarkId::from_parameter(size), &data, |b, data| {
            b.iter(|| hmac(HashAlg::Sha256, black_box(&key), &[black_box(data)]))
        });
    }
    group.finish();
}

fn bench_sha256(c: &mut Criterion) {
    let mut group = c.benchmark_group("sha256");
    for size in SIZES {
        let data = vec![0xa5u8; size];
        group.throughput(Throughput::Bytes(size as u64));
        group.bench_with_input(BenchmarkId::from_parameter(size), &data, |b, data| {
            b.iter(|| hash(HashAlg::Sha256, &[black_box(data)]))
        });
    }
    group.finish();
}

fn bench_kdfa_sha256(c: &mut Criterion) {
    let mut group = c.benchmark_group("kdfa_sha256");
    // A session key derivation: key = auth value, contexts = two SHA-256 nonces.
    let key = [0x11u8; 32];
    let nonce_newer = [0x22u8; 32];
    let nonce_older = [0x33u8; 32];
    for bits in [128u32, 256] {
        let mut out = vec![0u8; bits as usize / 8];
        group.bench_function(BenchmarkId::from_parameter(bits), |b| {
            b.iter(|| {
                kdfa(
                    HashAlg::Sha256,
                    black_box(&key),
                    b"ATH",
                    black_box(&nonce_newer),
                    black_box(&nonce_older),
                    bits,
                    &mut out,
                )
                .unwrap();
                black_box(&out);
            })
        });
    }
    group.finish();
}

fn bench_aes128_cfb(c: &mut Criterion) {
    let mut group = c.benchmark_group("aes128_cfb_encrypt");
    let key = [0x44u8; 16];
    let iv = [0x55u8; 16];
    for size in SIZES {
        let mut data = vec![0xa5u8; size];
        group.throughput(Throughput::Bytes(size as u64));
        group.bench_function(BenchmarkId::from_parameter(size), |b| {
            b.iter(|| {
                aes_cfb_encrypt(black_box(&key), &iv, &mut data).unwrap();
                black_box(&data);
            })
        });
    }
    group.finish();
}

fn config() -> Criterion {
    Criterion::default()
        .measurement_time(Duration::from_secs(2))
        .warm_up_time(Duration::from_millis(500))
}

criterion_group! {
    name = crypto_floor;
    config = config();
    targets = bench_hmac_sha256, bench_sha256, bench_kdfa_sha256, bench_aes128_cfb
}
criterion_main!(crypto_floor);
