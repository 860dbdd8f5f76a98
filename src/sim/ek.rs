//! A swtpm with EK certificates, as a manufacturer would ship it: `swtpm_setup` creates the
//! EKs, a private CA (root and intermediate, made by `swtpm_localca`) signs their
//! certificates, and the certificates go to NV. Everything lives in a directory of the
//! caller's (or the fixture's state directory): the system's CA configuration is never read.
//!
//! What [`manufacture`] leaves behind: an RSA-2048 EK (template L-1) persisted at 0x81010001
//! with its certificate at NV 0x01C00002, an ECC P-384 EK (template H-3) at 0x81010016 with
//! its certificate at 0x01C00016, a platform certificate at 0x01C08000, and the CA files
//! named by [`EkCa`] (RSA-3072 keys, sha256WithRSAEncryption signatures).

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use super::{io_error, make_state_dir, Listen, SimError, Swtpm};

/// The files of the private CA that signed a manufactured swtpm's EK certificates.
#[derive(Clone, Debug)]
pub struct EkCa {
    /// The CA's directory.
    pub dir: PathBuf,
    /// The self-signed root certificate (PEM).
    pub root_cert: PathBuf,
    /// The root's private key (PEM, PKCS#1, after a text dump of the key).
    pub root_key: PathBuf,
    /// The intermediate certificate that signed the EK certificates (PEM).
    pub intermediate_cert: PathBuf,
    /// The intermediate's private key (PEM, PKCS#1, after a text dump of the key).
    pub intermediate_key: PathBuf,
}

/// Runs `swtpm_setup` to manufacture a TPM 2.0 state with EK certificates in `dir`, with a
/// private CA in `dir/ca` (created on first use, reused by later calls on the same `dir`).
pub fn manufacture(dir: &Path) -> Result<EkCa, SimError> {
    let ca_dir = dir.join("ca");
    std::fs::create_dir_all(&ca_dir).map_err(io_error(format!("creating {}", ca_dir.display())))?;
    let write = |name: &str, text: String| -> Result<PathBuf, SimError> {
        let path = dir.join(name);
        std::fs::write(&path, text).map_err(io_error(format!("writing {}", path.display())))?;
        Ok(path)
    };
    let ca = ca_dir.display();
    let localca_conf = write(
        "localca.conf",
        format!(
            "statedir = {ca}\nsigningkey = {ca}/signkey.pem\nissuercert = {ca}/issuercert.pem\n\
             certserial = {ca}/certserial\n"
        ),
    )?;
    let localca_options = write(
        "localca.options",
        "--platform-manufacturer tpm2-wire\n--platform-version 2.1\n--platform-model swtpm\n"
            .into(),
    )?;
    let setup_conf = write(
        "setup.conf",
        format!(
            "create_certs_tool = swtpm_localca\ncreate_certs_tool_config = {}\n\
             create_certs_tool_options = {}\nactive_pcr_banks = sha256\n",
            localca_conf.display(),
            localca_options.display()
        ),
    )?;
    let output = Command::new("swtpm_setup")
        .arg("--tpm2")
        .arg("--tpmstate")
        .arg(dir)
        .args(["--create-ek-cert", "--create-platform-cert", "--overwrite"])
        .arg("--config")
        .arg(&setup_conf)
        .stdin(Stdio::null())
        .output()
        .map_err(io_error(
            "running swtpm_setup (install the Debian package swtpm-tools)",
        ))?;
    if !output.status.success() {
        return Err(SimError::Startup {
            reason: format!("swtpm_setup failed ({})", output.status),
            log: format!(
                "{}{}",
                String::from_utf8_lossy(&output.stdout),
                String::from_utf8_lossy(&output.stderr)
            ),
        });
    }
    let ca = EkCa {
        root_cert: ca_dir.join("swtpm-localca-rootca-cert.pem"),
        root_key: ca_dir.join("swtpm-localca-rootca-privkey.pem"),
        intermediate_cert: ca_dir.join("issuercert.pem"),
        intermediate_key: ca_dir.join("signkey.pem"),
        dir: ca_dir,
    };
    for file in [&ca.root_cert, &ca.intermediate_cert] {
        if !file.is_file() {
            return Err(SimError::Startup {
                reason: format!("swtpm_setup did not create {}", file.display()),
                log: String::from_utf8_lossy(&output.stdout).into_owned(),
            });
        }
    }
    Ok(ca)
}

impl Swtpm {
    /// Manufactures a TPM with EK certificates ([`manufacture`]) in a fresh state directory
    /// and starts swtpm on it, on Unix sockets. The CA files live in the state directory and
    /// go away with the simulator.
    pub fn spawn_with_ek_certs() -> Result<(Swtpm, EkCa), SimError> {
        let state_dir = make_state_dir()?;
        let mut sim = Swtpm {
            child: None,
            listen: Listen::Unix {
                socket: state_dir.join("swtpm.sock"),
            },
            state_dir,
        };
        // Dropping `sim` on an error removes the state directory.
        let ca = manufacture(&sim.state_dir)?;
        sim.start()?;
        Ok((sim, ca))
    }
}
