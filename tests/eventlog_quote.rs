//! An event log measured into a private swtpm, quoted, and verified on the host: the replay
//! gives the values the quote is checked against, and only then is the log usable. A log
//! changed after the fact no longer matches the TPM's quote and is refused.

mod common;

use common::*;
use tpm2_wire::attest::{verify_quote, AttestError, AttestationKey};
use tpm2_wire::command::{Entity, PcrExtend, Quote};
use tpm2_wire::crypto::{hash, HashAlg};
use tpm2_wire::eventlog::log::{EventLog, EventType};
use tpm2_wire::eventlog::replay::VerifyError;
use tpm2_wire::session::engine::SessionSlot;
use tpm2_wire::wire::{
    AlgId, Auth, Data, DigestValues, Handle, HashValue, PcrSelection, PcrSelectionList, Public,
    SigScheme,
};

/// PCRs that start at zero after TPM2_Startup and accept extends at locality 0.
const PCRS: [u32; 3] = [8, 9, 16];

fn le32(out: &mut Vec<u8>, v: u32) {
    out.extend_from_slice(&v.to_le_bytes());
}

/// A crypto-agile log (SHA-1 and SHA-256 banks) of events measuring their own data.
fn build_log(events: &[(u32, EventType, &[u8])]) -> Vec<u8> {
    let mut spec = b"Spec ID Event03\0".to_vec();
    le32(&mut spec, 0);
    spec.extend_from_slice(&[0, 2, 0, 2]);
    le32(&mut spec, 2);
    spec.extend_from_slice(&[0x04, 0, 20, 0, 0x0B, 0, 32, 0, 0]);
    let mut out = Vec::new();
    le32(&mut out, 0);
    le32(&mut out, EventType::NO_ACTION.0);
    out.extend_from_slice(&[0; 20]);
    le32(&mut out, spec.len() as u32);
    out.extend_from_slice(&spec);
    for &(pcr, event_type, data) in events {
        le32(&mut out, pcr);
        le32(&mut out, event_type.0);
        le32(&mut out, 2);
        for (id, alg) in [(0x04u16, HashAlg::Sha1), (0x0B, HashAlg::Sha256)] {
            out.extend_from_slice(&id.to_le_bytes());
            out.extend_from_slice(hash(alg, &[data]).as_bytes());
        }
        le32(&mut out, data.len() as u32);
        out.extend_from_slice(data);
    }
    out
}

/// What firmware does while it writes the log: each event's digests extended into the TPM.
fn measure(tpm: &tpm2_wire::Tpm, events: &[(u32, EventType, &[u8])]) {
    let empty = Auth::empty();
    for &(pcr, _, data) in events {
        let digests = DigestValues::new(vec![
            HashValue::new(AlgId::SHA1, hash(HashAlg::Sha1, &[data]).as_bytes()).unwrap(),
            HashValue::new(AlgId::SHA256, hash(HashAlg::Sha256, &[data]).as_bytes()).unwrap(),
        ])
        .unwrap();
        tpm.execute(
            &PcrExtend {
                pcr_handle: Entity::from_handle(Handle(pcr)),
                digests,
            },
            &mut [SessionSlot::Password(&empty)],
        )
        .expect("PCR_Extend");
    }
}

#[test]
fn a_log_measured_into_swtpm_verifies_against_its_quote_and_a_changed_log_does_not() {
    let (_sim, tpm) = swtpm();
    let events: [(u32, EventType, &[u8]); 5] = [
        (
            8,
            EventType::IPL,
            b"grub_cmd: linux /vmlinuz root=/dev/sda1\0",
        ),
        (8, EventType::IPL, b"grub_cmd: initrd /initrd.img\0"),
        (9, EventType::IPL, b"/vmlinuz"),
        (16, EventType::EFI_ACTION, b"a debug measurement"),
        (16, EventType::SEPARATOR, &[0, 0, 0, 0]),
    ];
    measure(&tpm, &events);
    let bytes = build_log(&events);

    let (ak_handle, ak_public) =
        create_primary(&tpm, Public::ecc_p256_attestation_key(), &Auth::empty());
    let ak = AttestationKey::primary(Handle::RH_OWNER, ak_public).unwrap();
    let selection = PcrSelectionList::new(vec![
        PcrSelection::new(AlgId::SHA256, &[8, 9, 16]).unwrap(),
        PcrSelection::new(AlgId::SHA1, &[8, 9, 16]).unwrap(),
    ])
    .unwrap();
    let nonce = random_bytes(32);
    let empty = Auth::empty();
    let quote = tpm
        .execute(
            &Quote {
                sign_handle: ak_handle.clone(),
                qualifying_data: Data::new(&nonce).unwrap(),
                in_scheme: SigScheme::Null,
                pcr_select: selection,
            },
            &mut [SessionSlot::Password(&empty)],
        )
        .expect("Quote");
    flush(&tpm, ak_handle.handle);
    let wanted: [(HashAlg, &[u32]); 2] = [(HashAlg::Sha256, &PCRS), (HashAlg::Sha1, &PCRS)];

    // The genuine log: its replay is what the TPM quoted, so it verifies.
    let log = EventLog::parse(&bytes).unwrap();
    let expected = log.replay().pcr_values(&wanted).unwrap();
    verify_quote(
        &ak,
        quote.quoted.as_bytes(),
        &quote.signature,
        &nonce,
        &expected,
    )
    .expect("the quote verifies against the replayed values");
    let verified = log.verify_pcr_values(&expected).expect("the log verifies");
    let cmdlines: Vec<&[u8]> = verified
        .events()
        .filter(|e| e.pcr() == 8)
        .map(|e| e.data())
        .collect();
    assert_eq!(cmdlines, [events[0].2, events[1].2]);
    assert_eq!(
        verified.events().next().unwrap().digest(HashAlg::Sha1),
        Some(hash(HashAlg::Sha1, &[events[0].2]).as_bytes())
    );

    // The agent rewrites the kernel command line (digests recomputed, so the log is
    // self-consistent): its replay is no longer what the TPM quoted.
    let mut forged = events;
    forged[0].2 = b"grub_cmd: linux /vmlinuz root=/dev/sda1 init=/bin/sh\0";
    let forged_bytes = build_log(&forged);
    let forged_log = EventLog::parse(&forged_bytes).unwrap();
    let forged_values = forged_log.replay().pcr_values(&wanted).unwrap();
    assert_eq!(
        verify_quote(
            &ak,
            quote.quoted.as_bytes(),
            &quote.signature,
            &nonce,
            &forged_values,
        )
        .unwrap_err(),
        AttestError::PcrDigestMismatch
    );
    // Checked against the values the genuine quote verified, the forged log is refused.
    match forged_log.verify_pcr_values(&expected).unwrap_err() {
        VerifyError::Mismatch {
            pcr: 8,
            mismatches: 2,
            ..
        } => {}
        other => panic!("{other:?}"),
    }
}
