//! Known-answer tests against go-tpm's test vectors (KDFa, KDFe, RSA-OAEP and ECDH labeled
//! encapsulation). Each vector file holds 100 cases and every case must pass.
//!
//! The vectors are vendored in `tests/data/go-tpm/` (source and licence in its README).

use std::path::PathBuf;

use rand_core::{CryptoRng, RngCore};
use rsa::{BigUint, Oaep, RsaPrivateKey};
use serde_json::Value;
use tpm2_wire::crypto::{
    ecc_coordinate_size, ecc_decapsulate, ecc_encapsulate_curve_with, kdfa, kdfe, rsa_encapsulate,
    rsa_encrypt_secret, rsa_secret_hash, EccCurve, HashAlg,
};
use tpm2_wire::wire::AlgId;

const CASES_PER_FILE: usize = 100;

fn vectors(name: &str) -> Vec<Value> {
    // Vendored in the repository (source and licence: tests/data/go-tpm/README.md).
    let path = PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/go-tpm")).join(name);
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("cannot read test vectors {}: {e}", path.display()));
    let cases: Vec<Value> = serde_json::from_str(&text).unwrap();
    assert_eq!(cases.len(), CASES_PER_FILE, "{name}");
    cases
}

fn unhex(s: &str) -> Vec<u8> {
    assert!(s.len() % 2 == 0, "odd hex length");
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

fn field_hex(case: &Value, key: &str) -> Vec<u8> {
    unhex(field_str(case, key))
}

fn field_str<'a>(case: &'a Value, key: &str) -> &'a str {
    case[key]
        .as_str()
        .unwrap_or_else(|| panic!("{key} missing in {}", case["Name"]))
}

fn field_u32(case: &Value, key: &str) -> u32 {
    u32::try_from(case[key].as_u64().unwrap()).unwrap()
}

fn hash_alg(id: u16) -> HashAlg {
    HashAlg::from_alg_id(AlgId(id)).unwrap()
}

type Kdf = fn(
    HashAlg,
    &[u8],
    &[u8],
    &[u8],
    &[u8],
    u32,
    &mut [u8],
) -> Result<(), tpm2_wire::crypto::CryptoError>;

fn check_kdf(file: &str, secret_field: &str, kdf: Kdf) {
    let mut checked = 0;
    for case in vectors(file) {
        let name = field_str(&case, "Name");
        let alg = hash_alg(field_u32(&case, "HashAlg") as u16);
        let bits = field_u32(&case, "Bits");
        let expected = field_hex(&case, "Result");
        let mut out = vec![0u8; expected.len()];
        kdf(
            alg,
            &field_hex(&case, secret_field),
            field_str(&case, "Label").as_bytes(),
            &field_hex(&case, "ContextU"),
            &field_hex(&case, "ContextV"),
            bits,
            &mut out,
        )
        .unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(out, expected, "{name}");
        checked += 1;
    }
    assert_eq!(checked, CASES_PER_FILE);
}

#[test]
fn kdfa_matches_all_go_tpm_vectors() {
    check_kdf("kdfa.json", "Key", kdfa);
}

#[test]
fn kdfe_matches_all_go_tpm_vectors() {
    check_kdf("kdfe.json", "Z", kdfe);
}

/// A minimal reader for the handful of TPM structures in the vectors. The library's own
/// TPMT_PUBLIC type is developed separately; this walks only as far as the tests need.
struct Cursor<'a>(&'a [u8]);

impl<'a> Cursor<'a> {
    fn take(&mut self, n: usize) -> &'a [u8] {
        let (head, tail) = self.0.split_at(n);
        self.0 = tail;
        head
    }
    fn u16(&mut self) -> u16 {
        u16::from_be_bytes(self.take(2).try_into().unwrap())
    }
    fn u32(&mut self) -> u32 {
        u32::from_be_bytes(self.take(4).try_into().unwrap())
    }
    fn tpm2b(&mut self) -> &'a [u8] {
        let len = usize::from(self.u16());
        self.take(len)
    }
    fn finish(&self) {
        assert!(self.0.is_empty(), "{} trailing bytes", self.0.len());
    }
}

const ALG_NULL: u16 = 0x0010;
const ALG_RSA: u16 = 0x0001;
const ALG_ECC: u16 = 0x0023;
const ALG_RSAES: u16 = 0x0015;
const ALG_ECDAA: u16 = 0x001a;

struct PublicHeader {
    name_alg: HashAlg,
    scheme: AlgId,
    scheme_hash: AlgId,
}

/// TPMT_PUBLIC up to the end of the parameters common to RSA and ECC: type, nameAlg,
/// objectAttributes, authPolicy, then the TPMT_SYM_DEF_OBJECT and the key's scheme.
fn public_header(r: &mut Cursor<'_>, expected_type: u16) -> PublicHeader {
    assert_eq!(r.u16(), expected_type, "key type");
    let name_alg = hash_alg(r.u16());
    let _attributes = r.u32();
    let _auth_policy = r.tpm2b();
    // Restricted keys carry AES-CFB (keyBits, mode); unrestricted ones TPM_ALG_NULL, no details.
    if r.u16() != ALG_NULL {
        let _key_bits = r.u16();
        let _mode = r.u16();
    }
    // Schemes carry a hash algorithm, except RSAES (none) and ECDAA (hash and count).
    let scheme = r.u16();
    let scheme_hash = match scheme {
        ALG_NULL | ALG_RSAES => ALG_NULL,
        ALG_ECDAA => {
            let hash = r.u16();
            let _count = r.u16();
            hash
        }
        _ => r.u16(),
    };
    PublicHeader {
        name_alg,
        scheme: AlgId(scheme),
        scheme_hash: AlgId(scheme_hash),
    }
}

struct RsaPublic {
    /// The hash OAEP uses for this key's secrets.
    oaep_hash: HashAlg,
    exponent: u32,
    modulus: Vec<u8>,
}

fn parse_rsa_public(bytes: &[u8]) -> RsaPublic {
    let mut r = Cursor(bytes);
    let header = public_header(&mut r, ALG_RSA);
    let oaep_hash = rsa_secret_hash(header.name_alg, header.scheme, header.scheme_hash).unwrap();
    let key_bits = usize::from(r.u16());
    let exponent = r.u32();
    let modulus = r.tpm2b().to_vec();
    r.finish();
    assert_eq!(modulus.len() * 8, key_bits);
    RsaPublic {
        oaep_hash,
        exponent,
        modulus,
    }
}

struct EccPublic {
    name_alg: HashAlg,
    curve: EccCurve,
    x: Vec<u8>,
    y: Vec<u8>,
}

fn parse_ecc_public(bytes: &[u8]) -> EccPublic {
    let mut r = Cursor(bytes);
    // Secrets to ECC keys always use nameAlg, whatever hash the key's own scheme names.
    let name_alg = public_header(&mut r, ALG_ECC).name_alg;
    let curve = EccCurve(r.u16());
    ecc_coordinate_size(curve).unwrap();
    if r.u16() != ALG_NULL {
        let _kdf_hash = r.u16();
    }
    let x = r.tpm2b().to_vec();
    let y = r.tpm2b().to_vec();
    r.finish();
    EccPublic {
        name_alg,
        curve,
        x,
        y,
    }
}

/// TPMT_SENSITIVE: type, authValue, seedValue, then the private part (RSA prime p, ECC d).
fn parse_sensitive(bytes: &[u8], expected_type: u16) -> Vec<u8> {
    let mut r = Cursor(bytes);
    assert_eq!(r.u16(), expected_type, "sensitive type");
    let _auth_value = r.tpm2b();
    let _seed_value = r.tpm2b();
    let private = r.tpm2b().to_vec();
    r.finish();
    private
}

/// Hands out the vector's OAEP seed, and fails the test if OAEP asks for anything else.
struct FixedSeed<'a> {
    seed: &'a [u8],
    used: bool,
}

impl RngCore for FixedSeed<'_> {
    fn next_u32(&mut self) -> u32 {
        panic!("OAEP asked for a u32")
    }
    fn next_u64(&mut self) -> u64 {
        panic!("OAEP asked for a u64")
    }
    fn fill_bytes(&mut self, dest: &mut [u8]) {
        assert!(!self.used, "OAEP asked for a second seed");
        assert_eq!(dest.len(), self.seed.len(), "OAEP seed length");
        dest.copy_from_slice(self.seed);
        self.used = true;
    }
    fn try_fill_bytes(&mut self, dest: &mut [u8]) -> Result<(), rand_core::Error> {
        self.fill_bytes(dest);
        Ok(())
    }
}
impl CryptoRng for FixedSeed<'_> {}

fn oaep(alg: HashAlg, label: &str) -> Oaep {
    let label = format!("{label}\0");
    match alg {
        HashAlg::Sha1 => Oaep::new_with_label::<sha1::Sha1, _>(label),
        HashAlg::Sha256 => Oaep::new_with_label::<sha2::Sha256, _>(label),
        HashAlg::Sha384 => Oaep::new_with_label::<sha2::Sha384, _>(label),
        HashAlg::Sha512 => Oaep::new_with_label::<sha2::Sha512, _>(label),
    }
}

#[test]
fn rsa_encapsulation_matches_all_go_tpm_vectors() {
    let mut checked = 0;
    for case in vectors("rsa_labeled_encaps.json") {
        let name = field_str(&case, "Name");
        let label = field_str(&case, "Label");
        let public = parse_rsa_public(&field_hex(&case, "PublicKey"));
        let prime = parse_sensitive(&field_hex(&case, "PrivateKey"), ALG_RSA);
        let secret = field_hex(&case, "Secret");
        let ciphertext = field_hex(&case, "Ciphertext");
        let seed = field_hex(&case, "OAEPSalt");
        assert_eq!(secret.len(), public.oaep_hash.digest_size(), "{name}");

        // Encrypting with the vector's OAEP seed reproduces its ciphertext byte for byte.
        let mut rng = FixedSeed {
            seed: &seed,
            used: false,
        };
        let ours = rsa_encrypt_secret(
            public.oaep_hash,
            &public.modulus,
            public.exponent,
            label.as_bytes(),
            &secret,
            &mut rng,
        )
        .unwrap_or_else(|e| panic!("{name}: {e}"));
        assert!(rng.used, "{name}: OAEP seed unused");
        assert_eq!(ours, ciphertext, "{name}");

        // The private key decrypts the vector's ciphertext (and a fresh encapsulation of ours)
        // to the secret: both directions agree on hash, label and NUL.
        let n = BigUint::from_bytes_be(&public.modulus);
        let p = BigUint::from_bytes_be(&prime);
        let q = &n / &p;
        assert_eq!(&p * &q, n, "{name}: p does not divide n");
        let e = match public.exponent {
            0 => 65537u32,
            e => e,
        };
        let private = RsaPrivateKey::from_p_q(p, q, BigUint::from(e)).unwrap();
        let decrypted = private
            .decrypt(oaep(public.oaep_hash, label), &ciphertext)
            .unwrap();
        assert_eq!(decrypted, secret, "{name}");

        let fresh = rsa_encapsulate(
            public.oaep_hash,
            &public.modulus,
            public.exponent,
            label.as_bytes(),
            secret.len(),
        )
        .unwrap();
        assert_eq!(fresh.ciphertext.len(), public.modulus.len());
        let decrypted = private
            .decrypt(oaep(public.oaep_hash, label), &fresh.ciphertext)
            .unwrap();
        assert_eq!(decrypted, fresh.secret.as_bytes(), "{name}");
        checked += 1;
    }
    assert_eq!(checked, CASES_PER_FILE);
}

#[test]
fn ecc_encapsulation_matches_all_go_tpm_vectors() {
    let mut per_curve = [0usize; 3];
    for case in vectors("ecc_labeled_encaps.json") {
        let name = field_str(&case, "Name");
        let label = field_str(&case, "Label").as_bytes();
        let public = parse_ecc_public(&field_hex(&case, "PublicKey"));
        let private = parse_sensitive(&field_hex(&case, "PrivateKey"), ALG_ECC);
        let ephemeral = field_hex(&case, "EphemeralPrivate");
        let secret = field_hex(&case, "Secret");
        let ciphertext = field_hex(&case, "Ciphertext");

        let ours = ecc_encapsulate_curve_with(
            public.curve,
            public.name_alg,
            &ephemeral,
            &public.x,
            &public.y,
            label,
        )
        .unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(ours.secret.as_bytes(), secret, "{name}");
        assert_eq!(ours.ciphertext, ciphertext, "{name}");

        if public.curve == EccCurve::NIST_P256 {
            // The P-256 entry point the session engine uses gives the same answer.
            let p256 = ecc_encapsulate_curve_with(
                EccCurve::NIST_P256,
                public.name_alg,
                &ephemeral,
                &public.x,
                &public.y,
                label,
            )
            .unwrap();
            assert_eq!(p256.secret.as_bytes(), secret, "{name}");
            assert_eq!(p256.ciphertext, ciphertext, "{name}");
        }

        let recovered =
            ecc_decapsulate(public.curve, public.name_alg, &private, &ciphertext, label)
                .unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(recovered.as_bytes(), secret, "{name}");

        per_curve[match public.curve {
            EccCurve::NIST_P256 => 0,
            EccCurve::NIST_P384 => 1,
            EccCurve::NIST_P521 => 2,
            other => panic!("{name}: curve {other}"),
        }] += 1;
    }
    // Every case ran, none skipped; the file covers all three NIST curves.
    assert_eq!(per_curve.iter().sum::<usize>(), CASES_PER_FILE);
    assert!(per_curve.iter().all(|&n| n > 0), "{per_curve:?}");
}
