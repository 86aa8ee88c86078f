//! Flood what-if engine: the local inertial shallow-water scheme (Bates et al. 2010) with the
//! de Almeida et al. (2012) θ weighting on a square grid made from the twin's DEM.
//!
//! * [`model`]: the prepared grid and forcing ([`FloodModel`]) that every solver takes;
//! * [`solver`]: the [`FloodSolver`] trait and what solvers report;
//! * [`cpu`]: the CPU reference solver (f64, rayon); the GPU one lives in `renderer::flood`;
//! * [`series`]: hyetographs, hydrographs and stage records;
//! * [`scenario`]: the scenario file (TOML); [`prepare`]: twin + scenario → model;
//! * [`run`]: [`run_scenario`] writes GeoTIFF rasters ([`geotiff`]), per-feature tables
//!   ([`impacts`]) and a JSON summary.

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
pub use model::{FloodModel, GridSpec, Inflow, SolverParams, Stage};
pub use run::{
    cpu_solver, run_loaded, run_loaded_with, run_model, run_scenario, FloodReport, RunSpec,
    SolverFactory,
};
pub use scenario::LoadedScenario;
pub use series::{Interp, TimeSeries};
pub use solver::{FloodSolver, FloodState, FloodSummary, MassBalance};
