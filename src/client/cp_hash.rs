//! The cpHash of a typed command, without running it.

use crate::command::{marshal_params, Command};
use crate::crypto::HashAlg;
use crate::session::cp_hash::cp_hash;
use crate::session::SessionState;
use crate::wire::{Digest, SessionAttributes, SessionType};

/// `cmd`'s cpHash with `alg`: over its code, the names its handles carry and its parameters
/// (see [`cp_hash`]). The names are taken as the entities carry them, so they must be the
/// verified ones ([`Tpm::read_public`](crate::Tpm::read_public), `nv_read_public`) for the
/// digest to be the one the TPM computes.
pub fn command_cp_hash<C: Command>(alg: HashAlg, cmd: &C) -> Digest {
    let handles = cmd.handles();
    let names: Vec<&[u8]> = handles.iter().map(|e| e.name.as_bytes()).collect();
    let mut params = Vec::new();
    marshal_params(cmd, &mut params);
    cp_hash(alg, C::CODE, &names, &params)
}

/// What tpm2-tools weighs of a command's session when it picks the hash of a `--cphash`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CpHashSession {
    /// TPM_SE_HMAC, TPM_SE_POLICY or TPM_SE_TRIAL.
    pub session_type: SessionType,
    /// Its hash (authHash).
    pub hash: HashAlg,
    /// Its attributes (only TPMA_SESSION_AUDIT counts).
    pub attributes: SessionAttributes,
}

impl From<&SessionState> for CpHashSession {
    fn from(s: &SessionState) -> Self {
        CpHashSession {
            session_type: s.session_type(),
            hash: s.hash(),
            attributes: s.attributes(),
        }
    }
}

/// The hash tpm2-tools 5.4 computes a `--cphash` with when the path names none, from the
/// command's sessions in its order (for the policy tools: the authorization session, then the
/// policy session extended): trial sessions are skipped; the first HMAC session that audits
/// decides, else the last HMAC or policy session; without any, sha256.
pub fn tools_cp_hash_alg(sessions: &[CpHashSession]) -> HashAlg {
    let mut alg = None;
    for s in sessions {
        if s.session_type != SessionType::HMAC && s.session_type != SessionType::POLICY {
            continue;
        }
        alg = Some(s.hash);
        if s.session_type == SessionType::HMAC && s.attributes.0 & SessionAttributes::AUDIT != 0 {
            break;
        }
    }
    alg.unwrap_or(HashAlg::Sha256)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(session_type: SessionType, hash: HashAlg, attributes: u8) -> CpHashSession {
        CpHashSession {
            session_type,
            hash,
            attributes: SessionAttributes(attributes),
        }
    }

    #[test]
    fn picks_the_hash_as_tpm2_tools() {
        use HashAlg::{Sha1, Sha256, Sha384};
        let audit = SessionAttributes::AUDIT;
        assert_eq!(tools_cp_hash_alg(&[]), Sha256);
        assert_eq!(tools_cp_hash_alg(&[s(SessionType::TRIAL, Sha1, 0)]), Sha256);
        assert_eq!(tools_cp_hash_alg(&[s(SessionType::POLICY, Sha1, 0)]), Sha1);
        // The last one wins…
        let hmac_then_policy = [
            s(SessionType::HMAC, Sha1, 0),
            s(SessionType::POLICY, Sha384, 0),
        ];
        assert_eq!(tools_cp_hash_alg(&hmac_then_policy), Sha384);
        let hmac_then_trial = [
            s(SessionType::HMAC, Sha1, 0),
            s(SessionType::TRIAL, Sha384, 0),
        ];
        assert_eq!(tools_cp_hash_alg(&hmac_then_trial), Sha1);
        // …unless an HMAC session audits.
        let audit_then_policy = [
            s(SessionType::HMAC, Sha1, audit),
            s(SessionType::POLICY, Sha384, 0),
        ];
        assert_eq!(tools_cp_hash_alg(&audit_then_policy), Sha1);
    }
}
