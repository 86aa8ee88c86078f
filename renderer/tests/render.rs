//! Pictures of the Hue sample twin (`data/hue`) with a short flood run here and a made-up
//! traffic table: the water on the map against the flood raster, a deep building's colour,
//! stored reference pictures, result loading and camera parsing.
//!
//! The pictures need a GPU adapter: a real GPU, or Mesa's software Vulkan (lavapipe, Debian
//! package mesa-vulkan-drivers, installed by `scripts/setup.sh --test`). Without one these
//! tests FAIL with a message saying so; they never pass silently.
//!
//! Reference pictures: `tests/ref/*.png`; regenerate them with `HUETWIN_UPDATE_REFS=1`.

use renderer::render::{
    colour, Camera, FloodLayer, Image, Layers, MapView, Renderer, Scene, TrafficLayer,
};
use scenarios::flood::cases::sample_river_flood;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use twin_core::Twin;

struct Fixture {
    twin: Twin,
    flood: PathBuf,
    traffic: PathBuf,
}

/// Build a copy of data/hue, run a 30-minute flood (stage 2.8 m, 40 mm/h) on a 60 m grid, and
/// write a traffic table, once for all tests.
fn fx() -> &'static Fixture {
    static FX: OnceLock<Fixture> = OnceLock::new();
    FX.get_or_init(|| {
        let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("../data/hue");
        assert!(
            src.join("twin.toml").exists(),
            "the Hue sample twin {} is missing",
            src.display()
        );
        let root = Path::new(env!("CARGO_TARGET_TMPDIR")).join("render_fixture");
        let _ = std::fs::remove_dir_all(&root);
        let (twin, flood) = sample_river_flood(&src, &root, 900).unwrap();
        // A traffic result: two links per road, v/c spread over the three classes; the road's
        // colour comes from the larger one.
        let traffic = root.join("traffic");
        std::fs::create_dir_all(&traffic).unwrap();
        let mut csv = String::from("link,road_id,volume,capacity,vc\n");
        for (i, r) in twin.roads.features().iter().enumerate() {
            let vc = ((i * 7) % 12) as f64 / 10.0;
            csv.push_str(&format!("{i}a,{},0,0,{vc}\n", r.id));
            csv.push_str(&format!("{i}b,{},0,0,{}\n", r.id, vc / 2.0));
        }
        std::fs::write(traffic.join("links.csv"), csv).unwrap();
        Fixture {
            twin,
            flood,
            traffic,
        }
    })
}

fn renderer() -> &'static Renderer {
    static R: OnceLock<Renderer> = OnceLock::new();
    R.get_or_init(|| match Renderer::new() {
        Ok(r) => {
            eprintln!("GPU adapter: {}", r.adapter());
            r
        }
        Err(e) => panic!(
            "the rendering tests need a GPU adapter (a GPU driver, or Mesa's software Vulkan: \
             apt-get install mesa-vulkan-drivers, as scripts/setup.sh --test does): {e}"
        ),
    })
}

fn only(layers: &[&str]) -> Layers {
    Layers {
        terrain: layers.contains(&"terrain"),
        buildings: layers.contains(&"buildings"),
        water: layers.contains(&"water"),
        roads: layers.contains(&"roads"),
        legend: layers.contains(&"legend"),
    }
}

/// The flood raster read straight with the `tiff` crate, georeferenced from summary.json's grid.
struct Raster {
    nx: usize,
    ny: usize,
    dx: f64,
    xmin: f64,
    ymax: f64,
    v: Vec<f32>,
}

impl Raster {
    fn read(dir: &Path, file: &str) -> Raster {
        let summary: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(dir.join("summary.json")).unwrap())
                .unwrap();
        let g = &summary["grid"];
        let mut dec =
            tiff::decoder::Decoder::new(std::fs::File::open(dir.join(file)).unwrap()).unwrap();
        let (w, h) = dec.dimensions().unwrap();
        let v = match dec.read_image().unwrap() {
            tiff::decoder::DecodingResult::F32(v) => v,
            _ => panic!("{file} is not float32"),
        };
        let r = Raster {
            nx: g["nx"].as_u64().unwrap() as usize,
            ny: g["ny"].as_u64().unwrap() as usize,
            dx: g["dx"].as_f64().unwrap(),
            xmin: g["xmin"].as_f64().unwrap(),
            ymax: g["ymax"].as_f64().unwrap(),
            v,
        };
        assert_eq!((r.nx, r.ny), (w as usize, h as usize));
        r
    }

    fn wet_at(&self, x: f64, y: f64) -> bool {
        let (fi, fj) = ((x - self.xmin) / self.dx, (self.ymax - y) / self.dx);
        if fi < 0.0 || fj < 0.0 || fi >= self.nx as f64 || fj >= self.ny as f64 {
            return false;
        }
        let d = self.v[fj as usize * self.nx + fi as usize];
        d.is_finite() && f64::from(d) >= colour::WET_THRESHOLD_M
    }
}

fn is_water(p: [u8; 4]) -> bool {
    i32::from(p[2]) - i32::from(p[0]) > 30
}

/// The map with only the water layer: the blue pixels cover the raster's wet area within 3 %,
/// and ≥ 95 % of them lie on wet cells while ≥ 95 % of the wet cells' centres are blue.
#[test]
fn map_water_matches_the_flood_raster() {
    let f = fx();
    let layer = FloodLayer::load(&f.flood, None).unwrap();
    let mut scene = Scene::from_twin(&f.twin).unwrap().with_flood(layer.clone());
    scene.layers = only(&["water"]);
    let (w, h) = (700, 1000);
    let img = renderer()
        .render(&scene, &Camera::Map { bbox: None }, w, h)
        .unwrap();
    let view = MapView::new(&scene, None, w, h);
    let raster = Raster::read(&f.flood, "max_depth.tif");
    let wet_cells = raster
        .v
        .iter()
        .filter(|d| d.is_finite() && f64::from(**d) >= colour::WET_THRESHOLD_M)
        .count();
    let raster_area = wet_cells as f64 * raster.dx * raster.dx;
    assert!(
        (layer.wet_area_m2() - raster_area).abs() < 1e-6 * raster_area,
        "the renderer's reading of max_depth.tif disagrees with the tiff crate's"
    );
    assert!(
        wet_cells > 500,
        "only {wet_cells} wet cells: the flood did not happen"
    );
    let (mut water_px, mut on_wet) = (0usize, 0usize);
    for py in 0..h {
        for px in 0..w {
            if is_water(img.pixel(px, py)) {
                water_px += 1;
                let (x, y) = view.ground(px, py);
                on_wet += raster.wet_at(x, y) as usize;
            }
        }
    }
    let mpp = view.metres_per_pixel;
    let picture_area = water_px as f64 * mpp * mpp;
    let rel = (picture_area - raster_area).abs() / raster_area;
    let (mut centres, mut centres_blue) = (0usize, 0usize);
    for j in 0..raster.ny {
        for i in 0..raster.nx {
            let x = raster.xmin + (i as f64 + 0.5) * raster.dx;
            let y = raster.ymax - (j as f64 + 0.5) * raster.dx;
            if raster.wet_at(x, y) {
                if let Some((px, py)) = view.pixel(x, y) {
                    centres += 1;
                    centres_blue += is_water(img.pixel(px, py)) as usize;
                }
            }
        }
    }
    let precision = on_wet as f64 / water_px as f64;
    let recall = centres_blue as f64 / centres as f64;
    eprintln!(
        "water: picture {picture_area:.0} m² ({water_px} px of {mpp:.2} m), raster {raster_area:.0} m² ({wet_cells} cells); relative difference {rel:.4}; blue pixels on wet cells {precision:.4}; wet cell centres blue {recall:.4}"
    );
    assert!(rel <= 0.03, "wet area differs by {:.2} %", rel * 100.0);
    assert!(precision >= 0.95, "{precision}");
    assert!(centres > 0 && recall >= 0.95, "{recall} of {centres}");
}

/// The deepest building of buildings.csv gets the deep colour on its roof (flat-lit), a dry one
/// stays grey.
#[test]
fn deep_building_gets_the_deep_colour() {
    let f = fx();
    let mut depths: Vec<(String, f64)> = scenarios::output::RunDir::new(&f.flood)
        .feature_depths(scenarios::output::FeatureTable::Buildings)
        .unwrap()
        .into_iter()
        .collect();
    depths.sort_by(|a, b| b.1.total_cmp(&a.1));
    let scene = {
        let mut s = Scene::from_twin(&f.twin)
            .unwrap()
            .with_flood(FloodLayer::load(&f.flood, None).unwrap());
        s.layers = only(&["buildings"]);
        s
    };
    let (deep_id, deep) = depths[0].clone();
    assert!(deep >= 0.5, "the deepest building has only {deep} m");
    let dry = depths
        .iter()
        .rev()
        .find(|(_, d)| *d < 0.01)
        .expect("a dry building")
        .clone();
    let shade = colour::flat_shade();
    for (id, d) in [(deep_id.clone(), deep), dry.clone()] {
        let (x, y) = scene.building_inside_point(&id).unwrap();
        let cam = Camera::Map {
            bbox: Some([x - 40.0, y - 40.0, x + 40.0, y + 40.0]),
        };
        let img = renderer().render(&scene, &cam, 160, 160).unwrap();
        let view = MapView::new(
            &scene,
            Some([x - 40.0, y - 40.0, x + 40.0, y + 40.0]),
            160,
            160,
        );
        let (px, py) = view.pixel(x, y).unwrap();
        let got = img.pixel(px, py);
        let want = colour::shaded(
            colour::building_colour(Some(d), colour::WET_THRESHOLD_M),
            shade,
        );
        eprintln!("building {id}: depth {d} m, pixel {got:?}, expected {want:?}");
        for k in 0..3 {
            assert!(
                (i32::from(got[k]) - i32::from(want[k])).abs() <= 3,
                "building {id} ({d} m): pixel {got:?}, expected {want:?}"
            );
        }
    }
    // The deep colour is far from the dry grey (the ramp's red-purple end) and the dry one grey.
    let deep_c = colour::building_colour(Some(deep), colour::WET_THRESHOLD_M);
    let far: i32 = (0..3)
        .map(|k| (i32::from(deep_c[k]) - i32::from(colour::BUILDING_DRY[k])).abs())
        .sum();
    assert!(far > 200 && deep_c[0] > deep_c[1], "{deep_c:?}");
    assert_eq!(
        colour::building_colour(Some(dry.1), colour::WET_THRESHOLD_M),
        colour::BUILDING_DRY
    );
}

/// Share of pixels whose channels differ by more than this: the reference tolerance.
const REF_CHANNEL_TOLERANCE: i32 = 24;
/// Largest share of such pixels.
const REF_PIXEL_SHARE: f64 = 0.005;

fn compare_with_reference(name: &str, img: &Image) {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/ref")
        .join(format!("{name}.png"));
    if std::env::var("HUETWIN_UPDATE_REFS").is_ok_and(|v| v == "1") {
        std::fs::write(&path, img.to_png().unwrap()).unwrap();
        eprintln!("wrote {}", path.display());
        return;
    }
    let bytes = std::fs::read(&path).unwrap_or_else(|e| {
        panic!(
            "{}: {e}; make it with HUETWIN_UPDATE_REFS=1 cargo test -p renderer --test render",
            path.display()
        )
    });
    let reference = Image::from_png(&bytes).unwrap();
    assert_eq!((reference.width, reference.height), (img.width, img.height));
    let mut diff = reference.clone();
    let mut bad = 0usize;
    for (k, (a, b)) in img
        .rgba
        .chunks_exact(4)
        .zip(reference.rgba.chunks_exact(4))
        .enumerate()
    {
        let worst = (0..3)
            .map(|c| (i32::from(a[c]) - i32::from(b[c])).abs())
            .max()
            .unwrap();
        let out = &mut diff.rgba[k * 4..k * 4 + 4];
        if worst > REF_CHANNEL_TOLERANCE {
            bad += 1;
            out.copy_from_slice(&[255, 0, 0, 255]);
        } else {
            let g = (b[0] as u32 + b[1] as u32 + b[2] as u32) / 3;
            let g = (128 + g / 2) as u8;
            out.copy_from_slice(&[g, g, g, 255]);
        }
    }
    let share = bad as f64 / (img.width * img.height) as f64;
    eprintln!(
        "{name}: {bad} pixels ({:.3} %) differ by more than {REF_CHANNEL_TOLERANCE}",
        share * 100.0
    );
    if share > REF_PIXEL_SHARE {
        let dir = Path::new(env!("CARGO_TARGET_TMPDIR"));
        let (a, d) = (
            dir.join(format!("render-{name}-actual.png")),
            dir.join(format!("render-{name}-diff.png")),
        );
        std::fs::write(&a, img.to_png().unwrap()).unwrap();
        std::fs::write(&d, diff.to_png().unwrap()).unwrap();
        panic!(
            "{name}: {:.3} % of the pixels differ from {} by more than {REF_CHANNEL_TOLERANCE} (at most {} % allowed); actual picture {}, differences in red {}",
            share * 100.0,
            path.display(),
            REF_PIXEL_SHARE * 100.0,
            a.display(),
            d.display()
        );
    }
}

fn full_scene() -> Scene {
    let f = fx();
    Scene::from_twin(&f.twin)
        .unwrap()
        .with_flood(FloodLayer::load(&f.flood, None).unwrap())
        .with_traffic(TrafficLayer::load(&f.traffic).unwrap())
}

/// The whole twin as a map with every layer and the legend, against tests/ref/map.png; written
/// through `render_png` and decoded again.
#[test]
fn map_matches_the_reference() {
    let scene = full_scene();
    let _ = renderer();
    let png = renderer::render::render_png(&scene, &Camera::Map { bbox: None }, 480, 300).unwrap();
    let img = Image::from_png(&png).unwrap();
    assert_eq!((img.width, img.height), (480, 300));
    compare_with_reference("map", &img);
}

/// The `citadel` perspective preset with every layer, against tests/ref/citadel.png.
#[test]
fn citadel_view_matches_the_reference() {
    let scene = full_scene();
    let cam = Camera::parse("citadel", &scene.crs).unwrap();
    let img = renderer().render(&scene, &cam, 480, 300).unwrap();
    compare_with_reference("citadel", &img);
}

/// Result folders and cameras: snapshots by time, errors that name the file, the largest v/c
/// per road, camera forms and the Citadel preset's target.
#[test]
fn results_and_cameras_load_or_fail_clearly() {
    let f = fx();
    let max = FloodLayer::load(&f.flood, None).unwrap();
    let at = FloodLayer::load(&f.flood, Some(900.0)).unwrap();
    assert_eq!(at.time_s, Some(900.0));
    assert_eq!(max.name.as_deref(), Some("Perfume River at 2.8 m, 40 mm/h"));
    // The depth at 15 minutes never exceeds the largest depth (both read back from GeoTIFF).
    let snap = Raster::read(&f.flood, "depth_0000900s.tif");
    assert_eq!(snap.v.len(), max.depth.ncols * max.depth.nrows);
    for r in 0..max.depth.nrows {
        for c in 0..max.depth.ncols {
            if let (Some(a), Some(m)) = (at.depth.get(c, r), max.depth.get(c, r)) {
                if a.is_finite() && m.is_finite() {
                    assert!(a <= m + 1e-6, "cell {c},{r}: {a} > {m}");
                }
            }
        }
    }
    assert!(at.wet_area_m2() <= max.wet_area_m2());
    let e = FloodLayer::load(&f.flood, Some(1234.0))
        .unwrap_err()
        .to_string();
    assert!(e.contains("depth_0001234s.tif") && e.contains("900"), "{e}");
    let e = FloodLayer::load(&f.flood.join("nope"), None)
        .unwrap_err()
        .to_string();
    assert!(e.contains("nope"), "{e}");
    let e = TrafficLayer::load(&f.flood).unwrap_err().to_string();
    assert!(e.contains("links.csv"), "{e}");

    // v/c: the larger link of each road (the table has vc and vc/2 per road).
    let t = TrafficLayer::load(&f.traffic).unwrap();
    let mut want: HashMap<String, f64> = HashMap::new();
    for (i, r) in f.twin.roads.features().iter().enumerate() {
        want.insert(r.id.clone(), ((i * 7) % 12) as f64 / 10.0);
    }
    assert_eq!(t.vc, want);
    let bad = f.traffic.join("bad");
    std::fs::create_dir_all(&bad).unwrap();
    std::fs::write(bad.join("links.csv"), "road_id,vc\na,0.5\nb,lots\n").unwrap();
    let e = TrafficLayer::load(&bad).unwrap_err().to_string();
    assert!(e.contains("links.csv") && e.contains("line 3"), "{e}");
    std::fs::write(bad.join("links.csv"), "road,volume\na,0.5\n").unwrap();
    let e = TrafficLayer::load(&bad).unwrap_err().to_string();
    assert!(e.contains("road_id"), "{e}");

    let crs = &f.twin.crs;
    assert_eq!(
        Camera::parse("map", crs).unwrap(),
        Camera::Map { bbox: None }
    );
    assert_eq!(
        Camera::parse("map:1,2,3,4", crs).unwrap(),
        Camera::Map {
            bbox: Some([1.0, 2.0, 3.0, 4.0])
        }
    );
    for bad in [
        "persp:1,2,3",
        "map:3,2,1,4",
        "orbit",
        "persp:0,0,100,0,30,200",
        "map:a,b,c,d",
    ] {
        let e = Camera::parse(bad, crs).unwrap_err().to_string();
        assert!(e.contains("camera"), "{bad}: {e}");
    }
    // The preset looks at the Citadel: follow the heading from the eye to the target and take
    // it back to WGS84.
    let Camera::Perspective {
        eye,
        heading_deg,
        pitch_deg,
        ..
    } = Camera::parse("citadel", crs).unwrap()
    else {
        panic!("citadel is a perspective camera")
    };
    let dist = (eye[2] - 4.0) / pitch_deg.to_radians().tan();
    let h = heading_deg.to_radians();
    let (tx, ty) = (eye[0] + dist * h.sin(), eye[1] + dist * h.cos());
    let back = twin_core::crs::Transform::new(crs, &twin_core::Crs::wgs84()).unwrap();
    let (lon, lat) = back.apply(tx, ty).unwrap();
    assert!(
        (lon - 107.5775).abs() < 1e-6 && (lat - 16.4690).abs() < 1e-6,
        "{lon} {lat}"
    );
}

/// The longest run of the legend's ink colour (28, 28, 32) in one row of the picture's
/// bottom-right quarter: the scale bar's length in pixels (its end ticks lie within it).
fn longest_ink_run(img: &Image) -> usize {
    let mut best = 0;
    for y in img.height / 2..img.height {
        let mut run = 0;
        for x in img.width / 2..img.width {
            if img.pixel(x, y)[..3] == [28, 28, 32] {
                run += 1;
                best = best.max(run);
            } else {
                run = 0;
            }
        }
    }
    best
}

/// A perspective picture carries a scale bar for the ground at the image centre: with no
/// terrain the focus is at height 0, at depth D = z / sin(pitch) along the centre ray, so one
/// pixel spans D · 2 tan(fov / 2) / height metres there; the bar is the largest 1-2-5 length up
/// to a fifth of the picture's width, drawn within 2 px of that length over that scale. A
/// near-horizontal view (5°) gets no bar.
#[test]
fn perspective_pictures_carry_a_scale_at_the_image_centre() {
    let f = fx();
    let mut scene = Scene::from_twin(&f.twin).unwrap();
    scene.terrain = None;
    scene.layers = only(&["legend"]);
    let e = scene.extent;
    let (cx, cy) = ((e[0] + e[2]) / 2.0, (e[1] + e[3]) / 2.0);
    for (z, pitch, fov, w, h) in [
        (800.0, 60.0, 50.0, 480u32, 300u32),
        (2500.0, 35.0, 40.0, 640, 400),
    ] {
        let cam = Camera::Perspective {
            eye: [cx, cy, z],
            heading_deg: 30.0,
            pitch_deg: pitch,
            fov_deg: fov,
        };
        let img = renderer().render(&scene, &cam, w, h).unwrap();
        let depth = z / f64::to_radians(pitch).sin();
        let mpp = depth * 2.0 * (f64::to_radians(fov) / 2.0).tan() / f64::from(h);
        let target = f64::from(w) * mpp / 5.0;
        let mut len = 1.0;
        for k in 0..15 {
            for m in [1.0, 2.0, 5.0] {
                let l = m * 10f64.powi(k);
                if l <= target {
                    len = l;
                }
            }
        }
        let expected = len / mpp;
        let run = longest_ink_run(&img) as f64;
        eprintln!("persp z {z} pitch {pitch} fov {fov} {w}x{h}: {len} m = {expected:.1} px expected, {run} px drawn");
        assert!(
            (run - expected).abs() <= 2.0,
            "{run} px against {expected:.1} px for {len} m"
        );
    }
    let flat = Camera::Perspective {
        eye: [cx, cy, 50.0],
        heading_deg: 30.0,
        pitch_deg: 5.0,
        fov_deg: 50.0,
    };
    let img = renderer().render(&scene, &flat, 480, 300).unwrap();
    assert!(longest_ink_run(&img) < 10, "{} px", longest_ink_run(&img));
}
