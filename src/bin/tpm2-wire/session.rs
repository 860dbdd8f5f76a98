//! Subcommands on one session file: `session start` (tpm2_startauthsession) and `session config`
//! (tpm2_sessionconfig).

use std::path::{Path, PathBuf};

use clap::{Args, ValueEnum};

use tpm2_wire::auth::parse_password;
use tpm2_wire::client::{ObjectRef, SaltKey, SessionKind, StartSpec};
use tpm2_wire::crypto::HashAlg;
use tpm2_wire::ek::{CaBundle, EkAlg, VerifiedEk};
use tpm2_wire::files;
use tpm2_wire::session::Symmetric;
use tpm2_wire::wire::{Auth, SessionAttributes as A};
use tpm2_wire::Tpm;

use crate::tools::{hex, open_tpm, warn_registry};
use crate::CliResult;

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
        kind: match (a.policy_session, a.hmac_session, a.audit_session) {
            (true, _, _) => SessionKind::Policy,
            (_, true, true) => SessionKind::HmacAudit,
            (_, false, true) => SessionKind::Audit,
            (_, true, false) => SessionKind::Hmac,
            _ => SessionKind::Trial,
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
        expected_salt_name: a.name.as_deref().map(files::read_name_file).transpose()?,
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
    // Checked above: a bind auth value goes into the file only with the explicit opt-in.
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

/// The attributes as `tpm2_sessionconfig` names them, in its order.
fn attribute_list(attrs: A) -> String {
    let names: Vec<&str> = [
        (A::CONTINUE_SESSION, "continuesession"),
        (A::AUDIT_EXCLUSIVE, "auditexclusive"),
        (A::AUDIT_RESET, "auditreset"),
        (A::DECRYPT, "decrypt"),
        (A::ENCRYPT, "encrypt"),
        (A::AUDIT, "audit"),
    ]
    .into_iter()
    .filter(|(bit, _)| attrs.contains(*bit))
    .map(|(_, n)| n)
    .collect();
    if names.is_empty() {
        "none".into()
    } else {
        names.join("|")
    }
}

pub fn config(a: ConfigArgs) -> CliResult {
    let (mut set, mut clear) = (0, 0);
    for (bit, on, off) in [
        (
            A::CONTINUE_SESSION,
            a.enable_continuesession,
            a.disable_continuesession,
        ),
        (A::DECRYPT, a.enable_decrypt, a.disable_decrypt),
        (A::ENCRYPT, a.enable_encrypt, a.disable_encrypt),
        (A::AUDIT, a.enable_audit, a.disable_audit),
        (
            A::AUDIT_EXCLUSIVE,
            a.enable_auditexclusive,
            a.disable_auditexclusive,
        ),
        (A::AUDIT_RESET, a.enable_auditreset, a.disable_auditreset),
    ] {
        set |= if on { bit } else { 0 };
        clear |= if off { bit } else { 0 };
    }
    let file = files::configure_session_file(&a.file, A(set), A(clear))?;
    let handle = file.handle().map_or(0, |h| h.0);
    let hash = HashAlg::from_alg_id(file.auth_hash).map_or("unknown", HashAlg::name);
    println!("Session-Handle: 0x{handle:08x}");
    println!("Session-Type: {}", file.session_type.label());
    println!("Session-Hash: {hash}");
    let attrs = file.session().map_or(A(0), |s| s.attributes);
    println!("Session-Attributes: {}", attribute_list(attrs));
    Ok(())
}
