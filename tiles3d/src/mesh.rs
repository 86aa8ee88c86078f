//! Triangle meshes in a tile's local frame: LoD1 extrusions of footprints with holes, planar
//! 3D surfaces (LoD2), with flat normals and per-feature ids.

use super::geodesy::{enu_to_gltf, geodetic_to_ecef, Frame, GeoidLattice, Projector};
use crate::error::Result;
use geo_types::Polygon;
use twin_core::rings::{clean_ring, triangulate};

/// A triangle mesh ready for glTF: positions and normals already y-up.
#[derive(Clone, Debug, Default)]
pub(crate) struct Mesh {
    pub positions: Vec<[f32; 3]>,
    pub normals: Vec<[f32; 3]>,
    pub feature_ids: Vec<f32>,
    pub indices: Vec<u32>,
}

impl Mesh {
    pub(crate) fn is_empty(&self) -> bool {
        self.indices.is_empty()
    }

    fn push_vertex(&mut self, p: [f64; 3], n: [f64; 3], fid: f32) -> u32 {
        self.positions.push(enu_to_gltf(p));
        self.normals.push(enu_to_gltf(n));
        self.feature_ids.push(fid);
        (self.positions.len() - 1) as u32
    }
}

/// Places project-CRS points (orthometric heights) in a tile's ENU frame.
pub(crate) struct Placer<'a> {
    pub proj: &'a Projector,
    pub geoid: &'a GeoidLattice,
    pub frame: &'a Frame,
}

impl Placer<'_> {
    /// A point of the project CRS at orthometric height `z`, in the frame (east, north, up).
    pub(crate) fn local(&self, x: f64, y: f64, z: f64) -> Result<[f64; 3]> {
        let (lon, lat) = self.proj.lonlat(x, y)?;
        let h = z + self.geoid.at(x, y);
        Ok(self.frame.to_local(geodetic_to_ecef(lon, lat, h)))
    }

    /// Longitude, latitude (degrees) and geoid undulation of a project-CRS point.
    pub(crate) fn lonlat_n(&self, x: f64, y: f64) -> Result<(f64, f64, f64)> {
        let (lon, lat) = self.proj.lonlat(x, y)?;
        Ok((lon, lat, self.geoid.at(x, y)))
    }

    /// The ellipsoid normal at a project-CRS point, in the frame.
    pub(crate) fn up_at(&self, x: f64, y: f64) -> Result<[f64; 3]> {
        let (lon, lat) = self.proj.lonlat(x, y)?;
        Ok(self.frame.dir_to_local(Frame::enu(lon, lat, 0.0).up))
    }
}

fn sub(a: [f64; 3], b: [f64; 3]) -> [f64; 3] {
    [a[0] - b[0], a[1] - b[1], a[2] - b[2]]
}

fn cross(a: [f64; 3], b: [f64; 3]) -> [f64; 3] {
    [
        a[1] * b[2] - a[2] * b[1],
        a[2] * b[0] - a[0] * b[2],
        a[0] * b[1] - a[1] * b[0],
    ]
}

fn dot(a: [f64; 3], b: [f64; 3]) -> f64 {
    a[0] * b[0] + a[1] * b[1] + a[2] * b[2]
}

fn normalise(v: [f64; 3]) -> Option<[f64; 3]> {
    let l = dot(v, v).sqrt();
    (l > 1e-12 && l.is_finite()).then(|| [v[0] / l, v[1] / l, v[2] / l])
}

/// Twice the signed area of a ring in the (east, north) plane.
fn signed_area_en(pts: &[[f64; 3]]) -> f64 {
    let n = pts.len();
    (0..n)
        .map(|i| {
            let (a, b) = (pts[i], pts[(i + 1) % n]);
            a[0] * b[1] - b[0] * a[1]
        })
        .sum()
}

/// Extrude a footprint polygon (project CRS, holes allowed) from orthometric `base` to `top`:
/// walls with outward normals and a flat roof. No floor (it faces the ground).
pub(crate) fn extrude(
    mesh: &mut Mesh,
    placer: &Placer<'_>,
    polygon: &Polygon<f64>,
    base: f64,
    top: f64,
    fid: f32,
) -> Result<()> {
    let Some(outer) = clean_ring(polygon.exterior()) else {
        return Ok(());
    };
    let mut candidates = vec![outer];
    candidates.extend(polygon.interiors().iter().filter_map(clean_ring));
    // Local positions at the base and the top, for the rings that have an area.
    let mut rings: Vec<Vec<(f64, f64)>> = Vec::with_capacity(candidates.len());
    let mut bots: Vec<Vec<[f64; 3]>> = Vec::with_capacity(candidates.len());
    let mut tops: Vec<Vec<[f64; 3]>> = Vec::with_capacity(candidates.len());
    for (k, mut ring) in candidates.into_iter().enumerate() {
        let mut b = Vec::with_capacity(ring.len());
        let mut t = Vec::with_capacity(ring.len());
        for &(x, y) in ring.iter() {
            let (lon, lat, n) = placer.lonlat_n(x, y)?;
            b.push(placer.frame.to_local(geodetic_to_ecef(lon, lat, base + n)));
            t.push(placer.frame.to_local(geodetic_to_ecef(lon, lat, top + n)));
        }
        let area = signed_area_en(&b);
        if area == 0.0 {
            if k == 0 {
                return Ok(());
            }
            continue;
        }
        // Outer ring counter-clockwise seen from above, holes clockwise.
        if (k == 0) != (area > 0.0) {
            ring.reverse();
            b.reverse();
            t.reverse();
        }
        rings.push(ring);
        bots.push(b);
        tops.push(t);
    }
    if top - base > 1e-3 {
        for (b, t) in bots.iter().zip(&tops) {
            let n = b.len();
            for i in 0..n {
                let j = (i + 1) % n;
                let Some(normal) = normalise(cross(sub(b[j], b[i]), sub(t[i], b[i]))) else {
                    continue;
                };
                let v0 = mesh.push_vertex(b[i], normal, fid);
                let v1 = mesh.push_vertex(b[j], normal, fid);
                let v2 = mesh.push_vertex(t[j], normal, fid);
                let v3 = mesh.push_vertex(t[i], normal, fid);
                mesh.indices.extend_from_slice(&[v0, v1, v2, v0, v2, v3]);
            }
        }
    }
    // Roof.
    let (cx, cy) = rings[0][0];
    let Some(up) = normalise(placer.up_at(cx, cy)?) else {
        return Ok(());
    };
    let flat: Vec<[f64; 3]> = tops.iter().flatten().copied().collect();
    let first = mesh.positions.len() as u32;
    let mut used = false;
    for tri in triangulate(&rings) {
        let [a, b, c] = tri.map(|i| flat[i]);
        let s = dot(cross(sub(b, a), sub(c, a)), up);
        if s.abs() < 1e-9 {
            continue;
        }
        if !used {
            for p in &flat {
                mesh.push_vertex(*p, up, fid);
            }
            used = true;
        }
        let [i, j, k] = tri.map(|i| first + i as u32);
        if s > 0.0 {
            mesh.indices.extend_from_slice(&[i, j, k]);
        } else {
            mesh.indices.extend_from_slice(&[i, k, j]);
        }
    }
    Ok(())
}

/// A planar 3D surface (rings in the project CRS, orthometric z; outer ring first, oriented
/// outward as CityJSON requires) as flat-shaded triangles.
pub(crate) fn surface(
    mesh: &mut Mesh,
    placer: &Placer<'_>,
    rings: &[Vec<[f64; 3]>],
    fid: f32,
) -> Result<()> {
    let mut local: Vec<Vec<[f64; 3]>> = Vec::with_capacity(rings.len());
    for ring in rings {
        let mut pts: Vec<[f64; 3]> = Vec::with_capacity(ring.len());
        for p in ring {
            if !p.iter().all(|v| v.is_finite()) {
                continue;
            }
            let l = placer.local(p[0], p[1], p[2])?;
            if pts
                .last()
                .is_none_or(|q| dot(sub(l, *q), sub(l, *q)) > 1e-6)
            {
                pts.push(l);
            }
        }
        while pts.len() > 1 && {
            let d = sub(pts[0], pts[pts.len() - 1]);
            dot(d, d) <= 1e-6
        } {
            pts.pop();
        }
        if pts.len() >= 3 {
            local.push(pts);
        } else if local.is_empty() {
            return Ok(()); // no usable outer ring
        }
    }
    if local.is_empty() {
        return Ok(());
    }
    // Newell's normal of the outer ring.
    let outer = &local[0];
    let mut nv = [0.0; 3];
    for i in 0..outer.len() {
        let (a, b) = (outer[i], outer[(i + 1) % outer.len()]);
        nv[0] += (a[1] - b[1]) * (a[2] + b[2]);
        nv[1] += (a[2] - b[2]) * (a[0] + b[0]);
        nv[2] += (a[0] - b[0]) * (a[1] + b[1]);
    }
    let Some(n) = normalise(nv) else {
        return Ok(());
    };
    // A right-handed basis (u, v, n) of the plane.
    let helper = if n[0].abs() < 0.9 {
        [1.0, 0.0, 0.0]
    } else {
        [0.0, 1.0, 0.0]
    };
    let Some(u) = normalise(cross(helper, n)) else {
        return Ok(());
    };
    let v = cross(n, u);
    let rings2: Vec<Vec<(f64, f64)>> = local
        .iter()
        .map(|r| r.iter().map(|p| (dot(*p, u), dot(*p, v))).collect())
        .collect();
    let flat: Vec<[f64; 3]> = local.iter().flatten().copied().collect();
    let flat2: Vec<(f64, f64)> = rings2.iter().flatten().copied().collect();
    let first = mesh.positions.len() as u32;
    let mut used = false;
    for tri in triangulate(&rings2) {
        let [a, b, c] = tri.map(|i| flat2[i]);
        let s = (b.0 - a.0) * (c.1 - a.1) - (b.1 - a.1) * (c.0 - a.0);
        if s.abs() < 1e-9 {
            continue;
        }
        if !used {
            for p in &flat {
                mesh.push_vertex(*p, n, fid);
            }
            used = true;
        }
        let [i, j, k] = tri.map(|i| first + i as u32);
        if s > 0.0 {
            mesh.indices.extend_from_slice(&[i, j, k]);
        } else {
            mesh.indices.extend_from_slice(&[i, k, j]);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use geo_types::LineString;
    use twin_core::crs::Crs;

    fn placer_parts() -> (Projector, GeoidLattice, Frame) {
        let crs = Crs::epsg(32648).unwrap();
        let proj = Projector::new(&crs).unwrap();
        let geoid = GeoidLattice::new(
            &crs,
            [774_000.0, 1_822_000.0, 775_000.0, 1_823_000.0],
            super::super::geodesy::GeoidChoice::Constant,
            0.0,
        )
        .unwrap();
        let (lon, lat) = proj.lonlat(774_500.0, 1_822_500.0).unwrap();
        (proj, geoid, Frame::enu(lon, lat, 0.0))
    }

    #[test]
    fn extruded_square_with_hole_has_outward_walls_and_an_upward_roof() {
        let (proj, geoid, frame) = placer_parts();
        let placer = Placer {
            proj: &proj,
            geoid: &geoid,
            frame: &frame,
        };
        let (x, y) = (774_500.0, 1_822_500.0);
        // Clockwise outer ring and counter-clockwise hole: the wrong way round on purpose.
        let outer = LineString::from(vec![
            (x, y),
            (x, y + 10.0),
            (x + 10.0, y + 10.0),
            (x + 10.0, y),
            (x, y),
        ]);
        let hole = LineString::from(vec![
            (x + 4.0, y + 4.0),
            (x + 6.0, y + 4.0),
            (x + 6.0, y + 6.0),
            (x + 4.0, y + 6.0),
            (x + 4.0, y + 4.0),
        ]);
        let mut m = Mesh::default();
        extrude(
            &mut m,
            &placer,
            &Polygon::new(outer, vec![hole]),
            0.0,
            5.0,
            0.0,
        )
        .unwrap();
        // 8 walls of 2 triangles, a roof of 8 triangles (square with a square hole).
        assert_eq!(m.indices.len() / 3, 8 * 2 + 8);
        let centre = {
            let c = placer.local(x + 5.0, y + 5.0, 2.5).unwrap();
            enu_to_gltf(c)
        };
        let mut roof_area = 0.0;
        for t in m.indices.chunks(3) {
            let p: Vec<[f64; 3]> = t
                .iter()
                .map(|&i| m.positions[i as usize].map(f64::from))
                .collect();
            let n = cross(sub(p[1], p[0]), sub(p[2], p[0]));
            let stored = m.normals[t[0] as usize].map(f64::from);
            assert!(dot(n, stored) > 0.0, "winding agrees with the normal");
            if stored[1] > 0.99 {
                roof_area += dot(n, n).sqrt() / 2.0;
            } else {
                // Walls face away from the building's axis, except the hole's, which face it.
                let mid = [
                    (p[0][0] + p[1][0] + p[2][0]) / 3.0,
                    0.0,
                    (p[0][2] + p[1][2] + p[2][2]) / 3.0,
                ];
                let out = [mid[0] - centre[0] as f64, 0.0, mid[2] - centre[2] as f64];
                let dist = dot(out, out).sqrt();
                let outward = dot(out, stored) > 0.0;
                assert_eq!(
                    outward,
                    dist > 2.0,
                    "outer walls out, hole walls in: {mid:?}"
                );
            }
        }
        // UTM scales lengths by about 1.0005 here: the roof is the outer square less the hole,
        // with sides measured between the placed corners.
        let side = |a: (f64, f64), b: (f64, f64)| {
            let (p, q) = (
                placer.local(a.0, a.1, 5.0).unwrap(),
                placer.local(b.0, b.1, 5.0).unwrap(),
            );
            dot(sub(p, q), sub(p, q)).sqrt()
        };
        let outer_side = side((x, y), (x + 10.0, y));
        let hole_side = side((x + 4.0, y + 4.0), (x + 6.0, y + 4.0));
        assert!((outer_side - 10.0).abs() > 1e-3, "the scale factor shows");
        let expected = outer_side * outer_side - hole_side * hole_side;
        assert!(
            (roof_area - expected).abs() < 1e-3,
            "roof area {roof_area} vs {expected}"
        );
    }
}
