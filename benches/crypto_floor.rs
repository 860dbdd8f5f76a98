//! The crypto floor: nanoseconds per operation for the primitives a session spends its time in
//! (HMAC, hash, KDFa, AES-CFB). The session engine's per-command cost is compared against these.
//! `salt_encapsulation` is the host's share of a salted session start: one secret encrypted to a
//! parsed TPM key (RSA-OAEP, or ECDH + KDFe), and parsing that key; `_reused` keeps one parsed
//! key for every secret, `_fresh` parses the key for each (as one CLI run does).

use std::hint::black_box;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use rsa::traits::PublicKeyParts;
use tpm2_wire::crypto::{aes_cfb_encrypt, hash, hmac, kdfa, HashAlg, SecretRecipient};
use tpm2_wire::wire::EccCurve;

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

fn bench_salt_encapsulation(c: &mut Criterion) {
    let mut group = c.benchmark_group("salt_encapsulation");
    let rsa = rsa::RsaPrivateKey::new(&mut rand_core::OsRng, 2048).expect("RSA key");
    let modulus = rsa.n().to_bytes_be();
    // The P-256 base point: a valid public key whose private half nobody needs here.
    let x = hex("6b17d1f2e12c4247f8bce6e563a440f277037d812deb33a0f4a13945d898c296");
    let y = hex("4fe342e2fe1a7f9b8ee7eb4a7c0f9e162bce33576b315ececbb6406837bf51f5");
    group.bench_function("rsa2048/parse", |b| {
        b.iter(|| SecretRecipient::rsa(black_box(&modulus), 0).unwrap())
    });
    group.bench_function("p256/parse", |b| {
        b.iter(|| SecretRecipient::ecc(EccCurve::NIST_P256, black_box(&x), &y).unwrap())
    });
    // A recipient kept for many secrets (a long-running client salting one session after
    // another to the same key).
    for (name, recipient) in [
        (
            "rsa2048/encapsulate_reused",
            SecretRecipient::rsa(&modulus, 0).unwrap(),
        ),
        (
            "p256/encapsulate_reused",
            SecretRecipient::ecc(EccCurve::NIST_P256, &x, &y).unwrap(),
        ),
    ] {
        group.bench_function(name, |b| {
            b.iter(|| recipient.encapsulate(HashAlg::Sha256, b"SECRET").unwrap())
        });
    }
    // A recipient parsed for one secret and dropped (one CLI run, one salted session).
    group.bench_function("rsa2048/encapsulate_fresh", |b| {
        b.iter(|| {
            SecretRecipient::rsa(black_box(&modulus), 0)
                .unwrap()
                .encapsulate(HashAlg::Sha256, b"SECRET")
                .unwrap()
        })
    });
    group.bench_function("p256/encapsulate_fresh", |b| {
        b.iter(|| {
            SecretRecipient::ecc(EccCurve::NIST_P256, black_box(&x), &y)
                .unwrap()
                .encapsulate(HashAlg::Sha256, b"SECRET")
                .unwrap()
        })
    });
    group.finish();
}

fn hex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

fn config() -> Criterion {
    Criterion::default()
        .measurement_time(Duration::from_secs(2))
        .warm_up_time(Duration::from_millis(500))
}

criterion_group! {
    name = crypto_floor;
    config = config();
    targets = bench_hmac_sha256, bench_sha256, bench_kdfa_sha256, bench_aes128_cfb,
        bench_salt_encapsulation
}
criterion_main!(crypto_floor);
