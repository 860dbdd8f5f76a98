//! Parameter encryption (TPM 2.0 Part 1 §21): AES in CFB mode and XOR obfuscation, in place.

use aes::cipher::{AsyncStreamCipher, KeyIvInit};
use zeroize::Zeroizing;

use super::kdf::{kdfa, kdfa_stream};
use super::{CryptoError, HashAlg};
use crate::wire::AlgId;

const AES_BLOCK: usize = 16;
/// The largest AES key plus one IV: the KDFa output for CFB parameter encryption.
const MAX_CFB_MATERIAL: usize = 32 + AES_BLOCK;

fn cfb<C>(key: &[u8], iv: &[u8; AES_BLOCK], data: &mut [u8], encrypt: bool)
where
    C: aes::cipher::BlockCipher
        + aes::cipher::BlockEncryptMut
        + aes::cipher::KeyInit
        + aes::cipher::BlockSizeUser<BlockSize = aes::cipher::consts::U16>,
{
    // Key length was matched against C's key size by the caller.
    let key = aes::cipher::generic_array::GenericArray::from_slice(key);
    if encrypt {
        cfb_mode::Encryptor::<C>::new(key, iv.into()).encrypt(data);
    } else {
        cfb_mode::Decryptor::<C>::new(key, iv.into()).decrypt(data);
    }
}

fn aes_cfb(
    key: &[u8],
    iv: &[u8; AES_BLOCK],
    data: &mut [u8],
    encrypt: bool,
) -> Result<(), CryptoError> {
    // The cipher states (round keys, feedback register) zeroize on drop: the crates' `zeroize`
    // features are enabled.
    match key.len() {
        16 => cfb::<aes::Aes128>(key, iv, data, encrypt),
        24 => cfb::<aes::Aes192>(key, iv, data, encrypt),
        32 => cfb::<aes::Aes256>(key, iv, data, encrypt),
        other => {
            return Err(CryptoError::UnsupportedCipher {
                alg: AlgId::AES,
                key_bits: other * 8,
            })
        }
    }
    Ok(())
}

/// AES-CFB (128-bit feedback) encryption in place; `key` is 16, 24 or 32 bytes. Any data
/// length is allowed: the last partial block uses the leading bytes of the key stream.
pub fn aes_cfb_encrypt(key: &[u8], iv: &[u8; 16], data: &mut [u8]) -> Result<(), CryptoError> {
    aes_cfb(key, iv, data, true)
}

/// AES-CFB (128-bit feedback) decryption in place; the inverse of [`aes_cfb_encrypt`].
pub fn aes_cfb_decrypt(key: &[u8], iv: &[u8; 16], data: &mut [u8]) -> Result<(), CryptoError> {
    aes_cfb(key, iv, data, false)
}

/// Which way [`param_cfb`] (and [`aes_cfb_encrypt`]'s inverse) goes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Direction {
    /// Plaintext to ciphertext.
    Encrypt,
    /// Ciphertext to plaintext.
    Decrypt,
}

/// Session parameter encryption with AES-CFB, in place: key and IV are
/// `KDFa(hash, session_value, "CFB", nonce_newer, nonce_older, key_bits + 128)` (key first).
/// For a command the caller's nonce is newer; for a response the TPM's.
pub fn param_cfb(
    direction: Direction,
    hash: HashAlg,
    key_bits: u16,
    session_value: &[u8],
    nonce_newer: &[u8],
    nonce_older: &[u8],
    data: &mut [u8],
) -> Result<(), CryptoError> {
    let key_len = match key_bits {
        128 | 192 | 256 => usize::from(key_bits / 8),
        other => {
            return Err(CryptoError::UnsupportedCipher {
                alg: AlgId::AES,
                key_bits: usize::from(other),
            })
        }
    };
    let material_len = key_len + AES_BLOCK;
    let mut material: Zeroizing<[u8; MAX_CFB_MATERIAL]> = Zeroizing::new([0; MAX_CFB_MATERIAL]);
    let material = &mut material[..material_len];
    kdfa(
        hash,
        session_value,
        b"CFB",
        nonce_newer,
        nonce_older,
        (material_len * 8) as u32,
        material,
    )?;
    let (key, iv_bytes) = material.split_at(key_len);
    let mut iv: Zeroizing<[u8; AES_BLOCK]> = Zeroizing::new([0; AES_BLOCK]);
    iv.copy_from_slice(iv_bytes);
    aes_cfb(key, &iv, data, direction == Direction::Encrypt)
}

/// XOR parameter obfuscation:
/// `data ^= KDFa(alg, key, "XOR", nonce_newer, nonce_older, data.len() * 8)`. Its own inverse.
/// `key` is the session value (session key ‖ auth value).
pub fn xor_obfuscate(
    alg: HashAlg,
    key: &[u8],
    nonce_newer: &[u8],
    nonce_older: &[u8],
    data: &mut [u8],
) -> Result<(), CryptoError> {
    let bits = data
        .len()
        .checked_mul(8)
        .and_then(|bits| u32::try_from(bits).ok())
        .ok_or(CryptoError::TooLarge {
            what: "XOR-obfuscated parameter",
            size: data.len(),
            max: (u32::MAX / 8) as usize,
        })?;
    kdfa_stream(
        alg,
        key,
        b"XOR",
        nonce_newer,
        nonce_older,
        bits,
        |offset, mask| {
            for (byte, m) in data[offset..offset + mask.len()].iter_mut().zip(mask) {
                *byte ^= m;
            }
        },
    );
    Ok(())
}
