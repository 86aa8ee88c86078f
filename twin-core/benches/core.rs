//! `cargo bench -p twin-core --bench core`: import and index figures, printed as a table.
//!
//! - import rate of the real Hue OSM extract (buildings/s),
//! - R-tree bulk load of 1,000,000 synthetic buildings (s),
//! - bbox and k-nearest queries per second on that layer,
//! - peak resident memory of the process.
//!
//! Under `cargo test` (no `--bench` argument) it runs a small smoke version so the code stays
//! compiled and working.

use geo_types::{coord, Geometry, Point, Rect};
use std::path::PathBuf;
use std::time::Instant;
use twin_core::import::{osm, ImportOptions};
use twin_core::index::{Feature, Layer};
use twin_core::Crs;
use twin_core::NoProgress;

struct Box2 {
    id: String,
    r: Rect<f64>,
}
impl Feature for Box2 {
    fn id(&self) -> &str {
        &self.id
    }
    fn geometry(&self) -> Geometry<f64> {
        Geometry::Polygon(self.r.to_polygon())
    }
}

/// A tiny deterministic generator (xorshift) so runs are comparable.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> f64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 >> 11) as f64 / (1u64 << 53) as f64
    }
}

fn peak_rss_mib() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines().find(|l| l.starts_with("VmHWM:")).and_then(|l| {
                l.split_whitespace()
                    .nth(1)
                    .and_then(|v| v.parse::<f64>().ok())
            })
        })
        .map(|kb| kb / 1024.0)
        .unwrap_or(f64::NAN)
}

fn main() {
    let full = std::env::args().any(|a| a == "--bench");
    let (n, queries, import_runs) = if full {
        (1_000_000, 100_000, 3)
    } else {
        (10_000, 1_000, 1)
    };
    let mut rows: Vec<(String, String)> = Vec::new();

    let pbf = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared/data/hue/hue.osm.pbf");
    if pbf.exists() {
        let opts = ImportOptions::new(Crs::epsg(32648).unwrap());
        let mut best = f64::INFINITY;
        let mut buildings = 0;
        for _ in 0..import_runs {
            let t = Instant::now();
            let imp = osm::import(&pbf, &opts, &NoProgress).expect("Hue import");
            best = best.min(t.elapsed().as_secs_f64());
            buildings = imp.buildings.len();
        }
        rows.push((
            "Hue OSM import (6,877 buildings + roads, water, heritage)".into(),
            format!("{best:.3} s, best of {import_runs}"),
        ));
        rows.push((
            "  import rate".into(),
            format!("{:.0} buildings/s", buildings as f64 / best),
        ));
    } else {
        rows.push((
            "Hue OSM import".into(),
            "skipped: ../shared/data missing".into(),
        ));
    }
    let rss_after_import = peak_rss_mib();

    // Synthetic buildings: 8 m x 12 m boxes on a 20 km x 20 km city.
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let side = 20_000.0;
    let feats: Vec<Box2> = (0..n)
        .map(|i| {
            let (x, y) = (rng.next() * side, rng.next() * side);
            Box2 {
                id: i.to_string(),
                r: Rect::new(coord! {x: x, y: y}, coord! {x: x + 8.0, y: y + 12.0}),
            }
        })
        .collect();
    let t = Instant::now();
    let layer = Layer::new(feats).unwrap();
    let load = t.elapsed().as_secs_f64();
    rows.push((
        format!("R-tree bulk load, {n} synthetic buildings"),
        format!("{load:.3} s"),
    ));

    let t = Instant::now();
    let mut hits = 0usize;
    for _ in 0..queries {
        let (x, y) = (rng.next() * side, rng.next() * side);
        hits += layer
            .query_bbox(Rect::new(
                coord! {x: x, y: y},
                coord! {x: x + 200.0, y: y + 200.0},
            ))
            .unwrap()
            .len();
    }
    let bbox_rate = queries as f64 / t.elapsed().as_secs_f64();
    rows.push((
        "bbox queries (200 m x 200 m)".into(),
        format!(
            "{bbox_rate:.0} /s ({:.1} hits each)",
            hits as f64 / queries as f64
        ),
    ));

    let t = Instant::now();
    for _ in 0..queries {
        let p = Point::new(rng.next() * side, rng.next() * side);
        assert_eq!(layer.query_nearest(p, 10).unwrap().len(), 10);
    }
    let knn_rate = queries as f64 / t.elapsed().as_secs_f64();
    rows.push((
        "k-nearest queries (k = 10)".into(),
        format!("{knn_rate:.0} /s"),
    ));
    rows.push((
        "peak memory after the Hue import".into(),
        format!("{rss_after_import:.0} MiB"),
    ));
    rows.push((
        "peak memory (process, with the 1M layer)".into(),
        format!("{:.0} MiB", peak_rss_mib()),
    ));

    println!(
        "\ntwin-core benchmark ({} mode, {} threads)",
        if full { "full" } else { "smoke" },
        std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1)
    );
    println!("{:<60} value", "measure");
    for (k, v) in rows {
        println!("{k:<60} {v}");
    }
}
