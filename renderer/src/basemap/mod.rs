//! The twin's own basemap: raster XYZ tiles (Web Mercator, EPSG:3857; 256 pixels, or 512 for
//! `@2x`) drawn with wgpu from the twin's layers.
//!
//! What a tile shows, bottom to top: land where the DEM is, in a plain land colour, then land
//! use areas in a muted colour per class ([`style::landuse`]; larger areas first), both
//! shaded by a hillshade of the DEM (sun at azimuth 315°, altitude 45°, 2× vertical
//! exaggeration; the one law of [`style::hillshade_factor`], applied per pixel by the GPU, so
//! flat ground keeps the colour exactly and a wood on a hill shows the hill), heritage sites as
//! a tinted area with an outline, water bodies, waterways (width by kind), building footprints
//! (from zoom 14), roads by OSM class (width on the ground with a least width on screen,
//! casings, higher classes over lower ones), then labels with a white halo in Noto Sans, which
//! draws Vietnamese marks: heritage and place names, water names, street names near their line,
//! and last the names of land use areas (parks, cemeteries, woods...) at an interior point, in
//! small (10-pixel) slanted dark green type, only where the area's box on the tile is at least
//! 1.5 times the label's.
//!
//! **Placement**: every vertex goes from the project CRS to WGS84 through PROJ
//! ([`twin_core::crs::Transform`]), then to the tile's pixels by the spherical Mercator
//! formula of the XYZ scheme ([`mercator`]); the GPU only fills the triangles. The UTM grid
//! of a project CRS is rotated against Mercator (about 0.7° at Hue), and this places it
//! exactly, vertex by vertex.
//!
//! **Outside the twin** a tile is transparent: pixels with nothing of the twin keep alpha 0
//! (also outside the DEM), so a viewer shows its own globe colour there.
//!
//! **Labels** are drawn only when wholly inside the tile (2 pixels from its edges) and clear
//! of the labels placed before them: none is ever cut at a tile edge; a label whose place is
//! near an edge is left out of both neighbours.

mod draw;
mod labels;
pub mod style;

use crate::error::{RenderError, Result};
use crate::gpu::Gpu;
use crate::render::text::Style;
use crate::render::Image;
use draw::{Canvas, ReliefVertex, TilePainter, Vertex};
use geo::InteriorPoint;
use geo_types::{Coord, Geometry, LineString, MultiPolygon, Polygon, Rect};
use labels::{Candidate, Place};
use std::cell::RefCell;
use std::rc::Rc;
use twin_core::crs::{Crs, Transform};
use twin_core::model::Dem;
use twin_core::rings::{clean_ring, triangulate};
use twin_core::Twin;

pub use twin_core::xyz::{mercator, TileId, MAX_ZOOM, MIN_ZOOM};

/// Which layers a tile draws (all by default; tests switch some off).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Layers {
    /// Hillshade of the DEM (land, shaded; off, land is not drawn and land use not shaded).
    pub hillshade: bool,
    /// Land use areas.
    pub landuse: bool,
    /// Heritage sites.
    pub heritage: bool,
    /// Water bodies (polygons).
    pub water: bool,
    /// Waterways (lines).
    pub waterways: bool,
    /// Building footprints.
    pub buildings: bool,
    /// Roads.
    pub roads: bool,
    /// Labels.
    pub labels: bool,
}

impl Default for Layers {
    fn default() -> Self {
        Layers {
            hillshade: true,
            landuse: true,
            heritage: true,
            water: true,
            waterways: true,
            buildings: true,
            roads: true,
            labels: true,
        }
    }
}

/// How a tile is drawn.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Options {
    /// Tile side in pixels: 256, or 512 for `@2x`.
    pub tile_size: u32,
    /// Layers drawn.
    pub layers: Layers,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            tile_size: 256,
            layers: Layers::default(),
        }
    }
}

/// An open device with the basemap's pipeline; share one for every tile (it is `Send` and
/// `Sync`; tiles may be drawn from several threads at once).
pub struct Basemap {
    painter: TilePainter,
}

/// The project CRS to WGS84 and back, made once per thread and CRS (PROJ objects are not
/// `Sync`).
struct Projection {
    to_wgs84: Transform,
    from_wgs84: Transform,
}

thread_local! {
    static PROJECTION: RefCell<Option<(String, Rc<Projection>)>> = const { RefCell::new(None) };
}

fn projection(crs: &Crs) -> Result<Rc<Projection>> {
    let def = crs.definition();
    if let Some(p) = PROJECTION.with(|c| {
        c.borrow()
            .as_ref()
            .filter(|(d, _)| d == def)
            .map(|(_, p)| p.clone())
    }) {
        return Ok(p);
    }
    let wgs84 = Crs::wgs84();
    let p = Rc::new(Projection {
        to_wgs84: Transform::new(crs, &wgs84)?,
        from_wgs84: Transform::new(&wgs84, crs)?,
    });
    PROJECTION.with(|c| *c.borrow_mut() = Some((def.to_string(), p.clone())));
    Ok(p)
}

/// A tile being drawn: where project coordinates land in its pixels.
struct Frame {
    proj: Rc<Projection>,
    tile: TileId,
    size: u32,
    /// World pixel of the tile's north-west corner.
    origin: (f64, f64),
    /// Ground metres per pixel at the tile's centre.
    mpp: f64,
    /// Pixels per 256-pixel-tile pixel (1, or 2 for `@2x`).
    scale: f64,
}

impl Frame {
    /// Tile pixel (x right, y down) of a point in the project CRS.
    fn px(&self, x: f64, y: f64) -> Option<(f64, f64)> {
        let (lon, lat) = self.proj.to_wgs84.apply(x, y).ok()?;
        let (wx, wy) = mercator::world_pixel(lon, lat, self.tile.z, self.size);
        let p = (wx - self.origin.0, wy - self.origin.1);
        (p.0.is_finite() && p.1.is_finite()).then_some(p)
    }

    fn line(&self, l: &LineString<f64>) -> Option<Vec<(f64, f64)>> {
        l.0.iter().map(|c| self.px(c.x, c.y)).collect()
    }
}

/// Clip-space position of a tile pixel.
fn clip(size: u32, p: (f64, f64)) -> [f32; 2] {
    let s = f64::from(size);
    [(p.0 / s * 2.0 - 1.0) as f32, (1.0 - p.1 / s * 2.0) as f32]
}

impl Canvas {
    /// A vertex of colour `c`, shaded by the hillshade or not.
    fn push(&mut self, size: u32, p: (f64, f64), c: [u8; 4], shaded: bool) -> u32 {
        self.vertices.push(Vertex {
            pos: clip(size, p),
            color: c,
            shaded: if shaded { 1.0 } else { 0.0 },
        });
        (self.vertices.len() - 1) as u32
    }

    /// Fill a polygon given by its rings in tile pixels (outer first), shaded by the hillshade
    /// or not.
    fn fill(&mut self, size: u32, rings: &[Vec<(f64, f64)>], c: [u8; 4], shaded: bool) {
        let first = self.vertices.len() as u32;
        for &p in rings.iter().flatten() {
            self.push(size, p, c, shaded);
        }
        self.indices.extend(
            triangulate(rings)
                .iter()
                .flatten()
                .map(|&i| first + i as u32),
        );
    }

    /// A line `2 × half` pixels wide: one quad per segment, each extended by `half` at both
    /// ends so that joints close.
    fn stroke(&mut self, size: u32, line: &[(f64, f64)], half: f64, c: [u8; 4]) {
        for s in line.windows(2) {
            let (a, b) = (s[0], s[1]);
            let len = (b.0 - a.0).hypot(b.1 - a.1);
            if len.is_nan() || len <= 1e-9 {
                continue;
            }
            let (ux, uy) = ((b.0 - a.0) / len * half, (b.1 - a.1) / len * half);
            let (nx, ny) = (-uy, ux);
            let (a, b) = ((a.0 - ux, a.1 - uy), (b.0 + ux, b.1 + uy));
            let i = self.push(size, (a.0 + nx, a.1 + ny), c, false);
            self.push(size, (a.0 - nx, a.1 - ny), c, false);
            self.push(size, (b.0 - nx, b.1 - ny), c, false);
            self.push(size, (b.0 + nx, b.1 + ny), c, false);
            self.indices.extend([i, i + 1, i + 2, i, i + 2, i + 3]);
        }
    }
}

/// A road to draw: its style, its line in tile pixels, its name.
type RoadLine<'a> = (style::RoadStyle, Vec<(f64, f64)>, Option<&'a String>);

fn opaque(c: [u8; 3]) -> [u8; 4] {
    [c[0], c[1], c[2], 255]
}

/// A polygon's rings in tile pixels, outer first; `None` when a vertex does not project.
fn rings_px(f: &Frame, p: &Polygon<f64>) -> Option<Vec<Vec<(f64, f64)>>> {
    let outer = clean_ring(p.exterior())?;
    let mut rings = vec![outer];
    rings.extend(p.interiors().iter().filter_map(clean_ring));
    rings
        .into_iter()
        .map(|r| r.into_iter().map(|(x, y)| f.px(x, y)).collect())
        .collect()
}

fn fill_multi(c: &mut Canvas, f: &Frame, mp: &MultiPolygon<f64>, colour: [u8; 4], shaded: bool) {
    for p in &mp.0 {
        if let Some(r) = rings_px(f, p) {
            c.fill(f.size, &r, colour, shaded);
        }
    }
}

fn outline_multi(c: &mut Canvas, f: &Frame, mp: &MultiPolygon<f64>, half: f64, colour: [u8; 4]) {
    for p in &mp.0 {
        for ring in std::iter::once(p.exterior()).chain(p.interiors()) {
            if let Some(l) = f.line(ring) {
                c.stroke(f.size, &l, half, colour);
            }
        }
    }
}

/// The hillshade of `dem` over the project box `q`: a grid of vertices at cell centres (every
/// n-th cell, about 1.5 pixels apart or more), drawn twice: as land ([`style::LAND`], shaded)
/// on the tile, and on the relief with the factor of the light on the slope there
/// ([`style::hillshade_factor`]), which shades the land and the land use drawn over it.
fn hillshade(c: &mut Canvas, f: &Frame, dem: &Dem, q: [f64; 4]) {
    if dem.ncols < 2 || dem.nrows < 2 {
        return;
    }
    let step = ((1.5 * f.mpp / dem.cell_x.min(dem.cell_y)).floor() as usize).max(1);
    let col = |x: f64| ((x - dem.xmin) / dem.cell_x).floor();
    let row = |y: f64| ((dem.ymax - y) / dem.cell_y).floor();
    let clampc = |v: f64, n: usize| (v.max(0.0) as usize).min(n - 1);
    let (c0, c1) = (
        clampc(col(q[0]) - 1.0, dem.ncols),
        clampc(col(q[2]) + 2.0, dem.ncols),
    );
    let (r0, r1) = (
        clampc(row(q[3]) - 1.0, dem.nrows),
        clampc(row(q[1]) + 2.0, dem.nrows),
    );
    // Align the grid to multiples of the step so that neighbouring tiles share vertices.
    let (c0, r0) = (c0 / step * step, r0 / step * step);
    let cols: Vec<usize> = (c0..=c1).step_by(step).collect();
    let rows: Vec<usize> = (r0..=r1).step_by(step).collect();
    let (az, alt) = (
        style::SUN_AZIMUTH_DEG.to_radians(),
        style::SUN_ALTITUDE_DEG.to_radians(),
    );
    let sun = [az.sin() * alt.cos(), az.cos() * alt.cos(), alt.sin()];
    let at = |cc: usize, rr: usize, dc: isize, dr: isize| -> Option<f64> {
        let (a, b) = (cc as isize + dc, rr as isize + dr);
        if a < 0 || b < 0 {
            return None;
        }
        dem.get(a as usize, b as usize).map(f64::from)
    };
    let s = step as isize;
    // Each grid vertex: its index on the tile and on the relief.
    let mut ids: Vec<Option<(u32, u32)>> = Vec::with_capacity(cols.len() * rows.len());
    for &rr in &rows {
        for &cc in &cols {
            let Some(z) = at(cc, rr, 0, 0) else {
                ids.push(None);
                continue;
            };
            let (x, y) = dem.cell_centre(cc, rr);
            let Some(p) = f.px(x, y) else {
                ids.push(None);
                continue;
            };
            // Central differences over the step (one-sided at the grid's edges).
            let e = at(cc, rr, s, 0).unwrap_or(z);
            let w = at(cc, rr, -s, 0).unwrap_or(z);
            let n = at(cc, rr, 0, -s).unwrap_or(z);
            let so = at(cc, rr, 0, s).unwrap_or(z);
            let dzdx = (e - w) / (2.0 * step as f64 * dem.cell_x) * style::Z_FACTOR;
            let dzdy = (n - so) / (2.0 * step as f64 * dem.cell_y) * style::Z_FACTOR;
            let len = (dzdx * dzdx + dzdy * dzdy + 1.0).sqrt();
            let shade = ((-dzdx * sun[0] - dzdy * sun[1] + sun[2]) / len).max(0.0);
            c.relief.push(ReliefVertex {
                pos: clip(f.size, p),
                factor: style::hillshade_factor(shade) as f32,
            });
            let land = c.push(f.size, p, opaque(style::LAND), true);
            ids.push(Some((land, (c.relief.len() - 1) as u32)));
        }
    }
    let w = cols.len();
    for j in 0..rows.len().saturating_sub(1) {
        for i in 0..w.saturating_sub(1) {
            let q = [
                ids[j * w + i],
                ids[j * w + i + 1],
                ids[(j + 1) * w + i + 1],
                ids[(j + 1) * w + i],
            ];
            if let [Some(a), Some(b), Some(cc), Some(d)] = q {
                c.indices.extend([a.0, b.0, cc.0, a.0, cc.0, d.0]);
                c.relief_indices.extend([a.1, b.1, cc.1, a.1, cc.1, d.1]);
            }
        }
    }
}

impl Basemap {
    /// Open the best adapter (see [`Gpu::new`]) and build the pipeline.
    pub fn new() -> Result<Basemap> {
        Basemap::with_gpu(Gpu::new()?)
    }

    /// Build the pipeline on an open device.
    pub fn with_gpu(gpu: Gpu) -> Result<Basemap> {
        Ok(Basemap {
            painter: TilePainter::new(gpu)?,
        })
    }

    /// The adapter, "name (backend, type)".
    pub fn adapter(&self) -> String {
        self.painter.gpu.describe()
    }

    /// Draw one tile of `twin`.
    pub fn render(&self, twin: &Twin, tile: TileId, opts: &Options) -> Result<Image> {
        let size = opts.tile_size;
        if size != 256 && size != 512 {
            return Err(RenderError::invalid(
                "basemap tile size",
                format!("{size}: 256 or 512 pixels"),
            ));
        }
        let tile = TileId::new(tile.z, tile.x, tile.y)?;
        let b = tile.bounds();
        let f = Frame {
            proj: projection(&twin.crs)?,
            tile,
            size,
            origin: (
                f64::from(tile.x) * f64::from(size),
                f64::from(tile.y) * f64::from(size),
            ),
            mpp: mercator::metres_per_pixel((b[1] + b[3]) / 2.0, tile.z, size),
            scale: f64::from(size) / 256.0,
        };
        let q = project_box(&f, b)?;
        let margin = 24.0 * f.mpp * f.scale;
        let query = Rect::new(
            Coord {
                x: q[0] - margin,
                y: q[1] - margin,
            },
            Coord {
                x: q[2] + margin,
                y: q[3] + margin,
            },
        );
        let l = opts.layers;
        let z = tile.z;
        let mut c = Canvas::default();
        let mut cands: Vec<Candidate> = Vec::new();
        let font = |bold: bool, px: f64| Style {
            bold,
            px: (px * f.scale) as f32,
        };
        if l.hillshade {
            for dem in &twin.terrain {
                hillshade(&mut c, &f, dem, q);
            }
        }
        if l.landuse {
            // Larger areas first: a park inside a residential area shows over it.
            use geo::Area;
            let mut areas: Vec<(f64, usize)> = twin
                .landuse
                .query_bbox(query)?
                .into_iter()
                .filter_map(|i| twin.landuse.get(i).map(|a| (a.polygon.unsigned_area(), i)))
                .collect();
            areas.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
            for (_, i) in areas {
                let Some(a) = twin.landuse.get(i) else {
                    continue;
                };
                let Some(colour) = style::landuse(&a.kind) else {
                    continue;
                };
                fill_multi(&mut c, &f, &a.polygon, opaque(colour), true);
                if let Some(name) = &a.name {
                    if let Some(cand) = landuse_label(&f, &a.polygon, name, font(false, 10.0)) {
                        cands.push(cand);
                    }
                }
            }
        }
        if l.heritage && z >= 12 {
            for i in twin.heritage.query_bbox(query)? {
                let Some(h) = twin.heritage.get(i) else {
                    continue;
                };
                fill_multi(&mut c, &f, &h.polygon, style::HERITAGE_FILL, false);
                outline_multi(
                    &mut c,
                    &f,
                    &h.polygon,
                    0.6 * f.scale,
                    opaque(style::HERITAGE_EDGE),
                );
                let core = h.zone.as_deref().is_none_or(|z| z == "I");
                if let (Some(name), true) = (&h.name, z >= if core { 14 } else { 16 }) {
                    if let Some(p) = h.polygon.interior_point().and_then(|p| f.px(p.x(), p.y())) {
                        cands.push(Candidate {
                            text: name.clone(),
                            priority: if core { 0 } else { 1 },
                            weight: 0.0,
                            place: Place::Point(p),
                            style: font(true, 11.0),
                            italic: false,
                            colour: style::LABEL_PLACE,
                        });
                    }
                }
            }
        }
        let water = twin.water.query_bbox(query)?;
        for &i in &water {
            let Some(w) = twin.water.get(i) else { continue };
            let label = |place| Candidate {
                text: w.name.clone().unwrap_or_default(),
                priority: 2,
                weight: 0.0,
                place,
                style: font(false, 11.0),
                italic: false,
                colour: style::LABEL_WATER,
            };
            match &w.geometry {
                Geometry::Polygon(p) if l.water => {
                    fill_multi(
                        &mut c,
                        &f,
                        &MultiPolygon(vec![p.clone()]),
                        opaque(style::WATER),
                        false,
                    );
                    if let Some(pt) = p.interior_point().and_then(|p| f.px(p.x(), p.y())) {
                        cands.push(label(Place::Point(pt)));
                    }
                }
                Geometry::MultiPolygon(mp) if l.water => {
                    fill_multi(&mut c, &f, mp, opaque(style::WATER), false);
                    if let Some(pt) = mp.interior_point().and_then(|p| f.px(p.x(), p.y())) {
                        cands.push(label(Place::Point(pt)));
                    }
                }
                Geometry::LineString(ls) if l.waterways => {
                    if let Some(line) = f.line(ls) {
                        let px = (style::waterway_width_m(&w.kind) / f.mpp).max(f.scale);
                        c.stroke(size, &line, px / 2.0, opaque(style::WATER));
                        cands.push(label(Place::Line(line)));
                    }
                }
                Geometry::MultiLineString(ml) if l.waterways => {
                    for ls in &ml.0 {
                        if let Some(line) = f.line(ls) {
                            let px = (style::waterway_width_m(&w.kind) / f.mpp).max(f.scale);
                            c.stroke(size, &line, px / 2.0, opaque(style::WATER));
                            cands.push(label(Place::Line(line)));
                        }
                    }
                }
                _ => {}
            }
        }
        if l.buildings && z >= 14 {
            for i in twin.buildings.query_bbox(query)? {
                let Some(bd) = twin.buildings.get(i) else {
                    continue;
                };
                fill_multi(&mut c, &f, &bd.footprint, opaque(style::BUILDING), false);
                if z >= 16 {
                    outline_multi(
                        &mut c,
                        &f,
                        &bd.footprint,
                        0.4 * f.scale,
                        opaque(style::BUILDING_EDGE),
                    );
                }
                if let (Some(name), true) = (&bd.name, z >= 17) {
                    if let Some(p) = bd
                        .footprint
                        .interior_point()
                        .and_then(|p| f.px(p.x(), p.y()))
                    {
                        cands.push(Candidate {
                            text: name.clone(),
                            priority: 5,
                            weight: 0.0,
                            place: Place::Point(p),
                            style: font(false, 10.0),
                            italic: false,
                            colour: style::LABEL_PLACE,
                        });
                    }
                }
            }
        }
        if l.roads {
            let mut roads: Vec<RoadLine> = Vec::new();
            for i in twin.roads.query_bbox(query)? {
                let Some(r) = twin.roads.get(i) else { continue };
                let s = style::road(&r.class);
                if z < s.min_zoom {
                    continue;
                }
                if let Some(line) = f.line(&r.line) {
                    roads.push((s, line, r.name.as_ref()));
                }
            }
            roads.sort_by_key(|r| r.0.rank);
            let half = |s: &style::RoadStyle| (s.width_m / f.mpp).max(s.min_px * f.scale) / 2.0;
            if z >= 13 {
                for (s, line, _) in &roads {
                    if let Some(k) = s.casing {
                        c.stroke(size, line, half(s) + 0.8 * f.scale, opaque(k));
                    }
                }
            }
            for (s, line, name) in roads {
                c.stroke(size, &line, half(&s), opaque(s.fill));
                let shown = if s.rank >= 4 { 14 } else { 15 };
                if let (Some(name), true) = (name, z >= shown) {
                    let len: f64 = line
                        .windows(2)
                        .map(|w| (w[1].0 - w[0].0).hypot(w[1].1 - w[0].1))
                        .sum();
                    cands.push(Candidate {
                        text: name.clone(),
                        priority: if s.rank >= 5 { 3 } else { 4 },
                        weight: len,
                        place: Place::Line(line),
                        style: font(false, if s.rank >= 5 { 11.0 } else { 10.0 }),
                        italic: false,
                        colour: style::LABEL_STREET,
                    });
                }
            }
        }
        let rgba = self.painter.paint(&c, size)?;
        let mut img = Image {
            width: size,
            height: size,
            rgba,
        };
        if l.labels && z >= 12 {
            labels::draw(&mut img, cands, f.scale);
        }
        Ok(img)
    }

    /// Draw one tile as PNG bytes.
    pub fn render_png(&self, twin: &Twin, tile: TileId, opts: &Options) -> Result<Vec<u8>> {
        self.render(twin, tile, opts)?.to_png()
    }
}

/// The basemap drawer the server takes ([`twin_core::xyz::BasemapDrawer`]): a [`Basemap`]
/// opened on the best adapter on the first tile (not before), shared by every tile after.
#[derive(Default)]
pub struct Drawer {
    basemap: std::sync::OnceLock<std::result::Result<std::sync::Arc<Basemap>, String>>,
}

impl std::fmt::Debug for Drawer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("renderer::basemap::Drawer")
    }
}

impl Drawer {
    /// A drawer whose device is not open yet.
    pub fn new() -> Drawer {
        Drawer::default()
    }

    fn basemap(&self) -> twin_core::Result<std::sync::Arc<Basemap>> {
        self.basemap
            .get_or_init(|| match Basemap::new() {
                Ok(b) => {
                    tracing::info!("basemap tiles drawn on {}", b.adapter());
                    Ok(std::sync::Arc::new(b))
                }
                Err(e) => Err(e.to_string()),
            })
            .clone()
            .map_err(|e| twin_core::TwinError::invalid("GPU adapter for basemap tiles", e))
    }
}

impl twin_core::xyz::BasemapDrawer for Drawer {
    fn ready(&self) -> twin_core::Result<String> {
        Ok(self.basemap()?.adapter())
    }

    fn draw_png(&self, twin: &Twin, tile: TileId, tile_size: u32) -> twin_core::Result<Vec<u8>> {
        let opts = Options {
            tile_size,
            ..Options::default()
        };
        self.basemap()?.render_png(twin, tile, &opts).map_err(|e| {
            twin_core::TwinError::invalid(
                format!("basemap tile {}/{}/{}", tile.z, tile.x, tile.y),
                e,
            )
        })
    }
}

/// The label of a named land use area: at its interior point, slanted, in
/// [`style::LABEL_LANDUSE`], after every other label (larger areas first); `None` while the
/// area's box on the tile is less than 1.5 times the label's box (width and height), so a name
/// shows only on an area that holds it.
fn landuse_label(
    f: &Frame,
    area: &MultiPolygon<f64>,
    name: &str,
    font: Style,
) -> Option<Candidate> {
    use geo::BoundingRect;
    let b = area.bounding_rect()?;
    let (w, h) = labels::extent(name, font, true);
    let (bw, bh) = (b.width() / f.mpp, b.height() / f.mpp);
    if bw < 1.5 * w || bh < 1.5 * h {
        return None;
    }
    let p = area.interior_point()?;
    Some(Candidate {
        text: name.to_string(),
        priority: 6,
        weight: bw * bh,
        place: Place::Point(f.px(p.x(), p.y())?),
        style: font,
        italic: true,
        colour: style::LABEL_LANDUSE,
    })
}

/// The project-CRS box of a WGS84 box (corners and edge midpoints).
fn project_box(f: &Frame, b: [f64; 4]) -> Result<[f64; 4]> {
    let mut q = [
        f64::INFINITY,
        f64::INFINITY,
        f64::NEG_INFINITY,
        f64::NEG_INFINITY,
    ];
    for lon in [b[0], (b[0] + b[2]) / 2.0, b[2]] {
        for lat in [b[1], (b[1] + b[3]) / 2.0, b[3]] {
            let (x, y) = f.proj.from_wgs84.apply(lon, lat)?;
            q = [q[0].min(x), q[1].min(y), q[2].max(x), q[3].max(y)];
        }
    }
    Ok(q)
}
