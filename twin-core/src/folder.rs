//! A twin on disk: a folder with `twin.toml`, its sources and the GeoPackage store `twin.gpkg`
//! (later also a tile cache and scenario results).

use crate::crs::Crs;
use crate::error::{Result, TwinError};
use crate::import::{import_file, ImportOptions};
use crate::layer::LayerKind;
use crate::model::Imported;
use crate::progress::{NoProgress, Progress};
use crate::store::Store;
use crate::twin::{SourceConfig, Twin, TwinConfig};
use std::path::{Path, PathBuf};

/// The store's file name inside a twin folder.
pub const STORE_FILE: &str = "twin.gpkg";

/// A twin folder.
#[derive(Clone, Debug)]
pub struct TwinDir {
    /// The folder.
    pub dir: PathBuf,
    /// Its `twin.toml`.
    pub config: TwinConfig,
    /// The project CRS from the config.
    pub crs: Crs,
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
    /// Open an existing twin folder (its `twin.toml` must exist).
    pub fn open(dir: &Path) -> Result<TwinDir> {
        let config = TwinConfig::load(dir)?;
        let crs = Crs::parse(&config.crs)?;
        Ok(TwinDir {
            dir: dir.to_path_buf(),
            config,
            crs,
        })
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
        })
    }

    /// The store's path.
    pub fn store_path(&self) -> PathBuf {
        self.dir.join(STORE_FILE)
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
        TwinDir::open(to)
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

    /// Import one source into the store (one transaction) and list it in `twin.toml`.
    pub fn import(
        &mut self,
        source: SourceConfig,
        progress: &dyn Progress,
    ) -> Result<ImportReport> {
        let path = self.source_path(&source);
        let imp = import_file(&path, &self.options(&source)?, progress)?;
        std::fs::create_dir_all(&self.dir).map_err(|e| TwinError::io(&self.dir, e))?;
        let mut store = Store::open_or_create(&self.store_path(), &self.crs)?;
        store.write(&imp)?;
        let report = ImportReport::new(&path, &imp);
        if !self.config.sources.iter().any(|s| s.path == source.path) {
            self.config.sources.push(source);
        }
        self.config.save(&self.dir)?;
        Ok(report)
    }

    /// Re-import every source listed in `twin.toml` into a fresh store. The new store is built
    /// beside the old one and replaces it only when every source succeeded.
    pub fn build(&self, progress: &dyn Progress) -> Result<Vec<ImportReport>> {
        let tmp = self.dir.join(".twin.gpkg.building");
        if tmp.exists() {
            std::fs::remove_file(&tmp).map_err(|e| TwinError::io(&tmp, e))?;
        }
        let result = (|| {
            let mut store = Store::open_or_create(&tmp, &self.crs)?;
            let mut reports = Vec::new();
            for s in &self.config.sources {
                let path = self.source_path(s);
                let imp = import_file(&path, &self.options(s)?, progress)?;
                store.write(&imp)?;
                reports.push(ImportReport::new(&path, &imp));
            }
            Ok(reports)
        })();
        match result {
            Ok(r) => {
                let dest = self.store_path();
                std::fs::rename(&tmp, &dest).map_err(|e| TwinError::io(&dest, e))?;
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
        let p = self.store_path();
        if p.exists() {
            return Store::open_or_create(&p, &self.crs)?.load(&self.config.name, self.crs.clone());
        }
        let mut twin = Twin::new(&self.config.name, self.crs.clone())?;
        for s in &self.config.sources {
            let opts = self.options(s)?;
            twin.add(import_file(&self.source_path(s), &opts, &NoProgress)?)?;
        }
        Ok(twin)
    }
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
