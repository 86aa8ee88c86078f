//! Land use: the land use and land cover areas of the OpenStreetMap extract (ODbL,
//! © OpenStreetMap contributors) inside the sample's extent, as twin-core's importer classifies
//! them ([`twin_core::import::tags::landuse_kind`]). They are drawn by the basemap only: the
//! flood model and the DEM do not read them.

use super::buildings::{centroid, local_ring, with_holes};
use super::geom::{largest_part, signed_area, P};
use super::Ctx;
use twin_core::model::Imported;

/// A land use area.
#[derive(Clone, Debug)]
pub struct Area {
    /// OSM id (`way/…` or `relation/…`).
    pub osm_id: String,
    /// The class: that key's value (`residential`, `park`, `wood`...).
    pub kind: String,
    /// `name`, when tagged.
    pub name: Option<String>,
    /// Parts, each an outer ring (counter-clockwise) then holes (clockwise), local metres.
    pub parts: Vec<Vec<Vec<P>>>,
}

/// The land use areas of the extract whose centroid (of the largest part's outer ring) is in
/// `extent` (lon/lat), keeping the parts with at least 3 distinct vertices and 4 m² of area. In
/// the extract's order (ways, then relations).
pub fn build(ctx: &Ctx, osm: &Imported, extent: [f64; 4]) -> Vec<Area> {
    let mut out = Vec::new();
    for l in &osm.landuse {
        let parts: Vec<Vec<Vec<P>>> = l
            .polygon
            .0
            .iter()
            .filter_map(|poly| {
                let outer = local_ring(ctx, poly.exterior(), true);
                if outer.len() < 3 || signed_area(&outer).abs() < 4.0 {
                    return None;
                }
                Some(with_holes(ctx, outer, poly))
            })
            .collect();
        let Some(largest) = largest_part(&parts) else {
            continue;
        };
        let (lon, lat) = ctx.frame.to_lonlat(centroid(&largest[0]));
        if lon < extent[0] || lon > extent[2] || lat < extent[1] || lat > extent[3] {
            continue;
        }
        out.push(Area {
            osm_id: l.id.trim_start_matches("osm:").to_string(),
            kind: l.kind.clone(),
            name: l.name.clone(),
            parts,
        });
    }
    out
}
