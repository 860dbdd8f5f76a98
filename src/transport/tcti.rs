//! TCTI configuration strings in the tpm2-tss form `name:conf`, and opening a transport from
//! one (explicit string, else `TPM2TOOLS_TCTI`, else default probing).

use std::path::PathBuf;
use std::time::Duration;

use super::{
    CmdTransport, DeviceTransport, Endpoint, MssimTransport, SwtpmTransport, Transport,
    TransportError,
};

/// The environment variable tpm2-tools reads when no `-T` is given.
pub const TCTI_ENV_VAR: &str = "TPM2TOOLS_TCTI";

/// The device paths tried, in order, when `device` has no path (same as tpm2-tss).
pub const DEFAULT_DEVICES: [&str; 2] = ["/dev/tpmrm0", "/dev/tpm0"];

/// Candidates tried by [`open`] when neither an explicit TCTI nor the environment gives one,
/// in tpm2-tss's order (tabrmd is not supported).
pub const DEFAULT_PROBE: [&str; 4] = [
    "device:/dev/tpmrm0",
    "device:/dev/tpm0",
    "swtpm:host=localhost,port=2321",
    "mssim:host=localhost,port=2321",
];

const DEFAULT_HOST: &str = "localhost";
const DEFAULT_PORT: u16 = 2321;
/// How long default probing waits for each candidate to answer.
const PROBE_TIMEOUT: Duration = Duration::from_secs(2);

/// The longest `timeout=` accepted: a day. Longer waits are indistinguishable from a hang,
/// and the bound keeps every deadline computation far from overflow.
pub const MAX_TIMEOUT_SECS: u64 = 24 * 60 * 60;

/// A parsed TCTI configuration.
///
/// Every TCTI takes a `timeout=SECONDS` option (1 to [`MAX_TIMEOUT_SECS`]): how long one
/// command may wait for the TPM's answer before it fails with [`TransportError::Timeout`]
/// naming the transport. For `swtpm:` and `mssim:` it is one more `key=value` item
/// (`swtpm:host=H,port=P,timeout=30`); for `device:` and `cmd:`, whose configuration is a
/// path or a command, it is a leading item ending at the first comma
/// (`device:timeout=30,/dev/tpmrm0`, `device:timeout=30`, `cmd:timeout=30,tpm2_send`).
/// Connecting (and the simulators' power-on handshake) waits at most
/// [`super::CONNECT_TIMEOUT`], or the timeout if shorter.
///
/// Defaults, when no timeout is given (all [`super::DEFAULT_TIMEOUT`], 300 s):
///
/// | transport | default | why |
/// | --- | --- | --- |
/// | `device:` | 300 s | real hardware: RSA-3072/4096 key generation on a slow discrete TPM takes minutes |
/// | `cmd:` | 300 s | the relay may reach real hardware (e.g. over ssh), same as `device:` |
/// | `swtpm:` | 300 s | a simulator is fast, but may be remote or on a loaded machine |
/// | `mssim:` | 300 s | as `swtpm:` |
///
/// Shorten it when a TPM that stops answering must be noticed sooner; lengthen it for TPMs
/// that are slower still.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Tcti {
    /// A kernel TPM character device; `path: None` tries `/dev/tpmrm0` then `/dev/tpm0`.
    Device {
        /// The device, or `None` to probe.
        path: Option<PathBuf>,
        /// The command timeout (`timeout=SECONDS`), or `None` for the default.
        timeout: Option<Duration>,
    },
    /// The Microsoft simulator protocol (TPM port P, platform port P+1).
    Mssim {
        /// The TPM command socket.
        endpoint: Endpoint,
        /// The command timeout, or `None` for the default.
        timeout: Option<Duration>,
    },
    /// swtpm's raw data socket (control channel at P+1 or `<path>.ctrl`).
    Swtpm {
        /// The data socket.
        endpoint: Endpoint,
        /// The command timeout, or `None` for the default.
        timeout: Option<Duration>,
    },
    /// A shell command relaying raw frames on its stdin/stdout.
    Cmd {
        /// The command line, run with `sh -c`.
        command: String,
        /// The command timeout, or `None` for the default.
        timeout: Option<Duration>,
    },
}

impl Tcti {
    /// Parses `name:conf`, split at the first colon (so `cmd:` commands may contain colons).
    pub fn parse(tcti: &str) -> Result<Tcti, TransportError> {
        let bad = |reason: String| TransportError::BadTcti {
            tcti: tcti.to_string(),
            reason,
        };
        let (name, conf) = match tcti.split_once(':') {
            Some((name, conf)) => (name, conf),
            None => (tcti, ""),
        };
        match name {
            "device" => {
                let (timeout, path) = leading_timeout(conf).map_err(bad)?;
                Ok(Tcti::Device {
                    path: (!path.is_empty()).then(|| PathBuf::from(path)),
                    timeout,
                })
            }
            "mssim" => parse_endpoint(conf)
                .map(|(endpoint, timeout)| Tcti::Mssim { endpoint, timeout })
                .map_err(bad),
            "swtpm" => parse_endpoint(conf)
                .map(|(endpoint, timeout)| Tcti::Swtpm { endpoint, timeout })
                .map_err(bad),
            "cmd" => {
                let (timeout, command) = leading_timeout(conf).map_err(bad)?;
                if command.trim().is_empty() {
                    Err(bad("cmd needs a shell command after `cmd:`".into()))
                } else {
                    Ok(Tcti::Cmd {
                        command: command.to_string(),
                        timeout,
                    })
                }
            }
            "" => Err(bad("empty TCTI name".into())),
            "tabrmd" => Err(bad(
                "tabrmd (D-Bus resource manager) is not supported; use device:/dev/tpmrm0".into(),
            )),
            other => Err(bad(format!(
                "unknown TCTI name {other:?} (supported: device, mssim, swtpm, cmd)"
            ))),
        }
    }

    /// The `timeout=` option, if one was given (else the transport's default applies).
    pub fn timeout(&self) -> Option<Duration> {
        match self {
            Tcti::Device { timeout, .. }
            | Tcti::Mssim { timeout, .. }
            | Tcti::Swtpm { timeout, .. }
            | Tcti::Cmd { timeout, .. } => *timeout,
        }
    }

    /// Opens the transport this configuration describes, with its `timeout=` if given.
    pub fn open(&self) -> Result<Box<dyn Transport>, TransportError> {
        let timeout = self.timeout();
        let mut t: Box<dyn Transport> = match self {
            Tcti::Device {
                path: Some(path), ..
            } => Box::new(DeviceTransport::open(path)?),
            Tcti::Device { path: None, .. } => {
                let mut tried = Vec::new();
                let mut found = None;
                for path in DEFAULT_DEVICES {
                    match DeviceTransport::open(path) {
                        Ok(t) => {
                            found = Some(t);
                            break;
                        }
                        Err(e) => tried.push(e.to_string()),
                    }
                }
                Box::new(found.ok_or_else(|| TransportError::Io {
                    transport: "device".into(),
                    message: format!("no TPM device could be opened: {}", tried.join("; ")),
                    source: None,
                })?)
            }
            Tcti::Mssim { endpoint, .. } => Box::new(MssimTransport::connect_with_timeout(
                endpoint.clone(),
                timeout.unwrap_or(super::DEFAULT_TIMEOUT),
            )?),
            Tcti::Swtpm { endpoint, .. } => Box::new(SwtpmTransport::connect_with_timeout(
                endpoint.clone(),
                timeout.unwrap_or(super::DEFAULT_TIMEOUT),
            )?),
            Tcti::Cmd { command, .. } => Box::new(CmdTransport::spawn(command)?),
        };
        if let Some(timeout) = timeout {
            t.set_timeout(timeout);
        }
        Ok(t)
    }
}

impl std::fmt::Display for Tcti {
    /// The canonical string; [`Tcti::parse`] reads it back to an equal value.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Only whole seconds can be parsed, so only those are ever stored.
        let lead = |t: &Option<Duration>| match t {
            Some(t) => format!("timeout={},", t.as_secs()),
            None => String::new(),
        };
        let tail = |t: &Option<Duration>| match t {
            Some(t) => format!(",timeout={}", t.as_secs()),
            None => String::new(),
        };
        match self {
            Tcti::Device {
                path: None,
                timeout: None,
            } => f.write_str("device"),
            Tcti::Device {
                path: None,
                timeout: Some(t),
            } => write!(f, "device:timeout={}", t.as_secs()),
            Tcti::Device {
                path: Some(p),
                timeout,
            } => write!(f, "device:{}{}", lead(timeout), p.display()),
            Tcti::Mssim { endpoint, timeout } => {
                write!(f, "mssim:{}{}", endpoint.conf(), tail(timeout))
            }
            Tcti::Swtpm { endpoint, timeout } => {
                write!(f, "swtpm:{}{}", endpoint.conf(), tail(timeout))
            }
            Tcti::Cmd { command, timeout } => write!(f, "cmd:{}{command}", lead(timeout)),
        }
    }
}

impl std::str::FromStr for Tcti {
    type Err = TransportError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Tcti::parse(s)
    }
}

/// `timeout=SECONDS`'s value: whole seconds, 1 to [`MAX_TIMEOUT_SECS`].
fn parse_timeout(value: &str) -> Result<Duration, String> {
    match value.parse::<u64>() {
        Ok(secs @ 1..=MAX_TIMEOUT_SECS) => Ok(Duration::from_secs(secs)),
        _ => Err(format!(
            "timeout {value:?} is not a whole number of seconds from 1 to {MAX_TIMEOUT_SECS}"
        )),
    }
}

/// Splits a leading `timeout=SECONDS,` item off a `device:` path or `cmd:` command. A second
/// timeout item is refused rather than taken for a path or a command.
fn leading_timeout(conf: &str) -> Result<(Option<Duration>, &str), String> {
    let Some(rest) = conf.strip_prefix("timeout=") else {
        return Ok((None, conf));
    };
    let (value, rest) = rest.split_once(',').unwrap_or((rest, ""));
    if rest.starts_with("timeout=") {
        return Err("key \"timeout\" given twice".into());
    }
    Ok((Some(parse_timeout(value)?), rest))
}

/// `host=H,port=P` or `path=SOCKET`, and optionally `timeout=SECONDS`; empty items are
/// skipped as tpm2-tss does.
fn parse_endpoint(conf: &str) -> Result<(Endpoint, Option<Duration>), String> {
    let mut host: Option<&str> = None;
    let mut port: Option<u16> = None;
    let mut path: Option<&str> = None;
    let mut timeout: Option<Duration> = None;
    for item in conf.split(',').filter(|i| !i.is_empty()) {
        let (key, value) = item
            .split_once('=')
            .ok_or_else(|| format!("expected key=value, got {item:?}"))?;
        if value.is_empty() {
            return Err(format!("empty value for {key:?}"));
        }
        let slot_taken = match key {
            "host" => host.replace(value).is_some(),
            "path" => path.replace(value).is_some(),
            "port" => {
                let p: u16 = value
                    .parse()
                    .map_err(|_| format!("port {value:?} is not a number from 1 to 65534"))?;
                // The second channel lives at port + 1, so 65535 cannot work either.
                if p == 0 || p == u16::MAX {
                    return Err(format!(
                        "port {p} is out of range (1 to 65534: the second channel uses port+1)"
                    ));
                }
                port.replace(p).is_some()
            }
            "timeout" => timeout.replace(parse_timeout(value)?).is_some(),
            other => {
                return Err(format!(
                    "unknown key {other:?} (expected host, port, path or timeout)"
                ))
            }
        };
        if slot_taken {
            return Err(format!("key {key:?} given twice"));
        }
    }
    match (path, host, port) {
        (Some(_), Some(_), _) | (Some(_), _, Some(_)) => {
            Err("path cannot be combined with host or port".into())
        }
        (Some(path), None, None) => Ok((Endpoint::Unix { path: path.into() }, timeout)),
        (None, host, port) => Ok((
            Endpoint::Tcp {
                host: host.unwrap_or(DEFAULT_HOST).to_string(),
                port: port.unwrap_or(DEFAULT_PORT),
            },
            timeout,
        )),
    }
}

/// Opens a transport the way tpm2-tools chooses one: an explicit TCTI (`-T`) wins, else the
/// `TPM2TOOLS_TCTI` environment variable, else default probing (see [`DEFAULT_PROBE`]).
pub fn open(tcti: Option<&str>) -> Result<Box<dyn Transport>, TransportError> {
    let env = std::env::var(TCTI_ENV_VAR).ok();
    open_with_env_value(tcti, env.as_deref())
}

/// [`open`] with the environment value passed in, for callers that read it themselves.
/// An empty value counts as unset.
pub fn open_with_env_value(
    tcti: Option<&str>,
    env: Option<&str>,
) -> Result<Box<dyn Transport>, TransportError> {
    if let Some(tcti) = tcti {
        return Tcti::parse(tcti)?.open();
    }
    if let Some(env) = env.filter(|e| !e.is_empty()) {
        return Tcti::parse(env)?.open();
    }
    let candidates: Vec<Tcti> = DEFAULT_PROBE
        .iter()
        .filter_map(|s| Tcti::parse(s).ok())
        .collect();
    probe(&candidates, PROBE_TIMEOUT)
}

/// Tries each candidate in order and returns the first that opens and answers a
/// TPM2_GetRandom(8) within `timeout` (a reply, even an error code, proves a TPM is there).
/// Fails with every candidate and its reason.
pub fn probe(candidates: &[Tcti], timeout: Duration) -> Result<Box<dyn Transport>, TransportError> {
    let get_random = super::bare_command(&crate::command::GetRandom { bytes_requested: 8 });
    let mut tried = Vec::new();
    for candidate in candidates {
        let attempt = candidate.open().and_then(|mut t| {
            t.set_timeout(timeout);
            let mut response = Vec::new();
            t.transact(&get_random, &mut response)?;
            t.set_timeout(super::DEFAULT_TIMEOUT);
            Ok(t)
        });
        match attempt {
            Ok(t) => return Ok(t),
            Err(e) => tried.push(with_sources(&e)),
        }
    }
    Err(TransportError::NoTpmFound {
        env: TCTI_ENV_VAR,
        tried,
    })
}

/// An error and its chain of causes on one line (the probe report must say *why* each
/// candidate failed, e.g. "Connection refused", which lives in the source error).
fn with_sources(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tcp(host: &str, port: u16) -> Endpoint {
        Endpoint::Tcp {
            host: host.into(),
            port,
        }
    }

    fn device(path: Option<&str>, timeout: Option<u64>) -> Tcti {
        Tcti::Device {
            path: path.map(PathBuf::from),
            timeout: timeout.map(Duration::from_secs),
        }
    }

    fn mssim(endpoint: Endpoint, timeout: Option<u64>) -> Tcti {
        Tcti::Mssim {
            endpoint,
            timeout: timeout.map(Duration::from_secs),
        }
    }

    fn swtpm(endpoint: Endpoint, timeout: Option<u64>) -> Tcti {
        Tcti::Swtpm {
            endpoint,
            timeout: timeout.map(Duration::from_secs),
        }
    }

    fn cmd(command: &str, timeout: Option<u64>) -> Tcti {
        Tcti::Cmd {
            command: command.into(),
            timeout: timeout.map(Duration::from_secs),
        }
    }

    #[test]
    fn parses_the_tpm2_tss_forms() {
        let cases = [
            ("device", device(None, None)),
            ("device:", device(None, None)),
            ("device:/dev/tpm0", device(Some("/dev/tpm0"), None)),
            ("mssim", mssim(tcp("localhost", 2321), None)),
            (
                "mssim:host=10.0.0.1,port=2400",
                mssim(tcp("10.0.0.1", 2400), None),
            ),
            ("mssim:port=2400,host=h,", mssim(tcp("h", 2400), None)),
            ("swtpm:", swtpm(tcp("localhost", 2321), None)),
            (
                "swtpm:path=/run/s.sock",
                swtpm(
                    Endpoint::Unix {
                        path: "/run/s.sock".into(),
                    },
                    None,
                ),
            ),
            ("cmd:nc -q 0 -U a:b,c", cmd("nc -q 0 -U a:b,c", None)),
            // timeout=SECONDS, on every transport.
            ("device:timeout=7", device(None, Some(7))),
            ("device:timeout=7,", device(None, Some(7))),
            (
                "device:timeout=7,/dev/tpm0",
                device(Some("/dev/tpm0"), Some(7)),
            ),
            (
                "mssim:timeout=3,port=2400",
                mssim(tcp("localhost", 2400), Some(3)),
            ),
            (
                "swtpm:path=/s,timeout=86400",
                swtpm(Endpoint::Unix { path: "/s".into() }, Some(86400)),
            ),
            (
                "cmd:timeout=1,nc -q 0 -U a:b,c",
                cmd("nc -q 0 -U a:b,c", Some(1)),
            ),
        ];
        for (s, want) in cases {
            let got = Tcti::parse(s).unwrap_or_else(|e| panic!("{s}: {e}"));
            assert_eq!(got, want, "{s}");
            assert_eq!(
                Tcti::parse(&got.to_string()).unwrap(),
                got,
                "round trip of {s}"
            );
        }
    }

    #[test]
    fn the_companion_channel_is_port_plus_one_or_dot_ctrl() {
        assert_eq!(tcp("h", 5).companion(), tcp("h", 6));
        let unix = Endpoint::Unix {
            path: "/x/s".into(),
        };
        assert_eq!(
            unix.companion(),
            Endpoint::Unix {
                path: "/x/s.ctrl".into()
            }
        );
    }

    /// TCTI strings valid by construction, each with the value it spells: every transport,
    /// with and without `timeout=`, endpoint items in any order with empty items between.
    mod valid {
        use super::*;
        use proptest::prelude::*;

        fn timeout() -> impl Strategy<Value = Option<u64>> {
            proptest::option::of(prop_oneof![
                Just(1),
                Just(MAX_TIMEOUT_SECS),
                1..=MAX_TIMEOUT_SECS
            ])
        }

        /// A path or command that is not itself a leading `timeout=` item.
        fn free_text(pattern: &'static str) -> impl Strategy<Value = String> {
            pattern.prop_filter("a leading timeout item", |t| !t.starts_with("timeout="))
        }

        fn device_tcti() -> impl Strategy<Value = (String, Tcti)> {
            (
                timeout(),
                proptest::option::of(free_text("[A-Za-z0-9/._:=, -]{1,24}")),
                any::<bool>(),
            )
                .prop_map(|(t, path, colon)| {
                    let s = match (&path, t) {
                        (None, None) if colon => "device:".to_string(),
                        (None, None) => "device".to_string(),
                        (None, Some(t)) if colon => format!("device:timeout={t},"),
                        (None, Some(t)) => format!("device:timeout={t}"),
                        (Some(p), None) => format!("device:{p}"),
                        (Some(p), Some(t)) => format!("device:timeout={t},{p}"),
                    };
                    (s, device(path.as_deref(), t))
                })
        }

        fn cmd_tcti() -> impl Strategy<Value = (String, Tcti)> {
            (
                timeout(),
                free_text("[A-Za-z0-9/._:=, -]{0,8}[A-Za-z0-9/._:=,-][A-Za-z0-9/._:=, -]{0,8}"),
            )
                .prop_map(|(t, command)| {
                    let s = match t {
                        Some(t) => format!("cmd:timeout={t},{command}"),
                        None => format!("cmd:{command}"),
                    };
                    (s, cmd(&command, t))
                })
        }

        /// `host=`/`port=` (each optional) or `path=`, and an optional `timeout=`: the items
        /// (shuffled) and the endpoint they name.
        fn endpoint_items() -> impl Strategy<Value = (Vec<String>, Endpoint, Option<u64>)> {
            let value = "[A-Za-z0-9._:=/-]{1,12}";
            let place = prop_oneof![
                (
                    proptest::option::of(value),
                    proptest::option::of(1u16..=65534)
                )
                    .prop_map(|(host, port)| {
                        let mut items = Vec::new();
                        items.extend(host.as_ref().map(|h| format!("host={h}")));
                        items.extend(port.map(|p| format!("port={p}")));
                        let endpoint = tcp(
                            host.as_deref().unwrap_or(DEFAULT_HOST),
                            port.unwrap_or(DEFAULT_PORT),
                        );
                        (items, endpoint)
                    }),
                value.prop_map(|path| {
                    let endpoint = Endpoint::Unix {
                        path: PathBuf::from(&path),
                    };
                    (vec![format!("path={path}")], endpoint)
                }),
            ];
            (place, timeout()).prop_flat_map(|((mut items, endpoint), t)| {
                items.extend(t.map(|t| format!("timeout={t}")));
                (Just(items).prop_shuffle(), Just(endpoint), Just(t))
            })
        }

        fn endpoint_tcti() -> impl Strategy<Value = (String, Tcti)> {
            (
                any::<bool>(),
                endpoint_items(),
                proptest::collection::vec(1usize..=2, 4),
                any::<bool>(),
                any::<bool>(),
            )
                .prop_map(|(is_mssim, (items, endpoint, t), commas, lead, trail)| {
                    let name = if is_mssim { "mssim" } else { "swtpm" };
                    // Empty items (doubled, leading, trailing commas) are skipped.
                    let mut conf = String::new();
                    if lead {
                        conf.push(',');
                    }
                    for (i, item) in items.iter().enumerate() {
                        if i > 0 {
                            conf.push_str(&",".repeat(commas[i]));
                        }
                        conf.push_str(item);
                    }
                    if trail {
                        conf.push(',');
                    }
                    let s = if conf.is_empty() {
                        name.to_string()
                    } else {
                        format!("{name}:{conf}")
                    };
                    let tcti = if is_mssim {
                        mssim(endpoint, t)
                    } else {
                        swtpm(endpoint, t)
                    };
                    (s, tcti)
                })
        }

        pub(super) fn any_valid() -> impl Strategy<Value = (String, Tcti)> {
            prop_oneof![device_tcti(), cmd_tcti(), endpoint_tcti()]
        }
    }

    proptest::proptest! {
        /// Every valid spelling parses to the value it spells, and that value prints to a
        /// string that parses back to it.
        #[test]
        fn valid_tctis_parse_to_their_meaning_and_round_trip((s, want) in valid::any_valid()) {
            let parsed = Tcti::parse(&s);
            proptest::prop_assert_eq!(parsed.as_ref().ok(), Some(&want), "{} gave {:?}", s, parsed);
            let printed = want.to_string();
            proptest::prop_assert_eq!(Tcti::parse(&printed).ok(), Some(want), "{}", printed);
        }

        /// The fuzz target's property, over strings shaped like TCTIs: no panic, and a
        /// parsed value prints to a string that parses back to it.
        #[test]
        fn arbitrary_tcti_like_strings_never_panic_and_what_parses_round_trips(
            s in "(device|mssim|swtpm|cmd|tabrmd|x)?:?[a-z0-9=,/:. ]{0,24}|\\PC{0,40}"
        ) {
            if let Ok(tcti) = Tcti::parse(&s) {
                let printed = tcti.to_string();
                proptest::prop_assert_eq!(Tcti::parse(&printed).ok(), Some(tcti), "{}", printed);
            }
        }
    }
}
