//! Float32 GeoTIFF output (one or more bands) that GDAL reads: ModelPixelScale, ModelTiepoint,
//! GeoKeys with the project EPSG code, and NaN as nodata.

use super::model::GridSpec;
use crate::error::{Result, ScenarioError};
use std::io::BufWriter;
use std::path::Path;
use tiff::encoder::{colortype::Gray32Float, TiffEncoder};
use tiff::tags::{ExtraSamples, Tag};

/// GeoKey ids (GeoTIFF 1.1).
const GT_MODEL_TYPE: u16 = 1024;
const GT_RASTER_TYPE: u16 = 1025;
const PROJECTED_CRS: u16 = 3072;
const MODEL_TYPE_PROJECTED: u16 = 1;
const RASTER_PIXEL_IS_AREA: u16 = 1;

/// Write `bands` (each `grid.cells()` values, row-major from the north row) as a float32
/// GeoTIFF in the grid's CRS. NaN marks nodata.
pub fn write_geotiff(path: &Path, grid: &GridSpec, bands: &[&[f32]]) -> Result<()> {
    check_bands(&path.display().to_string(), grid, bands)?;
    let file = std::fs::File::create(path).map_err(|e| ScenarioError::io(path, e))?;
    encode_geotiff(
        BufWriter::new(file),
        &path.display().to_string(),
        grid,
        bands,
    )
}

/// The bytes of the GeoTIFF [`write_geotiff`] writes (for a server's response).
pub fn geotiff_bytes(grid: &GridSpec, bands: &[&[f32]]) -> Result<Vec<u8>> {
    check_bands("in memory", grid, bands)?;
    let mut out = std::io::Cursor::new(Vec::new());
    encode_geotiff(&mut out, "in memory", grid, bands)?;
    Ok(out.into_inner())
}

fn check_bands(what: &str, grid: &GridSpec, bands: &[&[f32]]) -> Result<()> {
    let n = grid.cells();
    if bands.is_empty() || bands.iter().any(|b| b.len() != n) {
        return Err(ScenarioError::invalid(
            format!("raster {what}"),
            format!("bands must each hold {n} values"),
        ));
    }
    Ok(())
}

fn encode_geotiff<W: std::io::Write + std::io::Seek>(
    w: W,
    what: &str,
    grid: &GridSpec,
    bands: &[&[f32]],
) -> Result<()> {
    let n = grid.cells();
    let fail = |e: tiff::TiffError| ScenarioError::invalid(format!("GeoTIFF {what}"), e);
    let mut enc = TiffEncoder::new(w).map_err(fail)?;
    let mut img = enc
        .new_image::<Gray32Float>(grid.nx as u32, grid.ny as u32)
        .map_err(fail)?;
    if bands.len() > 1 {
        img.extra_samples(&vec![ExtraSamples::Unspecified; bands.len() - 1])
            .map_err(fail)?;
    }
    {
        let d = img.encoder();
        d.write_tag(Tag::ModelPixelScaleTag, &[grid.dx, grid.dx, 0.0][..])
            .map_err(fail)?;
        d.write_tag(
            Tag::ModelTiepointTag,
            &[0.0, 0.0, 0.0, grid.xmin, grid.ymax, 0.0][..],
        )
        .map_err(fail)?;
        let mut keys: Vec<u16> = vec![1, 1, 0, 0];
        keys.extend([GT_MODEL_TYPE, 0, 1, MODEL_TYPE_PROJECTED]);
        keys.extend([GT_RASTER_TYPE, 0, 1, RASTER_PIXEL_IS_AREA]);
        if let Some(code) = grid.epsg.and_then(|c| u16::try_from(c).ok()) {
            keys.extend([PROJECTED_CRS, 0, 1, code]);
        }
        keys[3] = ((keys.len() - 4) / 4) as u16;
        d.write_tag(Tag::GeoKeyDirectoryTag, &keys[..])
            .map_err(fail)?;
        d.write_tag(Tag::GdalNodata, "nan").map_err(fail)?;
    }
    let data: Vec<f32> = if bands.len() == 1 {
        bands[0].to_vec()
    } else {
        let mut v = Vec::with_capacity(n * bands.len());
        for k in 0..n {
            v.extend(bands.iter().map(|b| b[k]));
        }
        v
    };
    img.write_data(&data).map_err(fail)?;
    Ok(())
}
