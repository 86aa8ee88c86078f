//! Putting vector features on the flood grid: polygons (cell centres inside), lines (every cell
//! the line passes through), points, and cells near a feature.

use super::model::GridSpec;
use geo::{BoundingRect, Contains, Distance, Euclidean};
use geo_types::{Coord, Geometry, LineString, MultiPolygon, Point};

/// The range of cells whose centres may fall in [x0, x1] × [y0, y1], clamped to the grid:
/// (i0, i1, j0, j1), inclusive; None when outside.
pub fn cell_range(
    g: &GridSpec,
    x0: f64,
    y0: f64,
    x1: f64,
    y1: f64,
) -> Option<(usize, usize, usize, usize)> {
    let fi0 = ((x0 - g.xmin) / g.dx - 0.5).ceil();
    let fi1 = ((x1 - g.xmin) / g.dx - 0.5).floor();
    let fj0 = ((g.ymax - y1) / g.dx - 0.5).ceil();
    let fj1 = ((g.ymax - y0) / g.dx - 0.5).floor();
    if ![fi0, fi1, fj0, fj1].iter().all(|v| v.is_finite()) {
        return None;
    }
    let i0 = fi0.max(0.0);
    let j0 = fj0.max(0.0);
    let i1 = fi1.min(g.nx as f64 - 1.0);
    let j1 = fj1.min(g.ny as f64 - 1.0);
    if i1 < i0 || j1 < j0 {
        return None;
    }
    Some((i0 as usize, i1 as usize, j0 as usize, j1 as usize))
}

/// Cells whose centre lies inside the polygon (holes excluded).
pub fn cells_in_polygon(g: &GridSpec, poly: &MultiPolygon<f64>) -> Vec<usize> {
    let Some(r) = poly.bounding_rect() else {
        return Vec::new();
    };
    let Some((i0, i1, j0, j1)) = cell_range(g, r.min().x, r.min().y, r.max().x, r.max().y) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for j in j0..=j1 {
        for i in i0..=i1 {
            let (x, y) = g.centre(i, j);
            if poly.contains(&Point::new(x, y)) {
                out.push(j * g.nx + i);
            }
        }
    }
    out
}

/// Cells whose centre is within `dist` of a geometry (inside counts as distance 0).
pub fn cells_near(g: &GridSpec, geom: &Geometry<f64>, dist: f64) -> Vec<usize> {
    let Some(r) = geom.bounding_rect() else {
        return Vec::new();
    };
    let Some((i0, i1, j0, j1)) = cell_range(
        g,
        r.min().x - dist,
        r.min().y - dist,
        r.max().x + dist,
        r.max().y + dist,
    ) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for j in j0..=j1 {
        for i in i0..=i1 {
            let (x, y) = g.centre(i, j);
            if Euclidean.distance(&Point::new(x, y), geom) <= dist {
                out.push(j * g.nx + i);
            }
        }
    }
    out
}

/// The cells of a feature: centres inside a polygon, every cell a line passes through.
pub fn geometry_cells(grid: &GridSpec, g: &Geometry<f64>) -> Vec<usize> {
    match g {
        Geometry::Polygon(p) => cells_in_polygon(grid, &MultiPolygon(vec![p.clone()])),
        Geometry::MultiPolygon(p) => cells_in_polygon(grid, p),
        Geometry::LineString(l) => cells_on_line(grid, l),
        Geometry::MultiLineString(ml) => ml.0.iter().flat_map(|l| cells_on_line(grid, l)).collect(),
        _ => Vec::new(),
    }
}

/// Every cell a line passes through, in order along the line, without repeats in a row.
/// Consecutive cells share an edge (4-connected), so water cannot slip diagonally through a
/// levee drawn along it.
pub fn cells_on_line(g: &GridSpec, line: &LineString<f64>) -> Vec<usize> {
    let mut out: Vec<usize> = Vec::new();
    let push = |i: i64, j: i64, out: &mut Vec<usize>| {
        if i >= 0 && j >= 0 && (i as usize) < g.nx && (j as usize) < g.ny {
            let k = j as usize * g.nx + i as usize;
            if out.last() != Some(&k) {
                out.push(k);
            }
        }
    };
    for seg in line.lines() {
        let (a, b) = (seg.start, seg.end);
        // Continuous cell coordinates.
        let fa = ((a.x - g.xmin) / g.dx, (g.ymax - a.y) / g.dx);
        let fb = ((b.x - g.xmin) / g.dx, (g.ymax - b.y) / g.dx);
        let (mut i, mut j) = (fa.0.floor() as i64, fa.1.floor() as i64);
        let (ib, jb) = (fb.0.floor() as i64, fb.1.floor() as i64);
        let (dxf, dyf) = (fb.0 - fa.0, fb.1 - fa.1);
        let si = if dxf > 0.0 { 1 } else { -1 };
        let sj = if dyf > 0.0 { 1 } else { -1 };
        // Amanatides–Woo traversal.
        let next = |f: f64, s: i64, c: i64| {
            if s > 0 {
                (c + 1) as f64 - f
            } else {
                f - c as f64
            }
        };
        let mut t_max_i = if dxf != 0.0 {
            next(fa.0, si, i) / dxf.abs()
        } else {
            f64::INFINITY
        };
        let mut t_max_j = if dyf != 0.0 {
            next(fa.1, sj, j) / dyf.abs()
        } else {
            f64::INFINITY
        };
        let t_di = if dxf != 0.0 {
            1.0 / dxf.abs()
        } else {
            f64::INFINITY
        };
        let t_dj = if dyf != 0.0 {
            1.0 / dyf.abs()
        } else {
            f64::INFINITY
        };
        push(i, j, &mut out);
        let mut guard = 0usize;
        while (i, j) != (ib, jb) && guard < 4 * (g.nx + g.ny) + 16 {
            guard += 1;
            if t_max_i < t_max_j {
                if t_max_i > 1.0 {
                    break;
                }
                i += si;
                t_max_i += t_di;
            } else {
                if t_max_j > 1.0 {
                    break;
                }
                j += sj;
                t_max_j += t_dj;
            }
            push(i, j, &mut out);
        }
    }
    out
}

/// Points along a line every `step` metres (both ends included), with the length each stands for.
pub fn sample_line(line: &LineString<f64>, step: f64) -> Vec<(Coord<f64>, f64)> {
    let mut out = Vec::new();
    for seg in line.lines() {
        let len = ((seg.end.x - seg.start.x).powi(2) + (seg.end.y - seg.start.y).powi(2)).sqrt();
        if !len.is_finite() || len == 0.0 {
            continue;
        }
        let n = (len / step).ceil().max(1.0) as usize;
        let w = len / n as f64;
        for k in 0..n {
            let f = (k as f64 + 0.5) / n as f64;
            out.push((
                Coord {
                    x: seg.start.x + f * (seg.end.x - seg.start.x),
                    y: seg.start.y + f * (seg.end.y - seg.start.y),
                },
                w,
            ));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use geo_types::{polygon, LineString};

    fn grid() -> GridSpec {
        GridSpec {
            nx: 10,
            ny: 8,
            dx: 2.0,
            xmin: 100.0,
            ymax: 50.0,
            epsg: None,
        }
    }

    #[test]
    fn polygon_cells_are_centres_inside() {
        let g = grid();
        // x 102..106 covers centres 103, 105 (i = 1, 2); y 40..44 covers centres 41, 43 (j = 3, 4).
        let p = MultiPolygon(vec![
            polygon![(x: 102.0, y: 40.0), (x: 106.0, y: 40.0), (x: 106.0, y: 44.0), (x: 102.0, y: 44.0)],
        ]);
        let mut c = cells_in_polygon(&g, &p);
        c.sort();
        assert_eq!(c, vec![3 * 10 + 1, 3 * 10 + 2, 4 * 10 + 1, 4 * 10 + 2]);
    }

    #[test]
    fn line_cells_are_four_connected() {
        let g = grid();
        let l = LineString::from(vec![(100.5, 49.5), (119.5, 34.5)]);
        let c = cells_on_line(&g, &l);
        assert_eq!(c[0], 0);
        assert_eq!(*c.last().unwrap(), 7 * 10 + 9);
        for w in c.windows(2) {
            let (a, b) = (w[0] as i64, w[1] as i64);
            let (ia, ja, ib, jb) = (a % 10, a / 10, b % 10, b / 10);
            assert_eq!((ia - ib).abs() + (ja - jb).abs(), 1, "{a} -> {b}");
        }
    }
}
