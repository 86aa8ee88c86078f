//! `twin token create|list|revoke`: tokens made, listed without secrets, verified through
//! `twin_core::tokens`, revoked; they survive `twin build`; bad roles and missing stores are
//! clear errors.

mod common;
use common::{text, twin, valley_twin};
use twin_core::tokens::{Role, Tokens};

#[test]
fn create_list_revoke_and_keep_over_a_build() {
    let dir = tempfile::tempdir().unwrap();
    let t = dir.path().join("valley");
    std::fs::create_dir_all(&t).unwrap();
    valley_twin(&t);
    let ts = t.to_str().unwrap();

    let o = twin(&[
        "token",
        "create",
        ts,
        "--role",
        "planner",
        "--name",
        "flood desk",
    ]);
    assert!(o.status.success(), "{}", text(&o));
    let out = String::from_utf8_lossy(&o.stdout).to_string();
    let token = out
        .split_whitespace()
        .find(|w| w.starts_with("ht_"))
        .unwrap_or_else(|| panic!("no token in {out}"))
        .to_string();
    let o = twin(&["token", "create", ts, "--role", "admin", "--quiet"]);
    assert!(o.status.success(), "{}", text(&o));
    let admin = String::from_utf8_lossy(&o.stdout).trim().to_string();
    assert!(admin.starts_with("ht_") && !admin.contains(' '), "{admin}");

    let store = t.join("twin.gpkg");
    let who = Tokens::open(&store)
        .unwrap()
        .verify(&token)
        .unwrap()
        .unwrap();
    assert_eq!((who.role, who.name.as_str()), (Role::Planner, "flood desk"));

    // The list names both, never a secret.
    let o = twin(&["token", "list", ts, "--json"]);
    assert!(o.status.success(), "{}", text(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v.as_array().unwrap().len(), 2, "{v}");
    assert_eq!(v[0]["role"], "planner");
    assert!(v[0]["revoked"].is_null());
    let secret = token.rsplit('_').next().unwrap();
    let listed = text(&twin(&["token", "list", ts]));
    assert!(
        !listed.contains(secret) && listed.contains(&who.id),
        "{listed}"
    );

    // `twin build` makes a fresh store: the tokens are carried over.
    let o = twin(&["build", ts]);
    assert!(o.status.success(), "{}", text(&o));
    assert!(Tokens::open(&store)
        .unwrap()
        .verify(&admin)
        .unwrap()
        .is_some());

    let o = twin(&["token", "revoke", ts, &who.id]);
    assert!(o.status.success(), "{}", text(&o));
    assert!(Tokens::open(&store)
        .unwrap()
        .verify(&token)
        .unwrap()
        .is_none());
    let v: serde_json::Value =
        serde_json::from_slice(&twin(&["token", "list", ts, "--json"]).stdout).unwrap();
    assert!(v[0]["revoked"].is_string(), "{v}");

    // Clear errors.
    let o = twin(&["token", "create", ts, "--role", "root"]);
    assert!(!o.status.success());
    assert!(
        text(&o).contains("viewer, planner, editor, admin"),
        "{}",
        text(&o)
    );
    let o = twin(&["token", "revoke", ts, "ffffffffffff"]);
    assert!(
        !o.status.success() && text(&o).contains("no token"),
        "{}",
        text(&o)
    );
}
