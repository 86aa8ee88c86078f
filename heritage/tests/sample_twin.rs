//! The heritage engines on the sample twin (a copy of `data/hue`): the royal axis corridor's
//! rules, a proposal refused and one permitted, the threshold plane against its formula, and
//! the existing buildings over the corridor's limit against a brute-force query.

use geo::Intersects;
use geo_types::MultiPolygon;
use heritage::plane::{CC_DEFAULT, EARTH_A};
use heritage::{breaches, check, Outcome, Proposal, Rules, ZoneKind};
use std::sync::OnceLock;
use twin_core::crs::{Crs, Reprojector};
use twin_core::{Twin, TwinDir};

struct Sample {
    _tmp: std::path::PathBuf,
    twin: Twin,
    rules: Rules,
}

fn sample() -> &'static Sample {
    static S: OnceLock<Sample> = OnceLock::new();
    S.get_or_init(|| {
        let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("heritage-sample/hue");
        let _ = std::fs::remove_dir_all(&dir);
        testkit::copy_sample_twin(&dir);
        let twin = TwinDir::open(&dir).unwrap().load().unwrap();
        let rules = Rules::load(&dir, &twin).unwrap();
        Sample {
            _tmp: dir,
            twin,
            rules,
        }
    })
}

/// A square footprint of `side` metres centred on (lon, lat), as a GeoJSON Feature.
fn square(lon: f64, lat: f64, side: f64, props: serde_json::Value) -> String {
    // Metres to degrees near Huế (16.46° N): 1° of latitude is 110.7 km, of longitude 106.7 km.
    let (dx, dy) = (side / 2.0 / 106_700.0, side / 2.0 / 110_700.0);
    serde_json::json!({"type": "Feature", "properties": props, "geometry": {"type": "Polygon", "coordinates": [[
        [lon - dx, lat - dy], [lon + dx, lat - dy], [lon + dx, lat + dy], [lon - dx, lat + dy], [lon - dx, lat - dy]
    ]]}})
    .to_string()
}

fn lerp(a: (f64, f64), b: (f64, f64), t: f64) -> (f64, f64) {
    (a.0 + (b.0 - a.0) * t, a.1 + (b.1 - a.1) * t)
}

const NGU_BINH: (f64, f64) = (107.5961, 16.4418);
const NGO_MON: (f64, f64) = (107.5792, 16.4677);
const PHU_VAN_LAU: (f64, f64) = (107.5809, 16.4655);

#[test]
fn the_royal_axis_is_a_view_corridor_with_its_limit_typed() {
    let s = sample();
    let z = s.rules.zone("royal-axis").expect("royal axis zone");
    assert_eq!(z.kind, ZoneKind::ViewCorridor);
    assert_eq!(z.height_limit_m, Some(14.0));
    assert_eq!(
        s.rules.zone("kinh-thanh-area").unwrap().height_limit_m,
        Some(11.0)
    );
    assert_eq!(
        s.rules.zone("kinh-thanh-area").unwrap().kind,
        ZoneKind::Buffer
    );
    assert_eq!(s.rules.zone("ngo-mon").unwrap().kind, ZoneKind::Core);
    assert_eq!(s.rules.views.len(), 1);
    // Typed through the store: the limit is a number, not left among the string attributes.
    let site = s
        .twin
        .heritage
        .features()
        .iter()
        .find(|h| h.id == "heritage:royal-axis")
        .unwrap();
    assert_eq!(site.height_limit_m, Some(14.0));
    assert!(!site.attributes.contains_key("height_limit_m"));
}

#[test]
fn a_30_m_proposal_in_the_royal_axis_corridor_is_refused_naming_the_rule() {
    let s = sample();
    // 60 % of the way from Phu Văn Lâu to Ngự Bình, on the corridor's axis.
    let (lon, lat) = lerp(PHU_VAN_LAU, NGU_BINH, 0.6);
    let text = square(
        lon,
        lat,
        20.0,
        serde_json::json!({"name": "Hotel", "height": 30, "roof:shape": "flat"}),
    );
    let p = Proposal::from_geojson(&text, &s.twin, &s.rules).unwrap();
    let v = check(&s.twin, &s.rules, &p);
    assert!(!v.permitted, "{v:#?}");
    assert!((v.area_m2 - 400.0).abs() < 8.0, "{}", v.area_m2);
    let h = v
        .failures()
        .find(|r| r.rule == "height_limit" && r.under == "heritage:royal-axis")
        .unwrap_or_else(|| panic!("no height_limit failure: {v:#?}"));
    assert_eq!((h.value, h.limit), (Some(30.0), Some(14.0)));
    assert!(
        h.detail
            .contains("30.0 m over the limit of 14.0 m by 16.0 m"),
        "{}",
        h.detail
    );
    // A flat roof is not one of the buffer's roofs.
    assert!(v.failures().any(|r| r.rule == "roof"), "{v:#?}");
    assert!(v.zones.iter().any(|z| z.site == "heritage:royal-axis"));
    // The protected view is judged: 30 m here stays under the plane from the 105 m hill.
    let view = v
        .rules
        .iter()
        .find(|r| r.rule == "protected_view")
        .expect("view judged");
    assert_eq!(view.outcome, Outcome::Pass, "{view:?}");
}

#[test]
fn an_8_m_proposal_outside_every_zone_passes() {
    let s = sample();
    let text = square(
        107.6050,
        16.4620,
        12.0,
        serde_json::json!({"storeys": 2, "roof:shape": "hipped"}),
    );
    let p = Proposal::from_geojson(&text, &s.twin, &s.rules).unwrap();
    assert!((p.height_m - 6.6).abs() < 1e-9, "2 storeys × 3.3 m");
    let text = square(107.6050, 16.4620, 12.0, serde_json::json!({"height": 8}));
    let p = Proposal::from_geojson(&text, &s.twin, &s.rules).unwrap();
    let v = check(&s.twin, &s.rules, &p);
    // Brute force: no heritage site's polygon touches it.
    assert!(s
        .twin
        .heritage
        .features()
        .iter()
        .all(|h| !h.polygon.intersects(&p.footprint)));
    assert!(v.zones.is_empty(), "{v:#?}");
    assert!(v.permitted, "{v:#?}");
    assert!(v.rules.is_empty());
}

/// Near Ngọ Môn the plane comes down to the landmark: a proposal 0.5 m above the plane's
/// formula (computed here from the DEM) breaks the view, one 0.5 m below keeps it.
#[test]
fn the_threshold_plane_follows_its_formula() {
    let s = sample();
    let t = Reprojector::new(&Crs::wgs84(), &s.twin.crs).unwrap();
    let ground = |(lon, lat): (f64, f64)| {
        let (x, y) = t.apply(lon, lat).unwrap();
        ((x, y), s.twin.terrain[0].sample(x, y).unwrap())
    };
    let (a, ga) = ground(NGU_BINH);
    let (l, gl) = ground(NGO_MON);
    let (za, zl) = (ga + 1.6, gl + 17.0);
    let dd = (l.0 - a.0).hypot(l.1 - a.1);
    // A point on the axis inside the corridor, 90 % of the way from Ngự Bình to Phu Văn Lâu.
    let (lon, lat) = lerp(NGU_BINH, PHU_VAN_LAU, 0.9);
    let text = square(lon, lat, 2.0, serde_json::json!({"height": 10}));
    let p = Proposal::from_geojson(&text, &s.twin, &s.rules).unwrap();
    // The plane's lowest point over the 2 m square: its vertex farthest along the view.
    let d = p.footprint.0[0]
        .exterior()
        .0
        .iter()
        .map(|c| ((c.x - a.0) * (l.0 - a.0) + (c.y - a.1) * (l.1 - a.1)) / dd)
        .fold(f64::MIN, f64::max);
    let plane = za + (zl - za) * d / dd - CC_DEFAULT * d * (dd - d) / (2.0 * EARTH_A);
    let view = &s.rules.views[0];
    assert!((view.plane.from_z - za).abs() < 1e-9 && (view.plane.to_z - zl).abs() < 1e-9);
    assert!(za > 90.0, "the assessment point on the hill: {za}");
    for (dz, ok) in [(0.5, false), (-0.5, true)] {
        let height = plane + dz - p.base_m;
        let text = square(lon, lat, 2.0, serde_json::json!({"height": height}));
        let p = Proposal::from_geojson(&text, &s.twin, &s.rules).unwrap();
        let v = check(&s.twin, &s.rules, &p);
        let r = v.rules.iter().find(|r| r.rule == "protected_view").unwrap();
        assert_eq!(r.outcome == Outcome::Pass, ok, "{r:?}");
        assert!((r.limit.unwrap() - plane).abs() < 1e-6, "{r:?} vs {plane}");
        assert!(
            (r.value.unwrap() - r.limit.unwrap() - dz).abs() < 1e-6,
            "{r:?}"
        );
    }
}

#[test]
fn existing_buildings_over_the_corridor_limit_are_listed() {
    let s = sample();
    let found: Vec<_> = breaches(&s.twin, &s.rules)
        .into_iter()
        .filter(|b| b.rule == "height_limit" && b.under == "heritage:royal-axis")
        .collect();
    // Brute force over every building, without the R-tree.
    let corridor: &MultiPolygon<f64> = &s
        .twin
        .heritage
        .features()
        .iter()
        .find(|h| h.id == "heritage:royal-axis")
        .unwrap()
        .polygon;
    let mut expected: Vec<(String, f64)> = s
        .twin
        .buildings
        .features()
        .iter()
        .filter(|b| b.height > 14.0 && b.footprint.intersects(corridor))
        .map(|b| (b.id.clone(), b.height))
        .collect();
    expected.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
    let mut got: Vec<(String, f64)> = found
        .iter()
        .map(|b| (b.building.clone(), b.value))
        .collect();
    got.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
    eprintln!(
        "{} buildings over the royal axis corridor's 14 m limit: {got:?}",
        got.len()
    );
    assert_eq!(got, expected);
    assert!(!got.is_empty());
    for b in &found {
        assert_eq!(b.limit, 14.0);
        assert!((b.excess - (b.value - 14.0)).abs() < 1e-12);
    }
    eprintln!(
        "royal axis: {} buildings over 14 m, the tallest {:.1} m ({})",
        got.len(),
        got[0].1,
        got[0].0
    );
}

/// A 60 m tower on the line from Ngự Bình's summit to Ngọ Môn blocks the sightline that is
/// clear today, and breaks the royal axis plane; a 6 m house on the same line blocks nothing.
#[test]
fn a_tower_on_the_sightline_blocks_it() {
    let s = sample();
    let line = s
        .rules
        .sightlines
        .iter()
        .find(|l| l.site == "heritage:ngo-mon")
        .expect("sightline to Ngọ Môn");
    assert_eq!(line.id, "ngu-binh-citadel");
    let (lon, lat) = lerp(NGU_BINH, NGO_MON, 0.8);
    let text = square(lon, lat, 20.0, serde_json::json!({"height": 60}));
    let p = Proposal::from_geojson(&text, &s.twin, &s.rules).unwrap();
    let v = check(&s.twin, &s.rules, &p);
    let r = v
        .rules
        .iter()
        .find(|r| r.rule == "sightline" && r.detail.contains("Meridian Gate"))
        .unwrap_or_else(|| panic!("{v:#?}"));
    assert_eq!(r.outcome, Outcome::Fail, "{r:?}");
    assert!(
        r.detail.contains("clear today, blocked by the proposal"),
        "{r:?}"
    );
    // The ray passes over the tower's site at the eye-to-target line's height, far below 60 m
    // above the ground: the same tower breaks the plane to the landmark.
    assert!(v.failures().any(|r| r.rule == "protected_view"), "{v:#?}");
    let text = square(lon, lat, 20.0, serde_json::json!({"height": 6}));
    let p = Proposal::from_geojson(&text, &s.twin, &s.rules).unwrap();
    let v = check(&s.twin, &s.rules, &p);
    let r = v
        .rules
        .iter()
        .find(|r| r.rule == "sightline" && r.detail.contains("Meridian Gate"))
        .unwrap();
    assert_eq!(r.outcome, Outcome::Pass, "{r:?}");
    assert!(r.detail.contains("clear with the proposal"), "{r:?}");
}

/// The difference a proposal makes to the viewshed from Ngự Bình's summit: a 60 m tower a
/// kilometre down the axis hides cells, every one of them behind it (farther than its near
/// side, within its angular width as seen from the summit, one cell's margin).
#[test]
fn a_tower_hides_the_cells_behind_it_in_the_viewshed() {
    use heritage::viewshed::{proposal_difference, ViewshedOptions};
    let s = sample();
    let t = Reprojector::new(&Crs::wgs84(), &s.twin.crs).unwrap();
    let (ox, oy) = t.apply(NGU_BINH.0, NGU_BINH.1).unwrap();
    let (lon, lat) = lerp(NGU_BINH, NGO_MON, 0.3);
    let text = square(lon, lat, 40.0, serde_json::json!({"height": 60}));
    let p = Proposal::from_geojson(&text, &s.twin, &s.rules).unwrap();
    let o = ViewshedOptions {
        max_distance: Some(4000.0),
        ..ViewshedOptions::default()
    };
    let (before, lost) = proposal_difference(&s.twin, &p, ox, oy, &o).unwrap();
    let n_lost = lost.iter().filter(|l| **l).count();
    assert!(n_lost > 10, "{n_lost}");
    let dem = &s.twin.terrain[0];
    let corners: Vec<(f64, f64)> = p.footprint.0[0]
        .exterior()
        .0
        .iter()
        .map(|c| (c.x, c.y))
        .collect();
    let bearing = |x: f64, y: f64| (y - oy).atan2(x - ox);
    let near = corners
        .iter()
        .map(|c| (c.0 - ox).hypot(c.1 - oy))
        .fold(f64::MAX, f64::min);
    let (b0, b1) = corners
        .iter()
        .map(|c| bearing(c.0, c.1))
        .fold((f64::MAX, f64::MIN), |(a, b), v| (a.min(v), b.max(v)));
    for (i, l) in lost.iter().enumerate() {
        if !*l {
            continue;
        }
        assert_eq!(before[i], Some(true));
        let (x, y) = (
            dem.xmin + ((i % dem.ncols) as f64 + 0.5) * dem.cell_x,
            dem.ymax - ((i / dem.ncols) as f64 + 0.5) * dem.cell_y,
        );
        let d = (x - ox).hypot(y - oy);
        let margin = dem.cell_x / d;
        assert!(
            d >= near - dem.cell_x,
            "cell {i} at {d:.0} m, the tower's near side at {near:.0} m"
        );
        let b = bearing(x, y);
        assert!(
            b >= b0 - margin && b <= b1 + margin,
            "cell {i} at bearing {b}, the tower within [{b0}, {b1}]"
        );
    }
    eprintln!("viewshed from Ngự Bình: a 60 m tower hides {n_lost} cells seen today");
}

/// The monuments' visible area lost: a 60 m tower 20 m wide on the axis 80 % of the way from
/// Ngự Bình to Ngọ Môn hides part (not all) of the gate's visible surface, over the rules' 5 %;
/// a 40 m wide one hides more; a 6 m building at the same place hides less; a building outside
/// every view cone gets no such row.
#[test]
fn a_tower_hides_part_of_the_gates_visible_surface() {
    let s = sample();
    let (lon, lat) = lerp(NGU_BINH, NGO_MON, 0.8);
    let row = |side: f64, h: f64| {
        let text = square(lon, lat, side, serde_json::json!({"height": h}));
        let p = Proposal::from_geojson(&text, &s.twin, &s.rules).unwrap();
        let v = check(&s.twin, &s.rules, &p);
        v.rules
            .into_iter()
            .find(|r| r.rule == "visible_area_lost" && r.under.ends_with("heritage:ngo-mon"))
            .unwrap_or_else(|| panic!("no visible_area_lost row for Ngọ Môn"))
    };
    let tall = row(20.0, 60.0);
    let wide = row(40.0, 60.0);
    let low = row(20.0, 6.0);
    eprintln!("{}\n{}\n{}", tall.detail, wide.detail, low.detail);
    let (t, w, l) = (tall.value.unwrap(), wide.value.unwrap(), low.value.unwrap());
    assert_eq!(tall.limit, Some(5.0));
    assert!(t > 5.0 && t < 100.0, "{t}");
    assert!(w > t, "40 m wide hides {w} %, 20 m {t} %");
    assert_eq!(tall.outcome, Outcome::Fail, "{tall:?}");
    assert!(l < t, "6 m hides {l} %, 60 m {t} %");
    assert!(tall.detail.contains("points seen of"), "{}", tall.detail);
    // The numbers in words agree with the value.
    assert!(
        tall.detail.contains(&format!("{t:.1} %")),
        "{}",
        tall.detail
    );
    // Outside every cone (east of the Ngự Bình – citadel lines): no row.
    let text = square(107.6050, 16.4620, 12.0, serde_json::json!({"height": 8}));
    let p = Proposal::from_geojson(&text, &s.twin, &s.rules).unwrap();
    assert!(!check(&s.twin, &s.rules, &p)
        .rules
        .iter()
        .any(|r| r.rule == "visible_area_lost"));
}

/// The protected sightlines cast with and without a proposal: where a 60 m tower blocks the
/// line to Ngọ Môn is on the line, inside the tower's footprint and below its top.
#[test]
fn sightlines_say_where_they_are_blocked() {
    use geo::Contains;
    let s = sample();
    let today = heritage::check::cast_sightlines(&s.twin, &s.rules, None);
    assert_eq!(today.len(), s.rules.sightlines.len());
    assert!(today.iter().all(|c| c.proposal_blocks_at.is_none()));
    let (lon, lat) = lerp(NGU_BINH, NGO_MON, 0.8);
    let text = square(lon, lat, 20.0, serde_json::json!({"height": 60}));
    let p = Proposal::from_geojson(&text, &s.twin, &s.rules).unwrap();
    let with = heritage::check::cast_sightlines(&s.twin, &s.rules, Some(&p));
    let c = with.iter().find(|c| c.site == "heritage:ngo-mon").unwrap();
    let at = c
        .proposal_blocks_at
        .expect("the tower blocks the gate's line");
    // On the segment from the eye to the target.
    let d = |a: [f64; 3], b: [f64; 3]| {
        ((a[0] - b[0]).powi(2) + (a[1] - b[1]).powi(2) + (a[2] - b[2]).powi(2)).sqrt()
    };
    assert!((d(c.from, at) + d(at, c.to) - d(c.from, c.to)).abs() < 1e-6);
    // On the tower's boundary (its near wall), below its top.
    let inside = p.footprint.contains(&geo_types::Point::new(at[0], at[1]))
        || geo::Distance::distance(
            &geo::Euclidean,
            &geo_types::Geometry::MultiPolygon(p.footprint.clone()),
            &geo_types::Geometry::Point(geo_types::Point::new(at[0], at[1])),
        ) < 1e-6;
    assert!(inside, "{at:?}");
    assert!(at[2] < p.top_m() && at[2] > p.base_m, "{at:?}");
}

fn utm(lon: f64, lat: f64) -> (f64, f64) {
    Reprojector::new(&Crs::wgs84(), &sample().twin.crs)
        .unwrap()
        .apply(lon, lat)
        .unwrap()
}

/// A CityJSON document of one building written by hand: an LoD1 block `side` m square centred
/// on (x, y) of EPSG:32648 (or the given reference system), from z0 to z1, vertices as integers
/// in millimetres with a transform.
fn cityjson_block(x: f64, y: f64, side: f64, z0: f64, z1: f64, rs: &str) -> serde_json::Value {
    let h = side / 2.0;
    let mm = |v: f64| (v * 1000.0).round() as i64;
    let corners = [(-h, -h), (h, -h), (h, h), (-h, h)];
    let mut vertices = Vec::new();
    for z in [z0, z1] {
        for (dx, dy) in corners {
            vertices.push(serde_json::json!([mm(dx), mm(dy), mm(z)]));
        }
    }
    serde_json::json!({
        "type": "CityJSON", "version": "2.0",
        "transform": {"scale": [0.001, 0.001, 0.001], "translate": [x, y, 0.0]},
        "metadata": {"referenceSystem": rs},
        "CityObjects": {"p1": {"type": "Building", "attributes": {"roofType": "flat"},
            "geometry": [{"type": "Solid", "lod": "1", "boundaries": [[
                [[0, 3, 2, 1]], [[4, 5, 6, 7]], [[0, 1, 5, 4]], [[1, 2, 6, 5]], [[2, 3, 7, 6]], [[3, 0, 4, 7]]
            ]]}]}},
        "vertices": vertices
    })
}

const TWIN_RS: &str = "https://www.opengis.net/def/crs/EPSG/0/32648";

/// A CityJSON proposal is read as the GeoJSON one: the same 30 m block in the royal axis
/// corridor, written as an LoD1 solid, gets the same verdict, rule by rule; an LoD2 gabled
/// building's height is its ridge above its ground surface.
#[test]
fn cityjson_proposals_are_checked_like_geojson() {
    let s = sample();
    let (lon, lat) = lerp(PHU_VAN_LAU, NGU_BINH, 0.6);
    let (x, y) = utm(lon, lat);
    let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("heritage-cityjson");
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("block.city.json");
    std::fs::write(
        &file,
        cityjson_block(x, y, 20.0, 5.0, 35.0, TWIN_RS).to_string(),
    )
    .unwrap();
    let text = std::fs::read_to_string(&file).unwrap();
    let input = file.display().to_string();
    let p = Proposal::read(&text, &input, &s.twin, &s.rules).unwrap();
    assert!((p.height_m - 30.0).abs() < 1e-9, "{}", p.height_m);
    assert!(p.height_from.contains("LoD1"), "{}", p.height_from);
    assert_eq!(p.roof.as_deref(), Some("flat"));
    let v = check(&s.twin, &s.rules, &p);
    assert!((v.area_m2 - 400.0).abs() < 1e-6, "{}", v.area_m2);
    // The same block as GeoJSON (its corners taken back to WGS84).
    let back = Reprojector::new(&s.twin.crs, &Crs::wgs84()).unwrap();
    let ring: Vec<[f64; 2]> = [
        (-10.0, -10.0),
        (10.0, -10.0),
        (10.0, 10.0),
        (-10.0, 10.0),
        (-10.0, -10.0),
    ]
    .iter()
    .map(|(dx, dy)| {
        let (a, b) = back.apply(x + dx, y + dy).unwrap();
        [a, b]
    })
    .collect();
    let gj = serde_json::json!({"type": "Feature", "properties": {"height": 30, "roof:shape": "flat"},
        "geometry": {"type": "Polygon", "coordinates": [ring]}});
    let g = check(
        &s.twin,
        &s.rules,
        &Proposal::read(&gj.to_string(), "proposal.geojson", &s.twin, &s.rules).unwrap(),
    );
    // Rule, site, outcome, value and limit to 0.1.
    type Row = (String, String, Outcome, Option<i64>, Option<i64>);
    let key = |v: &heritage::Verdict| -> Vec<Row> {
        v.rules
            .iter()
            .map(|r| {
                (
                    r.rule.to_string(),
                    r.under.clone(),
                    r.outcome,
                    r.value.map(|x| (x * 10.0).round() as i64),
                    r.limit.map(|x| (x * 10.0).round() as i64),
                )
            })
            .collect()
    };
    assert_eq!(key(&v), key(&g));
    assert!(!v.permitted);
    let h = v.failures().find(|r| r.rule == "height_limit").unwrap();
    assert_eq!((h.value, h.limit), (Some(30.0), Some(14.0)));

    // LoD2, gabled: walls to 8 m, the ridge at 12 m, on a ground surface at 3 m; outside
    // every zone (as the 8 m GeoJSON proposal).
    let (x, y) = utm(107.6050, 16.4620);
    let mm = |v: f64| (v * 1000.0).round() as i64;
    let mut vertices = Vec::new();
    for (dx, dy, z) in [
        (-6.0, -5.0, 3.0),
        (6.0, -5.0, 3.0),
        (6.0, 5.0, 3.0),
        (-6.0, 5.0, 3.0),
        (-6.0, -5.0, 11.0),
        (6.0, -5.0, 11.0),
        (6.0, 5.0, 11.0),
        (-6.0, 5.0, 11.0),
        (-6.0, 0.0, 15.0),
        (6.0, 0.0, 15.0),
    ] {
        vertices.push(serde_json::json!([mm(dx), mm(dy), mm(z)]));
    }
    let lod2 = serde_json::json!({
        "type": "CityJSON", "version": "1.1",
        "transform": {"scale": [0.001, 0.001, 0.001], "translate": [x, y, 0.0]},
        "metadata": {"referenceSystem": TWIN_RS},
        "CityObjects": {"house": {"type": "Building", "attributes": {"roofType": "gabled"},
            "geometry": [{"type": "Solid", "lod": "2.2",
                "boundaries": [[
                    [[0, 3, 2, 1]],
                    [[0, 1, 5, 4]], [[2, 3, 7, 6]],
                    [[1, 2, 6, 9, 5]], [[3, 0, 4, 8, 7]],
                    [[4, 5, 9, 8]], [[6, 7, 8, 9]]
                ]],
                "semantics": {"surfaces": [{"type": "GroundSurface"}, {"type": "WallSurface"}, {"type": "RoofSurface"}],
                    "values": [[0, 1, 1, 1, 1, 2, 2]]}}]}},
        "vertices": vertices
    });
    let p = Proposal::read(&lod2.to_string(), "house.city.json", &s.twin, &s.rules).unwrap();
    assert!((p.height_m - 12.0).abs() < 1e-9, "{}", p.height_m);
    assert!(p.height_from.contains("LoD2.2"), "{}", p.height_from);
    assert!((geo::Area::unsigned_area(&p.footprint) - 120.0).abs() < 1e-6);
    let v = check(&s.twin, &s.rules, &p);
    assert!(v.permitted && v.zones.is_empty(), "{v:#?}");
}

/// Malformed CityJSON proposals are refused with the file and the place named.
#[test]
fn malformed_cityjson_proposals_name_the_file_and_the_place() {
    let s = sample();
    let (x, y) = utm(107.6050, 16.4620);
    let good = cityjson_block(x, y, 10.0, 3.0, 11.0, TWIN_RS);
    let err = |doc: &serde_json::Value| {
        Proposal::read(&doc.to_string(), "bad.city.json", &s.twin, &s.rules)
            .expect_err("refused")
            .to_string()
    };
    // A CRS that is neither the twin's nor WGS84.
    let mut d = good.clone();
    d["metadata"]["referenceSystem"] = "https://www.opengis.net/def/crs/EPSG/0/7415".into();
    let e = err(&d);
    assert!(
        e.starts_with("bad.city.json: metadata.referenceSystem:"),
        "{e}"
    );
    assert!(e.contains("neither the twin's CRS"), "{e}");
    // No reference system at all.
    let mut d = good.clone();
    d["metadata"] = serde_json::json!({});
    let e = err(&d);
    assert!(
        e.contains("bad.city.json: metadata.referenceSystem: missing"),
        "{e}"
    );
    // A vertex index past the list.
    let mut d = good.clone();
    d["CityObjects"]["p1"]["geometry"][0]["boundaries"][0][1][0][2] = 99.into();
    let e = err(&d);
    assert!(e.starts_with("bad.city.json: "), "{e}");
    assert!(e.contains("p1") && e.contains("99"), "{e}");
    // No transform.
    let mut d = good.clone();
    d.as_object_mut().unwrap().remove("transform");
    let e = err(&d);
    assert!(
        e.starts_with("bad.city.json: ") && e.contains("transform"),
        "{e}"
    );
    // CityJSON 1.0.
    let mut d = good.clone();
    d["version"] = "1.0".into();
    assert_eq!(
        err(&d),
        "bad.city.json: version: Some(\"1.0\"): a proposal is CityJSON 1.1 or 2.0"
    );
    // Two buildings.
    let mut d = good.clone();
    let second = d["CityObjects"]["p1"].clone();
    d["CityObjects"]["p2"] = second;
    let e = err(&d);
    assert!(e.contains("CityObjects: 2 buildings"), "{e}");
    // Not JSON at all: the line and column.
    let e = Proposal::read(
        "{\"type\": \"CityJSON\",",
        "bad.city.json",
        &s.twin,
        &s.rules,
    )
    .unwrap_err()
    .to_string();
    assert!(e.starts_with("bad.city.json: line 1 column"), "{e}");
    // In WGS84 it is accepted (x = lon, y = lat).
    let wgs = serde_json::json!({
        "type": "CityJSON", "version": "2.0",
        "transform": {"scale": [1e-7, 1e-7, 0.001], "translate": [107.6050, 16.4620, 0.0]},
        "metadata": {"referenceSystem": "https://www.opengis.net/def/crs/EPSG/0/4326"},
        "CityObjects": {"p1": {"type": "Building",
            "geometry": [{"type": "Solid", "lod": "1", "boundaries": [[
                [[0, 3, 2, 1]], [[4, 5, 6, 7]], [[0, 1, 5, 4]], [[1, 2, 6, 5]], [[2, 3, 7, 6]], [[3, 0, 4, 7]]
            ]]}]}},
        "vertices": [[0, 0, 3000], [1000, 0, 3000], [1000, 1000, 3000], [0, 1000, 3000],
                     [0, 0, 11000], [1000, 0, 11000], [1000, 1000, 11000], [0, 1000, 11000]]
    });
    let p = Proposal::read(&wgs.to_string(), "wgs.city.json", &s.twin, &s.rules).unwrap();
    assert!((p.height_m - 8.0).abs() < 1e-9);
    // 1e-4° square: about 10.7 m × 11.1 m.
    let a = geo::Area::unsigned_area(&p.footprint);
    assert!((a - 118.0).abs() < 3.0, "{a}");
}
