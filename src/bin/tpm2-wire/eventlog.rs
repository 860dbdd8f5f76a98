//! `eventlog`: a TCG firmware event log printed, replayed, and compared with the TPM's PCRs.

use std::path::PathBuf;

use clap::Args;
use serde_json::{json, Map, Value};

use tpm2_wire::crypto::HashAlg;
use tpm2_wire::eventlog::log::EventLog;
use tpm2_wire::eventlog::replay::Replay;
use tpm2_wire::eventlog::uefi::SecureBootState;
use tpm2_wire::wire::{PcrSelection, PcrSelectionList};

use crate::tools::{hex, open_tpm};
use crate::CliResult;
use crate::{eventlog_ima, eventlog_yaml};

/// Where Linux exposes the firmware's log.
const KERNEL_LOG: &str = "/sys/kernel/security/tpm0/binary_bios_measurements";

/// Far above any firmware log seen (tens of KiB), small enough to never matter.
const MAX_LOG: usize = 16 << 20;

#[derive(Args)]
pub struct EventlogArgs {
    /// The binary log; default: the kernel's binary_bios_measurements (with --ima:
    /// /sys/kernel/security/ima/binary_runtime_measurements).
    file: Option<PathBuf>,
    /// Print JSON: `pcrs` (every bank replayed), `events`, `findings` and `secure_boot`; with
    /// --ima, `pcrs` (the bank replayed) and `entries`.
    #[arg(long)]
    json: bool,
    /// Compare the replayed PCRs with the TPM's current values; fail naming those that differ.
    #[arg(long)]
    check: bool,
    /// Read a Linux IMA binary measurement list instead of a firmware log. Prints one line per
    /// entry as the kernel's ascii_runtime_measurements does (PCR, template hash, template,
    /// file hash, path...), then the replayed PCRs.
    #[arg(long)]
    ima: bool,
    /// With --ima: the PCR bank to replay. The list's template hashes are SHA-1 and extend the
    /// sha1 bank; for another bank each entry is rehashed from its template data, as Linux 5.8
    /// and later extend every bank.
    #[arg(long, requires = "ima", default_value = "sha1", value_parser = parse_bank)]
    bank: HashAlg,
    /// With --ima: the list comes from a big-endian host booted without ima_canonical_fmt.
    #[arg(long, requires = "ima")]
    big_endian: bool,
}

fn parse_bank(s: &str) -> Result<HashAlg, String> {
    HashAlg::from_name(s)
        .ok_or_else(|| format!("unknown bank {s:?} (sha1, sha256, sha384, sha512)"))
}

/// The PCRs the log extends, bank by bank, lowest first.
fn extended(replay: &Replay) -> Vec<(HashAlg, Vec<u32>)> {
    replay
        .banks()
        .map(|bank| {
            let pcrs = (0..24).filter(|&p| replay.extended(bank, p)).collect();
            (bank, pcrs)
        })
        .filter(|(_, pcrs): &(HashAlg, Vec<u32>)| !pcrs.is_empty())
        .collect()
}

/// The `pcrs:` section as `tpm2_eventlog` prints it.
fn pcrs_section(replay: &Replay, out: &mut String) {
    use std::fmt::Write;
    out.push_str("pcrs:\n");
    for (bank, pcrs) in extended(replay) {
        let _ = writeln!(out, "  {}:", bank.name());
        for pcr in pcrs {
            let value = replay.get(bank, pcr).unwrap_or_default();
            let _ = writeln!(out, "    {pcr:<2} : 0x{}", hex(value));
        }
    }
}

/// Writes `text` to standard output; a reader that went away (`| head`) is not an error.
fn emit(text: &[u8]) -> CliResult {
    use std::io::Write;
    match std::io::stdout().lock().write_all(text) {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        r => Ok(r?),
    }
}

fn to_json(log: &EventLog<'_>, replay: &Replay) -> Value {
    let mut pcrs = Map::new();
    for (bank, list) in extended(replay) {
        let values: Map<String, Value> = list
            .iter()
            .map(|&p| {
                let value = replay.get(bank, p).unwrap_or_default();
                (p.to_string(), json!(hex(value)))
            })
            .collect();
        pcrs.insert(bank.name().to_string(), Value::Object(values));
    }
    let events: Vec<Value> = log
        .unverified_events()
        .iter()
        .map(|e| {
            let digests: Map<String, Value> = e
                .digests
                .iter()
                .map(|d| {
                    let name = HashAlg::from_alg_id(d.alg)
                        .map_or_else(|_| format!("{:#06x}", d.alg.0), |h| h.name().to_string());
                    (name, json!(hex(d.digest)))
                })
                .collect();
            json!({
                "index": e.index,
                "pcr": e.pcr,
                "type": e.event_type.to_string(),
                "size": e.data.len(),
                "digests": digests,
            })
        })
        .collect();
    let findings: Vec<Value> = log
        .findings()
        .iter()
        .map(|f| json!(format!("{f:?}")))
        .collect();
    let secure_boot = match SecureBootState::from_events(
        log.unverified_events()
            .iter()
            .map(|e| (e.event_type, e.pcr, e.data)),
    ) {
        Ok(s) => json!({
            "enabled": s.enabled,
            "authorities": s.authorities.len(),
            "images": s.images.len(),
            "issues": s.issues().iter().map(|i| format!("{i:?}")).collect::<Vec<_>>(),
        }),
        Err(e) => json!({ "error": e.to_string() }),
    };
    json!({
        // Read from a file, not checked against a quote: what the log claims.
        "verified": false,
        "pcrs": pcrs,
        "events": events,
        "findings": findings,
        "secure_boot": secure_boot,
    })
}

pub fn eventlog(tcti: Option<&str>, a: EventlogArgs) -> CliResult {
    if a.ima {
        let args = eventlog_ima::ImaArgs {
            file: a.file,
            json: a.json,
            check: a.check,
            bank: a.bank,
            big_endian: a.big_endian,
        };
        return eventlog_ima::ima(tcti, args, emit);
    }
    let path = a.file.unwrap_or_else(|| PathBuf::from(KERNEL_LOG));
    let bytes = tpm2_wire::files::read_bounded(&path, "event log", MAX_LOG)?;
    let log = EventLog::parse(&bytes).map_err(|e| format!("{}: {e}", path.display()))?;
    let replay = log.replay();
    let out = if a.json {
        let mut out = serde_json::to_string_pretty(&to_json(&log, &replay))?;
        out.push('\n');
        out.into_bytes()
    } else {
        // Bytes, not a String: tpm2_eventlog copies action strings through as they are.
        let mut out = Vec::new();
        eventlog_yaml::events(&log, &mut out);
        let mut pcrs = String::new();
        pcrs_section(&replay, &mut pcrs);
        out.extend_from_slice(pcrs.as_bytes());
        out
    };
    emit(&out)?;
    if !a.check {
        return Ok(());
    }
    let tpm = open_tpm(tcti)?;
    let banks = extended(&replay);
    let mut selection = Vec::new();
    for (bank, pcrs) in &banks {
        let pcrs: Vec<u8> = pcrs.iter().map(|&p| p as u8).collect();
        selection.push(PcrSelection::new(bank.alg_id(), &pcrs)?);
    }
    let values = tpm.pcr_values(&PcrSelectionList::new(selection)?)?;
    // pcr_values answers in selection order: bank by bank, lowest PCR first.
    let quoted: Vec<(HashAlg, u32, &[u8])> = banks
        .iter()
        .flat_map(|(bank, pcrs)| pcrs.iter().map(move |&p| (*bank, p)))
        .zip(values.iter())
        .map(|((bank, pcr), v)| (bank, pcr, v.as_bytes()))
        .collect();
    let differ: Vec<String> = replay
        .compare(&quoted)
        .into_iter()
        .filter(|c| !c.matches())
        .map(|c| format!("{}:{}", c.bank.name(), c.pcr))
        .collect();
    if differ.is_empty() {
        eprintln!("the TPM's PCRs match the log ({} values)", quoted.len());
        Ok(())
    } else {
        Err(format!(
            "the TPM's PCRs differ from the log's replay: {}",
            differ.join(", ")
        )
        .into())
    }
}
