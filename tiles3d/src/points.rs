//! Point-cloud tiles: a quadtree over each cloud with additive refinement. An inner tile keeps
//! one point per cell of a `point_grid`² grid over its square (an even subsample, about the
//! grid's spacing apart) and hands the others to its quadrants; each point is in one tile.

use super::geodesy::{GeoidLattice, Projector, Region};
use super::glb::{self, Builder};
use super::mesh::Placer;
use super::metadata::{
    PrimitiveMetadata, PropertyAttribute, PropertyAttributeProperty, StructuralMetadata,
    EXT_STRUCTURAL_METADATA,
};
use super::schema;
use super::{Content, PlanNode, Refine, TilesetOptions};
use crate::bounds::Bounds;
use crate::error::Result;
use gltf_json::mesh::{Mode, Semantic};
use twin_core::model::PointCloud;
use twin_core::Twin;

/// The union of the clouds' extents (x/y).
pub(crate) fn extent(twin: &Twin) -> [f64; 4] {
    Bounds::of_rects(
        twin.pointclouds
            .iter()
            .filter_map(|c| c.bounds())
            .map(|(lo, hi)| [lo[0], lo[1], hi[0], hi[1]]),
    )
}

/// Plan every cloud; a root tile without content groups them.
pub(crate) fn plan(
    twin: &Twin,
    opts: &TilesetOptions,
    proj: &Projector,
    geoid: &GeoidLattice,
) -> Result<PlanNode> {
    let mut children = Vec::new();
    for (ci, cloud) in twin.pointclouds.iter().enumerate() {
        let Some((lo, hi)) = cloud.bounds() else {
            continue;
        };
        let idx: Vec<u32> = (0..cloud.points.len() as u32)
            .filter(|&i| {
                let p = &cloud.points[i as usize];
                p.x.is_finite() && p.y.is_finite() && p.z.is_finite()
            })
            .collect();
        if idx.is_empty() {
            continue;
        }
        let side = (hi[0] - lo[0]).max(hi[1] - lo[1]).max(1e-3) * (1.0 + 1e-9);
        let cell = (lo[0], lo[1], side);
        children.push(node(cloud, ci, idx, cell, 0, 0, 0, opts, proj, geoid)?);
    }
    Ok(PlanNode {
        id: "root".into(),
        content: Content::None,
        content_region: None,
        count: 0,
        error: 0.0,
        refine: Refine::Add,
        children,
    })
}

#[allow(clippy::too_many_arguments)]
fn node(
    cloud: &PointCloud,
    ci: usize,
    idx: Vec<u32>,
    cell: (f64, f64, f64),
    level: u32,
    x: u32,
    y: u32,
    opts: &TilesetOptions,
    proj: &Projector,
    geoid: &GeoidLattice,
) -> Result<PlanNode> {
    let (x0, y0, s) = cell;
    let (content, rest) = if idx.len() <= opts.max_points || level >= opts.max_depth {
        (idx, Vec::new())
    } else {
        let g = opts.point_grid;
        let mut taken = vec![false; g * g];
        let mut content = Vec::new();
        let mut rest = Vec::new();
        for i in idx {
            let p = &cloud.points[i as usize];
            let gx = (((p.x - x0) / s * g as f64) as usize).min(g - 1);
            let gy = (((p.y - y0) / s * g as f64) as usize).min(g - 1);
            let k = gy * g + gx;
            if taken[k] {
                rest.push(i);
            } else {
                taken[k] = true;
                content.push(i);
            }
        }
        (content, rest)
    };
    let mut children = Vec::new();
    if !rest.is_empty() {
        let h = s / 2.0;
        let mut quads: [Vec<u32>; 4] = Default::default();
        for i in rest {
            let p = &cloud.points[i as usize];
            let q = usize::from(p.y >= y0 + h) * 2 + usize::from(p.x >= x0 + h);
            quads[q].push(i);
        }
        for (q, sub) in quads.into_iter().enumerate() {
            if sub.is_empty() {
                continue;
            }
            let (qx, qy) = ((q % 2) as u32, (q / 2) as u32);
            let c = (x0 + qx as f64 * h, y0 + qy as f64 * h, h);
            children.push(node(
                cloud,
                ci,
                sub,
                c,
                level + 1,
                x * 2 + qx,
                y * 2 + qy,
                opts,
                proj,
                geoid,
            )?);
        }
    }
    let mut b = Bounds::EMPTY;
    for &i in &content {
        let p = &cloud.points[i as usize];
        b.add_xyz(p.x, p.y, p.z);
    }
    let (r, (zmin, zmax)) = (b.rect, b.z);
    let (nmin, nmax) = geoid.range(r);
    let region = Region::from_rect(proj, r, zmin + nmin, zmax + nmax)?;
    // Spacing of this tile's subsample: the error of drawing it without its children.
    let error = if children.is_empty() {
        0.0
    } else {
        s / opts.point_grid as f64
    };
    Ok(PlanNode {
        id: format!("c{ci}/{level}/{x}/{y}"),
        count: content.len(),
        content: Content::Points {
            cloud: ci,
            idx: content,
        },
        content_region: Some(region),
        error,
        refine: Refine::Add,
        children,
    })
}

/// What colouring a cloud needs to know about all its points.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct CloudStats {
    /// The largest intensity (clouds without colour are grey by intensity).
    pub max_intensity: u16,
    /// Colours use 16 bits (as LAS says they should; some files store 8-bit values).
    pub rgb16: bool,
}

impl CloudStats {
    pub(crate) fn of(cloud: &PointCloud) -> CloudStats {
        let mut s = CloudStats::default();
        for p in &cloud.points {
            s.max_intensity = s.max_intensity.max(p.intensity);
            if let Some(c) = p.rgb {
                s.rgb16 |= c.iter().any(|&v| v > 255);
            }
        }
        s
    }
}

/// The glb of one point tile: POSITION, COLOR_0, and `_INTENSITY` / `_CLASSIFICATION` as
/// `EXT_structural_metadata` property attributes of class `point`.
pub(crate) fn glb(
    cloud: &PointCloud,
    idx: &[u32],
    stats: CloudStats,
    placer: &Placer<'_>,
    generator: &str,
) -> Result<Vec<u8>> {
    let mut positions = Vec::with_capacity(idx.len());
    let mut colours = Vec::with_capacity(idx.len() * 3);
    let mut intensity = Vec::with_capacity(idx.len());
    let mut class = Vec::with_capacity(idx.len());
    let scale = if stats.max_intensity > 0 {
        255.0 / stats.max_intensity as f64
    } else {
        0.0
    };
    for &i in idx {
        let Some(p) = cloud.points.get(i as usize) else {
            continue;
        };
        positions.push(super::geodesy::enu_to_gltf(placer.local(p.x, p.y, p.z)?));
        match p.rgb {
            Some([r, g, b]) => {
                let shift = if stats.rgb16 { 8 } else { 0 };
                colours.extend_from_slice(&[
                    (r >> shift) as u8,
                    (g >> shift) as u8,
                    (b >> shift) as u8,
                ]);
            }
            None => {
                let v = (p.intensity as f64 * scale).round().clamp(0.0, 255.0) as u8;
                colours.extend_from_slice(&[v, v, v]);
            }
        }
        intensity.push(p.intensity);
        class.push(p.classification);
    }
    let mut b = Builder::new();
    if positions.is_empty() {
        return b.finish(generator);
    }
    let pos = b.vec3(&positions, true);
    let col = b.strided_u8s(&colours, 3, true);
    let int = b.strided_u16(&intensity);
    let cls = b.strided_u8s(&class, 1, false);
    let intensity = glb::custom("INTENSITY");
    let classification = glb::custom("CLASSIFICATION");
    b.root_extension(
        EXT_STRUCTURAL_METADATA,
        &StructuralMetadata {
            schema: schema::schema(),
            property_tables: Vec::new(),
            property_attributes: vec![PropertyAttribute {
                class: schema::CLASS_POINT.into(),
                properties: [
                    ("intensity", intensity.clone()),
                    ("classification", classification.clone()),
                ]
                .into_iter()
                .map(|(k, attribute)| (k, PropertyAttributeProperty { attribute }))
                .collect(),
            }],
        },
    )?;
    let mut p = glb::primitive(
        Mode::Points,
        [
            (Semantic::Positions, pos),
            (Semantic::Colors(0), col),
            (intensity, int),
            (classification, cls),
        ],
    );
    glb::primitive_extension(
        &mut p,
        EXT_STRUCTURAL_METADATA,
        &PrimitiveMetadata {
            property_attributes: vec![0],
        },
    )?;
    b.mesh(p);
    b.finish(generator)
}
