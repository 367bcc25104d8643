//! Custom attributes, labels and notes (issue 4) through real HTTP, on the
//! backend `TEST_DATABASE_URL` picks: every type's valid and invalid value
//! and its filters, keys refused, escaping, long text, PATCH merging, type
//! changes, deletion, labels filtered alone and together, and who may edit
//! a note.

mod common;
use common::*;

use diesel::prelude::*;
use leadbook::db::schema::{contact_attribute_values, contacts, notes};
use leadbook::service::users::Role;
use reqwest::{Method, StatusCode};
use scraper::{Html, Selector};
use serde_json::{json, Value};

struct Team {
    app: TestApp,
    admin: String,
    lead: String,
    agent: String,
}

/// An app with an admin (signed in on `app`), a lead and an agent, each with a token.
async fn team() -> Team {
    let app = spawn_app().await;
    app.add_user("admin@example.com", "Ada Admin", Role::Admin);
    app.add_user("lead@example.com", "Lee Lead", Role::Lead);
    app.add_user("agent@example.com", "Agnes Agent", Role::Agent);
    let res = app.login("admin@example.com", PASSWORD).await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    Team {
        admin: app.token_for("admin@example.com"),
        lead: app.token_for("lead@example.com"),
        agent: app.token_for("agent@example.com"),
        app,
    }
}

/// Defines a custom attribute through the API as the admin.
async fn define(t: &Team, body: Value) -> Value {
    let (status, json) = send(&t.app, Method::POST, "/custom_attributes", &t.admin, Some(body.clone())).await;
    assert_eq!(status, StatusCode::CREATED, "{body} → {json}");
    json
}

async fn new_contact(t: &Team, body: Value) -> i64 {
    let (status, json) = send(&t.app, Method::POST, "/contacts", &t.admin, Some(body.clone())).await;
    assert_eq!(status, StatusCode::CREATED, "{body} → {json}");
    json["id"].as_i64().expect("id")
}

/// The IDs the API lists for a query string, sorted.
async fn api_ids(t: &Team, query: &str) -> Vec<i64> {
    let (status, json) = send(
        &t.app,
        Method::GET,
        &format!("/contacts?{query}&limit=200"),
        &t.agent,
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{query} → {json}");
    let mut ids: Vec<i64> = json["data"]
        .as_array()
        .expect("data")
        .iter()
        .map(|c| c["id"].as_i64().unwrap())
        .collect();
    ids.sort_unstable();
    ids
}

/// The IDs the list page shows for a query string, sorted.
async fn page_ids(app: &TestApp, query: &str) -> Vec<i64> {
    let (status, html) = app.page(&format!("/contacts?owner=all&{query}")).await;
    assert_eq!(status, StatusCode::OK, "{query}");
    let doc = Html::parse_document(&html);
    let mut ids: Vec<i64> = doc
        .select(&Selector::parse("table.contacts tbody a.name").unwrap())
        .map(|a| {
            a.value()
                .attr("href")
                .unwrap()
                .trim_start_matches("/contacts/")
                .parse()
                .unwrap()
        })
        .collect();
    ids.sort_unstable();
    ids
}

fn value_rows(app: &TestApp) -> i64 {
    app.with_db(|c| contact_attribute_values::table.count().get_result(c).unwrap())
}

fn sorted(mut ids: Vec<i64>) -> Vec<i64> {
    ids.sort_unstable();
    ids
}

fn text_of(html: &str, css: &str) -> Vec<String> {
    Html::parse_document(html)
        .select(&Selector::parse(css).unwrap())
        .map(|e| e.text().collect::<String>().trim().to_string())
        .collect()
}

// ------------------------------------------------------------------ types

/// One type's case: a valid value (and its JSON), an invalid one, and the
/// filters with the contacts (by index into `values`) they must find.
struct Case {
    key: &'static str,
    kind: &'static str,
    options: Vec<&'static str>,
    values: [Value; 3],
    invalid: Value,
    filters: Vec<(String, Vec<usize>)>,
}

fn cases() -> Vec<Case> {
    vec![
        Case {
            key: "branch",
            kind: "text",
            options: vec![],
            values: [
                json!("Shah Alam Central"),
                json!("Petaling Jaya"),
                json!("Shah Alam North"),
            ],
            invalid: json!("two\nlines"),
            filters: vec![
                ("attr.branch=petaling%20jaya".into(), vec![1]),
                ("attr.branch.contains=shah%20alam".into(), vec![0, 2]),
                ("attr.branch.set=1".into(), vec![0, 1, 2]),
            ],
        },
        Case {
            key: "budget",
            kind: "number",
            options: vec![],
            values: [json!(5000), json!(12.5), json!(20000)],
            invalid: json!("lots"),
            filters: vec![
                ("attr.budget=5000".into(), vec![0]),
                ("attr.budget.from=100&attr.budget.to=20000".into(), vec![0, 2]),
                ("attr.budget.to=5000".into(), vec![0, 1]),
            ],
        },
        Case {
            key: "renewal",
            kind: "date",
            options: vec![],
            values: [json!("2026-01-15"), json!("2026-06-30"), json!("2027-01-01")],
            invalid: json!("30/06/2026"),
            filters: vec![
                ("attr.renewal=2026-06-30".into(), vec![1]),
                (
                    "attr.renewal.from=2026-02-01&attr.renewal.to=2026-12-31".into(),
                    vec![1],
                ),
                ("attr.renewal.from=2026-06-30".into(), vec![1, 2]),
            ],
        },
        Case {
            key: "website",
            kind: "link",
            options: vec![],
            values: [
                json!("https://kedai.example.com"),
                json!("http://shop.example.my/about"),
                json!("https://kedai.example.com/blog"),
            ],
            invalid: json!("javascript:alert(1)"),
            filters: vec![
                ("attr.website=https%3A%2F%2Fkedai.example.com".into(), vec![0]),
                ("attr.website.contains=kedai".into(), vec![0, 2]),
            ],
        },
        Case {
            key: "whatsapp.optin",
            kind: "boolean",
            options: vec![],
            values: [json!(true), json!(false), json!(true)],
            invalid: json!("maybe"),
            filters: vec![
                ("attr.whatsapp.optin=true".into(), vec![0, 2]),
                ("attr.whatsapp.optin=false".into(), vec![1]),
            ],
        },
        Case {
            key: "plan",
            kind: "list",
            options: vec!["gold", "silver", "bronze"],
            values: [json!("gold"), json!("silver"), json!("gold")],
            invalid: json!("platinum"),
            filters: vec![
                ("attr.plan=gold".into(), vec![0, 2]),
                ("attr.plan=bronze".into(), vec![]),
            ],
        },
    ]
}

#[actix_web::test]
async fn every_type_takes_valid_values_refuses_invalid_ones_and_filters_exactly() {
    let t = team().await;
    for case in cases() {
        define(
            &t,
            json!({"key": case.key, "display_name": case.key.to_uppercase(), "type": case.kind, "options": case.options}),
        )
        .await;
    }
    // A contact with no custom values at all: no filter but "not set" finds it.
    let bare = new_contact(&t, json!({"name": "No Values"})).await;
    for case in cases() {
        let mut ids = Vec::new();
        for (i, value) in case.values.iter().enumerate() {
            let id = new_contact(
                &t,
                json!({"name": format!("{} {i}", case.key), "custom_attributes": {case.key: value}}),
            )
            .await;
            let (_, json) = send(&t.app, Method::GET, &format!("/contacts/{id}"), &t.agent, None).await;
            assert_eq!(&json["custom_attributes"][case.key], value, "{} stored typed", case.key);
            ids.push(id);
        }

        // Invalid on create: 422 naming the field, no contact written.
        let before = t.app.contact_count();
        let (status, json) = send(
            &t.app,
            Method::POST,
            "/contacts",
            &t.admin,
            Some(json!({"name": "Bad", "custom_attributes": {case.key: case.invalid}})),
        )
        .await;
        assert_eq!(
            status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{} {}: {json}",
            case.key,
            case.invalid
        );
        assert_eq!(json["error"]["code"], "validation_failed");
        assert!(
            json["error"]["fields"][format!("custom.{}", case.key)].is_array(),
            "{json}"
        );
        assert_eq!(t.app.contact_count(), before, "nothing written");

        // Invalid on PATCH: refused, the stored value unchanged.
        let (status, _) = send(
            &t.app,
            Method::PATCH,
            &format!("/contacts/{}", ids[0]),
            &t.agent,
            Some(json!({"custom_attributes": {case.key: case.invalid}, "name": "Renamed"})),
        )
        .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
        let (_, json) = send(&t.app, Method::GET, &format!("/contacts/{}", ids[0]), &t.agent, None).await;
        assert_eq!(json["custom_attributes"][case.key], case.values[0]);
        assert_ne!(json["name"], "Renamed", "a refused PATCH writes nothing");

        // Each filter finds exactly its contacts, in the API and on the page.
        for (query, want) in &case.filters {
            let want = sorted(want.iter().map(|&i| ids[i]).collect());
            assert_eq!(api_ids(&t, query).await, want, "API {query}");
            assert_eq!(page_ids(&t.app, query).await, want, "page {query}");
        }
        let not_set = api_ids(&t, &format!("attr.{}.set=0", case.key)).await;
        assert!(
            not_set.contains(&bare) && !ids.iter().any(|id| not_set.contains(id)),
            "{} not set",
            case.key
        );
    }
    // A filter on a key that does not exist, or a range on a list, is a 422.
    let (status, json) = send(&t.app, Method::GET, "/contacts?attr.nope=1", &t.agent, None).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{json}");
    let (status, _) = send(&t.app, Method::GET, "/contacts?attr.plan.from=gold", &t.agent, None).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    let (status, _) = send(&t.app, Method::GET, "/contacts?attr.budget.from=lots", &t.agent, None).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
}

#[actix_web::test]
async fn the_edit_form_shows_custom_fields_in_order_with_per_field_errors() {
    let t = team().await;
    define(
        &t,
        json!({"key": "budget", "display_name": "Budget", "type": "number", "position": 2}),
    )
    .await;
    define(
        &t,
        json!({"key": "plan", "display_name": "Plan", "type": "list", "options": ["gold", "silver"], "position": 1}),
    )
    .await;
    let id = t.app.contact_id(&[("name", "Siti")]).await;
    let edit = format!("/contacts/{id}/edit");

    let (_, html) = t.app.page(&edit).await;
    let labels = text_of(&html, "form label");
    let plan = labels.iter().position(|l| l == "Plan").expect("Plan field");
    let budget = labels.iter().position(|l| l == "Budget").expect("Budget field");
    assert!(plan < budget, "definition order: {labels:?}");

    let res = t
        .app
        .submit(
            &edit,
            &format!("/contacts/{id}"),
            &[("name", "Siti"), ("custom.plan", "gold"), ("custom.budget", "a lot")],
        )
        .await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let html = res.text().await.unwrap();
    let errors = text_of(&html, ".field.invalid .error");
    assert_eq!(
        errors,
        vec!["Budget must be a number, such as 5000 or 12.5."],
        "{errors:?}"
    );
    assert!(html.contains("value=\"a lot\""), "the typed value is kept");
    assert_eq!(value_rows(&t.app), 0, "nothing written");

    let res = t
        .app
        .submit(
            &edit,
            &format!("/contacts/{id}"),
            &[("name", "Siti"), ("custom.plan", "gold"), ("custom.budget", "7500")],
        )
        .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let (_, html) = t.app.page(&format!("/contacts/{id}")).await;
    let shown = text_of(&html, "dl.custom-attributes dt, dl.custom-attributes dd");
    assert_eq!(shown, vec!["Plan", "gold", "Budget", "7500"]);

    // Blanking a field removes the value.
    let res = t
        .app
        .submit(
            &edit,
            &format!("/contacts/{id}"),
            &[("name", "Siti"), ("custom.plan", ""), ("custom.budget", "7500")],
        )
        .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert_eq!(value_rows(&t.app), 1);
}

// ------------------------------------------------------------------ keys

#[actix_web::test]
async fn reserved_and_duplicate_keys_are_refused() {
    let t = team().await;
    for key in ["email", "Status_ID", "lead_score", "has space", "budget.from", ""] {
        let (status, json) = send(
            &t.app,
            Method::POST,
            "/custom_attributes",
            &t.admin,
            Some(json!({"key": key, "display_name": "X", "type": "text"})),
        )
        .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{key:?} → {json}");
        assert!(json["error"]["fields"]["key"].is_array(), "{json}");
    }
    define(&t, json!({"key": "plan", "display_name": "Plan", "type": "text"})).await;
    for key in ["plan", "PLAN"] {
        let (status, json) = send(
            &t.app,
            Method::POST,
            "/custom_attributes",
            &t.admin,
            Some(json!({"key": key, "display_name": "Plan again", "type": "text"})),
        )
        .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{json}");
        assert_eq!(
            json["error"]["fields"]["key"][0],
            "is already used by another custom attribute"
        );
    }
    // The settings page says it beside the field.
    let res = t
        .app
        .submit(
            "/settings/attributes",
            "/settings/attributes",
            &[("key", "phone"), ("display_name", "Phone 2"), ("type", "text")],
        )
        .await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let html = res.text().await.unwrap();
    assert!(text_of(&html, "#e-key")[0].contains("standard attribute"), "{html}");
    let (_, list) = send(&t.app, Method::GET, "/custom_attributes", &t.agent, None).await;
    assert_eq!(list.as_array().unwrap().len(), 1);

    // Only admins define attributes.
    let (status, _) = send(
        &t.app,
        Method::POST,
        "/custom_attributes",
        &t.lead,
        Some(json!({"key": "x", "display_name": "X", "type": "text"})),
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let agent = t.app.login_as("agent@example.com").await;
    assert_eq!(agent.page("/settings/attributes").await.0, StatusCode::FORBIDDEN);
}

// ------------------------------------------------------------- escaping

#[actix_web::test]
async fn values_are_escaped_and_long_text_is_kept_whole() {
    let t = team().await;
    define(&t, json!({"key": "remarks", "display_name": "Remarks", "type": "text"})).await;
    let hostile = "<script>alert('x')</script><b>bold</b>";
    let id = new_contact(
        &t,
        json!({"name": "Escaped", "custom_attributes": {"remarks": hostile}}),
    )
    .await;
    let (_, html) = t.app.page(&format!("/contacts/{id}")).await;
    assert!(!html.contains("<script>alert"), "raw HTML never reaches the page");
    assert!(html.contains("&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt;") || html.contains("&#60;script&#62;"));
    assert_eq!(text_of(&html, "dl.custom-attributes dd")[0], hostile, "shown as text");

    let long: String = "Panjang ".repeat(1250);
    assert_eq!(long.chars().count(), 10_000);
    let long = long.trim_end().to_string() + "!";
    assert_eq!(long.chars().count(), 10_000);
    let (status, json) = send(
        &t.app,
        Method::PATCH,
        &format!("/contacts/{id}"),
        &t.agent,
        Some(json!({"custom_attributes": {"remarks": long}})),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{json}");
    assert_eq!(json["custom_attributes"]["remarks"], long.as_str(), "stored whole");
    let (_, html) = t.app.page(&format!("/contacts/{id}")).await;
    assert_eq!(text_of(&html, "dl.custom-attributes dd")[0], long, "shown whole");
    // And found by equality, though only a prefix is indexed.
    let query = format!(
        "attr.remarks={}",
        url::form_urlencoded::byte_serialize(long.as_bytes()).collect::<String>()
    );
    assert_eq!(api_ids(&t, &query).await, vec![id]);
    let other = long.replace('!', "?");
    let query = format!(
        "attr.remarks={}",
        url::form_urlencoded::byte_serialize(other.as_bytes()).collect::<String>()
    );
    assert!(
        api_ids(&t, &query).await.is_empty(),
        "a long value differing at its end is another value"
    );
}

// ----------------------------------------------------------- PATCH merge

#[actix_web::test]
async fn patch_merges_custom_attributes_key_by_key() {
    let t = team().await;
    define(
        &t,
        json!({"key": "plan", "display_name": "Plan", "type": "list", "options": ["gold", "silver"]}),
    )
    .await;
    define(&t, json!({"key": "budget", "display_name": "Budget", "type": "number"})).await;
    let id = new_contact(
        &t,
        json!({"name": "Merge", "custom_attributes": {"plan": "gold", "budget": 5000}}),
    )
    .await;
    let path = format!("/contacts/{id}");
    let (_, json) = send(
        &t.app,
        Method::PATCH,
        &path,
        &t.agent,
        Some(json!({"custom_attributes": {"plan": "silver"}})),
    )
    .await;
    assert_eq!(json["custom_attributes"], json!({"plan": "silver", "budget": 5000}));
    let (_, json) = send(
        &t.app,
        Method::PATCH,
        &path,
        &t.agent,
        Some(json!({"custom_attributes": {"budget": null}})),
    )
    .await;
    assert_eq!(json["custom_attributes"], json!({"plan": "silver"}));
    let (_, json) = send(&t.app, Method::PATCH, &path, &t.agent, Some(json!({"city": "Ipoh"}))).await;
    assert_eq!(
        json["custom_attributes"],
        json!({"plan": "silver"}),
        "untouched when not sent"
    );
    let (status, json) = send(
        &t.app,
        Method::PATCH,
        &path,
        &t.agent,
        Some(json!({"custom_attributes": {"nope": 1}})),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(json["error"]["fields"]["custom.nope"].is_array(), "{json}");
    let (status, _) = send(
        &t.app,
        Method::PATCH,
        &path,
        &t.agent,
        Some(json!({"custom_attributes": ["plan"]})),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
}

// --------------------------------------------------- changing definitions

#[actix_web::test]
async fn a_new_type_or_options_convert_values_or_are_refused() {
    let t = team().await;
    define(&t, json!({"key": "size", "display_name": "Size", "type": "text"})).await;
    let a = new_contact(&t, json!({"name": "A", "custom_attributes": {"size": "5"}})).await;
    let b = new_contact(&t, json!({"name": "B", "custom_attributes": {"size": "12.50"}})).await;

    // Every value is a number: converted and counted.
    let (status, json) = send(
        &t.app,
        Method::PATCH,
        "/custom_attributes/size",
        &t.admin,
        Some(json!({"type": "number"})),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{json}");
    assert_eq!(json["type"], "number");
    assert_eq!(json["converted_values"], 2);
    let (_, json) = send(&t.app, Method::GET, &format!("/contacts/{b}"), &t.agent, None).await;
    assert_eq!(json["custom_attributes"]["size"], json!(12.5));
    assert_eq!(api_ids(&t, "attr.size.from=10").await, vec![b]);

    // Back to text, then a value that is no number: the change is refused whole.
    send(
        &t.app,
        Method::PATCH,
        "/custom_attributes/size",
        &t.admin,
        Some(json!({"type": "text"})),
    )
    .await;
    send(
        &t.app,
        Method::PATCH,
        &format!("/contacts/{a}"),
        &t.agent,
        Some(json!({"custom_attributes": {"size": "big"}})),
    )
    .await;
    let (status, json) = send(
        &t.app,
        Method::PATCH,
        "/custom_attributes/size",
        &t.admin,
        Some(json!({"type": "number", "display_name": "Size (cm)"})),
    )
    .await;
    assert_eq!(status, StatusCode::CONFLICT, "{json}");
    let message = json["error"]["message"].as_str().unwrap();
    assert!(
        message.contains("1 contact(s)") && message.contains("\"big\""),
        "{message}"
    );
    let (_, list) = send(&t.app, Method::GET, "/custom_attributes", &t.agent, None).await;
    assert_eq!(list[0]["type"], "text");
    assert_eq!(list[0]["display_name"], "Size", "nothing changed");

    // Removing a list option that contacts hold is refused; others may go.
    define(
        &t,
        json!({"key": "plan", "display_name": "Plan", "type": "list", "options": ["gold", "silver", "bronze"]}),
    )
    .await;
    send(
        &t.app,
        Method::PATCH,
        &format!("/contacts/{a}"),
        &t.agent,
        Some(json!({"custom_attributes": {"plan": "gold"}})),
    )
    .await;
    let (status, _) = send(
        &t.app,
        Method::PATCH,
        "/custom_attributes/plan",
        &t.admin,
        Some(json!({"options": ["silver"]})),
    )
    .await;
    assert_eq!(status, StatusCode::CONFLICT);
    let (status, json) = send(
        &t.app,
        Method::PATCH,
        "/custom_attributes/plan",
        &t.admin,
        Some(json!({"options": ["gold", "silver"]})),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{json}");
    assert_eq!(json["options"], json!(["gold", "silver"]));
    let (status, _) = send(
        &t.app,
        Method::PATCH,
        "/custom_attributes/plan",
        &t.admin,
        Some(json!({"key": "tier"})),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "keys do not change");
}

#[actix_web::test]
async fn deleting_a_definition_says_how_many_contacts_hold_it_and_removes_their_values() {
    let t = team().await;
    define(
        &t,
        json!({"key": "plan", "display_name": "Plan", "type": "list", "options": ["gold"]}),
    )
    .await;
    define(&t, json!({"key": "budget", "display_name": "Budget", "type": "number"})).await;
    for name in ["A", "B"] {
        new_contact(
            &t,
            json!({"name": name, "custom_attributes": {"plan": "gold", "budget": 1}}),
        )
        .await;
    }
    new_contact(&t, json!({"name": "C"})).await;
    let (_, list) = t.app.page("/settings/attributes").await;
    let href = Html::parse_document(&list)
        .select(&Selector::parse("a.danger").unwrap())
        .next()
        .unwrap()
        .value()
        .attr("href")
        .unwrap()
        .to_string();
    let (status, html) = t.app.page(&href).await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("2 contacts hold a value"), "{html}");
    let res = t.app.submit(&href, &href, &[]).await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert_eq!(value_rows(&t.app), 2, "only budget values remain");
    let (_, json) = send(&t.app, Method::GET, "/contacts?limit=200", &t.agent, None).await;
    for c in json["data"].as_array().unwrap() {
        assert!(c["custom_attributes"].get("plan").is_none(), "{c}");
    }
    let (status, _) = send(&t.app, Method::DELETE, "/custom_attributes/budget", &t.admin, None).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert_eq!(value_rows(&t.app), 0);
    let (status, _) = send(&t.app, Method::DELETE, "/custom_attributes/budget", &t.admin, None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

// ------------------------------------------------------------------ labels

#[actix_web::test]
async fn labels_filter_singly_and_in_combination() {
    let t = team().await;
    for (name, color) in [("VIP", "#d4a017"), ("ramadan-promo", "")] {
        let (status, json) = send(
            &t.app,
            Method::POST,
            "/labels",
            &t.admin,
            Some(json!({"name": name, "color": color})),
        )
        .await;
        assert_eq!(status, StatusCode::CREATED, "{json}");
    }
    let (status, json) = send(&t.app, Method::POST, "/labels", &t.admin, Some(json!({"name": "vip"}))).await;
    assert_eq!(
        status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "names are unique, ignoring case: {json}"
    );
    let (status, _) = send(&t.app, Method::POST, "/labels", &t.agent, Some(json!({"name": "mine"}))).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "admins define labels");
    let (status, _) = send(&t.app, Method::POST, "/labels", &t.admin, Some(json!({"name": "a,b"}))).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);

    let a = new_contact(&t, json!({"name": "Only VIP"})).await;
    let b = new_contact(&t, json!({"name": "Both"})).await;
    let c = new_contact(&t, json!({"name": "Only promo"})).await;
    let d = new_contact(&t, json!({"name": "Neither"})).await;
    // Through the API (any role) …
    let (status, json) = send(
        &t.app,
        Method::POST,
        &format!("/contacts/{a}/labels"),
        &t.agent,
        Some(json!({"labels": ["vip"]})),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{json}");
    assert_eq!(json["labels"], json!(["vip"]));
    send(
        &t.app,
        Method::POST,
        &format!("/contacts/{c}/labels"),
        &t.agent,
        Some(json!({"labels": ["ramadan-promo"]})),
    )
    .await;
    let (status, json) = send(
        &t.app,
        Method::POST,
        &format!("/contacts/{d}/labels"),
        &t.agent,
        Some(json!({"labels": ["nope"]})),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{json}");
    // … and through the details page, as an agent.
    let agent = t.app.login_as("agent@example.com").await;
    let res = agent
        .submit(
            &format!("/contacts/{b}"),
            &format!("/contacts/{b}/labels"),
            &[("label", "vip"), ("label", "ramadan-promo")],
        )
        .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);

    assert_eq!(api_ids(&t, "label=vip").await, sorted(vec![a, b]));
    assert_eq!(api_ids(&t, "label=ramadan-promo").await, sorted(vec![b, c]));
    assert_eq!(api_ids(&t, "label=vip&label=ramadan-promo").await, vec![b]);
    assert_eq!(api_ids(&t, "label=unknown").await, Vec::<i64>::new());
    assert_eq!(page_ids(&agent, "label=vip").await, sorted(vec![a, b]));
    assert_eq!(page_ids(&agent, "label=VIP&label=ramadan-promo").await, vec![b]);

    // The list shows them as chips coloured by /labels.css.
    let (_, html) = agent.page("/contacts?owner=all&label=vip").await;
    let chips = text_of(&html, "table.contacts span.label");
    assert_eq!(chips.iter().filter(|c| *c == "vip").count(), 2, "{chips:?}");
    let (_, css) = agent.page("/labels.css").await;
    assert!(css.contains("background:#d4a017"), "{css}");

    // Taking a label off from the page.
    let res = agent
        .submit(
            &format!("/contacts/{b}"),
            &format!("/contacts/{b}/labels"),
            &[("label", "vip")],
        )
        .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert_eq!(api_ids(&t, "label=ramadan-promo").await, vec![c]);
}

// ------------------------------------------------------------------- notes

#[actix_web::test]
async fn notes_belong_to_their_author_and_leads_and_a_call_is_activity() {
    let t = team().await;
    t.app.add_user("agent2@example.com", "Other Agent", Role::Agent);
    let other_token = t.app.token_for("agent2@example.com");
    let id = new_contact(&t, json!({"name": "Noted"})).await;
    let agent = t.app.login_as("agent@example.com").await;
    let other = t.app.login_as("agent2@example.com").await;
    let lead = t.app.login_as("lead@example.com").await;

    let show = format!("/contacts/{id}");
    let res = agent
        .submit(
            &show,
            &format!("/contacts/{id}/notes"),
            &[("kind", "note"), ("body", "Prefers WhatsApp")],
        )
        .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let activity = || {
        t.app.with_db(|c| {
            contacts::table
                .find(id as i32)
                .select(contacts::last_activity_at)
                .first::<Option<chrono::NaiveDateTime>>(c)
                .unwrap()
        })
    };
    assert_eq!(activity(), None, "a note is not contact made");
    let res = agent
        .submit(
            &show,
            &format!("/contacts/{id}/notes"),
            &[("kind", "call"), ("body", "Called: wants the gold plan")],
        )
        .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert!(activity().is_some(), "a logged call moves last_activity_at");

    let (_, html) = agent.page(&show).await;
    let shown = text_of(&html, "li.note .note-body");
    assert_eq!(
        shown,
        vec!["Called: wants the gold plan", "Prefers WhatsApp"],
        "newest first"
    );
    assert_eq!(text_of(&html, "li.note .kind"), vec!["Call", "Note"]);

    let note_id: i32 = t.app.with_db(|c| {
        notes::table
            .filter(notes::kind.eq("call"))
            .select(notes::id)
            .first(c)
            .unwrap()
    });
    // Another agent may neither edit nor delete it, on the page or in the API.
    let res = other
        .submit(
            &show,
            &format!("/notes/{note_id}"),
            &[("kind", "call"), ("body", "hijacked")],
        )
        .await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    let res = other.submit(&show, &format!("/notes/{note_id}/delete"), &[]).await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    assert_eq!(
        other.page(&format!("/notes/{note_id}/edit")).await.0,
        StatusCode::FORBIDDEN
    );
    let (status, _) = send(
        &t.app,
        Method::PATCH,
        &format!("/notes/{note_id}"),
        &other_token,
        Some(json!({"body": "x"})),
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _) = send(&t.app, Method::DELETE, &format!("/notes/{note_id}"), &other_token, None).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (_, html) = other.page(&show).await;
    assert!(
        !html.contains(&format!("/notes/{note_id}/edit")),
        "no edit link for others"
    );

    // A lead may.
    let res = lead
        .submit(
            &format!("/notes/{note_id}/edit"),
            &format!("/notes/{note_id}"),
            &[("kind", "meeting"), ("body", "Met: gold plan")],
        )
        .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    // The author may, through the API too.
    let (status, json) = send(
        &t.app,
        Method::PATCH,
        &format!("/notes/{note_id}"),
        &t.agent,
        Some(json!({"body": "Met: gold plan, signs Friday"})),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{json}");
    assert_eq!(json["kind"], "meeting");
    let (status, json) = send(
        &t.app,
        Method::GET,
        &format!("/contacts/{id}/notes"),
        &other_token,
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(json[0]["body"], "Met: gold plan, signs Friday");
    assert_eq!(json.as_array().unwrap().len(), 2);

    // Bad input: 422 naming the field, nothing written.
    let (status, json) = send(
        &t.app,
        Method::POST,
        &format!("/contacts/{id}/notes"),
        &t.agent,
        Some(json!({"kind": "fax", "body": ""})),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        json["error"]["fields"]["kind"].is_array() && json["error"]["fields"]["body"].is_array(),
        "{json}"
    );
    let (status, json) = send(
        &t.app,
        Method::POST,
        &format!("/contacts/{id}/notes"),
        &t.agent,
        Some(json!({"kind": "call", "body": "<b>hi</b>"})),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{json}");
    let (_, html) = agent.page(&show).await;
    assert!(
        html.contains("&lt;b&gt;hi&lt;/b&gt;") || html.contains("&#60;b&#62;hi"),
        "notes are escaped"
    );

    // The lead deletes one; the agent deletes their own.
    let res = lead.submit(&show, &format!("/notes/{note_id}/delete"), &[]).await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let (status, _) = send(&t.app, Method::DELETE, &format!("/notes/{note_id}"), &t.lead, None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let count: i64 = t.app.with_db(|c| notes::table.count().get_result(c).unwrap());
    assert_eq!(count, 2);
}

// ------------------------------------------------------------ list page

#[actix_web::test]
async fn the_list_adds_filters_from_its_form_and_shows_chosen_columns() {
    let t = team().await;
    define(
        &t,
        json!({"key": "plan", "display_name": "Plan", "type": "list", "options": ["gold", "silver"]}),
    )
    .await;
    define(&t, json!({"key": "budget", "display_name": "Budget", "type": "number"})).await;
    let gold = new_contact(
        &t,
        json!({"name": "Gold", "custom_attributes": {"plan": "gold", "budget": 900}}),
    )
    .await;
    new_contact(&t, json!({"name": "Silver", "custom_attributes": {"plan": "silver"}})).await;

    // The "add a filter" form redirects to the list's own parameters.
    let res = t.app.get("/contacts?owner=all&fattr=plan&fop=is&fval=gold").await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let target = location(&res);
    assert!(target.contains("attr.plan=gold"), "{target}");
    assert_eq!(page_ids(&t.app, "attr.plan=gold").await, vec![gold]);
    let (_, html) = t.app.page(&target).await;
    assert_eq!(text_of(&html, ".filter-chips li a").len(), 1);
    assert!(text_of(&html, ".filter-chips li")[0].starts_with("Plan is gold"));

    let (_, html) = t
        .app
        .page("/contacts?owner=all&cols=budget&cols=plan&sort=name&order=asc")
        .await;
    let heads = text_of(&html, "table.contacts th");
    assert_eq!(&heads[heads.len() - 2..], ["Budget", "Plan"]);
    let cells = text_of(&html, "table.contacts td.custom-col");
    assert_eq!(cells, vec!["900", "gold", "", "silver"]);
    let (status, _) = t.app.page("/contacts?owner=all&attr.plan.set=maybe").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
}

// ---------------------------------------------------- broad filters (SQLite plan)

/// Every ID the API lists for a query, following `next_cursor`.
async fn all_api_ids(t: &Team, query: &str) -> Vec<i64> {
    let mut ids = Vec::new();
    let mut cursor = String::new();
    loop {
        let (status, json) = send(
            &t.app,
            Method::GET,
            &format!("/contacts?{query}&limit=200{cursor}"),
            &t.agent,
            None,
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{json}");
        ids.extend(
            json["data"]
                .as_array()
                .unwrap()
                .iter()
                .map(|c| c["id"].as_i64().unwrap()),
        );
        match json["next_cursor"].as_str() {
            Some(next) => cursor = format!("&cursor={next}"),
            None => break,
        }
    }
    let before = ids.len();
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(ids.len(), before, "no contact listed twice");
    ids
}

/// Filters matching thousands of contacts take another query plan on SQLite
/// (a sorted walk testing each row) than narrow ones; both must find the
/// same contacts the data says, page after page, in every sort.
#[actix_web::test]
async fn broad_filters_list_exactly_their_contacts_across_pages() {
    use leadbook::db::schema::{contact_labels, labels};
    use leadbook::service::seed;
    let t = team().await;
    t.app.with_db(|c| {
        let attrs = seed::seed_attributes(c).unwrap();
        seed::seed_contacts(c, 5_000, Some(&attrs), |_| {}).unwrap();
    });
    send(&t.app, Method::POST, "/labels", &t.admin, Some(json!({"name": "even"}))).await;
    let (every_other, silver, big_budget): (Vec<i32>, Vec<i32>, Vec<i32>) = t.app.with_db(|c| {
        let label: i32 = labels::table.select(labels::id).first(c).unwrap();
        let ids: Vec<i32> = contacts::table.select(contacts::id).load(c).unwrap();
        let even: Vec<i32> = ids.into_iter().filter(|id| id % 2 == 0).collect();
        for id in &even {
            diesel::insert_into(contact_labels::table)
                .values((contact_labels::contact_id.eq(id), contact_labels::label_id.eq(label)))
                .execute(c)
                .unwrap();
        }
        let mut holders = |key: &str| {
            use leadbook::db::schema::custom_attributes as defs;
            contact_attribute_values::table
                .inner_join(defs::table)
                .filter(defs::key.eq(key.to_string()))
                .select((
                    contact_attribute_values::contact_id,
                    contact_attribute_values::value_text,
                    contact_attribute_values::value_number,
                ))
                .load::<(i32, String, Option<f64>)>(c)
                .unwrap()
        };
        let silver = holders("plan")
            .into_iter()
            .filter(|(_, v, _)| v == "silver")
            .map(|(id, _, _)| id)
            .collect();
        let big = holders("budget")
            .into_iter()
            .filter(|(_, _, n)| n.unwrap() >= 10_000.0)
            .map(|(id, _, _)| id)
            .collect();
        (even, silver, big)
    });
    let wide = |ids: Vec<i32>| sorted(ids.into_iter().map(i64::from).collect());
    let (every_other, silver, big_budget) = (wide(every_other), wide(silver), wide(big_budget));
    assert!(every_other.len() > 2_000 && silver.len() > 2_000 && big_budget.len() > 2_000);
    for sort in [
        "sort=activity&order=desc",
        "sort=status&order=asc",
        "sort=name&order=desc",
    ] {
        assert_eq!(
            all_api_ids(&t, &format!("attr.plan=silver&{sort}")).await,
            silver,
            "{sort}"
        );
        assert_eq!(
            all_api_ids(&t, &format!("label=even&{sort}")).await,
            every_other,
            "{sort}"
        );
    }
    let both: Vec<i64> = silver.iter().filter(|id| every_other.contains(id)).copied().collect();
    assert_eq!(all_api_ids(&t, "attr.plan=silver&label=even").await, both);
    assert_eq!(all_api_ids(&t, "attr.budget.from=10000").await, big_budget);
    assert_eq!(all_api_ids(&t, "attr.plan.contains=ILV").await, silver);
    let without_budget = all_api_ids(&t, "attr.budget.set=0").await;
    assert!(without_budget.len() > 1_000 && without_budget.iter().all(|id| id % 10 >= 7));
    let gold_and_even = all_api_ids(&t, "attr.plan=gold&label=even").await;
    assert!(!gold_and_even.is_empty() && gold_and_even.iter().all(|id| id % 10 == 0));
}
