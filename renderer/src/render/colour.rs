//! Colour ramps of the pictures: terrain by height, water and buildings by depth, roads by
//! volume/capacity. Colours are display (sRGB-encoded) 8-bit values; the render target is a
//! plain `Rgba8Unorm` texture, so a colour here is the colour in the PNG (times the lighting).

/// Depth (m) from which a flood-raster cell is drawn as water, by default.
pub const WET_THRESHOLD_M: f64 = 0.05;

/// Background of the map view (outside the terrain).
pub const MAP_BACKGROUND: [u8; 3] = [238, 238, 232];
/// Sky colour at the top of a perspective view.
pub const SKY_TOP: [u8; 3] = [118, 164, 214];
/// Sky colour at the horizon (bottom of the picture).
pub const SKY_HORIZON: [u8; 3] = [214, 228, 242];
/// Buildings without a flood result, or dry in it.
pub const BUILDING_DRY: [u8; 3] = [206, 203, 196];
/// Roads when there is no traffic result.
pub const ROAD_PLAIN: [u8; 3] = [250, 248, 240];
/// Roads missing from a traffic result.
pub const ROAD_NO_DATA: [u8; 3] = [150, 150, 150];
/// Roads with volume/capacity below [`VC_YELLOW`].
pub const ROAD_FREE: [u8; 3] = [46, 166, 72];
/// Roads with volume/capacity in [`VC_YELLOW`, [`VC_RED`]).
pub const ROAD_BUSY: [u8; 3] = [240, 196, 36];
/// Roads with volume/capacity at or above [`VC_RED`].
pub const ROAD_CONGESTED: [u8; 3] = [214, 40, 40];
/// Road closed by the scenario (or by flooding): its own class, never a free road's green.
pub const ROAD_CLOSED: [u8; 3] = [88, 24, 120];
/// Volume/capacity from which a road is yellow.
pub const VC_YELLOW: f64 = 0.6;
/// Volume/capacity from which a road is red.
pub const VC_RED: f64 = 0.9;

/// The sun: azimuth (degrees clockwise from north) and elevation (degrees).
pub const SUN_AZIMUTH_DEG: f64 = 315.0;
/// See [`SUN_AZIMUTH_DEG`].
pub const SUN_ELEVATION_DEG: f64 = 50.0;
/// Share of the light that comes from everywhere (the rest is Lambert from the sun).
pub const AMBIENT: f64 = 0.45;

/// Unit vector towards the sun (x east, y north, z up).
pub fn sun() -> [f64; 3] {
    let (az, el) = (SUN_AZIMUTH_DEG.to_radians(), SUN_ELEVATION_DEG.to_radians());
    [el.cos() * az.sin(), el.cos() * az.cos(), el.sin()]
}

/// The light factor of a horizontal surface facing up (a roof, flat ground): what a colour of
/// this module is multiplied by on a flat roof.
pub fn flat_shade() -> f64 {
    AMBIENT + (1.0 - AMBIENT) * sun()[2]
}

/// The colour at `v` on a ramp of (value, colour) stops in increasing order, linearly
/// interpolated; the first colour below (and for NaN), the last above.
pub fn ramp(stops: &[(f64, [u8; 3])], v: f64) -> [u8; 3] {
    let first = stops[0];
    if v.is_nan() || v <= first.0 {
        return first.1;
    }
    for w in stops.windows(2) {
        let ((a, ca), (b, cb)) = (w[0], w[1]);
        if v <= b {
            let t = (v - a) / (b - a);
            let mut out = [0u8; 3];
            for k in 0..3 {
                out[k] = (ca[k] as f64 + (cb[k] as f64 - ca[k] as f64) * t).round() as u8;
            }
            return out;
        }
    }
    stops[stops.len() - 1].1
}

/// Terrain colour for a height (m above the geoid): blue-grey river beds below sea level, green
/// plain, yellow-brown hills, grey-white heights.
pub fn terrain_colour(z: f64) -> [u8; 3] {
    const STOPS: &[(f64, [u8; 3])] = &[
        (-6.0, [112, 138, 158]),
        (0.0, [150, 172, 172]),
        (1.0, [184, 204, 160]),
        (4.0, [168, 198, 138]),
        (12.0, [146, 184, 118]),
        (35.0, [178, 178, 122]),
        (70.0, [160, 138, 104]),
        (120.0, [190, 178, 164]),
        (300.0, [236, 232, 228]),
    ];
    ramp(STOPS, z)
}

/// Largest depth on the depth ramps (m); deeper water has the last colour.
pub const DEPTH_RAMP_MAX_M: f64 = 3.0;

/// Water colour and opacity for a depth (m): light, thin blue when shallow, dark and dense
/// when deep.
pub fn water_colour(depth: f64) -> [u8; 4] {
    const STOPS: &[(f64, [u8; 3])] = &[
        (0.0, [150, 206, 242]),
        (0.5, [78, 156, 228]),
        (1.5, [34, 100, 200]),
        (3.0, [18, 54, 146]),
    ];
    let c = ramp(STOPS, depth);
    let a = 0.6 + 0.3 * (depth / DEPTH_RAMP_MAX_M).clamp(0.0, 1.0);
    [c[0], c[1], c[2], (a * 255.0).round() as u8]
}

/// Building colour for its largest flood depth (m), [`BUILDING_DRY`] below `threshold` or
/// without a value: yellow, orange, red, then purple from 3 m.
pub fn building_colour(depth: Option<f64>, threshold: f64) -> [u8; 3] {
    const STOPS: &[(f64, [u8; 3])] = &[
        (0.0, [255, 232, 120]),
        (0.5, [252, 166, 54]),
        (1.0, [236, 92, 44]),
        (2.0, [190, 28, 44]),
        (3.0, [112, 18, 72]),
    ];
    match depth {
        Some(d) if d >= threshold => ramp(STOPS, d),
        _ => BUILDING_DRY,
    }
}

/// Road colour for a volume/capacity ratio (None: the road is not in the traffic result).
pub fn vc_colour(vc: Option<f64>) -> [u8; 3] {
    match vc {
        None => ROAD_NO_DATA,
        Some(v) if v < VC_YELLOW => ROAD_FREE,
        Some(v) if v < VC_RED => ROAD_BUSY,
        Some(_) => ROAD_CONGESTED,
    }
}

/// `c` times a light factor, rounded, as the GPU writes it (within one unit).
pub fn shaded(c: [u8; 3], shade: f64) -> [u8; 3] {
    c.map(|v| (v as f64 * shade).round().clamp(0.0, 255.0) as u8)
}
