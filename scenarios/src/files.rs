//! The one way a scenario file reaches another file: every path a scenario names (rain,
//! inflow and stage CSVs, a baseline, a `flooded` edit's depth CSV or flood scenario, TNTP and
//! OD tables) is resolved through [`AllowedRoots::resolve`] and read through
//! [`SafePath::read`].
//!
//! * The path is joined to the scenario's folder and canonicalised (symlinks followed); it must
//!   then lie inside one of the allowed roots (themselves canonical). A server allows its
//!   scenario folders and the twin folder; the CLI the scenario file's own folder and the twin.
//! * Only regular files of at most [`MAX_INPUT_BYTES`] are read: devices (`/dev/zero`), FIFOs,
//!   sockets and folders are refused before they are opened.
//! * A file that is missing and a file outside the roots get the same answer,
//!   [`Refusal::OutsideOrMissing`], so that a scenario cannot probe the file system, and no
//!   refusal quotes the file's contents.
//!
//! ```
//! use scenarios::files::{AllowedRoots, Refusal};
//! use std::path::Path;
//! let dir = tempfile::tempdir()?;
//! std::fs::write(dir.path().join("rain.csv"), "t,mm_h\n0,10\n")?;
//! let roots = AllowedRoots::new([dir.path()]);
//! let ok = roots.resolve(dir.path(), Path::new("rain.csv")).unwrap();
//! assert_eq!(ok.read().unwrap(), b"t,mm_h\n0,10\n");
//! let outside = roots.resolve(dir.path(), Path::new("/etc/hostname")).unwrap_err();
//! let missing = roots.resolve(dir.path(), Path::new("nowhere.csv")).unwrap_err();
//! assert_eq!(outside, Refusal::OutsideOrMissing);
//! assert_eq!(outside.to_string(), missing.to_string());
//! # Ok::<(), std::io::Error>(())
//! ```

use std::fmt;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Largest file a scenario may name (64 MiB): a year of one-minute series is about 10 MiB.
pub const MAX_INPUT_BYTES: u64 = 64 << 20;

/// Why a path named by a scenario is not read. Its text never quotes the file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Refusal {
    /// Outside every allowed folder, or missing: one answer for both, on purpose.
    OutsideOrMissing,
    /// Inside the allowed folders but not a regular file (a folder, device, FIFO, socket).
    NotAFile,
    /// Larger than [`MAX_INPUT_BYTES`] (its size in bytes).
    TooLarge(u64),
    /// Inside the allowed folders but could not be opened or read.
    Unreadable,
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Refusal::OutsideOrMissing => {
                f.write_str("outside the allowed folders or missing (a scenario may only read files in the scenario folders and the twin)")
            }
            Refusal::NotAFile => f.write_str("not a regular file"),
            Refusal::TooLarge(n) => write!(
                f,
                "{n} bytes, over the {} MiB limit for a scenario input",
                MAX_INPUT_BYTES >> 20
            ),
            Refusal::Unreadable => f.write_str("cannot be read"),
        }
    }
}

/// The folders scenario inputs may come from, canonicalised. Cheap to clone.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AllowedRoots {
    roots: Arc<Vec<PathBuf>>,
}

impl AllowedRoots {
    /// The given folders, canonicalised; folders that do not exist are left out (nothing can
    /// be read from them). No folder at all allows nothing.
    pub fn new<P: AsRef<Path>>(dirs: impl IntoIterator<Item = P>) -> AllowedRoots {
        let mut roots: Vec<PathBuf> = Vec::new();
        for d in dirs {
            let d = d.as_ref();
            let d = if d.as_os_str().is_empty() {
                Path::new(".")
            } else {
                d
            };
            if let Ok(c) = d.canonicalize() {
                if c.is_dir() && !roots.contains(&c) {
                    roots.push(c);
                }
            }
        }
        AllowedRoots {
            roots: Arc::new(roots),
        }
    }

    /// These roots and `dir` too.
    pub fn with(&self, dir: &Path) -> AllowedRoots {
        let mut all = (*self.roots).clone();
        all.push(dir.to_path_buf());
        AllowedRoots::new(all)
    }

    /// The canonical roots.
    pub fn roots(&self) -> &[PathBuf] {
        &self.roots
    }

    /// Whether the canonical path `p` lies inside a root.
    fn contains(&self, p: &Path) -> bool {
        self.roots.iter().any(|r| p.starts_with(r))
    }

    /// `written` (as the scenario wrote it; absolute, or relative to `base`) resolved: the
    /// canonical path of a regular file of at most [`MAX_INPUT_BYTES`] inside a root.
    pub fn resolve(&self, base: &Path, written: &Path) -> Result<SafePath, Refusal> {
        let joined = base.join(written);
        let canonical = joined
            .canonicalize()
            .map_err(|_| Refusal::OutsideOrMissing)?;
        if !self.contains(&canonical) {
            return Err(Refusal::OutsideOrMissing);
        }
        // Not opened yet: a FIFO would block the open, a device never end the read.
        let meta = std::fs::metadata(&canonical).map_err(|_| Refusal::OutsideOrMissing)?;
        if !meta.is_file() {
            return Err(Refusal::NotAFile);
        }
        if meta.len() > MAX_INPUT_BYTES {
            return Err(Refusal::TooLarge(meta.len()));
        }
        Ok(SafePath { path: canonical })
    }
}

/// A path [`AllowedRoots::resolve`] accepted: canonical, inside a root, a regular file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SafePath {
    path: PathBuf,
}

impl SafePath {
    /// The canonical path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The file's bytes, checked again on the open file (still a regular file, still at most
    /// [`MAX_INPUT_BYTES`], read no further than that).
    pub fn read(&self) -> Result<Vec<u8>, Refusal> {
        read_bounded(&self.path)
    }

    /// The file as UTF-8 text.
    pub fn read_to_string(&self) -> Result<String, Refusal> {
        String::from_utf8(self.read()?).map_err(|_| Refusal::Unreadable)
    }
}

/// The bytes of a regular file of at most [`MAX_INPUT_BYTES`] at a path checked before (a
/// [`SafePath`] kept as a plain path), checked again on the open file.
pub(crate) fn read_bounded(path: &Path) -> Result<Vec<u8>, Refusal> {
    let f = std::fs::File::open(path).map_err(|_| Refusal::Unreadable)?;
    let meta = f.metadata().map_err(|_| Refusal::Unreadable)?;
    if !meta.is_file() {
        return Err(Refusal::NotAFile);
    }
    let mut bytes = Vec::with_capacity(meta.len().min(MAX_INPUT_BYTES) as usize);
    f.take(MAX_INPUT_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(|_| Refusal::Unreadable)?;
    if bytes.len() as u64 > MAX_INPUT_BYTES {
        return Err(Refusal::TooLarge(bytes.len() as u64));
    }
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn confined_to_roots_with_one_answer_for_missing_and_outside() {
        let tmp = tempfile::tempdir().unwrap();
        let inside = tmp.path().join("in");
        let outside = tmp.path().join("out");
        std::fs::create_dir_all(inside.join("sub")).unwrap();
        std::fs::create_dir_all(&outside).unwrap();
        std::fs::write(inside.join("sub/a.csv"), "t,v\n0,1\n").unwrap();
        std::fs::write(outside.join("secret.csv"), "t,v\nhunter2,1\n").unwrap();
        let roots = AllowedRoots::new([&inside]);
        let base = inside.join("sub");
        assert!(roots.resolve(&base, Path::new("a.csv")).is_ok());
        assert!(roots.resolve(&base, Path::new("../sub/./a.csv")).is_ok());
        for bad in [
            "../../out/secret.csv",
            "/etc/passwd",
            "missing.csv",
            "/nonexistent",
        ] {
            assert_eq!(
                roots.resolve(&base, Path::new(bad)),
                Err(Refusal::OutsideOrMissing),
                "{bad}"
            );
        }
        // A symlink inside pointing outside is outside.
        std::os::unix::fs::symlink(outside.join("secret.csv"), inside.join("link.csv")).unwrap();
        assert_eq!(
            roots.resolve(&inside, Path::new("link.csv")),
            Err(Refusal::OutsideOrMissing)
        );
        // Devices and folders are refused, even inside a root.
        let dev = AllowedRoots::new(["/dev"]);
        assert_eq!(
            dev.resolve(Path::new("/dev"), Path::new("zero")),
            Err(Refusal::NotAFile)
        );
        assert_eq!(
            roots.resolve(&inside, Path::new("sub")),
            Err(Refusal::NotAFile)
        );
        assert!(AllowedRoots::default()
            .resolve(&inside, Path::new("sub/a.csv"))
            .is_err());
    }

    #[test]
    fn oversized_files_are_refused() {
        let tmp = tempfile::tempdir().unwrap();
        let f = std::fs::File::create(tmp.path().join("big.csv")).unwrap();
        f.set_len(MAX_INPUT_BYTES + 1).unwrap();
        let roots = AllowedRoots::new([tmp.path()]);
        assert_eq!(
            roots.resolve(tmp.path(), Path::new("big.csv")),
            Err(Refusal::TooLarge(MAX_INPUT_BYTES + 1))
        );
    }
}
