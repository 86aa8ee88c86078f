//! Sightline rays per second against the real Huế OSM city (`../shared/data/hue/hue.osm.pbf`
//! imported into a temporary twin): the BVH of `heritage::sight` on all threads and on one,
//! and brute force over every triangle on a sample, side by side; rays per wall-clock second
//! and per CPU second (the second holds on a machine shared with other work). Run by
//! `scripts/bench_heritage.sh`.
//!
//!   cargo run -p heritage --example bench_sightlines [-- <rays>]

mod common;

use common::cpu_s;
use heritage::sight::{occluded_by, prism, Scene, Tri};
use rayon::prelude::*;
use std::path::Path;
use std::time::Instant;
use twin_core::crs::Crs;
use twin_core::twin::SourceConfig;
use twin_core::{NoProgress, TwinDir};

fn main() -> anyhow::Result<()> {
    let n: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(4_000_000);
    let pbf = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/data/hue/hue.osm.pbf");
    let tmp = std::env::temp_dir().join(format!("bench-sightlines-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&tmp);
    let mut td = TwinDir::create(&tmp, "hue-osm", Crs::epsg(32648)?)?;
    td.import(
        SourceConfig {
            path: pbf,
            layer: None,
            crs: None,
            lod: None,
        },
        &NoProgress,
    )?;
    let twin = td.load()?;
    let mut tris: Vec<Tri> = Vec::new();
    for (k, b) in twin.buildings.features().iter().enumerate() {
        prism(&b.footprint, 0.0, b.height, k as u32, &mut tris);
    }
    let ext = twin.buildings.extent().expect("buildings");
    // Flat ground under the city (the OSM extract has no DEM).
    tris.push(Tri::new(
        [ext[0], ext[1], 0.0],
        [ext[2], ext[1], 0.0],
        [ext[2], ext[3], 0.0],
    ));
    tris.push(Tri::new(
        [ext[0], ext[1], 0.0],
        [ext[2], ext[3], 0.0],
        [ext[0], ext[3], 0.0],
    ));
    let all = tris.clone();
    let t0 = Instant::now();
    let scene = Scene::new(tris);
    let build_s = t0.elapsed().as_secs_f64();
    // Rays: an eye 1.6-30 m above the ground within 100 m of a building picked at random (the
    // city where it is built up) to a point 1-40 m up within 1 km of it (a street-level or
    // roof-level sightline to a monument).
    let mut seed = 0x9E37_79B9_7F4A_7C15u64;
    let mut rnd = move || {
        seed = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (seed >> 11) as f64 / (1u64 << 53) as f64
    };
    let centres: Vec<[f64; 2]> = twin
        .buildings
        .features()
        .iter()
        .filter_map(|b| {
            use geo::Centroid;
            b.footprint.centroid().map(|c| [c.x(), c.y()])
        })
        .collect();
    let rays: Vec<([f64; 3], [f64; 3])> = (0..n)
        .map(|_| {
            let c = centres[((rnd() * centres.len() as f64) as usize).min(centres.len() - 1)];
            let a = [
                c[0] + (rnd() - 0.5) * 200.0,
                c[1] + (rnd() - 0.5) * 200.0,
                1.6 + rnd() * 28.4,
            ];
            let (ang, r) = (rnd() * std::f64::consts::TAU, rnd() * 1000.0);
            (
                a,
                [
                    a[0] + r * ang.cos(),
                    a[1] + r * ang.sin(),
                    1.0 + rnd() * 39.0,
                ],
            )
        })
        .collect();
    // One call per ray, in the random order generated, on all threads and on one.
    let c = cpu_s();
    let t = Instant::now();
    let blocked = rays
        .par_iter()
        .filter(|(a, b)| scene.occluded(*a, *b))
        .count();
    let par_s = t.elapsed().as_secs_f64();
    let par_cpu = cpu_s() - c;
    let m = n.min(1_000_000);
    let c = cpu_s();
    let t = Instant::now();
    let blocked_one = rays[..m]
        .iter()
        .filter(|(a, b)| scene.occluded(*a, *b))
        .count();
    let one_s = t.elapsed().as_secs_f64();
    let one_cpu = cpu_s() - c;
    let k = 2000.min(n);
    let c = cpu_s();
    let t = Instant::now();
    let brute_blocked = rays[..k]
        .iter()
        .filter(|(a, b)| occluded_by(&all, *a, *b))
        .count();
    let brute_s = t.elapsed().as_secs_f64();
    let brute_cpu = cpu_s() - c;
    let bvh_k = rays[..k]
        .iter()
        .filter(|(a, b)| scene.occluded(*a, *b))
        .count();
    assert_eq!(bvh_k, brute_blocked, "the BVH and brute force disagree");
    let threads = rayon::current_num_threads();
    println!(
        "Huế OSM: {} buildings, {} triangles, BVH built in {:.2} s; {threads} threads; {} rays of up to 1 km, {:.1} % blocked ({} of the first {k} by brute force, the same by the BVH)",
        twin.buildings.len(),
        scene.len(),
        build_s,
        n,
        100.0 * blocked as f64 / n as f64,
        brute_blocked
    );
    println!(
        "{:<48} {:>14} {:>14} {:>10}",
        "method", "rays/s", "rays/CPU-s", "goal"
    );
    let row = |name: String, rays: usize, wall: f64, cpu: f64, goal: &str| {
        let (r, w) = (rays as f64 / wall, rays as f64 / cpu);
        println!("{name:<48} {r:>14.0} {w:>14.0} {goal:>10}");
    };
    row(
        format!("BVH one call per ray, random order, {threads} threads"),
        n,
        par_s,
        par_cpu,
        "10000000",
    );
    row(
        "BVH one call per ray, random order, 1 thread".into(),
        m,
        one_s,
        one_cpu,
        "",
    );
    row(
        format!("brute force, 1 thread ({k} rays)"),
        k,
        brute_s,
        brute_cpu,
        "",
    );
    assert!(blocked_one <= blocked);
    let _ = std::fs::remove_dir_all(&tmp);
    Ok(())
}
