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
    let seen = relay.seen().len();
    for _ in 0..4 {
        let out = through(&env, &relay, &["random", "8", "-S", "D.ctx"]);
        assert!(!out.status.success());
    }
    assert_eq!(
        relay.seen().len(),
        seen,
        "nothing was sent: {:?}",
        relay.seen()
    );
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

/// A digest-sized file of `fill` bytes, and a name-sized one (SHA-256 name).
fn fixture_files(env: &Env) {
    std::fs::write(env.path("a.bin"), [1u8; 32]).unwrap();
    std::fs::write(env.path("b.bin"), [2u8; 32]).unwrap();
    let mut name = vec![0x00, 0x0b];
    name.extend_from_slice(&[9u8; 32]);
    std::fs::write(env.path("key.name"), &name).unwrap();
    std::fs::write(env.path("o.name"), &name).unwrap();
    let mut cp = vec![0x00, 0x20];
    cp.extend_from_slice(&[3u8; 32]);
    std::fs::write(env.path("cp.bin"), cp).unwrap();
    std::fs::write(env.path("op.bin"), [0u8; 8]).unwrap();
    // A signing key and a signature for PolicySigned, and a NULL ticket (TPM_ST_AUTH_SIGNED,
    // TPM_RH_NULL, no digest) with an empty timeout for PolicyTicket: the TPM may refuse
    // them, the point is only that the command is sent and its response lost.
    let attrs = "fixedtpm|fixedparent|sensitivedataorigin|userwithauth|sign";
    env.tool_ok(
        "tpm2_createprimary",
        &["-C", "o", "-G", "ecc", "-a", attrs, "-c", "skey.ctx"],
    );
    std::fs::write(env.path("msg.bin"), [0u8; 4]).unwrap();
    env.tool_ok(
        "tpm2_sign",
        &["-c", "skey.ctx", "-g", "sha256", "-o", "sig.bin", "msg.bin"],
    );
    env.tool_ok("tpm2_flushcontext", &["-t"]);
    std::fs::write(
        env.path("null.tkt"),
        [0x80, 0x25, 0x40, 0x00, 0x00, 0x07, 0x00, 0x00],
    )
    .unwrap();
    std::fs::write(env.path("empty.tmo"), []).unwrap();
    env.tool_ok(
        "tpm2_nvdefine",
        &[
            "0x01000002",
            "-C",
            "o",
            "-s",
            "34",
            "-a",
            "ownerread|ownerwrite|authread|authwrite",
        ],
    );
}

/// Every policy command the command line runs on a session, through a relay that drops that
/// command's response after the TPM ran it. The session's file must be gone and the session
/// flushed, so that it can never authorize anything: were it saved back, a policy command
/// the TPM ran and the host never heard of (PolicyAuthValue) would make the next
/// authorization's HMAC fail at the TPM and count against dictionary-attack lockout. After
/// each, the user goes on with tpm2-tools as the issue's reproduction did: `tpm2_unseal` of
/// a DA-protected object whose policy is PolicyAuthValue, with `session:P.ctx+PASSWORD`.
#[test]
fn a_policy_command_whose_response_is_lost_ends_its_session() {
    let env = Env::new();
    let relay = Relay::start(env.sim.endpoint()).expect("relay");
    fixture_files(&env);
    // A DA-protected sealed object (no noDA) whose policy is PolicyAuthValue.
    // swtpm holds three objects: tpm2-tools leave theirs loaded, so flush between steps.
    env.tool_ok("tpm2_createprimary", &["-C", "o", "-c", "prim.ctx"]);
    env.tool_ok("tpm2_flushcontext", &["-t"]);
    env.tool_ok("tpm2_startauthsession", &["-S", "t.ctx"]);
    env.tool_ok("tpm2_policyauthvalue", &["-S", "t.ctx", "-L", "pol.bin"]);
    env.tool_ok("tpm2_flushcontext", &["t.ctx"]);
    std::fs::write(env.path("secret.txt"), b"sealed").unwrap();
    env.tool_ok(
        "tpm2_create",
        &[
            "-C",
            "prim.ctx",
            "-L",
            "pol.bin",
            "-p",
            "right",
            "-i",
            "secret.txt",
            "-u",
            "s.pub",
            "-r",
            "s.priv",
            "-a",
            "fixedtpm|fixedparent",
        ],
    );
    env.tool_ok("tpm2_flushcontext", &["-t"]);
    env.tool_ok(
        "tpm2_load",
        &[
            "-C", "prim.ctx", "-u", "s.pub", "-r", "s.priv", "-c", "seal.ctx",
        ],
    );
    env.tool_ok("tpm2_flushcontext", &["-t"]);

    let cases: [(&str, &[&str], CommandCode); 19] = [
        ("password", &[], CommandCode::POLICY_PASSWORD),
        ("authvalue", &[], CommandCode::POLICY_AUTH_VALUE),
        ("pcr", &["-l", "sha256:0"], CommandCode::POLICY_PCR),
        (
            "commandcode",
            &["TPM2_CC_Unseal"],
            CommandCode::POLICY_COMMAND_CODE,
        ),
        ("or", &["-l", "sha256:a.bin,b.bin"], CommandCode::POLICY_OR),
        (
            "authorize",
            &["-i", "a.bin", "-n", "key.name"],
            CommandCode::POLICY_AUTHORIZE,
        ),
        ("secret", &["-c", "o"], CommandCode::POLICY_SECRET),
        (
            "countertimer",
            &["--ult", "60000"],
            CommandCode::POLICY_COUNTER_TIMER,
        ),
        (
            "cphash",
            &["--cphash-input", "cp.bin"],
            CommandCode::POLICY_CP_HASH,
        ),
        ("namehash", &["-n", "a.bin"], CommandCode::POLICY_NAME_HASH),
        ("locality", &["zero"], CommandCode::POLICY_LOCALITY),
        ("nvwritten", &["s"], CommandCode::POLICY_NV_WRITTEN),
        (
            "template",
            &["--template-hash", "a.bin"],
            CommandCode::POLICY_TEMPLATE,
        ),
        (
            "duplicationselect",
            &["-n", "o.name", "-N", "key.name"],
            CommandCode::POLICY_DUPLICATION_SELECT,
        ),
        (
            "nv",
            &["-C", "o", "-i", "op.bin", "0x01000002", "eq"],
            CommandCode::POLICY_NV,
        ),
        (
            "authorizenv",
            &["-C", "o", "0x01000002"],
            CommandCode::POLICY_AUTHORIZE_NV,
        ),
        (
            "signed",
            &["-c", "skey.ctx", "-s", "sig.bin"],
            CommandCode::POLICY_SIGNED,
        ),
        (
            "ticket",
            &[
                "-n",
                "key.name",
                "--ticket",
                "null.tkt",
                "--timeout",
                "empty.tmo",
            ],
            CommandCode::POLICY_TICKET,
        ),
        ("digest", &[], CommandCode::POLICY_GET_DIGEST),
    ];
    for (sub, args, code) in cases {
        env.ok(&["session", "start", "--policy-session", "-S", "P.ctx"]);
        relay.tamper(Some(code), Tamper::Drop);
        let tampered = relay.tampered();
        let mut all = vec!["policy", sub, "-S", "P.ctx"];
        all.extend_from_slice(args);
        let out = through(&env, &relay, &all);
        assert_eq!(
            relay.tampered(),
            tampered + 1,
            "{sub}: the response was dropped"
        );
        assert!(!out.status.success(), "{sub}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains("removed"), "{sub}: {err}");
        assert!(!env.path("P.ctx").exists(), "{sub}: not saved back");
        assert!(cli_common::sessions(&env).is_empty(), "{sub}: flushed");

        // What the user tries next never reaches the TPM in that session's name.
        let seen = relay.seen().len();
        let out = through(&env, &relay, &["policy", "digest", "-S", "P.ctx"]);
        assert!(!out.status.success(), "{sub}");
        assert_eq!(relay.seen().len(), seen, "{sub}: {:?}", relay.seen());
        let out = env.tool(
            "tpm2_unseal",
            &["-c", "seal.ctx", "-p", "session:P.ctx+right"],
        );
        assert!(!out.status.success(), "{sub}");
        assert_eq!(lockout_counter(&env), 0, "{sub}");
    }

    // The object is fine: a session that saw every response unseals it.
    env.ok(&["session", "start", "--policy-session", "-S", "Q.ctx"]);
    let out = through(&env, &relay, &["policy", "authvalue", "-S", "Q.ctx"]);
    cli_common::assert_success("policy authvalue", &out);
    let secret = env.tool_ok(
        "tpm2_unseal",
        &["-c", "seal.ctx", "-p", "session:Q.ctx+right"],
    );
    assert_eq!(secret, b"sealed");
    env.ok(&["session", "flush", "--all"]);
    assert_eq!(lockout_counter(&env), 0);
}
