//! Viewsheds: which cells of a DEM (with the buildings burnt in) a viewer sees, by exact line
//! of sight, in `gdal_viewshed`'s conventions where they are not errors (DESIGN.md, Heritage):
//! the observer at the centre of the cell that holds the point, `observer_height` above that
//! cell's value; each target cell's centre `target_height` above its value; curvature as
//! `z − cc·d²/(2a)` ([`crate::plane`]); ties visible; cells beyond the maximum distance left
//! out (no data), not invisible.
//!
//! Exact line of sight: the sight line from the observer to a target crosses the lines through
//! the cell centres (columns and rows); at each crossing the terrain is the linear
//! interpolation of the two cells the line passes between, and the target is hidden when any
//! crossing's terrain (curvature applied) is above the line. The cells at the two ends are not
//! crossed.
//!
//! ```
//! use heritage::viewshed::{viewshed, Surface, ViewshedOptions};
//! // A flat 5 × 5 grid of 10 m cells: everything is seen.
//! let s = Surface { ncols: 5, nrows: 5, xmin: 0.0, ymax: 50.0, cell: 10.0, z: vec![Some(3.0); 25] };
//! let v = viewshed(&s, 25.0, 25.0, &ViewshedOptions::default()).unwrap();
//! assert!(v.iter().all(|&c| c == Some(true)));
//! ```

use crate::error::{HeritageError, Result};
use crate::plane::{CC_DEFAULT, EARTH_A};
use rayon::prelude::*;
use twin_core::model::Dem;
use twin_core::Twin;

/// A north-up grid of square cells: terrain, or terrain with buildings burnt in.
#[derive(Clone, Debug, PartialEq)]
pub struct Surface {
    /// Columns.
    pub ncols: usize,
    /// Rows.
    pub nrows: usize,
    /// x of the west edge.
    pub xmin: f64,
    /// y of the north edge.
    pub ymax: f64,
    /// Cell size (m).
    pub cell: f64,
    /// Heights, row-major from the north row; None: no data.
    pub z: Vec<Option<f64>>,
}

impl Surface {
    /// A DEM's surface (its cells must be square).
    pub fn from_dem(dem: &Dem) -> Result<Surface> {
        if (dem.cell_x - dem.cell_y).abs() > 1e-9 * dem.cell_x {
            return Err(HeritageError::invalid(
                format!("DEM {}", dem.name),
                format!(
                    "cells of {} × {} m: a viewshed needs square cells",
                    dem.cell_x, dem.cell_y
                ),
            ));
        }
        Ok(Surface {
            ncols: dem.ncols,
            nrows: dem.nrows,
            xmin: dem.xmin,
            ymax: dem.ymax,
            cell: dem.cell_x,
            z: dem.values.iter().map(|v| v.map(f64::from)).collect(),
        })
    }

    /// The twin's first DEM with its buildings burnt in: a cell whose centre is inside a
    /// footprint takes the building's top (base plus height) when higher.
    pub fn of_twin(twin: &Twin) -> Result<Surface> {
        let dem = twin
            .terrain
            .first()
            .ok_or_else(|| HeritageError::invalid("viewshed", "the twin has no terrain"))?;
        let mut s = Surface::from_dem(dem)?;
        for b in twin.buildings.features() {
            let top = twin_core::ground::building_base(&twin.terrain, b) + b.height;
            s.burn(&b.footprint, top);
        }
        Ok(s)
    }

    /// Raise the cells whose centre is inside `footprint` to `top` where lower.
    pub fn burn(&mut self, footprint: &geo_types::MultiPolygon<f64>, top: f64) {
        use geo::{BoundingRect, Contains};
        let s = self;
        let Some(r) = footprint.bounding_rect() else {
            return;
        };
        let c0 = ((r.min().x - s.xmin) / s.cell - 0.5).ceil().max(0.0) as usize;
        let c1 = ((r.max().x - s.xmin) / s.cell - 0.5)
            .floor()
            .min(s.ncols as f64 - 1.0);
        let r0 = ((s.ymax - r.max().y) / s.cell - 0.5).ceil().max(0.0) as usize;
        let r1 = ((s.ymax - r.min().y) / s.cell - 0.5)
            .floor()
            .min(s.nrows as f64 - 1.0);
        if c1 < 0.0 || r1 < 0.0 {
            return;
        }
        for row in r0..=r1 as usize {
            for col in c0..=c1 as usize {
                let (x, y) = s.centre(col, row);
                if footprint.contains(&geo_types::Point::new(x, y)) {
                    let k = row * s.ncols + col;
                    if let Some(z) = s.z[k] {
                        s.z[k] = Some(z.max(top));
                    }
                }
            }
        }
    }

    /// The part of the grid within `radius` m of (x, y) (whole cells: the square of cells
    /// around the cell holding the point), for a viewshed bounded in distance. None when the
    /// point is outside the grid.
    pub fn window(&self, x: f64, y: f64, radius: f64) -> Option<Surface> {
        let oc = ((x - self.xmin) / self.cell).floor();
        let or = ((self.ymax - y) / self.cell).floor();
        if !(oc >= 0.0 && or >= 0.0 && oc < self.ncols as f64 && or < self.nrows as f64) {
            return None;
        }
        let k = (radius / self.cell).ceil().max(0.0);
        let c0 = (oc - k).max(0.0) as usize;
        let c1 = (oc + k).min(self.ncols as f64 - 1.0) as usize;
        let r0 = (or - k).max(0.0) as usize;
        let r1 = (or + k).min(self.nrows as f64 - 1.0) as usize;
        let ncols = c1 - c0 + 1;
        let z = (r0..=r1)
            .flat_map(|r| {
                self.z[r * self.ncols + c0..r * self.ncols + c0 + ncols]
                    .iter()
                    .copied()
            })
            .collect();
        Some(Surface {
            ncols,
            nrows: r1 - r0 + 1,
            xmin: self.xmin + c0 as f64 * self.cell,
            ymax: self.ymax - r0 as f64 * self.cell,
            cell: self.cell,
            z,
        })
    }

    /// Centre of a cell.
    pub fn centre(&self, col: usize, row: usize) -> (f64, f64) {
        (
            self.xmin + (col as f64 + 0.5) * self.cell,
            self.ymax - (row as f64 + 0.5) * self.cell,
        )
    }

    fn at(&self, col: isize, row: isize) -> Option<f64> {
        if col < 0 || row < 0 || col as usize >= self.ncols || row as usize >= self.nrows {
            return None;
        }
        self.z[row as usize * self.ncols + col as usize]
    }
}

/// Options of [`viewshed`], as `gdal_viewshed`'s.
#[derive(Clone, Debug, PartialEq)]
pub struct ViewshedOptions {
    /// Observer above the ground of its cell (m), `-oz` (default 1.6... gdal's is 2).
    pub observer_height: f64,
    /// Target above the ground of each cell (m), `-tz` (default 0).
    pub target_height: f64,
    /// Largest distance (m), `-md` (None: the whole grid).
    pub max_distance: Option<f64>,
    /// Curvature coefficient, `-cc` (0.85714 default; 1 curvature only; 0 none).
    pub cc: f64,
}

impl Default for ViewshedOptions {
    fn default() -> Self {
        ViewshedOptions {
            observer_height: 2.0,
            target_height: 0.0,
            max_distance: None,
            cc: CC_DEFAULT,
        }
    }
}

/// The viewshed of the observer at (x, y): per cell (row-major from the north row) whether it
/// is seen; None for no data and beyond the maximum distance.
pub fn viewshed(s: &Surface, x: f64, y: f64, o: &ViewshedOptions) -> Result<Vec<Option<bool>>> {
    let oc = ((x - s.xmin) / s.cell).floor();
    let or = ((s.ymax - y) / s.cell).floor();
    if !(oc >= 0.0 && or >= 0.0 && (oc as usize) < s.ncols && (or as usize) < s.nrows) {
        return Err(HeritageError::invalid(
            "viewshed",
            format!("the observer ({x}, {y}) is outside the grid"),
        ));
    }
    let (oc, or) = (oc as isize, or as isize);
    let ground = s
        .at(oc, or)
        .ok_or_else(|| HeritageError::invalid("viewshed", "the observer's cell has no data"))?;
    let zo = ground + o.observer_height;
    let k = o.cc / (2.0 * EARTH_A);
    let max2 = o.max_distance.map(|m| (m / s.cell).powi(2));
    let dense = Dense::of(s);
    let out = (0..s.nrows * s.ncols)
        .into_par_iter()
        .map(|i| {
            let (tr, tc) = ((i / s.ncols) as isize, (i % s.ncols) as isize);
            let zt = s.at(tc, tr)?;
            let (dc, dr) = ((tc - oc) as f64, (tr - or) as f64);
            let d2 = dc * dc + dr * dr;
            if max2.is_some_and(|m| d2 > m) {
                return None;
            }
            Some(seen(
                &dense,
                (oc, or),
                zo,
                (tc, tr),
                zt + o.target_height,
                k,
            ))
        })
        .collect();
    Ok(out)
}

/// Whether the target cell `t` (its point at `zt`) is seen from the observer's cell `o` (its
/// eye at `zo`), with `k` = cc / 2a per m².
fn seen(s: &Dense, o: (isize, isize), zo: f64, t: (isize, isize), zt: f64, k: f64) -> bool {
    let (dc, dr) = ((t.0 - o.0) as f64, (t.1 - o.1) as f64);
    let len2 = (dc * dc + dr * dr) * s.cell * s.cell;
    if len2 == 0.0 {
        return true;
    }
    let zt = zt - k * len2;
    // The line at fraction f of the way: height zo + (zt − zo)·f; the terrain there less the
    // curvature drop k·(f·len)².
    let blocked = |f: f64, terrain: Option<f64>| -> bool {
        match terrain {
            Some(z) => z - k * f * f * len2 > zo + (zt - zo) * f,
            None => false,
        }
    };
    // Crossings of column-centre lines (between the end cells), from the target back: a hidden
    // cell is most often hidden by the ground just before it.
    if dc != 0.0 {
        let step = -dc.signum() as isize;
        let mut c = t.0 + step;
        while c != o.0 {
            let f = (c - o.0) as f64 / dc;
            let r = o.1 as f64 + f * dr;
            let r0 = r.floor();
            let w = r - r0;
            let z = lerp(s.at(c, r0 as isize), s.at(c, r0 as isize + 1), w);
            if blocked(f, z) {
                return false;
            }
            c += step;
        }
    }
    if dr != 0.0 {
        let step = -dr.signum() as isize;
        let mut r = t.1 + step;
        while r != o.1 {
            let f = (r - o.1) as f64 / dr;
            let c = o.0 as f64 + f * dc;
            let c0 = c.floor();
            let w = c - c0;
            let z = lerp(s.at(c0 as isize, r), s.at(c0 as isize + 1, r), w);
            if blocked(f, z) {
                return false;
            }
            r += step;
        }
    }
    true
}

/// A surface's heights as plain f64, NaN for no data: half the memory of `Option<f64>`, which
/// the line-of-sight walks read cell after cell.
struct Dense {
    ncols: usize,
    nrows: usize,
    cell: f64,
    z: Vec<f64>,
}

impl Dense {
    fn of(s: &Surface) -> Dense {
        Dense {
            ncols: s.ncols,
            nrows: s.nrows,
            cell: s.cell,
            z: s.z.iter().map(|z| z.unwrap_or(f64::NAN)).collect(),
        }
    }

    #[inline]
    fn at(&self, col: isize, row: isize) -> Option<f64> {
        if col < 0 || row < 0 || col as usize >= self.ncols || row as usize >= self.nrows {
            return None;
        }
        let z = self.z[row as usize * self.ncols + col as usize];
        (!z.is_nan()).then_some(z)
    }
}

/// Linear interpolation between two cells (weight `w` on the second); a cell without data
/// counts only when its weight is 0.
fn lerp(a: Option<f64>, b: Option<f64>, w: f64) -> Option<f64> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a + (b - a) * w),
        (Some(a), None) if w == 0.0 => Some(a),
        (None, Some(b)) if w == 1.0 => Some(b),
        _ => None,
    }
}

/// The difference a proposal makes to the viewshed from (x, y): the viewshed of the twin as it
/// is, and the cells seen today that the proposal hides (its own cells included).
pub fn proposal_difference(
    twin: &Twin,
    proposal: &crate::Proposal,
    x: f64,
    y: f64,
    o: &ViewshedOptions,
) -> Result<(Vec<Option<bool>>, Vec<bool>)> {
    difference_on(Surface::of_twin(twin)?, proposal, x, y, o)
}

/// [`proposal_difference`] on a given surface (a window of the twin's).
pub fn difference_on(
    mut s: Surface,
    proposal: &crate::Proposal,
    x: f64,
    y: f64,
    o: &ViewshedOptions,
) -> Result<(Vec<Option<bool>>, Vec<bool>)> {
    let before = viewshed(&s, x, y, o)?;
    s.burn(&proposal.footprint, proposal.top_m());
    let after = viewshed(&s, x, y, o)?;
    let lost = before
        .iter()
        .zip(&after)
        .map(|(b, a)| *b == Some(true) && *a == Some(false))
        .collect();
    Ok((before, lost))
}

/// The most runs (row stretches of cells) a GeoJSON viewshed may hold.
pub const MAX_GEOJSON_RUNS: usize = 100_000;

/// Runs of consecutive cells in a row for which `keep` holds: (row, first column, last column).
pub fn runs(s: &Surface, keep: impl Fn(usize) -> bool) -> Vec<(usize, usize, usize)> {
    let mut out = Vec::new();
    for r in 0..s.nrows {
        let mut start = None;
        for c in 0..=s.ncols {
            let k = c < s.ncols && keep(r * s.ncols + c);
            match (k, start) {
                (true, None) => start = Some(c),
                (false, Some(c0)) => {
                    out.push((r, c0, c - 1));
                    start = None;
                }
                _ => {}
            }
        }
    }
    out
}

/// A viewshed as a GeoJSON FeatureCollection in WGS84 for a map to drape: one Polygon per run
/// of seen cells in a row (`"state": "seen"`), and, given the cells a proposal hides, one per
/// run of those (`"state": "lost"`); the counts and the cell size as foreign members.
pub fn to_geojson(
    s: &Surface,
    seen: &[Option<bool>],
    lost: Option<&[bool]>,
    crs: &twin_core::Crs,
) -> Result<serde_json::Value> {
    use twin_core::crs::Reprojector;
    let t = Reprojector::new(crs, &twin_core::Crs::wgs84())?;
    let mut sets = vec![(
        "seen",
        runs(s, |i| seen[i] == Some(true) && !lost.is_some_and(|l| l[i])),
    )];
    if let Some(l) = lost {
        sets.push(("lost", runs(s, |i| l[i])));
    }
    let total: usize = sets.iter().map(|(_, r)| r.len()).sum();
    if total > MAX_GEOJSON_RUNS {
        return Err(HeritageError::invalid(
            "viewshed GeoJSON",
            format!(
                "{total} runs of cells, more than {MAX_GEOJSON_RUNS}: ask for a GeoTIFF or a smaller radius"
            ),
        ));
    }
    let mut features = Vec::with_capacity(total);
    for (state, rs) in &sets {
        for &(r, c0, c1) in rs {
            let (x0, x1) = (
                s.xmin + c0 as f64 * s.cell,
                s.xmin + (c1 + 1) as f64 * s.cell,
            );
            let (y1, y0) = (s.ymax - r as f64 * s.cell, s.ymax - (r + 1) as f64 * s.cell);
            let mut ring = Vec::with_capacity(5);
            for (x, y) in [(x0, y0), (x1, y0), (x1, y1), (x0, y1), (x0, y0)] {
                let (lon, lat) = t.apply(x, y)?;
                ring.push(serde_json::json!([
                    (lon * 1e7).round() / 1e7,
                    (lat * 1e7).round() / 1e7
                ]));
            }
            features.push(serde_json::json!({
                "type": "Feature",
                "properties": {"state": state, "cells": c1 - c0 + 1},
                "geometry": {"type": "Polygon", "coordinates": [ring]},
            }));
        }
    }
    Ok(serde_json::json!({
        "type": "FeatureCollection",
        "cell_m": s.cell,
        "seen_cells": seen.iter().filter(|c| **c == Some(true)).count(),
        "judged_cells": seen.iter().filter(|c| c.is_some()).count(),
        "lost_cells": lost.map(|l| l.iter().filter(|c| **c).count()),
        "features": features,
    }))
}

/// The viewshed (and, with a proposal, the cells it hides) as the bytes of a float32 GeoTIFF:
/// band 1 seen (1 seen, 0 hidden, NaN no data or beyond the distance), band 2 (with a proposal)
/// 1 where the proposal hides a cell seen today.
pub fn geotiff_bytes(
    s: &Surface,
    v: &[Option<bool>],
    lost: Option<&[bool]>,
    epsg: Option<u32>,
) -> Result<Vec<u8>> {
    let grid = scenarios::flood::GridSpec {
        nx: s.ncols,
        ny: s.nrows,
        dx: s.cell,
        xmin: s.xmin,
        ymax: s.ymax,
        epsg,
    };
    let seen = band(v);
    let lost: Option<Vec<f32>> = lost.map(|l| l.iter().map(|&x| x as u8 as f32).collect());
    let mut bands: Vec<&[f32]> = vec![&seen];
    if let Some(l) = &lost {
        bands.push(l);
    }
    scenarios::flood::geotiff::geotiff_bytes(&grid, &bands)
        .map_err(|e| HeritageError::invalid("viewshed GeoTIFF", e))
}

fn band(v: &[Option<bool>]) -> Vec<f32> {
    v.iter()
        .map(|c| match c {
            Some(true) => 1.0,
            Some(false) => 0.0,
            None => f32::NAN,
        })
        .collect()
}

/// Write a viewshed as a float32 GeoTIFF in the grid's CRS (`epsg`): 1 seen, 0 hidden, NaN no
/// data or beyond the maximum distance.
pub fn write_geotiff(
    path: &std::path::Path,
    s: &Surface,
    v: &[Option<bool>],
    epsg: Option<u32>,
) -> Result<()> {
    let grid = scenarios::flood::GridSpec {
        nx: s.ncols,
        ny: s.nrows,
        dx: s.cell,
        xmin: s.xmin,
        ymax: s.ymax,
        epsg,
    };
    scenarios::flood::geotiff::write_geotiff(path, &grid, &[&band(v)])
        .map_err(|e| HeritageError::invalid(format!("viewshed GeoTIFF {}", path.display()), e))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn grid(ncols: usize, nrows: usize, cell: f64, z: impl Fn(usize, usize) -> f64) -> Surface {
        Surface {
            ncols,
            nrows,
            xmin: 0.0,
            ymax: nrows as f64 * cell,
            cell,
            z: (0..ncols * nrows)
                .map(|i| Some(z(i % ncols, i / ncols)))
                .collect(),
        }
    }

    fn flat_opts(h: f64) -> ViewshedOptions {
        ViewshedOptions {
            observer_height: h,
            target_height: 0.0,
            max_distance: None,
            cc: 0.0,
        }
    }

    /// A north–south ridge (one column 12 m high) on flat ground, the observer 20 m up ten
    /// columns west of it: the ground east of the ridge is hidden up to the similar-triangles
    /// distance 20 · 10 / (20 − 12) = 25 columns from the observer, seen from there on (25 is
    /// a tie); and the same east–west, transposed.
    #[test]
    fn ridge_profiles_north_south_and_east_west() {
        // Observer in column 0; the ridge's centre line is column 10 (10 cells away).
        let ns = grid(60, 3, 1.0, |c, _| if c == 10 { 12.0 } else { 0.0 });
        let v = viewshed(&ns, 0.5, 1.5, &flat_opts(20.0)).unwrap();
        // On the middle row: hidden while 20 − 20·10/d < 12, i.e. d < 25; d = 25 is a tie (seen).
        for c in 11..60 {
            assert_eq!(v[ns.ncols + c], Some(c >= 25), "column {c}");
        }
        let ew = grid(3, 60, 1.0, |_, r| if r == 10 { 12.0 } else { 0.0 });
        let v = viewshed(&ew, 1.5, 59.5, &flat_opts(20.0)).unwrap();
        for r in 11..60 {
            assert_eq!(v[r * 3 + 1], Some(r >= 25), "row {r}");
        }
    }

    /// A plane tilted up away from the observer is seen everywhere; tilted down past a crest,
    /// the far slope is hidden as the closed form says.
    #[test]
    fn tilted_planes() {
        let up = grid(40, 40, 5.0, |c, r| 0.5 * c as f64 + 0.25 * r as f64);
        let v = viewshed(&up, 2.5, 197.5, &flat_opts(1.0)).unwrap();
        assert!(v.iter().all(|&c| c == Some(true)));
        // A roof-shaped profile: rising 1 m per cell to column 20, falling 2 m per cell beyond.
        // From column 0 at 1 m above the ground (z 1), the line to the ground at column c > 20
        // (z = 20 − 2(c − 20)) passes column 20 at 1 + (z_c − 1)·20/c, hidden when below 20.
        let roof = grid(40, 1, 1.0, |c, _| {
            if c <= 20 {
                c as f64
            } else {
                20.0 - 2.0 * (c as f64 - 20.0)
            }
        });
        let v = viewshed(&roof, 0.5, 0.5, &flat_opts(1.0)).unwrap();
        let mut hidden_cells = 0;
        for (c, (seen, z)) in v.iter().zip(&roof.z).enumerate().skip(1) {
            let zc = z.unwrap();
            let hidden = c > 20 && 1.0 + (zc - 1.0) * 20.0 / (c as f64) < 20.0;
            hidden_cells += hidden as usize;
            // Up to the crest each cell is seen (the line stays above the rising ground).
            assert_eq!(*seen, Some(!hidden), "column {c}");
        }
        assert!(hidden_cells > 10, "{hidden_cells}");
    }

    /// The curvature horizon: on a flat grid a cell on the ground is hidden beyond
    /// sqrt(2·a·h/cc) (to within one cell, where the last crossing lies).
    #[test]
    fn the_curvature_horizon() {
        let s = grid(3000, 1, 10.0, |_, _| 0.0);
        for cc in [1.0, CC_DEFAULT] {
            let o = ViewshedOptions {
                observer_height: 10.0,
                target_height: 0.0,
                max_distance: None,
                cc,
            };
            let v = viewshed(&s, 5.0, 5.0, &o).unwrap();
            let horizon = (2.0 * EARTH_A * 10.0 / cc).sqrt();
            for (c, seen) in v.iter().enumerate() {
                let d = c as f64 * 10.0;
                if d < horizon - 10.0 {
                    assert_eq!(*seen, Some(true), "cc {cc}, {d} m");
                } else if d > horizon + 10.0 {
                    assert_eq!(*seen, Some(false), "cc {cc}, {d} m");
                }
            }
            assert!(horizon > 11_000.0 && horizon < 13_000.0);
        }
    }

    /// Cells beyond the maximum distance are no data, not hidden.
    #[test]
    fn beyond_the_maximum_distance() {
        let s = grid(20, 20, 10.0, |_, _| 0.0);
        let o = ViewshedOptions {
            max_distance: Some(50.0),
            ..flat_opts(2.0)
        };
        let v = viewshed(&s, 5.0, 195.0, &o).unwrap();
        assert_eq!(v[0], Some(true));
        assert_eq!(v[5], Some(true));
        assert_eq!(v[6], None);
        // The quarter disc of radius 5 cells around the corner cell: 6 + 5 + 5 + 5 + 4 + 1.
        assert_eq!(v.iter().filter(|c| c.is_some()).count(), 26);
    }
}
