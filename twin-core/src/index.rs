//! R-tree indexes over vector layers (rstar), with bbox, radius, k-nearest and
//! polygon-intersects queries. Distances are exact (to the geometry, not its envelope) and in
//! project CRS metres.

use crate::error::{Result, TwinError};
use geo::{BoundingRect, Distance, Euclidean, Intersects};
use geo_types::{Geometry, MultiPolygon, Point, Polygon, Rect};
use rstar::{PointDistance, RTree, RTreeObject, AABB};
use std::collections::HashMap;

/// A feature that can live in a [`Layer`].
pub trait Feature {
    /// Stable id, unique within the layer.
    fn id(&self) -> &str;
    /// The geometry used for indexing and queries, in the project CRS.
    fn geometry(&self) -> Geometry<f64>;
}

/// One R-tree entry: the feature's position in the layer and its geometry.
#[derive(Clone, Debug)]
pub struct Entry {
    /// Index of the feature in [`Layer::features`].
    pub idx: usize,
    geom: Geometry<f64>,
    env: AABB<[f64; 2]>,
}

impl Entry {
    fn new(idx: usize, geom: Geometry<f64>) -> Option<Entry> {
        let r = geom.bounding_rect()?;
        let (lo, hi) = (r.min(), r.max());
        if ![lo.x, lo.y, hi.x, hi.y].iter().all(|v| v.is_finite()) {
            return None;
        }
        Some(Entry {
            idx,
            env: AABB::from_corners([lo.x, lo.y], [hi.x, hi.y]),
            geom,
        })
    }
}

impl RTreeObject for Entry {
    type Envelope = AABB<[f64; 2]>;
    fn envelope(&self) -> Self::Envelope {
        self.env
    }
}

impl PointDistance for Entry {
    fn distance_2(&self, point: &[f64; 2]) -> f64 {
        let d = Euclidean.distance(&Point::new(point[0], point[1]), &self.geom);
        d * d
    }
}

/// A vector layer: its features in load order, an id lookup and an R-tree.
#[derive(Clone, Debug)]
pub struct Layer<T> {
    features: Vec<T>,
    ids: HashMap<String, usize>,
    tree: RTree<Entry>,
}

impl<T> Default for Layer<T> {
    fn default() -> Self {
        Layer {
            features: Vec::new(),
            ids: HashMap::new(),
            tree: RTree::new(),
        }
    }
}

fn check_point(p: Point<f64>) -> Result<()> {
    if p.x().is_finite() && p.y().is_finite() {
        Ok(())
    } else {
        Err(TwinError::invalid(
            "query point",
            format!("non-finite ({}, {})", p.x(), p.y()),
        ))
    }
}

impl<T: Feature> Layer<T> {
    /// Build a layer, bulk-loading its R-tree. Features with empty or non-finite geometry are
    /// kept but not indexed; duplicate ids are an error.
    pub fn new(features: Vec<T>) -> Result<Layer<T>> {
        let mut ids = HashMap::with_capacity(features.len());
        for (i, f) in features.iter().enumerate() {
            if ids.insert(f.id().to_string(), i).is_some() {
                return Err(TwinError::invalid(
                    "layer",
                    format!("duplicate feature id {:?}", f.id()),
                ));
            }
        }
        let entries: Vec<Entry> = features
            .iter()
            .enumerate()
            .filter_map(|(i, f)| Entry::new(i, f.geometry()))
            .collect();
        Ok(Layer {
            features,
            ids,
            tree: RTree::bulk_load(entries),
        })
    }

    /// Check that none of `more` clashes with an id in the layer or with another of `more`.
    pub fn check_new_ids(&self, more: &[T]) -> Result<()> {
        let mut seen = std::collections::HashSet::with_capacity(more.len());
        for f in more {
            if self.ids.contains_key(f.id()) || !seen.insert(f.id()) {
                return Err(TwinError::invalid(
                    "layer",
                    format!("duplicate feature id {:?}", f.id()),
                ));
            }
        }
        Ok(())
    }

    /// Add features (ids must be new) and index them. On error the layer is unchanged.
    pub fn extend(&mut self, more: Vec<T>) -> Result<()> {
        self.check_new_ids(&more)?;
        if self.features.is_empty() {
            *self = Layer::new(more)?;
            return Ok(());
        }
        for f in more {
            let idx = self.features.len();
            if let Some(e) = Entry::new(idx, f.geometry()) {
                self.tree.insert(e);
            }
            self.ids.insert(f.id().to_string(), idx);
            self.features.push(f);
        }
        Ok(())
    }

    /// All features, in load order.
    pub fn features(&self) -> &[T] {
        &self.features
    }

    /// Number of features.
    pub fn len(&self) -> usize {
        self.features.len()
    }

    /// True when the layer has no feature.
    pub fn is_empty(&self) -> bool {
        self.features.is_empty()
    }

    /// A feature by its position.
    pub fn get(&self, idx: usize) -> Option<&T> {
        self.features.get(idx)
    }

    /// The position of the feature with this id.
    pub fn position(&self, id: &str) -> Option<usize> {
        self.ids.get(id).copied()
    }

    /// A feature by id.
    pub fn by_id(&self, id: &str) -> Option<&T> {
        self.ids.get(id).map(|&i| &self.features[i])
    }

    /// The bounding box of all indexed features, as (xmin, ymin, xmax, ymax).
    pub fn extent(&self) -> Option<[f64; 4]> {
        if self.tree.size() == 0 {
            return None;
        }
        let e = self.tree.root().envelope();
        Some([e.lower()[0], e.lower()[1], e.upper()[0], e.upper()[1]])
    }

    /// Features whose geometry intersects the box, in ascending index order.
    pub fn query_bbox(&self, bbox: Rect<f64>) -> Result<Vec<usize>> {
        let (lo, hi) = (bbox.min(), bbox.max());
        if ![lo.x, lo.y, hi.x, hi.y].iter().all(|v| v.is_finite()) {
            return Err(TwinError::invalid("bbox", format!("non-finite {bbox:?}")));
        }
        let env = AABB::from_corners([lo.x, lo.y], [hi.x, hi.y]);
        let mut out: Vec<usize> = self
            .tree
            .locate_in_envelope_intersecting(env)
            .filter(|e| e.geom.intersects(&bbox))
            .map(|e| e.idx)
            .collect();
        out.sort_unstable();
        Ok(out)
    }

    /// Features within `radius` metres of `p` (0 inside a polygon), nearest first, with their
    /// distances.
    pub fn query_radius(&self, p: Point<f64>, radius: f64) -> Result<Vec<(usize, f64)>> {
        check_point(p)?;
        if !(radius.is_finite() && radius >= 0.0) {
            return Err(TwinError::invalid(
                "radius",
                format!("{radius} is not a finite distance >= 0"),
            ));
        }
        let mut out: Vec<(usize, f64)> = self
            .tree
            .locate_within_distance([p.x(), p.y()], radius * radius)
            .map(|e| (e.idx, e.distance_2(&[p.x(), p.y()]).sqrt()))
            .collect();
        out.sort_by(|a, b| a.1.total_cmp(&b.1).then(a.0.cmp(&b.0)));
        Ok(out)
    }

    /// The `k` features nearest to `p`, nearest first, with their distances.
    pub fn query_nearest(&self, p: Point<f64>, k: usize) -> Result<Vec<(usize, f64)>> {
        check_point(p)?;
        Ok(self
            .tree
            .nearest_neighbor_iter_with_distance_2([p.x(), p.y()])
            .take(k)
            .map(|(e, d2)| (e.idx, d2.sqrt()))
            .collect())
    }

    /// Features whose geometry intersects the polygon, in ascending index order.
    pub fn query_polygon(&self, poly: &Polygon<f64>) -> Result<Vec<usize>> {
        let Some(r) = poly.bounding_rect() else {
            return Ok(Vec::new());
        };
        let (lo, hi) = (r.min(), r.max());
        if ![lo.x, lo.y, hi.x, hi.y].iter().all(|v| v.is_finite()) {
            return Err(TwinError::invalid("polygon", "non-finite coordinates"));
        }
        let env = AABB::from_corners([lo.x, lo.y], [hi.x, hi.y]);
        let mut out: Vec<usize> = self
            .tree
            .locate_in_envelope_intersecting(env)
            .filter(|e| e.geom.intersects(poly))
            .map(|e| e.idx)
            .collect();
        out.sort_unstable();
        Ok(out)
    }

    /// Features whose geometry intersects any polygon of a multipolygon, in ascending index
    /// order, each once.
    pub fn query_multipolygon(&self, area: &MultiPolygon<f64>) -> Result<Vec<usize>> {
        let mut out = Vec::new();
        for p in &area.0 {
            out.extend(self.query_polygon(p)?);
        }
        out.sort_unstable();
        out.dedup();
        Ok(out)
    }
}
