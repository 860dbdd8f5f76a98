//! The event data decoders of `eventlog::uefi`, on event data built byte by byte: each
//! structure with its expected decoding, corrupted lengths and counts with their typed errors,
//! the secure-boot state over a whole boot, and arbitrary bytes for every event type.

use proptest::prelude::*;
use tpm2_wire::eventlog::uefi::*;

/// A swtpm-made ECC EK certificate: a real DER X.509 certificate of 842 bytes.
const CERT: &[u8] = include_bytes!("data/uefi/swtpm-ek-ecc.der");

const OWNER: Guid = Guid::from_fields(
    0x7721_8a4b,
    0x1b1c,
    0x4ad6,
    [0x9e, 0x5c, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66],
);

fn utf16(s: &str) -> Vec<u8> {
    s.encode_utf16().flat_map(u16::to_le_bytes).collect()
}

/// A `UEFI_VARIABLE_DATA` with the name given as UTF-16 units.
fn variable_units(guid: Guid, name: &[u16], data: &[u8]) -> Vec<u8> {
    let mut v = guid.0.to_vec();
    v.extend_from_slice(&(name.len() as u64).to_le_bytes());
    v.extend_from_slice(&(data.len() as u64).to_le_bytes());
    for u in name {
        v.extend_from_slice(&u.to_le_bytes());
    }
    v.extend_from_slice(data);
    v
}

fn variable(guid: Guid, name: &str, data: &[u8]) -> Vec<u8> {
    let units: Vec<u16> = name.encode_utf16().collect();
    variable_units(guid, &units, data)
}

/// An `EFI_SIGNATURE_LIST` with consistent sizes.
fn sig_list(sig_type: Guid, header: &[u8], entries: &[(Guid, &[u8])]) -> Vec<u8> {
    let sig_size = 16 + entries.first().map_or(32, |e| e.1.len());
    let list_size = 28 + header.len() + sig_size * entries.len();
    let mut v = sig_type.0.to_vec();
    v.extend_from_slice(&(list_size as u32).to_le_bytes());
    v.extend_from_slice(&(header.len() as u32).to_le_bytes());
    v.extend_from_slice(&(sig_size as u32).to_le_bytes());
    v.extend_from_slice(header);
    for (owner, data) in entries {
        v.extend_from_slice(&owner.0);
        v.extend_from_slice(data);
    }
    v
}

fn node(t: u8, st: u8, data: &[u8]) -> Vec<u8> {
    let mut v = vec![t, st];
    v.extend_from_slice(&((data.len() + 4) as u16).to_le_bytes());
    v.extend_from_slice(data);
    v
}

const DISK: Guid = Guid::from_fields(
    0x0123_4567,
    0x89ab,
    0xcdef,
    [0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef],
);

/// PciRoot(0x0)/Pci(0x1,0x2)/HD(1,GPT,DISK,0x800,0x100000)/\EFI\BOOT\BOOTX64.EFI
fn device_path() -> Vec<u8> {
    let mut hd = 1u32.to_le_bytes().to_vec();
    hd.extend_from_slice(&0x800u64.to_le_bytes());
    hd.extend_from_slice(&0x10_0000u64.to_le_bytes());
    hd.extend_from_slice(&DISK.0);
    hd.extend_from_slice(&[2, 2]);
    let mut p = node(2, 1, &[0xd0, 0x41, 0x03, 0x0a, 0, 0, 0, 0]);
    p.extend(node(1, 1, &[2, 1]));
    p.extend(node(4, 1, &hd));
    let mut file = utf16("\\EFI\\BOOT\\BOOTX64.EFI");
    file.extend_from_slice(&[0, 0]);
    p.extend(node(4, 4, &file));
    p.extend(node(0x7f, 0xff, &[]));
    p
}

fn image_load(path: &[u8]) -> Vec<u8> {
    let mut v = Vec::new();
    for x in [0x7e00_0000u64, 0x1_2000, 0, path.len() as u64] {
        v.extend_from_slice(&x.to_le_bytes());
    }
    v.extend_from_slice(path);
    v
}

#[test]
fn event_type_names_follow_tpm2_eventlog() {
    assert_eq!(
        EventType::EFI_VARIABLE_DRIVER_CONFIG.name(),
        Some("EV_EFI_VARIABLE_DRIVER_CONFIG")
    );
    assert_eq!(
        EventType(0x8000_00e0).to_string(),
        "EV_EFI_VARIABLE_AUTHORITY"
    );
    assert_eq!(EventType(4).to_string(), "EV_SEPARATOR");
    assert_eq!(EventType(0xd).name(), Some("EV_IPL"));
    assert_eq!(EventType(0x8000_0011).to_string(), "0x80000011");
    // The decoders' type is the log parser's.
    let _: tpm2_wire::eventlog::log::EventType = EventType::EFI_GPT_EVENT;
}

#[test]
fn guids_display_in_registry_form_and_sit_mixed_endian_in_memory() {
    assert_eq!(
        Guid::EFI_GLOBAL_VARIABLE.to_string(),
        "8be4df61-93ca-11d2-aa0d-00e098032b8c"
    );
    assert_eq!(
        &Guid::EFI_GLOBAL_VARIABLE.0[..8],
        &[0x61, 0xdf, 0xe4, 0x8b, 0xca, 0x93, 0xd2, 0x11]
    );
    assert_eq!(
        Guid::IMAGE_SECURITY_DATABASE.to_string(),
        "d719b2cb-3d3a-4596-a3bc-dad00e67656f"
    );
    assert_eq!(
        Guid::CERT_X509.to_string(),
        "a5c059a1-94e4-4aa7-87b5-ab155c2bf072"
    );
    assert_eq!(
        Guid::CERT_SHA256.to_string(),
        "c1c41626-504c-4092-aca9-41f936934328"
    );
}

#[test]
fn secure_boot_variable() {
    let data = variable(Guid::EFI_GLOBAL_VARIABLE, "SecureBoot", &[1]);
    let EventData::Variable(v) = decode_event(EventType(0x8000_0001), &data).unwrap() else {
        panic!("not a variable")
    };
    assert_eq!(v.guid, Guid::EFI_GLOBAL_VARIABLE);
    assert_eq!(v.name, "SecureBoot");
    assert_eq!(v.data, [1]);
    assert_eq!(v.contents, VariableContents::SecureBoot(true));
    assert_eq!(v.well_known(), Some(WellKnownVariable::SecureBoot));

    let off = variable(Guid::EFI_GLOBAL_VARIABLE, "SecureBoot", &[0]);
    assert_eq!(
        Variable::decode(&off).unwrap().contents,
        VariableContents::SecureBoot(false)
    );
    // Firmware measures a SecureBoot variable that does not exist as empty data.
    let absent = variable(Guid::EFI_GLOBAL_VARIABLE, "SecureBoot", &[]);
    assert_eq!(
        Variable::decode(&absent).unwrap().contents,
        VariableContents::SecureBoot(false)
    );
    // The value sits after the 32-byte header and 10 UTF-16 units.
    let two = variable(Guid::EFI_GLOBAL_VARIABLE, "SecureBoot", &[2]);
    assert_eq!(
        Variable::decode(&two),
        Err(UefiError::Invalid {
            what: "SecureBoot value",
            offset: 52,
            value: 2
        })
    );
    // The same name under another GUID is not the secure-boot switch.
    let other = variable(OWNER, "SecureBoot", &[7, 7]);
    let v = Variable::decode(&other).unwrap();
    assert_eq!(v.contents, VariableContents::Unknown);
    assert_eq!(v.well_known(), None);
}

#[test]
fn db_with_a_certificate_and_hashes() {
    let h1 = [0x11u8; 32];
    let h2 = [0x22u8; 32];
    let mut db = sig_list(Guid::CERT_X509, &[], &[(OWNER, CERT)]);
    db.extend(sig_list(
        Guid::CERT_SHA256,
        &[],
        &[(OWNER, &h1), (Guid::EFI_GLOBAL_VARIABLE, &h2)],
    ));
    let data = variable(Guid::IMAGE_SECURITY_DATABASE, "db", &db);
    let EventData::Variable(v) =
        decode_event(EventType::EFI_VARIABLE_DRIVER_CONFIG, &data).unwrap()
    else {
        panic!("not a variable")
    };
    assert_eq!(v.well_known(), Some(WellKnownVariable::Db));
    let VariableContents::SignatureLists(lists) = v.contents else {
        panic!("not signature lists")
    };
    assert_eq!(lists.len(), 2);
    assert_eq!(lists[0].signature_type, Guid::CERT_X509);
    assert_eq!(
        lists[0].entries,
        [SignatureEntry {
            owner: OWNER,
            data: SignatureData::X509(Certificate(CERT.to_vec()))
        }]
    );
    assert_eq!(lists[1].signature_type, Guid::CERT_SHA256);
    assert_eq!(
        lists[1].entries,
        [
            SignatureEntry {
                owner: OWNER,
                data: SignatureData::Sha256(h1)
            },
            SignatureEntry {
                owner: Guid::EFI_GLOBAL_VARIABLE,
                data: SignatureData::Sha256(h2)
            }
        ]
    );

    // A type this module does not know keeps its header and data.
    let other_type = Guid::from_fields(
        0x3c5766e8,
        0x269c,
        0x4e34,
        [0xaa, 0x14, 0xed, 0x77, 0x6e, 0x85, 0xb3, 0xb6],
    );
    let raw = sig_list(other_type, &[9, 9], &[(OWNER, &[5; 20])]);
    let lists = decode_signature_lists(&raw, 0).unwrap();
    assert_eq!(lists[0].header, [9, 9]);
    assert_eq!(lists[0].entries[0].data, SignatureData::Other(vec![5; 20]));

    // An empty variable is an empty database.
    assert_eq!(decode_signature_lists(&[], 0).unwrap(), []);
}

#[cfg(feature = "ek")]
#[test]
fn certificates_parse_with_the_ek_feature() {
    let cert = Certificate(CERT.to_vec());
    let parsed = cert.parse().unwrap();
    assert_eq!(
        parsed.tbs_certificate.issuer.to_string(),
        "CN=swtpm-localca"
    );
}

#[test]
fn signature_list_corruptions_are_typed() {
    let good = sig_list(Guid::CERT_SHA256, &[], &[(OWNER, &[1; 32])]);
    assert_eq!(good.len(), 76);
    let set = |at: usize, v: u32| {
        let mut b = good.clone();
        b[at..at + 4].copy_from_slice(&v.to_le_bytes());
        b
    };
    // ListSize past the end: the list is refused before any entry is read.
    assert_eq!(
        decode_signature_lists(&set(16, 77), 100),
        Err(UefiError::Truncated {
            what: "EFI_SIGNATURE_LIST",
            offset: 128,
            needed: 49,
            available: 48
        })
    );
    // ListSize below the fixed header.
    assert_eq!(
        decode_signature_lists(&set(16, 27), 0),
        Err(UefiError::Invalid {
            what: "SignatureListSize (below header and SignatureHeaderSize)",
            offset: 16,
            value: 27
        })
    );
    // A header that overflows the list.
    assert!(matches!(
        decode_signature_lists(&set(20, u32::MAX), 0),
        Err(UefiError::Invalid { offset: 16, .. })
    ));
    // SignatureSize under the owner GUID's 16 bytes (0 would divide by zero).
    for size in [0, 15] {
        assert_eq!(
            decode_signature_lists(&set(24, size), 0),
            Err(UefiError::Invalid {
                what: "SignatureSize (below 16)",
                offset: 24,
                value: size.into()
            })
        );
    }
    // Entries area not a multiple of SignatureSize.
    assert_eq!(
        decode_signature_lists(&set(24, 47), 0),
        Err(UefiError::NotMultiple {
            what: "EFI_SIGNATURE_LIST entries",
            offset: 28,
            size: 48,
            unit: 47
        })
    );
    // A SHA-256 list whose entries are not 48 bytes.
    let mut b = sig_list(Guid::CERT_SHA256, &[], &[(OWNER, &[1; 24])]);
    assert_eq!(
        decode_signature_lists(&b, 0),
        Err(UefiError::Invalid {
            what: "SignatureSize of an EFI_CERT_SHA256 list",
            offset: 24,
            value: 40
        })
    );
    // An X.509 entry that is not one DER SEQUENCE (a byte short).
    b = sig_list(Guid::CERT_X509, &[], &[(OWNER, &CERT[..CERT.len() - 1])]);
    assert!(matches!(
        decode_signature_lists(&b, 0),
        Err(UefiError::Invalid { offset: 44, .. })
    ));
    // A second list whose header is cut short.
    let mut two = good.clone();
    two.extend_from_slice(&[0; 18]);
    assert_eq!(
        decode_signature_lists(&two, 0),
        Err(UefiError::Truncated {
            what: "SignatureListSize",
            offset: 92,
            needed: 4,
            available: 2
        })
    );
    // Inside a db variable, offsets count from the start of the event data.
    let data = variable(Guid::IMAGE_SECURITY_DATABASE, "db", &set(24, 47));
    assert_eq!(
        Variable::decode(&data),
        Err(UefiError::NotMultiple {
            what: "EFI_SIGNATURE_LIST entries",
            offset: 32 + 4 + 28,
            size: 48,
            unit: 47
        })
    );
}

#[test]
fn variable_header_corruptions_are_typed() {
    let good = variable(Guid::EFI_GLOBAL_VARIABLE, "PK", &[]);
    let set = |at: usize, v: u64| {
        let mut b = good.clone();
        b[at..at + 8].copy_from_slice(&v.to_le_bytes());
        b
    };
    // A name length whose byte count overflows.
    assert_eq!(
        Variable::decode(&set(16, u64::MAX)),
        Err(UefiError::Invalid {
            what: "UnicodeNameLength",
            offset: 16,
            value: u64::MAX
        })
    );
    // A name past the end.
    assert_eq!(
        Variable::decode(&set(16, 3)),
        Err(UefiError::Truncated {
            what: "UnicodeName",
            offset: 32,
            needed: 6,
            available: 4
        })
    );
    // Data past the end, including a length no allocation could hold.
    for len in [1, u64::MAX] {
        assert_eq!(
            Variable::decode(&set(24, len)),
            Err(UefiError::Truncated {
                what: "VariableData",
                offset: 36,
                needed: len,
                available: 0
            })
        );
    }
    // Bytes after the data (as some shim releases write) are counted, not decoded.
    let mut long = good.clone();
    long.extend_from_slice(&[0, 0xaf]);
    let v = Variable::decode(&long).unwrap();
    assert_eq!((v.data.len(), v.trailing), (0, 2));
    assert_eq!(v.contents, VariableContents::SignatureLists(vec![]));
    assert_eq!(Variable::decode(&good).unwrap().trailing, 0);
    // A header cut short.
    assert_eq!(
        Variable::decode(&good[..20]),
        Err(UefiError::Truncated {
            what: "UnicodeNameLength",
            offset: 16,
            needed: 8,
            available: 4
        })
    );
    // An unpaired surrogate in the name, at its unit's offset.
    let bad = variable_units(Guid::EFI_GLOBAL_VARIABLE, &[0x50, 0xd800, 0x4b], &[]);
    assert_eq!(
        Variable::decode(&bad),
        Err(UefiError::Utf16 {
            what: "UnicodeName",
            offset: 34,
            unit: 0xd800
        })
    );
    // A surrogate pair is fine.
    let pair = variable_units(OWNER, &[0xd83d, 0xde00], &[]);
    assert_eq!(Variable::decode(&pair).unwrap().name, "\u{1f600}");
}

#[test]
fn authorities_in_each_form() {
    let decode = |name: &str, guid: Guid, data: &[u8]| {
        let ev = variable(guid, name, data);
        match decode_event(EventType::EFI_VARIABLE_AUTHORITY, &ev).unwrap() {
            EventData::Authority(Variable {
                contents: VariableContents::Authority(a),
                ..
            }) => a,
            other => panic!("{other:?}"),
        }
    };
    // The specification's form: owner and certificate.
    let mut sig = OWNER.0.to_vec();
    sig.extend_from_slice(CERT);
    let a = decode("db", Guid::IMAGE_SECURITY_DATABASE, &sig);
    assert_eq!(
        a,
        Authority::Signature(SignatureEntry {
            owner: OWNER,
            data: SignatureData::X509(Certificate(CERT.to_vec()))
        })
    );
    assert_eq!(a.certificate().unwrap().der(), CERT);
    // shim without the owner.
    let a = decode("Shim", Guid::SHIM_LOCK, CERT);
    assert_eq!(a, Authority::BareCertificate(Certificate(CERT.to_vec())));
    assert_eq!(a.certificate().unwrap().der(), CERT);
    // The whole db entry.
    let list = sig_list(Guid::CERT_X509, &[], &[(OWNER, CERT)]);
    let a = decode("db", Guid::IMAGE_SECURITY_DATABASE, &list);
    assert!(matches!(&a, Authority::SignatureList(l) if l.entries.len() == 1));
    assert_eq!(a.certificate().unwrap().der(), CERT);
    // An image allowed by its hash in db.
    let mut hash = OWNER.0.to_vec();
    hash.extend_from_slice(&[0xab; 32]);
    let a = decode("db", Guid::IMAGE_SECURITY_DATABASE, &hash);
    assert_eq!(a.sha256(), Some(&[0xab; 32]));
    assert_eq!(a.certificate(), None);
    // shim's SbatLevel is not a signer.
    let a = decode("SbatLevel", Guid::SHIM_LOCK, b"sbat,1,2021030218\n");
    assert_eq!(a, Authority::Sbat(b"sbat,1,2021030218\n".to_vec()));
    // Anything else keeps its owner and bytes.
    let mut odd = OWNER.0.to_vec();
    odd.extend_from_slice(&[1, 2, 3]);
    let a = decode("MokList", Guid::SHIM_LOCK, &odd);
    assert_eq!(
        a,
        Authority::Signature(SignatureEntry {
            owner: OWNER,
            data: SignatureData::Other(vec![1, 2, 3])
        })
    );
    // Too short for an owner: shim's MokListTrusted switch.
    let a = decode("MokListTrusted", Guid::SHIM_LOCK, &[1]);
    assert_eq!(a, Authority::Other(vec![1]));
    assert!(!a.is_signer());
    assert!(!Authority::Sbat(vec![]).is_signer());
    // A header that does not fit is still an error.
    let short = variable(Guid::IMAGE_SECURITY_DATABASE, "db", &[1, 2, 3]);
    assert!(matches!(
        Variable::decode_authority(&short[..37]),
        Err(UefiError::Truncated {
            what: "VariableData",
            offset: 36,
            needed: 3,
            available: 1
        })
    ));
}

#[test]
fn image_load_with_its_device_path() {
    let path = device_path();
    let data = image_load(&path);
    let EventData::ImageLoad(img) = decode_event(EventType(0x8000_0003), &data).unwrap() else {
        panic!("not an image load")
    };
    assert_eq!(img.location, 0x7e00_0000);
    assert_eq!(img.length, 0x1_2000);
    assert_eq!(img.link_time_address, 0);
    let nodes = &img.device_path.nodes;
    assert_eq!(nodes.len(), 5);
    assert_eq!((nodes[3].node_type, nodes[3].subtype), (4, 4));
    assert_eq!(
        nodes[3].file_path().as_deref(),
        Some("\\EFI\\BOOT\\BOOTX64.EFI")
    );
    let hd = nodes[2].hard_drive().unwrap();
    assert_eq!((hd.partition, hd.start, hd.size), (1, 0x800, 0x10_0000));
    assert_eq!(Guid(hd.signature), DISK);
    assert!(nodes[4].is_end());
    assert_eq!(
        img.device_path.to_string(),
        "PciRoot(0x0)/Pci(0x1,0x2)/HD(1,GPT,01234567-89ab-cdef-0123-456789abcdef,0x800,0x100000)/\\EFI\\BOOT\\BOOTX64.EFI"
    );
    // Drivers and runtime drivers share the structure.
    for t in [
        EventType::EFI_BOOT_SERVICES_DRIVER,
        EventType::EFI_RUNTIME_SERVICES_DRIVER,
    ] {
        assert_eq!(
            decode_event(t, &data).unwrap(),
            EventData::ImageLoad(img.clone())
        );
    }
    // Unknown nodes render generically, another instance after a comma.
    let mut two = node(3, 0x20, &[0xaa]);
    two.extend(node(0x7f, 0x01, &[]));
    two.extend(node(4, 4, &utf16("x")));
    two.extend(node(0x7f, 0xff, &[]));
    assert_eq!(
        DevicePath::decode(&two, 0).unwrap().to_string(),
        "Path(3,32,aa),x"
    );
}

#[test]
fn image_load_corruptions_are_typed() {
    let path = device_path();
    // A node shorter than its header, at the second node's length field.
    let mut bad = path.clone();
    bad[14..16].copy_from_slice(&3u16.to_le_bytes());
    assert_eq!(
        ImageLoad::decode(&image_load(&bad)),
        Err(UefiError::Invalid {
            what: "device path node Length (below 4)",
            offset: 32 + 14,
            value: 3
        })
    );
    // A node running past the path (the path length bounds the walk, not the event).
    let mut long = path.clone();
    long[2..4].copy_from_slice(&0xfffu16.to_le_bytes());
    assert_eq!(
        ImageLoad::decode(&image_load(&long)),
        Err(UefiError::Truncated {
            what: "device path node",
            offset: 36,
            needed: 0xffb,
            available: path.len() - 4
        })
    );
    // A path length past the event.
    let mut data = image_load(&path);
    data[24..32].copy_from_slice(&u64::MAX.to_le_bytes());
    assert!(matches!(
        ImageLoad::decode(&data),
        Err(UefiError::Truncated {
            what: "DevicePath",
            offset: 32,
            needed: u64::MAX,
            ..
        })
    ));
    // A node header cut in half.
    assert_eq!(
        DevicePath::decode(&[4, 4, 8], 0),
        Err(UefiError::Truncated {
            what: "device path node Length",
            offset: 2,
            needed: 2,
            available: 1
        })
    );
    // Bytes after the path (older shim measures a fixed-size structure past an empty
    // path) are counted, not decoded.
    let mut trailing = image_load(&[]);
    trailing.extend_from_slice(&[0, 0x74, 0x11, 0, 0, 0x78, 0x11, 0, 0xaf]);
    let img = ImageLoad::decode(&trailing).unwrap();
    assert_eq!((img.device_path.nodes.len(), img.trailing), (0, 9));
    assert_eq!(ImageLoad::decode(&image_load(&path)).unwrap().trailing, 0);
}

fn gpt(entry_size: u32, partitions: &[(Guid, Guid, u64, u64, &str)]) -> Vec<u8> {
    let mut h = b"EFI PART".to_vec();
    h.extend_from_slice(&0x1_0000u32.to_le_bytes());
    h.extend_from_slice(&92u32.to_le_bytes());
    h.extend_from_slice(&[0; 8]); // CRC, reserved
    for lba in [1u64, 0x3ff_ffff, 34, 0x3ff_ffde] {
        h.extend_from_slice(&lba.to_le_bytes());
    }
    h.extend_from_slice(&DISK.0);
    h.extend_from_slice(&2u64.to_le_bytes());
    h.extend_from_slice(&128u32.to_le_bytes());
    h.extend_from_slice(&entry_size.to_le_bytes());
    h.extend_from_slice(&[0; 4]);
    assert_eq!(h.len(), 92);
    h.extend_from_slice(&(partitions.len() as u64).to_le_bytes());
    for (t, u, first, last, name) in partitions {
        let mut e = t.0.to_vec();
        e.extend_from_slice(&u.0);
        e.extend_from_slice(&first.to_le_bytes());
        e.extend_from_slice(&last.to_le_bytes());
        e.extend_from_slice(&0u64.to_le_bytes());
        let mut n = utf16(name);
        n.resize(72, 0);
        e.extend_from_slice(&n);
        e.resize(entry_size as usize, 0);
        h.extend_from_slice(&e);
    }
    h
}

#[test]
fn gpt_event() {
    let esp = Guid::from_fields(
        0xc12a7328,
        0xf81f,
        0x11d2,
        [0xba, 0x4b, 0x00, 0xa0, 0xc9, 0x3e, 0xc9, 0x3b],
    );
    let data = gpt(
        128,
        &[
            (esp, OWNER, 2048, 1_050_623, "EFI System Partition"),
            (DISK, Guid::CERT_X509, 1_050_624, 0x3ff_ffde, "root"),
        ],
    );
    let EventData::Gpt(g) = decode_event(EventType::EFI_GPT_EVENT, &data).unwrap() else {
        panic!("not a GPT")
    };
    assert_eq!(g.disk_guid, DISK);
    assert_eq!(g.revision, 0x1_0000);
    assert_eq!((g.my_lba, g.alternate_lba), (1, 0x3ff_ffff));
    assert_eq!((g.first_usable_lba, g.last_usable_lba), (34, 0x3ff_ffde));
    assert_eq!(g.entries_in_table, 128);
    assert_eq!(g.partitions.len(), 2);
    assert_eq!(
        g.partitions[0],
        GptPartition {
            type_guid: esp,
            unique_guid: OWNER,
            first_lba: 2048,
            last_lba: 1_050_623,
            attributes: 0,
            name: "EFI System Partition".into()
        }
    );
    assert_eq!(g.partitions[1].name, "root");
    // Larger entries are allowed; their extra bytes are skipped.
    let big = gpt(256, &[(esp, OWNER, 1, 2, "a")]);
    assert_eq!(Gpt::decode(&big).unwrap().partitions[0].name, "a");
}

#[test]
fn gpt_corruptions_are_typed() {
    let data = gpt(128, &[(OWNER, OWNER, 1, 2, "x")]);
    let set = |at: usize, v: u64| {
        let mut b = data.clone();
        b[at..at + 8].copy_from_slice(&v.to_le_bytes());
        b
    };
    // A count whose byte size overflows.
    assert_eq!(
        Gpt::decode(&set(92, u64::MAX)),
        Err(UefiError::Invalid {
            what: "NumberOfPartitions",
            offset: 92,
            value: u64::MAX
        })
    );
    // A count past the end.
    assert_eq!(
        Gpt::decode(&set(92, 2)),
        Err(UefiError::Truncated {
            what: "GPT partition entries",
            offset: 100,
            needed: 256,
            available: 128
        })
    );
    // Entries smaller than the specification's 128 bytes.
    let mut small = data.clone();
    small[84..88].copy_from_slice(&64u32.to_le_bytes());
    assert_eq!(
        Gpt::decode(&small),
        Err(UefiError::Invalid {
            what: "SizeOfPartitionEntry (below 128)",
            offset: 84,
            value: 64
        })
    );
    // Not a GPT header.
    let mut unsigned = data.clone();
    unsigned[0] = b'X';
    assert!(matches!(
        Gpt::decode(&unsigned),
        Err(UefiError::Invalid {
            what: "GPT Signature",
            offset: 0,
            ..
        })
    ));
    // A short header.
    assert!(matches!(
        Gpt::decode(&data[..91]),
        Err(UefiError::Truncated {
            needed: 92,
            available: 91,
            ..
        })
    ));
}

#[test]
fn ipl_strings() {
    let ipl = |d: &[u8]| match decode_event(EventType::IPL, d).unwrap() {
        EventData::Ipl(i) => i,
        other => panic!("{other:?}"),
    };
    assert_eq!(
        ipl(b"grub_cmd: linux /vmlinuz-6.1 root=/dev/sda2\0"),
        Ipl::GrubCommand("linux /vmlinuz-6.1 root=/dev/sda2".into())
    );
    let k = ipl(b"kernel_cmdline: /vmlinuz-6.1 root=/dev/sda2 ro quiet\0");
    assert_eq!(
        k,
        Ipl::KernelCmdline("/vmlinuz-6.1 root=/dev/sda2 ro quiet".into())
    );
    assert_eq!(
        k.kernel_cmdline(),
        Some("/vmlinuz-6.1 root=/dev/sda2 ro quiet")
    );
    // Without the terminator too.
    assert_eq!(
        ipl(b"module_cmdline: /initrd.img"),
        Ipl::ModuleCmdline("/initrd.img".into())
    );
    assert_eq!(
        ipl(b"(hd0,gpt2)/boot/grub/grub.cfg\0"),
        Ipl::Text {
            text: "(hd0,gpt2)/boot/grub/grub.cfg".into(),
            utf16: false
        }
    );
    // systemd-boot's UTF-16 command line.
    let mut cmd = utf16("initrd=\\initrd.img root=UUID=1234 ro");
    cmd.extend_from_slice(&[0, 0]);
    let t = ipl(&cmd);
    assert_eq!(
        t,
        Ipl::Text {
            text: "initrd=\\initrd.img root=UUID=1234 ro".into(),
            utf16: true
        }
    );
    assert_eq!(
        t.kernel_cmdline(),
        Some("initrd=\\initrd.img root=UUID=1234 ro")
    );
    // Some systemd-boot releases measure one byte of the terminator.
    let mut odd = utf16("quiet");
    odd.push(0);
    assert_eq!(
        ipl(&odd),
        Ipl::Text {
            text: "quiet".into(),
            utf16: true
        }
    );
    // Binary data (shim's MokList) stays binary.
    let bin = [0x30, 0x82, 0x01, 0x00, 0x00, 0x01, 0xff];
    assert_eq!(ipl(&bin), Ipl::Binary(bin.to_vec()));
    assert_eq!(ipl(&bin).kernel_cmdline(), None);
    assert_eq!(ipl(&[]), Ipl::Binary(vec![]));
}

#[test]
fn actions() {
    for (t, text, known) in [
        (
            EventType::EFI_ACTION,
            "Calling EFI Application from Boot Option",
            Some(KnownAction::CallingEfiApplication),
        ),
        (
            EventType::EFI_ACTION,
            "Exit Boot Services Invocation",
            Some(KnownAction::ExitBootServicesInvocation),
        ),
        (
            EventType::EFI_ACTION,
            "Exit Boot Services Returned with Success",
            Some(KnownAction::ExitBootServicesSuccess),
        ),
        (EventType::ACTION, "Something else", None),
    ] {
        let EventData::Action(a) = decode_event(t, text.as_bytes()).unwrap() else {
            panic!("not an action")
        };
        assert_eq!(a.text, text);
        assert_eq!(a.known(), known);
    }
    // A trailing NUL is dropped; a byte outside printable ASCII is an error at its offset.
    let EventData::Action(a) = decode_event(EventType::EFI_ACTION, b"UEFI Debug Mode\0").unwrap()
    else {
        panic!("not an action")
    };
    assert_eq!(a.known(), Some(KnownAction::UefiDebugMode));
    assert_eq!(
        decode_event(EventType::EFI_ACTION, b"Exit\x01Boot"),
        Err(UefiError::NotAscii {
            what: "action string",
            offset: 4,
            byte: 1
        })
    );
}

#[test]
fn separators() {
    let sep = |d: &[u8]| decode_event(EventType::SEPARATOR, d);
    assert_eq!(sep(&[0; 4]), Ok(EventData::Separator(Separator::Normal)));
    assert_eq!(
        sep(&[1, 0, 0, 0]),
        Ok(EventData::Separator(Separator::Error(1)))
    );
    assert_eq!(
        sep(&[0xff; 4]),
        Ok(EventData::Separator(Separator::Error(0xffff_ffff)))
    );
    assert!(Separator::decode(&[1, 0, 0, 0]).unwrap().is_error());
    assert!(!Separator::decode(&[0; 4]).unwrap().is_error());
    assert_eq!(
        sep(&[2, 0, 0, 0]),
        Ok(EventData::Separator(Separator::Other(2)))
    );
    assert!(matches!(
        sep(&[0; 3]),
        Err(UefiError::Truncated {
            needed: 4,
            available: 3,
            ..
        })
    ));
    assert_eq!(
        sep(&[0; 5]),
        Err(UefiError::TrailingBytes {
            what: "EV_SEPARATOR",
            offset: 4,
            extra: 1
        })
    );
}

fn spec_id(count: u32, algs: &[(u16, u16)], vendor: &[u8]) -> Vec<u8> {
    let mut v = b"Spec ID Event03\0".to_vec();
    v.extend_from_slice(&0u32.to_le_bytes());
    v.extend_from_slice(&[0, 2, 0, 2]);
    v.extend_from_slice(&count.to_le_bytes());
    for (a, s) in algs {
        v.extend_from_slice(&a.to_le_bytes());
        v.extend_from_slice(&s.to_le_bytes());
    }
    v.push(vendor.len() as u8);
    v.extend_from_slice(vendor);
    v
}

#[test]
fn no_action_events() {
    let data = spec_id(2, &[(4, 20), (0xb, 32)], b"ab");
    let EventData::NoAction(NoAction::SpecId(s)) =
        decode_event(EventType::NO_ACTION, &data).unwrap()
    else {
        panic!("not a Spec ID event")
    };
    assert_eq!(
        (s.version_major, s.version_minor, s.errata, s.uintn_size),
        (2, 0, 0, 2)
    );
    assert_eq!(
        s.algorithms,
        [
            AlgorithmSize {
                alg: tpm2_wire::wire::AlgId::SHA1,
                digest_size: 20
            },
            AlgorithmSize {
                alg: tpm2_wire::wire::AlgId::SHA256,
                digest_size: 32
            }
        ]
    );
    assert_eq!(s.vendor_info, b"ab");
    // A count past the end is refused before anything is allocated, by the rules a log's
    // header is held to (there is one Spec ID parser).
    assert_eq!(
        NoAction::decode(&spec_id(u32::MAX, &[(4, 20)], b"")),
        Err(UefiError::SpecId {
            offset: 28,
            reason: "lists more algorithms than a TPM has banks"
        })
    );
    assert_eq!(
        NoAction::decode(&spec_id(3, &[(4, 20)], b"")),
        Err(UefiError::SpecId {
            offset: 28,
            reason: "lists more algorithms than it holds"
        })
    );
    let mut loc = b"StartupLocality\0".to_vec();
    loc.push(3);
    assert_eq!(NoAction::decode(&loc), Ok(NoAction::StartupLocality(3)));
    loc.push(0);
    assert!(matches!(
        NoAction::decode(&loc),
        Err(UefiError::TrailingBytes { offset: 17, .. })
    ));
    let mut sp = b"SP800-155 Event\0".to_vec();
    sp.extend_from_slice(&[1, 2, 3]);
    assert_eq!(
        NoAction::decode(&sp),
        Ok(NoAction::Sp800_155(vec![1, 2, 3]))
    );
    assert_eq!(
        NoAction::decode(b"short"),
        Ok(NoAction::Other(b"short".to_vec()))
    );
}

#[test]
fn boot_variables() {
    // Boot0001: active, "Linux Boot Manager", the device path, optional data.
    let path = device_path();
    let mut opt = 1u32.to_le_bytes().to_vec();
    opt.extend_from_slice(&(path.len() as u16).to_le_bytes());
    opt.extend(utf16("Linux Boot Manager\0"));
    opt.extend_from_slice(&path);
    opt.extend_from_slice(&[0xde, 0xad]);
    let data = variable(Guid::EFI_GLOBAL_VARIABLE, "Boot0001", &opt);
    let EventData::Variable(v) = decode_event(EventType::EFI_VARIABLE_BOOT, &data).unwrap() else {
        panic!("not a variable")
    };
    assert_eq!(v.well_known(), Some(WellKnownVariable::Boot(1)));
    let VariableContents::LoadOption(lo) = v.contents else {
        panic!("not a load option")
    };
    assert_eq!(lo.attributes, 1);
    assert_eq!(lo.description, "Linux Boot Manager");
    assert_eq!(lo.file_path.nodes.len(), 5);
    assert_eq!(lo.optional_data, [0xde, 0xad]);
    // A description without its NUL.
    let mut nonul = 1u32.to_le_bytes().to_vec();
    nonul.extend_from_slice(&0u16.to_le_bytes());
    nonul.extend(utf16("abc"));
    assert!(matches!(
        Variable::decode(&variable(Guid::EFI_GLOBAL_VARIABLE, "Boot0002", &nonul)),
        Err(UefiError::Truncated {
            what: "EFI_LOAD_OPTION Description (no NUL)",
            offset: 54,
            ..
        })
    ));
    // Lower-case digits are not Boot####.
    assert_eq!(
        Variable::decode(&variable(Guid::EFI_GLOBAL_VARIABLE, "Boot000a", &[1]))
            .unwrap()
            .contents,
        VariableContents::Unknown
    );

    let data = variable(
        Guid::EFI_GLOBAL_VARIABLE,
        "BootOrder",
        &[1, 0, 0, 0, 0x10, 0],
    );
    assert_eq!(
        Variable::decode(&data).unwrap().contents,
        VariableContents::BootOrder(vec![1, 0, 0x10])
    );
    // EV_EFI_VARIABLE_BOOT2 carries the same structure.
    let EventData::Variable(v) = decode_event(EventType::EFI_VARIABLE_BOOT2, &data).unwrap() else {
        panic!("not a variable")
    };
    assert_eq!(v.well_known(), Some(WellKnownVariable::BootOrder));
    let odd = variable(Guid::EFI_GLOBAL_VARIABLE, "BootOrder", &[1, 0, 0]);
    assert!(matches!(
        Variable::decode(&odd),
        Err(UefiError::NotMultiple { unit: 2, .. })
    ));
}

#[test]
fn firmware_blobs_and_handoff_tables() {
    let mut blob = 0xff00_0000u64.to_le_bytes().to_vec();
    blob.extend_from_slice(&0x10_0000u64.to_le_bytes());
    assert_eq!(
        decode_event(EventType::EFI_PLATFORM_FIRMWARE_BLOB, &blob),
        Ok(EventData::FirmwareBlob(FirmwareBlob {
            description: vec![],
            base: 0xff00_0000,
            length: 0x10_0000
        }))
    );
    let mut blob2 = vec![3, b'F', b'V', b'0'];
    blob2.extend_from_slice(&blob);
    let EventData::FirmwareBlob(b) =
        decode_event(EventType::EFI_PLATFORM_FIRMWARE_BLOB2, &blob2).unwrap()
    else {
        panic!("not a blob")
    };
    assert_eq!(b.description, b"FV0");

    let mut tables = 1u64.to_le_bytes().to_vec();
    tables.extend_from_slice(&OWNER.0);
    tables.extend_from_slice(&0x7f00_0000u64.to_le_bytes());
    assert_eq!(
        decode_event(EventType::EFI_HANDOFF_TABLES, &tables),
        Ok(EventData::HandoffTables(vec![HandoffTable {
            guid: OWNER,
            address: 0x7f00_0000
        }]))
    );
    tables[..8].copy_from_slice(&u64::MAX.to_le_bytes());
    assert!(matches!(
        decode_event(EventType::EFI_HANDOFF_TABLES, &tables),
        Err(UefiError::Invalid {
            what: "NumberOfTables",
            offset: 0,
            ..
        })
    ));
    // Types without a structure here are kept as they are.
    assert_eq!(
        decode_event(EventType::S_CRTM_VERSION, &[1, 2]),
        Ok(EventData::Other(vec![1, 2]))
    );
}

/// One boot as firmware, shim and GRUB log it, in PCRs 7, 4 and 2.
fn boot() -> Vec<(EventType, u32, Vec<u8>)> {
    let db_list = sig_list(Guid::CERT_X509, &[], &[(OWNER, CERT)]);
    let dbx_list = sig_list(Guid::CERT_SHA256, &[], &[(OWNER, &[0x66; 32])]);
    let mut authority = OWNER.0.to_vec();
    authority.extend_from_slice(CERT);
    let app = image_load(&device_path());
    vec![
        (EventType::NO_ACTION, 0, spec_id(1, &[(0xb, 32)], b"")),
        (
            EventType::EFI_VARIABLE_DRIVER_CONFIG,
            7,
            variable(Guid::EFI_GLOBAL_VARIABLE, "SecureBoot", &[1]),
        ),
        (
            EventType::EFI_VARIABLE_DRIVER_CONFIG,
            7,
            variable(Guid::EFI_GLOBAL_VARIABLE, "PK", &db_list),
        ),
        (
            EventType::EFI_VARIABLE_DRIVER_CONFIG,
            7,
            variable(Guid::EFI_GLOBAL_VARIABLE, "KEK", &db_list),
        ),
        (
            EventType::EFI_VARIABLE_DRIVER_CONFIG,
            7,
            variable(Guid::IMAGE_SECURITY_DATABASE, "db", &db_list),
        ),
        (
            EventType::EFI_VARIABLE_DRIVER_CONFIG,
            7,
            variable(Guid::IMAGE_SECURITY_DATABASE, "dbx", &dbx_list),
        ),
        (EventType::SEPARATOR, 7, vec![0; 4]),
        (
            EventType::EFI_VARIABLE_AUTHORITY,
            7,
            variable(Guid::IMAGE_SECURITY_DATABASE, "db", &authority),
        ),
        (EventType::EFI_BOOT_SERVICES_APPLICATION, 4, app.clone()),
        (
            EventType::EFI_VARIABLE_AUTHORITY,
            7,
            variable(Guid::SHIM_LOCK, "Shim", CERT),
        ),
        (EventType::EFI_BOOT_SERVICES_APPLICATION, 4, app.clone()),
        (EventType::EFI_BOOT_SERVICES_APPLICATION, 4, app),
        (EventType::IPL, 8, b"kernel_cmdline: ro\0".to_vec()),
    ]
}

fn state(events: &[(EventType, u32, Vec<u8>)]) -> Result<SecureBootState, SecureBootError> {
    SecureBootState::from_events(events.iter().map(|(t, p, d)| (*t, *p, d.as_slice())))
}

#[test]
fn secure_boot_state_of_a_verified_boot() {
    let st = state(&boot()).unwrap();
    assert_eq!(st.enabled, Some(true));
    let cert_list = |l: &Option<Vec<SignatureList>>| {
        l.as_ref().unwrap()[0].entries[0].data == SignatureData::X509(Certificate(CERT.to_vec()))
    };
    assert!(cert_list(&st.pk) && cert_list(&st.kek) && cert_list(&st.db));
    assert_eq!(
        st.dbx.as_ref().unwrap()[0].entries[0].data,
        SignatureData::Sha256([0x66; 32])
    );
    assert!(st.separator);
    assert_eq!(st.authorities.len(), 2);
    assert_eq!(
        (st.authorities[0].event, st.authorities[0].after_separator),
        (7, true)
    );
    assert_eq!(st.authorities[0].variable, "db");
    assert_eq!(st.authorities[1].variable, "Shim");
    assert_eq!(
        st.authorities[1].authority.certificate().unwrap().der(),
        CERT
    );
    let before: Vec<_> = st
        .images
        .iter()
        .map(|i| (i.event, i.authorities_before))
        .collect();
    assert_eq!(before, [(8, 1), (10, 2), (11, 2)]);
    assert_eq!(st.unverified_images().count(), 0);
    assert_eq!(st.issues(), []);
}

#[test]
fn secure_boot_state_flags_what_is_missing() {
    // An application before any authority.
    let mut ev = boot();
    ev.swap(7, 8);
    let st = state(&ev).unwrap();
    let unverified: Vec<_> = st.unverified_images().map(|i| i.event).collect();
    assert_eq!(unverified, [7]);
    assert_eq!(
        st.issues(),
        [SecureBootIssue::ApplicationWithoutAuthority(0)]
    );

    // Secure boot off: nothing is unverified, the state says so.
    let mut ev = boot();
    ev[1].2 = variable(Guid::EFI_GLOBAL_VARIABLE, "SecureBoot", &[0]);
    ev.retain(|e| e.0 != EventType::EFI_VARIABLE_AUTHORITY);
    let st = state(&ev).unwrap();
    assert_eq!(st.enabled, Some(false));
    assert_eq!(st.unverified_images().count(), 0);
    assert_eq!(st.issues(), [SecureBootIssue::Disabled]);

    // No authority at all, an empty db, a debugger, and a stray PCR 7 event.
    let mut ev = boot();
    ev.retain(|e| e.0 != EventType::EFI_VARIABLE_AUTHORITY);
    ev[4].2 = variable(Guid::IMAGE_SECURITY_DATABASE, "db", &[]);
    ev.insert(6, (EventType::EFI_ACTION, 7, b"UEFI Debug Mode".to_vec()));
    ev.push((EventType::POST_CODE, 7, vec![]));
    let st = state(&ev).unwrap();
    assert!(st.debug_mode);
    assert_eq!(st.other_pcr7_events, [(ev.len() - 1, EventType::POST_CODE)]);
    assert_eq!(
        st.issues(),
        [
            SecureBootIssue::EmptyDatabase(WellKnownVariable::Db),
            SecureBootIssue::NoAuthority,
            SecureBootIssue::ApplicationWithoutAuthority(0),
            SecureBootIssue::ApplicationWithoutAuthority(1),
            SecureBootIssue::ApplicationWithoutAuthority(2),
            SecureBootIssue::DebugMode,
            SecureBootIssue::UnexpectedPcr7Event(0),
        ]
    );

    // An option ROM driver in PCR 2 before any authority.
    let mut rom = node(2, 1, &[0xd0, 0x41, 0x03, 0x0a, 1, 0, 0, 0]);
    rom.extend(node(1, 1, &[0, 0]));
    let mut range = vec![0; 4];
    range.extend_from_slice(&0x2_4638u64.to_le_bytes());
    range.extend_from_slice(&0x6_45ffu64.to_le_bytes());
    rom.extend(node(4, 8, &range));
    rom.extend(node(0x7f, 0xff, &[]));
    let mut ev = boot();
    ev.insert(
        6,
        (EventType::EFI_BOOT_SERVICES_DRIVER, 2, image_load(&rom)),
    );
    let st = state(&ev).unwrap();
    assert!(st.images[0].option_rom);
    assert!(!st.images[1].option_rom);
    assert_eq!(
        st.images[0].image.device_path.to_string(),
        "PciRoot(0x1)/Pci(0x0,0x0)/Offset(0x24638,0x645ff)"
    );
    assert_eq!(
        st.unverified_images().map(|i| i.event).collect::<Vec<_>>(),
        [6]
    );
    assert_eq!(st.issues(), [SecureBootIssue::DriverWithoutAuthority(0)]);
    // The same driver event in PCR 0 is not the state's concern.
    ev[6].1 = 0;
    assert_eq!(state(&ev).unwrap().images.len(), 3);

    // shim's SbatLevel and MokListTrusted are authorities that name no signer.
    let mut ev = boot();
    ev.retain(|e| e.0 != EventType::EFI_VARIABLE_AUTHORITY);
    let sbat = variable(Guid::SHIM_LOCK, "SbatLevel", b"sbat,1,2021030218\n");
    ev.insert(7, (EventType::EFI_VARIABLE_AUTHORITY, 7, sbat));
    let trusted = variable(Guid::SHIM_LOCK, "MokListTrusted", &[1]);
    ev.insert(8, (EventType::EFI_VARIABLE_AUTHORITY, 7, trusted));
    let st = state(&ev).unwrap();
    assert_eq!(st.authorities.len(), 2);
    assert_eq!(st.unverified_images().count(), 3);
    assert_eq!(st.issues()[0], SecureBootIssue::NoAuthority);

    // No SecureBoot variable.
    let mut ev = boot();
    ev.remove(1);
    assert_eq!(
        state(&ev).unwrap().issues(),
        [SecureBootIssue::NoSecureBootVariable]
    );
}

#[test]
fn secure_boot_state_refuses_inconsistent_pcr7() {
    let mut ev = boot();
    ev.insert(5, ev[4].clone());
    assert_eq!(
        state(&ev),
        Err(SecureBootError::DuplicateVariable {
            event: 5,
            name: "db".into()
        })
    );
    let mut ev = boot();
    let secure_boot = ev.remove(1);
    ev.insert(6, secure_boot);
    assert_eq!(
        state(&ev),
        Err(SecureBootError::VariableAfterSeparator {
            event: 6,
            name: "SecureBoot".into()
        })
    );
    let mut ev = boot();
    ev.insert(7, ev[6].clone());
    assert_eq!(
        state(&ev),
        Err(SecureBootError::DuplicateSeparator { event: 7 })
    );
    let mut ev = boot();
    ev[6].2 = vec![1, 0, 0, 0];
    assert_eq!(
        state(&ev),
        Err(SecureBootError::BadSeparator { event: 6, value: 1 })
    );
    // A malformed event that matters names its position and type.
    let mut ev = boot();
    ev[8].2.truncate(10);
    assert!(matches!(
        state(&ev),
        Err(SecureBootError::Decode {
            event: 8,
            event_type: EventType::EFI_BOOT_SERVICES_APPLICATION,
            source: UefiError::Truncated { .. }
        })
    ));
    // The same malformed data in a PCR the state does not read is skipped.
    ev[8].1 = 5;
    assert!(state(&ev).is_ok());
}

const TYPES: &[u32] = &[
    0x0,
    0x1,
    0x2,
    0x3,
    0x4,
    0x5,
    0x6,
    0x7,
    0x8,
    0xd,
    0x12,
    0x8000_0001,
    0x8000_0002,
    0x8000_0003,
    0x8000_0004,
    0x8000_0005,
    0x8000_0006,
    0x8000_0007,
    0x8000_0008,
    0x8000_0009,
    0x8000_000a,
    0x8000_000c,
    0x8000_00e0,
    0x8000_00e1,
    0xdead_beef,
];

/// Valid event data to start mutations from, so they reach past the first length check.
fn seeds() -> Vec<(u32, Vec<u8>)> {
    boot()
        .into_iter()
        .map(|(t, _, d)| (t.0, d))
        .chain([
            (0x8000_0006, gpt(128, &[(OWNER, DISK, 1, 2, "p")])),
            (
                0x8000_00e0,
                variable(
                    Guid::IMAGE_SECURITY_DATABASE,
                    "db",
                    &sig_list(Guid::CERT_X509, &[], &[(OWNER, CERT)]),
                ),
            ),
            (0xd, utf16("a b c")),
        ])
        .collect()
}

proptest! {
    #[test]
    fn arbitrary_bytes_never_panic(
        t in prop::sample::select(TYPES),
        data in prop::collection::vec(any::<u8>(), 0..512),
    ) {
        let _ = decode_event(EventType(t), &data);
        let _ = decode_signature_lists(&data, 0);
        let _ = DevicePath::decode(&data, 0).map(|p| p.to_string());
        let pcr = data.first().map_or(7, |b| u32::from(b % 8));
        let _ = SecureBootState::from_events([(EventType(t), pcr, data.as_slice())]).map(|s| s.issues());
    }

    #[test]
    fn mutated_events_never_panic(
        seed in any::<prop::sample::Index>(),
        edits in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..8),
        cut in any::<prop::sample::Index>(),
    ) {
        let seeds = seeds();
        let (t, mut data) = seeds[seed.index(seeds.len())].clone();
        for (at, byte) in edits {
            let i = at.index(data.len());
            data[i] = byte;
        }
        data.truncate(cut.index(data.len() + 1));
        let _ = decode_event(EventType(t), &data);
        for pcr in [2, 4, 7] {
            let _ = SecureBootState::from_events([(EventType(t), pcr, data.as_slice())]).map(|s| s.issues());
        }
    }
}

#[test]
fn plain_variable_keeps_contents_decode_refuses() {
    // A two-byte SecureBoot: decode refuses it, decode_plain shows it as it was measured.
    let mut v = variable(Guid::EFI_GLOBAL_VARIABLE, "SecureBoot", &[1, 1]);
    assert!(Variable::decode(&v).is_err());
    let plain = Variable::decode_plain(&v).unwrap();
    assert_eq!(plain.name, "SecureBoot");
    assert_eq!(plain.guid, Guid::EFI_GLOBAL_VARIABLE);
    assert_eq!(plain.data, [1, 1]);
    assert_eq!(plain.contents, VariableContents::Unknown);
    assert_eq!(plain.trailing, 0);
    v.push(7);
    assert_eq!(Variable::decode_plain(&v).unwrap().trailing, 1);
    // The framing is still checked.
    assert!(Variable::decode_plain(&v[..40]).is_err());
}

#[test]
fn image_load_header_reads_the_fixed_part_only() {
    // A path that is not a device path: ImageLoad refuses, the header still reads.
    let data = image_load(&[0xff; 5]);
    assert!(ImageLoad::decode(&data).is_err());
    let h = ImageLoadHeader::decode(&data).unwrap();
    assert_eq!(
        h,
        ImageLoadHeader {
            location: 0x7e00_0000,
            length: 0x1_2000,
            link_time_address: 0,
            device_path_len: 5,
        }
    );
    assert_eq!(&data[ImageLoadHeader::SIZE..], &[0xff; 5]);
    assert!(ImageLoadHeader::decode(&data[..31]).is_err());
}

#[test]
fn firmware_blob_forms() {
    let mut blob = 0x82_0000u64.to_le_bytes().to_vec();
    blob.extend_from_slice(&0xe_0000u64.to_le_bytes());
    let b = FirmwareBlob::decode(&blob, false).unwrap();
    assert_eq!(
        (b.base, b.length, b.description.len()),
        (0x82_0000, 0xe_0000, 0)
    );
    let mut blob2 = vec![3, b'a', b'b', b'c'];
    blob2.extend_from_slice(&blob);
    let b = FirmwareBlob::decode(&blob2, true).unwrap();
    assert_eq!((b.base, &b.description[..]), (0x82_0000, &b"abc"[..]));
    assert!(FirmwareBlob::decode(&blob2, false).is_err());
    assert!(FirmwareBlob::decode(&blob[..15], false).is_err());
}

#[test]
fn tagged_events_decode_with_the_linux_stubs_ids() {
    // As Linux's EFI stub logs its initrd measurement into PCR 9.
    let mut data = TaggedEvent::LINUX_INITRD.to_le_bytes().to_vec();
    data.extend_from_slice(&13u32.to_le_bytes());
    data.extend_from_slice(b"Linux initrd\0");
    let EventData::Tagged(t) = decode_event(EventType::EVENT_TAG, &data).unwrap() else {
        panic!("not a tagged event")
    };
    assert_eq!((t.id, &t.data[..]), (0x8F3B_22EC, &b"Linux initrd\0"[..]));
    // A size past the data, and bytes after it, are refused.
    let short = &data[..data.len() - 1];
    assert!(matches!(
        TaggedEvent::decode(short),
        Err(UefiError::Truncated {
            what: "taggedEventData",
            ..
        })
    ));
    let mut long = data.clone();
    long.push(0);
    assert!(matches!(
        TaggedEvent::decode(&long),
        Err(UefiError::TrailingBytes { extra: 1, .. })
    ));
}
