//! Wall time and client CPU time of session operations against a TPM.
//!
//! ```text
//! cargo run --release --example bench_sessions
//! cargo run --release --example bench_sessions -- -T swtpm:host=127.0.0.1,port=2321 --iterations 500
//! ```
//!
//! The TPM is the one `-T/--tcti` names, else the one `TPM2TOOLS_TCTI` names, else a private
//! swtpm this example starts. The owner password must be empty; an NV index (0x01500020 by
//! default, `--nv-index`) is defined and removed again.
//!
//! Client CPU is user + system time of this process (getrusage RUSAGE_SELF), so a simulator
//! running as another process is not counted: it is what the library costs the caller.

mod common;

use std::process::ExitCode;
use std::time::{Duration, Instant};

use common::{connect, create_primary, AnyResult, Args, Transient};
use tpm2_wire::client::{SaltKey, Session, SessionOptions};
use tpm2_wire::command::{
    ContextLoad, ContextSave, Entity, GetRandom, NvDefineSpace, NvRead, NvUndefineSpace, NvWrite,
};
use tpm2_wire::session::engine::SessionSlot;
use tpm2_wire::wire::{
    AlgId, Auth, Digest, Handle, MaxNvBuffer, NvAttributes, NvPublic, Public, SessionAttributes,
    Tpm2bNvPublic,
};
use tpm2_wire::Tpm;

const USAGE: &str = "usage: bench_sessions [-T|--tcti TCTI] [--iterations N] [--nv-index HANDLE]

Times session operations (wall and client CPU per operation, averaged over N, default 200).
Without -T, uses TPM2TOOLS_TCTI if set, else starts a private swtpm.";

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

struct Row {
    name: String,
    iterations: u32,
    wall: Duration,
    cpu: Duration,
}

/// Runs `op` `n` times after one untimed warm-up call.
fn measure(name: &str, n: u32, mut op: impl FnMut() -> AnyResult<()>) -> AnyResult<Row> {
    op().map_err(|e| format!("{name}: {e}"))?;
    let cpu0 = cpu_time();
    let t0 = Instant::now();
    for _ in 0..n {
        op().map_err(|e| format!("{name}: {e}"))?;
    }
    let wall = t0.elapsed();
    let cpu = cpu_time().saturating_sub(cpu0);
    eprintln!("  measured {name}");
    Ok(Row {
        name: name.to_string(),
        iterations: n,
        wall: wall / n,
        cpu: cpu / n,
    })
}

/// Defines an NV index for the benchmark and removes it when dropped.
struct NvSpace {
    tpm: Tpm,
    index: Handle,
}

impl NvSpace {
    fn define(tpm: &Tpm, index: Handle, auth: &Auth, size: u16) -> AnyResult<NvSpace> {
        let owner = Auth::empty();
        tpm.execute(
            &NvDefineSpace {
                auth_handle: Entity::owner(),
                auth: auth.clone(),
                public_info: Tpm2bNvPublic(NvPublic {
                    nv_index: index,
                    name_alg: AlgId::SHA256,
                    // Written and read with its own auth value; no dictionary-attack
                    // counting, so a bug here cannot lock the TPM out.
                    attributes: NvAttributes::AUTHWRITE
                        | NvAttributes::AUTHREAD
                        | NvAttributes::NO_DA,
                    auth_policy: Digest::empty(),
                    data_size: size,
                }),
            },
            &mut [SessionSlot::Password(&owner)],
        )?;
        Ok(NvSpace {
            tpm: tpm.clone(),
            index,
        })
    }
}

impl Drop for NvSpace {
    fn drop(&mut self) {
        let owner = Auth::empty();
        let r = self.tpm.execute(
            &NvUndefineSpace {
                auth_handle: Entity::owner(),
                nv_index: Entity::from_handle(self.index),
            },
            &mut [SessionSlot::Password(&owner)],
        );
        if let Err(e) = r {
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

fn run() -> AnyResult<()> {
    let mut args = Args::from_env();
    if args.flag(&["-h", "--help"]) {
        println!("{USAGE}");
        return Ok(());
    }
    let tcti = args.value(&["-T", "--tcti"])?;
    let n: u32 = match args.value(&["--iterations", "-n"])? {
        Some(v) => v
            .parse()
            .ok()
            .filter(|&n| n > 0)
            .ok_or("--iterations needs a positive number")?,
        None => 200,
    };
    let nv_index = match args.value(&["--nv-index"])? {
        Some(v) => parse_handle(&v)?,
        None => Handle(0x0150_0020),
    };
    args.finish()?;

    let conn = connect(tcti.as_deref())?;
    let tpm = &conn.tpm;
    let target = match &conn.swtpm {
        Some(_) => format!(
            "private swtpm ({}, one kept-open connection)",
            tpm.describe()
        ),
        None => tpm.describe(),
    };
    eprintln!("TPM: {target}; {n} iterations per row");

    eprintln!("setting up: RSA-2048 and ECC-P256 primaries, a 1024-byte NV index");
    let (rsa, rsa_public) = create_primary(tpm, Public::rsa_2048_storage_parent(), &Auth::empty())?;
    let rsa = Transient::new(tpm, rsa);
    let (ecc, ecc_public) = create_primary(tpm, Public::ecc_p256_storage_parent(), &Auth::empty())?;
    let ecc = Transient::new(tpm, ecc);
    let rsa_salt = SaltKey::from_public(rsa.entity.clone(), &rsa_public)?;
    let ecc_salt = SaltKey::from_public(ecc.entity.clone(), &ecc_public)?;

    let nv_auth = Auth::new(b"bench nv auth")?;
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

    let mut rows = Vec::new();
    let get_random = GetRandom {
        bytes_requested: 32,
    };

    rows.push(measure("GetRandom(32), no session", n, || {
        tpm.run(&get_random)?;
        Ok(())
    })?);

    // An unsalted session's key is secret only if it is bound to an entity with a non-empty
    // auth value; bound to the NV index it may encrypt.
    let mut bound = Session::start(
        tpm,
        &SessionOptions::hmac()
            .bound(nv.clone(), nv_auth.clone())
            .encrypt(false, true),
    )?;
    rows.push(measure(
        "GetRandom(32), HMAC bound (unsalted), encrypt",
        n,
        || {
            tpm.execute(&get_random, &mut [bound.extra()])?;
            Ok(())
        },
    )?);
    bound.flush()?;

    let mut salted = Session::start(
        tpm,
        &SessionOptions::hmac()
            .salted(rsa_salt.clone())
            .encrypt(false, true),
    )?;
    rows.push(measure(
        "GetRandom(32), HMAC RSA-2048-salted, encrypt",
        n,
        || {
            tpm.execute(&get_random, &mut [salted.extra()])?;
            Ok(())
        },
    )?);

    for (label, opts) in [
        ("unsalted", SessionOptions::hmac()),
        ("RSA-2048-salted", SessionOptions::hmac().salted(rsa_salt)),
        ("ECC-P256-salted", SessionOptions::hmac().salted(ecc_salt)),
    ] {
        rows.push(measure(
            &format!("StartAuthSession+FlushContext, {label}"),
            n,
            || {
                Session::start(tpm, &opts)?.flush()?;
                Ok(())
            },
        )?);
    }

    // NV_Write has no response parameter, so only its command is encrypted (decrypt).
    salted.set_attributes(SessionAttributes(
        SessionAttributes::CONTINUE_SESSION | SessionAttributes::DECRYPT,
    ));
    for size in [64usize, 1024] {
        let write = NvWrite {
            auth_handle: nv.clone(),
            nv_index: nv.clone(),
            data: MaxNvBuffer::new(&payload[..size])?,
            offset: 0,
        };
        rows.push(measure(
            &format!("NV_Write({size}), RSA-salted, decrypt"),
            n,
            || {
                tpm.execute(&write, &mut [salted.auth(&nv_auth)])?;
                Ok(())
            },
        )?);
    }

    salted.set_attributes(SessionAttributes(
        SessionAttributes::CONTINUE_SESSION | SessionAttributes::ENCRYPT,
    ));
    for size in [64u16, 1024] {
        let read = NvRead {
            auth_handle: nv.clone(),
            nv_index: nv.clone(),
            size,
            offset: 0,
        };
        rows.push(measure(
            &format!("NV_Read({size}), RSA-salted, encrypt"),
            n,
            || {
                let r = tpm.execute(&read, &mut [salted.auth(&nv_auth)])?;
                if r.data.as_bytes() != &payload[..size as usize] {
                    return Err("NV_Read returned other data than was written".into());
                }
                Ok(())
            },
        )?);
    }
    salted.flush()?;

    let saved = Session::start(tpm, &SessionOptions::hmac())?;
    let mut handle = saved.handle();
    rows.push(measure("ContextSave+ContextLoad, HMAC session", n, || {
        let ctx = tpm.run(&ContextSave {
            save_handle: Entity::from_handle(handle),
        })?;
        handle = tpm
            .run(&ContextLoad {
                context: ctx.context,
            })?
            .loaded_handle;
        Ok(())
    })?);
    // A session keeps its handle across save and load; flush it through its owner.
    if handle != saved.handle() {
        return Err(format!("ContextLoad returned {handle}, not {}", saved.handle()).into());
    }
    saved.flush()?;

    drop(nv_space);
    rsa.flush()?;
    ecc.flush()?;

    println!("TPM: {target}");
    println!(
        "{:<48} {:>6} {:>12} {:>16}",
        "operation", "n", "wall µs/op", "client CPU µs/op"
    );
    for r in &rows {
        println!(
            "{:<48} {:>6} {:>12.1} {:>16.1}",
            r.name,
            r.iterations,
            r.wall.as_secs_f64() * 1e6,
            r.cpu.as_secs_f64() * 1e6
        );
    }
    Ok(())
}

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}
