//! Water-surface tilesets of a flood run: the depth raster of one output time laid on the
//! ground raster of the same run (`ground.tif`, the flood grid's ground with levees), cells
//! deeper than a threshold kept, meshed and tiled like terrain, translucent. Every vertex
//! carries its water depth (`_DEPTH_M`, metres, float) and the colour of its depth class
//! (`COLOR_0`, [`DEPTH_CLASSES`]), so any glTF viewer shows the water by depth and a viewer
//! with custom shaders can use the depth itself.
//!
//! The flood rasters are in the twin's project CRS (the flood grid is a resampled DEM), so the
//! surface is a [`Dem`] of the water level that the terrain tiler handles as it is: a quadtree
//! of mesh tiles, finer tiles replacing coarser ones, dry cells left as holes.

use super::tileset_json::{Asset, BoundingVolume, TileJson, TilesetJson};
use super::{Refine, Tileset, TilesetOptions};
use crate::error::{Error, Result};
use std::path::Path;
use twin_core::import::dem::read_geotiff;
use twin_core::model::Dem;
use twin_core::LayerKind;
use twin_core::NoProgress;
use twin_core::{Crs, Twin};

/// Colour of water surfaces (linear RGBA, blended): white, so that the vertex colours of the
/// depth classes show as they are, at this opacity.
pub const WATER_RGBA: [f64; 4] = [1.0, 1.0, 1.0, 0.72];

/// One class of water depth on the water surfaces.
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize)]
pub struct DepthClass {
    /// Least depth of the class (m); the class runs to the next one's.
    pub min_m: f32,
    /// Colour, sRGB hex (`#rrggbb`), as a legend shows it.
    pub colour: &'static str,
    /// The class as a legend writes it.
    pub label: &'static str,
}

impl DepthClass {
    /// The colour as display (sRGB) bytes, as the legend's hex writes it.
    pub fn srgb8(&self) -> [u8; 3] {
        let h = self.colour.trim_start_matches('#');
        let byte =
            |i: usize| u8::from_str_radix(h.get(i..i + 2).unwrap_or("ff"), 16).unwrap_or(255);
        [byte(0), byte(2), byte(4)]
    }

    /// The colour as linear RGBA bytes (glTF vertex colours are linear).
    pub fn rgba8_linear(&self) -> [u8; 4] {
        let [r, g, b] = self.srgb8();
        let lin = |b: u8| {
            let c = f64::from(b) / 255.0;
            let l = if c <= 0.04045 {
                c / 12.92
            } else {
                ((c + 0.055) / 1.055).powf(2.4)
            };
            (l * 255.0).round() as u8
        };
        [lin(r), lin(g), lin(b), 255]
    }
}

/// The depth classes of water surfaces, deepest first (m): 0.05–0.3, 0.3–0.5, 0.5–1, 1–2, ≥ 2.
/// The lower bound of the shallowest is [`MIN_DEPTH_M`]; shallower cells are not drawn.
pub const DEPTH_CLASSES: [DepthClass; 5] = [
    DepthClass {
        min_m: 2.0,
        colour: "#08306b",
        label: "≥ 2 m",
    },
    DepthClass {
        min_m: 1.0,
        colour: "#08519c",
        label: "1–2 m",
    },
    DepthClass {
        min_m: 0.5,
        colour: "#3182bd",
        label: "0.5–1 m",
    },
    DepthClass {
        min_m: 0.3,
        colour: "#6baed6",
        label: "0.3–0.5 m",
    },
    DepthClass {
        min_m: MIN_DEPTH_M,
        colour: "#c6dbef",
        label: "0.05–0.3 m",
    },
];

/// The class of a depth (m), `None` below [`MIN_DEPTH_M`].
///
/// ```
/// use tiles3d::water::depth_class;
/// assert_eq!(depth_class(0.4).unwrap().label, "0.3–0.5 m");
/// assert_eq!(depth_class(2.0).unwrap().label, "≥ 2 m");
/// assert!(depth_class(0.01).is_none());
/// ```
pub fn depth_class(depth_m: f32) -> Option<&'static DepthClass> {
    DEPTH_CLASSES.iter().find(|c| depth_m >= c.min_m)
}

/// Depth below which a cell counts as dry on a water surface (m).
pub const MIN_DEPTH_M: f32 = 0.05;

/// Read one band of a GeoTIFF written by a flood run as a grid (NaN and nodata cells empty).
pub fn read_raster(path: &Path) -> Result<Dem> {
    let src = read_geotiff(path, &NoProgress)?;
    let mut g = src.grid;
    for v in &mut g.values {
        if v.is_some_and(|x| !x.is_finite()) {
            *v = None;
        }
    }
    Ok(g)
}

/// The water level (ground + depth) where `depth` is at least `min_depth`, empty elsewhere.
/// Both grids must be the same grid.
pub fn surface(ground: &Dem, depth: &Dem, min_depth: f32) -> Result<Dem> {
    let same = ground.ncols == depth.ncols
        && ground.nrows == depth.nrows
        && (ground.xmin - depth.xmin).abs() < 1e-6
        && (ground.ymax - depth.ymax).abs() < 1e-6
        && (ground.cell_x - depth.cell_x).abs() < 1e-9
        && (ground.cell_y - depth.cell_y).abs() < 1e-9;
    if !same {
        return Err(Error::invalid(
            "water surface",
            format!(
                "the depth grid ({}x{} at {}, {}) is not the ground grid ({}x{} at {}, {})",
                depth.ncols,
                depth.nrows,
                depth.xmin,
                depth.ymax,
                ground.ncols,
                ground.nrows,
                ground.xmin,
                ground.ymax
            ),
        ));
    }
    let values = ground
        .values
        .iter()
        .zip(&depth.values)
        .map(|(z, h)| match (z, h) {
            (Some(z), Some(h)) if *h >= min_depth => Some(z + h),
            _ => None,
        })
        .collect();
    Ok(Dem {
        name: depth.name.clone(),
        values,
        ..ground.clone()
    })
}

/// The tileset of a surface with no wet cell: a root without content or children.
fn empty_tileset() -> TilesetJson {
    TilesetJson {
        asset: Asset::huetwin(None),
        geometric_error: 0.0,
        root: TileJson {
            bounding_volume: BoundingVolume { region: [0.0; 6] },
            geometric_error: 0.0,
            refine: Some(Refine::Add),
            transform: None,
            content: None,
            implicit_tiling: None,
            children: Vec::new(),
        },
        schema: None,
        metadata: None,
    }
}

/// A water-surface tileset: the surface as the only terrain of a twin of its own.
pub struct WaterTiles {
    twin: Twin,
    set: Option<Tileset>,
}

impl WaterTiles {
    /// Plan the tileset of `depth` (a depth raster) over `ground`, in the project CRS `crs`.
    /// A surface with no wet cell gives an empty tileset ([`WaterTiles::is_empty`]).
    pub fn plan(crs: &Crs, ground: &Dem, depth: &Dem, opts: &TilesetOptions) -> Result<Self> {
        let surf = surface(ground, depth, MIN_DEPTH_M)?;
        let mut twin = Twin::new("water surface", crs.clone())?;
        let wet = surf.valid_cells() > 0;
        twin.terrain.push(surf);
        let opts = TilesetOptions {
            terrain_rgba: WATER_RGBA,
            // Nothing is draped on water: its tiles refine by their vertical error only.
            terrain_drape_error: 0.0,
            ..opts.clone()
        };
        let set = if wet {
            let mut set = Tileset::plan(&twin, LayerKind::Terrain, &opts)?;
            set.water_depth = Some(std::sync::Arc::new(depth.clone()));
            Some(set)
        } else {
            None
        };
        Ok(WaterTiles { twin, set })
    }

    /// Plan from a run's `ground.tif` and one of its depth rasters.
    pub fn from_files(
        crs: &Crs,
        ground: &Path,
        depth: &Path,
        opts: &TilesetOptions,
    ) -> Result<Self> {
        WaterTiles::plan(crs, &read_raster(ground)?, &read_raster(depth)?, opts)
    }

    /// True when no cell is wet.
    pub fn is_empty(&self) -> bool {
        self.set.is_none()
    }

    /// The wet cells.
    pub fn wet_cells(&self) -> usize {
        self.twin.terrain.first().map_or(0, |d| d.valid_cells())
    }

    /// The tileset JSON (an empty root when nothing is wet).
    pub fn tileset_bytes(&self) -> Result<Vec<u8>> {
        match &self.set {
            Some(s) => super::tileset_bytes(&s.tileset_json()),
            None => super::tileset_bytes(&empty_tileset()),
        }
    }

    /// The glb of tile `id`, `None` when there is no such tile.
    pub fn content(&self, id: &str) -> Result<Option<Vec<u8>>> {
        match &self.set {
            Some(s) if s.tile(id).is_some_and(|t| t.content_uri().is_some()) => {
                s.tile_content(&self.twin, id).map(Some)
            }
            _ => Ok(None),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn grid(values: Vec<Option<f32>>) -> Dem {
        Dem {
            name: "g".into(),
            ncols: 2,
            nrows: 2,
            xmin: 500_000.0,
            ymax: 1_800_000.0,
            cell_x: 10.0,
            cell_y: 10.0,
            values,
        }
    }

    #[test]
    fn a_dry_surface_has_a_root_without_content() {
        let expected = serde_json::json!({
            "asset": {"version": "1.1", "generator": crate::GENERATOR},
            "geometricError": 0.0,
            "root": {"boundingVolume": {"region": [0.0, 0.0, 0.0, 0.0, 0.0, 0.0]},
                     "geometricError": 0.0, "refine": "ADD"},
        });
        let bytes = crate::tileset_bytes(&empty_tileset()).unwrap();
        assert_eq!(bytes, serde_json::to_vec_pretty(&expected).unwrap());
    }

    #[test]
    fn surface_keeps_wet_cells_only() {
        let ground = grid(vec![Some(1.0), Some(2.0), None, Some(4.0)]);
        let depth = grid(vec![Some(0.5), Some(0.01), Some(1.0), None]);
        let s = surface(&ground, &depth, MIN_DEPTH_M).unwrap();
        assert_eq!(s.values, vec![Some(1.5), None, None, None]);
        let mut other = grid(vec![None; 4]);
        other.xmin += 10.0;
        assert!(surface(&ground, &other, MIN_DEPTH_M).is_err());
    }
}
