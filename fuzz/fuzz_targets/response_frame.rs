//! A response frame as a TPM, a transport or a resource manager might send it: split with 0
//! or 1 response handles (bit 0 of the first byte), the header size optionally made to agree
//! (bit 1), then each area decoded as the body of the command picked by the other bits.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tpm2_wire::wire::*;

/// Decodes a parameter area as the response body of one of several commands; all must
/// fail cleanly or succeed.
fn decode_parameters(which: u8, params: &[u8]) {
    let mut r = Reader::new(params);
    let _ = match which % 7 {
        // GetCapability: moreData, capabilityData.
        0 => bool::unmarshal(&mut r).and_then(|_| CapabilityData::unmarshal(&mut r).map(drop)),
        // ReadPublic: outPublic, name, qualifiedName.
        1 => Tpm2bPublic::unmarshal(&mut r)
            .and_then(|_| Name::unmarshal(&mut r))
            .and_then(|_| Name::unmarshal(&mut r).map(drop)),
        // CreatePrimary: outPublic, creationData, creationHash, creationTicket, name.
        2 => Tpm2bPublic::unmarshal(&mut r)
            .and_then(|_| CreationData::unmarshal(&mut r))
            .map(|data| {
                let _ = CreationDataInfo::from_bytes(data.as_bytes());
            })
            .and_then(|_| Digest::unmarshal(&mut r))
            .and_then(|_| CreationTicket::unmarshal(&mut r))
            .and_then(|_| Name::unmarshal(&mut r).map(drop)),
        // NV_ReadPublic: nvPublic, nvName.
        3 => Tpm2bNvPublic::unmarshal(&mut r).and_then(|_| Name::unmarshal(&mut r).map(drop)),
        // ContextSave: context.
        4 => Context::unmarshal(&mut r).map(drop),
        // Quote: quoted (TPM2B_ATTEST holding a TPMS_ATTEST), signature.
        5 => Attest::unmarshal(&mut r).and_then(|attest| {
            let _ = Attestation::from_bytes(attest.as_bytes());
            Signature::unmarshal(&mut r).map(drop)
        }),
        // PCR_Read: pcrUpdateCounter, pcrSelectionOut, pcrValues.
        _ => u32::unmarshal(&mut r)
            .and_then(|_| PcrSelectionList::unmarshal(&mut r))
            .and_then(|_| DigestList::unmarshal(&mut r).map(drop)),
    };
    let _ = r.finish();
}

fuzz_target!(|data: &[u8]| {
    let Some((&selector, frame)) = data.split_first() else {
        return;
    };
    let handles = usize::from(selector & 1);
    // Half the time, make the header's size agree with the frame so the fuzzer spends its
    // effort past the header; the other half also exercises size mismatches.
    let mut owned = frame.to_vec();
    if selector & 2 != 0 && owned.len() >= HEADER_SIZE {
        let len = owned.len() as u32;
        owned[2..6].copy_from_slice(&len.to_be_bytes());
    }
    let frame = owned.as_slice();
    let Ok(parsed) = ResponseFrame::parse(frame, handles) else {
        return;
    };
    let rc = ResponseCode(parsed.code);
    let _ = rc.to_string();
    if !rc.is_success() {
        assert!(parsed.parameters.is_empty() && parsed.auth_count == 0);
        return;
    }
    assert!(parsed.auth_count <= MAX_SESSIONS);
    if handles == 1 {
        let handle = Handle::from_bytes(parsed.handles).expect("the handle area is 4 bytes");
        let _ = handle.handle_type();
    }
    for auth in parsed.auths.iter().take(parsed.auth_count).flatten() {
        assert!(auth.nonce.len() <= MAX_DIGEST_SIZE && auth.hmac.len() <= MAX_DIGEST_SIZE);
    }
    decode_parameters(selector >> 2, parsed.parameters);
});
