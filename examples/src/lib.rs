//! Examples live beside this file as `cargo run -p examples --example NAME`.
