//! Headless pictures of a twin with scenario results on it, drawn with wgpu and written as PNG.
//!
//! A [`Scene`] holds what is drawn: the terrain (the twin's first DEM, lit, coloured by height),
//! the buildings (extruded footprints coloured by a flood result's per-building largest depth),
//! the water surface of a flood depth raster (translucent blue by depth), the roads (coloured by
//! a traffic result's volume/capacity) and a legend. A [`Camera`] is either an orthographic
//! top-down map or a perspective view. [`Renderer::render`] draws into an [`Image`];
//! [`render_png`] does it all in one call.
//!
//! Results are read from the folders the scenario runs write: [`FloodLayer::load`] (a folder
//! with `max_depth.tif`) and [`TrafficLayer::load`] (a folder with `links.csv`).

pub mod colour;
mod draw;
mod legend;
pub mod mesh;
pub mod text;

pub use draw::Renderer;
pub use legend::scale_bar_length_m;

use crate::error::{RenderError, Result};
use geo::InteriorPoint;
use geo_types::{LineString, MultiPolygon};
use scenarios::output::{FeatureTable, Raster, RunDir};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use twin_core::crs::{Crs, Transform};
use twin_core::model::Dem;
use twin_core::Twin;

/// Which layers a picture shows (all by default).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Layers {
    /// The terrain mesh.
    pub terrain: bool,
    /// Extruded buildings.
    pub buildings: bool,
    /// The flood's water surface.
    pub water: bool,
    /// Roads.
    pub roads: bool,
    /// Legend, title, scale bar and north arrow.
    pub legend: bool,
}

impl Default for Layers {
    fn default() -> Self {
        Layers {
            terrain: true,
            buildings: true,
            water: true,
            roads: true,
            legend: true,
        }
    }
}

/// A building as drawn: footprint, base and top heights, id (to find its flood depth).
#[derive(Clone, Debug)]
pub struct BuildingShape {
    /// The twin's id.
    pub id: String,
    /// Footprint in the project CRS.
    pub footprint: MultiPolygon<f64>,
    /// Height of the base (m).
    pub base: f64,
    /// Height of the roof (m).
    pub top: f64,
}

/// A road as drawn.
#[derive(Clone, Debug)]
pub struct RoadLine {
    /// The twin's id (matched against a traffic result's `road_id`).
    pub id: String,
    /// Centre line in the project CRS.
    pub line: LineString<f64>,
    /// OSM highway class (sets the width).
    pub class: String,
}

/// A flood result to draw: a depth raster and the per-building largest depths.
#[derive(Clone, Debug)]
pub struct FloodLayer {
    /// The result folder.
    pub dir: PathBuf,
    /// Scenario name (from `summary.json`), when known.
    pub name: Option<String>,
    /// Depth (m) per cell; `None` on blocked or nodata cells.
    pub depth: Dem,
    /// Ground height of the flood grid (`ground.tif`), when the folder has it; else the
    /// terrain is sampled.
    pub ground: Option<Dem>,
    /// The snapshot time drawn (s), None for the largest depth over the run.
    pub time_s: Option<f64>,
    /// Cells at least this deep (m) are water.
    pub threshold: f64,
    /// Largest depth (m) per building id, from `buildings.csv`.
    pub building_depths: HashMap<String, f64>,
    /// Depth classes to draw the water in (none by default: the translucent ramp of
    /// [`colour::water_colour`]); when given, each wet cell is drawn opaque in the colour of
    /// the deepest class it reaches, and the legend lists the classes.
    pub classes: Vec<WaterClass>,
}

/// A class of water depth drawn in one opaque colour ([`FloodLayer::classes`]).
#[derive(Clone, Debug, PartialEq)]
pub struct WaterClass {
    /// Least depth of the class (m); the class runs to the next deeper one's.
    pub min_m: f64,
    /// Its colour (display sRGB), exactly as the picture shows it.
    pub colour: [u8; 3],
    /// The class as the legend writes it.
    pub label: String,
}

/// A traffic result to draw: volume/capacity per road id.
#[derive(Clone, Debug, Default)]
pub struct TrafficLayer {
    /// Scenario name, when the folder's `summary.json` has one.
    pub name: Option<String>,
    /// The largest volume/capacity of the links of each road.
    pub vc: HashMap<String, f64>,
    /// Roads with a link closed by an edit or by flooding (drawn in [`colour::ROAD_CLOSED`],
    /// whatever their v/c); filled from the `closed` column of `links.csv` when it has one.
    pub closed: std::collections::HashSet<String>,
}

/// A straight line marked on a picture (a protected sightline, say): drawn as two crossed
/// ribbons, one flat and one upright, so that it shows from above and from the side.
#[derive(Clone, Debug, PartialEq)]
pub struct MarkLine {
    /// One end: x, y (project CRS) and height (m, the twin's heights).
    pub from: [f64; 3],
    /// The other end.
    pub to: [f64; 3],
    /// Its colour.
    pub colour: [u8; 3],
    /// Its width (m); on a map at least a few pixels whatever this says.
    pub width_m: f64,
}

/// What a picture marks over the twin: buildings in a colour of their own (a proposed
/// building) and lines (sightlines). None by default.
#[derive(Clone, Debug, Default)]
pub struct Marks {
    /// Buildings drawn after the twin's, each in its colour.
    pub buildings: Vec<(BuildingShape, [u8; 3])>,
    /// Lines drawn over the roads.
    pub lines: Vec<MarkLine>,
}

/// Everything a picture shows.
#[derive(Clone, Debug)]
pub struct Scene {
    /// Title in the legend.
    pub title: String,
    /// Extent (xmin, ymin, xmax, ymax) of the twin in the project CRS: the map's default view.
    pub extent: [f64; 4],
    /// The terrain (the twin's first DEM).
    pub terrain: Option<Dem>,
    /// Buildings.
    pub buildings: Vec<BuildingShape>,
    /// Roads.
    pub roads: Vec<RoadLine>,
    /// A flood result.
    pub flood: Option<FloodLayer>,
    /// A traffic result.
    pub traffic: Option<TrafficLayer>,
    /// The layers drawn.
    pub layers: Layers,
    /// The project CRS.
    pub crs: Crs,
    /// Buildings and lines marked over the twin (none by default).
    pub marks: Marks,
}

impl Scene {
    /// The terrain height (m) at a project-CRS point: 0 off the terrain, or where it has no
    /// finite height.
    pub fn ground(&self, x: f64, y: f64) -> f64 {
        self.terrain
            .as_ref()
            .and_then(|d| d.sample(x, y))
            .filter(|z| z.is_finite())
            .unwrap_or(0.0)
    }

    /// The area a map shows by default: the cells a flood wetted and the roads a traffic run
    /// closed or loaded past [`colour::VC_YELLOW`], with a margin of a fifth of the box (at
    /// least 250 m) each side, inside the twin's extent; the whole extent when the scene has
    /// no result or its result touches nothing.
    pub fn focus(&self) -> [f64; 4] {
        let mut b = [
            f64::INFINITY,
            f64::INFINITY,
            f64::NEG_INFINITY,
            f64::NEG_INFINITY,
        ];
        let mut grow = |x0: f64, y0: f64, x1: f64, y1: f64| {
            b = [b[0].min(x0), b[1].min(y0), b[2].max(x1), b[3].max(y1)];
        };
        if let Some(f) = &self.flood {
            let d = &f.depth;
            for row in 0..d.nrows {
                for col in 0..d.ncols {
                    if d.get(col, row).is_some_and(|v| f64::from(v) >= f.threshold) {
                        let x0 = d.xmin + col as f64 * d.cell_x;
                        let y1 = d.ymax - row as f64 * d.cell_y;
                        grow(x0, y1 - d.cell_y, x0 + d.cell_x, y1);
                    }
                }
            }
        }
        if let Some(t) = &self.traffic {
            for r in &self.roads {
                let hit = t.closed.contains(&r.id)
                    || t.vc.get(&r.id).is_some_and(|&v| v >= colour::VC_YELLOW);
                if hit {
                    for c in &r.line.0 {
                        grow(c.x, c.y, c.x, c.y);
                    }
                }
            }
        }
        let e = self.extent;
        if !(b[0] <= b[2] && b[1] <= b[3]) {
            return e;
        }
        let m = (0.2 * (b[2] - b[0]).max(b[3] - b[1])).max(250.0);
        let out = [
            (b[0] - m).max(e[0]),
            (b[1] - m).max(e[1]),
            (b[2] + m).min(e[2]),
            (b[3] + m).min(e[3]),
        ];
        if out[0] < out[2] && out[1] < out[3] {
            out
        } else {
            e
        }
    }
}

impl Scene {
    /// A scene of the twin alone (no results yet): terrain, buildings, roads.
    pub fn from_twin(twin: &Twin) -> Result<Scene> {
        let terrain = twin.terrain.first().cloned();
        let extent = match (&terrain, twin.extent()) {
            (Some(d), _) => d.extent(),
            (None, Some(e)) => e,
            (None, None) => {
                return Err(RenderError::invalid(
                    format!("twin {:?}", twin.name),
                    "it is empty: nothing to draw",
                ))
            }
        };
        let base_of = |fp: &MultiPolygon<f64>, own: f64| -> f64 {
            if own != 0.0 {
                return own;
            }
            terrain
                .as_ref()
                .and_then(|dem| twin_core::ground::lowest_on(dem, fp))
                .unwrap_or(0.0)
        };
        let buildings = twin
            .buildings
            .features()
            .iter()
            .map(|b| {
                let base = base_of(&b.footprint, b.base_height);
                let h = if b.height.is_finite() && b.height > 0.0 {
                    b.height
                } else {
                    3.0
                };
                BuildingShape {
                    id: b.id.clone(),
                    footprint: b.footprint.clone(),
                    base,
                    top: base + h,
                }
            })
            .collect();
        let roads = twin
            .roads
            .features()
            .iter()
            .map(|r| RoadLine {
                id: r.id.clone(),
                line: r.line.clone(),
                class: r.class.clone(),
            })
            .collect();
        Ok(Scene {
            title: twin.name.clone(),
            extent,
            terrain,
            buildings,
            roads,
            flood: None,
            traffic: None,
            layers: Layers::default(),
            crs: twin.crs.clone(),
            marks: Marks::default(),
        })
    }

    /// Add a flood result (its scenario name becomes the title).
    pub fn with_flood(mut self, flood: FloodLayer) -> Scene {
        if let Some(n) = &flood.name {
            self.title = n.clone();
        }
        self.flood = Some(flood);
        self
    }

    /// Add a traffic result (its name becomes the title when there is no flood).
    pub fn with_traffic(mut self, traffic: TrafficLayer) -> Scene {
        if self.flood.is_none() {
            if let Some(n) = &traffic.name {
                self.title = n.clone();
            }
        }
        self.traffic = Some(traffic);
        self
    }

    /// The largest flood depth of a building, when a flood result has it.
    pub fn building_depth(&self, id: &str) -> Option<f64> {
        self.flood
            .as_ref()
            .and_then(|f| f.building_depths.get(id).copied())
    }

    /// The colour a building's roof and walls get (before lighting).
    pub fn building_colour(&self, id: &str) -> [u8; 3] {
        let t = self
            .flood
            .as_ref()
            .map_or(colour::WET_THRESHOLD_M, |f| f.threshold);
        colour::building_colour(self.building_depth(id), t)
    }

    /// A point inside a building's footprint (for tests and labels).
    pub fn building_inside_point(&self, id: &str) -> Option<(f64, f64)> {
        let b = self.buildings.iter().find(|b| b.id == id)?;
        let p = b.footprint.interior_point()?;
        Some((p.x(), p.y()))
    }
}

fn summary_name(run: &RunDir) -> Option<String> {
    run.read_summary().ok()?.name
}

impl FloodLayer {
    /// Read a flood result folder (what `scenarios::flood::run_scenario` writes):
    /// `max_depth.tif`, or the snapshot `depth_<time>s.tif` when `time_s` is given, and
    /// `buildings.csv` (`id`, `max_depth_m` columns) for the building colours.
    pub fn load(dir: &Path, time_s: Option<f64>) -> Result<FloodLayer> {
        if !dir.is_dir() {
            return Err(RenderError::input(dir, "no such flood result folder"));
        }
        let run = RunDir::new(dir);
        let path = match time_s {
            None => run.raster_path(Raster::MaxDepth),
            Some(t) => {
                let snaps = run.snapshots();
                match snaps.iter().find(|(st, _)| (*st as f64 - t).abs() < 0.5) {
                    Some((_, p)) => p.clone(),
                    None => {
                        let list: Vec<String> = snaps.iter().map(|(t, _)| format!("{t}")).collect();
                        return Err(RenderError::input(
                            run.depth_path(t),
                            format!(
                                "no depth snapshot at {t} s; the result has snapshots at [{}] s",
                                list.join(", ")
                            ),
                        ));
                    }
                }
            }
        };
        let depth = run.read_raster(&path)?;
        let ground_path = run.raster_path(Raster::Ground);
        let ground = if ground_path.is_file() {
            let g = run.read_raster(&ground_path)?;
            (g.ncols == depth.ncols && g.nrows == depth.nrows).then_some(g)
        } else {
            None
        };
        let building_depths = if run.has_features(FeatureTable::Buildings) {
            run.feature_depths(FeatureTable::Buildings)?
        } else {
            tracing::warn!(dir = %dir.display(), "no buildings table: buildings are drawn grey");
            HashMap::new()
        };
        Ok(FloodLayer {
            dir: dir.to_path_buf(),
            name: summary_name(&run),
            depth,
            ground,
            time_s,
            threshold: colour::WET_THRESHOLD_M,
            building_depths,
            classes: Vec::new(),
        })
    }

    /// The water depth of a cell (m), None when blocked or below the threshold.
    pub fn wet_depth(&self, col: usize, row: usize) -> Option<f64> {
        let d = self.depth.get(col, row)?;
        (d.is_finite() && f64::from(d) >= self.threshold).then_some(f64::from(d))
    }

    /// The colour and opacity water `depth` m deep is drawn in: its class's colour, opaque,
    /// when [`FloodLayer::classes`] has one it reaches, else [`colour::water_colour`].
    pub fn water_rgba(&self, depth: f64) -> [u8; 4] {
        self.classes
            .iter()
            .filter(|c| depth >= c.min_m)
            .max_by(|a, b| a.min_m.total_cmp(&b.min_m))
            .map(|c| [c.colour[0], c.colour[1], c.colour[2], 255])
            .unwrap_or_else(|| colour::water_colour(depth))
    }

    /// Ground height (m) under cell (`col`, `row`): the flood grid's own ground where it has
    /// one, else the terrain sampled at the cell centre, else 0.
    pub fn ground_at(&self, col: usize, row: usize, terrain: Option<&Dem>) -> f64 {
        let (x, y) = self.depth.cell_centre(col, row);
        self.ground
            .as_ref()
            .and_then(|g| g.get(col, row))
            .filter(|z| z.is_finite())
            .map(f64::from)
            .or_else(|| terrain.and_then(|t| t.sample(x, y)))
            .unwrap_or(0.0)
    }

    /// Area (m²) of the cells at least [`FloodLayer::threshold`] deep.
    pub fn wet_area_m2(&self) -> f64 {
        let n = (0..self.depth.nrows)
            .flat_map(|r| (0..self.depth.ncols).map(move |c| (c, r)))
            .filter(|&(c, r)| self.wet_depth(c, r).is_some())
            .count();
        n as f64 * self.depth.cell_x * self.depth.cell_y
    }
}

impl TrafficLayer {
    /// Read a traffic result folder: `links.csv` with (at least) the columns `road_id` and `vc`;
    /// links sharing a road id give it their largest ratio. Empty `vc` fields are skipped. A
    /// road with a closed link (column `closed`) is closed.
    pub fn load(dir: &Path) -> Result<TrafficLayer> {
        let run = RunDir::new(dir);
        let mut out: HashMap<String, f64> = HashMap::new();
        let mut closed = std::collections::HashSet::new();
        for (k, l) in run.read_link_vc()?.into_iter().enumerate() {
            if l.closed {
                closed.insert(l.road_id.clone());
            }
            let (road, Some(v)) = (l.road_id, l.vc) else {
                continue;
            };
            if !v.is_finite() {
                return Err(RenderError::input(
                    run.file(scenarios::output::LINKS),
                    format!("line {}: vc is {v}", k + 2),
                ));
            }
            let e = out.entry(road).or_insert(v);
            *e = e.max(v);
        }
        Ok(TrafficLayer {
            name: summary_name(&run),
            vc: out,
            closed,
        })
    }
}

/// Where the picture is seen from.
#[derive(Clone, Debug, PartialEq)]
pub enum Camera {
    /// Orthographic, straight down, north up: the results' area (None; [`Scene::focus`]) or a
    /// box (xmin, ymin, xmax, ymax in the project CRS), widened to the picture's aspect ratio.
    Map {
        /// The box to show.
        bbox: Option<[f64; 4]>,
    },
    /// A perspective view from a point.
    Perspective {
        /// x, y (project CRS) and height (m) of the eye.
        eye: [f64; 3],
        /// Direction of view, degrees clockwise from north.
        heading_deg: f64,
        /// Angle of view below the horizon, degrees (0 horizontal, 90 straight down).
        pitch_deg: f64,
        /// Vertical field of view, degrees.
        fov_deg: f64,
    },
}

/// The Hue Citadel (Kinh thành Huế), WGS84 longitude and latitude of the `citadel` camera's
/// target.
pub const CITADEL_LONLAT: (f64, f64) = (107.5775, 16.4690);

/// Forms accepted by [`Camera::parse`].
pub const CAMERA_FORMS: &str = "map, map:xmin,ymin,xmax,ymax (project CRS), \
persp:x,y,z,heading_deg,pitch_deg,fov_deg (pitch: degrees below the horizon), citadel";

fn numbers(s: &str, n: usize, form: &str) -> Result<Vec<f64>> {
    let v: Vec<f64> = s
        .split(',')
        .map(|x| x.trim().parse::<f64>())
        .collect::<std::result::Result<_, _>>()
        .map_err(|_| {
            RenderError::invalid(
                "camera",
                format!("{form}:{s} is not {n} comma-separated numbers (forms: {CAMERA_FORMS})"),
            )
        })?;
    if v.len() != n || v.iter().any(|x| !x.is_finite()) {
        return Err(RenderError::invalid(
            "camera",
            format!(
                "{form}:{s} needs {n} finite numbers, got {} (forms: {CAMERA_FORMS})",
                v.len()
            ),
        ));
    }
    Ok(v)
}

impl Camera {
    /// Parse `map`, `map:xmin,ymin,xmax,ymax`, `persp:x,y,z,heading,pitch,fov` or `citadel`
    /// (needs the project CRS to place the Citadel).
    pub fn parse(s: &str, crs: &Crs) -> Result<Camera> {
        let s = s.trim();
        let (kind, rest) = s.split_once(':').unwrap_or((s, ""));
        match (kind, rest.is_empty()) {
            ("map", true) => Ok(Camera::Map { bbox: None }),
            ("map", false) => {
                let v = numbers(rest, 4, "map")?;
                if v[0] >= v[2] || v[1] >= v[3] {
                    return Err(RenderError::invalid(
                        "camera",
                        format!("map:{rest}: xmin must be below xmax and ymin below ymax"),
                    ));
                }
                Ok(Camera::Map {
                    bbox: Some([v[0], v[1], v[2], v[3]]),
                })
            }
            ("persp", false) => {
                let v = numbers(rest, 6, "persp")?;
                if !(v[5] > 1.0 && v[5] < 170.0 && (-89.0..=90.0).contains(&v[4])) {
                    return Err(RenderError::invalid(
                        "camera",
                        format!("persp:{rest}: the field of view must be in (1, 170) degrees and the pitch in [-89, 90]"),
                    ));
                }
                Ok(Camera::Perspective {
                    eye: [v[0], v[1], v[2]],
                    heading_deg: v[3],
                    pitch_deg: v[4],
                    fov_deg: v[5],
                })
            }
            ("citadel", true) => Camera::citadel(crs),
            _ => Err(RenderError::invalid(
                "camera",
                format!("{s:?} is not a camera (forms: {CAMERA_FORMS})"),
            )),
        }
    }

    /// The `citadel` preset: looking north-west along the royal axis at the Hue Citadel from
    /// 2.6 km away and 1.1 km up, across the Perfume River.
    pub fn citadel(crs: &Crs) -> Result<Camera> {
        let t = Transform::new(&Crs::wgs84(), crs)?;
        let (x, y) = t.apply(CITADEL_LONLAT.0, CITADEL_LONLAT.1)?;
        Ok(Camera::looking_at([x, y, 4.0], 323.5, 2600.0, 1100.0, 50.0))
    }

    /// A perspective camera `distance` m (horizontally) from `target` and `height` m above it,
    /// looking at it with the heading given.
    pub fn looking_at(
        target: [f64; 3],
        heading_deg: f64,
        distance: f64,
        height: f64,
        fov_deg: f64,
    ) -> Camera {
        let h = heading_deg.to_radians();
        Camera::Perspective {
            eye: [
                target[0] - distance * h.sin(),
                target[1] - distance * h.cos(),
                target[2] + height,
            ],
            heading_deg,
            pitch_deg: height.atan2(distance).to_degrees(),
            fov_deg,
        }
    }
}

/// Least pitch (degrees below the horizon) at which a perspective picture gets a scale bar:
/// flatter views change scale too fast across the picture for one bar to mean much.
pub const CENTRE_SCALE_MIN_PITCH_DEG: f64 = 15.0;

/// Ground metres per pixel at the centre of a perspective picture `height` pixels high, across
/// the picture (along its horizontal axis, which lies in the ground), or None for a map camera,
/// a pitch under [`CENTRE_SCALE_MIN_PITCH_DEG`] or a focus not below the eye.
///
/// The focus is where the centre ray meets the ground: the scene's terrain there (found by
/// a few fixed-point steps from the height 0), else the height 0. A ground segment through it
/// along the picture's horizontal axis is perpendicular to the ray and at its depth `D`, so it
/// projects without foreshortening: `D · 2 tan(fov/2) / height` metres per pixel.
pub fn centre_scale(scene: &Scene, camera: &Camera, height: u32) -> Option<f64> {
    let Camera::Perspective {
        eye,
        heading_deg,
        pitch_deg,
        fov_deg,
    } = *camera
    else {
        return None;
    };
    if pitch_deg < CENTRE_SCALE_MIN_PITCH_DEG || height == 0 {
        return None;
    }
    let (h, p) = (heading_deg.to_radians(), pitch_deg.to_radians());
    let mut ground = 0.0;
    for _ in 0..8 {
        let along = (eye[2] - ground) / p.tan();
        let (x, y) = (eye[0] + along * h.sin(), eye[1] + along * h.cos());
        match scene.terrain.as_ref().and_then(|d| d.sample(x, y)) {
            Some(z) if z.is_finite() => ground = z,
            _ => break,
        }
    }
    let depth = (eye[2] - ground) / p.sin();
    (depth.is_finite() && depth > 0.0)
        .then(|| depth * 2.0 * (fov_deg.to_radians() / 2.0).tan() / f64::from(height))
}

/// The ground box an orthographic map shows in a picture of a given size.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct MapView {
    /// West edge (project CRS).
    pub xmin: f64,
    /// North edge.
    pub ymax: f64,
    /// Ground metres per pixel (the same in x and y).
    pub metres_per_pixel: f64,
    /// Picture width, pixels.
    pub width: u32,
    /// Picture height, pixels.
    pub height: u32,
}

impl MapView {
    /// The ground box the picture shows, its edges: xmin, ymin, xmax, ymax (project CRS).
    pub fn frame(&self) -> [f64; 4] {
        [
            self.xmin,
            self.ymax - f64::from(self.height) * self.metres_per_pixel,
            self.xmin + f64::from(self.width) * self.metres_per_pixel,
            self.ymax,
        ]
    }

    /// The view of `bbox` (or the scene's [`Scene::focus`]) in a `width` × `height` picture:
    /// the box centred, widened in x or y to the picture's aspect ratio.
    pub fn new(scene: &Scene, bbox: Option<[f64; 4]>, width: u32, height: u32) -> MapView {
        let b = bbox.unwrap_or_else(|| scene.focus());
        let (w, h) = (f64::from(width.max(1)), f64::from(height.max(1)));
        let mpp = ((b[2] - b[0]) / w).max((b[3] - b[1]) / h).max(1e-6);
        let (cx, cy) = ((b[0] + b[2]) / 2.0, (b[1] + b[3]) / 2.0);
        MapView {
            xmin: cx - w * mpp / 2.0,
            ymax: cy + h * mpp / 2.0,
            metres_per_pixel: mpp,
            width,
            height,
        }
    }

    /// The ground point at the centre of pixel (px, py).
    pub fn ground(&self, px: u32, py: u32) -> (f64, f64) {
        (
            self.xmin + (f64::from(px) + 0.5) * self.metres_per_pixel,
            self.ymax - (f64::from(py) + 0.5) * self.metres_per_pixel,
        )
    }

    /// The pixel holding a ground point, None outside the picture.
    pub fn pixel(&self, x: f64, y: f64) -> Option<(u32, u32)> {
        let fx = (x - self.xmin) / self.metres_per_pixel;
        let fy = (self.ymax - y) / self.metres_per_pixel;
        (fx >= 0.0 && fy >= 0.0 && fx < f64::from(self.width) && fy < f64::from(self.height))
            .then_some((fx as u32, fy as u32))
    }
}

/// An RGBA picture, rows from the top.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Image {
    /// Width, pixels.
    pub width: u32,
    /// Height, pixels.
    pub height: u32,
    /// 4 bytes per pixel, row-major from the top row.
    pub rgba: Vec<u8>,
}

impl Image {
    /// The pixel at (x, y).
    pub fn pixel(&self, x: u32, y: u32) -> [u8; 4] {
        let i = (y as usize * self.width as usize + x as usize) * 4;
        [
            self.rgba[i],
            self.rgba[i + 1],
            self.rgba[i + 2],
            self.rgba[i + 3],
        ]
    }

    /// How many pixels differ from `other`'s by more than `channel_tolerance` in some colour
    /// channel (R, G or B; alpha ignored); None when the sizes differ. The golden-image check
    /// of the pictures' tests.
    pub fn differing_pixels(&self, other: &Image, channel_tolerance: u8) -> Option<usize> {
        if (self.width, self.height) != (other.width, other.height) {
            return None;
        }
        Some(
            self.rgba
                .chunks_exact(4)
                .zip(other.rgba.chunks_exact(4))
                .filter(|(a, b)| (0..3).any(|k| a[k].abs_diff(b[k]) > channel_tolerance))
                .count(),
        )
    }

    /// Encode as PNG (8-bit RGBA).
    pub fn to_png(&self) -> Result<Vec<u8>> {
        let mut out = Vec::new();
        {
            let mut enc = png::Encoder::new(&mut out, self.width, self.height);
            enc.set_color(png::ColorType::Rgba);
            enc.set_depth(png::BitDepth::Eight);
            let mut w = enc
                .write_header()
                .map_err(|e| RenderError::invalid("PNG", e))?;
            w.write_image_data(&self.rgba)
                .map_err(|e| RenderError::invalid("PNG", e))?;
        }
        Ok(out)
    }

    /// Decode an 8-bit RGB or RGBA PNG.
    pub fn from_png(bytes: &[u8]) -> Result<Image> {
        let dec = png::Decoder::new(std::io::Cursor::new(bytes));
        let mut rd = dec
            .read_info()
            .map_err(|e| RenderError::invalid("PNG", e))?;
        let size = rd
            .output_buffer_size()
            .ok_or_else(|| RenderError::invalid("PNG", "image too large"))?;
        let mut buf = vec![0; size];
        let info = rd
            .next_frame(&mut buf)
            .map_err(|e| RenderError::invalid("PNG", e))?;
        buf.truncate(info.buffer_size());
        let rgba = match (info.color_type, info.bit_depth) {
            (png::ColorType::Rgba, png::BitDepth::Eight) => buf,
            (png::ColorType::Rgb, png::BitDepth::Eight) => buf
                .chunks_exact(3)
                .flat_map(|c| [c[0], c[1], c[2], 255])
                .collect(),
            (c, d) => {
                return Err(RenderError::invalid(
                    "PNG",
                    format!("{c:?} {d:?} pixels (8-bit RGB or RGBA expected)"),
                ))
            }
        };
        Ok(Image {
            width: info.width,
            height: info.height,
            rgba,
        })
    }
}

/// Render a scene to PNG bytes on the best adapter (see [`crate::gpu::Gpu::new`]).
pub fn render_png(scene: &Scene, camera: &Camera, width: u32, height: u32) -> Result<Vec<u8>> {
    Renderer::new()?
        .render(scene, camera, width, height)?
        .to_png()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scene() -> Scene {
        Scene {
            title: "t".into(),
            extent: [0.0, 0.0, 12_000.0, 17_000.0],
            terrain: None,
            buildings: Vec::new(),
            roads: vec![
                RoadLine {
                    id: "bridge".into(),
                    line: LineString::from(vec![(5_000.0, 5_000.0), (5_300.0, 5_000.0)]),
                    class: "primary".into(),
                },
                RoadLine {
                    id: "far".into(),
                    line: LineString::from(vec![(100.0, 16_000.0), (900.0, 16_000.0)]),
                    class: "primary".into(),
                },
            ],
            flood: None,
            traffic: None,
            layers: Layers::default(),
            crs: Crs::epsg(32648).unwrap(),
            marks: Marks::default(),
        }
    }

    fn flood(wet: &[(usize, usize)]) -> FloodLayer {
        // 100 m cells over the extent; `wet` (col, row) cells 1 m deep.
        let (ncols, nrows) = (120, 170);
        let mut values = vec![Some(0.0f32); ncols * nrows];
        for &(c, r) in wet {
            values[r * ncols + c] = Some(1.0);
        }
        FloodLayer {
            dir: PathBuf::new(),
            name: None,
            depth: Dem {
                name: "depth".into(),
                ncols,
                nrows,
                xmin: 0.0,
                ymax: 17_000.0,
                cell_x: 100.0,
                cell_y: 100.0,
                values,
            },
            ground: None,
            time_s: None,
            threshold: 0.05,
            building_depths: HashMap::new(),
            classes: Vec::new(),
        }
    }

    /// With depth classes, water takes the deepest class it reaches, opaque; below every
    /// class (or with none) the translucent ramp.
    #[test]
    fn water_colours_by_class() {
        let mut f = flood(&[]);
        assert_eq!(f.water_rgba(0.7), colour::water_colour(0.7));
        let class = |min_m: f64, c: u8| WaterClass {
            min_m,
            colour: [c, c, c],
            label: format!("{min_m}"),
        };
        f.classes = vec![class(1.0, 10), class(0.3, 20)];
        assert_eq!(f.water_rgba(0.7), [20, 20, 20, 255]);
        assert_eq!(f.water_rgba(1.0), [10, 10, 10, 255]);
        assert_eq!(f.water_rgba(5.0), [10, 10, 10, 255]);
        assert_eq!(f.water_rgba(0.1), colour::water_colour(0.1));
    }

    /// Issue 17: the default map framed the whole 12 × 17 km terrain, the flood a small square.
    /// It now fits the wet cells with a margin, and the closed or loaded roads of a traffic run.
    #[test]
    fn the_default_map_fits_what_the_results_touch() {
        let mut s = scene();
        assert_eq!(s.focus(), s.extent, "no result: the whole twin");
        // Two wet cells: columns 50-51, rows 100 (y 6900-7000 m).
        s.flood = Some(flood(&[(50, 100), (51, 100)]));
        let f = s.focus();
        // The wet box is 200 × 100 m; the margin is at least 250 m each side.
        assert_eq!(f, [4_750.0, 6_650.0, 5_450.0, 7_250.0]);
        // A dry run touches nothing: back to the whole twin.
        s.flood = Some(flood(&[]));
        assert_eq!(s.focus(), s.extent);
        // Traffic: the closed bridge and nothing of the free road far away.
        s.flood = None;
        s.traffic = Some(TrafficLayer {
            name: None,
            vc: HashMap::from([("far".to_string(), 0.2), ("bridge".to_string(), 0.0)]),
            closed: ["bridge".to_string()].into(),
        });
        assert_eq!(s.focus(), [4_750.0, 4_750.0, 5_550.0, 5_250.0]);
        // The map view holds the focus box, widened to the picture's aspect ratio.
        let v = MapView::new(&s, None, 400, 400);
        assert!((v.metres_per_pixel - 800.0 / 400.0).abs() < 1e-9);
    }
}
