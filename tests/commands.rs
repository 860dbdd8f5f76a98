//! The basic typed commands against swtpm: Startup, Shutdown, SelfTest, GetRandom,
//! GetCapability, PCR_Read, ReadPublic, FlushContext.

mod common;

use common::*;
use tpm2_wire::command::{GetCapability, GetRandom, PcrRead, SelfTest, Shutdown, Startup};
use tpm2_wire::wire::{
    AlgId, Capability, CapabilityData, PcrSelection, PcrSelectionList, PropertyTag, Public,
    StartupType,
};
use tpm2_wire::Error;

#[test]
fn startup_on_a_started_tpm_is_decoded_as_initialize() {
    let (_sim, tpm) = swtpm();
    let err = tpm
        .run(&Startup {
            startup_type: StartupType::CLEAR,
        })
        .unwrap_err();
    match err {
        Error::Tpm { rc, .. } => {
            assert!(rc.is_initialize(), "{rc}");
            assert_eq!(rc.to_string(), "TPM_RC_INITIALIZE");
        }
        other => panic!("expected a TPM error, got {other}"),
    }
}

#[test]
fn self_test_get_random_and_orderly_shutdown() {
    let (_sim, tpm) = swtpm();
    tpm.run(&SelfTest { full_test: true }).unwrap();
    let a = tpm
        .run(&GetRandom {
            bytes_requested: 32,
        })
        .unwrap()
        .random_bytes;
    let b = tpm
        .run(&GetRandom {
            bytes_requested: 32,
        })
        .unwrap()
        .random_bytes;
    assert_eq!(a.len(), 32);
    assert_ne!(a, b);
    tpm.run(&Shutdown {
        shutdown_type: StartupType::CLEAR,
    })
    .unwrap();
}

#[test]
fn capabilities_pcrs_and_public_areas() {
    let (_sim, tpm) = swtpm();
    let caps = tpm
        .run(&GetCapability {
            capability: Capability::TPM_PROPERTIES,
            property: PropertyTag::HR_LOADED_AVAIL.0,
            property_count: 8,
        })
        .unwrap();
    assert!(matches!(
        caps.capability_data,
        CapabilityData::TpmProperties(_)
    ));
    assert_eq!(
        caps.capability_data.property(PropertyTag::HR_LOADED_AVAIL),
        Some(3),
        "swtpm has 3 loaded session slots, all free"
    );

    let mut sel = PcrSelectionList::default();
    sel.push(PcrSelection::new(AlgId::SHA256, &[0, 1, 2]).unwrap())
        .unwrap();
    let pcrs = tpm
        .run(&PcrRead {
            pcr_selection_in: sel,
        })
        .unwrap();
    assert_eq!(pcrs.pcr_values.len(), 3);
    assert!(pcrs.pcr_values.iter().all(|d| d.len() == 32));

    let (key, _) = create_primary(&tpm, Public::ecc_p256_storage_parent(), &pw(""));
    let (entity, public) = tpm.read_public(key.handle).unwrap();
    assert_eq!(entity, key);
    assert_eq!(public.object_type(), AlgId::ECC);
    flush(&tpm, key.handle);
    let err = tpm.read_public(key.handle).unwrap_err();
    let rc = err.response_code().expect("a TPM error");
    assert!(rc.is_handle_error(), "flushed handle: {rc}");
    // The first handle references nothing loaded.
    assert_eq!(rc.to_string(), "TPM_RC_REFERENCE_H0");
}
