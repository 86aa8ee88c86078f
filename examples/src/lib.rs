//! Short programs that use the huetwin crates as a library live beside this file as
//! `cargo run -p examples --example NAME`; this library is empty.
