//! Steady-state session commands through `Tpm::execute` make no heap allocations.
//!
//! A counting global allocator counts allocations made by this thread while armed; the TPM
//! side is the in-process responder (which allocates nothing once built either), so every
//! allocation counted belongs to the client pipeline: marshalling, the session engine, the
//! crypto, response parsing and unmarshalling.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

use tpm2_wire::command::{Command, GetRandom, NvIncrement, NvRead, NvWrite, Sign};
use tpm2_wire::crypto::{self, HashAlg};
use tpm2_wire::session::engine::SessionSlot;
use tpm2_wire::session::{SessionState, Symmetric};
use tpm2_wire::sim::Responder;
use tpm2_wire::wire::{
    AlgId, Auth, MaxNvBuffer, SessionAttributes, SigScheme, Signature, StructureTag, Ticket,
};
use tpm2_wire::Tpm;

struct Counting;

thread_local! {
    // Const-initialized thread locals need no allocation themselves.
    static ARMED: Cell<bool> = const { Cell::new(false) };
    static COUNT: Cell<u64> = const { Cell::new(0) };
}

fn note_allocation() {
    // `try_with` because the allocator also runs while thread locals are being torn down.
    let _ = ARMED.try_with(|armed| {
        if armed.get() {
            let _ = COUNT.try_with(|c| c.set(c.get() + 1));
        }
    });
}

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        note_allocation();
        unsafe { System.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        note_allocation();
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        note_allocation();
        unsafe { System.realloc(ptr, layout, new_size) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

/// Allocations (and reallocations) this thread makes while running `f`.
fn allocations_in(f: impl FnOnce()) -> u64 {
    COUNT.with(|c| c.set(0));
    ARMED.with(|a| a.set(true));
    f();
    ARMED.with(|a| a.set(false));
    COUNT.with(|c| c.get())
}

const WARM_UP: usize = 3;
const ITERATIONS: usize = 200;

/// A session of a fresh responder, and the client over it, once `register` has made the
/// test's entity known to the responder.
fn tpm_with_session<T>(
    hash: HashAlg,
    symmetric: Symmetric,
    attributes: SessionAttributes,
    register: impl FnOnce(&mut Responder) -> T,
) -> (Tpm, SessionState, T) {
    let mut responder = Responder::new();
    let entity = register(&mut responder);
    let state = responder.open_session(hash, symmetric, attributes).unwrap();
    (Tpm::new(Box::new(responder)), state, entity)
}

/// Runs `run` `WARM_UP` times, then asserts that `ITERATIONS` more runs allocate nothing.
fn assert_steady_state_allocates_nothing(what: &str, mut run: impl FnMut()) {
    for _ in 0..WARM_UP {
        run();
    }
    let n = allocations_in(|| {
        for _ in 0..ITERATIONS {
            run();
        }
    });
    assert_eq!(n, 0, "{n} allocations in {ITERATIONS} {what}");
}

/// `cmd` through one HMAC session authorizing with `auth`.
fn in_session<C: Command>(
    tpm: &Tpm,
    cmd: &C,
    state: &mut SessionState,
    auth: &Auth,
) -> C::Response {
    tpm.execute(cmd, &mut [SessionSlot::Session { state, auth }])
        .unwrap()
}

/// The test's own bookkeeping allocates: make sure the counter sees it, so a zero below
/// means "nothing allocated", not "nothing counted".
#[test]
fn the_counter_counts() {
    let n = allocations_in(|| {
        let v: Vec<u8> = std::hint::black_box(Vec::with_capacity(10));
        drop(v);
    });
    assert_eq!(n, 1);
}

#[test]
fn get_random_with_an_encrypt_session_does_not_allocate() {
    let (tpm, mut state, ()) = tpm_with_session(
        HashAlg::Sha256,
        Symmetric::AesCfb(128),
        SessionAttributes(SessionAttributes::ENCRYPT),
        |_| (),
    );
    let empty = Auth::empty();
    let cmd = GetRandom {
        bytes_requested: 32,
    };
    assert_steady_state_allocates_nothing("GetRandom commands", || {
        let r = in_session(&tpm, &cmd, &mut state, &empty);
        assert!(Responder::is_random_answer(r.random_bytes.as_bytes(), 32));
    });
}

#[test]
fn nv_write_1k_with_a_decrypt_session_does_not_allocate() {
    let auth = Auth::new(b"nv auth").unwrap();
    let (tpm, mut state, nv) = tpm_with_session(
        HashAlg::Sha256,
        Symmetric::AesCfb(128),
        SessionAttributes(SessionAttributes::DECRYPT),
        |r| r.nv_index(0x0100_0001, auth.clone()),
    );
    let data: Vec<u8> = (0..1024u32).map(|i| (i % 251) as u8).collect();
    let write = NvWrite {
        auth_handle: nv.clone(),
        nv_index: nv.clone(),
        data: MaxNvBuffer::new(&data).unwrap(),
        offset: 0,
    };
    assert_steady_state_allocates_nothing("NV_Write commands", || {
        in_session(&tpm, &write, &mut state, &auth);
    });

    // The data arrived intact (the responder decrypted it), read back through an encrypt
    // session, also without allocating.
    state.set_attributes(SessionAttributes(
        SessionAttributes::CONTINUE_SESSION | SessionAttributes::ENCRYPT,
    ));
    let read = NvRead {
        auth_handle: nv.clone(),
        nv_index: nv,
        size: 1024,
        offset: 0,
    };
    let mut out = None;
    let n = allocations_in(|| {
        for _ in 0..ITERATIONS {
            out = Some(in_session(&tpm, &read, &mut state, &auth));
        }
    });
    assert_eq!(n, 0, "{n} allocations in {ITERATIONS} NV_Read commands");
    assert_eq!(out.unwrap().data.as_bytes(), &data[..]);
}

/// TPM2_Sign through a decrypt session (the digest travels encrypted): the command, the
/// TPMT_SIGNATURE in the response (a 256-octet RSA one and an HMAC one) and its unmarshalling
/// allocate nothing, and each signature is the one the fake key gives over that digest.
#[test]
fn sign_with_a_decrypt_session_does_not_allocate() {
    let auth = Auth::new(b"key auth").unwrap();
    let (tpm, mut state, key) = tpm_with_session(
        HashAlg::Sha256,
        Symmetric::AesCfb(128),
        SessionAttributes(SessionAttributes::DECRYPT),
        |r| r.signing_key(0x8000_0001, auth.clone()),
    );
    let secret = Responder::fake_signing_key(key.handle);
    for scheme in [
        SigScheme::RsaSsa {
            hash: AlgId::SHA256,
        },
        SigScheme::Hmac {
            hash: AlgId::SHA256,
        },
    ] {
        let digest = crypto::hash(HashAlg::Sha256, &[b"message", &[scheme_byte(&scheme)]]);
        let sign = Sign {
            key_handle: key.clone(),
            digest: digest.clone(),
            in_scheme: scheme,
            validation: Ticket::null(StructureTag::HASHCHECK),
        };
        let mut out = None;
        assert_steady_state_allocates_nothing(&format!("Sign commands, {scheme:?}"), || {
            out = Some(in_session(&tpm, &sign, &mut state, &auth));
        });

        let mac = crypto::hmac(HashAlg::Sha256, secret.as_bytes(), &[digest.as_bytes()]);
        match (scheme, out.unwrap().signature) {
            (SigScheme::RsaSsa { .. }, Signature::RsaSsa(s)) => {
                assert_eq!(s.hash, AlgId::SHA256);
                let want: Vec<u8> = mac
                    .as_bytes()
                    .iter()
                    .cycle()
                    .take(Responder::FAKE_RSA_SIZE)
                    .copied()
                    .collect();
                assert_eq!(s.sig.as_bytes(), &want[..]);
            }
            (SigScheme::Hmac { .. }, Signature::Hmac(h)) => {
                assert_eq!(h.alg(), AlgId::SHA256);
                assert_eq!(h.digest(), mac.as_bytes());
            }
            (scheme, sig) => panic!("{scheme:?} answered with {sig:?}"),
        }
    }
}

fn scheme_byte(scheme: &SigScheme) -> u8 {
    matches!(scheme, SigScheme::Hmac { .. }) as u8
}

/// TPM2_NV_Increment through an HMAC session allocates nothing, and every increment counted.
#[test]
fn nv_increment_with_a_session_does_not_allocate() {
    let auth = Auth::new(b"counter auth").unwrap();
    let (tpm, mut state, nv) = tpm_with_session(
        HashAlg::Sha384,
        Symmetric::AesCfb(256),
        SessionAttributes::default(),
        |r| r.nv_index(0x0100_0002, auth.clone()),
    );
    let increment = NvIncrement {
        auth_handle: nv.clone(),
        nv_index: nv.clone(),
    };
    assert_steady_state_allocates_nothing("NV_Increment commands", || {
        in_session(&tpm, &increment, &mut state, &auth);
    });

    state.set_attributes(SessionAttributes(
        SessionAttributes::CONTINUE_SESSION | SessionAttributes::ENCRYPT,
    ));
    let counter = in_session(
        &tpm,
        &NvRead {
            auth_handle: nv.clone(),
            nv_index: nv,
            size: 8,
            offset: 0,
        },
        &mut state,
        &auth,
    );
    let value = u64::from_be_bytes(counter.data.as_bytes().try_into().unwrap());
    assert_eq!(value, (WARM_UP + ITERATIONS) as u64);
}
