//! Readers for the TNTP formats (github.com/bstabler/TransportationNetworks) and for a CSV OD
//! matrix.
//!
//! * `_net.tntp`: metadata lines `<KEY> value` up to `<END OF METADATA>` (`<NUMBER OF ZONES>`,
//!   `<NUMBER OF NODES>`, `<FIRST THRU NODE>`, `<NUMBER OF LINKS>`, optional `<TOLL FACTOR>` and
//!   `<DISTANCE FACTOR>`), then comment lines starting with `~` and one row per link:
//!   `init_node term_node capacity length free_flow_time b power speed toll link_type ;`.
//! * `_trips.tntp`: metadata (`<NUMBER OF ZONES>`, `<TOTAL OD FLOW>`), then blocks
//!   `Origin N` followed by entries `dest : flow;` (several per line).
//! * CSV OD matrix: rows `origin,destination,trips`, with or without a header row.
//! * CSV network ([`read_net_csv`]): `LINK,A,B,a0,a1,a2,a3,a4`, polynomial link costs of the
//!   BPR form `a0 + a_k x^k`.
//!
//! Every error names the file and the line.

use std::collections::HashMap;
use std::path::Path;

use super::demand::{Demand, OdTrip};
use super::network::{Link, Network};
use crate::error::{Result, ScenarioError};

fn read_text(path: &Path) -> Result<String> {
    std::fs::read_to_string(path).map_err(|e| ScenarioError::io(path, e))
}

/// Metadata of a TNTP file: tag -> (value, 1-based line).
type Meta = HashMap<String, (String, usize)>;

/// Splits the metadata block off. Returns the metadata (key -> (value, line number)) and the
/// 0-based index of the first line after `<END OF METADATA>`.
fn metadata(path: &Path, lines: &[&str]) -> Result<(Meta, usize)> {
    let mut meta = HashMap::new();
    for (i, raw) in lines.iter().enumerate() {
        let line = raw.trim();
        if line.is_empty() || line.starts_with('~') {
            continue;
        }
        if !line.starts_with('<') {
            // No (or no more) metadata: the body starts here.
            return Ok((meta, i));
        }
        let Some(close) = line.find('>') else {
            return Err(ScenarioError::parse(
                path,
                format!("line {}", i + 1),
                "metadata tag without a closing '>'",
            ));
        };
        let key = line[1..close].trim().to_ascii_uppercase();
        if key == "END OF METADATA" {
            return Ok((meta, i + 1));
        }
        meta.insert(key, (line[close + 1..].trim().to_string(), i + 1));
    }
    Ok((meta, lines.len()))
}

fn meta_number(path: &Path, meta: &Meta, key: &str) -> Result<Option<f64>> {
    match meta.get(key) {
        None => Ok(None),
        Some((v, line)) => v.parse::<f64>().map(Some).map_err(|_| {
            ScenarioError::parse(
                path,
                format!("line {line}"),
                format!("<{key}> is not a number"),
            )
        }),
    }
}

/// Largest node number (and node, zone or link count) a TNTP file may declare: the largest
/// published networks have about a million nodes; a larger number is damage, and building that
/// many nodes would not end.
pub const MAX_NODES: u64 = 10_000_000;

fn node_id(path: &Path, line: usize, what: &str, v: f64) -> Result<u64> {
    if v.fract() != 0.0 || v < 1.0 || v > MAX_NODES as f64 {
        return Err(ScenarioError::parse(
            path,
            format!("line {line}"),
            format!("{what} {v} is not a positive whole node number of at most {MAX_NODES}"),
        ));
    }
    Ok(v as u64)
}

/// A count in the metadata (`<NUMBER OF NODES>`...): a whole number in `0..=MAX_NODES`.
fn meta_count(path: &Path, meta: &Meta, key: &str) -> Result<Option<f64>> {
    let v = meta_number(path, meta, key)?;
    if let Some(x) = v {
        if !(x.fract() == 0.0 && (0.0..=MAX_NODES as f64).contains(&x)) {
            let line = meta.get(key).map(|(_, l)| *l).unwrap_or_default();
            return Err(ScenarioError::parse(
                path,
                format!("line {line}"),
                format!("<{key}> {x} is not a whole number in 0..={MAX_NODES}"),
            ));
        }
    }
    Ok(v)
}

/// Reads a TNTP network file (`*_net.tntp`).
///
/// Nodes are numbered `1..=max(<NUMBER OF NODES>, largest node in a link)`; nodes below
/// `<FIRST THRU NODE>` are zones that paths may start or end at but not pass through. Link keys
/// are `"init-term"` (`"init-term#k"` for the k-th parallel duplicate).
pub fn read_net(path: &Path) -> Result<Network> {
    read_net_with_factors(path).map(|(net, _)| net)
}

/// The generalized-cost weights a TNTP network file declares: `None` where the file has no
/// `<TOLL FACTOR>` or `<DISTANCE FACTOR>` tag (the network then uses 0, which may not be what
/// the network's README says).
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct DeclaredFactors {
    /// `<TOLL FACTOR>`, when present.
    pub toll: Option<f64>,
    /// `<DISTANCE FACTOR>`, when present.
    pub distance: Option<f64>,
}

/// [`read_net`], also saying which cost weights the file itself declared.
pub fn read_net_with_factors(path: &Path) -> Result<(Network, DeclaredFactors)> {
    let text = read_text(path)?;
    let lines: Vec<&str> = text.lines().collect();
    let (meta, body) = metadata(path, &lines)?;
    let zones = meta_count(path, &meta, "NUMBER OF ZONES")?.unwrap_or(0.0);
    let nodes = meta_count(path, &meta, "NUMBER OF NODES")?.unwrap_or(0.0);
    let first_thru = meta_count(path, &meta, "FIRST THRU NODE")?.unwrap_or(1.0);
    let declared_links = meta_count(path, &meta, "NUMBER OF LINKS")?;
    let declared = DeclaredFactors {
        toll: meta_number(path, &meta, "TOLL FACTOR")?,
        distance: meta_number(path, &meta, "DISTANCE FACTOR")?,
    };
    let toll_factor = declared.toll.unwrap_or(0.0);
    let distance_factor = declared.distance.unwrap_or(0.0);

    struct Row {
        line: usize,
        init: u64,
        term: u64,
        v: [f64; 8],
    }
    let mut rows = Vec::new();
    for (i, raw) in lines.iter().enumerate().skip(body) {
        let lineno = i + 1;
        let mut line = raw.trim();
        if line.is_empty() || line.starts_with('~') {
            continue;
        }
        if let Some(p) = line.find(';') {
            if !line[p + 1..].trim().is_empty() {
                return Err(ScenarioError::parse(
                    path,
                    format!("line {lineno}"),
                    "text after the ';' that ends a link row",
                ));
            }
            line = &line[..p];
        } else {
            return Err(ScenarioError::parse(
                path,
                format!("line {lineno}"),
                "link row does not end with ';'",
            ));
        }
        let mut v = Vec::with_capacity(10);
        for (k, tok) in line.split_whitespace().enumerate() {
            let x: f64 = tok.parse().map_err(|_| {
                ScenarioError::parse(
                    path,
                    format!("line {lineno}"),
                    format!("field {} is not a number", k + 1),
                )
            })?;
            if !x.is_finite() {
                return Err(ScenarioError::parse(
                    path,
                    format!("line {lineno}"),
                    format!("field {} is not finite", k + 1),
                ));
            }
            v.push(x);
        }
        if v.len() != 10 {
            return Err(ScenarioError::parse(
                path,
                format!("line {lineno}"),
                format!(
                    "expected 10 fields (init_node term_node capacity length free_flow_time b \
                     power speed toll link_type), found {}",
                    v.len()
                ),
            ));
        }
        let init = node_id(path, lineno, "init_node", v[0])?;
        let term = node_id(path, lineno, "term_node", v[1])?;
        rows.push(Row {
            line: lineno,
            init,
            term,
            v: [v[2], v[3], v[4], v[5], v[6], v[7], v[8], v[9]],
        });
    }
    if let Some(n) = declared_links {
        if n as usize != rows.len() {
            let line = meta.get("NUMBER OF LINKS").map(|m| m.1).unwrap_or(0);
            return Err(ScenarioError::parse(
                path,
                format!("line {line}"),
                format!(
                    "<NUMBER OF LINKS> says {n} but the file has {} link rows",
                    rows.len()
                ),
            ));
        }
    }

    let max_node = rows
        .iter()
        .map(|r| r.init.max(r.term))
        .max()
        .unwrap_or(0)
        .max(nodes as u64);
    let mut net = Network::new(toll_factor, distance_factor);
    net.zones = zones as usize;
    for id in 1..=max_node {
        net.add_node(id, None, (id as f64) >= first_thru);
    }
    let mut seen: HashMap<(u64, u64), usize> = HashMap::new();
    for r in rows {
        let link = Link {
            key: link_key(&mut seen, r.init, r.term),
            from: (r.init - 1) as usize,
            to: (r.term - 1) as usize,
            capacity: r.v[0],
            length: r.v[1],
            free_flow_time: r.v[2],
            b: r.v[3],
            power: r.v[4],
            speed: r.v[5],
            toll: r.v[6],
            link_type: r.v[7] as i64,
            closed: false,
        };
        if let Err(m) = super::network::check_link_values(&link) {
            return Err(ScenarioError::parse(path, format!("line {}", r.line), m));
        }
        net.links.push(link);
    }
    Ok((net, declared))
}

/// Reads a TNTP trips file (`*_trips.tntp`). Zero entries are kept out; the declared
/// `<TOTAL OD FLOW>` is returned in [`Demand::declared_total`] for the caller to check.
pub fn read_trips(path: &Path) -> Result<Demand> {
    let text = read_text(path)?;
    let lines: Vec<&str> = text.lines().collect();
    let (meta, body) = metadata(path, &lines)?;
    let declared_total = meta_number(path, &meta, "TOTAL OD FLOW")?;
    let mut demand = Demand {
        trips: Vec::new(),
        declared_total,
    };
    let mut origin: Option<u64> = None;
    for (i, raw) in lines.iter().enumerate().skip(body) {
        let lineno = i + 1;
        let line = raw.trim();
        if line.is_empty() || line.starts_with('~') {
            continue;
        }
        if let Some(rest) = line.strip_prefix("Origin") {
            let tok = rest.trim();
            let v: f64 = tok.parse().map_err(|_| {
                ScenarioError::parse(
                    path,
                    format!("line {lineno}"),
                    "the origin is not a number".to_string(),
                )
            })?;
            origin = Some(node_id(path, lineno, "origin", v)?);
            continue;
        }
        let Some(o) = origin else {
            return Err(ScenarioError::parse(
                path,
                format!("line {lineno}"),
                "OD entries before the first 'Origin' line",
            ));
        };
        for entry in line.split(';') {
            let entry = entry.trim();
            if entry.is_empty() {
                continue;
            }
            let Some((d, f)) = entry.split_once(':') else {
                return Err(ScenarioError::parse(
                    path,
                    format!("line {lineno}"),
                    "an entry is not 'destination : flow'".to_string(),
                ));
            };
            let dv: f64 = d.trim().parse().map_err(|_| {
                ScenarioError::parse(
                    path,
                    format!("line {lineno}"),
                    "a destination is not a number".to_string(),
                )
            })?;
            let dest = node_id(path, lineno, "destination", dv)?;
            let flow: f64 = f.trim().parse().map_err(|_| {
                ScenarioError::parse(
                    path,
                    format!("line {lineno}"),
                    "a flow is not a number".to_string(),
                )
            })?;
            if !flow.is_finite() || flow < 0.0 {
                return Err(ScenarioError::parse(
                    path,
                    format!("line {lineno}"),
                    format!("flow {flow} must be finite and non-negative"),
                ));
            }
            if flow > 0.0 {
                demand.trips.push(OdTrip {
                    origin: o,
                    destination: dest,
                    trips: flow,
                });
            }
        }
    }
    Ok(demand)
}

/// The key of a network file's link from node `init` to node `term`: `init-term`, with `#n`
/// after it for the n-th parallel link between the same two nodes (`seen` counts them).
fn link_key(seen: &mut HashMap<(u64, u64), usize>, init: u64, term: u64) -> String {
    let count = seen.entry((init, term)).or_insert(0);
    let key = if *count == 0 {
        format!("{init}-{term}")
    } else {
        format!("{init}-{term}#{count}")
    };
    *count += 1;
    key
}

/// Opens `path` as CSV with `builder`'s settings: a file that cannot be read is an I/O error
/// naming it.
fn open_csv(path: &Path, builder: &csv::ReaderBuilder) -> Result<csv::Reader<std::fs::File>> {
    builder.from_path(path).map_err(|e| match e.into_kind() {
        csv::ErrorKind::Io(io) => ScenarioError::io(path, io),
        other => ScenarioError::parse(path, "start", format!("{other:?}")),
    })
}

/// The non-blank records of a CSV reader with their index among all records and their line
/// number (`first`: the line of record 0, when the reader cannot say); a record that cannot be
/// read is an error naming its line.
fn csv_rows<'a>(
    path: &'a Path,
    rdr: &'a mut csv::Reader<std::fs::File>,
    first: usize,
) -> impl Iterator<Item = Result<(usize, usize, csv::StringRecord)>> + 'a {
    rdr.records()
        .enumerate()
        .filter_map(move |(k, rec)| match rec {
            Err(e) => {
                let place = e
                    .position()
                    .map(|p| format!("line {}", p.line()))
                    .unwrap_or_else(|| format!("record {}", k + 1));
                Some(Err(ScenarioError::parse(path, place, e)))
            }
            Ok(rec) if rec.iter().all(|f| f.is_empty()) => None,
            Ok(rec) => {
                let line = rec
                    .position()
                    .map(|p| p.line() as usize)
                    .unwrap_or(k + first);
                Some(Ok((k, line, rec)))
            }
        })
}

/// Reads an OD matrix from CSV rows `origin,destination,trips` (node ids; a first row whose
/// fields are not numbers is taken as a header). Zero entries are kept out.
pub fn read_od_csv(path: &Path) -> Result<Demand> {
    let mut rdr = open_csv(
        path,
        csv::ReaderBuilder::new()
            .has_headers(false)
            .flexible(true)
            .trim(csv::Trim::All),
    )?;
    let mut demand = Demand::default();
    for row in csv_rows(path, &mut rdr, 1) {
        let (k, line, rec) = row?;
        if rec.len() < 3 {
            return Err(ScenarioError::parse(
                path,
                format!("line {line}"),
                format!(
                    "expected origin,destination,trips, found {} fields",
                    rec.len()
                ),
            ));
        }
        let nums: Vec<Option<f64>> = (0..3).map(|i| rec[i].parse::<f64>().ok()).collect();
        if k == 0 && nums.iter().all(|n| n.is_none()) {
            continue; // header
        }
        let mut v = [0.0; 3];
        for i in 0..3 {
            v[i] = nums[i].filter(|x| x.is_finite()).ok_or_else(|| {
                ScenarioError::parse(
                    path,
                    format!("line {line}"),
                    format!("field {} ({:?}) is not a number", i + 1, &rec[i]),
                )
            })?;
        }
        let origin = node_id(path, line, "origin", v[0])?;
        let destination = node_id(path, line, "destination", v[1])?;
        if v[2] < 0.0 {
            return Err(ScenarioError::parse(
                path,
                format!("line {line}"),
                format!("negative trips {}", v[2]),
            ));
        }
        if v[2] > 0.0 {
            demand.trips.push(OdTrip {
                origin,
                destination,
                trips: v[2],
            });
        }
    }
    Ok(demand)
}

/// BPR `B` given to links read from a polynomial CSV network (the "traditional" 0.15): the
/// capacity is chosen so that `t0 * B * (x / cap)^k` equals the file's `a_k * x^k`.
pub const CSV_BPR_B: f64 = 0.15;

/// Reads a network from CSV with the header `LINK,A,B,a0,a1,a2,a3,a4` (the `LINK` column is
/// optional, the others are matched by name, case-insensitively): link `A -> B` with the
/// polynomial cost `a0 + a1 x + a2 x^2 + a3 x^3 + a4 x^4` (the form of
/// `SiouxFalls_net.csv`).
///
/// A link may have at most one of `a1..a4` non-zero, so that its cost is a BPR function:
/// free-flow time `a0`, power `k`, `B` = [`CSV_BPR_B`] and capacity
/// `(B a0 / a_k)^(1/k)`. Every node may be passed through; the zone count is the largest node
/// number; toll and distance factors are 0 (the CLI's `--toll-factor`/`--distance-factor` can
/// set them, but these files carry no tolls or lengths: the length is set to `a0`).
pub fn read_net_csv(path: &Path) -> Result<Network> {
    let mut rdr = open_csv(
        path,
        csv::ReaderBuilder::new()
            .has_headers(true)
            .trim(csv::Trim::All),
    )?;
    let header = rdr
        .headers()
        .map_err(|e| ScenarioError::parse(path, "line 1", e))?
        .clone();
    let col = |name: &str| header.iter().position(|h| h.eq_ignore_ascii_case(name));
    let mut cols = [0usize; 7];
    for (k, name) in ["A", "B", "a0", "a1", "a2", "a3", "a4"].iter().enumerate() {
        cols[k] = col(name).ok_or_else(|| {
            ScenarioError::parse(
                path,
                "line 1",
                format!("the header has no column {name:?} (expected LINK,A,B,a0,a1,a2,a3,a4)"),
            )
        })?;
    }
    struct Row {
        line: usize,
        init: u64,
        term: u64,
        a: [f64; 5],
    }
    let mut rows = Vec::new();
    for row in csv_rows(path, &mut rdr, 2) {
        let (_, line, rec) = row?;
        let mut v = [0.0; 7];
        for (i, &c) in cols.iter().enumerate() {
            let f = rec.get(c).unwrap_or("");
            v[i] = f
                .parse::<f64>()
                .ok()
                .filter(|x| x.is_finite())
                .ok_or_else(|| {
                    ScenarioError::parse(
                        path,
                        format!("line {line}"),
                        format!("column {} ({f:?}) is not a finite number", &header[c]),
                    )
                })?;
        }
        let init = node_id(path, line, "A", v[0])?;
        let term = node_id(path, line, "B", v[1])?;
        rows.push(Row {
            line,
            init,
            term,
            a: [v[2], v[3], v[4], v[5], v[6]],
        });
    }
    let max_node = rows.iter().map(|r| r.init.max(r.term)).max().unwrap_or(0);
    let mut net = Network::new(0.0, 0.0);
    net.zones = max_node as usize;
    for id in 1..=max_node {
        net.add_node(id, None, true);
    }
    let mut seen: HashMap<(u64, u64), usize> = HashMap::new();
    for r in rows {
        let bad = |m: String| ScenarioError::parse(path, format!("line {}", r.line), m);
        let [a0, ..] = r.a;
        if a0 < 0.0 || r.a.iter().any(|&x| x < 0.0) {
            return Err(bad("negative cost coefficient".into()));
        }
        let terms: Vec<usize> = (1..5).filter(|&k| r.a[k] != 0.0).collect();
        let (power, capacity, b) = match terms.as_slice() {
            [] => (0.0, 0.0, 0.0),
            [k] if a0 > 0.0 => {
                let k = *k;
                let cap = (CSV_BPR_B * a0 / r.a[k]).powf(1.0 / k as f64);
                (k as f64, cap, CSV_BPR_B)
            }
            [_] => {
                return Err(bad(
                    "a0 is 0 with a flow term: not a BPR cost (the free-flow time must be positive)"
                        .into(),
                ))
            }
            _ => {
                return Err(bad(format!(
                    "more than one flow term (a1..a4 = {:?}): only BPR costs a0 + a_k x^k are supported",
                    &r.a[1..]
                )))
            }
        };
        let link = Link {
            key: link_key(&mut seen, r.init, r.term),
            from: (r.init - 1) as usize,
            to: (r.term - 1) as usize,
            capacity,
            length: a0,
            free_flow_time: a0,
            b,
            power,
            speed: 0.0,
            toll: 0.0,
            link_type: 1,
            closed: false,
        };
        if let Err(m) = super::network::check_link_values(&link) {
            return Err(bad(m));
        }
        net.links.push(link);
    }
    Ok(net)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tmp(name: &str, text: &str) -> (tempfile::TempDir, std::path::PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join(name);
        std::fs::write(&p, text).unwrap();
        (dir, p)
    }

    #[test]
    fn toll_and_distance_factors_enter_the_cost() {
        let (_d, p) = tmp(
            "f_net.tntp",
            "<NUMBER OF ZONES> 2\n<NUMBER OF NODES> 2\n<FIRST THRU NODE> 1\n<NUMBER OF LINKS> 1\n\
             <TOLL FACTOR> 0.5\n<DISTANCE FACTOR> 2\n<END OF METADATA>\n~ a b\n\
             1 2 100 3 10 0.15 4 0 4 1;\n",
        );
        let net = read_net(&p).unwrap();
        assert_eq!(net.links.len(), 1);
        // 10 * (1 + 0.15) + 0.5 * 4 + 2 * 3
        assert!((net.cost(0, 100.0) - (11.5 + 2.0 + 6.0)).abs() < 1e-12);
    }

    #[test]
    fn trips_entries_several_per_line() {
        let (_d, p) = tmp(
            "t_trips.tntp",
            "<NUMBER OF ZONES> 3\n<TOTAL OD FLOW> 6\n<END OF METADATA>\n\nOrigin 1\n\
             1 : 0.0; 2 : 1.5; 3:2.5;\nOrigin 3\n 1 : 2;\n",
        );
        let d = read_trips(&p).unwrap();
        assert_eq!(d.trips.len(), 3);
        assert_eq!(d.total(), 6.0);
        assert_eq!(d.declared_total, Some(6.0));
        let (_d2, bad) = tmp("bad_trips.tntp", "<END OF METADATA>\nOrigin 1\n 2 : x;\n");
        let e = read_trips(&bad).unwrap_err().to_string();
        assert!(e.contains("bad_trips.tntp") && e.contains("line 3"), "{e}");
    }

    #[test]
    fn csv_with_and_without_header() {
        let a = read_od_csv(&tmp("a.csv", "O,D,Ton\n1,2,100\n2,1,50\n").1).unwrap();
        let b = read_od_csv(&tmp("b.csv", "1,2,100\n2,1,50\n").1).unwrap();
        assert_eq!(a, b);
        assert_eq!(a.total(), 150.0);
        let (_d, c) = tmp("c.csv", "O,D,T\n1,2,100\n2,q,5\n");
        let e = read_od_csv(&c).unwrap_err().to_string();
        assert!(e.contains("c.csv") && e.contains("line 3"), "{e}");
    }
}
