//! The `twin` command line: import sources into a twin, describe it, query it.

use anyhow::{bail, Context, Result};
use clap::{Parser, Subcommand};
use geo_types::{Point, Rect};
use indicatif::{ProgressBar, ProgressStyle};
use std::path::PathBuf;
use twin_core::crs::{Crs, Transform};
use twin_core::folder::ImportReport;
use twin_core::import::{LayerKind, Progress};
use twin_core::twin::SourceConfig;
use twin_core::{Twin, TwinDir};

mod render_cmd;
mod scenario_cmd;
mod traffic_cmd;

#[derive(Parser)]
#[command(
    name = "twin",
    version,
    about = "huetwin: a self-hosted digital twin and 3D city map server"
)]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Import a source file (OSM PBF, GeoJSON, CityJSON, LAS/LAZ, DEM, sensors CSV/JSON) into a twin.
    Import {
        /// The source file.
        source: PathBuf,
        /// The twin folder (created with --crs when it has no twin.toml yet).
        #[arg(long)]
        into: PathBuf,
        /// The layer a GeoJSON source feeds (buildings, heritage, sensors, roads, water); guessed from tags otherwise.
        #[arg(long)]
        layer: Option<String>,
        /// The source's CRS when the file does not name one (e.g. EPSG:7415).
        #[arg(long)]
        source_crs: Option<String>,
        /// CityJSON level of detail to take (e.g. 2.2); the highest by default.
        #[arg(long)]
        lod: Option<String>,
        /// Project CRS for a new twin.
        #[arg(long, default_value = "EPSG:32648")]
        crs: String,
    },
    /// Re-import every source listed in the twin's twin.toml into a fresh store.
    Build {
        /// The twin folder.
        twin: PathBuf,
    },
    /// Describe a twin: layers, counts, extents in the project CRS and in WGS84.
    Info {
        /// The twin folder.
        twin: PathBuf,
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Query a layer by bounding box or around a point (coordinates in WGS84 lon/lat).
    Query {
        /// The twin folder.
        twin: PathBuf,
        /// The layer (buildings, heritage, sensors, roads, water).
        #[arg(long, default_value = "buildings")]
        layer: String,
        /// min_lon,min_lat,max_lon,max_lat
        #[arg(long, conflicts_with = "near")]
        bbox: Option<String>,
        /// lon,lat: the k nearest features (or all within --radius metres).
        #[arg(long)]
        near: Option<String>,
        /// How many nearest features.
        #[arg(long, default_value_t = 10)]
        k: usize,
        /// Radius in metres around --near.
        #[arg(long)]
        radius: Option<f64>,
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Run a flood scenario (TOML) on a twin: depth/velocity/hazard GeoTIFFs, per-building,
    /// monument and road tables, and a summary with the water budget.
    Flood {
        /// The twin folder.
        twin: PathBuf,
        /// The scenario file.
        scenario: PathBuf,
        /// Run the wgpu solver (GPU, or Mesa's software rasteriser) instead of the CPU one.
        #[arg(long)]
        gpu: bool,
        /// Output folder (default: the scenario's output_dir, else <twin>/results/<scenario>).
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Run a traffic scenario (TOML) on a twin against its baseline and print the changes.
    Traffic {
        /// The twin folder (overrides the scenario's `twin`).
        twin: PathBuf,
        /// The scenario file.
        scenario: PathBuf,
    },
    /// Scenario files (flood or traffic) run as stored jobs under <twin>/runs: run, list,
    /// show, compare, rerun.
    Scenario {
        #[command(subcommand)]
        cmd: scenario_cmd::ScenarioCmd,
    },
    /// Serve a twin over HTTP: the web viewer, 3D Tiles generated on demand, the JSON API.
    Serve {
        /// The twin folder.
        twin: PathBuf,
        /// Address to listen on.
        #[arg(long, default_value = "127.0.0.1:8080")]
        addr: std::net::SocketAddr,
        /// A folder of scenario files the viewer and `POST /api/runs` can run (repeatable;
        /// `<twin>/scenarios` when there is one).
        #[arg(long = "scenarios")]
        scenarios: Vec<PathBuf>,
        /// Solve flood runs on the GPU (wgpu) instead of the CPU.
        #[arg(long)]
        gpu: bool,
    },
    /// Draw the twin with a flood and/or traffic result to a PNG (headless wgpu).
    Render(render_cmd::RenderArgs),
    /// OGC 3D Tiles 1.1 from the twin.
    Tiles {
        #[command(subcommand)]
        cmd: TilesCmd,
    },
}

#[derive(Subcommand)]
enum TilesCmd {
    /// Write the twin's tilesets (buildings, heritage, terrain, point clouds) to a folder:
    /// DIR/tileset.json and DIR/<layer>/tileset.json with its .glb tiles.
    Export {
        /// The twin folder.
        twin: PathBuf,
        /// The output folder.
        dir: PathBuf,
        /// Layers to export (comma-separated: buildings, heritage, terrain, pointclouds); all the twin has by default.
        #[arg(long, value_delimiter = ',')]
        layers: Vec<String>,
        /// Most features in a leaf tile.
        #[arg(long)]
        max_features: Option<usize>,
        /// Use twin.toml's geoid_offset_m even when PROJ has the EGM96 grid.
        #[arg(long)]
        constant_geoid: bool,
    },
}

/// An indicatif bar behind twin-core's progress trait.
struct Bar(ProgressBar);

impl Progress for Bar {
    fn start(&self, phase: &str, total: u64) {
        self.0.reset();
        self.0.set_length(total);
        self.0.set_message(phase.to_string());
    }
    fn inc(&self, n: u64) {
        self.0.inc(n)
    }
    fn finish(&self) {
        self.0.set_position(self.0.length().unwrap_or(0));
    }
}

fn bar() -> Bar {
    let pb = ProgressBar::new(0);
    pb.set_style(
        ProgressStyle::with_template("{msg:20} [{bar:40}] {percent:>3}% {elapsed}")
            .expect("valid template")
            .progress_chars("=> "),
    );
    Bar(pb)
}

fn numbers(s: &str, n: usize, what: &str) -> Result<Vec<f64>> {
    let v: Vec<f64> = s
        .split(',')
        .map(|x| x.trim().parse::<f64>())
        .collect::<Result<_, _>>()
        .with_context(|| format!("{what}: {s:?} is not {n} comma-separated numbers"))?;
    if v.len() != n || v.iter().any(|x| !x.is_finite()) {
        bail!("{what}: {s:?} must be {n} finite comma-separated numbers");
    }
    Ok(v)
}

fn print_report(r: &ImportReport) {
    let counts: Vec<String> = r
        .counts
        .iter()
        .map(|(k, n)| format!("{n} {}", k.name()))
        .collect();
    println!(
        "imported {}: {} (source CRS {})",
        r.path.display(),
        if counts.is_empty() {
            "nothing".into()
        } else {
            counts.join(", ")
        },
        r.source_crs.as_deref().unwrap_or("?")
    );
    for n in &r.notes {
        println!("  note: {n}");
    }
}

fn fmt_extent(e: Option<[f64; 4]>, prec: usize) -> String {
    match e {
        Some(e) => format!(
            "{:.p$} {:.p$} {:.p$} {:.p$}",
            e[0],
            e[1],
            e[2],
            e[3],
            p = prec
        ),
        None => "-".into(),
    }
}

fn info(dir: &TwinDir, twin: &Twin, json: bool) -> Result<()> {
    let layers = twin.info();
    let wgs = |e: Option<[f64; 4]>| e.map(|e| twin.extent_wgs84(e)).transpose();
    if json {
        let mut out = Vec::new();
        for l in &layers {
            out.push(serde_json::json!({
                "layer": l.layer, "count": l.count, "points": l.points,
                "extent": l.extent, "extent_wgs84": wgs(l.extent)?,
            }));
        }
        let v = serde_json::json!({
            "name": twin.name, "crs": twin.crs.definition(), "crs_name": twin.crs.name(),
            "store": dir.store_path(), "extent": twin.extent(), "extent_wgs84": wgs(twin.extent())?, "layers": out,
        });
        println!("{}", serde_json::to_string_pretty(&v)?);
        return Ok(());
    }
    println!("twin: {}  ({})", twin.name, dir.dir.display());
    println!("project CRS: {}", twin.crs);
    println!("store: {}", dir.store_path().display());
    println!(
        "{:<12} {:>9} {:>10}  {:<47} extent (WGS84 lon/lat)",
        "layer", "count", "points", "extent (project CRS, m)"
    );
    for l in &layers {
        println!(
            "{:<12} {:>9} {:>10}  {:<47} {}",
            l.layer,
            l.count,
            l.points.map(|p| p.to_string()).unwrap_or_default(),
            fmt_extent(l.extent, 1),
            fmt_extent(wgs(l.extent)?, 6)
        );
    }
    println!(
        "{:<12} {:>9} {:>10}  {:<47} {}",
        "all",
        "",
        "",
        fmt_extent(twin.extent(), 1),
        fmt_extent(wgs(twin.extent())?, 6)
    );
    Ok(())
}

struct Hit {
    id: String,
    name: Option<String>,
    detail: String,
    distance: Option<f64>,
}

fn hits(twin: &Twin, layer: LayerKind, idx: Vec<(usize, Option<f64>)>) -> Result<Vec<Hit>> {
    let mut out = Vec::new();
    for (i, distance) in idx {
        let h = match layer {
            LayerKind::Buildings => {
                let b = &twin.buildings.features()[i];
                Hit {
                    id: b.id.clone(),
                    name: b.name.clone(),
                    detail: format!("{:.1} m ({})", b.height, b.height_source.label()),
                    distance,
                }
            }
            LayerKind::Heritage => {
                let h = &twin.heritage.features()[i];
                Hit {
                    id: h.id.clone(),
                    name: h.name.clone(),
                    detail: h
                        .zone
                        .clone()
                        .map(|z| format!("zone {z}"))
                        .unwrap_or_default(),
                    distance,
                }
            }
            LayerKind::Sensors => {
                let s = &twin.sensors.features()[i];
                Hit {
                    id: s.id.clone(),
                    name: s.name.clone(),
                    detail: format!("{} [{}]", s.kind, s.unit),
                    distance,
                }
            }
            LayerKind::Roads => {
                let r = &twin.roads.features()[i];
                Hit {
                    id: r.id.clone(),
                    name: r.name.clone(),
                    detail: r.class.clone(),
                    distance,
                }
            }
            LayerKind::Water => {
                let w = &twin.water.features()[i];
                Hit {
                    id: w.id.clone(),
                    name: w.name.clone(),
                    detail: w.kind.clone(),
                    distance,
                }
            }
            other => bail!("layer {} cannot be queried by features", other.name()),
        };
        out.push(h);
    }
    Ok(out)
}

macro_rules! on_layer {
    ($twin:expr, $layer:expr, |$l:ident| $body:expr) => {
        match $layer {
            LayerKind::Buildings => { let $l = &$twin.buildings; $body }
            LayerKind::Heritage => { let $l = &$twin.heritage; $body }
            LayerKind::Sensors => { let $l = &$twin.sensors; $body }
            LayerKind::Roads => { let $l = &$twin.roads; $body }
            LayerKind::Water => { let $l = &$twin.water; $body }
            other => bail!("layer {} has no feature index (use buildings, heritage, sensors, roads or water)", other.name()),
        }
    };
}

#[allow(clippy::too_many_arguments)]
fn query(
    twin: &Twin,
    layer: &str,
    bbox: Option<String>,
    near: Option<String>,
    k: usize,
    radius: Option<f64>,
    json: bool,
) -> Result<()> {
    let layer = LayerKind::parse(layer).with_context(|| format!("unknown layer {layer:?}"))?;
    let to_proj = Transform::new(&Crs::wgs84(), &twin.crs)?;
    let idx: Vec<(usize, Option<f64>)> = if let Some(b) = bbox {
        let v = numbers(&b, 4, "--bbox")?;
        if v[0] > v[2] || v[1] > v[3] {
            bail!("--bbox: min must not exceed max ({b})");
        }
        // Project the four corners and take their envelope.
        let mut xs = Vec::new();
        let mut ys = Vec::new();
        for (lon, lat) in [(v[0], v[1]), (v[2], v[1]), (v[0], v[3]), (v[2], v[3])] {
            let (x, y) = to_proj.apply(lon, lat)?;
            xs.push(x);
            ys.push(y);
        }
        let min = |v: &[f64]| v.iter().copied().fold(f64::INFINITY, f64::min);
        let max = |v: &[f64]| v.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        let r = Rect::new((min(&xs), min(&ys)), (max(&xs), max(&ys)));
        on_layer!(twin, layer, |l| l
            .query_bbox(r)?
            .into_iter()
            .map(|i| (i, None))
            .collect())
    } else if let Some(n) = near {
        let v = numbers(&n, 2, "--near")?;
        let (x, y) = to_proj.apply(v[0], v[1])?;
        let p = Point::new(x, y);
        let found = match radius {
            Some(r) => on_layer!(twin, layer, |l| l.query_radius(p, r)?),
            None => on_layer!(twin, layer, |l| l.query_nearest(p, k)?),
        };
        found.into_iter().map(|(i, d)| (i, Some(d))).collect()
    } else {
        bail!("give --bbox or --near");
    };
    let hits = hits(twin, layer, idx)?;
    if json {
        let v: Vec<_> = hits
            .iter()
            .map(|h| serde_json::json!({"id": h.id, "name": h.name, "detail": h.detail, "distance_m": h.distance}))
            .collect();
        println!("{}", serde_json::to_string_pretty(&v)?);
    } else {
        for h in &hits {
            let d = h
                .distance
                .map(|d| format!("{d:>9.1} m  "))
                .unwrap_or_default();
            println!(
                "{d}{:<28} {:<32} {}",
                h.id,
                h.name.as_deref().unwrap_or("-"),
                h.detail
            );
        }
        println!("{} {}", hits.len(), layer.name());
    }
    Ok(())
}

fn print_flood(r: &scenarios::flood::FloodReport) {
    let g = &r.grid;
    println!("flood scenario: {}", r.name);
    println!("solver: {}", r.solver);
    println!(
        "grid: {} x {} cells of {} m; {} s simulated in {} steps, {:.1} s ({:.3e} cell updates/s)",
        g.nx, g.ny, g.dx, r.duration_s, r.steps, r.solver_wall_s, r.cell_updates_per_s
    );
    let mb = &r.mass_balance;
    println!(
        "water: start {:.1} m³, rain {:.1} m³, inflow {:.1} m³, boundaries {:+.1} m³, end {:.1} m³ (relative error {:.1e})",
        mb.initial_m3, mb.rain_m3, mb.inflow_m3, mb.boundary_net_m3, mb.final_m3, mb.relative_error
    );
    println!(
        "flooded (ever wet): {:.0} m²; buildings wet {}, above the hazard depth {}; heritage sites wet {}; road links impassable {}",
        r.max_flooded_area_m2, r.buildings_wet, r.buildings_above_hazard_depth, r.heritage_wet, r.roads_impassable
    );
    for n in &r.notes {
        println!("  note: {n}");
    }
    if let Some(d) = &r.output_dir {
        println!("results: {} ({} files)", d.display(), r.files.len());
    }
}

fn serve(
    twin: &std::path::Path,
    addr: std::net::SocketAddr,
    mut scenarios: Vec<PathBuf>,
    gpu: bool,
) -> Result<()> {
    use std::sync::Arc;
    use tile_server::server;
    let dir = TwinDir::open(twin)?;
    let t = Arc::new(dir.load()?);
    if scenarios.is_empty() && dir.dir.join("scenarios").is_dir() {
        scenarios.push(dir.dir.join("scenarios"));
    }
    for s in &scenarios {
        if !s.is_dir() {
            anyhow::bail!("scenario folder {} does not exist", s.display());
        }
    }
    let opts = tile_server::tiles::TilesetOptions::for_config(&dir.config);
    let cfg = server::ServerConfig {
        addr,
        disk_cache: Some(dir.dir.join("cache").join("tiles")),
        twin_dir: Some(dir.dir.clone()),
        scenario_dirs: scenarios,
        gpu_floods: gpu,
        tile_opts: opts.clone(),
        ..server::ServerConfig::default()
    };
    let source: Arc<dyn server::tiles::TileSource> = Arc::new(
        server::tiles::GeneratedTiles::plan(t.clone(), &opts, &server::twin_fingerprint(&dir))
            .context("planning the tilesets")?,
    );
    let app = server::app(t.clone(), source, &cfg)?;
    if !server::viewer::cesium_dir(&cfg.web_dir)
        .join("Cesium.js")
        .exists()
    {
        eprintln!(
            "note: CesiumJS is not in {} (run scripts/setup.sh); the viewer page will say so",
            server::viewer::cesium_dir(&cfg.web_dir).display()
        );
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    rt.block_on(server::run(app, cfg.addr, |a| {
        println!(
            "serving twin {:?} ({} buildings)",
            t.name,
            t.buildings.len()
        );
        println!("viewer: http://{a}/");
        println!("API:    http://{a}/api/layers  (OpenAPI: http://{a}/api/openapi.json)");
    }))
    .with_context(|| format!("serving on {addr}"))?;
    Ok(())
}

fn tiles_export(
    twin: &std::path::Path,
    dir: &std::path::Path,
    layers: &[String],
    max_features: Option<usize>,
    constant_geoid: bool,
) -> Result<()> {
    use tile_server::tiles::{self, geodesy::GeoidChoice, TileLayer, TilesetOptions};
    let td = TwinDir::open(twin)?;
    let t = td.load()?;
    let layers = layers
        .iter()
        .map(|l| {
            TileLayer::parse(l).with_context(|| {
                format!("unknown layer {l:?} (buildings, heritage, terrain, pointclouds)")
            })
        })
        .collect::<Result<Vec<_>>>()?;
    let mut opts = TilesetOptions::for_config(&td.config);
    if let Some(m) = max_features {
        opts.max_features = m.max(1);
        opts.parent_features = opts.parent_features.min(opts.max_features);
    }
    if constant_geoid {
        opts.geoid = GeoidChoice::Constant;
    }
    let start = std::time::Instant::now();
    let report = tiles::export(&t, dir, &layers, &opts, &bar())?;
    println!(
        "{:<12} {:>7} {:>7} {:>10} {:>12}",
        "layer", "tiles", "glb", "features", "bytes"
    );
    for l in &report.layers {
        // Terrain tiles hold grid blocks, not features.
        let features = match l.layer {
            TileLayer::Terrain => "-".to_string(),
            _ => l.features.to_string(),
        };
        println!(
            "{:<12} {:>7} {:>7} {:>10} {:>12}",
            l.layer.name(),
            l.tiles,
            l.contents,
            features,
            l.bytes
        );
    }
    if let Some(l) = report.layers.first() {
        println!("heights: ellipsoidal, {}", l.geoid.describe());
    }
    println!(
        "wrote {} in {:.1} s",
        report.tileset.display(),
        start.elapsed().as_secs_f64()
    );
    Ok(())
}

// mimalloc: hyper and the tile cache allocate and free small buffers on every request; it is
// markedly cheaper there than glibc's malloc (scripts/bench_server.sh).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() {
    if let Err(e) = run() {
        // The whole chain, plainly, without a backtrace.
        eprintln!("error: {e:#}");
        std::process::exit(1);
    }
}

fn run() -> Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "warn".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse();
    match cli.cmd {
        Cmd::Import {
            source,
            into,
            layer,
            source_crs,
            lod,
            crs,
        } => {
            let mut dir = if into.join("twin.toml").exists() {
                TwinDir::open(&into)?
            } else {
                let name = into
                    .file_name()
                    .map(|n| n.to_string_lossy().to_string())
                    .unwrap_or_else(|| "twin".into());
                TwinDir::create(&into, &name, Crs::parse(&crs)?)?
            };
            let layer = layer
                .map(|l| LayerKind::parse(&l).with_context(|| format!("unknown layer {l:?}")))
                .transpose()?;
            // Paths inside the twin folder are stored relative to it.
            let source =
                std::path::absolute(&source).with_context(|| format!("{}", source.display()))?;
            let folder = std::path::absolute(&into)?;
            let path = source
                .strip_prefix(&folder)
                .map(|p| p.to_path_buf())
                .unwrap_or(source);
            let report = dir.import(
                SourceConfig {
                    path,
                    layer,
                    crs: source_crs,
                    lod,
                },
                &bar(),
            )?;
            print_report(&report);
        }
        Cmd::Build { twin } => {
            let dir = TwinDir::open(&twin)?;
            for r in dir.build(&bar())? {
                print_report(&r);
            }
        }
        Cmd::Info { twin, json } => {
            let dir = TwinDir::open(&twin)?;
            let t = dir.load()?;
            info(&dir, &t, json)?;
        }
        Cmd::Query {
            twin,
            layer,
            bbox,
            near,
            k,
            radius,
            json,
        } => {
            let t = TwinDir::open(&twin)?.load()?;
            query(&t, &layer, bbox, near, k, radius, json)?;
        }
        Cmd::Flood {
            twin,
            scenario,
            gpu,
            out,
        } => {
            let make: &scenarios::flood::SolverFactory = if gpu {
                &renderer::flood::gpu_solver
            } else {
                &scenarios::flood::cpu_solver
            };
            let r = scenarios::flood::run_scenario(
                &scenario,
                Some(&twin),
                out.as_deref(),
                make,
                &bar(),
            )?;
            print_flood(&r);
        }
        Cmd::Serve {
            twin,
            addr,
            scenarios,
            gpu,
        } => serve(&twin, addr, scenarios, gpu)?,
        Cmd::Tiles {
            cmd:
                TilesCmd::Export {
                    twin,
                    dir,
                    layers,
                    max_features,
                    constant_geoid,
                },
        } => tiles_export(&twin, &dir, &layers, max_features, constant_geoid)?,
        Cmd::Traffic { twin, scenario } => traffic_cmd::traffic(&twin, &scenario)?,
        Cmd::Render(a) => render_cmd::render(&a)?,
        Cmd::Scenario { cmd } => scenario_cmd::scenario(cmd)?,
    }
    Ok(())
}
