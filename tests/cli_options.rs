//! Global options and switches of the command line: `-v` traces, `TPM2_WIRE_REGISTRY=off`.

mod cli_common;

use cli_common::Env;

#[test]
fn the_registry_can_be_turned_off_by_the_environment() {
    let env = Env::new();
    let off = |args: &[&str]| {
        let out = env
            .cli_cmd(args)
            .env("TPM2_WIRE_REGISTRY", "off")
            .output()
            .unwrap();
        cli_common::assert_success(&args.join(" "), &out);
        out
    };
    off(&["session", "start", "--hmac-session", "-S", "s.ctx"]);
    let out = off(&["session", "show"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("turned off"), "{stderr}");
    assert!(String::from_utf8_lossy(&out.stdout).contains("unknown"));
    // Neither the configured directory nor one named "off" was created.
    assert!(!env.registry_dir().exists());
    assert!(!env.path("off").exists());
    off(&["session", "flush", "--all"]);

    // With the registry on, the same start is recorded.
    env.ok(&["session", "start", "--hmac-session", "-S", "t.ctx"]);
    let records = std::fs::read_dir(env.registry_dir()).unwrap().count();
    assert_eq!(records, 1);
    env.ok(&["session", "flush", "--all"]);
}

/// `-v` shows each command's span (code, handles, sessions, response code, duration) on
/// standard error and leaves standard output as it was.
#[test]
fn verbose_shows_each_command() {
    let env = Env::new();
    let out = env.cli(&["-v", "random", "8"]);
    cli_common::assert_success("-v random 8", &out);
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert!(cli_common::is_hex(stdout.trim_end(), 16), "{stdout}");
    let stderr = String::from_utf8(out.stderr).unwrap();
    let line = stderr
        .lines()
        .find(|l| l.contains("tpm_command") && l.contains("TPM_CC_GetRandom"))
        .unwrap_or_else(|| panic!("no GetRandom span in {stderr}"));
    assert!(line.contains("rc=\"TPM_RC_SUCCESS\""), "{line}");
    assert!(line.contains("micros="), "{line}");
    // Quiet without it.
    let out = env.cli(&["random", "8"]);
    assert!(
        out.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
