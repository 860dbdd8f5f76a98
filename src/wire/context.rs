//! Saved contexts (TPMS_CONTEXT), as TPM2_ContextSave returns and TPM2_ContextLoad takes.

use super::{ContextData, Handle, Marshal, Reader, Unmarshal, WireError, Writer};

/// TPMS_CONTEXT
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Context {
    /// The TPM's context counter value for this save; a context loads only while the counter has
    /// not moved too far on (TPM_PT_CONTEXT_GAP_MAX for sessions).
    pub sequence: u64,
    /// The saved handle: a session's own handle, or 0x80000000-0x80000002 (an ordinary transient
    /// object, a sequence object, or an object with stClear) for objects.
    pub saved_handle: Handle,
    /// The hierarchy of the saved object (TPM_RH_NULL for sessions). The context is
    /// protected with that hierarchy's proof value, so it stops loading when the proof changes
    /// (the null hierarchy's at every TPM Reset, the owner's at TPM2_Clear).
    pub hierarchy: Handle,
    /// TPM2B_CONTEXT_DATA: integrity-protected and encrypted by the TPM.
    pub context_blob: ContextData,
}

impl Marshal for Context {
    fn marshal(&self, w: &mut Writer<'_>) {
        w.u64(self.sequence);
        self.saved_handle.marshal(w);
        self.hierarchy.marshal(w);
        self.context_blob.marshal(w);
    }
}

impl Unmarshal for Context {
    fn unmarshal(r: &mut Reader<'_>) -> Result<Self, WireError> {
        Ok(Context {
            sequence: r.u64()?,
            saved_handle: Handle::unmarshal(r)?,
            hierarchy: Handle::unmarshal(r)?,
            context_blob: ContextData::unmarshal(r)?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn context_layout() {
        let ctx = Context {
            sequence: 0x0102_0304_0506_0708,
            saved_handle: Handle(0x0200_0000),
            hierarchy: Handle::RH_NULL,
            context_blob: ContextData::new(&[0xAA, 0xBB]).unwrap(),
        };
        let bytes = ctx.to_bytes();
        assert_eq!(bytes.len(), 8 + 4 + 4 + 2 + 2);
        assert_eq!(&bytes[..8], &[1, 2, 3, 4, 5, 6, 7, 8]);
        assert_eq!(Context::from_bytes(&bytes).unwrap(), ctx);
        assert!(Context::from_bytes(&bytes[..bytes.len() - 1]).is_err());
    }
}
