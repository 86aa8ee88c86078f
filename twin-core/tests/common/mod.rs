//! Helpers shared by the integration tests.
#![allow(dead_code)]

use std::path::PathBuf;
use twin_core::import::ImportOptions;
use twin_core::Crs;
use twin_core::NoProgress;

/// `../shared/data/<rel>` from the project root.
pub fn shared(rel: &str) -> PathBuf {
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../shared/data")
        .join(rel);
    assert!(p.exists(), "test data missing: {}", p.display());
    p
}

/// Import options for a project CRS given as `EPSG:n`.
pub fn opts(crs: &str) -> ImportOptions {
    ImportOptions::new(Crs::parse(crs).unwrap())
}

/// A progress sink.
pub static NO: NoProgress = NoProgress;

/// A fresh database with PostGIS on the test cluster named by `HUETWIN_TEST_PG` (a
/// `postgres://` URL of a superuser; `scripts/test.sh` starts one), dropped when this is.
pub struct TestDb {
    /// The new database.
    pub config: twin_core::store::pg::PgConfig,
    admin: twin_core::store::pg::PgConfig,
    name: String,
}

impl TestDb {
    /// A new database, or none when `HUETWIN_TEST_PG` is not set (the PostGIS half of the
    /// store tests is then skipped, and says so).
    pub fn new() -> Option<TestDb> {
        use std::sync::atomic::{AtomicUsize, Ordering};
        static N: AtomicUsize = AtomicUsize::new(0);
        let Ok(url) = std::env::var("HUETWIN_TEST_PG") else {
            eprintln!("HUETWIN_TEST_PG is not set: the PostGIS store is not tested here");
            return None;
        };
        let admin = twin_core::store::pg::PgConfig::parse(&url).expect("HUETWIN_TEST_PG");
        let name = format!(
            "huetwin_t{}_{}",
            std::process::id(),
            N.fetch_add(1, Ordering::SeqCst)
        );
        let config = admin
            .create_database(&name, true)
            .expect("the test cluster");
        Some(TestDb {
            config,
            admin,
            name,
        })
    }

    /// The admin connection (to the cluster's `postgres` database).
    pub fn admin(&self) -> &twin_core::store::pg::PgConfig {
        &self.admin
    }

    /// The database's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The port of the cluster.
    pub fn port(&self) -> u16 {
        let url = self.config.url();
        let rest = &url[url.find('@').map_or(0, |i| i + 1)..];
        let hostport = rest.split('/').next().unwrap();
        hostport
            .rsplit_once(':')
            .map_or(5432, |(_, p)| p.parse().unwrap())
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        if let Ok(mut c) = self.admin.connect() {
            let _ = c.batch_execute(&format!(
                "DROP DATABASE IF EXISTS {} WITH (FORCE)",
                self.name
            ));
        }
    }
}

/// A store backend the store tests run on.
pub enum Backend {
    /// `twin.gpkg` in the twin folder.
    GeoPackage,
    /// A PostGIS database of its own.
    Postgres(TestDb),
}

impl Backend {
    /// GeoPackage always; PostGIS too when `HUETWIN_TEST_PG` is set.
    pub fn all() -> Vec<Backend> {
        let mut v = vec![Backend::GeoPackage];
        v.extend(TestDb::new().map(Backend::Postgres));
        v
    }

    /// A new twin folder using this backend.
    pub fn create(&self, dir: &std::path::Path, name: &str, crs: Crs) -> twin_core::TwinDir {
        match self {
            Backend::GeoPackage => twin_core::TwinDir::create(dir, name, crs).unwrap(),
            Backend::Postgres(db) => {
                twin_core::TwinDir::create_with_store(dir, name, crs, db.config.url()).unwrap()
            }
        }
    }

    /// A name for assertion messages.
    pub fn name(&self) -> &'static str {
        match self {
            Backend::GeoPackage => "GeoPackage",
            Backend::Postgres(_) => "PostGIS",
        }
    }
}
