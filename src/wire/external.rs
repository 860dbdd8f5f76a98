//! What TPM2_LoadExternal takes that no other command does: a TPM2B_SENSITIVE that may be
//! empty, for loading only the public part of a key (to verify signatures with it).

use super::{Marshal, Reader, Sensitive, Unmarshal, WireError, Writer};

/// TPM2B_SENSITIVE where the specification lets it be absent (size 0): TPM2_LoadExternal's
/// `inPrivate`. `None` loads a public key alone; `Some` carries a private part in clear, a
/// secret (its fields are zeroized on drop and redacted in `Debug`).
///
/// A [`Sensitive`] always marshals to at least eight bytes, so size 0 means "none" and
/// nothing else: each value has one encoding.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct OptionalSensitive(pub Option<Sensitive>);

impl OptionalSensitive {
    /// No sensitive area (size 0): load only the public area.
    pub const fn none() -> Self {
        OptionalSensitive(None)
    }
}

impl Marshal for OptionalSensitive {
    const TPM2B: bool = true;

    fn marshal(&self, w: &mut Writer<'_>) {
        match &self.0 {
            None => w.u16(0),
            Some(sensitive) => {
                // A TPMT_SENSITIVE is built from fixed-capacity fields far below 64 KiB.
                let fits = w.sized_u16(|w| sensitive.marshal(w));
                debug_assert!(fits.is_ok());
            }
        }
    }
}

impl Unmarshal for OptionalSensitive {
    const TPM2B: bool = true;

    fn unmarshal(r: &mut Reader<'_>) -> Result<Self, WireError> {
        let declared = r.u16()? as usize;
        if declared == 0 {
            return Ok(OptionalSensitive(None));
        }
        let mut inner = r.sub(declared)?;
        let sensitive = Sensitive::unmarshal(&mut inner)?;
        if !inner.is_empty() {
            return Err(WireError::SizeMismatch {
                declared,
                actual: declared - inner.remaining(),
            });
        }
        Ok(OptionalSensitive(Some(sensitive)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::{Auth, SeedValue, SensitiveComposite, SensitiveData, Tpm2bSensitive};

    fn sensitive() -> Sensitive {
        Sensitive {
            auth_value: Auth::new(b"pw").unwrap(),
            seed_value: SeedValue::empty(),
            sensitive: SensitiveComposite::Bits(SensitiveData::new(b"key-bytes").unwrap()),
        }
    }

    #[test]
    fn none_is_an_empty_tpm2b_and_some_is_a_tpm2b_sensitive() {
        assert_eq!(OptionalSensitive::none().to_bytes(), [0, 0]);
        assert_eq!(
            OptionalSensitive::from_bytes(&[0, 0]).unwrap(),
            OptionalSensitive::none()
        );
        let some = OptionalSensitive(Some(sensitive()));
        let bytes = some.to_bytes();
        assert_eq!(bytes, Tpm2bSensitive(sensitive()).to_bytes());
        assert_eq!(OptionalSensitive::from_bytes(&bytes).unwrap(), some);
        assert!(!format!("{some:?}").contains("key-bytes"));
    }

    #[test]
    fn a_size_that_disagrees_with_the_area_is_refused() {
        let mut bytes = OptionalSensitive(Some(sensitive())).to_bytes();
        // One byte more declared than the area holds, with a spare byte after it.
        let size = u16::from_be_bytes([bytes[0], bytes[1]]) + 1;
        bytes[..2].copy_from_slice(&size.to_be_bytes());
        bytes.push(0);
        assert!(matches!(
            OptionalSensitive::from_bytes(&bytes),
            Err(WireError::SizeMismatch { .. })
        ));
        // Size 1: not even a sensitive type fits.
        assert!(OptionalSensitive::from_bytes(&[0, 1, 0]).is_err());
    }
}
