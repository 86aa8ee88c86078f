//! Water: the water areas and waterways of the OpenStreetMap extract (ODbL, © OpenStreetMap
//! contributors) in the sample's extent.
//!
//! * **The Perfume River** (`song-huong`) is one polygon: the union of the extract's river
//!   areas (`water=river`, `waterway=riverbank`) that OSM's `Sông Hương` waterway runs through,
//!   clipped to the extent (which the DEM covers). The extract maps the river in three closed
//!   areas (the reach above Kim Long with its two forks, the city reach, the reach below Bao
//!   Vinh); their union keeps the islands (Cồn Hến, Dã Viên) as holes.
//! * **Other water areas** as OSM has them, clipped to the extent (the moats, the citadel's
//!   lakes and canals, the An Cựu, Như Ý, Đông Ba and Kẻ Vạn rivers, ponds and reservoirs),
//!   parts of at least [`MIN_AREA_M2`]; an unnamed area takes the name of a named waterway that
//!   runs through it.
//! * **Waterways** (`river`, `canal`, `stream`, `ditch`, `drain` lines) clipped to the extent,
//!   except those that run wholly inside the Perfume River (its centreline).
//!
//! The DEM ([`super::terrain`]) cuts the river's bed, the channels and the ponds from these
//! shapes; the buildings whose centre lies in water are left out ([`super::buildings`]).

use super::buildings::{centroid, local_ring, with_holes};
use super::geom::{bbox, in_ring, largest_part, seg_dist, signed_area, Grid, P};
use super::{round_ll, Ctx};
use geo::{BooleanOps, Contains};
use geo_types::{Coord, Geometry, LineString, MultiLineString, MultiPolygon, Point, Polygon, Rect};
use twin_core::error::{Result, TwinError};
use twin_core::model::Imported;

/// OSM name of the Perfume River's waterway.
pub const PERFUME_RIVER_NAME: &str = "Sông Hương";
/// Parts of water areas smaller than this are left out, m².
pub const MIN_AREA_M2: f64 = 20.0;
/// Waterway pieces shorter than this after clipping are left out, m.
pub const MIN_LINE_M: f64 = 30.0;
/// The waterway kinds kept as lines.
pub const LINE_KINDS: [&str; 5] = ["river", "canal", "stream", "ditch", "drain"];
/// Water area kinds (OSM `water=*`, or `riverbank`) whose bed the DEM cuts as a channel when
/// the area is at least [`MIN_CHANNEL_AREA_M2`]; the others (lakes, ponds, moats, reservoirs,
/// and small areas tagged as rivers, such as the Imperial City's Ao Ngọc Dịch pond) are water
/// surfaces just below the land around.
pub const CHANNEL_KINDS: [&str; 4] = ["river", "riverbank", "canal", "stream"];
/// The least area of a channel, m² (the An Cựu, Như Ý, Đông Ba and Kẻ Vạn rivers are
/// 0.12–0.24 km² in the extent).
pub const MIN_CHANNEL_AREA_M2: f64 = 20_000.0;

/// A water area: one or more parts, each an outer ring (counter-clockwise) then holes
/// (clockwise), local metres, vertices rounded to the output precision.
#[derive(Clone, Debug)]
pub struct Area {
    /// Feature id (`song-huong` for the Perfume River, else `wNNNNN`).
    pub id: String,
    /// OSM ids (`way/…`, `relation/…`), `;`-separated when several areas were merged.
    pub osm_id: String,
    /// OSM `water=*` (or `riverbank`), when tagged.
    pub water: Option<String>,
    /// Name (OSM's, or a waterway's running through it).
    pub name: Option<String>,
    /// Parts, rings local.
    pub parts: Vec<Vec<Vec<P>>>,
    /// Bounding box (min, max).
    pub bbox: (P, P),
    /// True when this is a channel whose bed the DEM cuts: a [`CHANNEL_KINDS`] area of at
    /// least [`MIN_CHANNEL_AREA_M2`].
    pub channel: bool,
}

impl Area {
    fn new(
        osm_id: String,
        water: Option<String>,
        name: Option<String>,
        parts: Vec<Vec<Vec<P>>>,
    ) -> Area {
        let all: Vec<P> = parts.iter().flat_map(|r| r[0].iter().copied()).collect();
        let m2 = parts
            .iter()
            .flatten()
            .map(|r| signed_area(r))
            .sum::<f64>()
            .abs();
        let channel = water.as_deref().is_some_and(|w| CHANNEL_KINDS.contains(&w))
            && m2 >= MIN_CHANNEL_AREA_M2;
        Area {
            id: String::new(),
            osm_id,
            water,
            name,
            bbox: bbox(&all),
            parts,
            channel,
        }
    }

    /// True when `q` is in one of the parts and not in its holes.
    pub fn contains(&self, q: P) -> bool {
        let (lo, hi) = self.bbox;
        if q.x < lo.x || q.y < lo.y || q.x > hi.x || q.y > hi.y {
            return false;
        }
        self.parts
            .iter()
            .any(|r| in_ring(q, &r[0]) && !r[1..].iter().any(|h| in_ring(q, h)))
    }

    /// Distance from `q` to the nearest ring edge (outline or hole), brute force.
    pub fn edge_dist(&self, q: P) -> f64 {
        self.edges()
            .map(|(a, b)| seg_dist(q, a, b).0)
            .fold(f64::INFINITY, f64::min)
    }

    /// Every ring's edges, oriented so that the water lies on their left.
    fn edges(&self) -> impl Iterator<Item = (P, P)> + '_ {
        self.parts.iter().flatten().flat_map(|ring| {
            let n = ring.len();
            (0..n).map(move |i| (ring[i], ring[(i + 1) % n]))
        })
    }
}

/// A waterway line, local metres, vertices rounded to the output precision.
#[derive(Clone, Debug)]
pub struct WaterLine {
    /// Feature id (`wNNNNN`).
    pub id: String,
    /// OSM id (`way/…`).
    pub osm_id: String,
    /// OSM `waterway=*`: one of [`LINE_KINDS`].
    pub waterway: String,
    /// Name, when tagged.
    pub name: Option<String>,
    /// Vertices.
    pub pts: Vec<P>,
    /// Bounding box (min, max).
    pub bbox: (P, P),
}

impl WaterLine {
    /// Half-width of the channel the DEM cuts along the line, metres, and its bed elevation
    /// (m above sea level); `None` for the small kinds, which the 30 m DEM does not cut.
    pub fn channel(&self) -> Option<(f64, f64)> {
        match self.waterway.as_str() {
            "river" => Some((10.0, -1.5)),
            "canal" => Some((6.0, -1.0)),
            _ => None,
        }
    }
}

/// All water of the sample, with indexes for the DEM's per-cell queries.
#[derive(Clone, Debug)]
pub struct Water {
    /// The Perfume River (`song-huong`).
    pub river: Area,
    /// The other water areas, in the extract's order.
    pub areas: Vec<Area>,
    /// Waterways, in the extract's order.
    pub lines: Vec<WaterLine>,
    river_edges: Grid<(P, P)>,
    area_boxes: Grid<usize>,
    line_boxes: Grid<usize>,
}

impl Water {
    /// True when `q` is in the Perfume River (not on one of its islands).
    pub fn in_river(&self, q: P) -> bool {
        self.river.contains(q)
    }

    /// True when `q` is in the river or in any other water area.
    pub fn in_any(&self, q: P) -> bool {
        self.in_river(q) || self.areas_near(q, 0.0).any(|a| a.contains(q))
    }

    /// The water areas (not the river) whose boxes come within `r` of `q`.
    pub fn areas_near(&self, q: P, r: f64) -> impl Iterator<Item = &Area> {
        near_boxes(&self.area_boxes, q, r, |i| self.areas[i].bbox).map(|i| &self.areas[i])
    }

    /// The waterways whose boxes come within `r` of `q`.
    pub fn lines_near(&self, q: P, r: f64) -> impl Iterator<Item = &WaterLine> {
        near_boxes(&self.line_boxes, q, r, |i| self.lines[i].bbox).map(|i| &self.lines[i])
    }

    /// The river outline's edge nearest to `q` within `r`: (a, b, distance, position along).
    fn nearest_bank(&self, q: P, r: f64) -> Option<(P, P, f64, f64)> {
        // search outwards so that near points look at few buckets
        let mut radius = 120.0_f64.min(r);
        loop {
            let mut best: Option<(P, P, f64, f64)> = None;
            self.river_edges.for_each_near(q, radius, |&(a, b)| {
                let (d, t) = seg_dist(q, a, b);
                if best.is_none_or(|x| d < x.2) {
                    best = Some((a, b, d, t));
                }
            });
            if let Some(b) = best.filter(|b| b.2 <= radius) {
                return Some(b);
            }
            if radius >= r {
                return None;
            }
            radius = (radius * 2.0).min(r);
        }
    }

    /// Distance from `q` to the Perfume River's outline (banks and islands' shores), when it is
    /// within `r` (else `r`).
    pub fn river_bank_dist(&self, q: P, r: f64) -> f64 {
        self.nearest_bank(q, r).map_or(r, |b| b.2)
    }

    /// The point `inset` metres into the river from the point of its outline nearest to
    /// `near` (a place on the bank where a gauge stands).
    pub fn bank_point(&self, near: P, inset: f64) -> Option<P> {
        let (a, b, _, t) = self.nearest_bank(near, 2000.0)?;
        let foot = a.lerp(b, t);
        // rings run with the water on their left
        Some(foot + (b - a).unit().left() * inset)
    }
}

/// The indices in `grid` whose boxes (`bbox` of an index) come within `r` of `q`.
fn near_boxes<'a>(
    grid: &'a Grid<usize>,
    q: P,
    r: f64,
    bbox: impl Fn(usize) -> (P, P) + 'a,
) -> impl Iterator<Item = usize> + 'a {
    grid.near(q, r).into_iter().copied().filter(move |&i| {
        let (lo, hi) = bbox(i);
        q.x >= lo.x - r && q.y >= lo.y - r && q.x <= hi.x + r && q.y <= hi.y + r
    })
}

/// A closed rectangle in lon/lat as a polygon.
fn rect(lon0: f64, lat0: f64, lon1: f64, lat1: f64) -> Polygon<f64> {
    Rect::new(Coord { x: lon0, y: lat0 }, Coord { x: lon1, y: lat1 }).to_polygon()
}

fn polygons(g: &Geometry<f64>) -> Option<MultiPolygon<f64>> {
    match g {
        Geometry::Polygon(p) => Some(MultiPolygon(vec![p.clone()])),
        Geometry::MultiPolygon(m) => Some(m.clone()),
        _ => None,
    }
}

fn lines(g: &Geometry<f64>) -> Option<MultiLineString<f64>> {
    match g {
        Geometry::LineString(l) => Some(MultiLineString(vec![l.clone()])),
        Geometry::MultiLineString(m) => Some(m.clone()),
        _ => None,
    }
}

/// Parts of a lon/lat multipolygon in local metres (outer counter-clockwise, holes clockwise,
/// rounded to the output precision), the parts under [`MIN_AREA_M2`] left out.
fn local_parts(ctx: &Ctx, m: &MultiPolygon<f64>) -> Vec<Vec<Vec<P>>> {
    m.0.iter()
        .filter_map(|poly| {
            let outer = local_ring(ctx, poly.exterior(), true);
            if outer.len() < 3 || signed_area(&outer).abs() < MIN_AREA_M2 {
                return None;
            }
            let rings = with_holes(ctx, outer, poly);
            Some(
                rings
                    .into_iter()
                    .map(|r| r.into_iter().map(|q| round_ll(&ctx.frame, q)).collect())
                    .collect(),
            )
        })
        .collect()
}

fn osm_key(id: &str) -> String {
    id.trim_start_matches("osm:").to_string()
}

/// Build the water of the sample from the extract, for the extent (lon/lat).
pub fn build(ctx: &Ctx, osm: &Imported, extent: [f64; 4]) -> Result<Water> {
    let [lon0, lat0, lon1, lat1] = extent;
    let clip = MultiPolygon(vec![rect(lon0, lat0, lon1, lat1)]);
    let in_extent = |q: P| {
        let (lon, lat) = ctx.frame.to_lonlat(q);
        lon >= lon0 && lon <= lon1 && lat >= lat0 && lat <= lat1
    };

    // The Perfume River: the river areas its waterway runs through.
    let perfume: Vec<&LineString<f64>> = osm
        .water
        .iter()
        .filter(|w| w.name.as_deref() == Some(PERFUME_RIVER_NAME))
        .filter_map(|w| match &w.geometry {
            Geometry::LineString(l) => Some(l),
            _ => None,
        })
        .collect();
    let mut pieces: Vec<usize> = Vec::new();
    let mut union = MultiPolygon::<f64>(Vec::new());
    for (i, w) in osm.water.iter().enumerate() {
        if !matches!(w.kind.as_str(), "river" | "riverbank") {
            continue;
        }
        let Some(mp) = polygons(&w.geometry) else {
            continue;
        };
        if perfume
            .iter()
            .any(|l| l.0.iter().any(|c| mp.contains(&Point(*c))))
        {
            union = union.union(&mp);
            pieces.push(i);
        }
    }
    let clipped = union.intersection(&clip);
    let largest = clipped
        .0
        .iter()
        .max_by(|a, b| {
            use geo::Area as _;
            a.unsigned_area().total_cmp(&b.unsigned_area())
        })
        .cloned()
        .ok_or_else(|| {
            TwinError::invalid(
                "water",
                format!("the extract has no river area that the {PERFUME_RIVER_NAME} waterway runs through in the extent"),
            )
        })?;
    let mut river = Area::new(
        pieces
            .iter()
            .map(|&i| osm_key(&osm.water[i].id))
            .collect::<Vec<_>>()
            .join(";"),
        Some("river".into()),
        Some(PERFUME_RIVER_NAME.into()),
        local_parts(ctx, &MultiPolygon(vec![largest])),
    );
    river.id = "song-huong".into();

    // Waterways: clipped to the extent, those wholly in the river left out.
    let mut wlines: Vec<WaterLine> = Vec::new();
    for w in &osm.water {
        if !LINE_KINDS.contains(&w.kind.as_str()) {
            continue;
        }
        let Some(ml) = lines(&w.geometry) else {
            continue;
        };
        for piece in clip.clip(&ml, false).0 {
            let pts: Vec<P> = piece
                .0
                .iter()
                .map(|c| round_ll(&ctx.frame, ctx.frame.to_local(c.x, c.y)))
                .collect();
            if pts.len() < 2
                || super::geom::length(&pts) < MIN_LINE_M
                || pts.iter().all(|&q| river.contains(q))
            {
                continue;
            }
            wlines.push(WaterLine {
                id: String::new(),
                osm_id: osm_key(&w.id),
                waterway: w.kind.clone(),
                name: w.name.clone(),
                bbox: bbox(&pts),
                pts,
            });
        }
    }

    // Other water areas whose largest part's centroid is in the extent.
    let mut areas: Vec<Area> = Vec::new();
    for (i, w) in osm.water.iter().enumerate() {
        if pieces.contains(&i) {
            continue;
        }
        let Some(mp) = polygons(&w.geometry) else {
            continue;
        };
        let parts = local_parts(ctx, &mp.intersection(&clip));
        let Some(largest) = largest_part(&parts) else {
            continue;
        };
        if !in_extent(centroid(&largest[0])) {
            continue;
        }
        let water = (w.kind != "water").then(|| w.kind.clone());
        let mut a = Area::new(osm_key(&w.id), water, w.name.clone(), parts);
        if a.name.is_none() {
            a.name = wlines
                .iter()
                .filter(|l| l.name.is_some())
                .find(|l| l.pts.iter().any(|&q| a.contains(q)))
                .and_then(|l| l.name.clone());
        }
        areas.push(a);
    }

    for (i, a) in areas.iter_mut().enumerate() {
        a.id = format!("w{:05}", i + 1);
    }
    for (i, l) in wlines.iter_mut().enumerate() {
        l.id = format!("w{:05}", areas.len() + i + 1);
    }
    let mut river_edges = Grid::new(100.0);
    for (a, b) in river.edges() {
        let (lo, hi) = bbox(&[a, b]);
        river_edges.insert((a, b), lo, hi);
    }
    let mut area_boxes = Grid::new(250.0);
    for (i, a) in areas.iter().enumerate() {
        area_boxes.insert(i, a.bbox.0, a.bbox.1);
    }
    let mut line_boxes = Grid::new(250.0);
    for (i, l) in wlines.iter().enumerate() {
        line_boxes.insert(i, l.bbox.0, l.bbox.1);
    }
    Ok(Water {
        river,
        areas,
        lines: wlines,
        river_edges,
        area_boxes,
        line_boxes,
    })
}
