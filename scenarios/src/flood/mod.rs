//! Flood what-if engine: the local inertial shallow-water scheme (Bates et al. 2010) with the
//! de Almeida et al. (2012) θ weighting on a square grid made from the twin's DEM.
//!
//! * [`model`]: the prepared grid and forcing ([`FloodModel`]) that every solver takes;
//! * [`solver`]: the [`FloodSolver`] trait and what solvers report;
//! * [`cpu`]: the CPU reference solver (f64, rayon); the GPU one lives in `renderer::flood`;
//! * [`series`]: hyetographs, hydrographs and stage records.

pub mod cpu;
pub mod geotiff;
pub mod model;
pub mod raster;
pub mod series;
pub mod solver;

pub use cpu::CpuSolver;
pub use model::{FloodModel, GridSpec, Inflow, SolverParams, Stage};
pub use series::{Interp, TimeSeries};
pub use solver::{FloodSolver, FloodState, FloodSummary, MassBalance};
