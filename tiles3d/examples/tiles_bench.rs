//! Timing and memory of 3D Tiles export, for `scripts/bench_tiles.sh`.
//!
//! ```text
//! tiles_bench hue <twin folder> <out>          export every layer of a twin
//! tiles_bench synthetic <n> <out>              n synthetic buildings around Hue
//! tiles_bench las <file.las> <EPSG:code> <out> import a LAS/LAZ file, then tile its points
//! ```
//! Prints one line `RESULT case=... items=... load_s=... tile_s=... items_per_s=...
//! rss_loaded_mb=... peak_mb=... tiles=... bytes=...`.

use std::path::Path;
use std::time::Instant;
use tiles3d::{self as tiles, TilesetOptions};
use twin_core::crs::Crs;
use twin_core::import::{import_file, ImportOptions};
use twin_core::model::Imported;
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
                    buildings: testkit::synthetic_buildings(n),
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
    // TILES_PLAIN=1: plain float glTF instead of compact content (scripts/bench_bytes.sh);
    // TILES_IMPLICIT=1: implicit tilesets for buildings and heritage.
    let opts = TilesetOptions {
        compact: std::env::var("TILES_PLAIN").map_or(true, |v| v != "1"),
        implicit: std::env::var("TILES_IMPLICIT").is_ok_and(|v| v == "1"),
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
