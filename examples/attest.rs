//! Enrollment and a quote, checked on the host: the flow a remote-attestation agent runs.
//!
//! ```text
//! bash scripts/swtpm-ek.sh /tmp/ektpm 2321      # a swtpm with EK certificates, if needed
//! cargo run --example attest --features sim,ek -- \
//!     -T swtpm:host=127.0.0.1,port=2321 --ek-ca /tmp/ektpm/ca/bundle.pem \
//!     [--ek-alg rsa|ecc] [--pcrs sha256:0,1,2,7]
//! ```
//!
//! Steps, one line each:
//! 1. the EK certificate is read from NV and its chain verified up to the CA bundle (PEM or
//!    DER files, `--ek-ca` as often as needed), and the EK the TPM creates from the
//!    certificate's template must hold exactly the certified key;
//! 2. a session is salted to that EK, so what it encrypts is readable only by that TPM;
//! 3. an attestation key (restricted signing key) is created under the endorsement hierarchy;
//! 4. a credential (a random secret) is made on the host for the AK's name and encrypted to the
//!    EK, and the TPM activates it: only a TPM holding both keys can, so the AK is in the TPM
//!    the certificate vouches for;
//! 5. the TPM quotes the PCRs with a fresh nonce, under the salted session, and the quote is
//!    verified on the host with the AK's public key (signature, signer, nonce, PCR digest).
//!
//! The last line is `attestation verified`. Anything that does not verify ends the run with
//! one line saying which step failed and why, and a non-zero exit status. Here the expected
//! PCR values are read from the same TPM; a real verifier knows them from elsewhere (a golden
//! measurement, an event log it has replayed).

mod common;

use std::path::Path;
use std::process::ExitCode;

use subtle::ConstantTimeEq;
use tpm2_wire::attest::{verify_quote, AttestationKey, PcrValues};
use tpm2_wire::auth::parse_pcr_selection;
use tpm2_wire::client::{SaltKey, Session, SessionOptions};
use tpm2_wire::command::{Entity, Quote};
use tpm2_wire::crypto::{self, HashAlg};
use tpm2_wire::ek::{CaBundle, EkAlg, VerifiedEk};
use tpm2_wire::keys::{self, templates, Key, KeyAlg};
use tpm2_wire::session::engine::SessionSlot;
use tpm2_wire::wire::{Auth, Data, Handle, PcrSelectionList, SigScheme};
use tpm2_wire::Tpm;

use common::{AnyResult, Args};

const USAGE: &str = "usage: attest -T TCTI --ek-ca FILE [--ek-ca FILE ...] [--ek-alg rsa|ecc]
              [--pcrs SELECTION]

Verifies the TPM's EK certificate chain up to the CA files, salts a session to the verified
EK, creates an attestation key, makes and activates a credential for it, quotes the PCRs
(default sha256:0,1,2,7) with a fresh nonce and verifies the quote. The endorsement
hierarchy's auth value must be empty.";

/// One step's failure: which step, and why.
struct StepError(&'static str, Box<dyn std::error::Error>);

fn step<T, E: Into<Box<dyn std::error::Error>>>(
    name: &'static str,
    r: Result<T, E>,
) -> Result<T, StepError> {
    r.map_err(|e| StepError(name, e.into()))
}

struct Options {
    tcti: String,
    ca_files: Vec<String>,
    ek_alg: EkAlg,
    pcrs: String,
}

fn options() -> AnyResult<Option<Options>> {
    let mut args = Args::from_env();
    if args.flag(&["-h", "--help"]) {
        println!("{USAGE}");
        return Ok(None);
    }
    let tcti = match args.value(&["-T", "--tcti"])? {
        Some(t) => t,
        None => std::env::var("TPM2TOOLS_TCTI")
            .map_err(|_| "-T TCTI is required (or TPM2TOOLS_TCTI; try --help)")?,
    };
    let mut ca_files = Vec::new();
    while let Some(f) = args.value(&["--ek-ca"])? {
        ca_files.push(f);
    }
    if ca_files.is_empty() {
        return Err("--ek-ca FILE is required: the CA certificates the EK must chain to".into());
    }
    let ek_alg = match args.value(&["--ek-alg"])?.as_deref() {
        None | Some("rsa") => EkAlg::Rsa,
        Some("ecc") => EkAlg::Ecc,
        Some(other) => return Err(format!("--ek-alg {other:?}: rsa or ecc").into()),
    };
    let pcrs = args
        .value(&["--pcrs"])?
        .unwrap_or_else(|| "sha256:0,1,2,7".into());
    args.finish()?;
    Ok(Some(Options {
        tcti,
        ca_files,
        ek_alg,
        pcrs,
    }))
}

fn random<const N: usize>() -> AnyResult<[u8; N]> {
    let mut bytes = [0u8; N];
    crypto::random(&mut bytes)?;
    Ok(bytes)
}

fn run(o: &Options) -> Result<(), StepError> {
    let tpm = step("connecting", Tpm::open(Some(&o.tcti)))?;

    // 1. The EK and its certificate chain.
    let paths: Vec<&Path> = o.ca_files.iter().map(Path::new).collect();
    let bundle = step("reading the CA bundle", CaBundle::from_files(&paths))?;
    let ek = step(
        "verifying the EK certificate",
        VerifiedEk::create(&tpm, o.ek_alg, &bundle),
    )?;
    println!(
        "EK certificate verified: {} (template {}), chain {}",
        ek.certificate().subject(),
        ek.template(),
        ek.chain().subjects.join(" <- ")
    );

    // 2. A session only this TPM can follow.
    let salt = step("salting to the EK", SaltKey::from_verified_ek(&ek))?;
    let mut session = step(
        "starting the salted session",
        Session::start(
            &tpm,
            &SessionOptions::hmac().salted(salt).encrypt(true, true),
        ),
    )?;
    println!("session {} salted to the verified EK", session.handle());

    // 3. The attestation key.
    let ak_alg = match o.ek_alg {
        EkAlg::Rsa => KeyAlg::Rsa2048,
        _ => KeyAlg::EccP256,
    };
    let empty = Auth::empty();
    let ak = step(
        "creating the attestation key",
        Key::create_primary(
            &tpm,
            &Entity::endorsement(),
            &mut [SessionSlot::Password(&empty)],
            &templates::attestation_key(ak_alg),
            &empty,
        ),
    )?;
    println!(
        "attestation key {} created, name {}",
        ak.entity().handle,
        hex(ak.entity().name.as_bytes())
    );

    // 4. Enrollment: a credential only the TPM with both keys can activate.
    let secret: [u8; 32] = step("drawing the credential", random())?;
    let (id_object, encrypted_seed) = step(
        "making the credential",
        keys::make_credential(ek.public(), &ak.entity().name, &secret),
    )?;
    let activated = step(
        "activating the credential",
        tpm.activate_credential(
            ak.entity(),
            SessionSlot::Password(&empty),
            &ek,
            SessionSlot::Password(&empty),
            &id_object,
            &encrypted_seed,
        ),
    )?;
    if !bool::from(activated.as_bytes().ct_eq(&secret)) {
        return Err(StepError(
            "activating the credential",
            "the TPM released a different secret".into(),
        ));
    }
    println!("credential activated: the attestation key is in the TPM the EK certificate names");

    // 5. A quote with a fresh nonce, verified on the host.
    let spec = step("parsing --pcrs", parse_pcr_selection(&o.pcrs))?;
    let selection = step("parsing --pcrs", PcrSelectionList::try_from(&spec))?;
    let values = step("reading the PCRs", tpm.pcr_values(&selection))?;
    let mut expected = PcrValues::new();
    let mut next = values.iter();
    for s in selection.iter() {
        let bank = step("parsing --pcrs", HashAlg::from_alg_id(s.hash))?;
        for (pcr, value) in s.select.pcrs().zip(&mut next) {
            step(
                "reading the PCRs",
                expected.insert(bank, pcr, value.as_bytes()),
            )?;
        }
    }
    let nonce: [u8; 32] = step("drawing the nonce", random())?;
    let quote = step(
        "quoting",
        tpm.execute(
            &Quote {
                sign_handle: ak.entity().clone(),
                qualifying_data: step("quoting", Data::new(&nonce))?,
                in_scheme: SigScheme::Null,
                pcr_select: expected.selection(),
            },
            &mut [session.auth(&empty)],
        ),
    )?;
    let verifier_ak = step(
        "verifying the quote",
        AttestationKey::primary(Handle::RH_ENDORSEMENT, ak.public().clone()),
    )?;
    let report = step(
        "verifying the quote",
        verify_quote(
            &verifier_ak,
            quote.quoted.as_bytes(),
            &quote.signature,
            &nonce,
            &expected,
        ),
    )?;
    let clock = &report.clock;
    println!(
        "quote verified: {} PCRs ({}), firmware 0x{:016x}, clock {} ms, resetCount {}, restartCount {}",
        expected.len(),
        o.pcrs,
        clock.firmware_version,
        clock.clock_info.clock,
        clock.clock_info.reset_count,
        clock.clock_info.restart_count
    );
    println!("attestation verified");
    Ok(())
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn main() -> ExitCode {
    let o = match options() {
        Ok(Some(o)) => o,
        Ok(None) => return ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("attest: {e}");
            return ExitCode::from(2);
        }
    };
    match run(&o) {
        Ok(()) => ExitCode::SUCCESS,
        Err(StepError(name, e)) => {
            eprintln!("attest: {name} failed: {e}");
            ExitCode::FAILURE
        }
    }
}

// The example against swtpms manufactured with EK certificates, and each way it must refuse.
#[cfg(test)]
mod tests {
    use super::*;
    use tpm2_wire::sim::ek::EkCa;
    use tpm2_wire::sim::{Relay, Swtpm, Tamper};
    use tpm2_wire::wire::CommandCode;

    fn manufactured() -> (Swtpm, EkCa) {
        Swtpm::spawn_with_ek_certs().expect("swtpm with EK certificates (swtpm-tools)")
    }

    fn options(tcti: String, ca: &EkCa, ek_alg: EkAlg) -> Options {
        Options {
            tcti,
            ca_files: vec![
                ca.root_cert.display().to_string(),
                ca.intermediate_cert.display().to_string(),
            ],
            ek_alg,
            pcrs: "sha256:0,1,2,7,16".into(),
        }
    }

    fn failure(r: Result<(), StepError>) -> (&'static str, String) {
        match r {
            Ok(()) => panic!("attestation verified where it must not"),
            Err(StepError(step, e)) => (step, e.to_string()),
        }
    }

    #[test]
    fn enrolls_and_quotes_with_either_ek() {
        let (sim, ca) = manufactured();
        for alg in [EkAlg::Rsa, EkAlg::Ecc] {
            if let Err(StepError(step, e)) = run(&options(sim.tcti(), &ca, alg)) {
                panic!("{alg:?}: {step}: {e}");
            }
        }
    }

    #[test]
    fn another_manufacturers_ca_is_refused() {
        let (sim, _) = manufactured();
        let (_other, other_ca) = manufactured();
        let (step, why) = failure(run(&options(sim.tcti(), &other_ca, EkAlg::Rsa)));
        assert_eq!(step, "verifying the EK certificate", "{why}");
        assert!(why.contains("signature does not verify"), "{why}");
    }

    #[test]
    fn a_certificate_for_another_tpms_ek_is_refused() {
        // TPM A gets TPM B's (genuine, B-CA-signed) EK certificate in its NV index: the
        // chain verifies, but the EK A creates is not the certified key.
        let (a, _) = manufactured();
        let (b, b_ca) = manufactured();
        let dir = tempfile::tempdir().unwrap();
        let cert = dir.path().join("ek.der");
        let tool = |tpm: &Swtpm, args: &[&str]| {
            let out = std::process::Command::new(args[0])
                .args(&args[1..])
                .args(["-T", &tpm.tcti()])
                .output()
                .unwrap_or_else(|e| panic!("{}: {e} (install tpm2-tools)", args[0]));
            assert!(
                out.status.success(),
                "{args:?}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        };
        let cert_path = cert.to_str().unwrap();
        tool(
            &b,
            &["tpm2_nvread", "-C", "o", "-o", cert_path, "0x1c00002"],
        );
        let size = std::fs::metadata(&cert).unwrap().len().to_string();
        tool(&a, &["tpm2_nvundefine", "-C", "p", "0x1c00002"]);
        tool(
            &a,
            &[
                "tpm2_nvdefine",
                "-C",
                "p",
                "-s",
                &size,
                "-a",
                "ppwrite|ppread|ownerread|authread|no_da|platformcreate",
                "0x1c00002",
            ],
        );
        tool(
            &a,
            &["tpm2_nvwrite", "-C", "p", "-i", cert_path, "0x1c00002"],
        );

        let (step, why) = failure(run(&options(a.tcti(), &b_ca, EkAlg::Rsa)));
        assert_eq!(step, "verifying the EK certificate", "{why}");
        assert!(why.contains("is not the key the certificate"), "{why}");
    }

    #[test]
    fn a_quote_changed_on_the_bus_is_refused() {
        let (sim, ca) = manufactured();
        let relay = Relay::start(sim.endpoint()).expect("relay");
        relay.tamper(
            Some(CommandCode::QUOTE),
            Tamper::FlipFromEnd {
                from_end: 40,
                mask: 0x01,
            },
        );
        let (step, why) = failure(run(&options(relay.tcti(), &ca, EkAlg::Rsa)));
        assert_eq!(relay.tampered(), 1);
        assert_eq!(step, "quoting", "{why}");
        assert!(why.contains("integrity"), "{why}");
    }
}
