//! Basemap tiles of the Hue sample twin (`data/hue`): water pixels against the water polygons
//! rasterised here independently, land use colours at points well inside the areas, Vietnamese marks in labels, every layer on a city tile,
//! transparency outside the twin, tile id checks.
//!
//! Needs a GPU adapter (a real GPU, or Mesa's lavapipe from `scripts/setup.sh --test`); without
//! one these tests FAIL saying so. Tiles drawn here are written to `target/tmp/basemap_*.png`.

use renderer::basemap::{style, Basemap, Layers, Options, TileId};
use renderer::render::{text, Image};
use std::path::Path;
use std::sync::OnceLock;
use twin_core::{NoProgress, Twin};

fn twin() -> &'static Twin {
    static T: OnceLock<Twin> = OnceLock::new();
    T.get_or_init(|| {
        let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("../data/hue");
        let copy = Path::new(env!("CARGO_TARGET_TMPDIR")).join("basemap_fixture/hue");
        let _ = std::fs::remove_dir_all(&copy);
        let td = twin_core::TwinDir::open(&src)
            .unwrap()
            .copy_without_store(&copy)
            .unwrap();
        td.build(&NoProgress).unwrap();
        td.load().unwrap()
    })
}

fn basemap() -> &'static Basemap {
    static B: OnceLock<Basemap> = OnceLock::new();
    B.get_or_init(|| match Basemap::new() {
        Ok(b) => {
            eprintln!("GPU adapter: {}", b.adapter());
            b
        }
        Err(e) => panic!(
            "the basemap tests need a GPU adapter (a GPU driver, or Mesa's software Vulkan: \
             apt-get install mesa-vulkan-drivers, as scripts/setup.sh --test does): {e}"
        ),
    })
}

fn save(img: &Image, name: &str) {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/tmp");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join(name), img.to_png().unwrap()).unwrap();
}

// ---- Independent Web Mercator and point-in-polygon (not the renderer's code) ----

/// Pixel of (lon, lat) in tile (z, x, y) of `size` pixels: the spherical Mercator of the XYZ
/// scheme, x = (lon + 180)/360 · 2^z, y = (1 − asinh(tan φ)/π)/2 · 2^z.
fn tile_pixel(lon: f64, lat: f64, t: TileId, size: f64) -> (f64, f64) {
    let n = 2f64.powi(i32::from(t.z));
    let fx = (lon + 180.0) / 360.0 * n;
    let fy = (1.0 - lat.to_radians().tan().asinh() / std::f64::consts::PI) / 2.0 * n;
    ((fx - f64::from(t.x)) * size, (fy - f64::from(t.y)) * size)
}

/// Even-odd rule over every ring of every polygon.
fn inside(p: (f64, f64), rings: &[Vec<(f64, f64)>]) -> bool {
    let mut odd = false;
    for r in rings {
        let n = r.len();
        for i in 0..n {
            let (a, b) = (r[i], r[(i + 1) % n]);
            if (a.1 > p.1) != (b.1 > p.1) && p.0 < a.0 + (p.1 - a.1) / (b.1 - a.1) * (b.0 - a.0) {
                odd = !odd;
            }
        }
    }
    odd
}

/// The water polygons of data/hue/water.geojson: rings of (lon, lat).
fn water_polygons() -> Vec<Vec<Vec<(f64, f64)>>> {
    let text = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../data/hue/water.geojson"),
    )
    .unwrap();
    let v: serde_json::Value = serde_json::from_str(&text).unwrap();
    let ring = |r: &serde_json::Value| -> Vec<(f64, f64)> {
        r.as_array()
            .unwrap()
            .iter()
            .map(|c| (c[0].as_f64().unwrap(), c[1].as_f64().unwrap()))
            .collect()
    };
    let mut out = Vec::new();
    for f in v["features"].as_array().unwrap() {
        let g = &f["geometry"];
        match g["type"].as_str().unwrap() {
            "Polygon" => out.push(
                g["coordinates"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(ring)
                    .collect(),
            ),
            "MultiPolygon" => {
                for p in g["coordinates"].as_array().unwrap() {
                    out.push(p.as_array().unwrap().iter().map(ring).collect());
                }
            }
            _ => {}
        }
    }
    out
}

fn is_water(p: [u8; 4]) -> bool {
    p[3] == 255
        && p[..3]
            .iter()
            .zip(style::WATER)
            .all(|(&a, b)| (i32::from(a) - i32::from(b)).abs() <= 10)
}

/// The test: tiles of the sample twin at zooms 13 and 15, water drawn (over the
/// hillshade and the land use; labels, roads, buildings, waterways off), each pixel's colour against the water
/// polygons rasterised here at the pixel's centre: ≥ 98 % agree.
#[test]
fn water_pixels_match_the_water_polygons() {
    let polys = water_polygons();
    assert!(
        !polys.is_empty(),
        "no water polygon in data/hue/water.geojson"
    );
    let mut bbox = [
        f64::INFINITY,
        f64::INFINITY,
        f64::NEG_INFINITY,
        f64::NEG_INFINITY,
    ];
    for (lon, lat) in polys.iter().flatten().flatten() {
        bbox = [
            bbox[0].min(*lon),
            bbox[1].min(*lat),
            bbox[2].max(*lon),
            bbox[3].max(*lat),
        ];
    }
    let opts = Options {
        tile_size: 256,
        layers: Layers {
            hillshade: true,
            landuse: true,
            heritage: false,
            water: true,
            waterways: false,
            buildings: false,
            roads: false,
            labels: false,
        },
    };
    let mut tiles = TileId::covering(bbox, 13);
    // Zoom 15: every fifth tile over the river (those with both water and land are the test).
    tiles.extend(TileId::covering(bbox, 15).into_iter().step_by(5));
    let (mut agree, mut total, mut water_px, mut tiles_mixed) = (0usize, 0usize, 0usize, 0usize);
    let mut worst = (1.0f64, None);
    for t in tiles {
        let img = basemap().render(twin(), t, &opts).unwrap();
        let rings: Vec<Vec<Vec<(f64, f64)>>> = polys
            .iter()
            .map(|p| {
                p.iter()
                    .map(|r| {
                        r.iter()
                            .map(|&(lo, la)| tile_pixel(lo, la, t, 256.0))
                            .collect()
                    })
                    .collect()
            })
            .collect();
        let (mut a, mut w_expected, mut w_drawn) = (0usize, 0usize, 0usize);
        for y in 0..256u32 {
            for x in 0..256u32 {
                let c = (f64::from(x) + 0.5, f64::from(y) + 0.5);
                let expect = rings.iter().any(|p| inside(c, p));
                let got = is_water(img.pixel(x, y));
                a += usize::from(expect == got);
                w_expected += usize::from(expect);
                w_drawn += usize::from(got);
            }
        }
        let share = a as f64 / 65536.0;
        if w_expected > 0 && w_expected < 65536 {
            tiles_mixed += 1;
        }
        if share < worst.0 {
            worst = (share, Some((t, w_expected, w_drawn)));
            save(&img, &format!("basemap_water_{}_{}_{}.png", t.z, t.x, t.y));
        }
        agree += a;
        total += 65536;
        water_px += w_expected;
    }
    let share = agree as f64 / total as f64;
    eprintln!(
        "water vs polygons: {:.3} % of {total} pixels agree; {water_px} water pixels expected; \
         {tiles_mixed} tiles with water and land; worst tile {:.3} % {:?}",
        share * 100.0,
        worst.0 * 100.0,
        worst.1
    );
    assert!(
        tiles_mixed >= 4,
        "only {tiles_mixed} tiles hold both water and land"
    );
    assert!(
        water_px > 20_000,
        "only {water_px} water pixels: the test would prove little"
    );
    assert!(share >= 0.98, "{:.3} % of the pixels agree", share * 100.0);
    assert!(
        worst.0 >= 0.98,
        "worst tile {:?}: {:.3} %",
        worst.1,
        worst.0 * 100.0
    );
}

/// Land use (issue 17): on zoom-15 tiles with every layer drawn, points well inside the park,
/// forest and residential areas (on a 20 m grid, at least 4 pixels from the area's edge, from
/// any other land use area, heritage site, road, building or water feature, measured here in
/// the project CRS with `geo`) show their class colour (±6 per channel) in ≥ 95 % of the
/// samples, for each group.
#[test]
fn landuse_colours_fill_the_areas() {
    use geo::{Contains, Distance, Euclidean};
    use geo_types::{Geometry, Point, Rect};
    let t = twin();
    let to = twin_core::crs::Transform::new(&t.crs, &twin_core::Crs::wgs84()).unwrap();
    let z = 15u8;
    // Ground metres per pixel at Hue's latitude (256-pixel tiles).
    let mpp = 2.0 * std::f64::consts::PI * 6_378_137.0 * 16.46f64.to_radians().cos()
        / 256.0
        / 2f64.powi(i32::from(z));
    let edge = 4.0 * mpp;
    // Clearance from what is drawn over the land use: half the widest road (16 m) or a drawn
    // waterway (30 m) plus 4 pixels.
    let clear_road = 8.0 + 4.0 * mpp;
    let clear_water = 15.0 + 4.0 * mpp;
    let near = |layer: &dyn twin_core::VectorLayer,
                geom: &dyn Fn(usize) -> Geometry<f64>,
                p: Point<f64>,
                r: f64,
                skip: Option<usize>| {
        let b = Rect::new((p.x() - r, p.y() - r), (p.x() + r, p.y() + r));
        layer
            .query_bbox(b)
            .unwrap()
            .into_iter()
            .filter(|&i| Some(i) != skip)
            .any(|i| Euclidean.distance(&p, &geom(i)) <= r)
    };
    let groups: [(&str, &[&str]); 3] = [
        ("park", &["park", "garden", "grass", "pitch"]),
        ("forest", &["forest", "wood"]),
        ("residential", &["residential"]),
    ];
    let mut tiles: std::collections::BTreeMap<(u32, u32), renderer::render::Image> =
        Default::default();
    let mut saved = false;
    for (group, kinds) in groups {
        let colour = style::landuse(kinds[0]).unwrap();
        for k in kinds {
            assert_eq!(style::landuse(k), Some(colour), "{k} is drawn as {group}");
        }
        let (mut hit, mut total) = (0usize, 0usize);
        for (i, a) in t.landuse.features().iter().enumerate() {
            if !kinds.contains(&a.kind.as_str()) {
                continue;
            }
            use geo::BoundingRect;
            let Some(bb) = a.polygon.bounding_rect() else {
                continue;
            };
            let step = 20.0;
            let mut y = (bb.min().y / step).ceil() * step;
            while y < bb.max().y {
                let mut x = (bb.min().x / step).ceil() * step;
                while x < bb.max().x {
                    let p = Point::new(x, y);
                    x += step;
                    let ok = a.polygon.contains(&p)
                        && a.polygon.0.iter().all(|poly| {
                            std::iter::once(poly.exterior())
                                .chain(poly.interiors())
                                .all(|r| Euclidean.distance(&p, r) > edge)
                        })
                        && !near(
                            &t.landuse,
                            &|j| Geometry::MultiPolygon(t.landuse.features()[j].polygon.clone()),
                            p,
                            edge,
                            Some(i),
                        )
                        && !near(
                            &t.heritage,
                            &|j| Geometry::MultiPolygon(t.heritage.features()[j].polygon.clone()),
                            p,
                            edge,
                            None,
                        )
                        && !near(
                            &t.buildings,
                            &|j| {
                                Geometry::MultiPolygon(t.buildings.features()[j].footprint.clone())
                            },
                            p,
                            edge,
                            None,
                        )
                        && !near(
                            &t.roads,
                            &|j| Geometry::LineString(t.roads.features()[j].line.clone()),
                            p,
                            clear_road,
                            None,
                        )
                        && !near(
                            &t.water,
                            &|j| t.water.features()[j].geometry.clone(),
                            p,
                            clear_water,
                            None,
                        );
                    if !ok {
                        continue;
                    }
                    let (lon, lat) = to.apply(p.x(), p.y()).unwrap();
                    let tile = TileId::covering([lon, lat, lon, lat], z)[0];
                    let img = tiles
                        .entry((tile.x, tile.y))
                        .or_insert_with(|| basemap().render(t, tile, &Options::default()).unwrap());
                    let (px, py) = tile_pixel(lon, lat, tile, 256.0);
                    let c = img.pixel(px.floor() as u32, py.floor() as u32);
                    let same = c[3] == 255
                        && c[..3]
                            .iter()
                            .zip(colour)
                            .all(|(&a, b)| (i32::from(a) - i32::from(b)).abs() <= 6);
                    total += 1;
                    hit += usize::from(same);
                    if !saved && group == "park" && same {
                        save(
                            img,
                            &format!("basemap_landuse_{}_{}_{}.png", z, tile.x, tile.y),
                        );
                        saved = true;
                    }
                }
                y += step;
            }
        }
        let share = hit as f64 / total.max(1) as f64;
        eprintln!(
            "land use {group}: {hit} of {total} samples ({:.2} %) in {colour:?}",
            share * 100.0
        );
        assert!(total >= 50, "{group}: only {total} samples");
        assert!(share >= 0.95, "{group}: {:.2} %", share * 100.0);
    }
    eprintln!("{} tiles drawn", tiles.len());
}

/// Every label of the twin is in the bundled font, and the river's label drawn on its tile
/// with its marks ("Sông Hương") differs from the same label without them ("Song Huong"):
/// only around the label, and the marked one inks more.
#[test]
fn labels_draw_vietnamese_marks() {
    let t = twin();
    let names: Vec<&String> = t
        .water
        .features()
        .iter()
        .filter_map(|w| w.name.as_ref())
        .chain(t.roads.features().iter().filter_map(|r| r.name.as_ref()))
        .chain(t.heritage.features().iter().filter_map(|h| h.name.as_ref()))
        .chain(
            t.buildings
                .features()
                .iter()
                .filter_map(|b| b.name.as_ref()),
        )
        .collect();
    assert!(names.len() > 50, "{} names", names.len());
    for n in &names {
        assert!(text::covers(n), "the bundled font lacks a letter of {n:?}");
    }
    let river = t
        .water
        .features()
        .iter()
        .position(|w| w.name.as_deref() == Some("Sông Hương"))
        .expect("Sông Hương in the water layer");
    let mut plain = t.clone();
    let mut ws = plain.water.features().to_vec();
    ws[river].name = Some("Song Huong".into());
    plain.water = twin_core::Layer::new(ws).unwrap();
    // The label stands at the polygon's interior point: find its tile at zoom 14.
    use geo::InteriorPoint;
    let geo_types::Geometry::Polygon(p) = &t.water.features()[river].geometry else {
        panic!("the river is not a polygon")
    };
    let ip = p.interior_point().unwrap();
    let to = twin_core::crs::Transform::new(&t.crs, &twin_core::Crs::wgs84()).unwrap();
    let (lon, lat) = to.apply(ip.x(), ip.y()).unwrap();
    let opts = Options::default();
    let mut found = false;
    for z in [14u8, 15, 16] {
        let tile = TileId::covering([lon, lat, lon, lat], z)[0];
        let a = basemap().render(t, tile, &opts).unwrap();
        let b = basemap().render(&plain, tile, &opts).unwrap();
        let diff: Vec<(u32, u32)> = (0..256u32)
            .flat_map(|y| (0..256u32).map(move |x| (x, y)))
            .filter(|&(x, y)| a.pixel(x, y) != b.pixel(x, y))
            .collect();
        eprintln!("zoom {z}: {} pixels differ", diff.len());
        if diff.is_empty() {
            continue; // the label did not fit on this tile
        }
        save(&a, &format!("basemap_label_marked_{z}.png"));
        save(&b, &format!("basemap_label_plain_{z}.png"));
        let (x0, x1) = (
            diff.iter().map(|d| d.0).min().unwrap(),
            diff.iter().map(|d| d.0).max().unwrap(),
        );
        let (y0, y1) = (
            diff.iter().map(|d| d.1).min().unwrap(),
            diff.iter().map(|d| d.1).max().unwrap(),
        );
        // One label's box: about the text's size (11 px Noto Sans, a halo).
        assert!(
            x1 - x0 < 90 && y1 - y0 < 30,
            "differences over {x0}..{x1} × {y0}..{y1}"
        );
        assert!(diff.len() > 30, "{} pixels differ", diff.len());
        // Outside the label's box the two tiles are the same picture.
        assert!(diff
            .iter()
            .all(|&(x, y)| x >= x0 && x <= x1 && y >= y0 && y <= y1));
        found = true;
        break;
    }
    assert!(
        found,
        "the river's label shows on none of its tiles at zooms 14–16"
    );
}

/// A tile over the Citadel at zoom 15 with every layer: water, streets, buildings, labels; opaque where the DEM is. A tile of the open sea far from the
/// twin is wholly transparent.
#[test]
fn city_tile_has_every_layer_and_far_tiles_are_transparent() {
    let tile = TileId::covering([107.5785, 16.4695, 107.5785, 16.4695], 15)[0];
    let img = basemap().render(twin(), tile, &Options::default()).unwrap();
    save(&img, "basemap_citadel_15.png");
    let count = |f: &dyn Fn([u8; 4]) -> bool| {
        (0..256u32)
            .flat_map(|y| (0..256u32).map(move |x| (x, y)))
            .filter(|&(x, y)| f(img.pixel(x, y)))
            .count()
    };
    let near = |c: [u8; 3]| {
        move |p: [u8; 4]| {
            p[..3]
                .iter()
                .zip(c)
                .all(|(&a, b)| (i32::from(a) - i32::from(b)).abs() <= 6)
        }
    };
    let opaque = count(&|p| p[3] == 255);
    let water = count(&near(style::WATER));
    let building = count(&near(style::BUILDING));
    let road = count(&near(style::road("residential").fill));
    let ink = count(&|p| u32::from(p[0]) + u32::from(p[1]) + u32::from(p[2]) < 300);
    eprintln!(
        "tile {tile:?}: opaque {opaque}, water {water}, buildings {building}, streets \
         {road}, label ink {ink}"
    );
    assert_eq!(opaque, 65536);
    assert!(water > 500 && building > 200 && road > 300 && ink > 30);

    // @2x: the same tile at 512 pixels.
    let big = basemap()
        .render(
            twin(),
            tile,
            &Options {
                tile_size: 512,
                ..Options::default()
            },
        )
        .unwrap();
    assert_eq!((big.width, big.height), (512, 512));
    save(&big, "basemap_citadel_15@2x.png");

    let far = TileId::covering([106.0, 17.5, 106.0, 17.5], 12)[0];
    let img = basemap().render(twin(), far, &Options::default()).unwrap();
    assert!(img.rgba.chunks_exact(4).all(|p| p[3] == 0));
}

#[test]
fn tile_ids_are_checked() {
    assert!(TileId::new(9, 0, 0).is_err());
    assert!(TileId::new(20, 0, 0).is_err());
    assert!(TileId::new(10, 1024, 0).is_err());
    assert!(TileId::new(10, 0, 1024).is_err());
    let t = TileId::new(14, 13088, 7431).unwrap();
    let b = t.bounds();
    assert!(
        b[0] < 107.5785 && 107.5785 < b[2] && b[1] < 16.4695 && 16.4695 < b[3],
        "{b:?}"
    );
    assert!(basemap()
        .render(
            twin(),
            t,
            &Options {
                tile_size: 300,
                ..Options::default()
            }
        )
        .is_err());
}
