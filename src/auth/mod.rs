//! The tpm2-tools authorization grammar (`-p`/`-P`/`--auth` values) and PCR bank specifiers.
//! Only parses, and reads password files/stdin; knows nothing of the TPM.
//!
//! ```text
//! AUTH     := "session:" PATH [ "+" PASSWORD ]  |  "pcr:" PCRSPEC [ "=" PATH ]  |  PASSWORD
//! PASSWORD := "str:" TEXT  |  "hex:" HEXDIGITS  |  "file:" PATH  |  "file:-"  |  TEXT
//! ```
//!
//! Behaviour follows tpm2-tools 5.6+ (`lib/tpm2_auth_util.c`):
//! - prefixes are case-sensitive and anything without a known prefix is a plain password, so
//!   `foo:bar` and `Hex:41` are passwords spelled exactly that way;
//! - `hex:` takes an even number of hex digits with no `0x` (tpm2-tools refuses `0x` too);
//! - `file:` content (from a file or stdin) is read whole, all trailing `\r`/`\n` are dropped,
//!   and the rest is read again as a password, so a file may hold `hex:...` or `str:...`.
//!   (tpm2-tools 5.4 kept file content as-is and dropped one `\n` only from stdin; 5.6 changed
//!   this to the rule above, which we follow.) Content is limited to 134 bytes: the longest
//!   password form, `hex:` with 128 digits, plus `\r\n`;
//! - in `session:PATH+AUTH` the split is at the first `+`; an empty AUTH is the empty password,
//!   and AUTH is read as a PASSWORD in which `session:`/`pcr:` are plain text, as there.
//!
//! Deliberate differences, each an error where tpm2-tools would silently do something else:
//! - a `file:` reference inside password-file content is refused (tpm2-tools follows it, and a
//!   file naming itself recurses until the stack overflows);
//! - a NUL byte in a password is refused (tpm2-tools' C strings silently cut the password at it);
//! - a `str:`/plain password may be 64 bytes, the TPM2B_AUTH capacity (tpm2-tools' `snprintf`
//!   bound stops at 63);
//! - [`parse_password`] refuses `session:`/`pcr:`, as tpm2-tools does for new auth values.
//!
//! Trial sessions cannot authorize; rejecting `session:` files that hold one needs the file's
//! contents, so that check is the caller's, after loading the session.
//!
//! Secrets never appear in errors or `Debug` output; intermediate copies are zeroized.

mod command_code;
mod pcr;
mod source;

use std::fmt;
use std::io;
use std::path::{Path, PathBuf};

use zeroize::Zeroizing;

pub use command_code::{parse_command_code, CommandCodeError};
pub use pcr::{parse_pcr_selection, PcrBank, PcrSelectionSpec, ALL_PCRS, PCR_COUNT};
pub use source::{read_capped, NoPasswordFiles, PasswordSource, SystemPasswordSource};

use crate::wire::{Auth, MAX_DIGEST_SIZE};

/// Largest password: TPM2B_AUTH holds a digest of the largest hash (SHA-512).
pub const MAX_PASSWORD_LEN: usize = MAX_DIGEST_SIZE;
/// Largest `file:` content accepted: `hex:` + 128 hex digits + `\r\n`.
pub const MAX_PASSWORD_INPUT: usize = HEX_PREFIX.len() + 2 * MAX_PASSWORD_LEN + 2;

const STR_PREFIX: &str = "str:";
const HEX_PREFIX: &str = "hex:";
const FILE_PREFIX: &str = "file:";
const SESSION_PREFIX: &str = "session:";
const PCR_PREFIX: &str = "pcr:";

/// A parsed authorization argument.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuthSpec {
    /// `str:…`, a bare string, `hex:…`, `file:PATH`, `file:-`
    Password(Auth),
    /// `session:FILE` or `session:FILE+AUTH` (AUTH in any password form)
    Session {
        /// The tpm2-tools session file.
        path: PathBuf,
        /// The entity's auth value for the session's HMAC (or PolicyPassword); empty when
        /// none was given.
        auth: Auth,
    },
    /// `pcr:SPEC` or `pcr:SPEC=FILE`
    Pcr {
        /// The PCRs whose values the policy requires.
        selection: PcrSelectionSpec,
        /// A file with the expected PCR digest (as `tpm2_pcrread -o` writes it), or `None` to
        /// use the current values.
        digest_file: Option<PathBuf>,
    },
}

/// Where password bytes read by `file:` came from, for error messages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PasswordOrigin {
    /// Standard input (`file:-`).
    Stdin,
    /// The file of `file:PATH`.
    File(PathBuf),
}

impl fmt::Display for PasswordOrigin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PasswordOrigin::Stdin => f.write_str("password from standard input"),
            PasswordOrigin::File(p) => write!(f, "password file \"{}\"", p.display()),
        }
    }
}

/// Why an authorization or PCR specifier was refused. Messages name the part that is wrong
/// (offsets, bank numbers, paths) but never contain password bytes.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AuthError {
    /// The password is longer than a TPM2B_AUTH holds.
    #[error("password too long: {len} bytes (a TPM2B_AUTH holds at most {max})")]
    PasswordTooLong {
        /// Its length in bytes.
        len: usize,
        /// The most allowed ([`MAX_PASSWORD_LEN`]).
        max: usize,
    },
    /// A `str:` password contains a NUL byte, which tpm2-tools would cut it at.
    #[error("password contains a NUL byte at byte offset {offset}")]
    NulInPassword {
        /// Where, in bytes from the start of the password.
        offset: usize,
    },
    /// A `hex:` password has a character that is not a hex digit.
    #[error("hex password: character at offset {offset} after \"hex:\" is not a hex digit{hint}")]
    HexInvalidChar {
        /// Where, in characters after `hex:`.
        offset: usize,
        /// A hint for common mistakes (e.g. a `0x` prefix), else empty.
        hint: &'static str,
    },
    /// A `hex:` password has an odd number of digits.
    #[error("hex password: odd number of hex digits ({digits}); each byte needs two")]
    HexOddLength {
        /// How many digits it has.
        digits: usize,
    },
    /// `file:` with no path.
    #[error("\"file:\" needs a path, or \"-\" for standard input")]
    EmptyFilePath,
    /// The password file could not be read.
    #[error("cannot read password file \"{}\": {io}", path.display())]
    FileRead {
        /// The file.
        path: PathBuf,
        /// The operating system's error.
        io: io::Error,
    },
    /// Standard input could not be read.
    #[error("cannot read password from standard input: {0}")]
    StdinRead(io::Error),
    /// A password file or standard input holds more than any password form can be.
    #[error("{origin} is longer than {max} bytes (\"hex:\" with {} digits plus a line ending)", 2 * MAX_PASSWORD_LEN)]
    PasswordInputTooLarge {
        /// Where it came from.
        origin: PasswordOrigin,
        /// The most accepted ([`MAX_PASSWORD_INPUT`]).
        max: usize,
    },
    /// A password file holds another `file:` reference; it is not followed.
    #[error("{origin} refers to another file (\"file:\"); nested password files are not followed")]
    NestedFileReference {
        /// The file (or standard input) that held the reference.
        origin: PasswordOrigin,
    },
    /// The password read from a file or standard input is itself invalid.
    #[error("{origin}: {error}")]
    InPasswordInput {
        /// Where it came from.
        origin: PasswordOrigin,
        /// What is wrong with it.
        error: Box<AuthError>,
    },
    /// `session:` with no path.
    #[error("\"session:\" needs a session file path")]
    EmptySessionPath,
    /// The auth value after `session:FILE+` is invalid.
    #[error("\"session:\" auth value after '+': {0}")]
    SessionAuth(Box<AuthError>),
    /// A session or PCR form where only a password is allowed (e.g. a new auth value).
    #[error(
        "\"{prefix}\" is not allowed here: only a password (str:, hex:, file:, or plain text)"
    )]
    NotAPassword {
        /// The form given (`"session:"` or `"pcr:"`).
        prefix: &'static str,
    },
    /// `pcr:SPEC=` with nothing after the `=`.
    #[error("\"pcr:\": the PCR digest file after '=' is empty")]
    EmptyPcrDigestPath,

    /// The PCR selection is empty.
    #[error("PCR selection is empty (expected e.g. sha256:0,1,2)")]
    EmptyPcrSelection,
    /// A bank between `+` separators is empty.
    #[error("PCR bank {bank} is empty (stray '+'?)")]
    EmptyPcrBank {
        /// The bank's position in the selection, from 1.
        bank: usize,
    },
    /// A bank has no `:` between its hash and its PCRs.
    #[error("PCR bank {bank}: missing ':' between hash and PCR list (expected e.g. sha256:0,1)")]
    MissingPcrBankColon {
        /// The bank's position, from 1.
        bank: usize,
    },
    /// A bank names a hash algorithm tpm2-tools does not know.
    #[error("PCR bank {bank}: unknown hash algorithm \"{name}\" (expected sha1, sha256, sha384, sha512, sm3_256, sha3_256, sha3_384, sha3_512 or the numeric id of one)")]
    UnknownPcrHash {
        /// The bank's position, from 1.
        bank: usize,
        /// The name given.
        name: String,
    },
    /// A number with a leading zero, which tpm2-tools would read as octal.
    #[error("PCR bank {bank}: {what} \"{text}\" has a leading zero, which tpm2-tools reads as octal; write it without the zero (or in 0x hex)")]
    AmbiguousOctal {
        /// The bank's position, from 1.
        bank: usize,
        /// `"hash algorithm id"` or `"PCR number"`.
        what: &'static str,
        /// The number as written.
        text: String,
    },
    /// The same hash appears in two banks.
    #[error("PCR bank {bank}: {hash} was already selected by an earlier bank")]
    DuplicatePcrBank {
        /// The later bank's position, from 1.
        bank: usize,
        /// The hash.
        hash: String,
    },
    /// A bank has a hash but no PCRs.
    #[error("PCR bank {bank} ({hash}): empty PCR list (expected numbers, \"all\" or \"none\")")]
    EmptyPcrList {
        /// The bank's position, from 1.
        bank: usize,
        /// The hash.
        hash: String,
    },
    /// A PCR entry is not a number.
    #[error("PCR bank {bank} ({hash}): invalid PCR \"{text}\": {reason}")]
    InvalidPcr {
        /// The bank's position, from 1.
        bank: usize,
        /// The hash.
        hash: String,
        /// The entry as written.
        text: String,
        /// Why it is not a PCR number.
        reason: &'static str,
    },
    /// A PCR number above the last PCR.
    #[error("PCR bank {bank} ({hash}): PCR \"{text}\" out of range (0 to {max})")]
    PcrOutOfRange {
        /// The bank's position, from 1.
        bank: usize,
        /// The hash.
        hash: String,
        /// The entry as written.
        text: String,
        /// The last PCR number.
        max: u32,
    },
    /// A PCR listed twice in one bank.
    #[error("PCR bank {bank} ({hash}): PCR {pcr} is listed twice")]
    DuplicatePcr {
        /// The bank's position, from 1.
        bank: usize,
        /// The hash.
        hash: String,
        /// The PCR.
        pcr: u32,
    },
}

/// Parses an authorization argument, reading `file:` passwords from the file system and
/// standard input. The empty string is the empty password.
pub fn parse_auth(s: &str) -> Result<AuthSpec, AuthError> {
    parse_auth_with(s, &mut SystemPasswordSource)
}

/// [`parse_auth`] with `file:` reads served by `source`.
pub fn parse_auth_with(s: &str, source: &mut dyn PasswordSource) -> Result<AuthSpec, AuthError> {
    if let Some(rest) = s.strip_prefix(SESSION_PREFIX) {
        return parse_session(rest, source);
    }
    if let Some(rest) = s.strip_prefix(PCR_PREFIX) {
        return parse_pcr_auth(rest);
    }
    password_form(s, source).map(AuthSpec::Password)
}

/// Parses a password in one of the password forms (`str:`, `hex:`, `file:`, plain text), as
/// for a new object's auth value; `session:` and `pcr:` are refused.
pub fn parse_password(s: &str) -> Result<Auth, AuthError> {
    parse_password_with(s, &mut SystemPasswordSource)
}

/// [`parse_password`] with `file:` reads served by `source`.
pub fn parse_password_with(s: &str, source: &mut dyn PasswordSource) -> Result<Auth, AuthError> {
    for prefix in [SESSION_PREFIX, PCR_PREFIX] {
        if s.starts_with(prefix) {
            return Err(AuthError::NotAPassword { prefix });
        }
    }
    password_form(s, source)
}

fn parse_session(rest: &str, source: &mut dyn PasswordSource) -> Result<AuthSpec, AuthError> {
    let (path, auth_text) = match rest.split_once('+') {
        Some((path, auth)) => (path, auth),
        None => (rest, ""),
    };
    if path.is_empty() {
        return Err(AuthError::EmptySessionPath);
    }
    let auth = password_form(auth_text, source).map_err(|e| AuthError::SessionAuth(Box::new(e)))?;
    Ok(AuthSpec::Session {
        path: PathBuf::from(path),
        auth,
    })
}

fn parse_pcr_auth(rest: &str) -> Result<AuthSpec, AuthError> {
    let (spec, digest_file) = match rest.split_once('=') {
        Some((_, "")) => return Err(AuthError::EmptyPcrDigestPath),
        Some((spec, file)) => (spec, Some(PathBuf::from(file))),
        None => (rest, None),
    };
    Ok(AuthSpec::Pcr {
        selection: parse_pcr_selection(spec)?,
        digest_file,
    })
}

/// A password given on the command line: `file:` is followed, everything else is inline.
fn password_form(s: &str, source: &mut dyn PasswordSource) -> Result<Auth, AuthError> {
    match s.strip_prefix(FILE_PREFIX) {
        Some(path) => password_from_input(path, source),
        None => inline_password(s.as_bytes()),
    }
}

/// `hex:`, `str:` or plain bytes.
fn inline_password(bytes: &[u8]) -> Result<Auth, AuthError> {
    if let Some(digits) = bytes.strip_prefix(HEX_PREFIX.as_bytes()) {
        return decode_hex(digits);
    }
    let text = bytes.strip_prefix(STR_PREFIX.as_bytes()).unwrap_or(bytes);
    literal_password(text)
}

fn literal_password(bytes: &[u8]) -> Result<Auth, AuthError> {
    if let Some(offset) = bytes.iter().position(|&b| b == 0) {
        return Err(AuthError::NulInPassword { offset });
    }
    let too_long = || AuthError::PasswordTooLong {
        len: bytes.len(),
        max: MAX_PASSWORD_LEN,
    };
    if bytes.len() > MAX_PASSWORD_LEN {
        return Err(too_long());
    }
    Auth::new(bytes).map_err(|_| too_long())
}

fn decode_hex(digits: &[u8]) -> Result<Auth, AuthError> {
    if let Some(offset) = digits.iter().position(|b| !b.is_ascii_hexdigit()) {
        let hint = if offset == 1 && matches!(digits, [b'0', b'x' | b'X', ..]) {
            " (write the digits without a 0x prefix)"
        } else {
            ""
        };
        return Err(AuthError::HexInvalidChar { offset, hint });
    }
    if digits.len() % 2 != 0 {
        return Err(AuthError::HexOddLength {
            digits: digits.len(),
        });
    }
    let len = digits.len() / 2;
    if len > MAX_PASSWORD_LEN {
        return Err(AuthError::PasswordTooLong {
            len,
            max: MAX_PASSWORD_LEN,
        });
    }
    let mut out = Zeroizing::new([0u8; MAX_PASSWORD_LEN]);
    for (byte, pair) in out.iter_mut().zip(digits.chunks_exact(2)) {
        if let [high, low] = pair {
            *byte = (nibble(*high) << 4) | nibble(*low);
        }
    }
    let decoded = out.get(..len).unwrap_or_default();
    Auth::new(decoded).map_err(|_| AuthError::PasswordTooLong {
        len,
        max: MAX_PASSWORD_LEN,
    })
}

fn nibble(digit: u8) -> u8 {
    match digit {
        b'0'..=b'9' => digit - b'0',
        b'a'..=b'f' => digit - b'a' + 10,
        b'A'..=b'F' => digit - b'A' + 10,
        _ => 0,
    }
}

/// `file:PATH` / `file:-`: reads the content, drops trailing line endings and parses the rest
/// as an inline password.
fn password_from_input(path: &str, source: &mut dyn PasswordSource) -> Result<Auth, AuthError> {
    if path.is_empty() {
        return Err(AuthError::EmptyFilePath);
    }
    // One byte over the limit is enough to tell "too long" without holding more.
    let read_limit = MAX_PASSWORD_INPUT + 1;
    let (origin, content) = if path == "-" {
        let content = source
            .read_stdin(read_limit)
            .map_err(AuthError::StdinRead)?;
        (PasswordOrigin::Stdin, content)
    } else {
        let path = Path::new(path);
        let content = source
            .read_file(path, read_limit)
            .map_err(|io| AuthError::FileRead {
                path: path.to_owned(),
                io,
            })?;
        (PasswordOrigin::File(path.to_owned()), content)
    };
    if content.len() > MAX_PASSWORD_INPUT {
        return Err(AuthError::PasswordInputTooLarge {
            origin,
            max: MAX_PASSWORD_INPUT,
        });
    }
    let end = content
        .iter()
        .rposition(|&b| b != b'\n' && b != b'\r')
        .map_or(0, |last| last + 1);
    let text = content.get(..end).unwrap_or_default();
    if text.starts_with(FILE_PREFIX.as_bytes()) {
        return Err(AuthError::NestedFileReference { origin });
    }
    inline_password(text).map_err(|e| AuthError::InPasswordInput {
        origin,
        error: Box::new(e),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::AlgId;
    use std::collections::HashMap;

    /// Files and stdin served from memory; records what was asked for.
    #[derive(Default)]
    struct FakeSource {
        files: HashMap<PathBuf, Vec<u8>>,
        stdin: Option<Vec<u8>>,
        asked: Vec<String>,
    }

    impl FakeSource {
        fn with_file(path: &str, content: &[u8]) -> Self {
            let mut s = FakeSource::default();
            s.files.insert(PathBuf::from(path), content.to_vec());
            s
        }
        fn with_stdin(content: &[u8]) -> Self {
            FakeSource {
                stdin: Some(content.to_vec()),
                ..FakeSource::default()
            }
        }
    }

    impl PasswordSource for FakeSource {
        fn read_file(&mut self, path: &Path, limit: usize) -> io::Result<Zeroizing<Vec<u8>>> {
            self.asked.push(path.display().to_string());
            match self.files.get(path) {
                Some(c) => read_capped(&c[..], limit),
                None => Err(io::ErrorKind::NotFound.into()),
            }
        }
        fn read_stdin(&mut self, limit: usize) -> io::Result<Zeroizing<Vec<u8>>> {
            self.asked.push("-".into());
            match &self.stdin {
                Some(c) => read_capped(&c[..], limit),
                None => Err(io::Error::other("stdin closed")),
            }
        }
    }

    fn pw(s: &str) -> Auth {
        match parse_auth_with(s, &mut NoPasswordFiles).unwrap() {
            AuthSpec::Password(a) => a,
            other => panic!("{s:?} gave {other:?}"),
        }
    }

    fn err(s: &str) -> AuthError {
        parse_auth_with(s, &mut NoPasswordFiles).unwrap_err()
    }

    #[test]
    fn string_forms() {
        assert_eq!(pw("foobar").as_bytes(), b"foobar");
        assert_eq!(pw("str:foobar").as_bytes(), b"foobar");
        assert_eq!(pw("").as_bytes(), b"");
        assert_eq!(pw("str:").as_bytes(), b"");
        // Only the first str: is a prefix; unknown or differently cased prefixes are text.
        assert_eq!(pw("str:str:x").as_bytes(), b"str:x");
        assert_eq!(pw("str:hex:41").as_bytes(), b"hex:41");
        assert_eq!(pw("foo:bar").as_bytes(), b"foo:bar");
        assert_eq!(pw("Hex:41").as_bytes(), b"Hex:41");
        assert_eq!(pw("FILE:x").as_bytes(), b"FILE:x");
        assert_eq!(pw("pässwörd").as_bytes(), "pässwörd".as_bytes());
    }

    #[test]
    fn string_length_limit() {
        let max = "a".repeat(64);
        assert_eq!(pw(&max).len(), 64);
        assert_eq!(pw(&format!("str:{max}")).len(), 64);
        let e = err(&format!("str:{max}b"));
        assert!(
            matches!(e, AuthError::PasswordTooLong { len: 65, max: 64 }),
            "{e:?}"
        );
        assert!(e.to_string().contains("at most 64"));
    }

    #[test]
    fn nul_is_refused() {
        let e = err("ab\0cd");
        assert!(matches!(e, AuthError::NulInPassword { offset: 2 }), "{e:?}");
    }

    #[test]
    fn hex_form() {
        assert_eq!(pw("hex:1122aAfF").as_bytes(), &[0x11, 0x22, 0xaa, 0xff]);
        assert_eq!(pw("hex:").as_bytes(), b"");
        assert_eq!(pw(&format!("hex:{}", "ab".repeat(64))).len(), 64);
    }

    #[test]
    fn hex_errors_name_the_position_not_the_secret() {
        let e = err("hex:12345g78");
        assert!(
            matches!(e, AuthError::HexInvalidChar { offset: 5, .. }),
            "{e:?}"
        );
        let msg = e.to_string();
        assert!(
            msg.contains("offset 5") && !msg.contains("12345g78"),
            "{msg}"
        );

        let e = err("hex:0x1122");
        assert!(matches!(e, AuthError::HexInvalidChar { offset: 1, .. }));
        assert!(e.to_string().contains("0x prefix"), "{e}");

        let e = err("hex:123");
        assert!(matches!(e, AuthError::HexOddLength { digits: 3 }), "{e:?}");

        let e = err(&format!("hex:{}", "ab".repeat(65)));
        assert!(matches!(e, AuthError::PasswordTooLong { len: 65, max: 64 }));

        let e = err("hex:ab cd");
        assert!(matches!(
            e,
            AuthError::HexInvalidChar {
                offset: 2,
                hint: ""
            }
        ));
    }

    #[test]
    fn file_form_reads_and_strips_line_endings() {
        let mut src = FakeSource::with_file("pw.txt", b"secret\r\n\n");
        let auth = parse_password_with("file:pw.txt", &mut src).unwrap();
        assert_eq!(auth.as_bytes(), b"secret");
        assert_eq!(src.asked, ["pw.txt"]);

        // Content is itself a password form.
        let mut src = FakeSource::with_file("h", b"hex:4142\n");
        assert_eq!(
            parse_password_with("file:h", &mut src).unwrap().as_bytes(),
            b"AB"
        );
        let mut src = FakeSource::with_file("s", b"str:hex:41");
        assert_eq!(
            parse_password_with("file:s", &mut src).unwrap().as_bytes(),
            b"hex:41"
        );
        // Only trailing line endings go; inner ones and other whitespace stay.
        let mut src = FakeSource::with_file("w", b" a\nb \n");
        assert_eq!(
            parse_password_with("file:w", &mut src).unwrap().as_bytes(),
            b" a\nb "
        );
        // Empty file, or only a newline: the empty password.
        let mut src = FakeSource::with_file("e", b"\n");
        assert!(parse_password_with("file:e", &mut src).unwrap().is_empty());
        // Non-UTF-8 bytes are a valid password.
        let mut src = FakeSource::with_file("b", &[0xff, 0xfe, 0x80]);
        assert_eq!(
            parse_password_with("file:b", &mut src).unwrap().as_bytes(),
            &[0xff, 0xfe, 0x80]
        );
    }

    #[test]
    fn file_form_at_top_level_is_a_password() {
        let mut src = FakeSource::with_file("pw", b"x");
        let spec = parse_auth_with("file:pw", &mut src).unwrap();
        assert_eq!(spec, AuthSpec::Password(Auth::new(b"x").unwrap()));
    }

    #[test]
    fn stdin_form() {
        let mut src = FakeSource::with_stdin(b"foobar\n");
        assert_eq!(
            parse_password_with("file:-", &mut src).unwrap().as_bytes(),
            b"foobar"
        );
        assert_eq!(src.asked, ["-"]);
        let mut src = FakeSource::default();
        let e = parse_password_with("file:-", &mut src).unwrap_err();
        assert!(matches!(e, AuthError::StdinRead(_)));
        assert!(e.to_string().contains("stdin closed"), "{e}");
    }

    #[test]
    fn file_errors() {
        let e = err("file:");
        assert!(matches!(e, AuthError::EmptyFilePath));

        let mut src = FakeSource::default();
        let e = parse_password_with("file:missing/pw", &mut src).unwrap_err();
        let msg = e.to_string();
        assert!(matches!(e, AuthError::FileRead { .. }));
        assert!(
            msg.contains("missing/pw") && msg.contains("not found"),
            "{msg}"
        );

        // Longest legal content is accepted; one byte more is not.
        let longest = format!("hex:{}\r\n", "ab".repeat(64));
        assert_eq!(longest.len(), MAX_PASSWORD_INPUT);
        let mut src = FakeSource::with_file("l", longest.as_bytes());
        assert_eq!(parse_password_with("file:l", &mut src).unwrap().len(), 64);
        let mut src = FakeSource::with_file("l", format!("{longest}\n").as_bytes());
        let e = parse_password_with("file:l", &mut src).unwrap_err();
        assert!(matches!(
            e,
            AuthError::PasswordInputTooLarge {
                max: MAX_PASSWORD_INPUT,
                ..
            }
        ));

        let mut src = FakeSource::with_file("n", b"file:n");
        let e = parse_password_with("file:n", &mut src).unwrap_err();
        assert!(matches!(e, AuthError::NestedFileReference { .. }), "{e:?}");
        assert_eq!(src.asked.len(), 1, "nested reference must not be followed");

        let mut src = FakeSource::with_file("bad", b"hex:zz\n");
        let e = parse_password_with("file:bad", &mut src).unwrap_err();
        let msg = e.to_string();
        assert!(
            matches!(&e, AuthError::InPasswordInput { error, .. }
                if matches!(**error, AuthError::HexInvalidChar { offset: 0, .. })),
            "{e:?}"
        );
        assert!(msg.contains("\"bad\"") && !msg.contains("zz"), "{msg}");

        let mut src = FakeSource::with_file("nul", b"ab\0c");
        let e = parse_password_with("file:nul", &mut src).unwrap_err();
        assert!(e.to_string().contains("NUL"), "{e}");
    }

    #[test]
    fn session_forms() {
        let s = parse_auth_with("session:s.ctx", &mut NoPasswordFiles).unwrap();
        assert_eq!(
            s,
            AuthSpec::Session {
                path: "s.ctx".into(),
                auth: Auth::empty()
            }
        );
        let s = parse_auth_with("session:s.ctx+mypassword", &mut NoPasswordFiles).unwrap();
        assert_eq!(
            s,
            AuthSpec::Session {
                path: "s.ctx".into(),
                auth: Auth::new(b"mypassword").unwrap()
            }
        );
        // Split at the first '+': the rest, '+' included, is the password.
        let s = parse_auth_with("session:a+hex:11223344", &mut NoPasswordFiles).unwrap();
        assert_eq!(
            s,
            AuthSpec::Session {
                path: "a".into(),
                auth: Auth::new(&[0x11, 0x22, 0x33, 0x44]).unwrap()
            }
        );
        let s = parse_auth_with("session:a+b+c", &mut NoPasswordFiles).unwrap();
        assert!(matches!(s, AuthSpec::Session { ref auth, .. } if auth.as_bytes() == b"b+c"));
        // Trailing '+' with nothing after it: the empty password.
        let s = parse_auth_with("session:a+", &mut NoPasswordFiles).unwrap();
        assert!(matches!(s, AuthSpec::Session { ref auth, .. } if auth.is_empty()));
        // After '+', session:/pcr: are plain text, as in tpm2-tools.
        let s = parse_auth_with("session:a+pcr:x", &mut NoPasswordFiles).unwrap();
        assert!(matches!(s, AuthSpec::Session { ref auth, .. } if auth.as_bytes() == b"pcr:x"));
        // file: after '+' is read.
        let mut src = FakeSource::with_stdin(b"pw\n");
        let s = parse_auth_with("session:a+file:-", &mut src).unwrap();
        assert!(matches!(s, AuthSpec::Session { ref auth, .. } if auth.as_bytes() == b"pw"));
    }

    #[test]
    fn session_errors() {
        assert!(matches!(err("session:"), AuthError::EmptySessionPath));
        assert!(matches!(err("session:+pw"), AuthError::EmptySessionPath));
        let e = err("session:s+hex:1");
        assert!(
            matches!(&e, AuthError::SessionAuth(inner) if matches!(**inner, AuthError::HexOddLength { .. })),
            "{e:?}"
        );
        assert!(e.to_string().contains("after '+'"));
    }

    fn pcr_spec(text: &str) -> (PcrSelectionSpec, Option<PathBuf>) {
        match parse_auth_with(text, &mut NoPasswordFiles).unwrap() {
            AuthSpec::Pcr {
                selection,
                digest_file,
            } => (selection, digest_file),
            s => panic!("{text}: {s:?}"),
        }
    }

    #[test]
    fn pcr_forms() {
        let (selection, digest_file) = pcr_spec("pcr:sha256:0,1,2,3");
        assert_eq!(
            selection.banks,
            vec![PcrBank {
                hash: AlgId::SHA256,
                pcrs: 0xf
            }]
        );
        assert_eq!(digest_file, None);

        let (selection, digest_file) = pcr_spec("pcr:sha1:0+sha256:all=pcrs.bin");
        assert_eq!(selection.to_string(), "sha1:0+sha256:all");
        assert_eq!(digest_file, Some(PathBuf::from("pcrs.bin")));
    }

    #[test]
    fn pcr_errors() {
        assert!(matches!(err("pcr:"), AuthError::EmptyPcrSelection));
        assert!(matches!(err("pcr:=f"), AuthError::EmptyPcrSelection));
        assert!(matches!(
            err("pcr:sha256:0="),
            AuthError::EmptyPcrDigestPath
        ));
        assert!(matches!(
            err("pcr:sha256:24"),
            AuthError::PcrOutOfRange { .. }
        ));
    }

    #[test]
    fn parse_password_refuses_session_and_pcr() {
        for s in ["session:x", "pcr:sha256:0"] {
            let e = parse_password_with(s, &mut NoPasswordFiles).unwrap_err();
            assert!(matches!(e, AuthError::NotAPassword { .. }), "{e:?}");
        }
        assert_eq!(parse_password("hex:00").unwrap().as_bytes(), &[0]);
    }

    #[test]
    fn no_password_files_refuses_reads() {
        assert!(matches!(err("file:x"), AuthError::FileRead { .. }));
        assert!(matches!(err("file:-"), AuthError::StdinRead(_)));
    }

    #[test]
    fn real_files_are_read() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("pw");
        std::fs::write(&path, b"hunter2\n").unwrap();
        let a = parse_password(&format!("file:{}", path.display())).unwrap();
        assert_eq!(a.as_bytes(), b"hunter2");
        let e = parse_password(&format!("file:{}", dir.path().join("nope").display())).unwrap_err();
        assert!(e.to_string().contains("nope"), "{e}");
        // A directory cannot be read as a password file.
        assert!(parse_password(&format!("file:{}", dir.path().display())).is_err());
    }

    #[test]
    fn debug_and_errors_never_show_secrets() {
        let spec = parse_auth_with("session:s+str:hunter2", &mut NoPasswordFiles).unwrap();
        let dbg = format!("{spec:?}");
        assert!(
            !dbg.contains("hunter2") && !dbg.contains("68756e74"),
            "{dbg}"
        );
        let spec = parse_auth_with("hunter2", &mut NoPasswordFiles).unwrap();
        assert!(!format!("{spec:?}").contains("hunter2"));
        for bad in [
            "hex:hunter2",
            "session:s+hex:hunter2",
            &format!("str:hunter2{}", "x".repeat(64)),
        ] {
            let e = err(bad);
            let shown = format!("{e} {e:?}");
            assert!(!shown.contains("hunter2"), "{shown}");
        }
    }

    /// Child half of `stdin_pipe_is_read_without_prompt`: only acts when spawned by it.
    #[test]
    #[ignore = "child role, run by stdin_pipe_is_read_without_prompt"]
    fn stdin_child() {
        if std::env::var_os("TPM2_WIRE_AUTH_STDIN_CHILD").is_none() {
            return;
        }
        let auth = parse_password("file:-").unwrap();
        let hex: String = auth.as_bytes().iter().map(|b| format!("{b:02x}")).collect();
        println!("AUTH_RESULT={hex}");
    }

    /// The real stdin path for a pipe: no prompt, content read whole, line ending dropped.
    #[test]
    fn stdin_pipe_is_read_without_prompt() {
        use std::io::Write;
        use std::process::{Command, Stdio};
        let mut child = Command::new(std::env::current_exe().unwrap())
            .args([
                "--exact",
                "auth::tests::stdin_child",
                "--ignored",
                "--nocapture",
            ])
            .env("TPM2_WIRE_AUTH_STDIN_CHILD", "1")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        child.stdin.take().unwrap().write_all(b"foo bar\n").unwrap();
        let out = child.wait_with_output().unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "{stdout}{stderr}");
        assert!(stdout.contains("AUTH_RESULT=666f6f20626172\n"), "{stdout}");
        assert!(!stdout.contains("Enter password") && !stderr.contains("Enter password"));
    }
}
