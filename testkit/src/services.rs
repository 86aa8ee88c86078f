//! Outside services the scale-out tests start on 127.0.0.1 (issue 19): Debian's PostgreSQL
//! with PostGIS (a throwaway cluster of `scripts/pg.sh`) and moto's S3 server (PyPI, through
//! `scripts/s3_venv.sh`), each stopped when dropped, and the child processes around them.

use crate::{repo, text};
use std::io::{Read, Write};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A child process killed (SIGKILL) and reaped when dropped.
pub struct Proc(pub Child);

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A free loopback port below 32768 (outgoing connections draw their ports from above), spread
/// by the process id so that test binaries running at once seldom try the same ones.
pub fn free_port() -> u16 {
    for p in (20000..32000u16)
        .step_by(7)
        .skip((std::process::id() % 1000) as usize)
        .chain(20000..32000)
    {
        if std::net::TcpListener::bind(("127.0.0.1", p)).is_ok() {
            return p;
        }
    }
    panic!("no free loopback port in 20000..32000");
}

/// The throwaway PostgreSQL 15 + PostGIS cluster of `scripts/pg.sh`, stopped when dropped.
pub struct Pg {
    /// Its data folder (`PGDIR`).
    pub dir: String,
    /// Its connection URL (`postgres://…@127.0.0.1:<port>/…`).
    pub url: String,
}

impl Pg {
    /// Start a cluster (installs the Debian packages when missing); panics with pg.sh's output
    /// when it cannot.
    pub fn start() -> Pg {
        let out = Command::new("bash")
            .current_dir(repo())
            .args([
                "-c",
                "source scripts/pg.sh && PG_KEEP=1 pg_start && echo \"$PGDIR $PG_URL\"",
            ])
            .output()
            .expect("bash");
        assert!(
            out.status.success(),
            "scripts/pg.sh pg_start: {}",
            text(&out)
        );
        let line = String::from_utf8_lossy(&out.stdout).trim().to_string();
        let (dir, url) = line
            .rsplit_once(' ')
            .unwrap_or_else(|| panic!("pg_start printed no \"PGDIR PG_URL\": {line}"));
        Pg {
            dir: dir.trim().to_string(),
            url: url.to_string(),
        }
    }
}

impl Drop for Pg {
    fn drop(&mut self) {
        let _ = Command::new("bash")
            .current_dir(repo())
            .env("PGDIR", &self.dir)
            .args(["-c", "source scripts/pg.sh && pg_stop"])
            .status();
    }
}

/// moto's S3 server (in memory, plain HTTP, path-style buckets) on a free loopback port, with
/// one bucket made; killed when dropped.
pub struct Moto {
    /// `127.0.0.1:<port>`.
    pub addr: String,
    _proc: Proc,
}

impl Moto {
    /// Install moto in its virtual environment when missing, start it and create `bucket`
    /// (retried until the server answers, at most 60 s).
    pub fn start(bucket: &str) -> Moto {
        let venv = Command::new(repo().join("scripts/s3_venv.sh"))
            .output()
            .expect("scripts/s3_venv.sh");
        assert!(venv.status.success(), "scripts/s3_venv.sh: {}", text(&venv));
        let bin = String::from_utf8_lossy(&venv.stdout).trim().to_string();
        let port = free_port();
        let proc = Proc(
            Command::new(&bin)
                .args(["-H", "127.0.0.1", "-p", &port.to_string()])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .unwrap_or_else(|e| panic!("{bin}: {e}")),
        );
        let addr = format!("127.0.0.1:{port}");
        let put_bucket = || -> Option<String> {
            let mut t = std::net::TcpStream::connect(&addr).ok()?;
            write!(
                t,
                "PUT /{bucket} HTTP/1.1\r\nHost: {addr}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
            )
            .ok()?;
            let mut s = String::new();
            t.read_to_string(&mut s).ok()?;
            Some(s)
        };
        let t = Instant::now();
        loop {
            if let Some(s) = put_bucket() {
                assert!(
                    s.starts_with("HTTP/1.1 200"),
                    "creating bucket {bucket}: {s}"
                );
                break;
            }
            assert!(
                t.elapsed() < Duration::from_secs(60),
                "moto_server did not start on {addr}"
            );
            std::thread::sleep(Duration::from_millis(200));
        }
        Moto { addr, _proc: proc }
    }
}
