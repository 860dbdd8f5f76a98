//! Sized buffers (TPM2B_*). Each is a fixed-capacity inline array with the TPM's maximum
//! size for that type, so reading one never allocates and an oversized length is an error,
//! not an allocation request.

use core::fmt;

use subtle::ConstantTimeEq;
use zeroize::{Zeroize, ZeroizeOnDrop};

use super::{Marshal, Reader, Unmarshal, WireError, Writer};

/// A TPM2B with at most `N` bytes of payload.
#[derive(Clone)]
pub struct Tpm2b<const N: usize> {
    len: u16,
    buf: [u8; N],
}

impl<const N: usize> Tpm2b<N> {
    /// The most payload bytes this type holds (its TPM maximum).
    pub const CAPACITY: usize = N;

    /// A zero-length buffer (size field 0), which the TPM reads as "none" for most TPM2Bs.
    pub const fn empty() -> Self {
        Tpm2b {
            len: 0,
            buf: [0; N],
        }
    }

    /// Copies `bytes` in; fails if they exceed the type's capacity.
    pub fn new(bytes: &[u8]) -> Result<Self, WireError> {
        let mut out = Self::empty();
        out.set(bytes)?;
        Ok(out)
    }

    /// Replaces the contents with `bytes`, clearing the rest of the buffer; fails with
    /// [`WireError::TooLarge`] (leaving the contents unchanged) if they exceed the capacity.
    pub fn set(&mut self, bytes: &[u8]) -> Result<(), WireError> {
        if bytes.len() > N {
            return Err(WireError::TooLarge {
                what: "TPM2B",
                size: bytes.len(),
                max: N,
            });
        }
        self.buf[..bytes.len()].copy_from_slice(bytes);
        self.buf[bytes.len()..].fill(0);
        self.len = bytes.len() as u16;
        Ok(())
    }

    /// The payload (without the size field).
    pub fn as_bytes(&self) -> &[u8] {
        &self.buf[..self.len as usize]
    }

    /// The payload, to change in place (its length stays the same).
    pub fn as_mut_bytes(&mut self) -> &mut [u8] {
        &mut self.buf[..self.len as usize]
    }

    /// Payload length in bytes (the TPM2B's size field).
    pub fn len(&self) -> usize {
        self.len as usize
    }

    /// Whether the size field is 0.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
}

impl<const N: usize> Default for Tpm2b<N> {
    fn default() -> Self {
        Self::empty()
    }
}

impl<const N: usize> PartialEq for Tpm2b<N> {
    fn eq(&self, other: &Self) -> bool {
        self.as_bytes() == other.as_bytes()
    }
}
impl<const N: usize> Eq for Tpm2b<N> {}

impl<const N: usize> AsRef<[u8]> for Tpm2b<N> {
    fn as_ref(&self) -> &[u8] {
        self.as_bytes()
    }
}

impl<const N: usize> fmt::Debug for Tpm2b<N> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("0x")?;
        for b in self.as_bytes() {
            write!(f, "{b:02x}")?;
        }
        Ok(())
    }
}

impl<const N: usize> Marshal for Tpm2b<N> {
    const TPM2B: bool = true;

    fn marshal(&self, w: &mut Writer<'_>) {
        w.u16(self.len);
        w.bytes(self.as_bytes());
    }
}

impl<const N: usize> Unmarshal for Tpm2b<N> {
    const TPM2B: bool = true;

    fn unmarshal(r: &mut Reader<'_>) -> Result<Self, WireError> {
        let len = r.u16()? as usize;
        if len > N {
            return Err(WireError::TooLarge {
                what: "TPM2B",
                size: len,
                max: N,
            });
        }
        let mut out = Self::empty();
        out.buf[..len].copy_from_slice(r.take(len)?);
        out.len = len as u16;
        Ok(out)
    }
}

/// A borrowed TPM2B: the zero-copy view of a sized buffer inside a response.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Tpm2bRef<'a>(pub &'a [u8]);

impl<'a> Tpm2bRef<'a> {
    /// Reads a size field and that many bytes, refusing a size above `max`
    /// ([`WireError::TooLarge`]) or beyond the input ([`WireError::Truncated`]).
    pub fn read(r: &mut Reader<'a>, max: usize) -> Result<Self, WireError> {
        let len = r.u16()? as usize;
        if len > max {
            return Err(WireError::TooLarge {
                what: "TPM2B",
                size: len,
                max,
            });
        }
        Ok(Tpm2bRef(r.take(len)?))
    }
}

impl fmt::Debug for Tpm2bRef<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("0x")?;
        for b in self.0 {
            write!(f, "{b:02x}")?;
        }
        Ok(())
    }
}

/// Largest digest of any hash this library supports (SHA-512).
pub const MAX_DIGEST_SIZE: usize = 64;
/// sizeof(TPMU_NAME): a hash algorithm id plus the largest digest, or a handle.
pub const MAX_NAME_SIZE: usize = 2 + MAX_DIGEST_SIZE;
/// MAX_SYM_DATA in the reference implementation.
pub const MAX_SYM_DATA: usize = 128;
/// Largest RSA modulus supported (4096 bits).
pub const MAX_RSA_KEY_BYTES: usize = 512;
/// Largest ECC coordinate supported (P-521).
pub const MAX_ECC_KEY_BYTES: usize = 66;
/// MAX_NV_BUFFER_SIZE / MAX_DIGEST_BUFFER: the reference implementation uses 1024; some TPMs
/// report up to 2048 in TPM_PT_NV_BUFFER_MAX.
pub const MAX_NV_BUFFER_SIZE: usize = 2048;
/// Upper bound for a context blob (libtpms' largest object context is about 2.5 KiB; tpm2-tss
/// sizes TPMS_CONTEXT_DATA at 5120).
pub const MAX_CONTEXT_SIZE: usize = 5120;
/// sizeof(TPMT_PUBLIC) upper bound (RSA-4096 with a SHA-512 policy and unique).
pub const MAX_PUBLIC_SIZE: usize = 1024;
/// sizeof(TPMU_ENCRYPTED_SECRET): RSA-4096 ciphertext, or an ECC point.
pub const MAX_ENCRYPTED_SECRET: usize = MAX_RSA_KEY_BYTES;
/// MAX_COMMAND_SIZE (and MAX_RESPONSE_SIZE) of the reference implementation, libtpms and most
/// hardware, what they report in TPM_PT_MAX_COMMAND_SIZE / TPM_PT_MAX_RESPONSE_SIZE: the
/// largest frame such a TPM takes or gives. Sizes buffers and TPM2B_ATTEST; transports accept
/// larger frames (`transport::MAX_TRANSPORT_FRAME_SIZE`) for TPMs that report more.
pub const DEFAULT_MAX_COMMAND_SIZE: usize = 4096;

/// TPM2B_DIGEST: a hash value, at most the largest digest (64 bytes).
pub type Digest = Tpm2b<MAX_DIGEST_SIZE>;
/// TPM2B_DATA: caller data such as qualifyingData or outsideInfo (at most a digest).
pub type Data = Tpm2b<MAX_DIGEST_SIZE>;
/// TPM2B_NAME: an entity's name, either its 4-byte handle or nameAlg (2 bytes) followed by
/// the digest of its public area.
pub type Name = Tpm2b<MAX_NAME_SIZE>;
/// TPM2B_MAX_NV_BUFFER: NV data for one TPM2_NV_Read or TPM2_NV_Write.
pub type MaxNvBuffer = Tpm2b<MAX_NV_BUFFER_SIZE>;
/// TPM2B_MAX_BUFFER: data for hashing, HMAC or symmetric commands.
pub type MaxBuffer = Tpm2b<MAX_NV_BUFFER_SIZE>;
/// TPM2B_CONTEXT_DATA: the TPM's integrity-protected, encrypted blob in a TPMS_CONTEXT.
pub type ContextData = Tpm2b<MAX_CONTEXT_SIZE>;
/// TPM2B_ENCRYPTED_SECRET: a secret (a session salt, a seed) encrypted to a TPM key: an
/// RSA-OAEP ciphertext or a marshalled ECC point.
pub type EncryptedSecret = Tpm2b<MAX_ENCRYPTED_SECRET>;
/// TPM2B_PUBLIC_KEY_RSA: an RSA modulus or ciphertext, big-endian.
pub type PublicKeyRsa = Tpm2b<MAX_RSA_KEY_BYTES>;
/// TPM2B_ECC_PARAMETER: one ECC coordinate or scalar, big-endian.
pub type EccParameter = Tpm2b<MAX_ECC_KEY_BYTES>;
/// TPM2B_PRIVATE: an object's private area, encrypted to its parent by the TPM; opaque here.
pub type Private = Tpm2b<MAX_CONTEXT_SIZE>;
/// TPM2B_EVENT: event data for TPM2_PCR_Event (at most 1024 bytes).
pub type Event = Tpm2b<1024>;
/// TPM2B_TIMEOUT: when a policy ticket expires, in the TPM's time (at most 8 bytes).
pub type Timeout = Tpm2b<8>;
/// TPM2B_ATTEST: a marshalled TPMS_ATTEST, as signed by the TPM (parse it with
/// [`Attestation`](super::Attestation)).
pub type Attest = Tpm2b<DEFAULT_MAX_COMMAND_SIZE>;

/// The read-only view a wrapper of a [`Tpm2b`] gives: its bytes, length and emptiness (the
/// length of a TPM2B is on the wire in clear, even for a secret).
macro_rules! sized_view {
    ($ty:ident $(<$n:ident>)?, $bytes_doc:literal) => {
        impl$(<const $n: usize>)? $ty$(<$n>)? {
            #[doc = $bytes_doc]
            pub fn as_bytes(&self) -> &[u8] {
                self.0.as_bytes()
            }

            /// Length in bytes (the TPM2B's size field).
            pub fn len(&self) -> usize {
                self.0.len()
            }

            /// Whether the size field is 0.
            pub fn is_empty(&self) -> bool {
                self.0.is_empty()
            }
        }
    };
}

/// TPM2B_NONCE: a session nonce (16 bytes up to the session hash's digest size). The same
/// size and encoding as a [`Digest`] but a type of its own, so that the session engine cannot
/// put a digest where a nonce belongs or the other way round; `as_bytes` is the only way
/// across:
///
/// ```
/// use tpm2_wire::wire::{Digest, Nonce};
/// let nonce = Nonce::new(&[7; 32]).unwrap();
/// let digest = Digest::new(nonce.as_bytes()).unwrap();
/// assert_eq!(digest.as_bytes(), nonce.as_bytes());
/// ```
///
/// ```compile_fail
/// use tpm2_wire::wire::{Digest, Nonce};
/// let digest: Digest = Nonce::new(&[7; 32]).unwrap();
/// ```
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Nonce(Tpm2b<MAX_DIGEST_SIZE>);

impl Nonce {
    /// The most bytes a nonce holds (the largest digest).
    pub const CAPACITY: usize = MAX_DIGEST_SIZE;

    /// A zero-length nonce (size field 0).
    pub const fn empty() -> Self {
        Nonce(Tpm2b::empty())
    }

    /// Copies `bytes` in; fails if they exceed [`Nonce::CAPACITY`].
    pub fn new(bytes: &[u8]) -> Result<Self, WireError> {
        Tpm2b::new(bytes).map(Nonce)
    }

    /// Replaces the contents with `bytes`; fails with [`WireError::TooLarge`] (leaving the
    /// contents unchanged) if they exceed [`Nonce::CAPACITY`].
    pub fn set(&mut self, bytes: &[u8]) -> Result<(), WireError> {
        self.0.set(bytes)
    }
}

sized_view!(Nonce, "The nonce's bytes (without the size field).");

impl AsRef<[u8]> for Nonce {
    fn as_ref(&self) -> &[u8] {
        self.as_bytes()
    }
}

impl fmt::Debug for Nonce {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl Marshal for Nonce {
    const TPM2B: bool = true;

    fn marshal(&self, w: &mut Writer<'_>) {
        self.0.marshal(w)
    }
}

impl Unmarshal for Nonce {
    const TPM2B: bool = true;

    fn unmarshal(r: &mut Reader<'_>) -> Result<Self, WireError> {
        Tpm2b::unmarshal(r).map(Nonce)
    }
}

/// A secret TPM2B (auth values, sensitive data): zeroized on drop, compared in constant time,
/// and never shown by `Debug`.
#[derive(Clone, Default)]
pub struct Secret<const N: usize>(Tpm2b<N>);

impl<const N: usize> Secret<N> {
    /// Copies `bytes` in; fails with [`WireError::TooLarge`] if they exceed `N`. The caller's
    /// copy is the caller's to wipe.
    pub fn new(bytes: &[u8]) -> Result<Self, WireError> {
        Ok(Secret(Tpm2b::new(bytes)?))
    }

    /// The empty secret (e.g. the empty auth value most entities start with).
    pub fn empty() -> Self {
        Secret(Tpm2b::empty())
    }
}

sized_view!(
    Secret<N>,
    "The secret bytes. Do not log them, and wipe any copy."
);

impl<const N: usize> Zeroize for Secret<N> {
    fn zeroize(&mut self) {
        self.0.buf.zeroize();
        self.0.len = 0;
    }
}

impl<const N: usize> Drop for Secret<N> {
    fn drop(&mut self) {
        self.zeroize();
    }
}
impl<const N: usize> ZeroizeOnDrop for Secret<N> {}

impl<const N: usize> PartialEq for Secret<N> {
    fn eq(&self, other: &Self) -> bool {
        self.as_bytes().ct_eq(other.as_bytes()).into()
    }
}
impl<const N: usize> Eq for Secret<N> {}

impl<const N: usize> fmt::Debug for Secret<N> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Secret(<{} bytes redacted>)", self.len())
    }
}

impl<const N: usize> Marshal for Secret<N> {
    const TPM2B: bool = true;

    fn marshal(&self, w: &mut Writer<'_>) {
        self.0.marshal(w)
    }
}

impl<const N: usize> Unmarshal for Secret<N> {
    const TPM2B: bool = true;

    fn unmarshal(r: &mut Reader<'_>) -> Result<Self, WireError> {
        Ok(Secret(Tpm2b::unmarshal(r)?))
    }
}

/// TPM2B_AUTH: an authorization value.
pub type Auth = Secret<MAX_DIGEST_SIZE>;
/// TPM2B_SENSITIVE_DATA.
pub type SensitiveData = Secret<MAX_SYM_DATA>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn oversized_length_is_refused_before_reading() {
        // Claims 65 bytes of digest: more than any hash produces.
        let mut bytes = vec![0, 65];
        bytes.extend([0u8; 65]);
        assert!(matches!(
            Digest::from_bytes(&bytes),
            Err(WireError::TooLarge { size: 65, .. })
        ));
    }

    #[test]
    fn secret_debug_does_not_leak() {
        let a = Auth::new(b"hunter2").unwrap();
        let s = format!("{a:?}");
        assert!(!s.contains("hunter2") && !s.contains("68756e74"));
    }
}
