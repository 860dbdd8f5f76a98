//! Trust in the Endorsement Key: a salted session is only as good as the key it is salted to.
//!
//! The TPM manufacturer certifies the key that TPM2_CreatePrimary derives from one of the TCG
//! EK templates ([`EkTemplate`]) and stores that certificate in NV. This module reads the
//! certificate ([`read_certificate`]), parses it in pure Rust ([`EkCertificate`]), verifies its
//! chain up to a CA bundle the caller supplies ([`CaBundle::verify`]), creates the EK from the
//! template and accepts it only if its public key is exactly the certified one
//! ([`VerifiedEk::create`]). Only then is it a salt key
//! ([`SaltKey::from_verified_ek`](crate::client::SaltKey::from_verified_ek)).
//!
//! ```no_run
//! use tpm2_wire::client::{SaltKey, Session, SessionOptions};
//! use tpm2_wire::ek::{CaBundle, EkAlg, VerifiedEk};
//! use tpm2_wire::Tpm;
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let tpm = Tpm::open(None)?;
//! let bundle = CaBundle::from_files(&["manufacturer-roots.pem".as_ref()])?;
//! // Fails, saying which check failed, unless the chain verifies and the key matches.
//! let ek = VerifiedEk::create(&tpm, EkAlg::Rsa, &bundle)?;
//! let opts = SessionOptions::hmac().salted(SaltKey::from_verified_ek(&ek)?);
//! let session = Session::start(&tpm, &opts)?;
//! // The session no longer needs the EK loaded.
//! drop(ek);
//! # drop(session);
//! # Ok(())
//! # }
//! ```
//!
//! Certificates and bundles are untrusted input: every size is bounded, DER must be canonical,
//! and the chain search has a fixed budget of signature checks. EK certificates carry what web
//! PKI verifiers refuse (a critical subjectAltName holding the TPM manufacturer's attributes,
//! TCG extended key usages); what the EK Credential Profile puts there is accepted, and any
//! other critical extension is refused.

mod bundle;
mod cert;
mod chain;
mod templates;
#[cfg(test)]
mod tests;
mod tpm;

pub use bundle::{CaBundle, ValidationTime, MAX_BUNDLE_CERTIFICATES, MAX_BUNDLE_FILE_SIZE};
pub use cert::{CaCertificate, CertifiedKey, EkCertificate, MAX_CERTIFICATE_SIZE};
pub use chain::{VerifiedChain, MAX_CHAIN_DEPTH};
pub use templates::{
    EkAlg, EkTemplate, POLICY_A_SHA256, POLICY_B_SHA256, POLICY_B_SHA384, POLICY_B_SHA512,
};
pub use tpm::{find_certificate, read_certificate, VerifiedEk};
/// The X.509 crate the certificates are parsed with ([`EkCertificate::x509`] returns its type).
pub use x509_cert;

use crate::wire::Handle;
use x509_cert::der;

/// Why an EK certificate, a CA bundle or an EK was refused. Each variant names the check that
/// failed and the certificate it failed on (by subject).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum EkError {
    /// A certificate is not DER that parses as an X.509 certificate.
    #[error("{what}: not a DER X.509 certificate: {source}")]
    Parse {
        /// Which certificate ("EK certificate", "CA bundle certificate 2").
        what: String,
        /// What the DER decoder reported.
        #[source]
        source: der::Error,
    },

    /// A certificate parses but is not in the one DER encoding of its value (BER, trailing
    /// bytes, non-minimal lengths): its signed bytes could be read two ways.
    #[error("{what}: not canonical DER (the certificate does not re-encode to the bytes read)")]
    NotCanonical {
        /// Which certificate.
        what: String,
    },

    /// More bytes than any certificate or bundle may have.
    #[error("{what} of {size} bytes is larger than the limit of {max}")]
    TooLarge {
        /// What was too large.
        what: String,
        /// Its size in bytes.
        size: usize,
        /// The limit.
        max: usize,
    },

    /// A PEM block could not be decoded.
    #[error("{what}: bad PEM: {source}")]
    Pem {
        /// Which file or input.
        what: String,
        /// What the PEM decoder reported.
        #[source]
        source: der::Error,
    },

    /// A PEM block holds something other than a certificate.
    #[error("{what}: a PEM block labelled {label:?} is not a certificate")]
    NotACertificate {
        /// Which file or input.
        what: String,
        /// The block's label.
        label: String,
    },

    /// The CA bundle holds no certificate.
    #[error("the CA bundle holds no certificate")]
    EmptyBundle,

    /// The CA bundle holds more certificates than allowed.
    #[error("the CA bundle holds more than {max} certificates")]
    TooManyCertificates {
        /// The limit.
        max: usize,
    },

    /// A CA bundle file could not be read.
    #[error(transparent)]
    File(#[from] crate::files::FileError),

    /// A certificate is not X.509 version 3: only v3 can say whether a key is a CA's.
    #[error("certificate {subject}: X.509 version {version} (only version 3 is accepted)")]
    UnsupportedVersion {
        /// The certificate's subject.
        subject: String,
        /// Its version number (1 or 2).
        version: u8,
    },

    /// A certificate's outer signature algorithm differs from the one inside the signed part.
    #[error("certificate {subject}: the signature algorithm outside the signed part differs from the one inside")]
    AlgorithmMismatch {
        /// The certificate's subject.
        subject: String,
    },

    /// A certificate carries the same extension twice.
    #[error("certificate {subject}: extension {oid} appears more than once")]
    DuplicateExtension {
        /// The certificate's subject.
        subject: String,
        /// The extension's OID.
        oid: String,
    },

    /// A known extension could not be decoded.
    #[error("certificate {subject}: extension {oid} is malformed: {source}")]
    BadExtension {
        /// The certificate's subject.
        subject: String,
        /// The extension's OID.
        oid: String,
        /// What the DER decoder reported.
        #[source]
        source: der::Error,
    },

    /// A certificate has a critical extension this verifier does not process.
    #[error("certificate {subject}: unknown critical extension {oid}")]
    UnknownCriticalExtension {
        /// The certificate's subject.
        subject: String,
        /// The extension's OID.
        oid: String,
    },

    /// A certificate's key or signature algorithm is not supported (or too weak).
    #[error("certificate {subject}: unsupported {what}: {detail}")]
    Unsupported {
        /// The certificate's subject.
        subject: String,
        /// "public key", "signature algorithm", ...
        what: &'static str,
        /// What was found.
        detail: String,
    },

    /// A certificate's public key is malformed.
    #[error("certificate {subject}: bad public key: {reason}")]
    BadPublicKey {
        /// The certificate's subject.
        subject: String,
        /// What is wrong with it.
        reason: String,
    },

    /// The EK certificate breaks the EK Credential Profile (a CA key, a key usage or extended
    /// key usage that does not fit an EK).
    #[error("EK certificate {subject}: {reason}")]
    NotAnEkCertificate {
        /// The certificate's subject.
        subject: String,
        /// What does not fit.
        reason: &'static str,
    },

    /// No certificate in the CA bundle has the subject that issued this certificate.
    #[error("certificate {subject}: its issuer {issuer} is not in the CA bundle")]
    UnknownIssuer {
        /// The certificate whose issuer is missing.
        subject: String,
        /// The issuer's name.
        issuer: String,
    },

    /// A signature does not verify with the issuer's key: the certificate was not issued by
    /// that CA (or was altered).
    #[error("certificate {subject}: its signature does not verify with the key of {issuer} from the CA bundle")]
    BadSignature {
        /// The certificate whose signature failed.
        subject: String,
        /// The CA whose key was tried.
        issuer: String,
    },

    /// A certificate is past its notAfter.
    #[error("certificate {subject} expired at {not_after} (now {now})")]
    Expired {
        /// The expired certificate.
        subject: String,
        /// Its notAfter.
        not_after: String,
        /// The time the chain was checked at.
        now: String,
    },

    /// A certificate is before its notBefore.
    #[error("certificate {subject} is not valid before {not_before} (now {now})")]
    NotYetValid {
        /// The certificate.
        subject: String,
        /// Its notBefore.
        not_before: String,
        /// The time the chain was checked at.
        now: String,
    },

    /// An issuer in the chain is not a CA (no basicConstraints with cA set).
    #[error("certificate {subject} issued another certificate but is not a CA (basicConstraints cA is not set)")]
    NotACa {
        /// The issuer that is not a CA.
        subject: String,
    },

    /// An issuer's keyUsage does not allow signing certificates.
    #[error("certificate {subject} issued another certificate but its keyUsage lacks keyCertSign")]
    NoCertSign {
        /// The issuer.
        subject: String,
    },

    /// An issuer's extendedKeyUsage does not include tcg-kp-EKCertificate (2.23.133.8.1): the
    /// CA is restricted to other purposes (anyExtendedKeyUsage alone is not taken for it).
    #[error("certificate {subject} issued a certificate of an EK chain but its extendedKeyUsage lacks tcg-kp-EKCertificate (2.23.133.8.1)")]
    IssuerNotForEkCertificates {
        /// The issuer.
        subject: String,
    },

    /// A certificate of the chain carries nameConstraints (critical or not). They are not
    /// evaluated, so rather than ignore a restriction its CA set, the chain is refused.
    #[error("certificate {subject} carries nameConstraints, which this verifier does not evaluate; refusing the chain rather than ignoring them")]
    NameConstraints {
        /// The certificate carrying them.
        subject: String,
    },

    /// An issuer's pathLenConstraint is smaller than the number of CAs below it.
    #[error("certificate {subject} allows {allowed} CA(s) below it, the chain has {found}")]
    PathLenExceeded {
        /// The constraining CA.
        subject: String,
        /// Its pathLenConstraint.
        allowed: u8,
        /// The intermediates below it.
        found: usize,
    },

    /// The chain would be longer than [`MAX_CHAIN_DEPTH`].
    #[error("the certificate chain is longer than {max} certificates")]
    ChainTooLong {
        /// The limit.
        max: usize,
    },

    /// The bundle offers so many candidate issuers that the search ran out of its budget.
    #[error(
        "the CA bundle offers too many candidate issuers (more than {budget} signature checks)"
    )]
    ChainSearchExhausted {
        /// The number of signature checks allowed.
        budget: usize,
    },

    /// The TPM holds no EK certificate for this algorithm at any index of the profile.
    #[error("the TPM holds no {alg} EK certificate (looked at NV {indices})")]
    NoCertificate {
        /// The algorithm asked for.
        alg: EkAlg,
        /// The indices looked at.
        indices: String,
    },

    /// The EK certificate NV index is larger than any certificate may be.
    #[error("NV index {index} holds {size} bytes, more than an EK certificate may have ({max})")]
    CertificateIndexTooLarge {
        /// The index.
        index: Handle,
        /// Its size.
        size: usize,
        /// The limit.
        max: usize,
    },

    /// The TPM answered CreatePrimary with a public area that is not the template's.
    #[error("the TPM created an EK whose public area does not follow template {template} ({what} differs)")]
    TemplateMismatch {
        /// The template asked for.
        template: String,
        /// Which part differs.
        what: &'static str,
    },

    /// The EK the TPM created from the template does not have the certified public key.
    #[error("the EK the TPM created from template {template} is not the key the certificate {subject} certifies ({detail}); refusing it as a salt key")]
    KeyMismatch {
        /// The template used.
        template: String,
        /// The certificate's subject.
        subject: String,
        /// What differs.
        detail: &'static str,
    },

    /// A TPM command failed.
    #[error("{what}: {source}")]
    Tpm {
        /// What was being done.
        what: String,
        /// The TPM or transport error.
        #[source]
        source: Box<crate::Error>,
    },
}

impl EkError {
    pub(crate) fn tpm(what: impl Into<String>) -> impl FnOnce(crate::Error) -> EkError {
        let what = what.into();
        move |e| EkError::Tpm {
            what,
            source: Box::new(e),
        }
    }
}
