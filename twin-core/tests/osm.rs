//! OSM PBF import of the real Hue extract, checked against an independent count.

mod common;
use common::*;
use osmpbf::{Element, ElementReader};
use std::collections::HashSet;
use twin_core::import::{import_file, osm};
use twin_core::model::HeightSource;

struct Counts {
    building_ways: usize,
    building_relations: usize,
    heritage_ways: usize,
    highway_ways: usize,
    /// Buildings (ways and relations) with `building:levels` and no `height`.
    levels: usize,
    /// Buildings (ways and relations) with `height`.
    height: usize,
}

/// A plain pass with osmpbf's element reader, written without the importer's code.
fn count(path: &std::path::Path) -> Counts {
    let mut c = Counts {
        building_ways: 0,
        building_relations: 0,
        heritage_ways: 0,
        highway_ways: 0,
        levels: 0,
        height: 0,
    };
    ElementReader::from_path(path)
        .unwrap()
        .for_each(|e| {
            let tags: Vec<(String, String)> = match &e {
                Element::Way(w) => w.tags().map(|(k, v)| (k.into(), v.into())).collect(),
                Element::Relation(r) => r.tags().map(|(k, v)| (k.into(), v.into())).collect(),
                _ => return,
            };
            let has = |k: &str| tags.iter().any(|(tk, v)| tk == k && v != "no");
            let is_way = matches!(e, Element::Way(_));
            if has("building") {
                let height = tags.iter().any(|(k, _)| k == "height");
                c.height += height as usize;
                c.levels += (!height && tags.iter().any(|(k, _)| k == "building:levels")) as usize;
                if is_way {
                    c.building_ways += 1;
                } else {
                    c.building_relations += 1;
                }
            }
            if is_way && (has("historic") || has("heritage")) {
                c.heritage_ways += 1;
            }
            if is_way && tags.iter().any(|(k, _)| k == "highway") {
                c.highway_ways += 1;
            }
        })
        .unwrap();
    c
}

#[test]
fn hue_pbf_counts_match_an_independent_pass() {
    let path = shared("hue/hue.osm.pbf");
    let c = count(&path);
    // The figures of ../shared/data/README.md, measured there with another tool.
    assert_eq!(c.building_ways + c.building_relations, 6_877);
    assert_eq!(c.highway_ways, 14_088);

    let imp = import_file(&path, &opts("EPSG:32648"), &NO).unwrap();
    assert_eq!(
        imp.buildings.len(),
        c.building_ways + c.building_relations,
        "notes: {:?}",
        imp.notes
    );
    assert_eq!(imp.roads.len(), c.highway_ways);
    let heritage_ways = imp
        .heritage
        .iter()
        .filter(|h| h.id.starts_with("osm:way/"))
        .count();
    assert_eq!(heritage_ways, c.heritage_ways);

    // Every building records where its height came from, and the counts agree with the tags.
    let by =
        |f: fn(&HeightSource) -> bool| imp.buildings.iter().filter(|b| f(&b.height_source)).count();
    assert_eq!(
        by(|s| *s == HeightSource::Height),
        c.height,
        "buildings with a parsable height tag"
    );
    assert_eq!(by(|s| *s == HeightSource::Levels), c.levels);
    assert_eq!(
        by(|s| matches!(s, HeightSource::Default(_))),
        imp.buildings.len() - c.height - c.levels
    );
    assert!(c.height > 0 && c.levels > 0, "the extract has both kinds");
    assert!(imp
        .buildings
        .iter()
        .all(|b| b.height > 0.0 && b.height.is_finite()));

    // Ids are unique and everything lands in Hue (UTM 48N).
    let ids: HashSet<&str> = imp.buildings.iter().map(|b| b.id.as_str()).collect();
    assert_eq!(ids.len(), imp.buildings.len());
    let ngo_mon = imp
        .heritage
        .iter()
        .find(|h| h.name.as_deref() == Some("Ngọ Môn"))
        .expect("Ngo Mon is in the extract");
    use geo::Centroid;
    let c = ngo_mon.polygon.centroid().unwrap();
    let t = twin_core::Transform::between("EPSG:32648", "EPSG:4326").unwrap();
    let (lon, lat) = t.apply(c.x(), c.y()).unwrap();
    assert!(
        (lon - 107.579).abs() < 0.003 && (lat - 16.467).abs() < 0.003,
        "Ngo Mon at {lon}, {lat}"
    );
}

#[test]
fn truncated_pbf_is_a_clear_error() {
    let bytes = std::fs::read(shared("hue/hue.osm.pbf")).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("cut.osm.pbf");
    std::fs::write(&p, &bytes[..bytes.len() / 2]).unwrap();
    let e = osm::import(&p, &opts("EPSG:32648"), &NO)
        .unwrap_err()
        .to_string();
    assert!(e.contains("cut.osm.pbf") && e.contains("blob"), "{e}");

    let p2 = dir.path().join("junk.osm.pbf");
    std::fs::write(&p2, b"this is not a pbf file at all").unwrap();
    let e = osm::import(&p2, &opts("EPSG:32648"), &NO)
        .unwrap_err()
        .to_string();
    assert!(e.contains("junk.osm.pbf"), "{e}");
}

/// The land use areas per class in the extract, measured with GDAL's OSM driver (its
/// `multipolygons` layer: closed ways that are areas and multipolygon relations), with the
/// importer's rule written as SQL (`ogrinfo -dialect SQLite -sql @LANDUSE_SQL hue.osm.pbf`).
const GDAL_LANDUSE: [(&str, usize); 26] = [
    ("basin", 379),
    ("cemetery", 89),
    ("civic_admin", 1),
    ("commercial", 10),
    ("construction", 2),
    ("education", 1),
    ("farmland", 84),
    ("forest", 70),
    ("garden", 6),
    ("grass", 135),
    ("grassland", 9),
    ("greenfield", 2),
    ("industrial", 6),
    ("meadow", 8),
    ("military", 5),
    ("park", 53),
    ("pitch", 54),
    ("plant_nursery", 1),
    ("quarry", 4),
    ("recreation_ground", 2),
    ("religious", 6),
    ("residential", 250),
    ("retail", 4),
    ("scrub", 9),
    ("wetland", 5),
    ("wood", 84),
];

/// The land use rule of `twin_core::import::tags` in GDAL's SQLite dialect: `landuse=*` (not
/// `no`), else `leisure=park|garden|pitch`, else `natural=wood|scrub|grassland|wetland|heath`,
/// never water (`natural=water`, `water=*`, `waterway=*`).
const LANDUSE_SQL: &str = r#"SELECT k, count(*) AS n FROM (
  SELECT CASE
    WHEN COALESCE(landuse, '') NOT IN ('', 'no') THEN landuse
    WHEN leisure IN ('park', 'garden', 'pitch') THEN leisure
    WHEN "natural" IN ('wood', 'scrub', 'grassland', 'wetland', 'heath') THEN "natural"
  END AS k
  FROM multipolygons
  WHERE COALESCE("natural", '') <> 'water'
    AND COALESCE(other_tags, '') NOT LIKE '%"water"=>%'
    AND COALESCE(other_tags, '') NOT LIKE '%"waterway"=>%'
) WHERE k IS NOT NULL GROUP BY k ORDER BY k"#;

#[test]
fn hue_pbf_landuse_matches_gdal() {
    use std::collections::BTreeMap;
    let path = shared("hue/hue.osm.pbf");
    let imp = import_file(&path, &opts("EPSG:32648"), &NO).unwrap();
    let mut got = BTreeMap::<String, usize>::new();
    for l in &imp.landuse {
        *got.entry(l.kind.clone()).or_default() += 1;
        assert!(!l.polygon.0.is_empty(), "{}", l.id);
    }
    let want: BTreeMap<String, usize> = GDAL_LANDUSE
        .iter()
        .map(|&(k, n)| (k.to_string(), n))
        .collect();
    assert_eq!(got, want, "notes: {:?}", imp.notes);
    // No water in the land use layer, no land use in the water layer.
    let water: HashSet<&str> = imp.water.iter().map(|w| w.id.as_str()).collect();
    assert!(imp.landuse.iter().all(|l| !water.contains(l.id.as_str())));

    // Where GDAL is installed, measure again rather than trust the table.
    let Ok(out) = std::process::Command::new("ogrinfo")
        .args(["-q", "-ro", "-dialect", "SQLite", "-sql", LANDUSE_SQL])
        .arg(&path)
        .output()
    else {
        eprintln!("ogrinfo not found: compared with the recorded GDAL counts only");
        return;
    };
    let text = String::from_utf8_lossy(&out.stdout);
    let mut measured = BTreeMap::new();
    let mut kind = None;
    for line in text.lines().map(str::trim) {
        if let Some(k) = line.strip_prefix("k (String) = ") {
            kind = Some(k.to_string());
        } else if let Some(n) = line.strip_prefix("n (Integer) = ") {
            measured.insert(kind.take().unwrap(), n.parse::<usize>().unwrap());
        }
    }
    assert_eq!(measured, want, "ogrinfo: {text}");
}
