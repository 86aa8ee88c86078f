//! Heritage routes over the `heritage` crate's engines: a proposed building checked against the
//! twin's protection zones and protected views, and the existing buildings that break them.
//!
//! | route | what |
//! |---|---|
//! | `POST /api/heritage/check` | a proposal (GeoJSON Feature, WGS84, `height` or `storeys`) → the verdict per rule |
//! | `GET /api/heritage/breaches` | the existing buildings over the zones' height limits or the views' planes |
//! | `GET /api/heritage/exposure` | monument flood exposure across the twin's finished flood runs, ranked |
//!
//! The check writes nothing: it is a read with a body ([`crate::auth::READS_WITH_BODY`]). The
//! rules are resolved once, when the server starts ([`crate::AppState::heritage`]).

use crate::api::blocking;
use crate::error::{ApiError, ErrorBody};
use crate::AppState;
use axum::body::Bytes;
use axum::extract::State;
use axum::Json;
use heritage::{Breach, Rules, Verdict};
use std::sync::Arc;

impl From<heritage::HeritageError> for ApiError {
    fn from(e: heritage::HeritageError) -> Self {
        match e {
            heritage::HeritageError::Parse { .. } | heritage::HeritageError::Invalid { .. } => {
                ApiError::bad_request(e.to_string())
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
    request_body(content = Object, description = "A GeoJSON Feature in WGS84: a Polygon or MultiPolygon footprint with `height` (m) or `storeys`, optionally `roof:shape` and `name` (at most 10 000 vertices)", content_type = "application/json"),
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
        let p = heritage::Proposal::from_geojson(&text, &twin, &rules)?;
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
/// monument's own ground, hours wet, hours above the hazard depth, first wet time), the most
/// exposed first; empty when the server knows no twin folder.
#[utoipa::path(get, path = "/api/heritage/exposure", tag = "heritage",
    responses(
        (status = 200, description = "`runs` (id, name) and `monuments` (rank, site, name, zone, runs: per run max_depth_m, hours_wet, hours_above_hazard, first_wet_h or null, worst_depth_m)", body = Object, content_type = "application/json")))]
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
    Ok(Json(
        blocking(move || Ok(heritage::exposure::exposure_table(&dir)?)).await?,
    ))
}
