//! The TPM side: reading EK certificates from NV, creating the EK from its template, and
//! accepting it only when it is the certified key.

use super::{CaBundle, EkAlg, EkCertificate, EkError, EkTemplate, VerifiedChain};
use crate::client::{object_name, SaltKey};
use crate::command::{CreatePrimary, Entity, FlushContext, GetCapability, NvRead};
use crate::session::engine::SessionSlot;
use crate::wire::{
    Auth, Capability, CapabilityData, Data, Handle, PcrSelectionList, PropertyTag, Public,
    PublicKey, SensitiveCreate, Tpm2bPublic, Tpm2bSensitiveCreate,
};
use crate::{Error, Tpm};

/// The NV read size when the TPM does not say (every TPM reads at least this much at once).
const DEFAULT_NV_CHUNK: usize = 512;

/// The most bytes read per NV_Read: the library's TPM2B_MAX_NV_BUFFER capacity.
const MAX_NV_CHUNK: usize = crate::wire::MAX_NV_BUFFER_SIZE;

/// The largest NV index read as a certificate.
const MAX_NV_CERTIFICATE: usize = super::MAX_CERTIFICATE_SIZE;

fn nv_chunk(tpm: &Tpm) -> usize {
    let asked = tpm.run(&GetCapability {
        capability: Capability::TPM_PROPERTIES,
        property: PropertyTag::NV_BUFFER_MAX.0,
        property_count: 1,
    });
    let reported = match asked {
        Ok(rsp) => match rsp.capability_data {
            CapabilityData::TpmProperties(list) => list
                .iter()
                .find(|p| p.property == PropertyTag::NV_BUFFER_MAX)
                .map(|p| p.value as usize),
            _ => None,
        },
        Err(_) => None,
    };
    reported
        .filter(|&n| n > 0)
        .unwrap_or(DEFAULT_NV_CHUNK)
        .min(MAX_NV_CHUNK)
}

/// Reads the whole NV index `index` (an EK certificate index, readable with its own empty
/// auth value, as the EK Credential Profile makes them) and parses it as an EK certificate.
/// Returns `Ok(None)` if the index does not exist.
pub fn read_certificate(tpm: &Tpm, index: Handle) -> Result<Option<EkCertificate>, EkError> {
    let nv = match tpm.nv_index(index) {
        Ok(nv) => nv,
        Err(Error::Tpm { rc, .. }) if rc.is_handle_error() => return Ok(None),
        Err(e) => {
            return Err(EkError::tpm(format!(
                "reading the public area of NV {index}"
            ))(e))
        }
    };
    let size = usize::from(nv.public.data_size);
    if size > MAX_NV_CERTIFICATE {
        return Err(EkError::CertificateIndexTooLarge {
            index,
            size,
            max: MAX_NV_CERTIFICATE,
        });
    }
    let chunk = nv_chunk(tpm);
    let mut contents = Vec::with_capacity(size);
    let empty = Auth::empty();
    while contents.len() < size {
        let want = (size - contents.len()).min(chunk);
        let rsp = tpm
            .execute(
                &NvRead {
                    auth_handle: nv.entity.clone(),
                    nv_index: nv.entity.clone(),
                    size: want as u16,
                    offset: contents.len() as u16,
                },
                &mut [SessionSlot::Password(&empty)],
            )
            .map_err(EkError::tpm(format!("reading NV {index}")))?;
        let got = rsp.data.as_bytes();
        if got.is_empty() || got.len() > want {
            return Err(EkError::tpm(format!("reading NV {index}"))(
                Error::Malformed {
                    command: crate::wire::CommandCode::NV_READ,
                    source: crate::wire::WireError::SizeMismatch {
                        declared: want,
                        actual: got.len(),
                    },
                },
            ));
        }
        contents.extend_from_slice(got);
    }
    EkCertificate::from_nv_contents(&contents).map(Some)
}

/// The first EK certificate of `alg` the TPM holds, looking at the indices of
/// [`EkAlg::templates`] in order, with the template it certifies.
pub fn find_certificate(tpm: &Tpm, alg: EkAlg) -> Result<(EkTemplate, EkCertificate), EkError> {
    for &template in alg.templates() {
        if let Some(cert) = read_certificate(tpm, template.certificate_index())? {
            return Ok((template, cert));
        }
    }
    Err(EkError::NoCertificate {
        alg,
        indices: alg
            .templates()
            .iter()
            .map(|t| t.certificate_index().to_string())
            .collect::<Vec<_>>()
            .join(", "),
    })
}

/// An EK created in the TPM whose public key is the one its certificate certifies, and whose
/// certificate chains to the caller's CA bundle. It is a transient object: dropping this
/// flushes it (sessions salted to it stay valid).
#[derive(Debug)]
pub struct VerifiedEk {
    tpm: Tpm,
    entity: Entity,
    public: Public,
    template: String,
    certificate: EkCertificate,
    chain: VerifiedChain,
}

impl VerifiedEk {
    /// Finds the TPM's EK certificate of `alg` ([`find_certificate`]), verifies its chain up
    /// to `bundle` at the bundle's [`validation_time`](CaBundle::validation_time) (the
    /// current time unless chosen otherwise), creates the EK from the certificate's template (with
    /// an empty endorsement hierarchy auth value) and checks that it is the certified key.
    pub fn create(tpm: &Tpm, alg: EkAlg, bundle: &CaBundle) -> Result<VerifiedEk, EkError> {
        let (template, certificate) = find_certificate(tpm, alg)?;
        VerifiedEk::create_with(
            tpm,
            template.label(),
            &template.public(),
            certificate,
            bundle,
            &Auth::empty(),
        )
    }

    /// The general form of [`VerifiedEk::create`]: verifies `certificate`'s chain up to
    /// `bundle` ([`CaBundle::verify`], at the bundle's validation time), creates a primary key from `template` (named `template_name` in
    /// errors) under the endorsement hierarchy with `endorsement_auth`, and keeps it only if
    /// the TPM's answer follows the template and holds exactly the certified public key.
    /// Nothing is created when the chain does not verify; the key is flushed when it does not
    /// match.
    pub fn create_with(
        tpm: &Tpm,
        template_name: &str,
        template: &Public,
        certificate: EkCertificate,
        bundle: &CaBundle,
        endorsement_auth: &Auth,
    ) -> Result<VerifiedEk, EkError> {
        let chain = bundle.verify(&certificate)?;
        let rsp = tpm
            .execute(
                &CreatePrimary {
                    primary_handle: Entity::endorsement(),
                    in_sensitive: Tpm2bSensitiveCreate(SensitiveCreate::default()),
                    in_public: Tpm2bPublic(template.clone()),
                    outside_info: Data::empty(),
                    creation_pcr: PcrSelectionList::default(),
                },
                &mut [SessionSlot::Password(endorsement_auth)],
            )
            .map_err(EkError::tpm(format!(
                "creating the EK from template {template_name}"
            )))?;
        let handle = rsp.object_handle;
        let public = rsp.out_public.0;
        let checked =
            check_created(template_name, template, &public, &certificate).and_then(|()| {
                let name = object_name(&public)
                    .map_err(EkError::tpm("computing the EK's name".to_string()))?;
                if name != rsp.name {
                    return Err(EkError::TemplateMismatch {
                        template: template_name.into(),
                        what: "the name the TPM reports",
                    });
                }
                Ok(name)
            });
        match checked {
            Ok(name) => Ok(VerifiedEk {
                tpm: tpm.clone(),
                entity: Entity::new(handle, name),
                public,
                template: template_name.into(),
                certificate,
                chain,
            }),
            Err(e) => {
                let _ = tpm.run(&FlushContext {
                    flush_handle: handle,
                });
                Err(e)
            }
        }
    }

    /// The EK's handle (transient) and name.
    pub fn entity(&self) -> &Entity {
        &self.entity
    }

    /// The EK's public area, as the TPM returned it.
    pub fn public(&self) -> &Public {
        &self.public
    }

    /// The template's name ("L-1", "H-3", ...).
    pub fn template(&self) -> &str {
        &self.template
    }

    /// The certificate that certifies the EK.
    pub fn certificate(&self) -> &EkCertificate {
        &self.certificate
    }

    /// The verified chain, EK certificate first.
    pub fn chain(&self) -> &VerifiedChain {
        &self.chain
    }
}

impl Drop for VerifiedEk {
    fn drop(&mut self) {
        // Best effort: the TPM may be gone; a transient object dies with its connection anyway.
        let _ = self.tpm.run(&FlushContext {
            flush_handle: self.entity.handle,
        });
    }
}

/// The TPM's answer must be the template with only the unique field filled in, and that field
/// must hold the certified key.
fn check_created(
    template_name: &str,
    template: &Public,
    created: &Public,
    certificate: &EkCertificate,
) -> Result<(), EkError> {
    let differs = |what| EkError::TemplateMismatch {
        template: template_name.into(),
        what,
    };
    if created.name_alg != template.name_alg {
        return Err(differs("nameAlg"));
    }
    if created.object_attributes != template.object_attributes {
        return Err(differs("the object attributes"));
    }
    if created.auth_policy != template.auth_policy {
        return Err(differs("the auth policy"));
    }
    let same_parameters = match (&created.key, &template.key) {
        (PublicKey::Rsa { parameters: a, .. }, PublicKey::Rsa { parameters: b, .. }) => a == b,
        (PublicKey::Ecc { parameters: a, .. }, PublicKey::Ecc { parameters: b, .. }) => a == b,
        _ => false,
    };
    if !same_parameters {
        return Err(differs("the key parameters"));
    }
    match certificate.key().mismatch(created) {
        None => Ok(()),
        Some(detail) => Err(EkError::KeyMismatch {
            template: template_name.into(),
            subject: certificate.subject().into(),
            detail,
        }),
    }
}

impl SaltKey {
    /// The salt key for an EK whose certificate chain verified and whose key is the certified
    /// one. Starting a salted session needs no authorization of the key, so the EK's policy
    /// is no obstacle.
    pub fn from_verified_ek(ek: &VerifiedEk) -> crate::Result<SaltKey> {
        SaltKey::from_public(ek.entity.clone(), &ek.public)
    }
}
