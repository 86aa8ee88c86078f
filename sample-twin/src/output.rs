//! Writing the sources: compact GeoJSON (one feature per line, coordinates with at most 7
//! decimals), the sensors CSV.

use super::geom::{Frame, P};

/// A property value.
pub enum V<'a> {
    /// A string.
    S(&'a str),
    /// A number written with at most `1` decimal.
    N1(f64),
}

/// Degrees with 7 decimals, trailing zeros trimmed.
pub fn deg(x: f64) -> String {
    let mut s = format!("{x:.7}");
    while s.ends_with('0') {
        s.pop();
    }
    if s.ends_with('.') {
        s.pop();
    }
    if s == "-0" {
        s = "0".into();
    }
    s
}

fn num1(x: f64) -> String {
    let v = (x * 10.0).round() as i64;
    if v % 10 == 0 {
        format!("{}", v / 10)
    } else {
        format!(
            "{}{}.{}",
            if v < 0 { "-" } else { "" },
            (v.abs()) / 10,
            v.abs() % 10
        )
    }
}

/// A GeoJSON FeatureCollection being written.
pub struct Collection<'a> {
    frame: &'a Frame,
    buf: String,
    n: usize,
}

impl<'a> Collection<'a> {
    /// Start a collection.
    pub fn new(frame: &'a Frame, name: &str) -> Collection<'a> {
        Collection {
            frame,
            buf: format!("{{\"type\":\"FeatureCollection\",\"name\":\"{name}\",\"features\":[\n"),
            n: 0,
        }
    }

    fn pos(&self, q: P) -> String {
        let (lon, lat) = self.frame.to_lonlat(q);
        format!("[{},{}]", deg(lon), deg(lat))
    }

    fn ring(&self, ring: &[P]) -> String {
        let mut pts: Vec<String> = ring.iter().map(|&q| self.pos(q)).collect();
        pts.push(pts[0].clone());
        format!("[{}]", pts.join(","))
    }

    /// `Polygon` geometry from rings (outer first).
    pub fn polygon(&self, rings: &[Vec<P>]) -> String {
        let r: Vec<String> = rings.iter().map(|x| self.ring(x)).collect();
        format!("{{\"type\":\"Polygon\",\"coordinates\":[{}]}}", r.join(","))
    }

    /// `MultiPolygon` geometry from parts, each rings (outer first).
    pub fn multipolygon(&self, parts: &[Vec<Vec<P>>]) -> String {
        let p: Vec<String> = parts
            .iter()
            .map(|rings| {
                let r: Vec<String> = rings.iter().map(|x| self.ring(x)).collect();
                format!("[{}]", r.join(","))
            })
            .collect();
        format!(
            "{{\"type\":\"MultiPolygon\",\"coordinates\":[{}]}}",
            p.join(",")
        )
    }

    /// `LineString` geometry.
    pub fn line(&self, pts: &[P]) -> String {
        let r: Vec<String> = pts.iter().map(|&q| self.pos(q)).collect();
        format!(
            "{{\"type\":\"LineString\",\"coordinates\":[{}]}}",
            r.join(",")
        )
    }

    /// `LineString` geometry from integer 1e-7 degrees (lon, lat), written exactly.
    pub fn line_deg(&self, pts: &[(i64, i64)]) -> String {
        let r: Vec<String> = pts
            .iter()
            .map(|&(x, y)| format!("[{},{}]", deg(x as f64 * 1e-7), deg(y as f64 * 1e-7)))
            .collect();
        format!(
            "{{\"type\":\"LineString\",\"coordinates\":[{}]}}",
            r.join(",")
        )
    }

    /// Add a feature.
    pub fn feature(&mut self, props: &[(&str, V)], geometry: &str) {
        let p: Vec<String> = props
            .iter()
            .map(|(k, v)| {
                let val = match v {
                    V::S(s) => serde_json::to_string(s).unwrap_or_default(),
                    V::N1(x) => num1(*x),
                };
                format!("{}:{}", serde_json::to_string(k).unwrap_or_default(), val)
            })
            .collect();
        if self.n > 0 {
            self.buf.push_str(",\n");
        }
        self.buf.push_str(&format!(
            "{{\"type\":\"Feature\",\"properties\":{{{}}},\"geometry\":{}}}",
            p.join(","),
            geometry
        ));
        self.n += 1;
    }

    /// Finish the collection.
    pub fn finish(mut self) -> String {
        self.buf.push_str("\n]}\n");
        self.buf
    }
}
