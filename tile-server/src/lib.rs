//! `tile-server`: the huetwin HTTP server's library side: the axum server with its JSON API,
//! tile cache and web viewer ([`server`]).

#![warn(missing_docs)]

pub mod server;
