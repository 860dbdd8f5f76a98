//! The host verifier against arbitrary attestations and signatures, with one fixed P-256
//! attestation key: it must never panic, and nothing may verify that the key did not sign.
//!
//! The first input byte's low two bits pick the mode, its other bits the verifier (quote,
//! certify, creation, NV, time):
//!
//! - 0: attestation bytes (a two-byte big-endian length, then that many bytes) and a
//!   TPMT_SIGNATURE (the rest) from the input. The key signed exactly one structure, the
//!   valid quote built at start-up, so only that structure may verify.
//! - 1: the valid quote with the input XORed over it, and its own signature: only the
//!   unchanged quote may verify.
//! - 2: the valid quote with the input XORed over it, and another key's signature of the
//!   valid quote: nothing may verify (signed once at start-up, so this mode costs one
//!   verification and no signing).
//! - 3: attestation bytes from the input, signed by the attestation key itself, as if a TPM
//!   signed anything: whatever verifies must really say what the verifier asked for (the
//!   TPM's magic, the key as signer, the nonce, and what was quoted or certified), checked
//!   here independently of the verifier.

#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use tpm2_wire::attest::convert::{signature_from_p256, HostPublicKey};
use tpm2_wire::attest::p256::ecdsa::signature::hazmat::PrehashSigner;
use tpm2_wire::attest::p256::ecdsa::{Signature as EcdsaSignature, SigningKey};
use tpm2_wire::attest::{
    verify_certify, verify_certify_creation, verify_nv_certify, verify_quote, verify_time,
    AttestationKey, PcrValues,
};
use tpm2_wire::crypto::{hash, HashAlg};
use tpm2_wire::wire::{
    AlgId, Attestation, Attested, ClockInfo, Data, Handle, Marshal, Name, ObjectAttributes,
    QuoteInfo, SigScheme, Signature, Unmarshal, TPM_GENERATED_VALUE,
};

const NONCE: &[u8] = b"the verifier's nonce";
const PCR: u8 = 16;
const PCR_VALUE: [u8; 32] = [0x5A; 32];
const CERTIFIED: &[u8] = &[0x00, 0x0B, 0xC0, 0xFF, 0xEE];
const CREATION_HASH: [u8; 32] = [0x77; 32];
const NV_CONTENTS: &[u8] = b"nv contents";

struct Fixture {
    key: SigningKey,
    ak: AttestationKey,
    pcrs: PcrValues,
    certified: Name,
    quote: Vec<u8>,
    quote_signature: Signature,
    other_signature: Signature,
}

fn sign(key: &SigningKey, bytes: &[u8]) -> Signature {
    let digest = hash(HashAlg::Sha256, &[bytes]);
    let sig: EcdsaSignature = key.sign_prehash(digest.as_bytes()).expect("P-256 signs");
    signature_from_p256(AlgId::SHA256, &sig)
}

fn fixture() -> &'static Fixture {
    static FIXTURE: OnceLock<Fixture> = OnceLock::new();
    FIXTURE.get_or_init(|| {
        let key = SigningKey::from_slice(&[0x11; 32]).expect("a valid scalar");
        let other = SigningKey::from_slice(&[0x22; 32]).expect("a valid scalar");
        let public = HostPublicKey::P256(*key.verifying_key())
            .to_public(
                AlgId::SHA256,
                ObjectAttributes(0x0005_0072),
                SigScheme::Ecdsa {
                    hash: AlgId::SHA256,
                },
            )
            .expect("a P-256 public area");
        let ak = AttestationKey::primary(Handle::RH_ENDORSEMENT, public).expect("an AK");
        let pcrs = PcrValues::new()
            .with(HashAlg::Sha256, PCR, &PCR_VALUE)
            .expect("a PCR value");
        let quote = Attestation {
            magic: TPM_GENERATED_VALUE,
            qualified_signer: ak.qualified_name().clone(),
            extra_data: Data::new(NONCE).expect("a nonce"),
            clock_info: ClockInfo::default(),
            firmware_version: 1,
            attested: Attested::Quote(QuoteInfo {
                pcr_select: pcrs.selection(),
                pcr_digest: hash(HashAlg::Sha256, &[&PCR_VALUE]),
            }),
        }
        .to_bytes();
        let quote_signature = sign(&key, &quote);
        let other_signature = sign(&other, &quote);
        // The one signed quote verifies, so the refusals below are the verifier's checks
        // and not a broken fixture.
        verify_quote(&ak, &quote, &quote_signature, NONCE, &pcrs).expect("the valid quote");
        Fixture {
            key,
            ak,
            pcrs,
            certified: Name::new(CERTIFIED).expect("a name"),
            quote,
            quote_signature,
            other_signature,
        }
    })
}

/// The verifiers, by what they verify.
const KINDS: [&str; 5] = ["quote", "certify", "creation", "nv", "time"];

/// Runs the verifier `kind` over `attest` and `signature`; returns whether it accepted them,
/// checking independently that what it accepted says what the verifier asked for.
fn verify(f: &Fixture, kind: &str, attest: &[u8], signature: &Signature) -> bool {
    let k = &f.ak;
    let ok = match kind {
        "quote" => verify_quote(k, attest, signature, NONCE, &f.pcrs).is_ok(),
        "certify" => verify_certify(k, attest, signature, NONCE, &f.certified).is_ok(),
        "creation" => {
            verify_certify_creation(k, attest, signature, NONCE, &f.certified, &CREATION_HASH)
                .is_ok()
        }
        "nv" => {
            verify_nv_certify(k, attest, signature, NONCE, &f.certified, 3, NV_CONTENTS).is_ok()
        }
        _ => verify_time(k, attest, signature, NONCE).is_ok(),
    };
    if !ok {
        return false;
    }
    let a = Attestation::from_bytes(attest).expect("an accepted structure parses");
    assert_eq!(a.magic, TPM_GENERATED_VALUE, "{kind}");
    assert_eq!(&a.qualified_signer, f.ak.qualified_name(), "{kind}");
    assert_eq!(a.extra_data.as_bytes(), NONCE, "{kind}");
    match (&a.attested, kind) {
        (Attested::Quote(q), "quote") => {
            let selected: Vec<(AlgId, Vec<u8>)> = q
                .pcr_select
                .iter()
                .filter(|s| !s.select.is_empty())
                .map(|s| (s.hash, s.select.pcrs().collect()))
                .collect();
            assert_eq!(selected, [(AlgId::SHA256, vec![PCR])]);
            assert_eq!(q.pcr_digest, hash(HashAlg::Sha256, &[&PCR_VALUE]));
        }
        (Attested::Certify(c), "certify") => assert_eq!(c.name, f.certified),
        (Attested::Creation(c), "creation") => {
            assert_eq!(c.object_name, f.certified);
            assert_eq!(c.creation_hash.as_bytes(), CREATION_HASH);
        }
        (Attested::Nv(n), "nv") => {
            assert_eq!(n.index_name, f.certified);
            assert_eq!((n.offset, n.nv_contents.as_bytes()), (3, NV_CONTENTS));
        }
        (Attested::Time(_), "time") => {}
        (other, _) => panic!("{kind} accepted {other:?}"),
    }
    true
}

fuzz_target!(|data: &[u8]| {
    let f = fixture();
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    // One signature check per input (and a signing only in mode 3): the mode's low two
    // bits, then which verifier.
    let kind = KINDS[usize::from(mode >> 2) % KINDS.len()];
    match mode % 4 {
        0 => {
            let Some((len, rest)) = rest.split_first_chunk::<2>() else {
                return;
            };
            let len = usize::from(u16::from_be_bytes(*len)).min(rest.len());
            let (attest, sig) = rest.split_at(len);
            let Ok(signature) = Signature::from_bytes(sig) else {
                return;
            };
            if verify(f, kind, attest, &signature) {
                assert_eq!(attest, f.quote, "only the signed quote verifies");
            }
        }
        1 | 2 => {
            let mut attest = f.quote.clone();
            for (byte, mask) in attest.iter_mut().zip(rest) {
                *byte ^= mask;
            }
            attest.extend_from_slice(rest.get(f.quote.len()..).unwrap_or_default());
            if mode % 4 == 2 {
                assert!(
                    !verify(f, kind, &attest, &f.other_signature),
                    "another key's signature"
                );
            } else if verify(f, kind, &attest, &f.quote_signature) {
                assert_eq!(attest, f.quote, "only the signed quote verifies");
            }
        }
        _ => {
            let signature = sign(&f.key, rest);
            verify(f, kind, rest, &signature);
        }
    }
});
