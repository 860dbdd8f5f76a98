use p256::elliptic_curve::sec1::ToEncodedPoint;

use super::*;

/// tpm2-tools' spellings, matched exactly as it does (`strcmp`).
#[test]
fn hash_names_are_the_tpm2_tools_spellings() {
    assert_eq!(
        HashAlg::ALL.map(HashAlg::name),
        ["sha1", "sha256", "sha384", "sha512"]
    );
    for other in ["SHA256", "sha-256", "sha3_256", "sm3_256", ""] {
        assert_eq!(HashAlg::from_name(other), None, "{other}");
    }
}

fn unhex(s: &str) -> Vec<u8> {
    let s: String = s.chars().filter(|c| !c.is_whitespace()).collect();
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

#[test]
fn hash_ids_and_sizes_round_trip() {
    for alg in HashAlg::ALL {
        assert_eq!(HashAlg::from_alg_id(alg.alg_id()).unwrap(), alg);
        assert_eq!(HashAlg::from_name(alg.name()), Some(alg));
        assert_eq!(hash(alg, &[b""]).len(), alg.digest_size());
    }
    assert!(matches!(
        HashAlg::from_alg_id(AlgId::SM3_256),
        Err(CryptoError::UnsupportedHash(AlgId::SM3_256))
    ));
}

#[test]
fn sha_of_abc_matches_fips_180_examples() {
    let expected = [
        (HashAlg::Sha1, "a9993e364706816aba3e25717850c26c9cd0d89d"),
        (
            HashAlg::Sha256,
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
        ),
        (
            HashAlg::Sha384,
            "cb00753f45a35e8bb5a03d699ac65007272c32ab0eded1631a8b605a43ff5bed\
             8086072ba1e7cc2358baeca134c825a7",
        ),
        (
            HashAlg::Sha512,
            "ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a\
             2192992a274fc1a836ba3c23a3feebbd454d4423643ce80e2a9ac94fa54ca49f",
        ),
    ];
    for (alg, hex) in expected {
        // Split input exercises streaming.
        assert_eq!(
            hash(alg, &[b"a", b"", b"bc"]).as_bytes(),
            unhex(hex),
            "{alg:?}"
        );
        let mut h = Hasher::new(alg);
        h.update(b"ab");
        h.update(b"c");
        assert_eq!(h.finalize().as_bytes(), unhex(hex), "{alg:?}");
    }
}

#[test]
fn hmac_matches_rfc_4231_case_2_and_rfc_2202() {
    // key "Jefe", data "what do ya want for nothing?"
    let expected = [
        (HashAlg::Sha1, "effcdf6ae5eb2fa2d27416d5f184df9c259a7c79"),
        (
            HashAlg::Sha256,
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843",
        ),
        (
            HashAlg::Sha384,
            "af45d2e376484031617f78d2b58a6b1b9c7ef464f5a01b47e42ec3736322445e\
             8e2240ca5e69e2c78b3239ecfab21649",
        ),
        (
            HashAlg::Sha512,
            "164b7a7bfcf819e2e395fbe73b56e0a387bd64222e831fd610270cd7ea250554\
             9758bf75c05a994a6d034f65f8f0e6fdcaeab1a34d4a6b4b636e070a38bce737",
        ),
    ];
    for (alg, hex) in expected {
        let mac = hmac(alg, b"Jefe", &[b"what do ya ", b"want for nothing?"]);
        assert_eq!(mac.as_bytes(), unhex(hex), "{alg:?}");

        let mut ctx = HmacCtx::new(alg, b"Jefe");
        ctx.update(b"what do ya want for nothing?");
        assert!(ctx.clone().verify(&unhex(hex)));
        let mut truncated = unhex(hex);
        truncated.pop();
        assert!(!ctx.verify(&truncated), "shorter tag must not verify");
    }
}

#[test]
fn hmac_long_key_is_hashed_like_rfc_4231_case_6() {
    let key = [0xaa; 131];
    let mac = hmac(
        HashAlg::Sha256,
        &key,
        &[b"Test Using Larger Than Block-Size Key - Hash Key First"],
    );
    assert_eq!(
        mac.as_bytes(),
        unhex("60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54")
    );
}

const SP800_38A_PLAINTEXT: &str =
    "6bc1bee22e409f96e93d7e117393172a ae2d8a571e03ac9c9eb76fac45af8e51
     30c81c46a35ce411e5fbc1191a0a52ef f69f2445df4f9b17ad2b417be66c3710";
const SP800_38A_IV: [u8; 16] = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15];

#[test]
fn aes_cfb128_matches_sp800_38a_f_3_13_and_f_3_17() {
    let cases = [
        (
            "2b7e151628aed2a6abf7158809cf4f3c",
            "3b3fd92eb72dad20333449f8e83cfb4a c8a64537a0b3a93fcde3cdad9f1ce58b
             26751f67a3cbb140b1808cf187a4f4df c04b05357c5d1c0eeac4c66f9ff7f2e6",
        ),
        (
            "603deb1015ca71be2b73aef0857d77811f352c073b6108d72d9810a30914dff4",
            "dc7e84bfda79164b7ecd8486985d3860 39ffed143b28b1c832113c6331e5407b
             df10132415e54b92a13ed0a8267ae2f9 75a385741ab9cef82031623d55b1e471",
        ),
    ];
    for (key, ciphertext) in cases {
        let key = unhex(key);
        let mut data = unhex(SP800_38A_PLAINTEXT);
        aes_cfb_encrypt(&key, &SP800_38A_IV, &mut data).unwrap();
        assert_eq!(data, unhex(ciphertext));
        aes_cfb_decrypt(&key, &SP800_38A_IV, &mut data).unwrap();
        assert_eq!(data, unhex(SP800_38A_PLAINTEXT));

        // A partial last block is the prefix of the full-block result (CFB is a stream mode).
        let mut partial = unhex(SP800_38A_PLAINTEXT)[..37].to_vec();
        aes_cfb_encrypt(&key, &SP800_38A_IV, &mut partial).unwrap();
        assert_eq!(partial, unhex(ciphertext)[..37]);
    }
}

#[test]
fn aes_cfb_rejects_bad_key_lengths() {
    for len in [0, 8, 15, 17, 31, 33, 64] {
        let mut data = [0u8; 4];
        let err = aes_cfb_encrypt(&vec![0; len], &[0; 16], &mut data).unwrap_err();
        assert!(
            matches!(err, CryptoError::UnsupportedCipher { key_bits, .. } if key_bits == len * 8),
            "{err}"
        );
    }
}

#[test]
fn kdfa_rejects_wrong_output_buffer() {
    let mut out = [0u8; 16];
    let err = kdfa(HashAlg::Sha256, b"k", b"ATH", b"", b"", 129, &mut out).unwrap_err();
    assert!(matches!(
        err,
        CryptoError::BadLength {
            expected: 17,
            actual: 16,
            ..
        }
    ));
    let err = kdfe(HashAlg::Sha256, b"z", b"ATH", b"", b"", 120, &mut out).unwrap_err();
    assert!(matches!(err, CryptoError::BadLength { expected: 15, .. }));
}

#[test]
fn label_with_its_nul_derives_the_same_as_without() {
    let mut a = [0u8; 40];
    let mut b = [0u8; 40];
    kdfa(HashAlg::Sha1, b"key", b"XOR", b"u", b"v", 320, &mut a).unwrap();
    kdfa(HashAlg::Sha1, b"key", b"XOR\0", b"u", b"v", 320, &mut b).unwrap();
    assert_eq!(a, b);
    kdfe(HashAlg::Sha384, b"z", b"SECRET", b"u", b"v", 320, &mut a).unwrap();
    kdfe(HashAlg::Sha384, b"z", b"SECRET\0", b"u", b"v", 320, &mut b).unwrap();
    assert_eq!(a, b);
}

#[test]
fn kdfa_first_block_is_the_spec_hmac() {
    // HMAC(key, counter=1 ‖ "ATH" ‖ 0 ‖ u ‖ v ‖ bits=256): one full block for SHA-256.
    let mut out = [0u8; 32];
    kdfa(
        HashAlg::Sha256,
        b"key",
        b"ATH",
        b"nonce-u",
        b"nonce-v",
        256,
        &mut out,
    )
    .unwrap();
    let block = hmac(
        HashAlg::Sha256,
        b"key",
        &[
            &1u32.to_be_bytes(),
            b"ATH\0",
            b"nonce-u",
            b"nonce-v",
            &256u32.to_be_bytes(),
        ],
    );
    assert_eq!(out, block.as_bytes());
}

#[test]
fn param_cfb_is_aes_cfb_under_kdfa_key_and_iv() {
    let session_value = b"session-key-and-auth";
    let (newer, older) = (b"nonce-newer".as_slice(), b"nonce-older".as_slice());
    let plaintext = b"parameter bytes of any length, not block aligned".to_vec();
    let mut material = [0u8; 48];
    kdfa(
        HashAlg::Sha256,
        session_value,
        b"CFB",
        newer,
        older,
        384,
        &mut material,
    )
    .unwrap();
    let mut expected = plaintext.clone();
    let iv: [u8; 16] = material[32..].try_into().unwrap();
    aes_cfb_encrypt(&material[..32], &iv, &mut expected).unwrap();

    let cfb = |direction, key_bits, data: &mut Vec<u8>| {
        param_cfb(
            direction,
            HashAlg::Sha256,
            key_bits,
            session_value,
            newer,
            older,
            data,
        )
    };
    let mut data = plaintext.clone();
    cfb(Direction::Encrypt, 256, &mut data).unwrap();
    assert_eq!(data, expected);
    cfb(Direction::Decrypt, 256, &mut data).unwrap();
    assert_eq!(data, plaintext);

    assert!(matches!(
        cfb(Direction::Encrypt, 64, &mut data),
        Err(CryptoError::UnsupportedCipher { key_bits: 64, .. })
    ));
}

#[test]
fn xor_is_data_xor_kdfa_mask() {
    let data = b"0123456789abcdefghijklmnopqrstuvwxyz0123456789".to_vec();
    let mut mask = vec![0u8; data.len()];
    let bits = (data.len() * 8) as u32;
    kdfa(HashAlg::Sha1, b"k", b"XOR", b"new", b"old", bits, &mut mask).unwrap();
    let mut out = data.clone();
    xor_obfuscate(HashAlg::Sha1, b"k", b"new", b"old", &mut out).unwrap();
    let expected: Vec<u8> = data.iter().zip(&mask).map(|(d, m)| d ^ m).collect();
    assert_eq!(out, expected);
}

#[test]
fn random_fills_and_differs() {
    let mut a = [0u8; 32];
    let mut b = [0u8; 32];
    random(&mut a).unwrap();
    random(&mut b).unwrap();
    assert_ne!(a, b);
}

fn ecc_keypair(curve: EccCurve) -> (Vec<u8>, Vec<u8>, Vec<u8>) {
    // Private scalar from the OS, public point from the curve crate.
    macro_rules! pair {
        ($c:ty) => {{
            let key = p256::elliptic_curve::SecretKey::<$c>::random(&mut rand_core::OsRng);
            let point = key.public_key().to_encoded_point(false);
            (
                key.to_bytes().to_vec(),
                point.x().unwrap().to_vec(),
                point.y().unwrap().to_vec(),
            )
        }};
    }
    match Curve::from_tpm(curve).unwrap() {
        Curve::P256 => pair!(p256::NistP256),
        Curve::P384 => pair!(p384::NistP384),
        Curve::P521 => pair!(p521::NistP521),
    }
}

#[test]
fn ecc_encapsulation_round_trips_on_every_curve() {
    for curve in [
        EccCurve::NIST_P256,
        EccCurve::NIST_P384,
        EccCurve::NIST_P521,
    ] {
        assert!(Curve::from_tpm(curve).is_ok(), "{curve}");
        let (d, x, y) = ecc_keypair(curve);
        for alg in HashAlg::ALL {
            let enc = ecc_encapsulate_curve(curve, alg, &x, &y, b"SECRET").unwrap();
            assert_eq!(enc.secret.len(), alg.digest_size());
            let size = ecc_coordinate_size(curve).unwrap();
            assert_eq!(enc.ciphertext.len(), 4 + 2 * size);
            assert_eq!(enc.ciphertext[..2], (size as u16).to_be_bytes());
            let secret = ecc_decapsulate(curve, alg, &d, &enc.ciphertext, b"SECRET").unwrap();
            assert_eq!(secret, enc.secret, "{curve:?} {alg:?}");
            let other = ecc_decapsulate(curve, alg, &d, &enc.ciphertext, b"DUPLICATE").unwrap();
            assert_ne!(other, enc.secret, "label must bind the secret");
        }
    }
    assert!(matches!(
        Curve::from_tpm(EccCurve::BN_P256),
        Err(CryptoError::UnsupportedCurve(0x0010))
    ));
    // A curve the library does not implement is refused by every entry point, not mishandled.
    let (d, x, y) = ecc_keypair(EccCurve::NIST_P256);
    assert!(matches!(
        ecc_encapsulate_curve(EccCurve::BN_P256, HashAlg::Sha256, &x, &y, b"SECRET"),
        Err(CryptoError::UnsupportedCurve(0x0010))
    ));
    let enc =
        ecc_encapsulate_curve(EccCurve::NIST_P256, HashAlg::Sha256, &x, &y, b"SECRET").unwrap();
    assert!(matches!(
        ecc_decapsulate(
            EccCurve::SM2_P256,
            HashAlg::Sha256,
            &d,
            &enc.ciphertext,
            b"SECRET"
        ),
        Err(CryptoError::UnsupportedCurve(0x0020))
    ));
    assert!(matches!(
        ecc_coordinate_size(EccCurve::NONE),
        Err(CryptoError::UnsupportedCurve(0))
    ));
}

#[test]
fn ecc_encapsulation_refuses_points_off_the_curve() {
    let (_, x, mut y) = ecc_keypair(EccCurve::NIST_P256);
    y[31] ^= 1;
    let err =
        ecc_encapsulate_curve(EccCurve::NIST_P256, HashAlg::Sha256, &x, &y, b"SECRET").unwrap_err();
    assert!(matches!(err, CryptoError::BadKey { .. }), "{err}");
    let err = ecc_encapsulate_curve(
        EccCurve::NIST_P256,
        HashAlg::Sha256,
        &[1; 33],
        &y,
        b"SECRET",
    )
    .unwrap_err();
    assert!(matches!(err, CryptoError::BadKey { .. }), "{err}");
}

#[test]
fn ecc_decapsulation_refuses_malformed_points() {
    let (d, x, y) = ecc_keypair(EccCurve::NIST_P256);
    let enc =
        ecc_encapsulate_curve(EccCurve::NIST_P256, HashAlg::Sha256, &x, &y, b"SECRET").unwrap();
    let c = &enc.ciphertext;
    let curve = EccCurve::NIST_P256;
    for bad in [
        &c[..c.len() - 1],
        &[c.as_slice(), &[0]].concat(),
        &c[..1],
        &[0xff; 4],
    ] {
        let err = ecc_decapsulate(curve, HashAlg::Sha256, &d, bad, b"SECRET").unwrap_err();
        assert!(matches!(err, CryptoError::BadKey { .. }), "{err}");
    }
}

#[test]
fn encapsulated_secret_is_not_printed() {
    let (_, x, y) = ecc_keypair(EccCurve::NIST_P256);
    let enc =
        ecc_encapsulate_curve(EccCurve::NIST_P256, HashAlg::Sha256, &x, &y, b"SECRET").unwrap();
    let shown = format!("{enc:?}");
    let secret_hex: String = enc
        .secret
        .as_bytes()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    assert!(!shown.contains(&secret_hex), "{shown}");
    assert!(shown.contains("redacted"));
}

#[test]
fn rsa_refuses_weak_or_malformed_moduli() {
    let mut small = vec![0xff; 64];
    small[63] |= 1;
    let err = rsa_encapsulate(HashAlg::Sha256, &small, 0, b"SECRET", 32).unwrap_err();
    assert!(matches!(err, CryptoError::BadKey { .. }), "{err}");
    let even = vec![0xfe; 256];
    let err = rsa_encapsulate(HashAlg::Sha256, &even, 0, b"SECRET", 32).unwrap_err();
    assert!(matches!(err, CryptoError::BadKey { .. }), "{err}");
    let huge = vec![0xff; 513];
    let err = rsa_encapsulate(HashAlg::Sha256, &huge, 0, b"SECRET", 32).unwrap_err();
    assert!(matches!(err, CryptoError::TooLarge { .. }), "{err}");
    let odd = vec![0xff; 256];
    let err = rsa_encapsulate(HashAlg::Sha256, &odd, 0, b"SECRET", 65).unwrap_err();
    assert!(matches!(err, CryptoError::TooLarge { .. }), "{err}");
}

#[test]
fn a_secret_recipient_is_checked_once_and_encapsulates_to_its_key_each_time() {
    for curve in [
        EccCurve::NIST_P256,
        EccCurve::NIST_P384,
        EccCurve::NIST_P521,
    ] {
        let (d, x, y) = ecc_keypair(curve);
        let recipient = SecretRecipient::ecc(curve, &x, &y).unwrap();
        let first = recipient.encapsulate(HashAlg::Sha256, b"SECRET").unwrap();
        let second = recipient.encapsulate(HashAlg::Sha256, b"SECRET").unwrap();
        assert_ne!(
            first.secret.as_bytes(),
            second.secret.as_bytes(),
            "{curve:?}: fresh each time"
        );
        for enc in [first, second] {
            let back =
                ecc_decapsulate(curve, HashAlg::Sha256, &d, &enc.ciphertext, b"SECRET").unwrap();
            assert_eq!(back.as_bytes(), enc.secret.as_bytes(), "{curve:?}");
        }
        let mut off_curve = y.clone();
        *off_curve.last_mut().unwrap() ^= 1;
        assert!(matches!(
            SecretRecipient::ecc(curve, &x, &off_curve),
            Err(CryptoError::BadKey { .. })
        ));
    }
    assert!(matches!(
        SecretRecipient::ecc(EccCurve::BN_P256, &[1; 32], &[2; 32]),
        Err(CryptoError::UnsupportedCurve(0x0010))
    ));
}

/// A deterministic generator: two with the same state give the same bytes, so a test can
/// replay the ephemeral key an encapsulation drew.
#[derive(Clone)]
struct Replayable(u64);

impl rand_core::RngCore for Replayable {
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
impl rand_core::CryptoRng for Replayable {}

/// Every encapsulation to one kept recipient (the first multiplies plainly, the second builds
/// the combs, later ones use them) gives what the curve crate's own ECDH and KDFe give for the
/// same ephemeral key: the secret and the marshalled ephemeral point, byte for byte.
#[test]
fn encapsulations_to_a_kept_recipient_equal_the_curve_crates_diffie_hellman() {
    use p256::elliptic_curve::ecdh::diffie_hellman;
    use p256::elliptic_curve::{NonZeroScalar, PublicKey};
    macro_rules! check {
        ($c:ty, $curve:expr) => {{
            let (_, x, y) = ecc_keypair($curve);
            let peer = PublicKey::<$c>::from_sec1_bytes(&[&[4u8][..], &x, &y].concat()).unwrap();
            let recipient = SecretRecipient::ecc($curve, &x, &y).unwrap();
            let mut rng = Replayable(0x5eed ^ u64::from($curve.0));
            for (round, alg) in HashAlg::ALL.into_iter().cycle().take(6).enumerate() {
                let mut replay = rng.clone();
                let ours = recipient.encapsulate_rng(alg, b"SECRET", &mut rng).unwrap();
                let ephemeral = NonZeroScalar::<$c>::random(&mut replay);
                let shared = diffie_hellman(ephemeral, peer.as_affine());
                let point = PublicKey::<$c>::from_secret_scalar(&ephemeral).to_encoded_point(false);
                let (ex, ey) = (point.x().unwrap(), point.y().unwrap());
                let mut secret = vec![0u8; alg.digest_size()];
                kdfe(
                    alg,
                    shared.raw_secret_bytes(),
                    b"SECRET",
                    ex,
                    &x,
                    (secret.len() * 8) as u32,
                    &mut secret,
                )
                .unwrap();
                assert_eq!(ours.secret.as_bytes(), secret, "{:?} round {round}", $curve);
                let mut ciphertext = Vec::new();
                for coordinate in [ex, ey] {
                    ciphertext.extend_from_slice(&(coordinate.len() as u16).to_be_bytes());
                    ciphertext.extend_from_slice(coordinate);
                }
                assert_eq!(ours.ciphertext, ciphertext, "{:?} round {round}", $curve);
            }
        }};
    }
    check!(p256::NistP256, EccCurve::NIST_P256);
    check!(p384::NistP384, EccCurve::NIST_P384);
    check!(p521::NistP521, EccCurve::NIST_P521);
}
