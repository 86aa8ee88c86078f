//! SensorThings times: ISO 8601 instants (any offset) and `start/end` intervals, held as
//! milliseconds since 1970-01-01T00:00:00Z.

use chrono::{DateTime, SecondsFormat, Utc};

/// An instant or an interval, in milliseconds since the Unix epoch (UTC).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TimeValue {
    /// The instant, or the interval's start.
    pub start: i64,
    /// The interval's end, none for an instant.
    pub end: Option<i64>,
}

/// Milliseconds of an ISO 8601 / RFC 3339 instant (`2025-10-27T06:00:00+07:00`,
/// `...Z`, fractional seconds allowed).
pub fn parse_instant(s: &str) -> Option<i64> {
    let s = s.trim();
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Some(t.timestamp_millis());
    }
    // Without seconds (`2025-10-27T06:00Z`), which some clients send.
    let (head, tail) = s.split_at(
        s.find(['Z', '+'])
            .or_else(|| s.rfind('-').filter(|&i| i > 10))?,
    );
    if head.len() == 16 {
        DateTime::parse_from_rfc3339(&format!("{head}:00{tail}"))
            .ok()
            .map(|t| t.timestamp_millis())
    } else {
        None
    }
}

/// An instant or a `start/end` interval.
pub fn parse_time(s: &str) -> Option<TimeValue> {
    match s.split_once('/') {
        Some((a, b)) => {
            let (start, end) = (parse_instant(a)?, parse_instant(b)?);
            (start <= end).then_some(TimeValue {
                start,
                end: Some(end),
            })
        }
        None => parse_instant(s).map(|start| TimeValue { start, end: None }),
    }
}

/// RFC 3339 text of an instant, in UTC with `Z` (milliseconds shown when not zero).
pub fn format_instant(ms: i64) -> String {
    DateTime::<Utc>::from_timestamp_millis(ms)
        .map(|t| t.to_rfc3339_opts(SecondsFormat::AutoSi, true))
        .unwrap_or_else(|| ms.to_string())
}

/// RFC 3339 text of an instant or interval.
pub fn format_time(t: TimeValue) -> String {
    match t.end {
        Some(e) => format!("{}/{}", format_instant(t.start), format_instant(e)),
        None => format_instant(t.start),
    }
}

/// Now, in milliseconds since the epoch.
pub fn now_ms() -> i64 {
    Utc::now().timestamp_millis()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn instants_and_intervals() {
        assert_eq!(parse_instant("1970-01-01T00:00:01Z"), Some(1000));
        assert_eq!(parse_instant("1970-01-01T07:00:01.5+07:00"), Some(1500));
        assert_eq!(parse_instant("1970-01-01T00:01Z"), Some(60_000));
        assert_eq!(parse_instant("yesterday"), None);
        let iv = parse_time("2025-10-27T00:00:00Z/2025-10-27T01:00:00Z").unwrap();
        assert_eq!(iv.end.unwrap() - iv.start, 3_600_000);
        assert!(parse_time("2025-10-27T01:00:00Z/2025-10-27T00:00:00Z").is_none());
        assert_eq!(format_instant(1500), "1970-01-01T00:00:01.500Z");
        assert_eq!(format_instant(0), "1970-01-01T00:00:00Z");
    }
}
