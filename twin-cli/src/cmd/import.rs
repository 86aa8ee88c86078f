//! `twin import <source> --into <twin>` and `twin build <twin>`: sources into a twin's store.

use super::bar;
use anyhow::{Context, Result};
use std::path::PathBuf;
use twin_core::folder::{ImportReport, STORE_FILE};
use twin_core::twin::SourceConfig;
use twin_core::{Crs, LayerKind, TwinDir};

/// Arguments of `twin import`.
#[derive(clap::Args)]
pub struct ImportArgs {
    /// The source file.
    source: PathBuf,
    /// The twin folder (created with --crs when it has no twin.toml yet).
    #[arg(long)]
    into: PathBuf,
    /// The layer a GeoJSON source feeds (buildings, heritage, sensors, roads, water, landuse); guessed from tags otherwise.
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
    /// The store: a GeoPackage path or a PostgreSQL/PostGIS database (`postgres://user@host:port/db`;
    /// the password from PGPASSWORD); recorded in twin.toml (without the password). Default: the
    /// one twin.toml names, else <twin>/twin.gpkg.
    #[arg(long)]
    store: Option<String>,
}

/// Arguments of `twin build`.
#[derive(clap::Args)]
pub struct BuildArgs {
    /// The twin folder.
    twin: PathBuf,
}

/// Imports one source into the twin (created when it has no twin.toml yet).
pub fn import(a: ImportArgs) -> Result<()> {
    // A twin exists once it has a twin.toml, or a store whose first import committed (and was
    // stopped before writing twin.toml: opening rolls forward to it).
    let mut dir = if a.into.join("twin.toml").exists() || a.into.join(STORE_FILE).exists() {
        match &a.store {
            Some(s) => TwinDir::with_store(&a.into, s)?,
            None => TwinDir::open(&a.into)?,
        }
    } else if let Some(s) = &a.store {
        let name = a
            .into
            .file_name()
            .map(|n| n.to_string_lossy().to_string())
            .unwrap_or_else(|| "twin".into());
        // A folder without twin.toml whose database holds a twin rolls forward to it.
        match TwinDir::with_store(&a.into, s) {
            Ok(d) => d,
            Err(_) => TwinDir::create_with_store(&a.into, &name, Crs::parse(&a.crs)?, s)?,
        }
    } else {
        let name = a
            .into
            .file_name()
            .map(|n| n.to_string_lossy().to_string())
            .unwrap_or_else(|| "twin".into());
        TwinDir::create(&a.into, &name, Crs::parse(&a.crs)?)?
    };
    let layer = a
        .layer
        .map(|l| {
            LayerKind::parse(&l).with_context(|| {
                format!(
                    "unknown layer {l:?} (layers: {})",
                    LayerKind::names(&LayerKind::VECTOR)
                )
            })
        })
        .transpose()?;
    // Paths inside the twin folder are stored relative to it.
    let source =
        std::path::absolute(&a.source).with_context(|| format!("{}", a.source.display()))?;
    let folder = std::path::absolute(&a.into)?;
    let path = source
        .strip_prefix(&folder)
        .map(|p| p.to_path_buf())
        .unwrap_or(source);
    let report = dir.import(
        SourceConfig {
            path,
            layer,
            crs: a.source_crs,
            lod: a.lod,
        },
        &bar(),
    )?;
    print_report(&report);
    Ok(())
}

/// Re-imports every source listed in twin.toml into a fresh store.
pub fn build(a: BuildArgs) -> Result<()> {
    let dir = TwinDir::open(&a.twin)?;
    // The build carries the server's tokens (kept in the store) over to the new store.
    for r in dir.build(&bar())? {
        print_report(&r);
    }
    Ok(())
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
