//! Snapshots of a database's contacts, for tests that compare two states:
//! everything about each contact as plain values (`Snap`), keyed the way
//! import matches contacts across databases.

use std::collections::{BTreeMap, HashMap};

use chrono::NaiveDateTime;
use diesel::prelude::*;
use leadbook::db::schema::{
    contact_attribute_values, contact_identities, contact_labels, contact_opt_outs, contacts, conversations,
    custom_attributes, labels, messages, notes, status_history, users,
};
use leadbook::db::AnyConnection;
use leadbook::service::contacts::Contact;
use leadbook::service::users::{self as user_service, Actor, Role};

use super::PASSWORD;

/// Adds a user straight through the service, with the tests' password.
pub fn add_user(conn: &mut AnyConnection, email: &str, name: &str, role: Role) -> Actor {
    user_service::add_user(
        conn,
        &user_service::NewUser {
            name,
            email,
            password: PASSWORD,
            role,
        },
    )
    .expect("user added")
}

/// A contact as everything about it reads: its values, owner (by e-mail),
/// labels, custom values (by key) and status history.
#[derive(Debug, Clone, PartialEq)]
pub struct Snap {
    pub id: i32,
    pub name: String,
    pub email: Option<String>,
    pub phone: Option<String>,
    pub identifier: Option<String>,
    pub company: Option<String>,
    pub city: Option<String>,
    pub country: Option<String>,
    pub status: i32,
    pub owner: Option<String>,
    pub labels: Vec<String>,
    /// key → (text, number)
    pub values: BTreeMap<String, (String, Option<String>)>,
    pub updated_at: NaiveDateTime,
    /// (from, to, source)
    pub history: Vec<(Option<i32>, i32, String)>,
}

impl Snap {
    pub fn has_key(&self, key: &str) -> bool {
        [&self.identifier, &self.email, &self.phone]
            .iter()
            .any(|v| v.as_deref() == Some(key))
    }

    /// The key it is known by across databases.
    pub fn key(&self) -> Option<String> {
        self.identifier
            .as_ref()
            .map(|v| format!("identifier {v}"))
            .or_else(|| self.email.as_ref().map(|v| format!("email {v}")))
            .or_else(|| self.phone.as_ref().map(|v| format!("phone {v}")))
    }

    /// What an export carries: not the ID, the times or the history.
    pub fn portable(&self) -> Snap {
        Snap {
            id: 0,
            updated_at: NaiveDateTime::default(),
            history: Vec::new(),
            ..self.clone()
        }
    }

    pub fn value(&self, key: &str) -> Option<&str> {
        self.values.get(key).map(|(text, _)| text.as_str())
    }

    pub fn number(&self, key: &str) -> Option<f64> {
        self.values
            .get(key)
            .and_then(|(_, n)| n.as_ref())
            .map(|n| n.parse().unwrap())
    }
}

pub fn snapshot(conn: &mut AnyConnection) -> Vec<Snap> {
    let emails: HashMap<i32, String> = users::table
        .select((users::id, users::email))
        .load::<(i32, String)>(conn)
        .unwrap()
        .into_iter()
        .collect();
    let rows: Vec<Contact> = contacts::table
        .order(contacts::id)
        .select(Contact::as_select())
        .load(conn)
        .unwrap();
    let mut held_labels: HashMap<i32, Vec<String>> = HashMap::new();
    for (contact, name) in contact_labels::table
        .inner_join(labels::table)
        .select((contact_labels::contact_id, labels::name))
        .load::<(i32, String)>(conn)
        .unwrap()
    {
        held_labels.entry(contact).or_default().push(name);
    }
    let mut values: HashMap<i32, BTreeMap<String, (String, Option<String>)>> = HashMap::new();
    for (contact, key, text, number) in contact_attribute_values::table
        .inner_join(custom_attributes::table)
        .select((
            contact_attribute_values::contact_id,
            custom_attributes::key,
            contact_attribute_values::value_text,
            contact_attribute_values::value_number,
        ))
        .load::<(i32, String, String, Option<f64>)>(conn)
        .unwrap()
    {
        values
            .entry(contact)
            .or_default()
            .insert(key, (text, number.map(|n| n.to_string())));
    }
    let mut history: HashMap<i32, Vec<(Option<i32>, i32, String)>> = HashMap::new();
    for (contact, from, to, source) in status_history::table
        .order(status_history::id)
        .select((
            status_history::contact_id,
            status_history::from_id,
            status_history::to_id,
            status_history::source,
        ))
        .load::<(i32, Option<i32>, i32, String)>(conn)
        .unwrap()
    {
        history.entry(contact).or_default().push((from, to, source));
    }
    rows.into_iter()
        .map(|c| {
            let mut labels = held_labels.remove(&c.id).unwrap_or_default();
            labels.sort();
            Snap {
                id: c.id,
                owner: c.owner_id.map(|o| emails[&o].clone()),
                labels,
                values: values.remove(&c.id).unwrap_or_default(),
                history: history.remove(&c.id).unwrap_or_default(),
                name: c.name,
                email: c.email,
                phone: c.phone,
                identifier: c.identifier,
                company: c.company,
                city: c.city,
                country: c.country,
                status: c.status_id,
                updated_at: c.updated_at,
            }
        })
        .collect()
}

/// Contacts by the key they are known by (contacts without one left out).
pub fn by_key(snaps: &[Snap]) -> BTreeMap<String, Snap> {
    snaps
        .iter()
        .filter_map(|s| s.key().map(|k| (k, s.portable())))
        .collect()
}

/// Asserts two sets of contacts are the same, naming the first differences.
#[track_caller]
pub fn assert_same(what: &str, expected: &BTreeMap<String, Snap>, got: &BTreeMap<String, Snap>) {
    let mut problems = Vec::new();
    for (key, want) in expected {
        match got.get(key) {
            None => problems.push(format!("missing {key}: {want:?}")),
            Some(have) if have != want => problems.push(format!("{key}:\n  expected {want:?}\n  got      {have:?}")),
            Some(_) => {}
        }
    }
    for key in got.keys().filter(|k| !expected.contains_key(*k)) {
        problems.push(format!("unexpected {key}: {:?}", got[key]));
    }
    assert!(
        problems.is_empty(),
        "{what}: {} difference(s), the first:\n{}",
        problems.len(),
        problems.iter().take(5).cloned().collect::<Vec<_>>().join("\n")
    );
}

/// Every row attached to a contact (conversations, messages, identities,
/// status history, notes, labels, opt-outs, attribute values) as plain
/// values in a stable order: what a merge moves and its undo must put back.
pub fn attached_rows(conn: &mut AnyConnection) -> serde_json::Value {
    let conversations: Vec<(i32, i32, i32, String)> = conversations::table
        .select((
            conversations::id,
            conversations::contact_id,
            conversations::inbox_id,
            conversations::status,
        ))
        .order(conversations::id)
        .load(conn)
        .unwrap();
    let messages: Vec<(i32, i32, String)> = messages::table
        .select((messages::id, messages::conversation_id, messages::body))
        .order(messages::id)
        .load(conn)
        .unwrap();
    let identities: Vec<(i32, i32, i32, String)> = contact_identities::table
        .select((
            contact_identities::id,
            contact_identities::contact_id,
            contact_identities::inbox_id,
            contact_identities::source_id,
        ))
        .order(contact_identities::id)
        .load(conn)
        .unwrap();
    let history: Vec<(i32, i32, Option<i32>, i32, String)> = status_history::table
        .select((
            status_history::id,
            status_history::contact_id,
            status_history::from_id,
            status_history::to_id,
            status_history::source,
        ))
        .order(status_history::id)
        .load(conn)
        .unwrap();
    let notes: Vec<(i32, i32, String)> = notes::table
        .select((notes::id, notes::contact_id, notes::body))
        .order(notes::id)
        .load(conn)
        .unwrap();
    let labels: Vec<(i32, i32)> = contact_labels::table
        .select((contact_labels::contact_id, contact_labels::label_id))
        .order((contact_labels::contact_id, contact_labels::label_id))
        .load(conn)
        .unwrap();
    let opt_outs: Vec<(i32, i32)> = contact_opt_outs::table
        .select((contact_opt_outs::contact_id, contact_opt_outs::inbox_id))
        .order((contact_opt_outs::contact_id, contact_opt_outs::inbox_id))
        .load(conn)
        .unwrap();
    let values: Vec<(i32, i32, String, Option<f64>)> = contact_attribute_values::table
        .select((
            contact_attribute_values::contact_id,
            contact_attribute_values::attribute_id,
            contact_attribute_values::value_text,
            contact_attribute_values::value_number,
        ))
        .order((
            contact_attribute_values::contact_id,
            contact_attribute_values::attribute_id,
        ))
        .load(conn)
        .unwrap();
    serde_json::json!({
        "conversations": conversations, "messages": messages, "identities": identities,
        "history": history, "notes": notes, "labels": labels, "opt_outs": opt_outs, "values": values,
    })
}
