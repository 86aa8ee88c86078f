//! Importer stub, being written.

use super::{ImportOptions, Imported, Progress};
use crate::error::{Result, TwinError};
use std::path::Path;

/// Import one file (not yet implemented).
pub fn import(path: &Path, _opts: &ImportOptions, _progress: &dyn Progress) -> Result<Imported> {
    Err(TwinError::parse(
        path,
        "file",
        "dem importer not implemented yet",
    ))
}
