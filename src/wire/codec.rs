//! The two halves every wire type implements: [`Marshal`] writes into a [`Writer`], [`Unmarshal`]
//! reads from a bounds-checked [`Reader`]. Everything else in `wire` is built on these.

use alloc::vec::Vec;

use super::WireError;

/// A cursor over untrusted bytes. Every read is bounds-checked and fails with [`WireError`];
/// nothing here can panic or allocate.
#[derive(Clone, Debug)]
pub struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    /// A reader at the start of `buf`.
    pub fn new(buf: &'a [u8]) -> Self {
        Reader { buf, pos: 0 }
    }

    /// Bytes not read yet.
    pub fn remaining(&self) -> usize {
        self.buf.len() - self.pos
    }

    /// Bytes read so far (the offset of the next byte in the input).
    pub fn position(&self) -> usize {
        self.pos
    }

    /// Whether every byte has been read.
    pub fn is_empty(&self) -> bool {
        self.remaining() == 0
    }

    /// The unread bytes, without consuming them.
    pub fn rest(&self) -> &'a [u8] {
        &self.buf[self.pos..]
    }

    /// Takes exactly `n` bytes.
    pub fn take(&mut self, n: usize) -> Result<&'a [u8], WireError> {
        if n > self.remaining() {
            return Err(WireError::Truncated {
                needed: n,
                available: self.remaining(),
            });
        }
        let out = &self.buf[self.pos..self.pos + n];
        self.pos += n;
        Ok(out)
    }

    /// Takes exactly `N` bytes as an array.
    pub fn take_array<const N: usize>(&mut self) -> Result<[u8; N], WireError> {
        let mut out = [0u8; N];
        out.copy_from_slice(self.take(N)?);
        Ok(out)
    }

    /// A reader over the next `n` bytes; `self` moves past them. Used for sized structures
    /// (TPM2B wrappers, the authorization area) whose contents must not run past their size.
    pub fn sub(&mut self, n: usize) -> Result<Reader<'a>, WireError> {
        Ok(Reader::new(self.take(n)?))
    }

    /// Reads a UINT8 (also BYTE and TPMI_YES_NO's wire form).
    pub fn u8(&mut self) -> Result<u8, WireError> {
        Ok(self.take_array::<1>()?[0])
    }

    /// Reads a big-endian UINT16.
    pub fn u16(&mut self) -> Result<u16, WireError> {
        Ok(u16::from_be_bytes(self.take_array()?))
    }

    /// Reads a big-endian UINT32.
    pub fn u32(&mut self) -> Result<u32, WireError> {
        Ok(u32::from_be_bytes(self.take_array()?))
    }

    /// Reads a big-endian UINT64.
    pub fn u64(&mut self) -> Result<u64, WireError> {
        Ok(u64::from_be_bytes(self.take_array()?))
    }

    /// Fails unless every byte was consumed: trailing bytes mean the sender and we disagree on
    /// the structure, which must not be silently ignored.
    pub fn finish(&self) -> Result<(), WireError> {
        if self.remaining() != 0 {
            return Err(WireError::TrailingBytes(self.remaining()));
        }
        Ok(())
    }
}

/// An append-only byte sink. It wraps a caller-owned `Vec` so a caller that reuses one buffer
/// for every command allocates nothing once the buffer has grown to its working size.
#[derive(Debug)]
pub struct Writer<'b> {
    buf: &'b mut Vec<u8>,
}

impl<'b> Writer<'b> {
    /// A writer that appends to `buf` (existing contents are kept).
    pub fn new(buf: &'b mut Vec<u8>) -> Self {
        Writer { buf }
    }

    /// Bytes in the underlying buffer, including any that were there before this writer.
    pub fn len(&self) -> usize {
        self.buf.len()
    }

    /// Whether the underlying buffer is empty.
    pub fn is_empty(&self) -> bool {
        self.buf.is_empty()
    }

    /// Appends raw bytes (no size field).
    pub fn bytes(&mut self, b: &[u8]) {
        self.buf.extend_from_slice(b);
    }

    /// Appends a UINT8.
    pub fn u8(&mut self, v: u8) {
        self.buf.push(v);
    }

    /// Appends a big-endian UINT16.
    pub fn u16(&mut self, v: u16) {
        self.bytes(&v.to_be_bytes());
    }

    /// Appends a big-endian UINT32.
    pub fn u32(&mut self, v: u32) {
        self.bytes(&v.to_be_bytes());
    }

    /// Appends a big-endian UINT64.
    pub fn u64(&mut self, v: u64) {
        self.bytes(&v.to_be_bytes());
    }

    /// Writes `f`'s output preceded by its length as a big-endian u16 (the TPM2B form).
    /// Fails if the output does not fit in a u16; the buffer is then left as it was.
    pub fn sized_u16(&mut self, f: impl FnOnce(&mut Writer<'_>)) -> Result<(), WireError> {
        let at = self.buf.len();
        self.u16(0);
        f(self);
        let n = self.buf.len() - at - 2;
        match u16::try_from(n) {
            Ok(n) => {
                self.buf[at..at + 2].copy_from_slice(&n.to_be_bytes());
                Ok(())
            }
            Err(_) => {
                self.buf.truncate(at);
                Err(WireError::TooLarge {
                    what: "sized structure",
                    size: n,
                    max: u16::MAX as usize,
                })
            }
        }
    }

    /// Writes a u32 placeholder and returns its offset, for sizes known only later
    /// (the command size, the authorization area size).
    pub fn placeholder_u32(&mut self) -> usize {
        let at = self.buf.len();
        self.u32(0);
        at
    }

    /// Fills a placeholder with the number of bytes written after it.
    ///
    /// # Panics
    ///
    /// If `at` is not an offset [`Writer::placeholder_u32`] returned for this buffer (fewer
    /// than four bytes follow it).
    pub fn patch_u32_len_since(&mut self, at: usize) {
        let n = (self.buf.len() - at - 4) as u32;
        self.buf[at..at + 4].copy_from_slice(&n.to_be_bytes());
    }

    /// Overwrites four bytes at `at` (used to patch the command size, which counts the header).
    ///
    /// # Panics
    ///
    /// If `at + 4` is beyond the bytes written: the offset must come from this buffer.
    pub fn patch_u32(&mut self, at: usize, v: u32) {
        self.buf[at..at + 4].copy_from_slice(&v.to_be_bytes());
    }

    /// Everything written so far, including what was there before this writer was created.
    pub fn as_slice(&self) -> &[u8] {
        self.buf
    }

    /// Everything written so far, to patch in place (e.g. encrypting a parameter after it was
    /// written).
    pub fn as_mut_slice(&mut self) -> &mut [u8] {
        self.buf
    }
}

/// A type that can be written in its TPM canonical (big-endian) form.
pub trait Marshal {
    /// The wire form is a TPM2B: a `u16` size, then that many bytes. Only such a parameter can
    /// be the one a session encrypts, so a command declaration reads this to know whether its
    /// first parameter can be.
    const TPM2B: bool = false;

    /// Appends the value's wire form. Infallible: sizes are bounded by the types (a TPM2B cannot
    /// hold more than its capacity), so everything marshals.
    fn marshal(&self, w: &mut Writer<'_>);

    /// Convenience for tests and cold paths: the marshalled bytes in a fresh `Vec`.
    fn to_bytes(&self) -> Vec<u8> {
        let mut v = Vec::new();
        self.marshal(&mut Writer::new(&mut v));
        v
    }
}

/// A type that can be read from untrusted bytes.
pub trait Unmarshal: Sized {
    /// The wire form is a TPM2B (see [`Marshal::TPM2B`]).
    const TPM2B: bool = false;

    /// Reads one value from the reader's position. Fails, without panicking or allocating beyond
    /// the type's bounds, on truncated input, out-of-range sizes and unknown selectors.
    fn unmarshal(r: &mut Reader<'_>) -> Result<Self, WireError>;

    /// Reads one value that must span all of `bytes`.
    fn from_bytes(bytes: &[u8]) -> Result<Self, WireError> {
        let mut r = Reader::new(bytes);
        let v = Self::unmarshal(&mut r)?;
        r.finish()?;
        Ok(v)
    }
}

macro_rules! impl_int {
    ($($t:ty => $rd:ident),*) => {$(
        impl Marshal for $t {
            fn marshal(&self, w: &mut Writer<'_>) {
                w.$rd(*self)
            }
        }
        impl Unmarshal for $t {
            fn unmarshal(r: &mut Reader<'_>) -> Result<Self, WireError> {
                r.$rd()
            }
        }
    )*};
}
impl_int!(u8 => u8, u16 => u16, u32 => u32, u64 => u64);

impl Marshal for bool {
    fn marshal(&self, w: &mut Writer<'_>) {
        w.u8(*self as u8)
    }
}

impl Unmarshal for bool {
    fn unmarshal(r: &mut Reader<'_>) -> Result<Self, WireError> {
        match r.u8()? {
            0 => Ok(false),
            1 => Ok(true),
            v => Err(WireError::BadValue {
                what: "TPMI_YES_NO",
                value: v as u32,
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reader_refuses_to_run_past_the_end() {
        let mut r = Reader::new(&[1, 2, 3]);
        assert_eq!(r.u16().unwrap(), 0x0102);
        assert!(matches!(
            r.u16(),
            Err(WireError::Truncated {
                needed: 2,
                available: 1
            })
        ));
        // A failed read consumes nothing.
        assert_eq!(r.u8().unwrap(), 3);
        assert!(r.finish().is_ok());
    }

    #[test]
    fn sized_u16_back_patches_and_rolls_back_on_overflow() {
        let mut v = vec![0xAA];
        let mut w = Writer::new(&mut v);
        w.sized_u16(|w| w.bytes(&[1, 2, 3])).unwrap();
        assert_eq!(v, [0xAA, 0, 3, 1, 2, 3]);
        let mut w = Writer::new(&mut v);
        let big = vec![0u8; 70_000];
        assert!(w.sized_u16(|w| w.bytes(&big)).is_err());
        assert_eq!(v, [0xAA, 0, 3, 1, 2, 3]);
    }

    #[test]
    fn from_bytes_rejects_trailing_data() {
        assert!(matches!(
            u16::from_bytes(&[0, 1, 2]),
            Err(WireError::TrailingBytes(1))
        ));
        assert!(bool::from_bytes(&[2]).is_err());
    }
}
