//! The Huế sample twin (`data/hue`): SYNTHETIC sources drawn by this code from public facts.
//!
//! The positions of the monuments, gates, bridges and hills and the course of the Perfume River
//! are real (see [`facts`]); the buildings are procedural, the street grids inside the wards are
//! generated, and the DEM is a plausible surface, not a survey. Everything is deterministic:
//! the same code gives the same bytes ([`generate`]), which the `hue_sample` test checks against
//! the committed files.
//!
//! Regenerate with `cargo run -p sample-twin -- data/hue`.

pub mod buildings;
pub mod facts;
pub mod geom;
pub mod heritage;
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
    /// Sensors.
    pub sensors: usize,
    /// DEM columns and rows.
    pub dem: (usize, usize),
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
    let water = water::build(&ctx);
    let mut sites = heritage::build(&ctx);
    heritage::from_osm(&ctx, &mut sites, &osm, facts::EXTENT);
    let links = roads::build(&ctx, &osm, facts::EXTENT);
    roads::check(&links)?;
    let blds = buildings::build(&ctx, &osm, &water, facts::EXTENT);
    let sens = sensors::build(f, &water, &links)?;
    let dem = terrain::build(&ctx, &water)?;

    let mut counts = Counts {
        buildings: blds.len(),
        heritage: sites.len(),
        roads: links.len(),
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
    c.feature(
        &[
            ("id", V::S("song-huong")),
            ("natural", V::S("water")),
            ("water", V::S("river")),
            ("name", V::S("Sông Hương")),
            ("name_en", V::S("Perfume River")),
        ],
        &c.polygon(std::slice::from_ref(&water.river.ring)),
    );
    for l in &water.lines {
        let width = format!("{}", (l.half_width * 2.0).round());
        c.feature(
            &[
                ("id", V::S(l.id)),
                ("waterway", V::S(l.waterway)),
                ("name", V::S(l.name)),
                ("width", V::S(&width)),
            ],
            &c.line(&l.pts),
        );
    }
    for lake in &water.lakes {
        c.feature(
            &[
                ("id", V::S(lake.id)),
                ("natural", V::S("water")),
                ("water", V::S("lake")),
                ("name", V::S(lake.name)),
            ],
            &c.polygon(&[round_ring(f, &lake.ring)]),
        );
    }
    let water_json = c.finish();
    counts.water = 1 + water.lines.len() + water.lakes.len();
    counts.dem = (dem.ncols, dem.nrows);

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
        r#"# Huế sample twin: SYNTHETIC data generated by sample-twin/src/main.rs (see README.md).
name = "Huế sample (synthetic)"
crs = "EPSG:32648"
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

/// `README.md` of the sample folder.
pub fn readme(c: &Counts) -> String {
    format!(
        r#"# Huế sample twin — SYNTHETIC

This folder is a small, self-contained digital twin of central Huế (Vietnam) for trying out and
testing huetwin. **It is synthetic.** It was generated by `sample-twin/src/main.rs`
(the `sample-twin` crate) from a handful of public facts; it is not survey data and must not
be used for real planning decisions.

| file | content |
| --- | --- |
| `twin.toml` | the twin: project CRS EPSG:32648 (WGS 84 / UTM 48N), geoid offset, the sources below |
| `buildings.geojson` | {b} building footprints (EPSG:4326): **procedural** tube houses along the streets of the residential wards, plus a few larger schools, hotels, markets and the hospital; `building`, `building:levels` and/or `height` on most |
| `heritage.geojson` | {h} heritage sites (EPSG:4326) with `zone` ("I" core, "II" buffer) and `height_limit_m` on the zone II areas |
| `heritage_rules.toml` | the zones' rules (core: no new building; buffer: setback and roofs, illustrative) and the royal axis Ngự Bình → Ngọ Môn → Thái Hòa as a protected view (read by the `heritage` crate) |
| `roads.geojson` | {r} road links (EPSG:4326), split at junctions (links meet at shared vertices); `highway`, `name`, `lanes`, `maxspeed`, `oneway`, `bridge` |
| `water.geojson` | {w} water features (EPSG:4326): the Perfume River as a polygon, the moats, canals and small rivers as lines, Tịnh Tâm lake |
| `dem.asc` | ESRI ASCII grid in EPSG:32648, 30 m cells, {nc} × {nr}: a **plausible** terrain, not a survey |
| `sensors.csv` | {s} sensors (`id,kind,unit,lon,lat,name`): 2 river gauges, 5 rain gauges, 16 traffic cameras |

## What is real and what is not

Real (public facts, WGS84, rounded to about 10 m):

- positions of the monuments: Ngọ Môn, Thái Hòa palace, the Flag Tower (Kỳ Đài), Phu Văn Lâu,
  the citadel gates, Dong Ba market, Thiên Mụ pagoda, the tombs of Tự Đức, Minh Mạng, Khải Định
  and Gia Long (the last from its encyclopaedia article, approximate), Nam Giao esplanade, and
  Ngự Bình hill with its height (105 m);
- the orientation of the citadel and the Imperial City on the royal axis (bearing about 143.5°,
  facing the river to the south-east) and their approximate sizes (citadel walls about
  2.1 × 2.4 km, Imperial City about 600 × 620 m);
- the course of the Perfume River from the Tả Trạch/Hữu Trạch confluence past Hòn Chén, Thiên
  Mụ, Kim Long, the citadel and Trường Tiền bridge to Bao Vinh, and of the An Cựu, Như Ý and
  Đông Ba rivers, sketched with 10–45 control points each;
- the ends of the Trường Tiền, Phú Xuân, Dã Viên and Nguyễn Hoàng bridges and the course of the
  main roads (Lê Lợi, Hùng Vương, Lê Duẩn, Trần Hưng Đạo, ...);
- the geoid offset (EGM96 at the citadel, from PROJ's `egm96_15.gtx`).

These facts come from general knowledge, public maps and encyclopaedia articles. They were
checked by eye against the OpenStreetMap extract in `../shared/data/hue` (not committed); no OSM
geometry was copied into this folder: every outline is drawn by the generator from the points
in `sample-twin/src/facts.rs`.

Synthetic (made up, plausible only):

- all building footprints, their types and heights (seeded random placement along streets;
  none inside the Imperial City, in the water or on the walls);
- the street grids inside the wards and the names of the minor streets (real Huế street names
  reused, not at their real places);
- widths of the river and canals, the outlines of the monuments (rectangles of about the right
  size), the protection zones and height limits (illustrative, not the legal values);
- the DEM: a low plain of 2–5 m with smooth noise, the citadel slightly raised, river beds
  3–6 m below sea level, hills to the south and west (only Ngự Bình's height is a fact);
- the sensors' positions and ids.

## Regenerate

```
cargo run -p sample-twin -- data/hue
```

The output is byte-for-byte deterministic ;
`cargo test -p sample-twin --test hue_sample` regenerates it and compares it with these files.

## Licence

Same as the huetwin project (Apache-2.0); the data is the project's own, generated by its code.
The real OpenStreetMap data for Huế is in `../shared/data/hue` (© OpenStreetMap contributors,
ODbL 1.0) and is not committed to this repository.
"#,
        b = c.buildings,
        h = c.heritage,
        r = c.roads,
        w = c.water,
        s = c.sensors,
        nc = c.dem.0,
        nr = c.dem.1,

    )
}
