//! GeoJSON importer (the `geojson` crate, streaming feature by feature). Features are classified
//! by their OSM-style properties ([`super::tags`]) or sent to the layer given in the options;
//! point features configured as `sensors` become sensors ([`super::sensors`]).
//!
//! CRS: RFC 7946 GeoJSON is WGS84 longitude/latitude; `opts.source_crs` overrides it for older
//! files in another CRS.

use super::tags::{self, Tagged};
use super::{sensors, ImportOptions, Imported, LayerKind, Progress};
use crate::crs::{Crs, Reprojector};
use crate::error::{Result, TwinError};
use geo_types::Geometry;
use std::collections::HashSet;
use std::fs::File;
use std::io::BufReader;
use std::path::Path;

/// Import a GeoJSON FeatureCollection.
pub fn import(path: &Path, opts: &ImportOptions, progress: &dyn Progress) -> Result<Imported> {
    let src_crs = opts.source_crs.clone().unwrap_or_else(Crs::wgs84);
    let reproj = Reprojector::new(&src_crs, &opts.project_crs)?;
    let file = File::open(path).map_err(|e| TwinError::io(path, e))?;
    let size = file.metadata().map(|m| m.len()).unwrap_or(0);
    let stem = path
        .file_name()
        .map(|s| s.to_string_lossy().trim_end_matches(".geojson").to_string())
        .unwrap_or_default();
    let prefix = opts.id_prefix.clone().unwrap_or_else(|| stem.clone());
    let mut out = Imported {
        source_crs: Some(src_crs),
        ..Default::default()
    };
    let mut seen = HashSet::new();
    let mut ignored = 0usize;
    progress.start("reading GeoJSON", size);
    let reader = geojson::FeatureReader::from_reader(BufReader::with_capacity(1 << 20, file));
    for (n, feature) in reader.features().enumerate() {
        let place = format!("feature {n}");
        let f = feature.map_err(|e| TwinError::parse(path, &place, e))?;
        let props = tags::attributes(f.properties.as_ref());
        // Ids: the feature id, else an `id`/`osm_id`/`@id` property, else the position.
        let sid = match &f.id {
            Some(geojson::feature::Id::String(s)) => s.clone(),
            Some(geojson::feature::Id::Number(x)) => x.to_string(),
            None => ["id", "osm_id", "@id"]
                .iter()
                .find_map(|k| props.get(*k).cloned())
                .unwrap_or_else(|| n.to_string()),
        };
        if !seen.insert(sid.clone()) {
            return Err(TwinError::parse(
                path,
                &place,
                format!("duplicate feature id {sid:?}"),
            ));
        }
        let Some(g) = f.geometry.as_ref() else {
            ignored += 1;
            continue;
        };
        let mut geometry: Geometry<f64> =
            crate::export::geometry_from_geojson(&g.value).map_err(|e| {
                TwinError::parse(
                    path,
                    format!("{place} (id {sid})"),
                    format!("bad geometry: {e}"),
                )
            })?;
        reproj
            .geometry(&mut geometry)
            .map_err(|e| TwinError::parse(path, format!("{place} (id {sid})"), e))?;
        let id = format!("{prefix}:{sid}");
        if opts.layer == Some(LayerKind::Sensors) {
            let Geometry::Point(p) = geometry else {
                return Err(TwinError::parse(
                    path,
                    format!("{place} (id {sid})"),
                    "a sensor must be a Point",
                ));
            };
            let s = sensors::sensor(id, &props, p)
                .map_err(|m| TwinError::parse(path, format!("{place} (id {sid})"), m))?;
            out.sensors.push(s);
            continue;
        }
        let taken = tags::classify(
            Tagged {
                id,
                source_id: sid,
                tags: &props,
                geometry,
            },
            opts.layer,
            &opts.heights,
            &mut out,
        );
        if taken == 0 {
            ignored += 1;
        }
        if n % 1024 == 0 {
            progress.inc(0);
        }
    }
    progress.inc(size);
    progress.finish();
    if ignored > 0 {
        out.notes.push(format!(
            "{ignored} features matched no layer (no geometry, or tags that feed none)"
        ));
    }
    Ok(out)
}
