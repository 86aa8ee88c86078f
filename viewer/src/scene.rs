//! What the viewer draws, built on the CPU from a twin and its runs: the renderer crate's
//! layer meshes (the same geometry as `twin render`), the buildings' attributes for colouring
//! and picking, and the floating origin.
//!
//! Coordinates: the project CRS (metres, x east, y north, z up) minus a floating origin at the
//! centre of the twin's extent, so that f32 keeps millimetres anywhere in a city; bevy's frame
//! is y-up, so a local point (x, y, z) is drawn at bevy (x, z, −y) (a rotation: windings and
//! handedness are kept).

use crate::error::{Result, ViewerError};
use bevy::asset::RenderAssetUsages;
use bevy::color::{Color, ColorToComponents};
use bevy::math::{Ray3d, Vec3};
use bevy::mesh::{Indices, Mesh, PrimitiveTopology};
use geo_types::Polygon;
use renderer::render::mesh::{self as rmesh, Frame, Mesh as LayerMesh};
use renderer::render::{colour, FloodLayer, Scene, TrafficLayer};
use scenarios::output::RunDir;
use std::ops::Range;
use std::path::{Path, PathBuf};
use twin_core::{Crs, Twin, TwinDir};

/// The most terrain vertices drawn (the DEM is subsampled above this).
pub const MAX_TERRAIN_VERTICES: usize = 1_000_000;
/// Roads float this far (m) over the terrain.
pub const ROAD_LIFT_M: f64 = 1.0;
/// The water surface floats this far (m) over its level, over the terrain where it is thin.
pub const WATER_LIFT_M: f64 = 0.2;
/// Heritage sites are drawn this far (m) over the terrain, as translucent areas.
pub const HERITAGE_LIFT_M: f64 = 1.5;
/// Opacity (of 255) of the heritage areas.
pub const HERITAGE_ALPHA: u8 = 72;
/// The most depth snapshots of a run the viewer animates.
pub const MAX_WATER_FRAMES: usize = 1_000;

/// How buildings are coloured.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum ColourBy {
    /// By height: pale below 6 m, dark red from 60 m.
    Height,
    /// By use (OSM `building` values): homes, shops and offices, public, religious, other.
    Use,
    /// By the protection zone of the heritage site the building stands in (I, II, none).
    Heritage,
    /// By the largest flood depth of the loaded flood run (the renderer's ramp).
    Flood,
}

impl ColourBy {
    /// The next mode (the interactive window cycles with a key).
    pub fn next(self) -> ColourBy {
        match self {
            ColourBy::Height => ColourBy::Use,
            ColourBy::Use => ColourBy::Heritage,
            ColourBy::Heritage => ColourBy::Flood,
            ColourBy::Flood => ColourBy::Height,
        }
    }
}

/// Colour of a building `h` m tall.
pub fn height_colour(h: f64) -> [u8; 3] {
    const STOPS: &[(f64, [u8; 3])] = &[
        (0.0, [236, 232, 214]),
        (6.0, [236, 232, 214]),
        (12.0, [250, 204, 120]),
        (24.0, [240, 140, 60]),
        (40.0, [206, 70, 44]),
        (60.0, [140, 24, 40]),
    ];
    colour::ramp(STOPS, h)
}

/// Colour of a building use (OSM `building=*` or the twin's usage).
pub fn use_colour(usage: Option<&str>) -> [u8; 3] {
    match usage.unwrap_or("").to_ascii_lowercase().as_str() {
        "house" | "residential" | "apartments" | "detached" | "terrace" | "semidetached_house"
        | "dormitory" => [236, 214, 160],
        "commercial" | "retail" | "office" | "hotel" | "shop" | "supermarket" | "kiosk"
        | "industrial" | "warehouse" => [120, 160, 220],
        "school" | "university" | "college" | "hospital" | "public" | "government" | "civic"
        | "train_station" | "kindergarten" => [120, 196, 140],
        "temple" | "pagoda" | "church" | "cathedral" | "religious" | "shrine" | "chapel" => {
            [196, 120, 200]
        }
        _ => [196, 196, 190],
    }
}

/// Colour of a heritage protection zone ("I" core, "II" buffer, none).
pub fn zone_colour(zone: Option<&str>) -> [u8; 3] {
    match zone.map(str::trim) {
        Some("I") => [200, 40, 40],
        Some("II") => [246, 150, 40],
        Some(z) if !z.is_empty() => [240, 210, 80],
        _ => colour::BUILDING_DRY,
    }
}

/// A building's attributes, shown when it is picked.
#[derive(Clone, Debug, PartialEq)]
pub struct BuildingInfo {
    /// The twin's id.
    pub id: String,
    /// Name, when it has one.
    pub name: Option<String>,
    /// Use (OSM `building=*`).
    pub usage: Option<String>,
    /// Levels.
    pub levels: Option<u32>,
    /// Height (m) from base to roof as drawn.
    pub height: f64,
    /// Base height (m, orthometric): its own, else the lowest ground under it.
    pub base: f64,
    /// Protection zone of the heritage site it stands in.
    pub heritage_zone: Option<String>,
    /// Id of that heritage site.
    pub heritage_site: Option<String>,
    /// Largest flood depth (m) in the loaded flood run.
    pub max_flood_depth: Option<f64>,
}

impl BuildingInfo {
    /// The attributes as (name, value) pairs, in display order.
    pub fn attributes(&self) -> Vec<(&'static str, String)> {
        let opt = |s: &Option<String>| s.clone().unwrap_or_else(|| "-".into());
        vec![
            ("id", self.id.clone()),
            ("name", opt(&self.name)),
            ("use", opt(&self.usage)),
            (
                "levels",
                self.levels.map_or_else(|| "-".into(), |l| l.to_string()),
            ),
            ("height_m", format!("{:.1}", self.height)),
            ("base_m", format!("{:.1}", self.base)),
            ("heritage_zone", opt(&self.heritage_zone)),
            ("heritage_site", opt(&self.heritage_site)),
            (
                "max_flood_depth_m",
                self.max_flood_depth
                    .map_or_else(|| "-".into(), |d| format!("{d:.2}")),
            ),
        ]
    }
}

/// A heritage site as drawn.
#[derive(Clone, Debug)]
pub struct HeritageArea {
    /// The twin's id.
    pub id: String,
    /// Name.
    pub name: Option<String>,
    /// Protection zone.
    pub zone: Option<String>,
    /// Outline (project CRS).
    pub polygons: Vec<Polygon<f64>>,
}

impl HeritageArea {
    /// The attributes as (name, value) pairs, in display order.
    pub fn attributes(&self) -> Vec<(&'static str, String)> {
        let opt = |s: &Option<String>| s.clone().unwrap_or_else(|| "-".into());
        vec![
            ("id", self.id.clone()),
            ("name", opt(&self.name)),
            ("zone", opt(&self.zone)),
        ]
    }
}

/// A flood run loaded for the viewer.
#[derive(Clone, Debug)]
pub struct FloodRun {
    /// The result folder.
    pub dir: PathBuf,
    /// The depth snapshots' times (s), increasing.
    pub times: Vec<f64>,
}

/// Everything the viewer draws, in the local frame.
#[derive(Clone, Debug)]
pub struct ViewerScene {
    /// The layers and results, as the renderer crate reads them.
    pub scene: Scene,
    /// The floating origin.
    pub frame: Frame,
    /// One entry per building of `scene.buildings`, same order.
    pub buildings: Vec<BuildingInfo>,
    /// Heritage sites.
    pub heritage: Vec<HeritageArea>,
    /// The flood run whose water is animated.
    pub flood: Option<FloodRun>,
    /// Extruded buildings (colour to be set), local frame.
    building_mesh: LayerMesh,
    /// Per building: its vertices and its indices in `building_mesh`.
    building_ranges: Vec<(Range<usize>, Range<usize>)>,
    /// Per building: its box in the local frame (min, max).
    building_boxes: Vec<([f64; 3], [f64; 3])>,
}

fn to_bevy_dir(v: [f64; 3]) -> Vec3 {
    Vec3::new(v[0] as f32, v[2] as f32, -v[1] as f32)
}

fn from_bevy(v: Vec3) -> [f64; 3] {
    [f64::from(v.x), -f64::from(v.z), f64::from(v.y)]
}

fn linear(c: [u8; 4]) -> [f32; 4] {
    Color::srgba_u8(c[0], c[1], c[2], c[3])
        .to_linear()
        .to_f32_array()
}

/// A layer mesh as a bevy mesh: positions and normals turned into bevy's y-up frame, display
/// colours into linear vertex colours; zero normals (unlit layers) point up.
pub fn to_bevy_mesh(m: &LayerMesh) -> Mesh {
    let pos: Vec<[f32; 3]> = m
        .vertices
        .iter()
        .map(|v| [v.pos[0], v.pos[2], -v.pos[1]])
        .collect();
    let nrm: Vec<[f32; 3]> = m
        .vertices
        .iter()
        .map(|v| {
            if v.normal == [0.0; 3] {
                [0.0, 1.0, 0.0]
            } else {
                [v.normal[0], v.normal[2], -v.normal[1]]
            }
        })
        .collect();
    let col: Vec<[f32; 4]> = m.vertices.iter().map(|v| linear(v.color)).collect();
    Mesh::new(
        PrimitiveTopology::TriangleList,
        RenderAssetUsages::RENDER_WORLD | RenderAssetUsages::MAIN_WORLD,
    )
    .with_inserted_attribute(Mesh::ATTRIBUTE_POSITION, pos)
    .with_inserted_attribute(Mesh::ATTRIBUTE_NORMAL, nrm)
    .with_inserted_attribute(Mesh::ATTRIBUTE_COLOR, col)
    .with_inserted_indices(Indices::U32(m.indices.clone()))
}

/// Möller–Trumbore: the distance along `d` from `o` to triangle (a, b, c), both sides.
pub(crate) fn ray_triangle(
    o: [f64; 3],
    d: [f64; 3],
    a: [f64; 3],
    b: [f64; 3],
    c: [f64; 3],
) -> Option<f64> {
    let sub = |p: [f64; 3], q: [f64; 3]| [p[0] - q[0], p[1] - q[1], p[2] - q[2]];
    let cross = |p: [f64; 3], q: [f64; 3]| {
        [
            p[1] * q[2] - p[2] * q[1],
            p[2] * q[0] - p[0] * q[2],
            p[0] * q[1] - p[1] * q[0],
        ]
    };
    let dot = |p: [f64; 3], q: [f64; 3]| p[0] * q[0] + p[1] * q[1] + p[2] * q[2];
    let (e1, e2) = (sub(b, a), sub(c, a));
    let p = cross(d, e2);
    let det = dot(e1, p);
    if det.abs() < 1e-12 {
        return None;
    }
    let inv = 1.0 / det;
    let s = sub(o, a);
    let u = dot(s, p) * inv;
    if !(0.0..=1.0).contains(&u) {
        return None;
    }
    let q = cross(s, e1);
    let v = dot(d, q) * inv;
    if v < 0.0 || u + v > 1.0 {
        return None;
    }
    let t = dot(e2, q) * inv;
    (t > 0.0).then_some(t)
}

/// Slab test: whether the ray enters the box before `tmax`.
pub(crate) fn ray_box(o: [f64; 3], d: [f64; 3], lo: [f64; 3], hi: [f64; 3], tmax: f64) -> bool {
    let (mut t0, mut t1) = (0.0f64, tmax);
    for k in 0..3 {
        if d[k].abs() < 1e-15 {
            if o[k] < lo[k] || o[k] > hi[k] {
                return false;
            }
            continue;
        }
        let (a, b) = ((lo[k] - o[k]) / d[k], (hi[k] - o[k]) / d[k]);
        t0 = t0.max(a.min(b));
        t1 = t1.min(a.max(b));
        if t0 > t1 {
            return false;
        }
    }
    true
}

impl ViewerScene {
    /// Open a twin folder: its store when built, else its sources imported in memory (as
    /// `twin render` does).
    pub fn open(dir: &Path) -> Result<ViewerScene> {
        let twin_err = |source| ViewerError::Twin {
            path: dir.to_path_buf(),
            source,
        };
        let td = TwinDir::open(dir).map_err(twin_err)?;
        let twin = td.load().map_err(twin_err)?;
        ViewerScene::from_twin(&twin)
    }

    /// The scene of a twin in memory: terrain, buildings, roads, heritage sites.
    pub fn from_twin(twin: &Twin) -> Result<ViewerScene> {
        let scene = Scene::from_twin(twin)
            .map_err(|e| ViewerError::scene(format!("twin {:?}", twin.name), e))?;
        let e = scene.extent;
        let frame = Frame {
            origin: [(e[0] + e[2]) / 2.0, (e[1] + e[3]) / 2.0],
        };
        let feats = twin.buildings.features();
        let mut buildings = Vec::with_capacity(scene.buildings.len());
        let mut building_mesh = LayerMesh::new();
        let mut building_ranges = Vec::with_capacity(scene.buildings.len());
        let mut building_boxes = Vec::with_capacity(scene.buildings.len());
        // Scene::from_twin keeps the layer's order: shape k is feature k.
        for (b, f) in scene.buildings.iter().zip(feats.iter()) {
            let site = tiles3d::heritage_of(twin, f);
            buildings.push(BuildingInfo {
                id: b.id.clone(),
                name: f.name.clone(),
                usage: f.usage.clone(),
                levels: f.levels,
                height: b.top - b.base,
                base: b.base,
                heritage_zone: site.and_then(|s| s.zone.clone()),
                heritage_site: site.map(|s| s.id.clone()),
                max_flood_depth: None,
            });
            let (v0, i0) = (building_mesh.vertices.len(), building_mesh.indices.len());
            for p in &b.footprint.0 {
                rmesh::extrude(&mut building_mesh, frame, p, b.base, b.top, [255; 4]);
            }
            let (v1, i1) = (building_mesh.vertices.len(), building_mesh.indices.len());
            let (mut lo, mut hi) = ([f64::INFINITY; 3], [f64::NEG_INFINITY; 3]);
            for v in &building_mesh.vertices[v0..v1] {
                for k in 0..3 {
                    lo[k] = lo[k].min(f64::from(v.pos[k]));
                    hi[k] = hi[k].max(f64::from(v.pos[k]));
                }
            }
            building_ranges.push((v0..v1, i0..i1));
            building_boxes.push((lo, hi));
        }
        let heritage = twin
            .heritage
            .features()
            .iter()
            .map(|h| HeritageArea {
                id: h.id.clone(),
                name: h.name.clone(),
                zone: h.zone.clone(),
                polygons: h.polygon.0.clone(),
            })
            .collect();
        Ok(ViewerScene {
            scene,
            frame,
            buildings,
            heritage,
            flood: None,
            building_mesh,
            building_ranges,
            building_boxes,
        })
    }

    /// The project CRS.
    pub fn crs(&self) -> &Crs {
        &self.scene.crs
    }

    /// Load a flood run folder: the buildings' largest depths and the depth snapshots' times.
    pub fn with_flood(mut self, dir: &Path) -> Result<ViewerScene> {
        let layer =
            FloodLayer::load(dir, None).map_err(|e| ViewerError::scene(dir.display(), e))?;
        let times: Vec<f64> = RunDir::new(dir)
            .snapshots()
            .into_iter()
            .map(|(t, _)| t as f64)
            .take(MAX_WATER_FRAMES)
            .collect();
        for b in &mut self.buildings {
            b.max_flood_depth = layer.building_depths.get(&b.id).copied();
        }
        self.scene = self.scene.with_flood(layer);
        self.flood = Some(FloodRun {
            dir: dir.to_path_buf(),
            times,
        });
        Ok(self)
    }

    /// Load a traffic run folder: roads coloured by v/c, closed roads marked.
    pub fn with_traffic(mut self, dir: &Path) -> Result<ViewerScene> {
        let layer = TrafficLayer::load(dir).map_err(|e| ViewerError::scene(dir.display(), e))?;
        self.scene = self.scene.with_traffic(layer);
        Ok(self)
    }

    /// A local-frame point (bevy coordinates) for a project-CRS point.
    pub fn to_local(&self, p: [f64; 3]) -> Vec3 {
        to_bevy_dir([
            p[0] - self.frame.origin[0],
            p[1] - self.frame.origin[1],
            p[2],
        ])
    }

    /// The project-CRS point of a local-frame (bevy) point.
    pub fn to_project(&self, v: Vec3) -> [f64; 3] {
        let l = from_bevy(v);
        [
            l[0] + self.frame.origin[0],
            l[1] + self.frame.origin[1],
            l[2],
        ]
    }

    /// The terrain height (m) at a project-CRS point, 0 off the terrain.
    pub fn ground(&self, x: f64, y: f64) -> f64 {
        self.scene.ground(x, y)
    }

    /// The colour of building `k` under `by`.
    pub fn building_colour(&self, k: usize, by: ColourBy) -> [u8; 3] {
        let b = &self.buildings[k];
        match by {
            ColourBy::Height => height_colour(b.height),
            ColourBy::Use => use_colour(b.usage.as_deref()),
            ColourBy::Heritage => zone_colour(b.heritage_zone.as_deref()),
            ColourBy::Flood => self.scene.building_colour(&b.id),
        }
    }

    /// The terrain mesh.
    pub fn terrain_mesh(&self) -> LayerMesh {
        match &self.scene.terrain {
            Some(d) => rmesh::terrain(d, self.frame, MAX_TERRAIN_VERTICES),
            None => LayerMesh::new(),
        }
    }

    /// The buildings, coloured by `by`.
    pub fn buildings_mesh(&self, by: ColourBy) -> LayerMesh {
        let mut m = self.building_mesh.clone();
        for (k, (vr, _)) in self.building_ranges.iter().enumerate() {
            let c = self.building_colour(k, by);
            for v in &mut m.vertices[vr.clone()] {
                v.color = [c[0], c[1], c[2], 255];
            }
        }
        m
    }

    /// The roads: by v/c after a traffic run, closed roads dark, plain otherwise.
    pub fn roads_mesh(&self) -> LayerMesh {
        rmesh::roads(&self.scene, self.frame, 0.0, ROAD_LIFT_M, 30.0)
    }

    /// Heritage sites: translucent areas over the terrain in their zone's colour.
    pub fn heritage_mesh(&self) -> LayerMesh {
        let mut m = LayerMesh::new();
        for h in &self.heritage {
            self.push_heritage_area(&mut m, h);
        }
        m
    }

    /// Add one heritage site's area to a mesh.
    fn push_heritage_area(&self, m: &mut LayerMesh, h: &HeritageArea) {
        let c = zone_colour(h.zone.as_deref());
        for p in &h.polygons {
            let Some(outer) = twin_core::rings::clean_ring(p.exterior()) else {
                continue;
            };
            let mut rings = vec![outer];
            rings.extend(
                p.interiors()
                    .iter()
                    .filter_map(twin_core::rings::clean_ring),
            );
            let first = m.vertices.len() as u32;
            for &(x, y) in rings.iter().flatten() {
                let z = self.ground(x, y) + HERITAGE_LIFT_M;
                m.zmin = m.zmin.min(z);
                m.zmax = m.zmax.max(z);
                m.vertices.push(rmesh::Vertex {
                    pos: [
                        (x - self.frame.origin[0]) as f32,
                        (y - self.frame.origin[1]) as f32,
                        z as f32,
                    ],
                    normal: [0.0; 3],
                    color: [c[0], c[1], c[2], HERITAGE_ALPHA],
                });
            }
            m.indices.extend(
                twin_core::rings::triangulate(&rings)
                    .iter()
                    .flatten()
                    .map(|&i| first + i as u32),
            );
        }
    }

    /// The water surface of the flood run at output time `time_s` (the nearest snapshot at or
    /// before it); None without a flood run or before its first snapshot.
    pub fn water_mesh(&self, time_s: f64) -> Result<Option<LayerMesh>> {
        let Some(run) = &self.flood else {
            return Ok(None);
        };
        let Some(&t) = run.times.iter().rev().find(|&&t| t <= time_s + 0.5) else {
            return Ok(None);
        };
        let layer = FloodLayer::load(&run.dir, Some(t))
            .map_err(|e| ViewerError::scene(run.dir.display(), e))?;
        Ok(Some(rmesh::water_smooth(
            &layer,
            self.scene.terrain.as_ref(),
            self.frame,
            WATER_LIFT_M,
        )))
    }

    /// The building a ray (bevy frame) hits first, with the distance; both sides of every
    /// wall and roof count.
    pub fn pick(&self, ray: Ray3d) -> Option<(usize, f64)> {
        let o = from_bevy(ray.origin);
        let d = from_bevy(*ray.direction);
        let mut best: Option<(usize, f64)> = None;
        let vs = &self.building_mesh.vertices;
        let at = |i: u32| vs[i as usize].pos.map(f64::from);
        for (k, ((_, ir), (lo, hi))) in self
            .building_ranges
            .iter()
            .zip(&self.building_boxes)
            .enumerate()
        {
            let tmax = best.map_or(f64::INFINITY, |b| b.1);
            if ir.is_empty() || !ray_box(o, d, *lo, *hi, tmax) {
                continue;
            }
            for tri in self.building_mesh.indices[ir.clone()].chunks_exact(3) {
                if let Some(t) = ray_triangle(o, d, at(tri[0]), at(tri[1]), at(tri[2])) {
                    if best.is_none_or(|b| t < b.1) {
                        best = Some((k, t));
                    }
                }
            }
        }
        best
    }

    /// The heritage site a ray (bevy frame) meets first on its translucent area over the
    /// terrain, with the distance.
    pub fn pick_heritage(&self, ray: Ray3d) -> Option<(usize, f64)> {
        let o = from_bevy(ray.origin);
        let d = from_bevy(*ray.direction);
        let mut best: Option<(usize, f64)> = None;
        for (k, h) in self.heritage.iter().enumerate() {
            let mut m = LayerMesh::new();
            self.push_heritage_area(&mut m, h);
            let at = |i: u32| m.vertices[i as usize].pos.map(f64::from);
            for tri in m.indices.chunks_exact(3) {
                if let Some(t) = ray_triangle(o, d, at(tri[0]), at(tri[1]), at(tri[2])) {
                    if best.is_none_or(|b| t < b.1) {
                        best = Some((k, t));
                    }
                }
            }
        }
        best
    }

    /// Index of the building with this id.
    pub fn building_index(&self, id: &str) -> Option<usize> {
        self.buildings.iter().position(|b| b.id == id)
    }

    /// A point on the roof of building `k` (project CRS): inside its footprint, at its top.
    pub fn roof_point(&self, k: usize) -> Option<[f64; 3]> {
        let b = self.scene.buildings.get(k)?;
        let (x, y) = self.scene.building_inside_point(&b.id)?;
        Some([x, y, b.top])
    }
}

impl crate::presets::Place for ViewerScene {
    fn crs(&self) -> &Crs {
        &self.scene.crs
    }
    fn extent(&self) -> [f64; 4] {
        self.scene.extent
    }
    fn origin(&self) -> [f64; 2] {
        self.frame.origin
    }
    fn ground(&self, x: f64, y: f64) -> f64 {
        ViewerScene::ground(self, x, y)
    }
    fn title(&self) -> String {
        self.scene.title.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_floating_origin_keeps_millimetres_far_from_the_crs_origin() {
        // UTM 48N coordinates of Hue are about (750 000, 1 823 000): f32 alone keeps 6 cm.
        let origin = [750_123.0, 1_823_456.0];
        let p = [751_234.567_8, 1_822_345.678_9, 12.345];
        let local = to_bevy_dir([p[0] - origin[0], p[1] - origin[1], p[2]]);
        let back = from_bevy(local);
        let q = [back[0] + origin[0], back[1] + origin[1], back[2]];
        for k in 0..3 {
            assert!((q[k] - p[k]).abs() < 1e-3, "axis {k}: {} vs {}", q[k], p[k]);
        }
        // Without the origin the same point moves by centimetres.
        let raw = (p[1] as f32) as f64;
        assert!((raw - p[1]).abs() > 1e-2);
    }

    #[test]
    fn rays_hit_triangles_and_boxes_where_they_should() {
        let (a, b, c) = ([0.0, 0.0, 0.0], [10.0, 0.0, 0.0], [0.0, 10.0, 0.0]);
        // Straight down onto the triangle from 100 m up.
        let t = ray_triangle([2.0, 2.0, 100.0], [0.0, 0.0, -1.0], a, b, c).unwrap();
        assert!((t - 100.0).abs() < 1e-9);
        assert!(ray_triangle([9.0, 9.0, 100.0], [0.0, 0.0, -1.0], a, b, c).is_none());
        assert!(ray_triangle([2.0, 2.0, 100.0], [0.0, 0.0, 1.0], a, b, c).is_none());
        assert!(ray_box(
            [5.0, 5.0, 50.0],
            [0.0, 0.0, -1.0],
            [0.0; 3],
            [10.0; 3],
            1e9
        ));
        assert!(!ray_box(
            [5.0, 5.0, 50.0],
            [0.0, 0.0, -1.0],
            [0.0; 3],
            [10.0; 3],
            20.0
        ));
        assert!(!ray_box(
            [15.0, 5.0, 50.0],
            [0.0, 0.0, -1.0],
            [0.0; 3],
            [10.0; 3],
            1e9
        ));
    }

    #[test]
    fn colour_modes_cycle_and_ramps_hold_their_ends() {
        let mut m = ColourBy::Height;
        for _ in 0..4 {
            m = m.next();
        }
        assert_eq!(m, ColourBy::Height);
        assert_eq!(height_colour(3.0), [236, 232, 214]);
        assert_eq!(height_colour(80.0), [140, 24, 40]);
        assert_eq!(zone_colour(Some("I")), [200, 40, 40]);
        assert_eq!(zone_colour(None), colour::BUILDING_DRY);
        assert_eq!(use_colour(Some("Hospital")), [120, 196, 140]);
    }
}
