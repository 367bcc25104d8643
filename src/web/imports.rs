//! The import pages (docs/decisions.md, "Import"): upload a CSV file, see the dry run's
//! preview, commit it in the background with live progress, download the
//! rejected rows. Leads and admins only; the service checks the role again.
//!
//! The upload is read from the multipart body into an anonymous temporary
//! file, counting bytes against `MAX_UPLOAD_MB`; the file is then checked
//! while the request waits. The commit runs on a blocking thread with its
//! progress in the database, so any instance can show it.

use std::io::{Seek, SeekFrom, Write};

use actix_multipart::Multipart;
use actix_session::Session;
use actix_web::http::{header, StatusCode};
use actix_web::{web, HttpRequest, HttpResponse};
use askama::Template;
use chrono::Utc;
use futures_util::StreamExt;
use phonenumber::country::Id as CountryId;
use serde::Serialize;
use subtle::ConstantTimeEq;

use super::auth::{CsrfForm, CurrentUser, Empty};
use super::pages::{self, local_time, Layout};
use super::AppState;
use crate::db::Pool;
use crate::error::AppError;
use crate::service::duplicates;
use crate::service::import::{self, Column, Counts, Import, ImportOptions, ImportState, RejectedRow};
use crate::service::users::Actor;

/// Imports listed under the upload form.
const RECENT: i64 = 20;
/// Rejected rows shown on an import's page (all of them are in rejected.csv).
const REJECTED_SHOWN: i64 = 20;
/// The upload is written to its temporary file in pieces this big.
const SPOOL_CHUNK: usize = 1024 * 1024;
/// Past the limit, this much more of the body is read and thrown away so the
/// browser gets the 413 page rather than a reset connection; a body bigger
/// still is refused at once.
const DRAIN_LIMIT: u64 = 16 * 1024 * 1024;
/// The form's small fields: each at most this big, and at most this many.
const TEXT_FIELD_LIMIT: usize = 64 * 1024;
const MAX_FIELDS: usize = 200;

/// One line of the recent imports.
pub struct RecentLine {
    pub id: i32,
    pub file_name: String,
    pub user_name: String,
    pub when: String,
    pub state: &'static str,
    pub summary: String,
}

impl RecentLine {
    fn new(i: &Import, tz: chrono_tz::Tz) -> Self {
        let summary = match i.state {
            ImportState::Checking => "Checking the file".into(),
            ImportState::Ready => format!("Checked, not committed: would be {}", i.planned),
            ImportState::Committing => format!("{} of {} rows written", grouped(i.done_rows), grouped(i.total_rows)),
            ImportState::Done => i.counts.to_string(),
            ImportState::Failed => i.error.clone().unwrap_or_default(),
        };
        Self {
            id: i.id,
            file_name: i.file_name.clone(),
            user_name: i.user_name.clone(),
            when: local_time(i.created_at, tz),
            state: state_label(i.state),
            summary,
        }
    }
}

fn state_label(state: ImportState) -> &'static str {
    match state {
        ImportState::Checking => "Checking",
        ImportState::Ready => "Ready to commit",
        ImportState::Committing => "Committing",
        ImportState::Done => "Done",
        ImportState::Failed => "Refused",
    }
}

#[derive(Template)]
#[template(path = "imports/new.html")]
struct NewPage {
    layout: Layout,
    /// Why the last upload was refused.
    error: Option<String>,
    /// The columns to ignore, as typed.
    ignore: String,
    ignore_unknown: bool,
    max_mb: u64,
    max_bytes: u64,
    recent: Vec<RecentLine>,
}

/// What the upload form shows again after a refusal.
#[derive(Default)]
struct Refill {
    error: Option<String>,
    ignore: String,
    ignore_unknown: bool,
}

async fn new_page(
    state: &AppState,
    user: &CurrentUser,
    session: &Session,
    status: StatusCode,
    refill: Refill,
) -> Result<HttpResponse, AppError> {
    let actor = user.actor.clone();
    let recent = state.db(move |c| import::recent(c, &actor, RECENT)).await?;
    let tz = state.settings.time_zone;
    let max_mb = state.settings.max_upload_mb;
    let page = NewPage {
        layout: Layout::new(user, session, "Import contacts", "contacts"),
        error: refill.error,
        ignore: refill.ignore,
        ignore_unknown: refill.ignore_unknown,
        max_mb,
        max_bytes: max_bytes(max_mb),
        recent: recent.iter().map(|i| RecentLine::new(i, tz)).collect(),
    };
    Ok(pages::render_with(status, &page))
}

fn max_bytes(max_mb: u64) -> u64 {
    max_mb.saturating_mul(1024 * 1024)
}

/// `GET /imports/new`: the upload form and the latest imports.
pub async fn new_form(
    state: web::Data<AppState>,
    user: CurrentUser,
    session: Session,
) -> Result<HttpResponse, AppError> {
    import::check_allowed(&user.actor)?;
    new_page(&state, &user, &session, StatusCode::OK, Refill::default()).await
}

/// The upload form's fields, the file spooled to a temporary file.
#[derive(Default)]
struct Upload {
    csrf_token: String,
    /// The file's name as the browser sent it, and the file, rewound.
    file: Option<(String, std::fs::File)>,
    /// The `ignore` fields as typed (each may list several columns).
    ignore: Vec<String>,
    ignore_unknown: bool,
}

impl Upload {
    /// The columns to ignore: every `ignore` field, split at commas and line breaks.
    fn ignored_columns(&self) -> Vec<String> {
        self.ignore
            .iter()
            .flat_map(|v| v.split([',', '\n', '\r']))
            .map(str::trim)
            .filter(|c| !c.is_empty())
            .map(str::to_string)
            .collect()
    }

    fn refill(&self, error: String) -> Refill {
        Refill {
            error: Some(error),
            ignore: self.ignored_columns().join(", "),
            ignore_unknown: self.ignore_unknown,
        }
    }
}

/// Why an upload could not be read.
enum UploadError {
    TooLarge,
    Unreadable(String),
}

fn too_large_message(max_mb: u64) -> String {
    format!(
        "The file is larger than the upload limit of {max_mb} MB. Split it into smaller files, \
         or import it on the server with `leadbook import FILE`, which has no limit."
    )
}

/// Writes a piece of the upload to its temporary file, off the async thread.
async fn spool(file: std::fs::File, buf: Vec<u8>) -> Result<(std::fs::File, Vec<u8>), UploadError> {
    web::block(move || {
        let mut file = file;
        let mut buf = buf;
        file.write_all(&buf)?;
        buf.clear();
        Ok::<_, std::io::Error>((file, buf))
    })
    .await
    .map_err(|e| UploadError::Unreadable(e.to_string()))?
    .map_err(|e| UploadError::Unreadable(format!("the upload could not be stored: {e}")))
}

/// Reads the multipart body: the small fields into memory, the `file` part
/// into a temporary file, counting its bytes against `limit`.
async fn read_upload(mut multipart: Multipart, limit: u64) -> Result<Upload, UploadError> {
    let unreadable = |e: actix_multipart::MultipartError| UploadError::Unreadable(e.to_string());
    let mut upload = Upload::default();
    let mut fields = 0;
    let mut over = false;
    while let Some(field) = multipart.next().await {
        let mut field = field.map_err(unreadable)?;
        fields += 1;
        if fields > MAX_FIELDS {
            return Err(UploadError::Unreadable("the form has too many fields".into()));
        }
        let name = field.name().unwrap_or_default().to_string();
        match name.as_str() {
            "file" => {
                if upload.file.is_some() {
                    return Err(UploadError::Unreadable("upload one file at a time".into()));
                }
                let file_name = field
                    .content_disposition()
                    .and_then(|cd| cd.get_filename())
                    .unwrap_or_default()
                    .to_string();
                let mut file = web::block(tempfile::tempfile)
                    .await
                    .map_err(|e| UploadError::Unreadable(e.to_string()))?
                    .map_err(|e| UploadError::Unreadable(format!("no room for the upload: {e}")))?;
                let mut buf = Vec::with_capacity(SPOOL_CHUNK);
                let mut size = 0u64;
                while let Some(chunk) = field.next().await {
                    let chunk = chunk.map_err(unreadable)?;
                    size += chunk.len() as u64;
                    if size > limit {
                        // Read on (a little) so the browser sees the answer.
                        over = true;
                        if size > limit.saturating_add(DRAIN_LIMIT) {
                            return Err(UploadError::TooLarge);
                        }
                        continue;
                    }
                    buf.extend_from_slice(&chunk);
                    if buf.len() >= SPOOL_CHUNK {
                        (file, buf) = spool(file, buf).await?;
                    }
                }
                if over {
                    continue;
                }
                let (mut file, _) = spool(file, buf).await?;
                file.seek(SeekFrom::Start(0))
                    .map_err(|e| UploadError::Unreadable(e.to_string()))?;
                // A form sent without choosing a file has a nameless, empty part.
                if !(file_name.is_empty() && size == 0) {
                    upload.file = Some((file_name, file));
                }
            }
            "csrf_token" | "ignore" | "ignore_unknown" => {
                let value = match field.bytes(TEXT_FIELD_LIMIT).await {
                    Ok(Ok(bytes)) => String::from_utf8_lossy(&bytes).into_owned(),
                    Ok(Err(e)) => return Err(unreadable(e)),
                    Err(_) => return Err(UploadError::Unreadable(format!("the field {name} is too long"))),
                };
                match name.as_str() {
                    "csrf_token" => upload.csrf_token = value,
                    "ignore" => upload.ignore.push(value),
                    _ => upload.ignore_unknown = matches!(value.trim(), "1" | "on" | "true" | "yes"),
                }
            }
            _ => {
                // Unknown parts are read past, not kept.
                while let Some(chunk) = field.next().await {
                    chunk.map_err(unreadable)?;
                }
            }
        }
    }
    if over {
        return Err(UploadError::TooLarge);
    }
    Ok(upload)
}

/// `POST /imports`: reads the upload, then records and checks the import
/// (the dry run) before answering with its preview.
pub async fn upload(
    state: web::Data<AppState>,
    user: CurrentUser,
    session: Session,
    req: HttpRequest,
    payload: Multipart,
) -> Result<HttpResponse, AppError> {
    import::check_allowed(&user.actor)?;
    let max_mb = state.settings.max_upload_mb;
    let limit = max_bytes(max_mb);
    let too_large = || Refill {
        error: Some(too_large_message(max_mb)),
        ..Refill::default()
    };
    // A body announced far over the limit is refused before it is read.
    let announced = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if announced.is_some_and(|n| n > limit.saturating_add(DRAIN_LIMIT)) {
        return new_page(&state, &user, &session, StatusCode::PAYLOAD_TOO_LARGE, too_large()).await;
    }
    let mut upload = match read_upload(payload, limit).await {
        Ok(upload) => upload,
        Err(UploadError::TooLarge) => {
            return new_page(&state, &user, &session, StatusCode::PAYLOAD_TOO_LARGE, too_large()).await
        }
        Err(UploadError::Unreadable(why)) => {
            return Err(AppError::bad_request(format!("The upload could not be read: {why}.")))
        }
    };
    let expected = user.csrf_token.as_bytes();
    if expected.is_empty() || !bool::from(expected.ct_eq(upload.csrf_token.as_bytes())) {
        return Err(AppError::Csrf);
    }
    let Some((file_name, file)) = upload.file.take() else {
        let refill = upload.refill("Choose a CSV file to upload.".into());
        return new_page(&state, &user, &session, StatusCode::BAD_REQUEST, refill).await;
    };
    let options = ImportOptions {
        file_name,
        ignore: upload.ignored_columns(),
        ignore_unknown: upload.ignore_unknown,
        skip_dry_run: false,
    };
    let (actor, country) = (user.actor.clone(), state.settings.default_country);
    let checked = state
        .db(move |c| {
            let id = import::start(c, &actor, &options)?;
            import::check(c, id, file, &options, country, |_, _, _| {}).map(|i| i.id)
        })
        .await;
    match checked {
        Ok(id) => Ok(pages::see_other(&format!("/imports/{id}"))),
        // The file was refused as a whole: say why, with the form to try again.
        Err(AppError::BadRequest(message)) => {
            new_page(&state, &user, &session, StatusCode::BAD_REQUEST, upload.refill(message)).await
        }
        Err(e) => Err(e),
    }
}

/// A rejected row, ready to print: its non-blank cells by column.
pub struct RejectedLine {
    pub line: i64,
    pub cells: Vec<(String, String)>,
    pub error: String,
}

impl RejectedLine {
    fn new(r: &RejectedRow, columns: &[Column]) -> Self {
        /// Cells shown per row, and characters per cell (rejected.csv has them whole).
        const CELLS: usize = 12;
        const CHARS: usize = 80;
        let cells = r
            .cells
            .iter()
            .enumerate()
            .filter(|(_, cell)| !cell.trim().is_empty())
            .take(CELLS)
            .map(|(i, cell)| {
                let header = columns
                    .get(i)
                    .map_or_else(|| format!("column {}", i + 1), |c| c.header.clone());
                let cell = match cell.char_indices().nth(CHARS) {
                    Some((cut, _)) => format!("{}…", &cell[..cut]),
                    None => cell.clone(),
                };
                (header, cell)
            })
            .collect();
        Self {
            line: r.line,
            cells,
            error: r.error.clone(),
        }
    }
}

/// The four outcomes, for the count boxes.
pub struct Outcome {
    pub key: &'static str,
    pub label: &'static str,
    pub count: String,
}

fn outcomes(counts: &Counts, future: bool) -> Vec<Outcome> {
    let label = |now: &'static str, then: &'static str| if future { then } else { now };
    vec![
        Outcome {
            key: "created",
            label: label("created", "to create"),
            count: grouped(counts.created),
        },
        Outcome {
            key: "updated",
            label: label("updated", "to update"),
            count: grouped(counts.updated),
        },
        Outcome {
            key: "skipped",
            label: label("skipped (unchanged)", "to skip (unchanged)"),
            count: grouped(counts.skipped),
        },
        Outcome {
            key: "rejected",
            label: label("rejected", "to reject"),
            count: grouped(counts.rejected),
        },
    ]
}

#[derive(Template)]
#[template(path = "imports/show.html")]
struct ShowPage {
    layout: Layout,
    id: i32,
    file_name: String,
    user_name: String,
    when: String,
    /// `checking`, `ready`, `committing`, `done` or `failed`.
    state: &'static str,
    state_label: &'static str,
    error: String,
    columns: Vec<Column>,
    total_rows: String,
    /// The dry run's counts (ready) or the commit's (committing, done).
    outcomes: Vec<Outcome>,
    summary: String,
    rejected_count: i64,
    rejected: Vec<RejectedLine>,
    /// More rows were rejected than are shown.
    rejected_more: bool,
    done_rows: i64,
    total: i64,
    percent: i64,
    progress_text: String,
    stalled: bool,
}

/// `GET /imports/{id}`: the preview, the progress or the result.
pub async fn show(
    state: web::Data<AppState>,
    user: CurrentUser,
    session: Session,
    path: web::Path<i32>,
) -> Result<HttpResponse, AppError> {
    import::check_allowed(&user.actor)?;
    let id = path.into_inner();
    let actor = user.actor.clone();
    let (i, rejected) = state
        .db(move |c| {
            let i = import::get(c, &actor, id)?;
            let rejected = match i.state {
                ImportState::Ready | ImportState::Done => import::rejected(c, &actor, id, REJECTED_SHOWN)?,
                _ => Vec::new(),
            };
            Ok((i, rejected))
        })
        .await?;
    let counts = if i.state == ImportState::Ready {
        i.planned
    } else {
        i.counts
    };
    let page = ShowPage {
        layout: Layout::new(&user, &session, format!("Import #{id}: {}", i.file_name), "contacts"),
        id,
        file_name: i.file_name.clone(),
        user_name: i.user_name.clone(),
        when: local_time(i.created_at, state.settings.time_zone),
        state: i.state.as_str(),
        state_label: state_label(i.state),
        error: i.error.clone().unwrap_or_default(),
        columns: i.columns.clone(),
        total_rows: grouped(i.total_rows),
        outcomes: outcomes(&counts, i.state == ImportState::Ready),
        summary: counts.to_string(),
        rejected_count: counts.rejected,
        rejected_more: counts.rejected > rejected.len() as i64,
        rejected: rejected.iter().map(|r| RejectedLine::new(r, &i.columns)).collect(),
        done_rows: i.done_rows.clamp(0, i.total_rows),
        total: i.total_rows,
        percent: i.percent(),
        progress_text: progress_text(&i),
        stalled: i.is_stalled(Utc::now().naive_utc()),
    };
    Ok(pages::render(&page))
}

fn progress_text(i: &Import) -> String {
    format!(
        "{} of {} rows",
        grouped(i.done_rows.clamp(0, i.total_rows)),
        grouped(i.total_rows)
    )
}

/// What the progress bar polls.
#[derive(Serialize)]
struct Progress {
    state: &'static str,
    done_rows: i64,
    total_rows: i64,
    percent: i64,
    /// The progress in words: `12,000 of 200,000 rows`.
    text: String,
    /// A commit that stopped moving: the page offers to resume it.
    stalled: bool,
    counts: Counts,
}

/// `GET /imports/{id}/progress`: where the import stands, as JSON.
pub async fn progress(
    state: web::Data<AppState>,
    user: CurrentUser,
    path: web::Path<i32>,
) -> Result<HttpResponse, AppError> {
    import::check_allowed(&user.actor)?;
    let id = path.into_inner();
    let actor = user.actor.clone();
    let i = state.db(move |c| import::get(c, &actor, id)).await?;
    let body = Progress {
        state: i.state.as_str(),
        done_rows: i.done_rows.clamp(0, i.total_rows),
        total_rows: i.total_rows,
        percent: i.percent(),
        text: progress_text(&i),
        stalled: i.is_stalled(Utc::now().naive_utc()),
        counts: i.counts,
    };
    Ok(HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(body))
}

/// `POST /imports/{id}/commit`: marks the import as committing (or takes
/// over a stalled commit), then writes it in the background.
pub async fn commit(
    state: web::Data<AppState>,
    user: CurrentUser,
    path: web::Path<i32>,
    _form: CsrfForm<Empty>,
) -> Result<HttpResponse, AppError> {
    import::check_allowed(&user.actor)?;
    let id = path.into_inner();
    let actor = user.actor.clone();
    state.db(move |c| import::begin_commit(c, &actor, id)).await?;
    let (pool, actor, country) = (state.pool.clone(), user.actor.clone(), state.settings.default_country);
    actix_web::rt::task::spawn_blocking(move || write_import(&pool, &actor, id, country));
    Ok(pages::see_other(&format!("/imports/{id}")))
}

/// Writes a committing import, then keys its new contacts for the
/// duplicate finder (they wait in its backlog meanwhile). A failure is
/// logged and kept on the import, which then stalls; its page offers to
/// resume it.
fn write_import(pool: &Pool, actor: &Actor, id: i32, country: CountryId) {
    let started = std::time::Instant::now();
    let result = pool.get().map_err(AppError::from).and_then(|mut conn| {
        let done = import::commit(&mut conn, actor, id, country, |_, _| {})?;
        tracing::info!(
            import = id,
            rows = done.total_rows,
            counts = %done.counts,
            seconds = started.elapsed().as_secs_f64(),
            "import committed"
        );
        Ok(())
    });
    if let Err(e) = result {
        tracing::error!(import = id, cause = %e, "import commit failed");
    }
    let keyed = pool
        .get()
        .map_err(AppError::from)
        .and_then(|mut conn| duplicates::catch_up(&mut conn, |_| {}));
    match keyed {
        Ok(n) => tracing::info!(import = id, contacts = n, "duplicate finder caught up after the import"),
        Err(e) => tracing::error!(import = id, cause = %e, "duplicate finder: catching up failed"),
    }
}

/// `GET /imports/{id}/rejected.csv`: the rejected rows as they were in the
/// file, plus an `error` column.
pub async fn rejected_csv(
    state: web::Data<AppState>,
    user: CurrentUser,
    path: web::Path<i32>,
) -> Result<HttpResponse, AppError> {
    import::check_allowed(&user.actor)?;
    let id = path.into_inner();
    let actor = user.actor.clone();
    // Refused or missing before the download starts.
    let i = state.db(move |c| import::get(c, &actor, id)).await?;
    if matches!(i.state, ImportState::Checking | ImportState::Failed) {
        return Err(AppError::not_found(&format!(
            "A file of rejected rows for import #{id}"
        )));
    }
    let actor = user.actor.clone();
    Ok(super::export::csv_download(
        state.pool.clone(),
        "rejected.csv",
        move |conn, out| import::write_rejected_csv(conn, &actor, id, out),
    ))
}

/// A count with thousands separators: `12,000`.
fn grouped(n: i64) -> String {
    let digits = n.unsigned_abs().to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3 + 1);
    if n < 0 {
        out.push('-');
    }
    for (i, d) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(d);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_read_with_thousands_separators() {
        assert_eq!(grouped(0), "0");
        assert_eq!(grouped(999), "999");
        assert_eq!(grouped(12_000), "12,000");
        assert_eq!(grouped(1_234_567), "1,234,567");
        assert_eq!(grouped(-4_500), "-4,500");
    }

    #[test]
    fn ignored_columns_split_at_commas_and_lines() {
        let upload = Upload {
            ignore: vec![" colour, Notes ".into(), "".into(), "fax\r\nsize".into()],
            ..Upload::default()
        };
        assert_eq!(upload.ignored_columns(), ["colour", "Notes", "fax", "size"]);
    }

    #[test]
    fn rejected_rows_show_their_cells_by_column() {
        let columns: Vec<Column> = ["name", "email"]
            .iter()
            .map(|h| Column {
                header: h.to_string(),
                target: h.to_string(),
            })
            .collect();
        let r = RejectedRow {
            line: 3,
            cells: vec!["é".repeat(100), "".into(), "extra".into()],
            error: "has 3 cells where the header has 2".into(),
        };
        let line = RejectedLine::new(&r, &columns);
        assert_eq!(line.cells.len(), 2, "the blank cell is left out");
        assert_eq!(line.cells[0].0, "name");
        assert_eq!(line.cells[0].1.chars().count(), 81, "cut on a character");
        assert!(line.cells[0].1.ends_with('…'));
        assert_eq!(line.cells[1], ("column 3".to_string(), "extra".to_string()));
    }
}
