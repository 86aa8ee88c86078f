//! Triangle meshes of the scene's layers, in a local frame (project CRS minus an origin, so that
//! f32 keeps centimetres), with per-vertex normals and colours. Public so that the bevy viewer
//! (`viewer/`) draws the same geometry as the headless pictures.

use super::colour;
use super::{FloodLayer, Scene};
use bytemuck::{Pod, Zeroable};
use geo_types::Polygon;
use twin_core::model::Dem;
use twin_core::rings::{clean_ring, signed_area, triangulate};

/// One vertex: position, normal (zero: unlit) and colour (RGBA, 8 bits each).
#[repr(C)]
#[derive(Clone, Copy, Debug, Pod, Zeroable)]
pub struct Vertex {
    /// x, y in the local frame (m east and north of the origin), z the height (m).
    pub pos: [f32; 3],
    /// Unit normal; zero for surfaces drawn unlit (roads, water).
    pub normal: [f32; 3],
    /// Display (sRGB-encoded) colour and opacity.
    pub color: [u8; 4],
}

/// Indexed triangles.
#[derive(Clone, Debug, Default)]
pub struct Mesh {
    /// The vertices.
    pub vertices: Vec<Vertex>,
    /// Three vertex indices per triangle.
    pub indices: Vec<u32>,
    /// Lowest height (m) of the vertices.
    pub zmin: f64,
    /// Highest height (m) of the vertices.
    pub zmax: f64,
}

/// The local frame: project CRS coordinates minus `origin` (x, y only).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Frame {
    /// x, y (project CRS) of the frame's origin.
    pub origin: [f64; 2],
}

impl Mesh {
    /// An empty mesh.
    pub fn new() -> Mesh {
        Mesh {
            zmin: f64::INFINITY,
            zmax: f64::NEG_INFINITY,
            ..Default::default()
        }
    }

    fn push(&mut self, f: Frame, p: [f64; 3], n: [f64; 3], c: [u8; 4]) -> u32 {
        self.zmin = self.zmin.min(p[2]);
        self.zmax = self.zmax.max(p[2]);
        self.vertices.push(Vertex {
            pos: [
                (p[0] - f.origin[0]) as f32,
                (p[1] - f.origin[1]) as f32,
                p[2] as f32,
            ],
            normal: n.map(|v| v as f32),
            color: c,
        });
        (self.vertices.len() - 1) as u32
    }

    /// A quad a-b-c-d (either winding: nothing is culled).
    fn quad(&mut self, f: Frame, q: [[f64; 3]; 4], n: [f64; 3], c: [u8; 4]) {
        let i = q.map(|p| self.push(f, p, n, c));
        self.indices
            .extend_from_slice(&[i[0], i[1], i[2], i[0], i[2], i[3]]);
    }

    /// No triangles.
    pub fn is_empty(&self) -> bool {
        self.indices.is_empty()
    }
}

fn rgba(c: [u8; 3]) -> [u8; 4] {
    [c[0], c[1], c[2], 255]
}

fn normalise(v: [f64; 3]) -> [f64; 3] {
    let l = (v[0] * v[0] + v[1] * v[1] + v[2] * v[2]).sqrt();
    if l > 0.0 {
        v.map(|x| x / l)
    } else {
        [0.0, 0.0, 1.0]
    }
}

/// The terrain as a grid of vertices at cell centres (every `step`-th cell so that it stays
/// under `max_vertices`), normals from central differences, coloured by height.
pub fn terrain(dem: &Dem, f: Frame, max_vertices: usize) -> Mesh {
    let mut m = Mesh::new();
    let cells = dem.ncols * dem.nrows;
    let step = ((cells as f64 / max_vertices.max(1) as f64).sqrt().ceil() as usize).max(1);
    let (nc, nr) = (dem.ncols.div_ceil(step), dem.nrows.div_ceil(step));
    let at =
        |c: usize, r: usize| dem.get((c * step).min(dem.ncols - 1), (r * step).min(dem.nrows - 1));
    let mut index = vec![u32::MAX; nc * nr];
    for r in 0..nr {
        for c in 0..nc {
            let Some(z) = at(c, r) else { continue };
            let z = f64::from(z);
            let (x, y) =
                dem.cell_centre((c * step).min(dem.ncols - 1), (r * step).min(dem.nrows - 1));
            // Central differences (one-sided at the edges and next to nodata).
            let zl = if c > 0 { at(c - 1, r) } else { None };
            let zr = if c + 1 < nc { at(c + 1, r) } else { None };
            let zu = if r > 0 { at(c, r - 1) } else { None };
            let zd = if r + 1 < nr { at(c, r + 1) } else { None };
            let (sx, sy) = (dem.cell_x * step as f64, dem.cell_y * step as f64);
            let dzdx = match (zl, zr) {
                (Some(a), Some(b)) => (f64::from(b) - f64::from(a)) / (2.0 * sx),
                (None, Some(b)) => (f64::from(b) - z) / sx,
                (Some(a), None) => (z - f64::from(a)) / sx,
                (None, None) => 0.0,
            };
            // Rows go south: the northern neighbour is r - 1.
            let dzdy = match (zd, zu) {
                (Some(a), Some(b)) => (f64::from(b) - f64::from(a)) / (2.0 * sy),
                (None, Some(b)) => (f64::from(b) - z) / sy,
                (Some(a), None) => (z - f64::from(a)) / sy,
                (None, None) => 0.0,
            };
            let n = normalise([-dzdx, -dzdy, 1.0]);
            index[r * nc + c] = m.push(f, [x, y, z], n, rgba(colour::terrain_colour(z)));
        }
    }
    for r in 0..nr.saturating_sub(1) {
        for c in 0..nc.saturating_sub(1) {
            let q = [
                index[r * nc + c],
                index[r * nc + c + 1],
                index[(r + 1) * nc + c + 1],
                index[(r + 1) * nc + c],
            ];
            if q.contains(&u32::MAX) {
                continue;
            }
            m.indices
                .extend_from_slice(&[q[0], q[1], q[2], q[0], q[2], q[3]]);
        }
    }
    m
}

/// Extrude one footprint polygon from `base` to `top`: walls with outward normals, a flat roof.
pub fn extrude(m: &mut Mesh, f: Frame, poly: &Polygon<f64>, base: f64, top: f64, c: [u8; 4]) {
    let Some(outer) = clean_ring(poly.exterior()) else {
        return;
    };
    let mut rings = vec![outer];
    rings.extend(poly.interiors().iter().filter_map(clean_ring));
    for (k, r) in rings.iter_mut().enumerate() {
        // Outer ring counter-clockwise, holes clockwise: then the walls' normals face out.
        if (k == 0) != (signed_area(r) > 0.0) {
            r.reverse();
        }
    }
    for r in &rings {
        for i in 0..r.len() {
            let (a, b) = (r[i], r[(i + 1) % r.len()]);
            let (dx, dy) = (b.0 - a.0, b.1 - a.1);
            let n = normalise([dy, -dx, 0.0]);
            m.quad(
                f,
                [
                    [a.0, a.1, base],
                    [b.0, b.1, base],
                    [b.0, b.1, top],
                    [a.0, a.1, top],
                ],
                n,
                c,
            );
        }
    }
    let first = m.vertices.len() as u32;
    for &(x, y) in rings.iter().flatten() {
        m.push(f, [x, y, top], [0.0, 0.0, 1.0], c);
    }
    m.indices.extend(
        triangulate(&rings)
            .iter()
            .flatten()
            .map(|&i| first + i as u32),
    );
}

/// The scene's buildings, coloured by their flood depth, then its marked buildings in their
/// own colours.
pub fn buildings(scene: &Scene, f: Frame) -> Mesh {
    let mut m = Mesh::new();
    let marked = scene.marks.buildings.iter().map(|(b, c)| (b, *c));
    for (b, c) in scene
        .buildings
        .iter()
        .map(|b| (b, scene.building_colour(&b.id)))
        .chain(marked)
    {
        for p in &b.footprint.0 {
            extrude(&mut m, f, p, b.base, b.top, rgba(c));
        }
    }
    m
}

/// The scene's marked lines into `m`: each as a flat and an upright ribbon along it, at least
/// `min_width` m wide.
pub fn mark_lines(m: &mut Mesh, scene: &Scene, f: Frame, min_width: f64) {
    for l in &scene.marks.lines {
        let (a, b) = (l.from, l.to);
        let len = (b[0] - a[0]).hypot(b[1] - a[1]);
        if !(len.is_finite() && len > 1e-6 && a[2].is_finite() && b[2].is_finite()) {
            continue;
        }
        let w = l.width_m.max(min_width) / 2.0;
        let (nx, ny) = (-(b[1] - a[1]) / len * w, (b[0] - a[0]) / len * w);
        let c = rgba(l.colour);
        m.quad(
            f,
            [
                [a[0] + nx, a[1] + ny, a[2]],
                [a[0] - nx, a[1] - ny, a[2]],
                [b[0] - nx, b[1] - ny, b[2]],
                [b[0] + nx, b[1] + ny, b[2]],
            ],
            [0.0; 3],
            c,
        );
        m.quad(
            f,
            [
                [a[0], a[1], a[2] + w],
                [a[0], a[1], a[2] - w],
                [b[0], b[1], b[2] - w],
                [b[0], b[1], b[2] + w],
            ],
            [0.0; 3],
            c,
        );
    }
}

/// Road width (m) by OSM class.
fn road_width(class: &str) -> f64 {
    match class.trim_end_matches("_link") {
        "motorway" | "trunk" => 16.0,
        "primary" => 13.0,
        "secondary" => 10.0,
        "tertiary" => 8.0,
        "footway" | "path" | "cycleway" | "steps" | "pedestrian" => 3.0,
        _ => 6.0,
    }
}

/// Roads as flat ribbons `lift` m above the terrain, at least `min_width` m wide, each segment
/// cut into pieces of at most `piece` m that follow the ground, ends extended by half a width
/// so that the joints close.
pub fn roads(scene: &Scene, f: Frame, min_width: f64, lift: f64, piece: f64) -> Mesh {
    let mut m = Mesh::new();
    let ground = |x: f64, y: f64| scene.ground(x, y) + lift;
    for r in &scene.roads {
        let c = rgba(match &scene.traffic {
            None => colour::ROAD_PLAIN,
            Some(t) if t.closed.contains(&r.id) => colour::ROAD_CLOSED,
            Some(t) => colour::vc_colour(t.vc.get(&r.id).copied()),
        });
        let w = road_width(&r.class).max(min_width) / 2.0;
        for seg in r.line.0.windows(2) {
            let (a, b) = (seg[0], seg[1]);
            let len = (b.x - a.x).hypot(b.y - a.y);
            if len.is_nan() || len <= 1e-6 {
                continue;
            }
            let (ux, uy) = ((b.x - a.x) / len, (b.y - a.y) / len);
            let (nx, ny) = (-uy * w, ux * w);
            let pieces = (len / piece).ceil().max(1.0) as usize;
            for k in 0..pieces {
                let t0 = if k == 0 {
                    -w
                } else {
                    len * k as f64 / pieces as f64
                };
                let t1 = if k + 1 == pieces {
                    len + w
                } else {
                    len * (k + 1) as f64 / pieces as f64
                };
                let p0 = (a.x + ux * t0, a.y + uy * t0);
                let p1 = (a.x + ux * t1, a.y + uy * t1);
                let (z0, z1) = (ground(p0.0, p0.1), ground(p1.0, p1.1));
                m.quad(
                    f,
                    [
                        [p0.0 + nx, p0.1 + ny, z0],
                        [p0.0 - nx, p0.1 - ny, z0],
                        [p1.0 - nx, p1.1 - ny, z1],
                        [p1.0 + nx, p1.1 + ny, z1],
                    ],
                    [0.0; 3],
                    c,
                );
            }
        }
    }
    m
}

/// The water surface: one flat quad per wet cell at ground + depth + `lift`, exactly the cell,
/// coloured and made translucent by depth ([`FloodLayer::water_rgba`]: opaque by class when
/// the layer has classes).
pub fn water(flood: &FloodLayer, terrain: Option<&Dem>, f: Frame, lift: f64) -> Mesh {
    let mut m = Mesh::new();
    let d = &flood.depth;
    for r in 0..d.nrows {
        for c in 0..d.ncols {
            let Some(depth) = flood.wet_depth(c, r) else {
                continue;
            };
            let z = flood.ground_at(c, r, terrain) + depth + lift;
            let (x0, y1) = (d.xmin + c as f64 * d.cell_x, d.ymax - r as f64 * d.cell_y);
            let (x1, y0) = (x0 + d.cell_x, y1 - d.cell_y);
            m.quad(
                f,
                [[x0, y0, z], [x1, y0, z], [x1, y1, z], [x0, y1, z]],
                [0.0; 3],
                flood.water_rgba(depth),
            );
        }
    }
    m
}

/// The water surface for perspective views: the same wet cells as [`water`], but with vertices
/// shared at the cell corners, each at the mean level and coloured by the mean depth of the wet
/// cells around it, so that the surface and its shading are continuous.
pub fn water_smooth(flood: &FloodLayer, terrain: Option<&Dem>, f: Frame, lift: f64) -> Mesh {
    let mut m = Mesh::new();
    let d = &flood.depth;
    let (nc, nr) = (d.ncols, d.nrows);
    let mut level = vec![f64::NAN; nc * nr];
    let mut depth = vec![f64::NAN; nc * nr];
    for r in 0..nr {
        for c in 0..nc {
            let Some(h) = flood.wet_depth(c, r) else {
                continue;
            };
            level[r * nc + c] = flood.ground_at(c, r, terrain) + h + lift;
            depth[r * nc + c] = h;
        }
    }
    // Corner (i, j) touches cells (i-1..=i, j-1..=j).
    let mut corner = vec![u32::MAX; (nc + 1) * (nr + 1)];
    for j in 0..=nr {
        for i in 0..=nc {
            let (mut n, mut z, mut h) = (0.0, 0.0, 0.0);
            for (ci, cj) in [
                (i.wrapping_sub(1), j.wrapping_sub(1)),
                (i, j.wrapping_sub(1)),
                (i.wrapping_sub(1), j),
                (i, j),
            ] {
                if ci < nc && cj < nr && !level[cj * nc + ci].is_nan() {
                    n += 1.0;
                    z += level[cj * nc + ci];
                    h += depth[cj * nc + ci];
                }
            }
            if n > 0.0 {
                let (x, y) = (d.xmin + i as f64 * d.cell_x, d.ymax - j as f64 * d.cell_y);
                corner[j * (nc + 1) + i] =
                    m.push(f, [x, y, z / n], [0.0; 3], flood.water_rgba(h / n));
            }
        }
    }
    for r in 0..nr {
        for c in 0..nc {
            if level[r * nc + c].is_nan() {
                continue;
            }
            let k = |i: usize, j: usize| corner[j * (nc + 1) + i];
            let q = [k(c, r + 1), k(c + 1, r + 1), k(c + 1, r), k(c, r)];
            m.indices
                .extend_from_slice(&[q[0], q[1], q[2], q[0], q[2], q[3]]);
        }
    }
    m
}
