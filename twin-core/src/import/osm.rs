//! OpenStreetMap PBF importer (the `osmpbf` crate): buildings, heritage sites, roads, water and
//! land use from ways and multipolygon relations, classified by [`super::tags`].
//!
//! One streaming pass over the file: node coordinates are kept (projected) in a map, ways are
//! turned into features as they arrive (PBF files list nodes, then ways, then relations), and
//! the ways that relations need are kept until the relations arrive.
//!
//! A land use way that is an outer ring of a land use multipolygon of the same class is left
//! out (the relation is that area), as GDAL's OSM driver does.

use super::tags::{self, Tagged};
use super::{ImportOptions, Imported, Progress};
use crate::crs::{Crs, Reprojector};
use crate::error::{Result, TwinError};
use crate::model::Attributes;
use geo_types::{Coord, Geometry, LineString, MultiPolygon, Polygon};
use osmpbf::{BlobDecode, BlobReader, Element};
use std::collections::{HashMap, HashSet};
use std::fs::File;
use std::io::{BufReader, Read};
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

/// Counts bytes read so that progress can follow the file.
struct Counting<R> {
    inner: R,
    read: Arc<AtomicU64>,
}
impl<R: Read> Read for Counting<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.read.fetch_add(n as u64, Ordering::Relaxed);
        Ok(n)
    }
}

fn tag_map<'a>(it: impl Iterator<Item = (&'a str, &'a str)>) -> Attributes {
    it.map(|(k, v)| (k.to_string(), v.to_string())).collect()
}

fn interesting(t: &Attributes) -> bool {
    tags::is_building(t)
        || tags::is_heritage(t)
        || tags::is_road(t)
        || tags::is_water(t)
        || tags::is_landuse(t)
}

/// A way kept for relation assembly: its node coordinates (project CRS).
type WayCoords = Vec<Coord<f64>>;

struct Pending {
    id: i64,
    tags: Attributes,
    members: Vec<(i64, bool)>, // (way id, is inner)
}

/// Import an `.osm.pbf` file.
pub fn import(path: &Path, opts: &ImportOptions, progress: &dyn Progress) -> Result<Imported> {
    let src_crs = opts.source_crs.clone().unwrap_or_else(Crs::wgs84);
    let reproj = Reprojector::new(&src_crs, &opts.project_crs)?;
    let file = File::open(path).map_err(|e| TwinError::io(path, e))?;
    let size = file.metadata().map(|m| m.len()).unwrap_or(0);
    let read = Arc::new(AtomicU64::new(0));
    let reader = BlobReader::new(Counting {
        inner: BufReader::with_capacity(1 << 20, file),
        read: read.clone(),
    });
    let prefix = opts.id_prefix.clone().unwrap_or_else(|| "osm".into());

    progress.start("reading OSM", size);
    let mut out = Imported {
        source_crs: Some(src_crs),
        ..Default::default()
    };
    let mut nodes: HashMap<i64, Coord<f64>> = HashMap::new();
    let mut ways_for_relations: HashMap<i64, WayCoords> = HashMap::new();
    let mut relations: Vec<Pending> = Vec::new();
    let mut missing_node_ways = 0usize;
    let mut reported = 0u64;
    let mut seen_header = false;

    for (blob_no, blob) in reader.enumerate() {
        let place = |e: &dyn std::fmt::Display| {
            TwinError::parse(
                path,
                format!(
                    "blob {blob_no} (near byte {})",
                    read.load(Ordering::Relaxed)
                ),
                format!("not a valid OSM PBF block: {e}"),
            )
        };
        let blob = blob.map_err(|e| place(&e))?;
        let block = match blob.decode().map_err(|e| place(&e))? {
            BlobDecode::OsmHeader(_) => {
                seen_header = true;
                continue;
            }
            BlobDecode::OsmData(b) => b,
            BlobDecode::Unknown(_) => continue,
        };
        if !seen_header {
            return Err(place(&"data block before the OSMHeader block"));
        }
        // Ways that relations seen so far need: relations come last in sorted PBF files, so we
        // also keep every closed or open way that could be a multipolygon member (tagged or
        // not) only when its id is wanted; unsorted files are handled by a second look below.
        for el in block.elements() {
            match el {
                Element::DenseNode(n) => {
                    let (x, y) = reproj.apply(n.lon(), n.lat())?;
                    nodes.insert(n.id(), Coord { x, y });
                }
                Element::Node(n) => {
                    let (x, y) = reproj.apply(n.lon(), n.lat())?;
                    nodes.insert(n.id(), Coord { x, y });
                }
                Element::Way(w) => {
                    let coords: Option<WayCoords> =
                        w.refs().map(|r| nodes.get(&r).copied()).collect();
                    let Some(coords) = coords else {
                        missing_node_ways += 1;
                        continue;
                    };
                    let t = tag_map(w.tags());
                    if interesting(&t) && coords.len() >= 2 {
                        let closed = coords.len() >= 4 && coords.first() == coords.last();
                        let area_tags = tags::is_building(&t)
                            || t.get("area").is_some_and(|v| v == "yes")
                            || t.get("natural").is_some_and(|v| v == "water")
                            || tags::is_landuse(&t);
                        let line = LineString(coords.clone());
                        let geometry = if closed
                            && (area_tags || (tags::is_heritage(&t) && !tags::is_road(&t)))
                        {
                            Geometry::Polygon(Polygon::new(line, vec![]))
                        } else {
                            Geometry::LineString(line)
                        };
                        let sid = format!("way/{}", w.id());
                        tags::classify(
                            Tagged {
                                id: format!("{prefix}:{sid}"),
                                source_id: sid,
                                tags: &t,
                                geometry,
                            },
                            opts.layer,
                            &opts.heights,
                            &mut out,
                        );
                    }
                    ways_for_relations.insert(w.id(), coords);
                }
                Element::Relation(r) => {
                    let t = tag_map(r.tags());
                    let mp = t
                        .get("type")
                        .is_some_and(|v| v == "multipolygon" || v == "building");
                    if mp
                        && (tags::is_building(&t)
                            || tags::is_heritage(&t)
                            || tags::is_water(&t)
                            || tags::is_landuse(&t))
                    {
                        let members = r
                            .members()
                            .filter(|m| m.member_type == osmpbf::RelMemberType::Way)
                            .map(|m| (m.member_id, m.role().map(|r| r == "inner").unwrap_or(false)))
                            .collect();
                        relations.push(Pending {
                            id: r.id(),
                            tags: t,
                            members,
                        });
                    }
                }
            }
        }
        let now = read.load(Ordering::Relaxed);
        progress.inc(now - reported);
        reported = now;
    }
    if !seen_header {
        return Err(TwinError::parse(
            path,
            "start of file",
            "no OSMHeader block: not an OSM PBF file",
        ));
    }
    progress.finish();

    // Keep only member ways in the map from here on (memory).
    let wanted: HashSet<i64> = relations
        .iter()
        .flat_map(|r| r.members.iter().map(|m| m.0))
        .collect();
    ways_for_relations.retain(|id, _| wanted.contains(id));
    drop(nodes);

    let mut incomplete = 0usize;
    // Outer ways of land use multipolygons, with the relation's class: an outer way tagged with
    // the same class is the same area, drawn once (as GDAL's OSM driver does).
    let mut landuse_outers: HashSet<(String, String)> = HashSet::new();
    for rel in relations {
        let mut outers = Vec::new();
        let mut inners = Vec::new();
        let mut complete = true;
        for (wid, inner) in &rel.members {
            match ways_for_relations.get(wid) {
                Some(c) => {
                    if *inner {
                        inners.push(c.clone())
                    } else {
                        outers.push(c.clone())
                    }
                }
                None => complete = false,
            }
        }
        let (Some(outer_rings), Some(inner_rings)) =
            (assemble_rings(outers), assemble_rings(inners))
        else {
            incomplete += 1;
            continue;
        };
        if !complete || outer_rings.is_empty() {
            incomplete += 1;
            continue;
        }
        let polys = outer_rings
            .into_iter()
            .map(|outer| {
                let holes = inner_rings
                    .iter()
                    .filter(|h| ring_inside(h, &outer))
                    .cloned()
                    .map(LineString)
                    .collect();
                Polygon::new(LineString(outer), holes)
            })
            .collect();
        let sid = format!("relation/{}", rel.id);
        let landuse_before = out.landuse.len();
        tags::classify(
            Tagged {
                id: format!("{prefix}:{sid}"),
                source_id: sid,
                tags: &rel.tags,
                geometry: Geometry::MultiPolygon(MultiPolygon(polys)),
            },
            opts.layer,
            &opts.heights,
            &mut out,
        );
        if let Some(area) = out.landuse.get(landuse_before) {
            for (wid, inner) in &rel.members {
                if !inner {
                    landuse_outers.insert((format!("{prefix}:way/{wid}"), area.kind.clone()));
                }
            }
        }
    }
    if !landuse_outers.is_empty() {
        let before = out.landuse.len();
        out.landuse
            .retain(|l| !landuse_outers.contains(&(l.id.clone(), l.kind.clone())));
        let dropped = before - out.landuse.len();
        if dropped > 0 {
            out.notes.push(format!(
                "{dropped} land use ways left out: the outer ring of a multipolygon of the same class"
            ));
        }
    }
    if incomplete > 0 {
        out.notes.push(format!("{incomplete} multipolygon relations skipped: members missing from the extract or rings that do not close"));
    }
    if missing_node_ways > 0 {
        out.notes.push(format!(
            "{missing_node_ways} ways reference nodes missing from the extract (not imported)"
        ));
    }
    Ok(out)
}

/// Join way segments into closed rings by matching endpoints. None when a ring cannot close.
fn assemble_rings(mut parts: Vec<WayCoords>) -> Option<Vec<WayCoords>> {
    let mut rings = Vec::new();
    parts.retain(|p| p.len() >= 2);
    while let Some(mut ring) = parts.pop() {
        while ring.first() != ring.last() {
            let end = *ring.last()?;
            let pos = parts
                .iter()
                .position(|p| p.first() == Some(&end) || p.last() == Some(&end))?;
            let mut next = parts.swap_remove(pos);
            if next.first() != Some(&end) {
                next.reverse();
            }
            ring.extend(next.into_iter().skip(1));
        }
        if ring.len() < 4 {
            return None;
        }
        rings.push(ring);
    }
    Some(rings)
}

fn ring_inside(inner: &WayCoords, outer: &WayCoords) -> bool {
    use geo::Contains;
    let poly = Polygon::new(LineString(outer.clone()), vec![]);
    inner.first().is_some_and(|c| poly.contains(c))
}
