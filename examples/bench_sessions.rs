//! Client CPU and wall time of session operations against a TPM, in both swtpm transport
//! modes, as medians over interleaved rounds.
//!
//! ```text
//! cargo run --release --features sim --example bench_sessions
//! cargo run --release --features sim --example bench_sessions -- \
//!     -T swtpm:host=127.0.0.1,port=2321 --rounds 5 --csv rounds.csv
//! ```
//!
//! The TPM is the one `-T/--tcti` names, else the one `TPM2TOOLS_TCTI` names, else a private
//! swtpm this example starts (its state on /dev/shm when that is a writable tmpfs, so the
//! simulator's own state writes do not hit a disk). The owner password must be empty; an NV
//! index (0x01500021 by default, `--nv-index`) is defined and removed again.
//!
//! On swtpm every scenario runs in both of its transport modes: one TCP connection per
//! command (the default, as tpm2-tss's swtpm TCTI does) and one kept-open connection. Each
//! round runs every scenario once in each mode, so a slow phase of a shared machine hits all
//! of them alike; the table shows, per scenario and mode, the median over the rounds and
//! their range. The scenarios match tpm2-tss's peer benchmark: an HMAC session that is
//! neither bound nor salted encrypts GetRandom (with a public session key, as ESYS does:
//! `allow_unprotected_encryption`), NV commands under unsalted and RSA-salted sessions,
//! StartAuthSession+FlushContext unsalted and salted to RSA-2048 and ECC P-256 keys (each
//! with the ownership registry and without it), ContextSave+ContextLoad.
//!
//! Client CPU is user + system time of this process (getrusage RUSAGE_SELF), so a simulator
//! running as another process is not counted: it is what the library costs the caller.

mod common;

use std::cell::Cell;
use std::io::Write as _;
use std::process::ExitCode;
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::fs::fs_name;
use common::{exit_code, nv, AnyResult, Args, Transient};
use tpm2_wire::client::{SaltKey, Session, SessionOptions};
use tpm2_wire::command::{ContextLoad, ContextSave, Entity, GetRandom, NvRead, NvWrite};
use tpm2_wire::session::engine::SessionSlot;
use tpm2_wire::sim::Swtpm;
use tpm2_wire::transport::{
    open_with_env_value, SwtpmTransport, Tcti, Transport, TransportError, TCTI_ENV_VAR,
};
use tpm2_wire::wire::{
    AlgId, Auth, Digest, Handle, MaxNvBuffer, NvAttributes, NvPublic, Public, SessionAttributes,
};
use tpm2_wire::Tpm;

const USAGE: &str = "usage: bench_sessions [-T|--tcti TCTI] [--rounds R] [--iterations N]
                      [--nv-index HANDLE] [--csv FILE] [--only TEXT] [--mode MODE]

Client CPU and wall time per operation: R rounds (default 5) of N operations per scenario
(default 300; start+flush and context rows run N/3), median and range over the rounds.
Without -T, uses TPM2TOOLS_TCTI if set, else starts a private swtpm. --csv appends one line
per round, mode and scenario. --only runs the scenarios whose name contains TEXT; --mode
per-command or kept-open runs one swtpm mode only (e.g. to count system calls with strace).";

/// User + system CPU time this process has used.
fn cpu_time() -> Duration {
    // SAFETY: getrusage only writes into the struct we pass, which is a valid, zeroed rusage.
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: as above; RUSAGE_SELF is always a valid `who`.
    let rc = unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut ru) };
    if rc != 0 {
        return Duration::ZERO;
    }
    let tv = |t: libc::timeval| {
        Duration::from_secs(t.tv_sec as u64) + Duration::from_micros(t.tv_usec as u64)
    };
    tv(ru.ru_utime) + tv(ru.ru_stime)
}

/// A swtpm transport whose mode the benchmark flips between rounds: the sessions and keys
/// live on one `Tpm`, so both modes measure the same objects.
struct Switchable {
    inner: SwtpmTransport,
    per_command: Arc<AtomicBool>,
}

impl Transport for Switchable {
    fn transact(&mut self, command: &[u8], response: &mut Vec<u8>) -> Result<(), TransportError> {
        self.inner
            .set_connection_per_command(self.per_command.load(Ordering::Relaxed));
        self.inner.transact(command, response)
    }

    fn describe(&self) -> String {
        self.inner.describe()
    }

    fn set_timeout(&mut self, timeout: Duration) {
        self.inner.set_timeout(timeout)
    }

    fn set_locality(&mut self, locality: u8) -> Result<(), TransportError> {
        self.inner.set_locality(locality)
    }
}

/// The TPM to measure and the modes it can run in (`None`: the transport has only one).
struct Target {
    tpm: Tpm,
    label: String,
    modes: Option<Arc<AtomicBool>>,
    _swtpm: Option<Swtpm>,
}

/// Where a private swtpm keeps its state: on tmpfs if the machine has a writable one.
fn prefer_tmpfs_for_state() {
    if std::env::var_os("TMPDIR").is_some() {
        return;
    }
    let shm = std::path::Path::new("/dev/shm");
    // SAFETY: statfs writes into the zeroed struct we pass; the path is NUL-terminated.
    let mut st: libc::statfs = unsafe { std::mem::zeroed() };
    // SAFETY: as above.
    let ok = unsafe { libc::statfs(c"/dev/shm".as_ptr(), &mut st) } == 0;
    if ok && st.f_type == libc::TMPFS_MAGIC && shm.is_dir() {
        // Single-threaded here: nothing reads the environment concurrently.
        std::env::set_var("TMPDIR", shm);
    }
}

fn open_target(tcti: Option<&str>) -> AnyResult<Target> {
    let env = std::env::var(TCTI_ENV_VAR).ok().filter(|v| !v.is_empty());
    let spec = tcti.map(str::to_string).or(env);
    let (swtpm, endpoint) = match &spec {
        Some(spec) => match Tcti::parse(spec)? {
            Tcti::Swtpm { endpoint, .. } => (None, endpoint),
            _ => {
                let transport = open_with_env_value(Some(spec), None)?;
                let tpm = Tpm::new(transport);
                return Ok(Target {
                    label: tpm.describe(),
                    tpm,
                    modes: None,
                    _swtpm: None,
                });
            }
        },
        None => {
            prefer_tmpfs_for_state();
            let sim = Swtpm::spawn()?;
            let endpoint = sim.endpoint();
            (Some(sim), endpoint)
        }
    };
    let per_command = Arc::new(AtomicBool::new(true));
    let inner = SwtpmTransport::connect(endpoint)?;
    let tpm = Tpm::new(Box::new(Switchable {
        inner,
        per_command: per_command.clone(),
    }));
    let label = match &swtpm {
        Some(s) => format!(
            "private swtpm ({}, state on {})",
            tpm.describe(),
            fs_name(s.state_dir())
        ),
        None => tpm.describe(),
    };
    Ok(Target {
        tpm,
        label,
        modes: Some(per_command),
        _swtpm: swtpm,
    })
}

/// Defines an NV index for the benchmark and removes it when dropped.
struct NvSpace {
    tpm: Tpm,
    index: Handle,
}

impl NvSpace {
    fn define(tpm: &Tpm, index: Handle, auth: &Auth, size: u16) -> AnyResult<NvSpace> {
        let public = NvPublic {
            nv_index: index,
            name_alg: AlgId::SHA256,
            // Written and read with its own auth value; no dictionary-attack counting, so a
            // bug here cannot lock the TPM out.
            attributes: NvAttributes::AUTHWRITE | NvAttributes::AUTHREAD | NvAttributes::NO_DA,
            auth_policy: Digest::empty(),
            data_size: size,
        };
        let owner = Auth::empty();
        nv::define_space(tpm, public, auth, SessionSlot::Password(&owner))?;
        Ok(NvSpace {
            tpm: tpm.clone(),
            index,
        })
    }
}

impl Drop for NvSpace {
    fn drop(&mut self) {
        if let Err(e) = nv::undefine_space(&self.tpm, &Entity::from_handle(self.index)) {
            eprintln!("warning: could not undefine NV index {}: {e}", self.index);
        }
    }
}

fn parse_handle(s: &str) -> AnyResult<Handle> {
    let digits = s.trim_start_matches("0x");
    Ok(Handle(u32::from_str_radix(digits, 16).map_err(|_| {
        format!("--nv-index {s:?} is not a hexadecimal handle")
    })?))
}

fn positive(v: Option<String>, what: &str, default: u32) -> AnyResult<u32> {
    match v {
        Some(v) => Ok(v
            .parse()
            .ok()
            .filter(|&n| n > 0)
            .ok_or(format!("{what} needs a positive number"))?),
        None => Ok(default),
    }
}

/// One figure per round: µs of client CPU and of wall time per operation.
#[derive(Default)]
struct Series {
    cpu: Vec<f64>,
    wall: Vec<f64>,
}

fn median(v: &[f64]) -> f64 {
    let mut s = v.to_vec();
    s.sort_by(f64::total_cmp);
    let n = s.len();
    if n == 0 {
        return f64::NAN;
    }
    if n % 2 == 1 {
        s[n / 2]
    } else {
        (s[n / 2 - 1] + s[n / 2]) / 2.0
    }
}

fn range(v: &[f64]) -> (f64, f64) {
    let lo = v.iter().copied().fold(f64::INFINITY, f64::min);
    let hi = v.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    (lo, hi)
}

/// Runs `op` a few times untimed, then `n` times timed; returns µs per operation.
fn measure(name: &str, n: u32, op: &mut dyn FnMut() -> AnyResult<()>) -> AnyResult<(f64, f64)> {
    for _ in 0..n.clamp(1, 10) {
        op().map_err(|e| format!("{name}: {e}"))?;
    }
    let cpu0 = cpu_time();
    let t0 = Instant::now();
    for _ in 0..n {
        op().map_err(|e| format!("{name}: {e}"))?;
    }
    let wall = t0.elapsed();
    let cpu = cpu_time().saturating_sub(cpu0);
    let per = |d: Duration| d.as_secs_f64() * 1e6 / f64::from(n);
    Ok((per(cpu), per(wall)))
}

fn add<'a>(v: &mut Vec<Scenario<'a>>, name: &str, n: u32, op: Op<'a>) {
    v.push(Scenario {
        name: name.to_string(),
        n,
        op,
    });
}

type Op<'a> = Box<dyn FnMut() -> AnyResult<()> + 'a>;

struct Scenario<'a> {
    name: String,
    n: u32,
    op: Op<'a>,
}

fn run() -> AnyResult<()> {
    let Some(mut args) = Args::or_help(USAGE) else {
        return Ok(());
    };
    let tcti = args.tcti()?;
    let n = positive(args.value(&["--iterations", "-n"])?, "--iterations", 300)?;
    let rounds = positive(args.value(&["--rounds"])?, "--rounds", 5)?;
    let nv_index = match args.value(&["--nv-index"])? {
        Some(v) => parse_handle(&v)?,
        None => Handle(0x0150_0021),
    };
    let csv_path = args.value(&["--csv"])?;
    let only = args.value(&["--only"])?;
    let mode = args.value(&["--mode"])?;
    if !matches!(mode.as_deref(), None | Some("per-command" | "kept-open")) {
        return Err("--mode is per-command or kept-open".into());
    }
    args.finish()?;
    let n_slow = (n / 3).max(1);

    let target = open_target(tcti.as_deref())?;
    let tpm = &target.tpm;
    let registry = tpm.registry();
    let registry_label = match &registry {
        Some(r) => format!("{} ({})", r.dir().display(), fs_name(r.dir())),
        None => "off".into(),
    };
    eprintln!("TPM: {}; registry: {registry_label}", target.label);

    eprintln!("setting up: RSA-2048 and ECC-P256 primaries, a 1024-byte NV index");
    let owner = Auth::empty();
    let primary = |template| {
        tpm.create_primary(
            &Entity::owner(),
            SessionSlot::Password(&owner),
            template,
            &owner,
        )
    };
    let (rsa, rsa_public) = primary(Public::rsa_2048_storage_parent())?;
    let rsa = Transient::new(tpm, rsa);
    let (ecc, ecc_public) = primary(Public::ecc_p256_storage_parent())?;
    let ecc = Transient::new(tpm, ecc);
    let rsa_salt = SaltKey::from_public(rsa.entity.clone(), &rsa_public)?;
    let ecc_salt = SaltKey::from_public(ecc.entity.clone(), &ecc_public)?;

    let nv_auth = Auth::new(b"peer-bench-auth!")?;
    let nv_space = NvSpace::define(tpm, nv_index, &nv_auth, 1024)?;
    let payload: Vec<u8> = (0..1024u32).map(|i| (i * 31) as u8).collect();
    // The first write sets TPMA_NV_WRITTEN, which changes the index's name: write once with
    // the password, then read the name the sessions must use.
    tpm.execute(
        &NvWrite {
            auth_handle: Entity::from_handle(nv_index),
            nv_index: Entity::from_handle(nv_index),
            data: MaxNvBuffer::new(&payload)?,
            offset: 0,
        },
        &mut [SessionSlot::Password(&nv_auth)],
    )?;
    let (nv, _) = tpm.nv_read_public(nv_index)?;

    // Neither bound nor salted: the session key is empty, so encryption protects nothing;
    // ESYS encrypts with it all the same, and so does this row, for a like-for-like figure.
    let unsalted = Rc::new(std::cell::RefCell::new(Session::start(
        tpm,
        &SessionOptions::hmac().allow_unprotected_encryption(),
    )?));
    let salted = Rc::new(std::cell::RefCell::new(Session::start(
        tpm,
        &SessionOptions::hmac().salted(rsa_salt.clone()),
    )?));
    let saved = Session::start(tpm, &SessionOptions::hmac())?;
    let saved_handle = Rc::new(Cell::new(saved.handle()));

    const CONT: u8 = SessionAttributes::CONTINUE_SESSION;
    const ENC: u8 = SessionAttributes::ENCRYPT;
    const DEC: u8 = SessionAttributes::DECRYPT;
    let get_random = GetRandom {
        bytes_requested: 32,
    };
    let write64 = NvWrite {
        auth_handle: nv.clone(),
        nv_index: nv.clone(),
        data: MaxNvBuffer::new(&payload[..64])?,
        offset: 0,
    };
    let read64 = NvRead {
        auth_handle: nv.clone(),
        nv_index: nv.clone(),
        size: 64,
        offset: 0,
    };
    let checked_read = |s: &mut Session, attrs: u8| -> AnyResult<()> {
        s.set_attributes(SessionAttributes(attrs));
        let r = tpm.execute(&read64, &mut [s.auth(&nv_auth)])?;
        if r.data.as_bytes() != &payload[..64] {
            return Err("NV_Read returned other data than was written".into());
        }
        Ok(())
    };

    let get_random = &get_random;
    let mut scenarios: Vec<Scenario> = Vec::new();
    add(
        &mut scenarios,
        "GetRandom(32), no session",
        n,
        Box::new(|| {
            tpm.run(get_random)?;
            Ok(())
        }),
    );
    {
        let s = unsalted.clone();
        add(
            &mut scenarios,
            "GetRandom(32), HMAC unsalted, encrypt",
            n,
            Box::new(move || {
                let mut s = s.borrow_mut();
                s.set_attributes(SessionAttributes(CONT | ENC));
                tpm.execute(get_random, &mut [s.extra()])?;
                Ok(())
            }),
        );
    }
    {
        let s = salted.clone();
        add(
            &mut scenarios,
            "GetRandom(32), HMAC RSA-salted, encrypt",
            n,
            Box::new(move || {
                let mut s = s.borrow_mut();
                s.set_attributes(SessionAttributes(CONT | ENC));
                tpm.execute(get_random, &mut [s.extra()])?;
                Ok(())
            }),
        );
    }
    for (label, session) in [("unsalted", &unsalted), ("RSA-salted", &salted)] {
        let s = session.clone();
        let write = &write64;
        let auth = &nv_auth;
        add(
            &mut scenarios,
            &format!("NV_Write(64), HMAC {label}, decrypt"),
            n,
            Box::new(move || {
                let mut s = s.borrow_mut();
                s.set_attributes(SessionAttributes(CONT | DEC));
                tpm.execute(write, &mut [s.auth(auth)])?;
                Ok(())
            }),
        );
        let s = session.clone();
        let read = &checked_read;
        add(
            &mut scenarios,
            &format!("NV_Read(64), HMAC {label}, encrypt"),
            n,
            Box::new(move || read(&mut s.borrow_mut(), CONT | ENC)),
        );
    }
    for with_registry in [true, false] {
        for (label, opts) in [
            ("unsalted", SessionOptions::hmac()),
            (
                "RSA-2048 salt",
                SessionOptions::hmac().salted(rsa_salt.clone()),
            ),
            (
                "ECC-P256 salt",
                SessionOptions::hmac().salted(ecc_salt.clone()),
            ),
        ] {
            let reg = registry.clone();
            let suffix = if with_registry { "" } else { ", no registry" };
            add(
                &mut scenarios,
                &format!("StartAuthSession+Flush, {label}{suffix}"),
                n_slow,
                Box::new(move || {
                    if !with_registry {
                        tpm.set_registry(None);
                    }
                    let r = Session::start(tpm, &opts).and_then(Session::flush);
                    if !with_registry {
                        tpm.set_registry(reg.clone());
                    }
                    r?;
                    Ok(())
                }),
            );
        }
    }
    {
        let handle = saved_handle.clone();
        add(
            &mut scenarios,
            "ContextSave+ContextLoad, HMAC session",
            n_slow,
            Box::new(move || {
                let ctx = tpm.run(&ContextSave {
                    save_handle: Entity::from_handle(handle.get()),
                })?;
                handle.set(
                    tpm.run(&ContextLoad {
                        context: ctx.context,
                    })?
                    .loaded_handle,
                );
                Ok(())
            }),
        );
    }

    if let Some(only) = &only {
        scenarios.retain(|s| s.name.contains(only.as_str()));
        if scenarios.is_empty() {
            return Err(format!("no scenario name contains {only:?}").into());
        }
    }
    let modes: Vec<(&str, Option<bool>)> = match &target.modes {
        Some(_) => [
            ("connection per command", Some(true)),
            ("kept-open", Some(false)),
        ]
        .into_iter()
        .filter(|(_, per_command)| match mode.as_deref() {
            Some("per-command") => *per_command == Some(true),
            Some("kept-open") => *per_command == Some(false),
            _ => true,
        })
        .collect(),
        None => vec![("as opened", None)],
    };
    let mut results: Vec<Vec<Series>> = modes
        .iter()
        .map(|_| scenarios.iter().map(|_| Series::default()).collect())
        .collect();
    let mut csv = match &csv_path {
        Some(p) => Some(
            std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(p)
                .map_err(|e| format!("--csv {p}: {e}"))?,
        ),
        None => None,
    };
    for round in 0..rounds {
        for (m, (mode_name, per_command)) in modes.iter().enumerate() {
            if let (Some(cell), Some(on)) = (&target.modes, per_command) {
                cell.store(*on, Ordering::Relaxed);
            }
            for (i, sc) in scenarios.iter_mut().enumerate() {
                let (cpu, wall) = measure(&sc.name, sc.n, &mut sc.op)?;
                results[m][i].cpu.push(cpu);
                results[m][i].wall.push(wall);
                if let Some(f) = csv.as_mut() {
                    writeln!(
                        f,
                        "tpm2-wire,{mode_name},\"{}\",{},{cpu:.2},{wall:.2}",
                        sc.name,
                        round + 1
                    )?;
                }
            }
        }
        eprintln!("  round {}/{rounds} done", round + 1);
    }
    let names: Vec<String> = scenarios.iter().map(|s| s.name.clone()).collect();
    drop(scenarios);

    // A session keeps its handle across save and load; flush it through its owner.
    if saved_handle.get() != saved.handle() {
        return Err(format!(
            "ContextLoad returned {}, not {}",
            saved_handle.get(),
            saved.handle()
        )
        .into());
    }
    saved.flush()?;
    for s in [unsalted, salted] {
        let s = Rc::try_unwrap(s).map_err(|_| "session still shared")?;
        s.into_inner().flush()?;
    }
    drop(nv_space);
    rsa.flush()?;
    ecc.flush()?;

    println!("TPM: {}", target.label);
    println!("session registry: {registry_label}");
    println!(
        "{rounds} rounds of {n} operations ({n_slow} for start+flush and context rows); \
         µs per operation, median [min–max] over the rounds"
    );
    for (m, (mode_name, _)) in modes.iter().enumerate() {
        println!("\n## {mode_name}");
        println!(
            "{:<46} {:>24} {:>10}",
            "operation", "client CPU µs", "wall µs"
        );
        for (i, name) in names.iter().enumerate() {
            let s = &results[m][i];
            let (lo, hi) = range(&s.cpu);
            println!(
                "{:<46} {:>8.1} [{:>6.1}–{:>6.1}] {:>10.1}",
                name,
                median(&s.cpu),
                lo,
                hi,
                median(&s.wall)
            );
        }
    }
    Ok(())
}

fn main() -> ExitCode {
    exit_code(run())
}
