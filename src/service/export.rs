//! Export (docs/decisions.md, "Export"): the filtered list as CSV in the import layout —
//! `phone_number`, `status` by name, `owner` by e-mail, `labels`, custom
//! attributes by key — plus the information columns import ignores, so an
//! exported file imports again unchanged. Written batch by batch in ID
//! order, so a million contacts never sit in memory.

use std::borrow::Cow;
use std::collections::HashMap;
use std::io::Write;

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::attributes::Definition;
use super::contacts;
use super::listing::{self, ContactQuery, OwnerFilter};
use super::users::Actor;
use crate::db::schema::{exports, users};
use crate::db::AnyConnection;
use crate::error::AppError;

/// The columns an import reads, before the custom attributes.
pub const STANDARD_COLUMNS: [&str; 10] = [
    "name",
    "email",
    "phone_number",
    "identifier",
    "company",
    "city",
    "country",
    "status",
    "owner",
    "labels",
];

/// Columns export adds for information; import ignores them.
pub const INFO_COLUMNS: [&str; 6] = [
    "id",
    "status_id",
    "created_at",
    "updated_at",
    "last_activity_at",
    "lead_score",
];

/// Contacts read per query.
const BATCH: usize = 5_000;

/// A cell as a spreadsheet may safely open it: one that it would run as a
/// formula (starting with `=`, `+`, `-`, `@`, a tab or a carriage return,
/// and not simply a number such as `+60123456789`), or that is one behind
/// any number of `'`, gets one more leading `'`; import removes exactly one.
pub fn spreadsheet_safe(cell: &str) -> Cow<'_, str> {
    if is_formula(cell.trim_start_matches('\'')) {
        Cow::Owned(format!("'{cell}"))
    } else {
        Cow::Borrowed(cell)
    }
}

/// A cell a spreadsheet would run as a formula: it starts with `=`, `+`,
/// `-`, `@`, a tab or a carriage return, and is not simply a number.
pub fn is_formula(s: &str) -> bool {
    s.starts_with(['=', '+', '-', '@', '\t', '\r']) && !is_plain_number(s)
}

/// `+60123456789`, `-12.5`: a sign, digits and at most one decimal point.
fn is_plain_number(s: &str) -> bool {
    let digits = s.strip_prefix(['+', '-']).unwrap_or(s);
    !digits.is_empty()
        && digits.chars().all(|c| c.is_ascii_digit() || c == '.')
        && digits.chars().filter(|&c| c == '.').count() <= 1
        && digits.chars().any(|c| c.is_ascii_digit())
}

fn time(t: NaiveDateTime) -> String {
    t.and_utc().to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

/// A per mille lead score (0–1000) as the 0–1 decimal the API shows, always
/// with three decimals (734 → `0.734`, 1000 → `1.000`), written from the
/// integer so no rounding can change it.
fn score(per_mille: i32) -> String {
    format!("{}.{:03}", per_mille / 1000, per_mille % 1000)
}

/// Leads and admins export (docs/decisions.md, "Roles").
pub fn check_allowed(actor: &Actor) -> Result<(), AppError> {
    actor.require(actor.role.can_assign(), "export contacts")
}

/// Writes every contact `query` matches (all owners unless it names one),
/// oldest first, to `out`; calls `progress` with the rows written so
/// far after each batch. Returns the number of contacts written.
/// `actor` is `None` for the command line, run by whoever holds the database.
pub fn write_csv(
    conn: &mut AnyConnection,
    actor: Option<&Actor>,
    query: &ContactQuery,
    calling_code: u16,
    out: impl Write,
    progress: impl FnMut(u64),
) -> Result<u64, AppError> {
    if let Some(actor) = actor {
        check_allowed(actor)?;
    }
    use diesel::connection::SimpleConnection;
    if let AnyConnection::Sqlite(c) = conn {
        // A pass over the whole table through memory-mapped reads would map
        // up to 256 MB of it into this process; the page cache is enough
        // for one sequential read.
        c.batch_execute("PRAGMA mmap_size = 0;")?;
    }
    let written = write_rows(conn, actor, query, calling_code, out, progress);
    if let AnyConnection::Sqlite(c) = conn {
        c.batch_execute(crate::db::SQLITE_CACHE_PRAGMAS)?;
    }
    written
}

fn write_rows(
    conn: &mut AnyConnection,
    actor: Option<&Actor>,
    query: &ContactQuery,
    calling_code: u16,
    out: impl Write,
    mut progress: impl FnMut(u64),
) -> Result<u64, AppError> {
    let me = actor.map_or(0, |a| a.id);
    let mut query = query.clone();
    query.owner.get_or_insert(OwnerFilter::All);
    // In ID order (the order contacts were added), whatever the list
    // showed: a file's natural order, and the primary key's, which needs no
    // sort at any depth.
    query.cursor = None;
    let definitions: Vec<Definition> = super::attributes::definitions(conn)?;
    let emails: HashMap<i32, String> = users::table
        .select((users::id, users::email))
        .load::<(i32, String)>(conn)?
        .into_iter()
        .collect();
    let mut csv = csv::Writer::from_writer(out);
    let header = STANDARD_COLUMNS
        .iter()
        .copied()
        .chain(definitions.iter().map(|d| d.key.as_str()))
        .chain(INFO_COLUMNS);
    csv.write_record(header).map_err(write_failed)?;
    let mut written = 0u64;
    let mut cells: Vec<String> = Vec::new();
    listing::each_batch(conn, &query, me, calling_code, BATCH, |conn, batch| {
        let ids: Vec<i32> = batch.iter().map(|c| c.id).collect();
        let extras = contacts::extras(conn, &ids)?;
        for c in &batch {
            let text = |v: &Option<String>| v.clone().unwrap_or_default();
            let values = extras.values.get(&c.id);
            cells.clear();
            cells.extend([
                c.name.clone(),
                text(&c.email),
                text(&c.phone),
                text(&c.identifier),
                text(&c.company),
                text(&c.city),
                text(&c.country),
                c.status().name().to_string(),
                c.owner_id.and_then(|o| emails.get(&o).cloned()).unwrap_or_default(),
                extras
                    .labels_of(c.id)
                    .iter()
                    .map(|l| l.name.as_str())
                    .collect::<Vec<_>>()
                    .join(","),
            ]);
            cells.extend(
                definitions
                    .iter()
                    .map(|d| values.and_then(|v| v.get(&d.id)).map(|v| v.text()).unwrap_or_default()),
            );
            cells.extend([
                c.id.to_string(),
                c.status_id.to_string(),
                time(c.created_at),
                time(c.updated_at),
                c.last_activity_at.map(time).unwrap_or_default(),
                c.lead_score.map(score).unwrap_or_default(),
            ]);
            for cell in &cells {
                csv.write_field(spreadsheet_safe(cell).as_bytes())
                    .map_err(write_failed)?;
            }
            csv.write_record(std::iter::empty::<&[u8]>()).map_err(write_failed)?;
        }
        written += batch.len() as u64;
        progress(written);
        Ok(())
    })?;
    csv.flush().map_err(|e| write_failed(e.into()))?;
    record(conn, actor, &query, written)?;
    Ok(written)
}

/// The filter an export used, as the list's query string (`status=6&label=vip`).
fn filter_of(query: &ContactQuery) -> String {
    let mut pairs: Vec<(String, String)> = Vec::new();
    if !query.q.is_empty() {
        pairs.push(("q".into(), query.q.clone()));
    }
    pairs.extend(query.statuses.iter().map(|s| ("status".into(), s.id().to_string())));
    if let Some(owner) = query.owner.filter(|o| *o != OwnerFilter::All) {
        pairs.push(("owner".into(), owner.as_param()));
    }
    pairs.extend(query.labels.iter().map(|l| ("label".into(), l.clone())));
    pairs.extend(query.attrs.iter().map(|a| a.to_param()));
    serde_urlencoded::to_string(pairs).unwrap_or_default()
}

/// Each export keeps a record: who (none for the command line), the
/// filter, how many rows — for the activity log.
fn record(conn: &mut AnyConnection, actor: Option<&Actor>, query: &ContactQuery, rows: u64) -> Result<(), AppError> {
    diesel::insert_into(exports::table)
        .values((
            exports::user_id.eq(actor.map(|a| a.id)),
            exports::filter.eq(filter_of(query)),
            exports::row_count.eq(rows as i64),
            exports::created_at.eq(chrono::Utc::now().naive_utc()),
        ))
        .execute(conn)?;
    let filter = filter_of(query);
    let summary = if filter.is_empty() {
        format!("exported {rows} contacts")
    } else {
        format!("exported {rows} contacts matching {filter}")
    };
    super::activity::record(
        conn,
        actor,
        super::activity::Action::Export,
        None,
        rows as usize,
        &summary,
    )
}

fn write_failed(e: csv::Error) -> AppError {
    AppError::internal(format!("writing the export failed: {e}"))
}

#[cfg(test)]
mod tests {
    use super::{score, spreadsheet_safe};

    #[test]
    fn scores_have_three_decimals() {
        for (per_mille, shown) in [
            (734, "0.734"),
            (0, "0.000"),
            (5, "0.005"),
            (50, "0.050"),
            (1000, "1.000"),
        ] {
            assert_eq!(score(per_mille), shown);
        }
    }

    #[test]
    fn formulas_are_neutralised_and_numbers_are_not() {
        for (cell, shown) in [
            ("=HYPERLINK(\"http://x\")", "'=HYPERLINK(\"http://x\")"),
            ("@SUM(A1)", "'@SUM(A1)"),
            ("-2+3", "'-2+3"),
            ("+cmd", "'+cmd"),
            ("\tx", "'\tx"),
            ("'=1+1", "''=1+1"),
            ("+60123456789", "+60123456789"),
            ("-12.5", "-12.5"),
            ("Siti", "Siti"),
            ("'quoted", "'quoted"),
            ("", ""),
        ] {
            assert_eq!(spreadsheet_safe(cell), shown, "{cell:?}");
        }
    }
}
