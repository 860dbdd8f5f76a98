//! tpm2-wire: a pure-Rust TPM 2.0 wire-protocol library.
//!
//! Data flows one way: a typed command ([`command`]) is marshalled ([`wire`]), authorized and
//! encrypted by its sessions ([`session`]), sent by a [`transport`], and the response is
//! verified and decrypted before it is unmarshalled into a typed response. [`client::Tpm`]
//! runs that pipeline. [`files`] reads and writes the session and context files tpm2-tools
//! uses.

#![forbid(unsafe_op_in_unsafe_fn)]

pub mod auth;
pub mod client;
pub mod command;
pub mod crypto;
pub mod error;
pub mod files;
pub mod inventory;
pub mod registry;
pub mod session;
#[cfg(feature = "sim")]
pub mod sim;
pub mod steward;
pub mod transport;
pub mod wire;

pub use client::{Session, SessionOptions, Tpm};
pub use error::{Error, Result};
