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

// ---- The hillshade's law from the statement (not the renderer's code) ----

/// The light on DEM cell (c, r): the surface normal from central differences over one cell
/// (2× vertical exaggeration), its cosine with the sun at azimuth 315°, altitude 45°, and the
/// factor the colour of land and land use is scaled by there,
/// clamp(0.55 + 0.45 · cos / sin 45°, 0.45, 1.1).
#[derive(Clone, Copy, Debug)]
struct Light {
    factor: f64,
    /// Rise over run, exaggerated.
    slope: f64,
    /// Where the slope faces, degrees clockwise from north.
    aspect: f64,
}

fn cell_light(dem: &twin_core::model::Dem, c: usize, r: usize) -> Option<Light> {
    let z = |c: usize, r: usize| dem.get(c, r).map(f64::from);
    let (e, w) = (z(c + 1, r)?, z(c.checked_sub(1)?, r)?);
    let (n, s) = (z(c, r.checked_sub(1)?)?, z(c, r + 1)?);
    let dzdx = (e - w) / (2.0 * dem.cell_x) * 2.0;
    let dzdy = (n - s) / (2.0 * dem.cell_y) * 2.0;
    let (az, alt) = (315f64.to_radians(), 45f64.to_radians());
    let sun = [az.sin() * alt.cos(), az.cos() * alt.cos(), alt.sin()];
    let cos = ((-dzdx * sun[0] - dzdy * sun[1] + sun[2])
        / (dzdx * dzdx + dzdy * dzdy + 1.0).sqrt())
    .max(0.0);
    Some(Light {
        factor: (0.55 + 0.45 * cos / alt.sin()).clamp(0.45, 1.1),
        slope: dzdx.hypot(dzdy),
        aspect: (-dzdx).atan2(-dzdy).to_degrees().rem_euclid(360.0),
    })
}

/// The light at a point of the project CRS from the four DEM cell centres around it: the least
/// and greatest factor of the four, their bilinear blend at the point, and the light of the
/// nearest cell.
fn light_at(dem: &twin_core::model::Dem, x: f64, y: f64) -> Option<(f64, f64, f64, Light)> {
    let fc = (x - dem.xmin) / dem.cell_x - 0.5;
    let fr = (dem.ymax - y) / dem.cell_y - 0.5;
    if fc < 0.0 || fr < 0.0 {
        return None;
    }
    let (c, r) = (fc.floor() as usize, fr.floor() as usize);
    let (tx, ty) = (fc - fc.floor(), fr - fr.floor());
    let l = [
        cell_light(dem, c, r)?,
        cell_light(dem, c + 1, r)?,
        cell_light(dem, c, r + 1)?,
        cell_light(dem, c + 1, r + 1)?,
    ];
    let f = l.map(|l| l.factor);
    let lo = f.iter().copied().fold(f64::INFINITY, f64::min);
    let hi = f.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let blend = (f[0] * (1.0 - tx) + f[1] * tx) * (1.0 - ty) + (f[2] * (1.0 - tx) + f[3] * tx) * ty;
    let nearest = l[usize::from(tx >= 0.5) + 2 * usize::from(ty >= 0.5)];
    Some((lo, hi, blend, nearest))
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
    let opts = ground_options(true);
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
/// the project CRS with `geo`) on flat ground (the hillshade's factor within 1 ± 0.01 at the
/// four DEM cells around the point: slopes are shaded, see
/// `landuse_is_shaded_by_the_hillshade`) show their class colour (±6 per channel) in ≥ 95 % of
/// the samples, for each group; on level ground (the factor within half a colour level of 1)
/// ≥ 95 % of the samples show it exactly.
#[test]
fn landuse_colours_fill_the_areas() {
    const FLAT: f64 = 0.01;
    const LEVEL: f64 = 0.5 / 255.0;
    use geo::{Distance, Euclidean};
    use geo_types::{Geometry, Point, Rect};
    let t = twin();
    let dem = &t.terrain[0];
    let to = twin_core::crs::Transform::new(&t.crs, &twin_core::Crs::wgs84()).unwrap();
    let z = 15u8;
    let mpp = metres_per_pixel(z);
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
        let (mut hit, mut total, mut sloped) = (0usize, 0usize, 0usize);
        // Samples where the factor is within half a colour level of 1, and those of them in
        // the class colour exactly.
        let mut level = (0usize, 0usize);
        for (i, a) in t.landuse.features().iter().enumerate() {
            if !kinds.contains(&a.kind.as_str()) {
                continue;
            }
            for p in grid_points(&a.polygon, 20.0) {
                let ok = well_inside(&a.polygon, p, edge)
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
                        &|j| Geometry::MultiPolygon(t.buildings.features()[j].footprint.clone()),
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
                // Flat ground only: there the hillshade leaves the class colour as is.
                let Some((lo, hi, _, _)) = light_at(dem, p.x(), p.y()) else {
                    continue;
                };
                if lo < 1.0 - FLAT || hi > 1.0 + FLAT {
                    sloped += 1;
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
                if lo >= 1.0 - LEVEL && hi <= 1.0 + LEVEL {
                    level.0 += 1;
                    level.1 += usize::from(c[..3] == colour);
                }
                if !saved && group == "park" && same {
                    save(
                        img,
                        &format!("basemap_landuse_{}_{}_{}.png", z, tile.x, tile.y),
                    );
                    saved = true;
                }
            }
        }
        let share = hit as f64 / total.max(1) as f64;
        eprintln!(
            "land use {group}: {hit} of {total} samples on flat ground ({:.2} %) in {colour:?} \
             ±6; {} of {} on level ground exactly; {sloped} samples on slopes left out",
            share * 100.0,
            level.1,
            level.0
        );
        assert!(total >= 50, "{group}: only {total} samples");
        assert!(share >= 0.95, "{group}: {:.2} %", share * 100.0);
        assert!(
            level.0 >= 50,
            "{group}: only {} samples on level ground",
            level.0
        );
        assert!(
            level.1 as f64 >= 0.95 * level.0 as f64,
            "{group}: {} of {} samples on level ground in the class colour exactly",
            level.1,
            level.0
        );
    }
    eprintln!("{} tiles drawn", tiles.len());
}

/// Ground metres per pixel of a 256-pixel tile at zoom `z` at Hue's latitude.
/// Points of a `step`-metre grid (aligned on multiples of `step`) over the box of `area`.
fn grid_points(area: &geo_types::MultiPolygon<f64>, step: f64) -> Vec<geo_types::Point<f64>> {
    use geo::BoundingRect;
    let Some(bb) = area.bounding_rect() else {
        return Vec::new();
    };
    let mut out = Vec::new();
    let mut y = (bb.min().y / step).ceil() * step;
    while y < bb.max().y {
        let mut x = (bb.min().x / step).ceil() * step;
        while x < bb.max().x {
            out.push(geo_types::Point::new(x, y));
            x += step;
        }
        y += step;
    }
    out
}

/// True when `p` is inside `area` and more than `edge` from every ring of it.
fn well_inside(area: &geo_types::MultiPolygon<f64>, p: geo_types::Point<f64>, edge: f64) -> bool {
    use geo::{Contains, Distance, Euclidean};
    area.contains(&p)
        && area.0.iter().all(|poly| {
            std::iter::once(poly.exterior())
                .chain(poly.interiors())
                .all(|r| Euclidean.distance(&p, r) > edge)
        })
}

/// The pixels of two 256-pixel tiles that differ.
fn differing(a: &Image, b: &Image) -> Vec<(u32, u32)> {
    (0..256u32)
        .flat_map(|y| (0..256u32).map(move |x| (x, y)))
        .filter(|&(x, y)| a.pixel(x, y) != b.pixel(x, y))
        .collect()
}

/// The box (x0, x1, y0, y1) of a non-empty set of pixels.
fn pixel_box(pixels: &[(u32, u32)]) -> (u32, u32, u32, u32) {
    let xs = pixels.iter().map(|p| p.0);
    let ys = pixels.iter().map(|p| p.1);
    (
        xs.clone().min().unwrap(),
        xs.max().unwrap(),
        ys.clone().min().unwrap(),
        ys.max().unwrap(),
    )
}

/// 256-pixel tiles of the hillshade and land use, with the water bodies when `water`, and
/// nothing else.
fn ground_options(water: bool) -> Options {
    Options {
        tile_size: 256,
        layers: Layers {
            hillshade: true,
            landuse: true,
            heritage: false,
            water,
            waterways: false,
            buildings: false,
            roads: false,
            labels: false,
        },
    }
}

fn metres_per_pixel(z: u8) -> f64 {
    2.0 * std::f64::consts::PI * 6_378_137.0 * 16.46f64.to_radians().cos()
        / 256.0
        / 2f64.powi(i32::from(z))
}

/// The hillshade shows through land use. Samples on a 15 m grid inside the twin's land use
/// areas of a drawn class, at least 4 pixels from the area's edge and from any other land use
/// area, on steep ground (exaggerated slope ≥ 0.25) facing north-west (aspect 315° ± 45°,
/// towards the sun) or south-east (135° ± 45°, away from it), where the factors of the four DEM
/// cells around the sample agree within 0.03. The zoom-15 tile holding the most of both kinds
/// is drawn with the hillshade and the land use only; each sample's pixel is the class colour
/// times the factor the law predicts (blended bilinearly from the four cells; the GPU blends
/// over the grid's triangles, which differs by at most the four factors' spread), per channel
/// within that spread times the channel plus 2; north-west slopes are lighter than the class
/// colour, south-east slopes darker.
#[test]
fn landuse_is_shaded_by_the_hillshade() {
    use geo::{Distance, Euclidean};
    use geo_types::Rect;
    let t = twin();
    let dem = &t.terrain[0];
    let to = twin_core::crs::Transform::new(&t.crs, &twin_core::Crs::wgs84()).unwrap();
    let z = 15u8;
    let edge = 4.0 * metres_per_pixel(z);
    struct Sample {
        lon: f64,
        lat: f64,
        colour: [u8; 3],
        lo: f64,
        hi: f64,
        factor: f64,
        sunny: bool,
        kind: String,
    }
    let mut by_tile: std::collections::BTreeMap<(u32, u32), Vec<Sample>> = Default::default();
    for (i, a) in t.landuse.features().iter().enumerate() {
        let Some(colour) = style::landuse(&a.kind) else {
            continue;
        };
        for p in grid_points(&a.polygon, 15.0) {
            let Some((lo, hi, factor, l)) = light_at(dem, p.x(), p.y()) else {
                continue;
            };
            let nw = (l.aspect - 315.0).abs() <= 45.0;
            let se = (l.aspect - 135.0).abs() <= 45.0;
            if l.slope < 0.25 || hi - lo > 0.03 || !(nw || se) {
                continue;
            }
            let r = Rect::new((p.x() - edge, p.y() - edge), (p.x() + edge, p.y() + edge));
            let ok = well_inside(&a.polygon, p, edge)
                && t.landuse
                    .query_bbox(r)
                    .unwrap()
                    .into_iter()
                    .filter(|&j| j != i)
                    .all(|j| Euclidean.distance(&p, &t.landuse.features()[j].polygon) > edge);
            if !ok {
                continue;
            }
            let (lon, lat) = to.apply(p.x(), p.y()).unwrap();
            let tile = TileId::covering([lon, lat, lon, lat], z)[0];
            by_tile.entry((tile.x, tile.y)).or_default().push(Sample {
                lon,
                lat,
                colour,
                lo,
                hi,
                factor,
                sunny: nw,
                kind: a.kind.clone(),
            });
        }
    }
    let both = |v: &Vec<Sample>| {
        let n = v.iter().filter(|s| s.sunny).count();
        n.min(v.len() - n)
    };
    let ((tx, ty), samples) = by_tile
        .iter()
        .max_by_key(|(_, v)| both(v))
        .expect("no land use on steep slopes");
    let tile = TileId::new(z, *tx, *ty).unwrap();
    eprintln!(
        "{} tiles with samples; tile {tile:?}: {} samples, {} facing the sun",
        by_tile.len(),
        samples.len(),
        samples.iter().filter(|s| s.sunny).count()
    );
    let opts = ground_options(false);
    let img = basemap().render(t, tile, &opts).unwrap();
    save(&img, &format!("basemap_shaded_landuse_{z}_{tx}_{ty}.png"));
    // For the eye: the same tile with every layer.
    let all = basemap().render(t, tile, &Options::default()).unwrap();
    save(
        &all,
        &format!("basemap_shaded_landuse_all_{z}_{tx}_{ty}.png"),
    );
    // Per kind (sunny, away): samples, sum of the factors, worst error over the tolerance's
    // spread part, largest error in colour levels.
    let mut stats = [(0usize, 0f64, 0f64); 2];
    let mut bad = Vec::new();
    for s in samples {
        let (px, py) = tile_pixel(s.lon, s.lat, tile, 256.0);
        let c = img.pixel(px.floor() as u32, py.floor() as u32);
        let st = &mut stats[usize::from(!s.sunny)];
        st.0 += 1;
        st.1 += s.factor;
        let mut ok = c[3] == 255;
        for (&got, &class) in c.iter().zip(&s.colour) {
            let want = (f64::from(class) * s.factor).min(255.0);
            let err = (f64::from(got) - want).abs();
            st.2 = st.2.max(err);
            ok &= err <= (s.hi - s.lo) * f64::from(class) + 2.0;
            // Lighter towards the sun, darker away from it.
            ok &= if s.sunny {
                got > class || class == 255
            } else {
                got < class
            };
        }
        if !ok {
            bad.push(format!(
                "{} facing {} at {:.5},{:.5}: {c:?} for {:?} × {:.3} ({:.3}..{:.3})",
                s.kind,
                if s.sunny { "the sun" } else { "away" },
                s.lon,
                s.lat,
                s.colour,
                s.factor,
                s.lo,
                s.hi
            ));
        }
    }
    let kinds: std::collections::BTreeSet<&str> = samples.iter().map(|s| s.kind.as_str()).collect();
    for (name, st) in ["facing the sun", "facing away"].iter().zip(stats) {
        eprintln!(
            "tile {z}/{tx}/{ty} ({kinds:?}): {} samples {name}, mean factor {:.3}, largest \
             error {:.1} colour levels",
            st.0,
            st.1 / st.0.max(1) as f64,
            st.2
        );
        assert!(st.0 >= 10, "only {} samples {name}", st.0);
    }
    assert!(
        bad.is_empty(),
        "{} of {} samples off:\n{}",
        bad.len(),
        samples.len(),
        bad.join("\n")
    );
}

/// Named land use areas are labelled: for the twin's named areas of a drawn class (largest
/// first), the tile holding the area's interior point is drawn with every layer, once as is and
/// once with the area's name removed. At the first zoom (13–17) where the area's box is at
/// least 2.5 times the label's (10-pixel Noto Sans) wide and high on screen, the two differ in
/// one label's box centred near the interior point, inked in the land use label colour (ten
/// pixels or more at least half way from the halo's white to it); at a
/// zoom where the area's box is narrower than the label, they are the same picture. Labels of
/// higher priority or a tile edge may keep some areas unlabelled: at least three must show.
#[test]
fn named_landuse_areas_are_labelled() {
    use geo::{BoundingRect, InteriorPoint};
    let t = twin();
    let to = twin_core::crs::Transform::new(&t.crs, &twin_core::Crs::wgs84()).unwrap();
    let font = text::Style {
        bold: false,
        px: 10.0,
    };
    let mut named: Vec<(usize, f64, f64)> = t
        .landuse
        .features()
        .iter()
        .enumerate()
        .filter(|(_, a)| a.name.is_some() && style::landuse(&a.kind).is_some())
        .filter_map(|(i, a)| {
            let b = a.polygon.bounding_rect()?;
            Some((i, b.width(), b.height()))
        })
        .collect();
    named.sort_by(|a, b| (b.1 * b.2).total_cmp(&(a.1 * a.2)));
    let opts = Options::default();
    let (mut shown, mut tried) = (Vec::new(), 0usize);
    for (i, bw, bh) in named {
        let a = &t.landuse.features()[i];
        let name = a.name.as_deref().unwrap();
        let (lw, lh) = (
            f64::from(text::width(name, font)),
            f64::from(text::line_height(font)),
        );
        let on_screen = |z: u8| (bw / metres_per_pixel(z), bh / metres_per_pixel(z));
        let Some(big) = (13u8..=17).find(|&z| {
            let (w, h) = on_screen(z);
            w >= 2.5 * lw && h >= 2.5 * lh
        }) else {
            continue;
        };
        let small = (12u8..big).rev().find(|&z| on_screen(z).0 < lw);
        let ip = a.polygon.interior_point().unwrap();
        let (lon, lat) = to.apply(ip.x(), ip.y()).unwrap();
        let mut plain = t.clone();
        let mut areas = plain.landuse.features().to_vec();
        areas[i].name = None;
        plain.landuse = twin_core::Layer::new(areas).unwrap();
        let diff = |z: u8| {
            let tile = TileId::covering([lon, lat, lon, lat], z)[0];
            let a = basemap().render(t, tile, &opts).unwrap();
            let b = basemap().render(&plain, tile, &opts).unwrap();
            let d = differing(&a, &b);
            (tile, a, d)
        };
        tried += 1;
        let (tile, img, d) = diff(big);
        let (px, py) = tile_pixel(lon, lat, tile, 256.0);
        if d.is_empty() {
            eprintln!(
                "{name:?} ({}): no label at zoom {big} (interior point at {px:.0}, {py:.0}: a \
                 tile edge or other labels keep it out)",
                a.kind
            );
            continue;
        }
        let (x0, x1, y0, y1) = pixel_box(&d);
        // Ink: a pixel on the way from the halo's white to the label colour, at least half
        // way (within 12 per channel of that line).
        let ink = d
            .iter()
            .filter(|&&(x, y)| {
                let p = img.pixel(x, y);
                let a = (255.0 - f64::from(p[1])) / (255.0 - f64::from(style::LABEL_LANDUSE[1]));
                a >= 0.5
                    && p[..3].iter().zip(style::LABEL_LANDUSE).all(|(&c, l)| {
                        (f64::from(c) - (255.0 - a * (255.0 - f64::from(l)))).abs() <= 12.0
                    })
            })
            .count();
        let (cx, cy) = (f64::from(x0 + x1) / 2.0, f64::from(y0 + y1) / 2.0);
        eprintln!(
            "{name:?} ({}, {:.0} × {:.0} m): label at zoom {big} over {x0}..{x1} × {y0}..{y1} \
             (centre {:.1}, {:.1} px from the interior point), {ink} ink pixels; {}",
            a.kind,
            bw,
            bh,
            cx - px,
            cy - py,
            small.map_or("no zoom where it is too small".into(), |z| format!(
                "zoom {z}: the area is {:.0} px wide for a {lw:.0} px label",
                on_screen(z).0
            ))
        );
        save(
            &img,
            &format!("basemap_landuse_label_{}_{}_{}.png", tile.z, tile.x, tile.y),
        );
        assert!(
            f64::from(x1 - x0) <= lw * 1.2 + 12.0 && f64::from(y1 - y0) <= lh + 10.0,
            "{name:?}: differences over {x0}..{x1} × {y0}..{y1}"
        );
        assert!(
            (cx - px).abs() <= 4.0 && (cy - py).abs() <= 4.0,
            "{name:?}: label centred at ({cx}, {cy}), interior point at ({px:.1}, {py:.1})"
        );
        assert!(ink >= 10, "{name:?}: {ink} pixels in the label colour");
        if let Some(z) = small {
            let (_, _, d) = diff(z);
            assert!(
                d.is_empty(),
                "{name:?} labelled at zoom {z}: {} pixels",
                d.len()
            );
        }
        shown.push(name);
        if shown.len() == 5 {
            break;
        }
    }
    eprintln!("{} of {tried} named areas labelled: {shown:?}", shown.len());
    assert!(
        shown.len() >= 3,
        "{} of {tried} named areas labelled",
        shown.len()
    );
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
        let diff = differing(&a, &b);
        eprintln!("zoom {z}: {} pixels differ", diff.len());
        if diff.is_empty() {
            continue; // the label did not fit on this tile
        }
        save(&a, &format!("basemap_label_marked_{z}.png"));
        save(&b, &format!("basemap_label_plain_{z}.png"));
        let (x0, x1, y0, y1) = pixel_box(&diff);
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
