//! `renderer`: everything that touches wgpu. It is the only crate allowed to depend on wgpu.
//!
//! * [`gpu`]: picking an adapter (a real GPU first, else Mesa's software rasterisers) and
//!   opening a device;
//! * [`flood`]: the flood solver as WGSL compute kernels, behind
//!   [`scenarios::flood::FloodSolver`] like the CPU reference;
//! * [`basemap`]: raster XYZ basemap tiles of a twin (Web Mercator PNG);
//! * [`render`]: headless pictures of a twin with flood and traffic results on it (PNG).

#![warn(missing_docs)]

pub mod basemap;
pub mod error;
pub mod flood;
pub mod gpu;
pub mod render;

pub use error::{RenderError, Result};
pub use scenarios;
