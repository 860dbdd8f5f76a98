//! An IMA measurement list comes from an untrusted agent: any bytes, in any bank and byte
//! order, replaying its own bank or recomputing another, must replay without panicking, and replaying them in two pieces (split where the
//! input says) must agree with replaying them whole: same bytes consumed, same entries, same
//! PCR values, same error.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tpm2_wire::crypto::HashAlg;
use tpm2_wire::eventlog::ima::{entries, ByteOrder, ImaReplay, ListFormat, PcrCheck};

fuzz_target!(|data: &[u8]| {
    let Some((&[mode, cut_hi, cut_lo], list)) = data.split_first_chunk::<3>() else {
        return;
    };
    let mut format = ListFormat::new(HashAlg::ALL[usize::from(mode & 3)]);
    if mode & 4 != 0 {
        format = format.with_byte_order(ByteOrder::Big);
    }
    if mode & 8 != 0 {
        // A small bound, so the entry-size check is reached too.
        format = format.with_max_entry_len(u32::from(cut_hi) * 4);
    }
    let cut = usize::from(u16::from_be_bytes([cut_hi, cut_lo])) % (list.len() + 1);
    // Replay the list's own bank, or recompute another from the template data.
    let pcr_bank = HashAlg::ALL[usize::from((mode >> 4) & 3)];
    let size = pcr_bank.digest_size();

    let mut whole = ImaReplay::recomputing(format, pcr_bank);
    let mut visited = 0u64;
    let whole_result = whole.feed_with(list, |entry, pcr| {
        visited += 1;
        assert_eq!(entry.index() + 1, visited);
        assert_eq!(pcr.len(), size);
        // Every replayed entry decodes.
        entry
            .template()
            .expect("a replayed entry's template decodes");
    });

    let mut split = ImaReplay::recomputing(format, pcr_bank);
    let split_result = split.feed(&list[..cut]).and_then(|first| {
        assert!(first <= cut);
        // What the first call left is given again, followed by the rest.
        split.feed(&list[first..]).map(|second| first + second)
    });
    assert_eq!(whole_result, split_result, "cut at {cut}");
    assert_eq!(whole.entries(), split.entries());
    assert_eq!(whole.offset(), split.offset());
    assert_eq!(whole.entries(), visited);
    for pcr in 0..24 {
        assert_eq!(whole.pcr(pcr), split.pcr(pcr));
        let value = whole.pcr(pcr).unwrap();
        assert_eq!(whole.check_pcr(pcr, value), PcrCheck::Match);
    }
    assert!(whole.extended_pcrs().eq(split.extended_pcrs()));

    // The reader agrees with the replay on where entries start, and decodes what it can.
    let mut read = 0u64;
    for entry in entries(list, format) {
        let Ok(entry) = entry else { break };
        assert_eq!(entry.index(), read);
        read += 1;
        let _ = entry.template();
        let _ = entry.check_template_digest();
    }
    assert!(read >= whole.entries());
});
