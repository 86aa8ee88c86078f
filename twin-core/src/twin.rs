//! The [`Twin`]: a project CRS and its typed, indexed layers; and its `twin.toml` config.

use crate::crs::{Crs, Reprojector};
use crate::error::{Result, TwinError};
use crate::heights::HeightRules;
use crate::index::{Feature, Layer};
use crate::layer::LayerKind;
use crate::model::Imported;
use crate::model::{Building, Dem, HeritageSite, LandUse, PointCloud, Road, Sensor, Water};
use crate::reports::ReportsConfig;
use geo_types::Geometry;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

impl Feature for Building {
    fn id(&self) -> &str {
        &self.id
    }
    fn geometry(&self) -> Geometry<f64> {
        Geometry::MultiPolygon(self.footprint.clone())
    }
}
impl Feature for HeritageSite {
    fn id(&self) -> &str {
        &self.id
    }
    fn geometry(&self) -> Geometry<f64> {
        Geometry::MultiPolygon(self.polygon.clone())
    }
}
impl Feature for Sensor {
    fn id(&self) -> &str {
        &self.id
    }
    fn geometry(&self) -> Geometry<f64> {
        Geometry::Point(self.location)
    }
}
impl Feature for Road {
    fn id(&self) -> &str {
        &self.id
    }
    fn geometry(&self) -> Geometry<f64> {
        Geometry::LineString(self.line.clone())
    }
}
impl Feature for Water {
    fn id(&self) -> &str {
        &self.id
    }
    fn geometry(&self) -> Geometry<f64> {
        self.geometry.clone()
    }
}
impl Feature for LandUse {
    fn id(&self) -> &str {
        &self.id
    }
    fn geometry(&self) -> Geometry<f64> {
        Geometry::MultiPolygon(self.polygon.clone())
    }
}

/// One source listed in `twin.toml`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SourceConfig {
    /// Path, relative to the twin folder or absolute.
    pub path: PathBuf,
    /// The layer a GeoJSON source feeds (guessed from tags when absent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub layer: Option<LayerKind>,
    /// The source CRS when the file does not carry one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub crs: Option<String>,
    /// CityJSON LoD to take.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lod: Option<String>,
}

/// `twin.toml`: the twin's name, project CRS, height rules and sources.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TwinConfig {
    /// Display name.
    pub name: String,
    /// Project CRS (metric), e.g. `EPSG:32648`.
    pub crs: String,
    /// Geoid undulation N (ellipsoidal − orthometric height, metres) used for 3D Tiles when no
    /// geoid grid is available.
    #[serde(default)]
    pub geoid_offset_m: f64,
    /// Height rules for buildings without a measured height.
    #[serde(default)]
    pub heights: HeightRules,
    /// The credit the data's licence asks for (e.g. `© OpenStreetMap contributors`), shown by
    /// viewers beside the map.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attribution: Option<String>,
    /// How many imports changed the twin: each import commits its features and this file
    /// (with the count raised) to the store in one transaction, then writes this file; a store
    /// whose count is higher holds the newer `twin.toml` ([`crate::TwinDir::open`] rolls
    /// forward to it). 0 (left out) for a twin no import has changed.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub generation: u64,
    /// Where the store is when it is not `twin.gpkg` in the folder: a `postgres://` URL
    /// (kept without its password; `PGPASSWORD` gives it) or a GeoPackage path (docs/adr/0028).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub store: Option<String>,
    /// Sources, imported in order by `twin build`.
    #[serde(default, rename = "source")]
    pub sources: Vec<SourceConfig>,
    /// Citizen reports (`[reports]`): services and limits of the Open311 routes.
    #[serde(default, skip_serializing_if = "ReportsConfig::is_default")]
    pub reports: ReportsConfig,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

impl TwinConfig {
    /// A config with no sources.
    pub fn new(name: &str, crs: &Crs) -> TwinConfig {
        TwinConfig {
            name: name.into(),
            crs: crs.definition().into(),
            geoid_offset_m: 0.0,
            heights: HeightRules::default(),
            attribution: None,
            generation: 0,
            store: None,
            sources: Vec::new(),
            reports: ReportsConfig::default(),
        }
    }

    /// Read and check `dir/twin.toml`.
    pub fn load(dir: &Path) -> Result<TwinConfig> {
        let path = dir.join("twin.toml");
        let text = std::fs::read_to_string(&path).map_err(|e| TwinError::io(&path, e))?;
        TwinConfig::parse(&path, &text)
    }

    /// Parse and check the text of a `twin.toml` (`path` names it in errors).
    pub fn parse(path: &Path, text: &str) -> Result<TwinConfig> {
        let path = path.to_path_buf();
        let cfg: TwinConfig = toml::from_str(text).map_err(|e| {
            let place = e
                .span()
                .map(|s| {
                    let line = text[..s.start.min(text.len())].matches('\n').count() + 1;
                    format!("line {line}")
                })
                .unwrap_or_else(|| "file".into());
            TwinError::parse(&path, place, e.message())
        })?;
        let crs = Crs::parse(&cfg.crs)?;
        if crs.is_geographic() {
            return Err(TwinError::parse(
                &path,
                "field `crs`",
                format!("{crs} is geographic; the project CRS must be metric (e.g. a UTM zone)"),
            ));
        }
        if !cfg.geoid_offset_m.is_finite() || cfg.geoid_offset_m.abs() > 150.0 {
            return Err(TwinError::parse(
                &path,
                "field `geoid_offset_m`",
                "must be a finite number of metres within ±150",
            ));
        }
        cfg.reports
            .check()
            .map_err(|e| TwinError::parse(&path, "[reports]", e))?;
        Ok(cfg)
    }

    /// The text of `twin.toml` for this config.
    pub fn to_toml(&self) -> Result<String> {
        toml::to_string_pretty(self).map_err(|e| TwinError::invalid("twin.toml", e))
    }

    /// Write `dir/twin.toml` durably and atomically: a temp file, flushed to disk, renamed over
    /// the old one, and the folder flushed so that the rename survives a power loss.
    pub fn save(&self, dir: &Path) -> Result<()> {
        let path = dir.join("twin.toml");
        let text = self.to_toml()?;
        let tmp = dir.join(".twin.toml.tmp");
        {
            use std::io::Write;
            let mut f = std::fs::File::create(&tmp).map_err(|e| TwinError::io(&tmp, e))?;
            f.write_all(text.as_bytes())
                .and_then(|_| f.sync_all())
                .map_err(|e| TwinError::io(&tmp, e))?;
        }
        std::fs::rename(&tmp, &path).map_err(|e| TwinError::io(&path, e))?;
        sync_dir(dir)
    }
}

/// Flush a folder's entries (a rename or a new file in it) to disk.
pub(crate) fn sync_dir(dir: &Path) -> Result<()> {
    std::fs::File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| TwinError::io(dir, e))
}

/// A digital twin in memory: project CRS, typed layers with R-tree indexes, terrain and point
/// clouds.
#[derive(Clone, Debug)]
pub struct Twin {
    /// Display name.
    pub name: String,
    /// The metric project CRS.
    pub crs: Crs,
    /// Buildings.
    pub buildings: Layer<Building>,
    /// Heritage sites.
    pub heritage: Layer<HeritageSite>,
    /// Sensors.
    pub sensors: Layer<Sensor>,
    /// Roads.
    pub roads: Layer<Road>,
    /// Water.
    pub water: Layer<Water>,
    /// Land use areas.
    pub landuse: Layer<LandUse>,
    /// Terrain grids.
    pub terrain: Vec<Dem>,
    /// Point clouds.
    pub pointclouds: Vec<PointCloud>,
}

/// Per-layer counts and extents, for `twin info` and the API.
#[derive(Clone, Debug, Serialize)]
pub struct LayerInfo {
    /// Layer name.
    pub layer: &'static str,
    /// Features (grids and clouds count as one each; `points` gives their size).
    pub count: usize,
    /// Points (point clouds) or cells (terrain).
    pub points: Option<usize>,
    /// (xmin, ymin, xmax, ymax) in the project CRS.
    pub extent: Option<[f64; 4]>,
}

/// A WGS84 query box (min_lon, min_lat, max_lon, max_lat) clamped to a twin's WGS84 extent
/// (from [`Twin::extent_wgs84`]) grown by 1 % of its size and 0.001° on each side (the extent
/// is taken from nine points, so curved edges may bulge a little beyond it): the part of the
/// box that can hold the twin's features. `None` when they do not overlap (nothing can match)
/// or the twin is empty.
///
/// A box much larger than the twin (e.g. the world, `-180,-90,180,90`) has corners that do not
/// project into a UTM project CRS; clamped, it projects and finds every feature.
///
/// ```
/// use twin_core::twin::clamp_wgs84_bbox;
/// let hue = Some([107.5, 16.4, 107.7, 16.6]);
/// let c = clamp_wgs84_bbox([-180.0, -90.0, 180.0, 90.0], hue).unwrap();
/// assert!(c[0] < 107.5 && c[0] > 107.4 && c[3] > 16.6 && c[3] < 16.7);
/// assert_eq!(clamp_wgs84_bbox([-80.0, -60.0, -70.0, -50.0], hue), None);
/// assert_eq!(clamp_wgs84_bbox([107.55, 16.45, 107.56, 16.46], hue), Some([107.55, 16.45, 107.56, 16.46]));
/// ```
pub fn clamp_wgs84_bbox(b: [f64; 4], twin_extent: Option<[f64; 4]>) -> Option<[f64; 4]> {
    let e = twin_extent?;
    let mx = (e[2] - e[0]) * 0.01 + 1e-3;
    let my = (e[3] - e[1]) * 0.01 + 1e-3;
    let grown = [
        (e[0] - mx).max(-180.0),
        (e[1] - my).max(-90.0),
        (e[2] + mx).min(180.0),
        (e[3] + my).min(90.0),
    ];
    let c = [
        b[0].max(grown[0]),
        b[1].max(grown[1]),
        b[2].min(grown[2]),
        b[3].min(grown[3]),
    ];
    (c[0] <= c[2] && c[1] <= c[3]).then_some(c)
}

fn union(a: Option<[f64; 4]>, b: [f64; 4]) -> Option<[f64; 4]> {
    Some(match a {
        None => b,
        Some(a) => [
            a[0].min(b[0]),
            a[1].min(b[1]),
            a[2].max(b[2]),
            a[3].max(b[3]),
        ],
    })
}

impl Twin {
    /// An empty twin in a metric project CRS.
    pub fn new(name: &str, crs: Crs) -> Result<Twin> {
        if crs.is_geographic() {
            return Err(TwinError::Crs {
                crs: crs.short(),
                message: "the project CRS must be metric, not geographic".into(),
            });
        }
        Ok(Twin {
            name: name.into(),
            crs,
            buildings: Layer::default(),
            heritage: Layer::default(),
            sensors: Layer::default(),
            roads: Layer::default(),
            water: Layer::default(),
            landuse: Layer::default(),
            terrain: Vec::new(),
            pointclouds: Vec::new(),
        })
    }

    /// Add what an importer produced; ids must not clash with features already there, in which
    /// case nothing is added.
    pub fn add(&mut self, imp: Imported) -> Result<()> {
        // Check every layer first so that a clash leaves the twin unchanged.
        self.buildings.check_new_ids(&imp.buildings)?;
        self.heritage.check_new_ids(&imp.heritage)?;
        self.sensors.check_new_ids(&imp.sensors)?;
        self.roads.check_new_ids(&imp.roads)?;
        self.water.check_new_ids(&imp.water)?;
        self.landuse.check_new_ids(&imp.landuse)?;
        self.buildings.extend(imp.buildings)?;
        self.heritage.extend(imp.heritage)?;
        self.sensors.extend(imp.sensors)?;
        self.roads.extend(imp.roads)?;
        self.water.extend(imp.water)?;
        self.landuse.extend(imp.landuse)?;
        self.terrain.extend(imp.dems);
        self.pointclouds.extend(imp.pointclouds);
        Ok(())
    }

    /// Counts and extents of every layer.
    pub fn info(&self) -> Vec<LayerInfo> {
        let mut terrain_ext = None;
        for d in &self.terrain {
            terrain_ext = union(terrain_ext, d.extent());
        }
        let mut pc_ext = None;
        for p in &self.pointclouds {
            if let Some((lo, hi)) = p.bounds() {
                pc_ext = union(pc_ext, [lo[0], lo[1], hi[0], hi[1]]);
            }
        }
        vec![
            LayerInfo {
                layer: "buildings",
                count: self.buildings.len(),
                points: None,
                extent: self.buildings.extent(),
            },
            LayerInfo {
                layer: "heritage",
                count: self.heritage.len(),
                points: None,
                extent: self.heritage.extent(),
            },
            LayerInfo {
                layer: "sensors",
                count: self.sensors.len(),
                points: None,
                extent: self.sensors.extent(),
            },
            LayerInfo {
                layer: "roads",
                count: self.roads.len(),
                points: None,
                extent: self.roads.extent(),
            },
            LayerInfo {
                layer: "water",
                count: self.water.len(),
                points: None,
                extent: self.water.extent(),
            },
            LayerInfo {
                layer: "landuse",
                count: self.landuse.len(),
                points: None,
                extent: self.landuse.extent(),
            },
            LayerInfo {
                layer: "terrain",
                count: self.terrain.len(),
                points: Some(self.terrain.iter().map(|d| d.ncols * d.nrows).sum()),
                extent: terrain_ext,
            },
            LayerInfo {
                layer: "pointclouds",
                count: self.pointclouds.len(),
                points: Some(self.pointclouds.iter().map(|p| p.points.len()).sum()),
                extent: pc_ext,
            },
        ]
    }

    /// The extent of all layers in the project CRS.
    pub fn extent(&self) -> Option<[f64; 4]> {
        self.info()
            .into_iter()
            .filter_map(|l| l.extent)
            .fold(None, union)
    }

    /// An extent in the project CRS as WGS84 (lon_min, lat_min, lon_max, lat_max), taking the
    /// corners and edge midpoints.
    pub fn extent_wgs84(&self, e: [f64; 4]) -> Result<[f64; 4]> {
        let t = Reprojector::new(&self.crs, &Crs::wgs84())?;
        let mut out: Option<[f64; 4]> = None;
        let xs = [e[0], (e[0] + e[2]) / 2.0, e[2]];
        let ys = [e[1], (e[1] + e[3]) / 2.0, e[3]];
        for x in xs {
            for y in ys {
                let (lon, lat) = t.apply(x, y)?;
                out = union(out, [lon, lat, lon, lat]);
            }
        }
        Ok(out.expect("nine points"))
    }
}
