//! The bevy side of streaming: each frame the camera's position, field of view and frustum
//! drive the traversal of every layer; wanted tiles go to the [`Loader`]'s workers (nearest
//! and coarsest first, a bounded number in flight); loaded tiles become meshes (buildings
//! coloured from their properties like a twin folder's), shown or hidden as the selection
//! says; tiles not drawn for a while are unloaded beyond a distance, and the least recently
//! drawn and farthest whenever the decoded bytes pass the memory budget.

use super::traverse::{distance_to_box, select, Eye};
use super::{pick, Job, LoadedTile, Loader, LocalPrimitive, Picked, StreamScene};
use crate::scene::{height_colour, use_colour, zone_colour, ColourBy};
use bevy::asset::RenderAssetUsages;
use bevy::camera::primitives::Frustum;
use bevy::color::{Color, ColorToComponents};
use bevy::math::bounding::Aabb3d;
use bevy::math::{Ray3d, Vec3A};
use bevy::mesh::{Indices, PrimitiveTopology};
use bevy::prelude::*;
use renderer::render::colour;
use serde_json::{Map, Value};
use std::collections::HashSet;
use std::sync::Arc;

/// Frames a tile may go unvisited before it may be unloaded by distance.
pub const UNLOAD_AFTER_FRAMES: u64 = 60;

/// The state of one tile.
enum Slot {
    Empty,
    Requested,
    Loaded {
        tile: Arc<LoadedTile>,
        entities: Vec<Entity>,
        last_used: u64,
    },
    Failed,
}

/// The streaming state: the scene, the workers, each tile's state.
#[derive(Resource)]
pub struct Streamer {
    /// The server's layers.
    pub scene: Arc<StreamScene>,
    loader: Loader,
    slots: Vec<Vec<Slot>>,
    drawn: HashSet<(usize, usize)>,
    in_flight: usize,
    frame: u64,
    /// Bytes of loaded tiles.
    pub bytes: usize,
    /// Frames in a row with nothing wanted and nothing in flight.
    pub idle_frames: u32,
    /// Tiles loaded, unloaded and failed so far.
    pub counts: StreamCounts,
    /// Layers (by index) not drawn nor loaded.
    pub hidden: HashSet<usize>,
}

/// Counters of a stream.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct StreamCounts {
    /// Tiles loaded.
    pub loaded: usize,
    /// Tiles unloaded.
    pub unloaded: usize,
    /// Loads that failed.
    pub failed: usize,
    /// Tiles drawn in the last frame.
    pub drawn: usize,
    /// Tiles the last frame's traversal visited with their content loaded (kept loaded).
    pub kept: usize,
    /// Tiles loaded now.
    pub resident: usize,
}

/// Marks a mesh of a streamed tile.
#[derive(Component, Clone, Copy, Debug)]
pub struct StreamPrim {
    /// Layer index.
    pub layer: usize,
    /// Node index.
    pub node: usize,
    /// Primitive index.
    pub prim: usize,
}

/// The materials streamed meshes use (opaque and translucent, colours per vertex).
#[derive(Resource, Clone)]
pub struct StreamMaterials {
    /// Opaque, lit.
    pub solid: Handle<StandardMaterial>,
    /// Blended, unlit.
    pub translucent: Handle<StandardMaterial>,
}

impl Streamer {
    /// Start the workers of a scene.
    pub fn new(scene: Arc<StreamScene>) -> Streamer {
        let loader = Loader::start(&scene);
        let slots = scene
            .layers
            .iter()
            .map(|l| (0..l.tree.nodes.len()).map(|_| Slot::Empty).collect())
            .collect();
        Streamer {
            scene,
            loader,
            slots,
            drawn: HashSet::new(),
            in_flight: 0,
            frame: 0,
            bytes: 0,
            idle_frames: 0,
            counts: StreamCounts::default(),
            hidden: HashSet::new(),
        }
    }

    /// Whether nothing is wanted or loading (for a few frames in a row).
    pub fn is_idle(&self) -> bool {
        self.idle_frames >= 3
    }

    /// The tiles drawn in the last frame.
    pub fn drawn_tiles(&self) -> impl Iterator<Item = &LoadedTile> {
        self.drawn
            .iter()
            .filter_map(|&(l, n)| match &self.slots[l][n] {
                Slot::Loaded { tile, .. } => Some(&**tile),
                _ => None,
            })
    }

    /// The feature a ray (bevy frame) hits first among the drawn tiles.
    pub fn pick(&self, ray: Ray3d) -> Option<Picked> {
        let o = [
            f64::from(ray.origin.x),
            -f64::from(ray.origin.z),
            f64::from(ray.origin.y),
        ];
        let d = [
            f64::from(ray.direction.x),
            -f64::from(ray.direction.z),
            f64::from(ray.direction.y),
        ];
        pick(&self.scene, self.drawn_tiles(), o, d)
    }
}

fn num(p: &Map<String, Value>, k: &str) -> Option<f64> {
    p.get(k).and_then(Value::as_f64)
}

/// The display colour (sRGB) of a streamed feature under a colour mode, as a twin folder's
/// building would have it.
pub fn feature_colour(p: &Map<String, Value>, by: ColourBy) -> [u8; 3] {
    let s = |k: &str| p.get(k).and_then(Value::as_str).filter(|s| !s.is_empty());
    match by {
        ColourBy::Height => height_colour(num(p, "height").unwrap_or(0.0)),
        ColourBy::Use => use_colour(s("use")),
        ColourBy::Heritage => zone_colour(s("heritage_zone")),
        ColourBy::Flood => colour::building_colour(
            num(p, "max_flood_depth").filter(|d| *d >= 0.0),
            colour::WET_THRESHOLD_M,
        ),
    }
}

fn colours(layer: &str, tile: &LoadedTile, p: &LocalPrimitive, by: ColourBy) -> Vec<[f32; 4]> {
    let building = tile.class.as_deref() == Some("building");
    let lin = |c: [u8; 3]| Color::srgb_u8(c[0], c[1], c[2]).to_linear().to_f32_array();
    if layer == "terrain" {
        // By height, as the twin folder's terrain is drawn.
        return p
            .positions
            .iter()
            .map(|v| lin(colour::terrain_colour(f64::from(v[2]))))
            .collect();
    }
    if building && !p.feature_ids.is_empty() {
        let per: Vec<[f32; 4]> = tile
            .features
            .iter()
            .map(|f| lin(feature_colour(f, by)))
            .collect();
        let none = [1.0, 1.0, 1.0, 1.0];
        p.feature_ids
            .iter()
            .map(|&f| per.get(f as usize).copied().unwrap_or(none))
            .collect()
    } else {
        vec![p.colour; p.positions.len()]
    }
}

fn bevy_mesh(layer: &str, tile: &LoadedTile, p: &LocalPrimitive, by: ColourBy) -> Mesh {
    let pos: Vec<[f32; 3]> = p.positions.iter().map(|v| [v[0], v[2], -v[1]]).collect();
    let nrm: Vec<[f32; 3]> = p
        .normals
        .iter()
        .map(|n| {
            if *n == [0.0; 3] {
                [0.0, 1.0, 0.0]
            } else {
                [n[0], n[2], -n[1]]
            }
        })
        .collect();
    Mesh::new(
        PrimitiveTopology::TriangleList,
        RenderAssetUsages::RENDER_WORLD | RenderAssetUsages::MAIN_WORLD,
    )
    .with_inserted_attribute(Mesh::ATTRIBUTE_POSITION, pos)
    .with_inserted_attribute(Mesh::ATTRIBUTE_NORMAL, nrm)
    .with_inserted_attribute(Mesh::ATTRIBUTE_COLOR, colours(layer, tile, p, by))
    .with_inserted_indices(Indices::U32(p.indices.clone()))
}

/// The local (z-up) box of a bevy-frame box and back: bevy (x, y, z) is local (x, −z, y).
fn bevy_box(b: &([f64; 3], [f64; 3])) -> Aabb3d {
    Aabb3d {
        min: Vec3A::new(b.0[0] as f32, b.0[2] as f32, -b.1[1] as f32),
        max: Vec3A::new(b.1[0] as f32, b.1[2] as f32, -b.0[1] as f32),
    }
}

/// The streaming system (Update): receive loads, traverse, show and hide, ask, unload.
#[allow(clippy::too_many_arguments)]
pub fn stream_tiles(
    mut commands: Commands,
    streamer: Option<ResMut<Streamer>>,
    state: Res<crate::app::ViewState>,
    mats: Option<Res<StreamMaterials>>,
    mut meshes: ResMut<Assets<Mesh>>,
    cams: Query<(&Camera, &GlobalTransform, &Projection, &Frustum), With<crate::app::ViewerCamera>>,
) {
    let (Some(mut st), Some(mats)) = (streamer, mats) else {
        return;
    };
    let Some((cam, gt, proj, frustum)) = cams.iter().next() else {
        return;
    };
    let st = &mut *st;
    st.frame += 1;
    let frame = st.frame;
    // 1. Finished loads become hidden meshes.
    let done: Vec<_> = match st.loader.results.lock() {
        Ok(rx) => rx.try_iter().collect(),
        Err(_) => Vec::new(),
    };
    for (l, n, res) in done {
        st.in_flight = st.in_flight.saturating_sub(1);
        match res {
            Ok(tile) => {
                let tile = Arc::new(tile);
                let name = st.scene.layers[l].name.clone();
                let mut entities = Vec::with_capacity(tile.primitives.len());
                for (k, p) in tile.primitives.iter().enumerate() {
                    let mesh = meshes.add(bevy_mesh(&name, &tile, p, state.colour_by));
                    let mat = if p.blend {
                        mats.translucent.clone()
                    } else {
                        mats.solid.clone()
                    };
                    entities.push(
                        commands
                            .spawn((
                                Mesh3d(mesh),
                                MeshMaterial3d(mat),
                                Visibility::Hidden,
                                StreamPrim {
                                    layer: l,
                                    node: n,
                                    prim: k,
                                },
                            ))
                            .id(),
                    );
                }
                st.bytes += tile.bytes;
                st.counts.loaded += 1;
                st.slots[l][n] = Slot::Loaded {
                    tile,
                    entities,
                    last_used: frame,
                };
            }
            Err(e) => {
                error!("tile {n} of {}: {e}", st.scene.layers[l].name);
                st.counts.failed += 1;
                st.slots[l][n] = Slot::Failed;
            }
        }
    }
    // 2. Traverse every layer.
    let t = gt.translation();
    let pos = [f64::from(t.x), -f64::from(t.z), f64::from(t.y)];
    let height_px = cam
        .physical_viewport_size()
        .map_or(1080.0, |s| f64::from(s.y));
    let fov_y = match proj {
        Projection::Perspective(p) => f64::from(p.fov),
        _ => std::f64::consts::FRAC_PI_4,
    };
    let live = frustum.half_spaces[0].normal() != Vec3A::ZERO;
    let visible = |b: &([f64; 3], [f64; 3])| {
        if !live {
            return true;
        }
        let a = bevy_box(b);
        let aabb = bevy::camera::primitives::Aabb::from_min_max(a.min.into(), a.max.into());
        frustum.intersects_obb_identity(&aabb)
    };
    let eye = Eye {
        pos,
        height_px,
        fov_y,
        visible: &visible,
    };
    let mut drawn = HashSet::new();
    let mut wants: Vec<(f64, usize, usize)> = Vec::new();
    let mut keep: Vec<(usize, usize)> = Vec::new();
    for (l, layer) in st.scene.layers.iter().enumerate() {
        if st.hidden.contains(&l) {
            continue;
        }
        let slots = &st.slots[l];
        let loaded = |i: usize| matches!(slots[i], Slot::Loaded { .. } | Slot::Failed);
        let s = select(&layer.tree, &eye, st.scene.options.max_sse, &loaded);
        drawn.extend(s.draw.iter().map(|&n| (l, n)));
        keep.extend(s.keep.iter().map(|&n| (l, n)));
        wants.extend(s.want.iter().map(|&(p, n)| (p, l, n)));
    }
    // 3. Show what is drawn now, hide what was drawn before.
    for &(l, n) in drawn.difference(&st.drawn) {
        if let Slot::Loaded { entities, .. } = &st.slots[l][n] {
            for &e in entities {
                commands.entity(e).insert(Visibility::Visible);
            }
        }
    }
    for &(l, n) in st.drawn.difference(&drawn) {
        if let Slot::Loaded { entities, .. } = &st.slots[l][n] {
            for &e in entities {
                commands.entity(e).insert(Visibility::Hidden);
            }
        }
    }
    for &(l, n) in drawn.iter().chain(&keep) {
        if let Slot::Loaded { last_used, .. } = &mut st.slots[l][n] {
            *last_used = frame;
        }
    }
    st.counts.drawn = drawn.len();
    st.counts.kept = keep.len();
    st.drawn = drawn;
    // 4. Ask for what is wanted, nearest and coarsest first.
    wants.retain(|&(_, l, n)| matches!(st.slots[l][n], Slot::Empty));
    wants.sort_by(|a, b| a.0.total_cmp(&b.0));
    for (_, l, n) in wants.iter().copied() {
        if st.in_flight >= st.scene.options.max_in_flight {
            break;
        }
        let node = &st.scene.layers[l].tree.nodes[n];
        let Some(url) = node.content.clone() else {
            continue;
        };
        if st.loader.request(Job {
            layer: l,
            node: n,
            url,
            world: node.world,
        }) {
            st.in_flight += 1;
            st.slots[l][n] = Slot::Requested;
        }
    }
    st.idle_frames = if wants.is_empty() && st.in_flight == 0 {
        st.idle_frames + 1
    } else {
        0
    };
    // 5. Unload: far tiles undrawn for a while, then over the budget the least recently
    // drawn and farthest.
    let opts = st.scene.options.clone();
    if frame % 30 == 0 || st.bytes > opts.memory_budget {
        let mut cands: Vec<(u64, f64, usize, usize)> = Vec::new();
        for (l, layer) in st.slots.iter().enumerate() {
            for (n, s) in layer.iter().enumerate() {
                if let Slot::Loaded { last_used, .. } = s {
                    if *last_used < frame {
                        let b = &st.scene.layers[l].tree.nodes[n].bounds;
                        cands.push((*last_used, distance_to_box(pos, b), l, n));
                    }
                }
            }
        }
        cands.sort_by(|a, b| a.0.cmp(&b.0).then(b.1.total_cmp(&a.1)));
        for (last, dist, l, n) in cands {
            let far = frame - last > UNLOAD_AFTER_FRAMES && dist > opts.unload_distance_m;
            if !far && st.bytes <= opts.memory_budget {
                continue;
            }
            if let Slot::Loaded { tile, entities, .. } =
                std::mem::replace(&mut st.slots[l][n], Slot::Empty)
            {
                for e in entities {
                    commands.entity(e).despawn();
                }
                st.bytes = st.bytes.saturating_sub(tile.bytes);
                st.counts.unloaded += 1;
            }
        }
    }
    st.counts.resident = st.counts.loaded - st.counts.unloaded;
}

/// Recolour streamed buildings when the colour mode changes (Update).
pub fn recolour_streamed(
    streamer: Option<Res<Streamer>>,
    state: Res<crate::app::ViewState>,
    mut meshes: ResMut<Assets<Mesh>>,
    q: Query<(&Mesh3d, &StreamPrim)>,
    mut last: Local<Option<ColourBy>>,
) {
    let Some(st) = streamer else { return };
    if *last == Some(state.colour_by) {
        return;
    }
    *last = Some(state.colour_by);
    for (m, sp) in &q {
        let Slot::Loaded { tile, .. } = &st.slots[sp.layer][sp.node] else {
            continue;
        };
        let Some(p) = tile.primitives.get(sp.prim) else {
            continue;
        };
        if let Some(mut mesh) = meshes.get_mut(&m.0) {
            let name = &st.scene.layers[sp.layer].name;
            mesh.insert_attribute(
                Mesh::ATTRIBUTE_COLOR,
                colours(name, tile, p, state.colour_by),
            );
        }
    }
}
