//! Heritage sites: the citadel walls and gates, the Imperial City and its palaces, the royal
//! tombs, Thiên Mụ, Ngự Bình, Nam Giao and the market, with UNESCO-style protection zones.

use super::facts::{self, Place};
use super::geom::{bearing_vec, ccw, cw, offset_ring, rect_at, P};
use super::Ctx;
use twin_core::model::Imported;

/// A heritage site as written to `heritage.geojson`.
#[derive(Clone, Debug)]
pub struct Site {
    /// Feature id.
    pub id: String,
    /// English name.
    pub name: String,
    /// Vietnamese name.
    pub name_vi: String,
    /// OSM-style `historic` value.
    pub historic: String,
    /// Protection zone: "I" (core) or "II" (buffer).
    pub zone: &'static str,
    /// The OSM object whose outline this is (`way/…`, `relation/…`), or `None` for an outline
    /// drawn by the generator.
    pub osm_id: Option<String>,
    /// Height limit for new buildings in the zone, metres (zone II only).
    pub height_limit_m: Option<f64>,
    /// Height of the monument's floor or plinth above its ground, metres, where the sample
    /// gives one: ILLUSTRATIVE values (not surveyed), so that flood exposure has depths above a
    /// floor to report.
    pub floor_m: Option<f64>,
    /// Outer ring (counter-clockwise) then holes (clockwise), local metres.
    pub rings: Vec<Vec<P>>,
}

fn site(
    id: &'static str,
    name: &'static str,
    name_vi: &'static str,
    historic: &'static str,
    zone: &'static str,
    ring: Vec<P>,
) -> Site {
    Site {
        id: id.into(),
        name: name.into(),
        name_vi: name_vi.into(),
        historic: historic.into(),
        zone,
        osm_id: None,
        height_limit_m: None,
        floor_m: None,
        rings: vec![ccw(ring)],
    }
}

/// An axis-aligned (north-up) rectangle `w` (east-west) by `h` (north-south) metres.
fn box_at(c: P, w: f64, h: f64) -> Vec<P> {
    rect_at(c, P { x: 1.0, y: 0.0 }, w, h)
}

/// A regular polygon (an outline for a hill).
fn round(c: P, r: f64, n: usize) -> Vec<P> {
    (0..n)
        .map(|i| {
            let a = i as f64 / n as f64 * std::f64::consts::TAU;
            P {
                x: c.x + r * a.cos(),
                y: c.y + r * a.sin(),
            }
        })
        .collect()
}

/// All heritage sites.
pub fn build(ctx: &Ctx) -> Vec<Site> {
    let f = &ctx.frame;
    let a = &ctx.axes;
    let ll = |x: (f64, f64)| f.to_local(x.0, x.1);
    let mut out = Vec::new();

    // The walls: a band 24 m wide along the wall line, as a polygon with a hole.
    let outer = offset_ring(&ctx.wall, 12.0);
    let inner = offset_ring(&ctx.wall, -12.0);
    out.push(Site {
        rings: vec![ccw(outer), cw(inner)],
        ..site(
            "kinh-thanh-walls",
            "Hue Citadel walls",
            "Kinh Thành Huế",
            "citywalls",
            "I",
            Vec::new(),
        )
    });
    // The citadel and its moat as a zone II area with a height limit.
    out.push(Site {
        height_limit_m: Some(11.0),
        ..site(
            "kinh-thanh-area",
            "Hue Citadel protected area",
            "Khu vực bảo vệ Kinh Thành",
            "protected_area",
            "II",
            offset_ring(&ctx.wall, 70.0),
        )
    });
    out.push(site(
        "hoang-thanh",
        "Imperial City",
        "Hoàng Thành",
        "castle",
        "I",
        ctx.imperial_city.clone(),
    ));
    out.push(site(
        "tu-cam-thanh",
        "Forbidden Purple City",
        "Tử Cấm Thành",
        "castle",
        "I",
        a.rect(-540.0, -215.0, -145.0, 145.0),
    ));
    // Ngọ Môn: a U-shaped gate opening to the front, 58 m wide, in the Imperial City's front wall.
    let ngo_mon: Vec<(f64, f64)> = vec![
        (-13.0, -29.0),
        (35.0, -29.0),
        (35.0, -17.0),
        (13.0, -17.0),
        (13.0, 17.0),
        (35.0, 17.0),
        (35.0, 29.0),
        (-13.0, 29.0),
    ];
    // Floor levels (illustrative, not surveyed): the gate's passages through its stone
    // platform, the palace on its terrace, the pavilion on its raised base.
    out.push(Site {
        floor_m: Some(facts::NGO_MON_FLOOR_M),
        ..site(
            "ngo-mon",
            "Meridian Gate",
            "Ngọ Môn",
            "city_gate",
            "I",
            ngo_mon.iter().map(|&(u, v)| a.at(u, v)).collect(),
        )
    });
    // Thái Hòa: 44 m across the axis by 30.5 m along it.
    let (tu, tv) = a.uv(ll(facts::THAI_HOA));
    out.push(Site {
        floor_m: Some(facts::THAI_HOA_FLOOR_M),
        ..site(
            "thai-hoa",
            "Hall of Supreme Harmony",
            "Điện Thái Hòa",
            "building",
            "I",
            a.rect(tu - 15.25, tu + 15.25, tv - 22.0, tv + 22.0),
        )
    });
    let (ku, kv) = a.uv(ll(facts::KY_DAI));
    out.push(site(
        "ky-dai",
        "Flag Tower",
        "Kỳ Đài",
        "monument",
        "I",
        a.rect(ku - 30.0, ku + 30.0, kv - 32.0, kv + 32.0),
    ));
    let (pu, pv) = a.uv(ll(facts::PHU_VAN_LAU));
    out.push(Site {
        floor_m: Some(facts::PHU_VAN_LAU_FLOOR_M),
        ..site(
            "phu-van-lau",
            "Phu Van Lau pavilion",
            "Phu Văn Lâu",
            "building",
            "I",
            a.rect(pu - 8.0, pu + 8.0, pv - 9.0, pv + 9.0),
        )
    });

    // Gates: 24 m along the wall, 30 m through it, turned with the wall side they stand on.
    for g in gate_sites(ctx, &facts::GATES) {
        out.push(g);
    }

    out.push(Site {
        height_limit_m: Some(12.0),
        ..site(
            "cho-dong-ba",
            "Dong Ba market",
            "Chợ Đông Ba",
            "building",
            "II",
            rect_at(ll(facts::DONG_BA_MARKET), bearing_vec(45.0), 170.0, 120.0),
        )
    });
    out.push(site(
        "thien-mu",
        "Thien Mu pagoda",
        "Chùa Thiên Mụ",
        "temple",
        "I",
        box_at(ll(facts::THIEN_MU), 130.0, 260.0),
    ));
    let tu_duc = ll(facts::TU_DUC) + P { x: 64.0, y: -11.0 };
    out.push(site(
        "lang-tu-duc",
        "Tomb of Tu Duc",
        "Lăng Tự Đức",
        "tomb",
        "I",
        box_at(tu_duc, 420.0, 380.0),
    ));
    out.push(site(
        "lang-minh-mang",
        "Tomb of Minh Mang",
        "Lăng Minh Mạng",
        "tomb",
        "I",
        box_at(ll(facts::MINH_MANG), 500.0, 250.0),
    ));
    out.push(site(
        "lang-khai-dinh",
        "Tomb of Khai Dinh",
        "Lăng Khải Định",
        "tomb",
        "I",
        box_at(ll(facts::KHAI_DINH), 100.0, 180.0),
    ));
    out.push(site(
        "lang-gia-long",
        "Tomb of Gia Long",
        "Lăng Gia Long",
        "tomb",
        "I",
        box_at(ll(facts::GIA_LONG), 250.0, 300.0),
    ));
    out.push(site(
        "nam-giao",
        "Nam Giao Esplanade",
        "Đàn Nam Giao",
        "monument",
        "I",
        box_at(ll(facts::NAM_GIAO), 265.0, 390.0),
    ));
    out.push(site(
        "ngu-binh",
        "Ngu Binh hill (royal screen)",
        "Núi Ngự Bình",
        "landscape",
        "I",
        round(ll(facts::NGU_BINH), 300.0, 24),
    ));
    // The royal axis from Phu Văn Lâu to Ngự Bình: a 300 m wide sightline corridor across the
    // river and the south bank, with a height limit.
    let from = ll(facts::PHU_VAN_LAU);
    let to = ll(facts::NGU_BINH);
    let mid = from.lerp(to, 0.5);
    out.push(Site {
        height_limit_m: Some(14.0),
        ..site(
            "royal-axis",
            "Royal axis sightline corridor",
            "Trục thần đạo Ngự Bình – Phu Văn Lâu",
            "protected_area",
            "II",
            rect_at(mid, (to - from).unit(), from.dist(to), 300.0),
        )
    });
    out
}

fn gate_sites(ctx: &Ctx, gates: &[Place]) -> Vec<Site> {
    let a = &ctx.axes;
    gates
        .iter()
        .map(|&(id, name, name_vi, ll)| {
            let c = ctx.frame.to_local(ll.0, ll.1);
            let (u, v) = a.uv(c);
            // Which side: the front and back walls run across the axis (constant u); the side
            // walls along it (constant v).
            let on_side = v.abs() > 1000.0;
            let ring = if on_side {
                a.rect(u - 12.0, u + 12.0, v - 15.0, v + 15.0)
            } else {
                a.rect(u - 15.0, u + 15.0, v - 12.0, v + 12.0)
            };
            site(id, name, name_vi, "city_gate", "I", ring)
        })
        .collect()
}

/// What an unnamed OSM heritage object is, for its name: the first of its `historic`,
/// `man_made`, `building` and `amenity` values that says more than `yes`, underscores as
/// spaces (`city gate`, `archaeological site`), else `historic site`.
fn unnamed_kind(tags: &twin_core::model::Attributes) -> String {
    ["historic", "man_made", "building", "amenity"]
        .iter()
        .filter_map(|k| tags.get(*k))
        .find(|v| v.as_str() != "yes")
        .map_or_else(|| "historic site".to_string(), |v| v.replace('_', " "))
}

/// Replace the drawn outlines by the extract's real ones where it has them, and add the
/// extract's other heritage objects (`historic=*` or `heritage=*`) in `extent` as zone I sites.
///
/// A drawn site takes the outline of the first OSM polygon (heritage objects first, then
/// buildings, in the extract's order) whose `name` is the site's Vietnamese name; protected
/// areas, the walls band and the view corridor stay drawn. The extract's `historic=citywalls`
/// area (the whole citadel) is left out: the walls stay the drawn band.
pub fn from_osm(ctx: &Ctx, sites: &mut Vec<Site>, osm: &Imported, extent: [f64; 4]) {
    let polys = osm
        .heritage
        .iter()
        .map(|h| (h.id.as_str(), h.name.as_deref(), &h.polygon))
        .chain(
            osm.buildings
                .iter()
                .map(|b| (b.id.as_str(), b.name.as_deref(), &b.footprint)),
        );
    let polys: Vec<_> = polys.collect();
    let mut used: Vec<&str> = Vec::new();
    for s in sites.iter_mut() {
        if s.historic == "protected_area" || s.historic == "citywalls" {
            continue;
        }
        let Some((id, _, mp)) = polys
            .iter()
            .find(|(id, n, _)| *n == Some(s.name_vi.as_str()) && !used.contains(id))
        else {
            continue;
        };
        if let Some(rings) = rings_of(ctx, mp) {
            s.rings = rings;
            s.osm_id = Some(id.trim_start_matches("osm:").to_string());
            used.push(id);
        }
    }
    for h in &osm.heritage {
        let historic = h
            .attributes
            .get("historic")
            .or(h.attributes.get("heritage"))
            .cloned()
            .unwrap_or_else(|| "yes".into());
        if used.contains(&h.id.as_str()) || historic == "citywalls" {
            continue;
        }
        let Some(rings) = rings_of(ctx, &h.polygon) else {
            continue;
        };
        let (lon, lat) = ctx.frame.to_lonlat(super::buildings::centroid(&rings[0]));
        if lon < extent[0] || lon > extent[2] || lat < extent[1] || lat > extent[3] {
            continue;
        }
        let sid = h.id.trim_start_matches("osm:").to_string();
        let name = h
            .name
            .clone()
            .unwrap_or_else(|| format!("{} ({sid})", unnamed_kind(&h.attributes)));
        sites.push(Site {
            id: format!("osm-{}", sid.replace('/', "-")),
            name: h
                .attributes
                .get("name:en")
                .cloned()
                .unwrap_or_else(|| name.clone()),
            name_vi: name,
            historic,
            zone: "I",
            osm_id: Some(sid),
            height_limit_m: None,
            floor_m: None,
            rings,
        });
    }
}

/// The largest part of a multipolygon as rings (outer counter-clockwise, holes clockwise),
/// local metres; `None` when it has no part with an area of 1 m² or more.
fn rings_of(ctx: &Ctx, mp: &geo_types::MultiPolygon<f64>) -> Option<Vec<Vec<P>>> {
    use super::buildings::local_ring;
    let p = mp.0.iter().max_by(|a, b| {
        let ar = |p: &geo_types::Polygon<f64>| {
            super::geom::signed_area(&local_ring(ctx, p.exterior(), true)).abs()
        };
        ar(a).total_cmp(&ar(b))
    })?;
    let outer = local_ring(ctx, p.exterior(), true);
    if outer.len() < 3 || super::geom::signed_area(&outer).abs() < 1.0 {
        return None;
    }
    Some(super::buildings::with_holes(ctx, outer, p))
}
