//! Coordinate reference systems and transformations through PROJ.
//!
//! The safe `proj` crate is 2-D only; the twin needs 3-D transformations (ellipsoidal heights,
//! ECEF for 3D Tiles, vertical units of LAS files) and CRS introspection, so this module is a
//! small wrapper over `proj-sys`, the same bindings `proj` uses. Each [`Transform`] owns its own
//! PROJ context, so it is `Send` (move one to each thread) but not `Sync`.

use crate::error::{Result, TwinError};
use std::ffi::{CStr, CString};
use std::fmt;
use std::ptr;

use proj_sys as sys;

/// WGS84 longitude/latitude (the API's CRS).
pub const WGS84: &str = "EPSG:4326";
/// WGS84 longitude/latitude/ellipsoidal height.
pub const WGS84_3D: &str = "EPSG:4979";
/// Earth-centred, earth-fixed (3D Tiles).
pub const ECEF: &str = "EPSG:4978";

/// A coordinate reference system named by an authority code, a WKT string or a PROJ string,
/// checked against PROJ's database when it is made.
#[derive(Clone, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Crs {
    definition: String,
    name: String,
    geographic: bool,
}

impl fmt::Debug for Crs {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Crs({})", self.short())
    }
}

impl fmt::Display for Crs {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({})", self.short(), self.name)
    }
}

impl TryFrom<String> for Crs {
    type Error = TwinError;
    fn try_from(s: String) -> Result<Self> {
        Crs::parse(&s)
    }
}

impl From<Crs> for String {
    fn from(c: Crs) -> String {
        c.definition
    }
}

struct Ctx(*mut sys::PJ_CONTEXT);
impl Ctx {
    fn new() -> Self {
        // SAFETY: proj_context_create has no preconditions; errors are read back through
        // proj_context_errno instead of being printed by PROJ's logger.
        unsafe {
            let ctx = sys::proj_context_create();
            sys::proj_log_level(ctx, sys::PJ_LOG_LEVEL_PJ_LOG_NONE);
            Ctx(ctx)
        }
    }
    /// PROJ's reason for the context's last failure as a sentence ([`proj_reason`]).
    fn last_error(&self) -> String {
        // SAFETY: the context is alive.
        let errno = unsafe { sys::proj_context_errno(self.0) };
        proj_reason(self, errno)
    }
}
impl Drop for Ctx {
    fn drop(&mut self) {
        // SAFETY: created by proj_context_create and dropped once.
        unsafe { sys::proj_context_destroy(self.0) };
    }
}

fn cstr(p: *const std::os::raw::c_char) -> Option<String> {
    if p.is_null() {
        None
    } else {
        // SAFETY: PROJ returns NUL-terminated strings.
        Some(unsafe { CStr::from_ptr(p) }.to_string_lossy().into_owned())
    }
}

impl Crs {
    /// An EPSG code, e.g. `Crs::epsg(32648)` for WGS84 / UTM 48N.
    pub fn epsg(code: u32) -> Result<Crs> {
        Crs::parse(&format!("EPSG:{code}"))
    }

    /// Parse and check a CRS: `EPSG:32648`, `urn:ogc:def:crs:EPSG::7415`,
    /// `https://www.opengis.net/def/crs/EPSG/0/7415`, a WKT string or a PROJ string.
    pub fn parse(s: &str) -> Result<Crs> {
        let definition = normalise_definition(s.trim());
        if definition.is_empty() {
            return Err(TwinError::Crs {
                crs: s.into(),
                message: "empty CRS".into(),
            });
        }
        let ctx = Ctx::new();
        let c = CString::new(definition.clone()).map_err(|_| TwinError::Crs {
            crs: s.into(),
            message: "CRS contains a NUL byte".into(),
        })?;
        // SAFETY: ctx and c are valid for the call; the PJ is destroyed below.
        unsafe {
            let pj = sys::proj_create(ctx.0, c.as_ptr());
            if pj.is_null() {
                return Err(TwinError::Crs {
                    crs: s.into(),
                    message: format!(
                        "unknown CRS: PROJ knows no CRS by this name (neither an authority code in its \
                         database such as EPSG:32648, nor valid WKT or a PROJ string){}",
                        proj_words(&ctx, sys::proj_context_errno(ctx.0))
                            .map(|w| format!("; PROJ says: {w}"))
                            .unwrap_or_default()
                    ),
                });
            }
            let is_crs = sys::proj_is_crs(pj) != 0;
            let name = cstr(sys::proj_get_name(pj)).unwrap_or_default();
            let ty = sys::proj_get_type(pj);
            sys::proj_destroy(pj);
            if !is_crs {
                return Err(TwinError::Crs {
                    crs: s.into(),
                    message: "not a coordinate reference system".into(),
                });
            }
            let geographic = ty == sys::PJ_TYPE_PJ_TYPE_GEOGRAPHIC_2D_CRS
                || ty == sys::PJ_TYPE_PJ_TYPE_GEOGRAPHIC_3D_CRS;
            Ok(Crs {
                definition,
                name,
                geographic,
            })
        }
    }

    /// WGS84 longitude/latitude.
    pub fn wgs84() -> Crs {
        Crs::parse(WGS84).expect("PROJ database knows EPSG:4326")
    }

    /// The definition string as given to PROJ (e.g. `EPSG:32648`).
    pub fn definition(&self) -> &str {
        &self.definition
    }

    /// The CRS name from PROJ's database (e.g. `WGS 84 / UTM zone 48N`).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// True for a geographic (degrees) CRS.
    pub fn is_geographic(&self) -> bool {
        self.geographic
    }

    /// Whether `(x, y)` can be a coordinate in this CRS at all: finite, and for a geographic CRS
    /// a longitude within ±540° and a latitude within ±90°, for a projected one within ±1e9
    /// units (the Earth's circumference is 4e7 m, 1.3e8 ft). Importers check source
    /// coordinates with it, so that a header typo such as an offset of 1e308 or a corner at
    /// -99999999999 is an error instead of points piled at a pole (PROJ maps many absurd
    /// inputs to some valid output). The error says which number is out of range.
    ///
    /// ```
    /// use twin_core::Crs;
    /// assert!(Crs::wgs84().check_plausible(107.5, 16.4).is_ok());
    /// assert!(Crs::wgs84().check_plausible(-99999999999.0, 16.4).is_err());
    /// assert!(Crs::epsg(32648).unwrap().check_plausible(1e308, 0.0).is_err());
    /// assert!(Crs::epsg(32648).unwrap().check_plausible(f64::NAN, 0.0).is_err());
    /// ```
    pub fn check_plausible(&self, x: f64, y: f64) -> std::result::Result<(), String> {
        if !(x.is_finite() && y.is_finite()) {
            return Err(format!("({x}, {y}) is not a finite coordinate"));
        }
        if self.geographic {
            // Which axis is the longitude: PROJ's normalised order (lon, lat) is used throughout.
            if x.abs() > 540.0 {
                return Err(format!(
                    "longitude {x} is outside -540..540 degrees in {}",
                    self.short()
                ));
            }
            if y.abs() > 90.0 + 1e-9 {
                return Err(format!(
                    "latitude {y} is outside -90..90 degrees in {}",
                    self.short()
                ));
            }
        } else {
            const MAX: f64 = 1e9;
            for (axis, v) in [("x", x), ("y", y)] {
                if v.abs() > MAX {
                    return Err(format!(
                        "{axis} {v} is beyond ±{MAX:e} units in {}, no place on Earth",
                        self.short()
                    ));
                }
            }
        }
        Ok(())
    }

    /// The EPSG code when the definition is `EPSG:<n>`.
    pub fn epsg_code(&self) -> Option<u32> {
        self.definition
            .strip_prefix("EPSG:")
            .and_then(|c| c.parse().ok())
    }

    /// A short label: the EPSG code, or the name for WKT/PROJ definitions.
    pub fn short(&self) -> String {
        if self.definition.starts_with("EPSG:") {
            self.definition.clone()
        } else {
            self.name.clone()
        }
    }

    /// The CRS's area of use from PROJ's database: `[west, south, east, north]` in degrees and
    /// its name; `None` when PROJ knows none (a PROJ string, a custom WKT).
    pub fn area_of_use(&self) -> Option<([f64; 4], String)> {
        let ctx = Ctx::new();
        let c = CString::new(self.definition.clone()).ok()?;
        // SAFETY: as in parse; the area name is owned by the PJ and copied before destroy.
        unsafe {
            let pj = sys::proj_create(ctx.0, c.as_ptr());
            if pj.is_null() {
                return None;
            }
            let (mut w, mut s, mut e, mut n) = (0.0, 0.0, 0.0, 0.0);
            let mut name: *const std::os::raw::c_char = ptr::null();
            let ok =
                sys::proj_get_area_of_use(ctx.0, pj, &mut w, &mut s, &mut e, &mut n, &mut name);
            let name = cstr(name).unwrap_or_default();
            sys::proj_destroy(pj);
            (ok != 0 && w > -1000.0).then_some(([w, s, e, n], name))
        }
    }

    /// The CRS as WKT2, for file formats that embed it (GeoPackage, .prj).
    pub fn to_wkt(&self) -> Result<String> {
        let ctx = Ctx::new();
        let c = CString::new(self.definition.clone()).expect("checked in parse");
        // SAFETY: as in parse; the returned string is owned by the PJ and copied before destroy.
        unsafe {
            let pj = sys::proj_create(ctx.0, c.as_ptr());
            if pj.is_null() {
                return Err(TwinError::Crs {
                    crs: self.short(),
                    message: ctx.last_error(),
                });
            }
            let wkt = cstr(sys::proj_as_wkt(
                ctx.0,
                pj,
                sys::PJ_WKT_TYPE_PJ_WKT1_GDAL,
                ptr::null(),
            ))
            .or_else(|| {
                cstr(sys::proj_as_wkt(
                    ctx.0,
                    pj,
                    sys::PJ_WKT_TYPE_PJ_WKT2_2019,
                    ptr::null(),
                ))
            });
            sys::proj_destroy(pj);
            wkt.ok_or_else(|| TwinError::Crs {
                crs: self.short(),
                message: "PROJ cannot write this CRS as WKT".into(),
            })
        }
    }
}

/// A sentence for a PROJ error code, instead of PROJ's terse text (PROJ 9.1 words its generic
/// codes as "Unknown error (code 4096)").
fn proj_reason(ctx: &Ctx, errno: i32) -> String {
    let code = u32::try_from(errno).unwrap_or(0);
    let text = match code {
        0 => return "PROJ gave no reason".into(),
        sys::PROJ_ERR_INVALID_OP_FILE_NOT_FOUND_OR_INVALID => {
            "a grid file the transformation needs is missing or unreadable (install the PROJ data \
             package, e.g. Debian's proj-data, or set PROJ_DATA)"
        }
        c if c & sys::PROJ_ERR_INVALID_OP != 0 => {
            "PROJ rejected the definition (bad syntax, a missing or invalid parameter)"
        }
        sys::PROJ_ERR_COORD_TRANSFM_INVALID_COORD => "the coordinate is not valid in the source CRS",
        sys::PROJ_ERR_COORD_TRANSFM_OUTSIDE_PROJECTION_DOMAIN => {
            "the point is outside the domain where the projection is defined"
        }
        sys::PROJ_ERR_COORD_TRANSFM_NO_OPERATION => {
            "no transformation between the two CRSs applies at this point (it lies outside the area \
             of use of each of them)"
        }
        sys::PROJ_ERR_COORD_TRANSFM_OUTSIDE_GRID => {
            "the point is outside the correction grid the transformation uses"
        }
        sys::PROJ_ERR_COORD_TRANSFM_GRID_AT_NODATA => {
            "the correction grid the transformation uses has no value at this point"
        }
        c if c & sys::PROJ_ERR_COORD_TRANSFM != 0 => {
            "PROJ could not compute the transformation at this point (most often a coordinate \
             outside the area the CRSs are made for)"
        }
        sys::PROJ_ERR_OTHER_NO_INVERSE_OP => "the operation has no inverse",
        sys::PROJ_ERR_OTHER_NETWORK_ERROR => "PROJ could not fetch a grid over the network",
        _ => "PROJ failed without saying why",
    };
    match proj_words(ctx, errno) {
        Some(w) => format!("{text} (PROJ: {w})"),
        None => format!("{text} (PROJ error {errno})"),
    }
}

/// PROJ's own words for an error, when they say more than its code.
fn proj_words(ctx: &Ctx, errno: i32) -> Option<String> {
    // SAFETY: the context is alive; PROJ returns a static or context-owned string.
    let raw = unsafe { cstr(sys::proj_context_errno_string(ctx.0, errno)) }?;
    let generic =
        raw.is_empty() || raw.starts_with("Unknown error") || raw.starts_with("Generic error");
    (!generic).then_some(raw)
}

/// ", and the point lies outside <crs>'s area of use (...)" when it does: the likeliest cause
/// of a failed transformation is a wrong source CRS. Empty when inside or unknown.
fn outside_area_note(crs: &Crs, x: f64, y: f64) -> String {
    let Some((area, name)) = crs.area_of_use() else {
        return String::new();
    };
    let lonlat = if crs.is_geographic() {
        Some((x, y))
    } else {
        let ctx = Ctx::new();
        to_own_geographic(&ctx, &crs.definition).and_then(|t| t(x, y))
    };
    let inside = lonlat.is_some_and(|(lon, lat)| area_contains(area, lon, lat));
    if inside {
        return String::new();
    }
    let [w, s, e, n] = area;
    let name = name.trim_end_matches('.');
    format!(
        "; the point lies outside {}'s area of use ({name}: longitude {w}..{e}, latitude {s}..{n}), so \
         the coordinates are probably not in {}: check the source CRS",
        crs.short(),
        crs.short()
    )
}

/// How a user gives a source's CRS, for messages: the `twin import` flag and the `twin.toml` key.
pub const GIVE_SOURCE_CRS: &str =
    "give it with --source-crs on `twin import` (in twin.toml: `crs = \"EPSG:...\"` in the source's [[sources]] entry)";

/// A CRS that may be a file's, guessed from its coordinates alone ([`guess_crs`]).
#[derive(Clone, Debug, PartialEq)]
pub struct CrsGuess {
    /// The code, e.g. `EPSG:28992`.
    pub code: String,
    /// PROJ's name, e.g. `Amersfoort / RD New`.
    pub name: String,
    /// The name of its area of use, e.g. `Netherlands - onshore, including Waddenzee...`.
    pub area: String,
    /// The area of use, degrees: west, south, east, north.
    pub area_bounds: [f64; 4],
    /// Other codes with the same projection and area on another datum.
    pub also: Vec<String>,
}

impl fmt::Display for CrsGuess {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({}", self.code, self.name)?;
        if !self.also.is_empty() {
            write!(f, "; on other datums: {}", self.also.join(", "))?;
        }
        // Long lists of counties cut after 100 characters.
        let area = self.area.trim_end_matches('.');
        match area.char_indices().nth(100) {
            Some((i, _)) => write!(f, "; area of use: {}...)", &area[..i]),
            None => write!(f, "; area of use: {area})"),
        }
    }
}

/// The degrees a point may lie outside a CRS's area of use and still count as inside (areas of
/// use are drawn generously by EPSG, but data along a border should not lose its CRS).
const AREA_SLACK_DEG: f64 = 0.05;

fn area_contains(a: [f64; 4], lon: f64, lat: f64) -> bool {
    let [w, s, e, n] = a;
    let in_lon = if w <= e {
        lon >= w - AREA_SLACK_DEG && lon <= e + AREA_SLACK_DEG
    } else {
        // Across the antimeridian.
        lon >= w - AREA_SLACK_DEG || lon <= e + AREA_SLACK_DEG
    };
    in_lon && lat >= s - AREA_SLACK_DEG && lat <= n + AREA_SLACK_DEG
}

fn area_size(a: [f64; 4]) -> f64 {
    let [w, s, e, n] = a;
    let dlon = if w <= e { e - w } else { e + 360.0 - w };
    dlon * (n - s)
}

/// CRSs whose area of use contains the bounding box `[xmin, ymin, xmax, ymax]` of a file's
/// coordinates, at most `max`: a guess for a file that names no CRS.
///
/// Numbers that fit longitude/latitude give WGS 84 (EPSG:4326). Other numbers are tried as
/// projected coordinates in every non-deprecated projected CRS of PROJ's EPSG database: a CRS is
/// kept when the box's corners and centre, taken back to its own geographic CRS, fall inside
/// its area of use. Numbers alone cannot tell projected CRSs apart (many false origins overlap:
/// Dutch RD coordinates also fit some 200 other CRSs), so the list is ranked: first the CRSs that
/// put the data inside `near` (the twin's own area of use, lon/lat degrees `[w, s, e, n]`), then
/// regional CRSs before continental and world-wide ones (an area of use over 60° across), each
/// group with the CRSs in whose area of use the data lies most centrally first; CRSs that differ only by datum
/// (same projection name and area) count once, the others named in [`CrsGuess::also`]. It is a
/// list of candidates to check, not an answer.
///
/// ```
/// use twin_core::crs::guess_crs;
/// // Delft in Dutch RD New coordinates, for a twin in the Netherlands.
/// let g = guess_crs([84_000.0, 446_000.0, 86_000.0, 448_000.0], Some([3.2, 50.75, 7.22, 53.7]), 3);
/// assert_eq!(g[0].code, "EPSG:28992");
/// assert_eq!(guess_crs([107.5, 16.4, 107.6, 16.5], None, 5)[0].code, "EPSG:4326");
/// ```
pub fn guess_crs(bbox: [f64; 4], near: Option<[f64; 4]>, max: usize) -> Vec<CrsGuess> {
    let [x0, y0, x1, y1] = bbox;
    if !bbox.iter().all(|v| v.is_finite()) || x0 > x1 || y0 > y1 || max == 0 {
        return Vec::new();
    }
    if x0 >= -180.0 && x1 <= 180.0 && y0 >= -90.0 && y1 <= 90.0 {
        return vec![CrsGuess {
            code: WGS84.into(),
            name: "WGS 84".into(),
            area: "World (the numbers fit longitude/latitude in degrees)".into(),
            area_bounds: [-180.0, -90.0, 180.0, 90.0],
            also: Vec::new(),
        }];
    }
    let points = [
        ((x0 + x1) / 2.0, (y0 + y1) / 2.0),
        (x0, y0),
        (x0, y1),
        (x1, y0),
        (x1, y1),
    ];
    let candidates = projected_crs_list();
    // One PROJ context per worker: making one opens the database.
    use rayon::prelude::*;
    let mut found: Vec<((bool, bool, f64, f64), CrsGuess)> = candidates
        .into_par_iter()
        .with_min_len(256)
        .map_init(Ctx::new, |ctx, c| {
            let t = to_own_geographic(ctx, &c.code)?;
            let mut centre = None;
            for &(x, y) in &points {
                let (lon, lat) = t(x, y)?;
                if !area_contains(c.area_bounds, lon, lat) {
                    return None;
                }
                centre.get_or_insert((lon, lat));
            }
            let (lon, lat) = centre?;
            let off_near = !near.is_some_and(|n| area_contains(n, lon, lat));
            // Continental and world-wide projections hold nearly any numbers, and files are
            // seldom in them: they come after the regional CRSs.
            let [w, s, e, n] = c.area_bounds;
            let dlon = if w <= e { e - w } else { e + 360.0 - w };
            let wide = dlon > 60.0 || n - s > 60.0;
            Some((
                (
                    off_near,
                    wide,
                    centrality(c.area_bounds, lon, lat),
                    area_size(c.area_bounds),
                ),
                c,
            ))
        })
        .flatten()
        .collect();
    found.sort_by(|(a, ca), (b, cb)| {
        a.0.cmp(&b.0)
            .then(a.1.cmp(&b.1))
            .then(a.2.total_cmp(&b.2))
            .then(a.3.total_cmp(&b.3))
            .then_with(|| ca.code.cmp(&cb.code))
    });
    // One entry per projection and area; the datum variants listed with it.
    let mut out: Vec<CrsGuess> = Vec::new();
    for (_, c) in found {
        let key = |g: &CrsGuess| {
            (
                g.area.clone(),
                g.name.split_once(" / ").map(|(_, p)| p.to_string()),
            )
        };
        if let Some(g) = out.iter_mut().find(|g| key(g) == key(&c)) {
            g.also.push(c.code);
        } else if out.len() < max {
            out.push(c);
        }
    }
    out
}

/// How far from the middle of its area of use a point lies: 0 at the centre, 1 on its edge.
fn centrality(a: [f64; 4], lon: f64, lat: f64) -> f64 {
    let [w, s, e, n] = a;
    let dlon = if w <= e { e - w } else { e + 360.0 - w };
    let mut x = lon - w;
    if x < -180.0 {
        x += 360.0;
    }
    let fx = ((x / dlon.max(1e-9)) - 0.5).abs() * 2.0;
    let fy = (((lat - s) / (n - s).max(1e-9)) - 0.5).abs() * 2.0;
    fx.max(fy)
}

/// The non-deprecated projected CRSs of PROJ's EPSG database with their areas of use.
fn projected_crs_list() -> Vec<CrsGuess> {
    let ctx = Ctx::new();
    let mut out = Vec::new();
    // SAFETY: the parameters and the list are made and destroyed here; strings are copied out.
    unsafe {
        let params = sys::proj_get_crs_list_parameters_create();
        if params.is_null() {
            return out;
        }
        let types = [sys::PJ_TYPE_PJ_TYPE_PROJECTED_CRS];
        (*params).types = types.as_ptr();
        (*params).typesCount = types.len();
        (*params).allow_deprecated = 0;
        let auth = CString::new("EPSG").expect("no NUL");
        let mut n = 0;
        let list = sys::proj_get_crs_info_list_from_database(ctx.0, auth.as_ptr(), params, &mut n);
        sys::proj_get_crs_list_parameters_destroy(params);
        if list.is_null() {
            return out;
        }
        for i in 0..usize::try_from(n).unwrap_or(0) {
            let info = &**list.add(i);
            if info.bbox_valid == 0 || info.deprecated != 0 {
                continue;
            }
            let (Some(a), Some(c)) = (cstr(info.auth_name), cstr(info.code)) else {
                continue;
            };
            out.push(CrsGuess {
                code: format!("{a}:{c}"),
                name: cstr(info.name).unwrap_or_default(),
                area: cstr(info.area_name).unwrap_or_default(),
                area_bounds: [
                    info.west_lon_degree,
                    info.south_lat_degree,
                    info.east_lon_degree,
                    info.north_lat_degree,
                ],
                also: Vec::new(),
            });
        }
        sys::proj_crs_info_list_destroy(list);
    }
    out
}

/// A function taking projected coordinates of the CRS `code` to longitude/latitude in its own
/// geographic CRS (no datum shift), or `None` when PROJ cannot make one. It borrows `ctx`.
fn to_own_geographic<'a>(
    ctx: &'a Ctx,
    code: &str,
) -> Option<impl Fn(f64, f64) -> Option<(f64, f64)> + 'a> {
    struct Pj(*mut sys::PJ);
    impl Drop for Pj {
        fn drop(&mut self) {
            // SAFETY: each PJ here is made once and destroyed once (null is accepted by PROJ).
            unsafe { sys::proj_destroy(self.0) };
        }
    }
    let c = CString::new(code).ok()?;
    // SAFETY: the context outlives every PJ made here (they are dropped with the closure, which
    // borrows ctx); PJ_COORD is a plain union of four doubles.
    unsafe {
        let crs = Pj(sys::proj_create(ctx.0, c.as_ptr()));
        if crs.0.is_null() {
            return None;
        }
        let geo = Pj(sys::proj_crs_get_geodetic_crs(ctx.0, crs.0));
        if geo.0.is_null() {
            return None;
        }
        let raw = Pj(sys::proj_create_crs_to_crs_from_pj(
            ctx.0,
            crs.0,
            geo.0,
            ptr::null_mut(),
            ptr::null(),
        ));
        if raw.0.is_null() {
            return None;
        }
        let pj = Pj(sys::proj_normalize_for_visualization(ctx.0, raw.0));
        if pj.0.is_null() {
            return None;
        }
        Some(move |x: f64, y: f64| {
            let pj = &pj;
            let c = sys::PJ_COORD {
                xyzt: sys::PJ_XYZT {
                    x,
                    y,
                    z: 0.0,
                    t: f64::INFINITY,
                },
            };
            sys::proj_errno_reset(pj.0);
            let r = sys::proj_trans(pj.0, sys::PJ_DIRECTION_PJ_FWD, c).xyzt;
            (sys::proj_errno(pj.0) == 0 && r.x.is_finite() && r.y.is_finite()).then_some((r.x, r.y))
        })
    }
}

/// The message for a file that names no CRS: how to give one ([`GIVE_SOURCE_CRS`]) and, from
/// the bounding box of its coordinates (`[xmin, ymin, xmax, ymax]`), the CRSs whose area of use
/// contains them ([`guess_crs`]), said to be a guess.
pub fn missing_crs_hint(bbox: Option<[f64; 4]>, project: &Crs) -> String {
    let mut m = format!("the source's CRS is unknown: {GIVE_SOURCE_CRS}");
    let Some(b) = bbox else {
        return m;
    };
    let guesses = guess_crs(b, project.area_of_use().map(|(a, _)| a), 5);
    // Millimetres (or a millionth of a degree) are enough to recognise the numbers.
    let n = |v: f64| {
        let t = format!("{v:.6}");
        let t = t.trim_end_matches('0').trim_end_matches('.');
        if b.iter().any(|v| v.abs() > 360.0) {
            format!("{v:.3}")
                .trim_end_matches('0')
                .trim_end_matches('.')
                .to_string()
        } else {
            t.to_string()
        }
    };
    m.push_str(&format!(
        ". Its coordinates span x {} .. {}, y {} .. {}",
        n(b[0]),
        n(b[2]),
        n(b[1]),
        n(b[3])
    ));
    if guesses.is_empty() {
        m.push_str("; no CRS of PROJ's EPSG database has an area of use that contains them");
    } else {
        let list: Vec<String> = guesses.iter().map(|g| g.to_string()).collect();
        m.push_str(&format!(
            "; CRSs whose area of use contains them (a guess from the numbers alone, check it): {}",
            list.join("; ")
        ));
    }
    m
}

/// Accept the common spellings of EPSG codes (OGC URNs and URLs, `epsg:` in lower case).
fn normalise_definition(s: &str) -> String {
    let lower = s.to_ascii_lowercase();
    for prefix in [
        "urn:ogc:def:crs:epsg::",
        "urn:ogc:def:crs:epsg:0:",
        "http://www.opengis.net/def/crs/epsg/0/",
        "https://www.opengis.net/def/crs/epsg/0/",
        "epsg:",
    ] {
        if let Some(code) = lower.strip_prefix(prefix) {
            if !code.is_empty() && code.chars().all(|c| c.is_ascii_digit()) {
                return format!("EPSG:{code}");
            }
        }
    }
    s.to_string()
}

/// A transformation between two CRSs, with axis order normalised to x=east/longitude,
/// y=north/latitude. Heights pass through unchanged between 2-D CRSs.
pub struct Transform {
    ctx: Ctx,
    pj: *mut sys::PJ,
    label: String,
    from: Crs,
    to: Crs,
}

// SAFETY: the PJ and its context are owned by this value and only used through &self/&mut self
// from one thread at a time (Transform is not Sync).
unsafe impl Send for Transform {}

impl fmt::Debug for Transform {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Transform({})", self.label)
    }
}

impl Drop for Transform {
    fn drop(&mut self) {
        // SAFETY: created in new, destroyed once, before the context (field order).
        unsafe { sys::proj_destroy(self.pj) };
    }
}

impl Transform {
    /// The best available transformation from `from` to `to` for the whole area of use.
    pub fn new(from: &Crs, to: &Crs) -> Result<Transform> {
        let label = format!("{} -> {}", from.short(), to.short());
        let ctx = Ctx::new();
        let f = CString::new(from.definition.as_str()).expect("checked in parse");
        let t = CString::new(to.definition.as_str()).expect("checked in parse");
        // SAFETY: valid context and strings; every PJ made here is destroyed or kept in Self.
        unsafe {
            let raw = sys::proj_create_crs_to_crs(ctx.0, f.as_ptr(), t.as_ptr(), ptr::null_mut());
            if raw.is_null() {
                return Err(TwinError::Crs {
                    message: format!(
                        "PROJ found no transformation from {} to {} ({})",
                        from.short(),
                        to.short(),
                        ctx.last_error()
                    ),
                    crs: label,
                });
            }
            let pj = sys::proj_normalize_for_visualization(ctx.0, raw);
            sys::proj_destroy(raw);
            if pj.is_null() {
                return Err(TwinError::Crs {
                    crs: label,
                    message: ctx.last_error(),
                });
            }
            Ok(Transform {
                ctx,
                pj,
                label,
                from: from.clone(),
                to: to.clone(),
            })
        }
    }

    /// Shorthand for `Transform::new(&Crs::parse(from)?, &Crs::parse(to)?)`.
    pub fn between(from: &str, to: &str) -> Result<Transform> {
        Transform::new(&Crs::parse(from)?, &Crs::parse(to)?)
    }

    /// "FROM -> TO", for messages.
    pub fn label(&self) -> &str {
        &self.label
    }

    /// Transform one 3-D coordinate. Fails on non-finite input or output.
    pub fn apply3(&self, x: f64, y: f64, z: f64) -> Result<(f64, f64, f64)> {
        if !(x.is_finite() && y.is_finite() && z.is_finite()) {
            return Err(TwinError::Crs {
                crs: self.label.clone(),
                message: format!("non-finite coordinate ({x}, {y}, {z})"),
            });
        }
        // SAFETY: pj is alive; PJ_COORD is a plain union of four doubles.
        let out = unsafe {
            sys::proj_errno_reset(self.pj);
            let c = sys::PJ_COORD {
                xyzt: sys::PJ_XYZT {
                    x,
                    y,
                    z,
                    t: f64::INFINITY,
                },
            };
            let r = sys::proj_trans(self.pj, sys::PJ_DIRECTION_PJ_FWD, c);
            let err = sys::proj_errno(self.pj);
            if err != 0 {
                return Err(TwinError::Crs {
                    crs: self.label.clone(),
                    message: format!(
                        "cannot transform the point ({x}, {y}, {z}) from {} to {}: {}{}",
                        self.from.short(),
                        self.to.short(),
                        proj_reason(&self.ctx, err),
                        outside_area_note(&self.from, x, y)
                    ),
                });
            }
            r.xyzt
        };
        if !(out.x.is_finite() && out.y.is_finite() && out.z.is_finite()) {
            return Err(TwinError::Crs {
                crs: self.label.clone(),
                message: format!(
                    "cannot transform the point ({x}, {y}, {z}) from {} to {}: it is outside the area \
                     this transformation covers{}",
                    self.from.short(),
                    self.to.short(),
                    outside_area_note(&self.from, x, y)
                ),
            });
        }
        Ok((out.x, out.y, out.z))
    }

    /// Transform one 2-D coordinate.
    pub fn apply(&self, x: f64, y: f64) -> Result<(f64, f64)> {
        self.apply3(x, y, 0.0).map(|(x, y, _)| (x, y))
    }

    /// Transform a `geo` coordinate.
    pub fn coord(&self, c: geo_types::Coord<f64>) -> Result<geo_types::Coord<f64>> {
        let (x, y) = self.apply(c.x, c.y)?;
        Ok(geo_types::Coord { x, y })
    }

    /// Transform every coordinate of a geometry in place (the first error wins; the geometry
    /// is then partly transformed and should be dropped).
    pub fn geometry<G: geo::MapCoordsInPlace<f64>>(&self, g: &mut G) -> Result<()> {
        map_geometry(g, |x, y| self.apply(x, y))
    }
}

/// A transformation that is the identity when both CRSs are the same, so importers can call it
/// unconditionally.
#[derive(Debug)]
pub enum Reprojector {
    /// Source and target CRS are the same.
    Identity,
    /// A real PROJ transformation.
    Proj(Transform),
}

impl Reprojector {
    /// Identity when `from == to`, else a PROJ transformation.
    pub fn new(from: &Crs, to: &Crs) -> Result<Reprojector> {
        if from.definition == to.definition {
            Ok(Reprojector::Identity)
        } else {
            Ok(Reprojector::Proj(Transform::new(from, to)?))
        }
    }

    /// Transform one 3-D coordinate.
    pub fn apply3(&self, x: f64, y: f64, z: f64) -> Result<(f64, f64, f64)> {
        match self {
            Reprojector::Identity => {
                if x.is_finite() && y.is_finite() && z.is_finite() {
                    Ok((x, y, z))
                } else {
                    Err(TwinError::invalid(
                        "coordinate",
                        format!("non-finite ({x}, {y}, {z})"),
                    ))
                }
            }
            Reprojector::Proj(t) => t.apply3(x, y, z),
        }
    }

    /// Transform one 2-D coordinate.
    pub fn apply(&self, x: f64, y: f64) -> Result<(f64, f64)> {
        self.apply3(x, y, 0.0).map(|(x, y, _)| (x, y))
    }

    /// Transform every coordinate of a geometry in place (see [`Transform::geometry`]).
    pub fn geometry<G: geo::MapCoordsInPlace<f64>>(&self, g: &mut G) -> Result<()> {
        map_geometry(g, |x, y| self.apply(x, y))
    }
}

/// Map coordinates through a fallible function. (`try_map_coords_in_place` on a `Geometry`
/// recurses without bound at compile time, so errors are carried out through a cell.)
fn map_geometry<G, F>(g: &mut G, f: F) -> Result<()>
where
    G: geo::MapCoordsInPlace<f64>,
    F: Fn(f64, f64) -> Result<(f64, f64)>,
{
    let err = std::cell::RefCell::new(None);
    let (f, e) = (&f, &err);
    g.map_coords_in_place(move |c| match f(c.x, c.y) {
        Ok((x, y)) => geo_types::Coord { x, y },
        Err(x) => {
            e.borrow_mut().get_or_insert(x);
            c
        }
    });
    match err.into_inner() {
        Some(e) => Err(e),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_spellings() {
        for s in [
            "EPSG:32648",
            "epsg:32648",
            "urn:ogc:def:crs:EPSG::32648",
            "https://www.opengis.net/def/crs/EPSG/0/32648",
        ] {
            let c = Crs::parse(s).unwrap();
            assert_eq!(c.epsg_code(), Some(32648));
            assert!(!c.is_geographic());
            assert!(c.name().contains("48N"), "{}", c.name());
        }
        assert!(Crs::wgs84().is_geographic());
    }

    #[test]
    fn unknown_code_is_a_clear_error() {
        let e = Crs::parse("EPSG:999999").unwrap_err().to_string();
        assert!(e.contains("EPSG:999999"), "{e}");
        assert!(Crs::parse("").is_err());
        assert!(
            Crs::parse("EPSG:9122").is_err(),
            "an angle unit is not a CRS"
        );
    }

    #[test]
    fn guesses_crs_from_coordinates() {
        // Delft (the 3D BAG tiles' coordinates) in RD New, for a Dutch twin: RD New first.
        let rd = Crs::epsg(28992).unwrap().area_of_use().unwrap().0;
        let g = guess_crs([84_000.0, 446_000.0, 86_000.0, 448_000.0], Some(rd), 5);
        assert_eq!(g[0].code, "EPSG:28992", "{g:?}");
        assert!(g[0].area.starts_with("Netherlands"), "{g:?}");
        // Autzen (Eugene, Oregon) in Oregon GIC Lambert (ft), for a twin in Oregon: EPSG:2994
        // (NAD83(HARN)) or one of its datum variants first.
        let or = Crs::epsg(2994).unwrap().area_of_use().unwrap().0;
        let g = guess_crs([635_589.0, 848_886.0, 638_994.0, 853_535.0], Some(or), 5);
        assert!(
            g.iter()
                .take(2)
                .any(|c| c.code == "EPSG:2994" || c.also.iter().any(|a| a == "EPSG:2994")),
            "{g:?}"
        );
        // For a twin elsewhere (Huế, UTM 48N) the numbers alone cannot single RD New out (some
        // 200 regional CRSs hold them); the world-wide projections at least come last.
        let hue = Crs::epsg(32648).unwrap().area_of_use().unwrap().0;
        let g = guess_crs([84_000.0, 446_000.0, 86_000.0, 448_000.0], Some(hue), 5);
        assert_eq!(g.len(), 5);
        assert!(g.iter().all(|c| !c.area.starts_with("World")), "{g:?}");
        // Degrees are degrees.
        assert_eq!(
            guess_crs([107.5, 16.4, 107.6, 16.5], None, 5)[0].code,
            "EPSG:4326"
        );
    }

    /// Issue 20: PROJ's "Unknown error (code 4096)" reached the user; now a sentence says
    /// what failed, which CRS and which point.
    #[test]
    fn proj_errors_are_sentences() {
        let e = Crs::parse("EPSG:999999").unwrap_err().to_string();
        assert_eq!(
            e,
            "CRS error (EPSG:999999): unknown CRS: PROJ knows no CRS by this name (neither an \
             authority code in its database such as EPSG:32648, nor valid WKT or a PROJ string)"
        );
        let t = Transform::between("EPSG:32648", "EPSG:3405").unwrap();
        let e = t.apply(2e7, 2e7).unwrap_err().to_string();
        assert!(
            e.starts_with(
                "CRS error (EPSG:32648 -> EPSG:3405): cannot transform the point (20000000, \
                 20000000, 0) from EPSG:32648 to EPSG:3405: the point is outside the domain where \
                 the projection is defined (PROJ: Point outside of projection domain); the point \
                 lies outside EPSG:32648's area of use (Between 102°E and 108°E"
            ) && e.ends_with(
                "longitude 102..108, latitude 0..84), so the coordinates are probably not in \
                 EPSG:32648: check the source CRS"
            ),
            "{e}"
        );
        assert!(!e.contains("Unknown error"), "{e}");
    }

    #[test]
    fn wgs84_to_utm48_and_back() {
        // Ngo Mon gate, Hue.
        let t = Transform::between(WGS84, "EPSG:32648").unwrap();
        let (x, y) = t.apply(107.5788, 16.4673).unwrap();
        assert!(
            (x - 774_690.0).abs() < 1000.0 && (y - 1_822_780.0).abs() < 1000.0,
            "{x} {y}"
        );
        let back = Transform::between("EPSG:32648", WGS84).unwrap();
        let (lon, lat) = back.apply(x, y).unwrap();
        assert!((lon - 107.5788).abs() < 1e-9 && (lat - 16.4673).abs() < 1e-9);
        assert!(t.apply(f64::NAN, 1.0).is_err());
    }
}
