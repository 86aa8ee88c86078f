//! Web Mercator (EPSG:3857) tile maths on the sphere of the XYZ tile scheme: longitude and
//! latitude (WGS84 degrees) to "world pixels" at a zoom level and back.

use std::f64::consts::PI;

/// Largest latitude of the square Web Mercator world (degrees).
pub const MAX_LAT: f64 = 85.051_128_779_806_59;

/// World pixel (x right, y down from the north-west corner of the world) of a WGS84 point at
/// `zoom` with tiles of `tile_size` pixels.
///
/// ```
/// use twin_core::xyz::mercator::world_pixel;
/// let (x, y) = world_pixel(0.0, 0.0, 0, 256);
/// assert!((x - 128.0).abs() < 1e-9 && (y - 128.0).abs() < 1e-9);
/// ```
pub fn world_pixel(lon: f64, lat: f64, zoom: u8, tile_size: u32) -> (f64, f64) {
    let n = f64::from(tile_size) * 2f64.powi(i32::from(zoom));
    let lat = lat.clamp(-MAX_LAT, MAX_LAT).to_radians();
    let x = (lon + 180.0) / 360.0 * n;
    let y = (1.0 - (lat.tan() + 1.0 / lat.cos()).ln() / PI) / 2.0 * n;
    (x, y)
}

/// WGS84 (lon, lat) of a world pixel; the inverse of [`world_pixel`].
pub fn lon_lat(x: f64, y: f64, zoom: u8, tile_size: u32) -> (f64, f64) {
    let n = f64::from(tile_size) * 2f64.powi(i32::from(zoom));
    let lon = x / n * 360.0 - 180.0;
    let lat = (PI * (1.0 - 2.0 * y / n)).sinh().atan().to_degrees();
    (lon, lat)
}

/// Ground metres per pixel at latitude `lat` (degrees), `zoom` and `tile_size`.
pub fn metres_per_pixel(lat: f64, zoom: u8, tile_size: u32) -> f64 {
    const EARTH_CIRCUMFERENCE: f64 = 2.0 * PI * 6_378_137.0;
    EARTH_CIRCUMFERENCE * lat.to_radians().cos()
        / (f64::from(tile_size) * 2f64.powi(i32::from(zoom)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_known_tile() {
        for &(lon, lat) in &[(107.5785, 16.4695), (-70.0, -40.0), (0.0, 60.0)] {
            let (x, y) = world_pixel(lon, lat, 15, 256);
            let (lo, la) = lon_lat(x, y, 15, 256);
            assert!((lo - lon).abs() < 1e-10 && (la - lat).abs() < 1e-10);
        }
        // The Imperial City of Hue is in tile 14/13088/7431 (lon/lat from the tile formula).
        let (x, y) = world_pixel(107.5785, 16.4695, 14, 256);
        assert_eq!(((x / 256.0) as u32, (y / 256.0) as u32), (13088, 7431));
        assert!((metres_per_pixel(0.0, 0, 256) - 156_543.033_928).abs() < 1e-3);
    }
}
