//! DEMs: ESRI ASCII grids (`.asc`) and single-band GeoTIFFs (`.tif`, `.tiff`).
//!
//! A file is read into a [`SourceGrid`] in its own CRS, then brought into the project CRS: kept
//! as it is when the two CRSs are the same (or PROJ's transformation between them is the
//! identity on the grid), else resampled with [`warp`].
//!
//! # CRS
//! `opts.source_crs` when given (it overrides the file); else `.asc`: a sibling `.prj` (WKT);
//! `.tif`: the GeoKeyDirectoryTag (ProjectedCSTypeGeoKey 3072, else GeographicTypeGeoKey 2048,
//! as EPSG codes). No CRS, or a user-defined one (32767), is an error asking for the source CRS (`--source-crs`), with CRSs guessed from the grid's extent.
//!
//! # Limits
//! Grids over [`MAX_CELLS`] cells (20,000 × 20,000) are refused from the header, before anything
//! is allocated.

use super::{ImportOptions, Imported, Progress};
use crate::crs::{Crs, Transform};
use crate::error::{Result, TwinError};
use crate::model::Dem;
use rayon::prelude::*;
use std::fs::File;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};

/// The largest grid accepted, in cells: 20,000 × 20,000 (3.2 GB as `Option<f32>`).
pub const MAX_CELLS: u64 = 20_000 * 20_000;

/// A grid as read from a file, in the file's own CRS and units.
#[derive(Clone, Debug, PartialEq)]
pub struct SourceGrid {
    /// The grid; `xmin`, `ymax` and the cell sizes are in the units of the file's CRS.
    pub grid: Dem,
    /// The CRS the file names, if any.
    pub crs: Option<Crs>,
    /// Where the CRS came from, or why there is none (for notes and errors).
    pub crs_origin: String,
    /// The nodata value of the file, if it declares one.
    pub nodata: Option<f64>,
    /// Remarks on how the file was read (e.g. PixelIsPoint georeferencing).
    pub notes: Vec<String>,
}

/// Import a DEM file as one [`Dem`] in the project CRS, named after the file stem.
pub fn import(path: &Path, opts: &ImportOptions, progress: &dyn Progress) -> Result<Imported> {
    let src = read_grid(path, progress)?;
    let mut notes = src.notes.clone();
    let crs = match (&opts.source_crs, &src.crs) {
        (Some(given), found) => {
            notes.push(match found {
                Some(f) => format!(
                    "source CRS {} given in the import options (overrides the file's {})",
                    label(given),
                    label(f)
                ),
                None => format!(
                    "source CRS {} given in the import options ({})",
                    label(given),
                    src.crs_origin
                ),
            });
            given.clone()
        }
        (None, Some(found)) => {
            notes.push(format!("source CRS {} ({})", label(found), src.crs_origin));
            found.clone()
        }
        (None, None) => {
            return Err(TwinError::parse(
                path,
                "CRS",
                format!(
                    "{}; {}",
                    src.crs_origin,
                    crate::crs::missing_crs_hint(Some(src.grid.extent()), &opts.project_crs)
                ),
            ))
        }
    };

    // An absurd corner (a typo such as -99999999999) is refused before PROJ wraps it somewhere.
    let [x0, y0, x1, y1] = src.grid.extent();
    for (x, y) in [(x0, y0), (x1, y1)] {
        crs.check_plausible(x, y).map_err(|m| {
            TwinError::parse(
                path,
                "header",
                format!(
                    "the grid's extent ({x0}, {y0}) – ({x1}, {y1}) cannot be in {}: {m} (check xllcorner/yllcorner or the geotransform)",
                    label(&crs)
                ),
            )
        })?;
    }

    let project = &opts.project_crs;
    let dem = if same_on_grid(&src.grid, &crs, project)? {
        notes.push(if crs == *project {
            format!("not warped: the source CRS is the project CRS {}", label(project))
        } else {
            format!(
                "not warped: PROJ's transformation from {} to the project CRS {} is the identity on this grid",
                label(&crs),
                label(project)
            )
        });
        src.grid
    } else {
        let dem = warp(&src.grid, &crs, project, progress)?;
        notes.push(format!(
            "warped (bilinear) from {} to {}: {} x {} cells of {} x {} → {} x {} cells of {:.3} x {:.3} m",
            label(&crs),
            label(project),
            src.grid.ncols, src.grid.nrows, src.grid.cell_x, src.grid.cell_y, dem.ncols, dem.nrows, dem.cell_x, dem.cell_y
        ));
        dem
    };
    Ok(Imported {
        dems: vec![dem],
        source_crs: Some(crs),
        notes,
        ..Default::default()
    })
}

/// Read a grid, a GeoTIFF or an ESRI ASCII grid by its content (the name only as a hint),
/// without reprojecting it.
pub fn read_grid(path: &Path, progress: &dyn Progress) -> Result<SourceGrid> {
    use super::detect::{detect, Content};
    match detect(path)?.content {
        Content::AsciiGrid => read_asc(path, progress),
        Content::Tiff => read_geotiff(path, progress),
        other => Err(TwinError::parse(
            path,
            "content",
            format!(
                "not a DEM: the file holds {} (expected a GeoTIFF or an ESRI ASCII grid)",
                other.describe()
            ),
        )),
    }
}

/// A CRS for notes: `EPSG:n (name)`, or the name of a WKT-defined CRS.
fn label(c: &Crs) -> String {
    if c.epsg_code().is_some() {
        c.to_string()
    } else {
        format!("\"{}\"", c.name())
    }
}

fn stem(path: &Path) -> String {
    path.file_stem()
        .map(|s| s.to_string_lossy().to_string())
        .unwrap_or_default()
}

/// Refuse empty and oversized grids before allocating.
fn check_size(path: &Path, place: &str, ncols: u64, nrows: u64) -> Result<usize> {
    if ncols == 0 || nrows == 0 {
        return Err(TwinError::parse(
            path,
            place,
            format!("empty grid ({ncols} x {nrows})"),
        ));
    }
    match ncols.checked_mul(nrows) {
        Some(n) if n <= MAX_CELLS => usize::try_from(n).map_err(|e| TwinError::parse(path, place, e)),
        _ => Err(TwinError::parse(
            path,
            place,
            format!("grid of {ncols} x {nrows} cells is over the limit of {MAX_CELLS} cells (20,000 x 20,000)"),
        )),
    }
}

fn is_nodata(v: f64, nodata: Option<f64>) -> bool {
    v.is_nan() || nodata.is_some_and(|nd| v == nd || (v as f32) == (nd as f32))
}

// ---------------------------------------------------------------------------------------------
// ESRI ASCII grid

/// Read an ESRI ASCII grid line by line. The CRS comes from a sibling `.prj` file (WKT).
///
/// Header keys (any case, one per line): `ncols`, `nrows`, `xllcorner` or `xllcenter`,
/// `yllcorner` or `yllcenter`, `cellsize` (or `dx` and `dy`), optional `NODATA_value`. Then
/// `nrows` lines of `ncols` numbers, north row first.
pub fn read_asc(path: &Path, progress: &dyn Progress) -> Result<SourceGrid> {
    let file = File::open(path).map_err(|e| TwinError::io(path, e))?;
    let file_len = file.metadata().map_err(|e| TwinError::io(path, e))?.len();
    let mut reader = BufReader::new(file);
    let mut buf = Vec::new();
    let mut lineno = 0usize;
    let at = |n: usize| format!("line {n}");

    // Read one line into `buf`; false at end of file.
    let mut next_line = |buf: &mut Vec<u8>, lineno: &mut usize| -> Result<bool> {
        buf.clear();
        let k = reader
            .read_until(b'\n', buf)
            .map_err(|e| TwinError::io(path, e))?;
        *lineno += 1;
        Ok(k > 0)
    };
    let text = |buf: &[u8], n: usize| -> Result<String> {
        std::str::from_utf8(buf)
            .map(|s| s.to_string())
            .map_err(|_| TwinError::parse(path, at(n), "not ASCII/UTF-8 text"))
    };

    // --- header
    let mut keys: Vec<(String, String, usize)> = Vec::new();
    let first_data = loop {
        if !next_line(&mut buf, &mut lineno)? {
            return Err(TwinError::parse(
                path,
                at(lineno),
                "the file ends before any grid values",
            ));
        }
        let line = text(&buf, lineno)?;
        let mut it = line.split_whitespace();
        let Some(key) = it.next() else { continue };
        if key.parse::<f64>().is_ok() {
            break line;
        }
        let k = key.to_ascii_lowercase();
        if !matches!(
            k.as_str(),
            "ncols"
                | "nrows"
                | "xllcorner"
                | "xllcenter"
                | "yllcorner"
                | "yllcenter"
                | "cellsize"
                | "dx"
                | "dy"
                | "nodata_value"
        ) {
            return Err(TwinError::parse(
                path,
                at(lineno),
                format!("unknown header key `{key}`"),
            ));
        }
        let Some(value) = it.next() else {
            return Err(TwinError::parse(
                path,
                at(lineno),
                format!("header key `{key}` has no value"),
            ));
        };
        if it.next().is_some() {
            return Err(TwinError::parse(
                path,
                at(lineno),
                format!("header key `{key}` has more than one value"),
            ));
        }
        if keys.iter().any(|(k2, _, _)| *k2 == k) {
            return Err(TwinError::parse(
                path,
                at(lineno),
                format!("header key `{key}` given twice"),
            ));
        }
        keys.push((k, value.to_string(), lineno));
    };
    let data_line = lineno;
    let get = |k: &str| {
        keys.iter()
            .find(|(k2, _, _)| k2 == k)
            .map(|(_, v, n)| (v.as_str(), *n))
    };
    let whole = |k: &str| -> Result<u64> {
        let (v, n) = get(k)
            .ok_or_else(|| TwinError::parse(path, at(data_line), format!("header has no `{k}`")))?;
        v.parse::<u64>()
            .map_err(|_| TwinError::parse(path, at(n), format!("{k} `{v}` is not a whole number")))
    };
    let number = |k: &str, positive: bool| -> Result<Option<f64>> {
        let Some((v, n)) = get(k) else {
            return Ok(None);
        };
        let x = v
            .parse::<f64>()
            .map_err(|_| TwinError::parse(path, at(n), format!("{k} `{v}` is not a number")))?;
        if !x.is_finite() || (positive && x <= 0.0) {
            let want = if positive {
                "a positive finite number"
            } else {
                "a finite number"
            };
            return Err(TwinError::parse(
                path,
                at(n),
                format!("{k} `{v}` is not {want}"),
            ));
        }
        Ok(Some(x))
    };
    let ncols = whole("ncols")?;
    let nrows = whole("nrows")?;
    let cells = check_size(path, "header", ncols, nrows)?;
    let (ncols, nrows) = (ncols as usize, nrows as usize);
    let (cell_x, cell_y) = match (
        number("cellsize", true)?,
        number("dx", true)?,
        number("dy", true)?,
    ) {
        (Some(c), None, None) => (c, c),
        (None, Some(dx), Some(dy)) => (dx, dy),
        _ => {
            return Err(TwinError::parse(
                path,
                at(data_line),
                "the header needs either `cellsize` or both `dx` and `dy`",
            ))
        }
    };
    let one_of = |corner: &str, centre: &str, half: f64| -> Result<f64> {
        match (number(corner, false)?, number(centre, false)?) {
            (Some(v), None) => Ok(v),
            (None, Some(v)) => Ok(v - half),
            (Some(_), Some(_)) => Err(TwinError::parse(
                path,
                at(data_line),
                format!("the header has both `{corner}` and `{centre}`"),
            )),
            (None, None) => Err(TwinError::parse(
                path,
                at(data_line),
                format!("the header has neither `{corner}` nor `{centre}`"),
            )),
        }
    };
    let xmin = one_of("xllcorner", "xllcenter", cell_x / 2.0)?;
    let ymin = one_of("yllcorner", "yllcenter", cell_y / 2.0)?;
    let ymax = ymin + nrows as f64 * cell_y;
    if !(xmin + ncols as f64 * cell_x).is_finite() || !ymax.is_finite() {
        return Err(TwinError::parse(
            path,
            "header",
            "the grid's extent is not finite",
        ));
    }
    let nodata = match get("nodata_value") {
        None => None,
        Some((v, n)) => Some(v.parse::<f64>().map_err(|_| {
            TwinError::parse(path, at(n), format!("NODATA_value `{v}` is not a number"))
        })?),
    };

    // --- values: one row per line. Reserve no more than the file can hold (2 bytes a value).
    let mut values: Vec<Option<f32>> = Vec::with_capacity(cells.min((file_len / 2) as usize + 1));
    progress.start(&format!("read {}", path.display()), nrows as u64);
    let mut rows = 0usize;
    let mut parse_row = |line: &str, n: usize, values: &mut Vec<Option<f32>>| -> Result<bool> {
        if line.trim().is_empty() {
            return Ok(false);
        }
        if rows == nrows {
            return Err(TwinError::parse(
                path,
                at(n),
                format!("more data after the last row (the header says nrows {nrows})"),
            ));
        }
        let mut count = 0usize;
        for tok in line.split_whitespace() {
            count += 1;
            if count > ncols {
                continue; // only counted, for the message
            }
            let v: f64 = tok.parse().map_err(|_| {
                TwinError::parse(
                    path,
                    at(n),
                    format!(
                        "value {count} of row {} (`{tok}`) is not a number",
                        rows + 1
                    ),
                )
            })?;
            if v.is_infinite() || (v.is_finite() && !(v as f32).is_finite()) {
                return Err(TwinError::parse(
                    path,
                    at(n),
                    format!(
                        "value {count} of row {} (`{tok}`) is out of range",
                        rows + 1
                    ),
                ));
            }
            values.push(if is_nodata(v, nodata) {
                None
            } else {
                Some(v as f32)
            });
        }
        if count != ncols {
            let what = if count < ncols {
                "short row"
            } else {
                "long row"
            };
            return Err(TwinError::parse(
                path,
                at(n),
                format!(
                    "{what}: row {} has {count} values, the header says ncols {ncols}",
                    rows + 1
                ),
            ));
        }
        rows += 1;
        progress.inc(1);
        Ok(true)
    };
    parse_row(&first_data, data_line, &mut values)?;
    while next_line(&mut buf, &mut lineno)? {
        let line = text(&buf, lineno)?;
        parse_row(&line, lineno, &mut values)?;
    }
    if rows < nrows {
        return Err(TwinError::parse(
            path,
            at(lineno.saturating_sub(1).max(1)),
            format!("the file ends after {rows} of {nrows} rows"),
        ));
    }
    progress.finish();

    let (crs, crs_origin) = prj_crs(path)?;
    Ok(SourceGrid {
        grid: Dem {
            name: stem(path),
            ncols,
            nrows,
            xmin,
            ymax,
            cell_x,
            cell_y,
            values,
        },
        crs,
        crs_origin,
        nodata,
        notes: Vec::new(),
    })
}

/// The CRS in a sibling `.prj` (WKT), if there is one.
fn prj_crs(path: &Path) -> Result<(Option<Crs>, String)> {
    let candidates: Vec<PathBuf> = ["prj", "PRJ"]
        .iter()
        .map(|e| path.with_extension(e))
        .collect();
    let Some(prj) = candidates.into_iter().find(|p| p.is_file()) else {
        return Ok((
            None,
            format!(
                "no CRS: there is no {}",
                path.with_extension("prj").display()
            ),
        ));
    };
    let wkt = std::fs::read(&prj).map_err(|e| TwinError::io(&prj, e))?;
    let wkt = String::from_utf8_lossy(&wkt);
    let crs = Crs::parse(wkt.trim()).map_err(|e| TwinError::parse(&prj, "WKT", e))?;
    let name = prj
        .file_name()
        .map(|s| s.to_string_lossy().to_string())
        .unwrap_or_default();
    Ok((Some(crs), format!("from {name}")))
}

// ---------------------------------------------------------------------------------------------
// GeoTIFF

/// Read a single-band GeoTIFF (strips or tiles, any compression the `tiff` crate decodes;
/// int8/16/32, uint8/16/32, float32/64 samples).
pub fn read_geotiff(path: &Path, progress: &dyn Progress) -> Result<SourceGrid> {
    use tiff::decoder::{Decoder, DecodingResult, Limits};
    use tiff::tags::Tag;

    let tag_err = |tag: &str| {
        let tag = tag.to_string();
        move |e: tiff::TiffError| TwinError::parse(path, tag.clone(), e)
    };
    let file = File::open(path).map_err(|e| TwinError::io(path, e))?;
    let mut limits = Limits::default();
    limits.decoding_buffer_size = (MAX_CELLS * 8) as usize;
    let mut dec = Decoder::new(BufReader::new(file))
        .map_err(tag_err("TIFF header"))?
        .with_limits(limits);
    let (w, h) = dec
        .dimensions()
        .map_err(tag_err("ImageWidth/ImageLength"))?;
    let cells = check_size(path, "ImageWidth/ImageLength", u64::from(w), u64::from(h))?;
    let samples: u16 = dec
        .find_tag_unsigned(Tag::SamplesPerPixel)
        .map_err(tag_err("SamplesPerPixel"))?
        .unwrap_or(1);
    if samples != 1 {
        return Err(TwinError::parse(
            path,
            "SamplesPerPixel",
            format!("{samples} bands; a DEM needs exactly one"),
        ));
    }

    let f64s =
        |dec: &mut Decoder<BufReader<File>>, tag: Tag, name: &str| -> Result<Option<Vec<f64>>> {
            match dec.find_tag(tag).map_err(tag_err(name))? {
                None => Ok(None),
                Some(v) => v.into_f64_vec().map(Some).map_err(tag_err(name)),
            }
        };
    let scale = f64s(
        &mut dec,
        Tag::ModelPixelScaleTag,
        "ModelPixelScaleTag (33550)",
    )?;
    let tie = f64s(&mut dec, Tag::ModelTiepointTag, "ModelTiepointTag (33922)")?;
    let matrix = f64s(
        &mut dec,
        Tag::ModelTransformationTag,
        "ModelTransformationTag (34264)",
    )?;
    let keys = match dec
        .find_tag(Tag::GeoKeyDirectoryTag)
        .map_err(tag_err("GeoKeyDirectoryTag (34735)"))?
    {
        None => None,
        Some(v) => Some(
            v.into_u16_vec()
                .map_err(tag_err("GeoKeyDirectoryTag (34735)"))?,
        ),
    };
    let nodata = match dec
        .find_tag(Tag::GdalNodata)
        .map_err(tag_err("GDAL_NODATA (42113)"))?
    {
        None => None,
        Some(v) => {
            let s = v.into_string().map_err(tag_err("GDAL_NODATA (42113)"))?;
            let s = s.trim_matches(|c: char| c == '\0' || c.is_whitespace());
            Some(s.parse::<f64>().map_err(|_| {
                TwinError::parse(
                    path,
                    "GDAL_NODATA (42113)",
                    format!("`{s}` is not a number"),
                )
            })?)
        }
    };

    let keys = keys
        .map(|k| geokeys(path, &k))
        .transpose()?
        .unwrap_or_default();
    let mut notes = Vec::new();

    // Georeferencing: (xmin, ymax, cell_x, cell_y) of the pixel corners.
    let (mut xmin, mut ymax, cell_x, cell_y) = match (&scale, &tie, &matrix) {
        (Some(s), Some(t), _) if s.len() >= 2 && t.len() >= 6 => {
            let (sx, sy) = (s[0], s[1]);
            if !(sx.is_finite() && sy.is_finite() && sx > 0.0 && sy > 0.0) {
                return Err(TwinError::parse(
                    path,
                    "ModelPixelScaleTag (33550)",
                    format!("pixel scale ({sx}, {sy}) is not positive and finite (only north-up grids are read)"),
                ));
            }
            (t[3] - t[0] * sx, t[4] + t[1] * sy, sx, sy)
        }
        (_, _, Some(m)) if m.len() >= 16 => {
            if m[1] != 0.0 || m[4] != 0.0 {
                return Err(TwinError::parse(
                    path,
                    "ModelTransformationTag (34264)",
                    "the grid is rotated or sheared; only north-up grids are read",
                ));
            }
            if !(m[0].is_finite() && m[5].is_finite() && m[0] > 0.0 && m[5] < 0.0) {
                return Err(TwinError::parse(
                    path,
                    "ModelTransformationTag (34264)",
                    format!("pixel size ({}, {}) is not a north-up grid", m[0], m[5]),
                ));
            }
            (m[3], m[7], m[0], -m[5])
        }
        _ => {
            return Err(TwinError::parse(
                path,
                "GeoTIFF tags",
                "no georeferencing: needs ModelPixelScaleTag + ModelTiepointTag, or ModelTransformationTag",
            ))
        }
    };
    if keys.raster_type == Some(2) {
        // PixelIsPoint: the model coordinates name pixel centres (GDAL shifts the same way).
        xmin -= cell_x / 2.0;
        ymax += cell_y / 2.0;
        notes.push("GeoTIFF RasterPixelIsPoint: corners shifted by half a cell".into());
    }
    if !(xmin.is_finite() && ymax.is_finite()) {
        return Err(TwinError::parse(
            path,
            "ModelTiepointTag (33922)",
            "the tie point is not finite",
        ));
    }

    progress.start(&format!("read {}", path.display()), h as u64);
    let data = dec.read_image().map_err(tag_err("image data"))?;
    fn conv<T: Copy>(v: Vec<T>, f: impl Fn(T) -> f64, nodata: Option<f64>) -> Vec<Option<f32>> {
        v.into_iter()
            .map(|x| {
                let x = f(x);
                if is_nodata(x, nodata) || !(x as f32).is_finite() {
                    None
                } else {
                    Some(x as f32)
                }
            })
            .collect()
    }
    let values = match data {
        DecodingResult::U8(v) => conv(v, f64::from, nodata),
        DecodingResult::I8(v) => conv(v, f64::from, nodata),
        DecodingResult::U16(v) => conv(v, f64::from, nodata),
        DecodingResult::I16(v) => conv(v, f64::from, nodata),
        DecodingResult::U32(v) => conv(v, f64::from, nodata),
        DecodingResult::I32(v) => conv(v, f64::from, nodata),
        DecodingResult::F32(v) => conv(v, f64::from, nodata),
        DecodingResult::F64(v) => conv(v, |x| x, nodata),
        other => {
            let kind = format!("{other:?}");
            let kind = kind.split('(').next().unwrap_or("?").to_string();
            return Err(TwinError::parse(
                path,
                "SampleFormat",
                format!("{kind} samples are not supported"),
            ));
        }
    };
    if values.len() != cells {
        return Err(TwinError::parse(
            path,
            "image data",
            format!("decoded {} samples for a {w} x {h} grid", values.len()),
        ));
    }
    progress.inc(h as u64);
    progress.finish();

    let (crs, crs_origin) = match keys.crs {
        Some((key, code)) if (1024..32767).contains(&code) => {
            let crs = Crs::epsg(u32::from(code)).map_err(|e| TwinError::parse(path, format!("GeoKey {key}"), e))?;
            (Some(crs), format!("from GeoKey {key}"))
        }
        Some((key, 32767)) => (
            None,
            format!("the GeoKeys name a user-defined CRS ({key} = 32767), which this importer does not rebuild"),
        ),
        Some((key, code)) => (None, format!("GeoKey {key} = {code} is not an EPSG CRS code")),
        None => (None, "no CRS: the GeoTIFF has no ProjectedCSTypeGeoKey or GeographicTypeGeoKey".to_string()),
    };
    Ok(SourceGrid {
        grid: Dem {
            name: stem(path),
            ncols: w as usize,
            nrows: h as usize,
            xmin,
            ymax,
            cell_x,
            cell_y,
            values,
        },
        crs,
        crs_origin,
        nodata,
        notes,
    })
}

/// The GeoKeys the DEM reader uses.
#[derive(Default)]
struct GeoKeys {
    /// ("3072 ProjectedCSTypeGeoKey" or "2048 GeographicTypeGeoKey", value).
    crs: Option<(&'static str, u16)>,
    /// GTRasterTypeGeoKey 1025: 1 PixelIsArea, 2 PixelIsPoint.
    raster_type: Option<u16>,
}

fn geokeys(path: &Path, k: &[u16]) -> Result<GeoKeys> {
    let place = "GeoKeyDirectoryTag (34735)";
    if k.len() < 4 {
        return Err(TwinError::parse(
            path,
            place,
            "shorter than its 4-value header",
        ));
    }
    let n = usize::from(k[3]);
    if k.len() < 4 + 4 * n {
        return Err(TwinError::parse(
            path,
            place,
            format!("says {n} keys but holds {}", (k.len() - 4) / 4),
        ));
    }
    let mut out = GeoKeys::default();
    let (mut projected, mut geographic) = (None, None);
    for e in k[4..4 + 4 * n].chunks_exact(4) {
        let (id, location, value) = (e[0], e[1], e[3]);
        if location != 0 {
            continue; // values held in other tags (doubles, ASCII) are not needed here
        }
        match id {
            1025 => out.raster_type = Some(value),
            2048 => geographic = Some(value),
            3072 => projected = Some(value),
            _ => {}
        }
    }
    out.crs = match (projected, geographic) {
        (Some(p), _) if p != 0 => Some(("3072 ProjectedCSTypeGeoKey", p)),
        (_, Some(g)) if g != 0 => Some(("2048 GeographicTypeGeoKey", g)),
        _ => None,
    };
    Ok(out)
}

// ---------------------------------------------------------------------------------------------
// Warp

/// True when `a` and `b` are the same CRS, or PROJ's transformation between them moves none of
/// nine points spread over the grid (corners, edge middles, centre) by more than a millionth of
/// a cell: then the grid is kept as it is.
fn same_on_grid(grid: &Dem, a: &Crs, b: &Crs) -> Result<bool> {
    if a == b {
        return Ok(true);
    }
    let Ok(t) = Transform::new(a, b) else {
        return Ok(false);
    };
    let [x0, y0, x1, y1] = grid.extent();
    let tol = 1e-6 * grid.cell_x.min(grid.cell_y);
    for fx in [0.0, 0.5, 1.0] {
        for fy in [0.0, 0.5, 1.0] {
            let (x, y) = (x0 + fx * (x1 - x0), y0 + fy * (y1 - y0));
            match t.apply(x, y) {
                Ok((u, v)) if (u - x).abs() <= tol && (v - y).abs() <= tol => {}
                _ => return Ok(false),
            }
        }
    }
    Ok(true)
}

/// Resample a grid from `src_crs` into `dst_crs` (bilinear).
///
/// The target grid is north-up in `dst_crs`, covers the transformed outline of the source
/// (its edges sampled densely, so curved edges are covered), and has the source cell size
/// converted at the grid centre (the distance in `dst_crs` between the centre and the centre
/// moved by one cell in x, resp. y). Its corners are aligned to whole multiples of the cell
/// size. Each target cell centre is transformed back into `src_crs` and sampled bilinearly
/// with [`Dem::sample`]; cells outside the source, next to source nodata, or outside the
/// transformation's area are nodata. Rows are processed in parallel (one PROJ transformation
/// per band of rows).
pub fn warp(src: &Dem, src_crs: &Crs, dst_crs: &Crs, progress: &dyn Progress) -> Result<Dem> {
    let invalid = |msg: String| {
        TwinError::invalid(
            format!("warp of {} from {src_crs} to {dst_crs}", src.name),
            msg,
        )
    };
    if src.ncols == 0 || src.nrows == 0 || src.values.len() != src.ncols * src.nrows {
        return Err(invalid(format!(
            "the source grid is empty or inconsistent ({} x {} cells, {} values)",
            src.ncols,
            src.nrows,
            src.values.len()
        )));
    }
    let fwd = Transform::new(src_crs, dst_crs)?;
    let [x0, y0, x1, y1] = src.extent();

    // The transformed outline: each edge at every cell boundary, at most 2,048 steps.
    let mut bbox = [
        f64::INFINITY,
        f64::INFINITY,
        f64::NEG_INFINITY,
        f64::NEG_INFINITY,
    ];
    let mut add = |x: f64, y: f64| {
        if let Ok((u, v)) = fwd.apply(x, y) {
            bbox = [
                bbox[0].min(u),
                bbox[1].min(v),
                bbox[2].max(u),
                bbox[3].max(v),
            ];
        }
    };
    let (sx, sy) = (src.ncols.min(2048), src.nrows.min(2048));
    for i in 0..=sx {
        let x = x0 + (x1 - x0) * i as f64 / sx as f64;
        add(x, y0);
        add(x, y1);
    }
    for j in 0..=sy {
        let y = y0 + (y1 - y0) * j as f64 / sy as f64;
        add(x0, y);
        add(x1, y);
    }
    if !bbox.iter().all(|v| v.is_finite()) {
        return Err(invalid(
            "no point of the grid's outline can be transformed".into(),
        ));
    }

    // Cell size at the grid centre.
    let (cx, cy) = ((x0 + x1) / 2.0, (y0 + y1) / 2.0);
    let dist = |a: (f64, f64), b: (f64, f64)| ((a.0 - b.0).powi(2) + (a.1 - b.1).powi(2)).sqrt();
    let at = |x: f64, y: f64| {
        fwd.apply(x, y)
            .map_err(|e| invalid(format!("cannot transform the grid centre: {e}")))
    };
    let cell_x = dist(
        at(cx - src.cell_x / 2.0, cy)?,
        at(cx + src.cell_x / 2.0, cy)?,
    );
    let cell_y = dist(
        at(cx, cy - src.cell_y / 2.0)?,
        at(cx, cy + src.cell_y / 2.0)?,
    );
    if !(cell_x.is_finite() && cell_y.is_finite() && cell_x > 0.0 && cell_y > 0.0) {
        return Err(invalid(format!(
            "cell size {cell_x} x {cell_y} at the centre is not positive"
        )));
    }

    let xmin = (bbox[0] / cell_x).floor() * cell_x;
    let ymin = (bbox[1] / cell_y).floor() * cell_y;
    let xmax = (bbox[2] / cell_x).ceil() * cell_x;
    let ymax = (bbox[3] / cell_y).ceil() * cell_y;
    let ncols = ((xmax - xmin) / cell_x).round().max(1.0);
    let nrows = ((ymax - ymin) / cell_y).round().max(1.0);
    if ncols * nrows > MAX_CELLS as f64 {
        return Err(invalid(format!(
            "the warped grid would have {ncols} x {nrows} cells, over the limit of {MAX_CELLS} (20,000 x 20,000)"
        )));
    }
    let (ncols, nrows) = (ncols as usize, nrows as usize);

    progress.start(&format!("warp {} to {dst_crs}", src.name), nrows as u64);
    let mut values = vec![None; ncols * nrows];
    const BAND: usize = 64;
    values
        .par_chunks_mut(BAND * ncols)
        .enumerate()
        .try_for_each(|(band, out)| -> Result<()> {
            let inv = Transform::new(dst_crs, src_crs)?;
            for (k, cell) in out.iter_mut().enumerate() {
                let (col, row) = (k % ncols, band * BAND + k / ncols);
                let x = xmin + (col as f64 + 0.5) * cell_x;
                let y = ymax - (row as f64 + 0.5) * cell_y;
                *cell = inv
                    .apply(x, y)
                    .ok()
                    .and_then(|(u, v)| src.sample(u, v))
                    .map(|z| z as f32);
            }
            progress.inc((out.len() / ncols) as u64);
            Ok(())
        })?;
    progress.finish();
    Ok(Dem {
        name: src.name.clone(),
        ncols,
        nrows,
        xmin,
        ymax,
        cell_x,
        cell_y,
        values,
    })
}
