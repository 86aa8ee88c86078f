//! Live data of the twin: SensorThings API 1.1 entities (Things, Locations, Datastreams,
//! Observations...) in their own SQLite file, `<twin>/live.sqlite`, durable before they are
//! acknowledged ([`store`]), with their entity model ([`model`]) and times ([`time`]).
//! The HTTP API and the MQTT bridge over it live in `tile-server::sta`.

pub mod model;
pub mod store;
pub mod time;

pub use model::{Entity, EntitySet, Nav};
pub use store::{Bucket, LiveStore, NewObservation, ObsOrder, ObsQuery, WriteOp, WriteOutcome};
pub use time::TimeValue;
