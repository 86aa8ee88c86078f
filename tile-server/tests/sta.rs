//! The SensorThings API with clients no one here wrote: FROST-Server's Python client
//! (`frost_sta_client`), mosquitto's own `mosquitto_pub`/`mosquitto_sub` through a real
//! broker; durability under kill -9; the time-series extension.
//!
//! Needs `scripts/setup.sh --test` (mosquitto, mosquitto-clients, python3-venv; the venv is
//! made by `scripts/live_venv.sh` on first use).

mod common;

use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};
use twin_core::tokens::Role;

/// The venv's python with frost_sta_client and paho-mqtt.
fn python() -> PathBuf {
    let o = Command::new(common::repo().join("scripts/live_venv.sh"))
        .output()
        .expect("scripts/live_venv.sh");
    assert!(
        o.status.success(),
        "live_venv.sh: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    PathBuf::from(String::from_utf8_lossy(&o.stdout).trim())
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A mosquitto broker on a free loopback port, with a generated config (persistence on,
/// no cap on in-flight or queued messages); stopped (by its pid) when dropped.
pub struct Broker {
    child: Child,
    /// Its port.
    pub port: u16,
}

impl Broker {
    /// Start one with its files under `dir`.
    pub fn start(dir: &Path) -> Broker {
        std::fs::create_dir_all(dir).unwrap();
        let port = free_port();
        let conf = dir.join("mosquitto.conf");
        std::fs::write(
            &conf,
            format!(
                "listener {port} 127.0.0.1\nallow_anonymous true\nuser root\npersistence true\npersistence_location {}/\n\
                 max_inflight_messages 0\nmax_queued_messages 0\nmax_queued_bytes 0\nlog_type all\nlog_dest file {}/mosquitto.log\n",
                dir.display(),
                dir.display()
            ),
        )
        .unwrap();
        let child = Command::new("mosquitto")
            .arg("-c")
            .arg(&conf)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("mosquitto (scripts/setup.sh --test installs it)");
        let t0 = Instant::now();
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                t0.elapsed() < Duration::from_secs(10),
                "mosquitto did not start"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        Broker { child, port }
    }
}

impl Drop for Broker {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn frost_client_creates_posts_and_filters() {
    let (addr, dir, twin) = common::serve_sample_with_config("sta_frost", |_| {}, |_| {});
    let token = common::token(&dir, Role::Editor);
    let out = Command::new(python())
        .arg(common::repo().join("tile-server/tests/sta/frost_client.py"))
        .arg(format!("http://{addr}/v1.1"))
        .arg(&token)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "frost_client.py: {}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["all"], 48, "{v}");
    let above: Vec<f64> = v["above_3_5"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_f64().unwrap())
        .collect();
    assert_eq!(above.len(), 23, "{v}");
    assert_eq!((above[0], above[22]), (3.5, 5.7));
    assert_eq!(v["day2_first6_desc"], json!([3.9, 3.8, 3.7, 3.6, 3.5, 3.4]));
    assert_eq!(v["arith"], json!([1.5]));
    assert_eq!(v["hour12"], json!([2.2, 4.6]));
    assert_eq!(v["count"], 48);
    // The twin's own Kim Long gauge (from the sensors layer) and the test's both lie in the box.
    assert_eq!(
        v["things_in_box"],
        json!([
            "Kim Long river gauge (Perfume River)",
            "Kim Long test gauge"
        ])
    );
    assert_eq!(v["found_name"], "Kim Long test gauge");
    assert_eq!(v["expanded_locations"], 1);
    assert_eq!(v["expanded_ds"], json!(["Kim Long stage"]));
    assert_eq!(v["expanded_obs"], json!([5.7, 5.6]));
    assert_eq!(v["after_delete"], 47);
    assert_eq!(v["patched"], "patched");

    // The sensors layer: every sensor is a Thing with its Location and a Datastream.
    let rt = tokio::runtime::Runtime::new().unwrap();
    let c = common::http();
    let get = |url: String| {
        let c = c.clone();
        rt.block_on(async move {
            let r = c.get(&url).send().await.unwrap();
            let s = r.status().as_u16();
            (
                s,
                serde_json::from_slice::<Value>(&r.bytes().await.unwrap()).unwrap_or(Value::Null),
            )
        })
    };
    let (s, things) = get(format!(
        "http://{addr}/v1.1/Things?$count=true&$top=1&$filter=properties/kind%20eq%20'river_gauge'&$expand=Locations,Datastreams"
    ));
    assert_eq!(s, 200);
    assert_eq!(things["@iot.count"], 2, "{things}");
    let t0 = &things["value"][0];
    assert_eq!(t0["properties"]["twinId"], "sensor:gauge-kim-long");
    let kl = twin.sensors.by_id("sensor:gauge-kim-long").unwrap();
    let to_wgs = twin_core::crs::Reprojector::new(&twin.crs, &twin_core::Crs::wgs84()).unwrap();
    let (lon, lat) = to_wgs.apply(kl.location.x(), kl.location.y()).unwrap();
    let c0 = &t0["Locations"][0]["location"]["coordinates"];
    assert!(
        (c0[0].as_f64().unwrap() - lon).abs() < 1e-9
            && (c0[1].as_f64().unwrap() - lat).abs() < 1e-9
    );
    // where data/hue/sensors.csv puts the gauge (WGS84, 7 decimals)
    let csv = std::fs::read_to_string(common::repo().join("data/hue/sensors.csv")).unwrap();
    let row: Vec<f64> = csv
        .lines()
        .find(|l| l.starts_with("gauge-kim-long,"))
        .unwrap()
        .split(',')
        .skip(3)
        .take(2)
        .map(|v| v.parse().unwrap())
        .collect();
    assert!((lon - row[0]).abs() < 1e-6 && (lat - row[1]).abs() < 1e-6);
    assert_eq!(t0["Datastreams"][0]["unitOfMeasurement"]["symbol"], "m");
    assert!(things["@iot.nextLink"]
        .as_str()
        .unwrap()
        .contains("$skip=1"));
    let (_, all) = get(format!("http://{addr}/v1.1/Things?$count=true&$top=0"));
    assert_eq!(all["@iot.count"], twin.sensors.len() as u64 + 1);
    // Errors are 400/404 with a message naming the input.
    let (s, e) = get(format!("http://{addr}/v1.1/Things?$filter=name%20eq"));
    assert_eq!(s, 400);
    assert!(
        e["error"]["message"].as_str().unwrap().contains("$filter"),
        "{e}"
    );
    assert_eq!(get(format!("http://{addr}/v1.1/Things(999999)")).0, 404);
    assert_eq!(get(format!("http://{addr}/v1.1/Nothing")).0, 404);
    // Writes need an editor token.
    let r = rt
        .block_on(
            c.post(format!("http://{addr}/v1.1/Things"))
                .body(json!({"name": "x", "description": "y"}).to_string())
                .send(),
        )
        .unwrap();
    assert_eq!(r.status().as_u16(), 401);
    let planner = common::client_with(&common::token(&dir, Role::Planner));
    let r = rt
        .block_on(
            planner
                .post(format!("http://{addr}/v1.1/Things"))
                .body(json!({"name": "x", "description": "y"}).to_string())
                .send(),
        )
        .unwrap();
    assert_eq!(r.status().as_u16(), 403);
}

/// The server's configuration in these tests: the twin's folder, its tokens, the broker.
fn config(dir: &Path, mqtt_port: Option<u16>, client_id: &str) -> tile_server::ServerConfig {
    let td = twin_core::TwinDir::open(dir).unwrap();
    tile_server::ServerConfig {
        twin_dir: Some(dir.to_path_buf()),
        tokens: Some(td.store_path()),
        max_body_bytes: 8 << 20,
        live: live_config(mqtt_port, client_id),
        ..Default::default()
    }
}

fn live_config(mqtt_port: Option<u16>, client_id: &str) -> tile_server::sta::LiveConfig {
    tile_server::sta::LiveConfig {
        mqtt: mqtt_port.map(|port| tile_server::sta::mqtt::MqttConfig {
            port,
            client_id: client_id.into(),
            ..Default::default()
        }),
        ..Default::default()
    }
}

/// Wait until the broker's log shows the server's subscription.
fn wait_subscribed(broker_dir: &Path, client_id: &str) {
    let t0 = Instant::now();
    loop {
        let log = std::fs::read_to_string(broker_dir.join("mosquitto.log")).unwrap_or_default();
        if log
            .lines()
            .any(|l| l.contains(client_id) && l.contains("v1.1/+/Observations"))
        {
            return;
        }
        assert!(
            t0.elapsed() < Duration::from_secs(20),
            "the server did not subscribe:\n{log}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn http_json(rt: &tokio::runtime::Runtime, url: &str) -> Value {
    rt.block_on(async {
        let r = common::http_get(url).await.unwrap();
        assert_eq!(r.status().as_u16(), 200, "{url}");
        serde_json::from_slice(&r.bytes().await.unwrap()).unwrap()
    })
}

/// The id of the Datastream of a sensor of the twin's layer.
fn datastream_of(rt: &tokio::runtime::Runtime, addr: std::net::SocketAddr, twin_id: &str) -> i64 {
    let v = http_json(
        rt,
        &format!("http://{addr}/v1.1/Datastreams?$filter=properties/twinId%20eq%20'{twin_id}'"),
    );
    v["value"][0]["@iot.id"].as_i64().unwrap()
}

#[test]
fn mqtt_ingest_and_publish_through_mosquitto() {
    let root = Path::new(env!("CARGO_TARGET_TMPDIR")).join("sta_mqtt_broker");
    let _ = std::fs::remove_dir_all(&root);
    let broker = Broker::start(&root);
    let port = broker.port;
    let (addr, dir, _) = common::serve_sample_with_config(
        "sta_mqtt",
        |_| {},
        |c| {
            c.live = live_config(Some(port), "huetwin-mqtt-test");
        },
    );
    let rt = tokio::runtime::Runtime::new().unwrap();
    let ds = datastream_of(&rt, addr, "sensor:gauge-kim-long");
    let topic = format!("v1.1/Datastreams({ds})/Observations");
    // A subscriber of everything the server publishes.
    let sub = Command::new("mosquitto_sub")
        .args([
            "-h",
            "127.0.0.1",
            "-p",
            &port.to_string(),
            "-q",
            "1",
            "-t",
            "v1.1/Observations",
            "-C",
            "6",
            "-W",
            "30",
        ])
        .stdout(Stdio::piped())
        .spawn()
        .expect("mosquitto_sub (mosquitto-clients)");
    wait_subscribed(&root, "huetwin-mqtt-test");
    std::thread::sleep(Duration::from_millis(300));
    // Five stages published by mosquitto_pub at QoS 1, one message a line.
    let mut publ = Command::new("mosquitto_pub")
        .args([
            "-h",
            "127.0.0.1",
            "-p",
            &port.to_string(),
            "-q",
            "1",
            "-t",
            &topic,
            "-l",
        ])
        .stdin(Stdio::piped())
        .spawn()
        .unwrap();
    {
        use std::io::Write;
        let stdin = publ.stdin.as_mut().unwrap();
        for (h, v) in [3.1, 3.3, 3.45, 3.52, 3.61].iter().enumerate() {
            writeln!(
                stdin,
                r#"{{"phenomenonTime":"2025-10-27T0{h}:00:00+07:00","result":{v}}}"#
            )
            .unwrap();
        }
        // Not an observation: acknowledged and dropped.
        writeln!(stdin, r#"{{"result": 1, "bogus": true}}"#).unwrap();
    }
    drop(publ.stdin.take());
    assert!(publ.wait().unwrap().success());
    // And one over HTTP: also published on MQTT, and sent to server-sent-event clients.
    let sse = rt.block_on(async {
        let r = common::http_get(format!("http://{addr}/api/live/events"))
            .await
            .unwrap();
        assert_eq!(r.headers()["content-type"], "text/event-stream");
        r
    });
    let token = common::token(&dir, Role::Editor);
    let c = common::client_with(&token);
    let r = rt
        .block_on(
            c.post(format!("http://{addr}/v1.1/Datastreams({ds})/Observations"))
                .header("content-type", "application/json")
                .body(r#"{"phenomenonTime":"2025-10-27T05:00:00+07:00","result":3.7}"#)
                .send(),
        )
        .unwrap();
    assert_eq!(r.status().as_u16(), 201);
    let first = rt.block_on(async {
        let mut sse = sse;
        let mut text = String::new();
        while !text.contains("3.7") {
            let chunk = tokio::time::timeout(Duration::from_secs(10), sse.chunk())
                .await
                .unwrap()
                .unwrap()
                .unwrap();
            text.push_str(&String::from_utf8_lossy(&chunk));
        }
        text
    });
    assert!(first.contains("event: observation"), "{first}");
    let data = first
        .lines()
        .filter_map(|l| l.strip_prefix("data: "))
        .find(|l| l.contains("3.7"))
        .unwrap();
    let ev: Value = serde_json::from_str(data).unwrap();
    assert_eq!(
        (ev["result"].as_f64(), ev["datastream"].as_i64()),
        (Some(3.7), Some(ds))
    );
    let url = format!(
        "http://{addr}/v1.1/Datastreams({ds})/Observations?$orderby=phenomenonTime&$count=true"
    );
    let t0 = Instant::now();
    let v = loop {
        let v = http_json(&rt, &url);
        if v["@iot.count"] == 6 || t0.elapsed() > Duration::from_secs(20) {
            break v;
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    let results: Vec<f64> = v["value"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["result"].as_f64().unwrap())
        .collect();
    assert_eq!(results, vec![3.1, 3.3, 3.45, 3.52, 3.61, 3.7], "{v}");
    assert_eq!(v["value"][0]["phenomenonTime"], "2025-10-26T17:00:00Z");
    let out = sub.wait_with_output().unwrap();
    let got: Vec<Value> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(got.len(), 6, "{got:?}");
    let mut published: Vec<f64> = got.iter().map(|o| o["result"].as_f64().unwrap()).collect();
    published.sort_by(f64::total_cmp);
    assert_eq!(published, results);
    assert!(got.iter().all(|o| o["@iot.id"].as_i64().is_some()));
    // The server heard its own publications back and stored none of them again.
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(http_json(&rt, &url)["@iot.count"], 6);
}

/// Not a test on its own: the server process of [`acknowledged_observations_survive_kill_9`],
/// run by that test as a child (`STA_CHILD_DIR`, `STA_CHILD_ADDR`, `STA_CHILD_MQTT` set).
#[test]
#[ignore]
fn child_server() {
    let (Ok(dir), Ok(addr), Ok(mqtt)) = (
        std::env::var("STA_CHILD_DIR"),
        std::env::var("STA_CHILD_ADDR"),
        std::env::var("STA_CHILD_MQTT"),
    ) else {
        return;
    };
    use std::sync::Arc;
    let dir = PathBuf::from(dir);
    let twin = Arc::new(twin_core::TwinDir::open(&dir).unwrap().load().unwrap());
    let cfg = config(&dir, Some(mqtt.parse().unwrap()), "huetwin-durability");
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async move {
        let app = tile_server::app(twin, Arc::new(tile_server::source::NoTiles), &cfg).unwrap();
        let (_, serving) = tile_server::bind(app, addr.parse().unwrap()).await.unwrap();
        serving.await.unwrap();
    });
}

// The caller kills and waits for the child it is given.
#[allow(clippy::zombie_processes)]
fn spawn_child(dir: &Path, addr: std::net::SocketAddr, mqtt: u16) -> Child {
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args([
            "child_server",
            "--exact",
            "--ignored",
            "--nocapture",
            "--test-threads=1",
        ])
        .env("STA_CHILD_DIR", dir)
        .env("STA_CHILD_ADDR", addr.to_string())
        .env("STA_CHILD_MQTT", mqtt.to_string())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let t0 = Instant::now();
    loop {
        if let Ok(mut s) = std::net::TcpStream::connect(addr) {
            use std::io::{Read, Write};
            let _ = s.write_all(b"GET /healthz HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n");
            let mut b = String::new();
            let _ = s.read_to_string(&mut b);
            if b.starts_with("HTTP/1.0 200") || b.starts_with("HTTP/1.1 200") {
                return child;
            }
        }
        if t0.elapsed() > Duration::from_secs(60) {
            let _ = child.kill();
            let _ = child.wait();
            panic!("the child server did not start");
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Every observation acknowledged, over HTTP (201) or to an MQTT publisher (the broker's
/// PUBACK, the server's own PUBACK to the broker coming only after its commit), is stored
/// after the server is killed with SIGKILL at load and started again.
#[test]
fn acknowledged_observations_survive_kill_9() {
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::{Arc, Mutex};
    let root = Path::new(env!("CARGO_TARGET_TMPDIR")).join("sta_kill9");
    let _ = std::fs::remove_dir_all(&root);
    let dir = root.join("hue");
    common::copy_sample_twin(&dir);
    let token = common::token(&dir, Role::Editor);
    let broker = Broker::start(&root.join("broker"));
    let addr: std::net::SocketAddr = format!("127.0.0.1:{}", free_port()).parse().unwrap();
    let mut child = spawn_child(&dir, addr, broker.port);
    wait_subscribed(&root.join("broker"), "huetwin-durability");
    let rt = tokio::runtime::Runtime::new().unwrap();
    let ds = datastream_of(&rt, addr, "sensor:gauge-kim-long");

    // HTTP: two clients posting dataArray batches of 1000 (results 1..), recording each
    // observation answered with a selfLink in a 201.
    let stop = Arc::new(AtomicBool::new(false));
    let http_acked = Arc::new(Mutex::new(Vec::<i64>::new()));
    let mut http = Vec::new();
    for k in 0..2i64 {
        let (stop, acked, token) = (stop.clone(), http_acked.clone(), token.clone());
        http.push(std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
            let c = common::client_with(&token);
            let mut next = 1 + k * 100_000_000;
            while !stop.load(Ordering::Relaxed) {
                let rows: Vec<Value> = (next..next + 1000)
                    .map(|s| json!([twin_core::live::time::format_instant(1_700_000_000_000 + s * 1000), s]))
                    .collect();
                let body = json!([{"Datastream": {"@iot.id": ds}, "components": ["phenomenonTime", "result"], "dataArray": rows}]);
                let r = rt.block_on(async {
                    let r = c
                        .post(format!("http://{addr}/v1.1/CreateObservations"))
                        .header("content-type", "application/json")
                        .body(body.to_string())
                        .send()
                        .await?;
                    let ok = r.status().as_u16() == 201;
                    r.bytes().await.map(|b| (ok, b))
                });
                match r {
                    Ok((true, b)) => {
                        let links: Vec<Value> = serde_json::from_slice(&b).unwrap();
                        let mut a = acked.lock().unwrap();
                        for (i, l) in links.iter().enumerate() {
                            if l.as_str().is_some_and(|s| s.contains("Observations(")) {
                                a.push(next + i as i64);
                            }
                        }
                    }
                    _ => break,
                }
                next += 1000;
            }
        }));
    }
    // MQTT: paho-mqtt publishing at QoS 1 (results from 1e9), recording the broker's PUBACKs.
    let acked_file = root.join("mqtt_acked.txt");
    let mut paho = Command::new(python())
        .arg(common::repo().join("tile-server/tests/sta/mqtt_load.py"))
        .arg(broker.port.to_string())
        .arg(format!("v1.1/Datastreams({ds})/Observations"))
        .arg("1000000000")
        .arg("30000")
        .arg(&acked_file)
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(2500));
    // SIGKILL at load.
    child.kill().unwrap();
    child.wait().unwrap();
    stop.store(true, Ordering::Relaxed);
    for h in http {
        h.join().unwrap();
    }
    // The publisher goes on into the broker while the server is down; then it restarts.
    assert!(paho.wait().unwrap().success());
    let mut child = spawn_child(&dir, addr, broker.port);
    let mqtt_acked: Vec<i64> = std::fs::read_to_string(&acked_file)
        .unwrap()
        .lines()
        .map(|l| l.parse().unwrap())
        .collect();
    let http_acked = http_acked.lock().unwrap().clone();
    // Wait for the broker's queue of the persistent session to be delivered.
    let url = format!("http://{addr}/v1.1/Datastreams({ds})/Observations?$count=true&$top=0");
    let t0 = Instant::now();
    let mut last = (0, Instant::now());
    loop {
        let n = http_json(&rt, &url)["@iot.count"].as_u64().unwrap();
        if n != last.0 {
            last = (n, Instant::now());
        }
        if last.1.elapsed() > Duration::from_secs(3) || t0.elapsed() > Duration::from_secs(120) {
            break;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    let store = twin_core::live::LiveStore::open(&twin_core::live::LiveStore::file(&dir)).unwrap();
    let rows = store
        .observations(&twin_core::live::ObsQuery {
            datastream: Some(ds),
            limit: twin_core::live::store::MAX_ROWS,
            ..Default::default()
        })
        .unwrap();
    let mut stored = std::collections::HashMap::<i64, u32>::new();
    for o in &rows {
        *stored
            .entry(o.props["result"].as_i64().unwrap())
            .or_default() += 1;
    }
    let lost_http = http_acked
        .iter()
        .filter(|s| !stored.contains_key(s))
        .count();
    let lost_mqtt = mqtt_acked
        .iter()
        .filter(|s| !stored.contains_key(s))
        .count();
    let duplicates: u32 = stored.values().map(|n| n - 1).sum();
    // Each row's phenomenon time is its sequence number in seconds after 2023-11-14T22:13:20Z.
    assert!(rows.iter().all(|o| {
        let t = twin_core::live::time::parse_instant(o.props["phenomenonTime"].as_str().unwrap())
            .unwrap();
        t == 1_700_000_000_000 + o.props["result"].as_i64().unwrap() * 1000
    }));
    eprintln!(
        "durability: HTTP acknowledged {} lost {lost_http}; MQTT acknowledged {} lost {lost_mqtt}; stored {} rows ({duplicates} stored twice)",
        http_acked.len(),
        mqtt_acked.len(),
        rows.len()
    );
    assert!(
        http_acked.len() >= 1000,
        "the HTTP load did not run: {}",
        http_acked.len()
    );
    assert_eq!(mqtt_acked.len(), 30_000);
    assert_eq!((lost_http, lost_mqtt), (0, 0));
    assert_eq!(duplicates, 0, "redelivered messages stored twice");
    drop(broker);
}

/// The time-series extension: a day of minute readings in hourly min/mean/max, and a
/// one-hour range query.
#[test]
fn series_aggregates_and_range_queries() {
    let (addr, dir, _) = common::serve_sample_with_config(
        "sta_series",
        |_| {},
        |c| {
            c.max_body_bytes = 8 << 20;
        },
    );
    let rt = tokio::runtime::Runtime::new().unwrap();
    let ds = datastream_of(&rt, addr, "sensor:rain-citadel");
    let c = common::client_with(&common::token(&dir, Role::Editor));
    // 2025-10-27, minute m: result m (0..1439), and one reading the day after.
    let day = twin_core::live::time::parse_instant("2025-10-27T00:00:00Z").unwrap();
    let mut rows: Vec<Value> = (0..1440)
        .map(|m| json!([twin_core::live::time::format_instant(day + m * 60_000), m]))
        .collect();
    rows.push(json!(["2025-10-28T00:00:00Z", 99999]));
    rows.push(json!(["not a time", 1]));
    let body = json!([{"Datastream": {"@iot.id": ds}, "components": ["phenomenonTime", "result"], "dataArray": rows}]);
    let links: Vec<Value> = rt.block_on(async {
        let r = c
            .post(format!("http://{addr}/v1.1/CreateObservations"))
            .header("content-type", "application/json")
            .body(body.to_string())
            .send()
            .await
            .unwrap();
        assert_eq!(r.status().as_u16(), 201);
        serde_json::from_slice(&r.bytes().await.unwrap()).unwrap()
    });
    assert_eq!(links.len(), 1442);
    assert_eq!(links[1441], "error");
    assert!(links[..1441]
        .iter()
        .all(|l| l.as_str().unwrap().contains("/v1.1/Observations(")));
    let v = http_json(
        &rt,
        &format!("http://{addr}/v1.1/Datastreams({ds})/Series?from=2025-10-27T00:00:00Z&to=2025-10-28T00:00:00Z&interval=3600"),
    );
    let b = v["value"].as_array().unwrap();
    assert_eq!(b.len(), 24);
    for (h, x) in b.iter().enumerate() {
        let h = h as f64;
        assert_eq!(x["count"], 60);
        assert_eq!(x["min"].as_f64().unwrap(), 60.0 * h);
        assert_eq!(x["max"].as_f64().unwrap(), 60.0 * h + 59.0);
        assert!((x["mean"].as_f64().unwrap() - (60.0 * h + 29.5)).abs() < 1e-9);
    }
    assert_eq!(b[6]["start"], "2025-10-27T06:00:00Z");
    // Intervals aligned on `from` (07:30 in Huế is 00:30Z): one day from 00:30Z holds
    // minutes 30..1439 and the next day's midnight reading.
    let v = http_json(
        &rt,
        &format!("http://{addr}/v1.1/Datastreams({ds})/Series?from=2025-10-27T07:30:00%2B07:00&to=2025-10-29T00:00:00Z&interval=86400"),
    );
    let b = v["value"].as_array().unwrap();
    assert_eq!(b.len(), 1, "{v}");
    assert_eq!(b[0]["start"], "2025-10-27T00:30:00Z");
    assert_eq!(
        (
            b[0]["count"].as_u64(),
            b[0]["min"].as_f64(),
            b[0]["max"].as_f64()
        ),
        (Some(1411), Some(30.0), Some(99999.0))
    );
    // A one-hour range, newest first.
    let v = http_json(
        &rt,
        &format!("http://{addr}/v1.1/Datastreams({ds})/Observations?$count=true&$top=3&$orderby=phenomenonTime%20desc&$filter=phenomenonTime%20ge%202025-10-27T10:00:00Z%20and%20phenomenonTime%20lt%202025-10-27T11:00:00Z"),
    );
    assert_eq!(v["@iot.count"], 60);
    let r: Vec<i64> = v["value"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["result"].as_i64().unwrap())
        .collect();
    assert_eq!(r, vec![659, 658, 657]);
    // A filter the store cannot bound by time is evaluated row by row.
    let v = http_json(
        &rt,
        &format!("http://{addr}/v1.1/Datastreams({ds})/Observations?$count=true&$top=0&$filter=result%20mod%20100%20eq%200%20and%20result%20lt%201440"),
    );
    assert_eq!(v["@iot.count"], 15);
    // dataArray result format.
    let v = http_json(
        &rt,
        &format!(
            "http://{addr}/v1.1/Datastreams({ds})/Observations?$top=2&$resultFormat=dataArray"
        ),
    );
    assert_eq!(
        v["value"][0]["components"],
        json!(["id", "phenomenonTime", "result", "resultTime"])
    );
    assert_eq!(v["value"][0]["dataArray"][1][2], 1);
    // Bad parameters are 400.
    for q in [
        "from=x&to=2025-10-28T00:00:00Z",
        "from=2025-10-27T00:00:00Z",
        "from=2025-10-27T00:00:00Z&to=2025-10-28T00:00:00Z&interval=0.1",
    ] {
        let s = rt.block_on(async {
            common::http_get(format!("http://{addr}/v1.1/Datastreams({ds})/Series?{q}"))
                .await
                .unwrap()
                .status()
                .as_u16()
        });
        assert_eq!(s, 400, "{q}");
    }
}

/// A replayed Kim Long series crossing alarm 3 (3.5 m) starts exactly one nowcast run, whose
/// depths equal a run of the same series posted by hand.
#[test]
fn alarm_starts_one_nowcast_equal_to_a_manual_run() {
    let (addr, dir, _) =
        common::serve_sample_with_nowcast("sta_nowcast", "history_s = 10800\n", |_| {});
    let rt = tokio::runtime::Runtime::new().unwrap();
    let ds = datastream_of(&rt, addr, "sensor:gauge-kim-long");
    let editor = common::client_with(&common::token(&dir, Role::Editor));
    let planner = common::client_with(&common::token(&dir, Role::Planner));
    // Every 30 min from midnight: up through 3.5 m once (3.6), above, down, below again.
    let stages = [2.0, 2.5, 3.0, 3.3, 3.6, 3.8, 3.4, 3.45];
    for (i, v) in stages.iter().enumerate() {
        let body = json!({"phenomenonTime": format!("2025-10-27T{:02}:{:02}:00Z", i / 2, 30 * (i % 2)), "result": v});
        let s = rt.block_on(async {
            editor
                .post(format!("http://{addr}/v1.1/Datastreams({ds})/Observations"))
                .header("content-type", "application/json")
                .body(body.to_string())
                .send()
                .await
                .unwrap()
                .status()
                .as_u16()
        });
        assert_eq!(s, 201);
        std::thread::sleep(Duration::from_millis(150));
    }
    let t0 = Instant::now();
    let state = loop {
        let v = http_json(&rt, &format!("http://{addr}/api/live/nowcast"));
        let s = v["nowcast"][0].clone();
        if s["latest"][1] == 3.45 || t0.elapsed() > Duration::from_secs(20) {
            break s;
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    assert_eq!(state["alarm"], false, "{state}");
    assert_eq!(state["latest"][0], "2025-10-27T03:30:00Z");
    let nowcast = state["run"].as_str().expect("a nowcast run").to_string();
    let wait_done = |id: &str| {
        let t0 = Instant::now();
        loop {
            let v = http_json(&rt, &format!("http://{addr}/api/runs/{id}"));
            let s = v["run"]["status"].as_str().unwrap().to_string();
            if s != "queued" && s != "running" {
                assert_eq!(s, "done", "{v}");
                return v;
            }
            assert!(
                t0.elapsed() < Duration::from_secs(300),
                "run {id} did not end"
            );
            std::thread::sleep(Duration::from_millis(250));
        }
    };
    let nc = wait_done(&nowcast);
    assert!(
        nc["run"]["name"]
            .as_str()
            .unwrap()
            .starts_with("Nowcast: sensor:gauge-kim-long reached 3.5 m at 2025-10-27T02:00:00Z"),
        "{nc}"
    );
    // The same series by hand: the scenario file with its stage line replaced.
    let template =
        std::fs::read_to_string(common::repo().join("scenarios/examples/hue/flood_alarm3.toml"))
            .unwrap();
    let line = "series = [[0, 2.0], [10800, 3.5], [21600, 3.5]]";
    assert!(template.contains(line));
    let manual = template.replace(
        line,
        "series = [[0, 2.0], [1800, 2.5], [3600, 3.0], [5400, 3.3], [7200, 3.6], [21600, 3.6]]",
    );
    let started: Value = rt.block_on(async {
        let r = planner
            .post(format!("http://{addr}/api/runs"))
            .header("content-type", "application/toml")
            .body(manual)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status().as_u16(), 202);
        serde_json::from_slice(&r.bytes().await.unwrap()).unwrap()
    });
    let manual_id = started["run"]["id"].as_str().unwrap().to_string();
    wait_done(&manual_id);
    let file = |id: &str| {
        rt.block_on(async {
            let r = common::http_get(format!("http://{addr}/api/runs/{id}/files/max_depth.tif"))
                .await
                .unwrap();
            assert_eq!(r.status().as_u16(), 200);
            r.bytes().await.unwrap().to_vec()
        })
    };
    let (a, b) = (file(&nowcast), file(&manual_id));
    assert!(a.len() > 1000);
    assert_eq!(
        a, b,
        "the nowcast's max depths differ from the manual run's"
    );
    // Not a dry run: the held 3.6 m floods the low plain.
    assert!(
        nc["impacts"]["buildings_wet"].as_u64().unwrap() > 1000,
        "{}",
        nc["impacts"]
    );
    // Exactly one nowcast: the two runs are all there are.
    let runs = http_json(&rt, &format!("http://{addr}/api/runs"));
    assert_eq!(runs["runs"].as_array().unwrap().len(), 2, "{runs}");
}

/// `scripts/live-demo.sh` replays the hydrograph to 5.05 m and the other sensors into a
/// server: every sensor gets its 73 hourly readings, and the rise through 3.5 m starts one
/// nowcast.
#[test]
fn live_demo_script_replays_the_flood() {
    let (addr, dir, twin) = common::serve_sample_with_nowcast("sta_demo", "", |_| {});
    let token = common::token(&dir, Role::Editor);
    let out = Command::new(common::repo().join("scripts/live-demo.sh"))
        .arg(format!("http://{addr}"))
        .arg("0")
        .env("TOKEN", &token)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let rt = tokio::runtime::Runtime::new().unwrap();
    let ds = datastream_of(&rt, addr, "sensor:gauge-kim-long");
    let v = http_json(
        &rt,
        &format!("http://{addr}/v1.1/Datastreams({ds})/Observations?$count=true&$top=1&$orderby=result%20desc"),
    );
    assert_eq!(v["@iot.count"], 73);
    assert_eq!(v["value"][0]["result"], 5.05);
    assert_eq!(v["value"][0]["phenomenonTime"], "2025-10-27T05:00:00Z");
    let all = http_json(
        &rt,
        &format!("http://{addr}/v1.1/Observations?$count=true&$top=0"),
    );
    assert_eq!(all["@iot.count"], 73 * twin.sensors.len() as u64);
    let t0 = Instant::now();
    loop {
        let n = http_json(&rt, &format!("http://{addr}/api/live/nowcast"));
        if n["nowcast"][0]["run"].is_string() {
            break;
        }
        assert!(t0.elapsed() < Duration::from_secs(20), "no nowcast: {n}");
        std::thread::sleep(Duration::from_millis(100));
    }
    let runs = http_json(&rt, &format!("http://{addr}/api/runs"));
    assert_eq!(runs["runs"].as_array().unwrap().len(), 1, "{runs}");
}

/// Read server-sent events from `r` until `want` holds for the events read (name, data JSON),
/// or 300 s pass; the events read.
async fn read_events(
    r: &mut reqwest::Response,
    buf: &mut String,
    seen: &mut Vec<(String, Value)>,
    want: impl Fn(&[(String, Value)]) -> bool,
) {
    let t0 = Instant::now();
    while !want(seen) {
        let left = Duration::from_secs(300).saturating_sub(t0.elapsed());
        let chunk = tokio::time::timeout(left, r.chunk())
            .await
            .unwrap_or_else(|_| panic!("events so far: {seen:?}"))
            .unwrap()
            .expect("the stream ended");
        buf.push_str(&String::from_utf8_lossy(&chunk));
        while let Some(i) = buf.find("\n\n") {
            let block: String = buf.drain(..i + 2).collect();
            let mut name = "message".to_string();
            let mut data = String::new();
            for line in block.lines() {
                if let Some(n) = line.strip_prefix("event: ") {
                    name = n.to_string();
                } else if let Some(d) = line.strip_prefix("data: ") {
                    data.push_str(d);
                }
            }
            if !data.is_empty() {
                let v = serde_json::from_str(&data).unwrap_or(Value::String(data));
                seen.push((name, v));
            }
        }
    }
}

/// The live push stream (`GET /api/live/events`): an observation posted over HTTP and one
/// published over MQTT (mosquitto_pub) both arrive with their Datastream, Thing, time and
/// result; a stage over the alarm level brings the alarm event and the nowcast run's start and
/// end; a new Open311 report arrives with its public fields only; a second stream over the
/// limit is refused with 503.
#[test]
fn live_push_stream_carries_observations_alarms_nowcasts_and_reports() {
    let root = Path::new(env!("CARGO_TARGET_TMPDIR")).join("sta_push_broker");
    let _ = std::fs::remove_dir_all(&root);
    let broker = Broker::start(&root);
    let port = broker.port;
    let (addr, dir, _) = common::serve_sample_with_nowcast("sta_push", "", |c| {
        c.live = live_config(Some(port), "huetwin-push-test");
        c.live.push_streams = Some(1);
    });
    let rt = tokio::runtime::Runtime::new().unwrap();
    let ds = datastream_of(&rt, addr, "sensor:gauge-kim-long");
    let thing = http_json(&rt, &format!("http://{addr}/v1.1/Datastreams({ds})/Thing"))["@iot.id"]
        .as_i64()
        .unwrap();
    wait_subscribed(&root, "huetwin-push-test");
    let mut sse = rt.block_on(async {
        let r = common::http_get(format!("http://{addr}/api/live/events"))
            .await
            .unwrap();
        assert_eq!(r.status().as_u16(), 200);
        assert_eq!(r.headers()["content-type"], "text/event-stream");
        r
    });
    // One stream is the limit here: a second is refused while the first is open.
    let second = rt.block_on(async {
        common::http_get(format!("http://{addr}/api/live/events"))
            .await
            .unwrap()
            .status()
            .as_u16()
    });
    assert_eq!(second, 503);
    let editor = common::client_with(&common::token(&dir, Role::Editor));
    let post = |t: &str, v: f64| {
        let s = rt.block_on(async {
            editor
                .post(format!("http://{addr}/v1.1/Datastreams({ds})/Observations"))
                .header("content-type", "application/json")
                .body(json!({"phenomenonTime": t, "result": v}).to_string())
                .send()
                .await
                .unwrap()
                .status()
                .as_u16()
        });
        assert_eq!(s, 201);
    };
    post("2025-10-27T00:00:00Z", 2.25);
    let publ = Command::new("mosquitto_pub")
        .args(["-h", "127.0.0.1", "-p", &port.to_string(), "-q", "1", "-t"])
        .arg(format!("v1.1/Datastreams({ds})/Observations"))
        .arg("-m")
        .arg(r#"{"phenomenonTime":"2025-10-27T00:30:00Z","result":2.75}"#)
        .status()
        .expect("mosquitto_pub");
    assert!(publ.success());
    let (mut buf, mut seen) = (String::new(), Vec::new());
    let obs_of = |seen: &[(String, Value)], r: f64| {
        seen.iter()
            .find(|(n, v)| n == "observation" && v["result"].as_f64() == Some(r))
            .map(|(_, v)| v.clone())
    };
    rt.block_on(read_events(&mut sse, &mut buf, &mut seen, |s| {
        obs_of(s, 2.25).is_some() && obs_of(s, 2.75).is_some()
    }));
    for (r, t) in [
        (2.25, "2025-10-27T00:00:00Z"),
        (2.75, "2025-10-27T00:30:00Z"),
    ] {
        let o = obs_of(&seen, r).unwrap();
        assert_eq!(o["type"], "observation");
        assert_eq!(
            (o["datastream"].as_i64(), o["thing"].as_i64()),
            (Some(ds), Some(thing))
        );
        assert_eq!(o["phenomenonTime"], t);
        // The id is the stored observation's.
        let stored = http_json(
            &rt,
            &format!("http://{addr}/v1.1/Observations({})", o["id"]),
        );
        assert_eq!(stored["result"].as_f64(), Some(r));
    }
    // Over the alarm level: the alarm, then the nowcast run's start and its end.
    post("2025-10-27T01:00:00Z", 3.6);
    rt.block_on(read_events(&mut sse, &mut buf, &mut seen, |s| {
        s.iter()
            .any(|(n, v)| n == "nowcast" && v["state"] != "started")
    }));
    let alarm = seen
        .iter()
        .find(|(n, _)| n == "alarm")
        .expect("an alarm event")
        .1
        .clone();
    assert_eq!(
        alarm,
        json!({"type": "alarm", "sensor": "sensor:gauge-kim-long", "datastream": ds, "alarm_m": 3.5,
            "alarm": true, "value": 3.6, "time": "2025-10-27T01:00:00Z"})
    );
    let nowcasts: Vec<&Value> = seen
        .iter()
        .filter(|(n, _)| n == "nowcast")
        .map(|(_, v)| v)
        .collect();
    assert_eq!(nowcasts.len(), 2, "{nowcasts:?}");
    assert_eq!(nowcasts[0]["state"], "started");
    assert_eq!(nowcasts[0]["run"], nowcasts[1]["run"]);
    let run = nowcasts[0]["run"].as_str().unwrap();
    let info = http_json(&rt, &format!("http://{addr}/api/runs/{run}"));
    assert_eq!(nowcasts[1]["state"], info["run"]["status"]);
    assert_eq!(nowcasts[1]["state"], "done");
    let state = http_json(&rt, &format!("http://{addr}/api/live/nowcast"));
    assert_eq!(state["nowcast"][0]["run"], run);
    // A citizen report: its public fields, never the reporter's contact data.
    let fields = [
        ("service_code", "flooding"),
        ("lat", "16.4630"),
        ("long", "107.5950"),
        ("description", "Water over the road at Vinh Ninh"),
        ("email", "reporter@example.org"),
        ("phone", "+84 234 000 000"),
        ("first_name", "Lan"),
    ];
    let created: Value = rt.block_on(async {
        let r = common::http()
            .post(format!("http://{addr}/open311/v2/requests.json"))
            .form(&fields)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status().as_u16(), 201);
        serde_json::from_slice(&r.bytes().await.unwrap()).unwrap()
    });
    let id = created[0]["service_request_id"]
        .as_str()
        .unwrap()
        .to_string();
    rt.block_on(read_events(&mut sse, &mut buf, &mut seen, |s| {
        s.iter().any(|(n, _)| n == "report")
    }));
    let report = seen.iter().find(|(n, _)| n == "report").unwrap().1["request"].clone();
    let public = http_json(&rt, &format!("http://{addr}/open311/v2/requests/{id}.json"));
    assert_eq!(report, public[0]);
    let text = report.to_string();
    for secret in ["reporter@example.org", "+84 234", "Lan"] {
        assert!(!text.contains(secret), "{secret} in {text}");
    }
    drop(broker);
}
