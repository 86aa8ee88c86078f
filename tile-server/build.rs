//! Embeds the web viewer in the library: `web/index.html`, `viewer.js`, `viewer.css`, the
//! modules in `web/js/`, the npm libraries in `web/vendor/lib/` and
//! CesiumJS's build (`web/vendor/cesium`, put there by `scripts/setup.sh`), each gzipped here
//! once, so a `twin` binary serves its viewer from any folder or machine (`src/web.rs`).
//! Without `web/vendor/cesium` (no `npm ci` yet) only the viewer's own files are embedded and
//! cargo prints a warning; `twin serve --web-dir` can still point at a folder.

use std::io::Write;
use std::path::{Path, PathBuf};

/// CesiumJS files the viewer never fetches: the ES-module and CommonJS bundles (it loads
/// `Cesium.js` by a script tag).
const SKIP: [&str; 2] = ["index.js", "index.cjs"];

fn files(dir: &Path, rel: &str, out: &mut Vec<(String, PathBuf)>) {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return;
    };
    let mut entries: Vec<_> = rd.filter_map(|e| e.ok()).collect();
    entries.sort_by_key(|e| e.file_name());
    for e in entries {
        let name = e.file_name().to_string_lossy().to_string();
        let path = e.path();
        let r = if rel.is_empty() {
            name.clone()
        } else {
            format!("{rel}/{name}")
        };
        if path.is_dir() {
            files(&path, &r, out);
        } else {
            let skipped = rel.is_empty() && SKIP.contains(&name.as_str());
            if !skipped && !name.ends_with(".map") {
                out.push((r, path));
            }
        }
    }
}

fn main() {
    let manifest = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").expect("cargo sets it"));
    let web = manifest.join("../web");
    let out = PathBuf::from(std::env::var("OUT_DIR").expect("cargo sets it"));
    let gz_dir = out.join("web");
    std::fs::create_dir_all(&gz_dir).expect("OUT_DIR is writable");
    let mut list: Vec<(String, PathBuf)> = ["index.html", "viewer.js", "viewer.css"]
        .iter()
        .map(|n| (n.to_string(), web.join(n)))
        .collect();
    for (_, p) in &list {
        println!("cargo:rerun-if-changed={}", p.display());
    }
    // The viewer's own modules (`web/js/`, one file per panel or layer) and small npm
    // libraries copied to `web/vendor/lib/` by `web/copy-cesium.mjs` (served under `/lib/`).
    for (dir, prefix) in [(web.join("js"), "js"), (web.join("vendor/lib"), "lib")] {
        println!("cargo:rerun-if-changed={}", dir.display());
        let start = list.len();
        files(&dir, "", &mut list);
        for (rel, _) in list.iter_mut().skip(start) {
            *rel = format!("{prefix}/{rel}");
        }
    }
    let cesium = web.join("vendor/cesium");
    println!("cargo:rerun-if-changed={}", cesium.display());
    let before = list.len();
    files(&cesium, "", &mut list);
    for (rel, _) in list.iter_mut().skip(before) {
        *rel = format!("cesium/{rel}");
    }
    if list.len() == before {
        println!(
            "cargo:warning=web/vendor/cesium is missing: the binary embeds no CesiumJS (run scripts/setup.sh, which runs npm ci --prefix web, then rebuild; or serve with --web-dir)"
        );
    }
    let mut table = String::from("&[\n");
    for (i, (rel, path)) in list.iter().enumerate() {
        let raw = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let gz_path = gz_dir.join(format!("{i}.gz"));
        let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
        enc.write_all(&raw).expect("gzip in memory");
        let gz = enc.finish().expect("gzip in memory");
        // Write only when changed, so the library is not rebuilt for nothing.
        if std::fs::read(&gz_path).ok().as_deref() != Some(&gz[..]) {
            std::fs::write(&gz_path, &gz).expect("OUT_DIR is writable");
        }
        table.push_str(&format!(
            "    ({rel:?}, {}, include_bytes!({:?})),\n",
            raw.len(),
            gz_path.display().to_string()
        ));
    }
    table.push(']');
    std::fs::write(out.join("web_assets.rs"), table).expect("OUT_DIR is writable");
}
