//! Traffic what-if engine: static user-equilibrium assignment with BPR link costs.
//!
//! * [`tntp`] reads TNTP networks and trip tables and CSV OD matrices;
//! * [`network`] holds the network (links with BPR parameters, zones, TNTP generalized cost) and
//!   builds one from the twin's roads ([`network::from_roads`]);
//! * [`mod@assign`] finds the user equilibrium by path-based gradient projection, and
//!   [`bush`] by the bush-based Algorithm B (faster on large networks), to a stated relative
//!   gap `(TC - SPC) / TC` (total generalized cost against its shortest-path total; with no
//!   toll or distance weight these are TSTT and SPTT);
//! * [`edit`] applies what-if edits (close/add links, capacity, speed, demand scale, flooded
//!   roads);
//! * [`gravity`] derives demand from building floor area with a gravity model;
//! * [`scenario`] reads a scenario TOML and runs it against its baseline ([`scenario::run_scenario`]);
//! * [`result`] holds the outcome: link flows, v/c, times, totals, Beckmann objective,
//!   unreachable OD pairs, differences from a baseline, skims.
//!
//! ```
//! use scenarios::traffic::{assign, edit, tntp};
//! use std::path::Path;
//! // The Sioux Falls network of the TNTP collection (in the shared test data).
//! let dir = Path::new("../../shared/data/traffic/siouxfalls");
//! let net = tntp::read_net(&dir.join("SiouxFalls_net.tntp"))?;
//! let trips = tntp::read_trips(&dir.join("SiouxFalls_trips.tntp"))?;
//! let base = assign::assign(&net, &trips, &assign::AssignOptions::default())?;
//! let (net2, trips2) = edit::apply_edits(
//!     &net,
//!     &trips,
//!     &[edit::Edit::CloseLink(edit::LinkRef::Nodes { from: 10, to: 16 })],
//! )?;
//! let what_if = assign::assign(&net2, &trips2, &assign::AssignOptions::default())?;
//! assert!(base.relative_gap < 1e-4);
//! // Closing a link on the way of many trips makes the total travel time longer.
//! assert!(what_if.diff(&base).d_tstt > 0.0);
//! # Ok::<(), scenarios::error::ScenarioError>(())
//! ```

pub mod assign;
pub mod bush;
pub mod demand;
pub mod edit;
pub mod gravity;
pub mod network;
pub mod result;
pub mod roads;
pub mod scenario;
pub mod tntp;

pub use assign::{assign, assign_with_progress, AssignMethod, AssignOptions};
pub use demand::{Demand, OdTrip};
pub use edit::{apply_edits, close_flooded_roads, road_links, Edit, LinkRef, NewLink};
pub use gravity::{gravity_demand, GravityDemand, GravityParams};
pub use network::{Link, Network, Node};
pub use result::{skim, Assignment, Diff, GapRecord, LinkDiff, Skim};
