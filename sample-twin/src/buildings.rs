//! Procedural buildings: tube houses (4–6 m wide, 12–20 m deep) in rows along the streets of
//! the residential wards, a few larger buildings (schools, hotels, markets, hospital), none in
//! the Imperial City, in the water, on the walls or on the steeper hills.

use super::geom::{
    along, bbox, bearing_vec, convex_overlap, in_ring, length, offset_ring, rect_at, ring_dist,
    seg_dist, Grid, P,
};
use super::heritage::Site;
use super::roads::Link;
use super::terrain::Land;
use super::water::Water;
use super::Ctx;
use rand_pcg::rand_core::Rng;
use rand_pcg::Pcg64;
use twin_core::error::{Result, TwinError};

/// A building footprint with its attributes.
#[derive(Clone, Debug)]
pub struct Building {
    /// Footprint (open ring, counter-clockwise), local metres.
    pub ring: Vec<P>,
    /// OSM `building` value.
    pub kind: &'static str,
    /// Name, for the landmark buildings.
    pub name: Option<&'static str>,
    /// `building:levels`, when written.
    pub levels: Option<u32>,
    /// `height` in metres, when written.
    pub height: Option<f64>,
}

/// Uniform floats from the seeded generator.
pub struct Rnd(pub Pcg64);

impl Rnd {
    /// A float in [0, 1).
    pub fn f(&mut self) -> f64 {
        (self.0.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }
    /// A float in [a, b).
    pub fn range(&mut self, a: f64, b: f64) -> f64 {
        a + (b - a) * self.f()
    }
    /// True with probability `p`.
    pub fn chance(&mut self, p: f64) -> bool {
        self.f() < p
    }
}

/// A ward where houses line the streets.
struct Ward {
    ring: Vec<P>,
    /// Share of the street frontage that is built up (rows of houses), main roads first.
    street_share: f64,
    /// Most storeys of an ordinary house.
    max_levels: u32,
    citadel: bool,
}

/// Everything a footprint must keep clear of.
struct Rules<'a> {
    roads: Grid<(P, P, f64)>,
    placed: Grid<Vec<P>>,
    water: &'a Water,
    land: Land,
    no_go: Vec<(Vec<P>, f64)>,
    wall: Vec<P>,
    extent: (P, P),
}

impl Rules<'_> {
    fn ok(&self, ring: &[P]) -> bool {
        self.why_not(ring).is_none()
    }

    /// Why a footprint cannot be placed, if it cannot.
    fn why_not(&self, ring: &[P]) -> Option<&'static str> {
        let (lo, hi) = bbox(ring);
        let c = lo.lerp(hi, 0.5);
        if lo.x < self.extent.0.x
            || lo.y < self.extent.0.y
            || hi.x > self.extent.1.x
            || hi.y > self.extent.1.y
        {
            return Some("outside the extent");
        }
        let pts: Vec<P> = ring.iter().copied().chain(std::iter::once(c)).collect();
        for &q in &pts {
            for &(a, b, hw) in self.roads.near(q, 20.0) {
                if seg_dist(q, a, b).0 < hw + 0.5 {
                    return Some("on a road");
                }
            }
            if self.water.river.clearance(q, 20.0) < 15.0 {
                return Some("in or by the river");
            }
            if self.water.line_clearance(q) < 6.0 {
                return Some("in or by a canal");
            }
            for lake in &self.water.lakes {
                if in_ring(q, &lake.ring) || ring_dist(q, &lake.ring) < 8.0 {
                    return Some("in or by a lake");
                }
            }
            for (ring, margin) in &self.no_go {
                if in_ring(q, ring) || ring_dist(q, ring) < *margin {
                    return Some("in a zone I heritage site");
                }
            }
            if ring_dist(q, &self.wall) < 25.0 {
                return Some("on the citadel walls");
            }
            if self.land.hills(q, &|| 800.0) > 12.0 {
                return Some("on a hill");
            }
        }
        // roads crossing the footprint between its corners
        for &(a, b, _) in self.roads.near(c, lo.dist(hi)) {
            let n = ring.len();
            for i in 0..n {
                if super::geom::seg_intersect(a, b, ring[i], ring[(i + 1) % n]).is_some() {
                    return Some("crossed by a road");
                }
            }
        }
        if self
            .placed
            .near(c, lo.dist(hi))
            .into_iter()
            .any(|other| convex_overlap(ring, other, 0.2))
        {
            return Some("on another building");
        }
        None
    }

    fn add(&mut self, ring: Vec<P>) {
        let (lo, hi) = bbox(&ring);
        self.placed.insert(ring, lo, hi);
    }
}

/// A landmark building: kind, name, (lon, lat), bearing of the long side, length, width,
/// storeys.
type Landmark = (&'static str, &'static str, (f64, f64), f64, f64, f64, u32);

/// Landmark buildings at their public positions.
const LANDMARKS: [Landmark; 9] = [
    (
        "retail",
        "Chợ Đông Ba",
        (107.5889, 16.4727),
        45.0,
        110.0,
        60.0,
        2,
    ),
    (
        "train_station",
        "Ga Huế",
        (107.5775, 16.4561),
        60.0,
        70.0,
        16.0,
        1,
    ),
    (
        "hospital",
        "Bệnh viện Trung ương Huế",
        (107.5872, 16.4617),
        45.0,
        80.0,
        18.0,
        5,
    ),
    (
        "school",
        "Trường THPT chuyên Quốc Học",
        (107.5838, 16.4597),
        45.0,
        60.0,
        14.0,
        2,
    ),
    (
        "school",
        "Trường THPT Hai Bà Trưng",
        (107.5853, 16.4628),
        45.0,
        50.0,
        14.0,
        3,
    ),
    (
        "hotel",
        "Khách sạn Sài Gòn Morin",
        (107.5907, 16.4667),
        45.0,
        45.0,
        28.0,
        5,
    ),
    (
        "university",
        "Trường Đại học Sư phạm Huế",
        (107.5928, 16.4693),
        45.0,
        60.0,
        16.0,
        4,
    ),
    (
        "retail",
        "Chợ An Cựu",
        (107.6015, 16.4577),
        0.0,
        60.0,
        40.0,
        2,
    ),
    (
        "retail",
        "Chợ Tây Lộc",
        (107.5675, 16.4752),
        53.5,
        60.0,
        40.0,
        1,
    ),
];

/// Generate the buildings.
pub fn build(
    ctx: &Ctx,
    water: &Water,
    heritage: &[Site],
    links: &[Link],
    rng: &mut Rnd,
) -> Result<Vec<Building>> {
    let f = &ctx.frame;
    let mut roads = Grid::new(60.0);
    for l in links {
        let hw = l.half_width();
        for w in l.road.pts.windows(2) {
            let (lo, hi) = bbox(&[w[0], w[1]]);
            roads.insert((w[0], w[1], hw), lo, hi);
        }
    }
    let mut no_go: Vec<(Vec<P>, f64)> = vec![(offset_ring(&ctx.imperial_city, 45.0), 0.0)];
    for s in heritage
        .iter()
        .filter(|s| s.zone == "I" && s.id != "kinh-thanh-walls" && s.id != "ngu-binh")
    {
        no_go.push((s.rings[0].clone(), 8.0));
    }
    let [lon0, lat0, lon1, lat1] = super::facts::EXTENT;
    let mut rules = Rules {
        roads,
        placed: Grid::new(60.0),
        water,
        land: Land::new(ctx),
        no_go,
        wall: ctx.wall.clone(),
        extent: (
            f.to_local(lon0, lat0) + P { x: 50.0, y: 50.0 },
            f.to_local(lon1, lat1) - P { x: 50.0, y: 50.0 },
        ),
    };
    let mut out = Vec::new();

    for &(kind, name, (lon, lat), bearing, len, wid, levels) in LANDMARKS.iter() {
        // At the public position, or the nearest free spot within 80 m (spiralling out in 10 m
        // steps) when a generated street runs there.
        let centre = f.to_local(lon, lat);
        let mut tries = vec![(0.0, 0.0)];
        for r in 1..=8 {
            let r = r as f64 * 10.0;
            for k in 0..(8 * r as usize / 10) {
                let a = k as f64 / (8.0 * r / 10.0) * std::f64::consts::TAU;
                tries.push((r * a.cos(), r * a.sin()));
            }
        }
        let found = tries
            .iter()
            .map(|&(dx, dy)| rect_at(centre + P { x: dx, y: dy }, bearing_vec(bearing), len, wid))
            .find(|ring| rules.ok(ring));
        let Some(ring) = found else {
            let why = rules
                .why_not(&rect_at(centre, bearing_vec(bearing), len, wid))
                .unwrap_or("blocked");
            return Err(TwinError::invalid(
                "buildings",
                format!(
                    "landmark {name} at ({lon}, {lat}) is {why}, and so is every spot within 80 m"
                ),
            ));
        };
        rules.add(ring.clone());
        let height = (levels as f64 * 3.6 + 1.0).round();
        out.push(Building {
            ring,
            kind,
            name: Some(name),
            levels: Some(levels),
            height: Some(height),
        });
    }

    let wards = wards(ctx);
    // Street sides of each ward: (link, side, main road, length). The built-up sides are drawn
    // at random (main roads 2.5 times as likely) until they make up the ward's share of the
    // frontage, which keeps the counts steady whatever the random draw.
    let mut sides: Vec<Vec<(usize, f64, bool, f64)>> = vec![Vec::new(); wards.len()];
    for (li, link) in links.iter().enumerate() {
        if link.road.bridge {
            continue;
        }
        let total = length(&link.road.pts);
        let mid = along(&link.road.pts, total / 2.0).0;
        let Some(wi) = wards.iter().position(|w| in_ring(mid, &w.ring)) else {
            continue;
        };
        let main_road = matches!(link.road.class, "primary" | "secondary" | "trunk");
        for side in [1.0, -1.0] {
            sides[wi].push((li, side, main_road, total));
        }
    }
    let mut chosen: Vec<(usize, usize, f64, bool)> = Vec::new();
    for (wi, ward) in wards.iter().enumerate() {
        let all: f64 = sides[wi].iter().map(|x| x.3).sum();
        let mut keyed: Vec<(f64, (usize, f64, bool, f64))> = sides[wi]
            .iter()
            .map(|&x| (rng.f() / if x.2 { 2.5 } else { 1.0 }, x))
            .collect();
        keyed.sort_by(|a, b| a.0.total_cmp(&b.0));
        let mut got = 0.0;
        for (_, (li, side, main_road, len)) in keyed {
            if got >= ward.street_share * all {
                break;
            }
            got += len;
            chosen.push((li, wi, side, main_road));
        }
    }
    chosen.sort_by(|a, b| a.0.cmp(&b.0).then(b.2.total_cmp(&a.2)));
    for (li, wi, side, main_road) in chosen {
        let link = &links[li];
        let ward = &wards[wi];
        let pts = &link.road.pts;
        let total = length(pts);
        {
            let mut s = 9.0 + rng.range(0.0, 4.0);
            while s < total - 12.0 {
                let built = rng.chance(0.8);
                let run = if built {
                    rng.range(30.0, 140.0)
                } else {
                    rng.range(15.0, 110.0)
                };
                let end = (s + run).min(total - 9.0);
                if !built {
                    s = end;
                    continue;
                }
                while s < end {
                    let roll = rng.f();
                    let (kind, w, d, levels) = if !ward.citadel && main_road && roll < 0.10 {
                        (
                            "hotel",
                            rng.range(14.0, 22.0),
                            rng.range(18.0, 28.0),
                            5 + (rng.f() * 6.0) as u32,
                        )
                    } else if roll < 0.012 {
                        (
                            "school",
                            rng.range(40.0, 55.0),
                            rng.range(12.0, 15.0),
                            2 + (rng.f() * 2.0) as u32,
                        )
                    } else if ward.citadel && roll < 0.035 {
                        ("temple", rng.range(10.0, 14.0), rng.range(12.0, 16.0), 1)
                    } else if !ward.citadel && roll < 0.03 {
                        (
                            "apartments",
                            rng.range(20.0, 30.0),
                            rng.range(15.0, 20.0),
                            4 + (rng.f() * 3.0) as u32,
                        )
                    } else {
                        let kind = if main_road && rng.chance(0.5) {
                            "retail"
                        } else {
                            "house"
                        };
                        let r = rng.f();
                        let mut lv = if r < 0.15 {
                            1
                        } else if r < 0.50 {
                            2
                        } else if r < 0.85 {
                            3
                        } else {
                            4
                        };
                        if lv > ward.max_levels && !rng.chance(0.05) {
                            lv = ward.max_levels;
                        }
                        (kind, rng.range(4.0, 6.0), rng.range(12.0, 20.0), lv)
                    };
                    if s + w > end + 2.0 {
                        break;
                    }
                    let (front, dir) = along(pts, s + w / 2.0);
                    let nrm = dir.left() * side;
                    let setback = link.half_width() + rng.range(1.0, 3.0);
                    let c = front + nrm * (setback + d / 2.0);
                    let ring = rect_at(c, dir, w, d);
                    if rules.ok(&ring) {
                        rules.add(ring.clone());
                        let r = rng.f();
                        let h = ((levels as f64 * 3.3 + rng.range(0.3, 1.2)) * 10.0).round() / 10.0;
                        let (lv, ht) = if r < 0.2 {
                            (Some(levels), Some(h))
                        } else if r < 0.65 {
                            (Some(levels), None)
                        } else if r < 0.8 {
                            (None, Some(h))
                        } else {
                            (None, None)
                        };
                        out.push(Building {
                            ring,
                            kind,
                            name: None,
                            levels: lv,
                            height: ht,
                        });
                    }
                    s += w + rng.range(0.2, 0.8);
                }
            }
        }
    }
    Ok(out)
}

/// The residential wards and how densely their streets are built up.
fn wards(ctx: &Ctx) -> Vec<Ward> {
    let f = &ctx.frame;
    let ll =
        |pts: &[(f64, f64)]| super::geom::ccw(pts.iter().map(|&(x, y)| f.to_local(x, y)).collect());
    vec![
        Ward {
            ring: offset_ring(&ctx.wall, -20.0),
            street_share: 0.1,
            max_levels: 3,
            citadel: true,
        },
        Ward {
            ring: offset_ring(&super::roads::south_bank_region(ctx), 2.0),
            street_share: 0.19,
            max_levels: 4,
            citadel: false,
        },
        Ward {
            ring: super::roads::an_cuu_region(ctx),
            street_share: 0.07,
            max_levels: 4,
            citadel: false,
        },
        Ward {
            ring: offset_ring(&super::roads::gia_hoi_region(ctx), 2.0),
            street_share: 0.16,
            max_levels: 4,
            citadel: false,
        },
        // Kim Long along its street, Vỹ Dạ between Nguyễn Sinh Cung and Phạm Văn Đồng.
        Ward {
            ring: ll(&[
                (107.5705, 16.4625),
                (107.5460, 16.4580),
                (107.5460, 16.4530),
                (107.5705, 16.4595),
                (107.5720, 16.4700),
            ]),
            street_share: 0.2,
            max_levels: 3,
            citadel: false,
        },
        Ward {
            ring: ll(&[
                (107.5945, 16.4738),
                (107.6015, 16.4730),
                (107.6030, 16.4930),
                (107.5935, 16.4940),
            ]),
            street_share: 0.1,
            max_levels: 4,
            citadel: false,
        },
    ]
}
