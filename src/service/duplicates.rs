//! The duplicate finder: pairs of contacts that are probably one person.
//!
//! Email, phone and identifier are unique, so the duplicates worth finding
//! are the ones those columns cannot catch: two addresses that reach one
//! mailbox, a phone number typed into a name, the same name written
//! differently, a slip of the keyboard in a name. Comparing every contact
//! with every other is out of the question at a million contacts, so each
//! contact yields a few *match keys* (normalised strings, kept as 64-bit
//! hashes in `contact_match_keys`), and only contacts that share a key are
//! compared ("blocking"). A key held by more than [`BLOCK_CAP`] contacts is
//! too common to mean anything (hundreds of customers share "Siti binti
//! Rahman" in Kuala Lumpur) and is skipped. Each compared pair gets a score
//! (0–1000) and a reason a sales lead can read; pairs that score are kept in
//! `duplicate_pairs`, strongest first on the duplicates page.
//!
//! [`refresh`] keeps one contact's keys and pairs current inside the write
//! that changed it; [`rebuild`] recomputes everything in one pass, for a
//! freshly seeded database or one that predates the finder. The rules are
//! written up in docs/duplicates.md.

use std::collections::{HashMap, HashSet};

use diesel::connection::SimpleConnection;
use diesel::dsl::{count_star, sql};
use diesel::prelude::*;
use diesel::result::{DatabaseErrorKind, Error as DieselError};
use diesel::sql_types::{BigInt, Bool, Integer};
use phonenumber::country::Id as CountryId;

use super::contact_fields::Phone;
use crate::db::schema::{contact_match_keys, contacts, duplicate_backlog, duplicate_pairs, seed_duplicates};
use crate::db::{write_transaction, AnyConnection};
use crate::error::AppError;

/// A key shared by more contacts than this is too common to compare them
/// all: 64 members already make 2,016 comparisons, and such keys (a common
/// name in a big city) say nothing about who is the same person.
pub const BLOCK_CAP: usize = 64;

/// Phone numbers written in names are read as Malaysian when they carry no
/// `+` (the finder has no access to the instance's settings, and its keys
/// must not change with them).
const NAME_PHONE_COUNTRY: CountryId = CountryId::MY;

/// Words that join a person's name to their father's (`bin`, `binti`,
/// `a/l`…): a handle such as `siti.rahman` leaves them out, so the finder does too.
const NAME_CONNECTORS: &[&str] = &["bin", "binti", "bt", "bte", "bn", "a/l", "a/p", "s/o", "d/o"];

/// Legal-form words that people add or leave out of a company's name.
const COMPANY_SUFFIXES: &[&str] = &["sdn", "bhd", "berhad", "ltd", "limited", "inc", "plc", "pte", "llc"];

// ------------------------------------------------------------ normalisers

/// The mailbox an address delivers to: the `+tag` is dropped from the local
/// part, and Gmail (which ignores dots and also answers as googlemail.com)
/// loses its dots. `None` for text that is not an address.
pub fn mailbox(email: &str) -> Option<String> {
    let email = email.trim().to_lowercase();
    let (local, domain) = email.rsplit_once('@')?;
    let local = local.split('+').next().unwrap_or("");
    if local.is_empty() || domain.is_empty() {
        return None;
    }
    let domain = if domain == "googlemail.com" {
        "gmail.com"
    } else {
        domain
    };
    let local = if domain == "gmail.com" {
        local.replace('.', "")
    } else {
        local.to_string()
    };
    Some(format!("{local}@{domain}"))
}

/// A name's words, lower-case, letters and digits only, without the
/// connectors that a handle leaves out: `@Siti_Aminah`, `siti.aminah`,
/// `SITI  AMINAH` and `Siti binti Aminah` all give `["siti", "aminah"]`.
pub fn name_tokens(name: &str) -> Vec<String> {
    let lower = name.to_lowercase();
    let mut tokens = Vec::new();
    for piece in lower.split(|c: char| !(c.is_alphanumeric() || c == '/')) {
        if NAME_CONNECTORS.contains(&piece) {
            continue;
        }
        for part in piece.split('/') {
            if !part.is_empty() && !NAME_CONNECTORS.contains(&part) {
                tokens.push(part.to_string());
            }
        }
    }
    tokens
}

/// The name as one run of letters and digits (`sitiaminah`): what a handle
/// without separators, a different spacing or a different case all agree on.
pub fn compact_name(name: &str) -> String {
    name_tokens(name).concat()
}

/// A company as people write it, without case, punctuation or legal form:
/// `Maju Trading Sdn. Bhd.` and `MAJU TRADING` agree.
pub fn company_key(company: &str) -> Option<String> {
    let lower = company.to_lowercase();
    let words: Vec<&str> = lower
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty() && !COMPANY_SUFFIXES.contains(w))
        .collect();
    (!words.is_empty()).then(|| words.join(" "))
}

/// A city without case or punctuation.
pub fn city_key(city: &str) -> Option<String> {
    let lower = city.to_lowercase();
    let words: Vec<&str> = lower
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .collect();
    (!words.is_empty()).then(|| words.join(" "))
}

/// Phone numbers written in free text (a name such as `012-345 6789` or
/// `Ali (+60 12-345 6789)`): each run of at least 8 digits, allowing
/// spaces, dashes, dots, parentheses and a leading `+`, in E.164.
pub fn phones_in_text(text: &str) -> Vec<String> {
    let mut found = Vec::new();
    let mut run = String::new();
    let mut digits = 0;
    let mut flush = |run: &mut String, digits: &mut usize| {
        if *digits >= 8 {
            let number = run.trim_matches(|c: char| !c.is_ascii_digit() && c != '+');
            if let Ok(phone) = Phone::parse(number, NAME_PHONE_COUNTRY) {
                let phone = phone.into_inner();
                if !found.contains(&phone) {
                    found.push(phone);
                }
            }
        }
        run.clear();
        *digits = 0;
    };
    for c in text.chars() {
        match c {
            '0'..='9' => {
                digits += 1;
                run.push(c);
            }
            // A `+` starts a number; inside one it starts the next.
            '+' => {
                flush(&mut run, &mut digits);
                run.push(c);
            }
            ' ' | '-' | '.' | '(' | ')' => {
                if !run.is_empty() {
                    run.push(c);
                }
            }
            _ => flush(&mut run, &mut digits),
        }
    }
    flush(&mut run, &mut digits);
    found
}

/// FNV-1a, 64 bits, over the parts with a separator byte that UTF-8 never
/// uses: stable across processes, versions and machines, which the stored
/// keys need (Rust's own `DefaultHasher` promises none of that).
fn key_hash(parts: &[&str]) -> i64 {
    const OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
    const PRIME: u64 = 0x0000_0100_0000_01b3;
    let mut hash = OFFSET;
    for part in parts {
        for &byte in part.as_bytes().iter().chain(&[0xff]) {
            hash ^= u64::from(byte);
            hash = hash.wrapping_mul(PRIME);
        }
    }
    hash as i64
}

// ------------------------------------------------------------ one contact

/// The attributes the finder looks at, as stored (email lower-case, phone
/// in E.164), or as a form's draft has them.
#[derive(Debug, Clone, Copy, Default)]
pub struct Fields<'a> {
    pub name: &'a str,
    pub email: Option<&'a str>,
    pub phone: Option<&'a str>,
    pub company: Option<&'a str>,
    pub city: Option<&'a str>,
}

/// A contact's fields with everything the finder derives from them.
#[derive(Debug)]
struct Profile<'a> {
    fields: Fields<'a>,
    tokens: Vec<String>,
    compact: String,
    /// The tokens in alphabetical order, so that `Rahman Siti` meets `Siti Rahman`.
    sorted: String,
    mailbox: Option<String>,
    /// Phone numbers written in the name.
    name_phones: Vec<String>,
    company: Option<String>,
    city: Option<String>,
}

impl<'a> Profile<'a> {
    fn new(fields: Fields<'a>) -> Self {
        let tokens = name_tokens(fields.name);
        let mut sorted: Vec<&str> = tokens.iter().map(String::as_str).collect();
        sorted.sort_unstable();
        // Most names hold no digits at all: skip the phone scan for them.
        let name_phones = if fields.name.bytes().filter(u8::is_ascii_digit).count() >= 8 {
            phones_in_text(fields.name)
        } else {
            Vec::new()
        };
        Self {
            compact: tokens.concat(),
            sorted: sorted.join(" "),
            tokens,
            mailbox: fields.email.and_then(mailbox),
            name_phones,
            company: fields.company.and_then(company_key),
            city: fields.city.and_then(city_key),
            fields,
        }
    }

    /// The name's words that can stand for the person in a small group: at
    /// least three letters (initials and `a/l` say nothing), unless that
    /// leaves fewer than two, as in `Ng Xin Yi`: a typo in `Xin` would then
    /// leave no word in common, so the short words count too.
    fn telling_tokens(&self) -> Vec<&str> {
        let words = |min: usize| -> Vec<&str> {
            self.tokens
                .iter()
                .map(String::as_str)
                .filter(|t| t.chars().count() >= min && t.chars().all(char::is_alphabetic))
                .collect()
        };
        let long = words(3);
        if long.len() >= 2 {
            long
        } else {
            words(2)
        }
    }

    /// The blocking keys, hashed: two contacts are compared when they share one.
    fn keys(&self) -> Vec<i64> {
        let mut keys = Vec::with_capacity(12);
        if let Some(m) = &self.mailbox {
            keys.push(key_hash(&["mailbox", m]));
        }
        for phone in self
            .fields
            .phone
            .iter()
            .copied()
            .chain(self.name_phones.iter().map(String::as_str))
        {
            keys.push(key_hash(&["phone", phone]));
        }
        if !self.compact.is_empty() {
            // The name alone: a social handle (`siti.aminah` for `Siti
            // Aminah`) arrives with nothing else. Common names make blocks
            // over the cap and are skipped, so only rare names meet here.
            keys.push(key_hash(&["name", &self.compact]));
            if let Some(company) = &self.company {
                keys.push(key_hash(&["name+company", &self.compact, company]));
                if self.tokens.len() > 1 {
                    keys.push(key_hash(&["sorted name+company", &self.sorted, company]));
                }
            }
            if let Some(city) = &self.city {
                keys.push(key_hash(&["name+city", &self.compact, city]));
            }
        }
        let mut seen: Vec<&str> = Vec::new();
        for token in self.telling_tokens() {
            if seen.contains(&token) {
                continue;
            }
            seen.push(token);
            let city = self.city.as_deref().unwrap_or("");
            if let Some(company) = &self.company {
                keys.push(key_hash(&["token+company+city", company, city, token]));
            }
            if !city.is_empty() {
                keys.push(key_hash(&["token+city", city, token]));
            }
        }
        keys.sort_unstable();
        keys.dedup();
        keys
    }
}

/// How two contacts' values of one attribute relate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Agreement {
    Same,
    /// One or both have none.
    Unknown,
    Different,
}

fn agreement(a: &Option<String>, b: &Option<String>) -> Agreement {
    match (a, b) {
        (Some(a), Some(b)) if a == b => Agreement::Same,
        (Some(_), Some(_)) => Agreement::Different,
        _ => Agreement::Unknown,
    }
}

/// The evidence that backs a name match, as the reason says it.
fn setting(company: Agreement, city: Agreement) -> &'static str {
    match (company, city) {
        (Agreement::Same, Agreement::Same) => "same company and city",
        (Agreement::Same, Agreement::Different) => "same company, different cities",
        (Agreement::Same, Agreement::Unknown) => "same company",
        _ => "same city",
    }
}

/// How far apart two names are once normalised, as a typist would see it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum NameDistance {
    /// One word differs by a single letter (added, dropped, changed or two
    /// swapped) after its first, and both spellings have at least three
    /// letters: `Rahman` and `Rahmam`. People rarely mistype the first
    /// letter of a name, and a short word's one letter changes a lot of it:
    /// `Ng` and `Ong`, `Wong` and `Ong` are different surnames, not typos.
    OneLetter,
    /// At most two edits over names of at least eight letters.
    Close,
    Far,
}

fn name_distance(a: &Profile, b: &Profile) -> NameDistance {
    if a.tokens.len() == b.tokens.len() {
        let differing: Vec<(&String, &String)> = a.tokens.iter().zip(&b.tokens).filter(|(x, y)| x != y).collect();
        if let [(x, y)] = differing.as_slice() {
            let same_start = x.chars().next() == y.chars().next();
            if same_start && x.chars().count().min(y.chars().count()) >= 3 && strsim::osa_distance(x, y) == 1 {
                return NameDistance::OneLetter;
            }
        }
    }
    let shorter = a.compact.chars().count().min(b.compact.chars().count());
    if shorter >= 8 && strsim::osa_distance(&a.compact, &b.compact) <= 2 {
        NameDistance::Close
    } else {
        NameDistance::Far
    }
}

/// Scores a pair: the strongest rule that applies, with its reason, or
/// `None` when nothing suggests one person. `a` is the contact with the
/// lower ID, so that a pair always reads the same way.
fn score(a: &Profile, b: &Profile) -> Option<(i32, String)> {
    use Agreement::{Different, Same, Unknown};
    // Two addresses, one inbox: as strong as evidence gets short of equality.
    if let (Some(ma), Some(mb)) = (&a.mailbox, &b.mailbox) {
        if ma == mb && a.fields.email != b.fields.email {
            let (ea, eb) = (a.fields.email.unwrap_or(""), b.fields.email.unwrap_or(""));
            return Some((970, format!("Same mailbox: {ea} and {eb} reach the same inbox")));
        }
    }
    for (x, y) in [(a, b), (b, a)] {
        if let Some(phone) = x.fields.phone {
            if y.name_phones.iter().any(|p| p == phone) {
                return Some((
                    950,
                    format!(
                        "The phone number of {} ({phone}) is written in the name “{}”",
                        x.fields.name, y.fields.name
                    ),
                ));
            }
        }
    }
    if let Some(phone) = a.name_phones.iter().find(|p| b.name_phones.contains(p)) {
        return Some((940, format!("Both names contain the phone number {phone}")));
    }
    let company = agreement(&a.company, &b.company);
    let city = agreement(&a.city, &b.city);
    // A name match means something only beside a shared company or city;
    // a conflicting company says these are two people.
    if company == Different || (company == Unknown && city == Different) || a.compact.is_empty() {
        return None;
    }
    let (na, nb) = (a.fields.name, b.fields.name);
    let same_name = a.compact == b.compact || (a.tokens.len() > 1 && a.sorted == b.sorted);
    if company == Unknown && city == Unknown {
        // Nothing beside the name: only a name written differently (a
        // handle from a chat channel) counts, and only a rare one reaches
        // here (see `keys`).
        return (same_name && na != nb).then(|| {
            (
                720,
                format!("Same name written differently (“{na}” and “{nb}”), nothing else known"),
            )
        });
    }
    if same_name && na != nb {
        let points = match (company, city) {
            (Same, Same) => 920,
            (Same, Unknown) => 900,
            (Same, Different) => 850,
            _ => 800,
        };
        let how = setting(company, city);
        return Some((
            points,
            format!("Same name written differently (“{na}” and “{nb}”), {how}"),
        ));
    }
    if same_name {
        // The same name alone is common (hundreds of "Siti binti Rahman");
        // it counts only with the company, and more with the city too.
        return match (company, city) {
            (Same, Same) => Some((700, "Same name, company and city".to_string())),
            (Same, Unknown) => Some((650, "Same name and company".to_string())),
            _ => None,
        };
    }
    let (points, what) = match (name_distance(a, b), company, city) {
        (NameDistance::Far, _, _) | (_, Same, Different) => return None,
        (NameDistance::OneLetter, Same, Same) => (860, "Names one letter apart"),
        (NameDistance::OneLetter, Same, _) => (760, "Names one letter apart"),
        (NameDistance::OneLetter, _, _) => (600, "Names one letter apart"),
        (NameDistance::Close, Same, Same) => (760, "Similar names"),
        (NameDistance::Close, Same, _) => (700, "Similar names"),
        // Two edits apart in the same city alone is everyday: Tan Mei Ling
        // and Teh Mei Ling are two people.
        (NameDistance::Close, _, _) => return None,
    };
    let how = setting(company, city);
    Some((points, format!("{what} (“{na}” and “{nb}”), {how}")))
}

// ------------------------------------------------------------ storage

#[derive(Insertable)]
#[diesel(table_name = contact_match_keys)]
struct KeyRow {
    contact_id: i32,
    key_hash: i64,
}

#[derive(Insertable)]
#[diesel(table_name = duplicate_pairs)]
struct PairRow {
    contact_id: i32,
    other_id: i32,
    score: i32,
    reason: String,
}

/// Writes keys with multi-row inserts (which only the backends' own
/// connection types can do). A key or pair that is already there is left
/// alone: a contact edited while a rebuild runs has written its own.
fn insert_keys(conn: &mut AnyConnection, rows: &[KeyRow]) -> Result<(), AppError> {
    if let AnyConnection::Sqlite(c) = conn {
        // One prepared statement run per row: SQLite has no round trips to
        // save, and a multi-row insert journals every page it touches in
        // case it must roll back (measured slower).
        for row in rows {
            diesel::insert_or_ignore_into(contact_match_keys::table)
                .values(row)
                .execute(c)?;
        }
        return Ok(());
    }
    // PostgreSQL binds at most 65,535 parameters per statement: 2 per row.
    for chunk in rows.chunks(10_000) {
        match conn {
            AnyConnection::Sqlite(c) => diesel::insert_or_ignore_into(contact_match_keys::table)
                .values(chunk)
                .execute(c)?,
            AnyConnection::Postgresql(c) => diesel::insert_into(contact_match_keys::table)
                .values(chunk)
                .on_conflict_do_nothing()
                .execute(c)?,
        };
    }
    Ok(())
}

fn insert_pairs(conn: &mut AnyConnection, rows: &[PairRow]) -> Result<(), AppError> {
    for chunk in rows.chunks(5_000) {
        match conn {
            AnyConnection::Sqlite(c) => {
                diesel::insert_or_ignore_into(duplicate_pairs::table)
                    .values(chunk)
                    .execute(c)?;
            }
            AnyConnection::Postgresql(c) => {
                // On PostgreSQL a contact read as a candidate can be deleted
                // (merged, purged) by a transaction that commits before this
                // insert checks its foreign key: the soak found that as a
                // 500 on a create. The insert runs in a savepoint; on that
                // violation the pairs whose contacts are gone are dropped
                // (they have nothing left to pair) and the rest go in.
                let first = c.transaction(|c| {
                    diesel::insert_into(duplicate_pairs::table)
                        .values(chunk)
                        .on_conflict_do_nothing()
                        .execute(c)
                });
                match first {
                    Err(DieselError::DatabaseError(DatabaseErrorKind::ForeignKeyViolation, _)) => {
                        let ids: Vec<i32> = chunk.iter().flat_map(|p| [p.contact_id, p.other_id]).collect();
                        let alive: HashSet<i32> = contacts::table
                            .filter(contacts::id.eq_any(&ids))
                            .select(contacts::id)
                            .load(c)?
                            .into_iter()
                            .collect();
                        let kept: Vec<&PairRow> = chunk
                            .iter()
                            .filter(|p| alive.contains(&p.contact_id) && alive.contains(&p.other_id))
                            .collect();
                        diesel::insert_into(duplicate_pairs::table)
                            .values(kept)
                            .on_conflict_do_nothing()
                            .execute(c)?;
                    }
                    other => {
                        other?;
                    }
                }
            }
        };
    }
    Ok(())
}

/// The columns the finder reads: id, name, email, phone, company, city.
type ContactRow = (
    i32,
    String,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<String>,
);

fn fields_of(row: &ContactRow) -> Fields<'_> {
    Fields {
        name: &row.1,
        email: row.2.as_deref(),
        phone: row.3.as_deref(),
        company: row.4.as_deref(),
        city: row.5.as_deref(),
    }
}

fn finder_columns() -> (
    contacts::id,
    contacts::name,
    contacts::email,
    contacts::phone,
    contacts::company,
    contacts::city,
) {
    (
        contacts::id,
        contacts::name,
        contacts::email,
        contacts::phone,
        contacts::company,
        contacts::city,
    )
}

/// The contacts that share a key with `keys` in a block small enough to
/// compare (counting the contact itself, which `me` names when it holds
/// keys already), with their fields.
fn candidates(conn: &mut AnyConnection, keys: &[i64], me: Option<i32>) -> Result<Vec<ContactRow>, AppError> {
    if keys.is_empty() {
        return Ok(Vec::new());
    }
    let holders: Vec<(i64, i64)> = contact_match_keys::table
        .filter(contact_match_keys::key_hash.eq_any(keys))
        .group_by(contact_match_keys::key_hash)
        .select((contact_match_keys::key_hash, count_star()))
        .load(conn)?;
    let mine: HashSet<i64> = match me {
        Some(id) => contact_match_keys::table
            .filter(contact_match_keys::contact_id.eq(id))
            .select(contact_match_keys::key_hash)
            .load::<i64>(conn)?
            .into_iter()
            .collect(),
        None => HashSet::new(),
    };
    let small: Vec<i64> = holders
        .into_iter()
        .filter(|(key, n)| {
            let members = *n as usize + usize::from(!mine.contains(key));
            members > 1 && members <= BLOCK_CAP
        })
        .map(|(key, _)| key)
        .collect();
    if small.is_empty() {
        return Ok(Vec::new());
    }
    let mut query = contact_match_keys::table
        .filter(contact_match_keys::key_hash.eq_any(&small))
        .select(contact_match_keys::contact_id)
        .distinct()
        .into_boxed();
    if let Some(id) = me {
        query = query.filter(contact_match_keys::contact_id.ne(id));
    }
    let ids: Vec<i32> = query.load(conn)?;
    Ok(contacts::table
        .filter(contacts::id.eq_any(&ids))
        .filter(contacts::deleted_at.is_null())
        .select(finder_columns())
        .order(contacts::id)
        .load(conn)?)
}

/// Recomputes one contact's keys and pairs, inside the caller's transaction:
/// call it after every write that changes a contact's name, email, phone,
/// company or city. A contact that no longer exists has nothing left to do
/// (its rows went with it).
pub fn refresh(conn: &mut AnyConnection, contact_id: i32) -> Result<(), AppError> {
    let row: Option<ContactRow> = contacts::table
        .find(contact_id)
        .filter(contacts::deleted_at.is_null())
        .select(finder_columns())
        .first(conn)
        .optional()?;
    let Some(row) = row else { return Ok(()) };
    let me = Profile::new(fields_of(&row));
    let keys = me.keys();
    diesel::delete(contact_match_keys::table.filter(contact_match_keys::contact_id.eq(contact_id))).execute(conn)?;
    let rows: Vec<KeyRow> = keys.iter().map(|&key_hash| KeyRow { contact_id, key_hash }).collect();
    insert_keys(conn, &rows)?;
    diesel::delete(
        duplicate_pairs::table.filter(
            duplicate_pairs::contact_id
                .eq(contact_id)
                .or(duplicate_pairs::other_id.eq(contact_id)),
        ),
    )
    .execute(conn)?;
    let mut pairs = Vec::new();
    for other in candidates(conn, &keys, Some(contact_id))? {
        let them = Profile::new(fields_of(&other));
        let (lo, hi) = if other.0 < contact_id {
            (&them, &me)
        } else {
            (&me, &them)
        };
        if let Some((score, reason)) = score(lo, hi) {
            pairs.push(PairRow {
                contact_id: other.0.min(contact_id),
                other_id: other.0.max(contact_id),
                score,
                reason,
            });
        }
    }
    insert_pairs(conn, &pairs)
}

/// Keys and pairs for contacts just created in bulk (an import's batch),
/// inside the caller's transaction: what [`refresh`] gives each of them, in
/// a few queries for the whole batch rather than several per contact.
pub fn add_new(conn: &mut AnyConnection, ids: &[i32]) -> Result<(), AppError> {
    if ids.is_empty() {
        return Ok(());
    }
    let mut rows: HashMap<i32, ContactRow> = HashMap::new();
    for chunk in ids.chunks(5_000) {
        let found: Vec<ContactRow> = contacts::table
            .filter(contacts::id.eq_any(chunk))
            .filter(contacts::deleted_at.is_null())
            .select(finder_columns())
            .load(conn)?;
        rows.extend(found.into_iter().map(|r| (r.0, r)));
    }
    let new: HashSet<i32> = rows.keys().copied().collect();
    let mut keys: Vec<KeyRow> = Vec::new();
    for row in rows.values() {
        for key_hash in Profile::new(fields_of(row)).keys() {
            keys.push(KeyRow {
                contact_id: row.0,
                key_hash,
            });
        }
    }
    let started = std::time::Instant::now();
    insert_keys(conn, &keys)?;
    let inserted = started.elapsed();
    let mut wanted: Vec<i64> = keys.iter().map(|k| k.key_hash).collect();
    wanted.sort_unstable();
    wanted.dedup();
    // Blocks small enough to compare, with their members.
    let mut small: Vec<i64> = Vec::new();
    for chunk in wanted.chunks(5_000) {
        let holders: Vec<(i64, i64)> = contact_match_keys::table
            .filter(contact_match_keys::key_hash.eq_any(chunk))
            .group_by(contact_match_keys::key_hash)
            .select((contact_match_keys::key_hash, count_star()))
            .load(conn)?;
        small.extend(
            holders
                .into_iter()
                .filter(|(_, n)| *n > 1 && *n as usize <= BLOCK_CAP)
                .map(|(key, _)| key),
        );
    }
    let mut blocks: HashMap<i64, Vec<i32>> = HashMap::new();
    for chunk in small.chunks(5_000) {
        let members: Vec<(i64, i32)> = contact_match_keys::table
            .filter(contact_match_keys::key_hash.eq_any(chunk))
            .select((contact_match_keys::key_hash, contact_match_keys::contact_id))
            .load(conn)?;
        for (key, id) in members {
            blocks.entry(key).or_default().push(id);
        }
    }
    let blocked = started.elapsed();
    let mut compare: HashSet<(i32, i32)> = HashSet::new();
    for members in blocks.values() {
        for (i, &a) in members.iter().enumerate() {
            for &b in &members[i + 1..] {
                if a != b && (new.contains(&a) || new.contains(&b)) {
                    compare.insert((a.min(b), a.max(b)));
                }
            }
        }
    }
    let others: Vec<i32> = compare
        .iter()
        .flat_map(|&(a, b)| [a, b])
        .filter(|id| !rows.contains_key(id))
        .collect::<HashSet<_>>()
        .into_iter()
        .collect();
    for chunk in others.chunks(5_000) {
        let found: Vec<ContactRow> = contacts::table
            .filter(contacts::id.eq_any(chunk))
            .filter(contacts::deleted_at.is_null())
            .select(finder_columns())
            .load(conn)?;
        rows.extend(found.into_iter().map(|r| (r.0, r)));
    }
    // Each contact's profile once: a block of 64 compares each member 63 times.
    let profiles: HashMap<i32, Profile> = rows
        .iter()
        .map(|(id, row)| (*id, Profile::new(fields_of(row))))
        .collect();
    let mut pairs = Vec::new();
    for (lo, hi) in compare {
        let (Some(a), Some(b)) = (profiles.get(&lo), profiles.get(&hi)) else {
            continue;
        };
        if let Some((score, reason)) = score(a, b) {
            pairs.push(PairRow {
                contact_id: lo,
                other_id: hi,
                score,
                reason,
            });
        }
    }
    tracing::debug!(keys = keys.len(), ?inserted, blocks = ?(blocked - inserted), compared = ?(started.elapsed() - blocked), "keyed new contacts");
    insert_pairs(conn, &pairs)
}

/// Existing contacts that look like the one being written (a form's draft),
/// strongest first, as (ID, name, reason); nothing is written. `except` is
/// the contact being edited.
pub fn look_alikes(
    conn: &mut AnyConnection,
    draft: Fields<'_>,
    except: Option<i32>,
) -> Result<Vec<(i32, String, String)>, AppError> {
    let me = Profile::new(draft);
    let mut found: Vec<(i32, i32, String, String)> = Vec::new();
    for other in candidates(conn, &me.keys(), except)? {
        let them = Profile::new(fields_of(&other));
        // The draft has no ID yet: it reads as the newer of the two.
        if let Some((score, reason)) = score(&them, &me) {
            found.push((score, other.0, other.1.clone(), reason));
        }
    }
    found.sort_by(|x, y| y.0.cmp(&x.0).then(x.1.cmp(&y.1)));
    Ok(found
        .into_iter()
        .map(|(_, id, name, reason)| (id, name, reason))
        .collect())
}

// ------------------------------------------------------------ rebuild

/// What a rebuild went through.
#[derive(Debug, Clone, Default)]
pub struct RebuildStats {
    pub contacts: u64,
    pub keys: u64,
    /// Keys held by more than [`BLOCK_CAP`] contacts, not compared.
    pub skipped_blocks: u64,
    pub comparisons: u64,
    pub pairs: u64,
}

/// Every contact's finder fields, compactly: the texts live in one arena
/// (a million contacts take about 60 MB instead of three heap strings each),
/// companies and cities are numbered once.
#[derive(Default)]
struct Book {
    text: String,
    contacts: Vec<Entry>,
    places: Vec<String>,
    place_ids: HashMap<String, u32>,
}

#[derive(Clone, Copy)]
struct Span {
    start: u32,
    len: u32,
}

const NONE: Span = Span {
    start: 0,
    len: u32::MAX,
};

struct Entry {
    id: i32,
    name: Span,
    email: Span,
    phone: Span,
    /// Index into `places` plus one; 0 for none.
    company: u32,
    city: u32,
}

impl Book {
    fn span(&mut self, text: Option<&str>) -> Span {
        match text {
            None => NONE,
            Some(t) => {
                let start = self.text.len() as u32;
                self.text.push_str(t);
                Span {
                    start,
                    len: t.len() as u32,
                }
            }
        }
    }

    fn place(&mut self, normalised: Option<String>) -> u32 {
        let Some(p) = normalised else { return 0 };
        if let Some(&n) = self.place_ids.get(&p) {
            return n;
        }
        self.places.push(p.clone());
        let n = self.places.len() as u32;
        self.place_ids.insert(p, n);
        n
    }

    fn add(&mut self, profile: &Profile, id: i32) -> u32 {
        let entry = Entry {
            id,
            name: self.span(Some(profile.fields.name)),
            email: self.span(profile.fields.email),
            phone: self.span(profile.fields.phone),
            company: self.place(profile.company.clone()),
            city: self.place(profile.city.clone()),
        };
        self.contacts.push(entry);
        (self.contacts.len() - 1) as u32
    }

    fn text_of(&self, span: Span) -> Option<&str> {
        (span.len != u32::MAX).then(|| &self.text[span.start as usize..(span.start + span.len) as usize])
    }

    fn place_of(&self, n: u32) -> Option<&str> {
        (n > 0).then(|| self.places[n as usize - 1].as_str())
    }

    /// The profile of the n-th contact; company and city are already
    /// normalised, and normalising them again changes nothing.
    fn profile(&self, n: u32) -> Profile<'_> {
        let e = &self.contacts[n as usize];
        Profile::new(Fields {
            name: self.text_of(e.name).unwrap_or(""),
            email: self.text_of(e.email),
            phone: self.text_of(e.phone),
            company: self.place_of(e.company),
            city: self.place_of(e.city),
        })
    }
}

/// Contacts read (and keyed) per query while rebuilding.
const READ_CHUNK: i64 = 20_000;
/// Pairs written per transaction while rebuilding.
const WRITE_CHUNK: usize = 50_000;

/// Recomputes every key and pair from scratch, calling `progress` with the
/// number of contacts keyed so far. Contacts are read in ID order, a chunk
/// at a time; their keys are written as they are read and kept in memory as
/// (hash, contact) to be sorted into blocks, whose pairs are then scored
/// and written. Memory grows with the number of contacts (about 250 bytes
/// each), not with their other data.
pub fn rebuild(conn: &mut AnyConnection, mut progress: impl FnMut(u64)) -> Result<RebuildStats, AppError> {
    let mut stats = RebuildStats::default();
    let started = std::time::Instant::now();
    // 256 MB: the whole table's keys are written.
    let restore = roomy_cache(conn, 262_144)?;
    empty(conn)?;
    tracing::debug!(seconds = started.elapsed().as_secs_f64(), "duplicate finder: emptied");
    let mut book = Book::default();
    let mut keys: Vec<(u64, u32)> = Vec::new();
    let mut key_writes = std::time::Duration::ZERO;
    let mut after = 0;
    loop {
        let rows: Vec<ContactRow> = contacts::table
            .filter(contacts::id.gt(after))
            .filter(contacts::deleted_at.is_null())
            .order(contacts::id)
            .limit(READ_CHUNK)
            .select(finder_columns())
            .load(conn)?;
        let Some(last) = rows.last() else { break };
        after = last.0;
        let mut key_rows = Vec::with_capacity(rows.len() * 10);
        for row in &rows {
            let profile = Profile::new(fields_of(row));
            let n = book.add(&profile, row.0);
            for key_hash in profile.keys() {
                keys.push((key_hash as u64, n));
                key_rows.push(KeyRow {
                    contact_id: row.0,
                    key_hash,
                });
            }
        }
        stats.keys += key_rows.len() as u64;
        let writing = std::time::Instant::now();
        write_transaction(conn, |c| insert_keys(c, &key_rows))?;
        key_writes += writing.elapsed();
        stats.contacts += rows.len() as u64;
        progress(stats.contacts);
    }
    tracing::debug!(
        seconds = started.elapsed().as_secs_f64(),
        writing = key_writes.as_secs_f64(),
        keys = stats.keys,
        "duplicate finder: keys written"
    );
    keys.sort_unstable();
    let mut found: Vec<(u32, u32, i32, String)> = Vec::new();
    for block in keys.chunk_by(|x, y| x.0 == y.0) {
        if block.len() > BLOCK_CAP {
            stats.skipped_blocks += 1;
            continue;
        }
        if block.len() < 2 {
            continue;
        }
        // Members are in contact order, so `i < j` puts the lower ID first.
        let profiles: Vec<Profile> = block.iter().map(|&(_, n)| book.profile(n)).collect();
        for i in 0..profiles.len() {
            for j in i + 1..profiles.len() {
                stats.comparisons += 1;
                if let Some((score, reason)) = score(&profiles[i], &profiles[j]) {
                    found.push((block[i].1, block[j].1, score, reason));
                }
            }
        }
    }
    drop(keys);
    tracing::debug!(
        seconds = started.elapsed().as_secs_f64(),
        "duplicate finder: blocks compared"
    );
    // A pair that shares several keys was scored once per key, alike.
    found.sort_unstable_by_key(|f| (f.0, f.1));
    found.dedup_by_key(|f| (f.0, f.1));
    stats.pairs = found.len() as u64;
    let mut rows = Vec::with_capacity(WRITE_CHUNK);
    let mut found = found.into_iter().peekable();
    while found.peek().is_some() {
        rows.clear();
        rows.extend(found.by_ref().take(WRITE_CHUNK).map(|(a, b, score, reason)| PairRow {
            contact_id: book.contacts[a as usize].id,
            other_id: book.contacts[b as usize].id,
            score,
            reason,
        }));
        write_transaction(conn, |c| insert_pairs(c, &rows))?;
    }
    tracing::debug!(
        seconds = started.elapsed().as_secs_f64(),
        "duplicate finder: pairs written"
    );
    // Everything in the backlog when the rebuild read the contacts is keyed.
    diesel::delete(duplicate_backlog::table.filter(duplicate_backlog::contact_id.le(after))).execute(conn)?;
    if let AnyConnection::Postgresql(c) = conn {
        // Fresh statistics, so the page and refresh are planned for the
        // tables' real size rather than for empty ones; VACUUM also marks
        // the new pages all-visible, so refresh's index-only scans of the
        // keys need no heap visits (a contact's save took 50–85 ms at a
        // million contacts before, 7 ms after). VACUUM cannot run inside a
        // caller's transaction: there, statistics only.
        use diesel::connection::{AnsiTransactionManager, TransactionManager};
        let in_transaction = AnsiTransactionManager::transaction_manager_status_mut(c)
            .transaction_depth()?
            .is_some();
        for table in ["contact_match_keys", "duplicate_pairs"] {
            // One statement per call: PostgreSQL runs several sent at once
            // as one transaction, where VACUUM is refused.
            let verb = if in_transaction { "ANALYZE" } else { "VACUUM ANALYZE" };
            c.batch_execute(&format!("{verb} {table}"))?;
        }
    }
    if let Some(size) = restore {
        conn.batch_execute(&format!("PRAGMA cache_size = {size}"))?;
    }
    Ok(stats)
}

/// Empties both tables. SQLite clears a table's pages at once for a
/// `DELETE` without `WHERE`, but not while it checks foreign keys on it:
/// with them on, emptying 7.5 million keys took 35 s, one row at a time.
/// Removing rows that only point to contacts breaks no reference, so the
/// check is off for this statement (the pragma is a no-op inside a
/// caller's transaction, where the delete is merely slower).
fn empty(conn: &mut AnyConnection) -> Result<(), AppError> {
    if let AnyConnection::Postgresql(_) = conn {
        return write_transaction(conn, |c| {
            Ok(c.batch_execute("TRUNCATE contact_match_keys, duplicate_pairs")?)
        });
    }
    conn.batch_execute("PRAGMA foreign_keys = OFF")?;
    let emptied = write_transaction(conn, |c| {
        c.batch_execute("DELETE FROM contact_match_keys; DELETE FROM duplicate_pairs;")
    });
    conn.batch_execute("PRAGMA foreign_keys = ON")?;
    Ok(emptied?)
}

#[derive(QueryableByName)]
struct CacheSize {
    #[diesel(sql_type = BigInt)]
    cache_size: i64,
}

/// On SQLite, gives the connection a page cache of `kib` KiB while it
/// inserts many keys into two B-trees in different orders (the second one
/// by hash, so each insert lands on a random page); returns the size to
/// restore afterwards.
fn roomy_cache(conn: &mut AnyConnection, kib: u32) -> Result<Option<i64>, AppError> {
    let AnyConnection::Sqlite(_) = conn else {
        return Ok(None);
    };
    let before: CacheSize = diesel::sql_query("PRAGMA cache_size").get_result(conn)?;
    conn.batch_execute(&format!("PRAGMA cache_size = -{kib}"))?;
    Ok(Some(before.cache_size))
}

// ------------------------------------------------------------ backlog

/// Contacts keyed per transaction by [`catch_up`].
const CATCH_UP_CHUNK: i64 = 10_000;

/// Puts new contacts in the backlog, for [`catch_up`] to key: an import's
/// batches do this instead of keying each batch, which at a million
/// contacts is mostly random writes into the keys' index.
pub fn enqueue(conn: &mut AnyConnection, ids: &[i32]) -> Result<(), AppError> {
    // One parameter a row.
    for chunk in ids.chunks(10_000) {
        let rows: Vec<_> = chunk.iter().map(|id| duplicate_backlog::contact_id.eq(*id)).collect();
        match conn {
            AnyConnection::Sqlite(c) => diesel::insert_or_ignore_into(duplicate_backlog::table)
                .values(&rows)
                .execute(c)?,
            AnyConnection::Postgresql(c) => diesel::insert_into(duplicate_backlog::table)
                .values(&rows)
                .on_conflict_do_nothing()
                .execute(c)?,
        };
    }
    Ok(())
}

/// How many contacts wait in the backlog.
pub fn backlog(conn: &mut AnyConnection) -> Result<i64, AppError> {
    Ok(duplicate_backlog::table.count().get_result(conn)?)
}

/// Keys the backlog's contacts and finds their pairs ([`add_new`]), a chunk
/// per transaction, until it is empty; returns how many were keyed. Safe to
/// run twice at once or again after a crash: keys and pairs are inserted
/// only where missing, and a chunk leaves the backlog in the transaction
/// that keys it.
pub fn catch_up(conn: &mut AnyConnection, mut progress: impl FnMut(u64)) -> Result<u64, AppError> {
    // A 64 MB page cache, as an import's commit has: the rebuild's 256 MB
    // would take the command line's import past its memory budget.
    let restore = roomy_cache(conn, 65_536)?;
    let mut done = 0u64;
    let result = (|| loop {
        let ids: Vec<i32> = duplicate_backlog::table
            .order(duplicate_backlog::contact_id)
            .limit(CATCH_UP_CHUNK)
            .select(duplicate_backlog::contact_id)
            .load(conn)?;
        if ids.is_empty() {
            return Ok(done);
        }
        write_transaction(conn, |c| {
            add_new(c, &ids)?;
            // A chunk's IDs, one parameter each, are within every backend's limit.
            diesel::delete(duplicate_backlog::table.filter(duplicate_backlog::contact_id.eq_any(&ids))).execute(c)?;
            Ok::<_, AppError>(())
        })?;
        done += ids.len() as u64;
        progress(done);
    })();
    if let Some(size) = restore {
        conn.batch_execute(&format!("PRAGMA cache_size = {size}"))?;
    }
    result
}

/// Runs [`catch_up`] on a thread of its own (after an import committed
/// from a page, and on start for what a crash left).
pub fn catch_up_in_background(pool: &crate::db::Pool) {
    let pool = pool.clone();
    let spawned = std::thread::Builder::new()
        .name("duplicates-catch-up".into())
        .spawn(move || {
            let started = std::time::Instant::now();
            let result = pool
                .get()
                .map_err(AppError::from)
                .and_then(|mut conn| catch_up(&mut conn, |_| {}));
            match result {
                Ok(0) => {}
                Ok(n) => tracing::info!(
                    contacts = n,
                    seconds = started.elapsed().as_secs_f64(),
                    "duplicate finder: backlog keyed"
                ),
                Err(e) => tracing::error!(error = %e, "duplicate finder: catching up failed"),
            }
        });
    if let Err(e) = spawned {
        tracing::error!(error = %e, "duplicate finder: could not start catching up");
    }
}

/// On start: a database with contacts but no keys predates the finder (or
/// was filled behind its back), so its pairs are computed on a thread of
/// their own while the server already answers.
pub fn rebuild_in_background_if_missing(pool: &crate::db::Pool) {
    let pool = pool.clone();
    let needed = pool.get().map_err(AppError::from).and_then(|mut conn| {
        let any_contact = contacts::table
            .select(contacts::id)
            .first::<i32>(&mut conn)
            .optional()?
            .is_some();
        let any_key = contact_match_keys::table
            .select(contact_match_keys::contact_id)
            .first::<i32>(&mut conn)
            .optional()?
            .is_some();
        let waiting = duplicate_backlog::table
            .select(duplicate_backlog::contact_id)
            .first::<i32>(&mut conn)
            .optional()?
            .is_some();
        Ok::<_, AppError>((any_contact && !any_key, waiting))
    });
    match needed {
        // What an import (cut off, or committed by another process) left.
        Ok((false, true)) => catch_up_in_background(&pool),
        Ok((false, false)) => {}
        Err(e) => tracing::warn!(error = %e, "could not check the duplicate finder's keys"),
        Ok((true, _)) => {
            let started = std::time::Instant::now();
            tracing::info!("duplicate finder: no match keys yet; rebuilding in the background");
            let spawned = std::thread::Builder::new()
                .name("duplicates-rebuild".into())
                .spawn(move || {
                    let result = pool
                        .get()
                        .map_err(AppError::from)
                        .and_then(|mut conn| rebuild(&mut conn, |_| {}));
                    match result {
                        Ok(stats) => tracing::info!(
                            contacts = stats.contacts,
                            pairs = stats.pairs,
                            seconds = started.elapsed().as_secs_f64(),
                            "duplicate finder: rebuild done"
                        ),
                        Err(e) => tracing::error!(error = %e, "duplicate finder: rebuild failed"),
                    }
                });
            if let Err(e) = spawned {
                tracing::error!(error = %e, "duplicate finder: could not start the rebuild");
            }
        }
    }
}

// ------------------------------------------------------------ reading

/// One side of a pair, as the duplicates page shows it.
#[derive(Debug, Clone, Queryable)]
pub struct PairContact {
    pub id: i32,
    pub name: String,
    pub email: Option<String>,
    pub phone: Option<String>,
    pub company: Option<String>,
    pub city: Option<String>,
}

/// A likely duplicate pair: `contact` has the lower ID.
#[derive(Debug, Clone, Queryable)]
pub struct DuplicatePair {
    pub score: i32,
    pub reason: String,
    pub contact: PairContact,
    pub other: PairContact,
}

impl DuplicatePair {
    /// Where the next page starts: this pair's place in the order.
    pub fn cursor(&self) -> (i32, i32, i32) {
        (self.score, self.contact.id, self.other.id)
    }
}

diesel::alias!(contacts as other_contact: OtherContact);

/// A page of pairs, strongest first (ties: newest contacts first, the
/// order of the `duplicate_pairs_rank` index read backwards, so the first
/// page reads 50 index entries whatever the table's size), after the pair
/// at `after` (from [`DuplicatePair::cursor`]). Both contacts come in the
/// same query.
pub fn page(
    conn: &mut AnyConnection,
    after: Option<(i32, i32, i32)>,
    limit: i64,
) -> Result<Vec<DuplicatePair>, AppError> {
    let mut query = duplicate_pairs::table
        .inner_join(contacts::table.on(contacts::id.eq(duplicate_pairs::contact_id)))
        .inner_join(other_contact.on(other_contact.field(contacts::id).eq(duplicate_pairs::other_id)))
        .select((
            duplicate_pairs::score,
            duplicate_pairs::reason,
            (
                contacts::id,
                contacts::name,
                contacts::email,
                contacts::phone,
                contacts::company,
                contacts::city,
            ),
            (
                other_contact.field(contacts::id),
                other_contact.field(contacts::name),
                other_contact.field(contacts::email),
                other_contact.field(contacts::phone),
                other_contact.field(contacts::company),
                other_contact.field(contacts::city),
            ),
        ))
        .order((
            duplicate_pairs::score.desc(),
            duplicate_pairs::contact_id.desc(),
            duplicate_pairs::other_id.desc(),
        ))
        .limit(limit)
        .into_boxed();
    if let Some((score, contact_id, other_id)) = after {
        // A row-value comparison: both backends seek the index to it.
        query = query.filter(
            sql::<Bool>("(duplicate_pairs.score, duplicate_pairs.contact_id, duplicate_pairs.other_id) < (")
                .bind::<Integer, _>(score)
                .sql(", ")
                .bind::<Integer, _>(contact_id)
                .sql(", ")
                .bind::<Integer, _>(other_id)
                .sql(")"),
        );
    }
    Ok(query.load(conn)?)
}

/// The likely duplicates of one contact, strongest first, as the contact's
/// page shows them (so a contact just typed in that looks like another one
/// suggests the merge at once).
pub fn of_contact(conn: &mut AnyConnection, id: i32) -> Result<Vec<(i32, PairContact, String)>, AppError> {
    let fields = (
        contacts::id,
        contacts::name,
        contacts::email,
        contacts::phone,
        contacts::company,
        contacts::city,
    );
    // Two index reads: the pair's primary key from one side, the
    // `duplicate_pairs_other` index from the other.
    let mut found: Vec<(i32, PairContact, String)> = duplicate_pairs::table
        .inner_join(contacts::table.on(contacts::id.eq(duplicate_pairs::other_id)))
        .filter(duplicate_pairs::contact_id.eq(id))
        .select((duplicate_pairs::score, fields, duplicate_pairs::reason))
        .load(conn)?;
    found.extend(
        duplicate_pairs::table
            .inner_join(contacts::table.on(contacts::id.eq(duplicate_pairs::contact_id)))
            .filter(duplicate_pairs::other_id.eq(id))
            .select((duplicate_pairs::score, fields, duplicate_pairs::reason))
            .load::<(i32, PairContact, String)>(conn)?,
    );
    found.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.id.cmp(&b.1.id)));
    Ok(found)
}

/// How many of the pairs `seed --duplicates` planted the finder ranks in
/// its top `top`, overall and per kind of duplicate.
#[derive(Debug, Clone, Default)]
pub struct Recall {
    pub planted: u64,
    pub found: u64,
    /// (kind, planted, found)
    pub by_kind: Vec<(String, u64, u64)>,
}

pub fn recall(conn: &mut AnyConnection, top: i64) -> Result<Recall, AppError> {
    let best: HashSet<(i32, i32)> = duplicate_pairs::table
        .order((
            duplicate_pairs::score.desc(),
            duplicate_pairs::contact_id.desc(),
            duplicate_pairs::other_id.desc(),
        ))
        .limit(top)
        .select((duplicate_pairs::contact_id, duplicate_pairs::other_id))
        .load::<(i32, i32)>(conn)?
        .into_iter()
        .collect();
    let planted: Vec<(i32, i32, String)> = seed_duplicates::table
        .select((
            seed_duplicates::contact_id,
            seed_duplicates::original_id,
            seed_duplicates::kind,
        ))
        .load(conn)?;
    let mut result = Recall::default();
    let mut kinds: Vec<(String, u64, u64)> = Vec::new();
    for (dup, original, kind) in planted {
        let hit = best.contains(&(dup.min(original), dup.max(original)));
        result.planted += 1;
        result.found += u64::from(hit);
        match kinds.iter_mut().find(|k| k.0 == kind) {
            Some(k) => {
                k.1 += 1;
                k.2 += u64::from(hit);
            }
            None => kinds.push((kind, 1, u64::from(hit))),
        }
    }
    kinds.sort();
    result.by_kind = kinds;
    Ok(result)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn profile(name: &str) -> Profile<'_> {
        Profile::new(Fields {
            name,
            company: Some("Maju Trading Sdn Bhd"),
            city: Some("Ipoh"),
            ..Fields::default()
        })
    }

    #[test]
    fn gmail_ignores_dots_and_tags_other_domains_only_tags() {
        assert_eq!(mailbox("A.B+promo@Gmail.com").as_deref(), Some("ab@gmail.com"));
        assert_eq!(mailbox("a.b@googlemail.com").as_deref(), Some("ab@gmail.com"));
        assert_eq!(mailbox("a.b+x@yahoo.com").as_deref(), Some("a.b@yahoo.com"));
        assert_ne!(mailbox("a.b@yahoo.com"), mailbox("ab@yahoo.com"));
        assert_eq!(mailbox("not an address"), None);
        assert_eq!(mailbox("+tag@gmail.com"), None);
    }

    #[test]
    fn handles_case_and_spacing_give_one_name() {
        let want = "sitiaminah";
        for name in [
            "siti.aminah",
            "@Siti_Aminah",
            "SITI  AMINAH",
            "Siti Aminah",
            "Siti binti Aminah",
        ] {
            assert_eq!(compact_name(name), want, "{name}");
        }
        assert_eq!(name_tokens("Rajesh a/l Muthu"), ["rajesh", "muthu"]);
        assert_eq!(name_tokens("Tan Wei-Ming"), ["tan", "wei", "ming"]);
        assert_ne!(compact_name("Siti Aminah"), compact_name("Siti Amirah"));
        assert_eq!(company_key("MAJU TRADING SDN. BHD.").as_deref(), Some("maju trading"));
        assert_eq!(company_key("Sdn Bhd"), None);
    }

    #[test]
    fn phones_are_found_in_names() {
        assert_eq!(phones_in_text("012-345 6789"), ["+60123456789"]);
        assert_eq!(phones_in_text("Ali (+60 12-345 6789) office"), ["+60123456789"]);
        assert_eq!(
            phones_in_text("Ali 012.345.6789 / 019 876 5432"),
            ["+60123456789", "+60198765432"]
        );
        assert!(
            phones_in_text("Order 1234567 shipped").is_empty(),
            "seven digits are not a phone"
        );
        assert!(phones_in_text("Siti binti Rahman").is_empty());
    }

    #[test]
    fn keys_are_stable_across_runs() {
        // Stored keys outlive the process: a changed hash would silently
        // split every block in two.
        assert_eq!(key_hash(&["mailbox", "ab@gmail.com"]), 0x736d_e679_3540_ce8f_u64 as i64);
        assert_ne!(key_hash(&["ab", "c"]), key_hash(&["a", "bc"]));
    }

    #[test]
    fn each_kind_scores_with_its_reason() {
        let a = Profile::new(Fields {
            name: "Siti binti Rahman",
            email: Some("siti.rahman@gmail.com"),
            phone: Some("+60123456789"),
            ..Fields::default()
        });
        let b = Profile::new(Fields {
            name: "Siti",
            email: Some("sitirahman+shop@gmail.com"),
            ..Fields::default()
        });
        let (points, reason) = score(&a, &b).expect("same mailbox");
        assert_eq!(points, 970);
        assert!(reason.contains("siti.rahman@gmail.com") && reason.contains("sitirahman+shop@gmail.com"));

        let c = Profile::new(Fields {
            name: "012-345 6789",
            ..Fields::default()
        });
        let (points, reason) = score(&a, &c).expect("phone in the name");
        assert_eq!(points, 950);
        assert!(reason.contains("+60123456789"), "{reason}");
        assert_eq!(a.keys().iter().filter(|k| c.keys().contains(k)).count(), 1);

        let (points, reason) = score(&profile("Siti binti Rahman"), &profile("siti.rahman")).expect("handle");
        assert_eq!(points, 920);
        assert!(reason.starts_with("Same name written differently"), "{reason}");

        let shared = |a: &Profile, b: &Profile| a.keys().iter().filter(|k| b.keys().contains(k)).count();
        assert!(
            shared(&profile("Ng Xin Yi"), &profile("Ng Xni Yi")) > 0,
            "short words meet"
        );
        let (points, _) = score(&profile("Ng Xin Yi"), &profile("Ng Xni Yi")).expect("swapped letters");
        assert_eq!(points, 860);

        let (points, reason) = score(&profile("Siti binti Rahman"), &profile("Siti binti Rahmam")).expect("typo");
        assert_eq!(points, 860);
        assert!(reason.starts_with("Names one letter apart"), "{reason}");

        let (points, _) = score(&profile("Siti binti Rahman"), &profile("Siti binti Rahman")).expect("same");
        assert_eq!(points, 700);
    }

    #[test]
    fn strangers_are_not_paired() {
        assert_eq!(
            score(&profile("Siti binti Rahman"), &profile("Siti binti Osman")).map(|s| s.0),
            None
        );
        // Ng and Ong are two surnames: close, but not a slip of one letter.
        let (points, _) = score(&profile("Ong Wei Ming"), &profile("Ng Wei Ming")).expect("close");
        assert!(points < 860, "{points}");
        let (points, _) = score(&profile("Wong Pei Shan"), &profile("Ong Pei Shan")).expect("close");
        assert!(points < 860, "{points}");
        let in_town = |name| {
            Profile::new(Fields {
                name,
                city: Some("Ipoh"),
                ..Fields::default()
            })
        };
        assert_eq!(
            score(&in_town("Tan Mei Ling"), &in_town("Teh Mei Ling")),
            None,
            "two edits, city only"
        );
        assert_eq!(
            score(&in_town("Tan Mei Ling"), &in_town("Tan Mei Lingg")).map(|s| s.0),
            Some(600)
        );
        let elsewhere = Profile::new(Fields {
            name: "siti.rahman",
            company: Some("Sinar Motor Sdn Bhd"),
            city: Some("Ipoh"),
            ..Fields::default()
        });
        assert_eq!(
            score(&profile("Siti binti Rahman"), &elsewhere),
            None,
            "another company"
        );
        let nothing_known = Profile::new(Fields {
            name: "siti.rahman",
            ..Fields::default()
        });
        // A handle with nothing else known: the chat-channel duplicate
        // (only rare names share a block, see `keys`).
        assert_eq!(
            score(&profile("Siti binti Rahman"), &nothing_known).map(|s| s.0),
            Some(720)
        );
        let same_handle = Profile::new(Fields {
            name: "siti.rahman",
            ..Fields::default()
        });
        assert_eq!(
            score(&same_handle, &nothing_known),
            None,
            "an identical name alone is not evidence"
        );
    }
}
