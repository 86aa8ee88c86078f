//! The OData subset of SensorThings `$filter` and `$orderby`: a tokenizer and a
//! precedence-climbing parser into an [`Expr`] tree, and its evaluation over values a caller
//! resolves (property paths such as `result`, `Datastream/Thing/name`,
//! `Thing/Locations/location`).
//!
//! Operators: `eq ne gt ge lt le`, `and or not`, `add sub mul div mod`, unary `-`,
//! parentheses. Literals: numbers, `'strings'` (`''` for a quote), `true false null`, ISO 8601
//! times (`2025-10-27T06:00:00Z`, unquoted) and `geography'POINT(107.5 16.4)'` (WKT).
//! Functions: string (`substringof contains startswith endswith length indexof substring
//! tolower toupper trim concat`), time (`year month day hour minute second
//! fractionalseconds date time totaloffsetminutes now mindatetime maxdatetime`), maths
//! (`round floor ceiling`) and geometry (`geo.intersects geo.distance geo.length st_within
//! st_intersects st_contains st_disjoint st_equals st_touches st_overlaps st_crosses`;
//! distances in the units of the coordinates, degrees for WGS84, as in FROST).

use chrono::{DateTime, Datelike, Timelike, Utc};
use geo::{Contains, Intersects, Relate};
use geo_types::Geometry;
use std::cmp::Ordering;

/// A parse error: the message names the position in the expression.
#[derive(Debug, Clone, PartialEq)]
pub struct FilterError(pub String);

impl std::fmt::Display for FilterError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// Longest expression accepted, characters.
const MAX_LEN: usize = 8192;
/// Deepest nesting accepted.
const MAX_DEPTH: usize = 64;

/// A value during evaluation.
#[derive(Debug, Clone, PartialEq)]
pub enum Val {
    /// null, or a missing property.
    Null,
    /// A boolean.
    Bool(bool),
    /// A number.
    Num(f64),
    /// A string.
    Str(String),
    /// An instant, milliseconds since the epoch.
    Time(i64),
    /// A geometry (WGS84 lon/lat).
    Geo(Box<Geometry<f64>>),
}

/// A parsed expression.
#[derive(Debug, Clone, PartialEq)]
pub enum Expr {
    /// A literal.
    Lit(Val),
    /// A property path (`Datastream/Thing/name`).
    Path(Vec<String>),
    /// A binary operator.
    Bin(Op, Box<Expr>, Box<Expr>),
    /// `not e`.
    Not(Box<Expr>),
    /// `-e`.
    Neg(Box<Expr>),
    /// A function call.
    Call(String, Vec<Expr>),
}

/// Binary operators.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    /// `eq`
    Eq,
    /// `ne`
    Ne,
    /// `gt`
    Gt,
    /// `ge`
    Ge,
    /// `lt`
    Lt,
    /// `le`
    Le,
    /// `and`
    And,
    /// `or`
    Or,
    /// `add`
    Add,
    /// `sub`
    Sub,
    /// `mul`
    Mul,
    /// `div`
    Div,
    /// `mod`
    Mod,
}

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Num(f64),
    Str(String),
    Time(i64),
    Geo(String),
    Ident(String),
    LParen,
    RParen,
    Comma,
    Slash,
    Minus,
}

fn tokenize(s: &str) -> Result<Vec<(usize, Tok)>, FilterError> {
    if s.len() > MAX_LEN {
        return Err(FilterError(format!("longer than {MAX_LEN} characters")));
    }
    let b: Vec<char> = s.chars().collect();
    let mut i = 0;
    let mut out = Vec::new();
    while i < b.len() {
        let c = b[i];
        let at = i;
        match c {
            ' ' | '\t' | '\n' | '\r' => i += 1,
            '(' => {
                out.push((at, Tok::LParen));
                i += 1
            }
            ')' => {
                out.push((at, Tok::RParen));
                i += 1
            }
            ',' => {
                out.push((at, Tok::Comma));
                i += 1
            }
            '/' => {
                out.push((at, Tok::Slash));
                i += 1
            }
            '-' => {
                out.push((at, Tok::Minus));
                i += 1
            }
            '\'' => {
                let (text, next) = quoted(&b, i)?;
                out.push((at, Tok::Str(text)));
                i = next;
            }
            '0'..='9' => {
                let mut j = i;
                while j < b.len() && !matches!(b[j], ' ' | ')' | ',' | '\t') {
                    j += 1;
                }
                let word: String = b[i..j].iter().collect();
                if word.contains('T') && word.contains(':')
                    || word.len() == 10 && word.matches('-').count() == 2
                {
                    let t = twin_core::live::time::parse_instant(&word)
                        .or_else(|| {
                            twin_core::live::time::parse_instant(&format!("{word}T00:00:00Z"))
                        })
                        .ok_or_else(|| FilterError(format!("at {at}: bad time {word:?}")))?;
                    out.push((at, Tok::Time(t)));
                    i = j;
                } else {
                    let mut j = i;
                    while j < b.len()
                        && (b[j].is_ascii_digit()
                            || b[j] == '.'
                            || matches!(b[j], 'e' | 'E')
                            || (matches!(b[j], '+' | '-')
                                && j > i
                                && matches!(b[j - 1], 'e' | 'E')))
                    {
                        j += 1;
                    }
                    let word: String = b[i..j].iter().collect();
                    let n: f64 = word
                        .parse()
                        .map_err(|_| FilterError(format!("at {at}: bad number {word:?}")))?;
                    out.push((at, Tok::Num(n)));
                    i = j;
                }
            }
            c if c.is_alphabetic() || c == '_' || c == '@' || c == '$' => {
                let mut j = i;
                while j < b.len()
                    && (b[j].is_alphanumeric() || matches!(b[j], '_' | '.' | '@' | '$'))
                {
                    j += 1;
                }
                let word: String = b[i..j].iter().collect();
                if (word == "geography" || word == "geometry") && b.get(j) == Some(&'\'') {
                    let (text, next) = quoted(&b, j)?;
                    out.push((at, Tok::Geo(text)));
                    i = next;
                } else {
                    out.push((at, Tok::Ident(word)));
                    i = j;
                }
            }
            other => return Err(FilterError(format!("at {at}: unexpected {other:?}"))),
        }
    }
    Ok(out)
}

fn quoted(b: &[char], start: usize) -> Result<(String, usize), FilterError> {
    let mut i = start + 1;
    let mut text = String::new();
    loop {
        match b.get(i) {
            None => return Err(FilterError(format!("at {start}: unterminated string"))),
            Some('\'') if b.get(i + 1) == Some(&'\'') => {
                text.push('\'');
                i += 2
            }
            Some('\'') => return Ok((text, i + 1)),
            Some(c) => {
                text.push(*c);
                i += 1
            }
        }
    }
}

struct Parser {
    toks: Vec<(usize, Tok)>,
    pos: usize,
    depth: usize,
    len: usize,
}

impl Parser {
    fn peek(&self) -> Option<&Tok> {
        self.toks.get(self.pos).map(|t| &t.1)
    }
    fn at(&self) -> usize {
        self.toks.get(self.pos).map(|t| t.0).unwrap_or(self.len)
    }
    fn err<T>(&self, m: &str) -> Result<T, FilterError> {
        Err(FilterError(format!("at {}: {m}", self.at())))
    }
    fn keyword(&self) -> Option<&str> {
        match self.peek() {
            Some(Tok::Ident(w)) => Some(w.as_str()),
            _ => None,
        }
    }
    fn expect(&mut self, t: Tok, what: &str) -> Result<(), FilterError> {
        if self.peek() == Some(&t) {
            self.pos += 1;
            Ok(())
        } else {
            self.err(&format!("expected {what}"))
        }
    }

    fn expr(&mut self) -> Result<Expr, FilterError> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return self.err("nested too deep");
        }
        let r = self.or();
        self.depth -= 1;
        r
    }
    fn or(&mut self) -> Result<Expr, FilterError> {
        let mut l = self.and()?;
        while self.keyword() == Some("or") {
            self.pos += 1;
            l = Expr::Bin(Op::Or, Box::new(l), Box::new(self.and()?));
        }
        Ok(l)
    }
    fn and(&mut self) -> Result<Expr, FilterError> {
        let mut l = self.not()?;
        while self.keyword() == Some("and") {
            self.pos += 1;
            l = Expr::Bin(Op::And, Box::new(l), Box::new(self.not()?));
        }
        Ok(l)
    }
    fn not(&mut self) -> Result<Expr, FilterError> {
        if self.keyword() == Some("not") {
            self.pos += 1;
            self.depth += 1;
            if self.depth > MAX_DEPTH {
                return self.err("nested too deep");
            }
            let e = self.not()?;
            self.depth -= 1;
            return Ok(Expr::Not(Box::new(e)));
        }
        self.cmp()
    }
    fn cmp(&mut self) -> Result<Expr, FilterError> {
        let l = self.add()?;
        let op = match self.keyword() {
            Some("eq") => Op::Eq,
            Some("ne") => Op::Ne,
            Some("gt") => Op::Gt,
            Some("ge") => Op::Ge,
            Some("lt") => Op::Lt,
            Some("le") => Op::Le,
            _ => return Ok(l),
        };
        self.pos += 1;
        Ok(Expr::Bin(op, Box::new(l), Box::new(self.add()?)))
    }
    fn add(&mut self) -> Result<Expr, FilterError> {
        let mut l = self.mul()?;
        loop {
            let op = match self.keyword() {
                Some("add") => Op::Add,
                Some("sub") => Op::Sub,
                _ => return Ok(l),
            };
            self.pos += 1;
            l = Expr::Bin(op, Box::new(l), Box::new(self.mul()?));
        }
    }
    fn mul(&mut self) -> Result<Expr, FilterError> {
        let mut l = self.unary()?;
        loop {
            let op = match self.keyword() {
                Some("mul") => Op::Mul,
                Some("div") => Op::Div,
                Some("mod") => Op::Mod,
                _ => return Ok(l),
            };
            self.pos += 1;
            l = Expr::Bin(op, Box::new(l), Box::new(self.unary()?));
        }
    }
    fn unary(&mut self) -> Result<Expr, FilterError> {
        if self.peek() == Some(&Tok::Minus) {
            self.pos += 1;
            self.depth += 1;
            if self.depth > MAX_DEPTH {
                return self.err("nested too deep");
            }
            let e = self.unary()?;
            self.depth -= 1;
            return Ok(match e {
                Expr::Lit(Val::Num(n)) => Expr::Lit(Val::Num(-n)),
                e => Expr::Neg(Box::new(e)),
            });
        }
        self.primary()
    }
    fn primary(&mut self) -> Result<Expr, FilterError> {
        let Some(t) = self.peek().cloned() else {
            return self.err("unexpected end");
        };
        self.pos += 1;
        match t {
            Tok::Num(n) => Ok(Expr::Lit(Val::Num(n))),
            Tok::Str(s) => Ok(Expr::Lit(Val::Str(s))),
            Tok::Time(t) => Ok(Expr::Lit(Val::Time(t))),
            Tok::Geo(w) => {
                use std::str::FromStr;
                let text = w.split_once(';').map(|(_, g)| g).unwrap_or(&w);
                let g = wkt::Wkt::<f64>::from_str(text)
                    .ok()
                    .and_then(|w| Geometry::try_from(w).ok())
                    .ok_or_else(|| FilterError(format!("bad WKT {w:?}")))?;
                Ok(Expr::Lit(Val::Geo(Box::new(g))))
            }
            Tok::LParen => {
                let e = self.expr()?;
                self.expect(Tok::RParen, "')'")?;
                Ok(e)
            }
            Tok::Ident(w) => match w.as_str() {
                "true" => Ok(Expr::Lit(Val::Bool(true))),
                "false" => Ok(Expr::Lit(Val::Bool(false))),
                "null" => Ok(Expr::Lit(Val::Null)),
                _ if self.peek() == Some(&Tok::LParen) => {
                    self.pos += 1;
                    let mut args = Vec::new();
                    if self.peek() != Some(&Tok::RParen) {
                        loop {
                            args.push(self.expr()?);
                            if self.peek() == Some(&Tok::Comma) {
                                self.pos += 1;
                                continue;
                            }
                            break;
                        }
                    }
                    self.expect(Tok::RParen, "')' after the arguments")?;
                    let name = w.to_ascii_lowercase();
                    check_arity(&name, args.len()).map_err(|m| FilterError(format!("{w}: {m}")))?;
                    Ok(Expr::Call(name, args))
                }
                _ => {
                    let mut path = vec![w];
                    while self.peek() == Some(&Tok::Slash) {
                        self.pos += 1;
                        match self.peek().cloned() {
                            Some(Tok::Ident(n)) => {
                                self.pos += 1;
                                path.push(n)
                            }
                            _ => return self.err("expected a property name after '/'"),
                        }
                    }
                    Ok(Expr::Path(path))
                }
            },
            _ => {
                self.pos -= 1;
                self.err("expected a value")
            }
        }
    }
}

fn check_arity(name: &str, n: usize) -> Result<(), String> {
    let (lo, hi) = match name {
        "now" | "mindatetime" | "maxdatetime" => (0, 0),
        "length" | "tolower" | "toupper" | "trim" | "year" | "month" | "day" | "hour"
        | "minute" | "second" | "fractionalseconds" | "date" | "time" | "totaloffsetminutes"
        | "round" | "floor" | "ceiling" | "geo.length" => (1, 1),
        "substringof" | "contains" | "startswith" | "endswith" | "indexof" | "concat"
        | "geo.intersects" | "geo.distance" | "st_within" | "st_intersects" | "st_contains"
        | "st_disjoint" | "st_equals" | "st_touches" | "st_overlaps" | "st_crosses" => (2, 2),
        "substring" => (2, 3),
        _ => return Err("unknown function".into()),
    };
    if n < lo || n > hi {
        return Err(format!("takes {lo} to {hi} arguments, got {n}"));
    }
    Ok(())
}

/// Parse a `$filter` expression.
pub fn parse(s: &str) -> Result<Expr, FilterError> {
    let toks = tokenize(s)?;
    let mut p = Parser {
        toks,
        pos: 0,
        depth: 0,
        len: s.len(),
    };
    let e = p.expr()?;
    if p.pos != p.toks.len() {
        return p.err("unexpected text after the expression");
    }
    Ok(e)
}

/// Parse `$orderby`: comma-separated expressions, each with `asc` (default) or `desc`.
pub fn parse_orderby(s: &str) -> Result<Vec<(Expr, bool)>, FilterError> {
    let toks = tokenize(s)?;
    let mut p = Parser {
        toks,
        pos: 0,
        depth: 0,
        len: s.len(),
    };
    let mut out = Vec::new();
    loop {
        let e = p.expr()?;
        let desc = match p.keyword() {
            Some("desc") => {
                p.pos += 1;
                true
            }
            Some("asc") => {
                p.pos += 1;
                false
            }
            _ => false,
        };
        out.push((e, desc));
        match p.peek() {
            Some(Tok::Comma) => p.pos += 1,
            None => break,
            _ => return p.err("expected ',' or the end"),
        }
    }
    Ok(out)
}

/// Evaluate `e`, resolving property paths with `resolve`.
pub fn eval(e: &Expr, resolve: &mut dyn FnMut(&[String]) -> Val) -> Val {
    match e {
        Expr::Lit(v) => v.clone(),
        Expr::Path(p) => resolve(p),
        Expr::Not(x) => match eval(x, resolve) {
            Val::Bool(b) => Val::Bool(!b),
            _ => Val::Null,
        },
        Expr::Neg(x) => match eval(x, resolve) {
            Val::Num(n) => Val::Num(-n),
            _ => Val::Null,
        },
        Expr::Bin(Op::And, a, b) => match eval(a, resolve) {
            Val::Bool(false) => Val::Bool(false),
            Val::Bool(true) => truth(eval(b, resolve)),
            _ => match eval(b, resolve) {
                Val::Bool(false) => Val::Bool(false),
                _ => Val::Null,
            },
        },
        Expr::Bin(Op::Or, a, b) => match eval(a, resolve) {
            Val::Bool(true) => Val::Bool(true),
            Val::Bool(false) => truth(eval(b, resolve)),
            _ => match eval(b, resolve) {
                Val::Bool(true) => Val::Bool(true),
                _ => Val::Null,
            },
        },
        Expr::Bin(op, a, b) => {
            let (a, b) = (eval(a, resolve), eval(b, resolve));
            binary(*op, a, b)
        }
        Expr::Call(name, args) => {
            let vals: Vec<Val> = args.iter().map(|a| eval(a, resolve)).collect();
            call(name, vals)
        }
    }
}

fn truth(v: Val) -> Val {
    match v {
        Val::Bool(b) => Val::Bool(b),
        _ => Val::Null,
    }
}

/// Whether a value counts as true (only `true` does).
pub fn is_true(v: &Val) -> bool {
    matches!(v, Val::Bool(true))
}

/// Bring a string and a time to times, for comparison of `phenomenonTime` (text) with a time
/// literal.
fn coerce(a: Val, b: Val) -> (Val, Val) {
    let time = |s: &str| twin_core::live::time::parse_time(s).map(|t| Val::Time(t.start));
    match (a, b) {
        (Val::Str(s), Val::Time(t)) => (time(&s).unwrap_or(Val::Str(s)), Val::Time(t)),
        (Val::Time(t), Val::Str(s)) => (Val::Time(t), time(&s).unwrap_or(Val::Str(s))),
        other => other,
    }
}

/// The order of two values of one type; None when they cannot be compared.
pub fn compare(a: &Val, b: &Val) -> Option<Ordering> {
    match (a, b) {
        (Val::Num(x), Val::Num(y)) => x.partial_cmp(y),
        (Val::Str(x), Val::Str(y)) => Some(x.cmp(y)),
        (Val::Time(x), Val::Time(y)) => Some(x.cmp(y)),
        (Val::Bool(x), Val::Bool(y)) => Some(x.cmp(y)),
        (Val::Null, Val::Null) => Some(Ordering::Equal),
        _ => None,
    }
}

fn binary(op: Op, a: Val, b: Val) -> Val {
    let (a, b) = coerce(a, b);
    match op {
        Op::Eq | Op::Ne => {
            let eq = match (&a, &b) {
                (Val::Geo(x), Val::Geo(y)) => x == y,
                _ => compare(&a, &b) == Some(Ordering::Equal),
            };
            Val::Bool(if op == Op::Eq { eq } else { !eq })
        }
        Op::Gt | Op::Ge | Op::Lt | Op::Le => match compare(&a, &b) {
            Some(o) if !matches!(a, Val::Null) => Val::Bool(match op {
                Op::Gt => o == Ordering::Greater,
                Op::Ge => o != Ordering::Less,
                Op::Lt => o == Ordering::Less,
                _ => o != Ordering::Greater,
            }),
            _ => Val::Null,
        },
        Op::Add | Op::Sub | Op::Mul | Op::Div | Op::Mod => match (a, b) {
            (Val::Num(x), Val::Num(y)) => Val::Num(match op {
                Op::Add => x + y,
                Op::Sub => x - y,
                Op::Mul => x * y,
                Op::Div => x / y,
                _ => x % y,
            }),
            _ => Val::Null,
        },
        Op::And | Op::Or => Val::Null,
    }
}

fn datetime(v: &Val) -> Option<DateTime<Utc>> {
    match v {
        Val::Time(t) => DateTime::<Utc>::from_timestamp_millis(*t),
        Val::Str(s) => twin_core::live::time::parse_time(s)
            .and_then(|t| DateTime::<Utc>::from_timestamp_millis(t.start)),
        _ => None,
    }
}

fn call(name: &str, a: Vec<Val>) -> Val {
    let s = |i: usize| match a.get(i) {
        Some(Val::Str(s)) => Some(s.as_str()),
        _ => None,
    };
    let n = |i: usize| match a.get(i) {
        Some(Val::Num(x)) => Some(*x),
        _ => None,
    };
    let g = |i: usize| match a.get(i) {
        Some(Val::Geo(x)) => Some(x.as_ref()),
        _ => None,
    };
    let num = |x: Option<f64>| x.map(Val::Num).unwrap_or(Val::Null);
    let boolean = |x: Option<bool>| x.map(Val::Bool).unwrap_or(Val::Null);
    let dt = || a.first().and_then(datetime);
    match name {
        "substringof" => boolean(s(0).zip(s(1)).map(|(x, y)| y.contains(x))),
        "contains" => boolean(s(0).zip(s(1)).map(|(x, y)| x.contains(y))),
        "startswith" => boolean(s(0).zip(s(1)).map(|(x, y)| x.starts_with(y))),
        "endswith" => boolean(s(0).zip(s(1)).map(|(x, y)| x.ends_with(y))),
        "length" => num(s(0).map(|x| x.chars().count() as f64)),
        "indexof" => num(s(0).zip(s(1)).map(|(x, y)| {
            x.find(y)
                .map(|b| x[..b].chars().count() as f64)
                .unwrap_or(-1.0)
        })),
        "substring" => match (s(0), n(1)) {
            (Some(x), Some(i)) if i >= 0.0 => {
                let it = x.chars().skip(i as usize);
                Val::Str(match n(2) {
                    Some(l) if l >= 0.0 => it.take(l as usize).collect(),
                    Some(_) => return Val::Null,
                    None => it.collect(),
                })
            }
            _ => Val::Null,
        },
        "tolower" => s(0)
            .map(|x| Val::Str(x.to_lowercase()))
            .unwrap_or(Val::Null),
        "toupper" => s(0)
            .map(|x| Val::Str(x.to_uppercase()))
            .unwrap_or(Val::Null),
        "trim" => s(0).map(|x| Val::Str(x.trim().into())).unwrap_or(Val::Null),
        "concat" => match (s(0), s(1)) {
            (Some(x), Some(y)) => Val::Str(format!("{x}{y}")),
            _ => Val::Null,
        },
        "year" => num(dt().map(|t| t.year() as f64)),
        "month" => num(dt().map(|t| t.month() as f64)),
        "day" => num(dt().map(|t| t.day() as f64)),
        "hour" => num(dt().map(|t| t.hour() as f64)),
        "minute" => num(dt().map(|t| t.minute() as f64)),
        "second" => num(dt().map(|t| t.second() as f64)),
        "fractionalseconds" => num(dt().map(|t| t.timestamp_subsec_millis() as f64 / 1000.0)),
        "totaloffsetminutes" => num(dt().map(|_| 0.0)),
        "date" => dt()
            .map(|t| Val::Str(t.format("%Y-%m-%d").to_string()))
            .unwrap_or(Val::Null),
        "time" => dt()
            .map(|t| Val::Str(t.format("%H:%M:%S%.3f").to_string()))
            .unwrap_or(Val::Null),
        "now" => Val::Time(twin_core::live::time::now_ms()),
        "mindatetime" => Val::Time(i64::MIN / 4),
        "maxdatetime" => Val::Time(i64::MAX / 4),
        "round" => num(n(0).map(f64::round)),
        "floor" => num(n(0).map(f64::floor)),
        "ceiling" => num(n(0).map(f64::ceil)),
        "geo.intersects" | "st_intersects" => boolean(g(0).zip(g(1)).map(|(x, y)| x.intersects(y))),
        "st_disjoint" => boolean(g(0).zip(g(1)).map(|(x, y)| !x.intersects(y))),
        "st_within" => boolean(g(0).zip(g(1)).map(|(x, y)| y.contains(x))),
        "st_contains" => boolean(g(0).zip(g(1)).map(|(x, y)| x.contains(y))),
        "st_equals" => boolean(g(0).zip(g(1)).map(|(x, y)| x.relate(y).is_equal_topo())),
        "st_touches" => boolean(g(0).zip(g(1)).map(|(x, y)| x.relate(y).is_touches())),
        "st_overlaps" => boolean(g(0).zip(g(1)).map(|(x, y)| x.relate(y).is_overlaps())),
        "st_crosses" => boolean(g(0).zip(g(1)).map(|(x, y)| x.relate(y).is_crosses())),
        "geo.distance" => num(g(0).zip(g(1)).map(|(x, y)| {
            use geo::{Distance, Euclidean};
            Euclidean.distance(x, y)
        })),
        "geo.length" => num(g(0).map(|x| {
            use geo::{Euclidean, Length};
            match x {
                Geometry::LineString(l) => Euclidean.length(l),
                Geometry::MultiLineString(l) => Euclidean.length(l),
                _ => 0.0,
            }
        })),
        _ => Val::Null,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(s: &str) -> Val {
        let e = parse(s).unwrap_or_else(|e| panic!("{s}: {e}"));
        eval(&e, &mut |p: &[String]| match p.join("/").as_str() {
            "result" => Val::Num(3.6),
            "name" => Val::Str("Kim Long gauge".into()),
            "phenomenonTime" => Val::Str("2025-10-27T06:30:00Z".into()),
            "Thing/Locations/location" => Val::Geo(Box::new(Geometry::Point(
                geo_types::Point::new(107.5579, 16.456),
            ))),
            _ => Val::Null,
        })
    }

    #[test]
    fn operators_and_functions() {
        assert_eq!(run("result gt 3.5"), Val::Bool(true));
        assert_eq!(run("result gt 3.5 and result le 3.6"), Val::Bool(true));
        assert_eq!(run("not (result gt 3.5) or name eq 'x'"), Val::Bool(false));
        assert_eq!(run("result sub 0.1 mul 2 eq 3.4"), Val::Bool(true));
        assert_eq!(run("(result add 0.4) div 2 eq 2"), Val::Bool(true));
        assert_eq!(run("7 mod 4 eq 3"), Val::Bool(true));
        assert_eq!(run("-result lt -3"), Val::Bool(true));
        assert_eq!(run("substringof('Long', name)"), Val::Bool(true));
        assert_eq!(run("startswith(tolower(name), 'kim')"), Val::Bool(true));
        assert_eq!(
            run("length(name) eq 14 and indexof(name, 'Long') eq 4"),
            Val::Bool(true)
        );
        assert_eq!(run("substring(name, 4, 4) eq 'Long'"), Val::Bool(true));
        assert_eq!(run("name eq 'it''s'"), Val::Bool(false));
        assert_eq!(run("phenomenonTime ge 2025-10-27T06:00:00Z and phenomenonTime lt 2025-10-27T14:00:00+07:00"), Val::Bool(true));
        assert_eq!(run("hour(phenomenonTime) eq 6 and year(phenomenonTime) eq 2025 and month(phenomenonTime) eq 10 and day(phenomenonTime) eq 27"), Val::Bool(true));
        assert_eq!(run("phenomenonTime lt now()"), Val::Bool(true));
        assert_eq!(
            run("geo.intersects(Thing/Locations/location, geography'POLYGON((107.55 16.45,107.56 16.45,107.56 16.46,107.55 16.46,107.55 16.45))')"),
            Val::Bool(true)
        );
        assert_eq!(
            run("st_within(Thing/Locations/location, geography'SRID=4326;POLYGON((107.0 16.0,107.1 16.0,107.1 16.1,107.0 16.0))')"),
            Val::Bool(false)
        );
        assert!(
            matches!(run("geo.distance(Thing/Locations/location, geography'POINT(107.5579 16.466)')"), Val::Num(d) if (d - 0.01).abs() < 1e-9)
        );
        // A missing property compares as null: neither gt nor lt.
        assert_eq!(run("missing gt 1"), Val::Null);
        assert_eq!(run("missing eq null"), Val::Bool(true));
    }

    #[test]
    fn errors_name_the_place() {
        for bad in [
            "result gt",
            "result gt 3 3",
            "(result gt 3",
            "foo(1)",
            "name eq 'x",
            "geo.intersects(a, geography'POINT(1)')",
            "result # 3",
        ] {
            assert!(parse(bad).is_err(), "{bad}");
        }
        assert_eq!(parse("result gt").unwrap_err().0, "at 9: unexpected end");
        let deep = format!("{}1{}", "(".repeat(200), ")".repeat(200));
        assert!(parse(&deep).is_err());
        let o = parse_orderby("phenomenonTime desc, id").unwrap();
        assert_eq!(o.len(), 2);
        assert!(o[0].1 && !o[1].1);
    }
}
