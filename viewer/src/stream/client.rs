//! A small blocking HTTP/1.1 client for a huetwin server's public routes: GET only, plain
//! HTTP (loopback, a LAN, or behind a TLS-terminating proxy), a bearer token when given,
//! `Content-Length`, chunked or close-delimited bodies, bounded size and time.
//!
//! Hand-written on `std::net` rather than reqwest or ureq (docs/adr/0027): any HTTP crate
//! unifies new features into crates bevy shares (futures-util, hashbrown, tracing, rustix)
//! and so rebuilds all of bevy, about 76 minutes on the CI's two cores.

use crate::error::{Result, ViewerError};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::time::Duration;

/// The largest body read (a tile or a tileset.json).
pub const MAX_BODY_BYTES: usize = 256 << 20;
/// The longest header section read.
pub const MAX_HEADER_BYTES: usize = 64 << 10;
/// How long connecting, and each read or write, may take.
pub const IO_TIMEOUT: Duration = Duration::from_secs(60);

/// A client of one server: its base URL and the token sent with every request.
#[derive(Clone, Debug)]
pub struct Client {
    base: String,
    token: Option<String>,
}

/// host:port and path of an http:// URL.
fn split_url(url: &str) -> Option<(String, String)> {
    let rest = url.strip_prefix("http://")?;
    let (auth, path) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, "/"),
    };
    if auth.is_empty() || auth.contains('@') {
        return None;
    }
    let auth = if auth
        .rsplit_once(':')
        .is_some_and(|(_, p)| p.parse::<u16>().is_ok())
        && !auth.ends_with(']')
    {
        auth.to_string()
    } else {
        format!("{auth}:80")
    };
    Some((auth, path.to_string()))
}

impl Client {
    /// A client of the server at `base` (`http://host:port`, with or without a trailing
    /// slash). HTTPS is refused: the viewer has no TLS stack.
    pub fn new(base: &str, token: Option<String>) -> Result<Client> {
        let base = base.trim_end_matches('/').to_string();
        if split_url(&base).is_none() {
            return Err(ViewerError::invalid(
                base,
                "expected http://host[:port] (plain HTTP; the viewer has no TLS stack)",
            ));
        }
        if token
            .as_deref()
            .is_some_and(|t| t.chars().any(|c| c.is_control()))
        {
            return Err(ViewerError::invalid("--token", "control characters"));
        }
        Ok(Client { base, token })
    }

    /// The base URL.
    pub fn base(&self) -> &str {
        &self.base
    }

    /// The absolute URL of a path on the server (absolute URLs are kept).
    pub fn url(&self, path: &str) -> String {
        if path.starts_with("http://") || path.starts_with("https://") {
            path.to_string()
        } else if path.starts_with('/') {
            format!("{}{path}", self.base)
        } else {
            format!("{}/{path}", self.base)
        }
    }

    /// GET a URL's body (status 2xx), following no redirects.
    pub fn get(&self, url: &str) -> Result<Vec<u8>> {
        let err = |m: String| ViewerError::Http {
            url: url.to_string(),
            message: m,
        };
        let (auth, path) = split_url(url).ok_or_else(|| err("not an http:// URL".into()))?;
        if path.chars().any(|c| c.is_control() || c == ' ') {
            return Err(err("a path with spaces or control characters".into()));
        }
        let addr = auth
            .to_socket_addrs()
            .map_err(|e| err(e.to_string()))?
            .next()
            .ok_or_else(|| err("no address".into()))?;
        let mut s =
            TcpStream::connect_timeout(&addr, IO_TIMEOUT).map_err(|e| err(e.to_string()))?;
        s.set_read_timeout(Some(IO_TIMEOUT))
            .and_then(|_| s.set_write_timeout(Some(IO_TIMEOUT)))
            .map_err(|e| err(e.to_string()))?;
        let mut req = format!(
            "GET {path} HTTP/1.1\r\nHost: {auth}\r\nUser-Agent: twin-viewer\r\n\
             Accept-Encoding: identity\r\nConnection: close\r\n"
        );
        if let Some(t) = &self.token {
            req.push_str(&format!("Authorization: Bearer {t}\r\n"));
        }
        req.push_str("\r\n");
        s.write_all(req.as_bytes())
            .map_err(|e| err(e.to_string()))?;
        let mut r = BufReader::new(s);
        let mut header_bytes = 0usize;
        let mut line = String::new();
        let read_line = |r: &mut BufReader<TcpStream>, line: &mut String, used: &mut usize| {
            line.clear();
            let n = r
                .by_ref()
                .take(MAX_HEADER_BYTES as u64)
                .read_line(line)
                .map_err(|e| err(e.to_string()))?;
            *used += n;
            if n == 0 || *used > MAX_HEADER_BYTES {
                return Err(err("truncated or oversized response header".into()));
            }
            Ok(())
        };
        read_line(&mut r, &mut line, &mut header_bytes)?;
        let status: u16 = line
            .split_whitespace()
            .nth(1)
            .and_then(|c| c.parse().ok())
            .ok_or_else(|| err(format!("not an HTTP response: {:?}", line.trim())))?;
        let (mut length, mut chunked) = (None::<usize>, false);
        loop {
            read_line(&mut r, &mut line, &mut header_bytes)?;
            let l = line.trim_end();
            if l.is_empty() {
                break;
            }
            if let Some((k, v)) = l.split_once(':') {
                let v = v.trim();
                if k.eq_ignore_ascii_case("content-length") {
                    length = Some(v.parse().map_err(|_| err(format!("Content-Length {v}")))?);
                } else if k.eq_ignore_ascii_case("transfer-encoding") {
                    chunked = v.to_ascii_lowercase().contains("chunked");
                } else if k.eq_ignore_ascii_case("content-encoding")
                    && !v.eq_ignore_ascii_case("identity")
                {
                    return Err(err(format!("unasked Content-Encoding {v}")));
                }
            }
        }
        let too_big = || err(format!("body larger than {MAX_BODY_BYTES} bytes"));
        let mut body = Vec::new();
        if chunked {
            loop {
                header_bytes = 0;
                read_line(&mut r, &mut line, &mut header_bytes)?;
                let size = usize::from_str_radix(line.trim().split(';').next().unwrap_or(""), 16)
                    .map_err(|_| err(format!("bad chunk size {:?}", line.trim())))?;
                if size == 0 {
                    break;
                }
                if body.len() + size > MAX_BODY_BYTES {
                    return Err(too_big());
                }
                let start = body.len();
                body.resize(start + size, 0);
                r.read_exact(&mut body[start..])
                    .map_err(|e| err(e.to_string()))?;
                read_line(&mut r, &mut line, &mut header_bytes)?;
            }
        } else if let Some(n) = length {
            if n > MAX_BODY_BYTES {
                return Err(too_big());
            }
            body.resize(n, 0);
            r.read_exact(&mut body).map_err(|e| err(e.to_string()))?;
        } else {
            r.take(MAX_BODY_BYTES as u64 + 1)
                .read_to_end(&mut body)
                .map_err(|e| err(e.to_string()))?;
            if body.len() > MAX_BODY_BYTES {
                return Err(too_big());
            }
        }
        if !(200..300).contains(&status) {
            let text = String::from_utf8_lossy(&body);
            return Err(err(format!(
                "HTTP {status}: {}",
                text.chars().take(300).collect::<String>()
            )));
        }
        Ok(body)
    }

    /// GET a URL and parse its body as JSON.
    pub fn get_json(&self, url: &str) -> Result<serde_json::Value> {
        let body = self.get(url)?;
        serde_json::from_slice(&body).map_err(|e| ViewerError::Http {
            url: url.to_string(),
            message: format!("not JSON: {e}"),
        })
    }
}

/// Resolve a relative URI against the URL of the document that names it.
pub fn resolve(base_doc: &str, uri: &str) -> String {
    if uri.starts_with("http://") || uri.starts_with("https://") {
        return uri.to_string();
    }
    if uri.starts_with('/') {
        // Scheme and authority of the base.
        let after = base_doc.find("://").map_or(0, |i| i + 3);
        let end = base_doc[after..]
            .find('/')
            .map_or(base_doc.len(), |i| after + i);
        return format!("{}{uri}", &base_doc[..end]);
    }
    let dir = match base_doc.split(['?', '#']).next() {
        Some(b) => match b.rfind('/') {
            Some(i) => &b[..=i],
            None => b,
        },
        None => base_doc,
    };
    let mut parts: Vec<&str> = dir.trim_end_matches('/').split('/').collect();
    for seg in uri.split('/') {
        match seg {
            "." | "" => {}
            ".." => {
                if parts.len() > 3 {
                    parts.pop();
                }
            }
            s => parts.push(s),
        }
    }
    parts.join("/")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_split_into_address_and_path() {
        assert_eq!(
            split_url("http://127.0.0.1:8080/tiles/x.glb"),
            Some(("127.0.0.1:8080".into(), "/tiles/x.glb".into()))
        );
        assert_eq!(
            split_url("http://example.org"),
            Some(("example.org:80".into(), "/".into()))
        );
        assert_eq!(split_url("https://example.org/"), None);
        assert_eq!(split_url("http://user@host/"), None);
        assert!(Client::new("ftp://x", None).is_err());
    }

    /// A one-shot server answering `answer` to the first request; returns its URL.
    fn serve_once(answer: &'static [u8]) -> String {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}", l.local_addr().unwrap());
        std::thread::spawn(move || {
            let (mut s, _) = l.accept().unwrap();
            let mut buf = [0u8; 4096];
            let _ = s.read(&mut buf);
            s.write_all(answer).unwrap();
        });
        url
    }

    #[test]
    fn bodies_by_length_chunks_or_close_and_errors_with_their_status() {
        let c = |u: &str| Client::new(u, Some("t0k".into())).unwrap();
        let u = serve_once(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhelloXX");
        assert_eq!(c(&u).get(&format!("{u}/a")).unwrap(), b"hello");
        let u = serve_once(
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2;x=1\r\nde\r\n0\r\n\r\n",
        );
        assert_eq!(c(&u).get(&format!("{u}/a")).unwrap(), b"abcde");
        let u = serve_once(b"HTTP/1.0 200 OK\r\n\r\nuntil close");
        assert_eq!(c(&u).get(&format!("{u}/a")).unwrap(), b"until close");
        let u = serve_once(b"HTTP/1.1 401 Unauthorized\r\nContent-Length: 6\r\n\r\nno way");
        let e = c(&u).get(&format!("{u}/a")).unwrap_err().to_string();
        assert!(e.contains("HTTP 401") && e.contains("no way"), "{e}");
        let u = serve_once(b"garbage");
        assert!(c(&u).get(&format!("{u}/a")).is_err());
    }

    #[test]
    fn uris_resolve_against_their_tileset() {
        let t = "http://127.0.0.1:8080/tiles/buildings/tileset.json";
        assert_eq!(
            resolve(t, "0_1.glb"),
            "http://127.0.0.1:8080/tiles/buildings/0_1.glb"
        );
        assert_eq!(
            resolve(t, "../terrain/tileset.json"),
            "http://127.0.0.1:8080/tiles/terrain/tileset.json"
        );
        assert_eq!(resolve(t, "/x.glb"), "http://127.0.0.1:8080/x.glb");
        assert_eq!(
            resolve("http://h:1/tiles/b/tileset.json?run=a", "c/1.glb"),
            "http://h:1/tiles/b/c/1.glb"
        );
    }
}
