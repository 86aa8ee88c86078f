//! Buildings and heritage sites as tile content: their extent and size for planning, and their
//! meshes and property tables for a tile.

use super::glb::{self, Builder};
use super::mesh::{extrude, surface, Mesh, Placer};
use super::metadata::{
    FeatureId, MeshFeatures, StructuralMetadata, EXT_MESH_FEATURES, EXT_STRUCTURAL_METADATA,
};
use super::schema::{self, Column};
use super::tree::Item;
use crate::bounds::Bounds;
use crate::error::Result;
use geo::concave_hull::ConcaveHullOptions;
use geo::{Area, BoundingRect, ConcaveHull, ConvexHull, InteriorPoint};
use geo_types::{MultiPolygon, Point};
use gltf_json::mesh::{Mode, Semantic};
use twin_core::model::{Building, HeritageSite};
use twin_core::LayerKind;
use twin_core::Twin;

/// Height (metres) of a heritage site's volume when it has no height limit.
pub const HERITAGE_DEFAULT_HEIGHT_M: f64 = 3.0;

/// A feature's extent in the project CRS and its orthometric height range.
#[derive(Clone, Copy, Debug)]
pub(crate) struct FeatureBox {
    pub rect: [f64; 4],
    pub zmin: f64,
    pub zmax: f64,
}

fn rect_of(mp: &MultiPolygon<f64>) -> Option<[f64; 4]> {
    let r = mp.bounding_rect()?;
    let v = [r.min().x, r.min().y, r.max().x, r.max().y];
    v.iter().all(|x| x.is_finite()).then_some(v)
}

fn ring_vertices(mp: &MultiPolygon<f64>) -> usize {
    mp.0.iter()
        .map(|p| p.exterior().0.len() + p.interiors().iter().map(|r| r.0.len()).sum::<usize>())
        .sum()
}

/// The orthometric height of a building's base: its own `base_height`, or, when that is 0
/// (unknown), the lowest terrain under its footprint's vertices from the first DEM that covers
/// it, or 0 without terrain.
pub fn building_base(twin: &Twin, b: &Building) -> f64 {
    twin_core::ground::building_base(&twin.terrain, b)
}

fn usable_solid(b: &Building) -> Option<&twin_core::model::Solid> {
    b.solid.as_ref().filter(|s| {
        s.surfaces
            .iter()
            .any(|f| f.rings.first().is_some_and(|r| r.len() >= 3))
    })
}

/// The box and planning item of a building; None when it has no usable geometry.
pub(crate) fn building_item(twin: &Twin, idx: usize, b: &Building) -> Option<(Item, FeatureBox)> {
    let (fb, vertices) = if let Some(solid) = usable_solid(b) {
        let mut bounds = Bounds::EMPTY;
        let mut n = 0;
        for p in solid.surfaces.iter().flat_map(|s| s.rings.iter().flatten()) {
            if !p.iter().all(|v| v.is_finite()) {
                continue;
            }
            bounds.add_xyz(p[0], p[1], p[2]);
            n += 1;
        }
        let (r, (zmin, zmax)) = (bounds.rect, bounds.z);
        if n == 0 {
            return None;
        }
        (
            FeatureBox {
                rect: r,
                zmin,
                zmax,
            },
            n,
        )
    } else {
        let rect = rect_of(&b.footprint)?;
        let base = building_base(twin, b);
        let top = base + b.height.max(0.0);
        if !(base.is_finite() && top.is_finite()) {
            return None;
        }
        // Walls: four vertices per edge; roof: one per ring vertex.
        (
            FeatureBox {
                rect,
                zmin: base,
                zmax: top,
            },
            ring_vertices(&b.footprint) * 5,
        )
    };
    let r = fb.rect;
    let size = (r[2] - r[0]).max(r[3] - r[1]).max(fb.zmax - fb.zmin);
    // 28 bytes a vertex (position, normal, feature id), about 2 bytes of index per vertex,
    // and the feature's row in the property tables.
    let bytes = vertices * 30 + 128;
    Some((
        Item {
            idx: idx as u32,
            x: (r[0] + r[2]) / 2.0,
            y: (r[1] + r[3]) / 2.0,
            size: size as f32,
            bytes: bytes.min(u32::MAX as usize) as u32,
        },
        fb,
    ))
}

/// A heritage site's height limit (metres), the twin's typed field
/// ([`HeritageSite::height_limit_m`]); the `height_limit` metadata property.
pub fn heritage_height_limit(h: &HeritageSite) -> Option<f64> {
    h.height_limit_m.filter(|v| v.is_finite() && *v > 0.0)
}

/// A heritage site's floor or plinth level above its ground (metres), the twin's typed field
/// ([`HeritageSite::floor_m`]); the `floor_m` metadata property.
fn heritage_floor(h: &HeritageSite) -> Option<f64> {
    h.floor_m.filter(|v| v.is_finite())
}

/// How high a heritage site's volume is drawn: its height limit, else its own `height`
/// attribute, else [`HERITAGE_DEFAULT_HEIGHT_M`].
fn heritage_extrusion(h: &HeritageSite) -> f64 {
    heritage_height_limit(h)
        .or_else(|| {
            h.attributes
                .get("height")
                .and_then(|v| twin_core::heights::parse_length_m(v))
        })
        .unwrap_or(HERITAGE_DEFAULT_HEIGHT_M)
}

fn heritage_base(twin: &Twin, h: &HeritageSite) -> f64 {
    twin_core::ground::lowest_ground(&twin.terrain, &h.polygon).unwrap_or(0.0)
}

/// The box and planning item of a heritage site.
pub(crate) fn heritage_item(
    twin: &Twin,
    idx: usize,
    h: &HeritageSite,
) -> Option<(Item, FeatureBox)> {
    let rect = rect_of(&h.polygon)?;
    let base = heritage_base(twin, h);
    let top = base + heritage_extrusion(h);
    let size = (rect[2] - rect[0]).max(rect[3] - rect[1]).max(top - base);
    Some((
        Item {
            idx: idx as u32,
            x: (rect[0] + rect[2]) / 2.0,
            y: (rect[1] + rect[3]) / 2.0,
            size: size as f32,
            bytes: (ring_vertices(&h.polygon) * 150 + 128) as u32,
        },
        FeatureBox {
            rect,
            zmin: base,
            zmax: top,
        },
    ))
}

/// The heritage site a building stands in (the smallest one holding its interior point).
pub fn heritage_of<'a>(twin: &'a Twin, b: &Building) -> Option<&'a HeritageSite> {
    if twin.heritage.is_empty() {
        return None;
    }
    let p: Point<f64> = b.footprint.interior_point()?;
    let hits = twin.heritage.query_radius(p, 0.0).ok()?;
    hits.into_iter()
        .filter_map(|(i, _)| twin.heritage.get(i))
        .min_by(|a, b| {
            a.polygon
                .unsigned_area()
                .total_cmp(&b.polygon.unsigned_area())
        })
}

/// Result column `k` of [`schema::RESULT_PROPERTIES`], all no data until a run fills it.
fn results_column(k: usize, n: usize) -> (&'static str, Column) {
    (
        schema::RESULT_PROPERTIES[k],
        Column::F32(vec![schema::RESULT_NO_DATA; n]),
    )
}

fn opt(s: &Option<String>) -> String {
    s.clone().unwrap_or_default()
}

/// The glb of a vector tile: one primitive with `_FEATURE_ID_0`, the feature table and the
/// results table.
pub(crate) fn vector_glb(
    twin: &Twin,
    layer: LayerKind,
    idxs: &[u32],
    placer: &Placer<'_>,
    compact: bool,
    generator: &str,
) -> Result<Vec<u8>> {
    let mut mesh = Mesh::default();
    let mut rows: Vec<usize> = Vec::with_capacity(idxs.len());
    for &i in idxs {
        let fid = rows.len() as f32;
        let before = mesh.indices.len();
        match layer {
            LayerKind::Buildings => {
                let Some(b) = twin.buildings.get(i as usize) else {
                    continue;
                };
                if let Some(solid) = usable_solid(b) {
                    for s in &solid.surfaces {
                        surface(&mut mesh, placer, &s.rings, fid)?;
                    }
                } else {
                    let base = building_base(twin, b);
                    for p in &b.footprint.0 {
                        extrude(&mut mesh, placer, p, base, base + b.height.max(0.0), fid)?;
                    }
                }
            }
            LayerKind::Heritage => {
                let Some(h) = twin.heritage.get(i as usize) else {
                    continue;
                };
                let base = heritage_base(twin, h);
                let top = base + heritage_extrusion(h);
                for p in &h.polygon.0 {
                    extrude(&mut mesh, placer, p, base, top, fid)?;
                }
            }
            _ => {}
        }
        if mesh.indices.len() > before {
            rows.push(i as usize);
        }
    }
    let mut b = Builder::compact(compact);
    if mesh.is_empty() {
        return b.finish(generator);
    }
    let [pos, nor, fid, ind] = mesh_accessors(&mut b, &mut mesh)?;
    let (colour, double_sided) = match layer {
        LayerKind::Heritage => ([0.86, 0.52, 0.18, 0.45], true),
        _ => ([0.88, 0.86, 0.82, 1.0], false),
    };
    let mat = b.material(colour, double_sided);
    let n = rows.len();
    let (label, table) = match layer {
        LayerKind::Heritage => {
            let hs: Vec<&HeritageSite> =
                rows.iter().filter_map(|&i| twin.heritage.get(i)).collect();
            let t = schema::property_table(
                &mut b,
                "heritage",
                schema::CLASS_HERITAGE,
                n,
                vec![
                    ("id", Column::Str(hs.iter().map(|h| h.id.clone()).collect())),
                    (
                        "name",
                        Column::Str(hs.iter().map(|h| opt(&h.name)).collect()),
                    ),
                    (
                        "zone",
                        Column::Str(hs.iter().map(|h| opt(&h.zone)).collect()),
                    ),
                    (
                        "kind",
                        Column::Str(
                            hs.iter()
                                .map(|h| {
                                    h.attributes
                                        .get("historic")
                                        .or(h.attributes.get("heritage"))
                                        .cloned()
                                        .unwrap_or_default()
                                })
                                .collect(),
                        ),
                    ),
                    (
                        "height_limit",
                        Column::F32(
                            hs.iter()
                                .map(|h| heritage_height_limit(h).map(|v| v as f32).unwrap_or(-1.0))
                                .collect(),
                        ),
                    ),
                    (
                        "floor_m",
                        Column::F32(
                            hs.iter()
                                .map(|h| {
                                    heritage_floor(h)
                                        .map(|v| v as f32)
                                        .unwrap_or(schema::FLOOR_NO_DATA)
                                })
                                .collect(),
                        ),
                    ),
                    results_column(0, n),
                    results_column(1, n),
                ],
            );
            ("heritage", t)
        }
        _ => {
            let bs: Vec<&Building> = rows.iter().filter_map(|&i| twin.buildings.get(i)).collect();
            let sites: Vec<Option<&HeritageSite>> =
                bs.iter().map(|b| heritage_of(twin, b)).collect();
            let t = schema::property_table(
                &mut b,
                "buildings",
                schema::CLASS_BUILDING,
                n,
                vec![
                    ("id", Column::Str(bs.iter().map(|b| b.id.clone()).collect())),
                    (
                        "name",
                        Column::Str(bs.iter().map(|b| opt(&b.name)).collect()),
                    ),
                    (
                        "height",
                        Column::F32(bs.iter().map(|b| b.height as f32).collect()),
                    ),
                    (
                        "base_height",
                        Column::F32(bs.iter().map(|b| building_base(twin, b) as f32).collect()),
                    ),
                    (
                        "levels",
                        Column::U16(
                            bs.iter()
                                .map(|b| {
                                    b.levels
                                        .map(|l| l.min(schema::LEVELS_NO_DATA as u32 - 1) as u16)
                                        .unwrap_or(schema::LEVELS_NO_DATA)
                                })
                                .collect(),
                        ),
                    ),
                    (
                        "use",
                        Column::Str(bs.iter().map(|b| opt(&b.usage)).collect()),
                    ),
                    (
                        "source_id",
                        Column::Str(bs.iter().map(|b| b.source_id.clone()).collect()),
                    ),
                    (
                        "height_source",
                        Column::Str(bs.iter().map(|b| b.height_source.label()).collect()),
                    ),
                    (
                        "heritage_zone",
                        Column::Str(
                            sites
                                .iter()
                                .map(|s| s.and_then(|s| s.zone.clone()).unwrap_or_default())
                                .collect(),
                        ),
                    ),
                    (
                        "heritage_site",
                        Column::Str(
                            sites
                                .iter()
                                .map(|s| s.map(|s| s.id.clone()).unwrap_or_default())
                                .collect(),
                        ),
                    ),
                    (
                        "lod",
                        Column::Str(
                            bs.iter()
                                .map(|b| {
                                    usable_solid(b)
                                        .map(|s| s.lod.clone())
                                        .unwrap_or_else(|| "1".into())
                                })
                                .collect(),
                        ),
                    ),
                    results_column(0, n),
                    results_column(1, n),
                ],
            );
            ("building", t)
        }
    };
    write_features(b, [pos, nor, fid, ind], mat, n, label, table, generator)
}

/// Finish a vector tile's glb: the property table under the schema, one primitive of
/// `[positions, normals, feature ids, indices]` with `EXT_mesh_features` pointing at it.
/// A feature mesh reordered for the vertex cache and written into `b`: the accessors of its
/// positions, normals, feature ids and indices.
fn mesh_accessors(
    b: &mut Builder,
    mesh: &mut Mesh,
) -> Result<[gltf_json::Index<gltf_json::Accessor>; 4]> {
    glb::reorder_mesh(
        &mut mesh.indices,
        &mut mesh.positions,
        &mut mesh.normals,
        Some(&mut mesh.feature_ids),
    );
    Ok([
        b.positions(&mesh.positions)?,
        b.normals(&mesh.normals)?,
        b.feature_ids(&mesh.feature_ids)?,
        b.indices(&mesh.indices, mesh.positions.len())?,
    ])
}

fn write_features(
    mut b: Builder,
    [pos, nor, fid, ind]: [gltf_json::Index<gltf_json::Accessor>; 4],
    mat: gltf_json::Index<gltf_json::Material>,
    n: usize,
    label: &str,
    table: super::metadata::PropertyTable,
    generator: &str,
) -> Result<Vec<u8>> {
    b.root_extension(
        EXT_STRUCTURAL_METADATA,
        &StructuralMetadata {
            schema: schema::schema(),
            property_tables: vec![table],
            property_attributes: Vec::new(),
        },
    )?;
    b.use_extension(EXT_MESH_FEATURES);
    let mut p = glb::primitive(
        Mode::Triangles,
        [
            (Semantic::Positions, pos),
            (Semantic::Normals, nor),
            (glb::custom("FEATURE_ID_0"), fid),
        ],
    );
    p.indices = Some(ind);
    p.material = Some(mat);
    glb::primitive_extension(
        &mut p,
        EXT_MESH_FEATURES,
        &MeshFeatures {
            feature_ids: vec![FeatureId {
                feature_count: n,
                attribute: 0,
                property_table: 0,
                label: label.into(),
            }],
        },
    )?;
    b.mesh(p);
    b.finish(generator)
}

/// A merged block standing for a group of buildings in a parent tile (docs/adr/0026, "city
/// mass"): the concave hull of their footprints' corners (geo's port of concaveman, concavity
/// [`BLOCK_CONCAVITY`], edges under [`BLOCK_MIN_EDGE_M`] left as they are), extruded from their
/// lowest base to their area-weighted mean height. Where the buildings of a cell are sparse
/// this follows them where their convex hull would span the empty ground between them.
#[derive(Clone, Debug)]
pub struct Block {
    /// The hull of the buildings' footprints (project CRS): concave, the convex hull where the
    /// concave one would have no area.
    pub hull: geo_types::Polygon<f64>,
    /// Orthometric height of the block's base: the lowest base of its buildings, metres.
    pub base: f64,
    /// Area-weighted mean height of its buildings above their bases, metres.
    pub mean_height: f64,
    /// Number of buildings merged.
    pub count: usize,
    /// Sum of the buildings' footprint areas, square metres.
    pub footprint_area: f64,
}

/// How concave a block's hull is (concaveman's measure: lower is more concave; 2 follows the
/// buildings closely, infinity is the convex hull).
pub const BLOCK_CONCAVITY: f64 = 2.0;
/// Hull edges shorter than this (metres) are not drilled into: a block follows its buildings'
/// group, not each building's walls.
pub const BLOCK_MIN_EDGE_M: f64 = 20.0;

/// The block of buildings `idxs`; None when none has a footprint with an area.
pub fn block_of(twin: &Twin, idxs: &[u32]) -> Option<Block> {
    let mut polys = Vec::new();
    let (mut area, mut weighted, mut base, mut count) = (0.0, 0.0, f64::INFINITY, 0);
    for &i in idxs {
        let Some(b) = twin.buildings.get(i as usize) else {
            continue;
        };
        let a = b.footprint.unsigned_area();
        if !(a.is_finite() && a > 0.0 && b.height.is_finite()) {
            continue;
        }
        area += a;
        weighted += a * b.height.max(0.0);
        base = base.min(building_base(twin, b));
        count += 1;
        polys.extend(b.footprint.0.iter().cloned());
    }
    if count == 0 || !base.is_finite() {
        return None;
    }
    let corners = MultiPolygon(polys);
    let concave = corners.concave_hull_with_options(ConcaveHullOptions {
        concavity: BLOCK_CONCAVITY,
        length_threshold: BLOCK_MIN_EDGE_M,
    });
    let hull = if concave.unsigned_area() > 0.0 {
        concave
    } else {
        corners.convex_hull()
    };
    (hull.unsigned_area() > 0.0).then(|| Block {
        hull,
        base,
        mean_height: weighted / area,
        count,
        footprint_area: area,
    })
}

/// The glb of a block tile: one feature per block of class `block` (block id, building count,
/// mean height).
pub(crate) fn blocks_glb(
    twin: &Twin,
    tile_id: &str,
    groups: &[Vec<u32>],
    placer: &Placer<'_>,
    compact: bool,
    generator: &str,
) -> Result<Vec<u8>> {
    let mut mesh = Mesh::default();
    let mut rows: Vec<(String, Block)> = Vec::new();
    for (k, g) in groups.iter().enumerate() {
        let Some(bl) = block_of(twin, g) else {
            continue;
        };
        let before = mesh.indices.len();
        let fid = rows.len() as f32;
        extrude(
            &mut mesh,
            placer,
            &bl.hull,
            bl.base,
            bl.base + bl.mean_height,
            fid,
        )?;
        if mesh.indices.len() > before {
            rows.push((format!("{tile_id}#{k}"), bl));
        }
    }
    let mut b = Builder::compact(compact);
    if mesh.is_empty() {
        return b.finish(generator);
    }
    let [pos, nor, fid, ind] = mesh_accessors(&mut b, &mut mesh)?;
    let mat = b.material([0.80, 0.78, 0.74, 1.0], false);
    let n = rows.len();
    let table = schema::property_table(
        &mut b,
        "blocks",
        schema::CLASS_BLOCK,
        n,
        vec![
            (
                "block",
                Column::Str(rows.iter().map(|r| r.0.clone()).collect()),
            ),
            (
                "building_count",
                Column::U16(
                    rows.iter()
                        .map(|r| r.1.count.min(u16::MAX as usize) as u16)
                        .collect(),
                ),
            ),
            (
                "height",
                Column::F32(rows.iter().map(|r| r.1.mean_height as f32).collect()),
            ),
        ],
    );
    write_features(b, [pos, nor, fid, ind], mat, n, "block", table, generator)
}
