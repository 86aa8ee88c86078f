//! `twin render <twin> [--scenario DIR|RUN-ID] [--traffic DIR|RUN-ID] [--time S] --camera ...
//! --size WxH --out picture.png`: a picture of the twin with scenario results on it, drawn
//! headless by `renderer::render`.

use anyhow::{bail, Context, Result};
use renderer::render::{Camera, FloodLayer, Renderer, Scene, TrafficLayer, CAMERA_FORMS};
use scenarios::output::RunDir;
use std::path::{Path, PathBuf};
use twin_core::TwinDir;

/// Arguments of `twin render`.
#[derive(clap::Args)]
pub struct RenderArgs {
    /// The twin folder.
    twin: PathBuf,
    /// A result folder, or a run id (a folder under <twin>/runs/): a flood result (max_depth.tif)
    /// or a traffic result (links.csv).
    #[arg(long)]
    scenario: Option<String>,
    /// A traffic result folder or run id (links.csv with road_id and vc columns).
    #[arg(long)]
    traffic: Option<String>,
    /// Draw the flood's depth snapshot at this time (s) instead of its largest depth.
    #[arg(long)]
    time: Option<f64>,
    /// map (fitted to the area the results touch: wet cells, closed or loaded roads),
    /// map:xmin,ymin,xmax,ymax (project CRS), persp:x,y,z,heading_deg,pitch_deg,fov_deg
    /// (pitch: degrees below the horizon) or citadel.
    #[arg(long, default_value = "map")]
    camera: String,
    /// Picture size, WIDTHxHEIGHT pixels.
    #[arg(long, default_value = "1600x1000")]
    size: String,
    /// The PNG to write.
    #[arg(long)]
    out: PathBuf,
}

/// A result folder given by path, else by run id under `<twin>/runs/`.
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
    let parsed = s
        .split_once(['x', 'X'])
        .and_then(|(w, h)| Some((w.trim().parse::<u32>().ok()?, h.trim().parse::<u32>().ok()?)));
    match parsed {
        Some((w, h)) if w > 0 && h > 0 => Ok((w, h)),
        _ => bail!("--size {s:?}: expected WIDTHxHEIGHT in pixels, e.g. 1600x1000"),
    }
}

/// Runs `twin render`.
pub fn render(a: &RenderArgs) -> Result<()> {
    let (w, h) = size(&a.size)?;
    let dir = TwinDir::open(&a.twin)?;
    // The store when the twin is built, else its sources imported in memory (as `twin scenario`).
    let twin = dir.load()?;
    let camera = Camera::parse(&a.camera, &twin.crs)
        .with_context(|| format!("--camera {:?} (forms: {CAMERA_FORMS})", a.camera))?;
    let mut scene = Scene::from_twin(&twin)?;
    let mut traffic = a
        .traffic
        .as_deref()
        .map(|t| result_dir(&a.twin, t, "--traffic"))
        .transpose()?;
    if let Some(s) = &a.scenario {
        let d = result_dir(&a.twin, s, "--scenario")?;
        let run = RunDir::new(&d);
        if run.is_flood() {
            scene = scene.with_flood(FloodLayer::load(&d, a.time)?);
        } else if run.is_traffic() && traffic.is_none() {
            traffic = Some(d);
        } else {
            bail!(
                "--scenario {}: not a flood result (no max_depth.tif) nor a traffic result (no links.csv)",
                d.display()
            );
        }
    }
    if a.time.is_some() && scene.flood.is_none() {
        bail!("--time needs a flood result (--scenario with max_depth.tif)");
    }
    if let Some(t) = traffic {
        scene = scene.with_traffic(TrafficLayer::load(&t)?);
    }
    let r = Renderer::new()?;
    let img = r.render(&scene, &camera, w, h)?;
    let png = img.to_png()?;
    std::fs::write(&a.out, &png).with_context(|| format!("writing {}", a.out.display()))?;
    println!(
        "wrote {} ({w}x{h}, {} bytes) on {}",
        a.out.display(),
        png.len(),
        r.adapter()
    );
    Ok(())
}
