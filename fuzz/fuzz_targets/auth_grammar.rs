//! Fuzzes the tpm2-tools authorization grammar and PCR bank specifiers.
//!
//! File access is stubbed, never real: the fuzzer's strings may name any path (`file:/dev/zero`,
//! `file:-` with a terminal on stdin), and reading those would make runs slow, blocking or
//! machine-dependent. Arguments are parsed with `NoPasswordFiles` (every read fails cleanly),
//! and the file-content path is fuzzed separately by serving the input bytes as the file.
#![no_main]

use std::io;
use std::path::Path;

use libfuzzer_sys::fuzz_target;
use tpm2_wire::auth::{
    parse_auth_with, parse_password_with, parse_pcr_selection, read_capped, AuthSpec,
    NoPasswordFiles, PasswordSource,
};
use zeroize::Zeroizing;

/// Serves the fuzz input as the content of every file and of stdin.
struct Served<'a>(&'a [u8]);

impl PasswordSource for Served<'_> {
    fn read_file(&mut self, _: &Path, limit: usize) -> io::Result<Zeroizing<Vec<u8>>> {
        read_capped(self.0, limit)
    }
    fn read_stdin(&mut self, limit: usize) -> io::Result<Zeroizing<Vec<u8>>> {
        read_capped(self.0, limit)
    }
}

fuzz_target!(|data: &[u8]| {
    // Password-file content is raw bytes, not necessarily UTF-8.
    let _ = parse_password_with("file:f", &mut Served(data));
    let _ = parse_password_with("file:-", &mut Served(data));

    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let _ = parse_password_with(text, &mut NoPasswordFiles);
    if let Ok(AuthSpec::Pcr { selection, .. }) = parse_auth_with(text, &mut NoPasswordFiles) {
        let again = parse_pcr_selection(&selection.to_string());
        assert_eq!(
            again.ok().as_ref(),
            Some(&selection),
            "pcr: display must reparse"
        );
    }
    if let Ok(selection) = parse_pcr_selection(text) {
        let again = parse_pcr_selection(&selection.to_string());
        assert_eq!(
            again.ok().as_ref(),
            Some(&selection),
            "display must reparse"
        );
    }
});
