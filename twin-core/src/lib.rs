//! `twin-core`: the huetwin spatial model.
//!
//! A [`Twin`] holds a metric project CRS and typed layers (buildings, heritage sites, sensors,
//! roads, water, land use, terrain, point clouds), each vector layer with an R-tree ([`index::Layer`]).
//! Sources are read by the [`import`] modules and reprojected with PROJ ([`crs`]); the
//! [`store`] keeps a twin in a GeoPackage that GDAL and QGIS open.

#![warn(missing_docs)]

pub mod crs;
pub mod error;
pub mod export;
pub mod folder;
pub mod ground;
pub mod heights;
pub mod import;
pub mod index;
pub mod layer;
pub mod live;
pub mod model;
pub mod names;
pub mod progress;
pub mod reports;
pub mod rings;
pub mod store;
pub mod tokens;
pub mod twin;
pub mod xyz;

pub use crs::{Crs, Transform};
pub use error::{Result, TwinError};
pub use folder::TwinDir;
pub use index::{Feature, Layer};
pub use layer::{LayerKind, VectorLayer};
pub use progress::{NoProgress, Progress};
pub use twin::{Twin, TwinConfig};
