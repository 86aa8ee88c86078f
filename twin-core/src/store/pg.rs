//! The PostgreSQL/PostGIS store: the same layers and typed columns as the GeoPackage, with
//! PostGIS geometry columns in the twin's CRS (SRID from its EPSG code) and GiST indexes, one
//! transaction per import (binary `COPY` for the rows), and the server's tokens in the same
//! database so that server replicas keep no state of their own (docs/adr/0028).
//!
//! [`PgConfig`] (a `postgres://` URL, shown without its password) and [`PgConfig::connect`]
//! are the one way the workspace connects to PostgreSQL; the run queue reuses them.

use super::{StoreMeta, TwinStore, POINT_BYTES, POINT_CHUNK};
use crate::crs::Crs;
use crate::error::{Result, TwinError};
use crate::layer::LayerKind;
use crate::model::{
    Attributes, Building, Dem, HeightSource, HeritageSite, Imported, LandUse, Oneway, PointCloud,
    Road, Sensor, Solid, Water,
};
use crate::twin::Twin;
use crate::Layer;
use geo_traits::to_geo::ToGeoGeometry;
use geo_types::{Geometry, MultiPolygon};
use postgres::binary_copy::BinaryCopyInWriter;
use postgres::types::{to_sql_checked, IsNull, ToSql, Type};
use postgres::{Client, NoTls, Transaction};
use std::path::PathBuf;
use std::str::FromStr;
use std::sync::Mutex;
use std::time::Duration;

/// How long a connection attempt may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// SRID given to a project CRS without an EPSG code (its WKT goes into `spatial_ref_sys`).
const CUSTOM_SRID: i32 = 910_000;

/// A PostgreSQL connection, from a `postgres://` (or `postgresql://`) URL. Its [`Display`]
/// (and every error) shows the URL with the password replaced by `***`. A URL without a
/// password takes `PGPASSWORD` from the environment when it is set.
///
/// ```
/// use twin_core::store::pg::PgConfig;
/// let c = PgConfig::parse("postgres://huetwin:s3cret@127.0.0.1:5433/hue")?;
/// assert_eq!(c.to_string(), "postgres://huetwin:***@127.0.0.1:5433/hue");
/// assert_eq!(c.dbname(), Some("hue"));
/// # Ok::<(), twin_core::TwinError>(())
/// ```
#[derive(Clone)]
pub struct PgConfig {
    url: String,
    config: std::sync::Arc<postgres::Config>,
}

impl PartialEq for PgConfig {
    fn eq(&self, other: &PgConfig) -> bool {
        self.url == other.url
    }
}

impl Eq for PgConfig {}

impl std::fmt::Debug for PgConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "PgConfig({self})")
    }
}

impl std::fmt::Display for PgConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&redact(&self.url))
    }
}

/// `url` with the password (in the user part or a `password=` parameter) replaced by `***`.
pub fn redact(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_string();
    };
    let (auth_end, tail) = match rest.find(['/', '?']) {
        Some(i) => (i, &rest[i..]),
        None => (rest.len(), ""),
    };
    let authority = &rest[..auth_end];
    let authority = match authority.rsplit_once('@') {
        Some((user, host)) => match user.split_once(':') {
            Some((name, _)) => format!("{name}:***@{host}"),
            None => authority.to_string(),
        },
        None => authority.to_string(),
    };
    let tail = match tail.split_once('?') {
        Some((path, query)) => {
            let q: Vec<String> = query
                .split('&')
                .map(|kv| match kv.split_once('=') {
                    Some((k, _)) if k.eq_ignore_ascii_case("password") => format!("{k}=***"),
                    _ => kv.to_string(),
                })
                .collect();
            format!("{path}?{}", q.join("&"))
        }
        None => tail.to_string(),
    };
    format!("{scheme}://{authority}{tail}")
}

/// Whether a `--store` value names PostgreSQL rather than a GeoPackage file.
pub fn is_url(s: &str) -> bool {
    s.starts_with("postgres://") || s.starts_with("postgresql://")
}

impl PgConfig {
    /// Parse a `postgres://user:password@host:port/dbname?options` URL.
    pub fn parse(url: &str) -> Result<PgConfig> {
        let url = url.trim();
        let bad = |m: String| TwinError::invalid(format!("store URL {}", redact(url)), m);
        if !is_url(url) {
            return Err(bad(
                "a PostgreSQL store is named by a postgres:// URL".into()
            ));
        }
        let mut config = postgres::Config::from_str(url).map_err(|e| bad(e.to_string()))?;
        if config.get_hosts().is_empty() {
            return Err(bad("no host".into()));
        }
        if config.get_user().is_none() {
            return Err(bad("no user (postgres://USER@host/db)".into()));
        }
        if config.get_password().is_none() {
            if let Ok(p) = std::env::var("PGPASSWORD") {
                config.password(p);
            }
        }
        config.connect_timeout(CONNECT_TIMEOUT);
        config.application_name("huetwin");
        Ok(PgConfig {
            url: url.to_string(),
            config: std::sync::Arc::new(config),
        })
    }

    /// The URL as given, password included: for passing on, never for showing.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The URL without its password (what `twin.toml` keeps; the password then comes from
    /// `PGPASSWORD`).
    pub fn url_without_password(&self) -> String {
        let r = redact(&self.url);
        r.replace(":***@", "@")
            .split(['?', '&'])
            .filter(|kv| !kv.starts_with("password="))
            .enumerate()
            .map(|(i, s)| match i {
                0 => s.to_string(),
                1 => format!("?{s}"),
                _ => format!("&{s}"),
            })
            .collect()
    }

    /// The database name, when the URL names one.
    pub fn dbname(&self) -> Option<&str> {
        self.config.get_dbname()
    }

    /// This config pointing at another database on the same server (e.g. one a test made).
    pub fn with_dbname(&self, db: &str) -> Result<PgConfig> {
        let (base, query) = match self.url.split_once('?') {
            Some((b, q)) => (b, Some(q)),
            None => (self.url.as_str(), None),
        };
        let rest = &base[base.find("://").map_or(0, |i| i + 3)..];
        let base = match rest.find('/') {
            Some(i) => &base[..base.len() - rest.len() + i],
            None => base,
        };
        let mut url = format!("{base}/{db}");
        if let Some(q) = query {
            url = format!("{url}?{q}");
        }
        PgConfig::parse(&url)
    }

    /// Make a database on this server (this config must be allowed to: a superuser for
    /// PostGIS), with PostGIS when `postgis`; returns the config for it. `name` is
    /// lower-case letters, digits and `_`.
    pub fn create_database(&self, name: &str, postgis: bool) -> Result<PgConfig> {
        check_db_name(name)?;
        let mut c = self.connect()?;
        c.batch_execute(&format!("CREATE DATABASE {name}"))
            .map_err(|e| self.err(format!("CREATE DATABASE {name}: {}", pg_message(&e))))?;
        let cfg = self.with_dbname(name)?;
        if postgis {
            cfg.connect()?
                .batch_execute("CREATE EXTENSION postgis")
                .map_err(|e| cfg.err(format!("CREATE EXTENSION postgis: {}", pg_message(&e))))?;
        }
        Ok(cfg)
    }

    /// Drop a database on this server, closing its connections (`WITH (FORCE)`).
    pub fn drop_database(&self, name: &str) -> Result<()> {
        check_db_name(name)?;
        self.connect()?
            .batch_execute(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
            .map_err(|e| self.err(format!("DROP DATABASE {name}: {}", pg_message(&e))))
    }

    /// The error for this server: names the URL without its password.
    pub fn err(&self, message: impl std::fmt::Display) -> TwinError {
        TwinError::Store {
            path: PathBuf::from(self.to_string()),
            message: message.to_string(),
        }
    }

    /// Connect (plain TCP; TLS belongs to a proxy or a later change), within 10 s.
    pub fn connect(&self) -> Result<Client> {
        self.config
            .connect(NoTls)
            .map_err(|e| self.err(format!("cannot connect: {}", pg_message(&e))))
    }
}

fn check_db_name(name: &str) -> Result<()> {
    let ok = !name.is_empty()
        && name.len() <= 63
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
    if ok {
        Ok(())
    } else {
        Err(TwinError::invalid(
            "database name",
            format!("{name:?}: lower-case letters, digits and _ only, at most 63"),
        ))
    }
}

/// A `postgres` error as one line: the server's message (with its detail) or the client's.
pub fn pg_message(e: &postgres::Error) -> String {
    if let Some(db) = e.as_db_error() {
        let mut m = format!("{}: {}", db.severity(), db.message());
        if let Some(d) = db.detail() {
            m.push_str(&format!(" ({d})"));
        }
        return m;
    }
    let mut m = e.to_string();
    let mut src = std::error::Error::source(e);
    while let Some(s) = src {
        m.push_str(&format!(": {s}"));
        src = s.source();
    }
    m
}

/// A geometry as PostGIS takes it in parameters and binary COPY: EWKB with the SRID.
#[derive(Debug)]
struct Ewkb(Vec<u8>);

impl Ewkb {
    fn new(g: &Geometry<f64>, srid: i32) -> Result<Ewkb> {
        let mut wkb = Vec::with_capacity(64);
        let opts = wkb::writer::WriteOptions {
            endianness: wkb::Endianness::LittleEndian,
        };
        wkb::writer::write_geometry(&mut wkb, g, &opts)
            .map_err(|e| TwinError::invalid("geometry", e))?;
        // [order][type u32][...] -> [order][type | SRID flag][srid i32][...]
        let ty = u32::from_le_bytes([wkb[1], wkb[2], wkb[3], wkb[4]]) | 0x2000_0000;
        let mut out = Vec::with_capacity(wkb.len() + 4);
        out.push(wkb[0]);
        out.extend_from_slice(&ty.to_le_bytes());
        out.extend_from_slice(&srid.to_le_bytes());
        out.extend_from_slice(&wkb[5..]);
        Ok(Ewkb(out))
    }
}

impl ToSql for Ewkb {
    fn to_sql(
        &self,
        _ty: &Type,
        out: &mut bytes::BytesMut,
    ) -> std::result::Result<IsNull, Box<dyn std::error::Error + Sync + Send>> {
        out.extend_from_slice(&self.0);
        Ok(IsNull::No)
    }

    fn accepts(ty: &Type) -> bool {
        ty.name() == "geometry"
    }

    to_sql_checked!();
}

fn decode_wkb(b: &[u8]) -> Result<Geometry<f64>> {
    let w = wkb::reader::read_wkb(b).map_err(|e| TwinError::invalid("PostGIS geometry", e))?;
    w.try_to_geometry()
        .ok_or_else(|| TwinError::invalid("PostGIS geometry", "empty point"))
}

/// The feature tables: name, PostGIS geometry type, typed columns (as in the GeoPackage;
/// attributes as `jsonb`).
const TABLES: [(&str, &str, &str); 6] = [
    (
        "buildings",
        "MultiPolygon",
        "id text NOT NULL UNIQUE, name text, height double precision NOT NULL, base_height double precision NOT NULL, \
         levels integer, usage text, source_id text NOT NULL, height_source text NOT NULL, solid text, attributes jsonb",
    ),
    ("heritage", "MultiPolygon", "id text NOT NULL UNIQUE, name text, zone text, height_limit_m double precision, floor_m double precision, attributes jsonb"),
    ("sensors", "Point", "id text NOT NULL UNIQUE, kind text NOT NULL, unit text NOT NULL, name text, attributes jsonb"),
    (
        "roads",
        "LineString",
        "id text NOT NULL UNIQUE, class text NOT NULL, name text, lanes integer, maxspeed_kmh double precision, \
         oneway text NOT NULL, bridge boolean NOT NULL, attributes jsonb",
    ),
    ("water", "Geometry", "id text NOT NULL UNIQUE, kind text NOT NULL, name text"),
    ("landuse", "MultiPolygon", "id text NOT NULL UNIQUE, kind text NOT NULL, name text"),
];

/// Columns written by [`copy_rows`] per table (after `geom`).
const COPY_COLUMNS: [(&str, &str); 6] = [
    (
        "buildings",
        "geom, id, name, height, base_height, levels, usage, source_id, height_source, solid, attributes",
    ),
    ("heritage", "geom, id, name, zone, height_limit_m, floor_m, attributes"),
    ("sensors", "geom, id, kind, unit, name, attributes"),
    (
        "roads",
        "geom, id, class, name, lanes, maxspeed_kmh, oneway, bridge, attributes",
    ),
    ("water", "geom, id, kind, name"),
    ("landuse", "geom, id, kind, name"),
];

/// A twin's PostGIS database.
pub struct PgStore {
    client: Mutex<Client>,
    config: PgConfig,
    srid: i32,
}

impl std::fmt::Debug for PgStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "PgStore({})", self.config)
    }
}

fn attrs_json(a: &Attributes) -> serde_json::Value {
    serde_json::to_value(a).unwrap_or_default()
}

fn attrs_of(v: Option<serde_json::Value>) -> Attributes {
    v.and_then(|v| serde_json::from_value(v).ok())
        .unwrap_or_default()
}

fn int(v: Option<u32>) -> Option<i32> {
    v.map(|n| i32::try_from(n).unwrap_or(i32::MAX))
}

impl PgStore {
    /// Connect and open the twin's tables, creating them (and the PostGIS extension, which
    /// needs a superuser) when missing. Tables that exist must be in `crs`.
    pub fn open_or_create(config: &PgConfig, crs: &Crs) -> Result<PgStore> {
        let mut client = config.connect()?;
        let e = |m: postgres::Error| config.err(pg_message(&m));
        let has_postgis: bool = client
            .query_one(
                "SELECT EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'postgis')",
                &[],
            )
            .map_err(e)?
            .get(0);
        if !has_postgis {
            client
                .batch_execute("CREATE EXTENSION IF NOT EXISTS postgis")
                .map_err(|x| {
                    config.err(format!(
                        "the database has no PostGIS and it could not be added ({}); \
                         run CREATE EXTENSION postgis as a superuser",
                        pg_message(&x)
                    ))
                })?;
        }
        let srid = match crs.epsg_code() {
            Some(c) => c as i32,
            None => CUSTOM_SRID,
        };
        let mut tx = client.transaction().map_err(e)?;
        // One creator at a time (replicas and workers may start together).
        tx.execute("SELECT pg_advisory_xact_lock(72914281)", &[])
            .map_err(e)?;
        if srid == CUSTOM_SRID {
            tx.execute(
                "INSERT INTO spatial_ref_sys (srid, auth_name, auth_srid, srtext, proj4text)
                 VALUES ($1, 'huetwin', $1, $2, '') ON CONFLICT (srid) DO NOTHING",
                &[&srid, &crs.to_wkt()?],
            )
            .map_err(e)?;
        } else {
            let known: bool = tx
                .query_one(
                    "SELECT EXISTS (SELECT 1 FROM spatial_ref_sys WHERE srid = $1)",
                    &[&srid],
                )
                .map_err(e)?
                .get(0);
            if !known {
                return Err(config.err(format!("PostGIS does not know SRID {srid}")));
            }
        }
        let stored: Option<i32> = tx
            .query_opt(
                "SELECT srid FROM geometry_columns WHERE f_table_schema = current_schema()
                 AND f_table_name = 'buildings' AND f_geometry_column = 'geom'",
                &[],
            )
            .map_err(e)?
            .map(|r| r.get(0));
        match stored {
            Some(s) if s != srid => {
                let name = |s: i32| match s {
                    CUSTOM_SRID => "a custom CRS".to_string(),
                    s => format!("EPSG:{s}"),
                };
                return Err(config.err(format!(
                    "the store is in {}, the twin in {}",
                    name(s),
                    if srid == CUSTOM_SRID {
                        crs.definition().to_string()
                    } else {
                        name(srid)
                    }
                )));
            }
            Some(_) if srid == CUSTOM_SRID => {
                let text: String = tx
                    .query_one(
                        "SELECT srtext FROM spatial_ref_sys WHERE srid = $1",
                        &[&srid],
                    )
                    .map_err(e)?
                    .get(0);
                if text != crs.to_wkt()? {
                    return Err(config.err(format!(
                        "the store's custom CRS (SRID {CUSTOM_SRID}) is not the twin's {}",
                        crs.definition()
                    )));
                }
            }
            Some(_) => {}
            None => {
                for (t, gtype, cols) in TABLES {
                    tx.batch_execute(&format!(
                        "CREATE TABLE IF NOT EXISTS {t} (fid bigserial PRIMARY KEY, geom geometry({gtype}, {srid}), {cols});
                         CREATE INDEX IF NOT EXISTS {t}_geom_gist ON {t} USING gist (geom);"
                    ))
                    .map_err(e)?;
                }
                tx.batch_execute(
                    "CREATE TABLE IF NOT EXISTS terrain (id bigserial PRIMARY KEY, name text NOT NULL,
                       ncols integer NOT NULL, nrows integer NOT NULL, x_min double precision NOT NULL,
                       y_max double precision NOT NULL, cell_x double precision NOT NULL,
                       cell_y double precision NOT NULL, nodata_is_nan boolean NOT NULL DEFAULT true,
                       elevation bytea NOT NULL);
                     COMMENT ON TABLE terrain IS 'DEM grids in the project CRS (x_min, y_max: the north-west corner; xmin is a PostgreSQL system column): row-major float32 little-endian from the north row, NaN = nodata';
                     CREATE TABLE IF NOT EXISTS pointclouds (id bigserial PRIMARY KEY, name text NOT NULL,
                       source_crs text NOT NULL, point_count bigint NOT NULL);
                     CREATE TABLE IF NOT EXISTS pointcloud_chunks (id bigserial PRIMARY KEY,
                       cloud bigint NOT NULL REFERENCES pointclouds(id) ON DELETE CASCADE,
                       seq integer NOT NULL, points bytea NOT NULL);
                     COMMENT ON TABLE pointcloud_chunks IS 'points packed little-endian: x,y,z f64, intensity u16, class u8, has_rgb u8, r,g,b u16';
                     CREATE TABLE IF NOT EXISTS huetwin_meta (key text PRIMARY KEY, value text NOT NULL);",
                )
                .map_err(e)?;
            }
        }
        // A store made before the heritage table had its typed floor level.
        tx.batch_execute("ALTER TABLE heritage ADD COLUMN IF NOT EXISTS floor_m double precision")
            .map_err(e)?;
        // A store made before the land use layer: its table, empty (idempotent otherwise).
        let (t, gtype, cols) = TABLES[5];
        tx.batch_execute(&format!(
            "CREATE TABLE IF NOT EXISTS {t} (fid bigserial PRIMARY KEY, geom geometry({gtype}, {srid}), {cols});
             CREATE INDEX IF NOT EXISTS {t}_geom_gist ON {t} USING gist (geom);"
        ))
        .map_err(e)?;
        tx.commit().map_err(e)?;
        Ok(PgStore {
            client: Mutex::new(client),
            config: config.clone(),
            srid,
        })
    }

    /// The server this store is on.
    pub fn config(&self) -> &PgConfig {
        &self.config
    }

    /// The SRID of the geometry columns.
    pub fn srid(&self) -> i32 {
        self.srid
    }

    fn client(&self) -> Result<std::sync::MutexGuard<'_, Client>> {
        self.client
            .lock()
            .map_err(|_| self.config.err("connection lock poisoned"))
    }

    fn e(&self) -> impl Fn(postgres::Error) -> TwinError + '_ {
        |e| self.config.err(pg_message(&e))
    }

    fn delete_all(&self, tx: &mut Transaction<'_>) -> Result<()> {
        for (t, _, _) in TABLES {
            tx.execute(&format!("DELETE FROM {t}"), &[])
                .map_err(self.e())?;
        }
        tx.batch_execute(
            "DELETE FROM pointcloud_chunks; DELETE FROM pointclouds; DELETE FROM terrain;",
        )
        .map_err(self.e())
    }

    fn write_tx(&self, tx: &mut Transaction<'_>, imp: &Imported) -> Result<()> {
        let srid = self.srid;
        let g = |geom: Geometry<f64>| Ewkb::new(&geom, srid);
        copy_rows(tx, 0, &imp.buildings, |b| {
            Ok(vec![
                Box::new(g(Geometry::MultiPolygon(b.footprint.clone()))?),
                Box::new(b.id.clone()),
                Box::new(b.name.clone()),
                Box::new(b.height),
                Box::new(b.base_height),
                Box::new(int(b.levels)),
                Box::new(b.usage.clone()),
                Box::new(b.source_id.clone()),
                Box::new(b.height_source.label()),
                Box::new(b.solid.as_ref().map(super::json)),
                Box::new(attrs_json(&b.attributes)),
            ])
        })
        .map_err(|x| self.write_err(x))?;
        copy_rows(tx, 1, &imp.heritage, |h| {
            Ok(vec![
                Box::new(g(Geometry::MultiPolygon(h.polygon.clone()))?),
                Box::new(h.id.clone()),
                Box::new(h.name.clone()),
                Box::new(h.zone.clone()),
                Box::new(h.height_limit_m),
                Box::new(h.floor_m),
                Box::new(attrs_json(&h.attributes)),
            ])
        })
        .map_err(|x| self.write_err(x))?;
        copy_rows(tx, 2, &imp.sensors, |s| {
            Ok(vec![
                Box::new(g(Geometry::Point(s.location))?),
                Box::new(s.id.clone()),
                Box::new(s.kind.clone()),
                Box::new(s.unit.clone()),
                Box::new(s.name.clone()),
                Box::new(attrs_json(&s.attributes)),
            ])
        })
        .map_err(|x| self.write_err(x))?;
        copy_rows(tx, 3, &imp.roads, |r| {
            Ok(vec![
                Box::new(g(Geometry::LineString(r.line.clone()))?),
                Box::new(r.id.clone()),
                Box::new(r.class.clone()),
                Box::new(r.name.clone()),
                Box::new(int(r.lanes)),
                Box::new(r.maxspeed_kmh),
                Box::new(r.oneway.label()),
                Box::new(r.bridge),
                Box::new(attrs_json(&r.attributes)),
            ])
        })
        .map_err(|x| self.write_err(x))?;
        copy_rows(tx, 4, &imp.water, |w| {
            Ok(vec![
                Box::new(g(w.geometry.clone())?),
                Box::new(w.id.clone()),
                Box::new(w.kind.clone()),
                Box::new(w.name.clone()),
            ])
        })
        .map_err(|x| self.write_err(x))?;
        copy_rows(tx, 5, &imp.landuse, |l| {
            Ok(vec![
                Box::new(g(Geometry::MultiPolygon(l.polygon.clone()))?),
                Box::new(l.id.clone()),
                Box::new(l.kind.clone()),
                Box::new(l.name.clone()),
            ])
        })
        .map_err(|x| self.write_err(x))?;
        for d in &imp.dems {
            let mut blob = Vec::with_capacity(d.values.len() * 4);
            for v in &d.values {
                blob.extend_from_slice(&v.unwrap_or(f32::NAN).to_le_bytes());
            }
            let dims = (i32::try_from(d.ncols), i32::try_from(d.nrows));
            let (Ok(ncols), Ok(nrows)) = dims else {
                return Err(self
                    .config
                    .err(format!("terrain {}: too many cells", d.name)));
            };
            tx.execute(
                "INSERT INTO terrain (name, ncols, nrows, x_min, y_max, cell_x, cell_y, elevation)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
                &[
                    &d.name, &ncols, &nrows, &d.xmin, &d.ymax, &d.cell_x, &d.cell_y, &blob,
                ],
            )
            .map_err(|x| {
                self.config
                    .err(format!("terrain {}: {}", d.name, pg_message(&x)))
            })?;
        }
        for pc in &imp.pointclouds {
            let n = pc.points.len() as i64;
            let cloud: i64 = tx
                .query_one(
                    "INSERT INTO pointclouds (name, source_crs, point_count) VALUES ($1, $2, $3) RETURNING id",
                    &[&pc.name, &pc.source_crs, &n],
                )
                .map_err(self.e())?
                .get(0);
            for (seq, chunk) in pc.points.chunks(POINT_CHUNK).enumerate() {
                let mut blob = Vec::with_capacity(chunk.len() * POINT_BYTES);
                chunk.iter().for_each(|p| super::pack_point(p, &mut blob));
                tx.execute(
                    "INSERT INTO pointcloud_chunks (cloud, seq, points) VALUES ($1, $2, $3)",
                    &[&cloud, &(seq as i32), &blob],
                )
                .map_err(self.e())?;
            }
        }
        Ok(())
    }

    fn write_err(&self, e: TwinError) -> TwinError {
        match e {
            TwinError::Store { .. } => e,
            other => self.config.err(other),
        }
    }

    fn put_meta(&self, tx: &mut Transaction<'_>, m: &StoreMeta) -> Result<()> {
        tx.execute(
            "INSERT INTO huetwin_meta (key, value) VALUES ('twin.toml', $1), ('generation', $2)
             ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            &[&m.config_toml, &m.generation.to_string()],
        )
        .map_err(self.e())?;
        Ok(())
    }
}

/// The `twin.toml` and generation a PostgreSQL store committed with its last import; none when
/// the database holds no twin yet (read without creating anything).
pub fn read_meta(config: &PgConfig) -> Result<Option<StoreMeta>> {
    meta_of(&mut config.connect()?, config)
}

fn meta_of(c: &mut Client, config: &PgConfig) -> Result<Option<StoreMeta>> {
    let e = |x: postgres::Error| config.err(pg_message(&x));
    let has: bool = c
        .query_one("SELECT to_regclass('huetwin_meta') IS NOT NULL", &[])
        .map_err(e)?
        .get(0);
    if !has {
        return Ok(None);
    }
    let rows = c
        .query(
            "SELECT key, value FROM huetwin_meta WHERE key IN ('twin.toml', 'generation')",
            &[],
        )
        .map_err(e)?;
    let get = |k: &str| {
        rows.iter()
            .find(|r| r.get::<_, &str>(0) == k)
            .map(|r| r.get::<_, String>(1))
    };
    let (Some(config_toml), Some(generation)) = (get("twin.toml"), get("generation")) else {
        return Ok(None);
    };
    let generation = generation.parse().map_err(|_| {
        config.err(format!(
            "huetwin_meta: generation {generation:?} is not a number"
        ))
    })?;
    Ok(Some(StoreMeta {
        generation,
        config_toml,
    }))
}

type Row = Vec<Box<dyn ToSql + Sync>>;

/// Binary COPY of one feature table's rows (`table` indexes [`COPY_COLUMNS`]).
fn copy_rows<T>(
    tx: &mut Transaction<'_>,
    table: usize,
    items: &[T],
    row: impl Fn(&T) -> Result<Row>,
) -> Result<()> {
    if items.is_empty() {
        return Ok(());
    }
    let (t, cols) = COPY_COLUMNS[table];
    let e = |m: String| TwinError::invalid(format!("store write ({t})"), m);
    let types: Vec<Type> = tx
        .prepare(&format!("SELECT {cols} FROM {t} LIMIT 0"))
        .map_err(|x| e(pg_message(&x)))?
        .columns()
        .iter()
        .map(|c| c.type_().clone())
        .collect();
    let sink = tx
        .copy_in(&format!("COPY {t} ({cols}) FROM STDIN (FORMAT binary)"))
        .map_err(|x| e(pg_message(&x)))?;
    let mut w = BinaryCopyInWriter::new(sink, &types);
    for it in items {
        let r = row(it)?;
        let refs: Vec<&(dyn ToSql + Sync)> = r.iter().map(|b| b.as_ref()).collect();
        w.write(&refs).map_err(|x| e(pg_message(&x)))?;
    }
    w.finish().map_err(|x| e(pg_message(&x)))?;
    Ok(())
}

impl TwinStore for PgStore {
    fn describe(&self) -> String {
        self.config.to_string()
    }

    fn write_with(&mut self, imp: &Imported, meta: Option<&StoreMeta>) -> Result<()> {
        let mut c = self.client()?;
        let mut tx = c.transaction().map_err(self.e())?;
        self.write_tx(&mut tx, imp)?;
        if let Some(m) = meta {
            self.put_meta(&mut tx, m)?;
        }
        tx.commit().map_err(self.e())
    }

    fn replace(&mut self, imps: &[Imported], meta: &StoreMeta) -> Result<()> {
        let mut c = self.client()?;
        let mut tx = c.transaction().map_err(self.e())?;
        self.delete_all(&mut tx)?;
        for imp in imps {
            self.write_tx(&mut tx, imp)?;
        }
        self.put_meta(&mut tx, meta)?;
        tx.commit().map_err(self.e())
    }

    fn meta(&self) -> Result<Option<StoreMeta>> {
        meta_of(&mut *self.client()?, &self.config)
    }

    fn clear(&mut self) -> Result<()> {
        let mut c = self.client()?;
        let mut tx = c.transaction().map_err(self.e())?;
        self.delete_all(&mut tx)?;
        tx.commit().map_err(self.e())
    }

    fn counts(&self) -> Result<Vec<(LayerKind, usize)>> {
        let mut c = self.client()?;
        LayerKind::ALL
            .iter()
            .map(|k| {
                let n: i64 = c
                    .query_one(&format!("SELECT count(*) FROM {}", k.name()), &[])
                    .map_err(self.e())?
                    .get(0);
                Ok((*k, n as usize))
            })
            .collect()
    }

    fn ids_in_bbox(&self, kind: LayerKind, bbox: [f64; 4]) -> Result<Vec<String>> {
        super::check_bbox_kind(kind, bbox)?;
        let mut c = self.client()?;
        let rows = c
            .query(
                &format!(
                    "SELECT id FROM {} WHERE ST_Intersects(geom, ST_MakeEnvelope($1, $2, $3, $4, $5)) ORDER BY fid",
                    kind.name()
                ),
                &[&bbox[0], &bbox[1], &bbox[2], &bbox[3], &self.srid],
            )
            .map_err(self.e())?;
        Ok(rows.iter().map(|r| r.get(0)).collect())
    }

    fn load(&self, name: &str, crs: Crs) -> Result<Twin> {
        let mut twin = Twin::new(name, crs)?;
        let mut c = self.client()?;
        let e = self.e();
        let geom = |r: &postgres::Row| decode_wkb(r.get::<_, &[u8]>(0));
        let mp = |g: Geometry<f64>| -> Result<MultiPolygon<f64>> {
            match g {
                Geometry::MultiPolygon(m) => Ok(m),
                Geometry::Polygon(p) => Ok(MultiPolygon(vec![p])),
                _ => Err(TwinError::invalid(
                    "stored geometry",
                    "expected a (multi)polygon",
                )),
            }
        };
        let uint = |v: Option<i32>| v.map(|n| u32::try_from(n).unwrap_or(0));

        let mut v = Vec::new();
        for r in c
            .query("SELECT ST_AsBinary(geom), id, name, height, base_height, levels, usage, source_id, height_source, solid, attributes FROM buildings ORDER BY fid", &[])
            .map_err(&e)?
        {
            let hs: String = r.get(8);
            v.push(Building {
                footprint: mp(geom(&r)?)?,
                id: r.get(1),
                name: r.get(2),
                height: r.get(3),
                base_height: r.get(4),
                levels: uint(r.get(5)),
                usage: r.get(6),
                source_id: r.get(7),
                height_source: HeightSource::from_label(&hs).unwrap_or(HeightSource::Default(hs)),
                solid: r
                    .get::<_, Option<String>>(9)
                    .and_then(|s| serde_json::from_str::<Solid>(&s).ok()),
                attributes: attrs_of(r.get(10)),
            });
        }
        twin.buildings = Layer::new(v)?;

        let mut v = Vec::new();
        for r in c
            .query("SELECT ST_AsBinary(geom), id, name, zone, height_limit_m, floor_m, attributes FROM heritage ORDER BY fid", &[])
            .map_err(&e)?
        {
            v.push(HeritageSite {
                polygon: mp(geom(&r)?)?,
                id: r.get(1),
                name: r.get(2),
                zone: r.get(3),
                height_limit_m: r.get(4),
                floor_m: r.get(5),
                attributes: attrs_of(r.get(6)),
            });
        }
        twin.heritage = Layer::new(v)?;

        let mut v = Vec::new();
        for r in c
            .query("SELECT ST_AsBinary(geom), id, kind, unit, name, attributes FROM sensors ORDER BY fid", &[])
            .map_err(&e)?
        {
            let Geometry::Point(location) = geom(&r)? else {
                return Err(TwinError::invalid("stored sensor", "expected a point"));
            };
            v.push(Sensor {
                id: r.get(1),
                kind: r.get(2),
                unit: r.get(3),
                name: r.get(4),
                location,
                attributes: attrs_of(r.get(5)),
            });
        }
        twin.sensors = Layer::new(v)?;

        let mut v = Vec::new();
        for r in c
            .query("SELECT ST_AsBinary(geom), id, class, name, lanes, maxspeed_kmh, oneway, bridge, attributes FROM roads ORDER BY fid", &[])
            .map_err(&e)?
        {
            let Geometry::LineString(line) = geom(&r)? else {
                return Err(TwinError::invalid("stored road", "expected a linestring"));
            };
            let oneway: String = r.get(6);
            v.push(Road {
                id: r.get(1),
                line,
                class: r.get(2),
                name: r.get(3),
                lanes: uint(r.get(4)),
                maxspeed_kmh: r.get(5),
                oneway: Oneway::from_osm(Some(&oneway)),
                bridge: r.get(7),
                attributes: attrs_of(r.get(8)),
            });
        }
        twin.roads = Layer::new(v)?;

        let mut v = Vec::new();
        for r in c
            .query(
                "SELECT ST_AsBinary(geom), id, kind, name FROM water ORDER BY fid",
                &[],
            )
            .map_err(&e)?
        {
            v.push(Water {
                geometry: geom(&r)?,
                id: r.get(1),
                kind: r.get(2),
                name: r.get(3),
            });
        }
        twin.water = Layer::new(v)?;

        let mut v = Vec::new();
        for r in c
            .query(
                "SELECT ST_AsBinary(geom), id, kind, name FROM landuse ORDER BY fid",
                &[],
            )
            .map_err(&e)?
        {
            v.push(LandUse {
                polygon: mp(geom(&r)?)?,
                id: r.get(1),
                kind: r.get(2),
                name: r.get(3),
            });
        }
        twin.landuse = Layer::new(v)?;

        for r in c
            .query("SELECT name, ncols, nrows, x_min, y_max, cell_x, cell_y, elevation FROM terrain ORDER BY id", &[])
            .map_err(&e)?
        {
            let name: String = r.get(0);
            let (ncols, nrows) = (r.get::<_, i32>(1).max(0) as usize, r.get::<_, i32>(2).max(0) as usize);
            let blob: &[u8] = r.get(7);
            if blob.len() != ncols * nrows * 4 {
                return Err(self.config.err(format!(
                    "terrain {name}: blob of {} bytes for {ncols}x{nrows} cells",
                    blob.len()
                )));
            }
            twin.terrain.push(Dem {
                values: blob
                    .chunks_exact(4)
                    .map(|b| Some(f32::from_le_bytes([b[0], b[1], b[2], b[3]])).filter(|v| !v.is_nan()))
                    .collect(),
                name,
                ncols,
                nrows,
                xmin: r.get(3),
                ymax: r.get(4),
                cell_x: r.get(5),
                cell_y: r.get(6),
            });
        }

        let clouds = c
            .query(
                "SELECT id, name, source_crs, point_count FROM pointclouds ORDER BY id",
                &[],
            )
            .map_err(&e)?;
        for cl in clouds {
            let (id, name, source_crs, count): (i64, String, String, i64) =
                (cl.get(0), cl.get(1), cl.get(2), cl.get(3));
            let mut points = Vec::with_capacity(count.max(0) as usize);
            for r in c
                .query(
                    "SELECT points FROM pointcloud_chunks WHERE cloud = $1 ORDER BY seq",
                    &[&id],
                )
                .map_err(&e)?
            {
                let b: &[u8] = r.get(0);
                points.extend(b.chunks_exact(POINT_BYTES).map(super::unpack_point));
            }
            if points.len() as i64 != count {
                return Err(self.config.err(format!(
                    "point cloud {name}: {} points stored, {count} expected",
                    points.len()
                )));
            }
            twin.pointclouds.push(PointCloud {
                name,
                points,
                source_crs,
            });
        }
        Ok(twin)
    }
}
