//! CRS checks against a second route: the point's VN-2000 coordinates are computed here with
//! textbook formulas (WGS84 -> ECEF -> the official VN-2000 7-parameter Helmert, Decision
//! 05/2007/QD-BTNMT = EPSG:6960 -> geodetic -> Krüger transverse Mercator), then PROJ must bring
//! them back to the same UTM 48N position as the WGS84 input.

mod common;
use common::*;
use twin_core::import::import_file;
use twin_core::Transform;

const A: f64 = 6_378_137.0;
const F: f64 = 1.0 / 298.257_223_563;

fn to_ecef(lon: f64, lat: f64, h: f64) -> [f64; 3] {
    let e2 = F * (2.0 - F);
    let (l, p) = (lon.to_radians(), lat.to_radians());
    let n = A / (1.0 - e2 * p.sin().powi(2)).sqrt();
    [
        (n + h) * p.cos() * l.cos(),
        (n + h) * p.cos() * l.sin(),
        (n * (1.0 - e2) + h) * p.sin(),
    ]
}

fn from_ecef(x: [f64; 3]) -> (f64, f64) {
    let e2 = F * (2.0 - F);
    let p = x[0].hypot(x[1]);
    let mut lat = (x[2] / (p * (1.0 - e2))).atan();
    for _ in 0..10 {
        let n = A / (1.0 - e2 * lat.sin().powi(2)).sqrt();
        let h = p / lat.cos() - n;
        lat = (x[2] / (p * (1.0 - e2 * n / (n + h)))).atan();
    }
    (x[1].atan2(x[0]).to_degrees(), lat.to_degrees())
}

/// WGS84 ECEF -> VN-2000 ECEF: inverse of the coordinate-frame Helmert VN-2000 -> WGS84.
fn wgs84_to_vn2000(w: [f64; 3]) -> [f64; 3] {
    let t = [-191.904_414_29, -39.303_182_79, -111.450_328_35];
    let sec = std::f64::consts::PI / (180.0 * 3600.0);
    let (rx, ry, rz) = (-0.009_288_36 * sec, 0.019_754_79 * sec, -0.004_273_72 * sec);
    let s = 1.0 + 0.252_906_278e-6;
    // Forward (coordinate frame): X_w = T + s * R * X_v, R = [[1, rz, -ry], [-rz, 1, rx], [ry, -rx, 1]].
    let r = [[1.0, rz, -ry], [-rz, 1.0, rx], [ry, -rx, 1.0]];
    let d = [(w[0] - t[0]) / s, (w[1] - t[1]) / s, (w[2] - t[2]) / s];
    // Inverse of the near-identity rotation, solved to double precision by iteration.
    let mut v = d;
    for _ in 0..5 {
        let rv = [
            r[0][0] * v[0] + r[0][1] * v[1] + r[0][2] * v[2],
            r[1][0] * v[0] + r[1][1] * v[1] + r[1][2] * v[2],
            r[2][0] * v[0] + r[2][1] * v[1] + r[2][2] * v[2],
        ];
        v = [
            v[0] + d[0] - rv[0],
            v[1] + d[1] - rv[1],
            v[2] + d[2] - rv[2],
        ];
    }
    v
}

/// Transverse Mercator by Krüger's series (Karney 2011, 4th order in n).
fn tm(lon: f64, lat: f64, lon0: f64, k0: f64, fe: f64) -> (f64, f64) {
    let n = F / (2.0 - F);
    let big_a = A / (1.0 + n) * (1.0 + n * n / 4.0 + n.powi(4) / 64.0);
    let alpha = [
        n / 2.0 - 2.0 * n * n / 3.0 + 5.0 * n.powi(3) / 16.0 + 41.0 * n.powi(4) / 180.0,
        13.0 * n * n / 48.0 - 3.0 * n.powi(3) / 5.0 + 557.0 * n.powi(4) / 1440.0,
        61.0 * n.powi(3) / 240.0 - 103.0 * n.powi(4) / 140.0,
        49561.0 * n.powi(4) / 161280.0,
    ];
    let e = 2.0 * n.sqrt() / (1.0 + n);
    let (phi, lam) = (lat.to_radians(), (lon - lon0).to_radians());
    let t = (phi.sin().atanh() - e * (e * phi.sin()).atanh()).sinh();
    let xi = t.atan2(lam.cos());
    let eta = (lam.sin() / (1.0 + t * t).sqrt()).atanh();
    let (mut x, mut y) = (eta, xi);
    for (j, a) in alpha.iter().enumerate() {
        let k = 2.0 * (j + 1) as f64;
        x += a * (k * xi).cos() * (k * eta).sinh();
        y += a * (k * xi).sin() * (k * eta).cosh();
    }
    (fe + k0 * big_a * x, k0 * big_a * y)
}

#[test]
fn a_point_in_wgs84_utm48_and_vn2000_lands_in_the_same_place() {
    // Ngo Mon gate, Hue.
    let (lon, lat) = (107.579_1, 16.466_9);
    let utm = Transform::between("EPSG:4326", "EPSG:32648")
        .unwrap()
        .apply(lon, lat)
        .unwrap();

    // The formulas here reproduce PROJ's UTM to the millimetre (checks the second route itself).
    let mine = tm(lon, lat, 105.0, 0.9996, 500_000.0);
    assert!(
        (mine.0 - utm.0).abs() < 1e-3 && (mine.1 - utm.1).abs() < 1e-3,
        "{mine:?} vs {utm:?}"
    );

    let (vlon, vlat) = from_ecef(wgs84_to_vn2000(to_ecef(lon, lat, 0.0)));
    let shift = ((vlon - lon).to_radians() * A * lat.to_radians().cos())
        .hypot((vlat - lat).to_radians() * A);
    assert!(
        shift > 50.0,
        "VN-2000 and WGS84 differ by a few hundred metres here, got {shift} m"
    );

    for (code, lon0, k0) in [("EPSG:3405", 105.0, 0.9996), ("EPSG:9214", 107.0, 0.9999)] {
        let vn = tm(vlon, vlat, lon0, k0, 500_000.0);
        let back = Transform::between(code, "EPSG:32648")
            .unwrap()
            .apply(vn.0, vn.1)
            .unwrap();
        let err = (back.0 - utm.0).hypot(back.1 - utm.1);
        assert!(
            err < 0.05,
            "{code}: {err:.3} m from the WGS84 route ({back:?} vs {utm:?})"
        );
    }

    // The same through an importer: a sensor file in VN-2000 / TM-3 107-00.
    let vn = tm(vlon, vlat, 107.0, 0.9999, 500_000.0);
    let dir = tempfile::tempdir().unwrap();
    let csv = dir.path().join("gauges.csv");
    std::fs::write(
        &csv,
        format!(
            "id,kind,unit,x,y\nngo-mon,marker,m,{:.4},{:.4}\n",
            vn.0, vn.1
        ),
    )
    .unwrap();
    let mut o = opts("EPSG:32648");
    o.source_crs = Some(twin_core::Crs::epsg(9214).unwrap());
    let imp = import_file(&csv, &o, &NO).unwrap();
    let p = imp.sensors[0].location;
    assert!(
        (p.x() - utm.0).hypot(p.y() - utm.1) < 0.05,
        "{p:?} vs {utm:?}"
    );
}

#[test]
fn unknown_or_unusable_crs_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let csv = dir.path().join("s.csv");
    std::fs::write(&csv, "id,kind,unit,lon,lat\na,rain_gauge,mm,107.5,16.4\n").unwrap();
    let e = twin_core::Crs::parse("EPSG:123456789")
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("EPSG:123456789") && e.contains("unknown CRS"),
        "{e}"
    );
    // A geographic project CRS is refused.
    let e = twin_core::Twin::new("x", twin_core::Crs::wgs84())
        .unwrap_err()
        .to_string();
    assert!(e.contains("metric"), "{e}");
    // Out-of-range lon/lat is refused with the file and line.
    std::fs::write(&csv, "id,kind,unit,lon,lat\na,rain_gauge,mm,1075,16.4\n").unwrap();
    let e = import_file(&csv, &opts("EPSG:32648"), &NO)
        .unwrap_err()
        .to_string();
    assert!(e.contains("s.csv") && e.contains("line 2"), "{e}");
    std::fs::write(&csv, "id,kind,unit,lon,lat\na,rain_gauge,mm,NaN,16.4\n").unwrap();
    let e = import_file(&csv, &opts("EPSG:32648"), &NO)
        .unwrap_err()
        .to_string();
    assert!(e.contains("s.csv") && e.contains("not finite"), "{e}");
}
