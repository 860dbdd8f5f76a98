//! The TPM 2.0 wire format: a bounds-checked reader, a writer, and the marshalled types.
//! Knows nothing of crypto or I/O.
//!
//! Most users never touch this module directly: [`Tpm`](crate::Tpm) marshals commands and
//! parses responses. It is public for code that builds or inspects frames itself (firmware
//! with its own transport, fuzzers, test doubles) and for the types that appear in command
//! fields: [`Handle`], [`Name`], [`Digest`], [`Public`], [`Context`], ...
//!
//! Names follow TPM 2.0 Library Part 2: `Tpm2b<N>` is a TPM2B with at most `N` bytes (with
//! aliases such as [`Digest`] for TPM2B_DIGEST), constants are newtypes over their wire
//! integer ([`AlgId`] for TPM_ALG_ID, [`CommandCode`] for TPM_CC, [`TpmRc`] for TPM_RC), and
//! unions with their selector are Rust enums ([`PublicKey`], [`Signature`]).
//!
//! # Why responses are returned by value
//!
//! Every sized buffer (TPM2B) is a fixed-capacity inline array holding the TPM's maximum for
//! that type, not a `Vec`. Parsing a response therefore never allocates, its memory use is
//! known at compile time, and a hostile size field is a [`WireError::TooLarge`] instead of
//! an allocation request. The price is size: a [`Context`] (TPMS_CONTEXT, with a 5 KiB
//! TPM2B_CONTEXT_DATA) is about 5 KB and a [`CreateResponse`](crate::command::CreateResponse)
//! (a TPM2B_PRIVATE, a TPM2B_PUBLIC and the creation data) about 7 KB, and they are returned
//! by value.
//!
//! On a desktop or server thread that is nothing. On a small firmware stack, keep these
//! values off the stack: box the response as soon as it is returned
//! (`Box::new(tpm.execute(..)?)`, which the optimizer usually builds in place), keep them in
//! a `static` or a long-lived struct rather than in deep call chains, or run TPM work on a
//! thread or task with a larger stack. `core::mem::size_of::<T>()` gives the exact figure
//! for any type here:
//!
//! ```
//! use core::mem::size_of;
//! use tpm2_wire::command::CreateResponse;
//! use tpm2_wire::wire::Context;
//!
//! // The figures given above; if they change, so must this text.
//! assert!((5_000..6_000).contains(&size_of::<Context>()));
//! assert!((6_500..7_500).contains(&size_of::<CreateResponse>()));
//! ```

#[cfg(feature = "arbitrary")]
mod arbitrary;
#[cfg(feature = "arbitrary")]
pub use arbitrary::sample_inputs;
pub mod admin;
pub mod attest;
pub mod capability;
mod codec;
pub mod command_params;
pub mod constants;
pub mod context;
pub mod credential;
pub mod external;
pub mod frame;
pub mod nv;
pub mod pcr;
pub mod policy;
pub mod public;
pub mod rc;
pub mod structures;
pub mod sym;
mod tpm2b;

pub use admin::*;
pub use attest::*;
pub use capability::*;
pub use codec::{Marshal, Reader, Unmarshal, Writer};
pub use command_params::*;
pub use constants::*;
pub use context::*;
pub use credential::*;
pub use external::*;
pub use frame::*;
pub use nv::*;
pub use pcr::*;
pub use policy::*;
pub use public::*;
pub use rc::*;
pub use structures::{
    AlgorithmAttributes, AuthTicket, CommandAttributes, CreationTicket, HashcheckTicket, ListEntry,
    LocalityAttributes, NvAttributes, ObjectAttributes, Ticket, TpmList, VerifiedTicket,
};
pub use sym::*;
pub use tpm2b::*;

/// Why bytes could not be read as (or written as) a TPM structure. Every variant says which
/// structure or field; none carries the bytes themselves.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum WireError {
    /// The input ended inside a structure.
    #[error("truncated: needed {needed} more bytes, {available} available")]
    Truncated {
        /// Bytes the structure needed at that point.
        needed: usize,
        /// Bytes that were left.
        available: usize,
    },
    /// A structure was complete but bytes were left over (how many); sender and reader
    /// disagree on the layout.
    #[error("{0} unexpected trailing bytes")]
    TrailingBytes(usize),
    /// A size or length exceeds what the type allows (a TPM2B size field above its capacity,
    /// a value too large for its TPM2B).
    #[error("{what} too large: {size} bytes (at most {max})")]
    TooLarge {
        /// The structure or field.
        what: &'static str,
        /// The size found or asked for, in bytes.
        size: usize,
        /// The most the type holds, in bytes.
        max: usize,
    },
    /// A field holds a value its type does not allow (an unknown union selector, a bad tag,
    /// reserved bits set).
    #[error("invalid {what}: 0x{value:x}")]
    BadValue {
        /// The field.
        what: &'static str,
        /// The value found.
        value: u32,
    },
    /// A list (TPML_*) has more entries than the type allows.
    #[error("{what} has {count} entries (at most {max})")]
    TooMany {
        /// The list.
        what: &'static str,
        /// Entries found or given.
        count: usize,
        /// The most the list holds.
        max: usize,
    },
    /// A size field disagrees with the bytes actually present (e.g. a response header's size
    /// and the frame length).
    #[error("size field says {declared} bytes but {actual} were present")]
    SizeMismatch {
        /// What the size field says.
        declared: usize,
        /// Bytes actually present.
        actual: usize,
    },
}
