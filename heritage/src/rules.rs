//! The rules of a twin's protection zones: the heritage layer (each site's zone and typed
//! height limit) and the twin's rules file `heritage_rules.toml` (zone kinds, setbacks, roof
//! rules, protected views).
//!
//! ```toml
//! # heritage_rules.toml
//! storey_height_m = 3.3           # a proposal given in storeys
//! curvature_coefficient = 0.85714 # threshold planes: 1 - refraction coefficient (0: flat)
//!
//! [core]                          # every site of zone "I"
//! new_buildings = false
//!
//! [buffer]                        # every site of zone "II" (and view corridors)
//! setback_m = 10.0                # from any core site
//! roofs = ["hipped", "gabled"]    # allowed roof:shape values (empty: any)
//!
//! [[zone]]                        # a site of the layer, refined
//! site = "royal-axis"
//! kind = "view_corridor"          # core | buffer | view_corridor
//! height_limit_m = 14.0           # overrides the layer's limit
//!
//! [[view]]                        # a protected view with its threshold plane
//! id = "royal-axis"
//! name = "Royal axis"
//! corridor = "royal-axis"         # the site whose polygon bounds the plane
//! assessment = { name = "Ngu Binh", lon = 107.5961, lat = 16.4418, eye_height_m = 1.6 }
//! landmark = { name = "Ngo Mon", lon = 107.5792, lat = 16.4677, height_m = 17.0 }
//! ```

use crate::error::{HeritageError, Result};
use crate::plane::{ThresholdPlane, CC_DEFAULT};
use geo_types::MultiPolygon;
use serde::{Deserialize, Serialize};
use std::path::Path;
use twin_core::crs::{Crs, Reprojector};
use twin_core::model::HeritageSite;
use twin_core::Twin;

/// The rules file's name in a twin folder.
pub const RULES_FILE: &str = "heritage_rules.toml";

/// What kind of protection a zone gives.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ZoneKind {
    /// The monument and its core zone (UNESCO zone I): no new building by default.
    Core,
    /// A buffer zone (zone II): height limit, setback, roofs.
    Buffer,
    /// A view corridor: a buffer zone whose polygon also bounds a protected view's plane.
    ViewCorridor,
}

impl ZoneKind {
    /// The kind a layer `zone` value gives: "I"/"1"/"core" core, "II"/"2"/"buffer" buffer.
    pub fn from_layer(zone: Option<&str>) -> Option<ZoneKind> {
        match zone?.trim().to_ascii_lowercase().as_str() {
            "i" | "1" | "core" => Some(ZoneKind::Core),
            "ii" | "2" | "buffer" => Some(ZoneKind::Buffer),
            "view_corridor" => Some(ZoneKind::ViewCorridor),
            _ => None,
        }
    }
}

/// The rules every core site takes.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CoreRules {
    /// Whether a new building may stand in a core zone (default false).
    #[serde(default)]
    pub new_buildings: bool,
}

/// The rules every buffer zone and view corridor takes (a `[[zone]]` may override them).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BufferRules {
    /// Least distance (m) from any core site's polygon.
    #[serde(default)]
    pub setback_m: Option<f64>,
    /// Allowed `roof:shape` values (empty: any roof).
    #[serde(default)]
    pub roofs: Vec<String>,
}

/// One site of the heritage layer refined by the rules file.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ZoneRule {
    /// The heritage site's id.
    pub site: String,
    /// Its kind (default: from the layer's zone).
    #[serde(default)]
    pub kind: Option<ZoneKind>,
    /// Height limit (m above ground), overriding the layer's.
    #[serde(default)]
    pub height_limit_m: Option<f64>,
    /// Setback (m) from core sites, overriding `[buffer]`.
    #[serde(default)]
    pub setback_m: Option<f64>,
    /// Allowed roofs, overriding `[buffer]`.
    #[serde(default)]
    pub roofs: Option<Vec<String>>,
}

/// A point of a protected view, in WGS84.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ViewPoint {
    /// Its name.
    #[serde(default)]
    pub name: Option<String>,
    /// Longitude (WGS84).
    pub lon: f64,
    /// Latitude (WGS84).
    pub lat: f64,
    /// The viewer's eye above the ground (assessment point), m.
    #[serde(default)]
    pub eye_height_m: Option<f64>,
    /// The protected height above the ground (landmark), m.
    #[serde(default)]
    pub height_m: Option<f64>,
}

/// A protected view as written in the rules file.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ViewRule {
    /// Short id (cited in verdicts).
    pub id: String,
    /// Name.
    pub name: String,
    /// The heritage site whose polygon bounds the view laterally.
    pub corridor: String,
    /// Where the view is seen from.
    pub assessment: ViewPoint,
    /// What it protects.
    pub landmark: ViewPoint,
    /// Further landmarks on the same axis, beyond the first (named in reports).
    #[serde(default)]
    pub beyond: Vec<ViewPoint>,
}

/// The rules file, as written.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RulesFile {
    /// Storey height (m) for a proposal given in storeys (default 3.3).
    #[serde(default = "storey")]
    pub storey_height_m: f64,
    /// Curvature coefficient of threshold planes (default 0.85714).
    #[serde(default = "cc")]
    pub curvature_coefficient: f64,
    /// Core zones.
    #[serde(default = "core")]
    pub core: CoreRules,
    /// Buffer zones and view corridors.
    #[serde(default)]
    pub buffer: BufferRules,
    /// Sites refined one by one.
    #[serde(default)]
    pub zone: Vec<ZoneRule>,
    /// Protected views.
    #[serde(default)]
    pub view: Vec<ViewRule>,
    /// Protected sightlines from named viewpoints to monuments.
    #[serde(default)]
    pub sightline: Vec<SightlineRule>,
}

/// A protected sightline as written in the rules file: from a viewpoint to monuments, each
/// aimed at its outline's centroid, `target_height_m` above the ground there.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SightlineRule {
    /// Short id (cited in verdicts).
    pub id: String,
    /// The viewpoint (with `eye_height_m`, default 1.6 m).
    pub from: ViewPoint,
    /// The heritage sites looked at.
    pub to: Vec<String>,
    /// Height above the ground of the point aimed at on each site (m, default 10).
    #[serde(default)]
    pub target_height_m: Option<f64>,
    /// Height of a monument that has no building of the twin inside its outline: its outline
    /// is taken as a prism this high above its lowest ground (m, default `target_height_m`).
    #[serde(default)]
    pub monument_height_m: Option<f64>,
    /// The largest share of a monument's visible surface, seen from the viewpoint, that a
    /// proposal may hide (per cent, default 5).
    #[serde(default)]
    pub max_visible_area_lost_pct: Option<f64>,
}

fn storey() -> f64 {
    3.3
}
fn cc() -> f64 {
    CC_DEFAULT
}
fn core() -> CoreRules {
    CoreRules {
        new_buildings: false,
    }
}

impl Default for RulesFile {
    fn default() -> Self {
        RulesFile {
            storey_height_m: storey(),
            curvature_coefficient: cc(),
            core: core(),
            buffer: BufferRules::default(),
            zone: Vec::new(),
            view: Vec::new(),
            sightline: Vec::new(),
        }
    }
}

impl RulesFile {
    /// Parse the text of a rules file; `input` names it in errors.
    pub fn parse(text: &str, input: &str) -> Result<RulesFile> {
        toml::from_str(text).map_err(|e| {
            let place = e
                .span()
                .map(|s| {
                    format!(
                        "line {}",
                        text[..s.start.min(text.len())].lines().count().max(1)
                    )
                })
                .unwrap_or_else(|| "file".into());
            HeritageError::parse(input, place, e.message())
        })
    }

    /// The twin folder's rules file; the defaults when it has none.
    pub fn load(twin_dir: &Path) -> Result<RulesFile> {
        let path = twin_dir.join(RULES_FILE);
        if !path.exists() {
            return Ok(RulesFile::default());
        }
        let text = std::fs::read_to_string(&path).map_err(|source| HeritageError::Io {
            path: path.clone(),
            source,
        })?;
        RulesFile::parse(&text, &path.display().to_string())
    }
}

/// One protection zone of the twin: a heritage site with its resolved rules.
#[derive(Clone, Debug, PartialEq)]
pub struct Zone {
    /// Index of the site in the twin's heritage layer.
    pub index: usize,
    /// The site's id.
    pub site: String,
    /// Its name.
    pub name: Option<String>,
    /// The layer's zone label ("I", "II").
    pub label: Option<String>,
    /// Its kind.
    pub kind: ZoneKind,
    /// Height limit, m above ground.
    pub height_limit_m: Option<f64>,
    /// Setback from core sites, m.
    pub setback_m: Option<f64>,
    /// Allowed roofs (empty: any).
    pub roofs: Vec<String>,
}

/// A protected view resolved in the twin's project CRS.
#[derive(Clone, Debug, PartialEq)]
pub struct View {
    /// The rule as written.
    pub rule: ViewRule,
    /// The corridor's polygon (project CRS).
    pub corridor: MultiPolygon<f64>,
    /// Its threshold plane.
    pub plane: ThresholdPlane,
    /// Ground heights under the assessment point and the landmark (m).
    pub ground: [f64; 2],
}

/// One protected sightline resolved in the project CRS: from the eye to a monument's point.
#[derive(Clone, Debug, PartialEq)]
pub struct Sightline {
    /// The rule's id.
    pub id: String,
    /// The viewpoint's name.
    pub from_name: Option<String>,
    /// The eye (x, y, orthometric z).
    pub from: [f64; 3],
    /// The monument's twin id.
    pub site: String,
    /// Its name.
    pub site_name: Option<String>,
    /// The point aimed at (x, y, orthometric z).
    pub to: [f64; 3],
    /// The monument's index in the heritage layer.
    pub site_index: usize,
    /// Height of the monument's outline prism when the twin has no building inside it (m).
    pub monument_height_m: f64,
    /// The largest share of its visible surface a proposal may hide (per cent).
    pub max_visible_area_lost_pct: f64,
}

/// The resolved rules of a twin.
#[derive(Clone, Debug)]
pub struct Rules {
    /// The file they came from (or the defaults).
    pub file: RulesFile,
    /// Every site of the heritage layer with a known kind.
    pub zones: Vec<Zone>,
    /// Protected views.
    pub views: Vec<View>,
    /// Protected sightlines, one per viewpoint and monument.
    pub sightlines: Vec<Sightline>,
}

fn positive(v: Option<f64>, what: &str) -> Result<Option<f64>> {
    match v {
        Some(x) if !(x.is_finite() && x >= 0.0) => Err(HeritageError::invalid(
            what,
            format!("{x} is not a length in metres (finite, not negative)"),
        )),
        _ => Ok(v),
    }
}

/// The source's own id within a twin id (`heritage:royal-axis` → `royal-axis`).
pub fn source_id(twin_id: &str) -> &str {
    twin_id.split_once(':').map_or(twin_id, |(_, s)| s)
}

/// Whether `key` names a site: its twin id, or the source's own id after the twin's prefix.
pub fn site_matches(site: &HeritageSite, key: &str) -> bool {
    site.id == key || source_id(&site.id) == key
}

/// The index of the site `key` names: an exact twin id first, else a source id.
pub fn find_site(sites: &[HeritageSite], key: &str) -> Option<usize> {
    sites
        .iter()
        .position(|s| s.id == key)
        .or_else(|| sites.iter().position(|s| site_matches(s, key)))
}

/// The ground (orthometric m) at a point of the project CRS from the twin's terrain.
pub fn ground_at(twin: &Twin, x: f64, y: f64) -> Option<f64> {
    twin.terrain.iter().find_map(|d| d.sample(x, y))
}

impl Rules {
    /// Resolve a rules file against a twin: every `[[zone]]` and view names a site of the
    /// heritage layer; views are put in the project CRS with their ground heights.
    pub fn resolve(twin: &Twin, file: RulesFile) -> Result<Rules> {
        if !(file.storey_height_m.is_finite() && file.storey_height_m > 0.0) {
            return Err(HeritageError::invalid(
                "rules: storey_height_m",
                format!("{} is not a positive height", file.storey_height_m),
            ));
        }
        if !(file.curvature_coefficient.is_finite()
            && (0.0..=1.0).contains(&file.curvature_coefficient))
        {
            return Err(HeritageError::invalid(
                "rules: curvature_coefficient",
                format!("{} is not within [0, 1]", file.curvature_coefficient),
            ));
        }
        positive(file.buffer.setback_m, "rules: [buffer] setback_m")?;
        let sites = twin.heritage.features();
        let find = |id: &str, what: &str| -> Result<(usize, &HeritageSite)> {
            find_site(sites, id).map(|i| (i, &sites[i])).ok_or_else(|| {
                HeritageError::invalid(what, format!("the heritage layer has no site {id:?}"))
            })
        };
        for (k, z) in file.zone.iter().enumerate() {
            let what = format!("rules: zone {} (site {})", k + 1, z.site);
            find(&z.site, &what)?;
            positive(z.height_limit_m, &what)?;
            positive(z.setback_m, &what)?;
        }
        let mut zones = Vec::new();
        for (index, s) in sites.iter().enumerate() {
            let over = file
                .zone
                .iter()
                .find(|z| find_site(sites, &z.site) == Some(index));
            let Some(kind) = over
                .and_then(|z| z.kind)
                .or_else(|| ZoneKind::from_layer(s.zone.as_deref()))
            else {
                continue;
            };
            let buffer = kind != ZoneKind::Core;
            zones.push(Zone {
                index,
                site: s.id.clone(),
                name: s.name.clone(),
                label: s.zone.clone(),
                kind,
                height_limit_m: over.and_then(|z| z.height_limit_m).or(s.height_limit_m),
                setback_m: over.and_then(|z| z.setback_m).or(if buffer {
                    file.buffer.setback_m
                } else {
                    None
                }),
                roofs: over.and_then(|z| z.roofs.clone()).unwrap_or_else(|| {
                    if buffer {
                        file.buffer.roofs.clone()
                    } else {
                        Vec::new()
                    }
                }),
            });
        }
        let to_project = Reprojector::new(&Crs::wgs84(), &twin.crs)?;
        let mut views = Vec::new();
        for v in &file.view {
            let what = format!("rules: view {}", v.id);
            let (_, site) = find(&v.corridor, &what)?;
            let place = |p: &ViewPoint, role: &str| -> Result<([f64; 2], f64)> {
                if !(p.lon.is_finite()
                    && p.lat.is_finite()
                    && (-180.0..=180.0).contains(&p.lon)
                    && (-90.0..=90.0).contains(&p.lat))
                {
                    return Err(HeritageError::invalid(
                        &what,
                        format!("{role} ({}, {}) is not a WGS84 lon/lat", p.lon, p.lat),
                    ));
                }
                let (x, y) = to_project.apply(p.lon, p.lat)?;
                let g = ground_at(twin, x, y).ok_or_else(|| {
                    HeritageError::invalid(
                        &what,
                        format!(
                            "{role} ({}, {}) is outside the twin's terrain",
                            p.lon, p.lat
                        ),
                    )
                })?;
                Ok(([x, y], g))
            };
            let eye = positive(v.assessment.eye_height_m, &what)?.unwrap_or(1.6);
            let top = positive(v.landmark.height_m, &what)?.unwrap_or(0.0);
            let (a, ga) = place(&v.assessment, "assessment point")?;
            let (l, gl) = place(&v.landmark, "landmark")?;
            views.push(View {
                rule: v.clone(),
                corridor: site.polygon.clone(),
                plane: ThresholdPlane::new(a, ga + eye, l, gl + top, file.curvature_coefficient),
                ground: [ga, gl],
            });
        }
        let mut sightlines = Vec::new();
        for l in &file.sightline {
            let what = format!("rules: sightline {}", l.id);
            let eye = positive(l.from.eye_height_m, &what)?.unwrap_or(1.6);
            let up = positive(l.target_height_m, &what)?.unwrap_or(10.0);
            let monument_height_m = positive(l.monument_height_m, &what)?.unwrap_or(up);
            let max_visible_area_lost_pct =
                positive(l.max_visible_area_lost_pct, &what)?.unwrap_or(5.0);
            let (x, y) = to_project.apply(l.from.lon, l.from.lat)?;
            let g = ground_at(twin, x, y).ok_or_else(|| {
                HeritageError::invalid(&what, "the viewpoint is outside the twin's terrain")
            })?;
            for key in &l.to {
                let (site_index, site) = find(key, &what)?;
                let c = geo::Centroid::centroid(&site.polygon).ok_or_else(|| {
                    HeritageError::invalid(&what, format!("site {key} has no area"))
                })?;
                let gt = ground_at(twin, c.x(), c.y()).ok_or_else(|| {
                    HeritageError::invalid(
                        &what,
                        format!("site {key} is outside the twin's terrain"),
                    )
                })?;
                sightlines.push(Sightline {
                    id: l.id.clone(),
                    from_name: l.from.name.clone(),
                    from: [x, y, g + eye],
                    site: site.id.clone(),
                    site_name: site.name.clone(),
                    to: [c.x(), c.y(), gt + up],
                    site_index,
                    monument_height_m,
                    max_visible_area_lost_pct,
                });
            }
        }
        Ok(Rules {
            file,
            zones,
            views,
            sightlines,
        })
    }

    /// The rules of a twin folder: its rules file (or the defaults) resolved against `twin`.
    pub fn load(twin_dir: &Path, twin: &Twin) -> Result<Rules> {
        Rules::resolve(twin, RulesFile::load(twin_dir)?)
    }

    /// The zone of a heritage site, by its twin id or its source id (see [`site_matches`]).
    pub fn zone(&self, site: &str) -> Option<&Zone> {
        self.zones
            .iter()
            .find(|z| z.site == site)
            .or_else(|| self.zones.iter().find(|z| source_id(&z.site) == site))
    }
}
