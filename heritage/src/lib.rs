//! Heritage conservation engines of huetwin: the rules of a twin's protection zones (the
//! heritage layer and `heritage_rules.toml`), the check of a proposed building against them
//! with a verdict per rule, protected views as threshold planes with Earth curvature and
//! refraction, sightlines by ray casting in a BVH over triangles, and the report of existing
//! buildings that break the rules; viewsheds; monument flood exposure across stored runs.
//!
//! No HTTP and no GPU here: `tile-server` and `twin-cli` call these engines.

pub mod check;
pub mod error;
pub mod exposure;
pub mod plane;
pub mod proposal;
pub mod report;
pub mod rules;
pub mod sight;
pub mod viewshed;
pub mod visible;

pub use check::{breaches, check, Breach, Outcome, RuleResult, Verdict, ZoneHit};
pub use error::{HeritageError, Result};
pub use proposal::Proposal;
pub use rules::{Rules, RulesFile, ZoneKind, RULES_FILE};
