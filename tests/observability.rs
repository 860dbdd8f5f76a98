//! Tracing: every command gets a span with its code, handles, sessions, response code and
//! duration, and the steward's decisions are events; no secret ever appears in them. A
//! subscriber records everything at the most verbose level while a salted, bound, encrypted
//! session seals and unseals a secret.

mod common;

use std::io::Write;
use std::sync::{Arc, Mutex};

use common::*;
use tpm2_wire::client::{Session, SessionOptions};
use tpm2_wire::wire::{Public, SessionAttributes};
use tracing_subscriber::fmt::format::FmtSpan;
use tracing_subscriber::fmt::MakeWriter;

#[derive(Clone, Default)]
struct Capture(Arc<Mutex<Vec<u8>>>);

impl Write for Capture {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> MakeWriter<'a> for Capture {
    type Writer = Capture;
    fn make_writer(&'a self) -> Capture {
        self.clone()
    }
}

fn hex_lower(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

#[test]
fn spans_and_events_carry_no_secret() {
    let capture = Capture::default();
    let subscriber = tracing_subscriber::fmt()
        .with_writer(capture.clone())
        .with_max_level(tracing::Level::TRACE)
        .with_span_events(FmtSpan::FULL)
        .with_ansi(false)
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);

    let (_sim, tpm) = swtpm();
    let parent_auth = pw("parent-auth-7fe1c0");
    let seal_auth = pw("seal-auth-31c9aa");
    let secret = random_bytes(32);
    let (parent, _) = create_primary(&tpm, Public::rsa_2048_storage_parent(), &parent_auth);
    let salt = salt_key(&tpm, Salt::Ecc).unwrap();
    let mut s = Session::start(
        &tpm,
        &SessionOptions::hmac()
            .salted(salt.clone())
            .bound(parent.clone(), parent_auth.clone()),
    )
    .unwrap();
    // Guarded: parked and reloaded around every use, so steward decisions are traced.
    s.set_guarded(true).unwrap();
    s.set_attributes(attrs(SessionAttributes::DECRYPT));
    let slots = &mut [s.auth(&parent_auth)];
    let created = seal(&tpm, &parent, &seal_auth, &secret, slots);
    let sealed = load(&tpm, &parent, &created, s.auth(&parent_auth));
    s.set_attributes(attrs(SessionAttributes::ENCRYPT));
    let unsealed = unseal(&tpm, &sealed, &mut [s.auth(&seal_auth)]).unwrap();
    assert_eq!(unsealed, secret);
    let session_key = s.state().session_key().as_bytes().to_vec();
    assert!(!session_key.is_empty());
    drop(s);
    flush(&tpm, sealed.handle);
    flush(&tpm, parent.handle);
    flush(&tpm, salt.entity().handle);

    let log = String::from_utf8_lossy(&capture.0.lock().unwrap()).into_owned();
    // What an operator needs is there.
    for wanted in [
        "TPM_CC_StartAuthSession",
        "TPM_CC_Create",
        "TPM_CC_Unseal",
        "hmac+encrypt",
        "rc=\"TPM_RC_SUCCESS\"",
        "micros=",
        "steward: parked",
        "steward: reloaded",
        "transport: connected",
    ] {
        assert!(log.contains(wanted), "{wanted:?} missing from the trace");
    }
    // No secret, in any form.
    let secrets: Vec<(&str, Vec<u8>)> = vec![
        ("parent auth", parent_auth.as_bytes().to_vec()),
        ("seal auth", seal_auth.as_bytes().to_vec()),
        ("sealed secret", secret.clone()),
        ("session key", session_key),
    ];
    let lower = log.to_lowercase();
    for (what, bytes) in &secrets {
        assert!(
            !lower.contains(&hex_lower(bytes)),
            "{what} in hex in the trace"
        );
        assert!(
            !lower.contains(&hex_lower(&bytes[..8])),
            "the start of the {what} in hex in the trace"
        );
        assert!(
            !contains(log.as_bytes(), bytes),
            "{what} as raw bytes in the trace"
        );
        let decimal = format!("{:?}", &bytes[..6]);
        assert!(
            !log.contains(&decimal[1..decimal.len() - 1]),
            "{what} as a byte list in the trace"
        );
    }
}
