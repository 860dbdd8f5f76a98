//! `tpm2-wire policy` and tpm2-tools taking turns on one session file: the final digest is
//! the one tpm2-tools alone computes.

mod cli_common;

use cli_common::{hex, is_hex, Env};

fn digest_of(out: &str) -> String {
    let d = out.trim_end().to_string();
    assert!(is_hex(&d, 64), "{out:?}");
    d
}

#[test]
fn interleaved_with_tpm2_tools() {
    let env = Env::new();
    // Reference: tpm2-tools alone.
    env.tool_ok("tpm2_startauthsession", &["-S", "ref.ctx"]);
    env.tool_ok("tpm2_policypassword", &["-S", "ref.ctx"]);
    env.tool_ok("tpm2_policypcr", &["-S", "ref.ctx", "-l", "sha256:0,1"]);
    env.tool_ok(
        "tpm2_policycommandcode",
        &["-S", "ref.ctx", "TPM2_CC_Unseal"],
    );
    env.tool_ok("tpm2_policyauthvalue", &["-S", "ref.ctx"]);
    env.tool_ok(
        "tpm2_policypcr",
        &["-S", "ref.ctx", "-l", "sha1:2+sha256:3"],
    );
    env.tool_ok("tpm2_getpolicydigest", &["-S", "ref.ctx", "-o", "ref.dig"]);
    let reference = hex(&env.read("ref.dig"));

    // The same policy, alternating tools on one file started by tpm2-wire.
    env.ok(&["session", "start", "-S", "s.ctx"]);
    let d = digest_of(&env.ok(&["policy", "password", "-S", "s.ctx", "-L", "pw.dig"]));
    assert_eq!(
        d,
        "8fcd2169ab92694e0c633f1ab772842b8241bbc20288981fc7ac1eddc1fddb0e"
    );
    assert_eq!(hex(&env.read("pw.dig")), d);
    env.tool_ok("tpm2_policypcr", &["-S", "s.ctx", "-l", "sha256:0,1"]);
    let d = digest_of(&env.ok(&["policy", "digest", "-S", "s.ctx"]));
    assert_eq!(
        d,
        "6c40885cf37ce81f9e375b7f4307ea87011dcc571a313b4d4e89816f64663817"
    );
    env.ok(&["policy", "commandcode", "-S", "s.ctx", "TPM2_CC_Unseal"]);
    env.tool_ok("tpm2_policyauthvalue", &["-S", "s.ctx"]);
    env.ok(&[
        "policy",
        "pcr",
        "-S",
        "s.ctx",
        "-l",
        "sha1:2+sha256:3",
        "-L",
        "last.dig",
    ]);
    let ours = digest_of(&env.ok(&["policy", "digest", "-S", "s.ctx", "-o", "ours.dig"]));
    env.tool_ok("tpm2_getpolicydigest", &["-S", "s.ctx", "-o", "tools.dig"]);
    assert_eq!(hex(&env.read("tools.dig")), ours);
    assert_eq!(hex(&env.read("ours.dig")), ours);
    assert_eq!(hex(&env.read("last.dig")), ours);
    assert_eq!(ours, reference);

    // The other way round: a session tpm2-tools started, extended by us.
    env.tool_ok(
        "tpm2_startauthsession",
        &["--policy-session", "-S", "t.ctx"],
    );
    env.ok(&["policy", "authvalue", "-S", "t.ctx"]);
    env.tool_ok("tpm2_policycommandcode", &["-S", "t.ctx", "0x15e"]);
    let ours = digest_of(&env.ok(&["policy", "pcr", "-S", "t.ctx", "-l", "sha256:0"]));
    env.tool_ok("tpm2_startauthsession", &["-S", "r2.ctx"]);
    env.tool_ok("tpm2_policyauthvalue", &["-S", "r2.ctx"]);
    env.tool_ok(
        "tpm2_policycommandcode",
        &["-S", "r2.ctx", "TPM2_CC_Unseal"],
    );
    env.tool_ok("tpm2_policypcr", &["-S", "r2.ctx", "-l", "sha256:0"]);
    let d = env.tool_ok("tpm2_getpolicydigest", &["-S", "r2.ctx"]);
    assert_eq!(hex(&d), ours);
    env.tool_ok("tpm2_flushcontext", &["t.ctx"]);
}

#[test]
fn pcr_values_from_a_file_and_errors() {
    let env = Env::new();
    env.tool_ok("tpm2_pcrread", &["sha256:0,1", "-o", "pcrs.bin"]);
    env.tool_ok("tpm2_startauthsession", &["-S", "ref.ctx"]);
    env.tool_ok(
        "tpm2_policypcr",
        &[
            "-S",
            "ref.ctx",
            "-l",
            "sha256:0,1",
            "-f",
            "pcrs.bin",
            "-L",
            "ref.dig",
        ],
    );
    env.ok(&["session", "start", "-S", "s.ctx"]);
    // PolicyPCR over sha256:0,1 with the values in `file`.
    let pcrs_from = |file| {
        [
            "policy",
            "pcr",
            "-S",
            "s.ctx",
            "-l",
            "sha256:0,1",
            "-f",
            file,
        ]
    };
    let d = digest_of(&env.ok(&pcrs_from("pcrs.bin")));
    assert_eq!(d, hex(&env.read("ref.dig")));

    // A PCR file of the wrong size, a bad selection, an unknown command code: refused, and
    // the session file is still good afterwards.
    std::fs::write(env.path("short.bin"), [0u8; 33]).unwrap();
    let err = env.fails(&pcrs_from("short.bin"));
    assert!(err.contains("33 bytes"), "{err}");
    let err = env.fails(&["policy", "pcr", "-S", "s.ctx", "-l", "sha256:0,0"]);
    assert!(err.contains("twice"), "{err}");
    let err = env.fails(&["policy", "commandcode", "-S", "s.ctx", "TPM2_CC_Nonsense"]);
    assert!(err.contains("unknown command code"), "{err}");
    assert_eq!(digest_of(&env.ok(&["policy", "digest", "-S", "s.ctx"])), d);
    // HMAC sessions take no policy commands; the file survives the refusal.
    env.ok(&["session", "start", "--hmac-session", "-S", "h.ctx"]);
    let err = env.fails(&["policy", "password", "-S", "h.ctx"]);
    assert!(err.contains("HMAC session"), "{err}");
    env.tool_ok("tpm2_flushcontext", &["h.ctx"]);
    // A missing file: a one-line error naming it.
    let err = env.fails(&["policy", "digest", "-S", "missing.ctx"]);
    assert!(err.contains("missing.ctx"), "{err}");
    assert_eq!(err.trim_end().lines().count(), 1, "{err}");
}
