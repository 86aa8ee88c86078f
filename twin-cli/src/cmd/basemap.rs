//! `twin basemap export <twin> --out <DIR | FILE.mbtiles>`: the twin's own basemap (raster
//! XYZ tiles, ADR 0022) written to a folder (`z/x/y.png`) or to one MBTiles 1.3 file, for
//! static hosting or offline viewers (QGIS, GDAL, MapLibre).
//!
//! The tiles are the server's bytes: they are asked of the same tile cache the server puts in
//! front of the basemap (`tile_server::basemap::BasemapState`, keyed by the twin's fingerprint
//! and the drawing's version, files under `<twin>/cache/tiles/`), drawn by the same drawer
//! (`renderer::basemap::Drawer`). An export therefore warms `twin serve`'s cache, and a second
//! export, or one after serving, reads the tiles drawn before.

use super::bar;
use anyhow::{bail, Context, Result};
use clap::Subcommand;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use tile_server::basemap::BasemapState;
use tile_server::body::CacheTier;
use tile_server::source::TilePath;
use twin_core::xyz::{mercator::MAX_LAT, TileId, MAX_ZOOM, MIN_ZOOM};
use twin_core::{Progress, TwinDir};

/// Most tiles an export draws unless `--max-tiles` says otherwise.
pub const DEFAULT_MAX_TILES: u64 = 100_000;

/// Tiles asked of the cache at once (it draws at most `tile_server::basemap::MAX_RENDERS` of
/// them at a time; the others wait there or come from the disk cache).
const IN_FLIGHT: usize = 4;

/// Memory the export's tile cache may hold (tiles are written out as they come).
const MEMORY_BYTES: u64 = 32 << 20;

/// The `twin basemap` subcommands.
#[derive(Subcommand)]
pub enum BasemapCmd {
    /// Write the twin's basemap tiles (PNG, Web Mercator XYZ) to a folder (DIR/z/x/y.png, or
    /// y@2x.png with --scale 2) or to an MBTiles 1.3 file (when --out ends in .mbtiles).
    Export(ExportArgs),
}

/// The arguments of `twin basemap export`.
#[derive(clap::Args)]
pub struct ExportArgs {
    /// The twin folder.
    pub twin: PathBuf,
    /// Where to write: a folder, or a file ending in .mbtiles (replaced if it exists).
    #[arg(long)]
    pub out: PathBuf,
    /// Zoom levels, `a-b` or one level, within 10-19.
    #[arg(long, default_value = "12-16")]
    pub zoom: String,
    /// WGS84 box lon0,lat0,lon1,lat1 (west, south, east, north); default the twin's extent.
    /// Only the part over the twin is exported.
    #[arg(long, allow_hyphen_values = true)]
    pub bbox: Option<String>,
    /// 1 for 256-pixel tiles, 2 for 512-pixel (`@2x`) tiles.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u8).range(1..=2))]
    pub scale: u8,
    /// Refuse an export of more tiles than this.
    #[arg(long, default_value_t = DEFAULT_MAX_TILES)]
    pub max_tiles: u64,
}

/// Runs a `twin basemap` subcommand.
pub fn run(cmd: BasemapCmd) -> Result<()> {
    match cmd {
        BasemapCmd::Export(a) => export(&a),
    }
}

/// `a-b` or `a`, each within the basemap's zooms, `a <= b`.
fn zoom_range(s: &str) -> Result<(u8, u8)> {
    let bad = || {
        anyhow::anyhow!(
            "--zoom {s:?}: expected a zoom or a range a-b of zooms within {MIN_ZOOM}-{MAX_ZOOM}, a <= b"
        )
    };
    let (a, b) = match s.split_once('-') {
        Some((a, b)) => (a.trim(), b.trim()),
        None => (s.trim(), s.trim()),
    };
    let a: u8 = a.parse().map_err(|_| bad())?;
    let b: u8 = b.parse().map_err(|_| bad())?;
    if a > b || a < MIN_ZOOM || b > MAX_ZOOM {
        return Err(bad());
    }
    Ok((a, b))
}

/// A WGS84 box on the Web Mercator world: finite, west < east, south < north, longitudes
/// within ±180°, latitudes within ±85.0511° (the square world of the XYZ scheme).
fn parse_bbox(s: &str) -> Result<[f64; 4]> {
    let v = super::numbers(s, 4, "--bbox")?;
    let b = [v[0], v[1], v[2], v[3]];
    if b[0] < -180.0 || b[2] > 180.0 || b[1] < -MAX_LAT || b[3] > MAX_LAT {
        bail!(
            "--bbox {s}: outside the Web Mercator world (longitudes -180..180, latitudes -{MAX_LAT:.4}..{MAX_LAT:.4})"
        );
    }
    if b[0] >= b[2] || b[1] >= b[3] {
        bail!("--bbox {s}: expected lon0,lat0,lon1,lat1 with lon0 < lon1 and lat0 < lat1");
    }
    Ok(b)
}

/// The tiles of zooms `z0..=z1` over `bbox`, zoom by zoom, rows then columns.
fn plan(bbox: [f64; 4], (z0, z1): (u8, u8)) -> Vec<TileId> {
    (z0..=z1).flat_map(|z| TileId::covering(bbox, z)).collect()
}

/// Where the tiles go.
enum Sink {
    /// `dir/z/x/y.png` (`y@2x.png` at scale 2): the server's URL paths below `/basemap/`.
    Folder { dir: PathBuf, scale: u8 },
    /// An MBTiles file written under a temporary name, renamed to `path` when complete.
    MbTiles {
        /// Taken when the file is finished.
        conn: Option<rusqlite::Connection>,
        tmp: PathBuf,
        path: PathBuf,
    },
}

/// MBTiles 1.3 tables (<https://github.com/mapbox/mbtiles-spec/blob/master/1.3/spec.md>).
const MBTILES_SCHEMA: &str = "
    CREATE TABLE metadata (name TEXT, value TEXT);
    CREATE UNIQUE INDEX metadata_name ON metadata (name);
    CREATE TABLE tiles (zoom_level INTEGER, tile_column INTEGER, tile_row INTEGER, tile_data BLOB);
    CREATE UNIQUE INDEX tile_index ON tiles (zoom_level, tile_column, tile_row);
";

impl Sink {
    fn open(out: &Path, scale: u8) -> Result<Sink> {
        let is_mbtiles = out
            .extension()
            .is_some_and(|e| e.eq_ignore_ascii_case("mbtiles"));
        if !is_mbtiles {
            std::fs::create_dir_all(out)
                .with_context(|| format!("--out {}: cannot create the folder", out.display()))?;
            return Ok(Sink::Folder {
                dir: out.to_path_buf(),
                scale,
            });
        }
        if out.is_dir() {
            bail!("--out {}: is a folder, not an .mbtiles file", out.display());
        }
        if let Some(parent) = out.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent).with_context(|| {
                format!(
                    "--out {}: cannot create the folder {}",
                    out.display(),
                    parent.display()
                )
            })?;
        }
        let mut tmp = out.as_os_str().to_owned();
        tmp.push(format!(".partial-{}", std::process::id()));
        let tmp = PathBuf::from(tmp);
        let _ = std::fs::remove_file(&tmp);
        let conn = rusqlite::Connection::open(&tmp)
            .and_then(|c| c.execute_batch(MBTILES_SCHEMA).map(|()| c))
            .with_context(|| format!("--out {}: cannot create {}", out.display(), tmp.display()))?;
        conn.execute_batch("BEGIN")?;
        Ok(Sink::MbTiles {
            conn: Some(conn),
            tmp,
            path: out.to_path_buf(),
        })
    }

    fn put(&self, t: TileId, png: &[u8]) -> Result<()> {
        match self {
            Sink::Folder { dir, scale } => {
                let d = dir.join(t.z.to_string()).join(t.x.to_string());
                std::fs::create_dir_all(&d)
                    .with_context(|| format!("cannot create {}", d.display()))?;
                let name = match scale {
                    1 => format!("{}.png", t.y),
                    s => format!("{}@{s}x.png", t.y),
                };
                let f = d.join(name);
                std::fs::write(&f, png).with_context(|| format!("cannot write {}", f.display()))
            }
            Sink::MbTiles { conn, .. } => {
                let conn = conn.as_ref().context("the MBTiles file is closed")?;
                // MBTiles rows count from the south (TMS).
                let row = (1u32 << t.z) - 1 - t.y;
                conn.execute(
                    "INSERT OR REPLACE INTO tiles VALUES (?1, ?2, ?3, ?4)",
                    rusqlite::params![t.z, t.x, row, png],
                )
                .with_context(|| format!("writing tile {}/{}/{}", t.z, t.x, t.y))?;
                Ok(())
            }
        }
    }

    /// Writes the metadata and makes the file whole (MBTiles), or nothing (folder).
    fn finish(mut self, meta: &[(&str, String)]) -> Result<()> {
        let Sink::MbTiles { conn, tmp, path } = &mut self else {
            return Ok(());
        };
        let conn = conn.take().context("the MBTiles file is closed")?;
        let write = || -> rusqlite::Result<()> {
            for (k, v) in meta {
                conn.execute("INSERT INTO metadata VALUES (?1, ?2)", [k, v.as_str()])?;
            }
            conn.execute_batch("COMMIT")
        };
        write().with_context(|| format!("writing {}", tmp.display()))?;
        conn.close()
            .map_err(|(_, e)| e)
            .with_context(|| format!("closing {}", tmp.display()))?;
        std::fs::rename(&*tmp, &*path)
            .with_context(|| format!("renaming {} to {}", tmp.display(), path.display()))?;
        Ok(())
    }
}

impl Drop for Sink {
    /// An export stopped by an error leaves no partial .mbtiles behind.
    fn drop(&mut self) {
        if let Sink::MbTiles { conn, tmp, .. } = self {
            if conn.take().is_some() {
                let _ = std::fs::remove_file(&*tmp);
                let mut journal = tmp.as_os_str().to_owned();
                journal.push("-journal");
                let _ = std::fs::remove_file(journal);
            }
        }
    }
}

/// What an export did.
#[derive(Default)]
struct Counts {
    tiles: u64,
    bytes: u64,
    drawn: u64,
    cached: u64,
}

fn export(a: &ExportArgs) -> Result<()> {
    // Cheap checks first: nothing is loaded or drawn for a wrong argument.
    let zooms = zoom_range(&a.zoom)?;
    let asked = a.bbox.as_deref().map(parse_bbox).transpose()?;

    let td = TwinDir::open(&a.twin)?;
    let twin = Arc::new(td.load()?);
    let drawer = Arc::new(renderer::basemap::Drawer::new());
    let state = BasemapState::new(
        twin.clone(),
        Some(drawer.clone()),
        &tile_server::source::twin_fingerprint(&td),
        MEMORY_BYTES,
        Some(&td.dir.join("cache").join("tiles")),
        Some(&td.dir),
    )
    .map_err(|e| anyhow::anyhow!("{}", e.message))?
    .with_context(|| format!("{}: the twin is empty, it has no basemap", td.dir.display()))?;
    let extent = state.bounds;
    let bbox = match asked {
        None => extent,
        Some(b) => {
            let i = [
                b[0].max(extent[0]),
                b[1].max(extent[1]),
                b[2].min(extent[2]),
                b[3].min(extent[3]),
            ];
            if i[0] >= i[2] || i[1] >= i[3] {
                bail!(
                    "--bbox {}: does not overlap the twin's extent {:.5},{:.5},{:.5},{:.5}",
                    a.bbox.as_deref().unwrap_or_default(),
                    extent[0],
                    extent[1],
                    extent[2],
                    extent[3]
                );
            }
            i
        }
    };
    let tiles = plan(bbox, zooms);
    let n = tiles.len() as u64;
    if n > a.max_tiles {
        bail!(
            "{n} tiles at zooms {}-{} over {:.5},{:.5},{:.5},{:.5}: more than --max-tiles {}; \
             narrow --zoom or --bbox, or raise --max-tiles",
            zooms.0,
            zooms.1,
            bbox[0],
            bbox[1],
            bbox[2],
            bbox[3],
            a.max_tiles
        );
    }
    let adapter = twin_core::xyz::BasemapDrawer::ready(drawer.as_ref())
        .context("basemap tiles need a GPU adapter (or Mesa's software Vulkan)")?;
    let sink = Sink::open(&a.out, a.scale)?;
    eprintln!(
        "{n} basemap tiles, zooms {}-{}, {} px, drawn on {adapter}",
        zooms.0,
        zooms.1,
        256 * u32::from(a.scale)
    );

    let start = std::time::Instant::now();
    let progress = bar();
    progress.start("basemap tiles", n);
    let rt = tokio::runtime::Runtime::new().context("starting the tile runtime")?;
    let state = Arc::new(state);
    let counts = rt.block_on(fetch_all(state.clone(), tiles, a.scale, &sink, &progress))?;
    progress.finish();
    // The cache writes the tiles drawn now in the background: all of them are on disk for
    // `twin serve` and the next export.
    rt.block_on(state.cache.flush());
    drop(rt);
    let secs = start.elapsed().as_secs_f64();

    let mut meta = vec![
        ("name", twin.name.clone()),
        ("format", "png".to_string()),
        (
            "bounds",
            format!(
                "{:.6},{:.6},{:.6},{:.6}",
                bbox[0], bbox[1], bbox[2], bbox[3]
            ),
        ),
        (
            "center",
            format!(
                "{:.6},{:.6},{}",
                (bbox[0] + bbox[2]) / 2.0,
                (bbox[1] + bbox[3]) / 2.0,
                zooms.0
            ),
        ),
        ("minzoom", zooms.0.to_string()),
        ("maxzoom", zooms.1.to_string()),
        ("type", "baselayer".to_string()),
        ("version", "1".to_string()),
        (
            "description",
            format!(
                "basemap of the twin {} drawn by huetwin ({} px tiles)",
                twin.name,
                256 * u32::from(a.scale)
            ),
        ),
    ];
    if let Some(at) = &state.attribution {
        meta.push(("attribution", at.clone()));
    }
    sink.finish(&meta)?;
    println!(
        "wrote {} tiles ({:.1} MB; {} drawn, {} from the cache) to {} in {:.1} s, {:.1} tiles/s",
        counts.tiles,
        counts.bytes as f64 / 1e6,
        counts.drawn,
        counts.cached,
        a.out.display(),
        secs,
        counts.tiles as f64 / secs.max(1e-9)
    );
    Ok(())
}

/// Asks the cache for every tile, [`IN_FLIGHT`] at a time, and writes each as it comes.
async fn fetch_all(
    state: Arc<BasemapState>,
    tiles: Vec<TileId>,
    scale: u8,
    sink: &Sink,
    progress: &dyn Progress,
) -> Result<Counts> {
    let mut counts = Counts::default();
    let mut pending = tiles.into_iter();
    let mut set = tokio::task::JoinSet::new();
    loop {
        while set.len() < IN_FLIGHT {
            let Some(t) = pending.next() else { break };
            let state = state.clone();
            set.spawn(async move {
                let path = TilePath::Basemap {
                    z: t.z,
                    x: t.x,
                    y: t.y,
                    scale,
                };
                let r = state.cache.get_or_produce(&path).await;
                (t, r)
            });
        }
        let Some(joined) = set.join_next().await else {
            break;
        };
        let (t, r) = joined.context("a tile task failed")?;
        let (file, tier) = r.map_err(|e| anyhow::anyhow!("{}", e.message))?;
        let file = file.with_context(|| format!("no basemap tile {}/{}/{}", t.z, t.x, t.y))?;
        sink.put(t, &file.bytes)?;
        counts.tiles += 1;
        counts.bytes += file.bytes.len() as u64;
        match tier {
            CacheTier::Produced => counts.drawn += 1,
            CacheTier::Memory | CacheTier::Disk => counts.cached += 1,
        }
        progress.inc(1);
    }
    Ok(counts)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zooms() {
        assert_eq!(zoom_range("12-16").unwrap(), (12, 16));
        assert_eq!(zoom_range("14").unwrap(), (14, 14));
        assert_eq!(zoom_range(" 10 - 19 ").unwrap(), (10, 19));
        for bad in ["", "16-12", "9-12", "12-20", "a-b", "12-", "-3", "12-14-16"] {
            let e = zoom_range(bad).unwrap_err().to_string();
            assert!(e.contains("--zoom"), "{bad}: {e}");
        }
    }

    #[test]
    fn boxes() {
        assert_eq!(
            parse_bbox("107.5,16.4,107.7,16.5").unwrap(),
            [107.5, 16.4, 107.7, 16.5]
        );
        for bad in [
            "NaN,16.4,107.7,16.5",
            "107.5,16.4,inf,16.5",
            "107.5,16.4,107.7",
            "-181,0,0,1",
            "0,0,1,86",
            "1,0,0,1",
            "0,1,1,1",
        ] {
            let e = parse_bbox(bad).unwrap_err().to_string();
            assert!(e.contains("--bbox"), "{bad}: {e}");
        }
    }

    /// The count of tiles over a box is the product of the column and row ranges from the XYZ
    /// formulas, zoom by zoom.
    #[test]
    fn plan_counts_by_the_tile_formulas() {
        let b = [107.55, 16.43, 107.62, 16.49];
        let mut expected = 0;
        for z in 12..=15u8 {
            let n = 2f64.powi(i32::from(z));
            let col = |lon: f64| ((lon + 180.0) / 360.0 * n).floor() as usize;
            let row = |lat: f64| {
                let r = lat.to_radians();
                ((1.0 - r.tan().asinh() / std::f64::consts::PI) / 2.0 * n).floor() as usize
            };
            expected += (col(b[2]) - col(b[0]) + 1) * (row(b[1]) - row(b[3]) + 1);
        }
        assert_eq!(plan(b, (12, 15)).len(), expected);
    }
}
