//! A session handed from us to tpm2-tools and back.
//!
//! 1. We start a policy session and an audit session, extend the policy, and save both as
//!    tpm2-tools session files (the sessions stay in the TPM, context-saved).
//! 2. tpm2-tools continue them: `tpm2_policypassword -S` and `tpm2_getrandom -S`.
//! 3. A new connection of ours loads them, checks the policy digest against an offline
//!    calculation, uses the audit session, and flushes both.
//!
//! Usage: `session_handoff [-T|--tcti TCTI]`. Without a TCTI a private swtpm is spawned.
//! Exits non-zero if any step fails.

use std::error::Error;
use std::path::Path;
use std::process::Command;

use tpm2_wire::client::{Session, SessionOptions};
use tpm2_wire::command::GetRandom;
use tpm2_wire::crypto::HashAlg;
use tpm2_wire::session::policy::PolicyCalculator;
use tpm2_wire::wire::CommandCode;
use tpm2_wire::Tpm;

fn tcti_from_args() -> Result<Option<String>, Box<dyn Error>> {
    let mut args = std::env::args().skip(1);
    let mut tcti = None;
    while let Some(a) = args.next() {
        match a.as_str() {
            "-T" | "--tcti" => tcti = Some(args.next().ok_or("-T needs a TCTI string")?),
            _ if a.starts_with("--tcti=") => tcti = Some(a["--tcti=".len()..].to_string()),
            "-h" | "--help" => {
                println!("usage: session_handoff [-T|--tcti TCTI]");
                std::process::exit(0);
            }
            other => return Err(format!("unknown argument {other:?}").into()),
        }
    }
    Ok(tcti)
}

fn tool(tcti: &str, args: &[&str]) -> Result<String, Box<dyn Error>> {
    println!("   $ {}", args.join(" "));
    let out = Command::new(args[0])
        .args(&args[1..])
        .env("TPM2TOOLS_TCTI", tcti)
        .output()
        .map_err(|e| format!("{}: {e} (is tpm2-tools installed?)", args[0]))?;
    if !out.status.success() {
        return Err(format!(
            "{} failed: {}",
            args[0],
            String::from_utf8_lossy(&out.stderr).trim()
        )
        .into());
    }
    Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
}

fn path_str(p: &Path) -> Result<&str, Box<dyn Error>> {
    p.to_str().ok_or_else(|| "non-UTF-8 temp path".into())
}

fn main() -> Result<(), Box<dyn Error>> {
    let given = tcti_from_args()?;
    #[cfg(feature = "sim")]
    let _sim;
    let tcti = match given {
        Some(t) => t,
        #[cfg(feature = "sim")]
        None => {
            let sim = tpm2_wire::sim::Swtpm::spawn_unix()?;
            let t = sim.tcti();
            println!("spawned a private swtpm: {t}");
            _sim = sim;
            t
        }
        #[cfg(not(feature = "sim"))]
        None => return Err("give a TCTI with -T (built without the swtpm fixture)".into()),
    };
    let dir = tempfile::tempdir()?;
    run(
        &tcti,
        &dir.path().join("policy.ctx"),
        &dir.path().join("audit.ctx"),
    )
}

fn run(tcti: &str, policy_file: &Path, audit_file: &Path) -> Result<(), Box<dyn Error>> {
    println!("1. we start, extend and save two sessions");
    {
        let tpm = Tpm::open(Some(tcti))?;
        let mut policy = Session::start(&tpm, &SessionOptions::policy())?;
        policy.policy_command_code(CommandCode::NV_READ)?;
        println!(
            "   policy session {} after PolicyCommandCode(NV_Read)",
            policy.handle()
        );
        policy.save_to_file(policy_file)?;
        let mut audit = Session::start(&tpm, &SessionOptions::audit())?;
        tpm.execute(&GetRandom { bytes_requested: 8 }, &mut [audit.extra()])?;
        println!("   audit session {} used once", audit.handle());
        audit.save_to_file(audit_file)?;
        println!(
            "   saved to {} and {}",
            policy_file.display(),
            audit_file.display()
        );
    }

    println!("2. tpm2-tools continue them");
    tool(tcti, &["tpm2_policypassword", "-S", path_str(policy_file)?])?;
    let random = tool(
        tcti,
        &["tpm2_getrandom", "-S", path_str(audit_file)?, "8", "--hex"],
    )?;
    println!("   tpm2_getrandom (audited by our session): {random}");

    println!("3. a new connection of ours finishes them");
    let tpm = Tpm::open(Some(tcti))?;
    let mut policy = tpm.load_session_file(policy_file)?;
    let digest = policy.policy_digest()?;
    let expected = PolicyCalculator::new(HashAlg::Sha256)
        .policy_command_code(CommandCode::NV_READ)
        .policy_password()
        .digest()
        .clone();
    println!("   PolicyGetDigest: {}", hex(digest.as_bytes()));
    if digest != expected {
        return Err(format!("expected policy digest {}", hex(expected.as_bytes())).into());
    }
    println!("   = offline PolicyCommandCode(NV_Read) + PolicyPassword");
    let mut audit = tpm.load_session_file(audit_file)?;
    tpm.execute(&GetRandom { bytes_requested: 8 }, &mut [audit.extra()])?;
    println!("   audit session {} used again", audit.handle());
    let (p, a) = (policy.handle(), audit.handle());
    policy.flush()?;
    audit.flush()?;
    println!("   flushed {p} and {a}: done");
    Ok(())
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}
