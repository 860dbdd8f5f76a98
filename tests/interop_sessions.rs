//! Session and object files exchanged with tpm2-tools 5.4 in both directions, for every
//! session kind: trial, policy, HMAC, audit, salted, bound (empty bind auth), salted+bound.
//! tpm2-tools and our client share one swtpm (the swtpm TCTI opens a connection per command).

mod common;

use std::path::{Path, PathBuf};
use std::process::Output;

use common::*;
use tpm2_wire::client::{SaltKey, Session, SessionOptions};
use tpm2_wire::command::Entity;
use tpm2_wire::crypto::HashAlg;
use tpm2_wire::session::policy::PolicyCalculator;
use tpm2_wire::session::PolicyAuth;
use tpm2_wire::sim::Swtpm;
use tpm2_wire::wire::{
    AlgId, Auth, Digest, Marshal, NvAttributes, PcrSelection, PcrSelectionList, SessionAttributes,
};
use tpm2_wire::Tpm;

const NV: u32 = 0x0150_0030;

struct Env {
    _sim: Swtpm,
    tpm: Tpm,
    dir: tempfile::TempDir,
    tcti: String,
}

impl Env {
    fn new() -> Env {
        let (sim, tpm) = swtpm();
        let tcti = sim.tcti();
        Env {
            _sim: sim,
            tpm,
            dir: tempfile::tempdir().unwrap(),
            tcti,
        }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// Runs a tpm2-tools command against this test's swtpm (never the default probe).
    fn tool(&self, args: &[&str]) -> Output {
        tpm2_tool(&self.tcti, args)
    }

    /// tpm2-tools leave the objects they load in swtpm (there is no resource manager).
    fn flush_transients(&self) {
        self.tool(&["tpm2_flushcontext", "-t"]);
    }

    /// A primary storage key made by tpm2-tools, as an object context file.
    fn tools_primary(&self) -> PathBuf {
        let f = self.path("primary.ctx");
        self.tool(&["tpm2_createprimary", "-C", "o", "-c", s(&f), "-Q"]);
        self.flush_transients();
        f
    }

    fn tools_digest(&self, session: &Path) -> Vec<u8> {
        let d = self.path("digest.bin");
        self.tool(&["tpm2_getpolicydigest", "-S", s(session), "-o", s(&d)]);
        std::fs::read(d).unwrap()
    }

    fn done(&self) {
        self.flush_transients();
        assert_nothing_loaded(&self.tpm);
        assert_eq!(
            self.tpm.handles_in(HandleRange::SavedSessions).unwrap(),
            vec![],
            "no saved session left"
        );
    }
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

fn sel(pcrs: &[u8]) -> PcrSelectionList {
    PcrSelectionList::new(vec![PcrSelection::new(AlgId::SHA256, pcrs).unwrap()]).unwrap()
}

/// PolicyPCR over sha256 `pcrs` at their current values, offline.
fn calc_pcr(tpm: &Tpm, c: &mut PolicyCalculator, pcrs: &[u8]) {
    let rsp = tpm.pcr_read(&sel(pcrs)).unwrap();
    c.policy_pcr(&sel(pcrs), rsp.pcr_values.as_slice()).unwrap();
}

/// GetRandom(8) with `s` in the role `role` (audit, or encrypt the response); the session's
/// own attributes are restored afterwards, as they go back into its file.
fn random_as(tpm: &Tpm, s: &mut Session, role: u8) {
    let saved = s.state().attributes();
    s.set_attributes(attrs(role));
    random_through(tpm, s, 8);
    s.set_attributes(saved);
}

fn audited_random(tpm: &Tpm, s: &mut Session) {
    random_as(tpm, s, SessionAttributes::AUDIT);
}

/// GetRandom with the response encrypted under the session key (salted or bound sessions).
fn encrypted_random(tpm: &Tpm, s: &mut Session) {
    assert!(!s.state().session_key().is_empty(), "{:?}", s.state());
    random_as(tpm, s, SessionAttributes::ENCRYPT);
}

fn nv_index(env: &Env) -> Entity {
    let auth = pw("nvpw");
    let nv = define_nv(
        &env.tpm,
        NV,
        HashAlg::Sha256,
        NvAttributes::AUTHREAD | NvAttributes::AUTHWRITE | NvAttributes::NO_DA,
        &auth,
        &Digest::empty(),
        8,
    );
    let data = env.path("nv.bin");
    std::fs::write(&data, b"12345678").unwrap();
    env.tool(&[
        "tpm2_nvwrite",
        "-C",
        "0x01500030",
        "-P",
        "nvpw",
        "-i",
        s(&data),
        "0x01500030",
    ]);
    nv
}

fn tools_nv_read(env: &Env, session: &Path) {
    let sess = format!("session:{}+nvpw", s(session));
    let out = env.tool(&[
        "tpm2_nvread",
        "-C",
        "0x01500030",
        "-P",
        &sess,
        "-s",
        "8",
        "0x01500030",
    ]);
    assert_eq!(out.stdout, b"12345678");
}

fn nv_read_with(tpm: &Tpm, s: &mut Session) -> Vec<u8> {
    let nv = tpm.nv_read_public(tpm2_wire::wire::Handle(NV)).unwrap().0;
    nv_read(tpm, &nv, 8, &mut [s.auth(&pw("nvpw"))]).unwrap()
}

// ---------------------------------------------------------------- tpm2-tools → us → tools

#[test]
fn tools_trial_session_extended_by_us_and_read_by_tools() {
    let env = Env::new();
    let f = env.path("trial.ctx");
    env.tool(&["tpm2_startauthsession", "-S", s(&f)]);
    let mut ses = env.tpm.load_session_file(&f).unwrap();
    ses.policy_password().unwrap();
    ses.save_to_file(&f).unwrap();
    let expected = PolicyCalculator::new(HashAlg::Sha256)
        .policy_password()
        .digest()
        .clone();
    assert_eq!(env.tools_digest(&f), expected.as_bytes());
    env.tool(&["tpm2_flushcontext", s(&f)]);
    env.done();
}

#[test]
fn policy_built_partly_by_tools_and_partly_by_us_matches_tpm_and_calculator() {
    let env = Env::new();
    let f = env.path("policy.ctx");
    env.tool(&["tpm2_startauthsession", "--policy-session", "-S", s(&f)]);
    env.tool(&["tpm2_policypcr", "-S", s(&f), "-l", "sha256:0,1"]);
    let mut ses = env.tpm.load_session_file(&f).unwrap();
    ses.policy_password().unwrap();
    let tpm_digest = ses.policy_digest().unwrap();
    let mut c = PolicyCalculator::new(HashAlg::Sha256);
    calc_pcr(&env.tpm, &mut c, &[0, 1]);
    c.policy_password();
    assert_eq!(
        tpm_digest,
        *c.digest(),
        "TPM (PolicyGetDigest) = offline calculator"
    );
    ses.save_to_file(&f).unwrap();
    // ...and tools continue: one more step by them.
    env.tool(&["tpm2_policypcr", "-S", s(&f), "-l", "sha256:2"]);
    calc_pcr(&env.tpm, &mut c, &[2]);
    assert_eq!(env.tools_digest(&f), c.digest().as_bytes());
    let ses = env.tpm.load_session_file(&f).unwrap();
    assert_eq!(ses.state().policy_auth(), PolicyAuth::Password);
    ses.save_to_file(&f).unwrap();
    env.tool(&["tpm2_flushcontext", s(&f)]);
    env.done();
}

/// An HMAC session (from `start`, in the file `hmac.ctx`) authorizes an NV read of ours,
/// then one of tools; tools save it back, we continue once more, then tools flush it.
fn hmac_session_authorizes_both(start: impl FnOnce(&Env, &Path) -> Session) {
    let env = Env::new();
    let nv = nv_index(&env);
    let f = env.path("hmac.ctx");
    let mut ses = start(&env, &f);
    assert_eq!(nv_read_with(&env.tpm, &mut ses), b"12345678");
    ses.save_to_file(&f).unwrap();
    tools_nv_read(&env, &f);
    let mut ses = env.tpm.load_session_file(&f).unwrap();
    assert_eq!(nv_read_with(&env.tpm, &mut ses), b"12345678");
    ses.save_to_file(&f).unwrap();
    env.tool(&["tpm2_flushcontext", s(&f)]);
    undefine_nv(&env.tpm, &nv);
    env.done();
}

#[test]
fn tools_hmac_session_authorizes_our_command_and_tools_continue() {
    hmac_session_authorizes_both(|env, f| {
        env.tool(&["tpm2_startauthsession", "--hmac-session", "-S", s(f)]);
        env.tpm.load_session_file(f).unwrap()
    });
}

#[test]
fn tools_audit_session_audits_our_command_and_tools_continue() {
    let env = Env::new();
    let f = env.path("audit.ctx");
    env.tool(&["tpm2_startauthsession", "--audit-session", "-S", s(&f)]);
    let mut ses = env.tpm.load_session_file(&f).unwrap();
    assert!(ses.state().attributes().contains(SessionAttributes::AUDIT));
    audited_random(&env.tpm, &mut ses);
    ses.save_to_file(&f).unwrap();
    env.tool(&["tpm2_getrandom", "-S", s(&f), "8", "--hex"]);
    env.tool(&["tpm2_flushcontext", s(&f)]);
    env.done();
}

/// Salted, bound and salted+bound sessions started by tools on their primary key file.
fn tools_keyed_session(args: &[&str]) {
    let env = Env::new();
    let primary = env.tools_primary();
    let f = env.path("keyed.ctx");
    let mut cmd = vec!["tpm2_startauthsession", "--hmac-session", "-S", s(&f)];
    for a in args {
        cmd.push(if *a == "PRIMARY" { s(&primary) } else { a });
    }
    env.tool(&cmd);
    env.flush_transients();
    let nv = nv_index(&env);
    let mut ses = env.tpm.load_session_file(&f).unwrap();
    encrypted_random(&env.tpm, &mut ses);
    assert_eq!(nv_read_with(&env.tpm, &mut ses), b"12345678");
    ses.save_to_file(&f).unwrap();
    // tools continue with it as an authorization (the file's attributes may name no
    // encrypt/decrypt role, which an extra session such as tpm2_getrandom -S needs).
    keyed_session_continues(&env, &f, &nv);
}

/// Tools authorize an NV read with the keyed session in `f`; we encrypt a response with it
/// once more, tools flush it, and nothing is left.
fn keyed_session_continues(env: &Env, f: &Path, nv: &Entity) {
    tools_nv_read(env, f);
    let mut ses = env.tpm.load_session_file(f).unwrap();
    encrypted_random(&env.tpm, &mut ses);
    ses.save_to_file(f).unwrap();
    env.tool(&["tpm2_flushcontext", s(f)]);
    undefine_nv(&env.tpm, nv);
    env.done();
}

#[test]
fn tools_salted_session_encrypts_our_command() {
    tools_keyed_session(&["--tpmkey-context", "PRIMARY"]);
}

#[test]
fn tools_bound_session_encrypts_our_command() {
    tools_keyed_session(&["--bind-context", "PRIMARY"]);
}

#[test]
fn tools_salted_and_bound_session_encrypts_our_command() {
    tools_keyed_session(&["-c", "PRIMARY"]);
}

// ---------------------------------------------------------------- us → tpm2-tools → us

#[test]
fn our_policy_session_is_extended_by_tools_and_matches_the_calculator() {
    let env = Env::new();
    let f = env.path("policy.ctx");
    let mut ses = Session::start(&env.tpm, &SessionOptions::policy()).unwrap();
    ses.policy_command_code(tpm2_wire::wire::CommandCode::NV_READ)
        .unwrap();
    ses.save_to_file(&f).unwrap();
    env.tool(&["tpm2_policypassword", "-S", s(&f)]);
    env.tool(&["tpm2_policypcr", "-S", s(&f), "-l", "sha256:0"]);
    let mut c = PolicyCalculator::new(HashAlg::Sha256);
    c.policy_command_code(tpm2_wire::wire::CommandCode::NV_READ)
        .policy_password();
    calc_pcr(&env.tpm, &mut c, &[0]);
    assert_eq!(env.tools_digest(&f), c.digest().as_bytes());
    let mut ses = env.tpm.load_session_file(&f).unwrap();
    assert_eq!(ses.policy_digest().unwrap(), *c.digest());
    assert_eq!(ses.state().policy_auth(), PolicyAuth::Password);
    ses.save_to_file(&f).unwrap();
    env.tool(&["tpm2_flushcontext", s(&f)]);
    env.done();
}

#[test]
fn our_trial_session_is_used_by_tools() {
    let env = Env::new();
    let f = env.path("trial.ctx");
    Session::start(&env.tpm, &SessionOptions::trial())
        .unwrap()
        .save_to_file(&f)
        .unwrap();
    env.tool(&["tpm2_policypcr", "-S", s(&f), "-l", "sha256:0,3"]);
    let mut c = PolicyCalculator::new(HashAlg::Sha256);
    calc_pcr(&env.tpm, &mut c, &[0, 3]);
    assert_eq!(env.tools_digest(&f), c.digest().as_bytes());
    env.tool(&["tpm2_flushcontext", s(&f)]);
    env.done();
}

#[test]
fn our_hmac_session_authorizes_a_tools_command() {
    hmac_session_authorizes_both(|env, _| {
        Session::start(&env.tpm, &SessionOptions::hmac()).unwrap()
    });
}

#[test]
fn our_audit_session_is_used_by_tools() {
    let env = Env::new();
    let f = env.path("audit.ctx");
    let mut ses = Session::start(&env.tpm, &SessionOptions::audit()).unwrap();
    audited_random(&env.tpm, &mut ses);
    ses.save_to_file(&f).unwrap();
    env.tool(&["tpm2_getrandom", "-S", s(&f), "8", "--hex"]);
    env.tool(&["tpm2_flushcontext", s(&f)]);
    env.done();
}

/// Salted / bound / both, to the primary key tpm2-tools made (loaded from its file).
fn our_keyed_session(salted: bool, bound: bool) {
    let env = Env::new();
    let primary = env.tools_primary();
    let (key, public) = env.tpm.load_object_file(&primary).unwrap();
    let mut opts = SessionOptions::hmac();
    if salted {
        opts = opts.salted(SaltKey::from_public(key.clone(), &public).unwrap());
    }
    if bound {
        // With an empty bind auth the key is not secret on its own: say so to encrypt.
        opts = opts
            .bound(key.clone(), Auth::empty())
            .allow_unprotected_encryption();
    }
    let mut ses = Session::start(&env.tpm, &opts).unwrap();
    flush(&env.tpm, key.handle);
    encrypted_random(&env.tpm, &mut ses);
    let nv = nv_index(&env);
    let f = env.path("keyed.ctx");
    // Saved with the encrypt role, so tpm2_getrandom -S can use it as its extra session.
    ses.set_attributes(attrs(SessionAttributes::ENCRYPT));
    ses.save_to_file(&f).unwrap();
    env.tool(&["tpm2_getrandom", "-S", s(&f), "8", "--hex"]);
    keyed_session_continues(&env, &f, &nv);
}

#[test]
fn our_salted_session_is_used_by_tools() {
    our_keyed_session(true, false);
}

#[test]
fn our_bound_session_is_used_by_tools() {
    our_keyed_session(false, true);
}

#[test]
fn our_salted_and_bound_session_is_used_by_tools() {
    our_keyed_session(true, true);
}

#[test]
fn object_files_both_ways() {
    let env = Env::new();
    let primary = env.tools_primary();
    let (key, public) = env.tpm.load_object_file(&primary).unwrap();
    let ours = env.path("ours.ctx");
    env.tpm.save_object_to_file(key.handle, &ours).unwrap();
    flush(&env.tpm, key.handle);
    let out = env.tool(&["tpm2_readpublic", "-c", s(&ours), "-f", "tss"]);
    assert!(String::from_utf8_lossy(&out.stdout).contains("name:"));
    let (again, public_again) = env.tpm.load_object_file(&ours).unwrap();
    assert_eq!(again.name, key.name);
    assert_eq!(public_again.to_bytes(), public.to_bytes());
    flush(&env.tpm, again.handle);
    env.done();
}

/// tpm2-tools sessions in use are stewarded like ours: a tools session file we loaded is
/// parked under pressure and reloaded, and the saved file still continues in tools.
#[test]
fn tools_session_survives_parking() {
    let env = Env::new();
    let f = env.path("audit.ctx");
    env.tool(&["tpm2_startauthsession", "--audit-session", "-S", s(&f)]);
    let mut ses = env.tpm.load_session_file(&f).unwrap();
    ses.park().unwrap();
    audited_random(&env.tpm, &mut ses);
    ses.park().unwrap();
    ses.save_to_file(&f).unwrap();
    env.tool(&["tpm2_getrandom", "-S", s(&f), "4", "--hex"]);
    env.tool(&["tpm2_flushcontext", s(&f)]);
    env.done();
}
