//! `twin query <twin> --layer L (--bbox ... | --near ... [--k N | --radius M])`: features by
//! box or around a point, coordinates in WGS84 lon/lat.

use super::numbers;
use anyhow::{bail, Context, Result};
use geo_types::{Point, Rect};
use std::path::PathBuf;
use twin_core::crs::{Crs, Transform};
use twin_core::twin::clamp_wgs84_bbox;
use twin_core::{LayerKind, TwinDir};

/// Arguments of `twin query`.
#[derive(clap::Args)]
pub struct QueryArgs {
    /// The twin folder.
    twin: PathBuf,
    /// The layer (buildings, heritage, sensors, roads, water, landuse).
    #[arg(long, default_value = "buildings")]
    layer: String,
    /// min_lon,min_lat,max_lon,max_lat (a negative first number is taken as a value, not a flag)
    #[arg(long, conflicts_with = "near", allow_hyphen_values = true)]
    bbox: Option<String>,
    /// lon,lat: the k nearest features (or all within --radius metres).
    #[arg(long, allow_hyphen_values = true)]
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
}

/// Runs the query and prints the hits.
pub fn run(a: QueryArgs) -> Result<()> {
    let kind = LayerKind::parse(&a.layer).with_context(|| {
        format!(
            "unknown layer {:?} (layers: {})",
            a.layer,
            LayerKind::names(&LayerKind::VECTOR)
        )
    })?;
    let twin = TwinDir::open(&a.twin)?.load()?;
    let Some(layer) = twin.vector(kind) else {
        bail!(
            "layer {} has no feature index (use {})",
            kind.name(),
            LayerKind::names(&LayerKind::VECTOR).replace(", landuse", " or landuse")
        );
    };
    let to_proj = Transform::new(&Crs::wgs84(), &twin.crs)?;
    let idx: Vec<(usize, Option<f64>)> = if let Some(b) = &a.bbox {
        let v = numbers(b, 4, "--bbox")?;
        if v[0] > v[2] || v[1] > v[3] {
            bail!("--bbox: min must not exceed max ({b})");
        }
        // Only the part of the box over the twin: a box much larger than the twin (the world)
        // has corners that do not project into its CRS.
        let extent = twin.extent().map(|e| twin.extent_wgs84(e)).transpose()?;
        match clamp_wgs84_bbox([v[0], v[1], v[2], v[3]], extent) {
            None => Vec::new(),
            Some(v) => {
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
                layer
                    .query_bbox(r)?
                    .into_iter()
                    .map(|i| (i, None))
                    .collect()
            }
        }
    } else if let Some(n) = &a.near {
        let v = numbers(n, 2, "--near")?;
        let (x, y) = to_proj.apply(v[0], v[1])?;
        let p = Point::new(x, y);
        let found = match a.radius {
            Some(r) => layer.query_radius(p, r)?,
            None => layer.query_nearest(p, a.k)?,
        };
        found.into_iter().map(|(i, d)| (i, Some(d))).collect()
    } else {
        bail!("give --bbox or --near");
    };
    let hits: Vec<Hit> = idx
        .into_iter()
        .filter_map(|(i, distance)| {
            let name = layer
                .properties(i)?
                .get("name")
                .and_then(|n| n.as_str())
                .map(str::to_string);
            Some(Hit {
                id: layer.id_at(i)?.to_string(),
                name,
                detail: layer.summary(i)?,
                distance,
            })
        })
        .collect();
    if a.json {
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
        println!("{} {}", hits.len(), kind.name());
    }
    Ok(())
}

struct Hit {
    id: String,
    name: Option<String>,
    detail: String,
    distance: Option<f64>,
}
