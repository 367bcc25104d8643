//! The JSON API v1 through real HTTP: every endpoint's success and exact
//! shapes, every error code with the JSON error body, tokens (revoked,
//! disabled user, last use), owners, PATCH semantics, lookups and filters,
//! cursor paging while contacts are created, and the OpenAPI description.

mod common;
use common::*;

use std::collections::{BTreeSet, HashMap};

use chrono::{DateTime, NaiveDateTime, Utc};
use diesel::prelude::*;
use leadbook::db::schema::{api_tokens, contacts, status_history, users};
use leadbook::service::contacts::{self as service, Contact, ContactInput};
use leadbook::service::status::{LeadStatus, StatusSource};
use leadbook::service::tokens;
use leadbook::service::users::{Actor, Role};
use reqwest::{Method, RequestBuilder, StatusCode};
use scraper::{Html, Selector};
use serde_json::{json, Value};

// ---------------------------------------------------------------- fixtures

/// An app with one user of each role, each with an API token.
struct Team {
    app: TestApp,
    admin: Actor,
    lead: Actor,
    agent: Actor,
    admin_token: String,
    lead_token: String,
    agent_token: String,
}

async fn team() -> Team {
    let app = spawn_app().await;
    let admin = app.add_user("admin@example.com", "Ada Admin", Role::Admin);
    let lead = app.add_user("lead@example.com", "Lee Lead", Role::Lead);
    let agent = app.add_user("agent@example.com", "Agnes Agent", Role::Agent);
    let admin_token = app.token_for("admin@example.com");
    let lead_token = app.token_for("lead@example.com");
    let agent_token = app.token_for("agent@example.com");
    Team {
        app,
        admin,
        lead,
        agent,
        admin_token,
        lead_token,
        agent_token,
    }
}

/// A request to `/api/v1{path}` without any `Authorization` header.
fn anonymous(app: &TestApp, method: Method, path: &str) -> RequestBuilder {
    new_client().request(method, app.url(&format!("/api/v1{path}")))
}

/// A request to `/api/v1{path}` with this exact `Authorization` header.
fn with_authorization(app: &TestApp, method: Method, path: &str, header: &str) -> RequestBuilder {
    anonymous(app, method, path).header("authorization", header)
}

/// Sends a request with a raw JSON body (not necessarily valid JSON).
fn raw_json(rb: RequestBuilder, body: impl Into<String>) -> RequestBuilder {
    rb.header("content-type", "application/json").body(body.into())
}

fn content_type(res: &reqwest::Response) -> String {
    res.headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap_or_default().to_string())
        .unwrap_or_default()
}

/// Sends, and returns the status and the body parsed as JSON (`null` for an
/// empty 204). A body that is not JSON fails the test, showing it.
async fn send(rb: RequestBuilder) -> (StatusCode, Value) {
    let res = rb.send().await.expect("request sent");
    let status = res.status();
    let ctype = content_type(&res);
    let text = res.text().await.expect("body");
    if status == StatusCode::NO_CONTENT {
        assert!(text.is_empty(), "a 204 has no body, got {text:?}");
        return (status, Value::Null);
    }
    assert!(
        ctype.starts_with("application/json"),
        "{status}: content-type {ctype:?} is not JSON; body {text:?}"
    );
    let value = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{status}: body is not JSON ({e}): {text:?}"));
    (status, value)
}

/// Sends, expects `want`, and returns the JSON body.
async fn ok(rb: RequestBuilder, want: StatusCode) -> Value {
    let (status, body) = send(rb).await;
    assert_eq!(status, want, "unexpected answer: {body:#}");
    body
}

/// Checks that `body` is the API's error shape; returns `error`.
fn error_shape(status: StatusCode, body: &Value) -> Value {
    let top = body
        .as_object()
        .unwrap_or_else(|| panic!("{status}: error body is not an object: {body}"));
    assert_eq!(
        top.keys().collect::<Vec<_>>(),
        vec!["error"],
        "{status}: only `error` at the top: {body}"
    );
    let error = &body["error"];
    let obj = error.as_object().expect("error is an object");
    for key in obj.keys() {
        assert!(
            ["code", "message", "fields", "existing_id"].contains(&key.as_str()),
            "{status}: unexpected key {key} in {body}"
        );
    }
    assert!(
        error["code"].as_str().is_some_and(|c| !c.is_empty()),
        "{status}: code is a string: {body}"
    );
    assert!(
        error["message"].as_str().is_some_and(|m| !m.trim().is_empty()),
        "{status}: message is a non-empty string: {body}"
    );
    if let Some(fields) = obj.get("fields") {
        let fields = fields.as_object().expect("fields is an object");
        for (field, messages) in fields {
            let messages = messages
                .as_array()
                .unwrap_or_else(|| panic!("fields.{field} is a list: {body}"));
            assert!(!messages.is_empty(), "fields.{field} is not empty: {body}");
            assert!(
                messages.iter().all(|m| m.as_str().is_some_and(|m| !m.is_empty())),
                "fields.{field} holds messages: {body}"
            );
        }
    }
    error.clone()
}

/// Sends, expects an error answer with `want` and `code`; returns `error`.
async fn refused(rb: RequestBuilder, want: StatusCode, code: &str) -> Value {
    let (status, body) = send(rb).await;
    assert_eq!(status, want, "unexpected answer: {body:#}");
    let error = error_shape(status, &body);
    assert_eq!(error["code"], code, "{body:#}");
    error
}

/// Like `refused` with 422 `validation_failed`; checks `fields` names `field`.
async fn invalid(rb: RequestBuilder, field: &str) -> Value {
    let error = refused(rb, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;
    let fields = error["fields"]
        .as_object()
        .unwrap_or_else(|| panic!("validation_failed carries fields: {error:#}"));
    assert!(fields.contains_key(field), "fields should name {field:?}: {error:#}");
    error
}

/// Like `invalid`, but returns a complaint instead of failing when `fields`
/// does not name `field`, so that one run lists every such case.
async fn invalid_naming(rb: RequestBuilder, field: &str, what: &str) -> Option<String> {
    let error = refused(rb, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;
    let fields = error["fields"]
        .as_object()
        .unwrap_or_else(|| panic!("{what}: validation_failed carries fields: {error:#}"));
    (!fields.contains_key(field)).then(|| {
        format!(
            "{what}: fields should name {field:?}, got {:?}",
            fields.keys().collect::<Vec<_>>()
        )
    })
}

fn no_complaints(complaints: Vec<String>) {
    assert!(
        complaints.is_empty(),
        "per-field errors not named as sent:\n{}",
        complaints.join("\n")
    );
}

// ------------------------------------------------------- the database side

/// Everything a refused request must leave untouched.
fn snapshot(app: &TestApp) -> String {
    app.with_db(|c| {
        let rows: Vec<Contact> = contacts::table
            .order(contacts::id.asc())
            .select(Contact::as_select())
            .load(c)
            .expect("contacts");
        let history: i64 = status_history::table.count().get_result(c).expect("history count");
        format!("{rows:?}\nhistory entries: {history}")
    })
}

fn stored(app: &TestApp, id: i32) -> Option<Contact> {
    app.with_db(|c| service::get(c, id).ok())
}

fn history_len(app: &TestApp, id: i32) -> i64 {
    app.with_db(|c| {
        status_history::table
            .filter(status_history::contact_id.eq(id))
            .count()
            .get_result(c)
            .expect("history count")
    })
}

fn add_contacts(app: &TestApp, actor: &Actor, inputs: &[ContactInput]) -> Vec<i32> {
    add_contacts_from(app, actor, inputs, StatusSource::Api)
}

fn token_row(app: &TestApp, user_id: i32) -> tokens::ApiToken {
    app.with_db(|c| tokens::list_for_user(c, user_id))
        .expect("tokens")
        .into_iter()
        .next()
        .expect("the user has a token")
}

fn last_used_at(app: &TestApp, token_id: i32) -> Option<NaiveDateTime> {
    app.with_db(|c| {
        api_tokens::table
            .find(token_id)
            .select(api_tokens::last_used_at)
            .first(c)
            .expect("token row")
    })
}

// ---------------------------------------------------------- the JSON shapes

const CONTACT_KEYS: [&str; 18] = [
    "id",
    "name",
    "email",
    "phone",
    "identifier",
    "company",
    "city",
    "country",
    "status_id",
    "status",
    "owner_id",
    "labels",
    "opted_out",
    "custom_attributes",
    "created_at",
    "updated_at",
    "last_activity_at",
    "lead_score",
];

/// An RFC 3339 time in UTC.
fn utc_time(v: &Value, what: &str) -> DateTime<Utc> {
    let text = v.as_str().unwrap_or_else(|| panic!("{what} is a string: {v}"));
    let t = DateTime::parse_from_rfc3339(text).unwrap_or_else(|e| panic!("{what} {text:?} is not RFC 3339: {e}"));
    assert_eq!(t.offset().local_minus_utc(), 0, "{what} {text:?} is in UTC");
    t.with_timezone(&Utc)
}

/// Checks the contract's contact shape: every key, right types, status name
/// matching its ID; returns the contact's ID.
fn assert_contact_shape(v: &Value) -> i32 {
    let obj = v.as_object().unwrap_or_else(|| panic!("a contact is an object: {v}"));
    let mut keys: Vec<&str> = obj.keys().map(String::as_str).collect();
    keys.sort_unstable();
    let mut want = CONTACT_KEYS.to_vec();
    want.sort_unstable();
    assert_eq!(keys, want, "contact keys of {v:#}");
    assert!(v["id"].is_i64(), "id is a number: {v}");
    assert!(v["name"].as_str().is_some_and(|n| !n.is_empty()), "name: {v}");
    for key in ["email", "phone", "identifier", "company", "city", "country"] {
        assert!(
            v[key].is_null() || v[key].as_str().is_some_and(|s| !s.is_empty()),
            "{key} is null or a non-empty string: {v}"
        );
    }
    let status_id = v["status_id"].as_i64().expect("status_id is a number");
    let status = LeadStatus::from_id(status_id as i32).expect("status_id is 1–7");
    assert_eq!(v["status"], status.name(), "status name matches status_id");
    assert!(v["owner_id"].is_null() || v["owner_id"].is_i64(), "owner_id: {v}");
    assert!(
        v["labels"].as_array().is_some_and(|l| l.iter().all(Value::is_string)),
        "labels is a list of names: {v}"
    );
    assert!(v["opted_out"].is_boolean(), "opted_out: {v}");
    assert!(v["custom_attributes"].is_object(), "custom_attributes: {v}");
    let created = utc_time(&v["created_at"], "created_at");
    let updated = utc_time(&v["updated_at"], "updated_at");
    assert!(updated >= created, "updated_at before created_at: {v}");
    if !v["last_activity_at"].is_null() {
        utc_time(&v["last_activity_at"], "last_activity_at");
    }
    assert!(
        v["lead_score"].is_null() || v["lead_score"].as_f64().is_some_and(|s| (0.0..=1.0).contains(&s)),
        "lead_score is null or 0–1: {v}"
    );
    v["id"].as_i64().unwrap() as i32
}

/// The API's contact agrees with the stored row.
fn assert_matches_stored(app: &TestApp, v: &Value) {
    let id = assert_contact_shape(v);
    let c = stored(app, id).unwrap_or_else(|| panic!("contact {id} is stored"));
    let text = |o: &Option<String>| o.clone().map(Value::String).unwrap_or(Value::Null);
    assert_eq!(v["name"], c.name.as_str());
    assert_eq!(v["email"], text(&c.email));
    assert_eq!(v["phone"], text(&c.phone));
    assert_eq!(v["identifier"], text(&c.identifier));
    assert_eq!(v["company"], text(&c.company));
    assert_eq!(v["city"], text(&c.city));
    assert_eq!(v["country"], text(&c.country));
    assert_eq!(v["status_id"], c.status_id);
    assert_eq!(v["owner_id"], json!(c.owner_id));
    assert_eq!(v["opted_out"], c.opted_out_at.is_some());
    assert_eq!(utc_time(&v["created_at"], "created_at").naive_utc(), c.created_at);
    assert_eq!(utc_time(&v["updated_at"], "updated_at").naive_utc(), c.updated_at);
    assert_eq!(v["lead_score"], json!(c.lead_score.map(|s| f64::from(s) / 1000.0)));
}

fn ids_of(page: &Value) -> Vec<i32> {
    page["data"]
        .as_array()
        .unwrap_or_else(|| panic!("a page has data: {page}"))
        .iter()
        .map(|c| c["id"].as_i64().expect("id") as i32)
        .collect()
}

fn names_of(page: &Value) -> Vec<String> {
    page["data"]
        .as_array()
        .unwrap_or_else(|| panic!("a page has data: {page}"))
        .iter()
        .map(|c| c["name"].as_str().expect("name").to_string())
        .collect()
}

/// `/contacts?…` with the pairs URL-encoded.
fn list_path(pairs: &[(&str, &str)]) -> String {
    let query = url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(pairs)
        .finish();
    format!("/contacts?{query}")
}

/// Creates a contact through the API; returns its JSON.
async fn create(t: &Team, token: &str, body: Value) -> Value {
    ok(
        t.app.api(Method::POST, "/contacts", token).json(&body),
        StatusCode::CREATED,
    )
    .await
}

async fn create_id(t: &Team, token: &str, body: Value) -> i32 {
    create(t, token, body).await["id"].as_i64().expect("id") as i32
}

// ------------------------------------------------------------ the statuses

#[actix_web::test]
async fn statuses_lists_the_seven_statuses_by_id() {
    let t = team().await;
    let body = ok(t.app.api(Method::GET, "/statuses", &t.agent_token), StatusCode::OK).await;
    let list = body.as_array().expect("a list");
    assert_eq!(list.len(), 7, "{body:#}");
    for (entry, status) in list.iter().zip(LeadStatus::ALL) {
        let mut keys: Vec<&str> = entry.as_object().expect("object").keys().map(String::as_str).collect();
        keys.sort_unstable();
        assert_eq!(keys, ["description", "id", "name"]);
        assert_eq!(entry["id"], status.id());
        assert_eq!(entry["name"], status.name());
        assert_eq!(entry["description"], status.description());
    }
    let names: Vec<&str> = list.iter().map(|s| s["name"].as_str().unwrap()).collect();
    assert_eq!(
        names,
        ["New", "Reach", "Qualified", "Unqualified", "Negotiating", "Won", "Lost"]
    );
}

// ---------------------------------------------------------------- create

#[actix_web::test]
async fn post_creates_a_contact_with_the_exact_json_shape() {
    let t = team().await;
    let before = Utc::now();
    let c = create(
        &t,
        &t.lead_token,
        json!({
            "name": "  Aisyah Rahman ",
            "email": "Aisyah@Example.COM",
            "phone": "012-345 6789",
            "identifier": "shop-0017",
            "company": "Kedai Aisyah",
            "city": "Shah Alam",
            "country": "my",
            "status": "reach",
        }),
    )
    .await;
    let after = Utc::now();
    assert_matches_stored(&t.app, &c);
    let id = c["id"].as_i64().unwrap();
    let created_at = utc_time(&c["created_at"], "created_at");
    assert!(created_at >= before - chrono::Duration::seconds(1) && created_at <= after + chrono::Duration::seconds(1));
    assert_eq!(
        c,
        json!({
            "id": id,
            "name": "Aisyah Rahman",
            "email": "aisyah@example.com",
            "phone": "+60123456789",
            "identifier": "shop-0017",
            "company": "Kedai Aisyah",
            "city": "Shah Alam",
            "country": "MY",
            "status_id": 2,
            "status": "Reach",
            "owner_id": null,
            "labels": [],
            "opted_out": false,
            "custom_attributes": {},
            "created_at": c["created_at"],
            "updated_at": c["updated_at"],
            "last_activity_at": null,
            "lead_score": null,
        })
    );

    // GET answers the same contact.
    let shown = ok(
        t.app.api(Method::GET, &format!("/contacts/{id}"), &t.agent_token),
        StatusCode::OK,
    )
    .await;
    assert_eq!(shown, c);

    // Its first status is recorded, from nothing, as set through the API.
    let history = ok(
        t.app
            .api(Method::GET, &format!("/contacts/{id}/status_history"), &t.agent_token),
        StatusCode::OK,
    )
    .await;
    assert_eq!(history.as_array().map(Vec::len), Some(1), "{history:#}");
    assert_eq!(history[0]["from_id"], Value::Null);
    assert_eq!(history[0]["to_id"], 2);
    assert_eq!(history[0]["source"], "api");
    assert_eq!(history[0]["user_id"], t.lead.id);
}

#[actix_web::test]
async fn a_contact_with_only_a_name_has_null_optional_attributes() {
    let t = team().await;
    let c = create(&t, &t.admin_token, json!({"name": "Budi"})).await;
    assert_matches_stored(&t.app, &c);
    for key in [
        "email",
        "phone",
        "identifier",
        "company",
        "city",
        "country",
        "owner_id",
        "last_activity_at",
    ] {
        assert_eq!(c[key], Value::Null, "{key} of {c:#}");
    }
    assert_eq!((c["status_id"].clone(), c["status"].clone()), (json!(1), json!("New")));
    assert_eq!(c["labels"], json!([]));
    assert_eq!(c["custom_attributes"], json!({}));
    assert_eq!(c["opted_out"], false);

    // Blank strings are "none" as well; opted_out and status_id are taken.
    let c = create(
        &t,
        &t.admin_token,
        json!({"name": "Chong", "email": "", "company": "  ", "status_id": 6, "opted_out": true}),
    )
    .await;
    assert_matches_stored(&t.app, &c);
    assert_eq!(c["email"], Value::Null);
    assert_eq!(c["company"], Value::Null);
    assert_eq!((c["status_id"].clone(), c["status"].clone()), (json!(6), json!("Won")));
    assert_eq!(c["opted_out"], true);
}

#[actix_web::test]
async fn phones_are_stored_in_e164_with_malaysia_as_the_default_country() {
    let t = team().await;
    for (i, (given, e164)) in [
        ("012-345 6789", "+60123456789"),
        ("+60 19-876 5432", "+60198765432"),
        ("60171234567", "+60171234567"),
        ("+65 8123 4567", "+6581234567"),
    ]
    .into_iter()
    .enumerate()
    {
        let (status, c) = send(
            t.app
                .api(Method::POST, "/contacts", &t.admin_token)
                .json(&json!({"name": format!("Phone {i}"), "phone": given})),
        )
        .await;
        assert_eq!(status, StatusCode::CREATED, "{given}: {c:#}");
        assert_eq!(c["phone"], e164, "{given}");
        assert_matches_stored(&t.app, &c);
    }
}

// ----------------------------------------------------------------- owners

#[actix_web::test]
async fn agents_own_what_they_create_and_leads_create_unassigned() {
    let t = team().await;
    let by_agent = create(&t, &t.agent_token, json!({"name": "Agent's"})).await;
    assert_eq!(by_agent["owner_id"], t.agent.id);
    let by_lead = create(&t, &t.lead_token, json!({"name": "Lead's"})).await;
    assert_eq!(by_lead["owner_id"], Value::Null);
    let by_admin = create(&t, &t.admin_token, json!({"name": "Admin's"})).await;
    assert_eq!(by_admin["owner_id"], Value::Null);
    let explicit_none = create(&t, &t.agent_token, json!({"name": "Nobody's", "owner_id": null})).await;
    assert_eq!(explicit_none["owner_id"], Value::Null);
    let given = create(&t, &t.lead_token, json!({"name": "Given", "owner_id": t.agent.id})).await;
    assert_eq!(given["owner_id"], t.agent.id);
    for c in [&by_agent, &by_lead, &by_admin, &explicit_none, &given] {
        assert_matches_stored(&t.app, c);
    }
}

// ------------------------------------------------------------------ list

#[actix_web::test]
async fn list_answers_a_page_of_contacts() {
    let t = team().await;
    let a = create_id(&t, &t.admin_token, json!({"name": "Aisyah"})).await;
    let b = create_id(&t, &t.admin_token, json!({"name": "Budi", "email": "budi@example.com"})).await;
    let c = create_id(&t, &t.admin_token, json!({"name": "Chong"})).await;
    let page = ok(t.app.api(Method::GET, "/contacts", &t.agent_token), StatusCode::OK).await;
    let mut keys: Vec<&str> = page.as_object().expect("object").keys().map(String::as_str).collect();
    keys.sort_unstable();
    assert_eq!(keys, ["data", "next_cursor"]);
    assert_eq!(page["next_cursor"], Value::Null);
    // Default sort: activity, newest first, never-active last (by ID, descending).
    assert_eq!(ids_of(&page), vec![c, b, a]);
    for contact in page["data"].as_array().unwrap() {
        assert_matches_stored(&t.app, contact);
    }
    // An empty result is still a page.
    let empty = ok(
        t.app
            .api(Method::GET, &list_path(&[("q", "nobody-here")]), &t.agent_token),
        StatusCode::OK,
    )
    .await;
    assert_eq!(empty, json!({"data": [], "next_cursor": null}));
}

#[actix_web::test]
async fn exact_lookups_search_and_filters() {
    let t = team().await;
    let a = create_id(
        &t,
        &t.lead_token,
        json!({"name": "Aisyah Rahman", "email": "aisyah@example.com", "phone": "+60123456789",
               "identifier": "shop-0017", "status_id": 2, "owner_id": t.agent.id}),
    )
    .await;
    let b = create_id(
        &t,
        &t.lead_token,
        json!({"name": "Budi Santoso", "email": "budi@kedai.my", "phone": "0198765432",
               "identifier": "shop-0018", "status_id": 3}),
    )
    .await;
    let c = create_id(
        &t,
        &t.lead_token,
        json!({"name": "Chong Wei", "email": "chong@example.com", "identifier": "crm-77",
               "status_id": 3, "owner_id": t.lead.id}),
    )
    .await;
    let d = create_id(&t, &t.lead_token, json!({"name": "Aisyah binti Ali", "status_id": 6})).await;

    let agent_id = t.agent.id.to_string();
    // (query, who asks, the contacts expected)
    type Case<'a> = (Vec<(&'a str, &'a str)>, &'a str, Vec<i32>);
    let cases: Vec<Case> = vec![
        // Exact email, in any case.
        (vec![("email", "aisyah@example.com")], "agent", vec![a]),
        (vec![("email", "AISYAH@Example.COM")], "agent", vec![a]),
        (vec![("email", "aisyah@example.co")], "agent", vec![]),
        // Exact phone, in any format.
        (vec![("phone", "+60123456789")], "agent", vec![a]),
        (vec![("phone", "012-345 6789")], "agent", vec![a]),
        (vec![("phone", "60123456789")], "agent", vec![a]),
        (vec![("phone", "+60 19 876 5432")], "agent", vec![b]),
        // Exact identifier: no substring.
        (vec![("identifier", "shop-0017")], "agent", vec![a]),
        (vec![("identifier", "shop-001")], "agent", vec![]),
        // Substring search over name, email, identifier and phone.
        (vec![("q", "aisyah")], "agent", vec![d, a]),
        (vec![("q", "AISYAH")], "agent", vec![d, a]),
        (vec![("q", "rahman")], "agent", vec![a]),
        (vec![("q", "kedai")], "agent", vec![b]),
        (vec![("q", "example.com")], "agent", vec![a, c]),
        (vec![("q", "crm-7")], "agent", vec![c]),
        (vec![("q", "8765432")], "agent", vec![b]),
        // Short searches (one or two characters) and LIKE's wildcards.
        (vec![("q", "ai")], "agent", vec![a, b, d]),
        (vec![("q", "%")], "agent", vec![]),
        (vec![("q", "_")], "agent", vec![]),
        // Status filter, repeatable.
        (vec![("status_id", "3")], "agent", vec![b, c]),
        (vec![("status_id", "3"), ("status_id", "6")], "agent", vec![d, b, c]),
        (vec![("status_id", "2")], "agent", vec![a]),
        (vec![("status_id", "7")], "agent", vec![]),
        // Owner: an ID, me, none.
        (vec![("owner_id", "me")], "agent", vec![a]),
        (vec![("owner_id", "me")], "lead", vec![c]),
        (vec![("owner_id", "me")], "admin", vec![]),
        (vec![("owner_id", "none")], "agent", vec![d, b]),
        (vec![("owner_id", &agent_id)], "lead", vec![a]),
        // Combined.
        (vec![("q", "aisyah"), ("status_id", "6")], "agent", vec![d]),
        (vec![("q", "example"), ("owner_id", "me")], "lead", vec![c]),
        // Labels: nobody has one yet, so a label filter matches nothing.
        (vec![("label", "vip")], "agent", vec![]),
    ];
    for (pairs, who, want) in cases {
        let token = match who {
            "agent" => &t.agent_token,
            "lead" => &t.lead_token,
            _ => &t.admin_token,
        };
        let page = ok(t.app.api(Method::GET, &list_path(&pairs), token), StatusCode::OK).await;
        // As sets: the order of names depends on the database's collation.
        let mut got = ids_of(&page);
        got.sort_unstable();
        let mut want = want.clone();
        want.sort_unstable();
        assert_eq!(got, want, "{pairs:?} as {who}: {page:#}");
        assert_eq!(page["next_cursor"], Value::Null, "{pairs:?}");
        for contact in page["data"].as_array().unwrap() {
            assert_contact_shape(contact);
        }
    }
}

#[actix_web::test]
async fn list_sorts_and_limits() {
    let t = team().await;
    // Capitalised, different first letters: the same order in any collation.
    let names = ["Chong", "Aisyah", "Budi", "Devi", "Ehsan"];
    let mut ids = Vec::new();
    for (i, name) in names.iter().enumerate() {
        ids.push(create_id(&t, &t.admin_token, json!({"name": name, "status_id": 7 - i as i64})).await);
    }
    let get = |pairs: Vec<(&'static str, &'static str)>| {
        let path = list_path(&pairs);
        let rb = t.app.api(Method::GET, &path, &t.agent_token);
        async move { ok(rb, StatusCode::OK).await }
    };
    // created, ascending: creation order.
    let page = get(vec![("sort", "created"), ("order", "asc")]).await;
    assert_eq!(ids_of(&page), ids);
    let page = get(vec![("sort", "created"), ("order", "desc")]).await;
    assert_eq!(ids_of(&page), ids.iter().rev().copied().collect::<Vec<_>>());
    // status, ascending: in pipeline order (Qualified, Negotiating, Won),
    // then the exits (Unqualified, Lost).
    let page = get(vec![("sort", "status"), ("order", "asc")]).await;
    let statuses: Vec<i64> = page["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["status_id"].as_i64().unwrap())
        .collect();
    assert_eq!(statuses, [3, 5, 6, 4, 7]);
    // name: every name in order, both ways.
    let page = get(vec![("sort", "name"), ("order", "asc")]).await;
    let mut sorted = names_of(&page);
    let mut expected = sorted.clone();
    expected.sort();
    assert_eq!(sorted, expected);
    let page = get(vec![("sort", "name"), ("order", "desc")]).await;
    sorted = names_of(&page);
    expected.reverse();
    assert_eq!(sorted, expected);
    // limit: a short page with a cursor to the rest.
    let page = get(vec![("sort", "created"), ("order", "asc"), ("limit", "2")]).await;
    assert_eq!(ids_of(&page), ids[..2]);
    let cursor = page["next_cursor"].as_str().expect("a next cursor").to_string();
    let path = list_path(&[
        ("sort", "created"),
        ("order", "asc"),
        ("limit", "2"),
        ("cursor", &cursor),
    ]);
    let page = ok(t.app.api(Method::GET, &path, &t.agent_token), StatusCode::OK).await;
    assert_eq!(ids_of(&page), ids[2..4]);
    // limit=200 and limit=1 are the bounds, both allowed.
    let page = get(vec![("limit", "200")]).await;
    assert_eq!(ids_of(&page).len(), 5);
    assert_eq!(page["next_cursor"], Value::Null);
    let page = get(vec![("limit", "1")]).await;
    assert_eq!(ids_of(&page).len(), 1);
    assert!(page["next_cursor"].is_string());
}

/// New contacts arriving while a client pages: one through the API, one
/// through the service, and one through the service that has just been
/// active (as a contact writing in would be).
async fn contacts_arrive(t: &Team, tag: &str) {
    create(t, &t.agent_token, json!({"name": format!("Fresh {tag} api")})).await;
    let ids = add_contacts(
        &t.app,
        &t.admin,
        &[
            named(&format!("Fresh {tag} quiet")),
            named(&format!("Fresh {tag} active")),
        ],
    );
    t.app.with_db(|c| {
        diesel::update(contacts::table.find(ids[1]))
            .set(contacts::last_activity_at.eq(Some(Utc::now().naive_utc())))
            .execute(c)
            .expect("activity set")
    });
}

/// Pages through everything with `pairs` and `limit`, with new contacts
/// arriving after page 2 and page 4; returns the IDs of each page.
async fn walk(t: &Team, pairs: &[(&str, &str)], limit: usize) -> Vec<Vec<i32>> {
    let limit_text = limit.to_string();
    let mut pages = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let mut query: Vec<(&str, &str)> = pairs.to_vec();
        query.push(("limit", &limit_text));
        if let Some(c) = &cursor {
            query.push(("cursor", c));
        }
        let page = ok(
            t.app.api(Method::GET, &list_path(&query), &t.agent_token),
            StatusCode::OK,
        )
        .await;
        let ids = ids_of(&page);
        assert!(ids.len() <= limit, "a page holds at most limit: {}", ids.len());
        pages.push(ids);
        assert!(pages.len() <= 20, "the cursors never end ({pairs:?})");
        match &page["next_cursor"] {
            Value::Null => break,
            Value::String(next) => {
                assert_eq!(pages.last().unwrap().len(), limit, "only the last page is short");
                cursor = Some(next.clone());
            }
            other => panic!("next_cursor is a string or null: {other}"),
        }
        if pages.len() == 2 || pages.len() == 4 {
            contacts_arrive(t, &format!("{pairs:?} after page {}", pages.len())).await;
        }
    }
    pages
}

#[actix_web::test]
async fn paging_250_contacts_returns_each_once_while_contacts_are_created() {
    let t = team().await;
    let inputs: Vec<ContactInput> = (0..250)
        .map(|i| ContactInput {
            // Names and statuses repeat, so sorts must break ties by ID.
            status: ((i % 7) + 1).to_string(),
            ..named(&format!("Contact {:02}", i % 40))
        })
        .collect();
    let originals = add_contacts(&t.app, &t.admin, &inputs);
    assert_eq!(originals.len(), 250);
    // 150 of them have activity, in groups of 3 at the same moment; the
    // other 100 never had any.
    let base = Utc::now().naive_utc() - chrono::Duration::days(10);
    t.app.with_db(|c| {
        for (i, id) in originals.iter().enumerate().filter(|(i, _)| i % 5 != 0 && i % 5 != 2) {
            let at = base + chrono::Duration::minutes((i / 5) as i64);
            diesel::update(contacts::table.find(*id))
                .set(contacts::last_activity_at.eq(Some(at)))
                .execute(c)
                .expect("activity set");
        }
    });
    let active: BTreeSet<i32> = t.app.with_db(|c| {
        contacts::table
            .filter(contacts::last_activity_at.is_not_null())
            .select(contacts::id)
            .load::<i32>(c)
            .expect("active")
            .into_iter()
            .collect()
    });
    assert_eq!(active.len(), 150);

    let orders: [&[(&str, &str)]; 5] = [
        &[],
        &[("sort", "activity"), ("order", "asc")],
        &[("sort", "name"), ("order", "asc")],
        &[("sort", "created"), ("order", "desc")],
        &[("sort", "status"), ("order", "desc")],
    ];
    for pairs in orders {
        let pages = walk(&t, pairs, 40).await;
        let seen: Vec<i32> = pages.concat();
        let mut counts: HashMap<i32, usize> = HashMap::new();
        for id in &seen {
            *counts.entry(*id).or_default() += 1;
        }
        let repeated: Vec<_> = counts.iter().filter(|(_, n)| **n > 1).collect();
        assert!(repeated.is_empty(), "{pairs:?}: IDs returned twice: {repeated:?}");
        let missing: Vec<_> = originals.iter().filter(|id| !counts.contains_key(id)).collect();
        assert!(missing.is_empty(), "{pairs:?}: never returned: {missing:?}");
        assert!(pages.len() >= 7, "{pairs:?}: 250+ contacts take 7+ pages of 40");

        // The originals come in the order asked for.
        let all: Vec<Contact> = t
            .app
            .with_db(|c| contacts::table.select(Contact::as_select()).load(c).expect("contacts"));
        let by_id: HashMap<i32, &Contact> = all.iter().map(|c| (c.id, c)).collect();
        let original_seen: Vec<&Contact> = seen
            .iter()
            .filter(|id| originals.contains(id))
            .map(|id| by_id[id])
            .collect();
        let sort = pairs.iter().find(|(k, _)| *k == "sort").map_or("activity", |p| p.1);
        let asc = pairs.contains(&("order", "asc"));
        for pair in original_seen.windows(2) {
            let (x, y) = (pair[0], pair[1]);
            let in_order = match sort {
                "name" => (&x.name, x.id) < (&y.name, y.id),
                "created" => (x.created_at, x.id) < (y.created_at, y.id),
                "status" => (x.status().pipeline_rank(), x.id) < (y.status().pipeline_rank(), y.id),
                _ => match (x.last_activity_at, y.last_activity_at) {
                    (Some(a), Some(b)) => (a, x.id) < (b, y.id),
                    // Never-active contacts come last in either order.
                    (Some(_), None) => asc,
                    (None, Some(_)) => !asc,
                    (None, None) => x.id < y.id,
                },
            };
            assert_eq!(in_order, asc, "{pairs:?}: {} then {} is out of order", x.id, y.id);
        }
    }
}

// ---------------------------------------------------------------- PATCH

#[actix_web::test]
async fn patch_null_clears_a_field_and_missing_fields_stay() {
    let t = team().await;
    let c = create(
        &t,
        &t.agent_token,
        json!({"name": "Aisyah", "email": "aisyah@example.com", "phone": "0123456789",
               "company": "Kedai", "city": "Shah Alam", "country": "MY", "identifier": "x-1"}),
    )
    .await;
    let id = c["id"].as_i64().unwrap();
    let patched = ok(
        t.app
            .api(Method::PATCH, &format!("/contacts/{id}"), &t.agent_token)
            .json(&json!({"email": null, "company": null, "city": "Ipoh"})),
        StatusCode::OK,
    )
    .await;
    assert_matches_stored(&t.app, &patched);
    assert_eq!(patched["email"], Value::Null);
    assert_eq!(patched["company"], Value::Null);
    assert_eq!(patched["city"], "Ipoh");
    for key in [
        "name",
        "phone",
        "country",
        "identifier",
        "status_id",
        "status",
        "owner_id",
        "created_at",
    ] {
        assert_eq!(patched[key], c[key], "{key} stays as it was");
    }
    assert!(utc_time(&patched["updated_at"], "updated_at") >= utc_time(&c["updated_at"], "updated_at"));

    // An empty PATCH changes nothing but is fine.
    let same = ok(
        t.app
            .api(Method::PATCH, &format!("/contacts/{id}"), &t.agent_token)
            .json(&json!({})),
        StatusCode::OK,
    )
    .await;
    for key in CONTACT_KEYS.iter().filter(|k| **k != "updated_at") {
        assert_eq!(same[*key], patched[*key], "{key}");
    }

    // Changing the status through PATCH is recorded as an API change.
    let moved = ok(
        t.app
            .api(Method::PATCH, &format!("/contacts/{id}"), &t.agent_token)
            .json(&json!({"status_id": 3, "email": "AISYAH.R@Example.com"})),
        StatusCode::OK,
    )
    .await;
    assert_eq!(
        (moved["status_id"].clone(), moved["status"].clone()),
        (json!(3), json!("Qualified"))
    );
    assert_eq!(moved["email"], "aisyah.r@example.com");
    assert_matches_stored(&t.app, &moved);
    let history = t.app.with_db(|c| service::history(c, id as i32)).unwrap();
    assert_eq!(history.len(), 2);
    assert_eq!(
        (
            history[0].from_id,
            history[0].to_id,
            history[0].source.as_str(),
            history[0].user_id
        ),
        (Some(1), 3, "api", Some(t.agent.id))
    );
    // By name as well.
    let moved = ok(
        t.app
            .api(Method::PATCH, &format!("/contacts/{id}"), &t.agent_token)
            .json(&json!({"status": "won"})),
        StatusCode::OK,
    )
    .await;
    assert_eq!(moved["status_id"], 6);
}

#[actix_web::test]
async fn patch_refuses_a_null_name_and_writes_nothing() {
    let t = team().await;
    let id = create_id(&t, &t.admin_token, json!({"name": "Aisyah", "email": "a@example.com"})).await;
    let before = snapshot(&t.app);
    for body in [
        json!({"name": null}),
        json!({"name": ""}),
        json!({"name": null, "email": null}),
    ] {
        invalid(
            t.app
                .api(Method::PATCH, &format!("/contacts/{id}"), &t.admin_token)
                .json(&body),
            "name",
        )
        .await;
        assert_eq!(snapshot(&t.app), before, "{body}");
    }
}

#[actix_web::test]
async fn agents_may_not_reassign_through_patch_but_leads_may() {
    let t = team().await;
    let id = create_id(&t, &t.agent_token, json!({"name": "Agent's own"})).await;
    let before = snapshot(&t.app);
    for owner in [json!(t.lead.id), json!(null)] {
        refused(
            t.app
                .api(Method::PATCH, &format!("/contacts/{id}"), &t.agent_token)
                .json(&json!({"owner_id": owner, "city": "Ipoh"})),
            StatusCode::FORBIDDEN,
            "forbidden",
        )
        .await;
        assert_eq!(snapshot(&t.app), before, "owner {owner}");
    }
    // Naming the current owner is no reassignment; other fields are fine.
    let c = ok(
        t.app
            .api(Method::PATCH, &format!("/contacts/{id}"), &t.agent_token)
            .json(&json!({"owner_id": t.agent.id, "city": "Ipoh"})),
        StatusCode::OK,
    )
    .await;
    assert_eq!(
        (c["owner_id"].clone(), c["city"].clone()),
        (json!(t.agent.id), json!("Ipoh"))
    );

    let c = ok(
        t.app
            .api(Method::PATCH, &format!("/contacts/{id}"), &t.lead_token)
            .json(&json!({"owner_id": t.lead.id})),
        StatusCode::OK,
    )
    .await;
    assert_eq!(c["owner_id"], t.lead.id);
    assert_matches_stored(&t.app, &c);
    let c = ok(
        t.app
            .api(Method::PATCH, &format!("/contacts/{id}"), &t.admin_token)
            .json(&json!({"owner_id": null})),
        StatusCode::OK,
    )
    .await;
    assert_eq!(c["owner_id"], Value::Null);
    assert_matches_stored(&t.app, &c);
}

// ---------------------------------------------------------------- DELETE

#[actix_web::test]
async fn leads_and_admins_delete_agents_may_not() {
    let t = team().await;
    let a = create_id(&t, &t.agent_token, json!({"name": "Aisyah"})).await;
    let b = create_id(&t, &t.agent_token, json!({"name": "Budi"})).await;
    let before = snapshot(&t.app);
    refused(
        t.app.api(Method::DELETE, &format!("/contacts/{a}"), &t.agent_token),
        StatusCode::FORBIDDEN,
        "forbidden",
    )
    .await;
    assert_eq!(snapshot(&t.app), before);

    let (status, body) = send(t.app.api(Method::DELETE, &format!("/contacts/{a}"), &t.lead_token)).await;
    assert_eq!((status, body), (StatusCode::NO_CONTENT, Value::Null));
    assert!(stored(&t.app, a).is_none());
    assert_eq!(history_len(&t.app, a), 1, "its history waits in the trash with it");
    refused(
        t.app.api(Method::GET, &format!("/contacts/{a}"), &t.lead_token),
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;

    let (status, _) = send(t.app.api(Method::DELETE, &format!("/contacts/{b}"), &t.admin_token)).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert_eq!(t.app.contact_count(), 0);
}

// ---------------------------------------------------------------- status

#[actix_web::test]
async fn a_chatbot_status_change_shows_in_the_page_and_the_api_history() {
    let t = team().await;
    let c = create(&t, &t.lead_token, json!({"name": "Aisyah Rahman"})).await;
    let id = c["id"].as_i64().unwrap() as i32;

    let moved = ok(
        t.app
            .api(Method::POST, &format!("/contacts/{id}/status"), &t.agent_token)
            .json(&json!({"status_id": 3, "source": "chatbot"})),
        StatusCode::OK,
    )
    .await;
    assert_matches_stored(&t.app, &moved);
    assert_eq!(
        (moved["status_id"].clone(), moved["status"].clone()),
        (json!(3), json!("Qualified"))
    );
    assert!(utc_time(&moved["updated_at"], "updated_at") >= utc_time(&c["updated_at"], "updated_at"));

    // By name, and without a source: `api`.
    let moved = ok(
        t.app
            .api(Method::POST, &format!("/contacts/{id}/status"), &t.lead_token)
            .json(&json!({"status": "won"})),
        StatusCode::OK,
    )
    .await;
    assert_eq!(
        (moved["status_id"].clone(), moved["status"].clone()),
        (json!(6), json!("Won"))
    );

    // The same status again adds no entry and changes nothing.
    let before = snapshot(&t.app);
    for body in [
        json!({"status": "Won", "source": "automation"}),
        json!({"status_id": 6}),
    ] {
        let again = ok(
            t.app
                .api(Method::POST, &format!("/contacts/{id}/status"), &t.agent_token)
                .json(&body),
            StatusCode::OK,
        )
        .await;
        assert_eq!(again, moved, "{body}");
        assert_eq!(snapshot(&t.app), before, "{body}");
    }

    // An automation, by alias.
    ok(
        t.app
            .api(Method::POST, &format!("/contacts/{id}/status"), &t.admin_token)
            .json(&json!({"status": "Disqualified", "source": "automation"})),
        StatusCode::OK,
    )
    .await;

    let history = ok(
        t.app
            .api(Method::GET, &format!("/contacts/{id}/status_history"), &t.agent_token),
        StatusCode::OK,
    )
    .await;
    let entries = history.as_array().expect("a list");
    assert_eq!(entries.len(), 4, "{history:#}");
    for e in entries {
        let mut keys: Vec<&str> = e.as_object().unwrap().keys().map(String::as_str).collect();
        keys.sort_unstable();
        assert_eq!(keys, ["at", "from_id", "source", "to_id", "user_id"]);
    }
    let summary: Vec<Value> = entries
        .iter()
        .map(|e| json!([e["from_id"], e["to_id"], e["source"], e["user_id"]]))
        .collect();
    assert_eq!(
        summary,
        vec![
            json!([6, 4, "automation", t.admin.id]),
            json!([3, 6, "api", t.lead.id]),
            json!([1, 3, "chatbot", t.agent.id]),
            json!([null, 1, "api", t.lead.id]),
        ],
        "newest first"
    );
    let times: Vec<DateTime<Utc>> = entries.iter().map(|e| utc_time(&e["at"], "at")).collect();
    assert!(times.windows(2).all(|w| w[0] >= w[1]), "newest first: {times:?}");

    // The details page shows the chatbot's change with its source.
    let browser = t.app.login_as("lead@example.com").await;
    let (status, html) = browser.page(&format!("/contacts/{id}")).await;
    assert_eq!(status, StatusCode::OK);
    let doc = Html::parse_document(&html);
    let li = Selector::parse("ol.history li").unwrap();
    let source = Selector::parse(".source").unwrap();
    let lines: Vec<(String, String)> = doc
        .select(&li)
        .map(|el| {
            let text = el
                .text()
                .collect::<String>()
                .split_whitespace()
                .collect::<Vec<_>>()
                .join(" ");
            let src = el
                .select(&source)
                .map(|s| s.text().collect::<String>())
                .collect::<String>();
            (text, src.trim().to_string())
        })
        .collect();
    assert_eq!(lines.len(), 4, "{lines:?}");
    let sources: Vec<&str> = lines.iter().map(|(_, s)| s.as_str()).collect();
    assert_eq!(sources, ["automation", "api", "chatbot", "api"], "{lines:?}");
    let chatbot = &lines[2].0;
    assert!(
        chatbot.starts_with("New → Qualified by Agnes Agent · chatbot"),
        "{chatbot:?}"
    );
}

// ---------------------------------------------------------------- tokens

#[actix_web::test]
async fn a_revoked_token_is_refused_at_once() {
    let t = team().await;
    let spare = t.app.token_for("agent@example.com");
    ok(t.app.api(Method::GET, "/statuses", &t.agent_token), StatusCode::OK).await;
    ok(t.app.api(Method::GET, "/contacts", &t.agent_token), StatusCode::OK).await;
    // The first token made for the agent is `agent_token` (newest is listed first).
    let tokens = t.app.with_db(|c| tokens::list_for_user(c, t.agent.id)).unwrap();
    assert_eq!(tokens.len(), 2);
    let first = tokens.iter().map(|tk| tk.id).min().unwrap();
    t.app.with_db(|c| tokens::revoke(c, &t.agent, first)).expect("revoked");
    let before = snapshot(&t.app);
    for (method, path) in [(Method::GET, "/statuses"), (Method::GET, "/contacts")] {
        refused(
            t.app.api(method, path, &t.agent_token),
            StatusCode::UNAUTHORIZED,
            "unauthorized",
        )
        .await;
    }
    refused(
        t.app
            .api(Method::POST, "/contacts", &t.agent_token)
            .json(&json!({"name": "After revoke"})),
        StatusCode::UNAUTHORIZED,
        "unauthorized",
    )
    .await;
    assert_eq!(snapshot(&t.app), before);
    // The user's other token still works.
    ok(t.app.api(Method::GET, "/statuses", &spare), StatusCode::OK).await;
}

#[actix_web::test]
async fn a_disabled_users_token_is_refused() {
    let t = team().await;
    let id = create_id(&t, &t.lead_token, json!({"name": "Aisyah"})).await;
    ok(t.app.api(Method::GET, "/contacts", &t.lead_token), StatusCode::OK).await;
    t.app.with_db(|c| {
        diesel::update(users::table.find(t.lead.id))
            .set(users::disabled_at.eq(Some(Utc::now().naive_utc())))
            .execute(c)
            .expect("disabled")
    });
    let before = snapshot(&t.app);
    refused(
        t.app.api(Method::GET, "/contacts", &t.lead_token),
        StatusCode::UNAUTHORIZED,
        "unauthorized",
    )
    .await;
    refused(
        t.app.api(Method::DELETE, &format!("/contacts/{id}"), &t.lead_token),
        StatusCode::UNAUTHORIZED,
        "unauthorized",
    )
    .await;
    refused(
        t.app
            .api(Method::POST, &format!("/contacts/{id}/status"), &t.lead_token)
            .json(&json!({"status_id": 3})),
        StatusCode::UNAUTHORIZED,
        "unauthorized",
    )
    .await;
    assert_eq!(snapshot(&t.app), before);
    // Others are not affected.
    ok(t.app.api(Method::GET, "/contacts", &t.agent_token), StatusCode::OK).await;
}

#[actix_web::test]
async fn a_token_records_when_it_was_last_used() {
    let t = team().await;
    let token = token_row(&t.app, t.agent.id);
    assert_eq!(last_used_at(&t.app, token.id), None, "not used yet");
    let before = Utc::now().naive_utc() - chrono::Duration::seconds(2);
    ok(t.app.api(Method::GET, "/statuses", &t.agent_token), StatusCode::OK).await;
    let after = Utc::now().naive_utc() + chrono::Duration::seconds(2);
    let used = last_used_at(&t.app, token.id).expect("last_used_at is set");
    assert!(used >= before && used <= after, "{used} between {before} and {after}");
    // Other tokens are not marked.
    let lead_token = token_row(&t.app, t.lead.id);
    assert_eq!(last_used_at(&t.app, lead_token.id), None);
    // A refused token marks nothing.
    refused(
        t.app.api(Method::GET, "/statuses", "lb_not-a-real-token"),
        StatusCode::UNAUTHORIZED,
        "unauthorized",
    )
    .await;
    assert_eq!(last_used_at(&t.app, lead_token.id), None);
    assert_eq!(last_used_at(&t.app, token.id), Some(used));
}

// ---------------------------------------------------------------- 401

/// Every route but the public OpenAPI description, with a usable body.
fn protected_routes(id: i32) -> Vec<(Method, String, Option<Value>)> {
    let mut routes = Vec::new();
    for (method, path) in leadbook::web::api::ROUTES {
        if *path == "/openapi.json" {
            continue;
        }
        let method = Method::from_bytes(method.to_uppercase().as_bytes()).expect("method");
        let path = path.replace("{id}", &id.to_string());
        let body = match (method.as_str(), path.ends_with("/status")) {
            ("POST", true) => Some(json!({"status_id": 3, "source": "chatbot"})),
            ("POST", false) => Some(json!({"name": "Intruder"})),
            ("PATCH", _) => Some(json!({"name": "Intruder"})),
            _ => None,
        };
        routes.push((method, path, body));
    }
    routes
}

#[actix_web::test]
async fn every_endpoint_refuses_a_missing_or_bad_token_with_401() {
    let t = team().await;
    let id = create_id(&t, &t.admin_token, json!({"name": "Aisyah"})).await;
    let before = snapshot(&t.app);
    let routes = protected_routes(id);
    assert!(routes.len() >= 8, "{routes:?}");
    let headers = [
        None,
        Some("Bearer garbage".to_string()),
        Some("Bearer lb_0123456789abcdef0123456789abcdef01234567".to_string()),
        Some("Bearer ".to_string()),
        Some("Bearer".to_string()),
        Some(format!(
            "Basic {}",
            "YWRtaW5AZXhhbXBsZS5jb206Y29ycmVjdCBob3JzZSBiYXR0ZXJ5"
        )),
        // A real token in the wrong scheme.
        Some(format!("Token {}", t.admin_token)),
    ];
    for (method, path, body) in routes {
        for header in &headers {
            let mut rb = match header {
                None => anonymous(&t.app, method.clone(), &path),
                Some(h) => with_authorization(&t.app, method.clone(), &path, h),
            };
            if let Some(body) = &body {
                rb = rb.json(body);
            }
            let error = refused(rb, StatusCode::UNAUTHORIZED, "unauthorized").await;
            assert!(error.get("fields").is_none(), "{error}");
            assert_eq!(snapshot(&t.app), before, "{method} {path} with {header:?}");
        }
    }
    // 401 comes before looking at the body.
    refused(
        raw_json(anonymous(&t.app, Method::POST, "/contacts"), "{not json"),
        StatusCode::UNAUTHORIZED,
        "unauthorized",
    )
    .await;
    refused(
        anonymous(&t.app, Method::POST, "/contacts").json(&json!({"name": ""})),
        StatusCode::UNAUTHORIZED,
        "unauthorized",
    )
    .await;
    assert_eq!(snapshot(&t.app), before);
}

// ---------------------------------------------------------------- 404

#[actix_web::test]
async fn unknown_contacts_and_paths_are_json_404s() {
    let t = team().await;
    let id = create_id(&t, &t.admin_token, json!({"name": "Aisyah"})).await;
    let before = snapshot(&t.app);
    let missing = id + 1000;
    let tok = &t.lead_token;
    let cases: Vec<(Method, String, Option<Value>)> = vec![
        (Method::GET, format!("/contacts/{missing}"), None),
        (
            Method::PATCH,
            format!("/contacts/{missing}"),
            Some(json!({"name": "X"})),
        ),
        (Method::DELETE, format!("/contacts/{missing}"), None),
        (
            Method::POST,
            format!("/contacts/{missing}/status"),
            Some(json!({"status_id": 3})),
        ),
        (Method::GET, format!("/contacts/{missing}/status_history"), None),
        (Method::GET, "/contacts/abc".into(), None),
        (Method::PATCH, "/contacts/abc".into(), Some(json!({"name": "X"}))),
        (Method::DELETE, "/contacts/abc".into(), None),
        (
            Method::POST,
            "/contacts/abc/status".into(),
            Some(json!({"status_id": 3})),
        ),
        (Method::GET, "/contacts/abc/status_history".into(), None),
        (Method::GET, "/contacts/99999999999".into(), None),
        (Method::GET, "/contacts/-1".into(), None),
        (Method::GET, "/nope".into(), None),
        (Method::GET, "/contacts/1/nope".into(), None),
        (Method::POST, "/widgets".into(), Some(json!({"name": "X"}))),
        (Method::GET, "".into(), None),
    ];
    for (method, path, body) in cases {
        let mut rb = t.app.api(method.clone(), &path, tok);
        if let Some(body) = &body {
            rb = rb.json(body);
        }
        refused(rb, StatusCode::NOT_FOUND, "not_found").await;
        assert_eq!(snapshot(&t.app), before, "{method} {path}");
    }
    // A method the route does not have is a JSON error too, never actix's text.
    for (method, path) in [
        (Method::PUT, format!("/contacts/{id}")),
        (Method::DELETE, "/contacts".to_string()),
        (Method::POST, "/statuses".to_string()),
    ] {
        let (status, body) = send(t.app.api(method.clone(), &path, tok).json(&json!({"name": "X"}))).await;
        assert!(
            status == StatusCode::NOT_FOUND || status == StatusCode::METHOD_NOT_ALLOWED,
            "{method} {path}: {status}"
        );
        error_shape(status, &body);
        assert_eq!(snapshot(&t.app), before, "{method} {path}");
    }
}

// ---------------------------------------------------------------- 409

#[actix_web::test]
async fn duplicates_are_409_with_the_existing_id_on_post_and_patch() {
    let t = team().await;
    let first = create_id(
        &t,
        &t.agent_token,
        json!({"name": "Aisyah", "email": "aisyah@example.com", "phone": "+60123456789", "identifier": "shop-0017"}),
    )
    .await;
    let other = create_id(&t, &t.agent_token, json!({"name": "Budi", "email": "budi@example.com"})).await;
    let before = snapshot(&t.app);
    let clashes = [
        ("email", json!("AISYAH@Example.com")),
        ("phone", json!("012-345 6789")),
        ("phone", json!("+60 12 345 6789")),
        ("phone", json!("60123456789")),
        ("identifier", json!("shop-0017")),
    ];
    for (field, value) in &clashes {
        let mut body = json!({"name": "Someone"});
        body[*field] = value.clone();
        let error = refused(
            t.app.api(Method::POST, "/contacts", &t.agent_token).json(&body),
            StatusCode::CONFLICT,
            "duplicate",
        )
        .await;
        assert_eq!(error["existing_id"], first, "POST {body}: {error:#}");
        if let Some(fields) = error.get("fields") {
            assert!(fields.get(*field).is_some(), "fields name {field}: {error:#}");
        }
        assert_eq!(snapshot(&t.app), before, "POST {body}");

        let mut patch = json!({});
        patch[*field] = value.clone();
        let error = refused(
            t.app
                .api(Method::PATCH, &format!("/contacts/{other}"), &t.lead_token)
                .json(&patch),
            StatusCode::CONFLICT,
            "duplicate",
        )
        .await;
        assert_eq!(error["existing_id"], first, "PATCH {patch}: {error:#}");
        assert_eq!(snapshot(&t.app), before, "PATCH {patch}");
    }
    // A contact keeping its own email, phone and identifier is no duplicate.
    let same = ok(
        t.app
            .api(Method::PATCH, &format!("/contacts/{first}"), &t.agent_token)
            .json(&json!({"email": "Aisyah@EXAMPLE.com", "phone": "0123456789", "identifier": "shop-0017"})),
        StatusCode::OK,
    )
    .await;
    assert_eq!(same["email"], "aisyah@example.com");
}

// ---------------------------------------------------------------- 413

#[actix_web::test]
async fn bodies_over_256_kib_are_413() {
    let t = team().await;
    let id = create_id(&t, &t.admin_token, json!({"name": "Aisyah"})).await;
    let before = snapshot(&t.app);
    let big = "x".repeat(300 * 1024);
    let cases = [
        (
            Method::POST,
            "/contacts".to_string(),
            json!({"name": "Big", "company": big}),
        ),
        (Method::PATCH, format!("/contacts/{id}"), json!({"company": big})),
        (
            Method::POST,
            format!("/contacts/{id}/status"),
            json!({"status_id": 3, "padding": big}),
        ),
    ];
    for (method, path, body) in cases {
        refused(
            t.app.api(method.clone(), &path, &t.admin_token).json(&body),
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload_too_large",
        )
        .await;
        assert_eq!(snapshot(&t.app), before, "{method} {path}");
    }
    // Just under the limit is read (here: padded with white space).
    let body = format!("{{\"name\": \"Nearly big\"{}}}", " ".repeat(250 * 1024));
    let c = ok(
        raw_json(t.app.api(Method::POST, "/contacts", &t.admin_token), body),
        StatusCode::CREATED,
    )
    .await;
    assert_eq!(c["name"], "Nearly big");
}

// ---------------------------------------------------------------- 400

#[actix_web::test]
async fn a_malformed_json_body_is_400_with_the_json_error_shape() {
    let t = team().await;
    let id = create_id(&t, &t.admin_token, json!({"name": "Aisyah"})).await;
    let before = snapshot(&t.app);
    for body in [
        "{\"name\": \"x\"",
        "not json",
        "{'name': 'x'}",
        "",
        "{\"name\": \"x\"} trailing",
    ] {
        for (method, path) in [
            (Method::POST, "/contacts".to_string()),
            (Method::PATCH, format!("/contacts/{id}")),
            (Method::POST, format!("/contacts/{id}/status")),
        ] {
            refused(
                raw_json(t.app.api(method.clone(), &path, &t.admin_token), body),
                StatusCode::BAD_REQUEST,
                "bad_request",
            )
            .await;
            assert_eq!(snapshot(&t.app), before, "{method} {path} {body:?}");
        }
    }
}

// ---------------------------------------------------------------- 422

#[actix_web::test]
async fn invalid_contacts_are_422_naming_each_field() {
    let t = team().await;
    let id = create_id(&t, &t.admin_token, json!({"name": "Aisyah"})).await;
    let before = snapshot(&t.app);
    let long = "a".repeat(256);
    let post_cases: Vec<(Value, &str)> = vec![
        (json!({}), "name"),
        (json!({"name": ""}), "name"),
        (json!({"name": "   "}), "name"),
        (json!({"name": long}), "name"),
        (json!({"name": 5}), "name"),
        (json!({"name": ["Aisyah"]}), "name"),
        (json!({"name": "X", "email": "not-an-email"}), "email"),
        (json!({"name": "X", "email": "chong@@example"}), "email"),
        (json!({"name": "X", "email": 5}), "email"),
        (json!({"name": "X", "phone": "123"}), "phone"),
        (json!({"name": "X", "phone": "call me"}), "phone"),
        (json!({"name": "X", "company": long}), "company"),
        (json!({"name": "X", "city": long}), "city"),
        (json!({"name": "X", "identifier": long}), "identifier"),
        (json!({"name": "X", "country": "Malaysia"}), "country"),
        (json!({"name": "X", "status": "Hot"}), "status"),
        (json!({"name": "X", "status": ""}), "status"),
        (json!({"name": "X", "status": null}), "status"),
        (json!({"name": "X", "status_id": "3"}), "status_id"),
        (json!({"name": "X", "status_id": 3.5}), "status_id"),
        (json!({"name": "X", "status_id": null}), "status_id"),
        (json!({"name": "X", "owner_id": "me"}), "owner_id"),
        (json!({"name": "X", "opted_out": "yes"}), "opted_out"),
    ];
    let mut complaints = Vec::new();
    for (body, field) in &post_cases {
        complaints.extend(
            invalid_naming(
                t.app.api(Method::POST, "/contacts", &t.admin_token).json(body),
                field,
                &format!("POST {body}"),
            )
            .await,
        );
        assert_eq!(snapshot(&t.app), before, "POST {body}");
    }
    // All problems at once.
    let error = invalid(
        t.app
            .api(Method::POST, "/contacts", &t.admin_token)
            .json(&json!({"name": "", "email": "bad", "phone": "1"})),
        "name",
    )
    .await;
    for field in ["email", "phone"] {
        assert!(error["fields"].get(field).is_some(), "{field}: {error:#}");
    }
    // A body that is JSON but not an object.
    refused(
        t.app
            .api(Method::POST, "/contacts", &t.admin_token)
            .json(&json!(["Aisyah"])),
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
    )
    .await;

    let patch_cases: Vec<(Value, &str)> = vec![
        (json!({"name": null}), "name"),
        (json!({"name": 5}), "name"),
        (json!({"name": long}), "name"),
        (json!({"email": "bad"}), "email"),
        (json!({"phone": "123"}), "phone"),
        (json!({"status": "Hot"}), "status"),
        (json!({"status_id": null}), "status_id"),
        (json!({"opted_out": 1}), "opted_out"),
    ];
    for (body, field) in &patch_cases {
        complaints.extend(
            invalid_naming(
                t.app
                    .api(Method::PATCH, &format!("/contacts/{id}"), &t.admin_token)
                    .json(body),
                field,
                &format!("PATCH {body}"),
            )
            .await,
        );
        assert_eq!(snapshot(&t.app), before, "PATCH {body}");
    }
    assert_eq!(snapshot(&t.app), before);
    no_complaints(complaints);

    // An unknown status ID or owner is refused too (which field the error
    // names is checked in `validation_errors_name_the_json_attribute_sent`).
    for (method, path, body) in [
        (
            Method::POST,
            "/contacts".to_string(),
            json!({"name": "X", "status_id": 9}),
        ),
        (
            Method::POST,
            "/contacts".to_string(),
            json!({"name": "X", "owner_id": 99999}),
        ),
        (Method::PATCH, format!("/contacts/{id}"), json!({"status_id": 8})),
        (Method::PATCH, format!("/contacts/{id}"), json!({"owner_id": 99999})),
    ] {
        refused(
            t.app.api(method.clone(), &path, &t.admin_token).json(&body),
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
        )
        .await;
        assert_eq!(snapshot(&t.app), before, "{method} {path} {body}");
    }
}

/// In `fields`, an error is named as the JSON attribute the client sent
/// (`status_id`, `owner_id`), not as the HTML form's field (`status`, `owner`).
#[actix_web::test]
async fn validation_errors_name_the_json_attribute_sent() {
    let t = team().await;
    let id = create_id(&t, &t.admin_token, json!({"name": "Aisyah"})).await;
    let before = snapshot(&t.app);
    let cases: Vec<(Method, String, Value, &str)> = vec![
        (
            Method::POST,
            "/contacts".into(),
            json!({"name": "X", "status_id": 9}),
            "status_id",
        ),
        (
            Method::POST,
            "/contacts".into(),
            json!({"name": "X", "status_id": 0}),
            "status_id",
        ),
        (
            Method::POST,
            "/contacts".into(),
            json!({"name": "X", "owner_id": 99999}),
            "owner_id",
        ),
        (
            Method::PATCH,
            format!("/contacts/{id}"),
            json!({"status_id": 9}),
            "status_id",
        ),
        (
            Method::PATCH,
            format!("/contacts/{id}"),
            json!({"owner_id": 99999}),
            "owner_id",
        ),
        // For comparison, the same checks where the names already agree.
        (
            Method::POST,
            "/contacts".into(),
            json!({"name": "X", "status": "Hot"}),
            "status",
        ),
        (
            Method::POST,
            format!("/contacts/{id}/status"),
            json!({"status_id": 9}),
            "status_id",
        ),
    ];
    let mut complaints = Vec::new();
    for (method, path, body, field) in cases {
        let what = format!("{method} {path} {body}");
        complaints.extend(invalid_naming(t.app.api(method, &path, &t.admin_token).json(&body), field, &what).await);
        assert_eq!(snapshot(&t.app), before, "{what}");
    }
    no_complaints(complaints);
}

#[actix_web::test]
async fn invalid_status_changes_are_422() {
    let t = team().await;
    let id = create_id(&t, &t.admin_token, json!({"name": "Aisyah"})).await;
    let before = snapshot(&t.app);
    let cases: Vec<(Value, &str)> = vec![
        (json!({}), "status_id"),
        (json!({"status_id": 9}), "status_id"),
        (json!({"status_id": 0}), "status_id"),
        (json!({"status_id": -3}), "status_id"),
        (json!({"status_id": "3"}), "status_id"),
        (json!({"status": "Hot"}), "status"),
        (json!({"status": 3}), "status"),
        (json!({"status_id": 3, "source": "sms"}), "source"),
        (json!({"status_id": 3, "source": "manual"}), "source"),
        (json!({"status_id": 3, "source": "import"}), "source"),
        (json!({"status_id": 3, "source": 1}), "source"),
    ];
    for (body, field) in &cases {
        invalid(
            t.app
                .api(Method::POST, &format!("/contacts/{id}/status"), &t.admin_token)
                .json(body),
            field,
        )
        .await;
        assert_eq!(snapshot(&t.app), before, "{body}");
    }
}

#[actix_web::test]
async fn bad_list_parameters_are_422() {
    let t = team().await;
    create_id(&t, &t.admin_token, json!({"name": "Aisyah"})).await;
    let long_q = "q".repeat(201);
    let cases: [(&str, &str); 17] = [
        ("limit", "abc"),
        ("limit", "201"),
        ("limit", "0"),
        ("limit", "-1"),
        ("limit", "1.5"),
        ("status_id", "9"),
        ("status_id", "0"),
        ("status_id", "abc"),
        ("sort", "password"),
        ("sort", "password_hash"),
        ("order", "sideways"),
        ("owner_id", "boss"),
        ("cursor", "!!!"),
        ("cursor", "bm90LWEtY3Vyc29y"),
        ("email", "not-an-email"),
        ("phone", "123"),
        ("q", &long_q),
    ];
    for (key, value) in cases {
        invalid(t.app.api(Method::GET, &list_path(&[(key, value)]), &t.agent_token), key).await;
    }
    // A cursor of one sort order is refused in another.
    create_id(&t, &t.admin_token, json!({"name": "Budi"})).await;
    let page = ok(
        t.app.api(
            Method::GET,
            &list_path(&[("sort", "name"), ("limit", "1")]),
            &t.agent_token,
        ),
        StatusCode::OK,
    )
    .await;
    let cursor = page["next_cursor"].as_str().expect("cursor").to_string();
    invalid(
        t.app.api(
            Method::GET,
            &list_path(&[("sort", "created"), ("limit", "1"), ("cursor", &cursor)]),
            &t.agent_token,
        ),
        "cursor",
    )
    .await;
}

// ---------------------------------------------------------------- OpenAPI

#[actix_web::test]
async fn openapi_describes_every_route() {
    let t = team().await;
    let doc = ok(anonymous(&t.app, Method::GET, "/openapi.json"), StatusCode::OK).await;
    assert!(
        doc["openapi"].as_str().is_some_and(|v| v.starts_with("3.")),
        "openapi version: {}",
        doc["openapi"]
    );
    assert!(doc["info"]["title"].is_string());
    let paths = doc["paths"].as_object().expect("paths");

    let routes = leadbook::web::api::ROUTES;
    for expected in [
        ("get", "/openapi.json"),
        ("get", "/statuses"),
        ("get", "/contacts"),
        ("post", "/contacts"),
        ("get", "/contacts/{id}"),
        ("patch", "/contacts/{id}"),
        ("delete", "/contacts/{id}"),
        ("post", "/contacts/{id}/status"),
        ("get", "/contacts/{id}/status_history"),
    ] {
        assert!(routes.contains(&expected), "ROUTES lists {expected:?}");
    }
    for (method, path) in routes {
        let full = format!("/api/v1{path}");
        let item = paths
            .get(&full)
            .unwrap_or_else(|| panic!("{full} is missing from the OpenAPI paths"));
        assert!(
            item.get(*method).is_some_and(Value::is_object),
            "{method} {full} is missing from the OpenAPI description"
        );
    }
    // And it describes nothing that is not served.
    for (path, item) in paths {
        for method in item.as_object().unwrap().keys() {
            if !["get", "post", "put", "patch", "delete", "head", "options", "trace"].contains(&method.as_str()) {
                continue;
            }
            let relative = path.strip_prefix("/api/v1").unwrap_or(path);
            assert!(
                routes.contains(&(method.as_str(), relative)),
                "the description has {method} {path}, which is not a route"
            );
        }
    }
    // Served the same with a token.
    let with_token = ok(t.app.api(Method::GET, "/openapi.json", &t.agent_token), StatusCode::OK).await;
    assert_eq!(with_token, doc);
}
