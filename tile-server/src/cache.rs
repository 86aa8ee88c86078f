//! The tile cache: an LRU in memory (bounded by bytes, [`quick_cache`]), then files on disk
//! under the twin folder (`<twin>/cache/tiles/<source version>/<path>`) or object storage
//! (`tiles/<source version>/<path>`, [`TileCache::with_objects`]), then the
//! [`TileSource`]. Concurrent requests for the same missing file wait for one producer.

use super::body::{CacheTier, CachedFile};
use super::error::ApiError;
use super::source::{TilePath, TileSource};
use quick_cache::sync::Cache;
use quick_cache::Weighter;
use std::path::{Path, PathBuf};
use std::sync::Arc;

#[derive(Clone)]
struct ByBytes;

impl Weighter<String, Arc<CachedFile>> for ByBytes {
    fn weight(&self, key: &String, val: &Arc<CachedFile>) -> u64 {
        (key.len() + val.bytes.len() + 64) as u64
    }
}

/// Memory LRU, then disk, then the source.
pub struct TileCache {
    memory: Cache<String, Arc<CachedFile>, ByBytes>,
    disk: Option<PathBuf>,
    /// Object storage in place of the disk (`tiles/<version>/<path>`), shared by replicas.
    objects: Option<(scenarios::objects::Objects, String)>,
    source: Arc<dyn TileSource>,
    /// Bounds the tiles produced at once (one per core), so a burst of cold requests cannot
    /// start hundreds of generators.
    producers: tokio::sync::Semaphore,
    /// The source version, made safe for paths.
    version: String,
    /// Background writes (disk or object storage) not yet done, and a signal when one ends.
    writes: Arc<(std::sync::atomic::AtomicUsize, tokio::sync::Notify)>,
}

/// Counts a background write as pending until dropped.
struct Write(Arc<(std::sync::atomic::AtomicUsize, tokio::sync::Notify)>);

impl Write {
    fn start(w: &Arc<(std::sync::atomic::AtomicUsize, tokio::sync::Notify)>) -> Write {
        w.0.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        Write(w.clone())
    }
}

impl Drop for Write {
    fn drop(&mut self) {
        self.0 .0.fetch_sub(1, std::sync::atomic::Ordering::SeqCst);
        self.0 .1.notify_waiters();
    }
}

impl TileCache {
    /// A cache of at most `memory_bytes` in memory, with files under `disk_root/<version>/`
    /// when `disk_root` is given, in front of `source`.
    pub fn new(
        source: Arc<dyn TileSource>,
        memory_bytes: u64,
        disk_root: Option<&Path>,
    ) -> TileCache {
        let version: String = source
            .version()
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.' {
                    c
                } else {
                    '_'
                }
            })
            .collect();
        TileCache {
            memory: Cache::with_weighter(4096, memory_bytes.max(1), ByBytes),
            disk: disk_root.map(|d| d.join(&version)),
            objects: None,
            version,
            source,
            producers: tokio::sync::Semaphore::new(
                std::thread::available_parallelism().map_or(2, |n| n.get()),
            ),
            writes: Arc::default(),
        }
    }

    /// Waits until every file produced so far is stored (the disk or object-storage writes
    /// run in the background); a command that ends after producing, as `twin basemap export`
    /// does, calls it so that no tile it drew is lost to the next run.
    pub async fn flush(&self) {
        loop {
            let signal = self.writes.1.notified();
            if self.writes.0.load(std::sync::atomic::Ordering::SeqCst) == 0 {
                return;
            }
            signal.await;
        }
    }

    /// At most `n` files produced at once (at least one); by default one per core.
    pub fn with_producers(mut self, n: usize) -> TileCache {
        self.producers = tokio::sync::Semaphore::new(n.max(1));
        self
    }

    /// The disk folder of this source version, if any.
    pub fn disk_dir(&self) -> Option<&Path> {
        self.disk.as_deref()
    }

    /// Tiles kept in object storage (`tiles/<source version>/<path>`) instead of on disk:
    /// replicas share what any of them produced.
    pub fn with_objects(mut self, objects: scenarios::objects::Objects) -> TileCache {
        let prefix = format!("tiles/{}", self.version);
        self.objects = Some((objects, prefix));
        self.disk = None;
        self
    }

    /// Bytes held in memory.
    pub fn memory_bytes(&self) -> u64 {
        self.memory.weight()
    }

    /// The file at `path` with where it came from; `None` when the source has no such file.
    pub async fn get_or_produce(
        &self,
        path: &TilePath,
    ) -> Result<(Option<Arc<CachedFile>>, CacheTier), ApiError> {
        let key = path.relative();
        let guard = match self.memory.get_value_or_guard_async(&key).await {
            Ok(v) => return Ok((Some(v), CacheTier::Memory)),
            Err(g) => g,
        };
        let ct = path.content_type();
        if let Some((o, prefix)) = &self.objects {
            match o.get(&format!("{prefix}/{key}")).await {
                Ok(Some(bytes)) => {
                    let f = Arc::new(CachedFile::new(bytes, ct));
                    let _ = guard.insert(f.clone());
                    return Ok((Some(f), CacheTier::Disk));
                }
                Ok(None) => {}
                Err(e) => tracing::warn!("tile cache: {e}"),
            }
        }
        if let Some(dir) = &self.disk {
            let file = dir.join(&key);
            if let Ok(bytes) = tokio::fs::read(&file).await {
                let f = Arc::new(CachedFile::new(bytes, ct));
                let _ = guard.insert(f.clone());
                return Ok((Some(f), CacheTier::Disk));
            }
        }
        let _permit = self
            .producers
            .acquire()
            .await
            .map_err(|e| ApiError::internal(format!("tile producers: {e}")))?;
        let source = self.source.clone();
        let p = path.clone();
        let produced = tokio::task::spawn_blocking(move || source.produce(&p))
            .await
            .map_err(|e| ApiError::internal(format!("producing {key}: {e}")))??;
        let Some(bytes) = produced else {
            return Ok((None, CacheTier::Produced));
        };
        if let Some((o, prefix)) = &self.objects {
            let (o, k, bytes) = (o.clone(), format!("{prefix}/{key}"), bytes.clone());
            let pending = Write::start(&self.writes);
            // Stored in the background; a failed write only costs a later regeneration.
            tokio::spawn(async move {
                let _pending = pending;
                if let Err(e) = o.put(&k, bytes).await {
                    tracing::warn!("tile cache: {e}");
                }
            });
        }
        if let Some(dir) = &self.disk {
            let file = dir.join(&key);
            let bytes = bytes.clone();
            let pending = Write::start(&self.writes);
            // Written in the background; a failed write only costs a later regeneration.
            tokio::task::spawn_blocking(move || {
                let _pending = pending;
                if let Err(e) = write_atomic(&file, &bytes) {
                    tracing::warn!("tile cache: cannot write {}: {e}", file.display());
                }
            });
        }
        let f = Arc::new(CachedFile::new(bytes, ct));
        let _ = guard.insert(f.clone());
        Ok((Some(f), CacheTier::Produced))
    }
}

/// Write a file through a temporary name and a rename, so readers never see half a file.
fn write_atomic(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let tmp = path.with_extension(format!(
        "tmp{}-{:?}",
        std::process::id(),
        std::thread::current().id()
    ));
    std::fs::write(&tmp, bytes)?;
    std::fs::rename(&tmp, path).inspect_err(|_| {
        let _ = std::fs::remove_file(&tmp);
    })
}
