//! `TPM2_WIRE_REGISTRY=off` turns the ownership registry off for a process: sessions start,
//! are used and flushed as usual, and nothing is written.

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
