//! The fuzz loop: pick an input from the corpus, mutate it, run the target under
//! `catch_unwind`, and keep what it learns: inputs the parser accepted join the corpus (so the
//! mutations stay near valid files), and each panic is a crash, shrunk and saved once per
//! place it panicked at.

use crate::mutate::{mutate, Rng};
use crate::targets::FuzzTarget;
use crate::FuzzError;
use std::cell::RefCell;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::sync::Once;
use std::time::{Duration, Instant};

/// Largest input the engine makes, bytes.
pub const MAX_INPUT: usize = 256 * 1024;
/// The file (under `<regressions>/<target>/`) holding the input being run, so that an input
/// that aborts the process is found by the next run.
pub const INFLIGHT: &str = ".inflight";
/// Most inputs kept in the corpus of one run.
pub const MAX_CORPUS: usize = 256;

/// How long a run goes on: whichever comes first.
#[derive(Clone, Copy, Debug)]
pub struct Budget {
    /// Wall-clock limit.
    pub time: Duration,
    /// Most executions (mutated inputs run, not counting seeds and shrinking).
    pub execs: u64,
}

/// One crash: where it panicked, the message, and the (shrunk) input.
#[derive(Clone, Debug)]
pub struct Crash {
    /// `file:line:column` of the panic.
    pub location: String,
    /// The panic message.
    pub message: String,
    /// The smallest input found that panics at `location`.
    pub input: Vec<u8>,
    /// Where it was saved, when saved.
    pub saved: Option<PathBuf>,
}

/// What a run did.
#[derive(Clone, Debug, Default)]
pub struct Stats {
    /// Inputs run (seeds and mutations).
    pub execs: u64,
    /// Inputs the parser accepted.
    pub accepted: u64,
    /// Inputs it refused with an error.
    pub refused: u64,
    /// Inputs that panicked (every one, not only distinct places).
    pub panics: u64,
    /// Distinct crashes, one per panic location.
    pub crashes: Vec<Crash>,
    /// The slowest execution, milliseconds.
    pub slowest_ms: u128,
    /// Seconds the run took.
    pub seconds: f64,
}

thread_local! {
    static IN_TARGET: RefCell<bool> = const { RefCell::new(false) };
    static LAST_PANIC: RefCell<Option<(String, String)>> = const { RefCell::new(None) };
}

/// Install (once) a panic hook that, on a thread running a target, records the panic's place
/// and message silently; panics elsewhere go to the previous hook.
pub fn install_panic_hook() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            let location = info
                .location()
                .map(|l| format!("{}:{}:{}", l.file(), l.line(), l.column()))
                .unwrap_or_else(|| "unknown".into());
            let message = payload_text(info.payload());
            let ours = IN_TARGET.with(|f| *f.borrow());
            // A worker thread (rayon) of a target records nothing here; its panic is re-raised
            // on the target's thread with the same message.
            if ours {
                LAST_PANIC.with(|p| *p.borrow_mut() = Some((location, message)));
            } else if !std::thread::current()
                .name()
                .is_some_and(|n| n.starts_with("rayon") || n.contains("fuzz-worker"))
            {
                previous(info);
            }
        }));
    });
}

fn payload_text(p: &(dyn std::any::Any + Send)) -> String {
    p.downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| p.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "(a panic without a message)".into())
}

/// The outcome of one input.
#[derive(Debug)]
pub enum Outcome {
    /// Accepted.
    Ok,
    /// Refused with an error.
    Err(String),
    /// Panicked at a place with a message.
    Panic {
        /// `file:line:column`.
        location: String,
        /// The message.
        message: String,
    },
}

/// Run a target on one input, catching a panic.
pub fn run_one(target: &dyn FuzzTarget, input: &[u8]) -> Outcome {
    install_panic_hook();
    IN_TARGET.with(|f| *f.borrow_mut() = true);
    LAST_PANIC.with(|p| *p.borrow_mut() = None);
    let got = catch_unwind(AssertUnwindSafe(|| target.run(input)));
    IN_TARGET.with(|f| *f.borrow_mut() = false);
    match got {
        Ok(Ok(())) => Outcome::Ok,
        Ok(Err(e)) => Outcome::Err(e),
        Err(payload) => {
            let (location, message) = LAST_PANIC
                .with(|p| p.borrow_mut().take())
                .unwrap_or_else(|| ("unknown".into(), payload_text(&*payload)));
            Outcome::Panic { location, message }
        }
    }
}

/// Shrink a crashing input: delete chunks (halves down to single bytes) while it still panics
/// at the same place; at most `tries` runs.
pub fn shrink(target: &dyn FuzzTarget, input: &[u8], location: &str, tries: usize) -> Vec<u8> {
    let mut best = input.to_vec();
    let mut left = tries;
    let mut chunk = best.len() / 2;
    while chunk >= 1 && left > 0 {
        let mut i = 0;
        while i < best.len() && left > 0 {
            let end = (i + chunk).min(best.len());
            let mut cand = best.clone();
            cand.drain(i..end);
            left -= 1;
            match run_one(target, &cand) {
                Outcome::Panic { location: l, .. } if l == location => best = cand,
                _ => i += chunk,
            }
        }
        chunk /= 2;
    }
    best
}

/// The file a crashing input is saved as: `<dir>/<target>/<first 16 hex digits of BLAKE3>.bin`.
pub fn regression_path(dir: &Path, target: &str, input: &[u8]) -> PathBuf {
    let h = blake3::hash(input).to_hex();
    dir.join(target).join(format!("{}.bin", &h.as_str()[..16]))
}

/// Fuzz one target within a budget from a seed. Each new crash is shrunk and, when `save` is
/// given, written under `save/<target>/`.
pub fn fuzz(
    target: &dyn FuzzTarget,
    budget: Budget,
    seed: u64,
    save: Option<&Path>,
) -> Result<Stats, FuzzError> {
    let started = Instant::now();
    let mut rng = Rng::new(seed ^ blake3::hash(target.name().as_bytes()).as_bytes()[0] as u64);
    let mut stats = Stats::default();
    let mut corpus: Vec<Vec<u8>> = target.seeds();
    if corpus.is_empty() {
        corpus.push(Vec::new());
    }
    let record =
        |stats: &mut Stats, input: &[u8], outcome: Outcome, ms: u128| -> Result<bool, FuzzError> {
            stats.execs += 1;
            stats.slowest_ms = stats.slowest_ms.max(ms);
            match outcome {
                Outcome::Ok => {
                    stats.accepted += 1;
                    return Ok(true);
                }
                Outcome::Err(_) => stats.refused += 1,
                Outcome::Panic { location, message } => {
                    stats.panics += 1;
                    if !stats.crashes.iter().any(|c| c.location == location) {
                        let small = shrink(target, input, &location, 400);
                        let saved = match save {
                            Some(dir) => {
                                let p = regression_path(dir, target.name(), &small);
                                if let Some(parent) = p.parent() {
                                    std::fs::create_dir_all(parent).map_err(|e| FuzzError::Io {
                                        path: parent.to_path_buf(),
                                        error: e,
                                    })?;
                                }
                                std::fs::write(&p, &small).map_err(|e| FuzzError::Io {
                                    path: p.clone(),
                                    error: e,
                                })?;
                                Some(p)
                            }
                            None => None,
                        };
                        stats.crashes.push(Crash {
                            location,
                            message,
                            input: small,
                            saved,
                        });
                    }
                }
            }
            Ok(false)
        };
    // An input left in flight by a run that died (an abort such as a failed allocation cannot
    // be caught) is kept as a regression and reported.
    let inflight = save.map(|d| d.join(target.name()).join(INFLIGHT));
    if let Some(p) = &inflight {
        if let Ok(input) = std::fs::read(p) {
            let keep = regression_path(save.unwrap_or(Path::new(".")), target.name(), &input);
            std::fs::rename(p, &keep).map_err(|e| FuzzError::Io {
                path: keep.clone(),
                error: e,
            })?;
            stats.crashes.push(Crash {
                location: "abort (the previous run died on this input)".into(),
                message: "the process aborted (e.g. a failed allocation)".into(),
                input,
                saved: Some(keep),
            });
        }
        if let Some(parent) = p.parent() {
            std::fs::create_dir_all(parent).map_err(|e| FuzzError::Io {
                path: parent.to_path_buf(),
                error: e,
            })?;
        }
    }
    let run_guarded = |input: &[u8]| -> Result<Outcome, FuzzError> {
        if let Some(p) = &inflight {
            std::fs::write(p, input).map_err(|e| FuzzError::Io {
                path: p.clone(),
                error: e,
            })?;
        }
        Ok(run_one(target, input))
    };
    // The seeds themselves first.
    for s in corpus.clone() {
        let t = Instant::now();
        let o = run_guarded(&s)?;
        record(&mut stats, &s, o, t.elapsed().as_millis())?;
    }
    let seeds = stats.execs;
    while stats.execs - seeds < budget.execs && started.elapsed() < budget.time {
        let base = &corpus[rng.below(corpus.len())];
        let other = &corpus[rng.below(corpus.len())];
        let mut input = base.clone();
        mutate(&mut rng, &mut input, other, MAX_INPUT);
        let t = Instant::now();
        let o = run_guarded(&input)?;
        let accepted = record(&mut stats, &input, o, t.elapsed().as_millis())?;
        if accepted && input.len() <= MAX_INPUT {
            if corpus.len() < MAX_CORPUS {
                corpus.push(input);
            } else {
                let i = rng.below(corpus.len());
                corpus[i] = input;
            }
        }
    }
    if let Some(p) = &inflight {
        let _ = std::fs::remove_file(p);
    }
    stats.seconds = started.elapsed().as_secs_f64();
    Ok(stats)
}
