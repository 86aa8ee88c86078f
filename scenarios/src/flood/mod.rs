//! Flood what-if engine: the local inertial shallow-water scheme (Bates et al. 2010) with the
//! de Almeida et al. (2012) θ weighting on a square grid made from the twin's DEM.
//!
//! * [`model`]: the prepared grid and forcing ([`FloodModel`]) that every solver takes;
//! * [`solver`]: the [`FloodSolver`] trait and what solvers report;
//! * [`cpu`]: the CPU reference solver (f64, rayon); the GPU one lives in `renderer::flood`;
//! * [`cases`]: verification and benchmark cases (lake at rest, heavy rain, EA tests 2 and 4)
//!   shared by both solvers' tests and the benchmark scripts;
//! * [`series`]: hyetographs, hydrographs and stage records;
//! * [`scenario`]: the scenario file (TOML); [`prepare`]: twin + scenario → model;
//! * [`run`]: [`run_scenario`] writes GeoTIFF rasters ([`geotiff`]), per-feature tables
//!   ([`impacts`]) and a JSON summary.
//!
//! # Conventions (the one place they are stated)
//!
//! * **Grid**: north up. Cell (i, j) is column i counted from the west and row j counted
//!   **from the north** (row 0 is the northern edge, as in a GeoTIFF); its index in every
//!   per-cell array is `j * nx + i` ([`GridSpec`]).
//! * **Face discharges** ([`FloodState`]): `qx[k]` crosses cell k's east face, positive
//!   eastwards; `qy[k]` crosses its south face, positive **southwards** (towards larger j).
//! * **Velocities** ([`FloodState::velocity`], the rasters and the summaries): (east, north),
//!   positive eastwards and **northwards**, i.e. the v component is −qy/h: map-style, not
//!   row-style.
//! * **Rain zones**: every cell reads exactly one hyetograph. `[[rain.zone]]` polygons
//!   **replace** the base `[rain]` series (and the zones before them) on the cells they cover;
//!   they do not add to it. To add rain on top of the base, give the zone the sum.
//! * **Manning's n** is within [0, 1); 0 is frictionless.
//!
//! Running a model (here a flat grid with a mound of water; [`run_scenario`] does the same from
//! a scenario file and a twin, and writes the results):
//!
//! ```
//! use scenarios::flood::{cpu_solver, FloodModel};
//! // 40 × 40 cells of 5 m, flat, Manning n = 0.03; a 1 m deep square of water in the middle.
//! let mut model = FloodModel::flat(40, 40, 5.0, 0.0, 0.03);
//! for r in 18..22 {
//!     for c in 18..22 {
//!         model.h0[r * 40 + c] = 1.0;
//!     }
//! }
//! let mut solver = cpu_solver(&model)?;
//! solver.advance_to(60.0)?;
//! let state = solver.state()?;
//! assert!(state.h[20 * 40 + 20] < 1.0, "the mound spreads");
//! assert!(state.h[20 * 40 + 26] > 0.0, "and wets its neighbours");
//! assert!(solver.mass_balance()?.relative_error.abs() < 1e-6, "keeping its water");
//! # Ok::<(), scenarios::ScenarioError>(())
//! ```

pub mod cases;
pub mod cpu;
pub mod geotiff;
pub mod impacts;
pub mod model;
pub mod prepare;
pub mod raster;
pub mod run;
pub mod scenario;
pub mod series;
pub mod solver;

pub use cpu::CpuSolver;
pub use model::{Edge, FloodModel, GridSpec, Inflow, Outflow, OutflowKind, SolverParams, Stage};
pub use run::{
    cpu_solver, run_loaded, run_loaded_with, run_model, run_scenario, FloodReport, RunSpec,
    SolverFactory,
};
pub use scenario::LoadedScenario;
pub use series::{Interp, TimeSeries};
pub use solver::{FloodSolver, FloodState, FloodSummary, MassBalance};
