//! The basemap's look: colours, widths by class and the zooms from which each class shows.

/// Land under the hillshade (flat ground is drawn in this colour, slopes shaded by
/// [`hillshade_factor`]).
pub const LAND: [u8; 3] = [240, 236, 226];
/// Land use areas: the fill of each class (the OSM value of `landuse`, `leisure` or
/// `natural` in the twin's land use layer), muted so that roads, buildings and labels read over
/// them, and shaded by the hillshade as land is ([`hillshade_factor`]; flat ground shows this
/// colour exactly); `None` for a class the basemap does not draw. The one table of land use
/// colours.
pub fn landuse(kind: &str) -> Option<[u8; 3]> {
    Some(match kind {
        "residential" => [226, 219, 208],
        "park" | "garden" | "grass" | "pitch" | "recreation_ground" | "village_green" => {
            [206, 232, 188]
        }
        "forest" | "wood" => [172, 206, 156],
        "farmland" | "meadow" | "orchard" | "plant_nursery" | "greenfield" | "allotments" => {
            [232, 238, 196]
        }
        "scrub" | "grassland" | "heath" => [214, 226, 182],
        "wetland" => [200, 224, 214],
        "cemetery" => [196, 212, 192],
        "commercial" | "retail" => [236, 220, 228],
        "industrial" | "construction" | "quarry" | "brownfield" | "railway" => [224, 218, 226],
        "religious" | "education" | "civic_admin" | "institutional" => [234, 224, 206],
        "military" => [242, 210, 206],
        "basin" | "reservoir" | "salt_pond" | "aquaculture" => [184, 212, 232],
        _ => return None,
    })
}

/// Water bodies and waterways.
pub const WATER: [u8; 3] = [142, 190, 226];
/// Building footprints.
pub const BUILDING: [u8; 3] = [214, 204, 194];
/// Building outlines (from zoom 16).
pub const BUILDING_EDGE: [u8; 3] = [190, 178, 166];
/// Heritage sites: a translucent tint and an outline.
pub const HERITAGE_FILL: [u8; 4] = [214, 170, 96, 40];
/// Heritage outline.
pub const HERITAGE_EDGE: [u8; 3] = [176, 124, 52];
/// Label colours.
pub const LABEL_WATER: [u8; 3] = [34, 88, 160];
/// Street names.
pub const LABEL_STREET: [u8; 3] = [70, 70, 70];
/// Place and heritage names.
pub const LABEL_PLACE: [u8; 3] = [96, 56, 20];
/// Names of land use areas (parks, cemeteries, woods...), drawn smaller and slanted.
pub const LABEL_LANDUSE: [u8; 3] = [26, 86, 34];
/// Halo behind every label.
pub const HALO: [u8; 3] = [255, 255, 255];

/// Hillshade light: azimuth clockwise from north and altitude above the horizon (degrees), the
/// classic cartographic light from the north-west.
pub const SUN_AZIMUTH_DEG: f64 = 315.0;
/// See [`SUN_AZIMUTH_DEG`].
pub const SUN_ALTITUDE_DEG: f64 = 45.0;
/// Vertical exaggeration of the DEM for the hillshade (the plain of Hue is flat; 2× lets the
/// hills read).
pub const Z_FACTOR: f64 = 2.0;

/// How a road class is drawn.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct RoadStyle {
    /// Drawing rank: higher classes are drawn over lower ones.
    pub rank: u8,
    /// Carriageway width on the ground (m).
    pub width_m: f64,
    /// Least width on screen (pixels at 256-pixel tiles).
    pub min_px: f64,
    /// First zoom at which the class is drawn.
    pub min_zoom: u8,
    /// Fill colour.
    pub fill: [u8; 3],
    /// Casing colour, `None` for paths (no casing).
    pub casing: Option<[u8; 3]>,
}

/// The style of an OSM `highway` class (`_link` roads as their class).
pub fn road(class: &str) -> RoadStyle {
    let s = |rank, width_m, min_px, min_zoom, fill, casing| RoadStyle {
        rank,
        width_m,
        min_px,
        min_zoom,
        fill,
        casing,
    };
    match class.trim_end_matches("_link") {
        "motorway" | "trunk" => s(7, 16.0, 3.0, 10, [248, 178, 156], Some([200, 110, 90])),
        "primary" => s(6, 13.0, 2.6, 10, [252, 214, 164], Some([170, 125, 70])),
        "secondary" => s(5, 10.0, 2.2, 11, [247, 250, 191], Some([140, 150, 90])),
        "tertiary" => s(4, 8.0, 1.8, 12, [255, 255, 255], Some([150, 150, 150])),
        "residential" | "unclassified" | "living_street" | "road" => {
            s(3, 6.0, 1.3, 13, [255, 255, 255], Some([175, 175, 175]))
        }
        "service" => s(2, 4.0, 1.0, 15, [255, 255, 255], Some([185, 185, 185])),
        "footway" | "path" | "cycleway" | "steps" | "pedestrian" | "track" => {
            s(1, 2.0, 0.8, 15, [236, 140, 120], None)
        }
        _ => s(2, 5.0, 1.0, 14, [255, 255, 255], Some([185, 185, 185])),
    }
}

/// Width on the ground (m) of a waterway drawn as a line, by its kind.
pub fn waterway_width_m(kind: &str) -> f64 {
    match kind {
        "river" => 30.0,
        "canal" => 15.0,
        "stream" => 5.0,
        _ => 3.0,
    }
}

/// The hillshade's one shading law: the factor by which the colour of land and land use is
/// multiplied under the hillshade value `shade` (the cosine between the surface normal and the
/// sun, 0..1). Flat ground (`shade` = sin of the sun's altitude) gets exactly 1, so it keeps its
/// colour ([`LAND`], or the class colour of [`landuse`]); slopes facing the sun get more (at
/// most 1.1, lighter), slopes facing away less (at least 0.45, darker):
/// `(0.55 + 0.45 · shade / flat)` clamped to 0.45..1.1.
pub fn hillshade_factor(shade: f64) -> f64 {
    let flat = SUN_ALTITUDE_DEG.to_radians().sin();
    (0.55 + 0.45 * shade / flat).clamp(0.45, 1.1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flat_ground_keeps_its_colour_and_slopes_are_clamped() {
        let flat = SUN_ALTITUDE_DEG.to_radians().sin();
        assert_eq!(hillshade_factor(flat), 1.0);
        assert_eq!(hillshade_factor(1.0), 1.1);
        assert_eq!(hillshade_factor(0.0), 0.55);
        assert!(hillshade_factor(0.5) < 1.0 && hillshade_factor(0.9) > 1.0);
    }
}
