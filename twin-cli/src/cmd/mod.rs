//! The `twin` subcommands, one file each, and what they share: the progress bar behind
//! twin-core's [`Progress`] trait, number lists from the command line, the flood solver choice.

pub mod basemap;
pub mod flood;
pub mod heritage;
pub mod import;
pub mod info;
pub mod query;
pub mod render;
pub mod scenario;
pub mod serve;
pub mod tiles;
pub mod token;
pub mod traffic;
pub mod worker;

use anyhow::{bail, Context, Result};
use indicatif::{HumanDuration, ProgressBar, ProgressDrawTarget, ProgressStyle};
use scenarios::jobs::SolverChoice;
use std::sync::Arc;
use twin_core::Progress;

/// The flood solver of `--gpu` (wgpu: a GPU, or Mesa's software rasteriser) or the CPU
/// reference solver.
pub fn flood_solver(gpu: bool) -> SolverChoice {
    if gpu {
        SolverChoice::new("gpu", Arc::new(renderer::flood::gpu_solver))
    } else {
        SolverChoice::cpu()
    }
}

/// An indicatif bar behind twin-core's progress trait, one phase at a time. A finished phase
/// leaves one plain line ("<phase>: done in <elapsed>") ending in a newline, so the next
/// output starts on a line of its own; the phase name is never cut.
pub struct Bar {
    pb: ProgressBar,
    /// Where a finished phase's line goes (standard error; the tests' screen).
    out: Writer,
}

/// Writes one line with its newline.
type Writer = Box<dyn Fn(&str) + Send + Sync>;

fn to_stderr(line: &str) {
    eprintln!("{line}");
}

impl Progress for Bar {
    fn start(&self, phase: &str, total: u64) {
        // Phase and length first: each call may draw, and a bar drawn before them showed no
        // phase.
        self.pb.set_message(phase.to_string());
        self.pb.set_length(total);
        self.pb.reset();
    }
    fn inc(&self, n: u64) {
        self.pb.inc(n)
    }
    fn finish(&self) {
        let n = self.pb.length().unwrap_or(0);
        self.pb.set_position(n);
        end(
            &self.pb,
            &format!(
                "{}: done in {}",
                self.pb.message(),
                HumanDuration(self.pb.elapsed())
            ),
            &self.out,
        );
    }
}

impl Drop for Bar {
    /// A phase stopped by an error: the bar is cleared, so the error starts on its own line.
    fn drop(&mut self) {
        if !self.pb.is_finished() {
            self.pb.finish_and_clear();
        }
    }
}

/// The bar of twin-core's [`Progress`] on standard error (hidden when it is not a terminal).
pub fn bar() -> Bar {
    bar_to(ProgressDrawTarget::stderr(), Box::new(to_stderr))
}

fn bar_to(target: ProgressDrawTarget, out: Writer) -> Bar {
    let pb = ProgressBar::with_draw_target(Some(0), target);
    pb.set_style(style("{msg} [{bar:40}] {percent:>3}% {elapsed}"));
    Bar { pb, out }
}

/// The bar of a scenario job on standard error: the phase and the percentage on the first
/// line, the job's whole message below it (wrapped, never cut to the terminal's width).
pub fn job_bar() -> ProgressBar {
    job_bar_to(ProgressDrawTarget::stderr())
}

fn job_bar_to(target: ProgressDrawTarget) -> ProgressBar {
    let pb = ProgressBar::with_draw_target(Some(1000), target);
    pb.set_style(style(
        "{prefix} [{bar:40}] {percent:>3}% {elapsed}\n  {msg}",
    ));
    pb
}

/// Ends a job bar: its phase and last message stay as one plain line.
pub fn end_job_bar(pb: &ProgressBar) {
    end_job_bar_to(pb, &to_stderr)
}

fn end_job_bar_to(pb: &ProgressBar, out: &dyn Fn(&str)) {
    let line = format!(
        "{}: {} ({})",
        pb.prefix(),
        pb.message(),
        HumanDuration(pb.elapsed())
    );
    end(pb, &line, out);
}

/// Replaces a drawn bar by one plain line ending in a newline. (indicatif leaves a finished
/// bar drawn, padded to the width it believes the terminal has, without a newline: where that
/// width was wrong the next output continued on the bar's line.) Nothing when the bar is hidden
/// (standard error is not a terminal).
fn end(pb: &ProgressBar, line: &str, out: &dyn Fn(&str)) {
    pb.finish_and_clear();
    if !pb.is_hidden() {
        out(line);
    }
}

fn style(template: &str) -> ProgressStyle {
    ProgressStyle::with_template(template)
        .expect("valid template")
        .progress_chars("=> ")
}

/// `n` finite comma-separated numbers from a command-line value (`what` names the flag).
pub fn numbers(s: &str, n: usize, what: &str) -> Result<Vec<f64>> {
    let v: Vec<f64> = s
        .split(',')
        .map(|x| x.trim().parse::<f64>())
        .collect::<Result<_, _>>()
        .with_context(|| format!("{what}: {s:?} is not {n} comma-separated numbers"))?;
    if v.len() != n || v.iter().any(|x| !x.is_finite()) {
        bail!("{what}: {s:?} must be {n} finite comma-separated numbers");
    }
    Ok(v)
}

#[cfg(test)]
mod tests {
    use super::*;
    use indicatif::TermLike;
    use std::sync::{Arc, Mutex};

    /// An 80-column terminal that records what is written to it.
    #[derive(Debug, Clone, Default)]
    struct Screen(Arc<Mutex<String>>);

    impl Screen {
        fn text(&self) -> String {
            self.0.lock().unwrap().clone()
        }
        fn put(&self, s: &str) {
            self.0.lock().unwrap().push_str(s);
        }
    }

    impl TermLike for Screen {
        fn width(&self) -> u16 {
            80
        }
        fn move_cursor_up(&self, _: usize) -> std::io::Result<()> {
            Ok(())
        }
        fn move_cursor_down(&self, _: usize) -> std::io::Result<()> {
            Ok(())
        }
        fn move_cursor_right(&self, _: usize) -> std::io::Result<()> {
            Ok(())
        }
        fn move_cursor_left(&self, _: usize) -> std::io::Result<()> {
            Ok(())
        }
        fn write_line(&self, s: &str) -> std::io::Result<()> {
            self.put(s);
            self.put("\n");
            Ok(())
        }
        fn write_str(&self, s: &str) -> std::io::Result<()> {
            self.put(s);
            Ok(())
        }
        fn clear_line(&self) -> std::io::Result<()> {
            self.put("<clear>");
            Ok(())
        }
        fn flush(&self) -> std::io::Result<()> {
            Ok(())
        }
    }

    /// Issue 20: a finished bar stayed drawn without a newline and the next line printed on
    /// it; now each phase ends in a plain line with its newline, the bar cleared after it.
    #[test]
    fn a_finished_phase_ends_in_a_line_of_its_own() {
        let screen = Screen::default();
        let s2 = screen.clone();
        let b = bar_to(
            ProgressDrawTarget::term_like(Box::new(screen.clone())),
            Box::new(move |l| s2.write_line(l).unwrap()),
        );
        let phase = "reading CityJSONSeq features of the whole city";
        b.start(phase, 10);
        b.inc(10);
        b.finish();
        let text = screen.text();
        let line = format!("{phase}: done in ");
        let at = text.find(&line).unwrap_or_else(|| panic!("{text:?}"));
        let rest = &text[at..];
        let end = rest
            .find('\n')
            .unwrap_or_else(|| panic!("no newline: {text:?}"));
        assert!(
            rest[..end].ends_with(" seconds") || rest[..end].ends_with(" second"),
            "{text:?}"
        );
        // It is the last thing written, after the bar's line was cleared.
        assert_eq!(&rest[end..], "\n", "{text:?}");
        assert!(text[..at].ends_with("<clear>"), "{text:?}");
        assert!(b.pb.is_finished());
    }

    /// Issue 20: a job's messages were cut to the terminal's width ("baseline: reusing ru");
    /// now the message has a line of its own below the bar, whole.
    #[test]
    fn a_job_message_is_never_cut() {
        let screen = Screen::default();
        let pb = job_bar_to(ProgressDrawTarget::term_like(Box::new(screen.clone())));
        let msg = "baseline: reusing run 20261206T204510-hue_river_flood-baseline-3f9a of hue river flood baseline";
        pb.set_prefix("baseline");
        pb.set_message(msg);
        pb.set_position(500);
        pb.tick();
        let drawn = screen.text();
        assert!(drawn.contains(&format!("  {msg}")), "{drawn:?}");
        end_job_bar_to(&pb, &|l| screen.write_line(l).unwrap());
        let text = screen.text();
        assert!(
            text.ends_with(" second)\n") || text.ends_with(" seconds)\n"),
            "{text:?}"
        );
        assert!(
            text.contains(&format!("\nbaseline: {msg} ("))
                || text.contains(&format!(">baseline: {msg} (")),
            "{text:?}"
        );
    }
}
