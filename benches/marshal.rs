//! Marshal/unmarshal cost of the structures on the hot paths: an RSA-2048 public area (every
//! CreatePrimary/ReadPublic/Load), as TPMT_PUBLIC and as the size-prefixed TPM2B_PUBLIC
//! separately, and GetCapability responses (resource probing). Criterion reports the time per
//! operation.

use std::hint::black_box;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use tpm2_wire::wire::*;

fn rsa_2048_public() -> Public {
    let mut public = Public::rsa_2048_storage_parent();
    if let PublicKey::Rsa { unique, .. } = &mut public.key {
        let modulus: Vec<u8> = (0..256u32).map(|i| (i * 31 + 7) as u8).collect();
        *unique = PublicKeyRsa::new(&modulus).expect("256 bytes fit an RSA modulus");
    }
    public
}

fn properties_response() -> Vec<u8> {
    let props = (0..40u32)
        .map(|i| TaggedProperty {
            property: PropertyTag(0x100 + i),
            value: i * 1000,
        })
        .collect();
    let data = CapabilityData::TpmProperties(TaggedPropertyList::new(props).expect("40 fit"));
    let mut out = vec![1u8]; // moreData
    data.marshal(&mut Writer::new(&mut out));
    out
}

fn handles_response() -> Vec<u8> {
    let handles = (0..20u32).map(|i| Handle(0x8100_0000 + i)).collect();
    let data = CapabilityData::Handles(HandleList::new(handles).expect("20 fit"));
    let mut out = vec![0u8];
    data.marshal(&mut Writer::new(&mut out));
    out
}

/// Reads a GetCapability response body: moreData then TPMS_CAPABILITY_DATA.
fn read_capability(bytes: &[u8]) -> (bool, CapabilityData) {
    let mut r = Reader::new(bytes);
    let more = bool::unmarshal(&mut r).expect("valid moreData");
    let data = CapabilityData::unmarshal(&mut r).expect("valid capability data");
    (more, data)
}

/// The public area twice: as TPMT_PUBLIC (the structure itself) and as TPM2B_PUBLIC (with its
/// size prefix, the form commands carry: marshalling it writes the structure and then
/// back-fills the size, unmarshalling checks the size against what the structure used).
fn bench_public(c: &mut Criterion) {
    let public = rsa_2048_public();
    let mut tpmt = Vec::new();
    public.marshal(&mut Writer::new(&mut tpmt));
    let tpm2b_value = Tpm2bPublic(public.clone());
    let tpm2b = tpm2b_value.to_bytes();

    let mut group = c.benchmark_group("tpmt_public_rsa2048");
    group.throughput(Throughput::Bytes(tpmt.len() as u64));
    let mut buf = Vec::with_capacity(1024);
    group.bench_function("marshal", |b| {
        b.iter(|| {
            buf.clear();
            black_box(&public).marshal(&mut Writer::new(&mut buf));
            black_box(buf.len())
        })
    });
    group.bench_function("unmarshal", |b| {
        b.iter(|| {
            let mut r = Reader::new(black_box(&tpmt));
            Public::unmarshal(&mut r).expect("valid")
        })
    });
    group.finish();

    let mut group = c.benchmark_group("tpm2b_public_rsa2048");
    group.throughput(Throughput::Bytes(tpm2b.len() as u64));
    group.bench_function("marshal", |b| {
        b.iter(|| {
            buf.clear();
            black_box(&tpm2b_value).marshal(&mut Writer::new(&mut buf));
            black_box(buf.len())
        })
    });
    group.bench_function("unmarshal", |b| {
        b.iter(|| Tpm2bPublic::from_bytes(black_box(&tpm2b)).expect("valid"))
    });
    group.finish();
}

fn bench_capability(c: &mut Criterion) {
    for (label, encoded) in [
        ("tpm_properties_40", properties_response()),
        ("handles_20", handles_response()),
    ] {
        let (more, data) = read_capability(&encoded);
        let mut group = c.benchmark_group(format!("get_capability_{label}"));
        group.throughput(Throughput::Bytes(encoded.len() as u64));
        let mut buf = Vec::with_capacity(1024);
        group.bench_function("marshal", |b| {
            b.iter(|| {
                buf.clear();
                let mut w = Writer::new(&mut buf);
                black_box(more).marshal(&mut w);
                black_box(&data).marshal(&mut w);
                black_box(buf.len())
            })
        });
        group.bench_function("unmarshal", |b| {
            b.iter(|| read_capability(black_box(&encoded)))
        });
        group.finish();
    }
}

fn config() -> Criterion {
    Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(2))
        .sample_size(50)
}

criterion_group! {
    name = benches;
    config = config();
    targets = bench_public, bench_capability
}
criterion_main!(benches);
