//! tpm2-tools-like subcommands: random, getcap; and what the subcommands share.

use std::path::{Path, PathBuf};

use clap::{Args, ValueEnum};
use serde_json::{json, Value};

use tpm2_wire::client::{command_code, HandleRange, SaveBackError};
use tpm2_wire::wire::{CommandCode, PropertyTag};
use tpm2_wire::{Session, Tpm};

use crate::CliResult;

pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

pub fn open_tpm(tcti: Option<&str>) -> Result<Tpm, Box<dyn std::error::Error>> {
    let mut transport = tpm2_wire::transport::open(tcti)?;
    if let Some(timeout) = crate::TIMEOUT.get() {
        transport.set_timeout(*timeout);
    }
    Ok(Tpm::new(transport))
}

/// Tells the user (once, on stderr) that sessions of this run may be missing from the
/// registry, and why.
pub fn warn_registry(tpm: &Tpm) {
    if let (n, Some(last)) = tpm.registry_error() {
        if n > 0 {
            eprintln!("tpm2-wire: warning: session registry not updated ({n} failure(s)): {last}");
        }
    }
}

/// Saves a session back to its file (or ends it, if it can no longer be trusted), saying how
/// to end one whose flush failed.
pub fn save_back(session: Session, path: &Path) -> CliResult {
    match session.save_back_to_file(path) {
        Err(
            e @ SaveBackError::Desynchronized {
                handle,
                flush_error: Some(_),
                ..
            },
        ) => Err(format!(
            "{e}; `tpm2-wire session flush --handle 0x{:08x}` ends it once the TPM answers",
            handle.0
        )
        .into()),
        r => Ok(r?),
    }
}

// ---------------------------------------------------------------------------------------------
// random

#[derive(Args)]
pub struct RandomArgs {
    /// How many bytes.
    count: usize,
    /// A session file to encrypt the response with (and audit it, if the session audits);
    /// saved back after use.
    #[arg(short = 'S', long = "session")]
    session: Option<PathBuf>,
}

/// Largest count accepted: far beyond any sensible use, small enough to never matter.
const MAX_RANDOM: usize = 1 << 20;

pub fn random(tcti: Option<&str>, a: RandomArgs) -> CliResult {
    if a.count > MAX_RANDOM {
        return Err(format!("at most {MAX_RANDOM} bytes per call").into());
    }
    let tpm = open_tpm(tcti)?;
    let bytes = match &a.session {
        None => tpm.get_random(a.count)?,
        Some(path) => {
            let mut session = tpm.load_session_file(path)?;
            let fetched = tpm.get_random_protected(a.count, &mut session);
            // Saved back whatever happened; the command's own failure comes first.
            match (fetched, save_back(session, path)) {
                (Err(f), Err(s)) => return Err(format!("{f}\n{s}").into()),
                (f, s) => {
                    s?;
                    f?
                }
            }
        }
    };
    println!("{}", hex(&bytes));
    warn_registry(&tpm);
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// getcap

#[derive(Clone, Copy, ValueEnum)]
pub enum CapName {
    HandlesLoadedSession,
    HandlesSavedSession,
    HandlesTransient,
    HandlesPersistent,
    PropertiesFixed,
    PropertiesVariable,
    Algorithms,
    Commands,
}

#[derive(Args)]
pub struct GetcapArgs {
    capability: CapName,
    /// Machine-readable output (see docs/cli.md).
    #[arg(long)]
    json: bool,
}

pub fn getcap(tcti: Option<&str>, a: GetcapArgs) -> CliResult {
    let tpm = open_tpm(tcti)?;
    let hex32 = |v: u32| format!("0x{v:08x}");
    // Each item as its line of text and as its JSON value.
    let (key, items): (&str, Vec<(String, Value)>) = match a.capability {
        CapName::PropertiesFixed | CapName::PropertiesVariable => {
            let first = match a.capability {
                CapName::PropertiesFixed => PropertyTag::PT_FIXED,
                _ => PropertyTag::PT_VAR,
            };
            let items = tpm.properties(first)?.into_iter().map(|p| {
                let (name, tag) = (p.property.name(), hex32(p.property.0));
                let line = format!("{}: 0x{:x} ({})", name.unwrap_or(&tag), p.value, p.value);
                (
                    line,
                    json!({ "property": name, "tag": tag, "value": p.value }),
                )
            });
            ("properties", items.collect())
        }
        CapName::Algorithms => {
            let items = tpm.algorithms()?.into_iter().map(|p| {
                let line = format!("{}: {:?}", p.alg, p.properties);
                let id = format!("0x{:04x}", p.alg.0);
                let attributes = hex32(p.properties.bits());
                (
                    line,
                    json!({ "algorithm": p.alg.name(), "id": id, "attributes": attributes }),
                )
            });
            ("algorithms", items.collect())
        }
        CapName::Commands => {
            let items = tpm.commands()?.into_iter().map(|c| {
                let code = CommandCode(command_code(c));
                // Whether the library has a typed declaration for it.
                let typed = tpm2_wire::command::DECLARED.contains(&code);
                let line = format!("{code}: {c:?} typed={typed}");
                let (hex, attributes) = (hex32(code.0), hex32(c.bits()));
                (
                    line,
                    json!({
                        "command": code.name(),
                        "code": hex,
                        "attributes": attributes,
                        "typed": typed,
                    }),
                )
            });
            ("commands", items.collect())
        }
        handles => {
            let range = match handles {
                CapName::HandlesLoadedSession => HandleRange::LoadedSessions,
                CapName::HandlesSavedSession => HandleRange::SavedSessions,
                CapName::HandlesTransient => HandleRange::Transient,
                _ => HandleRange::Persistent,
            };
            let items = tpm.handles_in(range)?.into_iter().map(|h| hex32(h.0));
            ("handles", items.map(|h| (h.clone(), json!(h))).collect())
        }
    };
    if a.json {
        let name = a
            .capability
            .to_possible_value()
            .map(|v| v.get_name().to_string());
        let list: Vec<Value> = items.into_iter().map(|(_, v)| v).collect();
        println!("{}", json!({ "capability": name, key: list }));
    } else {
        items.iter().for_each(|(line, _)| println!("{line}"));
    }
    Ok(())
}
