//! The HTTP server end to end: the real Hue OpenStreetMap extract imported into a temporary
//! twin, the server started in-process on a free loopback port, and every check made over
//! HTTP (reqwest, or raw TCP where a client would normalise the path). Expected values come from
//! a second route: the files of `tiles::export`, GDAL's `ogrinfo` on the store, the shared
//! GeoJSON extract parsed with serde_json, brute force over the loaded twin, BLAKE3 of the body.

mod common;

use common::shared;

use geo::{BoundingRect, Distance, Euclidean, InteriorPoint, Intersects};
use geo_types::{Coord, Geometry, MultiPolygon, Point, Rect};
use reqwest::header;
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::io::{Read, Write};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};
use tile_server::{self as server, source::GeneratedTiles, ServerConfig};
use tiles3d::{self as tiles, TilesetOptions};
use twin_core::crs::{Crs, Transform};
use twin_core::twin::SourceConfig;
use twin_core::NoProgress;
use twin_core::{Twin, TwinDir};

struct Fixture {
    base: String,
    addr: SocketAddr,
    dir: PathBuf,
    export: PathBuf,
    twin: Arc<Twin>,
    app_cfg: ServerConfig,
    opts: TilesetOptions,
    fingerprint: String,
}

static FIXTURE: OnceLock<Fixture> = OnceLock::new();

fn fx() -> &'static Fixture {
    FIXTURE.get_or_init(|| {
        let root = Path::new(env!("CARGO_TARGET_TMPDIR")).join("server-test");
        let _ = std::fs::remove_dir_all(&root);
        std::fs::create_dir_all(&root).unwrap();
        let dir = root.join("hue");
        let mut td = TwinDir::create(&dir, "hue-osm", Crs::epsg(32648).unwrap()).unwrap();
        td.import(
            SourceConfig {
                path: shared("hue/hue.osm.pbf"),
                layer: None,
                crs: None,
                lod: None,
            },
            &NoProgress,
        )
        .unwrap();
        let twin = Arc::new(td.load().unwrap());
        let opts = TilesetOptions::for_config(&td.config);
        let export = root.join("export");
        tiles::export(&twin, &export, &[], &opts, &NoProgress).unwrap();
        let fingerprint = server::source::twin_fingerprint(&td);
        let source = GeneratedTiles::plan(twin.clone(), &opts, &fingerprint).unwrap();
        let app_cfg = ServerConfig {
            disk_cache: Some(dir.join("cache/tiles")),
            ..ServerConfig::default()
        };
        let app = server::app(twin.clone(), Arc::new(source), &app_cfg).unwrap();
        let addr = common::start(app);
        Fixture {
            base: format!("http://{addr}"),
            addr,
            dir,
            export,
            twin,
            app_cfg,
            opts,
            fingerprint,
        }
    })
}

fn client() -> reqwest::Client {
    common::http_builder().build().unwrap()
}

async fn get(path: &str) -> reqwest::Response {
    client()
        .get(format!("{}{path}", fx().base))
        .send()
        .await
        .unwrap()
}

async fn get_json(path: &str) -> (u16, Value) {
    let r = get(path).await;
    let status = r.status().as_u16();
    let ct = r
        .headers()
        .get(header::CONTENT_TYPE)
        .map(|v| v.to_str().unwrap().to_string())
        .unwrap_or_default();
    let body = r.bytes().await.unwrap();
    let v: Value = serde_json::from_slice(&body)
        .unwrap_or_else(|e| panic!("{path}: not JSON ({e}, {ct}): {body:?}"));
    (status, v)
}

/// Send raw bytes and return the status code and the whole response (no client normalising
/// the path).
fn raw(addr: SocketAddr, request: &[u8]) -> (Option<u16>, String) {
    let mut s = std::net::TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(std::time::Duration::from_secs(10)))
        .unwrap();
    s.write_all(request).unwrap();
    let mut out = Vec::new();
    let _ = s.read_to_end(&mut out);
    let text = String::from_utf8_lossy(&out).to_string();
    let status = text
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse::<u16>().ok());
    (status, text)
}

fn raw_get(addr: SocketAddr, path: &str) -> (Option<u16>, String) {
    raw(
        addr,
        format!("GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n").as_bytes(),
    )
}

/// Every file of the export folder, relative path → bytes.
fn export_files() -> BTreeMap<String, Vec<u8>> {
    fn walk(root: &Path, dir: &Path, out: &mut BTreeMap<String, Vec<u8>>) {
        for e in std::fs::read_dir(dir).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                walk(root, &p, out);
            } else {
                let rel = p.strip_prefix(root).unwrap().to_string_lossy().to_string();
                out.insert(rel, std::fs::read(&p).unwrap());
            }
        }
    }
    let mut out = BTreeMap::new();
    walk(&fx().export, &fx().export, &mut out);
    out
}

#[tokio::test]
async fn every_tile_and_tileset_is_the_exported_bytes() {
    let files = export_files();
    let glbs = files.keys().filter(|k| k.ends_with(".glb")).count();
    assert!(glbs >= 2, "the export has {glbs} glb files");
    assert!(files.contains_key("tileset.json"));
    for layer in ["buildings", "heritage"] {
        assert!(
            files.contains_key(&format!("{layer}/tileset.json")),
            "{layer}"
        );
    }
    for (rel, bytes) in &files {
        let r = get(&format!("/tiles/{rel}")).await;
        assert_eq!(r.status(), 200, "{rel}");
        let ct = r.headers()[header::CONTENT_TYPE]
            .to_str()
            .unwrap()
            .to_string();
        if rel.ends_with(".glb") {
            assert_eq!(ct, "model/gltf-binary", "{rel}");
        } else {
            assert_eq!(ct, "application/json", "{rel}");
        }
        assert!(r.headers()[header::CACHE_CONTROL]
            .to_str()
            .unwrap()
            .contains("max-age"));
        let body = r.bytes().await.unwrap();
        assert_eq!(body.len(), bytes.len(), "{rel}: length");
        assert!(
            body.as_ref() == bytes.as_slice(),
            "{rel}: bytes differ from the export"
        );
        if rel.ends_with(".glb") {
            // GLB header: magic, version 2, total length = file length.
            assert_eq!(&body[0..4], b"glTF", "{rel}");
            assert_eq!(u32::from_le_bytes(body[4..8].try_into().unwrap()), 2);
            assert_eq!(
                u32::from_le_bytes(body[8..12].try_into().unwrap()) as usize,
                body.len()
            );
        }
    }
    // Every content URI in the layer tilesets is served, and nothing more is in the export.
    fn uris(v: &Value, out: &mut Vec<String>) {
        if let Some(u) = v
            .get("content")
            .and_then(|c| c.get("uri"))
            .and_then(|u| u.as_str())
        {
            out.push(u.to_string());
        }
        if let Some(ch) = v.get("children").and_then(|c| c.as_array()) {
            for c in ch {
                uris(c, out);
            }
        }
    }
    let (_, top) = get_json("/tiles/tileset.json").await;
    let mut layers = Vec::new();
    uris(&top["root"], &mut layers);
    let mut listed = 0;
    for l in &layers {
        let (s, ts) = get_json(&format!("/tiles/{l}")).await;
        assert_eq!(s, 200);
        let mut u = Vec::new();
        uris(&ts["root"], &mut u);
        listed += u.len();
        let prefix = l.trim_end_matches("tileset.json");
        for uri in u {
            assert!(
                files.contains_key(&format!("{prefix}{uri}")),
                "{prefix}{uri}"
            );
        }
    }
    assert_eq!(listed, glbs);
}

#[tokio::test]
async fn strong_etags_answer_304() {
    let path = "/tiles/buildings/tileset.json";
    let r = get(path).await;
    let etag = r.headers()[header::ETAG].to_str().unwrap().to_string();
    let body = r.bytes().await.unwrap();
    // The ETag is BLAKE3 of the bytes, computed here again.
    let h = blake3::hash(&body).to_hex();
    assert_eq!(etag, format!("\"{}\"", &h.as_str()[..32]));
    assert!(!etag.starts_with("W/"));
    let r = client()
        .get(format!("{}{path}", fx().base))
        .header(header::IF_NONE_MATCH, &etag)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 304);
    assert_eq!(r.headers()[header::ETAG].to_str().unwrap(), etag);
    assert!(r.bytes().await.unwrap().is_empty());
    let r = client()
        .get(format!("{}{path}", fx().base))
        .header(header::IF_NONE_MATCH, "\"0000\"")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    // A glb too.
    let glb = export_files()
        .into_keys()
        .find(|k| k.ends_with(".glb"))
        .unwrap();
    let r = get(&format!("/tiles/{glb}")).await;
    let etag = r.headers()[header::ETAG].to_str().unwrap().to_string();
    let r = client()
        .get(format!("{}/tiles/{glb}", fx().base))
        .header(header::IF_NONE_MATCH, format!("\"x\", {etag}"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 304);
}

#[tokio::test]
async fn range_and_head() {
    let files = export_files();
    let (rel, bytes) = files
        .iter()
        .find(|(k, v)| k.ends_with(".glb") && v.len() > 100)
        .unwrap();
    let url = format!("{}/tiles/{rel}", fx().base);
    let len = bytes.len();
    let r = client()
        .get(&url)
        .header(header::RANGE, "bytes=0-11")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 206);
    assert_eq!(
        r.headers()[header::CONTENT_RANGE].to_str().unwrap(),
        format!("bytes 0-11/{len}")
    );
    assert_eq!(r.bytes().await.unwrap().as_ref(), &bytes[..12]);
    let r = client()
        .get(&url)
        .header(header::RANGE, "bytes=-20")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 206);
    assert_eq!(r.bytes().await.unwrap().as_ref(), &bytes[len - 20..]);
    let r = client()
        .get(&url)
        .header(header::RANGE, format!("bytes={len}-"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 416);
    assert_eq!(
        r.headers()[header::CONTENT_RANGE].to_str().unwrap(),
        format!("bytes */{len}")
    );
    // If-Range with another ETag: the whole file.
    let r = client()
        .get(&url)
        .header(header::RANGE, "bytes=0-11")
        .header(header::IF_RANGE, "\"other\"")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.bytes().await.unwrap().len(), len);
    // HEAD: the headers of GET, no body.
    let r = client().head(&url).send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(
        r.headers()[header::CONTENT_LENGTH].to_str().unwrap(),
        len.to_string()
    );
    assert!(r.headers().contains_key(header::ETAG));
    assert!(r.bytes().await.unwrap().is_empty());
}

#[tokio::test]
async fn json_is_compressed_and_glb_is_not() {
    let files = export_files();
    let url = format!("{}/tiles/buildings/tileset.json", fx().base);
    let r = client()
        .get(&url)
        .header(header::ACCEPT_ENCODING, "gzip")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()[header::CONTENT_ENCODING], "gzip");
    let etag = r.headers()[header::ETAG].to_str().unwrap().to_string();
    assert!(etag.ends_with("-gzip\""), "{etag}");
    let gz = r.bytes().await.unwrap();
    let mut plain = Vec::new();
    flate2::read::GzDecoder::new(gz.as_ref())
        .read_to_end(&mut plain)
        .unwrap();
    assert_eq!(plain, files["buildings/tileset.json"]);
    assert!(
        gz.len() < plain.len() / 2,
        "{} vs {}",
        gz.len(),
        plain.len()
    );
    // The compressed variant's ETag revalidates too.
    let r = client()
        .get(&url)
        .header(header::ACCEPT_ENCODING, "gzip")
        .header(header::IF_NONE_MATCH, &etag)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 304);
    // Brotli when asked.
    let r = client()
        .get(&url)
        .header(header::ACCEPT_ENCODING, "br")
        .send()
        .await
        .unwrap();
    assert_eq!(r.headers()[header::CONTENT_ENCODING], "br");
    // The API's GeoJSON is compressed.
    let r = client()
        .get(format!(
            "{}/api/layers/buildings/features?limit=50",
            fx().base
        ))
        .header(header::ACCEPT_ENCODING, "gzip")
        .send()
        .await
        .unwrap();
    assert_eq!(r.headers()[header::CONTENT_ENCODING], "gzip");
    // glb is served as is.
    let glb = files.keys().find(|k| k.ends_with(".glb")).unwrap();
    let r = client()
        .get(format!("{}/tiles/{glb}", fx().base))
        .header(header::ACCEPT_ENCODING, "gzip, br")
        .send()
        .await
        .unwrap();
    assert!(r.headers().get(header::CONTENT_ENCODING).is_none());
    assert_eq!(r.bytes().await.unwrap().as_ref(), files[glb].as_slice());
}

#[tokio::test]
async fn cors_allows_any_origin() {
    let r = client()
        .get(format!("{}/tiles/tileset.json", fx().base))
        .header(header::ORIGIN, "http://viewer.example")
        .send()
        .await
        .unwrap();
    assert_eq!(r.headers()[header::ACCESS_CONTROL_ALLOW_ORIGIN], "*");
    let exposed = r.headers()[header::ACCESS_CONTROL_EXPOSE_HEADERS]
        .to_str()
        .unwrap()
        .to_ascii_lowercase();
    assert!(exposed.contains("etag"), "{exposed}");
    let r = client()
        .request(
            reqwest::Method::OPTIONS,
            format!("{}/api/layers/buildings/intersects", fx().base),
        )
        .header(header::ORIGIN, "http://viewer.example")
        .header(header::ACCESS_CONTROL_REQUEST_METHOD, "POST")
        .header(header::ACCESS_CONTROL_REQUEST_HEADERS, "content-type")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()[header::ACCESS_CONTROL_ALLOW_ORIGIN], "*");
    let methods = r.headers()[header::ACCESS_CONTROL_ALLOW_METHODS]
        .to_str()
        .unwrap()
        .to_string();
    assert!(methods.contains("POST"), "{methods}");
}

/// `ogrinfo -so -al` on the store: layer → (feature count, extent).
fn ogrinfo(store: &Path) -> BTreeMap<String, (usize, [f64; 4])> {
    let out = std::process::Command::new("ogrinfo")
        .args(["-so", "-al", "-ro"])
        .arg(store)
        .output()
        .expect("ogrinfo (gdal-bin, installed by scripts/setup.sh --test)");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    let mut res = BTreeMap::new();
    let mut layer = String::new();
    let mut count = 0;
    for line in text.lines() {
        if let Some(l) = line.strip_prefix("Layer name: ") {
            layer = l.trim().to_string();
        } else if let Some(c) = line.strip_prefix("Feature Count: ") {
            count = c.trim().parse().unwrap();
        } else if let Some(e) = line.strip_prefix("Extent: ") {
            let nums: Vec<f64> = e
                .replace(['(', ')', ','], " ")
                .replace(" - ", " ")
                .split_whitespace()
                .filter_map(|x| x.parse().ok())
                .collect();
            res.insert(layer.clone(), (count, [nums[0], nums[1], nums[2], nums[3]]));
        }
    }
    res
}

#[tokio::test]
async fn layer_counts_and_extents_match_gdal() {
    let gdal = ogrinfo(&fx().dir.join("twin.gpkg"));
    let (s, v) = get_json("/api/layers").await;
    assert_eq!(s, 200);
    assert_eq!(v["crs"], "EPSG:32648");
    let layers = v["layers"].as_array().unwrap();
    let mut checked = 0;
    for l in layers {
        let name = l["name"].as_str().unwrap();
        let count = l["count"].as_u64().unwrap() as usize;
        let Some((n, ext)) = gdal.get(name) else {
            assert_eq!(count, 0, "{name} is not in the store but has features");
            continue;
        };
        if ![
            "buildings",
            "heritage",
            "roads",
            "water",
            "landuse",
            "sensors",
        ]
        .contains(&name)
        {
            continue;
        }
        assert_eq!(count, *n, "{name}: count");
        if count > 0 {
            let e: Vec<f64> = l["extent"]
                .as_array()
                .unwrap()
                .iter()
                .map(|x| x.as_f64().unwrap())
                .collect();
            for i in 0..4 {
                assert!(
                    (e[i] - ext[i]).abs() < 0.01,
                    "{name} extent {e:?} vs {ext:?}"
                );
            }
            let b: Vec<f64> = l["bbox"]
                .as_array()
                .unwrap()
                .iter()
                .map(|x| x.as_f64().unwrap())
                .collect();
            assert!(
                b[0] > 107.0 && b[2] < 108.5 && b[1] > 15.8 && b[3] < 17.0,
                "{b:?}"
            );
            checked += 1;
        }
    }
    assert!(checked >= 4, "{checked} layers checked");
    assert_eq!(gdal["buildings"].0, 6877);
    // Tilesets are named for the layers that have them.
    let b = layers.iter().find(|l| l["name"] == "buildings").unwrap();
    assert_eq!(b["tileset"], "/tiles/buildings/tileset.json");
}

fn osm_id(props: &Value) -> String {
    let s = props["osm_id"].as_str().unwrap();
    let (kind, num) = s.split_at(1);
    let kind = match kind {
        "w" => "way",
        "r" => "relation",
        "n" => "node",
        _ => panic!("{s}"),
    };
    format!("osm:{kind}/{num}")
}

fn mpoly(g: &Value) -> MultiPolygon<f64> {
    let g: geojson::Geometry = serde_json::from_value(g.clone()).unwrap();
    match Geometry::<f64>::try_from(g.value).unwrap() {
        Geometry::MultiPolygon(m) => m,
        Geometry::Polygon(p) => MultiPolygon(vec![p]),
        other => panic!("{other:?}"),
    }
}

/// The shared GeoJSON extract of the buildings: id → WGS84 footprint.
fn geojson_buildings() -> Vec<(String, MultiPolygon<f64>)> {
    let v: Value =
        serde_json::from_slice(&std::fs::read(shared("hue/geojson/hue_building.geojson")).unwrap())
            .unwrap();
    v["features"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| (osm_id(&f["properties"]), mpoly(&f["geometry"])))
        .collect()
}

#[tokio::test]
async fn bbox_query_pages_match_the_geojson_extract() {
    let b = [107.565, 16.455, 107.595, 16.48];
    let bbox = format!("{},{},{},{}", b[0], b[1], b[2], b[3]);
    // All pages.
    let mut ids = Vec::new();
    let mut next = Some(format!(
        "/api/layers/buildings/features?bbox={bbox}&limit=250"
    ));
    let mut matched = None;
    let mut pages = 0;
    while let Some(path) = next.take() {
        let (s, v) = get_json(&path).await;
        assert_eq!(s, 200, "{v}");
        assert_eq!(v["type"], "FeatureCollection");
        let m = v["numberMatched"].as_u64().unwrap();
        assert_eq!(*matched.get_or_insert(m), m);
        let feats = v["features"].as_array().unwrap();
        assert_eq!(v["numberReturned"].as_u64().unwrap() as usize, feats.len());
        assert!(feats.len() <= 250);
        for f in feats {
            assert_eq!(f["type"], "Feature");
            ids.push(f["id"].as_str().unwrap().to_string());
            // Every returned footprint touches the box (in WGS84, from the response).
            let fp = mpoly(&f["geometry"]);
            let grown = Rect::new(
                Coord {
                    x: b[0] - 1e-6,
                    y: b[1] - 1e-6,
                },
                Coord {
                    x: b[2] + 1e-6,
                    y: b[3] + 1e-6,
                },
            );
            assert!(fp.intersects(&grown), "{} outside the box", f["id"]);
        }
        next = v["links"]
            .as_array()
            .unwrap()
            .iter()
            .find(|l| l["rel"] == "next")
            .map(|l| l["href"].as_str().unwrap().to_string());
        pages += 1;
    }
    let matched = matched.unwrap() as usize;
    assert_eq!(ids.len(), matched);
    assert!(pages >= 2, "{matched} features in {pages} pages");
    let got: BTreeSet<String> = ids.iter().cloned().collect();
    assert_eq!(got.len(), ids.len(), "duplicate ids across pages");
    // Second route: the same buildings from the GeoJSON extract, tested against the box shrunk
    // and grown by 1e-6 degrees (10 cm): inner ⊆ served ⊆ outer.
    let all = geojson_buildings();
    let within = |d: f64| -> BTreeSet<String> {
        let r = Rect::new(
            Coord {
                x: b[0] - d,
                y: b[1] - d,
            },
            Coord {
                x: b[2] + d,
                y: b[3] + d,
            },
        );
        all.iter()
            .filter(|(_, g)| g.intersects(&r))
            .map(|(id, _)| id.clone())
            .collect()
    };
    let inner = within(-1e-6);
    let outer = within(1e-6);
    assert!(inner.len() > 300, "{} buildings in the box", inner.len());
    assert!(
        inner.is_subset(&got),
        "missing: {:?}",
        inner.difference(&got).collect::<Vec<_>>()
    );
    assert!(
        got.is_subset(&outer),
        "extra: {:?}",
        got.difference(&outer).collect::<Vec<_>>()
    );
    // Without a bbox: the whole layer, counted.
    let (_, v) = get_json("/api/layers/heritage/features?limit=0").await;
    assert_eq!(
        v["numberMatched"].as_u64().unwrap() as usize,
        fx().twin.heritage.len()
    );
    assert_eq!(v["numberReturned"], 0);
}

#[tokio::test]
async fn nearest_and_radius_match_brute_force() {
    let (lon, lat) = (107.5790, 16.4680);
    let to = Transform::new(&Crs::wgs84(), &fx().twin.crs).unwrap();
    let (x, y) = to.apply(lon, lat).unwrap();
    let p = Point::new(x, y);
    let mut brute: Vec<(f64, String)> = fx()
        .twin
        .buildings
        .features()
        .iter()
        .map(|b| (Euclidean.distance(&p, &b.footprint), b.id.clone()))
        .collect();
    brute.sort_by(|a, b| a.0.total_cmp(&b.0));

    let (s, v) = get_json(&format!(
        "/api/layers/buildings/nearest?lon={lon}&lat={lat}&k=7"
    ))
    .await;
    assert_eq!(s, 200, "{v}");
    let feats = v["features"].as_array().unwrap();
    assert_eq!(feats.len(), 7);
    let mut last = -1.0;
    for (i, f) in feats.iter().enumerate() {
        let d = f["properties"]["distance_m"].as_f64().unwrap();
        assert!(d >= last);
        last = d;
        assert!((d - brute[i].0).abs() < 0.002, "{i}: {d} vs {}", brute[i].0);
    }
    assert_eq!(feats[0]["id"].as_str().unwrap(), brute[0].1);

    let r = 400.0;
    let (s, v) = get_json(&format!(
        "/api/layers/buildings/within?lon={lon}&lat={lat}&radius={r}&limit=1000"
    ))
    .await;
    assert_eq!(s, 200);
    let want: BTreeSet<&str> = brute
        .iter()
        .filter(|(d, _)| *d <= r)
        .map(|(_, id)| id.as_str())
        .collect();
    let got: BTreeSet<&str> = v["features"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["id"].as_str().unwrap())
        .collect();
    assert!(want.len() > 10, "{}", want.len());
    assert_eq!(v["numberMatched"].as_u64().unwrap() as usize, want.len());
    assert_eq!(got, want);
}

#[tokio::test]
async fn one_feature_by_id_with_slashes() {
    let b = fx()
        .twin
        .buildings
        .features()
        .iter()
        .find(|b| b.name.is_some())
        .unwrap();
    let (s, v) = get_json(&format!("/api/layers/buildings/features/{}", b.id)).await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["id"], b.id.as_str());
    assert_eq!(v["properties"]["name"], b.name.as_deref().unwrap());
    assert!((v["properties"]["height"].as_f64().unwrap() - b.height).abs() < 1e-9);
    // Its first vertex is the stored one through PROJ (to 1e-7 degrees, the output rounding).
    let to = Transform::new(&fx().twin.crs, &Crs::wgs84()).unwrap();
    let ring = &v["geometry"]["coordinates"][0][0];
    let ext = b.footprint.0[0].exterior();
    let (lon, lat) = to.apply(ext.0[0].x, ext.0[0].y).unwrap();
    // Orientation may have reversed the ring: the vertex is in it.
    let found = ring.as_array().unwrap().iter().any(|c| {
        (c[0].as_f64().unwrap() - lon).abs() <= 1e-7 && (c[1].as_f64().unwrap() - lat).abs() <= 1e-7
    });
    assert!(found, "({lon}, {lat}) not in {ring}");
    let (s, v) = get_json("/api/layers/buildings/features/osm:way/1").await;
    assert_eq!(s, 404);
    assert_eq!(v["error"]["status"], 404);
}

#[tokio::test]
async fn heritage_zone_of_a_point() {
    // Ngọ Môn from the shared GeoJSON extract, a point inside it computed with geo.
    let v: Value =
        serde_json::from_slice(&std::fs::read(shared("hue/geojson/hue_heritage.geojson")).unwrap())
            .unwrap();
    let ngo_mon = v["features"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["properties"]["osm_id"] == "w172657562")
        .expect("Ngo Mon in the extract");
    let poly = mpoly(&ngo_mon["geometry"]);
    let p = poly.interior_point().unwrap();
    let (s, v) = get_json(&format!("/api/heritage/zones?lon={}&lat={}", p.x(), p.y())).await;
    assert_eq!(s, 200, "{v}");
    let feats = v["features"].as_array().unwrap();
    assert!(feats.iter().any(|f| f["id"] == "osm:way/172657562"), "{v}");
    for f in feats {
        assert!(
            mpoly(&f["geometry"]).intersects(&p),
            "{} does not hold the point",
            f["id"]
        );
        assert!(f["properties"].get("zone").is_some());
    }
    // Far from every site.
    let (s, v) = get_json("/api/heritage/zones?lon=107.70&lat=16.30").await;
    assert_eq!(s, 200);
    assert_eq!(v["numberMatched"], 0);
    // POST a polygon around Ngọ Môn: it intersects it.
    let r = poly.bounding_rect().unwrap();
    let body = serde_json::json!({"type": "Polygon", "coordinates": [[
        [r.min().x, r.min().y], [r.max().x, r.min().y], [r.max().x, r.max().y], [r.min().x, r.max().y], [r.min().x, r.min().y]
    ]]});
    let resp = client()
        .post(format!("{}/api/layers/heritage/intersects", fx().base))
        .header(header::CONTENT_TYPE, "application/json")
        .body(body.to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let v: Value = serde_json::from_slice(&resp.bytes().await.unwrap()).unwrap();
    assert!(v["features"]
        .as_array()
        .unwrap()
        .iter()
        .any(|f| f["id"] == "osm:way/172657562"));
}

async fn expect_error(path: &str, status: u16) -> Value {
    let (s, v) = get_json(path).await;
    assert_eq!(s, status, "{path}: {v}");
    assert_eq!(v["error"]["status"], status, "{path}: {v}");
    assert!(!v["error"]["message"].as_str().unwrap().is_empty());
    v
}

#[tokio::test]
async fn bad_requests_are_json_errors() {
    let v = expect_error("/api/layers/temples/features", 404).await;
    assert!(v["error"]["message"].as_str().unwrap().contains("temples"));
    expect_error("/api/layers/buildings/features?bbox=1,2,3", 400).await;
    expect_error(
        "/api/layers/buildings/features?bbox=107.6,16.4,107.5,16.5",
        400,
    )
    .await;
    expect_error(
        "/api/layers/buildings/features?bbox=NaN,16.4,107.6,16.5",
        400,
    )
    .await;
    expect_error(
        "/api/layers/buildings/features?bbox=107.5,16.4,inf,16.5",
        400,
    )
    .await;
    expect_error(
        "/api/layers/buildings/features?bbox=107.5,16.4,190,16.5",
        400,
    )
    .await;
    expect_error("/api/layers/buildings/features?limit=1000000", 400).await;
    expect_error("/api/layers/buildings/features?limit=-1", 400).await;
    expect_error(
        "/api/layers/buildings/features?limit=99999999999999999999999999",
        400,
    )
    .await;
    expect_error("/api/layers/buildings/nearest?lon=NaN&lat=16.4", 400).await;
    expect_error("/api/layers/buildings/nearest?lon=107.5&lat=inf", 400).await;
    expect_error(
        "/api/layers/buildings/nearest?lon=107.5&lat=16.4&k=5000",
        400,
    )
    .await;
    expect_error("/api/layers/buildings/nearest?lon=107.5", 400).await;
    expect_error(
        "/api/layers/buildings/within?lon=107.5&lat=16.4&radius=-1",
        400,
    )
    .await;
    expect_error(
        "/api/layers/buildings/within?lon=107.5&lat=16.4&radius=1e12",
        400,
    )
    .await;
    expect_error(
        "/api/layers/buildings/within?lon=107.5&lat=16.4&radius=NaN",
        400,
    )
    .await;
    expect_error("/api/heritage/zones?lon=abc&lat=1", 400).await;
    expect_error("/api/nothing", 404).await;
    expect_error("/tiles/roads/tileset.json", 404).await;
    expect_error("/tiles/buildings/99/0/0.glb", 404).await;
    expect_error("/tiles/buildings/0/0/0.png", 404).await;
    // Wrong method: 405, as JSON.
    let r = client()
        .post(format!("{}/api/layers", fx().base))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 405);
    assert_eq!(r.headers()[header::CONTENT_TYPE], "application/json");
}

#[tokio::test]
async fn bodies_are_bounded_and_checked() {
    let url = format!("{}/api/layers/buildings/intersects", fx().base);
    // Over the bound: 413 (the polygon is otherwise valid JSON).
    let big = fx().app_cfg.max_body_bytes + 1000;
    let mut coords = String::from("[[107.5,16.4],[107.6,16.4],[107.6,16.5],");
    while coords.len() < big {
        coords.push_str("[107.55,16.45],");
    }
    coords.push_str("[107.5,16.4]]");
    let body = format!("{{\"type\":\"Polygon\",\"coordinates\":[{coords}]}}");
    let r = client()
        .post(&url)
        .header(header::CONTENT_TYPE, "application/json")
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 413);
    let v: Value = serde_json::from_slice(&r.bytes().await.unwrap()).unwrap();
    assert_eq!(v["error"]["status"], 413);
    // Not JSON, not a polygon, no content type, NaN in coordinates.
    for (ct, body, status) in [
        ("application/json", "{not json", 400),
        (
            "application/json",
            r#"{"type":"Point","coordinates":[107.5,16.4]}"#,
            400,
        ),
        ("text/plain", r#"{"type":"Polygon","coordinates":[]}"#, 415),
        (
            "application/json",
            r#"{"type":"Polygon","coordinates":[[[107.5,16.4],[107.6,16.4],[107.6,1e400],[107.5,16.4]]]}"#,
            400,
        ),
    ] {
        let r = client()
            .post(&url)
            .header(header::CONTENT_TYPE, ct)
            .body(body)
            .send()
            .await
            .unwrap();
        let s = r.status().as_u16();
        let v: Value = serde_json::from_slice(&r.bytes().await.unwrap()).unwrap();
        assert!(
            s == status || (status == 400 && s == 422),
            "{body}: {s} {v}"
        );
        assert_eq!(v["error"]["status"], s);
    }
}

#[tokio::test]
async fn hostile_paths_are_refused_and_the_server_keeps_serving() {
    let addr = fx().addr;
    // The twin's own files must never come out.
    let secret = std::fs::read_to_string(fx().dir.join("twin.toml")).unwrap();
    for path in [
        "/tiles/../twin.toml",
        "/tiles/../../hue/twin.toml",
        "/tiles/%2e%2e/%2e%2e/twin.toml",
        "/tiles/buildings%2f..%2f..%2ftwin.toml",
        "/tiles/buildings%2F0%2F0%2F0.glb",
        "/tiles/..%5c..%5ctwin.toml",
        "/cesium/../../Cargo.toml",
        "/cesium/%2e%2e/%2e%2e/Cargo.toml",
        "/cesium/..%2f..%2fCargo.toml",
        "/api/layers/buildings/features/%2e%2e",
        "/tiles/buildings/0/0/0.glb%00.json",
    ] {
        let (status, text) = raw_get(addr, path);
        assert_eq!(status, Some(400), "{path}: {text}");
        assert!(text.contains("\"error\""), "{path}: {text}");
        assert!(
            !text.contains(secret.lines().next().unwrap()),
            "{path} leaked twin.toml"
        );
    }
    // A tile path with odd characters, very long paths, garbage request lines.
    let (s, _) = raw_get(addr, &format!("/tiles/{}.glb", "a/".repeat(400)));
    assert_eq!(s, Some(400));
    let (s, _) = raw_get(addr, "/tiles/build ings/tileset.json");
    assert!(s.is_none() || s == Some(400), "{s:?}");
    let _ = raw(addr, b"\x00\x01\x02 garbage\r\n\r\n");
    let _ = raw(
        addr,
        b"GET /tiles/tileset.json HTTP/1.1\r\nHost: localhost\r\nContent-Length: 99999999999\r\n\r\nabc",
    );
    // Still serving.
    let (s, v) = get_json("/healthz").await;
    assert_eq!(s, 200);
    assert_eq!(v["status"], "ok");
    let r = get("/tiles/tileset.json").await;
    assert_eq!(r.status(), 200);
}

#[tokio::test]
async fn metrics_openapi_and_viewer() {
    // Make sure some tile traffic happened.
    let _ = get("/tiles/heritage/tileset.json").await;
    let _ = get("/tiles/heritage/tileset.json").await;
    let r = get("/metrics").await;
    assert_eq!(r.status(), 200);
    let text = r.text().await.unwrap();
    assert!(text.contains("huetwin_http_requests_total{"), "{text}");
    assert!(text.contains("route=\"/tiles/{*path}\""), "{text}");
    assert!(text.contains("huetwin_http_request_duration_seconds_bucket"));
    let memory_hits: f64 = text
        .lines()
        .find(|l| l.starts_with("huetwin_tile_cache_lookups_total{tier=\"memory\"}"))
        .and_then(|l| l.split_whitespace().last())
        .and_then(|x| x.parse().ok())
        .expect("memory hits counted");
    assert!(memory_hits >= 1.0);

    let (s, doc) = get_json("/api/openapi.json").await;
    assert_eq!(s, 200);
    assert!(doc["openapi"].as_str().unwrap().starts_with("3."));
    for p in [
        "/api/layers",
        "/api/layers/{layer}/features",
        "/api/layers/{layer}/features/{id}",
        "/api/layers/{layer}/nearest",
        "/api/layers/{layer}/within",
        "/api/layers/{layer}/intersects",
        "/api/heritage/zones",
        "/tiles/{path}",
        "/healthz",
        "/metrics",
    ] {
        assert!(doc["paths"].get(p).is_some(), "OpenAPI lacks {p}");
    }
    let r = get("/").await;
    assert_eq!(r.status(), 200);
    let html = r.text().await.unwrap();
    assert!(html.contains("/cesium/Cesium.js") && html.contains("/viewer.js"));
    let r = get("/viewer.js").await;
    assert_eq!(r.status(), 200);
    // The twin's own basemap is the viewer's default imagery (docs/adr/0022).
    let js = r.text().await.unwrap();
    assert!(js.contains("UrlTemplateImageryProvider") && js.contains("/basemap/tilejson.json"));
}

#[tokio::test]
async fn disk_cache_serves_a_fresh_server() {
    // Fill the disk cache through the shared server.
    let files = export_files();
    let glb = files.keys().find(|k| k.ends_with(".glb")).unwrap().clone();
    let r = get(&format!("/tiles/{glb}")).await;
    assert_eq!(r.status(), 200);
    let etag = r.headers()[header::ETAG].clone();
    // A second server over the same twin and disk cache, with an empty memory cache.
    let source = GeneratedTiles::plan(fx().twin.clone(), &fx().opts, &fx().fingerprint).unwrap();
    let app = server::app(fx().twin.clone(), Arc::new(source), &fx().app_cfg).unwrap();
    let addr = common::start(app);
    let url = format!("http://{addr}/tiles/{glb}");
    // The background write may lag the first response a little.
    let mut tier = String::new();
    let written = || {
        std::fs::read_dir(fx().dir.join("cache/tiles"))
            .map(|d| d.flatten().any(|v| v.path().join(&glb).is_file()))
            .unwrap_or(false)
    };
    for _ in 0..100 {
        if written() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert!(written(), "{glb} not in the disk cache");
    let r = client().get(&url).send().await.unwrap();
    if let Some(t) = r.headers().get("x-cache") {
        tier = t.to_str().unwrap().to_string();
    }
    assert_eq!(r.headers()[header::ETAG], etag);
    assert_eq!(r.bytes().await.unwrap().as_ref(), files[&glb].as_slice());
    assert_eq!(tier, "disk");
    let r = client().get(&url).send().await.unwrap();
    assert_eq!(r.headers()["x-cache"], "memory");
}

/// Issue 14: a position with one number (`[107.5]`) in a posted polygon made the geojson
/// crate's conversion index out of bounds (a 500 "index out of bounds"); now it is a 400
/// naming the position.
#[tokio::test]
async fn short_positions_in_a_posted_polygon_are_400() {
    let url = format!("{}/api/layers/buildings/intersects", fx().base);
    for body in [
        r#"{"type":"Polygon","coordinates":[[[107.5],[107.6,16.4],[107.6,16.5],[107.5,16.4]]]}"#,
        r#"{"type":"Polygon","coordinates":[[[107.5,16.4],[107.6,16.4],[],[107.5,16.4]]]}"#,
        r#"{"type":"Polygon","coordinates":[[[107.5,16.4],[107.6,16.4],[107.6,16.5],[107.5]]]}"#,
    ] {
        let r = client()
            .post(&url)
            .header(header::CONTENT_TYPE, "application/json")
            .body(body)
            .send()
            .await
            .unwrap();
        let s = r.status().as_u16();
        let v: Value = serde_json::from_slice(&r.bytes().await.unwrap()).unwrap();
        assert_eq!(s, 400, "{body}: {v}");
        let m = v["error"]["message"].as_str().unwrap();
        assert!(m.contains("position"), "{body}: {m}");
    }
    let (s, _) = get_json("/api/layers").await;
    assert_eq!(s, 200);
}

/// Issue 14: a world box `-180,-90,180,90` has corners that do not project to UTM, and the
/// query found nothing; the box is clamped to the twin's own WGS84 extent first, so it finds
/// every feature (and a box beside the twin finds none).
#[tokio::test]
async fn a_world_bbox_finds_every_feature() {
    for layer in ["buildings", "heritage", "roads"] {
        let (s, v) = get_json(&format!(
            "/api/layers/{layer}/features?bbox=-180,-90,180,90&limit=0"
        ))
        .await;
        assert_eq!(s, 200, "{v}");
        let (_, all) = get_json(&format!("/api/layers/{layer}/features?limit=0")).await;
        assert!(all["numberMatched"].as_u64().unwrap() > 0);
        assert_eq!(v["numberMatched"], all["numberMatched"], "{layer}");
    }
    // A box on the other side of the Earth: nothing, and no error.
    let (s, v) = get_json("/api/layers/buildings/features?bbox=-80,-60,-70,-50&limit=0").await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["numberMatched"], 0);
}

/// Implicit tilesets (`--implicit`): a server planned with them serves the same bytes as
/// `tiles::export` for every file, subtrees (binary) included, made on demand from their
/// `{level}/{x}/{y}` address and kept in the disk cache like tiles; a subtree the tree does not
/// have is a 404.
#[tokio::test]
async fn implicit_subtrees_and_tiles_are_the_exported_bytes() {
    let f = fx();
    let root = f.dir.parent().unwrap().join("implicit");
    let _ = std::fs::remove_dir_all(&root);
    let opts = TilesetOptions {
        implicit: true,
        ..f.opts.clone()
    };
    let export = root.join("export");
    tiles::export(&f.twin, &export, &[], &opts, &NoProgress).unwrap();
    let source = GeneratedTiles::plan(f.twin.clone(), &opts, &f.fingerprint).unwrap();
    let cache = root.join("cache");
    let cfg = ServerConfig {
        disk_cache: Some(cache.clone()),
        ..ServerConfig::default()
    };
    let addr = common::start(server::app(f.twin.clone(), Arc::new(source), &cfg).unwrap());
    let files = testkit::files_ending(&export, "");
    let subtrees = files
        .iter()
        .filter(|p| p.extension().is_some_and(|e| e == "subtree"))
        .count();
    assert!(subtrees >= 2, "buildings and heritage subtrees: {subtrees}");
    for p in &files {
        let rel = p
            .strip_prefix(&export)
            .unwrap()
            .to_string_lossy()
            .to_string();
        let r = client()
            .get(format!("http://{addr}/tiles/{rel}"))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200, "{rel}");
        let ct = r.headers()[header::CONTENT_TYPE]
            .to_str()
            .unwrap()
            .to_string();
        if rel.ends_with(".subtree") {
            assert_eq!(ct, "application/octet-stream", "{rel}");
        }
        let body = r.bytes().await.unwrap();
        assert!(
            body.as_ref() == std::fs::read(p).unwrap().as_slice(),
            "{rel}: bytes differ from the export"
        );
    }
    let ts: Value =
        serde_json::from_slice(&std::fs::read(export.join("buildings/tileset.json")).unwrap())
            .unwrap();
    assert_eq!(
        ts["root"]["implicitTiling"]["subtrees"]["uri"],
        "subtrees/{level}/{x}/{y}.subtree"
    );
    assert_eq!(ts["root"]["content"]["uri"], "{level}/{x}/{y}.glb");
    // Subtrees are cached on disk like tiles (written in the background).
    let mut cached = BTreeSet::new();
    for _ in 0..100 {
        cached = testkit::files_ending(&cache, ".subtree");
        if cached.len() == subtrees {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!(cached.len(), subtrees, "{cached:?}");
    for missing in [
        "buildings/subtrees/1/0/0.subtree",
        "buildings/subtrees/0/0/1.subtree",
        "buildings/subtrees/x/0/0.subtree",
        "terrain/subtrees/0/0/0.subtree",
    ] {
        let r = client()
            .get(format!("http://{addr}/tiles/{missing}"))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 404, "{missing}");
    }
}
