//! SensorThings query options (`$top $skip $count $orderby $select $expand $filter
//! $resultFormat`), nested ones inside `$expand=Nav(...;...)`, read from the raw query string.

use super::filter::{self, Expr};

/// Entities returned per page when `$top` is not given.
pub const DEFAULT_TOP: usize = 100;
/// Largest `$top` accepted.
pub const MAX_TOP: usize = 10_000;
/// Deepest `$expand` nesting.
const MAX_EXPAND_DEPTH: usize = 5;

/// The query options of one level.
#[derive(Debug, Clone, Default)]
pub struct Opts {
    /// `$top`.
    pub top: Option<usize>,
    /// `$skip`.
    pub skip: usize,
    /// `$count=true`.
    pub count: bool,
    /// `$orderby`: expressions, descending or not.
    pub orderby: Vec<(Expr, bool)>,
    /// `$select`: property names.
    pub select: Option<Vec<String>>,
    /// `$expand`.
    pub expand: Vec<Expand>,
    /// `$filter`.
    pub filter: Option<Expr>,
    /// `$resultFormat=dataArray`.
    pub data_array: bool,
}

/// One `$expand` item.
#[derive(Debug, Clone)]
pub struct Expand {
    /// The navigation property.
    pub nav: String,
    /// Its options.
    pub opts: Opts,
}

impl Opts {
    /// `$top` or the default, bounded.
    pub fn top(&self) -> usize {
        self.top.unwrap_or(DEFAULT_TOP).min(MAX_TOP)
    }
}

/// Form decoding of a query component: `%XX` escapes, and `+` as a space (as FROST-Server
/// reads it: a time offset's `+` must be sent as `%2B`).
pub fn decode(s: &str) -> Result<String, String> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            let h = s
                .get(i + 1..i + 3)
                .and_then(|h| u8::from_str_radix(h, 16).ok())
                .ok_or_else(|| format!("bad percent escape at {i}"))?;
            out.push(h);
            i += 3;
        } else {
            out.push(if b[i] == b'+' { b' ' } else { b[i] });
            i += 1;
        }
    }
    String::from_utf8(out).map_err(|_| "query is not UTF-8".into())
}

/// Parse the query string of a request.
pub fn parse_query(raw: Option<&str>) -> Result<Opts, String> {
    let mut pairs = Vec::new();
    for part in raw.unwrap_or("").split('&').filter(|p| !p.is_empty()) {
        let (k, v) = part.split_once('=').unwrap_or((part, ""));
        pairs.push((decode(k)?, decode(v)?));
    }
    options(pairs.iter().map(|(k, v)| (k.as_str(), v.as_str())), 0)
}

fn options<'a>(
    pairs: impl Iterator<Item = (&'a str, &'a str)>,
    depth: usize,
) -> Result<Opts, String> {
    let mut o = Opts::default();
    for (k, v) in pairs {
        let num = |v: &str| {
            v.trim()
                .parse::<usize>()
                .map_err(|_| format!("{k}: not a whole number: {v:?}"))
        };
        match k {
            "$top" => o.top = Some(num(v)?),
            "$skip" => o.skip = num(v)?,
            "$count" => {
                o.count = match v {
                    "true" => true,
                    "false" => false,
                    _ => return Err(format!("$count: true or false, not {v:?}")),
                }
            }
            "$orderby" => {
                o.orderby = filter::parse_orderby(v).map_err(|e| format!("$orderby: {e}"))?
            }
            "$select" => {
                o.select = Some(
                    v.split(',')
                        .map(|s| s.trim().to_string())
                        .filter(|s| !s.is_empty())
                        .collect(),
                )
            }
            "$filter" => o.filter = Some(filter::parse(v).map_err(|e| format!("$filter: {e}"))?),
            "$expand" => o.expand = parse_expand(v, depth)?,
            "$resultFormat" => {
                o.data_array = match v {
                    "dataArray" => true,
                    "default" => false,
                    _ => return Err(format!("$resultFormat: dataArray or default, not {v:?}")),
                }
            }
            _ if k.starts_with('$') => return Err(format!("unknown query option {k}")),
            _ => {}
        }
    }
    Ok(o)
}

/// Split at `sep` outside parentheses and quotes.
fn split_top(s: &str, sep: char) -> Result<Vec<&str>, String> {
    let mut out = Vec::new();
    let (mut depth, mut quote, mut start) = (0i32, false, 0);
    for (i, c) in s.char_indices() {
        match c {
            '\'' => quote = !quote,
            '(' if !quote => depth += 1,
            ')' if !quote => {
                depth -= 1;
                if depth < 0 {
                    return Err(format!("unbalanced ')' at {i} in {s:?}"));
                }
            }
            c if c == sep && depth == 0 && !quote => {
                out.push(&s[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    if depth != 0 || quote {
        return Err(format!("unbalanced parentheses or quotes in {s:?}"));
    }
    out.push(&s[start..]);
    Ok(out)
}

/// `$expand`: `A,B/C,D($select=x;$expand=E($top=1))`.
pub fn parse_expand(s: &str, depth: usize) -> Result<Vec<Expand>, String> {
    if depth >= MAX_EXPAND_DEPTH {
        return Err("$expand nested too deep".into());
    }
    let mut out: Vec<Expand> = Vec::new();
    for item in split_top(s, ',')? {
        let item = item.trim();
        if item.is_empty() {
            continue;
        }
        let (path, inner) = match item.find('(') {
            Some(i) if item.ends_with(')') => (&item[..i], Some(&item[i + 1..item.len() - 1])),
            Some(_) => return Err(format!("$expand: bad item {item:?}")),
            None => (item, None),
        };
        let mut opts = match inner {
            Some(inner) => {
                let parts = split_top(inner, ';')?;
                let mut pairs = Vec::new();
                for p in parts.iter().filter(|p| !p.trim().is_empty()) {
                    let (k, v) = p
                        .split_once('=')
                        .ok_or_else(|| format!("$expand: bad option {p:?}"))?;
                    pairs.push((k.trim(), v));
                }
                options(pairs.into_iter(), depth + 1)?
            }
            None => Opts::default(),
        };
        // `A/B/C` is A expanded with B expanded with C.
        let names: Vec<&str> = path.split('/').map(str::trim).collect();
        if names.iter().any(|n| n.is_empty()) {
            return Err(format!("$expand: bad path {path:?}"));
        }
        for name in names.iter().skip(1).rev() {
            opts = Opts {
                expand: vec![Expand {
                    nav: name.to_string(),
                    opts,
                }],
                ..Default::default()
            };
        }
        let first = names[0].to_string();
        // Merge with an earlier item of the same name (`A/B,A/C`).
        if let Some(prev) = out.iter_mut().find(|e| e.nav == first) {
            prev.opts.expand.extend(opts.expand);
        } else {
            out.push(Expand { nav: first, opts });
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nested_expand() {
        let o = parse_query(Some(
            "$top=5&$count=true&$expand=Datastreams($select=name;$expand=Observations($top=1;$orderby=phenomenonTime%20desc)),Locations&$filter=name%20eq%20'a%2Cb'",
        ))
        .unwrap();
        assert_eq!(o.top(), 5);
        assert!(o.count);
        assert_eq!(o.expand.len(), 2);
        let ds = &o.expand[0];
        assert_eq!(ds.nav, "Datastreams");
        assert_eq!(ds.opts.select.as_deref(), Some(&["name".to_string()][..]));
        assert_eq!(ds.opts.expand[0].nav, "Observations");
        assert_eq!(ds.opts.expand[0].opts.top, Some(1));
        assert!(ds.opts.expand[0].opts.orderby[0].1);
        let p = parse_expand("Datastreams/Observations,Datastreams/Sensor", 0).unwrap();
        assert_eq!(p.len(), 1);
        assert_eq!(p[0].opts.expand.len(), 2);
        assert!(parse_query(Some("$top=x")).is_err());
        assert!(parse_query(Some("$foo=1")).is_err());
        assert!(parse_expand("A(", 0).is_err());
        assert_eq!(decode("a%2B07:00+x").unwrap(), "a+07:00 x");
    }
}
