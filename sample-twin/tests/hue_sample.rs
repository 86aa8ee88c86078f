//! The Huế sample twin in `data/hue`: the committed files are exactly what the generator makes,
//! and they say what the public facts say. Everything is read back with plain `serde_json` /
//! text parsing and checked with the small geometry below (not the generator's own code).

use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use twin_core::crs::Transform;

fn data_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../data/hue")
}

fn read_json(name: &str) -> Value {
    let path = data_dir().join(name);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

type Pt = (f64, f64);

fn pt(v: &Value) -> Pt {
    (v[0].as_f64().expect("lon"), v[1].as_f64().expect("lat"))
}

fn ring(v: &Value) -> Vec<Pt> {
    v.as_array().expect("ring").iter().map(pt).collect()
}

/// Rings of a Polygon feature (outer first).
fn polygon(f: &Value) -> Vec<Vec<Pt>> {
    assert_eq!(f["geometry"]["type"], "Polygon", "{}", f["properties"]);
    f["geometry"]["coordinates"]
        .as_array()
        .expect("rings")
        .iter()
        .map(ring)
        .collect()
}

fn line(f: &Value) -> Vec<Pt> {
    assert_eq!(f["geometry"]["type"], "LineString", "{}", f["properties"]);
    ring(&f["geometry"]["coordinates"])
}

fn features(fc: &Value) -> &Vec<Value> {
    assert_eq!(fc["type"], "FeatureCollection");
    fc["features"].as_array().expect("features")
}

fn by_id<'a>(fc: &'a Value, id: &str) -> &'a Value {
    features(fc)
        .iter()
        .find(|f| f["properties"]["id"] == id)
        .unwrap_or_else(|| panic!("no feature {id}"))
}

/// Even-odd point in a closed ring.
fn inside(p: Pt, r: &[Pt]) -> bool {
    let mut c = false;
    for i in 0..r.len() - 1 {
        let (a, b) = (r[i], r[i + 1]);
        if (a.1 > p.1) != (b.1 > p.1) && p.0 < a.0 + (p.1 - a.1) / (b.1 - a.1) * (b.0 - a.0) {
            c = !c;
        }
    }
    c
}

/// Point in a polygon with holes.
fn in_polygon(p: Pt, rings: &[Vec<Pt>]) -> bool {
    inside(p, &rings[0]) && !rings[1..].iter().any(|h| inside(p, h))
}

/// Every water area of the water layer (Polygon and MultiPolygon parts), each as its rings.
fn water_areas(w: &Value) -> Vec<Vec<Vec<Vec<Pt>>>> {
    features(w)
        .iter()
        .filter_map(|f| {
            let g = &f["geometry"];
            let c = g["coordinates"].as_array()?;
            let part = |p: &Value| -> Vec<Vec<Pt>> {
                p.as_array().into_iter().flatten().map(ring).collect()
            };
            match g["type"].as_str()? {
                "Polygon" => Some(vec![part(&g["coordinates"])]),
                "MultiPolygon" => Some(c.iter().map(part).collect()),
                _ => None,
            }
        })
        .collect()
}

/// Shoelace area (degrees², positive when counter-clockwise).
fn area(r: &[Pt]) -> f64 {
    r.windows(2)
        .map(|w| w[0].0 * w[1].1 - w[1].0 * w[0].1)
        .sum::<f64>()
        / 2.0
}

fn orient(a: Pt, b: Pt, c: Pt) -> f64 {
    (b.0 - a.0) * (c.1 - a.1) - (b.1 - a.1) * (c.0 - a.0)
}

/// True when segments a-b and c-d cross at a point interior to both.
fn cross_properly(a: Pt, b: Pt, c: Pt, d: Pt) -> bool {
    let (o1, o2, o3, o4) = (
        orient(a, b, c),
        orient(a, b, d),
        orient(c, d, a),
        orient(c, d, b),
    );
    o1 * o2 < 0.0 && o3 * o4 < 0.0
}

/// True when any segment of `l` crosses any edge of ring `r`.
fn crosses_ring(l: &[Pt], r: &[Pt]) -> bool {
    l.windows(2)
        .any(|s| r.windows(2).any(|e| cross_properly(s[0], s[1], e[0], e[1])))
}

/// Metres between two WGS84 points (equirectangular, fine over a few km).
fn metres(a: Pt, b: Pt) -> f64 {
    let k = 111_320.0;
    let dx = (a.0 - b.0) * k * (a.1.to_radians().cos());
    let dy = (a.1 - b.1) * 110_574.0;
    dx.hypot(dy)
}

fn centroid(r: &[Pt]) -> Pt {
    let n = (r.len() - 1) as f64;
    (
        r[..r.len() - 1].iter().map(|p| p.0).sum::<f64>() / n,
        r[..r.len() - 1].iter().map(|p| p.1).sum::<f64>() / n,
    )
}

#[test]
fn regenerated_sample_is_byte_identical_to_the_committed_files() {
    let tmp = tempfile::tempdir().expect("temp dir");
    let osm = sample_twin::default_osm_path();
    assert!(
        osm.is_file(),
        "the OSM extract {} is needed to regenerate the sample",
        osm.display()
    );
    let (paths, _) = sample_twin::write_to(tmp.path(), &osm).expect("generate");
    // (a twin folder also collects a store and caches: only the generated files are compared)
    let generated: BTreeSet<String> = paths
        .iter()
        .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    assert_eq!(generated.len(), 11, "{generated:?}");
    let mut total = 0;
    for name in &generated {
        let new = std::fs::read(tmp.path().join(name)).expect("generated file");
        let old = std::fs::read(data_dir().join(name)).expect("committed file");
        total += old.len();
        assert!(
            new == old,
            "data/hue/{name} differs from the generator's output ({} vs {} bytes): run `cargo run -p sample-twin -- data/hue`",
            old.len(),
            new.len()
        );
    }
    assert!(total < 5_000_000, "data/hue is {total} bytes");
}

#[test]
fn twin_toml_loads_and_names_every_source() {
    let cfg = twin_core::twin::TwinConfig::load(&data_dir()).expect("twin.toml");
    assert_eq!(cfg.crs, "EPSG:32648");
    assert!((cfg.geoid_offset_m - -14.0).abs() < 0.05);
    let names: BTreeSet<String> = cfg
        .sources
        .iter()
        .map(|s| s.path.to_string_lossy().into_owned())
        .collect();
    let want: BTreeSet<String> = [
        "dem.asc",
        "water.geojson",
        "landuse.geojson",
        "roads.geojson",
        "heritage.geojson",
        "buildings.geojson",
        "sensors.csv",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    assert_eq!(names, want);
    for s in &cfg.sources {
        assert!(data_dir().join(&s.path).is_file(), "{}", s.path.display());
        assert!(s.layer.is_some() && s.crs.is_some(), "{:?}", s);
    }
    let readme = std::fs::read_to_string(data_dir().join("README.md")).expect("README");
    assert!(
        readme.contains("SYNTHETIC")
            && readme.contains("ODbL")
            && readme.contains("© OpenStreetMap contributors")
            && readme.contains("sample-twin")
    );
    let licence = std::fs::read_to_string(data_dir().join("LICENSE-ODbL.md")).expect("licence");
    assert!(
        licence.contains("Open Database License")
            && licence.contains("© OpenStreetMap contributors")
    );
    assert!(cfg
        .attribution
        .as_deref()
        .is_some_and(|a| a.contains("© OpenStreetMap contributors")));
}

/// The OSM-derived GeoJSON beside the extract (`../shared/data/hue/geojson`), read as an
/// independent source: it was made from the same `hue.osm.pbf` by another tool (ogr2ogr).
fn shared_geojson(name: &str) -> Value {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../shared/data/hue/geojson")
        .join(name);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// `w123` / `r123` (ogr2ogr's ids) as `way/123` / `relation/123` (the sample's).
fn osm_key(id: &str) -> String {
    match id.split_at(1) {
        ("w", n) => format!("way/{n}"),
        ("r", n) => format!("relation/{n}"),
        _ => id.to_string(),
    }
}

/// The sample's extent (lon/lat), as its README states it.
const EXTENT: [f64; 4] = [107.515, 16.366, 107.625, 16.520];

#[test]
fn buildings_are_the_osm_footprints_in_the_extent_out_of_the_river() {
    let b = read_json("buildings.geojson");
    let w = read_json("water.geojson");
    let river = polygon(by_id(&w, "song-huong"));
    let areas = water_areas(&w);
    // The independent count: OSM buildings (ogr2ogr's GeoJSON) whose outer ring's centroid is
    // in the extent and not in water, at least 4 m² (the README's rule).
    let src = shared_geojson("hue_building.geojson");
    let mut expect: BTreeMap<String, Vec<Pt>> = BTreeMap::new();
    for f in features(&src) {
        let g = &f["geometry"];
        let polys: Vec<Vec<Pt>> = g["coordinates"]
            .as_array()
            .expect("MultiPolygon")
            .iter()
            .map(|p| ring(&p[0]))
            .collect();
        let Some(outer) = polys
            .into_iter()
            .max_by(|x, y| area(x).abs().total_cmp(&area(y).abs()))
        else {
            continue;
        };
        let c = centroid(&outer);
        let m2 = area(&outer).abs() * 111_320.0 * 110_574.0 * 16.47f64.to_radians().cos();
        if (EXTENT[0]..=EXTENT[2]).contains(&c.0)
            && (EXTENT[1]..=EXTENT[3]).contains(&c.1)
            && !in_polygon(c, &river)
            && !areas.iter().any(|a| a.iter().any(|p| in_polygon(c, p)))
            && m2 >= 4.0
        {
            let id = f["properties"]["osm_id"].as_str().expect("osm_id");
            expect.insert(osm_key(id), outer);
        }
    }
    let feats = features(&b);
    eprintln!(
        "{} buildings in data/hue, {} by the independent count",
        feats.len(),
        expect.len()
    );
    // Lakes are also left out by the generator, and areas near 4 m² or centroids on the
    // river's edge may fall either side: within 1 %.
    let diff = (feats.len() as f64 - expect.len() as f64).abs();
    assert!(
        diff <= 0.01 * expect.len() as f64,
        "{} buildings, {} expected",
        feats.len(),
        expect.len()
    );
    let mut ids = BTreeSet::new();
    let mut matched = 0;
    let mut named = 0;
    for f in feats {
        let p = &f["properties"];
        let id = p["id"].as_str().expect("id");
        let osm = p["osm_id"].as_str().expect("osm_id");
        assert!(ids.insert(osm.to_string()), "{osm} twice");
        assert!(p["building"].is_string(), "{id} has a building tag");
        if p.get("name").is_some() {
            named += 1;
        }
        let rings = polygon(f);
        let r = &rings[0];
        assert!(r.len() >= 4, "{id}");
        assert_eq!(r[0], r[r.len() - 1], "{id} ring is closed");
        assert!(area(r) > 0.0, "{id} is counter-clockwise (RFC 7946)");
        for h in &rings[1..] {
            assert!(area(h) < 0.0, "{id}: holes clockwise");
        }
        assert!(
            !in_polygon(centroid(r), &river),
            "{id} is in the Perfume River"
        );
        // The footprint is the OSM one: same vertices (either orientation) as ogr2ogr's.
        if let Some(src) = expect.get(osm) {
            let set = |r: &[Pt]| -> BTreeSet<(i64, i64)> {
                r.iter()
                    .map(|q| ((q.0 * 1e7).round() as i64, (q.1 * 1e7).round() as i64))
                    .collect()
            };
            assert_eq!(set(r), set(src), "{id} ({osm}) is not the OSM footprint");
            assert_eq!(r.len(), src.len(), "{id} ({osm}): vertex count");
            matched += 1;
        }
    }
    assert!(
        matched as f64 >= 0.99 * feats.len() as f64,
        "only {matched} of {} buildings match an OSM footprint",
        feats.len()
    );
    // Real, named places are among them.
    let names: BTreeSet<&str> = feats
        .iter()
        .filter_map(|f| f["properties"]["name"].as_str())
        .collect();
    for n in ["Trường Tiền Plaza", "Điện Thái Hòa", "Ngọ Môn"] {
        assert!(names.contains(n), "no building named {n}");
    }
    assert!(named > 50, "{named} named buildings");
}

/// (heritage id, lon, lat): public positions that the site's polygon must contain.
const FACTS: [(&str, f64, f64); 19] = [
    ("ngo-mon", 107.5792, 16.4677),
    ("thai-hoa", 107.5783, 16.4688),
    ("ky-dai", 107.5803, 16.4663),
    ("phu-van-lau", 107.5809, 16.4655),
    ("hoang-thanh", 107.5775, 16.4698),
    ("cua-ngan", 107.5814, 16.4676),
    ("cua-quang-duc", 107.5786, 16.4657),
    ("cua-thuong-tu", 107.5842, 16.4698),
    ("cua-dong-ba", 107.5837, 16.4775),
    ("cua-chanh-tay", 107.5615, 16.4746),
    ("cho-dong-ba", 107.5890, 16.4729),
    ("thien-mu", 107.5447, 16.4537),
    ("lang-tu-duc", 107.5650, 16.4330),
    ("lang-minh-mang", 107.5700, 16.3880),
    ("lang-khai-dinh", 107.5900, 16.3990),
    ("lang-gia-long", 107.5960, 16.3750),
    ("nam-giao", 107.5825, 16.4376),
    ("ngu-binh", 107.5961, 16.4418),
    ("kinh-thanh-area", 107.5734, 16.4751),
];

#[test]
fn heritage_sites_are_where_the_public_facts_put_them() {
    let h = read_json("heritage.geojson");
    for (id, lon, lat) in FACTS {
        let rings = polygon(by_id(&h, id));
        assert!(
            in_polygon((lon, lat), &rings),
            "{id} does not contain ({lon}, {lat})"
        );
    }
    for f in features(&h) {
        let p = &f["properties"];
        let zone = p["zone"].as_str().expect("zone");
        assert!(zone == "I" || zone == "II", "{p}");
        assert!(
            p["name"].is_string() && p["name_vi"].is_string() && p["historic"].is_string(),
            "{p}"
        );
        if let Some(l) = p.get("height_limit_m") {
            assert!(l.as_f64().is_some_and(|v| v > 0.0) && zone == "II", "{p}");
        }
        for (i, r) in polygon(f).iter().enumerate() {
            assert_eq!(r[0], r[r.len() - 1]);
            assert_eq!(
                area(r) > 0.0,
                i == 0,
                "{}: outer ring counter-clockwise, holes clockwise",
                p["id"]
            );
        }
    }
    // Sites with an osm_id carry the OSM outline: the same vertices as ogr2ogr's GeoJSON.
    let src = shared_geojson("hue_heritage.geojson");
    let mut from_osm = 0;
    for f in features(&h) {
        let Some(osm) = f["properties"]["osm_id"].as_str() else {
            continue;
        };
        from_osm += 1;
        let Some(sf) = features(&src)
            .iter()
            .find(|x| osm_key(x["properties"]["osm_id"].as_str().unwrap_or("")) == osm)
        else {
            continue;
        };
        let key = |r: &[Pt]| -> BTreeSet<(i64, i64)> {
            r.iter()
                .map(|q| ((q.0 * 1e7).round() as i64, (q.1 * 1e7).round() as i64))
                .collect()
        };
        // the largest part, as the generator takes it
        let outer = sf["geometry"]["coordinates"]
            .as_array()
            .expect("MultiPolygon")
            .iter()
            .map(|p| ring(&p[0]))
            .max_by(|x, y| area(x).abs().total_cmp(&area(y).abs()))
            .expect("a part");
        assert_eq!(key(&polygon(f)[0]), key(&outer), "{osm} outline");
    }
    assert!(from_osm >= 20, "{from_osm} sites with an OSM outline");
    for id in ["ngo-mon", "thai-hoa", "lang-tu-duc", "cua-ngan", "cua-hau"] {
        assert!(
            by_id(&h, id)["properties"]["osm_id"].is_string(),
            "{id} has its OSM outline"
        );
    }
    // The walls are a ring (a polygon with a hole) around the citadel; the citadel centre is in
    // the hole, the Imperial City inside the hole too.
    let walls = polygon(by_id(&h, "kinh-thanh-walls"));
    assert_eq!(walls.len(), 2);
    assert!(!in_polygon((107.5734, 16.4751), &walls) && inside((107.5734, 16.4751), &walls[1]));
    let imperial = polygon(by_id(&h, "hoang-thanh"));
    assert!(imperial[0].iter().all(|&q| inside(q, &walls[1])));
    for id in ["tu-cam-thanh", "thai-hoa"] {
        assert!(
            polygon(by_id(&h, id))[0]
                .iter()
                .all(|&q| inside(q, &imperial[0])),
            "{id} in the Imperial City"
        );
    }
    // The walls are about 2.1–2.4 km a side: perimeter 8–10 km.
    let per: f64 = walls[0].windows(2).map(|w| metres(w[0], w[1])).sum();
    assert!(
        (8000.0..10_000.0).contains(&per),
        "walls perimeter {per:.0} m"
    );
    // The royal axis: from Ngọ Môn out through Kỳ Đài towards Ngự Bình, bearing about 143.5°.
    let ngo = centroid(&polygon(by_id(&h, "ngo-mon"))[0]);
    let ky = centroid(&polygon(by_id(&h, "ky-dai"))[0]);
    let bearing = ((ky.0 - ngo.0) * 16.47f64.to_radians().cos())
        .atan2(ky.1 - ngo.1)
        .to_degrees();
    assert!((bearing - 143.5).abs() < 8.0, "axis bearing {bearing:.1}");
    let ic = &imperial[0];
    let side = metres(ic[0], ic[1]);
    assert!(
        (550.0..680.0).contains(&side),
        "Imperial City side {side:.0} m"
    );
}

#[test]
fn roads_are_the_osm_streets_in_one_network_and_only_bridges_cross_the_river() {
    let r = read_json("roads.geojson");
    let w = read_json("water.geojson");
    let river = polygon(by_id(&w, "song-huong"));
    let feats = features(&r);
    // Every link is a piece of an OSM highway way of the same class, vertex for vertex.
    let src = shared_geojson("hue_highway.geojson");
    type Way<'a> = (&'a Value, BTreeSet<(i64, i64)>);
    let ways: BTreeMap<String, Way> = features(&src)
        .iter()
        .map(|f| {
            let l = line(f);
            (
                osm_key(f["properties"]["osm_id"].as_str().expect("osm_id")),
                (
                    &f["properties"],
                    l.iter()
                        .map(|q| ((q.0 * 1e7).round() as i64, (q.1 * 1e7).round() as i64))
                        .collect(),
                ),
            )
        })
        .collect();
    let mut distinct = BTreeSet::new();
    for f in feats {
        let p = &f["properties"];
        let osm = p["osm_id"].as_str().expect("osm_id");
        let (sp, nodes) = ways
            .get(osm)
            .unwrap_or_else(|| panic!("{osm} is not an OSM way"));
        assert_eq!(p["highway"], sp["highway"], "{osm}");
        assert_eq!(p.get("name"), sp.get("name"), "{osm}");
        for q in line(f) {
            let k = ((q.0 * 1e7).round() as i64, (q.1 * 1e7).round() as i64);
            assert!(nodes.contains(&k), "{osm}: vertex {q:?} not on the way");
            assert!(
                (EXTENT[0]..=EXTENT[2]).contains(&q.0) && (EXTENT[1]..=EXTENT[3]).contains(&q.1)
            );
        }
        distinct.insert(osm.to_string());
    }
    assert!(feats.len() > distinct.len(), "ways are split at junctions");
    let key = |p: Pt| (p.0.to_bits(), p.1.to_bits());
    let mut node: BTreeMap<(u64, u64), usize> = BTreeMap::new();
    let mut parent: Vec<usize> = Vec::new();
    fn find(p: &mut [usize], mut x: usize) -> usize {
        while p[x] != x {
            p[x] = p[p[x]];
            x = p[x];
        }
        x
    }
    let lines: Vec<(Vec<Pt>, bool, String)> = feats
        .iter()
        .map(|f| {
            let p = &f["properties"];
            for k in ["id", "highway"] {
                assert!(p[k].is_string(), "{k} in {p}");
            }
            for k in ["lanes", "maxspeed", "oneway", "name"] {
                assert!(p.get(k).is_none_or(|v| v.is_string()), "{k} in {p}");
            }
            (
                line(f),
                p.get("bridge").is_some_and(|b| b == "yes"),
                p["name"].as_str().unwrap_or("").to_string(),
            )
        })
        .collect();
    for (l, _, _) in &lines {
        let mut ends = [0usize; 2];
        for (i, q) in [l[0], l[l.len() - 1]].into_iter().enumerate() {
            let n = node.len();
            ends[i] = *node.entry(key(q)).or_insert_with(|| {
                parent.push(n);
                n
            });
        }
        let (a, b) = (find(&mut parent, ends[0]), find(&mut parent, ends[1]));
        parent[a] = b;
    }
    let roots: BTreeSet<usize> = (0..parent.len()).map(|i| find(&mut parent, i)).collect();
    assert_eq!(
        roots.len(),
        1,
        "the links form {} separate networks",
        roots.len()
    );
    // Links meet only at their ends: no link has an interior vertex that is another link's
    // vertex (they are split at every shared node).
    let mut interior: BTreeMap<(u64, u64), usize> = BTreeMap::new();
    for (i, (l, _, _)) in lines.iter().enumerate() {
        for q in &l[1..l.len() - 1] {
            interior.insert(key(*q), i);
        }
    }
    for (i, (l, _, _)) in lines.iter().enumerate() {
        for q in l {
            if let Some(&j) = interior.get(&key(*q)) {
                assert_eq!(i, j, "link {i} meets link {j} in its middle");
            }
        }
    }
    // Only bridges enter the Perfume River (OSM's outline and OSM's streets agree), and the
    // river bridges do cross it.
    let wet: Vec<&str> = lines
        .iter()
        .filter(|(l, bridge, _)| !bridge && l.iter().any(|&q| in_polygon(q, &river)))
        .map(|(_, _, n)| n.as_str())
        .collect();
    assert!(wet.is_empty(), "{wet:?} run into the river");
    let readme = std::fs::read_to_string(data_dir().join("README.md")).expect("README");
    assert!(readme.contains(&format!(
        "only {} non-bridge road links\n  have a vertex in it",
        wet.len()
    )));
    for name in [
        "Cầu Trường Tiền",
        "Cầu Phú Xuân",
        "Cầu Dã Viên",
        "Cầu Nguyễn Hoàng",
    ] {
        assert!(
            lines
                .iter()
                .any(|(l, bridge, n)| n == name && *bridge && crosses_ring(l, &river[0])),
            "{name} is a bridge over the river"
        );
    }
    for name in [
        "Lê Lợi",
        "Trần Hưng Đạo",
        "Lê Duẩn",
        "Hùng Vương",
        "Bà Triệu",
        "Kim Long",
        "Đập Đá",
        "Đinh Tiên Hoàng",
    ] {
        assert!(lines.iter().any(|x| x.2 == name), "no {name}");
    }
    // Trường Tiền's middle is on the river (public position of the bridge).
    assert!(in_polygon((107.58885, 16.46895), &river));
}

#[test]
fn water_follows_the_perfume_river() {
    let w = read_json("water.geojson");
    let river = polygon(by_id(&w, "song-huong"));
    // Points on the river (between its banks) from Thiên Mụ to Bao Vinh.
    for (lon, lat) in [
        (107.5447, 16.4511),
        (107.5600, 16.4554),
        (107.5803, 16.4621),
        (107.5870, 16.4672),
        (107.5926, 16.4894),
    ] {
        assert!(
            in_polygon((lon, lat), &river),
            "({lon}, {lat}) is on the river"
        );
    }
    // ... and places on land next to it.
    for (lon, lat) in [
        (107.5447, 16.4537),
        (107.5792, 16.4677),
        (107.5905, 16.4625),
        (107.5611, 16.4646),
    ] {
        assert!(!in_polygon((lon, lat), &river), "({lon}, {lat}) is on land");
    }
    // 200–400 m wide in the city: the cross-section through the Trường Tiền bridge's ends.
    let a = (107.5875, 16.4702);
    let b = (107.5902, 16.4677);
    let n = 400;
    let wet = (0..=n)
        .filter(|&i| {
            inside(
                (
                    a.0 + (b.0 - a.0) * i as f64 / n as f64,
                    a.1 + (b.1 - a.1) * i as f64 / n as f64,
                ),
                &river[0],
            )
        })
        .count();
    let width = metres(a, b) * wet as f64 / n as f64;
    assert!(
        (200.0..=400.0).contains(&width),
        "river {width:.0} m wide at Trường Tiền"
    );
    // The outline is OSM's: every vertex of OSM's Sông Hương waterway (ogr2ogr's GeoJSON of the
    // extract) inside the extent and 300 m clear of its edges lies in the river.
    let src = shared_geojson("hue_water.geojson");
    let mut on = 0;
    for f in features(&src) {
        if f["properties"]["name"] != "Sông Hương" {
            continue;
        }
        for q in line(f) {
            if (EXTENT[0] + 0.003..=EXTENT[2] - 0.003).contains(&q.0)
                && (EXTENT[1] + 0.003..=EXTENT[3] - 0.003).contains(&q.1)
            {
                assert!(
                    in_polygon(q, &river),
                    "Sông Hương waterway at {q:?} is off the river"
                );
                on += 1;
            }
        }
    }
    assert!(on > 50, "{on} vertices of the Sông Hương waterway checked");
    // The islands are holes, and the other water is OSM's, named as OSM names it.
    assert!(river.len() >= 2, "the river's islands are holes");
    let named = |n: &str| {
        features(&w)
            .iter()
            .filter(|f| f["properties"]["name"] == n)
            .count()
    };
    for n in [
        "Sông An Cựu",
        "Sông Như Ý",
        "Sông Đông Ba",
        "Ngự Hà",
        "Hồ Tịnh Tâm",
    ] {
        assert!(named(n) >= 1, "no water named {n}");
    }
    for f in features(&w) {
        let p = &f["properties"];
        assert!(
            p["osm_id"]
                .as_str()
                .is_some_and(|o| o.starts_with("way/") || o.starts_with("relation/")),
            "{p} has an OSM id"
        );
        match f["geometry"]["type"].as_str() {
            Some("LineString") => assert!(p["waterway"].is_string() && line(f).len() >= 2, "{p}"),
            Some("Polygon" | "MultiPolygon") => assert_eq!(p["natural"], "water", "{p}"),
            t => panic!("{t:?} in the water layer"),
        }
    }
}

/// The DEM as (ncols, nrows, xll, yll, cell, values row-major from the north row).
fn dem() -> (usize, usize, f64, f64, f64, Vec<f64>) {
    let text = std::fs::read_to_string(data_dir().join("dem.asc")).expect("dem.asc");
    let mut lines = text.lines();
    let mut hdr = BTreeMap::new();
    for _ in 0..6 {
        let l = lines.next().expect("header line");
        let mut it = l.split_whitespace();
        hdr.insert(
            it.next().expect("key").to_ascii_lowercase(),
            it.next().expect("value").parse::<f64>().expect("number"),
        );
    }
    let vals: Vec<f64> = lines
        .flat_map(|l| {
            l.split_whitespace()
                .map(|v| v.parse::<f64>().expect("value"))
                .collect::<Vec<_>>()
        })
        .collect();
    let (nc, nr) = (hdr["ncols"] as usize, hdr["nrows"] as usize);
    assert_eq!(vals.len(), nc * nr);
    (
        nc,
        nr,
        hdr["xllcorner"],
        hdr["yllcorner"],
        hdr["cellsize"],
        vals,
    )
}

#[test]
fn dem_has_a_plain_river_channels_and_ngu_binh() {
    let (nc, nr, xll, yll, cell, z) = dem();
    assert_eq!(cell, 30.0);
    assert!(nc * nr > 100_000 && nc * nr < 400_000, "{nc} × {nr}");
    // the size the README states
    let readme = std::fs::read_to_string(data_dir().join("README.md")).expect("README");
    assert!(
        readme.contains(&format!("30 m cells, {nc} × {nr}")),
        "README states the DEM size"
    );
    assert!(z
        .iter()
        .all(|v| v.is_finite() && (-6.5..=110.0).contains(v)));
    let to_utm = Transform::between("EPSG:4326", "EPSG:32648").expect("PROJ");
    let to_ll = Transform::between("EPSG:32648", "EPSG:4326").expect("PROJ");
    let ytop = yll + nr as f64 * cell;
    let at = |lon: f64, lat: f64| -> f64 {
        let (x, y) = to_utm.apply(lon, lat).expect("project");
        let col = ((x - xll) / cell).floor() as usize;
        let row = ((ytop - y) / cell).floor() as usize;
        z[row * nc + col]
    };
    // The plain: 2–5 m over a 400 m square of the south bank (Vĩnh Ninh).
    for i in -6..=6 {
        for j in -6..=6 {
            let v = at(107.5905 + i as f64 * 0.0003, 16.4625 + j as f64 * 0.0003);
            assert!((2.0..=5.0).contains(&v), "plain at {i},{j}: {v}");
        }
    }
    // Ngự Bình: 105 m.
    let peak = at(107.5961, 16.4418);
    assert!((peak - 105.0).abs() <= 10.0, "Ngự Bình {peak}");
    // Every cell (of a 1-in-3 sample) whose centre is in the Perfume River is below sea level.
    let w = read_json("water.geojson");
    let river = polygon(by_id(&w, "song-huong"));
    let mut wet = 0;
    for row in (0..nr).step_by(3) {
        for col in (0..nc).step_by(3) {
            let (x, y) = (
                xll + (col as f64 + 0.5) * cell,
                ytop - (row as f64 + 0.5) * cell,
            );
            let q = to_ll.apply(x, y).expect("unproject");
            if in_polygon(q, &river) {
                let v = z[row * nc + col];
                assert!(
                    (-6.0..0.0).contains(&v),
                    "river cell {row},{col} at {q:?} is {v}"
                );
                wet += 1;
            }
        }
    }
    assert!(wet > 500, "{wet} river cells sampled");
    // The citadel is a little above the plain around it (mean of 5 × 5 cells inside and
    // outside its north-west wall); the hills rise to the south-west.
    let mean = |lon: f64, lat: f64| {
        (-2..=2)
            .flat_map(|i| (-2..=2).map(move |j| (i, j)))
            .map(|(i, j)| at(lon + i as f64 * 0.0003, lat + j as f64 * 0.0003))
            .sum::<f64>()
            / 25.0
    };
    let (inside_citadel, outside) = (mean(107.5674, 16.4739), mean(107.5625, 16.4850));
    assert!(
        inside_citadel > outside + 0.2,
        "citadel {inside_citadel:.2} m, outside {outside:.2} m"
    );
    assert!(at(107.5615, 16.4345) > 20.0, "Tự Đức hills");
}

/// Every coordinate of every source, in EPSG:32648.
fn all_source_points_utm() -> Vec<(f64, f64)> {
    let to_utm = Transform::between("EPSG:4326", "EPSG:32648").expect("PROJ");
    let mut pts = Vec::new();
    fn walk(v: &Value, out: &mut Vec<Pt>) {
        match v {
            Value::Array(a) if a.len() >= 2 && a[0].is_number() => out.push(pt(v)),
            Value::Array(a) => a.iter().for_each(|x| walk(x, out)),
            _ => {}
        }
    }
    for name in [
        "buildings.geojson",
        "heritage.geojson",
        "roads.geojson",
        "water.geojson",
    ] {
        let fc = read_json(name);
        let mut ll = Vec::new();
        for f in features(&fc) {
            walk(&f["geometry"]["coordinates"], &mut ll);
        }
        assert!(!ll.is_empty(), "{name}");
        pts.extend(
            ll.into_iter()
                .map(|(lon, lat)| to_utm.apply(lon, lat).expect("project")),
        );
    }
    let csv = std::fs::read_to_string(data_dir().join("sensors.csv")).expect("sensors.csv");
    for l in csv.lines().skip(1) {
        let f: Vec<&str> = l.split(',').collect();
        pts.push(
            to_utm
                .apply(f[3].parse().expect("lon"), f[4].parse().expect("lat"))
                .expect("project"),
        );
    }
    pts
}

/// The standalone coverage check: the DEM grid covers the extent of all the other sources.
#[test]
fn dem_covers_the_extent_of_every_source() {
    let (nc, nr, xll, yll, cell, _) = dem();
    let (xmax, ymax) = (xll + nc as f64 * cell, yll + nr as f64 * cell);
    let pts = all_source_points_utm();
    let (mut lo, mut hi) = ((f64::MAX, f64::MAX), (f64::MIN, f64::MIN));
    for &(x, y) in &pts {
        lo = (lo.0.min(x), lo.1.min(y));
        hi = (hi.0.max(x), hi.1.max(y));
    }
    assert!(
        lo.0 >= xll && lo.1 >= yll && hi.0 <= xmax && hi.1 <= ymax,
        "sources span {lo:?}–{hi:?}, the DEM {xll},{yll}–{xmax},{ymax}"
    );
}

#[test]
fn sensors_are_gauges_on_the_river_and_cameras_at_junctions() {
    let csv = std::fs::read_to_string(data_dir().join("sensors.csv")).expect("sensors.csv");
    let mut lines = csv.lines();
    assert_eq!(lines.next(), Some("id,kind,unit,lon,lat,name"));
    let w = read_json("water.geojson");
    let river = polygon(by_id(&w, "song-huong"));
    let roads = read_json("roads.geojson");
    let mut ends: BTreeMap<(u64, u64), usize> = BTreeMap::new();
    for f in features(&roads) {
        let l = line(f);
        for q in [l[0], l[l.len() - 1]] {
            *ends.entry((q.0.to_bits(), q.1.to_bits())).or_default() += 1;
        }
    }
    let mut count: BTreeMap<String, usize> = BTreeMap::new();
    let mut ids = BTreeSet::new();
    for l in lines {
        // name may be quoted and hold commas; the first five fields never do
        let f: Vec<&str> = l.splitn(6, ',').collect();
        assert_eq!(f.len(), 6, "{l}");
        assert!(ids.insert(f[0].to_string()), "duplicate {}", f[0]);
        let q: Pt = (f[3].parse().expect("lon"), f[4].parse().expect("lat"));
        let unit = match f[1] {
            "river_gauge" => {
                // on the river, within 20 m of its bank
                let edge = river
                    .iter()
                    .flat_map(|r| r.windows(2))
                    .map(|e| metres(q, e[0]).min(metres(q, e[1])))
                    .fold(f64::MAX, f64::min);
                assert!(in_polygon(q, &river) && edge < 60.0, "{} at the bank", f[0]);
                "m"
            }
            "rain_gauge" => "mm",
            "traffic_camera" => {
                assert!(
                    ends.get(&(q.0.to_bits(), q.1.to_bits()))
                        .is_some_and(|&n| n >= 2),
                    "{} is not at a junction",
                    f[0]
                );
                "veh/h"
            }
            k => panic!("unknown kind {k}"),
        };
        assert_eq!(f[2], unit, "{l}");
        *count.entry(f[1].to_string()).or_default() += 1;
    }
    assert_eq!(count["river_gauge"], 2);
    assert!((3..=5).contains(&count["rain_gauge"]));
    assert!((10..=20).contains(&count["traffic_camera"]));
    let kim_long = csv
        .lines()
        .find(|l| l.starts_with("gauge-kim-long"))
        .expect("Kim Long gauge");
    let f: Vec<&str> = kim_long.split(',').collect();
    let q: Pt = (f[3].parse().expect("lon"), f[4].parse().expect("lat"));
    assert!(
        metres(q, (107.5611, 16.4646)) < 1200.0,
        "Kim Long gauge is by Kim Long"
    );
}

#[test]
fn landuse_is_osm_areas_in_the_extent_with_the_importer_classes() {
    let l = read_json("landuse.geojson");
    let fs = features(&l);
    assert!(fs.len() > 500, "{} land use areas", fs.len());
    let mut ids = BTreeSet::new();
    let mut kinds: BTreeMap<String, usize> = BTreeMap::new();
    for f in fs {
        let p = &f["properties"];
        assert!(ids.insert(p["id"].as_str().expect("id").to_string()));
        let osm = p["osm_id"].as_str().expect("osm_id");
        assert!(
            osm.starts_with("way/") || osm.starts_with("relation/"),
            "{osm}"
        );
        let kind = p["kind"].as_str().expect("kind");
        assert_ne!(kind, "water");
        *kinds.entry(kind.to_string()).or_default() += 1;
        assert_eq!(f["geometry"]["type"], "MultiPolygon");
        let parts = f["geometry"]["coordinates"].as_array().expect("parts");
        let largest = parts
            .iter()
            .map(|p| ring(&p[0]))
            .max_by(|x, y| area(x).abs().total_cmp(&area(y).abs()))
            .expect("a part");
        // The area centroid (in degrees: within metres of the generator's, taken in a local
        // metric frame, hence the 1e-4° tolerance at the extent's edges).
        let (mut cx, mut cy, mut a2) = (0.0, 0.0, 0.0);
        for w in largest.windows(2) {
            let c = w[0].0 * w[1].1 - w[1].0 * w[0].1;
            a2 += c;
            cx += (w[0].0 + w[1].0) * c;
            cy += (w[0].1 + w[1].1) * c;
        }
        let (lon, lat) = (cx / (3.0 * a2), cy / (3.0 * a2));
        let e = 1e-4;
        assert!(
            lon >= EXTENT[0] - e
                && lon <= EXTENT[2] + e
                && lat >= EXTENT[1] - e
                && lat <= EXTENT[3] + e,
            "{osm} at {lon}, {lat}"
        );
    }
    // The classes the basemap draws are all there.
    for k in [
        "residential",
        "park",
        "forest",
        "wood",
        "farmland",
        "grass",
        "cemetery",
    ] {
        assert!(kinds.get(k).is_some_and(|&n| n > 0), "no {k}: {kinds:?}");
    }
    // The README states the count.
    let readme = std::fs::read_to_string(data_dir().join("README.md")).expect("README");
    assert!(readme.contains(&format!("{} land use areas", fs.len())));
}
