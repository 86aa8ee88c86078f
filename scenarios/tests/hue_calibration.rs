//! Calibration of the Huế sample terrain (data/hue/dem.asc, synthetic) against two public facts,
//! from real runs of the CPU flood solver on the ready-made scenarios:
//!
//! * `scenarios/examples/hue/flood_oct2025.toml`: the Perfume River at its 27 October 2025 peak
//!   of 5.05 m at Kim Long (with its 250 mm of rain): the Imperial City (Hoàng Thành) floods
//!   about 1.5 m deep. Asserted: the mean and the median of the maximum depth over the Imperial
//!   City's open cells are 1.5 ± 0.3 m.
//! * `scenarios/examples/hue/flood_alarm3.toml`: alarm level 3 (3.5 m) with 100 mm of rain: the
//!   Imperial City is at most shallow. Asserted: mean and median of the maximum depth ≤ 0.3 m.
//!
//! The Imperial City is the `hoang-thanh` heritage site of the twin; a cell counts when its
//! centre is inside that outline, it is not a building burnt in as an obstacle, and its centre
//! is not in one of the twin's water areas (the Imperial City's lakes and moat, from
//! OpenStreetMap: the fact is about its ground, not its ponds).

use geo::Contains;
use geo_types::Point;
use scenarios::flood::{cpu_solver, run_loaded, LoadedScenario};
use scenarios::output::{Raster, RunDir};
use std::path::Path;
use twin_core::{NoProgress, Twin};

/// Mean and median of the maximum depth over the Imperial City's open ground cells (not
/// buildings, not water), and their count.
fn imperial_city_depth(twin: &Twin, run: &Path) -> (f64, f64, usize) {
    let site = twin
        .heritage
        .features()
        .iter()
        .find(|h| h.id.ends_with("hoang-thanh"))
        .expect("the Imperial City (hoang-thanh) in the heritage layer");
    let water: Vec<geo_types::MultiPolygon<f64>> = twin
        .water
        .features()
        .iter()
        .filter_map(|w| match &w.geometry {
            geo_types::Geometry::Polygon(p) => Some(p.clone().into()),
            geo_types::Geometry::MultiPolygon(m) => Some(m.clone()),
            _ => None,
        })
        .collect();
    let rd = RunDir::new(run);
    let depth = rd.read_raster(&rd.raster_path(Raster::MaxDepth)).unwrap();
    let mut d: Vec<f64> = Vec::new();
    for row in 0..depth.nrows {
        for col in 0..depth.ncols {
            let x = depth.xmin + (col as f64 + 0.5) * depth.cell_x;
            let y = depth.ymax - (row as f64 + 0.5) * depth.cell_y;
            let p = Point::new(x, y);
            if site.polygon.contains(&p) && !water.iter().any(|w| w.contains(&p)) {
                if let Some(v) = depth.get(col, row).filter(|v| v.is_finite()) {
                    d.push(v as f64);
                }
            }
        }
    }
    assert!(d.len() > 50, "only {} cells in the Imperial City", d.len());
    d.sort_by(f64::total_cmp);
    let mean = d.iter().sum::<f64>() / d.len() as f64;
    let median = d[d.len() / 2];
    (mean, median, d.len())
}

#[test]
fn imperial_city_depths_at_5_05_m_and_at_alarm_3() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let tmp = tempfile::tempdir().unwrap();
    let td = twin_core::TwinDir::open(&root.join("../data/hue"))
        .unwrap()
        .copy_without_store(&tmp.path().join("hue"))
        .unwrap();
    td.build(&NoProgress).unwrap();
    let twin = td.load().unwrap();
    let mut got = Vec::new();
    for name in ["flood_oct2025", "flood_alarm3"] {
        let sc = LoadedScenario::load(&root.join(format!("examples/hue/{name}.toml"))).unwrap();
        let out = tmp.path().join(name);
        let rep = run_loaded(&sc, &twin, &out, &cpu_solver, &NoProgress).unwrap();
        assert!(
            rep.mass_balance.relative_error < 1e-6,
            "{name}: mass balance"
        );
        let (mean, median, n) = imperial_city_depth(&twin, &out);
        eprintln!(
            "{name}: Imperial City max depth mean {mean:.2} m, median {median:.2} m over {n} cells"
        );
        got.push((mean, median));
    }
    let (peak, alarm3) = (got[0], got[1]);
    // data/hue/README.md states these figures: it must say what the runs give.
    let readme = std::fs::read_to_string(root.join("../data/hue/README.md")).unwrap();
    for (m, d) in [peak, alarm3] {
        let stated = format!("mean {m:.2} m, median {d:.2} m");
        assert!(
            readme.contains(&stated),
            "data/hue/README.md lacks \"{stated}\""
        );
    }
    assert!(
        (peak.0 - 1.5).abs() <= 0.3 && (peak.1 - 1.5).abs() <= 0.3,
        "at 5.05 m the Imperial City should flood 1.5 ± 0.3 m deep: mean {:.2}, median {:.2}",
        peak.0,
        peak.1
    );
    assert!(
        alarm3.0 <= 0.3 && alarm3.1 <= 0.3,
        "at alarm 3 (3.5 m) the Imperial City should be at most shallow (≤ 0.3 m): mean {:.2}, median {:.2}",
        alarm3.0,
        alarm3.1
    );
}
