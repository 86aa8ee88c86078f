//! The JSON API: layers with counts and extents, features by bounding box (paged), k-nearest
//! and radius queries, one feature by id, features intersecting a posted polygon, and the
//! heritage zones a point lies in. Coordinates in and out are WGS84 longitude/latitude;
//! features are RFC 7946 GeoJSON made once at start by [`crate::features::FeatureText`] (from
//! [`twin_core::export::feature_to_geojson`]) and streamed.
//!
//! The bbox query (in WGS84, on the geometries served) and one feature by id run on the
//! runtime's threads (an R-tree query and copies); nearest, radius, posted polygons and
//! heritage zones project their input into the twin's CRS on the blocking pool (PROJ
//! transforms are per thread and cached there).

use super::error::{ApiError, ErrorBody};
use super::AppState;
use crate::features::Page;
use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::extract::{FromRequest, FromRequestParts, Path, Request, State};
use axum::http::request::Parts;
use axum::http::{header, HeaderValue};
use axum::response::{IntoResponse, Response};
use geo_types::{Coord, Geometry, LineString, MultiPolygon, Point, Polygon};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use std::cell::RefCell;
use std::collections::HashMap;
use std::sync::Arc;
use twin_core::crs::{Crs, Reprojector};
use twin_core::export::geometry_from_geojson;
use twin_core::{LayerKind, Twin, VectorLayer};
use utoipa::{IntoParams, ToSchema};

/// Features returned by one request when `limit` is not given.
pub const DEFAULT_LIMIT: usize = 100;
/// Most features one request may ask for (`limit`, `k`).
pub const MAX_LIMIT: usize = 1000;
/// Largest search radius, metres.
pub const MAX_RADIUS_M: f64 = 50_000.0;
/// Most vertices in a posted polygon.
pub const MAX_POLYGON_VERTICES: usize = 10_000;

/// The vector layer named `s`, or a 404 naming the layers the API queries.
pub fn vector_kind(s: &str) -> Result<LayerKind, ApiError> {
    LayerKind::parse(s)
        .filter(|k| k.is_vector())
        .ok_or_else(|| {
            ApiError::not_found(format!(
                "unknown layer {s:?} (layers: {})",
                LayerKind::names(&LayerKind::VECTOR)
            ))
        })
}

/// The twin's vector layer of `kind` (a kind from [`vector_kind`]).
fn layer_of(twin: &Twin, kind: LayerKind) -> Result<&dyn VectorLayer, ApiError> {
    twin.vector(kind)
        .ok_or_else(|| ApiError::not_found(format!("{kind} is not a vector layer")))
}

// ---------------------------------------------------------------------------------------------
// Extractors whose rejections are JSON errors.

/// `Query<T>` answering a malformed query string with a JSON 400.
pub struct ApiQuery<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequestParts<S> for ApiQuery<T> {
    type Rejection = ApiError;
    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        axum::extract::Query::<T>::from_request_parts(parts, state)
            .await
            .map(|q| ApiQuery(q.0))
            .map_err(|e: QueryRejection| ApiError::bad_request(e.body_text()))
    }
}

/// `Json<T>` answering a malformed, oversized or mistyped body with a JSON error of the
/// rejection's status (400, 413, 415, 422).
pub struct ApiJson<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for ApiJson<T> {
    type Rejection = ApiError;
    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        axum::Json::<T>::from_request(req, state)
            .await
            .map(|j| ApiJson(j.0))
            .map_err(|e: JsonRejection| ApiError::new(e.status(), e.body_text()))
    }
}

// ---------------------------------------------------------------------------------------------
// Per-thread PROJ transforms.

thread_local! {
    static REPROJECTORS: RefCell<HashMap<(String, String), std::rc::Rc<Reprojector>>> =
        RefCell::new(HashMap::new());
}

fn reprojector(from: &Crs, to: &Crs) -> Result<std::rc::Rc<Reprojector>, ApiError> {
    let key = (from.definition().to_string(), to.definition().to_string());
    if let Some(r) = REPROJECTORS.with(|m| m.borrow().get(&key).cloned()) {
        return Ok(r);
    }
    let r = std::rc::Rc::new(Reprojector::new(from, to)?);
    REPROJECTORS.with(|m| m.borrow_mut().insert(key, r.clone()));
    Ok(r)
}

/// Run query work on the blocking pool.
pub(crate) async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, ApiError> + Send + 'static,
) -> Result<T, ApiError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| ApiError::internal(format!("query task failed: {e}")))?
}

// ---------------------------------------------------------------------------------------------
// Input checks.

fn check_lon_lat(lon: f64, lat: f64, what: &str) -> Result<(), ApiError> {
    if !(lon.is_finite() && lat.is_finite()) {
        return Err(ApiError::bad_request(format!(
            "{what}: longitude and latitude must be finite numbers (got {lon}, {lat})"
        )));
    }
    if !(-180.0..=180.0).contains(&lon) || !(-90.0..=90.0).contains(&lat) {
        return Err(ApiError::bad_request(format!(
            "{what}: ({lon}, {lat}) is outside longitude -180..180, latitude -90..90"
        )));
    }
    Ok(())
}

/// Parse `min_lon,min_lat,max_lon,max_lat`.
pub fn parse_bbox(s: &str) -> Result<[f64; 4], ApiError> {
    let parts: Vec<&str> = s.split(',').map(str::trim).collect();
    if parts.len() != 4 {
        return Err(ApiError::bad_request(format!(
            "bbox {s:?}: expected min_lon,min_lat,max_lon,max_lat"
        )));
    }
    let mut v = [0.0; 4];
    for (i, p) in parts.iter().enumerate() {
        v[i] = p
            .parse::<f64>()
            .map_err(|_| ApiError::bad_request(format!("bbox {s:?}: {p:?} is not a number")))?;
    }
    check_lon_lat(v[0], v[1], "bbox")?;
    check_lon_lat(v[2], v[3], "bbox")?;
    if v[0] > v[2] || v[1] > v[3] {
        return Err(ApiError::bad_request(format!(
            "bbox {s:?}: min must not exceed max (boxes across the antimeridian are not supported)"
        )));
    }
    Ok(v)
}

fn check_limit(limit: Option<usize>, what: &str) -> Result<usize, ApiError> {
    let limit = limit.unwrap_or(DEFAULT_LIMIT);
    if limit > MAX_LIMIT {
        return Err(ApiError::bad_request(format!(
            "{what} {limit} is over the maximum of {MAX_LIMIT}"
        )));
    }
    Ok(limit)
}

/// Project WGS84 points into the twin's CRS, as a 400 when PROJ cannot.
pub(crate) fn to_project(
    twin: &Twin,
    pts: &[(f64, f64)],
    what: &str,
) -> Result<Vec<Coord<f64>>, ApiError> {
    let t = reprojector(&Crs::wgs84(), &twin.crs)?;
    pts.iter()
        .map(|&(lon, lat)| {
            t.apply(lon, lat).map(|(x, y)| Coord { x, y }).map_err(|e| {
                ApiError::bad_request(format!(
                    "{what}: ({lon}, {lat}) cannot be projected into the twin's CRS: {e}"
                ))
            })
        })
        .collect()
}

// ---------------------------------------------------------------------------------------------
// Output.

pub use crate::features::Link;

/// A GeoJSON FeatureCollection (RFC 7946) with paging members as in OGC API Features (the
/// schema of the answers; they are written from the precomputed text of
/// [`crate::features::FeatureText`]).
#[derive(Debug, Serialize, ToSchema)]
pub struct FeatureCollection {
    /// Always `FeatureCollection`.
    #[serde(rename = "type")]
    #[schema(example = "FeatureCollection")]
    pub kind: &'static str,
    /// The features: WGS84 geometry, `id`, and the layer's properties.
    #[schema(value_type = Vec<Object>)]
    pub features: Vec<geojson::Feature>,
    /// Features matching the query, over all pages.
    #[serde(rename = "numberMatched")]
    pub number_matched: usize,
    /// Features in this response.
    #[serde(rename = "numberReturned")]
    pub number_returned: usize,
    /// `next` when there are more (on the OGC routes also `self` and `prev`).
    pub links: Vec<Link>,
    /// When the response was made (RFC 3339, OGC routes only).
    #[serde(rename = "timeStamp", skip_serializing_if = "Option::is_none")]
    pub time_stamp: Option<String>,
}

/// `application/geo+json`, not cached (the twin can be rebuilt).
pub(crate) const GEOJSON_HEADERS: [(header::HeaderName, HeaderValue); 2] = [
    (
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/geo+json"),
    ),
    (header::CACHE_CONTROL, HeaderValue::from_static("no-cache")),
];

/// A page of features as a streamed GeoJSON response.
pub(crate) fn page_response(state: &AppState, page: Page) -> Result<Response, ApiError> {
    let body = crate::features::stream(state.features.clone(), page)?;
    Ok((GEOJSON_HEADERS, body).into_response())
}

/// The page `offset..offset + limit` of `matched`, with a `next` link (made by `next` from the
/// next offset) when there are more.
fn paged(
    layer: LayerKind,
    matched: Vec<(usize, Option<f64>)>,
    offset: usize,
    limit: usize,
    next: impl Fn(usize) -> String,
) -> Page {
    let total = matched.len();
    let start = offset.min(total);
    let end = start.saturating_add(limit).min(total);
    let mut links = Vec::new();
    // No `next` for `limit=0` (a count): it would point at the same page forever.
    if end < total && limit > 0 {
        links.push(Link::new("next", next(end), "application/geo+json"));
    }
    let mut items = matched;
    items.truncate(end);
    items.drain(..start);
    Page {
        layer,
        items,
        number_matched: total,
        links,
        time_stamp: None,
    }
}

/// One feature of a layer by id, from the precomputed text.
pub(crate) fn one_feature(
    state: &AppState,
    layer: LayerKind,
    id: &str,
) -> Result<Response, ApiError> {
    let not_found = || ApiError::not_found(format!("{layer} has no feature {id:?}"));
    let i = layer_of(&state.twin, layer)?
        .position(id)
        .ok_or_else(not_found)?;
    Ok((GEOJSON_HEADERS, state.features.feature(layer, i)?).into_response())
}

/// The features of `layer` intersecting a WGS84 box (the whole layer when none), ascending,
/// tested on the geometries served ([`crate::features::FeatureText::query_bbox`]).
pub fn features_in_bbox(
    state: &AppState,
    layer: LayerKind,
    bbox: Option<[f64; 4]>,
) -> Result<Vec<usize>, ApiError> {
    match bbox {
        None => Ok((0..layer_of(&state.twin, layer)?.len()).collect()),
        Some(b) => state.features.query_bbox(layer, b),
    }
}

// ---------------------------------------------------------------------------------------------
// Handlers.

/// A layer's summary.
#[derive(Debug, Serialize, ToSchema)]
pub struct LayerSummary {
    /// The layer's name.
    pub name: String,
    /// Features (grids and clouds count one each).
    pub count: usize,
    /// Points (point clouds) or cells (terrain), when relevant.
    pub points: Option<usize>,
    /// (xmin, ymin, xmax, ymax) in the project CRS, metres.
    pub extent: Option<[f64; 4]>,
    /// (min_lon, min_lat, max_lon, max_lat), WGS84.
    pub bbox: Option<[f64; 4]>,
    /// True when the features API answers for the layer.
    pub queryable: bool,
    /// The layer's 3D Tiles tileset, when it has one.
    pub tileset: Option<String>,
}

/// The twin and its layers.
#[derive(Debug, Serialize, ToSchema)]
pub struct LayerList {
    /// The twin's name.
    pub twin: String,
    /// The project CRS (definition).
    pub crs: String,
    /// The project CRS's name.
    pub crs_name: String,
    /// The whole twin's WGS84 box.
    pub bbox: Option<[f64; 4]>,
    /// The top tileset joining every layer's, when there are any.
    pub tileset: Option<String>,
    /// The layers.
    pub layers: Vec<LayerSummary>,
    /// The citizen reports' Open311 endpoint (`/open311/v2/`), when the server takes reports
    /// (it does when it serves a twin folder); the viewer shows the reports layer only then.
    pub reports: Option<String>,
    /// The SensorThings API's root (`/v1.1`), when the server keeps live data (a twin folder or
    /// a live store); the viewer shows the sensors layer only then.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sensors: Option<String>,
    /// The data's credit from `twin.toml`'s `attribution` (e.g. `© OpenStreetMap
    /// contributors`), when the server serves a twin folder that names one; the viewer shows it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub attribution: Option<String>,
}

/// Summaries of every layer (computed once at start-up).
pub fn layer_list(
    twin: &Twin,
    tile_layers: &[String],
    reports: bool,
) -> Result<LayerList, ApiError> {
    let wgs = |e: Option<[f64; 4]>| -> Result<Option<[f64; 4]>, ApiError> {
        Ok(e.map(|e| twin.extent_wgs84(e)).transpose()?)
    };
    let mut layers = Vec::new();
    for l in twin.info() {
        layers.push(LayerSummary {
            name: l.layer.to_string(),
            count: l.count,
            points: l.points,
            extent: l.extent,
            bbox: wgs(l.extent)?,
            queryable: vector_kind(l.layer).is_ok(),
            tileset: tile_layers
                .iter()
                .any(|t| t == l.layer)
                .then(|| format!("/tiles/{}/tileset.json", l.layer)),
        });
    }
    Ok(LayerList {
        twin: twin.name.clone(),
        crs: twin.crs.definition().to_string(),
        crs_name: twin.crs.name().to_string(),
        bbox: wgs(twin.extent())?,
        tileset: (!tile_layers.is_empty()).then(|| "/tiles/tileset.json".to_string()),
        layers,
        reports: reports.then(|| "/open311/v2/".to_string()),
        sensors: None,
        attribution: None,
    })
}

/// `GET /api/layers`
#[utoipa::path(get, path = "/api/layers", tag = "features",
    responses((status = 200, description = "The twin's layers with counts and extents", body = LayerList)))]
pub async fn list_layers(State(state): State<Arc<AppState>>) -> Response {
    (
        [(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"))],
        axum::Json(&*state.layers),
    )
        .into_response()
}

/// Query of `GET /api/layers/{layer}/features`.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct BboxQuery {
    /// `min_lon,min_lat,max_lon,max_lat` (WGS84); the whole layer when absent.
    pub bbox: Option<String>,
    /// Features per page (default 100, at most 1000).
    pub limit: Option<usize>,
    /// Features to skip (default 0).
    pub offset: Option<usize>,
}

/// `GET /api/layers/{layer}/features`: features intersecting a box, in load order, paged.
#[utoipa::path(get, path = "/api/layers/{layer}/features", tag = "features",
    params(("layer" = String, Path, description = "buildings, heritage, sensors, roads, water or landuse"), BboxQuery),
    responses(
        (status = 200, description = "GeoJSON FeatureCollection", body = FeatureCollection, content_type = "application/geo+json"),
        (status = 400, description = "Bad bbox, limit or offset", body = ErrorBody),
        (status = 404, description = "Unknown layer", body = ErrorBody)))]
pub async fn features_bbox(
    State(state): State<Arc<AppState>>,
    Path(layer): Path<String>,
    ApiQuery(q): ApiQuery<BboxQuery>,
) -> Result<Response, ApiError> {
    let layer = vector_kind(&layer)?;
    let bbox = q.bbox.as_deref().map(parse_bbox).transpose()?;
    let limit = check_limit(q.limit, "limit")?;
    let offset = q.offset.unwrap_or(0);
    // On the runtime's thread: an R-tree query and copies of precomputed text, nothing slow
    // to move to the blocking pool.
    let matched = features_in_bbox(&state, layer, bbox)?;
    let bbox_q = q
        .bbox
        .as_deref()
        .map(|b| format!("bbox={b}&"))
        .unwrap_or_default();
    let matched = matched.into_iter().map(|i| (i, None)).collect();
    let page = paged(layer, matched, offset, limit, |next| {
        format!(
            "/api/layers/{}/features?{bbox_q}limit={limit}&offset={next}",
            layer.name()
        )
    });
    page_response(&state, page)
}

/// `GET /api/layers/{layer}/features/{id}`: one feature; the id keeps its slashes
/// (`/api/layers/buildings/features/osm:way/123`).
#[utoipa::path(get, path = "/api/layers/{layer}/features/{id}", tag = "features",
    params(("layer" = String, Path, description = "buildings, heritage, sensors, roads, water or landuse"),
           ("id" = String, Path, description = "feature id, slashes written as they are (osm:way/123)")),
    responses(
        (status = 200, description = "GeoJSON Feature", body = Object, content_type = "application/geo+json"),
        (status = 404, description = "Unknown layer or feature", body = ErrorBody)))]
pub async fn feature_by_id(
    State(state): State<Arc<AppState>>,
    Path((layer, id)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    one_feature(&state, vector_kind(&layer)?, &id)
}

/// Query of `GET /api/layers/{layer}/nearest`.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct NearestQuery {
    /// Longitude (WGS84).
    pub lon: f64,
    /// Latitude (WGS84).
    pub lat: f64,
    /// How many features (default 10, at most 1000).
    pub k: Option<usize>,
}

/// `GET /api/layers/{layer}/nearest`: the k features nearest to a point, nearest first, with
/// `distance_m` (to the geometry, 0 inside a polygon, in the project CRS).
#[utoipa::path(get, path = "/api/layers/{layer}/nearest", tag = "features",
    params(("layer" = String, Path, description = "buildings, heritage, sensors, roads, water or landuse"), NearestQuery),
    responses(
        (status = 200, description = "GeoJSON FeatureCollection, nearest first", body = FeatureCollection, content_type = "application/geo+json"),
        (status = 400, description = "Bad point or k", body = ErrorBody),
        (status = 404, description = "Unknown layer", body = ErrorBody)))]
pub async fn nearest(
    State(state): State<Arc<AppState>>,
    Path(layer): Path<String>,
    ApiQuery(q): ApiQuery<NearestQuery>,
) -> Result<Response, ApiError> {
    let layer = vector_kind(&layer)?;
    check_lon_lat(q.lon, q.lat, "point")?;
    let k = check_limit(Some(q.k.unwrap_or(10)), "k")?;
    let twin = state.twin.clone();
    let page = blocking(move || {
        let p = to_project(&twin, &[(q.lon, q.lat)], "point")?[0];
        let found = layer_of(&twin, layer)?.query_nearest(Point(p), k)?;
        let matched = found.into_iter().map(|(i, d)| (i, Some(d))).collect();
        Ok(paged(layer, matched, 0, k, |_| String::new()))
    })
    .await?;
    page_response(&state, page)
}

/// Query of `GET /api/layers/{layer}/within`.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct RadiusQuery {
    /// Longitude (WGS84).
    pub lon: f64,
    /// Latitude (WGS84).
    pub lat: f64,
    /// Radius in metres (at most 50 000).
    pub radius: f64,
    /// Features per page (default 100, at most 1000).
    pub limit: Option<usize>,
    /// Features to skip.
    pub offset: Option<usize>,
}

/// `GET /api/layers/{layer}/within`: features within a radius of a point, nearest first,
/// with `distance_m`, paged.
#[utoipa::path(get, path = "/api/layers/{layer}/within", tag = "features",
    params(("layer" = String, Path, description = "buildings, heritage, sensors, roads, water or landuse"), RadiusQuery),
    responses(
        (status = 200, description = "GeoJSON FeatureCollection, nearest first", body = FeatureCollection, content_type = "application/geo+json"),
        (status = 400, description = "Bad point, radius or limit", body = ErrorBody),
        (status = 404, description = "Unknown layer", body = ErrorBody)))]
pub async fn within(
    State(state): State<Arc<AppState>>,
    Path(layer): Path<String>,
    ApiQuery(q): ApiQuery<RadiusQuery>,
) -> Result<Response, ApiError> {
    let layer = vector_kind(&layer)?;
    check_lon_lat(q.lon, q.lat, "point")?;
    if !(q.radius.is_finite() && (0.0..=MAX_RADIUS_M).contains(&q.radius)) {
        return Err(ApiError::bad_request(format!(
            "radius {} must be a number of metres in 0..={MAX_RADIUS_M}",
            q.radius
        )));
    }
    let limit = check_limit(q.limit, "limit")?;
    let offset = q.offset.unwrap_or(0);
    let twin = state.twin.clone();
    let page = blocking(move || {
        let p = to_project(&twin, &[(q.lon, q.lat)], "point")?[0];
        let found = layer_of(&twin, layer)?.query_radius(Point(p), q.radius)?;
        let matched = found.into_iter().map(|(i, d)| (i, Some(d))).collect();
        Ok(paged(layer, matched, offset, limit, |next| {
            format!(
                "/api/layers/{}/within?lon={}&lat={}&radius={}&limit={limit}&offset={next}",
                layer.name(),
                q.lon,
                q.lat,
                q.radius
            )
        }))
    })
    .await?;
    page_response(&state, page)
}

/// The area of a `POST .../intersects` body, checked: a GeoJSON Polygon or MultiPolygon (the
/// server's own heritage shapes are MultiPolygons) whose every position has two finite numbers
/// (checked before conversion: the geojson crate's own conversion indexes positions and panics
/// on `[107.5]` or `[]`), at most [`MAX_POLYGON_VERTICES`] vertices in all, every exterior ring
/// of at least 4 positions, every position a WGS84 longitude/latitude. Any other body is a 400
/// naming what is wrong. The fuzz target `api_intersects` (crate `fuzz`) runs it on mutated
/// bodies.
pub fn polygon_from_body(value: &geojson::GeometryValue) -> Result<MultiPolygon<f64>, ApiError> {
    let area = match geometry_from_geojson(value) {
        Ok(Geometry::Polygon(p)) => MultiPolygon(vec![p]),
        Ok(Geometry::MultiPolygon(m)) => m,
        Ok(other) => {
            return Err(ApiError::bad_request(format!(
                "body: not a GeoJSON Polygon or MultiPolygon but a {}",
                geometry_kind(&other)
            )))
        }
        Err(e) => {
            return Err(ApiError::bad_request(format!(
                "body: not a valid GeoJSON Polygon or MultiPolygon: {e}"
            )))
        }
    };
    if area.0.is_empty() {
        return Err(ApiError::bad_request(
            "body: a MultiPolygon with no polygon",
        ));
    }
    let n: usize = area
        .0
        .iter()
        .map(|p| p.exterior().0.len() + p.interiors().iter().map(|r| r.0.len()).sum::<usize>())
        .sum();
    if n > MAX_POLYGON_VERTICES {
        return Err(ApiError::bad_request(format!(
            "polygon has {n} vertices, more than {MAX_POLYGON_VERTICES}"
        )));
    }
    for (k, poly) in area.0.iter().enumerate() {
        if poly.exterior().0.len() < 4 {
            return Err(ApiError::bad_request(format!(
                "polygon {k}: the exterior ring needs at least 4 positions"
            )));
        }
        for c in poly
            .exterior()
            .0
            .iter()
            .chain(poly.interiors().iter().flat_map(|r| r.0.iter()))
        {
            check_lon_lat(c.x, c.y, "polygon")?;
        }
    }
    Ok(area)
}

/// Query of `POST /api/layers/{layer}/intersects`.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PageQuery {
    /// Features per page (default 100, at most 1000).
    pub limit: Option<usize>,
    /// Features to skip.
    pub offset: Option<usize>,
}

/// `POST /api/layers/{layer}/intersects` with a GeoJSON Polygon or MultiPolygon (WGS84) as the body: the
/// features intersecting it, in load order, paged.
#[utoipa::path(post, path = "/api/layers/{layer}/intersects", tag = "features",
    params(("layer" = String, Path, description = "buildings, heritage, sensors, roads, water or landuse"), PageQuery),
    request_body(content = Object, description = "A GeoJSON Polygon or MultiPolygon geometry in WGS84 (at most 10 000 vertices; the body at most 64 KiB)", content_type = "application/json"),
    responses(
        (status = 200, description = "GeoJSON FeatureCollection", body = FeatureCollection, content_type = "application/geo+json"),
        (status = 400, description = "Not a valid polygon", body = ErrorBody),
        (status = 404, description = "Unknown layer", body = ErrorBody),
        (status = 413, description = "Body over the limit", body = ErrorBody)))]
pub async fn intersects(
    State(state): State<Arc<AppState>>,
    Path(layer): Path<String>,
    ApiQuery(q): ApiQuery<PageQuery>,
    ApiJson(geom): ApiJson<geojson::Geometry>,
) -> Result<Response, ApiError> {
    let layer = vector_kind(&layer)?;
    let limit = check_limit(q.limit, "limit")?;
    let offset = q.offset.unwrap_or(0);
    let poly = polygon_from_body(&geom.value)?;
    let twin = state.twin.clone();
    let page = blocking(move || {
        let ring = |r: &LineString<f64>| -> Result<LineString<f64>, ApiError> {
            let pts: Vec<(f64, f64)> = r.0.iter().map(|c| (c.x, c.y)).collect();
            Ok(LineString(to_project(&twin, &pts, "polygon")?))
        };
        let projected = poly
            .0
            .iter()
            .map(|p| {
                Ok(Polygon::new(
                    ring(p.exterior())?,
                    p.interiors().iter().map(ring).collect::<Result<_, _>>()?,
                ))
            })
            .collect::<Result<Vec<_>, ApiError>>()?;
        let matched = layer_of(&twin, layer)?.query_multipolygon(&MultiPolygon(projected))?;
        let matched = matched.into_iter().map(|i| (i, None)).collect();
        Ok(paged(layer, matched, offset, limit, |_| String::new()))
    })
    .await?;
    page_response(&state, page)
}

fn geometry_kind(g: &Geometry<f64>) -> &'static str {
    match g {
        Geometry::Point(_) => "Point",
        Geometry::MultiPoint(_) => "MultiPoint",
        Geometry::LineString(_) | Geometry::Line(_) => "LineString",
        Geometry::MultiLineString(_) => "MultiLineString",
        Geometry::Polygon(_) | Geometry::Rect(_) | Geometry::Triangle(_) => "Polygon",
        Geometry::MultiPolygon(_) => "MultiPolygon",
        Geometry::GeometryCollection(_) => "GeometryCollection",
    }
}

/// Query of `GET /api/heritage/zones`.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PointQuery {
    /// Longitude (WGS84).
    pub lon: f64,
    /// Latitude (WGS84).
    pub lat: f64,
}

/// `GET /api/heritage/zones`: the heritage sites (with their protection zones) that contain a
/// point (on the boundary counts as inside).
#[utoipa::path(get, path = "/api/heritage/zones", tag = "heritage",
    params(PointQuery),
    responses(
        (status = 200, description = "GeoJSON FeatureCollection of the heritage sites containing the point", body = FeatureCollection, content_type = "application/geo+json"),
        (status = 400, description = "Bad point", body = ErrorBody)))]
pub async fn heritage_zones(
    State(state): State<Arc<AppState>>,
    ApiQuery(q): ApiQuery<PointQuery>,
) -> Result<Response, ApiError> {
    check_lon_lat(q.lon, q.lat, "point")?;
    let twin = state.twin.clone();
    let page = blocking(move || {
        let p = to_project(&twin, &[(q.lon, q.lat)], "point")?[0];
        // Distance 0 from a polygon: inside it or on its boundary.
        let found = twin.heritage.query_radius(Point(p), 0.0)?;
        let matched = found.into_iter().map(|(i, _)| (i, None)).collect();
        Ok(paged(LayerKind::Heritage, matched, 0, MAX_LIMIT, |_| {
            String::new()
        }))
    })
    .await?;
    page_response(&state, page)
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::StatusCode;

    #[test]
    fn bboxes() {
        assert_eq!(
            parse_bbox("107.5,16.4,107.6,16.5").unwrap(),
            [107.5, 16.4, 107.6, 16.5]
        );
        for bad in [
            "1,2,3",
            "a,b,c,d",
            "NaN,16,107,17",
            "107,16,inf,17",
            "107.6,16.4,107.5,16.5",
            "200,0,201,1",
            "0,-91,1,0",
        ] {
            assert_eq!(
                parse_bbox(bad).unwrap_err().status,
                StatusCode::BAD_REQUEST,
                "{bad}"
            );
        }
    }

    #[test]
    fn limits() {
        assert_eq!(check_limit(None, "limit").unwrap(), DEFAULT_LIMIT);
        assert_eq!(check_limit(Some(MAX_LIMIT), "limit").unwrap(), MAX_LIMIT);
        assert!(check_limit(Some(MAX_LIMIT + 1), "limit").is_err());
    }
}
