//! `twin info <twin>`: layers, counts, extents in the project CRS and in WGS84.

use anyhow::Result;
use std::path::PathBuf;
use twin_core::{Twin, TwinDir};

/// Arguments of `twin info`.
#[derive(clap::Args)]
pub struct InfoArgs {
    /// The twin folder.
    twin: PathBuf,
    /// Print JSON instead of a table.
    #[arg(long)]
    json: bool,
}

/// Describes the twin.
pub fn run(a: InfoArgs) -> Result<()> {
    let dir = TwinDir::open(&a.twin)?;
    let t = dir.load()?;
    info(&dir, &t, a.json)
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
            "store": dir.store.to_string(), "extent": twin.extent(), "extent_wgs84": wgs(twin.extent())?, "layers": out,
        });
        println!("{}", serde_json::to_string_pretty(&v)?);
        return Ok(());
    }
    println!("twin: {}  ({})", twin.name, dir.dir.display());
    println!("project CRS: {}", twin.crs);
    println!("store: {}", dir.store);
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
