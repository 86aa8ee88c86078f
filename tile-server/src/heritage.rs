//! Heritage routes over the `heritage` crate's engines: a proposed building checked against the
//! twin's protection zones and protected views, and the existing buildings that break them.
//!
//! | route | what |
//! |---|---|
//! | `POST /api/heritage/check` | a proposal (GeoJSON Feature, WGS84, `height` or `storeys`) → the verdict per rule |
//! | `GET /api/heritage/breaches` | the existing buildings over the zones' height limits or the views' planes |
//! | `GET /api/heritage/exposure` | monument flood exposure across the twin's finished flood runs, ranked |
//! | `POST /api/heritage/viewshed` | a viewshed from a point (and what a proposal hides) → GeoTIFF or GeoJSON |
//! | `GET`/`POST /api/heritage/sightlines` | the protected sightlines (with a proposal) → GeoJSON lines, clear or where blocked |
//!
//! The check, the viewshed and the sightlines write nothing: they are reads with a body
//! ([`crate::auth::READS_WITH_BODY`]), bounded in size (the body limit, the proposal's vertices)
//! and in work (the viewshed's radius and cells). The rules are resolved once, when the server
//! starts ([`crate::AppState::heritage`]).

use crate::api::blocking;
use crate::error::{ApiError, ErrorBody};
use crate::AppState;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::Json;
use heritage::{Breach, Rules, Verdict};
use serde::Deserialize;
use std::sync::Arc;
use twin_core::crs::{Crs, Reprojector};

impl From<heritage::HeritageError> for ApiError {
    fn from(e: heritage::HeritageError) -> Self {
        match e {
            heritage::HeritageError::Parse { .. } | heritage::HeritageError::Invalid { .. } => {
                ApiError::bad_request(e.to_string())
            }
            // A malformed upload read by twin-core's importers (a CityJSON proposal).
            heritage::HeritageError::Twin(t @ twin_core::TwinError::Parse { .. }) => {
                ApiError::bad_request(t.to_string())
            }
            heritage::HeritageError::Twin(t) => t.into(),
            other => ApiError::internal(other.to_string()),
        }
    }
}

/// The rules of the twin served: its folder's `heritage_rules.toml` resolved against it, or
/// the defaults (zones from the heritage layer alone) when the server knows no folder.
pub fn load_rules(
    twin: &twin_core::Twin,
    dir: Option<&std::path::Path>,
) -> Result<Rules, ApiError> {
    let rules = match dir {
        Some(d) => Rules::load(d, twin),
        None => Rules::resolve(twin, heritage::RulesFile::default()),
    };
    rules.map_err(|e| ApiError::internal(format!("heritage rules: {e}")))
}

/// `POST /api/heritage/check`: the verdict on a proposed building, a row per rule with its
/// numbers (zones hit, height against limit, roof, setback, protected views' planes).
#[utoipa::path(post, path = "/api/heritage/check", tag = "heritage",
    request_body(content = Object, description = "A GeoJSON Feature in WGS84: a Polygon or MultiPolygon footprint with `height` (m) or `storeys`, optionally `roof:shape` and `name` (at most 10 000 vertices); or a CityJSON 1.1/2.0 document of one building (LoD1/LoD2 solids) whose metadata.referenceSystem is the twin's CRS or WGS84", content_type = "application/json"),
    responses(
        (status = 200, description = "The verdict: `permitted`, the zones hit and `rules` (rule, under, outcome pass/fail/not_assessed, value, limit, detail)", body = Object, content_type = "application/json"),
        (status = 400, description = "Not a proposal the check can read", body = ErrorBody),
        (status = 413, description = "Body over the limit", body = ErrorBody)))]
pub async fn check(
    State(state): State<Arc<AppState>>,
    body: Bytes,
) -> Result<Json<Verdict>, ApiError> {
    let text = String::from_utf8(body.to_vec())
        .map_err(|e| ApiError::bad_request(format!("proposal: not UTF-8: {e}")))?;
    let (twin, rules) = (state.twin.clone(), state.heritage.clone());
    let v = blocking(move || {
        let p = heritage::Proposal::read(&text, "proposal", &twin, &rules)?;
        Ok(heritage::check(&twin, &rules, &p))
    })
    .await?;
    Ok(Json(v))
}

/// `GET /api/heritage/breaches`: the existing buildings over the height limits of the buffer
/// zones and view corridors, or above a protected view's threshold plane.
#[utoipa::path(get, path = "/api/heritage/breaches", tag = "heritage",
    responses(
        (status = 200, description = "Rows of building, name, rule (height_limit or protected_view), under (site or view), value, limit, excess (m)", body = Object, content_type = "application/json")))]
pub async fn breaches(State(state): State<Arc<AppState>>) -> Result<Json<Vec<Breach>>, ApiError> {
    let (twin, rules) = (state.twin.clone(), state.heritage.clone());
    Ok(Json(
        blocking(move || Ok(heritage::breaches(&twin, &rules))).await?,
    ))
}

/// `GET /api/heritage/exposure`: monument × finished flood run (largest depth on the
/// monument's own ground, hours wet, hours above the hazard depth, first wet time; where the
/// heritage layer gives the monument's floor level `floor_m`, the depth and the hours above
/// it), the most exposed first; empty when the server knows no twin folder.
#[utoipa::path(get, path = "/api/heritage/exposure", tag = "heritage",
    responses(
        (status = 200, description = "`runs` (id, name) and `monuments` (rank, site, name, zone, floor_m or null, runs: per run max_depth_m, hours_wet, hours_above_hazard, first_wet_h, above_floor_m, hours_above_floor (each null when unknown) or null, worst_depth_m)", body = Object, content_type = "application/json")))]
pub async fn exposure(
    State(state): State<Arc<AppState>>,
) -> Result<Json<heritage::exposure::ExposureTable>, ApiError> {
    let Some(runs) = state.runs.clone() else {
        return Ok(Json(heritage::exposure::ExposureTable {
            runs: Vec::new(),
            monuments: Vec::new(),
        }));
    };
    let dir = runs.twin_dir().to_path_buf();
    let twin = state.twin.clone();
    Ok(Json(
        blocking(move || Ok(heritage::exposure::exposure_table(&twin, &dir)?)).await?,
    ))
}

/// The largest viewshed radius (m) the API computes.
pub const MAX_VIEWSHED_RADIUS_M: f64 = 10_000.0;
/// The most cells of a viewshed window the API computes.
pub const MAX_VIEWSHED_CELLS: usize = 1_000_000;

fn default_observer_height() -> f64 {
    2.0
}
fn default_cc() -> f64 {
    heritage::plane::CC_DEFAULT
}

/// What `POST /api/heritage/viewshed` answers with.
#[derive(Clone, Copy, Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum ViewshedFormat {
    /// A float32 GeoTIFF in the twin's CRS: band 1 seen (1) or hidden (0), NaN no data or
    /// beyond the radius; band 2 (with a proposal) 1 where the proposal hides a cell seen today.
    #[default]
    Geotiff,
    /// GeoJSON in WGS84 for a map to drape: a Polygon per row run of seen cells
    /// (`state` "seen") and of cells the proposal hides (`state` "lost").
    Geojson,
}

/// The body of `POST /api/heritage/viewshed` (the options of `gdal_viewshed`).
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ViewshedRequest {
    /// Observer longitude (WGS84).
    pub lon: f64,
    /// Observer latitude (WGS84).
    pub lat: f64,
    /// Observer above the ground of its cell (m), gdal_viewshed `-oz` (default 2).
    #[serde(default = "default_observer_height")]
    pub height: f64,
    /// Target above the ground of each cell (m), `-tz` (default 0).
    #[serde(default)]
    pub target_height: f64,
    /// Largest distance (m), `-md`: at most 10 000 m and 1 000 000 cells.
    pub radius: f64,
    /// Curvature coefficient, `-cc`: 0.85714 curvature and refraction (default), 1 curvature
    /// only, 0 none.
    #[serde(default = "default_cc")]
    pub cc: f64,
    /// A proposed building (a GeoJSON Feature or a CityJSON document, as for the check): the
    /// answer also gives the cells it would hide.
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    pub proposal: Option<serde_json::Value>,
    /// `geotiff` (default) or `geojson`.
    #[serde(default)]
    pub format: ViewshedFormat,
}

fn to_project(twin: &twin_core::Twin, lon: f64, lat: f64) -> Result<(f64, f64), ApiError> {
    if !(lon.is_finite()
        && lat.is_finite()
        && (-180.0..=180.0).contains(&lon)
        && (-90.0..=90.0).contains(&lat))
    {
        return Err(ApiError::bad_request(format!(
            "({lon}, {lat}) is not a WGS84 lon/lat"
        )));
    }
    Ok(Reprojector::new(&Crs::wgs84(), &twin.crs)?.apply(lon, lat)?)
}

fn read_proposal(
    v: Option<serde_json::Value>,
    twin: &twin_core::Twin,
    rules: &Rules,
) -> Result<Option<heritage::Proposal>, ApiError> {
    match v {
        None | Some(serde_json::Value::Null) => Ok(None),
        Some(v) => Ok(Some(heritage::Proposal::read(
            &v.to_string(),
            "proposal",
            twin,
            rules,
        )?)),
    }
}

fn parse_body<T: serde::de::DeserializeOwned>(body: &[u8], what: &str) -> Result<T, ApiError> {
    serde_json::from_slice(body).map_err(|e| ApiError::bad_request(format!("{what}: {e}")))
}

/// `POST /api/heritage/viewshed`: the viewshed from a point over the twin's DEM with its
/// buildings burnt in (exact line of sight in `gdal_viewshed`'s conventions), within a radius,
/// with what a proposal would hide; as a GeoTIFF or as GeoJSON to drape.
#[utoipa::path(post, path = "/api/heritage/viewshed", tag = "heritage",
    request_body(content = ViewshedRequest, description = "The observer (WGS84 lon/lat, height above the ground), the radius (m, at most 10 000 and 1 000 000 cells), the curvature coefficient, optionally a proposal, and the format", content_type = "application/json"),
    responses(
        (status = 200, description = "GeoTIFF (band 1 seen 1 / hidden 0 / NaN outside; band 2 with a proposal: 1 where it hides a cell seen today), headers X-Seen-Cells, X-Judged-Cells and X-Lost-Cells", content_type = "image/tiff"),
        (status = 200, description = "format geojson: a FeatureCollection of Polygons (row runs of cells, `state` seen or lost) with members cell_m, seen_cells, judged_cells, lost_cells", body = Object, content_type = "application/geo+json"),
        (status = 400, description = "Not a request the viewshed can answer (outside the terrain, radius too large, a bad proposal)", body = ErrorBody)))]
pub async fn viewshed(
    State(state): State<Arc<AppState>>,
    body: Bytes,
) -> Result<Response, ApiError> {
    use heritage::viewshed::{self as vs, Surface, ViewshedOptions};
    let req: ViewshedRequest = parse_body(&body, "viewshed request")?;
    if !(req.radius.is_finite() && req.radius > 0.0 && req.radius <= MAX_VIEWSHED_RADIUS_M) {
        return Err(ApiError::bad_request(format!(
            "radius {} m: it must be above 0 and at most {MAX_VIEWSHED_RADIUS_M} m",
            req.radius
        )));
    }
    if !(req.height.is_finite() && req.target_height.is_finite() && (0.0..=1.0).contains(&req.cc)) {
        return Err(ApiError::bad_request(
            "height and target_height must be numbers, cc within [0, 1]",
        ));
    }
    let (twin, rules) = (state.twin.clone(), state.heritage.clone());
    blocking(move || {
        let (x, y) = to_project(&twin, req.lon, req.lat)?;
        let proposal = read_proposal(req.proposal, &twin, &rules)?;
        let dem = twin
            .terrain
            .first()
            .ok_or_else(|| ApiError::bad_request("the twin has no terrain"))?;
        let side = (2.0 * (req.radius / dem.cell_x).ceil() + 1.0).powi(2);
        if side > MAX_VIEWSHED_CELLS as f64 {
            return Err(ApiError::bad_request(format!(
                "radius {} m is {side} cells of {} m, more than {MAX_VIEWSHED_CELLS}",
                req.radius, dem.cell_x
            )));
        }
        let s = Surface::of_twin(&twin)?
            .window(x, y, req.radius)
            .ok_or_else(|| {
                ApiError::bad_request(format!(
                    "({}, {}) is outside the twin's terrain",
                    req.lon, req.lat
                ))
            })?;
        let o = ViewshedOptions {
            observer_height: req.height,
            target_height: req.target_height,
            max_distance: Some(req.radius),
            cc: req.cc,
        };
        let (seen, lost) = match &proposal {
            Some(p) => {
                let (v, l) = vs::difference_on(s.clone(), p, x, y, &o)?;
                (v, Some(l))
            }
            None => (vs::viewshed(&s, x, y, &o)?, None),
        };
        match req.format {
            ViewshedFormat::Geojson => {
                let doc = vs::to_geojson(&s, &seen, lost.as_deref(), &twin.crs)?;
                Ok((
                    [(header::CONTENT_TYPE, "application/geo+json")],
                    doc.to_string(),
                )
                    .into_response())
            }
            ViewshedFormat::Geotiff => {
                let bytes = vs::geotiff_bytes(&s, &seen, lost.as_deref(), twin.crs.epsg_code())?;
                let count =
                    |f: &dyn Fn(&Option<bool>) -> bool| seen.iter().filter(|c| f(c)).count();
                let mut r = ([(header::CONTENT_TYPE, "image/tiff")], bytes).into_response();
                let h = r.headers_mut();
                h.insert("x-seen-cells", count(&|c| *c == Some(true)).into());
                h.insert("x-judged-cells", count(&|c| c.is_some()).into());
                if let Some(l) = &lost {
                    h.insert("x-lost-cells", l.iter().filter(|c| **c).count().into());
                }
                Ok(r)
            }
        }
    })
    .await
}

/// The body of `POST /api/heritage/sightlines`: a proposal, or none.
#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SightlinesRequest {
    /// A proposed building (a GeoJSON Feature or a CityJSON document, as for the check).
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    pub proposal: Option<serde_json::Value>,
}

/// The sightlines as GeoJSON LineStrings in WGS84 (orthometric z): `status` clear, blocked
/// (by the terrain or the buildings today) or blocked_by_proposal, with where.
fn sightlines_geojson(
    twin: &twin_core::Twin,
    casts: &[heritage::check::SightlineCast],
) -> Result<serde_json::Value, ApiError> {
    let t = Reprojector::new(&twin.crs, &Crs::wgs84())?;
    let pos = |p: [f64; 3]| -> Result<serde_json::Value, ApiError> {
        let (lon, lat) = t.apply(p[0], p[1])?;
        Ok(serde_json::json!([
            (lon * 1e7).round() / 1e7,
            (lat * 1e7).round() / 1e7,
            (p[2] * 100.0).round() / 100.0
        ]))
    };
    let mut features = Vec::new();
    for c in casts {
        let status = match (c.blocked_at, c.proposal_blocks_at) {
            (Some(_), _) => "blocked",
            (None, Some(_)) => "blocked_by_proposal",
            (None, None) => "clear",
        };
        features.push(serde_json::json!({
            "type": "Feature",
            "id": format!("{}/{}", c.id, c.site),
            "properties": {
                "sightline": c.id,
                "from": c.from_name,
                "site": c.site,
                "site_name": c.site_name,
                "status": status,
                "blocked": c.blocked(),
                "blocked_at": c.blocked_at.map(pos).transpose()?,
                "proposal_blocks_at": c.proposal_blocks_at.map(pos).transpose()?,
            },
            "geometry": {"type": "LineString", "coordinates": [pos(c.from)?, pos(c.to)?]},
        }));
    }
    Ok(serde_json::json!({"type": "FeatureCollection", "features": features}))
}

/// `GET /api/heritage/sightlines`: the protected sightlines from the named viewpoints to the
/// monuments, cast against the terrain and the buildings.
#[utoipa::path(get, path = "/api/heritage/sightlines", tag = "heritage",
    responses(
        (status = 200, description = "GeoJSON FeatureCollection of LineStrings (WGS84, orthometric z): properties sightline, from, site, site_name, status (clear, blocked, blocked_by_proposal), blocked, blocked_at and proposal_blocks_at ([lon, lat, z] or null)", body = Object, content_type = "application/geo+json")))]
pub async fn sightlines(State(state): State<Arc<AppState>>) -> Result<Response, ApiError> {
    cast(state, SightlinesRequest::default()).await
}

/// `POST /api/heritage/sightlines`: the protected sightlines with a proposal: which it blocks,
/// and where.
#[utoipa::path(post, path = "/api/heritage/sightlines", tag = "heritage",
    request_body(content = SightlinesRequest, description = "`proposal`: a GeoJSON Feature or CityJSON document, as for the check", content_type = "application/json"),
    responses(
        (status = 200, description = "As GET, with the proposal cast too: status blocked_by_proposal where only the proposal blocks a line, proposal_blocks_at where it meets it", body = Object, content_type = "application/geo+json"),
        (status = 400, description = "Not a proposal", body = ErrorBody)))]
pub async fn sightlines_with(
    State(state): State<Arc<AppState>>,
    body: Bytes,
) -> Result<Response, ApiError> {
    let req: SightlinesRequest = if body.iter().all(|b| b.is_ascii_whitespace()) {
        SightlinesRequest::default()
    } else {
        parse_body(&body, "sightlines request")?
    };
    cast(state, req).await
}

async fn cast(state: Arc<AppState>, req: SightlinesRequest) -> Result<Response, ApiError> {
    let (twin, rules) = (state.twin.clone(), state.heritage.clone());
    blocking(move || {
        let p = read_proposal(req.proposal, &twin, &rules)?;
        let casts = heritage::check::cast_sightlines(&twin, &rules, p.as_ref());
        let doc = sightlines_geojson(&twin, &casts)?;
        Ok((
            [(header::CONTENT_TYPE, "application/geo+json")],
            doc.to_string(),
        )
            .into_response())
    })
    .await
}
