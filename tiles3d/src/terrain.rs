//! Terrain tiles: a quadtree over each DEM's vertex grid (cell centres). Every tile has the same
//! number of cells a side; coarser tiles take every `stride`-th vertex (and the block's last, so
//! neighbours share edges) and are replaced by their children. Nodata cells make holes.

use super::geodesy::{GeoidLattice, Projector, Region};
use super::glb::{self, Builder};
use super::mesh::Placer;
use super::{Content, PlanNode, Refine, TilesetOptions};
use crate::bounds::Bounds;
use crate::error::Result;
use gltf_json::mesh::{Mode, Semantic};
use twin_core::model::Dem;
use twin_core::Twin;

/// Cells a side of the smallest terrain tile when imagery is draped on terrain
/// (`TilesetOptions::terrain_drape_error` above 0): full-resolution tiles of more cells are
/// split again, so that close to the ground the draped imagery (about one imagery tile per
/// terrain tile) keeps up with the screen; at 30 m cells a 32-cell tile (960 m) carries zoom
/// 15 to 16 basemap tiles. The mesh gains nothing from it, the imagery does.
pub(crate) const DRAPE_LEAF_CELLS: usize = 32;

/// The union of the DEMs' extents.
pub(crate) fn extent(twin: &Twin) -> [f64; 4] {
    Bounds::of_rects(twin.terrain.iter().map(|d| d.extent()))
}

/// The sampled columns (or rows) of a block: every `stride`-th from `a`, then `b`.
fn lattice(a: usize, b: usize, stride: usize) -> Vec<usize> {
    let mut v: Vec<usize> = (a..b).step_by(stride).collect();
    v.push(b);
    v
}

/// Plan every DEM; a root tile without content groups them.
pub(crate) fn plan(
    twin: &Twin,
    opts: &TilesetOptions,
    proj: &Projector,
    geoid: &GeoidLattice,
) -> Result<PlanNode> {
    let mut children = Vec::new();
    for (i, d) in twin.terrain.iter().enumerate() {
        if d.ncols < 2 || d.nrows < 2 || d.valid_cells() == 0 {
            continue;
        }
        let b = opts.terrain_tile_cells;
        let quads = (d.ncols - 1).max(d.nrows - 1);
        let mut lmax = 0u32;
        while (b << lmax) < quads {
            lmax += 1;
        }
        let drape = opts.terrain_drape_error.max(0.0);
        if let Some(n) = node(d, i, b, lmax, 0, 0, 0, drape, proj, geoid)? {
            children.push(n);
        }
    }
    Ok(PlanNode {
        id: "root".into(),
        content: Content::None,
        content_region: None,
        count: 0,
        error: 0.0,
        refine: Refine::Replace,
        children,
    })
}

#[allow(clippy::too_many_arguments)]
fn node(
    d: &Dem,
    dem: usize,
    b: usize,
    lmax: u32,
    level: u32,
    tx: usize,
    ty: usize,
    drape: f64,
    proj: &Projector,
    geoid: &GeoidLattice,
) -> Result<Option<PlanNode>> {
    // Down to level `lmax` a tile spans `b` sampled cells, every `stride`-th; below it (only
    // for draped imagery, see `DRAPE_LEAF_CELLS`) full-resolution tiles of half the span.
    let (stride, span) = if level <= lmax {
        let stride = 1usize << (lmax - level);
        (stride, b * stride)
    } else {
        (1, b >> (level - lmax))
    };
    let (c0, r0) = (tx * span, ty * span);
    if c0 >= d.ncols - 1 || r0 >= d.nrows - 1 {
        return Ok(None);
    }
    let (c1, r1) = ((c0 + span).min(d.ncols - 1), (r0 + span).min(d.nrows - 1));
    // Full-resolution height range of the block (covers every descendant).
    let (mut zmin, mut zmax) = (f64::INFINITY, f64::NEG_INFINITY);
    for r in r0..=r1 {
        for c in c0..=c1 {
            if let Some(z) = d.get(c, r) {
                zmin = zmin.min(z as f64);
                zmax = zmax.max(z as f64);
            }
        }
    }
    if !zmin.is_finite() {
        return Ok(None);
    }
    let mut children = Vec::new();
    let split_for_imagery = drape > 0.0 && span / 2 >= DRAPE_LEAF_CELLS;
    if stride > 1 || split_for_imagery {
        for (dx, dy) in [(0, 0), (1, 0), (0, 1), (1, 1)] {
            if let Some(n) = node(
                d,
                dem,
                b,
                lmax,
                level + 1,
                tx * 2 + dx,
                ty * 2 + dy,
                drape,
                proj,
                geoid,
            )? {
                children.push(n);
            }
        }
    }
    // The coarse mesh's vertical error against the full grid, and whether it has a triangle.
    let cols = lattice(c0, c1, stride);
    let rows = lattice(r0, r1, stride);
    let mut error: f64 = 0.0;
    let mut any_triangle = false;
    for j in 0..rows.len() - 1 {
        for i in 0..cols.len() - 1 {
            let (ca, cb, ra, rb) = (cols[i], cols[i + 1], rows[j], rows[j + 1]);
            let corners = [d.get(ca, ra), d.get(cb, ra), d.get(ca, rb), d.get(cb, rb)];
            let valid = corners.iter().filter(|c| c.is_some()).count();
            any_triangle |= valid >= 3;
            if stride == 1 || valid < 4 {
                continue;
            }
            let z: Vec<f64> = corners.iter().map(|c| c.unwrap_or(0.0) as f64).collect();
            for r in ra..=rb {
                for c in ca..=cb {
                    if let Some(v) = d.get(c, r) {
                        let tx = (c - ca) as f64 / (cb - ca) as f64;
                        let ty = (r - ra) as f64 / (rb - ra) as f64;
                        let top = z[0] * (1.0 - tx) + z[1] * tx;
                        let bottom = z[2] * (1.0 - tx) + z[3] * tx;
                        let interp = top * (1.0 - ty) + bottom * ty;
                        error = error.max((v as f64 - interp).abs());
                    }
                }
            }
        }
    }
    if stride == 1 {
        error = 0.0;
    }
    for c in &children {
        error = error.max(c.error);
    }
    let (x0, y0) = d.cell_centre(c0, r1);
    let (x1, y1) = d.cell_centre(c1, r0);
    let rect = [x0, y0, x1, y1];
    // Imagery draped on the tile: refine before its texels grow past a pixel (see
    // `TilesetOptions::terrain_drape_error`).
    if !children.is_empty() {
        error = error.max(drape * (x1 - x0).abs().max((y1 - y0).abs()));
    }
    let (nmin, nmax) = geoid.range(rect);
    let region = Region::from_rect(proj, rect, zmin + nmin, zmax + nmax)?;
    Ok(Some(PlanNode {
        id: format!("d{dem}/{level}/{tx}/{ty}"),
        content: if any_triangle {
            Content::Terrain {
                dem,
                c0,
                r0,
                c1,
                r1,
                stride,
            }
        } else {
            Content::None
        },
        content_region: Some(region),
        count: usize::from(any_triangle),
        error,
        refine: Refine::Replace,
        children,
    }))
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

/// The colour of the ground.
pub const GROUND_RGBA: [f64; 4] = [0.56, 0.62, 0.45, 1.0];

/// The glb of one terrain block, in colour `rgba`. With `depth` (a water depth grid on the
/// same grid as `d`), each vertex also carries its depth (`_DEPTH_M`, metres) and a colour by
/// depth class ([`crate::water::depth_class`], `COLOR_0`) that multiplies `rgba`.
#[allow(clippy::too_many_arguments)]
pub(crate) fn glb(
    d: &Dem,
    block: [usize; 4],
    stride: usize,
    placer: &Placer<'_>,
    rgba: [f64; 4],
    depth: Option<&Dem>,
    compact: bool,
    generator: &str,
) -> Result<Vec<u8>> {
    let [c0, r0, c1, r1] = block;
    let cols = lattice(c0, c1, stride);
    let rows = lattice(r0, r1, stride);
    let (nc, nr) = (cols.len(), rows.len());
    // Local positions of valid vertices.
    let mut local: Vec<Option<[f64; 3]>> = Vec::with_capacity(nc * nr);
    let mut depths: Vec<f32> = Vec::new();
    for &r in &rows {
        for &c in &cols {
            if let Some(g) = depth {
                depths.push(g.get(c, r).unwrap_or(0.0).max(0.0));
            }
            local.push(match d.get(c, r) {
                Some(z) => {
                    let (x, y) = d.cell_centre(c, r);
                    Some(placer.local(x, y, z as f64)?)
                }
                None => None,
            });
        }
    }
    // Triangles counter-clockwise seen from above.
    let mut tris: Vec<[usize; 3]> = Vec::new();
    for j in 0..nr - 1 {
        for i in 0..nc - 1 {
            let nw = j * nc + i;
            let (ne, sw, se) = (nw + 1, nw + nc, nw + nc + 1);
            let ok = |k: usize| local[k].is_some();
            let cand: Vec<[usize; 3]> = match (ok(nw), ok(ne), ok(sw), ok(se)) {
                (true, true, true, true) => vec![[sw, se, ne], [sw, ne, nw]],
                (false, true, true, true) => vec![[sw, se, ne]],
                (true, false, true, true) => vec![[sw, se, nw]],
                (true, true, false, true) => vec![[se, ne, nw]],
                (true, true, true, false) => vec![[sw, ne, nw]],
                _ => vec![],
            };
            for mut t in cand {
                let [a, b, c] = t.map(|k| local[k].unwrap_or_default());
                let n = cross(sub(b, a), sub(c, a));
                if n[2] < 0.0 {
                    t.swap(1, 2);
                }
                if n[2].abs() > 1e-12 {
                    tris.push(t);
                }
            }
        }
    }
    let mut builder = Builder::compact(compact);
    if tris.is_empty() {
        return builder.finish(generator);
    }
    // Smooth normals: area-weighted face normals summed at the vertices.
    let mut acc = vec![[0.0f64; 3]; local.len()];
    for t in &tris {
        let [a, b, c] = t.map(|k| local[k].unwrap_or_default());
        let n = cross(sub(b, a), sub(c, a));
        for &k in t {
            for q in 0..3 {
                acc[k][q] += n[q];
            }
        }
    }
    // Only the vertices that triangles use.
    let mut remap = vec![u32::MAX; local.len()];
    let mut positions = Vec::new();
    let mut normals = Vec::new();
    let mut indices = Vec::with_capacity(tris.len() * 3);
    let mut vertex_depths = Vec::new();
    for t in &tris {
        for &k in t {
            if remap[k] == u32::MAX {
                remap[k] = positions.len() as u32;
                if let Some(&h) = depths.get(k) {
                    vertex_depths.push(h);
                }
                let p = local[k].unwrap_or_default();
                positions.push(super::geodesy::enu_to_gltf(p));
                let a = acc[k];
                let l = (a[0] * a[0] + a[1] * a[1] + a[2] * a[2]).sqrt();
                let n = if l > 0.0 {
                    [a[0] / l, a[1] / l, a[2] / l]
                } else {
                    [0.0, 0.0, 1.0]
                };
                normals.push(super::geodesy::enu_to_gltf(n));
            }
            indices.push(remap[k]);
        }
    }
    let with_depth = depth.is_some();
    glb::reorder_mesh(
        &mut indices,
        &mut positions,
        &mut normals,
        with_depth.then_some(&mut vertex_depths),
    );
    let pos = builder.positions(&positions)?;
    let nor = builder.normals(&normals)?;
    let ind = builder.indices(&indices, positions.len())?;
    let mat = builder.material(rgba, rgba[3] < 1.0);
    let mut attributes = vec![(Semantic::Positions, pos), (Semantic::Normals, nor)];
    if with_depth {
        let colours: Vec<u8> = vertex_depths
            .iter()
            .flat_map(|&h| crate::water::depth_class(h).map_or([255; 4], |c| c.rgba8_linear()))
            .collect();
        attributes.push((Semantic::Colors(0), builder.strided_u8s(&colours, 4, true)?));
        attributes.push((
            glb::custom("DEPTH_M"),
            builder.scalar_attribute(&vertex_depths)?,
        ));
    }
    let mut p = glb::primitive(Mode::Triangles, attributes);
    p.indices = Some(ind);
    p.material = Some(mat);
    builder.mesh(p);
    builder.finish(generator)
}
