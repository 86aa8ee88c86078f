//! Building heights when the source has no measured height: `height` tag, else
//! `building:levels` × storey height, else a default by building type. Every building records
//! which rule gave its height ([`HeightSource`]).

use crate::model::HeightSource;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// The rules and their parameters; configurable in `twin.toml` under `[heights]`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct HeightRules {
    /// Metres per storey for `building:levels`.
    pub storey_height_m: f64,
    /// Default height by building type (OSM `building=*` value).
    pub defaults_m: BTreeMap<String, f64>,
    /// Default for any type not listed.
    pub fallback_m: f64,
}

impl Default for HeightRules {
    fn default() -> Self {
        // Typical Hue buildings: one- to three-storey tube houses, low temples and pavilions.
        let defaults_m = [
            ("house", 7.0),
            ("detached", 7.0),
            ("residential", 9.0),
            ("apartments", 15.0),
            ("commercial", 10.0),
            ("retail", 7.0),
            ("office", 12.0),
            ("hotel", 18.0),
            ("industrial", 8.0),
            ("warehouse", 7.0),
            ("school", 10.0),
            ("university", 12.0),
            ("hospital", 15.0),
            ("church", 12.0),
            ("cathedral", 20.0),
            ("temple", 7.0),
            ("pagoda", 10.0),
            ("shrine", 4.0),
            ("gate", 8.0),
            ("hut", 3.0),
            ("shed", 3.0),
            ("roof", 4.0),
            ("garage", 3.0),
            ("kiosk", 3.0),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect();
        HeightRules {
            storey_height_m: 3.2,
            defaults_m,
            fallback_m: 6.0,
        }
    }
}

/// Parse a height/length value such as `12`, `12.5 m`, `40'` (feet) or `12,5`.
pub fn parse_length_m(v: &str) -> Option<f64> {
    let s = v.trim().replace(',', ".");
    let (num, factor) = if let Some(n) = s.strip_suffix('m') {
        (n.trim().to_string(), 1.0)
    } else if let Some(n) = s.strip_suffix("ft") {
        (n.trim().to_string(), 0.3048)
    } else if let Some(n) = s.strip_suffix('\'') {
        (n.trim().to_string(), 0.3048)
    } else {
        (s, 1.0)
    };
    let x: f64 = num.parse().ok()?;
    (x.is_finite() && x > 0.0 && x < 1000.0).then_some(x * factor)
}

impl HeightRules {
    /// Height and its source from OSM-style tags: `height`, `building:levels`, `building`.
    pub fn resolve(
        &self,
        height: Option<&str>,
        levels: Option<&str>,
        building_type: Option<&str>,
    ) -> (f64, HeightSource, Option<u32>) {
        let levels_n = levels
            .and_then(|l| l.trim().parse::<f64>().ok())
            .filter(|l| l.is_finite() && *l >= 1.0 && *l < 200.0)
            .map(|l| l.round() as u32);
        if let Some(h) = height.and_then(parse_length_m) {
            return (h, HeightSource::Height, levels_n);
        }
        if let Some(n) = levels_n {
            return (
                n as f64 * self.storey_height_m,
                HeightSource::Levels,
                Some(n),
            );
        }
        let t = building_type.unwrap_or("yes").trim().to_ascii_lowercase();
        let h = self.defaults_m.get(&t).copied().unwrap_or(self.fallback_m);
        (h, HeightSource::Default(t), None)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn height_then_levels_then_default() {
        let r = HeightRules::default();
        assert_eq!(
            r.resolve(Some("12.5"), Some("3"), Some("house")),
            (12.5, HeightSource::Height, Some(3))
        );
        let (h, s, l) = r.resolve(None, Some("3"), Some("house"));
        assert!((h - 9.6).abs() < 1e-9);
        assert_eq!((s, l), (HeightSource::Levels, Some(3)));
        assert_eq!(
            r.resolve(Some("bogus"), None, Some("house")),
            (7.0, HeightSource::Default("house".into()), None)
        );
        assert_eq!(
            r.resolve(None, None, None).1,
            HeightSource::Default("yes".into())
        );
        assert_eq!(parse_length_m("40'"), Some(40.0 * 0.3048));
        assert_eq!(parse_length_m("NaN"), None);
        assert_eq!(parse_length_m("-3"), None);
    }
}
