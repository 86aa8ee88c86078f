//! The legend, drawn on the CPU into the read-back picture: a panel with the title and the
//! colour ramps of the layers shown, and on maps a scale bar and a north arrow. Text is Noto
//! Sans through [`super::text`], so Vietnamese names keep their marks.

use super::colour;
use super::text::{self, Style};
use super::{Image, MapView, Scene};

const INK: [u8; 3] = [28, 28, 32];
const PAPER: [u8; 3] = [255, 255, 255];
const PAPER_ALPHA: f64 = 0.86;

fn rect(img: &mut Image, x: i64, y: i64, w: i64, h: i64, c: [u8; 3], alpha: f64) {
    for yy in y..y + h {
        for xx in x..x + w {
            text::blend(img, xx, yy, c, alpha);
        }
    }
}

/// The legend's text style at picture scale `scale` (1, or 2 on large pictures).
fn style(scale: i64, bold: bool) -> Style {
    Style {
        bold,
        px: 12.0 * scale as f32,
    }
}

fn text_width(s: &str, scale: i64) -> i64 {
    text::width(s, style(scale, false)).ceil() as i64
}

fn draw_text(img: &mut Image, x: i64, y: i64, s: &str, scale: i64, c: [u8; 3], bold: bool) {
    text::draw(img, x as f32, y as f32, s, style(scale, bold), c);
}

/// Cut a string to fit `max_w` pixels (with "..." when cut).
fn fit(s: &str, max_w: i64, scale: i64, bold: bool) -> String {
    let st = style(scale, bold);
    if text::width(s, st) <= max_w as f32 {
        return s.to_string();
    }
    let chars: Vec<char> = s.chars().collect();
    let mut n = chars.len();
    while n > 0 {
        n -= 1;
        let cut: String = chars[..n].iter().collect::<String>() + "...";
        if text::width(&cut, st) <= max_w as f32 {
            return cut;
        }
    }
    "...".into()
}

fn over(c: [u8; 4], bg: [u8; 3]) -> [u8; 3] {
    let a = f64::from(c[3]) / 255.0;
    [0, 1, 2].map(|k| (f64::from(c[k]) * a + f64::from(bg[k]) * (1.0 - a)).round() as u8)
}

fn duration(t: f64) -> String {
    let s = t.max(0.0).round() as u64;
    match (s / 3600, (s % 3600) / 60, s % 60) {
        (h, 0, 0) => format!("{h} h"),
        (h, m, 0) if h > 0 => format!("{h} h {m:02} min"),
        (0, m, 0) => format!("{m} min"),
        _ => format!("{s} s"),
    }
}

enum Item {
    Title(String),
    Text(String),
    /// A 0 .. 3 m ramp; `dry`: with a "dry" swatch in front (buildings).
    Ramp {
        colour: fn(f64) -> [u8; 3],
        dry: bool,
    },
    Swatches(Vec<([u8; 3], String)>),
}

fn water_ramp(d: f64) -> [u8; 3] {
    over(colour::water_colour(d), colour::MAP_BACKGROUND)
}

fn building_ramp(d: f64) -> [u8; 3] {
    colour::building_colour(Some(d.max(colour::WET_THRESHOLD_M)), 0.0)
}

/// Draw the legend panel (bottom left); on maps the scale bar and north arrow; on perspective
/// views with a scale at the image centre (`centre_mpp`, ground metres per pixel there,
/// [`super::centre_scale`]) a scale bar for it, captioned "scale at image centre".
pub(crate) fn draw(img: &mut Image, scene: &Scene, map: Option<&MapView>, centre_mpp: Option<f64>) {
    let s: i64 = if img.height >= 700 { 2 } else { 1 };
    let (u, pad, margin) = (8 * s, 6 * s, 8 * s);
    let lh = text::line_height(style(s, true)).ceil() as i64 + s;
    let ramp_w = 150 * s;
    let (w, h) = (i64::from(img.width), i64::from(img.height));
    let mut items = vec![Item::Title(scene.title.clone())];
    if let Some(f) = &scene.flood {
        if scene.layers.water {
            items.push(Item::Text(match f.time_s {
                None => "Water depth (m), largest".into(),
                Some(t) => format!("Water depth (m) at {}", duration(t)),
            }));
            if f.classes.is_empty() {
                items.push(Item::Ramp {
                    colour: water_ramp,
                    dry: false,
                });
            } else {
                let mut classes: Vec<_> = f.classes.iter().collect();
                classes.sort_by(|a, b| a.min_m.total_cmp(&b.min_m));
                items.push(Item::Swatches(
                    classes
                        .iter()
                        .map(|c| (c.colour, c.label.clone()))
                        .collect(),
                ));
            }
        }
        if scene.layers.buildings {
            items.push(Item::Text("Buildings: largest depth (m)".into()));
            items.push(Item::Ramp {
                colour: building_ramp,
                dry: true,
            });
        }
    }
    if scene.traffic.is_some() && scene.layers.roads {
        items.push(Item::Text("Roads: volume / capacity".into()));
        items.push(Item::Swatches(
            [
                (colour::ROAD_FREE, "<0.6"),
                (colour::ROAD_BUSY, "0.6-0.9"),
                (colour::ROAD_CONGESTED, ">0.9"),
                (colour::ROAD_CLOSED, "closed"),
            ]
            .map(|(c, l)| (c, l.to_string()))
            .into(),
        ));
    }
    let dry_w = text_width("dry", s) + u + 4 * s;
    let content_w = items
        .iter()
        .map(|it| match it {
            Item::Title(t) | Item::Text(t) => text::width(t, style(s, true)).ceil() as i64 + s,
            Item::Ramp { dry, .. } => ramp_w + if *dry { dry_w } else { 0 } + u,
            Item::Swatches(v) => v
                .iter()
                .map(|(_, l)| u + 3 * s + text_width(l, s) + 6 * s)
                .sum(),
        })
        .max()
        .unwrap_or(0);
    let panel_w = (content_w + 2 * pad).min(w - 2 * margin);
    let max_w = panel_w - 2 * pad;
    let item_h = |it: &Item| match it {
        Item::Title(_) => lh + 2 * s,
        Item::Text(_) => lh,
        Item::Ramp { .. } => u + 2 * s + lh + 2 * s,
        Item::Swatches(_) => lh + 2 * s,
    };
    let panel_h = items.iter().map(item_h).sum::<i64>() + 2 * pad;
    let (px, py) = (margin, h - margin - panel_h);
    rect(img, px, py, panel_w, panel_h, PAPER, PAPER_ALPHA);
    let mut y = py + pad;
    let x = px + pad;
    for it in &items {
        match it {
            Item::Title(t) => draw_text(img, x, y, &fit(t, max_w, s, true), s, INK, true),
            Item::Text(t) => draw_text(img, x, y, &fit(t, max_w, s, false), s, INK, false),
            Item::Ramp { colour, dry } => {
                let mut x0 = x;
                if *dry {
                    rect(img, x0, y, u, u, colour::BUILDING_DRY, 1.0);
                    draw_text(img, x0 + u + 2 * s, y - 3 * s, "dry", s, INK, false);
                    x0 += dry_w;
                }
                for i in 0..ramp_w {
                    let d = colour::DEPTH_RAMP_MAX_M * i as f64 / (ramp_w - 1) as f64;
                    rect(img, x0 + i, y, 1, u, colour(d), 1.0);
                }
                for (k, label) in ["0", "1", "2", "3+"].iter().enumerate() {
                    let tx = x0 + (ramp_w - 1) * k as i64 / 3;
                    rect(img, tx, y + u, s, 2 * s, INK, 1.0);
                    let lw = text_width(label, s);
                    let lx = (tx - lw / 2).clamp(x0, x0 + ramp_w - lw + 2 * u);
                    draw_text(img, lx, y + u + s, label, s, INK, false);
                }
            }
            Item::Swatches(v) => {
                let mut x0 = x;
                for (c, label) in v {
                    rect(img, x0, y, u, u, *c, 1.0);
                    draw_text(img, x0 + u + 3 * s, y - 3 * s, label, s, INK, false);
                    x0 += u + 3 * s + text_width(label, s) + 6 * s;
                }
            }
        }
        y += item_h(it);
    }
    if let Some(v) = map {
        scale_bar(img, v.metres_per_pixel, None, s);
        north_arrow(img, s);
    } else if let Some(mpp) = centre_mpp {
        scale_bar(img, mpp, Some("scale at image centre"), s);
    }
}

/// The scale bar's round length (metres): the largest 1-2-5 step up to a fifth of the
/// picture's width at `metres_per_pixel`.
pub fn scale_bar_length_m(width: u32, metres_per_pixel: f64) -> f64 {
    let target = f64::from(width) * metres_per_pixel / 5.0;
    [
        1.0, 2.0, 5.0, 10.0, 20.0, 50.0, 100.0, 200.0, 500.0, 1000.0, 2000.0, 5000.0, 10000.0,
        20000.0, 50000.0, 100000.0,
    ]
    .into_iter()
    .rfind(|&l| l <= target)
    .unwrap_or(1.0)
}

/// A scale bar of a round length about a fifth of the picture wide, bottom right, with an
/// optional caption under it.
fn scale_bar(img: &mut Image, metres_per_pixel: f64, caption: Option<&str>, s: i64) {
    let (w, h) = (i64::from(img.width), i64::from(img.height));
    let len = scale_bar_length_m(img.width, metres_per_pixel);
    let bar = (len / metres_per_pixel).round() as i64;
    let label = if len >= 1000.0 {
        format!("{} km", len / 1000.0)
    } else {
        format!("{len} m")
    };
    let margin = 8 * s;
    let cap_w = caption.map_or(0, |c| text_width(c, s));
    let cap_h = if caption.is_some() { 12 * s } else { 0 };
    let box_w = bar.max(text_width(&label, s)).max(cap_w) + 12 * s;
    let box_h = 8 * s + 4 * s + 4 * s + 10 * s + cap_h;
    let (bx, by) = (w - margin - box_w, h - margin - box_h);
    rect(img, bx, by, box_w, box_h, PAPER, PAPER_ALPHA);
    if let Some(c) = caption {
        draw_text(
            img,
            bx + (box_w - cap_w) / 2,
            by + box_h - cap_h - 2 * s,
            c,
            s,
            INK,
            false,
        );
    }
    let x0 = bx + (box_w - bar) / 2;
    let lw = text_width(&label, s);
    draw_text(img, bx + (box_w - lw) / 2, by + s, &label, s, INK, false);
    let yb = by + 4 * s + 8 * s + 5 * s;
    rect(img, x0, yb, bar, 3 * s, INK, 1.0);
    rect(img, x0, yb - 3 * s, s.max(2), 6 * s, INK, 1.0);
    rect(
        img,
        x0 + bar - s.max(2),
        yb - 3 * s,
        s.max(2),
        6 * s,
        INK,
        1.0,
    );
}

/// "N" under an arrow pointing up, top right.
fn north_arrow(img: &mut Image, s: i64) {
    let w = i64::from(img.width);
    let margin = 8 * s;
    let (aw, ah) = (12 * s, 14 * s);
    let box_w = aw + 8 * s;
    let box_h = ah + 8 * s + 10 * s;
    let (bx, by) = (w - margin - box_w, margin);
    rect(img, bx, by, box_w, box_h, PAPER, PAPER_ALPHA);
    let cx = bx + box_w / 2;
    for k in 0..ah {
        let half = (k * aw / 2) / ah;
        rect(img, cx - half, by + 4 * s + k, 2 * half + 1, 1, INK, 1.0);
    }
    let nw = text::width("N", style(s, true)).ceil() as i64;
    draw_text(img, cx - nw / 2, by + 4 * s + ah, "N", s, INK, true);
}
