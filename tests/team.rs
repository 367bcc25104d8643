//! Team work (issue 9) through real HTTP on the backend `TEST_DATABASE_URL`
//! picks: every role against every action of docs/decisions.md "Roles" (pages and API),
//! bulk actions and the trash, the last-admin guard, disabling a user, an
//! even spread, a bulk status change of 10,000 contacts, the workload grid
//! and the activity log.

mod common;
use common::*;

use diesel::prelude::*;
use leadbook::db::schema::{
    activity_log, api_tokens, contact_labels, contact_trash, contacts, conversations, custom_attributes, inboxes,
    labels, merges, messages, notes, owner_status_counts, status_history, users, webhooks,
};
use leadbook::service::users::Role;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

/// An app with an admin (signed in as the app's own client), a lead and
/// two agents, each with a token and a signed-in client of their own.
struct Team {
    app: TestApp,
    lead: TestApp,
    agent: TestApp,
    admin_token: String,
    lead_token: String,
    agent_token: String,
    ids: [i32; 4],
}

async fn team() -> Team {
    let app = spawn_app().await;
    app.setup_admin().await;
    let lead = app.add_user("lead@example.com", "Lee Lead", Role::Lead).id;
    let agent = app.add_user("agent@example.com", "Agnes Agent", Role::Agent).id;
    let other = app.add_user("omar@example.com", "Omar Agent", Role::Agent).id;
    let admin = app.with_db(|c| {
        leadbook::service::users::find_by_email(c, "admin@example.com")
            .unwrap()
            .id
    });
    Team {
        lead: app.login_as("lead@example.com").await,
        agent: app.login_as("agent@example.com").await,
        admin_token: app.token_for("admin@example.com"),
        lead_token: app.token_for("lead@example.com"),
        agent_token: app.token_for("agent@example.com"),
        ids: [admin, lead, agent, other],
        app,
    }
}

impl Team {
    fn client(&self, role: Role) -> &TestApp {
        match role {
            Role::Admin => &self.app,
            Role::Lead => &self.lead,
            Role::Agent => &self.agent,
        }
    }
    fn token(&self, role: Role) -> &str {
        match role {
            Role::Admin => &self.admin_token,
            Role::Lead => &self.lead_token,
            Role::Agent => &self.agent_token,
        }
    }
}

async fn api(t: &Team, method: Method, path: &str, token: &str, body: Option<Value>) -> (StatusCode, Value) {
    send(&t.app, method, path, token, body).await
}

async fn new_contact(t: &Team, body: Value) -> i32 {
    let (status, json) = api(t, Method::POST, "/contacts", &t.admin_token, Some(body)).await;
    assert_eq!(status, StatusCode::CREATED, "{json}");
    json["id"].as_i64().unwrap() as i32
}

/// A sandbox e-mail inbox (no 24-hour reply window) and the label `vip`.
async fn email_inbox(t: &Team) -> i64 {
    let (_, inbox) = api(
        t,
        Method::POST,
        "/inboxes",
        &t.admin_token,
        Some(json!({"name": "Mail", "channel": "email", "delivery": {"kind": "sandbox"}})),
    )
    .await;
    api(t, Method::POST, "/labels", &t.admin_token, Some(json!({"name": "vip"}))).await;
    inbox["id"].as_i64().unwrap()
}

/// A contact who wrote to `inbox` (so a reply can go to them there),
/// Qualified already: a reply to a New contact would move it to Reach by
/// itself, in the background, while the next step is being checked.
async fn writing_contact(t: &Team, inbox: i64, address: &str) -> i32 {
    let (status, json) = api(
        t,
        Method::POST,
        &format!("/inboxes/{inbox}/messages"),
        &t.admin_token,
        Some(json!({"source_id": address, "name": address, "body": "Hello"})),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{json}");
    let id = json["contact_id"].as_i64().unwrap() as i32;
    let (status, _) = api(
        t,
        Method::POST,
        &format!("/contacts/{id}/status"),
        &t.admin_token,
        Some(json!({"status_id": 3})),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    id
}

/// Everything a refused request must leave as it was, as one value.
fn fingerprint(app: &TestApp) -> Vec<i64> {
    app.with_db(|c| {
        let live: Vec<(i32, i32, Option<i32>, String)> = contacts::table
            .filter(contacts::deleted_at.is_null())
            .select((contacts::id, contacts::status_id, contacts::owner_id, contacts::name))
            .order(contacts::id)
            .load(c)
            .unwrap();
        let mut print: Vec<i64> = vec![
            live.len() as i64,
            contact_trash::table.count().get_result(c).unwrap(),
            status_history::table.count().get_result(c).unwrap(),
            notes::table.count().get_result(c).unwrap(),
            contact_labels::table.count().get_result(c).unwrap(),
            messages::table.count().get_result(c).unwrap(),
            users::table.count().get_result(c).unwrap(),
            users::table
                .filter(users::disabled_at.is_not_null())
                .count()
                .get_result(c)
                .unwrap(),
            users::table
                .filter(users::role.eq("admin"))
                .count()
                .get_result(c)
                .unwrap(),
            inboxes::table.count().get_result(c).unwrap(),
            custom_attributes::table.count().get_result(c).unwrap(),
            labels::table.count().get_result(c).unwrap(),
            webhooks::table.count().get_result(c).unwrap(),
            api_tokens::table.count().get_result(c).unwrap(),
            merges::table.count().get_result(c).unwrap(),
            merges::table
                .filter(merges::undone_at.is_not_null())
                .count()
                .get_result(c)
                .unwrap(),
            activity_log::table.count().get_result(c).unwrap(),
        ];
        for (id, status, owner, name) in live {
            print.extend([id.into(), status.into(), owner.unwrap_or(0).into(), name.len() as i64]);
        }
        let bodies: Vec<String> = notes::table.select(notes::body).order(notes::id).load(c).unwrap();
        print.extend(bodies.iter().map(|b| b.len() as i64));
        print
    })
}

/// What each page action needs: its path and fields, prepared afresh (on
/// objects of its own) so that one allowed action cannot disturb the next.
struct Step {
    what: &'static str,
    /// The least role allowed.
    least: Role,
    method: Method,
    path: String,
    fields: Vec<(String, String)>,
}

fn step(what: &'static str, least: Role, path: String, fields: &[(&str, &str)]) -> Step {
    Step {
        what,
        least,
        method: Method::POST,
        path,
        fields: fields.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect(),
    }
}

fn get_step(what: &'static str, least: Role, path: &str) -> Step {
    Step {
        what,
        least,
        method: Method::GET,
        path: path.into(),
        fields: Vec::new(),
    }
}

/// The role table of docs/decisions.md "Roles", as page requests, each on fresh objects.
async fn page_steps(t: &Team, inbox: i64) -> Vec<Step> {
    let n = rand::random::<u32>();
    let c = |tag: &str| format!("{tag} {n}");
    let edit = new_contact(t, json!({"name": c("Edit")})).await;
    let status = new_contact(t, json!({"name": c("Status")})).await;
    let noted = new_contact(t, json!({"name": c("Noted")})).await;
    let labelled = new_contact(t, json!({"name": c("Labelled")})).await;
    let messaged = writing_contact(t, inbox, &format!("m{n}@example.com")).await;
    let assigned = new_contact(t, json!({"name": c("Assigned")})).await;
    let bulk = new_contact(t, json!({"name": c("Bulk")})).await;
    let doomed = new_contact(t, json!({"name": c("Doomed")})).await;
    let kept = new_contact(t, json!({"name": c("Kept")})).await;
    let merged = new_contact(t, json!({"name": c("Merged")})).await;
    let undo_a = new_contact(t, json!({"name": c("UndoA")})).await;
    let undo_b = new_contact(t, json!({"name": c("UndoB")})).await;
    let (_, m) = api(
        t,
        Method::POST,
        &format!("/contacts/{undo_a}/merge"),
        &t.admin_token,
        Some(json!({"other_id": undo_b})),
    )
    .await;
    let merge_id = m["merge_id"].as_i64().unwrap();
    let trashed = new_contact(t, json!({"name": c("Trashed")})).await;
    api(t, Method::DELETE, &format!("/contacts/{trashed}"), &t.admin_token, None).await;
    let (_, note) = api(
        t,
        Method::POST,
        &format!("/contacts/{noted}/notes"),
        &t.admin_token,
        Some(json!({"kind": "note", "body": "the admin's own note"})),
    )
    .await;
    let note_id = note["id"].as_i64().unwrap();
    let agent = t.ids[2].to_string();
    vec![
        get_step("view the list", Role::Agent, "/contacts?owner=all"),
        get_step("search", Role::Agent, "/contacts?owner=all&q=Edit"),
        get_step("view details", Role::Agent, &format!("/contacts/{edit}")),
        step(
            "create a contact",
            Role::Agent,
            "/contacts".into(),
            &[("name", &c("Created"))],
        ),
        step(
            "edit a contact",
            Role::Agent,
            format!("/contacts/{edit}"),
            &[("name", &c("Edited")), ("status", "1")],
        ),
        step(
            "set status",
            Role::Agent,
            format!("/contacts/{status}/status"),
            &[("status", "3")],
        ),
        step(
            "add a note",
            Role::Agent,
            format!("/contacts/{noted}/notes"),
            &[("kind", "call"), ("body", "called")],
        ),
        step(
            "set labels",
            Role::Agent,
            format!("/contacts/{labelled}/labels"),
            &[("label", "vip")],
        ),
        step(
            "send a message",
            Role::Agent,
            format!("/contacts/{messaged}/messages"),
            &[("inbox", &inbox.to_string()), ("body", "Hello")],
        ),
        step(
            "create own API token",
            Role::Agent,
            "/profile/tokens".into(),
            &[("name", "bot")],
        ),
        step(
            "assign a contact",
            Role::Lead,
            format!("/contacts/{assigned}/owner"),
            &[("owner", &agent)],
        ),
        step(
            "bulk action",
            Role::Lead,
            "/contacts/bulk".into(),
            &[
                ("action", "status"),
                ("value", "6"),
                ("ids", &bulk.to_string()),
                ("confirm", "1"),
            ],
        ),
        get_step("open the import page", Role::Lead, "/imports/new"),
        get_step("export", Role::Lead, "/contacts/export.csv?owner=all"),
        step(
            "merge",
            Role::Lead,
            format!("/contacts/{kept}/merge"),
            &[("other", &merged.to_string())],
        ),
        step("undo a merge", Role::Lead, format!("/merges/{merge_id}/undo"), &[]),
        step(
            "delete a contact",
            Role::Lead,
            format!("/contacts/{doomed}/delete"),
            &[],
        ),
        step(
            "restore from the trash",
            Role::Lead,
            format!("/trash/{trashed}/restore"),
            &[],
        ),
        get_step("see the trash", Role::Lead, "/trash"),
        step(
            "edit anyone's note",
            Role::Lead,
            format!("/notes/{note_id}"),
            &[("kind", "note"), ("body", "rewritten by someone else")],
        ),
        get_step("see the workload grid", Role::Lead, "/team"),
        step(
            "add a user",
            Role::Admin,
            "/settings/users".into(),
            &[
                ("name", &c("New")),
                ("email", &format!("new{n}@example.com")),
                ("password", PASSWORD),
                ("role", "agent"),
            ],
        ),
        step(
            "change a role",
            Role::Admin,
            format!("/settings/users/{}/role", t.ids[3]),
            &[("role", "lead")],
        ),
        step(
            "connect an inbox",
            Role::Admin,
            "/settings/inboxes".into(),
            &[
                ("name", &c("Inbox")),
                ("channel", "whatsapp"),
                ("delivery_kind", "sandbox"),
            ],
        ),
        step(
            "define a custom attribute",
            Role::Admin,
            "/settings/attributes".into(),
            &[
                ("key", &format!("k{n}")),
                ("display_name", "K"),
                ("type", "text"),
                ("position", "1"),
            ],
        ),
        step(
            "define a label",
            Role::Admin,
            "/settings/labels".into(),
            &[("name", &format!("l{n}")), ("color", "#123456")],
        ),
        step(
            "add an event webhook",
            Role::Admin,
            "/settings/webhooks".into(),
            &[("url", "http://127.0.0.1:9/hook"), ("events", "contact.created")],
        ),
        get_step("read the activity log", Role::Admin, "/settings/activity"),
        get_step("see every API token", Role::Admin, "/settings/tokens"),
    ]
}

fn allowed(role: Role, least: Role) -> bool {
    role >= least
}

#[actix_web::test]
async fn every_role_against_every_action_on_the_pages() {
    let t = team().await;
    let inbox = email_inbox(&t).await;
    // The label the "set labels" step uses.
    api(
        &t,
        Method::POST,
        "/labels",
        &t.admin_token,
        Some(json!({"name": "vip"})),
    )
    .await;
    for role in [Role::Agent, Role::Lead, Role::Admin] {
        let client = t.client(role);
        for s in page_steps(&t, inbox).await {
            let before = fingerprint(&t.app);
            let res = if s.method == Method::GET {
                client.get(&s.path).await
            } else {
                let (_, html) = client.page("/profile").await;
                let token = csrf_of(&html);
                let mut fields: Vec<(&str, &str)> = vec![("csrf_token", token.as_str())];
                fields.extend(s.fields.iter().map(|(k, v)| (k.as_str(), v.as_str())));
                client.post_raw(&s.path, &fields).await
            };
            let status = res.status();
            let body = res.text().await.unwrap_or_default();
            if allowed(role, s.least) {
                assert!(
                    status.is_success() || status == StatusCode::SEE_OTHER,
                    "{role:?} may {}: {status} {}",
                    s.what,
                    &body[..body.len().min(300)]
                );
            } else {
                assert_eq!(status, StatusCode::FORBIDDEN, "{role:?} may not {}", s.what);
                assert_eq!(fingerprint(&t.app), before, "a refused {} changed nothing", s.what);
            }
        }
    }
}

#[actix_web::test]
async fn every_role_against_every_action_of_the_api() {
    let t = team().await;
    let inbox = email_inbox(&t).await;
    api(
        &t,
        Method::POST,
        "/labels",
        &t.admin_token,
        Some(json!({"name": "vip"})),
    )
    .await;
    for role in [Role::Agent, Role::Lead, Role::Admin] {
        let n = rand::random::<u32>();
        let token = t.token(role).to_string();
        let fresh = |tag: &str| json!({"name": format!("{tag} {n}")});
        let a = new_contact(&t, fresh("A")).await;
        let b = new_contact(&t, fresh("B")).await;
        let c = writing_contact(&t, inbox, &format!("c{n}@example.com")).await;
        let d = new_contact(&t, fresh("D")).await;
        let m1 = new_contact(&t, fresh("M1")).await;
        let m2 = new_contact(&t, fresh("M2")).await;
        let (_, merged) = api(
            &t,
            Method::POST,
            &format!("/contacts/{m1}/merge"),
            &t.admin_token,
            Some(json!({"other_id": m2})),
        )
        .await;
        let merge_id = merged["merge_id"].as_i64().unwrap();
        let agent = t.ids[2];
        let calls: Vec<(&str, Role, Method, String, Option<Value>)> = vec![
            ("list", Role::Agent, Method::GET, "/contacts?limit=5".into(), None),
            ("read", Role::Agent, Method::GET, format!("/contacts/{a}"), None),
            (
                "create",
                Role::Agent,
                Method::POST,
                "/contacts".into(),
                Some(fresh("New")),
            ),
            (
                "edit",
                Role::Agent,
                Method::PATCH,
                format!("/contacts/{a}"),
                Some(json!({"city": "Ipoh"})),
            ),
            (
                "set status",
                Role::Agent,
                Method::POST,
                format!("/contacts/{a}/status"),
                Some(json!({"status_id": 3})),
            ),
            (
                "add a note",
                Role::Agent,
                Method::POST,
                format!("/contacts/{a}/notes"),
                Some(json!({"kind": "call", "body": "hi"})),
            ),
            (
                "set labels",
                Role::Agent,
                Method::POST,
                format!("/contacts/{a}/labels"),
                Some(json!({"labels": ["vip"]})),
            ),
            (
                "send a message",
                Role::Agent,
                Method::POST,
                format!("/contacts/{c}/messages"),
                Some(json!({"inbox_id": inbox, "body": "Hello"})),
            ),
            (
                "assign",
                Role::Lead,
                Method::PATCH,
                format!("/contacts/{b}"),
                Some(json!({"owner_id": agent})),
            ),
            ("delete", Role::Lead, Method::DELETE, format!("/contacts/{d}"), None),
            (
                "merge",
                Role::Lead,
                Method::POST,
                format!("/contacts/{a}/merge"),
                Some(json!({"other_id": b})),
            ),
            (
                "undo a merge",
                Role::Lead,
                Method::POST,
                format!("/merges/{merge_id}/undo"),
                None,
            ),
            (
                "connect an inbox",
                Role::Admin,
                Method::POST,
                "/inboxes".into(),
                Some(json!({"name": format!("I{n}"), "channel": "email", "delivery": {"kind": "sandbox"}})),
            ),
            (
                "define a custom attribute",
                Role::Admin,
                Method::POST,
                "/custom_attributes".into(),
                Some(json!({"key": format!("k{n}"), "display_name": "K", "type": "text"})),
            ),
            (
                "define a label",
                Role::Admin,
                Method::POST,
                "/labels".into(),
                Some(json!({"name": format!("l{n}")})),
            ),
            (
                "add an event webhook",
                Role::Admin,
                Method::POST,
                "/webhooks".into(),
                Some(json!({"url": "http://127.0.0.1:9/h", "events": ["contact.created"]})),
            ),
        ];
        for (what, least, method, path, body) in calls {
            let before = fingerprint(&t.app);
            let (status, json) = api(&t, method, &path, &token, body).await;
            if allowed(role, least) {
                assert!(
                    status.is_success(),
                    "{role:?} may {what} through the API: {status} {json}"
                );
            } else {
                assert_eq!(
                    status,
                    StatusCode::FORBIDDEN,
                    "{role:?} may not {what} through the API: {json}"
                );
                assert_eq!(fingerprint(&t.app), before, "a refused {what} changed nothing");
            }
        }
    }
}

/// Submits the bulk form twice, as a browser does: the confirmation page,
/// then its "Yes" button. Returns the confirmation page's HTML and the
/// final redirect.
async fn bulk(client: &TestApp, fields: &[(&str, &str)]) -> (String, reqwest::Response) {
    let (_, html) = client.page("/contacts?owner=all").await;
    let token = csrf_of(&html);
    let mut all: Vec<(&str, &str)> = vec![("csrf_token", token.as_str())];
    all.extend_from_slice(fields);
    let res = client.post_raw("/contacts/bulk", &all).await;
    assert_eq!(res.status(), StatusCode::OK, "the first POST confirms");
    let confirm = res.text().await.unwrap();
    all.push(("confirm", "1"));
    let done = client.post_raw("/contacts/bulk", &all).await;
    (confirm, done)
}

fn live_count(app: &TestApp) -> i64 {
    app.with_db(|c| {
        contacts::table
            .filter(contacts::deleted_at.is_null())
            .count()
            .get_result(c)
            .unwrap()
    })
}

/// The workload grid's kept counts (owner × status) equal a recount of the
/// contacts themselves: the triggers followed every change.
fn assert_workload_counts_match(app: &TestApp) {
    app.with_db(|c| {
        let mut kept: Vec<(i32, i32, i32)> = owner_status_counts::table
            .filter(owner_status_counts::total.ne(0))
            .select((
                owner_status_counts::owner_id,
                owner_status_counts::status_id,
                owner_status_counts::total,
            ))
            .load(c)
            .unwrap();
        kept.sort_unstable();
        let mut counted: Vec<(Option<i32>, i32, i64)> = contacts::table
            .filter(contacts::owner_id.is_not_null())
            .group_by((contacts::owner_id, contacts::status_id))
            .select((contacts::owner_id, contacts::status_id, diesel::dsl::count_star()))
            .load(c)
            .unwrap();
        counted.sort_unstable();
        let counted: Vec<(i32, i32, i32)> = counted.into_iter().map(|(o, s, n)| (o.unwrap(), s, n as i32)).collect();
        assert_eq!(kept, counted, "owner_status_counts follows the contacts");
    });
}

fn status_total(app: &TestApp) -> i64 {
    app.with_db(|c| {
        leadbook::service::listing::status_counts(c)
            .unwrap()
            .iter()
            .map(|(_, n)| n)
            .sum()
    })
}

#[actix_web::test]
async fn a_bulk_delete_of_a_filter_goes_to_the_trash_and_every_contact_comes_back_with_its_conversations() {
    let t = team().await;
    let (_, inbox) = api(
        &t,
        Method::POST,
        "/inboxes",
        &t.admin_token,
        Some(json!({"name": "WA", "channel": "whatsapp", "delivery": {"kind": "sandbox"}})),
    )
    .await;
    let inbox = inbox["id"].as_i64().unwrap();
    // Five Lost contacts, each chatting (a conversation with two messages),
    // and two others that the filter must not touch.
    let mut lost = Vec::new();
    for i in 0..5 {
        let phone = format!("+60177000{i:03}");
        let path = format!("/inboxes/{inbox}/messages");
        for body in ["Hi", "Still there?"] {
            let (status, json) = api(
                &t,
                Method::POST,
                &path,
                &t.admin_token,
                Some(json!({"source_id": phone, "name": format!("Lost {i}"), "body": body})),
            )
            .await;
            assert_eq!(status, StatusCode::CREATED, "{json}");
            if body == "Hi" {
                lost.push(json["contact_id"].as_i64().unwrap() as i32);
            }
        }
    }
    for id in &lost {
        api(
            &t,
            Method::POST,
            &format!("/contacts/{id}/status"),
            &t.admin_token,
            Some(json!({"status_id": 7})),
        )
        .await;
    }
    let others = [
        new_contact(&t, json!({"name": "Won One", "status_id": 6})).await,
        new_contact(&t, json!({"name": "New One"})).await,
    ];
    let messages_before: i64 = t.app.with_db(|c| messages::table.count().get_result(c).unwrap());
    assert_eq!((live_count(&t.app), status_total(&t.app)), (7, 7));

    let (confirm, done) = bulk(
        &t.lead,
        &[
            ("action", "delete"),
            ("all_matching", "1"),
            ("status", "7"),
            ("owner", "all"),
        ],
    )
    .await;
    assert!(
        confirm.contains("<strong id=\"bulk-count\">5</strong>"),
        "the confirmation states the count"
    );
    assert_eq!(done.status(), StatusCode::SEE_OTHER);
    assert_eq!(
        (live_count(&t.app), status_total(&t.app)),
        (2, 2),
        "counts leave the trash out"
    );
    for id in &lost {
        let (status, _) = api(&t, Method::GET, &format!("/contacts/{id}"), &t.admin_token, None).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "a trashed contact is nobody's");
    }
    let (_, list) = t.lead.page("/contacts?owner=all").await;
    assert!(!list.contains("Lost 0"), "the list leaves the trash out");
    let (_, trash) = t.lead.page("/trash").await;
    for i in 0..5 {
        assert!(trash.contains(&format!("Lost {i}")), "the trash lists Lost {i}");
    }
    // A trashed contact gave up its phone: a new message from it starts a
    // new contact, and restoring the old one is then refused with a merge link.
    let (_, json) = api(
        &t,
        Method::POST,
        &format!("/inboxes/{inbox}/messages"),
        &t.admin_token,
        Some(json!({"source_id": "+60177000000", "name": "Lost again", "body": "Hello?"})),
    )
    .await;
    let newcomer = json["contact_id"].as_i64().unwrap() as i32;
    assert!(!lost.contains(&newcomer));
    let (_, html) = t.lead.page("/trash").await;
    let token = csrf_of(&html);
    let res = t
        .lead
        .post_raw(&format!("/trash/{}/restore", lost[0]), &[("csrf_token", &token)])
        .await;
    assert_eq!(res.status(), StatusCode::CONFLICT);
    assert!(res
        .text()
        .await
        .unwrap()
        .contains(&format!("/contacts/{newcomer}/merge?other={}", lost[0])));
    api(
        &t,
        Method::DELETE,
        &format!("/contacts/{newcomer}"),
        &t.admin_token,
        None,
    )
    .await;
    t.app.with_db(|c| {
        // Gone for good, as the purge would do it 30 days on.
        diesel::delete(contacts::table.find(newcomer)).execute(c).unwrap();
    });

    for id in &lost {
        let res = t
            .lead
            .post_raw(&format!("/trash/{id}/restore"), &[("csrf_token", &token)])
            .await;
        assert_eq!(res.status(), StatusCode::SEE_OTHER, "restore #{id}");
    }
    assert_eq!((live_count(&t.app), status_total(&t.app)), (7, 7));
    let trash_left: i64 = t.app.with_db(|c| contact_trash::table.count().get_result(c).unwrap());
    assert_eq!(trash_left, 0);
    let messages_after: i64 = t.app.with_db(|c| messages::table.count().get_result(c).unwrap());
    assert_eq!(
        messages_after, messages_before,
        "every message kept (the newcomer's went with it)"
    );
    for (i, id) in lost.iter().enumerate() {
        let (status, json) = api(&t, Method::GET, &format!("/contacts/{id}"), &t.admin_token, None).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(json["status_id"], 7);
        assert_eq!(json["phone"], format!("+60177000{i:03}"));
        let convs: i64 = t.app.with_db(|c| {
            conversations::table
                .filter(conversations::contact_id.eq(id))
                .count()
                .get_result(c)
                .unwrap()
        });
        assert_eq!(convs, 1, "Lost {i} has its conversation back");
    }
    // Their channel identity is theirs again: a new message joins the old conversation.
    let (_, json) = api(
        &t,
        Method::POST,
        &format!("/inboxes/{inbox}/messages"),
        &t.admin_token,
        Some(json!({"source_id": "+60177000003", "name": "x", "body": "I'm back"})),
    )
    .await;
    assert_eq!(json["contact_id"].as_i64().unwrap() as i32, lost[3]);
    assert_eq!(json["contact_created"], false);
    let _ = others;
    assert_workload_counts_match(&t.app);
}

#[actix_web::test]
async fn the_last_admin_can_be_neither_demoted_nor_disabled() {
    let t = team().await;
    let [admin, lead, ..] = t.ids;
    let (_, html) = t.app.page("/settings/users").await;
    let token = csrf_of(&html);
    for (path, fields) in [
        (format!("/settings/users/{admin}/role"), vec![("role", "lead")]),
        (format!("/settings/users/{admin}/disable"), vec![]),
    ] {
        let before = fingerprint(&t.app);
        let mut all = vec![("csrf_token", token.as_str())];
        all.extend(fields);
        let res = t.app.post_raw(&path, &all).await;
        assert_eq!(res.status(), StatusCode::CONFLICT, "{path}");
        assert!(res.text().await.unwrap().contains("last admin"));
        assert_eq!(fingerprint(&t.app), before);
    }
    // With a second admin, the first may step down; then the second is the last.
    let res = t
        .app
        .post_raw(
            &format!("/settings/users/{lead}/role"),
            &[("csrf_token", &token), ("role", "admin")],
        )
        .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let res = t
        .app
        .post_raw(
            &format!("/settings/users/{admin}/role"),
            &[("csrf_token", &token), ("role", "agent")],
        )
        .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let (_, html) = t.lead.page("/settings/users").await;
    let lead_token = csrf_of(&html);
    let res = t
        .lead
        .post_raw(
            &format!("/settings/users/{lead}/disable"),
            &[("csrf_token", &lead_token)],
        )
        .await;
    assert_eq!(res.status(), StatusCode::CONFLICT);
    // The demoted admin lost the settings at once.
    assert_eq!(t.app.get("/settings/users").await.status(), StatusCode::FORBIDDEN);
}

#[actix_web::test]
async fn a_disabled_user_loses_their_session_and_token_at_once() {
    let t = team().await;
    let agent = t.ids[2];
    assert_eq!(t.agent.get("/contacts").await.status(), StatusCode::OK);
    let (status, _) = api(&t, Method::GET, "/contacts", &t.agent_token, None).await;
    assert_eq!(status, StatusCode::OK);

    let res = t
        .app
        .submit("/settings/users", &format!("/settings/users/{agent}/disable"), &[])
        .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let res = t.agent.get("/contacts").await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&res), "/login");
    let (status, _) = api(&t, Method::GET, "/contacts", &t.agent_token, None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let res = t.agent.login("agent@example.com", PASSWORD).await;
    assert_ne!(res.status(), StatusCode::SEE_OTHER, "nor can they sign in again");

    // Enabled again, they sign in; the old token stays revoked.
    let res = t
        .app
        .submit("/settings/users", &format!("/settings/users/{agent}/enable"), &[])
        .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert_eq!(
        t.agent.login("agent@example.com", PASSWORD).await.status(),
        StatusCode::SEE_OTHER
    );
    let (status, _) = api(&t, Method::GET, "/contacts", &t.agent_token, None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
}

#[actix_web::test]
async fn an_admin_resets_a_password_and_everyone_changes_their_own() {
    let t = team().await;
    let agent = t.ids[2];
    let res = t
        .app
        .submit(
            "/settings/users",
            &format!("/settings/users/{agent}/password"),
            &[("password", "brand new password")],
        )
        .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert_eq!(
        location(&t.agent.get("/contacts").await),
        "/login",
        "their session ended"
    );
    assert_eq!(
        t.agent.login("agent@example.com", "brand new password").await.status(),
        StatusCode::SEE_OTHER
    );
    // The agent renames themself and changes their password.
    let res = t
        .agent
        .submit("/profile", "/profile/name", &[("name", "Agnes Q. Agent")])
        .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let name: String = t
        .app
        .with_db(|c| users::table.find(agent).select(users::name).first(c).unwrap());
    assert_eq!(name, "Agnes Q. Agent");
    let wrong = t
        .agent
        .submit(
            "/profile",
            "/profile/password",
            &[
                ("current_password", "not it"),
                ("password", "another password"),
                ("password_confirm", "another password"),
            ],
        )
        .await;
    assert_eq!(wrong.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let res = t
        .agent
        .submit(
            "/profile",
            "/profile/password",
            &[
                ("current_password", "brand new password"),
                ("password", "another password"),
                ("password_confirm", "another password"),
            ],
        )
        .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert_eq!(
        t.agent.login("agent@example.com", "another password").await.status(),
        StatusCode::SEE_OTHER
    );
}

#[actix_web::test]
async fn sixty_one_contacts_spread_over_three_agents_give_21_20_20_and_the_grid_shows_it() {
    let t = team().await;
    let app = &t.app;
    let [_, lead, agent, other] = t.ids;
    app.with_db(|c| leadbook::service::seed::seed_contacts(c, 61, None, |_| {}).unwrap());
    app.with_db(|c| {
        diesel::update(contacts::table)
            .set(contacts::status_id.eq(6))
            .execute(c)
            .unwrap();
    });
    let (lead_s, agent_s, other_s) = (lead.to_string(), agent.to_string(), other.to_string());
    let (confirm, done) = bulk(
        &t.lead,
        &[
            ("action", "spread"),
            ("agents", &agent_s),
            ("agents", &other_s),
            ("agents", &lead_s),
            ("all_matching", "1"),
            ("status", "6"),
            ("owner", "all"),
        ],
    )
    .await;
    assert!(confirm.contains("<strong id=\"bulk-count\">61</strong>"));
    assert_eq!(done.status(), StatusCode::SEE_OTHER);
    let held = |id: i32| -> i64 {
        app.with_db(|c| {
            contacts::table
                .filter(contacts::owner_id.eq(id))
                .count()
                .get_result(c)
                .unwrap()
        })
    };
    assert_eq!([held(agent), held(other), held(lead)], [21, 20, 20]);
    let (_, list) = t.lead.page(&location(&done)).await;
    assert!(
        list.contains("Each got: Agnes Agent 21, Omar Agent 20, Lee Lead 20."),
        "the page reports what it did"
    );

    // Balanced: 9 more Won contacts over the two agents, counting what each
    // holds (21 and 20): 4 and 5, so both end at 25.
    let first_new = app.with_db(|c| {
        let last: i32 = contacts::table
            .select(diesel::dsl::max(contacts::id))
            .first::<Option<i32>>(c)
            .unwrap()
            .unwrap();
        leadbook::service::seed::seed_contacts(c, 9, None, |_| {}).unwrap();
        diesel::update(contacts::table.filter(contacts::id.gt(last)))
            .set((contacts::status_id.eq(6), contacts::owner_id.eq(None::<i32>)))
            .execute(c)
            .unwrap()
    });
    assert_eq!(first_new, 9);
    let (_, done) = bulk(
        &t.lead,
        &[
            ("action", "spread"),
            ("agents", &agent_s),
            ("agents", &other_s),
            ("balance", "1"),
            ("all_matching", "1"),
            ("owner", "none"),
        ],
    )
    .await;
    assert_eq!(done.status(), StatusCode::SEE_OTHER);
    assert_eq!([held(agent), held(other)], [25, 25]);

    // The workload grid counts them, each cell linking to its list.
    let (status, grid) = t.lead.page("/team").await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        grid.contains(&format!("<a href=\"/contacts?owner={agent}&#38;status=6\">25</a>")),
        "{grid}"
    );
    assert!(grid.contains(&format!("<a href=\"/contacts?owner={lead}&#38;status=6\">20</a>")));
    assert_eq!(t.agent.get("/team").await.status(), StatusCode::FORBIDDEN);
    assert_workload_counts_match(app);
}

#[actix_web::test]
async fn a_bulk_status_change_on_a_filter_of_ten_thousand_records_every_change() {
    let t = team().await;
    let app = &t.app;
    app.with_db(|c| leadbook::service::seed::seed_contacts(c, 10_500, None, |_| {}).unwrap());
    // 10,000 Qualified, 500 Won (left alone by the filter).
    app.with_db(|c| {
        diesel::update(contacts::table)
            .set(contacts::status_id.eq(3))
            .execute(c)
            .unwrap();
        let won: Vec<i32> = contacts::table
            .select(contacts::id)
            .order(contacts::id)
            .limit(500)
            .load(c)
            .unwrap();
        diesel::update(contacts::table.filter(contacts::id.eq_any(&won)))
            .set(contacts::status_id.eq(6))
            .execute(c)
            .unwrap();
    });
    // The direct writes above skipped the history: start counting from here.
    let history_before: i64 = app.with_db(|c| status_history::table.count().get_result(c).unwrap());
    let counts_before = app.with_db(|c| leadbook::service::listing::status_counts(c).unwrap());
    let (confirm, done) = bulk(
        &t.lead,
        &[
            ("action", "status"),
            ("value.status", "5"),
            ("all_matching", "1"),
            ("status", "3"),
            ("owner", "all"),
        ],
    )
    .await;
    assert!(
        confirm.contains("<strong id=\"bulk-count\">10000</strong>"),
        "the count is stated"
    );
    assert_eq!(done.status(), StatusCode::SEE_OTHER);
    app.with_db(|c| {
        let negotiating: i64 = contacts::table
            .filter(contacts::status_id.eq(5))
            .count()
            .get_result(c)
            .unwrap();
        assert_eq!(negotiating, 10_000);
        let entries: Vec<(Option<i32>, i32, String, Option<i32>)> = status_history::table
            .order(status_history::id)
            .offset(history_before)
            .select((
                status_history::from_id,
                status_history::to_id,
                status_history::source,
                status_history::user_id,
            ))
            .load(c)
            .unwrap();
        assert_eq!(entries.len(), 10_000, "every change is in the history");
        assert!(entries
            .iter()
            .all(|e| *e == (Some(3), 5, "manual".to_string(), Some(t.ids[1]))));
        let counts = leadbook::service::listing::status_counts(c).unwrap();
        let of = |list: &[(leadbook::service::status::LeadStatus, i64)], id: i32| {
            list.iter().find(|(s, _)| s.id() == id).unwrap().1
        };
        assert_eq!(of(&counts, 5), of(&counts_before, 5) + 10_000);
        assert_eq!(of(&counts, 3), of(&counts_before, 3) - 10_000);
        assert_eq!(of(&counts, 6), 500);
    });
    // Setting the status they already have changes nothing, and says so.
    let (_, done) = bulk(
        &t.lead,
        &[
            ("action", "status"),
            ("value", "5"),
            ("all_matching", "1"),
            ("status", "5"),
            ("owner", "all"),
        ],
    )
    .await;
    let (_, list) = t.lead.page(&location(&done)).await;
    assert!(
        list.contains("10000 contacts, 0 changed"),
        "{}",
        &list[..list.len().min(2000)]
    );
    assert_workload_counts_match(app);
}

#[actix_web::test]
async fn bad_bulk_input_is_a_clear_4xx_and_changes_nothing() {
    let t = team().await;
    let id = new_contact(&t, json!({"name": "Only One"})).await;
    let (_, html) = t.lead.page("/contacts?owner=all").await;
    let token = csrf_of(&html);
    let ids = id.to_string();
    for (fields, needle) in [
        (
            vec![("action", "explode"), ("ids", ids.as_str())],
            "is not a bulk action",
        ),
        (
            vec![("action", "status"), ("value", "9"), ("ids", ids.as_str())],
            "status",
        ),
        (
            vec![
                ("action", "assign"),
                ("value", "999"),
                ("ids", ids.as_str()),
                ("confirm", "1"),
            ],
            "not an enabled member",
        ),
        (
            vec![
                ("action", "label_add"),
                ("value", "nosuch"),
                ("ids", ids.as_str()),
                ("confirm", "1"),
            ],
            "no label named",
        ),
        (vec![("action", "spread"), ("ids", ids.as_str())], "at least one agent"),
        (
            vec![("action", "status"), ("value", "6"), ("ids", "abc")],
            "contact IDs",
        ),
    ] {
        let before = fingerprint(&t.app);
        let mut all = vec![("csrf_token", token.as_str())];
        all.extend(fields.iter().copied());
        let res = t.lead.post_raw("/contacts/bulk", &all).await;
        let status = res.status();
        let body = res.text().await.unwrap();
        assert!(status.is_client_error(), "{fields:?}: {status}");
        assert!(
            body.contains(needle),
            "{fields:?}: {needle} in {}",
            &body[..body.len().min(500)]
        );
        assert_eq!(fingerprint(&t.app), before);
    }
    // Without the CSRF token: refused before anything runs.
    let res = t
        .lead
        .post_raw(
            "/contacts/bulk",
            &[("action", "delete"), ("ids", &ids), ("confirm", "1")],
        )
        .await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    assert_eq!(live_count(&t.app), 1);
}

/// A bulk action sent with nothing ticked goes back to the same list, its
/// filter kept, with a sentence saying why; nothing changes.
#[actix_web::test]
async fn an_empty_bulk_submit_keeps_the_filter_and_says_why() {
    let t = team().await;
    new_contact(&t, json!({"name": "Only One", "status": "Qualified"})).await;
    let list = "/contacts?q=only&status=3&owner=all";
    let (_, html) = t.lead.page(list).await;
    let token = csrf_of(&html);
    let before = fingerprint(&t.app);
    let res = t
        .lead
        .post_raw(
            "/contacts/bulk",
            &[
                ("csrf_token", token.as_str()),
                ("q", "only"),
                ("status", "3"),
                ("owner", "all"),
                ("action", "status"),
                ("value.status", "6"),
                ("scope", "selected"),
            ],
        )
        .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let back = location(&res);
    assert!(
        back.starts_with("/contacts?")
            && back.contains("q=only")
            && back.contains("status=3")
            && back.contains("owner=all"),
        "back to the same filter: {back}"
    );
    let (status, html) = t.lead.page(&back).await;
    assert_eq!(status, StatusCode::OK);
    let doc = scraper::Html::parse_document(&html);
    let notice = doc
        .select(&scraper::Selector::parse(".flash.flash-error[role=alert]").unwrap())
        .next()
        .map(|e| e.text().collect::<String>())
        .unwrap_or_default();
    assert!(notice.contains("No contacts were ticked"), "{notice}");
    let search = doc
        .select(&scraper::Selector::parse("#q").unwrap())
        .next()
        .and_then(|e| e.value().attr("value").map(str::to_string));
    assert_eq!(search.as_deref(), Some("only"), "the search is kept");
    assert_eq!(fingerprint(&t.app), before, "nothing changed");
}

#[actix_web::test]
async fn the_activity_log_records_who_did_what_to_how_many() {
    let t = team().await;
    let [_, _, agent, other] = t.ids;
    let a = new_contact(&t, json!({"name": "Aisyah"})).await;
    let b = new_contact(&t, json!({"name": "Ben"})).await;
    let c = new_contact(&t, json!({"name": "Chong"})).await;
    api(
        &t,
        Method::POST,
        "/labels",
        &t.admin_token,
        Some(json!({"name": "vip"})),
    )
    .await;
    // Assign one from its page, label two in bulk, merge, undo, delete, restore.
    let res = t
        .lead
        .submit(
            &format!("/contacts/{a}"),
            &format!("/contacts/{a}/owner"),
            &[("owner", &agent.to_string())],
        )
        .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let (a_s, b_s) = (a.to_string(), b.to_string());
    bulk(
        &t.lead,
        &[
            ("action", "label_add"),
            ("value.label", "vip"),
            ("ids", &a_s),
            ("ids", &b_s),
        ],
    )
    .await;
    let (_, merged) = api(
        &t,
        Method::POST,
        &format!("/contacts/{a}/merge"),
        &t.lead_token,
        Some(json!({"other_id": b})),
    )
    .await;
    let merge_id = merged["merge_id"].as_i64().unwrap();
    api(
        &t,
        Method::POST,
        &format!("/merges/{merge_id}/undo"),
        &t.lead_token,
        None,
    )
    .await;
    api(&t, Method::DELETE, &format!("/contacts/{c}"), &t.lead_token, None).await;
    let res = t.lead.submit("/trash", &format!("/trash/{c}/restore"), &[]).await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let res = t
        .app
        .submit(
            "/settings/users",
            &format!("/settings/users/{other}/role"),
            &[("role", "lead")],
        )
        .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let res = t.lead.get("/contacts/export.csv?owner=all").await;
    assert_eq!(res.status(), StatusCode::OK);
    let _ = res.text().await;

    let log: Vec<(String, Option<i32>, i32, Option<i32>)> = t.app.with_db(|c| {
        activity_log::table
            .order(activity_log::id)
            .select((
                activity_log::action,
                activity_log::contact_id,
                activity_log::count,
                activity_log::user_id,
            ))
            .load(c)
            .unwrap()
    });
    let lead = Some(t.ids[1]);
    let admin = Some(t.ids[0]);
    let expected = vec![
        ("assign".to_string(), Some(a), 1, lead),
        ("bulk_label_add".to_string(), None, 2, lead),
        ("merge".to_string(), Some(a), 2, lead),
        ("undo_merge".to_string(), Some(a), 2, lead),
        ("undo_merge".to_string(), Some(b), 2, lead),
        ("delete".to_string(), Some(c), 1, lead),
        ("restore".to_string(), Some(c), 1, lead),
        ("role_change".to_string(), None, 1, admin),
        ("export".to_string(), None, 3, lead),
    ];
    assert_eq!(log, expected);

    // On the contact's page, its own entries; on the settings page, all (admins only).
    let (_, page) = t.lead.page(&format!("/contacts/{c}")).await;
    assert!(page.contains("deleted Chong into the trash") && page.contains("restored Chong from the trash"));
    assert!(!page.contains("changed Omar Agent"), "not other contacts' entries");
    let (status, page) = t.app.page("/settings/activity").await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains("role from agent to lead"));
    assert!(page.contains("exported 3 contacts"));
    assert_eq!(t.lead.get("/settings/activity").await.status(), StatusCode::FORBIDDEN);
}

#[actix_web::test]
async fn the_trash_purges_what_is_older_than_thirty_days() {
    let t = team().await;
    let old = new_contact(&t, json!({"name": "Old"})).await;
    let recent = new_contact(&t, json!({"name": "Recent"})).await;
    for id in [old, recent] {
        api(&t, Method::DELETE, &format!("/contacts/{id}"), &t.admin_token, None).await;
    }
    t.app.with_db(|c| {
        let long_ago = chrono::Utc::now().naive_utc() - chrono::Duration::days(31);
        diesel::update(contacts::table.find(old))
            .set(contacts::deleted_at.eq(Some(long_ago)))
            .execute(c)
            .unwrap();
    });
    let (_, trash) = t.lead.page("/trash").await;
    assert!(trash.contains("Recent") && !trash.contains(">Old<"));
    let remaining: Vec<i32> = t.app.with_db(|c| contacts::table.select(contacts::id).load(c).unwrap());
    assert_eq!(remaining, [recent]);
    assert_eq!(
        status_total(&t.app),
        0,
        "purging trashed contacts leaves the counts alone"
    );
}
