//! The viewer's glTF reader on the tiles the server would serve, without a server or a GPU:
//! `tiles3d` plans the sample twin's buildings and heritage tilesets (compact content:
//! KHR_mesh_quantization + EXT_meshopt_compression, the server's default) and writes every
//! tile; `viewer::stream::content::decode` reads each back. Every vertex has a feature id
//! inside its property table; every building of the twin (but those without usable geometry) is in some tile, with its id, height,
//! levels and use as the twin has them; each tile's vertices, placed through its frame into
//! the project CRS, lie inside the tile's region (as projected by the viewer's mapper).

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;
use tiles3d::geodesy::GeoidLattice;
use tiles3d::{Tileset, TilesetOptions};
use twin_core::{LayerKind, TwinDir};
use viewer::stream::content::decode;
use viewer::stream::tree::Georef;

#[test]
fn compact_tiles_decode_to_the_twins_features_in_place() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../data/hue");
    let td = TwinDir::open(&dir).unwrap();
    let twin = td.load().unwrap();
    let opts = TilesetOptions::for_config(&td.config);
    assert!(opts.compact, "the server's default is compact content");
    let ts = Tileset::plan(&twin, LayerKind::Buildings, &opts).unwrap();
    let e = [
        ts.root().region.west.to_degrees(),
        ts.root().region.south.to_degrees(),
        ts.root().region.east.to_degrees(),
        ts.root().region.north.to_degrees(),
    ];
    // The viewer's frame: the project CRS around the twin's centre, the tiles' own geoid.
    let to = twin_core::Transform::new(&twin_core::Crs::wgs84(), &twin.crs).unwrap();
    let (x0, y0) = to.apply(e[0], e[1]).unwrap();
    let (x1, y1) = to.apply(e[2], e[3]).unwrap();
    let ext = [x0.min(x1), y0.min(y1), x0.max(x1), y0.max(y1)];
    let geoid = match ts.geoid() {
        tiles3d::geodesy::GeoidModel::Constant(n) => {
            GeoidLattice::new(&twin.crs, ext, tiles3d::geodesy::GeoidChoice::Constant, *n)
        }
        _ => GeoidLattice::new(&twin.crs, ext, tiles3d::geodesy::GeoidChoice::Auto, 0.0),
    }
    .unwrap();
    let georef = Georef {
        crs: twin.crs.clone(),
        origin: [(ext[0] + ext[2]) / 2.0, (ext[1] + ext[3]) / 2.0],
        geoid: Arc::new(geoid),
    };
    let mapper = georef.mapper().unwrap();
    let by_id: HashMap<&str, &twin_core::model::Building> = twin
        .buildings
        .features()
        .iter()
        .map(|b| (b.id.as_str(), b))
        .collect();
    let mut seen = std::collections::HashSet::new();
    let (mut tiles, mut blocks) = (0, 0);
    for t in ts.tiles() {
        if t.content_uri().is_none() {
            continue;
        }
        let bytes = ts.tile_content(&twin, &t.id).unwrap();
        let c = decode(&bytes).unwrap();
        tiles += 1;
        // Block tiles (the city's mass, docs/adr/0026) merge their descendants' buildings:
        // class `block`, one feature per block with its building count and mean height.
        let class = if t.is_blocks() { "block" } else { "building" };
        assert_eq!(c.class.as_deref(), Some(class), "tile {}", t.id);
        let box_ = mapper
            .region_box(&[
                t.region.west,
                t.region.south,
                t.region.east,
                t.region.north,
                t.region.min_h,
                t.region.max_h,
            ])
            .unwrap();
        let world = t.frame.matrix();
        for p in &c.primitives {
            assert_eq!(p.feature_ids.len(), p.positions.len());
            assert!(p
                .feature_ids
                .iter()
                .all(|&f| (f as usize) < c.features.len()));
            // Every 97th vertex, placed: inside the region's box (1 m of padding, as the
            // writer pads regions).
            for q in p.positions.iter().step_by(97) {
                let l = mapper
                    .local(viewer::stream::content::mul_point(&world, *q))
                    .unwrap();
                for k in 0..3 {
                    assert!(
                        l[k] >= box_.0[k] - 1.0 && l[k] <= box_.1[k] + 1.0,
                        "tile {}: vertex {l:?} outside {box_:?}",
                        t.id
                    );
                }
            }
        }
        if t.is_blocks() {
            blocks += 1;
            for f in &c.features {
                assert!(f["building_count"].as_u64().unwrap() >= 1, "{f:?}");
                assert!(f["height"].as_f64().unwrap().is_finite(), "{f:?}");
            }
            continue;
        }
        for f in &c.features {
            let id = f["id"].as_str().unwrap();
            let b = by_id[id];
            seen.insert(id.to_string());
            let h = f["height"].as_f64().unwrap();
            assert!((h - b.height).abs() < 1e-3 * b.height.max(1.0), "{id}");
            assert_eq!(
                f.get("levels").and_then(|v| v.as_u64()),
                b.levels.map(u64::from)
            );
            assert_eq!(f.get("use").and_then(|v| v.as_str()), b.usage.as_deref());
        }
    }
    eprintln!(
        "{tiles} tiles ({blocks} of blocks), {} of {} buildings",
        seen.len(),
        twin.buildings.len()
    );
    assert!(tiles > 1 && blocks >= 1);
    // Buildings without usable geometry are left out of the tiles by tiles3d.
    assert!(seen.len() * 100 >= twin.buildings.len() * 99);

    // Heritage sites are picked in a twin folder's scene too: a ray straight down through a
    // point inside a site's outline meets that site's area (or one drawn over it).
    let scene = viewer::scene::ViewerScene::from_twin(&twin).unwrap();
    let mut picked = 0;
    for (k, h) in scene.heritage.iter().enumerate() {
        // A point inside the outline: the centroid of its first triangle.
        let Some(ring) = twin_core::rings::clean_ring(h.polygons[0].exterior()) else {
            continue;
        };
        let tris = twin_core::rings::triangulate(std::slice::from_ref(&ring));
        let Some(t0) = tris.first() else { continue };
        let p = (
            t0.iter().map(|&i| ring[i].0).sum::<f64>() / 3.0,
            t0.iter().map(|&i| ring[i].1).sum::<f64>() / 3.0,
        );
        let z = scene.ground(p.0, p.1) + 500.0;
        let o = scene.to_local([p.0, p.1, z]);
        let ray = bevy::math::Ray3d::new(o, bevy::math::Dir3::NEG_Y);
        let (hit, t) = scene
            .pick_heritage(ray)
            .expect("a heritage area under the point");
        // The area is drawn through its outlines' vertices, lifted over the ground there.
        let lift = viewer::scene::HERITAGE_LIFT_M;
        let (lo, hi) = scene.heritage[hit]
            .polygons
            .iter()
            .flat_map(|q| std::iter::once(q.exterior()).chain(q.interiors()))
            .flat_map(|r| r.coords())
            .map(|c| scene.ground(c.x, c.y) + lift)
            .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), v| {
                (a.min(v), b.max(v))
            });
        let at = z - t;
        assert!(
            at >= lo - 1e-3 && at <= hi + 1e-3,
            "site {k}: hit at {at}, outline between {lo} and {hi}"
        );
        let inside = scene.heritage[hit].polygons.iter().any(|q| {
            // Even-odd crossings of the exterior ring.
            let r: Vec<_> = q.exterior().coords().collect();
            let mut c = false;
            for w in r.windows(2) {
                let (a, b) = (w[0], w[1]);
                if (a.y > p.1) != (b.y > p.1) && p.0 < a.x + (p.1 - a.y) * (b.x - a.x) / (b.y - a.y)
                {
                    c = !c;
                }
            }
            c
        });
        assert!(
            inside,
            "site {k}: picked {hit}, whose outline misses the point"
        );
        picked += 1;
    }
    assert!(picked > 0);
}
