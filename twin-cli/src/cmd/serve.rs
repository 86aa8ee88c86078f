//! `twin serve <twin> [--addr A] [--scenarios DIR]... [--gpu] [--max-queued-runs N]
//! [--run-time-limit-s S] [--private] [--allowed-host H]... [--cors-origin O]...
//! [--header-timeout S] [--body-timeout S] [--max-connections N] [--tls-cert PEM --tls-key PEM]
//! [--plain] [--point-colour C] [--web-dir DIR] [--mqtt HOST:PORT] [--mqtt-client-id ID]
//! [--max-body-bytes N] [--retention-days D] [--queue URL] [--objects URL] [--run-attempts N]`:
//! the HTTP server (`tile-server`) over a twin, with the flood solver chosen here. Writes need a
//! token made by `twin token create` (kept in the twin's store).

use super::flood_solver;
use anyhow::{Context, Result};
use std::net::SocketAddr;
use std::path::PathBuf;
use twin_core::TwinDir;

/// Arguments of `twin serve`.
#[derive(clap::Args)]
pub struct ServeArgs {
    /// The twin folder.
    twin: PathBuf,
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:8080")]
    addr: SocketAddr,
    /// A folder of scenario files the viewer and `POST /api/runs` can run (repeatable;
    /// `<twin>/scenarios` when there is one).
    #[arg(long = "scenarios")]
    scenarios: Vec<PathBuf>,
    /// Solve flood runs on the GPU (wgpu) instead of the CPU.
    #[arg(long)]
    gpu: bool,
    /// Scenario runs that may wait beside the one running; more are answered 429.
    #[arg(long, default_value_t = 16)]
    max_queued_runs: usize,
    /// Wall-clock seconds a scenario run may take before it is stopped and marked failed
    /// (0: no limit).
    #[arg(long, default_value_t = 7200)]
    run_time_limit_s: u64,
    /// Reads need a token too (viewer role or above); by default the viewer, tiles and GET API
    /// are public and only writes need one.
    #[arg(long)]
    private: bool,
    /// A host name the server answers for, besides localhost and IP addresses (repeatable;
    /// e.g. the name a reverse proxy forwards). Requests naming any other Host get 421.
    #[arg(long = "allowed-host")]
    allowed_hosts: Vec<String>,
    /// An origin (scheme://host[:port]) whose pages may write cross-origin (repeatable);
    /// reads are open to every origin.
    #[arg(long = "cors-origin")]
    cors_origins: Vec<String>,
    /// Seconds a client has to send a request's headers (also the idle keep-alive limit).
    #[arg(long, default_value_t = 10)]
    header_timeout: u64,
    /// Seconds a client has to send a request's body.
    #[arg(long, default_value_t = 30)]
    body_timeout: u64,
    /// Connections served at once; more wait to be accepted.
    #[arg(long, default_value_t = 1024)]
    max_connections: usize,
    /// Serve HTTPS (rustls) with this PEM certificate chain (with --tls-key).
    #[arg(long, requires = "tls_key")]
    tls_cert: Option<PathBuf>,
    /// The PEM private key of --tls-cert.
    #[arg(long, requires = "tls_cert")]
    tls_key: Option<PathBuf>,
    /// How tile content is written.
    #[command(flatten)]
    content: super::tiles::ContentArgs,
    /// Serve the viewer from this folder (index.html, viewer.js, viewer.css and
    /// vendor/cesium/, as the repository's web/ holds them) instead of the copy embedded in the
    /// binary: for working on the viewer without rebuilding.
    #[arg(long)]
    web_dir: Option<PathBuf>,
    /// The SensorThings MQTT bridge: the broker's host:port (e.g. 127.0.0.1:1883, mosquitto);
    /// none: no MQTT.
    #[arg(long)]
    mqtt: Option<String>,
    /// The client id of the server's persistent MQTT session.
    #[arg(long, default_value = "huetwin-sta")]
    mqtt_client_id: String,
    /// Largest request body, bytes (SensorThings dataArray batches need more than the default).
    #[arg(long, default_value_t = 64 << 10)]
    max_body_bytes: usize,
    /// Delete observations older than this many days (checked hourly); 0: keep them all.
    #[arg(long, default_value_t = 0)]
    retention_days: u64,
    /// The store to serve: a GeoPackage path or a PostgreSQL/PostGIS database
    /// (`postgres://user@host:port/db`, password from PGPASSWORD), whose tokens every replica
    /// then shares. Default: the one twin.toml names, else <twin>/twin.gpkg.
    #[arg(long)]
    store: Option<String>,
    /// Queue scenario runs in PostgreSQL (postgres://user@host:port/db) for `twin worker`s
    /// instead of running them here; any replica then answers for any run.
    #[arg(long)]
    queue: Option<String>,
    /// Object storage for tiles and run results: a folder, file:///path or
    /// s3://bucket?endpoint=http://host:port (AWS_* credentials; AWS_ALLOW_HTTP=true for plain
    /// HTTP). Default: tiles under <twin>/cache, results under <twin>/objects with --queue.
    #[arg(long)]
    objects: Option<String>,
    /// Attempts a queued run gets (a worker dying mid-run costs one).
    #[arg(long, default_value_t = 3)]
    run_attempts: u32,
}

/// Serves until Ctrl-C.
pub fn run(a: ServeArgs) -> Result<()> {
    use std::sync::Arc;
    use tile_server as server;
    let run_time_limit =
        (a.run_time_limit_s > 0).then(|| std::time::Duration::from_secs(a.run_time_limit_s));
    let (twin, addr, mut scenarios, gpu) = (&a.twin, a.addr, a.scenarios.clone(), a.gpu);
    let dir = match &a.store {
        Some(s) => TwinDir::with_store(twin, s)?,
        None => TwinDir::open(twin)?,
    };
    let t = Arc::new(dir.load()?);
    let (tokens, token_db) = match &dir.store {
        twin_core::store::StoreLocation::GeoPackage(p) => (Some(p.clone()), None),
        twin_core::store::StoreLocation::Postgres(c) => (None, Some(c.clone())),
    };
    if scenarios.is_empty() && dir.dir.join("scenarios").is_dir() {
        scenarios.push(dir.dir.join("scenarios"));
    }
    for s in &scenarios {
        if !s.is_dir() {
            anyhow::bail!("scenario folder {} does not exist", s.display());
        }
    }
    let mut opts = tiles3d::TilesetOptions::for_config(&dir.config);
    a.content.apply(&mut opts);
    let cfg = server::ServerConfig {
        addr,
        disk_cache: Some(dir.dir.join("cache").join("tiles")),
        twin_dir: Some(dir.dir.clone()),
        scenario_dirs: scenarios,
        flood_solver: flood_solver(gpu),
        basemap: Some(Arc::new(renderer::basemap::Drawer::new())),
        tile_opts: opts.clone(),
        max_queued_runs: a.max_queued_runs,
        run_time_limit,
        tokens,
        token_db,
        private: a.private,
        allowed_hosts: a.allowed_hosts.clone(),
        cors_origins: a.cors_origins.clone(),
        limits: server::Limits {
            header_timeout: std::time::Duration::from_secs(a.header_timeout.max(1)),
            body_timeout: std::time::Duration::from_secs(a.body_timeout.max(1)),
            max_connections: a.max_connections.max(1),
        },
        tls: a
            .tls_cert
            .clone()
            .zip(a.tls_key.clone())
            .map(|(cert, key)| server::TlsFiles { cert, key }),
        web: match &a.web_dir {
            Some(d) => server::viewer::WebSource::Dir(d.clone()),
            None => server::viewer::WebSource::Embedded,
        },
        max_body_bytes: a.max_body_bytes,
        live: server::sta::LiveConfig {
            store: None,
            mqtt: a
                .mqtt
                .as_deref()
                .map(|m| -> Result<server::sta::mqtt::MqttConfig> {
                    let (host, port) = m
                        .rsplit_once(':')
                        .with_context(|| format!("--mqtt {m}: expected host:port"))?;
                    Ok(server::sta::mqtt::MqttConfig {
                        host: host.to_string(),
                        port: port
                            .parse()
                            .with_context(|| format!("--mqtt {m}: bad port"))?,
                        client_id: a.mqtt_client_id.clone(),
                        publish: true,
                    })
                })
                .transpose()?,
            retention: (a.retention_days > 0)
                .then(|| std::time::Duration::from_secs(a.retention_days * 86_400)),
            push_streams: None,
        },
        objects: a.objects.clone(),
        run_queue: a.queue.clone(),
        run_attempts: a.run_attempts.max(1),
        ..server::ServerConfig::default()
    };
    if !dir.store.exists() {
        eprintln!(
            "note: {} has no store yet, so no token exists and every write is refused \
             (twin build {}, then twin token create)",
            dir.dir.display(),
            dir.dir.display()
        );
    }
    if !addr.ip().is_loopback() && cfg.tls.is_none() {
        eprintln!(
            "warning: listening on {addr}, beyond this machine: writes need a token, but traffic \
             is plain HTTP (tokens readable on the wire): use --tls-cert/--tls-key or a TLS reverse \
             proxy (README: Security){}",
            if a.private {
                ""
            } else {
                "; the viewer, tiles and GET API are public (--private to close them)"
            }
        );
    }
    let source: Arc<dyn server::source::TileSource> = Arc::new(
        server::source::GeneratedTiles::plan(
            t.clone(),
            &opts,
            &server::source::twin_fingerprint(&dir),
        )
        .context("planning the tilesets")?,
    );
    let app = server::app(t.clone(), source, &cfg)?;
    eprintln!("{}", cfg.web.describe());
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    let scheme = if cfg.tls.is_some() { "https" } else { "http" };
    rt.block_on(server::run_with(
        app,
        cfg.addr,
        &cfg.limits,
        cfg.tls.as_ref(),
        |a| {
            println!(
                "serving twin {:?} ({} buildings)",
                t.name,
                t.buildings.len()
            );
            println!("viewer: {scheme}://{a}/");
            println!(
                "API:    {scheme}://{a}/api/layers  (OpenAPI: {scheme}://{a}/api/openapi.json)"
            );
        },
    ))
    .with_context(|| format!("serving on {addr}"))?;
    Ok(())
}
