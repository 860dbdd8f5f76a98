//! Command audit, two-phase ECC, and hierarchy / PCR / platform administration against swtpm,
//! checked by what they mean: a command audit digest the host recomputes from the frames, ECC
//! values the host recomputes with p256, hierarchies that refuse and accept CreatePrimary,
//! seeds whose change changes the keys, and the TPM's documented answers where swtpm does not
//! implement a feature.

mod command_fixtures;
mod common;

use command_fixtures::*;
use common::*;
use p256::elliptic_curve::point::DecompressPoint;
use p256::elliptic_curve::sec1::ToEncodedPoint;
use p256::elliptic_curve::subtle::Choice;
use tpm2_wire::attest::convert::{verify_digest, verify_message};
use tpm2_wire::client::{Session, SessionOptions};
use tpm2_wire::command::{
    CertifyX509, ChangeEps, ChangePps, Clear, ClearControl, Commit, CreatePrimary, EcEphemeral,
    EccParameters, Entity, FlushContext, GetCapability, GetCommandAuditDigest, GetRandom,
    HierarchyControl, LoadExternal, PcrAllocate, PcrSetAuthPolicy, PcrSetAuthValue, PpCommands,
    ReadPublic, SetAlgorithmSet, SetCommandCodeAuditStatus, SetPrimaryPolicy, ZGen2Phase,
    ZGen2PhaseResponse,
};
use tpm2_wire::session::engine::SessionSlot;
use tpm2_wire::wire::{
    AlgId, Attestation, Attested, Auth, Capability, CapabilityData, CommandCode, CommandCodeList,
    Data, Digest, EccCurve, EccParameter, EccPoint, EccScheme, Handle, MaxBuffer, Name,
    ObjectAttributes, OptionalSensitive, PcrSelection, PcrSelectionList, Public, PublicKey,
    SeedValue, Sensitive, SensitiveComposite, SensitiveData, SigScheme, Tpm2bEccPoint, Tpm2bPublic,
    Tpm2bSensitiveCreate, TpmRc, Unmarshal,
};
use tpm2_wire::Tpm;

/// The host's digest with the audit hash.
fn audit_hash(alg: AlgId, parts: &[&[u8]]) -> Vec<u8> {
    host_hash(alg, &parts.concat())
}

/// The parameter areas of one recorded exchange: the command's after its handles (and
/// authorization area), the response's (without its authorization area).
fn parameter_areas(command: &[u8], response: &[u8], handles: usize) -> (Vec<u8>, Vec<u8>) {
    let sessions = command[..2] == [0x80, 0x02];
    let mut at = 10 + 4 * handles;
    if sessions {
        let auth_size = u32::from_be_bytes(command[at..at + 4].try_into().unwrap()) as usize;
        at += 4 + auth_size;
    }
    let cp = command[at..].to_vec();
    let rp = if sessions {
        let size = u32::from_be_bytes(response[10..14].try_into().unwrap()) as usize;
        response[14..14 + size].to_vec()
    } else {
        response[10..].to_vec()
    };
    (cp, rp)
}

/// One audited command as the TPM hashes it: cpHash = H(cc ‖ names ‖ parameters),
/// rpHash = H(TPM_RC_SUCCESS ‖ cc ‖ parameters), and the digest becomes H(old ‖ cpHash ‖ rpHash).
fn extend_audit(alg: AlgId, digest: &mut Vec<u8>, frame: &(Vec<u8>, Vec<u8>), names: &[&[u8]]) {
    let cc = &frame.0[6..10];
    let (cp_params, rp_params) = parameter_areas(&frame.0, &frame.1, names.len());
    let cp = audit_hash(alg, &[&[cc], names, &[&cp_params]].concat());
    let rp = audit_hash(alg, &[&[0u8; 4][..], cc, &rp_params]);
    *digest = audit_hash(alg, &[digest, &cp, &rp]);
}

fn audit_list(tpm: &Tpm) -> Vec<CommandCode> {
    let rsp = tpm
        .run(&GetCapability {
            capability: Capability::AUDIT_COMMANDS,
            property: 0,
            property_count: 256,
        })
        .expect("GetCapability(AUDIT_COMMANDS)");
    match rsp.capability_data {
        CapabilityData::AuditCommands(list) => list.iter().copied().collect(),
        other => panic!("{other:?}"),
    }
}

fn set_audit(
    tpm: &Tpm,
    alg: AlgId,
    set: &[CommandCode],
    clear: &[CommandCode],
) -> tpm2_wire::Result<()> {
    let owner = Auth::empty();
    tpm.execute(
        &SetCommandCodeAuditStatus {
            auth: Entity::owner(),
            audit_alg: alg,
            set_list: CommandCodeList::new(set.to_vec()).unwrap(),
            clear_list: CommandCodeList::new(clear.to_vec()).unwrap(),
        },
        &mut [SessionSlot::Password(&owner)],
    )
    .map(drop)
}

#[test]
fn the_command_audit_digest_is_the_hosts_chain_over_the_audited_commands() {
    let (_sim, tpm, frames) = swtpm_recording();
    let mut salted = salted_session(&tpm);
    let mut privacy = Session::start(&tpm, &SessionOptions::hmac()).expect("HMAC session");
    let empty = Auth::empty();
    let (signer, signer_public) = primary(&tpm, &ecc_sign_template(false, &[]), &empty, b"");

    let get_digest = |salted: &mut Session, privacy: &mut Session, nonce: &[u8]| {
        let rsp = tpm
            .execute(
                &GetCommandAuditDigest {
                    privacy_handle: Entity::endorsement(),
                    sign_handle: signer.clone(),
                    qualifying_data: Data::new(nonce).unwrap(),
                    in_scheme: SigScheme::Null,
                },
                // Two authorizations, each with its own session; the salted one encrypts.
                &mut [privacy.auth(&empty), salted.auth(&empty)],
            )
            .expect("GetCommandAuditDigest");
        verify_message(&signer_public, rsp.audit_info.as_bytes(), &rsp.signature)
            .expect("signed by the key");
        let attest = Attestation::from_bytes(rsp.audit_info.as_bytes()).expect("a TPMS_ATTEST");
        assert!(attest.is_tpm_generated());
        assert_eq!(attest.extra_data.as_bytes(), nonce);
        match attest.attested {
            Attested::CommandAudit(info) => info,
            other => panic!("{other:?}"),
        }
    };

    // Whatever hash the TPM audits with, switch to the other one: that clears the digest.
    let before = get_digest(&mut salted, &mut privacy, b"first");
    let alg = if before.digest_alg == AlgId::SHA256 {
        AlgId::SHA384
    } else {
        AlgId::SHA256
    };
    // The TPM does not change the hash and the list at once.
    assert_tpm_error(
        set_audit(&tpm, alg, &[CommandCode::GET_RANDOM], &[]),
        tpm2_wire::wire::TpmRc::VALUE,
    );
    set_audit(&tpm, alg, &[], &[]).expect("change the audit hash");

    frames.lock().unwrap().clear();
    let audited = [CommandCode::GET_RANDOM, CommandCode::READ_PUBLIC];
    set_audit(&tpm, AlgId::NULL, &audited, &[]).expect("audit GetRandom and ReadPublic");
    tpm.run(&GetRandom {
        bytes_requested: 20,
    })
    .unwrap();
    let read = tpm
        .run(&ReadPublic {
            object_handle: signer.clone(),
        })
        .unwrap();
    assert_eq!(read.name, signer.name);
    tpm.run(&GetRandom { bytes_requested: 7 }).unwrap();
    let recorded = frames.lock().unwrap().clone();
    assert_eq!(recorded.len(), 4);

    let info = get_digest(&mut salted, &mut privacy, b"second");
    assert_eq!(info.digest_alg, alg);
    assert_eq!(
        info.audit_counter,
        before.audit_counter + 1,
        "a new digest was started"
    );
    // SetCommandCodeAuditStatus is always audited, then the commands it added.
    let size = alg.digest_size().unwrap();
    let mut host = vec![0u8; size];
    let owner = Handle::RH_OWNER.0.to_be_bytes();
    extend_audit(alg, &mut host, &recorded[0], &[&owner]);
    extend_audit(alg, &mut host, &recorded[1], &[]);
    extend_audit(alg, &mut host, &recorded[2], &[signer.name.as_bytes()]);
    extend_audit(alg, &mut host, &recorded[3], &[]);
    assert_eq!(info.audit_digest.as_bytes(), host, "the host's audit chain");

    // commandDigest: the hash of the audit list, in the order GetCapability gives it.
    let list = audit_list(&tpm);
    for cc in audited
        .iter()
        .chain([&CommandCode::SET_COMMAND_CODE_AUDIT_STATUS])
    {
        assert!(list.contains(cc), "{cc} in {list:?}");
    }
    let bytes: Vec<u8> = list.iter().flat_map(|cc| cc.0.to_be_bytes()).collect();
    assert_eq!(info.command_digest.as_bytes(), host_hash(alg, &bytes));

    // Reading the digest cleared it; removing the commands stops their audit: only the
    // SetCommandCodeAuditStatus that removed them is in the next digest.
    frames.lock().unwrap().clear();
    set_audit(&tpm, AlgId::NULL, &[], &audited).expect("stop auditing");
    tpm.run(&GetRandom {
        bytes_requested: 20,
    })
    .unwrap();
    let recorded = frames.lock().unwrap().clone();
    assert!(!audit_list(&tpm).contains(&CommandCode::GET_RANDOM));
    let info2 = get_digest(&mut salted, &mut privacy, b"third");
    let mut host = vec![0u8; size];
    extend_audit(alg, &mut host, &recorded[0], &[&owner]);
    assert_eq!(info2.audit_digest.as_bytes(), host);
    assert_eq!(info2.audit_counter, info.audit_counter + 1);
}

// ---- ECC ----

/// A P-256 scalar the host knows, with its public point.
fn host_key() -> (p256::SecretKey, p256::AffinePoint) {
    loop {
        let bytes = random_bytes(32);
        if let Ok(sk) = p256::SecretKey::from_bytes(bytes.as_slice().into()) {
            let q = *sk.public_key().as_affine();
            return (sk, q);
        }
    }
}

/// ZGen_2Phase (ECDH) of `key_a` with the peer's static point `qs_b` and ephemeral point
/// `qe_b`, for the ephemeral key of `counter`.
fn zgen_2phase(
    tpm: &Tpm,
    key_a: &Entity,
    qs_b: Tpm2bEccPoint,
    qe_b: &p256::AffinePoint,
    counter: u16,
    slot: SessionSlot<'_>,
) -> tpm2_wire::Result<ZGen2PhaseResponse> {
    tpm.execute(
        &ZGen2Phase {
            key_a: key_a.clone(),
            in_qs_b: qs_b,
            in_qe_b: tpm_point(qe_b),
            in_scheme: AlgId::ECDH,
            counter,
        },
        &mut [slot],
    )
}

fn tpm_point(p: &p256::AffinePoint) -> Tpm2bEccPoint {
    let e = p.to_encoded_point(false);
    Tpm2bEccPoint(EccPoint {
        x: EccParameter::new(e.x().unwrap()).unwrap(),
        y: EccParameter::new(e.y().unwrap()).unwrap(),
    })
}

/// The TPM's point on the host; it must be on the curve.
fn host_point(p: &Tpm2bEccPoint) -> p256::AffinePoint {
    let e = p256::EncodedPoint::from_affine_coordinates(
        p.0.x.as_bytes().into(),
        p.0.y.as_bytes().into(),
        false,
    );
    *p256::PublicKey::from_sec1_bytes(e.as_bytes())
        .expect("a point on P-256")
        .as_affine()
}

fn mul(p: &p256::AffinePoint, k: &p256::SecretKey) -> p256::AffinePoint {
    (p256::ProjectivePoint::from(*p) * *k.to_nonzero_scalar()).to_affine()
}

/// Loads a P-256 key whose private scalar the host knows (TPM2_LoadExternal, null hierarchy),
/// as an ECDAA signing key (for Commit) or an ECDH key (for ZGen_2Phase).
fn external_key(tpm: &Tpm, sign: bool) -> (Entity, p256::SecretKey, p256::AffinePoint) {
    let (sk, q) = host_key();
    let (attribute, scheme) = if sign {
        (
            ObjectAttributes::SIGN_ENCRYPT,
            EccScheme::EcDaa {
                hash: AlgId::SHA256,
                count: 0,
            },
        )
    } else {
        (ObjectAttributes::DECRYPT, EccScheme::Null)
    };
    let public = Public {
        name_alg: AlgId::SHA256,
        object_attributes: ObjectAttributes::USER_WITH_AUTH | ObjectAttributes::NO_DA | attribute,
        auth_policy: Default::default(),
        key: PublicKey::Ecc {
            parameters: tpm2_wire::wire::EccParms {
                symmetric: tpm2_wire::wire::SymDefObject::Null,
                scheme,
                curve: EccCurve::NIST_P256,
                kdf: tpm2_wire::wire::KdfScheme::Null,
            },
            unique: tpm_point(&q).0,
        },
    };
    let sensitive = Sensitive {
        auth_value: Auth::empty(),
        seed_value: SeedValue::empty(),
        sensitive: SensitiveComposite::Ecc(
            tpm2_wire::wire::EccPrivateKey::new(&sk.to_bytes()).unwrap(),
        ),
    };
    let rsp = tpm
        .run(&LoadExternal {
            in_private: OptionalSensitive(Some(sensitive)),
            in_public: Tpm2bPublic(public),
            hierarchy: Handle::RH_NULL,
        })
        .expect("LoadExternal");
    (Entity::new(rsp.object_handle, rsp.name), sk, q)
}

fn x_of(p: &p256::AffinePoint) -> Vec<u8> {
    p.to_encoded_point(false).x().unwrap().to_vec()
}

fn y_of(p: &p256::AffinePoint) -> Vec<u8> {
    p.to_encoded_point(false).y().unwrap().to_vec()
}

#[test]
fn ecc_parameters_of_p256_are_the_standard_ones() {
    let (_sim, tpm) = swtpm();
    let d = tpm
        .run(&EccParameters {
            curve_id: EccCurve::NIST_P256,
        })
        .expect("ECC_Parameters")
        .parameters;
    let hex = |s: &str| -> Vec<u8> {
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect()
    };
    // SEC 2 / FIPS 186-4, curve P-256.
    assert_eq!(d.curve_id, EccCurve::NIST_P256);
    assert_eq!(d.key_size, 256);
    let p = "ffffffff00000001000000000000000000000000ffffffffffffffffffffffff";
    assert_eq!(d.p.as_bytes(), hex(p));
    let a = "ffffffff00000001000000000000000000000000fffffffffffffffffffffffc";
    assert_eq!(d.a.as_bytes(), hex(a));
    let b = "5ac635d8aa3a93e7b3ebbd55769886bc651d06b0cc53b0f63bce3c3e27d2604b";
    assert_eq!(d.b.as_bytes(), hex(b));
    let gx = "6b17d1f2e12c4247f8bce6e563a440f277037d812deb33a0f4a13945d898c296";
    assert_eq!(d.g_x.as_bytes(), hex(gx));
    let gy = "4fe342e2fe1a7f9b8ee7eb4a7c0f9e162bce33576b315ececbb6406837bf51f5";
    assert_eq!(d.g_y.as_bytes(), hex(gy));
    let n = "ffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551";
    assert_eq!(d.n.as_bytes(), hex(n));
    // The cofactor is 1 (written as 1, or as an empty buffer meaning 1).
    assert!(matches!(d.h.as_bytes(), [] | [1]), "{:?}", d.h);
    // A curve the TPM does not have.
    assert_tpm_error(
        tpm.run(&EccParameters {
            curve_id: EccCurve(0x7777),
        }),
        TpmRc::CURVE,
    );
}

#[test]
fn zgen_2phase_gives_the_hosts_shared_points_once_per_ephemeral_key() {
    let (_sim, tpm, frames) = swtpm_recording();
    let mut salted = salted_session(&tpm);
    // The TPM's static key; its scalar stays unused so that Z1 is checked from B's side.
    let (key_a, _, qs_a) = external_key(&tpm, false);
    let (ds_b, qs_b) = host_key();
    let (de_b, qe_b) = host_key();

    frames.lock().unwrap().clear();
    let eph = tpm
        .execute(
            &EcEphemeral {
                curve_id: EccCurve::NIST_P256,
            },
            &mut [salted.extra()],
        )
        .expect("EC_Ephemeral");
    let qe_a = host_point(&eph.q);
    // Q went back encrypted.
    assert!(!contains(
        &frames.lock().unwrap()[0].1,
        eph.q.0.x.as_bytes()
    ));

    let empty = Auth::empty();
    frames.lock().unwrap().clear();
    let z = zgen_2phase(
        &tpm,
        &key_a,
        tpm_point(&qs_b),
        &qe_b,
        eph.counter,
        salted.auth(&empty),
    )
    .expect("ZGen_2Phase");
    // Z1 = [dsA]QsB = [dsB]QsA; Z2 = [deA]QeB = [deB]QeA.
    let z1 = mul(&qs_a, &ds_b);
    let z2 = mul(&qe_a, &de_b);
    assert_eq!(z.out_z1.x.as_bytes(), x_of(&z1));
    assert_eq!(z.out_z1.y.as_bytes(), y_of(&z1));
    assert_eq!(z.out_z2.x.as_bytes(), x_of(&z2));
    assert_eq!(z.out_z2.y.as_bytes(), y_of(&z2));
    let (command, response) = frames.lock().unwrap()[0].clone();
    assert!(!contains(&command, &x_of(&qs_b)), "QsB went in encrypted");
    assert!(!contains(&response, &x_of(&z1)), "Z1 came back encrypted");

    // The ephemeral key is used up.
    assert_tpm_error(
        zgen_2phase(
            &tpm,
            &key_a,
            tpm_point(&qs_b),
            &qe_b,
            eph.counter,
            SessionSlot::Password(&empty),
        ),
        TpmRc::VALUE,
    );
    // A point off the curve is refused.
    let mut off = tpm_point(&qs_b);
    off.0.y = EccParameter::new(&[0x11; 32]).unwrap();
    let eph = tpm
        .run(&EcEphemeral {
            curve_id: EccCurve::NIST_P256,
        })
        .unwrap();
    assert_tpm_error(
        zgen_2phase(
            &tpm,
            &key_a,
            off,
            &qe_b,
            eph.counter,
            SessionSlot::Password(&empty),
        ),
        TpmRc::ECC_POINT,
    );
    tpm.run(&FlushContext {
        flush_handle: key_a.handle,
    })
    .unwrap();
}

/// s2 whose hash is the x coordinate of a P-256 point, and that point's y (TPM2_Commit
/// hashes s2 to x2 and takes y2 from the caller).
fn point_from_s2() -> (Vec<u8>, p256::AffinePoint) {
    loop {
        let s2 = random_bytes(16);
        let x = host_hash(AlgId::SHA256, &s2);
        let p = p256::AffinePoint::decompress(x.as_slice().into(), Choice::from(0));
        if let Some(p) = Option::<p256::AffinePoint>::from(p) {
            return (s2, p);
        }
    }
}

#[test]
fn commit_gives_k_for_the_keys_scalar_and_one_r_for_e_and_l() {
    let (_sim, tpm) = swtpm();
    let mut salted = salted_session(&tpm);
    let (key, d, q) = external_key(&tpm, true);
    let empty = Auth::empty();
    let (s2, p2) = point_from_s2();

    // P1 = P2, so E = [r]P1 and L = [r]P2 are the same point; K = [d]P2.
    let c = tpm
        .execute(
            &Commit {
                sign_handle: key.clone(),
                p1: tpm_point(&p2),
                s2: SensitiveData::new(&s2).unwrap(),
                y2: EccParameter::new(&y_of(&p2)).unwrap(),
            },
            &mut [salted.auth(&empty)],
        )
        .expect("Commit");
    assert_eq!(host_point(&c.k), mul(&p2, &d), "K = [d]P2");
    assert_eq!(host_point(&c.e), host_point(&c.l), "E = L = [r]P2");
    assert_ne!(host_point(&c.e), q);

    // Without P1 or s2: only E = [r]G, and each commit has a new counter and r.
    let bare = |tpm: &Tpm| {
        tpm.execute(
            &Commit {
                sign_handle: key.clone(),
                p1: Tpm2bEccPoint::default(),
                s2: SensitiveData::empty(),
                y2: EccParameter::empty(),
            },
            &mut [SessionSlot::Password(&empty)],
        )
        .expect("Commit without points")
    };
    let c1 = bare(&tpm);
    let c2 = bare(&tpm);
    assert!(c1.k.0.x.is_empty() && c1.l.0.x.is_empty());
    host_point(&c1.e);
    assert_ne!(c1.counter, c2.counter);
    assert_ne!(c1.e, c2.e);

    // s2 whose hash with y2 is not a point.
    let mut y = y_of(&p2);
    y[31] ^= 1;
    assert_tpm_error(
        tpm.execute(
            &Commit {
                sign_handle: key.clone(),
                p1: Tpm2bEccPoint::default(),
                s2: SensitiveData::new(&s2).unwrap(),
                y2: EccParameter::new(&y).unwrap(),
            },
            &mut [SessionSlot::Password(&empty)],
        ),
        TpmRc::ECC_POINT,
    );
}

// ---- Hierarchies, seeds, PCRs and the platform ----

/// TPM2_CreatePrimary of an ECC storage key under `hierarchy`, authorized by `slot`; its name
/// if the TPM made it (the key is flushed again).
fn primary_under(tpm: &Tpm, hierarchy: Entity, slot: SessionSlot<'_>) -> tpm2_wire::Result<Name> {
    let rsp = tpm.execute(
        &CreatePrimary {
            primary_handle: hierarchy,
            in_sensitive: Tpm2bSensitiveCreate::default(),
            in_public: Tpm2bPublic(Public::ecc_p256_storage_parent()),
            outside_info: Data::empty(),
            creation_pcr: PcrSelectionList::default(),
        },
        &mut [slot],
    )?;
    tpm.run(&FlushContext {
        flush_handle: rsp.object_handle,
    })
    .expect("flush the primary");
    Ok(rsp.name)
}

fn with_password<C: tpm2_wire::command::Command>(
    tpm: &Tpm,
    cmd: &C,
) -> tpm2_wire::Result<C::Response> {
    let empty = Auth::empty();
    tpm.execute(cmd, &mut [SessionSlot::Password(&empty)])
}

fn hierarchy_control(tpm: &Tpm, by: Entity, which: Handle, state: bool) -> tpm2_wire::Result<()> {
    with_password(
        tpm,
        &HierarchyControl {
            auth_handle: by,
            enable: which,
            state,
        },
    )
    .map(drop)
}

#[test]
fn a_disabled_hierarchy_refuses_create_primary_until_the_platform_enables_it() {
    let (_sim, tpm) = swtpm();
    let empty = Auth::empty();
    let mut h = Session::start(&tpm, &SessionOptions::hmac()).unwrap();
    for (entity, handle) in [
        (Entity::owner(), Handle::RH_OWNER),
        (Entity::endorsement(), Handle::RH_ENDORSEMENT),
    ] {
        let name = primary_under(&tpm, entity.clone(), SessionSlot::Password(&empty))
            .expect("CreatePrimary while enabled");
        // The platform disables it, under an HMAC session.
        tpm.execute(
            &HierarchyControl {
                auth_handle: Entity::platform(),
                enable: handle,
                state: false,
            },
            &mut [h.auth(&empty)],
        )
        .expect("HierarchyControl(platform, disable)");
        assert_tpm_error(
            primary_under(&tpm, entity.clone(), SessionSlot::Password(&empty)),
            TpmRc::HIERARCHY,
        );
        // A disabled hierarchy cannot authorize anything, not even its own re-enabling.
        assert_tpm_error(
            hierarchy_control(&tpm, entity.clone(), handle, true),
            TpmRc::HIERARCHY,
        );
        hierarchy_control(&tpm, Entity::platform(), handle, true).expect("platform re-enables");
        assert_eq!(
            primary_under(&tpm, entity.clone(), SessionSlot::Password(&empty)).unwrap(),
            name,
            "the same seed makes the same primary"
        );
        // A hierarchy may disable itself.
        hierarchy_control(&tpm, entity.clone(), handle, false).expect("disable itself");
        assert_tpm_error(
            primary_under(&tpm, entity.clone(), SessionSlot::Password(&empty)),
            TpmRc::HIERARCHY,
        );
        hierarchy_control(&tpm, Entity::platform(), handle, true).unwrap();
    }
    // The owner may not disable the endorsement hierarchy.
    assert!(hierarchy_control(&tpm, Entity::owner(), Handle::RH_ENDORSEMENT, false).is_err());
    primary_under(&tpm, Entity::endorsement(), SessionSlot::Password(&empty))
        .expect("endorsement still enabled");
}

#[test]
fn clear_control_disables_clear_and_only_the_platform_allows_it_again() {
    let (_sim, tpm) = swtpm();
    let clear = |tpm: &Tpm| {
        with_password(
            tpm,
            &Clear {
                auth_handle: Entity::lockout(),
            },
        )
    };
    let control = |tpm: &Tpm, by: Entity, disable: bool| {
        with_password(tpm, &ClearControl { auth: by, disable })
    };
    control(&tpm, Entity::lockout(), true).expect("lockout disables Clear");
    assert_tpm_error(clear(&tpm), TpmRc::DISABLED);
    // Part 3: lockout may only set disableClear.
    assert_tpm_error(control(&tpm, Entity::lockout(), false), TpmRc::AUTH_FAIL);
    assert_tpm_error(clear(&tpm), TpmRc::DISABLED);
    control(&tpm, Entity::platform(), false).expect("the platform allows Clear again");
    clear(&tpm).expect("Clear");
    // Neither refusal counted as a failed authorization.
    assert_eq!(lockout_counter(&tpm), 0);
    control(&tpm, Entity::platform(), true).expect("the platform disables Clear");
    assert_tpm_error(clear(&tpm), TpmRc::DISABLED);
}

#[test]
fn a_hierarchy_policy_set_with_set_primary_policy_authorizes_it() {
    let (_sim, tpm, frames) = swtpm_recording();
    let mut salted = salted_session(&tpm);
    let empty = Auth::empty();
    let policy = policy_command_code_digest(CommandCode::CREATE_PRIMARY);
    let with_policy = |tpm: &Tpm, code: CommandCode| {
        let mut s = Session::start(tpm, &SessionOptions::policy()).unwrap();
        s.policy_command_code(code).unwrap();
        let r = primary_under(tpm, Entity::owner(), s.auth(&empty));
        s.flush().unwrap();
        r
    };
    // No policy yet: a policy session cannot authorize the owner.
    assert!(with_policy(&tpm, CommandCode::CREATE_PRIMARY).is_err());

    frames.lock().unwrap().clear();
    tpm.execute(
        &SetPrimaryPolicy {
            auth_handle: Entity::owner(),
            auth_policy: Digest::new(&policy).unwrap(),
            hash_alg: AlgId::SHA256,
        },
        &mut [salted.auth(&empty)],
    )
    .expect("SetPrimaryPolicy");
    assert!(
        !contains(&frames.lock().unwrap()[0].0, &policy),
        "the policy went in encrypted"
    );
    let by_policy = with_policy(&tpm, CommandCode::CREATE_PRIMARY).expect("the policy authorizes");
    let by_password = primary_under(&tpm, Entity::owner(), SessionSlot::Password(&empty)).unwrap();
    assert_eq!(by_policy, by_password);
    // Another policy does not.
    assert_tpm_error(with_policy(&tpm, CommandCode::CREATE), TpmRc::POLICY_FAIL);
    // A digest of the wrong size for the hash is refused.
    assert_tpm_error(
        with_password(
            &tpm,
            &SetPrimaryPolicy {
                auth_handle: Entity::owner(),
                auth_policy: Digest::new(&policy[..20]).unwrap(),
                hash_alg: AlgId::SHA256,
            },
        ),
        TpmRc::SIZE,
    );
    // Removed again: the policy session no longer authorizes.
    with_password(
        &tpm,
        &SetPrimaryPolicy {
            auth_handle: Entity::owner(),
            auth_policy: Digest::empty(),
            hash_alg: AlgId::NULL,
        },
    )
    .expect("remove the policy");
    assert!(with_policy(&tpm, CommandCode::CREATE_PRIMARY).is_err());
}

#[test]
fn change_eps_and_pps_change_only_their_hierarchys_primaries() {
    let (_sim, tpm) = swtpm();
    let empty = Auth::empty();
    let names = |tpm: &Tpm| -> Vec<Name> {
        [Entity::owner(), Entity::endorsement(), Entity::platform()]
            .into_iter()
            .map(|h| primary_under(tpm, h, SessionSlot::Password(&empty)).expect("CreatePrimary"))
            .collect()
    };
    let before = names(&tpm);
    let mut h = Session::start(&tpm, &SessionOptions::hmac()).unwrap();
    let change_eps = ChangeEps {
        auth_handle: Entity::platform(),
    };
    tpm.execute(&change_eps, &mut [h.auth(&empty)])
        .expect("ChangeEPS");
    let after_eps = names(&tpm);
    assert_eq!(after_eps[0], before[0], "owner primary unchanged");
    assert_ne!(after_eps[1], before[1], "a new endorsement seed");
    assert_eq!(after_eps[2], before[2], "platform primary unchanged");
    let change_pps = ChangePps {
        auth_handle: Entity::platform(),
    };
    tpm.execute(&change_pps, &mut [h.auth(&empty)])
        .expect("ChangePPS");
    let after_pps = names(&tpm);
    assert_eq!(after_pps[..2], after_eps[..2]);
    assert_ne!(after_pps[2], after_eps[2], "a new platform seed");
    // Only the platform changes seeds.
    assert_tpm_error(
        with_password(
            &tpm,
            &ChangeEps {
                auth_handle: Entity::endorsement(),
            },
        ),
        TpmRc::VALUE,
    );
}

fn pcr_banks(tpm: &Tpm) -> PcrSelectionList {
    match tpm
        .run(&GetCapability {
            capability: Capability::PCRS,
            property: 0,
            property_count: 8,
        })
        .unwrap()
        .capability_data
    {
        CapabilityData::Pcrs(list) => list,
        other => panic!("{other:?}"),
    }
}

#[test]
fn pcr_allocate_reports_a_possible_allocation_for_the_next_reset() {
    let (_sim, tpm) = swtpm();
    let banks = pcr_banks(&tpm);
    let mut sel = PcrSelectionList::default();
    let all: Vec<u8> = (0..24).collect();
    sel.push(PcrSelection::new(AlgId::SHA256, &all).unwrap())
        .unwrap();
    sel.push(PcrSelection::new(AlgId::SHA1, &[]).unwrap())
        .unwrap();
    let rsp = with_password(
        &tpm,
        &PcrAllocate {
            auth_handle: Entity::platform(),
            pcr_allocation: sel,
        },
    )
    .expect("PCR_Allocate");
    assert!(rsp.allocation_success);
    assert_eq!(rsp.max_pcr, 24);
    assert!(
        rsp.size_needed > 0 && rsp.size_needed <= rsp.size_available,
        "{rsp:?}"
    );
    // Until the next TPM Reset the banks stay as they were.
    assert_eq!(pcr_banks(&tpm), banks);
    // Only the platform allocates.
    assert!(with_password(
        &tpm,
        &PcrAllocate {
            auth_handle: Entity::owner(),
            pcr_allocation: PcrSelectionList::default(),
        },
    )
    .is_err());
}

#[test]
fn pcr_auth_values_and_policies_apply_to_the_pcrs_groups_only() {
    let (_sim, tpm) = swtpm();
    let mut salted = salted_session(&tpm);
    let empty = Auth::empty();
    let a = Auth::new(b"pcr group auth a").unwrap();
    let b = Auth::new(b"pcr group auth b").unwrap();
    let set_value = |s: &mut Session, pcr: u32, old: &Auth, new: &Auth| {
        tpm.execute(
            &PcrSetAuthValue {
                pcr_handle: Entity::from_handle(Handle(pcr)),
                auth: new.clone(),
            },
            &mut [s.auth(old)],
        )
    };
    // PCR 20 is in swtpm's authorization group: the response HMAC is keyed with the new
    // value, which the next change then needs.
    set_value(&mut salted, 20, &empty, &a).expect("PCR_SetAuthValue(20)");
    set_value(&mut salted, 20, &a, &b).expect("authorized with the new value");
    let mut h = Session::start(&tpm, &SessionOptions::hmac()).unwrap();
    assert!(
        set_value(&mut h, 20, &a, &a).is_err(),
        "the old value is gone"
    );
    if lockout_counter(&tpm) > 0 {
        reset_lockout(&tpm);
    }
    set_value(&mut salted, 20, &b, &empty).expect("back to empty");
    // PCR 16 is in no group (TPM_RC_VALUE).
    assert_tpm_error(set_value(&mut salted, 16, &empty, &a), TpmRc::VALUE);

    // A policy for PCR 20's group: the policy authorizes, the auth value no longer does.
    let policy = policy_command_code_digest(CommandCode::PCR_SET_AUTH_VALUE);
    let set_policy = |pcr: u32| {
        with_password(
            &tpm,
            &PcrSetAuthPolicy {
                auth_handle: Entity::platform(),
                auth_policy: Digest::new(&policy).unwrap(),
                hash_alg: AlgId::SHA256,
                pcr_num: Handle(pcr),
            },
        )
    };
    assert_tpm_error(set_policy(16), TpmRc::VALUE);
    set_policy(20).expect("PCR_SetAuthPolicy(20)");
    assert_tpm_error(set_value(&mut salted, 20, &empty, &a), TpmRc::AUTH_TYPE);
    let mut p = Session::start(&tpm, &SessionOptions::policy()).unwrap();
    p.policy_command_code(CommandCode::PCR_SET_AUTH_VALUE)
        .unwrap();
    set_value(&mut p, 20, &empty, &a).expect("authorized by the group's policy");
    assert_eq!(lockout_counter(&tpm), 0);
}

#[test]
fn pp_commands_needs_physical_presence_and_set_algorithm_set_the_platform() {
    let (_sim, tpm) = swtpm();
    let pp_list = |tpm: &Tpm| match tpm
        .run(&GetCapability {
            capability: Capability::PP_COMMANDS,
            property: 0,
            property_count: 256,
        })
        .unwrap()
        .capability_data
    {
        CapabilityData::PpCommands(list) => list,
        other => panic!("{other:?}"),
    };
    let before = pp_list(&tpm);
    // swtpm never asserts physical presence: TPM_RC_PP, and the list stays.
    assert_tpm_error(
        with_password(
            &tpm,
            &PpCommands {
                auth: Entity::platform(),
                set_list: CommandCodeList::new(vec![CommandCode::CLEAR]).unwrap(),
                clear_list: CommandCodeList::default(),
            },
        ),
        TpmRc::PP,
    );
    assert_eq!(pp_list(&tpm), before);

    let mut h = Session::start(&tpm, &SessionOptions::hmac()).unwrap();
    let empty = Auth::empty();
    tpm.execute(
        &SetAlgorithmSet {
            auth_handle: Entity::platform(),
            algorithm_set: 1,
        },
        &mut [h.auth(&empty)],
    )
    .expect("SetAlgorithmSet");
    // The owner may not.
    assert!(with_password(
        &tpm,
        &SetAlgorithmSet {
            auth_handle: Entity::owner(),
            algorithm_set: 1,
        },
    )
    .is_err());
}

// ---- CertifyX509 ----

/// A DER element: tag, definite length, content.
fn der(tag: u8, content: &[u8]) -> Vec<u8> {
    let mut out = vec![tag];
    let len = content.len();
    if len < 0x80 {
        out.push(len as u8);
    } else if len < 0x100 {
        out.extend([0x81, len as u8]);
    } else {
        out.extend([0x82, (len >> 8) as u8, len as u8]);
    }
    out.extend_from_slice(content);
    out
}

/// The DER elements one after another in `bytes`, each with its tag and length.
fn der_elements(mut bytes: &[u8]) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    while !bytes.is_empty() {
        let (len, header) = match bytes[1] {
            n if n < 0x80 => (n as usize, 2),
            0x81 => (bytes[2] as usize, 3),
            0x82 => (((bytes[2] as usize) << 8) | bytes[3] as usize, 4),
            other => panic!("length form {other:#x}"),
        };
        out.push(bytes[..header + len].to_vec());
        bytes = &bytes[header + len..];
    }
    out
}

/// The content of one DER element.
fn der_content(element: &[u8]) -> &[u8] {
    let header = match element[1] {
        n if n < 0x80 => 2,
        0x81 => 3,
        _ => 4,
    };
    &element[header..]
}

fn common_name(cn: &str) -> Vec<u8> {
    let oid_cn = der(0x06, &[0x55, 0x04, 0x03]);
    let atv = der(0x30, &[oid_cn, der(0x0C, cn.as_bytes())].concat());
    der(0x30, &der(0x31, &atv))
}

#[test]
fn certify_x509_completes_and_signs_a_partial_certificate() {
    let (_sim, tpm, frames) = swtpm_recording();
    let mut salted = salted_session(&tpm);
    let mut h = Session::start(&tpm, &SessionOptions::hmac()).unwrap();
    let empty = Auth::empty();
    let (object, object_public) = primary(&tpm, &ecc_sign_template(false, &[]), &empty, b"");
    // Another template (an authPolicy) makes another key.
    let (signer, signer_public) = primary(&tpm, &ecc_sign_template(false, &[7; 32]), &empty, b"");
    assert_ne!(object.name, signer.name);

    let issuer = common_name("tpm2-wire test issuer");
    let validity = der(
        0x30,
        &[der(0x17, b"250101000000Z"), der(0x17, b"350101000000Z")].concat(),
    );
    let subject = common_name("tpm2-wire test subject");
    // keyUsage (critical): digitalSignature, which a signing key allows.
    let key_usage = der(
        0x30,
        &[
            der(0x06, &[0x55, 0x1D, 0x0F]),
            der(0x01, &[0xFF]),
            der(0x04, &der(0x03, &[0x07, 0x80])),
        ]
        .concat(),
    );
    let extensions = der(0xA3, &der(0x30, &key_usage));
    let partial = der(
        0x30,
        &[
            issuer.clone(),
            validity.clone(),
            subject.clone(),
            extensions.clone(),
        ]
        .concat(),
    );

    let certify = |s1: &mut Session, s2: &mut Session, partial: &[u8], reserved: &[u8]| {
        tpm.execute(
            &CertifyX509 {
                object_handle: object.clone(),
                sign_handle: signer.clone(),
                reserved: Data::new(reserved).unwrap(),
                in_scheme: SigScheme::Null,
                partial_certificate: MaxBuffer::new(partial).unwrap(),
            },
            // Two authorizations with two sessions; the salted one encrypts both ways.
            &mut [s1.auth(&empty), s2.auth(&empty)],
        )
    };
    frames.lock().unwrap().clear();
    let rsp = certify(&mut h, &mut salted, &partial, b"").expect("CertifyX509");
    let (command, response) = frames.lock().unwrap()[0].clone();
    assert!(
        contains(&command, &partial),
        "the certificate is not secret"
    );
    assert!(!contains(&response, rsp.added_to_certificate.as_bytes()));

    // The signature is over tbsDigest, by the signing key.
    verify_digest(&signer_public, rsp.tbs_digest.as_bytes(), &rsp.signature)
        .expect("signed by signHandle");
    // What the TPM added: version, serial number, signature algorithm and the object's
    // public key; with the caller's fields in RFC 5280 order they make the TBSCertificate
    // whose digest was signed.
    let added = der_elements(rsp.added_to_certificate.as_bytes());
    assert_eq!(added.len(), 1, "one SEQUENCE");
    let added = der_elements(der_content(&added[0]));
    assert_eq!(added.len(), 4, "{added:02x?}");
    let (version, serial, sig_alg, spki) = (&added[0], &added[1], &added[2], &added[3]);
    assert_eq!(version[0], 0xA0, "[0] version");
    assert_eq!(serial[0], 0x02, "serialNumber");
    let PublicKey::Ecc { unique, .. } = &object_public.key else {
        panic!()
    };
    assert!(contains(spki, unique.x.as_bytes()) && contains(spki, unique.y.as_bytes()));
    let tbs = der(
        0x30,
        &[
            version.clone(),
            serial.clone(),
            sig_alg.clone(),
            issuer,
            validity,
            subject,
            spki.clone(),
            extensions,
        ]
        .concat(),
    );
    assert_eq!(rsp.tbs_digest.as_bytes(), host_hash(AlgId::SHA256, &tbs));

    // The reserved field must be empty; a partial certificate that is no DER is refused.
    assert!(certify(&mut h, &mut salted, &partial, b"x").is_err());
    assert!(certify(&mut h, &mut salted, b"not a certificate", b"").is_err());
}
