//! Running a flood scenario: prepare the model, advance a solver to each output time, write the
//! rasters, the per-feature tables and a JSON summary with the water budget.

use super::cpu::CpuSolver;
use super::impacts::{impacts, Impacts};
use super::model::{FloodModel, GridSpec};
use super::prepare::prepare;
use super::scenario::LoadedScenario;
use super::solver::{FloodSolver, MassBalance};
use crate::error::{Result, ScenarioError};
use crate::output::{FeatureTable, Raster, RunDir};
use serde::Serialize;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Instant;
use twin_core::Progress;
use twin_core::{Twin, TwinDir};

/// Makes the solver for a prepared model (the CPU one: [`cpu_solver`]; the GPU one lives in
/// `renderer::flood`).
pub type SolverFactory<'a> = dyn Fn(&FloodModel) -> Result<Box<dyn FloodSolver>> + 'a;

/// The CPU reference solver as a [`SolverFactory`].
pub fn cpu_solver(model: &FloodModel) -> Result<Box<dyn FloodSolver>> {
    Ok(Box::new(CpuSolver::new(model)?))
}

/// What the run looked like at one output time.
#[derive(Clone, Debug, Serialize)]
pub struct Frame {
    /// Model time (s).
    pub time_s: f64,
    /// Water volume (m³).
    pub volume_m3: f64,
    /// Area deeper than the wet depth (m²).
    pub flooded_area_m2: f64,
    /// Area deeper than the hazard depth (m²).
    pub hazard_area_m2: f64,
    /// Largest depth (m).
    pub max_depth_m: f64,
}

/// Everything a run reports (also written as `summary.json`).
#[derive(Clone, Debug, Serialize)]
pub struct FloodReport {
    /// Scenario name.
    pub name: String,
    /// Which solver ran, on which device.
    pub solver: String,
    /// The flood grid.
    pub grid: GridSpec,
    /// Simulated time (s).
    pub duration_s: f64,
    /// Time steps.
    pub steps: u64,
    /// Wall-clock time of the solver (s), outputs excluded.
    pub solver_wall_s: f64,
    /// Cell updates per second (cells × steps / solver wall time).
    pub cell_updates_per_s: f64,
    /// Water budget.
    pub mass_balance: MassBalance,
    /// One entry per output time (t = 0 included).
    pub frames: Vec<Frame>,
    /// Area that was ever wetter than the wet depth (m²).
    pub max_flooded_area_m2: f64,
    /// Buildings whose surroundings got wetter than the wet depth.
    pub buildings_wet: usize,
    /// Buildings whose surroundings got deeper than the hazard depth.
    pub buildings_above_hazard_depth: usize,
    /// Heritage sites wetter than the wet depth.
    pub heritage_wet: usize,
    /// Road links with some length deeper than the hazard depth.
    pub roads_impassable: usize,
    /// Where the files went.
    pub output_dir: Option<PathBuf>,
    /// Files written, relative to the output folder.
    pub files: Vec<String>,
    /// Notes from preparing the model.
    pub notes: Vec<String>,
}

/// How to run a prepared model.
pub struct RunSpec<'a> {
    /// Name for reports.
    pub name: String,
    /// Simulated time (s).
    pub duration_s: f64,
    /// Time between outputs (s).
    pub interval_s: f64,
    /// Write depth/velocity rasters at every output time.
    pub snapshots: bool,
    /// Where to write files (nothing is written when None).
    pub output_dir: Option<&'a Path>,
    /// The twin, for the per-feature tables.
    pub twin: Option<&'a Twin>,
    /// Notes to carry into the report.
    pub notes: Vec<String>,
    /// Stop with [`ScenarioError::Cancelled`] soon after this turns true (it is checked
    /// between the solver's batches, about a hundred per run).
    pub cancel: Option<&'a AtomicBool>,
}

fn f32s(v: &[f64], blocked: &[bool]) -> Vec<f32> {
    v.iter()
        .zip(blocked)
        .map(|(&x, &b)| if b { f32::NAN } else { x as f32 })
        .collect()
}

/// Advance `solver` over `model` to the end, writing outputs as it goes.
pub fn run_model(
    model: &FloodModel,
    solver: &mut dyn FloodSolver,
    spec: &RunSpec,
    progress: &dyn Progress,
) -> Result<FloodReport> {
    let g = &model.grid;
    let p = &model.params;
    let mut files = Vec::new();
    let out = spec.output_dir.map(RunDir::new);
    let write = |name: &str, bands: &[&[f32]], files: &mut Vec<String>| -> Result<()> {
        if let Some(out) = &out {
            out.write_raster(name, g, bands)?;
            files.push(name.to_string());
        }
        Ok(())
    };
    let mut frames = Vec::new();
    let mut wall = 0.0;
    let mut frame = |solver: &mut dyn FloodSolver, files: &mut Vec<String>| -> Result<()> {
        let st = solver.state()?;
        frames.push(Frame {
            time_s: st.time,
            volume_m3: st.volume(g),
            flooded_area_m2: st.area_above(g, p.wet_depth),
            hazard_area_m2: st.area_above(g, p.hazard_depth),
            max_depth_m: st.h.iter().copied().fold(0.0, f64::max),
        });
        if spec.snapshots && spec.output_dir.is_some() {
            write(
                &RunDir::depth_name(st.time),
                &[&f32s(&st.h, &model.blocked)],
                files,
            )?;
            let (vx, vy) = st.velocity(g, p.wet_depth);
            write(
                &RunDir::velocity_name(st.time),
                &[&f32s(&vx, &model.blocked), &f32s(&vy, &model.blocked)],
                files,
            )?;
        }
        Ok(())
    };
    frame(solver, &mut files)?;
    let total = spec.duration_s.ceil() as u64;
    progress.start("flood", total);
    let mut reported = 0u64;
    let chunk = (spec.duration_s / 100.0).max(spec.interval_s / 20.0);
    let mut k = 1u64;
    let mut t = 0.0;
    while t < spec.duration_s {
        let target = (k as f64 * spec.interval_s).min(spec.duration_s);
        let subs = ((target - t) / chunk).ceil().max(1.0) as u64;
        let t0 = t;
        for s in 1..=subs {
            let to = if s == subs {
                target
            } else {
                t0 + (target - t0) * s as f64 / subs as f64
            };
            if spec.cancel.is_some_and(|c| c.load(Ordering::Relaxed)) {
                progress.finish();
                return Err(ScenarioError::Cancelled);
            }
            let start = Instant::now();
            solver.advance_to(to)?;
            wall += start.elapsed().as_secs_f64();
            let now = (to.floor() as u64).min(total);
            progress.inc(now.saturating_sub(reported));
            reported = reported.max(now);
        }
        t = target;
        k += 1;
        frame(solver, &mut files)?;
    }
    progress.finish();
    let mass = solver.mass_balance()?;
    let sum = solver.summary()?;
    let b = &model.blocked;
    for (raster, values) in [
        (Raster::MaxDepth, &sum.max_depth),
        (Raster::FirstWet, &sum.first_wet),
        (Raster::WetDuration, &sum.wet_duration),
        (
            Raster::HazardDuration {
                depth_m: p.hazard_depth,
            },
            &sum.hazard_duration,
        ),
        (Raster::MaxSpeed, &sum.max_speed),
        (Raster::MaxHazard, &sum.max_hazard),
        (Raster::Ground, &model.z),
    ] {
        write(&raster.file_name(), &[&f32s(values, b)], &mut files)?;
    }
    let imp = match spec.twin {
        Some(tw) => impacts(tw, model, &sum),
        None => Impacts::default(),
    };
    if let (Some(out), Some(_)) = (&out, spec.twin) {
        out.write_features(FeatureTable::Buildings, &imp.buildings)?;
        out.write_features(FeatureTable::Heritage, &imp.heritage)?;
        out.write_roads(&imp.roads)?;
        files.extend([
            FeatureTable::Buildings.file_name().into(),
            FeatureTable::Heritage.file_name().into(),
            crate::output::ROADS.into(),
            crate::output::ROAD_DEPTHS.into(),
        ]);
    }
    let area = g.cell_area();
    let report = FloodReport {
        name: spec.name.clone(),
        solver: solver.describe(),
        grid: g.clone(),
        duration_s: spec.duration_s,
        steps: solver.steps(),
        solver_wall_s: wall,
        cell_updates_per_s: if wall > 0.0 {
            g.cells() as f64 * solver.steps() as f64 / wall
        } else {
            0.0
        },
        mass_balance: mass,
        frames,
        max_flooded_area_m2: sum.max_depth.iter().filter(|&&d| d > p.wet_depth).count() as f64
            * area,
        buildings_wet: imp
            .buildings
            .iter()
            .filter(|f| f.max_depth_m > p.wet_depth)
            .count(),
        buildings_above_hazard_depth: imp
            .buildings
            .iter()
            .filter(|f| f.max_depth_m > p.hazard_depth)
            .count(),
        heritage_wet: imp
            .heritage
            .iter()
            .filter(|f| f.max_depth_m > p.wet_depth)
            .count(),
        roads_impassable: imp
            .roads
            .iter()
            .filter(|r| r.flooded_length_m > 0.0)
            .count(),
        output_dir: spec.output_dir.map(Path::to_path_buf),
        files: {
            let mut f = files;
            f.push(crate::output::SUMMARY.into());
            f
        },
        notes: {
            // Warnings on the parameters go with the notes the CLI prints, not only to
            // `tracing` (invisible without a subscriber).
            let mut n = spec.notes.clone();
            n.extend(p.warnings().into_iter().map(|w| format!("warning: {w}")));
            n
        },
    };
    if let Some(out) = &out {
        out.write_summary(&report, false)?;
    }
    Ok(report)
}

/// Run a scenario file: load its twin (`twin_dir`, else the file's `twin`), prepare the model,
/// run the solver `make` builds and write the results to `output_dir` (else the file's
/// `output_dir`, else `<twin>/results/<file stem>`). This is what `twin flood` and the server's
/// jobs call.
pub fn run_scenario(
    scenario: &Path,
    twin_dir: Option<&Path>,
    output_dir: Option<&Path>,
    make: &SolverFactory,
    progress: &dyn Progress,
) -> Result<FloodReport> {
    let mut sc = LoadedScenario::load(scenario)?;
    let dir = match (twin_dir, sc.twin_dir()) {
        (Some(d), _) => d.to_path_buf(),
        (None, Some(d)) => d,
        (None, None) => {
            return Err(sc.error_field(
                "twin",
                "no twin given, neither in the file nor by the caller",
            ))
        }
    };
    sc.allow(&dir);
    let twin = TwinDir::open(&dir)?.load()?;
    let out = output_dir.map_or_else(|| sc.output_dir(&dir), Path::to_path_buf);
    run_loaded(&sc, &twin, &out, make, progress)
}

/// [`run_scenario`] on a scenario and a twin already in memory, writing to `output_dir`.
pub fn run_loaded(
    sc: &LoadedScenario,
    twin: &Twin,
    output_dir: &Path,
    make: &SolverFactory,
    progress: &dyn Progress,
) -> Result<FloodReport> {
    run_loaded_with(sc, twin, output_dir, make, progress, None)
}

/// [`run_loaded`] with a cancel flag: the run stops with [`ScenarioError::Cancelled`] soon
/// after `cancel` turns true.
pub fn run_loaded_with(
    sc: &LoadedScenario,
    twin: &Twin,
    output_dir: &Path,
    make: &SolverFactory,
    progress: &dyn Progress,
    cancel: Option<&Arc<AtomicBool>>,
) -> Result<FloodReport> {
    let prep = prepare(sc, twin)?;
    std::fs::create_dir_all(output_dir).map_err(|e| ScenarioError::io(output_dir, e))?;
    // The inputs travel with the results so that the run can be repeated.
    let copy = output_dir.join("scenario.toml");
    std::fs::write(&copy, sc.text()).map_err(|e| ScenarioError::io(&copy, e))?;
    let mut solver = make(&prep.model)?;
    if let Some(c) = cancel {
        solver.set_cancel(c.clone());
    }
    tracing::info!(solver = %solver.describe(), cells = prep.model.grid.cells(), "flood run starts");
    let spec = RunSpec {
        name: sc.name(),
        duration_s: *sc.scenario.duration_s.get_ref(),
        interval_s: *sc.scenario.output_interval_s.get_ref(),
        snapshots: sc.scenario.snapshots,
        output_dir: Some(output_dir),
        twin: Some(twin),
        notes: prep.notes.clone(),
        cancel: cancel.map(|c| c.as_ref()),
    };
    run_model(&prep.model, solver.as_mut(), &spec, progress)
}
