//! The command line behind a hostile bus: `tpm2-wire random 8 -S FILE` through a relay that
//! drops the response or flips its HMAC, with a session bound to a DA-protected key. The
//! session must be ended and its file removed, not saved back with nonces the TPM has moved
//! past (every later use would then fail with TPM_RC_AUTH_FAIL and count towards lockout).

mod cli_common;

use cli_common::Env;
use tpm2_wire::sim::{Relay, Tamper};
use tpm2_wire::wire::CommandCode;

fn lockout_counter(env: &Env) -> u64 {
    let caps = env.json(&["getcap", "properties-variable", "--json"]);
    caps["properties"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["property"] == "TPM_PT_LOCKOUT_COUNTER")
        .expect("TPM_PT_LOCKOUT_COUNTER listed")["value"]
        .as_u64()
        .unwrap()
}

fn through(env: &Env, relay: &Relay, args: &[&str]) -> std::process::Output {
    let mut cmd = env.cli_cmd(args);
    // The last -T wins: the relay's.
    cmd.arg("-T").arg(relay.tcti());
    cmd.output().unwrap()
}

/// An HMAC session bound to the DA-protected `key.ctx`, saved to `file`.
fn start_bound_session(env: &Env, file: &str) {
    env.ok(&[
        "session",
        "start",
        "--hmac-session",
        "--bind-context",
        "key.ctx",
        "--bind-auth",
        "str:da-protected",
        "--allow-bind-auth-in-file",
        "-S",
        file,
    ]);
}

fn random_with_a_session_after(tamper: Tamper) {
    let env = Env::new();
    let relay = Relay::start(env.sim.endpoint()).expect("relay");
    // A primary key without noDA: failed authorizations of it count.
    env.tool_ok(
        "tpm2_createprimary",
        &["-C", "o", "-c", "key.ctx", "-p", "da-protected"],
    );
    start_bound_session(&env, "D.ctx");
    // In step: it works through the relay and goes back to its file.
    let out = through(&env, &relay, &["random", "8", "-S", "D.ctx"]);
    cli_common::assert_success("clean random -S", &out);
    assert_eq!(lockout_counter(&env), 0);

    relay.tamper(Some(CommandCode::GET_RANDOM), tamper);
    let out = through(&env, &relay, &["random", "8", "-S", "D.ctx"]);
    assert_eq!(relay.tampered(), 1);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("could not be trusted"), "{err}");
    assert!(err.contains("flushed") && err.contains("removed"), "{err}");
    assert!(
        !err.contains("da-protected"),
        "no secret in the message: {err}"
    );
    assert!(!env.path("D.ctx").exists(), "the file is not saved back");
    assert!(
        cli_common::sessions(&env).is_empty(),
        "the session was ended"
    );

    // However often the user tries again, nothing reaches the TPM in that session's name.
    for _ in 0..4 {
        let out = through(&env, &relay, &["random", "8", "-S", "D.ctx"]);
        assert!(!out.status.success());
    }
    assert_eq!(lockout_counter(&env), 0);

    // The key is fine: a new session bound to it works.
    start_bound_session(&env, "E.ctx");
    let out = through(&env, &relay, &["random", "8", "-S", "E.ctx"]);
    cli_common::assert_success("new session", &out);
    env.ok(&["session", "flush", "--all"]);
    assert_eq!(lockout_counter(&env), 0);
}

#[test]
fn random_with_a_session_after_a_dropped_response() {
    random_with_a_session_after(Tamper::Drop);
}

#[test]
fn random_with_a_session_after_a_flipped_response_hmac() {
    random_with_a_session_after(Tamper::FlipFromEnd {
        from_end: 0,
        mask: 0x01,
    });
}
