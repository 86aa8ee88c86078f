//! `twin heritage check|breaches` on a copy of the sample twin: a 30 m proposal in the royal
//! axis corridor refused (status 2) naming the rule and its numbers, an 8 m one outside every
//! zone permitted, the corridor's breaches listed as JSON.

mod common;
use common::{copy_sample_twin, text, twin};

fn square(lon: f64, lat: f64, props: serde_json::Value) -> String {
    square_of(lon, lat, 20.0, props)
}

/// A square of `side` metres centred on (lon, lat), as a GeoJSON Feature.
fn square_of(lon: f64, lat: f64, side: f64, props: serde_json::Value) -> String {
    let (dx, dy) = (side / 2.0 / 106_700.0, side / 2.0 / 110_700.0);
    serde_json::json!({"type": "Feature", "properties": props, "geometry": {"type": "Polygon", "coordinates": [[
        [lon - dx, lat - dy], [lon + dx, lat - dy], [lon + dx, lat + dy], [lon - dx, lat + dy], [lon - dx, lat - dy]
    ]]}})
    .to_string()
}

/// 60 % of the way from Phu Văn Lâu to Ngự Bình (WGS84), in the royal axis corridor.
const AXIS_POINT: (f64, f64) = (
    107.5809 + (107.5961 - 107.5809) * 0.6,
    16.4655 + (16.4418 - 16.4655) * 0.6,
);

/// `<dir>/p30.geojson`: a 20 m square at [`AXIS_POINT`] with `props`.
fn axis_proposal(dir: &std::path::Path, props: serde_json::Value) -> std::path::PathBuf {
    let p = dir.join("p30.geojson");
    std::fs::write(&p, square(AXIS_POINT.0, AXIS_POINT.1, props)).unwrap();
    p
}

#[test]
fn check_and_breaches_on_the_sample_twin() {
    let dir = tempfile::tempdir().unwrap();
    let t = dir.path().join("hue");
    copy_sample_twin(&t);
    let ts = t.to_str().unwrap();
    let (lon, lat) = AXIS_POINT;
    let p30 = axis_proposal(
        dir.path(),
        serde_json::json!({"height": 30, "roof:shape": "hipped"}),
    );
    let o = twin(&["heritage", "check", ts, p30.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    let out = text(&o);
    assert!(out.contains("FAIL  height_limit    Royal axis sightline corridor: height 30.0 m over the limit of 14.0 m by 16.0 m"), "{out}");
    assert!(out.contains("pass  roof"), "{out}");
    assert!(out.contains("verdict: REFUSED"), "{out}");
    // The same as JSON: typed numbers.
    let o = twin(&["heritage", "check", ts, p30.to_str().unwrap(), "--json"]);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["permitted"], false);
    let rule = v["rules"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["rule"] == "height_limit")
        .unwrap();
    assert_eq!(
        (rule["value"].as_f64(), rule["limit"].as_f64()),
        (Some(30.0), Some(14.0))
    );
    assert_eq!(rule["outcome"], "fail");

    let p8 = dir.path().join("p8.geojson");
    std::fs::write(
        &p8,
        square(107.6050, 16.4620, serde_json::json!({"height": 8})),
    )
    .unwrap();
    let o = twin(&["heritage", "check", ts, p8.to_str().unwrap()]);
    assert!(o.status.success(), "{}", text(&o));
    assert!(
        text(&o).contains("zones: none") && text(&o).contains("verdict: permitted"),
        "{}",
        text(&o)
    );

    let o = twin(&["heritage", "breaches", ts, "--json"]);
    assert!(o.status.success(), "{}", text(&o));
    let rows: Vec<serde_json::Value> = serde_json::from_slice(&o.stdout).unwrap();
    let axis: Vec<_> = rows
        .iter()
        .filter(|r| r["under"] == "heritage:royal-axis")
        .collect();
    assert!(!axis.is_empty());
    assert!(axis
        .iter()
        .all(|r| r["value"].as_f64().unwrap() > 14.0 && r["limit"] == 14.0));

    // The viewshed from Ngự Bình's summit with a 60 m tower a kilometre down the axis: both
    // GeoTIFFs read by GDAL, the tower hiding cells.
    let out = dir.path().join("vs.tif");
    let (tlon, tlat) = (
        107.5961 + (107.5792 - 107.5961) * 0.3,
        16.4418 + (16.4677 - 16.4418) * 0.3,
    );
    let tower = dir.path().join("tower.geojson");
    // 60 m across: the viewshed's cells are 30 m; a building hides what covers their centres.
    std::fs::write(
        &tower,
        square_of(tlon, tlat, 60.0, serde_json::json!({"height": 60})),
    )
    .unwrap();
    let o = twin(&[
        "heritage",
        "viewshed",
        ts,
        "--lon",
        "107.5961",
        "--lat",
        "16.4418",
        "--max-distance",
        "4000",
        "--proposal",
        tower.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", text(&o));
    let said = text(&o);
    let hidden: usize = said
        .split("the proposal hides ")
        .nth(1)
        .and_then(|r| r.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("{said}"));
    assert!(hidden > 0, "{said}");
    for f in ["vs.tif", "vs_lost.tif"] {
        let info = std::process::Command::new("gdalinfo")
            .arg("-stats")
            .arg(dir.path().join(f))
            .output();
        if let Ok(info) = info {
            let info = String::from_utf8_lossy(&info.stdout).to_string();
            assert!(info.contains("Size is 400, 574"), "{info}");
            assert!(info.contains("UTM zone 48N"), "{info}");
        }
    }

    // Monument exposure: no run yet, then one flood run (alarm 3).
    let o = twin(&["heritage", "exposure", ts, "--json"]);
    assert!(o.status.success(), "{}", text(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["runs"].as_array().unwrap().len(), 0);
    let alarm = common::repo().join("scenarios/examples/hue/flood_alarm3.toml");
    let o = twin(&["scenario", "run", ts, alarm.to_str().unwrap()]);
    assert!(o.status.success(), "{}", text(&o));
    let o = twin(&["heritage", "exposure", ts, "--json"]);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["runs"].as_array().unwrap().len(), 1, "{v}");
    let m = v["monuments"].as_array().unwrap();
    assert!(m.len() > 10, "{v}");
    assert_eq!(m[0]["rank"], 1);
    let o = twin(&["heritage", "exposure", ts]);
    assert!(text(&o).contains("Hue Citadel walls"), "{}", text(&o));

    // The exposure report: its ranking and its run's table hold the JSON's numbers, row by row;
    // the PDF printed from it names the most exposed monument.
    let rep = dir.path().join("exposure");
    let o = twin(&[
        "heritage",
        "exposure",
        ts,
        "--json",
        "--out",
        rep.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", text(&o));
    let again: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(again, v, "--out changes nothing of the table");
    let html = std::fs::read_to_string(rep.join("exposure.html")).unwrap();
    assert!(!html.contains("src=\"http") && !html.contains("href=\"http"));
    let cells = |row: &str| -> Vec<String> {
        row.split("</td>")
            .filter_map(|c| c.rsplit('>').next())
            .filter(|c| !c.is_empty() && !c.contains('<'))
            .map(String::from)
            .collect()
    };
    let ranking: Vec<Vec<String>> = html
        .split("<tr class=\"monument\">")
        .skip(1)
        .map(|r| cells(r.split("</tr>").next().unwrap()))
        .collect();
    assert_eq!(ranking.len(), m.len());
    for (row, j) in ranking.iter().zip(m) {
        assert_eq!(row[0], j["rank"].to_string(), "{row:?}");
        assert!(
            row.contains(&j["site"].as_str().unwrap().to_string()),
            "{row:?}"
        );
        assert_eq!(
            row.last().unwrap(),
            &format!("{:.2}", j["worst_depth_m"].as_f64().unwrap()),
            "{row:?}"
        );
    }
    let per_run: Vec<Vec<String>> = html
        .split("<tr class=\"exposure\">")
        .skip(1)
        .map(|r| cells(r.split("</tr>").next().unwrap()))
        .collect();
    let in_run = m.iter().filter(|j| !j["runs"][0].is_null()).count();
    assert_eq!(per_run.len(), in_run);
    // The run's table starts with its wettest monument, the ranking's first with one run.
    let first = &m[0]["runs"][0];
    assert!(per_run[0].contains(&m[0]["site"].as_str().unwrap().to_string()));
    assert!(per_run[0].contains(&format!("{:.2}", first["max_depth_m"].as_f64().unwrap())));
    assert!(per_run[0].contains(&format!("{:.1}", first["hours_wet"].as_f64().unwrap())));
    assert!(html.contains("<svg class=\"chart\"") && html.contains("class=\"bar\""));
    let pdf = rep.join("exposure.pdf");
    assert!(pdf.is_file(), "no PDF: {}", text(&o));
    let t = std::process::Command::new("pdftotext")
        .arg(&pdf)
        .arg("-")
        .output()
        .expect("pdftotext");
    let t = String::from_utf8_lossy(&t.stdout)
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ");
    assert!(t.contains("Monument flood exposure"), "{t}");
    let top = m[0]["name"]
        .as_str()
        .unwrap_or(m[0]["site"].as_str().unwrap());
    assert!(t.contains(top), "{top} not in {t}");

    // Floor levels (the sample's illustrative `floor_m`): typed in the JSON, the depth above
    // the floor the largest depth less the floor, shown in the text table and the report.
    let pvl = m
        .iter()
        .find(|j| j["site"] == "heritage:phu-van-lau")
        .expect("Phu Van Lau in the run");
    let floor = pvl["floor_m"].as_f64().expect("a typed floor level");
    let e = &pvl["runs"][0];
    let depth = e["max_depth_m"].as_f64().unwrap();
    let above = e["above_floor_m"].as_f64().unwrap();
    assert_eq!(above, (depth - floor).max(0.0), "{pvl}");
    let hours = e["hours_above_floor"]
        .as_f64()
        .expect("the run keeps snapshots");
    assert!(
        hours >= 0.0 && hours <= e["hours_wet"].as_f64().unwrap() + 1.0,
        "{pvl}"
    );
    let walls = m
        .iter()
        .find(|j| j["site"] == "heritage:kinh-thanh-walls")
        .unwrap();
    assert!(walls["floor_m"].is_null() && walls["runs"][0]["above_floor_m"].is_null());
    let o = twin(&["heritage", "exposure", ts]);
    let line = text(&o)
        .lines()
        .find(|l| l.contains("Phu Van Lau pavilion"))
        .map(String::from)
        .unwrap();
    assert!(
        line.contains(&format!("{floor:.2}")) && line.contains(&format!("/{above:.2}/{hours:.1}")),
        "{line}"
    );
    let row = per_run
        .iter()
        .find(|r| r.contains(&"heritage:phu-van-lau".to_string()))
        .unwrap();
    assert_eq!(
        row[row.len() - 3..],
        [
            format!("{floor:.2}"),
            format!("{above:.2}"),
            format!("{hours:.1}")
        ],
        "{row:?}"
    );
    eprintln!(
        "Phu Van Lau at alarm 3: {depth:.2} m deep, floor {floor} m, {above:.2} m above it for {hours:.2} h"
    );

    // The run's map from the wgpu renderer: the largest depth in the water tiles' depth
    // classes. At the exposed monuments (the cells their depth is read on, from the run's own
    // rasters) the centre pixel of a wet cell has its depth's class colour, unless a building,
    // a road or an outline covers it; no dry cell shows a class colour.
    exposure_map_pixels(
        std::path::Path::new(ts),
        &html,
        v["runs"][0]["id"].as_str().unwrap(),
        m,
    );
    // The run's perspective view of its most exposed monument: named with its numbers in the
    // caption, its magenta outline about the picture's centre, the water in depth classes.
    exposure_view_pixels(
        std::path::Path::new(ts),
        &html,
        v["runs"][0]["id"].as_str().unwrap(),
        m,
    );
    // --no-pictures: the same report without the maps.
    let plain = dir.path().join("exposure-plain");
    let o = twin(&[
        "heritage",
        "exposure",
        ts,
        "--no-pictures",
        "--out",
        plain.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", text(&o));
    let p = std::fs::read_to_string(plain.join("exposure.html")).unwrap();
    assert!(!p.contains("<figure") && p.contains("<tr class=\"exposure\">"));
    assert!(html.contains("<figure class=\"picture run-map\""));

    // A proposal with no height is refused plainly.
    let bad = dir.path().join("bad.geojson");
    std::fs::write(&bad, square(lon, lat, serde_json::json!({}))).unwrap();
    let o = twin(&["heritage", "check", ts, bad.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        text(&o).contains("neither `height` (m) nor `storeys` given"),
        "{}",
        text(&o)
    );
}

/// Checks the exposure report's perspective view of run `run` (`m`: the JSON table's
/// monuments). The monument it shows is found here from the table and the twin's heritage
/// layer (of the monuments the run wets, the deepest with an OSM outline, else the deepest);
/// the caption names it with its largest depth and its depth above the floor. The picture is
/// 900 × 600; pixels of the outline's colour ([`heritage::report::EXPOSED_MONUMENT_RGB`]) are
/// counted in the middle half of the picture (both ways) and must be most of those in the
/// whole picture; pixels in a water depth class's colour, the legend's corner (bottom left)
/// left out, must be a share of the rest, in at least two classes.
fn exposure_view_pixels(t: &std::path::Path, html: &str, run: &str, m: &[serde_json::Value]) {
    let fig = html
        .split("<figure class=\"picture run-view\"")
        .nth(1)
        .expect("a perspective view for the run")
        .split("</figure>")
        .next()
        .unwrap();
    assert!(fig.contains(&format!("data-run=\"{run}\"")), "{fig:.200}");
    assert!(!fig.contains("data-frame"), "{fig:.200}");
    let caption = fig
        .split("<figcaption>")
        .nth(1)
        .and_then(|c| c.split("</figcaption>").next())
        .unwrap()
        .replace("&#39;", "'");
    // The monument the view should show, from the table and the heritage layer.
    let twin = twin_core::TwinDir::open(t).unwrap().load().unwrap();
    let osm = |site: &str| {
        twin.heritage
            .features()
            .iter()
            .find(|h| h.id == site)
            .is_some_and(|h| h.attributes.contains_key("osm_id"))
    };
    let mut best: Option<(bool, f64, &serde_json::Value)> = None;
    for j in m {
        let Some(d) = j["runs"][0]["max_depth_m"].as_f64() else {
            continue;
        };
        if d < renderer::render::colour::WET_THRESHOLD_M {
            continue;
        }
        let key = (osm(j["site"].as_str().unwrap()), d);
        if best.is_none_or(|(o, bd, _)| key > (o, bd)) {
            best = Some((key.0, key.1, j));
        }
    }
    let (with_osm, depth, j) = best.expect("the run wets a monument");
    let name = j["name"].as_str().unwrap_or(j["site"].as_str().unwrap());
    assert!(
        with_osm,
        "the sample's most exposed monuments have OSM outlines"
    );
    assert!(
        caption.contains(&format!(": {name}, "))
            && caption.contains(&format!("{depth:.2} m deep at most")),
        "{caption}"
    );
    match (
        j["floor_m"].as_f64(),
        j["runs"][0]["above_floor_m"].as_f64(),
    ) {
        (Some(f), Some(a)) => assert!(
            caption.contains(&format!("{a:.2} m above its floor ({f:.2} m")),
            "{caption}"
        ),
        _ => assert!(caption.contains("floor level not known"), "{caption}"),
    }
    let (img, saved) = figure_png(fig, "exposure_view.png");
    assert_eq!((img.width, img.height), (900, 600));
    let near = |a: [u8; 4], b: [u8; 3]| (0..3).all(|k| a[k].abs_diff(b[k]) <= 2);
    let classes: Vec<[u8; 3]> = tiles3d::water::DEPTH_CLASSES
        .iter()
        .map(|c| c.srgb8())
        .collect();
    let (w, h) = (img.width, img.height);
    let (mut outline_centre, mut outline_all) = (0usize, 0usize);
    let (mut counted, mut water) = (0usize, 0usize);
    let mut per_class = vec![0usize; classes.len()];
    for y in 0..h {
        for x in 0..w {
            let p = img.pixel(x, y);
            if near(p, heritage::report::EXPOSED_MONUMENT_RGB) {
                outline_all += 1;
                if (w / 4..3 * w / 4).contains(&x) && (h / 4..3 * h / 4).contains(&y) {
                    outline_centre += 1;
                }
            }
            if x < w / 2 && y > h / 2 {
                continue;
            }
            counted += 1;
            if let Some(k) = classes.iter().position(|c| near(p, *c)) {
                water += 1;
                per_class[k] += 1;
            }
        }
    }
    eprintln!(
        "exposure view {w}x{h} px of {name} ({depth:.2} m): {outline_centre} of {outline_all} outline pixels in the middle half; {water} of {counted} pixels ({:.1} %) in a depth class colour, by class (deepest first) {per_class:?}; saved {}",
        100.0 * water as f64 / counted as f64,
        saved.display()
    );
    assert!(outline_centre >= 200, "{outline_centre}");
    assert!(
        outline_centre * 10 >= outline_all * 9,
        "{outline_centre} of {outline_all}"
    );
    assert!(water * 20 >= counted, "{water} of {counted}");
    assert!(
        per_class.iter().filter(|n| **n > 0).count() >= 2,
        "{per_class:?}"
    );
}

/// The PNG embedded (as a data URI) in an HTML figure, decoded; also saved under the test's
/// temporary folder as `name` for a person to look at (the path is returned).
fn figure_png(fig: &str, name: &str) -> (renderer::render::Image, std::path::PathBuf) {
    use base64::Engine;
    let data = fig
        .split("base64,")
        .nth(1)
        .unwrap()
        .split('"')
        .next()
        .unwrap();
    let png = base64::engine::general_purpose::STANDARD
        .decode(data)
        .unwrap();
    let saved = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join(name);
    std::fs::write(&saved, &png).unwrap();
    (renderer::render::Image::from_png(&png).unwrap(), saved)
}

/// Checks the exposure report's map of run `run` against the run's `max_depth.tif`: see the
/// caller. `m` is the JSON table's monuments.
fn exposure_map_pixels(t: &std::path::Path, html: &str, run: &str, m: &[serde_json::Value]) {
    use scenarios::output::RunDir;
    let fig = html
        .split("<figure class=\"picture run-map\"")
        .nth(1)
        .expect("a map for the run");
    assert!(fig.contains(&format!("data-run=\"{run}\"")), "{fig:.200}");
    let frame: Vec<f64> = fig
        .split("data-frame=\"")
        .nth(1)
        .and_then(|f| f.split('"').next())
        .unwrap()
        .split(' ')
        .map(|v| v.parse().unwrap())
        .collect();
    let (img, saved) = figure_png(fig, "exposure_map.png");
    let mpp = (frame[2] - frame[0]) / f64::from(img.width);
    assert!(((frame[3] - frame[1]) / f64::from(img.height) - mpp).abs() < 1e-6);
    let pixel = |x: f64, y: f64| -> Option<(u32, u32, [u8; 3])> {
        let (px, py) = ((x - frame[0]) / mpp, (frame[3] - y) / mpp);
        if px < 0.0 || py < 0.0 || px >= f64::from(img.width) || py >= f64::from(img.height) {
            return None;
        }
        let (px, py) = (px as u32, py as u32);
        let p = img.pixel(px, py);
        Some((px, py, [p[0], p[1], p[2]]))
    };
    let near = |a: [u8; 3], b: [u8; 3]| (0..3).all(|k| a[k].abs_diff(b[k]) <= 2);
    let classes: Vec<[u8; 3]> = tiles3d::water::DEPTH_CLASSES
        .iter()
        .map(|c| c.srgb8())
        .collect();
    let rd = RunDir::new(t.join("runs").join(run));
    let twin = twin_core::TwinDir::open(t).unwrap().load().unwrap();
    let rg = heritage::exposure::RunGround::open(&twin, &rd).unwrap();
    let grid = &rg.grid;
    let depth = |c: usize| rg.depth(c);
    let centre = |c: usize| grid.centre(c % grid.nx, c / grid.nx);
    let (mut wet, mut coloured) = (0, 0);
    let mut by_site = Vec::new();
    for j in m {
        let d = j["runs"][0]["max_depth_m"].as_f64().unwrap_or(0.0);
        if d < renderer::render::colour::WET_THRESHOLD_M {
            continue;
        }
        let site = twin
            .heritage
            .features()
            .iter()
            .find(|h| h.id == j["site"])
            .unwrap();
        let cells = rg.cells(&site.polygon);
        let (mut w, mut c) = (0, 0);
        for cell in cells {
            let Some(d) = depth(cell) else { continue };
            let Some(class) = tiles3d::water::depth_class(d) else {
                continue;
            };
            let (x, y) = centre(cell);
            let Some((_, _, p)) = pixel(x, y) else {
                continue;
            };
            w += 1;
            if near(p, class.srgb8()) {
                c += 1;
            }
        }
        wet += w;
        coloured += c;
        by_site.push(format!("{} {c}/{w}", j["site"]));
    }
    eprintln!(
        "exposure map {}x{} px, {mpp:.2} m/px, frame {frame:?}: {coloured} of {wet} wet cells of the exposed monuments in their class colour ({}); saved {}",
        img.width,
        img.height,
        by_site.join(", "),
        saved.display()
    );
    assert!(wet > 20, "{wet}");
    assert!(coloured * 10 >= wet * 6, "{coloured} of {wet}: {by_site:?}");
    // No dry cell of the frame shows a class colour (the legend's swatches at the bottom left
    // left out).
    let (mut dry, mut bad) = (0, Vec::new());
    for cell in 0..grid.cells() {
        if depth(cell).is_some_and(|d| d >= tiles3d::water::MIN_DEPTH_M) {
            continue;
        }
        let (x, y) = centre(cell);
        let Some((px, py, p)) = pixel(x, y) else {
            continue;
        };
        if px < img.width / 2 && py > img.height / 2 {
            continue;
        }
        dry += 1;
        if classes.iter().any(|c| near(p, *c)) {
            bad.push((px, py, p));
        }
    }
    assert!(dry > 100, "{dry}");
    assert!(bad.is_empty(), "dry cells in a class colour: {bad:?}");
}

/// `twin heritage check` reads a CityJSON proposal (here in WGS84: an LoD1 block 30 m high,
/// about 21 × 22 m, in the royal axis corridor) as it reads GeoJSON; a CityJSON file in a CRS
/// that is neither the twin's nor WGS84 is refused naming the file and the member.
#[test]
fn check_reads_cityjson_proposals() {
    let dir = tempfile::tempdir().unwrap();
    let t = dir.path().join("hue");
    copy_sample_twin(&t);
    let ts = t.to_str().unwrap();
    let (lon, lat) = AXIS_POINT;
    let (h, z0, z1) = (1000, 4000, 34000); // 1e-4° half side; z in mm
    let block = |rs: &str| {
        serde_json::json!({
            "type": "CityJSON", "version": "2.0",
            "transform": {"scale": [1e-7, 1e-7, 0.001], "translate": [lon, lat, 0.0]},
            "metadata": {"referenceSystem": rs},
            "CityObjects": {"hotel": {"type": "Building", "attributes": {"roofType": "hipped"},
                "geometry": [{"type": "Solid", "lod": "1", "boundaries": [[
                    [[0, 3, 2, 1]], [[4, 5, 6, 7]], [[0, 1, 5, 4]], [[1, 2, 6, 5]], [[2, 3, 7, 6]], [[3, 0, 4, 7]]
                ]]}]}},
            "vertices": [[-h, -h, z0], [h, -h, z0], [h, h, z0], [-h, h, z0],
                         [-h, -h, z1], [h, -h, z1], [h, h, z1], [-h, h, z1]]
        })
        .to_string()
    };
    let p = dir.path().join("hotel.city.json");
    std::fs::write(&p, block("https://www.opengis.net/def/crs/EPSG/0/4326")).unwrap();
    let o = twin(&["heritage", "check", ts, p.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    let out = text(&o);
    assert!(
        out.contains("30.0 m (CityJSON LoD1 geometry of hotel"),
        "{out}"
    );
    assert!(out.contains("FAIL  height_limit    Royal axis sightline corridor: height 30.0 m over the limit of 14.0 m by 16.0 m"), "{out}");
    assert!(out.contains("verdict: REFUSED"), "{out}");

    let bad = dir.path().join("rd.city.json");
    std::fs::write(&bad, block("https://www.opengis.net/def/crs/EPSG/0/7415")).unwrap();
    let o = twin(&["heritage", "check", ts, bad.to_str().unwrap()]);
    assert!(!o.status.success());
    let out = text(&o);
    assert!(
        out.contains(&format!("{}: metadata.referenceSystem:", bad.display()))
            && out.contains("neither the twin's CRS"),
        "{out}"
    );
}

/// `twin heritage report` on the royal-axis 30 m proposal: the HTML names every rule row of the
/// verdict with its numbers (against `check --json`), its wgpu map shows the proposal and the
/// sightlines where the SVG map has them, the PDF printed by Chromium says REFUSED and the
/// height rule's numbers, and has at least one page (poppler's pdfinfo/pdftotext).
#[test]
fn report_html_and_pdf_for_the_royal_axis_proposal() {
    let dir = tempfile::tempdir().unwrap();
    let t = dir.path().join("hue");
    copy_sample_twin(&t);
    let ts = t.to_str().unwrap();
    let p30 = axis_proposal(
        dir.path(),
        serde_json::json!({"height": 30, "roof:shape": "hipped", "name": "Axis <tower> & co"}),
    );
    let o = twin(&["heritage", "check", ts, p30.to_str().unwrap(), "--json"]);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let out = dir.path().join("report");
    let o = twin(&[
        "heritage",
        "report",
        ts,
        p30.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    let html = std::fs::read_to_string(out.join("report.html")).unwrap();
    // The name, escaped; self-contained: no outside resources.
    assert!(html.contains("Axis &lt;tower&gt; &amp; co"), "{html}");
    assert!(!html.contains("src=\"http") && !html.contains("href=\"http"));
    assert!(html.contains("Verdict: REFUSED"));
    // One row per rule of the verdict, in order, each with its outcome, value, limit, detail.
    let rows: Vec<&str> = html
        .split("<tr class=\"rule\">")
        .skip(1)
        .map(|r| r.split("</tr>").next().unwrap())
        .collect();
    let rules = v["rules"].as_array().unwrap();
    assert_eq!(rows.len(), rules.len(), "{html}");
    let esc = |s: &str| {
        s.replace('&', "&amp;")
            .replace('<', "&lt;")
            .replace('>', "&gt;")
            .replace('"', "&quot;")
            .replace('\'', "&#39;")
    };
    let num = |x: &serde_json::Value| x.as_f64().map(|x| format!("{x:.2}")).unwrap_or("–".into());
    for (row, r) in rows.iter().zip(rules) {
        let cells: Vec<String> = row
            .split("</td>")
            .filter_map(|c| c.rsplit('>').next())
            .filter(|c| !c.is_empty())
            .map(String::from)
            .collect();
        let word = match r["outcome"].as_str().unwrap() {
            "fail" => "FAIL",
            "pass" => "pass",
            _ => "n/a",
        };
        assert_eq!(
            cells,
            vec![
                esc(r["rule"].as_str().unwrap()),
                esc(r["under"].as_str().unwrap()),
                word.to_string(),
                num(&r["value"]),
                num(&r["limit"]),
                esc(r["detail"].as_str().unwrap()),
            ],
            "{row}"
        );
    }
    let height = rows.iter().find(|r| r.contains(">height_limit<")).unwrap();
    assert!(height.contains(">FAIL<") && height.contains(">30.00<") && height.contains(">14.00<"));
    // The rules cited: the corridor's limit and setback, the view's points and plane.
    assert!(html.contains("heritage:royal-axis") && html.contains("14.00 m"));
    assert!(html.contains("<tr class=\"view\">") && html.contains("cc 0.85714"));
    // The map: the proposal and the buildings around it.
    assert!(
        html.contains("<svg")
            && html.contains("class=\"proposal\"")
            && html.contains("class=\"building\"")
    );

    // The proposal (20 m square) at the centre of the 900 px map, whose frame is the proposal's
    // box plus 300 m each side: 900 / 620 px per metre, so its corners lie 14.5 px off centre.
    let d = html
        .split("class=\"proposal\" d=\"")
        .nth(1)
        .unwrap()
        .split('"')
        .next()
        .unwrap();
    let xy: Vec<f64> = d
        .split(['M', 'L', 'Z', ','])
        .filter(|c| !c.is_empty())
        .map(|c| c.parse().unwrap())
        .collect();
    assert_eq!(xy.len(), 10, "{d}");
    for c in xy {
        let off = (c - 450.0).abs();
        assert!((off - 14.5).abs() < 0.6, "{d}");
    }

    // The rendered pictures (wgpu): a map of the SVG map's frame, 900 px square, so on the SVG's
    // pixel grid, then a perspective view. On the map the proposal is red at the centre (its
    // 20 m square is 29 px across), and each sightline's pixels are in its colour along the
    // SVG's line.
    let pngs: Vec<Vec<u8>> = html
        .split("src=\"data:image/png;base64,")
        .skip(1)
        .map(|r| {
            use base64::Engine;
            base64::engine::general_purpose::STANDARD
                .decode(r.split('"').next().unwrap())
                .unwrap()
        })
        .collect();
    assert_eq!(pngs.len(), 2, "map and perspective pictures");
    let map = renderer::render::Image::from_png(&pngs[0]).unwrap();
    let view = renderer::render::Image::from_png(&pngs[1]).unwrap();
    assert_eq!(
        (map.width, map.height, view.width, view.height),
        (900, 900, 900, 600)
    );
    let near =
        |p: [u8; 4], c: [i32; 3]| (0..3).map(|k| (i32::from(p[k]) - c[k]).abs()).sum::<i32>() <= 45;
    let red = (440..460u32)
        .flat_map(|y| (440..460u32).map(move |x| (x, y)))
        .filter(|&(x, y)| {
            let p = map.pixel(x, y);
            p[0] > 150 && p[1] < 70 && p[2] < 70
        })
        .count();
    assert!(red >= 300, "{red} of 400 centre pixels red");
    let mut judged = 0;
    for l in html.split("<line class=\"sightline\" ").skip(1) {
        let attr = |k: &str| -> String {
            l.split(&format!("{k}=\""))
                .nth(1)
                .unwrap()
                .split('"')
                .next()
                .unwrap()
                .to_string()
        };
        let [x1, y1, x2, y2] = ["x1", "y1", "x2", "y2"].map(|k| attr(k).parse::<f64>().unwrap());
        let hex = attr("stroke");
        let c: Vec<i32> = (0..3)
            .map(|k| i32::from_str_radix(&hex[1 + 2 * k..3 + 2 * k], 16).unwrap())
            .collect();
        let (mut n, mut hit) = (0, 0);
        for k in 0..=200 {
            let t = f64::from(k) / 200.0;
            let (x, y) = (x1 + t * (x2 - x1), y1 + t * (y2 - y1));
            // Inside the picture, clear of the legend's corners and of the proposal.
            if !(100.0..800.0).contains(&x)
                || !(100.0..800.0).contains(&y)
                || (x - 450.0).hypot(y - 450.0) < 30.0
            {
                continue;
            }
            n += 1;
            let (px, py) = (x.round() as u32, y.round() as u32);
            if (py - 2..=py + 2)
                .any(|yy| (px - 2..=px + 2).any(|xx| near(map.pixel(xx, yy), [c[0], c[1], c[2]])))
            {
                hit += 1;
            }
        }
        if n >= 10 {
            judged += 1;
            assert!(
                hit * 10 >= n * 8,
                "sightline {hex}: {hit} of {n} points in its colour"
            );
        }
    }
    assert!(judged >= 1, "no sightline crosses the map");
    for (name, png) in [("map.png", &pngs[0]), ("view.png", &pngs[1])] {
        std::fs::write(out.join(name), png).unwrap();
    }

    let pdf = out.join("report.pdf");
    let said = text(&o);
    assert!(
        pdf.is_file(),
        "no PDF (is Chromium installed? scripts/setup.sh --test): {said}"
    );
    let info = std::process::Command::new("pdfinfo")
        .arg(&pdf)
        .output()
        .expect("pdfinfo (poppler-utils; scripts/setup.sh --test)");
    let info = String::from_utf8_lossy(&info.stdout).to_string();
    let pages: u32 = info
        .lines()
        .find_map(|l| l.strip_prefix("Pages:"))
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    assert!(pages >= 1, "{info}");
    let t = std::process::Command::new("pdftotext")
        .arg(&pdf)
        .arg("-")
        .output()
        .expect("pdftotext");
    let t = String::from_utf8_lossy(&t.stdout).to_string();
    assert!(t.contains("REFUSED"), "{t}");
    assert!(
        t.contains("height_limit") && t.contains("30.00") && t.contains("14.00"),
        "{t}"
    );
    // The detail wraps across lines in the table cell: compare with whitespace folded.
    let folded = t.split_whitespace().collect::<Vec<_>>().join(" ");
    assert!(
        folded.contains("height 30.0 m over the limit of 14.0 m by 16.0 m"),
        "{t}"
    );
}
