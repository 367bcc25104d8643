//! Reading an import file: refusing what is not CSV, the delimiter, the
//! header's columns, and each cell as the import uses it.

use std::io::{BufRead, BufReader, Read};

use super::Column;
use crate::service::attributes::Definition;
use crate::service::export::{is_formula, INFO_COLUMNS};

/// A standard attribute a column can fill.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Field {
    Name,
    Email,
    Phone,
    Identifier,
    Company,
    City,
    Country,
    Status,
    Owner,
    Labels,
}

impl Field {
    pub const ALL: [Field; 10] = [
        Self::Name,
        Self::Email,
        Self::Phone,
        Self::Identifier,
        Self::Company,
        Self::City,
        Self::Country,
        Self::Status,
        Self::Owner,
        Self::Labels,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Self::Name => "name",
            Self::Email => "email",
            Self::Phone => "phone_number",
            Self::Identifier => "identifier",
            Self::Company => "company",
            Self::City => "city",
            Self::Country => "country",
            Self::Status => "status",
            Self::Owner => "owner",
            Self::Labels => "labels",
        }
    }

    fn from_header(header: &str) -> Option<Self> {
        match header {
            "phone" => Some(Self::Phone),
            h => Self::ALL.into_iter().find(|f| f.name() == h),
        }
    }
}

/// What a column fills.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    Standard(Field),
    /// A custom attribute, by its index in the definitions.
    Custom(usize),
    /// Not read: an information column of export, or one the user chose to ignore.
    Ignored,
}

/// How the file's columns are read.
#[derive(Debug, Clone)]
pub struct Layout {
    pub delimiter: u8,
    /// The header's cells as written.
    pub header: Vec<String>,
    pub targets: Vec<Target>,
}

impl Layout {
    /// The column filling `field`, if the file has one.
    pub fn column_of(&self, field: Field) -> Option<usize> {
        self.targets.iter().position(|t| *t == Target::Standard(field))
    }

    /// The mapping in words, for the preview.
    pub fn columns(&self, defs: &[Definition], info: &[String]) -> Vec<Column> {
        self.header
            .iter()
            .zip(&self.targets)
            .map(|(header, target)| Column {
                header: header.clone(),
                target: match target {
                    Target::Standard(f) => f.name().to_string(),
                    Target::Custom(i) => format!("custom attribute {}", defs[*i].key),
                    Target::Ignored if info.contains(&normalise(header)) => "ignored (information column)".into(),
                    Target::Ignored => "ignored".into(),
                },
            })
            .collect()
    }
}

/// The target a saved column names (see [`Layout::columns`]), read back
/// against the custom attributes as they are now.
pub fn target_of(header: &str, target: &str, defs: &[Definition]) -> Result<Target, String> {
    if let Some(key) = target.strip_prefix("custom attribute ") {
        return defs
            .iter()
            .position(|d| d.key == key)
            .map(Target::Custom)
            .ok_or_else(|| format!("The custom attribute {key} (column \"{header}\") was deleted after the file was checked; upload it again."));
    }
    Ok(Field::ALL
        .into_iter()
        .find(|f| f.name() == target)
        .map_or(Target::Ignored, Target::Standard))
}

/// A header as compared: trimmed, lower-case.
pub fn normalise(header: &str) -> String {
    header.trim().to_lowercase()
}

/// What the first bytes of a file say it is, when that is not text.
fn binary_kind(head: &[u8]) -> Option<&'static str> {
    const MAGIC: [(&[u8], &str); 7] = [
        (b"\x89PNG", "a PNG image"),
        (b"\xFF\xD8\xFF", "a JPEG image"),
        (b"GIF8", "a GIF image"),
        (b"%PDF", "a PDF document"),
        (b"PK\x03\x04", "a ZIP archive or an Excel workbook"),
        (b"\xD0\xCF\x11\xE0", "an old Excel or Word document"),
        (b"\x1F\x8B", "a gzip archive"),
    ];
    if let Some((_, kind)) = MAGIC.iter().find(|(magic, _)| head.starts_with(magic)) {
        return Some(kind);
    }
    // Text never holds NUL; nor more than a few other control bytes.
    let controls = head
        .iter()
        .filter(|&&b| b == 0 || (b < 0x20 && !matches!(b, b'\t' | b'\n' | b'\r')))
        .count();
    (head.contains(&0) || controls * 100 > head.len().max(1)).then_some("binary data")
}

/// Opens a file for reading: refuses binary data and empty files, drops a
/// UTF-8 byte-order mark and picks the delimiter from the header line
/// (a semicolon when it has more semicolons than commas).
pub fn open<R: Read>(file: R) -> Result<(u8, BufReader<R>), String> {
    let mut reader = BufReader::with_capacity(256 * 1024, file);
    let head = reader
        .fill_buf()
        .map_err(|e| format!("The file could not be read: {e}"))?;
    let head = head.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(head);
    if head.iter().all(u8::is_ascii_whitespace) {
        return Err("The file is empty.".into());
    }
    if let Some(kind) = binary_kind(&head[..head.len().min(8192)]) {
        return Err(format!(
            "This is not a CSV file (it looks like {kind}). Save the spreadsheet as CSV (UTF-8) and upload that."
        ));
    }
    let first_line = head.split(|&b| b == b'\n').next().unwrap_or(head);
    let count = |c: u8| first_line.iter().filter(|&&b| b == c).count();
    let delimiter = if count(b';') > count(b',') { b';' } else { b',' };
    let bom = reader.buffer().starts_with(b"\xEF\xBB\xBF");
    if bom {
        reader.consume(3);
    }
    Ok((delimiter, reader))
}

/// Maps the header's cells to what they fill. Every problem is named at
/// once: no `name` column, a column twice, unknown columns (unless ignored).
pub fn map_header(
    header: &csv::ByteRecord,
    defs: &[Definition],
    ignore: &[String],
    ignore_unknown: bool,
) -> Result<(Vec<String>, Vec<Target>), String> {
    let header: Vec<String> = header
        .iter()
        .map(|cell| String::from_utf8(cell.to_vec()).map(|s| s.trim().to_string()))
        .collect::<Result<_, _>>()
        .map_err(|_| "This is not a CSV file: its header row is not UTF-8 text.".to_string())?;
    let ignore: Vec<String> = ignore.iter().map(|c| normalise(c)).collect();
    let mut targets = Vec::with_capacity(header.len());
    let mut unknown = Vec::new();
    let mut problems = Vec::new();
    for (i, cell) in header.iter().enumerate() {
        let key = normalise(cell);
        let target = if ignore.contains(&key) || INFO_COLUMNS.contains(&key.as_str()) {
            Target::Ignored
        } else if let Some(field) = Field::from_header(&key) {
            Target::Standard(field)
        } else if let Some(d) = defs.iter().position(|d| d.key.to_lowercase() == key) {
            Target::Custom(d)
        } else if ignore_unknown {
            Target::Ignored
        } else {
            unknown.push(if key.is_empty() {
                format!("column {} (no name)", i + 1)
            } else {
                format!("\"{cell}\"")
            });
            Target::Ignored
        };
        if target != Target::Ignored && targets.contains(&target) {
            let first = targets.iter().position(|t| *t == target).unwrap_or(0);
            problems.push(format!(
                "the columns \"{}\" and \"{cell}\" are the same column",
                header[first]
            ));
        }
        targets.push(target);
    }
    if !targets.contains(&Target::Standard(Field::Name)) {
        problems.insert(0, "the file has no \"name\" column".into());
    }
    if !unknown.is_empty() {
        problems.push(format!(
            "unknown column{} {}: name {} after a custom attribute's key, or choose to ignore {}",
            if unknown.len() == 1 { "" } else { "s" },
            unknown.join(", "),
            if unknown.len() == 1 { "it" } else { "them" },
            if unknown.len() == 1 { "it" } else { "them" },
        ));
    }
    if problems.is_empty() {
        Ok((header, targets))
    } else {
        let mut message = problems.join("; ");
        message[..1].make_ascii_uppercase();
        Err(format!("{message}."))
    }
}

/// A cell as the import reads it: trimmed, and with the one `'` removed that
/// export puts before a cell a spreadsheet would run as a formula.
pub fn clean(cell: &str) -> &str {
    let cell = cell.trim();
    match cell.strip_prefix('\'') {
        Some(rest) if is_formula(rest.trim_start_matches('\'')) => rest,
        _ => cell,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn export_neutralisation_is_undone_once() {
        assert_eq!(clean(" '=SUM(A1) "), "=SUM(A1)");
        assert_eq!(clean("''=SUM(A1)"), "'=SUM(A1)");
        // However many apostrophes a value starts with, export adds one and
        // import takes one (found by the export -> import property).
        assert_eq!(clean("'''-"), "''-");
        assert_eq!(clean("'hello"), "'hello");
        assert_eq!(clean("'+60123456789"), "'+60123456789");
        assert_eq!(clean("=1+1"), "=1+1");
    }

    #[test]
    fn binary_files_are_recognised() {
        assert_eq!(binary_kind(b"\x89PNG\r\n\x1a\n..."), Some("a PNG image"));
        assert_eq!(binary_kind(b"name,email\n\0\0"), Some("binary data"));
        assert_eq!(binary_kind(b"name,email\nAli,ali@example.com\n"), None);
    }

    #[test]
    fn the_delimiter_follows_the_header() {
        let (d, _) = open(&b"\xEF\xBB\xBFname;email;city\nA;b@c.d;x,y\n"[..]).unwrap();
        assert_eq!(d, b';');
        let (d, _) = open(&b"name,email\n"[..]).unwrap();
        assert_eq!(d, b',');
        assert!(open(&b"\xEF\xBB\xBF  \n"[..]).unwrap_err().contains("empty"));
    }
}
