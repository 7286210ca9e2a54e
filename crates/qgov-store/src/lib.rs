//! qgov's storage layer.
//!
//! One [`Store`] over either SQLite (the embedded default, a WAL-mode file) or
//! PostgreSQL, chosen once from the URL scheme at start-up. Queries are written once
//! in the SQL both engines share and run through sqlx's `Any` driver; schema
//! differences live in twin migration folders (`migrations/sqlite`, `migrations/postgres`)
//! with equal version numbers. Every state-changing method takes an [`Actor`] and
//! appends to the hash-chained audit log inside the same transaction, so a change and
//! its audit record are committed together or not at all.

/// A query string assembled at run time from fixed fragments (table and column names
/// chosen from closed lists, never from user input; values are always bound).
macro_rules! dyn_sql {
    ($($t:tt)*) => { sqlx::AssertSqlSafe(format!($($t)*)) };
}

mod accounts;
pub mod audit;
pub mod epcis;
mod registers;
pub mod sampling;
pub mod testing;
pub mod trace;

pub use accounts::{ApiToken, NewUser, SessionInfo, User};
pub use registers::{
    Department, ImportMode, ImportReport, Inspector, ListQuery, Location, MarketEntity, Page, Product, Refs, Register,
    RegisterKind, RowError, SortDir,
};

use sqlx::any::{AnyPoolOptions, install_default_drivers};
use sqlx::{AnyPool, Executor};
use std::str::FromStr;
use std::time::Duration;

/// The database engine behind a [`Store`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Engine {
    Sqlite,
    Postgres,
}

/// Who performs a change, as recorded on the audit trail.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Actor(pub String);

impl Actor {
    pub fn system() -> Self {
        Actor("system".into())
    }
    pub fn user(username: &str) -> Self {
        Actor(format!("user:{username}"))
    }
}

/// Errors of the storage layer.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("not found")]
    NotFound,
    /// A unique value already exists (`field` names it).
    #[error("{field} {value:?} already exists")]
    Conflict { field: &'static str, value: String },
    /// The input is well-formed but refers to something that does not exist, etc.
    #[error("invalid input: {0}")]
    Invalid(qgov_domain::FieldErrors),
    #[error("unsupported database URL {0:?}: use sqlite://PATH or postgres://…")]
    BadUrl(String),
    #[error("database error: {0}")]
    Db(#[from] sqlx::Error),
    #[error("migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("could not create the data directory {path}: {source}")]
    DataDir { path: String, source: std::io::Error },
}

pub type Result<T, E = StoreError> = std::result::Result<T, E>;

static SQLITE_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/sqlite");
static POSTGRES_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/postgres");

/// Handle to the database; cheap to clone.
#[derive(Clone, Debug)]
pub struct Store {
    pool: AnyPool,
    engine: Engine,
    /// SQLite only: the native EPCIS capture writer (see `epcis::NativeWriter`).
    epcis_writer: Option<std::sync::Arc<epcis::NativeWriter>>,
    /// SQLite only: every stored eventID in memory (see `epcis::ids`), shared with the writer.
    epcis_ids: Option<std::sync::Arc<std::sync::Mutex<epcis::ids::EventIds>>>,
    /// SQLite only: the places events name, indexed in memory (see `epcis::places`).
    epcis_places: Option<std::sync::Arc<tokio::sync::Mutex<epcis::places::PlaceIndex>>>,
}

impl Store {
    /// Connect to `url` (`sqlite://PATH` — the file and its directory are created — or
    /// `postgres://…`) and apply pending migrations.
    pub async fn connect(url: &str) -> Result<Self> {
        let store = Self::connect_without_migrating(url).await?;
        store.migrate().await?;
        Ok(store)
    }

    /// Connect without applying migrations (for `qgov migrate` and tooling).
    pub async fn connect_without_migrating(url: &str) -> Result<Self> {
        install_default_drivers();
        let engine = if url.starts_with("sqlite:") {
            Engine::Sqlite
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Engine::Postgres
        } else {
            return Err(StoreError::BadUrl(url.to_owned()));
        };
        let mut opts = AnyPoolOptions::new().acquire_timeout(Duration::from_secs(10));
        let mut epcis_writer = None;
        let epcis_ids = (engine == Engine::Sqlite).then(std::sync::Arc::<std::sync::Mutex<_>>::default);
        let epcis_places = (engine == Engine::Sqlite).then(std::sync::Arc::<tokio::sync::Mutex<_>>::default);
        let url = if engine == Engine::Sqlite {
            let path = sqlite_path(url);
            // An in-memory database is private to its connection: no second writer on it.
            if !path.is_empty() && !path.contains(":memory:") && !url.contains("mode=memory") {
                let (ids, places) = (epcis_ids.clone().expect("SQLite"), epcis_places.clone().expect("SQLite"));
                epcis_writer = Some(std::sync::Arc::new(epcis::NativeWriter::new(path.clone(), ids, places)));
            }
            if let Some(dir) = std::path::Path::new(&path).parent().filter(|d| !d.as_os_str().is_empty()) {
                std::fs::create_dir_all(dir)
                    .map_err(|source| StoreError::DataDir { path: dir.display().to_string(), source })?;
            }
            // Each connection: wait for the writer instead of failing, enforce foreign
            // keys. WAL lets readers proceed while one writer commits.
            opts = opts.max_connections(8).after_connect(|conn, _| {
                Box::pin(async move {
                    conn.execute("PRAGMA busy_timeout = 10000").await?;
                    conn.execute("PRAGMA foreign_keys = ON").await?;
                    conn.execute("PRAGMA synchronous = NORMAL").await?;
                    Ok(())
                })
            });
            format!("sqlite://{path}?mode=rwc")
        } else {
            opts = opts.max_connections(16);
            url.to_owned()
        };
        let pool = opts.connect(&url).await?;
        if engine == Engine::Sqlite {
            sqlx::query("PRAGMA journal_mode = WAL").execute(&pool).await?;
        }
        Ok(Self { pool, engine, epcis_writer, epcis_ids, epcis_places })
    }

    /// The same store with EPCIS capture through the generic `Any` path only (tests compare
    /// it with the native SQLite writer).
    #[doc(hidden)]
    pub fn without_native_epcis_writer(mut self) -> Self {
        self.epcis_writer = None;
        self
    }

    /// The same store answering place and eventID filters from the rows instead of the
    /// in-memory indexes (tests compare the two; its captures still use them).
    #[doc(hidden)]
    pub fn without_place_index(mut self) -> Self {
        self.epcis_places = None;
        self.epcis_ids = None;
        self
    }

    /// Apply pending migrations of this engine's folder.
    pub async fn migrate(&self) -> Result<()> {
        match self.engine {
            Engine::Sqlite => SQLITE_MIGRATIONS.run(&self.pool).await?,
            Engine::Postgres => POSTGRES_MIGRATIONS.run(&self.pool).await?,
        }
        self.seed_departments().await?;
        // A bulk load interrupted before it rebuilt its indexes (epcis/bulk.rs).
        let restored = self.epcis_restore_indexes().await?;
        if restored > 0 {
            tracing::warn!(restored, "rebuilt EPCIS indexes left deferred by an interrupted bulk load");
        }
        Ok(())
    }

    pub fn engine(&self) -> Engine {
        self.engine
    }

    /// Is the database reachable and answering?
    pub async fn ping(&self) -> Result<()> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }

    /// Close all connections (graceful shutdown).
    pub async fn close(&self) {
        self.pool.close().await;
    }

    /// Raw pool access for tests and tooling that must bypass the store (for example
    /// the audit tamper tests). Application code goes through the methods.
    pub fn pool(&self) -> &AnyPool {
        &self.pool
    }

    /// Seed the responsible units the outline names (idempotent).
    async fn seed_departments(&self) -> Result<()> {
        let existing: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM departments").fetch_one(&self.pool).await?;
        if existing > 0 {
            return Ok(());
        }
        for (code, name, name_en) in qgov_domain::registers::SEED_DEPARTMENTS {
            let draft = qgov_domain::registers::DepartmentDraft {
                code: (*code).to_owned(),
                name: (*name).to_owned(),
                name_en: Some((*name_en).to_owned()),
            };
            self.create_department(&Actor::system(), &draft).await?;
        }
        Ok(())
    }
}

/// The file path inside a `sqlite:` URL (query string removed).
fn sqlite_path(url: &str) -> String {
    let rest = url.trim_start_matches("sqlite://").trim_start_matches("sqlite:");
    rest.split('?').next().unwrap_or_default().to_owned()
}

/// Current time as fixed-width RFC 3339 UTC with microseconds (sorts as text).
pub fn now() -> String {
    let t = time::OffsetDateTime::now_utc();
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:06}Z",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second(),
        t.microsecond()
    )
}

/// SHA-256 hex of a secret (tokens and session ids are stored only hashed).
pub(crate) fn secret_hash(secret: &str) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(secret.as_bytes()))
}

/// A fresh random secret: 32 bytes from the OS, hex-encoded (tokens, session ids,
/// CSRF tokens).
pub fn random_secret() -> String {
    let mut b = [0u8; 32];
    rand::fill(&mut b);
    hex::encode(b)
}

/// Map a unique-constraint violation to [`StoreError::Conflict`].
pub(crate) fn on_unique(e: sqlx::Error, field: &'static str, value: &str) -> StoreError {
    match &e {
        sqlx::Error::Database(d) if d.is_unique_violation() => StoreError::Conflict { field, value: value.to_owned() },
        _ => StoreError::Db(e),
    }
}

impl FromStr for Engine {
    type Err = StoreError;
    fn from_str(s: &str) -> Result<Self> {
        match s {
            "sqlite" => Ok(Engine::Sqlite),
            "postgres" => Ok(Engine::Postgres),
            _ => Err(StoreError::BadUrl(s.to_owned())),
        }
    }
}
