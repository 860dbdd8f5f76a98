//! tpm2-tools-like subcommands: random, getcap, session start/config, policy.

use std::path::{Path, PathBuf};

use clap::{Args, Subcommand, ValueEnum};
use serde_json::json;

use tpm2_wire::auth::{parse_password, parse_pcr_selection};
use tpm2_wire::client::{ObjectRef, SaltKey, SessionKind, StartSpec};
use tpm2_wire::crypto::{self, HashAlg};
use tpm2_wire::ek::{CaBundle, EkAlg, VerifiedEk};
use tpm2_wire::files;
use tpm2_wire::inventory;
use tpm2_wire::registry::session_type_name;
use tpm2_wire::session::Symmetric;
use tpm2_wire::wire::{
    Auth, CommandCode, Digest, Handle, Name, PcrSelection, PcrSelectionList, PropertyTag,
    SessionAttributes,
};
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
    let Some(path) = &a.session else {
        println!("{}", hex(&tpm.get_random(a.count)?));
        return Ok(());
    };
    let mut session = load_session(&tpm, path)?;
    let fetched = tpm.get_random_protected(a.count, &mut session);
    // Save the session back whatever happened, so the file stays usable (a session that can
    // no longer be trusted is ended instead).
    let saved = save_session(session, path);
    // The command's own failure comes first; what became of the session follows it.
    let bytes = match (fetched, saved) {
        (Err(f), Err(s)) => return Err(format!("{f}\n{s}").into()),
        (f, s) => {
            s?;
            f?
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
    let handles_of = |first: u32, name: &str| -> CliResult {
        let hs = tpm.handles(Handle(first))?;
        if a.json {
            let list: Vec<String> = hs.iter().map(|h| format!("0x{:08x}", h.0)).collect();
            println!("{}", json!({ "capability": name, "handles": list }));
        } else {
            for h in hs {
                println!("0x{:08x}", h.0);
            }
        }
        Ok(())
    };
    let props = |first: PropertyTag, name: &str| -> CliResult {
        let ps = tpm.properties(first)?;
        if a.json {
            let list: Vec<_> = ps
                .iter()
                .map(|p| {
                    json!({
                        "property": p.property.name(),
                        "tag": format!("0x{:08x}", p.property.0),
                        "value": p.value,
                    })
                })
                .collect();
            println!("{}", json!({ "capability": name, "properties": list }));
        } else {
            for p in ps {
                let name = p
                    .property
                    .name()
                    .map_or_else(|| format!("0x{:08x}", p.property.0), str::to_string);
                println!("{name}: 0x{:x} ({})", p.value, p.value);
            }
        }
        Ok(())
    };
    match a.capability {
        CapName::HandlesLoadedSession => {
            handles_of(inventory::LOADED_SESSION_FIRST, "handles-loaded-session")
        }
        CapName::HandlesSavedSession => {
            handles_of(inventory::SAVED_SESSION_FIRST, "handles-saved-session")
        }
        CapName::HandlesTransient => handles_of(0x8000_0000, "handles-transient"),
        CapName::HandlesPersistent => handles_of(0x8100_0000, "handles-persistent"),
        CapName::PropertiesFixed => props(PropertyTag::PT_FIXED, "properties-fixed"),
        CapName::PropertiesVariable => props(PropertyTag::PT_VAR, "properties-variable"),
        CapName::Algorithms => {
            let algs = tpm.algorithms()?;
            if a.json {
                let list: Vec<_> = algs
                    .iter()
                    .map(|p| {
                        json!({
                            "algorithm": p.alg.name(),
                            "id": format!("0x{:04x}", p.alg.0),
                            "attributes": format!("0x{:08x}", p.properties.bits()),
                        })
                    })
                    .collect();
                println!(
                    "{}",
                    json!({ "capability": "algorithms", "algorithms": list })
                );
            } else {
                for p in algs {
                    println!("{}: {:?}", p.alg, p.properties);
                }
            }
            Ok(())
        }
        CapName::Commands => {
            let cmds = tpm.commands()?;
            if a.json {
                let list: Vec<_> = cmds
                    .iter()
                    .map(|c| {
                        let code = tpm2_wire::client::command_code(*c);
                        json!({
                            "command": CommandCode(code).name(),
                            "code": format!("0x{code:08x}"),
                            "attributes": format!("0x{:08x}", c.bits()),
                        })
                    })
                    .collect();
                println!("{}", json!({ "capability": "commands", "commands": list }));
            } else {
                for c in cmds {
                    println!(
                        "{}: {:?}",
                        CommandCode(tpm2_wire::client::command_code(c)),
                        c
                    );
                }
            }
            Ok(())
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Session files

pub fn load_session(tpm: &Tpm, path: &Path) -> Result<Session, Box<dyn std::error::Error>> {
    Ok(tpm.load_session_file(path)?)
}

/// Saves a session back to its file. A session whose file already carried a bind auth
/// value (written with the explicit opt-in) is saved the same way: nothing new is disclosed.
///
/// A desynchronized session (a response it took part in was lost or failed verification) is
/// not saved: it is flushed and its file removed. The file's context was spent when the
/// session was loaded, and writing the session back would hand the next user a session whose
/// HMACs the TPM rejects, each rejection a dictionary-attack count.
pub fn save_session(session: Session, path: &Path) -> CliResult {
    if session.state().is_desynchronized() {
        let handle = session.handle();
        let flushed = session.flush();
        let removed = match std::fs::remove_file(path) {
            Ok(()) => format!("{} was removed", path.display()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                format!("{} is gone", path.display())
            }
            Err(e) => format!("{} could not be removed ({e})", path.display()),
        };
        let ended = match flushed {
            Ok(()) => "it was flushed".to_string(),
            Err(e) => format!(
                "flushing it failed too ({e}); `tpm2-wire session flush --handle 0x{:08x}` ends \
                 it once the TPM answers",
                handle.0
            ),
        };
        return Err(format!(
            "session 0x{:08x} could not be trusted after that failure (its response was lost, \
             malformed or unverified, so the TPM may have moved past its nonces): {ended}, and \
             {removed}; start a new session",
            handle.0
        )
        .into());
    }
    if session.embeds_bind_auth() {
        session.save_to_file_with_bind_auth(path)?;
    } else {
        session.save_to_file(path)?;
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// session start

#[derive(Clone, Copy, ValueEnum)]
pub enum HashName {
    Sha1,
    Sha256,
    Sha384,
    Sha512,
}

impl HashName {
    fn alg(self) -> HashAlg {
        match self {
            HashName::Sha1 => HashAlg::Sha1,
            HashName::Sha256 => HashAlg::Sha256,
            HashName::Sha384 => HashAlg::Sha384,
            HashName::Sha512 => HashAlg::Sha512,
        }
    }
}

#[derive(Clone, Copy, ValueEnum)]
pub enum SymName {
    /// tpm2-tools' spelling: AES-128 in CFB mode.
    Aes,
    Aes128cfb,
    Aes192cfb,
    Aes256cfb,
    Xor,
    Null,
}

impl SymName {
    fn symmetric(self, hash: HashAlg) -> Symmetric {
        match self {
            SymName::Aes | SymName::Aes128cfb => Symmetric::AesCfb(128),
            SymName::Aes192cfb => Symmetric::AesCfb(192),
            SymName::Aes256cfb => Symmetric::AesCfb(256),
            SymName::Xor => Symmetric::Xor(hash),
            SymName::Null => Symmetric::Null,
        }
    }
}

#[derive(Args)]
pub struct StartArgs {
    /// Start a policy session (default: trial).
    #[arg(long, conflicts_with_all = ["hmac_session", "audit_session"])]
    policy_session: bool,
    /// Start an HMAC session (default: trial).
    #[arg(long)]
    hmac_session: bool,
    /// Start an HMAC session with the audit attribute (default: trial).
    #[arg(long)]
    audit_session: bool,
    /// The session's hash algorithm.
    #[arg(
        short = 'g',
        long = "hash-algorithm",
        value_enum,
        default_value = "sha256"
    )]
    hash: HashName,
    /// Parameter encryption: aes (tpm2-tools' name) or aes128cfb, the default when salted,
    /// bound or --hmac-session; aes192cfb, aes256cfb, xor, or null (the default otherwise).
    #[arg(short = 'G', long = "key-algorithm", value_enum)]
    key_algorithm: Option<SymName>,
    /// Salt with and bind to this object (context file or handle); turns on command and
    /// response parameter encryption.
    #[arg(short = 'c', long = "key-context", conflicts_with_all = ["bind_context", "tpmkey_context"])]
    key_context: Option<String>,
    /// Bind to this object (context file or handle).
    #[arg(long)]
    bind_context: Option<String>,
    /// Auth value of the bind object (str:, hex:, file:, file:- or plain text).
    #[arg(long)]
    bind_auth: Option<String>,
    /// Salt with this object (context file or handle), or `ek`: the TPM's endorsement key,
    /// accepted only if its certificate chains to --ek-ca and it is the certified key.
    #[arg(long)]
    tpmkey_context: Option<String>,
    /// CA bundle (PEM or DER; repeat for more files) the EK certificate must chain to.
    #[arg(long = "ek-ca")]
    ek_ca: Vec<PathBuf>,
    /// The EK's algorithm, with --tpmkey-context ek.
    #[arg(long = "ek-alg", value_parser = ["rsa", "ecc"], default_value = "rsa")]
    ek_alg: String,
    /// Name file (raw name bytes, as `tpm2_readpublic -n` writes) the salt key must match.
    #[arg(short = 'n', long = "name")]
    name: Option<PathBuf>,
    /// The session file to write.
    #[arg(short = 'S', long = "session", required = true)]
    session: PathBuf,
    /// Write a session bound to an object with a non-empty auth value even though the
    /// tpm2-tools format then carries that auth value in clear (readable by anyone who can
    /// read the file).
    #[arg(long)]
    allow_bind_auth_in_file: bool,
}

fn read_name_file(path: &Path) -> Result<Name, Box<dyn std::error::Error>> {
    let bytes = files::read_bounded(path, "name file", tpm2_wire::wire::MAX_NAME_SIZE)?;
    Ok(Name::new(&bytes).map_err(|e| format!("{}: {e}", path.display()))?)
}

/// The TPM's EK, verified against the --ek-ca bundle (see `tpm2_wire::ek`).
fn verified_ek(tpm: &Tpm, a: &StartArgs) -> Result<VerifiedEk, Box<dyn std::error::Error>> {
    if a.name.is_some() {
        return Err(
            "-n/--name does not apply to --tpmkey-context ek: its certificate names it".into(),
        );
    }
    let paths: Vec<&Path> = a.ek_ca.iter().map(PathBuf::as_path).collect();
    let alg = if a.ek_alg == "ecc" {
        EkAlg::Ecc
    } else {
        EkAlg::Rsa
    };
    Ok(VerifiedEk::create(
        tpm,
        alg,
        &CaBundle::from_files(&paths)?,
    )?)
}

pub fn start(tcti: Option<&str>, a: StartArgs) -> CliResult {
    let bind_auth = match &a.bind_auth {
        Some(s) => {
            if a.bind_context.is_none() && a.key_context.is_none() {
                return Err("--bind-auth needs --bind-context or -c".into());
            }
            parse_password(s)?
        }
        None => Auth::empty(),
    };
    if bind_auth.as_bytes().iter().any(|&b| b != 0) && !a.allow_bind_auth_in_file {
        return Err(
            "refusing to bind to an object with a non-empty auth value: the tpm2-tools session \
             file would carry that auth value in clear; use a salted session (--tpmkey-context) \
             instead, or pass --allow-bind-auth-in-file to accept the disclosure"
                .into(),
        );
    }
    if a.name.is_some() && a.key_context.is_none() && a.tpmkey_context.is_none() {
        return Err(
            "-n/--name verifies the object of -c or --tpmkey-context; neither was given".into(),
        );
    }
    let salt_to_ek = a.tpmkey_context.as_deref() == Some("ek");
    if salt_to_ek == a.ek_ca.is_empty() {
        return Err(
            "--tpmkey-context ek and --ek-ca FILE (the CA bundle the EK certificate must chain \
             to) go together"
                .into(),
        );
    }
    let mut spec = StartSpec {
        kind: if a.policy_session {
            SessionKind::Policy
        } else if a.audit_session && a.hmac_session {
            SessionKind::HmacAudit
        } else if a.audit_session {
            SessionKind::Audit
        } else if a.hmac_session {
            SessionKind::Hmac
        } else {
            SessionKind::Trial
        },
        hash: Some(a.hash.alg()),
        symmetric: a.key_algorithm.map(|s| s.symmetric(a.hash.alg())),
        key: a.key_context.as_deref().map(ObjectRef::parse),
        bind: a.bind_context.as_deref().map(ObjectRef::parse),
        bind_auth,
        salt: a
            .tpmkey_context
            .as_deref()
            .filter(|_| !salt_to_ek)
            .map(ObjectRef::parse),
        salt_key: None,
        expected_salt_name: a.name.as_deref().map(read_name_file).transpose()?,
    };
    let tpm = open_tpm(tcti)?;
    // Held until the session has started: the verified EK is flushed when it drops.
    let ek = salt_to_ek.then(|| verified_ek(&tpm, &a)).transpose()?;
    if let Some(ek) = &ek {
        spec.salt_key = Some(SaltKey::from_verified_ek(ek)?);
    }
    let session = match spec.start(&tpm) {
        Ok(s) => s,
        Err(tpm2_wire::Error::NameMismatch {
            expected, actual, ..
        }) if a.name.is_some() => {
            let object = a.key_context.as_ref().or(a.tpmkey_context.as_ref());
            return Err(format!(
                "{}: the object's name {} does not match the name file {}; refusing to salt a \
                 session with it",
                object.map_or("", String::as_str),
                hex(actual.as_bytes()),
                hex(expected.as_bytes())
            )
            .into());
        }
        Err(e) => return Err(e.into()),
    };
    if session.embeds_bind_auth() {
        session.save_to_file_with_bind_auth(&a.session)?;
    } else {
        session.save_to_file(&a.session)?;
    }
    warn_registry(&tpm);
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// session config

#[derive(Args)]
pub struct ConfigArgs {
    /// The session file.
    file: PathBuf,
    #[arg(long)]
    enable_continuesession: bool,
    #[arg(long, conflicts_with = "enable_continuesession")]
    disable_continuesession: bool,
    #[arg(long)]
    enable_decrypt: bool,
    #[arg(long, conflicts_with = "enable_decrypt")]
    disable_decrypt: bool,
    #[arg(long)]
    enable_encrypt: bool,
    #[arg(long, conflicts_with = "enable_encrypt")]
    disable_encrypt: bool,
    #[arg(long)]
    enable_audit: bool,
    #[arg(long, conflicts_with = "enable_audit")]
    disable_audit: bool,
    #[arg(long)]
    enable_auditexclusive: bool,
    #[arg(long, conflicts_with = "enable_auditexclusive")]
    disable_auditexclusive: bool,
    #[arg(long)]
    enable_auditreset: bool,
    #[arg(long, conflicts_with = "enable_auditreset")]
    disable_auditreset: bool,
}

const ATTRIBUTE_NAMES: [(u8, &str); 6] = [
    (SessionAttributes::CONTINUE_SESSION, "continuesession"),
    (SessionAttributes::AUDIT_EXCLUSIVE, "auditexclusive"),
    (SessionAttributes::AUDIT_RESET, "auditreset"),
    (SessionAttributes::DECRYPT, "decrypt"),
    (SessionAttributes::ENCRYPT, "encrypt"),
    (SessionAttributes::AUDIT, "audit"),
];

fn attribute_list(a: SessionAttributes) -> String {
    let names: Vec<&str> = ATTRIBUTE_NAMES
        .iter()
        .filter(|(bit, _)| a.contains(*bit))
        .map(|(_, n)| *n)
        .collect();
    if names.is_empty() {
        "none".into()
    } else {
        names.join("|")
    }
}

pub fn config(a: ConfigArgs) -> CliResult {
    let mut file = files::read_session_file(&a.file)?;
    let changes = [
        (
            SessionAttributes::CONTINUE_SESSION,
            a.enable_continuesession,
            a.disable_continuesession,
        ),
        (
            SessionAttributes::DECRYPT,
            a.enable_decrypt,
            a.disable_decrypt,
        ),
        (
            SessionAttributes::ENCRYPT,
            a.enable_encrypt,
            a.disable_encrypt,
        ),
        (SessionAttributes::AUDIT, a.enable_audit, a.disable_audit),
        (
            SessionAttributes::AUDIT_EXCLUSIVE,
            a.enable_auditexclusive,
            a.disable_auditexclusive,
        ),
        (
            SessionAttributes::AUDIT_RESET,
            a.enable_auditreset,
            a.disable_auditreset,
        ),
    ];
    let files::EsysResource::Session {
        handle, session, ..
    } = &mut file.context.resource
    else {
        return Err("not a session file".into());
    };
    let handle = *handle;
    let mut attrs = session.attributes;
    let mut changed = false;
    for (bit, on, off) in changes {
        if on {
            attrs = attrs.with(bit, true);
            changed = true;
        }
        if off {
            attrs = attrs.with(bit, false);
            changed = true;
        }
    }
    if changed {
        session.attributes = attrs;
        files::write_session_file(&a.file, &file)?;
    }
    println!("Session-Handle: 0x{:08x}", handle.0);
    println!("Session-Type: {}", session_type_name(file.session_type));
    let hash = HashAlg::from_alg_id(file.auth_hash)
        .map(HashAlg::name)
        .unwrap_or("unknown");
    println!("Session-Hash: {hash}");
    println!("Session-Attributes: {}", attribute_list(attrs));
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// policy

#[derive(Args)]
pub struct PolicyOut {
    /// The policy or trial session file (saved back after use).
    #[arg(short = 'S', long = "session", required = true)]
    session: PathBuf,
    /// Also write the new policy digest (raw bytes) to this file.
    #[arg(short = 'L', long = "policy")]
    policy: Option<PathBuf>,
}

#[derive(Subcommand)]
pub enum PolicyCommand {
    /// TPM2_PolicyPassword (tpm2_policypassword).
    Password(PolicyOut),
    /// TPM2_PolicyAuthValue (tpm2_policyauthvalue).
    Authvalue(PolicyOut),
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

fn parse_command_code(s: &str) -> Result<CommandCode, Box<dyn std::error::Error>> {
    if let ObjectRef::Handle(h) = ObjectRef::parse(s) {
        // 0x-prefixed hex, as tpm2-tools takes numbers.
        return Ok(CommandCode(h.0));
    }
    if !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) {
        return Ok(CommandCode(s.parse()?));
    }
    // tpm2-tools spells names TPM2_CC_X; the specification TPM_CC_X.
    let wanted = s.replacen("TPM2_CC_", "TPM_CC_", 1);
    (0x11Fu32..=0x1FF)
        .map(CommandCode)
        .find(|c| c.name().is_some_and(|n| n.eq_ignore_ascii_case(&wanted)))
        .ok_or_else(|| format!("unknown command code {s:?}").into())
}

fn write_raw(path: &Path, bytes: &[u8]) -> CliResult {
    files::write_atomic(path, bytes)?;
    Ok(())
}

fn pcr_selection(spec: &str) -> Result<PcrSelectionList, Box<dyn std::error::Error>> {
    let parsed = parse_pcr_selection(spec)?;
    let mut banks = Vec::new();
    for b in &parsed.banks {
        let pcrs: Vec<u8> = b.indices().map(|i| i as u8).collect();
        banks.push(PcrSelection::new(b.hash, &pcrs)?);
    }
    Ok(PcrSelectionList::new(banks)?)
}

/// The PCR digest for PolicyPCR from a file of raw PCR values: the session hash over them.
fn pcr_digest_from_file(
    path: &Path,
    selection: &PcrSelectionList,
    hash: HashAlg,
) -> Result<Digest, Box<dyn std::error::Error>> {
    let mut expected = 0usize;
    for bank in selection.iter() {
        let h = HashAlg::from_alg_id(bank.hash)?;
        expected += h.digest_size() * bank.select.pcrs().count();
    }
    // Exactly the selection's size: a larger file (or an endless device) is refused unread.
    let values = files::read_bounded(path, "PCR values file", expected)?;
    if values.len() != expected {
        return Err(format!(
            "{}: {} bytes, but the selection's PCR values take {expected}",
            path.display(),
            values.len()
        )
        .into());
    }
    Ok(crypto::hash(hash, &[&values]))
}

pub fn policy(tcti: Option<&str>, p: PolicyCommand) -> CliResult {
    let tpm = open_tpm(tcti)?;
    let (path, out_file) = match &p {
        PolicyCommand::Password(o) | PolicyCommand::Authvalue(o) => (&o.session, &o.policy),
        PolicyCommand::Pcr { out, .. } | PolicyCommand::Commandcode { out, .. } => {
            (&out.session, &out.policy)
        }
        PolicyCommand::Digest { session, output } => (session, output),
    };
    // Parse everything before the session is loaded, so a typo costs nothing.
    let code = match &p {
        PolicyCommand::Commandcode { code, .. } => Some(parse_command_code(code)?),
        _ => None,
    };
    let pcr = match &p {
        PolicyCommand::Pcr { pcr_list, .. } => Some(pcr_selection(pcr_list)?),
        _ => None,
    };
    let mut session = load_session(&tpm, path)?;
    let outcome = (|| -> Result<Digest, Box<dyn std::error::Error>> {
        if !session.state().is_policy() {
            return Err(format!(
                "{}: an HMAC session cannot take policy commands",
                path.display()
            )
            .into());
        }
        match &p {
            PolicyCommand::Password(_) => session.policy_password()?,
            PolicyCommand::Authvalue(_) => session.policy_auth_value()?,
            PolicyCommand::Commandcode { .. } => {
                if let Some(c) = code {
                    session.policy_command_code(c)?
                }
            }
            PolicyCommand::Pcr { pcr_file, .. } => {
                if let Some(sel) = &pcr {
                    let digest = match pcr_file {
                        Some(f) => pcr_digest_from_file(f, sel, session.state().hash())?,
                        None => Digest::empty(),
                    };
                    session.policy_pcr(sel, &digest)?
                }
            }
            PolicyCommand::Digest { .. } => {}
        }
        Ok(session.policy_digest()?)
    })();
    // Save back whatever happened, so the file stays usable (by us or tpm2-tools).
    let saved = save_session(session, path);
    let digest = outcome?;
    saved?;
    if let Some(f) = out_file {
        write_raw(f, digest.as_bytes())?;
    }
    println!("{}", hex(digest.as_bytes()));
    warn_registry(&tpm);
    Ok(())
}
