//! Implicit tiling (3D Tiles 1.1 `implicitTiling`, ADR 0017) of buildings and heritage: the
//! sample twin and the Hue OSM buildings export to implicit tilesets whose subtrees, read back by
//! testkit's own decoder, list exactly the tiles the plan has; every feature is in exactly one
//! available tile; every vertex lies inside its tile's region and every ancestor's; the glTF
//! validator passes every tile, and the official 3d-tiles-validator (when built) the tilesets;
//! tileset.json keeps its size when the layer grows tenfold.

use std::collections::BTreeSet;
use std::path::Path;
use testkit::*;
use tiles3d::{self as tiles, Tileset, TilesetOptions};
use twin_core::crs::Crs;
use twin_core::model::Imported;
use twin_core::twin::SourceConfig;
use twin_core::NoProgress;
use twin_core::{LayerKind, Twin, TwinDir};

fn implicit(opts: &TilesetOptions) -> TilesetOptions {
    TilesetOptions {
        implicit: true,
        ..opts.clone()
    }
}

fn key(id: &str) -> (u32, u32, u32) {
    let v: Vec<u32> = id.split('/').map(|p| p.parse().unwrap()).collect();
    (v[0], v[1], v[2])
}

/// Export `layer` implicitly to `out`, check it as a whole and against its plan; the walk.
fn export_and_check(twin: &Twin, layer: LayerKind, opts: &TilesetOptions, out: &Path) -> Walk {
    let ts = Tileset::plan(twin, layer, opts).unwrap();
    assert!(ts.is_implicit());
    let rep = tiles::export_tileset(twin, &ts, out, &NoProgress).unwrap();
    let w = check_export(out);
    let t = w.implicit.as_ref().expect("an implicit tileset");
    // Subtree availability equals the tiles that exist: available tiles are the plan's tiles,
    // content tiles the plan's tiles with content (and the glb files, by check_export).
    let planned: BTreeSet<_> = ts.tiles().iter().map(|t| key(&t.id)).collect();
    let with_content: BTreeSet<_> = ts
        .tiles()
        .iter()
        .filter(|t| t.content_uri().is_some())
        .map(|t| key(&t.id))
        .collect();
    assert_eq!(t.tiles, planned);
    assert_eq!(t.content, with_content);
    assert_eq!(w.glbs.len(), rep.contents);
    assert_eq!(t.subtrees.len(), rep.subtrees);
    // No empty branch: every available tile has content or an available child.
    for &(l, x, y) in &t.tiles {
        let child = (0..4).any(|q| {
            t.tiles
                .contains(&(l + 1, 2 * x + (q & 1), 2 * y + (q >> 1)))
        });
        assert!(
            t.content.contains(&(l, x, y)) || child,
            "empty tile {l}/{x}/{y}"
        );
    }
    let stats = ts.implicit_stats().unwrap();
    assert_eq!(t.available_levels, stats.available_levels);
    assert_eq!(
        t.tiles.iter().map(|k| k.0).max().unwrap() + 1,
        stats.available_levels
    );
    // Every feature of the layer exactly once across the available tiles' content.
    let ids: BTreeSet<String> = match layer {
        LayerKind::Buildings => twin
            .buildings
            .features()
            .iter()
            .map(|b| b.id.clone())
            .collect(),
        _ => twin
            .heritage
            .features()
            .iter()
            .map(|h| h.id.clone())
            .collect(),
    };
    assert_eq!(w.features.keys().cloned().collect::<BTreeSet<_>>(), ids);
    assert!(
        w.features.values().all(|&n| n == 1),
        "every feature in one tile"
    );
    // Content bounded like the explicit tree, but for features straddling split lines.
    let limit = opts.max_features.max(opts.parent_features);
    for i in &w.infos {
        let n = Glb::read(&i.path).property_tables()[0]["count"]
            .as_u64()
            .unwrap() as usize;
        assert!(
            n <= limit || stats.over_limit_tiles > 0,
            "{}: {n} features",
            i.path.display()
        );
    }
    assert!(stats.max_tile_features <= limit || stats.over_limit_tiles > 0);
    w
}

fn validate_if_built(tileset: &Path) {
    let Some(v) = tiles_validator() else {
        eprintln!(
            "3d-tiles-validator not built: skipped on {}",
            tileset.display()
        );
        return;
    };
    let r = validate_tileset(&v, tileset);
    assert_eq!(r["numErrors"], 0, "{}: {r:#}", tileset.display());
}

fn sample_twin(dir: &Path) -> Option<(Twin, TilesetOptions)> {
    copy_sample_twin(dir);
    let td = TwinDir::open(dir).unwrap();
    if let Err(e) = td.build(&NoProgress) {
        if not_landed(&e) {
            eprintln!("skipped the sample twin: {e}");
            return None;
        }
        panic!("{e}");
    }
    Some((td.load().unwrap(), TilesetOptions::for_config(&td.config)))
}

#[test]
fn sample_twin_buildings_and_heritage_in_both_forms() {
    let tmp = tempfile::tempdir().unwrap();
    let Some((twin, opts)) = sample_twin(&tmp.path().join("hue")) else {
        return;
    };
    for compact in [true, false] {
        // Small leaves so that the sample's buildings (6,207 from OSM) make a tree several
        // levels deep.
        let o = TilesetOptions {
            compact,
            max_features: 200,
            parent_features: 50,
            ..implicit(&opts)
        };
        let form = if compact { "compact" } else { "plain" };
        for layer in [LayerKind::Buildings, LayerKind::Heritage] {
            let out = tmp.path().join(form).join(layer.name());
            let w = export_and_check(&twin, layer, &o, &out);
            if layer == LayerKind::Buildings {
                let t = w.implicit.as_ref().unwrap();
                assert!(t.available_levels >= 3, "{} levels", t.available_levels);
                assert!(w.glbs.len() >= 17);
            }
            validate_if_built(&out.join("tileset.json"));
        }
    }
}

#[test]
fn hue_osm_buildings() {
    let tmp = tempfile::tempdir().unwrap();
    let mut td =
        TwinDir::create(&tmp.path().join("hue"), "hue", Crs::epsg(32648).unwrap()).unwrap();
    td.import(
        SourceConfig {
            path: shared("hue/hue.osm.pbf"),
            layer: None,
            crs: None,
            lod: None,
        },
        &NoProgress,
    )
    .unwrap();
    let twin = td.load().unwrap();
    let opts = implicit(&TilesetOptions::for_config(&td.config));
    let out = tmp.path().join("buildings");
    let w = export_and_check(&twin, LayerKind::Buildings, &opts, &out);
    assert_eq!(w.features.len(), twin.buildings.len());
    validate_if_built(&out.join("tileset.json"));
}

#[test]
fn tileset_json_keeps_its_size_as_the_layer_grows_tenfold() {
    let tmp = tempfile::tempdir().unwrap();
    let Some((sample, opts)) = sample_twin(&tmp.path().join("hue")) else {
        return;
    };
    let n = sample.buildings.len();
    let mut big = Twin::new("synthetic", Crs::epsg(32648).unwrap()).unwrap();
    big.add(Imported {
        buildings: synthetic_buildings(10 * n),
        ..Default::default()
    })
    .unwrap();
    let size = |twin: &Twin, o: &TilesetOptions| {
        let ts = Tileset::plan(twin, LayerKind::Buildings, o).unwrap();
        (
            tiles::tileset_bytes(&ts.tileset_json()).unwrap().len(),
            ts.tiles().len(),
        )
    };
    let (small_imp, small_tiles) = size(&sample, &implicit(&opts));
    let (big_imp, big_tiles) = size(&big, &implicit(&opts));
    let (small_exp, _) = size(&sample, &opts);
    let (big_exp, _) = size(&big, &opts);
    eprintln!(
        "tileset.json bytes: implicit {small_imp} ({small_tiles} tiles) -> {big_imp} ({big_tiles} tiles); explicit {small_exp} -> {big_exp}"
    );
    // Ten times the buildings (spread evenly, where the sample's OSM buildings cluster in the
    // centre) make more than three times the tiles (25 -> 85 on the OSM sample).
    assert!(
        big_tiles > 3 * small_tiles,
        "{small_tiles} -> {big_tiles} tiles"
    );
    // The same members; only the digits of a few numbers differ.
    assert!(
        big_imp.abs_diff(small_imp) <= 40,
        "implicit tileset.json {small_imp} -> {big_imp} bytes"
    );
    assert!(big_exp > 3 * small_exp, "explicit {small_exp} -> {big_exp}");
    // Depth is bounded for implicit tiling (tile coordinates stay well inside u32).
    let deep = TilesetOptions {
        max_depth: 40,
        ..implicit(&opts)
    };
    let e = Tileset::plan(&sample, LayerKind::Buildings, &deep).unwrap_err();
    assert!(e.to_string().contains("max_depth 40"), "{e}");
}
