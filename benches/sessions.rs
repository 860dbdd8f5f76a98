//! The client-side cost of one session-protected command, without a TPM, against the cost of
//! the cryptography that command cannot avoid (the "floor").
//!
//! `client/*` runs typed command → marshal → authorize/encrypt → transport → verify/decrypt →
//! typed response through `Tpm::execute`. The transport is the in-process responder (a fake
//! TPM side that checks the command HMAC and answers with a correct response HMAC and
//! encrypted parameter); the time spent inside it is measured and subtracted, so the figure
//! is the client's alone.
//!
//! `floor/*` calls the same primitives directly through `tpm2_wire::crypto`: a fresh
//! nonceCaller, KDFa + AES-CFB of the parameter, cpHash, the command HMAC, rpHash and the
//! response HMAC check. Everything a session command must compute, nothing else.
//!
//! `cargo bench --bench sessions` ends with a table of ns/command, floor and their ratio
//! (goal: at most 1.5), and the time the fake TPM side took (not counted). Both figures
//! include one OS random-number call (the fresh nonceCaller); the client figure also carries
//! about 70 ns of timing the responder, and the cache misses its buffers cause.

use std::hint::black_box;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use criterion::Criterion;
use tpm2_wire::command::{Entity, GetRandom, NvRead, NvWrite};
use tpm2_wire::crypto::{self, HashAlg, Hasher, HmacCtx};
use tpm2_wire::session::engine::SessionSlot;
use tpm2_wire::session::{SessionState, Symmetric};
use tpm2_wire::sim::Responder;
use tpm2_wire::transport::{Transport, TransportError};
use tpm2_wire::wire::{Auth, CommandCode, MaxNvBuffer, SessionAttributes};
use tpm2_wire::Tpm;

/// A transport that forwards to the responder and adds up the time spent there.
struct Timed {
    inner: Responder,
    spent_ns: Arc<AtomicU64>,
}

impl Transport for Timed {
    fn transact(&mut self, command: &[u8], response: &mut Vec<u8>) -> Result<(), TransportError> {
        let start = Instant::now();
        let r = self.inner.transact(command, response);
        let ns = start.elapsed().as_nanos() as u64;
        self.spent_ns.fetch_add(ns, Ordering::Relaxed);
        r
    }

    fn describe(&self) -> String {
        self.inner.describe()
    }
}

#[derive(Clone, Copy, Debug)]
pub(crate) enum Kind {
    GetRandom,
    NvWrite(usize),
    NvRead(usize),
}

impl Kind {
    pub(crate) const ALL: [Kind; 5] = [
        Kind::GetRandom,
        Kind::NvWrite(64),
        Kind::NvWrite(1024),
        Kind::NvRead(64),
        Kind::NvRead(1024),
    ];

    pub(crate) fn name(self) -> String {
        match self {
            Kind::GetRandom => "get_random_32_encrypt".into(),
            Kind::NvWrite(n) => format!("nv_write_{n}_decrypt"),
            Kind::NvRead(n) => format!("nv_read_{n}_encrypt"),
        }
    }

    fn attributes(self) -> SessionAttributes {
        SessionAttributes(match self {
            Kind::GetRandom | Kind::NvRead(_) => SessionAttributes::ENCRYPT,
            Kind::NvWrite(_) => SessionAttributes::DECRYPT,
        })
    }
}

/// One command, ready to run again and again through the client.
pub(crate) struct ClientCase {
    kind: Kind,
    tpm: Tpm,
    state: SessionState,
    nv: Entity,
    auth: Auth,
    data: MaxNvBuffer,
    spent_ns: Arc<AtomicU64>,
}

impl ClientCase {
    pub(crate) fn new(kind: Kind) -> Self {
        let mut responder = Responder::new();
        let auth = Auth::new(b"nv auth value").unwrap();
        let nv = responder.nv_index(0x0100_0001, auth.clone());
        let state = responder
            .open_session(HashAlg::Sha256, Symmetric::AesCfb(128), kind.attributes())
            .unwrap();
        let spent_ns = Arc::new(AtomicU64::new(0));
        let tpm = Tpm::new(Box::new(Timed {
            inner: responder,
            spent_ns: spent_ns.clone(),
        }));
        let data: Vec<u8> = (0..1024u32).map(|i| i as u8).collect();
        let len = match kind {
            Kind::NvWrite(n) => n,
            _ => 1024,
        };
        let mut case = ClientCase {
            kind,
            tpm,
            state,
            nv,
            auth,
            data: MaxNvBuffer::new(&data[..len]).unwrap(),
            spent_ns,
        };
        if let Kind::NvRead(_) = kind {
            // Fill the NV area so reads return real data (through a decrypt session).
            case.state.set_attributes(SessionAttributes(
                SessionAttributes::CONTINUE_SESSION | SessionAttributes::DECRYPT,
            ));
            case.write();
            case.state.set_attributes(SessionAttributes(
                SessionAttributes::CONTINUE_SESSION | SessionAttributes::ENCRYPT,
            ));
        }
        case
    }

    fn write(&mut self) {
        self.tpm
            .execute(
                &NvWrite {
                    auth_handle: self.nv.clone(),
                    nv_index: self.nv.clone(),
                    data: self.data.clone(),
                    offset: 0,
                },
                &mut [SessionSlot::Session {
                    state: &mut self.state,
                    auth: &self.auth,
                }],
            )
            .unwrap();
    }

    /// Time spent inside the responder since the last `run` started.
    fn responder_time(&self) -> Duration {
        Duration::from_nanos(self.spent_ns.load(Ordering::Relaxed))
    }

    /// Runs the command `iters` times; returns the time spent outside the responder.
    pub(crate) fn run(&mut self, iters: u64) -> Duration {
        // Commands are built once, as a caller reusing them would; building is not session work.
        let get_random = GetRandom {
            bytes_requested: 32,
        };
        let write = NvWrite {
            auth_handle: self.nv.clone(),
            nv_index: self.nv.clone(),
            data: self.data.clone(),
            offset: 0,
        };
        let read = NvRead {
            auth_handle: self.nv.clone(),
            nv_index: self.nv.clone(),
            size: match self.kind {
                Kind::NvRead(n) => n as u16,
                _ => 0,
            },
            offset: 0,
        };
        let empty = Auth::empty();
        self.spent_ns.store(0, Ordering::Relaxed);
        let start = Instant::now();
        for _ in 0..iters {
            match self.kind {
                Kind::GetRandom => {
                    let r = self.tpm.execute(
                        &get_random,
                        &mut [SessionSlot::Session {
                            state: &mut self.state,
                            auth: &empty,
                        }],
                    );
                    black_box(r.unwrap());
                }
                Kind::NvWrite(_) => {
                    let r = self.tpm.execute(
                        &write,
                        &mut [SessionSlot::Session {
                            state: &mut self.state,
                            auth: &self.auth,
                        }],
                    );
                    black_box(r.unwrap());
                }
                Kind::NvRead(_) => {
                    let r = self.tpm.execute(
                        &read,
                        &mut [SessionSlot::Session {
                            state: &mut self.state,
                            auth: &self.auth,
                        }],
                    );
                    black_box(r.unwrap());
                }
            }
        }
        let total = start.elapsed();
        total.saturating_sub(self.responder_time())
    }
}

/// The unavoidable cryptography of the same command, with the same inputs and sizes.
pub(crate) struct FloorCase {
    kind: Kind,
    session_key: [u8; 32],
    auth: Auth,
    nonce_caller: [u8; 32],
    nonce_tpm: [u8; 32],
    /// The command (or response) parameter that gets encrypted (or decrypted).
    param: Vec<u8>,
    /// The whole command parameter area, for cpHash.
    cp_params: Vec<u8>,
    /// The whole response parameter area, for rpHash.
    rp_params: Vec<u8>,
    names: [Vec<u8>; 2],
    response_hmac: [u8; 32],
}

impl FloorCase {
    pub(crate) fn new(kind: Kind) -> Self {
        let n = match kind {
            Kind::GetRandom => 32,
            Kind::NvWrite(n) | Kind::NvRead(n) => n,
        };
        let param = vec![0xA5u8; n];
        let with_size = |p: &[u8], extra: &[u8]| {
            let mut v = (p.len() as u16).to_be_bytes().to_vec();
            v.extend_from_slice(p);
            v.extend_from_slice(extra);
            v
        };
        let (cp_params, rp_params) = match kind {
            Kind::GetRandom => (32u16.to_be_bytes().to_vec(), with_size(&param, &[])),
            Kind::NvWrite(_) => (with_size(&param, &[0, 0]), Vec::new()),
            Kind::NvRead(n) => (
                [(n as u16).to_be_bytes(), [0, 0]].concat(),
                with_size(&param, &[]),
            ),
        };
        let mut name = vec![0x00, 0x0B];
        name.extend_from_slice(&[0x5C; 32]);
        FloorCase {
            kind,
            session_key: [0x11; 32],
            auth: Auth::new(b"nv auth value").unwrap(),
            nonce_caller: [0x22; 32],
            nonce_tpm: [0x33; 32],
            param,
            cp_params,
            rp_params,
            names: [name.clone(), name],
            response_hmac: [0; 32],
        }
    }

    fn code(&self) -> CommandCode {
        match self.kind {
            Kind::GetRandom => CommandCode::GET_RANDOM,
            Kind::NvWrite(_) => CommandCode::NV_WRITE,
            Kind::NvRead(_) => CommandCode::NV_READ,
        }
    }

    /// One command's worth of session cryptography.
    fn run_once(&mut self) -> bool {
        let code = self.code();
        let mut key = [0u8; 64];
        key[..32].copy_from_slice(&self.session_key);
        // GetRandom's session only encrypts (no authorized handle, so no auth value in keys).
        let key_len = match self.kind {
            Kind::GetRandom => 32,
            _ => {
                let a = self.auth.as_bytes();
                key[32..32 + a.len()].copy_from_slice(a);
                32 + a.len()
            }
        };
        let key = &key[..key_len];
        let handles = match self.kind {
            Kind::GetRandom => 0,
            _ => 2,
        };

        crypto::random(&mut self.nonce_caller).unwrap();
        if let Kind::NvWrite(_) = self.kind {
            crypto::param_cfb(
                crypto::Direction::Encrypt,
                HashAlg::Sha256,
                128,
                key,
                &self.nonce_caller,
                &self.nonce_tpm,
                &mut self.param,
            )
            .unwrap();
        }
        let mut h = Hasher::new(HashAlg::Sha256);
        h.update(&code.0.to_be_bytes());
        for n in &self.names[..handles] {
            h.update(n);
        }
        h.update(&self.cp_params);
        let cp = h.finalize();
        let mut m = HmacCtx::new(HashAlg::Sha256, key);
        m.update(cp.as_bytes());
        m.update(&self.nonce_caller);
        m.update(&self.nonce_tpm);
        m.update(&[0x01]);
        black_box(m.finalize());

        let mut h = Hasher::new(HashAlg::Sha256);
        h.update(&0u32.to_be_bytes());
        h.update(&code.0.to_be_bytes());
        h.update(&self.rp_params);
        let rp = h.finalize();
        let mut m = HmacCtx::new(HashAlg::Sha256, key);
        m.update(rp.as_bytes());
        m.update(&self.nonce_tpm);
        m.update(&self.nonce_caller);
        m.update(&[0x01]);
        // Compared in constant time, like the engine; it fails here (no real TPM), which
        // costs the same as succeeding.
        let ok = m.verify(&self.response_hmac);
        if matches!(self.kind, Kind::GetRandom | Kind::NvRead(_)) {
            crypto::param_cfb(
                crypto::Direction::Decrypt,
                HashAlg::Sha256,
                128,
                key,
                &self.nonce_tpm,
                &self.nonce_caller,
                &mut self.param,
            )
            .unwrap();
        }
        ok
    }

    pub(crate) fn run(&mut self, iters: u64) -> Duration {
        let start = Instant::now();
        for _ in 0..iters {
            black_box(self.run_once());
        }
        start.elapsed()
    }
}

fn configured() -> Criterion {
    Criterion::default()
        .warm_up_time(Duration::from_millis(700))
        .measurement_time(Duration::from_millis(2500))
        .sample_size(40)
        .configure_from_args()
}

fn bench(c: &mut Criterion) {
    for kind in Kind::ALL {
        let mut client = ClientCase::new(kind);
        let mut floor = FloorCase::new(kind);
        let mut group = c.benchmark_group(kind.name());
        group.bench_function("client", |b| b.iter_custom(|iters| client.run(iters)));
        group.bench_function("floor", |b| b.iter_custom(|iters| floor.run(iters)));
        group.finish();
    }
}

/// Iterations that take about `budget`.
fn calibrate(mut run: impl FnMut(u64) -> Duration, budget: Duration) -> u64 {
    let mut iters = 16u64;
    loop {
        let t = run(iters);
        if t >= budget / 4 || iters >= 1 << 24 {
            let scaled = (iters as f64) * budget.as_secs_f64() / t.as_secs_f64().max(1e-9);
            return (scaled as u64).max(1);
        }
        iters *= 4;
    }
}

/// The ratio table. Client and floor runs alternate, so both see the same machine load, and
/// the fastest run of each counts: on a shared machine, slower runs measure the neighbours.
fn summary() {
    const ROUNDS: usize = 15;
    println!();
    println!(
        "session command, client side (SHA-256, AES-128-CFB), best of {ROUNDS} alternating runs:"
    );
    println!(
        "{:<26} {:>10} {:>10} {:>7} {:>12} {:>13}",
        "command", "client ns", "floor ns", "ratio", "median ratio", "fake TPM ns"
    );
    for kind in Kind::ALL {
        let mut client = ClientCase::new(kind);
        let mut floor = FloorCase::new(kind);
        let budget = Duration::from_millis(60);
        let ci = calibrate(|n| client.run(n), budget);
        let fi = calibrate(|n| floor.run(n), budget);
        let mut c = Vec::with_capacity(ROUNDS);
        let mut f = Vec::with_capacity(ROUNDS);
        let mut tpm_side = Vec::with_capacity(ROUNDS);
        for _ in 0..ROUNDS {
            c.push(client.run(ci).as_nanos() as f64 / ci as f64);
            tpm_side.push(client.responder_time().as_nanos() as f64 / ci as f64);
            f.push(floor.run(fi).as_nanos() as f64 / fi as f64);
        }
        let ratios: Vec<f64> = c.iter().zip(&f).map(|(c, f)| c / f).collect();
        let median = |v: &[f64]| {
            let mut v = v.to_vec();
            v.sort_by(f64::total_cmp);
            v[v.len() / 2]
        };
        let best = |v: &[f64]| v.iter().copied().fold(f64::INFINITY, f64::min);
        println!(
            "{:<26} {:>10.0} {:>10.0} {:>7.2} {:>12.2} {:>13.0}",
            kind.name(),
            best(&c),
            best(&f),
            best(&c) / best(&f),
            median(&ratios),
            median(&tpm_side)
        );
    }
}

fn main() {
    let mut c = configured();
    bench(&mut c);
    c.final_summary();
    // Only under `cargo bench` (which passes --bench), not when `cargo test --benches` runs
    // each benchmark once as a smoke test.
    if std::env::args().any(|a| a == "--bench") {
        summary();
    }
}
