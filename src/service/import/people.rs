//! The people of an import: their rows folded into one set of values,
//! checked, matched to existing contacts, counted, and — when committing —
//! written, a batch per transaction.

use std::collections::{BTreeMap, HashMap, HashSet};

use chrono::{NaiveDate, NaiveDateTime};
use diesel::prelude::*;
use phonenumber::country::Id as CountryId;

use super::file::{self, Field, Layout, Target};
use super::Counts;
use crate::db::schema::{contact_labels, contacts, import_rows, labels, status_history, users, webhooks};
use crate::db::AnyConnection;
use crate::error::AppError;
use crate::service::attributes::{self, Definition, Kind, Value, ValueChanges};
use crate::service::contact_fields::Phone;
use crate::service::contacts::{self as contact_service, Contact, ContactDraft, ContactInput, OwnerChoice};
use crate::service::status::{LeadStatus, StatusSource};
use crate::service::{duplicates, labels as label_service, webhooks as events};

/// One person of the file: its rows (line, cells) in file order.
pub struct Person {
    pub id: i64,
    pub rows: Vec<(i64, Vec<String>)>,
}

/// What the pass needs to read people, loaded once.
pub struct Context<'a> {
    pub layout: &'a Layout,
    pub defs: &'a [Definition],
    pub country: CountryId,
    /// Enabled users by lower-case e-mail.
    pub owners: HashMap<String, i32>,
    /// Labels by name.
    pub labels: HashMap<String, i32>,
}

impl<'a> Context<'a> {
    pub fn load(
        conn: &mut AnyConnection,
        layout: &'a Layout,
        defs: &'a [Definition],
        country: CountryId,
    ) -> Result<Self, AppError> {
        let owners = users::table
            .filter(users::disabled_at.is_null())
            .select((users::email, users::id))
            .load::<(String, i32)>(conn)?
            .into_iter()
            .map(|(email, id)| (email.to_lowercase(), id))
            .collect();
        let labels = labels::table
            .select((labels::name, labels::id))
            .load::<(String, i32)>(conn)?
            .into_iter()
            .collect();
        Ok(Self {
            layout,
            defs,
            country,
            owners,
            labels,
        })
    }
}

/// A person's values after folding: per column, the last non-blank cell.
struct Folded {
    values: Vec<Option<String>>,
    /// Per row after the first: whether it changed a value folded before it.
    changed: Vec<bool>,
}

fn fold(ctx: &Context<'_>, person: &Person) -> Folded {
    let mut values: Vec<Option<String>> = vec![None; ctx.layout.header.len()];
    let mut changed = Vec::with_capacity(person.rows.len());
    for (i, (_, cells)) in person.rows.iter().enumerate() {
        let mut any = false;
        for (column, (slot, cell)) in values.iter_mut().zip(cells).enumerate() {
            let cell = file::clean(cell);
            if !cell.is_empty() && slot.as_deref() != Some(cell) {
                any |= slot.as_deref().is_none_or(|old| !same_value(ctx, column, old, cell));
                *slot = Some(cell.to_string());
            }
        }
        if i > 0 {
            changed.push(any);
        }
    }
    Folded { values, changed }
}

/// Whether two cells of a column stand for the same value, so that a later
/// row writing a value another way (`ALI@Example.com`, `012-345 6789`,
/// `reach`, `GOLD`, `100.0`) changes nothing; nor does an ignored column.
fn same_value(ctx: &Context<'_>, column: usize, a: &str, b: &str) -> bool {
    let canonical = |cell: &str| -> Option<String> {
        Some(match ctx.layout.targets[column] {
            Target::Ignored => String::new(),
            Target::Standard(Field::Email | Field::Owner) => cell.to_lowercase(),
            Target::Standard(Field::Country) => cell.to_uppercase(),
            Target::Standard(Field::Phone) => Phone::parse(cell, ctx.country).ok()?.into_inner(),
            Target::Standard(Field::Status) => LeadStatus::parse(cell).ok()?.id().to_string(),
            Target::Standard(Field::Labels) => {
                let mut names = cell
                    .split(',')
                    .filter(|n| !n.trim().is_empty())
                    .map(label_service::parse_name)
                    .collect::<Result<Vec<_>, _>>()
                    .ok()?;
                names.sort();
                names.dedup();
                names.join(",")
            }
            Target::Custom(d) => {
                let def = &ctx.defs[d];
                def.parse_text(&import_value(def, cell, ctx.layout.delimiter))
                    .ok()?
                    .text()
            }
            Target::Standard(_) => return None,
        })
    };
    a == b || canonical(a).is_some_and(|a| Some(a) == canonical(b))
}

/// A custom attribute's cell in the forms an import accepts beyond the
/// form's own: dates written DD/MM/YYYY, and numbers with a decimal comma
/// in a semicolon-delimited file.
fn import_value(def: &Definition, cell: &str, delimiter: u8) -> String {
    match def.kind {
        Kind::Date => NaiveDate::parse_from_str(cell, "%d/%m/%Y")
            .map_or_else(|_| cell.to_string(), |d| d.format("%Y-%m-%d").to_string()),
        Kind::Number if delimiter == b';' && cell.matches(',').count() == 1 && !cell.contains('.') => {
            cell.replace(',', ".")
        }
        _ => cell.to_string(),
    }
}

/// A checked person, ready to match and write.
pub struct Checked {
    draft: ContactDraft,
    labels: Vec<i32>,
    changed: Vec<bool>,
}

/// Folds a person's rows and checks the result as the contact form would,
/// plus what only an import asks: an email, phone or identifier; an owner
/// by e-mail; labels that exist.
fn check(ctx: &Context<'_>, person: &Person) -> Result<Checked, String> {
    let layout = ctx.layout;
    let Folded { values, changed } = fold(ctx, person);
    let cell = |field: Field| {
        layout
            .column_of(field)
            .and_then(|c| values[c].clone())
            .unwrap_or_default()
    };
    let mut problems: Vec<String> = Vec::new();
    let owner = match layout.column_of(Field::Owner).and_then(|c| values[c].as_deref()) {
        None => None,
        Some(email) => match ctx.owners.get(&email.to_lowercase()) {
            Some(id) => Some(id.to_string()),
            None => {
                problems.push(format!("owner \"{email}\" is not the e-mail of a team member"));
                None
            }
        },
    };
    let mut custom = BTreeMap::new();
    for (column, target) in layout.targets.iter().enumerate() {
        if let (Target::Custom(d), Some(v)) = (target, &values[column]) {
            let def = &ctx.defs[*d];
            custom.insert(def.key.clone(), import_value(def, v, layout.delimiter));
        }
    }
    let input = ContactInput {
        name: cell(Field::Name),
        email: cell(Field::Email),
        phone: cell(Field::Phone),
        identifier: cell(Field::Identifier),
        company: cell(Field::Company),
        city: cell(Field::City),
        country: cell(Field::Country),
        status: cell(Field::Status),
        owner,
        opted_out: String::new(),
        custom,
    };
    let mut label_ids = Vec::new();
    for name in cell(Field::Labels).split(',').filter(|n| !n.trim().is_empty()) {
        match label_service::parse_name(name) {
            Ok(name) => match ctx.labels.get(&name) {
                Some(id) if !label_ids.contains(id) => label_ids.push(*id),
                Some(_) => {}
                None => problems.push(format!("label \"{name}\" does not exist (an admin adds labels)")),
            },
            Err(e) => problems.push(format!("label \"{}\" {e}", name.trim())),
        }
    }
    let draft = match ContactDraft::parse(&input, ctx.country, ctx.defs) {
        Ok(draft) => Some(draft),
        Err(fields) => {
            for (field, messages) in fields {
                let field = match field.as_str() {
                    "phone" => "phone_number",
                    f => f.strip_prefix("custom.").unwrap_or(f),
                };
                for m in messages {
                    problems.push(format!("{field} {m}"));
                }
            }
            None
        }
    };
    if input.email.is_empty() && input.phone.is_empty() && input.identifier.is_empty() {
        problems.push("needs an email, a phone number or an identifier".into());
    }
    match draft {
        Some(draft) if problems.is_empty() => Ok(Checked {
            draft,
            labels: label_ids,
            changed,
        }),
        _ => Err(problems.join("; ")),
    }
}

/// What happens to a person.
enum Plan {
    Create(Checked),
    Update(Checked, i32),
    Unchanged,
    Reject(String),
}

/// The contacts holding any of these people's keys, with their values and labels.
struct Holders {
    by_key: HashMap<(u8, String), i32>,
    contacts: HashMap<i32, Contact>,
    values: attributes::ContactValues,
    labels: HashMap<i32, Vec<i32>>,
}

fn holders(conn: &mut AnyConnection, defs: &[Definition], people: &[&Checked]) -> Result<Holders, AppError> {
    let wanted = |f: fn(&ContactDraft) -> &Option<String>| -> Vec<String> {
        people.iter().filter_map(|p| f(&p.draft).clone()).collect()
    };
    let (ids, emails, phones) = (wanted(|d| &d.identifier), wanted(|d| &d.email), wanted(|d| &d.phone));
    let mut found: Vec<Contact> = Vec::new();
    for chunk in ids.chunks(5_000) {
        found.extend(
            contacts::table
                .filter(contacts::identifier.eq_any(chunk))
                .select(Contact::as_select())
                .load(conn)?,
        );
    }
    for chunk in emails.chunks(5_000) {
        found.extend(
            contacts::table
                .filter(contacts::email.eq_any(chunk))
                .select(Contact::as_select())
                .load(conn)?,
        );
    }
    for chunk in phones.chunks(5_000) {
        found.extend(
            contacts::table
                .filter(contacts::phone.eq_any(chunk))
                .select(Contact::as_select())
                .load(conn)?,
        );
    }
    let mut by_key = HashMap::new();
    let mut held = HashMap::new();
    for c in found {
        for (kind, value) in [(0u8, &c.identifier), (1, &c.email), (2, &c.phone)] {
            if let Some(v) = value {
                by_key.insert((kind, v.clone()), c.id);
            }
        }
        held.insert(c.id, c);
    }
    let ids: Vec<i32> = held.keys().copied().collect();
    let (values, labels) = if ids.is_empty() {
        Default::default()
    } else {
        let mut labels: HashMap<i32, Vec<i32>> = HashMap::new();
        for chunk in ids.chunks(5_000) {
            let rows: Vec<(i32, i32)> = contact_labels::table
                .filter(contact_labels::contact_id.eq_any(chunk))
                .select((contact_labels::contact_id, contact_labels::label_id))
                .load(conn)?;
            for (contact, label) in rows {
                labels.entry(contact).or_default().push(label);
            }
        }
        let mut values = attributes::ContactValues::new();
        for chunk in ids.chunks(5_000) {
            values.extend(attributes::values_of(conn, defs, chunk)?);
        }
        (values, labels)
    };
    Ok(Holders {
        by_key,
        contacts: held,
        values,
        labels,
    })
}

/// Whether writing `person` onto `contact` would change it (blank cells
/// never erase, so only what the file says counts).
fn changes(person: &Checked, contact: &Contact, values: Option<&BTreeMap<i32, Value>>, labels: &[i32]) -> bool {
    let d = &person.draft;
    let differs = |new: &Option<String>, old: &Option<String>| new.is_some() && new != old;
    d.name != contact.name
        || differs(&d.email, &contact.email)
        || differs(&d.phone, &contact.phone)
        || differs(&d.identifier, &contact.identifier)
        || differs(&d.company, &contact.company)
        || differs(&d.city, &contact.city)
        || differs(&d.country, &contact.country)
        || d.status.is_some_and(|s| s.id() != contact.status_id)
        || matches!(d.owner, OwnerChoice::User(id) if Some(id) != contact.owner_id)
        || d.custom
            .iter()
            .any(|(attr, v)| v.is_some() && v.as_ref() != values.and_then(|held| held.get(attr)))
        || person.labels.iter().any(|l| !labels.contains(l))
}

fn describe_holder(kind: u8, id: i32, held: &Holders) -> String {
    let word = ["identifier", "email", "phone number"][kind as usize];
    let name = held.contacts.get(&id).map_or("", |c| c.name.as_str());
    format!("its {word} is that of contact #{id} ({name})")
}

fn plan(claimed: &mut HashSet<i32>, checked: Checked, held: &Holders) -> Plan {
    let d = &checked.draft;
    let keys = [(0u8, &d.identifier), (1, &d.email), (2, &d.phone)];
    let mut matched: Option<(u8, i32)> = None;
    for (kind, value) in keys {
        let Some(v) = value else { continue };
        let Some(&id) = held.by_key.get(&(kind, v.clone())) else {
            continue;
        };
        match matched {
            None => matched = Some((kind, id)),
            Some((first_kind, first)) if first != id => {
                return Plan::Reject(format!(
                    "matches two different contacts: {} and {}",
                    describe_holder(first_kind, first, held),
                    describe_holder(kind, id, held)
                ));
            }
            Some(_) => {}
        }
    }
    let Some((_, id)) = matched else {
        return Plan::Create(checked);
    };
    if !claimed.insert(id) {
        return Plan::Reject(format!(
            "matches contact #{id}, which an earlier row of this file already updates"
        ));
    }
    let contact = &held.contacts[&id];
    let labels = held.labels.get(&id).map_or(&[][..], Vec::as_slice);
    if changes(&checked, contact, held.values.get(&id), labels) {
        Plan::Update(checked, id)
    } else {
        Plan::Unchanged
    }
}

/// A batch's outcome: the counts, and the rejected people with the reason.
pub struct BatchOutcome {
    pub counts: Counts,
    pub rejected: Vec<(i64, String)>,
    pub rows: i64,
}

/// A batch of people read from the staging area, each checked: the part of
/// a batch that needs no database, so it can run on another thread while
/// the previous batch is written.
pub struct CheckedBatch {
    pub people: Vec<Person>,
    checks: Vec<Result<Checked, String>>,
}

impl CheckedBatch {
    pub fn new(ctx: &Context<'_>, people: Vec<Person>) -> Self {
        let checks = people.iter().map(|p| check(ctx, p)).collect();
        Self { people, checks }
    }
}

/// Matches and counts a checked batch of people; with `write`, also writes
/// them (inside the caller's transaction) for `actor_id`. `claimed` holds
/// the contacts earlier batches of the pass already update.
pub fn run_batch(
    conn: &mut AnyConnection,
    ctx: &Context<'_>,
    claimed: &mut HashSet<i32>,
    batch: CheckedBatch,
    write: Option<Writer>,
) -> Result<BatchOutcome, AppError> {
    let started = std::time::Instant::now();
    let mut counts = Counts::default();
    let mut rejected = Vec::new();
    let rows = batch.people.iter().map(|p| p.rows.len() as i64).sum();
    let mut checked = Vec::with_capacity(batch.people.len());
    for (person, check) in batch.people.iter().zip(batch.checks) {
        match check {
            Ok(c) => checked.push((person, c)),
            Err(e) => {
                counts.rejected += person.rows.len() as i64;
                rejected.push((person.id, e));
            }
        }
    }
    let held = holders(conn, ctx.defs, &checked.iter().map(|(_, c)| c).collect::<Vec<_>>())?;
    let looked_up = started.elapsed();
    let mut plans = Vec::with_capacity(checked.len());
    for (person, c) in checked {
        let p = plan(claimed, c, &held);
        let n = person.rows.len() as i64;
        match &p {
            Plan::Create(c) => {
                counts.created += 1;
                let updated = c.changed.iter().filter(|&&x| x).count() as i64;
                counts.updated += updated;
                counts.skipped += n - 1 - updated;
            }
            Plan::Update(..) => counts.updated += n,
            Plan::Unchanged => counts.skipped += n,
            Plan::Reject(e) => {
                counts.rejected += n;
                rejected.push((person.id, e.clone()));
            }
        }
        plans.push(p);
    }
    if let Some(writer) = write {
        writer.write(conn, plans, &held)?;
    }
    tracing::debug!(matched = ?looked_up, total = ?started.elapsed(), "import batch matched and written");
    Ok(BatchOutcome { counts, rejected, rows })
}

/// Writes a batch's plans.
#[derive(Debug, Clone, Copy)]
pub struct Writer {
    pub actor_id: i32,
    pub now: NaiveDateTime,
}

/// What a contacts insert returns: the ID, and the identifier, email and
/// phone that tell whose it is.
type GivenId = (i32, Option<String>, Option<String>, Option<String>);

// NULL rather than DEFAULT for a missing value: with DEFAULT possible, diesel
// inserts a batch row by row on SQLite.
#[derive(Insertable)]
#[diesel(table_name = contacts, treat_none_as_default_value = false)]
struct NewContact<'a> {
    name: &'a str,
    email: Option<&'a str>,
    phone: Option<&'a str>,
    identifier: Option<&'a str>,
    company: Option<&'a str>,
    city: Option<&'a str>,
    country: Option<&'a str>,
    status_id: i32,
    owner_id: Option<i32>,
    created_at: NaiveDateTime,
    updated_at: NaiveDateTime,
}

#[derive(Insertable)]
#[diesel(table_name = status_history, treat_none_as_default_value = false)]
struct NewHistory {
    contact_id: i32,
    from_id: Option<i32>,
    to_id: i32,
    source: &'static str,
    user_id: Option<i32>,
    at: NaiveDateTime,
}

#[derive(AsChangeset)]
#[diesel(table_name = contacts, treat_none_as_null = true)]
struct ContactUpdate {
    name: String,
    email: Option<String>,
    phone: Option<String>,
    identifier: Option<String>,
    company: Option<String>,
    city: Option<String>,
    country: Option<String>,
    status_id: i32,
    owner_id: Option<i32>,
    updated_at: NaiveDateTime,
}

fn owner_of(d: &ContactDraft) -> Option<i32> {
    match d.owner {
        OwnerChoice::User(id) => Some(id),
        _ => None,
    }
}

impl Writer {
    fn write(&self, conn: &mut AnyConnection, plans: Vec<Plan>, held: &Holders) -> Result<(), AppError> {
        let announce = webhooks::table.count().get_result::<i64>(conn)? > 0;
        let creates: Vec<&Checked> = plans
            .iter()
            .filter_map(|p| match p {
                Plan::Create(c) => Some(c),
                _ => None,
            })
            .collect();
        let started = std::time::Instant::now();
        let created = self.create(conn, &creates, announce)?;
        let inserted = started.elapsed();
        // The finder keys new contacts after the import (duplicates::catch_up).
        duplicates::enqueue(conn, &created)?;
        let keyed = started.elapsed();
        let mut updated = 0;
        for p in &plans {
            if let Plan::Update(c, id) = p {
                self.update(conn, c, &held.contacts[id], held.labels.get(id), announce)?;
                duplicates::refresh(conn, *id)?;
                updated += 1;
            }
        }
        tracing::debug!(
            created = created.len(),
            updated,
            ?inserted,
            queued = ?(keyed - inserted),
            updates = ?(started.elapsed() - keyed),
            "import batch written"
        );
        Ok(())
    }

    /// Inserts new contacts many per statement, each statement returning
    /// the IDs it gave with the keys that tell whose they are.
    fn create(&self, conn: &mut AnyConnection, people: &[&Checked], announce: bool) -> Result<Vec<i32>, AppError> {
        if people.is_empty() {
            return Ok(Vec::new());
        }
        let rows: Vec<NewContact> = people
            .iter()
            .map(|c| {
                let d = &c.draft;
                NewContact {
                    name: &d.name,
                    email: d.email.as_deref(),
                    phone: d.phone.as_deref(),
                    identifier: d.identifier.as_deref(),
                    company: d.company.as_deref(),
                    city: d.city.as_deref(),
                    country: d.country.as_deref(),
                    status_id: d.status.unwrap_or(LeadStatus::New).id(),
                    owner_id: owner_of(d),
                    created_at: self.now,
                    updated_at: self.now,
                }
            })
            .collect();
        // One statement per chunk, on both backends. On SQLite this matters
        // most: every statement that fires the search index's trigger opens
        // a statement savepoint, and FTS5 writes its pending terms out as a
        // new segment at each savepoint — one tiny segment (and merges) per
        // contact when inserted row by row (measured 7.6 s against 2.8 s for
        // 100,000 contacts). 11 parameters a row: within SQLite's 32,766 and
        // PostgreSQL's 65,535.
        let mut ids: HashMap<(u8, String), i32> = HashMap::with_capacity(rows.len());
        for chunk in rows.chunks(2_500) {
            let given: Vec<GivenId> = match conn {
                AnyConnection::Sqlite(c) => diesel::insert_into(contacts::table)
                    .values(chunk)
                    .returning((contacts::id, contacts::identifier, contacts::email, contacts::phone))
                    .get_results(c)?,
                AnyConnection::Postgresql(c) => diesel::insert_into(contacts::table)
                    .values(chunk)
                    .returning((contacts::id, contacts::identifier, contacts::email, contacts::phone))
                    .get_results(c)?,
            };
            for (id, identifier, email, phone) in given {
                for (kind, key) in [(0u8, identifier), (1, email), (2, phone)] {
                    if let Some(key) = key {
                        ids.insert((kind, key), id);
                    }
                }
            }
        }
        let contacts_written = std::time::Instant::now();
        let mut history = Vec::with_capacity(people.len());
        let mut values: Vec<(i32, i32, &Value)> = Vec::new();
        let mut labels = Vec::new();
        let mut created = Vec::with_capacity(people.len());
        for c in people {
            let d = &c.draft;
            let id = [(0u8, &d.identifier), (1, &d.email), (2, &d.phone)]
                .iter()
                .find_map(|(kind, v)| v.as_ref().and_then(|v| ids.get(&(*kind, v.clone()))))
                .copied()
                .ok_or_else(|| AppError::internal("an imported contact was not found after its insert"))?;
            history.push(NewHistory {
                contact_id: id,
                from_id: None,
                to_id: d.status.unwrap_or(LeadStatus::New).id(),
                source: StatusSource::Import.as_str(),
                user_id: Some(self.actor_id),
                at: self.now,
            });
            for (attr, v) in &d.custom {
                if let Some(v) = v {
                    values.push((id, *attr, v));
                }
            }
            labels.extend(
                c.labels
                    .iter()
                    .map(|l| (contact_labels::contact_id.eq(id), contact_labels::label_id.eq(*l))),
            );
            created.push(id);
        }
        for chunk in history.chunks(4_000) {
            match conn {
                AnyConnection::Sqlite(c) => diesel::insert_into(status_history::table).values(chunk).execute(c)?,
                AnyConnection::Postgresql(c) => diesel::insert_into(status_history::table).values(chunk).execute(c)?,
            };
        }
        attributes::insert_new_values(conn, &values)?;
        for chunk in labels.chunks(10_000) {
            match conn {
                AnyConnection::Sqlite(c) => diesel::insert_into(contact_labels::table).values(chunk).execute(c)?,
                AnyConnection::Postgresql(c) => diesel::insert_into(contact_labels::table).values(chunk).execute(c)?,
            };
        }
        tracing::debug!(rest = ?contacts_written.elapsed(), "import batch: history, values and labels written");
        if announce {
            for id in &created {
                let contact = contact_service::get(conn, *id)?;
                events::emit(conn, "contact.created", &contact, serde_json::json!({}), None)?;
            }
        }
        Ok(created)
    }

    /// Writes what the file says onto an existing contact; blank cells keep
    /// its values, labels are added to its own.
    fn update(
        &self,
        conn: &mut AnyConnection,
        c: &Checked,
        before: &Contact,
        held_labels: Option<&Vec<i32>>,
        announce: bool,
    ) -> Result<(), AppError> {
        let d = &c.draft;
        let keep = |new: &Option<String>, old: &Option<String>| new.clone().or_else(|| old.clone());
        let status = d.status.map_or(before.status_id, LeadStatus::id);
        diesel::update(contacts::table.find(before.id))
            .set(ContactUpdate {
                name: d.name.clone(),
                email: keep(&d.email, &before.email),
                phone: keep(&d.phone, &before.phone),
                identifier: keep(&d.identifier, &before.identifier),
                company: keep(&d.company, &before.company),
                city: keep(&d.city, &before.city),
                country: keep(&d.country, &before.country),
                status_id: status,
                owner_id: owner_of(d).or(before.owner_id),
                updated_at: self.now,
            })
            .execute(conn)?;
        let custom: ValueChanges = d.custom.iter().filter(|(_, v)| v.is_some()).cloned().collect();
        attributes::write_values(conn, before.id, &custom)?;
        let new_labels: Vec<_> = c
            .labels
            .iter()
            .filter(|l| !held_labels.is_some_and(|h| h.contains(l)))
            .map(|l| {
                (
                    contact_labels::contact_id.eq(before.id),
                    contact_labels::label_id.eq(*l),
                )
            })
            .collect();
        for row in new_labels {
            diesel::insert_into(contact_labels::table).values(row).execute(conn)?;
        }
        if status != before.status_id {
            diesel::insert_into(status_history::table)
                .values(NewHistory {
                    contact_id: before.id,
                    from_id: Some(before.status_id),
                    to_id: status,
                    source: StatusSource::Import.as_str(),
                    user_id: Some(self.actor_id),
                    at: self.now,
                })
                .execute(conn)?;
        }
        if announce {
            let contact = contact_service::get(conn, before.id)?;
            if status != before.status_id {
                let previous = serde_json::json!({"status_id": before.status_id});
                events::emit(conn, "contact.status_changed", &contact, previous, None)?;
            }
            let previous = contact_service::changed_fields(before, &contact);
            events::emit(conn, "contact.updated", &contact, previous.into(), None)?;
        }
        Ok(())
    }
}

/// Reads the next batch of whole people after `after` (a person ID), about
/// `rows` rows; a person is never split between batches.
pub fn next_people(conn: &mut AnyConnection, import_id: i32, after: i64, rows: i64) -> Result<Vec<Person>, AppError> {
    let mut limit = rows;
    loop {
        let page: Vec<(i64, i64, String)> = import_rows::table
            .filter(import_rows::import_id.eq(import_id))
            .filter(import_rows::person.gt(after))
            .filter(import_rows::read_error.is_null())
            .order((import_rows::person, import_rows::line))
            .select((import_rows::person, import_rows::line, import_rows::cells))
            .limit(limit)
            .load(conn)?;
        let full = page.len() as i64 == limit;
        let mut people: Vec<Person> = Vec::new();
        for (person, line, cells) in page {
            let cells: Vec<String> = serde_json::from_str(&cells).map_err(AppError::internal)?;
            match people.last_mut() {
                Some(p) if p.id == person => p.rows.push((line, cells)),
                _ => people.push(Person {
                    id: person,
                    rows: vec![(line, cells)],
                }),
            }
        }
        if !full {
            return Ok(people);
        }
        // The last person may go on past the page: leave it for the next batch.
        if people.len() > 1 {
            people.pop();
            return Ok(people);
        }
        limit *= 2;
    }
}
