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
use twin_core::model::{LidarPoint, PointCloud};
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

/// What a point cloud's COLOR_0 shows.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum PointColour {
    /// The file's RGB when it has colour; otherwise classification when the cloud is
    /// classified (at least 1 % of its points in an ASPRS class other than 0 "created, never
    /// classified" and 1 "unclassified"); otherwise elevation.
    #[default]
    Auto,
    /// The file's RGB (16-bit values scaled to 8 bits); clouds without colour fall back to
    /// [`PointColour::Auto`]'s choice.
    Rgb,
    /// The ASPRS standard classes in a fixed palette (ground brown, vegetation greens,
    /// buildings red, water blue, noise magenta, others grey).
    Classification,
    /// Height on a blue–green–yellow ramp between the cloud's 2nd and 98th percentiles.
    Elevation,
    /// Grey (32 to 255 of 255) by return intensity between the cloud's 2nd and 98th
    /// percentiles (a few very bright returns no longer darken the rest).
    Intensity,
}

impl PointColour {
    /// Every choice, by name.
    pub const ALL: [PointColour; 5] = [
        PointColour::Auto,
        PointColour::Rgb,
        PointColour::Classification,
        PointColour::Elevation,
        PointColour::Intensity,
    ];

    /// Its name (`auto`, `rgb`, `classification`, `elevation`, `intensity`).
    pub fn name(self) -> &'static str {
        match self {
            PointColour::Auto => "auto",
            PointColour::Rgb => "rgb",
            PointColour::Classification => "classification",
            PointColour::Elevation => "elevation",
            PointColour::Intensity => "intensity",
        }
    }

    /// The choice of a name; None for an unknown one.
    pub fn parse(name: &str) -> Option<PointColour> {
        PointColour::ALL.into_iter().find(|c| c.name() == name)
    }
}

/// What colouring a cloud needs to know about all its points.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct CloudStats {
    /// What COLOR_0 shows (never [`PointColour::Auto`]).
    pub source: PointColour,
    /// Colours use 16 bits (as LAS says they should; some files store 8-bit values).
    pub rgb16: bool,
    /// The 2nd and 98th percentiles of the ramp's quantity (height or intensity).
    pub range: (f64, f64),
}

impl Default for CloudStats {
    fn default() -> Self {
        CloudStats {
            source: PointColour::Elevation,
            rgb16: false,
            range: (0.0, 1.0),
        }
    }
}

/// The 2nd and 98th percentiles of `values` (at most 100,000 of them, evenly taken).
fn percentiles(values: impl ExactSizeIterator<Item = f64>) -> (f64, f64) {
    let n = values.len();
    let step = n.div_ceil(100_000).max(1);
    let mut v: Vec<f64> = values.step_by(step).filter(|x| x.is_finite()).collect();
    if v.is_empty() {
        return (0.0, 1.0);
    }
    v.sort_unstable_by(f64::total_cmp);
    let at = |q: f64| v[((v.len() - 1) as f64 * q).round() as usize];
    (at(0.02), at(0.98))
}

impl CloudStats {
    /// Resolve `wanted` for `cloud` and measure what its colours need.
    pub(crate) fn of(cloud: &PointCloud, wanted: PointColour) -> CloudStats {
        let pts = &cloud.points;
        let has_rgb = pts.iter().any(|p| p.rgb.is_some());
        let rgb16 = pts
            .iter()
            .filter_map(|p| p.rgb)
            .any(|c| c.iter().any(|&v| v > 255));
        let classified = pts.iter().filter(|p| p.classification > 1).count() * 100 >= pts.len();
        let without_rgb = if classified {
            PointColour::Classification
        } else {
            PointColour::Elevation
        };
        let source = match wanted {
            PointColour::Auto | PointColour::Rgb if has_rgb => PointColour::Rgb,
            PointColour::Auto | PointColour::Rgb => without_rgb,
            other => other,
        };
        let range = match source {
            PointColour::Elevation => percentiles(pts.iter().map(|p| p.z)),
            PointColour::Intensity => percentiles(pts.iter().map(|p| p.intensity as f64)),
            _ => (0.0, 1.0),
        };
        CloudStats {
            source,
            rgb16,
            range,
        }
    }

    /// The 8-bit sRGB colour of a point.
    fn colour(&self, p: &LidarPoint) -> [u8; 3] {
        let t = |v: f64| {
            let (lo, hi) = self.range;
            if hi > lo {
                ((v - lo) / (hi - lo)).clamp(0.0, 1.0)
            } else {
                0.5
            }
        };
        match (self.source, p.rgb) {
            (PointColour::Rgb, Some(c)) => {
                let shift = if self.rgb16 { 8 } else { 0 };
                c.map(|v| (v >> shift) as u8)
            }
            // Grey from 32 (never black, so the darkest returns still show) to 255.
            (PointColour::Intensity, _) => {
                [(32.0 + t(p.intensity as f64) * 223.0).round() as u8; 3]
            }
            (PointColour::Classification, _) => class_colour(p.classification),
            // Elevation, and RGB for the odd point without colour in a coloured cloud.
            _ => ramp(t(p.z)),
        }
    }
}

/// The ASPRS standard classes (LAS 1.4 R15, table 17) in a fixed palette.
fn class_colour(class: u8) -> [u8; 3] {
    match class {
        0 | 1 => [170, 170, 170],
        2 => [166, 124, 82],
        3 => [150, 205, 110],
        4 => [80, 170, 60],
        5 => [30, 115, 40],
        6 => [215, 85, 60],
        7 | 18 => [230, 0, 230],
        9 => [60, 130, 220],
        10 => [125, 100, 90],
        11 => [95, 95, 95],
        13..=16 => [240, 200, 40],
        17 => [180, 160, 210],
        _ => [205, 205, 205],
    }
}

/// A blue–green–yellow ramp (viridis' stops) at `t` in 0..=1.
fn ramp(t: f64) -> [u8; 3] {
    const STOPS: [[f64; 3]; 5] = [
        [68.0, 1.0, 84.0],
        [59.0, 82.0, 139.0],
        [33.0, 145.0, 140.0],
        [94.0, 201.0, 98.0],
        [253.0, 231.0, 37.0],
    ];
    let x = t.clamp(0.0, 1.0) * (STOPS.len() - 1) as f64;
    let i = (x.floor() as usize).min(STOPS.len() - 2);
    let f = x - i as f64;
    let (a, b) = (STOPS[i], STOPS[i + 1]);
    [0, 1, 2].map(|k| (a[k] + (b[k] - a[k]) * f).round() as u8)
}

/// The glb of one point tile: POSITION, COLOR_0 (as `stats` says), and `_INTENSITY` / `_CLASSIFICATION` as
/// `EXT_structural_metadata` property attributes of class `point`.
pub(crate) fn glb(
    cloud: &PointCloud,
    idx: &[u32],
    stats: CloudStats,
    placer: &Placer<'_>,
    compact: bool,
    generator: &str,
) -> Result<Vec<u8>> {
    let mut positions = Vec::with_capacity(idx.len());
    let mut colours = Vec::with_capacity(idx.len() * 3);
    let mut intensity = Vec::with_capacity(idx.len());
    let mut class = Vec::with_capacity(idx.len());
    for &i in idx {
        let Some(p) = cloud.points.get(i as usize) else {
            continue;
        };
        positions.push(super::geodesy::enu_to_gltf(placer.local(p.x, p.y, p.z)?));
        colours.extend_from_slice(&stats.colour(p));
        intensity.push(p.intensity);
        class.push(p.classification);
    }
    let mut b = Builder::compact(compact);
    if positions.is_empty() {
        return b.finish(generator);
    }
    let pos = b.positions(&positions)?;
    let col = b.strided_u8s(&colours, 3, true)?;
    let int = b.strided_u16(&intensity)?;
    let cls = b.strided_u8s(&class, 1, false)?;
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
