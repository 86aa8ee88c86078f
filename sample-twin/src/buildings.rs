//! Buildings: the footprints of the OpenStreetMap extract (ODbL, © OpenStreetMap contributors),
//! inside the sample's extent and out of the water (the Perfume River, the moats, lakes and
//! canals), with their own tags.

use super::geom::{signed_area, P};
use super::water::Water;
use super::Ctx;
use twin_core::model::Imported;

/// OSM tags copied to `buildings.geojson`, in this order (nothing else is written, nothing is
/// made up: a building without `building:levels` or `height` gets the importer's defaults).
pub const TAGS: [&str; 6] = [
    "building",
    "name",
    "building:levels",
    "height",
    "min_height",
    "roof:shape",
];

/// A building footprint.
#[derive(Clone, Debug)]
pub struct Building {
    /// OSM id (`way/…` or `relation/…`).
    pub osm_id: String,
    /// The copied tags ([`TAGS`]) that the OSM object has.
    pub tags: Vec<(&'static str, String)>,
    /// Outer ring (counter-clockwise) then holes (clockwise), local metres.
    pub rings: Vec<Vec<P>>,
}

/// Polygon area centroid of a ring.
pub fn centroid(ring: &[P]) -> P {
    let (mut cx, mut cy, mut a2) = (0.0, 0.0, 0.0);
    let n = ring.len();
    for i in 0..n {
        let (p, q) = (ring[i], ring[(i + 1) % n]);
        let c = p.x * q.y - q.x * p.y;
        a2 += c;
        cx += (p.x + q.x) * c;
        cy += (p.y + q.y) * c;
    }
    if a2.abs() < 1e-9 {
        return ring.first().copied().unwrap_or(P { x: 0.0, y: 0.0 });
    }
    P {
        x: cx / (3.0 * a2),
        y: cy / (3.0 * a2),
    }
}

/// Open ring (first vertex not repeated), local metres, with the orientation asked for.
pub fn local_ring(ctx: &Ctx, ls: &geo_types::LineString<f64>, ccw: bool) -> Vec<P> {
    let mut r: Vec<P> = ls.0.iter().map(|c| ctx.frame.to_local(c.x, c.y)).collect();
    if r.len() > 1 && r.first() == r.last() {
        r.pop();
    }
    if (signed_area(&r) > 0.0) != ccw {
        r.reverse();
    }
    r
}

/// A polygon's outer ring (`outer`, already local) followed by its holes in local metres,
/// clockwise, those of fewer than 3 vertices left out.
pub fn with_holes(ctx: &Ctx, outer: Vec<P>, poly: &geo_types::Polygon<f64>) -> Vec<Vec<P>> {
    let mut rings = vec![outer];
    rings.extend(
        poly.interiors()
            .iter()
            .map(|h| local_ring(ctx, h, false))
            .filter(|h| h.len() >= 3),
    );
    rings
}

/// The buildings of the extract inside `extent` (lon/lat, by the centroid of the outer ring),
/// not in water (the Perfume River or another water area), with at least 3 distinct vertices and 4 m² of area. Multipolygon
/// buildings keep their largest part. In the extract's order (ways, then relations).
pub fn build(ctx: &Ctx, osm: &Imported, water: &Water, extent: [f64; 4]) -> Vec<Building> {
    let mut out = Vec::new();
    for b in &osm.buildings {
        let Some(poly) = b.footprint.0.iter().max_by(|x, y| {
            let a = |p: &geo_types::Polygon<f64>| {
                signed_area(&local_ring(ctx, p.exterior(), true)).abs()
            };
            a(x).total_cmp(&a(y))
        }) else {
            continue;
        };
        let outer = local_ring(ctx, poly.exterior(), true);
        if outer.len() < 3 || signed_area(&outer).abs() < 4.0 {
            continue;
        }
        let c = centroid(&outer);
        let (lon, lat) = ctx.frame.to_lonlat(c);
        if lon < extent[0] || lon > extent[2] || lat < extent[1] || lat > extent[3] {
            continue;
        }
        if water.in_any(c) {
            continue;
        }
        let rings = with_holes(ctx, outer, poly);
        let tags = TAGS
            .iter()
            .filter_map(|&k| b.attributes.get(k).map(|v| (k, v.clone())))
            .collect();
        out.push(Building {
            osm_id: b.source_id.clone(),
            tags,
            rings,
        });
    }
    out
}
