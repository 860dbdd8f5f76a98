//! `policy`: the tpm2-tools policy tools (`tpm2_policy*`), one subcommand each, taking the
//! same flags and the same session files, so that the two take turns on one session.

use std::path::{Path, PathBuf};

use clap::{Args, Subcommand};

use tpm2_wire::auth::{parse_auth, parse_command_code, parse_pcr_selection, AuthSpec};
use tpm2_wire::client::{pcr_digest_from_file, ObjectRef, SignedTerms};
use tpm2_wire::command::Entity;
use tpm2_wire::crypto::HashAlg;
use tpm2_wire::files::policy_signed::{parse_signature, signed_data, SignatureFormat};
use tpm2_wire::files::{self, read_bounded, read_name_file};
use tpm2_wire::session::engine::SessionSlot;
use tpm2_wire::wire::{
    ArithmeticOp, Auth, CommandCode, Digest, Handle, LocalityAttributes, Marshal, Name, Nonce,
    Operand, PcrSelectionList, Signature, StructureTag, Ticket, Timeout, Unmarshal, VerifiedTicket,
    MAX_DIGEST_LIST, MAX_DIGEST_SIZE,
};
use tpm2_wire::{Session, Tpm};

use crate::tools::{hex, open_tpm, save_back, warn_registry};
use crate::CliResult;

mod cphash;

type BoxError = Box<dyn std::error::Error>;

#[derive(Args)]
pub struct PolicyOut {
    /// The policy or trial session file (saved back after use).
    #[arg(short = 'S', long = "session", required = true)]
    session: PathBuf,
    /// Also write the new policy digest (raw bytes) to this file.
    #[arg(short = 'L', long = "policy")]
    policy: Option<PathBuf>,
}

/// `--cphash` of the tools that have it in tpm2-tools.
#[derive(Args)]
pub struct CpHashOut {
    /// Instead of running the command, write its cpHash (a TPM2B_DIGEST, as tpm2-tools
    /// writes it) here: with the hash of the `session:` authorization, else sha256.
    #[arg(long = "cphash")]
    cphash: Option<PathBuf>,
}

#[derive(Subcommand)]
pub enum PolicyCommand {
    /// TPM2_PolicyPassword (tpm2_policypassword).
    Password {
        #[command(flatten)]
        out: PolicyOut,
        #[command(flatten)]
        cp: CpHashOut,
    },
    /// TPM2_PolicyAuthValue (tpm2_policyauthvalue).
    Authvalue {
        #[command(flatten)]
        out: PolicyOut,
        #[command(flatten)]
        cp: CpHashOut,
    },
    /// TPM2_PolicyPCR (tpm2_policypcr).
    Pcr {
        /// PCR selection, e.g. sha256:0,1,2.
        #[arg(short = 'l', long = "pcr-list", required = true)]
        pcr_list: String,
        /// Raw PCR values (as `tpm2_pcrread -o` writes) to compute the PCR digest from;
        /// without it, the TPM uses the current values.
        #[arg(short = 'f', long = "pcr")]
        pcr_file: Option<PathBuf>,
        #[command(flatten)]
        out: PolicyOut,
    },
    /// TPM2_PolicyCommandCode (tpm2_policycommandcode).
    Commandcode {
        /// Command code: a number (0x153) or a name (TPM2_CC_Unseal).
        code: String,
        #[command(flatten)]
        out: PolicyOut,
        #[command(flatten)]
        cp: CpHashOut,
    },
    /// TPM2_PolicyOR (tpm2_policyor): the session's digest must be one of the listed ones.
    Or {
        /// Branch digest files after the session's hash, e.g. sha256:a.bin,b.bin (repeatable).
        #[arg(short = 'l', long = "policy-list")]
        policy_list: Vec<String>,
        /// More lists in the same form; all lists together give 2 to 8 branches.
        lists: Vec<String>,
        #[command(flatten)]
        out: PolicyOut,
    },
    /// TPM2_PolicyAuthorize (tpm2_policyauthorize).
    Authorize {
        /// The approved policy digest (raw).
        #[arg(short = 'i', long = "input", required = true)]
        input: PathBuf,
        /// The policyRef signed with it: a file, or hex.
        #[arg(short = 'q', long = "qualification")]
        qualification: Option<String>,
        /// The name of the key that signed it (as `tpm2_readpublic -n` writes).
        #[arg(short = 'n', long = "name", required = true)]
        name: PathBuf,
        /// The verification ticket of the signature (`tpm2_verifysignature -t`); a trial
        /// session needs none.
        #[arg(short = 't', long = "ticket")]
        ticket: Option<PathBuf>,
        #[command(flatten)]
        out: PolicyOut,
        #[command(flatten)]
        cp: CpHashOut,
    },
    /// TPM2_PolicySecret (tpm2_policysecret).
    Secret {
        /// The entity whose auth value is proven: o|owner, p|platform, e|endorsement,
        /// l|lockout, n|null, a handle (0x81000001) or a context file.
        #[arg(short = 'c', long = "object-context", required = true)]
        object: String,
        /// Seconds the authorization stays valid (0: no limit; negative also yields a ticket).
        #[arg(
            short = 't',
            long = "expiration",
            default_value_t = 0,
            allow_hyphen_values = true
        )]
        expiration: i32,
        /// Bind the authorization to this session's nonceTPM.
        #[arg(short = 'x', long = "nonce-tpm")]
        nonce_tpm: bool,
        /// Write the ticket (TPMT_TK_AUTH) here.
        #[arg(long = "ticket")]
        ticket: Option<PathBuf>,
        /// Write the timeout (raw) here.
        #[arg(long = "timeout", visible_alias = "timeout-file")]
        timeout_file: Option<PathBuf>,
        /// The policyRef: a file, or hex.
        #[arg(short = 'q', long = "qualification")]
        qualification: Option<String>,
        /// The entity's authorization: a password (str:, hex:, file:) or a session file
        /// (session:FILE or session:FILE+PASSWORD), saved back after use.
        auth: Option<String>,
        #[command(flatten)]
        out: PolicyOut,
        #[command(flatten)]
        cp: CpHashOut,
    },
    /// TPM2_PolicyCounterTimer (tpm2_policycountertimer).
    Countertimer {
        /// safe, clock=MS, time=MS, resets=N, restarts=N, or MS (time); default: time=0.
        operand: Option<String>,
        #[command(flatten)]
        op: CompareOp,
        #[command(flatten)]
        out: PolicyOut,
        #[command(flatten)]
        cp: CpHashOut,
    },
    /// TPM2_PolicyCpHash (tpm2_policycphash).
    Cphash {
        /// The cpHash (raw digest of the session's hash).
        /// (`--cphash` is tpm2-tools' older name for it, still taken there.)
        #[arg(long = "cphash-input", visible_alias = "cphash", required = true)]
        cphash_input: PathBuf,
        #[command(flatten)]
        out: PolicyOut,
    },
    /// TPM2_PolicyNameHash (tpm2_policynamehash).
    Namehash {
        /// The hash of the names of the command's handles (raw digest of the session's hash).
        #[arg(short = 'n', long = "name", required = true)]
        name: PathBuf,
        #[command(flatten)]
        out: PolicyOut,
    },
    /// TPM2_PolicyLocality (tpm2_policylocality).
    Locality {
        /// zero|one|two|three|four (that locality), or a number (the TPMA_LOCALITY byte).
        locality: String,
        #[command(flatten)]
        out: PolicyOut,
        #[command(flatten)]
        cp: CpHashOut,
    },
    /// TPM2_PolicyNvWritten (tpm2_policynvwritten).
    Nvwritten {
        /// The index's required written state: s|1 (written) or c|0 (not written).
        state: String,
        #[command(flatten)]
        out: PolicyOut,
        #[command(flatten)]
        cp: CpHashOut,
    },
    /// TPM2_PolicyTemplate (tpm2_policytemplate).
    Template {
        /// The hash of the public template (raw digest of the session's hash).
        #[arg(long = "template-hash", required = true)]
        template_hash: PathBuf,
        #[command(flatten)]
        out: PolicyOut,
    },
    /// TPM2_PolicyDuplicationSelect (tpm2_policyduplicationselect).
    Duplicationselect {
        /// Name file of the object to duplicate.
        #[arg(short = 'n', long = "object-name", required = true)]
        object_name: PathBuf,
        /// Name file of the new parent.
        #[arg(short = 'N', long = "parent-name", required = true)]
        parent_name: PathBuf,
        /// Include the object's name in the policy.
        #[arg(long = "include-object")]
        include_object: bool,
        #[command(flatten)]
        out: PolicyOut,
    },
    /// TPM2_PolicyNV (tpm2_policynv): compares an NV index's contents with an operand.
    Nv {
        /// The index: a handle (0x01000001) or an offset in the NV range (1).
        index: String,
        /// eq, neq, sgt, ugt, slt, ult, sge, uge, sle, ule, bs or bc.
        operation: String,
        /// The entity authorizing the read: o (owner), p (platform) or a handle; default:
        /// the index itself.
        #[arg(short = 'C', long = "hierarchy")]
        hierarchy: Option<String>,
        /// Its authorization: a password (str:, hex:, file:) or a session file
        /// (session:FILE or session:FILE+PASSWORD), saved back after use.
        #[arg(short = 'P', long = "auth")]
        auth: Option<String>,
        /// The operand (operandB), a file.
        #[arg(short = 'i', long = "input", required = true)]
        input: PathBuf,
        /// Where in the index the comparison starts.
        #[arg(long = "offset", default_value_t = 0)]
        offset: u16,
        #[command(flatten)]
        out: PolicyOut,
        #[command(flatten)]
        cp: CpHashOut,
    },
    /// TPM2_PolicyAuthorizeNV (tpm2_policyauthorizenv): the approved policy is in an index.
    Authorizenv {
        /// The index: a handle (0x01000001) or an offset in the NV range (1).
        index: String,
        /// The entity authorizing the read: o (owner), p (platform) or a handle; default:
        /// the index itself.
        #[arg(short = 'C', long = "hierarchy")]
        hierarchy: Option<String>,
        /// Its authorization: a password (str:, hex:, file:) or a session file
        /// (session:FILE or session:FILE+PASSWORD), saved back after use.
        #[arg(short = 'P', long = "auth")]
        auth: Option<String>,
        #[command(flatten)]
        out: PolicyOut,
        #[command(flatten)]
        cp: CpHashOut,
    },
    /// TPM2_PolicySigned (tpm2_policysigned).
    Signed {
        /// The signing key: a handle (0x81000001) or a context file.
        #[arg(short = 'c', long = "key-context", required = true)]
        key: String,
        /// The signature, a TPMT_SIGNATURE (as `tpm2_sign` writes by default) or, with `-f`,
        /// a plain one.
        #[arg(short = 's', long = "signature", required_unless_present = "raw_data")]
        signature: Option<PathBuf>,
        /// The signature's format: `rsassa`, `rsapss` (the bare signature), `ecdsa` (DER), or
        /// `tss` (TPMT_SIGNATURE, the default).
        #[arg(short = 'f', long = "format")]
        format: Option<String>,
        /// The hash a plain signature (`-f`) was made with (default sha256).
        #[arg(short = 'g', long = "hash-algorithm")]
        hash_algorithm: Option<String>,
        /// Instead of running the command, write the data to sign here: nonceTPM (with `-x`)
        /// ‖ expiration ‖ cpHash ‖ policyRef, undigested, as tpm2-tools writes it.
        #[arg(long = "raw-data", conflicts_with = "signature")]
        raw_data: Option<PathBuf>,
        /// Seconds the authorization stays valid (0: no limit; negative also yields a ticket).
        #[arg(
            short = 't',
            long = "expiration",
            default_value_t = 0,
            allow_hyphen_values = true
        )]
        expiration: i32,
        /// The signature covers this session's nonceTPM.
        #[arg(short = 'x', long = "nonce-tpm")]
        nonce_tpm: bool,
        /// The policyRef: a file, or hex.
        #[arg(short = 'q', long = "qualification")]
        qualification: Option<String>,
        /// The cpHash the authorization is limited to (a TPM2B_DIGEST file).
        #[arg(long = "cphash-input")]
        cphash_input: Option<PathBuf>,
        /// Write the ticket (TPMT_TK_AUTH) here.
        #[arg(long = "ticket")]
        ticket: Option<PathBuf>,
        /// Write the timeout (raw) here.
        #[arg(long = "timeout", visible_alias = "timeout-file")]
        timeout_file: Option<PathBuf>,
        #[command(flatten)]
        out: PolicyOut,
    },
    /// TPM2_PolicyTicket (tpm2_policyticket).
    Ticket {
        /// The name of the key (or entity) that gave the authorization.
        #[arg(short = 'n', long = "name", required = true)]
        name: PathBuf,
        /// The ticket (TPMT_TK_AUTH) that tpm2_policysigned/-secret `--ticket` wrote.
        #[arg(long = "ticket", required = true)]
        ticket: PathBuf,
        /// The timeout (raw) written with it.
        #[arg(long = "timeout", visible_alias = "timeout-file", required = true)]
        timeout_file: PathBuf,
        /// The policyRef it was given: a file, or hex.
        #[arg(short = 'q', long = "qualification")]
        qualification: Option<String>,
        #[command(flatten)]
        out: PolicyOut,
    },
    /// Print the session's policy digest (tpm2_getpolicydigest).
    Digest {
        #[arg(short = 'S', long = "session", required = true)]
        session: PathBuf,
        /// Also write the digest (raw bytes) to this file.
        #[arg(short = 'o', long = "output")]
        output: Option<PathBuf>,
    },
}

/// The comparison flags of tpm2_policycountertimer (at most one; default --eq).
#[derive(Args)]
#[group(multiple = false)]
pub struct CompareOp {
    #[arg(long)]
    eq: bool,
    #[arg(long)]
    neq: bool,
    #[arg(long)]
    sgt: bool,
    #[arg(long)]
    ugt: bool,
    #[arg(long)]
    slt: bool,
    #[arg(long)]
    ult: bool,
    #[arg(long)]
    sge: bool,
    #[arg(long)]
    uge: bool,
    #[arg(long)]
    sle: bool,
    #[arg(long)]
    ule: bool,
    #[arg(long)]
    bs: bool,
    #[arg(long)]
    bc: bool,
}

impl CompareOp {
    fn op(&self) -> ArithmeticOp {
        let flags = [
            (self.neq, ArithmeticOp::NEQ),
            (self.sgt, ArithmeticOp::SIGNED_GT),
            (self.ugt, ArithmeticOp::UNSIGNED_GT),
            (self.slt, ArithmeticOp::SIGNED_LT),
            (self.ult, ArithmeticOp::UNSIGNED_LT),
            (self.sge, ArithmeticOp::SIGNED_GE),
            (self.uge, ArithmeticOp::UNSIGNED_GE),
            (self.sle, ArithmeticOp::SIGNED_LE),
            (self.ule, ArithmeticOp::UNSIGNED_LE),
            (self.bs, ArithmeticOp::BITSET),
            (self.bc, ArithmeticOp::BITCLEAR),
        ];
        let _ = self.eq;
        flags
            .into_iter()
            .find_map(|(set, op)| set.then_some(op))
            .unwrap_or(ArithmeticOp::EQ)
    }
}

/// One policy command with its inputs read and checked, before the session is loaded (so a
/// bad input costs no session round trip).
enum Step {
    Password,
    AuthValue,
    Pcr(PcrSelectionList, Option<PathBuf>),
    CommandCode(CommandCode),
    Or(HashAlg, Vec<Digest>),
    Authorize {
        approved: Digest,
        policy_ref: Nonce,
        key: Name,
        ticket: VerifiedTicket,
    },
    Secret {
        object: SecretEntity,
        auth: Authorization,
        terms: SignedTerms,
        ticket: Option<PathBuf>,
        timeout: Option<PathBuf>,
    },
    CounterTimer(Digest, u16, ArithmeticOp),
    CpHash(Digest),
    NameHash(Digest),
    Locality(LocalityAttributes),
    NvWritten(bool),
    Template(Digest),
    DuplicationSelect(Name, Name, bool),
    Nv {
        index: Handle,
        reader: Option<Handle>,
        auth: Authorization,
        operand: Operand,
        offset: u16,
        op: ArithmeticOp,
    },
    AuthorizeNv {
        index: Handle,
        reader: Option<Handle>,
        auth: Authorization,
    },
    /// `signed --raw-data`: the data to sign, written instead of running the command.
    SignedRawData {
        terms: SignedTerms,
        out: PathBuf,
    },
    Signed {
        key: ObjectRef,
        // Boxed: a signature is far larger than any other step.
        signature: Box<Signature>,
        terms: SignedTerms,
        ticket: Option<PathBuf>,
        timeout: Option<PathBuf>,
    },
    Ticket {
        name: Name,
        ticket: Ticket,
        timeout: Timeout,
        policy_ref: Nonce,
    },
    Digest,
}

enum SecretEntity {
    Hierarchy(Handle),
    Object(ObjectRef),
}

/// A digest file: raw bytes, at most the largest digest.
fn read_digest(path: &Path, what: &'static str) -> Result<Digest, BoxError> {
    let bytes = read_bounded(path, what, MAX_DIGEST_SIZE)?;
    Ok(Digest::new(&bytes)?)
}

/// A TPM2B_DIGEST file (size, then the digest), as tpm2-tools' `--cphash` writes it.
fn read_tpm2b_digest(path: &Path, what: &'static str) -> Result<Digest, BoxError> {
    let bytes = read_bounded(path, what, 2 + MAX_DIGEST_SIZE)?;
    Digest::from_bytes(&bytes)
        .map_err(|e| format!("{}: not a TPM2B_DIGEST: {e}", path.display()).into())
}

/// A ticket file (a marshalled TPMT_TK_*) of one of the `tags`.
fn read_ticket(path: &Path, tags: &[StructureTag]) -> Result<Ticket, BoxError> {
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
fn write_ticket(
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
fn read_qualifier(arg: Option<&str>) -> Result<Nonce, BoxError> {
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

fn decode_hex(s: &str) -> Option<Vec<u8>> {
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
fn read_policy_lists(lists: &[String]) -> Result<(HashAlg, Vec<Digest>), BoxError> {
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
fn parse_counter_timer(arg: Option<&str>) -> Result<(Digest, u16), BoxError> {
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

fn parse_locality(s: &str) -> Result<LocalityAttributes, BoxError> {
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
fn parse_nv_index(s: &str) -> Result<Handle, BoxError> {
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
const MAX_SIGNATURE_FILE: usize = 4096;

/// The first NV index handle (TPM_HR_NV_INDEX).
const NV_INDEX_FIRST: u32 = 0x0100_0000;

/// `-C`: who authorizes reading an index (None: the index itself).
fn parse_nv_reader(s: Option<&str>) -> Result<Option<Handle>, BoxError> {
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
enum Authorization {
    Password(Auth),
    /// A session file (HMAC or policy) and the entity's auth value for it.
    Session {
        path: PathBuf,
        auth: Auth,
    },
}

/// A password or `session:` authorization; `pcr:` is not taken here (tpm2-tools neither).
fn parse_authorization(s: Option<&str>) -> Result<Authorization, BoxError> {
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
fn authorized<T>(
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

fn parse_operation(s: &str) -> Result<ArithmeticOp, BoxError> {
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

fn parse_secret_entity(s: &str) -> SecretEntity {
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

/// The `--cphash` file, for the tools that take one.
fn cphash_file(p: &PolicyCommand) -> Option<&Path> {
    let cp = match p {
        PolicyCommand::Password { cp, .. }
        | PolicyCommand::Authvalue { cp, .. }
        | PolicyCommand::Commandcode { cp, .. }
        | PolicyCommand::Authorize { cp, .. }
        | PolicyCommand::Secret { cp, .. }
        | PolicyCommand::Countertimer { cp, .. }
        | PolicyCommand::Locality { cp, .. }
        | PolicyCommand::Nvwritten { cp, .. }
        | PolicyCommand::Nv { cp, .. }
        | PolicyCommand::Authorizenv { cp, .. } => cp,
        _ => return None,
    };
    cp.cphash.as_deref()
}

fn with(out: &PolicyOut, step: Step) -> (&Path, Option<&Path>, Step) {
    (out.session.as_path(), out.policy.as_deref(), step)
}

fn parse(p: &PolicyCommand) -> Result<(&Path, Option<&Path>, Step), BoxError> {
    Ok(match p {
        PolicyCommand::Password { out, .. } => with(out, Step::Password),
        PolicyCommand::Authvalue { out, .. } => with(out, Step::AuthValue),
        PolicyCommand::Pcr {
            pcr_list,
            pcr_file,
            out,
        } => {
            let sel = PcrSelectionList::try_from(&parse_pcr_selection(pcr_list)?)?;
            with(out, Step::Pcr(sel, pcr_file.clone()))
        }
        PolicyCommand::Commandcode { code, out, .. } => {
            with(out, Step::CommandCode(parse_command_code(code)?))
        }
        PolicyCommand::Or {
            policy_list,
            lists,
            out,
        } => {
            let all: Vec<String> = policy_list.iter().chain(lists).cloned().collect();
            let (alg, branches) = read_policy_lists(&all)?;
            with(out, Step::Or(alg, branches))
        }
        PolicyCommand::Authorize {
            input,
            qualification,
            name,
            ticket,
            out,
            ..
        } => {
            let ticket = match ticket {
                Some(t) => read_ticket(t, &[StructureTag::VERIFIED])?,
                None => Ticket::null(StructureTag::VERIFIED),
            };
            let step = Step::Authorize {
                approved: read_digest(input, "policy digest")?,
                policy_ref: read_qualifier(qualification.as_deref())?,
                key: read_name_file(name)?,
                ticket,
            };
            with(out, step)
        }
        PolicyCommand::Secret {
            object,
            expiration,
            nonce_tpm,
            ticket,
            timeout_file,
            qualification,
            auth,
            out,
            ..
        } => {
            let auth = parse_authorization(auth.as_deref())?;
            let terms = SignedTerms {
                bind_nonce: *nonce_tpm,
                expiration: *expiration,
                cp_hash_a: Digest::empty(),
                policy_ref: read_qualifier(qualification.as_deref())?,
            };
            let step = Step::Secret {
                object: parse_secret_entity(object),
                auth,
                terms,
                ticket: ticket.clone(),
                timeout: timeout_file.clone(),
            };
            with(out, step)
        }
        PolicyCommand::Countertimer {
            operand, op, out, ..
        } => {
            let (operand, offset) = parse_counter_timer(operand.as_deref())?;
            with(out, Step::CounterTimer(operand, offset, op.op()))
        }
        PolicyCommand::Cphash {
            cphash_input, out, ..
        } => with(
            out,
            Step::CpHash(read_tpm2b_digest(cphash_input, "cpHash")?),
        ),
        PolicyCommand::Namehash { name, out } => {
            with(out, Step::NameHash(read_digest(name, "name hash")?))
        }
        PolicyCommand::Locality { locality, out, .. } => {
            with(out, Step::Locality(parse_locality(locality)?))
        }
        PolicyCommand::Nvwritten { state, out, .. } => {
            let set = match state.as_str() {
                "s" | "1" => true,
                "c" | "0" => false,
                _ => return Err(format!("written state {state:?}: expected s, c, 1 or 0").into()),
            };
            with(out, Step::NvWritten(set))
        }
        PolicyCommand::Template { template_hash, out } => with(
            out,
            Step::Template(read_digest(template_hash, "template hash")?),
        ),
        PolicyCommand::Duplicationselect {
            object_name,
            parent_name,
            include_object,
            out,
        } => with(
            out,
            Step::DuplicationSelect(
                read_name_file(object_name)?,
                read_name_file(parent_name)?,
                *include_object,
            ),
        ),
        PolicyCommand::Nv {
            index,
            operation,
            hierarchy,
            auth,
            input,
            offset,
            out,
            ..
        } => with(
            out,
            Step::Nv {
                index: parse_nv_index(index)?,
                reader: parse_nv_reader(hierarchy.as_deref())?,
                auth: parse_authorization(auth.as_deref())?,
                operand: read_digest(input, "operand")?,
                offset: *offset,
                op: parse_operation(operation)?,
            },
        ),
        PolicyCommand::Authorizenv {
            index,
            hierarchy,
            auth,
            out,
            ..
        } => with(
            out,
            Step::AuthorizeNv {
                index: parse_nv_index(index)?,
                reader: parse_nv_reader(hierarchy.as_deref())?,
                auth: parse_authorization(auth.as_deref())?,
            },
        ),
        PolicyCommand::Signed {
            key,
            signature,
            format,
            hash_algorithm,
            raw_data,
            expiration,
            nonce_tpm,
            qualification,
            cphash_input,
            ticket,
            timeout_file,
            out,
        } => {
            let format = match format.as_deref() {
                None => SignatureFormat::Tss,
                Some(f) => SignatureFormat::from_name(f).ok_or_else(|| {
                    format!("signature format {f:?}: expected rsassa, rsapss, ecdsa or tss")
                })?,
            };
            let hash = match hash_algorithm.as_deref() {
                None => HashAlg::Sha256,
                Some(h) => HashAlg::from_name(h).ok_or_else(|| {
                    format!("hash algorithm {h:?}: expected sha1, sha256, sha384 or sha512")
                })?,
            };
            let cp_hash_a = match cphash_input {
                Some(f) => read_tpm2b_digest(f, "cpHash")?,
                None => Digest::empty(),
            };
            let terms = SignedTerms {
                bind_nonce: *nonce_tpm,
                expiration: *expiration,
                cp_hash_a,
                policy_ref: read_qualifier(qualification.as_deref())?,
            };
            let (Some(signature), None) = (signature, raw_data) else {
                // Clap requires exactly one of the two.
                let raw = raw_data
                    .clone()
                    .ok_or("a signature (-s) or --raw-data is needed")?;
                return Ok(with(out, Step::SignedRawData { terms, out: raw }));
            };
            let bytes = read_bounded(signature, "signature", MAX_SIGNATURE_FILE)?;
            let signature = parse_signature(&bytes, format, hash)
                .map_err(|e| format!("{}: {e}", signature.display()))?;
            let step = Step::Signed {
                key: ObjectRef::parse(key),
                signature: Box::new(signature),
                terms,
                ticket: ticket.clone(),
                timeout: timeout_file.clone(),
            };
            with(out, step)
        }
        PolicyCommand::Ticket {
            name,
            ticket,
            timeout_file,
            qualification,
            out,
        } => {
            let tags = [StructureTag::AUTH_SIGNED, StructureTag::AUTH_SECRET];
            // The timeout's raw bytes, as tpm2-tools writes and reads it.
            let bytes = read_bounded(timeout_file, "timeout", 8)?;
            let timeout = Timeout::new(&bytes)?;
            let step = Step::Ticket {
                name: read_name_file(name)?,
                ticket: read_ticket(ticket, &tags)?,
                timeout,
                policy_ref: read_qualifier(qualification.as_deref())?,
            };
            with(out, step)
        }
        PolicyCommand::Digest { session, output } => {
            (session.as_path(), output.as_deref(), Step::Digest)
        }
    })
}

/// The digest sizes a command takes must be the session's.
fn check_size(session: &Session, what: &str, d: &Digest) -> Result<(), BoxError> {
    let hash = session.state().hash();
    if d.len() != hash.digest_size() {
        return Err(format!(
            "{what}: {} bytes, but the session hashes with {}",
            d.len(),
            hash.name()
        )
        .into());
    }
    Ok(())
}

fn run(step: Step, session: &mut Session) -> Result<(), BoxError> {
    let tpm = session.tpm().clone();
    match step {
        Step::Password => session.policy_password()?,
        Step::AuthValue => session.policy_auth_value()?,
        Step::CommandCode(c) => session.policy_command_code(c)?,
        Step::Pcr(sel, file) => {
            let digest = match file {
                Some(f) => pcr_digest_from_file(&f, &sel, session.state().hash())?,
                None => Digest::empty(),
            };
            session.policy_pcr(&sel, &digest)?
        }
        Step::Or(alg, branches) => {
            if alg != session.state().hash() {
                return Err(format!(
                    "the policy list is {}, the session {}",
                    alg.name(),
                    session.state().hash().name()
                )
                .into());
            }
            session.policy_or(&branches)?
        }
        Step::Authorize {
            approved,
            policy_ref,
            key,
            ticket,
        } => session.policy_authorize(&approved, &policy_ref, &key, &ticket)?,
        Step::Secret {
            object,
            auth,
            terms,
            ticket,
            timeout,
        } => {
            // A loaded object stays loaded (and ours to flush) until the command is done.
            let (entity, _loaded) = match object {
                SecretEntity::Hierarchy(h) => (Entity::from_handle(h), None),
                SecretEntity::Object(r) => {
                    let loaded = tpm.load_object(&r)?;
                    (loaded.entity().clone(), Some(loaded))
                }
            };
            let response = authorized(&tpm, &auth, |slot| {
                Ok(session.policy_secret_with(&entity, slot, &terms)?)
            })?;
            write_ticket(ticket, timeout, (&response.ticket, &response.timeout))?;
        }
        Step::CounterTimer(operand, offset, op) => {
            session.policy_counter_timer(&operand, offset, op)?
        }
        Step::CpHash(d) => {
            check_size(session, "cpHash", &d)?;
            session.policy_cp_hash(&d)?
        }
        Step::NameHash(d) => {
            check_size(session, "name hash", &d)?;
            session.policy_name_hash(&d)?
        }
        Step::Locality(l) => session.policy_locality(l)?,
        Step::NvWritten(set) => session.policy_nv_written(set)?,
        Step::Template(d) => {
            check_size(session, "template hash", &d)?;
            session.policy_template(&d)?
        }
        Step::DuplicationSelect(object, parent, include) => {
            session.policy_duplication_select(&object, &parent, include)?
        }
        Step::Nv {
            index,
            reader,
            auth,
            operand,
            offset,
            op,
        } => {
            // The index's name is computed from its public area, not taken on trust.
            let (nv, _) = tpm.nv_read_public(index)?;
            let reader = reader.map_or_else(|| nv.clone(), Entity::from_handle);
            authorized(&tpm, &auth, |slot| {
                Ok(session.policy_nv(&reader, slot, &nv, &operand, offset, op)?)
            })?
        }
        Step::AuthorizeNv {
            index,
            reader,
            auth,
        } => {
            let (nv, _) = tpm.nv_read_public(index)?;
            let reader = reader.map_or_else(|| nv.clone(), Entity::from_handle);
            authorized(&tpm, &auth, |slot| {
                Ok(session.policy_authorize_nv(&reader, slot, &nv)?)
            })?
        }
        Step::Signed {
            key,
            signature,
            terms,
            ticket,
            timeout,
        } => {
            // Loaded (and flushed again on drop) for the command only.
            let key = tpm.load_object(&key)?;
            let response = session.policy_signed(key.entity(), &terms, &signature)?;
            write_ticket(
                ticket,
                timeout,
                (&response.policy_ticket, &response.timeout),
            )?;
        }
        Step::Ticket {
            name,
            ticket,
            timeout,
            policy_ref,
        } => session.policy_ticket(&timeout, &Digest::empty(), &policy_ref, &name, &ticket)?,
        Step::Digest => {}
        Step::SignedRawData { .. } => return Err("--raw-data runs no command".into()),
    }
    Ok(())
}

pub fn policy(tcti: Option<&str>, p: PolicyCommand) -> CliResult {
    // Parse and read everything before the session is loaded, so a typo costs nothing.
    let (path, out_file, step) = parse(&p)?;
    let tpm = open_tpm(tcti)?;
    let mut session = tpm.load_session_file(path)?;
    if let Some(cp_file) = cphash_file(&p) {
        // Only the names and parameters are needed: no policy command runs.
        let (forced, cp_file) = cphash::split_alg(cp_file);
        let digest = cphash::step_cp_hash(&step, &session, &tpm, forced);
        save_back(session, path)?;
        files::write_atomic(&cp_file, &digest?.to_bytes())?;
        warn_registry(&tpm);
        return Ok(());
    }
    if let Step::SignedRawData { terms, out } = &step {
        // Only the session's nonceTPM is needed: no command runs, nothing is printed.
        let data = signed_data(
            &session.signed_nonce(terms),
            terms.expiration,
            &terms.cp_hash_a,
            &terms.policy_ref,
        );
        save_back(session, path)?;
        files::write_atomic(out, &data)?;
        warn_registry(&tpm);
        return Ok(());
    }
    let outcome = (|| -> Result<Digest, BoxError> {
        if !session.state().is_policy() {
            return Err(format!(
                "{}: an HMAC session cannot take policy commands",
                path.display()
            )
            .into());
        }
        run(step, &mut session)?;
        Ok(session.policy_digest()?)
    })();
    // Saved back whatever happened, so the file stays usable (by us or tpm2-tools).
    let saved = save_back(session, path);
    let digest = outcome?;
    saved?;
    if let Some(f) = out_file {
        files::write_atomic(f, digest.as_bytes())?;
    }
    println!("{}", hex(digest.as_bytes()));
    warn_registry(&tpm);
    Ok(())
}
