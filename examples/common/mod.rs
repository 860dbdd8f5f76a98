//! Code the examples share: choosing a TPM, command-line flags, NV indices, cleanup and the
//! exit status.
#![allow(dead_code)]

pub mod fs;
pub mod nv;

use std::error::Error;
use std::process::ExitCode;

use tpm2_wire::command::{Entity, FlushContext};
use tpm2_wire::sim::Swtpm;
use tpm2_wire::transport::{open_with_env_value, TCTI_ENV_VAR};
use tpm2_wire::wire::Handle;
use tpm2_wire::Tpm;

pub type AnyResult<T> = Result<T, Box<dyn Error>>;

/// `main`'s exit status for what `run` returned; an error is printed (the library's errors
/// already name their causes in their messages).
pub fn exit_code(result: AnyResult<()>) -> ExitCode {
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

/// A TPM to talk to, and the swtpm behind it if the example started one.
pub struct Connection {
    pub tpm: Tpm,
    /// Kept alive for as long as the connection; dropping it kills the swtpm.
    pub swtpm: Option<Swtpm>,
}

/// `-T/--tcti` wins; else `TPM2TOOLS_TCTI` if set and non-empty; else a private swtpm is
/// started (never a probe of the machine's TPM: an example should not touch it uninvited).
pub fn connect(tcti: Option<&str>) -> AnyResult<Connection> {
    let env = std::env::var(TCTI_ENV_VAR).ok().filter(|v| !v.is_empty());
    if tcti.is_some() || env.is_some() {
        let transport = open_with_env_value(tcti, env.as_deref())?;
        return Ok(Connection {
            tpm: Tpm::new(transport),
            swtpm: None,
        });
    }
    let swtpm = Swtpm::spawn()?;
    // Nobody else talks to a private swtpm, so one kept-open connection is enough (and it
    // keeps TCP connects out of the measurements).
    let mut transport = swtpm.transport()?;
    transport.set_connection_per_command(false);
    let tpm = Tpm::new(Box::new(transport));
    Ok(Connection {
        tpm,
        swtpm: Some(swtpm),
    })
}

/// Hand-rolled flag parsing: `--name VALUE` or `--name=VALUE` for flags that take a value,
/// `--name` alone for switches.
pub struct Args {
    args: Vec<String>,
}

impl Args {
    pub fn from_env() -> Args {
        Args {
            args: std::env::args().skip(1).collect(),
        }
    }

    /// The command line, or `None` once `usage` is printed for `-h/--help`.
    pub fn or_help(usage: &str) -> Option<Args> {
        let mut args = Args::from_env();
        if args.flag(&["-h", "--help"]) {
            println!("{usage}");
            return None;
        }
        Some(args)
    }

    /// `-T/--tcti TCTI`, if given.
    pub fn tcti(&mut self) -> AnyResult<Option<String>> {
        self.value(&["-T", "--tcti"])
    }

    /// The value of the first of `names` given, removing it from the list.
    pub fn value(&mut self, names: &[&str]) -> AnyResult<Option<String>> {
        for i in 0..self.args.len() {
            let a = &self.args[i];
            for n in names {
                if a == n {
                    if i + 1 >= self.args.len() {
                        return Err(format!("{n} needs a value").into());
                    }
                    let v = self.args.remove(i + 1);
                    self.args.remove(i);
                    return Ok(Some(v));
                }
                if let Some(v) = a.strip_prefix(&format!("{n}=")) {
                    let v = v.to_string();
                    self.args.remove(i);
                    return Ok(Some(v));
                }
            }
        }
        Ok(None)
    }

    pub fn flag(&mut self, names: &[&str]) -> bool {
        match self.args.iter().position(|a| names.contains(&a.as_str())) {
            Some(i) => {
                self.args.remove(i);
                true
            }
            None => false,
        }
    }

    /// Fails on anything not consumed.
    pub fn finish(self) -> AnyResult<()> {
        match self.args.first() {
            Some(a) => Err(format!("unexpected argument {a:?} (try --help)").into()),
            None => Ok(()),
        }
    }
}

/// Flushes a transient object when dropped, so error paths clean up too.
pub struct Transient {
    tpm: Tpm,
    pub entity: Entity,
    flushed: bool,
}

impl Transient {
    pub fn new(tpm: &Tpm, entity: Entity) -> Transient {
        Transient {
            tpm: tpm.clone(),
            entity,
            flushed: false,
        }
    }

    pub fn handle(&self) -> Handle {
        self.entity.handle
    }

    /// Flushes now and reports errors.
    pub fn flush(mut self) -> AnyResult<()> {
        self.flushed = true;
        self.tpm.run(&FlushContext {
            flush_handle: self.entity.handle,
        })?;
        Ok(())
    }
}

impl Drop for Transient {
    fn drop(&mut self) {
        if !self.flushed {
            let _ = self.tpm.run(&FlushContext {
                flush_handle: self.entity.handle,
            });
        }
    }
}
