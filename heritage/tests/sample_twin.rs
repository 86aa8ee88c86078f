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
