//! Host-side credential checks. The TPM's side is exercised against swtpm and tpm2-tools in
//! tests/credentials.rs; here a protector with a known ECC private key stands in for it.

use p256::elliptic_curve::sec1::ToEncodedPoint;
use rand_core::{CryptoRng, RngCore};

use super::templates::{decryption_key, storage_parent, KeyAlg};
use super::*;
use crate::crypto::{self, HashAlg};
use crate::wire::{
    AlgId, EccParameter, EccPoint, IdObject, Name, Public, PublicKey, SymCipher, SymDefObject,
};

/// A counter "generator": deterministic, so two runs with the same start agree.
struct Counter(u8);

impl RngCore for Counter {
    fn next_u32(&mut self) -> u32 {
        rand_core::impls::next_u32_via_fill(self)
    }
    fn next_u64(&mut self) -> u64 {
        rand_core::impls::next_u64_via_fill(self)
    }
    fn fill_bytes(&mut self, dest: &mut [u8]) {
        for b in dest {
            self.0 = self.0.wrapping_add(1);
            *b = self.0;
        }
    }
    fn try_fill_bytes(&mut self, dest: &mut [u8]) -> Result<(), rand_core::Error> {
        self.fill_bytes(dest);
        Ok(())
    }
}
impl CryptoRng for Counter {}

const PRIVATE: [u8; 32] = [0x42; 32];

/// An ECC P-256 storage parent whose private scalar is [`PRIVATE`], with `cipher`.
fn protector(cipher: SymDefObject) -> Public {
    let key = p256::SecretKey::from_slice(&PRIVATE).unwrap();
    let point = key.public_key().to_encoded_point(false);
    let mut public = storage_parent(KeyAlg::EccP256);
    if let PublicKey::Ecc { parameters, unique } = &mut public.key {
        parameters.symmetric = cipher;
        *unique = EccPoint {
            x: EccParameter::new(point.x().unwrap()).unwrap(),
            y: EccParameter::new(point.y().unwrap()).unwrap(),
        };
    }
    public
}

fn name() -> Name {
    let mut bytes = vec![0x00, 0x0B];
    bytes.extend([0x5A; 32]);
    Name::new(&bytes).unwrap()
}

/// What TPM2_ActivateCredential does with the protector's private key: recover the seed,
/// check the HMAC over encIdentity ‖ name, decrypt, unmarshal the TPM2B_DIGEST.
fn activate(protector: &Public, name: &Name, id: &IdObject, secret: &[u8]) -> Option<Vec<u8>> {
    let hash = HashAlg::from_alg_id(protector.name_alg).unwrap();
    let seed = crypto::ecc_decapsulate(
        crate::wire::EccCurve::NIST_P256,
        hash,
        &PRIVATE,
        secret,
        b"IDENTITY",
    )
    .ok()?;
    let mut hmac_key = vec![0u8; hash.digest_size()];
    let bits = (hmac_key.len() * 8) as u32;
    crypto::kdfa(
        hash,
        seed.as_bytes(),
        b"INTEGRITY",
        &[],
        &[],
        bits,
        &mut hmac_key,
    )
    .unwrap();
    let mut mac = crypto::HmacCtx::new(hash, &hmac_key);
    mac.update(id.enc_identity.as_bytes());
    mac.update(name.as_bytes());
    if !mac.verify(id.integrity_hmac.as_bytes()) {
        return None;
    }
    let key_bits = match protector.key.symmetric() {
        Some(SymDefObject::Cipher(c)) => c.key_bits,
        _ => unreachable!(),
    };
    let mut key = vec![0u8; usize::from(key_bits / 8)];
    crypto::kdfa(
        hash,
        seed.as_bytes(),
        b"STORAGE",
        name.as_bytes(),
        &[],
        key_bits.into(),
        &mut key,
    )
    .unwrap();
    let mut plain = id.enc_identity.as_bytes().to_vec();
    crypto::aes_cfb_decrypt(&key, &[0; 16], &mut plain).unwrap();
    let size = usize::from(u16::from_be_bytes([plain[0], plain[1]]));
    assert_eq!(
        size,
        plain.len() - 2,
        "the size field is encrypted with the data"
    );
    Some(plain[2..].to_vec())
}

#[test]
fn a_credential_opens_with_the_protector_and_the_name_it_was_made_for() {
    for cipher in [
        SymDefObject::AES_128_CFB,
        SymDefObject::Cipher(SymCipher::AES_256_CFB),
    ] {
        let public = protector(cipher);
        for credential in [&b""[..], b"nonce", &[0xC3; 32]] {
            let (id, secret) =
                make_credential_rng(&public, &name(), credential, &mut Counter(0)).unwrap();
            assert_eq!(id.integrity_hmac.len(), 32);
            assert_eq!(id.enc_identity.len(), 2 + credential.len());
            let opened = activate(&public, &name(), &id, secret.as_bytes());
            assert_eq!(opened.as_deref(), Some(credential));
            // Bound to the name: another object cannot open it.
            let mut other = name();
            other.as_mut_bytes()[5] ^= 1;
            assert_eq!(activate(&public, &other, &id, secret.as_bytes()), None);
        }
    }
}

#[test]
fn the_generator_decides_everything_random() {
    let public = protector(SymDefObject::AES_128_CFB);
    let a = make_credential_rng(&public, &name(), b"x", &mut Counter(0)).unwrap();
    let b = make_credential_rng(&public, &name(), b"x", &mut Counter(0)).unwrap();
    let c = make_credential_rng(&public, &name(), b"x", &mut Counter(9)).unwrap();
    assert_eq!(a, b);
    assert_ne!(a.1, c.1);
    assert_ne!(a.0, c.0);
}

#[test]
fn credentials_longer_than_the_digest_are_refused() {
    let public = protector(SymDefObject::AES_128_CFB);
    assert!(make_credential_rng(&public, &name(), &[1; 32], &mut Counter(0)).is_ok());
    assert!(matches!(
        make_credential_rng(&public, &name(), &[1; 33], &mut Counter(0)),
        Err(KeyError::CredentialTooLarge { size: 33, max: 32 })
    ));
}

#[test]
fn only_storage_keys_with_aes_cfb_protect_credentials() {
    let refused = |public: &Public| {
        matches!(
            make_credential_rng(public, &name(), b"x", &mut Counter(0)),
            Err(KeyError::NotAProtector { .. })
        )
    };
    // Unrestricted decryption key, with a real point.
    let mut decrypt = decryption_key(KeyAlg::EccP256);
    decrypt.key = protector(SymDefObject::AES_128_CFB).key;
    decrypt.object_attributes = decryption_key(KeyAlg::EccP256).object_attributes;
    assert!(refused(&decrypt));
    // A storage key without a symmetric algorithm, or with another mode.
    assert!(refused(&protector(SymDefObject::Null)));
    let ofb = SymDefObject::Cipher(SymCipher {
        algorithm: AlgId::AES,
        key_bits: 128,
        mode: AlgId::OFB,
    });
    assert!(refused(&protector(ofb)));
    // An unsupported name algorithm is a crypto error, not a silent default.
    let mut sm3 = protector(SymDefObject::AES_128_CFB);
    sm3.name_alg = AlgId::SM3_256;
    assert!(matches!(
        make_credential_rng(&sm3, &name(), b"x", &mut Counter(0)),
        Err(KeyError::Crypto(_))
    ));
}

/// The low-range EK templates carry PolicySecret(TPM_RH_ENDORSEMENT); the high-range ones
/// userWithAuth; a key with any other policy and no userWithAuth cannot be authorized.
#[cfg(feature = "ek")]
#[test]
fn the_protector_is_authorized_as_its_template_allows() {
    use super::credential::{protector_auth, ProtectorAuth};
    use crate::ek::EkTemplate;
    for template in EkTemplate::ALL {
        let public = template.public();
        let hash = HashAlg::from_alg_id(public.name_alg).unwrap();
        let expected = match template {
            EkTemplate::L1 | EkTemplate::L2 => ProtectorAuth::EndorsementSecret,
            _ => ProtectorAuth::AuthValue,
        };
        assert_eq!(
            protector_auth(&public, hash).unwrap(),
            expected,
            "{template}"
        );
    }
    let mut other = EkTemplate::L1.public();
    other.auth_policy.as_mut_bytes()[0] ^= 1;
    assert!(matches!(
        protector_auth(&other, HashAlg::Sha256),
        Err(KeyError::UnsupportedPolicy)
    ));
}
