//! The live-data benchmark driver of `scripts/bench_live.sh`: observations per second stored
//! durably (WAL, synchronous=FULL, acknowledged after the commit) over HTTP `dataArray`
//! batches and over MQTT (QoS 1 through the broker on `--mqtt-port`), then the p50/p99 of a
//! one-day range query over HTTP once the store holds `--fill` observations.
//!
//! usage: live_bench <work dir> [--http N] [--batch B] [--conns C] [--mqtt-port P] [--mqtt N]
//!                   [--fill N] [--queries Q]
//! Prints `key value` lines (the script makes the table).

use serde_json::{json, Value};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};
use twin_core::live::{LiveStore, NewObservation, ObsQuery, TimeValue, WriteOp};

fn arg(args: &[String], name: &str, default: u64) -> u64 {
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .map(|v| v.parse().expect(name))
        .unwrap_or(default)
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let work = PathBuf::from(args.get(1).ok_or("usage: live_bench <work dir> ...")?);
    let n_http = arg(&args, "--http", 200_000);
    let batch = arg(&args, "--batch", 5000);
    let conns = arg(&args, "--conns", 4);
    let mqtt_port = arg(&args, "--mqtt-port", 0) as u16;
    let n_mqtt = arg(&args, "--mqtt", 100_000);
    let fill = arg(&args, "--fill", 10_000_000);
    let queries = arg(&args, "--queries", 200);
    std::fs::create_dir_all(&work)?;
    let store_path = work.join("live.sqlite");
    for ext in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{ext}", store_path.display()));
    }
    // An empty twin with a store for the token.
    let twin_dir = work.join("twin");
    let _ = std::fs::remove_dir_all(&twin_dir);
    let td = twin_core::TwinDir::create(&twin_dir, "bench", twin_core::Crs::epsg(32648)?)?;
    std::fs::create_dir_all(&twin_dir)?;
    td.config.save(&twin_dir)?;
    td.build(&twin_core::NoProgress)?;
    let tokens_path = td.store_path();
    let token = twin_core::tokens::Tokens::open(&tokens_path)?
        .create(twin_core::tokens::Role::Editor, "bench")?
        .token;
    let twin = Arc::new(twin_core::Twin::new("bench", twin_core::Crs::epsg(32648)?)?);
    let cfg = tile_server::ServerConfig {
        tokens: Some(tokens_path.clone()),
        max_body_bytes: 64 << 20,
        live: tile_server::sta::LiveConfig {
            store: Some(store_path.clone()),
            mqtt: (mqtt_port > 0).then(|| tile_server::sta::mqtt::MqttConfig {
                port: mqtt_port,
                client_id: "huetwin-bench".into(),
                publish: false,
                ..Default::default()
            }),
            retention: None,
            ..Default::default()
        },
        ..Default::default()
    };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    let app = tile_server::app(twin, Arc::new(tile_server::source::NoTiles), &cfg)?;
    let (addr, serving) = rt.block_on(tile_server::bind(app, "127.0.0.1:0".parse()?))?;
    rt.spawn(serving);
    let store = LiveStore::open(&store_path)?;
    scenarios::objects::install_tls_provider();
    let c = reqwest::Client::new();
    let base = format!("http://{addr}/v1.1");
    // One Thing with ten Datastreams.
    let body = json!({"name": "bench", "description": "bench",
        "Datastreams": (0..10).map(|i| json!({"name": format!("ds{i}"), "description": "d", "observationType": "OM_Measurement",
            "unitOfMeasurement": {"name": "m", "symbol": "m", "definition": "m"},
            "Sensor": {"name": "s", "description": "s", "encodingType": "text/plain", "metadata": "-"},
            "ObservedProperty": {"name": "p", "definition": "p", "description": "p"}})).collect::<Vec<_>>()});
    rt.block_on(async {
        let r = c
            .post(format!("{base}/Things"))
            .bearer_auth(&token)
            .header("content-type", "application/json")
            .body(body.to_string())
            .send()
            .await?;
        assert_eq!(r.status().as_u16(), 201, "{}", r.text().await?);
        Ok::<_, reqwest::Error>(())
    })?;
    let ds: Vec<i64> = store
        .list(twin_core::live::EntitySet::Datastreams)?
        .iter()
        .map(|d| d.id)
        .collect();
    let t_base = twin_core::live::time::parse_instant("2024-01-01T00:00:00Z").unwrap();

    // HTTP: `conns` clients, each posting dataArray batches of `batch` rows.
    let per = n_http / conns / batch;
    let t0 = Instant::now();
    rt.block_on(async {
        let mut tasks = Vec::new();
        for k in 0..conns {
            let (c, base, token, ds) = (c.clone(), base.clone(), token.clone(), ds[k as usize % ds.len()]);
            tasks.push(tokio::spawn(async move {
                for b in 0..per {
                    let first = (k * per + b) * batch;
                    let rows: Vec<Value> = (first..first + batch)
                        .map(|i| json!([twin_core::live::time::format_instant(t_base + i as i64 * 1000), (i % 1000) as f64 / 100.0]))
                        .collect();
                    let body = json!([{"Datastream": {"@iot.id": ds}, "components": ["phenomenonTime", "result"], "dataArray": rows}]);
                    let r = c
                        .post(format!("{base}/CreateObservations"))
                        .bearer_auth(&token)
                        .header("content-type", "application/json")
                        .body(body.to_string())
                        .send()
                        .await
                        .expect("post");
                    assert_eq!(r.status().as_u16(), 201);
                    let links: Vec<Value> = serde_json::from_slice(&r.bytes().await.unwrap()).unwrap();
                    assert!(links.iter().all(|l| l != "error"));
                }
            }));
        }
        for t in tasks {
            t.await.expect("client");
        }
    });
    let http_s = t0.elapsed().as_secs_f64();
    let http_n = per * conns * batch;
    println!("http_rows {http_n}");
    println!("http_s {http_s:.3}");
    println!("http_obs_per_s {:.0}", http_n as f64 / http_s);

    // MQTT: one publisher at QoS 1; time from the first publish until all are stored.
    if mqtt_port > 0 {
        use rumqttc::{AsyncClient, MqttOptions, QoS};
        let before = store.count_observations(&ObsQuery::default())?;
        // Let the bridge connect and subscribe.
        std::thread::sleep(Duration::from_secs(2));
        let t0 = Instant::now();
        rt.block_on(async {
            let mut o = MqttOptions::new("bench-pub", "127.0.0.1", mqtt_port);
            o.set_inflight(1000).set_keep_alive(Duration::from_secs(60));
            let (client, mut ev) = AsyncClient::new(o, 10_000);
            tokio::spawn(async move { while ev.poll().await.is_ok() {} });
            let topic = format!("v1.1/Datastreams({})/Observations", ds[9]);
            for i in 0..n_mqtt {
                let body = format!(
                    r#"{{"phenomenonTime":"{}","result":{}}}"#,
                    twin_core::live::time::format_instant(
                        t_base + 1_000_000_000_000 + i as i64 * 1000
                    ),
                    (i % 1000) as f64 / 100.0
                );
                client
                    .publish(topic.clone(), QoS::AtLeastOnce, false, body)
                    .await
                    .expect("publish");
            }
        });
        loop {
            let n = store.count_observations(&ObsQuery::default())? - before;
            if n >= n_mqtt {
                break;
            }
            if t0.elapsed() > Duration::from_secs(600) {
                println!("mqtt_stored_before_timeout {n}");
                break;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let s = t0.elapsed().as_secs_f64();
        println!("mqtt_rows {n_mqtt}");
        println!("mqtt_s {s:.3}");
        println!("mqtt_obs_per_s {:.0}", n_mqtt as f64 / s);
    }

    // Fill to `fill` observations over the ten Datastreams (a reading a minute each), in
    // 100,000-row group commits straight into the store.
    let have = store.count_observations(&ObsQuery::default())?;
    let t0 = Instant::now();
    let mut i = 0u64;
    let minutes_per_ds = fill.div_ceil(ds.len() as u64);
    while have + i < fill {
        let n = 100_000.min(fill - have - i);
        let rows: Vec<NewObservation> = (i..i + n)
            .map(|j| NewObservation {
                datastream: ds[(j % ds.len() as u64) as usize],
                phenomenon: TimeValue {
                    start: t_base + (j / ds.len() as u64) as i64 * 60_000,
                    end: None,
                },
                result: json!((j % 500) as f64 / 100.0),
                result_time: None,
                foi: None,
                extra: None,
            })
            .collect();
        store.write(WriteOp::Observations(rows))?;
        i += n;
    }
    let total = store.count_observations(&ObsQuery::default())?;
    println!("fill_rows {i}");
    println!(
        "fill_obs_per_s {:.0}",
        i as f64 / t0.elapsed().as_secs_f64().max(1e-9)
    );
    println!("stored_total {total}");
    // One-day range queries over HTTP, a random Datastream and day each (a fixed LCG).
    let days = (minutes_per_ds / 1440).max(1);
    let mut seed = 12345u64;
    let mut lat = Vec::new();
    let mut rows_seen = 0;
    for _ in 0..queries {
        seed = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        let d = ds[(seed >> 33) as usize % ds.len()];
        let day = (seed >> 20) % days;
        let from = twin_core::live::time::format_instant(t_base + day as i64 * 86_400_000);
        let to = twin_core::live::time::format_instant(t_base + (day as i64 + 1) * 86_400_000);
        let url = format!(
            "{base}/Datastreams({d})/Observations?$top=1440&$orderby=phenomenonTime&$select=phenomenonTime,result&$filter=phenomenonTime%20ge%20{from}%20and%20phenomenonTime%20lt%20{to}"
        );
        let t = Instant::now();
        let v: Value = rt
            .block_on(async {
                serde_json::from_slice(&c.get(&url).send().await?.bytes().await?)
                    .map_err(|e| e.to_string())
                    .map_err(std::io::Error::other)
                    .map_err(|e| e.into())
            })
            .map_err(|e: Box<dyn std::error::Error>| e.to_string())?;
        lat.push(t.elapsed().as_secs_f64() * 1000.0);
        rows_seen += v["value"].as_array().map(|a| a.len()).unwrap_or(0);
    }
    lat.sort_by(f64::total_cmp);
    let pct = |p: f64| lat[((lat.len() as f64 - 1.0) * p).round() as usize];
    println!("range_queries {queries}");
    println!(
        "range_rows_per_query {:.0}",
        rows_seen as f64 / queries as f64
    );
    println!("range_p50_ms {:.2}", pct(0.5));
    println!("range_p99_ms {:.2}", pct(0.99));
    Ok(())
}
