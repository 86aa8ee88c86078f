//! LAS / LAZ / COPC point clouds (LAS 1.0–1.4, point formats 0–10) through the `las` crate.
//!
//! Points are read one record at a time (LAZ decompresses point by point anyway), gathered in
//! chunks of [`CHUNK`] points, decoded column-wise, reprojected and reported to [`Progress`] per
//! chunk. A COPC file is a LAZ 1.4 file whose points are ordered by an octree: all its points
//! are read in file order and the octree is not used.
//!
//! # CRS
//! In this order: `opts.source_crs` (overrides the file); the OGC WKT VLR (`LASF_Projection`,
//! record 2112); the GeoTIFF keys VLR (record 34735: ProjectedCSTypeGeoKey 3072, else
//! GeographicTypeGeoKey 2048, as EPSG codes). A user-defined CRS in the keys (32767) or no CRS at
//! all is an error that asks for the source CRS (`--source-crs`) and guesses candidates from the bounds.
//!
//! # Heights
//! x/y are reprojected to the project CRS; z is only scaled to metres. The z unit is taken from
//! the vertical CRS (a `VERT_CS`/`VERTCRS` in the WKT, or the keys VerticalUnitsGeoKey 4099 /
//! VerticalCSTypeGeoKey 4096); without one it is assumed to be the horizontal linear unit
//! (ProjLinearUnitsGeoKey 3076, or the projected CRS's unit), as LAS writers do. The unit used
//! is written to [`Imported::notes`].
//!
//! # Bad files
//! The header's point count is checked against the data before reading (uncompressed: the file
//! size; LAZ: the chunk table), and while reading a LAZ file the decoder may not read past the
//! end of the compressed point data. Any mismatch is an error naming the file and the point
//! number (1-based).

use super::{ImportOptions, Imported, Progress};
use crate::crs::{Crs, Reprojector};
use crate::error::{Result, TwinError};
use crate::model::{LidarPoint, PointCloud};
use std::fs::File;
use std::io::{BufReader, Read, Seek, SeekFrom};
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

/// Points decoded and reported to [`Progress`] at a time.
pub const CHUNK: usize = 50_000;

/// The international foot in metres.
pub const FOOT: f64 = 0.3048;
/// The US survey foot in metres (1200/3937).
pub const US_SURVEY_FOOT: f64 = 1200.0 / 3937.0;

/// Import a `.las`, `.laz` or `.copc.laz` file as one [`PointCloud`] named after the file stem.
pub fn import(path: &Path, opts: &ImportOptions, progress: &dyn Progress) -> Result<Imported> {
    let file = File::open(path).map_err(|e| TwinError::io(path, e))?;
    let file_len = file.metadata().map_err(|e| TwinError::io(path, e))?.len();
    let mut file = BufReader::new(file);
    let raw =
        las::raw::Header::read_from(&mut file).map_err(|e| TwinError::parse(path, "header", e))?;
    file.seek(SeekFrom::Start(0))
        .map_err(|e| TwinError::io(path, e))?;
    // A cut file may lose the records las reads with the header: say so plainly.
    if u64::from(raw.offset_to_point_data) > file_len {
        return Err(TwinError::parse(
            path,
            "header",
            format!(
                "the point data should start at byte {} but the file has only {file_len} bytes: the file is truncated",
                raw.offset_to_point_data
            ),
        ));
    }
    if let Some(e) = raw.evlr.as_ref().filter(|e| e.number_of_evlrs > 0) {
        if e.start_of_first_evlr >= file_len {
            return Err(TwinError::parse(
                path,
                "header",
                format!(
                    "the extended VLRs should start at byte {} but the file has only {file_len} bytes: the file is \
                     truncated (the header says {} points)",
                    e.start_of_first_evlr,
                    raw.large_file.as_ref().map_or(u64::from(raw.number_of_point_records), |l| l.number_of_point_records)
                ),
            ));
        }
    }
    check_transforms(path, &raw)?;
    check_evlr(path, &mut file, &raw, file_len)?;
    let header =
        las::Header::new(&mut file).map_err(|e| TwinError::parse(path, "header and VLRs", e))?;
    let n = header.number_of_points();
    let format = *header.point_format();
    let mut notes = Vec::new();

    // Header consistency: LAS 1.4 keeps the count twice.
    if let Some(large) = &raw.large_file {
        if raw.number_of_point_records > 0
            && u64::from(raw.number_of_point_records) != large.number_of_point_records
        {
            return Err(TwinError::parse(
                path,
                "header",
                format!(
                    "the legacy point count ({}) and the LAS 1.4 point count ({}) disagree",
                    raw.number_of_point_records, large.number_of_point_records
                ),
            ));
        }
    }

    // Where the point data must end; reading past it means the header count is too large.
    let data_start = u64::from(raw.offset_to_point_data);
    let mut tracked = Tracked {
        inner: file,
        at: 0,
        pos: Arc::new(AtomicU64::new(0)),
        overlay: None,
    };
    let mut hint = "";
    let mut max_points = None;
    let laz_data_end = if format.is_compressed {
        let layout = check_laz_count(path, &header, data_start, file_len, n)?;
        max_points = layout.max_points;
        if layout.missing_table {
            tracked.overlay = Some(Overlay {
                data_start,
                file_len,
            });
            hint = "; the LAZ chunk table is missing too, so the file is truncated";
        }
        Some(layout.data_end)
    } else {
        check_las_count(path, &raw, data_start, file_len, n, &mut notes)?;
        None
    };
    tracked
        .seek(SeekFrom::Start(0))
        .map_err(|e| TwinError::io(path, e))?;
    let pos = tracked.pos.clone();
    let mut reader =
        las::Reader::new(tracked).map_err(|e| TwinError::parse(path, "point data", e))?;

    if header.all_vlrs().any(|v| v.user_id == "copc") {
        notes.push(format!(
            "COPC file (a `copc` VLR is present): all {n} points read in file order; the octree hierarchy is not used"
        ));
    }

    let chosen = choose_crs(path, &header, opts)?;
    notes.extend(chosen.notes.iter().cloned());
    let reproject = Reprojector::new(&chosen.crs, &opts.project_crs)?;

    let name = path
        .file_name()
        .map(|s| s.to_string_lossy().to_string())
        .unwrap_or_default();
    let name = name
        .strip_suffix(".copc.laz")
        .or_else(|| name.rsplit_once('.').map(|(stem, _)| stem))
        .unwrap_or(&name)
        .to_string();

    // The header count is checked above, but a LAZ count may still be a few points too large
    // inside the last chunk; cap the reservation and let the vector grow.
    let mut points = Vec::with_capacity(usize::try_from(n).unwrap_or(usize::MAX).min(10_000_000));
    progress.start(&format!("read points of {}", path.display()), n);
    let mut one = las::PointDataBuilder::new().for_header(&header).build();
    let record_len = one.record_len();
    let mut chunk: Vec<u8> = Vec::with_capacity(CHUNK * record_len);
    let mut chunk_first = 0u64; // 0-based index of the chunk's first point
    for i in 0..n {
        let number = i + 1;
        // The las/laz decoders return errors for short data, but a malformed LAZ stream may
        // make them panic (e.g. an index past the chunk table); turn that into an error too.
        let got = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            reader.fill_points(1, &mut one)
        }));
        match got {
            Ok(Ok(1)) => {}
            Ok(Ok(_)) => {
                return Err(point_error(path, number, n, "no more point data"));
            }
            Ok(Err(e)) => {
                return Err(point_error(
                    path,
                    number,
                    n,
                    format!("cannot read this point ({e}): the data ends or is damaged before the header's {n} points{hint}"),
                ))
            }
            Err(_) => return Err(point_error(path, number, n, "the LAZ decoder failed on corrupt data")),
        }
        if let Some(end) = laz_data_end {
            let at = pos.load(Ordering::Relaxed);
            if at > end {
                return Err(point_error(
                    path,
                    number,
                    n,
                    format!(
                        "the compressed point data ends at byte {end}, but this point needs bytes up to {at} (the \
                         header says {n} points){hint}"
                    ),
                ));
            }
        }
        if let Some((max, table)) = &max_points {
            if number > *max {
                return Err(point_error(
                    path,
                    number,
                    n,
                    format!("the header says {n} points but the LAZ chunk table has {table}, at most {max}"),
                ));
            }
        }
        chunk.extend_from_slice(one.raw_bytes());
        if chunk.len() >= CHUNK * record_len || number == n {
            let data = las::PointDataBuilder::new()
                .for_header(&header)
                .build_from_bytes(std::mem::take(&mut chunk))
                .map_err(|e| point_error(path, chunk_first + 1, n, e))?;
            convert_chunk(
                path,
                &data,
                (chunk_first, n),
                (&chosen.crs, &reproject),
                chosen.z_factor,
                &mut points,
            )?;
            progress.inc(data.len() as u64);
            chunk_first = number;
            chunk = Vec::with_capacity(CHUNK * record_len);
        }
    }
    progress.finish();

    if n == 0 {
        notes.push("the file holds no points".into());
    }
    let cloud = PointCloud {
        name,
        points,
        source_crs: chosen.crs.short(),
    };
    Ok(Imported {
        pointclouds: vec![cloud],
        source_crs: Some(chosen.crs),
        notes,
        ..Default::default()
    })
}

/// The `las` crate reads one extended VLR at `start_of_first_evlr` whenever the header has
/// the LAS 1.4 fields (even when it counts no EVLRs) and allocates the length that record
/// states (a u64) before reading it: check that the record header and its data lie inside the
/// file first, so that a damaged length is an error instead of an allocation of exabytes.
fn check_evlr(
    path: &Path,
    file: &mut BufReader<File>,
    raw: &las::raw::Header,
    file_len: u64,
) -> Result<()> {
    let Some(e) = raw.evlr.as_ref() else {
        return Ok(());
    };
    const EVLR_HEADER: u64 = 60;
    let start = e.start_of_first_evlr;
    let place = format!("extended VLR at byte {start}");
    if start
        .checked_add(EVLR_HEADER)
        .is_none_or(|end| end > file_len)
    {
        return Err(TwinError::parse(
            path,
            place,
            format!("its {EVLR_HEADER}-byte header does not fit in this {file_len}-byte file: the file is truncated or the offset is wrong"),
        ));
    }
    let mut len = [0u8; 8];
    file.seek(SeekFrom::Start(start + 20))
        .and_then(|_| file.read_exact(&mut len))
        .and_then(|_| file.seek(SeekFrom::Start(0)))
        .map_err(|e| TwinError::io(path, e))?;
    let len = u64::from_le_bytes(len);
    if (start + EVLR_HEADER)
        .checked_add(len)
        .is_none_or(|end| end > file_len)
    {
        return Err(TwinError::parse(
            path,
            place,
            format!("its record length {len} runs past the end of this {file_len}-byte file"),
        ));
    }
    Ok(())
}

/// Largest scale factor accepted: a record's i32 times it must stay a coordinate (1 unit per
/// step is already coarse; real files use 0.01 or 0.001).
pub const MAX_SCALE: f64 = 1000.0;
/// Largest offset accepted, in the file's units (see [`Crs::check_plausible`]).
pub const MAX_OFFSET: f64 = 1e9;

/// The header's scale factors and offsets must be finite, the scales non-zero and at most
/// [`MAX_SCALE`], the offsets at most [`MAX_OFFSET`]: a NaN z scale makes every height NaN, an x
/// offset of 1e308 puts every point at a pole.
fn check_transforms(path: &Path, raw: &las::raw::Header) -> Result<()> {
    for (axis, scale, offset) in [
        ("x", raw.x_scale_factor, raw.x_offset),
        ("y", raw.y_scale_factor, raw.y_offset),
        ("z", raw.z_scale_factor, raw.z_offset),
    ] {
        if !(scale.is_finite() && scale != 0.0 && scale.abs() <= MAX_SCALE) {
            return Err(TwinError::parse(
                path,
                "header",
                format!("{axis} scale factor {scale} must be a non-zero finite number of at most {MAX_SCALE}"),
            ));
        }
        if !(offset.is_finite() && offset.abs() <= MAX_OFFSET) {
            return Err(TwinError::parse(
                path,
                "header",
                format!("{axis} offset {offset} must be a finite number of at most {MAX_OFFSET:e}"),
            ));
        }
    }
    Ok(())
}

/// A CRS for notes: `EPSG:n (name)`, or the name of a WKT-defined CRS.
fn label(c: &Crs) -> String {
    if c.epsg_code().is_some() {
        c.to_string()
    } else {
        format!("\"{}\"", c.name())
    }
}

fn point_error(path: &Path, number: u64, total: u64, message: impl std::fmt::Display) -> TwinError {
    TwinError::parse(path, format!("point {number} of {total}"), message)
}

/// Decode one chunk column-wise and append its points in the project CRS.
fn convert_chunk(
    path: &Path,
    data: &las::PointData,
    (first, total): (u64, u64),
    (crs, reproject): (&Crs, &Reprojector),
    z_factor: f64,
    out: &mut Vec<LidarPoint>,
) -> Result<()> {
    let mut rgb = data.rgb();
    let columns = data
        .x()
        .zip(data.y())
        .zip(data.z())
        .zip(data.intensity())
        .zip(data.classification());
    for (k, ((((x, y), z), intensity), classification)) in columns.enumerate() {
        let at = |e: String| point_error(path, first + k as u64 + 1, total, e);
        crs.check_plausible(x, y).map_err(at)?;
        let (px, py) = reproject.apply(x, y).map_err(|e| at(e.to_string()))?;
        let z = z * z_factor;
        if !(px.is_finite() && py.is_finite() && z.is_finite()) {
            return Err(at(format!(
                "({x}, {y}, {z}) reprojects to ({px}, {py}), not a finite point"
            )));
        }
        let rgb = rgb
            .as_mut()
            .and_then(|c| c.next())
            .map(|(r, g, b)| [r, g, b]);
        out.push(LidarPoint {
            x: px,
            y: py,
            z,
            intensity,
            classification,
            rgb,
        });
    }
    Ok(())
}

/// Uncompressed data: the file must hold `n` whole records after the point data offset.
fn check_las_count(
    path: &Path,
    raw: &las::raw::Header,
    data_start: u64,
    file_len: u64,
    n: u64,
    notes: &mut Vec<String>,
) -> Result<()> {
    let record_len = u64::from(raw.point_data_record_length);
    if record_len == 0 {
        return Err(TwinError::parse(path, "header", "point record length is 0"));
    }
    // LAS 1.4 may keep extended VLRs after the points.
    let end = match &raw.evlr {
        Some(e) if e.number_of_evlrs > 0 && e.start_of_first_evlr > data_start => {
            e.start_of_first_evlr.min(file_len)
        }
        _ => file_len,
    };
    let available = end.saturating_sub(data_start) / record_len;
    if available < n {
        return Err(point_error(
            path,
            available + 1,
            n,
            format!(
                "the header says {n} points of {record_len} bytes from byte {data_start}, but the data holds only \
                 {available} whole points (file truncated, or the header's point count is wrong)"
            ),
        ));
    }
    let extra = end.saturating_sub(data_start) - n * record_len;
    if extra > 0 && raw.evlr.is_none() {
        notes.push(format!(
            "{extra} bytes after the last of the header's {n} points were ignored (the header count may be too small)"
        ));
    }
    Ok(())
}

/// Where a LAZ file's compressed points end, and whether its chunk table is unreadable.
struct LazLayout {
    data_end: u64,
    missing_table: bool,
    /// For fixed-size chunks: the most points the chunk table allows, and its description.
    max_points: Option<(u64, String)>,
}

/// LAZ data: check the header count against the chunk table; the compressed points end where
/// the chunk table starts.
fn check_laz_count(
    path: &Path,
    header: &las::Header,
    data_start: u64,
    file_len: u64,
    n: u64,
) -> Result<LazLayout> {
    let vlr = header
        .laz_vlr()
        .map_err(|e| TwinError::parse(path, "laszip VLR", e))?;
    // The compressor type is the VLR's first u16; 1 (point-wise, one chunk, old files) has no
    // chunk table to check against, so the decoder's end-of-file is the only check.
    let compressor = header
        .vlrs()
        .iter()
        .find(|v| las::laz::is_laszip_vlr(v))
        .and_then(|v| v.data.get(0..2))
        .map(|b| u16::from_le_bytes([b[0], b[1]]));
    if compressor == Some(1) {
        return Ok(LazLayout {
            data_end: file_len,
            missing_table: false,
            max_points: None,
        });
    }
    let mut f = File::open(path).map_err(|e| TwinError::io(path, e))?;
    let read_i64_at = |f: &mut File, at: SeekFrom| -> std::io::Result<i64> {
        f.seek(at)?;
        let mut b = [0u8; 8];
        f.read_exact(&mut b)?;
        Ok(i64::from_le_bytes(b))
    };
    // The chunk table offset is the first 8 bytes of the point data; a writer that could not
    // seek back writes it in the last 8 bytes of the file instead (as laz reads it).
    let mut table = read_i64_at(&mut f, SeekFrom::Start(data_start)).unwrap_or(-1);
    if table <= data_start as i64 {
        table = read_i64_at(&mut f, SeekFrom::End(-8)).unwrap_or(-1);
    }
    let mut table_ok = table > data_start as i64 && (table as u64) < file_len;
    if table_ok {
        // laz reserves room for the table's chunk count (a u32 after its version) before
        // reading it: every chunk holds at least one byte of the compressed data, so a count
        // above that is damage, refused before it becomes a 64 GB allocation.
        let mut b = [0u8; 4];
        let count = f
            .seek(SeekFrom::Start(table as u64 + 4))
            .and_then(|_| f.read_exact(&mut b))
            .map(|_| u64::from(u32::from_le_bytes(b)));
        let data_bytes = table as u64 - data_start;
        match count {
            Ok(c) if c > data_bytes => {
                return Err(TwinError::parse(
                    path,
                    "LAZ chunk table",
                    format!(
                        "the chunk table at byte {table} counts {c} chunks, more than the {data_bytes} bytes of \
                         compressed point data could hold: the file is damaged"
                    ),
                ))
            }
            Ok(_) => {}
            Err(_) => table_ok = false,
        }
    }
    let chunks = if table_ok {
        f.seek(SeekFrom::Start(data_start))
            .map_err(|e| TwinError::io(path, e))?;
        laz::laszip::ChunkTable::read_from(BufReader::new(&mut f), &vlr).ok()
    } else {
        None
    };
    let Some(chunks) = chunks else {
        if vlr.uses_variable_size_chunks() {
            // laz needs the table to read variable-size chunks (COPC); no point can be read.
            return Err(TwinError::parse(
                path,
                "LAZ chunk table",
                format!(
                    "the chunk table (offset {table}) cannot be read from this {file_len}-byte file: the file is \
                     truncated or damaged; the header says {n} points"
                ),
            ));
        }
        // Fixed-size chunks decode without the table (laz only needs it to seek): read until
        // the data runs out, to name the point where it does.
        return Ok(LazLayout {
            data_end: file_len,
            missing_table: true,
            max_points: None,
        });
    };
    let table = table as u64;
    let number_of_chunks = chunks.len() as u64;
    let mut max_points = None;
    if vlr.uses_variable_size_chunks() {
        // Checked before decoding: laz indexes the table by chunk and would go past its end.
        let held: u64 = chunks
            .as_ref()
            .iter()
            .fold(0u64, |a, c| a.saturating_add(c.point_count));
        let message =
            format!("the header says {n} points but the LAZ chunk table holds {held} in {number_of_chunks} chunks");
        if held < n {
            return Err(point_error(path, held + 1, n, message));
        }
        if held > n {
            return Err(TwinError::parse(path, "header", message));
        }
    } else {
        let size = u64::from(vlr.chunk_size()).max(1);
        let max = number_of_chunks.saturating_mul(size);
        let min = number_of_chunks.saturating_sub(1).saturating_mul(size)
            + u64::from(number_of_chunks > 0);
        if n < min {
            return Err(TwinError::parse(
                path,
                "header",
                format!(
                    "the header says {n} points but the LAZ chunk table has {number_of_chunks} chunks of {size} \
                     points (at least {min} points)"
                ),
            ));
        }
        // A count over `max` is caught while decoding, where the data really ends; `max` is
        // the backstop.
        max_points = Some((max, format!("{number_of_chunks} chunks of {size} points")));
    }
    Ok(LazLayout {
        data_end: table,
        missing_table: false,
        max_points,
    })
}

/// For a LAZ file with fixed-size chunks whose chunk table is lost (a truncated file): the
/// reader shows laz an empty chunk table placed just after the end of the file, so that laz
/// (which insists on reading a table when the source can seek) decodes the points in order
/// until the real data runs out.
struct Overlay {
    data_start: u64,
    file_len: u64,
}

/// A reader that records its position, so the LAZ decoder can be caught reading past the end
/// of the compressed points, and that can show an [`Overlay`].
struct Tracked {
    inner: BufReader<File>,
    /// The logical position.
    at: u64,
    /// The same, shared with the importer.
    pos: Arc<AtomicU64>,
    overlay: Option<Overlay>,
}

impl Read for Tracked {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let k = match &self.overlay {
            None => self.inner.read(buf)?,
            Some(o) => {
                // The offset field says the table is at `file_len`; there, 8 zero bytes
                // (version 0, 0 chunks) make an empty table; then the end.
                let field = o.data_start..o.data_start + 8;
                if self.at >= o.file_len {
                    let left = (o.file_len + 8).saturating_sub(self.at) as usize;
                    let k = left.min(buf.len());
                    buf[..k].fill(0);
                    k
                } else {
                    let limit = if self.at < field.start {
                        field.start - self.at
                    } else if self.at < field.end {
                        field.end - self.at
                    } else {
                        o.file_len - self.at
                    };
                    let want = (buf.len() as u64).min(limit) as usize;
                    let k = self.inner.read(&mut buf[..want])?;
                    if field.contains(&self.at) {
                        let value = o.file_len.to_le_bytes();
                        let from = (self.at - field.start) as usize;
                        buf[..k].copy_from_slice(&value[from..from + k]);
                    }
                    k
                }
            }
        };
        self.at += k as u64;
        self.pos.store(self.at, Ordering::Relaxed);
        Ok(k)
    }
}

impl Seek for Tracked {
    fn seek(&mut self, to: SeekFrom) -> std::io::Result<u64> {
        let at = match (&self.overlay, to) {
            (None, to) => self.inner.seek(to)?,
            (Some(o), to) => {
                let len = o.file_len + 8;
                let target = match to {
                    SeekFrom::Start(s) => Some(s),
                    SeekFrom::End(d) => len.checked_add_signed(d),
                    SeekFrom::Current(d) => self.at.checked_add_signed(d),
                }
                .ok_or_else(|| {
                    std::io::Error::new(std::io::ErrorKind::InvalidInput, "seek before the start")
                })?;
                self.inner.seek(SeekFrom::Start(target.min(o.file_len)))?;
                target
            }
        };
        self.at = at;
        self.pos.store(at, Ordering::Relaxed);
        Ok(at)
    }
}

/// The CRS chosen for a file, the factor from its z unit to metres, and notes saying why.
struct Chosen {
    crs: Crs,
    z_factor: f64,
    notes: Vec<String>,
}

/// The GeoTIFF keys this importer reads.
#[derive(Default)]
struct Keys {
    projected: Option<u16>,
    geographic: Option<u16>,
    linear_units: Option<u16>,
    vertical_cs: Option<u16>,
    vertical_units: Option<u16>,
}

fn read_keys(path: &Path, header: &las::Header) -> Result<Option<Keys>> {
    let Some(g) = header
        .get_geotiff_crs()
        .map_err(|e| TwinError::parse(path, "GeoTIFF keys VLR (34735)", e))?
    else {
        return Ok(None);
    };
    let mut k = Keys::default();
    for e in &g.entries {
        let las::crs::GeoTiffData::U16(v) = e.data else {
            continue;
        };
        match e.id {
            3072 => k.projected = Some(v),
            2048 => k.geographic = Some(v),
            3076 => k.linear_units = Some(v),
            4096 => k.vertical_cs = Some(v),
            4099 => k.vertical_units = Some(v),
            _ => {}
        }
    }
    Ok(Some(k))
}

fn choose_crs(path: &Path, header: &las::Header, opts: &ImportOptions) -> Result<Chosen> {
    let keys = read_keys(path, header)?;
    let wkt = header
        .all_vlrs()
        .find(|v| v.user_id == "LASF_Projection" && v.record_id == 2112)
        .map(|v| {
            String::from_utf8_lossy(&v.data)
                .trim_end_matches(['\0', ' ', '\n', '\r'])
                .to_string()
        })
        .filter(|s| !s.trim().is_empty());
    let mut notes = Vec::new();

    // (the CRS, its WKT for unit look-ups, whether the file's GeoTIFF keys describe it)
    let (crs, crs_wkt, from_keys) = if let Some(given) = &opts.source_crs {
        let found = if wkt.is_some() {
            "a WKT CRS"
        } else if keys.is_some() {
            "GeoTIFF CRS keys"
        } else {
            "no CRS"
        };
        notes.push(format!(
            "source CRS {} given in the import options (the file has {found})",
            label(given)
        ));
        (given.clone(), given.to_wkt().ok(), false)
    } else if let Some(w) = wkt {
        let crs = Crs::parse(&w)
            .map_err(|e| TwinError::parse(path, "WKT CRS VLR (LASF_Projection 2112)", e))?;
        notes.push(format!("source CRS from the WKT VLR: {}", label(&crs)));
        (crs, Some(w), false)
    } else if let Some(k) = &keys {
        let code = match (k.projected, k.geographic) {
            (Some(c), _) if c != 0 => ("ProjectedCSTypeGeoKey 3072", c),
            (_, Some(c)) if c != 0 => ("GeographicTypeGeoKey 2048", c),
            _ => {
                return Err(TwinError::parse(
                    path,
                    "GeoTIFF keys VLR (34735)",
                    format!(
                        "the keys name no projected (3072) or geographic (2048) CRS; {}",
                        crate::crs::GIVE_SOURCE_CRS
                    ),
                ))
            }
        };
        if code.1 == 32767 {
            return Err(TwinError::parse(
                path,
                format!("GeoTIFF keys VLR (34735), {}", code.0),
                format!(
                    "the CRS is user-defined (32767: built from projection parameters, not an EPSG code), which this \
                     importer does not rebuild; {}",
                    crate::crs::GIVE_SOURCE_CRS
                ),
            ));
        }
        if !(1024..32767).contains(&code.1) {
            return Err(TwinError::parse(
                path,
                format!("GeoTIFF keys VLR (34735), {}", code.0),
                format!(
                    "{} is not an EPSG CRS code; {}",
                    code.1,
                    crate::crs::GIVE_SOURCE_CRS
                ),
            ));
        }
        let crs = Crs::epsg(u32::from(code.1)).map_err(|e| {
            TwinError::parse(path, format!("GeoTIFF keys VLR (34735), {}", code.0), e)
        })?;
        notes.push(format!(
            "source CRS from the GeoTIFF keys ({}): {}",
            code.0,
            label(&crs)
        ));
        let w = crs.to_wkt().ok();
        (crs, w, true)
    } else {
        let b = header.bounds();
        return Err(TwinError::parse(
            path,
            "header",
            format!(
                "the file has no CRS (no WKT or GeoTIFF-keys VLR); {}",
                crate::crs::missing_crs_hint(
                    Some([b.min.x, b.min.y, b.max.x, b.max.y]),
                    &opts.project_crs
                )
            ),
        ));
    };

    let (z_factor, z_note) = z_unit(
        path,
        &crs,
        crs_wkt.as_deref(),
        keys.as_ref().filter(|_| from_keys),
    )?;
    notes.push(z_note);
    Ok(Chosen {
        crs,
        z_factor,
        notes,
    })
}

/// The factor from the file's z unit to metres, and a note naming the unit and where it came from.
fn z_unit(path: &Path, crs: &Crs, wkt: Option<&str>, keys: Option<&Keys>) -> Result<(f64, String)> {
    let tree = wkt.and_then(wkt::parse);
    if let Some((name, factor)) = tree.as_ref().and_then(wkt::vertical_unit) {
        return Ok((
            factor,
            format!(
                "z unit {} from the vertical CRS: {}",
                unit_label(&name, factor),
                scale_note(factor)
            ),
        ));
    }
    if let Some(k) = keys {
        if let Some(code) = k.vertical_units {
            let Some((name, factor)) = epsg_length_unit(code) else {
                return Err(TwinError::parse(
                    path,
                    "GeoTIFF keys VLR (34735), VerticalUnitsGeoKey 4099",
                    format!("unit code {code} is not one this importer knows (9001 metre, 9002 foot, 9003 US survey foot)"),
                ));
            };
            return Ok((
                factor,
                format!(
                    "z unit {name} from VerticalUnitsGeoKey 4099: {}",
                    scale_note(factor)
                ),
            ));
        }
        if let Some(code) = k.vertical_cs.filter(|c| (1024..32767).contains(c)) {
            let v = Crs::epsg(u32::from(code))
                .and_then(|c| c.to_wkt())
                .map_err(|e| {
                    TwinError::parse(
                        path,
                        "GeoTIFF keys VLR (34735), VerticalCSTypeGeoKey 4096",
                        e,
                    )
                })?;
            if let Some((name, factor)) = wkt::parse(&v)
                .as_ref()
                .and_then(wkt::unit_of_vertical_or_any)
            {
                return Ok((
                    factor,
                    format!(
                        "z unit {} from VerticalCSTypeGeoKey 4096 (EPSG:{code}): {}",
                        unit_label(&name, factor),
                        scale_note(factor)
                    ),
                ));
            }
        }
        if let Some((name, factor)) = k.linear_units.and_then(epsg_length_unit) {
            return Ok((
                factor,
                format!(
                    "no vertical unit in the file; z assumed in the horizontal unit {name} (ProjLinearUnitsGeoKey 3076): {}",
                    scale_note(factor)
                ),
            ));
        }
    }
    if crs.is_geographic() {
        return Ok((
            1.0,
            "no vertical unit in the file and a geographic CRS; z assumed in metres".into(),
        ));
    }
    if let Some((name, factor)) = tree.as_ref().and_then(wkt::horizontal_unit) {
        return Ok((
            factor,
            format!(
                "no vertical unit in the file; z assumed in the horizontal unit {}: {}",
                unit_label(&name, factor),
                scale_note(factor)
            ),
        ));
    }
    Ok((
        1.0,
        "no vertical or horizontal unit found; z assumed in metres".into(),
    ))
}

fn epsg_length_unit(code: u16) -> Option<(&'static str, f64)> {
    match code {
        9001 => Some(("metre", 1.0)),
        9002 => Some(("foot", FOOT)),
        9003 => Some(("US survey foot", US_SURVEY_FOOT)),
        _ => None,
    }
}

/// Snap WKT conversion factors to the exact foot definitions (WKT often rounds them).
fn unit_label(name: &str, factor: f64) -> String {
    if (factor - US_SURVEY_FOOT).abs() < 1e-9 {
        format!("US survey foot (\"{name}\")")
    } else if (factor - FOOT).abs() < 1e-9 {
        format!("international foot (\"{name}\")")
    } else {
        format!("\"{name}\"")
    }
}

fn scale_note(factor: f64) -> String {
    if factor == 1.0 {
        "heights kept as they are (metres)".into()
    } else {
        format!("heights multiplied by {factor} to metres")
    }
}

/// A small reader for WKT1/WKT2 trees, enough to find length units.
mod wkt {
    use super::{FOOT, US_SURVEY_FOOT};

    /// `KEYWORD[arg, ...]`.
    #[derive(Debug)]
    pub(super) struct Node {
        pub key: String,
        pub args: Vec<Arg>,
    }

    /// One argument of a WKT node.
    #[derive(Debug)]
    pub(super) enum Arg {
        /// A quoted string.
        Text(String),
        /// A number or an unquoted word.
        Word(String),
        /// A nested node.
        Node(Node),
    }

    impl Node {
        fn children(&self) -> impl Iterator<Item = &Node> {
            self.args.iter().filter_map(|a| match a {
                Arg::Node(n) => Some(n),
                _ => None,
            })
        }

        fn is(&self, keys: &[&str]) -> bool {
            keys.iter().any(|k| self.key.eq_ignore_ascii_case(k))
        }

        /// (name, factor) of a UNIT/LENGTHUNIT node.
        fn as_unit(&self) -> Option<(String, f64)> {
            if !self.is(&["UNIT", "LENGTHUNIT"]) {
                return None;
            }
            let name = match self.args.first()? {
                Arg::Text(t) => t.clone(),
                _ => return None,
            };
            let factor = match self.args.get(1)? {
                Arg::Word(w) => w.parse::<f64>().ok()?,
                _ => return None,
            };
            (factor.is_finite() && factor > 0.0).then(|| (name, snap(factor)))
        }

        fn find(&self, keys: &[&str]) -> Option<&Node> {
            if self.is(keys) {
                return Some(self);
            }
            self.children().find_map(|c| c.find(keys))
        }

        fn first_unit(&self) -> Option<(String, f64)> {
            self.as_unit()
                .or_else(|| self.children().find_map(|c| c.first_unit()))
        }
    }

    fn snap(f: f64) -> f64 {
        if (f - US_SURVEY_FOOT).abs() < 1e-9 {
            US_SURVEY_FOOT
        } else if (f - FOOT).abs() < 1e-9 {
            FOOT
        } else {
            f
        }
    }

    const VERTICAL: &[&str] = &["VERT_CS", "VERTCRS", "VERTICALCRS"];

    /// The unit of a vertical CRS inside the tree.
    pub(super) fn vertical_unit(root: &Node) -> Option<(String, f64)> {
        root.find(VERTICAL)?.first_unit()
    }

    /// The vertical CRS's unit, else the first length unit of the tree (for a bare vertical CRS).
    pub(super) fn unit_of_vertical_or_any(root: &Node) -> Option<(String, f64)> {
        vertical_unit(root).or_else(|| root.first_unit())
    }

    /// The linear unit of a projected CRS (the horizontal part of a compound CRS).
    pub(super) fn horizontal_unit(root: &Node) -> Option<(String, f64)> {
        let proj = root.find(&["PROJCS", "PROJCRS", "PROJECTEDCRS"])?;
        proj.children().find_map(|c| c.as_unit()).or_else(|| {
            proj.children()
                .filter(|c| c.is(&["AXIS", "CS"]))
                .find_map(|a| a.children().find_map(|u| u.as_unit()))
        })
    }

    /// Parse WKT; None when it is not well formed.
    pub(super) fn parse(s: &str) -> Option<Node> {
        let chars: Vec<char> = s.chars().collect();
        let mut i = 0;
        let node = node(&chars, &mut i, 0)?;
        Some(node)
    }

    fn skip_ws(c: &[char], i: &mut usize) {
        while *i < c.len() && c[*i].is_whitespace() {
            *i += 1;
        }
    }

    fn node(c: &[char], i: &mut usize, depth: usize) -> Option<Node> {
        if depth > 64 {
            return None;
        }
        skip_ws(c, i);
        let start = *i;
        while *i < c.len() && (c[*i].is_alphanumeric() || c[*i] == '_') {
            *i += 1;
        }
        let key: String = c[start..*i].iter().collect();
        skip_ws(c, i);
        if key.is_empty() || *i >= c.len() || !(c[*i] == '[' || c[*i] == '(') {
            return None;
        }
        let close = if c[*i] == '[' { ']' } else { ')' };
        *i += 1;
        let mut args = Vec::new();
        loop {
            skip_ws(c, i);
            let ch = *c.get(*i)?;
            if ch == close {
                *i += 1;
                break;
            }
            if ch == ',' {
                *i += 1;
                continue;
            }
            if ch == '"' {
                *i += 1;
                let mut t = String::new();
                loop {
                    let ch = *c.get(*i)?;
                    *i += 1;
                    if ch == '"' {
                        if c.get(*i) == Some(&'"') {
                            t.push('"');
                            *i += 1;
                        } else {
                            break;
                        }
                    } else {
                        t.push(ch);
                    }
                }
                args.push(Arg::Text(t));
                continue;
            }
            // A word, or a nested node when a bracket follows it.
            let s = *i;
            while *i < c.len()
                && !matches!(c[*i], ',' | '[' | '(' | ']' | ')')
                && !c[*i].is_whitespace()
            {
                *i += 1;
            }
            let mut j = *i;
            skip_ws(c, &mut j);
            if j < c.len() && matches!(c[j], '[' | '(') {
                *i = s;
                args.push(Arg::Node(node(c, i, depth + 1)?));
            } else if *i > s {
                args.push(Arg::Word(c[s..*i].iter().collect()));
            } else {
                return None;
            }
        }
        Some(Node { key, args })
    }

    #[cfg(test)]
    mod tests {
        use super::*;

        #[test]
        fn units_of_compound_and_projected() {
            let w = r#"COMPD_CS["x",PROJCS["p",GEOGCS["g",UNIT["degree",0.0174532925199433]],UNIT["metre",1],AXIS["E",EAST]],VERT_CS["v",VERT_DATUM["d",2005],UNIT["US survey foot",0.304800609601219]]]"#;
            let t = parse(w).unwrap();
            assert_eq!(vertical_unit(&t).unwrap().1, US_SURVEY_FOOT);
            assert_eq!(horizontal_unit(&t).unwrap().1, 1.0);
            let p = r#"PROJCS["p",GEOGCS["g",UNIT["degree",0.0174532925199433]],PROJECTION["LCC"],UNIT["foot",0.3048,AUTHORITY["EPSG","9002"]]]"#;
            let t = parse(p).unwrap();
            assert!(vertical_unit(&t).is_none());
            assert_eq!(horizontal_unit(&t).unwrap(), ("foot".to_string(), FOOT));
            let w2 = r#"PROJCRS["p",BASEGEOGCRS["g",ANGLEUNIT["degree",0.01745]],CS[Cartesian,2],AXIS["(E)",east,ORDER[1],LENGTHUNIT["US survey foot",0.304800609601219]]]"#;
            assert_eq!(
                horizontal_unit(&parse(w2).unwrap()).unwrap().1,
                US_SURVEY_FOOT
            );
            assert!(parse("PROJCS[\"unterminated\"").is_none());
            assert!(parse("").is_none());
        }
    }
}
