//! `twin heritage check <twin> <proposal>`, `twin heritage report <twin> <proposal> --out DIR`, `twin heritage viewshed <twin> --lon --lat --out`,
//! `twin heritage exposure <twin>` and `twin heritage breaches <twin>`: a proposed building judged against the twin's protection
//! zones, protected views and sightlines (the `heritage` crate), a viewshed as GeoTIFF (with the
//! cells a proposal hides), monument flood exposure across the stored runs, and the existing
//! buildings that break the rules.

use anyhow::{Context, Result};
use heritage::check::SightlineCast;
use heritage::report::Picture;
use heritage::{Outcome, Proposal, Rules, Verdict};
use std::path::{Path, PathBuf};
use twin_core::{Twin, TwinDir};

/// `twin heritage` subcommands.
#[derive(clap::Subcommand)]
pub enum HeritageCmd {
    /// Judge a proposed building (a GeoJSON Feature in WGS84 with `height` in metres or
    /// `storeys`, optionally `roof:shape`; or a CityJSON 1.1/2.0 document of one building,
    /// LoD1/LoD2, in the twin's CRS or WGS84) against the zones' rules, the protected views and
    /// sightlines and the monuments' visible area: one row per rule with its numbers. Exits
    /// with status 2 when the proposal is refused.
    Check {
        /// The twin folder (its heritage layer and heritage_rules.toml).
        twin: PathBuf,
        /// The proposal (GeoJSON or CityJSON).
        proposal: PathBuf,
        /// Print the verdict as JSON.
        #[arg(long)]
        json: bool,
    },
    /// The permit report of a proposal: `report.html` (self-contained: the proposal, the
    /// verdict per rule with its numbers, the rules cited, an SVG map, and a map and a
    /// perspective picture from the wgpu renderer with the proposal in red and the sightlines
    /// by status) and `report.pdf` printed from it by headless Chromium (skipped, with a
    /// message, when no Chromium is found). Exits with status 2 when the proposal is refused,
    /// as `check` does.
    Report {
        /// The twin folder.
        twin: PathBuf,
        /// The proposal (GeoJSON or CityJSON).
        proposal: PathBuf,
        /// The folder to write report.html and report.pdf into (created).
        #[arg(long)]
        out: PathBuf,
        /// Leave out the rendered pictures (no GPU adapter needed).
        #[arg(long)]
        no_pictures: bool,
        /// The Chromium to print with (default: $CHROMIUM, else /usr/bin/chromium, else
        /// `chromium` on the PATH, as the browser tests find it).
        #[arg(long)]
        chromium: Option<PathBuf>,
    },
    /// The viewshed from a point (WGS84 lon/lat, height above the ground) over the twin's DEM
    /// with its buildings, as a GeoTIFF (1 seen, 0 hidden, NaN no data or beyond the maximum
    /// distance), with gdal_viewshed's options; with --proposal, also the cells it would hide
    /// (`<out>` with `_lost` before the extension).
    Viewshed {
        /// The twin folder.
        twin: PathBuf,
        /// Observer longitude (WGS84).
        #[arg(long, allow_hyphen_values = true)]
        lon: f64,
        /// Observer latitude (WGS84).
        #[arg(long, allow_hyphen_values = true)]
        lat: f64,
        /// Observer height above the ground (m), as gdal_viewshed -oz.
        #[arg(long, default_value_t = 2.0)]
        height: f64,
        /// Target height above the ground (m), -tz.
        #[arg(long, default_value_t = 0.0)]
        target_height: f64,
        /// Largest distance (m), -md.
        #[arg(long)]
        max_distance: Option<f64>,
        /// Curvature coefficient, -cc (0.85714: curvature and refraction; 1: curvature; 0: none).
        #[arg(long, default_value_t = heritage::plane::CC_DEFAULT)]
        cc: f64,
        /// A proposed building (GeoJSON): also write the cells it hides.
        #[arg(long)]
        proposal: Option<PathBuf>,
        /// The GeoTIFF to write.
        #[arg(long)]
        out: PathBuf,
    },
    /// Monument flood exposure across the twin's finished flood runs: per monument and run the
    /// largest depth on its own ground, hours wet, hours above the run's hazard depth and the
    /// first wet time, and where the heritage layer gives its floor level (`floor_m`) the depth
    /// and hours above the floor; the most exposed first.
    Exposure {
        /// The twin folder (its runs/).
        twin: PathBuf,
        /// Print JSON.
        #[arg(long)]
        json: bool,
        /// Also write the report into this folder: `exposure.html` (self-contained: the
        /// ranking chart and table, a section per run with a map of its largest depth from the
        /// wgpu renderer, the exposed monuments outlined) and `exposure.pdf` printed from it.
        #[arg(long)]
        out: Option<PathBuf>,
        /// Leave out the rendered maps (no GPU adapter needed).
        #[arg(long)]
        no_pictures: bool,
        /// The Chromium to print with (as for `report`).
        #[arg(long)]
        chromium: Option<PathBuf>,
    },
    /// The existing buildings over the height limits of the buffer zones and view corridors,
    /// or above the protected views' threshold planes.
    Breaches {
        /// The twin folder.
        twin: PathBuf,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
}

/// The twin at `twin`, its rules, and the verdict on the proposal file `proposal`.
fn check_proposal(twin: &Path, proposal: &Path) -> Result<(Twin, Rules, Verdict)> {
    let t = TwinDir::open(twin)?.load()?;
    let rules = Rules::load(twin, &t)?;
    let text = std::fs::read_to_string(proposal)
        .with_context(|| format!("reading {}", proposal.display()))?;
    let p = Proposal::read(&text, &proposal.display().to_string(), &t, &rules)?;
    let v = heritage::check(&t, &rules, &p);
    Ok((t, rules, v))
}

/// Runs a `twin heritage` subcommand.
pub fn run(cmd: HeritageCmd) -> Result<()> {
    match cmd {
        HeritageCmd::Check {
            twin,
            proposal,
            json,
        } => {
            let (_, _, v) = check_proposal(&twin, &proposal)?;
            if json {
                println!("{}", serde_json::to_string_pretty(&v)?);
            } else {
                print!("{}", verdict_table(&v));
            }
            if !v.permitted {
                std::process::exit(2);
            }
            Ok(())
        }
        HeritageCmd::Report {
            twin,
            proposal,
            out,
            no_pictures,
            chromium,
        } => {
            let (t, rules, v) = check_proposal(&twin, &proposal)?;
            let casts = heritage::check::cast_sightlines(&t, &rules, Some(&v.proposal));
            let pictures = if no_pictures {
                Vec::new()
            } else {
                report_pictures(&t, &v, &casts)
                    .context("rendering the report's pictures (--no-pictures leaves them out)")?
            };
            write_report(
                &out,
                "report",
                &heritage::report::report_html(&t, &rules, &v, &casts, &pictures),
                chromium,
            )?;
            print!("{}", verdict_table(&v));
            if !v.permitted {
                std::process::exit(2);
            }
            Ok(())
        }
        HeritageCmd::Viewshed {
            twin,
            lon,
            lat,
            height,
            target_height,
            max_distance,
            cc,
            proposal,
            out,
        } => {
            use heritage::viewshed::{
                proposal_difference, viewshed, write_geotiff, Surface, ViewshedOptions,
            };
            if !(height.is_finite() && target_height.is_finite() && (0.0..=1.0).contains(&cc)) {
                anyhow::bail!("--height and --target-height must be numbers, --cc within [0, 1]");
            }
            let dir = TwinDir::open(&twin)?;
            let t = dir.load()?;
            let (x, y) = twin_core::crs::Reprojector::new(&twin_core::crs::Crs::wgs84(), &t.crs)?
                .apply(lon, lat)?;
            let o = ViewshedOptions {
                observer_height: height,
                target_height,
                max_distance,
                cc,
            };
            let surface = Surface::of_twin(&t)?;
            let epsg = t.crs.epsg_code();
            let (v, lost) = match &proposal {
                Some(p) => {
                    let rules = Rules::load(&twin, &t)?;
                    let text = std::fs::read_to_string(p)
                        .with_context(|| format!("reading {}", p.display()))?;
                    let prop = Proposal::read(&text, &p.display().to_string(), &t, &rules)?;
                    let (v, lost) = proposal_difference(&t, &prop, x, y, &o)?;
                    (v, Some(lost))
                }
                None => (viewshed(&surface, x, y, &o)?, None),
            };
            write_geotiff(&out, &surface, &v, epsg)?;
            let seen = v.iter().filter(|c| **c == Some(true)).count();
            let judged = v.iter().filter(|c| c.is_some()).count();
            println!(
                "{seen} of {judged} cells seen ({} m cells); written to {}",
                surface.cell,
                out.display()
            );
            if let Some(lost) = lost {
                let stem = out
                    .file_stem()
                    .and_then(|s| s.to_str())
                    .unwrap_or("viewshed");
                let path = out.with_file_name(format!("{stem}_lost.tif"));
                let cells: Vec<Option<bool>> = lost.iter().map(|l| Some(*l)).collect();
                write_geotiff(&path, &surface, &cells, epsg)?;
                println!(
                    "the proposal hides {} of them; written to {}",
                    lost.iter().filter(|l| **l).count(),
                    path.display()
                );
            }
            Ok(())
        }
        HeritageCmd::Exposure {
            twin,
            json,
            out,
            no_pictures,
            chromium,
        } => {
            let dir = TwinDir::open(&twin)?;
            let tw = dir.load()?;
            let t = heritage::exposure::exposure_table(&tw, &twin)?;
            if let Some(out) = out {
                let pictures = if no_pictures {
                    Vec::new()
                } else {
                    exposure_pictures(&tw, &twin, &t).context(
                        "rendering the exposure report's maps (--no-pictures leaves them out)",
                    )?
                };
                write_report(
                    &out,
                    "exposure",
                    &heritage::report::exposure_html(&dir.config.name, &t, &pictures),
                    chromium,
                )?;
            }
            if json {
                println!("{}", serde_json::to_string_pretty(&t)?);
                return Ok(());
            }
            for (k, r) in t.runs.iter().enumerate() {
                println!("run {}: {} ({})", k + 1, r.name, r.id);
            }
            println!("{:>4} {:<28} {:>4} {:>7}  per run: depth m / hours wet / hours above hazard / first wet h [/ above floor m / hours above floor]", "rank", "monument", "zone", "floor m");
            for m in &t.monuments {
                let cells: Vec<String> = m
                    .runs
                    .iter()
                    .map(|e| match e {
                        Some(e) => {
                            let floor = match e.above_floor_m {
                                Some(a) => format!(
                                    "/{a:.2}/{}",
                                    e.hours_above_floor
                                        .map(|h| format!("{h:.1}"))
                                        .unwrap_or_else(|| "-".into())
                                ),
                                None => String::new(),
                            };
                            format!(
                                "{:.2}/{:.1}/{:.1}/{}{floor}",
                                e.max_depth_m,
                                e.hours_wet,
                                e.hours_above_hazard,
                                e.first_wet_h
                                    .map(|h| format!("{h:.1}"))
                                    .unwrap_or_else(|| "-".into())
                            )
                        }
                        None => "-".into(),
                    })
                    .collect();
                println!(
                    "{:>4} {:<28} {:>4} {:>7}  {}",
                    m.rank,
                    m.name.as_deref().unwrap_or(&m.site),
                    m.zone.as_deref().unwrap_or("-"),
                    m.floor_m
                        .map(|f| format!("{f:.2}"))
                        .unwrap_or_else(|| "-".into()),
                    cells.join("  ")
                );
            }
            Ok(())
        }
        HeritageCmd::Breaches { twin, json } => {
            let dir = TwinDir::open(&twin)?;
            let t = dir.load()?;
            let rules = Rules::load(&twin, &t)?;
            let rows = heritage::breaches(&t, &rules);
            if json {
                println!("{}", serde_json::to_string_pretty(&rows)?);
                return Ok(());
            }
            println!(
                "{:<16} {:<22} {:<24} {:>9} {:>9} {:>8}  name",
                "rule", "under", "building", "value m", "limit m", "excess"
            );
            for b in &rows {
                println!(
                    "{:<16} {:<22} {:<24} {:>9.2} {:>9.2} {:>8.2}  {}",
                    b.rule,
                    b.under,
                    b.building,
                    b.value,
                    b.limit,
                    b.excess,
                    b.name.as_deref().unwrap_or("")
                );
            }
            println!("{} breaches", rows.len());
            Ok(())
        }
    }
}

/// The permit report's pictures from the wgpu renderer: a map of the SVG map's frame and a
/// perspective view of the proposal, 700 m off and 350 m up, looking along the first protected
/// sightline (from the north when there is none); the proposal and the sightlines in the
/// SVG map's colours ([`heritage::report::PROPOSAL_RGB`], [`heritage::report::sightline_rgb`]).
fn report_pictures(t: &Twin, v: &Verdict, casts: &[SightlineCast]) -> Result<Vec<Picture>> {
    use renderer::render::{BuildingShape, Camera, MapView, MarkLine, Renderer, Scene};
    let mut scene = Scene::from_twin(t)?;
    let p = &v.proposal;
    scene.title = format!("Proposal: {}", p.name.as_deref().unwrap_or("unnamed"));
    scene.marks.buildings.push((
        BuildingShape {
            id: "proposal".into(),
            footprint: p.footprint.clone(),
            base: p.base_m,
            top: v.top_m,
        },
        heritage::report::PROPOSAL_RGB,
    ));
    scene.marks.lines = casts
        .iter()
        .map(|c| MarkLine {
            from: c.from,
            to: c.to,
            colour: heritage::report::sightline_rgb(c),
            width_m: 3.0,
        })
        .collect();
    let f = heritage::report::frame(v);
    let r = Renderer::new()?;
    let bbox = Some([f.min().x, f.min().y, f.max().x, f.max().y]);
    let map = Camera::Map { bbox };
    let c = f.center();
    let heading = casts
        .first()
        .map(|s| (c.x - s.from[0]).atan2(c.y - s.from[1]).to_degrees())
        .unwrap_or(180.0);
    let persp = Camera::looking_at([c.x, c.y, p.base_m], heading, 700.0, 350.0, 50.0);
    let frame = MapView::new(&scene, bbox, 900, 900).frame();
    let mut out = Vec::new();
    for (camera, (w, h), caption, frame) in [
        (map, (900, 900), "Map (wgpu renderer), the SVG map's frame: the proposal in red, the protected sightlines green when clear, red where the proposal blocks them, grey where already blocked.", Some(frame)),
        (persp, (900, 600), "Perspective (wgpu renderer) towards the proposal along the first protected sightline.", None),
    ] {
        let png = r.render(&scene, &camera, w, h)?.to_png()?;
        out.push(Picture {
            caption: caption.into(),
            png,
            frame,
        });
    }
    Ok(out)
}

/// The depth classes of the water tiles ([`tiles3d::water::DEPTH_CLASSES`]) as the exposure
/// maps draw them: opaque, in the legend's colours.
pub fn exposure_water_classes() -> Vec<renderer::render::WaterClass> {
    tiles3d::water::DEPTH_CLASSES
        .iter()
        .map(|c| renderer::render::WaterClass {
            min_m: f64::from(c.min_m),
            colour: c.srgb8(),
            label: c.label.to_string(),
        })
        .collect()
}

/// The margin around the exposed monuments on an exposure map (m), at least.
const EXPOSURE_MAP_MARGIN_M: f64 = 250.0;

/// The exposure report's perspective views: looking this way (degrees clockwise from north:
/// north-west, along the Citadel's royal axis as the renderer's `citadel` camera does).
pub const EXPOSURE_VIEW_HEADING_DEG: f64 = 323.5;
/// The perspective view's vertical field of view (degrees).
pub const EXPOSURE_VIEW_FOV_DEG: f64 = 30.0;
/// The perspective view's size (pixels).
pub const EXPOSURE_VIEW_SIZE: (u32, u32) = (900, 600);

/// Where a perspective view of a monument `size` m across (the larger side of its outline's
/// box) stands: (distance, height) in m from the middle of the box, six times its size off
/// within 300..=600 m, 0.45 of that up within 150..=250 m (a pitch of 23 to 27 degrees), so
/// that a pavilion and a gate both fill a good part of the picture and the scale bar is drawn.
pub fn exposure_view_eye(size: f64) -> (f64, f64) {
    let d = (6.0 * size).clamp(300.0, 600.0);
    (d, (0.45 * d).clamp(150.0, 250.0))
}
/// Ring segments of a site's outline, each from one corner to the next (every ring of every
/// polygon).
fn outline_segments(
    site: &twin_core::model::HeritageSite,
) -> impl Iterator<Item = (geo_types::Coord<f64>, geo_types::Coord<f64>)> + '_ {
    site.polygon
        .0
        .iter()
        .flat_map(|p| std::iter::once(p.exterior()).chain(p.interiors()))
        .flat_map(|ring| ring.0.windows(2).map(|s| (s[0], s[1])))
}

/// The monument a run's perspective view shows: of the monuments the run wets (at least
/// `wet` m deep), the one with the largest depth among those with an OpenStreetMap outline
/// (an `osm_id` attribute: a drawn building or gate, not a hand-drawn area), else the one with
/// the largest depth; the first in the table's order on a tie. Its row, its exposure, its site.
fn exposure_view_monument<'a>(
    table: &'a heritage::exposure::ExposureTable,
    k: usize,
    sites: &std::collections::HashMap<&str, &'a twin_core::model::HeritageSite>,
    wet: f64,
) -> Option<(
    &'a heritage::exposure::MonumentRow,
    &'a heritage::exposure::Exposure,
    &'a twin_core::model::HeritageSite,
)> {
    let mut best: Option<(bool, f64, _)> = None;
    for m in &table.monuments {
        let (Some(Some(e)), Some(site)) = (m.runs.get(k), sites.get(m.site.as_str())) else {
            continue;
        };
        if e.max_depth_m < wet {
            continue;
        }
        let osm = site.attributes.contains_key("osm_id");
        let better = match &best {
            None => true,
            Some((o, d, _)) => (osm, e.max_depth_m) > (*o, *d),
        };
        if better {
            best = Some((osm, e.max_depth_m, (m, e, *site)));
        }
    }
    best.map(|b| b.2)
}

/// The perspective view of run `run`'s most exposed monument ([`exposure_view_monument`]) in
/// `flooded` (the twin with the run's largest depth in depth classes): looking at the middle
/// of its outline's box from [`exposure_view_eye`] (heading [`EXPOSURE_VIEW_HEADING_DEG`]),
/// the outline drawn in [`heritage::report::EXPOSED_MONUMENT_RGB`] 1 m over the water on it
/// and around it (its largest depth over its ground, or the highest water level of the flood
/// cells about the corner), the renderer's legend and its scale bar at the picture's centre.
fn exposure_view(
    r: &renderer::render::Renderer,
    flooded: &renderer::render::Scene,
    run: &heritage::exposure::RunColumn,
    (m, e, site): (
        &heritage::exposure::MonumentRow,
        &heritage::exposure::Exposure,
        &twin_core::model::HeritageSite,
    ),
) -> Result<Picture> {
    use renderer::render::{Camera, MarkLine};
    let mut scene = flooded.clone();
    let name = m.name.as_deref().unwrap_or(&m.site);
    scene.title = format!("{}: largest depth, {name}", run.name);
    let ground = |x: f64, y: f64| flooded.ground(x, y);
    // The highest water level of the flood cell holding (x, y) and its eight neighbours.
    let level = |x: f64, y: f64| -> Option<f64> {
        let f = scene.flood.as_ref()?;
        let d = &f.depth;
        let (c, r) = (
            ((x - d.xmin) / d.cell_x).floor() as i64,
            ((d.ymax - y) / d.cell_y).floor() as i64,
        );
        let mut top: Option<f64> = None;
        for (cc, rr) in (c - 1..=c + 1).flat_map(|cc| (r - 1..=r + 1).map(move |rr| (cc, rr))) {
            if cc < 0 || rr < 0 || cc as usize >= d.ncols || rr as usize >= d.nrows {
                continue;
            }
            let (cc, rr) = (cc as usize, rr as usize);
            if let Some(h) = f.wet_depth(cc, rr) {
                let l = f.ground_at(cc, rr, flooded.terrain.as_ref()) + h;
                top = Some(top.map_or(l, |t: f64| t.max(l)));
            }
        }
        top
    };
    let z = |x: f64, y: f64| {
        let own = ground(x, y) + e.max_depth_m;
        level(x, y).map_or(own, |l| l.max(own)) + 1.0
    };
    let lines: Vec<MarkLine> = outline_segments(site)
        .map(|(a, b)| MarkLine {
            from: [a.x, a.y, z(a.x, a.y)],
            to: [b.x, b.y, z(b.x, b.y)],
            colour: heritage::report::EXPOSED_MONUMENT_RGB,
            width_m: 3.0,
        })
        .collect();
    let mut b = [
        f64::INFINITY,
        f64::INFINITY,
        f64::NEG_INFINITY,
        f64::NEG_INFINITY,
    ];
    for (a, _) in outline_segments(site) {
        b = [b[0].min(a.x), b[1].min(a.y), b[2].max(a.x), b[3].max(a.y)];
    }
    let (cx, cy) = ((b[0] + b[2]) / 2.0, (b[1] + b[3]) / 2.0);
    let (distance, height) = exposure_view_eye((b[2] - b[0]).max(b[3] - b[1]));
    let camera = Camera::looking_at(
        [cx, cy, ground(cx, cy)],
        EXPOSURE_VIEW_HEADING_DEG,
        distance,
        height,
        EXPOSURE_VIEW_FOV_DEG,
    );
    scene.marks.lines.extend(lines);
    let (w, h) = EXPOSURE_VIEW_SIZE;
    let png = r.render(&scene, &camera, w, h)?.to_png()?;
    let floor = match (m.floor_m, e.above_floor_m) {
        (Some(f), Some(a)) => format!("{a:.2} m above its floor ({f:.2} m above its ground)"),
        _ => "its floor level not known".into(),
    };
    let which = if site.attributes.contains_key("osm_id") {
        "the monument with an OpenStreetMap outline that it wets deepest"
    } else {
        "the monument it wets deepest"
    };
    Ok(Picture {
        caption: format!(
            "Perspective (wgpu renderer) of {}: {name}, {which}, outlined in magenta: {:.2} m deep at most on its own ground, {floor}; the largest water depth by class (legend), seen from {distance:.0} m to the south-east and {height:.0} m up.",
            run.name, e.max_depth_m
        ),
        png,
        frame: None,
    })
}

/// The exposure report's pictures from the wgpu renderer, per run of `table` (in its order):
/// a map, top-down, the run's largest depth in the water tiles' depth classes
/// ([`exposure_water_classes`]), framed on the monuments it wets (deeper than the picture's
/// wet threshold) with a margin, each outlined in the buildings' depth colours by its largest
/// depth on its own ground (the run's wetted area when it wets none); then, when it wets a
/// monument, a perspective view of the most exposed one ([`exposure_view`]).
fn exposure_pictures(
    t: &Twin,
    twin_dir: &Path,
    table: &heritage::exposure::ExposureTable,
) -> Result<Vec<Vec<Picture>>> {
    use renderer::render::{colour, Camera, FloodLayer, MapView, MarkLine, Renderer, Scene};
    let store = scenarios::jobs::RunStore::for_twin(twin_dir);
    let base = Scene::from_twin(t)?;
    let r = Renderer::new()?;
    let sites: std::collections::HashMap<&str, &twin_core::model::HeritageSite> = t
        .heritage
        .features()
        .iter()
        .map(|h| (h.id.as_str(), h))
        .collect();
    let mut out = Vec::new();
    for (k, run) in table.runs.iter().enumerate() {
        let mut flood = FloodLayer::load(&store.dir(&run.id)?, None)?;
        flood.classes = exposure_water_classes();
        let wet = flood.threshold;
        let flooded = base.clone().with_flood(flood);
        let mut scene = flooded.clone();
        scene.title = format!("{}: largest depth", run.name);
        // xmin, ymin, xmax, ymax of the exposed monuments.
        let mut bbox = [
            f64::INFINITY,
            f64::INFINITY,
            f64::NEG_INFINITY,
            f64::NEG_INFINITY,
        ];
        let mut exposed = 0;
        for m in &table.monuments {
            let (Some(Some(e)), Some(site)) = (m.runs.get(k), sites.get(m.site.as_str())) else {
                continue;
            };
            if e.max_depth_m < wet {
                continue;
            }
            exposed += 1;
            for p in site.polygon.0.iter().flat_map(|p| &p.exterior().0) {
                bbox = [
                    bbox[0].min(p.x),
                    bbox[1].min(p.y),
                    bbox[2].max(p.x),
                    bbox[3].max(p.y),
                ];
            }
            let c = colour::building_colour(Some(e.max_depth_m), wet);
            let z = |x: f64, y: f64| flooded.ground(x, y) + 1.0;
            for (a, b) in outline_segments(site) {
                scene.marks.lines.push(MarkLine {
                    from: [a.x, a.y, z(a.x, a.y)],
                    to: [b.x, b.y, z(b.x, b.y)],
                    colour: c,
                    width_m: 6.0,
                });
            }
        }
        let bbox = (bbox[0] <= bbox[2] && bbox[1] <= bbox[3]).then(|| {
            let m = (0.15 * (bbox[2] - bbox[0]).max(bbox[3] - bbox[1])).max(EXPOSURE_MAP_MARGIN_M);
            [bbox[0] - m, bbox[1] - m, bbox[2] + m, bbox[3] + m]
        });
        let (w, h) = (900, 800);
        let frame = MapView::new(&scene, bbox, w, h).frame();
        let png = r.render(&scene, &Camera::Map { bbox }, w, h)?.to_png()?;
        let caption = if exposed > 0 {
            format!("Map (wgpu renderer) of {}: the largest water depth by class (legend), framed on the {exposed} monuments it wets, each outlined in the buildings' depth colours by its largest depth on its own ground.", run.name)
        } else {
            format!("Map (wgpu renderer) of {}: the largest water depth by class (legend); it wets no monument.", run.name)
        };
        let mut pictures = vec![Picture {
            caption,
            png,
            frame: Some(frame),
        }];
        if let Some(view) = exposure_view_monument(table, k, &sites, wet) {
            pictures.push(exposure_view(&r, &flooded, run, view)?);
        }
        out.push(pictures);
    }
    Ok(out)
}

/// Writes `<out>/<name>.html` and, where a Chromium is found, `<out>/<name>.pdf` printed
/// from it; says which on stderr (stdout keeps the table or the JSON).
fn write_report(out: &Path, name: &str, html_text: &str, chromium: Option<PathBuf>) -> Result<()> {
    std::fs::create_dir_all(out).with_context(|| format!("creating {}", out.display()))?;
    let html = out.join(format!("{name}.html"));
    std::fs::write(&html, html_text).with_context(|| format!("writing {}", html.display()))?;
    eprintln!("written {}", html.display());
    match find_chromium(chromium) {
        Some(c) => {
            let pdf = out.join(format!("{name}.pdf"));
            print_pdf(&c, &html, &pdf)?;
            eprintln!("written {} (printed by {})", pdf.display(), c.display());
        }
        None => eprintln!("PDF skipped: no Chromium found (give --chromium PATH or set CHROMIUM)"),
    }
    Ok(())
}

/// The Chromium to print with: the one given, else $CHROMIUM, else /usr/bin/chromium, else
/// `chromium` or `chromium-browser` on the PATH (the browser tests' lookup).
fn find_chromium(given: Option<PathBuf>) -> Option<PathBuf> {
    if given.is_some() {
        return given;
    }
    if let Some(c) = std::env::var_os("CHROMIUM") {
        return Some(PathBuf::from(c));
    }
    let usr = PathBuf::from("/usr/bin/chromium");
    if usr.is_file() {
        return Some(usr);
    }
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .flat_map(|d| ["chromium", "chromium-browser"].map(|n| d.join(n)))
        .find(|p| p.is_file())
}

/// The most seconds headless Chromium may take to print the report.
const PRINT_TIMEOUT_S: u64 = 120;

/// Prints `html` to `pdf` with headless Chromium, in a throwaway profile, bounded in time.
fn print_pdf(
    chromium: &std::path::Path,
    html: &std::path::Path,
    pdf: &std::path::Path,
) -> Result<()> {
    let profile = tempfile::tempdir().context("creating a Chromium profile folder")?;
    let html =
        std::fs::canonicalize(html).with_context(|| format!("resolving {}", html.display()))?;
    let mut child = std::process::Command::new(chromium)
        .arg("--headless")
        .arg("--no-sandbox")
        .arg("--disable-gpu")
        .arg("--no-pdf-header-footer")
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .arg(format!("--print-to-pdf={}", pdf.display()))
        .arg(format!("file://{}", html.display()))
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .with_context(|| format!("starting {}", chromium.display()))?;
    let start = std::time::Instant::now();
    loop {
        if let Some(status) = child.try_wait()? {
            if !status.success() || !pdf.is_file() {
                anyhow::bail!(
                    "{} failed to print {} ({status})",
                    chromium.display(),
                    html.display()
                );
            }
            return Ok(());
        }
        if start.elapsed().as_secs() > PRINT_TIMEOUT_S {
            let _ = child.kill();
            let _ = child.wait();
            anyhow::bail!(
                "{} took over {PRINT_TIMEOUT_S} s to print {}",
                chromium.display(),
                html.display()
            );
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
}

/// The verdict as a plain table: the proposal, the zones, one row per rule.
pub fn verdict_table(v: &Verdict) -> String {
    let p = &v.proposal;
    let mut s = format!(
        "proposal {}: {:.1} m ({}), base {:.2} m, top {:.2} m, footprint {:.0} m²\n",
        p.name.as_deref().unwrap_or("(unnamed)"),
        p.height_m,
        p.height_from,
        p.base_m,
        v.top_m,
        v.area_m2
    );
    if v.zones.is_empty() {
        s.push_str("zones: none\n");
    }
    for z in &v.zones {
        s.push_str(&format!(
            "zone: {} ({}, zone {}, {:?}{})\n",
            z.site,
            z.name.as_deref().unwrap_or(""),
            z.zone.as_deref().unwrap_or("-"),
            z.kind,
            z.height_limit_m
                .map(|l| format!(", limit {l} m"))
                .unwrap_or_default()
        ));
    }
    for r in &v.rules {
        let o = match r.outcome {
            Outcome::Pass => "pass",
            Outcome::Fail => "FAIL",
            Outcome::NotAssessed => "n/a",
        };
        s.push_str(&format!("{o:<5} {:<15} {}\n", r.rule, r.detail));
    }
    s.push_str(if v.permitted {
        "verdict: permitted\n"
    } else {
        "verdict: REFUSED\n"
    });
    s
}
