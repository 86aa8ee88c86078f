//! 3D Tiles from every CityJSON, LAS/LAZ and DEM test file and from the Hue sample twin: each
//! export passes the glTF validator and the structure checks, and holds every building, point
//! and terrain triangle its source has. (An importer that has not landed yet answers "not
//! implemented yet"; its files are then skipped with a note.)

use serde_json::Value;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use testkit::*;
use tiles3d::{self as tiles, TilesetOptions};
use twin_core::crs::Crs;
use twin_core::import::{import_file, ImportOptions};
use twin_core::model::Imported;
use twin_core::NoProgress;
use twin_core::{LayerKind, Twin, TwinDir};

fn files(dir: &str, exts: &[&str]) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(shared(dir))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| {
            let n = p
                .file_name()
                .unwrap()
                .to_string_lossy()
                .to_ascii_lowercase();
            exts.iter().any(|e| n.ends_with(e))
        })
        .collect();
    v.sort();
    assert!(!v.is_empty(), "no {exts:?} in {dir}");
    v
}

/// Import a file into a new twin; None when its importer has not landed.
fn import(path: &Path, project: u32, fallback_crs: Option<u32>) -> Option<(Twin, Imported)> {
    let crs = Crs::epsg(project).unwrap();
    let mut opts = ImportOptions::new(crs.clone());
    let imp = match import_file(path, &opts, &NoProgress) {
        Ok(i) => i,
        Err(e) if not_landed(&e) => {
            eprintln!("skipped {}: {e}", path.display());
            return None;
        }
        Err(e)
            if fallback_crs.is_some() && {
                let m = e.to_string().to_ascii_lowercase();
                m.contains("--source-crs")
            } =>
        {
            opts.source_crs = fallback_crs.map(|c| Crs::epsg(c).unwrap());
            import_file(path, &opts, &NoProgress).unwrap_or_else(|e| panic!("{e}"))
        }
        Err(e) => panic!("{e}"),
    };
    let mut twin = Twin::new("t", crs).unwrap();
    twin.add(imp.clone()).unwrap();
    Some((twin, imp))
}

fn export(twin: &Twin, layer: LayerKind, dir: &Path) -> Walk {
    tiles::export(twin, dir, &[layer], &TilesetOptions::default(), &NoProgress).unwrap();
    check_export(dir)
}

/// Building CityObjects in a CityJSON file or CityJSONSeq, counted with serde_json.
fn cityjson_buildings(path: &Path) -> usize {
    let text = std::fs::read_to_string(path).unwrap();
    let docs: Vec<Value> = if path.to_string_lossy().ends_with(".jsonl") {
        text.lines()
            .filter(|l| !l.trim().is_empty())
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    } else {
        vec![serde_json::from_str(&text).unwrap()]
    };
    docs.iter()
        .filter_map(|d| d["CityObjects"].as_object())
        .flat_map(|o| o.values())
        .filter(|o| o["type"] == "Building")
        .count()
}

#[test]
fn every_cityjson_file_tiles_to_valid_lod_buildings() {
    let tmp = tempfile::tempdir().unwrap();
    for path in files("cityjson", &[".city.json", ".city.jsonl"]) {
        let Some((twin, imp)) = import(&path, 28992, Some(7415)) else {
            continue;
        };
        let name = path.file_name().unwrap().to_string_lossy().to_string();
        assert!(!imp.buildings.is_empty(), "{name}");
        assert_eq!(
            imp.buildings.len(),
            cityjson_buildings(&path),
            "{name}: one twin building per Building"
        );
        let w = export(&twin, LayerKind::Buildings, &tmp.path().join(&name));
        let ids: BTreeSet<String> = imp.buildings.iter().map(|b| b.id.clone()).collect();
        assert_eq!(
            w.features.keys().cloned().collect::<BTreeSet<_>>(),
            ids,
            "{name}"
        );
        assert!(w.features.values().all(|&n| n == 1));
        // LoD in the table, as imported.
        for info in &w.infos {
            let g = Glb::read(&info.path);
            for (id, lod) in g.strings(0, "id").iter().zip(g.strings(0, "lod")) {
                let b = twin.buildings.by_id(id).unwrap();
                let want = b
                    .solid
                    .as_ref()
                    .map(|s| s.lod.clone())
                    .unwrap_or_else(|| "1".into());
                assert_eq!(lod, want, "{name} {id}");
            }
        }
        // Heights: the lowest solid vertex plus the geoid (about 43 m in the Netherlands).
        let zmin = imp
            .buildings
            .iter()
            .filter_map(|b| b.solid.as_ref())
            .flat_map(|s| s.surfaces.iter().flat_map(|f| f.rings.iter().flatten()))
            .map(|p| p[2])
            .fold(f64::INFINITY, f64::min);
        let v = w
            .vertices
            .iter()
            .min_by(|a, b| a.h.total_cmp(&b.h))
            .unwrap();
        if zmin.is_finite() && have_egm96() {
            let n = egm96_by_gdal(v.lon, v.lat);
            assert!(
                (v.h - zmin - n).abs() < 0.05,
                "{name}: lowest vertex {} vs {zmin} + {n}",
                v.h
            );
        }
        eprintln!("{name}: {} buildings in {} tiles", ids.len(), w.glbs.len());
    }
}

/// The point count in a LAS/LAZ header (the header is never compressed).
fn las_header_points(path: &Path) -> u64 {
    let b = std::fs::read(path).unwrap();
    assert_eq!(&b[0..4], b"LASF");
    let minor = b[25];
    let legacy = u32::from_le_bytes([b[107], b[108], b[109], b[110]]) as u64;
    if minor >= 4 {
        u64::from_le_bytes(b[247..255].try_into().unwrap())
    } else {
        legacy
    }
}

#[test]
fn every_lidar_file_tiles_every_point() {
    let tmp = tempfile::tempdir().unwrap();
    for path in files("lidar", &[".las", ".laz"]) {
        // Oregon: UTM zone 10N.
        let Some((twin, _)) = import(&path, 32610, None) else {
            continue;
        };
        let name = path.file_name().unwrap().to_string_lossy().to_string();
        let w = export(&twin, LayerKind::Pointclouds, &tmp.path().join(&name));
        let expected = las_header_points(&path);
        assert_eq!(w.points as u64, expected, "{name}");
        // Intensity and classification survive, as multisets.
        let mut want: Vec<(u16, u8)> = twin.pointclouds[0]
            .points
            .iter()
            .map(|p| (p.intensity, p.classification))
            .collect();
        let mut got = Vec::new();
        for info in &w.infos {
            let g = Glb::read(&info.path);
            let a = &g.primitives()[0]["attributes"];
            let i = g.accessor(a["_INTENSITY"].as_u64().unwrap() as usize);
            let c = g.accessor(a["_CLASSIFICATION"].as_u64().unwrap() as usize);
            got.extend(i.iter().zip(&c).map(|(i, c)| (i[0] as u16, c[0] as u8)));
        }
        want.sort_unstable();
        got.sort_unstable();
        assert!(want == got, "{name}: attributes differ");
        eprintln!(
            "{name}: {expected} points in {} tiles, depth {}",
            w.glbs.len(),
            w.depth
        );
    }
}

fn expected_triangles(twin: &Twin) -> usize {
    let mut n = 0;
    for d in &twin.terrain {
        for r in 0..d.nrows.saturating_sub(1) {
            for c in 0..d.ncols.saturating_sub(1) {
                let v = [
                    d.get(c, r),
                    d.get(c + 1, r),
                    d.get(c, r + 1),
                    d.get(c + 1, r + 1),
                ]
                .iter()
                .filter(|x| x.is_some())
                .count();
                n += match v {
                    4 => 2,
                    3 => 1,
                    _ => 0,
                };
            }
        }
    }
    n
}

#[test]
fn every_dem_file_tiles_to_valid_terrain() {
    let tmp = tempfile::tempdir().unwrap();
    for path in files("dem", &[".asc", ".tif"]) {
        // Colorado: UTM zone 13N; the gully grid has no CRS file (NAD83 / UTM 13N).
        let Some((twin, _)) = import(&path, 32613, Some(26913)) else {
            continue;
        };
        let name = path.file_name().unwrap().to_string_lossy().to_string();
        let w = export(&twin, LayerKind::Terrain, &tmp.path().join(&name));
        let leaves: usize = w.infos.iter().filter(|i| i.leaf).map(|i| i.triangles).sum();
        assert_eq!(leaves, expected_triangles(&twin), "{name}");
        assert!(w.refines.contains("REPLACE"));
        eprintln!("{name}: {leaves} triangles in {} tiles", w.glbs.len());
    }
}

#[test]
fn the_hue_sample_twin_tiles_every_layer() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("../data/hue");
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("hue");
    std::fs::create_dir_all(&dir).unwrap();
    for e in std::fs::read_dir(&src).unwrap() {
        let p = e.unwrap().path();
        let n = p.file_name().unwrap().to_string_lossy().to_string();
        if p.is_file() && !n.starts_with("twin.gpkg") && !n.starts_with('.') {
            std::fs::copy(&p, dir.join(&n)).unwrap();
        }
    }
    let td = TwinDir::open(&dir).unwrap();
    if let Err(e) = td.build(&NoProgress) {
        if not_landed(&e) {
            eprintln!("skipped the sample twin: {e}");
            return;
        }
        panic!("{e}");
    }
    let twin = td.load().unwrap();
    let out = tmp.path().join("tiles");
    let rep = tiles::export(
        &twin,
        &out,
        &[],
        &TilesetOptions::for_config(&td.config),
        &NoProgress,
    )
    .unwrap();
    let w = check_export(&out);
    let geo: Value =
        serde_json::from_slice(&std::fs::read(src.join("buildings.geojson")).unwrap()).unwrap();
    let n = geo["features"].as_array().unwrap().len();
    let b = rep
        .layers
        .iter()
        .find(|l| l.layer == LayerKind::Buildings)
        .unwrap();
    assert_eq!(b.features, n);
    assert!(rep.layers.iter().any(|l| l.layer == LayerKind::Terrain));
    assert!(w.glbs.len() > 10);
}

/// COLOR_0 of every point of an exported point-cloud layer, and the layer's tileset metadata.
fn point_colours(dir: &Path) -> (Vec<[u8; 3]>, Value) {
    let w = check_export(dir);
    let mut colours = Vec::new();
    for info in &w.infos {
        let g = Glb::read(&info.path);
        let a = &g.primitives()[0]["attributes"];
        for c in g.accessor(a["COLOR_0"].as_u64().unwrap() as usize) {
            colours.push([0, 1, 2].map(|k| (c[k] * 255.0).round() as u8));
        }
    }
    let layer = dir.join("pointclouds/tileset.json");
    let ts: Value = serde_json::from_slice(&std::fs::read(layer).unwrap()).unwrap();
    (colours, ts["metadata"].clone())
}

/// A LAS point format without RGB (autzen's points with their colours dropped, as in point
/// formats 0, 1, 4, 6) is no longer black: auto colours it by classification when it is
/// classified, else by elevation; each choice is stated in the tileset metadata and the
/// official validator's schema check sees the class.
#[test]
fn clouds_without_rgb_are_coloured_by_class_or_elevation() {
    let tmp = tempfile::tempdir().unwrap();
    let Some((mut twin, _)) = import(&shared("lidar/autzen_trim.las"), 32610, None) else {
        return;
    };
    for p in &mut twin.pointclouds[0].points {
        p.rgb = None;
    }
    let n = twin.pointclouds[0].points.len();
    let classified = twin.pointclouds[0]
        .points
        .iter()
        .filter(|p| p.classification > 1)
        .count();
    let dark = |cs: &[[u8; 3]]| cs.iter().filter(|c| c.iter().all(|&v| v <= 3)).count();
    let distinct = |cs: &[[u8; 3]]| cs.iter().collect::<BTreeSet<_>>().len();
    // Auto.
    tiles::export(
        &twin,
        tmp.path().join("auto").as_path(),
        &[LayerKind::Pointclouds],
        &TilesetOptions::default(),
        &NoProgress,
    )
    .unwrap();
    let (cs, meta) = point_colours(&tmp.path().join("auto"));
    assert_eq!(cs.len(), n);
    let want = if classified * 100 >= n {
        "classification"
    } else {
        "elevation"
    };
    assert_eq!(meta["class"], "point_cloud_layer");
    assert_eq!(
        meta["properties"]["clouds"][0],
        twin.pointclouds[0].name.as_str()
    );
    assert_eq!(meta["properties"]["colour_sources"][0], want);
    assert_eq!(dark(&cs), 0, "no black points");
    eprintln!("autzen without RGB: {classified} of {n} points classified (>1), auto colours by {want}, {} distinct colours", distinct(&cs));
    // Each explicit choice.
    for (choice, min_distinct) in [("elevation", 100), ("intensity", 50), ("classification", 1)] {
        let opts = TilesetOptions {
            point_colour: tiles::PointColour::parse(choice).unwrap(),
            ..TilesetOptions::default()
        };
        let d = tmp.path().join(choice);
        tiles::export(&twin, &d, &[LayerKind::Pointclouds], &opts, &NoProgress).unwrap();
        let (cs, meta) = point_colours(&d);
        assert_eq!(meta["properties"]["colour_sources"][0], choice);
        // The 2-98 % stretch: at most a few percent of the points sit at the ramp's dark end.
        assert!(
            dark(&cs) * 100 <= n * 3,
            "{choice}: {} of {n} points black",
            dark(&cs)
        );
        assert!(
            distinct(&cs) >= min_distinct,
            "{choice}: {} colours",
            distinct(&cs)
        );
        if choice == "elevation" {
            // The lowest and highest points take the ramp's ends.
            let p = &twin.pointclouds[0].points;
            let lo = p.iter().map(|p| p.z).fold(f64::INFINITY, f64::min);
            let hi = p.iter().map(|p| p.z).fold(f64::NEG_INFINITY, f64::max);
            assert!(hi > lo);
            assert!(
                cs.contains(&[68, 1, 84]) && cs.contains(&[253, 231, 37]),
                "ramp ends used"
            );
        }
    }
    // A file with RGB keeps it under auto (LAS says 16 bits; autzen stores 8-bit values).
    let (twin, _) = import(&shared("lidar/autzen_trim.las"), 32610, None).unwrap();
    let d = tmp.path().join("rgb");
    let opts = TilesetOptions::default();
    tiles::export(&twin, &d, &[LayerKind::Pointclouds], &opts, &NoProgress).unwrap();
    let (mut got, meta) = point_colours(&d);
    assert_eq!(meta["properties"]["colour_sources"][0], "rgb");
    let pts = &twin.pointclouds[0].points;
    let shift = if pts.iter().any(|p| p.rgb.unwrap().iter().any(|&v| v > 255)) {
        8
    } else {
        0
    };
    let mut want: Vec<[u8; 3]> = pts
        .iter()
        .map(|p| p.rgb.unwrap().map(|v| (v >> shift) as u8))
        .collect();
    want.sort_unstable();
    got.sort_unstable();
    assert!(want == got, "RGB as in the file");
}
