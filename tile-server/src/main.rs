//! The `twin` command line.
fn main() {}
