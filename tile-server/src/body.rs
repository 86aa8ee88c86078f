//! Files ready to serve and how they are answered: a strong ETag (BLAKE3 of the bytes),
//! `If-None-Match` → 304, one `Range` (with `If-Range`), the compressed variants' ETags, and
//! which cache tier a file came from. Shared by the tile, water and run-file routes.

use super::error::ApiError;
use axum::body::{Body, Bytes};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};

/// A file ready to serve.
#[derive(Debug)]
pub struct CachedFile {
    /// Its bytes (cheap to clone).
    pub bytes: Bytes,
    /// Its strong ETag, quoted: `"<first 32 hex digits of BLAKE3>"`.
    pub etag: HeaderValue,
    /// Its media type.
    pub content_type: &'static str,
}

impl CachedFile {
    /// Wrap bytes, computing the ETag.
    pub fn new(bytes: Vec<u8>, content_type: &'static str) -> CachedFile {
        let etag = etag_of(&bytes);
        CachedFile {
            bytes: Bytes::from(bytes),
            etag: HeaderValue::from_str(&etag).expect("hex digits and quotes"),
            content_type,
        }
    }
}

/// The strong ETag of some bytes: `"` + the first 32 hex digits of their BLAKE3 hash + `"`.
pub fn etag_of(bytes: &[u8]) -> String {
    let h = blake3::hash(bytes).to_hex();
    format!("\"{}\"", &h.as_str()[..32])
}

/// Where a file came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CacheTier {
    /// The memory LRU.
    Memory,
    /// The disk cache.
    Disk,
    /// Produced by the tile source now.
    Produced,
}

impl CacheTier {
    /// A label for metrics and the `X-Cache` header.
    pub fn label(self) -> &'static str {
        match self {
            CacheTier::Memory => "memory",
            CacheTier::Disk => "disk",
            CacheTier::Produced => "produced",
        }
    }
}

/// True when an `If-None-Match` header names this ETag (or `*`). Compressed variants
/// (`"<tag>-gzip"`, `"<tag>-br"`, see [`tag_encoded_etag`]) and weak forms match too.
pub fn etag_matches(if_none_match: &str, etag: &str) -> bool {
    let bare = etag.trim_matches('"');
    if_none_match.split(',').any(|t| {
        let t = t.trim();
        if t == "*" {
            return true;
        }
        let t = t.strip_prefix("W/").unwrap_or(t).trim_matches('"');
        let t = t
            .strip_suffix("-gzip")
            .or_else(|| t.strip_suffix("-br"))
            .unwrap_or(t);
        t == bare
    })
}

/// The response for a cached file: 304 on a matching `If-None-Match`, 206 on a satisfiable
/// single `Range`, 416 on an unsatisfiable one, else 200 with the bytes.
pub fn respond(file: &CachedFile, headers: &HeaderMap, tier: CacheTier) -> Response {
    let mut common = HeaderMap::new();
    common.insert(header::ETAG, file.etag.clone());
    common.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=3600, must-revalidate"),
    );
    common.insert(header::ACCEPT_RANGES, HeaderValue::from_static("bytes"));
    common.insert(
        "x-cache",
        HeaderValue::from_static(match tier {
            CacheTier::Memory => "memory",
            CacheTier::Disk => "disk",
            CacheTier::Produced => "miss",
        }),
    );
    let etag = file.etag.to_str().unwrap_or_default();
    if let Some(inm) = headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
    {
        if etag_matches(inm, etag) {
            return (StatusCode::NOT_MODIFIED, common).into_response();
        }
    }
    common.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(file.content_type),
    );
    let len = file.bytes.len() as u64;
    let range_applies = match headers.get(header::IF_RANGE).and_then(|v| v.to_str().ok()) {
        Some(ir) => ir.trim() == etag,
        None => true,
    };
    if let (Some(range), true) = (
        headers.get(header::RANGE).and_then(|v| v.to_str().ok()),
        range_applies,
    ) {
        use http_range_header::RangeUnsatisfiableError as E;
        match http_range_header::parse_range_header(range).and_then(|r| r.validate(len)) {
            Ok(ranges) if ranges.len() == 1 => {
                let (start, end) = (*ranges[0].start(), *ranges[0].end());
                common.insert(
                    header::CONTENT_RANGE,
                    HeaderValue::from_str(&format!("bytes {start}-{end}/{len}"))
                        .expect("ascii digits"),
                );
                let part = file.bytes.slice(start as usize..=end as usize);
                return (StatusCode::PARTIAL_CONTENT, common, Body::from(part)).into_response();
            }
            // Several ranges (or none, for an empty file): answer the whole file (RFC 9110
            // allows ignoring Range), as does a malformed header (§14.2).
            Ok(_) | Err(E::Invalid(_)) => {}
            Err(e) => {
                common.insert(
                    header::CONTENT_RANGE,
                    HeaderValue::from_str(&format!("bytes */{len}")).expect("ascii digits"),
                );
                let mut r = ApiError::new(
                    StatusCode::RANGE_NOT_SATISFIABLE,
                    format!("range {range:?} for {len} bytes: {e}"),
                )
                .into_response();
                r.headers_mut().extend(common);
                return r;
            }
        }
    }
    (StatusCode::OK, common, Body::from(file.bytes.clone())).into_response()
}

/// A compressed response's strong ETag must differ from the identity one: `"<tag>-gzip"`,
/// `"<tag>-br"` (as Apache does); [`etag_matches`] accepts both forms.
pub fn tag_encoded_etag(resp: &mut Response) {
    let Some(enc) = resp.headers().get(header::CONTENT_ENCODING) else {
        return;
    };
    let enc = enc.to_str().unwrap_or_default().to_string();
    let tagged = resp
        .headers()
        .get(header::ETAG)
        .and_then(|v| v.to_str().ok())
        .and_then(|t| t.strip_prefix('"')?.strip_suffix('"'))
        .and_then(|bare| HeaderValue::from_str(&format!("\"{bare}-{enc}\"")).ok());
    if let Some(v) = tagged {
        resp.headers_mut().insert(header::ETAG, v);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn etag_is_quoted_hex_of_blake3() {
        let e = etag_of(b"abc");
        // BLAKE3("abc") = 6437b3ac38465133ffb63b75273a8db548c558465d79db03fd359c6cd5bd9d85
        assert_eq!(e, "\"6437b3ac38465133ffb63b75273a8db5\"");
    }
}
