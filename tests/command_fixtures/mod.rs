//! Fixtures of the command tests (`commands_crypto`, `commands_nv`, `commands_misc`): key
//! templates, objects made with TPM2_CreateLoaded, salted sessions, host digests, and
//! checks of the TPM's typed errors. Used next to `tests/common`.
#![allow(dead_code)]

use hmac::{Hmac, Mac};
use p256::elliptic_curve::sec1::{FromEncodedPoint, ToEncodedPoint};
use p256::{AffinePoint, EncodedPoint, NonZeroScalar, ProjectivePoint};
use rand_core::OsRng;
use sha1::Sha1;
use sha2::{Digest as _, Sha256, Sha384, Sha512};
use tpm2_wire::client::{object_name, Session, SessionOptions};
use tpm2_wire::command::{CreateLoaded, Entity, FlushContext, PcrRead};
use tpm2_wire::crypto::HashAlg;
use tpm2_wire::session::engine::SessionSlot;
use tpm2_wire::wire::{
    AlgId, Auth, EccCurve, EccParameter, EccParms, EccPoint, EccScheme, HashValue, KdfScheme,
    ObjectAttributes, PcrSelection, PcrSelectionList, Public, PublicKey, PublicKeyRsa, RsaParms,
    RsaScheme, SensitiveCreate, SensitiveData, SymCipher, SymCipherParms, SymDefObject, Template,
    Tpm2bSensitiveCreate, TpmRc,
};
use tpm2_wire::{Error, Tpm};

use crate::common::{salt_key, sessions_on, HandleRange, Salt};

/// The host's digest of `data`.
pub fn host_hash(alg: AlgId, data: &[u8]) -> Vec<u8> {
    match alg {
        AlgId::SHA1 => Sha1::digest(data).to_vec(),
        AlgId::SHA256 => Sha256::digest(data).to_vec(),
        AlgId::SHA384 => Sha384::digest(data).to_vec(),
        AlgId::SHA512 => Sha512::digest(data).to_vec(),
        other => panic!("no host hash for {other}"),
    }
}

/// The host's HMAC of `data` with `key`.
pub fn host_hmac(alg: HashAlg, key: &[u8], data: &[u8]) -> Vec<u8> {
    fn mac<M: Mac + hmac::digest::KeyInit>(key: &[u8], data: &[u8]) -> Vec<u8> {
        let mut m = <M as Mac>::new_from_slice(key).expect("any key length");
        m.update(data);
        m.finalize().into_bytes().to_vec()
    }
    match alg {
        HashAlg::Sha1 => mac::<Hmac<Sha1>>(key, data),
        HashAlg::Sha256 => mac::<Hmac<Sha256>>(key, data),
        HashAlg::Sha384 => mac::<Hmac<Sha384>>(key, data),
        HashAlg::Sha512 => mac::<Hmac<Sha512>>(key, data),
    }
}

/// What every key here has: fixed to this TPM, used with its auth value, exempt from
/// dictionary-attack counting (a test that tries a wrong auth value must not lock the TPM).
fn base_attributes() -> ObjectAttributes {
    ObjectAttributes::FIXED_TPM
        | ObjectAttributes::FIXED_PARENT
        | ObjectAttributes::USER_WITH_AUTH
        | ObjectAttributes::NO_DA
}

/// An HMAC key hashing with `hash` whose key bytes the caller supplies (no
/// sensitiveDataOrigin), so the host can compute the same HMAC.
pub fn hmac_key_template(hash: AlgId) -> Public {
    let mut public = Public::hmac_key(AlgId::SHA256, hash);
    public.object_attributes = public
        .object_attributes
        .with(ObjectAttributes::SENSITIVE_DATA_ORIGIN, false)
        | ObjectAttributes::NO_DA;
    public
}

/// An AES-128 key for TPM2_EncryptDecrypt in both directions, with the key bytes the caller
/// supplies and `mode` (TPM_ALG_NULL: any mode, chosen per command).
pub fn aes_key_template(mode: AlgId) -> Public {
    Public {
        name_alg: AlgId::SHA256,
        object_attributes: base_attributes()
            | ObjectAttributes::DECRYPT
            | ObjectAttributes::SIGN_ENCRYPT,
        auth_policy: Default::default(),
        key: PublicKey::SymCipher {
            parameters: SymCipherParms {
                symmetric: SymDefObject::Cipher(SymCipher {
                    algorithm: AlgId::AES,
                    key_bits: 128,
                    mode,
                }),
            },
            unique: Default::default(),
        },
    }
}

/// An unrestricted RSA-2048 decryption key with no scheme of its own (the command picks one).
pub fn rsa_decrypt_template() -> Public {
    decrypt_template(PublicKey::Rsa {
        parameters: RsaParms {
            symmetric: SymDefObject::Null,
            scheme: RsaScheme::Null,
            key_bits: 2048,
            exponent: 0,
        },
        unique: PublicKeyRsa::empty(),
    })
}

/// An unrestricted NIST P-256 key for ECDH.
pub fn ecc_decrypt_template() -> Public {
    decrypt_template(PublicKey::Ecc {
        parameters: EccParms {
            symmetric: SymDefObject::Null,
            scheme: EccScheme::Null,
            curve: EccCurve::NIST_P256,
            kdf: KdfScheme::Null,
        },
        unique: EccPoint::default(),
    })
}

/// An unrestricted decryption key of the TPM's making with the parameters of `key`.
fn decrypt_template(key: PublicKey) -> Public {
    Public {
        name_alg: AlgId::SHA256,
        object_attributes: base_attributes()
            | ObjectAttributes::SENSITIVE_DATA_ORIGIN
            | ObjectAttributes::DECRYPT,
        auth_policy: Default::default(),
        key,
    }
}

/// TPM2_CreateLoaded under `parent` (authorized by `sessions[0]`, further sessions encrypt or
/// audit) with `auth` and `data` in the sensitive area. The name the TPM reports must be the
/// hash of the public area it returned.
pub fn create_loaded(
    tpm: &Tpm,
    parent: &Entity,
    sessions: &mut [SessionSlot<'_>],
    template: &Public,
    auth: &Auth,
    data: &[u8],
) -> (Entity, Public, tpm2_wire::command::CreateLoadedResponse) {
    let rsp = tpm
        .execute(
            &CreateLoaded {
                parent_handle: parent.clone(),
                in_sensitive: Tpm2bSensitiveCreate(SensitiveCreate {
                    user_auth: auth.clone(),
                    data: SensitiveData::new(data).unwrap(),
                }),
                in_public: Template::from_public(template).unwrap(),
            },
            sessions,
        )
        .expect("CreateLoaded");
    assert_eq!(
        rsp.name,
        object_name(&rsp.out_public.0).unwrap(),
        "the name is the hash of the public area"
    );
    let entity = Entity::new(rsp.object_handle, rsp.name.clone());
    (entity, rsp.out_public.0.clone(), rsp)
}

/// A primary object under the owner hierarchy (empty owner auth, by password).
pub fn primary(tpm: &Tpm, template: &Public, auth: &Auth, data: &[u8]) -> (Entity, Public) {
    let owner = Auth::empty();
    let (e, p, _) = create_loaded(
        tpm,
        &Entity::owner(),
        &mut [SessionSlot::Password(&owner)],
        template,
        auth,
        data,
    );
    (e, p)
}

/// An HMAC session salted with an ECC primary, encrypting in whichever directions a command
/// allows. The salt key is flushed at once (the session keeps its key), leaving the object
/// slots to the test.
pub fn salted_session(tpm: &Tpm) -> Session {
    let salt = salt_key(tpm, Salt::Ecc).expect("a salt key");
    let session = Session::start(
        tpm,
        &SessionOptions::hmac()
            .salted(salt.clone())
            .encrypt(true, true),
    )
    .expect("StartAuthSession");
    tpm.run(&FlushContext {
        flush_handle: salt.entity().handle,
    })
    .expect("flush the salt key");
    session
}

/// Nothing is loaded but `session`: no other session, loaded or saved, and no object (keys
/// flushed, completed sequences gone).
#[track_caller]
pub fn assert_only_session_loaded(tpm: &Tpm, session: tpm2_wire::wire::Handle) {
    let (loaded, saved) = sessions_on(tpm);
    assert_eq!(loaded, vec![session]);
    assert!(saved.is_empty(), "{saved:?}");
    let objects = tpm.handles_in(HandleRange::Transient).unwrap();
    assert!(objects.is_empty(), "{objects:?}");
}

/// The TPM refused the command with `base` (whatever handle, session or parameter it names).
#[track_caller]
pub fn assert_tpm_error<T: std::fmt::Debug>(result: tpm2_wire::Result<T>, base: TpmRc) {
    match result {
        Err(Error::Tpm { rc, .. }) => assert_eq!(rc.base_code(), base, "{rc}"),
        other => panic!("expected {base}, got {other:?}"),
    }
}

/// The digests of an event (TPM2_PCR_Event, TPM2_EventSequenceComplete) over `data`: each
/// equals the host's, the usual banks are all there, and each allocated bank of `pcr`, reset
/// before the event, now holds H(zeros ‖ digest).
pub fn check_event_digests(tpm: &Tpm, pcr: u8, digests: &[HashValue], data: &[u8]) {
    let algs: Vec<AlgId> = digests.iter().map(|d| d.alg()).collect();
    for alg in [AlgId::SHA1, AlgId::SHA256, AlgId::SHA384] {
        assert!(algs.contains(&alg), "{alg} missing from {algs:?}");
    }
    let mut extended = 0;
    for d in digests {
        assert_eq!(d.digest(), host_hash(d.alg(), data), "{}", d.alg());
        let mut sel = PcrSelectionList::default();
        sel.push(PcrSelection::new(d.alg(), &[pcr]).unwrap())
            .unwrap();
        let read = tpm
            .run(&PcrRead {
                pcr_selection_in: sel,
            })
            .unwrap();
        if read.pcr_values.is_empty() {
            continue; // Bank not allocated.
        }
        let zeros = vec![0u8; d.digest().len()];
        let expected = host_hash(d.alg(), &[&zeros[..], d.digest()].concat());
        assert_eq!(read.pcr_values[0].as_bytes(), expected, "{}", d.alg());
        extended += 1;
    }
    assert!(extended > 0, "no allocated bank among {algs:?}");
}

/// An unrestricted P-256 ECDSA-SHA256 signing key. A `duplicable` one is neither fixedTPM nor
/// fixedParent, and `policy` (its authPolicy) is what authorizes its DUP role.
pub fn ecc_sign_template(duplicable: bool, policy: &[u8]) -> Public {
    let mut attributes = base_attributes()
        | ObjectAttributes::SENSITIVE_DATA_ORIGIN
        | ObjectAttributes::SIGN_ENCRYPT;
    if duplicable {
        attributes = attributes
            .with(ObjectAttributes::FIXED_TPM, false)
            .with(ObjectAttributes::FIXED_PARENT, false);
    }
    Public {
        name_alg: AlgId::SHA256,
        object_attributes: attributes,
        auth_policy: tpm2_wire::wire::Digest::new(policy).unwrap(),
        key: PublicKey::Ecc {
            parameters: EccParms {
                symmetric: SymDefObject::Null,
                scheme: EccScheme::Ecdsa {
                    hash: AlgId::SHA256,
                },
                curve: EccCurve::NIST_P256,
                kdf: KdfScheme::Null,
            },
            unique: EccPoint::default(),
        },
    }
}

/// The policy digest of PolicyCommandCode(`code`) alone, on the host:
/// SHA-256(zeros ‖ TPM_CC_PolicyCommandCode ‖ code).
pub fn policy_command_code_digest(code: tpm2_wire::wire::CommandCode) -> Vec<u8> {
    let mut h = Sha256::new();
    h.update([0u8; 32]);
    h.update(
        tpm2_wire::wire::CommandCode::POLICY_COMMAND_CODE
            .0
            .to_be_bytes(),
    );
    h.update(code.0.to_be_bytes());
    h.finalize().to_vec()
}

pub fn to_affine(p: &EccPoint) -> AffinePoint {
    let encoded =
        EncodedPoint::from_affine_coordinates(p.x.as_bytes().into(), p.y.as_bytes().into(), false);
    Option::from(AffinePoint::from_encoded_point(&encoded)).expect("a point on P-256")
}

pub fn to_wire(p: &AffinePoint) -> EccPoint {
    let encoded = p.to_encoded_point(false);
    EccPoint {
        x: EccParameter::new(encoded.x().unwrap()).unwrap(),
        y: EccParameter::new(encoded.y().unwrap()).unwrap(),
    }
}

/// The host's side of an ECDH exchange with a P-256 key: the key's point Q, a fresh
/// ephemeral public point eG, and the shared point e·Q the TPM's d·(eG) must equal.
pub struct HostEcdh {
    pub q: AffinePoint,
    pub e_pub: AffinePoint,
    pub z: EccPoint,
}

pub fn host_ecdh(public: &Public) -> HostEcdh {
    let PublicKey::Ecc { unique, .. } = &public.key else {
        panic!("not an ECC key")
    };
    let q = to_affine(unique);
    let e = NonZeroScalar::random(&mut OsRng);
    let e_pub = (ProjectivePoint::GENERATOR * *e).to_affine();
    let z = to_wire(&(ProjectivePoint::from(q) * *e).to_affine());
    HostEcdh { q, e_pub, z }
}
