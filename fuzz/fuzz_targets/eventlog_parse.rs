//! PC Client firmware event logs from arbitrary bytes: parsing must never panic, never frame
//! more events than the bytes can hold, and whatever parses must replay the same way twice
//! and verify against its own replay (and against nothing else for a changed PCR).

#![no_main]

use libfuzzer_sys::fuzz_target;
use tpm2_wire::eventlog::log::{EventLog, MIN_EVENT_SIZE};

fuzz_target!(|data: &[u8]| {
    let Ok(log) = EventLog::parse(data) else {
        return;
    };
    let events = log.unverified_events();
    assert!(events.len() <= data.len() / MIN_EVENT_SIZE);
    for e in events {
        assert!(e.offset < data.len());
        assert!(e.data.len() <= data.len());
    }
    let replay = log.replay();
    assert_eq!(replay, log.replay(), "replay is deterministic");

    // Every extended PCR, as a quote would give it: the log verifies against its own replay,
    // and is refused once any one value is changed.
    let mut quoted = Vec::new();
    for bank in replay.banks() {
        for pcr in 0..24 {
            if replay.extended(bank, pcr) {
                quoted.push((bank, pcr, replay.get(bank, pcr).unwrap().to_vec()));
            }
        }
    }
    if quoted.is_empty() {
        return;
    }
    let view: Vec<_> = quoted.iter().map(|(b, p, v)| (*b, *p, &v[..])).collect();
    let has_data_mismatch = log
        .findings()
        .iter()
        .any(|f| matches!(f, tpm2_wire::eventlog::log::Finding::DigestMismatch { .. }));
    match log.clone().verify(&view) {
        Ok(verified) => {
            for e in verified.events() {
                assert!(e.pcr() < 24);
            }
        }
        Err(_) => assert!(
            has_data_mismatch,
            "a log must verify against its own replay"
        ),
    }
    let mut changed = quoted[0].2.clone();
    changed[0] ^= 1;
    let mut view = view;
    view[0].2 = &changed;
    assert!(
        log.verify(&view).is_err(),
        "a changed PCR must refuse the log"
    );
});
