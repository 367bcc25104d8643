//! Import (docs/decisions.md, "Import"): a CSV file of contacts, read whole into a staging
//! area and checked (the dry run), then committed in batches with its
//! progress and counts in the database — one service for the pages and the
//! command line.
//!
//! The pipeline:
//! 1. [`start`] records the import (state `checking`);
//! 2. [`check`] reads the file once, streaming: the header is mapped to
//!    columns, each row is staged in `import_rows` with the person it folds
//!    into, then each person is checked and matched against the contacts to
//!    count what would happen (state `ready`, or `failed` with a message when
//!    the file itself is refused, with its staged rows removed);
//! 3. [`commit`] writes the people batch by batch (state `committing`, then
//!    `done`); it resumes from the last committed batch when run again after
//!    a crash.

mod file;
mod people;
mod stage;

pub use self::stage::Staged;

use std::collections::HashSet;
use std::fmt;
use std::io::{Read, Write};
use std::sync::mpsc;

use chrono::{NaiveDateTime, SubsecRound};
use diesel::prelude::*;
use phonenumber::country::Id as CountryId;

use self::file::Layout;
use super::attributes::{self, Definition};
use super::export;
use super::users::Actor;
use crate::db::schema::{import_rows, imports, users};
use crate::db::{write_transaction, AnyConnection};
use crate::error::AppError;

/// Where an import stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ImportState {
    /// The file is being read and checked.
    Checking,
    /// Checked: the preview is ready and the import waits to be committed.
    Ready,
    /// Being written (or cut off while being written: see [`Import::is_stalled`]).
    Committing,
    Done,
    /// The file was refused (see [`Import::error`]); nothing was written.
    Failed,
}

/// Rows by outcome.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct Counts {
    pub created: i64,
    pub updated: i64,
    pub skipped: i64,
    pub rejected: i64,
}

impl fmt::Display for Counts {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "created {}, updated {}, skipped {}, rejected {}",
            self.created, self.updated, self.skipped, self.rejected
        )
    }
}

/// How one column of the file is read.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Column {
    /// The header as written in the file.
    pub header: String,
    /// What it fills, in words: `name`, `phone_number`, `custom attribute plan`,
    /// `ignored (information column)`, `ignored`.
    pub target: String,
}

/// What the user chose when uploading.
#[derive(Debug, Clone, Default)]
pub struct ImportOptions {
    pub file_name: String,
    /// Columns to ignore, by header (any case).
    pub ignore: Vec<String>,
    /// Ignore every column that is neither standard nor a custom attribute.
    pub ignore_unknown: bool,
    /// Read and stage the file but do not count what would happen: for a
    /// commit that follows at once (the command line without `--dry-run`).
    pub skip_dry_run: bool,
}

/// An import's record.
#[derive(Debug, Clone)]
pub struct Import {
    pub id: i32,
    pub user_id: i32,
    pub user_name: String,
    pub file_name: String,
    pub state: ImportState,
    /// Why the file was refused, when it was.
    pub error: Option<String>,
    pub columns: Vec<Column>,
    /// Rows in the file (after the header).
    pub total_rows: i64,
    /// Rows checked or written so far in the current step.
    pub done_rows: i64,
    /// What the dry run found would happen.
    pub planned: Counts,
    /// What the commit did so far.
    pub counts: Counts,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
    pub finished_at: Option<NaiveDateTime>,
}

/// A row the import refused, as it was in the file.
#[derive(Debug, Clone, serde::Serialize)]
pub struct RejectedRow {
    /// The line of the file the row starts on (the header is line 1).
    pub line: i64,
    pub cells: Vec<String>,
    pub error: String,
}

impl ImportState {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Checking => "checking",
            Self::Ready => "ready",
            Self::Committing => "committing",
            Self::Done => "done",
            Self::Failed => "failed",
        }
    }

    fn parse(s: &str) -> Self {
        match s {
            "checking" => Self::Checking,
            "ready" => Self::Ready,
            "committing" => Self::Committing,
            "done" => Self::Done,
            _ => Self::Failed,
        }
    }
}

impl Import {
    /// Percent of the current step done, for a progress bar.
    pub fn percent(&self) -> i64 {
        if self.total_rows == 0 {
            0
        } else {
            (self.done_rows * 100 / self.total_rows).clamp(0, 100)
        }
    }

    /// A commit that has not moved for [`STALL_SECONDS`]: its process died,
    /// and committing again resumes it.
    pub fn is_stalled(&self, now: NaiveDateTime) -> bool {
        self.state == ImportState::Committing && (now - self.updated_at).num_seconds() >= STALL_SECONDS
    }
}

/// A commit writes a batch at least every few seconds; one silent this long
/// has stopped.
pub const STALL_SECONDS: i64 = 60;

/// Leads and admins import (docs/decisions.md, "Roles").
pub fn check_allowed(actor: &Actor) -> Result<(), AppError> {
    actor.require(actor.role.can_assign(), "import contacts")
}

/// Rows the check reads per batch.
const CHECK_ROWS: i64 = 2_000;

/// Rows a commit writes per transaction. Bigger batches write much faster
/// (SQLite's search index flushes a segment per transaction: 100,000 rows
/// took 20 s in batches of 2,000 and 8 s in batches of 20,000), at the cost
/// of holding SQLite's write lock for about a second per batch.
const COMMIT_ROWS: i64 = 10_000;

fn now() -> NaiveDateTime {
    // PostgreSQL keeps microseconds: the same instant on both backends.
    chrono::Utc::now().naive_utc().trunc_subsecs(6)
}

type ImportRow = (
    (i32, i32, String, String, Option<String>, String, String, String),
    (i64, i64, i64, i64, i64, i64, i64, i64, i64, i64, i64),
    (NaiveDateTime, NaiveDateTime, Option<NaiveDateTime>),
    String,
);

fn load(conn: &mut AnyConnection, filter: Option<i32>, limit: i64) -> Result<Vec<Import>, AppError> {
    let mut query = imports::table
        .inner_join(users::table)
        .select((
            (
                imports::id,
                imports::user_id,
                imports::file_name,
                imports::state,
                imports::error,
                imports::delimiter,
                imports::header,
                imports::mapping,
            ),
            (
                imports::total_rows,
                imports::done_rows,
                imports::cursor_person,
                imports::planned_created,
                imports::planned_updated,
                imports::planned_skipped,
                imports::planned_rejected,
                imports::created,
                imports::updated,
                imports::skipped,
                imports::rejected,
            ),
            (imports::created_at, imports::updated_at, imports::finished_at),
            users::name,
        ))
        .order(imports::id.desc())
        .limit(limit)
        .into_boxed();
    if let Some(id) = filter {
        query = query.filter(imports::id.eq(id));
    }
    let rows: Vec<ImportRow> = query.load(conn)?;
    Ok(rows
        .into_iter()
        .map(|(a, b, c, user_name)| Import {
            id: a.0,
            user_id: a.1,
            user_name,
            file_name: a.2,
            state: ImportState::parse(&a.3),
            error: a.4,
            columns: serde_json::from_str(&a.7).unwrap_or_default(),
            total_rows: b.0,
            done_rows: b.1,
            planned: Counts {
                created: b.3,
                updated: b.4,
                skipped: b.5,
                rejected: b.6,
            },
            counts: Counts {
                created: b.7,
                updated: b.8,
                skipped: b.9,
                rejected: b.10,
            },
            created_at: c.0,
            updated_at: c.1,
            finished_at: c.2,
        })
        .collect())
}

fn find(conn: &mut AnyConnection, id: i32) -> Result<Import, AppError> {
    load(conn, Some(id), 1)?
        .pop()
        .ok_or_else(|| AppError::not_found(&format!("Import #{id}")))
}

/// One import (leads and admins).
pub fn get(conn: &mut AnyConnection, actor: &Actor, id: i32) -> Result<Import, AppError> {
    check_allowed(actor)?;
    find(conn, id)
}

/// The latest imports, newest first (leads and admins).
pub fn recent(conn: &mut AnyConnection, actor: &Actor, limit: i64) -> Result<Vec<Import>, AppError> {
    check_allowed(actor)?;
    load(conn, None, limit)
}

/// Records a new import for `actor` (state `checking`); [`check`] reads its file.
pub fn start(conn: &mut AnyConnection, actor: &Actor, options: &ImportOptions) -> Result<i32, AppError> {
    check_allowed(actor)?;
    let name: String = options
        .file_name
        .trim()
        .chars()
        .filter(|c| !c.is_control())
        .take(200)
        .collect();
    let now = now();
    Ok(diesel::insert_into(imports::table)
        .values((
            imports::user_id.eq(actor.id),
            imports::file_name.eq(if name.is_empty() { "import.csv".into() } else { name }),
            imports::state.eq(ImportState::Checking.as_str()),
            imports::created_at.eq(now),
            imports::updated_at.eq(now),
        ))
        .returning(imports::id)
        .get_result(conn)?)
}

fn set_progress(conn: &mut AnyConnection, id: i32, done: i64) -> Result<(), AppError> {
    diesel::update(imports::table.find(id))
        .set((imports::done_rows.eq(done), imports::updated_at.eq(now())))
        .execute(conn)?;
    Ok(())
}

/// Refuses the file: its staged rows go, the message stays on the record.
fn refuse(conn: &mut AnyConnection, id: i32, message: String) -> Result<AppError, AppError> {
    diesel::delete(import_rows::table.filter(import_rows::import_id.eq(id))).execute(conn)?;
    diesel::update(imports::table.find(id))
        .set((
            imports::state.eq(ImportState::Failed.as_str()),
            imports::error.eq(&message),
            imports::finished_at.eq(now()),
        ))
        .execute(conn)?;
    Ok(AppError::BadRequest(message))
}

/// The layout saved with an import, read back.
fn saved_layout(conn: &mut AnyConnection, id: i32, defs: &[Definition]) -> Result<Layout, AppError> {
    let (delimiter, header, ignore): (String, String, String) = imports::table
        .find(id)
        .select((imports::delimiter, imports::header, imports::mapping))
        .first(conn)?;
    let header: Vec<String> = serde_json::from_str(&header).map_err(AppError::internal)?;
    let columns: Vec<Column> = serde_json::from_str(&ignore).map_err(AppError::internal)?;
    let targets = header
        .iter()
        .zip(&columns)
        .map(|(h, c)| file::target_of(h, &c.target, defs))
        .collect::<Result<Vec<_>, String>>()
        .map_err(AppError::Conflict)?;
    Ok(Layout {
        delimiter: delimiter.bytes().next().unwrap_or(b','),
        header,
        targets,
    })
}

/// How a header maps to columns under these options.
fn layout_of<'a>(
    defs: &'a [Definition],
    options: &'a ImportOptions,
    delimiter: u8,
) -> impl FnOnce(&csv::ByteRecord) -> Result<Layout, String> + 'a {
    move |header| {
        let (header, targets) = file::map_header(header, defs, &options.ignore, options.ignore_unknown)?;
        Ok(Layout {
            delimiter,
            header,
            targets,
        })
    }
}

/// Reads a file exactly as [`check`] stages it — the same refusals, rows,
/// problems and people — but into memory, without a database: what the
/// fuzz targets drive. Returns the header and the rows as staged.
pub fn read_file(
    file: impl Read,
    defs: &[Definition],
    options: &ImportOptions,
    country: CountryId,
) -> Result<(Vec<String>, Vec<stage::Staged>), String> {
    let (delimiter, reader) = file::open(file)?;
    let (layout, rows) = stage::read(reader, delimiter, layout_of(defs, options, delimiter), country)?;
    Ok((layout.header, rows))
}

/// Reads and checks the file of import `id`: stages every row, then counts
/// what a commit would do (the dry run). A file refused as a whole answers
/// `BadRequest` with the reason, and leaves nothing staged.
pub fn check(
    conn: &mut AnyConnection,
    id: i32,
    file: impl Read + Send,
    options: &ImportOptions,
    country: CountryId,
    mut progress: impl FnMut(&str, i64, i64),
) -> Result<Import, AppError> {
    let defs = attributes::definitions(conn)?;
    let (delimiter, reader) = match file::open(file) {
        Ok(opened) => opened,
        Err(message) => return Err(refuse(conn, id, message)?),
    };
    let layout_of = layout_of(&defs, options, delimiter);
    let staging = std::time::Instant::now();
    let staged = stage::stage(conn, id, reader, delimiter, layout_of, country, |conn, n| {
        progress("reading", n, 0);
        set_progress(conn, id, n)
    })?;
    tracing::debug!(seconds = staging.elapsed().as_secs_f64(), "import staged");
    let (layout, total) = match staged {
        Ok(staged) => staged,
        Err(message) => return Err(refuse(conn, id, message)?),
    };
    let info: Vec<String> = export::INFO_COLUMNS.iter().map(|c| c.to_string()).collect();
    let columns = layout.columns(&defs, &info);
    diesel::update(imports::table.find(id))
        .set((
            imports::delimiter.eq((layout.delimiter as char).to_string()),
            imports::header.eq(serde_json::to_string(&layout.header).map_err(AppError::internal)?),
            imports::mapping.eq(serde_json::to_string(&columns).map_err(AppError::internal)?),
            imports::total_rows.eq(total),
            imports::done_rows.eq(0),
        ))
        .execute(conn)?;
    let planned = if options.skip_dry_run {
        Counts::default()
    } else {
        pass(conn, id, &layout, &defs, country, None, &mut |n| {
            progress("checking", n, total)
        })?
    };
    diesel::update(imports::table.find(id))
        .set((
            imports::state.eq(ImportState::Ready.as_str()),
            imports::planned_created.eq(planned.created),
            imports::planned_updated.eq(planned.updated),
            imports::planned_skipped.eq(planned.skipped),
            imports::planned_rejected.eq(planned.rejected),
            imports::done_rows.eq(total),
            imports::updated_at.eq(now()),
        ))
        .execute(conn)?;
    find(conn, id)
}

/// Marks a checked import as committing, or takes over one whose commit
/// stalled (its process died): the caller then runs [`commit`].
pub fn begin_commit(conn: &mut AnyConnection, actor: &Actor, id: i32) -> Result<Import, AppError> {
    check_allowed(actor)?;
    write_transaction(conn, |conn| {
        let import = find(conn, id)?;
        match import.state {
            ImportState::Ready => {}
            ImportState::Committing if import.is_stalled(now()) => {}
            ImportState::Committing => {
                return Err(AppError::Conflict("This import is being committed already.".into()))
            }
            ImportState::Done => return Err(AppError::Conflict("This import is committed already.".into())),
            ImportState::Checking => {
                return Err(AppError::Conflict("This import's file is still being checked.".into()))
            }
            ImportState::Failed => {
                return Err(AppError::Conflict(
                    "This import's file was refused; upload a corrected file.".into(),
                ))
            }
        }
        // The check left done_rows at the total: a fresh commit starts from
        // nothing written (a resumed one keeps what its batches wrote).
        let done = if import.state == ImportState::Ready {
            0
        } else {
            import.done_rows
        };
        // Only if nobody took it meanwhile: on PostgreSQL two requests can
        // both have read `ready` (a double click), and one must lose.
        let taken = diesel::update(
            imports::table
                .find(id)
                .filter(imports::state.eq(import.state.as_str()))
                .filter(imports::updated_at.eq(import.updated_at)),
        )
        .set((
            imports::error.eq(None::<String>),
            imports::state.eq(ImportState::Committing.as_str()),
            imports::done_rows.eq(done),
            imports::updated_at.eq(now()),
        ))
        .execute(conn)?;
        if taken == 0 {
            return Err(AppError::Conflict("This import is being committed already.".into()));
        }
        find(conn, id)
    })
}

/// Writes a committing import, batch by batch, each batch with the import's
/// progress in one transaction; resumes after the last batch written.
pub fn commit(
    conn: &mut AnyConnection,
    actor: &Actor,
    id: i32,
    country: CountryId,
    progress: impl FnMut(i64, i64),
) -> Result<Import, AppError> {
    check_allowed(actor)?;
    let import = find(conn, id)?;
    if import.state != ImportState::Committing {
        return Err(AppError::Conflict(
            "Only an import being committed can be written.".into(),
        ));
    }
    if let AnyConnection::Sqlite(c) = conn {
        use diesel::connection::SimpleConnection;
        // Its own page cache rather than memory-mapped reads, which would
        // count a big database's pages as this process's memory.
        c.batch_execute("PRAGMA temp_store = MEMORY; PRAGMA cache_size = -65536; PRAGMA mmap_size = 0; PRAGMA wal_autocheckpoint = 8192;")?;
    }
    let written = write_all(conn, actor, &import, country, progress);
    if let AnyConnection::Sqlite(c) = conn {
        use diesel::connection::SimpleConnection;
        // The connection may go back to a pool: the usual settings again.
        c.batch_execute(crate::db::SQLITE_CACHE_PRAGMAS)?;
    }
    if let Err(e) = &written {
        // The batches written so far stay; the import shows as stalled and
        // can be resumed. Keep the reason where its page can show it.
        let _ = diesel::update(imports::table.find(id))
            .set(imports::error.eq(format!("The last attempt to commit stopped: {e}")))
            .execute(conn);
    }
    written
}

fn write_all(
    conn: &mut AnyConnection,
    actor: &Actor,
    import: &Import,
    country: CountryId,
    mut progress: impl FnMut(i64, i64),
) -> Result<Import, AppError> {
    let id = import.id;
    let defs = attributes::definitions(conn)?;
    let layout = saved_layout(conn, id, &defs)?;
    let writer = people::Writer {
        actor_id: actor.id,
        now: now(),
    };
    let total = import.total_rows;
    let counts = pass(conn, id, &layout, &defs, country, Some(writer), &mut |n| {
        progress(n, total)
    })?;
    diesel::update(imports::table.find(id))
        .set((
            imports::state.eq(ImportState::Done.as_str()),
            imports::created.eq(counts.created),
            imports::updated.eq(counts.updated),
            imports::skipped.eq(counts.skipped),
            imports::rejected.eq(counts.rejected),
            imports::done_rows.eq(total),
            imports::updated_at.eq(now()),
            imports::finished_at.eq(now()),
        ))
        .execute(conn)?;
    let summary = format!(
        "imported {} ({} rows): created {}, updated {}, skipped {}, rejected {}",
        import.file_name, total, counts.created, counts.updated, counts.skipped, counts.rejected
    );
    let changed = (counts.created + counts.updated).max(0) as usize;
    crate::service::activity::record(
        conn,
        Some(actor),
        crate::service::activity::Action::Import,
        None,
        changed,
        &summary,
    )?;
    find(conn, id)
}

/// Goes through every person once: checks, matches and counts them (the dry
/// run), or with a writer also writes them. Returns the counts, rows
/// rejected while reading included.
fn pass(
    conn: &mut AnyConnection,
    id: i32,
    layout: &Layout,
    defs: &[Definition],
    country: CountryId,
    writer: Option<people::Writer>,
    progress: &mut dyn FnMut(i64),
) -> Result<Counts, AppError> {
    use diesel::connection::SimpleConnection;
    let postgres = matches!(conn, AnyConnection::Postgresql(_));
    if postgres {
        // A batch's keys are looked up with `phone = ANY(…)`, which the
        // planner may serve from the search's trigram index (pg_trgm allows
        // `=`): every phone shares `+60`, so that reads the whole index —
        // measured 16.8 s for 2,000 phones at 70,000 contacts, against
        // milliseconds on the unique index. Bitmap scans are how it gets
        // there; without them each key is one probe of its unique index.
        conn.batch_execute("SET enable_bitmapscan = off")?;
    }
    let counted = count_people(conn, id, layout, defs, country, writer, progress);
    if postgres {
        conn.batch_execute("RESET enable_bitmapscan")?;
    }
    counted
}

fn count_people(
    conn: &mut AnyConnection,
    id: i32,
    layout: &Layout,
    defs: &[Definition],
    country: CountryId,
    writer: Option<people::Writer>,
    progress: &mut dyn FnMut(i64),
) -> Result<Counts, AppError> {
    let committing = writer.is_some();
    let ctx = people::Context::load(conn, layout, defs, country)?;
    let (mut after, mut counts, mut done) = if committing {
        let (cursor, created, updated, skipped, rejected, done): (i64, i64, i64, i64, i64, i64) = imports::table
            .find(id)
            .select((
                imports::cursor_person,
                imports::created,
                imports::updated,
                imports::skipped,
                imports::rejected,
                imports::done_rows,
            ))
            .first(conn)?;
        let counts = Counts {
            created,
            updated,
            skipped,
            rejected,
        };
        (cursor, counts, if cursor == 0 { 0 } else { done })
    } else {
        (0, Counts::default(), 0)
    };
    // Rejections are found again by each pass (the contacts may have changed).
    diesel::update(
        import_rows::table
            .filter(import_rows::import_id.eq(id))
            .filter(import_rows::person.gt(after))
            .filter(import_rows::check_error.is_not_null()),
    )
    .set(import_rows::check_error.eq(None::<String>))
    .execute(conn)?;
    if after == 0 {
        let unread: i64 = import_rows::table
            .filter(import_rows::import_id.eq(id))
            .filter(import_rows::read_error.is_not_null())
            .count()
            .get_result(conn)?;
        counts.rejected += unread;
        done += unread;
    }
    let size = if committing { COMMIT_ROWS } else { CHECK_ROWS };
    let mut claimed = HashSet::new();
    // Checking a batch (parsing phones, e-mails and values) needs no
    // database, so it runs on a second thread while this one writes the
    // batch before: batches are read one ahead of the one being written.
    std::thread::scope(|scope| {
        let (to_checker, inbox) = mpsc::channel::<Vec<people::Person>>();
        let (outbox, checked) = mpsc::channel::<people::CheckedBatch>();
        let ctx = &ctx;
        scope.spawn(move || {
            for batch in inbox {
                if outbox.send(people::CheckedBatch::new(ctx, batch)).is_err() {
                    break;
                }
            }
        });
        let mut read_after = after;
        let mut read_ahead = |conn: &mut AnyConnection| -> Result<bool, AppError> {
            let batch = people::next_people(conn, id, read_after, size)?;
            let Some(last) = batch.last().map(|p| p.id) else {
                return Ok(false);
            };
            read_after = last;
            to_checker
                .send(batch)
                .map_err(|_| AppError::internal("the import's checking thread stopped"))?;
            Ok(true)
        };
        let mut in_flight = usize::from(read_ahead(conn)?);
        let mut batches = 0u32;
        while in_flight > 0 {
            if committing && batches.is_power_of_two() {
                refresh_statistics(conn)?;
            }
            batches += 1;
            let started = std::time::Instant::now();
            if in_flight == 1 {
                in_flight += usize::from(read_ahead(conn)?);
            }
            let batch = checked
                .recv()
                .map_err(|_| AppError::internal("the import's checking thread stopped"))?;
            in_flight -= 1;
            let waited = started.elapsed();
            let Some(last) = batch.people.last().map(|p| p.id) else {
                break;
            };
            let people = batch.people.len();
            let run = |conn: &mut AnyConnection,
                       claimed: &mut HashSet<i32>,
                       write: Option<people::Writer>|
             -> Result<people::BatchOutcome, AppError> {
                let outcome = people::run_batch(conn, ctx, claimed, batch, write)?;
                for (person, error) in &outcome.rejected {
                    diesel::update(
                        import_rows::table
                            .filter(import_rows::import_id.eq(id))
                            .filter(import_rows::person.eq(person)),
                    )
                    .set(import_rows::check_error.eq(printable(error)))
                    .execute(conn)?;
                }
                Ok(outcome)
            };
            let outcome = match writer {
                None => run(conn, &mut claimed, None)?,
                Some(w) => write_transaction(conn, |conn| {
                    let outcome = run(conn, &mut claimed, Some(w))?;
                    // Written rows leave the staging area; rejected ones stay for rejected.csv.
                    diesel::delete(
                        import_rows::table
                            .filter(import_rows::import_id.eq(id))
                            .filter(import_rows::person.gt(after))
                            .filter(import_rows::person.le(last))
                            .filter(import_rows::read_error.is_null())
                            .filter(import_rows::check_error.is_null()),
                    )
                    .execute(conn)?;
                    let c = counts_after(counts, outcome.counts);
                    // Only from where this commit left it: a second commit of
                    // the same import (taken over as stalled while this one was
                    // only slow) makes one of them stop here.
                    let moved = diesel::update(imports::table.find(id).filter(imports::cursor_person.eq(after)))
                        .set((
                            imports::cursor_person.eq(last),
                            imports::created.eq(c.created),
                            imports::updated.eq(c.updated),
                            imports::skipped.eq(c.skipped),
                            imports::rejected.eq(c.rejected),
                            imports::done_rows.eq(done + outcome.rows),
                            imports::updated_at.eq(now()),
                        ))
                        .execute(conn)?;
                    if moved == 0 {
                        return Err(AppError::Conflict(
                            "Another commit of this import took over; this one stopped.".into(),
                        ));
                    }
                    Ok::<_, AppError>(outcome)
                })?,
            };
            tracing::debug!(people, ?waited, total = ?started.elapsed(), "import batch");
            counts = counts_after(counts, outcome.counts);
            done += outcome.rows;
            after = last;
            if !committing && done % (CHECK_ROWS * 10) < CHECK_ROWS {
                set_progress(conn, id, done)?;
            }
            progress(done);
        }
        Ok(counts)
    })
}

/// On PostgreSQL, fresh planner statistics for the tables an import grows.
/// Planned from an empty table's statistics, the lookups of a batch's
/// keys (`phone = ANY(…)`) read the whole table: measured seconds a batch
/// at 100,000 contacts. Refreshed after batches 1, 2, 4, 8…: as often as
/// the tables double, a few milliseconds each time.
fn refresh_statistics(conn: &mut AnyConnection) -> Result<(), AppError> {
    if let AnyConnection::Postgresql(c) = conn {
        use diesel::connection::SimpleConnection;
        c.batch_execute("ANALYZE contacts, contact_match_keys, contact_attribute_values")?;
    }
    Ok(())
}

/// A message as stored: the cells it quotes may hold control characters
/// (PostgreSQL refuses NUL in text), shown as U+FFFD.
fn printable(message: &str) -> String {
    message.replace(|c: char| c.is_control(), "\u{FFFD}")
}

fn counts_after(a: Counts, b: Counts) -> Counts {
    Counts {
        created: a.created + b.created,
        updated: a.updated + b.updated,
        skipped: a.skipped + b.skipped,
        rejected: a.rejected + b.rejected,
    }
}

/// The first `limit` rejected rows, in file order, with their reasons.
pub fn rejected(conn: &mut AnyConnection, actor: &Actor, id: i32, limit: i64) -> Result<Vec<RejectedRow>, AppError> {
    check_allowed(actor)?;
    find(conn, id)?;
    rejected_after(conn, id, 0, limit)
}

fn rejected_after(
    conn: &mut AnyConnection,
    id: i32,
    after_line: i64,
    limit: i64,
) -> Result<Vec<RejectedRow>, AppError> {
    let rows: Vec<(i64, String, Option<String>, Option<String>)> = import_rows::table
        .filter(import_rows::import_id.eq(id))
        .filter(import_rows::line.gt(after_line))
        .filter(
            import_rows::read_error
                .is_not_null()
                .or(import_rows::check_error.is_not_null()),
        )
        .order(import_rows::line)
        .select((
            import_rows::line,
            import_rows::cells,
            import_rows::read_error,
            import_rows::check_error,
        ))
        .limit(limit)
        .load(conn)?;
    rows.into_iter()
        .map(|(line, cells, read, check)| {
            Ok(RejectedRow {
                line,
                cells: serde_json::from_str(&cells).map_err(AppError::internal)?,
                error: read.or(check).unwrap_or_default(),
            })
        })
        .collect()
}

/// Writes the rejected rows as CSV: the header and each row as they were
/// in the file, plus an `error` column. Returns the number of rows.
pub fn write_rejected_csv(conn: &mut AnyConnection, actor: &Actor, id: i32, out: impl Write) -> Result<u64, AppError> {
    check_allowed(actor)?;
    find(conn, id)?;
    let header: String = imports::table.find(id).select(imports::header).first(conn)?;
    let header: Vec<String> = serde_json::from_str(&header).map_err(AppError::internal)?;
    // Rows with the wrong number of cells go out as they came in.
    let mut csv = csv::WriterBuilder::new().flexible(true).from_writer(out);
    let failed = |e: csv::Error| AppError::internal(format!("writing the rejected rows failed: {e}"));
    csv.write_record(header.iter().map(String::as_str).chain(["error"]))
        .map_err(failed)?;
    let (mut after, mut written) = (0i64, 0u64);
    loop {
        let rows = rejected_after(conn, id, after, 1_000)?;
        let Some(last) = rows.last().map(|r| r.line) else { break };
        for row in &rows {
            // As export does: a spreadsheet must not run a cell; import
            // removes the one `'` again when the corrected file comes back.
            for cell in row.cells.iter().chain([&row.error]) {
                csv.write_field(export::spreadsheet_safe(cell).as_bytes())
                    .map_err(failed)?;
            }
            csv.write_record(std::iter::empty::<&[u8]>()).map_err(failed)?;
        }
        written += rows.len() as u64;
        after = last;
    }
    csv.flush().map_err(|e| AppError::internal(e.to_string()))?;
    Ok(written)
}
