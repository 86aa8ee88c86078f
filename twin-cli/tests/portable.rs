//! Issue 22: the built `twin` binary copied into an empty folder, away from the repository,
//! serves its viewer page and CesiumJS (embedded in it, gzipped), with ETags a returning
//! browser revalidates against.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::time::{Duration, Instant};

/// Header names (lower-cased) and values.
type Headers = Vec<(String, String)>;

/// One HTTP/1.1 GET over a fresh connection: (status line, headers, body).
fn get(addr: &str, path: &str, extra: &str) -> Option<(String, Headers, Vec<u8>)> {
    let mut t = TcpStream::connect(addr).ok()?;
    t.set_read_timeout(Some(Duration::from_secs(30))).ok()?;
    let req = format!("GET {path} HTTP/1.1\r\nHost: localhost\r\n{extra}Connection: close\r\n\r\n");
    t.write_all(req.as_bytes()).ok()?;
    let mut out = Vec::new();
    let _ = t.read_to_end(&mut out);
    let end = out.windows(4).position(|w| w == b"\r\n\r\n")?;
    let head = String::from_utf8_lossy(&out[..end]).to_string();
    let mut lines = head.split("\r\n");
    let status = lines.next()?.to_string();
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    Some((status, headers, out[end + 4..].to_vec()))
}

fn header<'a>(h: &'a [(String, String)], name: &str) -> Option<&'a str> {
    h.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
}

#[test]
fn a_copied_binary_serves_its_viewer_and_cesium_from_an_empty_folder() {
    let tmp = tempfile::tempdir().unwrap();
    let bin_dir = tmp.path().join("elsewhere/bin");
    let run_dir = tmp.path().join("empty");
    std::fs::create_dir_all(&bin_dir).unwrap();
    std::fs::create_dir_all(&run_dir).unwrap();
    let bin = bin_dir.join("twin");
    std::fs::copy(env!("CARGO_BIN_EXE_twin"), &bin).unwrap();
    let twin = tmp.path().join("hue");
    testkit::copy_sample_twin(&twin);
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let addr = format!("127.0.0.1:{port}");
    let log = tmp.path().join("serve.log");
    let mut child = std::process::Command::new(&bin)
        .current_dir(&run_dir)
        .args(["serve", twin.to_str().unwrap(), "--addr", &addr])
        .stdout(std::process::Stdio::null())
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .unwrap();
    let t = Instant::now();
    while get(&addr, "/healthz", "").is_none_or(|r| !r.0.contains(" 200")) {
        assert!(
            t.elapsed() < Duration::from_secs(180),
            "twin serve did not start"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    let result = std::panic::catch_unwind(|| {
        let said = std::fs::read_to_string(&log).unwrap();
        assert!(said.contains("viewer embedded in the binary"), "{said}");
        // The page.
        let (s, h, body) = get(&addr, "/", "").unwrap();
        assert!(s.contains(" 200"), "{s}");
        assert!(header(&h, "content-type").unwrap().starts_with("text/html"));
        assert!(String::from_utf8_lossy(&body).contains("viewer.js"));
        // CesiumJS, unpacked for a client without gzip: the file setup.sh put in web/vendor.
        let repo_cesium = Path::new(env!("CARGO_MANIFEST_DIR")).join("../web/vendor/cesium");
        let (s, h, body) = get(&addr, "/cesium/Cesium.js", "").unwrap();
        assert!(s.contains(" 200"), "{s}");
        assert!(header(&h, "content-encoding").is_none());
        assert_eq!(body, std::fs::read(repo_cesium.join("Cesium.js")).unwrap());
        // Gzipped as stored for a browser, with an ETag it revalidates with: 304, no body.
        let (s, h, gz) = get(
            &addr,
            "/cesium/Widgets/widgets.css",
            "Accept-Encoding: gzip, br\r\n",
        )
        .unwrap();
        assert!(s.contains(" 200"), "{s}");
        assert_eq!(header(&h, "content-encoding"), Some("gzip"));
        assert_eq!(header(&h, "cache-control"), Some("no-cache"));
        let mut css = Vec::new();
        flate2::read::GzDecoder::new(&gz[..])
            .read_to_end(&mut css)
            .unwrap();
        assert_eq!(
            css,
            std::fs::read(repo_cesium.join("Widgets/widgets.css")).unwrap()
        );
        let tag = header(&h, "etag").unwrap().to_string();
        let (s, _, body) = get(
            &addr,
            "/cesium/Widgets/widgets.css",
            &format!("If-None-Match: {tag}\r\n"),
        )
        .unwrap();
        assert!(s.contains(" 304"), "{s}");
        assert!(body.is_empty());
        // Nothing outside the viewer's files.
        for p in [
            "/cesium/../twin.toml",
            "/cesium/%2e%2e/%2e%2e/etc/passwd",
            "/cesium/nothing.js",
        ] {
            let (s, _, _) = get(&addr, p, "").unwrap();
            assert!(s.contains(" 404") || s.contains(" 400"), "{p}: {s}");
        }
    });
    child.kill().unwrap();
    child.wait().unwrap();
    if let Err(e) = result {
        std::panic::resume_unwind(e);
    }
}
