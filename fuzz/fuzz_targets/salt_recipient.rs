//! Secret encapsulation to hostile keys, checked against the crates the hand-written code
//! replaced: RSA-OAEP against the `rsa` crate byte for byte (the same OAEP seed, from a
//! generator seeded by the input), ECC point acceptance against the curve crates, and ECDH
//! encapsulation against their `diffie_hellman`.
//!
//! The first input byte's low two bits pick the mode; the rest is read with `Unstructured`:
//!
//! - 0: an RSA key from raw bytes (modulus, exponent), a hash, a label and a message, through
//!   `rsa_encrypt_secret`. The key is accepted exactly when the `rsa` crate accepts it and it
//!   is odd, 1024 to 4096 bits and at most 512 bytes long with its leading zeros; an accepted
//!   key encrypts exactly when the `rsa` crate does, to the same bytes.
//! - 1: an ECC point from raw coordinates on one of the three curves (or an unsupported
//!   curve), accepted exactly when the curve crate accepts the same integers.
//! - 2: as 1, with y computed from x by the curve crate (a point on the curve), then XORed
//!   with the input: so valid points, and near misses, are common.
//! - 3: a TPMT_PUBLIC from the input through `SecretRecipient::from_public`.
//!
//! Every accepted ECC key gets two encapsulations from one recipient (the first multiplies
//! plainly, the second builds and uses the key's comb), each equal to the curve crate's ECDH
//! and KDFe for the same ephemeral key; every accepted RSA key's encapsulation equals the
//! `rsa` crate's encryption of the same secret with the same seed.

#![no_main]

use arbitrary::{Result, Unstructured};
use libfuzzer_sys::fuzz_target;
use p256::elliptic_curve::ecdh::diffie_hellman;
use p256::elliptic_curve::sec1::{FromEncodedPoint, ModulusSize, ToEncodedPoint};
use p256::elliptic_curve::{
    AffinePoint, CurveArithmetic, FieldBytesSize, NonZeroScalar, PublicKey,
};
use rand_core::{CryptoRng, RngCore};
use rsa::{BigUint, Oaep, RsaPublicKey};
use tpm2_wire::crypto::{kdfe, rsa_encrypt_secret, HashAlg, SecretRecipient};
use tpm2_wire::wire::{EccCurve, Public, PublicKey as TpmPublicKey, Unmarshal};

/// A generator seeded by the input: a clone replays exactly what the original hands out.
#[derive(Clone)]
struct Replayable(u64);

impl RngCore for Replayable {
    fn next_u32(&mut self) -> u32 {
        rand_core::impls::next_u32_via_fill(self)
    }
    fn next_u64(&mut self) -> u64 {
        rand_core::impls::next_u64_via_fill(self)
    }
    fn fill_bytes(&mut self, out: &mut [u8]) {
        for byte in out {
            self.0 = self
                .0
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            *byte = (self.0 >> 56) as u8;
        }
    }
    fn try_fill_bytes(&mut self, out: &mut [u8]) -> Result<(), rand_core::Error> {
        self.fill_bytes(out);
        Ok(())
    }
}
impl CryptoRng for Replayable {}

fn hash(u: &mut Unstructured) -> Result<HashAlg> {
    Ok(HashAlg::ALL[usize::from(u.int_in_range(0u8..=3)?)])
}

/// A label as the `rsa` crate can take it (a string), interior NULs included.
fn label(u: &mut Unstructured) -> Result<Vec<u8>> {
    let len = u.int_in_range(0u8..=16)?;
    Ok(u.bytes(usize::from(len))?
        .iter()
        .map(|b| b & 0x7f)
        .collect())
}

/// The `rsa` crate's OAEP with our label convention: the label hashed with one terminating NUL.
fn oaep(alg: HashAlg, label: &[u8]) -> Oaep {
    let mut text = String::from_utf8(label.to_vec()).expect("ASCII");
    if !text.ends_with('\0') {
        text.push('\0');
    }
    match alg {
        HashAlg::Sha1 => Oaep::new_with_label::<sha1::Sha1, _>(text),
        HashAlg::Sha256 => Oaep::new_with_label::<sha2::Sha256, _>(text),
        HashAlg::Sha384 => Oaep::new_with_label::<sha2::Sha384, _>(text),
        HashAlg::Sha512 => Oaep::new_with_label::<sha2::Sha512, _>(text),
    }
}

/// The `rsa` crate's key, if it takes this one and the library's size and parity rules do too.
fn reference_rsa_key(modulus: &[u8], exponent: u32) -> Option<RsaPublicKey> {
    let n = BigUint::from_bytes_be(modulus);
    let e = BigUint::from(if exponent == 0 { 65537 } else { exponent });
    let odd = modulus.last().is_some_and(|low| low & 1 == 1);
    let fits = modulus.len() <= 512 && (1024..=4096).contains(&n.bits()) && odd;
    fits.then(|| RsaPublicKey::new(n, e).ok()).flatten()
}

fn rsa_raw(u: &mut Unstructured) -> Result<()> {
    let alg = hash(u)?;
    let exponent = match u.int_in_range(0u8..=3)? {
        0 => 0,
        1 => 65537,
        _ => u.arbitrary()?,
    };
    let label = label(u)?;
    let message_len = u.int_in_range(0u8..=80)?;
    let message = u.bytes(usize::from(message_len))?.to_vec();
    let seed: u64 = u.arbitrary()?;
    let modulus = u.bytes(u.len())?;

    let ours = rsa_encrypt_secret(
        alg,
        modulus,
        exponent,
        &label,
        &message,
        &mut Replayable(seed),
    );
    let Some(key) = reference_rsa_key(modulus, exponent) else {
        assert!(ours.is_err(), "a key the reference refuses");
        return Ok(());
    };
    // Accepted keys: both encrypt (the same bytes) or both refuse the message.
    let theirs = key.encrypt(&mut Replayable(seed), oaep(alg, &label), &message);
    match (ours, theirs) {
        (Ok(ours), Ok(theirs)) => assert_eq!(ours, theirs),
        (Err(_), Err(_)) => {}
        (ours, theirs) => panic!("{alg:?}: ours {ours:?}, the rsa crate's {theirs:?}"),
    }
    Ok(())
}

/// An RSA recipient's encapsulation, replayed with the `rsa` crate.
fn rsa_encapsulation(recipient: &SecretRecipient, alg: HashAlg, modulus: &[u8], exponent: u32) {
    let mut rng = Replayable(0x5a17);
    let mut replay = rng.clone();
    let Ok(ours) = recipient.encapsulate_rng(alg, b"SECRET", &mut rng) else {
        // Only a modulus too short for the hash's OAEP overhead refuses a secret.
        let key = reference_rsa_key(modulus, exponent).expect("an accepted key");
        assert!(key
            .encrypt(
                &mut replay,
                oaep(alg, b"SECRET"),
                &vec![0; alg.digest_size()]
            )
            .is_err());
        return;
    };
    let mut secret = vec![0u8; alg.digest_size()];
    replay.fill_bytes(&mut secret);
    assert_eq!(ours.secret.as_bytes(), secret);
    let key = reference_rsa_key(modulus, exponent).expect("an accepted key");
    let theirs = key
        .encrypt(&mut replay, oaep(alg, b"SECRET"), &secret)
        .expect("the rsa crate encrypts what we encrypted");
    assert_eq!(ours.ciphertext, theirs);
}

/// The curve crate's point for these coordinates: big-endian integers, leading zeros allowed,
/// anything wider than the field refused.
fn reference_point<C>(x: &[u8], y: &[u8]) -> Option<PublicKey<C>>
where
    C: CurveArithmetic,
    FieldBytesSize<C>: ModulusSize,
    AffinePoint<C>: FromEncodedPoint<C> + ToEncodedPoint<C>,
{
    let size = p256::elliptic_curve::FieldBytes::<C>::default().len();
    let mut encoded = vec![4u8];
    for coordinate in [x, y] {
        let significant = &coordinate[coordinate.iter().take_while(|&&b| b == 0).count()..];
        if significant.len() > size {
            return None;
        }
        encoded.resize(encoded.len() + size - significant.len(), 0);
        encoded.extend_from_slice(significant);
    }
    PublicKey::<C>::from_sec1_bytes(&encoded).ok()
}

/// Two encapsulations from one recipient, each replayed with the curve crate.
fn ecc_encapsulations<C>(recipient: &SecretRecipient, alg: HashAlg, peer: &PublicKey<C>, x: &[u8])
where
    C: CurveArithmetic,
    FieldBytesSize<C>: ModulusSize,
    AffinePoint<C>: FromEncodedPoint<C> + ToEncodedPoint<C>,
{
    // Both encapsulations draw the same ephemeral key, so the curve crate's answer is computed
    // once (its two multiplications are most of what an input costs).
    let start = Replayable(u64::from_le_bytes(*b"ephemera"));
    let ephemeral = NonZeroScalar::<C>::random(&mut start.clone());
    let shared = diffie_hellman(ephemeral, peer.as_affine());
    let point = PublicKey::<C>::from_secret_scalar(&ephemeral).to_encoded_point(false);
    let (ex, ey) = (point.x().expect("x"), point.y().expect("y"));
    let mut secret = vec![0u8; alg.digest_size()];
    let bits = (secret.len() * 8) as u32;
    kdfe(
        alg,
        shared.raw_secret_bytes(),
        b"SECRET",
        ex,
        x,
        bits,
        &mut secret,
    )
    .expect("a digest of KDFe");
    let mut ciphertext = Vec::new();
    for coordinate in [ex, ey] {
        ciphertext.extend_from_slice(&(coordinate.len() as u16).to_be_bytes());
        ciphertext.extend_from_slice(coordinate);
    }
    // The first multiplies the key plainly, the second builds its comb and uses it.
    for round in 0..2 {
        let ours = recipient
            .encapsulate_rng(alg, b"SECRET", &mut start.clone())
            .expect("an accepted point encapsulates");
        assert_eq!(ours.secret.as_bytes(), secret, "round {round}");
        assert_eq!(ours.ciphertext, ciphertext, "round {round}");
    }
}

/// Our acceptance of (x, y) on `curve` against the curve crate's, and encapsulations to an
/// accepted point.
fn ecc_point(curve: EccCurve, alg: HashAlg, x: &[u8], y: &[u8]) {
    let ours = SecretRecipient::ecc(curve, x, y);
    macro_rules! check {
        ($c:ty) => {{
            match (ours, reference_point::<$c>(x, y)) {
                (Ok(recipient), Some(peer)) => ecc_encapsulations(&recipient, alg, &peer, x),
                (Err(_), None) => {}
                (ours, theirs) => panic!("{curve}: ours {ours:?}, the curve crate's {theirs:?}"),
            }
        }};
    }
    match curve {
        EccCurve::NIST_P256 => check!(p256::NistP256),
        EccCurve::NIST_P384 => check!(p384::NistP384),
        EccCurve::NIST_P521 => check!(p521::NistP521),
        _ => assert!(ours.is_err(), "{curve} is not implemented"),
    }
}

fn curve(u: &mut Unstructured) -> Result<EccCurve> {
    Ok(match u.int_in_range(0u8..=3)? {
        0 => EccCurve::NIST_P256,
        1 => EccCurve::NIST_P384,
        2 => EccCurve::NIST_P521,
        _ => EccCurve(u.arbitrary()?),
    })
}

fn ecc_raw(u: &mut Unstructured) -> Result<()> {
    let (curve, alg) = (curve(u)?, hash(u)?);
    let x_len = u.int_in_range(0u8..=80)?;
    let x = u.bytes(usize::from(x_len))?;
    ecc_point(curve, alg, x, u.bytes(u.len())?);
    Ok(())
}

/// y for x from the curve crate's point decompression (the even or odd root as the input
/// says), if x is on the curve.
fn y_for<C>(x: &[u8], odd: bool) -> Option<Vec<u8>>
where
    C: CurveArithmetic,
    FieldBytesSize<C>: ModulusSize,
    AffinePoint<C>: FromEncodedPoint<C> + ToEncodedPoint<C>,
{
    let size = p256::elliptic_curve::FieldBytes::<C>::default().len();
    let significant = &x[x.iter().take_while(|&&b| b == 0).count()..];
    let pad = size.checked_sub(significant.len())?;
    let mut compressed = vec![if odd { 3 } else { 2 }];
    compressed.resize(1 + pad, 0);
    compressed.extend_from_slice(significant);
    let point = PublicKey::<C>::from_sec1_bytes(&compressed).ok()?;
    Some(point.to_encoded_point(false).y()?.to_vec())
}

fn ecc_derived(u: &mut Unstructured) -> Result<()> {
    let (curve, alg) = (curve(u)?, hash(u)?);
    let odd: bool = u.arbitrary()?;
    let x_len = u.int_in_range(0u8..=80)?;
    let x = u.bytes(usize::from(x_len))?;
    let derived = match curve {
        EccCurve::NIST_P256 => y_for::<p256::NistP256>(x, odd),
        EccCurve::NIST_P384 => y_for::<p384::NistP384>(x, odd),
        EccCurve::NIST_P521 => y_for::<p521::NistP521>(x, odd),
        _ => None,
    };
    let mut y = derived.unwrap_or_default();
    // The rest of the input: a prefix of zeros (leading zeros a TPM may add), then a mask.
    let zeros = u.int_in_range(0u8..=3)?;
    for (byte, mask) in y.iter_mut().zip(u.bytes(u.len())?) {
        *byte ^= mask;
    }
    let mut padded = vec![0u8; usize::from(zeros)];
    padded.extend_from_slice(&y);
    ecc_point(curve, alg, x, &padded);
    Ok(())
}

fn public_area(bytes: &[u8]) {
    let Ok(public) = Public::from_bytes(bytes) else {
        return;
    };
    let Ok((recipient, alg)) = SecretRecipient::from_public(&public) else {
        return;
    };
    match &public.key {
        TpmPublicKey::Rsa {
            parameters, unique, ..
        } => rsa_encapsulation(&recipient, alg, unique.as_bytes(), parameters.exponent),
        TpmPublicKey::Ecc {
            parameters, unique, ..
        } => {
            let (x, y) = (unique.x.as_bytes(), unique.y.as_bytes());
            macro_rules! check {
                ($c:ty) => {{
                    let peer = reference_point::<$c>(x, y).expect("the curve crate's point");
                    ecc_encapsulations(&recipient, alg, &peer, x)
                }};
            }
            match parameters.curve {
                EccCurve::NIST_P256 => check!(p256::NistP256),
                EccCurve::NIST_P384 => check!(p384::NistP384),
                EccCurve::NIST_P521 => check!(p521::NistP521),
                other => panic!("an unimplemented curve {other} accepted"),
            }
        }
        other => panic!("a {:?} key accepted as a recipient", other.object_type()),
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let mut u = Unstructured::new(rest);
    // Running out of input ends a case early: nothing to check.
    let _ = match mode % 4 {
        0 => rsa_raw(&mut u),
        1 => ecc_raw(&mut u),
        2 => ecc_derived(&mut u),
        _ => {
            public_area(rest);
            Ok(())
        }
    };
});
