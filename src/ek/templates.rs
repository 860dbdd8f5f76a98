//! The EK templates of the TCG EK Credential Profile for TPM Family 2.0 (version 2.5, section
//! 2.2.1.4 and 2.2.1.5): the low-range templates L-1 and L-2 and the high-range templates.
//!
//! The manufacturer certifies the key that TPM2_CreatePrimary makes from one of these templates
//! under the endorsement hierarchy; the same template gives the same key for as long as the
//! endorsement primary seed lives, so recreating it is how the certified key is reached.
//!
//! Every template carries the EK policy: PolicySecret(TPM_RH_ENDORSEMENT) (policy A) in the low
//! range, PolicyOR(policy A, policy C) (policy B, where C is PolicyAuthorizeNV on the index the
//! profile reserves for it) in the high range. Using the key needs that policy, but salting a
//! session to it does not: TPM2_StartAuthSession does not authorize `tpmKey`.

use crate::wire::{
    AlgId, Digest, EccParameter, EccParms, EccPoint, EccScheme, Handle, KdfScheme,
    ObjectAttributes, Public, PublicKey, PublicKeyRsa, RsaParms, RsaScheme, SymCipher,
    SymDefObject,
};

/// Policy A with SHA-256: PolicySecret(TPM_RH_ENDORSEMENT), the low-range EK policy.
pub const POLICY_A_SHA256: [u8; 32] =
    hex32(*b"837197674484b3f81a90cc8d46a5d724fd52d76e06520b64f2a1da1b331469aa");

/// Policy B with SHA-256 (templates H-1 and H-2).
pub const POLICY_B_SHA256: [u8; 32] =
    hex32(*b"ca3d0a99a2b93906f7a3342414efcfb3a385d44cd1fd459089d19b5071c0b7a0");

/// Policy B with SHA-384 (templates H-3, H-6 and H-7).
pub const POLICY_B_SHA384: [u8; 48] = hex48(*b"b26e7d28d11a50bc53d882bcf5fd3a1a074148bb35d3b4e4cb1c0ad9bde419cacb47ba09699646150f9fc000f3f80e12");

/// Policy B with SHA-512 (template H-4).
pub const POLICY_B_SHA512: [u8; 64] = hex64(*b"b8221ca69e8550a4914de3faa6a18c072cc01208073a928d5d66d59ef79e49a429c41a6b269571d57edb25fbdb1838425608b413cd616a5f6db5b6071af99bea");

const fn nibble(c: u8) -> u8 {
    match c {
        b'0'..=b'9' => c - b'0',
        b'a'..=b'f' => c - b'a' + 10,
        // Only reached while evaluating the constants above, which are all lowercase hex.
        _ => panic!("not a lowercase hex digit"),
    }
}

macro_rules! hex_const_fn {
    ($name:ident, $n:literal) => {
        const fn $name(s: [u8; $n * 2]) -> [u8; $n] {
            let mut out = [0u8; $n];
            let mut i = 0;
            while i < $n {
                out[i] = nibble(s[2 * i]) << 4 | nibble(s[2 * i + 1]);
                i += 1;
            }
            out
        }
    };
}
hex_const_fn!(hex32, 32);
hex_const_fn!(hex48, 48);
hex_const_fn!(hex64, 64);

/// Which key algorithm the EK has: picks the certificate (and so the template) to use.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum EkAlg {
    /// An RSA EK: template L-1, H-1, H-6 or H-7, whichever certificate the TPM holds first.
    Rsa,
    /// An ECC EK: template L-2, H-2, H-3 or H-4, whichever certificate the TPM holds first.
    Ecc,
}

impl EkAlg {
    /// The templates of this algorithm, in the order their certificates are looked for.
    pub fn templates(self) -> &'static [EkTemplate] {
        match self {
            EkAlg::Rsa => &[
                EkTemplate::L1,
                EkTemplate::H1,
                EkTemplate::H6,
                EkTemplate::H7,
            ],
            EkAlg::Ecc => &[
                EkTemplate::L2,
                EkTemplate::H2,
                EkTemplate::H3,
                EkTemplate::H4,
            ],
        }
    }
}

impl core::fmt::Display for EkAlg {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(match self {
            EkAlg::Rsa => "RSA",
            EkAlg::Ecc => "ECC",
        })
    }
}

/// One EK template of the TCG EK Credential Profile, with the NV index of its certificate.
///
/// H-5 (ECC SM2-P256 with SM3 and SM4) is left out: the library implements neither SM3 nor
/// SM2, so it could not salt a session to such a key.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum EkTemplate {
    /// L-1: RSA-2048, SHA-256, AES-128-CFB, policy A, unique 256 zero bytes.
    L1,
    /// L-2: ECC NIST P-256, SHA-256, AES-128-CFB, policy A, unique x and y 32 zero bytes each.
    L2,
    /// H-1: RSA-2048, SHA-256, AES-128-CFB, policy B, userWithAuth, empty unique.
    H1,
    /// H-2: ECC NIST P-256, SHA-256, AES-128-CFB, policy B, userWithAuth, empty unique.
    H2,
    /// H-3: ECC NIST P-384, SHA-384, AES-256-CFB, policy B, userWithAuth, empty unique.
    H3,
    /// H-4: ECC NIST P-521, SHA-512, AES-256-CFB, policy B, userWithAuth, empty unique.
    H4,
    /// H-6: RSA-3072, SHA-384, AES-256-CFB, policy B, userWithAuth, empty unique.
    H6,
    /// H-7: RSA-4096, SHA-384, AES-256-CFB, policy B, userWithAuth, empty unique.
    H7,
}

/// fixedTPM|fixedParent|sensitiveDataOrigin|adminWithPolicy|restricted|decrypt (0x000300b2).
const LOW_ATTRIBUTES: ObjectAttributes = ObjectAttributes(0x0003_00b2);
/// The low-range attributes and userWithAuth (0x000300f2).
const HIGH_ATTRIBUTES: ObjectAttributes = ObjectAttributes(0x0003_00f2);

impl EkTemplate {
    /// Every supported template, low range first.
    pub const ALL: [EkTemplate; 8] = [
        EkTemplate::L1,
        EkTemplate::L2,
        EkTemplate::H1,
        EkTemplate::H2,
        EkTemplate::H3,
        EkTemplate::H4,
        EkTemplate::H6,
        EkTemplate::H7,
    ];

    /// The profile's name for the template ("L-1", "H-3", ...).
    pub fn label(self) -> &'static str {
        match self {
            EkTemplate::L1 => "L-1",
            EkTemplate::L2 => "L-2",
            EkTemplate::H1 => "H-1",
            EkTemplate::H2 => "H-2",
            EkTemplate::H3 => "H-3",
            EkTemplate::H4 => "H-4",
            EkTemplate::H6 => "H-6",
            EkTemplate::H7 => "H-7",
        }
    }

    /// The key algorithm of the template.
    pub fn alg(self) -> EkAlg {
        match self {
            EkTemplate::L1 | EkTemplate::H1 | EkTemplate::H6 | EkTemplate::H7 => EkAlg::Rsa,
            _ => EkAlg::Ecc,
        }
    }

    /// The NV index where the manufacturer stores the certificate of this template's key.
    pub fn certificate_index(self) -> Handle {
        Handle(match self {
            EkTemplate::L1 => 0x01C0_0002,
            EkTemplate::L2 => 0x01C0_000A,
            EkTemplate::H1 => 0x01C0_0012,
            EkTemplate::H2 => 0x01C0_0014,
            EkTemplate::H3 => 0x01C0_0016,
            EkTemplate::H4 => 0x01C0_0018,
            EkTemplate::H6 => 0x01C0_001C,
            EkTemplate::H7 => 0x01C0_001E,
        })
    }

    /// The template as a TPMT_PUBLIC for TPM2_CreatePrimary under TPM_RH_ENDORSEMENT.
    pub fn public(self) -> Public {
        let aes128 = SymDefObject::Cipher(SymCipher::AES_128_CFB);
        let aes256 = SymDefObject::Cipher(SymCipher::AES_256_CFB);
        // The low range fills unique with zeros of the key's size, the high range leaves it
        // empty: both are part of what the key is derived from.
        match self {
            EkTemplate::L1 => rsa(
                AlgId::SHA256,
                LOW_ATTRIBUTES,
                &POLICY_A_SHA256,
                aes128,
                2048,
                256,
            ),
            EkTemplate::L2 => ecc(
                AlgId::SHA256,
                LOW_ATTRIBUTES,
                &POLICY_A_SHA256,
                aes128,
                crate::wire::EccCurve::NIST_P256,
                32,
            ),
            EkTemplate::H1 => rsa(
                AlgId::SHA256,
                HIGH_ATTRIBUTES,
                &POLICY_B_SHA256,
                aes128,
                2048,
                0,
            ),
            EkTemplate::H2 => ecc(
                AlgId::SHA256,
                HIGH_ATTRIBUTES,
                &POLICY_B_SHA256,
                aes128,
                crate::wire::EccCurve::NIST_P256,
                0,
            ),
            EkTemplate::H3 => ecc(
                AlgId::SHA384,
                HIGH_ATTRIBUTES,
                &POLICY_B_SHA384,
                aes256,
                crate::wire::EccCurve::NIST_P384,
                0,
            ),
            EkTemplate::H4 => ecc(
                AlgId::SHA512,
                HIGH_ATTRIBUTES,
                &POLICY_B_SHA512,
                aes256,
                crate::wire::EccCurve::NIST_P521,
                0,
            ),
            EkTemplate::H6 => rsa(
                AlgId::SHA384,
                HIGH_ATTRIBUTES,
                &POLICY_B_SHA384,
                aes256,
                3072,
                0,
            ),
            EkTemplate::H7 => rsa(
                AlgId::SHA384,
                HIGH_ATTRIBUTES,
                &POLICY_B_SHA384,
                aes256,
                4096,
                0,
            ),
        }
    }
}

impl core::fmt::Display for EkTemplate {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(self.label())
    }
}

fn policy(bytes: &[u8]) -> Digest {
    // Every policy above is a digest of at most 64 bytes.
    Digest::new(bytes).unwrap_or_default()
}

fn rsa(
    name_alg: AlgId,
    attributes: ObjectAttributes,
    auth_policy: &[u8],
    symmetric: SymDefObject,
    key_bits: u16,
    unique_len: usize,
) -> Public {
    Public {
        name_alg,
        object_attributes: attributes,
        auth_policy: policy(auth_policy),
        key: PublicKey::Rsa {
            parameters: RsaParms {
                symmetric,
                scheme: RsaScheme::Null,
                key_bits,
                exponent: 0,
            },
            // At most 256 bytes: fits TPM2B_PUBLIC_KEY_RSA.
            unique: PublicKeyRsa::new(&[0u8; 256][..unique_len]).unwrap_or_default(),
        },
    }
}

fn ecc(
    name_alg: AlgId,
    attributes: ObjectAttributes,
    auth_policy: &[u8],
    symmetric: SymDefObject,
    curve: crate::wire::EccCurve,
    unique_len: usize,
) -> Public {
    let zeros = EccParameter::new(&[0u8; 32][..unique_len]).unwrap_or_default();
    Public {
        name_alg,
        object_attributes: attributes,
        auth_policy: policy(auth_policy),
        key: PublicKey::Ecc {
            parameters: EccParms {
                symmetric,
                scheme: EccScheme::Null,
                curve,
                kdf: KdfScheme::Null,
            },
            unique: EccPoint {
                x: zeros.clone(),
                y: zeros,
            },
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crypto::{hash, HashAlg};
    use crate::wire::{Marshal, Unmarshal};

    /// PolicyUpdate for PolicySecret(TPM_RH_ENDORSEMENT) from an empty digest, empty policyRef.
    fn policy_a(alg: HashAlg) -> Vec<u8> {
        let zero = vec![0u8; alg.digest_size()];
        let inner = hash(
            alg,
            &[
                &zero,
                &0x151u32.to_be_bytes(),
                &0x4000_000Bu32.to_be_bytes(),
            ],
        );
        hash(alg, &[inner.as_bytes()]).as_bytes().to_vec()
    }

    /// PolicyOR(A, C) with C = PolicyAuthorizeNV(the profile's index for `alg`: 0x01C07F01..03,
    /// policywrite|writeall|ppread|ownerread|authread|policyread|no_da|written, auth policy A,
    /// a TPMT_HA of `alg` as its data).
    fn policy_b(alg: HashAlg) -> Vec<u8> {
        let (index, alg_id): (u32, u16) = match alg {
            HashAlg::Sha256 => (0x01C0_7F01, 0x000B),
            HashAlg::Sha384 => (0x01C0_7F02, 0x000C),
            HashAlg::Sha512 => (0x01C0_7F03, 0x000D),
            HashAlg::Sha1 => unreachable!(),
        };
        let a = policy_a(alg);
        let mut nv_public = Vec::new();
        nv_public.extend(index.to_be_bytes());
        nv_public.extend(alg_id.to_be_bytes());
        nv_public.extend(0x220F_1008u32.to_be_bytes());
        nv_public.extend((a.len() as u16).to_be_bytes());
        nv_public.extend(&a);
        nv_public.extend((2 + alg.digest_size() as u16).to_be_bytes());
        let mut nv_name = alg_id.to_be_bytes().to_vec();
        nv_name.extend(hash(alg, &[&nv_public]).as_bytes());
        let zero = vec![0u8; alg.digest_size()];
        let c = hash(alg, &[&zero, &0x192u32.to_be_bytes(), &nv_name]);
        hash(alg, &[&zero, &0x171u32.to_be_bytes(), &a, c.as_bytes()])
            .as_bytes()
            .to_vec()
    }

    /// The policy constants are what the profile's policy commands compute, not copied bytes.
    #[test]
    fn policies_follow_from_their_definition() {
        assert_eq!(policy_a(HashAlg::Sha256), POLICY_A_SHA256);
        assert_eq!(policy_b(HashAlg::Sha256), POLICY_B_SHA256);
        assert_eq!(policy_b(HashAlg::Sha384), POLICY_B_SHA384);
        assert_eq!(policy_b(HashAlg::Sha512), POLICY_B_SHA512);
    }

    #[test]
    fn low_range_templates_match_the_profile() {
        let l1 = EkTemplate::L1.public().to_bytes();
        // type RSA, nameAlg SHA-256, attributes 0x000300b2, policy A, AES-128-CFB, NULL
        // scheme, 2048 bits, default exponent, 256 zero bytes.
        let mut expected = vec![0x00, 0x01, 0x00, 0x0B, 0x00, 0x03, 0x00, 0xB2, 0x00, 0x20];
        expected.extend(POLICY_A_SHA256);
        expected.extend([0x00, 0x06, 0x00, 0x80, 0x00, 0x43, 0x00, 0x10, 0x08, 0x00]);
        expected.extend([0, 0, 0, 0, 0x01, 0x00]);
        expected.extend([0u8; 256]);
        assert_eq!(l1, expected);

        let l2 = EkTemplate::L2.public().to_bytes();
        let mut expected = vec![0x00, 0x23, 0x00, 0x0B, 0x00, 0x03, 0x00, 0xB2, 0x00, 0x20];
        expected.extend(POLICY_A_SHA256);
        expected.extend([
            0x00, 0x06, 0x00, 0x80, 0x00, 0x43, 0x00, 0x10, 0x00, 0x03, 0x00, 0x10,
        ]);
        expected.extend([0x00, 0x20]);
        expected.extend([0u8; 32]);
        expected.extend([0x00, 0x20]);
        expected.extend([0u8; 32]);
        assert_eq!(l2, expected);
    }

    #[test]
    fn high_range_templates_match_the_profile() {
        let h3 = EkTemplate::H3.public().to_bytes();
        let mut expected = vec![0x00, 0x23, 0x00, 0x0C, 0x00, 0x03, 0x00, 0xF2, 0x00, 0x30];
        expected.extend(POLICY_B_SHA384);
        expected.extend([
            0x00, 0x06, 0x01, 0x00, 0x00, 0x43, 0x00, 0x10, 0x00, 0x04, 0x00, 0x10,
        ]);
        expected.extend([0x00, 0x00, 0x00, 0x00]);
        assert_eq!(h3, expected);
        for t in EkTemplate::ALL {
            let p = t.public();
            assert_eq!(Public::from_bytes(&p.to_bytes()).unwrap(), p, "{t}");
            assert!(t.alg().templates().contains(&t), "{t}");
            let policy_len = match p.name_alg {
                AlgId::SHA256 => 32,
                AlgId::SHA384 => 48,
                _ => 64,
            };
            assert_eq!(p.auth_policy.len(), policy_len, "{t}");
        }
        assert_eq!(EkTemplate::H3.certificate_index(), Handle(0x01C0_0016));
        assert_eq!(EkTemplate::L1.certificate_index(), Handle(0x01C0_0002));
    }
}
