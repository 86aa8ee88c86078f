//! A twin on disk: a folder with `twin.toml`, its sources and the GeoPackage store `twin.gpkg`
//! (later also a tile cache and scenario results).
//!
//! **Crash safety.** An import commits its features and the twin's new `twin.toml` (with its
//! [`generation`](TwinConfig::generation) raised) to the store in one SQLite transaction, then
//! writes `twin.toml`. Killed in between, the store holds the newer file: [`TwinDir::open`]
//! rolls forward to it, so the twin is always the state before or after the import. A build
//! makes a new store beside the old one and renames it over it. Imports and builds hold the
//! folder's writer lock (`.twin.lock`): a second writer waits for the first, then works on the
//! twin as the first left it; readers are never blocked (the store is in WAL mode).

use crate::crs::Crs;
use crate::error::{Result, TwinError};
use crate::import::{import_file, ImportOptions};
use crate::layer::LayerKind;
use crate::model::Imported;
use crate::progress::{NoProgress, Progress};
use crate::store::{Store, StoreLocation, StoreMeta};
use crate::twin::{sync_dir, SourceConfig, Twin, TwinConfig};
use std::path::{Path, PathBuf};

/// The store's file name inside a twin folder.
pub const STORE_FILE: &str = "twin.gpkg";

/// The writer lock's file name inside a twin folder.
pub const LOCK_FILE: &str = ".twin.lock";

/// Held while a process writes the twin (import, build); released when dropped.
#[derive(Debug)]
pub struct WriterLock {
    _file: std::fs::File,
}

/// Fault injection for the crash-safety tests: when `HUETWIN_CRASH_AT` names this point, the
/// process aborts there (as a kill -9 would).
fn crash_point(name: &str) {
    if std::env::var("HUETWIN_CRASH_AT").is_ok_and(|v| v == name) {
        std::process::abort();
    }
}

/// A twin folder.
#[derive(Clone, Debug)]
pub struct TwinDir {
    /// The folder.
    pub dir: PathBuf,
    /// Its `twin.toml`.
    pub config: TwinConfig,
    /// The project CRS from the config.
    pub crs: Crs,
    /// Its store: `twin.gpkg` in the folder unless `twin.toml` or `--store` names another
    /// ([`TwinDir::with_store`]).
    pub store: StoreLocation,
}

/// What one import did.
#[derive(Clone, Debug)]
pub struct ImportReport {
    /// The source file.
    pub path: PathBuf,
    /// Features per layer.
    pub counts: Vec<(LayerKind, usize)>,
    /// The CRS the source was read in.
    pub source_crs: Option<String>,
    /// Notes from the importer.
    pub notes: Vec<String>,
}

impl ImportReport {
    fn new(path: &Path, imp: &Imported) -> ImportReport {
        ImportReport {
            path: path.to_path_buf(),
            counts: imp.counts().into_iter().filter(|(_, n)| *n > 0).collect(),
            source_crs: imp.source_crs.as_ref().map(|c| c.to_string()),
            notes: imp.notes.clone(),
        }
    }
}

impl TwinDir {
    /// Open an existing twin folder: its `twin.toml`, or the newer one its store committed with
    /// the last import when that import was stopped before writing the file (see the module
    /// docs).
    pub fn open(dir: &Path) -> Result<TwinDir> {
        TwinDir::open_at(dir, None)
    }

    /// [`TwinDir::open`] with the store given (a `--store` value: a `postgres://` URL or a
    /// GeoPackage path) rather than the one `twin.toml` names. An import then records it in
    /// `twin.toml` (a URL without its password).
    pub fn with_store(dir: &Path, store: &str) -> Result<TwinDir> {
        TwinDir::open_at(dir, Some(StoreLocation::parse(store, dir)?))
    }

    fn open_at(dir: &Path, store: Option<StoreLocation>) -> Result<TwinDir> {
        let file = dir.join("twin.toml");
        let on_disk = file.exists().then(|| TwinConfig::load(dir)).transpose()?;
        let location = match (&store, on_disk.as_ref().and_then(|c| c.store.as_deref())) {
            (Some(s), _) => s.clone(),
            (None, Some(s)) => StoreLocation::parse(s, dir)?,
            (None, None) => StoreLocation::GeoPackage(dir.join(STORE_FILE)),
        };
        // A store that cannot be read is reported when the twin is loaded; here it only means
        // there is nothing newer to roll forward to.
        let committed = committed_config(&location).unwrap_or_else(|e| {
            tracing::warn!("{location}: {e}");
            None
        });
        let mut config = match (on_disk, committed) {
            (Some(on_disk), Some((gen, cfg))) => {
                if gen > on_disk.generation {
                    cfg
                } else {
                    on_disk
                }
            }
            (None, Some((_, cfg))) => cfg,
            (Some(on_disk), None) => on_disk,
            (None, None) => TwinConfig::load(dir)?,
        };
        if let Some(s) = &store {
            config.store = store_setting(s, dir);
        }
        let crs = Crs::parse(&config.crs)?;
        Ok(TwinDir {
            dir: dir.to_path_buf(),
            config,
            crs,
            store: location,
        })
    }

    /// Take the folder's writer lock, waiting while another process holds it.
    pub fn lock_writer(&self) -> Result<WriterLock> {
        std::fs::create_dir_all(&self.dir).map_err(|e| TwinError::io(&self.dir, e))?;
        let path = self.dir.join(LOCK_FILE);
        let file = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .map_err(|e| TwinError::io(&path, e))?;
        match file.try_lock() {
            Ok(()) => {}
            Err(std::fs::TryLockError::WouldBlock) => {
                tracing::warn!(
                    "{}: another import or build is writing this twin; waiting for it",
                    self.dir.display()
                );
                file.lock().map_err(|e| TwinError::io(&path, e))?;
            }
            Err(std::fs::TryLockError::Error(e)) => return Err(TwinError::io(&path, e)),
        }
        Ok(WriterLock { _file: file })
    }

    /// A new twin folder (refuses one that already has a `twin.toml`). Nothing is written until
    /// the first import succeeds, so a failed first import leaves no half-made twin.
    pub fn create(dir: &Path, name: &str, crs: Crs) -> Result<TwinDir> {
        if dir.join("twin.toml").exists() {
            return Err(TwinError::invalid(
                "twin folder",
                format!("{} already has a twin.toml", dir.display()),
            ));
        }
        if crs.is_geographic() {
            return Err(TwinError::Crs {
                crs: crs.short(),
                message: "the project CRS must be metric, not geographic".into(),
            });
        }
        let config = TwinConfig::new(name, &crs);
        Ok(TwinDir {
            dir: dir.to_path_buf(),
            config,
            crs,
            store: StoreLocation::GeoPackage(dir.join(STORE_FILE)),
        })
    }

    /// [`TwinDir::create`] with its store elsewhere (a `--store` value: a `postgres://` URL or
    /// a GeoPackage path), recorded in `twin.toml` by the first import.
    pub fn create_with_store(dir: &Path, name: &str, crs: Crs, store: &str) -> Result<TwinDir> {
        let mut t = TwinDir::create(dir, name, crs)?;
        t.set_store(StoreLocation::parse(store, dir)?);
        Ok(t)
    }

    /// Use another store from now on (recorded in `twin.toml` by the next import; a URL
    /// without its password).
    pub fn set_store(&mut self, store: StoreLocation) {
        self.config.store = store_setting(&store, &self.dir);
        self.store = store;
    }

    /// The GeoPackage store's path (`twin.gpkg` in the folder, or the file `--store` named);
    /// for a PostgreSQL store, where a GeoPackage would be (see [`TwinDir::store`]).
    pub fn store_path(&self) -> PathBuf {
        match &self.store {
            StoreLocation::GeoPackage(p) => p.clone(),
            StoreLocation::Postgres(_) => self.dir.join(STORE_FILE),
        }
    }

    /// Copy the folder's files (`twin.toml` and the sources beside it; not its store, nor
    /// subfolders such as runs and caches) into `to`, made if needed, and open the copy: a
    /// scratch twin that builds its own store and leaves this one untouched.
    pub fn copy_without_store(&self, to: &Path) -> Result<TwinDir> {
        std::fs::create_dir_all(to).map_err(|e| TwinError::io(to, e))?;
        let rd = std::fs::read_dir(&self.dir).map_err(|e| TwinError::io(&self.dir, e))?;
        for e in rd {
            let e = e.map_err(|e| TwinError::io(&self.dir, e))?;
            let p = e.path();
            let store = e.file_name().to_string_lossy().contains(STORE_FILE);
            if p.is_file() && !store {
                let dest = to.join(e.file_name());
                std::fs::copy(&p, &dest).map_err(|e| TwinError::io(&dest, e))?;
            }
        }
        // The copy builds a store of its own in its folder, never into this twin's database.
        let mut copy = TwinDir::open_at(to, Some(StoreLocation::GeoPackage(to.join(STORE_FILE))))?;
        if copy.config.store.take().is_some() {
            copy.config.save(to)?;
        }
        Ok(copy)
    }

    /// A source's path, resolved against the folder.
    pub fn source_path(&self, s: &SourceConfig) -> PathBuf {
        if s.path.is_absolute() {
            s.path.clone()
        } else {
            self.dir.join(&s.path)
        }
    }

    /// Import options for one source under this twin's config.
    pub fn options(&self, s: &SourceConfig) -> Result<ImportOptions> {
        let mut o = ImportOptions::new(self.crs.clone());
        o.source_crs = s.crs.as_deref().map(Crs::parse).transpose()?;
        o.layer = s.layer;
        o.lod = s.lod.clone();
        o.heights = self.config.heights.clone();
        Ok(o)
    }

    /// Import one source into the store and list it in `twin.toml`, as one step (see the module
    /// docs): the features and the new source list are committed to the store together, then
    /// `twin.toml` is written. Waits for another writer of the folder first.
    pub fn import(
        &mut self,
        source: SourceConfig,
        progress: &dyn Progress,
    ) -> Result<ImportReport> {
        let path = self.source_path(&source);
        let imp = import_file(&path, &self.options(&source)?, progress)?;
        let _lock = self.lock_writer()?;
        // Another writer may have changed the twin while this one parsed.
        // (A GeoPackage committed by an import stopped before writing twin.toml counts too:
        // opening rolls forward to it.)
        let gpkg_exists = matches!(&self.store, StoreLocation::GeoPackage(p) if p.exists());
        if self.dir.join("twin.toml").exists() || gpkg_exists {
            *self = TwinDir::open_at(&self.dir, Some(self.store.clone()))?;
        }
        let mut config = self.config.clone();
        config.generation += 1;
        if !config.sources.iter().any(|s| s.path == source.path) {
            config.sources.push(source);
        }
        let meta = StoreMeta {
            generation: config.generation,
            config_toml: config.to_toml()?,
        };
        let mut store = self.store.open(&self.crs)?;
        crash_point("before-store-commit");
        store.write_with(&imp, Some(&meta))?;
        drop(store);
        crash_point("after-store-commit");
        config.save(&self.dir)?;
        self.config = config;
        Ok(ImportReport::new(&path, &imp))
    }

    /// Re-import every source listed in `twin.toml` into a fresh store. The new store is built
    /// beside the old one and replaces it (an atomic rename, flushed) only when every source
    /// succeeded. Waits for another writer of the folder first.
    pub fn build(&self, progress: &dyn Progress) -> Result<Vec<ImportReport>> {
        let _lock = self.lock_writer()?;
        let me = TwinDir::open_at(&self.dir, Some(self.store.clone()))?;
        if let StoreLocation::Postgres(_) = &me.store {
            // PostgreSQL: every source parsed first, then one transaction replaces the twin
            // (readers see the old one until it commits); the tokens table is left as it is.
            let meta = StoreMeta {
                generation: me.config.generation,
                config_toml: me.config.to_toml()?,
            };
            let mut imps = Vec::new();
            let mut reports = Vec::new();
            for s in &me.config.sources {
                let path = me.source_path(s);
                let imp = import_file(&path, &me.options(s)?, progress)?;
                reports.push(ImportReport::new(&path, &imp));
                imps.push(imp);
            }
            me.store.open(&me.crs)?.replace(&imps, &meta)?;
            return Ok(reports);
        }
        let tmp = me.dir.join(".twin.gpkg.building");
        for stale in [
            tmp.clone(),
            tmp.with_extension("building-wal"),
            tmp.with_extension("building-shm"),
        ] {
            if stale.exists() {
                std::fs::remove_file(&stale).map_err(|e| TwinError::io(&stale, e))?;
            }
        }
        let meta = StoreMeta {
            generation: me.config.generation,
            config_toml: me.config.to_toml()?,
        };
        let result = (|| {
            let mut store = Store::open_or_create(&tmp, &me.crs)?;
            let mut reports = Vec::new();
            let n = me.config.sources.len();
            for (i, s) in me.config.sources.iter().enumerate() {
                let path = me.source_path(s);
                let imp = import_file(&path, &me.options(s)?, progress)?;
                store.write_with(&imp, (i + 1 == n).then_some(&meta))?;
                reports.push(ImportReport::new(&path, &imp));
            }
            drop(store);
            // The server's API tokens live in the store: the new one takes them over before it
            // replaces the old one, under the writer lock.
            let old = me.store_path();
            if old.is_file() {
                let records = crate::tokens::Tokens::open(&old)?.records_all()?;
                if !records.is_empty() {
                    crate::tokens::Tokens::open(&tmp)?.restore(&records)?;
                }
            }
            Ok(reports)
        })();
        match result {
            Ok(r) => {
                let dest = me.store_path();
                std::fs::rename(&tmp, &dest).map_err(|e| TwinError::io(&dest, e))?;
                sync_dir(&me.dir)?;
                Ok(r)
            }
            Err(e) => {
                let _ = std::fs::remove_file(&tmp);
                Err(e)
            }
        }
    }

    /// Open the twin: from its store when it is built, else by importing its sources in memory
    /// (nothing is written). This is the one way to open a twin folder.
    ///
    /// ```no_run
    /// use twin_core::{LayerKind, TwinDir};
    /// let twin = TwinDir::open("data/hue".as_ref())?.load()?;
    /// println!("{} buildings", twin.buildings.len());
    /// let heritage = twin.vector(LayerKind::Heritage).expect("a vector layer");
    /// println!("{} heritage sites", heritage.len());
    /// # Ok::<(), twin_core::TwinError>(())
    /// ```
    pub fn load(&self) -> Result<Twin> {
        if self.store.exists() {
            return self
                .store
                .open(&self.crs)?
                .load(&self.config.name, self.crs.clone());
        }
        let mut twin = Twin::new(&self.config.name, self.crs.clone())?;
        for s in &self.config.sources {
            let opts = self.options(s)?;
            twin.add(import_file(&self.source_path(s), &opts, &NoProgress)?)?;
        }
        Ok(twin)
    }
}

/// What `twin.toml` keeps of a store: nothing for the folder's own `twin.gpkg`, a URL without
/// its password, or another GeoPackage's path.
fn store_setting(store: &StoreLocation, dir: &Path) -> Option<String> {
    match store {
        StoreLocation::Postgres(c) => Some(c.url_without_password()),
        StoreLocation::GeoPackage(p) => {
            (p != &dir.join(STORE_FILE)).then(|| p.display().to_string())
        }
    }
}

/// The generation and `twin.toml` the store committed with its last import, if any.
fn committed_config(store: &StoreLocation) -> Result<Option<(u64, TwinConfig)>> {
    let meta = match store {
        StoreLocation::GeoPackage(p) if p.is_file() => {
            let conn = rusqlite::Connection::open_with_flags(
                p,
                rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY
                    | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX,
            )
            .map_err(|e| TwinError::Store {
                path: p.to_path_buf(),
                message: e.to_string(),
            })?;
            Store::meta_of(&conn, p)?
        }
        StoreLocation::GeoPackage(_) => None,
        StoreLocation::Postgres(c) => crate::store::pg::read_meta(c)?,
    };
    let Some(meta) = meta else {
        return Ok(None);
    };
    let place = std::path::PathBuf::from(format!("{store}/huetwin_meta/twin.toml"));
    let cfg = TwinConfig::parse(&place, &meta.config_toml)?;
    Ok(Some((meta.generation, cfg)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_copy_has_the_files_but_not_the_store() {
        let tmp = tempfile::tempdir().unwrap();
        let (src, dst) = (tmp.path().join("src"), tmp.path().join("copy"));
        std::fs::create_dir_all(src.join("runs")).unwrap();
        TwinConfig::new("t", &Crs::epsg(32648).unwrap())
            .save(&src)
            .unwrap();
        for f in [
            "roads.geojson",
            STORE_FILE,
            ".twin.gpkg.building",
            "runs/run.json",
        ] {
            std::fs::write(src.join(f), f).unwrap();
        }
        let copy = TwinDir::open(&src)
            .unwrap()
            .copy_without_store(&dst)
            .unwrap();
        assert_eq!(copy.config.name, "t");
        let mut names: Vec<String> = std::fs::read_dir(&dst)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().to_string())
            .collect();
        names.sort();
        assert_eq!(names, ["roads.geojson", "twin.toml"]);
        assert_eq!(
            std::fs::read_to_string(dst.join("roads.geojson")).unwrap(),
            "roads.geojson"
        );
    }
}
