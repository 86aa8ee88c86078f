//! Time to relative gap on Sioux Falls (or another TNTP network).
//!
//! `cargo bench -p scenarios --bench traffic -- [--dir DIR] [--repeats N] [GAP...]`
//!
//! Prints one line per target gap: `huetwin <gap> <median seconds> <iterations> <reached gap>`,
//! the median over the repeats of the wall time of a whole assignment (reading excluded).

use std::path::PathBuf;
use std::time::Instant;

use scenarios::traffic::{assign, tntp, AssignOptions};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut dir =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared/data/traffic/siouxfalls");
    let mut repeats = 20usize;
    let mut gaps = Vec::new();
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--bench" => {}
            "--dir" => dir = PathBuf::from(args.next().ok_or("--dir needs a value")?),
            "--repeats" => repeats = args.next().ok_or("--repeats needs a value")?.parse()?,
            g => gaps.push(g.parse::<f64>()?),
        }
    }
    if gaps.is_empty() {
        gaps = vec![1e-4, 1e-6];
    }
    let name = dir
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or("network")
        .to_string();
    let stem = {
        // SiouxFalls_net.tntp -> SiouxFalls
        let mut s = None;
        for e in std::fs::read_dir(&dir)? {
            let p = e?.path();
            if let Some(f) = p.file_name().and_then(|f| f.to_str()) {
                if let Some(st) = f.strip_suffix("_net.tntp") {
                    s = Some(st.to_string());
                }
            }
        }
        s.ok_or_else(|| format!("no *_net.tntp in {}", dir.display()))?
    };
    let net = tntp::read_net(&dir.join(format!("{stem}_net.tntp")))?;
    let trips = tntp::read_trips(&dir.join(format!("{stem}_trips.tntp")))?;
    eprintln!(
        "{name}: {} nodes, {} links, {} OD entries, {} threads",
        net.nodes.len(),
        net.links.len(),
        trips.trips.len(),
        rayon::current_num_threads()
    );
    for g in gaps {
        let opts = AssignOptions {
            target_gap: g,
            max_iterations: 10_000,
            ..AssignOptions::default()
        };
        let mut times = Vec::with_capacity(repeats);
        let mut last = None;
        for _ in 0..repeats.max(1) {
            let t = Instant::now();
            let a = assign(&net, &trips, &opts)?;
            times.push(t.elapsed().as_secs_f64());
            last = Some(a);
        }
        times.sort_by(f64::total_cmp);
        let a = last.ok_or("no run")?;
        println!(
            "huetwin {g:e} {:.6} {} {:e}",
            times[times.len() / 2],
            a.iterations,
            a.relative_gap
        );
    }
    Ok(())
}
