//! The IMA measurement list: lists built here with the kernel's layout for each template
//! (`ima_measurements_show`, and the template hash of `ima_calc_field_array_hash`), replayed
//! and compared with PCR values computed independently with the `sha1` and `sha2` crates.

use tpm2_wire::crypto::HashAlg;
use tpm2_wire::eventlog::ima::{
    entries, replay, ByteOrder, ImaError, ImaReplay, ListFormat, PcrCheck, Template,
};

/// Hash with the bank's algorithm, independently of the crate's own hashing.
fn h(bank: HashAlg, parts: &[&[u8]]) -> Vec<u8> {
    fn run<D: sha1::Digest>(parts: &[&[u8]]) -> Vec<u8> {
        let mut d = D::new();
        for p in parts {
            d.update(p);
        }
        d.finalize().to_vec()
    }
    match bank {
        HashAlg::Sha1 => run::<sha1::Sha1>(parts),
        HashAlg::Sha256 => run::<sha2::Sha256>(parts),
        HashAlg::Sha384 => run::<sha2::Sha384>(parts),
        HashAlg::Sha512 => run::<sha2::Sha512>(parts),
    }
}

/// Builds lists the way the kernel writes them, and the PCR values it extends.
struct ListBuilder {
    bank: HashAlg,
    order: ByteOrder,
    bytes: Vec<u8>,
    /// (pcr, what the kernel extended) per entry.
    extends: Vec<(u32, Vec<u8>)>,
}

impl ListBuilder {
    fn new(bank: HashAlg) -> Self {
        ListBuilder {
            bank,
            order: ByteOrder::Little,
            bytes: Vec::new(),
            extends: Vec::new(),
        }
    }

    fn big_endian(mut self) -> Self {
        self.order = ByteOrder::Big;
        self
    }

    fn format(&self) -> ListFormat {
        ListFormat::new(self.bank).with_byte_order(self.order)
    }

    fn u32(&self, v: u32) -> [u8; 4] {
        match self.order {
            ByteOrder::Little => v.to_le_bytes(),
            _ => v.to_be_bytes(),
        }
    }

    /// Template data of length-prefixed fields.
    fn fields(&self, fields: &[&[u8]]) -> Vec<u8> {
        let mut data = Vec::new();
        for f in fields {
            data.extend_from_slice(&self.u32(f.len() as u32));
            data.extend_from_slice(f);
        }
        data
    }

    fn push_raw(
        &mut self,
        pcr: u32,
        digest: &[u8],
        name: &[u8],
        data_len: Option<u32>,
        data: &[u8],
    ) {
        let mut e = Vec::new();
        e.extend_from_slice(&self.u32(pcr));
        e.extend_from_slice(digest);
        e.extend_from_slice(&self.u32(name.len() as u32));
        e.extend_from_slice(name);
        if let Some(len) = data_len {
            e.extend_from_slice(&self.u32(len));
        }
        e.extend_from_slice(data);
        self.bytes.extend_from_slice(&e);
    }

    /// An entry of a template with length-prefixed fields, its digest the hash of its data.
    fn templated(mut self, pcr: u32, name: &str, fields: &[&[u8]]) -> Self {
        let data = self.fields(fields);
        let digest = h(self.bank, &[&data]);
        self.push_raw(
            pcr,
            &digest,
            name.as_bytes(),
            Some(data.len() as u32),
            &data,
        );
        self.extends.push((pcr, digest));
        self
    }

    /// A violation: the template digest is zeros and the PCR gets all ones.
    fn violation(mut self, pcr: u32, path: &str) -> Self {
        let digest_ng = d_ng("sha256", &[0; 20]);
        let data = self.fields(&[&digest_ng, &nul(path)]);
        let zeros = vec![0u8; self.bank.digest_size()];
        self.push_raw(pcr, &zeros, b"ima-ng", Some(data.len() as u32), &data);
        self.extends
            .push((pcr, vec![0xff; self.bank.digest_size()]));
        self
    }

    /// The legacy template: digest, name length, name; hashed with the name padded to 256.
    fn legacy(mut self, pcr: u32, file_digest: [u8; 20], path: &str) -> Self {
        let mut padded = [0u8; 256];
        padded[..path.len()].copy_from_slice(path.as_bytes());
        let digest = h(self.bank, &[&file_digest, &padded]);
        let mut data = file_digest.to_vec();
        data.extend_from_slice(&self.u32(path.len() as u32));
        data.extend_from_slice(path.as_bytes());
        self.push_raw(pcr, &digest, b"ima", None, &data);
        self.extends.push((pcr, digest));
        self
    }

    /// The PCR values the kernel's extends produce, from zeros.
    fn expected(&self, pcr: u32) -> Vec<u8> {
        let mut value = vec![0u8; self.bank.digest_size()];
        for (p, ext) in &self.extends {
            if *p == pcr {
                value = h(self.bank, &[&value, ext]);
            }
        }
        value
    }
}

fn d_ng(alg: &str, digest: &[u8]) -> Vec<u8> {
    let mut f = alg.as_bytes().to_vec();
    f.extend_from_slice(b":\0");
    f.extend_from_slice(digest);
    f
}

fn nul(s: &str) -> Vec<u8> {
    let mut v = s.as_bytes().to_vec();
    v.push(0);
    v
}

/// A small list with every template the kernel ships, a custom one and a violation.
fn mixed(bank: HashAlg) -> ListBuilder {
    let file = h(HashAlg::Sha256, &[b"/usr/bin/true"]);
    ListBuilder::new(bank)
        .templated(
            10,
            "ima-ng",
            &[&d_ng("sha256", &[0x11; 32]), &nul("boot_aggregate")],
        )
        .templated(
            10,
            "ima-sig",
            &[
                &d_ng("sha256", &file),
                &nul("/usr/bin/true"),
                &[0x03, 0x02, 0xaa],
            ],
        )
        .violation(10, "/var/log/written")
        .templated(
            10,
            "ima-buf",
            &[
                &d_ng("sha256", &h(HashAlg::Sha256, &[b"root=/dev/sda"])),
                &nul("kexec-cmdline"),
                b"root=/dev/sda",
            ],
        )
        .legacy(10, [0x22; 20], "/etc/passwd")
        .templated(
            10,
            "ima-modsig",
            &[
                &d_ng("sha512", &[0x33; 64]),
                &nul("/lib/m.ko"),
                &[],
                &[],
                &[],
            ],
        )
        .templated(
            10,
            "d-ng|n-ng",
            &[&d_ng("sha1", &[0x44; 20]), &nul("/sbin/init")],
        )
}

#[test]
fn replay_matches_the_kernels_extends_in_every_bank() {
    for bank in HashAlg::ALL {
        let list = mixed(bank);
        let replayed = replay(&list.bytes, list.format()).unwrap();
        assert_eq!(replayed.entries(), 7, "{bank:?}");
        assert_eq!(replayed.offset(), list.bytes.len() as u64);
        assert_eq!(
            replayed.pcr(10).unwrap(),
            &list.expected(10)[..],
            "{bank:?}"
        );
        assert_eq!(replayed.check_pcr(10, &list.expected(10)), PcrCheck::Match);
        let extended: Vec<u32> = replayed.extended_pcrs().map(|(i, _)| i).collect();
        assert_eq!(extended, [10]);
    }
}

#[test]
fn a_big_endian_list_replays_in_big_endian_and_not_as_little() {
    let list = ListBuilder::new(HashAlg::Sha1)
        .big_endian()
        .templated(10, "ima-ng", &[&d_ng("sha1", &[7; 20]), &nul("/bin/sh")])
        .legacy(10, [9; 20], "/bin/ls");
    let replayed = replay(&list.bytes, list.format()).unwrap();
    assert_eq!(replayed.pcr(10).unwrap(), &list.expected(10)[..]);
    // Read as little-endian, PCR 10 becomes 0x0a000000: refused, never misread.
    assert!(matches!(
        replay(&list.bytes, ListFormat::SHA1),
        Err(ImaError::PcrOutOfRange {
            index: 0,
            offset: 0,
            pcr: 0x0a00_0000
        })
    ));
}

#[test]
fn every_template_decodes_into_its_fields() {
    let list = mixed(HashAlg::Sha1);
    let decoded: Vec<Template<'_>> = entries(&list.bytes, list.format())
        .map(|e| e.unwrap().template().unwrap())
        .collect();
    match &decoded[0] {
        Template::ImaNg { digest, path } => {
            assert_eq!(digest.algorithm, "sha256");
            assert_eq!(digest.hash_alg(), Some(HashAlg::Sha256));
            assert_eq!(digest.digest, &[0x11; 32]);
            assert_eq!(*path, b"boot_aggregate");
        }
        other => panic!("{other:?}"),
    }
    match &decoded[1] {
        Template::ImaSig {
            digest,
            path,
            signature,
        } => {
            assert_eq!(digest.digest, &h(HashAlg::Sha256, &[b"/usr/bin/true"])[..]);
            assert_eq!(*path, b"/usr/bin/true");
            assert_eq!(*signature, &[0x03, 0x02, 0xaa]);
        }
        other => panic!("{other:?}"),
    }
    match &decoded[3] {
        Template::ImaBuf {
            digest,
            name,
            buffer,
        } => {
            assert_eq!(digest.digest, &h(HashAlg::Sha256, &[b"root=/dev/sda"])[..]);
            assert_eq!(*name, b"kexec-cmdline");
            assert_eq!(*buffer, b"root=/dev/sda");
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(
        decoded[4],
        Template::Ima {
            digest: &[0x22; 20],
            path: b"/etc/passwd"
        }
    );
    match &decoded[5] {
        Template::Other { fields } => {
            assert_eq!(fields.len(), 5);
            assert_eq!(fields[0], &d_ng("sha512", &[0x33; 64])[..]);
            assert_eq!(fields[1], b"/lib/m.ko\0");
            assert!(fields[2..].iter().all(|f| f.is_empty()));
        }
        other => panic!("{other:?}"),
    }
    // A template known only by its format string decodes as the template it spells.
    match &decoded[6] {
        Template::ImaNg { digest, path } => {
            assert_eq!(digest.hash_alg(), Some(HashAlg::Sha1));
            assert_eq!(*path, b"/sbin/init");
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_violation_extends_all_ones_and_poisons_the_pcr() {
    let list = ListBuilder::new(HashAlg::Sha256)
        .templated(10, "ima-ng", &[&d_ng("sha256", &[1; 32]), &nul("/a")])
        .violation(10, "/b");
    let entry = entries(&list.bytes, list.format()).nth(1).unwrap().unwrap();
    assert!(entry.is_violation());
    let replayed = replay(&list.bytes, list.format()).unwrap();
    let ones = h(
        HashAlg::Sha256,
        &[
            &h(HashAlg::Sha256, &[&[0; 32], &list.extends[0].1]),
            &[0xff; 32],
        ],
    );
    assert_eq!(replayed.pcr(10).unwrap(), &ones[..]);
    // Extending zeros (as the digest says) would give another value: the ones are what count.
    let zeros = h(
        HashAlg::Sha256,
        &[
            &h(HashAlg::Sha256, &[&[0; 32], &list.extends[0].1]),
            &[0; 32],
        ],
    );
    assert_eq!(replayed.check_pcr(10, &zeros), PcrCheck::Mismatch);
}

#[test]
fn entries_replay_into_the_pcr_they_name() {
    let list = ListBuilder::new(HashAlg::Sha1)
        .templated(10, "ima-ng", &[&d_ng("sha1", &[1; 20]), &nul("/a")])
        .templated(11, "ima-ng", &[&d_ng("sha1", &[2; 20]), &nul("/b")])
        .templated(23, "ima-ng", &[&d_ng("sha1", &[3; 20]), &nul("/c")])
        .templated(10, "ima-ng", &[&d_ng("sha1", &[4; 20]), &nul("/d")]);
    let replayed = replay(&list.bytes, list.format()).unwrap();
    let extended: Vec<(u32, Vec<u8>)> = replayed
        .extended_pcrs()
        .map(|(i, v)| (i, v.to_vec()))
        .collect();
    assert_eq!(
        extended,
        [
            (10, list.expected(10)),
            (11, list.expected(11)),
            (23, list.expected(23))
        ]
    );
    // A PCR no entry named is still at its reset value.
    assert_eq!(replayed.pcr(0).unwrap(), &[0; 20]);
    assert_eq!(replayed.check_pcr(0, &[0; 20]), PcrCheck::Match);
    assert_eq!(replayed.pcr(24), None);
}

#[test]
fn check_pcr_refuses_other_values_and_other_lengths() {
    let list = mixed(HashAlg::Sha256);
    let replayed = replay(&list.bytes, list.format()).unwrap();
    let good = list.expected(10);
    assert_eq!(replayed.check_pcr(10, &good), PcrCheck::Match);
    let mut flipped = good.clone();
    flipped[31] ^= 1;
    assert_eq!(replayed.check_pcr(10, &flipped), PcrCheck::Mismatch);
    assert_eq!(replayed.check_pcr(10, &good[..20]), PcrCheck::Mismatch);
    assert_eq!(replayed.check_pcr(11, &good), PcrCheck::Mismatch);
    assert_eq!(replayed.check_pcr(99, &good), PcrCheck::Mismatch);
}

/// Feeds `pieces` in turn, each after what the previous call left unconsumed.
fn feed_pieces(format: ListFormat, list: &[u8], cuts: &[usize]) -> ImaReplay {
    let mut replay = ImaReplay::new(format);
    let mut pending: Vec<u8> = Vec::new();
    let mut start = 0;
    for &cut in cuts.iter().chain([list.len()].iter()) {
        pending.extend_from_slice(&list[start..cut]);
        start = cut;
        let used = replay.feed(&pending).unwrap();
        pending.drain(..used);
        // Whatever is left is the start of one entry, and the offset is where it begins.
        assert_eq!(replay.offset() as usize + pending.len(), cut);
    }
    assert!(pending.is_empty());
    replay
}

#[test]
fn feeding_in_two_pieces_split_anywhere_equals_feeding_all_at_once() {
    let list = mixed(HashAlg::Sha1);
    let whole = replay(&list.bytes, list.format()).unwrap();
    for cut in 0..=list.bytes.len() {
        let split = feed_pieces(list.format(), &list.bytes, &[cut]);
        assert_eq!(split.pcr(10), whole.pcr(10), "cut at {cut}");
        assert_eq!(split.entries(), whole.entries(), "cut at {cut}");
        assert_eq!(split.offset(), whole.offset(), "cut at {cut}");
    }
}

#[test]
fn feeding_byte_by_byte_equals_feeding_all_at_once() {
    let list = mixed(HashAlg::Sha384);
    let whole = replay(&list.bytes, list.format()).unwrap();
    let cuts: Vec<usize> = (1..list.bytes.len()).collect();
    let trickled = feed_pieces(list.format(), &list.bytes, &cuts);
    assert_eq!(trickled.pcr(10), whole.pcr(10));
    assert_eq!(trickled.entries(), 7);
}

#[test]
fn a_growing_list_is_read_from_where_it_stopped() {
    // The verifier keeps the replay and asks only for what the kernel appended since.
    let first = mixed(HashAlg::Sha1);
    let mut replay = ImaReplay::new(first.format());
    assert_eq!(replay.feed(&first.bytes).unwrap(), first.bytes.len());
    let grown = first.templated(
        10,
        "ima-ng",
        &[&d_ng("sha1", &[5; 20]), &nul("/usr/lib/new")],
    );
    let appended = &grown.bytes[replay.offset() as usize..];
    let mut seen = Vec::new();
    replay
        .feed_with(appended, |entry, pcr| {
            seen.push((entry.index(), entry.offset(), pcr.to_vec()))
        })
        .unwrap();
    assert_eq!(seen.len(), 1);
    assert_eq!(seen[0].0, 7, "entries keep counting across calls");
    assert_eq!(seen[0].1, (grown.bytes.len() - appended.len()) as u64);
    assert_eq!(seen[0].2, grown.expected(10));
    assert_eq!(replay.check_pcr(10, &grown.expected(10)), PcrCheck::Match);
}

#[test]
fn feed_with_reports_each_pcr_value_so_a_quote_can_be_placed() {
    // A quote taken between two entries matches the PCR value after the earlier one.
    let list = mixed(HashAlg::Sha256);
    let at_quote = {
        let mut prefix = ListBuilder::new(HashAlg::Sha256);
        prefix.extends = list.extends[..3].to_vec();
        prefix.expected(10)
    };
    let mut matched = None;
    ImaReplay::new(list.format())
        .feed_with(&list.bytes, |entry, pcr| {
            if pcr == at_quote {
                matched = Some(entry.index());
            }
        })
        .unwrap();
    assert_eq!(matched, Some(2));
}

#[test]
fn a_list_cut_anywhere_inside_an_entry_is_refused_as_truncated() {
    let list = mixed(HashAlg::Sha1);
    let starts: Vec<u64> = entries(&list.bytes, list.format())
        .map(|e| e.unwrap().offset())
        .collect();
    for cut in 1..list.bytes.len() {
        let result = replay(&list.bytes[..cut], list.format());
        if starts.contains(&(cut as u64)) {
            assert!(result.is_ok(), "cut at an entry boundary {cut}");
            continue;
        }
        let index = starts.iter().filter(|&&s| s < cut as u64).count() as u64 - 1;
        match result {
            Err(ImaError::Truncated {
                index: i,
                offset,
                missing,
            }) => {
                assert_eq!(i, index, "cut at {cut}");
                assert_eq!(offset, starts[index as usize], "cut at {cut}");
                assert!(missing >= 1);
            }
            other => panic!("cut at {cut}: {other:?}"),
        }
        // Incrementally, the same bytes are simply not consumed yet.
        let mut inc = ImaReplay::new(list.format());
        assert_eq!(
            inc.feed(&list.bytes[..cut]).unwrap() as u64,
            starts[index as usize]
        );
    }
}

#[test]
fn a_changed_byte_in_template_data_is_refused_with_its_entry() {
    let list = mixed(HashAlg::Sha1);
    let second = entries(&list.bytes, list.format()).nth(1).unwrap().unwrap();
    // The last byte of the second entry is in its signature.
    let at = (second.offset() as usize) + 4 + 20 + 4 + 7 + 4 + second.template_data().len() - 1;
    let mut bytes = list.bytes.clone();
    bytes[at] ^= 0x80;
    assert_eq!(
        replay(&bytes, list.format()).unwrap_err(),
        ImaError::TemplateDigestMismatch {
            index: 1,
            offset: second.offset()
        }
    );
    // The legacy template's digest covers its name too.
    let legacy = entries(&list.bytes, list.format()).nth(4).unwrap().unwrap();
    let name_at = legacy.offset() as usize + 4 + 20 + 4 + 3 + 20 + 4;
    let mut bytes = list.bytes.clone();
    bytes[name_at] = b'X';
    assert_eq!(
        replay(&bytes, list.format()).unwrap_err(),
        ImaError::TemplateDigestMismatch {
            index: 4,
            offset: legacy.offset()
        }
    );
}

#[test]
fn after_an_error_the_replay_takes_nothing_more() {
    let list = mixed(HashAlg::Sha1);
    let mut bytes = list.bytes.clone();
    let last = bytes.len() - 1;
    bytes[last] ^= 1;
    let mut replay = ImaReplay::new(list.format());
    let err = replay.feed(&bytes).unwrap_err();
    assert!(matches!(
        err,
        ImaError::TemplateDigestMismatch { index: 6, .. }
    ));
    assert_eq!(replay.entries(), 6);
    assert_eq!(replay.feed(&[]).unwrap_err(), err);
}

#[test]
fn huge_lengths_are_refused_from_the_header_alone() {
    // Template name length 0xffffffff: refused without waiting for 4 GiB.
    let mut bytes = 10u32.to_le_bytes().to_vec();
    bytes.extend_from_slice(&[0xaa; 20]);
    bytes.extend_from_slice(&u32::MAX.to_le_bytes());
    let mut inc = ImaReplay::new(ListFormat::SHA1);
    assert!(matches!(
        inc.feed(&bytes),
        Err(ImaError::TooLong {
            index: 0,
            offset: 0,
            field: "template name",
            len: 0xffff_ffff,
            ..
        })
    ));

    // Template data length 0xffffffff after a good entry.
    let mut list = ListBuilder::new(HashAlg::Sha1).templated(
        10,
        "ima-ng",
        &[&d_ng("sha1", &[1; 20]), &nul("/a")],
    );
    let good_len = list.bytes.len() as u64;
    list.push_raw(10, &[0xbb; 20], b"ima-ng", Some(u32::MAX), &[]);
    assert!(matches!(
        replay(&list.bytes, ListFormat::SHA1),
        Err(ImaError::TooLong { index: 1, offset, field: "entry", .. }) if offset == good_len
    ));

    // The bound is the caller's to choose.
    let small = ListFormat::SHA1.with_max_entry_len(64);
    let one = ListBuilder::new(HashAlg::Sha1).templated(
        10,
        "ima-ng",
        &[&d_ng("sha1", &[1; 20]), &nul("/a/long/enough/path")],
    );
    assert!(matches!(
        replay(&one.bytes, small),
        Err(ImaError::TooLong {
            index: 0,
            field: "entry",
            max: 64,
            ..
        })
    ));

    // The legacy template's name cannot exceed its 255-byte buffer.
    let mut legacy = ListBuilder::new(HashAlg::Sha1);
    let mut data = vec![0x22; 20];
    data.extend_from_slice(&256u32.to_le_bytes());
    data.extend_from_slice(&[b'a'; 256]);
    legacy.push_raw(10, &[0xcc; 20], b"ima", None, &data);
    assert!(matches!(
        replay(&legacy.bytes, ListFormat::SHA1),
        Err(ImaError::TooLong {
            field: "ima file name",
            len: 256,
            max: 255,
            ..
        })
    ));
}

#[test]
fn a_pcr_beyond_23_is_refused() {
    let list = ListBuilder::new(HashAlg::Sha1)
        .templated(10, "ima-ng", &[&d_ng("sha1", &[1; 20]), &nul("/a")])
        .templated(24, "ima-ng", &[&d_ng("sha1", &[1; 20]), &nul("/a")]);
    let second = entries(&list.bytes, list.format())
        .nth(1)
        .unwrap()
        .unwrap_err();
    assert!(matches!(
        second,
        ImaError::PcrOutOfRange {
            index: 1,
            pcr: 24,
            ..
        }
    ));
}

/// An ima-ng entry whose fields are `fields`, with a correct template digest.
fn ng_with(fields: &[&[u8]]) -> Vec<u8> {
    ListBuilder::new(HashAlg::Sha1)
        .templated(10, "ima-ng", fields)
        .bytes
}

#[test]
fn malformed_template_data_is_refused_even_with_a_matching_digest() {
    let cases: [(&[&[u8]], &str); 5] = [
        (
            &[b"sha1\0\0", b"/a\0"],
            "the file digest has no algorithm prefix",
        ),
        (
            &[b"sha1:x", b"/a\0"],
            "the file digest's algorithm prefix does not end in NUL",
        ),
        (
            &[&d_ng("sha1", &[1; 20]), b"/a"],
            "the name is not a NUL-terminated string",
        ),
        (
            &[&d_ng("sha1", &[1; 20]), b"/a\0b\0"],
            "the name is not a NUL-terminated string",
        ),
        (
            &[&d_ng("sha1", &[1; 20])],
            "fewer fields than the template has",
        ),
    ];
    for (fields, reason) in cases {
        let bytes = ng_with(fields);
        assert_eq!(
            replay(&bytes, ListFormat::SHA1).unwrap_err(),
            ImaError::BadTemplateData {
                index: 0,
                offset: 0,
                reason
            },
            "{fields:?}"
        );
    }
    // A field length running past the template data.
    let mut list = ListBuilder::new(HashAlg::Sha1);
    let mut data = 100u32.to_le_bytes().to_vec();
    data.extend_from_slice(b"short");
    let digest = h(HashAlg::Sha1, &[&data]);
    list.push_raw(10, &digest, b"ima-ng", Some(data.len() as u32), &data);
    assert_eq!(
        replay(&list.bytes, ListFormat::SHA1).unwrap_err(),
        ImaError::BadTemplateData {
            index: 0,
            offset: 0,
            reason: "a field is longer than the template data"
        }
    );
}

#[test]
fn errors_name_the_entry_and_its_offset() {
    let err = ImaError::TemplateDigestMismatch {
        index: 3,
        offset: 420,
    };
    assert_eq!(
        err.to_string(),
        "IMA entry 3 at byte 420: the template digest does not match the template data"
    );
}

const REAL_BINARY: &[u8] = include_bytes!("data/eventlogs/ima/embrave_armhf_sha1.bin");
const REAL_ASCII: &str = include_str!("data/eventlogs/ima/embrave_armhf_sha1.ascii");

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[test]
fn a_real_kernel_list_replays_and_decodes_as_the_kernel_printed_it() {
    let replayed = replay(REAL_BINARY, ListFormat::SHA1).unwrap();
    assert_eq!(replayed.entries(), 922);
    assert_eq!(
        replayed.extended_pcrs().map(|(i, _)| i).collect::<Vec<_>>(),
        [10]
    );

    let lines: Vec<&str> = REAL_ASCII.lines().collect();
    assert_eq!(lines.len(), 922);
    for (entry, line) in entries(REAL_BINARY, ListFormat::SHA1).zip(&lines) {
        let entry = entry.unwrap();
        // "10 <template hash> ima-ng sha256:<file digest> <path>"
        let mut cols = line.splitn(5, ' ');
        assert_eq!(cols.next(), Some(entry.pcr().to_string().as_str()));
        assert_eq!(cols.next(), Some(hex(entry.template_digest()).as_str()));
        assert_eq!(cols.next().map(str::as_bytes), Some(entry.template_name()));
        let Template::ImaNg { digest, path } = entry.template().unwrap() else {
            panic!("entry {} is not ima-ng", entry.index());
        };
        assert_eq!(
            cols.next(),
            Some(format!("{}:{}", digest.algorithm, hex(digest.digest)).as_str())
        );
        assert_eq!(cols.next().map(str::as_bytes), Some(path));
    }

    // Polled in 4 KiB reads, the list replays to the same value.
    let mut polled = ImaReplay::new(ListFormat::SHA1);
    let mut pending = Vec::new();
    for read in REAL_BINARY.chunks(4096) {
        pending.extend_from_slice(read);
        let used = polled.feed(&pending).unwrap();
        pending.drain(..used);
    }
    assert!(pending.is_empty());
    assert_eq!(polled.pcr(10), replayed.pcr(10));
    assert_eq!(
        polled.check_pcr(10, replayed.pcr(10).unwrap()),
        PcrCheck::Match
    );
}

#[test]
fn another_bank_is_recomputed_from_the_template_data() {
    // The same entries as the kernel shows them in its SHA-1 list and in its per-bank lists: a
    // replay of the SHA-1 list recomputing a bank gives what that bank's own list gives.
    let sha1 = mixed(HashAlg::Sha1);
    for bank in [HashAlg::Sha256, HashAlg::Sha384, HashAlg::Sha512] {
        let own = mixed(bank);
        let mut recomputed = ImaReplay::recomputing(sha1.format(), bank);
        recomputed.finish(&sha1.bytes).unwrap();
        assert_eq!(recomputed.pcr_bank(), bank);
        assert_eq!(
            recomputed.pcr(10).unwrap(),
            &own.expected(10)[..],
            "{bank:?}"
        );
        assert_eq!(recomputed.check_pcr(10, &own.expected(10)), PcrCheck::Match);
        // The SHA-1 value is not mistaken for it.
        assert_eq!(
            recomputed.check_pcr(10, &sha1.expected(10)),
            PcrCheck::Mismatch
        );
    }
    // The list's own template digests are still checked.
    let mut bytes = sha1.bytes.clone();
    let last = bytes.len() - 1;
    bytes[last] ^= 1;
    assert!(matches!(
        ImaReplay::recomputing(sha1.format(), HashAlg::Sha256).finish(&bytes),
        Err(ImaError::TemplateDigestMismatch { index: 6, .. })
    ));
}
