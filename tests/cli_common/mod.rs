//! Shared fixture of the CLI tests: a private swtpm, a private registry and working
//! directory, and helpers to run `tpm2-wire` and tpm2-tools against them.
#![allow(dead_code)]

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use tpm2_wire::sim::Swtpm;

pub const CLI: &str = env!("CARGO_BIN_EXE_tpm2-wire");

pub struct Env {
    pub sim: Swtpm,
    pub dir: tempfile::TempDir,
    pub tcti: String,
}

impl Env {
    pub fn new() -> Env {
        let sim = Swtpm::spawn_unix().expect("swtpm must be installed (Debian package swtpm)");
        let tcti = sim.tcti();
        Env {
            sim,
            dir: tempfile::tempdir().unwrap(),
            tcti,
        }
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    pub fn registry_dir(&self) -> PathBuf {
        self.path("registry")
    }

    /// `tpm2-wire` with `-T` for this TPM, the private registry, run in the temp directory.
    pub fn cli_cmd(&self, args: &[&str]) -> Command {
        let mut c = Command::new(CLI);
        c.arg("-T")
            .arg(&self.tcti)
            .args(args)
            .current_dir(self.dir.path())
            .env("TPM2_WIRE_REGISTRY", self.registry_dir())
            .env_remove("TPM2TOOLS_TCTI");
        c
    }

    pub fn cli(&self, args: &[&str]) -> Output {
        self.cli_cmd(args).output().unwrap()
    }

    /// Runs `tpm2-wire` with `input` on its standard input.
    pub fn cli_stdin(&self, args: &[&str], input: &[u8]) -> Output {
        let mut child = self
            .cli_cmd(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        child.stdin.take().unwrap().write_all(input).unwrap();
        child.wait_with_output().unwrap()
    }

    /// Runs `tpm2-wire`, asserts success and returns its standard output.
    pub fn ok(&self, args: &[&str]) -> String {
        let out = self.cli(args);
        assert_success(&format!("tpm2-wire {}", args.join(" ")), &out);
        String::from_utf8(out.stdout).unwrap()
    }

    /// Runs `tpm2-wire`, asserts failure and returns its standard error.
    pub fn fails(&self, args: &[&str]) -> String {
        let out = self.cli(args);
        assert!(
            !out.status.success(),
            "tpm2-wire {} should fail; stdout: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stdout)
        );
        String::from_utf8(out.stderr).unwrap()
    }

    /// A tpm2-tools tool against this TPM (TPM2TOOLS_TCTI), run in the temp directory.
    pub fn tool(&self, tool: &str, args: &[&str]) -> Output {
        Command::new(tool)
            .args(args)
            .current_dir(self.dir.path())
            .env("TPM2TOOLS_TCTI", &self.tcti)
            .output()
            .unwrap()
    }

    pub fn tool_ok(&self, tool: &str, args: &[&str]) -> Vec<u8> {
        let out = self.tool(tool, args);
        assert_success(&format!("{tool} {}", args.join(" ")), &out);
        out.stdout
    }

    pub fn json(&self, args: &[&str]) -> serde_json::Value {
        let out = self.ok(args);
        serde_json::from_str(&out).unwrap_or_else(|e| panic!("{out:?} is not JSON: {e}"))
    }

    pub fn read(&self, name: &str) -> Vec<u8> {
        std::fs::read(self.path(name)).unwrap()
    }
}

pub fn assert_success(what: &str, out: &Output) {
    assert!(
        out.status.success(),
        "{what}: {}\nstdout: {}\nstderr: {}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

pub fn is_hex(s: &str, len: usize) -> bool {
    s.len() == len && s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The sessions `session show --json` lists.
pub fn sessions(env: &Env) -> Vec<serde_json::Value> {
    env.json(&["session", "show", "--json"])["sessions"]
        .as_array()
        .unwrap()
        .clone()
}

/// The session `session show --json` lists with this handle's low 24 bits.
pub fn session_by_handle(env: &Env, handle: u32) -> Option<serde_json::Value> {
    sessions(env).into_iter().find(|s| {
        let h = u32::from_str_radix(&s["handle"].as_str().unwrap()[2..], 16).unwrap();
        h & 0xFF_FFFF == handle & 0xFF_FFFF
    })
}

/// The handle saved in a session file.
pub fn file_handle(path: &Path) -> u32 {
    tpm2_wire::files::read_session_file(path)
        .unwrap()
        .context
        .resource
        .handle()
        .0
}
