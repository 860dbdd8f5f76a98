//! `policy`: the tpm2-tools policy tools (`tpm2_policy*`), one subcommand each, taking the
//! same flags and the same session files, so that the two take turns on one session.

use std::path::{Path, PathBuf};

use clap::{Args, Subcommand};

use tpm2_wire::auth::{parse_command_code, parse_pcr_selection};
use tpm2_wire::client::{pcr_digest_from_file, ObjectRef, SignedTerms};
use tpm2_wire::command::Entity;
use tpm2_wire::crypto::HashAlg;
use tpm2_wire::files::policy_signed::{parse_signature, signed_data, SignatureFormat};
use tpm2_wire::files::{self, read_bounded, read_name_file};
use tpm2_wire::wire::{
    ArithmeticOp, CommandCode, Digest, Handle, LocalityAttributes, Marshal, Name, Nonce, Operand,
    PcrSelectionList, Signature, StructureTag, Ticket, Timeout, VerifiedTicket,
};
use tpm2_wire::Session;

use crate::tools::{hex, open_tpm, save_back, warn_registry};
use crate::CliResult;

mod cphash;
mod inputs;

use inputs::*;

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

/// What PolicySecret and PolicySigned share: the authorization's terms and where its
/// ticket and timeout go.
#[derive(Args)]
pub struct AuthTerms {
    /// Seconds the authorization stays valid (0: no limit; negative also yields a ticket).
    #[arg(
        short = 't',
        long = "expiration",
        default_value_t = 0,
        allow_hyphen_values = true
    )]
    expiration: i32,
    /// Bind the authorization to (or: the signature covers) this session's nonceTPM.
    #[arg(short = 'x', long = "nonce-tpm")]
    nonce_tpm: bool,
    /// The policyRef: a file, or hex.
    #[arg(short = 'q', long = "qualification")]
    qualification: Option<String>,
    /// Write the ticket (TPMT_TK_AUTH) here.
    #[arg(long = "ticket")]
    ticket: Option<PathBuf>,
    /// Write the timeout (raw) here.
    #[arg(long = "timeout", visible_alias = "timeout-file")]
    timeout_file: Option<PathBuf>,
}

impl AuthTerms {
    /// The terms of the authorization, limited to `cp_hash_a` (empty: any command).
    fn signed_terms(&self, cp_hash_a: Digest) -> Result<SignedTerms, Box<dyn std::error::Error>> {
        Ok(SignedTerms {
            bind_nonce: self.nonce_tpm,
            expiration: self.expiration,
            cp_hash_a,
            policy_ref: read_qualifier(self.qualification.as_deref())?,
        })
    }
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
        #[command(flatten)]
        terms: AuthTerms,
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
        /// The cpHash the authorization is limited to (a TPM2B_DIGEST file).
        #[arg(long = "cphash-input")]
        cphash_input: Option<PathBuf>,
        #[command(flatten)]
        terms: AuthTerms,
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
            terms,
            auth,
            out,
            ..
        } => {
            let auth = parse_authorization(auth.as_deref())?;
            let step = Step::Secret {
                object: parse_secret_entity(object),
                auth,
                terms: terms.signed_terms(Digest::empty())?,
                ticket: terms.ticket.clone(),
                timeout: terms.timeout_file.clone(),
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
            cphash_input,
            terms: auth_terms,
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
            let terms = auth_terms.signed_terms(cp_hash_a)?;
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
                ticket: auth_terms.ticket.clone(),
                timeout: auth_terms.timeout_file.clone(),
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
    // Saved back whatever happened, so the file stays usable (by us or tpm2-tools); a
    // session the failure left desynchronized is ended instead, and the user told both.
    let saved = save_back(session, path);
    let digest = match (outcome, saved) {
        (Err(failed), Err(ended)) => return Err(format!("{failed}; {ended}").into()),
        (outcome, saved) => {
            let digest = outcome?;
            saved?;
            digest
        }
    };
    if let Some(f) = out_file {
        files::write_atomic(f, digest.as_bytes())?;
    }
    println!("{}", hex(digest.as_bytes()));
    warn_registry(&tpm);
    Ok(())
}
