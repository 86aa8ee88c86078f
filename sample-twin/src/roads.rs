//! The road network: major roads drawn from public facts, street grids generated inside the
//! wards, all split at their crossings so that links meet at shared vertices; short bridges are
//! cut out where a road crosses a canal or a small river.

use super::facts::{NGUYEN_HOANG, PHU_XUAN, TRUONG_TIEN};
use super::geom::{
    bbox, clip_segment, length, offset_ring, p, polyline_dist, seg_dist, seg_intersect, P,
};
use super::water::Water;
use super::Ctx;
use twin_core::error::{Result, TwinError};

/// A road as drawn, before it is split into links.
#[derive(Clone, Debug)]
pub struct Road {
    /// Street name.
    pub name: Option<&'static str>,
    /// OSM `highway` class.
    pub class: &'static str,
    /// Lanes (both directions).
    pub lanes: u32,
    /// Speed limit, km/h.
    pub maxspeed: u32,
    /// One-way in the drawing direction.
    pub oneway: bool,
    /// A bridge over the Perfume River (or another named bridge).
    pub bridge: bool,
    /// Centreline, local metres.
    pub pts: Vec<P>,
}

/// A road link between two junctions (or a junction and a dead end).
#[derive(Clone, Debug)]
pub struct Link {
    /// Attributes of the road it belongs to (`bridge` set on bridge links).
    pub road: Road,
}

impl Link {
    /// Half the carriageway width, metres (1.75 m per lane plus a 1.5 m shoulder).
    pub fn half_width(&self) -> f64 {
        self.road.lanes as f64 * 1.75 + 1.5
    }
}

fn road(
    name: Option<&'static str>,
    class: &'static str,
    lanes: u32,
    maxspeed: u32,
    pts: Vec<P>,
) -> Road {
    Road {
        name,
        class,
        lanes,
        maxspeed,
        oneway: false,
        bridge: false,
        pts,
    }
}

fn bridge(name: &'static str, class: &'static str, lanes: u32, maxspeed: u32, pts: Vec<P>) -> Road {
    Road {
        bridge: true,
        ..road(Some(name), class, lanes, maxspeed, pts)
    }
}

/// Minor street names reused in the generated grids (real Huế street names, not placed where
/// the real streets are).
const CITADEL_NAMES: [&str; 6] = [
    "Lê Văn Hưu",
    "Hàn Thuyên",
    "Ngô Đức Kế",
    "Trần Nguyên Hãn",
    "Lương Ngọc Quyến",
    "Phùng Hưng",
];
const SOUTH_NAMES: [&str; 8] = [
    "Bến Nghé",
    "Phạm Ngũ Lão",
    "Chu Văn An",
    "Võ Thị Sáu",
    "Đội Cung",
    "Ngô Quyền",
    "Đống Đa",
    "Nguyễn Trường Tộ",
];
const AN_CUU_NAMES: [&str; 5] = [
    "Phan Bội Châu",
    "Trần Phú",
    "Nguyễn Khoa Chiêm",
    "Hàm Nghi",
    "Phan Đình Phùng",
];

/// Draw every road of the sample (before splitting).
pub fn draw(ctx: &Ctx) -> Vec<Road> {
    let f = &ctx.frame;
    let a = &ctx.axes;
    let ll = |lon: f64, lat: f64| f.to_local(lon, lat);
    let uv = |u: f64, v: f64| a.at(u, v);
    // Lê Duẩn's front stretch runs from the citadel's south corner to the Phú Xuân bridge.
    let le_duan_u = |v: f64| 35.0 + (v + 1190.0) / 1387.0 * 294.0;
    let px_n = ll(PHU_XUAN[0].0, PHU_XUAN[0].1);
    let px_s = ll(PHU_XUAN[1].0, PHU_XUAN[1].1);
    let tt_n = ll(TRUONG_TIEN[0].0, TRUONG_TIEN[0].1);
    let tt_s = ll(TRUONG_TIEN[1].0, TRUONG_TIEN[1].1);
    let thd_end = ll(107.5886, 16.4737);
    let chi_lang_0 = ll(107.5893, 16.4745);
    let station = ll(107.5782, 16.4572);
    let le_loi_nguyen_hue = ll(107.5803, 16.4585);
    let le_loi_end = ll(107.5950, 16.4722);
    let hv_bt = ll(107.5994, 16.4592);
    let bt_n = ll(107.5992, 16.4704);
    let pvd_0 = ll(107.6004, 16.4722);
    let nsc_0 = ll(107.5953, 16.4742);
    let dbp_end = ll(107.5823, 16.4397);
    let citadel_corner = uv(35.0, -1190.0);
    let mm_fork = ll(107.5870, 16.4020);
    let mm_kd = ll(107.5890, 16.4005);
    let tuan_e = ll(107.5782, 16.3937);
    let tuan_w = ll(107.5752, 16.3933);

    let mut r = vec![
        road(
            Some("Lê Duẩn"),
            "primary",
            4,
            50,
            vec![uv(-2345.0, -1190.0), citadel_corner, uv(329.0, 197.0), px_n],
        ),
        road(
            Some("Trần Hưng Đạo"),
            "secondary",
            4,
            40,
            vec![px_n, ll(107.5859, 16.4691), tt_n, thd_end],
        ),
        road(
            Some("Nguyễn Trãi"),
            "secondary",
            2,
            40,
            vec![uv(le_duan_u(-565.0) + 15.0, -565.0), uv(-2345.0, -565.0)],
        ),
        road(
            Some("Đinh Tiên Hoàng"),
            "secondary",
            2,
            40,
            vec![uv(-2345.0, 560.0), uv(340.0, 560.0)],
        ),
        road(
            Some("Tăng Bạt Hổ"),
            "secondary",
            2,
            40,
            vec![uv(-2330.0, -1205.0), uv(-2330.0, 1215.0)],
        ),
        road(
            Some("Huỳnh Thúc Kháng"),
            "secondary",
            2,
            40,
            vec![uv(-2345.0, 1200.0), thd_end],
        ),
        bridge("Cầu Gia Hội", "tertiary", 2, 30, vec![thd_end, chi_lang_0]),
        road(
            Some("Bạch Đằng"),
            "tertiary",
            2,
            30,
            vec![chi_lang_0, uv(-100.0, 1310.0), uv(-2000.0, 1310.0)],
        ),
        road(
            Some("Chi Lăng"),
            "tertiary",
            2,
            30,
            vec![
                chi_lang_0,
                ll(107.5897, 16.4790),
                ll(107.5903, 16.4840),
                ll(107.5907, 16.4895),
                ll(107.5905, 16.4925),
            ],
        ),
        road(
            Some("Đặng Thái Thân"),
            "tertiary",
            2,
            30,
            vec![uv(-648.0, -1205.0), uv(-648.0, 560.0)],
        ),
        road(
            Some("Mai Thúc Loan"),
            "tertiary",
            2,
            30,
            vec![uv(-648.0, 560.0), uv(-648.0, 1215.0)],
        ),
        road(
            None,
            "residential",
            2,
            30,
            vec![uv(-1800.0, -1205.0), uv(-1800.0, 1100.0)],
        ),
        road(
            Some("Lê Huấn"),
            "tertiary",
            2,
            30,
            vec![uv(-648.0, -385.0), uv(300.0, -385.0)],
        ),
        road(
            Some("Đoàn Thị Điểm"),
            "tertiary",
            2,
            30,
            vec![uv(-648.0, 385.0), uv(300.0, 385.0)],
        ),
        road(
            Some("Kim Long"),
            "tertiary",
            2,
            40,
            vec![
                citadel_corner,
                ll(107.5680, 16.4612),
                ll(107.5640, 16.4597),
                ll(107.5600, 16.4580),
                ll(107.5560, 16.4565),
                ll(107.5520, 16.4548),
                ll(107.5490, 16.4543),
                ll(107.5462, 16.4545),
            ],
        ),
        bridge(
            "Cầu Nguyễn Hoàng",
            "secondary",
            4,
            50,
            vec![
                ll(NGUYEN_HOANG[0].0, NGUYEN_HOANG[0].1),
                ll(NGUYEN_HOANG[1].0, NGUYEN_HOANG[1].1),
            ],
        ),
        road(
            Some("Bùi Thị Xuân"),
            "tertiary",
            2,
            40,
            vec![
                station,
                ll(107.5750, 16.4580),
                ll(107.5712, 16.4566),
                ll(107.5650, 16.4548),
                ll(NGUYEN_HOANG[1].0, NGUYEN_HOANG[1].1),
                ll(107.5560, 16.4515),
                ll(107.5520, 16.4500),
            ],
        ),
        bridge(
            "Cầu Dã Viên",
            "secondary",
            4,
            50,
            vec![
                citadel_corner,
                ll(super::facts::DA_VIEN_SOUTH.0, super::facts::DA_VIEN_SOUTH.1),
            ],
        ),
        road(
            Some("Lê Lợi"),
            "secondary",
            2,
            40,
            vec![station, le_loi_nguyen_hue, px_s, tt_s, le_loi_end],
        ),
        bridge("Cầu Phú Xuân", "primary", 4, 50, vec![px_n, px_s]),
        bridge("Cầu Trường Tiền", "secondary", 2, 30, vec![tt_n, tt_s]),
        bridge("Đập Đá", "secondary", 2, 40, vec![le_loi_end, nsc_0]),
        road(
            Some("Hùng Vương"),
            "primary",
            4,
            50,
            vec![
                tt_s,
                ll(107.5921, 16.4660),
                ll(107.5949, 16.4631),
                hv_bt,
                ll(107.6003, 16.4571),
                ll(107.6006, 16.4530),
                ll(107.6010, 16.4480),
            ],
        ),
        road(
            Some("Bà Triệu"),
            "trunk",
            4,
            50,
            vec![
                hv_bt,
                ll(107.5998, 16.4621),
                ll(107.5994, 16.4660),
                bt_n,
                pvd_0,
            ],
        ),
        road(
            Some("Phạm Văn Đồng"),
            "primary",
            4,
            50,
            vec![
                pvd_0,
                ll(107.6013, 16.4735),
                ll(107.6018, 16.4786),
                ll(107.6017, 16.4840),
                ll(107.6025, 16.4926),
            ],
        ),
        road(
            Some("Nguyễn Sinh Cung"),
            "secondary",
            2,
            40,
            vec![
                nsc_0,
                ll(107.5956, 16.4790),
                ll(107.5955, 16.4850),
                ll(107.5946, 16.4900),
                ll(107.5940, 16.4935),
            ],
        ),
        road(
            None,
            "residential",
            2,
            30,
            vec![ll(107.5956, 16.4790), ll(107.6018, 16.4786)],
        ),
        road(
            None,
            "residential",
            2,
            30,
            vec![ll(107.5955, 16.4850), ll(107.6017, 16.4840)],
        ),
        road(
            Some("Nguyễn Công Trứ"),
            "tertiary",
            2,
            30,
            vec![le_loi_end, bt_n],
        ),
        road(
            Some("Nguyễn Huệ"),
            "secondary",
            4,
            40,
            vec![le_loi_nguyen_hue, ll(107.5900, 16.4588), hv_bt],
        ),
        road(
            Some("Hà Nội"),
            "primary",
            4,
            40,
            vec![px_s, ll(107.5900, 16.4640), ll(107.5949, 16.4631)],
        ),
        road(
            Some("Điện Biên Phủ"),
            "secondary",
            2,
            40,
            vec![
                le_loi_nguyen_hue,
                ll(107.5808, 16.4560),
                ll(107.5810, 16.4520),
                ll(107.5815, 16.4470),
                ll(107.5820, 16.4420),
                dbp_end,
            ],
        ),
        road(
            Some("Lê Ngô Cát"),
            "tertiary",
            2,
            40,
            vec![
                dbp_end,
                ll(107.5760, 16.4388),
                ll(107.5700, 16.4375),
                ll(107.5660, 16.4362),
                ll(107.5610, 16.4365),
            ],
        ),
        road(
            Some("Lăng Tự Đức"),
            "residential",
            2,
            30,
            vec![ll(107.5660, 16.4362), ll(107.5660, 16.4344)],
        ),
        road(
            Some("Minh Mạng"),
            "trunk",
            2,
            50,
            vec![
                dbp_end,
                ll(107.5808, 16.4392),
                ll(107.5800, 16.4360),
                ll(107.5795, 16.4330),
                ll(107.5791, 16.4287),
                ll(107.5800, 16.4200),
                ll(107.5815, 16.4120),
                ll(107.5840, 16.4060),
                mm_fork,
                mm_kd,
                ll(107.5860, 16.3965),
                ll(107.5830, 16.3945),
                tuan_e,
            ],
        ),
        road(
            Some("Khải Định"),
            "residential",
            2,
            30,
            vec![mm_kd, ll(107.5900, 16.3999)],
        ),
        road(
            Some("Gia Long"),
            "tertiary",
            2,
            40,
            vec![
                mm_fork,
                ll(107.5950, 16.4010),
                ll(107.5990, 16.3940),
                ll(107.6000, 16.3860),
                ll(107.5990, 16.3810),
                ll(107.5972, 16.3770),
                ll(107.5968, 16.3764),
            ],
        ),
        bridge("Cầu Tuần", "tertiary", 2, 40, vec![tuan_e, tuan_w]),
        road(
            Some("Lăng Minh Mạng"),
            "tertiary",
            2,
            30,
            vec![tuan_w, ll(107.5735, 16.3905), ll(107.5722, 16.3888)],
        ),
    ];

    // The gates on the river front: Quảng Đức and Ngăn lead from Lê Duẩn into the citadel.
    let inner = offset_ring(&ctx.wall, -35.0);
    for v in [-179.0, 182.0] {
        let u_in = inner_u(ctx, &inner, v);
        r.push(road(
            None,
            "residential",
            2,
            30,
            vec![uv(u_in - 10.0, v), uv(le_duan_u(v) + 15.0, v)],
        ));
    }

    // The ring road inside the walls, as four named sides (front: Ông Ích Khiêm; north-east:
    // Xuân 68).
    let sides: [(usize, usize, Option<&'static str>); 4] = [
        (0, 5, Some("Ông Ích Khiêm")),
        (5, 6, Some("Xuân 68")),
        (6, 7, None),
        (7, 8, None),
    ];
    for (i0, i1, name) in sides {
        let pts: Vec<P> = (i0..=i1).map(|i| inner[i % inner.len()]).collect();
        r.push(road(
            name,
            if name.is_some() {
                "tertiary"
            } else {
                "residential"
            },
            2,
            30,
            pts,
        ));
    }

    // The citadel's street grid, clipped to the ring road; streets behind the Imperial City stop
    // at Đặng Thái Thân (u = −648).
    let ic_back = -648.0;
    let v_lines: [(f64, f64, f64, Option<&'static str>); 7] = [
        (-920.0, -2400.0, 400.0, None),
        (-760.0, -2400.0, 400.0, None),
        (-200.0, -2400.0, ic_back, None),
        (0.0, -2400.0, ic_back, None),
        (200.0, -2400.0, ic_back, None),
        (748.0, -2400.0, 400.0, Some("Lê Thánh Tôn")),
        (900.0, -2400.0, 400.0, None),
    ];
    let mut names = CITADEL_NAMES.iter().cycle();
    for (v, u0, u1, name) in v_lines {
        for (s, e) in clip_segment(uv(u0, v), uv(u1, v), &inner) {
            let nm = name.or_else(|| names.next().copied());
            r.push(road(nm, "residential", 2, 30, vec![s, e]));
        }
    }
    let u_lines: [(f64, Option<&'static str>, Option<&'static str>); 8] = [
        (-150.0, None, None),
        (-350.0, None, None),
        (-780.0, Some("Thạch Hãn"), Some("Nhật Lệ")),
        (-930.0, None, None),
        (-1250.0, None, None),
        (-1400.0, None, None),
        (-1632.0, Some("Lê Trung Đình"), Some("Lê Trung Đình")),
        (-1980.0, None, None),
    ];
    for (u, sw, ne) in u_lines {
        // In front of the Imperial City's back wall the streets stop at Lê Huấn / Đoàn Thị Điểm.
        let pieces: Vec<(f64, f64, Option<&'static str>)> = if u > ic_back {
            vec![(-1300.0, -385.0, sw), (385.0, 1300.0, ne)]
        } else {
            vec![(-1300.0, 0.0, sw), (0.0, 1300.0, ne)]
        };
        for (v0, v1, name) in pieces {
            for (s, e) in clip_segment(uv(u, v0), uv(u, v1), &inner) {
                let nm = name.or_else(|| names.next().copied());
                r.push(road(nm, "residential", 2, 30, vec![s, e]));
            }
        }
    }

    // Gia Hội: lanes from Bạch Đằng across to Chi Lăng.
    let gia_hoi = gia_hoi_region(ctx);
    for u in [-300.0, -600.0, -900.0, -1200.0, -1480.0] {
        for (s, e) in clip_segment(uv(u, 1000.0), uv(u, 3000.0), &gia_hoi) {
            r.push(road(None, "residential", 2, 30, vec![s, e]));
        }
    }

    // Kim Long: lanes (kiệt) running inland from Kim Long street.
    for lon in [107.5660, 107.5620, 107.5580, 107.5540, 107.5505] {
        let kl = r
            .iter()
            .find(|x| x.name == Some("Kim Long"))
            .map(|x| x.pts.clone())
            .unwrap_or_default();
        if let Some(q) = vertical_hit(&kl, ll(lon, 16.4500), ll(lon, 16.4700)) {
            r.push(road(None, "residential", 2, 30, vec![q, q + p(0.0, 260.0)]));
        }
    }

    // The south bank between Lê Lợi, Bà Triệu and Nguyễn Huệ: a grid square to Lê Lợi.
    let south = south_bank_region(ctx);
    let dir = (le_loi_end - le_loi_nguyen_hue).unit();
    let grid = grid_lines(&south, le_loi_nguyen_hue, dir, 170.0, 160.0);
    let majors: Vec<Vec<P>> = r
        .iter()
        .filter(|x| x.class != "residential")
        .map(|x| x.pts.clone())
        .collect();
    let mut names = SOUTH_NAMES.iter().cycle();
    for (s, e) in grid {
        if mostly_near(s, e, &majors, 35.0) {
            continue;
        }
        r.push(road(
            names.next().copied(),
            "residential",
            2,
            30,
            vec![s, e],
        ));
    }

    // South of the An Cựu river: a north-south grid.
    let ac = an_cuu_region(ctx);
    let mut names = AN_CUU_NAMES.iter().cycle();
    for (s, e) in grid_lines(&ac, ll(107.5795, 16.4450), p(1.0, 0.0), 170.0, 220.0) {
        if mostly_near(s, e, &majors, 35.0) {
            continue;
        }
        r.push(road(
            names.next().copied(),
            "residential",
            2,
            30,
            vec![s, e],
        ));
    }
    // A few one-way streets (in their drawing direction).
    for x in r
        .iter_mut()
        .filter(|x| matches!(x.name, Some("Hàn Thuyên") | Some("Võ Thị Sáu")))
    {
        x.oneway = true;
    }
    r
}

/// The u of the inner ring's front edge at a given v.
fn inner_u(ctx: &Ctx, inner: &[P], v: f64) -> f64 {
    let a = &ctx.axes;
    let front: Vec<P> = inner[0..=5].to_vec();
    for w in front.windows(2) {
        let (u0, v0) = a.uv(w[0]);
        let (u1, v1) = a.uv(w[1]);
        if (v0..=v1).contains(&v) {
            return u0 + (u1 - u0) * (v - v0) / (v1 - v0);
        }
    }
    100.0
}

/// Where a vertical segment `a b` crosses a polyline.
fn vertical_hit(line: &[P], a: P, b: P) -> Option<P> {
    line.windows(2)
        .find_map(|w| seg_intersect(a, b, w[0], w[1]).map(|(t, _)| a.lerp(b, t)))
}

/// True when most of segment `s e` runs within `d` of one of `lines`.
fn mostly_near(s: P, e: P, lines: &[Vec<P>], d: f64) -> bool {
    let n = ((s.dist(e) / 20.0).ceil() as usize).max(1);
    let near = (0..=n)
        .filter(|&i| {
            lines
                .iter()
                .any(|l| polyline_dist(s.lerp(e, i as f64 / n as f64), l) < d)
        })
        .count();
    near * 10 > (n + 1) * 3
}

/// Parallel lines in two directions (along `dir` every `sa` metres, across it every `sb`)
/// through `origin`, clipped to `region`.
fn grid_lines(region: &[P], origin: P, dir: P, sa: f64, sb: f64) -> Vec<(P, P)> {
    let nrm = dir.left();
    let (lo, hi) = bbox(region);
    let reach = lo.dist(hi) + 100.0;
    let mut out = Vec::new();
    for k in -40..=40 {
        let c = origin + nrm * (k as f64 * sa);
        out.extend(clip_segment(c - dir * reach, c + dir * reach, region));
        let c = origin + dir * (k as f64 * sb);
        out.extend(clip_segment(c - nrm * reach, c + nrm * reach, region));
    }
    out.retain(|(s, e)| s.dist(*e) > 40.0);
    out
}

/// The south bank's core: between Lê Lợi, Nguyễn Công Trứ, Bà Triệu and Nguyễn Huệ (drawn with
/// the same vertices as those roads, so grid streets end on them).
pub fn south_bank_region(ctx: &Ctx) -> Vec<P> {
    let f = &ctx.frame;
    let pts = [
        (107.5803, 16.4585),
        (PHU_XUAN[1].0, PHU_XUAN[1].1),
        (TRUONG_TIEN[1].0, TRUONG_TIEN[1].1),
        (107.5950, 16.4722),
        (107.5992, 16.4704),
        (107.5994, 16.4660),
        (107.5998, 16.4621),
        (107.5994, 16.4592),
        (107.5900, 16.4588),
    ];
    super::geom::ccw(pts.iter().map(|&(x, y)| f.to_local(x, y)).collect())
}

/// South of the An Cựu river (Phước Vĩnh, Trường An).
pub fn an_cuu_region(ctx: &Ctx) -> Vec<P> {
    let f = &ctx.frame;
    let pts = [
        (107.5795, 16.4535),
        (107.5990, 16.4540),
        (107.6040, 16.4525),
        (107.6040, 16.4470),
        (107.5795, 16.4450),
    ];
    super::geom::ccw(pts.iter().map(|&(x, y)| f.to_local(x, y)).collect())
}

/// Gia Hội: between Bạch Đằng and Chi Lăng.
pub fn gia_hoi_region(ctx: &Ctx) -> Vec<P> {
    let f = &ctx.frame;
    let a = &ctx.axes;
    let mut pts = vec![
        f.to_local(107.5893, 16.4745),
        a.at(-100.0, 1310.0),
        a.at(-2000.0, 1310.0),
    ];
    for (x, y) in [
        (107.5905, 16.4925),
        (107.5907, 16.4895),
        (107.5903, 16.4840),
        (107.5897, 16.4790),
    ] {
        pts.push(f.to_local(x, y));
    }
    super::geom::ccw(pts)
}

/// Split roads at their crossings and at T-junctions (an end within 3 m of another road), merge
/// junction points closer than 0.5 m, and drop dangling stubs shorter than 25 m.
pub fn planarize(roads: Vec<Road>) -> Vec<Link> {
    let mut roads = roads;
    let n = roads.len();
    // cuts[i]: (segment index, parameter, point)
    let mut cuts: Vec<Vec<(usize, f64, P)>> = vec![Vec::new(); n];
    // T-junctions first: snap ends onto the nearest other road.
    for i in 0..n {
        for end in [0usize, 1] {
            let k = if end == 0 { 0 } else { roads[i].pts.len() - 1 };
            let q = roads[i].pts[k];
            let mut best: Option<(f64, usize, usize, f64)> = None;
            for (j, other) in roads.iter().enumerate() {
                if j == i {
                    continue;
                }
                for (s, w) in other.pts.windows(2).enumerate() {
                    let (d, t) = seg_dist(q, w[0], w[1]);
                    if d < 3.0 && best.is_none_or(|b| d < b.0) {
                        best = Some((d, j, s, t));
                    }
                }
            }
            if let Some((_, j, s, t)) = best {
                let w0 = roads[j].pts[s];
                let w1 = roads[j].pts[s + 1];
                let x = w0.lerp(w1, t);
                roads[i].pts[k] = x;
                cuts[j].push((s, t, x));
            }
        }
    }
    // Proper crossings.
    let boxes: Vec<(P, P)> = roads.iter().map(|r| bbox(&r.pts)).collect();
    for i in 0..n {
        for j in (i + 1)..n {
            let (a0, a1) = boxes[i];
            let (b0, b1) = boxes[j];
            if a1.x < b0.x - 1.0 || b1.x < a0.x - 1.0 || a1.y < b0.y - 1.0 || b1.y < a0.y - 1.0 {
                continue;
            }
            for (si, wi) in roads[i].pts.windows(2).enumerate() {
                for (sj, wj) in roads[j].pts.windows(2).enumerate() {
                    if let Some((t, s)) = seg_intersect(wi[0], wi[1], wj[0], wj[1]) {
                        let x = wi[0].lerp(wi[1], t);
                        cuts[i].push((si, t, x));
                        cuts[j].push((sj, s, x));
                    }
                }
            }
        }
    }
    // Merge junction points closer than 0.5 m (first one wins), globally.
    let mut reps: Vec<P> = Vec::new();
    let mut canon = |x: P| -> P {
        if let Some(&q) = reps.iter().find(|q| q.dist(x) < 0.5) {
            return q;
        }
        reps.push(x);
        x
    };
    for r in roads.iter_mut() {
        let k = r.pts.len() - 1;
        r.pts[0] = canon(r.pts[0]);
        r.pts[k] = canon(r.pts[k]);
    }
    let mut links = Vec::new();
    for (i, r) in roads.iter().enumerate() {
        let mut c = cuts[i].clone();
        c.sort_by(|x, y| x.0.cmp(&y.0).then(x.1.total_cmp(&y.1)));
        let mut piece = vec![r.pts[0]];
        let mut ci = 0;
        for s in 0..r.pts.len() - 1 {
            while ci < c.len() && c[ci].0 == s {
                let x = canon(c[ci].2);
                if piece.last().is_some_and(|l| l.dist(x) > 0.01) {
                    piece.push(x);
                }
                if length(&piece) > 0.5 {
                    links.push(Link {
                        road: Road {
                            pts: std::mem::take(&mut piece),
                            ..r.clone()
                        },
                    });
                }
                piece = vec![x];
                ci += 1;
            }
            let next = r.pts[s + 1];
            if piece.last().is_some_and(|l| l.dist(next) > 0.01) {
                piece.push(next);
            }
        }
        if length(&piece) > 0.5 {
            links.push(Link {
                road: Road {
                    pts: piece,
                    ..r.clone()
                },
            });
        }
    }
    // Drop short dangling stubs (overshoots of drawn roads past the road they meet).
    let key = |q: P| ((q.x * 100.0).round() as i64, (q.y * 100.0).round() as i64);
    let mut degree: std::collections::HashMap<(i64, i64), usize> = Default::default();
    for l in &links {
        *degree.entry(key(l.road.pts[0])).or_default() += 1;
        *degree
            .entry(key(*l.road.pts.last().unwrap_or(&l.road.pts[0])))
            .or_default() += 1;
    }
    links.retain(|l| {
        let a = degree[&key(l.road.pts[0])];
        let b = degree[&key(l.road.pts[l.road.pts.len() - 1])];
        !(length(&l.road.pts) < 25.0 && (a == 1 || b == 1))
    });
    links
}

/// Cut a bridge out of every link where it crosses a water line (canals, moats, small rivers):
/// the bridge spans the channel plus 6 m each side.
pub fn bridges(links: Vec<Link>, water: &Water) -> Vec<Link> {
    let mut out = Vec::new();
    for link in links {
        if link.road.bridge {
            out.push(link);
            continue;
        }
        let pts = &link.road.pts;
        let total = length(pts);
        // crossings as (arc length, half span)
        let mut xs: Vec<(f64, f64)> = Vec::new();
        let mut acc = 0.0;
        for w in pts.windows(2) {
            for wl in &water.lines {
                for c in wl.pts.windows(2) {
                    if let Some((t, _)) = seg_intersect(w[0], w[1], c[0], c[1]) {
                        xs.push((acc + t * w[0].dist(w[1]), wl.half_width + 6.0));
                    }
                }
            }
            acc += w[0].dist(w[1]);
        }
        if xs.is_empty() {
            out.push(link);
            continue;
        }
        xs.sort_by(|a, b| a.0.total_cmp(&b.0));
        // spans, merged when they overlap and pushed to the ends when within 3 m of them
        let mut spans: Vec<(f64, f64)> = Vec::new();
        for (s, h) in xs {
            let (mut a, mut b) = ((s - h).max(0.0), (s + h).min(total));
            if a < 3.0 {
                a = 0.0;
            }
            if b > total - 3.0 {
                b = total;
            }
            match spans.last_mut() {
                Some(last) if a <= last.1 + 3.0 => last.1 = last.1.max(b),
                _ => spans.push((a, b)),
            }
        }
        let mut cursor = 0.0;
        for (a, b) in spans {
            if a > cursor {
                out.push(Link {
                    road: Road {
                        pts: sub_line(pts, cursor, a),
                        ..link.road.clone()
                    },
                });
            }
            out.push(Link {
                road: Road {
                    pts: sub_line(pts, a, b),
                    bridge: true,
                    ..link.road.clone()
                },
            });
            cursor = b;
        }
        if cursor < total {
            out.push(Link {
                road: Road {
                    pts: sub_line(pts, cursor, total),
                    ..link.road.clone()
                },
            });
        }
    }
    out
}

/// The part of a polyline between arc lengths `a` and `b`, keeping its vertices exactly.
fn sub_line(pts: &[P], a: f64, b: f64) -> Vec<P> {
    let total = length(pts);
    let at = |s: f64| -> P {
        if s <= 0.0 {
            return pts[0];
        }
        if s >= total {
            return pts[pts.len() - 1];
        }
        super::geom::along(pts, s).0
    };
    let mut out = vec![at(a)];
    let mut acc = 0.0;
    for w in pts.windows(2) {
        acc += w[0].dist(w[1]);
        if acc > a + 1e-9 && acc < b - 1e-9 {
            out.push(w[1]);
        }
    }
    out.push(at(b));
    out
}

/// Check the network: one connected component; no road except bridges inside the river or
/// within 3 m of it; bridges start and end on land.
pub fn check(links: &[Link], water: &Water, frame: &super::geom::Frame) -> Result<()> {
    let key = |q: P| {
        let (lon, lat) = frame.to_lonlat(q);
        ((lon * 1e7).round() as i64, (lat * 1e7).round() as i64)
    };
    // union-find over link ends
    let mut ids: std::collections::BTreeMap<(i64, i64), usize> = Default::default();
    for l in links {
        for q in [l.road.pts[0], l.road.pts[l.road.pts.len() - 1]] {
            let n = ids.len();
            ids.entry(key(q)).or_insert(n);
        }
    }
    let mut parent: Vec<usize> = (0..ids.len()).collect();
    fn find(p: &mut [usize], x: usize) -> usize {
        let mut x = x;
        while p[x] != x {
            p[x] = p[p[x]];
            x = p[x];
        }
        x
    }
    for l in links {
        let a = ids[&key(l.road.pts[0])];
        let b = ids[&key(l.road.pts[l.road.pts.len() - 1])];
        let (ra, rb) = (find(&mut parent, a), find(&mut parent, b));
        parent[ra] = rb;
    }
    let roots: std::collections::BTreeSet<usize> =
        (0..parent.len()).map(|i| find(&mut parent, i)).collect();
    if roots.len() != 1 {
        let mut bad = Vec::new();
        let main = {
            let mut count: std::collections::BTreeMap<usize, usize> = Default::default();
            for i in 0..parent.len() {
                *count.entry(find(&mut parent, i)).or_default() += 1;
            }
            count
                .into_iter()
                .max_by_key(|&(_, c)| c)
                .map(|(r, _)| r)
                .unwrap_or(0)
        };
        for l in links {
            let a = ids[&key(l.road.pts[0])];
            if find(&mut parent, a) != main {
                bad.push(format!(
                    "{:?} at {:?}",
                    l.road.name,
                    frame.to_lonlat(l.road.pts[0])
                ));
            }
        }
        return Err(TwinError::invalid(
            "roads",
            format!(
                "{} components; not connected: {}",
                roots.len(),
                bad.join("; ")
            ),
        ));
    }
    for l in links {
        let pts = &l.road.pts;
        if l.road.bridge {
            for q in [pts[0], pts[pts.len() - 1]] {
                if water.river.contains(q) {
                    return Err(TwinError::invalid(
                        "roads",
                        format!(
                            "bridge {:?} ends in the river at {:?}",
                            l.road.name,
                            frame.to_lonlat(q)
                        ),
                    ));
                }
            }
            continue;
        }
        let total = length(pts);
        let n = ((total / 5.0).ceil() as usize).max(1);
        for i in 0..=n {
            let q = super::geom::along(pts, total * i as f64 / n as f64).0;
            let c = water.river.clearance(q, 50.0);
            if c < 3.0 {
                return Err(TwinError::invalid(
                    "roads",
                    format!(
                        "{:?} ({}) comes within {c:.1} m of the river at {:?}",
                        l.road.name,
                        l.road.class,
                        frame.to_lonlat(q)
                    ),
                ));
            }
        }
    }
    Ok(())
}
