//! Event data of any type into the UEFI event decoders and the secure-boot state: the first 4
//! bytes (little-endian) pick the event type, the rest is the data. Nothing may panic, and
//! what decodes must be consistent with the bytes it came from.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tpm2_wire::eventlog::uefi::{decode_event, EventData, EventType, SecureBootState};

fuzz_target!(|input: &[u8]| {
    let Some((head, data)) = input.split_first_chunk::<4>() else {
        return;
    };
    let event_type = EventType(u32::from_le_bytes(*head));
    let _ = event_type.to_string();
    match decode_event(event_type, data) {
        Ok(EventData::Variable(v)) | Ok(EventData::Authority(v)) => {
            // The variable's value ends the event data, but for the bytes counted after it.
            assert!(data[..data.len() - v.trailing].ends_with(&v.data));
        }
        Ok(EventData::ImageLoad(image)) => {
            let _ = image.device_path.to_string();
            let walked: usize = image
                .device_path
                .nodes
                .iter()
                .map(|n| n.data.len() + 4)
                .sum();
            assert_eq!(walked + 32 + image.trailing, data.len());
        }
        Ok(EventData::Tagged(tagged)) => {
            // The tagged data is the event data's whole rest after the ID and size.
            assert_eq!(&data[8..], tagged.data);
        }
        Ok(EventData::Other(raw)) => assert_eq!(raw, data),
        _ => {}
    }
    for pcr in [2, 4, 7] {
        if let Ok(state) = SecureBootState::from_events([(event_type, pcr, data)]) {
            let _ = state.issues();
            assert!(state.unverified_images().count() <= state.images.len());
        }
    }
});
