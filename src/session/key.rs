//! The session key of TPM2_StartAuthSession (Part 1, "Session Key Creation"):
//! `KDFa(authHash, bindAuth ‖ salt, "ATH", nonceTPM, nonceCaller, digest bits)`.

use zeroize::Zeroize;

use super::{trim_auth, SessionError, SessionKey};
use crate::crypto::{self, HashAlg};

/// A derived session key, and whether it came from a secret.
pub struct DerivedKey {
    /// The key; empty for a session that is neither bound nor salted.
    pub key: SessionKey,
    /// Derived from a salt or a non-empty bind auth value. A session bound to an entity with an
    /// empty auth value and no salt has a key anyone who saw the nonces can compute.
    pub is_secret: bool,
}

/// Derives the session key as the TPM does. `bind_auth` is the bound entity's auth value (`None`
/// for an unbound session; trailing zeros are dropped, as the TPM drops them), `salt` the
/// decrypted salt (empty for an unsalted session). The TPM derives a key whenever the session is
/// bound or salted, even from an empty bind auth value.
pub fn derive_session_key(
    hash: HashAlg,
    bind_auth: Option<&[u8]>,
    salt: &[u8],
    nonce_tpm: &[u8],
    nonce_caller: &[u8],
) -> Result<DerivedKey, SessionError> {
    let bind_auth = bind_auth.map(trim_auth);
    let is_secret = bind_auth.is_some_and(|a| !a.is_empty()) || !salt.is_empty();
    if bind_auth.is_none() && salt.is_empty() {
        return Ok(DerivedKey {
            key: SessionKey::empty(),
            is_secret,
        });
    }
    let bind_auth = bind_auth.unwrap_or(&[]);
    // Each is at most one digest (64 bytes).
    let mut key_in = [0u8; 128];
    let n = bind_auth.len() + salt.len();
    if n > key_in.len() {
        return Err(SessionError::KeyMaterialTooLong(n));
    }
    key_in[..bind_auth.len()].copy_from_slice(bind_auth);
    key_in[bind_auth.len()..n].copy_from_slice(salt);
    let bytes = hash.digest_size();
    let mut out = [0u8; 64];
    let derived = crypto::kdfa(
        hash,
        &key_in[..n],
        b"ATH",
        nonce_tpm,
        nonce_caller,
        (bytes * 8) as u32,
        &mut out[..bytes],
    );
    key_in.zeroize();
    let key = derived
        .map_err(SessionError::from)
        // Cannot fail: one digest fits a session key.
        .map(|()| SessionKey::new(&out[..bytes]).unwrap_or_default());
    out.zeroize();
    Ok(DerivedKey {
        key: key?,
        is_secret,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_bind_and_no_salt_is_no_key() {
        let k = derive_session_key(HashAlg::Sha256, None, &[], &[1; 32], &[2; 32]).unwrap();
        assert!(k.key.is_empty() && !k.is_secret);
    }

    #[test]
    fn an_empty_bind_auth_still_gives_a_key_but_not_a_secret_one() {
        let k =
            derive_session_key(HashAlg::Sha256, Some(b"\0\0"), &[], &[1; 32], &[2; 32]).unwrap();
        assert_eq!(k.key.len(), 32);
        assert!(!k.is_secret);
    }

    #[test]
    fn the_key_is_kdfa_over_bind_auth_and_salt() {
        let k =
            derive_session_key(HashAlg::Sha1, Some(b"ab\0"), b"salt", &[1; 20], &[2; 20]).unwrap();
        let mut expected = [0u8; 20];
        crypto::kdfa(
            HashAlg::Sha1,
            b"absalt",
            b"ATH",
            &[1; 20],
            &[2; 20],
            160,
            &mut expected,
        )
        .unwrap();
        assert_eq!(k.key.as_bytes(), &expected);
        assert!(k.is_secret);
    }

    #[test]
    fn oversized_material_is_refused() {
        assert!(matches!(
            derive_session_key(
                HashAlg::Sha256,
                Some(&[1; 64]),
                &[2; 65],
                &[1; 32],
                &[2; 32]
            ),
            Err(SessionError::KeyMaterialTooLong(129))
        ));
    }
}
