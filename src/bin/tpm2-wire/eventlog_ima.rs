//! `eventlog --ima`: the Linux IMA binary measurement list printed, replayed, and compared
//! with the TPM's PCRs. The decoding and the replay are the library's
//! (`tpm2_wire::eventlog::ima`); this is presentation.

use std::io::Write;
use std::path::PathBuf;

use serde_json::{json, Map, Value};

use tpm2_wire::crypto::HashAlg;
use tpm2_wire::eventlog::ima::{
    entries, ByteOrder, FileDigest, ImaEntry, ImaReplay, ListFormat, PcrCheck, Template,
};
use tpm2_wire::wire::{PcrSelection, PcrSelectionList};

use crate::tools::{hex, open_tpm};
use crate::CliResult;

/// Where Linux exposes the IMA list (SHA-1 template digests).
pub const KERNEL_LIST: &str = "/sys/kernel/security/ima/binary_runtime_measurements";

/// A busy host's list reaches tens of MiB (about 150 bytes an entry); far above that, a
/// bound on what an untrusted file can make this allocate.
pub const MAX_LIST: usize = 256 << 20;

/// What `eventlog --ima` was asked to do.
pub struct ImaArgs {
    pub file: Option<PathBuf>,
    pub json: bool,
    pub check: bool,
    pub bank: HashAlg,
    pub big_endian: bool,
}

/// `algorithm:hex` as the kernel's ASCII list shows a `d-ng` field (bare hex without one).
fn file_digest(d: &FileDigest<'_>) -> String {
    if d.algorithm.is_empty() {
        hex(d.digest)
    } else {
        format!("{}:{}", d.algorithm, hex(d.digest))
    }
}

/// The fields after the template name, each as the kernel's ASCII list shows it.
fn ascii_fields(t: &Template<'_>) -> Vec<Vec<u8>> {
    match t {
        Template::Ima { digest, path } => vec![hex(digest).into_bytes(), path.to_vec()],
        Template::ImaNg { digest, path } => vec![file_digest(digest).into_bytes(), path.to_vec()],
        Template::ImaSig {
            digest,
            path,
            signature,
        } => vec![
            file_digest(digest).into_bytes(),
            path.to_vec(),
            hex(signature).into_bytes(),
        ],
        Template::ImaBuf {
            digest,
            name,
            buffer,
        } => vec![
            file_digest(digest).into_bytes(),
            name.to_vec(),
            hex(buffer).into_bytes(),
        ],
        Template::Other { fields } => fields.iter().map(|f| hex(f).into_bytes()).collect(),
        _ => Vec::new(),
    }
}

/// One line in the layout of the kernel's `ascii_runtime_measurements`.
fn ascii_line(e: &ImaEntry<'_>, out: &mut Vec<u8>) -> Result<(), String> {
    let t = e.template().map_err(|err| err.to_string())?;
    let _ = write!(out, "{} {} ", e.pcr(), hex(e.template_digest()));
    out.extend_from_slice(e.template_name());
    for field in ascii_fields(&t) {
        out.push(b' ');
        out.extend_from_slice(&field);
    }
    out.push(b'\n');
    Ok(())
}

fn entry_json(e: &ImaEntry<'_>) -> Result<Value, String> {
    let t = e.template().map_err(|err| err.to_string())?;
    let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
    let mut v = json!({
        "index": e.index(),
        "pcr": e.pcr(),
        "template": text(e.template_name()),
        "template_hash": hex(e.template_digest()),
        "violation": e.is_violation(),
    });
    let fields = match t {
        Template::Ima { digest, path } => json!({ "file_hash": hex(digest), "path": text(path) }),
        Template::ImaNg { digest, path } => {
            json!({ "file_hash": file_digest(&digest), "path": text(path) })
        }
        Template::ImaSig {
            digest,
            path,
            signature,
        } => json!({
            "file_hash": file_digest(&digest),
            "path": text(path),
            "signature": hex(signature),
        }),
        Template::ImaBuf {
            digest,
            name,
            buffer,
        } => json!({
            "file_hash": file_digest(&digest),
            "name": text(name),
            "buffer": hex(buffer),
        }),
        Template::Other { fields } => {
            json!({ "fields": fields.iter().map(|f| hex(f)).collect::<Vec<_>>() })
        }
        _ => json!({}),
    };
    if let (Value::Object(v), Value::Object(f)) = (&mut v, fields) {
        v.extend(f);
    }
    Ok(v)
}

pub fn ima(tcti: Option<&str>, a: ImaArgs, emit: impl Fn(&[u8]) -> CliResult) -> CliResult {
    let path = a.file.unwrap_or_else(|| PathBuf::from(KERNEL_LIST));
    let bytes = tpm2_wire::files::read_bounded(&path, "IMA measurement list", MAX_LIST)?;
    let order = if a.big_endian {
        ByteOrder::Big
    } else {
        ByteOrder::Little
    };
    let format = ListFormat::SHA1.with_byte_order(order);
    let fail = |e: &dyn std::fmt::Display| format!("{}: {e}", path.display());
    // The replay checks every template digest and layout before anything is printed.
    let mut replay = ImaReplay::recomputing(format, a.bank);
    replay.finish(&bytes).map_err(|e| fail(&e))?;
    let bank = a.bank.name();
    let pcrs: Vec<(u32, Vec<u8>)> = replay
        .extended_pcrs()
        .map(|(p, v)| (p, v.to_vec()))
        .collect();
    let mut out = Vec::new();
    if a.json {
        let mut list = Vec::new();
        for e in entries(&bytes, format) {
            list.push(entry_json(&e.map_err(|e| fail(&e))?).map_err(|e| fail(&e))?);
        }
        let values: Map<String, Value> = pcrs
            .iter()
            .map(|(p, v)| (p.to_string(), json!(hex(v))))
            .collect();
        let doc = json!({
            "verified": false,
            "pcrs": { bank: values },
            "entries": list,
        });
        out = serde_json::to_vec_pretty(&doc)?;
        out.push(b'\n');
    } else {
        for e in entries(&bytes, format) {
            ascii_line(&e.map_err(|e| fail(&e))?, &mut out).map_err(|e| fail(&e))?;
        }
        let _ = writeln!(out, "pcrs:\n  {bank}:");
        for (p, v) in &pcrs {
            let _ = writeln!(out, "    {p:<2} : 0x{}", hex(v));
        }
    }
    emit(&out)?;
    if !a.check {
        return Ok(());
    }
    let tpm = open_tpm(tcti)?;
    let list: Vec<u8> = pcrs.iter().map(|&(p, _)| p as u8).collect();
    if list.is_empty() {
        return Err("the IMA list is empty: no PCR to compare".into());
    }
    let selection = PcrSelectionList::new(vec![PcrSelection::new(a.bank.alg_id(), &list)?])?;
    let values = tpm.pcr_values(&selection)?;
    // pcr_values answers in selection order, lowest PCR first.
    let differ: Vec<String> = pcrs
        .iter()
        .zip(values.iter())
        .filter(|((p, _), v)| replay.check_pcr(*p, v.as_bytes()) != PcrCheck::Match)
        .map(|((p, _), _)| format!("{bank}:{p}"))
        .collect();
    if differ.is_empty() {
        eprintln!(
            "the TPM's PCRs match the IMA list ({} entries, {} values)",
            replay.entries(),
            pcrs.len()
        );
        Ok(())
    } else {
        // The kernel keeps appending: entries measured after the list was read and before
        // the PCRs were differ too.
        Err(format!(
            "the TPM's PCRs differ from the IMA list's replay: {} (a live list may have grown \
             between the two reads: run again)",
            differ.join(", ")
        )
        .into())
    }
}
