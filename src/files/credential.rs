//! The credential file `tpm2_makecredential -o` writes and `tpm2_activatecredential -i`
//! reads: the tools' header (magic `0xBADCC0DE`, version 1), the TPM2B_ID_OBJECT, then the
//! TPM2B_ENCRYPTED_SECRET. Neither part is secret: the credential inside is encrypted.

use std::path::Path;

use super::parse::Fields;
use super::{read_bounded, read_header, write_atomic, write_header, FileError};
use crate::wire::{
    EncryptedSecret, IdObject, Marshal, Writer, MAX_ENCRYPTED_SECRET, MAX_ID_OBJECT,
};

/// The version `tpm2_makecredential` writes and `tpm2_activatecredential` requires.
pub const CREDENTIAL_VERSION: u32 = 1;

/// The largest credential file: header, and both TPM2Bs at their capacity.
const MAX_CREDENTIAL_FILE: usize = 8 + 2 + MAX_ID_OBJECT + 2 + MAX_ENCRYPTED_SECRET;

/// A credential as tpm2-tools stores it: what TPM2_MakeCredential returns.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CredentialFile {
    /// The credential blob (TPM2B_ID_OBJECT).
    pub id_object: IdObject,
    /// The seed, encrypted to the protector (TPM2B_ENCRYPTED_SECRET).
    pub secret: EncryptedSecret,
}

impl CredentialFile {
    /// The file bytes.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::new();
        let mut w = Writer::new(&mut out);
        write_header(&mut w, CREDENTIAL_VERSION);
        self.id_object.marshal(&mut w);
        self.secret.marshal(&mut w);
        out
    }

    /// Parses a credential file strictly: magic, version 1, both structures within their
    /// capacity, nothing after them.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, FileError> {
        let mut f = Fields::new(bytes);
        read_header(&mut f, "credential file", CREDENTIAL_VERSION)?;
        let id_object = f.value("credential blob (TPM2B_ID_OBJECT)")?;
        let secret = f.value("encrypted seed (TPM2B_ENCRYPTED_SECRET)")?;
        f.finish("credential file")?;
        Ok(CredentialFile { id_object, secret })
    }
}

/// Reads and parses a credential file (at most a few hundred bytes are read; FIFOs and devices
/// within the input timeout). Format errors are [`FileError::InFile`] with the path.
pub fn read_credential_file(path: &Path) -> Result<CredentialFile, FileError> {
    let bytes = read_bounded(path, "credential file", MAX_CREDENTIAL_FILE)?;
    CredentialFile::from_bytes(&bytes).map_err(|e| e.in_file(path))
}

/// Writes a credential file atomically with mode 0600 (see [`write_atomic`]).
pub fn write_credential_file(path: &Path, file: &CredentialFile) -> Result<(), FileError> {
    write_atomic(path, &file.to_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::{Digest, EncIdentity};

    fn sample() -> CredentialFile {
        CredentialFile {
            id_object: IdObject {
                integrity_hmac: Digest::new(&[0xAB; 32]).unwrap(),
                enc_identity: EncIdentity::new(&[0xCD; 34]).unwrap(),
            },
            secret: EncryptedSecret::new(&[0xEF; 256]).unwrap(),
        }
    }

    #[test]
    fn layout_is_header_id_object_secret() {
        let bytes = sample().to_bytes();
        assert_eq!(&bytes[..8], &[0xBA, 0xDC, 0xC0, 0xDE, 0, 0, 0, 1]);
        assert_eq!(&bytes[8..12], &[0x00, 68, 0x00, 32]);
        assert_eq!(&bytes[78..80], &[0x01, 0x00]);
        assert_eq!(bytes.len(), 80 + 256);
        assert_eq!(CredentialFile::from_bytes(&bytes).unwrap(), sample());
    }

    #[test]
    fn malformed_files_are_refused() {
        let good = sample().to_bytes();
        for cut in 0..good.len() {
            assert!(CredentialFile::from_bytes(&good[..cut]).is_err(), "{cut}");
        }
        let mut trailing = good.clone();
        trailing.push(0);
        assert!(matches!(
            CredentialFile::from_bytes(&trailing),
            Err(FileError::TrailingBytes { .. })
        ));
        let mut version = good.clone();
        version[7] = 2;
        assert!(matches!(
            CredentialFile::from_bytes(&version),
            Err(FileError::BadVersion { found: 2, .. })
        ));
        let mut magic = good;
        magic[0] = 0;
        assert!(matches!(
            CredentialFile::from_bytes(&magic),
            Err(FileError::BadMagic { .. })
        ));
    }

    #[test]
    fn files_round_trip_and_are_owner_only() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("cred.out");
        write_credential_file(&path, &sample()).unwrap();
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        assert_eq!(read_credential_file(&path).unwrap(), sample());
        std::fs::write(&path, vec![0u8; MAX_CREDENTIAL_FILE + 1]).unwrap();
        assert!(read_credential_file(&path).is_err());
    }
}
