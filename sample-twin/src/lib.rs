//! The Huế sample twin (`data/hue`): buildings, roads, water, land use and heritage outlines
//! derived from the OpenStreetMap extract (© OpenStreetMap contributors, ODbL 1.0), a SYNTHETIC
//! terrain, zones and sensors drawn by this code from public facts.
//!
//! The extract is read with twin-core's OSM importer ([`read_osm`]); [`buildings`], [`roads`],
//! [`water`], [`landuse`] and [`heritage::from_osm`] take what lies in the sample's extent. The
//! positions of the monuments without an OSM outline are public facts (see [`facts`]); the DEM
//! is a plausible surface calibrated to two public flood facts
//! ([`terrain::IMPERIAL_CITY_TERRACE_M`]), not a survey. Everything is deterministic: the same
//! extract gives the same bytes ([`generate`]), which the `hue_sample` test checks against the
//! committed files.
//!
//! Regenerate with `cargo run -p sample-twin -- data/hue`.

pub mod buildings;
pub mod facts;
pub mod geom;
pub mod heritage;
pub mod landuse;
pub mod output;
pub mod roads;
pub mod sensors;
pub mod terrain;
pub mod water;

use geom::{Axes, Frame, P};
use output::{Collection, V};
use std::path::{Path, PathBuf};
use twin_core::error::{Result, TwinError};

/// The frames and outlines everything else is drawn in.
#[derive(Clone, Debug)]
pub struct Ctx {
    /// Local east-north frame with its origin at Ngọ Môn.
    pub frame: Frame,
    /// The citadel's axes: `u` along the royal axis towards the river, `v` north-east.
    pub axes: Axes,
    /// The Kinh Thành wall line (open ring, counter-clockwise): the river-front gates are
    /// vertices of it.
    pub wall: Vec<P>,
    /// The Imperial City (Hoàng Thành) enclosure: 600 m along the axis by 620 m across, Ngọ Môn
    /// in the middle of its front wall.
    pub imperial_city: Vec<P>,
}

impl Ctx {
    /// Set up the frames and the citadel outlines.
    pub fn new() -> Ctx {
        let frame = Frame::new(facts::NGO_MON.0, facts::NGO_MON.1);
        let axes = Axes::new(P { x: 0.0, y: 0.0 }, facts::AXIS_BEARING_DEG);
        let gate = |id: &str| -> P {
            let g = facts::GATES
                .iter()
                .find(|g| g.0 == id)
                .map(|g| g.3)
                .unwrap_or(facts::NGO_MON);
            frame.to_local(g.0, g.1)
        };
        // Corners chosen so that the outline stays convex through the river-front gates.
        let wall = geom::ccw(vec![
            axes.at(0.0, -1062.0),
            gate("cua-nha-do"),
            gate("cua-quang-duc"),
            gate("cua-ngan"),
            gate("cua-thuong-tu"),
            axes.at(100.0, 1042.0),
            axes.at(-2230.0, 1042.0),
            axes.at(-2230.0, -1062.0),
        ]);
        let imperial_city = axes.rect(-600.0, 0.0, -310.0, 310.0);
        Ctx {
            frame,
            axes,
            wall,
            imperial_city,
        }
    }
}

impl Default for Ctx {
    fn default() -> Self {
        Ctx::new()
    }
}

/// Round a local point to the output precision (1e-7 degrees) and back, so that what the code
/// tests against is exactly what the files hold.
pub fn round_ll(frame: &Frame, q: P) -> P {
    let (lon, lat) = frame.to_lonlat(q);
    frame.to_local((lon * 1e7).round() / 1e7, (lat * 1e7).round() / 1e7)
}

/// One generated file.
#[derive(Clone, Debug)]
pub struct SampleFile {
    /// File name inside the twin folder.
    pub name: &'static str,
    /// Contents.
    pub bytes: Vec<u8>,
}

/// Counts, for the README and the example's report.
#[derive(Clone, Debug, Default)]
pub struct Counts {
    /// Buildings.
    pub buildings: usize,
    /// Heritage sites.
    pub heritage: usize,
    /// Road links.
    pub roads: usize,
    /// Water features.
    pub water: usize,
    /// Water areas (the Perfume River among them); the rest of [`Counts::water`] are lines.
    pub water_areas: usize,
    /// Land use areas.
    pub landuse: usize,
    /// Land use areas per class, most first, then by class.
    pub landuse_kinds: Vec<(String, usize)>,
    /// Sensors.
    pub sensors: usize,
    /// DEM columns and rows.
    pub dem: (usize, usize),
    /// Non-bridge road links with a vertex in the Perfume River's outline.
    pub roads_in_river: usize,
}

/// The OpenStreetMap extract the sample is derived from: `../shared/data/hue/hue.osm.pbf` next
/// to the repository (ODbL 1.0, © OpenStreetMap contributors; see its `SOURCE.txt`).
pub fn default_osm_path() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/data/hue/hue.osm.pbf")
}

/// SHA-256 of the extract the committed `data/hue` was generated from (`sha256sum`).
pub const OSM_SHA256: &str = "94d04a1abe1f0a714e5152472fc6958aab6a0ed8ac1732223017aef1e38f4fb7";

/// Read the extract (every tag kept, coordinates in WGS84).
pub fn read_osm(path: &Path) -> Result<twin_core::model::Imported> {
    let opts = twin_core::import::ImportOptions::new(twin_core::crs::Crs::wgs84());
    twin_core::import::osm::import(path, &opts, &twin_core::NoProgress)
}

/// Generate every file of the sample twin in memory from the extract at `osm_path`.
pub fn generate(osm_path: &Path) -> Result<(Vec<SampleFile>, Counts)> {
    let osm = read_osm(osm_path)?;
    let ctx = Ctx::new();
    let f = &ctx.frame;
    let water = water::build(&ctx, &osm, facts::EXTENT)?;
    let mut sites = heritage::build(&ctx);
    heritage::from_osm(&ctx, &mut sites, &osm, facts::EXTENT);
    let links = roads::build(&ctx, &osm, facts::EXTENT);
    roads::check(&links)?;
    let blds = buildings::build(&ctx, &osm, &water, facts::EXTENT);
    let areas = landuse::build(&ctx, &osm, facts::EXTENT);
    let sens = sensors::build(f, &water, &links)?;
    let dem = terrain::build(&ctx, &water)?;

    let mut counts = Counts {
        buildings: blds.len(),
        heritage: sites.len(),
        roads: links.len(),
        landuse: areas.len(),
        sensors: sens.len(),
        ..Default::default()
    };

    let mut c = Collection::new(f, "buildings");
    for (i, b) in blds.iter().enumerate() {
        let id = format!("b{:05}", i + 1);
        let mut props = vec![("id", V::S(&id)), ("osm_id", V::S(&b.osm_id))];
        props.extend(b.tags.iter().map(|(k, v)| (*k, V::S(v))));
        let rings: Vec<Vec<P>> = b.rings.iter().map(|r| round_ring(f, r)).collect();
        c.feature(&props, &c.polygon(&rings));
    }
    let buildings_json = c.finish();

    let mut c = Collection::new(f, "heritage");
    for s in &sites {
        let mut props = vec![
            ("id", V::S(&s.id)),
            ("name", V::S(&s.name)),
            ("name_vi", V::S(&s.name_vi)),
            ("historic", V::S(&s.historic)),
            ("zone", V::S(s.zone)),
        ];
        if let Some(h) = s.height_limit_m {
            props.push(("height_limit_m", V::N1(h)));
        }
        if let Some(f) = s.floor_m {
            props.push(("floor_m", V::N1(f)));
        }
        if let Some(o) = &s.osm_id {
            props.push(("osm_id", V::S(o)));
        }
        let rings: Vec<Vec<P>> = s.rings.iter().map(|r| round_ring(f, r)).collect();
        c.feature(&props, &c.polygon(&rings));
    }
    let heritage_json = c.finish();

    let mut c = Collection::new(f, "roads");
    for (i, l) in links.iter().enumerate() {
        let id = format!("r{:05}", i + 1);
        let mut props = vec![
            ("id", V::S(&id)),
            ("osm_id", V::S(&l.osm_id)),
            ("highway", V::S(&l.class)),
        ];
        for (k, v) in [
            ("name", &l.name),
            ("lanes", &l.lanes),
            ("maxspeed", &l.maxspeed),
            ("oneway", &l.oneway),
        ] {
            if let Some(v) = v {
                props.push((k, V::S(v)));
            }
        }
        if l.bridge {
            props.push(("bridge", V::S("yes")));
        }
        c.feature(&props, &c.line_deg(&l.nodes));
    }
    let roads_json = c.finish();

    let mut c = Collection::new(f, "water");
    for a in std::iter::once(&water.river).chain(&water.areas) {
        let mut props = vec![
            ("id", V::S(&a.id)),
            ("osm_id", V::S(&a.osm_id)),
            ("natural", V::S("water")),
        ];
        if let Some(w) = &a.water {
            props.push(("water", V::S(w)));
        }
        if let Some(n) = &a.name {
            props.push(("name", V::S(n)));
        }
        if a.id == "song-huong" {
            props.push(("name_en", V::S("Perfume River")));
        }
        let geometry = match a.parts.as_slice() {
            [one] => c.polygon(one),
            parts => c.multipolygon(parts),
        };
        c.feature(&props, &geometry);
    }
    for l in &water.lines {
        let mut props = vec![
            ("id", V::S(&l.id)),
            ("osm_id", V::S(&l.osm_id)),
            ("waterway", V::S(&l.waterway)),
        ];
        if let Some(n) = &l.name {
            props.push(("name", V::S(n)));
        }
        c.feature(&props, &c.line(&l.pts));
    }
    let water_json = c.finish();

    let mut c = Collection::new(f, "landuse");
    let mut kinds = std::collections::BTreeMap::<&str, usize>::new();
    for (i, a) in areas.iter().enumerate() {
        let id = format!("l{:05}", i + 1);
        let mut props = vec![
            ("id", V::S(&id)),
            ("osm_id", V::S(&a.osm_id)),
            ("kind", V::S(&a.kind)),
        ];
        if let Some(n) = &a.name {
            props.push(("name", V::S(n)));
        }
        let parts: Vec<Vec<Vec<P>>> = a
            .parts
            .iter()
            .map(|rings| rings.iter().map(|r| round_ring(f, r)).collect())
            .collect();
        c.feature(&props, &c.multipolygon(&parts));
        *kinds.entry(&a.kind).or_default() += 1;
    }
    let landuse_json = c.finish();
    let mut kinds: Vec<(String, usize)> = kinds.into_iter().map(|(k, n)| (k.into(), n)).collect();
    kinds.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    counts.landuse_kinds = kinds;
    counts.water = 1 + water.areas.len() + water.lines.len();
    counts.water_areas = 1 + water.areas.len();
    counts.dem = (dem.ncols, dem.nrows);
    counts.roads_in_river = roads::river_report(&links, &water).1;

    let files = vec![
        SampleFile {
            name: "twin.toml",
            bytes: twin_toml().into_bytes(),
        },
        SampleFile {
            name: "README.md",
            bytes: readme(&counts).into_bytes(),
        },
        SampleFile {
            name: "LICENSE-ODbL.md",
            bytes: licence_note().into_bytes(),
        },
        SampleFile {
            name: "buildings.geojson",
            bytes: buildings_json.into_bytes(),
        },
        SampleFile {
            name: "heritage.geojson",
            bytes: heritage_json.into_bytes(),
        },
        SampleFile {
            name: "heritage_rules.toml",
            bytes: heritage_rules_toml().into_bytes(),
        },
        SampleFile {
            name: "roads.geojson",
            bytes: roads_json.into_bytes(),
        },
        SampleFile {
            name: "water.geojson",
            bytes: water_json.into_bytes(),
        },
        SampleFile {
            name: "landuse.geojson",
            bytes: landuse_json.into_bytes(),
        },
        SampleFile {
            name: "sensors.csv",
            bytes: sensors::csv(f, &sens).into_bytes(),
        },
        SampleFile {
            name: "dem.asc",
            bytes: dem.to_asc().into_bytes(),
        },
    ];
    Ok((files, counts))
}

fn round_ring(f: &Frame, ring: &[P]) -> Vec<P> {
    ring.iter().map(|&q| round_ll(f, q)).collect()
}

/// Generate the sample from the extract at `osm_path` and write it into `dir` (created if
/// needed).
pub fn write_to(dir: &Path, osm_path: &Path) -> Result<(Vec<PathBuf>, Counts)> {
    let (files, counts) = generate(osm_path)?;
    std::fs::create_dir_all(dir).map_err(|e| TwinError::io(dir, e))?;
    let mut paths = Vec::new();
    for f in files {
        let path = dir.join(f.name);
        std::fs::write(&path, &f.bytes).map_err(|e| TwinError::io(&path, e))?;
        paths.push(path);
    }
    Ok((paths, counts))
}

/// `heritage_rules.toml` of the sample: the zone kinds, the buffer zones' setback and roofs,
/// and the royal axis (Ngự Bình → Ngọ Môn → Thái Hòa) as a protected view. The positions are
/// the public ones of [`facts`]; the setback, roofs and the landmark's protected height are
/// illustrative, not Huế's regulations.
pub fn heritage_rules_toml() -> String {
    let (nb, nm, th) = (facts::NGU_BINH, facts::NGO_MON, facts::THAI_HOA);
    format!(
        r#"# Heritage rules of the Huế sample twin (SYNTHETIC: the setback, roofs and the landmark's
# protected height are illustrative, not Huế's regulations). Read with heritage.geojson: each
# site's zone ("I" core, "II" buffer) and typed height_limit_m come from the layer.
storey_height_m = 3.3
# Threshold planes: curvature as z - cc d^2 / (2a), cc = 1 - refraction coefficient (1/7), as gdal_viewshed.
curvature_coefficient = 0.85714

[core]
new_buildings = false

[buffer]
setback_m = 10.0
roofs = ["gabled", "hipped", "half-hipped", "pyramidal"]

[[zone]]
site = "royal-axis"
kind = "view_corridor"

[[view]]
id = "royal-axis"
name = "Royal axis: Ngự Bình to Ngọ Môn and Thái Hòa"
corridor = "royal-axis"
assessment = {{ name = "Ngự Bình summit", lon = {}, lat = {}, eye_height_m = 1.6 }}
landmark = {{ name = "Ngọ Môn", lon = {}, lat = {}, height_m = 17.0 }}
beyond = [{{ name = "Thái Hòa palace", lon = {}, lat = {} }}]

# Sightlines cast against the terrain and the buildings: from Ngự Bình's summit to the gate and
# the Flag Tower, aimed 10 m above their ground.
[[sightline]]
id = "ngu-binh-citadel"
from = {{ name = "Ngự Bình summit", lon = {}, lat = {}, eye_height_m = 1.6 }}
to = ["ngo-mon", "ky-dai"]
target_height_m = 10.0
"#,
        nb.0, nb.1, nm.0, nm.1, th.0, th.1, nb.0, nb.1
    )
}

/// `twin.toml` of the sample.
pub fn twin_toml() -> String {
    format!(
        r#"# Huế sample twin generated by sample-twin/src/main.rs (see README.md): buildings, roads and
# heritage outlines, water and land use from OpenStreetMap (© OpenStreetMap contributors, ODbL
# 1.0, see LICENSE-ODbL.md); terrain, zones and sensors SYNTHETIC.
name = "Huế sample (OpenStreetMap, synthetic terrain)"
crs = "EPSG:32648"
attribution = "© OpenStreetMap contributors (ODbL 1.0)"
# EGM96 geoid undulation at the citadel (ellipsoidal minus orthometric height), metres.
geoid_offset_m = {geoid:.1}

[[source]]
path = "dem.asc"
layer = "terrain"
crs = "EPSG:32648"

[[source]]
path = "water.geojson"
layer = "water"
crs = "EPSG:4326"

[[source]]
path = "landuse.geojson"
layer = "landuse"
crs = "EPSG:4326"

[[source]]
path = "roads.geojson"
layer = "roads"
crs = "EPSG:4326"

[[source]]
path = "heritage.geojson"
layer = "heritage"
crs = "EPSG:4326"

[[source]]
path = "buildings.geojson"
layer = "buildings"
crs = "EPSG:4326"

[[source]]
path = "sensors.csv"
layer = "sensors"
crs = "EPSG:4326"
"#,
        geoid = facts::GEOID_OFFSET_M
    )
}

/// `LICENSE-ODbL.md` of the sample folder: the licence of the layers derived from OSM.
pub fn licence_note() -> String {
    format!(
        r#"# Licence of the data derived from OpenStreetMap

`buildings.geojson`, `roads.geojson`, `landuse.geojson` and the outlines in `heritage.geojson`
that carry an `osm_id` are derived from OpenStreetMap data, **© OpenStreetMap contributors**, available under
the **Open Database License (ODbL) 1.0**: <https://opendatacommons.org/licenses/odbl/1-0/>
(summary and credits: <https://www.openstreetmap.org/copyright>).

These derived layers are a Derivative Database under the ODbL and are shared under the same
licence (share-alike). Whoever uses or shows them must credit "© OpenStreetMap contributors";
the huetwin web viewer does so from `twin.toml`'s `attribution`.

Source: the extract `hue.osm.pbf` (newest object 2026-04-13; SHA-256 `{sha}`), described in
`../shared/data/hue/SOURCE.txt` beside the repository; derived by `sample-twin` (Apache-2.0
code). The rest of this folder (the DEM, the Perfume River and canal outlines, the drawn
heritage outlines and zones, the sensors, the rules) is the project's own synthetic data under
the project's licence (Apache-2.0).
"#,
        sha = OSM_SHA256
    )
}

/// `README.md` of the sample folder.
pub fn readme(c: &Counts) -> String {
    format!(
        r#"# Huế sample twin — real OpenStreetMap streets and buildings, SYNTHETIC terrain

This folder is a small, self-contained digital twin of central Huế (Vietnam) for trying out and
testing huetwin. It is generated by `sample-twin/src/main.rs` (the `sample-twin` crate) from
the OpenStreetMap extract `../shared/data/hue/hue.osm.pbf` and a handful of public facts. The
buildings, streets, rivers, moats, lakes, land use and many monument outlines are real (as
mapped in OSM); the terrain, the protection zones and the sensors are **SYNTHETIC**. It is not
survey data and must not be used for real planning decisions.

**Data © OpenStreetMap contributors, ODbL 1.0** (see `LICENSE-ODbL.md`): the layers derived
from OSM stay under the ODbL; `twin.toml`'s `attribution` carries the credit, which the web
viewer shows.

| file | content |
| --- | --- |
| `twin.toml` | the twin: project CRS EPSG:32648 (WGS 84 / UTM 48N), geoid offset, attribution, the sources below |
| `buildings.geojson` | {b} building footprints (EPSG:4326) **from OSM**: every `building=*` way or multipolygon (largest part) whose centroid is in the extent (lon {e0}–{e2}, lat {e1}–{e3}) and not in water (the Perfume River or another water area below), at least 4 m²; `osm_id` and the OSM tags `building`, `name`, `building:levels`, `height`, `min_height`, `roof:shape` as mapped (most have no height: the importer's defaults apply) |
| `heritage.geojson` | {h} heritage sites (EPSG:4326) with `zone` ("I" core, "II" buffer), `height_limit_m` on the zone II areas and an illustrative `floor_m` (floor or plinth above the ground, m) on three monuments; sites with an `osm_id` have their **real OSM outline** (Ngọ Môn, Thái Hòa, Kỳ Đài, Phu Văn Lâu, the citadel gates, Lăng Tự Đức, and every other `historic=*`/`heritage=*` object in the extent: palaces, ruins, tombs, gates); the others are drawn by the generator (see below) |
| `heritage_rules.toml` | the zones' rules (core: no new building; buffer: setback and roofs, illustrative) and the royal axis Ngự Bình → Ngọ Môn → Thái Hòa as a protected view (read by the `heritage` crate) |
| `roads.geojson` | {r} road links (EPSG:4326) **from OSM**: `highway` motorway to tertiary (and their links) in the whole extent, plus named `unclassified`/`residential`/`living_street` streets inside lon 107.555–107.605, lat 16.445–16.490 (the citadel and the centre); cut at the extent, split at the nodes the ways share (links meet at shared vertices), the largest connected network kept; `osm_id`, `highway`, and `name`, `lanes`, `maxspeed`, `oneway`, `bridge` where OSM has them (the traffic model's class defaults fill the rest) |
| `water.geojson` | {w} water features (EPSG:4326) **from OSM**: {wa} areas and {wl} waterways. `song-huong` is the Perfume River, one polygon: the union of the river areas (`water=river`) that OSM's `Sông Hương` waterway runs through (the reach above Kim Long with its two forks, the city reach, the reach below Bao Vinh), clipped to the extent, its islands (Cồn Hến, Dã Viên and smaller ones) as holes; then every other `natural=water` area whose centroid is in the extent, clipped to it (the citadel's moats, Ngự Hà, Tịnh Tâm and the Imperial City's lakes, the An Cựu, Như Ý, Đông Ba and Kẻ Vạn rivers, ponds, reservoirs), parts of at least {min_area} m², an unnamed one taking the name of a named waterway that runs through it; then the `river`, `canal`, `stream`, `ditch` and `drain` waterways cut at the extent, pieces of at least {min_line} m, those wholly inside the Perfume River left out; `osm_id` (`;`-separated for the river's merged areas), `water` and `waterway` as tagged, `name` |
| `landuse.geojson` | {lu} land use areas (EPSG:4326) **from OSM**, drawn by the basemap only (the flood model does not read them): every `landuse=*`, `leisure=park`/`garden`/`pitch` and `natural=wood`/`scrub`/`grassland`/`wetland`/`heath` polygon or multipolygon that is not water, whose centroid (of its largest part) is in the extent, parts of at least 4 m²; `osm_id`, `kind` (the tag's value: {lu_kinds}) and `name` where OSM has one |
| `dem.asc` | ESRI ASCII grid in EPSG:32648, 30 m cells, {nc} × {nr}: a **synthetic** terrain, not a survey, calibrated to two public flood facts (below) |
| `sensors.csv` | {s} sensors (`id,kind,unit,lon,lat,name`), **synthetic**: 2 river gauges (Kim Long, Phú Xuân), 5 rain gauges, 16 traffic cameras at real junctions of the OSM streets |

## What is real and what is not

From OpenStreetMap (real as mapped; extract of 2026-04-13, SHA-256 in `LICENSE-ODbL.md`):

- the building footprints and their tags;
- the land use areas (residential, parks, woods, farmland, cemeteries...) and their class;
- the streets with their names and tags, the bridges (`Cầu Trường Tiền`, `Cầu Phú Xuân`,
  `Cầu Dã Viên`, `Cầu Nguyễn Hoàng`, ...) and their junctions;
- the outlines of the monuments listed above (those with an `osm_id` in `heritage.geojson`);
- the water: the Perfume River's outline and islands, the moats, canals, lakes and rivers, the
  waterways (the river's outline agrees with the OSM streets: only {wet} non-bridge road links
  have a vertex in it).

From public facts (WGS84, rounded to about 10 m; `sample-twin/src/facts.rs`): the positions of
the monuments the extract has no outline for (the Imperial City enclosure, the Forbidden Purple
City, Thiên Mụ, the tombs of Minh Mạng, Khải Định and Gia Long, Nam Giao, Ngự Bình and its
105 m height), the orientation of the citadel on the royal axis (bearing about 143.5°), the
positions of the two river gauges on the bank, the geoid offset (EGM96).

Drawn by the generator (plausible only):

- the outlines of the walls band, the Imperial City (600 × 620 m), the Forbidden Purple City,
  the tombs and hills the extract has no outline for;
- the protection zones (I/II) and height limits: **illustrative**, not the legal values;
- the floor levels (`floor_m`, the floor or plinth above the site's ground, for the flood
  exposure's depth above the floor) of Ngọ Môn ({fl_nm} m), Thái Hòa ({fl_th} m) and Phu Văn
  Lâu ({fl_pvl} m): **illustrative**, not surveyed;
- the sensors' positions and ids (the cameras stand at real junctions);
- **the DEM**: a low plain of 2–5 m with smooth noise, the citadel's fill 0.6 m above it and the
  Imperial City's terrace a further {terrace} m, the citadel's wall a 5 m ridge open at its
  nine gates ({gate} m either side of each: a flood enters through the gate passages), hills to
  the south and west (only Ngự Bình's height is a fact), and the OSM water cut in: the Perfume
  River's bed at {bed0} m at its banks, falling to {bed1} m {ramp} m out; the other rivers' and
  canals' beds at {chan} m (areas of at least {min_chan} m²); channels along the `river` and
  `canal` waterways; lakes, ponds, moats and smaller river areas as a water surface {pond} m
  below the land around. Heights are metres above sea level.
  No open DEM of Huế was at hand.

## Terrain calibration

The DEM is shaped to two public facts about floods at the Kim Long gauge, checked by real runs
of the CPU flood solver on `scenarios/examples/hue/` (`cargo test -p scenarios --test
hue_calibration`; maximum depth over the Imperial City's open ground cells, neither buildings
nor its lakes and moat, 60 m grid):

| scenario | Kim Long stage | fact | tolerance | the sample gives |
| --- | --- | --- | --- | --- |
| `flood_oct2025.toml` | 5.05 m (peak of 27 October 2025), 250 mm of rain | the Imperial City floods about 1.5 m deep | mean and median 1.5 ± 0.3 m | mean 1.51 m, median 1.46 m |
| `flood_alarm3.toml` | 3.5 m (alarm level 3), 100 mm of rain | the Imperial City is at most shallow | mean and median ≤ 0.3 m | mean 0.07 m, median 0.02 m |

The depths are the model's on this synthetic terrain with the stage held on the whole river
polygon; they reproduce the two facts, not a survey.

## Regenerate

```
cargo run -p sample-twin -- data/hue [path/to/hue.osm.pbf]
```

The output is byte-for-byte deterministic for a given extract; `cargo test -p sample-twin
--test hue_sample` regenerates it from `../shared/data/hue/hue.osm.pbf` and compares it with
these files.

## Licence

The layers derived from OpenStreetMap (`buildings.geojson`, `roads.geojson`,
`water.geojson`, `landuse.geojson`, the OSM outlines in `heritage.geojson`) are © OpenStreetMap
contributors under the ODbL 1.0 (`LICENSE-ODbL.md`).
Everything else here is the project's own synthetic data under its licence (Apache-2.0).
"#,
        b = c.buildings,
        h = c.heritage,
        r = c.roads,
        w = c.water,
        wa = c.water_areas,
        wl = c.water - c.water_areas,
        min_area = water::MIN_AREA_M2,
        min_line = water::MIN_LINE_M,
        terrace = terrain::IMPERIAL_CITY_TERRACE_M,
        gate = terrain::GATE_OPEN_M,
        bed0 = terrain::RIVER_BED_M.0,
        bed1 = terrain::RIVER_BED_M.1,
        ramp = terrain::RIVER_BED_RAMP_M,
        chan = terrain::CHANNEL_BED_M,
        min_chan = water::MIN_CHANNEL_AREA_M2,
        pond = terrain::POND_DROP_M,
        lu = c.landuse,
        lu_kinds = c
            .landuse_kinds
            .iter()
            .map(|(k, n)| format!("{k} {n}"))
            .collect::<Vec<_>>()
            .join(", "),
        s = c.sensors,
        nc = c.dem.0,
        nr = c.dem.1,
        wet = c.roads_in_river,
        fl_nm = facts::NGO_MON_FLOOR_M,
        fl_th = facts::THAI_HOA_FLOOR_M,
        fl_pvl = facts::PHU_VAN_LAU_FLOOR_M,
        e0 = facts::EXTENT[0],
        e1 = facts::EXTENT[1],
        e2 = facts::EXTENT[2],
        e3 = facts::EXTENT[3],
    )
}
