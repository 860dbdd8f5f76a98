//! Response-code decoding (TPM 2.0 Part 2, 6.6 "TPM_RC"), including the software-layer byte
//! that TSS stacks and the Linux resource manager put in bits 16-23.
//!
//! Bit layout of the low 16 bits:
//! - bit 7 (F) selects the format. Format zero: bits 0-6 error number, bit 8 (V) set for a
//!   TPM 2.0 code (clear: a TPM 1.2 code), bit 10 (T) vendor-defined, bit 11 (S) warning.
//! - Format one: bits 0-5 error number (base = number + 0x080), bit 6 (P) set when N names a
//!   parameter, bits 8-11 (N): with P the parameter number; without P, 1-7 a handle number and
//!   8-15 a session number (N - 8).

use core::fmt;

use super::TpmRc;

crate::wire::constants::tpm_enum! {
    /// The software layer that produced a response code (bits 16-23), numbered as in the TSS
    /// specifications' tss2_common.h. The Linux in-kernel resource manager reports its own
    /// errors as layer 11 with a TPM-format code (e.g. 0x000B0143).
    pub struct RcLayer(u8) {
        TPM = 0 => "TPM",
        FEATURE = 6 => "FAPI",
        ESAPI = 7 => "ESAPI",
        SYS = 8 => "SAPI",
        MU = 9 => "marshalling",
        TCTI = 10 => "TCTI",
        RESMGR = 11 => "resource manager",
        RESMGR_TPM = 12 => "resource manager (TPM)",
        DRIVER = 13 => "driver",
    }
}

const FORMAT_ONE: u32 = 0x080;
const FMT1_ERROR_MASK: u32 = 0x03F;
const FMT1_PARAMETER: u32 = 0x040;
const FMT1_N_SHIFT: u32 = 8;
const FMT1_N_MASK: u32 = 0xF00;
const FMT0_ERROR_MASK: u32 = 0x07F;
const FMT0_VERSION: u32 = 0x100;
const FMT0_VENDOR: u32 = 0x400;
const FMT0_WARNING: u32 = 0x800;
const LAYER_SHIFT: u32 = 16;
const LAYER_MASK: u32 = 0x00FF_0000;

/// TSS2_BASE_RC_* names (tss2_common.h), used for software layers that do not carry TPM codes.
const TSS_BASE_NAMES: [&str; 28] = [
    "TSS2_RC_SUCCESS",
    "TSS2_BASE_RC_GENERAL_FAILURE",
    "TSS2_BASE_RC_NOT_IMPLEMENTED",
    "TSS2_BASE_RC_BAD_CONTEXT",
    "TSS2_BASE_RC_ABI_MISMATCH",
    "TSS2_BASE_RC_BAD_REFERENCE",
    "TSS2_BASE_RC_INSUFFICIENT_BUFFER",
    "TSS2_BASE_RC_BAD_SEQUENCE",
    "TSS2_BASE_RC_NO_CONNECTION",
    "TSS2_BASE_RC_TRY_AGAIN",
    "TSS2_BASE_RC_IO_ERROR",
    "TSS2_BASE_RC_BAD_VALUE",
    "TSS2_BASE_RC_NOT_PERMITTED",
    "TSS2_BASE_RC_INVALID_SESSIONS",
    "TSS2_BASE_RC_NO_DECRYPT_PARAM",
    "TSS2_BASE_RC_NO_ENCRYPT_PARAM",
    "TSS2_BASE_RC_BAD_SIZE",
    "TSS2_BASE_RC_MALFORMED_RESPONSE",
    "TSS2_BASE_RC_INSUFFICIENT_CONTEXT",
    "TSS2_BASE_RC_INSUFFICIENT_RESPONSE",
    "TSS2_BASE_RC_INCOMPATIBLE_TCTI",
    "TSS2_BASE_RC_NOT_SUPPORTED",
    "TSS2_BASE_RC_BAD_TCTI_STRUCTURE",
    "TSS2_BASE_RC_MEMORY",
    "TSS2_BASE_RC_BAD_TR",
    "TSS2_BASE_RC_MULTIPLE_DECRYPT_SESSIONS",
    "TSS2_BASE_RC_MULTIPLE_ENCRYPT_SESSIONS",
    "TSS2_BASE_RC_RSP_AUTH_FAILED",
];

/// What a response code is, at the level callers branch on.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum RcKind {
    /// TPM_RC_SUCCESS (0).
    Success,
    /// A TPM 1.2 response code (format zero with V clear), e.g. TPM_RC_BAD_TAG.
    Tpm12,
    /// A vendor-defined format-zero code (T bit set).
    Vendor,
    /// A format-zero warning (S bit set): the command did not run; it may succeed later.
    Warning,
    /// A format-zero error.
    Error,
    /// A format-one error, tied to a handle, session or parameter.
    FormatOne,
    /// A code from a software layer (TSS, resource manager, driver), not from the TPM.
    Software,
}

/// A TPM_RC as received in a response header (or produced by a software layer).
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ResponseCode(pub u32);

impl ResponseCode {
    /// TPM_RC_SUCCESS.
    pub const SUCCESS: ResponseCode = ResponseCode(0);

    /// Whether the code is TPM_RC_SUCCESS (0, in any layer).
    pub fn is_success(self) -> bool {
        self.0 == 0
    }

    /// The software layer (bits 16-23); [`RcLayer::TPM`] for codes straight from the TPM.
    pub fn layer(self) -> RcLayer {
        RcLayer(((self.0 & LAYER_MASK) >> LAYER_SHIFT) as u8)
    }

    /// Whether the low 16 bits are a TPM-format code: true for the TPM itself and for the
    /// resource-manager layers, which forward or synthesize TPM codes.
    fn carries_tpm_code(self) -> bool {
        let layer = self.layer();
        layer == RcLayer::TPM
            || layer == RcLayer::RESMGR_TPM
            // tabrmd uses layer 11 with TSS base codes (small numbers); the kernel uses it
            // with TPM codes, which are never below 0x80 except TPM 1.2 codes.
            || (layer == RcLayer::RESMGR && self.tpm_code() >= FORMAT_ONE)
    }

    /// The low 16 bits: the code without its layer.
    pub fn tpm_code(self) -> u32 {
        self.0 & 0xFFFF
    }

    /// Whether this is a format-one TPM code (bit 7 set): an error tied to a handle, session or
    /// parameter, which [`Self::handle`], [`Self::session`] and [`Self::parameter`] name.
    pub fn is_format_one(self) -> bool {
        self.carries_tpm_code() && self.tpm_code() & FORMAT_ONE != 0
    }

    fn is_format_zero_tpm2(self) -> bool {
        self.carries_tpm_code()
            && self.tpm_code() & FORMAT_ONE == 0
            && self.tpm_code() & FMT0_VERSION != 0
    }

    /// The code with the layer and (for format one) the handle/session/parameter number
    /// stripped: the value to compare with [`TpmRc`] constants. For software layers that do
    /// not carry TPM codes, the TSS base code.
    pub fn base(self) -> u32 {
        let code = self.tpm_code();
        if self.is_format_one() {
            (code & FMT1_ERROR_MASK) | FORMAT_ONE
        } else if self.is_format_zero_tpm2() {
            code & (FMT0_ERROR_MASK | FMT0_VERSION | FMT0_VENDOR | FMT0_WARNING)
        } else {
            code
        }
    }

    /// [`Self::base`] as a [`TpmRc`] (meaningful when [`Self::kind`] is not `Software`).
    pub fn base_code(self) -> TpmRc {
        TpmRc(self.base())
    }

    /// Which kind of code this is: success, a TPM warning or error (format zero or one), a vendor
    /// or TPM 1.2 code, or a software layer's code.
    pub fn kind(self) -> RcKind {
        if self.is_success() {
            return RcKind::Success;
        }
        if !self.carries_tpm_code() {
            return RcKind::Software;
        }
        let code = self.tpm_code();
        if code & FORMAT_ONE != 0 {
            RcKind::FormatOne
        } else if code & FMT0_VERSION == 0 {
            RcKind::Tpm12
        } else if code & FMT0_VENDOR != 0 {
            RcKind::Vendor
        } else if code & FMT0_WARNING != 0 {
            RcKind::Warning
        } else {
            RcKind::Error
        }
    }

    /// The TPM_RC_* (or TSS2_BASE_RC_*) name of the base code, if known.
    pub fn name(self) -> Option<&'static str> {
        match self.kind() {
            RcKind::Success => Some("TPM_RC_SUCCESS"),
            RcKind::Vendor => None,
            RcKind::Software if self.layer().name().is_some() => {
                TSS_BASE_NAMES.get(self.base() as usize).copied()
            }
            RcKind::Software => None,
            _ => self.base_code().name(),
        }
    }

    /// A format-zero warning: the TPM did not run the command and it may succeed if retried
    /// or after resources are freed.
    pub fn is_warning(self) -> bool {
        self.kind() == RcKind::Warning
    }

    /// A vendor-defined format-zero code (the T bit set): its meaning is the TPM maker's.
    pub fn is_vendor(self) -> bool {
        self.kind() == RcKind::Vendor
    }

    /// A TPM 1.2 code (format zero without the version bit), which a TPM 2.0 sends for a malformed
    /// header such as TPM_RC_BAD_TAG.
    pub fn is_tpm12(self) -> bool {
        self.kind() == RcKind::Tpm12
    }

    fn n_field(self) -> u8 {
        ((self.tpm_code() & FMT1_N_MASK) >> FMT1_N_SHIFT) as u8
    }

    /// The 1-based parameter number of a format-one error that names a parameter.
    pub fn parameter(self) -> Option<u8> {
        (self.is_format_one() && self.tpm_code() & FMT1_PARAMETER != 0).then(|| self.n_field())
    }

    /// The 1-based handle number of a format-one error that names a handle.
    pub fn handle(self) -> Option<u8> {
        let n = self.n_field();
        (self.is_format_one() && self.tpm_code() & FMT1_PARAMETER == 0 && (1..=7).contains(&n))
            .then_some(n)
    }

    /// The 1-based session number of a format-one error that names a session.
    pub fn session(self) -> Option<u8> {
        let n = self.n_field();
        (self.is_format_one() && self.tpm_code() & FMT1_PARAMETER == 0 && n >= 8).then(|| n - 8)
    }

    fn is_tpm_base(self, codes: &[TpmRc]) -> bool {
        matches!(
            self.kind(),
            RcKind::FormatOne | RcKind::Warning | RcKind::Error
        ) && codes.contains(&self.base_code())
    }

    /// The TPM is busy; sending the same command again later may succeed.
    pub fn is_retry_class(self) -> bool {
        self.is_tpm_base(&[TpmRc::RETRY, TpmRc::YIELDED, TpmRc::TESTING])
    }

    /// An authorization value or HMAC was wrong (counts toward dictionary-attack lockout when
    /// the object is DA-protected).
    pub fn is_auth_fail(self) -> bool {
        self.is_tpm_base(&[TpmRc::AUTH_FAIL, TpmRc::BAD_AUTH])
    }

    /// The TPM is in dictionary-attack lockout.
    pub fn is_lockout(self) -> bool {
        self.is_tpm_base(&[TpmRc::LOCKOUT])
    }

    /// Out of session or object slots: flush or context-save something and retry.
    pub fn is_session_exhaustion(self) -> bool {
        self.is_tpm_base(&[
            TpmRc::SESSION_MEMORY,
            TpmRc::SESSION_HANDLES,
            TpmRc::OBJECT_MEMORY,
        ])
    }

    /// The gap between the oldest and newest saved session contexts is too large: the oldest
    /// session must be loaded (or flushed) before another can be saved.
    pub fn is_context_gap(self) -> bool {
        self.is_tpm_base(&[TpmRc::CONTEXT_GAP])
    }

    /// A handle was wrong: a format-one error naming a handle, or a REFERENCE_Hx warning.
    pub fn is_handle_error(self) -> bool {
        self.handle().is_some()
            || (self.is_warning()
                && (TpmRc::REFERENCE_H0.0..=TpmRc::REFERENCE_H6.0).contains(&self.base()))
    }

    /// A session handle referred to no loaded session (REFERENCE_Sx warning).
    pub fn is_session_reference_error(self) -> bool {
        self.is_warning() && (TpmRc::REFERENCE_S0.0..=TpmRc::REFERENCE_S6.0).contains(&self.base())
    }

    /// The TPM needs TPM2_Startup.
    pub fn is_initialize(self) -> bool {
        self.is_tpm_base(&[TpmRc::INITIALIZE])
    }

    /// The TPM is in failure mode; only GetTestResult and GetCapability work.
    pub fn is_failure_mode(self) -> bool {
        self.is_tpm_base(&[TpmRc::FAILURE])
    }

    /// A one-line meaning for common codes.
    pub fn description(self) -> Option<&'static str> {
        if self.is_success() {
            return Some("success");
        }
        if !matches!(
            self.kind(),
            RcKind::FormatOne | RcKind::Warning | RcKind::Error | RcKind::Tpm12
        ) {
            return None;
        }
        Some(match self.base_code() {
            TpmRc::BAD_TAG => "the command's tag is not a TPM 2.0 tag",
            TpmRc::INITIALIZE => "TPM not initialized by TPM2_Startup or already initialized",
            TpmRc::FAILURE => "the TPM is in failure mode",
            TpmRc::SEQUENCE => "improper use of a sequence handle",
            TpmRc::DISABLED => "the command is disabled",
            TpmRc::AUTH_TYPE => "the authorization handle is not correct for the command",
            TpmRc::AUTH_MISSING => "the command requires an authorization session",
            TpmRc::POLICY => "policy failure in math operation or an invalid authPolicy value",
            TpmRc::PCR_CHANGED => "PCR have changed since checked",
            TpmRc::REBOOT => "the TPM must be reset (in field upgrade mode)",
            TpmRc::COMMAND_SIZE => "the command size does not match the bytes sent",
            TpmRc::COMMAND_CODE => "the command code is not supported",
            TpmRc::AUTHSIZE => "the authorization area size is wrong",
            TpmRc::AUTH_CONTEXT => "use of an authorization session with a command that cannot have one",
            TpmRc::NV_RANGE => "NV offset+size is out of range",
            TpmRc::NV_SIZE => "requested allocation size is larger than allowed",
            TpmRc::NV_LOCKED => "the NV index is locked",
            TpmRc::NV_AUTHORIZATION => "NV access authorization fails in command actions",
            TpmRc::NV_UNINITIALIZED => "the NV index has not been written",
            TpmRc::NV_SPACE => "insufficient space for the NV allocation",
            TpmRc::NV_DEFINED => "the NV index is already defined",
            TpmRc::BAD_CONTEXT => "the context blob is not valid",
            TpmRc::CPHASH => "cpHash value already set or not correct for use",
            TpmRc::PARENT => "the handle is not a valid parent",
            TpmRc::NEEDS_TEST => "some function needs testing",
            TpmRc::SENSITIVE => "the sensitive area did not unmarshal correctly after decryption",
            TpmRc::ATTRIBUTES => "inconsistent attributes",
            TpmRc::HASH => "hash algorithm not supported or not appropriate",
            TpmRc::VALUE => "value is out of range or not correct for the context",
            TpmRc::HIERARCHY => "the hierarchy is not enabled or not correct for the use",
            TpmRc::KEY_SIZE => "key size is not supported",
            TpmRc::MODE => "mode of operation not supported",
            TpmRc::TYPE => "the type of the value is not appropriate for the use",
            TpmRc::HANDLE => "the handle is not correct for the use",
            TpmRc::RANGE => "value was out of allowed range",
            TpmRc::AUTH_FAIL => "the authorization HMAC check failed (and DA counter incremented)",
            TpmRc::NONCE => "invalid nonce size or nonce value mismatch",
            TpmRc::SCHEME => "unsupported or incompatible scheme",
            TpmRc::SIZE => "structure is the wrong size",
            TpmRc::SYMMETRIC => "unsupported symmetric algorithm or key size",
            TpmRc::TAG => "incorrect structure tag",
            TpmRc::SELECTOR => "union selector is incorrect",
            TpmRc::INSUFFICIENT => "the TPM was unable to unmarshal a value: too few octets",
            TpmRc::SIGNATURE => "the signature is not valid",
            TpmRc::KEY => "key fields are not compatible with the selected use",
            TpmRc::POLICY_FAIL => "a policy check failed",
            TpmRc::INTEGRITY => "integrity check failed",
            TpmRc::TICKET => "invalid ticket",
            TpmRc::BAD_AUTH => "authorization failure without DA implications",
            TpmRc::EXPIRED => "the policy has expired",
            TpmRc::POLICY_CC => "the command code in the policy is not the command code of the command",
            TpmRc::CURVE => "curve not supported",
            TpmRc::ECC_POINT => "point is not on the required curve",
            TpmRc::CONTEXT_GAP => "gap for context IDs is too large",
            TpmRc::OBJECT_MEMORY => "out of memory for object contexts",
            TpmRc::SESSION_MEMORY => "out of memory for session contexts",
            TpmRc::MEMORY => "out of shared object/session memory or need space for internal operations",
            TpmRc::SESSION_HANDLES => "out of session handles: a session must be flushed",
            TpmRc::OBJECT_HANDLES => "out of object handles: an object must be flushed",
            TpmRc::LOCALITY => "bad locality",
            TpmRc::YIELDED => "the TPM has suspended operation on the command; retry it",
            TpmRc::CANCELED => "the command was canceled",
            TpmRc::TESTING => "the TPM is performing self-tests",
            TpmRc::NV_RATE => "the TPM is rate-limiting NV writes",
            TpmRc::LOCKOUT => "authorizations for objects subject to DA protection are not allowed: the TPM is in lockout",
            TpmRc::RETRY => "the TPM was not able to start the command; retry it",
            TpmRc::NV_UNAVAILABLE => "the command may require writing of NV and NV is not accessible",
            _ => return None,
        })
    }
}

impl From<u32> for ResponseCode {
    fn from(v: u32) -> Self {
        ResponseCode(v)
    }
}

impl fmt::Display for ResponseCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let layer = self.layer();
        if layer != RcLayer::TPM {
            match layer.name() {
                Some(n) => write!(f, "{n}: ")?,
                None => write!(f, "layer {}: ", layer.0)?,
            }
        }
        match self.name() {
            Some(n) => f.write_str(n)?,
            None => return write!(f, "0x{:08x}", self.0),
        }
        if let Some(n) = self.parameter() {
            write!(f, " (parameter {n})")?;
        } else if let Some(n) = self.handle() {
            write!(f, " (handle {n})")?;
        } else if let Some(n) = self.session() {
            write!(f, " (session {n})")?;
        }
        Ok(())
    }
}

impl fmt::Debug for ResponseCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ResponseCode(0x{:08x}: {self})", self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rc(v: u32) -> ResponseCode {
        ResponseCode(v)
    }

    #[test]
    fn format_one_session_errors() {
        let auth_fail = rc(0x98E);
        assert!(auth_fail.is_format_one());
        assert_eq!(auth_fail.base_code(), TpmRc::AUTH_FAIL);
        assert_eq!(auth_fail.session(), Some(1));
        assert_eq!(auth_fail.handle(), None);
        assert_eq!(auth_fail.parameter(), None);
        assert!(auth_fail.is_auth_fail());
        assert!(!auth_fail.is_warning());
        assert_eq!(auth_fail.to_string(), "TPM_RC_AUTH_FAIL (session 1)");

        let bad_auth = rc(0x9A2);
        assert_eq!(bad_auth.base_code(), TpmRc::BAD_AUTH);
        assert_eq!(bad_auth.session(), Some(1));
        assert!(bad_auth.is_auth_fail());
        assert_eq!(bad_auth.to_string(), "TPM_RC_BAD_AUTH (session 1)");
    }

    #[test]
    fn format_one_parameter_and_handle_errors() {
        let p = rc(0x1CB);
        assert_eq!(p.base_code(), TpmRc::HANDLE);
        assert_eq!(p.parameter(), Some(1));
        assert_eq!(p.handle(), None);
        assert_eq!(p.to_string(), "TPM_RC_HANDLE (parameter 1)");
        assert!(!p.is_handle_error());

        let value = rc(0x2C4);
        assert_eq!(value.to_string(), "TPM_RC_VALUE (parameter 2)");

        let h = rc(0x18B);
        assert_eq!(h.handle(), Some(1));
        assert!(h.is_handle_error());
        assert_eq!(h.to_string(), "TPM_RC_HANDLE (handle 1)");

        // N = 0 without P names nothing.
        assert_eq!(rc(0x08B).to_string(), "TPM_RC_HANDLE");
        assert_eq!(rc(0xF8E).session(), Some(7));
    }

    #[test]
    fn warnings() {
        assert!(rc(0x901).is_context_gap());
        assert!(rc(0x901).is_warning());
        assert!(rc(0x902).is_session_exhaustion());
        assert!(rc(0x903).is_session_exhaustion());
        assert!(rc(0x905).is_session_exhaustion());
        assert!(!rc(0x904).is_session_exhaustion());
        assert!(rc(0x922).is_retry_class());
        assert!(rc(0x908).is_retry_class());
        assert!(rc(0x90A).is_retry_class());
        assert!(!rc(0x909).is_retry_class());
        assert!(rc(0x921).is_lockout());
        assert_eq!(rc(0x922).to_string(), "TPM_RC_RETRY");
        let h0 = rc(0x910);
        assert!(!h0.is_format_one());
        assert_eq!(h0.name(), Some("TPM_RC_REFERENCE_H0"));
        assert!(h0.is_handle_error());
        assert!(rc(0x918).is_session_reference_error());
    }

    #[test]
    fn format_zero_errors() {
        let init = rc(0x100);
        assert_eq!(init.kind(), RcKind::Error);
        assert!(init.is_initialize());
        assert_eq!(init.to_string(), "TPM_RC_INITIALIZE");
        let failure = rc(0x101);
        assert!(failure.is_failure_mode());
        assert_eq!(failure.to_string(), "TPM_RC_FAILURE");
        assert_eq!(rc(0x148).to_string(), "TPM_RC_NV_LOCKED");
        assert!(rc(0x148).description().is_some());
        assert!(rc(0).is_success());
        assert_eq!(rc(0).to_string(), "TPM_RC_SUCCESS");
    }

    #[test]
    fn resource_manager_layer() {
        let rm = rc(0x000B_0143);
        assert_eq!(rm.layer(), RcLayer::RESMGR);
        assert_eq!(rm.base_code(), TpmRc::COMMAND_CODE);
        assert_eq!(rm.to_string(), "resource manager: TPM_RC_COMMAND_CODE");
        // tabrmd-style: the resource-manager layer with a TSS base code.
        assert_eq!(
            rc(0x000B_0008).to_string(),
            "resource manager: TSS2_BASE_RC_NO_CONNECTION"
        );
        assert_eq!(rc(0x000A_000A).to_string(), "TCTI: TSS2_BASE_RC_IO_ERROR");
        assert_eq!(
            rc(0x000C_098E).to_string(),
            "resource manager (TPM): TPM_RC_AUTH_FAIL (session 1)"
        );
    }

    #[test]
    fn tpm12_vendor_and_unknown() {
        let bad_tag = rc(0x01E);
        assert!(bad_tag.is_tpm12());
        assert_eq!(bad_tag.name(), Some("TPM_RC_BAD_TAG"));
        let vendor = rc(0x500);
        assert!(vendor.is_vendor());
        assert_eq!(vendor.to_string(), "0x00000500");
        assert_eq!(rc(0xabc).to_string(), "0x00000abc");
        assert_eq!(rc(0x00FF_0001).to_string(), "layer 255: 0x00ff0001");
    }
}
