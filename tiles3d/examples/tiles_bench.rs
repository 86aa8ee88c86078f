//! Timing and memory of 3D Tiles export, for `scripts/bench_tiles.sh`.
//!
//! ```text
//! tiles_bench hue <twin folder> <out>          export every layer of a twin
//! tiles_bench synthetic <n> <out>              n synthetic buildings around Hue
//! tiles_bench las <file.las> <EPSG:code> <out> import a LAS/LAZ file, then tile its points
//! ```
//! Prints one line `RESULT case=... items=... load_s=... tile_s=... items_per_s=...
//! rss_loaded_mb=... peak_mb=... tiles=... bytes=...`.

use geo_types::{LineString, MultiPolygon, Polygon};
use std::path::Path;
use std::time::Instant;
use tiles3d::{self as tiles, TilesetOptions};
use twin_core::crs::Crs;
use twin_core::import::{import_file, ImportOptions};
use twin_core::model::Imported;
use twin_core::model::{Building, HeightSource};
use twin_core::NoProgress;
use twin_core::{LayerKind, Twin, TwinDir};

/// VmRSS and VmHWM (peak) of this process, MiB.
fn memory_mb() -> (f64, f64) {
    let s = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let get = |k: &str| {
        s.lines()
            .find(|l| l.starts_with(k))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse::<f64>().ok())
            .map(|kb| kb / 1024.0)
            .unwrap_or(f64::NAN)
    };
    (get("VmRSS:"), get("VmHWM:"))
}

/// A deterministic generator (64-bit LCG).
struct Lcg(u64);
impl Lcg {
    fn next(&mut self) -> f64 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        (self.0 >> 11) as f64 / (1u64 << 53) as f64
    }
}

fn ring(pts: &[(f64, f64)]) -> LineString<f64> {
    let mut v = pts.to_vec();
    v.push(pts[0]);
    LineString::from(v)
}

/// `n` buildings on a 25 m grid around Hue: rectangles, every 10th an L, every 50th a courtyard.
fn synthetic(n: usize) -> Vec<Building> {
    let side = (n as f64).sqrt().ceil() as usize;
    let (x0, y0) = (
        774_000.0 - side as f64 * 12.5,
        1_822_000.0 - side as f64 * 12.5,
    );
    let mut rng = Lcg(42);
    (0..n)
        .map(|i| {
            let (cx, cy) = (x0 + (i % side) as f64 * 25.0, y0 + (i / side) as f64 * 25.0);
            let (w, d) = (8.0 + rng.next() * 12.0, 8.0 + rng.next() * 12.0);
            let (a, b) = (cx - w / 2.0, cy - d / 2.0);
            let (c, e) = (cx + w / 2.0, cy + d / 2.0);
            let poly = if i % 50 == 0 {
                Polygon::new(
                    ring(&[(a, b), (c, b), (c, e), (a, e)]),
                    vec![ring(&[
                        (cx - 2.0, cy - 2.0),
                        (cx - 2.0, cy + 2.0),
                        (cx + 2.0, cy + 2.0),
                        (cx + 2.0, cy - 2.0),
                    ])],
                )
            } else if i % 10 == 0 {
                Polygon::new(
                    ring(&[(a, b), (c, b), (c, cy), (cx, cy), (cx, e), (a, e)]),
                    vec![],
                )
            } else {
                Polygon::new(ring(&[(a, b), (c, b), (c, e), (a, e)]), vec![])
            };
            Building {
                id: format!("syn:{i}"),
                footprint: MultiPolygon(vec![poly]),
                height: 3.0 + rng.next() * 27.0,
                base_height: 0.0,
                levels: Some(1 + (i % 8) as u32),
                usage: Some("residential".into()),
                name: None,
                source_id: i.to_string(),
                height_source: HeightSource::Synthetic,
                solid: None,
                attributes: Default::default(),
            }
        })
        .collect()
}

fn run() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let start = Instant::now();
    let (case, twin, opts, layers, out): (String, Twin, TilesetOptions, Vec<LayerKind>, &str) =
        match args.first().map(String::as_str) {
            Some("hue") if args.len() == 3 => {
                let td = TwinDir::open(Path::new(&args[1]))?;
                let twin = td.load()?;
                ("hue".into(), twin, TilesetOptions::for_config(&td.config), vec![], &args[2])
            }
            Some("synthetic") if args.len() == 3 => {
                let n: usize = args[1].parse()?;
                let mut twin = Twin::new("synthetic", Crs::epsg(32648)?)?;
                twin.add(Imported {
                    buildings: synthetic(n),
                    ..Default::default()
                })?;
                (format!("synthetic {n}"), twin, TilesetOptions::default(), vec![LayerKind::Buildings], &args[2])
            }
            Some("las") if args.len() == 4 => {
                let mut o = ImportOptions::new(Crs::epsg(32648)?);
                o.source_crs = Some(Crs::parse(&args[2])?);
                let imp = import_file(Path::new(&args[1]), &o, &NoProgress)?;
                let mut twin = Twin::new("las", Crs::epsg(32648)?)?;
                twin.add(imp)?;
                ("las".into(), twin, TilesetOptions::default(), vec![LayerKind::Pointclouds], &args[3])
            }
            _ => return Err("usage: tiles_bench hue <twin> <out> | synthetic <n> <out> | las <file> <crs> <out>".into()),
        };
    // TILES_PLAIN=1: plain float glTF instead of compact content (scripts/bench_bytes.sh).
    let opts = TilesetOptions {
        compact: std::env::var("TILES_PLAIN").map_or(true, |v| v != "1"),
        ..opts
    };
    let load_s = start.elapsed().as_secs_f64();
    let (rss_loaded, _) = memory_mb();
    let t = Instant::now();
    let rep = tiles::export(&twin, Path::new(out), &layers, &opts, &NoProgress)?;
    let tile_s = t.elapsed().as_secs_f64();
    let (_, peak) = memory_mb();
    let items: usize = match layers.first() {
        Some(LayerKind::Pointclouds) => twin.pointclouds.iter().map(|c| c.points.len()).sum(),
        _ => twin.buildings.len(),
    };
    let tiles: usize = rep.layers.iter().map(|l| l.contents).sum();
    let bytes: u64 = rep.layers.iter().map(|l| l.bytes).sum();
    println!(
        "RESULT case={case:?} items={items} load_s={load_s:.2} tile_s={tile_s:.2} items_per_s={:.0} rss_loaded_mb={rss_loaded:.0} peak_mb={peak:.0} tiles={tiles} bytes={bytes} geoid={:?}",
        items as f64 / tile_s,
        rep.layers.first().map(|l| l.geoid.describe()).unwrap_or_default()
    );
    Ok(())
}

fn main() {
    if let Err(e) = run() {
        eprintln!("error: {e}");
        std::process::exit(1);
    }
}
