//! Every backend against a private swtpm (each test starts its own), and the failure modes:
//! bad TCTI strings, dead peers, relays that answer garbage. Nothing here may hang: every
//! transport gets a short timeout.

#![cfg(feature = "sim")]

use std::net::{TcpListener, TcpStream};
use std::os::fd::OwnedFd;
use std::os::unix::net::UnixStream;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tpm2_wire::sim::{MssimFront, Swtpm};
use tpm2_wire::transport::{
    open, open_with_env_value, probe, DeviceTransport, Endpoint, SwtpmTransport, Tcti, Transport,
    TransportError, TCTI_ENV_VAR,
};
use tpm2_wire::wire::{
    begin_command, finish_command, CommandCode, StructureTag, Writer, HEADER_SIZE,
};

const TPM_CAP_TPM_PROPERTIES: u32 = 6;
const TPM_PT_FIXED: u32 = 0x100;
/// TPM_PT_FAMILY_INDICATOR's value: "2.0\0".
const FAMILY_2_0: u32 = 0x322E_3000;
const TEST_TIMEOUT: Duration = Duration::from_secs(20);
const SHORT_TIMEOUT: Duration = Duration::from_millis(500);

fn get_random(n: u16) -> Vec<u8> {
    let mut buf = Vec::new();
    let mut w = Writer::new(&mut buf);
    let start = begin_command(&mut w, StructureTag::NO_SESSIONS, CommandCode::GET_RANDOM);
    w.u16(n);
    finish_command(&mut w, start).unwrap();
    buf
}

fn get_capability_fixed(count: u32) -> Vec<u8> {
    let mut buf = Vec::new();
    let mut w = Writer::new(&mut buf);
    let start = begin_command(
        &mut w,
        StructureTag::NO_SESSIONS,
        CommandCode::GET_CAPABILITY,
    );
    w.u32(TPM_CAP_TPM_PROPERTIES);
    w.u32(TPM_PT_FIXED);
    w.u32(count);
    finish_command(&mut w, start).unwrap();
    buf
}

fn rc(rsp: &[u8]) -> u32 {
    u32::from_be_bytes(rsp[6..10].try_into().unwrap())
}

fn be32(b: &[u8], at: usize) -> u32 {
    u32::from_be_bytes(b[at..at + 4].try_into().unwrap())
}

/// GetRandom(16) twice (fresh bytes each time) and GetCapability(TPM_PROPERTIES, PT_FIXED).
fn small_command_set(t: &mut dyn Transport) {
    let mut rsp = Vec::new();
    let mut randoms = Vec::new();
    for _ in 0..2 {
        t.transact(&get_random(16), &mut rsp).unwrap();
        assert_eq!(rc(&rsp), 0, "{}: GetRandom rc", t.describe());
        assert_eq!(rsp.len(), HEADER_SIZE + 2 + 16);
        assert_eq!(&rsp[10..12], &[0, 16]);
        randoms.push(rsp[12..].to_vec());
    }
    assert_ne!(
        randoms[0], randoms[1],
        "two GetRandom answers were identical"
    );

    t.transact(&get_capability_fixed(8), &mut rsp).unwrap();
    assert_eq!(rc(&rsp), 0, "{}: GetCapability rc", t.describe());
    assert_eq!(be32(&rsp, 11), TPM_CAP_TPM_PROPERTIES);
    let count = be32(&rsp, 15) as usize;
    assert!((1..=8).contains(&count), "property count {count}");
    assert_eq!(rsp.len(), HEADER_SIZE + 1 + 4 + 4 + 8 * count);
    assert_eq!(
        be32(&rsp, 19),
        TPM_PT_FIXED,
        "first property is PT_FAMILY_INDICATOR"
    );
    assert_eq!(be32(&rsp, 23), FAMILY_2_0);
}

fn opened(tcti: &str) -> Box<dyn Transport> {
    let mut t = open(Some(tcti)).unwrap_or_else(|e| panic!("open {tcti}: {e}"));
    t.set_timeout(TEST_TIMEOUT);
    t
}

/// A loopback port with nothing listening (bound, then released).
/// `tpm2_getrandom --hex 8` against `tcti`, which must succeed (bounded: tpm2-tools itself
/// would wait forever); its standard output.
fn tools_getrandom(tcti: &str) -> Vec<u8> {
    let out = Command::new("timeout")
        .args(["20", "tpm2_getrandom", "-T", tcti, "--hex", "8"])
        .env_remove(TCTI_ENV_VAR)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "tpm2_getrandom: {:?} {}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

fn dead_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().port()
}

#[test]
fn swtpm_over_tcp() {
    let sim = Swtpm::spawn().unwrap();
    assert_eq!(
        sim.tcti(),
        format!("swtpm:host=127.0.0.1,port={}", sim.port().unwrap())
    );
    assert_eq!(sim.ctrl_port(), Some(sim.port().unwrap() + 1));
    assert!(sim.state_dir().is_dir());
    let mut t = opened(&sim.tcti());
    small_command_set(&mut *t);
    // Locality goes over the control channel; swtpm accepts 0..=4 and refuses others.
    t.set_locality(3).unwrap();
    small_command_set(&mut *t);
    t.set_locality(0).unwrap();
    let err = t.set_locality(200).unwrap_err();
    assert!(
        matches!(err, TransportError::Control { command: 5, .. }),
        "{err}"
    );
}

#[test]
fn swtpm_fixture_cleans_up_after_itself() {
    let sim = Swtpm::spawn().unwrap();
    let dir = sim.state_dir().to_path_buf();
    let pid = sim.pid().unwrap();
    drop(sim);
    assert!(!dir.exists(), "state dir left behind");
    // kill(pid, 0) fails once the process is gone (it was reaped, not left a zombie).
    assert_ne!(
        unsafe { libc::kill(pid as libc::pid_t, 0) },
        0,
        "swtpm still running"
    );
}

#[test]
fn swtpm_kept_open_connection_serves_many_commands() {
    let sim = Swtpm::spawn().unwrap();
    let proxy = CountingProxy::start(sim.port().unwrap());
    let mut t = SwtpmTransport::connect_with_timeout(proxy.endpoint(), TEST_TIMEOUT).unwrap();
    t.set_connection_per_command(false);
    for _ in 0..5 {
        small_command_set(&mut t);
    }
    // The proxy accepts in order, so once a command was answered on a connection every
    // earlier one is counted: the check `connect` makes, then the one kept.
    assert_eq!(
        proxy.accepted(),
        2,
        "15 commands on the one kept connection"
    );
    // The same count sees each connection of the default mode.
    t.set_connection_per_command(true);
    small_command_set(&mut t);
    assert_eq!(proxy.accepted(), 5, "one connection per command");
}

/// A TCP forwarder on loopback in front of swtpm's data port that counts the connections
/// clients open through it.
struct CountingProxy {
    port: u16,
    accepted: Arc<AtomicUsize>,
    stop: Arc<AtomicBool>,
    acceptor: Option<std::thread::JoinHandle<()>>,
}

impl CountingProxy {
    fn start(upstream: u16) -> CountingProxy {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let accepted = Arc::new(AtomicUsize::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        let acceptor = std::thread::spawn({
            let (accepted, stop) = (accepted.clone(), stop.clone());
            move || {
                for client in listener.incoming() {
                    if stop.load(Ordering::SeqCst) {
                        break;
                    }
                    let Ok(client) = client else { continue };
                    accepted.fetch_add(1, Ordering::SeqCst);
                    let Ok(server) = TcpStream::connect(("127.0.0.1", upstream)) else {
                        continue;
                    };
                    let (c, s) = (client.try_clone().unwrap(), server.try_clone().unwrap());
                    std::thread::spawn(move || forward(client, server));
                    std::thread::spawn(move || forward(s, c));
                }
            }
        });
        CountingProxy {
            port,
            accepted,
            stop,
            acceptor: Some(acceptor),
        }
    }

    fn endpoint(&self) -> Endpoint {
        Endpoint::Tcp {
            host: "127.0.0.1".into(),
            port: self.port,
        }
    }

    fn accepted(&self) -> usize {
        self.accepted.load(Ordering::SeqCst)
    }
}

impl Drop for CountingProxy {
    fn drop(&mut self) {
        // One more connection wakes the acceptor to see the stop flag.
        self.stop.store(true, Ordering::SeqCst);
        let _ = TcpStream::connect(("127.0.0.1", self.port));
        if let Some(acceptor) = self.acceptor.take() {
            let _ = acceptor.join();
        }
    }
}

/// Copies one direction until its end closes, then passes the close on.
fn forward(mut from: TcpStream, mut to: TcpStream) {
    let _ = std::io::copy(&mut from, &mut to);
    let _ = to.shutdown(std::net::Shutdown::Write);
}

#[test]
fn tpm2_tools_share_the_swtpm_with_a_live_transport() {
    // swtpm serves one data connection at a time, and tpm2-tools waits without a timeout:
    // a live transport must not hold the connection between commands by default.
    let sim = Swtpm::spawn().unwrap();
    let mut t = opened(&sim.tcti());
    small_command_set(&mut *t);
    tools_getrandom(&sim.tcti());
    small_command_set(&mut *t);
}

#[test]
fn swtpm_over_unix_socket() {
    let sim = Swtpm::spawn_unix().unwrap();
    let path = sim.socket_path().unwrap();
    assert_eq!(sim.tcti(), format!("swtpm:path={}", path.display()));
    assert_eq!(sim.port(), None);
    let mut t = opened(&sim.tcti());
    small_command_set(&mut *t);
    t.set_locality(1).unwrap();
    small_command_set(&mut *t);
}

#[test]
fn swtpm_transport_reconnects_after_a_restart() {
    let mut sim = Swtpm::spawn().unwrap();
    let mut t = sim.transport().unwrap();
    t.set_timeout(TEST_TIMEOUT);
    t.set_connection_per_command(false);
    small_command_set(&mut t);
    let old_pid = sim.pid();
    sim.restart().unwrap();
    assert_ne!(sim.pid(), old_pid);
    // The kept-open connection died with the old process; the transport notices before sending.
    small_command_set(&mut t);
}

#[test]
fn swtpm_reset_is_followed_by_an_automatic_startup() {
    let sim = Swtpm::spawn().unwrap();
    let mut t = sim.transport().unwrap();
    t.set_timeout(TEST_TIMEOUT);
    t.reset(false).unwrap();
    // After CMD_INIT the TPM answers TPM_RC_INITIALIZE until started; the transport does that.
    small_command_set(&mut t);

    let mut raw = sim.transport().unwrap();
    raw.set_timeout(TEST_TIMEOUT);
    raw.set_auto_startup(false);
    raw.reset(false).unwrap();
    let mut rsp = Vec::new();
    raw.transact(&get_random(8), &mut rsp).unwrap();
    assert_eq!(
        rc(&rsp),
        0x100,
        "without auto-startup the TPM's TPM_RC_INITIALIZE shows"
    );
}

#[test]
fn mssim_through_the_front() {
    let sim = Swtpm::spawn().unwrap();
    let front = MssimFront::for_swtpm(&sim).unwrap();
    assert_eq!(
        front.tcti(),
        format!("mssim:host=127.0.0.1,port={}", front.port().unwrap())
    );
    let mut t = opened(&front.tcti());
    small_command_set(&mut *t);
    t.set_locality(2).unwrap();
    small_command_set(&mut *t);
    drop(t);
    // A second client after the first ended its session.
    let mut t = opened(&front.tcti());
    small_command_set(&mut *t);
}

#[test]
fn mssim_over_unix_sockets_through_the_front() {
    let sim = Swtpm::spawn_unix().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let socket = dir.path().join("mssim.sock");
    let front = MssimFront::start_unix(sim.endpoint(), &socket).unwrap();
    assert_eq!(front.tcti(), format!("mssim:path={}", socket.display()));
    assert!(dir.path().join("mssim.sock.ctrl").exists());
    let mut t = opened(&front.tcti());
    small_command_set(&mut *t);
    drop(t);
    assert_eq!(tools_getrandom(&front.tcti()).len(), 16);
    drop(front);
    assert!(!socket.exists(), "socket file left behind");
}

#[test]
fn tpm2_tools_speak_mssim_to_the_front() {
    let sim = Swtpm::spawn().unwrap();
    let front = MssimFront::for_swtpm(&sim).unwrap();
    let hex = String::from_utf8(tools_getrandom(&front.tcti())).unwrap();
    assert_eq!(hex.trim().len(), 16, "{hex:?}");
    assert!(hex.trim().bytes().all(|b| b.is_ascii_hexdigit()), "{hex:?}");
}

#[test]
fn cmd_through_tpm2_send() {
    let sim = Swtpm::spawn().unwrap();
    let tcti = format!("cmd:tpm2_send -T {}", sim.tcti());
    let mut t = opened(&tcti);
    assert_eq!(t.describe(), tcti);
    small_command_set(&mut *t);
}

/// Kills the listener loop's whole process group when the test ends, pass or fail.
struct ProcessGroup(std::process::Child);

impl Drop for ProcessGroup {
    fn drop(&mut self) {
        unsafe { libc::kill(-(self.0.id() as libc::pid_t), libc::SIGTERM) };
        let _ = self.0.wait();
    }
}

fn wait_for(path: &Path) {
    let until = Instant::now() + Duration::from_secs(10);
    while !path.exists() {
        assert!(Instant::now() < until, "{} never appeared", path.display());
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn cmd_through_the_nc_fifo_recipe() {
    let sim = Swtpm::spawn().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let listener = Command::new("sh")
        .arg("-c")
        .arg("mkfifo backpipe; while true; do tpm2_send 0<backpipe | nc -lU sock 1>backpipe; done")
        .current_dir(dir.path())
        .env(TCTI_ENV_VAR, sim.tcti())
        .stdin(Stdio::null())
        .process_group(0)
        .spawn()
        .unwrap();
    let _group = ProcessGroup(listener);
    let sock = dir.path().join("sock");
    wait_for(&sock);
    let tcti = format!("cmd:nc -q 0 -U {}", sock.display());
    let mut t = opened(&tcti);
    small_command_set(&mut *t);
    drop(t);
    // The loop serves one client per iteration; a second client may arrive before nc has
    // re-bound the socket, so allow a few tries for the first exchange.
    let until = Instant::now() + Duration::from_secs(10);
    loop {
        let mut t = opened(&tcti);
        let mut rsp = Vec::new();
        match t.transact(&get_random(16), &mut rsp) {
            Ok(()) => {
                assert_eq!(rc(&rsp), 0);
                small_command_set(&mut *t);
                break;
            }
            Err(e) if Instant::now() < until => {
                assert!(matches!(e, TransportError::Closed { .. }), "{e}");
                std::thread::sleep(Duration::from_millis(50));
            }
            Err(e) => panic!("second client never got through: {e}"),
        }
    }
}

#[test]
fn malformed_tcti_strings_are_typed_errors() {
    let cases = [
        ("", "empty TCTI name"),
        (":host=x", "empty TCTI name"),
        ("foo", "unknown TCTI name"),
        ("libtss2-tcti-foo.so", "unknown TCTI name"),
        ("tabrmd:bus_type=session", "not supported"),
        ("cmd", "needs a shell command"),
        ("cmd:   ", "needs a shell command"),
        ("mssim:host=", "empty value"),
        ("mssim:port=", "empty value"),
        ("mssim:port=abc", "not a number"),
        ("mssim:port=70000", "not a number"),
        ("mssim:port=-1", "not a number"),
        ("mssim:port=0", "out of range"),
        ("swtpm:port=65535", "out of range"),
        ("swtpm:hots=x", "unknown key"),
        ("swtpm:host", "expected key=value"),
        ("swtpm:host=a,host=b", "given twice"),
        ("swtpm:path=/s,port=2", "cannot be combined"),
        ("swtpm:path=/s,host=h", "cannot be combined"),
    ];
    for (tcti, reason_part) in cases {
        match Tcti::parse(tcti) {
            Err(TransportError::BadTcti { tcti: got, reason }) => {
                assert_eq!(got, tcti);
                assert!(
                    reason.contains(reason_part),
                    "{tcti:?}: {reason:?} lacks {reason_part:?}"
                );
            }
            other => panic!("{tcti:?} gave {other:?}"),
        }
        // open() reports the same error before touching anything.
        assert!(
            matches!(open(Some(tcti)), Err(TransportError::BadTcti { .. })),
            "{tcti:?}"
        );
    }
}

#[test]
fn connection_refused_names_the_transport() {
    let port = dead_port();
    for name in ["swtpm", "mssim"] {
        let tcti = format!("{name}:host=127.0.0.1,port={port}");
        let err = open(Some(&tcti)).err().unwrap();
        assert!(
            matches!(&err, TransportError::Io { transport, source: Some(e), .. } if *transport == tcti && e.kind() == std::io::ErrorKind::ConnectionRefused),
            "{err:?}"
        );
        let text = err.to_string();
        assert!(
            text.starts_with(&tcti) && text.contains("connect"),
            "{text}"
        );
    }
}

#[test]
fn explicit_tcti_beats_the_environment_value() {
    let sim = Swtpm::spawn().unwrap();
    let mut t = open_with_env_value(None, Some(&sim.tcti())).unwrap();
    assert_eq!(t.describe(), sim.tcti());
    small_command_set(&mut *t);
    let dead = format!("swtpm:host=127.0.0.1,port={}", dead_port());
    let err = open_with_env_value(Some(&dead), Some(&sim.tcti()))
        .err()
        .unwrap();
    assert!(err.to_string().starts_with(&dead), "{err}");
    let err = open_with_env_value(None, Some("bogus")).err().unwrap();
    assert!(matches!(err, TransportError::BadTcti { .. }), "{err}");
}

/// Sets TPM2TOOLS_TCTI for a child copy of this test binary (never in this process: other
/// tests run in parallel threads) and runs `open_none_reads_the_environment_child` there.
#[test]
fn open_none_reads_the_environment() {
    let sim = Swtpm::spawn().unwrap();
    let dead = format!("swtpm:host=127.0.0.1,port={}", dead_port());
    let out = Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "open_none_reads_the_environment_child",
            "--ignored",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(TCTI_ENV_VAR, sim.tcti())
        .env("TPM2_WIRE_DEAD_TCTI", &dead)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // Printed only at the end of the child's checks: a child that returned early (or ran
    // nothing) passes as a test but prints no such line.
    let want = format!("env-tcti-result opened {} refused {dead}\n", sim.tcti());
    assert!(stdout.contains(&want), "want {want:?} in {stdout}");
}

#[test]
#[ignore = "runs in a child process started by open_none_reads_the_environment"]
fn open_none_reads_the_environment_child() {
    // Run without its parent (`--ignored`): nothing to check.
    let Ok(dead) = std::env::var("TPM2_WIRE_DEAD_TCTI") else {
        return;
    };
    let from_env = std::env::var(TCTI_ENV_VAR).unwrap();
    let mut t = open(None).unwrap();
    assert_eq!(t.describe(), from_env);
    small_command_set(&mut *t);
    // -T (Some) wins over the variable even when it points at nothing.
    let err = open(Some(&dead)).err().unwrap();
    assert!(err.to_string().starts_with(&dead), "{err}");
    println!("env-tcti-result opened {} refused {dead}", t.describe());
}

#[test]
fn probing_reports_every_candidate() {
    let dead = format!("swtpm:host=127.0.0.1,port={}", dead_port());
    let candidates = [
        Tcti::parse("device:/nonexistent/tpmrm9").unwrap(),
        Tcti::parse(&dead).unwrap(),
        Tcti::parse("cmd:exit 3").unwrap(),
    ];
    let err = probe(&candidates, SHORT_TIMEOUT).err().unwrap();
    let TransportError::NoTpmFound { tried, .. } = &err else {
        panic!("{err:?}");
    };
    assert_eq!(tried.len(), 3);
    let text = err.to_string();
    for needle in [
        "device:/nonexistent/tpmrm9",
        "No such file",
        &dead,
        "refused",
        "cmd:exit 3",
        "exit status: 3",
        "TPM2TOOLS_TCTI",
    ] {
        assert!(text.contains(needle), "{text} lacks {needle}");
    }
}

fn cmd(command: &str, timeout: Duration) -> Box<dyn Transport> {
    let mut t = open(Some(&format!("cmd:{command}"))).unwrap();
    t.set_timeout(timeout);
    t
}

/// The error GetRandom(8) meets through the `cmd:` relay `command` (short timeout).
fn cmd_error(command: &str) -> TransportError {
    cmd(command, SHORT_TIMEOUT)
        .transact(&get_random(8), &mut Vec::new())
        .unwrap_err()
}

/// The reason of the malformed-response error GetRandom(8) meets through `command`.
fn malformed(command: &str) -> String {
    malformed_reason(cmd_error(command), command)
}

fn malformed_reason(err: TransportError, command: &str) -> String {
    match err {
        TransportError::MalformedResponse { transport, reason } => {
            assert_eq!(transport, format!("cmd:{command}"));
            reason
        }
        other => panic!("{command}: expected a malformed response, got {other:?}"),
    }
}

#[test]
fn cmd_child_that_exits_is_reported_with_its_status() {
    for (command, status) in [
        ("true", "exit status: 0"),
        ("exit 7", "exit status: 7"),
        ("/nonexistent/relay", "exit status: 127"),
    ] {
        let err = cmd_error(command);
        match &err {
            TransportError::Closed { transport, detail } => {
                assert_eq!(transport, &format!("cmd:{command}"));
                assert!(detail.contains(status), "{command}: {detail}");
            }
            other => panic!("{command}: {other:?}"),
        }
    }
}

/// A fake relay: consumes the 12-byte GetRandom(8) command, prints `reply` (printf escapes),
/// then either keeps stdout open (`linger`) or closes it by exec'ing into a sink.
fn fake_relay(reply: &str, linger: bool) -> String {
    let tail = if linger {
        "cat >/dev/null"
    } else {
        "exec cat >/dev/null"
    };
    format!("head -c 12 >/dev/null; printf '{reply}'; {tail}")
}

#[test]
fn cmd_short_response_then_eof_is_malformed() {
    let command = fake_relay(r"\200\001\000\000\000\040", false);
    let reason = malformed(&command);
    assert!(reason.contains("after 6 bytes"), "{reason}");

    let command = fake_relay(r"\200\001\000\000\000\040\000\000\000\000\001\002", false);
    let reason = malformed(&command);
    assert!(
        reason.contains("declares 32 bytes, only 12 arrived"),
        "{reason}"
    );
}

#[test]
fn cmd_short_response_that_stalls_times_out() {
    let command = fake_relay(r"\200\001\000\000\000\040\000\000\000\000", true);
    let err = cmd_error(&command);
    assert!(
        matches!(&err, TransportError::Timeout { transport, waited, .. } if *transport == format!("cmd:{command}") && *waited == SHORT_TIMEOUT),
        "{err:?}"
    );
    // A relay that never answers at all.
    let err = cmd_error("sleep 30");
    assert!(matches!(err, TransportError::Timeout { .. }), "{err:?}");
}

#[test]
fn cmd_bad_size_fields_are_refused_before_allocating() {
    let command = fake_relay(r"\200\001\000\000\000\005\000\000\000\000", true);
    let reason = malformed(&command);
    assert!(reason.contains("declares 5 bytes, less than"), "{reason}");

    let command = fake_relay(r"\200\001\177\377\377\377\000\000\000\000", true);
    let mut rsp = Vec::new();
    let reason = malformed_reason(
        cmd(&command, SHORT_TIMEOUT)
            .transact(&get_random(8), &mut rsp)
            .unwrap_err(),
        &command,
    );
    assert!(
        reason.contains("declares 2147483647 bytes, more than"),
        "{reason}"
    );
    assert!(
        rsp.capacity() < 1024 * 1024,
        "allocated {} bytes",
        rsp.capacity()
    );
}

#[test]
fn cmd_response_longer_than_its_header_is_malformed() {
    let command = fake_relay(r"\200\001\000\000\000\012\000\000\000\000XYZ", true);
    let reason = malformed(&command);
    assert!(reason.contains("longer than its header"), "{reason}");
}

#[test]
fn cmd_relays_exact_bytes_over_one_spawn() {
    // `cat` echoes each command: a well-formed frame comes back byte for byte, and the
    // same child serves every command (one spawn per transport).
    let mut t = cmd("cat", TEST_TIMEOUT);
    let mut rsp = Vec::new();
    for n in [1u16, 16, 300] {
        let command = get_random(n);
        t.transact(&command, &mut rsp).unwrap();
        assert_eq!(rsp, command);
    }
}

#[test]
fn malformed_commands_are_not_sent() {
    let mut t = cmd("cat", SHORT_TIMEOUT);
    let mut wrong_size = get_random(8);
    wrong_size.push(0);
    for bad in [&[0x80u8, 1, 0][..], &wrong_size[..]] {
        let err = t.transact(bad, &mut Vec::new()).unwrap_err();
        assert!(
            matches!(err, TransportError::MalformedCommand { .. }),
            "{err:?}"
        );
    }
    // The relay is still in step.
    let mut rsp = Vec::new();
    t.transact(&get_random(4), &mut rsp).unwrap();
    assert_eq!(rsp, get_random(4));
}

#[test]
fn device_open_of_a_missing_path_explains() {
    let err = open(Some("device:/nonexistent/tpmrm0")).err().unwrap();
    let text = err.to_string();
    assert!(text.starts_with("device:/nonexistent/tpmrm0"), "{text}");
    assert!(text.contains("no such device"), "{text}");
}

/// A fake kernel device on a socketpair: the test plays the driver on the other end.
fn fake_device(timeout: Duration) -> (DeviceTransport, UnixStream) {
    let (ours, theirs) = UnixStream::pair().unwrap();
    let file = std::fs::File::from(OwnedFd::from(ours));
    let mut t = DeviceTransport::from_file("fake-tpm", file);
    t.set_timeout(timeout);
    (t, theirs)
}

#[test]
fn device_exchanges_one_write_and_one_read() {
    use std::io::{Read, Write};
    let (mut t, mut driver) = fake_device(TEST_TIMEOUT);
    let command = get_random(4);
    let server = std::thread::spawn(move || {
        let mut got = [0u8; 12];
        driver.read_exact(&mut got).unwrap();
        driver
            .write_all(&[0x80, 1, 0, 0, 0, 16, 0, 0, 0, 0, 0, 4, 9, 8, 7, 6])
            .unwrap();
        (got, driver)
    });
    let mut rsp = Vec::new();
    t.transact(&command, &mut rsp).unwrap();
    let (got, mut driver) = server.join().unwrap();
    assert_eq!(&got[..], &command[..]);
    assert_eq!(rsp, [0x80, 1, 0, 0, 0, 16, 0, 0, 0, 0, 0, 4, 9, 8, 7, 6]);

    // Longer than the header says.
    driver
        .write_all(&[0x80, 1, 0, 0, 0, 10, 0, 0, 0, 0, 0xEE])
        .unwrap();
    let err = t.transact(&command, &mut rsp).unwrap_err();
    assert!(
        matches!(&err, TransportError::MalformedResponse { transport, .. } if transport == "device:fake-tpm"),
        "{err:?}"
    );
}

#[test]
fn device_that_never_answers_times_out() {
    let (mut t, _driver) = fake_device(SHORT_TIMEOUT);
    let err = t.transact(&get_random(4), &mut Vec::new()).unwrap_err();
    assert!(matches!(err, TransportError::Timeout { .. }), "{err:?}");
}

#[test]
fn device_discards_the_late_answer_to_a_timed_out_command() {
    use std::io::{Read, Write};
    let (mut t, mut driver) = fake_device(SHORT_TIMEOUT);
    let err = t.transact(&get_random(4), &mut Vec::new()).unwrap_err();
    assert!(matches!(err, TransportError::Timeout { .. }), "{err:?}");
    // The first command's answer arrives late, then the second command is answered.
    let mut first = [0u8; 12];
    driver.read_exact(&mut first).unwrap();
    driver
        .write_all(&[0x80, 1, 0, 0, 0, 12, 0, 0, 0, 0, 0, 0])
        .unwrap();
    let server = std::thread::spawn(move || {
        let mut second = [0u8; 12];
        driver.read_exact(&mut second).unwrap();
        driver
            .write_all(&[0x80, 1, 0, 0, 0, 14, 0, 0, 0, 0, 0, 2, 0xAB, 0xCD])
            .unwrap();
        driver
    });
    t.set_timeout(TEST_TIMEOUT);
    let mut rsp = Vec::new();
    t.transact(&get_random(2), &mut rsp).unwrap();
    assert_eq!(rsp, [0x80, 1, 0, 0, 0, 14, 0, 0, 0, 0, 0, 2, 0xAB, 0xCD]);
    drop(server.join().unwrap());
}

#[test]
fn device_errno_is_reported_with_a_hint() {
    let (mut t, driver) = fake_device(SHORT_TIMEOUT);
    drop(driver);
    let err = t.transact(&get_random(4), &mut Vec::new()).unwrap_err();
    match &err {
        TransportError::Device {
            transport,
            operation,
            errno,
            hint,
            ..
        } => {
            assert_eq!(transport, "device:fake-tpm");
            assert_eq!(*operation, "write");
            assert_eq!(*errno, libc::EPIPE);
            assert!(hint.contains("removed"), "{hint}");
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn cmd_transport_refuses_reuse_after_a_failure() {
    let command = fake_relay(r"\200\001\000\000\000\040\000\000\000\000", true);
    let mut t = cmd(&command, SHORT_TIMEOUT);
    let first = t.transact(&get_random(8), &mut Vec::new()).unwrap_err();
    assert!(matches!(first, TransportError::Timeout { .. }), "{first:?}");
    let second = t.transact(&get_random(8), &mut Vec::new()).unwrap_err();
    match second {
        TransportError::Closed { detail, .. } => {
            assert!(detail.contains("earlier failure"), "{detail}")
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn dropping_the_front_with_a_client_connected_does_not_hang() {
    let sim = Swtpm::spawn().unwrap();
    let front = MssimFront::for_swtpm(&sim).unwrap();
    let mut t = opened(&front.tcti());
    small_command_set(&mut *t);
    t.set_timeout(SHORT_TIMEOUT);
    drop(front);
    // The front closed the connection; the transport reconnects, finds nobody and says so.
    let err = t.transact(&get_random(8), &mut Vec::new()).unwrap_err();
    assert!(
        matches!(&err, TransportError::Io { transport, .. } | TransportError::Closed { transport, .. } if transport.starts_with("mssim:")),
        "{err:?}"
    );
}

#[test]
fn mssim_sends_startup_when_the_simulator_was_reset() {
    let sim = Swtpm::spawn().unwrap();
    // TPM reset over swtpm's control channel: the TPM now answers TPM_RC_INITIALIZE.
    let mut control = sim.transport().unwrap();
    control.reset(false).unwrap();
    drop(control);
    let front = MssimFront::for_swtpm(&sim).unwrap();
    let mut t = opened(&front.tcti());
    // The front relays untouched; MssimTransport itself notices and sends TPM2_Startup.
    small_command_set(&mut *t);
}

#[test]
fn mssim_against_raw_swtpm_fails_at_power_on_with_a_typed_error() {
    // swtpm's control port does not speak the simulator's platform protocol (NV_ON lands
    // on another control command): the transport must say so instead of misbehaving later.
    let sim = Swtpm::spawn().unwrap();
    let tcti = format!("mssim:host=127.0.0.1,port={}", sim.port().unwrap());
    let err = open(Some(&tcti)).err().unwrap();
    assert!(
        matches!(&err, TransportError::Control { transport, channel: "platform", .. } if *transport == tcti),
        "{err:?}"
    );
}

/// A loopback "TPM" that accepts connections on `port` and never answers; the connections
/// stay open (held by the thread) until the test process exits.
fn silent_listener(port: u16) {
    let l = std::net::TcpListener::bind(("127.0.0.1", port)).unwrap();
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for s in l.incoming().flatten() {
            held.push(s);
        }
    });
}

/// A free port P with P + 1 free too (mssim's platform channel), both listening silently.
fn silent_pair() -> u16 {
    loop {
        let port = dead_port();
        if port < u16::MAX - 1 && std::net::TcpListener::bind(("127.0.0.1", port + 1)).is_ok() {
            silent_listener(port);
            silent_listener(port + 1);
            return port;
        }
    }
}

/// The slave side of a fresh pseudo-terminal: a character device that takes our writes and
/// never has anything to read, like a TPM that never answers. The master must stay open.
fn silent_device() -> (OwnedFd, String) {
    use std::os::fd::FromRawFd;
    // SAFETY: plain libc calls on a descriptor we own; ptsname_r writes a NUL-terminated
    // name of at most buf.len() bytes.
    unsafe {
        let master = libc::posix_openpt(libc::O_RDWR | libc::O_NOCTTY | libc::O_CLOEXEC);
        assert!(
            master >= 0,
            "posix_openpt: {}",
            std::io::Error::last_os_error()
        );
        let master = OwnedFd::from_raw_fd(master);
        let fd = std::os::fd::AsRawFd::as_raw_fd(&master);
        assert_eq!(libc::grantpt(fd), 0);
        assert_eq!(libc::unlockpt(fd), 0);
        let mut buf = [0 as libc::c_char; 128];
        assert_eq!(libc::ptsname_r(fd, buf.as_mut_ptr(), buf.len()), 0);
        let name = std::ffi::CStr::from_ptr(buf.as_ptr())
            .to_str()
            .unwrap()
            .to_string();
        (master, name)
    }
}

/// `timeout=1` on every transport: a TPM that accepts the command and never answers makes it
/// fail within a few seconds (not the 300 s default), with a timeout naming the transport.
#[test]
fn timeout_option_bounds_a_tpm_that_never_answers() {
    let swtpm_port = silent_pair();
    let mssim_port = silent_pair();
    let (_master, pty) = silent_device();
    let cases = [
        (
            format!("swtpm:host=127.0.0.1,port={swtpm_port},timeout=1"),
            format!("swtpm:host=127.0.0.1,port={swtpm_port}"),
        ),
        (
            format!("mssim:host=127.0.0.1,timeout=1,port={mssim_port}"),
            format!("mssim:host=127.0.0.1,port={mssim_port}"),
        ),
        ("cmd:timeout=1,sleep 60".to_string(), "cmd:sleep 60".into()),
        (format!("device:timeout=1,{pty}"), format!("device:{pty}")),
    ];
    for (tcti, name) in cases {
        let start = Instant::now();
        // mssim notices at its power-on handshake, the others at the first command.
        let err = open(Some(&tcti))
            .and_then(|mut t| t.transact(&get_random(8), &mut Vec::new()))
            .unwrap_err();
        let took = start.elapsed();
        assert!(
            matches!(&err, TransportError::Timeout { transport, waited, .. }
                if *transport == name && *waited == Duration::from_secs(1)),
            "{tcti}: {err:?}"
        );
        assert!(err.to_string().starts_with(&name), "{err}");
        assert!(
            took >= Duration::from_secs(1) && took < Duration::from_secs(5),
            "{tcti}: took {took:?}"
        );
    }
}

#[test]
fn timeout_option_is_validated() {
    for (tcti, reason_part) in [
        ("swtpm:timeout=0", "from 1 to 86400"),
        ("swtpm:timeout=86401", "from 1 to 86400"),
        ("mssim:timeout=1.5", "whole number of seconds"),
        ("mssim:timeout=-1", "whole number of seconds"),
        ("swtpm:timeout=1,timeout=2", "given twice"),
        ("device:timeout=", "whole number of seconds"),
        ("device:timeout=x,/dev/tpm0", "whole number of seconds"),
        ("device:timeout=1,timeout=2", "given twice"),
        ("cmd:timeout=5,", "needs a shell command"),
        ("cmd:timeout=5", "needs a shell command"),
        (
            "cmd:timeout=99999999999999999999,true",
            "whole number of seconds",
        ),
    ] {
        match Tcti::parse(tcti) {
            Err(TransportError::BadTcti { reason, .. }) => {
                assert!(reason.contains(reason_part), "{tcti}: {reason}")
            }
            other => panic!("{tcti:?} gave {other:?}"),
        }
    }
    let t = Tcti::parse("cmd:timeout=30,tpm2_send -T swtpm:port=2321,x").unwrap();
    assert_eq!(t.timeout(), Some(Duration::from_secs(30)));
    assert_eq!(
        t.to_string(),
        "cmd:timeout=30,tpm2_send -T swtpm:port=2321,x"
    );
    assert_eq!(Tcti::parse("device:/dev/tpm0").unwrap().timeout(), None);
}

/// A caller-chosen timeout far past any deadline the clock can represent is capped, not a
/// panic on `Instant + Duration` overflow.
#[test]
fn a_huge_timeout_is_capped_not_a_panic() {
    let mut t = cmd("exit 3", Duration::MAX);
    let err = t.transact(&get_random(8), &mut Vec::new()).unwrap_err();
    assert!(matches!(err, TransportError::Closed { .. }), "{err:?}");
}

/// Whether `pid` is a live process (not gone, not a zombie waiting to be reaped).
fn alive(pid: i32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        // The state follows the parenthesised command name, which may hold spaces.
        Ok(stat) => !matches!(
            stat.rsplit_once(") ")
                .and_then(|(_, rest)| rest.chars().next()),
            Some('Z' | 'X') | None
        ),
        Err(_) => false,
    }
}

/// Waits up to 10 s for `path` to hold a process id.
fn read_pid(path: &Path) -> i32 {
    let until = Instant::now() + Duration::from_secs(10);
    loop {
        if let Some(pid) = std::fs::read_to_string(path)
            .ok()
            .and_then(|s| s.trim().parse().ok())
        {
            return pid;
        }
        assert!(
            Instant::now() < until,
            "{} never got a pid: the command died or never started",
            path.display()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// The kernel's parent-death signal follows the thread that forked, so a transport opened in
/// a thread that then ends must keep its command.
#[test]
fn cmd_child_outlives_the_thread_that_opened_it() {
    let dir = tempfile::tempdir().unwrap();
    let pid_file = dir.path().join("pid");
    let command = format!("echo $$ > {}; exec sleep 60", pid_file.display());
    let t = std::thread::spawn(move || cmd(&command, TEST_TIMEOUT))
        .join()
        .unwrap();
    let pid = read_pid(&pid_file);
    std::thread::sleep(Duration::from_millis(300));
    assert!(
        alive(pid),
        "the command died with the thread that opened it"
    );
    drop(t);
    assert!(!alive(pid));
}

/// Dropping the transport ends the command and what it started (its process group).
#[test]
fn dropping_a_cmd_transport_ends_its_process_group() {
    let dir = tempfile::tempdir().unwrap();
    let (sh_file, sleep_file) = (dir.path().join("sh"), dir.path().join("sleep"));
    let command = format!(
        "echo $$ > {}; sleep 60 & echo $! > {}; wait",
        sh_file.display(),
        sleep_file.display()
    );
    let t = cmd(&command, TEST_TIMEOUT);
    let (sh, sleep) = (read_pid(&sh_file), read_pid(&sleep_file));
    assert!(alive(sh) && alive(sleep));
    drop(t);
    let until = Instant::now() + Duration::from_secs(5);
    while alive(sleep) && Instant::now() < until {
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(!alive(sh) && !alive(sleep));
}

/// A listening Unix socket whose backlog is full: one more blocking connect would wait until
/// someone accepts, which nobody does.
fn full_unix_listener(path: &Path) -> (OwnedFd, Vec<OwnedFd>) {
    use std::os::fd::{AsRawFd, FromRawFd};
    use std::os::unix::ffi::OsStrExt;
    fn sockaddr(path: &Path) -> (libc::sockaddr_un, libc::socklen_t) {
        // SAFETY: sockaddr_un is plain data.
        let mut sa: libc::sockaddr_un = unsafe { std::mem::zeroed() };
        sa.sun_family = libc::AF_UNIX as libc::sa_family_t;
        for (d, s) in sa.sun_path.iter_mut().zip(path.as_os_str().as_bytes()) {
            *d = *s as libc::c_char;
        }
        let len = std::mem::size_of::<libc::sa_family_t>() + path.as_os_str().len() + 1;
        (sa, len as libc::socklen_t)
    }
    let (sa, len) = sockaddr(path);
    // SAFETY: plain socket calls on descriptors this function owns; `sa` is valid for `len`.
    unsafe {
        let l = libc::socket(libc::AF_UNIX, libc::SOCK_STREAM | libc::SOCK_CLOEXEC, 0);
        assert!(l >= 0);
        let listener = OwnedFd::from_raw_fd(l);
        assert_eq!(
            libc::bind(l, (&sa as *const libc::sockaddr_un).cast(), len),
            0
        );
        assert_eq!(libc::listen(l, 0), 0);
        let mut queued = Vec::new();
        loop {
            let c = libc::socket(
                libc::AF_UNIX,
                libc::SOCK_STREAM | libc::SOCK_CLOEXEC | libc::SOCK_NONBLOCK,
                0,
            );
            assert!(c >= 0);
            let c = OwnedFd::from_raw_fd(c);
            if libc::connect(c.as_raw_fd(), (&sa as *const libc::sockaddr_un).cast(), len) != 0 {
                let e = std::io::Error::last_os_error();
                assert_eq!(e.raw_os_error(), Some(libc::EAGAIN), "{e}");
                break;
            }
            queued.push(c);
            assert!(queued.len() < 1000, "the backlog never filled");
        }
        (listener, queued)
    }
}

#[test]
fn swtpm_connect_to_a_full_backlog_times_out() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("busy.sock");
    let _held = full_unix_listener(&path);
    let endpoint = tpm2_wire::transport::Endpoint::Unix { path: path.clone() };
    let (tx, rx) = std::sync::mpsc::channel();
    let started = Instant::now();
    std::thread::spawn(move || {
        let r = tpm2_wire::transport::SwtpmTransport::connect_with_timeout(
            endpoint,
            Duration::from_millis(500),
        );
        let _ = tx.send(r.map(|_| ()));
    });
    // Without a bound on connect, this waits for ever (the thread stays blocked).
    let r = rx
        .recv_timeout(Duration::from_secs(20))
        .expect("connecting to a listener that never accepts must time out");
    let err = r.expect_err("nobody accepted");
    let TransportError::Io {
        source: Some(source),
        ..
    } = &err
    else {
        panic!("not an I/O error: {err}");
    };
    assert_eq!(
        source.kind(),
        std::io::ErrorKind::TimedOut,
        "{err}: {source}"
    );
    assert!(started.elapsed() < Duration::from_secs(10));
}

/// A fake swtpm data socket: answers each connection's command with `reply`, written in the
/// given pieces (with a pause between them), then waits for the client to close.
fn fake_swtpm(pieces: Vec<Vec<u8>>, connections: usize) -> u16 {
    use std::io::{Read, Write};
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for _ in 0..connections {
            let Ok((mut s, _)) = l.accept() else { return };
            let mut header = [0u8; HEADER_SIZE];
            if s.read_exact(&mut header).is_err() {
                continue;
            }
            let size = be32(&header, 2) as usize;
            let mut rest = vec![0u8; size - HEADER_SIZE];
            if s.read_exact(&mut rest).is_err() {
                continue;
            }
            for (i, p) in pieces.iter().enumerate() {
                if i > 0 {
                    std::thread::sleep(Duration::from_millis(30));
                }
                let _ = s.write_all(p);
            }
            let mut sink = [0u8; 64];
            let _ = s.read(&mut sink);
        }
    });
    port
}

#[test]
fn swtpm_responses_are_read_whole_and_overlong_ones_refused() {
    use tpm2_wire::transport::{Endpoint, SwtpmTransport};
    // A GetRandom answer of 4 bytes: header, TPM2B of 4.
    let answer = vec![0x80, 0x01, 0, 0, 0, 16, 0, 0, 0, 0, 0, 4, 1, 2, 3, 4];
    let endpoint = |port| Endpoint::Tcp {
        host: "127.0.0.1".into(),
        port,
    };
    for per_command in [true, false] {
        // In pieces: a header alone, then the body in two parts.
        let pieces = vec![
            answer[..6].to_vec(),
            answer[6..12].to_vec(),
            answer[12..].to_vec(),
        ];
        // One connection for the check in `connect`, one per command.
        let port = fake_swtpm(pieces, 3);
        let mut t = SwtpmTransport::connect_with_timeout(endpoint(port), SHORT_TIMEOUT).unwrap();
        t.set_connection_per_command(per_command);
        t.set_auto_startup(false);
        let mut rsp = Vec::new();
        t.transact(&get_random(4), &mut rsp).unwrap();
        assert_eq!(rsp, answer, "per command: {per_command}");

        // Three bytes more than the header says, in the same write as the frame.
        let mut overlong = answer.clone();
        overlong.extend_from_slice(b"XYZ");
        let port = fake_swtpm(vec![overlong], 2);
        let mut t = SwtpmTransport::connect_with_timeout(endpoint(port), SHORT_TIMEOUT).unwrap();
        t.set_connection_per_command(per_command);
        t.set_auto_startup(false);
        let err = t.transact(&get_random(4), &mut rsp).unwrap_err();
        let TransportError::MalformedResponse { reason, .. } = err else {
            panic!("not a malformed response: {err}");
        };
        assert!(reason.contains("longer than its header"), "{reason}");
    }
}
