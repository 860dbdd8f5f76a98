//! Credentials (TPM 2.0 Part 1, "Credential Protection"): made on the host, released by the
//! TPM.

use rand_core::CryptoRngCore;
use zeroize::Zeroizing;

use super::{KeyError, TpmObject};
use crate::client::{SaltKey, Session, SessionOptions};
use crate::command::{ActivateCredential, Entity};
use crate::crypto::{self, Encapsulated, HashAlg};
use crate::session::engine::SessionSlot;
use crate::session::policy::PolicyCalculator;
use crate::session::Symmetric;
use crate::wire::{
    AlgId, Auth, CredentialSecret, EncIdentity, EncryptedSecret, IdObject, Name, Nonce,
    ObjectAttributes, Public, SymDefObject, MAX_DIGEST_SIZE, MAX_ENC_IDENTITY,
};
use crate::Tpm;

/// The label of the seed's encryption (Part 1, "Credential Protection").
const IDENTITY: &[u8] = b"IDENTITY";
/// The label of the credential's encryption key.
const STORAGE: &[u8] = b"STORAGE";
/// The label of the credential's HMAC key.
const INTEGRITY: &[u8] = b"INTEGRITY";

/// TPM2_MakeCredential on the host: encrypts `credential` so that only a TPM holding both the
/// key with public area `protector` (a restricted decryption key with AES-CFB, normally the
/// EK) and the key named `object_name` (normally an attestation key) can recover it, with
/// TPM2_ActivateCredential ([`Tpm::activate_credential`]). The seed comes from the operating
/// system's generator.
///
/// Returns the credential blob (TPM2B_ID_OBJECT) and the encrypted seed
/// (TPM2B_ENCRYPTED_SECRET). `credential` may be at most the digest size of the protector's
/// nameAlg.
pub fn make_credential(
    protector: &Public,
    object_name: &Name,
    credential: &[u8],
) -> Result<(IdObject, EncryptedSecret), KeyError> {
    make_credential_rng(protector, object_name, credential, &mut rand_core::OsRng)
}

/// [`make_credential`] with the seed (and the OAEP seed or ephemeral ECC key) from `rng`.
///
/// The seed is a random value of the nameAlg's digest size, encrypted to the protector with
/// RSA-OAEP (label "IDENTITY") or ECDH and KDFe (label "IDENTITY"). From it come
/// `symKey = KDFa(nameAlg, seed, "STORAGE", objectName, "", keyBits)` and
/// `hmacKey = KDFa(nameAlg, seed, "INTEGRITY", "", "", digest bits)`; the credential,
/// marshalled as a TPM2B_DIGEST, is encrypted with the protector's AES in CFB mode (zero IV)
/// into `encIdentity`, and `integrityHMAC = HMAC(hmacKey, encIdentity ‖ objectName)`.
pub fn make_credential_rng<R: CryptoRngCore>(
    protector: &Public,
    object_name: &Name,
    credential: &[u8],
    rng: &mut R,
) -> Result<(IdObject, EncryptedSecret), KeyError> {
    let name_alg = HashAlg::from_alg_id(protector.name_alg)?;
    let attributes = protector.object_attributes;
    if !attributes.contains(ObjectAttributes::RESTRICTED | ObjectAttributes::DECRYPT) {
        return Err(KeyError::NotAProtector {
            reason: "it is not a restricted decryption (storage) key",
        });
    }
    let cipher = match protector.key.symmetric() {
        Some(SymDefObject::Cipher(c)) if c.algorithm == AlgId::AES && c.mode == AlgId::CFB => c,
        _ => {
            return Err(KeyError::NotAProtector {
                reason: "its symmetric algorithm is not AES in CFB mode",
            })
        }
    };
    let key_len = match cipher.key_bits {
        128 | 192 | 256 => usize::from(cipher.key_bits / 8),
        other => {
            return Err(crypto::CryptoError::UnsupportedCipher {
                alg: AlgId::AES,
                key_bits: usize::from(other),
            }
            .into())
        }
    };
    let digest_size = name_alg.digest_size();
    if credential.len() > digest_size {
        return Err(KeyError::CredentialTooLarge {
            size: credential.len(),
            max: digest_size,
        });
    }

    let seed = encapsulate(protector, rng)?;
    let seed_bytes = seed.secret.as_bytes();

    let mut sym_key: Zeroizing<[u8; 32]> = Zeroizing::new([0; 32]);
    let sym_key = &mut sym_key[..key_len];
    crypto::kdfa(
        name_alg,
        seed_bytes,
        STORAGE,
        object_name.as_bytes(),
        &[],
        u32::from(cipher.key_bits),
        sym_key,
    )?;
    let mut hmac_key: Zeroizing<[u8; MAX_DIGEST_SIZE]> = Zeroizing::new([0; MAX_DIGEST_SIZE]);
    let hmac_key = &mut hmac_key[..digest_size];
    crypto::kdfa(
        name_alg,
        seed_bytes,
        INTEGRITY,
        &[],
        &[],
        (digest_size * 8) as u32,
        hmac_key,
    )?;

    // The TPM2B_DIGEST of the credential, size field included, encrypted in place.
    let mut plain: Zeroizing<[u8; MAX_ENC_IDENTITY]> = Zeroizing::new([0; MAX_ENC_IDENTITY]);
    let len = 2 + credential.len();
    plain[..2].copy_from_slice(&(credential.len() as u16).to_be_bytes());
    plain[2..len].copy_from_slice(credential);
    let enc = &mut plain[..len];
    crypto::aes_cfb_encrypt(sym_key, &[0; 16], enc)?;
    let integrity_hmac = crypto::hmac(name_alg, hmac_key, &[enc, object_name.as_bytes()]);

    Ok((
        IdObject {
            integrity_hmac,
            enc_identity: EncIdentity::new(enc)?,
        },
        EncryptedSecret::new(&seed.ciphertext)?,
    ))
}

/// A seed of the digest size the protector decrypts to, encrypted to it with label
/// "IDENTITY".
fn encapsulate<R: CryptoRngCore>(
    protector: &Public,
    rng: &mut R,
) -> Result<Encapsulated, KeyError> {
    let (recipient, hash) =
        crypto::SecretRecipient::from_public(protector).map_err(|e| match e {
            crypto::CryptoError::NotASecretRecipient(_) => KeyError::NotAProtector {
                reason: "it is neither an RSA nor an ECC key",
            },
            e => e.into(),
        })?;
    Ok(recipient.encapsulate_rng(hash, IDENTITY, rng)?)
}

/// How the protector is authorized for TPM2_ActivateCredential (USER role).
#[derive(Debug, PartialEq, Eq)]
pub(super) enum ProtectorAuth {
    /// Its policy is PolicySecret(TPM_RH_ENDORSEMENT): EK templates L-1 and L-2.
    EndorsementSecret,
    /// userWithAuth with its (empty) auth value: the high-range EK templates, and keys
    /// created with the templates of this module.
    AuthValue,
}

/// The protector's policy is recognised by recomputing it, never by the template it is
/// believed to come from: an unknown policy is refused before anything is sent.
pub(super) fn protector_auth(public: &Public, hash: HashAlg) -> Result<ProtectorAuth, KeyError> {
    let mut policy = PolicyCalculator::new(hash);
    policy.policy_secret(&Entity::endorsement().name, &[]);
    if public.auth_policy == *policy.digest() {
        Ok(ProtectorAuth::EndorsementSecret)
    } else if public
        .object_attributes
        .contains(ObjectAttributes::USER_WITH_AUTH)
    {
        Ok(ProtectorAuth::AuthValue)
    } else {
        Err(KeyError::UnsupportedPolicy)
    }
}

impl Tpm {
    /// TPM2_ActivateCredential: the credential in `id_object` and `secret` (from
    /// [`make_credential`], TPM2_MakeCredential or `tpm2_makecredential`), released by the
    /// TPM if it was made for the name of `activate` and encrypted to `protector`.
    ///
    /// `activate` is authorized by `activate_auth` (ADMIN role: its auth value, by password
    /// or HMAC session). The protector (normally the EK) is authorized with a session this
    /// function starts, salted to the protector itself and encrypting the response, so the
    /// credential crosses the bus encrypted under a key only this process and the TPM hold:
    /// a policy session with PolicySecret(TPM_RH_ENDORSEMENT), authorized by
    /// `endorsement_auth`, for a protector with that policy (EK templates L-1, L-2); an HMAC
    /// session with its empty auth value for one with userWithAuth (the high-range EK
    /// templates); [`KeyError::UnsupportedPolicy`] otherwise. A credential made for another
    /// key, or altered, fails with the TPM's response code (TPM_RC_INTEGRITY, ...), see
    /// [`KeyError::response_code`].
    pub fn activate_credential(
        &self,
        activate: &Entity,
        activate_auth: SessionSlot<'_>,
        protector: &impl TpmObject,
        endorsement_auth: SessionSlot<'_>,
        id_object: &IdObject,
        secret: &EncryptedSecret,
    ) -> Result<CredentialSecret, KeyError> {
        let public = protector.public();
        let hash = HashAlg::from_alg_id(public.name_alg)?;
        let how = protector_auth(public, hash)?;
        let salt = SaltKey::from_public(protector.entity().clone(), public)
            .map_err(KeyError::tpm("salting a session to the protector"))?;
        let options = match how {
            ProtectorAuth::EndorsementSecret => SessionOptions::policy(),
            ProtectorAuth::AuthValue => SessionOptions::hmac(),
        }
        .hash(hash)
        .salted(salt)
        .symmetric(Symmetric::AesCfb(128))
        .encrypt(false, true);
        let mut session = Session::start(self, &options)
            .map_err(KeyError::tpm("starting the protector's session"))?;
        if let ProtectorAuth::EndorsementSecret = how {
            session
                .policy_secret(&Entity::endorsement(), endorsement_auth, &Nonce::empty())
                .map_err(KeyError::tpm(
                    "satisfying the protector's policy (TPM2_PolicySecret on TPM_RH_ENDORSEMENT)",
                ))?;
        }
        let empty = Auth::empty();
        let rsp = self
            .execute(
                &ActivateCredential {
                    activate_handle: activate.clone(),
                    key_handle: protector.entity().clone(),
                    credential_blob: id_object.clone(),
                    secret: secret.clone(),
                },
                &mut [activate_auth, session.auth(&empty)],
            )
            .map_err(KeyError::tpm(
                "activating the credential (TPM2_ActivateCredential)",
            ))?;
        // Dropping the session flushes it.
        Ok(rsp.cert_info)
    }
}
