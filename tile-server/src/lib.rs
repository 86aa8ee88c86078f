//! `tile-server`: the huetwin HTTP server's library side: 3D Tiles generation ([`tiles`]: a
//! tile tree planned over a twin layer, any tile's glTF content produced on its own, and a
//! streaming export of whole tilesets to a folder, `twin tiles export`), and the axum server
//! with its tile cache, JSON API and web viewer ([`server`]).

#![warn(missing_docs)]

pub mod error;
pub mod server;
pub mod tiles;

pub use error::{Error, Result};
