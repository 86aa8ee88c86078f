//! Helpers of the `twin` binary's tests: the shared ones of `testkit`, and the binary itself.

#![allow(dead_code)]

pub use testkit::*;

use std::process::Output;

/// Run the `twin` binary built for these tests.
pub fn twin(args: &[&str]) -> Output {
    testkit::run(env!("CARGO_BIN_EXE_twin"), args)
}

/// Run the `twin` binary with `args`: whether it succeeded, and its stdout and stderr.
pub fn twin_cli(args: &[&str]) -> (bool, String) {
    let o = twin(args);
    (o.status.success(), text(&o))
}
