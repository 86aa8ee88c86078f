//! The proposal check (a verdict per rule, with its numbers) and the report of existing
//! buildings that break the rules.

use crate::proposal::Proposal;
use crate::rules::{Rules, View, Zone, ZoneKind};
use geo::{Area, BooleanOps, Distance, Euclidean, Intersects};
use geo_types::{Geometry, MultiPolygon};
use serde::Serialize;
use twin_core::Twin;

/// The outcome of one rule.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// The proposal keeps to the rule.
    Pass,
    /// It breaks it: the proposal is refused.
    Fail,
    /// The proposal does not say enough to judge (e.g. no roof shape given).
    NotAssessed,
}

/// One rule's verdict with its numbers.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct RuleResult {
    /// The rule: `core_zone`, `height_limit`, `setback`, `roof`, `protected_view`.
    pub rule: &'static str,
    /// The zone's site or the view's id it was judged under.
    pub under: String,
    /// The outcome.
    pub outcome: Outcome,
    /// The proposal's number (height m, distance m, top m...), when the rule has one.
    pub value: Option<f64>,
    /// The rule's limit in the same unit, when it has one.
    pub limit: Option<f64>,
    /// The rule and its numbers in words.
    pub detail: String,
}

/// A zone a proposal (or building) stands in.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ZoneHit {
    /// The site's id.
    pub site: String,
    /// Its name.
    pub name: Option<String>,
    /// The layer's zone label.
    pub zone: Option<String>,
    /// Its kind.
    pub kind: ZoneKind,
    /// Its height limit (m), if any.
    pub height_limit_m: Option<f64>,
}

/// The verdict on a proposal.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Verdict {
    /// The proposal as read.
    pub proposal: Proposal,
    /// Footprint area (m²).
    pub area_m2: f64,
    /// Top of the building (orthometric m).
    pub top_m: f64,
    /// False when any rule fails.
    pub permitted: bool,
    /// The zones it stands in.
    pub zones: Vec<ZoneHit>,
    /// Every rule judged, in the order zones then views.
    pub rules: Vec<RuleResult>,
}

impl Verdict {
    /// The rules that fail.
    pub fn failures(&self) -> impl Iterator<Item = &RuleResult> {
        self.rules.iter().filter(|r| r.outcome == Outcome::Fail)
    }
}

fn zone_hit(z: &Zone) -> ZoneHit {
    ZoneHit {
        site: z.site.clone(),
        name: z.name.clone(),
        zone: z.label.clone(),
        kind: z.kind,
        height_limit_m: z.height_limit_m,
    }
}

/// How far a view's threshold plane is broken by a footprint of top `top` (orthometric m):
/// the worst (top − plane) over the vertices of the part of the footprint inside the corridor,
/// with the plane's height and the distance along the view there. None when no part of the
/// footprint is in the corridor ahead of the assessment point.
pub fn plane_excess(
    view: &View,
    footprint: &MultiPolygon<f64>,
    top: f64,
) -> Option<(f64, f64, f64)> {
    if !footprint.intersects(&view.corridor) {
        return None;
    }
    let inside = footprint.intersection(&view.corridor);
    let mut worst: Option<(f64, f64, f64)> = None;
    for c in inside.0.iter().flat_map(|p| p.exterior().0.iter()) {
        let d = view.plane.along([c.x, c.y]);
        if d <= 0.0 {
            continue;
        }
        let h = view.plane.height_at_distance(d);
        if worst.is_none_or(|w| top - h > w.0) {
            worst = Some((top - h, h, d));
        }
    }
    worst
}

/// Check a proposal against the rules: every zone it stands in (core: no new building; height
/// limit; roof), the setback from core sites, every protected view whose corridor it enters.
pub fn check(twin: &Twin, rules: &Rules, p: &Proposal) -> Verdict {
    let sites = twin.heritage.features();
    let hit: Vec<&Zone> = rules
        .zones
        .iter()
        .filter(|z| p.footprint.intersects(&sites[z.index].polygon))
        .collect();
    let mut out = Vec::new();
    for z in &hit {
        let name = z.name.clone().unwrap_or_else(|| z.site.clone());
        if z.kind == ZoneKind::Core && !rules.file.core.new_buildings {
            out.push(RuleResult {
                rule: "core_zone",
                under: z.site.clone(),
                outcome: Outcome::Fail,
                value: None,
                limit: None,
                detail: format!(
                    "{name} is a core zone (zone {}): no new building",
                    z.label.as_deref().unwrap_or("I")
                ),
            });
        }
        if let Some(limit) = z.height_limit_m {
            let ok = p.height_m <= limit;
            out.push(RuleResult {
                rule: "height_limit",
                under: z.site.clone(),
                outcome: if ok { Outcome::Pass } else { Outcome::Fail },
                value: Some(p.height_m),
                limit: Some(limit),
                detail: format!(
                    "{name}: height {:.1} m {} the limit of {limit:.1} m{}",
                    p.height_m,
                    if ok { "within" } else { "over" },
                    if ok {
                        String::new()
                    } else {
                        format!(" by {:.1} m", p.height_m - limit)
                    }
                ),
            });
        }
        if !z.roofs.is_empty() {
            let (outcome, detail) = match &p.roof {
                None => (
                    Outcome::NotAssessed,
                    format!(
                        "{name}: roofs must be one of {:?}; the proposal gives no roof:shape",
                        z.roofs
                    ),
                ),
                Some(r) if z.roofs.iter().any(|a| a.eq_ignore_ascii_case(r)) => {
                    (Outcome::Pass, format!("{name}: roof {r:?} allowed"))
                }
                Some(r) => (
                    Outcome::Fail,
                    format!("{name}: roof {r:?} is not one of {:?}", z.roofs),
                ),
            };
            out.push(RuleResult {
                rule: "roof",
                under: z.site.clone(),
                outcome,
                value: None,
                limit: None,
                detail,
            });
        }
    }
    // The setback: the strictest of the zones it stands in, from the nearest core site.
    if let Some((z, setback)) = hit
        .iter()
        .filter_map(|z| z.setback_m.map(|s| (z, s)))
        .max_by(|a, b| a.1.total_cmp(&b.1))
    {
        let fp = Geometry::MultiPolygon(p.footprint.clone());
        let nearest = rules
            .zones
            .iter()
            .filter(|c| c.kind == ZoneKind::Core)
            .map(|c| {
                (
                    c,
                    Euclidean
                        .distance(&fp, &Geometry::MultiPolygon(sites[c.index].polygon.clone())),
                )
            })
            .min_by(|a, b| a.1.total_cmp(&b.1));
        if let Some((c, d)) = nearest {
            let ok = d >= setback;
            out.push(RuleResult {
                rule: "setback",
                under: z.site.clone(),
                outcome: if ok { Outcome::Pass } else { Outcome::Fail },
                value: Some(d),
                limit: Some(setback),
                detail: format!(
                    "{:.1} m from {} (core), the setback is {setback:.1} m",
                    d,
                    c.name.as_deref().unwrap_or(&c.site)
                ),
            });
        }
    }
    let top = p.top_m();
    for v in &rules.views {
        if let Some((excess, plane, d)) = plane_excess(v, &p.footprint, top) {
            let ok = excess <= 0.0;
            out.push(RuleResult {
                rule: "protected_view",
                under: v.rule.id.clone(),
                outcome: if ok { Outcome::Pass } else { Outcome::Fail },
                value: Some(top),
                limit: Some(plane),
                detail: format!(
                    "{}: top {top:.2} m {} the threshold plane at {plane:.2} m ({d:.0} m from {} towards {}; curvature coefficient {}){}",
                    v.rule.name,
                    if ok { "below" } else { "above" },
                    v.rule.assessment.name.as_deref().unwrap_or("the assessment point"),
                    v.rule.landmark.name.as_deref().unwrap_or("the landmark"),
                    v.plane.cc,
                    if ok { String::new() } else { format!(" by {excess:.2} m") }
                ),
            });
        }
    }
    sightline_rows(twin, rules, p, &mut out);
    let permitted = out.iter().all(|r| r.outcome != Outcome::Fail);
    Verdict {
        area_m2: p.footprint.unsigned_area(),
        top_m: top,
        permitted,
        zones: hit.into_iter().map(zone_hit).collect(),
        rules: out,
        proposal: p.clone(),
    }
}

/// The bounding box ([xmin, ymin, xmax, ymax], project CRS) of every protected sightline's
/// two ends and monument outline; None when there is no sightline.
fn sightlines_bbox(twin: &Twin, rules: &Rules) -> Option<[f64; 4]> {
    use geo::BoundingRect;
    let sites = twin.heritage.features();
    let mut bbox = [
        f64::INFINITY,
        f64::INFINITY,
        f64::NEG_INFINITY,
        f64::NEG_INFINITY,
    ];
    let mut grow = |x: f64, y: f64| {
        bbox = [
            bbox[0].min(x),
            bbox[1].min(y),
            bbox[2].max(x),
            bbox[3].max(y),
        ];
    };
    for l in &rules.sightlines {
        grow(l.from[0], l.from[1]);
        grow(l.to[0], l.to[1]);
        if let Some(r) = sites[l.site_index].polygon.bounding_rect() {
            grow(r.min().x, r.min().y);
            grow(r.max().x, r.max().y);
        }
    }
    bbox[0].is_finite().then_some(bbox)
}

/// The scene the protected sightlines are cast in: the buildings, the terrain around every
/// sightline and monument (see [`crate::sight::twin_scene`]).
pub fn sightline_scene(twin: &Twin, rules: &Rules) -> crate::sight::Scene {
    // A margin of one DEM cell and a bit around the sightlines' box.
    let bbox =
        sightlines_bbox(twin, rules).map(|b| [b[0] - 50.0, b[1] - 50.0, b[2] + 50.0, b[3] + 50.0]);
    crate::sight::twin_scene(twin, bbox, None)
}

/// The triangles of a proposal alone (solid 0).
pub fn proposal_scene(p: &Proposal) -> crate::sight::Scene {
    let mut tris = Vec::new();
    crate::sight::prism(&p.footprint, p.base_m, p.top_m(), 0, &mut tris);
    crate::sight::Scene::new(tris)
}

/// One protected sightline cast with and without a proposal.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct SightlineCast {
    /// The rule's id.
    pub id: String,
    /// The viewpoint's name.
    pub from_name: Option<String>,
    /// The monument's twin id.
    pub site: String,
    /// Its name.
    pub site_name: Option<String>,
    /// The eye (project CRS x, y, orthometric z).
    pub from: [f64; 3],
    /// The point aimed at.
    pub to: [f64; 3],
    /// Where the terrain or the existing buildings first block it, if they do.
    pub blocked_at: Option<[f64; 3]>,
    /// Where the proposal blocks it (when a proposal is given and it does).
    pub proposal_blocks_at: Option<[f64; 3]>,
}

impl SightlineCast {
    /// Whether it is blocked (today, or with the proposal).
    pub fn blocked(&self) -> bool {
        self.blocked_at.is_some() || self.proposal_blocks_at.is_some()
    }
}

fn at(a: [f64; 3], b: [f64; 3], t: f64) -> [f64; 3] {
    [
        a[0] + t * (b[0] - a[0]),
        a[1] + t * (b[1] - a[1]),
        a[2] + t * (b[2] - a[2]),
    ]
}

/// Every protected sightline cast against the terrain and the buildings, and against the
/// proposal when given: clear, or where it is first blocked.
pub fn cast_sightlines(twin: &Twin, rules: &Rules, p: Option<&Proposal>) -> Vec<SightlineCast> {
    if rules.sightlines.is_empty() {
        return Vec::new();
    }
    let scene = sightline_scene(twin, rules);
    let proposal = p.map(proposal_scene);
    rules
        .sightlines
        .iter()
        .map(|l| SightlineCast {
            id: l.id.clone(),
            from_name: l.from_name.clone(),
            site: l.site.clone(),
            site_name: l.site_name.clone(),
            from: l.from,
            to: l.to,
            blocked_at: scene.first_hit(l.from, l.to).map(|t| at(l.from, l.to, t)),
            proposal_blocks_at: proposal
                .as_ref()
                .and_then(|s| s.first_hit(l.from, l.to))
                .map(|t| at(l.from, l.to, t)),
        })
        .collect()
}

/// The sightlines whose ground track crosses the proposal's footprint: clear before and blocked
/// with the proposal (fail), clear with it (pass), or already blocked by the terrain or existing
/// buildings (pass, said so); and, for every sightline whose view cone (the viewpoint and its
/// monument's outline) the proposal enters, the share of the monument's visible surface it
/// hides ([`crate::visible`]) against the rule's largest share. Cast by [`crate::sight`] on a
/// flat Earth: over the 4 km of the royal axis the curvature term is under 0.3 m.
fn sightline_rows(twin: &Twin, rules: &Rules, p: &Proposal, out: &mut Vec<RuleResult>) {
    use geo::ConvexHull;
    let track = |l: &crate::rules::Sightline| {
        geo_types::Line::new(
            geo_types::coord! { x: l.from[0], y: l.from[1] },
            geo_types::coord! { x: l.to[0], y: l.to[1] },
        )
    };
    let solids: Vec<Vec<crate::visible::Solid>> = rules
        .sightlines
        .iter()
        .map(|l| crate::visible::monument_solids(twin, l.site_index, l.monument_height_m))
        .collect();
    let in_cone: Vec<bool> = rules
        .sightlines
        .iter()
        .zip(&solids)
        .map(|(l, s)| {
            let mut pts = vec![geo_types::Point::new(l.from[0], l.from[1])];
            for solid in s {
                for poly in &solid.footprint.0 {
                    pts.extend(poly.exterior().points());
                }
            }
            p.footprint
                .intersects(&geo_types::MultiPoint(pts).convex_hull())
        })
        .collect();
    let crossing: Vec<bool> = rules
        .sightlines
        .iter()
        .map(|l| p.footprint.intersects(&track(l)))
        .collect();
    if !crossing.iter().chain(&in_cone).any(|&c| c) {
        return;
    }
    let scene = sightline_scene(twin, rules);
    let proposal = proposal_scene(p);
    for (l, _) in rules.sightlines.iter().zip(&crossing).filter(|(_, c)| **c) {
        let before = scene.occluded(l.from, l.to);
        let by_proposal = proposal.occluded(l.from, l.to);
        let (outcome, what) = match (before, by_proposal) {
            (false, true) => (Outcome::Fail, "clear today, blocked by the proposal"),
            (false, false) => (Outcome::Pass, "clear with the proposal"),
            (true, _) => (
                Outcome::Pass,
                "already blocked by the terrain or existing buildings",
            ),
        };
        out.push(RuleResult {
            rule: "sightline",
            under: l.id.clone(),
            outcome,
            value: None,
            limit: None,
            detail: format!(
                "{} ({:.1} m) to {} ({:.1} m): {what}",
                l.from_name.as_deref().unwrap_or("viewpoint"),
                l.from[2],
                l.site_name.as_deref().unwrap_or(&l.site),
                l.to[2]
            ),
        });
    }
    for ((l, s), _) in rules
        .sightlines
        .iter()
        .zip(&solids)
        .zip(&in_cone)
        .filter(|(_, c)| **c)
    {
        let (samples, own) = crate::visible::monument_samples(s);
        let loss = crate::visible::area_lost(&[&scene, &own], &proposal, l.from, &samples);
        let pct = 100.0 * loss.fraction();
        let limit = l.max_visible_area_lost_pct;
        let ok = pct <= limit;
        out.push(RuleResult {
            rule: "visible_area_lost",
            under: format!("{} {}", l.id, l.site),
            outcome: if ok { Outcome::Pass } else { Outcome::Fail },
            value: Some(pct),
            limit: Some(limit),
            detail: format!(
                "{} from {}: the proposal hides {:.1} % of its visible surface ({} of {} points seen of {} sampled), {} the limit of {limit:.1} %",
                l.site_name.as_deref().unwrap_or(&l.site),
                l.from_name.as_deref().unwrap_or("the viewpoint"),
                pct,
                loss.lost,
                loss.visible,
                loss.samples,
                if ok { "within" } else { "over" },
            ),
        });
    }
}

/// An existing building that breaks a rule.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Breach {
    /// The building's id.
    pub building: String,
    /// Its name.
    pub name: Option<String>,
    /// The rule: `height_limit` or `protected_view`.
    pub rule: &'static str,
    /// The zone's site or the view's id.
    pub under: String,
    /// Its number: height (m above ground) or top (orthometric m).
    pub value: f64,
    /// The limit: height limit, or the threshold plane's height there.
    pub limit: f64,
    /// By how much (m).
    pub excess: f64,
}

/// The existing buildings that break the height limits of the buffer zones and view corridors
/// and the protected views' threshold planes, the largest excess first within each rule.
pub fn breaches(twin: &Twin, rules: &Rules) -> Vec<Breach> {
    let sites = twin.heritage.features();
    let b = twin.buildings.features();
    let mut out = Vec::new();
    for z in &rules.zones {
        let (Some(limit), true) = (z.height_limit_m, z.kind != ZoneKind::Core) else {
            continue;
        };
        let Ok(found) = twin.buildings.query_multipolygon(&sites[z.index].polygon) else {
            continue;
        };
        let mut rows: Vec<Breach> = found
            .into_iter()
            .map(|i| &b[i])
            .filter(|x| x.height > limit)
            .map(|x| Breach {
                building: x.id.clone(),
                name: x.name.clone(),
                rule: "height_limit",
                under: z.site.clone(),
                value: x.height,
                limit,
                excess: x.height - limit,
            })
            .collect();
        rows.sort_by(|a, b| b.excess.total_cmp(&a.excess));
        out.extend(rows);
    }
    for v in &rules.views {
        let Ok(found) = twin.buildings.query_multipolygon(&v.corridor) else {
            continue;
        };
        let mut rows: Vec<Breach> = found
            .into_iter()
            .map(|i| &b[i])
            .filter_map(|x| {
                let top = twin_core::ground::building_base(&twin.terrain, x) + x.height;
                let (excess, plane, _) = plane_excess(v, &x.footprint, top)?;
                (excess > 0.0).then(|| Breach {
                    building: x.id.clone(),
                    name: x.name.clone(),
                    rule: "protected_view",
                    under: v.rule.id.clone(),
                    value: top,
                    limit: plane,
                    excess,
                })
            })
            .collect();
        rows.sort_by(|a, b| b.excess.total_cmp(&a.excess));
        out.extend(rows);
    }
    out
}
