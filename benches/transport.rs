//! Round-trip cost of one small command (GetRandom(16)) per backend against a private swtpm:
//! the kept-open data connection versus tpm2-tss's connection-per-command pattern.

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
    // The connection-per-command comparison runs over a Unix socket: over TCP every
    // iteration would leave a loopback port in TIME_WAIT for a minute, and a benchmark run
    // exhausts the machine's ephemeral ports.
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
    config = Criterion::default()
        .sample_size(30)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2));
    targets = transports
}
criterion_main!(benches);
