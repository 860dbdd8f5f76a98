//! NV counters, bit fields, extend indices and locks against swtpm: the values they must
//! take (counters count, extends chain H(old ‖ data), bits OR), and the errors they must give
//! (writes after a lock, commands on the wrong kind of index).

mod command_fixtures;
mod common;

use command_fixtures::*;
use common::*;
use tpm2_wire::client::{Session, SessionOptions};
use tpm2_wire::command::{
    Entity, NvExtend, NvGlobalWriteLock, NvIncrement, NvRead, NvReadLock, NvSetBits, NvWrite,
    NvWriteLock,
};
use tpm2_wire::crypto::HashAlg;
use tpm2_wire::session::engine::SessionSlot;
use tpm2_wire::wire::{Auth, Digest, Handle, MaxNvBuffer, NvAttributes, NvType, TpmRc};
use tpm2_wire::Tpm;

/// Read and written with the index's own auth value, exempt from dictionary-attack counting.
fn attributes(kind: NvType, extra: NvAttributes) -> NvAttributes {
    (NvAttributes::AUTHREAD | NvAttributes::AUTHWRITE | NvAttributes::NO_DA | extra)
        .with_nv_type(kind)
}

fn define(tpm: &Tpm, index: u32, kind: NvType, extra: NvAttributes, size: u16) -> Entity {
    define_nv(
        tpm,
        index,
        HashAlg::Sha256,
        attributes(kind, extra),
        &auth(),
        &Digest::empty(),
        size,
    )
}

/// An unsalted HMAC session without parameter encryption, for commands that have no
/// parameter to encrypt (the engine refuses a session that asks for it there).
fn hmac_session(tpm: &Tpm) -> Session {
    Session::start(tpm, &SessionOptions::hmac()).expect("StartAuthSession")
}

fn auth() -> Auth {
    pw("index auth")
}

/// The index as it is now: its name covers TPMA_NV_WRITTEN and the lock bits, which the
/// commands under test change.
fn current(tpm: &Tpm, nv: &Entity) -> Entity {
    tpm.nv_read_public(nv.handle).expect("NV_ReadPublic").0
}

fn read(tpm: &Tpm, nv: &Entity, size: u16, slot: SessionSlot<'_>) -> tpm2_wire::Result<Vec<u8>> {
    Ok(tpm
        .execute(
            &NvRead {
                auth_handle: nv.clone(),
                nv_index: nv.clone(),
                size,
                offset: 0,
            },
            &mut [slot],
        )?
        .data
        .as_bytes()
        .to_vec())
}

fn read_u64(tpm: &Tpm, nv: &Entity, s: &mut Session) -> u64 {
    let a = auth();
    let bytes = read(tpm, nv, 8, s.auth(&a)).expect("NV_Read");
    u64::from_be_bytes(bytes.try_into().expect("8 bytes"))
}

fn write(tpm: &Tpm, nv: &Entity, data: &[u8]) -> tpm2_wire::Result<()> {
    let a = auth();
    tpm.execute(
        &NvWrite {
            auth_handle: nv.clone(),
            nv_index: nv.clone(),
            data: MaxNvBuffer::new(data).unwrap(),
            offset: 0,
        },
        &mut [SessionSlot::Password(&a)],
    )
    .map(drop)
}

fn increment(tpm: &Tpm, nv: &Entity, slot: SessionSlot<'_>) -> tpm2_wire::Result<()> {
    tpm.execute(
        &NvIncrement {
            auth_handle: nv.clone(),
            nv_index: nv.clone(),
        },
        &mut [slot],
    )
    .map(drop)
}

fn set_bits(tpm: &Tpm, nv: &Entity, bits: u64, slot: SessionSlot<'_>) -> tpm2_wire::Result<()> {
    tpm.execute(
        &NvSetBits {
            auth_handle: nv.clone(),
            nv_index: nv.clone(),
            bits,
        },
        &mut [slot],
    )
    .map(drop)
}

#[test]
fn counters_count_up_by_one() {
    let (_sim, tpm) = swtpm();
    let a = auth();
    let mut s = salted_session(&tpm);
    let mut h = hmac_session(&tpm);
    let nv = define(&tpm, 0x0150_0010, NvType::COUNTER, NvAttributes::empty(), 8);
    assert_tpm_error(
        read(&tpm, &nv, 8, SessionSlot::Password(&a)),
        TpmRc::NV_UNINITIALIZED,
    );
    increment(&tpm, &nv, SessionSlot::Password(&a)).expect("NV_Increment");
    // Written now: the name the HMAC session uses must say so.
    let nv = current(&tpm, &nv);
    let first = read_u64(&tpm, &nv, &mut s);
    for i in 1..=5 {
        increment(&tpm, &nv, h.auth(&a)).expect("NV_Increment");
        assert_eq!(read_u64(&tpm, &nv, &mut s), first + i);
    }
    // A counter is neither written nor OR-ed into.
    assert_tpm_error(write(&tpm, &nv, &[0; 8]), TpmRc::ATTRIBUTES);
    assert_tpm_error(
        set_bits(&tpm, &nv, 1, SessionSlot::Password(&a)),
        TpmRc::ATTRIBUTES,
    );
    assert_eq!(read_u64(&tpm, &nv, &mut s), first + 5);
    undefine_nv(&tpm, &nv);
}

#[test]
fn extend_indices_chain_digests_of_their_name_alg() {
    let (_sim, tpm) = swtpm();
    let a = auth();
    let mut s = salted_session(&tpm);
    for (i, hash) in HASHES.into_iter().enumerate() {
        let size = hash.digest_size() as u16;
        let nv = define_nv(
            &tpm,
            0x0150_0020 + i as u32,
            hash,
            attributes(NvType::EXTEND, NvAttributes::empty()),
            &a,
            &Digest::empty(),
            size,
        );
        assert_tpm_error(
            read(&tpm, &nv, size, SessionSlot::Password(&a)),
            TpmRc::NV_UNINITIALIZED,
        );
        let mut expected = vec![0u8; size.into()];
        let mut nv = nv;
        for (j, data) in [random_bytes(100), random_bytes(1024), Vec::new()]
            .iter()
            .enumerate()
        {
            // The first extend by password; then by the salted session, which encrypts the
            // data (and needs the name with TPMA_NV_WRITTEN).
            let slot = if j == 0 {
                SessionSlot::Password(&a)
            } else {
                s.auth(&a)
            };
            tpm.execute(
                &NvExtend {
                    auth_handle: nv.clone(),
                    nv_index: nv.clone(),
                    data: MaxNvBuffer::new(data).unwrap(),
                },
                &mut [slot],
            )
            .expect("NV_Extend");
            nv = current(&tpm, &nv);
            expected = host_hash(hash.alg_id(), &[&expected[..], data].concat());
            assert_eq!(
                read(&tpm, &nv, size, s.auth(&a)).unwrap(),
                expected,
                "{hash:?} extend {j}"
            );
        }
        // Extend indices are only extended.
        assert_tpm_error(write(&tpm, &nv, &expected), TpmRc::ATTRIBUTES);
        assert_tpm_error(
            increment(&tpm, &nv, SessionSlot::Password(&a)),
            TpmRc::ATTRIBUTES,
        );
        undefine_nv(&tpm, &nv);
    }
}

#[test]
fn bit_fields_or_and_never_clear() {
    let (_sim, tpm) = swtpm();
    let a = auth();
    let mut s = salted_session(&tpm);
    let mut h = hmac_session(&tpm);
    let nv = define(&tpm, 0x0150_0030, NvType::BITS, NvAttributes::empty(), 8);
    assert_tpm_error(
        read(&tpm, &nv, 8, SessionSlot::Password(&a)),
        TpmRc::NV_UNINITIALIZED,
    );
    set_bits(&tpm, &nv, 0x1, SessionSlot::Password(&a)).expect("NV_SetBits");
    let nv = current(&tpm, &nv);
    assert_eq!(read_u64(&tpm, &nv, &mut s), 0x1);
    let mut expected = 0x1u64;
    for bits in [
        0x8000_0000_0000_0100,
        0x0000_0000_0000_0101,
        0,
        0x00F0_0000_0000_0000,
    ] {
        set_bits(&tpm, &nv, bits, h.auth(&a)).expect("NV_SetBits");
        expected |= bits;
        assert_eq!(read_u64(&tpm, &nv, &mut s), expected, "after {bits:#x}");
    }
    assert_tpm_error(write(&tpm, &nv, &[0; 8]), TpmRc::ATTRIBUTES);
    assert_tpm_error(
        increment(&tpm, &nv, SessionSlot::Password(&a)),
        TpmRc::ATTRIBUTES,
    );
    undefine_nv(&tpm, &nv);
}

fn write_lock(tpm: &Tpm, nv: &Entity, slot: SessionSlot<'_>) -> tpm2_wire::Result<()> {
    tpm.execute(
        &NvWriteLock {
            auth_handle: nv.clone(),
            nv_index: nv.clone(),
        },
        &mut [slot],
    )
    .map(drop)
}

#[test]
fn write_locks_stop_writes_not_reads() {
    let (_sim, tpm) = swtpm();
    let a = auth();
    let mut s = salted_session(&tpm);
    let mut h = hmac_session(&tpm);
    for (i, lock_kind) in [NvAttributes::WRITE_STCLEAR, NvAttributes::WRITEDEFINE]
        .into_iter()
        .enumerate()
    {
        let nv = define(
            &tpm,
            0x0150_0040 + i as u32,
            NvType::ORDINARY,
            lock_kind,
            16,
        );
        write(&tpm, &nv, &[0xA5; 16]).unwrap();
        let nv = current(&tpm, &nv);
        write_lock(&tpm, &nv, h.auth(&a)).expect("NV_WriteLock");
        let (nv, public) = tpm.nv_read_public(nv.handle).unwrap();
        assert!(public.attributes.contains(NvAttributes::WRITELOCKED));
        assert_tpm_error(write(&tpm, &nv, &[0x5A; 16]), TpmRc::NV_LOCKED);
        assert_eq!(read(&tpm, &nv, 16, s.auth(&a)).unwrap(), [0xA5; 16]);
        undefine_nv(&tpm, &nv);
    }
    // An index that can be locked neither way refuses the lock.
    let nv = define(
        &tpm,
        0x0150_0042,
        NvType::ORDINARY,
        NvAttributes::empty(),
        16,
    );
    assert_tpm_error(
        write_lock(&tpm, &nv, SessionSlot::Password(&a)),
        TpmRc::ATTRIBUTES,
    );
    write(&tpm, &nv, &[1; 16]).expect("still writable");
    undefine_nv(&tpm, &current(&tpm, &nv));
}

fn read_lock(tpm: &Tpm, nv: &Entity, slot: SessionSlot<'_>) -> tpm2_wire::Result<()> {
    tpm.execute(
        &NvReadLock {
            auth_handle: nv.clone(),
            nv_index: nv.clone(),
        },
        &mut [slot],
    )
    .map(drop)
}

#[test]
fn read_locks_stop_reads_not_writes() {
    let (_sim, tpm) = swtpm();
    let a = auth();
    let mut s = salted_session(&tpm);
    let mut h = hmac_session(&tpm);
    let nv = define(
        &tpm,
        0x0150_0050,
        NvType::ORDINARY,
        NvAttributes::READ_STCLEAR,
        16,
    );
    write(&tpm, &nv, &[0x11; 16]).unwrap();
    let nv = current(&tpm, &nv);
    assert_eq!(read(&tpm, &nv, 16, s.auth(&a)).unwrap(), [0x11; 16]);
    read_lock(&tpm, &nv, h.auth(&a)).expect("NV_ReadLock");
    let (nv, public) = tpm.nv_read_public(nv.handle).unwrap();
    assert!(public.attributes.contains(NvAttributes::READLOCKED));
    assert_tpm_error(
        read(&tpm, &nv, 16, SessionSlot::Password(&a)),
        TpmRc::NV_LOCKED,
    );
    write(&tpm, &nv, &[0x22; 16]).expect("writes go on");
    undefine_nv(&tpm, &nv);

    let plain = define(
        &tpm,
        0x0150_0051,
        NvType::ORDINARY,
        NvAttributes::empty(),
        16,
    );
    write(&tpm, &plain, &[0x33; 16]).unwrap();
    let plain = current(&tpm, &plain);
    assert_tpm_error(
        read_lock(&tpm, &plain, SessionSlot::Password(&a)),
        TpmRc::ATTRIBUTES,
    );
    assert_eq!(
        read(&tpm, &plain, 16, SessionSlot::Password(&a)).unwrap(),
        [0x33; 16]
    );
    undefine_nv(&tpm, &plain);
}

#[test]
fn global_write_lock_stops_only_globallock_indices() {
    let (_sim, tpm) = swtpm();
    let mut h = hmac_session(&tpm);
    let global = define(
        &tpm,
        0x0150_0060,
        NvType::ORDINARY,
        NvAttributes::GLOBALLOCK,
        8,
    );
    let other = define(
        &tpm,
        0x0150_0061,
        NvType::ORDINARY,
        NvAttributes::empty(),
        8,
    );
    write(&tpm, &global, &[1; 8]).unwrap();
    write(&tpm, &other, &[2; 8]).unwrap();
    let owner = Auth::empty();
    tpm.execute(
        &NvGlobalWriteLock {
            auth_handle: Entity::owner(),
        },
        &mut [h.auth(&owner)],
    )
    .expect("NV_GlobalWriteLock");
    assert_tpm_error(write(&tpm, &global, &[3; 8]), TpmRc::NV_LOCKED);
    write(&tpm, &other, &[4; 8]).expect("not a GLOBALLOCK index");
    let a = auth();
    let global = current(&tpm, &global);
    assert_eq!(
        read(&tpm, &global, 8, SessionSlot::Password(&a)).unwrap(),
        [1; 8]
    );
    // Only the owner or the platform may lock everything.
    assert_tpm_error(
        tpm.execute(
            &NvGlobalWriteLock {
                auth_handle: Entity::from_handle(Handle(0x0150_0061)),
            },
            &mut [SessionSlot::Password(&a)],
        ),
        TpmRc::VALUE,
    );
    undefine_nv(&tpm, &global);
    undefine_nv(&tpm, &current(&tpm, &other));
}

/// TPM2_NV_UndefineSpaceSpecial with each authorized handle through its own session: the
/// index (ADMIN role) through a policy session (PolicyCommandCode + PolicyAuthValue), the
/// platform hierarchy through an HMAC session. The index is gone afterwards, and a policy
/// without the command code does not delete it.
#[test]
fn nv_undefine_space_special_with_a_policy_and_an_hmac_session() {
    use tpm2_wire::command::NvUndefineSpaceSpecial;
    use tpm2_wire::session::policy::PolicyCalculator;
    use tpm2_wire::wire::CommandCode;
    let (_sim, tpm) = swtpm();
    let auth = pw("undefine special");
    let policy = PolicyCalculator::new(HashAlg::Sha256)
        .policy_command_code(CommandCode::NV_UNDEFINE_SPACE_SPECIAL)
        .policy_auth_value()
        .digest()
        .clone();
    let index = Handle(0x0140_0002);
    let nv = define_policy_delete_nv(&tpm, index, &auth, policy);
    let platform = Auth::empty();
    let mut hmac =
        Session::start(&tpm, &SessionOptions::hmac().hash(HashAlg::Sha384)).expect("HMAC session");
    let undefine = NvUndefineSpaceSpecial {
        nv_index: nv.clone(),
        platform: Entity::platform(),
    };

    // PolicyAuthValue alone is not the index's policy: refused, and the index stays.
    let mut wrong = Session::start(&tpm, &SessionOptions::policy()).expect("policy session");
    wrong.policy_auth_value().unwrap();
    assert_tpm_error(
        tpm.execute(&undefine, &mut [wrong.auth(&auth), hmac.auth(&platform)]),
        TpmRc::POLICY_FAIL,
    );
    wrong.flush().unwrap();
    assert!(
        tpm.nv_read_public(index).is_ok(),
        "the index is still there"
    );

    let mut s = Session::start(&tpm, &SessionOptions::policy()).expect("policy session");
    assert_ne!(s.handle(), hmac.handle());
    s.policy_command_code(CommandCode::NV_UNDEFINE_SPACE_SPECIAL)
        .unwrap();
    s.policy_auth_value().unwrap();
    tpm.execute(&undefine, &mut [s.auth(&auth), hmac.auth(&platform)])
        .expect("NV_UndefineSpaceSpecial, policy and HMAC sessions");
    assert!(tpm.nv_read_public(index).is_err(), "the index is gone");
    drop(s);
    hmac.flush().unwrap();
    assert_nothing_loaded(&tpm);
}
