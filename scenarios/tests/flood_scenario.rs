//! Flood scenarios end to end: a scenario file over a twin, run with the CPU solver, outputs
//! checked through a second route (GDAL's `gdalinfo -json`, the `tiff` decoder, geometry
//! computed here).
//!
//! * `valley_flood_grows_with_stage`: a synthetic river valley (built here) with a stage
//!   boundary and rain; the flooded area grows with the stage and matches the low ground
//!   connected to the river.
//! * `hue_sample_flood_grows_with_stage`: the same on the Hue sample twin in `data/hue` (built
//!   into a temporary copy); it skips, loudly, only if `data/hue/twin.toml` is absent.

use geo::{Distance, Euclidean};
use geo_types::{polygon, LineString, MultiPolygon, Point};
use scenarios::flood::{cpu_solver, run_loaded, FloodReport, LoadedScenario};
use std::collections::VecDeque;
use std::path::{Path, PathBuf};
use std::process::Command;
use twin_core::model::{Building, Dem, HeightSource, HeritageSite, Oneway, Road};
use twin_core::NoProgress;
use twin_core::{Crs, Layer, Twin};

const X0: f64 = 745_000.0;
const Y1: f64 = 1_820_000.0;
const DX: f64 = 10.0;
const NX: usize = 60;
const NY: usize = 40;

/// Ground of the valley at a point: a 30 m wide river bed at −1 m along y = Y1 − 200, banks
/// rising 2 % to either side from 0.5 m, and a gentle 0.1 % rise eastwards.
fn ground(x: f64, y: f64) -> f64 {
    let d = (y - (Y1 - 200.0)).abs();
    let east = 0.001 * (x - X0);
    if d < 15.0 {
        -1.0 + east
    } else {
        0.5 + 0.02 * (d - 15.0) + east
    }
}

fn rect(x0: f64, y0: f64, x1: f64, y1: f64) -> MultiPolygon<f64> {
    MultiPolygon(vec![
        polygon![(x: x0, y: y0), (x: x1, y: y0), (x: x1, y: y1), (x: x0, y: y1)],
    ])
}

/// Buildings on the floodplain north of the river (one just above the 2.5 m contour).
fn buildings() -> Vec<(String, MultiPolygon<f64>)> {
    vec![
        (
            "b-low".into(),
            rect(X0 + 100.0, Y1 - 170.0, X0 + 120.0, Y1 - 155.0),
        ),
        (
            "b-mid".into(),
            rect(X0 + 300.0, Y1 - 140.0, X0 + 318.0, Y1 - 126.0),
        ),
        (
            "b-high".into(),
            rect(X0 + 200.0, Y1 - 60.0, X0 + 216.0, Y1 - 45.0),
        ),
    ]
}

fn valley_twin() -> Twin {
    let mut twin = Twin::new("valley", Crs::epsg(32648).unwrap()).unwrap();
    let mut values = Vec::with_capacity(NX * NY);
    for r in 0..NY {
        for c in 0..NX {
            let (x, y) = (X0 + (c as f64 + 0.5) * DX, Y1 - (r as f64 + 0.5) * DX);
            values.push(Some(ground(x, y) as f32));
        }
    }
    twin.terrain.push(Dem {
        name: "valley".into(),
        ncols: NX,
        nrows: NY,
        xmin: X0,
        ymax: Y1,
        cell_x: DX,
        cell_y: DX,
        values,
    });
    twin.buildings = Layer::new(
        buildings()
            .into_iter()
            .map(|(id, footprint)| Building {
                id: id.clone(),
                footprint,
                height: 6.0,
                base_height: 0.0,
                levels: Some(2),
                usage: Some("house".into()),
                name: None,
                source_id: id,
                height_source: HeightSource::Synthetic,
                solid: None,
                attributes: Default::default(),
            })
            .collect(),
    )
    .unwrap();
    twin.heritage = Layer::new(vec![HeritageSite {
        id: "h-temple".into(),
        name: Some("Riverside temple".into()),
        polygon: rect(X0 + 400.0, Y1 - 180.0, X0 + 440.0, Y1 - 150.0),
        zone: Some("I".into()),
        height_limit_m: None,
        floor_m: None,
        attributes: Default::default(),
    }])
    .unwrap();
    twin.roads = Layer::new(vec![Road {
        id: "r-bank".into(),
        line: LineString::from(vec![(X0 + 10.0, Y1 - 160.0), (X0 + 590.0, Y1 - 160.0)]),
        class: "residential".into(),
        name: Some("Bank road".into()),
        lanes: None,
        maxspeed_kmh: None,
        oneway: Oneway::No,
        bridge: false,
        attributes: Default::default(),
    }])
    .unwrap();
    twin
}

fn scenario(dir: &Path, level: f64) -> LoadedScenario {
    // The stage rises from the river bed level to `level` in 20 min, then holds.
    let text = format!(
        r#"name = "valley at {level} m"
twin = "."
duration_s = 3600
output_interval_s = 1200

[rain]
series = [[0, 5.0], [1800, 0]]   # mm/h

[[stage]]
name = "west gauge"
edge = "west"
series = [[0, -1.0], [1200, {level}], [3600, {level}]]

[solver]
max_dt_s = 5
"#
    );
    let path = dir.join(format!("valley_{level}.toml"));
    std::fs::write(&path, &text).unwrap();
    LoadedScenario::load(&path).unwrap()
}

/// The second route for the flooded area: cells 4-connected to the west edge whose ground is
/// more than `depth` below `level`, with buildings blocked (a flood fill on the DEM).
fn connected_below(level: f64, depth: f64) -> usize {
    let blocks: Vec<MultiPolygon<f64>> = buildings().into_iter().map(|b| b.1).collect();
    let open = |c: usize, r: usize| {
        let (x, y) = (X0 + (c as f64 + 0.5) * DX, Y1 - (r as f64 + 0.5) * DX);
        let p = Point::new(x, y);
        !blocks.iter().any(|b| geo::Contains::contains(b, &p)) && ground(x, y) < level - depth
    };
    let mut seen = vec![false; NX * NY];
    let mut q = VecDeque::new();
    for r in 0..NY {
        if open(0, r) {
            seen[r * NX] = true;
            q.push_back((0usize, r));
        }
    }
    let mut n = 0;
    while let Some((c, r)) = q.pop_front() {
        n += 1;
        let mut nb = vec![];
        if c > 0 {
            nb.push((c - 1, r));
        }
        if c + 1 < NX {
            nb.push((c + 1, r));
        }
        if r > 0 {
            nb.push((c, r - 1));
        }
        if r + 1 < NY {
            nb.push((c, r + 1));
        }
        for (c2, r2) in nb {
            if !seen[r2 * NX + c2] && open(c2, r2) {
                seen[r2 * NX + c2] = true;
                q.push_back((c2, r2));
            }
        }
    }
    n
}

fn gdalinfo(path: &Path, stats: bool) -> serde_json::Value {
    let mut cmd = Command::new("gdalinfo");
    cmd.arg("-json");
    if stats {
        cmd.arg("-stats");
    }
    let out = cmd
        .arg(path)
        .output()
        .expect("gdalinfo (gdal-bin) must be installed");
    assert!(
        out.status.success(),
        "gdalinfo {}: {}",
        path.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    // -stats writes a .aux.xml beside the file; harmless in a temp dir.
    serde_json::from_slice(&out.stdout).unwrap()
}

/// Read a single-band float32 GeoTIFF with the `tiff` decoder.
fn read_tiff(path: &Path) -> (usize, usize, Vec<f32>) {
    let mut d = tiff::decoder::Decoder::new(std::fs::File::open(path).unwrap()).unwrap();
    let (w, h) = d.dimensions().unwrap();
    match d.read_image().unwrap() {
        tiff::decoder::DecodingResult::F32(v) => (w as usize, h as usize, v),
        _ => panic!("not float32"),
    }
}

fn run(twin: &Twin, dir: &Path, level: f64) -> (FloodReport, PathBuf) {
    let sc = scenario(dir, level);
    let out = dir.join(format!("out_{level}"));
    let rep = run_loaded(&sc, twin, &out, &cpu_solver, &NoProgress).unwrap();
    (rep, out)
}

#[test]
fn valley_flood_grows_with_stage() {
    let twin = valley_twin();
    let tmp = tempfile::tempdir().unwrap();
    let mut areas = Vec::new();
    let mut last = None;
    for level in [1.0, 2.0, 3.0] {
        let (rep, out) = run(&twin, tmp.path(), level);
        let cell = DX * DX;
        let hazard_area = rep.frames.last().unwrap().hazard_area_m2;
        let expected = connected_below(level, 0.3) as f64 * cell;
        eprintln!(
            "stage {level} m: area > 0.3 m {hazard_area} m² (flood fill {expected} m²), wet {} m², {} steps, mass error {:e}",
            rep.frames.last().unwrap().flooded_area_m2,
            rep.steps,
            rep.mass_balance.relative_error
        );
        // Near equilibrium after 40 min at the final level: within 5 % of the flood fill.
        assert!(
            (hazard_area - expected).abs() <= 0.05 * expected,
            "{hazard_area} vs {expected}"
        );
        assert!(
            rep.mass_balance.relative_error < 1e-9,
            "{:?}",
            rep.mass_balance
        );
        areas.push((rep.max_flooded_area_m2, hazard_area));
        last = Some((rep, out, level));
    }
    assert!(
        areas.windows(2).all(|w| w[1].0 > w[0].0 && w[1].1 > w[0].1),
        "{areas:?}"
    );

    // Outputs of the highest stage, read back through GDAL and the tiff decoder.
    let (rep, out, level) = last.unwrap();
    let md = out.join("max_depth.tif");
    let info = gdalinfo(&md, true);
    assert_eq!(info["size"], serde_json::json!([NX, NY]));
    let gt: Vec<f64> = serde_json::from_value(info["geoTransform"].clone()).unwrap();
    assert_eq!(gt, vec![X0, DX, 0.0, Y1, 0.0, -DX]);
    let wkt = info["coordinateSystem"]["wkt"].as_str().unwrap();
    assert!(wkt.contains("32648"), "{wkt}");
    let band = &info["bands"][0];
    assert_eq!(band["type"], "Float32");
    let (w, h, maxd) = read_tiff(&md);
    assert_eq!((w, h), (NX, NY));
    let our_max = maxd
        .iter()
        .copied()
        .filter(|v| v.is_finite())
        .fold(0.0f32, f32::max);
    let gdal_max: f64 = band["metadata"][""]["STATISTICS_MAXIMUM"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(
        (gdal_max - our_max as f64).abs() < 1e-6,
        "{gdal_max} vs {our_max}"
    );
    // The deepest water is in the river bed: level − (−1 m + 0.1 % eastwards) at the west end.
    assert!(
        (our_max as f64 - (level + 1.0)).abs() < 0.15,
        "max depth {our_max}"
    );
    let vel = gdalinfo(&out.join("velocity_0003600s.tif"), false);
    assert_eq!(vel["bands"].as_array().unwrap().len(), 2);
    assert_eq!(vel["size"], serde_json::json!([NX, NY]));
    assert!(rep.files.iter().any(|f| f == "duration_above_0.3m_s.tif"));

    // Buildings table: max depth equals the largest max depth on the open cells within one cell
    // of the footprint, read from the raster here.
    let mut rd = csv::Reader::from_path(out.join("buildings.csv")).unwrap();
    let hdr = rd.headers().unwrap().clone();
    let col = |n: &str| hdr.iter().position(|h| h == n).unwrap();
    let rows: Vec<csv::StringRecord> = rd.records().map(|r| r.unwrap()).collect();
    for (id, fp) in buildings() {
        let r = rows.iter().find(|r| &r[col("id")] == id.as_str()).unwrap();
        let mut expect = 0.0f32;
        for row in 0..NY {
            for c in 0..NX {
                let (x, y) = (X0 + (c as f64 + 0.5) * DX, Y1 - (row as f64 + 0.5) * DX);
                let d = Euclidean.distance(
                    &Point::new(x, y),
                    &geo_types::Geometry::MultiPolygon(fp.clone()),
                );
                let v = maxd[row * NX + c];
                if d <= DX && v.is_finite() {
                    expect = expect.max(v);
                }
            }
        }
        let got: f64 = r[col("max_depth_m")].parse().unwrap();
        assert!(
            (got - expect as f64).abs() < 1e-5,
            "{id}: {got} vs {expect}"
        );
    }
    let depth_of = |id: &str| -> f64 {
        rows.iter().find(|r| &r[col("id")] == id).unwrap()[col("max_depth_m")]
            .parse()
            .unwrap()
    };
    assert!(depth_of("b-low") > 0.3, "b-low stays dry");
    // b-high stands on ground at about 3.2 m, above the 3 m stage: only rain ponds against its
    // uphill wall (2.5 mm of rain gathered from the slope above it).
    assert!(depth_of("b-high") < 0.1, "b-high reached by the river");
    // The bank road at y = Y1 − 160 (25 m from the river axis, ground ≈ 0.7 m) is under water
    // at a 3 m stage.
    let roads = std::fs::read_to_string(out.join("roads.csv")).unwrap();
    assert!(
        roads.lines().count() == 2 && roads.contains("r-bank"),
        "{roads}"
    );
    let heritage = std::fs::read_to_string(out.join("heritage.csv")).unwrap();
    assert!(heritage.contains("h-temple"), "{heritage}");
    let summary: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("summary.json")).unwrap()).unwrap();
    assert_eq!(summary["steps"], rep.steps);
    assert!(out.join("scenario.toml").exists());
}

/// The Hue sample twin (`data/hue`) with the Perfume River held at a stage and 30 mm/h of rain
/// for half an hour: the flooded area must grow with the stage. It skips (loudly) when
/// data/hue/twin.toml is absent.
#[test]
fn hue_sample_flood_grows_with_stage() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../data/hue");
    if !dir.join("twin.toml").exists() {
        eprintln!("\n!!!!!!!! SKIPPED hue_sample_flood_grows_with_stage: {} has no twin.toml yet !!!!!!!!\n", dir.display());
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    // Build a copy of the twin in a temp folder so that the repository's data stays untouched.
    let copy = tmp.path().join("hue");
    let td = twin_core::TwinDir::open(&dir)
        .unwrap()
        .copy_without_store(&copy)
        .unwrap();
    td.build(&NoProgress).unwrap();
    let twin = td.load().unwrap();
    assert!(!twin.terrain.is_empty(), "the Hue sample twin has no DEM");
    let river = twin
        .water
        .features()
        .iter()
        .find(|w| w.id.contains("song-huong") || w.name.as_deref() == Some("Sông Hương"))
        .expect("the Perfume River (song-huong) in the water layer")
        .id
        .clone();
    let mut areas = Vec::new();
    for level in [2.0, 3.0, 4.0] {
        let text = format!(
            r#"name = "Perfume River at {level} m, 30 mm/h"
twin = "hue"
resolution_m = 60
duration_s = 3600
output_interval_s = 1800
snapshots = false

[rain]
series = [[0, 30], [1800, 0]]

[[stage]]
name = "Perfume River"
water = "{river}"
series = [[0, {level}], [3600, {level}]]
fill = true
"#
        );
        let path = tmp.path().join(format!("hue_{level}.toml"));
        std::fs::write(&path, text).unwrap();
        let sc = LoadedScenario::load(&path).unwrap();
        let out = tmp.path().join(format!("hue_out_{level}"));
        let rep = run_loaded(&sc, &twin, &out, &cpu_solver, &NoProgress).unwrap();
        eprintln!(
            "Hue, stage {level} m: ever wet {:.0} m², deeper than 0.3 m {:.0} m², buildings above 0.3 m {}, mass error {:e}",
            rep.max_flooded_area_m2,
            rep.frames.last().unwrap().hazard_area_m2,
            rep.buildings_above_hazard_depth,
            rep.mass_balance.relative_error
        );
        assert!(rep.mass_balance.relative_error < 1e-9);
        areas.push((
            rep.frames.last().unwrap().hazard_area_m2,
            rep.buildings_above_hazard_depth,
            rep.max_flooded_area_m2,
        ));
    }
    // The area under more than 0.3 m of water and the buildings it reaches grow with the stage
    // (the area ever wet grows too, but 15 mm of rain already wets most of the plain).
    assert!(
        areas
            .windows(2)
            .all(|w| w[1].0 > w[0].0 && w[1].1 > w[0].1 && w[1].2 >= w[0].2),
        "{areas:?}"
    );
}

/// A levee edit: the river enters along the west edge south of a levee drawn across the valley
/// on the north bank (crest 3 m, the ground there is under 1 m). With the levee the building
/// behind it stays dry at a 2 m stage; without it, it stands in more than 0.3 m of water. The
/// crest is read back from `ground.tif`, and a scenario giving both `crest_m` and `raise_m`
/// is refused at its line.
#[test]
fn levee_keeps_the_floodplain_dry() {
    let twin = valley_twin();
    let tmp = tempfile::tempdir().unwrap();
    // Row 17 (y = Y1 − 175) is the levee; the stage cells are column 0 from row 18 down.
    let run_with = |levee: &str| {
        let text = format!(
            r#"twin = "."
duration_s = 2400
output_interval_s = 1200
snapshots = false

[[stage]]
line = [[{x0}, {ys}], [{x0}, {ye}]]
series = [[0, -1.0], [600, 2.0], [2400, 2.0]]
{levee}
"#,
            x0 = X0 + 5.0,
            ys = Y1 - 185.0,
            ye = Y1 - 395.0,
        );
        let path = tmp.path().join("levee.toml");
        std::fs::write(&path, text).unwrap();
        let sc = LoadedScenario::load(&path).unwrap();
        let out = tmp.path().join(if levee.is_empty() {
            "no_levee"
        } else {
            "levee"
        });
        let rep = run_loaded(&sc, &twin, &out, &cpu_solver, &NoProgress).unwrap();
        let rows: Vec<csv::StringRecord> = csv::Reader::from_path(out.join("buildings.csv"))
            .unwrap()
            .records()
            .map(|r| r.unwrap())
            .collect();
        let b_low: f64 = rows.iter().find(|r| &r[0] == "b-low").unwrap()[4]
            .parse()
            .unwrap();
        (rep, out, b_low)
    };
    let levee = format!(
        "[[levee]]\nname = \"north bank\"\nline = [[{}, {y}], [{}, {y}]]\ncrest_m = 3.0",
        X0,
        X0 + 600.0,
        y = Y1 - 175.0
    );
    let (_, _, open_depth) = run_with("");
    let (rep, out, shut_depth) = run_with(&levee);
    eprintln!("b-low: {open_depth:.3} m without the levee, {shut_depth:.3} m behind it");
    assert!(open_depth > 0.3, "{open_depth}");
    assert!(shut_depth < 0.01, "{shut_depth}");
    assert!(
        rep.notes
            .iter()
            .any(|n| n.contains("levee north bank raised 60 cells")),
        "{:?}",
        rep.notes
    );
    let (w, _, ground) = read_tiff(&out.join("ground.tif"));
    assert!((0..w).all(|c| ground[17 * w + c] == 3.0), "crest row");
    assert!(ground[16 * w + 30] < 3.0 && ground[18 * w + 30] < 3.0);

    let bad = tmp.path().join("bad_levee.toml");
    std::fs::write(
        &bad,
        "twin = \".\"\nduration_s = 10\noutput_interval_s = 10\n\n[[levee]]\nline = [[0, 0], [1, 1]]\ncrest_m = 3\nraise_m = 1\n",
    )
    .unwrap();
    let e = LoadedScenario::load(&bad).unwrap_err().to_string();
    assert!(
        e.contains("line 6, field `levee`: give either `crest_m` or `raise_m`"),
        "{e}"
    );
}

/// Issue 20: the scenario file takes free-outflow edges (`[[outflow]]`), a frictionless
/// `[manning]` (n = 0) and an α above √(θ/2), which the run's notes warn about (the notes are
/// what `twin flood` prints); a bad edge or kind is refused naming the line and the field.
#[test]
fn outflow_edges_frictionless_and_warnings_from_the_scenario_file() {
    let twin = valley_twin();
    let tmp = tempfile::tempdir().unwrap();
    let base = r#"name = "valley drains east"
twin = "."
duration_s = 600
output_interval_s = 600
snapshots = false

[rain]
series = [[0, 50.0], [300, 0]]

[manning]
default = 0.0

[solver]
alpha = 0.65
max_dt_s = 5
"#;
    let path = tmp.path().join("drain.toml");
    std::fs::write(
        &path,
        format!("{base}\n[[outflow]]\nedge = \"east\"\nkind = \"critical\"\n\n[[outflow]]\nedge = \"west\"\nslope = 0.01\n"),
    )
    .unwrap();
    let sc = LoadedScenario::load(&path).unwrap();
    let rep = run_loaded(
        &sc,
        &twin,
        &tmp.path().join("out"),
        &cpu_solver,
        &NoProgress,
    )
    .unwrap();
    let mb = &rep.mass_balance;
    assert!(mb.boundary_net_m3 < 0.0, "nothing left: {mb:?}");
    assert!(mb.relative_error < 1e-9, "{mb:?}");
    assert!(
        rep.notes
            .iter()
            .any(|n| n.starts_with("warning: solver alpha 0.65")),
        "{:?}",
        rep.notes
    );
    assert!(rep
        .notes
        .iter()
        .any(|n| n.contains("free outflow on the east edge")));
    for (bad, field) in [
        ("[[outflow]]\nedge = \"up\"\n", "edge"),
        ("[[outflow]]\nedge = \"east\"\nkind = \"weir\"\n", "kind"),
        (
            "[[outflow]]\nedge = \"east\"\nkind = \"critical\"\nslope = 0.1\n",
            "slope",
        ),
    ] {
        let p = tmp.path().join("bad.toml");
        std::fs::write(&p, format!("{base}\n{bad}")).unwrap();
        let sc = LoadedScenario::load(&p).unwrap();
        let e = run_loaded(
            &sc,
            &twin,
            &tmp.path().join("bad"),
            &cpu_solver,
            &NoProgress,
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("bad.toml") && e.contains(field), "{bad}: {e}");
    }
}

/// Issue 20: Manning's n from a raster (`[[manning.raster]]`): a land-cover grid (ESRI ASCII,
/// code 1 on the west half, 2 on the east half, nodata in one corner) with a class table sets
/// n cell by cell; a mask with `n` sets it where the mask is not 0; cells at nodata keep the
/// default; a class table with an n out of range is refused naming the field.
#[test]
fn manning_from_a_land_cover_raster() {
    use scenarios::flood::prepare::prepare;
    let twin = valley_twin();
    let tmp = tempfile::tempdir().unwrap();
    let base = "name = \"n from a raster\"\ntwin = \".\"\nduration_s = 60\noutput_interval_s = 60\n\n[manning]\ndefault = 0.035\n";
    let write = |name: &str, text: String| {
        let p = tmp.path().join(name);
        std::fs::write(&p, text).unwrap();
        p
    };
    let plain = LoadedScenario::load(&write("plain.toml", base.to_string())).unwrap();
    let g = prepare(&plain, &twin).unwrap().model.grid;
    let mut asc = format!(
        "ncols {}\nnrows {}\nxllcorner {}\nyllcorner {}\ncellsize {}\nNODATA_value -9999\n",
        g.nx,
        g.ny,
        g.xmin,
        g.ymax - g.ny as f64 * g.dx,
        g.dx
    );
    for j in 0..g.ny {
        let row: Vec<String> = (0..g.nx)
            .map(|i| {
                if i == 0 && j == 0 {
                    "-9999".into()
                } else if i < g.nx / 2 {
                    "1".into()
                } else {
                    "2".into()
                }
            })
            .collect();
        asc.push_str(&row.join(" "));
        asc.push('\n');
    }
    write("cover.asc", asc);
    let sc = LoadedScenario::load(&write(
        "cover.toml",
        format!("{base}[[manning.raster]]\nfile = \"cover.asc\"\nclasses = {{ \"1\" = 0.02, \"2\" = 0.08 }}\n"),
    ))
    .unwrap();
    let m = prepare(&sc, &twin).unwrap().model;
    for j in 0..g.ny {
        for i in 0..g.nx {
            let want = if i == 0 && j == 0 {
                0.035
            } else if i < g.nx / 2 {
                0.02
            } else {
                0.08
            };
            assert_eq!(m.manning[j * g.nx + i], want, "cell {i},{j}");
        }
    }
    let sc = LoadedScenario::load(&write(
        "mask.toml",
        format!("{base}[[manning.raster]]\nfile = \"cover.asc\"\nn = 0.0\n"),
    ))
    .unwrap();
    let m = prepare(&sc, &twin).unwrap().model;
    assert_eq!(m.manning[0], 0.035, "nodata keeps the default");
    assert!(m.manning[1..].iter().all(|&n| n == 0.0));
    let sc = LoadedScenario::load(&write(
        "bad.toml",
        format!("{base}[[manning.raster]]\nfile = \"cover.asc\"\nclasses = {{ \"1\" = 1.5 }}\n"),
    ))
    .unwrap();
    let Err(e) = prepare(&sc, &twin) else {
        panic!("an n of 1.5 was taken")
    };
    let e = e.to_string();
    assert!(e.contains("bad.toml") && e.contains("classes"), "{e}");
}
