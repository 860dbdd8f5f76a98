//! The first byte picks a wire type; the rest is unmarshalled as that type. Whatever is
//! accepted must re-marshal to exactly the bytes consumed and read back equal.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tpm2_wire::wire::*;

fn check<T: Marshal + Unmarshal + PartialEq + core::fmt::Debug>(data: &[u8]) {
    let mut r = Reader::new(data);
    let Ok(value) = T::unmarshal(&mut r) else {
        return;
    };
    let consumed = &data[..r.position()];
    let again = value.to_bytes();
    assert_eq!(again, consumed, "{value:?} re-encodes differently");
    let back = T::from_bytes(&again).expect("a re-marshalled value must read back");
    assert_eq!(back, value);
}

fuzz_target!(|data: &[u8]| {
    let Some((&selector, rest)) = data.split_first() else {
        return;
    };
    match selector % 35 {
        0 => check::<Public>(rest),
        1 => check::<Tpm2bPublic>(rest),
        2 => check::<CapabilityData>(rest),
        3 => check::<Attestation>(rest),
        4 => check::<Signature>(rest),
        5 => check::<NvPublic>(rest),
        6 => check::<Tpm2bNvPublic>(rest),
        7 => check::<Context>(rest),
        8 => check::<SymDef>(rest),
        9 => check::<SymDefObject>(rest),
        10 => check::<RsaScheme>(rest),
        11 => check::<EccScheme>(rest),
        12 => check::<KdfScheme>(rest),
        13 => check::<KeyedHashScheme>(rest),
        14 => check::<SigScheme>(rest),
        15 => check::<HashValue>(rest),
        16 => check::<PcrSelection>(rest),
        17 => check::<PcrSelectionList>(rest),
        18 => check::<DigestList>(rest),
        19 => check::<DigestValues>(rest),
        20 => check::<Ticket>(rest),
        21 => check::<EccPoint>(rest),
        22 => check::<Tpm2bEccPoint>(rest),
        23 => check::<SensitiveCreate>(rest),
        24 => check::<Tpm2bSensitiveCreate>(rest),
        25 => check::<ClockInfo>(rest),
        26 => check::<HandleList>(rest),
        27 => check::<TaggedPropertyList>(rest),
        28 => check::<AlgPropertyList>(rest),
        29 => check::<CommandAttributesList>(rest),
        30 => check::<TaggedPcrPropertyList>(rest),
        31 => check::<PcrSelect>(rest),
        32 => check::<Sensitive>(rest),
        33 => check::<Tpm2bSensitive>(rest),
        _ => check::<CreationDataInfo>(rest),
    }
});
