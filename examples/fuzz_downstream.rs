//! Fuzzing your own code that drives a TPM through tpm2-wire, with no TPM at all: the
//! in-process `sim::Responder` answers NV_Write, NV_Read and GetRandom over HMAC sessions
//! with parameter encryption, and the `arbitrary` feature builds the wire values the code
//! under test is fed. "Fuzzing your own crate against tpm2-wire" in fuzz/README.md explains
//! the set-up and what the responder does not model.
//!
//! ```sh
//! cargo run --example fuzz_downstream --features sim,arbitrary -- 5000
//! ```
//!
//! runs [`one_case`] on that many pseudo-random inputs on stable Rust; a libFuzzer target
//! calls the same function with the fuzzer's inputs (see the README).

use arbitrary::{Arbitrary, Unstructured};
use tpm2_wire::command::{Entity, NvRead, NvWrite};
use tpm2_wire::crypto::{hash, HashAlg};
use tpm2_wire::session::engine::SessionSlot;
use tpm2_wire::session::{SessionState, Symmetric};
use tpm2_wire::sim::Responder;
use tpm2_wire::wire::{Auth, MaxNvBuffer, ResponseCode, SessionAttributes};
use tpm2_wire::Tpm;

/// The code under test, as a downstream crate would have it: stores `record` at `offset` in
/// an NV index with the data encrypted on the bus, then reads it back (encrypted too).
fn store_and_load(
    tpm: &Tpm,
    session: &mut SessionState,
    nv: &Entity,
    auth: &Auth,
    record: &MaxNvBuffer,
    offset: u16,
) -> tpm2_wire::Result<MaxNvBuffer> {
    // NV_Write's first parameter is the data; NV_Read's first response parameter is.
    session.set_attributes(
        session
            .attributes()
            .with(SessionAttributes::DECRYPT, true)
            .with(SessionAttributes::ENCRYPT, false),
    );
    let write = NvWrite {
        auth_handle: nv.clone(),
        nv_index: nv.clone(),
        data: record.clone(),
        offset,
    };
    tpm.execute(
        &write,
        &mut [SessionSlot::Session {
            state: session,
            auth,
        }],
    )?;
    session.set_attributes(
        session
            .attributes()
            .with(SessionAttributes::DECRYPT, false)
            .with(SessionAttributes::ENCRYPT, true),
    );
    let read = NvRead {
        auth_handle: nv.clone(),
        nv_index: nv.clone(),
        size: record.len() as u16,
        offset,
    };
    let r = tpm.execute(
        &read,
        &mut [SessionSlot::Session {
            state: session,
            auth,
        }],
    )?;
    Ok(r.data)
}

/// What one case is made of. Wire types (`Auth`, `MaxNvBuffer`) derive into it like any
/// other `Arbitrary` type, and come out valid: the record within its 2048-byte capacity.
#[derive(Debug, Arbitrary)]
struct Case {
    /// The session's hash, an index into [`HashAlg::ALL`].
    hash: u8,
    /// AES-128/192/256-CFB or XOR parameter encryption.
    cipher: u8,
    auth: Auth,
    record: MaxNvBuffer,
    #[arbitrary(with = near_the_area)]
    offset: u16,
}

/// Mostly an offset in or just past the NV area, where the outcome changes; else any.
fn near_the_area(u: &mut Unstructured<'_>) -> arbitrary::Result<u16> {
    if u.ratio(3u8, 4)? {
        u.int_in_range(0..=2 * NV_AREA as u16)
    } else {
        u.arbitrary()
    }
}

/// The size of the responder's one NV area.
const NV_AREA: usize = 2048;
/// TPM_RC_NV_RANGE: what a write past the end of the index gets.
const NV_RANGE: ResponseCode = ResponseCode(0x146);

/// One fuzz case: anything may fail, nothing may panic, and what was stored reads back.
/// Returns whether the record was stored (rather than refused as out of range).
pub fn one_case(data: &[u8]) -> arbitrary::Result<bool> {
    let case = Case::arbitrary_take_rest(Unstructured::new(data))?;
    let hash = HashAlg::ALL[usize::from(case.hash) % HashAlg::ALL.len()];
    let symmetric = match case.cipher % 4 {
        0 => Symmetric::AesCfb(128),
        1 => Symmetric::AesCfb(192),
        2 => Symmetric::AesCfb(256),
        _ => Symmetric::Xor(hash),
    };

    let mut responder = Responder::new();
    let nv = responder.nv_index(0x0100_0001, case.auth.clone());
    let mut session = responder
        .open_session(hash, symmetric, SessionAttributes::default())
        .expect("the responder opens a session");
    let tpm = Tpm::new(Box::new(responder));

    let fits = usize::from(case.offset) + case.record.len() <= NV_AREA;
    match store_and_load(
        &tpm,
        &mut session,
        &nv,
        &case.auth,
        &case.record,
        case.offset,
    ) {
        Ok(back) => {
            assert!(fits, "{case:?} was stored past the end of the index");
            assert_eq!(back, case.record, "{case:?} read back differently");
            Ok(true)
        }
        Err(e) => {
            assert!(!fits, "{case:?} fits but failed: {e}");
            assert_eq!(e.response_code(), Some(NV_RANGE), "{case:?}: {e}");
            Ok(false)
        }
    }
}

/// Pseudo-random inputs of up to 3000 bytes, the same on every run: SHA-256 in counter mode
/// (input number, block number), the first block giving the length.
fn inputs(count: u64) -> impl Iterator<Item = Vec<u8>> {
    (0..count).map(|i| {
        let block = move |j: u64| hash(HashAlg::Sha256, &[&i.to_be_bytes(), &j.to_be_bytes()]);
        let first = block(0);
        let len = usize::from(u16::from_be_bytes([
            first.as_bytes()[0],
            first.as_bytes()[1],
        ])) % 3000;
        (1..)
            .flat_map(|j| block(j).as_bytes().to_vec())
            .take(len)
            .collect()
    })
}

fn main() {
    let count = std::env::args()
        .nth(1)
        .map(|n| n.parse().expect("the number of cases"))
        .unwrap_or(1000);
    let (mut stored, mut refused) = (0, 0);
    for data in inputs(count) {
        match one_case(&data) {
            Ok(true) => stored += 1,
            Ok(false) => refused += 1,
            Err(_) => {}
        }
    }
    println!("{stored} records stored and read back, {refused} refused as out of range");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_few_hundred_cases() {
        let outcomes: Vec<bool> = inputs(300).filter_map(|d| one_case(&d).ok()).collect();
        let stored = outcomes.iter().filter(|&&s| s).count();
        let refused = outcomes.len() - stored;
        assert!(
            stored > 50 && refused > 50,
            "{stored} stored, {refused} refused"
        );
    }
}
