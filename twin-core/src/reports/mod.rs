//! Citizen reports (Open311 GeoReport v2 service requests): their configuration in
//! `twin.toml` (`[reports]`), the durable store beside the twin, the moderation workflow and
//! the heritage flag. The HTTP side is `tile-server::open311`.
//!
//! - **Store.** `<twin>/reports/reports.sqlite`, a SQLite file of its own (not `twin.gpkg`:
//!   see ADR 0021), in WAL mode with `synchronous=FULL`: [`ReportStore::insert`] returns once
//!   the report is on disk, so a report acknowledged to its sender survives a crash.
//! - **Photos.** `<twin>/reports/photos/<blake3>.jpg|png`, written (and flushed) before the
//!   report that names them; cleaned of EXIF/XMP and other metadata first ([`photo`]).
//! - **Workflow.** [`Workflow`]: new → acknowledged → in progress → closed, set by editors
//!   ([`ReportStore::moderate`], each change kept in `report_events`); the public sees only
//!   open or closed ([`Workflow::public`]).
//! - **Personal data.** The reporter's [`Contact`] is stored for staff; the public view of a
//!   report ([`Report`] without its contact) is the caller's business: `tile-server` writes
//!   it only in the editors' routes.

pub mod photo;

use crate::error::{Result, TwinError};
use crate::store::sql_err;
use crate::twin::Twin;
use chrono::{DateTime, SecondsFormat, Utc};
use geo_types::Point;
use rusqlite::{params, Connection, OptionalExtension};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

/// The reports' folder inside a twin folder.
pub const REPORTS_DIR: &str = "reports";
/// The store's file name inside [`REPORTS_DIR`].
pub const REPORTS_FILE: &str = "reports.sqlite";
/// The photos' folder inside [`REPORTS_DIR`].
pub const PHOTOS_DIR: &str = "photos";

/// Longest description, in characters.
pub const MAX_DESCRIPTION: usize = 4000;
/// Longest short text field (names, phone, device and account ids, address), in characters.
pub const MAX_FIELD: usize = 200;

/// One kind of report a citizen can file (an Open311 service).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServiceDef {
    /// Its code (`flooding`), unique.
    pub code: String,
    /// Its name for people.
    pub name: String,
    /// A sentence on what to report under it.
    #[serde(default)]
    pub description: String,
    /// A group of services (`water`, `streets`...).
    #[serde(default)]
    pub group: String,
    /// Search words.
    #[serde(default)]
    pub keywords: Vec<String>,
    /// The agency that handles it (GeoReport's `agency_responsible`).
    #[serde(default)]
    pub agency: String,
}

/// `[reports]` in `twin.toml`: the services offered and the limits of the Open311 routes.
/// Every field has a default, so a twin without the section gets Huế's services
/// ([`default_services`]).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ReportsConfig {
    /// GeoReport's `jurisdiction_id` of this twin; a request naming another is refused.
    pub jurisdiction_id: String,
    /// The services; empty: [`default_services`].
    #[serde(rename = "service", skip_serializing_if = "Vec::is_empty")]
    pub services: Vec<ServiceDef>,
    /// New reports a client (one IP address) may send per minute, on average.
    pub per_minute: u32,
    /// Reports a client may send at once before the rate applies.
    pub burst: u32,
    /// Take the client's address from the last `X-Forwarded-For` entry (set this only behind
    /// a reverse proxy that appends it; otherwise clients could choose their own key).
    pub trust_forwarded_for: bool,
    /// Largest photo accepted, bytes.
    pub max_photo_bytes: u64,
    /// Reports listed when a query names no dates: those of the last this many days
    /// (GeoReport v2 suggests 90).
    pub default_days: u32,
    /// Most reports in one answer (GeoReport v2 suggests 1000).
    pub max_results: u32,
}

impl Default for ReportsConfig {
    fn default() -> Self {
        ReportsConfig {
            jurisdiction_id: "hue.gov.vn".into(),
            services: Vec::new(),
            per_minute: 6,
            burst: 10,
            trust_forwarded_for: false,
            max_photo_bytes: 8 << 20,
            default_days: 90,
            max_results: 1000,
        }
    }
}

impl ReportsConfig {
    /// Whether every field is the default (the section is then not written).
    pub fn is_default(&self) -> bool {
        *self == ReportsConfig::default()
    }

    /// The services offered: the configured ones, or Huế's defaults.
    pub fn services(&self) -> Vec<ServiceDef> {
        if self.services.is_empty() {
            default_services()
        } else {
            self.services.clone()
        }
    }

    /// Check the section: unique, plain service codes, limits above zero.
    pub fn check(&self) -> Result<()> {
        let bad = |what: &str, why: String| TwinError::invalid(format!("[reports] {what}"), why);
        let mut seen = std::collections::HashSet::new();
        for s in &self.services {
            let plain = !s.code.is_empty()
                && s.code.len() <= 64
                && s.code
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
            if !plain {
                return Err(bad(
                    "service.code",
                    format!("{:?}: 1-64 ASCII letters, digits, - or _", s.code),
                ));
            }
            if !seen.insert(s.code.as_str()) {
                return Err(bad("service.code", format!("{:?} is given twice", s.code)));
            }
        }
        if self.per_minute == 0 || self.burst == 0 {
            return Err(bad("per_minute/burst", "must be at least 1".into()));
        }
        if self.max_photo_bytes == 0 || self.max_photo_bytes > 64 << 20 {
            return Err(bad(
                "max_photo_bytes",
                format!("{} is not within 1..=64 MiB", self.max_photo_bytes),
            ));
        }
        if self.max_results == 0 {
            return Err(bad("max_results", "must be at least 1".into()));
        }
        Ok(())
    }
}

/// Huế's services when `twin.toml` names none: what Hue-S citizens report most.
pub fn default_services() -> Vec<ServiceDef> {
    let s = |code: &str, name: &str, description: &str, group: &str, kw: &str, agency: &str| {
        ServiceDef {
            code: code.into(),
            name: name.into(),
            description: description.into(),
            group: group.into(),
            keywords: kw.split(',').map(|k| k.trim().to_string()).collect(),
            agency: agency.into(),
        }
    };
    vec![
        s(
            "flooding",
            "Flooding (Ngập úng)",
            "Water on a street, in a house or around a monument; say how deep if you can",
            "water",
            "flood, ngập, water, nước",
            "Huế Flood and Storm Control Committee",
        ),
        s(
            "drainage",
            "Blocked drain (Cống tắc)",
            "A drain or culvert blocked or overflowing",
            "water",
            "drain, cống, culvert",
            "Huế Urban Drainage",
        ),
        s(
            "fallen-tree",
            "Fallen or dangerous tree (Cây gãy đổ)",
            "A tree or large branch down, or about to fall",
            "streets",
            "tree, cây, branch, storm",
            "Huế Parks and Trees",
        ),
        s(
            "road-damage",
            "Road damage (Hư hỏng đường)",
            "Potholes, subsidence or a broken pavement",
            "streets",
            "road, pothole, đường, ổ gà",
            "Huế Department of Transport",
        ),
        s(
            "streetlight",
            "Street light out (Đèn đường hỏng)",
            "A street light that is off or flickering",
            "streets",
            "light, đèn",
            "Huế Public Lighting",
        ),
        s(
            "rubbish",
            "Rubbish and dumping (Rác thải)",
            "Rubbish not collected or dumped illegally",
            "environment",
            "rubbish, garbage, rác",
            "Huế Urban Environment Company",
        ),
        s(
            "heritage-damage",
            "Damaged heritage (Di tích hư hỏng)",
            "Damage to a monument, wall, gate or tomb of the Complex of Huế Monuments",
            "heritage",
            "heritage, di tích, monument, citadel",
            "Huế Monuments Conservation Centre",
        ),
    ]
}

/// Where a report is in its handling. The public sees [`Workflow::public`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Workflow {
    /// Filed, not yet seen by staff.
    New,
    /// Seen by staff, accepted.
    Acknowledged,
    /// Being handled.
    InProgress,
    /// Done (fixed, or rejected with a note).
    Closed,
}

impl Workflow {
    /// Every state, in order.
    pub const ALL: [Workflow; 4] = [
        Workflow::New,
        Workflow::Acknowledged,
        Workflow::InProgress,
        Workflow::Closed,
    ];

    /// Its name (`in_progress`).
    pub fn as_str(self) -> &'static str {
        match self {
            Workflow::New => "new",
            Workflow::Acknowledged => "acknowledged",
            Workflow::InProgress => "in_progress",
            Workflow::Closed => "closed",
        }
    }

    /// Parse a name as written by [`Workflow::as_str`].
    pub fn parse(s: &str) -> Option<Workflow> {
        Workflow::ALL.into_iter().find(|w| w.as_str() == s)
    }

    /// GeoReport's public status: `closed` when closed, else `open`.
    pub fn public(self) -> PublicStatus {
        if self == Workflow::Closed {
            PublicStatus::Closed
        } else {
            PublicStatus::Open
        }
    }
}

/// GeoReport v2's status of a request.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PublicStatus {
    /// Not closed yet.
    Open,
    /// Closed.
    Closed,
}

impl PublicStatus {
    /// `open` or `closed`.
    pub fn as_str(self) -> &'static str {
        match self {
            PublicStatus::Open => "open",
            PublicStatus::Closed => "closed",
        }
    }

    /// Parse `open` or `closed` (any case).
    pub fn parse(s: &str) -> Option<PublicStatus> {
        match s.trim().to_ascii_lowercase().as_str() {
            "open" => Some(PublicStatus::Open),
            "closed" => Some(PublicStatus::Closed),
            _ => None,
        }
    }
}

/// The reporter's contact data: kept for staff, never shown publicly.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Contact {
    /// E-mail address.
    pub email: Option<String>,
    /// Phone number.
    pub phone: Option<String>,
    /// First name.
    pub first_name: Option<String>,
    /// Last name.
    pub last_name: Option<String>,
    /// The sending device's id.
    pub device_id: Option<String>,
    /// The reporter's account id in the sending app.
    pub account_id: Option<String>,
}

/// A heritage site whose zone holds a report (the report is flagged for heritage staff).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct HeritageFlag {
    /// The site's id in the twin's heritage layer.
    pub site_id: String,
    /// Its name.
    pub name: Option<String>,
    /// Its protection zone (`I`, `II`...).
    pub zone: Option<String>,
}

/// The heritage sites whose polygons hold a point of the twin's CRS (on the boundary counts),
/// found through the heritage layer's R-tree.
pub fn heritage_at(twin: &Twin, p: Point<f64>) -> Result<Vec<HeritageFlag>> {
    let hits = twin.heritage.query_radius(p, 0.0)?;
    let mut out: Vec<HeritageFlag> = hits
        .into_iter()
        .filter_map(|(i, _)| twin.heritage.get(i))
        .map(|s| HeritageFlag {
            site_id: s.id.clone(),
            name: s.name.clone(),
            zone: s.zone.clone(),
        })
        .collect();
    out.sort_by(|a, b| a.site_id.cmp(&b.site_id));
    Ok(out)
}

/// A report as filed, before it has an id.
#[derive(Clone, Debug, PartialEq)]
pub struct NewReport {
    /// The service's code (checked against the configured services by the caller).
    pub service_code: String,
    /// The service's name when filed.
    pub service_name: String,
    /// What the reporter wrote.
    pub description: Option<String>,
    /// WGS84 latitude.
    pub lat: f64,
    /// WGS84 longitude.
    pub lon: f64,
    /// An address the reporter gave.
    pub address: Option<String>,
    /// The photo's file name under the photos folder ([`ReportStore::save_photo`]).
    pub photo: Option<String>,
    /// A photo URL the reporter gave instead (GeoReport's `media_url`).
    pub media_url: Option<String>,
    /// Who reported, for staff only.
    pub contact: Contact,
    /// Heritage sites holding the point ([`heritage_at`]).
    pub heritage: Vec<HeritageFlag>,
    /// The agency the service names.
    pub agency_responsible: Option<String>,
}

/// A stored report.
#[derive(Clone, Debug, PartialEq)]
pub struct Report {
    /// Its id (GeoReport's `service_request_id`, written as a string).
    pub id: i64,
    /// What was filed.
    pub filed: NewReport,
    /// Where it is in its handling.
    pub workflow: Workflow,
    /// Staff's public note on it.
    pub status_notes: Option<String>,
    /// When it was filed, Unix seconds.
    pub requested: i64,
    /// When it last changed, Unix seconds.
    pub updated: i64,
}

/// Which reports a query wants; every given condition must hold.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ReportQuery {
    /// Only these ids.
    pub ids: Option<Vec<i64>>,
    /// Only these services.
    pub service_codes: Option<Vec<String>>,
    /// Only these public statuses.
    pub status: Option<Vec<PublicStatus>>,
    /// Only these workflow states (editors).
    pub workflow: Option<Vec<Workflow>>,
    /// Filed at or after this time, Unix seconds.
    pub start: Option<i64>,
    /// Filed at or before this time, Unix seconds.
    pub end: Option<i64>,
    /// Only inside `[min_lon, min_lat, max_lon, max_lat]` (edges count).
    pub bbox: Option<[f64; 4]>,
    /// Only reports flagged for heritage staff.
    pub heritage_only: bool,
    /// At most this many, oldest first.
    pub limit: usize,
}

/// A change of a report by an editor.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Moderation {
    /// The new workflow state.
    pub workflow: Option<Workflow>,
    /// The new public note (an empty string clears it).
    pub status_notes: Option<String>,
    /// The new agency responsible.
    pub agency_responsible: Option<String>,
    /// Who made the change (the token's id and name), kept in the report's history.
    pub by: String,
}

/// One change in a report's history.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ReportEvent {
    /// When, Unix seconds.
    pub at: i64,
    /// The state after it.
    pub workflow: Workflow,
    /// The note given with it.
    pub notes: Option<String>,
    /// Who (`reporter` for the filing).
    pub by: String,
}

/// The reports of a twin: one SQLite connection (one writer), its photos folder.
#[derive(Debug)]
pub struct ReportStore {
    path: PathBuf,
    photos: PathBuf,
    conn: Mutex<Connection>,
}

const COLUMNS: &str = "id, service_code, service_name, description, lat, lon, address, photo, media_url, \
     email, phone, first_name, last_name, device_id, account_id, heritage, agency, workflow, status_notes, requested, updated";

impl ReportStore {
    /// Open (or create) the reports of the twin in `twin_dir`: `reports/reports.sqlite` and
    /// `reports/photos/`.
    pub fn open_in(twin_dir: &Path) -> Result<ReportStore> {
        ReportStore::open(&twin_dir.join(REPORTS_DIR).join(REPORTS_FILE))
    }

    /// Open (or create) a reports file; photos go in `photos/` beside it.
    pub fn open(path: &Path) -> Result<ReportStore> {
        let dir = path.parent().unwrap_or(Path::new("."));
        let photos = dir.join(PHOTOS_DIR);
        std::fs::create_dir_all(&photos).map_err(|e| TwinError::io(&photos, e))?;
        let conn = Connection::open(path).map_err(sql_err(path))?;
        // WAL: readers are not blocked by the writer; FULL: a commit is fsynced before it
        // returns (the report is acknowledged only after).
        conn.execute_batch(
            "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; PRAGMA busy_timeout=5000;
             CREATE TABLE IF NOT EXISTS reports (
                 id INTEGER PRIMARY KEY AUTOINCREMENT,
                 service_code TEXT NOT NULL,
                 service_name TEXT NOT NULL,
                 description TEXT,
                 lat REAL NOT NULL,
                 lon REAL NOT NULL,
                 address TEXT,
                 photo TEXT,
                 media_url TEXT,
                 email TEXT, phone TEXT, first_name TEXT, last_name TEXT, device_id TEXT, account_id TEXT,
                 heritage TEXT NOT NULL,
                 agency TEXT,
                 workflow TEXT NOT NULL,
                 status_notes TEXT,
                 requested INTEGER NOT NULL,
                 updated INTEGER NOT NULL);
             CREATE INDEX IF NOT EXISTS reports_requested ON reports (requested);
             CREATE INDEX IF NOT EXISTS reports_lat ON reports (lat);
             CREATE TABLE IF NOT EXISTS report_events (
                 report INTEGER NOT NULL REFERENCES reports (id),
                 at INTEGER NOT NULL,
                 workflow TEXT NOT NULL,
                 notes TEXT,
                 by TEXT NOT NULL);
             CREATE INDEX IF NOT EXISTS report_events_report ON report_events (report);",
        )
        .map_err(sql_err(path))?;
        Ok(ReportStore {
            path: path.to_path_buf(),
            photos,
            conn: Mutex::new(conn),
        })
    }

    /// The store file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The photos folder.
    pub fn photos_dir(&self) -> &Path {
        &self.photos
    }

    fn conn(&self) -> Result<std::sync::MutexGuard<'_, Connection>> {
        self.conn.lock().map_err(|_| TwinError::Store {
            path: self.path.clone(),
            message: "the reports connection's lock is poisoned".into(),
        })
    }

    /// Write a cleaned photo ([`photo::clean`]) under the photos folder, flushed to disk with
    /// its folder entry; returns its file name (BLAKE3 of the bytes, so the sender's file name
    /// is never used).
    pub fn save_photo(&self, p: &photo::CleanPhoto) -> Result<String> {
        let name = format!("{}.{}", &blake3_hex(&p.bytes)[..32], p.format.extension());
        let path = self.photos.join(&name);
        if path.is_file() {
            return Ok(name);
        }
        let tmp = self.photos.join(format!(".{name}.tmp"));
        {
            use std::io::Write;
            let mut f = std::fs::File::create(&tmp).map_err(|e| TwinError::io(&tmp, e))?;
            f.write_all(&p.bytes)
                .and_then(|_| f.sync_all())
                .map_err(|e| TwinError::io(&tmp, e))?;
        }
        std::fs::rename(&tmp, &path).map_err(|e| TwinError::io(&path, e))?;
        crate::twin::sync_dir(&self.photos)?;
        Ok(name)
    }

    /// The path of a stored photo, when `name` is one this store makes (32 hex digits and
    /// `.jpg` or `.png`) and the file exists.
    pub fn photo_path(&self, name: &str) -> Option<PathBuf> {
        let (stem, ext) = name.split_once('.')?;
        let ok = stem.len() == 32
            && stem.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
            && matches!(ext, "jpg" | "png");
        let path = self.photos.join(name);
        (ok && path.is_file()).then_some(path)
    }

    /// Store a new report (state [`Workflow::New`], filed `now`, Unix seconds) in one
    /// transaction, durable when this returns; its id.
    pub fn insert(&self, r: &NewReport, now: i64) -> Result<i64> {
        r.check()?;
        let heritage = serde_json::to_string(&r.heritage)
            .map_err(|e| TwinError::invalid("report heritage flags", e))?;
        let mut conn = self.conn()?;
        let tx = conn.transaction().map_err(sql_err(&self.path))?;
        tx.execute(
            &format!("INSERT INTO reports ({COLUMNS}) VALUES (NULL, ?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, NULL, ?18, ?18)"),
            params![
                r.service_code,
                r.service_name,
                r.description,
                r.lat,
                r.lon,
                r.address,
                r.photo,
                r.media_url,
                r.contact.email,
                r.contact.phone,
                r.contact.first_name,
                r.contact.last_name,
                r.contact.device_id,
                r.contact.account_id,
                heritage,
                r.agency_responsible,
                Workflow::New.as_str(),
                now
            ],
        )
        .map_err(sql_err(&self.path))?;
        let id = tx.last_insert_rowid();
        tx.execute(
            "INSERT INTO report_events (report, at, workflow, notes, by) VALUES (?1, ?2, ?3, NULL, 'reporter')",
            params![id, now, Workflow::New.as_str()],
        )
        .map_err(sql_err(&self.path))?;
        tx.commit().map_err(sql_err(&self.path))?;
        Ok(id)
    }

    /// One report.
    pub fn get(&self, id: i64) -> Result<Option<Report>> {
        let conn = self.conn()?;
        conn.query_row(
            &format!("SELECT {COLUMNS} FROM reports WHERE id = ?1"),
            [id],
            row_report,
        )
        .optional()
        .map_err(sql_err(&self.path))?
        .transpose()
    }

    /// The reports a query wants, oldest first (then by id), at most `q.limit`.
    pub fn query(&self, q: &ReportQuery) -> Result<Vec<Report>> {
        let mut sql = format!("SELECT {COLUMNS} FROM reports WHERE 1 = 1");
        let mut args: Vec<rusqlite::types::Value> = Vec::new();
        let mut list = |sql: &mut String, col: &str, vals: Vec<rusqlite::types::Value>| {
            if vals.is_empty() {
                sql.push_str(" AND 0");
                return;
            }
            sql.push_str(&format!(" AND {col} IN ("));
            for (i, v) in vals.into_iter().enumerate() {
                sql.push_str(if i == 0 { "?" } else { ", ?" });
                args.push(v);
            }
            sql.push(')');
        };
        use rusqlite::types::Value as V;
        if let Some(ids) = &q.ids {
            list(&mut sql, "id", ids.iter().map(|&i| V::Integer(i)).collect());
        }
        if let Some(codes) = &q.service_codes {
            list(
                &mut sql,
                "service_code",
                codes.iter().map(|c| V::Text(c.clone())).collect(),
            );
        }
        // Public statuses as the workflow states they stand for.
        let mut states: Option<Vec<Workflow>> = q.workflow.clone();
        if let Some(st) = &q.status {
            let from_status: Vec<Workflow> = Workflow::ALL
                .into_iter()
                .filter(|w| st.contains(&w.public()))
                .collect();
            states = Some(match states {
                Some(s) => s.into_iter().filter(|w| from_status.contains(w)).collect(),
                None => from_status,
            });
        }
        if let Some(states) = states {
            list(
                &mut sql,
                "workflow",
                states.iter().map(|w| V::Text(w.as_str().into())).collect(),
            );
        }
        if let Some(s) = q.start {
            sql.push_str(" AND requested >= ?");
            args.push(V::Integer(s));
        }
        if let Some(e) = q.end {
            sql.push_str(" AND requested <= ?");
            args.push(V::Integer(e));
        }
        if let Some([x0, y0, x1, y1]) = q.bbox {
            sql.push_str(" AND lat BETWEEN ? AND ? AND lon BETWEEN ? AND ?");
            args.extend([V::Real(y0), V::Real(y1), V::Real(x0), V::Real(x1)]);
        }
        if q.heritage_only {
            sql.push_str(" AND heritage <> '[]'");
        }
        sql.push_str(" ORDER BY requested, id LIMIT ?");
        args.push(V::Integer(i64::try_from(q.limit).unwrap_or(i64::MAX)));
        let conn = self.conn()?;
        let mut stmt = conn.prepare(&sql).map_err(sql_err(&self.path))?;
        let rows = stmt
            .query_map(rusqlite::params_from_iter(args), row_report)
            .map_err(sql_err(&self.path))?;
        let mut out = Vec::new();
        for r in rows {
            out.push(r.map_err(sql_err(&self.path))??);
        }
        Ok(out)
    }

    /// Apply an editor's change at `now` (Unix seconds), durably, with an entry in the report's
    /// history; the report after it, none when there is no such report.
    pub fn moderate(&self, id: i64, m: &Moderation, now: i64) -> Result<Option<Report>> {
        if let Some(n) = &m.status_notes {
            check_text("status_notes", n, MAX_DESCRIPTION)?;
        }
        if let Some(a) = &m.agency_responsible {
            check_text("agency_responsible", a, MAX_FIELD)?;
        }
        {
            let mut conn = self.conn()?;
            let tx = conn.transaction().map_err(sql_err(&self.path))?;
            let current: Option<String> = tx
                .query_row("SELECT workflow FROM reports WHERE id = ?1", [id], |r| {
                    r.get(0)
                })
                .optional()
                .map_err(sql_err(&self.path))?;
            let Some(current) = current else {
                return Ok(None);
            };
            let workflow = m
                .workflow
                .map(Workflow::as_str)
                .unwrap_or(current.as_str())
                .to_string();
            let notes = m
                .status_notes
                .as_ref()
                .map(|n| (!n.trim().is_empty()).then(|| n.trim().to_string()));
            tx.execute(
                "UPDATE reports SET workflow = ?2, updated = ?3,
                     status_notes = CASE WHEN ?4 THEN ?5 ELSE status_notes END,
                     agency = COALESCE(?6, agency)
                 WHERE id = ?1",
                params![
                    id,
                    workflow,
                    now,
                    notes.is_some(),
                    notes.clone().flatten(),
                    m.agency_responsible
                ],
            )
            .map_err(sql_err(&self.path))?;
            tx.execute(
                "INSERT INTO report_events (report, at, workflow, notes, by) VALUES (?1, ?2, ?3, ?4, ?5)",
                params![id, now, workflow, notes.flatten(), m.by],
            )
            .map_err(sql_err(&self.path))?;
            tx.commit().map_err(sql_err(&self.path))?;
        }
        self.get(id)
    }

    /// A report's history, oldest first.
    pub fn events(&self, id: i64) -> Result<Vec<ReportEvent>> {
        let conn = self.conn()?;
        let mut stmt = conn
            .prepare("SELECT at, workflow, notes, by FROM report_events WHERE report = ?1 ORDER BY rowid")
            .map_err(sql_err(&self.path))?;
        let rows = stmt
            .query_map([id], |r| {
                Ok((
                    r.get::<_, i64>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, Option<String>>(2)?,
                    r.get::<_, String>(3)?,
                ))
            })
            .map_err(sql_err(&self.path))?;
        let mut out = Vec::new();
        for row in rows {
            let (at, w, notes, by) = row.map_err(sql_err(&self.path))?;
            out.push(ReportEvent {
                at,
                workflow: parse_workflow(&w)?,
                notes,
                by,
            });
        }
        Ok(out)
    }

    /// How many reports are stored.
    pub fn count(&self) -> Result<u64> {
        let conn = self.conn()?;
        conn.query_row("SELECT count(*) FROM reports", [], |r| r.get::<_, i64>(0))
            .map(|n| n.max(0) as u64)
            .map_err(sql_err(&self.path))
    }
}

fn parse_workflow(s: &str) -> Result<Workflow> {
    Workflow::parse(s).ok_or_else(|| TwinError::invalid("stored report workflow", s))
}

fn row_report(r: &rusqlite::Row<'_>) -> rusqlite::Result<Result<Report>> {
    let heritage: String = r.get(15)?;
    let workflow: String = r.get(17)?;
    let heritage = match serde_json::from_str(&heritage) {
        Ok(h) => h,
        Err(e) => return Ok(Err(TwinError::invalid("stored report heritage flags", e))),
    };
    let workflow = match parse_workflow(&workflow) {
        Ok(w) => w,
        Err(e) => return Ok(Err(e)),
    };
    Ok(Ok(Report {
        id: r.get(0)?,
        filed: NewReport {
            service_code: r.get(1)?,
            service_name: r.get(2)?,
            description: r.get(3)?,
            lat: r.get(4)?,
            lon: r.get(5)?,
            address: r.get(6)?,
            photo: r.get(7)?,
            media_url: r.get(8)?,
            contact: Contact {
                email: r.get(9)?,
                phone: r.get(10)?,
                first_name: r.get(11)?,
                last_name: r.get(12)?,
                device_id: r.get(13)?,
                account_id: r.get(14)?,
            },
            heritage,
            agency_responsible: r.get(16)?,
        },
        workflow,
        status_notes: r.get(18)?,
        requested: r.get(19)?,
        updated: r.get(20)?,
    }))
}

/// A text field within `max` characters and free of control characters (new lines and tabs
/// allowed).
pub fn check_text(field: &str, s: &str, max: usize) -> Result<()> {
    let n = s.chars().count();
    if n > max {
        return Err(TwinError::invalid(
            field,
            format!("{n} characters, at most {max} are accepted"),
        ));
    }
    if s.chars()
        .any(|c| c.is_control() && !matches!(c, '\n' | '\r' | '\t'))
    {
        return Err(TwinError::invalid(
            field,
            "control characters are not accepted",
        ));
    }
    Ok(())
}

impl NewReport {
    /// Check the fields: a finite WGS84 point, texts within their lengths and without control
    /// characters (the error names the field). [`ReportStore::insert`] checks it too.
    pub fn check(&self) -> Result<()> {
        check_new(self)
    }
}

fn check_new(r: &NewReport) -> Result<()> {
    if !(r.lat.is_finite() && (-90.0..=90.0).contains(&r.lat)) {
        return Err(TwinError::invalid(
            "lat",
            format!("{} is not a latitude", r.lat),
        ));
    }
    if !(r.lon.is_finite() && (-180.0..=180.0).contains(&r.lon)) {
        return Err(TwinError::invalid(
            "long",
            format!("{} is not a longitude", r.lon),
        ));
    }
    if let Some(d) = &r.description {
        check_text("description", d, MAX_DESCRIPTION)?;
    }
    let c = &r.contact;
    for (field, v) in [
        ("address_string", &r.address),
        ("email", &c.email),
        ("phone", &c.phone),
        ("first_name", &c.first_name),
        ("last_name", &c.last_name),
        ("device_id", &c.device_id),
        ("account_id", &c.account_id),
    ] {
        if let Some(v) = v {
            check_text(field, v, MAX_FIELD)?;
        }
    }
    Ok(())
}

fn blake3_hex(bytes: &[u8]) -> String {
    blake3::hash(bytes).to_hex().to_string()
}

/// A time as GeoReport v2 writes it: W3C/RFC 3339 in UTC, whole seconds
/// (`2026-10-27T03:00:00Z`).
pub fn format_time(unix_seconds: i64) -> String {
    DateTime::<Utc>::from_timestamp(unix_seconds, 0)
        .unwrap_or_default()
        .to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// Parse a W3C/RFC 3339 time with its offset (`2026-10-27T10:00:00+07:00`, `...Z`) into Unix
/// seconds (a fraction is dropped).
pub fn parse_time(field: &str, s: &str) -> Result<i64> {
    DateTime::parse_from_rfc3339(s.trim())
        .map(|t| t.timestamp())
        .map_err(|e| {
            TwinError::invalid(
                field,
                format!("{s:?} is not a W3C datetime such as 2026-10-27T10:00:00+07:00 ({e})"),
            )
        })
}

/// The time now, Unix seconds.
pub fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_round_trip() {
        let t = parse_time("start_date", "2025-10-27T10:00:00+07:00").unwrap();
        assert_eq!(format_time(t), "2025-10-27T03:00:00Z");
        assert!(parse_time("end_date", "yesterday").is_err());
    }

    #[test]
    fn public_status_of_workflow() {
        assert_eq!(Workflow::InProgress.public(), PublicStatus::Open);
        assert_eq!(Workflow::Closed.public(), PublicStatus::Closed);
        for w in Workflow::ALL {
            assert_eq!(Workflow::parse(w.as_str()), Some(w));
        }
    }

    #[test]
    fn default_services_are_valid() {
        let c = ReportsConfig::default();
        c.check().unwrap();
        assert!(c.services().len() >= 5);
    }
}
