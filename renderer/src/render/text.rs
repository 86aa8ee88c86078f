//! Text in rendered pictures: Noto Sans (SIL Open Font License 1.1; the font's bytes come from
//! the `notosans` crate) rasterised on the CPU by `ab_glyph`, with kerning and anti-aliasing.
//! Noto Sans has the precomposed Vietnamese letters (Latin Extended Additional), so names such
//! as "Cầu Trường Tiền" keep their marks.

use super::Image;
use ab_glyph::{Font, FontRef, PxScale, ScaleFont};
use std::sync::LazyLock;

static REGULAR: LazyLock<FontRef<'static>> = LazyLock::new(|| {
    FontRef::try_from_slice(notosans::REGULAR_TTF).expect("the bundled Noto Sans Regular parses")
});
static BOLD: LazyLock<FontRef<'static>> = LazyLock::new(|| {
    FontRef::try_from_slice(notosans::BOLD_TTF).expect("the bundled Noto Sans Bold parses")
});

/// A face and a size: what a run of text is drawn with.
#[derive(Clone, Copy, Debug)]
pub struct Style {
    /// Bold rather than regular.
    pub bold: bool,
    /// Height of the em box in pixels.
    pub px: f32,
}

impl Style {
    fn font(self) -> &'static FontRef<'static> {
        if self.bold {
            &BOLD
        } else {
            &REGULAR
        }
    }
}

/// Whether the bundled font has a glyph for every character of `s` (spaces aside).
pub fn covers(s: &str) -> bool {
    s.chars()
        .filter(|c| !c.is_whitespace())
        .all(|c| REGULAR.glyph_id(c).0 != 0 && BOLD.glyph_id(c).0 != 0)
}

/// Width of `s` in pixels when drawn with `style`.
pub fn width(s: &str, style: Style) -> f32 {
    let f = style.font().as_scaled(PxScale::from(style.px));
    let mut w = 0.0;
    let mut prev = None;
    for c in s.chars() {
        let id = f.glyph_id(c);
        if let Some(p) = prev {
            w += f.kern(p, id);
        }
        w += f.h_advance(id);
        prev = Some(id);
    }
    w
}

/// Height of a line (ascent plus descent) in pixels.
pub fn line_height(style: Style) -> f32 {
    let f = style.font().as_scaled(PxScale::from(style.px));
    f.ascent() - f.descent()
}

/// Draw `s` with its line box's top left corner at (`x`, `y`), blending `colour` by the glyphs'
/// coverage. Pixels outside the picture are skipped.
pub fn draw(img: &mut Image, x: f32, y: f32, s: &str, style: Style, colour: [u8; 3]) {
    let f = style.font().as_scaled(PxScale::from(style.px));
    let baseline = y + f.ascent();
    let mut pen = x;
    let mut prev = None;
    for c in s.chars() {
        let id = f.glyph_id(c);
        if let Some(p) = prev {
            pen += f.kern(p, id);
        }
        let glyph = id.with_scale_and_position(style.px, ab_glyph::point(pen, baseline));
        pen += f.h_advance(id);
        prev = Some(id);
        let Some(outline) = f.outline_glyph(glyph) else {
            continue;
        };
        let b = outline.px_bounds();
        outline.draw(|gx, gy, cov| {
            let px = b.min.x as i64 + i64::from(gx);
            let py = b.min.y as i64 + i64::from(gy);
            blend(img, px, py, colour, f64::from(cov.clamp(0.0, 1.0)));
        });
    }
}

/// Blend `c` over the pixel at (`x`, `y`) with opacity `alpha`; nothing outside the picture.
pub(crate) fn blend(img: &mut Image, x: i64, y: i64, c: [u8; 3], alpha: f64) {
    if alpha <= 0.0 || x < 0 || y < 0 || x >= i64::from(img.width) || y >= i64::from(img.height) {
        return;
    }
    let i = (y as usize * img.width as usize + x as usize) * 4;
    for (px, &ck) in img.rgba[i..i + 3].iter_mut().zip(&c) {
        let v = f64::from(*px) * (1.0 - alpha) + f64::from(ck) * alpha;
        *px = v.round().clamp(0.0, 255.0) as u8;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn blank(w: u32, h: u32) -> Image {
        Image {
            width: w,
            height: h,
            rgba: vec![255; (w * h * 4) as usize],
        }
    }

    fn inked(img: &Image) -> usize {
        img.rgba.chunks_exact(4).filter(|p| p[0] < 128).count()
    }

    /// Issue 17: titles lost their diacritics. Every Vietnamese letter has its own glyph, and
    /// the marks are drawn: "Cầu Trường Tiền" inks more pixels than "Cau Truong Tien", above
    /// and below the plain letters' box.
    #[test]
    fn vietnamese_letters_keep_their_marks() {
        let all = "ăằắẳẵặâầấẩẫậạảãêềếểễệẹẻẽịỉĩôồốổỗộơờớởỡợọỏõưừứửữựụủũỳỵỷỹđĐƠƯẠỆ";
        assert!(covers(all));
        assert!(covers("Huế Kinh thành Ngọ Môn Thái Hòa"));
        let style = Style {
            bold: false,
            px: 24.0,
        };
        let mut marked = blank(260, 40);
        let mut plain = blank(260, 40);
        draw(&mut marked, 2.0, 2.0, "Cầu Trường Tiền", style, [0, 0, 0]);
        draw(&mut plain, 2.0, 2.0, "Cau Truong Tien", style, [0, 0, 0]);
        assert!(inked(&plain) > 200, "{}", inked(&plain));
        assert!(
            inked(&marked) > inked(&plain) + 20,
            "{} vs {}",
            inked(&marked),
            inked(&plain)
        );
        // The marks differ from the plain text in the rows of the accents.
        let rows_differ = (0..40u32)
            .filter(|&y| {
                (0..260u32).any(|x| {
                    let i = ((y * 260 + x) * 4) as usize;
                    marked.rgba[i] != plain.rgba[i]
                })
            })
            .count();
        assert!(rows_differ >= 4, "{rows_differ}");
        // Widths agree with what was drawn: nothing inked right of the measured width.
        let w = width("Cau Truong Tien", style).ceil() as u32 + 2;
        let beyond = (0..40u32)
            .flat_map(|y| (w + 1..260).map(move |x| (x, y)))
            .filter(|&(x, y)| plain.rgba[((y * 260 + x) * 4) as usize] < 200)
            .count();
        assert_eq!(beyond, 0);
    }
}
