//! `--cphash`: the cpHash of the policy command a step would run, computed by the library
//! from the same command the step sends, with the names the TPM would use.

use std::path::{Path, PathBuf};

use tpm2_wire::client::{command_cp_hash, tools_cp_hash_alg, CpHashSession};
use tpm2_wire::command::{
    Entity, PolicyAuthValue, PolicyAuthorize, PolicyAuthorizeNv, PolicyCommandCode,
    PolicyCounterTimer, PolicyLocality, PolicyNv, PolicyNvWritten, PolicyPassword, PolicySecret,
};
use tpm2_wire::crypto::HashAlg;
use tpm2_wire::files::read_session_file;
use tpm2_wire::wire::{Digest, Handle, SessionType, StructureTag, Ticket};
use tpm2_wire::{Session, Tpm};

use super::{Authorization, BoxError, SecretEntity, Step};

/// `--cphash [ALG:]FILE`: a hash named before a colon is the cpHash's, as in tpm2-tools.
pub(super) fn split_alg(arg: &Path) -> (Option<HashAlg>, PathBuf) {
    if let Some((alg, file)) = arg.to_str().and_then(|s| s.split_once(':')) {
        if let Some(alg) = HashAlg::from_name(alg) {
            return (Some(alg), PathBuf::from(file));
        }
    }
    (None, arg.to_path_buf())
}

/// The hash tpm2-tools would pick: `forced`, else from the authorization session (if a
/// session file) and the policy session, in that order.
fn hash_of(
    forced: Option<HashAlg>,
    auth: Option<&Authorization>,
    policy: &Session,
) -> Result<HashAlg, BoxError> {
    if let Some(alg) = forced {
        return Ok(alg);
    }
    let mut sessions = Vec::new();
    if let Some(Authorization::Session { path, .. }) = auth {
        let file = read_session_file(path).map_err(|e| format!("{}: {e}", path.display()))?;
        let s = file
            .session()
            .ok_or_else(|| format!("{}: not a session file", path.display()))?;
        sessions.push(CpHashSession {
            session_type: s.session_type,
            hash: HashAlg::from_alg_id(s.auth_hash)?,
            attributes: s.attributes,
        });
    }
    sessions.push(CpHashSession::from(policy.state()));
    Ok(tools_cp_hash_alg(&sessions))
}
/// The entity that authorizes reading an index (`-C`, else the index), with verified names.
fn nv_entities(
    tpm: &Tpm,
    index: Handle,
    reader: Option<tpm2_wire::wire::Handle>,
) -> Result<(Entity, Entity), BoxError> {
    let (nv, _) = tpm.nv_read_public(index)?;
    let reader = reader.map_or_else(|| nv.clone(), Entity::from_handle);
    Ok((reader, nv))
}

pub(super) fn step_cp_hash(
    step: &Step,
    session: &Session,
    tpm: &Tpm,
    forced: Option<HashAlg>,
) -> Result<Digest, BoxError> {
    let policy_session = session.entity();
    // The hash of the tools without an authorization.
    let sha256 = hash_of(forced, None, session)?;
    Ok(match step {
        Step::Password => command_cp_hash(sha256, &PolicyPassword { policy_session }),
        Step::AuthValue => command_cp_hash(sha256, &PolicyAuthValue { policy_session }),
        Step::CommandCode(code) => command_cp_hash(
            sha256,
            &PolicyCommandCode {
                policy_session,
                code: *code,
            },
        ),
        Step::Authorize {
            approved,
            policy_ref,
            key,
            ticket,
        } => command_cp_hash(
            sha256,
            &PolicyAuthorize {
                policy_session,
                approved_policy: approved.clone(),
                policy_ref: policy_ref.clone(),
                key_sign: key.clone(),
                // tpm2-tools ignores `-t` on a trial session and sends this ticket.
                check_ticket: if session.state().session_type() == SessionType::TRIAL {
                    Ticket {
                        tag: StructureTag::VERIFIED,
                        hierarchy: Handle::RH_OWNER,
                        digest: Digest::empty(),
                    }
                } else {
                    ticket.clone()
                },
            },
        ),
        Step::Secret {
            object,
            auth,
            terms,
            ..
        } => {
            // A loaded object stays loaded (and ours to flush) until its name is used.
            let (auth_handle, _loaded) = match object {
                SecretEntity::Hierarchy(h) => (Entity::from_handle(*h), None),
                SecretEntity::Object(r) => {
                    let loaded = tpm.load_object(r)?;
                    (loaded.entity().clone(), Some(loaded))
                }
            };
            command_cp_hash(
                hash_of(forced, Some(auth), session)?,
                &PolicySecret {
                    auth_handle,
                    policy_session,
                    nonce_tpm: session.signed_nonce(terms),
                    cp_hash_a: terms.cp_hash_a.clone(),
                    policy_ref: terms.policy_ref.clone(),
                    // The INT32 as its bits, as the wire carries it.
                    expiration: terms.expiration as u32,
                },
            )
        }
        Step::CounterTimer(operand, offset, op) => command_cp_hash(
            sha256,
            &PolicyCounterTimer {
                policy_session,
                operand_b: operand.clone(),
                offset: *offset,
                operation: *op,
            },
        ),
        Step::Locality(l) => command_cp_hash(
            sha256,
            &PolicyLocality {
                policy_session,
                locality: *l,
            },
        ),
        Step::NvWritten(set) => command_cp_hash(
            sha256,
            &PolicyNvWritten {
                policy_session,
                written_set: *set,
            },
        ),
        Step::Nv {
            index,
            reader,
            auth,
            operand,
            offset,
            op,
        } => {
            let (auth_handle, nv_index) = nv_entities(tpm, *index, *reader)?;
            command_cp_hash(
                hash_of(forced, Some(auth), session)?,
                &PolicyNv {
                    auth_handle,
                    nv_index,
                    policy_session,
                    operand_b: operand.clone(),
                    offset: *offset,
                    operation: *op,
                },
            )
        }
        Step::AuthorizeNv {
            index,
            reader,
            auth,
        } => {
            let (auth_handle, nv_index) = nv_entities(tpm, *index, *reader)?;
            command_cp_hash(
                hash_of(forced, Some(auth), session)?,
                &PolicyAuthorizeNv {
                    auth_handle,
                    nv_index,
                    policy_session,
                },
            )
        }
        _ => return Err("this tool takes no --cphash".into()),
    })
}
