//! API tokens and their roles, kept in the twin's store file (`twin.gpkg`, table
//! `huetwin_tokens`; not a GeoPackage layer, so GDAL and QGIS leave it alone), or in the
//! twin's PostgreSQL database when the store is there ([`Tokens::open_store`]): then every
//! server replica reads the same tokens and keeps none of its own.
//!
//! A token is `ht_<id>_<secret>`: `id` is 12 hex digits, not secret, that finds the token's
//! row; `secret` is 32 random bytes in hex. Only an Argon2id hash of the whole token (with a
//! salt of its own, in PHC string form) is stored, so a copy of the store gives no usable
//! token. The token itself is shown once, by [`Tokens::create`]. Revoking keeps the row (who
//! had access, and when it ended) and refuses the token from then on.
//!
//! ```no_run
//! use twin_core::tokens::{Role, Tokens};
//! let tokens = Tokens::open("data/hue/twin.gpkg".as_ref())?;
//! let new = tokens.create(Role::Planner, "flood desk")?;
//! println!("{}", new.token); // printed once; only its hash is kept
//! let who = tokens.verify(&new.token)?.expect("a valid token");
//! assert!(who.role >= Role::Viewer);
//! tokens.revoke(&new.info.id)?;
//! assert!(tokens.verify(&new.token)?.is_none());
//! # Ok::<(), twin_core::TwinError>(())
//! ```

use crate::error::{Result, TwinError};
use argon2::password_hash::{PasswordHasher, PasswordVerifier};
use argon2::Argon2;
use rusqlite::{params, Connection};
use std::path::{Path, PathBuf};
use std::time::SystemTime;

/// The table holding the tokens.
pub const TABLE: &str = "huetwin_tokens";
/// What every token starts with.
pub const PREFIX: &str = "ht_";
/// Hex digits of a token's id.
const ID_HEX: usize = 12;
/// Random bytes of a token's secret.
const SECRET_BYTES: usize = 32;
/// Longest token name accepted.
const MAX_NAME: usize = 200;

/// What a token may do; each role may do what the roles below it may.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Role {
    /// Read: the viewer, tiles and the GET API (needed only when the server is private).
    Viewer,
    /// Run scenarios: start, cancel and rerun runs.
    Planner,
    /// Change the twin's data: imports, sensor readings, reports and their moderation.
    Editor,
    /// Manage tokens.
    Admin,
}

impl Role {
    /// Every role, lowest first.
    pub const ALL: [Role; 4] = [Role::Viewer, Role::Planner, Role::Editor, Role::Admin];

    /// The role's name (`viewer`, `planner`, `editor`, `admin`).
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Viewer => "viewer",
            Role::Planner => "planner",
            Role::Editor => "editor",
            Role::Admin => "admin",
        }
    }
}

impl std::fmt::Display for Role {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for Role {
    type Err = TwinError;

    fn from_str(s: &str) -> Result<Role> {
        Role::ALL
            .into_iter()
            .find(|r| r.as_str().eq_ignore_ascii_case(s.trim()))
            .ok_or_else(|| {
                TwinError::invalid(
                    "role",
                    format!("{s:?} is not one of viewer, planner, editor, admin"),
                )
            })
    }
}

/// A token as listed: everything but its secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenInfo {
    /// The token's id (12 hex digits, the part after `ht_`).
    pub id: String,
    /// A name for people (who or what holds it).
    pub name: String,
    /// What it may do.
    pub role: Role,
    /// When it was made, seconds since the Unix epoch.
    pub created: u64,
    /// When it was revoked, seconds since the Unix epoch; none while it is valid.
    pub revoked: Option<u64>,
}

/// A token's stored row: its info and the Argon2id hash of the token (PHC string).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenRecord {
    /// Everything but the secret.
    pub info: TokenInfo,
    /// `$argon2id$v=19$...`: the hash of the whole token, with its salt.
    pub hash: String,
}

impl TokenRecord {
    /// Whether `token` is this record's token and the record is not revoked (Argon2id: tens
    /// of milliseconds, on purpose).
    pub fn accepts(&self, token: &str) -> bool {
        self.info.revoked.is_none()
            && parse(token).is_some_and(|(id, _)| id == self.info.id)
            && Argon2::default()
                .verify_password(token.as_bytes(), self.hash.as_str())
                .is_ok()
    }
}

/// A token just made: the token itself (shown once, never stored) and its info.
#[derive(Debug, Clone)]
pub struct NewToken {
    /// `ht_<id>_<secret>`: what a client sends as `Authorization: Bearer <token>`.
    pub token: String,
    /// Its stored info.
    pub info: TokenInfo,
}

/// Split a token into its id and secret; none when it does not have the token's form.
pub fn parse(token: &str) -> Option<(&str, &str)> {
    let rest = token.strip_prefix(PREFIX)?;
    let (id, secret) = rest.split_once('_')?;
    let hex = |s: &str, n: usize| s.len() == n && s.bytes().all(|b| b.is_ascii_hexdigit());
    (hex(id, ID_HEX) && hex(secret, SECRET_BYTES * 2)).then_some((id, secret))
}

/// Where the tokens are.
enum Backend {
    Sqlite(Connection),
    Pg(
        Box<std::sync::Mutex<postgres::Client>>,
        crate::store::pg::PgConfig,
    ),
}

/// The tokens of one store (file or database).
pub struct Tokens {
    backend: Backend,
    path: PathBuf,
}

impl std::fmt::Debug for Tokens {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tokens").field("path", &self.path).finish()
    }
}

fn sql_err(path: &Path) -> impl Fn(rusqlite::Error) -> TwinError + '_ {
    move |e| TwinError::Store {
        path: path.to_path_buf(),
        message: format!("tokens: {e}"),
    }
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

fn random_hex(bytes: usize) -> Result<String> {
    let mut buf = vec![0u8; bytes];
    getrandom::fill(&mut buf)
        .map_err(|e| TwinError::invalid("token", format!("no random numbers: {e}")))?;
    Ok(buf.iter().map(|b| format!("{b:02x}")).collect())
}

fn row_to_record(r: &rusqlite::Row<'_>) -> rusqlite::Result<(TokenRecord, String)> {
    let role: String = r.get(2)?;
    let created: i64 = r.get(4)?;
    let revoked: Option<i64> = r.get(5)?;
    Ok((
        TokenRecord {
            info: TokenInfo {
                id: r.get(0)?,
                name: r.get(1)?,
                // Replaced below once the role is parsed (rusqlite errors cannot carry ours).
                role: Role::Viewer,
                created: u64::try_from(created).unwrap_or(0),
                revoked: revoked.map(|t| u64::try_from(t).unwrap_or(0)),
            },
            hash: r.get(3)?,
        },
        role,
    ))
}

const COLUMNS: &str = "id, name, role, hash, created, revoked";

impl Tokens {
    /// Open the tokens of a store file (`<twin>/twin.gpkg`), adding the table when it is
    /// missing. The store must exist: a twin is imported or built before it has tokens.
    pub fn open(store: &Path) -> Result<Tokens> {
        if !store.is_file() {
            return Err(TwinError::Store {
                path: store.to_path_buf(),
                message: "no store file: import or build the twin before making tokens".into(),
            });
        }
        let conn = Connection::open(store).map_err(sql_err(store))?;
        conn.execute_batch(&format!(
            "PRAGMA synchronous=FULL; PRAGMA busy_timeout=5000;
             CREATE TABLE IF NOT EXISTS {TABLE} (
                 id TEXT PRIMARY KEY NOT NULL,
                 name TEXT NOT NULL,
                 role TEXT NOT NULL,
                 hash TEXT NOT NULL,
                 created INTEGER NOT NULL,
                 revoked INTEGER)"
        ))
        .map_err(sql_err(store))?;
        Ok(Tokens {
            backend: Backend::Sqlite(conn),
            path: store.to_path_buf(),
        })
    }

    /// Open the tokens of a twin's store: [`Tokens::open`] for a GeoPackage, the
    /// `huetwin_tokens` table of the database (made when missing) for PostgreSQL.
    pub fn open_store(store: &crate::store::StoreLocation) -> Result<Tokens> {
        use crate::store::{pg, StoreLocation};
        let config = match store {
            StoreLocation::GeoPackage(p) => return Tokens::open(p),
            StoreLocation::Postgres(c) => c,
        };
        let mut client = config.connect()?;
        client
            .batch_execute(&format!(
                "CREATE TABLE IF NOT EXISTS {TABLE} (
                     id text PRIMARY KEY,
                     name text NOT NULL,
                     role text NOT NULL,
                     hash text NOT NULL,
                     created bigint NOT NULL,
                     revoked bigint,
                     seq bigserial)"
            ))
            .map_err(|e| config.err(format!("tokens: {}", pg::pg_message(&e))))?;
        Ok(Tokens {
            backend: Backend::Pg(Box::new(std::sync::Mutex::new(client)), config.clone()),
            path: PathBuf::from(config.to_string()),
        })
    }

    fn pg_err(&self) -> impl Fn(postgres::Error) -> TwinError + '_ {
        move |e| TwinError::Store {
            path: self.path.clone(),
            message: format!("tokens: {}", crate::store::pg::pg_message(&e)),
        }
    }

    fn pg(&self) -> Result<Option<std::sync::MutexGuard<'_, postgres::Client>>> {
        match &self.backend {
            Backend::Sqlite(_) => Ok(None),
            Backend::Pg(c, cfg) => c
                .lock()
                .map(Some)
                .map_err(|_| cfg.err("tokens: connection lock poisoned")),
        }
    }

    fn sqlite(&self) -> Result<&Connection> {
        match &self.backend {
            Backend::Sqlite(c) => Ok(c),
            Backend::Pg(_, cfg) => Err(cfg.err("tokens: not a SQLite store")),
        }
    }

    /// The store file (for PostgreSQL: its URL without the password).
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Make a token with a role and a name; the returned token is the only copy of it.
    pub fn create(&self, role: Role, name: &str) -> Result<NewToken> {
        let name = name.trim();
        if name.chars().count() > MAX_NAME || name.chars().any(char::is_control) {
            return Err(TwinError::invalid(
                "token name",
                format!("at most {MAX_NAME} characters, no control characters"),
            ));
        }
        let id = random_hex(ID_HEX / 2)?;
        let token = format!("{PREFIX}{id}_{}", random_hex(SECRET_BYTES)?);
        let hash = Argon2::default()
            .hash_password(token.as_bytes())
            .map_err(|e| TwinError::invalid("token", format!("hashing: {e}")))?
            .to_string();
        let info = TokenInfo {
            id,
            name: name.to_string(),
            role,
            created: now(),
            revoked: None,
        };
        let created = i64::try_from(info.created).unwrap_or(i64::MAX);
        if let Some(mut c) = self.pg()? {
            c.execute(
                &format!("INSERT INTO {TABLE} ({COLUMNS}) VALUES ($1, $2, $3, $4, $5, NULL)"),
                &[&info.id, &info.name, &role.as_str(), &hash, &created],
            )
            .map_err(self.pg_err())?;
        } else {
            self.sqlite()?
                .execute(
                    &format!("INSERT INTO {TABLE} ({COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, NULL)"),
                    params![info.id, info.name, role.as_str(), hash, created],
                )
                .map_err(sql_err(&self.path))?;
        }
        Ok(NewToken { token, info })
    }

    /// Every row, or the one with `id`, oldest first.
    fn records(&self, id: Option<&str>) -> Result<Vec<TokenRecord>> {
        let mut raw: Vec<(TokenRecord, String)> = Vec::new();
        if let Some(mut c) = self.pg()? {
            let sql = format!("SELECT {COLUMNS} FROM {TABLE} WHERE $1::text IS NULL OR id = $1 ORDER BY created, seq");
            for r in c.query(&sql, &[&id]).map_err(self.pg_err())? {
                let (created, revoked): (i64, Option<i64>) = (r.get(4), r.get(5));
                raw.push((
                    TokenRecord {
                        info: TokenInfo {
                            id: r.get(0),
                            name: r.get(1),
                            role: Role::Viewer,
                            created: u64::try_from(created).unwrap_or(0),
                            revoked: revoked.map(|t| u64::try_from(t).unwrap_or(0)),
                        },
                        hash: r.get(3),
                    },
                    r.get(2),
                ));
            }
        } else {
            let sql = format!(
                "SELECT {COLUMNS} FROM {TABLE} WHERE ?1 IS NULL OR id = ?1 ORDER BY created, rowid"
            );
            let conn = self.sqlite()?;
            let mut stmt = conn.prepare(&sql).map_err(sql_err(&self.path))?;
            let rows = stmt
                .query_map(params![id], row_to_record)
                .map_err(sql_err(&self.path))?;
            for row in rows {
                raw.push(row.map_err(sql_err(&self.path))?);
            }
        }
        let mut out = Vec::new();
        for (mut rec, role) in raw {
            rec.info.role = role.parse().map_err(|_| TwinError::Store {
                path: self.path.clone(),
                message: format!("token {}: unknown role {role:?}", rec.info.id),
            })?;
            out.push(rec);
        }
        Ok(out)
    }

    /// Every token, revoked ones too, oldest first.
    pub fn list(&self) -> Result<Vec<TokenInfo>> {
        Ok(self.records(None)?.into_iter().map(|r| r.info).collect())
    }

    /// The stored row of a token id, if there is one.
    pub fn record(&self, id: &str) -> Result<Option<TokenRecord>> {
        Ok(self.records(Some(id))?.into_iter().next())
    }

    /// Revoke a token by id: refused from now on. Errors when there is no such token; a
    /// token revoked already keeps its first revocation time.
    pub fn revoke(&self, id: &str) -> Result<TokenInfo> {
        let id = id.trim();
        let id = id
            .strip_prefix(PREFIX)
            .map_or(id, |r| r.split('_').next().unwrap_or(r));
        let at = i64::try_from(now()).unwrap_or(i64::MAX);
        if let Some(mut c) = self.pg()? {
            c.execute(
                &format!("UPDATE {TABLE} SET revoked = $2 WHERE id = $1 AND revoked IS NULL"),
                &[&id, &at],
            )
            .map_err(self.pg_err())?;
        } else {
            self.sqlite()?
                .execute(
                    &format!("UPDATE {TABLE} SET revoked = ?2 WHERE id = ?1 AND revoked IS NULL"),
                    params![id, at],
                )
                .map_err(sql_err(&self.path))?;
        }
        self.record(id)?
            .map(|r| r.info)
            .ok_or_else(|| TwinError::invalid("token id", format!("no token {id:?}")))
    }

    /// The info of a valid token: none when it is malformed, unknown, revoked or its secret is
    /// wrong. Argon2id makes this take tens of milliseconds.
    pub fn verify(&self, token: &str) -> Result<Option<TokenInfo>> {
        let Some((id, _)) = parse(token) else {
            return Ok(None);
        };
        Ok(self
            .record(id)?
            .filter(|r| r.accepts(token))
            .map(|r| r.info))
    }

    /// Every stored row, to carry the tokens over to a rebuilt store ([`Tokens::restore`]).
    pub fn records_all(&self) -> Result<Vec<TokenRecord>> {
        self.records(None)
    }

    /// Put rows read by [`Tokens::records_all`] back (e.g. into a store that `twin build` made
    /// afresh); rows whose id is here already are left as they are.
    pub fn restore(&self, records: &[TokenRecord]) -> Result<()> {
        let mut pg = self.pg()?;
        for r in records {
            let created = i64::try_from(r.info.created).unwrap_or(i64::MAX);
            let revoked = r.info.revoked.map(|t| i64::try_from(t).unwrap_or(i64::MAX));
            if let Some(c) = pg.as_mut() {
                c.execute(
                    &format!(
                        "INSERT INTO {TABLE} ({COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (id) DO NOTHING"
                    ),
                    &[&r.info.id, &r.info.name, &r.info.role.as_str(), &r.hash, &created, &revoked],
                )
                .map_err(self.pg_err())?;
            } else {
                self.sqlite()?
                    .execute(
                        &format!(
                            "INSERT OR IGNORE INTO {TABLE} ({COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6)"
                        ),
                        params![r.info.id, r.info.name, r.info.role.as_str(), r.hash, created, revoked],
                    )
                    .map_err(sql_err(&self.path))?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn store() -> (tempfile::TempDir, PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("twin.gpkg");
        Connection::open(&path)
            .unwrap()
            .execute_batch("CREATE TABLE other (x)")
            .unwrap();
        (dir, path)
    }

    #[test]
    fn create_verify_list_revoke() {
        let (_d, path) = store();
        let t = Tokens::open(&path).unwrap();
        let a = t.create(Role::Planner, "flood desk").unwrap();
        let b = t.create(Role::Admin, "ops").unwrap();
        assert!(parse(&a.token).is_some(), "{}", a.token);
        assert_ne!(a.token, b.token);
        assert_eq!(t.verify(&a.token).unwrap().unwrap().role, Role::Planner);
        assert_eq!(t.verify(&b.token).unwrap().unwrap().role, Role::Admin);
        // A wrong secret with a right id, a malformed token, an unknown id.
        let (id, secret) = parse(&a.token).unwrap();
        let flipped: String = secret
            .chars()
            .map(|c| if c == '0' { '1' } else { '0' })
            .collect();
        for bad in [
            format!("ht_{id}_{flipped}"),
            "Bearer x".to_string(),
            String::new(),
            format!("ht_000000000000_{secret}"),
            a.token[..a.token.len() - 1].to_string(),
        ] {
            assert!(t.verify(&bad).unwrap().is_none(), "{bad}");
        }
        // Nothing secret is stored: the hash is Argon2id with its own salt.
        let rec = t.record(id).unwrap().unwrap();
        assert!(rec.hash.starts_with("$argon2id$"), "{}", rec.hash);
        assert!(!rec.hash.contains(secret));
        assert_ne!(rec.hash, t.record(&b.info.id).unwrap().unwrap().hash);
        let list = t.list().unwrap();
        assert_eq!(list.len(), 2);
        assert_eq!(list[0].name, "flood desk");

        // Revoked: refused, still listed, from a fresh connection too.
        let r = t.revoke(id).unwrap();
        assert!(r.revoked.is_some());
        let t2 = Tokens::open(&path).unwrap();
        assert!(t2.verify(&a.token).unwrap().is_none());
        assert!(t2.verify(&b.token).unwrap().is_some());
        assert!(t2.list().unwrap()[0].revoked.is_some());
        assert!(t2.revoke("ffffffffffff").is_err());
    }

    #[test]
    fn roles_order_and_parse() {
        assert!(Role::Viewer < Role::Planner && Role::Planner < Role::Editor);
        assert!(Role::Editor < Role::Admin);
        for r in Role::ALL {
            assert_eq!(r.as_str().parse::<Role>().unwrap(), r);
        }
        assert!("root".parse::<Role>().is_err());
    }

    #[test]
    fn records_carry_over_to_a_new_store() {
        let (_d, path) = store();
        let t = Tokens::open(&path).unwrap();
        let a = t.create(Role::Editor, "x").unwrap();
        let rows = t.records_all().unwrap();
        let (_d2, path2) = store();
        let t2 = Tokens::open(&path2).unwrap();
        t2.restore(&rows).unwrap();
        t2.restore(&rows).unwrap();
        assert_eq!(t2.verify(&a.token).unwrap().unwrap().role, Role::Editor);
        assert_eq!(t2.list().unwrap().len(), 1);
    }

    #[test]
    fn no_store_no_tokens() {
        let dir = tempfile::tempdir().unwrap();
        assert!(Tokens::open(&dir.path().join("twin.gpkg")).is_err());
    }
}
