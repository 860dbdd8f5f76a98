//! tpm2-tools 5.x context and session files: parsing and writing bytes and files. Nothing here
//! talks to a TPM.
//!
//! A *context file* (`tpm2_createprimary -c`, `tpm2_load -c`) is the tools' header
//! (`0xBADCC0DE`, version 1), the TPMS_CONTEXT fields in the order hierarchy, savedHandle,
//! sequence, and a context blob that tpm2-tss wrapped as `IESYS_CONTEXT_DATA`: the TPM's own
//! blob followed by ESYS metadata ([`EsysResource`]). A *session file*
//! (`tpm2_startauthsession -S`) is a header with version 2, the session type and auth hash,
//! and then a context file. `tpm2_evictcontrol -o` and `tpm2_readpublic -t` write the bare
//! ESYS resource with no header ([`ObjectFile::Serialized`]).
//!
//! Parsing is strict: the tools ignore a session header's version, we require 2; reserved
//! fields must be zero; nothing may trail. Secrets never reach a file we write: ESYS's
//! `sessionValue` cache (which tpm2-tools leaves holding the last authValue in clear) and any
//! salt are skipped on read and written empty. One exception is ESYS's own design: a bound
//! session's `bound_entity` carries the bind object's authValue XORed into zero padding (see
//! [`esys_bound_entity`]), i.e. readable, and ESYS needs it to recognise the bound object, so
//! it is kept as read.

mod atomic;
mod bounded;
mod credential;
mod esys;
mod name;
mod parse;
#[cfg(feature = "attest")]
pub mod policy_signed;
mod session_config;
mod state;

use std::path::{Path, PathBuf};

use zeroize::Zeroizing;

pub use atomic::{write_atomic, write_atomic_volatile};
pub use bounded::{
    input_timeout, read_bounded, read_bounded_within, DEFAULT_INPUT_TIMEOUT, INPUT_TIMEOUT_ENV,
};
pub(crate) use bounded::{kind_name, read_prefix, read_stdin_prefix};
pub use credential::{
    read_credential_file, write_credential_file, CredentialFile, CREDENTIAL_VERSION,
};
pub use esys::{EsysName, EsysResource, EsysSession, ESYS_NAME_SIZE};
pub use name::read_name_file;
use parse::Fields;
pub use session_config::configure_session_file;

use crate::wire::{AlgId, Context, Handle, Name, SessionType, Writer, MAX_CONTEXT_SIZE};

/// First four bytes of every file tpm2-tools writes with a header.
pub const MAGIC: u32 = 0xBADC_C0DE;
/// `CONTEXT_VERSION` in tpm2-tools `lib/files.c`.
pub const CONTEXT_VERSION: u32 = 1;
/// `SESSION_VERSION` in tpm2-tools `lib/tpm2_session.c` (1 predates ESYS).
pub const SESSION_VERSION: u32 = 2;
/// No valid file comes near this: a session file is at most ~5.2 KiB. Bounds what a read
/// allocates when pointed at something like `/dev/zero`.
const MAX_FILE_SIZE: u64 = 16 * 1024;

/// Why a file could not be read, parsed or written.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum FileError {
    /// The file does not start with tpm2-tools' magic number.
    #[error("not a tpm2-tools file (magic 0x{found:08X}, expected 0xBADCC0DE)")]
    BadMagic {
        /// The first four bytes, big-endian.
        found: u32,
    },
    /// The file's format version is not the one this library reads.
    #[error("unsupported {what} version {found} (expected {expected}){hint}")]
    BadVersion {
        /// `"context file"` or `"session file"`.
        what: &'static str,
        /// The version in the file.
        found: u32,
        /// The version expected.
        expected: u32,
        /// A hint when the version suggests the other kind of file, else empty.
        hint: &'static str,
    },
    /// The file ended inside a field.
    #[error("truncated in {what}: needed {needed} bytes, {available} available")]
    Truncated {
        /// The field.
        what: &'static str,
        /// Bytes the field needed.
        needed: usize,
        /// Bytes that were left.
        available: usize,
    },
    /// Bytes follow the end of the structure.
    #[error("{count} unexpected trailing bytes after {what}")]
    TrailingBytes {
        /// The structure.
        what: &'static str,
        /// How many bytes follow it.
        count: usize,
    },
    /// A field, or the file, is larger than its format allows.
    #[error("{what} is {size} bytes, more than the {max} allowed")]
    TooLarge {
        /// The field or file.
        what: &'static str,
        /// Its size in bytes.
        size: usize,
        /// The most allowed, in bytes.
        max: usize,
    },
    /// A stream (FIFO, pipe, device) delivered more than its format allows; its full size is
    /// unknown because the read stopped there.
    #[error("{what} is more than the {max} bytes allowed")]
    ExceedsLimit {
        /// What was being read.
        what: &'static str,
        /// The most allowed, in bytes.
        max: usize,
    },
    /// The path is a kind of file that cannot be used this way (a directory to read, a socket
    /// to write, a regular file as a TPM device, ...).
    #[error("{kind} cannot be {op}; expected {expected}")]
    WrongFileType {
        /// What the path is ("a directory", "a socket", ...).
        kind: &'static str,
        /// What was to be done ("read", "written").
        op: &'static str,
        /// What kinds of file would do.
        expected: &'static str,
    },
    /// A FIFO, pipe or device did not finish within the time allowed (see
    /// [`input_timeout`]).
    #[error("timed out after {waited:?} {during}")]
    Timeout {
        /// How long it waited.
        waited: std::time::Duration,
        /// What it was doing.
        during: &'static str,
    },
    /// Writing in place to a FIFO or device stopped part-way: what was written stays written.
    #[error("wrote only {written} of {total} bytes: {error}")]
    PartialWrite {
        /// Bytes written.
        written: usize,
        /// Bytes that were to be written.
        total: usize,
        /// Why it stopped.
        error: std::io::Error,
    },
    /// A reserved field that must be zero is not (the file is corrupt, or a format we do not
    /// know).
    #[error("{what} must be zero, found 0x{value:x}")]
    NonZeroReserved {
        /// The field.
        what: &'static str,
        /// Its value.
        value: u32,
    },
    /// A field holds a value its type does not allow.
    #[error("invalid {what}: 0x{value:x}")]
    BadValue {
        /// The field.
        what: &'static str,
        /// Its value.
        value: u32,
    },
    /// The file holds an ESYS "degraded session" (resource type 4), which ESYS itself cannot
    /// restore.
    #[error("ESYS resource type 4 (degraded session) cannot be restored")]
    DegradedSession,
    /// The ESYS resource type is none of those tpm2-tss writes.
    #[error("unknown ESYS resource type {0}")]
    UnknownResourceType(u32),
    /// A session was expected, but the file holds another kind of resource.
    #[error("session file holds a {found} resource, not a session")]
    NotASession {
        /// The kind found ([`EsysResource::kind`]).
        found: &'static str,
    },
    /// The session file's header and its saved session disagree on the session type.
    #[error("session header says {header} but the saved session is {saved}")]
    SessionTypeMismatch {
        /// The type in the header.
        header: SessionType,
        /// The type of the saved session.
        saved: SessionType,
    },
    /// The session file's header and its saved session disagree on the hash.
    #[error("session header says auth hash {header} but the saved session uses {saved}")]
    AuthHashMismatch {
        /// The hash in the header.
        header: AlgId,
        /// The hash of the saved session.
        saved: AlgId,
    },
    /// The file could not be opened, read or written.
    #[error("{}: {op}: {error}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// What was being done ("open", "read", "create temporary file", ...).
        op: &'static str,
        /// The operating system's error.
        error: std::io::Error,
    },
    /// A format error found in a file; `error` is one of the variants above.
    #[error("{}: {error}", path.display())]
    InFile {
        /// The file.
        path: PathBuf,
        /// The format error.
        error: Box<FileError>,
    },
}

impl FileError {
    /// The format error itself, without the file it was found in.
    pub fn without_path(&self) -> &FileError {
        match self {
            FileError::InFile { error, .. } => error.without_path(),
            other => other,
        }
    }

    fn in_file(self, path: &Path) -> FileError {
        match self {
            e @ (FileError::Io { .. } | FileError::InFile { .. }) => e,
            e => FileError::InFile {
                path: path.to_path_buf(),
                error: Box::new(e),
            },
        }
    }
}

/// A saved TPM context with its ESYS metadata: a tpm2-tools context file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SavedContext {
    /// The TPMS_CONTEXT, as TPM2_ContextSave returned it and TPM2_ContextLoad takes it. The
    /// file keeps its fields in the order hierarchy, savedHandle, sequence, and its blob inside
    /// ESYS's `IESYS_CONTEXT_DATA`.
    pub tpm: Context,
    /// What ESYS knows about the saved entity (its handle, name and public area, or the session
    /// state).
    pub resource: EsysResource,
}

impl SavedContext {
    /// The context file bytes. The TPM2B_CONTEXT_DATA it embeds holds at most
    /// [`MAX_CONTEXT_SIZE`] bytes; [`write_context_file`] refuses a larger one, `to_bytes`
    /// writes it anyway and [`SavedContext::from_bytes`] (like tpm2-tools) will refuse it.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::new();
        self.marshal(&mut Writer::new(&mut out));
        out
    }

    fn marshal(&self, w: &mut Writer<'_>) {
        write_header(w, CONTEXT_VERSION);
        w.u32(self.tpm.hierarchy.0);
        w.u32(self.tpm.saved_handle.0);
        w.u64(self.tpm.sequence);
        let blob = self.esys_blob();
        w.u16(blob.len() as u16);
        w.bytes(&blob);
    }

    /// IESYS_CONTEXT_DATA: reserved, the TPM blob, then the metadata with its (always zero) size.
    fn esys_blob(&self) -> Zeroizing<Vec<u8>> {
        let mut blob = Zeroizing::new(Vec::new());
        let mut w = Writer::new(&mut blob);
        w.u32(0);
        w.u16(self.tpm.context_blob.len() as u16);
        w.bytes(self.tpm.context_blob.as_bytes());
        w.u16(0);
        self.resource.marshal(&mut w);
        blob
    }

    fn check_size(&self) -> Result<(), FileError> {
        let size = self.esys_blob().len();
        if size > MAX_CONTEXT_SIZE {
            return Err(FileError::TooLarge {
                what: "context blob",
                size,
                max: MAX_CONTEXT_SIZE,
            });
        }
        Ok(())
    }

    /// Parses a context file: the header, the TPMS_CONTEXT fields and the IESYS_CONTEXT_DATA blob,
    /// strictly (reserved fields zero, nothing trailing, sizes bounded).
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, FileError> {
        let mut f = Fields::new(bytes);
        let ctx = Self::parse(&mut f)?;
        f.finish("context file")?;
        Ok(ctx)
    }

    fn parse(f: &mut Fields<'_>) -> Result<Self, FileError> {
        read_header(f, "context file", CONTEXT_VERSION)?;
        let hierarchy = Handle(f.u32("hierarchy")?);
        let saved_handle = Handle(f.u32("savedHandle")?);
        let sequence = f.u64("sequence")?;
        let mut blob = Fields::new(f.sized_bytes("context blob", MAX_CONTEXT_SIZE)?);
        let reserved = blob.u32("ESYS context reserved field")?;
        if reserved != 0 {
            return Err(FileError::NonZeroReserved {
                what: "ESYS context reserved field",
                value: reserved,
            });
        }
        let context_blob = blob.tpm2b("TPM context blob")?;
        let metadata_size = blob.u16("ESYS metadata size")?;
        if metadata_size != 0 {
            return Err(FileError::NonZeroReserved {
                what: "ESYS metadata size",
                value: metadata_size as u32,
            });
        }
        let resource = EsysResource::parse(&mut blob)?;
        blob.finish("ESYS context data")?;
        Ok(SavedContext {
            tpm: Context {
                sequence,
                saved_handle,
                hierarchy,
                context_blob,
            },
            resource,
        })
    }
}

/// Writes a tpm2-tools file header: the magic and the file kind's version.
pub(crate) fn write_header(w: &mut Writer<'_>, version: u32) {
    w.u32(MAGIC);
    w.u32(version);
}

/// Reads a tpm2-tools file header: the magic, then `expected` version for a `what`; a file of
/// another kind (its version is another of ours) gets an error that says what it is.
pub(crate) fn read_header(
    f: &mut Fields<'_>,
    what: &'static str,
    expected: u32,
) -> Result<(), FileError> {
    let magic = f.u32("magic")?;
    if magic != MAGIC {
        return Err(FileError::BadMagic { found: magic });
    }
    // tpm2-tools reads the version and never compares it; we do, so a file of another kind
    // gets a clear error instead of a misparse.
    let version = f.u32("version")?;
    if version != expected {
        return Err(FileError::BadVersion {
            what,
            found: version,
            expected,
            hint: match (expected, version) {
                (SESSION_VERSION, CONTEXT_VERSION) => {
                    " - this is an object context file, not a session"
                }
                (_, SESSION_VERSION) => " - this looks like a session file",
                _ => "",
            },
        });
    }
    Ok(())
}

/// A tpm2-tools session file: the session type and auth hash, then the saved session.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SessionFile {
    /// TPM_SE_HMAC, TPM_SE_POLICY or TPM_SE_TRIAL.
    pub session_type: SessionType,
    /// The session's hash algorithm.
    pub auth_hash: AlgId,
    /// Its resource is an [`EsysResource::Session`] whose type and hash match the header.
    pub context: SavedContext,
}

impl SessionFile {
    /// The session file bytes (tpm2-tools session file version 2).
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::new();
        let mut w = Writer::new(&mut out);
        write_header(&mut w, SESSION_VERSION);
        w.u8(self.session_type.0);
        w.u16(self.auth_hash.0);
        self.context.marshal(&mut w);
        out
    }

    /// Parses a session file, refusing one whose header disagrees with its saved session.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, FileError> {
        let mut f = Fields::new(bytes);
        read_header(&mut f, "session file", SESSION_VERSION)?;
        let session_type = esys::parse_session_type(f.u8("session type")?)?;
        let auth_hash = esys::parse_auth_hash(f.u16("session auth hash")?)?;
        let context = SavedContext::parse(&mut f)?;
        f.finish("session file")?;
        let file = SessionFile {
            session_type,
            auth_hash,
            context,
        };
        file.check_consistent()?;
        Ok(file)
    }

    /// The saved session (always present in a parsed or validated file).
    pub fn session(&self) -> Option<&EsysSession> {
        match &self.context.resource {
            EsysResource::Session { session, .. } => Some(session),
            _ => None,
        }
    }

    /// Checks that the file holds a session and that its header agrees with the saved session
    /// on type and hash ([`FileError::NotASession`], [`FileError::SessionTypeMismatch`],
    /// [`FileError::AuthHashMismatch`]).
    pub(crate) fn check_consistent(&self) -> Result<(), FileError> {
        let session = self.session().ok_or(FileError::NotASession {
            found: self.context.resource.kind(),
        })?;
        if session.session_type != self.session_type {
            return Err(FileError::SessionTypeMismatch {
                header: self.session_type,
                saved: session.session_type,
            });
        }
        if session.auth_hash != self.auth_hash {
            return Err(FileError::AuthHashMismatch {
                header: self.auth_hash,
                saved: session.auth_hash,
            });
        }
        Ok(())
    }
}

/// What `tpm2-tools` accepts wherever it takes an object context (`-c file`).
// Inline fixed-capacity buffers, read once per file: not worth boxing.
#[allow(clippy::large_enum_variant)]
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ObjectFile {
    /// A context file with the tools' header.
    Context(SavedContext),
    /// A bare `Esys_TR_Serialize` blob (persistent handles: `tpm2_evictcontrol -o`,
    /// `tpm2_readpublic -t`).
    Serialized(EsysResource),
}

impl ObjectFile {
    /// The tools tell the two apart by the magic, and so do we.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, FileError> {
        if bytes.get(..4) == Some(&MAGIC.to_be_bytes()[..]) {
            let mut f = Fields::new(bytes);
            let ctx = SavedContext::parse(&mut f)?;
            f.finish("context file")?;
            Ok(ObjectFile::Context(ctx))
        } else {
            Ok(ObjectFile::Serialized(EsysResource::from_bytes(bytes)?))
        }
    }

    /// The file bytes, in the form this value came in.
    pub fn to_bytes(&self) -> Vec<u8> {
        match self {
            ObjectFile::Context(c) => c.to_bytes(),
            ObjectFile::Serialized(r) => r.to_bytes(),
        }
    }

    /// The ESYS resource in either form.
    pub fn resource(&self) -> &EsysResource {
        match self {
            ObjectFile::Context(c) => &c.resource,
            ObjectFile::Serialized(r) => r,
        }
    }
}

/// ESYS's `bound_entity` (tpm2-tss `iesys_compute_bound_entity`) is the TPM's own bound-entity
/// value; one implementation serves both.
pub fn esys_bound_entity(name: &Name, auth: &[u8]) -> EsysName {
    crate::session::bound_entity(name.as_bytes(), auth)
}

/// Reads at most [`MAX_FILE_SIZE`] bytes into a zeroizing buffer (session files can hold
/// secrets); see [`read_bounded`].
fn read_limited(path: &Path) -> Result<Zeroizing<Vec<u8>>, FileError> {
    read_bounded(path, "tpm2-tools file", MAX_FILE_SIZE as usize)
}

/// Reads and parses a context file (at most 16 KiB; FIFOs and devices within the input timeout).
/// Format errors are [`FileError::InFile`] with the path.
pub fn read_context_file(path: &Path) -> Result<SavedContext, FileError> {
    let bytes = read_limited(path)?;
    SavedContext::from_bytes(&bytes).map_err(|e| e.in_file(path))
}

/// Reads and parses a session file, like [`read_context_file`].
pub fn read_session_file(path: &Path) -> Result<SessionFile, FileError> {
    let bytes = read_limited(path)?;
    SessionFile::from_bytes(&bytes).map_err(|e| e.in_file(path))
}

/// Reads an object context in either form tpm2-tools writes (a context file, or a bare serialized
/// ESYS resource), like [`read_context_file`].
pub fn read_object_file(path: &Path) -> Result<ObjectFile, FileError> {
    let bytes = read_limited(path)?;
    ObjectFile::from_bytes(&bytes).map_err(|e| e.in_file(path))
}

/// Writes atomically with mode 0600 (see [`write_atomic`]).
pub fn write_context_file(path: &Path, ctx: &SavedContext) -> Result<(), FileError> {
    ctx.check_size().map_err(|e| e.in_file(path))?;
    write_atomic(path, &Zeroizing::new(ctx.to_bytes()))
}

/// Writes atomically with mode 0600 (see [`write_atomic`]). Refuses a file the tools could not
/// use: the resource must be a session matching the header.
pub fn write_session_file(path: &Path, f: &SessionFile) -> Result<(), FileError> {
    f.check_consistent()
        .and_then(|()| f.context.check_size())
        .map_err(|e| e.in_file(path))?;
    write_atomic(path, &Zeroizing::new(f.to_bytes()))
}

/// Writes either form atomically with mode 0600.
pub fn write_object_file(path: &Path, f: &ObjectFile) -> Result<(), FileError> {
    if let ObjectFile::Context(c) = f {
        c.check_size().map_err(|e| e.in_file(path))?;
    }
    write_atomic(path, &f.to_bytes())
}

#[cfg(test)]
mod tests;
