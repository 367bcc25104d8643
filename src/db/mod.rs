//! The database: one connection type over SQLite and PostgreSQL, its pool,
//! per-connection settings and the embedded migrations.

pub mod schema;

use std::time::Duration;

use diesel::connection::SimpleConnection;
use diesel::r2d2::{self, ManageConnection, R2D2Connection};
use diesel::{Connection, ConnectionError, PgConnection, SqliteConnection};
use diesel_migrations::{embed_migrations, EmbeddedMigrations, MigrationHarness};

/// A connection to either backend. Services take `&mut AnyConnection`, so the
/// same function runs alone or inside a caller's transaction.
#[derive(diesel::MultiConnection)]
pub enum AnyConnection {
    Postgresql(PgConnection),
    Sqlite(SqliteConnection),
}

pub type Pool = r2d2::Pool<Manager>;
pub type PooledConnection = r2d2::PooledConnection<Manager>;

const SQLITE_MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations/sqlite");
const POSTGRES_MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations/postgres");

/// Where the data lives, parsed from `DATABASE_URL`.
///
/// We choose the backend from the scheme ourselves: diesel's multi-connection
/// `establish` would quietly open `postgres:typo` as a SQLite file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DatabaseUrl {
    Sqlite { path: String },
    Postgres { url: String },
}

impl DatabaseUrl {
    /// Parses `sqlite://PATH` (or `sqlite::memory:`) and `postgres://…` / `postgresql://…`.
    pub fn parse(raw: &str) -> Result<Self, String> {
        let raw = raw.trim();
        if let Some(path) = raw.strip_prefix("sqlite://") {
            if path.is_empty() {
                return Err("DATABASE_URL `sqlite://` needs a file path, e.g. sqlite://leadbook.db".into());
            }
            return Ok(Self::Sqlite { path: path.to_string() });
        }
        if raw == "sqlite::memory:" {
            return Ok(Self::Sqlite {
                path: ":memory:".into(),
            });
        }
        if raw.starts_with("postgres://") || raw.starts_with("postgresql://") {
            let parsed =
                url::Url::parse(raw).map_err(|e| format!("DATABASE_URL is not a valid PostgreSQL URL ({e})"))?;
            if parsed.host_str().unwrap_or("").is_empty() && parsed.query().is_none() {
                return Err("DATABASE_URL names no PostgreSQL host, e.g. postgres://user@localhost/leadbook".into());
            }
            return Ok(Self::Postgres { url: raw.to_string() });
        }
        let shown = match raw.split_once(':') {
            Some((scheme, _)) => format!("scheme `{scheme}:`"),
            None => format!("`{raw}`"),
        };
        Err(format!(
            "DATABASE_URL has an unsupported {shown}: use sqlite://PATH or postgres://USER@HOST/DB"
        ))
    }

    pub fn is_sqlite(&self) -> bool {
        matches!(self, Self::Sqlite { .. })
    }

    /// The URL as it may be logged: a PostgreSQL password replaced by `***`.
    pub fn shown(&self) -> String {
        match self {
            Self::Sqlite { path } => format!("sqlite://{path}"),
            Self::Postgres { url } => match url::Url::parse(url) {
                Ok(mut parsed) if parsed.password().is_some() => {
                    let _ = parsed.set_password(Some("***"));
                    parsed.to_string()
                }
                _ => url.clone(),
            },
        }
    }
}

/// Waits for the database to answer before the server starts: a server
/// started beside its database (a reboot, `docker compose up`) would
/// otherwise exit because the database was a second late. Tries `attempts`
/// times, waiting 1 s, then twice as long each time up to 10 s, and says
/// each time what failed; the last failure is the error.
pub fn wait_until_reachable(url: &DatabaseUrl, attempts: u32) -> Result<(), String> {
    let mut wait = Duration::from_secs(1);
    for attempt in 1..=attempts.max(1) {
        // libpq's messages end in a newline and may hold several lines:
        // one line each here, so a log reader sees one event per attempt.
        let one_line = |e: ConnectionError| e.to_string().split_whitespace().collect::<Vec<_>>().join(" ");
        match establish(url).map_err(one_line) {
            Ok(_) => return Ok(()),
            Err(e) if attempt < attempts => {
                tracing::warn!(
                    "cannot reach the database at {} ({e}); retrying in {} s (attempt {attempt} of {attempts})",
                    url.shown(),
                    wait.as_secs()
                );
                std::thread::sleep(wait);
                wait = (wait * 2).min(Duration::from_secs(10));
            }
            Err(e) => {
                return Err(format!(
                    "the database at {} could not be reached after {attempts} attempt(s): {e}",
                    url.shown()
                ))
            }
        }
    }
    unreachable!("the loop returns on its last attempt")
}

/// Opens connections for the pool, applying SQLite's per-connection pragmas.
#[derive(Debug, Clone)]
pub struct Manager {
    url: DatabaseUrl,
}

impl Manager {
    pub fn new(url: DatabaseUrl) -> Self {
        Self { url }
    }
}

/// Opens one connection to the database.
/// A SQLite connection's memory settings: 256 MB of memory-mapped reads, a
/// 16 MB page cache and SQLite's usual checkpoint every 1,000 WAL pages
/// (work that needs other settings, such as an import's commit, puts these
/// back before the connection returns to the pool).
pub const SQLITE_CACHE_PRAGMAS: &str =
    "PRAGMA mmap_size = 268435456; PRAGMA cache_size = -16000; PRAGMA wal_autocheckpoint = 1000;";

pub fn establish(url: &DatabaseUrl) -> Result<AnyConnection, ConnectionError> {
    match url {
        DatabaseUrl::Postgres { url } => PgConnection::establish(url).map(AnyConnection::Postgresql),
        DatabaseUrl::Sqlite { path } => {
            let mut conn = SqliteConnection::establish(path)?;
            // WAL lets readers run beside the writer; busy_timeout (set first, so
            // that a new file's switch to WAL waits too) makes a second writer
            // wait instead of failing; foreign keys are off by default.
            // Memory-mapped reads share the OS page cache between pooled
            // connections instead of each re-reading pages by syscall.
            conn.batch_execute(
                "PRAGMA busy_timeout = 5000; PRAGMA journal_mode = WAL; PRAGMA foreign_keys = ON; \
                 PRAGMA synchronous = NORMAL;",
            )
            .and_then(|()| conn.batch_execute(SQLITE_CACHE_PRAGMAS))
            .map_err(ConnectionError::CouldntSetupConfiguration)?;
            Ok(AnyConnection::Sqlite(conn))
        }
    }
}

impl ManageConnection for Manager {
    type Connection = AnyConnection;
    type Error = r2d2::Error;

    fn connect(&self) -> Result<AnyConnection, r2d2::Error> {
        establish(&self.url).map_err(r2d2::Error::ConnectionError)
    }

    fn is_valid(&self, conn: &mut AnyConnection) -> Result<(), r2d2::Error> {
        conn.ping().map_err(r2d2::Error::QueryError)
    }

    fn has_broken(&self, conn: &mut AnyConnection) -> bool {
        std::thread::panicking() || conn.is_broken()
    }
}

/// Builds the pool. SQLite has one writer at a time, so a few connections
/// suffice. `wait` bounds how long a request waits for a connection (while
/// the database is down: then it is answered 503).
pub fn pool(url: &DatabaseUrl, max_size: u32, wait: Duration) -> Result<Pool, String> {
    r2d2::Pool::builder()
        .max_size(max_size)
        // r2d2 would run a ping query before lending each connection: one
        // extra round trip per request. Broken connections are still found
        // by `has_broken` and by the query that meets them.
        .test_on_check_out(false)
        .connection_timeout(wait)
        .build(Manager::new(url.clone()))
        .map_err(|e| format!("cannot connect to the database: {e}"))
}

/// Applies the pending migrations of the connection's backend.
pub fn migrate(conn: &mut AnyConnection) -> Result<usize, String> {
    let applied = match conn {
        AnyConnection::Sqlite(c) => c.run_pending_migrations(SQLITE_MIGRATIONS).map(|v| v.len()),
        AnyConnection::Postgresql(c) => c.run_pending_migrations(POSTGRES_MIGRATIONS).map(|v| v.len()),
    };
    applied.map_err(|e| format!("database migration failed: {e}"))
}

/// Serialises this process's SQLite write transactions (see `write_transaction`).
static SQLITE_WRITER: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// Runs `work` in a transaction that writes. On SQLite it starts with
/// `BEGIN IMMEDIATE`: a plain `BEGIN` that reads first fails at once with
/// SQLITE_BUSY when another connection wrote meanwhile, whereas an immediate
/// one waits its turn (`busy_timeout`). Nested transactions inside `work`
/// become savepoints as usual.
pub fn write_transaction<T, E>(
    conn: &mut AnyConnection,
    work: impl FnOnce(&mut AnyConnection) -> Result<T, E>,
) -> Result<T, E>
where
    E: From<diesel::result::Error>,
{
    use diesel::connection::{AnsiTransactionManager, TransactionManager};
    let AnyConnection::Sqlite(sqlite) = conn else {
        return conn.transaction(work);
    };
    if AnsiTransactionManager::transaction_manager_status_mut(sqlite)
        .transaction_depth()?
        .is_some()
    {
        // Already inside a transaction: an ordinary savepoint.
        return conn.transaction(work);
    }
    // One writer at a time within this process: waiting on a mutex wakes
    // the next writer the moment the last one commits, where SQLite's busy
    // handler sleeps in growing steps (up to 100 ms) and, with many
    // concurrent writers, spent most of its time asleep. Other processes on
    // the same file still wait through `busy_timeout`.
    let _writer = SQLITE_WRITER.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    AnsiTransactionManager::begin_transaction_sql(sqlite, "BEGIN IMMEDIATE")?;
    let result = work(conn);
    let AnyConnection::Sqlite(sqlite) = conn else {
        unreachable!("the backend does not change")
    };
    match result {
        Ok(value) => {
            AnsiTransactionManager::commit_transaction(sqlite)?;
            Ok(value)
        }
        Err(e) => {
            let _ = AnsiTransactionManager::rollback_transaction(sqlite);
            Err(e)
        }
    }
}
