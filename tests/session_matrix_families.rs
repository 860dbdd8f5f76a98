//! One command of each family through the session matrix (HMAC/policy × salt × bind × cipher ×
//! hash): object admin (CreateLoaded), hashing (HMAC), signing (Sign, verified on the host),
//! asymmetric (ECDH_ZGen, equal to the host's ECDH), attestation (Quote, verified on the host)
//! and NV (NV_Increment + NV_Read of the counter). Each result is checked for what it means.
//!
//! The full product runs (54 combinations per session type, one swtpm per session type, one
//! session per combination); a failure names its combination.

mod command_fixtures;
mod common;

use command_fixtures::*;
use common::*;
use tpm2_wire::attest::convert::verify_digest;
use tpm2_wire::attest::{verify_quote, AttestationKey, PcrValues};
use tpm2_wire::client::{Session, SessionOptions};
use tpm2_wire::command::{EcdhZGen, Entity, Hmac, NvIncrement, NvRead, PcrExtend, Quote, Sign};
use tpm2_wire::crypto::{self, HashAlg};
use tpm2_wire::session::engine::SessionSlot;
use tpm2_wire::session::policy::PolicyCalculator;
use tpm2_wire::session::Symmetric;
use tpm2_wire::wire::{
    AlgId, Auth, Data, Digest, DigestValues, Handle, HashValue, MaxBuffer, NvAttributes, NvType,
    ObjectAttributes, PcrSelection, PcrSelectionList, Public, SessionAttributes, SigScheme,
    Signature, StructureTag, Ticket, Tpm2bEccPoint,
};
use tpm2_wire::Tpm;

const PCR: u8 = 16;
const NV_BASE: u32 = 0x0150_0200;
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Hmac,
    Policy,
}

#[derive(Clone, Copy, Debug)]
struct Combo {
    kind: Kind,
    salt: Salt,
    bound: bool,
    symmetric: Symmetric,
    hash: HashAlg,
}

/// Every combination for `kind`: 3 salts × bound or not × 3 hashes × 3 ciphers.
fn combos(kind: Kind) -> Vec<Combo> {
    let mut all = Vec::new();
    for salt in [Salt::None, Salt::Rsa, Salt::Ecc] {
        for bound in [false, true] {
            for hash in HASHES {
                for symmetric in [
                    Symmetric::AesCfb(128),
                    Symmetric::AesCfb(256),
                    Symmetric::Xor(hash),
                ] {
                    all.push(Combo {
                        kind,
                        salt,
                        bound,
                        symmetric,
                        hash,
                    });
                }
            }
        }
    }
    all
}

/// The session and what each command needs to use it.
struct Ctx<'a> {
    tpm: &'a Tpm,
    c: Combo,
    s: Session,
    frames: &'a Frames,
}

impl Ctx<'_> {
    /// Whether `secret` crossed the transport readable since the last [`Ctx::clear`].
    fn seen(&self, secret: &[u8]) -> bool {
        let frames = self.frames.lock().unwrap();
        frames
            .iter()
            .any(|(cmd, rsp)| contains(cmd, secret) || contains(rsp, secret))
    }

    fn clear(&self) {
        self.frames.lock().unwrap().clear();
    }

    /// Readies the session for one command: a policy session gets PolicyAuthValue (every
    /// entity here has that policy), and the session encrypts only the directions the command
    /// has a TPM2B for.
    fn ready(&mut self, decrypt: bool, encrypt: bool) -> tpm2_wire::Result<()> {
        if self.c.kind == Kind::Policy {
            self.s.policy_auth_value()?;
        }
        let mut extra = 0;
        if decrypt {
            extra |= SessionAttributes::DECRYPT;
        }
        if encrypt {
            extra |= SessionAttributes::ENCRYPT;
        }
        self.s.set_attributes(attrs(extra));
        Ok(())
    }
}

/// The authPolicy every entity gets: PolicyAuthValue in the session hash (a policy session
/// must use the entity's nameAlg, so that is the session hash too).
fn policy(hash: HashAlg) -> Digest {
    PolicyCalculator::new(hash)
        .policy_auth_value()
        .digest()
        .clone()
}

/// `public` named with `hash`, usable with the policy, and exempt from lockout.
fn adapt(mut public: Public, hash: HashAlg) -> Public {
    public.name_alg = hash.alg_id();
    public.auth_policy = policy(hash);
    public.object_attributes =
        public.object_attributes | ObjectAttributes::USER_WITH_AUTH | ObjectAttributes::NO_DA;
    public
}

fn selection() -> PcrSelectionList {
    let mut sel = PcrSelectionList::default();
    sel.push(PcrSelection::new(AlgId::SHA256, &[PCR]).unwrap())
        .unwrap();
    sel
}

type Result = tpm2_wire::Result<()>;

/// CreateLoaded of an HMAC key under a session-authorized parent, then TPM2_HMAC with it:
/// the key bytes went in encrypted, and the TPM's HMAC is the host's with those bytes.
fn object_admin_and_hashing(x: &mut Ctx<'_>, parent: &Entity, parent_auth: &Auth) -> Result {
    let hash = x.c.hash;
    let key_bytes = random_bytes(hash.digest_size());
    let key_auth = Auth::new(&random_bytes(12)).unwrap();
    x.ready(true, true)?;
    x.clear();
    let template = adapt(hmac_key_template(hash.alg_id()), hash);
    let (k, public, _) = create_loaded(
        x.tpm,
        parent,
        &mut [x.s.auth(parent_auth)],
        &template,
        &key_auth,
        &key_bytes,
    );
    assert_eq!(public.name_alg, hash.alg_id());
    assert!(!x.seen(&key_bytes), "the key bytes crossed in clear");

    let data = random_bytes(700);
    x.ready(true, true)?;
    let mac = x.tpm.execute(
        &Hmac {
            handle: k.clone(),
            buffer: MaxBuffer::new(&data).unwrap(),
            hash_alg: AlgId::NULL,
        },
        &mut [x.s.auth(&key_auth)],
    )?;
    assert_eq!(
        mac.out_hmac.as_bytes(),
        host_hmac(hash, &key_bytes, &data),
        "HMAC"
    );
    assert!(
        !x.seen(mac.out_hmac.as_bytes()),
        "the HMAC crossed in clear"
    );
    flush(x.tpm, k.handle);
    Ok(())
}

/// TPM2_Sign of a random digest (sent encrypted), verified on the host, and not valid for
/// another digest.
fn signing(x: &mut Ctx<'_>) -> Result {
    let auth = Auth::new(&random_bytes(10)).unwrap();
    let (k, public) = primary(
        x.tpm,
        &adapt(ecc_sign_template(false, &[]), x.c.hash),
        &auth,
        &[],
    );
    let digest = crypto::hash(HashAlg::Sha256, &[&random_bytes(40)]);
    x.ready(true, false)?;
    let r = x.tpm.execute(
        &Sign {
            key_handle: k.clone(),
            digest: digest.clone(),
            in_scheme: SigScheme::Null,
            validation: Ticket::null(StructureTag::HASHCHECK),
        },
        &mut [x.s.auth(&auth)],
    )?;
    assert!(
        matches!(r.signature, Signature::Ecdsa(_)),
        "{:?}",
        r.signature
    );
    verify_digest(&public, digest.as_bytes(), &r.signature).expect("the signature verifies");
    let mut other = digest.as_bytes().to_vec();
    other[0] ^= 1;
    assert!(verify_digest(&public, &other, &r.signature).is_err());
    flush(x.tpm, k.handle);
    Ok(())
}

/// ECDH_ZGen of a host ephemeral point: the TPM's d·(eG) is the host's e·Q.
fn asymmetric(x: &mut Ctx<'_>) -> Result {
    let auth = Auth::new(&random_bytes(10)).unwrap();
    let (k, public) = primary(x.tpm, &adapt(ecc_decrypt_template(), x.c.hash), &auth, &[]);
    let HostEcdh {
        e_pub, z: z_host, ..
    } = host_ecdh(&public);
    x.ready(true, true)?;
    let z = x.tpm.execute(
        &EcdhZGen {
            key_handle: k.clone(),
            in_point: Tpm2bEccPoint(to_wire(&e_pub)),
        },
        &mut [x.s.auth(&auth)],
    )?;
    assert_eq!(z.out_point.x.as_bytes(), z_host.x.as_bytes(), "ECDH x");
    assert_eq!(z.out_point.y.as_bytes(), z_host.y.as_bytes(), "ECDH y");
    flush(x.tpm, k.handle);
    Ok(())
}

/// TPM2_Quote by a restricted ECC key with a fresh nonce (sent encrypted, the quote comes back
/// encrypted), verified on the host against the PCR values the test reads.
fn attestation(x: &mut Ctx<'_>) -> Result {
    let auth = Auth::new(&random_bytes(10)).unwrap();
    let mut template = adapt(ecc_sign_template(false, &[]), x.c.hash);
    template.object_attributes |= ObjectAttributes::RESTRICTED;
    let (k, public) = primary(x.tpm, &template, &auth, &[]);
    let ak = AttestationKey::primary(Handle::RH_OWNER, public).expect("an attestation key");
    assert_eq!(ak.name(), &k.name);
    let sel = selection();
    let read = x.tpm.pcr_read(&sel)?;
    let expected = PcrValues::from_pcr_read(&read.pcr_selection_out, &read.pcr_values).unwrap();
    let nonce = random_bytes(32);
    x.ready(true, true)?;
    x.clear();
    let q = x.tpm.execute(
        &Quote {
            sign_handle: k.clone(),
            qualifying_data: Data::new(&nonce).unwrap(),
            in_scheme: SigScheme::Null,
            pcr_select: sel.clone(),
        },
        &mut [x.s.auth(&auth)],
    )?;
    assert!(!x.seen(&nonce), "the nonce crossed in clear");
    assert!(!x.seen(q.quoted.as_bytes()), "the quote crossed in clear");
    let report = verify_quote(&ak, q.quoted.as_bytes(), &q.signature, &nonce, &expected)
        .expect("the quote verifies");
    assert_eq!(report.pcr_select, sel);
    let mut stale = nonce.clone();
    stale[0] ^= 1;
    assert!(verify_quote(&ak, q.quoted.as_bytes(), &q.signature, &stale, &expected).is_err());
    flush(x.tpm, k.handle);
    Ok(())
}

/// A counter index: each NV_Increment through the session adds one, and NV_Read (the value
/// comes back encrypted) sees it.
fn nv_counter(x: &mut Ctx<'_>, index: u32) -> Result {
    let auth = Auth::new(&random_bytes(16)).unwrap();
    let access = match x.c.kind {
        Kind::Hmac => NvAttributes::AUTHREAD | NvAttributes::AUTHWRITE,
        Kind::Policy => NvAttributes::POLICYREAD | NvAttributes::POLICYWRITE,
    };
    let attributes = (access | NvAttributes::NO_DA).with_nv_type(NvType::COUNTER);
    let mut nv = define_nv(
        x.tpm,
        index,
        x.c.hash,
        attributes,
        &auth,
        &policy(x.c.hash),
        8,
    );
    let mut last = None;
    for round in 0..3 {
        x.ready(false, false)?;
        x.tpm.execute(
            &NvIncrement {
                auth_handle: nv.clone(),
                nv_index: nv.clone(),
            },
            &mut [x.s.auth(&auth)],
        )?;
        // The first increment sets TPMA_NV_WRITTEN, which changes the name.
        nv = x.tpm.nv_read_public(nv.handle)?.0;
        x.ready(false, true)?;
        let r = x.tpm.execute(
            &NvRead {
                auth_handle: nv.clone(),
                nv_index: nv.clone(),
                size: 8,
                offset: 0,
            },
            &mut [x.s.auth(&auth)],
        )?;
        let value = u64::from_be_bytes(r.data.as_bytes().try_into().expect("8 octets"));
        if let Some(previous) = last {
            assert_eq!(
                value,
                previous + 1,
                "round {round}: the counter went up by one"
            );
        }
        last = Some(value);
    }
    undefine_nv(x.tpm, &nv);
    Ok(())
}

fn run_combo(tpm: &Tpm, frames: &Frames, c: Combo, index: u32) -> Result {
    let parent_auth = Auth::new(&random_bytes(16)).unwrap();
    let parent_template = adapt(Public::ecc_p256_storage_parent(), c.hash);
    let (parent, _) = primary(tpm, &parent_template, &parent_auth, &[]);

    let salt = salt_key(tpm, c.salt);
    let mut opts = match c.kind {
        Kind::Hmac => SessionOptions::hmac(),
        Kind::Policy => SessionOptions::policy(),
    }
    .hash(c.hash)
    .symmetric(c.symmetric);
    if let Some(k) = &salt {
        opts = opts.salted(k.clone());
    }
    if c.bound {
        opts = opts.bound(parent.clone(), parent_auth.clone());
    } else if salt.is_none() {
        // An empty session key hides nothing from a bus observer: the test opts in.
        opts = opts.allow_unprotected_encryption();
    }
    let s = Session::start(tpm, &opts)?;
    // The session keeps the salt; the object slots are needed for the keys.
    if let Some(k) = salt {
        flush(tpm, k.entity().handle);
    }
    let mut x = Ctx { tpm, c, s, frames };

    object_admin_and_hashing(&mut x, &parent, &parent_auth)?;
    flush(tpm, parent.handle);
    signing(&mut x)?;
    asymmetric(&mut x)?;
    attestation(&mut x)?;
    nv_counter(&mut x, index)?;
    x.s.flush()?;
    Ok(())
}

fn run_all(kind: Kind) {
    let (_sim, tpm, frames) = swtpm_recording();
    let empty = Auth::empty();
    tpm.execute(
        &PcrExtend {
            pcr_handle: Entity::from_handle(Handle(u32::from(PCR))),
            digests: DigestValues::new(vec![
                HashValue::new(AlgId::SHA256, &random_bytes(32)).unwrap()
            ])
            .unwrap(),
        },
        &mut [SessionSlot::Password(&empty)],
    )
    .expect("PCR_Extend");
    let all = combos(kind);
    assert_eq!(all.len(), 54);
    for (i, c) in all.into_iter().enumerate() {
        if let Err(e) = run_combo(&tpm, &frames, c, NV_BASE + i as u32) {
            panic!("{c:?}: {e}");
        }
        frames.lock().unwrap().clear();
    }
    assert_nothing_loaded(&tpm);
}

#[test]
fn families_under_hmac_sessions() {
    run_all(Kind::Hmac);
}

#[test]
fn families_under_policy_sessions() {
    run_all(Kind::Policy);
}
