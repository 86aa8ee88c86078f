//! The `twin` command line: a short main that parses the arguments and hands each subcommand
//! to its file under `cmd/`.

mod cmd;

use anyhow::Result;
use clap::{Parser, Subcommand};

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
    Import(cmd::import::ImportArgs),
    /// Re-import every source listed in the twin's twin.toml into a fresh store.
    Build(cmd::import::BuildArgs),
    /// Describe a twin: layers, counts, extents in the project CRS and in WGS84.
    Info(cmd::info::InfoArgs),
    /// Query a layer by bounding box or around a point (coordinates in WGS84 lon/lat).
    Query(cmd::query::QueryArgs),
    /// Run a flood scenario (TOML) on a twin: depth/velocity/hazard GeoTIFFs, per-building,
    /// monument and road tables, and a summary with the water budget.
    Flood(cmd::flood::FloodArgs),
    /// Run a traffic scenario (TOML) on a twin against its baseline and print the changes.
    Traffic(cmd::traffic::TrafficArgs),
    /// Scenario files (flood or traffic) run as stored jobs under <twin>/runs: run, list,
    /// show, compare, rerun.
    Scenario {
        #[command(subcommand)]
        cmd: cmd::scenario::ScenarioCmd,
    },
    /// Serve a twin over HTTP: the web viewer, 3D Tiles generated on demand, the JSON API.
    Serve(Box<cmd::serve::ServeArgs>),
    /// Draw the twin with a flood and/or traffic result to a PNG (headless wgpu).
    Render(cmd::render::RenderArgs),
    /// OGC 3D Tiles 1.1 from the twin.
    Tiles {
        #[command(subcommand)]
        cmd: cmd::tiles::TilesCmd,
    },
    /// The twin's own basemap (raster XYZ tiles drawn with wgpu, as `twin serve` serves them
    /// under /basemap): export to a folder or an MBTiles file.
    Basemap {
        #[command(subcommand)]
        cmd: cmd::basemap::BasemapCmd,
    },
    /// Heritage conservation: check a proposed building against the protection zones and
    /// protected views; list the existing buildings that break them.
    Heritage {
        #[command(subcommand)]
        cmd: cmd::heritage::HeritageCmd,
    },
    /// Run scenario runs from a PostgreSQL queue (what `twin serve --queue` queues), results
    /// to object storage.
    Worker(cmd::worker::WorkerArgs),
    /// API tokens of the twin's server, with roles: create (printed once), list, revoke.
    Token {
        #[command(subcommand)]
        cmd: cmd::token::TokenCmd,
    },
}

// mimalloc: hyper and the tile cache allocate and free small buffers on every request; it is
// markedly cheaper there than glibc's malloc (scripts/bench_server.sh).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() {
    // Before any thread: no stray Wayland lines from Mesa's Vulkan layer on headless renders.
    renderer::gpu::quiet_headless_vulkan();
    if let Err(e) = run() {
        eprintln!("error: {}", message(&e));
        std::process::exit(1);
    }
}

/// The error's chain, plainly, without a backtrace, each cause once: errors that show their
/// cause in their own text and also chain it (`"{path}: {source}"` with `#[source]`) printed
/// the reason twice ("x.toml: No such file or directory (os error 2): No such file or
/// directory (os error 2)").
fn message(e: &anyhow::Error) -> String {
    let mut out = String::new();
    for cause in e.chain() {
        let text = cause.to_string();
        if !out.contains(&text) {
            if !out.is_empty() {
                out.push_str(": ");
            }
            out.push_str(&text);
        }
    }
    out
}

fn run() -> Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "warn".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    match Cli::parse().cmd {
        Cmd::Import(a) => cmd::import::import(a),
        Cmd::Build(a) => cmd::import::build(a),
        Cmd::Info(a) => cmd::info::run(a),
        Cmd::Query(a) => cmd::query::run(a),
        Cmd::Flood(a) => cmd::flood::run(a),
        Cmd::Traffic(a) => cmd::traffic::run(a),
        Cmd::Scenario { cmd } => cmd::scenario::scenario(cmd),
        Cmd::Serve(a) => cmd::serve::run(*a),
        Cmd::Render(a) => cmd::render::render(&a),
        Cmd::Tiles { cmd } => cmd::tiles::run(cmd),
        Cmd::Basemap { cmd } => cmd::basemap::run(cmd),
        Cmd::Heritage { cmd } => cmd::heritage::run(cmd),
        Cmd::Token { cmd } => cmd::token::run(cmd),
        Cmd::Worker(a) => cmd::worker::run(a),
    }
}

#[cfg(test)]
mod tests {

    /// Issue 20: a missing file's reason was printed twice.
    #[test]
    fn each_cause_is_printed_once() {
        /// An error that shows its cause and also chains it, as thiserror's
        /// `#[error("{path}: {source}")]` with `#[source]` does.
        #[derive(Debug)]
        struct Io {
            path: String,
            source: std::io::Error,
        }
        impl std::fmt::Display for Io {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                write!(f, "{}: {}", self.path, self.source)
            }
        }
        impl std::error::Error for Io {
            fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
                Some(&self.source)
            }
        }
        let io = std::io::Error::new(
            std::io::ErrorKind::NotFound,
            "No such file or directory (os error 2)",
        );
        let e = anyhow::Error::new(Io {
            path: "x.toml".into(),
            source: io,
        });
        assert_eq!(
            super::message(&e),
            "x.toml: No such file or directory (os error 2)"
        );
        let e = e.context("reading the scenario");
        assert_eq!(
            super::message(&e),
            "reading the scenario: x.toml: No such file or directory (os error 2)"
        );
    }
}
