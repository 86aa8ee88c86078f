//! The one interface both flood solvers implement, and what they report.

use super::model::GridSpec;
use crate::error::{Result, ScenarioError};
use serde::Serialize;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

/// Water depth and face discharges at the solver's current time.
#[derive(Clone, Debug)]
pub struct FloodState {
    /// Model time (s).
    pub time: f64,
    /// Depth per cell (m).
    pub h: Vec<f64>,
    /// Discharge per unit width (m²/s) across each cell's east face, positive eastwards.
    pub qx: Vec<f64>,
    /// Discharge per unit width (m²/s) across each cell's south face, positive southwards.
    pub qy: Vec<f64>,
}

impl FloodState {
    /// Cell-centre velocity (east, north) in m/s: the mean of the two face discharges over the
    /// depth; zero where the depth is at or below `wet_depth`. North-positive, while rows run
    /// from the north and `qy` is south-positive (see the conventions in [`crate::flood`]).
    pub fn velocity(&self, grid: &GridSpec, wet_depth: f64) -> (Vec<f64>, Vec<f64>) {
        let (nx, ny) = (grid.nx, grid.ny);
        let mut vx = vec![0.0; nx * ny];
        let mut vy = vec![0.0; nx * ny];
        for j in 0..ny {
            for i in 0..nx {
                let k = j * nx + i;
                let h = self.h[k];
                if h <= wet_depth {
                    continue;
                }
                let qw = if i > 0 { self.qx[k - 1] } else { 0.0 };
                let qn = if j > 0 { self.qy[k - nx] } else { 0.0 };
                vx[k] = 0.5 * (qw + self.qx[k]) / h;
                vy[k] = -0.5 * (qn + self.qy[k]) / h;
            }
        }
        (vx, vy)
    }

    /// Area (m²) with depth above `depth`.
    pub fn area_above(&self, grid: &GridSpec, depth: f64) -> f64 {
        self.h.iter().filter(|&&h| h > depth).count() as f64 * grid.cell_area()
    }

    /// Water volume (m³).
    pub fn volume(&self, grid: &GridSpec) -> f64 {
        self.h.iter().sum::<f64>() * grid.cell_area()
    }
}

/// Per-cell summaries over the run so far.
#[derive(Clone, Debug)]
pub struct FloodSummary {
    /// Largest depth (m).
    pub max_depth: Vec<f64>,
    /// Time (s) the depth first exceeded the wet depth; NaN if never.
    pub first_wet: Vec<f64>,
    /// Time (s) spent above the wet depth.
    pub wet_duration: Vec<f64>,
    /// Time (s) spent above the hazard depth (0.3 m by default).
    pub hazard_duration: Vec<f64>,
    /// Largest speed (m/s) while wet.
    pub max_speed: Vec<f64>,
    /// Largest hazard rating d·(v + 0.5) (m²/s), debris factor not included.
    pub max_hazard: Vec<f64>,
}

/// The water budget of a run (m³).
#[derive(Clone, Debug, Default, Serialize)]
pub struct MassBalance {
    /// Volume at the start.
    pub initial_m3: f64,
    /// Volume now.
    pub final_m3: f64,
    /// Rain fallen on open cells.
    pub rain_m3: f64,
    /// Point inflows.
    pub inflow_m3: f64,
    /// Net volume the stage boundaries and free-outflow edges put in (negative: they took
    /// water out).
    pub boundary_net_m3: f64,
    /// Volume added by clamping round-off negative depths to zero.
    pub clamped_m3: f64,
    /// final − initial − rain − inflow − boundary − clamped.
    pub error_m3: f64,
    /// |error| over the largest of the volumes involved.
    pub relative_error: f64,
}

impl MassBalance {
    /// Fill in the error terms from the others.
    pub fn close(mut self) -> MassBalance {
        self.error_m3 = self.final_m3
            - self.initial_m3
            - self.rain_m3
            - self.inflow_m3
            - self.boundary_net_m3
            - self.clamped_m3;
        let scale = [
            self.initial_m3,
            self.final_m3,
            self.rain_m3,
            self.inflow_m3,
            self.boundary_net_m3.abs(),
        ]
        .into_iter()
        .fold(f64::MIN_POSITIVE, f64::max);
        self.relative_error = self.error_m3.abs() / scale;
        self
    }
}

/// [`ScenarioError::Cancelled`] when `cancel` is set: what solvers call between their
/// groups of steps.
pub fn check_cancel(cancel: Option<&Arc<AtomicBool>>) -> Result<()> {
    if cancel.is_some_and(|c| c.load(Ordering::Relaxed)) {
        Err(ScenarioError::Cancelled)
    } else {
        Ok(())
    }
}

/// A flood solver: the CPU reference ([`super::cpu::CpuSolver`]) or the wgpu one in the
/// `renderer` crate. Both advance the same [`super::FloodModel`] with the same scheme.
pub trait FloodSolver {
    /// A one-line description (which solver, which device).
    fn describe(&self) -> String;
    /// Model time reached (s).
    fn time(&self) -> f64;
    /// Time steps taken so far.
    fn steps(&self) -> u64;
    /// Advance to `t_end` (s), shortening the last step to land on it exactly; stops early
    /// with [`ScenarioError::Cancelled`] once the flag of [`FloodSolver::set_cancel`] is set.
    fn advance_to(&mut self, t_end: f64) -> Result<()>;
    /// A flag the solver watches inside [`FloodSolver::advance_to`]: between groups of steps
    /// (CPU) or dispatch batches (GPU), so a cancelled run stops within a fraction of a second
    /// however long the call. Stopping leaves the state at a step boundary; a flag never set
    /// changes nothing in the results.
    fn set_cancel(&mut self, cancel: Arc<AtomicBool>);
    /// Depth and discharges now.
    fn state(&mut self) -> Result<FloodState>;
    /// Per-cell summaries so far.
    fn summary(&mut self) -> Result<FloodSummary>;
    /// The water budget so far.
    fn mass_balance(&mut self) -> Result<MassBalance>;
}
