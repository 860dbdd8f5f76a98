//! Session files exchanged with tpm2-tools in both directions.

mod common;

use common::*;
use tpm2_wire::client::{Session, SessionOptions};

#[test]
fn our_policy_session_file_is_extended_by_tpm2_tools_and_continued_by_us() {
    let (sim, tpm) = swtpm();
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("policy.ctx");
    let s = Session::start(&tpm, &SessionOptions::policy()).unwrap();
    s.save_to_file(&f).unwrap();
    drop(tpm);

    let tcti = sim.tcti();
    tpm2_tool(&tcti, &["tpm2_policypassword", "-S", f.to_str().unwrap()]);
    let dig = dir.path().join("d");
    tpm2_tool(
        &tcti,
        &[
            "tpm2_getpolicydigest",
            "-S",
            f.to_str().unwrap(),
            "-o",
            dig.to_str().unwrap(),
        ],
    );
    let tools_digest = std::fs::read(&dig).unwrap();

    let tpm = tpm2_wire::Tpm::open(Some(&tcti)).unwrap();
    let mut s = tpm.load_session_file(&f).unwrap();
    assert_eq!(s.policy_digest().unwrap().as_bytes(), &tools_digest[..]);
    assert_eq!(
        s.state().policy_auth(),
        tpm2_wire::session::PolicyAuth::Password,
        "the PolicyPassword marker written by ESYS is read back"
    );
    s.flush().unwrap();
}

#[test]
fn tools_hmac_session_file_is_used_by_us_and_saved_back_for_tools() {
    let (sim, tpm) = swtpm();
    let tcti = sim.tcti();
    let dir = tempfile::tempdir().unwrap();
    let prim = dir.path().join("prim.ctx");
    let f = dir.path().join("hmac.ctx");
    tpm2_tool(
        &tcti,
        &[
            "tpm2_createprimary",
            "-Q",
            "-C",
            "o",
            "-c",
            prim.to_str().unwrap(),
        ],
    );
    tpm2_tool(
        &tcti,
        &[
            "tpm2_startauthsession",
            "--hmac-session",
            "-c",
            prim.to_str().unwrap(),
            "-S",
            f.to_str().unwrap(),
        ],
    );
    tpm2_tool(&tcti, &["tpm2_flushcontext", "-t"]);

    // A salted+bound session made by tpm2-tools: we use it for response encryption.
    let mut s = tpm.load_session_file(&f).unwrap();
    for _ in 0..3 {
        random_through(&tpm, &mut s, 16);
    }
    s.save_to_file(&f).unwrap();
    drop(tpm);
    // tpm2-tools continues from our file (nonces must be the latest ones).
    tpm2_tool(&tcti, &["tpm2_getrandom", "-S", f.to_str().unwrap(), "8"]);
    tpm2_tool(&tcti, &["tpm2_flushcontext", f.to_str().unwrap()]);
}
