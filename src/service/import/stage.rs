//! Reading the file into the staging area: every row as it was, with the
//! person it folds into (docs/decisions.md, "Import": rows sharing an identifier, email
//! or phone are one person) or the problem that rejects the row alone.

use std::collections::{HashMap, VecDeque};
use std::io::Read;
use std::sync::mpsc;

use diesel::prelude::*;
use phonenumber::country::Id as CountryId;

use super::file::{self, Field, Layout};
use crate::db::schema::import_rows;
use crate::db::AnyConnection;
use crate::error::AppError;
use crate::service::contact_fields::{Email, Phone};

/// The most rows that fold into one person: a person's rows are read
/// together, so this bounds the memory a pass needs.
const MAX_PERSON_ROWS: u32 = 1_000;

/// Rows written to the staging area per statement.
const BATCH: usize = 2_000;

// NULL rather than DEFAULT for no error, so that a batch is one statement.
#[derive(Insertable)]
#[diesel(table_name = import_rows, treat_none_as_default_value = false)]
struct StagedRow {
    import_id: i32,
    person: i64,
    line: i64,
    cells: String,
    read_error: Option<String>,
}

/// The keys that make two rows one person, in the order rows are matched.
const KEYS: [(Field, &str); 3] = [
    (Field::Identifier, "identifier"),
    (Field::Email, "email"),
    (Field::Phone, "phone"),
];

/// What can be worked out from a row alone — its cells as stored, a
/// problem of its own, and the hashes of its valid keys — so that a second
/// thread does it while this one writes the staging area.
struct ReadRow {
    line: i64,
    cells: String,
    problem: Option<String>,
    keys: Vec<(u64, &'static str)>,
}

/// Reads rows: cells, their own problems and their keys.
struct Keyer {
    columns: Vec<(usize, &'static str, Field)>,
    country: CountryId,
    width: usize,
}

impl Keyer {
    fn new(layout: &Layout, country: CountryId) -> Self {
        Self {
            columns: KEYS
                .iter()
                .filter_map(|&(field, word)| layout.column_of(field).map(|c| (c, word, field)))
                .collect(),
            country,
            width: layout.header.len(),
        }
    }

    /// The key a cell gives: email lower-case, phone in E.164 when it
    /// reads as one (so `012-345 6780` and `+60123456780` meet).
    fn key(&self, field: Field, cell: &str) -> Option<String> {
        let cell = file::clean(cell);
        if cell.is_empty() {
            return None;
        }
        // Only valid keys fold rows together: a placeholder such as `n/a`
        // in the email column must not make one person of a thousand rows
        // (those rows are rejected anyway).
        match field {
            Field::Email => Email::parse(cell).ok().map(Email::into_inner),
            Field::Phone => Phone::parse(cell, self.country).ok().map(Phone::into_inner),
            _ => Some(cell.to_string()),
        }
    }

    fn read(&self, record: &csv::ByteRecord, line: i64) -> ReadRow {
        let lossy: Vec<String> = record.iter().map(|c| String::from_utf8_lossy(c).into_owned()).collect();
        let cells = serde_json::to_string(&lossy).unwrap_or_else(|_| "[]".into());
        let problem = if record.len() != self.width {
            Some(format!(
                "has {} cell{} where the header has {}",
                record.len(),
                if record.len() == 1 { "" } else { "s" },
                self.width
            ))
        } else if record.iter().any(|c| std::str::from_utf8(c).is_err()) {
            Some("contains bytes that are not UTF-8 text (save the file as CSV UTF-8)".into())
        } else {
            None
        };
        let keys = if problem.is_none() {
            self.columns
                .iter()
                .filter_map(|&(column, word, field)| {
                    self.key(field, &lossy[column]).map(|key| (fnv1a(word, &key), word))
                })
                .collect()
        } else {
            Vec::new()
        };
        ReadRow {
            line,
            cells,
            problem,
            keys,
        }
    }
}

/// Assigns rows to people in file order: a row joins the person that
/// already holds one of its keys, or starts a new one named by its line.
/// Only 64-bit hashes of the keys are kept (about 16 bytes a key), so a
/// million-row file folds in bounded memory.
#[derive(Default)]
struct Folder {
    holders: HashMap<u64, i64>,
    /// Rows of the people that have more than one.
    sizes: HashMap<i64, u32>,
}

impl Folder {
    /// The person a row belongs to, or why it is rejected on its own.
    fn person_of(&mut self, keys: &[(u64, &'static str)], line: i64) -> Result<i64, String> {
        let mut found = keys
            .iter()
            .filter_map(|(hash, word)| self.holders.get(hash).map(|&p| (p, *word)));
        let person = match found.next() {
            None => line,
            Some((first, first_word)) => {
                if let Some((other, other_word)) = found.find(|(p, _)| *p != first) {
                    return Err(format!(
                        "joins two different people: its {first_word} is that of line {first} and its {other_word} that of line {other}"
                    ));
                }
                first
            }
        };
        if person != line {
            let rows = self.sizes.entry(person).or_insert(1);
            if *rows >= MAX_PERSON_ROWS {
                return Err(format!(
                    "would be row {} of the person on line {person}: at most {MAX_PERSON_ROWS} rows fold into one person",
                    *rows + 1
                ));
            }
            *rows += 1;
        }
        for (hash, _) in keys {
            self.holders.entry(*hash).or_insert(person);
        }
        Ok(person)
    }

    fn stage(&mut self, import_id: i32, row: ReadRow) -> StagedRow {
        let read = match row.problem {
            Some(problem) => Err(problem),
            None => self.person_of(&row.keys, row.line),
        };
        let (person, read_error) = match read {
            Ok(person) => (person, None),
            Err(e) => (row.line, Some(e)),
        };
        StagedRow {
            import_id,
            person,
            line: row.line,
            cells: row.cells,
            read_error,
        }
    }
}

/// FNV-1a over a key's kind and value: stable, fast, and 64 bits make a
/// collision among a few million keys vanishingly unlikely.
fn fnv1a(kind: &str, value: &str) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in kind.bytes().chain([0]).chain(value.bytes()) {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    hash
}

/// The file as the CSV reader reads it, remembering where the recent line
/// breaks were: the reader's own line count is taken before it skips what
/// precedes a record (the `\n` of a `\r\n`, blank lines), and counts only
/// `\n`, so it is one short in every `\r\n` file, behind after a blank
/// line, and stuck at 1 in a file whose lines end with `\r` alone.
struct LineIndex<R> {
    inner: R,
    /// Bytes read so far.
    read: u64,
    /// The `\r` and `\n` bytes from the oldest record still asked about on:
    /// (offset, whether it is `\n`).
    breaks: VecDeque<(u64, bool)>,
    /// Line breaks before those.
    lines_before: u64,
}

impl<R: Read> Read for LineIndex<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        for (i, &b) in buf[..n].iter().enumerate() {
            if b == b'\n' || b == b'\r' {
                self.breaks.push_back((self.read + i as u64, b == b'\n'));
            }
        }
        self.read += n as u64;
        Ok(n)
    }
}

impl<R> LineIndex<R> {
    fn new(inner: R) -> Self {
        Self {
            inner,
            read: 0,
            breaks: VecDeque::new(),
            lines_before: 0,
        }
    }

    /// Whether the break at `breaks[i]` ends a line: a `\n`, or a `\r` not
    /// followed by one.
    fn ends_line(&self, i: usize) -> bool {
        let (at, lf) = self.breaks[i];
        lf || self.breaks.get(i + 1).is_none_or(|&(next, lf)| next != at + 1 || !lf)
    }

    /// The line (from 1) of the first byte from `offset` on that is not a
    /// line break: where a record the reader began at `offset` starts.
    /// Forgets the breaks before `offset` (records are asked about in order).
    fn line_at(&mut self, offset: u64) -> i64 {
        while self.breaks.front().is_some_and(|&(at, _)| at < offset) {
            self.lines_before += u64::from(self.ends_line(0));
            self.breaks.pop_front();
        }
        // The breaks the reader skips before the record: a run from `offset` on.
        let skipped = (offset..)
            .zip(&self.breaks)
            .take_while(|(next, (at, _))| at == next)
            .count();
        let lines = (0..skipped).filter(|&i| self.ends_line(i)).count();
        (1 + self.lines_before + lines as u64) as i64
    }
}

fn insert(conn: &mut AnyConnection, rows: &[StagedRow]) -> Result<(), AppError> {
    // SQLite allows 32,766 bound parameters per statement: 5 per row.
    match conn {
        AnyConnection::Sqlite(c) => diesel::insert_into(import_rows::table).values(rows).execute(c)?,
        AnyConnection::Postgresql(c) => diesel::insert_into(import_rows::table).values(rows).execute(c)?,
    };
    Ok(())
}

/// A file's rows as staging reads them: the CSV reader, blank rows
/// skipped, each row's line, cells, own problem and keys. No database.
struct Rows<R> {
    csv: csv::Reader<LineIndex<R>>,
    keyer: Keyer,
    record: csv::ByteRecord,
    read: i64,
}

impl<R: Read> Rows<R> {
    /// Reads the header and maps it to the layout; the error refuses the
    /// file, in a sentence.
    fn open(
        reader: R,
        delimiter: u8,
        layout_of: impl FnOnce(&csv::ByteRecord) -> Result<Layout, String>,
        country: CountryId,
    ) -> Result<(Layout, Self), String> {
        let mut csv = csv::ReaderBuilder::new()
            .delimiter(delimiter)
            .has_headers(false)
            .flexible(true)
            .from_reader(LineIndex::new(reader));
        let mut record = csv::ByteRecord::new();
        match csv.read_byte_record(&mut record) {
            Ok(true) => {}
            Ok(false) => return Err("The file is empty.".into()),
            Err(e) => return Err(format!("The file could not be read: {e}")),
        }
        let layout = layout_of(&record)?;
        let keyer = Keyer::new(&layout, country);
        Ok((
            layout,
            Self {
                csv,
                keyer,
                record,
                read: 0,
            },
        ))
    }

    /// The next row, `None` at the end, or why the file cannot be read on.
    fn next_row(&mut self) -> Option<Result<ReadRow, String>> {
        loop {
            match self.csv.read_byte_record(&mut self.record) {
                Ok(true) => {}
                Ok(false) => return None,
                Err(e) => return Some(Err(format!("The file could not be read after {} rows: {e}", self.read))),
            }
            // Blank rows (a spreadsheet's trailing empty lines) are not rows.
            if self.record.iter().all(|c| c.iter().all(u8::is_ascii_whitespace)) {
                continue;
            }
            let line = match self.record.position() {
                Some(p) => self.csv.get_mut().line_at(p.byte()),
                None => self.read + 2,
            };
            self.read += 1;
            return Some(Ok(self.keyer.read(&self.record, line)));
        }
    }
}

/// Reads the whole file into the staging area. The outer error is the
/// database's; the inner one refuses the file, in a sentence.
pub fn stage(
    conn: &mut AnyConnection,
    import_id: i32,
    reader: impl Read + Send,
    delimiter: u8,
    layout_of: impl FnOnce(&csv::ByteRecord) -> Result<Layout, String>,
    country: CountryId,
    mut progress: impl FnMut(&mut AnyConnection, i64) -> Result<(), AppError>,
) -> Result<Result<(Layout, i64), String>, AppError> {
    let (layout, mut rows) = match Rows::open(reader, delimiter, layout_of, country) {
        Ok(opened) => opened,
        Err(e) => return Ok(Err(e)),
    };
    let mut folder = Folder::default();
    let mut total = 0i64;
    // The CSV reader and the keys' parsing (phone numbers above all) run on
    // a second thread, a batch of rows ahead of the inserts; two batches in
    // flight at most, so memory stays bounded.
    let refused = std::thread::scope(|scope| -> Result<Option<String>, AppError> {
        let (sender, batches) = mpsc::sync_channel::<Result<Vec<ReadRow>, String>>(2);
        scope.spawn(move || {
            let mut batch = Vec::with_capacity(BATCH);
            while let Some(row) = rows.next_row() {
                match row {
                    Ok(row) => batch.push(row),
                    Err(message) => {
                        let _ = sender.send(Err(message));
                        return;
                    }
                }
                if batch.len() == BATCH {
                    let full = std::mem::replace(&mut batch, Vec::with_capacity(BATCH));
                    if sender.send(Ok(full)).is_err() {
                        return;
                    }
                }
            }
            if !batch.is_empty() {
                let _ = sender.send(Ok(batch));
            }
        });
        for batch in batches {
            let rows = match batch {
                Ok(rows) => rows,
                Err(message) => return Ok(Some(message)),
            };
            total += rows.len() as i64;
            let staged: Vec<StagedRow> = rows.into_iter().map(|row| folder.stage(import_id, row)).collect();
            insert(conn, &staged)?;
            progress(conn, total)?;
        }
        Ok(None)
    })?;
    if let Some(message) = refused {
        return Ok(Err(message));
    }
    if total == 0 {
        return Ok(Err("The file has a header but no rows.".into()));
    }
    Ok(Ok((layout, total)))
}

/// A row as staging leaves it, for [`read`]'s callers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Staged {
    /// The line (from 1) the row starts on.
    pub line: i64,
    /// The line of the first row of the person it folds into.
    pub person: i64,
    /// Its cells as a JSON array of strings.
    pub cells: String,
    /// Why the row is rejected on its own.
    pub read_error: Option<String>,
}

/// Reads a whole file as [`stage`] does, but into memory and on this
/// thread: the same refusals, rows, problems and people, no database. The
/// fuzz targets drive the import's parsing through it.
pub fn read(
    reader: impl Read,
    delimiter: u8,
    layout_of: impl FnOnce(&csv::ByteRecord) -> Result<Layout, String>,
    country: CountryId,
) -> Result<(Layout, Vec<Staged>), String> {
    let (layout, mut rows) = Rows::open(reader, delimiter, layout_of, country)?;
    let mut folder = Folder::default();
    let mut staged = Vec::new();
    while let Some(row) = rows.next_row() {
        let row = folder.stage(0, row?);
        staged.push(Staged {
            line: row.line,
            person: row.person,
            cells: row.cells,
            read_error: row.read_error,
        });
    }
    if staged.is_empty() {
        return Err("The file has a header but no rows.".into());
    }
    Ok((layout, staged))
}

#[cfg(test)]
mod tests {
    use super::LineIndex;

    /// The line each record starts on, as staging numbers them.
    fn lines(text: &str) -> Vec<i64> {
        let mut csv = csv::ReaderBuilder::new()
            .has_headers(false)
            .flexible(true)
            .from_reader(LineIndex::new(text.as_bytes()));
        let mut record = csv::ByteRecord::new();
        let mut out = Vec::new();
        while csv.read_byte_record(&mut record).unwrap() {
            let offset = record.position().unwrap().byte();
            out.push(csv.get_mut().line_at(offset));
        }
        out
    }

    #[test]
    fn records_keep_their_lines_whatever_ends_them() {
        assert_eq!(lines("h\na\nb\n"), [1, 2, 3]);
        assert_eq!(lines("h\r\na\r\nb\r\n"), [1, 2, 3]);
        assert_eq!(lines("h\ra\rb\r"), [1, 2, 3]);
        assert_eq!(lines("h\n\n\na\r\n\r\nb"), [1, 4, 6]);
        assert_eq!(lines("h\r\n\"x\r\ny\",1\r\nb\r\n"), [1, 2, 4]);
        assert_eq!(lines("h\r\"x\ry\"\r\rb"), [1, 2, 5]);
    }
}
