//! The `tpm2-wire` command line: argument parsing and printing only; the work is done by the
//! library.

mod eventlog;
mod eventlog_ima;
mod eventlog_yaml;
mod manage;
mod policy;
mod session;
mod tools;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(
    name = "tpm2-wire",
    version,
    about = "Talk to a TPM 2.0: sessions, stewardship, tpm2-tools files"
)]
struct Cli {
    /// The TPM to use, as a TCTI string (device:/dev/tpmrm0, swtpm:host=H,port=P,
    /// mssim:host=H,port=P, cmd:COMMAND). Defaults to $TPM2TOOLS_TCTI, then a probe.
    #[arg(short = 'T', long = "tcti", global = true)]
    tcti: Option<String>,

    /// Show each TPM command (code, handles, sessions, response code, duration), transport
    /// connections and session stewardship decisions on standard error; twice for more.
    /// Never shows a secret.
    #[arg(short = 'v', long = "verbose", action = clap::ArgAction::Count, global = true)]
    verbose: u8,

    /// How long one TPM command may take before it fails, in seconds (1 to 86400). Overrides
    /// a `timeout=` in the TCTI. Default: 300, long enough for RSA key generation on slow
    /// hardware TPMs. Only before the subcommand: after it, `--timeout` is the policy tools'
    /// timeout file, as in tpm2-tools.
    #[arg(long, value_name = "SECONDS",
          value_parser = clap::value_parser!(u64).range(1..=tpm2_wire::transport::MAX_TIMEOUT_SECS))]
    timeout: Option<u64>,

    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Print random bytes from the TPM as lowercase hex.
    Random(tools::RandomArgs),
    /// Show TPM capabilities.
    Getcap(tools::GetcapArgs),
    /// Start, configure, show, flush and count TPM sessions.
    #[command(subcommand)]
    Session(SessionCommand),
    /// Extend a policy or trial session, or print its digest.
    #[command(subcommand)]
    Policy(policy::PolicyCommand),
    /// Print a TCG firmware event log, or with --ima the Linux IMA list, and the replayed PCRs;
    /// compare them with the TPM's.
    ///
    /// A firmware log prints as tpm2_eventlog's YAML (its default version 1) with the same
    /// bytes, so scripts written for it keep working; --json gives more (findings, secure boot).
    Eventlog(eventlog::EventlogArgs),
}

#[derive(Subcommand)]
enum SessionCommand {
    /// Start a session and save it to a file (tpm2_startauthsession).
    Start(session::StartArgs),
    /// Show or change a session file's attributes (tpm2_sessionconfig).
    Config(session::ConfigArgs),
    /// List the sessions on the TPM with their owners.
    Show(manage::ShowArgs),
    /// Flush leftover sessions.
    Flush(manage::FlushArgs),
    /// Maximum and available sessions, and how many are orphans.
    Status(manage::StatusArgs),
}

/// `--timeout`, applied to the transport by [`tools::open_tpm`] after opening it.
pub static TIMEOUT: std::sync::OnceLock<std::time::Duration> = std::sync::OnceLock::new();

fn main() -> ExitCode {
    let cli = Cli::parse();
    if cli.verbose > 0 {
        let level = if cli.verbose == 1 {
            tracing::Level::DEBUG
        } else {
            tracing::Level::TRACE
        };
        tracing_subscriber::fmt()
            .with_writer(std::io::stderr)
            .with_max_level(level)
            .with_target(false)
            .with_span_events(tracing_subscriber::fmt::format::FmtSpan::CLOSE)
            .init();
    }
    if let Some(secs) = cli.timeout {
        let _ = TIMEOUT.set(std::time::Duration::from_secs(secs));
    }
    let tcti = cli.tcti.as_deref();
    let result = match cli.command {
        Command::Random(a) => tools::random(tcti, a),
        Command::Getcap(a) => tools::getcap(tcti, a),
        Command::Policy(p) => policy::policy(tcti, p),
        Command::Eventlog(a) => eventlog::eventlog(tcti, a),
        Command::Session(SessionCommand::Start(a)) => session::start(tcti, a),
        Command::Session(SessionCommand::Config(a)) => session::config(a),
        Command::Session(SessionCommand::Show(a)) => manage::show(tcti, a),
        Command::Session(SessionCommand::Flush(a)) => manage::flush(tcti, a),
        Command::Session(SessionCommand::Status(a)) => manage::status(tcti, a),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            // One line: the error and its causes.
            let mut msg = e.to_string();
            let mut source = std::error::Error::source(&*e);
            while let Some(s) = source {
                let s_text = s.to_string();
                if !msg.contains(&s_text) {
                    msg.push_str(": ");
                    msg.push_str(&s_text);
                }
                source = s.source();
            }
            eprintln!("tpm2-wire: {msg}");
            ExitCode::FAILURE
        }
    }
}

/// What every subcommand returns.
pub type CliResult = Result<(), Box<dyn std::error::Error>>;
