//! Issue 14, "safe to put on a city network", against a server on a free loopback port:
//! writes need a token of a high enough role (401 with `WWW-Authenticate: Bearer`, 403);
//! write routes get CORS only for configured origins; a foreign `Host` is refused (DNS
//! rebinding); connections that never finish their headers are closed within the header
//! timeout.

mod common;

use reqwest::header;
use serde_json::Value;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::time::{Duration, Instant};

async fn send(r: reqwest::RequestBuilder) -> (u16, reqwest::header::HeaderMap, Value) {
    let r = r.send().await.unwrap();
    let (s, h) = (r.status().as_u16(), r.headers().clone());
    let b = r.bytes().await.unwrap();
    (s, h, serde_json::from_slice(&b).unwrap_or(Value::Null))
}

fn serve_default(name: &str) -> SocketAddr {
    common::serve_sample_with_scenarios(name, |_| {}).0
}

#[tokio::test]
async fn writes_need_a_token() {
    let base = format!("http://{}", serve_default("security-writes"));
    let c = common::http();
    for req in [
        c.post(format!("{base}/api/runs"))
            .header(header::CONTENT_TYPE, "application/json")
            .body(r#"{"scenario": "flood_alarm3.toml"}"#),
        c.delete(format!("{base}/api/runs/20990101T000000Z-x")),
        c.post(format!("{base}/api/runs/20990101T000000Z-x/rerun")),
    ] {
        let (s, h, v) = send(req).await;
        assert_eq!(s, 401, "{v}");
        assert!(
            h[header::WWW_AUTHENTICATE]
                .to_str()
                .unwrap()
                .starts_with("Bearer"),
            "{h:?}"
        );
        assert_eq!(v["error"]["status"], 401, "{v}");
    }
    // Reads stay public by default.
    let (s, _, _) = send(c.get(format!("{base}/api/runs"))).await;
    assert_eq!(s, 200);
}

#[tokio::test]
async fn write_routes_get_cors_only_for_configured_origins() {
    let base = format!("http://{}", serve_default("security-cors"));
    let c = common::http();
    let evil = "http://evil.example";
    let (_, h, _) = send(
        c.post(format!("{base}/api/runs"))
            .header(header::ORIGIN, evil)
            .header(header::CONTENT_TYPE, "application/json")
            .body("{}"),
    )
    .await;
    assert!(
        h.get(header::ACCESS_CONTROL_ALLOW_ORIGIN).is_none(),
        "{h:?}"
    );
    let (_, h, _) = send(
        c.request(reqwest::Method::OPTIONS, format!("{base}/api/runs"))
            .header(header::ORIGIN, evil)
            .header(header::ACCESS_CONTROL_REQUEST_METHOD, "POST")
            .header(header::ACCESS_CONTROL_REQUEST_HEADERS, "authorization"),
    )
    .await;
    assert!(
        h.get(header::ACCESS_CONTROL_ALLOW_ORIGIN).is_none(),
        "{h:?}"
    );
    // Reads keep `*`.
    let (_, h, _) = send(
        c.get(format!("{base}/api/runs"))
            .header(header::ORIGIN, evil),
    )
    .await;
    assert_eq!(h[header::ACCESS_CONTROL_ALLOW_ORIGIN], "*");
}

#[tokio::test]
async fn a_foreign_host_is_refused() {
    let addr = serve_default("security-host");
    let c = common::http();
    let url = format!("http://{addr}/api/layers");
    let (s, _, v) = send(c.get(&url).header(header::HOST, "evil.example")).await;
    assert_eq!(s, 421, "{v}");
    assert_eq!(v["error"]["status"], 421, "{v}");
    let (s, _, v) = send(
        c.get(&url)
            .header(header::HOST, format!("rebind.evil.example:{}", addr.port())),
    )
    .await;
    assert_eq!(s, 421, "{v}");
    for ok in [
        format!("localhost:{}", addr.port()),
        format!("127.0.0.1:{}", addr.port()),
        "localhost".to_string(),
    ] {
        let (s, _, v) = send(c.get(&url).header(header::HOST, ok.as_str())).await;
        assert_eq!(s, 200, "{ok}: {v}");
    }
}

/// 200 connections that send part of a request line and then nothing: all closed by the
/// server within 15 s (the default header timeout is 10 s).
#[test]
fn incomplete_headers_are_cut_off() {
    let addr = serve_default("security-slowloris");
    let start = Instant::now();
    let mut conns: Vec<TcpStream> = (0..200)
        .map(|_| {
            let mut t = TcpStream::connect(addr).unwrap();
            t.write_all(b"GET /api/layers HTTP/1.1\r\nHost: 127.0")
                .unwrap();
            t
        })
        .collect();
    let mut closed = 0;
    for t in &mut conns {
        let left = Duration::from_secs(15).saturating_sub(start.elapsed());
        t.set_read_timeout(Some(left.max(Duration::from_millis(1))))
            .unwrap();
        let mut buf = [0u8; 1024];
        // End of stream, a reset, or an answer (408) then the end: the server let go.
        loop {
            match t.read(&mut buf) {
                Ok(0) => {
                    closed += 1;
                    break;
                }
                Ok(_) => continue,
                Err(e)
                    if matches!(
                        e.kind(),
                        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                    ) =>
                {
                    break
                }
                Err(_) => {
                    closed += 1;
                    break;
                }
            }
        }
    }
    assert_eq!(
        closed,
        200,
        "only {closed} of 200 closed after {:?}",
        start.elapsed()
    );
}

/// Roles: no token 401, a malformed or unknown one 401 (`invalid_token`), a viewer 403, a
/// planner may start, cancel and rerun runs; a revoked token is refused at once.
#[tokio::test]
async fn roles_decide_who_may_write() {
    use twin_core::tokens::{Role, Tokens};
    let (addr, dir, _) = common::serve_sample_with_config("security-roles", |_| {}, |_| {});
    let base = format!("http://{addr}");
    let viewer = common::token(&dir, Role::Viewer);
    let planner = common::token(&dir, Role::Planner);
    let post = |c: &reqwest::Client| {
        c.post(format!("{base}/api/runs"))
            .header(header::CONTENT_TYPE, "application/json")
            .body(r#"{"scenario": "truong_tien_closed.toml"}"#)
    };
    for bad in [
        "ht_nope".to_string(),
        // the planner's token with its last hex digit changed (to another digit, always)
        format!(
            "{}{}",
            &planner[..planner.len() - 1],
            if planner.ends_with('0') { '1' } else { '0' }
        ),
        "Basic".to_string(),
    ] {
        let (s, h, v) = send(post(&common::client_with(&bad))).await;
        assert_eq!(s, 401, "{bad}: {v}");
        let challenge = h[header::WWW_AUTHENTICATE].to_str().unwrap().to_string();
        assert!(challenge.contains("invalid_token"), "{challenge}");
    }
    let (s, _, v) = send(post(&common::client_with(&viewer))).await;
    assert_eq!(s, 403, "{v}");
    assert_eq!(v["error"]["code"], "forbidden", "{v}");
    assert!(
        v["error"]["message"].as_str().unwrap().contains("planner"),
        "{v}"
    );
    let c = common::client_with(&planner);
    let (s, _, v) = send(post(&c)).await;
    assert_eq!(s, 202, "{v}");
    let id = v["run"]["id"].as_str().unwrap().to_string();
    let (s, _, v) = send(c.delete(format!("{base}/api/runs/{id}"))).await;
    assert!(s == 202 || s == 409, "{s} {v}");
    // The same token again: answered from the check's cache, still valid.
    let (s, _, v) = send(c.post(format!("{base}/api/runs/{id}/rerun"))).await;
    assert!(s == 202 || s == 409, "{s} {v}");

    // Revoked (as `twin token revoke` does, from another connection): refused at once.
    let store = dir.join("twin.gpkg");
    let (pid, _) = twin_core::tokens::parse(&planner).unwrap();
    Tokens::open(&store).unwrap().revoke(pid).unwrap();
    let (s, _, v) = send(post(&c)).await;
    assert_eq!(s, 401, "{v}");
}

/// A private server: reads need a viewer token, except the viewer's own files and
/// `/healthz`; the OpenAPI document names the bearer scheme on the write routes.
#[tokio::test]
async fn a_private_server_needs_a_token_to_read() {
    use twin_core::tokens::Role;
    let (addr, dir, _) =
        common::serve_sample_with_config("security-private", |_| {}, |c| c.private = true);
    let base = format!("http://{addr}");
    let anon = common::http();
    for path in [
        "/api/layers",
        "/tiles/tileset.json",
        "/api/runs",
        "/metrics",
    ] {
        let (s, h, v) = send(anon.get(format!("{base}{path}"))).await;
        assert_eq!(s, 401, "{path}: {v}");
        assert!(h.contains_key(header::WWW_AUTHENTICATE), "{path}");
    }
    for path in ["/", "/viewer.js", "/healthz"] {
        let (s, _, v) = send(anon.get(format!("{base}{path}"))).await;
        assert_eq!(s, 200, "{path}: {v}");
    }
    let c = common::client_with(&common::token(&dir, Role::Viewer));
    for path in ["/api/layers", "/tiles/tileset.json", "/api/runs"] {
        let (s, _, v) = send(c.get(format!("{base}{path}"))).await;
        assert_eq!(s, 200, "{path}: {v}");
    }
    // The write routes say they need the bearer token.
    let (_, _, doc) = send(c.get(format!("{base}/api/openapi.json"))).await;
    assert_eq!(
        doc["components"]["securitySchemes"]["bearer"]["scheme"],
        "bearer"
    );
    let post = &doc["paths"]["/api/runs"]["post"];
    assert!(post["security"][0].get("bearer").is_some(), "{post}");
    assert!(post["responses"].get("401").is_some() && post["responses"].get("403").is_some());
    assert!(doc["paths"]["/api/runs"]["get"].get("security").is_none());
}

/// A configured origin gets CORS headers on writes, named (not `*`); configured host names
/// are answered.
#[tokio::test]
async fn configured_origins_and_hosts() {
    let (addr, _, _) = common::serve_sample_with_config(
        "security-origins",
        |_| {},
        |c| {
            c.cors_origins = vec!["https://maps.hue.example".into()];
            c.allowed_hosts = vec!["twin.hue.example".into()];
        },
    );
    let base = format!("http://{addr}");
    let c = common::http();
    let (s, h, _) = send(
        c.request(reqwest::Method::OPTIONS, format!("{base}/api/runs"))
            .header(header::ORIGIN, "https://maps.hue.example")
            .header(header::ACCESS_CONTROL_REQUEST_METHOD, "POST")
            .header(
                header::ACCESS_CONTROL_REQUEST_HEADERS,
                "authorization, content-type",
            ),
    )
    .await;
    assert_eq!(s, 200);
    assert_eq!(
        h[header::ACCESS_CONTROL_ALLOW_ORIGIN],
        "https://maps.hue.example"
    );
    let allowed = h[header::ACCESS_CONTROL_ALLOW_HEADERS]
        .to_str()
        .unwrap()
        .to_ascii_lowercase();
    assert!(allowed.contains("authorization"), "{allowed}");
    // The write itself (refused: no token) still carries the origin, so the page can read why.
    let (s, h, _) = send(
        c.post(format!("{base}/api/runs"))
            .header(header::ORIGIN, "https://maps.hue.example")
            .header(header::CONTENT_TYPE, "application/json")
            .body("{}"),
    )
    .await;
    assert_eq!(s, 401);
    assert_eq!(
        h[header::ACCESS_CONTROL_ALLOW_ORIGIN],
        "https://maps.hue.example"
    );
    let (s, _, v) = send(
        c.get(format!("{base}/healthz"))
            .header(header::HOST, format!("twin.hue.example:{}", addr.port())),
    )
    .await;
    assert_eq!(s, 200, "{v}");
}

/// With a 1 s header timeout and 16 connections at most: 50 stalled connections are all
/// closed within a few seconds, an idle keep-alive connection too, and a real request gets
/// through once the stalled ones are gone.
#[test]
fn header_timeout_and_connection_limit_are_configurable() {
    let (addr, _, _) = common::serve_sample_with_config(
        "security-limits",
        |_| {},
        |c| {
            c.limits.header_timeout = Duration::from_secs(1);
            c.limits.body_timeout = Duration::from_secs(1);
            c.limits.max_connections = 16;
        },
    );
    let start = Instant::now();
    let mut conns: Vec<TcpStream> = (0..50)
        .map(|_| {
            let mut t = TcpStream::connect(addr).unwrap();
            // Connections beyond the limit wait in the backlog: writing still succeeds.
            let _ = t.write_all(b"GET /healthz HTTP/1.1\r\nHo");
            t
        })
        .collect();
    // A keep-alive connection that sends one request, then nothing.
    let mut idle = TcpStream::connect(addr).unwrap();
    idle.write_all(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        .unwrap();
    conns.push(idle);
    for (i, t) in conns.iter_mut().enumerate() {
        t.set_read_timeout(Some(Duration::from_secs(12))).unwrap();
        let mut buf = Vec::new();
        // Read to the end: the server closes it (a timeout here is a failure).
        let r = t.read_to_end(&mut buf);
        assert!(
            !matches!(&r, Err(e) if matches!(e.kind(), std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut)),
            "connection {i} still open after {:?}",
            start.elapsed()
        );
    }
    assert!(
        start.elapsed() < Duration::from_secs(12),
        "{:?}",
        start.elapsed()
    );
    let mut t = TcpStream::connect(addr).unwrap();
    t.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    t.write_all(b"GET /healthz HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
        .unwrap();
    let mut out = String::new();
    t.read_to_string(&mut out).unwrap();
    assert!(out.starts_with("HTTP/1.1 200"), "{out}");

    // A body that stalls: answered with an error after the body timeout, not held open.
    let start = Instant::now();
    let mut t = TcpStream::connect(addr).unwrap();
    t.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    t.write_all(
        b"POST /api/layers/buildings/intersects HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: 200\r\nConnection: close\r\n\r\n{\"type\":",
    )
    .unwrap();
    let mut out = String::new();
    let _ = t.read_to_string(&mut out);
    assert!(out.starts_with("HTTP/1.1 4"), "{out}");
    assert!(
        start.elapsed() < Duration::from_secs(5),
        "{:?}",
        start.elapsed()
    );
}

/// TLS (rustls): with a self-signed certificate for localhost (made by the `openssl` command),
/// the server answers HTTPS; a plain-HTTP request on the TLS port gets no HTTP answer.
#[tokio::test]
async fn serves_https_with_a_certificate() {
    use std::sync::Arc;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio_rustls::rustls;
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("security-tls");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let (cert, key) = (dir.join("cert.pem"), dir.join("key.pem"));
    let ok = std::process::Command::new("openssl")
        .args([
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
        ])
        .args(["-nodes", "-days", "1", "-subj", "/CN=localhost"])
        .args(["-addext", "subjectAltName=DNS:localhost"])
        .args(["-addext", "basicConstraints=critical,CA:FALSE"])
        .arg("-keyout")
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .output()
        .expect("the openssl command");
    assert!(
        ok.status.success(),
        "{}",
        String::from_utf8_lossy(&ok.stderr)
    );

    let twin = Arc::new(twin_core::Twin::new("tls", twin_core::Crs::epsg(32648).unwrap()).unwrap());
    let cfg = tile_server::ServerConfig::default();
    let app = tile_server::app(twin, Arc::new(tile_server::source::NoTiles), &cfg).unwrap();
    let files = tile_server::TlsFiles {
        cert: cert.clone(),
        key: key.clone(),
    };
    let (addr, serving) = tile_server::bind_with(
        app,
        "127.0.0.1:0".parse().unwrap(),
        &tile_server::Limits::default(),
        Some(&files),
    )
    .await
    .unwrap();
    tokio::spawn(serving);

    use rustls_pki_types::pem::PemObject;
    let mut roots = rustls::RootCertStore::empty();
    for c in rustls_pki_types::CertificateDer::pem_file_iter(&cert).unwrap() {
        roots.add(c.unwrap()).unwrap();
    }
    #[allow(deprecated)]
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let client = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    let tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
    let name = rustls_pki_types::ServerName::try_from("localhost").unwrap();
    let mut tls = tokio_rustls::TlsConnector::from(Arc::new(client))
        .connect(name, tcp)
        .await
        .unwrap();
    tls.write_all(b"GET /healthz HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
        .await
        .unwrap();
    let mut out = Vec::new();
    let _ = tls.read_to_end(&mut out).await;
    let text = String::from_utf8_lossy(&out);
    assert!(text.starts_with("HTTP/1.1 200"), "{text}");
    assert!(text.contains("\"status\":\"ok\""), "{text}");

    // Plain HTTP on the TLS port: no HTTP answer.
    let plain = common::http_get(format!("http://{addr}/healthz")).await;
    assert!(plain.is_err(), "{plain:?}");

    // A key that does not parse: an error before anything is served.
    std::fs::write(dir.join("bad.pem"), "not a key").unwrap();
    let bad = tile_server::TlsFiles {
        cert,
        key: dir.join("bad.pem"),
    };
    assert!(bad.acceptor().is_err());
}
