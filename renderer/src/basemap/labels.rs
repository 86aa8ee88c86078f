//! Labels on a basemap tile: placed by priority, each kept only when its box (with its halo)
//! lies wholly inside the tile and overlaps no label placed before it, so no label is ever cut
//! at a tile edge. Text is Noto Sans through [`crate::render::text`], with a white halo; a
//! label may be slanted (an oblique made here by shearing the glyphs' coverage, as the bundled
//! font has no italic).

use crate::render::text::{self, Style};
use crate::render::Image;
use std::collections::HashSet;

/// Where a label goes.
pub(super) enum Place {
    /// Centred on a point (tile pixels).
    Point((f64, f64)),
    /// Near a line (tile pixels): centred on the middle of the line's longest run inside the
    /// tile, when that run is longer than the label.
    Line(Vec<(f64, f64)>),
}

/// A label that may be drawn.
pub(super) struct Candidate {
    pub text: String,
    /// Lower is placed first.
    pub priority: u8,
    /// Longer lines (larger areas) first within a priority (their labels read best).
    pub weight: f64,
    pub place: Place,
    pub style: Style,
    /// Slanted (oblique), as names of land use areas are.
    pub italic: bool,
    pub colour: [u8; 3],
}

/// Horizontal shift of a slanted label's ink per pixel of height (rows above the line's middle
/// move right, rows below it left).
const SLANT: f64 = 0.2;

/// Width and height of a label's text in pixels (its halo aside); a slanted one is wider by
/// the shear of its line's height.
pub(super) fn extent(s: &str, style: Style, italic: bool) -> (f64, f64) {
    let h = f64::from(text::line_height(style));
    let w = f64::from(text::width(s, style));
    (if italic { w + SLANT * h } else { w }, h)
}

/// Place and draw the candidates on `img`; returns the boxes drawn (x0, y0, x1, y1, halo
/// included).
pub(super) fn draw(img: &mut Image, mut cands: Vec<Candidate>, scale: f64) -> Vec<[f64; 4]> {
    cands.sort_by(|a, b| {
        a.priority
            .cmp(&b.priority)
            .then(b.weight.total_cmp(&a.weight))
            .then_with(|| a.text.cmp(&b.text))
    });
    let size = f64::from(img.width.min(img.height));
    let margin = 2.0 * scale;
    let halo = 1.5 * scale;
    let gap = 3.0 * scale;
    let mut placed: Vec<[f64; 4]> = Vec::new();
    let mut names: HashSet<String> = HashSet::new();
    for c in cands {
        if c.text.trim().is_empty() || names.contains(&c.text) {
            continue;
        }
        let (w, h) = extent(&c.text, c.style, c.italic);
        let anchor = match &c.place {
            Place::Point(p) => Some(*p),
            Place::Line(l) => line_anchor(l, size, margin, w + 8.0 * scale),
        };
        let Some((ax, ay)) = anchor else { continue };
        let b = [
            ax - w / 2.0 - halo,
            ay - h / 2.0 - halo,
            ax + w / 2.0 + halo,
            ay + h / 2.0 + halo,
        ];
        if b[0] < margin || b[1] < margin || b[2] > size - margin || b[3] > size - margin {
            continue;
        }
        if placed.iter().any(|p| {
            p[0] - gap < b[2] && b[0] < p[2] + gap && p[1] - gap < b[3] && b[1] < p[3] + gap
        }) {
            continue;
        }
        paint(img, &c.text, c.style, c.italic, (ax, ay), c.colour, halo);
        placed.push(b);
        names.insert(c.text);
    }
    placed
}

/// The middle of the longest run of `line` inside the box [m, size − m]², if that run is at
/// least `need` pixels long.
fn line_anchor(line: &[(f64, f64)], size: f64, m: f64, need: f64) -> Option<(f64, f64)> {
    let (lo, hi) = (m, size - m);
    let mut runs: Vec<Vec<(f64, f64)>> = Vec::new();
    let mut open = false;
    for s in line.windows(2) {
        let Some((p, q, cut_start, cut_end)) = clip(s[0], s[1], lo, hi) else {
            open = false;
            continue;
        };
        if !open || cut_start {
            runs.push(vec![p]);
        }
        runs.last_mut().expect("pushed").push(q);
        open = !cut_end;
    }
    let len = |r: &Vec<(f64, f64)>| {
        r.windows(2)
            .map(|w| (w[1].0 - w[0].0).hypot(w[1].1 - w[0].1))
            .sum::<f64>()
    };
    let best = runs.into_iter().max_by(|a, b| len(a).total_cmp(&len(b)))?;
    let total = len(&best);
    if total < need {
        return None;
    }
    let mut left = total / 2.0;
    for w in best.windows(2) {
        let d = (w[1].0 - w[0].0).hypot(w[1].1 - w[0].1);
        if d >= left && d > 0.0 {
            let t = left / d;
            return Some((
                w[0].0 + (w[1].0 - w[0].0) * t,
                w[0].1 + (w[1].1 - w[0].1) * t,
            ));
        }
        left -= d;
    }
    best.last().copied()
}

/// Liang–Barsky: the part of segment a→b inside [lo, hi]², with whether its start and its end
/// were cut.
#[allow(clippy::type_complexity)]
fn clip(
    a: (f64, f64),
    b: (f64, f64),
    lo: f64,
    hi: f64,
) -> Option<((f64, f64), (f64, f64), bool, bool)> {
    let (dx, dy) = (b.0 - a.0, b.1 - a.1);
    let (mut t0, mut t1) = (0.0f64, 1.0f64);
    for (p, q) in [
        (-dx, a.0 - lo),
        (dx, hi - a.0),
        (-dy, a.1 - lo),
        (dy, hi - a.1),
    ] {
        if p == 0.0 {
            if q < 0.0 {
                return None;
            }
        } else {
            let r = q / p;
            if p < 0.0 {
                t0 = t0.max(r);
            } else {
                t1 = t1.min(r);
            }
        }
    }
    if t0 > t1 {
        return None;
    }
    let at = |t: f64| (a.0 + dx * t, a.1 + dy * t);
    Some((at(t0), at(t1), t0 > 0.0, t1 < 1.0))
}

/// Draw `s` with its line box centred on `centre`: the halo, then the text, each composited
/// "over" by the glyphs' coverage, so labels also show on transparent parts of the tile. A
/// slanted label's coverage is sheared about the line's middle (rows above it to the right).
fn paint(
    img: &mut Image,
    s: &str,
    style: Style,
    italic: bool,
    centre: (f64, f64),
    colour: [u8; 3],
    halo: f64,
) {
    let (tw, th) = extent(s, style, false);
    let at = (centre.0 - tw / 2.0, centre.1 - th / 2.0);
    let pad = halo.ceil() as u32 + 2;
    let padx = pad
        + if italic {
            (SLANT * th / 2.0).ceil() as u32
        } else {
            0
        };
    let w = tw.ceil() as u32 + 2 * padx + 1;
    let h = th.ceil() as u32 + 2 * pad + 1;
    let (ox, oy) = (
        at.0.floor() as i64 - i64::from(padx),
        at.1.floor() as i64 - i64::from(pad),
    );
    let (fx, fy) = (
        (at.0 - at.0.floor()) as f32 + padx as f32,
        (at.1 - at.1.floor()) as f32 + pad as f32,
    );
    // A slanted label is drawn at twice its size, sheared there and reduced: a shear at its own
    // size would blur its strokes, about a pixel wide, over two.
    let k: u32 = if italic { 2 } else { 1 };
    let kf = k as f32;
    let big = Style {
        px: style.px * kf,
        ..style
    };
    let black = || Image {
        width: w * k,
        height: h * k,
        rgba: [0, 0, 0, 255].repeat((w * h * k * k) as usize),
    };
    let mut halo_cov = black();
    for i in 0..16 {
        let a = f64::from(i) * std::f64::consts::PI / 8.0;
        let r = if i % 2 == 0 { halo } else { halo * 0.7 };
        let (dx, dy) = ((a.cos() * r) as f32, (a.sin() * r) as f32);
        text::draw(
            &mut halo_cov,
            (fx + dx) * kf,
            (fy + dy) * kf,
            s,
            big,
            [255; 3],
        );
    }
    let mut ink = black();
    text::draw(&mut ink, fx * kf, fy * kf, s, big, [255; 3]);
    if italic {
        let middle = (f64::from(fy) + th / 2.0) * f64::from(k);
        for cov in [&mut halo_cov, &mut ink] {
            shear(cov, middle);
            *cov = reduce(cov, k);
        }
    }
    composite(img, &halo_cov, ox, oy, super::style::HALO);
    composite(img, &ink, ox, oy, colour);
}

/// Shear the coverage in `cov`'s red channel: each row moves right by [`SLANT`] times its
/// height above `pivot` (left below it), resampled linearly.
fn shear(cov: &mut Image, pivot: f64) {
    let w = cov.width as usize;
    let mut row = vec![0f64; w];
    for y in 0..cov.height as usize {
        let shift = SLANT * (pivot - (y as f64 + 0.5));
        let line = &mut cov.rgba[y * w * 4..(y + 1) * w * 4];
        for (x, r) in row.iter_mut().enumerate() {
            let src = x as f64 - shift;
            let (i, t) = (src.floor(), src - src.floor());
            let at = |k: f64| {
                if k < 0.0 || k >= w as f64 {
                    0.0
                } else {
                    f64::from(line[k as usize * 4])
                }
            };
            *r = at(i) * (1.0 - t) + at(i + 1.0) * t;
        }
        for (x, r) in row.iter().enumerate() {
            line[x * 4] = r.round().clamp(0.0, 255.0) as u8;
        }
    }
}

/// `cov` reduced `k` times: each pixel's red channel the mean of a `k` × `k` block's.
fn reduce(cov: &Image, k: u32) -> Image {
    let (w, h) = (cov.width / k, cov.height / k);
    let mut out = Image {
        width: w,
        height: h,
        rgba: [0, 0, 0, 255].repeat((w * h) as usize),
    };
    for y in 0..h {
        for x in 0..w {
            let sum: u32 = (0..k * k)
                .map(|i| u32::from(cov.pixel(x * k + i % k, y * k + i / k)[0]))
                .sum();
            out.rgba[((y * w + x) * 4) as usize] = ((sum + k * k / 2) / (k * k)) as u8;
        }
    }
    out
}

/// Put `colour` over `img` at offset (ox, oy) with the opacity held in `cov`'s red channel.
fn composite(img: &mut Image, cov: &Image, ox: i64, oy: i64, colour: [u8; 3]) {
    for y in 0..cov.height {
        for x in 0..cov.width {
            let a = f64::from(cov.rgba[((y * cov.width + x) * 4) as usize]) / 255.0;
            let (px, py) = (ox + i64::from(x), oy + i64::from(y));
            if a <= 0.0
                || px < 0
                || py < 0
                || px >= i64::from(img.width)
                || py >= i64::from(img.height)
            {
                continue;
            }
            let i = ((py as u32 * img.width + px as u32) * 4) as usize;
            let da = f64::from(img.rgba[i + 3]) / 255.0;
            let oa = a + da * (1.0 - a);
            for (d, &c) in img.rgba[i..i + 3].iter_mut().zip(&colour) {
                let v = (f64::from(c) * a + f64::from(*d) * da * (1.0 - a)) / oa;
                *d = v.round().clamp(0.0, 255.0) as u8;
            }
            img.rgba[i + 3] = (oa * 255.0).round().clamp(0.0, 255.0) as u8;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A slanted label leans: the ink of its upper rows lies right of its lower rows' by the
    /// slant times their height apart (an upright one does not lean), and stays within the box
    /// that placement reserves for it.
    #[test]
    fn slanted_labels_lean_within_their_box() {
        let style = Style {
            bold: false,
            px: 40.0,
        };
        let lean = |italic: bool| {
            let mut img = Image {
                width: 160,
                height: 60,
                rgba: [0, 0, 0, 0].repeat(160 * 60),
            };
            paint(&mut img, "IIII", style, italic, (80.0, 30.0), [0; 3], 0.0);
            let (w, _) = extent("IIII", style, italic);
            let ink = |x: u32, y: u32| f64::from(img.pixel(x, y)[3]);
            let rows: Vec<u32> = (0..img.height)
                .filter(|&y| (0..img.width).any(|x| ink(x, y) > 0.0))
                .collect();
            let (top, bottom) = (rows[0] + 2, rows[rows.len() - 1] - 2);
            for x in 0..img.width {
                for y in 0..img.height {
                    let d = (f64::from(x) + 0.5 - 80.0).abs();
                    assert!(
                        ink(x, y) == 0.0 || d <= w / 2.0 + 1.0,
                        "ink {d} from the middle"
                    );
                }
            }
            // Ink-weighted mean x of a row.
            let mean_x = |y: u32| {
                let (mut sum, mut wsum) = (0.0, 0.0);
                for x in 0..img.width {
                    sum += ink(x, y) * f64::from(x);
                    wsum += ink(x, y);
                }
                sum / wsum
            };
            (mean_x(top) - mean_x(bottom)) / f64::from(bottom - top)
        };
        let (upright, slanted) = (lean(false), lean(true));
        assert!(upright.abs() < 0.01, "{upright}");
        assert!((slanted - SLANT).abs() < 0.02, "{slanted}");
    }

    #[test]
    fn anchors_on_the_longest_inside_run() {
        // A line crossing the tile left to right at y = 100: the middle of the inside part.
        let a = line_anchor(&[(-50.0, 100.0), (300.0, 100.0)], 256.0, 2.0, 40.0).unwrap();
        assert!((a.0 - 128.0).abs() < 1e-9 && (a.1 - 100.0).abs() < 1e-9);
        // Too short for the label.
        assert!(line_anchor(&[(10.0, 10.0), (30.0, 10.0)], 256.0, 2.0, 40.0).is_none());
        // Leaves and comes back: two runs, the longer wins.
        let l = [(10.0, 50.0), (10.0, -50.0), (100.0, -50.0), (100.0, 250.0)];
        let a = line_anchor(&l, 256.0, 2.0, 10.0).unwrap();
        assert!(
            (a.0 - 100.0).abs() < 1e-9 && (a.1 - 126.0).abs() < 1e-9,
            "{a:?}"
        );
    }
}
