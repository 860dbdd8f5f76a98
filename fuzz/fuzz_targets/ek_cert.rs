//! EK certificates and CA bundles are untrusted input: arbitrary bytes as an EK certificate
//! (DER, or NV contents with padding), as a CA bundle (PEM or DER), and as both at once for a
//! chain verification, must never panic, hang or over-allocate.
//!
//! The first input byte picks the mode; for a chain, the next two bytes (big-endian) say how
//! many of the remaining bytes are the bundle, the rest being the EK certificate. The seed
//! corpus holds a swtpm-made EK certificate and its CA certificates.

#![no_main]

use std::time::{Duration, UNIX_EPOCH};

use libfuzzer_sys::fuzz_target;
use tpm2_wire::ek::{CaBundle, EkCertificate, EkTemplate};

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    match mode % 4 {
        0 => {
            if let Ok(cert) = EkCertificate::from_der(rest) {
                // Anything accepted re-encodes to the bytes read.
                assert_eq!(cert.der(), rest);
                let _ = (cert.subject(), cert.issuer());
                for t in EkTemplate::ALL {
                    let _ = cert.key().mismatch(&t.public());
                }
            }
        }
        1 => {
            if let Ok(cert) = EkCertificate::from_nv_contents(rest) {
                assert!(rest.starts_with(cert.der()));
            }
        }
        2 => {
            if let Ok(bundle) = CaBundle::from_bytes(rest) {
                assert!(!bundle.certificates().is_empty());
            }
        }
        _ => {
            if rest.len() < 2 {
                return;
            }
            let split = usize::from(u16::from_be_bytes([rest[0], rest[1]]));
            let rest = &rest[2..];
            let (bundle, ek) = rest.split_at(split.min(rest.len()));
            let (Ok(bundle), Ok(ek)) = (CaBundle::from_bytes(bundle), EkCertificate::from_der(ek))
            else {
                return;
            };
            // Inside the validity of the seed certificates (2026 to 9999).
            let now = UNIX_EPOCH + Duration::from_secs(1_800_000_000);
            if let Ok(chain) = bundle.verify_at(&ek, now) {
                assert!(chain.subjects.len() >= 2);
            }
        }
    }
});
