//! Streaming a huetwin server's 3D Tiles (`twin-viewer http://host:port`): the layers'
//! tilesets read over HTTP ([`client`], [`tree`]), the viewer's own traversal
//! ([`traverse`]), glTF content decoded with its feature ids and properties ([`content`]) and
//! placed in the same local frame as a twin folder's scene (the project CRS named by the
//! tileset, less a floating origin, heights orthometric), loaded by worker threads
//! ([`Loader`]) and drawn, unloaded and picked by the bevy systems of [`systems`].

pub mod client;
pub mod content;
pub mod systems;
pub mod traverse;
pub mod tree;

use crate::error::{Result, ViewerError};
use crate::presets::Place;
use crate::scene::{ray_box, ray_triangle};
use client::Client;
use serde_json::{Map, Value};
use std::sync::mpsc::{channel, Receiver, Sender};
use std::sync::{Arc, Mutex};
use tree::{Georef, Mapper, Tree};
use twin_core::Crs;

/// The layers streamed when none are named.
pub const DEFAULT_LAYERS: [&str; 3] = ["terrain", "buildings", "heritage"];

/// How the stream is traversed and bounded.
#[derive(Clone, Debug)]
pub struct StreamOptions {
    /// Tiles refine while their screen-space error is above this many pixels.
    pub max_sse: f64,
    /// Bytes of decoded tiles kept (positions, normals, indices, ids) before the farthest,
    /// least recently drawn are unloaded.
    pub memory_budget: usize,
    /// Tiles not drawn for a while are unloaded beyond this distance (m) from the camera.
    pub unload_distance_m: f64,
    /// Worker threads fetching and decoding tiles.
    pub workers: usize,
    /// Requests in flight at most.
    pub max_in_flight: usize,
}

impl Default for StreamOptions {
    fn default() -> Self {
        StreamOptions {
            max_sse: 16.0,
            memory_budget: 512 << 20,
            unload_distance_m: 15_000.0,
            workers: 4,
            max_in_flight: 8,
        }
    }
}

/// One streamed layer: its name and tree.
#[derive(Clone, Debug)]
pub struct Layer {
    /// The layer (`buildings`, `terrain`, ...).
    pub name: String,
    /// Its tiles.
    pub tree: Tree,
}

/// A server's tilesets, ready to stream.
#[derive(Debug)]
pub struct StreamScene {
    /// The server.
    pub client: Client,
    /// ECEF to the local frame.
    pub georef: Georef,
    /// The layers.
    pub layers: Vec<Layer>,
    /// The layers' extent in the project CRS (xmin, ymin, xmax, ymax).
    pub extent: [f64; 4],
    /// Traversal and bounds.
    pub options: StreamOptions,
    /// The coarsest terrain (the terrain root tile), for ground heights under presets.
    ground: Option<LoadedTile>,
}

/// One primitive of a loaded tile, in the local frame (x east, y north, z up).
#[derive(Clone, Debug)]
pub struct LocalPrimitive {
    /// Positions.
    pub positions: Vec<[f32; 3]>,
    /// Unit normals.
    pub normals: Vec<[f32; 3]>,
    /// Triangles.
    pub indices: Vec<u32>,
    /// Per vertex: its feature (row of [`LoadedTile::features`]); empty without ids.
    pub feature_ids: Vec<u32>,
    /// The material colour, linear RGBA.
    pub colour: [f32; 4],
    /// Translucent.
    pub blend: bool,
    /// Bounding box.
    pub bounds: ([f64; 3], [f64; 3]),
}

/// A tile's content, decoded and placed.
#[derive(Clone, Debug)]
pub struct LoadedTile {
    /// Index of its layer.
    pub layer: usize,
    /// Its node in the layer's tree.
    pub node: usize,
    /// Its primitives.
    pub primitives: Vec<LocalPrimitive>,
    /// The property table's class.
    pub class: Option<String>,
    /// Properties per feature.
    pub features: Vec<Map<String, Value>>,
    /// Bytes held.
    pub bytes: usize,
}

/// A picked feature.
#[derive(Clone, Debug, PartialEq)]
pub struct Picked {
    /// The layer.
    pub layer: String,
    /// The property table's class.
    pub class: Option<String>,
    /// Its properties.
    pub properties: Map<String, Value>,
    /// Distance along the ray (m).
    pub distance: f64,
    /// The tile's node in its layer's tree.
    pub node: usize,
    /// The feature's row in the tile's property table.
    pub feature: Option<usize>,
}

fn sub(a: [f64; 3], b: [f64; 3]) -> [f64; 3] {
    [a[0] - b[0], a[1] - b[1], a[2] - b[2]]
}

/// Place decoded content (tile frame) in the local frame through `world` (tile → ECEF).
pub fn place(
    c: content::Content,
    world: &[f64; 16],
    mapper: &Mapper,
    layer: usize,
    node: usize,
) -> Result<LoadedTile> {
    let mut prims = Vec::with_capacity(c.primitives.len());
    let mut bytes = 0usize;
    for p in c.primitives {
        if p.positions.is_empty() {
            continue;
        }
        let mut positions = Vec::with_capacity(p.positions.len());
        let (mut lo, mut hi) = ([f64::INFINITY; 3], [f64::NEG_INFINITY; 3]);
        for q in &p.positions {
            let l = mapper.local(content::mul_point(world, *q))?;
            for k in 0..3 {
                lo[k] = lo[k].min(l[k]);
                hi[k] = hi[k].max(l[k]);
            }
            positions.push(l.map(|v| v as f32));
        }
        // Normals through the Jacobian of tile frame → local at the primitive's centre (the
        // map is a rotation and a scale within 1e-3 over a tile).
        let n = p.positions.len() as f64;
        let c0 = p.positions.iter().fold([0.0; 3], |a, q| {
            [a[0] + q[0] / n, a[1] + q[1] / n, a[2] + q[2] / n]
        });
        let l0 = mapper.local(content::mul_point(world, c0))?;
        let step = 10.0;
        let mut jac = [[0.0; 3]; 3];
        for (k, col) in jac.iter_mut().enumerate() {
            let mut q = c0;
            q[k] += step;
            let l = mapper.local(content::mul_point(world, q))?;
            let d = sub(l, l0);
            *col = [d[0] / step, d[1] / step, d[2] / step];
        }
        let normals: Vec<[f32; 3]> = p
            .normals
            .iter()
            .map(|v| {
                let w = [0, 1, 2].map(|r| jac[0][r] * v[0] + jac[1][r] * v[1] + jac[2][r] * v[2]);
                let len = (w[0] * w[0] + w[1] * w[1] + w[2] * w[2]).sqrt();
                if len > 1e-9 {
                    w.map(|x| (x / len) as f32)
                } else {
                    [0.0; 3]
                }
            })
            .collect();
        bytes += positions.len() * 24 + p.indices.len() * 4 + p.feature_ids.len() * 4;
        prims.push(LocalPrimitive {
            positions,
            normals,
            indices: p.indices,
            feature_ids: p.feature_ids,
            colour: p.colour,
            blend: p.blend,
            bounds: (lo, hi),
        });
    }
    bytes += c.features.len() * 256;
    Ok(LoadedTile {
        layer,
        node,
        primitives: prims,
        class: c.class,
        features: c.features,
        bytes,
    })
}

impl LoadedTile {
    /// The first triangle a ray (local frame) hits: (distance, feature row).
    pub fn pick(&self, o: [f64; 3], d: [f64; 3], tmax: f64) -> Option<(f64, Option<usize>)> {
        let mut best: Option<(f64, Option<usize>)> = None;
        for p in &self.primitives {
            let t0 = best.map_or(tmax, |b| b.0);
            if !ray_box(o, d, p.bounds.0, p.bounds.1, t0) {
                continue;
            }
            let at = |i: u32| p.positions[i as usize].map(f64::from);
            for tri in p.indices.chunks_exact(3) {
                if let Some(t) = ray_triangle(o, d, at(tri[0]), at(tri[1]), at(tri[2])) {
                    if t < best.map_or(tmax, |b| b.0) {
                        let f = p.feature_ids.get(tri[0] as usize).map(|&f| f as usize);
                        best = Some((t, f));
                    }
                }
            }
        }
        best
    }
}

/// One load asked of the workers.
#[derive(Clone, Debug)]
pub struct Job {
    /// The layer's index.
    pub layer: usize,
    /// The tile.
    pub node: usize,
    /// Its content URL.
    pub url: String,
    /// Tile → ECEF.
    pub world: [f64; 16],
}

/// What a worker sends back.
pub type JobResult = (usize, usize, Result<LoadedTile>);

/// Worker threads that fetch, decode and place tiles (each with its own PROJ objects).
pub struct Loader {
    jobs: Sender<Job>,
    /// Finished loads.
    pub results: Mutex<Receiver<JobResult>>,
}

impl Loader {
    /// Start `workers` threads for a scene.
    pub fn start(scene: &StreamScene) -> Loader {
        let (jobs, job_rx) = channel::<Job>();
        let (res_tx, results) = channel::<JobResult>();
        let job_rx = Arc::new(Mutex::new(job_rx));
        for _ in 0..scene.options.workers.clamp(1, 32) {
            let rx = job_rx.clone();
            let tx = res_tx.clone();
            let client = scene.client.clone();
            let georef = scene.georef.clone();
            std::thread::spawn(move || {
                let mapper = georef.mapper();
                loop {
                    let job = match rx.lock() {
                        Ok(r) => match r.recv() {
                            Ok(j) => j,
                            Err(_) => return,
                        },
                        Err(_) => return,
                    };
                    let out = match &mapper {
                        Ok(m) => client
                            .get(&job.url)
                            .and_then(|b| content::decode(&b))
                            .and_then(|c| place(c, &job.world, m, job.layer, job.node)),
                        Err(e) => Err(ViewerError::invalid("project CRS", e)),
                    };
                    if tx.send((job.layer, job.node, out)).is_err() {
                        return;
                    }
                }
            });
        }
        Loader {
            jobs,
            results: Mutex::new(results),
        }
    }

    /// Ask for a tile.
    pub fn request(&self, job: Job) -> bool {
        self.jobs.send(job).is_ok()
    }
}

impl StreamScene {
    /// Open a server's layers (`/tiles/<layer>/tileset.json`; layers the server does not serve
    /// are skipped, none at all is an error) with a token when given.
    pub fn open(
        url: &str,
        token: Option<String>,
        layers: &[String],
        options: StreamOptions,
    ) -> Result<StreamScene> {
        let client = Client::new(url, token)?;
        let mut docs = Vec::new();
        for l in layers {
            let u = client.url(&format!("/tiles/{l}/tileset.json"));
            match client.get_json(&u) {
                Ok(ts) => docs.push((l.clone(), u, ts)),
                Err(ViewerError::Http { message, .. }) if message.starts_with("HTTP 404") => {
                    tracing::warn!("{u}: not served, layer skipped");
                }
                Err(e) => return Err(e),
            }
        }
        let Some((_, first_url, first)) = docs.first() else {
            return Err(ViewerError::invalid(
                url,
                format!("the server serves none of the layers {layers:?}"),
            ));
        };
        let crs_def = first
            .pointer("/asset/extras/huetwin/project_crs")
            .and_then(Value::as_str)
            .ok_or_else(|| {
                ViewerError::invalid(
                    first_url.as_str(),
                    "no asset.extras.huetwin.project_crs: not a huetwin tileset",
                )
            })?;
        let crs = Crs::parse(crs_def).map_err(|e| ViewerError::invalid(crs_def, e))?;
        // The layers' extent in the project CRS from their root regions.
        let to_crs = twin_core::Transform::new(&Crs::wgs84(), &crs)
            .map_err(|e| ViewerError::invalid(crs_def, e))?;
        let mut ext = [
            f64::INFINITY,
            f64::INFINITY,
            f64::NEG_INFINITY,
            f64::NEG_INFINITY,
        ];
        for (_, _, ts) in &docs {
            let Some(r) = tree::root_region(ts) else {
                continue;
            };
            for (lon, lat) in [(r[0], r[1]), (r[2], r[1]), (r[0], r[3]), (r[2], r[3])] {
                let (x, y) = to_crs
                    .apply(lon.to_degrees(), lat.to_degrees())
                    .map_err(|e| ViewerError::invalid(crs_def, e))?;
                ext = [ext[0].min(x), ext[1].min(y), ext[2].max(x), ext[3].max(y)];
            }
        }
        if !ext[0].is_finite() {
            return Err(ViewerError::invalid(url, "no layer has a root region"));
        }
        let geoid = tree::geoid_of(first, &crs, ext)?;
        let georef = Georef {
            crs,
            origin: [(ext[0] + ext[2]) / 2.0, (ext[1] + ext[3]) / 2.0],
            geoid: Arc::new(geoid),
        };
        let mapper = georef.mapper()?;
        let mut out = Vec::with_capacity(docs.len());
        for (name, u, ts) in &docs {
            out.push(Layer {
                name: name.clone(),
                tree: Tree::read(&client, &mapper, u, ts)?,
            });
        }
        // The terrain's coarsest tile, for the presets' ground heights.
        let ground = out.iter().position(|l| l.name == "terrain").and_then(|li| {
            let n = out[li].tree.nodes.first()?;
            let url = n.content.clone()?;
            let c = client.get(&url).and_then(|b| content::decode(&b));
            c.and_then(|c| place(c, &n.world, &mapper, li, 0)).ok()
        });
        Ok(StreamScene {
            client,
            georef,
            layers: out,
            extent: ext,
            options,
            ground,
        })
    }

    /// The index of a layer.
    pub fn layer_index(&self, name: &str) -> Option<usize> {
        self.layers.iter().position(|l| l.name == name)
    }
}

impl Place for StreamScene {
    fn crs(&self) -> &Crs {
        &self.georef.crs
    }
    fn extent(&self) -> [f64; 4] {
        self.extent
    }
    fn origin(&self) -> [f64; 2] {
        self.georef.origin
    }
    /// The height of the coarsest terrain tile under (x, y); 0 without terrain.
    fn ground(&self, x: f64, y: f64) -> f64 {
        let o = [
            x - self.georef.origin[0],
            y - self.georef.origin[1],
            100_000.0,
        ];
        self.ground
            .as_ref()
            .and_then(|g| g.pick(o, [0.0, 0.0, -1.0], f64::INFINITY))
            .map_or(0.0, |(t, _)| o[2] - t)
    }
    fn title(&self) -> String {
        self.client.base().to_string()
    }
}

/// Pick among loaded tiles: the nearest hit of a ray (local frame) over `tiles`.
pub fn pick<'a>(
    scene: &StreamScene,
    tiles: impl Iterator<Item = &'a LoadedTile>,
    o: [f64; 3],
    d: [f64; 3],
) -> Option<Picked> {
    let mut best: Option<(f64, &LoadedTile, Option<usize>)> = None;
    for t in tiles {
        let tmax = best.map_or(f64::INFINITY, |b| b.0);
        if let Some((dist, f)) = t.pick(o, d, tmax) {
            best = Some((dist, t, f));
        }
    }
    let (distance, t, f) = best?;
    Some(Picked {
        layer: scene.layers[t.layer].name.clone(),
        class: t.class.clone(),
        properties: f
            .and_then(|f| t.features.get(f))
            .cloned()
            .unwrap_or_default(),
        distance,
        node: t.node,
        feature: f,
    })
}
