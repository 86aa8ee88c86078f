//! From a twin and a scenario file to a [`FloodModel`]: the DEM resampled to the flood grid,
//! levees raised, buildings burnt in as blocked cells, Manning's n by land cover, rain zones,
//! inflows and stage boundaries put on cells.

use super::model::{FloodModel, GridSpec, Inflow, SolverParams, Stage};
use super::raster::{cells_in_polygon, cells_on_line, geometry_cells};
use super::scenario::{Coords, LoadedScenario, SeriesKind, MAX_STAGE_ABOVE_GROUND_M};
use super::series::{Interp, TimeSeries};
use crate::error::{Result, ScenarioError};
use geo_types::{LineString, MultiPolygon, Polygon};
use rayon::prelude::*;
use std::collections::VecDeque;
use toml::Spanned;
use twin_core::model::Dem;
use twin_core::{Transform, Twin};

/// Largest flood grid accepted (cells).
pub const MAX_CELLS: usize = 200_000_000;

/// Manning's n from a `[[manning.raster]]` (see [`super::scenario::ManningRaster`]) into
/// `manning`; returns how many cells it set. Errors name the scenario file, the line and the
/// field.
fn manning_raster(
    sc: &LoadedScenario,
    twin: &Twin,
    grid: &GridSpec,
    r: &super::scenario::ManningRaster,
    manning: &mut [f64],
) -> Result<usize> {
    let file = sc.input(&r.file, "file")?;
    let src = twin_core::import::dem::read_grid(file.path(), &twin_core::NoProgress)
        .map_err(|e| sc.error_at(&r.file, "file", e))?;
    let (a, b) = (
        src.crs.as_ref().and_then(|c| c.epsg_code()),
        twin.crs.epsg_code(),
    );
    if let (Some(a), Some(b)) = (a, b) {
        if a != b {
            return Err(sc.error_at(
                &r.file,
                "file",
                format!("the raster is in EPSG:{a}, the twin in EPSG:{b}: reproject it to the project CRS"),
            ));
        }
    }
    let bad_n = |x: f64| !(0.0..1.0).contains(&x);
    let classes: Option<Vec<(f64, f64)>> = match &r.classes {
        Some(c) => {
            let mut t = Vec::new();
            for (code, &nv) in c.get_ref() {
                let v: f64 = code.trim().parse().map_err(|_| {
                    sc.error_at(c, "classes", format!("class {code:?} is not a number"))
                })?;
                if bad_n(nv) {
                    return Err(sc.error_at(
                        c,
                        "classes",
                        format!("class {code}: Manning's n must be within [0, 1), not {nv}"),
                    ));
                }
                t.push((v, nv));
            }
            Some(t)
        }
        None => None,
    };
    let mask = match &r.n {
        Some(v) if bad_n(*v.get_ref()) => {
            return Err(sc.error_at(
                v,
                "n",
                format!("Manning's n must be within [0, 1), not {}", v.get_ref()),
            ))
        }
        Some(v) => Some(*v.get_ref()),
        None => None,
    };
    let g = &src.grid;
    let mut set = 0;
    for (c, n_cell) in manning.iter_mut().enumerate() {
        let (x, y) = grid.centre(c % grid.nx, c / grid.nx);
        let (fx, fy) = ((x - g.xmin) / g.cell_x, (g.ymax - y) / g.cell_y);
        if !(fx >= 0.0 && fy >= 0.0) {
            continue;
        }
        let Some(v) = g.get(fx as usize, fy as usize) else {
            continue;
        };
        let v = v as f64;
        let new = match (&classes, mask) {
            (Some(t), _) => t.iter().find(|(code, _)| *code == v).map(|&(_, nv)| nv),
            (None, Some(nm)) => (v != 0.0).then_some(nm),
            (None, None) => {
                if bad_n(v) {
                    return Err(sc.error_at(
                        &r.file,
                        "file",
                        format!("value {v} at ({x:.1}, {y:.1}) is not a Manning's n within [0, 1)"),
                    ));
                }
                Some(v)
            }
        };
        if let Some(nv) = new {
            *n_cell = nv;
            set += 1;
        }
    }
    Ok(set)
}

/// A model ready to run, with notes on what was burnt in.
#[derive(Clone, Debug)]
pub struct Prepared {
    /// The model.
    pub model: FloodModel,
    /// Human-readable notes (DEM used, resampling, buildings burnt...).
    pub notes: Vec<String>,
    /// Buildings burnt in (with at least one cell centre inside).
    pub buildings_burnt: usize,
    /// Buildings smaller than the grid could show (no cell centre inside).
    pub buildings_too_small: usize,
}

/// Resample a DEM onto a square grid of `res` metres over `ext` (xmin, ymin, xmax, ymax):
/// bilinear at cell centres when the new cell is less than 1.5 source cells, else the mean of
/// the source cells whose centres fall inside. `None` where the DEM has no data.
pub fn resample(
    dem: &Dem,
    ext: [f64; 4],
    res: f64,
    epsg: Option<u32>,
) -> Result<(GridSpec, Vec<Option<f64>>)> {
    let nx = ((ext[2] - ext[0]) / res).floor();
    let ny = ((ext[3] - ext[1]) / res).floor();
    if !(nx >= 2.0 && ny >= 2.0) {
        return Err(ScenarioError::invalid(
            "flood grid",
            format!("the domain is under 2x2 cells of {res} m"),
        ));
    }
    if nx * ny > MAX_CELLS as f64 {
        return Err(ScenarioError::invalid(
            "flood grid",
            format!("{nx}x{ny} cells of {res} m is over {MAX_CELLS} cells: choose a coarser resolution_m or a bbox"),
        ));
    }
    let g = GridSpec {
        nx: nx as usize,
        ny: ny as usize,
        dx: res,
        xmin: ext[0],
        ymax: ext[3],
        epsg,
    };
    let src = dem.cell_x.max(dem.cell_y);
    let coarse = res >= 1.5 * src;
    let mut z = vec![None; g.cells()];
    z.par_chunks_mut(g.nx).enumerate().for_each(|(j, row)| {
        for (i, v) in row.iter_mut().enumerate() {
            let (x, y) = g.centre(i, j);
            *v = if coarse {
                block_mean(
                    dem,
                    x - res / 2.0,
                    y - res / 2.0,
                    x + res / 2.0,
                    y + res / 2.0,
                )
            } else {
                dem.sample(x, y).or_else(|| nearest(dem, x, y))
            };
        }
    });
    Ok((g, z))
}

fn nearest(dem: &Dem, x: f64, y: f64) -> Option<f64> {
    let c = ((x - dem.xmin) / dem.cell_x).floor();
    let r = ((dem.ymax - y) / dem.cell_y).floor();
    if c < 0.0 || r < 0.0 {
        return None;
    }
    dem.get(c as usize, r as usize).map(f64::from)
}

fn block_mean(dem: &Dem, x0: f64, y0: f64, x1: f64, y1: f64) -> Option<f64> {
    let c0 = (((x0 - dem.xmin) / dem.cell_x) - 0.5).ceil().max(0.0) as usize;
    let c1 = (((x1 - dem.xmin) / dem.cell_x) - 0.5).floor();
    let r0 = (((dem.ymax - y1) / dem.cell_y) - 0.5).ceil().max(0.0) as usize;
    let r1 = (((dem.ymax - y0) / dem.cell_y) - 0.5).floor();
    if c1 < 0.0 || r1 < 0.0 {
        return None;
    }
    let c1 = (c1 as usize).min(dem.ncols.saturating_sub(1));
    let r1 = (r1 as usize).min(dem.nrows.saturating_sub(1));
    let (mut sum, mut n) = (0.0, 0usize);
    for r in r0..=r1 {
        for c in c0..=c1 {
            if let Some(v) = dem.get(c, r) {
                sum += f64::from(v);
                n += 1;
            }
        }
    }
    (n > 0).then(|| sum / n as f64)
}

struct Ctx<'a> {
    sc: &'a LoadedScenario,
    to_proj: Option<Transform>,
}

impl Ctx<'_> {
    fn point(&self, p: [f64; 2], v: &Spanned<impl Sized>, field: &str) -> Result<(f64, f64)> {
        if !(p[0].is_finite() && p[1].is_finite()) {
            return Err(self.sc.error_at(v, field, "coordinates must be finite"));
        }
        match &self.to_proj {
            None => Ok((p[0], p[1])),
            Some(t) => t
                .apply(p[0], p[1])
                .map_err(|e| self.sc.error_at(v, field, e)),
        }
    }

    fn line(&self, c: &Spanned<Coords>, field: &str) -> Result<LineString<f64>> {
        if c.get_ref().len() < 2 {
            return Err(self
                .sc
                .error_at(c, field, "a line needs two points or more"));
        }
        let pts = c
            .get_ref()
            .iter()
            .map(|&p| self.point(p, c, field))
            .collect::<Result<Vec<_>>>()?;
        Ok(LineString::from(pts))
    }

    fn polygon(&self, c: &Spanned<Coords>, field: &str) -> Result<MultiPolygon<f64>> {
        if c.get_ref().len() < 3 {
            return Err(self
                .sc
                .error_at(c, field, "a polygon needs three points or more"));
        }
        let pts = c
            .get_ref()
            .iter()
            .map(|&p| self.point(p, c, field))
            .collect::<Result<Vec<_>>>()?;
        Ok(MultiPolygon(vec![Polygon::new(
            LineString::from(pts),
            vec![],
        )]))
    }
}

fn param(sc: &LoadedScenario, v: &Option<Spanned<f64>>, field: &str, default: f64) -> Result<f64> {
    match v {
        None => Ok(default),
        Some(s) => {
            let x = *s.get_ref();
            if x.is_finite() {
                Ok(x)
            } else {
                Err(sc.error_at(s, field, "must be a finite number"))
            }
        }
    }
}

/// Build the flood model of a scenario over a twin.
pub fn prepare(sc: &LoadedScenario, twin: &Twin) -> Result<Prepared> {
    let s = &sc.scenario;
    let mut notes = Vec::new();
    let to_proj = match &s.coordinates_crs {
        None => None,
        Some(c) => Some(
            Transform::between(c.get_ref(), twin.crs.definition())
                .map_err(|e| sc.error_at(c, "coordinates_crs", e))?,
        ),
    };
    let ctx = Ctx { sc, to_proj };

    // The DEM.
    let dem = match &s.dem {
        Some(name) => twin
            .terrain
            .iter()
            .find(|d| &d.name == name.get_ref())
            .ok_or_else(|| {
                let have: Vec<&str> = twin.terrain.iter().map(|d| d.name.as_str()).collect();
                sc.error_at(
                    name,
                    "dem",
                    format!(
                        "the twin has no terrain grid {:?} (it has {have:?})",
                        name.get_ref()
                    ),
                )
            })?,
        None => twin.terrain.first().ok_or_else(|| {
            ScenarioError::invalid(
                format!("twin {:?}", twin.name),
                "it has no terrain grid (DEM): import one (or `twin build` the twin folder) first",
            )
        })?,
    };
    let mut ext = dem.extent();
    if let Some(b) = &s.bbox {
        let v = *b.get_ref();
        let mut lo = (f64::INFINITY, f64::INFINITY);
        let mut hi = (f64::NEG_INFINITY, f64::NEG_INFINITY);
        for (x, y) in [(v[0], v[1]), (v[2], v[1]), (v[0], v[3]), (v[2], v[3])] {
            let (px, py) = ctx.point([x, y], b, "bbox")?;
            lo = (lo.0.min(px), lo.1.min(py));
            hi = (hi.0.max(px), hi.1.max(py));
        }
        ext = [
            ext[0].max(lo.0),
            ext[1].max(lo.1),
            ext[2].min(hi.0),
            ext[3].min(hi.1),
        ];
        if ext[0] >= ext[2] || ext[1] >= ext[3] {
            return Err(sc.error_at(b, "bbox", "does not overlap the DEM"));
        }
    }
    let res = match &s.resolution_m {
        Some(r) => sc.positive(r, "resolution_m")?,
        None => dem.cell_x.max(dem.cell_y),
    };
    let (grid, zopt) = resample(dem, ext, res, twin.crs.epsg_code())?;
    notes.push(format!(
        "DEM {:?} ({}x{} cells of {} m) resampled to {}x{} cells of {res} m",
        dem.name, dem.ncols, dem.nrows, dem.cell_x, grid.nx, grid.ny
    ));
    let n = grid.cells();
    let mut blocked: Vec<bool> = zopt.iter().map(Option::is_none).collect();
    let nodata = blocked.iter().filter(|&&b| b).count();
    if nodata > 0 {
        notes.push(format!("{nodata} cells without DEM data are closed"));
    }
    let mut z: Vec<f64> = zopt.iter().map(|v| v.unwrap_or(f64::NAN)).collect();

    // Levees.
    for (k, l) in s.levees.iter().enumerate() {
        let line = ctx.line(&l.line, "line")?;
        let cells = cells_on_line(&grid, &line);
        if cells.is_empty() {
            return Err(sc.error_at(&l.line, "line", "the levee lies outside the flood grid"));
        }
        for &c in &cells {
            if blocked[c] {
                continue;
            }
            if let Some(cr) = &l.crest_m {
                let crest = param(sc, &Some(cr.clone()), "crest_m", 0.0)?;
                z[c] = z[c].max(crest);
            } else if let Some(r) = &l.raise_m {
                z[c] += *r.get_ref();
            }
        }
        notes.push(format!(
            "levee {} raised {} cells",
            l.name.clone().unwrap_or_else(|| (k + 1).to_string()),
            cells.len()
        ));
    }

    // Buildings: blocked cells (water cannot enter; rain on roofs is not counted).
    let (mut burnt, mut small) = (0, 0);
    if s.buildings.burn {
        let per: Vec<Vec<usize>> = twin
            .buildings
            .features()
            .par_iter()
            .map(|b| cells_in_polygon(&grid, &b.footprint))
            .collect();
        for cells in per {
            if cells.is_empty() {
                small += 1;
            } else {
                burnt += 1;
                for c in cells {
                    blocked[c] = true;
                }
            }
        }
        if burnt + small > 0 {
            notes.push(format!(
                "{burnt} buildings burnt in as blocked cells; {small} smaller than a cell (centre not covered) left open"
            ));
        }
    }

    // Manning's n by land cover: default, water, roads, zones.
    let m = &s.manning;
    let check_n = |v: &Spanned<f64>, f: &str| {
        let x = *v.get_ref();
        if (0.0..1.0).contains(&x) {
            Ok(x)
        } else {
            Err(sc.error_at(
                v,
                f,
                format!("Manning's n must be within [0, 1) (0: frictionless), not {x}"),
            ))
        }
    };
    let n_default = check_n(&m.default, "default")?;
    let n_water = check_n(&m.water, "water")?;
    let n_road = check_n(&m.road, "road")?;
    let mut manning = vec![n_default; n];
    let mut water_cells = 0;
    for w in twin.water.features() {
        let cells = geometry_cells(&grid, &w.geometry);
        water_cells += cells.len();
        for c in cells {
            manning[c] = n_water;
        }
    }
    let mut road_cells = 0;
    for r in twin.roads.features() {
        if r.bridge {
            continue;
        }
        for c in cells_on_line(&grid, &r.line) {
            manning[c] = n_road;
            road_cells += 1;
        }
    }
    let mut raster_cells = 0;
    for r in &m.rasters {
        raster_cells += manning_raster(sc, twin, &grid, r, &mut manning)?;
    }
    for zone in &m.zones {
        let nz = check_n(&zone.n, "n")?;
        let poly = ctx.polygon(&zone.polygon, "polygon")?;
        for c in cells_in_polygon(&grid, &poly) {
            manning[c] = nz;
        }
    }
    notes.push(format!(
        "Manning's n: {n_default} by default, {n_water} on {water_cells} water cells, {n_road} on {road_cells} road cells, {raster_cells} cells from {} rasters, {} zones",
        m.rasters.len(),
        m.zones.len()
    ));

    // Rain (mm/h → m/s), zone 0 everywhere, then the zones.
    let mmh = 1.0 / 3.6e6;
    let mut rain = Vec::new();
    let mut rain_zone = vec![0u16; n];
    match &s.rain {
        None => rain.push(TimeSeries::constant(0.0, Interp::Step)),
        Some(r) => {
            let base = if r.series.is_none() && r.csv.is_none() {
                vec![(0.0, 0.0)]
            } else {
                sc.series(&r.series, &r.csv, &r.time_unit, "rain", SeriesKind::Rain)?
            };
            if base.iter().any(|p| p.1 < 0.0) {
                return Err(sc.error_field("rain", "intensities must not be negative"));
            }
            rain.push(TimeSeries::new(&base, Interp::Step, "rain")?.scaled(mmh));
            for (k, zsec) in r.zones.iter().enumerate() {
                let what = format!(
                    "rain.zone {}",
                    zsec.name.clone().unwrap_or_else(|| (k + 1).to_string())
                );
                let pts = sc.series(
                    &zsec.series,
                    &zsec.csv,
                    &zsec.time_unit,
                    &what,
                    SeriesKind::Rain,
                )?;
                if pts.iter().any(|p| p.1 < 0.0) {
                    return Err(sc.error_at(
                        &zsec.polygon,
                        "series",
                        format!("{what}: intensities must not be negative"),
                    ));
                }
                let idx = rain.len() as u16;
                rain.push(TimeSeries::new(&pts, Interp::Step, &what)?.scaled(mmh));
                let poly = ctx.polygon(&zsec.polygon, "polygon")?;
                let cells = cells_in_polygon(&grid, &poly);
                if cells.is_empty() {
                    return Err(sc.error_at(
                        &zsec.polygon,
                        "polygon",
                        format!("{what} covers no cell of the grid"),
                    ));
                }
                for c in cells {
                    rain_zone[c] = idx;
                }
            }
        }
    }

    // Inflows.
    let mut inflows = Vec::new();
    for (k, f) in s.inflows.iter().enumerate() {
        let name = f
            .name
            .clone()
            .unwrap_or_else(|| format!("inflow {}", k + 1));
        let (x, y) = ctx.point(*f.at.get_ref(), &f.at, "at")?;
        let (i, j) = grid.cell_of(x, y).ok_or_else(|| {
            sc.error_at(
                &f.at,
                "at",
                format!("{name}: ({x:.1}, {y:.1}) is outside the flood grid"),
            )
        })?;
        let cell = j * grid.nx + i;
        if blocked[cell] {
            return Err(sc.error_at(
                &f.at,
                "at",
                format!("{name}: the point falls on a building or on nodata"),
            ));
        }
        let pts = sc.series(&f.series, &f.csv, &f.time_unit, &name, SeriesKind::Inflow)?;
        if pts.iter().any(|p| p.1 < 0.0) {
            return Err(sc.error_at(
                &f.at,
                "series",
                format!("{name}: discharges must not be negative"),
            ));
        }
        inflows.push(Inflow {
            name: name.clone(),
            cell,
            series: TimeSeries::new(&pts, Interp::Linear, &name)?,
        });
    }

    // Free-outflow edges.
    let mut outflows = Vec::new();
    for (k, o) in s.outflows.iter().enumerate() {
        let name = o
            .name
            .clone()
            .unwrap_or_else(|| format!("outflow {}", k + 1));
        let edge = super::model::Edge::parse(o.edge.get_ref()).ok_or_else(|| {
            sc.error_at(
                &o.edge,
                "edge",
                format!(
                    "{name}: {:?} is not north, south, east or west",
                    o.edge.get_ref()
                ),
            )
        })?;
        let slope = match &o.slope {
            Some(v) => {
                let x = *v.get_ref();
                if !(0.0..1.0).contains(&x) {
                    return Err(sc.error_at(
                        v,
                        "slope",
                        format!("{name}: slope {x} is outside [0, 1)"),
                    ));
                }
                Some(x)
            }
            None => None,
        };
        let kind = match o.kind.as_ref().map(|k| k.get_ref().as_str()) {
            None | Some("normal") => super::model::OutflowKind::Normal { slope },
            Some("critical") => {
                if let Some(v) = &o.slope {
                    return Err(sc.error_at(
                        v,
                        "slope",
                        format!("{name}: a critical-depth outflow takes no slope"),
                    ));
                }
                super::model::OutflowKind::Critical
            }
            Some(other) => {
                let v = o.kind.as_ref().expect("matched Some");
                return Err(sc.error_at(
                    v,
                    "kind",
                    format!("{name}: {other:?} is not \"normal\" or \"critical\""),
                ));
            }
        };
        notes.push(format!(
            "{name}: free outflow on the {} edge ({kind:?})",
            o.edge.get_ref()
        ));
        outflows.push(super::model::Outflow { name, edge, kind });
    }

    // Stage boundaries.
    let mut stages = Vec::new();
    let mut taken = vec![false; n];
    let mut h0 = vec![0.0; n];
    // The highest open ground of the domain: stages far above it are typing errors.
    let z_top = z
        .iter()
        .zip(&blocked)
        .filter(|(v, &b)| !b && v.is_finite())
        .map(|(v, _)| *v)
        .fold(f64::NEG_INFINITY, f64::max);
    for (k, st) in s.stages.iter().enumerate() {
        let name = st
            .name
            .clone()
            .unwrap_or_else(|| format!("stage {}", k + 1));
        let mut cells = match (&st.line, &st.edge, &st.water) {
            (Some(l), _, _) => cells_on_line(&grid, &ctx.line(l, "line")?),
            (None, Some(e), _) => match e.get_ref().as_str() {
                "north" => (0..grid.nx).collect(),
                "south" => (0..grid.nx).map(|i| (grid.ny - 1) * grid.nx + i).collect(),
                "west" => (0..grid.ny).map(|j| j * grid.nx).collect(),
                _ => (0..grid.ny).map(|j| j * grid.nx + grid.nx - 1).collect(),
            },
            (None, None, Some(w)) => {
                let key = w.get_ref();
                // An id ("water:song-huong"), the id without its layer prefix ("song-huong"),
                // or a name ("Sông Hương").
                let f = twin
                    .water
                    .features()
                    .iter()
                    .find(|f| {
                        &f.id == key
                            || f.id.rsplit_once(':').is_some_and(|(_, tail)| tail == key)
                            || f.name.as_ref() == Some(key)
                    })
                    .ok_or_else(|| {
                        let some: Vec<&str> =
                            twin.water.features().iter().take(8).map(|f| f.id.as_str()).collect();
                        sc.error_at(
                            w,
                            "water",
                            format!("{name}: the twin has no water feature with id or name {key:?} (ids: {some:?})"),
                        )
                    })?;
                geometry_cells(&grid, &f.geometry)
            }
            (None, None, None) => Vec::new(),
        };
        cells.retain(|&c| !blocked[c] && !taken[c]);
        cells.sort_unstable();
        cells.dedup();
        if cells.is_empty() {
            return Err(sc.error_field(
                "stage",
                format!("{name}: no open cell of the grid lies on it"),
            ));
        }
        for &c in &cells {
            taken[c] = true;
        }
        let pts = sc.series(&st.series, &st.csv, &st.time_unit, &name, SeriesKind::Stage)?;
        let top = z_top + MAX_STAGE_ABOVE_GROUND_M;
        if let Some(p) = pts.iter().find(|p| p.1 > top) {
            return Err(sc.error_field(
                "stage",
                format!(
                    "{name}: stage {} m at {} s is more than {MAX_STAGE_ABOVE_GROUND_M} m above the domain's highest ground ({z_top} m)",
                    p.1, p.0
                ),
            ));
        }
        let series = TimeSeries::new(&pts, Interp::Linear, &name)?;
        if st.fill {
            let filled = fill_connected(&grid, &z, &blocked, &cells, series.value(0.0), &mut h0);
            notes.push(format!(
                "{name}: {filled} cells connected to the boundary start filled to {:.2} m",
                series.value(0.0)
            ));
        }
        notes.push(format!("{name}: {} boundary cells", cells.len()));
        stages.push(Stage {
            name,
            cells,
            series,
        });
    }
    if let Some(f) = inflows.iter().find(|f| taken[f.cell]) {
        return Err(sc.error_field(
            "inflow",
            format!("{}: its cell is on a stage boundary", f.name),
        ));
    }

    let sv = &s.solver;
    let d = SolverParams::default();
    let params = SolverParams {
        theta: param(sc, &sv.theta, "theta", d.theta)?,
        alpha: param(sc, &sv.alpha, "alpha", d.alpha)?,
        g: d.g,
        depth_threshold: param(
            sc,
            &sv.depth_threshold_m,
            "depth_threshold_m",
            d.depth_threshold,
        )?,
        max_dt: param(sc, &sv.max_dt_s, "max_dt_s", d.max_dt)?,
        wet_depth: param(sc, &sv.wet_depth_m, "wet_depth_m", d.wet_depth)?,
        hazard_depth: param(sc, &sv.hazard_depth_m, "hazard_depth_m", d.hazard_depth)?,
        dt_every: sv
            .dt_every_steps
            .as_ref()
            .map_or(d.dt_every, |v| *v.get_ref()),
    };
    params
        .validate()
        .map_err(|e| ScenarioError::parse(&sc.path, "[solver]", e))?;
    for (k, zv) in z.iter_mut().enumerate() {
        if blocked[k] {
            *zv = 0.0;
            h0[k] = 0.0;
        }
    }
    let model = FloodModel {
        grid,
        z,
        blocked,
        manning,
        rain_zone,
        rain,
        inflows,
        stages,
        outflows,
        h0,
        params,
    };
    model.validate()?;
    Ok(Prepared {
        model,
        notes,
        buildings_burnt: burnt,
        buildings_too_small: small,
    })
}

/// The cells of a polygon (centres inside) or of a line (cells crossed).
/// Fill the open cells 4-connected to `seeds` whose ground is below `level` with water up to
/// it; returns how many cells were filled.
pub fn fill_connected(
    g: &GridSpec,
    z: &[f64],
    blocked: &[bool],
    seeds: &[usize],
    level: f64,
    h0: &mut [f64],
) -> usize {
    let mut seen = vec![false; g.cells()];
    let mut q: VecDeque<usize> = VecDeque::new();
    for &s in seeds {
        if !blocked[s] && z[s] < level && !seen[s] {
            seen[s] = true;
            q.push_back(s);
        }
    }
    let mut count = 0;
    while let Some(k) = q.pop_front() {
        h0[k] = h0[k].max(level - z[k]);
        count += 1;
        let (i, j) = (k % g.nx, k / g.nx);
        let mut nb = [usize::MAX; 4];
        if i > 0 {
            nb[0] = k - 1;
        }
        if i + 1 < g.nx {
            nb[1] = k + 1;
        }
        if j > 0 {
            nb[2] = k - g.nx;
        }
        if j + 1 < g.ny {
            nb[3] = k + g.nx;
        }
        for m in nb {
            if m != usize::MAX && !seen[m] && !blocked[m] && z[m] < level {
                seen[m] = true;
                q.push_back(m);
            }
        }
    }
    count
}
