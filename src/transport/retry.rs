//! Resubmitting commands the TPM asked to be retried (TPM_RC_RETRY, TPM_RC_YIELDED,
//! TPM_RC_TESTING), with bounded exponential backoff.

use std::time::Duration;

use super::{response_code, Transport, TransportError};

/// Response codes that mean "the command was not executed; send it again".
const RC_RETRY: u32 = 0x922;
const RC_YIELDED: u32 = 0x908;
const RC_TESTING: u32 = 0x90A;

fn wants_retry(response: &[u8]) -> bool {
    matches!(
        response_code(response),
        Some(RC_RETRY | RC_YIELDED | RC_TESTING)
    )
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
/// sees the TPM's own code.
pub fn transact_with_retry(
    transport: &mut dyn Transport,
    command: &[u8],
    response: &mut Vec<u8>,
    policy: &RetryPolicy,
) -> Result<(), TransportError> {
    let mut delay = policy.initial_delay;
    let mut attempt = 1;
    loop {
        transport.transact(command, response)?;
        if attempt >= policy.max_attempts || !wants_retry(response) {
            return Ok(());
        }
        std::thread::sleep(delay.min(policy.max_delay));
        delay = delay.saturating_mul(2);
        attempt += 1;
    }
}

/// A transport wrapper that applies [`transact_with_retry`] to every command.
#[derive(Debug)]
pub struct Retrying<T> {
    inner: T,
    policy: RetryPolicy,
}

impl<T: Transport> Retrying<T> {
    /// Wraps `inner`, retrying per `policy`.
    pub fn new(inner: T, policy: RetryPolicy) -> Self {
        Retrying { inner, policy }
    }

    /// The wrapped transport.
    pub fn into_inner(self) -> T {
        self.inner
    }

    /// The wrapped transport, to configure it.
    pub fn inner_mut(&mut self) -> &mut T {
        &mut self.inner
    }
}

impl<T: Transport> Transport for Retrying<T> {
    fn transact(&mut self, command: &[u8], response: &mut Vec<u8>) -> Result<(), TransportError> {
        transact_with_retry(&mut self.inner, command, response, &self.policy)
    }

    fn describe(&self) -> String {
        self.inner.describe()
    }

    fn set_timeout(&mut self, timeout: Duration) {
        self.inner.set_timeout(timeout)
    }

    fn set_locality(&mut self, locality: u8) -> Result<(), TransportError> {
        self.inner.set_locality(locality)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
        transact_with_retry(&mut t, &[], &mut rsp, &fast(10)).unwrap();
        assert_eq!(t.sent, 4);
        assert_eq!(response_code(&rsp), Some(0));
    }

    #[test]
    fn gives_up_after_max_attempts_with_the_tpm_code() {
        let mut t = Retrying::new(
            Scripted {
                codes: vec![RC_RETRY; 100],
                sent: 0,
            },
            fast(3),
        );
        let mut rsp = Vec::new();
        t.transact(&[], &mut rsp).unwrap();
        assert_eq!(t.inner_mut().sent, 3);
        assert_eq!(response_code(&rsp), Some(RC_RETRY));
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
