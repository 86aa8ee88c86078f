//! `twin tiles export <twin> <dir>`: the twin's OGC 3D Tiles 1.1 written to a folder
//! (`tiles3d::export`), the same bytes the server makes on demand.

use super::bar;
use anyhow::{Context, Result};
use clap::Subcommand;
use std::path::PathBuf;
use twin_core::{LayerKind, TwinDir};

/// How tile content is written: shared by `twin tiles export` and `twin serve`.
#[derive(clap::Args, Clone, Debug)]
pub struct ContentArgs {
    /// Write plain float glTF instead of compact content (meshopt-compressed, quantized), for
    /// clients without EXT_meshopt_compression and KHR_mesh_quantization.
    #[arg(long)]
    plain: bool,
    /// What point-cloud colours show: auto (RGB when the file has it, else classification when
    /// classified, else elevation), rgb, classification, elevation or intensity.
    #[arg(long, default_value = "auto", value_parser = parse_point_colour)]
    point_colour: tiles3d::PointColour,
    /// Implicit tiling for buildings and heritage (3D Tiles 1.1 quadtree with .subtree files:
    /// a tileset.json of constant size, tiles addressed {level}/{x}/{y}); terrain and point
    /// clouds stay explicit.
    #[arg(long)]
    implicit: bool,
}

fn parse_point_colour(s: &str) -> std::result::Result<tiles3d::PointColour, String> {
    tiles3d::PointColour::parse(s).ok_or_else(|| {
        let names: Vec<&str> = tiles3d::PointColour::ALL.iter().map(|c| c.name()).collect();
        format!("unknown point colour {s:?}: one of {}", names.join(", "))
    })
}

impl ContentArgs {
    /// Set these choices on tileset options.
    pub fn apply(&self, opts: &mut tiles3d::TilesetOptions) {
        opts.compact = !self.plain;
        opts.point_colour = self.point_colour;
        opts.implicit = self.implicit;
    }
}

/// The `twin tiles` subcommands.
#[derive(Subcommand)]
pub enum TilesCmd {
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
        /// How content is written.
        #[command(flatten)]
        content: ContentArgs,
    },
}

/// Runs a `twin tiles` subcommand.
pub fn run(cmd: TilesCmd) -> Result<()> {
    match cmd {
        TilesCmd::Export {
            twin,
            dir,
            layers,
            max_features,
            constant_geoid,
            content,
        } => tiles_export(&twin, &dir, &layers, max_features, constant_geoid, &content),
    }
}

fn tiles_export(
    twin: &std::path::Path,
    dir: &std::path::Path,
    layers: &[String],
    max_features: Option<usize>,
    constant_geoid: bool,
    content: &ContentArgs,
) -> Result<()> {
    use tiles3d::{geodesy::GeoidChoice, TilesetOptions};
    let td = TwinDir::open(twin)?;
    let t = td.load()?;
    let layers = layers
        .iter()
        .map(|l| {
            tiles3d::tile_layer(l).with_context(|| {
                format!("unknown layer {l:?} (buildings, heritage, terrain, pointclouds)")
            })
        })
        .collect::<Result<Vec<_>>>()?;
    let mut opts = TilesetOptions::for_config(&td.config);
    content.apply(&mut opts);
    if let Some(m) = max_features {
        opts.max_features = m.max(1);
        opts.parent_features = opts.parent_features.min(opts.max_features);
    }
    if constant_geoid {
        opts.geoid = GeoidChoice::Constant;
    }
    let start = std::time::Instant::now();
    let report = tiles3d::export(&t, dir, &layers, &opts, &bar())?;
    println!(
        "{:<12} {:>7} {:>7} {:>10} {:>12} {:>9}",
        "layer", "tiles", "glb", "features", "bytes", "subtrees"
    );
    for l in &report.layers {
        // Terrain tiles hold grid blocks, not features.
        let features = match l.layer {
            LayerKind::Terrain => "-".to_string(),
            _ => l.features.to_string(),
        };
        println!(
            "{:<12} {:>7} {:>7} {:>10} {:>12} {:>9}",
            l.layer.name(),
            l.tiles,
            l.contents,
            features,
            l.bytes,
            l.subtrees
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
