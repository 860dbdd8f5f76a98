//! The NV commands beyond define, read and write (TPM 2.0 Part 3, "Non-volatile Storage"):
//! counters, bit fields, extend indices, and the read and write locks.
//!
//! An index's name changes when it is first written (TPMA_NV_WRITTEN goes into its public
//! area), which for counters, bit fields and extend indices is their first
//! [`NvIncrement`], [`NvSetBits`] or [`NvExtend`]: read the name again
//! ([`Tpm::nv_read_public`](crate::Tpm::nv_read_public)) before authorizing it with an HMAC
//! session.

use crate::tpm_command;
use crate::wire::MaxNvBuffer;

tpm_command! {
    /// TPM2_NV_Increment: adds one to a counter index (TPM_NT_COUNTER). A counter never goes
    /// back: its first value is at least the largest any counter of the TPM ever had.
    NvIncrement = NV_INCREMENT {
        auth_handles: [
            /// The index itself, TPM_RH_OWNER or TPM_RH_PLATFORM, as its write attributes
            /// allow.
            auth_handle,
        ],
        handles: [
            /// The counter index.
            nv_index,
        ],
        params: {},
    }
    /// TPM2_NV_Increment's response: nothing.
    NvIncrementResponse { handles: [], params: {} }
}

tpm_command! {
    /// TPM2_NV_Extend: extends an extend index (TPM_NT_EXTEND) like a PCR:
    /// value = H_nameAlg(value ‖ data), starting from zeros.
    NvExtend = NV_EXTEND {
        auth_handles: [
            /// The index itself, TPM_RH_OWNER or TPM_RH_PLATFORM, as its write attributes
            /// allow.
            auth_handle,
        ],
        handles: [
            /// The extend index.
            nv_index,
        ],
        params: {
            /// The data to extend with (TPM2B_MAX_NV_BUFFER), hashed as given.
            data: MaxNvBuffer,
        },
    }
    /// TPM2_NV_Extend's response: nothing.
    NvExtendResponse { handles: [], params: {} }
}

tpm_command! {
    /// TPM2_NV_SetBits: ORs bits into a bit-field index (TPM_NT_BITS); bits are never
    /// cleared.
    NvSetBits = NV_SET_BITS {
        auth_handles: [
            /// The index itself, TPM_RH_OWNER or TPM_RH_PLATFORM, as its write attributes
            /// allow.
            auth_handle,
        ],
        handles: [
            /// The bit-field index.
            nv_index,
        ],
        params: {
            /// The bits to set (UINT64).
            bits: u64,
        },
    }
    /// TPM2_NV_SetBits's response: nothing.
    NvSetBitsResponse { handles: [], params: {} }
}

tpm_command! {
    /// TPM2_NV_WriteLock: locks an index against writes, until the next TPM Reset or Restart
    /// (TPMA_NV_WRITE_STCLEAR) or for good (TPMA_NV_WRITEDEFINE, once written).
    NvWriteLock = NV_WRITE_LOCK {
        auth_handles: [
            /// The index itself, TPM_RH_OWNER or TPM_RH_PLATFORM, as its write attributes
            /// allow.
            auth_handle,
        ],
        handles: [
            /// The index to lock.
            nv_index,
        ],
        params: {},
    }
    /// TPM2_NV_WriteLock's response: nothing.
    NvWriteLockResponse { handles: [], params: {} }
}

tpm_command! {
    /// TPM2_NV_ReadLock: locks a TPMA_NV_READ_STCLEAR index against reads until the next TPM
    /// Reset or Restart.
    NvReadLock = NV_READ_LOCK {
        auth_handles: [
            /// The index itself, TPM_RH_OWNER or TPM_RH_PLATFORM, as its read attributes
            /// allow.
            auth_handle,
        ],
        handles: [
            /// The index to lock.
            nv_index,
        ],
        params: {},
    }
    /// TPM2_NV_ReadLock's response: nothing.
    NvReadLockResponse { handles: [], params: {} }
}

tpm_command! {
    /// TPM2_NV_GlobalWriteLock: locks every TPMA_NV_GLOBALLOCK index against writes until the
    /// next TPM Reset or Restart.
    NvGlobalWriteLock = NV_GLOBAL_WRITE_LOCK {
        auth_handles: [
            /// TPM_RH_OWNER or TPM_RH_PLATFORM.
            auth_handle,
        ],
        handles: [],
        params: {},
    }
    /// TPM2_NV_GlobalWriteLock's response: nothing.
    NvGlobalWriteLockResponse { handles: [], params: {} }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::command::shape;
    use crate::command::{Command, Entity};
    use crate::wire::Handle;

    #[test]
    fn parameter_encryption_and_handles_follow_part_3() {
        assert_eq!(shape::<NvIncrement>(), (false, false, 1, 0));
        assert_eq!(shape::<NvExtend>(), (true, false, 1, 0));
        assert_eq!(shape::<NvSetBits>(), (false, false, 1, 0));
        assert_eq!(shape::<NvWriteLock>(), (false, false, 1, 0));
        assert_eq!(shape::<NvReadLock>(), (false, false, 1, 0));
        assert_eq!(shape::<NvGlobalWriteLock>(), (false, false, 1, 0));
        let set = NvSetBits {
            auth_handle: Entity::owner(),
            nv_index: Entity::from_handle(Handle(0x0150_0000)),
            bits: 0x0102_0304_0506_0708,
        };
        assert_eq!(set.handles().len(), 2);
        let mut params = alloc::vec::Vec::new();
        crate::command::marshal_params(&set, &mut params);
        assert_eq!(params, [1, 2, 3, 4, 5, 6, 7, 8]);
    }
}
