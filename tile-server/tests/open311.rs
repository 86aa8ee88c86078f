//! Issue 15, citizen reports over Open311 GeoReport v2, against a server on a free loopback
//! port: the answers' shapes validated against GeoReport v2 JSON Schemas
//! (`tests/data/georeport-v2.schema.json`, by the `jsonschema` crate); a photo with GPS EXIF
//! served back without it; contact data kept out of public answers; moderation for editors
//! only; the rate limit; the heritage flag; the filters; and durability across a kill -9.

mod common;

use reqwest::header;
use serde_json::Value;
use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::path::Path;
use twin_core::tokens::Role;

/// GeoReport v2's shapes, one JSON Schema document with a definition per answer.
fn schema(def: &str) -> jsonschema::Validator {
    let text = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/georeport-v2.schema.json"),
    )
    .unwrap();
    let mut doc: Value = serde_json::from_str(&text).unwrap();
    doc["$ref"] = Value::String(format!("#/$defs/{def}"));
    jsonschema::validator_for(&doc).unwrap()
}

/// Assert `v` has the shape `def` of the schema, listing every violation.
fn assert_shape(def: &str, v: &Value) {
    let errors: Vec<String> = schema(def)
        .iter_errors(v)
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .collect();
    assert!(errors.is_empty(), "{def}: {errors:#?}\n{v:#}");
}

/// Contact data of the test reports: none of it may appear in a public answer.
const EMAIL: &str = "lan.nguyen@example.vn";
const PHONE: &str = "+84 234 3822 111";
const FIRST: &str = "Lan";
const LAST: &str = "Nguyễn-Secret";
const DEVICE: &str = "device-7f3a-secret";
const ACCOUNT: &str = "hue-s-account-991";

/// A point inside the sample twin's Citadel (the Kinh Thành walls and its protected area).
const CITADEL: (f64, f64) = (107.568, 16.478);
/// Points of the sample twin in no heritage zone.
const OUTSIDE: [(f64, f64); 4] = [
    (107.585, 16.455),
    (107.600, 16.460),
    (107.575, 16.445),
    (107.610, 16.470),
];

async fn send(r: reqwest::RequestBuilder) -> (u16, header::HeaderMap, Value) {
    let r = r.send().await.unwrap();
    let (s, h) = (r.status().as_u16(), r.headers().clone());
    let b = r.bytes().await.unwrap();
    let v = serde_json::from_slice(&b)
        .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&b).into()));
    (s, h, v)
}

/// Serve a copy of the sample twin with `reports` as its `[reports]` section.
fn serve(name: &str, reports: &str) -> (String, std::path::PathBuf) {
    let reports = reports.to_string();
    let (addr, dir, _) = common::serve_sample_with_config(
        name,
        move |dir| {
            let p = dir.join("twin.toml");
            let text = std::fs::read_to_string(&p).unwrap();
            std::fs::write(&p, format!("{text}\n[reports]\n{reports}\n")).unwrap();
        },
        |_| {},
    );
    (format!("http://{addr}"), dir)
}

fn form(service: &str, (lon, lat): (f64, f64), description: &str) -> Vec<(String, String)> {
    [
        ("service_code", service.to_string()),
        ("lat", lat.to_string()),
        ("long", lon.to_string()),
        ("description", description.to_string()),
        ("email", EMAIL.into()),
        ("phone", PHONE.into()),
        ("first_name", FIRST.into()),
        ("last_name", LAST.into()),
        ("device_id", DEVICE.into()),
        ("account_id", ACCOUNT.into()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect()
}

/// File a report; its id.
async fn post(c: &reqwest::Client, base: &str, fields: &[(String, String)]) -> String {
    let (s, h, v) = send(
        c.post(format!("{base}/open311/v2/requests.json"))
            .form(fields),
    )
    .await;
    assert_eq!(s, 201, "{v}");
    assert_shape("post_response", &v);
    let id = v[0]["service_request_id"].as_str().unwrap().to_string();
    assert_eq!(
        h[header::LOCATION].to_str().unwrap(),
        format!("/open311/v2/requests/{id}.json")
    );
    id
}

/// Assert the ids of a list answer, in order.
fn assert_ids(v: &Value, want: &[&String], what: &str) {
    let want: Vec<String> = want.iter().map(|s| s.to_string()).collect();
    assert_eq!(ids(v), want, "{what}");
}

/// Ids of a list answer, in order.
fn ids(v: &Value) -> Vec<String> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|r| r["service_request_id"].as_str().unwrap().to_string())
        .collect()
}

fn assert_no_contact(text: &str) {
    for secret in [EMAIL, PHONE, FIRST, LAST, DEVICE, ACCOUNT] {
        // FIRST ("Lan") is short: look for it as a JSON string only.
        let needle = if secret == FIRST {
            format!("\"{secret}\"")
        } else {
            secret.to_string()
        };
        assert!(!text.contains(&needle), "{secret} leaked: {text}");
    }
    for key in [
        "email",
        "phone",
        "first_name",
        "last_name",
        "device_id",
        "account_id",
        "contact",
    ] {
        assert!(
            !text.contains(&format!("\"{key}\"")),
            "{key} leaked: {text}"
        );
    }
}

#[tokio::test]
async fn shapes_services_and_no_contact_data_in_public() {
    let (base, dir) = serve("open311-shapes", "");
    let c = common::http();
    let (s, _, v) = send(c.get(format!("{base}/open311/v2/services.json"))).await;
    assert_eq!(s, 200, "{v}");
    assert_shape("services", &v);
    let codes: BTreeSet<&str> = v
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["service_code"].as_str().unwrap())
        .collect();
    for code in [
        "flooding",
        "fallen-tree",
        "heritage-damage",
        "road-damage",
        "rubbish",
    ] {
        assert!(codes.contains(code), "{code} missing from {codes:?}");
    }

    let id = post(
        &c,
        &base,
        &form("flooding", OUTSIDE[0], "Water 30 cm deep on Le Loi"),
    )
    .await;
    let one = c
        .get(format!("{base}/open311/v2/requests/{id}.json"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let v: Value = serde_json::from_str(&one).unwrap();
    assert_shape("service_requests", &v);
    assert_eq!(v.as_array().unwrap().len(), 1);
    let r = &v[0];
    assert_eq!(r["service_request_id"], id.as_str());
    assert_eq!(r["status"], "open");
    assert_eq!(r["service_code"], "flooding");
    assert_eq!(r["description"], "Water 30 cm deep on Le Loi");
    assert_eq!(r["lat"], OUTSIDE[0].1);
    assert_eq!(r["long"], OUTSIDE[0].0);
    assert_no_contact(&one);

    let list = c
        .get(format!("{base}/open311/v2/requests.json"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let v: Value = serde_json::from_str(&list).unwrap();
    assert_shape("service_requests", &v);
    assert_eq!(ids(&v), vec![id.clone()]);
    assert_no_contact(&list);

    // Another jurisdiction and an unknown report are GeoReport errors.
    let (s, _, v) = send(c.get(format!(
        "{base}/open311/v2/services.json?jurisdiction_id=hanoi.gov.vn"
    )))
    .await;
    assert_eq!(s, 404);
    assert_shape("errors", &v);
    let (s, _, v) = send(c.get(format!("{base}/open311/v2/requests/999999.json"))).await;
    assert_eq!(s, 404);
    assert_shape("errors", &v);
    assert_eq!(v[0]["code"], 404);

    // Editors see the contact data.
    let editor = common::client_with(&common::token(&dir, Role::Editor));
    let (s, _, v) = send(editor.get(format!(
        "{base}/open311/v2/moderation/requests.json?service_request_id={id}"
    )))
    .await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v[0]["contact"]["email"], EMAIL);
    assert_eq!(v[0]["contact"]["device_id"], DEVICE);
    assert_eq!(v[0]["workflow"], "new");
    assert_eq!(v[0]["heritage_flag"], false);
}

/// A real baseline JPEG (jpeg-encoder) carrying EXIF with a GPS position, camera make and
/// model (written by kamadak-exif), an XMP packet with the position again, and bytes after
/// the end of the image.
fn jpeg_with_gps() -> Vec<u8> {
    use exif::experimental::Writer;
    use exif::{Field, In, Rational, Tag, Value as EV};
    let (w, h) = (64u16, 48u16);
    let mut rgb = Vec::new();
    for y in 0..h {
        for x in 0..w {
            rgb.extend([(x * 4) as u8, (y * 5) as u8, 128]);
        }
    }
    let r = |n: u32, d: u32| Rational { num: n, denom: d };
    let fields = [
        Field {
            tag: Tag::Make,
            ifd_num: In::PRIMARY,
            value: EV::Ascii(vec![b"SecretPhoneMaker".to_vec()]),
        },
        Field {
            tag: Tag::Model,
            ifd_num: In::PRIMARY,
            value: EV::Ascii(vec![b"Model-X-Serial-42".to_vec()]),
        },
        Field {
            tag: Tag::GPSLatitudeRef,
            ifd_num: In::PRIMARY,
            value: EV::Ascii(vec![b"N".to_vec()]),
        },
        Field {
            tag: Tag::GPSLatitude,
            ifd_num: In::PRIMARY,
            value: EV::Rational(vec![r(16, 1), r(28, 1), r(4080, 100)]),
        },
        Field {
            tag: Tag::GPSLongitudeRef,
            ifd_num: In::PRIMARY,
            value: EV::Ascii(vec![b"E".to_vec()]),
        },
        Field {
            tag: Tag::GPSLongitude,
            ifd_num: In::PRIMARY,
            value: EV::Rational(vec![r(107, 1), r(34, 1), r(480, 100)]),
        },
    ];
    let mut writer = Writer::new();
    for f in &fields {
        writer.push_field(f);
    }
    let mut tiff = std::io::Cursor::new(Vec::new());
    writer.write(&mut tiff, false).unwrap();
    let mut exif_segment = b"Exif\0\0".to_vec();
    exif_segment.extend(tiff.into_inner());
    let xmp = b"http://ns.adobe.com/xap/1.0/\0<x:xmpmeta xmlns:x='adobe:ns:meta/'><exif:GPSLatitude>16,28.68N</exif:GPSLatitude></x:xmpmeta>".to_vec();
    let mut out = Vec::new();
    let mut enc = jpeg_encoder::Encoder::new(&mut out, 85);
    enc.add_app_segment(1, exif_segment).unwrap();
    enc.add_app_segment(1, xmp).unwrap();
    enc.encode(&rgb, w, h, jpeg_encoder::ColorType::Rgb)
        .unwrap();
    out.extend(b"TRAILING-SECRET-AFTER-EOI");
    out
}

/// The bytes from the first start-of-scan marker to the end-of-image marker: the picture.
fn scan_data(jpeg: &[u8]) -> &[u8] {
    let sos = jpeg.windows(2).position(|w| w == [0xFF, 0xDA]).unwrap();
    let eoi = jpeg.windows(2).rposition(|w| w == [0xFF, 0xD9]).unwrap();
    &jpeg[sos..eoi + 2]
}

#[tokio::test]
async fn photo_comes_back_without_exif() {
    let (base, dir) = serve("open311-photo", "");
    let c = common::http();
    let photo = jpeg_with_gps();
    // The photo carries a GPS position, as a phone's would.
    let exif = exif::Reader::new()
        .read_from_container(&mut std::io::Cursor::new(&photo))
        .unwrap();
    assert!(exif
        .get_field(exif::Tag::GPSLatitude, exif::In::PRIMARY)
        .is_some());

    let mut form = reqwest::multipart::Form::new();
    for (k, v) in crate::form("fallen-tree", OUTSIDE[1], "Tree down across the road") {
        form = form.text(k, v);
    }
    let part = reqwest::multipart::Part::bytes(photo.clone())
        .file_name("IMG_20251027_0930.jpg")
        .mime_str("image/jpeg")
        .unwrap();
    let (s, _, v) = send(
        c.post(format!("{base}/open311/v2/requests.json"))
            .multipart(form.part("media", part)),
    )
    .await;
    assert_eq!(s, 201, "{v}");
    let id = v[0]["service_request_id"].as_str().unwrap();
    let (_, _, v) = send(c.get(format!("{base}/open311/v2/requests/{id}.json"))).await;
    assert_shape("service_requests", &v);
    let url = v[0]["media_url"].as_str().unwrap().to_string();
    assert!(
        url.starts_with(&format!("{base}/open311/v2/media/")),
        "{url}"
    );
    let r = c.get(&url).send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()[header::CONTENT_TYPE], "image/jpeg");
    let served = r.bytes().await.unwrap().to_vec();

    // No EXIF left for an EXIF reader, no XMP, no trailing bytes, no camera strings.
    match exif::Reader::new().read_from_container(&mut std::io::Cursor::new(&served)) {
        Err(exif::Error::NotFound(_)) => {}
        Ok(e) => panic!("EXIF still readable: {} fields", e.fields().count()),
        Err(e) => panic!("not the absence of EXIF: {e}"),
    }
    for leak in [
        &b"Exif\0\0"[..],
        b"xmpmeta",
        b"SecretPhoneMaker",
        b"Model-X-Serial",
        b"TRAILING-SECRET",
    ] {
        assert!(
            !served.windows(leak.len()).any(|w| w == leak),
            "{:?} left in the served photo",
            String::from_utf8_lossy(leak)
        );
    }
    // The picture itself is untouched: same frame, same scan data, a JPEG from SOI to EOI.
    assert!(served.starts_with(&[0xFF, 0xD8]) && served.ends_with(&[0xFF, 0xD9]));
    assert_eq!(scan_data(&served), scan_data(&photo));
    let jpeg = img_parts::jpeg::Jpeg::from_bytes(served.clone().into()).unwrap();
    assert_eq!(jpeg.dimensions(), Some((64, 48)));
    assert!(served.len() < photo.len());
    // The stored file is the cleaned one; the sender's file name is not used.
    let photos: Vec<_> = std::fs::read_dir(dir.join("reports/photos"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(photos.len(), 1, "{photos:?}");
    assert_eq!(std::fs::read(&photos[0]).unwrap(), served);
    assert!(!photos[0].to_string_lossy().contains("IMG_"));
    // A conditional request gets 304.
    let etag = c
        .get(&url)
        .send()
        .await
        .unwrap()
        .headers()
        .get(header::ETAG)
        .unwrap()
        .clone();
    let r = c
        .get(&url)
        .header(header::IF_NONE_MATCH, etag)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 304);
}

#[tokio::test]
async fn bad_input_is_named_and_the_server_keeps_serving() {
    let (base, _) = serve(
        "open311-bad",
        "max_photo_bytes = 100000\nper_minute = 600\nburst = 100",
    );
    // No pooled connections: the server answers a refused upload (413) before reading it and
    // closes that connection, which a pooled client could reuse for the next request.
    let c = common::http_builder()
        .pool_max_idle_per_host(0)
        .build()
        .unwrap();
    let url = format!("{base}/open311/v2/requests.json");
    let with = |k: &str, v: &str| {
        let mut f = form("flooding", OUTSIDE[2], "x");
        f.retain(|(key, _)| key != k);
        if !v.is_empty() {
            f.push((k.to_string(), v.to_string()));
        }
        f
    };
    type Case = (Vec<(String, String)>, u16, &'static str);
    let cases: Vec<Case> = vec![
        (with("lat", "NaN"), 400, "lat:"),
        (with("lat", "inf"), 400, "lat:"),
        (with("lat", "91"), 400, "lat:"),
        (with("long", "-181"), 400, "long:"),
        (with("long", "abc"), 400, "long:"),
        (with("lat", ""), 400, "lat:"),
        (with("lat", "48.85"), 400, "lat/long:"),
        (with("service_code", "ufo-sighting"), 400, "service_code:"),
        (with("service_code", ""), 400, "service_code:"),
        (with("email", "not-an-address"), 400, "email:"),
        (with("description", &"x".repeat(5000)), 400, "description:"),
        (with("description", "bell\u{7}"), 400, "description:"),
        (with("media_url", "javascript:alert(1)"), 400, "media_url:"),
        (
            with("jurisdiction_id", "hanoi.gov.vn"),
            404,
            "jurisdiction_id:",
        ),
        (
            {
                let mut f = with("lat", "16.46");
                f.push(("lat".into(), "16.47".into()));
                f
            },
            400,
            "lat:",
        ),
    ];
    for (fields, status, field) in cases {
        let (s, _, v) = send(c.post(&url).form(&fields)).await;
        assert_eq!(s, status, "{fields:?}: {v}");
        assert_shape("errors", &v);
        let d = v[0]["description"].as_str().unwrap();
        assert!(d.starts_with(field), "{field}: {d}");
    }
    // A JSON body, a huge body, a hostile file name, a GIF, a damaged JPEG.
    let (s, _, v) = send(
        c.post(&url)
            .header(header::CONTENT_TYPE, "application/json")
            .body(r#"{"service_code":"flooding"}"#),
    )
    .await;
    assert_eq!(s, 415, "{v}");
    assert_shape("errors", &v);
    // A huge body is refused from its announced length (the server answers before reading
    // it, so the 3 MiB are not sent: a client still writing them could see the connection
    // closed before it reads the answer).
    let host = base.trim_start_matches("http://").to_string();
    let head = tokio::task::spawn_blocking(move || {
        use std::io::{Read, Write};
        let mut t = std::net::TcpStream::connect(&host).unwrap();
        write!(
            t,
            "POST /open311/v2/requests.json HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
            3 << 20
        )
        .unwrap();
        let mut answer = String::new();
        let _ = t.read_to_string(&mut answer);
        answer
    })
    .await
    .unwrap();
    assert!(head.starts_with("HTTP/1.1 413"), "{head}");
    let photo = jpeg_with_gps();
    for (name, bytes, status, field) in [
        ("../../twin.toml", photo.clone(), 400, "media:"),
        ("a\\b.jpg", photo.clone(), 400, "media:"),
        ("x.gif", b"GIF89a\x01\x00\x01\x00".to_vec(), 400, "media:"),
        ("x.jpg", photo[..40].to_vec(), 400, "media:"),
        ("big.jpg", vec![0xFF; 150_000], 413, "media:"),
    ] {
        let mut form = reqwest::multipart::Form::new();
        for (k, v) in crate::form("rubbish", OUTSIDE[3], "bags on the pavement") {
            form = form.text(k, v);
        }
        let part = reqwest::multipart::Part::bytes(bytes).file_name(name);
        let (s, _, v) = send(c.post(&url).multipart(form.part("media", part))).await;
        assert_eq!(s, status, "{name}: {v}");
        assert_shape("errors", &v);
        assert!(
            v[0]["description"].as_str().unwrap().starts_with(field),
            "{v}"
        );
    }
    // Bad query parameters.
    for (q, field) in [
        ("status=pending", "status:"),
        ("start_date=yesterday", "start_date:"),
        ("bbox=1,2,3", "bbox"),
        ("service_request_id=abc", "service_request_id:"),
        (
            "start_date=2026-01-02T00:00:00Z&end_date=2026-01-01T00:00:00Z",
            "start_date:",
        ),
    ] {
        let (s, _, v) = send(c.get(format!("{url}?{q}"))).await;
        assert_eq!(s, 400, "{q}: {v}");
        assert_shape("errors", &v);
        assert!(
            v[0]["description"].as_str().unwrap().starts_with(field),
            "{q}: {v}"
        );
    }
    // Nothing was stored, and the server still answers.
    let (s, _, v) = send(c.get(&url)).await;
    assert_eq!((s, v), (200, Value::Array(vec![])));
    let id = post(&c, &base, &form("rubbish", OUTSIDE[3], "still works")).await;
    assert_eq!(id, "1");
}

#[tokio::test]
async fn moderation_needs_an_editor() {
    let (base, dir) = serve("open311-moderation", "");
    let c = common::http();
    let id = post(&c, &base, &form("road-damage", OUTSIDE[0], "pothole")).await;
    let url = format!("{base}/open311/v2/requests/{id}.json");
    let body = r#"{"status": "closed", "status_notes": "Repaired on 28 October"}"#;
    let patch = |c: &reqwest::Client| {
        c.patch(&url)
            .header(header::CONTENT_TYPE, "application/json")
            .body(body)
    };
    let (s, h, _) = send(patch(&c)).await;
    assert_eq!(s, 401);
    assert!(h.contains_key(header::WWW_AUTHENTICATE));
    for role in [Role::Viewer, Role::Planner] {
        let (s, _, v) = send(patch(&common::client_with(&common::token(&dir, role)))).await;
        assert_eq!(s, 403, "{role}: {v}");
    }
    for route in ["moderation", "heritage"] {
        let list = format!("{base}/open311/v2/{route}/requests.json");
        assert_eq!(send(c.get(&list)).await.0, 401);
        let viewer = common::client_with(&common::token(&dir, Role::Viewer));
        assert_eq!(send(viewer.get(&list)).await.0, 403);
    }
    // Still open for the public.
    let (_, _, v) = send(c.get(&url)).await;
    assert_eq!(v[0]["status"], "open");

    let editor = common::client_with(&common::token(&dir, Role::Editor));
    for (step, public) in [
        ("acknowledged", "open"),
        ("in_progress", "open"),
        ("closed", "closed"),
    ] {
        let (s, _, v) = send(
            editor
                .patch(&url)
                .header(header::CONTENT_TYPE, "application/json")
                .body(format!(
                    r#"{{"status": "{step}", "status_notes": "now {step}"}}"#
                )),
        )
        .await;
        assert_eq!(s, 200, "{v}");
        assert_eq!(v["workflow"], step);
        let (_, _, p) = send(c.get(&url)).await;
        assert_shape("service_requests", &p);
        assert_eq!(p[0]["status"], public, "{step}");
        assert_eq!(p[0]["status_notes"], format!("now {step}"));
    }
    // Bad moderation bodies name the field.
    for (b, field) in [
        (r#"{"status": "done"}"#, "status:"),
        (r#"{"colour": "red"}"#, "body:"),
        ("not json", "body:"),
    ] {
        let (s, _, v) = send(
            editor
                .patch(&url)
                .header(header::CONTENT_TYPE, "application/json")
                .body(b),
        )
        .await;
        assert_eq!(s, 400, "{b}: {v}");
        assert_shape("errors", &v);
        assert!(
            v[0]["description"].as_str().unwrap().starts_with(field),
            "{v}"
        );
    }
    let (s, _, _) = send(
        editor
            .patch(format!("{base}/open311/v2/requests/424242.json"))
            .body(r#"{"status": "closed"}"#),
    )
    .await;
    assert_eq!(s, 404);
    // The history keeps who changed what (read from the store).
    let store = twin_core::reports::ReportStore::open_in(&dir).unwrap();
    let events = store.events(id.parse().unwrap()).unwrap();
    let states: Vec<&str> = events.iter().map(|e| e.workflow.as_str()).collect();
    assert_eq!(states, ["new", "acknowledged", "in_progress", "closed"]);
    assert!(events[3].by.starts_with("token "), "{:?}", events[3]);
}

#[tokio::test]
async fn rate_limit_answers_429_with_retry_after() {
    let (base, _) = serve("open311-rate", "per_minute = 2\nburst = 3");
    let c = common::http();
    for at in &OUTSIDE[..3] {
        post(&c, &base, &form("rubbish", *at, "bags")).await;
    }
    let (s, h, v) = send(
        c.post(format!("{base}/open311/v2/requests.json"))
            .form(&form("rubbish", OUTSIDE[3], "more bags")),
    )
    .await;
    assert_eq!(s, 429, "{v}");
    assert_shape("errors", &v);
    let wait: u64 = h[header::RETRY_AFTER].to_str().unwrap().parse().unwrap();
    // 2 a minute: the next one is allowed within 30 s.
    assert!((1..=30).contains(&wait), "Retry-After {wait}");
    // Reads are not limited.
    let (s, _, v) = send(c.get(format!("{base}/open311/v2/requests.json"))).await;
    assert_eq!(s, 200);
    assert_eq!(v.as_array().unwrap().len(), 3);
}

#[tokio::test]
async fn report_in_the_citadel_is_flagged_for_heritage_staff() {
    let (base, dir) = serve("open311-heritage", "");
    let c = common::http();
    let inside = post(
        &c,
        &base,
        &form("heritage-damage", CITADEL, "Bricks fallen from the wall"),
    )
    .await;
    let outside = post(&c, &base, &form("rubbish", OUTSIDE[0], "bags")).await;
    let editor = common::client_with(&common::token(&dir, Role::Editor));
    let (s, _, v) = send(editor.get(format!("{base}/open311/v2/heritage/requests.json"))).await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(ids(&v), vec![inside.clone()]);
    assert_eq!(v[0]["heritage_flag"], true);
    let sites: Vec<&str> = v[0]["heritage"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["site_id"].as_str().unwrap())
        .collect();
    // The Citadel's protected area (zone II); the walls' polygon has the inside as its hole.
    assert_eq!(sites, ["heritage:kinh-thanh-area"]);
    assert_eq!(v[0]["heritage"][0]["zone"], "II");
    let (_, _, all) = send(editor.get(format!("{base}/open311/v2/moderation/requests.json"))).await;
    assert_eq!(ids(&all), vec![inside.clone(), outside]);
    assert_eq!(all[1]["heritage_flag"], false);
    // The public answer has no flag (only GeoReport's fields).
    let (_, _, p) = send(c.get(format!("{base}/open311/v2/requests/{inside}.json"))).await;
    assert_shape("service_requests", &p);
}

#[tokio::test]
async fn filters_return_exactly_the_expected_reports() {
    let (base, dir) = serve("open311-filters", "per_minute = 600\nburst = 100");
    let c = common::http();
    let a = post(&c, &base, &form("flooding", OUTSIDE[0], "a")).await;
    let b = post(&c, &base, &form("rubbish", OUTSIDE[1], "b")).await;
    // Times are whole seconds: the next reports are filed in a later second.
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    let d = post(&c, &base, &form("flooding", OUTSIDE[2], "d")).await;
    let e = post(&c, &base, &form("road-damage", OUTSIDE[3], "e")).await;
    let f = post(&c, &base, &form("heritage-damage", CITADEL, "f")).await;
    let editor = common::client_with(&common::token(&dir, Role::Editor));
    let (s, _, _) = send(
        editor
            .patch(format!("{base}/open311/v2/requests/{d}.json"))
            .body(r#"{"status": "closed"}"#),
    )
    .await;
    assert_eq!(s, 200);
    let (_, _, all) = send(c.get(format!("{base}/open311/v2/requests.json"))).await;
    assert_shape("service_requests", &all);
    assert_ids(&all, &[&a, &b, &d, &e, &f], "all");
    let time_of = |id: &str| {
        all.as_array()
            .unwrap()
            .iter()
            .find(|r| r["service_request_id"] == id)
            .unwrap()["requested_datetime"]
            .as_str()
            .unwrap()
            .to_string()
    };
    let (tb, td) = (time_of(&b), time_of(&d));
    assert!(tb < td, "{tb} {td}");
    let enc = |s: &str| s.replace('+', "%2B");
    // The box around OUTSIDE[0] and OUTSIDE[1] (107.585..107.600, 16.455..16.460).
    let cases = [
        ("status=closed".to_string(), vec![&d]),
        ("status=open".to_string(), vec![&a, &b, &e, &f]),
        ("status=open,closed".to_string(), vec![&a, &b, &d, &e, &f]),
        ("service_code=flooding".to_string(), vec![&a, &d]),
        ("service_code=flooding&status=open".to_string(), vec![&a]),
        (format!("start_date={}", enc(&td)), vec![&d, &e, &f]),
        (format!("end_date={}", enc(&tb)), vec![&a, &b]),
        (
            format!("start_date={}&end_date={}", enc(&tb), enc(&tb)),
            // b, and a when it was filed in the same second.
            [&a, &b].into_iter().filter(|i| time_of(i) == tb).collect(),
        ),
        ("bbox=107.58,16.45,107.60,16.461".to_string(), vec![&a, &b]),
        ("bbox=107.55,16.46,107.59,16.49".to_string(), vec![&f]),
        (
            "bbox=107.58,16.45,107.60,16.461&service_code=rubbish".to_string(),
            vec![&b],
        ),
        (
            format!("service_request_id={a},{d}&status=open"),
            vec![&a, &d],
        ),
        (
            "start_date=2001-01-01T00:00:00%2B07:00&end_date=2001-01-02T00:00:00Z".to_string(),
            vec![],
        ),
    ];
    for (q, want) in cases {
        let (s, _, v) = send(c.get(format!("{base}/open311/v2/requests.json?{q}"))).await;
        assert_eq!(s, 200, "{q}: {v}");
        assert_shape("service_requests", &v);
        assert_ids(&v, &want, &q);
    }
    // Editors filter by workflow state.
    let (_, _, v) = send(editor.get(format!(
        "{base}/open311/v2/moderation/requests.json?workflow=new"
    )))
    .await;
    assert_ids(&v, &[&a, &b, &e, &f], "workflow=new");
}

/// Not a test on its own: with `OPEN311_CHILD_TWIN` set, serve that twin folder, print the
/// address and wait to be killed (the durability test runs this test binary as its server).
#[test]
fn child_server() {
    let Ok(dir) = std::env::var("OPEN311_CHILD_TWIN") else {
        return;
    };
    let (addr, _) = common::serve_dir(Path::new(&dir), |_| {});
    println!("OPEN311_ADDR {addr}");
    loop {
        std::thread::sleep(std::time::Duration::from_secs(60));
    }
}

#[tokio::test]
async fn acknowledged_reports_survive_kill_9() {
    use std::io::BufRead;
    let root = Path::new(env!("CARGO_TARGET_TMPDIR")).join("open311-durable");
    let _ = std::fs::remove_dir_all(&root);
    let dir = root.join("hue");
    common::copy_sample_twin(&dir);
    let p = dir.join("twin.toml");
    let text = std::fs::read_to_string(&p).unwrap();
    std::fs::write(
        &p,
        format!("{text}\n[reports]\nper_minute = 1000000\nburst = 1000000\n"),
    )
    .unwrap();
    let mut child = std::process::Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "child_server", "--nocapture", "--test-threads=1"])
        .env("OPEN311_CHILD_TWIN", &dir)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    // The child prints its address (after libtest's "test child_server ... ").
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(stdout)
            .lines()
            .map_while(Result::ok)
        {
            if let Some((_, a)) = line.split_once("OPEN311_ADDR ") {
                let _ = tx.send(a.trim().to_string());
            }
        }
    });
    let addr: SocketAddr = match rx.recv_timeout(std::time::Duration::from_secs(120)) {
        Ok(a) => a.parse().unwrap(),
        Err(e) => {
            let _ = child.kill();
            panic!("the child server gave no address: {e}");
        }
    };
    let base = format!("http://{addr}");
    // Four clients post as fast as they can; the server is killed while they do.
    let acked = std::sync::Arc::new(std::sync::Mutex::new(Vec::<i64>::new()));
    let mut tasks = Vec::new();
    for (t, at) in OUTSIDE.into_iter().enumerate() {
        let (base, acked) = (base.clone(), acked.clone());
        tasks.push(tokio::spawn(async move {
            let c = common::http();
            for i in 0.. {
                let fields = form("flooding", at, &format!("client {t} report {i}"));
                let r = c
                    .post(format!("{base}/open311/v2/requests.json"))
                    .form(&fields)
                    .send()
                    .await;
                let Ok(r) = r else { break };
                if r.status() != 201 {
                    break;
                }
                let Ok(b) = r.bytes().await else { break };
                let v: Value = serde_json::from_slice(&b).unwrap();
                let id = v[0]["service_request_id"]
                    .as_str()
                    .unwrap()
                    .parse()
                    .unwrap();
                acked.lock().unwrap().push(id);
            }
        }));
    }
    tokio::time::sleep(std::time::Duration::from_millis(1500)).await;
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    for t in tasks {
        t.await.unwrap();
    }
    let acked = acked.lock().unwrap().clone();
    assert!(
        acked.len() >= 20,
        "only {} reports acknowledged",
        acked.len()
    );
    let store = twin_core::reports::ReportStore::open_in(&dir).unwrap();
    let stored: BTreeSet<i64> = store
        .query(&twin_core::reports::ReportQuery {
            limit: usize::MAX,
            ..Default::default()
        })
        .unwrap()
        .iter()
        .map(|r| r.id)
        .collect();
    let lost: Vec<i64> = acked
        .iter()
        .filter(|id| !stored.contains(id))
        .copied()
        .collect();
    println!(
        "acknowledged {}, stored {}, lost {}",
        acked.len(),
        stored.len(),
        lost.len()
    );
    assert!(lost.is_empty(), "lost {lost:?}");
    // And the contact data of each is there for staff.
    let one = store.get(acked[0]).unwrap().unwrap();
    assert_eq!(one.filed.contact.email.as_deref(), Some(EMAIL));
}
