//! Session stewardship subcommands: show, flush, status (after pkcsep11_session).

use clap::Args;
use serde_json::json;

use tpm2_wire::client::ObjectRef;
use tpm2_wire::crypto::HashAlg;
use tpm2_wire::inventory::{self, Selector, SessionInfo};
use tpm2_wire::registry::Registry;
use tpm2_wire::wire::SessionType;

use crate::tools::open_tpm;
use crate::CliResult;

/// Unix seconds as `YYYY/MM/DD HH:MM:SS` (UTC).
fn format_time(secs: u64) -> String {
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    // Howard Hinnant's civil_from_days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + if m <= 2 { 1 } else { 0 };
    let (hh, mm, ss) = (rem / 3600, rem % 3600 / 60, rem % 60);
    format!("{y:04}/{m:02}/{d:02} {hh:02}:{mm:02}:{ss:02}")
}

fn registry() -> Result<Registry, Box<dyn std::error::Error>> {
    Ok(Registry::open(None)?)
}

/// The registry, or `None` with a warning: sessions are still listed, with unknown owners.
fn registry_or_warn() -> Option<Registry> {
    match Registry::open(None) {
        Ok(r) => Some(r),
        Err(e) => {
            eprintln!("tpm2-wire: warning: {e}; owners are unknown");
            None
        }
    }
}

#[derive(Args)]
pub struct ShowArgs {
    /// Only sessions owned by this process id.
    #[arg(long)]
    pid: Option<u32>,
    /// Only sessions created before this date (YYYY/MM/DD, UTC).
    #[arg(long)]
    before: Option<String>,
    /// Machine-readable output (see docs/cli.md).
    #[arg(long)]
    json: bool,
}

fn session_json(s: &SessionInfo) -> serde_json::Value {
    json!({
        "handle": format!("0x{:08x}", s.handle.0),
        "loaded": s.loaded,
        "type": s.session_type.map(SessionType::label),
        "hash": s.hash.map(HashAlg::name),
        "pid": s.pid,
        "owner_alive": s.owner_alive,
        "created": s.created,
        "file": s.file.as_ref().map(|f| f.to_string_lossy().into_owned()),
        "state": s.ownership.as_str(),
        "desynchronized": s.record.as_ref().and_then(|r| r.desynchronized),
    })
}

pub fn show(tcti: Option<&str>, a: ShowArgs) -> CliResult {
    let before = a.before.as_deref().map(inventory::parse_date).transpose()?;
    let tpm = open_tpm(tcti)?;
    let reg = registry_or_warn();
    let (all, errors) = inventory::sessions_with_errors(&tpm, reg.as_ref())?;
    for e in &errors {
        eprintln!("tpm2-wire: warning: {e}");
    }
    let shown: Vec<&SessionInfo> = all
        .iter()
        .filter(|s| a.pid.is_none_or(|p| s.pid == Some(p)))
        .filter(|s| before.is_none_or(|t| s.created.is_some_and(|c| c < t)))
        .collect();
    if a.json {
        let list: Vec<_> = shown.iter().map(|s| session_json(s)).collect();
        println!("{}", json!({ "tpm": tpm.describe(), "sessions": list }));
        return Ok(());
    }
    println!(
        "{:<10}  {:<7}  {:<6}  {:<6}  {:<6}  {:>8}  {:<5}  {:<19}  FILE",
        "HANDLE", "STATE", "WHERE", "TYPE", "HASH", "PID", "ALIVE", "CREATED (UTC)"
    );
    for s in &shown {
        println!(
            "0x{:08x}  {:<7}  {:<6}  {:<6}  {:<6}  {:>8}  {:<5}  {:<19}  {}",
            s.handle.0,
            // A desynchronized session can only be flushed: say so before who owns it.
            if s.record
                .as_ref()
                .is_some_and(|r| r.desynchronized.is_some())
            {
                "desync"
            } else {
                s.ownership.as_str()
            },
            if s.loaded { "loaded" } else { "saved" },
            s.session_type.map_or("-", SessionType::label),
            s.hash.map_or("-", HashAlg::name),
            s.pid.map_or_else(|| "-".into(), |p| p.to_string()),
            s.owner_alive.map_or("-", |a| if a { "yes" } else { "no" }),
            s.created.map_or_else(|| "-".into(), format_time),
            s.file
                .as_ref()
                .map_or_else(|| "-".into(), |f| f.display().to_string()),
        );
    }
    println!("{} session(s) shown", shown.len());
    Ok(())
}

#[derive(Args)]
#[command(group(clap::ArgGroup::new("selector").required(true).args(["pid", "before", "handle", "orphans", "all"])))]
pub struct FlushArgs {
    /// Sessions owned by this process id (not those parked in files).
    #[arg(long)]
    pid: Option<u32>,
    /// Sessions created before this date, YYYY/MM/DD UTC (not those parked in files).
    #[arg(long)]
    before: Option<String>,
    /// This session handle, whoever holds it.
    #[arg(long)]
    handle: Option<String>,
    /// Sessions whose owner process is gone and that no session file holds.
    #[arg(long)]
    orphans: bool,
    /// Every session on the TPM, including those of other tools and parked ones.
    #[arg(long)]
    all: bool,
    /// Go on after a session fails to flush.
    #[arg(long)]
    force: bool,
}

fn parse_session_handle(s: &str) -> Result<tpm2_wire::wire::Handle, Box<dyn std::error::Error>> {
    match ObjectRef::parse(s) {
        ObjectRef::Handle(h) if h.is_session() => Ok(h),
        ObjectRef::Handle(_) => {
            Err(format!("handle {s:?} is not a session handle (0x02... or 0x03...)").into())
        }
        ObjectRef::File(_) => Err(format!("handle {s:?}: expected hex such as 0x02000000").into()),
    }
}

pub fn flush(tcti: Option<&str>, a: FlushArgs) -> CliResult {
    let selector = if let Some(p) = a.pid {
        Selector::Pid(p)
    } else if let Some(d) = &a.before {
        Selector::Before(inventory::parse_date(d)?)
    } else if let Some(h) = &a.handle {
        Selector::Handle(parse_session_handle(h)?)
    } else if a.orphans {
        Selector::Orphans
    } else if a.all {
        Selector::All
    } else {
        return Err(
            "say which sessions to flush: --pid, --before, --handle, --orphans or --all".into(),
        );
    };
    // Owner-based selectors need the registry; --handle and --all work without it.
    let reg = match selector {
        Selector::Handle(_) | Selector::All => registry_or_warn(),
        _ => Some(registry()?),
    };
    let tpm = open_tpm(tcti)?;
    let report = inventory::flush(&tpm, reg.as_ref(), &selector, a.force)?;
    for h in &report.flushed {
        println!("flushed 0x{:08x}", h.0);
    }
    for (h, why) in &report.failed {
        println!("failed 0x{:08x}: {why}", h.0);
    }
    for h in &report.skipped {
        println!(
            "skipped 0x{:08x} (after a failure; use --force to go on)",
            h.0
        );
    }
    for e in &report.registry_errors {
        eprintln!("tpm2-wire: warning: {e}");
    }
    println!(
        "{} session(s) flushed, {} failed, {} skipped, {} stale record(s) pruned",
        report.flushed.len(),
        report.failed.len(),
        report.skipped.len(),
        report.pruned
    );
    if let Selector::Handle(h) = selector {
        if report.flushed.is_empty() && report.failed.is_empty() {
            return Err(format!("no session 0x{:08x} on the TPM", h.0).into());
        }
    }
    if report.failed.is_empty() {
        Ok(())
    } else {
        Err(format!("{} session(s) could not be flushed", report.failed.len()).into())
    }
}

#[derive(Args)]
pub struct StatusArgs {
    /// Machine-readable output (see docs/cli.md).
    #[arg(long)]
    json: bool,
}

pub fn status(tcti: Option<&str>, a: StatusArgs) -> CliResult {
    let tpm = open_tpm(tcti)?;
    let reg = registry_or_warn();
    let s = inventory::status(&tpm, reg.as_ref())?;
    if a.json {
        println!(
            "{}",
            json!({
                "tpm": s.tpm,
                "active_sessions_max": s.active_sessions_max,
                "hr_loaded_min": s.hr_loaded_min,
                "hr_loaded_avail": s.hr_loaded_avail,
                "hr_active_avail": s.hr_active_avail,
                "loaded": s.loaded,
                "saved": s.saved,
                "owned": s.owned,
                "parked": s.parked,
                "orphans": s.orphans,
                "unknown_owner": s.unknown_owner,
            })
        );
        return Ok(());
    }
    let opt = |v: Option<u32>| v.map_or_else(|| "unknown".into(), |v| v.to_string());
    println!("TPM: {}", s.tpm);
    println!("TPM_PT_ACTIVE_SESSIONS_MAX: {}", opt(s.active_sessions_max));
    println!("TPM_PT_HR_LOADED_MIN: {}", opt(s.hr_loaded_min));
    println!("TPM_PT_HR_LOADED_AVAIL: {}", opt(s.hr_loaded_avail));
    println!("TPM_PT_HR_ACTIVE_AVAIL: {}", opt(s.hr_active_avail));
    println!("Sessions loaded: {}", s.loaded);
    println!("Sessions saved: {}", s.saved);
    println!(
        "Owned: {}, parked: {}, orphans: {}, unknown owner: {}",
        s.owned, s.parked, s.orphans, s.unknown_owner
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    #[test]
    fn times_print_as_utc_dates() {
        assert_eq!(
            super::format_time(1_709_164_800 + 3661),
            "2024/02/29 01:01:01"
        );
        assert_eq!(super::format_time(0), "1970/01/01 00:00:00");
    }
}
