//! Measured boot: TCG event logs parsed and replayed without I/O.
//!
//! A quote proves that PCR values are genuine; the event log says what they mean. This module
//! reads the logs firmware and the kernel write (the TCG PC Client Platform Firmware Profile
//! log in its SHA-1 and crypto-agile forms, the Linux IMA measurement list), replays them into
//! PCR values, and decodes the events a verifier reasons about. Everything here works on byte
//! slices and allocates at most in proportion to the log it is given; reading the kernel's
//! securityfs files is left to the caller.
//!
//! Submodules, one per concern:
//!
//! - [`log`]: the PC Client firmware log in both forms, framed without copying, with the
//!   firmware quirks it accepts recorded as findings; [`replay`]: its PCR values, compared
//!   with a quote's, and the verified log decisions are made on.
//! - [`ima`]: the Linux IMA runtime measurement list (binary form, any PCR bank), decoded and
//!   replayed into its PCRs, incrementally as the list grows.
//! - [`uefi`]: the event data of firmware log events decoded by type, and the secure-boot
//!   state (configuration, authorities, images) drawn from PCRs 7, 4 and 2.

pub mod ima;
pub mod log;
pub mod replay;
pub mod uefi;
