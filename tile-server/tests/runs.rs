//! Scenario runs over HTTP on the sample twin (a copy of `data/hue`) with the scenario files of
//! `scenarios/examples/hue`: list, POST (by name and as TOML), progress by server-sent events,
//! impacts, result files, the water surface as 3D Tiles, building tiles carrying the run's
//! depths (checked against the run's buildings.csv), cancellation, and refusals of bad
//! input while the server keeps serving.

mod common;

use common::Glb;
use reqwest::header;
use scenarios::jobs::{Model, RunInfo, RunStore, Status};
use serde_json::Value;
use std::collections::HashMap;

async fn json(r: reqwest::Response) -> (u16, Value) {
    let status = r.status().as_u16();
    let body = r.bytes().await.unwrap();
    let v = serde_json::from_slice(&body)
        .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&body)));
    (status, v)
}

/// Send a request; its status and JSON body.
async fn send(r: reqwest::RequestBuilder) -> (u16, Value) {
    json(r.send().await.unwrap()).await
}

/// Read a server-sent event stream to its end: (event, data) pairs.
async fn events(base: &str, id: &str) -> Vec<(String, Value)> {
    let mut r = common::http_get(format!("{base}/api/runs/{id}/events"))
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert!(r.headers()[header::CONTENT_TYPE]
        .to_str()
        .unwrap()
        .starts_with("text/event-stream"));
    let mut text = String::new();
    while let Some(chunk) = r.chunk().await.unwrap() {
        text.push_str(&String::from_utf8_lossy(&chunk));
    }
    let mut out = Vec::new();
    for block in text.split("\n\n") {
        let mut ev = String::new();
        let mut data = String::new();
        for line in block.lines() {
            if let Some(v) = line.strip_prefix("event:") {
                ev = v.trim().to_string();
            } else if let Some(v) = line.strip_prefix("data:") {
                data.push_str(v.trim_start());
            }
        }
        if !ev.is_empty() {
            out.push((ev, serde_json::from_str(&data).unwrap()));
        }
    }
    out
}

/// The result column of a building glb's feature table: feature id → max_flood_depth. Empty
/// for a block tile (class `block`: the merged blocks of the opening view carry no results).
fn tile_depths(glb: &Glb) -> HashMap<String, f32> {
    let tables = glb.json["extensions"]["EXT_structural_metadata"]["propertyTables"]
        .as_array()
        .unwrap();
    if tables[0]["class"] == "block" {
        return HashMap::new();
    }
    let column = |class: &str, prop: &str| -> Vec<u8> {
        let t = tables.iter().find(|t| t["class"] == class).unwrap();
        let view =
            &glb.json["bufferViews"][t["properties"][prop]["values"].as_u64().unwrap() as usize];
        let off = view["byteOffset"].as_u64().unwrap_or(0) as usize;
        let len = view["byteLength"].as_u64().unwrap() as usize;
        glb.bin[off..off + len].to_vec()
    };
    let feature = &tables[0];
    let n = feature["count"].as_u64().unwrap() as usize;
    // The id column: a string column (values + UINT32 offsets).
    let class = feature["class"].as_str().unwrap();
    let values = column(class, "id");
    let offsets_view = &glb.json["bufferViews"][feature["properties"]["id"]["stringOffsets"]
        .as_u64()
        .unwrap() as usize];
    let oo = offsets_view["byteOffset"].as_u64().unwrap_or(0) as usize;
    let offs: Vec<usize> = (0..=n)
        .map(|k| {
            let b = &glb.bin[oo + 4 * k..oo + 4 * k + 4];
            u32::from_le_bytes([b[0], b[1], b[2], b[3]]) as usize
        })
        .collect();
    let depth = column(class, "max_flood_depth");
    (0..n)
        .map(|k| {
            let id = String::from_utf8(values[offs[k]..offs[k + 1]].to_vec()).unwrap();
            let d = f32::from_le_bytes(depth[4 * k..4 * k + 4].try_into().unwrap());
            (id, d)
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn runs_over_http() {
    // A run left `running` by a server that stopped mid-run (its process is gone).
    let mut stale_id = String::new();
    let (addr, dir, _) = common::serve_sample_with_scenarios("runs-test", |dir| {
        let store = RunStore::for_twin(dir);
        let mut r = store
            .create(RunInfo::queued("old", Model::Flood, "old.toml", "0"))
            .unwrap();
        let mut child = std::process::Command::new("true").spawn().unwrap();
        r.owner_pid = Some(child.id());
        child.wait().unwrap();
        r.status = Status::Running;
        store.write(&r).unwrap();
        stale_id = r.id;
    });
    let base = format!("http://{addr}");
    // Runs are started, cancelled and rerun with a planner's token.
    let token = common::token(&dir, twin_core::tokens::Role::Planner);
    let c = common::client_with(&token);

    // The server marked it failed, interrupted, when it started.
    let (s, v) = send(c.get(format!("{base}/api/runs/{stale_id}"))).await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["run"]["status"], "failed", "{v}");
    assert!(
        v["run"]["error"]
            .as_str()
            .unwrap()
            .starts_with("interrupted"),
        "{v}"
    );

    // The scenario files, with their models.
    let (s, v) = send(c.get(format!("{base}/api/scenarios"))).await;
    assert_eq!(s, 200);
    let list = v["scenarios"].as_array().unwrap();
    let model = |f: &str| {
        list.iter()
            .find(|x| x["file"] == f)
            .unwrap_or_else(|| panic!("{f} not listed: {v}"))["model"]
            .clone()
    };
    assert_eq!(model("flood_alarm3.toml"), "flood");
    assert_eq!(model("flood_oct2025_levee.toml"), "flood");
    assert_eq!(model("truong_tien_closed.toml"), "traffic");

    // Bad requests: refused with a JSON error naming the problem.
    let bad = [
        (
            "application/json",
            r#"{"scenario": "nope.toml"}"#,
            404,
            "nope.toml",
        ),
        (
            "application/json",
            r#"{"scenario": "../twin.toml"}"#,
            400,
            "file name",
        ),
        ("application/json", r#"{"scenario": 3}"#, 400, "body"),
        ("application/json", "{", 400, "body"),
        ("text/html", "<p>", 415, "application/toml"),
        (
            "application/toml",
            "name = \"x\"\nduration_s = 60\n",
            400,
            "model",
        ),
        (
            "application/toml",
            "model = \"flood\"\nbaseline = \"none\"\nduration_s = \"long\"\n",
            400,
            "line 3",
        ),
    ];
    for (ct, body, status, needle) in bad {
        let (s, v) = send(
            c.post(format!("{base}/api/runs"))
                .header(header::CONTENT_TYPE, ct)
                .body(body),
        )
        .await;
        assert_eq!(s, status, "{ct} {body}: {v}");
        let msg = v["error"]["message"].as_str().unwrap_or_default();
        assert!(msg.contains(needle), "{body}: {msg:?} lacks {needle:?}");
    }
    // An over-large body is refused from its Content-Length, before it is read.
    {
        use std::io::{Read, Write};
        let mut t = std::net::TcpStream::connect(addr).unwrap();
        t.set_read_timeout(Some(std::time::Duration::from_secs(10)))
            .unwrap();
        t.write_all(
            format!("POST /api/runs HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer {token}\r\nContent-Type: application/toml\r\nContent-Length: 204800\r\nConnection: close\r\n\r\n").as_bytes(),
        )
        .unwrap();
        let mut out = Vec::new();
        let _ = t.read_to_end(&mut out);
        let text = String::from_utf8_lossy(&out);
        assert!(text.starts_with("HTTP/1.1 413"), "{text}");
    }

    // A flood run by name: 202, progress events, then `end` with the done run.
    let r = c
        .post(format!("{base}/api/runs"))
        .header(header::CONTENT_TYPE, "application/json")
        .body(r#"{"scenario": "flood_alarm3.toml"}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 202);
    let loc = r.headers()[header::LOCATION].to_str().unwrap().to_string();
    let (_, v) = json(r).await;
    let id = v["run"]["id"].as_str().unwrap().to_string();
    assert_eq!(loc, format!("/api/runs/{id}"));
    // The server keeps answering while the run goes, and says which generation of the twin
    // it serves (the sample's twin.toml records no import: 0).
    let health = common::http_get(format!("{base}/healthz")).await.unwrap();
    assert_eq!(health.status(), 200);
    let health: Value = serde_json::from_slice(&health.bytes().await.unwrap()).unwrap();
    assert_eq!(health["generation"], 0, "{health}");
    let ev = events(&base, &id).await;
    let (last, end) = ev.last().unwrap();
    assert_eq!(last, "end", "{ev:?}");
    assert_eq!(end["status"], "done", "{end}");
    assert!(ev.len() >= 2, "no progress event before the end: {ev:?}");
    let fr: Vec<f64> = ev
        .iter()
        .filter(|(e, _)| e == "progress")
        .map(|(_, d)| d["fraction"].as_f64().unwrap())
        .collect();
    assert!(fr.windows(2).all(|w| w[1] >= w[0] - 1e-9), "{fr:?}");
    // A finished run's stream is its end at once.
    let again = events(&base, &id).await;
    assert_eq!(again.len(), 1);
    assert_eq!(again[0].1["status"], "done");

    // The run, its impacts and its output times.
    let (s, v) = send(c.get(format!("{base}{loc}"))).await;
    assert_eq!(s, 200);
    assert_eq!(v["run"]["status"], "done");
    assert!(!v["impacts"].is_null(), "{v}");
    let times: Vec<u64> = v["water_times_s"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t.as_u64().unwrap())
        .collect();
    assert_eq!(times.first(), Some(&0), "{times:?}");
    assert_eq!(times.last(), Some(&21600), "{times:?}");
    let (_, runs) = send(c.get(format!("{base}/api/runs"))).await;
    assert!(runs["runs"]
        .as_array()
        .unwrap()
        .iter()
        .any(|r| r["id"] == id.as_str()));

    // Result files, and no file outside the run's folder.
    let csv = c
        .get(format!("{base}/api/runs/{id}/files/buildings.csv"))
        .send()
        .await
        .unwrap();
    assert_eq!(csv.status(), 200);
    assert!(csv.headers()[header::CONTENT_TYPE]
        .to_str()
        .unwrap()
        .starts_with("text/csv"));
    let on_disk = std::fs::read(dir.join("runs").join(&id).join("buildings.csv")).unwrap();
    assert_eq!(csv.bytes().await.unwrap().to_vec(), on_disk);
    for bad in ["twin.toml", ".hidden.csv", "x.exe", "..%2Frun.json"] {
        let s = c
            .get(format!("{base}/api/runs/{id}/files/{bad}"))
            .send()
            .await
            .unwrap()
            .status();
        assert!(s == 400 || s == 404, "{bad}: {s}");
    }
    assert_eq!(
        c.get(format!(
            "{base}/api/runs/20991231T000000Z-nope/files/buildings.csv"
        ))
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
            / 100,
        4
    );

    // The water surface at the end: a tileset of translucent meshes.
    let (s, ts) = send(c.get(format!("{base}/api/runs/{id}/water/21600/tileset.json"))).await;
    assert_eq!(s, 200);
    assert_eq!(ts["asset"]["version"], "1.1");
    fn first_content(t: &Value) -> Option<String> {
        if let Some(u) = t["content"]["uri"].as_str() {
            return Some(u.to_string());
        }
        t["children"].as_array()?.iter().find_map(first_content)
    }
    let uri = first_content(&ts["root"]).expect("a water tile");
    let r = c
        .get(format!("{base}/api/runs/{id}/water/21600/{uri}"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let bytes = r.bytes().await.unwrap();
    let glb = Glb::parse(&bytes);
    let m = &glb.json["materials"][0];
    assert_eq!(m["alphaMode"], "BLEND", "{m}");
    // Each vertex carries its water depth (_DEPTH_M), a value of the run's own depth raster at
    // that time, and the colour of its depth class (COLOR_0, linear), as the legend lists.
    let raster = tiles3d::water::read_raster(
        &scenarios::output::RunDir::new(dir.join("runs").join(&id))
            .snapshots()
            .into_iter()
            .find(|(t, _)| *t == 21600)
            .unwrap()
            .1,
    )
    .unwrap();
    let wet: std::collections::HashSet<u32> = raster
        .values
        .iter()
        .flatten()
        .filter(|h| **h >= tiles3d::water::MIN_DEPTH_M)
        .map(|h| h.to_bits())
        .collect();
    let (_, detail) = send(c.get(format!("{base}/api/runs/{id}"))).await;
    let classes = detail["water_depth_classes"].as_array().unwrap();
    assert_eq!(
        classes.len(),
        tiles3d::water::DEPTH_CLASSES.len(),
        "{classes:?}"
    );
    assert_eq!(
        classes[0]["colour"],
        tiles3d::water::DEPTH_CLASSES[0].colour
    );
    let prim = &glb.primitives()[0];
    let depths = glb.accessor(prim["attributes"]["_DEPTH_M"].as_u64().unwrap() as usize);
    let colours = glb.accessor(prim["attributes"]["COLOR_0"].as_u64().unwrap() as usize);
    assert_eq!(depths.len(), glb.positions(prim).len());
    assert_eq!(colours.len(), depths.len());
    let mut seen = std::collections::HashSet::new();
    for (d, c) in depths.iter().zip(&colours) {
        let h = d[0] as f32;
        assert!(
            wet.contains(&h.to_bits()),
            "vertex depth {h} m is not a wet cell's depth"
        );
        let class = tiles3d::water::depth_class(h).unwrap();
        let want = class.rgba8_linear();
        // COLOR_0 is normalised UNSIGNED_BYTE: the accessor reads 0..1.
        for k in 0..3 {
            assert!(
                (c[k] * 255.0 - f64::from(want[k])).abs() < 0.5,
                "{h} m: {c:?} vs {want:?}"
            );
        }
        seen.insert(class.label);
    }
    assert!(seen.len() >= 2, "one depth class only: {seen:?}");
    let glb_dir = dir.join("water_glb");
    std::fs::create_dir_all(&glb_dir).unwrap();
    std::fs::write(glb_dir.join("water.glb"), &bytes).unwrap();
    assert_eq!(testkit::assert_valid_gltf(&glb_dir), 1);
    assert_eq!(
        c.get(format!("{base}/api/runs/{id}/water/999/tileset.json"))
            .send()
            .await
            .unwrap()
            .status(),
        404
    );

    // Building tiles with ?run= carry the run's depths; without it, no data (-1).
    let expect: HashMap<String, f64> = scenarios::output::RunDir::new(dir.join("runs").join(&id))
        .feature_depths(scenarios::output::FeatureTable::Buildings)
        .unwrap();
    let (_, bts) = send(c.get(format!("{base}/tiles/buildings/tileset.json"))).await;
    let mut uris = Vec::new();
    fn contents(t: &Value, out: &mut Vec<String>) {
        if let Some(u) = t["content"]["uri"].as_str() {
            out.push(u.to_string());
        }
        for ch in t["children"].as_array().into_iter().flatten() {
            contents(ch, out);
        }
    }
    contents(&bts["root"], &mut uris);
    let (mut compared, mut wet) = (0, 0);
    for u in &uris {
        let plain = Glb::parse(
            &c.get(format!("{base}/tiles/buildings/{u}"))
                .send()
                .await
                .unwrap()
                .bytes()
                .await
                .unwrap(),
        );
        let r = c
            .get(format!("{base}/tiles/buildings/{u}?run={id}"))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        let with = Glb::parse(&r.bytes().await.unwrap());
        // Same geometry and feature table: only the results column changed.
        assert_eq!(plain.json, with.json);
        assert_eq!(plain.bin.len(), with.bin.len());
        for (fid, d) in tile_depths(&plain) {
            assert_eq!(d, -1.0, "{fid} without a run");
        }
        for (fid, d) in tile_depths(&with) {
            match expect.get(&fid) {
                Some(&e) if e.is_finite() => {
                    assert_eq!(d, e as f32, "{fid}");
                    compared += 1;
                    if e >= 0.05 {
                        wet += 1;
                    }
                }
                _ => assert_eq!(d, -1.0, "{fid} is not in the run"),
            }
        }
    }
    eprintln!("buildings compared: {compared}, wet: {wet}");
    assert!(
        compared >= 100 && wet >= 1,
        "{compared} compared, {wet} wet"
    );
    let s = c
        .get(format!(
            "{base}/tiles/buildings/{}?run=20991231T000000Z-nope",
            uris[0]
        ))
        .send()
        .await
        .unwrap()
        .status();
    assert!(s == 404 || s == 400, "{s}");

    // Rerun from the stored inputs: the same impacts; the two runs compare with no change.
    let r = c
        .post(format!("{base}/api/runs/{id}/rerun"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 202);
    let (_, v) = json(r).await;
    let id3 = v["run"]["id"].as_str().unwrap().to_string();
    assert_ne!(id3, id);
    let ev = events(&base, &id3).await;
    assert_eq!(ev.last().unwrap().1["status"], "done", "{ev:?}");
    let (_, a) = send(c.get(format!("{base}/api/runs/{id}"))).await;
    let (_, b) = send(c.get(format!("{base}/api/runs/{id3}"))).await;
    assert_eq!(a["impacts"], b["impacts"]);
    let (s, cmp) = send(c.get(format!("{base}/api/runs/{id}/compare/{id3}"))).await;
    assert_eq!(s, 200, "{cmp}");
    assert_eq!(cmp["run"], id3.as_str(), "{cmp}");
    assert_eq!(cmp["baseline_run"], id.as_str(), "{cmp}");
    let counts = &cmp["buildings"];
    assert!(counts["compared"].as_u64().unwrap() > 3000, "{counts}");
    // The same inputs give the same depths: nothing newly wet, dried, deeper or shallower.
    for k in ["newly_wet", "dried", "deeper", "shallower"] {
        assert_eq!(counts[k], 0, "{k}: {counts}");
    }
    assert_eq!(counts["wet"], counts["wet_baseline"]);
    let (s, _) = send(c.get(format!(
        "{base}/api/runs/{id}/compare/20991231T000000Z-nope"
    )))
    .await;
    assert_eq!(s / 100, 4);

    // Cancel: a longer run stopped right away ends `cancelled`; an ended run cannot be.
    let (s, v) = send(
        c.post(format!("{base}/api/runs"))
            .header(header::CONTENT_TYPE, "application/json")
            .body(r#"{"scenario": "flood_oct2025.toml"}"#),
    )
    .await;
    assert_eq!(s, 202, "{v}");
    let id2 = v["run"]["id"].as_str().unwrap().to_string();
    let (s, _) = send(c.delete(format!("{base}/api/runs/{id2}"))).await;
    assert_eq!(s, 202);
    let ev = events(&base, &id2).await;
    assert_eq!(ev.last().unwrap().1["status"], "cancelled", "{ev:?}");
    let (s, v) = send(c.delete(format!("{base}/api/runs/{id}"))).await;
    assert_eq!(s, 409, "{v}");
    assert_eq!(
        common::http_get(format!("{base}/healthz"))
            .await
            .unwrap()
            .status(),
        200
    );
}
