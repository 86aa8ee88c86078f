//! Sensors: two river gauges on the Perfume River, rain gauges, and traffic cameras at major
//! junctions of the road network.

use super::geom::{Frame, P};
use super::roads::Link;
use super::water::Water;
use twin_core::error::{Result, TwinError};

/// A sensor row of `sensors.csv`.
#[derive(Clone, Debug)]
pub struct Sensor {
    /// Id.
    pub id: String,
    /// Kind.
    pub kind: &'static str,
    /// Unit of its readings.
    pub unit: &'static str,
    /// Position, local metres.
    pub at: P,
    /// Name.
    pub name: String,
}

/// The point `inset` metres into the Perfume River from the point of its outline nearest to
/// `near` (a public position on the bank).
fn gauge(water: &Water, near: P, inset: f64) -> Result<P> {
    water.bank_point(near, inset).ok_or_else(|| {
        TwinError::invalid(
            "sensors",
            "no Perfume River bank within 2 km of a river gauge",
        )
    })
}

/// Junctions where a traffic camera watches: the two roads (OSM names) that meet there. Real
/// junctions of the extract; the cameras themselves are made up.
const CAMERAS: [(&str, &str); 16] = [
    ("Lê Lợi", "Hùng Vương"),
    ("Cầu Phú Xuân", "Lê Lợi"),
    ("Bà Triệu", "Hùng Vương"),
    ("Hà Nội", "Lê Lợi"),
    ("Lê Lợi", "Nguyễn Huệ"),
    ("Lê Duẩn", "Trần Hưng Đạo"),
    ("Cầu Trường Tiền", "Trần Hưng Đạo"),
    ("Trần Hưng Đạo", "Đinh Tiên Hoàng"),
    ("Kim Long", "Lê Duẩn"),
    ("Lê Duẩn", "Nguyễn Trãi"),
    ("Mai Thúc Loan", "Đinh Tiên Hoàng"),
    ("Lê Ngô Cát", "Điện Biên Phủ"),
    ("Bà Triệu", "Phạm Văn Đồng"),
    ("Nguyễn Sinh Cung", "Đập Đá"),
    ("Lê Duẩn", "Tăng Bạt Hổ"),
    ("Huỳnh Thúc Kháng", "Trần Hưng Đạo"),
];

/// The sensors of the sample.
pub fn build(frame: &Frame, water: &Water, links: &[Link]) -> Result<Vec<Sensor>> {
    let ll = |lon: f64, lat: f64| frame.to_local(lon, lat);
    let mut out = vec![
        Sensor {
            id: "gauge-kim-long".into(),
            kind: "river_gauge",
            unit: "m",
            at: gauge(water, ll(107.5585, 16.4580), 8.0)?,
            name: "Kim Long river gauge (Perfume River)".into(),
        },
        Sensor {
            id: "gauge-phu-xuan".into(),
            kind: "river_gauge",
            unit: "m",
            at: gauge(water, ll(107.5895, 16.4675), 8.0)?,
            name: "Huế (Phú Xuân) river gauge near Trường Tiền bridge".into(),
        },
    ];
    for (id, name, lon, lat) in [
        (
            "rain-citadel",
            "Rain gauge, Citadel (Tây Lộc)",
            107.5712,
            16.4762,
        ),
        ("rain-kim-long", "Rain gauge, Kim Long", 107.5590, 16.4622),
        (
            "rain-vinh-ninh",
            "Rain gauge, Vĩnh Ninh (south bank)",
            107.5905,
            16.4625,
        ),
        ("rain-nam-giao", "Rain gauge, Nam Giao", 107.5855, 16.4420),
        (
            "rain-thuy-xuan",
            "Rain gauge, Thủy Xuân (tombs)",
            107.5735,
            16.4230,
        ),
    ] {
        out.push(Sensor {
            id: id.into(),
            kind: "rain_gauge",
            unit: "mm",
            at: ll(lon, lat),
            name: name.into(),
        });
    }
    for (i, (a, b)) in CAMERAS.iter().enumerate() {
        let at = junction(links, a, b).ok_or_else(|| {
            TwinError::invalid(
                "sensors",
                format!("no junction of {a} and {b} in the roads"),
            )
        })?;
        out.push(Sensor {
            id: format!("cam-{:02}", i + 1),
            kind: "traffic_camera",
            unit: "veh/h",
            at,
            name: format!("Camera {a} × {b}"),
        });
    }
    Ok(out)
}

/// A vertex shared by a link named `a` and a link named `b` (the first in coordinate order).
fn junction(links: &[Link], a: &str, b: &str) -> Option<P> {
    let nodes = |name: &str| -> std::collections::BTreeMap<(i64, i64), P> {
        links
            .iter()
            .filter(|l| l.name.as_deref() == Some(name))
            .flat_map(|l| l.nodes.iter().copied().zip(l.pts.iter().copied()))
            .collect()
    };
    let nb = nodes(b);
    nodes(a)
        .into_iter()
        .find(|(k, _)| nb.contains_key(k))
        .map(|(_, q)| q)
}

/// `sensors.csv`.
pub fn csv(frame: &Frame, sensors: &[Sensor]) -> String {
    let mut s = String::from("id,kind,unit,lon,lat,name\n");
    for x in sensors {
        let (lon, lat) = frame.to_lonlat(x.at);
        let name = if x.name.contains([',', '"']) {
            format!("\"{}\"", x.name.replace('"', "\"\""))
        } else {
            x.name.clone()
        };
        s.push_str(&format!(
            "{},{},{},{},{},{}\n",
            x.id,
            x.kind,
            x.unit,
            super::output::deg(lon),
            super::output::deg(lat),
            name
        ));
    }
    s
}
