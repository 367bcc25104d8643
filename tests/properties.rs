//! Properties (issue 11) on the backend `TEST_DATABASE_URL` picks, checked
//! with proptest over generated contacts and query strings, each failure
//! shrunk to its smallest case:
//! - export → import into a fresh database gives the same contacts, and
//!   importing an export into the database it came from changes nothing;
//! - the list's sort/filter parser never yields a column outside the
//!   whitelist, and what it yields runs on the database without a 5xx;
//! - a merge followed by its undo leaves every row as it was.
//!
//! `PROPTEST_CASES` sets the cases of every property (defaults below keep
//! `cargo test` quick; a longer run is documented in docs/testing.md).

mod common;

use common::snap::{add_user, assert_same, attached_rows, by_key, snapshot};
use common::{fresh_database, TestDb};
use diesel::prelude::*;
use leadbook::db::schema::{contact_identities, contacts, conversations};
use leadbook::db::{self, AnyConnection};
use leadbook::service::attributes::{self, Definition, DefinitionInput};
use leadbook::service::contacts::{self as contact_service, Contact, ContactDraft, ContactInput};
use leadbook::service::conversations::{self as conversation_service, IncomingInput};
use leadbook::service::import::{self, ImportOptions, ImportState};
use leadbook::service::inboxes::{self, InboxInput};
use leadbook::service::listing::{self, ContactQuery};
use leadbook::service::status::{LeadStatus, StatusSource};
use leadbook::service::users::{Actor, Role};
use leadbook::service::{export, labels as label_service, merge, notes as note_service};
use phonenumber::country::Id as CountryId;
use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};

const LABELS: [&str; 3] = ["vip", "hot", "follow up"];
const TEAM: [(&str, &str, Role); 3] = [
    ("lead@example.com", "Lee Lead", Role::Lead),
    ("agent1@example.com", "Agnes One", Role::Agent),
    ("agent2@example.com", "Agus Two", Role::Agent),
];
const ATTRIBUTES: [(&str, &str, &[&str]); 6] = [
    ("plan", "list", &["gold", "silver", "bronze"]),
    ("budget", "number", &[]),
    ("note", "text", &[]),
    ("since", "date", &[]),
    ("active", "boolean", &[]),
    ("site", "link", &[]),
];

/// A fresh database of the backend under test with a team, labels and one
/// custom attribute of each type.
struct Db {
    conn: AnyConnection,
    admin: Actor,
    /// The team's user IDs, in `TEAM`'s order.
    team: Vec<i32>,
    defs: Vec<Definition>,
    _guard: TestDb,
}

impl Db {
    fn new() -> Db {
        let (url, guard) = fresh_database();
        let parsed = db::DatabaseUrl::parse(&url).expect("database URL");
        let mut conn = db::establish(&parsed).expect("connect");
        db::migrate(&mut conn).expect("migrate");
        let admin = add_user(&mut conn, "admin@example.com", "Ada Admin", Role::Admin);
        let team = TEAM
            .iter()
            .map(|(email, name, role)| add_user(&mut conn, email, name, *role).id)
            .collect();
        for name in LABELS {
            label_service::create(&mut conn, &admin, name, "#336699").expect("label");
        }
        let defs = ATTRIBUTES
            .iter()
            .map(|(key, kind, options)| {
                let input = DefinitionInput {
                    key: key.to_string(),
                    display_name: key.to_string(),
                    kind: kind.to_string(),
                    options: options.iter().map(|o| o.to_string()).collect(),
                    ..Default::default()
                };
                attributes::create(&mut conn, &admin, &input).expect("attribute")
            })
            .collect();
        Db {
            conn,
            admin,
            team,
            defs,
            _guard: guard,
        }
    }

    fn create(&mut self, spec: &Spec, index: usize) -> Contact {
        let input = ContactInput::from_pairs(spec.pairs(index, &self.team));
        let draft = ContactDraft::parse(&input, CountryId::MY, &self.defs)
            .unwrap_or_else(|e| panic!("the generator made an invalid contact {input:?}: {e:?}"));
        let contact = contact_service::create(&mut self.conn, &self.admin, &draft, StatusSource::Manual)
            .expect("contact created");
        let labels: Vec<String> = spec.labels.iter().map(|l| l.to_string()).collect();
        label_service::set_for_contact(&mut self.conn, contact.id, &labels).expect("labels set");
        contact
    }

    fn export(&mut self) -> Vec<u8> {
        let query = ContactQuery::parse([("owner", "all")]).expect("query");
        let mut out = Vec::new();
        export::write_csv(&mut self.conn, None, &query, 60, &mut out, |_| {}).expect("export");
        out
    }

    /// Checks and commits a file as the import page does.
    fn import(&mut self, bytes: &[u8]) -> import::Import {
        let options = ImportOptions {
            file_name: "export.csv".into(),
            ..Default::default()
        };
        let id = import::start(&mut self.conn, &self.admin, &options).expect("import started");
        let checked = import::check(&mut self.conn, id, bytes, &options, CountryId::MY, |_, _, _| {})
            .unwrap_or_else(|e| panic!("the export is refused: {e:?}\n{}", String::from_utf8_lossy(bytes)));
        assert_eq!(checked.state, ImportState::Ready);
        import::begin_commit(&mut self.conn, &self.admin, id).expect("commit begun");
        import::commit(&mut self.conn, &self.admin, id, CountryId::MY, |_, _| {}).expect("committed")
    }
}

/// proptest's settings with `cases` unless `PROPTEST_CASES` says otherwise.
fn runner(cases: u32) -> TestRunner {
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(cases);
    TestRunner::new(Config {
        cases,
        // The databases are made per case; a failure is reported with its
        // shrunk input and is kept by adding it to a test, not to a file.
        failure_persistence: None,
        ..Config::default()
    })
}

/// Text as people type it into a CRM, with what CSV and spreadsheets trip
/// on: separators, quotes, formula signs, leading apostrophes, non-ASCII.
fn text() -> impl Strategy<Value = String> {
    "[A-Za-z0-9=+@'\"\\-]{0,2}[A-Za-z0-9 ,;\"'=+@._\\-éñÜ名前]{0,16}"
}

fn optional_text() -> impl Strategy<Value = Option<String>> {
    proptest::option::of(text())
}

/// A contact to generate; its keys are made unique by its index.
#[derive(Debug, Clone)]
struct Spec {
    name: String,
    email: Option<String>,
    phone: bool,
    identifier: Option<String>,
    company: Option<String>,
    city: Option<String>,
    country: Option<&'static str>,
    status: i32,
    owner: Option<usize>,
    labels: Vec<&'static str>,
    plan: Option<&'static str>,
    budget_cents: Option<i64>,
    note: Option<String>,
    since_days: Option<i64>,
    active: Option<bool>,
    site: Option<String>,
}

impl Spec {
    fn pairs(&self, index: usize, team: &[i32]) -> Vec<(String, String)> {
        let mut pairs = vec![
            ("name".to_string(), self.name.clone()),
            ("status".into(), self.status.to_string()),
            (
                "owner".into(),
                self.owner.map(|o| team[o].to_string()).unwrap_or_default(),
            ),
        ];
        let mut add = |key: &str, value: Option<String>| {
            if let Some(value) = value {
                pairs.push((key.to_string(), value));
            }
        };
        let has_key = self.email.is_some() || self.phone || self.identifier.is_some();
        add(
            "email",
            self.email.as_ref().map(|local| format!("p{index}.{local}@Example.com")),
        );
        add("phone", self.phone.then(|| format!("+6012345{index:04}")));
        add(
            "identifier",
            match &self.identifier {
                Some(prefix) => Some(format!("{prefix}-{index}")),
                // Import matches contacts by a key: every generated one has one.
                None if !has_key => Some(format!("id-{index}")),
                None => None,
            },
        );
        add("company", self.company.clone());
        add("city", self.city.clone());
        add("country", self.country.map(str::to_string));
        add("custom.plan", self.plan.map(str::to_string));
        add(
            "custom.budget",
            self.budget_cents.map(|c| (c as f64 / 100.0).to_string()),
        );
        add("custom.note", self.note.clone());
        add(
            "custom.since",
            self.since_days.map(|d| {
                (chrono::NaiveDate::from_ymd_opt(2000, 1, 1).unwrap() + chrono::Duration::days(d)).to_string()
            }),
        );
        add("custom.active", self.active.map(|b| b.to_string()));
        add(
            "custom.site",
            self.site.as_ref().map(|p| format!("https://example.com/{p}")),
        );
        pairs
    }
}

fn spec() -> impl Strategy<Value = Spec> {
    let name = "[A-Za-z0-9=+@'\"\\-][A-Za-z0-9 ,;\"'=+@._\\-éñÜ名前]{0,16}";
    let people = (
        name,
        proptest::option::of("[A-Za-z0-9]{0,8}"),
        any::<bool>(),
        proptest::option::of("[A-Za-z0-9=+'\"]{1,8}"),
        optional_text(),
        optional_text(),
        proptest::option::of(proptest::sample::select(vec!["MY", "SG", "US"])),
        1..=7i32,
        proptest::option::of(0..TEAM.len()),
        proptest::sample::subsequence(LABELS.to_vec(), 0..=LABELS.len()),
    );
    let values = (
        proptest::option::of(proptest::sample::select(vec!["gold", "silver", "bronze"])),
        proptest::option::of(-100_000_000i64..100_000_000),
        optional_text(),
        proptest::option::of(0i64..20_000),
        proptest::option::of(any::<bool>()),
        proptest::option::of("[a-z0-9/?=&,._-]{0,12}"),
    );
    (people, values).prop_map(
        |(
            (name, email, phone, identifier, company, city, country, status, owner, labels),
            (plan, budget_cents, note, since_days, active, site),
        )| Spec {
            name,
            email,
            phone,
            identifier,
            company,
            city,
            country,
            status,
            owner,
            labels,
            plan,
            budget_cents,
            note,
            since_days,
            active,
            site,
        },
    )
}

#[test]
fn an_export_imported_into_a_fresh_database_is_the_identity() {
    runner(6)
        .run(&proptest::collection::vec(spec(), 1..10), |specs| {
            let mut a = Db::new();
            for (i, spec) in specs.iter().enumerate() {
                a.create(spec, i);
            }
            let before = snapshot(&mut a.conn);
            let file = a.export();

            let mut b = Db::new();
            let done = b.import(&file);
            prop_assert_eq!(done.state, ImportState::Done);
            prop_assert_eq!(done.counts.created, specs.len() as i64, "{:?}", done.counts);
            prop_assert_eq!(done.counts.rejected, 0);
            assert_same("the fresh database", &by_key(&before), &by_key(&snapshot(&mut b.conn)));

            // Into the database it came from: every row matches, nothing changes.
            let again = a.import(&file);
            prop_assert_eq!(again.counts.skipped, specs.len() as i64, "{:?}", again.counts);
            prop_assert_eq!(snapshot(&mut a.conn), before);
            Ok(())
        })
        .unwrap();
}

/// Query-string pairs: the list's own parameters with values both valid and
/// not, and random keys beside them.
fn query_pairs() -> impl Strategy<Value = Vec<(String, String)>> {
    let key = prop_oneof![
        proptest::sample::select(vec![
            "q",
            "status",
            "owner",
            "sort",
            "order",
            "label",
            "cols",
            "quiet",
            "cursor",
            "attr.plan",
            "attr.budget.from",
            "attr.budget.to",
            "attr.note.contains",
            "attr.active.set",
            "attr.since.from",
            "attr.nothing",
            "attr.plan.set",
        ])
        .prop_map(str::to_string),
        "[a-z._]{1,12}",
        "attr\\.[a-z;'\" ()*-]{1,12}",
    ];
    let value = prop_oneof![
        proptest::sample::select(vec![
            "name",
            "status",
            "created",
            "activity",
            "score",
            "asc",
            "desc",
            "me",
            "all",
            "none",
            "1",
            "7",
            "0",
            "gold",
            "vip",
            "true",
            "2024-01-01",
            "12.5",
            "contacts.id; DROP TABLE contacts",
            "name desc, id",
            "(SELECT 1)",
            "%",
            "_",
            // What a scanner sent: a NUL reached SQLite's FTS5 parser (500).
            "https://wapiti3.ovh//e.php\0",
        ])
        .prop_map(str::to_string),
        "[ -~]{0,16}",
        "[a-z\"\\x00\\t\\n\\x1b]{1,8}",
        "[A-Za-z0-9_-]{1,24}",
    ];
    proptest::collection::vec((key, value), 0..8)
}

const SORT_COLUMNS: [&str; 6] = ["status", "name", "created", "activity", "score", "owner"];

#[test]
fn the_sort_and_filter_parser_never_yields_a_column_outside_the_whitelist() {
    let mut db = Db::new();
    let spec = Spec {
        name: "Listed".into(),
        email: Some("x".into()),
        phone: true,
        identifier: None,
        company: None,
        city: None,
        country: None,
        status: 3,
        owner: None,
        labels: vec!["vip"],
        plan: Some("gold"),
        budget_cents: Some(1250),
        note: Some("hello".into()),
        since_days: Some(10),
        active: Some(true),
        site: None,
    };
    db.create(&spec, 0);
    let admin = db.admin.id;
    let mut runner = runner(256);
    let db = std::cell::RefCell::new(db);
    runner
        .run(&query_pairs(), |pairs| {
            let parsed = ContactQuery::parse(pairs.iter().map(|(k, v)| (k.as_str(), v.as_str())));
            let Ok(query) = parsed else { return Ok(()) };
            // A column of the whitelist, or a custom attribute (which reaches
            // SQL only as a defined attribute's ID, or is refused).
            let sort = query.sort.as_param();
            prop_assert!(SORT_COLUMNS.contains(&sort.as_str()) || sort.starts_with("attr."));
            // A sort the parser took was asked for by one of the whitelist's names.
            if let Some((_, asked)) = pairs.iter().rev().find(|(k, v)| k == "sort" && !v.trim().is_empty()) {
                prop_assert_eq!(asked.trim(), sort.as_str());
            }
            let mut db = db.borrow_mut();
            let Db { conn, defs, .. } = &mut *db;
            // A custom attribute filter reaches SQL only as a defined attribute's ID.
            for filter in &query.attrs {
                if let Ok(condition) = filter.resolve(defs) {
                    let id = format!("{condition:?}");
                    prop_assert!(
                        defs.iter().any(|d| id.contains(&format!("attribute_id: {}", d.id))),
                        "{:?} resolved to {}",
                        filter,
                        id
                    );
                }
            }
            // And the query runs: a page, or a refusal (4xx), never a database error.
            match listing::page(conn, &query, admin, 60, listing::PAGE_SIZE) {
                Ok(_) => {}
                Err(e) => prop_assert!(
                    actix_web::ResponseError::status_code(&e).is_client_error(),
                    "{pairs:?} failed with {e:?}"
                ),
            }
            Ok(())
        })
        .unwrap();
}

/// Every row a merge touches, as text, in a stable order.
fn everything(conn: &mut AnyConnection) -> String {
    let contacts: Vec<Contact> = contacts::table
        .order(contacts::id)
        .select(Contact::as_select())
        .load(conn)
        .unwrap();
    format!("contacts {contacts:#?}\n{:#}", attached_rows(conn))
}

/// What one side of a merge holds beyond its fields.
#[derive(Debug, Clone)]
struct Extras {
    messages: usize,
    notes: Vec<String>,
    statuses: Vec<i32>,
}

fn extras() -> impl Strategy<Value = Extras> {
    (
        0..3usize,
        proptest::collection::vec("[A-Za-z][A-Za-z ]{0,11}", 0..3),
        proptest::collection::vec(1..=7i32, 0..3),
    )
        .prop_map(|(messages, notes, statuses)| Extras {
            messages,
            notes,
            statuses,
        })
}

#[test]
fn a_merge_then_its_undo_is_the_identity() {
    let mut db = Db::new();
    let inbox = inboxes::create(
        &mut db.conn,
        &db.admin,
        &InboxInput {
            name: "Messenger".into(),
            channel: "messenger".into(),
            delivery_kind: "sandbox".into(),
            delivery_url: String::new(),
        },
    )
    .expect("inbox")
    .id;
    let db = std::cell::RefCell::new(db);
    let next = std::cell::Cell::new(0usize);
    runner(24)
        .run(
            &(
                spec(),
                extras(),
                spec(),
                extras(),
                proptest::sample::subsequence(
                    vec!["name", "email", "company", "city", "custom.plan", "custom.note"],
                    0..=3,
                ),
            ),
            |(kept, kept_extras, other, other_extras, take)| {
                let mut db = db.borrow_mut();
                let mut ids = Vec::new();
                for (spec, extras) in [(&kept, &kept_extras), (&other, &other_extras)] {
                    next.set(next.get() + 1);
                    let next = next.get();
                    let id = db.create(spec, next).id;
                    let Db { conn, admin, .. } = &mut *db;
                    for n in 0..extras.messages {
                        let incoming = IncomingInput {
                            source_id: format!("psid-{next}"),
                            name: None,
                            body: format!("message {n}"),
                            email: None,
                            phone: None,
                            external_id: None,
                        };
                        let received =
                            conversation_service::receive(conn, inbox, &incoming, CountryId::MY).expect("received");
                        // A new sender's contact is its own; give its identity to ours.
                        diesel::update(
                            contact_identities::table.filter(contact_identities::source_id.eq(&incoming.source_id)),
                        )
                        .set(contact_identities::contact_id.eq(id))
                        .execute(conn)
                        .unwrap();
                        diesel::update(conversations::table.find(received.conversation_id))
                            .set(conversations::contact_id.eq(id))
                            .execute(conn)
                            .unwrap();
                    }
                    for body in &extras.notes {
                        note_service::add(conn, admin, id, "note", body).expect("note");
                    }
                    for status in &extras.statuses {
                        let status = LeadStatus::from_id(*status).unwrap();
                        contact_service::set_status(conn, Some(admin), id, status, StatusSource::Manual)
                            .expect("status");
                    }
                    ids.push(id);
                }
                let Db { conn, admin, .. } = &mut *db;
                let before = everything(conn);
                let take: Vec<String> = take.iter().map(|t| t.to_string()).collect();
                let (_, merge_id) = merge::merge(conn, admin, ids[0], ids[1], &take).expect("merged");
                prop_assert_ne!(&everything(conn), &before, "the merge changed something");
                merge::undo(conn, admin, merge_id).expect("undone");
                let after = everything(conn);
                prop_assert!(
                    after == before,
                    "undo is not the identity:\n{}",
                    first_difference(&before, &after)
                );
                Ok(())
            },
        )
        .unwrap();
}

fn first_difference(before: &str, after: &str) -> String {
    before
        .lines()
        .zip(after.lines())
        .find(|(a, b)| a != b)
        .map(|(a, b)| format!("before: {a}\nafter:  {b}"))
        .unwrap_or_else(|| "one is longer".into())
}
