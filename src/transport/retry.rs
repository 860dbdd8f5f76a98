//! Resubmitting commands the TPM asked to be retried (TPM_RC_RETRY, TPM_RC_YIELDED,
//! TPM_RC_TESTING), with bounded exponential backoff.

use std::time::Duration;

use super::{response_code, Transport, TransportError};
use crate::wire::ResponseCode;

/// TPM_RC_RETRY, TPM_RC_YIELDED, TPM_RC_TESTING: the command was not executed; send it again.
fn wants_retry(response: &[u8]) -> bool {
    response_code(response).is_some_and(ResponseCode::is_retry_class)
}

/// How often and how patiently to resubmit.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Total sends, including the first (at least one send always happens).
    pub max_attempts: u32,
    /// Pause before the first resend; doubled after each.
    pub initial_delay: Duration,
    /// Upper bound for any single pause.
    pub max_delay: Duration,
}

impl Default for RetryPolicy {
    /// 10 sends, pauses 10 ms, 20 ms, ... capped at 1 s (about 3.6 s in total), enough for a
    /// TPM finishing its self-test.
    fn default() -> Self {
        RetryPolicy {
            max_attempts: 10,
            initial_delay: Duration::from_millis(10),
            max_delay: Duration::from_secs(1),
        }
    }
}

/// Sends `command`, resending while the TPM answers RETRY/YIELDED/TESTING and attempts remain.
/// The last response is left in `response` either way, so a caller that runs out of attempts
/// sees the TPM's own code. Returns how many times the command was sent: an error response
/// is unauthenticated, so a warning that asked for a resend may have been forged over a
/// command the TPM ran, and the caller must then not trust the sessions the frame carried.
pub fn transact_with_retry(
    transport: &mut dyn Transport,
    command: &[u8],
    response: &mut Vec<u8>,
    policy: &RetryPolicy,
) -> Result<u32, TransportError> {
    let mut delay = policy.initial_delay;
    let mut attempt = 1;
    loop {
        transport.transact(command, response)?;
        if attempt >= policy.max_attempts || !wants_retry(response) {
            return Ok(attempt);
        }
        std::thread::sleep(delay.min(policy.max_delay));
        delay = delay.saturating_mul(2);
        attempt += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::TpmRc;

    const RC_RETRY: u32 = TpmRc::RETRY.0;
    const RC_YIELDED: u32 = TpmRc::YIELDED.0;
    const RC_TESTING: u32 = TpmRc::TESTING.0;

    /// Answers with the scripted response codes in order, then success; counts sends.
    struct Scripted {
        codes: Vec<u32>,
        sent: usize,
    }

    impl Transport for Scripted {
        fn transact(&mut self, _: &[u8], response: &mut Vec<u8>) -> Result<(), TransportError> {
            let code = self.codes.get(self.sent).copied().unwrap_or(0);
            self.sent += 1;
            response.clear();
            response.extend_from_slice(&[0x80, 0x01, 0, 0, 0, 10]);
            response.extend_from_slice(&code.to_be_bytes());
            Ok(())
        }

        fn describe(&self) -> String {
            "scripted".into()
        }
    }

    fn fast(max_attempts: u32) -> RetryPolicy {
        RetryPolicy {
            max_attempts,
            initial_delay: Duration::from_millis(1),
            max_delay: Duration::from_millis(2),
        }
    }

    #[test]
    fn resends_while_the_tpm_asks_and_stops_at_success() {
        let mut t = Scripted {
            codes: vec![RC_TESTING, RC_YIELDED, RC_RETRY],
            sent: 0,
        };
        let mut rsp = Vec::new();
        let sends = transact_with_retry(&mut t, &[], &mut rsp, &fast(10)).unwrap();
        assert_eq!(t.sent, 4);
        assert_eq!(sends, 4);
        assert_eq!(response_code(&rsp), Some(ResponseCode::SUCCESS));
    }

    #[test]
    fn gives_up_after_max_attempts_with_the_tpm_code() {
        let mut t = Scripted {
            codes: vec![RC_RETRY; 100],
            sent: 0,
        };
        let mut rsp = Vec::new();
        transact_with_retry(&mut t, &[], &mut rsp, &fast(3)).unwrap();
        assert_eq!(t.sent, 3);
        assert_eq!(response_code(&rsp), Some(ResponseCode(RC_RETRY)));
    }

    #[test]
    fn other_errors_are_not_retried() {
        // TPM_RC_LOCKOUT (0x921) is a warning too, but resending cannot help.
        let mut t = Scripted {
            codes: vec![0x921],
            sent: 0,
        };
        let mut rsp = Vec::new();
        transact_with_retry(&mut t, &[], &mut rsp, &fast(10)).unwrap();
        assert_eq!(t.sent, 1);
    }
}
