//! Where a salted session start spends its client time: the public-key work of encapsulating
//! the salt to the TPM's key, split into parsing and checking the key (done once per key and
//! cached by `SaltKey`) and the per-session encapsulation itself (RSA-OAEP, or an ephemeral
//! ECDH key pair plus KDFe), for RSA-2048 and ECC P-256.
//!
//! `cargo bench --bench salt`

use std::hint::black_box;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion};
use tpm2_wire::crypto::{self, EccCurve, EncapsulationKey, HashAlg};

/// An odd 2048-bit modulus: the public operation does not care whether it has two factors.
fn rsa_modulus() -> Vec<u8> {
    let mut n: Vec<u8> = (0..256u32).map(|i| (i * 167 + 13) as u8).collect();
    n[0] |= 0x80;
    n[255] |= 1;
    n
}

/// A P-256 public key (x, y) from a fixed private scalar.
fn ecc_point() -> (Vec<u8>, Vec<u8>) {
    let secret = p256::SecretKey::from_slice(&[7u8; 32]).expect("valid scalar");
    let point =
        p256::elliptic_curve::sec1::ToEncodedPoint::to_encoded_point(&secret.public_key(), false);
    (
        point.x().expect("affine").to_vec(),
        point.y().expect("affine").to_vec(),
    )
}

fn bench_rsa(c: &mut Criterion) {
    let n = rsa_modulus();
    let mut g = c.benchmark_group("salt_rsa2048_sha256");
    g.bench_function("parse_and_check_key", |b| {
        b.iter(|| EncapsulationKey::rsa(HashAlg::Sha256, black_box(&n), 0).expect("valid key"))
    });
    let key = EncapsulationKey::rsa(HashAlg::Sha256, &n, 0).expect("valid key");
    g.bench_function("encapsulate_parsed_key", |b| {
        b.iter(|| key.encapsulate(b"SECRET").expect("encapsulates"))
    });
    g.bench_function("encapsulate_unparsed_key", |b| {
        b.iter(|| {
            crypto::rsa_encapsulate(HashAlg::Sha256, black_box(&n), 0, b"SECRET", 32)
                .expect("encapsulates")
        })
    });
    g.finish();
}

fn bench_ecc(c: &mut Criterion) {
    let (x, y) = ecc_point();
    let mut g = c.benchmark_group("salt_ecc_p256_sha256");
    g.bench_function("parse_and_check_key", |b| {
        b.iter(|| {
            EncapsulationKey::ecc(EccCurve::NistP256, HashAlg::Sha256, black_box(&x), &y)
                .expect("valid key")
        })
    });
    let key = EncapsulationKey::ecc(EccCurve::NistP256, HashAlg::Sha256, &x, &y).expect("valid");
    g.bench_function("encapsulate_parsed_key", |b| {
        b.iter(|| key.encapsulate(b"SECRET").expect("encapsulates"))
    });
    g.bench_function("encapsulate_unparsed_key", |b| {
        b.iter(|| {
            crypto::ecc_encapsulate(HashAlg::Sha256, black_box(&x), &y, b"SECRET")
                .expect("encapsulates")
        })
    });
    let z = [0x5au8; 32];
    g.bench_function("kdfe_only", |b| {
        let mut out = [0u8; 32];
        b.iter(|| {
            crypto::kdfe(
                HashAlg::Sha256,
                black_box(&z),
                b"SECRET",
                &x,
                &x,
                256,
                &mut out,
            )
            .expect("derives")
        })
    });
    g.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .sample_size(30)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2));
    targets = bench_rsa, bench_ecc
}
criterion_main!(benches);
