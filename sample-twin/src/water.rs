//! Water: the Perfume River polygon and the smaller rivers, canals and moats as lines.

use super::facts;
use super::geom::{bbox, in_ring, offsets, seg_dist, spline, Axes, Frame, Grid, P};
use super::{round_ll, Ctx};

/// The Perfume River: its sampled centreline (with half-widths) and its outline.
#[derive(Clone, Debug)]
pub struct River {
    /// Centreline samples and half-widths, upstream first.
    pub samples: Vec<(P, f64)>,
    /// Outline (open ring, counter-clockwise), vertices already rounded to the output precision.
    pub ring: Vec<P>,
    centre: Grid<(P, P, f64, f64)>,
    edges: Grid<(P, P)>,
}

impl River {
    fn new(frame: &Frame) -> River {
        let ctrl: Vec<(P, f64)> = facts::PERFUME_RIVER
            .iter()
            .map(|&(lon, lat, w)| (frame.to_local(lon, lat), w))
            .collect();
        let samples = spline(&ctrl, 40.0);
        let (left, right) = offsets(&samples);
        let mut ring: Vec<P> = right.into_iter().chain(left.into_iter().rev()).collect();
        if super::geom::signed_area(&ring) < 0.0 {
            ring.reverse();
        }
        let ring: Vec<P> = ring.into_iter().map(|q| round_ll(frame, q)).collect();
        let mut centre = Grid::new(150.0);
        for w in samples.windows(2) {
            let (lo, hi) = bbox(&[w[0].0, w[1].0]);
            centre.insert((w[0].0, w[1].0, w[0].1, w[1].1), lo, hi);
        }
        let mut edges = Grid::new(100.0);
        let n = ring.len();
        for i in 0..n {
            let (a, b) = (ring[i], ring[(i + 1) % n]);
            let (lo, hi) = bbox(&[a, b]);
            edges.insert((a, b), lo, hi);
        }
        River {
            samples,
            ring,
            centre,
            edges,
        }
    }

    /// True when `q` is inside the river outline. Points far inside or far outside the band
    /// where the distance from the centreline equals the half-width are decided from that
    /// distance; the others by an exact point-in-polygon test.
    pub fn contains(&self, q: P) -> bool {
        match self.centre_dist(q, 400.0) {
            None => false,
            Some((d, w)) if d < w - 60.0 => true,
            Some((d, w)) if d > w + 60.0 => false,
            _ => in_ring(q, &self.ring),
        }
    }

    /// Distance from `q` to the outline, when it is within `r` (else `r`).
    pub fn edge_dist(&self, q: P, r: f64) -> f64 {
        let mut best = r;
        self.edges
            .for_each_near(q, r, |&(a, b)| best = best.min(seg_dist(q, a, b).0));
        best
    }

    /// Distance from `q` to the centreline and the half-width at the nearest point, when the
    /// centreline is within `r`.
    pub fn centre_dist(&self, q: P, r: f64) -> Option<(f64, f64)> {
        // search outwards so that near points look at few buckets
        let mut radius = 160.0_f64.min(r);
        loop {
            let mut best: Option<(f64, f64)> = None;
            self.centre.for_each_near(q, radius, |&(a, b, wa, wb)| {
                let (d, t) = seg_dist(q, a, b);
                if best.is_none_or(|(bd, _)| d < bd) {
                    best = Some((d, wa + (wb - wa) * t));
                }
            });
            if let Some(b) = best.filter(|(d, _)| *d <= radius) {
                return Some(b);
            }
            if radius >= r {
                return None;
            }
            radius = (radius * 2.0).min(r);
        }
    }

    /// Signed clearance from the river: negative inside, else the distance to the outline
    /// (capped at `r`).
    pub fn clearance(&self, q: P, r: f64) -> f64 {
        if self.contains(q) {
            -self.edge_dist(q, r)
        } else {
            self.edge_dist(q, r)
        }
    }
}

/// A river, canal or moat drawn as a centreline.
#[derive(Clone, Debug)]
pub struct WaterLine {
    /// Bounding box of the centreline (min, max).
    pub bbox: (P, P),
    /// Feature id.
    pub id: &'static str,
    /// Name.
    pub name: &'static str,
    /// `waterway` tag: `river` or `canal`.
    pub waterway: &'static str,
    /// Centreline in local metres (closed lines repeat the first point).
    pub pts: Vec<P>,
    /// Half-width of the channel, metres (used for the DEM, bridges and building clearance).
    pub half_width: f64,
    /// Bed elevation, metres.
    pub bed: f64,
}

/// A lake.
#[derive(Clone, Debug)]
pub struct Lake {
    /// Feature id.
    pub id: &'static str,
    /// Name.
    pub name: &'static str,
    /// Outline (open ring, counter-clockwise).
    pub ring: Vec<P>,
}

/// All water of the sample.
#[derive(Clone, Debug)]
pub struct Water {
    /// The Perfume River.
    pub river: River,
    /// Rivers, canals and moats as lines.
    pub lines: Vec<WaterLine>,
    /// Lakes.
    pub lakes: Vec<Lake>,
}

impl Water {
    /// Distance from `q` to the nearest water line's bank (centreline distance minus half-width).
    pub fn line_clearance(&self, q: P) -> f64 {
        self.lines
            .iter()
            .map(|l| super::geom::polyline_dist(q, &l.pts) - l.half_width)
            .fold(f64::INFINITY, f64::min)
    }
}

fn wl(
    id: &'static str,
    name: &'static str,
    waterway: &'static str,
    pts: Vec<P>,
    half_width: f64,
    bed: f64,
) -> WaterLine {
    WaterLine {
        bbox: bbox(&pts),
        id,
        name,
        waterway,
        pts,
        half_width,
        bed,
    }
}

/// The citadel's moat (Hộ Thành Hà): the wall line pushed out by 45 m, detouring round the
/// Flag Tower's bastion on the river front.
fn moat(ctx: &Ctx) -> Vec<P> {
    let a = &ctx.axes;
    let ring = super::geom::offset_ring(&ctx.wall, 45.0);
    // The front (river) side runs from the south corner (index 0) to the east corner (index 5);
    // insert the detour between the Quảng Đức (2) and Ngăn (3) vertices.
    let mut out = Vec::new();
    for (i, q) in ring.iter().enumerate() {
        out.push(*q);
        if i == 2 {
            let (u2, _) = a.uv(ring[2]);
            let (u3, _) = a.uv(ring[3]);
            let ub = (u2 + u3) / 2.0;
            out.extend([
                a.at(ub, -80.0),
                a.at(ub + 75.0, -60.0),
                a.at(ub + 75.0, 60.0),
                a.at(ub, 80.0),
            ]);
        }
    }
    out.push(out[0]);
    out
}

fn uvline(a: &Axes, pts: &[(f64, f64)]) -> Vec<P> {
    pts.iter().map(|&(u, v)| a.at(u, v)).collect()
}

fn llline(f: &Frame, pts: &[(f64, f64)]) -> Vec<P> {
    pts.iter().map(|&(lon, lat)| f.to_local(lon, lat)).collect()
}

/// Build the water of the sample.
pub fn build(ctx: &Ctx) -> Water {
    let f = &ctx.frame;
    let a = &ctx.axes;
    let river = River::new(f);
    let mut ic_moat = super::geom::offset_ring(&ctx.imperial_city, 25.0);
    ic_moat.push(ic_moat[0]);
    let mut dong_ba = llline(f, &[(107.5908, 16.4740), (107.5890, 16.4745)]);
    dong_ba.extend(uvline(a, &[(-100.0, 1262.0), (-2350.0, 1262.0)]));
    dong_ba.push(f.to_local(107.5790, 16.4960));
    let lines = vec![
        wl("ho-thanh-ha", "Hộ Thành Hà", "canal", moat(ctx), 18.0, -1.5),
        wl(
            "ngoai-kim-thuy",
            "Hồ Ngoại Kim Thủy",
            "canal",
            ic_moat,
            9.0,
            -0.5,
        ),
        wl(
            "ngu-ha",
            "Ngự Hà",
            "canal",
            uvline(
                a,
                &[
                    (-1000.0, -1107.0),
                    (-1000.0, -40.0),
                    (-1590.0, -40.0),
                    (-1590.0, 790.0),
                    (-1190.0, 790.0),
                    (-1190.0, 1087.0),
                ],
            ),
            10.0,
            -1.0,
        ),
        wl(
            "an-cuu",
            "Sông An Cựu",
            "river",
            llline(
                f,
                &[
                    (107.5762, 16.4600),
                    (107.5785, 16.4577),
                    (107.5810, 16.4565),
                    (107.5850, 16.4556),
                    (107.5900, 16.4556),
                    (107.5950, 16.4561),
                    (107.6000, 16.4566),
                    (107.6050, 16.4546),
                    (107.6100, 16.4522),
                    (107.6150, 16.4505),
                    (107.6200, 16.4490),
                ],
            ),
            18.0,
            -2.0,
        ),
        wl("dong-ba", "Sông Đông Ba", "river", dong_ba, 16.0, -1.5),
        wl(
            "nhu-y",
            "Sông Như Ý",
            "river",
            llline(
                f,
                &[
                    (107.5935, 16.4737),
                    (107.5966, 16.4734),
                    (107.5986, 16.4722),
                    (107.6004, 16.4708),
                    (107.6030, 16.4703),
                    (107.6060, 16.4724),
                    (107.6100, 16.4745),
                    (107.6150, 16.4740),
                    (107.6200, 16.4735),
                ],
            ),
            18.0,
            -2.0,
        ),
        wl(
            "ta-trach",
            "Sông Tả Trạch",
            "river",
            llline(
                f,
                &[
                    (107.5770, 16.3890),
                    (107.5800, 16.3860),
                    (107.5850, 16.3820),
                    (107.5900, 16.3790),
                    (107.5940, 16.3778),
                    (107.5975, 16.3785),
                    (107.6010, 16.3765),
                    (107.6040, 16.3720),
                    (107.6055, 16.3685),
                ],
            ),
            55.0,
            -3.0,
        ),
        wl(
            "huu-trach",
            "Sông Hữu Trạch",
            "river",
            llline(
                f,
                &[
                    (107.5769, 16.3890),
                    (107.5745, 16.3855),
                    (107.5715, 16.3820),
                    (107.5690, 16.3790),
                    (107.5672, 16.3740),
                    (107.5665, 16.3695),
                ],
            ),
            45.0,
            -3.0,
        ),
    ];
    let lakes = vec![Lake {
        id: "ho-tinh-tam",
        name: "Hồ Tịnh Tâm",
        ring: a.rect(-1150.0, -1000.0, 190.0, 540.0),
    }];
    Water {
        river,
        lines,
        lakes,
    }
}
