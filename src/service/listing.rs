//! The contacts list: search, filters, sort and keyset paging that stays as
//! fast deep in the list as on its first page; and the per-status counts.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use chrono::NaiveDateTime;
use diesel::dsl::sql;
use diesel::prelude::*;
use diesel::sql_types::{Bool, Double, Integer, Text};

use super::attributes::{self, AttrFilter, Condition};
use super::contacts::Contact;
use super::labels;
use super::status::LeadStatus;
use crate::db::schema::{
    contact_attribute_values as attr_values, contact_labels, contact_scores, contacts, conversations,
    owner_status_counts, status_counts, users,
};
use crate::db::{AnyConnection, MultiBackend};
use crate::error::AppError;

diesel::define_sql_function!(fn lower(x: diesel::sql_types::Text) -> diesel::sql_types::Text);

pub const PAGE_SIZE: usize = 50;
const MAX_QUERY: usize = 200;

/// What the list sorts by; its names (`SortKey::parse`) are the `sort`
/// values of the pages and the API (which refuses `attr.<key>`; the
/// OpenAPI description lists the others).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum SortKey {
    /// In pipeline order: New → Won, then Unqualified and Lost.
    Status,
    Name,
    Created,
    #[default]
    Activity,
    /// The lead score, highest first by default; unscored contacts last.
    Score,
    /// The owner's name A–Z (ignoring case; owners of the same name apart,
    /// by user ID), then the contact's ID; unassigned contacts last
    /// ascending, first descending.
    Owner,
    /// A custom attribute's value (`attr.<key>`), typed: numbers as
    /// numbers, the rest by their lower-case text; contacts without a
    /// value last in either order.
    Attr(String),
}

/// The sorts the API accepts, as its OpenAPI description lists them.
const API_SORTS: [&str; 6] = ["status", "name", "created", "activity", "score", "owner"];

impl SortKey {
    pub fn parse(s: &str) -> Result<Self, String> {
        match s {
            "status" => Ok(Self::Status),
            "name" => Ok(Self::Name),
            "created" => Ok(Self::Created),
            "activity" => Ok(Self::Activity),
            "score" => Ok(Self::Score),
            "owner" => Ok(Self::Owner),
            // Only the key's shape is checked here; whether it names an
            // attribute is the page's question (`page` answers 4xx).
            other => match other.strip_prefix("attr.") {
                Some(key) if !key.is_empty() && key.chars().count() <= 64 => Ok(Self::Attr(key.to_string())),
                _ => Err(format!(
                    "cannot sort by \"{}\" (use status, name, created, activity, score, owner or attr.<key>)",
                    truncate(other)
                )),
            },
        }
    }

    /// [`SortKey::parse`] for the API, whose `sort` is one of
    /// [`API_SORTS`] (its OpenAPI description lists them): a custom
    /// attribute is refused with the API's own choices.
    pub fn parse_api(s: &str) -> Result<Self, String> {
        let (last, others) = API_SORTS.split_last().unwrap_or((&"", &[]));
        let choices = format!("{} or {last}", others.join(", "));
        match Self::parse(s) {
            Ok(Self::Attr(_)) => Err(format!("cannot sort by a custom attribute in the API (use {choices})")),
            Err(_) => Err(format!("cannot sort by \"{}\" (use {choices})", truncate(s))),
            Ok(sort) => Ok(sort),
        }
    }

    /// The `sort` parameter's value that [`SortKey::parse`] reads back.
    pub fn as_param(&self) -> String {
        match self {
            Self::Status => "status".into(),
            Self::Name => "name".into(),
            Self::Created => "created".into(),
            Self::Activity => "activity".into(),
            Self::Score => "score".into(),
            Self::Owner => "owner".into(),
            Self::Attr(key) => format!("attr.{key}"),
        }
    }
}

// By hand rather than derived: a derived schema of an enum with a data
// variant is an object, and the API's `sort` is one of a few strings.
impl utoipa::PartialSchema for SortKey {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        utoipa::openapi::schema::ObjectBuilder::new()
            .schema_type(utoipa::openapi::schema::Type::String)
            .enum_values(Some(API_SORTS))
            .into()
    }
}

impl utoipa::ToSchema for SortKey {}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Order {
    Asc,
    #[default]
    Desc,
}

impl Order {
    pub fn parse(s: &str) -> Result<Self, String> {
        match s {
            "asc" => Ok(Self::Asc),
            "desc" => Ok(Self::Desc),
            other => Err(format!("order must be asc or desc, not \"{}\"", truncate(other))),
        }
    }
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Asc => "asc",
            Self::Desc => "desc",
        }
    }
}

/// Whose contacts to show.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OwnerFilter {
    All,
    Me,
    Nobody,
    User(i32),
}

impl OwnerFilter {
    pub fn parse(s: &str) -> Result<Self, String> {
        match s {
            "all" => Ok(Self::All),
            "me" => Ok(Self::Me),
            "none" => Ok(Self::Nobody),
            id => id
                .parse()
                .map(Self::User)
                .map_err(|_| format!("owner must be a user ID, me, none or all, not \"{}\"", truncate(id))),
        }
    }
    pub fn as_param(self) -> String {
        match self {
            Self::All => "all".into(),
            Self::Me => "me".into(),
            Self::Nobody => "none".into(),
            Self::User(id) => id.to_string(),
        }
    }
}

/// The list's query: what the page's and the API's query strings parse into.
#[derive(Debug, Clone, PartialEq)]
pub struct ContactQuery {
    pub q: String,
    pub statuses: Vec<LeadStatus>,
    /// `None` when the request did not say: the caller picks the default by role.
    pub owner: Option<OwnerFilter>,
    pub sort: SortKey,
    pub order: Order,
    pub cursor: Option<Cursor>,
    /// Exact lookups (the API's `email`, `phone`, `identifier`), already normalised.
    pub email: Option<String>,
    pub phone: Option<String>,
    pub identifier: Option<String>,
    /// Label names; a contact must carry all of them.
    pub labels: Vec<String>,
    /// Custom attribute filters; a contact must pass all of them.
    pub attrs: Vec<AttrFilter>,
    /// Custom attribute keys to show as columns (pages only).
    pub cols: Vec<String>,
    /// Only contacts older than this many days to whom no message was sent
    /// in that time (`quiet`, the pipeline's stale rule as a filter).
    pub quiet_days: Option<i32>,
}

impl ContactQuery {
    /// Parses the list's query-string pairs; unknown parameters are ignored.
    pub fn parse<'a>(pairs: impl IntoIterator<Item = (&'a str, &'a str)>) -> Result<Self, String> {
        let mut query = Self {
            q: String::new(),
            statuses: Vec::new(),
            owner: None,
            sort: SortKey::default(),
            order: Order::default(),
            cursor: None,
            email: None,
            phone: None,
            identifier: None,
            labels: Vec::new(),
            attrs: Vec::new(),
            cols: Vec::new(),
            quiet_days: None,
        };
        for (key, value) in pairs {
            let value = value.trim();
            // A NUL or another control character means nothing in a search
            // or a filter, and would reach the database (FTS5 reads a NUL as
            // the end of its query; PostgreSQL refuses NUL in text).
            if value.chars().any(char::is_control) {
                return Err(format!(
                    "{key} holds characters that are not allowed (control characters)"
                ));
            }
            if query.parse_shared(key, value)? {
                continue;
            }
            match key {
                "q" => {
                    if value.chars().count() > MAX_QUERY {
                        return Err(format!("the search is too long (at most {MAX_QUERY} characters)"));
                    }
                    query.q = value.to_string();
                }
                "status" if !value.is_empty() => {
                    let status = LeadStatus::parse(value)?;
                    if !query.statuses.contains(&status) {
                        query.statuses.push(status);
                    }
                }
                "owner" if !value.is_empty() => query.owner = Some(OwnerFilter::parse(value)?),
                "sort" if !value.is_empty() => query.sort = SortKey::parse(value)?,
                "order" if !value.is_empty() => query.order = Order::parse(value)?,
                "cursor" if !value.is_empty() => query.cursor = Some(Cursor::decode(value)?),
                "quiet" if !value.is_empty() => {
                    let days = value
                        .parse::<i32>()
                        .ok()
                        .filter(|d| (1..=3650).contains(d))
                        .ok_or_else(|| {
                            format!(
                                "quiet must be a number of days from 1 to 3650, not \"{}\"",
                                truncate(value)
                            )
                        })?;
                    query.quiet_days = Some(days);
                }
                _ => {}
            }
        }
        if let Some(cursor) = &query.cursor {
            if !cursor.fits(&query.sort) {
                return Err("the page link is out of date; start again from the first page".into());
            }
        }
        query.statuses.sort();
        Ok(query)
    }

    /// The query-string pairs that say this query: [`ContactQuery::parse`]
    /// reads them back to the same query (the fuzz target holds it to that).
    pub fn to_pairs(&self) -> Vec<(String, String)> {
        let mut pairs = Vec::new();
        if !self.q.is_empty() {
            pairs.push(("q".into(), self.q.clone()));
        }
        for status in &self.statuses {
            pairs.push(("status".into(), status.id().to_string()));
        }
        if let Some(owner) = self.owner {
            pairs.push(("owner".into(), owner.as_param()));
        }
        for label in &self.labels {
            pairs.push(("label".into(), label.clone()));
        }
        pairs.extend(self.attrs.iter().map(|f| f.to_param()));
        for col in &self.cols {
            pairs.push(("cols".into(), col.clone()));
        }
        if let Some(days) = self.quiet_days {
            pairs.push(("quiet".into(), days.to_string()));
        }
        pairs.push(("sort".into(), self.sort.as_param()));
        pairs.push(("order".into(), self.order.as_str().into()));
        if let Some(cursor) = &self.cursor {
            pairs.push(("cursor".into(), cursor.encode()));
        }
        pairs
    }

    /// The parameters the pages and the API spell alike: `label` and the
    /// custom attribute filters `attr.<key>[.<op>]`. Returns whether `key` was one.
    pub fn parse_shared(&mut self, key: &str, value: &str) -> Result<bool, String> {
        if key == "label" {
            if !value.is_empty() {
                let name = labels::parse_name(value).map_err(|e| format!("label {e}"))?;
                if !self.labels.contains(&name) {
                    self.labels.push(name);
                }
            }
            return Ok(true);
        }
        if key == "cols" {
            // Compared once cut to size (and trimmed again, as the cut can
            // end in a space), so the list's own link reads back to the
            // same columns.
            let col = truncate(value).trim_end().to_string();
            if !col.is_empty() && !self.cols.contains(&col) && self.cols.len() < 20 {
                self.cols.push(col);
            }
            return Ok(true);
        }
        match AttrFilter::parse(key, value) {
            Some(filter) => {
                let filter = filter?;
                if self.attrs.len() >= 20 {
                    return Err("at most 20 custom attribute filters".into());
                }
                if !self.attrs.contains(&filter) {
                    self.attrs.push(filter);
                }
                Ok(true)
            }
            None => Ok(false),
        }
    }
}

/// The label and custom attribute filters, checked against what exists.
#[derive(Debug, Default)]
struct Resolved {
    /// Each filter with whether it matches many contacts (see [`Reach`]).
    labels: Vec<(i32, Reach)>,
    conditions: Vec<(Condition, Reach)>,
    /// A label that does not exist: nothing can match.
    impossible: bool,
    /// Where an `attr.<key>` sort's values are (see [`resolve_sort`]).
    sort_by: Option<Beside>,
    /// Whether the search's long words match many contacts (SQLite), and
    /// how many the search index holds for them, read up to `BROAD + 1`
    /// (trashed contacts included).
    search: Reach,
    search_matches: Option<i64>,
}

/// How a filter joins the list, on SQLite.
///
/// SQLite plans `id IN (sub-select)` by reading the sub-select and looking
/// each contact up, then sorting them all: quick for a few hundred matches,
/// slow for "plan = gold" on 10% of 100,000 contacts. Such broad filters
/// become a correlated `EXISTS` instead: SQLite walks the sort's index and
/// probes each row's value by primary key (the value tables are `WITHOUT
/// ROWID`, so a probe is one B-tree descent), stopping after one page.
/// PostgreSQL plans both by itself from its statistics.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
enum Reach {
    #[default]
    Narrow,
    Broad,
}

/// Matches above which a filter counts as broad: the sorted walk then reads
/// about `page × contacts / matches` index rows, fewer than looking up and
/// sorting every match.
const BROAD: i64 = 2_000;

/// The contacts holding a value of one attribute that passes the filters.
/// (Not boxed: a boxed sub-select cannot be rendered for both backends.)
macro_rules! holders {
    ($attribute_id:expr $(, $filter:expr)*) => {
        attr_values::table
            .filter(attr_values::attribute_id.eq($attribute_id))
            $(.filter($filter))*
            .select(attr_values::contact_id)
    };
}

/// Runs `$body` with `$sub` bound to the sub-select of the contacts that pass
/// `$condition` (all conditions but "is not set", which is a `NOT IN`).
macro_rules! with_holders {
    ($condition:expr, $sqlite:expr, |$sub:ident| $body:expr) => {
        match $condition {
            Condition::KeyEquals {
                attribute_id,
                key,
                full: None,
            } => {
                let $sub = holders!(attribute_id, attr_values::value_key.eq(key));
                $body
            }
            Condition::KeyEquals {
                attribute_id,
                key,
                full: Some(full),
            } => {
                let $sub = holders!(
                    attribute_id,
                    attr_values::value_key.eq(key),
                    attr_values::value_text.eq(full)
                );
                $body
            }
            Condition::NumberEquals { attribute_id, number } => {
                let $sub = holders!(attribute_id, attr_values::value_number.eq(number));
                $body
            }
            // SQLite's LIKE already ignores (ASCII) case; PostgreSQL's does not.
            Condition::Contains { attribute_id, needle } if $sqlite => {
                let $sub = holders!(
                    attribute_id,
                    attr_values::value_text
                        .like(format!("%{}%", escape_like(&needle)))
                        .escape('\\')
                );
                $body
            }
            Condition::Contains { attribute_id, needle } => {
                let $sub = holders!(
                    attribute_id,
                    lower(attr_values::value_text)
                        .like(format!("%{}%", escape_like(&needle)))
                        .escape('\\')
                );
                $body
            }
            Condition::Set { attribute_id, .. } => {
                let $sub = holders!(attribute_id);
                $body
            }
            Condition::KeyRange {
                attribute_id,
                key,
                from: true,
            } => {
                let $sub = holders!(attribute_id, attr_values::value_key.ge(key));
                $body
            }
            Condition::KeyRange {
                attribute_id,
                key,
                from: false,
            } => {
                let $sub = holders!(attribute_id, attr_values::value_key.le(key));
                $body
            }
            Condition::NumberRange {
                attribute_id,
                number,
                from: true,
            } => {
                let $sub = holders!(attribute_id, attr_values::value_number.ge(number));
                $body
            }
            Condition::NumberRange {
                attribute_id,
                number,
                from: false,
            } => {
                let $sub = holders!(attribute_id, attr_values::value_number.le(number));
                $body
            }
        }
    };
}

fn label_holders(
    label_id: i32,
) -> diesel::dsl::Select<
    diesel::dsl::Filter<contact_labels::table, diesel::dsl::Eq<contact_labels::label_id, i32>>,
    contact_labels::contact_id,
> {
    contact_labels::table
        .filter(contact_labels::label_id.eq(label_id))
        .select(contact_labels::contact_id)
}

fn reach(matches: usize) -> Reach {
    if matches as i64 > BROAD {
        Reach::Broad
    } else {
        Reach::Narrow
    }
}

fn resolve(conn: &mut AnyConnection, query: &ContactQuery, calling_code: u16) -> Result<Resolved, AppError> {
    let sqlite = matches!(conn, AnyConnection::Sqlite(_));
    let mut resolved = Resolved::default();
    if sqlite {
        // As for labels: at most BROAD + 1 entries of the search index read.
        let words = search_words(&query.q, calling_code);
        let long: Vec<&Word> = words.iter().filter(|w| w.text.chars().count() >= 3).collect();
        if !long.is_empty() {
            let n = diesel::sql_query(
                "SELECT COUNT(*) AS n FROM (SELECT rowid FROM contacts_search WHERE contacts_search MATCH ? LIMIT ?)",
            )
            .bind::<Text, _>(fts_all(&long))
            .bind::<diesel::sql_types::BigInt, _>(BROAD + 1)
            .get_result::<Counted>(conn)?
            .n;
            resolved.search = reach(n as usize);
            resolved.search_matches = Some(n);
        }
    }
    if !query.labels.is_empty() {
        let (found, missing) = labels::resolve(conn, &query.labels)?;
        resolved.impossible = !missing.is_empty();
        for label in found {
            // At most BROAD + 1 index entries read, only where it matters.
            let reach = if sqlite {
                reach(label_holders(label.id).limit(BROAD + 1).load::<i32>(conn)?.len())
            } else {
                Reach::Narrow
            };
            resolved.labels.push((label.id, reach));
        }
    }
    if !query.attrs.is_empty() {
        let defs = attributes::definitions(conn)?;
        for filter in &query.attrs {
            let condition = filter.resolve(&defs)?;
            let reach = match &condition {
                _ if !sqlite => Reach::Narrow,
                // "Not set" is always a per-row probe on SQLite.
                Condition::Set { set: false, .. } => Reach::Broad,
                c => with_holders!(c.clone(), sqlite, |sub| reach(
                    sub.limit(BROAD + 1).load::<i32>(conn)?.len()
                )),
            };
            resolved.conditions.push((condition, reach));
        }
    }
    Ok(resolved)
}

fn truncate(s: &str) -> String {
    s.chars().take(40).collect()
}

#[derive(Debug, Clone, PartialEq)]
enum SortValue {
    Int(i32),
    Text(String),
    Time(NaiveDateTime),
    /// A number attribute's value.
    Num(f64),
    /// A contact with no activity, lead score, owner or attribute value:
    /// these sort last in either order (unassigned: first descending).
    Null,
}

/// Where a page starts: the sort value and ID of the row next to it, and
/// whether to read forwards (next page) or backwards (previous page).
#[derive(Debug, Clone, PartialEq)]
pub struct Cursor {
    backward: bool,
    value: SortValue,
    id: i32,
}

impl Cursor {
    /// The cursor next to `contact`; `value` is its sort value when the
    /// contact's row does not hold it (an attribute's value).
    fn of(contact: &Contact, sort: &SortKey, value: Option<SortValue>, backward: bool) -> Self {
        let value = value.unwrap_or_else(|| match sort {
            SortKey::Status => SortValue::Int(contact.status_id),
            SortKey::Name => SortValue::Text(contact.name.clone()),
            SortKey::Created => SortValue::Time(contact.created_at),
            SortKey::Activity => contact.last_activity_at.map_or(SortValue::Null, SortValue::Time),
            SortKey::Score => contact.lead_score.map_or(SortValue::Null, SortValue::Int),
            SortKey::Owner => contact.owner_id.map_or(SortValue::Null, SortValue::Int),
            SortKey::Attr(_) => SortValue::Null,
        });
        Self {
            backward,
            value,
            id: contact.id,
        }
    }

    /// Whether this cursor belongs to a list sorted by `sort`.
    pub fn fits(&self, sort: &SortKey) -> bool {
        matches!(
            (sort, &self.value),
            (SortKey::Status, SortValue::Int(_))
                | (SortKey::Name, SortValue::Text(_))
                | (SortKey::Created, SortValue::Time(_))
                | (SortKey::Activity, SortValue::Time(_) | SortValue::Null)
                | (SortKey::Score | SortKey::Owner, SortValue::Int(_) | SortValue::Null)
                | (
                    SortKey::Attr(_),
                    SortValue::Text(_) | SortValue::Num(_) | SortValue::Null
                )
        )
    }

    /// An opaque, URL-safe token.
    pub fn encode(&self) -> String {
        let value = match &self.value {
            SortValue::Int(i) => format!("i{i}"),
            SortValue::Text(t) => format!("t{t}"),
            // Full precision: SQLite keeps nanoseconds, and a rounded cursor
            // would repeat or skip rows at page boundaries.
            SortValue::Time(t) => {
                format!("d{}", t.and_utc().timestamp_nanos_opt().unwrap_or(i64::MAX))
            }
            // The bits: exact, as the stored number compares.
            SortValue::Num(n) => format!("r{:016x}", n.to_bits()),
            SortValue::Null => "n".into(),
        };
        let dir = if self.backward { 'b' } else { 'f' };
        URL_SAFE_NO_PAD.encode(format!("{dir}{}:{value}", self.id))
    }

    pub fn decode(token: &str) -> Result<Self, String> {
        let bad = || "the page link is not valid; start again from the first page".to_string();
        let bytes = URL_SAFE_NO_PAD.decode(token).map_err(|_| bad())?;
        let text = String::from_utf8(bytes).map_err(|_| bad())?;
        if text.contains('\0') {
            return Err(bad());
        }
        let (head, value) = text.split_once(':').ok_or_else(bad)?;
        let backward = match head.chars().next() {
            Some('b') => true,
            Some('f') => false,
            _ => return Err(bad()),
        };
        let id: i32 = head[1..].parse().map_err(|_| bad())?;
        let value = match value.split_at_checked(1) {
            Some(("i", v)) => SortValue::Int(v.parse().map_err(|_| bad())?),
            Some(("t", v)) => SortValue::Text(v.to_string()),
            Some(("d", v)) => {
                SortValue::Time(chrono::DateTime::from_timestamp_nanos(v.parse().map_err(|_| bad())?).naive_utc())
            }
            Some(("r", v)) => SortValue::Num(
                Some(v)
                    .filter(|v| v.len() == 16 && v.bytes().all(|b| b.is_ascii_hexdigit()))
                    .and_then(|v| u64::from_str_radix(v, 16).ok())
                    .map(f64::from_bits)
                    .filter(|n| n.is_finite())
                    .ok_or_else(bad)?,
            ),
            Some(("n", "")) => SortValue::Null,
            _ => return Err(bad()),
        };
        Ok(Self { backward, value, id })
    }
}

/// One row of the list.
pub struct ListedContact {
    pub contact: Contact,
    pub owner_name: Option<String>,
}

/// One page of the list, with the cursors of its neighbours.
pub struct ContactPage {
    pub rows: Vec<ListedContact>,
    pub next: Option<String>,
    pub prev: Option<String>,
}

type Query = contacts::BoxedQuery<'static, MultiBackend>;

fn escape_like(s: &str) -> String {
    s.replace('\\', "\\\\").replace('%', "\\%").replace('_', "\\_")
}

/// Phone-like searches (`012-345`, `2345`) match the digits of stored
/// E.164 numbers; a leading trunk 0 also matches the international form.
/// Returns the digits and that international form.
fn phone_digits(q: &str, calling_code: u16) -> Option<(String, String)> {
    let phone_like = q.chars().all(|c| c.is_ascii_digit() || " +-().".contains(c));
    let digits: String = q.chars().filter(char::is_ascii_digit).collect();
    if !phone_like || digits.len() < 3 {
        return None;
    }
    let international = match digits.strip_prefix('0') {
        Some(rest) => format!("{calling_code}{rest}"),
        None => digits.clone(),
    };
    Some((digits, international))
}

/// An FTS5 query matching any of `terms` as a substring (trigram phrases).
fn fts_query(terms: &[&str]) -> String {
    let mut seen: Vec<&str> = Vec::new();
    for t in terms {
        if !seen.contains(t) {
            seen.push(t);
        }
    }
    seen.iter()
        .map(|t| format!("\"{}\"", t.replace('"', "\"\"")))
        .collect::<Vec<_>>()
        .join(" OR ")
}

/// The filtered, unsorted list, before paging.
type Predicate = Box<dyn BoxableExpression<contacts::table, MultiBackend, SqlType = Bool>>;

/// A broad filter on SQLite as a correlated probe of the contact's own value
/// (see [`Reach`]); the values are bound parameters, never SQL text.
fn probe(condition: Condition) -> Predicate {
    const VALUE_OF_ROW: &str = "EXISTS (SELECT 1 FROM contact_attribute_values v \
                                WHERE v.contact_id = contacts.id AND v.attribute_id = ";
    let (attribute_id, negate) = match &condition {
        Condition::Set { attribute_id, set } => (*attribute_id, !set),
        Condition::KeyEquals { attribute_id, .. }
        | Condition::NumberEquals { attribute_id, .. }
        | Condition::Contains { attribute_id, .. }
        | Condition::KeyRange { attribute_id, .. }
        | Condition::NumberRange { attribute_id, .. } => (*attribute_id, false),
    };
    let head = sql::<Bool>(if negate { "NOT " } else { "" })
        .sql(VALUE_OF_ROW)
        .bind::<Integer, _>(attribute_id);
    match condition {
        Condition::Set { .. } => Box::new(head.sql(")")),
        Condition::KeyEquals { key, full: None, .. } => {
            Box::new(head.sql(" AND v.value_key = ").bind::<Text, _>(key).sql(")"))
        }
        Condition::KeyEquals {
            key, full: Some(full), ..
        } => Box::new(
            head.sql(" AND v.value_key = ")
                .bind::<Text, _>(key)
                .sql(" AND v.value_text = ")
                .bind::<Text, _>(full)
                .sql(")"),
        ),
        Condition::NumberEquals { number, .. } => {
            Box::new(head.sql(" AND v.value_number = ").bind::<Double, _>(number).sql(")"))
        }
        Condition::Contains { needle, .. } => Box::new(
            head.sql(" AND v.value_text LIKE ")
                .bind::<Text, _>(format!("%{}%", escape_like(&needle)))
                .sql(" ESCAPE '\\')"),
        ),
        Condition::KeyRange { key, from, .. } => Box::new(
            head.sql(if from {
                " AND v.value_key >= "
            } else {
                " AND v.value_key <= "
            })
            .bind::<Text, _>(key)
            .sql(")"),
        ),
        Condition::NumberRange { number, from, .. } => Box::new(
            head.sql(if from {
                " AND v.value_number >= "
            } else {
                " AND v.value_number <= "
            })
            .bind::<Double, _>(number)
            .sql(")"),
        ),
    }
}

/// Adds the label and custom attribute filters: narrow ones as sub-selects
/// served by an index on (label or attribute, value, contact), broad ones
/// (SQLite) as probes.
fn with_resolved(sqlite: bool, mut q: Query, resolved: &Resolved) -> Query {
    for &(label_id, reach) in &resolved.labels {
        q = match reach {
            Reach::Broad => q.filter(
                sql::<Bool>(
                    "EXISTS (SELECT 1 FROM contact_labels l WHERE l.contact_id = contacts.id AND l.label_id = ",
                )
                .bind::<Integer, _>(label_id)
                .sql(")"),
            ),
            Reach::Narrow => q.filter(contacts::id.eq_any(label_holders(label_id))),
        };
    }
    for (condition, reach) in resolved.conditions.iter().cloned() {
        q = match (condition, reach) {
            (c, Reach::Broad) => q.filter(probe(c)),
            (
                Condition::Set {
                    attribute_id,
                    set: false,
                },
                Reach::Narrow,
            ) => q.filter(contacts::id.ne_all(holders!(attribute_id))),
            (c, Reach::Narrow) => with_holders!(c, sqlite, |sub| q.filter(contacts::id.eq_any(sub))),
        };
    }
    q
}

/// One long word of a broad search, checked on the contact's own row: in
/// its name, e-mail, identifier or phone, as the search index would.
fn word_on_row(word: &Word) -> Predicate {
    if !word.text.is_ascii() {
        return Box::new(
            sql::<Bool>("EXISTS (SELECT 1 FROM contacts_search WHERE contacts_search MATCH ")
                .bind::<Text, _>(fts_all(&[word]))
                .sql(" AND rowid = contacts.id)"),
        );
    }
    let pattern = format!("%{}%", escape_like(&word.text));
    let email = contacts::email.assume_not_null();
    let identifier = contacts::identifier.assume_not_null();
    let phone = contacts::phone.assume_not_null();
    let by_text = contacts::name
        .like(pattern.clone())
        .escape('\\')
        .or(email.like(pattern.clone()).escape('\\'))
        .or(identifier.like(pattern.clone()).escape('\\'))
        .or(phone.like(pattern).escape('\\'));
    match &word.phone {
        Some((digits, international)) => Box::new(
            by_text
                .or(phone.like(format!("%{digits}%")))
                .or(phone.like(format!("%{international}%"))),
        ),
        None => Box::new(by_text),
    }
}

fn filtered(conn: &AnyConnection, query: &ContactQuery, resolved: &Resolved, me: i32, calling_code: u16) -> Query {
    let sqlite = matches!(conn, AnyConnection::Sqlite(_));
    // Trashed contacts are nobody's list (see `trash`).
    let mut q: Query = with_resolved(
        sqlite,
        contacts::table.filter(contacts::deleted_at.is_null()).into_boxed(),
        resolved,
    );
    if !query.statuses.is_empty() {
        q = q.filter(contacts::status_id.eq_any(query.statuses.iter().map(|s| s.id()).collect::<Vec<_>>()));
    }
    q = match query.owner.unwrap_or(OwnerFilter::All) {
        OwnerFilter::All => q,
        OwnerFilter::Me => q.filter(contacts::owner_id.eq(me)),
        OwnerFilter::Nobody => q.filter(contacts::owner_id.is_null()),
        OwnerFilter::User(id) => q.filter(contacts::owner_id.eq(id)),
    };
    if let Some(email) = &query.email {
        q = q.filter(contacts::email.eq(email.clone()));
    }
    if let Some(phone) = &query.phone {
        q = q.filter(contacts::phone.eq(phone.clone()));
    }
    if let Some(identifier) = &query.identifier {
        q = q.filter(contacts::identifier.eq(identifier.clone()));
    }
    if let Some(days) = query.quiet_days {
        // NOT IN the (few) conversations written to lately: no correlated probe per row.
        let cutoff = chrono::Utc::now().naive_utc() - chrono::Duration::days(days.into());
        q = q.filter(contacts::created_at.lt(cutoff)).filter(
            contacts::id.ne_all(
                conversations::table
                    .filter(conversations::last_outbound_at.ge(cutoff))
                    .select(conversations::contact_id),
            ),
        );
    }
    let words = search_words(&query.q, calling_code);
    if words.is_empty() {
        return q;
    }
    if sqlite {
        // The FTS5 trigram index (`contacts_search`) finds substrings of three
        // characters or more without a scan, ignoring case in any script: the
        // long words go to it as one query, every word's phrase ANDed.
        let long: Vec<&Word> = words.iter().filter(|w| w.text.chars().count() >= 3).collect();
        if !long.is_empty() && resolved.search == Reach::Narrow {
            q = q.filter(
                sql::<Bool>("contacts.id IN (SELECT rowid FROM contacts_search WHERE contacts_search MATCH ")
                    .bind::<Text, _>(fts_all(&long))
                    .sql(")"),
            );
        } else {
            // A broad search ("bin", in half the names): SQLite would build
            // the set of every match before the page could start. Checked on
            // each row instead, the sorted walk stops after one page. LIKE
            // ignores case only in ASCII, so other words ask the search
            // index about this one row.
            for word in long {
                q = q.filter(word_on_row(word));
            }
        }
        // One- and two-character words, which trigrams cannot serve: LIKE on
        // the contact's row (SQLite's LIKE ignores ASCII case), checked only
        // on the rows the other filters leave. (Too short to be phone-like.)
        for word in words.iter().filter(|w| w.text.chars().count() < 3) {
            let pattern = format!("%{}%", escape_like(&word.text));
            let email = contacts::email.assume_not_null();
            let identifier = contacts::identifier.assume_not_null();
            q = q.filter(
                contacts::name
                    .like(pattern.clone())
                    .escape('\\')
                    .or(email.like(pattern.clone()).escape('\\'))
                    .or(identifier.like(pattern).escape('\\')),
            );
        }
        return q;
    }
    // PostgreSQL: trigram GIN indexes on `contacts_search`, the lower-cased
    // searched fields kept beside the contacts by triggers (migration 000014:
    // a bulk status change no longer rewrites every trigram of every row).
    // One sub-select with a LIKE group per word, ANDed, so the planner can
    // intersect the words' bitmaps (see `PgWords`).
    q.filter(PgWords(
        words
            .into_iter()
            .map(|w| PgWord {
                pattern: format!("%{}%", escape_like(&w.text.to_lowercase())),
                phone: w.phone.map(|(d, i)| (format!("%{d}%"), format!("%{i}%"))),
            })
            .collect(),
    ))
}

/// One word of a search: what was typed, and for a phone-like word its
/// digits and their international form (see [`phone_digits`]).
#[derive(Debug, Clone, PartialEq)]
struct Word {
    text: String,
    phone: Option<(String, String)>,
}

/// The words of a search, each of which a contact must match (in its name,
/// e-mail, identifier or, for phone-like words, phone digits): "Ismail
/// Razak" finds "Ismail bin Razak" and "razak ismail" too. A whole query
/// that looks like a phone number ("012-345 6789") stays one term, since its
/// spaces are part of the number. A word repeated in another case counts
/// once (every comparison ignores case).
fn search_words(q: &str, calling_code: u16) -> Vec<Word> {
    let text = q.trim();
    if text.is_empty() {
        return Vec::new();
    }
    let whole = phone_digits(text, calling_code);
    let parts: Vec<&str> = if whole.is_some() {
        vec![text]
    } else {
        text.split_whitespace().collect()
    };
    let mut words: Vec<Word> = Vec::new();
    for part in parts {
        if words.iter().any(|w| w.text.to_lowercase() == part.to_lowercase()) {
            continue;
        }
        words.push(Word {
            text: part.to_string(),
            phone: phone_digits(part, calling_code),
        });
    }
    words
}

/// The FTS5 query for the search's long words: each word's alternatives
/// (the text, and a phone-like word's digits) ORed, the words ANDed.
fn fts_all(words: &[&Word]) -> String {
    words
        .iter()
        .map(|w| {
            let mut terms = vec![w.text.as_str()];
            if let Some((digits, international)) = &w.phone {
                terms.extend([digits.as_str(), international.as_str()]);
            }
            let alternatives = fts_query(&terms);
            if alternatives.contains(" OR ") {
                format!("({alternatives})")
            } else {
                alternatives
            }
        })
        .collect::<Vec<_>>()
        .join(" AND ")
}

/// The PostgreSQL search: `contacts.id IN (SELECT contact_id FROM
/// contacts_search WHERE (group) AND (group) …)`, one group per word, every
/// value a bound parameter. Written as its own SQL fragment because the
/// number of groups varies with the search, which diesel's typed SQL
/// literals cannot express, and one sub-select (rather than one per word)
/// lets PostgreSQL AND the words' trigram bitmaps before reading any row.
#[derive(Debug, Clone)]
struct PgWords(Vec<PgWord>);

/// A word's LIKE patterns, owned here because bound parameters borrow from
/// the query while it runs.
#[derive(Debug, Clone)]
struct PgWord {
    pattern: String,
    phone: Option<(String, String)>,
}

impl diesel::expression::Expression for PgWords {
    type SqlType = Bool;
}

impl<QS> diesel::expression::AppearsOnTable<QS> for PgWords {}

impl<QS> diesel::expression::SelectableExpression<QS> for PgWords {}

impl diesel::expression::ValidGrouping<()> for PgWords {
    type IsAggregate = diesel::expression::is_aggregate::Never;
}

impl diesel::query_builder::QueryId for PgWords {
    type QueryId = ();
    // The SQL changes with the number of words: never cache it by type.
    const HAS_STATIC_QUERY_ID: bool = false;
}

impl diesel::query_builder::QueryFragment<MultiBackend> for PgWords {
    fn walk_ast<'b>(&'b self, mut out: diesel::query_builder::AstPass<'_, 'b, MultiBackend>) -> QueryResult<()> {
        out.push_sql("contacts.id IN (SELECT contact_id FROM contacts_search WHERE ");
        for (i, word) in self.0.iter().enumerate() {
            if i > 0 {
                out.push_sql(" AND ");
            }
            out.push_sql("(name LIKE ");
            out.push_bind_param::<Text, String>(&word.pattern)?;
            out.push_sql(" ESCAPE '\\' OR email LIKE ");
            out.push_bind_param::<Text, String>(&word.pattern)?;
            out.push_sql(" ESCAPE '\\' OR identifier LIKE ");
            out.push_bind_param::<Text, String>(&word.pattern)?;
            out.push_sql(" ESCAPE '\\'");
            if let Some((digits, international)) = &word.phone {
                out.push_sql(" OR phone LIKE ");
                out.push_bind_param::<Text, String>(digits)?;
                out.push_sql(" OR phone LIKE ");
                out.push_bind_param::<Text, String>(international)?;
            }
            out.push_sql(")");
        }
        out.push_sql(")");
        Ok(())
    }
}

/// Rows strictly after `(value, id)` in the reading direction, ordered that
/// way, `$id` breaking ties.
macro_rules! keyset_on {
    ($q:expr, $col:expr, $id:expr, $after:expr, $asc:expr) => {{
        let mut q = $q;
        if let Some((value, id)) = $after {
            q = if $asc {
                q.filter($col.gt(value.clone()).or($col.eq(value).and($id.gt(id))))
            } else {
                q.filter($col.lt(value.clone()).or($col.eq(value).and($id.lt(id))))
            };
        }
        if $asc {
            q.order(($col.asc(), $id.asc()))
        } else {
            q.order(($col.desc(), $id.desc()))
        }
    }};
}

/// [`keyset_on`] for the contacts, by contact ID.
macro_rules! keyset {
    ($q:expr, $col:expr, $after:expr, $asc:expr) => {
        keyset_on!($q, $col, contacts::id, $after, $asc)
    };
}

/// A filtered list with at most this many contacts holding a value (a lead
/// score, an attribute's value) is read out whole and ordered by value; a
/// broader one walks the value's index instead. The segment walks (status,
/// owner) read a searched or labelled list this small whole too.
const SCORED_FEW: usize = 2_000;
/// The most values one step of that walk reads.
const SCORE_STEP_MAX: usize = 8_000;

/// Where a sort's values live beside the contacts, each in a table with an
/// index on (what, value, contact).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Beside {
    /// `contact_scores` (migration 000015), index (score, contact_id).
    Score,
    /// A custom attribute's `value_key` (lower-case text; dates sort as
    /// `YYYY-MM-DD`), index (attribute_id, value_key, contact_id).
    AttrKey(i32),
    /// A number attribute's `value_number`, index (attribute_id,
    /// value_number, contact_id).
    AttrNumber(i32),
}

impl Beside {
    /// Whether the contact holds a value (or, `held` false, holds none): a
    /// probe by primary key, the attribute ID a bound parameter.
    fn held(self, held: bool) -> Predicate {
        let head = sql::<Bool>(if held { "EXISTS (" } else { "NOT EXISTS (" });
        match self {
            Self::Score => {
                Box::new(head.sql("SELECT 1 FROM contact_scores WHERE contact_scores.contact_id = contacts.id)"))
            }
            Self::AttrKey(attribute_id) => Box::new(
                head.sql(
                    "SELECT 1 FROM contact_attribute_values v WHERE v.contact_id = contacts.id AND v.attribute_id = ",
                )
                .bind::<Integer, _>(attribute_id)
                .sql(")"),
            ),
            // A number attribute's values all have their number (a change
            // of type rewrites them); said here anyway, so that the two
            // segments of the sort agree on which contacts have a value.
            Self::AttrNumber(attribute_id) => Box::new(
                head.sql(
                    "SELECT 1 FROM contact_attribute_values v WHERE v.contact_id = contacts.id AND v.attribute_id = ",
                )
                .bind::<Integer, _>(attribute_id)
                .sql(" AND v.value_number IS NOT NULL)"),
            ),
        }
    }

    /// One contact's value, for a page's cursors.
    fn value_of(self, conn: &mut AnyConnection, contact_id: i32) -> Result<SortValue, AppError> {
        let of_contact = attr_values::table.filter(attr_values::contact_id.eq(contact_id));
        Ok(match self {
            Self::Score => contact_scores::table
                .find(contact_id)
                .select(contact_scores::score)
                .first::<i32>(conn)
                .optional()?
                .map_or(SortValue::Null, SortValue::Int),
            Self::AttrKey(attribute_id) => of_contact
                .filter(attr_values::attribute_id.eq(attribute_id))
                .select(attr_values::value_key)
                .first::<String>(conn)
                .optional()?
                .map_or(SortValue::Null, SortValue::Text),
            Self::AttrNumber(attribute_id) => of_contact
                .filter(attr_values::attribute_id.eq(attribute_id))
                .select(attr_values::value_number)
                .first::<Option<f64>>(conn)
                .optional()?
                .flatten()
                .map_or(SortValue::Null, SortValue::Num),
        })
    }
}

/// The contacts holding a value that `base` passes, in value order after
/// `after`, at most `limit`. The values live in their own table, so these
/// sorts read two tables: a narrow list (a search, one agent's contacts) is
/// read out whole and its values ordered; a broad one walks the value's
/// index in growing steps and keeps the contacts the filters pass, as the
/// other sorts walk their index.
fn valued(
    conn: &mut AnyConnection,
    base: impl Fn(&AnyConnection) -> Query,
    beside: Beside,
    after: Option<(&SortValue, i32)>,
    asc: bool,
    limit: usize,
) -> Result<Vec<Contact>, AppError> {
    let with_value = |conn: &AnyConnection| base(conn).filter(beside.held(true));
    let few: Vec<i32> = with_value(conn)
        .select(contacts::id)
        .limit(SCORED_FEW as i64 + 1)
        .load(conn)?;
    let ids: Vec<i32> = if few.len() <= SCORED_FEW {
        value_order(conn, beside, Some(&few), after, asc, limit)?
            .into_iter()
            .map(|(id, _)| id)
            .collect()
    } else {
        let mut ids = Vec::with_capacity(limit);
        let mut from: Option<(SortValue, i32)> = after.map(|(v, id)| (v.clone(), id));
        let mut step = (limit * 4).max(200);
        loop {
            let walked = value_order(conn, beside, None, from.as_ref().map(|(v, id)| (v, *id)), asc, step)?;
            let walked_ids: Vec<i32> = walked.iter().map(|(id, _)| *id).collect();
            let passed: std::collections::HashSet<i32> = base(conn)
                .filter(contacts::id.eq_any(&walked_ids))
                .select(contacts::id)
                .load::<i32>(conn)?
                .into_iter()
                .collect();
            ids.extend(
                walked_ids
                    .iter()
                    .filter(|id| passed.contains(id))
                    .take(limit - ids.len()),
            );
            if ids.len() >= limit || walked.len() < step {
                break;
            }
            from = walked.last().map(|(id, value)| (value.clone(), *id));
            step = (step * 2).min(SCORE_STEP_MAX);
        }
        ids
    };
    let mut found: Vec<Contact> = contacts::table
        .filter(contacts::id.eq_any(&ids))
        .select(Contact::as_select())
        .load(conn)?;
    found.sort_by_key(|c| ids.iter().position(|id| *id == c.id));
    Ok(found)
}

/// `(contact_id, value)` in value order after `after` (value, id), from
/// `among` when given, read from the value's index.
fn value_order(
    conn: &mut AnyConnection,
    beside: Beside,
    among: Option<&[i32]>,
    after: Option<(&SortValue, i32)>,
    asc: bool,
    limit: usize,
) -> Result<Vec<(i32, SortValue)>, AppError> {
    let limit = limit as i64;
    match beside {
        Beside::Score => {
            let (score, id) = (contact_scores::score, contact_scores::contact_id);
            let mut q = contact_scores::table.select((id, score)).into_boxed();
            if let Some(among) = among {
                q = q.filter(id.eq_any(among.to_vec()));
            }
            let after = match after {
                None => None,
                Some((SortValue::Int(v), after_id)) => Some((*v, after_id)),
                Some(_) => return Err(out_of_date()),
            };
            let q = keyset_on!(q, score, id, after, asc);
            Ok(q.limit(limit)
                .load::<(i32, i32)>(conn)?
                .into_iter()
                .map(|(id, v)| (id, SortValue::Int(v)))
                .collect())
        }
        Beside::AttrKey(attribute_id) => {
            let (key, id) = (attr_values::value_key, attr_values::contact_id);
            let mut q = attr_values::table
                .filter(attr_values::attribute_id.eq(attribute_id))
                .select((id, key))
                .into_boxed();
            if let Some(among) = among {
                q = q.filter(id.eq_any(among.to_vec()));
            }
            let after = match after {
                None => None,
                Some((SortValue::Text(v), after_id)) => Some((v.clone(), after_id)),
                Some(_) => return Err(out_of_date()),
            };
            let q = keyset_on!(q, key, id, after, asc);
            Ok(q.limit(limit)
                .load::<(i32, String)>(conn)?
                .into_iter()
                .map(|(id, v)| (id, SortValue::Text(v)))
                .collect())
        }
        Beside::AttrNumber(attribute_id) => {
            let (number, id) = (attr_values::value_number.assume_not_null(), attr_values::contact_id);
            let mut q = attr_values::table
                .filter(attr_values::attribute_id.eq(attribute_id))
                .filter(attr_values::value_number.is_not_null())
                .select((id, number))
                .into_boxed();
            if let Some(among) = among {
                q = q.filter(id.eq_any(among.to_vec()));
            }
            let after = match after {
                None => None,
                Some((SortValue::Num(v), after_id)) => Some((*v, after_id)),
                Some(_) => return Err(out_of_date()),
            };
            let q = keyset_on!(q, number, id, after, asc);
            Ok(q.limit(limit)
                .load::<(i32, f64)>(conn)?
                .into_iter()
                .map(|(id, v)| (id, SortValue::Num(v)))
                .collect())
        }
    }
}

fn load(conn: &mut AnyConnection, q: Query, limit: usize) -> Result<Vec<Contact>, AppError> {
    Ok(q.select(Contact::as_select()).limit(limit as i64).load(conn)?)
}

/// Adds the owners' names: one query for the page's few distinct owners,
/// cheaper than joining `users` on every row.
fn with_owner_names(conn: &mut AnyConnection, rows: Vec<Contact>) -> Result<Vec<ListedContact>, AppError> {
    let mut ids: Vec<i32> = rows.iter().filter_map(|c| c.owner_id).collect();
    ids.sort_unstable();
    ids.dedup();
    let names: Vec<(i32, String)> = if ids.is_empty() {
        Vec::new()
    } else {
        users::table
            .filter(users::id.eq_any(ids))
            .select((users::id, users::name))
            .load(conn)?
    };
    Ok(rows
        .into_iter()
        .map(|contact| {
            let owner_name = contact
                .owner_id
                .and_then(|id| names.iter().find(|(uid, _)| *uid == id))
                .map(|(_, n)| n.clone());
            ListedContact { contact, owner_name }
        })
        .collect())
}

/// Reads up to `limit` rows from the cursor on, in the reading direction.
fn read(
    conn: &mut AnyConnection,
    query: &ContactQuery,
    resolved: &Resolved,
    me: i32,
    calling_code: u16,
    limit: usize,
) -> Result<Vec<Contact>, AppError> {
    let backward = query.cursor.as_ref().is_some_and(|c| c.backward);
    let asc = (query.order == Order::Asc) != backward;
    let cursor = query.cursor.as_ref();
    let base = || filtered(conn, query, resolved, me, calling_code);
    let q = match (&query.sort, cursor.map(|c| (&c.value, c.id))) {
        (SortKey::Status, _) => {
            let segments: Vec<Segment> = LeadStatus::PIPELINE_ORDER
                .into_iter()
                .filter(|s| query.statuses.is_empty() || query.statuses.contains(s))
                .map(|s| Segment::Status(s.id()))
                .collect();
            let after = match cursor.map(|c| (&c.value, c.id)) {
                None => None,
                Some((SortValue::Int(status_id), id)) => Some((Segment::Status(*status_id), id)),
                Some(_) => return Err(out_of_date()),
            };
            return read_segments(conn, query, resolved, me, calling_code, limit, asc, &segments, after);
        }
        (SortKey::Owner, _) => {
            let segments = owner_segments(conn, query, me)?;
            let after = match cursor.map(|c| (&c.value, c.id)) {
                None => None,
                Some((SortValue::Int(owner_id), id)) => Some((Segment::Owner(Some(*owner_id)), id)),
                Some((SortValue::Null, id)) => Some((Segment::Owner(None), id)),
                Some(_) => return Err(out_of_date()),
            };
            return read_segments(conn, query, resolved, me, calling_code, limit, asc, &segments, after);
        }
        (SortKey::Name, None) => keyset!(base(), contacts::name, None::<(String, i32)>, asc),
        (SortKey::Name, Some((SortValue::Text(v), id))) => {
            keyset!(base(), contacts::name, Some((v.clone(), id)), asc)
        }
        (SortKey::Created, None) => keyset!(base(), contacts::created_at, None::<(NaiveDateTime, i32)>, asc),
        (SortKey::Created, Some((SortValue::Time(v), id))) => {
            keyset!(base(), contacts::created_at, Some((*v, id)), asc)
        }
        (SortKey::Activity | SortKey::Score | SortKey::Attr(_), _) => {
            return read_nulls_last(conn, query, resolved, me, calling_code, limit, asc, backward)
        }
        _ => return Err(out_of_date()),
    };
    load(conn, q, limit)
}

/// A cursor that does not fit the list it is given to (another sort, a
/// status or owner the list no longer walks).
fn out_of_date() -> AppError {
    AppError::bad_request("The page link is out of date; start again from the first page.")
}

/// Whether the query filters by more than status and owner (whose index the
/// segment walks use): by a search, a label, an attribute, an exact field
/// or the quiet rule.
fn narrowed(query: &ContactQuery) -> bool {
    !query.q.trim().is_empty()
        || !query.labels.is_empty()
        || !query.attrs.is_empty()
        || query.email.is_some()
        || query.phone.is_some()
        || query.identifier.is_some()
        || query.quiet_days.is_some()
}

/// One part of a sort read segment by segment: the contacts with one
/// status, or of one owner (`None`: unassigned).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Segment {
    Status(i32),
    Owner(Option<i32>),
}

/// The owner sort's segments in ascending order: each owner by name,
/// ignoring case (the same order on both backends, whatever PostgreSQL's
/// collation), owners of the same name by user ID, then the unassigned.
/// Every user is a segment, disabled ones too (they may still hold
/// contacts): a team has tens, and an empty segment costs one index probe.
fn owner_segments(conn: &mut AnyConnection, query: &ContactQuery, me: i32) -> Result<Vec<Segment>, AppError> {
    Ok(match query.owner.unwrap_or(OwnerFilter::All) {
        OwnerFilter::Me => vec![Segment::Owner(Some(me))],
        OwnerFilter::User(id) => vec![Segment::Owner(Some(id))],
        OwnerFilter::Nobody => vec![Segment::Owner(None)],
        OwnerFilter::All => {
            let mut owners: Vec<(i32, String)> = users::table.select((users::id, users::name)).load(conn)?;
            owners.sort_by_cached_key(|(id, name)| (name.to_lowercase(), *id));
            owners
                .into_iter()
                .map(|(id, _)| Segment::Owner(Some(id)))
                .chain([Segment::Owner(None)])
                .collect()
        }
    })
}

/// The sorts whose order is not a column's (status in pipeline order,
/// owner by name), read as a walk over their few segments in that order,
/// each segment in ID order through an index on (status or owner, id), as
/// `read_nulls_last` walks its two. An index on a `CASE` over the status
/// would serve the status sort too, but needs a migration on both backends
/// and a cursor of rank and ID all the same, and owner names live in
/// another table; seven (or a few tens of) index range reads cost about
/// what one does, and stay index-served at any depth. `segments` are in ascending order; reading descending (or
/// backwards from an ascending cursor) walks them from the end, IDs
/// descending. `after` is the cursor's segment and ID.
#[allow(clippy::too_many_arguments)]
fn read_segments(
    conn: &mut AnyConnection,
    query: &ContactQuery,
    resolved: &Resolved,
    me: i32,
    calling_code: u16,
    limit: usize,
    asc: bool,
    segments: &[Segment],
    after: Option<(Segment, i32)>,
) -> Result<Vec<Contact>, AppError> {
    let mut walk: Vec<Segment> = segments.to_vec();
    if !asc {
        walk.reverse();
    }
    let (start, mut after_id) = match after {
        None => (0, None),
        Some((segment, id)) => match walk.iter().position(|s| *s == segment) {
            Some(i) => (i, Some(id)),
            None => return Err(out_of_date()),
        },
    };
    // A search or a label or attribute filter would be evaluated again for
    // every segment (tens, for owners). When it leaves few contacts, read
    // them once and order them here instead.
    if narrowed(query) {
        let few: Vec<(i32, i32, Option<i32>)> = filtered(conn, query, resolved, me, calling_code)
            .select((contacts::id, contacts::status_id, contacts::owner_id))
            .limit(SCORED_FEW as i64 + 1)
            .load(conn)?;
        if few.len() <= SCORED_FEW {
            // (place of the segment in the walk, ID in the reading direction)
            let mut placed: Vec<(usize, i64, i32)> = few
                .into_iter()
                .filter_map(|(id, status_id, owner_id)| {
                    let segment = match walk.first() {
                        Some(Segment::Owner(_)) => Segment::Owner(owner_id),
                        _ => Segment::Status(status_id),
                    };
                    let place = walk.iter().position(|s| *s == segment)?;
                    Some((place, if asc { i64::from(id) } else { -i64::from(id) }, id))
                })
                .filter(|(place, directed, _)| match after_id {
                    None => *place >= start,
                    Some(after) => {
                        let after = if asc { i64::from(after) } else { -i64::from(after) };
                        *place > start || (*place == start && *directed > after)
                    }
                })
                .collect();
            placed.sort_unstable();
            let ids: Vec<i32> = placed.into_iter().take(limit).map(|(_, _, id)| id).collect();
            let mut found: Vec<Contact> = contacts::table
                .filter(contacts::id.eq_any(&ids))
                .select(Contact::as_select())
                .load(conn)?;
            found.sort_by_key(|c| ids.iter().position(|id| *id == c.id));
            return Ok(found);
        }
    }
    let mut rows = Vec::new();
    for segment in &walk[start..] {
        if rows.len() >= limit {
            break;
        }
        let base = filtered(conn, query, resolved, me, calling_code);
        let base = match *segment {
            Segment::Status(status_id) => base.filter(contacts::status_id.eq(status_id)),
            Segment::Owner(Some(owner_id)) => base.filter(contacts::owner_id.eq(owner_id)),
            Segment::Owner(None) => base.filter(contacts::owner_id.is_null()),
        };
        let q = match (after_id.take(), asc) {
            (Some(id), true) => base.filter(contacts::id.gt(id)).order(contacts::id.asc()),
            (Some(id), false) => base.filter(contacts::id.lt(id)).order(contacts::id.desc()),
            (None, true) => base.order(contacts::id.asc()),
            (None, false) => base.order(contacts::id.desc()),
        };
        rows.extend(load(conn, q, limit - rows.len())?);
    }
    Ok(rows)
}

/// The sorts on a value some contacts lack (last activity, lead score, a
/// custom attribute) with those contacts (never active, not scored, no
/// value) last in either order, as two index-ordered segments (with a
/// value, then without) rather than one `ORDER BY … IS NULL` that no index
/// can serve. The segment without is in ID order, the direction following
/// the sort's.
#[allow(clippy::too_many_arguments)]
fn read_nulls_last(
    conn: &mut AnyConnection,
    query: &ContactQuery,
    resolved: &Resolved,
    me: i32,
    calling_code: u16,
    limit: usize,
    asc: bool,
    backward: bool,
) -> Result<Vec<Contact>, AppError> {
    // Where the values live: on the contact's row (activity) or beside it.
    let beside = match &query.sort {
        SortKey::Score => Some(Beside::Score),
        SortKey::Attr(_) => Some(resolved.sort_by.ok_or_else(out_of_date)?),
        _ => None,
    };
    let cursor = query.cursor.as_ref();
    let cursor_valued = cursor.map(|c| c.value != SortValue::Null);
    // Reading forwards: rows with a value, then those without; backwards,
    // the reverse. A cursor starts the walk in its own segment.
    let segments: &[bool] = match (backward, cursor_valued) {
        (false, None | Some(true)) => &[true, false],
        (false, Some(false)) => &[false],
        (true, Some(true)) => &[true],
        (true, None | Some(false)) => &[false, true],
    };
    let mut rows = Vec::new();
    for (i, &valued_segment) in segments.iter().enumerate() {
        if rows.len() >= limit {
            break;
        }
        let after = if i == 0 { cursor.map(|c| (&c.value, c.id)) } else { None };
        let base = filtered(conn, query, resolved, me, calling_code);
        let q = match (beside, valued_segment) {
            (Some(beside), true) => {
                let base = |c: &AnyConnection| filtered(c, query, resolved, me, calling_code);
                rows.extend(valued(conn, base, beside, after, asc, limit - rows.len())?);
                continue;
            }
            (None, true) => {
                let base = base.filter(contacts::last_activity_at.is_not_null());
                let activity = contacts::last_activity_at.assume_not_null();
                match after {
                    Some((SortValue::Time(v), id)) => keyset!(base, activity, Some((*v, id)), asc),
                    _ => keyset!(base, activity, None::<(NaiveDateTime, i32)>, asc),
                }
            }
            (beside, false) => {
                let base = match beside {
                    Some(beside) => base.filter(beside.held(false)),
                    None => base.filter(contacts::last_activity_at.is_null()),
                };
                match (after.map(|(_, id)| id), asc) {
                    (Some(id), true) => base.filter(contacts::id.gt(id)).order(contacts::id.asc()),
                    (Some(id), false) => base.filter(contacts::id.lt(id)).order(contacts::id.desc()),
                    (None, true) => base.order(contacts::id.asc()),
                    (None, false) => base.order(contacts::id.desc()),
                }
            }
        };
        rows.extend(load(conn, q, limit - rows.len())?);
    }
    Ok(rows)
}

/// Finds the attribute an `attr.<key>` sort names, and how its values
/// compare; an unknown key is the caller's mistake (4xx), said in a sentence.
fn resolve_sort(conn: &mut AnyConnection, query: &ContactQuery, resolved: &mut Resolved) -> Result<(), AppError> {
    if let SortKey::Attr(key) = &query.sort {
        let defs = attributes::definitions(conn)?;
        let def = defs.iter().find(|d| &d.key == key).ok_or_else(|| {
            AppError::field(
                "sort",
                format!("cannot sort by attr.{key}: there is no custom attribute \"{key}\""),
            )
        })?;
        resolved.sort_by = Some(match def.kind {
            attributes::Kind::Number => Beside::AttrNumber(def.id),
            _ => Beside::AttrKey(def.id),
        });
    }
    Ok(())
}

/// One page of contacts (`PAGE_SIZE` rows) for `me`.
pub fn page(
    conn: &mut AnyConnection,
    query: &ContactQuery,
    me: i32,
    calling_code: u16,
    size: usize,
) -> Result<ContactPage, AppError> {
    let mut resolved = resolve(conn, query, calling_code)?;
    resolve_sort(conn, query, &mut resolved)?;
    if resolved.impossible {
        return Ok(ContactPage {
            rows: Vec::new(),
            next: None,
            prev: None,
        });
    }
    let mut rows = read(conn, query, &resolved, me, calling_code, size + 1)?;
    let backward = query.cursor.as_ref().is_some_and(|c| c.backward);
    let more = rows.len() > size;
    rows.truncate(size);
    if backward {
        rows.reverse();
    }
    // An attribute's value is not on the contact's row: read the two the
    // cursors need.
    let mut cursor_of = |c: &Contact, backward: bool| -> Result<String, AppError> {
        let value = match (&query.sort, resolved.sort_by) {
            (SortKey::Attr(_), Some(beside)) => Some(beside.value_of(conn, c.id)?),
            _ => None,
        };
        Ok(Cursor::of(c, &query.sort, value, backward).encode())
    };
    let first = rows.first().map(|c| cursor_of(c, true)).transpose()?;
    let last = rows.last().map(|c| cursor_of(c, false)).transpose()?;
    let (prev, next) = if backward {
        (if more { first } else { None }, last)
    } else {
        (
            if query.cursor.is_some() { first } else { None },
            if more { last } else { None },
        )
    };
    Ok(ContactPage {
        rows: with_owner_names(conn, rows)?,
        next,
        prev,
    })
}

/// Every contact `query` matches, in ID order, `size` at a time: calls
/// `each` with each batch. For reading everything a filter matches (export),
/// where the list's sorts and cursors do not matter; ID order is the primary
/// key's, which every filter's index keeps too.
pub fn each_batch(
    conn: &mut AnyConnection,
    query: &ContactQuery,
    me: i32,
    calling_code: u16,
    size: usize,
    mut each: impl FnMut(&mut AnyConnection, Vec<Contact>) -> Result<(), AppError>,
) -> Result<(), AppError> {
    let resolved = resolve(conn, query, calling_code)?;
    if resolved.impossible {
        return Ok(());
    }
    let mut after = 0;
    loop {
        let q = filtered(conn, query, &resolved, me, calling_code)
            .filter(contacts::id.gt(after))
            .order(contacts::id.asc());
        let batch = load(conn, q, size)?;
        let Some(last) = batch.last().map(|c| c.id) else {
            return Ok(());
        };
        let full = batch.len() == size;
        each(conn, batch)?;
        if !full {
            return Ok(());
        }
        after = last;
    }
}

/// The IDs of every contact `query` matches, in ID order: what a bulk
/// action on "everything matching" applies to. Only IDs are read, from the
/// filters' indexes where they cover them.
pub fn matching_ids(
    conn: &mut AnyConnection,
    query: &ContactQuery,
    me: i32,
    calling_code: u16,
) -> Result<Vec<i32>, AppError> {
    let resolved = resolve(conn, query, calling_code)?;
    if resolved.impossible {
        return Ok(Vec::new());
    }
    let q = filtered(conn, query, &resolved, me, calling_code);
    Ok(q.select(contacts::id).order(contacts::id.asc()).load(conn)?)
}

/// How many contacts `query` matches (the pipeline's stale counts, so they
/// count exactly what their links list).
pub fn count(conn: &mut AnyConnection, query: &ContactQuery, me: i32, calling_code: u16) -> Result<i64, AppError> {
    let resolved = resolve(conn, query, calling_code)?;
    if resolved.impossible {
        return Ok(0);
    }
    let q = filtered(conn, query, &resolved, me, calling_code);
    Ok(q.select(diesel::dsl::count_star()).first(conn)?)
}

/// The most contacts the list counts one by one: beyond it the page says
/// "more than 1,000". A count walks every matching index entry, so an
/// uncapped count of a broad search or filter would read a million rows on
/// every page view.
pub const COUNT_CAP: i64 = 1_000;

/// How many contacts the list's query matches.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ListTotal {
    Exact(i64),
    /// More than this many (always the cap it was counted with:
    /// `AtLeast(COUNT_CAP)` means "more than 1,000").
    AtLeast(i64),
}

/// How many contacts `query` matches, for the list's heading. Exact from
/// the counts the database keeps when the query filters by status and
/// owner only (however many contacts that is); otherwise counted, up to
/// [`COUNT_CAP`].
pub fn total(
    conn: &mut AnyConnection,
    query: &ContactQuery,
    me: i32,
    calling_code: u16,
) -> Result<ListTotal, AppError> {
    total_capped(conn, query, me, calling_code, COUNT_CAP)
}

/// [`total`] with the cap given: tests count past a small cap with a few
/// contacts. The page calls [`total`].
pub fn total_capped(
    conn: &mut AnyConnection,
    query: &ContactQuery,
    me: i32,
    calling_code: u16,
    cap: i64,
) -> Result<ListTotal, AppError> {
    if !narrowed(query) {
        let counts = status_counts_in(conn, query.owner.unwrap_or(OwnerFilter::All), me)?;
        let n = counts
            .into_iter()
            .filter(|(status, _)| query.statuses.is_empty() || query.statuses.contains(status))
            .map(|(_, n)| n)
            .sum();
        return Ok(ListTotal::Exact(n));
    }
    let cap = cap.max(0);
    let resolved = resolve(conn, query, calling_code)?;
    if resolved.impossible {
        return Ok(ListTotal::Exact(0));
    }
    if search_alone_passes(conn, query, &resolved, calling_code, cap)? {
        return Ok(ListTotal::AtLeast(cap));
    }
    // `LIMIT cap + 1` inside, so the database stops reading one row past
    // the cap; a plain `COUNT(*) … LIMIT` would count everything first.
    let ids = filtered(conn, query, &resolved, me, calling_code)
        .select(contacts::id)
        .limit(cap + 1);
    let n: i64 = CountRows(ids).get_result(conn)?;
    Ok(if n > cap {
        ListTotal::AtLeast(cap)
    } else {
        ListTotal::Exact(n)
    })
}

/// Whether a search that is the list's only filter certainly matches more
/// than `cap` live contacts, from what [`resolve`] read of the SQLite search
/// index (with a `LIMIT`, so it stops early).
///
/// The general count reads `contacts.id IN (<every match of the index>)`,
/// and SQLite builds that whole set first: for a word in half the names
/// ("bin") that is half a million rowids, over a second, to learn only that
/// there are more than 1,000. The index also holds the trashed contacts
/// (they keep their rows until purged), so it must hold more than `cap`
/// plus every trashed contact to be sure; when it does not, the general
/// count runs. PostgreSQL's trigram index is a bitmap built whole either
/// way, so it keeps the general count.
fn search_alone_passes(
    conn: &mut AnyConnection,
    query: &ContactQuery,
    resolved: &Resolved,
    calling_code: u16,
    cap: i64,
) -> Result<bool, AppError> {
    let search_alone = matches!(query.owner, None | Some(OwnerFilter::All))
        && query.statuses.is_empty()
        && query.labels.is_empty()
        && query.attrs.is_empty()
        && query.email.is_none()
        && query.phone.is_none()
        && query.identifier.is_none()
        && query.quiet_days.is_none();
    let Some(found) = resolved.search_matches.filter(|_| search_alone) else {
        return Ok(false);
    };
    // Short words filter further, on the row: the index's count says nothing.
    if found <= cap
        || search_words(&query.q, calling_code)
            .iter()
            .any(|w| w.text.chars().count() < 3)
    {
        return Ok(false);
    }
    let trashed: i64 = contacts::table
        .filter(contacts::deleted_at.is_not_null())
        .count()
        .get_result(conn)?;
    Ok(found > cap + trashed)
}

#[derive(QueryableByName)]
struct Counted {
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    n: i64,
}

/// `SELECT COUNT(*) FROM (<query>) AS counted`: counts the rows of a query
/// that has its own `LIMIT`, which diesel's `count()` cannot (it would
/// replace the select list and apply the limit to the count's one row).
struct CountRows<Q>(Q);

impl<Q> diesel::query_builder::Query for CountRows<Q> {
    type SqlType = diesel::sql_types::BigInt;
}

impl<Q> diesel::query_builder::QueryId for CountRows<Q> {
    type QueryId = ();
    const HAS_STATIC_QUERY_ID: bool = false;
}

impl<Q: diesel::query_builder::QueryFragment<MultiBackend>> diesel::query_builder::QueryFragment<MultiBackend>
    for CountRows<Q>
{
    fn walk_ast<'b>(&'b self, mut out: diesel::query_builder::AstPass<'_, 'b, MultiBackend>) -> QueryResult<()> {
        out.push_sql("SELECT COUNT(*) FROM (");
        self.0.walk_ast(out.reborrow())?;
        out.push_sql(") AS counted");
        Ok(())
    }
}

impl<Q> RunQueryDsl<AnyConnection> for CountRows<Q> {}

/// Contacts per status within `owner`'s scope, every status once (in ID
/// order, as [`status_counts`]), from the counts the database keeps:
/// `status_counts` for everyone, `owner_status_counts` for one owner, and
/// for nobody the difference (every live contact is in `status_counts`;
/// the owned ones are also in `owner_status_counts`; trashed contacts are
/// in neither, since the trash takes their owner away). Never counts rows
/// of `contacts`.
pub fn status_counts_in(
    conn: &mut AnyConnection,
    owner: OwnerFilter,
    me: i32,
) -> Result<Vec<(LeadStatus, i64)>, AppError> {
    let everyone = |conn: &mut AnyConnection| -> Result<Vec<(i32, i32)>, AppError> {
        Ok(status_counts::table
            .select((status_counts::status_id, status_counts::total))
            .load(conn)?)
    };
    let owned = |conn: &mut AnyConnection, owner_id: Option<i32>| -> Result<Vec<(i32, i32)>, AppError> {
        let mut q = owner_status_counts::table
            .select((owner_status_counts::status_id, owner_status_counts::total))
            .into_boxed();
        if let Some(id) = owner_id {
            q = q.filter(owner_status_counts::owner_id.eq(id));
        }
        Ok(q.load(conn)?)
    };
    let mut totals = [0i64; 7];
    let mut add = |rows: Vec<(i32, i32)>, sign: i64| {
        for (status_id, n) in rows {
            if let Some(slot) = LeadStatus::from_id(status_id).and_then(|s| totals.get_mut(s.id() as usize - 1)) {
                *slot += sign * i64::from(n);
            }
        }
    };
    match owner {
        OwnerFilter::All => add(everyone(conn)?, 1),
        OwnerFilter::Me => add(owned(conn, Some(me))?, 1),
        OwnerFilter::User(id) => add(owned(conn, Some(id))?, 1),
        OwnerFilter::Nobody => {
            add(everyone(conn)?, 1);
            // Tens of owners × seven statuses: summed here, the same on both backends.
            add(owned(conn, None)?, -1);
        }
    }
    Ok(LeadStatus::ALL.into_iter().zip(totals).collect())
}

/// Contacts per status across the whole team, read from the counts the
/// database keeps up to date.
pub fn status_counts(conn: &mut AnyConnection) -> Result<Vec<(LeadStatus, i64)>, AppError> {
    let rows: Vec<(i32, i32)> = status_counts::table
        .order(status_counts::status_id.asc())
        .select((status_counts::status_id, status_counts::total))
        .load(conn)?;
    Ok(rows
        .into_iter()
        .filter_map(|(id, total)| LeadStatus::from_id(id).map(|s| (s, i64::from(total))))
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_characters_are_refused_in_every_value() {
        for (key, value) in [("q", "https://x//e.php\0"), ("q", "a\u{1b}b"), ("attr.plan", "gold\0")] {
            let err = ContactQuery::parse([(key, value)]).unwrap_err();
            assert!(err.contains("control characters"), "{key}={value:?}: {err}");
        }
        assert!(ContactQuery::parse([("q", " tab\tinside ")]).is_err());
    }

    #[test]
    fn columns_are_compared_once_cut_to_size() {
        let long = "x".repeat(50);
        let spaced = format!("{} tail", "y".repeat(39));
        let query = ContactQuery::parse([("cols", long.as_str()), ("cols", long.as_str()), ("cols", &spaced)]).unwrap();
        assert_eq!(query.cols, vec!["x".repeat(40), "y".repeat(39)]);
        let pairs = query.to_pairs();
        let again = ContactQuery::parse(pairs.iter().map(|(k, v)| (k.as_str(), v.as_str()))).unwrap();
        assert_eq!(again, query);
    }

    #[test]
    fn cursors_round_trip_and_reject_junk() {
        let c = Cursor {
            backward: true,
            value: SortValue::Text("Ali: bin Abu".into()),
            id: 42,
        };
        assert_eq!(Cursor::decode(&c.encode()), Ok(c));
        let c = Cursor {
            backward: false,
            value: SortValue::Null,
            id: 7,
        };
        assert_eq!(Cursor::decode(&c.encode()), Ok(c.clone()));
        assert!(c.fits(&SortKey::Score) && c.fits(&SortKey::Activity) && !c.fits(&SortKey::Name));
        assert!(c.fits(&SortKey::Owner) && c.fits(&SortKey::Attr("plan".into())));
        let c = Cursor {
            backward: false,
            value: SortValue::Int(734),
            id: 9,
        };
        assert_eq!(Cursor::decode(&c.encode()), Ok(c.clone()));
        assert!(c.fits(&SortKey::Score) && !c.fits(&SortKey::Activity));
        assert!(c.fits(&SortKey::Owner) && !c.fits(&SortKey::Attr("plan".into())));
        for n in [0.1 + 0.2, -12.5, 1e300, 0.0] {
            let c = Cursor {
                backward: false,
                value: SortValue::Num(n),
                id: 3,
            };
            assert_eq!(Cursor::decode(&c.encode()), Ok(c.clone()));
            assert!(c.fits(&SortKey::Attr("budget".into())) && !c.fits(&SortKey::Score));
        }
        for junk in ["f1:rzz", "f1:r7ff0000000000000", "f1:r+fffffffffffffff", "f1:r0"] {
            assert!(Cursor::decode(&URL_SAFE_NO_PAD.encode(junk)).is_err(), "{junk}");
        }
        assert!(Cursor::decode("!!!").is_err());
        assert!(Cursor::decode(&URL_SAFE_NO_PAD.encode("x1:i1")).is_err());
    }

    #[test]
    fn parses_the_list_query() {
        let q = ContactQuery::parse([
            ("status", "6"),
            ("status", "won"),
            ("status", "2"),
            ("owner", "me"),
            ("sort", "status"),
            ("order", "asc"),
        ])
        .unwrap();
        assert_eq!(q.statuses, vec![LeadStatus::Reach, LeadStatus::Won]);
        assert_eq!(q.owner, Some(OwnerFilter::Me));
        assert_eq!((q.sort, q.order), (SortKey::Status, Order::Asc));
        assert!(ContactQuery::parse([("status", "9")]).is_err());
        assert!(ContactQuery::parse([("sort", "password_hash")]).is_err());
        assert_eq!(ContactQuery::parse([("sort", "score")]).unwrap().sort, SortKey::Score);
        assert!(SortKey::parse("scores").unwrap_err().contains("owner or attr.<key>"));
        assert_eq!(ContactQuery::parse([("sort", "owner")]).unwrap().sort, SortKey::Owner);
        let q = ContactQuery::parse([("sort", "attr.plan"), ("order", "asc")]).unwrap();
        assert_eq!(q.sort, SortKey::Attr("plan".into()));
        let pairs = q.to_pairs();
        assert!(pairs.contains(&("sort".into(), "attr.plan".into())));
        assert_eq!(
            ContactQuery::parse(pairs.iter().map(|(k, v)| (k.as_str(), v.as_str()))),
            Ok(q)
        );
        assert!(SortKey::parse("attr.").is_err());
        assert_eq!(SortKey::parse_api("owner"), Ok(SortKey::Owner));
        assert!(SortKey::parse_api("attr.plan")
            .unwrap_err()
            .contains("activity, score or owner)"));
        assert!(SortKey::parse(&format!("attr.{}", "k".repeat(65))).is_err());
        assert!(ContactQuery::parse([("owner", "boss")]).is_err());
    }

    #[test]
    fn phone_like_searches_use_digits() {
        assert_eq!(phone_digits("012-345", 60), Some(("012345".into(), "6012345".into())));
        assert_eq!(phone_digits("2345", 60), Some(("2345".into(), "2345".into())));
        assert_eq!(phone_digits("ali", 60), None);
        assert_eq!(phone_digits("12", 60), None);
    }

    #[test]
    fn searches_split_into_words_unless_the_whole_query_is_a_phone_number() {
        let texts = |q: &str| search_words(q, 60).into_iter().map(|w| w.text).collect::<Vec<_>>();
        assert_eq!(texts("  Ismail   bin Razak "), ["Ismail", "bin", "Razak"]);
        assert_eq!(texts("ali ALI Ali abu"), ["ali", "abu"]);
        assert_eq!(texts("012-345 6789"), ["012-345 6789"]);
        assert!(texts(" ").is_empty());
        let words = search_words("Ali 012-345", 60);
        assert_eq!(words[0].phone, None);
        assert_eq!(words[1].phone, Some(("012345".into(), "6012345".into())));
    }

    #[test]
    fn fts_queries_and_the_words_and_or_their_forms() {
        let words = search_words("ismail 012-345 \"x\"", 60);
        let refs: Vec<&Word> = words.iter().collect();
        assert_eq!(
            fts_all(&refs),
            "\"ismail\" AND (\"012-345\" OR \"012345\" OR \"6012345\") AND \"\"\"x\"\"\""
        );
    }

    #[test]
    fn fts_queries_quote_every_term() {
        assert_eq!(fts_query(&["2345", "2345"]), "\"2345\"");
        assert_eq!(fts_query(&["say \"hi\"", "x"]), "\"say \"\"hi\"\"\" OR \"x\"");
    }
}
