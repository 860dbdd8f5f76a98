//! tpm2-wire: a pure-Rust TPM 2.0 library. It talks to a TPM (a Linux TPM device, swtpm, the
//! Microsoft simulator, or a relay command), runs typed commands under HMAC, policy and audit
//! sessions (salted, bound, with parameter encryption), reads and writes the session and
//! context files tpm2-tools uses, and keeps sessions alive when many processes share one TPM.
//! No C TSS is involved; the cryptography comes from the RustCrypto crates.
//!
//! # Getting started
//!
//! Open a TPM with [`Tpm::open`] (or [`Tpm::new`] with a transport), start a [`Session`], and
//! run a command from [`command`] with [`Tpm::execute`], giving one session slot per handle
//! that needs authorization. This example runs against a private swtpm (the `sim` feature and
//! the Debian package `swtpm`); on a machine with a TPM, `Tpm::open(None)` finds it the way
//! tpm2-tools does (`TPM2TOOLS_TCTI`, then `/dev/tpmrm0`, `/dev/tpm0`, a local simulator).
//!
//! ```
//! # #[cfg(feature = "sim")]
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! use tpm2_wire::command::{CreatePrimary, Entity, FlushContext, GetRandom};
//! use tpm2_wire::wire::{Auth, Data, PcrSelectionList, Public, Tpm2bPublic, Tpm2bSensitiveCreate};
//! use tpm2_wire::{Session, SessionOptions, Tpm};
//!
//! // A private swtpm for this example; it stops when `sim` is dropped.
//! let sim = tpm2_wire::sim::Swtpm::spawn_unix()?;
//! let tpm = Tpm::new(Box::new(sim.transport()?));
//!
//! // A command that needs no authorization.
//! let random = tpm.run(&GetRandom { bytes_requested: 16 })?;
//! assert_eq!(random.random_bytes.len(), 16);
//!
//! // An HMAC session authorizing a command on the owner hierarchy, whose auth value is
//! // empty on a fresh TPM. The response HMAC is verified before anything is returned.
//! let mut session = Session::start(&tpm, &SessionOptions::hmac())?;
//! let owner_auth = Auth::empty();
//! let primary = tpm.execute(
//!     &CreatePrimary {
//!         primary_handle: Entity::owner(),
//!         in_sensitive: Tpm2bSensitiveCreate::default(),
//!         in_public: Tpm2bPublic(Public::rsa_2048_storage_parent()),
//!         outside_info: Data::empty(),
//!         creation_pcr: PcrSelectionList::default(),
//!     },
//!     &mut [session.auth(&owner_auth)],
//! )?;
//! println!("RSA-2048 storage primary at {}", primary.object_handle);
//!
//! tpm.run(&FlushContext { flush_handle: primary.object_handle })?;
//! // Dropping `session` flushes it from the TPM.
//! # Ok(())
//! # }
//! # #[cfg(not(feature = "sim"))]
//! # fn main() {}
//! ```
//!
//! On real hardware, salt the session with a key the TPM holds and turn on parameter
//! encryption, so that nothing secret crosses the bus in clear and the session key is known
//! only to this process and the TPM:
//!
//! ```no_run
//! # #[cfg(feature = "std")]
//! # fn main() -> tpm2_wire::Result<()> {
//! use tpm2_wire::client::{SaltKey, Session, SessionOptions};
//! use tpm2_wire::command::GetRandom;
//! use tpm2_wire::Tpm;
//!
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
//! # #[cfg(not(feature = "std"))]
//! # fn main() {}
//! ```
//!
//! The README has a task-oriented guide (sealing, NV indices, session files, the command line,
//! stewardship); `examples/` has complete programs.
//!
//! # Where things are
//!
//! - [`client`]: [`Tpm`], which runs the pipeline below, and [`Session`], which owns a TPM
//!   session and flushes it when dropped; names, context save and load, capability lists.
//! - [`command`]: one typed struct per TPM command and its response; [`tpm_command!`] declares
//!   more, including vendor commands.
//! - [`keys`]: key templates (attestation, signing, decryption, storage, sealed data) and keys
//!   as RAII handles whose names are checked; credentials made on the host and activated
//!   under the EK's policy.
//! - [`files`]: the session and object context files tpm2-tools reads and writes.
//! - [`transport`]: the [`Transport`](transport::Transport) trait, TCTI strings and the four
//!   backends (`device:`, `swtpm:`, `mssim:`, `cmd:`).
//! - [`auth`]: the tpm2-tools authorization grammar (`str:`, `hex:`, `file:`, `session:`,
//!   `pcr:`).
//! - [`steward`], [`registry`], [`inventory`]: keeping sessions alive on a shared TPM,
//!   recording who owns each, and finding and flushing leftovers.
//! - [`sim`] (feature `sim`): a private swtpm, a Microsoft-simulator front, an in-process
//!   fake TPM and a relay that tampers with responses, for tests.
//!
//! Underneath, and usable on their own: [`wire`] (marshalling, every TPM structure), [`crypto`]
//! (hashes, KDFs, parameter encryption, salt encapsulation) and [`session`] (the engine that
//! authorizes a command frame and verifies its response). Data flows one way: a typed command
//! is marshalled, authorized and encrypted by its sessions, sent by a transport, and the
//! response is verified and decrypted before it is unmarshalled into a typed response.
//!
//! # Errors
//!
//! Fallible functions return [`Error`] (or a module's own error, which converts into it with
//! `?` and stays available as its `source`). TPM response codes are decoded
//! ([`wire::ResponseCode`]). The error enums are `#[non_exhaustive]`: match with a wildcard
//! arm.
//!
//! # What a hostile bus can do
//!
//! Everything between the library and the TPM (a driver, a resource manager, a relay, the
//! wires) is untrusted. A session's response HMAC makes a successful response trustworthy: it
//! is verified before any value is decrypted or returned, and any failure between sending a
//! command and verifying its response (lost, truncated, malformed, altered) leaves every
//! session the command carried *desynchronized*, whether in its authorization area or, for a
//! policy command, in its handle area. Such a session is never sent again except to be
//! flushed, never context-saved or written to a file, and its record, when restored, says so.
//!
//! An error response carries no authorization, so a forged one cannot be told from the TPM's.
//! The TPM rolls no nonce when a command fails, so an error is normally taken as the TPM's
//! and the session stays usable (a wrong password can be followed by the right one in the same
//! session). It is taken as *outcome unknown*, and the sessions desynchronized, where doubting
//! it costs little and believing a forgery could cost a dictionary-attack count:
//!
//! * when the frame was sent more than once (the TPM, or a forger, answered TPM_RC_RETRY,
//!   TPM_RC_YIELDED or TPM_RC_TESTING): a forged warning over a command the TPM ran makes the
//!   resent frame stale;
//! * when a session authorized the lockout hierarchy, whose failed authorization locks it
//!   for the whole recovery time;
//! * when a session was sent with continueSession clear: its owner gave it up.
//!
//! What a hostile bus can still do: alter a command in flight so that its HMAC fails (one
//! count per altered command: no library can prevent that, and the TPM's lockout policy bounds
//! it); make a resent frame fail once (then the session is desynchronized); or rewrite a
//! success into an ordinary error, which leaves the session one nonce behind until its next
//! authorization fails at the TPM. What it cannot do: make the library accept a response
//! value the TPM did not send under a verified HMAC, read parameters encrypted under a salted
//! or secretly bound session, make the library go on using a session whose response it lost,
//! or make a session that vanished look like a wrong password ([`Error::SessionLost`]).
//!
//! # Memory
//!
//! Parsing never allocates more than a type's TPM maximum: sized buffers are fixed-capacity
//! arrays inside the value, so some responses are large (a saved [`wire::Context`] is about
//! 5 KB) and are returned by value. See [the `wire` module](wire#why-responses-are-returned-by-value)
//! for what that means on small stacks.
//!
//! # Features
//!
//! - `std` (default): everything above. Without it, [`wire`], [`crypto`], [`session`] and
//!   [`command`] build as a `#![no_std]` + `alloc` core for firmware and bootloaders: the
//!   session engine with salted sessions and parameter encryption, taking its randomness from
//!   the caller through `rand_core` ([`session::engine::authorize`],
//!   [`crypto::rsa_encapsulate_rng`], [`crypto::ecc_encapsulate_curve_rng`]).
//! - `attest`: `attest`, quotes and certifications verified on the host, and TPM keys and
//!   signatures as RustCrypto types.
//! - `ek` (implies `attest`): `ek`, the Endorsement Key's certificate chain verified in pure
//!   Rust, and salt keys from a verified EK (guide: `docs/attestation.md`).
//! - `cli`: the `tpm2-wire` command-line tool.
//! - `sim`: the swtpm fixture for tests and examples.
//! - `arbitrary`: `arbitrary::Arbitrary` for every wire type, for fuzzing harnesses.

#![cfg_attr(not(feature = "std"), no_std)]
#![forbid(unsafe_op_in_unsafe_fn)]
// Every call into the operating system goes through `os`, the one module allowed `unsafe`.
#![deny(unsafe_code)]
#![deny(missing_docs)]

extern crate alloc;

// The no_std + alloc core: marshalling, crypto, the session engine, command declarations.
pub mod command;
pub mod crypto;
pub mod eventlog;
pub mod session;
pub mod wire;

// What needs an operating system.
#[cfg(feature = "attest")]
pub mod attest;
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
pub mod keys;
#[cfg(feature = "std")]
mod link;
#[cfg(feature = "std")]
mod os;
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

/// The Rust snippets of README.md, compiled as doc tests so they stay correct.
#[cfg(all(doctest, feature = "std"))]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;

#[cfg(all(doctest, feature = "attest"))]
#[doc = include_str!("../docs/measured-boot.md")]
pub struct MeasuredBootDoctests;
