//! `GET /contacts/export.csv`: the list's current filter as a CSV download,
//! streamed while the service writes it (leads and admins); the streaming
//! is shared with the import's rejected rows.

use std::io::{self, Write};

use actix_web::web::Bytes;
use actix_web::{web, HttpRequest, HttpResponse};
use tokio::sync::mpsc;

use super::auth::CurrentUser;
use super::AppState;
use crate::db::{AnyConnection, Pool};
use crate::error::AppError;
use crate::service::export;
use crate::service::listing::ContactQuery;

type Chunk = Result<Bytes, io::Error>;

/// Hands the CSV to the response in 64 KB chunks; a client that went away
/// makes the next write fail, which stops the export.
pub(super) struct ChannelWriter {
    tx: mpsc::Sender<Chunk>,
    buf: Vec<u8>,
}

impl ChannelWriter {
    fn send(&mut self) -> io::Result<()> {
        if self.buf.is_empty() {
            return Ok(());
        }
        let chunk = Bytes::from(std::mem::take(&mut self.buf));
        self.tx
            .blocking_send(Ok(chunk))
            .map_err(|_| io::Error::new(io::ErrorKind::BrokenPipe, "the download was cancelled"))
    }
}

impl Write for ChannelWriter {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        self.buf.extend_from_slice(data);
        if self.buf.len() >= 64 * 1024 {
            self.send()?;
        }
        Ok(data.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.send()
    }
}

pub async fn download(
    state: web::Data<AppState>,
    user: CurrentUser,
    req: HttpRequest,
) -> Result<HttpResponse, AppError> {
    export::check_allowed(&user.actor)?;
    let pairs: Vec<(String, String)> =
        serde_urlencoded::from_str(req.query_string()).map_err(|e| AppError::bad_request(e.to_string()))?;
    let query = ContactQuery::parse(pairs.iter().map(|(k, v)| (k.as_str(), v.as_str())))
        .map_err(|e| AppError::bad_request(format!("The filter cannot be read: {e}")))?;
    let (actor, calling_code) = (user.actor.clone(), state.settings.calling_code);
    Ok(csv_download(state.pool.clone(), "contacts.csv", move |conn, out| {
        export::write_csv(conn, Some(&actor), &query, calling_code, out, |_| {})
    }))
}

/// A CSV download that `write` produces on a pooled connection, streamed as
/// it is written (the export; an import's rejected rows). Check what can be
/// refused before: once the answer has started, an error can only cut it short.
pub(super) fn csv_download<F>(pool: Pool, file_name: &'static str, write: F) -> HttpResponse
where
    F: FnOnce(&mut AnyConnection, ChannelWriter) -> Result<u64, AppError> + Send + 'static,
{
    let (tx, rx) = mpsc::channel::<Chunk>(8);
    actix_web::rt::task::spawn_blocking(move || {
        let writer = ChannelWriter {
            tx: tx.clone(),
            buf: Vec::new(),
        };
        let written = pool
            .get()
            .map_err(AppError::from)
            .and_then(|mut conn| write(&mut conn, writer));
        if let Err(e) = written {
            tracing::error!(cause = %e, file = file_name, "CSV download failed");
            // The answer has started: an error cuts the download short.
            let _ = tx.blocking_send(Err(io::Error::other(e.to_string())));
        }
    });
    let body = futures_util::stream::unfold(rx, |mut rx| async move { rx.recv().await.map(|chunk| (chunk, rx)) });
    HttpResponse::Ok()
        .content_type("text/csv; charset=utf-8")
        .insert_header(("Content-Disposition", format!("attachment; filename=\"{file_name}\"")))
        .streaming(body)
}
