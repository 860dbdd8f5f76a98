//! PC Client event logs built here, one firmware quirk or malformation at a time: what is
//! accepted (and recorded as a finding), what is refused, and what the replay and the
//! verification make of it.

use tpm2_wire::crypto::{hash, HashAlg};
use tpm2_wire::eventlog::log::{EventLog, EventType, Finding, LogError, LogFormat};
use tpm2_wire::eventlog::replay::{PcrOutcome, VerifyError};
use tpm2_wire::wire::AlgId;

const SHA1: u16 = 0x0004;
const SHA256: u16 = 0x000B;
const SM3: u16 = 0x0012;

fn le32(out: &mut Vec<u8>, v: u32) {
    out.extend_from_slice(&v.to_le_bytes());
}

/// A SHA-1-form record.
fn sha1_event(pcr: u32, event_type: EventType, digest: &[u8; 20], data: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    le32(&mut out, pcr);
    le32(&mut out, event_type.0);
    out.extend_from_slice(digest);
    le32(&mut out, data.len() as u32);
    out.extend_from_slice(data);
    out
}

/// The Spec ID header for `algs` (algorithm id, digest size).
fn spec_id(algs: &[(u16, u16)]) -> Vec<u8> {
    let mut data = b"Spec ID Event03\0".to_vec();
    le32(&mut data, 0);
    data.extend_from_slice(&[0, 2, 0, 2]);
    le32(&mut data, algs.len() as u32);
    for (alg, size) in algs {
        data.extend_from_slice(&alg.to_le_bytes());
        data.extend_from_slice(&size.to_le_bytes());
    }
    data.push(0);
    sha1_event(0, EventType::NO_ACTION, &[0; 20], &data)
}

/// A crypto-agile record with the given digests.
fn event2(pcr: u32, event_type: EventType, digests: &[(u16, Vec<u8>)], data: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    le32(&mut out, pcr);
    le32(&mut out, event_type.0);
    le32(&mut out, digests.len() as u32);
    for (alg, d) in digests {
        out.extend_from_slice(&alg.to_le_bytes());
        out.extend_from_slice(d);
    }
    le32(&mut out, data.len() as u32);
    out.extend_from_slice(data);
    out
}

/// A crypto-agile record measuring its own data in SHA-1 and SHA-256.
fn measured(pcr: u32, event_type: EventType, data: &[u8]) -> Vec<u8> {
    event2(
        pcr,
        event_type,
        &[
            (SHA1, h(HashAlg::Sha1, data)),
            (SHA256, h(HashAlg::Sha256, data)),
        ],
        data,
    )
}

fn h(alg: HashAlg, data: &[u8]) -> Vec<u8> {
    hash(alg, &[data]).as_bytes().to_vec()
}

fn extend(alg: HashAlg, pcr: &[u8], data: &[u8]) -> Vec<u8> {
    hash(alg, &[pcr, &h(alg, data)]).as_bytes().to_vec()
}

fn start(alg: HashAlg, locality: u8) -> Vec<u8> {
    let mut v = vec![0u8; alg.digest_size()];
    *v.last_mut().unwrap() = locality;
    v
}

fn log(parts: &[Vec<u8>]) -> Vec<u8> {
    let mut out = spec_id(&[(SHA1, 20), (SHA256, 32)]);
    for p in parts {
        out.extend_from_slice(p);
    }
    out
}

fn startup_locality(locality: u8) -> Vec<u8> {
    let mut data = b"StartupLocality\0".to_vec();
    data.push(locality);
    event2(
        0,
        EventType::NO_ACTION,
        &[(SHA1, vec![0; 20]), (SHA256, vec![0; 32])],
        &data,
    )
}

const SEP: &[u8] = &[0, 0, 0, 0];

#[test]
fn crypto_agile_log_replays_every_bank_and_verifies_against_its_quote() {
    let bytes = log(&[
        measured(0, EventType::S_CRTM_VERSION, b"v1"),
        measured(
            4,
            EventType::EFI_ACTION,
            b"Calling EFI Application from Boot Option",
        ),
        measured(4, EventType::SEPARATOR, SEP),
        measured(7, EventType::SEPARATOR, SEP),
        measured(5, EventType::EFI_ACTION, b"Exit Boot Services Invocation"),
    ]);
    let log = EventLog::parse(&bytes).unwrap();
    assert_eq!(log.format(), LogFormat::CryptoAgile);
    assert_eq!(log.banks(), [AlgId::SHA1, AlgId::SHA256]);
    assert_eq!(log.findings(), []);
    let replay = log.replay();
    for alg in [HashAlg::Sha1, HashAlg::Sha256] {
        let pcr4 = extend(
            alg,
            &extend(
                alg,
                &start(alg, 0),
                b"Calling EFI Application from Boot Option",
            ),
            SEP,
        );
        assert_eq!(replay.get(alg, 4), Some(&pcr4[..]));
        assert_eq!(
            replay.get(alg, 0),
            Some(&extend(alg, &start(alg, 0), b"v1")[..])
        );
        assert_eq!(replay.get(alg, 1), Some(&start(alg, 0)[..]));
        assert!(!replay.extended(alg, 1));
    }
    // Only PCR 4 of the SHA-256 bank is quoted: only its events and that bank's digests are
    // vouched for.
    let pcr4 = replay.get(HashAlg::Sha256, 4).unwrap().to_vec();
    let verified = log.verify(&[(HashAlg::Sha256, 4, &pcr4)]).unwrap();
    let events: Vec<_> = verified.events().collect();
    assert_eq!(events.len(), 2);
    assert!(events.iter().all(|e| e.pcr() == 4));
    assert_eq!(
        events[0].data(),
        b"Calling EFI Application from Boot Option"
    );
    assert!(events[0].digest(HashAlg::Sha256).is_some());
    assert_eq!(
        events[0].digest(HashAlg::Sha1),
        None,
        "SHA-1 bank not quoted"
    );
    assert_eq!(verified.pcr(HashAlg::Sha256, 4), Some(&pcr4[..]));
    assert_eq!(verified.pcr(HashAlg::Sha256, 0), None);
}

#[test]
fn a_log_whose_replay_differs_from_the_quote_is_refused_as_a_whole() {
    let bytes = log(&[
        measured(0, EventType::S_CRTM_VERSION, b"v1"),
        measured(7, EventType::SEPARATOR, SEP),
    ]);
    let log = EventLog::parse(&bytes).unwrap();
    let replay = log.replay();
    let pcr0 = replay.get(HashAlg::Sha256, 0).unwrap().to_vec();
    let other = extend(HashAlg::Sha256, &start(HashAlg::Sha256, 0), b"v2");
    let quoted = [
        (HashAlg::Sha256, 0, &other[..]),
        (HashAlg::Sha256, 7, replay.get(HashAlg::Sha256, 7).unwrap()),
    ];
    let checks = replay.compare(&quoted);
    assert!(
        matches!(checks[0].outcome, PcrOutcome::Mismatch { replayed, len: 32 } if replayed[..32] == pcr0[..])
    );
    assert!(checks[1].matches());
    assert_eq!(
        log.clone().verify(&quoted).unwrap_err(),
        VerifyError::Mismatch {
            bank: HashAlg::Sha256,
            pcr: 0,
            mismatches: 1
        }
    );
    assert_eq!(
        log.clone().verify(&[]).unwrap_err(),
        VerifyError::NothingQuoted
    );
    assert_eq!(
        log.clone()
            .verify(&[(HashAlg::Sha384, 0, &[0; 48])])
            .unwrap_err(),
        VerifyError::NotInLog {
            bank: HashAlg::Sha384,
            pcr: 0
        }
    );
    assert_eq!(
        log.verify(&[(HashAlg::Sha256, 0, &pcr0), (HashAlg::Sha256, 0, &pcr0)])
            .unwrap_err(),
        VerifyError::DuplicateQuote {
            bank: HashAlg::Sha256,
            pcr: 0
        }
    );
}

#[test]
fn startup_locality_three_starts_pcr0_at_three() {
    let bytes = log(&[
        startup_locality(3),
        measured(0, EventType::S_CRTM_VERSION, b"v1"),
    ]);
    let log = EventLog::parse(&bytes).unwrap();
    assert_eq!(log.startup_locality(), 3);
    let replay = log.replay();
    for alg in [HashAlg::Sha1, HashAlg::Sha256] {
        assert_eq!(
            replay.get(alg, 0),
            Some(&extend(alg, &start(alg, 3), b"v1")[..])
        );
    }
}

#[test]
fn an_hcrtm_event_starts_pcr0_at_four() {
    let hcrtm = event2(
        0,
        EventType::EFI_HCRTM_EVENT,
        &[(SHA1, vec![0x11; 20]), (SHA256, vec![0x22; 32])],
        b"HCRTM",
    );
    for parts in [
        vec![hcrtm.clone()],
        vec![startup_locality(4), hcrtm.clone()],
    ] {
        let bytes = log(&parts);
        let log = EventLog::parse(&bytes).unwrap();
        assert_eq!(log.startup_locality(), 4);
        let got = log.replay();
        let want = hash(HashAlg::Sha256, &[&start(HashAlg::Sha256, 4), &[0x22; 32]]);
        assert_eq!(got.get(HashAlg::Sha256, 0), Some(want.as_bytes()));
    }
    // An H-CRTM measures first: after another PCR 0 measurement, or after a StartupLocality
    // event naming locality 3, the start value is ambiguous.
    let late = log(&[measured(0, EventType::S_CRTM_VERSION, b"v1"), hcrtm.clone()]);
    assert!(matches!(
        EventLog::parse(&late),
        Err(LogError::Hcrtm { index: 2, .. })
    ));
    let contradicted = log(&[startup_locality(3), hcrtm]);
    assert!(matches!(
        EventLog::parse(&contradicted),
        Err(LogError::Hcrtm { .. })
    ));
}

#[test]
fn startup_locality_events_that_cannot_set_pcr0_are_refused() {
    let mut long = b"StartupLocality\0".to_vec();
    long.extend_from_slice(&[3, 0]);
    let cases = [
        log(&[event2(0, EventType::NO_ACTION, &[], &long)]),
        log(&[startup_locality(3), startup_locality(3)]),
        log(&[
            measured(0, EventType::S_CRTM_VERSION, b"v1"),
            startup_locality(3),
        ]),
        log(&[startup_locality(2)]),
    ];
    for bytes in cases {
        assert!(matches!(
            EventLog::parse(&bytes),
            Err(LogError::StartupLocality { index: 1, .. })
                | Err(LogError::StartupLocality { index: 2, .. })
        ));
    }
}

#[test]
fn duplicated_separators_are_extended_and_found() {
    let bytes = log(&[
        measured(4, EventType::SEPARATOR, SEP),
        measured(4, EventType::SEPARATOR, SEP),
    ]);
    let log = EventLog::parse(&bytes).unwrap();
    assert_eq!(
        log.findings(),
        [Finding::DuplicateSeparator { index: 2, pcr: 4 }]
    );
    let alg = HashAlg::Sha256;
    assert_eq!(
        log.replay().get(alg, 4),
        Some(&extend(alg, &extend(alg, &start(alg, 0), SEP), SEP)[..])
    );
}

#[test]
fn zero_length_and_oddly_sized_events_are_framed_by_their_size() {
    let bytes = log(&[
        measured(5, EventType::EFI_ACTION, b""),
        measured(4, EventType::SEPARATOR, b""),
        measured(7, EventType::SEPARATOR, b"\0\0\0\0\0\0\0"),
        measured(8, EventType::IPL, &[0xAB; 3]),
    ]);
    let log = EventLog::parse(&bytes).unwrap();
    assert_eq!(log.unverified_events().len(), 5);
    assert_eq!(
        log.findings(),
        [
            Finding::UnexpectedDataSize {
                index: 2,
                event_type: EventType::SEPARATOR,
                size: 0
            },
            Finding::UnexpectedDataSize {
                index: 3,
                event_type: EventType::SEPARATOR,
                size: 7
            },
            // A UEFI log with a PCR 4 separator and no ExitBootServices action.
            Finding::ExitBootServicesMissing,
        ]
    );
    let alg = HashAlg::Sha1;
    assert_eq!(
        log.replay().get(alg, 5),
        Some(&extend(alg, &start(alg, 0), b"")[..])
    );
    assert_eq!(
        log.replay().get(alg, 7),
        Some(&extend(alg, &start(alg, 0), &[0; 7])[..])
    );
}

#[test]
fn a_bank_missing_from_an_event_leaves_that_bank_alone() {
    let sha1_only = event2(
        4,
        EventType::EFI_ACTION,
        &[(SHA1, h(HashAlg::Sha1, b"a"))],
        b"a",
    );
    let bytes = log(&[measured(4, EventType::EFI_ACTION, b"b"), sha1_only]);
    let log = EventLog::parse(&bytes).unwrap();
    assert_eq!(
        log.findings(),
        [Finding::BankMissing {
            index: 2,
            alg: AlgId::SHA256
        }]
    );
    let replay = log.replay();
    let (s1, s256) = (HashAlg::Sha1, HashAlg::Sha256);
    assert_eq!(
        replay.get(s1, 4),
        Some(&extend(s1, &extend(s1, &start(s1, 0), b"b"), b"a")[..])
    );
    assert_eq!(
        replay.get(s256, 4),
        Some(&extend(s256, &start(s256, 0), b"b")[..])
    );
}

#[test]
fn trailing_zeros_are_padding_but_trailing_garbage_is_refused() {
    let events = [measured(4, EventType::SEPARATOR, SEP)];
    let clean = log(&events);
    let mut padded = clean.clone();
    padded.extend_from_slice(&[0; 100]);
    let a = EventLog::parse(&clean).unwrap();
    let b = EventLog::parse(&padded).unwrap();
    assert_eq!(
        b.findings(),
        [Finding::TrailingZeros {
            offset: clean.len(),
            len: 100
        }]
    );
    assert_eq!(a.replay(), b.replay());
    let mut garbage = clean.clone();
    garbage.extend_from_slice(&[0, 0, 0, 0, 1]);
    assert_eq!(
        EventLog::parse(&garbage).unwrap_err(),
        LogError::Truncated {
            index: 2,
            offset: clean.len() + 4,
            field: "eventType"
        }
    );
}

#[test]
fn a_log_area_filled_with_0xff_ends_where_the_fill_starts() {
    // edk2 fills its log area with 0xFF before logging; a log read from the ACPI area (not
    // the kernel's trimmed copy) carries the unused rest.
    let events = [measured(4, EventType::SEPARATOR, SEP)];
    let clean = log(&events);
    let mut filled = clean.clone();
    filled.extend_from_slice(&[0xFF; 300]);
    let log = EventLog::parse(&filled).unwrap();
    assert_eq!(
        log.findings(),
        [Finding::TrailingFill {
            offset: clean.len(),
            len: 300
        }]
    );
    assert_eq!(log.replay(), EventLog::parse(&clean).unwrap().replay());
    // Fill that is not the whole rest is no event either.
    let mut broken = clean.clone();
    broken.extend_from_slice(&[0xFF; 8]);
    broken.extend_from_slice(&[1]);
    assert!(EventLog::parse(&broken).is_err());
}

/// Intel TDX firmware's CC event log (the ACPI CCEL table): the crypto-agile form with one
/// SHA-384 bank, each event's pcrIndex a measurement-register index (1 to 4: RTMR 0 to 3;
/// 0, MRTD, is measured by the TDX module and never replayed), the area after the last event
/// filled with 0xFF. Replay gives each RTMR's value at its index.
#[test]
fn a_tdx_cc_event_log_replays_to_its_rtmrs() {
    const SHA384: u16 = 0x000C;
    let s384 = HashAlg::Sha384;
    let ev = |mr: u32, event_type: EventType, data: &[u8]| {
        event2(mr, event_type, &[(SHA384, h(s384, data))], data)
    };
    let mut bytes = spec_id(&[(SHA384, 48)]);
    let events: [(u32, EventType, &[u8]); 5] = [
        (1, EventType::EFI_PLATFORM_FIRMWARE_BLOB2, b"td hob"),
        (
            1,
            EventType::EFI_VARIABLE_DRIVER_CONFIG,
            b"SecureBoot variable",
        ),
        (1, EventType::SEPARATOR, SEP),
        (2, EventType::EFI_BOOT_SERVICES_APPLICATION, b"shim"),
        (3, EventType::IPL, b"grub_cmd linux /vmlinuz"),
    ];
    for (mr, event_type, data) in events {
        bytes.extend_from_slice(&ev(mr, event_type, data));
    }
    let logged = bytes.len();
    bytes.resize(64 * 1024, 0xFF);
    let log = EventLog::parse(&bytes).unwrap();
    assert_eq!(log.banks(), [AlgId::SHA384]);
    assert_eq!(log.unverified_events().len(), 6);
    assert_eq!(
        log.findings(),
        [Finding::TrailingFill {
            offset: logged,
            len: bytes.len() - logged
        }]
    );
    let replay = log.replay();
    let mut rtmr = vec![vec![0u8; 48]; 4];
    for (mr, _, data) in events {
        let r = &mut rtmr[mr as usize - 1];
        *r = extend(s384, r, data);
    }
    for (i, expected) in rtmr.iter().enumerate() {
        let at = i as u32 + 1;
        if expected.iter().all(|&b| b == 0) {
            assert!(!replay.extended(s384, at), "RTMR {i} has no event");
        } else {
            assert_eq!(replay.get(s384, at), Some(&expected[..]), "RTMR {i}");
        }
    }
    // A verifier holding RTMR values from a TD quote it verified checks the log against them
    // like PCRs from a TPM quote.
    let quoted: Vec<(HashAlg, u32, &[u8])> =
        (0..3).map(|i| (s384, i as u32 + 1, &rtmr[i][..])).collect();
    assert!(EventLog::parse(&bytes).unwrap().verify(&quoted).is_ok());
    let mut wrong = rtmr[1].clone();
    wrong[0] ^= 1;
    let quoted = [(s384, 2, &wrong[..])];
    assert!(EventLog::parse(&bytes).unwrap().verify(&quoted).is_err());
}

#[test]
fn vendor_event_types_are_extended_and_found() {
    let bytes = log(&[measured(1, EventType(0x0000_A001), b"vendor")]);
    let log = EventLog::parse(&bytes).unwrap();
    assert_eq!(
        log.findings(),
        [Finding::UnknownEventType {
            index: 1,
            event_type: EventType(0xA001)
        }]
    );
    assert_eq!(EventType(0xA001).to_string(), "0x0000a001");
    assert!(log.replay().extended(HashAlg::Sha256, 1));
}

#[test]
fn a_digest_that_contradicts_its_data_is_found_and_refuses_verification() {
    let lying = event2(
        5,
        EventType::EFI_ACTION,
        &[
            (SHA1, h(HashAlg::Sha1, b"shown")),
            (SHA256, h(HashAlg::Sha256, b"measured")),
        ],
        b"shown",
    );
    let bytes = log(&[lying, measured(7, EventType::SEPARATOR, SEP)]);
    let log = EventLog::parse(&bytes).unwrap();
    assert_eq!(
        log.findings(),
        [Finding::DigestMismatch {
            index: 1,
            pcr: 5,
            event_type: EventType::EFI_ACTION,
            alg: AlgId::SHA256
        }]
    );
    let replay = log.replay();
    let pcr5 = replay.get(HashAlg::Sha256, 5).unwrap().to_vec();
    let pcr7 = replay.get(HashAlg::Sha256, 7).unwrap().to_vec();
    // The replay matches the quote, but the log lied about what PCR 5 measured.
    assert_eq!(
        log.clone()
            .verify(&[(HashAlg::Sha256, 5, &pcr5)])
            .unwrap_err(),
        VerifyError::DataMismatch { index: 1, pcr: 5 }
    );
    // A quote of PCR 7 alone does not cover the lying event.
    assert!(log.verify(&[(HashAlg::Sha256, 7, &pcr7)]).is_ok());
}

#[test]
fn ambiguous_framing_is_refused_with_its_offset() {
    let header_len = spec_id(&[(SHA1, 20), (SHA256, 32)]).len();
    let unknown = log(&[event2(
        0,
        EventType::EFI_ACTION,
        &[(0x0099, vec![0; 20])],
        b"",
    )]);
    assert_eq!(
        EventLog::parse(&unknown).unwrap_err(),
        LogError::UnknownDigestAlgorithm {
            index: 1,
            offset: header_len + 12,
            alg: AlgId(0x99)
        }
    );
    let twice = log(&[event2(
        0,
        EventType::EFI_ACTION,
        &[(SHA1, vec![0; 20]), (SHA1, vec![0; 20])],
        b"",
    )]);
    assert_eq!(
        EventLog::parse(&twice).unwrap_err(),
        LogError::DuplicateDigest {
            index: 1,
            offset: header_len + 34,
            alg: AlgId::SHA1
        }
    );
    let mut many = log(&[]);
    many.extend_from_slice(&[0, 0, 0, 0, 7, 0, 0, 0, 0xFF, 0xFF, 0xFF, 0xFF]);
    assert!(matches!(
        EventLog::parse(&many),
        Err(LogError::TooManyDigests {
            index: 1,
            count: u32::MAX,
            ..
        })
    ));
    let far = log(&[measured(24, EventType::EFI_ACTION, b"")]);
    assert!(matches!(
        EventLog::parse(&far),
        Err(LogError::PcrOutOfRange {
            index: 1,
            pcr: 24,
            ..
        })
    ));
    // A size field of 4 GiB is a truncation, not an allocation.
    let mut huge = log(&[]);
    huge.extend_from_slice(&event2(0, EventType::EFI_ACTION, &[], b"")[..12]);
    huge.extend_from_slice(&u32::MAX.to_le_bytes());
    assert!(matches!(
        EventLog::parse(&huge),
        Err(LogError::Truncated {
            field: "event data",
            ..
        })
    ));
    assert_eq!(EventLog::parse(&[]).unwrap_err(), LogError::Empty);
}

#[test]
fn spec_id_headers_are_checked() {
    // A bank this crate cannot hash (SM3) is framed by its header size and skipped in replay.
    let mut bytes = spec_id(&[(SM3, 32), (SHA256, 32)]);
    bytes.extend(event2(
        7,
        EventType::SEPARATOR,
        &[(SM3, vec![0x33; 32]), (SHA256, h(HashAlg::Sha256, SEP))],
        SEP,
    ));
    let log = EventLog::parse(&bytes).unwrap();
    assert_eq!(log.banks(), [AlgId::SM3_256, AlgId::SHA256]);
    assert_eq!(log.replay().banks().collect::<Vec<_>>(), [HashAlg::Sha256]);
    assert_eq!(
        log.unverified_events()[1].digest(AlgId::SM3_256),
        Some(&[0x33; 32][..])
    );
    for (algs, reason) in [
        (&[(SHA256, 20)][..], "wrong digest size"),
        (&[(SHA1, 20), (SHA1, 20)][..], "twice"),
        (&[][..], "no algorithm"),
    ] {
        let err = EventLog::parse(&spec_id(algs)).unwrap_err();
        assert!(
            matches!(err, LogError::SpecId { .. }) && err.to_string().contains(reason),
            "{err}"
        );
    }
}

#[test]
fn sha1_form_logs_replay_their_one_bank() {
    let d = hash(HashAlg::Sha1, &[SEP]);
    let mut digest = [0u8; 20];
    digest.copy_from_slice(d.as_bytes());
    let mut bytes = sha1_event(0, EventType::SEPARATOR, &digest, SEP);
    bytes.extend(sha1_event(
        0,
        EventType::NO_ACTION,
        &[0x55; 20],
        b"not extended",
    ));
    let log = EventLog::parse(&bytes).unwrap();
    assert_eq!(log.format(), LogFormat::Sha1);
    assert_eq!(log.banks(), [AlgId::SHA1]);
    let alg = HashAlg::Sha1;
    assert_eq!(
        log.replay().get(alg, 0),
        Some(&extend(alg, &start(alg, 0), SEP)[..])
    );
}

#[test]
fn headers_and_events_that_would_make_framing_slow_or_ambiguous_are_refused() {
    let algs: Vec<(u16, u16)> = (0x100..0x111).map(|a| (a, 0)).collect();
    let err = EventLog::parse(&spec_id(&algs)).unwrap_err();
    assert!(
        err.to_string()
            .contains("more algorithms than a TPM has banks"),
        "{err}"
    );
    let mut data = b"StartupLocality\0".to_vec();
    data.push(3);
    let elsewhere = log(&[event2(1, EventType::NO_ACTION, &[], &data)]);
    assert!(matches!(
        EventLog::parse(&elsewhere),
        Err(LogError::StartupLocality { index: 1, .. })
    ));
}

/// A megabyte of all-zero records (each a valid empty EV_PREBOOT_CERT) ending in one non-zero
/// byte: every boundary is a candidate for padding, and checking each by scanning the rest
/// would take minutes. The byte makes a truncated record, found at its offset.
#[test]
fn zero_records_before_a_last_byte_are_framed_in_linear_time() {
    let mut bytes = log(&[]);
    let header = bytes.len();
    bytes.resize(header + (1 << 20), 0);
    bytes.push(1);
    let started = std::time::Instant::now();
    let err = EventLog::parse(&bytes).unwrap_err();
    assert!(
        started.elapsed() < std::time::Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(
        err,
        LogError::Truncated {
            index: 1 + (1 << 20) / 16,
            offset: bytes.len() - 1,
            field: "pcrIndex"
        }
    );
}
