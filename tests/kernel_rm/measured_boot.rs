//! The measured-boot check on real firmware: QEMU boots the Debian kernel through OVMF, which
//! measures into swtpm and leaves a UEFI TCG2 event log; both halves of the check live here.
//!
//! * **Guest** ([`guest`], checks `measured_boot`, `measured_boot_secure` and
//!   `measured_boot_secure_unverified`, one boot each): reads
//!   `binary_bios_measurements` (bounded), parses it, creates a restricted ECC P-256 AK under
//!   the endorsement hierarchy, quotes PCRs 0–7 and 9 of the sha256 and sha1 banks with the
//!   host's nonce (`krm_nonce` on the kernel command line), reads the same PCRs with
//!   PCR_Read, and prints the log, the AK's public area, the attestation, the signature and
//!   the PCR values as `KRM-BLOB <name> <hex>` lines (64 bytes a line).
//! * **Host** ([`host`]): trusts nothing the guest printed. The AK comes from its public area
//!   (a real verifier would have enrolled it, e.g. through the EK); the quote must verify with
//!   the host's nonce against the PCR values the guest read, so those values are the TPM's;
//!   the log must replay to exactly those values; then the secure-boot state and the
//!   measurements a user relies on are asserted (a normal separator in each of PCRs 0–7, the
//!   boot-option and ExitBootServices actions, the kernel in PCR 4 as below, and in PCR 9 the
//!   sha256 of the very initramfs this host built, measured by the kernel's EFI stub), and
//!   the log is tampered with:
//!   - one flipped byte in either quoted bank's digest of any event extended into a quoted
//!     PCR makes the log fail to verify;
//!   - one flipped byte in the data of such an event whose digest is defined over its data
//!     (`EventType::digest_covers_data`: separators, actions, secure-boot variables) makes it
//!     fail too;
//!   - the data of the other events (image load descriptions, firmware blob addresses, boot
//!     variables, the CRTM version, the EFI stub's tagged events) is not what their digest is
//!     the hash of, so no replay can catch a change to it and none is attempted: such data
//!     describes what was measured, and only the digest is vouched for;
//!   - a quote checked against another nonce is refused.
//!
//! The kernel in PCR 4: OVMF measures the image it loads, and that image is the bzImage after
//! QEMU rewrote a few setup-header bytes (loader type, load flags, initrd address and size,
//! heap end, command-line pointer), so it is not the Authenticode hash of `vmlinuz` as shipped:
//! it depends on the QEMU version, the guest's RAM size and the initrd's size. The host
//! applies the same rewrite (`patch_setup_header` in `kernel_rm.rs`) and requires the PCR 4
//! digest to be the Authenticode hash of the result.
//!
//! The three boots:
//! - `measured_boot`: OVMF without secure boot. SecureBoot=0 in PCR 7 (the state reports it
//!   disabled), the kernel measured.
//! - `measured_boot_secure`: OVMF's secure-boot build (SMM) with its snakeoil key enrolled as
//!   PK, KEK and db, booting the kernel signed with that key. A signature over `vmlinuz` as
//!   shipped would not survive QEMU's rewrite (LoadImage would refuse the image), so the host
//!   applies the rewrite first and signs the result (`sign_kernel`). The state must report
//!   secure boot on, PK/KEK/db present, the snakeoil certificate as the authority measured
//!   into PCR 7, no issue, and the kernel measured as exactly the signed image.
//! - `measured_boot_secure_unverified`: the secure-boot build with Debian's PK and Microsoft's
//!   KEK and db, booting Debian's kernel. That db does not admit it (and the rewrite breaks
//!   its signature anyway), so LoadImage refuses it before the measurement runs, and edk2
//!   2022.11 falls back to its legacy Linux loader, which neither verifies nor measures. The
//!   log is honest about it: no PCR 4 application, no authority, and the state reports
//!   `NoAuthority`; the check requires exactly that.

use tpm2_wire::attest::{verify_quote, AttestError, AttestationKey, PcrValues};
use tpm2_wire::command::{Entity, FlushContext, Quote};
use tpm2_wire::crypto::{hash, HashAlg};
use tpm2_wire::eventlog::log::{EventLog, EventType};
use tpm2_wire::eventlog::replay::VerifiedLog;
use tpm2_wire::eventlog::uefi::{
    decode_event, EventData, ImageUse, KnownAction, SecureBootIssue, SecureBootState, Separator,
    SignatureData, SignatureList, TaggedEvent,
};
use tpm2_wire::session::engine::SessionSlot;
use tpm2_wire::wire::{
    Auth, Data, Handle, Marshal, PcrSelection, PcrSelectionList, Public, SigScheme, Signature,
    Unmarshal,
};
use tpm2_wire::Tpm;

/// The kernel command-line word carrying the host's nonce (hex) to the guest.
pub const NONCE_VAR: &str = "krm_nonce";
const LOG_PATH: &str = "/sys/kernel/security/tpm0/binary_bios_measurements";
/// Far above a firmware log's size (5–12 KB here); a bigger file is refused, not read whole.
const LOG_LIMIT: u64 = 1 << 20;
/// The PCRs the firmware measures into before the OS, and PCR 9, into which the kernel's EFI
/// stub measures the initrd (and the command line) while boot services still run.
const PCRS: [u8; 9] = [0, 1, 2, 3, 4, 5, 6, 7, 9];
/// The banks quoted; swtpm and OVMF use all four, two are enough to show bank handling.
const BANKS: [HashAlg; 2] = [HashAlg::Sha256, HashAlg::Sha1];
const BLOB: &str = "KRM-BLOB ";
/// Bytes per console line (128 hex digits): short enough for any console.
const BLOB_CHUNK: usize = 64;

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn unhex(s: &str) -> Result<Vec<u8>, String> {
    if s.len() % 2 != 0 {
        return Err(format!("odd-length hex {s:?}"));
    }
    (0..s.len())
        .step_by(2)
        .map(|i| {
            s.get(i..i + 2)
                .and_then(|d| u8::from_str_radix(d, 16).ok())
                .ok_or_else(|| format!("bad hex {s:?}"))
        })
        .collect()
}

fn bank_name(bank: HashAlg) -> &'static str {
    match bank {
        HashAlg::Sha1 => "sha1",
        HashAlg::Sha256 => "sha256",
        HashAlg::Sha384 => "sha384",
        HashAlg::Sha512 => "sha512",
    }
}

fn selection(bank: HashAlg, pcrs: &[u8]) -> Result<PcrSelectionList, String> {
    let s = PcrSelection::new(bank.alg_id(), pcrs).map_err(|e| format!("selection: {e}"))?;
    PcrSelectionList::new(vec![s]).map_err(|e| format!("selection: {e}"))
}

fn print_blob(name: &str, bytes: &[u8]) {
    for chunk in bytes.chunks(BLOB_CHUNK) {
        println!("{BLOB}{name} {}", hex(chunk));
    }
}

/// The guest half: see the module docs.
pub fn guest() -> Result<String, String> {
    use std::io::Read;
    let nonce = unhex(&std::env::var(NONCE_VAR).map_err(|_| format!("no {NONCE_VAR}"))?)?;
    let mut bytes = Vec::new();
    std::fs::File::open(LOG_PATH)
        .and_then(|f| f.take(LOG_LIMIT + 1).read_to_end(&mut bytes))
        .map_err(|e| format!("{LOG_PATH}: {e}"))?;
    if bytes.len() as u64 > LOG_LIMIT {
        return Err(format!("{LOG_PATH} is over {LOG_LIMIT} bytes"));
    }
    let log = EventLog::parse(&bytes).map_err(|e| format!("parse the log: {e}"))?;

    let tpm = Tpm::open(Some(&format!("device:{}", super::TPMRM)))
        .map_err(|e| format!("open {}: {e}", super::TPMRM))?;
    let empty = Auth::empty();
    let (ak, ak_public) = tpm
        .create_primary(
            &Entity::endorsement(),
            SessionSlot::Password(&empty),
            Public::ecc_p256_attestation_key(),
            &empty,
        )
        .map_err(|e| format!("CreatePrimary(AK): {e}"))?;
    let mut both = Vec::new();
    for bank in BANKS {
        both.push(PcrSelection::new(bank.alg_id(), &PCRS).map_err(|e| format!("{e}"))?);
    }
    let quoted = tpm.execute(
        &Quote {
            sign_handle: ak.clone(),
            qualifying_data: Data::new(&nonce).map_err(|e| format!("nonce: {e}"))?,
            in_scheme: SigScheme::Null,
            pcr_select: PcrSelectionList::new(both).map_err(|e| format!("{e}"))?,
        },
        &mut [SessionSlot::Password(&empty)],
    );
    let flushed = tpm.run(&FlushContext {
        flush_handle: ak.handle,
    });
    let quote = quoted.map_err(|e| format!("Quote: {e}"))?;
    flushed.map_err(|e| format!("FlushContext(AK): {e}"))?;

    // Eight PCRs of one bank per read: eight digests is the most one PCR_Read answer holds.
    let mut reads = Vec::new();
    for bank in BANKS {
        let mut values = Vec::new();
        for pcrs in PCRS.chunks(8) {
            let wanted = selection(bank, pcrs)?;
            let read = tpm
                .pcr_read(&wanted)
                .map_err(|e| format!("PCR_Read({}): {e}", bank_name(bank)))?;
            if read.pcr_selection_out != wanted {
                return Err(format!("PCR_Read({}) answered part", bank_name(bank)));
            }
            values.extend(read.pcr_values.iter().flat_map(|d| d.as_bytes().to_vec()));
        }
        reads.push((bank, values));
    }

    print_blob("log", &bytes);
    print_blob("ak", &ak_public.to_bytes());
    print_blob("attest", quote.quoted.as_bytes());
    print_blob("signature", &quote.signature.to_bytes());
    for (bank, values) in &reads {
        print_blob(&format!("pcr-{}", bank_name(*bank)), values);
    }
    Ok(format!(
        "log {} bytes, {} events, banks {:?}; quoted PCRs {PCRS:?} in {:?}",
        bytes.len(),
        log.unverified_events().len(),
        log.banks(),
        BANKS.map(bank_name)
    ))
}

/// The guest's `KRM-BLOB` lines, joined per name.
fn blobs(console: &[String]) -> Result<Vec<(String, Vec<u8>)>, String> {
    let mut out: Vec<(String, Vec<u8>)> = Vec::new();
    for line in console {
        let Some(rest) = line.strip_prefix(BLOB) else {
            continue;
        };
        let (name, data) = rest
            .split_once(' ')
            .ok_or_else(|| format!("bad blob line {line:?}"))?;
        let data = unhex(data.trim())?;
        match out.iter_mut().find(|(n, _)| n == name) {
            Some((_, v)) => v.extend_from_slice(&data),
            None => out.push((name.to_string(), data)),
        }
    }
    Ok(out)
}

fn blob<'b>(blobs: &'b [(String, Vec<u8>)], name: &str) -> Result<&'b [u8], String> {
    blobs
        .iter()
        .find(|(n, _)| n == name)
        .map(|(_, v)| v.as_slice())
        .ok_or_else(|| format!("the guest printed no {name}"))
}

/// Where `part` (borrowed from `whole`) starts in `whole`.
fn offset_in(whole: &[u8], part: &[u8]) -> usize {
    let start = part.as_ptr() as usize - whole.as_ptr() as usize;
    assert!(start + part.len() <= whole.len(), "not a part of the log");
    start
}

/// What the host expects of a boot's firmware and kernel.
pub enum Expect {
    /// Secure boot off; the kernel measured into PCR 4 as `kernel`, the image QEMU hands the
    /// firmware (`vmlinuz` with QEMU's setup-header rewrite).
    Plain { kernel: Vec<u8> },
    /// Secure boot on; the kernel verified by db's certificate `signer` (DER) and measured as
    /// `kernel`, the signed image.
    Verified { signer: Vec<u8>, kernel: Vec<u8> },
    /// Secure boot on; the kernel neither verified nor measured (OVMF's legacy loader).
    Unverified,
}

/// The PCR 4 application's sha256 digest must be the Authenticode hash of `kernel`; returns
/// that hash.
fn pcr4_kernel(verified: &VerifiedLog<'_>, kernel: &[u8]) -> Result<Vec<u8>, String> {
    let measured: Vec<&[u8]> = verified
        .events()
        .filter(|e| e.pcr() == 4 && e.event_type() == EventType::EFI_BOOT_SERVICES_APPLICATION)
        .filter_map(|e| e.digest(HashAlg::Sha256))
        .collect();
    let expected = authenticode_sha256(kernel)?;
    if measured != [expected.as_slice()] {
        let measured: Vec<String> = measured.iter().map(|d| hex(d)).collect();
        return Err(format!(
            "PCR 4 kernel digest {measured:?} is not the image's Authenticode hash {}",
            hex(&expected)
        ));
    }
    Ok(expected)
}

/// Secure boot on, with PK, KEK and db holding entries.
fn secure_boot_on(state: &SecureBootState, pk: usize, kek: usize, db: usize) -> Result<(), String> {
    if state.enabled != Some(true) || pk == 0 || kek == 0 || db == 0 {
        return Err(format!(
            "secure boot: enabled {:?}, PK/KEK/db entries {pk}/{kek}/{db}",
            state.enabled
        ));
    }
    Ok(())
}

/// The Authenticode SHA-256 of a PE image (what firmware measures for a loaded image): the
/// headers without the checksum and the certificate-table entry, the sections in file order,
/// then any bytes after them up to the certificate table.
fn authenticode_sha256(pe: &[u8]) -> Result<Vec<u8>, String> {
    let bad = || "the signed kernel is not a PE32+ image".to_string();
    let u16_at = |at: usize| pe.get(at..at + 2).map(|b| u16::from_le_bytes([b[0], b[1]]));
    let u32_at = |at: usize| {
        pe.get(at..at + 4)
            .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]) as usize)
    };
    let coff = u32_at(0x3c).ok_or_else(bad)? + 4;
    let sections = usize::from(u16_at(coff + 2).ok_or_else(bad)?);
    let opt = coff + 20;
    let opt_size = usize::from(u16_at(coff + 16).ok_or_else(bad)?);
    if u16_at(opt) != Some(0x20b) {
        return Err(bad());
    }
    let checksum = opt + 64;
    let cert_entry = opt + 144; // data directory 4 of PE32+
    let headers = u32_at(opt + 60).ok_or_else(bad)?;
    let cert_size = u32_at(cert_entry + 4).ok_or_else(bad)?;
    let mut parts: Vec<&[u8]> = vec![
        pe.get(..checksum).ok_or_else(bad)?,
        pe.get(checksum + 4..cert_entry).ok_or_else(bad)?,
        pe.get(cert_entry + 8..headers).ok_or_else(bad)?,
    ];
    let mut raw: Vec<(usize, usize)> = (0..sections)
        .filter_map(|i| {
            let header = opt + opt_size + 40 * i;
            Some((u32_at(header + 20)?, u32_at(header + 16)?))
        })
        .filter(|&(_, size)| size > 0)
        .collect();
    raw.sort_unstable();
    let mut hashed = headers;
    for (at, size) in raw {
        parts.push(pe.get(at..at + size).ok_or_else(bad)?);
        hashed += size;
    }
    let end = pe.len().checked_sub(cert_size).ok_or_else(bad)?;
    if end > hashed {
        parts.push(&pe[hashed..end]);
    }
    Ok(hash(HashAlg::Sha256, &parts).as_bytes().to_vec())
}

/// The host half: verifies what the guest printed against `nonce`, expecting `expect` of
/// the firmware. See the module docs for what is asserted.
pub fn host(
    console: &[String],
    nonce: &[u8],
    expect: Expect,
    initrd: &[u8],
) -> Result<String, String> {
    let blobs = blobs(console)?;
    let log_bytes = blob(&blobs, "log")?;
    let public = Public::from_bytes(blob(&blobs, "ak")?).map_err(|e| format!("AK public: {e}"))?;
    let ak = AttestationKey::primary(Handle::RH_ENDORSEMENT, public)
        .map_err(|e| format!("AK refused: {e}"))?;
    let attest = blob(&blobs, "attest")?;
    let signature =
        Signature::from_bytes(blob(&blobs, "signature")?).map_err(|e| format!("signature: {e}"))?;
    let mut values = PcrValues::new();
    for bank in BANKS {
        let read = blob(&blobs, &format!("pcr-{}", bank_name(bank)))?;
        if read.len() != PCRS.len() * bank.digest_size() {
            return Err(format!(
                "{} PCR values of {} bytes",
                bank_name(bank),
                read.len()
            ));
        }
        for (pcr, value) in PCRS.iter().zip(read.chunks(bank.digest_size())) {
            values
                .insert(bank, *pcr, value)
                .map_err(|e| format!("PCR value: {e}"))?;
        }
    }

    // The quote: signed by the AK, fresh for this nonce, over exactly the values read.
    verify_quote(&ak, attest, &signature, nonce, &values)
        .map_err(|e| format!("the quote does not verify: {e}"))?;
    let mut other_nonce = nonce.to_vec();
    other_nonce[0] ^= 1;
    match verify_quote(&ak, attest, &signature, &other_nonce, &values) {
        Err(AttestError::NonceMismatch) => {}
        other => return Err(format!("the quote with another nonce gave {other:?}")),
    }

    // The log: its replay must be what the TPM quoted.
    let log = EventLog::parse(log_bytes).map_err(|e| format!("parse the log: {e}"))?;
    let events = log.unverified_events().len();
    let verified = log.clone().verify_pcr_values(&values).map_err(|e| {
        let differ: Vec<String> = BANKS
            .iter()
            .flat_map(|&bank| PCRS.iter().map(move |&p| (bank, p)))
            .filter(|&(bank, p)| log.replay().get(bank, u32::from(p)) != values.get(bank, p))
            .map(|(bank, p)| format!("{}:{p}", bank_name(bank)))
            .collect();
        format!("the log does not verify: {e} (replay differs at {differ:?})")
    })?;

    // Facts a verifier relies on, from verified events only.
    let mut separators = [false; 8];
    let mut calling = false;
    let mut exit_boot_services = false;
    for e in verified.events() {
        match decode_event(e.event_type(), e.data()) {
            Ok(EventData::Separator(Separator::Normal)) => {
                if let Some(s) = separators.get_mut(e.pcr() as usize) {
                    *s = true;
                }
            }
            Ok(EventData::Separator(other)) => {
                return Err(format!("PCR {} separator {other:?}", e.pcr()))
            }
            Ok(EventData::Action(a)) => match a.known() {
                Some(KnownAction::CallingEfiApplication) if e.pcr() == 4 => calling = true,
                Some(KnownAction::ExitBootServicesSuccess) if e.pcr() == 5 => {
                    exit_boot_services = true
                }
                _ => {}
            },
            _ => {}
        }
    }
    // The initramfs the kernel got is the one this host built.
    let initrd_digest = hash(HashAlg::Sha256, &[initrd]);
    let initrd_measured = verified.events().any(|e| {
        e.pcr() == 9
            && e.event_type() == EventType::EVENT_TAG
            && TaggedEvent::decode(e.data()).is_ok_and(|t| t.id == TaggedEvent::LINUX_INITRD)
            && e.digest(HashAlg::Sha256) == Some(initrd_digest.as_bytes())
    });
    if !initrd_measured {
        return Err("no PCR 9 initrd event with the initramfs's sha256".to_string());
    }
    if separators.contains(&false) {
        return Err(format!("separators in PCRs 0-7: {separators:?}"));
    }
    if !calling || !exit_boot_services {
        return Err(format!(
            "boot actions: calling the boot option {calling}, ExitBootServices success {exit_boot_services}"
        ));
    }
    let state = SecureBootState::from_events(
        verified
            .events()
            .map(|e| (e.event_type(), e.pcr(), e.data())),
    )
    .map_err(|e| format!("secure-boot state: {e}"))?;
    let apps: Vec<_> = state
        .images
        .iter()
        .filter(|i| i.pcr == 4 && i.event_type == EventType::EFI_BOOT_SERVICES_APPLICATION)
        .collect();
    let entries = |db: &Option<Vec<SignatureList>>| {
        db.as_ref().map_or(0, |lists| {
            lists.iter().map(|l| l.entries.len()).sum::<usize>()
        })
    };
    let (pk, kek, db) = (entries(&state.pk), entries(&state.kek), entries(&state.db));
    // Who the enrolled certificates name (a verifier would compare them with its policy).
    let subjects = |db: &Option<Vec<SignatureList>>| -> Vec<String> {
        db.iter()
            .flatten()
            .flat_map(|l| &l.entries)
            .filter_map(|e| match &e.data {
                SignatureData::X509(cert) => Some(cert.parse().map_or_else(
                    |e| format!("(unparsed: {e})"),
                    |c| c.tbs_certificate.subject.to_string(),
                )),
                _ => None,
            })
            .collect()
    };
    let enrolled = format!(
        "PK {:?}, KEK {:?}, db {:?}",
        subjects(&state.pk),
        subjects(&state.kek),
        subjects(&state.db)
    );
    // The kernel is loaded from QEMU's fw_cfg: its device path ends in a file path `kernel`.
    let from_fw_cfg = |a: &ImageUse| {
        a.image
            .device_path
            .nodes
            .iter()
            .any(|n| n.file_path().as_deref() == Some("kernel"))
    };
    let kernel_measured = apps.len() == 1 && apps.iter().all(|a| from_fw_cfg(a));
    let kernel = match &expect {
        Expect::Plain { kernel } => {
            if state.enabled != Some(false) || !state.issues().contains(&SecureBootIssue::Disabled)
            {
                return Err(format!("plain OVMF: secure boot {:?}", state.enabled));
            }
            if !kernel_measured {
                return Err(format!("PCR 4 applications: {apps:?}"));
            }
            let expected = pcr4_kernel(&verified, kernel)?;
            format!(
                "kernel measured into PCR 4 as vmlinuz after QEMU's header rewrite (Authenticode sha256 {})",
                hex(&expected)
            )
        }
        Expect::Verified { signer, kernel } => {
            secure_boot_on(&state, pk, kek, db)?;
            // Verified against db: the snakeoil certificate measured as the authority before
            // the kernel, which is measured as exactly the image the host signed. (edk2
            // measures a boot option's authority after PCR 7's separator, which it measures
            // before launching boot options, so `after_separator` says nothing here.)
            let authority = state
                .authorities
                .iter()
                .any(|a| a.authority.certificate().map(|c| c.der()) == Some(signer.as_slice()));
            if !authority || !kernel_measured || !state.issues().is_empty() {
                return Err(format!(
                    "secure boot: signer authority {authority}, PCR 4 applications {apps:?}, issues {:?}",
                    state.issues()
                ));
            }
            let expected = pcr4_kernel(&verified, kernel)?;
            format!(
                "{enrolled}; kernel verified by the snakeoil db entry and measured as the signed image (Authenticode sha256 {})",
                hex(&expected)
            )
        }
        Expect::Unverified => {
            secure_boot_on(&state, pk, kek, db)?;
            // Debian's kernel is not admitted by Microsoft's db (and QEMU's header rewrite
            // breaks its signature anyway): OVMF's legacy Linux loader runs it, neither
            // verified nor measured. The log says so: no application, no authority.
            if !apps.is_empty() || !state.issues().contains(&SecureBootIssue::NoAuthority) {
                return Err(format!(
                    "secure boot: PCR 4 applications {apps:?}, issues {:?}",
                    state.issues()
                ));
            }
            format!("{enrolled}; kernel neither verified nor measured: no PCR 4 application, no authority (the legacy loader ran it)")
        }
    };

    // Tampering: one byte of an extended event, in a quoted PCR.
    let (mut digest_flips, mut data_flips) = (0, 0);
    for e in log.unverified_events() {
        if !e.is_extended() || !PCRS.iter().any(|&p| u32::from(p) == e.pcr) {
            continue;
        }
        let mut spots = Vec::new();
        for bank in BANKS {
            let d = e
                .digest(bank.alg_id())
                .ok_or_else(|| format!("event {} has no {} digest", e.index, bank_name(bank)))?;
            spots.push(("digest", offset_in(log_bytes, d) + d.len() / 2));
        }
        if e.event_type.digest_covers_data() && !e.data.is_empty() {
            spots.push(("data", offset_in(log_bytes, e.data) + e.data.len() / 2));
        }
        for (what, at) in spots {
            let mut bad = log_bytes.to_vec();
            bad[at] ^= 0x01;
            // A log that no longer parses is refused as well.
            if let Ok(bad_log) = EventLog::parse(&bad) {
                if bad_log.verify_pcr_values(&values).is_ok() {
                    return Err(format!(
                        "event {} (PCR {}, {}) with a flipped {what} byte at {at} still verifies",
                        e.index, e.pcr, e.event_type
                    ));
                }
            }
            if what == "digest" {
                digest_flips += 1;
            } else {
                data_flips += 1;
            }
        }
    }
    if digest_flips == 0 || data_flips == 0 {
        return Err("nothing to tamper with".to_string());
    }

    Ok(format!(
        "quote verified; log of {events} events verified against it; initrd measured into PCR 9; secure boot {:?} (PK/KEK/db entries {pk}/{kek}/{db}, {} authorities, issues {:?}); {kernel}; {digest_flips} digest and {data_flips} data flips refused; another nonce refused",
        state.enabled,
        state.authorities.len(),
        state.issues()
    ))
}
