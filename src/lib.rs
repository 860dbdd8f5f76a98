//! tpm2-wire: a pure-Rust TPM 2.0 wire-protocol library.
//!
//! Data flows one way: a typed command ([`command`]) is marshalled ([`wire`]), authorized and
//! encrypted by its sessions ([`session`]), sent by a [`transport`], and the response is
//! verified and decrypted before it is unmarshalled into a typed response. [`client::Tpm`]
//! runs that pipeline. [`files`] reads and writes the session and context files tpm2-tools
//! uses.
//!
//! Without the default `std` feature, `wire`, `crypto`, `session` and `command` build as a
//! `#![no_std]` + `alloc` core for firmware and bootloaders: the session engine with salted
//! sessions and parameter encryption, taking its randomness from the caller through
//! `rand_core` ([`session::engine::authorize_with_rng`], [`crypto::rsa_encapsulate_rng`],
//! [`crypto::ecc_encapsulate_curve_rng`]).
//!
//! ```no_run
//! use tpm2_wire::client::{SaltKey, Session, SessionOptions};
//! use tpm2_wire::command::GetRandom;
//! use tpm2_wire::Tpm;
//!
//! # fn main() -> tpm2_wire::Result<()> {
//! // -T, then $TPM2TOOLS_TCTI, then a probe when `None`.
//! let tpm = Tpm::open(Some("device:/dev/tpmrm0"))?;
//! // The TPM's name for the key is checked against the public area it returns.
//! let (key, public) = tpm.read_public(0x8100_0001.into())?;
//! let salt = SaltKey::from_public(key, &public)?;
//! let opts = SessionOptions::hmac().salted(salt).encrypt(true, true);
//! let mut s = Session::start(&tpm, &opts)?;
//! // The response is HMAC-verified and decrypted before it is returned.
//! let r = tpm.execute(&GetRandom { bytes_requested: 32 }, &mut [s.extra()])?;
//! assert_eq!(r.random_bytes.len(), 32);
//! // Dropping `s` flushes the session from the TPM.
//! # Ok(())
//! # }
//! ```

#![cfg_attr(not(feature = "std"), no_std)]
#![forbid(unsafe_op_in_unsafe_fn)]

extern crate alloc;

// The no_std + alloc core: marshalling, crypto, the session engine, command declarations.
pub mod command;
pub mod crypto;
pub mod session;
pub mod wire;

// What needs an operating system.
#[cfg(feature = "std")]
pub mod auth;
#[cfg(feature = "std")]
pub mod client;
#[cfg(feature = "ek")]
pub mod ek;
#[cfg(feature = "std")]
pub mod error;
#[cfg(feature = "std")]
pub mod files;
#[cfg(feature = "std")]
pub mod inventory;
#[cfg(feature = "std")]
pub mod registry;
#[cfg(feature = "sim")]
pub mod sim;
#[cfg(feature = "std")]
pub mod steward;
#[cfg(feature = "std")]
pub mod transport;

#[cfg(feature = "std")]
pub use client::{Session, SessionOptions, Tpm};
#[cfg(feature = "std")]
pub use error::{Error, Result};
