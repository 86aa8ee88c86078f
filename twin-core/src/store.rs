//! GeoPackage store (being written).
