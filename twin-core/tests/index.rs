//! R-tree queries against brute force, with property tests.

use geo::{Distance, Euclidean, Intersects};
use geo_types::{coord, Geometry, LineString, Point, Polygon, Rect};
use proptest::prelude::*;
use twin_core::index::{Feature, Layer};

#[derive(Clone, Debug)]
struct F {
    id: String,
    g: Geometry<f64>,
}
impl Feature for F {
    fn id(&self) -> &str {
        &self.id
    }
    fn geometry(&self) -> Geometry<f64> {
        self.g.clone()
    }
}

/// Random boxes (buildings), segments (roads) and points (sensors) on a 1 km square.
fn features() -> impl Strategy<Value = Vec<F>> {
    prop::collection::vec(
        (
            0u8..3,
            0.0..1000.0f64,
            0.0..1000.0f64,
            1.0..40.0f64,
            1.0..40.0f64,
        ),
        1..300,
    )
    .prop_map(|v| {
        v.into_iter()
            .enumerate()
            .map(|(i, (kind, x, y, w, h))| {
                let g = match kind {
                    0 => Geometry::Polygon(
                        Rect::new(coord! {x: x, y: y}, coord! {x: x + w, y: y + h}).to_polygon(),
                    ),
                    1 => Geometry::LineString(LineString::from(vec![(x, y), (x + w, y + h)])),
                    _ => Geometry::Point(Point::new(x, y)),
                };
                F {
                    id: format!("f{i}"),
                    g,
                }
            })
            .collect()
    })
}

fn dist(p: Point<f64>, g: &Geometry<f64>) -> f64 {
    Euclidean.distance(&p, g)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn bbox_matches_brute_force(fs in features(), x in 0.0..1000.0f64, y in 0.0..1000.0f64, w in 0.0..300.0f64, h in 0.0..300.0f64) {
        let layer = Layer::new(fs.clone()).unwrap();
        let r = Rect::new(coord! {x: x, y: y}, coord! {x: x + w, y: y + h});
        let brute: Vec<usize> = fs.iter().enumerate().filter(|(_, f)| f.g.intersects(&r)).map(|(i, _)| i).collect();
        prop_assert_eq!(layer.query_bbox(r).unwrap(), brute);
    }

    #[test]
    fn radius_matches_brute_force(fs in features(), x in 0.0..1000.0f64, y in 0.0..1000.0f64, r in 0.0..200.0f64) {
        let layer = Layer::new(fs.clone()).unwrap();
        let p = Point::new(x, y);
        let mut brute: Vec<usize> = fs.iter().enumerate().filter(|(_, f)| dist(p, &f.g) <= r).map(|(i, _)| i).collect();
        let mut got: Vec<usize> = layer.query_radius(p, r).unwrap().into_iter().map(|(i, d)| {
            assert!((d - dist(p, &fs[i].g)).abs() < 1e-9);
            i
        }).collect();
        // Sorted by distance: compare as sets, then check the order.
        let dists: Vec<f64> = layer.query_radius(p, r).unwrap().iter().map(|x| x.1).collect();
        prop_assert!(dists.windows(2).all(|w| w[0] <= w[1]));
        brute.sort_unstable();
        got.sort_unstable();
        prop_assert_eq!(got, brute);
    }

    #[test]
    fn nearest_matches_brute_force(fs in features(), x in -100.0..1100.0f64, y in -100.0..1100.0f64, k in 1usize..20) {
        let layer = Layer::new(fs.clone()).unwrap();
        let p = Point::new(x, y);
        let mut all: Vec<f64> = fs.iter().map(|f| dist(p, &f.g)).collect();
        all.sort_by(f64::total_cmp);
        let got: Vec<f64> = layer.query_nearest(p, k).unwrap().into_iter().map(|(_, d)| d).collect();
        prop_assert_eq!(got.len(), k.min(fs.len()));
        // Ties may pick different features, so compare the distances.
        for (a, b) in got.iter().zip(&all) {
            prop_assert!((a - b).abs() < 1e-9, "{} vs {}", a, b);
        }
    }

    #[test]
    fn polygon_matches_brute_force(fs in features(), cx in 0.0..1000.0f64, cy in 0.0..1000.0f64, r in 10.0..300.0f64) {
        let layer = Layer::new(fs.clone()).unwrap();
        // A triangle.
        let poly = Polygon::new(LineString::from(vec![(cx, cy), (cx + r, cy), (cx, cy + r), (cx, cy)]), vec![]);
        let brute: Vec<usize> = fs.iter().enumerate().filter(|(_, f)| f.g.intersects(&poly)).map(|(i, _)| i).collect();
        prop_assert_eq!(layer.query_polygon(&poly).unwrap(), brute);
    }
}

#[test]
fn bad_queries_are_errors_not_panics() {
    let layer = Layer::new(vec![F {
        id: "a".into(),
        g: Geometry::Point(Point::new(1.0, 1.0)),
    }])
    .unwrap();
    assert!(layer.query_nearest(Point::new(f64::NAN, 0.0), 3).is_err());
    assert!(layer.query_radius(Point::new(0.0, 0.0), -1.0).is_err());
    assert!(layer
        .query_radius(Point::new(0.0, 0.0), f64::INFINITY)
        .is_err());
    assert!(layer
        .query_bbox(Rect::new(
            coord! {x: 0.0, y: 0.0},
            coord! {x: f64::NAN, y: 1.0}
        ))
        .is_err());
    let dup = Layer::new(vec![
        F {
            id: "a".into(),
            g: Geometry::Point(Point::new(1.0, 1.0)),
        },
        F {
            id: "a".into(),
            g: Geometry::Point(Point::new(2.0, 1.0)),
        },
    ]);
    assert!(dup.unwrap_err().to_string().contains("duplicate"));
    assert_eq!(
        layer.query_nearest(Point::new(0.0, 0.0), 5).unwrap().len(),
        1
    );
}

#[test]
fn extend_adds_and_indexes_or_changes_nothing() {
    let p = |id: &str, x: f64| F {
        id: id.into(),
        g: Geometry::Point(Point::new(x, 0.0)),
    };
    let mut layer = Layer::new(vec![p("a", 0.0), p("b", 10.0)]).unwrap();
    layer.extend(vec![p("c", 20.0)]).unwrap();
    assert_eq!(
        layer.query_nearest(Point::new(19.0, 0.0), 1).unwrap()[0].0,
        2
    );
    assert_eq!(layer.by_id("c").unwrap().id, "c");
    // A clash (with the layer or inside the batch) leaves it as it was.
    assert!(layer.extend(vec![p("d", 30.0), p("a", 40.0)]).is_err());
    assert!(layer.extend(vec![p("e", 30.0), p("e", 40.0)]).is_err());
    assert_eq!(layer.len(), 3);
    assert!(layer.by_id("d").is_none());
    assert_eq!(
        layer.query_nearest(Point::new(35.0, 0.0), 1).unwrap()[0].0,
        2
    );
}
