//! `scenarios`: what-if engines on the CPU (flood reference solver, traffic assignment,
//! impacts) over a [`twin_core::Twin`]. The engines arrive with their issues; this crate holds
//! their shared scenario types.

#![warn(missing_docs)]

pub use twin_core;
