//! The embedded store: one GeoPackage 1.3 file (SQLite through `rusqlite`) that GDAL's `ogrinfo`
//! and QGIS open. Vector layers are GeoPackage feature tables in the project CRS; terrain grids
//! and point clouds are attribute tables holding packed little-endian blobs.
//!
//! Every write is one SQLite transaction with `synchronous=FULL`: it is on disk before it is
//! acknowledged, and a failed import leaves nothing behind.
//!
//! The rest of the workspace uses a store through [`TwinStore`], which the GeoPackage
//! ([`Store`], the default) and PostgreSQL/PostGIS ([`pg::PgStore`], `--store postgres://…`)
//! both implement; [`StoreLocation`] names one and opens it (docs/adr/0028).

pub mod pg;

use crate::crs::Crs;
use crate::error::{Result, TwinError};
use crate::layer::LayerKind;
use crate::model::Imported;
use crate::model::{
    Attributes, Building, Dem, HeightSource, HeritageSite, LandUse, LidarPoint, Oneway, PointCloud,
    Road, Sensor, Solid, Water,
};
use crate::twin::Twin;
use crate::Layer;
use geo::BoundingRect;
use geo_traits::to_geo::ToGeoGeometry;
use geo_types::{Geometry, MultiPolygon};
use rusqlite::{params, Connection, OptionalExtension, Transaction};
use std::path::{Path, PathBuf};

/// The store interface: what an import, a build, `twin serve` and the tests do with a twin's
/// store, whichever backend holds it. Every write is one transaction: all of it or none of it.
pub trait TwinStore: Send + std::fmt::Debug {
    /// The store for people: the GeoPackage's path or the URL without its password.
    fn describe(&self) -> String;
    /// Write everything an import produced, in one transaction.
    fn write(&mut self, imp: &Imported) -> Result<()> {
        self.write_with(imp, None)
    }
    /// [`TwinStore::write`], committing `meta` in the same transaction.
    fn write_with(&mut self, imp: &Imported, meta: Option<&StoreMeta>) -> Result<()>;
    /// Replace everything with `imps` and commit `meta`, in one transaction (a rebuild).
    fn replace(&mut self, imps: &[Imported], meta: &StoreMeta) -> Result<()>;
    /// The `twin.toml` and generation the last import committed, if any.
    fn meta(&self) -> Result<Option<StoreMeta>>;
    /// Delete every feature, grid and point, in one transaction.
    fn clear(&mut self) -> Result<()>;
    /// Rows per layer (feature tables, terrain grids, point clouds).
    fn counts(&self) -> Result<Vec<(LayerKind, usize)>>;
    /// Ids of a vector layer's features whose geometry intersects `bbox`
    /// (`[minx, miny, maxx, maxy]` in the twin's CRS), in import order.
    fn ids_in_bbox(&self, kind: LayerKind, bbox: [f64; 4]) -> Result<Vec<String>>;
    /// Load the whole twin into memory and build its indexes.
    fn load(&self, name: &str, crs: Crs) -> Result<Twin>;
}

/// Where a twin's store is: a GeoPackage file (the default, `<twin>/twin.gpkg`) or a
/// PostgreSQL database with PostGIS.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum StoreLocation {
    /// A GeoPackage file.
    GeoPackage(PathBuf),
    /// A PostgreSQL/PostGIS database.
    Postgres(pg::PgConfig),
}

impl std::fmt::Display for StoreLocation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            StoreLocation::GeoPackage(p) => write!(f, "{}", p.display()),
            StoreLocation::Postgres(c) => write!(f, "{c}"),
        }
    }
}

impl StoreLocation {
    /// A `--store` value: a `postgres://` URL, else a GeoPackage path (relative paths are
    /// resolved against `base`, the twin folder).
    pub fn parse(s: &str, base: &Path) -> Result<StoreLocation> {
        if pg::is_url(s.trim()) {
            return Ok(StoreLocation::Postgres(pg::PgConfig::parse(s)?));
        }
        if s.contains("://") {
            return Err(TwinError::invalid(
                format!("store {}", pg::redact(s)),
                "a store is a GeoPackage path or a postgres:// URL",
            ));
        }
        let p = Path::new(s.trim());
        Ok(StoreLocation::GeoPackage(if p.is_absolute() {
            p.to_path_buf()
        } else {
            base.join(p)
        }))
    }

    /// Open the store, creating it when missing; an existing store must be in `crs`.
    pub fn open(&self, crs: &Crs) -> Result<Box<dyn TwinStore>> {
        Ok(match self {
            StoreLocation::GeoPackage(p) => Box::new(Store::open_or_create(p, crs)?),
            StoreLocation::Postgres(c) => Box::new(pg::PgStore::open_or_create(c, crs)?),
        })
    }

    /// Whether the store holds a twin already: the file exists, or the database has its
    /// tables (an unreachable database counts as existing, so that opening it reports why).
    pub fn exists(&self) -> bool {
        match self {
            StoreLocation::GeoPackage(p) => p.exists(),
            StoreLocation::Postgres(c) => c.connect().map_or(true, |mut cl| {
                cl.query_one("SELECT to_regclass('huetwin_meta') IS NOT NULL", &[])
                    .map_or(true, |r| r.get::<_, bool>(0))
            }),
        }
    }
}

/// Refuse a bbox query on a layer without geometries or with a box that is not finite.
/// A row of the water or land use table: geometry (GeoPackage blob), id, kind, name.
type KindRow = (Vec<u8>, String, String, Option<String>);

fn check_bbox_kind(kind: LayerKind, bbox: [f64; 4]) -> Result<()> {
    if matches!(kind, LayerKind::Terrain | LayerKind::Pointclouds) {
        return Err(TwinError::invalid(
            "bbox query",
            format!("{} is not a vector layer", kind.name()),
        ));
    }
    if !bbox.iter().all(|v| v.is_finite()) || bbox[0] > bbox[2] || bbox[1] > bbox[3] {
        return Err(TwinError::invalid("bbox", format!("{bbox:?}")));
    }
    Ok(())
}

/// GeoPackage `application_id` ("GPKG").
const GPKG_APPLICATION_ID: i32 = 0x4750_4B47;
/// GeoPackage 1.3.
const GPKG_USER_VERSION: i32 = 10300;
/// Points per blob in the point cloud table.
const POINT_CHUNK: usize = 65_536;
/// Bytes per packed point: x,y,z f64, intensity u16, class u8, has_rgb u8, r,g,b u16.
const POINT_BYTES: usize = 24 + 2 + 1 + 1 + 6;

/// The feature tables: name, geometry type, extra columns.
const FEATURE_TABLES: [(&str, &str, &str); 6] = [
    (
        "buildings",
        "MULTIPOLYGON",
        "id TEXT NOT NULL UNIQUE, name TEXT, height REAL NOT NULL, base_height REAL NOT NULL, levels INTEGER, \
         usage TEXT, source_id TEXT NOT NULL, height_source TEXT NOT NULL, solid TEXT, attributes TEXT",
    ),
    ("heritage", "MULTIPOLYGON", "id TEXT NOT NULL UNIQUE, name TEXT, zone TEXT, height_limit_m REAL, floor_m REAL, attributes TEXT"),
    ("sensors", "POINT", "id TEXT NOT NULL UNIQUE, kind TEXT NOT NULL, unit TEXT NOT NULL, name TEXT, attributes TEXT"),
    (
        "roads",
        "LINESTRING",
        "id TEXT NOT NULL UNIQUE, class TEXT NOT NULL, name TEXT, lanes INTEGER, maxspeed_kmh REAL, oneway TEXT NOT NULL, \
         bridge INTEGER NOT NULL, attributes TEXT",
    ),
    ("water", "GEOMETRY", "id TEXT NOT NULL UNIQUE, kind TEXT NOT NULL, name TEXT"),
    // Added after the first stores were written: `migrate` creates it in an older file.
    ("landuse", "MULTIPOLYGON", "id TEXT NOT NULL UNIQUE, kind TEXT NOT NULL, name TEXT"),
];

/// Create one of [`FEATURE_TABLES`] and register it in the GeoPackage's contents.
fn create_feature_table(
    tx: &rusqlite::Transaction<'_>,
    (table, gtype, cols): (&str, &str, &str),
    srs_id: i32,
) -> rusqlite::Result<()> {
    tx.execute_batch(&format!(
        "CREATE TABLE {table} (fid INTEGER PRIMARY KEY AUTOINCREMENT, geom {gtype}, {cols});
         INSERT INTO gpkg_contents (table_name, data_type, identifier, srs_id) VALUES ('{table}', 'features', '{table}', {srs_id});
         INSERT INTO gpkg_geometry_columns VALUES ('{table}', 'geom', '{gtype}', {srs_id}, 0, 0);"
    ))
}

/// A twin's GeoPackage.
pub struct Store {
    conn: Connection,
    path: PathBuf,
    srs_id: i32,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Store({})", self.path.display())
    }
}

pub(crate) fn sql_err(path: &Path) -> impl Fn(rusqlite::Error) -> TwinError + '_ {
    move |e| TwinError::Store {
        path: path.to_path_buf(),
        message: e.to_string(),
    }
}

/// Encode a geometry as a GeoPackage binary blob (header with envelope, then little-endian WKB).
pub fn encode_geometry(g: &Geometry<f64>, srs_id: i32) -> Result<Vec<u8>> {
    let mut out = Vec::with_capacity(64);
    out.extend_from_slice(b"GP");
    out.push(0); // version 1
    let env = g.bounding_rect();
    // flags: little endian (bit 0); envelope [minx, maxx, miny, maxy] (indicator 1, bits 1-3).
    out.push(if env.is_some() {
        0b0000_0011
    } else {
        0b0001_0001
    });
    out.extend_from_slice(&srs_id.to_le_bytes());
    if let Some(r) = env {
        for v in [r.min().x, r.max().x, r.min().y, r.max().y] {
            out.extend_from_slice(&v.to_le_bytes());
        }
    }
    let opts = wkb::writer::WriteOptions {
        endianness: wkb::Endianness::LittleEndian,
    };
    wkb::writer::write_geometry(&mut out, g, &opts)
        .map_err(|e| TwinError::invalid("geometry", e))?;
    Ok(out)
}

/// Decode a GeoPackage binary blob.
pub fn decode_geometry(blob: &[u8]) -> Result<Geometry<f64>> {
    let bad = |m: &str| TwinError::invalid("GeoPackage geometry", m);
    if blob.len() < 8 || &blob[..2] != b"GP" {
        return Err(bad("missing GP header"));
    }
    let flags = blob[3];
    let env_len = match (flags >> 1) & 0b111 {
        0 => 0,
        1 => 32,
        2 | 3 => 48,
        4 => 64,
        _ => return Err(bad("bad envelope indicator")),
    };
    let start = 8 + env_len;
    let wkb_bytes = blob.get(start..).ok_or_else(|| bad("truncated"))?;
    let w = wkb::reader::read_wkb(wkb_bytes)
        .map_err(|e| TwinError::invalid("GeoPackage geometry", e))?;
    w.try_to_geometry().ok_or_else(|| bad("empty point"))
}

fn json<T: serde::Serialize>(v: &T) -> String {
    serde_json::to_string(v).expect("plain data serialises")
}

fn attrs(s: Option<String>) -> Attributes {
    s.and_then(|s| serde_json::from_str(&s).ok())
        .unwrap_or_default()
}

/// What an import commits beside its features: the twin's `twin.toml` after it and its
/// generation ([`crate::TwinConfig::generation`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoreMeta {
    /// The import count.
    pub generation: u64,
    /// The text of `twin.toml`.
    pub config_toml: String,
}

const META_TABLE: &str =
    "CREATE TABLE IF NOT EXISTS huetwin_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);";

impl Store {
    /// Open a store, creating it (with the GeoPackage tables and the project CRS) when missing.
    /// An existing store must be in `crs`.
    pub fn open_or_create(path: &Path, crs: &Crs) -> Result<Store> {
        let exists = path.exists();
        let conn = Connection::open(path).map_err(sql_err(path))?;
        // WAL: readers are never blocked by a writer; FULL: a commit is on disk before it returns.
        conn.execute_batch(
            "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; PRAGMA foreign_keys=ON;",
        )
        .map_err(sql_err(path))?;
        let mut store = Store {
            conn,
            path: path.to_path_buf(),
            srs_id: 0,
        };
        let app: i32 = store
            .conn
            .query_row("PRAGMA application_id", [], |r| r.get(0))
            .map_err(sql_err(path))?;
        if !exists || app == 0 {
            store.init(crs)?;
        } else if app != GPKG_APPLICATION_ID {
            return Err(TwinError::Store {
                path: path.into(),
                message: "not a GeoPackage (application_id is not GPKG)".into(),
            });
        } else {
            store.migrate()?;
        }
        let (srs_id, def): (i32, String) = store
            .conn
            .query_row(
                "SELECT s.srs_id, s.organization || ':' || s.organization_coordsys_id FROM gpkg_geometry_columns g \
                 JOIN gpkg_spatial_ref_sys s ON s.srs_id = g.srs_id WHERE g.table_name = 'buildings'",
                [],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .map_err(sql_err(path))?;
        if crs.epsg_code().is_some() && def != crs.definition() {
            return Err(TwinError::Store {
                path: path.into(),
                message: format!("the store is in {def}, the twin in {}", crs.definition()),
            });
        }
        store.srs_id = srs_id;
        Ok(store)
    }

    /// Bring a store written by an earlier version up to the current columns: the heritage
    /// table's typed `height_limit_m` and `floor_m` (REAL; the load falls back to the old string
    /// attributes).
    ///
    /// Feature tables added since (`landuse`) are created empty, registered in
    /// `gpkg_contents` and `gpkg_geometry_columns` in the store's CRS; nothing else changes.
    fn migrate(&mut self) -> Result<()> {
        let path = self.path.clone();
        let srs_id: Option<i32> = self
            .conn
            .query_row(
                "SELECT srs_id FROM gpkg_geometry_columns WHERE table_name = 'buildings'",
                [],
                |r| r.get(0),
            )
            .optional()
            .map_err(sql_err(&path))?;
        if let Some(srs_id) = srs_id {
            for table in FEATURE_TABLES {
                let has: bool = self
                    .conn
                    .query_row(
                        "SELECT count(*) > 0 FROM sqlite_master WHERE type = 'table' AND name = ?1",
                        [table.0],
                        |r| r.get(0),
                    )
                    .map_err(sql_err(&path))?;
                if !has {
                    let tx = self.conn.transaction().map_err(sql_err(&path))?;
                    create_feature_table(&tx, table, srs_id).map_err(sql_err(&path))?;
                    tx.commit().map_err(sql_err(&path))?;
                }
            }
        }
        let table: bool = self
            .conn
            .query_row(
                "SELECT count(*) > 0 FROM sqlite_master WHERE type = 'table' AND name = 'heritage'",
                [],
                |r| r.get(0),
            )
            .map_err(sql_err(&path))?;
        if !table {
            return Ok(());
        }
        for column in ["height_limit_m", "floor_m"] {
            let has: bool = self
                .conn
                .query_row(
                    "SELECT count(*) > 0 FROM pragma_table_info('heritage') WHERE name = ?1",
                    [column],
                    |r| r.get(0),
                )
                .map_err(sql_err(&path))?;
            if !has {
                self.conn
                    .execute_batch(&format!("ALTER TABLE heritage ADD COLUMN {column} REAL"))
                    .map_err(sql_err(&path))?;
            }
        }
        Ok(())
    }

    /// The store's file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn init(&mut self, crs: &Crs) -> Result<()> {
        let path = self.path.clone();
        let (srs_id, org, code) = match crs.epsg_code() {
            Some(c) => (c as i32, "EPSG", c as i32),
            None => (100_000, "NONE", 100_000),
        };
        let wkt = crs.to_wkt()?;
        let tx = self.conn.transaction().map_err(sql_err(&path))?;
        tx.execute_batch(&format!(
            "PRAGMA application_id = {GPKG_APPLICATION_ID}; PRAGMA user_version = {GPKG_USER_VERSION};
             CREATE TABLE gpkg_spatial_ref_sys (srs_name TEXT NOT NULL, srs_id INTEGER PRIMARY KEY,
               organization TEXT NOT NULL, organization_coordsys_id INTEGER NOT NULL, definition TEXT NOT NULL, description TEXT);
             INSERT INTO gpkg_spatial_ref_sys VALUES ('Undefined cartesian SRS', -1, 'NONE', -1, 'undefined', 'undefined cartesian coordinate reference system');
             INSERT INTO gpkg_spatial_ref_sys VALUES ('Undefined geographic SRS', 0, 'NONE', 0, 'undefined', 'undefined geographic coordinate reference system');
             CREATE TABLE gpkg_contents (table_name TEXT NOT NULL PRIMARY KEY, data_type TEXT NOT NULL,
               identifier TEXT UNIQUE, description TEXT DEFAULT '', last_change DATETIME NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now')),
               min_x DOUBLE, min_y DOUBLE, max_x DOUBLE, max_y DOUBLE, srs_id INTEGER,
               CONSTRAINT fk_gc_r_srs_id FOREIGN KEY (srs_id) REFERENCES gpkg_spatial_ref_sys(srs_id));
             CREATE TABLE gpkg_geometry_columns (table_name TEXT NOT NULL, column_name TEXT NOT NULL,
               geometry_type_name TEXT NOT NULL, srs_id INTEGER NOT NULL, z TINYINT NOT NULL, m TINYINT NOT NULL,
               CONSTRAINT pk_geom_cols PRIMARY KEY (table_name, column_name),
               CONSTRAINT fk_gc_tn FOREIGN KEY (table_name) REFERENCES gpkg_contents(table_name),
               CONSTRAINT fk_gc_srs FOREIGN KEY (srs_id) REFERENCES gpkg_spatial_ref_sys (srs_id));"
        ))
        .map_err(sql_err(&path))?;
        tx.execute(
            "INSERT INTO gpkg_spatial_ref_sys VALUES ('WGS 84 geodetic', 4326, 'EPSG', 4326, ?1, 'longitude/latitude coordinates in decimal degrees on the WGS 84 spheroid')",
            params![Crs::wgs84().to_wkt()?],
        )
        .map_err(sql_err(&path))?;
        if srs_id != 4326 {
            tx.execute(
                "INSERT INTO gpkg_spatial_ref_sys VALUES (?1, ?2, ?3, ?4, ?5, 'huetwin project CRS')",
                params![crs.name(), srs_id, org, code, wkt],
            )
            .map_err(sql_err(&path))?;
        }
        for table in FEATURE_TABLES {
            create_feature_table(&tx, table, srs_id).map_err(sql_err(&path))?;
        }
        tx.execute_batch(
            "CREATE TABLE terrain (id INTEGER PRIMARY KEY AUTOINCREMENT, name TEXT NOT NULL, ncols INTEGER NOT NULL,
               nrows INTEGER NOT NULL, xmin REAL NOT NULL, ymax REAL NOT NULL, cell_x REAL NOT NULL, cell_y REAL NOT NULL,
               nodata_is_nan INTEGER NOT NULL DEFAULT 1, elevation BLOB NOT NULL);
             INSERT INTO gpkg_contents (table_name, data_type, identifier, description) VALUES ('terrain', 'attributes', 'terrain',
               'DEM grids in the project CRS: row-major float32 little-endian from the north row, NaN = nodata');
             CREATE TABLE pointclouds (id INTEGER PRIMARY KEY AUTOINCREMENT, name TEXT NOT NULL, source_crs TEXT NOT NULL,
               point_count INTEGER NOT NULL);
             CREATE TABLE pointcloud_chunks (id INTEGER PRIMARY KEY AUTOINCREMENT, cloud INTEGER NOT NULL REFERENCES pointclouds(id),
               seq INTEGER NOT NULL, points BLOB NOT NULL);
             INSERT INTO gpkg_contents (table_name, data_type, identifier, description) VALUES ('pointclouds', 'attributes', 'pointclouds', 'point clouds');
             INSERT INTO gpkg_contents (table_name, data_type, identifier, description) VALUES ('pointcloud_chunks', 'attributes', 'pointcloud_chunks',
               'points packed little-endian: x,y,z f64, intensity u16, class u8, has_rgb u8, r,g,b u16');",
        )
        .map_err(sql_err(&path))?;
        tx.commit().map_err(sql_err(&path))?;
        self.srs_id = srs_id;
        Ok(())
    }

    /// Write everything an import produced, in one transaction: all of it or none of it.
    pub fn write(&mut self, imp: &Imported) -> Result<()> {
        self.write_with(imp, None)
    }

    /// [`Store::write`], committing `meta` (the twin's `twin.toml` after this import and its
    /// generation) in the same transaction: the features and the source list they belong to
    /// change together or not at all.
    pub fn write_with(&mut self, imp: &Imported, meta: Option<&StoreMeta>) -> Result<()> {
        self.write_tx(false, std::slice::from_ref(imp), meta)
    }

    /// One transaction: every feature deleted first when `replace`, then `imps` written, the
    /// layer extents updated and `meta` stored.
    fn write_tx(
        &mut self,
        replace: bool,
        imps: &[Imported],
        meta: Option<&StoreMeta>,
    ) -> Result<()> {
        let path = self.path.clone();
        let srs = self.srs_id;
        let tx = self.conn.transaction().map_err(sql_err(&path))?;
        if replace {
            delete_all(&tx).map_err(sql_err(&path))?;
        }
        for imp in imps {
            write_all(&tx, imp, srs).map_err(|e| match e {
                TwinError::Store { .. } => e,
                other => TwinError::Store {
                    path: path.clone(),
                    message: other.to_string(),
                },
            })?;
        }
        update_extents(&tx).map_err(sql_err(&path))?;
        if let Some(m) = meta {
            put_meta(&tx, m).map_err(sql_err(&path))?;
        }
        tx.commit().map_err(sql_err(&path))
    }

    /// The `twin.toml` and generation the last import committed with its features; none for a
    /// store written before generations were kept.
    pub fn meta(&self) -> Result<Option<StoreMeta>> {
        Store::meta_of(&self.conn, &self.path)
    }

    /// [`Store::meta`] on any connection to a store file (`path` names it in errors).
    pub(crate) fn meta_of(conn: &Connection, path: &Path) -> Result<Option<StoreMeta>> {
        let has: i64 = conn
            .query_row(
                "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'huetwin_meta'",
                [],
                |r| r.get(0),
            )
            .map_err(sql_err(path))?;
        if has == 0 {
            return Ok(None);
        }
        let get = |k: &str| -> Result<Option<String>> {
            match conn.query_row("SELECT value FROM huetwin_meta WHERE key = ?1", [k], |r| {
                r.get::<_, String>(0)
            }) {
                Ok(v) => Ok(Some(v)),
                Err(rusqlite::Error::QueryReturnedNoRows) => Ok(None),
                Err(e) => Err(sql_err(path)(e)),
            }
        };
        let (Some(config_toml), Some(generation)) = (get("twin.toml")?, get("generation")?) else {
            return Ok(None);
        };
        let generation = generation.parse().map_err(|_| TwinError::Store {
            path: path.to_path_buf(),
            message: format!("huetwin_meta: generation {generation:?} is not a number"),
        })?;
        Ok(Some(StoreMeta {
            generation,
            config_toml,
        }))
    }

    /// Delete every feature, grid and point (for a rebuild), in one transaction.
    pub fn clear(&mut self) -> Result<()> {
        let path = self.path.clone();
        let tx = self.conn.transaction().map_err(sql_err(&path))?;
        delete_all(&tx).map_err(sql_err(&path))?;
        update_extents(&tx).map_err(sql_err(&path))?;
        tx.commit().map_err(sql_err(&path))
    }

    /// Count rows per layer (feature tables, terrain grids, point clouds).
    pub fn counts(&self) -> Result<Vec<(LayerKind, usize)>> {
        LayerKind::ALL
            .iter()
            .map(|k| {
                let n: i64 = self
                    .conn
                    .query_row(&format!("SELECT COUNT(*) FROM {}", k.name()), [], |r| {
                        r.get(0)
                    })
                    .map_err(sql_err(&self.path))?;
                Ok((*k, n as usize))
            })
            .collect()
    }

    /// Load the whole twin into memory and build its indexes.
    pub fn load(&self, name: &str, crs: Crs) -> Result<Twin> {
        let e = sql_err(&self.path);
        let mut twin = Twin::new(name, crs)?;
        let c = &self.conn;

        let geom = |b: Vec<u8>| decode_geometry(&b);
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

        let mut st = c
            .prepare("SELECT geom, id, name, height, base_height, levels, usage, source_id, height_source, solid, attributes FROM buildings ORDER BY fid")
            .map_err(&e)?;
        let rows = st
            .query_map([], |r| {
                Ok((
                    r.get::<_, Vec<u8>>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, Option<String>>(2)?,
                    r.get::<_, f64>(3)?,
                    r.get::<_, f64>(4)?,
                    r.get::<_, Option<u32>>(5)?,
                    r.get::<_, Option<String>>(6)?,
                    r.get::<_, String>(7)?,
                    r.get::<_, String>(8)?,
                    r.get::<_, Option<String>>(9)?,
                    r.get::<_, Option<String>>(10)?,
                ))
            })
            .map_err(&e)?;
        let mut buildings = Vec::new();
        for row in rows {
            let (g, id, name, height, base_height, levels, usage, source_id, hs, solid, a) =
                row.map_err(&e)?;
            buildings.push(Building {
                footprint: mp(geom(g)?)?,
                height_source: HeightSource::from_label(&hs).unwrap_or(HeightSource::Default(hs)),
                solid: solid.and_then(|s| serde_json::from_str::<Solid>(&s).ok()),
                attributes: attrs(a),
                id,
                name,
                height,
                base_height,
                levels,
                usage,
                source_id,
            });
        }
        twin.buildings = Layer::new(buildings)?;

        let mut st = c
            .prepare(
                "SELECT geom, id, name, zone, height_limit_m, floor_m, attributes FROM heritage ORDER BY fid",
            )
            .map_err(&e)?;
        let rows = st
            .query_map([], |r| {
                Ok((
                    r.get::<_, Vec<u8>>(0)?,
                    r.get(1)?,
                    r.get(2)?,
                    r.get(3)?,
                    r.get::<_, Option<f64>>(4)?,
                    r.get::<_, Option<f64>>(5)?,
                    r.get(6)?,
                ))
            })
            .map_err(&e)?;
        let mut v = Vec::new();
        for row in rows {
            let (g, id, name, zone, limit, floor, a) = row.map_err(&e)?;
            let mut attributes = attrs(a);
            // A store written before the typed columns kept the numbers as string attributes.
            let height_limit_m = limit.or_else(|| HeritageSite::take_height_limit(&mut attributes));
            let floor_m = floor.or_else(|| HeritageSite::take_floor(&mut attributes));
            v.push(HeritageSite {
                polygon: mp(geom(g)?)?,
                id,
                name,
                zone,
                height_limit_m,
                floor_m,
                attributes,
            });
        }
        twin.heritage = Layer::new(v)?;

        let mut st = c
            .prepare("SELECT geom, id, kind, unit, name, attributes FROM sensors ORDER BY fid")
            .map_err(&e)?;
        let rows = st
            .query_map([], |r| {
                Ok((
                    r.get::<_, Vec<u8>>(0)?,
                    r.get(1)?,
                    r.get(2)?,
                    r.get(3)?,
                    r.get(4)?,
                    r.get(5)?,
                ))
            })
            .map_err(&e)?;
        let mut v = Vec::new();
        for row in rows {
            let (g, id, kind, unit, name, a) = row.map_err(&e)?;
            let Geometry::Point(location) = geom(g)? else {
                return Err(TwinError::invalid("stored sensor", "expected a point"));
            };
            v.push(Sensor {
                id,
                kind,
                unit,
                name,
                location,
                attributes: attrs(a),
            });
        }
        twin.sensors = Layer::new(v)?;

        let mut st = c
            .prepare("SELECT geom, id, class, name, lanes, maxspeed_kmh, oneway, bridge, attributes FROM roads ORDER BY fid")
            .map_err(&e)?;
        let rows = st
            .query_map([], |r| {
                Ok((
                    r.get::<_, Vec<u8>>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, String>(2)?,
                    r.get::<_, Option<String>>(3)?,
                    r.get::<_, Option<u32>>(4)?,
                    r.get::<_, Option<f64>>(5)?,
                    r.get::<_, String>(6)?,
                    r.get::<_, bool>(7)?,
                    r.get::<_, Option<String>>(8)?,
                ))
            })
            .map_err(&e)?;
        let mut v = Vec::new();
        for row in rows {
            let (g, id, class, name, lanes, maxspeed_kmh, oneway, bridge, a) = row.map_err(&e)?;
            let Geometry::LineString(line) = geom(g)? else {
                return Err(TwinError::invalid("stored road", "expected a linestring"));
            };
            v.push(Road {
                id,
                line,
                class,
                name,
                lanes,
                maxspeed_kmh,
                oneway: Oneway::from_osm(Some(&oneway)),
                bridge,
                attributes: attrs(a),
            });
        }
        twin.roads = Layer::new(v)?;

        // The water and land use tables: geometry, id, kind and name.
        let kinds = |table: &str| -> Result<Vec<KindRow>> {
            let mut st = c
                .prepare(&format!(
                    "SELECT geom, id, kind, name FROM {table} ORDER BY fid"
                ))
                .map_err(&e)?;
            let rows = st
                .query_map([], |r| {
                    Ok((r.get::<_, Vec<u8>>(0)?, r.get(1)?, r.get(2)?, r.get(3)?))
                })
                .map_err(&e)?;
            rows.map(|row| row.map_err(&e)).collect()
        };
        let mut v = Vec::new();
        for (g, id, kind, name) in kinds("water")? {
            v.push(Water {
                geometry: geom(g)?,
                id,
                kind,
                name,
            });
        }
        twin.water = Layer::new(v)?;
        let mut v = Vec::new();
        for (g, id, kind, name) in kinds("landuse")? {
            v.push(LandUse {
                polygon: mp(geom(g)?)?,
                id,
                kind,
                name,
            });
        }
        twin.landuse = Layer::new(v)?;

        let mut st = c
            .prepare("SELECT name, ncols, nrows, xmin, ymax, cell_x, cell_y, elevation FROM terrain ORDER BY id")
            .map_err(&e)?;
        let rows = st
            .query_map([], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, i64>(1)?,
                    r.get::<_, i64>(2)?,
                    r.get::<_, f64>(3)?,
                    r.get::<_, f64>(4)?,
                    r.get::<_, f64>(5)?,
                    r.get::<_, f64>(6)?,
                    r.get::<_, Vec<u8>>(7)?,
                ))
            })
            .map_err(&e)?;
        for row in rows {
            let (name, ncols, nrows, xmin, ymax, cell_x, cell_y, blob) = row.map_err(&e)?;
            let (ncols, nrows) = (ncols as usize, nrows as usize);
            if blob.len() != ncols * nrows * 4 {
                return Err(TwinError::Store {
                    path: self.path.clone(),
                    message: format!(
                        "terrain {name}: blob of {} bytes for {ncols}x{nrows} cells",
                        blob.len()
                    ),
                });
            }
            let values = blob
                .chunks_exact(4)
                .map(|b| Some(f32::from_le_bytes([b[0], b[1], b[2], b[3]])).filter(|v| !v.is_nan()))
                .collect();
            twin.terrain.push(Dem {
                name,
                ncols,
                nrows,
                xmin,
                ymax,
                cell_x,
                cell_y,
                values,
            });
        }

        let mut st = c
            .prepare("SELECT id, name, source_crs, point_count FROM pointclouds ORDER BY id")
            .map_err(&e)?;
        let clouds: Vec<(i64, String, String, i64)> = st
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))
            .map_err(&e)?
            .collect::<rusqlite::Result<_>>()
            .map_err(&e)?;
        let mut chunks = c
            .prepare("SELECT points FROM pointcloud_chunks WHERE cloud = ?1 ORDER BY seq")
            .map_err(&e)?;
        for (id, name, source_crs, count) in clouds {
            let mut points = Vec::with_capacity(count as usize);
            let blobs = chunks
                .query_map([id], |r| r.get::<_, Vec<u8>>(0))
                .map_err(&e)?;
            for b in blobs {
                let b = b.map_err(&e)?;
                points.extend(b.chunks_exact(POINT_BYTES).map(unpack_point));
            }
            if points.len() != count as usize {
                return Err(TwinError::Store {
                    path: self.path.clone(),
                    message: format!(
                        "point cloud {name}: {} points stored, {count} expected",
                        points.len()
                    ),
                });
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

impl TwinStore for Store {
    fn describe(&self) -> String {
        self.path.display().to_string()
    }

    fn write_with(&mut self, imp: &Imported, meta: Option<&StoreMeta>) -> Result<()> {
        Store::write_with(self, imp, meta)
    }

    fn replace(&mut self, imps: &[Imported], meta: &StoreMeta) -> Result<()> {
        self.write_tx(true, imps, Some(meta))
    }

    fn meta(&self) -> Result<Option<StoreMeta>> {
        Store::meta(self)
    }

    fn clear(&mut self) -> Result<()> {
        Store::clear(self)
    }

    fn counts(&self) -> Result<Vec<(LayerKind, usize)>> {
        Store::counts(self)
    }

    fn ids_in_bbox(&self, kind: LayerKind, bbox: [f64; 4]) -> Result<Vec<String>> {
        use geo::Intersects;
        check_bbox_kind(kind, bbox)?;
        let e = sql_err(&self.path);
        // No R-tree in this GeoPackage: the envelopes in the blob headers filter, then the
        // geometries themselves.
        let rect = geo_types::Rect::new((bbox[0], bbox[1]), (bbox[2], bbox[3]));
        let mut st = self
            .conn
            .prepare_cached(&format!(
                "SELECT id, geom FROM {} ORDER BY fid",
                kind.name()
            ))
            .map_err(&e)?;
        let mut rows = st.query([]).map_err(&e)?;
        let mut out = Vec::new();
        while let Some(r) = rows.next().map_err(&e)? {
            let b = r
                .get_ref(1)
                .map_err(&e)?
                .as_blob()
                .map_err(|x| e(x.into()))?;
            if b.len() >= 40 && (b[3] >> 1) & 0b111 != 0 {
                let f = |i: usize| f64::from_le_bytes(b[i..i + 8].try_into().expect("8 bytes"));
                let (x0, x1, y0, y1) = (f(8), f(16), f(24), f(32));
                if x0 > bbox[2] || x1 < bbox[0] || y0 > bbox[3] || y1 < bbox[1] {
                    continue;
                }
            }
            if decode_geometry(b)?.intersects(&rect) {
                out.push(r.get(0).map_err(&e)?);
            }
        }
        Ok(out)
    }

    fn load(&self, name: &str, crs: Crs) -> Result<Twin> {
        Store::load(self, name, crs)
    }
}

fn delete_all(tx: &Transaction<'_>) -> rusqlite::Result<()> {
    for (t, _, _) in FEATURE_TABLES {
        tx.execute(&format!("DELETE FROM {t}"), [])?;
    }
    tx.execute_batch("DELETE FROM terrain; DELETE FROM pointcloud_chunks; DELETE FROM pointclouds;")
}

fn put_meta(tx: &Transaction<'_>, m: &StoreMeta) -> rusqlite::Result<()> {
    tx.execute_batch(META_TABLE)?;
    tx.execute(
        "INSERT INTO huetwin_meta (key, value) VALUES ('twin.toml', ?1), ('generation', ?2)
         ON CONFLICT(key) DO UPDATE SET value = excluded.value",
        rusqlite::params![m.config_toml, m.generation.to_string()],
    )?;
    Ok(())
}

fn pack_point(p: &LidarPoint, out: &mut Vec<u8>) {
    for v in [p.x, p.y, p.z] {
        out.extend_from_slice(&v.to_le_bytes());
    }
    out.extend_from_slice(&p.intensity.to_le_bytes());
    out.push(p.classification);
    out.push(p.rgb.is_some() as u8);
    for c in p.rgb.unwrap_or([0; 3]) {
        out.extend_from_slice(&c.to_le_bytes());
    }
}

fn unpack_point(b: &[u8]) -> LidarPoint {
    let f = |i: usize| f64::from_le_bytes(b[i..i + 8].try_into().expect("8 bytes"));
    let u = |i: usize| u16::from_le_bytes([b[i], b[i + 1]]);
    LidarPoint {
        x: f(0),
        y: f(8),
        z: f(16),
        intensity: u(24),
        classification: b[26],
        rgb: (b[27] != 0).then(|| [u(28), u(30), u(32)]),
    }
}

fn write_all(tx: &Transaction<'_>, imp: &Imported, srs: i32) -> Result<()> {
    let s = |e: rusqlite::Error| TwinError::invalid("store write", e);
    let g = |geom: Geometry<f64>| encode_geometry(&geom, srs);
    let mut st = tx
        .prepare_cached(
            "INSERT INTO buildings (geom, id, name, height, base_height, levels, usage, source_id, height_source, solid, attributes)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
        )
        .map_err(s)?;
    for b in &imp.buildings {
        st.execute(params![
            g(Geometry::MultiPolygon(b.footprint.clone()))?,
            b.id,
            b.name,
            b.height,
            b.base_height,
            b.levels,
            b.usage,
            b.source_id,
            b.height_source.label(),
            b.solid.as_ref().map(json),
            json(&b.attributes)
        ])
        .map_err(|e| TwinError::invalid(format!("building {}", b.id), e))?;
    }
    let mut st = tx
        .prepare_cached(
            "INSERT INTO heritage (geom, id, name, zone, height_limit_m, floor_m, attributes) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        )
        .map_err(s)?;
    for h in &imp.heritage {
        st.execute(params![
            g(Geometry::MultiPolygon(h.polygon.clone()))?,
            h.id,
            h.name,
            h.zone,
            h.height_limit_m,
            h.floor_m,
            json(&h.attributes)
        ])
        .map_err(|e| TwinError::invalid(format!("heritage site {}", h.id), e))?;
    }
    let mut st = tx
        .prepare_cached("INSERT INTO sensors (geom, id, kind, unit, name, attributes) VALUES (?1, ?2, ?3, ?4, ?5, ?6)")
        .map_err(s)?;
    for x in &imp.sensors {
        st.execute(params![
            g(Geometry::Point(x.location))?,
            x.id,
            x.kind,
            x.unit,
            x.name,
            json(&x.attributes)
        ])
        .map_err(|e| TwinError::invalid(format!("sensor {}", x.id), e))?;
    }
    let mut st = tx
        .prepare_cached(
            "INSERT INTO roads (geom, id, class, name, lanes, maxspeed_kmh, oneway, bridge, attributes)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
        )
        .map_err(s)?;
    for r in &imp.roads {
        st.execute(params![
            g(Geometry::LineString(r.line.clone()))?,
            r.id,
            r.class,
            r.name,
            r.lanes,
            r.maxspeed_kmh,
            r.oneway.label(),
            r.bridge,
            json(&r.attributes)
        ])
        .map_err(|e| TwinError::invalid(format!("road {}", r.id), e))?;
    }
    let mut st = tx
        .prepare_cached("INSERT INTO water (geom, id, kind, name) VALUES (?1, ?2, ?3, ?4)")
        .map_err(s)?;
    for w in &imp.water {
        st.execute(params![g(w.geometry.clone())?, w.id, w.kind, w.name])
            .map_err(|e| TwinError::invalid(format!("water {}", w.id), e))?;
    }
    let mut st = tx
        .prepare_cached("INSERT INTO landuse (geom, id, kind, name) VALUES (?1, ?2, ?3, ?4)")
        .map_err(s)?;
    for l in &imp.landuse {
        st.execute(params![
            g(Geometry::MultiPolygon(l.polygon.clone()))?,
            l.id,
            l.kind,
            l.name
        ])
        .map_err(|e| TwinError::invalid(format!("land use {}", l.id), e))?;
    }
    for d in &imp.dems {
        let mut blob = Vec::with_capacity(d.values.len() * 4);
        for v in &d.values {
            blob.extend_from_slice(&v.unwrap_or(f32::NAN).to_le_bytes());
        }
        tx.execute(
            "INSERT INTO terrain (name, ncols, nrows, xmin, ymax, cell_x, cell_y, elevation) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
            params![d.name, d.ncols as i64, d.nrows as i64, d.xmin, d.ymax, d.cell_x, d.cell_y, blob],
        )
        .map_err(|e| TwinError::invalid(format!("terrain {}", d.name), e))?;
    }
    for pc in &imp.pointclouds {
        tx.execute(
            "INSERT INTO pointclouds (name, source_crs, point_count) VALUES (?1, ?2, ?3)",
            params![pc.name, pc.source_crs, pc.points.len() as i64],
        )
        .map_err(s)?;
        let cloud = tx.last_insert_rowid();
        for (seq, chunk) in pc.points.chunks(POINT_CHUNK).enumerate() {
            let mut blob = Vec::with_capacity(chunk.len() * POINT_BYTES);
            chunk.iter().for_each(|p| pack_point(p, &mut blob));
            tx.execute(
                "INSERT INTO pointcloud_chunks (cloud, seq, points) VALUES (?1, ?2, ?3)",
                params![cloud, seq as i64, blob],
            )
            .map_err(s)?;
        }
    }
    Ok(())
}

/// Refresh the extents in `gpkg_contents` from the geometry envelopes (GeoPackage header
/// envelope: minx, maxx, miny, maxy at bytes 8..40).
fn update_extents(tx: &Transaction<'_>) -> rusqlite::Result<()> {
    for (t, _, _) in FEATURE_TABLES {
        let mut st = tx.prepare(&format!("SELECT geom FROM {t}"))?;
        let mut ext: Option<[f64; 4]> = None;
        let mut rows = st.query([])?;
        while let Some(r) = rows.next()? {
            let b: Vec<u8> = r.get(0)?;
            if b.len() >= 40 && (b[3] >> 1) & 0b111 != 0 {
                let f = |i: usize| f64::from_le_bytes(b[i..i + 8].try_into().expect("8 bytes"));
                let (x0, x1, y0, y1) = (f(8), f(16), f(24), f(32));
                ext = Some(match ext {
                    None => [x0, y0, x1, y1],
                    Some(e) => [e[0].min(x0), e[1].min(y0), e[2].max(x1), e[3].max(y1)],
                });
            }
        }
        let e = ext.map(|e| e.map(Some)).unwrap_or([None; 4]);
        tx.execute(
            "UPDATE gpkg_contents SET min_x = ?1, min_y = ?2, max_x = ?3, max_y = ?4,
             last_change = strftime('%Y-%m-%dT%H:%M:%fZ','now') WHERE table_name = ?5",
            params![e[0], e[1], e[2], e[3], t],
        )?;
    }
    Ok(())
}

/// Does `path` hold a store? (A quick check used by the CLI.)
pub fn exists(path: &Path) -> bool {
    path.is_file()
        && Connection::open(path).ok().and_then(|c| {
            c.query_row("PRAGMA application_id", [], |r| r.get::<_, i32>(0))
                .optional()
                .ok()
                .flatten()
        }) == Some(GPKG_APPLICATION_ID)
}
