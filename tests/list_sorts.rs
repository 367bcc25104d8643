//! The list's sorts of issue 24, walked page by page both ways on both
//! backends: status in pipeline order, owner by name, a custom attribute
//! by its typed value.

mod common;

use common::*;
use diesel::prelude::*;
use leadbook::db::schema::{contact_attribute_values, contacts};
use leadbook::db::AnyConnection;
use leadbook::service::attributes::{self, DefinitionInput};
use leadbook::service::contacts::{self as contact_service, Contact, ContactDraft, ContactInput};
use leadbook::service::listing::{self, ContactQuery, Cursor};
use leadbook::service::status::{LeadStatus, StatusSource};
use leadbook::service::users::{Actor, Role};
use reqwest::{Method, StatusCode};

async fn app_as_admin() -> (TestApp, Actor) {
    let app = spawn_app().await;
    app.setup_admin().await;
    let lead = app.add_user("lee@example.com", "Lee Lead", Role::Lead);
    (app, lead)
}

fn create(app: &TestApp, actor: &Actor, input: &ContactInput) -> i32 {
    app.with_db(|c| {
        let defs = leadbook::service::attributes::definitions(c).expect("definitions");
        let draft = ContactDraft::parse(input, phonenumber::country::Id::MY, &defs)
            .unwrap_or_else(|e| panic!("fixture {input:?}: {e:?}"));
        contact_service::create(c, actor, &draft, StatusSource::Manual)
            .expect("created")
            .id
    })
}

fn live_contacts(app: &TestApp) -> Vec<Contact> {
    app.with_db(|c| {
        contacts::table
            .filter(contacts::deleted_at.is_null())
            .select(Contact::as_select())
            .load(c)
            .expect("contacts")
    })
}

/// Walks `path`'s pages forwards then back; both ways must show `expected`,
/// every contact once, and the same pages.
async fn assert_walk(app: &TestApp, path: &str, expected: &[i32]) {
    let (forward, backward) = walk_pages(app, path).await;
    let seen = forward.concat();
    let mut repeated: Vec<i32> = seen
        .iter()
        .filter(|id| seen.iter().filter(|x| x == id).count() > 1)
        .copied()
        .collect();
    repeated.sort_unstable();
    repeated.dedup();
    let missing: Vec<i32> = expected.iter().filter(|id| !seen.contains(id)).copied().collect();
    assert!(
        repeated.is_empty() && missing.is_empty(),
        "{path}: contacts {repeated:?} shown more than once, {missing:?} never"
    );
    assert_eq!(seen, expected, "{path}: Next links keep the order");
    assert_eq!(backward, forward, "{path}: Previous leads back through the same pages");
}

/// `ids` in the given direction.
fn directed(mut ids: Vec<i32>, asc: bool) -> Vec<i32> {
    if !asc {
        ids.reverse();
    }
    ids
}

// ------------------------------------------------------------ by status

#[actix_web::test]
async fn status_sorts_in_pipeline_order_both_ways() {
    let (app, lead) = app_as_admin().await;
    let agent = app.add_user("aida@example.com", "Aida Agent", Role::Agent);
    for i in 0..120 {
        let input = ContactInput {
            status: ((i * 3) % 7 + 1).to_string(),
            owner: Some(if i % 4 == 0 {
                agent.id.to_string()
            } else {
                "none".into()
            }),
            ..named(&format!("Contact {i}"))
        };
        create(&app, &lead, &input);
    }
    let all = live_contacts(&app);
    let order = |keep: &dyn Fn(&Contact) -> bool| {
        let mut rows: Vec<&Contact> = all.iter().filter(|c| keep(c)).collect();
        rows.sort_by_key(|c| (c.status().pipeline_rank(), c.id));
        rows.iter().map(|c| c.id).collect::<Vec<i32>>()
    };
    for (order_param, asc) in [("asc", true), ("desc", false)] {
        let path = format!("/contacts?owner=all&sort=status&order={order_param}");
        let expected = directed(order(&|_| true), asc);
        assert_walk(&app, &path, &expected).await;
        // New, Reach, Qualified, Negotiating, Won, then Unqualified and Lost.
        let html = list_page(&app, &path).await;
        let first = all.iter().find(|c| c.id == listed_ids(&html)[0]).unwrap();
        let want = if asc { LeadStatus::New } else { LeadStatus::Lost };
        assert_eq!(first.status(), want, "{path}");
    }
    // Only some statuses, and one owner's: the walk skips the others.
    let some = |c: &Contact| matches!(c.status(), LeadStatus::Lost | LeadStatus::Won | LeadStatus::Reach);
    for (order_param, asc) in [("asc", true), ("desc", false)] {
        let path = format!("/contacts?owner=all&status=lost&status=won&status=reach&sort=status&order={order_param}");
        assert_walk(&app, &path, &directed(order(&some), asc)).await;
    }
    let agents = |c: &Contact| c.owner_id == Some(agent.id);
    let path = format!("/contacts?owner={}&sort=status&order=asc", agent.id);
    assert_walk(&app, &path, &order(&agents)).await;
    // With a search, the few matches are read once and ordered in memory.
    for (order_param, asc) in [("asc", true), ("desc", false)] {
        let path = format!("/contacts?owner=all&q=contact&sort=status&order={order_param}");
        assert_walk(&app, &path, &directed(order(&|_| true), asc)).await;
        let path = format!("/contacts?owner=all&q=1&status=lost&status=new&sort=status&order={order_param}");
        let ones = |c: &Contact| c.name.contains('1') && matches!(c.status(), LeadStatus::Lost | LeadStatus::New);
        let html = list_page(&app, &path).await;
        assert_eq!(listed_ids(&html), directed(order(&ones), asc), "{path}");
    }
}

#[actix_web::test]
async fn a_status_cursor_for_a_status_the_list_does_not_show_is_out_of_date() {
    let (app, lead) = app_as_admin().await;
    for i in 0..60 {
        let input = ContactInput {
            status: if i % 2 == 0 { "won" } else { "new" }.into(),
            ..named(&format!("Contact {i}"))
        };
        create(&app, &lead, &input);
    }
    let html = list_page(&app, "/contacts?owner=all&sort=status&order=asc").await;
    let next = pager(&html, "next").expect("a second page");
    // The same cursor on a list of Lost contacts only.
    let (status, body) = app.page(&format!("{next}&status=lost")).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert!(body.contains("out of date"), "{body}");
}

// ------------------------------------------------------------- by owner

#[actix_web::test]
async fn owner_sorts_by_name_with_the_unassigned_last_then_first() {
    let (app, lead) = app_as_admin().await;
    // Names out of creation order, one in lower case (the order ignores
    // case), two the same (kept apart, by user ID).
    let owners = [
        app.add_user("zul@example.com", "Zul Agent", Role::Agent),
        app.add_user("badrul@example.com", "badrul Agent", Role::Agent),
        app.add_user("chan1@example.com", "Chan Agent", Role::Agent),
        app.add_user("aida@example.com", "Aida Agent", Role::Agent),
        app.add_user("chan2@example.com", "Chan Agent", Role::Agent),
    ];
    for i in 0..160 {
        // Every sixth unassigned, the rest dealt out unevenly.
        let owner = match i % 6 {
            0 => "none".to_string(),
            k => owners[(k + i / 7) % owners.len()].id.to_string(),
        };
        let input = ContactInput {
            owner: Some(owner),
            ..named(&format!("Contact {i}"))
        };
        create(&app, &lead, &input);
    }
    let names: std::collections::HashMap<i32, String> = owners.iter().map(|a| (a.id, a.name.to_lowercase())).collect();
    let all = live_contacts(&app);
    // (unassigned?, owner's name, owner's ID, contact ID).
    let mut rows: Vec<(bool, String, i32, i32)> = all
        .iter()
        .map(|c| match c.owner_id {
            Some(o) => (false, names[&o].clone(), o, c.id),
            None => (true, String::new(), 0, c.id),
        })
        .collect();
    rows.sort();
    let asc: Vec<i32> = rows.iter().map(|r| r.3).collect();
    assert_walk(&app, "/contacts?owner=all&sort=owner&order=asc", &asc).await;
    assert_walk(
        &app,
        "/contacts?owner=all&sort=owner&order=desc",
        &directed(asc.clone(), false),
    )
    .await;
    let first = |ids: &[i32]| all.iter().find(|c| c.id == ids[0]).unwrap().owner_id;
    assert_eq!(first(&asc), Some(owners[3].id), "Aida first");
    assert_eq!(
        first(&directed(asc.clone(), false)),
        None,
        "descending: the unassigned first"
    );

    // One owner's list, the unassigned, and a status filter beside the sort.
    let chan: Vec<i32> = rows.iter().filter(|r| r.2 == owners[4].id).map(|r| r.3).collect();
    assert!(chan.len() > 10);
    let path = format!("/contacts?owner={}&sort=owner&order=desc", owners[4].id);
    assert_walk(&app, &path, &directed(chan, false)).await;
    let nobody: Vec<i32> = rows.iter().filter(|r| r.0).map(|r| r.3).collect();
    assert_walk(&app, "/contacts?owner=none&sort=owner&order=asc", &nobody).await;
    // With a search, the few matches are read once and ordered in memory.
    assert_walk(&app, "/contacts?owner=all&q=contact&sort=owner&order=asc", &asc).await;
    let desc = directed(asc.clone(), false);
    assert_walk(&app, "/contacts?owner=all&q=contact&sort=owner&order=desc", &desc).await;
    let ones: Vec<i32> = desc
        .iter()
        .copied()
        .filter(|id| all.iter().any(|c| c.id == *id && c.name.contains('1')))
        .collect();
    assert!(ones.len() > 50, "more than a page");
    assert_walk(&app, "/contacts?owner=all&q=1&sort=owner&order=desc", &ones).await;

    // The API sorts by owner too, and its description lists it.
    let token = app.token_for("admin@example.com");
    let (status, page) = send(
        &app,
        Method::GET,
        "/contacts?sort=owner&order=asc&limit=200",
        &token,
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{page}");
    let ids: Vec<i32> = page["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["id"].as_i64().unwrap() as i32)
        .collect();
    assert_eq!(ids, asc);
}

// ------------------------------------------------- by a custom attribute

fn define(app: &TestApp, admin: &Actor, key: &str, kind: &str, options: &[&str]) {
    app.with_db(|c| {
        let input = DefinitionInput {
            key: key.into(),
            display_name: key.into(),
            kind: kind.into(),
            options: options.iter().map(|o| o.to_string()).collect(),
            ..Default::default()
        };
        attributes::create(c, admin, &input).expect("attribute");
    });
}

/// Each attribute's stored values: contact ID → (key text, number).
fn stored_values(app: &TestApp, key: &str) -> std::collections::HashMap<i32, (String, Option<f64>)> {
    app.with_db(|c| {
        let id = attributes::by_key(c, key).expect("attribute").id;
        contact_attribute_values::table
            .filter(contact_attribute_values::attribute_id.eq(id))
            .select((
                contact_attribute_values::contact_id,
                contact_attribute_values::value_key,
                contact_attribute_values::value_number,
            ))
            .load::<(i32, String, Option<f64>)>(c)
            .expect("values")
            .into_iter()
            .map(|(id, k, n)| (id, (k, n)))
            .collect()
    })
}

/// The order a sort by `key` should show `ids` in, ascending: those with a
/// value by it (numbers as numbers), ties by ID, then those without by ID.
/// Descending reverses each part, the valueless still last.
fn attr_order(ids: &[i32], values: &std::collections::HashMap<i32, (String, Option<f64>)>, asc: bool) -> Vec<i32> {
    let mut with: Vec<i32> = ids.iter().copied().filter(|id| values.contains_key(id)).collect();
    let mut without: Vec<i32> = ids.iter().copied().filter(|id| !values.contains_key(id)).collect();
    with.sort_by(|a, b| {
        let (ka, na) = &values[a];
        let (kb, nb) = &values[b];
        match (na, nb) {
            (Some(x), Some(y)) => x.total_cmp(y),
            _ => ka.cmp(kb),
        }
        .then(a.cmp(b))
    });
    without.sort();
    if !asc {
        with.reverse();
        without.reverse();
    }
    with.into_iter().chain(without).collect()
}

#[actix_web::test]
async fn attribute_sorts_by_typed_value_with_the_valueless_last_both_ways() {
    let (app, lead) = app_as_admin().await;
    let admin = app.add_user("boss@example.com", "Bo Boss", Role::Admin);
    define(&app, &admin, "plan", "list", &["gold", "Silver", "bronze"]);
    define(&app, &admin, "budget", "number", &[]);
    define(&app, &admin, "since", "date", &[]);
    define(&app, &admin, "fruit", "text", &[]);
    let budgets = ["-5", "0", "2.5", "10", "100", "1e3", "99.75", "100"];
    let fruits = ["banana", "Apple", "cherry", "apple", "Date"];
    let mut ids = Vec::new();
    for i in 0..120usize {
        let mut custom = std::collections::BTreeMap::new();
        if i % 4 != 0 {
            custom.insert("plan".to_string(), ["gold", "silver", "Bronze"][i % 3].to_string());
        }
        if i % 5 != 1 {
            custom.insert("budget".to_string(), budgets[(i * 7) % budgets.len()].to_string());
        }
        if i % 3 != 2 {
            custom.insert(
                "since".to_string(),
                format!("2026-{:02}-{:02}", i % 12 + 1, (i * 7) % 28 + 1),
            );
        }
        if i % 6 != 5 {
            custom.insert("fruit".to_string(), fruits[(i * 3) % fruits.len()].to_string());
        }
        let input = ContactInput {
            custom,
            ..named(&format!("Contact {i}"))
        };
        ids.push(create(&app, &lead, &input));
    }
    // One in the trash: its value stays, the list leaves it out.
    app.with_db(|c| leadbook::service::trash::delete(c, &lead, ids[3]).unwrap());
    let live: Vec<i32> = live_contacts(&app).iter().map(|c| c.id).collect();
    for key in ["budget", "plan", "since", "fruit"] {
        let values = stored_values(&app, key);
        for (order, asc) in [("asc", true), ("desc", false)] {
            let path = format!("/contacts?owner=all&sort=attr.{key}&order={order}");
            assert_walk(&app, &path, &attr_order(&live, &values, asc)).await;
        }
    }
    // With a filter beside the sort (a search: every word, "1" anywhere).
    let values = stored_values(&app, "budget");
    let some: Vec<i32> = live_contacts(&app)
        .iter()
        .filter(|c| c.name.contains('1'))
        .map(|c| c.id)
        .collect();
    let html = list_page(&app, "/contacts?owner=all&q=contact%201&sort=attr.budget&order=desc").await;
    let want = attr_order(&some, &values, false);
    assert_eq!(listed_ids(&html), want[..want.len().min(50)]);

    // An attribute that does not exist is refused with a sentence, and the
    // API does not sort by attributes at all.
    let (status, body) = app.page("/contacts?sort=attr.nothing").await;
    assert!(status.is_client_error(), "{status}");
    assert!(body.contains("no custom attribute"), "{body}");
    let token = app.token_for("admin@example.com");
    let (status, body) = send(&app, Method::GET, "/contacts?sort=attr.budget", &token, None).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert!(body.to_string().contains("custom attribute"), "{body}");
    // A cursor of another sort (a name cursor on a number sort) is out of date.
    use base64::Engine;
    let by_name = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(format!("f{}:tContact 1", ids[1]));
    let (status, _) = app.page(&format!("/contacts?sort=attr.budget&cursor={by_name}")).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
}

/// Follows `next` to the end and `prev` back, through the service, `size`
/// a page.
fn walk_service(conn: &mut AnyConnection, query: &ContactQuery, me: i32, size: usize) -> (Vec<i32>, Vec<i32>) {
    let mut q = query.clone();
    let mut forward = Vec::new();
    let mut page = listing::page(conn, &q, me, 60, size).expect("page");
    loop {
        forward.extend(page.rows.iter().map(|r| r.contact.id));
        match &page.next {
            Some(next) => q.cursor = Some(Cursor::decode(next).unwrap()),
            None => break,
        }
        page = listing::page(conn, &q, me, 60, size).expect("page");
    }
    let mut backward: Vec<Vec<i32>> = vec![page.rows.iter().map(|r| r.contact.id).collect()];
    while let Some(prev) = &page.prev {
        q.cursor = Some(Cursor::decode(prev).unwrap());
        page = listing::page(conn, &q, me, 60, size).expect("page");
        backward.push(page.rows.iter().map(|r| r.contact.id).collect());
    }
    backward.reverse();
    (forward, backward.concat())
}

/// More contacts hold the value than the list reads out whole (2,000), so
/// the sort walks the value index in steps and keeps those the filters
/// pass: the same order as a narrow list, both ways.
#[actix_web::test]
async fn a_broad_list_by_attribute_walks_the_value_index_in_order() {
    let (app, _) = app_as_admin().await;
    let admin = app.add_user("boss@example.com", "Bo Boss", Role::Admin);
    define(&app, &admin, "budget", "number", &[]);
    define(&app, &admin, "plan", "text", &[]);
    let now = chrono::Utc::now().naive_utc();
    app.with_db(|c| {
        let budget = attributes::by_key(c, "budget").unwrap().id;
        let plan = attributes::by_key(c, "plan").unwrap().id;
        c.transaction::<_, diesel::result::Error, _>(|c| {
            // One by one: the two-backend connection has no batch insert.
            for i in 0..3_000i32 {
                let id: i32 = diesel::insert_into(contacts::table)
                    .values((
                        contacts::name.eq(format!("Broad {i}")),
                        // Every seventh is Won, which the filter leaves out.
                        contacts::status_id.eq(if i % 7 == 0 { 6 } else { 1 }),
                        contacts::created_at.eq(now),
                        contacts::updated_at.eq(now),
                    ))
                    .returning(contacts::id)
                    .get_result(c)?;
                if i % 10 != 0 {
                    let n = f64::from((i * 37) % 1001) / 4.0;
                    diesel::insert_into(contact_attribute_values::table)
                        .values((
                            contact_attribute_values::contact_id.eq(id),
                            contact_attribute_values::attribute_id.eq(budget),
                            contact_attribute_values::value_text.eq(n.to_string()),
                            contact_attribute_values::value_key.eq(n.to_string()),
                            contact_attribute_values::value_number.eq(Some(n)),
                        ))
                        .execute(c)?;
                }
                if i % 9 != 0 {
                    let word = ["kiwi", "fig", "lime", "pear", "plum", "date"][(i as usize * 5) % 6];
                    diesel::insert_into(contact_attribute_values::table)
                        .values((
                            contact_attribute_values::contact_id.eq(id),
                            contact_attribute_values::attribute_id.eq(plan),
                            contact_attribute_values::value_text.eq(word),
                            contact_attribute_values::value_key.eq(word),
                            contact_attribute_values::value_number.eq(None::<f64>),
                        ))
                        .execute(c)?;
                }
            }
            Ok(())
        })
        .expect("contacts");
    });
    let new: Vec<i32> = live_contacts(&app)
        .iter()
        .filter(|c| c.status_id == 1)
        .map(|c| c.id)
        .collect();
    let me = admin.id;
    for key in ["budget", "plan"] {
        let values = stored_values(&app, key);
        assert!(
            new.iter().filter(|id| values.contains_key(id)).count() > 2_000,
            "broad enough"
        );
        for (order, asc) in [("asc", true), ("desc", false)] {
            let sort = format!("attr.{key}");
            let q = ContactQuery::parse([("status", "1"), ("sort", sort.as_str()), ("order", order)]).unwrap();
            for size in [300, 37] {
                let (forward, backward) = app.with_db(|c| walk_service(c, &q, me, size));
                let want = attr_order(&new, &values, asc);
                assert_eq!(forward.len(), want.len(), "{key} {order} by {size}: every contact once");
                assert_eq!(forward, want, "{key} {order} by {size}: Next keeps the order");
                assert_eq!(backward, want, "{key} {order} by {size}: Previous too");
            }
        }
    }
}
