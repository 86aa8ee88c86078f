//! Terrain, point-cloud and LoD2 tiles from a small twin built in memory near Hue: validator,
//! structure, every triangle and point accounted for against the inputs, positions against
//! PROJ, nodata holes, bases on the DEM, heritage zones in the building table.

use geo_types::{LineString, MultiPolygon, Polygon};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::OnceLock;
use testkit::*;
use tiles3d::{self as tiles, Tileset, TilesetOptions};
use twin_core::crs::{Crs, Transform};
use twin_core::model::Imported;
use twin_core::model::{
    Building, Dem, HeightSource, HeritageSite, LidarPoint, PointCloud, Solid, Surface,
};
use twin_core::NoProgress;
use twin_core::{LayerKind, Twin};

const XMIN: f64 = 774_000.0;
const YMAX: f64 = 1_823_500.0;
const CELL: f64 = 5.0;
const NCOLS: usize = 300;
const NROWS: usize = 200;
const NPOINTS: usize = 120_000;

fn cell_xy(c: usize, r: usize) -> (f64, f64) {
    (
        XMIN + (c as f64 + 0.5) * CELL,
        YMAX - (r as f64 + 0.5) * CELL,
    )
}

fn in_hole(c: usize, r: usize) -> bool {
    (100..140).contains(&c) && (50..80).contains(&r) || (c, r) == (250, 150)
}

fn dem() -> Dem {
    let mut values = Vec::with_capacity(NCOLS * NROWS);
    for r in 0..NROWS {
        for c in 0..NCOLS {
            let z = 5.0 + 3.0 * (c as f64 / 9.0).sin() * (r as f64 / 13.0).cos() + 0.01 * c as f64;
            values.push((!in_hole(c, r)).then_some(z as f32));
        }
    }
    Dem {
        name: "synthetic".into(),
        ncols: NCOLS,
        nrows: NROWS,
        xmin: XMIN,
        ymax: YMAX,
        cell_x: CELL,
        cell_y: CELL,
        values,
    }
}

fn ring(pts: &[(f64, f64)]) -> LineString<f64> {
    let mut v = pts.to_vec();
    v.push(pts[0]);
    LineString::from(v)
}

fn building(
    id: &str,
    footprint: Polygon<f64>,
    height: f64,
    base: f64,
    solid: Option<Solid>,
) -> Building {
    Building {
        id: id.into(),
        footprint: MultiPolygon(vec![footprint]),
        height,
        base_height: base,
        levels: Some(2),
        usage: Some("temple".into()),
        name: Some(format!("{id} name")),
        source_id: id.into(),
        height_source: HeightSource::Synthetic,
        solid,
        attributes: Default::default(),
    }
}

/// A gabled house, 10 x 8 m, ground at 10 m, eaves at 14 m, ridge at 18 m (along x), as
/// CityJSON surfaces oriented outward.
fn house(x0: f64, y0: f64) -> (Polygon<f64>, Solid) {
    let (x1, y1, ym) = (x0 + 10.0, y0 + 8.0, y0 + 4.0);
    let s = |rings: Vec<[f64; 3]>, sem: &str| Surface {
        rings: vec![rings],
        semantic: Some(sem.into()),
    };
    let surfaces = vec![
        s(
            vec![
                [x0, y0, 10.0],
                [x0, y1, 10.0],
                [x1, y1, 10.0],
                [x1, y0, 10.0],
            ],
            "GroundSurface",
        ),
        s(
            vec![
                [x0, y0, 10.0],
                [x1, y0, 10.0],
                [x1, y0, 14.0],
                [x0, y0, 14.0],
            ],
            "WallSurface",
        ),
        s(
            vec![
                [x1, y1, 10.0],
                [x0, y1, 10.0],
                [x0, y1, 14.0],
                [x1, y1, 14.0],
            ],
            "WallSurface",
        ),
        s(
            vec![
                [x0, y1, 10.0],
                [x0, y0, 10.0],
                [x0, y0, 14.0],
                [x0, ym, 18.0],
                [x0, y1, 14.0],
            ],
            "WallSurface",
        ),
        s(
            vec![
                [x1, y0, 10.0],
                [x1, y1, 10.0],
                [x1, y1, 14.0],
                [x1, ym, 18.0],
                [x1, y0, 14.0],
            ],
            "WallSurface",
        ),
        s(
            vec![
                [x0, y0, 14.0],
                [x1, y0, 14.0],
                [x1, ym, 18.0],
                [x0, ym, 18.0],
            ],
            "RoofSurface",
        ),
        s(
            vec![
                [x1, y1, 14.0],
                [x0, y1, 14.0],
                [x0, ym, 18.0],
                [x1, ym, 18.0],
            ],
            "RoofSurface",
        ),
    ];
    (
        Polygon::new(ring(&[(x0, y0), (x1, y0), (x1, y1), (x0, y1)]), vec![]),
        Solid {
            lod: "2.2".into(),
            surfaces,
        },
    )
}

fn point(i: usize) -> LidarPoint {
    // A deterministic scatter; intensity and classification together are a unique key.
    let u = ((i * 7919) % NPOINTS) as f64 / NPOINTS as f64;
    let v = ((i * 104_729) % 99_991) as f64 / 99_991.0;
    LidarPoint {
        x: XMIN + 600.0 * u,
        y: YMAX - 900.0 + 400.0 * v,
        z: 2.0 + (i % 97) as f64 * 0.1,
        intensity: (i & 0xFFFF) as u16,
        classification: (i >> 16) as u8 + 1,
        rgb: Some([
            (i * 37 % 65_536) as u16,
            (i * 101 % 65_536) as u16,
            (i * 7 % 65_536) as u16,
        ]),
    }
}

fn key(intensity: u16, class: u8) -> usize {
    ((class - 1) as usize) << 16 | intensity as usize
}

struct Syn {
    _tmp: tempfile::TempDir,
    twin: Twin,
    opts: TilesetOptions,
    out: std::path::PathBuf,
}

fn syn() -> &'static Syn {
    static SYN: OnceLock<Syn> = OnceLock::new();
    SYN.get_or_init(|| {
        let mut twin = Twin::new("synthetic", Crs::epsg(32648).unwrap()).unwrap();
        let (a, b) = (cell_xy(20, 40), cell_xy(40, 20));
        let (ha, hb) = (cell_xy(27, 33), cell_xy(33, 27));
        let courtyard = Polygon::new(
            ring(&[(a.0, a.1), (b.0, a.1), (b.0, b.1), (a.0, b.1)]),
            vec![ring(&[
                (ha.0, ha.1),
                (hb.0, ha.1),
                (hb.0, hb.1),
                (ha.0, hb.1),
            ])],
        );
        let (hp, hs) = house(774_400.0, 1_823_000.0);
        let plain = Polygon::new(
            ring(&[
                (774_300.0, 1_823_200.0),
                (774_312.0, 1_823_200.0),
                (774_312.0, 1_823_209.0),
                (774_300.0, 1_823_209.0),
            ]),
            vec![],
        );
        let zone = Polygon::new(
            ring(&[
                (a.0 - 20.0, a.1 - 20.0),
                (b.0 + 20.0, a.1 - 20.0),
                (b.0 + 20.0, b.1 + 20.0),
                (a.0 - 20.0, b.1 + 20.0),
            ]),
            vec![],
        );
        let imp = Imported {
            buildings: vec![
                building("b:courtyard", courtyard, 7.0, 0.0, None),
                building("b:house", hp, 8.0, 10.0, Some(hs)),
                building("b:plain", plain, 6.0, 3.0, None),
            ],
            heritage: vec![HeritageSite {
                id: "h:zone".into(),
                name: Some("Test zone".into()),
                polygon: MultiPolygon(vec![zone]),
                zone: Some("I".into()),
                height_limit_m: Some(12.0),
                floor_m: None,
                attributes: Default::default(),
            }],
            dems: vec![dem()],
            pointclouds: vec![PointCloud {
                name: "scatter".into(),
                points: (0..NPOINTS).map(point).collect(),
                source_crs: "EPSG:32648".into(),
            }],
            ..Default::default()
        };
        twin.add(imp).unwrap();
        let opts = TilesetOptions {
            max_points: 20_000,
            point_grid: 64,
            terrain_tile_cells: 32,
            ..TilesetOptions::default()
        };
        let tmp = tempfile::tempdir().unwrap();
        let out = tmp.path().join("tiles");
        let rep = tiles::export(&twin, &out, &[], &opts, &NoProgress).unwrap();
        let names: Vec<&str> = rep.layers.iter().map(|l| l.layer.name()).collect();
        assert_eq!(names, ["buildings", "heritage", "terrain", "pointclouds"]);
        Syn {
            _tmp: tmp,
            twin,
            opts,
            out,
        }
    })
}

#[test]
fn synthetic_twin_passes_the_validator_and_the_structure_checks() {
    let s = syn();
    let w = check_export(&s.out);
    assert!(w.refines.contains("ADD") && w.refines.contains("REPLACE"));
}

#[test]
fn terrain_leaves_hold_every_triangle_of_the_grid_and_skip_nodata() {
    let s = syn();
    let w = walk_tileset(&s.out.join("terrain/tileset.json"));
    // Count triangles straight from the grid: two per quad with four valid corners, one with three.
    let valid = |c: usize, r: usize| !in_hole(c, r);
    let mut expected = 0;
    for r in 0..NROWS - 1 {
        for c in 0..NCOLS - 1 {
            let n = [
                valid(c, r),
                valid(c + 1, r),
                valid(c, r + 1),
                valid(c + 1, r + 1),
            ]
            .iter()
            .filter(|v| **v)
            .count();
            expected += match n {
                4 => 2,
                3 => 1,
                _ => 0,
            };
        }
    }
    let leaves: Vec<&GlbInfo> = w.infos.iter().filter(|i| i.leaf).collect();
    assert_eq!(leaves.iter().map(|i| i.triangles).sum::<usize>(), expected);
    assert!(leaves.iter().all(|i| i.geometric_error == 0.0));
    assert!(w.depth >= 4, "depth {}", w.depth);
    let inner: Vec<&GlbInfo> = w.infos.iter().filter(|i| !i.leaf).collect();
    assert!(!inner.is_empty() && inner.iter().all(|i| i.geometric_error > 0.0));
    // No leaf vertex inside the nodata block (a cell away from its edge).
    let to_geo = Transform::between("EPSG:32648", "EPSG:4326").unwrap();
    let (hx0, hy1) = cell_xy(101, 51);
    let (hx1, hy0) = cell_xy(138, 78);
    let (lon0, lat0) = to_geo.apply(hx0, hy0).unwrap();
    let (lon1, lat1) = to_geo.apply(hx1, hy1).unwrap();
    for i in &leaves {
        for v in &w.vertices[i.first_vertex..i.first_vertex + i.vertices] {
            assert!(
                !(v.lon > lon0 && v.lon < lon1 && v.lat > lat0 && v.lat < lat1),
                "vertex in the nodata hole"
            );
        }
    }
    // Heights: the grid's range plus the geoid.
    let d = dem();
    let (zmin, zmax) = d.min_max().unwrap();
    let n = if have_egm96() {
        egm96_by_gdal(lon0, lat0)
    } else {
        0.0
    };
    let hs: Vec<f64> = leaves
        .iter()
        .flat_map(|i| {
            w.vertices[i.first_vertex..i.first_vertex + i.vertices]
                .iter()
                .map(|v| v.h)
        })
        .collect();
    let lo = hs.iter().copied().fold(f64::INFINITY, f64::min);
    let hi = hs.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    assert!(
        (lo - (zmin as f64 + n)).abs() < 0.05,
        "{lo} vs {zmin} + {n}"
    );
    assert!(
        (hi - (zmax as f64 + n)).abs() < 0.05,
        "{hi} vs {zmax} + {n}"
    );
}

#[test]
fn every_point_once_with_its_attributes_and_place() {
    let s = syn();
    let dir = s.out.join("pointclouds");
    let w = walk_tileset(&dir.join("tileset.json"));
    assert_eq!(w.points, NPOINTS);
    assert!(w.depth >= 3, "depth {}", w.depth);
    let to_geo = Transform::between("EPSG:32648", "EPSG:4326").unwrap();
    let (clon, clat) = to_geo.apply(XMIN + 300.0, YMAX - 700.0).unwrap();
    let n = if have_egm96() {
        egm96_by_gdal(clon, clat)
    } else {
        0.0
    };
    let mut seen = BTreeSet::new();
    let mut worst = (0.0f64, 0.0f64);
    for info in &w.infos {
        let g = Glb::read(&info.path);
        let prim = &g.primitives()[0];
        let a = &prim["attributes"];
        let get = |name: &str| g.accessor(a[name].as_u64().unwrap() as usize);
        let (inten, class, col) = (get("_INTENSITY"), get("_CLASSIFICATION"), get("COLOR_0"));
        assert_eq!(
            prim["extensions"]["EXT_structural_metadata"]["propertyAttributes"][0], 0,
            "points carry the property attribute"
        );
        let pa = &g.json["extensions"]["EXT_structural_metadata"]["propertyAttributes"][0];
        assert_eq!(pa["class"], "point");
        assert_eq!(pa["properties"]["intensity"]["attribute"], "_INTENSITY");
        for k in 0..info.vertices {
            let id = key(inten[k][0] as u16, class[k][0] as u8);
            assert!(seen.insert(id), "point {id} twice");
            let p = point(id);
            // Colour: the 16-bit LAS colour's high byte, normalised.
            let rgb = p.rgb.unwrap();
            for c in 0..3 {
                assert_eq!((col[k][c] * 255.0).round() as u16, rgb[c] >> 8);
            }
            let v = &w.vertices[info.first_vertex + k];
            let (lon, lat) = to_geo.apply(p.x, p.y).unwrap();
            let dy = (v.lat - lat).to_radians() * 6_371_000.0;
            let dx = (v.lon - lon).to_radians() * 6_371_000.0 * lat.to_radians().cos();
            worst.0 = worst.0.max(dx.hypot(dy));
            worst.1 = worst.1.max((v.h - (p.z + n)).abs());
        }
    }
    assert_eq!(seen.len(), NPOINTS);
    assert!(
        worst.0 < 0.01 && worst.1 < 0.03,
        "worst offsets {worst:?} m"
    );
}

#[test]
fn buildings_stand_on_the_dem_carry_their_zone_and_lod2_surfaces_face_out() {
    let s = syn();
    let w = walk_tileset(&s.out.join("buildings/tileset.json"));
    let ids: BTreeSet<&str> = w.features.keys().map(|k| k.as_str()).collect();
    assert_eq!(ids, BTreeSet::from(["b:courtyard", "b:house", "b:plain"]));
    let g = Glb::read(&w.infos[0].path);
    let rows = g.strings(0, "id");
    let col = |p: &str| -> BTreeMap<String, String> {
        rows.iter().cloned().zip(g.strings(0, p)).collect()
    };
    let zone = col("heritage_zone");
    let site = col("heritage_site");
    let lod = col("lod");
    assert_eq!(zone["b:courtyard"], "I");
    assert_eq!(site["b:courtyard"], "h:zone");
    assert_eq!(zone["b:house"], "");
    assert_eq!(
        (lod["b:house"].as_str(), lod["b:plain"].as_str()),
        ("2.2", "1")
    );
    // The courtyard building's base: the lowest DEM value at its outer corners (on cell centres).
    let d = dem();
    let corners = [(20, 40), (40, 40), (40, 20), (20, 20)];
    let base = corners
        .iter()
        .map(|&(c, r)| d.get(c, r).unwrap())
        .fold(f32::INFINITY, f32::min);
    let bases: BTreeMap<String, f32> = rows
        .iter()
        .cloned()
        .zip(g.floats(0, "base_height"))
        .collect();
    assert_eq!(bases["b:courtyard"], base);
    assert_eq!(bases["b:plain"], 3.0);
    let n = |id: &str| {
        let v = w
            .vertices
            .iter()
            .find(|v| v.feature.as_deref() == Some(id))
            .unwrap();
        if have_egm96() {
            egm96_by_gdal(v.lon, v.lat)
        } else {
            0.0
        }
    };
    let range = |id: &str| {
        let hs: Vec<f64> = w
            .vertices
            .iter()
            .filter(|v| v.feature.as_deref() == Some(id))
            .map(|v| v.h)
            .collect();
        (
            hs.iter().copied().fold(f64::INFINITY, f64::min),
            hs.iter().copied().fold(f64::NEG_INFINITY, f64::max),
        )
    };
    for (id, lo, hi) in [
        ("b:courtyard", base as f64, base as f64 + 7.0),
        ("b:house", 10.0, 18.0),
        ("b:plain", 3.0, 9.0),
    ] {
        let (l, h) = range(id);
        let nn = n(id);
        assert!(
            (l - lo - nn).abs() < 0.02 && (h - hi - nn).abs() < 0.02,
            "{id}: {l}..{h} vs {lo}..{hi} + {nn}"
        );
    }
    // LoD2: every triangle's winding agrees with its normal, and the house has 2 roof planes
    // tilted 45 degrees (normals up and north or south), gables and walls level.
    let prim = &g.primitives()[0];
    let a = &prim["attributes"];
    let pos = g.positions(prim);
    let nor = g.normals(prim);
    let fid = g.accessor(a["_FEATURE_ID_0"].as_u64().unwrap() as usize);
    let ind = g.accessor(prim["indices"].as_u64().unwrap() as usize);
    let house_row = rows.iter().position(|r| r == "b:house").unwrap() as f64;
    let mut slopes = BTreeSet::new();
    let mut down = 0;
    for t in ind.chunks(3) {
        let [i, j, k] = [t[0][0] as usize, t[1][0] as usize, t[2][0] as usize];
        let (p, q, r) = (&pos[i], &pos[j], &pos[k]);
        let e1 = [q[0] - p[0], q[1] - p[1], q[2] - p[2]];
        let e2 = [r[0] - p[0], r[1] - p[1], r[2] - p[2]];
        let c = [
            e1[1] * e2[2] - e1[2] * e2[1],
            e1[2] * e2[0] - e1[0] * e2[2],
            e1[0] * e2[1] - e1[1] * e2[0],
        ];
        let nn = &nor[i];
        assert!(
            c[0] * nn[0] + c[1] * nn[1] + c[2] * nn[2] > 0.0,
            "winding agrees with the normal"
        );
        if fid[i][0] == house_row {
            // glTF y is up: 45-degree roofs have y = cos 45 (to 0.05: compact tiles' normals
            // have 8 bits).
            slopes.insert((nn[1] * 20.0).round() as i64);
            if nn[1] < -0.99 {
                down += 1;
            }
        }
    }
    assert_eq!(slopes, BTreeSet::from([-20, 0, 14]), "ground, walls, roofs");
    assert_eq!(down, 2, "the ground surface (two triangles) faces down");
}

#[test]
fn planning_is_deterministic_and_tiles_come_alone() {
    let s = syn();
    for layer in [LayerKind::Terrain, LayerKind::Pointclouds] {
        let ts = Tileset::plan(&s.twin, layer, &s.opts).unwrap();
        for t in ts
            .tiles()
            .iter()
            .filter(|t| t.content_uri().is_some())
            .take(3)
        {
            let uri = t.content_uri().unwrap();
            let on_disk = std::fs::read(s.out.join(layer.name()).join(&uri)).unwrap();
            assert!(ts.tile_content(&s.twin, &t.id).unwrap() == on_disk, "{uri}");
        }
        // The grouping root has no content.
        assert!(ts.root().content_uri().is_none());
        assert!(ts.tile_content(&s.twin, "root").is_err());
    }
}
