//! Command and response frames: the 10-byte header, the handle area, the authorization area
//! and its session entries.

use zerocopy::byteorder::{BigEndian, U16, U32};
use zerocopy::{FromBytes, Immutable, IntoBytes, KnownLayout, Unaligned};

use super::{
    CommandCode, Digest, Marshal, Nonce, Reader, StructureTag, Unmarshal, WireError, Writer,
};
use crate::wire::Handle;

/// Every command and response starts with these ten bytes. Read in place from the frame
/// (zero-copy) so a transport can learn the frame length from the first read.
#[derive(Clone, Copy, Debug, FromBytes, IntoBytes, KnownLayout, Immutable, Unaligned)]
#[repr(C)]
pub struct Header {
    /// TPM_ST_NO_SESSIONS or TPM_ST_SESSIONS (whether an authorization area follows), or
    /// TPM_ST_RSP_COMMAND from a TPM 1.2-era error path.
    pub tag: U16<BigEndian>,
    /// The whole frame's size in bytes, header included.
    pub size: U32<BigEndian>,
    /// The command code in a command, the response code in a response.
    pub code: U32<BigEndian>,
}

/// Size of [`Header`]: tag (2), size (4), code (4).
pub const HEADER_SIZE: usize = 10;

impl Header {
    /// Views the first ten bytes of `frame` as a header without copying.
    pub fn parse(frame: &[u8]) -> Result<&Header, WireError> {
        Header::ref_from_prefix(frame)
            .map(|(h, _)| h)
            .map_err(|_| WireError::Truncated {
                needed: HEADER_SIZE,
                available: frame.len(),
            })
    }

    /// The tag as a [`StructureTag`].
    pub fn tag(&self) -> StructureTag {
        StructureTag(self.tag.get())
    }

    /// The frame size the header declares. Nothing has checked it against the bytes yet.
    pub fn size(&self) -> usize {
        self.size.get() as usize
    }
}

/// TPMA_SESSION.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct SessionAttributes(pub u8);

impl SessionAttributes {
    /// continueSession: keep the session after this command (clear it to have the TPM flush it).
    pub const CONTINUE_SESSION: u8 = 0x01;
    /// auditExclusive: in a command, require that no other command ran since this audit session's
    /// last one; in a response, whether that holds.
    pub const AUDIT_EXCLUSIVE: u8 = 0x02;
    /// auditReset: restart the audit digest with this command.
    pub const AUDIT_RESET: u8 = 0x04;
    /// decrypt: the first command parameter (a TPM2B) is encrypted with this session.
    pub const DECRYPT: u8 = 0x20;
    /// encrypt: the TPM encrypts the first response parameter (a TPM2B) with this session.
    pub const ENCRYPT: u8 = 0x40;
    /// audit: the command and response are recorded in this session's audit digest.
    pub const AUDIT: u8 = 0x80;

    const NAMES: [(u8, &'static str); 6] = [
        (Self::CONTINUE_SESSION, "continueSession"),
        (Self::AUDIT_EXCLUSIVE, "auditExclusive"),
        (Self::AUDIT_RESET, "auditReset"),
        (Self::DECRYPT, "decrypt"),
        (Self::ENCRYPT, "encrypt"),
        (Self::AUDIT, "audit"),
    ];

    /// Whether every bit of `bits` is set.
    pub fn contains(self, bits: u8) -> bool {
        self.0 & bits == bits
    }

    /// A copy with `bits` set (`on`) or cleared.
    pub fn with(self, bits: u8, on: bool) -> Self {
        if on {
            SessionAttributes(self.0 | bits)
        } else {
            SessionAttributes(self.0 & !bits)
        }
    }
}

impl core::fmt::Debug for SessionAttributes {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        let mut first = true;
        for (bit, name) in Self::NAMES {
            if self.0 & bit != 0 {
                if !first {
                    f.write_str("|")?;
                }
                f.write_str(name)?;
                first = false;
            }
        }
        let unknown = self.0 & !Self::NAMES.iter().fold(0, |a, (b, _)| a | b);
        if unknown != 0 || first {
            if !first {
                f.write_str("|")?;
            }
            write!(f, "0x{unknown:02x}")?;
        }
        Ok(())
    }
}

impl Marshal for SessionAttributes {
    fn marshal(&self, w: &mut Writer<'_>) {
        w.u8(self.0)
    }
}

impl Unmarshal for SessionAttributes {
    fn unmarshal(r: &mut Reader<'_>) -> Result<Self, WireError> {
        Ok(SessionAttributes(r.u8()?))
    }
}

/// TPMS_AUTH_COMMAND, borrowed: the session engine writes these straight into the frame.
#[derive(Clone, Copy, Debug)]
pub struct AuthCommandRef<'a> {
    /// The session, or TPM_RS_PW for a password.
    pub session_handle: Handle,
    /// nonceCaller for this command (empty for a password).
    pub nonce: &'a [u8],
    /// TPMA_SESSION for this command.
    pub attributes: SessionAttributes,
    /// The HMAC, or the password in clear for TPM_RS_PW and PolicyPassword.
    pub hmac: &'a [u8],
}

impl Marshal for AuthCommandRef<'_> {
    fn marshal(&self, w: &mut Writer<'_>) {
        self.session_handle.marshal(w);
        w.u16(self.nonce.len() as u16);
        w.bytes(self.nonce);
        self.attributes.marshal(w);
        w.u16(self.hmac.len() as u16);
        w.bytes(self.hmac);
    }
}

/// TPMS_AUTH_COMMAND, owned (for parsing commands, e.g. in tests and fuzzing).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AuthCommand {
    /// The session, or TPM_RS_PW for a password.
    pub session_handle: Handle,
    /// nonceCaller for this command (empty for a password).
    pub nonce: Nonce,
    /// TPMA_SESSION for this command.
    pub attributes: SessionAttributes,
    /// The HMAC, or the password in clear for TPM_RS_PW and PolicyPassword.
    pub hmac: Digest,
}

impl Marshal for AuthCommand {
    fn marshal(&self, w: &mut Writer<'_>) {
        AuthCommandRef {
            session_handle: self.session_handle,
            nonce: self.nonce.as_bytes(),
            attributes: self.attributes,
            hmac: self.hmac.as_bytes(),
        }
        .marshal(w)
    }
}

impl Unmarshal for AuthCommand {
    fn unmarshal(r: &mut Reader<'_>) -> Result<Self, WireError> {
        Ok(AuthCommand {
            session_handle: Handle::unmarshal(r)?,
            nonce: Nonce::unmarshal(r)?,
            attributes: SessionAttributes::unmarshal(r)?,
            hmac: Digest::unmarshal(r)?,
        })
    }
}

/// TPMS_AUTH_RESPONSE, borrowed from the response frame.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AuthResponseRef<'a> {
    /// The TPM's new nonceTPM (empty for a password).
    pub nonce: &'a [u8],
    /// TPMA_SESSION as the TPM reports it.
    pub attributes: SessionAttributes,
    /// The response HMAC (empty for a password, and for a policy session with PolicyPassword).
    pub hmac: &'a [u8],
}

impl<'a> AuthResponseRef<'a> {
    /// Reads one TPMS_AUTH_RESPONSE, refusing a nonce or HMAC longer than the largest digest.
    pub fn read(r: &mut Reader<'a>) -> Result<Self, WireError> {
        let nonce = super::Tpm2bRef::read(r, super::MAX_DIGEST_SIZE)?.0;
        let attributes = SessionAttributes::unmarshal(r)?;
        let hmac = super::Tpm2bRef::read(r, super::MAX_DIGEST_SIZE)?.0;
        Ok(AuthResponseRef {
            nonce,
            attributes,
            hmac,
        })
    }
}

impl Marshal for AuthResponseRef<'_> {
    fn marshal(&self, w: &mut Writer<'_>) {
        w.u16(self.nonce.len() as u16);
        w.bytes(self.nonce);
        self.attributes.marshal(w);
        w.u16(self.hmac.len() as u16);
        w.bytes(self.hmac);
    }
}

/// The most sessions one command may carry.
pub const MAX_SESSIONS: usize = 3;

/// A response split into its areas. Everything borrows from the frame.
#[derive(Clone, Debug)]
pub struct ResponseFrame<'a> {
    /// TPM_ST_SESSIONS or TPM_ST_NO_SESSIONS.
    pub tag: StructureTag,
    /// The raw response code; non-zero responses carry no further areas.
    pub code: u32,
    /// The raw handle area (0 or 4 bytes: only a few commands return a handle).
    pub handles: &'a [u8],
    /// The parameter area (still encrypted, if an encrypt session was used).
    pub parameters: &'a [u8],
    /// The TPMS_AUTH_RESPONSE entries, one per session of the command, in order; the first
    /// `auth_count` are `Some`.
    pub auths: [Option<AuthResponseRef<'a>>; MAX_SESSIONS],
    /// How many entries `auths` holds.
    pub auth_count: usize,
}

impl<'a> ResponseFrame<'a> {
    /// Splits `frame` given how many handles the command's response has. The header's size
    /// must equal the frame length exactly.
    pub fn parse(frame: &'a [u8], response_handles: usize) -> Result<Self, WireError> {
        let header = Header::parse(frame)?;
        if header.size() != frame.len() {
            return Err(WireError::SizeMismatch {
                declared: header.size(),
                actual: frame.len(),
            });
        }
        let tag = header.tag();
        let code = header.code.get();
        let mut r = Reader::new(&frame[HEADER_SIZE..]);
        let empty = ResponseFrame {
            tag,
            code,
            handles: &[],
            parameters: &[],
            auths: [None; MAX_SESSIONS],
            auth_count: 0,
        };
        if code != 0 {
            // Error responses are exactly a header, tagged NO_SESSIONS.
            r.finish()?;
            return Ok(empty);
        }
        let handles = r.take(4 * response_handles)?;
        match tag {
            StructureTag::NO_SESSIONS => Ok(ResponseFrame {
                handles,
                parameters: r.take(r.remaining())?,
                ..empty
            }),
            StructureTag::SESSIONS => {
                let psize = r.u32()? as usize;
                let parameters = r.take(psize)?;
                let mut auths = [None; MAX_SESSIONS];
                let mut n = 0;
                while !r.is_empty() {
                    if n == MAX_SESSIONS {
                        return Err(WireError::TooMany {
                            what: "response authorization area",
                            count: n + 1,
                            max: MAX_SESSIONS,
                        });
                    }
                    auths[n] = Some(AuthResponseRef::read(&mut r)?);
                    n += 1;
                }
                Ok(ResponseFrame {
                    handles,
                    parameters,
                    auths,
                    auth_count: n,
                    ..empty
                })
            }
            other => Err(WireError::BadValue {
                what: "response tag",
                value: other.0 as u32,
            }),
        }
    }

    /// Where the handle area lies in the frame this was parsed from (it follows the header).
    pub fn handles_range(&self) -> core::ops::Range<usize> {
        HEADER_SIZE..HEADER_SIZE + self.handles.len()
    }

    /// Where the parameter area lies in the frame this was parsed from: after the handles and,
    /// in a response with sessions, the parameterSize field. For decrypting the parameters in
    /// place once the parsed frame's borrow has ended.
    pub fn parameters_range(&self) -> core::ops::Range<usize> {
        // An error response is a bare header, whatever its tag.
        let size_field = if self.code == 0 && self.tag == StructureTag::SESSIONS {
            4
        } else {
            0
        };
        let start = self.handles_range().end + size_field;
        start..start + self.parameters.len()
    }
}

/// Starts a command frame: writes the header with a size placeholder. Returns the offset to
/// hand to [`finish_command`].
pub fn begin_command(w: &mut Writer<'_>, tag: StructureTag, code: CommandCode) -> usize {
    let start = w.len();
    tag.marshal(w);
    w.u32(0);
    code.marshal(w);
    start
}

/// Patches the header's size to cover everything written since `start`.
pub fn finish_command(w: &mut Writer<'_>, start: usize) -> Result<(), WireError> {
    let size = w.len() - start;
    if size > u32::MAX as usize {
        return Err(WireError::TooLarge {
            what: "command",
            size,
            max: u32::MAX as usize,
        });
    }
    w.patch_u32(start + 2, size as u32);
    Ok(())
}
