//! Property tests for the tpm2-tools authorization grammar and PCR bank specifiers.

use std::io;
use std::path::Path;

use proptest::prelude::*;
use tpm2_wire::auth::{
    parse_auth_with, parse_password_with, parse_pcr_selection, read_capped, AuthError, AuthSpec,
    NoPasswordFiles, PasswordSource, PcrBank, PcrSelectionSpec, ALL_PCRS, MAX_PASSWORD_LEN,
};
use tpm2_wire::wire::AlgId;
use zeroize::Zeroizing;

const HASHES: &[(&str, AlgId)] = &[
    ("sha1", AlgId::SHA1),
    ("sha256", AlgId::SHA256),
    ("sha384", AlgId::SHA384),
    ("sha512", AlgId::SHA512),
    ("sm3_256", AlgId::SM3_256),
    ("sha3_256", AlgId::SHA3_256),
    ("sha3_384", AlgId::SHA3_384),
    ("sha3_512", AlgId::SHA3_512),
];

fn password(s: &str) -> Result<Vec<u8>, AuthError> {
    match parse_auth_with(s, &mut NoPasswordFiles)? {
        AuthSpec::Password(a) => Ok(a.as_bytes().to_vec()),
        other => panic!("{s:?} parsed as {other:?}"),
    }
}

fn hex(bytes: &[u8], upper: bool) -> String {
    bytes
        .iter()
        .map(|b| {
            if upper {
                format!("{b:02X}")
            } else {
                format!("{b:02x}")
            }
        })
        .collect()
}

/// Serves one in-memory file at every path.
struct OneFile(Vec<u8>);

impl PasswordSource for OneFile {
    fn read_file(&mut self, _: &Path, limit: usize) -> io::Result<Zeroizing<Vec<u8>>> {
        read_capped(&self.0[..], limit)
    }
    fn read_stdin(&mut self, limit: usize) -> io::Result<Zeroizing<Vec<u8>>> {
        read_capped(&self.0[..], limit)
    }
}

/// Strings of at most 64 bytes without NUL.
fn text_password() -> impl Strategy<Value = String> {
    "[^\u{0}]{0,64}".prop_map(|s| {
        let mut end = s.len().min(MAX_PASSWORD_LEN);
        while !s.is_char_boundary(end) {
            end -= 1;
        }
        s[..end].to_owned()
    })
}

/// A selection as the parser can produce it: distinct hashes in any order, masks of PCRs 0..=23.
fn selection() -> impl Strategy<Value = PcrSelectionSpec> {
    (
        Just((0..HASHES.len()).collect::<Vec<_>>()).prop_shuffle(),
        1..=HASHES.len(),
        prop::collection::vec(0..=ALL_PCRS, HASHES.len()),
    )
        .prop_map(|(order, count, masks)| PcrSelectionSpec {
            banks: order
                .iter()
                .take(count)
                .zip(masks)
                .map(|(&i, pcrs)| PcrBank {
                    hash: HASHES[i].1,
                    pcrs,
                })
                .collect(),
        })
}

/// Strings that look like the grammar, to reach deeper than uniformly random text does.
fn grammar_like() -> impl Strategy<Value = String> {
    let piece = prop_oneof![
        Just("str:".to_owned()),
        Just("hex:".to_owned()),
        Just("file:".to_owned()),
        Just("session:".to_owned()),
        Just("pcr:".to_owned()),
        Just("sha256:".to_owned()),
        Just("0x".to_owned()),
        Just("all".to_owned()),
        Just("none".to_owned()),
        Just("+".to_owned()),
        Just(",".to_owned()),
        Just("=".to_owned()),
        Just(":".to_owned()),
        Just("-".to_owned()),
        "[0-9a-fA-FxX]{1,4}",
        "\\PC{0,3}",
    ];
    prop::collection::vec(piece, 0..12).prop_map(|v| v.concat())
}

// One module named after the feature, so `cargo test auth` selects these tests too.
mod auth {
    use super::*;

    proptest! {
        #[test]
        fn hex_roundtrips(bytes in prop::collection::vec(any::<u8>(), 0..=MAX_PASSWORD_LEN), upper: bool) {
            prop_assert_eq!(password(&format!("hex:{}", hex(&bytes, upper))).unwrap(), bytes);
        }

        #[test]
        fn str_roundtrips(s in text_password()) {
            prop_assert_eq!(password(&format!("str:{s}")).unwrap(), s.as_bytes());
        }

        #[test]
        fn bare_text_without_a_known_prefix_is_the_password(s in text_password()) {
            let prefixed = ["str:", "hex:", "file:", "session:", "pcr:"]
                .iter()
                .any(|p| s.starts_with(p));
            prop_assume!(!prefixed);
            prop_assert_eq!(password(&s).unwrap(), s.as_bytes());
        }

        #[test]
        fn overlong_passwords_are_refused_without_echoing_them(extra in "[a-z]{65,100}") {
            let e = password(&format!("str:{extra}")).unwrap_err();
            let is_too_long = matches!(e, AuthError::PasswordTooLong { max: 64, .. });
            prop_assert!(is_too_long);
            prop_assert!(!e.to_string().contains(&extra));
        }

        /// A file holding any inline password form, with any trailing CR/LF mix, gives the same
        /// password as that form written inline (line endings at the end of a file are never part
        /// of the password, so forms that end in one are left out).
        #[test]
        fn file_content_equals_inline_form(
            form in prop_oneof![
                text_password()
                    .prop_filter("ends in a line ending", |s| !s.ends_with(['\r', '\n']))
                    .prop_map(|s| format!("str:{s}")),
                prop::collection::vec(any::<u8>(), 0..=MAX_PASSWORD_LEN).prop_map(|b| format!("hex:{}", hex(&b, false))),
            ],
            ending in "[\r\n]{0,2}",
        ) {
            let mut src = OneFile(format!("{form}{ending}").into_bytes());
            let from_file = parse_password_with("file:f", &mut src).unwrap();
            prop_assert_eq!(from_file.as_bytes(), &password(&form).unwrap()[..]);
            let mut src = OneFile(format!("{form}{ending}").into_bytes());
            let from_stdin = parse_password_with("file:-", &mut src).unwrap();
            prop_assert_eq!(from_stdin.as_bytes(), &password(&form).unwrap()[..]);
        }

        #[test]
        fn arbitrary_strings_never_panic(s in "\\PC{0,80}") {
            let _ = parse_auth_with(&s, &mut NoPasswordFiles);
            let _ = parse_password_with(&s, &mut NoPasswordFiles);
            let _ = parse_pcr_selection(&s);
        }

        #[test]
        fn grammar_like_strings_never_panic(s in grammar_like()) {
            let _ = parse_auth_with(&s, &mut NoPasswordFiles);
            let _ = parse_pcr_selection(&s);
            if let Ok(sel) = parse_pcr_selection(&s) {
                prop_assert_eq!(parse_pcr_selection(&sel.to_string()).unwrap(), sel);
            }
        }

        #[test]
        fn arbitrary_file_content_never_panics(content in prop::collection::vec(any::<u8>(), 0..200)) {
            let _ = parse_password_with("file:x", &mut OneFile(content));
        }

        #[test]
        fn canonical_display_reparses(sel in selection()) {
            let text = sel.to_string();
            prop_assert_eq!(parse_pcr_selection(&text).unwrap(), sel.clone());
            let as_auth = parse_auth_with(&format!("pcr:{text}"), &mut NoPasswordFiles).unwrap();
            prop_assert_eq!(as_auth, AuthSpec::Pcr { selection: sel, digest_file: None });
        }

        /// Any spelling tpm2-tools accepts (names or numeric ids, decimal or hex PCRs, any order)
        /// gives the selection it spells.
        #[test]
        fn spellings_parse_to_their_meaning(
            sel in selection(),
            numeric_hash in prop::collection::vec(0u8..3, HASHES.len()),
            pcr_style in prop::collection::vec(any::<bool>(), 24),
            reverse: bool,
        ) {
            let banks: Vec<String> = sel.banks.iter().zip(&numeric_hash).map(|(bank, style)| {
                let (name, id) = HASHES.iter().find(|(_, id)| *id == bank.hash).unwrap();
                let hash = match style {
                    0 => name.to_string(),
                    1 => id.0.to_string(),
                    _ => format!("0x{:04x}", id.0),
                };
                let mut pcrs: Vec<u32> = (0..24).filter(|i| bank.pcrs & (1 << i) != 0).collect();
                if reverse {
                    pcrs.reverse();
                }
                let list = if pcrs.is_empty() {
                    "none".to_owned()
                } else {
                    pcrs.iter()
                        .map(|&p| if pcr_style[p as usize] { format!("0x{p:x}") } else { p.to_string() })
                        .collect::<Vec<_>>()
                        .join(",")
                };
                format!("{hash}:{list}")
            }).collect();
            prop_assert_eq!(parse_pcr_selection(&banks.join("+")).unwrap(), sel);
        }
    }
}
