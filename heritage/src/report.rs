//! The permit report of a proposal: one self-contained HTML page (no outside resources) with
//! the proposal's name and footprint, the verdict table (rule, outcome, value, limit, numbers),
//! the rules cited from the twin's rules file (zones with their kind, height limit, setback and
//! roofs; protected views with their assessment point, landmark and threshold plane) and a map:
//! an inline SVG drawn from the twin's buildings, heritage zones, the protected sightlines and
//! the proposal (highlighted), top-down in the twin's project CRS. The PDF is printed from this
//! page by the caller (`twin heritage report`, through headless Chromium). Also the monument
//! flood exposure report ([`exposure_html`], `twin heritage exposure --out`).

use crate::check::{Outcome, SightlineCast, Verdict};
use crate::rules::{Rules, ZoneKind};
use geo::{BoundingRect, Coord, MultiPolygon, Rect};
use std::fmt::Write;
use twin_core::Twin;

/// The most buildings drawn on the map (the nearest to the proposal's box are kept).
pub const MAX_MAP_BUILDINGS: usize = 20_000;
/// The margin around the proposal on the map, m.
pub const MAP_MARGIN_M: f64 = 300.0;
/// The map's width in SVG units (px).
const MAP_W: f64 = 900.0;

/// The reports' inline style sheet (screen and print).
const STYLE: &str = "body{font-family:sans-serif;margin:2em;color:#222}table{border-collapse:collapse;margin:0.5em 0 1.5em}td,th{border:1px solid #999;padding:3px 6px;font-size:12px;text-align:left;vertical-align:top}td.n{text-align:right}.fail{color:#b00;font-weight:bold}.pass{color:#070}.verdict{font-size:1.6em;font-weight:bold}.REFUSED{color:#b00}.PERMITTED{color:#070}svg{border:1px solid #999;width:100%;height:auto}@media print{body{margin:0}h2{break-before:auto}}";

/// Escapes text for HTML element content and attribute values.
fn esc(s: &str) -> String {
    let mut o = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => o.push_str("&amp;"),
            '<' => o.push_str("&lt;"),
            '>' => o.push_str("&gt;"),
            '"' => o.push_str("&quot;"),
            '\'' => o.push_str("&#39;"),
            c => o.push(c),
        }
    }
    o
}

fn num(v: Option<f64>) -> String {
    v.map(|v| format!("{v:.2}")).unwrap_or_else(|| "–".into())
}

fn kind_name(k: ZoneKind) -> &'static str {
    match k {
        ZoneKind::Core => "core (zone I)",
        ZoneKind::Buffer => "buffer (zone II)",
        ZoneKind::ViewCorridor => "view corridor",
    }
}

/// The word for an outcome in the report (`FAIL` as in the CLI's table).
pub fn outcome_word(o: Outcome) -> &'static str {
    match o {
        Outcome::Pass => "pass",
        Outcome::Fail => "FAIL",
        Outcome::NotAssessed => "n/a",
    }
}

/// The proposal's colour on the reports' maps and pictures.
pub const PROPOSAL_RGB: [u8; 3] = [224, 0, 0];

/// The colour the exposure report's perspective pictures outline their monument in: a
/// magenta that no depth class, building, terrain or sky colour comes near.
pub const EXPOSED_MONUMENT_RGB: [u8; 3] = [236, 0, 236];

/// A sightline's colour on the reports' maps and pictures, by status: red where the proposal
/// blocks it, grey where it is blocked already, green when clear.
pub fn sightline_rgb(c: &SightlineCast) -> [u8; 3] {
    if c.proposal_blocks_at.is_some() {
        [221, 0, 0]
    } else if c.blocked_at.is_some() {
        [119, 119, 119]
    } else {
        [26, 143, 58]
    }
}

/// The map's frame: the proposal's box plus a margin, square, at least 600 m across (the SVG
/// map's, and the one rendered pictures of the proposal should show).
pub fn frame(verdict: &Verdict) -> Rect<f64> {
    let fp = verdict
        .proposal
        .footprint
        .bounding_rect()
        .unwrap_or(Rect::new((0.0, 0.0), (1.0, 1.0)));
    let c = fp.center();
    let half = (fp.width().max(fp.height()) / 2.0 + MAP_MARGIN_M).max(300.0);
    Rect::new((c.x - half, c.y - half), (c.x + half, c.y + half))
}

fn path_of(mp: &MultiPolygon<f64>, f: &Rect<f64>, s: f64) -> String {
    let mut d = String::new();
    let px = |c: &Coord<f64>| ((c.x - f.min().x) * s, (f.max().y - c.y) * s);
    for p in &mp.0 {
        for ring in std::iter::once(p.exterior()).chain(p.interiors()) {
            for (k, c) in ring.0.iter().enumerate() {
                let (x, y) = px(c);
                let _ = write!(d, "{}{x:.1},{y:.1}", if k == 0 { "M" } else { "L" });
            }
            d.push('Z');
        }
    }
    d
}

/// The top-down SVG map: heritage zones (core red, buffer orange, corridors violet), buildings
/// (grey), the protected sightlines (green when clear, red where the proposal blocks them,
/// grey dashed where already blocked) and the proposal (solid red with a black outline).
pub fn map_svg(twin: &Twin, rules: &Rules, verdict: &Verdict, casts: &[SightlineCast]) -> String {
    let f = frame(verdict);
    let s = MAP_W / f.width();
    let h = f.height() * s;
    let mut o = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 {MAP_W:.0} {h:.0}\" width=\"{MAP_W:.0}\" height=\"{h:.0}\" role=\"img\" aria-label=\"map of the proposal\">\n<rect width=\"100%\" height=\"100%\" fill=\"#f6f4ee\"/>\n"
    );
    let sites = twin.heritage.features();
    for z in &rules.zones {
        let site = &sites[z.index];
        let Some(r) = site.polygon.bounding_rect() else {
            continue;
        };
        if r.max().x < f.min().x
            || r.min().x > f.max().x
            || r.max().y < f.min().y
            || r.min().y > f.max().y
        {
            continue;
        }
        let (fill, stroke) = match z.kind {
            ZoneKind::Core => ("#d9534f33", "#b52b27"),
            ZoneKind::Buffer => ("#f0ad4e22", "#c77c0e"),
            ZoneKind::ViewCorridor => ("#8e44ad22", "#6c3483"),
        };
        let _ = writeln!(
            o,
            "<path class=\"zone\" d=\"{}\" fill=\"{fill}\" stroke=\"{stroke}\" stroke-width=\"1.5\" fill-rule=\"evenodd\"><title>{}</title></path>",
            path_of(&site.polygon, &f, s),
            esc(&format!("{} {}", z.site, z.name.as_deref().unwrap_or("")))
        );
    }
    let frame_poly = MultiPolygon::new(vec![f.to_polygon()]);
    if let Ok(found) = twin.buildings.query_multipolygon(&frame_poly) {
        let b = twin.buildings.features();
        for i in found.into_iter().take(MAX_MAP_BUILDINGS) {
            let _ = writeln!(
                o,
                "<path class=\"building\" d=\"{}\" fill=\"#9a9a9a\" stroke=\"#555\" stroke-width=\"0.4\"/>",
                path_of(&b[i].footprint, &f, s)
            );
        }
    }
    for c in casts {
        let p = |q: [f64; 3]| ((q[0] - f.min().x) * s, (f.max().y - q[1]) * s);
        let (x0, y0) = p(c.from);
        let (x1, y1) = p(c.to);
        let [r, g, b] = sightline_rgb(c);
        let colour = format!("stroke=\"#{r:02x}{g:02x}{b:02x}\"");
        let style = if c.proposal_blocks_at.is_some() {
            format!("{colour} stroke-width=\"2.5\"")
        } else if c.blocked_at.is_some() {
            format!("{colour} stroke-width=\"1\" stroke-dasharray=\"6 4\"")
        } else {
            format!("{colour} stroke-width=\"1.5\"")
        };
        let _ = writeln!(
            o,
            "<line class=\"sightline\" x1=\"{x0:.1}\" y1=\"{y0:.1}\" x2=\"{x1:.1}\" y2=\"{y1:.1}\" {style}><title>{}</title></line>",
            esc(&c.id)
        );
    }
    let _ = writeln!(
        o,
        "<path class=\"proposal\" d=\"{}\" fill=\"#{:02x}{:02x}{:02x}\" stroke=\"#000\" stroke-width=\"2\"/>",
        path_of(&verdict.proposal.footprint, &f, s),
        PROPOSAL_RGB[0],
        PROPOSAL_RGB[1],
        PROPOSAL_RGB[2]
    );
    // A scale bar of 100 m.
    let bar = 100.0 * s;
    let _ = writeln!(
        o,
        "<g class=\"scale\"><rect x=\"10\" y=\"{:.0}\" width=\"{bar:.1}\" height=\"5\" fill=\"#000\"/><text x=\"10\" y=\"{:.0}\" font-size=\"12\">100 m</text></g>\n</svg>",
        h - 15.0,
        h - 20.0
    );
    o
}

/// A picture for a report: a PNG and its caption.
#[derive(Clone, Debug)]
pub struct Picture {
    /// What it shows.
    pub caption: String,
    /// The PNG file's bytes (embedded in the page as a data URI).
    pub png: Vec<u8>,
    /// For a top-down map, the area it shows: xmin, ymin, xmax, ymax in the twin's project CRS
    /// (the picture's edges; written into the page as the figure's `data-frame`).
    pub frame: Option<[f64; 4]>,
}

/// The figure's `data-frame` attribute of a map picture (empty for other pictures).
fn frame_attr(p: &Picture) -> String {
    p.frame
        .map(|f| {
            format!(
                " data-frame=\"{:.3} {:.3} {:.3} {:.3}\"",
                f[0], f[1], f[2], f[3]
            )
        })
        .unwrap_or_default()
}

/// The permit report of `verdict` as one self-contained HTML page (inline CSS, SVG and the
/// `pictures` as data URIs). `casts` are the sightlines cast with the proposal
/// ([`crate::check::cast_sightlines`]).
pub fn report_html(
    twin: &Twin,
    rules: &Rules,
    verdict: &Verdict,
    casts: &[SightlineCast],
    pictures: &[Picture],
) -> String {
    let p = &verdict.proposal;
    let name = p.name.as_deref().unwrap_or("(unnamed proposal)");
    let word = if verdict.permitted {
        "PERMITTED"
    } else {
        "REFUSED"
    };
    let mut o = String::new();
    let _ = write!(
        o,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>Heritage permit report: {n}</title>\n<style>\n{style}\n</style></head><body>\n<h1>Heritage permit report</h1>\n<p>Twin <b>{t}</b> (CRS {crs}). Proposal <b class=\"proposal-name\">{n}</b>.</p>\n<p class=\"verdict {word}\">Verdict: {word}</p>\n",
        n = esc(name),
        style = STYLE,
        t = esc(&twin.name),
        crs = twin.crs.epsg_code().map(|c| format!("EPSG:{c}")).unwrap_or_else(|| "custom".into()),
    );
    o.push_str("<h2>Proposal</h2>\n<table class=\"proposal\">");
    let _ = write!(
        o,
        "<tr><th>height</th><td class=\"n\">{:.2} m ({})</td></tr><tr><th>roof</th><td>{}</td></tr><tr><th>ground (base)</th><td class=\"n\">{:.2} m</td></tr><tr><th>top</th><td class=\"n\">{:.2} m</td></tr><tr><th>footprint area</th><td class=\"n\">{:.0} m²</td></tr>",
        p.height_m,
        esc(&p.height_from),
        esc(p.roof.as_deref().unwrap_or("not given")),
        p.base_m,
        verdict.top_m,
        verdict.area_m2
    );
    let ring: Vec<String> = p
        .footprint
        .0
        .iter()
        .flat_map(|poly| poly.exterior().0.iter())
        .map(|c| format!("({:.1}, {:.1})", c.x, c.y))
        .collect();
    let _ = writeln!(
        o,
        "<tr><th>footprint (project CRS)</th><td>{}</td></tr></table>",
        esc(&ring.join(" "))
    );
    o.push_str("<h2>Verdict per rule</h2>\n<table class=\"verdict-table\"><tr><th>rule</th><th>under</th><th>outcome</th><th>value</th><th>limit</th><th>detail</th></tr>\n");
    for r in &verdict.rules {
        let cls = match r.outcome {
            Outcome::Fail => "fail",
            Outcome::Pass => "pass",
            Outcome::NotAssessed => "na",
        };
        let _ = writeln!(
            o,
            "<tr class=\"rule\"><td>{}</td><td>{}</td><td class=\"{cls}\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td>{}</td></tr>",
            esc(r.rule),
            esc(&r.under),
            outcome_word(r.outcome),
            num(r.value),
            num(r.limit),
            esc(&r.detail)
        );
    }
    o.push_str("</table>\n<h2>Rules cited</h2>\n");
    let _ = writeln!(
        o,
        "<p>From the twin's <code>heritage_rules.toml</code>: storey height {:.2} m; Earth curvature and refraction coefficient {:.5} (the threshold plane is lowered by cc·d²/(2a), a = 6 378 137 m).</p>",
        rules.file.storey_height_m, rules.file.curvature_coefficient
    );
    o.push_str("<table class=\"zones\"><tr><th>zone</th><th>name</th><th>kind</th><th>height limit</th><th>setback</th><th>roofs</th></tr>\n");
    for z in &verdict.zones {
        let rz = rules.zones.iter().find(|r| r.site == z.site);
        let _ = writeln!(
            o,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td>{}</td></tr>",
            esc(&z.site),
            esc(z.name.as_deref().unwrap_or("")),
            kind_name(z.kind),
            z.height_limit_m.map(|l| format!("{l:.2} m")).unwrap_or_else(|| "–".into()),
            rz.and_then(|r| r.setback_m).map(|l| format!("{l:.2} m")).unwrap_or_else(|| "–".into()),
            esc(&rz.map(|r| r.roofs.join(", ")).unwrap_or_default())
        );
    }
    if verdict.zones.is_empty() {
        o.push_str("<tr><td colspan=\"6\">The proposal lies in no protection zone.</td></tr>\n");
    }
    o.push_str("</table>\n");
    let cited: Vec<_> = rules
        .views
        .iter()
        .filter(|v| {
            verdict.rules.iter().any(|r| r.under.contains(&v.rule.id))
                || verdict.zones.iter().any(|z| z.site == v.rule.corridor)
        })
        .collect();
    if !cited.is_empty() {
        o.push_str("<table class=\"views\"><tr><th>protected view</th><th>corridor</th><th>assessment point</th><th>landmark</th><th>threshold plane</th></tr>\n");
        for v in cited {
            let a = &v.rule.assessment;
            let l = &v.rule.landmark;
            let pl = &v.plane;
            let _ = writeln!(
                o,
                "<tr class=\"view\"><td>{} ({})</td><td>{}</td><td>{} at {:.5}, {:.5}; eye {} m above the ground</td><td>{} at {:.5}, {:.5}; protected height {} m above the ground</td><td>from ({:.1}, {:.1}) at {:.2} m to ({:.1}, {:.1}) at {:.2} m (orthometric), cc {:.5}</td></tr>",
                esc(&v.rule.name),
                esc(&v.rule.id),
                esc(&v.rule.corridor),
                esc(a.name.as_deref().unwrap_or("")),
                a.lon,
                a.lat,
                num(a.eye_height_m),
                esc(l.name.as_deref().unwrap_or("")),
                l.lon,
                l.lat,
                num(l.height_m),
                pl.from[0],
                pl.from[1],
                pl.from_z,
                pl.to[0],
                pl.to[1],
                pl.to_z,
                pl.cc
            );
        }
        o.push_str("</table>\n");
    }
    o.push_str("<h2>Map</h2>\n<p>Top-down, drawn from the twin's data (SVG): heritage zones (core red, buffer orange, view corridors violet), buildings grey, the proposal solid red; protected sightlines green when clear, thick red where the proposal blocks them, grey dashed where already blocked.</p>\n");
    o.push_str(&map_svg(twin, rules, verdict, casts));
    if !pictures.is_empty() {
        o.push_str("\n<h2>Pictures</h2>\n");
    }
    for p in pictures {
        use base64::Engine;
        let _ = writeln!(
            o,
            "<figure class=\"picture\"{}><img alt=\"{c}\" style=\"width:100%\" src=\"data:image/png;base64,{}\"><figcaption>{c}</figcaption></figure>",
            frame_attr(p),
            base64::engine::general_purpose::STANDARD.encode(&p.png),
            c = esc(&p.caption)
        );
    }
    o.push_str("\n</body></html>\n");
    o
}

/// The monuments drawn in the exposure report's ranking chart (the most exposed first).
pub const CHART_MONUMENTS: usize = 25;

/// The monument flood exposure report of a twin (`twin_name`) as one self-contained HTML page:
/// how depths are read, the runs, a bar chart of the most exposed monuments (largest depth over
/// all runs), the ranking table, then one section per run (scenario) with its pictures (from
/// `pictures`, by the run's index in [`crate::exposure::ExposureTable::runs`]; none where the
/// list is empty or missing: a picture with a [`Picture::frame`] is a map, figure class
/// `run-map`, one without a perspective view, `run-view`) and its monuments, the wettest
/// first: largest depth, hours wet, hours above the hazard depth, first wet time, and where the
/// floor level is known the depth and hours above the floor.
pub fn exposure_html(
    twin_name: &str,
    t: &crate::exposure::ExposureTable,
    pictures: &[Vec<Picture>],
) -> String {
    let h = |v: f64| format!("{v:.1}");
    let mut o = String::new();
    let _ = write!(
        o,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>Monument flood exposure: {t}</title>\n<style>\n{STYLE}\n</style></head><body>\n<h1>Monument flood exposure</h1>\n<p>Twin <b>{t}</b>: {m} monuments across {r} finished flood runs.</p>\n<p>Depths are read on each monument's own ground: the cells of the run's depth grid inside the monument's polygon, the twin's water bodies (moats, river, lakes) inside it left out. Hours wet: the longest time one of those cells stayed wet; hours above hazard: the same above the run's hazard depth; first wet: hours from the run's start, a dash when it stayed dry. A run's table leaves out the monuments its grid does not reach.</p>\n<p>Floor: the height of a monument's floor or plinth above its ground where the heritage layer gives one (<code>floor_m</code>); above floor: the largest depth less the floor (0 when the water stayed below it); hours above floor: the longest time one of its cells stayed deeper than the floor, read from the run's depth snapshots (one per output time, the depth taken as linear between two), so a peak between two outputs can be missed; a dash where the floor is not known or the run kept no snapshots.</p>\n",
        t = esc(twin_name),
        m = t.monuments.len(),
        r = t.runs.len(),
    );
    o.push_str(
        "<h2>Runs</h2>\n<table class=\"runs\"><tr><th>#</th><th>scenario</th><th>run</th></tr>\n",
    );
    for (k, r) in t.runs.iter().enumerate() {
        let _ = writeln!(
            o,
            "<tr class=\"run\"><td class=\"n\">{}</td><td>{}</td><td>{}</td></tr>",
            k + 1,
            esc(&r.name),
            esc(&r.id)
        );
    }
    o.push_str("</table>\n");
    // The chart: a bar per monument, length by its largest depth over all runs.
    let shown: Vec<&crate::exposure::MonumentRow> = t
        .monuments
        .iter()
        .filter(|m| m.worst_depth_m > 0.0)
        .take(CHART_MONUMENTS)
        .collect();
    if !shown.is_empty() {
        let top = shown[0].worst_depth_m.max(1e-9);
        let (label_w, bar_w, row_h) = (300.0, 520.0, 20.0);
        let height = row_h * shown.len() as f64 + 30.0;
        let _ = write!(
            o,
            "<h2>The most exposed monuments</h2>\n<svg class=\"chart\" xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 900 {height:.0}\" font-family=\"sans-serif\" font-size=\"12\">\n"
        );
        for (i, m) in shown.iter().enumerate() {
            let y = 10.0 + row_h * i as f64;
            let w = bar_w * m.worst_depth_m / top;
            let _ = writeln!(
                o,
                "<text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\">{}</text><rect class=\"bar\" x=\"{label_w:.1}\" y=\"{:.1}\" width=\"{w:.1}\" height=\"{:.1}\" fill=\"#2166ac\"/><text x=\"{:.1}\" y=\"{:.1}\">{:.2} m</text>",
                label_w - 6.0,
                y + 13.0,
                esc(m.name.as_deref().unwrap_or(&m.site)),
                y + 2.0,
                row_h - 4.0,
                label_w + w + 4.0,
                y + 13.0,
                m.worst_depth_m
            );
        }
        let _ = writeln!(
            o,
            "<text x=\"{label_w:.1}\" y=\"{:.1}\" fill=\"#555\">largest depth over all runs (m); {} of {} monuments wet</text></svg>",
            height - 6.0,
            t.monuments.iter().filter(|m| m.worst_depth_m > 0.0).count(),
            t.monuments.len()
        );
    }
    o.push_str("<h2>Ranking</h2>\n<table class=\"ranking\"><tr><th>rank</th><th>monument</th><th>site</th><th>zone</th><th>floor m</th><th>largest depth m</th></tr>\n");
    for m in &t.monuments {
        let _ = writeln!(
            o,
            "<tr class=\"monument\"><td class=\"n\">{}</td><td>{}</td><td>{}</td><td>{}</td><td class=\"n\">{}</td><td class=\"n\">{:.2}</td></tr>",
            m.rank,
            esc(m.name.as_deref().unwrap_or("")),
            esc(&m.site),
            esc(m.zone.as_deref().unwrap_or("–")),
            num(m.floor_m),
            m.worst_depth_m
        );
    }
    o.push_str("</table>\n");
    for (k, r) in t.runs.iter().enumerate() {
        let _ = writeln!(
            o,
            "<h2>Run {}: {}</h2>\n<p>Run <code>{}</code>.</p>",
            k + 1,
            esc(&r.name),
            esc(&r.id),
        );
        for p in pictures.get(k).into_iter().flatten() {
            use base64::Engine;
            let _ = writeln!(
                o,
                "<figure class=\"picture {}\" data-run=\"{}\"{}><img alt=\"{c}\" style=\"width:100%\" src=\"data:image/png;base64,{}\"><figcaption>{c}</figcaption></figure>",
                if p.frame.is_some() { "run-map" } else { "run-view" },
                esc(&r.id),
                frame_attr(p),
                base64::engine::general_purpose::STANDARD.encode(&p.png),
                c = esc(&p.caption)
            );
        }
        let _ = writeln!(
            o,
            "<table class=\"per-run\" data-run=\"{}\"><tr><th>monument</th><th>site</th><th>largest depth m</th><th>hours wet</th><th>hours above hazard</th><th>first wet h</th><th>floor m</th><th>above floor m</th><th>hours above floor</th></tr>",
            esc(&r.id)
        );
        let mut rows: Vec<(&crate::exposure::MonumentRow, &crate::exposure::Exposure)> = t
            .monuments
            .iter()
            .filter_map(|m| m.runs.get(k).and_then(|e| e.as_ref()).map(|e| (m, e)))
            .collect();
        rows.sort_by(|a, b| {
            b.1.max_depth_m
                .total_cmp(&a.1.max_depth_m)
                .then(a.0.site.cmp(&b.0.site))
        });
        for (m, e) in rows {
            let _ = writeln!(
                o,
                "<tr class=\"exposure\"><td>{}</td><td>{}</td><td class=\"n\">{:.2}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td></tr>",
                esc(m.name.as_deref().unwrap_or("")),
                esc(&m.site),
                e.max_depth_m,
                h(e.hours_wet),
                h(e.hours_above_hazard),
                e.first_wet_h.map(h).unwrap_or_else(|| "–".into()),
                num(m.floor_m),
                num(e.above_floor_m),
                e.hours_above_floor.map(h).unwrap_or_else(|| "–".into())
            );
        }
        o.push_str("</table>\n");
    }
    o.push_str("</body></html>\n");
    o
}
