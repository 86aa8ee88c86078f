//! Two server replicas on one PostgreSQL/PostGIS store (docs/adr/0028): the twin loads from
//! the database, and a token made once is valid on both, a revocation seen by both, with no
//! state of their own. Runs when `HUETWIN_TEST_PG` names a cluster (`scripts/test.sh`).

mod common;

use twin_core::store::pg::PgConfig;
use twin_core::store::StoreLocation;
use twin_core::tokens::{Role, Tokens};

/// A plain test: the store's client is synchronous (it may not block inside a runtime); the
/// HTTP requests run on a runtime of their own below.
#[test]
fn two_replicas_share_the_store_and_its_tokens() {
    let Ok(url) = std::env::var("HUETWIN_TEST_PG") else {
        eprintln!("HUETWIN_TEST_PG is not set: the PostgreSQL replicas are not tested here");
        return;
    };
    let admin = PgConfig::parse(&url).unwrap();
    let name = format!("huetwin_replicas_{}", std::process::id());
    let db = admin.create_database(&name, true).unwrap();
    let root = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("replicas-pg");
    let _ = std::fs::remove_dir_all(&root);
    let dir = root.join("hue");
    common::copy_sample_twin(&dir);
    // The sample twin's sources built into PostGIS; twin.toml then names the database.
    let mut td = twin_core::TwinDir::open(&dir).unwrap();
    td.set_store(StoreLocation::Postgres(db.clone()));
    td.build(&twin_core::NoProgress).unwrap();
    td.config.save(&dir).unwrap();
    let from_sources = twin_core::TwinDir::open(&dir)
        .unwrap()
        .copy_without_store(&root.join("plain"))
        .unwrap()
        .load()
        .unwrap();

    let replica = || {
        common::serve_dir(&dir, |c| {
            c.private = true;
            c.tokens = None;
            c.token_db = Some(db.clone());
        })
    };
    let ((a, twin_a), (b, _)) = (replica(), replica());
    assert_eq!(twin_a.buildings.len(), from_sources.buildings.len());
    assert_eq!(twin_a.roads.len(), from_sources.roads.len());

    let tokens = Tokens::open_store(&StoreLocation::Postgres(db.clone())).unwrap();
    let viewer = tokens.create(Role::Viewer, "replica test").unwrap();
    let rt = tokio::runtime::Runtime::new().unwrap();
    let status = |c: &reqwest::Client, url: &str| {
        rt.block_on(async { c.get(url).send().await.unwrap().status().as_u16() })
    };
    let anon = common::http();
    let c = common::client_with(&viewer.token);
    for addr in [a, b] {
        let url = format!("http://{addr}/api/layers");
        assert_eq!(status(&anon, &url), 401, "{addr}");
        assert_eq!(status(&c, &url), 200, "{addr}");
    }
    tokens.revoke(&viewer.info.id).unwrap();
    for addr in [a, b] {
        let url = format!("http://{addr}/api/layers");
        assert_eq!(status(&c, &url), 401, "{addr}");
    }
    drop(tokens);
    let _ = admin.drop_database(&name);
}
