//! Round-trip cost of one small command (GetRandom(16)) per backend against a private swtpm:
//! the kept-open data connection versus tpm2-tss's connection-per-command pattern, over TCP
//! and over a Unix socket.

mod common;

use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion};
use tpm2_wire::sim::{MssimFront, Swtpm};
use tpm2_wire::transport::{SwtpmTransport, Transport};

const GET_RANDOM_16: [u8; 12] = [0x80, 0x01, 0, 0, 0, 0x0C, 0, 0, 0x01, 0x7B, 0, 16];

fn round_trip(c: &mut Criterion, name: &str, t: &mut dyn Transport) {
    let mut rsp = Vec::with_capacity(64);
    c.bench_function(name, |b| {
        b.iter(|| {
            t.transact(&GET_RANDOM_16, &mut rsp).unwrap();
            assert_eq!(rsp.len(), 28);
        })
    });
}

/// [`round_trip`] with a bounded number of iterations (about 10,000 connections at most).
fn round_trip_short(c: &mut Criterion, name: &str, t: &mut dyn Transport) {
    let mut rsp = Vec::with_capacity(64);
    let mut group = c.benchmark_group("short");
    group
        .sample_size(20)
        .warm_up_time(Duration::from_millis(200))
        .measurement_time(Duration::from_millis(800));
    group.bench_function(name, |b| {
        b.iter(|| {
            t.transact(&GET_RANDOM_16, &mut rsp).unwrap();
            assert_eq!(rsp.len(), 28);
        })
    });
    group.finish();
}

fn transports(c: &mut Criterion) {
    let tcp = Swtpm::spawn().unwrap();
    {
        let mut t = tcp.transport().unwrap();
        t.set_connection_per_command(false);
        round_trip(c, "swtpm tcp, kept-open connection", &mut t);
    }
    {
        let front = MssimFront::for_swtpm(&tcp).unwrap();
        let mut t = tpm2_wire::transport::open(Some(&front.tcti())).unwrap();
        round_trip(c, "mssim via in-process front", &mut *t);
    }
    {
        // tpm2-tss's pattern. Every connection leaves a loopback port in TIME_WAIT for a
        // minute; Linux reuses those for new loopback connections (tcp_tw_reuse, on for
        // loopback by default), and the short measurement below stays well within the
        // ephemeral port range even where it is off.
        let mut t = tcp.transport().unwrap();
        t.set_connection_per_command(true);
        round_trip_short(c, "swtpm tcp, connection per command", &mut t);
    }
    let unix = Swtpm::spawn_unix().unwrap();
    {
        let mut t = SwtpmTransport::connect(unix.endpoint()).unwrap();
        t.set_connection_per_command(false);
        round_trip(c, "swtpm unix socket, kept-open connection", &mut t);
    }
    let mut t = SwtpmTransport::connect(unix.endpoint()).unwrap();
    round_trip(c, "swtpm unix socket, connection per command", &mut t);
}

criterion_group! {
    name = benches;
    config = common::short();
    targets = transports
}
criterion_main!(benches);
