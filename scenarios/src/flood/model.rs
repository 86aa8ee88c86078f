//! The prepared flood model: a square grid with ground, roughness, obstacles, forcing and
//! solver parameters. Both solvers (CPU here, GPU in `renderer`) take a [`FloodModel`].

use super::series::{Interp, TimeSeries};
use crate::error::{Result, ScenarioError};
use serde::Serialize;

/// A north-up grid of square cells in the project CRS. Cell (i, j) is column i from the west,
/// row j from the north; its index in every per-cell array is `j * nx + i` (the conventions:
/// [`crate::flood`]).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct GridSpec {
    /// Columns.
    pub nx: usize,
    /// Rows.
    pub ny: usize,
    /// Cell size (m), the same in x and y.
    pub dx: f64,
    /// x of the west edge.
    pub xmin: f64,
    /// y of the north edge.
    pub ymax: f64,
    /// EPSG code of the project CRS, written into the GeoTIFF outputs.
    pub epsg: Option<u32>,
}

impl GridSpec {
    /// Number of cells.
    pub fn cells(&self) -> usize {
        self.nx * self.ny
    }

    /// Area of one cell (m²).
    pub fn cell_area(&self) -> f64 {
        self.dx * self.dx
    }

    /// Centre of cell (i, j).
    pub fn centre(&self, i: usize, j: usize) -> (f64, f64) {
        (
            self.xmin + (i as f64 + 0.5) * self.dx,
            self.ymax - (j as f64 + 0.5) * self.dx,
        )
    }

    /// The cell (i, j) holding a point, None outside the grid.
    pub fn cell_of(&self, x: f64, y: f64) -> Option<(usize, usize)> {
        let fi = (x - self.xmin) / self.dx;
        let fj = (self.ymax - y) / self.dx;
        if !(fi.is_finite() && fj.is_finite()) || fi < 0.0 || fj < 0.0 {
            return None;
        }
        let (i, j) = (fi as usize, fj as usize);
        (i < self.nx && j < self.ny).then_some((i, j))
    }

    /// (xmin, ymin, xmax, ymax).
    pub fn extent(&self) -> [f64; 4] {
        [
            self.xmin,
            self.ymax - self.ny as f64 * self.dx,
            self.xmin + self.nx as f64 * self.dx,
            self.ymax,
        ]
    }
}

/// Numerical and reporting parameters of the local inertial scheme.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct SolverParams {
    /// de Almeida et al. (2012) weighting θ of the face's own discharge against its two
    /// neighbours (1 gives Bates et al. 2010; 0.7 by default).
    pub theta: f64,
    /// Courant number α in Δt = α·Δx/√(g·h_max) (0.5 by default). A von Neumann analysis of
    /// the 2-D scheme without friction gives stability for α ≤ √(θ/2) (the chequerboard mode
    /// is the first to grow; 0.59 for θ = 0.7, 0.71 for θ = 1): deep water with little friction
    /// oscillates above it. The 1-D bound is α ≤ √θ.
    pub alpha: f64,
    /// Gravity (m/s²).
    pub g: f64,
    /// No flow across a face whose flow depth h_f is at or below this (m, 0.001 by default).
    pub depth_threshold: f64,
    /// Largest time step (s), used when the grid is (nearly) dry.
    pub max_dt: f64,
    /// A cell is wet above this depth (m): first wetting time, wet duration, velocities.
    pub wet_depth: f64,
    /// Depth (m) whose exceedance duration is reported (0.3 m by default).
    pub hazard_depth: f64,
    /// Δt is set from the deepest water every this many steps (4 by default; 1: every
    /// step). The steps of such a group share their Δt, which lets the CPU solver take them
    /// in one sweep over memory; that Δt allows for the depth the forcing and the flow can
    /// add within the group (`cpu::group_dt`), so every step's Courant number stays at or
    /// below α (measured: `CpuSolver::max_courant`).
    pub dt_every: u32,
}

impl Default for SolverParams {
    fn default() -> Self {
        SolverParams {
            theta: 0.7,
            alpha: 0.5,
            g: 9.81,
            depth_threshold: 0.001,
            max_dt: 10.0,
            wet_depth: 0.01,
            hazard_depth: 0.3,
            dt_every: 4,
        }
    }
}

impl SolverParams {
    /// What is allowed but unwise, in words: α above √(θ/2). [`super::run_model`] adds these
    /// to the report's notes (which `twin flood` prints), and [`SolverParams::validate`] logs
    /// them.
    pub fn warnings(&self) -> Vec<String> {
        let mut w = Vec::new();
        let bound = (self.theta / 2.0).sqrt();
        if self.alpha > bound {
            w.push(format!(
                "solver alpha {} is above sqrt(theta/2) = {bound:.3} (theta {}): deep water with \
                 little friction may oscillate",
                self.alpha, self.theta
            ));
        }
        w
    }

    /// Check the ranges.
    pub fn validate(&self) -> Result<()> {
        let bad = |f: &str, m: &str| Err(ScenarioError::invalid(format!("solver `{f}`"), m));
        if !(self.theta >= 0.0 && self.theta <= 1.0) {
            return bad("theta", "must be within [0, 1]");
        }
        if !(self.alpha > 0.0 && self.alpha <= 1.0) {
            return bad("alpha", "must be within (0, 1]");
        }
        for w in self.warnings() {
            tracing::warn!("{w}");
        }
        if !(self.g > 0.0 && self.g.is_finite()) {
            return bad("g", "must be positive");
        }
        if !(self.depth_threshold > 0.0 && self.depth_threshold.is_finite()) {
            return bad("depth_threshold_m", "must be positive");
        }
        if !(self.max_dt > 0.0 && self.max_dt.is_finite()) {
            return bad("max_dt_s", "must be positive");
        }
        if !(self.wet_depth > 0.0 && self.wet_depth.is_finite()) {
            return bad("wet_depth_m", "must be positive");
        }
        if !(self.hazard_depth > 0.0 && self.hazard_depth.is_finite()) {
            return bad("hazard_depth_m", "must be positive");
        }
        if !(1..=16).contains(&self.dt_every) {
            return bad("dt_every_steps", "must be within 1 ..= 16");
        }
        Ok(())
    }
}

/// A point inflow: a hydrograph (m³/s, linear) added to one cell.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Inflow {
    /// Name for reports.
    pub name: String,
    /// The cell index.
    pub cell: usize,
    /// Discharge (m³/s) against time.
    pub series: TimeSeries,
}

/// A stage boundary: cells whose water level is held at a stage time series (m, linear), e.g. a
/// river gauge. Water flows in or out of the domain through them.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Stage {
    /// Name for reports.
    pub name: String,
    /// The cell indices.
    pub cells: Vec<usize>,
    /// Water surface elevation (m, same datum as the ground) against time.
    pub series: TimeSeries,
}

/// A side of the grid.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Edge {
    /// Row 0.
    North,
    /// The last row.
    South,
    /// The last column.
    East,
    /// Column 0.
    West,
}

impl Edge {
    /// Parse "north", "south", "east" or "west".
    pub fn parse(s: &str) -> Option<Edge> {
        match s {
            "north" => Some(Edge::North),
            "south" => Some(Edge::South),
            "east" => Some(Edge::East),
            "west" => Some(Edge::West),
            _ => None,
        }
    }

    /// The cells along this side, and for each its neighbour one cell inside.
    pub fn cells(self, nx: usize, ny: usize) -> Vec<(usize, usize)> {
        match self {
            Edge::North => (0..nx).map(|i| (i, i + nx)).collect(),
            Edge::South => (0..nx)
                .map(|i| ((ny - 1) * nx + i, (ny - 2) * nx + i))
                .collect(),
            Edge::West => (0..ny).map(|j| (j * nx, j * nx + 1)).collect(),
            Edge::East => (0..ny)
                .map(|j| (j * nx + nx - 1, j * nx + nx - 2))
                .collect(),
        }
    }
}

/// How water leaves through a free-outflow edge.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum OutflowKind {
    /// Critical depth at the edge: q = √g · h^(3/2) per metre of edge.
    Critical,
    /// Normal depth (Manning): q = h^(5/3) · √S / n per metre of edge, S the given slope or,
    /// when None, the local ground slope between the edge cell and its neighbour inside
    /// (|Δz| / Δx; flat ground lets nothing out).
    Normal {
        /// Energy slope S (m/m), None for the local ground slope.
        slope: Option<f64>,
    },
}

/// A free-outflow edge: water leaves the domain across the outer face of its cells at the
/// discharge of [`OutflowKind`] for the cell's depth (explicit, at most the cell's depth in a
/// step), booked as boundary exchange. Edges without one are walls.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Outflow {
    /// Name for reports.
    pub name: String,
    /// Which side.
    pub edge: Edge,
    /// How the discharge is set.
    pub kind: OutflowKind,
}

/// One cell of a free-outflow edge: q = coef · h^exponent (m²/s) across its outer face(s).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct OutflowCell {
    /// The cell.
    pub cell: usize,
    /// Coefficient (a corner of two edges of one kind: the sum of both).
    pub coef: f64,
    /// 1.5 (critical depth) or 5/3 (normal depth).
    pub exponent: f64,
}

/// Everything a solver needs.
#[derive(Clone, Debug)]
pub struct FloodModel {
    /// The grid.
    pub grid: GridSpec,
    /// Ground elevation per cell (m), levees included.
    pub z: Vec<f64>,
    /// Cells water cannot enter: buildings burnt in as obstacles, DEM nodata.
    pub blocked: Vec<bool>,
    /// Manning's n per cell (s/m^(1/3)), within [0, 1); 0 is frictionless; a face takes the
    /// mean of its two cells.
    pub manning: Vec<f64>,
    /// Rain zone of each cell (index into `rain`): one hyetograph per cell (zones replace,
    /// they do not add).
    pub rain_zone: Vec<u16>,
    /// Rain intensity per zone (m/s, step series).
    pub rain: Vec<TimeSeries>,
    /// Point inflows.
    pub inflows: Vec<Inflow>,
    /// Stage boundaries.
    pub stages: Vec<Stage>,
    /// Free-outflow edges (the other edges are walls).
    pub outflows: Vec<Outflow>,
    /// Initial depth per cell (m).
    pub h0: Vec<f64>,
    /// Scheme parameters.
    pub params: SolverParams,
}

/// What drives one forcing slot in a step.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SlotKind {
    /// Rain: the slot's value is the depth (m) fallen during the step.
    Rain,
    /// A point inflow: the slot's value is the depth (m) the step's inflow volume makes in its
    /// cell.
    Inflow,
    /// A stage: the slot's value is the water level (m) at the end of the step.
    Stage,
}

/// A forcing slot: a series and how a step reads it.
#[derive(Clone, Debug)]
pub struct Slot {
    /// Kind.
    pub kind: SlotKind,
    /// The series, in m/s (rain), m³/s (inflow) or m (stage).
    pub series: TimeSeries,
    /// The cell of an inflow slot (the inflows of one cell share a slot); None otherwise.
    pub cell: Option<usize>,
}

/// No special forcing on a cell (the value of [`ForcingTable::special`]).
pub const NO_SLOT: u32 = u32::MAX;

/// The forcing compiled per cell, shared by the CPU and GPU solvers: every cell reads one rain
/// slot and at most one special slot (an inflow or a stage); inflows on one cell are summed.
#[derive(Clone, Debug)]
pub struct ForcingTable {
    /// The slots: rain zones first, then inflows, then stages.
    pub slots: Vec<Slot>,
    /// Rain slot of each cell.
    pub rain: Vec<u32>,
    /// Inflow or stage slot of each cell, [`NO_SLOT`] for none.
    pub special: Vec<u32>,
}

impl ForcingTable {
    /// The value of every slot for the step [t0, t1]: rain depth (m), inflow depth (m) for a
    /// cell of `area` m², or the stage (m) at t1.
    pub fn values(&self, t0: f64, t1: f64, area: f64) -> Vec<f64> {
        self.slots
            .iter()
            .map(|s| match s.kind {
                SlotKind::Rain => s.series.integral(t0, t1),
                SlotKind::Inflow => s.series.integral(t0, t1) / area,
                SlotKind::Stage => s.series.value(t1),
            })
            .collect()
    }
}

impl ForcingTable {
    /// How deep the forcing can make the deepest water over [t0, t1], given the deepest water
    /// now, `h_max`, and `depth(k)`, the depth of cell k now: the largest rain depth of a zone
    /// plus the larger of a stage's rise above its level at t0 and h_max, or, on an inflow's
    /// cell, its depth now plus its inflow's depth over the cell's `area` m² (a cell reads one
    /// rain slot and at most one inflow or stage). What the flow moves is not in it. The Δt
    /// schedule uses it so that the steps of a group sharing one Δt stay within the Courant
    /// number α (`cpu::group_dt`).
    pub fn deepest_bound(
        &self,
        t0: f64,
        t1: f64,
        area: f64,
        h_max: f64,
        depth: impl Fn(usize) -> f64,
    ) -> f64 {
        let mut rain = 0.0f64;
        let mut deepest = h_max;
        for s in &self.slots {
            match s.kind {
                SlotKind::Rain => rain = rain.max(s.series.integral(t0, t1)),
                SlotKind::Inflow => {
                    let k = s.cell.expect("an inflow slot has its cell");
                    deepest = deepest.max(depth(k) + s.series.integral(t0, t1) / area);
                }
                SlotKind::Stage => {
                    let rise = (s.series.max_over(t0, t1) - s.series.value(t0)).max(0.0);
                    deepest = deepest.max(h_max + rise);
                }
            }
        }
        deepest + rain
    }
}

impl FloodModel {
    /// A flat, open, frictional grid with no forcing (tests and benchmarks start here).
    pub fn flat(nx: usize, ny: usize, dx: f64, z: f64, manning: f64) -> FloodModel {
        let n = nx * ny;
        FloodModel {
            grid: GridSpec {
                nx,
                ny,
                dx,
                xmin: 0.0,
                ymax: ny as f64 * dx,
                epsg: None,
            },
            z: vec![z; n],
            blocked: vec![false; n],
            manning: vec![manning; n],
            rain_zone: vec![0; n],
            rain: vec![TimeSeries::constant(0.0, Interp::Step)],
            inflows: Vec::new(),
            stages: Vec::new(),
            outflows: Vec::new(),
            h0: vec![0.0; n],
            params: SolverParams::default(),
        }
    }

    /// Check sizes, ranges and overlaps.
    pub fn validate(&self) -> Result<()> {
        let g = &self.grid;
        let n = g.cells();
        if g.nx < 2 || g.ny < 2 {
            return Err(ScenarioError::invalid(
                "flood grid",
                format!("{}x{} cells: at least 2x2 needed", g.nx, g.ny),
            ));
        }
        if !(g.dx > 0.0 && g.dx.is_finite()) {
            return Err(ScenarioError::invalid(
                "flood grid",
                format!("cell size {}", g.dx),
            ));
        }
        for (name, len) in [
            ("z", self.z.len()),
            ("blocked", self.blocked.len()),
            ("manning", self.manning.len()),
            ("rain_zone", self.rain_zone.len()),
            ("h0", self.h0.len()),
        ] {
            if len != n {
                return Err(ScenarioError::invalid(
                    "flood model",
                    format!("{name} has {len} values for {n} cells"),
                ));
            }
        }
        if let Some(k) = (0..n).find(|&k| !self.blocked[k] && !self.z[k].is_finite()) {
            return Err(ScenarioError::invalid(
                "flood model",
                format!("open cell {k} has no ground elevation"),
            ));
        }
        if let Some(k) = (0..n).find(|&k| !(self.manning[k] >= 0.0 && self.manning[k] < 1.0)) {
            return Err(ScenarioError::invalid(
                "flood model",
                format!(
                    "Manning's n {} at cell {k} is outside [0, 1) (0: frictionless)",
                    self.manning[k]
                ),
            ));
        }
        if let Some(k) = (0..n).find(|&k| !(self.h0[k] >= 0.0 && self.h0[k].is_finite())) {
            return Err(ScenarioError::invalid(
                "flood model",
                format!("initial depth {} at cell {k}", self.h0[k]),
            ));
        }
        if let Some(k) = (0..n).find(|&k| self.rain_zone[k] as usize >= self.rain.len()) {
            return Err(ScenarioError::invalid(
                "flood model",
                format!(
                    "cell {k} is in rain zone {} of {}",
                    self.rain_zone[k],
                    self.rain.len()
                ),
            ));
        }
        for (z, s) in self.rain.iter().enumerate() {
            if s.v.iter().any(|&v| v < 0.0) {
                return Err(ScenarioError::invalid(
                    format!("rain zone {z}"),
                    "negative intensity",
                ));
            }
        }
        if self.rain.len() > u16::MAX as usize {
            return Err(ScenarioError::invalid("rain", "too many zones"));
        }
        let mut owner: Vec<Option<String>> = vec![None; n];
        for s in &self.stages {
            for &c in &s.cells {
                if c >= n {
                    return Err(ScenarioError::invalid(
                        format!("stage boundary {:?}", s.name),
                        format!("cell {c} outside the grid"),
                    ));
                }
                if self.blocked[c] {
                    return Err(ScenarioError::invalid(
                        format!("stage boundary {:?}", s.name),
                        format!("cell {c} is blocked (building or nodata)"),
                    ));
                }
                if let Some(o) = &owner[c] {
                    return Err(ScenarioError::invalid(
                        format!("stage boundary {:?}", s.name),
                        format!("cell {c} already belongs to {o}"),
                    ));
                }
                owner[c] = Some(format!("stage boundary {:?}", s.name));
            }
        }
        for f in &self.inflows {
            let what = format!("inflow {:?}", f.name);
            if f.cell >= n {
                return Err(ScenarioError::invalid(what, "outside the grid"));
            }
            if self.blocked[f.cell] {
                return Err(ScenarioError::invalid(
                    what,
                    "its cell is blocked (building or nodata)",
                ));
            }
            if let Some(o) = &owner[f.cell] {
                if o.starts_with("stage") {
                    return Err(ScenarioError::invalid(
                        what,
                        format!("its cell belongs to {o}, whose level is imposed"),
                    ));
                }
            }
            if f.series.v.iter().any(|&v| v < 0.0) {
                return Err(ScenarioError::invalid(
                    what,
                    "negative discharge (inflows only add water)",
                ));
            }
        }
        for o in &self.outflows {
            if let OutflowKind::Normal { slope: Some(s) } = o.kind {
                if !(0.0..1.0).contains(&s) {
                    return Err(ScenarioError::invalid(
                        format!("outflow {:?}", o.name),
                        format!("slope {s} is outside [0, 1)"),
                    ));
                }
            }
        }
        self.params.validate()
    }

    /// Compile the forcing into slots and per-cell slot indices.
    pub fn forcing_table(&self) -> ForcingTable {
        let n = self.grid.cells();
        let mut slots: Vec<Slot> = self
            .rain
            .iter()
            .map(|s| Slot {
                kind: SlotKind::Rain,
                series: s.clone(),
                cell: None,
            })
            .collect();
        let rain = self.rain_zone.iter().map(|&z| z as u32).collect();
        let mut special = vec![NO_SLOT; n];
        for f in &self.inflows {
            let s = special[f.cell];
            if s == NO_SLOT {
                special[f.cell] = slots.len() as u32;
                slots.push(Slot {
                    kind: SlotKind::Inflow,
                    series: f.series.clone(),
                    cell: Some(f.cell),
                });
            } else {
                let merged = slots[s as usize].series.sum_linear(&f.series);
                slots[s as usize].series = merged;
            }
        }
        for st in &self.stages {
            let idx = slots.len() as u32;
            slots.push(Slot {
                kind: SlotKind::Stage,
                series: st.series.clone(),
                cell: None,
            });
            for &c in &st.cells {
                special[c] = idx;
            }
        }
        ForcingTable {
            slots,
            rain,
            special,
        }
    }

    /// The cells of the free-outflow edges with their discharge laws, sorted by cell; blocked
    /// cells and stage cells (whose level is imposed) are left out. A corner on two edges of
    /// one law adds their coefficients (two outer faces); on two of different laws it keeps
    /// the first edge's.
    pub fn outflow_cells(&self) -> Vec<OutflowCell> {
        let (nx, ny) = (self.grid.nx, self.grid.ny);
        let mut stage = vec![false; self.grid.cells()];
        for s in &self.stages {
            for &c in &s.cells {
                stage[c] = true;
            }
        }
        let mut out: Vec<OutflowCell> = Vec::new();
        for o in &self.outflows {
            for (k, inner) in o.edge.cells(nx, ny) {
                if self.blocked[k] || stage[k] {
                    continue;
                }
                let (coef, exponent) = match o.kind {
                    OutflowKind::Critical => (self.params.g.sqrt(), 1.5),
                    OutflowKind::Normal { slope } => {
                        let s = slope.unwrap_or_else(|| {
                            if self.blocked[inner] {
                                0.0
                            } else {
                                (self.z[k] - self.z[inner]).abs() / self.grid.dx
                            }
                        });
                        let n = self.manning[k];
                        // Frictionless normal flow has no depth: take critical flow instead.
                        if n > 0.0 {
                            (s.sqrt() / n, 5.0 / 3.0)
                        } else {
                            (self.params.g.sqrt(), 1.5)
                        }
                    }
                };
                match out.iter_mut().find(|c| c.cell == k) {
                    Some(c) if c.exponent == exponent => c.coef += coef,
                    Some(_) => {}
                    None => out.push(OutflowCell {
                        cell: k,
                        coef,
                        exponent,
                    }),
                }
            }
        }
        out.sort_by_key(|c| c.cell);
        out
    }

    /// The initial depth with stage cells set to their level at t = 0.
    pub fn initial_depth(&self) -> Vec<f64> {
        let mut h: Vec<f64> = (0..self.grid.cells())
            .map(|k| if self.blocked[k] { 0.0 } else { self.h0[k] })
            .collect();
        for s in &self.stages {
            let level = s.series.value(0.0);
            for &c in &s.cells {
                h[c] = (level - self.z[c]).max(0.0);
            }
        }
        h
    }

    /// Rain volume (m³) falling on open cells over [t0, t1], from the series alone.
    pub fn rain_volume(&self, t0: f64, t1: f64) -> f64 {
        let mut cells = vec![0usize; self.rain.len()];
        for k in 0..self.grid.cells() {
            if !self.blocked[k] {
                cells[self.rain_zone[k] as usize] += 1;
            }
        }
        self.rain
            .iter()
            .zip(&cells)
            .map(|(s, &c)| s.integral(t0, t1) * c as f64 * self.grid.cell_area())
            .sum()
    }

    /// Inflow volume (m³) over [t0, t1], from the series alone.
    pub fn inflow_volume(&self, t0: f64, t1: f64) -> f64 {
        self.inflows.iter().map(|f| f.series.integral(t0, t1)).sum()
    }
}
