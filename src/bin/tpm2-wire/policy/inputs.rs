//! Reading and checking the policy tools' inputs: digest, ticket and name files, qualifiers,
//! NV indexes, comparisons and authorizations.

use std::path::{Path, PathBuf};

use tpm2_wire::auth::{parse_auth, AuthSpec};
use tpm2_wire::client::ObjectRef;
use tpm2_wire::crypto::HashAlg;
use tpm2_wire::files::{self, read_bounded};
use tpm2_wire::session::engine::SessionSlot;
use tpm2_wire::wire::{
    ArithmeticOp, Auth, Digest, Handle, LocalityAttributes, Marshal, Nonce, StructureTag, Ticket,
    Timeout, Unmarshal, MAX_DIGEST_LIST, MAX_DIGEST_SIZE,
};
use tpm2_wire::Tpm;

use super::{BoxError, SecretEntity};
use crate::tools::save_back;

/// A digest file: raw bytes, at most the largest digest.
pub(super) fn read_digest(path: &Path, what: &'static str) -> Result<Digest, BoxError> {
    let bytes = read_bounded(path, what, MAX_DIGEST_SIZE)?;
    Ok(Digest::new(&bytes)?)
}

/// A TPM2B_DIGEST file (size, then the digest), as tpm2-tools' `--cphash` writes it.
pub(super) fn read_tpm2b_digest(path: &Path, what: &'static str) -> Result<Digest, BoxError> {
    let bytes = read_bounded(path, what, 2 + MAX_DIGEST_SIZE)?;
    Digest::from_bytes(&bytes)
        .map_err(|e| format!("{}: not a TPM2B_DIGEST: {e}", path.display()).into())
}

/// A ticket file (a marshalled TPMT_TK_*) of one of the `tags`.
pub(super) fn read_ticket(path: &Path, tags: &[StructureTag]) -> Result<Ticket, BoxError> {
    let bytes = read_bounded(path, "ticket", 8 + MAX_DIGEST_SIZE)?;
    let ticket =
        Ticket::from_bytes(&bytes).map_err(|e| format!("{}: not a ticket: {e}", path.display()))?;
    if !tags.contains(&ticket.tag) {
        return Err(format!(
            "{}: a ticket of the wrong kind ({})",
            path.display(),
            ticket.tag
        )
        .into());
    }
    Ok(ticket)
}

/// Output files of PolicySigned/PolicySecret.
pub(super) fn write_ticket(
    ticket: Option<PathBuf>,
    timeout: Option<PathBuf>,
    response: (&Ticket, &Timeout),
) -> Result<(), BoxError> {
    if let Some(f) = ticket {
        files::write_atomic(&f, &response.0.to_bytes())?;
    }
    if let Some(f) = timeout {
        // Raw, not a TPM2B: what tpm2_policyticket reads.
        files::write_atomic(&f, response.1.as_bytes())?;
    }
    Ok(())
}

/// A policyRef as tpm2-tools takes it: the path of an existing file, or hex.
pub(super) fn read_qualifier(arg: Option<&str>) -> Result<Nonce, BoxError> {
    let Some(arg) = arg else {
        return Ok(Nonce::default());
    };
    let path = Path::new(arg);
    let bytes = if path.is_file() {
        read_bounded(path, "qualification", MAX_DIGEST_SIZE)?.to_vec()
    } else {
        decode_hex(arg)
            .ok_or_else(|| format!("qualification {arg:?}: neither a file nor a hex string"))?
    };
    Nonce::new(&bytes).map_err(|_| {
        format!(
            "qualification: {} bytes, at most {MAX_DIGEST_SIZE}",
            bytes.len()
        )
        .into()
    })
}

pub(super) fn decode_hex(s: &str) -> Option<Vec<u8>> {
    let s = s.strip_prefix("0x").unwrap_or(s);
    if s.len() % 2 != 0 || !s.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).ok())
        .collect()
}

/// tpm2_policyor's lists: `ALG:FILE,FILE,…`, each list naming the session's hash.
pub(super) fn read_policy_lists(lists: &[String]) -> Result<(HashAlg, Vec<Digest>), BoxError> {
    let mut alg = None;
    let mut branches = Vec::new();
    for list in lists {
        let (name, files) = list
            .split_once(':')
            .ok_or_else(|| format!("policy list {list:?}: expected ALG:FILE,FILE,…"))?;
        let this = HashAlg::from_name(name)
            .ok_or_else(|| format!("policy list {list:?}: unknown hash algorithm {name:?}"))?;
        if alg.is_some_and(|a| a != this) {
            return Err(format!("policy list {list:?}: hash algorithms differ").into());
        }
        alg = Some(this);
        for file in files.split(',') {
            if branches.len() == MAX_DIGEST_LIST {
                return Err(format!("at most {MAX_DIGEST_LIST} policy digests").into());
            }
            let d = read_digest(Path::new(file), "policy digest")?;
            if d.len() != this.digest_size() {
                return Err(
                    format!("{file}: {} bytes, not a {} digest", d.len(), this.name()).into(),
                );
            }
            branches.push(d);
        }
    }
    match alg {
        Some(a) if branches.len() >= 2 => Ok((a, branches)),
        _ => Err("policy or needs at least 2 policy digests (-l sha256:a.bin,b.bin)".into()),
    }
}

/// tpm2_policycountertimer's argument: the operand and its offset in TPMS_TIME_INFO.
pub(super) fn parse_counter_timer(arg: Option<&str>) -> Result<(Digest, u16), BoxError> {
    let arg = arg.unwrap_or("time=0");
    if arg == "safe" {
        // TPMS_CLOCK_INFO.safe, one byte, compared with YES.
        return Ok((Digest::new(&[1])?, 24));
    }
    let (field, value) = arg.split_once('=').unwrap_or(("time", arg));
    let number = |v: &str| -> Result<u64, BoxError> {
        let parsed = match v.strip_prefix("0x") {
            Some(h) => u64::from_str_radix(h, 16),
            None => v.parse(),
        };
        parsed.map_err(|_| format!("countertimer {arg:?}: {v:?} is not a number").into())
    };
    let n = number(value)?;
    let narrow = |n: u64| -> Result<[u8; 4], BoxError> {
        Ok(u32::try_from(n)
            .map_err(|_| format!("countertimer {arg:?}: larger than 32 bits"))?
            .to_be_bytes())
    };
    // Offsets in TPMS_TIME_INFO: time, clockInfo.clock, resetCount, restartCount.
    let (bytes, offset) = match field {
        "time" => (n.to_be_bytes().to_vec(), 0),
        "clock" => (n.to_be_bytes().to_vec(), 8),
        "resets" => (narrow(n)?.to_vec(), 16),
        "restarts" => (narrow(n)?.to_vec(), 20),
        _ => {
            return Err(format!(
                "countertimer {arg:?}: expected safe, time=, clock=, resets= or restarts="
            )
            .into())
        }
    };
    Ok((Digest::new(&bytes)?, offset))
}

pub(super) fn parse_locality(s: &str) -> Result<LocalityAttributes, BoxError> {
    let bit = ["zero", "one", "two", "three", "four"]
        .iter()
        .position(|n| *n == s);
    let value = match bit {
        Some(b) => 1u8 << b,
        None => match s.strip_prefix("0x") {
            Some(h) => u8::from_str_radix(h, 16),
            None => s.parse(),
        }
        .map_err(|_| format!("locality {s:?}: expected zero…four or a number 0-255"))?,
    };
    Ok(LocalityAttributes(value))
}

/// An NV index as tpm2-tools takes it: a handle, or an offset in the NV index range.
pub(super) fn parse_nv_index(s: &str) -> Result<Handle, BoxError> {
    let n = match s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")) {
        Some(h) => u32::from_str_radix(h, 16),
        None => s.parse(),
    }
    .map_err(|_| format!("NV index {s:?}: expected a handle or an offset"))?;
    let handle = if n < NV_INDEX_FIRST {
        NV_INDEX_FIRST + n
    } else {
        n
    };
    if handle >> 24 != NV_INDEX_FIRST >> 24 {
        return Err(format!("NV index {s:?}: 0x{handle:08x} is not an NV index").into());
    }
    Ok(Handle(handle))
}

/// Largest signature file read: an RSA-16384 signature with its header, beyond any TPM's.
pub(super) const MAX_SIGNATURE_FILE: usize = 4096;

/// The first NV index handle (TPM_HR_NV_INDEX).
pub(super) const NV_INDEX_FIRST: u32 = 0x0100_0000;

/// `-C`: who authorizes reading an index (None: the index itself).
pub(super) fn parse_nv_reader(s: Option<&str>) -> Result<Option<Handle>, BoxError> {
    Ok(match s {
        None => None,
        Some("o" | "owner") => Some(Handle::RH_OWNER),
        Some("p" | "platform") => Some(Handle::RH_PLATFORM),
        Some(other) => Some(parse_nv_index(other).or_else(|_| {
            match other.strip_prefix("0x").map(|h| u32::from_str_radix(h, 16)) {
                Some(Ok(h)) => Ok(Handle(h)),
                _ => Err(format!("-C {other:?}: expected o, p or a handle")),
            }
        })?),
    })
}

/// How the entity of `secret`, `nv` and `authorizenv` is authorized.
pub(super) enum Authorization {
    Password(Auth),
    /// A session file (HMAC or policy) and the entity's auth value for it.
    Session {
        path: PathBuf,
        auth: Auth,
    },
}

/// A password or `session:` authorization; `pcr:` is not taken here (tpm2-tools neither).
pub(super) fn parse_authorization(s: Option<&str>) -> Result<Authorization, BoxError> {
    match s {
        None => Ok(Authorization::Password(Auth::default())),
        Some(s) => match parse_auth(s)? {
            AuthSpec::Password(a) => Ok(Authorization::Password(a)),
            AuthSpec::Session { path, auth } => Ok(Authorization::Session { path, auth }),
            _ => Err("pcr: authorizations are not taken here (str:, hex:, file:, session:)".into()),
        },
    }
}

/// Runs `f` with `authz` in the authorization slot; a session file is loaded for it and saved
/// back whatever happened, so it stays usable (by us or tpm2-tools).
pub(super) fn authorized<T>(
    tpm: &Tpm,
    authz: &Authorization,
    f: impl FnOnce(SessionSlot<'_>) -> Result<T, BoxError>,
) -> Result<T, BoxError> {
    match authz {
        Authorization::Password(a) => f(SessionSlot::Password(a)),
        Authorization::Session { path, auth } => {
            let mut session = tpm.load_session_file(path)?;
            let outcome = f(session.auth(auth));
            // The command's own failure comes first.
            match (outcome, save_back(session, path)) {
                (Err(f), Err(s)) => Err(format!("{f}\n{}: {s}", path.display()).into()),
                (f, s) => {
                    s?;
                    f
                }
            }
        }
    }
}

pub(super) fn parse_operation(s: &str) -> Result<ArithmeticOp, BoxError> {
    let ops = [
        ("eq", ArithmeticOp::EQ),
        ("neq", ArithmeticOp::NEQ),
        ("sgt", ArithmeticOp::SIGNED_GT),
        ("ugt", ArithmeticOp::UNSIGNED_GT),
        ("slt", ArithmeticOp::SIGNED_LT),
        ("ult", ArithmeticOp::UNSIGNED_LT),
        ("sge", ArithmeticOp::SIGNED_GE),
        ("uge", ArithmeticOp::UNSIGNED_GE),
        ("sle", ArithmeticOp::SIGNED_LE),
        ("ule", ArithmeticOp::UNSIGNED_LE),
        ("bs", ArithmeticOp::BITSET),
        ("bc", ArithmeticOp::BITCLEAR),
    ];
    ops.into_iter()
        .find_map(|(name, op)| (name == s).then_some(op))
        .ok_or_else(|| format!("comparison {s:?}: expected eq, neq, sgt, ugt, slt, ult, sge, uge, sle, ule, bs or bc").into())
}

pub(super) fn parse_secret_entity(s: &str) -> SecretEntity {
    let hierarchy = match s {
        "o" | "owner" => Some(Handle::RH_OWNER),
        "p" | "platform" => Some(Handle::RH_PLATFORM),
        "e" | "endorsement" => Some(Handle::RH_ENDORSEMENT),
        "l" | "lockout" => Some(Handle::RH_LOCKOUT),
        "n" | "null" => Some(Handle::RH_NULL),
        _ => None,
    };
    match hierarchy {
        Some(h) => SecretEntity::Hierarchy(h),
        None => SecretEntity::Object(ObjectRef::parse(s)),
    }
}
