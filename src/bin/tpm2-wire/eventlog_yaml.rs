//! A firmware event log in the YAML `tpm2_eventlog` (tpm2-tools 5.x, its default
//! `--eventlog-version=1`) prints, so that scripts written for its output keep working.
//!
//! Layout only: the decoding is the library's. The rules below are that tool's output, kept
//! even where they look odd, since its readers depend on them:
//! - a SHA-1 form log has no `EventNum` keys, and its events carry `DigestCount: 1`;
//! - variable data, event data of types it does not decode and, in this version, GPT and
//!   EV_NO_ACTION events are hex; those last hex strings stop after 1024 bytes;
//! - EV_S_CRTM_CONTENTS and firmware blobs show their first 16 bytes as base and length;
//! - action and POST code strings stop at their first NUL and are written unquoted;
//! - EV_IPL text is split at newlines, each line quoted with a few C escapes;
//! - event types it has no name for print as `Unknown event type`.
//!
//! Where the library cannot decode an event the tool would have shown field by field (it
//! refuses such a log, or prints memory past the event), the event data is shown as hex.

use std::io::Write;

use tpm2_wire::eventlog::log::{Event, EventLog, EventType, LogFormat, SpecId};
use tpm2_wire::eventlog::uefi::{FirmwareBlob, ImageLoadHeader, Variable};
use tpm2_wire::wire::AlgId;

use crate::tools::hex;

/// The tool prints hex of event data through a 2049-byte buffer: 1024 bytes at most.
const HEX_EVENT_MAX: usize = 1024;

/// tpm2-tools' names for the event types it knows (a subset of the library's).
fn type_name(t: EventType) -> &'static str {
    match t.0 {
        0x0000_0000..=0x0000_0012 | 0x8000_0001..=0x8000_000c | 0x8000_00e0 => {
            t.name().unwrap_or("Unknown event type")
        }
        _ => "Unknown event type",
    }
}

/// tpm2-tools' names for hash algorithms.
fn alg_name(alg: AlgId) -> &'static str {
    match alg.0 {
        0x0004 => "sha1",
        0x000b => "sha256",
        0x000c => "sha384",
        0x000d => "sha512",
        0x0012 => "sm3_256",
        0x0027 => "sha3_256",
        0x0028 => "sha3_384",
        0x0029 => "sha3_512",
        // What its printf makes of the NULL name it gets for any other algorithm.
        _ => "(null)",
    }
}

/// `bytes` up to the first NUL: the tool prints C strings with `%.*s`.
fn c_string(bytes: &[u8]) -> &[u8] {
    bytes.split(|&b| b == 0).next().unwrap_or_default()
}

/// One line of EV_IPL text, quoted, with the escapes the tool applies.
fn escaped_line(line: &[u8], out: &mut Vec<u8>) {
    out.push(b'"');
    for &b in line {
        let escape = match b {
            0 => b'0',
            0x07 => b'a',
            0x08 => b'b',
            b'\t' => b't',
            0x0b => b'v',
            0x0c => b'f',
            b'\r' => b'r',
            0x1b => b'e',
            b'\'' => b'\'',
            b'\\' => b'\\',
            _ => {
                out.push(b);
                continue;
            }
        };
        out.extend_from_slice(&[b'\\', escape]);
    }
    out.push(b'"');
}

/// EV_IPL data as a block of quoted lines. A newline ends a line; one at the very end
/// opens none after it.
fn ipl(data: &[u8], out: &mut Vec<u8>) {
    out.extend_from_slice(b"  Event:\n    String: |-\n");
    let body = data.strip_suffix(b"\n").unwrap_or(data);
    for line in body.split(|&b| b == b'\n') {
        out.extend_from_slice(b"      ");
        escaped_line(line, out);
        out.push(b'\n');
    }
}

fn hex_event(data: &[u8], out: &mut Vec<u8>) {
    let shown = &data[..data.len().min(HEX_EVENT_MAX)];
    let _ = writeln!(out, "  Event: \"{}\"", hex(shown));
}

fn blob(b: &FirmwareBlob, out: &mut Vec<u8>) {
    let _ = write!(
        out,
        "  Event:\n    BlobBase: {:#x}\n    BlobLength: {:#x}\n",
        b.base, b.length
    );
}

fn variable(data: &[u8], out: &mut Vec<u8>) {
    let Ok(v) = Variable::decode_plain(data) else {
        return hex_event(data, out);
    };
    let _ = write!(
        out,
        "  Event:\n    VariableName: {}\n    UnicodeNameLength: {}\n    \
         VariableDataLength: {}\n    UnicodeName: {}\n",
        v.guid,
        v.name.encode_utf16().count(),
        v.data.len(),
        v.name
    );
    if !v.data.is_empty() {
        let _ = writeln!(out, "    VariableData: \"{}\"", hex(&v.data));
    }
}

fn image_load(data: &[u8], out: &mut Vec<u8>) {
    let Ok(h) = ImageLoadHeader::decode(data) else {
        return hex_event(data, out);
    };
    // The tool shows every byte after the header, whatever LengthOfDevicePath says.
    let _ = write!(
        out,
        "  Event:\n    ImageLocationInMemory: {:#x}\n    ImageLengthInMemory: {}\n    \
         ImageLinkTimeAddress: {:#x}\n    LengthOfDevicePath: {}\n    DevicePath: '{}'\n",
        h.location,
        h.length,
        h.link_time_address,
        h.device_path_len,
        hex(&data[ImageLoadHeader::SIZE..])
    );
}

fn event_data(t: EventType, data: &[u8], out: &mut Vec<u8>) {
    let _ = writeln!(out, "  EventSize: {}", data.len());
    if data.is_empty() {
        return;
    }
    match t {
        EventType::EFI_VARIABLE_DRIVER_CONFIG
        | EventType::EFI_VARIABLE_BOOT
        | EventType::EFI_VARIABLE_BOOT2
        | EventType::EFI_VARIABLE_AUTHORITY => variable(data, out),
        // A 16-byte POST code is a firmware blob, anything else a string.
        EventType::POST_CODE if data.len() != 16 => {
            out.extend_from_slice(b"  Event: |-\n    ");
            out.extend_from_slice(c_string(data));
            out.push(b'\n');
        }
        // The tool reads the first 16 bytes as a blob even when more follow (Boot Guard
        // logs a string as EV_S_CRTM_CONTENTS); its readers get the same two numbers.
        EventType::POST_CODE
        | EventType::S_CRTM_CONTENTS
        | EventType::EFI_PLATFORM_FIRMWARE_BLOB => {
            match data.get(..16).map(|d| FirmwareBlob::decode(d, false)) {
                Some(Ok(b)) => blob(&b, out),
                _ => hex_event(data, out),
            }
        }
        EventType::EFI_PLATFORM_FIRMWARE_BLOB2 => match FirmwareBlob::decode(data, true) {
            Ok(b) => {
                let _ = write!(
                    out,
                    "  Event:\n    BlobDescriptionSize: {}\n    BlobDescription: \"{}\"\n    \
                     BlobBase: {:#x}\n    BlobLength: {:#x}\n",
                    b.description.len(),
                    hex(&b.description),
                    b.base,
                    b.length
                );
            }
            Err(_) => hex_event(data, out),
        },
        EventType::EFI_ACTION => {
            out.extend_from_slice(b"  Event: |-\n    ");
            out.extend_from_slice(c_string(data));
            out.push(b'\n');
        }
        EventType::IPL => ipl(data, out),
        EventType::EFI_BOOT_SERVICES_APPLICATION
        | EventType::EFI_BOOT_SERVICES_DRIVER
        | EventType::EFI_RUNTIME_SERVICES_DRIVER => image_load(data, out),
        _ => hex_event(data, out),
    }
}

fn spec_id(e: &Event<'_>, spec: &SpecId, out: &mut Vec<u8>) {
    let digest = e.digests.first().map_or(&[][..], |d| d.digest);
    let signature = c_string(&e.data[..e.data.len().min(16)]);
    let _ = write!(
        out,
        "- EventNum: {}\n  PCRIndex: {}\n  EventType: {}\n  Digest: \"{}\"\n  EventSize: {}\n",
        e.index,
        e.pcr,
        type_name(e.event_type),
        hex(digest),
        e.data.len()
    );
    out.extend_from_slice(b"  SpecID:\n  - Signature: ");
    out.extend_from_slice(signature);
    let _ = write!(
        out,
        "\n    platformClass: {}\n    specVersionMinor: {}\n    specVersionMajor: {}\n    \
         specErrata: {}\n    uintnSize: {}\n    numberOfAlgorithms: {}\n    Algorithms:\n",
        spec.platform_class,
        spec.version_minor,
        spec.version_major,
        spec.errata,
        spec.uintn_size,
        spec.algorithms.len()
    );
    for (i, a) in spec.algorithms.iter().enumerate() {
        let _ = write!(
            out,
            "    - Algorithm[{i}]:\n      algorithmId: {}\n      digestSize: {}\n",
            alg_name(a.alg),
            a.digest_size
        );
    }
    let _ = writeln!(out, "    vendorInfoSize: {}", spec.vendor_info.len());
    if !spec.vendor_info.is_empty() {
        let _ = writeln!(out, "    vendorInfo: \"{}\"", hex(&spec.vendor_info));
    }
}

/// The document up to and including `events:`'s entries; the caller appends `pcrs:`.
pub fn events(log: &EventLog<'_>, out: &mut Vec<u8>) {
    out.extend_from_slice(b"---\nversion: 1\nevents:\n");
    let agile = log.format() == LogFormat::CryptoAgile;
    for e in log.unverified_events() {
        if let (0, Some(spec)) = (e.index, log.spec_id()) {
            spec_id(e, spec, out);
            continue;
        }
        if agile {
            let _ = writeln!(out, "- EventNum: {}", e.index);
        }
        let _ = write!(
            out,
            "  PCRIndex: {}\n  EventType: {}\n  DigestCount: {}\n  Digests:\n",
            e.pcr,
            type_name(e.event_type),
            e.digests.len()
        );
        for d in &e.digests {
            let _ = write!(
                out,
                "  - AlgorithmId: {}\n    Digest: \"{}\"\n",
                alg_name(d.alg),
                hex(d.digest)
            );
        }
        event_data(e.event_type, e.data, out);
    }
}
