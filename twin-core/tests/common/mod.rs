//! Helpers shared by the integration tests.
#![allow(dead_code)]

use std::path::PathBuf;
use twin_core::import::ImportOptions;
use twin_core::Crs;
use twin_core::NoProgress;

/// `../shared/data/<rel>` from the project root.
pub fn shared(rel: &str) -> PathBuf {
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../shared/data")
        .join(rel);
    assert!(p.exists(), "test data missing: {}", p.display());
    p
}

/// Import options for a project CRS given as `EPSG:n`.
pub fn opts(crs: &str) -> ImportOptions {
    ImportOptions::new(Crs::parse(crs).unwrap())
}

/// A progress sink.
pub static NO: NoProgress = NoProgress;
