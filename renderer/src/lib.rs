//! `renderer`: everything that touches wgpu (GPU flood kernels, headless rendering). It is the
//! only crate allowed to depend on wgpu; the kernels arrive with the flood issue.

#![warn(missing_docs)]

pub use scenarios;
