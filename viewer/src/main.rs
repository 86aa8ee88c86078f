//! `twin-viewer <twin folder | http://server> [--token T] [--layers L,..] [--max-sse PX]
//! [--flood RUN] [--traffic RUN] [--colour-by ...] [--preset ...]
//! [--screenshot out.png | --frames DIR] [--panel] [--size WxH]`: the desktop viewer, or its headless
//! export. See the crate README.

use anyhow::{bail, Context, Result};
use clap::Parser;
use std::path::{Path, PathBuf};
use viewer::app::{self, Source, ViewOptions};
use viewer::presets::Preset;
use viewer::scene::{ColourBy, ViewerScene};
use viewer::stream::{StreamOptions, StreamScene, DEFAULT_LAYERS};

/// The huetwin desktop viewer.
#[derive(Parser)]
#[command(name = "twin-viewer", version, about)]
struct Args {
    /// A twin folder (with twin.toml), or a huetwin server's URL (http://host:port) whose
    /// 3D Tiles are streamed.
    twin: String,
    /// A server's API token (sent as a bearer token; needed by private servers).
    #[arg(long)]
    token: Option<String>,
    /// The server's layers to stream, comma-separated.
    #[arg(long, value_delimiter = ',', default_values_t = DEFAULT_LAYERS.map(String::from))]
    layers: Vec<String>,
    /// Streaming: tiles refine while their screen-space error is above this (pixels).
    #[arg(long, default_value_t = 16.0)]
    max_sse: f64,
    /// Streaming: the most decoded tile data kept, in MiB.
    #[arg(long, default_value_t = 512)]
    memory_mib: usize,
    /// A flood run: a result folder or a run id under <twin>/runs/ (its water is animated).
    #[arg(long)]
    flood: Option<String>,
    /// A traffic run: a result folder or a run id (roads by v/c, closed roads marked).
    #[arg(long)]
    traffic: Option<String>,
    /// How buildings are coloured (flood needs --flood).
    #[arg(long, value_enum, default_value = "height")]
    colour_by: ColourBy,
    /// Where the camera starts.
    #[arg(long, value_enum, default_value = "city")]
    preset: Preset,
    /// Output time (s) of the flood run to show first.
    #[arg(long)]
    time: Option<f64>,
    /// Write one picture headless and exit.
    #[arg(long, conflicts_with = "frames")]
    screenshot: Option<PathBuf>,
    /// Write the flood run's animation headless, one numbered PNG per output time, and exit.
    #[arg(long)]
    frames: Option<PathBuf>,
    /// Time this many headless frames (each read back) at --size and print the frame times.
    #[arg(long, conflicts_with_all = ["screenshot", "frames"])]
    bench: Option<usize>,
    /// Headless pictures show the on-screen panel (title, colour mode, the run's time and
    /// slider, no pick yet); a window always shows it.
    #[arg(long)]
    panel: bool,
    /// Size of the headless pictures, WIDTHxHEIGHT.
    #[arg(long, default_value = "1280x720")]
    size: String,
}

fn result_dir(twin: &Path, arg: &str, flag: &str) -> Result<PathBuf> {
    let p = PathBuf::from(arg);
    if p.is_dir() {
        return Ok(p);
    }
    let run = twin.join("runs").join(arg);
    if run.is_dir() {
        return Ok(run);
    }
    bail!(
        "{flag} {arg:?}: neither a folder nor a run id ({} does not exist)",
        run.display()
    )
}

fn size(s: &str) -> Result<(u32, u32)> {
    s.split_once(['x', 'X'])
        .and_then(|(w, h)| Some((w.trim().parse().ok()?, h.trim().parse().ok()?)))
        .with_context(|| format!("--size {s:?}: expected WIDTHxHEIGHT, e.g. 1280x720"))
}

fn main() -> Result<()> {
    let a = Args::parse();
    let source = if a.twin.starts_with("http://") || a.twin.starts_with("https://") {
        if a.flood.is_some() || a.traffic.is_some() || a.frames.is_some() {
            bail!("--flood, --traffic and --frames need a twin folder, not a server URL");
        }
        let opts = StreamOptions {
            max_sse: a.max_sse.clamp(0.5, 1_000.0),
            memory_budget: a.memory_mib.clamp(16, 1 << 16) << 20,
            ..StreamOptions::default()
        };
        Source::Stream(Box::new(StreamScene::open(
            &a.twin,
            a.token.clone(),
            &a.layers,
            opts,
        )?))
    } else {
        let twin = PathBuf::from(&a.twin);
        let mut scene = ViewerScene::open(&twin)?;
        if let Some(f) = &a.flood {
            scene = scene.with_flood(&result_dir(&twin, f, "--flood")?)?;
        }
        if let Some(t) = &a.traffic {
            scene = scene.with_traffic(&result_dir(&twin, t, "--traffic")?)?;
        }
        if a.colour_by == ColourBy::Flood && scene.flood.is_none() {
            bail!("--colour-by flood needs a flood run (--flood)");
        }
        Source::Twin(Box::new(scene))
    };
    let o = ViewOptions {
        colour_by: a.colour_by,
        preset: a.preset,
        time_s: a.time,
        panel: a.panel,
    };
    let (w, h) = size(&a.size)?;
    if let Some(out) = &a.screenshot {
        let t0 = std::time::Instant::now();
        let (pic, adapter) = app::screenshot(source, &o, w, h)?;
        viewer::write_png(out, &pic)?;
        println!(
            "wrote {} ({w}x{h}) on {adapter} in {:.2} s",
            out.display(),
            t0.elapsed().as_secs_f64()
        );
        return Ok(());
    }
    if let Some(n) = a.bench {
        let n = n.clamp(1, 10_000);
        let t0 = std::time::Instant::now();
        let mut h = app::Headless::open(source, &o, w, h)?;
        let mut t = h.frame_times(n)?;
        t.sort_by(f64::total_cmp);
        let mean = t.iter().sum::<f64>() / t.len() as f64;
        let p95 = t[((t.len() as f64 * 0.95).ceil() as usize).clamp(1, t.len()) - 1];
        println!(
            "frames={n} size={w}x{h_} mean_ms={:.1} median_ms={:.1} p95_ms={:.1} fps={:.2} \
             adapter=\"{}\" total_s={:.1}",
            mean * 1e3,
            t[t.len() / 2] * 1e3,
            p95 * 1e3,
            1.0 / mean,
            h.adapter(),
            t0.elapsed().as_secs_f64(),
            h_ = h.size().1,
        );
        return Ok(());
    }
    if let Some(dir) = &a.frames {
        let Source::Twin(scene) = source else {
            bail!("--frames needs a twin folder");
        };
        let files = viewer::write_frames(*scene, &o, w, h, dir)?;
        println!("wrote {} frames to {}", files.len(), dir.display());
        return Ok(());
    }
    app::run_window(source, &o)?;
    Ok(())
}
