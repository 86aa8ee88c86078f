//! Object storage for run outputs and cached tiles: one interface over the `object_store`
//! crate, a local folder by default or any S3-compatible service (docs/adr/0029).
//!
//! URLs ([`Objects::open`]):
//!
//! * a path, or `file:///abs/path`: a local folder (made when missing);
//! * `s3://bucket[/prefix]?endpoint=http://127.0.0.1:9000&region=us-east-1`: an S3 bucket.
//!   Credentials come from the usual `AWS_ACCESS_KEY_ID` / `AWS_SECRET_ACCESS_KEY`
//!   environment; plain-HTTP endpoints need `AWS_ALLOW_HTTP=true` (or `allow_http=true` in the
//!   URL); requests are path-style unless `virtual_hosted=true`.
//!
//! Keys are `/`-separated relative paths (`runs/<id>/a1/impacts.json`,
//! `tiles/<version>/buildings/0.glb`); [`Objects::key`] checks them.
//!
//! The methods are `async`; the job runner's threads call them through [`Objects::blocking`],
//! which owns a small runtime of its own.

use crate::error::{Result, ScenarioError};
use futures_util::TryStreamExt;
use object_store::aws::AmazonS3Builder;
use object_store::local::LocalFileSystem;
use object_store::path::Path as ObjPath;
use object_store::{ObjectStore, ObjectStoreExt, PutPayload};
use std::path::Path;
use std::sync::Arc;

/// Largest object read whole into memory (a run's GeoTIFF of the whole city is a few MB).
pub const MAX_OBJECT_BYTES: u64 = 512 << 20;

/// A place for objects: a local folder or an S3-compatible bucket.
#[derive(Clone, Debug)]
pub struct Objects {
    store: Arc<dyn ObjectStore>,
    /// Key prefix inside the bucket (`s3://bucket/prefix`), empty for none.
    prefix: String,
    /// The URL as given, without its query (no secrets are taken from URLs).
    url: String,
}

impl std::fmt::Display for Objects {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.url)
    }
}

/// `a=b&c=d` → pairs (percent-decoding only `%3A`, `%2F`, the characters endpoint URLs hold).
fn query_pairs(q: &str) -> Vec<(String, String)> {
    q.split('&')
        .filter(|s| !s.is_empty())
        .map(|kv| {
            let (k, v) = kv.split_once('=').unwrap_or((kv, ""));
            let dec = |s: &str| {
                s.replace("%3A", ":")
                    .replace("%3a", ":")
                    .replace("%2F", "/")
                    .replace("%2f", "/")
            };
            (dec(k), dec(v))
        })
        .collect()
}

/// Installs rustls' ring crypto provider for the process, once; a provider already installed
/// is kept. reqwest is built without a provider of its own (its `rustls-no-provider` feature,
/// which cargo unifies for the whole build), so any `reqwest::Client` in the process (object
/// storage over HTTPS here, the server's tests and examples) needs one installed first.
/// Deprecated in rustls 0.23.48 for lacking post-quantum key exchange, which the aws-lc-rs
/// provider (a cmake build) would bring.
pub fn install_tls_provider() {
    #[allow(deprecated)]
    let _ = rustls::crypto::ring::default_provider().install_default();
}

impl Objects {
    /// Opens the store at `url` (see the module's documentation).
    pub fn open(url: &str) -> Result<Objects> {
        install_tls_provider();
        let err = |m: String| ScenarioError::Objects {
            store: url.split('?').next().unwrap_or(url).to_string(),
            key: String::new(),
            message: m,
        };
        if let Some(rest) = url.strip_prefix("s3://") {
            let (loc, query) = rest.split_once('?').unwrap_or((rest, ""));
            let (bucket, prefix) = loc.split_once('/').unwrap_or((loc, ""));
            if bucket.is_empty() {
                return Err(err("no bucket name (s3://BUCKET?endpoint=...)".into()));
            }
            let mut b = AmazonS3Builder::from_env()
                .with_bucket_name(bucket)
                .with_virtual_hosted_style_request(false);
            let mut region = std::env::var("AWS_REGION")
                .or_else(|_| std::env::var("AWS_DEFAULT_REGION"))
                .unwrap_or_else(|_| "us-east-1".into());
            for (k, v) in query_pairs(query) {
                match k.as_str() {
                    "endpoint" => b = b.with_endpoint(v),
                    "region" => region = v,
                    "allow_http" => b = b.with_allow_http(v == "true"),
                    "virtual_hosted" => b = b.with_virtual_hosted_style_request(v == "true"),
                    other => {
                        return Err(err(format!(
                        "unknown option {other:?} (endpoint, region, allow_http, virtual_hosted)"
                    )))
                    }
                }
            }
            let store = b
                .with_region(region)
                .build()
                .map_err(|e| err(e.to_string()))?;
            return Ok(Objects {
                store: Arc::new(store),
                prefix: prefix.trim_matches('/').to_string(),
                url: url.split('?').next().unwrap_or(url).to_string(),
            });
        }
        let path = url.strip_prefix("file://").unwrap_or(url);
        if path.contains("://") {
            return Err(err(
                "not a folder, file:// or s3:// URL (the S3 backend speaks s3://)".into(),
            ));
        }
        Objects::local(Path::new(path))
    }

    /// A local folder (made when missing).
    pub fn local(dir: &Path) -> Result<Objects> {
        std::fs::create_dir_all(dir).map_err(|e| ScenarioError::io(dir, e))?;
        let store = LocalFileSystem::new_with_prefix(dir).map_err(|e| ScenarioError::Objects {
            store: dir.display().to_string(),
            key: String::new(),
            message: e.to_string(),
        })?;
        Ok(Objects {
            store: Arc::new(store),
            prefix: String::new(),
            url: dir.display().to_string(),
        })
    }

    fn err(&self, key: &str, e: impl ToString) -> ScenarioError {
        ScenarioError::Objects {
            store: self.url.clone(),
            key: key.to_string(),
            message: e.to_string(),
        }
    }

    /// The store path of `key`: checked (no empty, `.` or `..` parts, no backslashes) and
    /// under the URL's prefix.
    pub fn key(&self, key: &str) -> Result<ObjPath> {
        let ok = !key.is_empty()
            && !key.contains('\\')
            && key
                .split('/')
                .all(|p| !p.is_empty() && p != "." && p != ".." && !p.starts_with(".tmp"));
        if !ok {
            return Err(self.err(key, "not an object key"));
        }
        let full = if self.prefix.is_empty() {
            key.to_string()
        } else {
            format!("{}/{key}", self.prefix)
        };
        ObjPath::parse(&full).map_err(|e| self.err(key, e))
    }

    /// Stores `bytes` at `key`, replacing what was there (whole-object: readers see the old
    /// or the new object, never part of one).
    pub async fn put(&self, key: &str, bytes: Vec<u8>) -> Result<()> {
        let p = self.key(key)?;
        self.store
            .put(&p, PutPayload::from(bytes))
            .await
            .map(|_| ())
            .map_err(|e| self.err(key, e))
    }

    /// The object at `key`; None when there is none.
    pub async fn get(&self, key: &str) -> Result<Option<Vec<u8>>> {
        let p = self.key(key)?;
        match self.store.get(&p).await {
            Ok(r) => {
                if r.meta.size > MAX_OBJECT_BYTES {
                    return Err(self.err(
                        key,
                        format!("{} bytes, over {MAX_OBJECT_BYTES}", r.meta.size),
                    ));
                }
                let b = r.bytes().await.map_err(|e| self.err(key, e))?;
                Ok(Some(b.to_vec()))
            }
            Err(object_store::Error::NotFound { .. }) => Ok(None),
            Err(e) => Err(self.err(key, e)),
        }
    }

    /// The keys under `prefix` (relative to the URL's prefix), sorted.
    pub async fn list(&self, prefix: &str) -> Result<Vec<String>> {
        let p = self.key(prefix)?;
        let metas: Vec<object_store::ObjectMeta> = self
            .store
            .list(Some(&p))
            .try_collect()
            .await
            .map_err(|e| self.err(prefix, e))?;
        let strip = if self.prefix.is_empty() {
            String::new()
        } else {
            format!("{}/", self.prefix)
        };
        let mut keys: Vec<String> = metas
            .into_iter()
            .map(|m| {
                let s = m.location.to_string();
                s.strip_prefix(&strip).unwrap_or(&s).to_string()
            })
            .collect();
        keys.sort();
        Ok(keys)
    }

    /// Deletes every object under `prefix`; returns how many.
    pub async fn delete_prefix(&self, prefix: &str) -> Result<usize> {
        let keys = self.list(prefix).await?;
        for k in &keys {
            let p = self.key(k)?;
            match self.store.delete(&p).await {
                Ok(()) | Err(object_store::Error::NotFound { .. }) => {}
                Err(e) => return Err(self.err(k, e)),
            }
        }
        Ok(keys.len())
    }

    /// Uploads the files of folder `dir` (recursively; names starting with `.` skipped: locks
    /// and temporary files) under `prefix`; returns the keys written, sorted.
    pub async fn put_dir(&self, prefix: &str, dir: &Path) -> Result<Vec<String>> {
        let mut out = Vec::new();
        let mut stack = vec![(dir.to_path_buf(), prefix.to_string())];
        while let Some((d, pre)) = stack.pop() {
            let rd = std::fs::read_dir(&d).map_err(|e| ScenarioError::io(&d, e))?;
            for e in rd {
                let e = e.map_err(|e| ScenarioError::io(&d, e))?;
                let name = e.file_name().to_string_lossy().to_string();
                if name.starts_with('.') {
                    continue;
                }
                let key = format!("{pre}/{name}");
                let ft = e
                    .file_type()
                    .map_err(|er| ScenarioError::io(e.path(), er))?;
                if ft.is_dir() {
                    stack.push((e.path(), key));
                } else if ft.is_file() {
                    let bytes = tokio::fs::read(e.path())
                        .await
                        .map_err(|er| ScenarioError::io(e.path(), er))?;
                    self.put(&key, bytes).await?;
                    out.push(key);
                }
            }
        }
        out.sort();
        Ok(out)
    }

    /// Downloads every object under `prefix` into folder `dir` (the keys' remainders as
    /// relative paths); returns how many files.
    pub async fn get_dir(&self, prefix: &str, dir: &Path) -> Result<usize> {
        let keys = self.list(prefix).await?;
        for k in &keys {
            let rel = k
                .strip_prefix(prefix)
                .unwrap_or(k)
                .trim_start_matches('/')
                .to_string();
            let to = dir.join(&rel);
            let Some(bytes) = self.get(k).await? else {
                continue;
            };
            if let Some(parent) = to.parent() {
                std::fs::create_dir_all(parent).map_err(|e| ScenarioError::io(parent, e))?;
            }
            static PART: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
            let n = PART.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            let tmp = to.with_extension(format!("part{}-{n}", std::process::id()));
            std::fs::write(&tmp, &bytes).map_err(|e| ScenarioError::io(&tmp, e))?;
            std::fs::rename(&tmp, &to).map_err(|e| ScenarioError::io(&to, e))?;
        }
        Ok(keys.len())
    }

    /// This store for synchronous callers (the job runner's threads): each call runs on a
    /// runtime of its own. Not for use inside an async task.
    pub fn blocking(&self) -> Result<BlockingObjects> {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| self.err("", format!("starting a runtime: {e}")))?;
        Ok(BlockingObjects {
            objects: self.clone(),
            rt,
        })
    }
}

/// [`Objects`] with blocking methods ([`Objects::blocking`]).
pub struct BlockingObjects {
    objects: Objects,
    rt: tokio::runtime::Runtime,
}

impl BlockingObjects {
    /// The store.
    pub fn objects(&self) -> &Objects {
        &self.objects
    }

    /// [`Objects::put`].
    pub fn put(&self, key: &str, bytes: Vec<u8>) -> Result<()> {
        self.rt.block_on(self.objects.put(key, bytes))
    }

    /// [`Objects::get`].
    pub fn get(&self, key: &str) -> Result<Option<Vec<u8>>> {
        self.rt.block_on(self.objects.get(key))
    }

    /// [`Objects::list`].
    pub fn list(&self, prefix: &str) -> Result<Vec<String>> {
        self.rt.block_on(self.objects.list(prefix))
    }

    /// [`Objects::delete_prefix`].
    pub fn delete_prefix(&self, prefix: &str) -> Result<usize> {
        self.rt.block_on(self.objects.delete_prefix(prefix))
    }

    /// [`Objects::put_dir`].
    pub fn put_dir(&self, prefix: &str, dir: &Path) -> Result<Vec<String>> {
        self.rt.block_on(self.objects.put_dir(prefix, dir))
    }

    /// [`Objects::get_dir`].
    pub fn get_dir(&self, prefix: &str, dir: &Path) -> Result<usize> {
        self.rt.block_on(self.objects.get_dir(prefix, dir))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A local folder: put, get, list, put_dir/get_dir round trip, delete; keys checked.
    #[test]
    fn local_folder_round_trip() {
        let tmp = tempfile::tempdir().unwrap();
        let o = Objects::open(tmp.path().join("objs").to_str().unwrap()).unwrap();
        let b = o.blocking().unwrap();
        b.put("runs/r1/a1/impacts.json", b"{}".to_vec()).unwrap();
        b.put("runs/r1/a1/sub/x.csv", b"a,b\n1,2\n".to_vec())
            .unwrap();
        b.put("runs/r2/a1/y.csv", b"y".to_vec()).unwrap();
        assert_eq!(b.get("runs/r1/a1/impacts.json").unwrap().unwrap(), b"{}");
        assert_eq!(b.get("runs/r1/a1/none.json").unwrap(), None);
        assert_eq!(
            b.list("runs/r1").unwrap(),
            vec!["runs/r1/a1/impacts.json", "runs/r1/a1/sub/x.csv"]
        );
        let out = tmp.path().join("out");
        assert_eq!(b.get_dir("runs/r1/a1", &out).unwrap(), 2);
        assert_eq!(std::fs::read(out.join("sub/x.csv")).unwrap(), b"a,b\n1,2\n");
        std::fs::write(out.join(".lock"), b"").unwrap();
        let keys = b.put_dir("copy", &out).unwrap();
        assert_eq!(keys, vec!["copy/impacts.json", "copy/sub/x.csv"]);
        assert_eq!(b.delete_prefix("runs/r1").unwrap(), 2);
        assert!(b.list("runs/r1").unwrap().is_empty());
        assert_eq!(b.list("runs").unwrap(), vec!["runs/r2/a1/y.csv"]);
        for bad in ["", "../x", "a//b", "a/./b", "a\\b", "/abs"] {
            assert!(o.key(bad).is_err(), "{bad:?}");
        }
        assert!(Objects::open("s3://?endpoint=http://127.0.0.1:1").is_err());
        assert!(Objects::open("gs://bucket").is_err());
    }
}
