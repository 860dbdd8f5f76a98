//! Cost of session stewardship per use of a session (an audited GetRandom(16)) against a
//! private swtpm over a kept-open Unix socket: a plain session, a guarded one (ContextLoad
//! before and ContextSave after every use), and one reloaded because it was parked.

use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion};
use tpm2_wire::client::{Session, SessionOptions};
use tpm2_wire::command::GetRandom;
use tpm2_wire::sim::Swtpm;
use tpm2_wire::Tpm;

fn use_session(tpm: &Tpm, s: &mut Session) {
    let r = tpm
        .execute(
            &GetRandom {
                bytes_requested: 16,
            },
            &mut [s.extra()],
        )
        .unwrap();
    assert_eq!(r.random_bytes.len(), 16);
}

fn stewardship(c: &mut Criterion) {
    let sim = Swtpm::spawn_unix().unwrap();
    let mut t = sim.transport().unwrap();
    t.set_connection_per_command(false);
    let tpm = Tpm::new(Box::new(t));

    let mut plain = Session::start(&tpm, &SessionOptions::audit()).unwrap();
    c.bench_function("audited command, plain session", |b| {
        b.iter(|| use_session(&tpm, &mut plain))
    });
    drop(plain);

    let mut guarded = Session::start(&tpm, &SessionOptions::audit()).unwrap();
    guarded.set_guarded(true).unwrap();
    c.bench_function("audited command, guarded session", |b| {
        b.iter(|| use_session(&tpm, &mut guarded))
    });
    drop(guarded);

    let mut parked = Session::start(&tpm, &SessionOptions::audit()).unwrap();
    c.bench_function("audited command, session parked before each use", |b| {
        b.iter(|| {
            parked.park().unwrap();
            use_session(&tpm, &mut parked)
        })
    });
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .sample_size(30)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2));
    targets = stewardship
}
criterion_main!(benches);
