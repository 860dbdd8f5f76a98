//! PCR events and resets, the clock, self tests, StirRandom, TestParms, ObjectChangeAuth and
//! CreateLoaded against swtpm, checked by what they mean: PCR values the host computes, a
//! clock that only moves forward, parameter sets the TPM does and does not support, and
//! auth values that do and do not open an object.

mod command_fixtures;
mod common;

use command_fixtures::*;
use common::*;
use tpm2_wire::client::{object_name, Session, SessionOptions};
use tpm2_wire::command::{
    ClockRateAdjust, ClockSet, Entity, GetRandom, GetTestResult, IncrementalSelfTest, Load,
    ObjectChangeAuth, PcrEvent, PcrExtend, PcrRead, PcrReset, ReadClock, SelfTest, StirRandom,
    TestParms, Unseal,
};
use tpm2_wire::session::engine::SessionSlot;
use tpm2_wire::wire::{
    AlgId, AlgList, Auth, ClockAdjust, DigestValues, EccCurve, EccParms, EccScheme, Event, Handle,
    HashValue, KdfScheme, KeyedHashParms, KeyedHashScheme, ObjectAttributes, PcrSelection,
    PcrSelectionList, Private, Public, PublicKey, PublicParms, RsaParms, RsaScheme, SensitiveData,
    SymCipher, SymCipherParms, SymDefObject, Template, TimeInfo, Tpm2bPublic, TpmRc,
};
use tpm2_wire::{Error, Tpm};

const BANKS: [AlgId; 4] = [AlgId::SHA1, AlgId::SHA256, AlgId::SHA384, AlgId::SHA512];

/// PCR `pcr` in each bank the TPM has allocated, by bank.
fn pcr_values(tpm: &Tpm, pcr: u8) -> Vec<(AlgId, Vec<u8>)> {
    let mut out = Vec::new();
    for bank in BANKS {
        let mut sel = PcrSelectionList::default();
        sel.push(PcrSelection::new(bank, &[pcr]).unwrap()).unwrap();
        let read = tpm
            .run(&PcrRead {
                pcr_selection_in: sel,
            })
            .expect("PCR_Read");
        if let Some(v) = read.pcr_values.first() {
            out.push((bank, v.as_bytes().to_vec()));
        }
    }
    assert!(!out.is_empty(), "no PCR bank allocated");
    out
}

fn reset(tpm: &Tpm, pcr: u32) -> tpm2_wire::Result<()> {
    let empty = Auth::empty();
    tpm.execute(
        &PcrReset {
            pcr_handle: Entity::from_handle(Handle(pcr)),
        },
        &mut [SessionSlot::Password(&empty)],
    )
    .map(drop)
}

#[test]
fn pcr_event_extends_host_digests_and_reset_clears_them() {
    let (_sim, tpm, frames) = swtpm_recording();
    let mut s = salted_session(&tpm);
    let empty = Auth::empty();
    for pcr in [16u8, 23] {
        // Something in every bank first, so the reset has something to clear.
        let mut digests = Vec::new();
        for bank in BANKS {
            let size = bank.digest_size().unwrap();
            digests.push(HashValue::new(bank, &vec![0x5A; size]).unwrap());
        }
        tpm.execute(
            &PcrExtend {
                pcr_handle: Entity::from_handle(Handle(pcr.into())),
                digests: DigestValues::new(digests).unwrap(),
            },
            &mut [SessionSlot::Password(&empty)],
        )
        .expect("PCR_Extend");
        assert!(pcr_values(&tpm, pcr)
            .iter()
            .all(|(_, v)| v.iter().any(|&b| b != 0)));
        reset(&tpm, pcr.into()).expect("PCR_Reset");
        for (bank, v) in pcr_values(&tpm, pcr) {
            assert_eq!(v, vec![0u8; v.len()], "PCR {pcr} {bank} after reset");
        }

        // The event data goes in encrypted.
        let data = random_bytes(1024);
        frames.lock().unwrap().clear();
        let event = tpm
            .execute(
                &PcrEvent {
                    pcr_handle: Entity::from_handle(Handle(pcr.into())),
                    event_data: Event::new(&data).unwrap(),
                },
                &mut [s.auth(&empty)],
            )
            .expect("PCR_Event");
        assert!(!contains(&frames.lock().unwrap()[0].0, &data[..64]));
        check_event_digests(&tpm, pcr, &event.digests, &data);

        reset(&tpm, pcr.into()).expect("PCR_Reset");
        for (bank, v) in pcr_values(&tpm, pcr) {
            assert_eq!(v, vec![0u8; v.len()], "PCR {pcr} {bank} after reset");
        }
    }
    // Event on TPM_RH_NULL: the digests, and no PCR touched.
    let before = pcr_values(&tpm, 16);
    let event = tpm
        .execute(
            &PcrEvent {
                pcr_handle: Entity::null(),
                event_data: Event::new(b"just hash it").unwrap(),
            },
            &mut [SessionSlot::Password(&empty)],
        )
        .unwrap();
    for d in event.digests.iter() {
        assert_eq!(d.digest(), host_hash(d.alg(), b"just hash it"));
    }
    assert_eq!(pcr_values(&tpm, 16), before);
    // PCR 0 is not resettable from locality 0.
    assert_tpm_error(reset(&tpm, 0), TpmRc::LOCALITY);
}

fn read_clock(tpm: &Tpm) -> TimeInfo {
    tpm.run(&ReadClock {}).expect("ReadClock").current_time
}

fn clock_set(tpm: &Tpm, new_time: u64, slot: SessionSlot<'_>) -> tpm2_wire::Result<()> {
    tpm.execute(
        &ClockSet {
            auth: Entity::owner(),
            new_time,
        },
        &mut [slot],
    )
    .map(drop)
}

#[test]
fn the_clock_moves_forward_only() {
    let (_sim, tpm) = swtpm();
    let owner = Auth::empty();
    let mut h = Session::start(&tpm, &SessionOptions::hmac()).unwrap();
    let t1 = read_clock(&tpm);
    std::thread::sleep(std::time::Duration::from_millis(30));
    let t2 = read_clock(&tpm);
    assert!(t2.time >= t1.time + 30, "{t1:?} then {t2:?}");
    assert!(t2.clock_info.clock >= t1.clock_info.clock + 30);
    assert_eq!(t2.clock_info.reset_count, t1.clock_info.reset_count);

    // An hour ahead.
    let ahead = t2.clock_info.clock + 3_600_000;
    clock_set(&tpm, ahead, h.auth(&owner)).expect("ClockSet");
    let t3 = read_clock(&tpm);
    assert!(
        (ahead..ahead + 60_000).contains(&t3.clock_info.clock),
        "{t3:?}"
    );
    // Time since the last reset is not the clock: it did not jump.
    assert!(t3.time < t2.time + 60_000, "{t3:?}");
    // Back to where it was before, or beyond the limit, is refused.
    assert_tpm_error(
        clock_set(&tpm, t2.clock_info.clock, SessionSlot::Password(&owner)),
        TpmRc::VALUE,
    );
    assert_tpm_error(
        clock_set(&tpm, u64::MAX, SessionSlot::Password(&owner)),
        TpmRc::VALUE,
    );
    assert!(read_clock(&tpm).clock_info.clock >= t3.clock_info.clock);

    // Every defined rate adjustment is accepted, anything else refused.
    for adjust in -3..=3 {
        tpm.execute(
            &ClockRateAdjust {
                auth: Entity::owner(),
                rate_adjust: ClockAdjust(adjust),
            },
            &mut [h.auth(&owner)],
        )
        .unwrap_or_else(|e| panic!("{}: {e}", ClockAdjust(adjust)));
    }
    for adjust in [4, -4, i8::MIN] {
        assert_tpm_error(
            tpm.execute(
                &ClockRateAdjust {
                    auth: Entity::owner(),
                    rate_adjust: ClockAdjust(adjust),
                },
                &mut [SessionSlot::Password(&owner)],
            ),
            TpmRc::VALUE,
        );
    }
    assert!(read_clock(&tpm).clock_info.clock >= t3.clock_info.clock);
}

fn test_parms(tpm: &Tpm, parameters: PublicParms) -> tpm2_wire::Result<()> {
    tpm.run(&TestParms { parameters }).map(drop)
}

#[test]
fn test_parms_tells_supported_from_unsupported() {
    let (_sim, tpm) = swtpm();
    for template in [
        Public::rsa_2048_storage_parent(),
        Public::ecc_p256_storage_parent(),
        Public::hmac_key(AlgId::SHA256, AlgId::SHA384),
        aes_key_template(AlgId::CFB),
        rsa_decrypt_template(),
    ] {
        let parms = PublicParms::from(&template.key);
        test_parms(&tpm, parms).unwrap_or_else(|e| panic!("{parms:?}: {e}"));
    }
    let rsa = |key_bits| {
        PublicParms::Rsa(RsaParms {
            symmetric: SymDefObject::Null,
            scheme: RsaScheme::Null,
            key_bits,
            exponent: 0,
        })
    };
    test_parms(&tpm, rsa(3072)).expect("RSA-3072");
    assert_tpm_error(test_parms(&tpm, rsa(1000)), TpmRc::VALUE);
    let ecc = |curve| {
        PublicParms::Ecc(EccParms {
            symmetric: SymDefObject::Null,
            scheme: EccScheme::Ecdsa {
                hash: AlgId::SHA256,
            },
            curve,
            kdf: KdfScheme::Null,
        })
    };
    test_parms(&tpm, ecc(EccCurve::NIST_P384)).expect("P-384");
    assert_tpm_error(test_parms(&tpm, ecc(EccCurve(0x0099))), TpmRc::CURVE);
    let aes = |key_bits| {
        PublicParms::SymCipher(SymCipherParms {
            symmetric: SymDefObject::Cipher(SymCipher {
                algorithm: AlgId::AES,
                key_bits,
                mode: AlgId::CFB,
            }),
        })
    };
    test_parms(&tpm, aes(256)).expect("AES-256");
    // TPMI_AES_KEY_BITS has no 100: refused as it is unmarshalled.
    assert_tpm_error(test_parms(&tpm, aes(100)), TpmRc::VALUE);
    assert_tpm_error(
        test_parms(
            &tpm,
            PublicParms::KeyedHash(KeyedHashParms {
                scheme: KeyedHashScheme::Hmac {
                    hash: AlgId(0x0077),
                },
            }),
        ),
        TpmRc::HASH,
    );
}

#[test]
fn self_tests_report_success_and_leave_nothing_to_test() {
    let (_sim, tpm) = swtpm();
    let mut s = salted_session(&tpm);
    // The vendor data comes back encrypted.
    let result = tpm
        .execute(&GetTestResult {}, &mut [s.extra()])
        .expect("GetTestResult");
    assert_eq!(result.test_result, TpmRc::SUCCESS);
    let algs = AlgList::new(vec![AlgId::AES, AlgId::SHA256, AlgId::RSA, AlgId::ECC]).unwrap();
    let first = tpm
        .run(&IncrementalSelfTest {
            to_test: algs.clone(),
        })
        .expect("IncrementalSelfTest");
    // What was asked for has been tested; what remains are other algorithms of the TPM.
    for alg in algs.iter() {
        assert!(!first.to_do_list.contains(alg), "{alg} still to test");
    }
    for alg in first.to_do_list.iter() {
        assert!(alg.name().is_some(), "unknown algorithm {alg} to test");
    }
    tpm.run(&SelfTest { full_test: true }).unwrap();
    let after = tpm
        .run(&IncrementalSelfTest { to_test: algs })
        .expect("IncrementalSelfTest");
    assert!(after.to_do_list.is_empty(), "{:?}", after.to_do_list);
    let everything = tpm
        .run(&IncrementalSelfTest {
            to_test: AlgList::default(),
        })
        .unwrap();
    assert!(
        everything.to_do_list.is_empty(),
        "{:?}",
        everything.to_do_list
    );
    let result = tpm.run(&GetTestResult {}).unwrap();
    assert_eq!(result.test_result, TpmRc::SUCCESS);
}

#[test]
fn stir_random_takes_encrypted_input() {
    let (_sim, tpm, frames) = swtpm_recording();
    let mut s = salted_session(&tpm);
    for len in [1, 64, 128] {
        let entropy = random_bytes(len);
        frames.lock().unwrap().clear();
        tpm.execute(
            &StirRandom {
                in_data: SensitiveData::new(&entropy).unwrap(),
            },
            &mut [s.extra()],
        )
        .expect("StirRandom");
        if len >= 16 {
            assert!(!contains(&frames.lock().unwrap()[0].0, &entropy));
        }
    }
    // Unencrypted, the same input is on the wire (so the check above can fail).
    let entropy = random_bytes(32);
    frames.lock().unwrap().clear();
    tpm.run(&StirRandom {
        in_data: SensitiveData::new(&entropy).unwrap(),
    })
    .unwrap();
    assert!(contains(&frames.lock().unwrap()[0].0, &entropy));
    let a = tpm
        .run(&GetRandom {
            bytes_requested: 32,
        })
        .unwrap();
    let b = tpm
        .run(&GetRandom {
            bytes_requested: 32,
        })
        .unwrap();
    assert_ne!(a.random_bytes, b.random_bytes);
}

/// A sealed-data object template with an auth value and no DA counting.
fn sealed_template() -> Public {
    let mut p = Public::sealed_data(AlgId::SHA256);
    p.object_attributes |= ObjectAttributes::NO_DA;
    p
}

fn unseal(tpm: &Tpm, object: &Entity, auth: &Auth) -> tpm2_wire::Result<Vec<u8>> {
    Ok(tpm
        .execute(
            &Unseal {
                item_handle: object.clone(),
            },
            &mut [SessionSlot::Password(auth)],
        )?
        .out_data
        .as_bytes()
        .to_vec())
}

fn load(tpm: &Tpm, parent: &Entity, private: &Private, public: &Public) -> Entity {
    let empty = Auth::empty();
    let rsp = tpm
        .execute(
            &Load {
                parent_handle: parent.clone(),
                in_private: private.clone(),
                in_public: Tpm2bPublic(public.clone()),
            },
            &mut [SessionSlot::Password(&empty)],
        )
        .expect("Load");
    assert_eq!(rsp.name, object_name(public).unwrap());
    Entity::new(rsp.object_handle, rsp.name)
}

#[track_caller]
fn assert_auth_refused(result: tpm2_wire::Result<Vec<u8>>) {
    match result {
        Err(Error::Tpm { rc, .. }) => assert!(rc.is_auth_fail(), "{rc}"),
        other => panic!("opened with the wrong auth value: {other:?}"),
    }
}

#[test]
fn object_change_auth_gives_a_private_area_with_the_new_auth() {
    let (_sim, tpm) = swtpm();
    let mut s = salted_session(&tpm);
    let empty = Auth::empty();
    let (parent, _) = create_primary(&tpm, Public::ecc_p256_storage_parent(), &empty);
    let old = pw("old auth");
    let new = pw("new auth");
    let secret = random_bytes(32);
    let (child, public, _) = create_loaded(
        &tpm,
        &parent,
        &mut [SessionSlot::Password(&empty)],
        &sealed_template(),
        &old,
        &secret,
    );

    // The new auth value goes in encrypted, the new private area comes back encrypted; the
    // response HMAC is keyed with the old value, which the loaded object keeps.
    let changed = tpm
        .execute(
            &ObjectChangeAuth {
                object_handle: child.clone(),
                parent_handle: parent.clone(),
                new_auth: new.clone(),
            },
            &mut [s.auth(&old)],
        )
        .expect("ObjectChangeAuth");
    let reloaded = load(&tpm, &parent, &changed.out_private, &public);
    assert_eq!(reloaded.name, child.name, "same object, same public area");

    assert_eq!(unseal(&tpm, &reloaded, &new).unwrap(), secret);
    assert_auth_refused(unseal(&tpm, &reloaded, &old));
    // The loaded original is unchanged.
    assert_eq!(unseal(&tpm, &child, &old).unwrap(), secret);
    assert_auth_refused(unseal(&tpm, &child, &new));

    // Changing it under a password works the same, and the wrong current value is refused.
    let newer = pw("newer");
    assert!(matches!(
        tpm.execute(
            &ObjectChangeAuth {
                object_handle: reloaded.clone(),
                parent_handle: parent.clone(),
                new_auth: newer.clone(),
            },
            &mut [SessionSlot::Password(&old)],
        ),
        Err(Error::Tpm { rc, .. }) if rc.is_auth_fail()
    ));
    let changed = tpm
        .execute(
            &ObjectChangeAuth {
                object_handle: reloaded.clone(),
                parent_handle: parent.clone(),
                new_auth: newer.clone(),
            },
            &mut [SessionSlot::Password(&new)],
        )
        .unwrap();
    flush(&tpm, child.handle);
    let newest = load(&tpm, &parent, &changed.out_private, &public);
    assert_eq!(unseal(&tpm, &newest, &newer).unwrap(), secret);
    // noDA objects: nothing counted against lockout.
    assert_eq!(lockout_counter(&tpm), 0);
}

#[test]
fn create_loaded_makes_primary_and_ordinary_objects() {
    let (_sim, tpm, frames) = swtpm_recording();
    let mut s = salted_session(&tpm);
    let owner = Auth::empty();
    let parent_auth = pw("parent");

    // A primary: no private area (the seed regenerates it), the TPM's public area is the
    // template with the key filled in, and ReadPublic agrees with the name.
    let template = Public::ecc_p256_storage_parent();
    let (parent, public, rsp) = create_loaded(
        &tpm,
        &Entity::owner(),
        &mut [SessionSlot::Password(&owner), s.extra()],
        &template,
        &parent_auth,
        &[],
    );
    assert!(rsp.out_private.is_empty());
    let PublicKey::Ecc { unique, .. } = &public.key else {
        panic!("not ECC")
    };
    assert_eq!((unique.x.len(), unique.y.len()), (32, 32));
    let mut blanked = public.clone();
    blanked.key = template.key.clone();
    assert_eq!(blanked, template);
    let (read, read_public) = tpm.read_public(parent.handle).unwrap();
    assert_eq!((read.name, read_public), (parent.name.clone(), public));
    // The same template under the same seed is the same key.
    let (again, _, _) = create_loaded(
        &tpm,
        &Entity::owner(),
        &mut [SessionSlot::Password(&owner)],
        &template,
        &Auth::empty(),
        &[],
    );
    assert_eq!(again.name, parent.name);
    flush(&tpm, again.handle);

    // An ordinary object under it: the sealed secret travels encrypted.
    let secret = random_bytes(48);
    let seal_auth = pw("sealed");
    frames.lock().unwrap().clear();
    let (sealed, sealed_public, rsp) = create_loaded(
        &tpm,
        &parent,
        &mut [s.auth(&parent_auth)],
        &sealed_template(),
        &seal_auth,
        &secret,
    );
    assert!(!contains(&frames.lock().unwrap()[0].0, &secret));
    assert!(!rsp.out_private.is_empty());
    assert_eq!(unseal(&tpm, &sealed, &seal_auth).unwrap(), secret);
    // Its private area loads again under the same parent, as the same object.
    flush(&tpm, sealed.handle);
    let rsp2 = tpm
        .execute(
            &Load {
                parent_handle: parent.clone(),
                in_private: rsp.out_private.clone(),
                in_public: Tpm2bPublic(sealed_public.clone()),
            },
            &mut [SessionSlot::Password(&parent_auth)],
        )
        .unwrap();
    assert_eq!(rsp2.name, sealed.name);
    let reloaded = Entity::new(rsp2.object_handle, rsp2.name);
    assert_eq!(unseal(&tpm, &reloaded, &seal_auth).unwrap(), secret);
    flush(&tpm, reloaded.handle);

    // A template that is no public area is refused by the TPM, not sent half-read.
    let bad = tpm.execute(
        &tpm2_wire::command::CreateLoaded {
            parent_handle: parent.clone(),
            in_sensitive: Default::default(),
            in_public: Template::from_raw(&[0x00, 0x08, 0x00]).unwrap(),
        },
        &mut [SessionSlot::Password(&parent_auth)],
    );
    assert!(matches!(bad, Err(Error::Tpm { .. })), "{bad:?}");
    flush(&tpm, parent.handle);
    assert_only_session_loaded(&tpm, s.handle());
}
