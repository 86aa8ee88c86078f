//! Examples live beside this file as `cargo run -p examples --example NAME`; the library holds
//! the code they share, such as the generator of the Huế sample twin ([`hue_sample`]).
#![warn(missing_docs)]

pub mod hue_sample;
