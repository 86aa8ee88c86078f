//! `twin heritage check <twin> <proposal>` and `twin heritage breaches <twin>`: a proposed
//! building judged against the twin's protection zones and protected views (the `heritage`
//! crate), and the existing buildings that break them.

use anyhow::{Context, Result};
use heritage::{Outcome, Proposal, Rules, Verdict};
use std::path::PathBuf;
use twin_core::TwinDir;

/// `twin heritage` subcommands.
#[derive(clap::Subcommand)]
pub enum HeritageCmd {
    /// Judge a proposed building (a GeoJSON Feature in WGS84 with `height` in metres or
    /// `storeys`, optionally `roof:shape`) against the zones' rules and the protected views:
    /// one row per rule with its numbers. Exits with status 2 when the proposal is refused.
    Check {
        /// The twin folder (its heritage layer and heritage_rules.toml).
        twin: PathBuf,
        /// The proposal (GeoJSON).
        proposal: PathBuf,
        /// Print the verdict as JSON.
        #[arg(long)]
        json: bool,
    },
    /// The existing buildings over the height limits of the buffer zones and view corridors,
    /// or above the protected views' threshold planes.
    Breaches {
        /// The twin folder.
        twin: PathBuf,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
}

/// Runs a `twin heritage` subcommand.
pub fn run(cmd: HeritageCmd) -> Result<()> {
    match cmd {
        HeritageCmd::Check {
            twin,
            proposal,
            json,
        } => {
            let dir = TwinDir::open(&twin)?;
            let t = dir.load()?;
            let rules = Rules::load(&twin, &t)?;
            let text = std::fs::read_to_string(&proposal)
                .with_context(|| format!("reading {}", proposal.display()))?;
            let p = Proposal::from_geojson(&text, &t, &rules)
                .with_context(|| proposal.display().to_string())?;
            let v = heritage::check(&t, &rules, &p);
            if json {
                println!("{}", serde_json::to_string_pretty(&v)?);
            } else {
                print!("{}", verdict_table(&v));
            }
            if !v.permitted {
                std::process::exit(2);
            }
            Ok(())
        }
        HeritageCmd::Breaches { twin, json } => {
            let dir = TwinDir::open(&twin)?;
            let t = dir.load()?;
            let rules = Rules::load(&twin, &t)?;
            let rows = heritage::breaches(&t, &rules);
            if json {
                println!("{}", serde_json::to_string_pretty(&rows)?);
                return Ok(());
            }
            println!(
                "{:<16} {:<22} {:<24} {:>9} {:>9} {:>8}  name",
                "rule", "under", "building", "value m", "limit m", "excess"
            );
            for b in &rows {
                println!(
                    "{:<16} {:<22} {:<24} {:>9.2} {:>9.2} {:>8.2}  {}",
                    b.rule,
                    b.under,
                    b.building,
                    b.value,
                    b.limit,
                    b.excess,
                    b.name.as_deref().unwrap_or("")
                );
            }
            println!("{} breaches", rows.len());
            Ok(())
        }
    }
}

/// The verdict as a plain table: the proposal, the zones, one row per rule.
pub fn verdict_table(v: &Verdict) -> String {
    let p = &v.proposal;
    let mut s = format!(
        "proposal {}: {:.1} m ({}), base {:.2} m, top {:.2} m, footprint {:.0} m²\n",
        p.name.as_deref().unwrap_or("(unnamed)"),
        p.height_m,
        p.height_from,
        p.base_m,
        v.top_m,
        v.area_m2
    );
    if v.zones.is_empty() {
        s.push_str("zones: none\n");
    }
    for z in &v.zones {
        s.push_str(&format!(
            "zone: {} ({}, zone {}, {:?}{})\n",
            z.site,
            z.name.as_deref().unwrap_or(""),
            z.zone.as_deref().unwrap_or("-"),
            z.kind,
            z.height_limit_m
                .map(|l| format!(", limit {l} m"))
                .unwrap_or_default()
        ));
    }
    for r in &v.rules {
        let o = match r.outcome {
            Outcome::Pass => "pass",
            Outcome::Fail => "FAIL",
            Outcome::NotAssessed => "n/a",
        };
        s.push_str(&format!("{o:<5} {:<15} {}\n", r.rule, r.detail));
    }
    s.push_str(if v.permitted {
        "verdict: permitted\n"
    } else {
        "verdict: REFUSED\n"
    });
    s
}
