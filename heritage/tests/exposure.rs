//! Monument flood exposure across stored runs on the sample twin: the three flood runs of the
//! levee scenario (alarm 3 and October 2025 as baselines, then the levee), the table against
//! each run's `heritage.csv` parsed here with the csv crate, the ranking, and every monument
//! read on its own ground: where its polygon holds deeper water (a moat, a lake, the river),
//! that water is a water body of the twin or wet from the start.
//! The sample's illustrative floor levels (`floor_m`): the depth above the floor is the depth
//! less the floor, the cells the hours above the floor are read on are those of the run's own
//! row (their largest depth in `max_depth.tif` is the row's), and the hours stay within the
//! hours wet.

use geo::Contains;
use heritage::exposure::exposure_table;
use scenarios::jobs::{Job, JobOptions, RunStore};
use scenarios::output::{Raster, RunDir};
use std::path::Path;

#[test]
fn monument_exposure_across_the_stored_runs() {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("heritage-exposure/hue");
    let _ = std::fs::remove_dir_all(&dir);
    testkit::copy_sample_twin(&dir);
    let twin = twin_core::TwinDir::open(&dir).unwrap().load().unwrap();
    let scenario = testkit::repo().join("scenarios/examples/hue/flood_oct2025_levee.toml");
    Job::from_path(&dir, &scenario)
        .unwrap()
        .run(&twin, &JobOptions::default())
        .unwrap();
    let t = exposure_table(&twin, &dir).unwrap();
    assert_eq!(t.runs.len(), 3, "{:?}", t.runs);
    let store = RunStore::for_twin(&dir);
    // Every cell of the table is its run's heritage.csv row.
    for (k, run) in t.runs.iter().enumerate() {
        let path = store.dir(&run.id).unwrap().join("heritage.csv");
        let mut rd = csv::Reader::from_path(&path).unwrap();
        let h = rd.headers().unwrap().clone();
        let col = |name: &str| h.iter().position(|c| c == name).unwrap();
        let (id, depth, wet, first) = (
            col("id"),
            col("max_depth_m"),
            col("wet_duration_s"),
            col("first_wet_s"),
        );
        let mut rows = 0;
        for r in rd.records() {
            let r = r.unwrap();
            rows += 1;
            let m = t.monuments.iter().find(|m| m.site == r[id]).unwrap();
            let e = m.runs[k].as_ref().unwrap();
            assert!((e.max_depth_m - r[depth].parse::<f64>().unwrap()).abs() < 1e-9);
            assert!((e.hours_wet - r[wet].parse::<f64>().unwrap() / 3600.0).abs() < 1e-9);
            let f: Option<f64> = r[first].parse().ok();
            assert_eq!(
                e.first_wet_h.map(|h| (h * 3600.0).round()),
                f.map(f64::round)
            );
        }
        assert_eq!(
            rows,
            t.monuments.iter().filter(|m| m.runs[k].is_some()).count()
        );
    }
    // Ranked by the largest depth over the runs.
    for (i, m) in t.monuments.iter().enumerate() {
        assert_eq!(m.rank, i + 1);
        let worst = m
            .runs
            .iter()
            .flatten()
            .map(|e| e.max_depth_m)
            .fold(0.0, f64::max);
        assert_eq!(m.worst_depth_m, worst);
    }
    assert!(t
        .monuments
        .windows(2)
        .all(|w| w[0].worst_depth_m >= w[1].worst_depth_m));
    // Own ground leaves out the twin's water bodies and the cells wet from the start: at alarm 3
    // some monuments' polygons hold water (a moat, a lake, a river bank under the stage)
    // deeper than any of their own ground cells, and each such deepest cell is one of those.
    let alarm = t
        .runs
        .iter()
        .position(|r| r.name.contains("alarm 3"))
        .expect("alarm 3 run");
    let rd = RunDir::new(store.dir(&t.runs[alarm].id).unwrap());
    let rg = heritage::exposure::RunGround::open(&twin, &rd).unwrap();
    let land = scenarios::flood::impacts::ground_mask_on(&twin, &rg.grid);
    let first = rd.read_raster(&rd.raster_path(Raster::FirstWet)).unwrap();
    let mut deeper = Vec::new();
    for h in twin.heritage.features() {
        // (a site outside the runs' grids has no row)
        let Some(own) = t
            .monuments
            .iter()
            .find(|m| m.site == h.id)
            .and_then(|m| m.runs[alarm].as_ref())
            .map(|e| e.max_depth_m)
        else {
            continue;
        };
        let own_cells = rg.cells(&h.polygon);
        let own_max = own_cells
            .iter()
            .filter_map(|&c| rg.depth(c))
            .fold(0.0f64, |a, d| a.max(d as f64));
        assert!((own - own_max).abs() < 1e-5, "{}: {own} vs {own_max}", h.id);
        let mut deepest: Option<(usize, f64)> = None;
        for r in 0..rg.grid.ny {
            for c in 0..rg.grid.nx {
                let (x, y) = (
                    rg.grid.xmin + (c as f64 + 0.5) * rg.grid.dx,
                    rg.grid.ymax - (r as f64 + 0.5) * rg.grid.dx,
                );
                let cell = r * rg.grid.nx + c;
                if let Some(d) = rg.depth(cell) {
                    if h.polygon.contains(&geo_types::Point::new(x, y))
                        && deepest.is_none_or(|(_, b)| d as f64 > b)
                    {
                        deepest = Some((cell, d as f64));
                    }
                }
            }
        }
        if let Some((cell, d)) = deepest.filter(|&(_, d)| d > own + 1e-6) {
            let wet_at_start = first.values[cell] == Some(0.0);
            assert!(
                !land[cell] || wet_at_start,
                "{}: the deepest cell of its polygon ({d:.2} m) is dry land, deeper than its own ground ({own:.2} m)",
                h.id
            );
            deeper.push(format!("{} {own:.2} m (polygon {d:.2} m)", h.id));
        }
    }
    eprintln!("alarm 3, own ground below the polygon's deepest water: {deeper:?}");
    assert!(
        !deeper.is_empty(),
        "no monument holds water deeper than its own ground"
    );

    // Floor levels: typed in the twin, carried into the table.
    let floored: Vec<&twin_core::model::HeritageSite> = twin
        .heritage
        .features()
        .iter()
        .filter(|h| h.floor_m.is_some())
        .collect();
    assert!(floored.len() >= 3, "the sample gives three floor levels");
    let mut report = Vec::new();
    for (k, run) in t.runs.iter().enumerate() {
        let rd = RunDir::new(store.dir(&run.id).unwrap());
        let rg = heritage::exposure::RunGround::open(&twin, &rd).unwrap();
        let interval_h = {
            let s = rd.snapshots();
            (s[1].0 - s[0].0) as f64 / 3600.0
        };
        for site in &floored {
            let floor = site.floor_m.unwrap();
            let m = t.monuments.iter().find(|m| m.site == site.id).unwrap();
            assert_eq!(m.floor_m, Some(floor));
            let Some(e) = m.runs[k].as_ref() else {
                continue;
            };
            let above = e.above_floor_m.unwrap();
            assert!((above - (e.max_depth_m - floor).max(0.0)).abs() < 1e-12);
            // The cells read for the hours are the row's: their largest depth is its depth.
            let cells = rg.cells(&site.polygon);
            let deepest = cells
                .iter()
                .map(|&c| f64::from(rg.depth(c).unwrap()))
                .fold(0.0, f64::max);
            assert!(
                (deepest - e.max_depth_m).abs() < 1e-5,
                "{} in {}: {deepest} from the raster, {} in heritage.csv",
                site.id,
                run.name,
                e.max_depth_m
            );
            let hours = e.hours_above_floor.expect("the runs keep snapshots");
            if above == 0.0 {
                assert_eq!(hours, 0.0, "{} in {}", site.id, run.name);
            }
            // Sampled at the outputs, linear between: within one output interval of the
            // hours wet (the floor is above the wet depth).
            assert!(
                hours <= e.hours_wet + interval_h,
                "{hours} vs {}",
                e.hours_wet
            );
            report.push(format!(
                "{} in {:?}: depth {:.2} m, floor {floor} m, above {above:.2} m for {hours:.2} h",
                site.id, run.name, e.max_depth_m
            ));
        }
    }
    eprintln!("{}", report.join("\n"));
    assert!(
        t.monuments
            .iter()
            .flat_map(|m| m.runs.iter().flatten())
            .any(|e| e.hours_above_floor.is_some_and(|h| h > 0.0)),
        "some monument is flooded above its floor in some run"
    );
}

/// The time above a level of a depth linear between two outputs.
#[test]
fn time_above_a_floor_between_two_outputs() {
    use heritage::exposure::time_above;
    assert_eq!(time_above(0.0, 2.0, 3600.0, 0.5), 2700.0);
    assert_eq!(time_above(2.0, 0.0, 3600.0, 0.5), 2700.0);
    assert_eq!(time_above(1.0, 2.0, 3600.0, 0.5), 3600.0);
    assert_eq!(time_above(0.1, 0.4, 3600.0, 0.5), 0.0);
    assert_eq!(time_above(0.5, 0.5, 3600.0, 0.5), 0.0);
}
