//! Report photos: JPEG or PNG only, recognised by their first bytes (not by the sender's
//! content type or file name), bounded in size, and rewritten without their metadata.
//!
//! The image data is kept as it was sent (no re-encoding, so no quality is lost and no decoder
//! runs on hostile pixels): `img-parts` splits the file into JPEG segments or PNG chunks and
//! only those needed to show the picture are written back.
//!
//! - JPEG: every APPn segment is dropped except APP0 (JFIF), APP2 holding an ICC profile and
//!   APP14 (Adobe colour transform); so are comments (COM). That removes EXIF (APP1: GPS
//!   position, camera make, model and serial number, time), XMP (APP1), IPTC/Photoshop
//!   (APP13) and makers' segments.
//! - PNG: the critical chunks and the colour chunks (`tRNS`, `gAMA`, `cHRM`, `sRGB`, `iCCP`,
//!   `sBIT`, `bKGD`, `pHYs`) are kept; text (`tEXt`, `zTXt`, `iTXt`, where XMP lives), `eXIf`,
//!   `tIME` and private chunks are dropped.

use crate::error::{Result, TwinError};
use img_parts::jpeg::{markers, Jpeg};
use img_parts::png::Png;
use img_parts::Bytes;

/// The kinds of photo accepted.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PhotoFormat {
    /// JPEG (JFIF or EXIF).
    Jpeg,
    /// PNG.
    Png,
}

impl PhotoFormat {
    /// The file extension (`jpg`, `png`).
    pub fn extension(self) -> &'static str {
        match self {
            PhotoFormat::Jpeg => "jpg",
            PhotoFormat::Png => "png",
        }
    }

    /// The media type (`image/jpeg`, `image/png`).
    pub fn media_type(self) -> &'static str {
        match self {
            PhotoFormat::Jpeg => "image/jpeg",
            PhotoFormat::Png => "image/png",
        }
    }

    /// The format a file's first bytes announce, if one accepted.
    pub fn sniff(bytes: &[u8]) -> Option<PhotoFormat> {
        if bytes.starts_with(&[0xFF, 0xD8, 0xFF]) {
            Some(PhotoFormat::Jpeg)
        } else if bytes.starts_with(b"\x89PNG\r\n\x1a\n") {
            Some(PhotoFormat::Png)
        } else {
            None
        }
    }
}

/// A photo ready to store: its format and its bytes without metadata.
#[derive(Clone, Debug)]
pub struct CleanPhoto {
    /// JPEG or PNG.
    pub format: PhotoFormat,
    /// The file without metadata.
    pub bytes: Vec<u8>,
    /// Width and height in pixels, from the file's header.
    pub size: (u32, u32),
    /// How many metadata segments or chunks were dropped.
    pub dropped: usize,
}

/// PNG chunks kept besides the critical ones (`IHDR`, `PLTE`, `IDAT`, `IEND`).
const PNG_KEEP: [&[u8; 4]; 12] = [
    b"IHDR", b"PLTE", b"IDAT", b"IEND", b"tRNS", b"gAMA", b"cHRM", b"sRGB", b"iCCP", b"sBIT",
    b"bKGD", b"pHYs",
];

/// Check and clean a photo of at most `max_bytes`: JPEG or PNG by its first bytes, a file
/// that parses, with non-zero dimensions; metadata dropped (see the module docs). `field`
/// names the input in errors.
pub fn clean(field: &str, bytes: Vec<u8>, max_bytes: u64) -> Result<CleanPhoto> {
    let bad = |why: String| TwinError::invalid(field, why);
    if bytes.len() as u64 > max_bytes {
        return Err(bad(format!(
            "{} bytes, the largest photo accepted is {max_bytes} bytes",
            bytes.len()
        )));
    }
    let Some(format) = PhotoFormat::sniff(&bytes) else {
        return Err(bad(
            "not a JPEG or PNG file (judged by its first bytes, not its name or type)".into(),
        ));
    };
    let input = Bytes::from(bytes);
    match format {
        PhotoFormat::Jpeg => {
            let mut jpeg =
                Jpeg::from_bytes(input).map_err(|e| bad(format!("a damaged JPEG file: {e}")))?;
            let (w, h) = jpeg
                .dimensions()
                .filter(|&(w, h)| w > 0 && h > 0)
                .ok_or_else(|| bad("a JPEG file without an image frame".into()))?;
            if !jpeg.segments().iter().any(|s| s.marker() == markers::SOS) {
                return Err(bad("a JPEG file without image data".into()));
            }
            let before = jpeg.segments().len();
            jpeg.segments_mut()
                .retain(|s| keep_jpeg_segment(s.marker(), s.contents()));
            let mut dropped = before - jpeg.segments().len();
            // img-parts keeps everything after the first scan's header as that scan's data:
            // later scans, segments between them, and whatever follows the end of the image.
            let scans = 2 + jpeg.segments().iter().map(|s| s.len()).sum::<usize>();
            let whole = jpeg.encoder().bytes();
            let (bytes, more) = trim_scans(&whole, scans).map_err(bad)?;
            dropped += more;
            Ok(CleanPhoto {
                format,
                bytes,
                size: (u32::from(w), u32::from(h)),
                dropped,
            })
        }
        PhotoFormat::Png => {
            let mut png =
                Png::from_bytes(input).map_err(|e| bad(format!("a damaged PNG file: {e}")))?;
            let size = png
                .dimensions()
                .filter(|&(w, h)| w > 0 && h > 0)
                .ok_or_else(|| bad("a PNG file without a valid IHDR".into()))?;
            if !png.chunks().iter().any(|c| &c.kind() == b"IDAT") {
                return Err(bad("a PNG file without image data".into()));
            }
            let before = png.chunks().len();
            png.chunks_mut()
                .retain(|c| PNG_KEEP.iter().any(|k| **k == c.kind()));
            let dropped = before - png.chunks().len();
            Ok(CleanPhoto {
                format,
                bytes: png.encoder().bytes().to_vec(),
                size,
                dropped,
            })
        }
    }
}

/// Copy a JPEG's scans from `start` (the first scan's data) to its end-of-image marker,
/// dropping application segments and comments between scans and anything after the end (a
/// second picture of a multi-picture file with its own EXIF, appended files); with the number
/// of pieces dropped.
fn trim_scans(b: &[u8], start: usize) -> std::result::Result<(Vec<u8>, usize), String> {
    let mut out = b[..start.min(b.len())].to_vec();
    let mut dropped = 0;
    let mut i = start;
    loop {
        let Some(j) = b.get(i..).and_then(|r| r.iter().position(|&x| x == 0xFF)) else {
            return Err("a JPEG file without its end-of-image marker".into());
        };
        let j = i + j;
        let Some(&m) = b.get(j + 1) else {
            return Err("a JPEG file cut short".into());
        };
        match m {
            // Stuffed byte, restart marker: scan data goes on.
            0x00 | markers::RST0..=markers::RST7 => {
                out.extend_from_slice(&b[i..j + 2]);
                i = j + 2;
            }
            // A fill byte before a marker.
            0xFF => {
                out.extend_from_slice(&b[i..=j]);
                i = j + 1;
            }
            markers::EOI => {
                out.extend_from_slice(&b[i..j + 2]);
                if b.len() > j + 2 {
                    dropped += 1;
                }
                return Ok((out, dropped));
            }
            _ => {
                let len = b
                    .get(j + 2..j + 4)
                    .map(|l| usize::from(u16::from_be_bytes([l[0], l[1]])))
                    .filter(|&l| l >= 2 && j + 2 + l <= b.len())
                    .ok_or("a JPEG segment runs past the end of the file")?;
                if keep_jpeg_segment(m, &b[j + 4..j + 2 + len]) {
                    out.extend_from_slice(&b[i..j + 2 + len]);
                } else {
                    out.extend_from_slice(&b[i..j]);
                    dropped += 1;
                }
                i = j + 2 + len;
            }
        }
    }
}

/// Whether a JPEG segment stays: everything but application segments and comments, except
/// JFIF (APP0), an ICC profile (APP2) and Adobe's colour transform (APP14).
fn keep_jpeg_segment(marker: u8, contents: &[u8]) -> bool {
    match marker {
        markers::APP0 => contents.starts_with(b"JFIF\0") || contents.starts_with(b"JFXX\0"),
        markers::APP2 => contents.starts_with(b"ICC_PROFILE\0"),
        markers::APP14 => contents.starts_with(b"Adobe"),
        markers::APP1..=markers::APP15 | markers::COM => false,
        _ => true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_what_is_not_a_photo() {
        for (bytes, why) in [
            (b"GIF89a....".to_vec(), "not a JPEG or PNG"),
            (b"<svg xmlns=...".to_vec(), "not a JPEG or PNG"),
            (vec![0xFF, 0xD8, 0xFF, 0xE0, 0x00], "damaged JPEG"),
            (b"\x89PNG\r\n\x1a\nxx".to_vec(), "damaged PNG"),
        ] {
            let e = clean("media", bytes, 1 << 20).unwrap_err().to_string();
            assert!(e.contains("media") && e.contains(why), "{e}");
        }
        let e = clean("media", vec![0xFF; 2000], 1000)
            .unwrap_err()
            .to_string();
        assert!(e.contains("largest photo accepted is 1000 bytes"), "{e}");
    }

    /// A JPEG with a comment between two scans and bytes after its end: both go, the scans
    /// stay byte for byte.
    #[test]
    fn jpeg_segments_between_scans_and_trailing_bytes_are_dropped() {
        let sof = [0xFF, 0xC0, 0, 11, 8, 0, 1, 0, 1, 1, 1, 0x11, 0];
        let sos = [0xFF, 0xDA, 0, 8, 1, 1, 0, 0, 63, 0];
        let jfif = b"JFIF\0\x01\x01\0\0\x01\0\x01\0\0";
        let mut f = vec![0xFF, 0xD8, 0xFF, 0xE0, 0, 16];
        f.extend(jfif);
        f.extend([0xFF, 0xFE, 0, 9]);
        f.extend(b"comment");
        f.extend(sof);
        f.extend(sos);
        let scan1 = [0x12, 0xFF, 0x00, 0x34, 0xFF, 0xD0, 0x56];
        f.extend(scan1);
        f.extend([0xFF, 0xFE, 0, 8]);
        f.extend(b"secret");
        f.extend(sos);
        f.extend([0x78, 0x9A]);
        f.extend([0xFF, 0xD9]);
        f.extend(b"TAIL with EXIF");
        let c = clean("media", f, 1 << 20).unwrap();
        let text = String::from_utf8_lossy(&c.bytes);
        assert!(!text.contains("comment") && !text.contains("secret") && !text.contains("TAIL"));
        assert_eq!(c.dropped, 3);
        assert_eq!(c.size, (1, 1));
        let mut want = vec![0xFF, 0xD8, 0xFF, 0xE0, 0, 16];
        want.extend(jfif);
        want.extend(sof);
        want.extend(sos);
        want.extend(scan1);
        want.extend(sos);
        want.extend([0x78, 0x9A, 0xFF, 0xD9]);
        assert_eq!(c.bytes, want);
    }

    /// A PNG with text (where XMP lives) and an eXIf chunk comes back with the picture's
    /// chunks only.
    #[test]
    fn png_text_and_exif_chunks_are_dropped() {
        let mut bytes = Vec::new();
        {
            let mut enc = png::Encoder::new(&mut bytes, 2, 2);
            enc.set_color(png::ColorType::Rgb);
            enc.add_text_chunk("GPS".into(), "16.4780 N 107.5680 E".into())
                .unwrap();
            enc.add_itxt_chunk("XML:com.adobe.xmp".into(), "<x:xmpmeta/>".into())
                .unwrap();
            let mut w = enc.write_header().unwrap();
            w.write_image_data(&[200; 12]).unwrap();
        }
        let mut p = Png::from_bytes(Bytes::from(bytes)).unwrap();
        p.chunks_mut().insert(
            1,
            img_parts::png::PngChunk::new(*b"eXIf", Bytes::from_static(b"MM\0*GPS")),
        );
        let with_exif = p.encoder().bytes().to_vec();
        let c = clean("media", with_exif, 1 << 20).unwrap();
        let kinds: Vec<[u8; 4]> = Png::from_bytes(Bytes::from(c.bytes.clone()))
            .unwrap()
            .chunks()
            .iter()
            .map(|k| k.kind())
            .collect();
        assert_eq!(kinds, [*b"IHDR", *b"IDAT", *b"IEND"]);
        assert_eq!((c.format, c.size, c.dropped), (PhotoFormat::Png, (2, 2), 3));
        assert!(!String::from_utf8_lossy(&c.bytes).contains("16.4780"));
    }
}
