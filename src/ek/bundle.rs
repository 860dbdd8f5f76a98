//! The caller's CA bundle: the manufacturer's roots (and, if the TPM does not carry them, its
//! intermediates), from PEM or DER files.

use std::path::Path;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use super::cert::CaCertificate;
use super::EkError;

/// The largest bundle file read (a bundle of every TPM manufacturer's roots and intermediates
/// is a few hundred KiB).
pub const MAX_BUNDLE_FILE_SIZE: usize = 1024 * 1024;

/// The most certificates one bundle may hold.
pub const MAX_BUNDLE_CERTIFICATES: usize = 512;

const PEM_BEGIN: &[u8] = b"-----BEGIN ";
const PEM_END: &[u8] = b"-----END ";

/// Trust anchors and intermediates for EK certificate chains. A chain ends at a self-issued
/// certificate of the bundle that names no other key as its signer (a root); its
/// self-signature is not checked, as being in the bundle is what makes it trusted. An
/// intermediate alone is never trusted. Certificates of a kind this verifier cannot use
/// are skipped with a warning when the bundle is read.
#[derive(Clone, Debug, Default)]
pub struct CaBundle {
    pub(crate) certs: Vec<CaCertificate>,
    pub(crate) validation_time: ValidationTime,
}

impl CaBundle {
    /// An empty bundle, to fill with [`CaBundle::add_bytes`].
    pub fn new() -> CaBundle {
        CaBundle::default()
    }

    /// A bundle from one input holding PEM certificates (text outside `-----BEGIN` /
    /// `-----END` blocks is ignored, as OpenSSL does) or one DER certificate.
    pub fn from_bytes(bytes: &[u8]) -> Result<CaBundle, EkError> {
        let mut bundle = CaBundle::new();
        bundle.add_bytes("CA bundle", bytes)?;
        bundle.non_empty()
    }

    /// A bundle from files, each PEM (one or more certificates) or DER (one certificate),
    /// read with a size limit of [`MAX_BUNDLE_FILE_SIZE`].
    pub fn from_files(paths: &[&Path]) -> Result<CaBundle, EkError> {
        let mut bundle = CaBundle::new();
        for path in paths {
            let bytes = crate::files::read_bounded(path, "CA bundle", MAX_BUNDLE_FILE_SIZE)?;
            bundle.add_bytes(&path.display().to_string(), &bytes)?;
        }
        bundle.non_empty()
    }

    fn non_empty(self) -> Result<CaBundle, EkError> {
        if self.certs.is_empty() {
            Err(EkError::EmptyBundle)
        } else {
            Ok(self)
        }
    }

    /// Adds the certificates of one input (PEM or DER); `what` names it in errors.
    pub fn add_bytes(&mut self, what: &str, bytes: &[u8]) -> Result<(), EkError> {
        if bytes.len() > MAX_BUNDLE_FILE_SIZE {
            return Err(EkError::TooLarge {
                what: what.into(),
                size: bytes.len(),
                max: MAX_BUNDLE_FILE_SIZE,
            });
        }
        if find(bytes, PEM_BEGIN).is_none() {
            return self.push_parsed(&format!("{what}: certificate 1"), bytes);
        }
        let mut rest = bytes;
        let mut n = 0;
        while let Some(start) = find(rest, PEM_BEGIN) {
            let block = &rest[start..];
            let end_marker = find(block, PEM_END).ok_or_else(|| EkError::Pem {
                what: what.into(),
                source: x509_cert::der::pem::Error::PostEncapsulationBoundary.into(),
            })?;
            // The block ends with the end line: "-----END LABEL-----".
            let after_end = &block[end_marker + PEM_END.len()..];
            let close = find(after_end, b"-----").ok_or_else(|| EkError::Pem {
                what: what.into(),
                source: x509_cert::der::pem::Error::PostEncapsulationBoundary.into(),
            })?;
            let block_len = end_marker + PEM_END.len() + close + 5;
            let (label, der) =
                x509_cert::der::pem::decode_vec(&block[..block_len]).map_err(|source| {
                    EkError::Pem {
                        what: what.into(),
                        source: source.into(),
                    }
                })?;
            if label != "CERTIFICATE" {
                return Err(EkError::NotACertificate {
                    what: what.into(),
                    label: label.into(),
                });
            }
            n += 1;
            self.push_parsed(&format!("{what}: certificate {n}"), &der)?;
            rest = &block[block_len..];
        }
        Ok(())
    }

    /// Adds the certificate `der`, or skips it with a warning if it is an X.509 certificate
    /// this verifier cannot use (a key type or curve it does not implement, an unknown
    /// critical extension, version 1, ...): one such certificate among a manufacturer's
    /// roots must not make the whole bundle unusable, and no chain can go through it anyway.
    /// Bytes that are not a certificate at all still fail the bundle.
    fn push_parsed(&mut self, what: &str, der: &[u8]) -> Result<(), EkError> {
        match CaCertificate::parse_as(what, der) {
            Ok(cert) => self.push(cert),
            Err(e @ (EkError::Parse { .. } | EkError::TooLarge { .. })) => Err(e),
            Err(e) => {
                tracing::warn!(certificate = what, reason = %e, "CA bundle: certificate skipped");
                Ok(())
            }
        }
    }

    fn push(&mut self, cert: CaCertificate) -> Result<(), EkError> {
        if self.certs.len() >= MAX_BUNDLE_CERTIFICATES {
            return Err(EkError::TooManyCertificates {
                max: MAX_BUNDLE_CERTIFICATES,
            });
        }
        // The same certificate twice adds nothing but work for the chain search.
        if !self.certs.iter().any(|c| c.der() == cert.der()) {
            self.certs.push(cert);
        }
        Ok(())
    }

    /// The certificates, in the order they were added.
    pub fn certificates(&self) -> &[CaCertificate] {
        &self.certs
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// The time at which every certificate of a chain must be within its validity period.
///
/// EKs live as long as their TPMs, and machines stay in service after their EK certificate
/// (or the CA above it) has expired; the default, [`ValidationTime::Now`], refuses those. A
/// verifier enrolling such machines chooses another time: the time the machine was first
/// enrolled, or the time a certificate was known good ([`ValidationTime::At`]), or no check
/// of the validity periods at all ([`ValidationTime::Unchecked`]), which is what the other
/// EK verifiers commonly used amount to: go-attestation parses EK certificates and leaves
/// chain verification, and with it the validity period, to its caller, and keylime's EK
/// check verifies the EK certificate's signature against a CA of its store without looking
/// at validity periods. Every other check is made whatever the time chosen.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum ValidationTime {
    /// The system clock at the time of the verification (the default).
    #[default]
    Now,
    /// A time the caller chooses.
    At(SystemTime),
    /// Validity periods are not checked: an expired or not-yet-valid certificate is accepted
    /// if everything else verifies.
    Unchecked,
}

impl ValidationTime {
    /// The time as seconds since the Unix epoch, or `None` for no check.
    pub(super) fn resolve(self) -> Option<Duration> {
        let since_epoch = |t: SystemTime| t.duration_since(UNIX_EPOCH).unwrap_or_default();
        match self {
            ValidationTime::Now => Some(since_epoch(SystemTime::now())),
            ValidationTime::At(t) => Some(since_epoch(t)),
            ValidationTime::Unchecked => None,
        }
    }
}

impl CaBundle {
    /// This bundle, verifying chains at `time` ([`CaBundle::verify`],
    /// [`VerifiedEk::create`](super::VerifiedEk::create)) instead of the default
    /// [`ValidationTime::Now`].
    pub fn with_validation_time(mut self, time: ValidationTime) -> CaBundle {
        self.validation_time = time;
        self
    }

    /// The time chains are verified at.
    pub fn validation_time(&self) -> ValidationTime {
        self.validation_time
    }
}
