//! Issue 20, defect 6: OGC API – Features – Part 1 under `/ogc`, checked against a second
//! route: GDAL's OAPIF driver (`ogrinfo`, `ogr2ogr`) reading the sample twin over HTTP from a
//! server on a free loopback port, the twin's own layer counts, and the server's `/api` GeoJSON.

mod common;

use serde_json::Value;
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::Path;
use std::process::Command;
use std::sync::{Arc, OnceLock};
use twin_core::{LayerKind, Twin};

struct Fixture {
    addr: SocketAddr,
    twin: Arc<Twin>,
}

static FIXTURE: OnceLock<Fixture> = OnceLock::new();

fn fx() -> &'static Fixture {
    FIXTURE.get_or_init(|| {
        let (addr, _dir, twin) = common::serve_sample_with_scenarios("ogc", |_| {});
        Fixture { addr, twin }
    })
}

fn base() -> String {
    format!("http://{}", fx().addr)
}

async fn get(path: &str) -> (u16, String, Value) {
    let r = common::http_get(format!("{}{path}", base())).await.unwrap();
    let status = r.status().as_u16();
    let ct = r
        .headers()
        .get(reqwest::header::CONTENT_TYPE)
        .map(|v| v.to_str().unwrap().to_string())
        .unwrap_or_default();
    let body = r.bytes().await.unwrap();
    let v = serde_json::from_slice(&body)
        .unwrap_or_else(|e| panic!("{path}: not JSON ({e}): {}", String::from_utf8_lossy(&body)));
    (status, ct, v)
}

/// GDAL's tools, or None (with the reason printed) when they are not installed.
fn gdal() -> Option<()> {
    match Command::new("ogrinfo").arg("--version").output() {
        Ok(o) if o.status.success() => Some(()),
        _ => {
            eprintln!(
                "SKIPPED: ogrinfo not found (gdal-bin, installed by scripts/setup.sh --test)"
            );
            None
        }
    }
}

/// The twin's non-empty vector layers and their feature counts.
fn twin_counts() -> BTreeMap<String, usize> {
    LayerKind::VECTOR
        .iter()
        .filter_map(|k| {
            fx().twin
                .vector(*k)
                .map(|l| (k.name().to_string(), l.len()))
        })
        .filter(|(_, n)| *n > 0)
        .collect()
}

#[tokio::test]
async fn landing_conformance_and_collections() {
    let (s, ct, v) = get("/ogc").await;
    assert_eq!(s, 200, "{v}");
    assert!(ct.starts_with("application/json"), "{ct}");
    let rel = |v: &Value, r: &str| -> String {
        v["links"]
            .as_array()
            .unwrap()
            .iter()
            .find(|l| l["rel"] == r)
            .unwrap_or_else(|| panic!("no {r} link in {v}"))["href"]
            .as_str()
            .unwrap()
            .to_string()
    };
    assert_eq!(rel(&v, "self"), format!("{}/ogc", base()));
    assert_eq!(
        rel(&v, "service-desc"),
        format!("{}/api/openapi.json", base())
    );
    assert_eq!(
        rel(&v, "conformance"),
        format!("{}/ogc/conformance", base())
    );
    assert_eq!(rel(&v, "data"), format!("{}/ogc/collections", base()));
    // The service description names the OGC routes.
    let (_, _, doc) = get("/api/openapi.json").await;
    for p in ["/ogc/collections/{collectionId}/items", "/ogc/conformance"] {
        assert!(
            doc["paths"].get(p).is_some(),
            "{p} not in the OpenAPI document"
        );
    }

    let (s, _, v) = get("/ogc/conformance").await;
    assert_eq!(s, 200);
    let classes: Vec<&str> = v["conformsTo"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_str().unwrap())
        .collect();
    for c in ["core", "geojson"] {
        let want = format!("http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/{c}");
        assert!(classes.contains(&want.as_str()), "{classes:?}");
    }

    let (s, _, v) = get("/ogc/collections").await;
    assert_eq!(s, 200);
    let (_, _, layers) = get("/api/layers").await;
    let cols = v["collections"].as_array().unwrap();
    for (name, _) in twin_counts() {
        let c = cols
            .iter()
            .find(|c| c["id"] == name.as_str())
            .unwrap_or_else(|| panic!("no collection {name}"));
        assert_eq!(c["itemType"], "feature");
        assert_eq!(c["crs"][0], "http://www.opengis.net/def/crs/OGC/1.3/CRS84");
        assert_eq!(
            c["extent"]["spatial"]["crs"],
            "http://www.opengis.net/def/crs/OGC/1.3/CRS84"
        );
        // The extent is the layer's WGS84 box of /api/layers.
        let l = layers["layers"]
            .as_array()
            .unwrap()
            .iter()
            .find(|l| l["name"] == name.as_str())
            .unwrap();
        assert_eq!(c["extent"]["spatial"]["bbox"][0], l["bbox"], "{name}");
        assert_eq!(
            rel(c, "items"),
            format!("{}/ogc/collections/{name}/items", base())
        );
        let (s, _, one) = get(&format!("/ogc/collections/{name}")).await;
        assert_eq!(s, 200);
        assert_eq!(&one, c);
    }
    let (s, _, v) = get("/ogc/collections/terrain").await;
    assert_eq!(s, 404, "{v}");
    assert!(v["error"]["message"].as_str().unwrap().contains("terrain"));
}

#[tokio::test]
async fn items_page_with_links_like_the_api_route() {
    let bbox = "107.57,16.46,107.58,16.47";
    let (_, _, api) = get(&format!(
        "/api/layers/buildings/features?bbox={bbox}&limit=1000"
    ))
    .await;
    let want: Vec<Value> = api["features"].as_array().unwrap().clone();
    assert!(want.len() > 20, "{} buildings in the box", want.len());
    assert_eq!(api["numberMatched"].as_u64().unwrap() as usize, want.len());
    // Walk the OGC pages of 7 by their next links.
    let mut got = Vec::new();
    let mut next = Some(format!(
        "{}/ogc/collections/buildings/items?bbox={bbox}&limit=7",
        base()
    ));
    let mut pages = 0;
    while let Some(url) = next.take() {
        let path = url
            .strip_prefix(&base())
            .expect("absolute link to this server");
        let (s, ct, v) = get(path).await;
        assert_eq!(s, 200, "{v}");
        assert_eq!(ct, "application/geo+json");
        assert_eq!(v["type"], "FeatureCollection");
        assert_eq!(v["numberMatched"].as_u64().unwrap() as usize, want.len());
        let feats = v["features"].as_array().unwrap();
        assert_eq!(v["numberReturned"].as_u64().unwrap() as usize, feats.len());
        assert!(feats.len() <= 7);
        assert!(
            v["timeStamp"].as_str().unwrap().ends_with('Z'),
            "{}",
            v["timeStamp"]
        );
        let link = |r: &str| {
            v["links"]
                .as_array()
                .unwrap()
                .iter()
                .find(|l| l["rel"] == r)
                .map(|l| l["href"].as_str().unwrap().to_string())
        };
        assert_eq!(
            link("self").unwrap(),
            format!(
                "{}/ogc/collections/buildings/items?limit=7&offset={}&bbox={bbox}",
                base(),
                7 * pages
            )
        );
        assert_eq!(
            link("prev").is_some(),
            pages > 0,
            "prev link of page {pages}"
        );
        got.extend(feats.iter().cloned());
        next = link("next");
        pages += 1;
    }
    assert_eq!(pages, want.len().div_ceil(7));
    // The same features, byte for byte the same JSON, in the same order.
    assert_eq!(got, want);

    // Defaults and bounds: 10 by default, a huge limit is clamped, a bad one is a 400.
    let (_, _, v) = get("/ogc/collections/roads/items").await;
    assert_eq!(v["numberReturned"], 10);
    assert_eq!(
        v["numberMatched"].as_u64().unwrap() as usize,
        fx().twin.roads.len()
    );
    let (s, _, v) = get("/ogc/collections/buildings/items?limit=99999999").await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(
        v["numberReturned"].as_u64().unwrap() as usize,
        fx().twin.buildings.len().min(10_000)
    );
    for bad in [
        "limit=-1",
        "limit=0",
        "offset=x",
        "bbox=107.6,16.4,107.5,16.5",
        "bbox=1,2,3",
    ] {
        let (s, ct, v) = get(&format!("/ogc/collections/buildings/items?{bad}")).await;
        assert_eq!(s, 400, "{bad}: {v}");
        assert!(ct.starts_with("application/json"), "{bad}: {ct}");
        assert!(v["error"]["message"].as_str().is_some(), "{bad}: {v}");
    }

    // One item by id, the same feature as the API's, with links.
    let first = &want[0];
    let id = first["id"].as_str().unwrap();
    let (s, ct, v) = get(&format!("/ogc/collections/buildings/items/{id}")).await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(ct, "application/geo+json");
    assert_eq!(v["geometry"], first["geometry"]);
    assert_eq!(v["properties"], first["properties"]);
    assert_eq!(
        v["links"][1]["href"],
        format!("{}/ogc/collections/buildings", base())
    );
    let (s, _, _) = get("/ogc/collections/buildings/items/no-such-building").await;
    assert_eq!(s, 404);
}

/// `ogrinfo -ro -so -al OAPIF:...`: layer name → feature count.
fn ogrinfo_counts(url: &str) -> BTreeMap<String, usize> {
    let out = Command::new("ogrinfo")
        .args(["-ro", "-so", "-al", &format!("OAPIF:{url}")])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "ogrinfo: {text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut counts = BTreeMap::new();
    let mut layer = None;
    for line in text.lines() {
        if let Some(n) = line.strip_prefix("Layer name: ") {
            layer = Some(n.trim().to_string());
        }
        if let Some(c) = line.strip_prefix("Feature Count: ") {
            counts.insert(layer.take().unwrap(), c.trim().parse().unwrap());
        }
    }
    counts
}

fn positions(g: &Value, out: &mut Vec<(f64, f64)>) {
    match g {
        Value::Array(a) if a.len() >= 2 && a.iter().all(Value::is_number) => {
            out.push((a[0].as_f64().unwrap(), a[1].as_f64().unwrap()))
        }
        Value::Array(a) => a.iter().for_each(|x| positions(x, out)),
        _ => {}
    }
}

#[tokio::test]
async fn gdal_reads_every_layer_and_copies_the_buildings() {
    if gdal().is_none() {
        return;
    }
    let url = format!("{}/ogc", base());
    let got = tokio::task::spawn_blocking({
        let url = url.clone();
        move || ogrinfo_counts(&url)
    })
    .await
    .unwrap();
    assert_eq!(got, twin_counts(), "ogrinfo's layers and counts");

    // ogr2ogr copies the buildings; every geometry is the server's own.
    let out = Path::new(env!("CARGO_TARGET_TMPDIR")).join("ogc-buildings.geojson");
    let _ = std::fs::remove_file(&out);
    let o = tokio::task::spawn_blocking({
        let (url, out) = (url.clone(), out.clone());
        move || {
            Command::new("ogr2ogr")
                .args(["-f", "GeoJSON"])
                .arg(&out)
                .arg(format!("OAPIF:{url}"))
                .arg("buildings")
                .output()
                .unwrap()
        }
    })
    .await
    .unwrap();
    assert!(
        o.status.success(),
        "ogr2ogr: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    let copied: Value = serde_json::from_slice(&std::fs::read(&out).unwrap()).unwrap();
    let copied = copied["features"].as_array().unwrap();
    // The server's GeoJSON of the whole layer, by its own /api pages.
    let mut mine = BTreeMap::new();
    let mut offset = 0;
    loop {
        let (_, _, v) = get(&format!(
            "/api/layers/buildings/features?limit=1000&offset={offset}"
        ))
        .await;
        let feats = v["features"].as_array().unwrap();
        for f in feats {
            mine.insert(f["id"].as_str().unwrap().to_string(), f["geometry"].clone());
        }
        offset += feats.len();
        if feats.is_empty() || offset >= v["numberMatched"].as_u64().unwrap() as usize {
            break;
        }
    }
    assert_eq!(mine.len(), fx().twin.buildings.len());
    assert_eq!(copied.len(), mine.len(), "features copied by ogr2ogr");
    let mut worst = 0.0f64;
    for f in copied {
        let id = f["properties"]["id"]
            .as_str()
            .or(f["id"].as_str())
            .unwrap_or_else(|| panic!("no id in {}", f["properties"]));
        let g = mine.get(id).unwrap_or_else(|| panic!("{id} is not served"));
        let (mut a, mut b) = (Vec::new(), Vec::new());
        positions(&f["geometry"]["coordinates"], &mut a);
        positions(&g["coordinates"], &mut b);
        assert_eq!(a.len(), b.len(), "{id}: positions");
        for (p, q) in a.iter().zip(&b) {
            worst = worst.max((p.0 - q.0).abs()).max((p.1 - q.1).abs());
        }
    }
    assert!(worst <= 1e-9, "largest coordinate difference {worst}°");
}

#[tokio::test]
async fn private_server_needs_a_token_on_the_ogc_routes() {
    let (addr, dir, _) =
        common::serve_sample_with_config("ogc-private", |_| {}, |cfg| cfg.private = true);
    let token = common::token(&dir, twin_core::tokens::Role::Viewer);
    for path in [
        "/ogc",
        "/ogc/collections",
        "/ogc/collections/buildings/items",
    ] {
        let url = format!("http://{addr}{path}");
        let r = common::http_get(&url).await.unwrap();
        assert_eq!(r.status().as_u16(), 401, "{path}");
        let r = common::client_with(&token).get(&url).send().await.unwrap();
        assert_eq!(r.status().as_u16(), 200, "{path}");
    }
}
