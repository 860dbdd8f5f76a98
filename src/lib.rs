//! tpm2-wire: a pure-Rust TPM 2.0 wire-protocol library.
//!
//! Data flows one way: a typed command is marshalled ([`wire`]), authorized and encrypted by
//! its sessions ([`session`]), sent by a [`transport`], and the response is verified and
//! decrypted before it is unmarshalled into a typed response ([`command`]).

#![forbid(unsafe_op_in_unsafe_fn)]

pub mod auth;
pub mod transport;
pub mod wire;
