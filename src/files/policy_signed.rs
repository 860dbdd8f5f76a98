//! tpm2_policysigned's files: the data a key signs for TPM2_PolicySigned (what `--raw-data`
//! writes) and the signature formats `-f` reads.

use crate::crypto::HashAlg;
use crate::wire::{
    Digest, EccParameter, EccSignature, Nonce, PublicKeyRsa, RsaSignature, Signature, Unmarshal,
    WireError, MAX_ECC_KEY_BYTES, MAX_RSA_KEY_BYTES,
};

/// The data TPM2_PolicySigned's signature covers, undigested: nonceTPM ‖ expiration ‖ cpHashA ‖
/// policyRef (`expiration` as a big-endian INT32), as `tpm2_policysigned --raw-data` writes it.
/// Its digest is [`signed_digest`](crate::session::policy::signed_digest).
pub fn signed_data(
    nonce_tpm: &Nonce,
    expiration: i32,
    cp_hash_a: &Digest,
    policy_ref: &Nonce,
) -> Vec<u8> {
    let mut data = Vec::with_capacity(nonce_tpm.len() + 4 + cp_hash_a.len() + policy_ref.len());
    data.extend_from_slice(nonce_tpm.as_bytes());
    data.extend_from_slice(&expiration.to_be_bytes());
    data.extend_from_slice(cp_hash_a.as_bytes());
    data.extend_from_slice(policy_ref.as_bytes());
    data
}

/// How a signature file is encoded (tpm2-tools' `-f`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum SignatureFormat {
    /// A marshalled TPMT_SIGNATURE (what `tpm2_sign` writes by default).
    Tss,
    /// The bare RSASSA-PKCS1-v1_5 signature bytes (`tpm2_sign -f plain`, OpenSSL).
    RsaSsa,
    /// The bare RSASSA-PSS signature bytes.
    RsaPss,
    /// A DER ECDSA-Sig-Value, SEQUENCE { r INTEGER, s INTEGER } (`tpm2_sign -f plain`, OpenSSL).
    Ecdsa,
}

impl SignatureFormat {
    /// `tss`, or the scheme names tpm2-tools takes for a plain signature: `rsassa`, `rsapss`,
    /// `ecdsa`.
    pub fn from_name(name: &str) -> Option<Self> {
        Some(match name {
            "tss" => SignatureFormat::Tss,
            "rsassa" => SignatureFormat::RsaSsa,
            "rsapss" => SignatureFormat::RsaPss,
            "ecdsa" => SignatureFormat::Ecdsa,
            _ => return None,
        })
    }
}

/// Why a signature file was refused.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SignatureFileError {
    /// Not a TPMT_SIGNATURE.
    #[error("not a TPMT_SIGNATURE: {0}")]
    Tss(#[source] WireError),
    /// An empty or too long bare RSA signature.
    #[error("an RSA signature of {len} bytes (1 to {max} taken)")]
    RsaSize {
        /// Its length.
        len: usize,
        /// The most taken.
        max: usize,
    },
    /// Not a DER ECDSA signature, or r or s too large.
    #[error("not a DER ECDSA signature: {0}")]
    Der(&'static str),
}

/// A signature file's content in `format`; `hash` is the hash a plain signature was made with
/// (a TPMT_SIGNATURE names its own).
pub fn parse_signature(
    bytes: &[u8],
    format: SignatureFormat,
    hash: HashAlg,
) -> Result<Signature, SignatureFileError> {
    let hash = hash.alg_id();
    let rsa = || -> Result<RsaSignature, SignatureFileError> {
        let size = SignatureFileError::RsaSize {
            len: bytes.len(),
            max: MAX_RSA_KEY_BYTES,
        };
        if bytes.is_empty() {
            return Err(size);
        }
        let sig = PublicKeyRsa::new(bytes).map_err(|_| size)?;
        Ok(RsaSignature { hash, sig })
    };
    Ok(match format {
        SignatureFormat::Tss => Signature::from_bytes(bytes).map_err(SignatureFileError::Tss)?,
        SignatureFormat::RsaSsa => Signature::RsaSsa(rsa()?),
        SignatureFormat::RsaPss => Signature::RsaPss(rsa()?),
        SignatureFormat::Ecdsa => {
            let (r, s) = der_ecdsa(bytes)?;
            let param = |v: &[u8]| {
                EccParameter::new(v).map_err(|_| SignatureFileError::Der("r or s is too large"))
            };
            Signature::Ecdsa(EccSignature {
                hash,
                r: param(r)?,
                s: param(s)?,
            })
        }
    })
}

/// r and s of a DER ECDSA-Sig-Value (SEQUENCE { r INTEGER, s INTEGER }), as magnitudes;
/// nothing may follow it.
fn der_ecdsa(bytes: &[u8]) -> Result<(&[u8], &[u8]), SignatureFileError> {
    use der::asn1::UintRef;
    use der::{Decode, Reader, SliceReader};
    let parse = || -> der::Result<(&[u8], &[u8])> {
        let mut reader = SliceReader::new(bytes)?;
        let (r, s) = reader.sequence(|seq| Ok((UintRef::decode(seq)?, UintRef::decode(seq)?)))?;
        reader.finish((r.as_bytes(), s.as_bytes()))
    };
    let (r, s) =
        parse().map_err(|_| SignatureFileError::Der("not SEQUENCE { r INTEGER, s INTEGER }"))?;
    if r.len() > MAX_ECC_KEY_BYTES || s.len() > MAX_ECC_KEY_BYTES {
        return Err(SignatureFileError::Der("r or s is too large"));
    }
    Ok((r, s))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signed_data_is_the_concatenation() {
        let nonce = Nonce::new(&[1, 2]).unwrap();
        let cp = Digest::new(&[3]).unwrap();
        let r = Nonce::new(&[4, 5]).unwrap();
        assert_eq!(
            signed_data(&nonce, -2, &cp, &r),
            [1, 2, 0xff, 0xff, 0xff, 0xfe, 3, 4, 5]
        );
        assert_eq!(
            signed_data(&Nonce::default(), 0, &Digest::empty(), &Nonce::default()),
            [0; 4]
        );
    }

    #[test]
    fn der_ecdsa_signatures() {
        // r = 0x80 (a sign byte in DER), s = 0x01.
        let der = [0x30, 0x07, 0x02, 0x02, 0x00, 0x80, 0x02, 0x01, 0x01];
        let sig = parse_signature(&der, SignatureFormat::Ecdsa, HashAlg::Sha256).unwrap();
        let Signature::Ecdsa(e) = sig else { panic!() };
        assert_eq!((e.r.as_bytes(), e.s.as_bytes()), (&[0x80][..], &[1][..]));
        assert_eq!(e.hash, HashAlg::Sha256.alg_id());
        for bad in [
            &[][..],
            &[0x30],
            &[0x30, 0x07, 0x02, 0x02, 0x00, 0x80, 0x02, 0x01],
            &[0x30, 0x06, 0x02, 0x01, 0x80, 0x02, 0x01, 0x01],
            &[0x30, 0x07, 0x02, 0x02, 0x00, 0x01, 0x02, 0x01, 0x01],
            &[0x30, 0x06, 0x02, 0x01, 0x01, 0x02, 0x01, 0x01, 0x00],
            &[0x30, 0x84, 0xff, 0xff, 0xff, 0xff],
        ] {
            assert!(
                parse_signature(bad, SignatureFormat::Ecdsa, HashAlg::Sha256).is_err(),
                "{bad:?}"
            );
        }
        // An r of 67 bytes, beyond any curve's field, with and without a sign byte.
        for int in [
            [&[0x01][..], &[0x01; 66]].concat(),
            [&[0x00, 0x80][..], &[0x01; 66]].concat(),
        ] {
            let mut long = vec![0x30, (2 + int.len() + 3) as u8, 0x02, int.len() as u8];
            long.extend(&int);
            long.extend([0x02, 0x01, 0x01]);
            let err = parse_signature(&long, SignatureFormat::Ecdsa, HashAlg::Sha256);
            assert!(
                matches!(err, Err(SignatureFileError::Der("r or s is too large"))),
                "{err:?}"
            );
        }
    }

    #[test]
    fn rsa_sizes() {
        let f = SignatureFormat::RsaSsa;
        assert!(parse_signature(&[], f, HashAlg::Sha256).is_err());
        assert!(parse_signature(&[0; MAX_RSA_KEY_BYTES + 1], f, HashAlg::Sha256).is_err());
        let sig = parse_signature(&[7; 256], f, HashAlg::Sha384).unwrap();
        assert!(matches!(sig, Signature::RsaSsa(ref s) if s.sig.as_bytes() == [7; 256]));
    }
}
