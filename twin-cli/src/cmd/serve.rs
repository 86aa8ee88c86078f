//! `twin serve <twin> [--addr A] [--scenarios DIR]... [--gpu] [--max-queued-runs N]
//! [--run-time-limit-s S]`: the HTTP server (`tile-server`) over a twin, with the flood solver
//! chosen here.

use super::flood_solver;
use anyhow::{Context, Result};
use std::net::SocketAddr;
use std::path::PathBuf;
use twin_core::TwinDir;

/// Arguments of `twin serve`.
#[derive(clap::Args)]
pub struct ServeArgs {
    /// The twin folder.
    twin: PathBuf,
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:8080")]
    addr: SocketAddr,
    /// A folder of scenario files the viewer and `POST /api/runs` can run (repeatable;
    /// `<twin>/scenarios` when there is one).
    #[arg(long = "scenarios")]
    scenarios: Vec<PathBuf>,
    /// Solve flood runs on the GPU (wgpu) instead of the CPU.
    #[arg(long)]
    gpu: bool,
    /// Scenario runs that may wait beside the one running; more are answered 429.
    #[arg(long, default_value_t = 16)]
    max_queued_runs: usize,
    /// Wall-clock seconds a scenario run may take before it is stopped and marked failed
    /// (0: no limit).
    #[arg(long, default_value_t = 7200)]
    run_time_limit_s: u64,
}

/// Serves until Ctrl-C.
pub fn run(a: ServeArgs) -> Result<()> {
    let limits = (
        a.max_queued_runs,
        (a.run_time_limit_s > 0).then(|| std::time::Duration::from_secs(a.run_time_limit_s)),
    );
    serve(&a.twin, a.addr, a.scenarios, a.gpu, limits)
}

fn serve(
    twin: &std::path::Path,
    addr: std::net::SocketAddr,
    mut scenarios: Vec<PathBuf>,
    gpu: bool,
    (max_queued_runs, run_time_limit): (usize, Option<std::time::Duration>),
) -> Result<()> {
    use std::sync::Arc;
    use tile_server as server;
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
    let opts = tiles3d::TilesetOptions::for_config(&dir.config);
    let cfg = server::ServerConfig {
        addr,
        disk_cache: Some(dir.dir.join("cache").join("tiles")),
        twin_dir: Some(dir.dir.clone()),
        scenario_dirs: scenarios,
        flood_solver: flood_solver(gpu),
        tile_opts: opts.clone(),
        max_queued_runs,
        run_time_limit,
        ..server::ServerConfig::default()
    };
    let source: Arc<dyn server::source::TileSource> = Arc::new(
        server::source::GeneratedTiles::plan(
            t.clone(),
            &opts,
            &server::source::twin_fingerprint(&dir),
        )
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
