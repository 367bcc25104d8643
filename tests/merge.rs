//! Merging duplicates (issue 6) through real HTTP on the backend
//! `TEST_DATABASE_URL` picks: the merged contact field by field, every row
//! that moves counted before and after, undo back to exactly the state
//! before, bad input, roles, racing merges, and the dialog and log pages.

mod common;
use common::*;

use diesel::prelude::*;
use leadbook::db::schema::{
    contact_identities, contact_opt_outs, contacts, conversations, merges, messages, notes, status_history,
    webhook_deliveries,
};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use leadbook::service::users::Role;

struct Team {
    app: TestApp,
    admin: String,
    lead: String,
    agent: String,
}

async fn team() -> Team {
    let app = spawn_app().await;
    app.add_user("admin@example.com", "Ada Admin", Role::Admin);
    app.add_user("lead@example.com", "Lee Lead", Role::Lead);
    app.add_user("agent@example.com", "Agnes Agent", Role::Agent);
    Team {
        admin: app.token_for("admin@example.com"),
        lead: app.token_for("lead@example.com"),
        agent: app.token_for("agent@example.com"),
        app,
    }
}

async fn post(t: &Team, path: &str, token: &str, body: Value) -> (StatusCode, Value) {
    send(&t.app, Method::POST, path, token, Some(body)).await
}

async fn created(t: &Team, path: &str, body: Value) -> Value {
    let (status, json) = post(t, path, &t.admin, body).await;
    assert!(status.is_success(), "{path}: {status} {json}");
    json
}

async fn contact(t: &Team, body: Value) -> i64 {
    created(t, "/contacts", body).await["id"].as_i64().unwrap()
}

async fn inbox(t: &Team, name: &str, channel: &str) -> i64 {
    let body = json!({"name": name, "channel": channel, "delivery": {"kind": "sandbox"}});
    created(t, "/inboxes", body).await["id"].as_i64().unwrap()
}

/// An incoming message from `source` in `inbox`; returns the contact's ID.
async fn incoming(t: &Team, inbox: i64, source: &str, body: &str) -> i64 {
    let path = format!("/inboxes/{inbox}/messages");
    let json = created(t, &path, json!({"source_id": source, "name": source, "body": body})).await;
    json["contact_id"].as_i64().unwrap()
}

/// Gives an identity (and its conversation) to `contact`, as the bridge
/// would after an agent linked it: a direct write, since linking is not an
/// action of its own.
fn give_identity(t: &Team, from: i64, to: i64) {
    t.app.with_db(|c| {
        diesel::update(contact_identities::table.filter(contact_identities::contact_id.eq(from as i32)))
            .set(contact_identities::contact_id.eq(to as i32))
            .execute(c)
            .unwrap();
        diesel::update(conversations::table.filter(conversations::contact_id.eq(from as i32)))
            .set(conversations::contact_id.eq(to as i32))
            .execute(c)
            .unwrap();
        diesel::delete(contacts::table.find(from as i32)).execute(c).unwrap();
    });
}

async fn get_contact(t: &Team, id: i64) -> (StatusCode, Value) {
    send(&t.app, Method::GET, &format!("/contacts/{id}"), &t.admin, None).await
}

/// Everything a merge touches, as plain values, in a stable order: the
/// contacts as the API shows them and every row attached to a contact.
async fn everything(t: &Team) -> Value {
    let ids: Vec<i32> = t.app.with_db(|c| {
        contacts::table
            .select(contacts::id)
            .order(contacts::id)
            .load(c)
            .unwrap()
    });
    let mut shown = Vec::new();
    for id in ids {
        shown.push(get_contact(t, id.into()).await.1);
    }
    let mut rows = t.app.with_db(common::snap::attached_rows);
    rows["contacts"] = json!(shown);
    rows
}

/// Defines one custom attribute of every type.
async fn attributes_of_every_type(t: &Team) {
    for (key, kind, options) in [
        ("nickname", "text", json!([])),
        ("budget", "number", json!([])),
        ("renewal", "date", json!([])),
        ("website", "link", json!([])),
        ("vip", "boolean", json!([])),
        ("plan", "list", json!(["gold", "silver", "bronze"])),
    ] {
        let body = json!({"key": key, "display_name": key, "type": kind, "options": options});
        created(t, "/custom_attributes", body).await;
    }
}

struct Pair {
    a: i64,
    b: i64,
    wa: i64,
}

/// Two records of one customer. A: Siti as typed by an agent, chatting on
/// WhatsApp. B: the same person arriving from WhatsApp (another number) and
/// Instagram, with notes, labels and an opt-out. Both have an open WhatsApp
/// conversation; B's has the newer last message.
async fn duplicates(t: &Team) -> Pair {
    attributes_of_every_type(t).await;
    for name in ["hot", "vip-list"] {
        created(t, "/labels", json!({"name": name})).await;
    }
    let wa = inbox(t, "Sales WhatsApp", "whatsapp").await;
    let ig = inbox(t, "Instagram", "instagram").await;

    let a = contact(
        t,
        json!({"name": "Siti Aminah", "email": "siti@example.com", "company": "Maju Trading",
               "status_id": 3,
               "custom_attributes": {"nickname": "Siti", "renewal": "2026-01-31", "website": "https://maju.example",
                                     "vip": false, "plan": "gold"}}),
    )
    .await;
    let from_a = incoming(t, wa, "60123450001", "Hello from A's phone").await;
    incoming(t, wa, "60123450001", "Second message on A's phone").await;
    give_identity(t, from_a, a);

    let b = incoming(t, wa, "60123450002", "Hi, it's Siti again").await;
    tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    incoming(t, wa, "60123450002", "Newest message of all").await;
    let from_ig = incoming(t, ig, "siti.aminah", "Hello on Instagram").await;
    give_identity(t, from_ig, b);
    let (status, json) = send(
        &t.app,
        Method::PATCH,
        &format!("/contacts/{b}"),
        &t.admin,
        Some(
            json!({"name": "siti.aminah", "company": "Maju Trading Sdn Bhd", "city": "Shah Alam",
                    "status_id": 5,
                    "custom_attributes": {"nickname": "Cik Siti", "budget": 2500, "renewal": "2026-06-30",
                                          "vip": true, "plan": "silver"}}),
        ),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{json}");
    created(
        t,
        &format!("/contacts/{b}/notes"),
        json!({"body": "Asked about the gold plan"}),
    )
    .await;
    created(
        t,
        &format!("/contacts/{b}/notes"),
        json!({"kind": "call", "body": "Called back"}),
    )
    .await;
    created(
        t,
        &format!("/contacts/{b}/labels"),
        json!({"labels": ["hot", "vip-list"]}),
    )
    .await;
    created(t, &format!("/contacts/{a}/labels"), json!({"labels": ["hot"]})).await;
    t.app.with_db(|c| {
        diesel::insert_into(contact_opt_outs::table)
            .values((
                contact_opt_outs::contact_id.eq(b as i32),
                contact_opt_outs::inbox_id.eq(ig as i32),
                contact_opt_outs::created_at.eq(chrono::Utc::now().naive_utc()),
            ))
            .execute(c)
            .unwrap();
    });
    Pair { a, b, wa }
}

fn count_of(t: &Team, table: &str, contact: i64) -> i64 {
    let id = contact as i32;
    t.app
        .with_db(|c| match table {
            "conversations" => conversations::table
                .filter(conversations::contact_id.eq(id))
                .count()
                .get_result(c),
            "identities" => contact_identities::table
                .filter(contact_identities::contact_id.eq(id))
                .count()
                .get_result(c),
            "history" => status_history::table
                .filter(status_history::contact_id.eq(id))
                .count()
                .get_result(c),
            "notes" => notes::table.filter(notes::contact_id.eq(id)).count().get_result(c),
            "messages" => messages::table
                .inner_join(conversations::table)
                .filter(conversations::contact_id.eq(id))
                .count()
                .get_result(c),
            _ => unreachable!(),
        })
        .unwrap()
}

const COUNTED: [&str; 5] = ["conversations", "identities", "history", "notes", "messages"];

#[actix_web::test]
async fn a_merge_decides_every_field_moves_every_row_and_undo_gives_back_exactly_the_state_before() {
    let t = team().await;
    let Pair { a, b, wa } = duplicates(&t).await;
    created(
        &t,
        "/webhooks",
        json!({"url": "http://127.0.0.1:9/events", "events": ["contact.merged"]}),
    )
    .await;
    let before = everything(&t).await;
    let counts_before: Vec<(i64, i64)> = COUNTED
        .iter()
        .map(|k| (count_of(&t, k, a), count_of(&t, k, b)))
        .collect();

    let (status, merged) = post(
        &t,
        &format!("/contacts/{a}/merge"),
        &t.lead,
        json!({"other_id": b, "take_from_other": ["status_id", "custom.renewal", "custom.vip"]}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{merged}");
    let c = &merged["contact"];
    assert_eq!(c["id"], a, "A keeps its ID");
    // Overlap, A wins.
    assert_eq!(c["name"], "Siti Aminah");
    assert_eq!(c["company"], "Maju Trading");
    assert_eq!(c["custom_attributes"]["nickname"], "Siti");
    assert_eq!(c["custom_attributes"]["plan"], "gold");
    // A's blanks filled from B.
    assert_eq!(c["city"], "Shah Alam");
    assert_eq!(c["custom_attributes"]["budget"], 2500);
    assert_eq!(c["email"], "siti@example.com");
    // Only A had it.
    assert_eq!(c["custom_attributes"]["website"], "https://maju.example");
    // Chosen from B.
    assert_eq!(c["status_id"], 5);
    assert_eq!(c["custom_attributes"]["renewal"], "2026-06-30");
    assert_eq!(c["custom_attributes"]["vip"], true);
    assert_eq!(c["labels"], json!(["hot", "vip-list"]));
    assert_eq!(get_contact(&t, b).await.0, StatusCode::NOT_FOUND, "B is deleted");

    // Every row ends on A, none lost or duplicated.
    for (k, (in_a, in_b)) in COUNTED.iter().zip(&counts_before) {
        let expected = in_a + in_b + i64::from(*k == "history");
        assert_eq!(
            count_of(&t, k, a),
            expected,
            "{k} all on A (+1 history entry for the status change)"
        );
        assert_eq!(count_of(&t, k, b), 0, "{k} left on B");
    }
    let merge_entry: (Option<i32>, i32, String) = t.app.with_db(|c| {
        status_history::table
            .filter(status_history::contact_id.eq(a as i32))
            .order(status_history::id.desc())
            .select((status_history::from_id, status_history::to_id, status_history::source))
            .first(c)
            .unwrap()
    });
    assert_eq!(merge_entry, (Some(3), 5, "merge".to_string()));
    // One open WhatsApp conversation: A's, whose last message is older, was resolved.
    let open: Vec<(i32, String)> = t.app.with_db(|c| {
        conversations::table
            .filter(conversations::contact_id.eq(a as i32))
            .filter(conversations::inbox_id.eq(wa as i32))
            .select((conversations::id, conversations::status))
            .order(conversations::id)
            .load(c)
            .unwrap()
    });
    assert_eq!(open.len(), 2);
    assert_eq!((open[0].1.as_str(), open[1].1.as_str()), ("resolved", "open"));
    let event: String = t.app.with_db(|c| {
        webhook_deliveries::table
            .select(webhook_deliveries::payload)
            .first(c)
            .unwrap()
    });
    let event: Value = serde_json::from_str(&event).unwrap();
    assert_eq!(event["event"], "contact.merged");
    assert_eq!(event["merged_id"], b);

    // Undo: exactly the state before.
    let merge_id = merged["merge_id"].as_i64().unwrap();
    let (status, undone) = post(&t, &format!("/merges/{merge_id}/undo"), &t.admin, json!({})).await;
    assert_eq!(status, StatusCode::OK, "{undone}");
    assert_eq!(undone["restored"]["id"], b);
    assert_eq!(undone["kept"]["id"], a);
    assert_eq!(everything(&t).await, before, "undo restores every row and field");

    // Twice: refused, nothing changes.
    let (status, json) = post(&t, &format!("/merges/{merge_id}/undo"), &t.admin, json!({})).await;
    assert_eq!(status, StatusCode::CONFLICT, "{json}");
    assert!(
        json["error"]["message"].as_str().unwrap().contains("already undone"),
        "{json}"
    );
    assert_eq!(everything(&t).await, before);
}

#[actix_web::test]
async fn undo_gives_back_only_fields_that_still_hold_the_merged_value() {
    let t = team().await;
    let a = contact(&t, json!({"name": "Tan Wei Ming"})).await;
    let b = contact(
        &t,
        json!({"name": "Wei Ming", "email": "weiming@example.com", "city": "Ipoh", "company": "Sinar Motor"}),
    )
    .await;
    let (_, merged) = post(&t, &format!("/contacts/{a}/merge"), &t.admin, json!({"other_id": b})).await;
    assert_eq!(merged["contact"]["city"], "Ipoh");
    // After the merge someone corrects A's city; the company is untouched.
    let (status, _) = send(
        &t.app,
        Method::PATCH,
        &format!("/contacts/{a}"),
        &t.admin,
        Some(json!({"city": "Kuala Lumpur"})),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let id = merged["merge_id"].as_i64().unwrap();
    let (status, undone) = post(&t, &format!("/merges/{id}/undo"), &t.admin, json!({})).await;
    assert_eq!(status, StatusCode::OK, "{undone}");
    assert_eq!(undone["kept"]["city"], "Kuala Lumpur", "a later edit stays");
    assert_eq!(undone["kept"]["company"], Value::Null, "what the merge gave goes back");
    assert_eq!(undone["kept"]["email"], Value::Null);
    assert_eq!(
        undone["restored"]["email"], "weiming@example.com",
        "B gets its email back"
    );
    assert_eq!(undone["restored"]["city"], "Ipoh");
}

#[actix_web::test]
async fn bad_merges_and_undos_are_refused_with_a_clear_answer_and_change_nothing() {
    let t = team().await;
    let a = contact(&t, json!({"name": "Aisyah", "email": "aisyah@example.com"})).await;
    let b = contact(&t, json!({"name": "Aisyah B", "phone": "+60123334444"})).await;
    let c = contact(&t, json!({"name": "Aisyah C"})).await;
    let gone = contact(&t, json!({"name": "Deleted soon"})).await;
    let (status, _) = send(&t.app, Method::DELETE, &format!("/contacts/{gone}"), &t.admin, None).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let before = everything(&t).await;
    let merge_path = format!("/contacts/{a}/merge");

    let cases: Vec<(Value, &str, StatusCode, &str)> = vec![
        (
            json!({"other_id": a}),
            "admin",
            StatusCode::UNPROCESSABLE_ENTITY,
            "into itself",
        ),
        (
            json!({"other_id": gone}),
            "admin",
            StatusCode::NOT_FOUND,
            "does not exist",
        ),
        (
            json!({"other_id": 999_999}),
            "admin",
            StatusCode::NOT_FOUND,
            "does not exist",
        ),
        (json!({}), "admin", StatusCode::UNPROCESSABLE_ENTITY, "other_id"),
        (
            json!({"other_id": "b"}),
            "admin",
            StatusCode::UNPROCESSABLE_ENTITY,
            "other_id",
        ),
        (
            json!({"other_id": b, "take_from_other": ["password"]}),
            "admin",
            StatusCode::UNPROCESSABLE_ENTITY,
            "password",
        ),
        (
            json!({"other_id": b, "take_from_other": ["custom.nothing"]}),
            "admin",
            StatusCode::UNPROCESSABLE_ENTITY,
            "custom.nothing",
        ),
        (json!({"other_id": b}), "agent", StatusCode::FORBIDDEN, "merge"),
    ];
    for (body, who, expected, says) in cases {
        let token = if who == "agent" { &t.agent } else { &t.admin };
        let (status, json) = post(&t, &merge_path, token, body.clone()).await;
        assert_eq!(status, expected, "{body}: {json}");
        let message = json["error"]["message"].as_str().unwrap_or_default();
        assert!(message.contains(says), "{body}: {message}");
        assert_eq!(everything(&t).await, before, "{body} changed nothing");
    }
    let (status, _) = post(&t, &format!("/contacts/{gone}/merge"), &t.admin, json!({"other_id": b})).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "A that does not exist");
    let (status, _) = post(&t, "/merges/4242/undo", &t.admin, json!({})).await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    // A later merge of the same contact blocks undoing an earlier one.
    let (_, first) = post(&t, &merge_path, &t.lead, json!({"other_id": b})).await;
    let (_, second) = post(&t, &merge_path, &t.lead, json!({"other_id": c})).await;
    let (first, second) = (
        first["merge_id"].as_i64().unwrap(),
        second["merge_id"].as_i64().unwrap(),
    );
    let after_merges = everything(&t).await;
    let (status, json) = post(&t, &format!("/merges/{first}/undo"), &t.agent, json!({})).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{json}");
    let (status, json) = post(&t, &format!("/merges/{first}/undo"), &t.lead, json!({})).await;
    assert_eq!(status, StatusCode::CONFLICT, "{json}");
    assert!(
        json["error"]["message"]
            .as_str()
            .unwrap()
            .contains(&format!("#{second}")),
        "{json}"
    );
    assert_eq!(everything(&t).await, after_merges);
    // After 30 days, no undo.
    t.app.with_db(|conn| {
        diesel::update(merges::table.find(second as i32))
            .set(merges::created_at.eq(chrono::Utc::now().naive_utc() - chrono::Duration::days(31)))
            .execute(conn)
            .unwrap()
    });
    let (status, json) = post(&t, &format!("/merges/{second}/undo"), &t.lead, json!({})).await;
    assert_eq!(status, StatusCode::CONFLICT, "{json}");
    assert!(json["error"]["message"].as_str().unwrap().contains("30 days"), "{json}");
    assert_eq!(everything(&t).await, after_merges);
    // Within the window, in order: the later first, then the earlier.
    t.app.with_db(|conn| {
        diesel::update(merges::table.find(second as i32))
            .set(merges::created_at.eq(chrono::Utc::now().naive_utc() - chrono::Duration::days(29)))
            .execute(conn)
            .unwrap()
    });
    for id in [second, first] {
        let (status, json) = post(&t, &format!("/merges/{id}/undo"), &t.lead, json!({})).await;
        assert_eq!(status, StatusCode::OK, "{json}");
    }
    assert_eq!(everything(&t).await, before);
}

#[actix_web::test]
async fn twenty_clients_merging_overlapping_pairs_lose_no_message_or_conversation() {
    let t = team().await;
    let wa = inbox(&t, "Sales WhatsApp", "whatsapp").await;
    let mut ids = Vec::new();
    for i in 0..10 {
        let source = format!("6012000{i:04}");
        let id = incoming(&t, wa, &source, &format!("first from {i}")).await;
        incoming(&t, wa, &source, &format!("second from {i}")).await;
        created(
            &t,
            &format!("/contacts/{id}/notes"),
            json!({"body": format!("note {i}")}),
        )
        .await;
        ids.push(id);
    }
    let totals = |t: &Team| {
        t.app.with_db(|c| {
            (
                messages::table.count().get_result::<i64>(c).unwrap(),
                conversations::table.count().get_result::<i64>(c).unwrap(),
                notes::table.count().get_result::<i64>(c).unwrap(),
                contact_identities::table.count().get_result::<i64>(c).unwrap(),
            )
        })
    };
    let before = totals(&t);
    let requests = (0..20).map(|n| {
        let (a, b) = (ids[n % 10], ids[(n * 3 + 1) % 10]);
        let app = &t.app;
        let token = if n % 2 == 0 { &t.admin } else { &t.lead };
        async move {
            send(
                app,
                Method::POST,
                &format!("/contacts/{a}/merge"),
                token,
                Some(json!({"other_id": b})),
            )
            .await
        }
    });
    // Customers keep writing while the merges run.
    let path = format!("/inboxes/{wa}/messages");
    let arrivals = (0..10).map(|i| {
        let (app, token, path) = (&t.app, &t.admin, &path);
        let body = json!({"source_id": format!("6012000{i:04}"), "body": format!("third from {i}")});
        async move { send(app, Method::POST, path, token, Some(body)).await }
    });
    let (results, arrived) = futures_util::future::join(
        futures_util::future::join_all(requests),
        futures_util::future::join_all(arrivals),
    )
    .await;
    for (status, json) in &arrived {
        assert!(
            status.is_success(),
            "a message arriving during merges answered {status}: {json}"
        );
    }
    let mut merged = 0;
    for (status, json) in &results {
        match *status {
            StatusCode::OK => merged += 1,
            StatusCode::NOT_FOUND => {}
            other => panic!("a racing merge answered {other}: {json}"),
        }
    }
    assert!(merged >= 1, "some merges succeed");
    let (messages, conversations, notes, identities) = before;
    assert_eq!(
        totals(&t),
        (messages + 10, conversations, notes, identities),
        "no message, conversation, note or identity lost"
    );
    assert_eq!(t.app.contact_count(), 10 - merged, "one contact fewer per merge");
    let logged: i64 = t.app.with_db(|c| merges::table.count().get_result(c).unwrap());
    assert_eq!(logged, merged);
    // Every row still belongs to a contact that exists, with one open
    // conversation per inbox.
    let orphans: i64 = t.app.with_db(|c| {
        conversations::table
            .left_join(contacts::table)
            .filter(contacts::id.nullable().is_null())
            .count()
            .get_result(c)
            .unwrap()
    });
    assert_eq!(orphans, 0);
    let open: Vec<(i32, i32)> = t.app.with_db(|c| {
        conversations::table
            .filter(conversations::status.eq("open"))
            .select((conversations::contact_id, conversations::inbox_id))
            .load(c)
            .unwrap()
    });
    let distinct: std::collections::HashSet<_> = open.iter().collect();
    assert_eq!(
        distinct.len(),
        open.len(),
        "one open conversation per contact and inbox"
    );
    assert_eq!(
        open.len() as i64,
        10 - merged,
        "each contact left has its open conversation"
    );
}

#[actix_web::test]
async fn the_merge_dialog_searches_previews_merges_and_the_log_undoes() {
    let t = team().await;
    let a = contact(
        &t,
        json!({"name": "Nurul Huda", "email": "nurul@example.com", "status_id": 2}),
    )
    .await;
    let b = contact(
        &t,
        json!({"name": "Nurul Huda (IG)", "phone": "+60129876543", "city": "Kuching", "status_id": 6}),
    )
    .await;
    let lead = t.app.login_as("lead@example.com").await;
    // Editing A with B's phone is refused, pointing at the merge.
    let res = lead
        .submit(
            &format!("/contacts/{a}/edit"),
            &format!("/contacts/{a}"),
            &[("name", "Nurul Huda"), ("phone", "012-987 6543"), ("status", "2")],
        )
        .await;
    assert_eq!(res.status(), StatusCode::CONFLICT);
    let html = res.text().await.unwrap();
    assert!(html.contains(&format!("/contacts/{a}/merge?other={b}")), "{html}");
    let (status, html) = lead.page(&format!("/contacts/{a}/merge?q=Nurul")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains(&format!("/contacts/{a}/merge?other={b}")), "B is found");
    let (status, html) = lead
        .page(&format!("/contacts/{a}/merge?other={b}&take_from_other=status_id"))
        .await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        html.contains("Kuching") && html.contains("+60129876543"),
        "B's values shown"
    );
    assert!(
        html.contains("0 conversation(s) with 0 message(s)"),
        "what moves is counted"
    );
    assert!(html.contains("1 status change(s)"), "B's history moves");
    assert!(
        html.contains(r#"<input type="hidden" name="take_from_other" value="status_id">"#),
        "the choice is carried to the confirm form"
    );
    let form = format!("/contacts/{a}/merge?other={b}&take_from_other=status_id");
    let res = lead
        .submit(
            &form,
            &format!("/contacts/{a}/merge"),
            &[("other", &b.to_string()), ("take_from_other", "status_id")],
        )
        .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&res), format!("/contacts/{a}"));
    let (_, c) = get_contact(&t, a).await;
    assert_eq!(
        (c["status_id"].as_i64(), c["city"].as_str()),
        (Some(6), Some("Kuching"))
    );
    assert_eq!(get_contact(&t, b).await.0, StatusCode::NOT_FOUND);

    let (status, log) = lead.page("/merges").await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        log.contains("Nurul Huda (IG)") && log.contains("Lee Lead"),
        "who merged what"
    );
    let id: i32 = t.app.with_db(|c| merges::table.select(merges::id).first(c).unwrap());
    let res = lead.submit("/merges", &format!("/merges/{id}/undo"), &[]).await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert_eq!(get_contact(&t, b).await.1["city"], "Kuching", "B is back");
    let (_, log) = lead.page("/merges").await;
    assert!(log.contains("Undone") && log.contains("by Lee Lead"), "who undid it");

    // Agents may neither merge nor undo, through the pages either.
    let agent = t.app.login_as("agent@example.com").await;
    assert_eq!(
        agent.page(&format!("/contacts/{a}/merge")).await.0,
        StatusCode::FORBIDDEN
    );
    assert_eq!(agent.page("/merges").await.0, StatusCode::FORBIDDEN);
    let res = agent
        .submit(
            &format!("/contacts/{a}"),
            &format!("/contacts/{a}/merge"),
            &[("other", &b.to_string())],
        )
        .await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    let res = agent
        .submit(&format!("/contacts/{a}"), &format!("/merges/{id}/undo"), &[])
        .await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    assert_eq!(get_contact(&t, b).await.0, StatusCode::OK, "nothing changed");
    // Into itself, through the page: a clear 422.
    let res = lead
        .submit(
            &format!("/contacts/{a}"),
            &format!("/contacts/{a}/merge"),
            &[("other", &a.to_string())],
        )
        .await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(res.text().await.unwrap().contains("cannot be merged into itself"));
}

#[actix_web::test]
async fn a_new_contact_that_looks_like_another_suggests_the_merge() {
    let t = team().await;
    let agent = t.app.login_as("agent@example.com").await;
    let first = agent
        .contact_id(&[("name", "Siti Aminah"), ("company", "Maju Trading"), ("status", "1")])
        .await;
    let (_, html) = agent.page(&format!("/contacts/{first}")).await;
    assert!(!html.contains("Possible duplicates"), "one contact alone");
    let res = agent
        .create_contact(&[("name", "siti.aminah"), ("company", "Maju Trading"), ("status", "1")])
        .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let second = location(&res);
    let (_, html) = agent.page(&second).await;
    assert!(html.contains("It looks like a contact you already have"), "{html}");
    assert!(html.contains("Possible duplicates") && html.contains(&format!("href=\"/contacts/{first}\"")));
    assert!(!html.contains("/merge?other="), "agents are not offered the merge");
    let lead = t.app.login_as("lead@example.com").await;
    let (_, html) = lead.page(&second).await;
    assert!(html.contains(&format!("{second}/merge?other={first}")), "leads are");
}

#[actix_web::test]
async fn a_merged_contacts_id_is_not_handed_to_the_next_new_contact() {
    let t = team().await;
    let a = contact(&t, json!({"name": "Older"})).await;
    let b = contact(&t, json!({"name": "Newest", "email": "newest@example.com"})).await;
    let (_, merged) = post(&t, &format!("/contacts/{a}/merge"), &t.admin, json!({"other_id": b})).await;
    // A new customer arrives right after: it must not take B's ID.
    let c = contact(&t, json!({"name": "Next customer"})).await;
    assert!(c > b, "contact #{c} reuses an ID");
    let id = merged["merge_id"].as_i64().unwrap();
    let (status, undone) = post(&t, &format!("/merges/{id}/undo"), &t.admin, json!({})).await;
    assert_eq!(status, StatusCode::OK, "{undone}");
    assert_eq!(undone["restored"]["id"], b);
}

#[actix_web::test]
async fn undo_is_refused_when_a_value_it_would_give_back_has_been_taken() {
    let t = team().await;
    let a = contact(&t, json!({"name": "Ravi", "email": "ravi@old.example"})).await;
    let b = contact(&t, json!({"name": "Ravi K", "email": "ravi@new.example"})).await;
    let (_, merged) = post(
        &t,
        &format!("/contacts/{a}/merge"),
        &t.admin,
        json!({"other_id": b, "take_from_other": ["email"]}),
    )
    .await;
    assert_eq!(merged["contact"]["email"], "ravi@new.example");
    // A's old address is free now; someone else gets it.
    contact(&t, json!({"name": "Another Ravi", "email": "ravi@old.example"})).await;
    let before = everything(&t).await;
    let id = merged["merge_id"].as_i64().unwrap();
    let (status, json) = post(&t, &format!("/merges/{id}/undo"), &t.admin, json!({})).await;
    assert_eq!(status, StatusCode::CONFLICT, "{json}");
    assert!(
        json["error"]["message"].as_str().unwrap().contains("former email"),
        "{json}"
    );
    assert_eq!(everything(&t).await, before, "nothing changed");
}
