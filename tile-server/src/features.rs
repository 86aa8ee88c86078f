//! The vector layers' features as GeoJSON text made once, when the server starts, and the
//! feature collections written from it.
//!
//! A twin is immutable while it is served (a new import is served after a restart), so each
//! feature's RFC 7946 GeoJSON (WGS84 through PROJ, properties, id) is serialised once into one
//! buffer per layer. A request then only queries the R-tree and copies bytes: no PROJ call per
//! feature, no `serde_json::Value` tree, and the collection is streamed in chunks of
//! [`CHUNK_BYTES`] so that a large page never sits whole in memory.
//!
//! Boxes are queried in WGS84 too, in an R-tree of the very geometries served (as written, to
//! their rounding): a feature whose box lies inside the query box matches at once, the others
//! are tested exactly (`geo`'s `Intersects` with the box). A box is then a box in the
//! coordinates the client sees, and a query needs no PROJ call.
//! `docs/adr/0013-ogc-api-features.md` says why.

use crate::error::ApiError;
use axum::body::{Body, Bytes};
use geo::{BoundingRect, Intersects};
use geo_types::{Coord, Geometry, Rect};
use rstar::{Envelope, RTree, RTreeObject, AABB};
use serde::Serialize;
use std::ops::Range;
use std::sync::Arc;
use twin_core::crs::{Crs, Reprojector};
use twin_core::{LayerKind, Twin, VectorLayer};

/// Bytes of a streamed collection's body chunk (the last one may be smaller, one feature may
/// make one larger).
pub const CHUNK_BYTES: usize = 64 << 10;

/// One feature's place in its layer's buffer.
#[derive(Clone, Debug)]
struct Span {
    /// `{"type":"Feature",...,"properties":{...}}`.
    bytes: Range<usize>,
    /// The properties object is `{}`.
    no_properties: bool,
}

/// One feature in the WGS84 R-tree: its index and served geometry.
#[derive(Debug)]
struct WgsEntry {
    idx: usize,
    env: AABB<[f64; 2]>,
    geom: Geometry<f64>,
}

impl RTreeObject for WgsEntry {
    type Envelope = AABB<[f64; 2]>;
    fn envelope(&self) -> Self::Envelope {
        self.env
    }
}

/// One layer's features as GeoJSON text, in load order, and their geometries in an R-tree.
#[derive(Debug, Default)]
struct LayerText {
    text: Bytes,
    /// By feature index: its span, or why it could not be written (answered as a 500 when a
    /// request reaches it, as before the precomputation).
    spans: Vec<Result<Span, String>>,
    /// The written features with a non-empty, finite geometry.
    tree: RTree<WgsEntry>,
}

/// Every vector layer's features as GeoJSON text (WGS84), made once by [`FeatureText::build`].
#[derive(Debug, Default)]
pub struct FeatureText {
    layers: Vec<(LayerKind, LayerText)>,
}

impl FeatureText {
    /// Serialise every feature of every vector layer of `twin` (the project CRS reprojected to
    /// WGS84 through PROJ). A feature that cannot be written is kept as an error answered when
    /// a request reaches it; a CRS PROJ does not know is an error here.
    pub fn build(twin: &Twin) -> Result<FeatureText, ApiError> {
        let to_wgs84 = Reprojector::new(&twin.crs, &Crs::wgs84())?;
        let mut layers = Vec::new();
        for kind in LayerKind::VECTOR {
            if let Some(layer) = twin.vector(kind) {
                layers.push((kind, layer_text(layer, &to_wgs84)));
            }
        }
        Ok(FeatureText { layers })
    }

    /// Bytes of GeoJSON text held, all layers.
    pub fn bytes(&self) -> usize {
        self.layers.iter().map(|(_, l)| l.text.len()).sum()
    }

    fn layer(&self, kind: LayerKind) -> Result<&LayerText, ApiError> {
        self.layers
            .iter()
            .find(|(k, _)| *k == kind)
            .map(|(_, l)| l)
            .ok_or_else(|| ApiError::not_found(format!("{kind} is not a vector layer")))
    }

    fn span(&self, kind: LayerKind, idx: usize) -> Result<(&LayerText, &Span), ApiError> {
        let layer = self.layer(kind)?;
        match layer.spans.get(idx) {
            Some(Ok(s)) => Ok((layer, s)),
            Some(Err(e)) => Err(ApiError::internal(e.clone())),
            None => Err(ApiError::not_found(format!("{kind} has no feature #{idx}"))),
        }
    }

    /// The feature at `idx` of `kind` as a GeoJSON Feature (shares the layer's buffer).
    pub fn feature(&self, kind: LayerKind, idx: usize) -> Result<Bytes, ApiError> {
        let (layer, s) = self.span(kind, idx)?;
        Ok(layer.text.slice(s.bytes.clone()))
    }

    /// Append the feature at `idx` to `out`, with `distance_m` (metres, rounded to the
    /// millimetre) added to its properties when given.
    fn write(
        &self,
        kind: LayerKind,
        idx: usize,
        distance: Option<f64>,
        out: &mut Vec<u8>,
    ) -> Result<(), ApiError> {
        let (layer, s) = self.span(kind, idx)?;
        let text = &layer.text[s.bytes.clone()];
        let Some(d) = distance else {
            out.extend_from_slice(text);
            return Ok(());
        };
        // The text ends with the properties' `}` and the feature's `}`.
        out.extend_from_slice(&text[..text.len() - 2]);
        if !s.no_properties {
            out.push(b',');
        }
        out.extend_from_slice(b"\"distance_m\":");
        serde_json::to_writer(&mut *out, &((d * 1000.0).round() / 1000.0))
            .map_err(|e| ApiError::internal(format!("writing distance_m: {e}")))?;
        out.extend_from_slice(b"}}");
        Ok(())
    }

    /// The features of `kind` whose served (WGS84) geometry intersects the box `[min lon,
    /// min lat, max lon, max lat]` (boundary included), ascending.
    pub fn query_bbox(&self, kind: LayerKind, b: [f64; 4]) -> Result<Vec<usize>, ApiError> {
        let layer = self.layer(kind)?;
        let rect = Rect::new(Coord { x: b[0], y: b[1] }, Coord { x: b[2], y: b[3] });
        let env = AABB::from_corners([b[0], b[1]], [b[2], b[3]]);
        let mut out: Vec<usize> = layer
            .tree
            .locate_in_envelope_intersecting(env)
            .filter(|e| env.contains_envelope(&e.env) || e.geom.intersects(&rect))
            .map(|e| e.idx)
            .collect();
        out.sort_unstable();
        Ok(out)
    }

    /// Check that every feature of `items` can be written (so that a streamed body never
    /// fails half-way).
    pub fn check(&self, kind: LayerKind, items: &[(usize, Option<f64>)]) -> Result<(), ApiError> {
        items
            .iter()
            .try_for_each(|&(i, _)| self.span(kind, i).map(|_| ()))
    }
}

/// Serialise one layer. The properties are written last so that a distance can be added to
/// them by [`FeatureText::write`] without parsing the text again.
fn layer_text(layer: &dyn VectorLayer, to_wgs84: &Reprojector) -> LayerText {
    let mut text = Vec::with_capacity(layer.len() * 512);
    let mut spans = Vec::with_capacity(layer.len());
    let mut entries = Vec::with_capacity(layer.len());
    for idx in 0..layer.len() {
        let start = text.len();
        let one = (|| -> Result<bool, String> {
            let f = layer
                .geojson(idx, to_wgs84)
                .ok_or("no such feature")?
                .map_err(|e| e.to_string())?;
            let props = f.properties.unwrap_or_default();
            if let Some(g) = &f.geometry {
                let geom = twin_core::export::geometry_from_geojson(&g.value)?;
                if let Some(r) = geom.bounding_rect() {
                    let (lo, hi) = (r.min(), r.max());
                    if [lo.x, lo.y, hi.x, hi.y].iter().all(|v| v.is_finite()) {
                        entries.push(WgsEntry {
                            idx,
                            env: AABB::from_corners([lo.x, lo.y], [hi.x, hi.y]),
                            geom,
                        });
                    }
                }
            }
            text.extend_from_slice(br#"{"type":"Feature","id":"#);
            let id = f.id.map(|id| match id {
                geojson::feature::Id::String(s) => serde_json::Value::String(s),
                geojson::feature::Id::Number(n) => serde_json::Value::Number(n),
            });
            serde_json::to_writer(&mut text, &id).map_err(|e| e.to_string())?;
            text.extend_from_slice(br#","geometry":"#);
            serde_json::to_writer(&mut text, &f.geometry).map_err(|e| e.to_string())?;
            text.extend_from_slice(br#","properties":"#);
            serde_json::to_writer(&mut text, &props).map_err(|e| e.to_string())?;
            text.push(b'}');
            Ok(props.is_empty())
        })();
        spans.push(match one {
            Ok(no_properties) => Ok(Span {
                bytes: start..text.len(),
                no_properties,
            }),
            Err(e) => {
                text.truncate(start);
                entries.retain(|e| e.idx != idx);
                let id = layer.id_at(idx).unwrap_or_default();
                tracing::warn!("feature {id}: {e}");
                Err(format!("feature {id}: {e}"))
            }
        });
    }
    text.shrink_to_fit();
    LayerText {
        text: Bytes::from(text),
        spans,
        tree: RTree::bulk_load(entries),
    }
}

/// A link of a feature collection or an OGC API document.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct Link {
    /// Relation (`next`, `prev`, `self`, `items`...).
    pub rel: String,
    /// The URL (absolute on the OGC routes, path and query on `/api`).
    pub href: String,
    /// Media type.
    #[serde(rename = "type")]
    pub media_type: String,
    /// A title, when there is one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
}

impl Link {
    /// A link without a title.
    pub fn new(rel: &str, href: impl Into<String>, media_type: &str) -> Link {
        Link {
            rel: rel.into(),
            href: href.into(),
            media_type: media_type.into(),
            title: None,
        }
    }
}

/// One page of a feature collection: the features (index, and distance for the routes that
/// give one), the count over all pages, links, and the OGC `timeStamp` when wanted.
#[derive(Debug)]
pub struct Page {
    /// The layer.
    pub layer: LayerKind,
    /// The features of this page, in order.
    pub items: Vec<(usize, Option<f64>)>,
    /// Features matching the query over all pages.
    pub number_matched: usize,
    /// Links (`next`, `prev`, `self`...).
    pub links: Vec<Link>,
    /// RFC 3339 time of the response (OGC API Features).
    pub time_stamp: Option<String>,
}

/// The members after the features: `],"numberMatched":..,"numberReturned":..,"links":[..]}`.
fn tail(page: &Page) -> Result<Vec<u8>, ApiError> {
    #[derive(Serialize)]
    struct Tail<'a> {
        #[serde(rename = "numberMatched")]
        number_matched: usize,
        #[serde(rename = "numberReturned")]
        number_returned: usize,
        links: &'a [Link],
        #[serde(rename = "timeStamp", skip_serializing_if = "Option::is_none")]
        time_stamp: Option<&'a str>,
    }
    let mut out = b"],".to_vec();
    let members = serde_json::to_vec(&Tail {
        number_matched: page.number_matched,
        number_returned: page.items.len(),
        links: &page.links,
        time_stamp: page.time_stamp.as_deref(),
    })
    .map_err(|e| ApiError::internal(format!("writing a feature collection: {e}")))?;
    // `{"numberMatched":...}` without its opening brace.
    out.extend_from_slice(&members[1..]);
    Ok(out)
}

/// The page as a streamed `application/geo+json` body: chunks of about [`CHUNK_BYTES`] copied
/// from the precomputed text as the client reads them. Every feature is checked first, so an
/// error is a whole JSON error response, never a truncated body.
pub fn stream(text: Arc<FeatureText>, page: Page) -> Result<Body, ApiError> {
    text.check(page.layer, &page.items)?;
    let tail = tail(&page)?;
    const HEAD: &[u8] = br#"{"type":"FeatureCollection","features":["#;
    let mut next = 0usize;
    let mut done = false;
    let chunks = std::iter::from_fn(move || {
        if done {
            return None;
        }
        let mut buf = Vec::with_capacity(CHUNK_BYTES + 4096);
        if next == 0 {
            buf.extend_from_slice(HEAD);
        }
        while next < page.items.len() && buf.len() < CHUNK_BYTES {
            if next > 0 {
                buf.push(b',');
            }
            let (idx, d) = page.items[next];
            // Checked above: cannot fail.
            if let Err(e) = text.write(page.layer, idx, d, &mut buf) {
                tracing::error!("writing a checked feature: {e:?}");
            }
            next += 1;
        }
        if next == page.items.len() {
            buf.extend_from_slice(&tail);
            done = true;
        }
        Some(Ok::<_, std::convert::Infallible>(Bytes::from(buf)))
    });
    Ok(Body::from_stream(futures_util::stream::iter(chunks)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures_util::StreamExt;

    fn sample() -> Twin {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../data/hue");
        twin_core::TwinDir::open(&dir).unwrap().load().unwrap()
    }

    /// Every feature's text is the JSON of `VectorLayer::geojson` (the one serialiser of
    /// features before the precomputation), and a distance lands in its properties.
    #[test]
    fn text_is_the_features_geojson_and_takes_a_distance() {
        let twin = sample();
        let text = FeatureText::build(&twin).unwrap();
        let t = Reprojector::new(&twin.crs, &Crs::wgs84()).unwrap();
        let mut checked = 0;
        for kind in LayerKind::VECTOR {
            let layer = twin.vector(kind).unwrap();
            for i in 0..layer.len() {
                let want = serde_json::to_value(layer.geojson(i, &t).unwrap().unwrap()).unwrap();
                let got: serde_json::Value =
                    serde_json::from_slice(&text.feature(kind, i).unwrap()).unwrap();
                assert_eq!(got, want, "{kind} #{i}");
                let mut out = Vec::new();
                text.write(kind, i, Some(12.34567), &mut out).unwrap();
                let with: serde_json::Value = serde_json::from_slice(&out).unwrap();
                assert_eq!(with["properties"]["distance_m"], 12.346, "{kind} #{i}");
                assert_eq!(with["geometry"], want["geometry"]);
                checked += 1;
            }
        }
        assert_eq!(
            checked,
            LayerKind::VECTOR
                .iter()
                .map(|k| twin.vector(*k).unwrap().len())
                .sum::<usize>()
        );
        assert!(text.feature(LayerKind::Buildings, usize::MAX).is_err());
    }

    /// Boxes find exactly the features whose served geometry (parsed back from the text)
    /// intersects them, by brute force over every feature.
    #[test]
    fn bbox_queries_match_brute_force_on_the_served_geometries() {
        let twin = sample();
        let text = FeatureText::build(&twin).unwrap();
        for b in [
            [107.57, 16.46, 107.58, 16.47],
            [107.55, 16.45, 107.6, 16.48],
            [107.5801, 16.4601, 107.5802, 16.4602],
            [-180.0, -90.0, 180.0, 90.0],
            [-80.0, -60.0, -70.0, -50.0],
        ] {
            let rect = Rect::new(Coord { x: b[0], y: b[1] }, Coord { x: b[2], y: b[3] });
            for kind in LayerKind::VECTOR {
                let n = twin.vector(kind).unwrap().len();
                let brute: Vec<usize> = (0..n)
                    .filter(|&i| {
                        let f: geojson::Feature =
                            serde_json::from_slice(&text.feature(kind, i).unwrap()).unwrap();
                        twin_core::export::geometry_from_geojson(&f.geometry.unwrap().value)
                            .unwrap()
                            .intersects(&rect)
                    })
                    .collect();
                assert_eq!(text.query_bbox(kind, b).unwrap(), brute, "{kind} {b:?}");
                if b[0] == -180.0 {
                    assert_eq!(brute.len(), n, "{kind}: the world holds every feature");
                }
            }
        }
    }

    /// A page larger than a chunk streams as several chunks that make one valid collection.
    #[tokio::test]
    async fn a_large_page_streams_in_chunks() {
        let twin = sample();
        let text = Arc::new(FeatureText::build(&twin).unwrap());
        let n = twin.buildings.len();
        let page = Page {
            layer: LayerKind::Buildings,
            items: (0..n).map(|i| (i, None)).collect(),
            number_matched: n + 5,
            links: vec![Link::new("next", "/x?offset=1", "application/geo+json")],
            time_stamp: Some("2026-12-06T21:00:00Z".into()),
        };
        let mut body = stream(text.clone(), page).unwrap().into_data_stream();
        let (mut chunks, mut bytes) = (0, Vec::new());
        while let Some(data) = body.next().await {
            let data = data.unwrap();
            assert!(data.len() < CHUNK_BYTES + 64 * 1024, "{}", data.len());
            bytes.extend_from_slice(&data);
            chunks += 1;
        }
        assert!(bytes.len() > 2 * CHUNK_BYTES, "{} bytes", bytes.len());
        assert!(
            chunks >= bytes.len() / (CHUNK_BYTES + 64 * 1024),
            "{chunks} chunks"
        );
        let v: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
        assert_eq!(v["type"], "FeatureCollection");
        assert_eq!(v["features"].as_array().unwrap().len(), n);
        assert_eq!(v["numberReturned"], n);
        assert_eq!(v["numberMatched"], n + 5);
        assert_eq!(v["links"][0]["rel"], "next");
        assert_eq!(v["timeStamp"], "2026-12-06T21:00:00Z");
        assert_eq!(
            v["features"][n - 1]["id"],
            twin.buildings.features()[n - 1].id
        );
        // An empty page is a valid collection too.
        let empty = Page {
            layer: LayerKind::Heritage,
            items: Vec::new(),
            number_matched: 0,
            links: Vec::new(),
            time_stamp: None,
        };
        let b = axum::body::to_bytes(stream(text, empty).unwrap(), usize::MAX)
            .await
            .unwrap();
        let v: serde_json::Value = serde_json::from_slice(&b).unwrap();
        assert_eq!(v["features"].as_array().unwrap().len(), 0);
        assert!(v.get("timeStamp").is_none());
    }
}
