//! Name files: an entity's name as raw bytes (the buffer of a TPM2B_NAME), as
//! `tpm2_readpublic -n` writes it, to check a key against a name obtained out of band.

use std::path::Path;

use super::{read_bounded, FileError};
use crate::crypto::HashAlg;
use crate::wire::{AlgId, Name, MAX_NAME_SIZE};

/// Reads a name file (at most [`MAX_NAME_SIZE`] bytes) and checks its form: a 4-byte handle,
/// or a hash algorithm id followed by a digest of that algorithm's size. Errors are
/// [`FileError::InFile`] with the path, except those of opening and reading it.
pub fn read_name_file(path: &Path) -> Result<Name, FileError> {
    let bytes = read_bounded(path, "name file", MAX_NAME_SIZE)?;
    check_name(&bytes).map_err(|e| e.in_file(path))?;
    Name::new(&bytes).map_err(|_| {
        FileError::TooLarge {
            what: "name",
            size: bytes.len(),
            max: MAX_NAME_SIZE,
        }
        .in_file(path)
    })
}

fn check_name(bytes: &[u8]) -> Result<(), FileError> {
    // A handle is its own name (permanent handles, sessions, PCRs).
    if bytes.len() == 4 {
        return Ok(());
    }
    let [a, b, digest @ ..] = bytes else {
        return Err(FileError::Truncated {
            what: "name (hash algorithm id)",
            needed: 2,
            available: bytes.len(),
        });
    };
    let alg = AlgId(u16::from_be_bytes([*a, *b]));
    let size = HashAlg::from_alg_id(alg)
        .map_err(|_| FileError::BadValue {
            what: "name hash algorithm",
            value: alg.0.into(),
        })?
        .digest_size();
    match digest.len() {
        n if n < size => Err(FileError::Truncated {
            what: "name digest",
            needed: size,
            available: n,
        }),
        n if n > size => Err(FileError::TrailingBytes {
            what: "name digest",
            count: n - size,
        }),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_must_have_a_known_hash_and_its_digest_size() {
        let mut good = vec![0x00, 0x0b];
        good.extend([7u8; 32]);
        assert!(check_name(&good).is_ok());
        assert!(check_name(&[0x40, 0, 0, 1]).is_ok(), "a handle name");
        for bad in [
            &good[..33],
            &[good.as_slice(), &[0]].concat()[..],
            &[0x00, 0x04, 1, 2, 3][..],
            &[0x00][..],
            &[][..],
        ] {
            assert!(check_name(bad).is_err(), "{bad:02x?}");
        }
    }
}
