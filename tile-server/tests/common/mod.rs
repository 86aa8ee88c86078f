//! Helpers of the server's tests: the shared ones of `testkit`, and a server started on a free
//! loopback port.

#![allow(dead_code)]

pub use testkit::*;

use std::path::{Path, PathBuf};

/// Start a server on a free loopback port, on a runtime thread of its own; returns its address.
pub fn start(app: axum::Router) -> std::net::SocketAddr {
    start_with(app, &tile_server::Limits::default())
}

/// [`start`] with the given connection limits.
pub fn start_with(app: axum::Router, limits: &tile_server::Limits) -> std::net::SocketAddr {
    let limits = limits.clone();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("runtime");
        rt.block_on(async move {
            let (addr, serving) =
                tile_server::bind_with(app, "127.0.0.1:0".parse().unwrap(), &limits, None)
                    .await
                    .expect("bind");
            tx.send(addr).unwrap();
            serving.await.expect("serve");
        });
    });
    rx.recv().expect("server address")
}

/// A copy of the sample twin in `<test tmp>/<name>/hue` served on a free loopback port with
/// the scenario files of `scenarios/examples/hue`: the address, the twin folder, the twin.
pub fn serve_sample_with_scenarios(
    name: &str,
    prepare: impl FnOnce(&Path),
) -> (
    std::net::SocketAddr,
    PathBuf,
    std::sync::Arc<twin_core::Twin>,
) {
    serve_sample_with_config(name, prepare, |_| {})
}

/// [`serve_sample_with_config`] with a `live.toml` binding the Kim Long gauge to
/// `flood_alarm3.toml`'s river stage at alarm 3 (3.5 m), `extra` appended to its nowcast
/// (`history_s = …`, say).
#[allow(dead_code)]
pub fn serve_sample_with_nowcast(
    name: &str,
    extra: &str,
    configure: impl FnOnce(&mut tile_server::ServerConfig),
) -> (
    std::net::SocketAddr,
    PathBuf,
    std::sync::Arc<twin_core::Twin>,
) {
    serve_sample_with_config(
        name,
        |d| {
            std::fs::write(
                d.join("live.toml"),
                format!(
                    "[[nowcast]]\nsensor = \"sensor:gauge-kim-long\"\nscenario = \"flood_alarm3.toml\"\n\
                     stage = \"Perfume River (Kim Long gauge)\"\nalarm_m = 3.5\n{extra}"
                ),
            )
            .unwrap();
        },
        configure,
    )
}

/// [`serve_sample_with_scenarios`] with the server's configuration changed by `configure`.
pub fn serve_sample_with_config(
    name: &str,
    prepare: impl FnOnce(&Path),
    configure: impl FnOnce(&mut tile_server::ServerConfig),
) -> (
    std::net::SocketAddr,
    PathBuf,
    std::sync::Arc<twin_core::Twin>,
) {
    let root = Path::new(env!("CARGO_TARGET_TMPDIR")).join(name);
    let _ = std::fs::remove_dir_all(&root);
    let dir = root.join("hue");
    copy_sample_twin(&dir);
    prepare(&dir);
    let (addr, twin) = serve_dir(&dir, configure);
    (addr, dir, twin)
}

/// Serve the twin folder `dir` as it is (with the scenario files of `scenarios/examples/hue`
/// and its store's tokens) on a free loopback port: the address and the twin.
pub fn serve_dir(
    dir: &Path,
    configure: impl FnOnce(&mut tile_server::ServerConfig),
) -> (std::net::SocketAddr, std::sync::Arc<twin_core::Twin>) {
    use std::sync::Arc;
    use tile_server::{self as server, source::GeneratedTiles, ServerConfig};
    use tiles3d::TilesetOptions;
    let dir = dir.to_path_buf();
    let td = twin_core::TwinDir::open(&dir).unwrap();
    let twin = Arc::new(twin_core::TwinDir::open(&dir).unwrap().load().unwrap());
    let opts = TilesetOptions::for_config(&td.config);
    let source =
        GeneratedTiles::plan(twin.clone(), &opts, &server::source::twin_fingerprint(&td)).unwrap();
    let mut cfg = ServerConfig {
        twin_dir: Some(dir.clone()),
        scenario_dirs: vec![repo().join("scenarios/examples/hue")],
        tile_opts: opts,
        tokens: Some(td.store_path()),
        basemap: Some(Arc::new(renderer::basemap::Drawer::new())),
        ..ServerConfig::default()
    };
    configure(&mut cfg);
    let app = server::app(twin.clone(), Arc::new(source), &cfg).unwrap();
    (start_with(app, &cfg.limits), twin)
}

/// A new token of `role` for the twin in `dir` (its store is built first when it has none).
pub fn token(dir: &Path, role: twin_core::tokens::Role) -> String {
    let td = twin_core::TwinDir::open(dir).unwrap();
    if !td.store_path().exists() {
        td.build(&twin_core::NoProgress).unwrap();
    }
    twin_core::tokens::Tokens::open(&td.store_path())
        .unwrap()
        .create(role, &format!("test {role}"))
        .unwrap()
        .token
}

/// A client that sends `token` as `Authorization: Bearer` on every request.
pub fn client_with(token: &str) -> reqwest::Client {
    let mut h = reqwest::header::HeaderMap::new();
    h.insert(
        reqwest::header::AUTHORIZATION,
        format!("Bearer {token}").parse().unwrap(),
    );
    http_builder().default_headers(h).build().unwrap()
}

/// An HTTP client for the tests, after installing the TLS provider reqwest needs in this build
/// (`scenarios::objects::install_tls_provider`).
pub fn http() -> reqwest::Client {
    http_builder().build().expect("an HTTP client")
}

/// [`http`]'s builder, to set timeouts or redirects.
pub fn http_builder() -> reqwest::ClientBuilder {
    scenarios::objects::install_tls_provider();
    reqwest::Client::builder()
}

/// `GET url` with a client from [`http`] (in place of `reqwest::get`).
pub async fn http_get<U: reqwest::IntoUrl>(url: U) -> reqwest::Result<reqwest::Response> {
    http().get(url).send().await
}
