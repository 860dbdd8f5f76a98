//! The TPM 2.0 wire format: a bounds-checked reader, a writer, and the marshalled types.
//! Knows nothing of crypto or I/O.

#[cfg(feature = "arbitrary")]
mod arbitrary;
pub mod attest;
pub mod capability;
mod codec;
pub mod constants;
pub mod context;
pub mod frame;
pub mod nv;
pub mod pcr;
pub mod public;
pub mod rc;
pub mod structures;
pub mod sym;
mod tpm2b;

pub use attest::*;
pub use capability::*;
pub use codec::{Marshal, Reader, Unmarshal, Writer};
pub use constants::*;
pub use context::*;
pub use frame::*;
pub use nv::*;
pub use pcr::*;
pub use public::*;
pub use rc::*;
pub use structures::{
    AlgorithmAttributes, AuthTicket, CommandAttributes, CreationTicket, HashcheckTicket, ListEntry,
    LocalityAttributes, NvAttributes, ObjectAttributes, Ticket, TpmList, VerifiedTicket,
};
pub use sym::*;
pub use tpm2b::*;

/// Why bytes could not be read as (or written as) a TPM structure.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WireError {
    #[error("truncated: needed {needed} more bytes, {available} available")]
    Truncated { needed: usize, available: usize },
    #[error("{0} unexpected trailing bytes")]
    TrailingBytes(usize),
    #[error("{what} too large: {size} bytes (at most {max})")]
    TooLarge {
        what: &'static str,
        size: usize,
        max: usize,
    },
    #[error("invalid {what}: 0x{value:x}")]
    BadValue { what: &'static str, value: u32 },
    #[error("{what} has {count} entries (at most {max})")]
    TooMany {
        what: &'static str,
        count: usize,
        max: usize,
    },
    #[error("size field says {declared} bytes but {actual} were present")]
    SizeMismatch { declared: usize, actual: usize },
}
