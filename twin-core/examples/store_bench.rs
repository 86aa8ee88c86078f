//! The store benchmark behind `scripts/bench_store.sh`: import one source into a store (parse
//! once, then time the store's write transaction) and time bbox queries on it.
//!
//! `store_bench <source> <store> <twin-crs> <queries>` where `<store>` is a GeoPackage path or a
//! `postgres://` URL of an empty database. Prints one line:
//! `features parse_s write_s load_s q_p50_ms q_p99_ms hits_mean`.

use std::time::Instant;
use twin_core::store::{StoreLocation, TwinStore};
use twin_core::{Crs, LayerKind, NoProgress};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let a: Vec<String> = std::env::args().collect();
    if a.len() != 5 {
        return Err("usage: store_bench <source> <store> <crs> <queries>".into());
    }
    let crs = Crs::parse(&a[3])?;
    let queries: usize = a[4].parse()?;
    let t0 = Instant::now();
    let imp = twin_core::import::import_file(
        a[1].as_ref(),
        &twin_core::import::ImportOptions::new(crs.clone()),
        &NoProgress,
    )?;
    let parse_s = t0.elapsed().as_secs_f64();
    let features = imp.buildings.len()
        + imp.roads.len()
        + imp.heritage.len()
        + imp.sensors.len()
        + imp.water.len();
    let loc = StoreLocation::parse(&a[2], ".".as_ref())?;
    let t0 = Instant::now();
    let mut store: Box<dyn TwinStore> = loc.open(&crs)?;
    store.write(&imp)?;
    let write_s = t0.elapsed().as_secs_f64();
    let t0 = Instant::now();
    let twin = store.load("bench", crs)?;
    let load_s = t0.elapsed().as_secs_f64();
    // Boxes of 300 m x 300 m placed by a fixed LCG over the buildings' extent.
    let e = twin.buildings.extent().ok_or("no buildings")?;
    let mut seed: u64 = 0x2545_f491_4f6c_dd1d;
    let mut next = || {
        seed = seed
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        (seed >> 11) as f64 / (1u64 << 53) as f64
    };
    let mut times = Vec::with_capacity(queries);
    let mut hits = 0usize;
    for _ in 0..queries {
        let x = e[0] + next() * (e[2] - e[0] - 300.0).max(0.0);
        let y = e[1] + next() * (e[3] - e[1] - 300.0).max(0.0);
        let t = Instant::now();
        let ids = store.ids_in_bbox(LayerKind::Buildings, [x, y, x + 300.0, y + 300.0])?;
        times.push(t.elapsed().as_secs_f64() * 1e3);
        hits += ids.len();
    }
    times.sort_by(f64::total_cmp);
    let pct = |p: f64| times[((times.len() as f64 - 1.0) * p).round() as usize];
    println!(
        "{features} {parse_s:.3} {write_s:.3} {load_s:.3} {:.3} {:.3} {:.1}",
        pct(0.5),
        pct(0.99),
        hits as f64 / queries.max(1) as f64
    );
    Ok(())
}
