//! Seals a secret in the TPM and unseals it again, with the secret encrypted on the bus both
//! ways.
//!
//! ```text
//! cargo run --example sealed_secret -- --secret hi
//! cargo run --example sealed_secret -- -T swtpm:host=127.0.0.1,port=2321 --secret hi
//! ```
//!
//! The TPM is the one `-T/--tcti` names, else the one `TPM2TOOLS_TCTI` names, else a private
//! swtpm this example starts (and stops). The owner hierarchy's password must be empty.
//!
//! Steps: an RSA-2048 storage primary with a random auth value; an HMAC session salted with
//! that primary and bound to it, with AES-128-CFB parameter encryption; TPM2_Create of a
//! sealed-data object holding the secret (the session's decrypt attribute encrypts the
//! sensitive area on its way in); TPM2_Load; TPM2_Unseal (the encrypt attribute protects the
//! secret on its way out). Everything created is flushed, also on errors. The last line
//! printed is `unsealed: <secret>`.

mod common;

use std::process::ExitCode;

use common::{connect, exit_code, AnyResult, Args, Transient};
use tpm2_wire::client::{object_name, SaltKey, Session, SessionOptions};
use tpm2_wire::command::{Create, Entity, Load, Unseal};
use tpm2_wire::crypto;
use tpm2_wire::session::engine::SessionSlot;
use tpm2_wire::wire::{
    AlgId, Auth, Data, PcrSelectionList, Public, SensitiveCreate, SensitiveData, SessionAttributes,
    Tpm2bPublic, Tpm2bSensitiveCreate, MAX_SYM_DATA,
};

const USAGE: &str = "usage: sealed_secret [-T|--tcti TCTI] --secret TEXT

Seals TEXT (1 to 128 bytes) under a new RSA-2048 primary and unseals it, through a salted,
bound HMAC session with parameter encryption. Without -T, uses TPM2TOOLS_TCTI if set, else
starts a private swtpm.";

/// A random 16-byte auth value. The last byte is forced non-zero because the TPM drops
/// trailing zeros from auth values.
fn random_auth() -> AnyResult<Auth> {
    let mut bytes = [0u8; 16];
    crypto::random(&mut bytes)?;
    bytes[15] |= 1;
    Ok(Auth::new(&bytes)?)
}

fn run() -> AnyResult<()> {
    let Some(mut args) = Args::or_help(USAGE) else {
        return Ok(());
    };
    let tcti = args.tcti()?;
    let secret = args
        .value(&["--secret"])?
        .ok_or("--secret TEXT is required (try --help)")?;
    args.finish()?;
    if secret.is_empty() {
        return Err("--secret must not be empty".into());
    }
    let data = SensitiveData::new(secret.as_bytes()).map_err(|_| {
        format!(
            "--secret is {} bytes; a sealed-data object holds at most {MAX_SYM_DATA}",
            secret.len()
        )
    })?;

    let conn = connect(tcti.as_deref())?;
    let tpm = &conn.tpm;
    match &conn.swtpm {
        Some(_) => println!("TPM: a private swtpm ({})", tpm.describe()),
        None => println!("TPM: {}", tpm.describe()),
    }

    let primary_auth = random_auth()?;
    // Under the owner hierarchy, whose auth value is empty on a fresh TPM.
    let owner = Auth::empty();
    let (primary, public) = tpm.create_primary(
        &Entity::owner(),
        SessionSlot::Password(&owner),
        Public::rsa_2048_storage_parent(),
        &primary_auth,
    )?;
    let primary = Transient::new(tpm, primary);
    println!(
        "created an RSA-2048 storage primary at {}",
        primary.handle()
    );

    let salt = SaltKey::from_public(primary.entity.clone(), &public)?;
    let mut session = Session::start(
        tpm,
        &SessionOptions::hmac()
            .salted(salt)
            .bound(primary.entity.clone(), primary_auth.clone())
            .encrypt(true, true),
    )?;
    println!(
        "started HMAC session {} salted with and bound to the primary (AES-128-CFB both ways)",
        session.handle()
    );

    let seal_auth = random_auth()?;
    let created = tpm.execute(
        &Create {
            parent_handle: primary.entity.clone(),
            in_sensitive: Tpm2bSensitiveCreate(SensitiveCreate {
                user_auth: seal_auth.clone(),
                data,
            }),
            in_public: Tpm2bPublic(Public::sealed_data(AlgId::SHA256)),
            outside_info: Data::empty(),
            creation_pcr: PcrSelectionList::default(),
        },
        &mut [session.auth(&primary_auth)],
    )?;
    println!(
        "created a sealed-data object holding {} bytes (sent encrypted)",
        secret.len()
    );

    let loaded = tpm.execute(
        &Load {
            parent_handle: primary.entity.clone(),
            in_private: created.out_private,
            in_public: created.out_public.clone(),
        },
        &mut [session.auth(&primary_auth)],
    )?;
    let name = object_name(&created.out_public.0)?;
    if name != loaded.name {
        return Err("the loaded object's name is not the hash of its public area".into());
    }
    let sealed = Transient::new(tpm, Entity::new(loaded.object_handle, name));
    println!("loaded it at {}", sealed.handle());

    // Unseal has no command parameter to encrypt: keep only response encryption.
    session.set_attributes(SessionAttributes(
        SessionAttributes::CONTINUE_SESSION | SessionAttributes::ENCRYPT,
    ));
    let unsealed = tpm.execute(
        &Unseal {
            item_handle: sealed.entity.clone(),
        },
        &mut [session.auth(&seal_auth)],
    )?;
    println!("unsealed it through the session (received encrypted)");

    sealed.flush()?;
    session.flush()?;
    primary.flush()?;
    println!("flushed the sealed object, the session and the primary");

    let text = String::from_utf8_lossy(unsealed.out_data.as_bytes()).into_owned();
    if text != secret {
        return Err("the unsealed data differs from the secret that was sealed".into());
    }
    println!("unsealed: {text}");
    Ok(())
}

fn main() -> ExitCode {
    exit_code(run())
}
