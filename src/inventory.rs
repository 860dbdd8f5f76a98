//! Every session on a TPM joined with the ownership [`registry`](crate::registry): who owns
//! it, whether a file holds it, which ones are orphans; TPM session counts; and flushing
//! leftovers selected by owner, age, handle or orphan state.

use std::path::PathBuf;

use crate::client::HandleRange;
use crate::command::FlushContext;
use crate::crypto::HashAlg;
use crate::error::{Error, Result};
use crate::registry::{Registry, RegistryError, SessionRecord, SESSION_INDEX_MASK};
use crate::wire::{Handle, HandleType, PropertyTag, SessionType};
use crate::Tpm;

/// Who holds a session.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Ownership {
    /// Recorded, and its owner process runs.
    Owned,
    /// Recorded, and a session file holds it (saved on purpose): never an orphan.
    Parked,
    /// Recorded, its owner is gone and no file holds it: nobody can use it.
    Orphan,
    /// Not in the registry (started by another tool, another user, or with recording off).
    Unknown,
}

impl Ownership {
    /// The lower-case name (`owned`, `parked`, `orphan`, `unknown`), as the CLI prints it.
    pub fn as_str(self) -> &'static str {
        match self {
            Ownership::Owned => "owned",
            Ownership::Parked => "parked",
            Ownership::Orphan => "orphan",
            Ownership::Unknown => "unknown",
        }
    }
}

/// One session on the TPM.
#[derive(Clone, Debug)]
pub struct SessionInfo {
    /// The handle: the registry's when known (it has the real type prefix), else the TPM's.
    pub handle: Handle,
    /// Loaded in a TPM slot (else context-saved).
    pub loaded: bool,
    /// The session type, if recorded (the TPM does not report it).
    pub session_type: Option<SessionType>,
    /// The session hash, if recorded.
    pub hash: Option<HashAlg>,
    /// The owner process, if recorded.
    pub pid: Option<u32>,
    /// Whether the owner process still runs (the same PID with the same start time), if recorded.
    pub owner_alive: Option<bool>,
    /// When the session was started (Unix seconds), if recorded.
    pub created: Option<u64>,
    /// The session file that holds it, if any.
    pub file: Option<PathBuf>,
    /// Who holds it, from the above.
    pub ownership: Ownership,
    /// The registry record, if any.
    pub record: Option<SessionRecord>,
}

/// The TPM's session limits and current use.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Status {
    /// The TPM, as [`Tpm::describe`](crate::Tpm::describe) gives it.
    pub tpm: String,
    /// TPM_PT_ACTIVE_SESSIONS_MAX: most sessions (loaded or saved) the TPM tracks at once.
    pub active_sessions_max: Option<u32>,
    /// TPM_PT_HR_LOADED_MIN: sessions the TPM can hold loaded at least.
    pub hr_loaded_min: Option<u32>,
    /// TPM_PT_HR_LOADED_AVAIL: session slots free now.
    pub hr_loaded_avail: Option<u32>,
    /// TPM_PT_HR_ACTIVE_AVAIL: further sessions that can be started now (loaded or saved).
    pub hr_active_avail: Option<u32>,
    /// Sessions loaded in a TPM slot.
    pub loaded: usize,
    /// Sessions context-saved out of the TPM but still active.
    pub saved: usize,
    /// Sessions whose recorded owner process runs.
    pub owned: usize,
    /// Sessions held by a session file.
    pub parked: usize,
    /// Recorded sessions whose owner is gone and that no file holds.
    pub orphans: usize,
    /// Sessions the registry does not know.
    pub unknown_owner: usize,
}

/// Which sessions [`flush`] flushes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Selector {
    /// Recorded sessions of this owner process (not parked ones).
    Pid(u32),
    /// Recorded sessions created before this Unix time (not parked ones).
    Before(u64),
    /// This session, whoever holds it.
    Handle(Handle),
    /// Recorded sessions whose owner is gone and that no file holds.
    Orphans,
    /// Every session on the TPM.
    All,
}

/// What [`flush`] did.
#[derive(Debug, Default)]
pub struct FlushReport {
    /// Sessions flushed.
    pub flushed: Vec<Handle>,
    /// Sessions that could not be flushed, with why.
    pub failed: Vec<(Handle, String)>,
    /// Sessions selected but not attempted because an earlier flush failed (without force).
    pub skipped: Vec<Handle>,
    /// Registry records removed because their session no longer exists on the TPM.
    pub pruned: usize,
    /// Registry entries that could not be read or updated.
    pub registry_errors: Vec<String>,
}

fn records_for(registry: Option<&Registry>, tpm: &str) -> (Vec<SessionRecord>, Vec<RegistryError>) {
    match registry.map(|r| r.list_for(tpm)) {
        Some(Ok(l)) => (l.records, l.invalid),
        Some(Err(e)) => (Vec::new(), vec![e]),
        None => (Vec::new(), Vec::new()),
    }
}

fn join(handle: Handle, loaded: bool, record: Option<&SessionRecord>) -> SessionInfo {
    match record {
        None => SessionInfo {
            handle,
            loaded,
            session_type: None,
            hash: None,
            pid: None,
            owner_alive: None,
            created: None,
            file: None,
            ownership: Ownership::Unknown,
            record: None,
        },
        Some(r) => {
            let alive = r.owner_alive();
            let ownership = if r.held_by_file() {
                Ownership::Parked
            } else if alive {
                Ownership::Owned
            } else {
                Ownership::Orphan
            };
            SessionInfo {
                handle: r.handle,
                loaded,
                session_type: Some(r.session_type),
                hash: Some(r.hash),
                pid: Some(r.pid),
                owner_alive: Some(alive),
                created: Some(r.created),
                file: r.file.clone(),
                ownership,
                record: Some(r.clone()),
            }
        }
    }
}

/// Every session on the TPM (loaded, then saved, each in handle order) with its owner as far
/// as the registry knows. Also returns registry entries that could not be read.
pub fn sessions_with_errors(
    tpm: &Tpm,
    registry: Option<&Registry>,
) -> Result<(Vec<SessionInfo>, Vec<RegistryError>)> {
    let loaded = tpm.handles_in(HandleRange::LoadedSessions)?;
    let saved = tpm.handles_in(HandleRange::SavedSessions)?;
    let (records, errors) = records_for(registry, &tpm.describe());
    let find = |h: Handle| records.iter().find(|r| r.matches_handle(h));
    let mut out = Vec::with_capacity(loaded.len() + saved.len());
    for h in loaded {
        out.push(join(h, true, find(h)));
    }
    for h in saved {
        // A session cannot be loaded and saved at once; should a TPM list it twice, once is
        // enough.
        if out
            .iter()
            .any(|s| s.handle.0 & SESSION_INDEX_MASK == h.0 & SESSION_INDEX_MASK)
        {
            continue;
        }
        out.push(join(h, false, find(h)));
    }
    Ok((out, errors))
}

/// Every session on the TPM with its owner (see [`sessions_with_errors`]).
pub fn sessions(tpm: &Tpm, registry: Option<&Registry>) -> Result<Vec<SessionInfo>> {
    Ok(sessions_with_errors(tpm, registry)?.0)
}

/// Session limits (TPM_PT_ACTIVE_SESSIONS_MAX, TPM_PT_HR_LOADED_MIN, TPM_PT_HR_LOADED_AVAIL,
/// TPM_PT_HR_ACTIVE_AVAIL) and how many sessions there are of each kind.
pub fn status(tpm: &Tpm, registry: Option<&Registry>) -> Result<Status> {
    let fixed = tpm.properties(PropertyTag::PT_FIXED)?;
    let var = tpm.properties(PropertyTag::PT_VAR)?;
    let get = |list: &[crate::wire::TaggedProperty], tag: PropertyTag| {
        list.iter().find(|p| p.property == tag).map(|p| p.value)
    };
    let all = sessions(tpm, registry)?;
    let count = |o: Ownership| all.iter().filter(|s| s.ownership == o).count();
    Ok(Status {
        tpm: tpm.describe(),
        active_sessions_max: get(&fixed, PropertyTag::ACTIVE_SESSIONS_MAX),
        hr_loaded_min: get(&fixed, PropertyTag::HR_LOADED_MIN),
        hr_loaded_avail: get(&var, PropertyTag::HR_LOADED_AVAIL),
        hr_active_avail: get(&var, PropertyTag::HR_ACTIVE_AVAIL),
        loaded: all.iter().filter(|s| s.loaded).count(),
        saved: all.iter().filter(|s| !s.loaded).count(),
        owned: count(Ownership::Owned),
        parked: count(Ownership::Parked),
        orphans: count(Ownership::Orphan),
        unknown_owner: count(Ownership::Unknown),
    })
}

fn selected(s: &SessionInfo, selector: &Selector) -> bool {
    let unparked = s.ownership != Ownership::Parked;
    match selector {
        Selector::Pid(pid) => unparked && s.pid == Some(*pid),
        Selector::Before(t) => unparked && s.created.is_some_and(|c| c < *t),
        Selector::Handle(h) => s.handle.0 & SESSION_INDEX_MASK == h.0 & SESSION_INDEX_MASK,
        Selector::Orphans => s.ownership == Ownership::Orphan,
        Selector::All => true,
    }
}

/// The two handles a session may be flushed by: the one we know, and the same index with the
/// other session prefix (the TPM lists saved policy sessions with the HMAC prefix).
fn flush_handles(h: Handle) -> [Handle; 2] {
    let other = if h.handle_type() == HandleType::HMAC_SESSION {
        HandleRange::SavedSessions
    } else {
        HandleRange::LoadedSessions
    };
    [h, Handle((h.0 & SESSION_INDEX_MASK) | other.first().0)]
}

fn flush_one(tpm: &Tpm, h: Handle) -> Result<()> {
    let [first, second] = flush_handles(h);
    match tpm.run(&FlushContext {
        flush_handle: first,
    }) {
        Ok(_) => Ok(()),
        Err(Error::Tpm { rc, .. }) if rc.is_handle_error() || rc.is_session_reference_error() => {
            tpm.run(&FlushContext {
                flush_handle: second,
            })
            .map(|_| ())
        }
        Err(e) => Err(e),
    }
}

/// Flushes the selected sessions. Without `force` it stops at the first failure (the rest are
/// reported as skipped); with `force` it goes on. Then removes the records of flushed sessions
/// and of sessions no longer on the TPM.
pub fn flush(
    tpm: &Tpm,
    registry: Option<&Registry>,
    selector: &Selector,
    force: bool,
) -> Result<FlushReport> {
    let (all, errors) = sessions_with_errors(tpm, registry)?;
    let mut report = FlushReport {
        registry_errors: errors.iter().map(ToString::to_string).collect(),
        ..FlushReport::default()
    };
    let desc = tpm.describe();
    let mut stop = false;
    for s in all.iter().filter(|s| selected(s, selector)) {
        if stop {
            report.skipped.push(s.handle);
            continue;
        }
        // The caller's handle has the session's real type prefix; the TPM's may not.
        let target = match selector {
            Selector::Handle(h) => *h,
            _ => s.handle,
        };
        match flush_one(tpm, target) {
            Ok(()) => {
                report.flushed.push(target);
                if let Some(reg) = registry {
                    if let Err(e) = reg.remove(&desc, target) {
                        report.registry_errors.push(e.to_string());
                    }
                }
            }
            Err(e) => {
                report.failed.push((target, e.to_string()));
                stop = !force;
            }
        }
    }
    if let Some(reg) = registry {
        report.pruned = prune(tpm, reg, &mut report.registry_errors)?;
    }
    Ok(report)
}

/// Removes the records of sessions on `tpm` that the TPM no longer has.
pub fn prune(tpm: &Tpm, registry: &Registry, errors: &mut Vec<String>) -> Result<usize> {
    let mut present = tpm.handles_in(HandleRange::LoadedSessions)?;
    present.extend(tpm.handles_in(HandleRange::SavedSessions)?);
    let desc = tpm.describe();
    let (records, errs) = records_for(Some(registry), &desc);
    errors.extend(errs.iter().map(ToString::to_string));
    let mut pruned = 0;
    for r in records {
        if present.iter().any(|h| r.matches_handle(*h)) {
            continue;
        }
        match registry.remove(&desc, r.handle) {
            Ok(true) => pruned += 1,
            Ok(false) => {}
            Err(e) => errors.push(e.to_string()),
        }
    }
    Ok(pruned)
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's `days_from_civil`).
fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = if y >= 0 { y } else { y - 399 } / 400;
    let yoe = y - era * 400;
    let m = m as i64;
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + d as i64 - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// `YYYY/MM/DD` (as pkcsep11_session takes it) as Unix seconds at 00:00 UTC.
pub fn parse_date(s: &str) -> Result<u64> {
    let bad = || Error::BadDate { input: s.into() };
    let mut parts = s.split('/');
    let (Some(y), Some(m), Some(d), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(bad());
    };
    let num = |t: &str, len: std::ops::RangeInclusive<usize>| {
        if len.contains(&t.len()) && t.bytes().all(|b| b.is_ascii_digit()) {
            t.parse::<u32>().ok()
        } else {
            None
        }
    };
    let (y, m, d) = (
        num(y, 4..=4).ok_or_else(bad)?,
        num(m, 1..=2).ok_or_else(bad)?,
        num(d, 1..=2).ok_or_else(bad)?,
    );
    let leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    let days_in_month = match m {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if leap => 29,
        2 => 28,
        _ => return Err(bad()),
    };
    if y < 1970 || d == 0 || d > days_in_month {
        return Err(bad());
    }
    Ok(days_from_civil(y as i64, m, d) as u64 * 86_400)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates() {
        assert_eq!(parse_date("1970/01/01").unwrap(), 0);
        assert_eq!(parse_date("2018/7/12").unwrap(), 1_531_353_600);
        assert_eq!(parse_date("2024/02/29").unwrap(), 1_709_164_800);
        for bad in [
            "2023/02/29",
            "2024/13/01",
            "2024/00/10",
            "24/01/01",
            "2024-01-01",
            "2024/1/1/1",
            "2024/+1/01",
        ] {
            assert!(parse_date(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn flush_handle_alternates() {
        assert_eq!(
            flush_handles(Handle(0x0200_0005)),
            [Handle(0x0200_0005), Handle(0x0300_0005)]
        );
        assert_eq!(
            flush_handles(Handle(0x0300_0005)),
            [Handle(0x0300_0005), Handle(0x0200_0005)]
        );
    }
}
