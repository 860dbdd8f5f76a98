//! A bounds-checked field reader whose errors say which field of the file was bad.

use super::FileError;
use crate::wire::{Reader, Secret, Tpm2b, Unmarshal, WireError};

pub(crate) struct Fields<'a> {
    r: Reader<'a>,
}

fn located(what: &'static str, e: WireError) -> FileError {
    match e {
        WireError::Truncated { needed, available } => FileError::Truncated {
            what,
            needed,
            available,
        },
        WireError::TooLarge { size, max, .. } => FileError::TooLarge { what, size, max },
        WireError::TrailingBytes(count) => FileError::TrailingBytes { what, count },
        WireError::BadValue { value, .. } => FileError::BadValue { what, value },
        WireError::TooMany { count, max, .. } => FileError::TooLarge {
            what,
            size: count,
            max,
        },
        WireError::SizeMismatch { declared, actual } => FileError::Truncated {
            what,
            needed: declared,
            available: actual,
        },
    }
}

impl<'a> Fields<'a> {
    pub(crate) fn new(bytes: &'a [u8]) -> Self {
        Fields {
            r: Reader::new(bytes),
        }
    }

    pub(crate) fn u8(&mut self, what: &'static str) -> Result<u8, FileError> {
        self.r.u8().map_err(|e| located(what, e))
    }

    pub(crate) fn u16(&mut self, what: &'static str) -> Result<u16, FileError> {
        self.r.u16().map_err(|e| located(what, e))
    }

    pub(crate) fn u32(&mut self, what: &'static str) -> Result<u32, FileError> {
        self.r.u32().map_err(|e| located(what, e))
    }

    pub(crate) fn u64(&mut self, what: &'static str) -> Result<u64, FileError> {
        self.r.u64().map_err(|e| located(what, e))
    }

    pub(crate) fn tpm2b<const N: usize>(
        &mut self,
        what: &'static str,
    ) -> Result<Tpm2b<N>, FileError> {
        self.value(what)
    }

    /// Any wire structure, read with its own unmarshalling; errors name `what`.
    pub(crate) fn value<T: Unmarshal>(&mut self, what: &'static str) -> Result<T, FileError> {
        T::unmarshal(&mut self.r).map_err(|e| located(what, e))
    }

    /// A size-prefixed structure (TPM2B_PUBLIC, ...) declared at most `max` bytes long: a
    /// larger size is refused as the format's limit exceeded before the file's length is
    /// looked at, as for every other sized field.
    pub(crate) fn sized_value<T: Unmarshal>(
        &mut self,
        what: &'static str,
        max: usize,
    ) -> Result<T, FileError> {
        let size = self.r.clone().u16().map_err(|e| located(what, e))? as usize;
        if size > max {
            return Err(FileError::TooLarge { what, size, max });
        }
        self.value(what)
    }

    /// Reads a TPM2B straight into a zeroizing buffer (no intermediate copy).
    pub(crate) fn secret<const N: usize>(
        &mut self,
        what: &'static str,
    ) -> Result<Secret<N>, FileError> {
        let bytes = self.sized_bytes(what, N)?;
        Secret::new(bytes).map_err(|e| located(what, e))
    }

    /// Skips `n` bytes without copying them anywhere.
    pub(crate) fn skip(&mut self, n: usize, what: &'static str) -> Result<(), FileError> {
        self.r.take(n).map(|_| ()).map_err(|e| located(what, e))
    }

    /// Skips a TPM2B of at most `max` bytes.
    pub(crate) fn skip_sized(&mut self, what: &'static str, max: usize) -> Result<(), FileError> {
        self.sized_bytes(what, max).map(|_| ())
    }

    /// A u16 size and that many bytes, at most `max`.
    pub(crate) fn sized_bytes(
        &mut self,
        what: &'static str,
        max: usize,
    ) -> Result<&'a [u8], FileError> {
        let size = self.u16(what)? as usize;
        if size > max {
            return Err(FileError::TooLarge { what, size, max });
        }
        self.r.take(size).map_err(|e| located(what, e))
    }

    pub(crate) fn finish(&self, what: &'static str) -> Result<(), FileError> {
        self.r.finish().map_err(|e| located(what, e))
    }
}
