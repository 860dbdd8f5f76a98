//! Cost of session stewardship per use of a session (an audited GetRandom(16)) against a
//! private swtpm over a kept-open Unix socket: a plain session, a guarded one (ContextLoad
//! before and ContextSave after every use), and one reloaded because it was parked.

mod common;

use criterion::{criterion_group, criterion_main, Criterion};
use tpm2_wire::client::{Session, SessionOptions};
use tpm2_wire::sim::Swtpm;
use tpm2_wire::Tpm;

fn use_session(tpm: &Tpm, s: &mut Session) {
    assert_eq!(tpm.get_random_protected(16, s).unwrap().len(), 16);
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
    config = common::short();
    targets = stewardship
}
criterion_main!(benches);
