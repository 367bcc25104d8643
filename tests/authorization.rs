//! The authorization matrix (issue 11), on the backend `TEST_DATABASE_URL`
//! picks. Every route of the pages (`leadbook::web::ROUTES`) and of the API
//! (`leadbook::web::api::ACCESS`) gets the answer its declared `Access`
//! promises, for an anonymous visitor, an agent, a lead and an admin; an
//! agent acting on another user's note or token is refused; a revoked token
//! opens nothing. The routes come from the tables the server registers, so a
//! new route is in the matrix without a line here, and a route whose path
//! names a thing no fixture provides fails until one is added.
//!
//! Each request is the least a client can send: a page POST carries only its
//! CSRF token, an API POST or PATCH an empty JSON object. A refused request
//! must be refused for who sent it (403, or the sign-in page), whatever its
//! body; an allowed one may still fail on its body (4xx), never with 401,
//! 403 or a 5xx.

mod common;
use common::*;

use diesel::prelude::*;
use leadbook::db::schema::{api_tokens, contact_trash, conversations, custom_attributes, labels, messages, notes};
use leadbook::service::users::Role;
use leadbook::web::{Access, Route};
use reqwest::multipart::{Form, Part};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Who {
    Anonymous,
    Agent,
    Lead,
    Admin,
}

const OTHER_AGENT: &str = "otto@example.com";

/// The things the routes' `{id}`s name. The agent's own user acts on the
/// other agent's note and token.
struct Fixtures {
    contact: i32,
    trashed: i32,
    merge: i32,
    note_of_other: i32,
    token_of_other: i32,
    other_user: i32,
    import: i32,
    inbox: i32,
    conversation: i32,
    message: i32,
    webhook: i32,
    attribute: i32,
    attribute_key: String,
    label: i32,
}

impl Fixtures {
    /// The route's path with its parameter replaced by the fixture it names.
    fn concrete(&self, path: &str) -> String {
        if !path.contains('{') {
            return path.to_string();
        }
        let prefixes: [(&str, String); 16] = [
            ("/contacts/{id}", self.contact.to_string()),
            ("/trash/{id}", self.trashed.to_string()),
            ("/merges/{id}", self.merge.to_string()),
            ("/notes/{id}", self.note_of_other.to_string()),
            ("/tokens/{id}", self.token_of_other.to_string()),
            ("/settings/users/{id}", self.other_user.to_string()),
            ("/imports/{id}", self.import.to_string()),
            ("/settings/inboxes/{id}", self.inbox.to_string()),
            ("/inboxes/{id}", self.inbox.to_string()),
            ("/conversations/{id}", self.conversation.to_string()),
            ("/messages/{id}", self.message.to_string()),
            ("/settings/webhooks/{id}", self.webhook.to_string()),
            ("/webhooks/{id}", self.webhook.to_string()),
            ("/settings/attributes/{id}", self.attribute.to_string()),
            ("/custom_attributes/{key}", self.attribute_key.clone()),
            ("/settings/labels/{id}", self.label.to_string()),
        ];
        for (prefix, value) in prefixes {
            if path.starts_with(prefix) {
                let param = &prefix[prefix.find('{').unwrap()..];
                return path.replacen(param, &value, 1);
            }
        }
        panic!("{path}: no fixture names this parameter; add one to Fixtures");
    }
}

/// An app with a team (the client signed in as the admin) and one of each
/// thing a route can name.
async fn app_with_fixtures() -> (TestApp, Fixtures) {
    let app = spawn_app().await;
    app.setup_admin().await;
    app.add_user("lee@example.com", "Lee Lead", Role::Lead);
    app.add_user("agnes@example.com", "Agnes Agent", Role::Agent);
    let other = app.add_user(OTHER_AGENT, "Otto Other", Role::Agent);
    let admin = app.token_for("admin@example.com");
    let otto = app.token_for(OTHER_AGENT);

    let created = |v: (StatusCode, Value)| -> i32 {
        assert!(v.0.is_success(), "fixture: {}", v.1);
        v.1["id"].as_i64().unwrap_or_else(|| panic!("fixture id: {}", v.1)) as i32
    };
    let post = |path: &str, token: &str, body: Value| {
        let (path, token) = (path.to_string(), token.to_string());
        let app = &app;
        async move { send(app, Method::POST, &path, &token, Some(body)).await }
    };
    let contact = created(
        post(
            "/contacts",
            &admin,
            json!({"name": "Carla", "email": "carla@example.com"}),
        )
        .await,
    );
    let kept = created(post("/contacts", &admin, json!({"name": "Kim"})).await);
    let merged = created(post("/contacts", &admin, json!({"name": "Kim again"})).await);
    let (status, m) = post(&format!("/contacts/{kept}/merge"), &admin, json!({"other_id": merged})).await;
    assert_eq!(status, StatusCode::OK, "fixture merge: {m}");
    let merge = m["merge_id"].as_i64().expect("merge_id") as i32;
    let trashed = created(post("/contacts", &admin, json!({"name": "Tess"})).await);
    let (status, _) = send(&app, Method::DELETE, &format!("/contacts/{trashed}"), &admin, None).await;
    assert!(status.is_success(), "fixture trash");
    let note_of_other = created(post(&format!("/contacts/{contact}/notes"), &otto, json!({"body": "Otto's"})).await);
    let inbox = created(
        post(
            "/inboxes",
            &admin,
            json!({"name": "WA", "channel": "whatsapp", "delivery": {"kind": "sandbox"}}),
        )
        .await,
    );
    let (status, body) = post(
        &format!("/inboxes/{inbox}/messages"),
        &admin,
        json!({"source_id": "60123456789", "name": "Ali", "body": "Hi"}),
    )
    .await;
    assert!(status.is_success(), "fixture message: {body}");
    let webhook = created(
        post(
            "/webhooks",
            &admin,
            json!({"url": "http://127.0.0.1:9/hook", "events": ["contact.created"]}),
        )
        .await,
    );
    let (status, body) = post(
        "/custom_attributes",
        &admin,
        json!({"key": "plan", "display_name": "Plan", "type": "number"}),
    )
    .await;
    assert!(status.is_success(), "fixture attribute: {body}");
    let (status, body) = post("/labels", &admin, json!({"name": "vip"})).await;
    assert!(status.is_success(), "fixture label: {body}");
    let import = upload_import(&app).await;

    let fixtures = app.with_db(|c| {
        let last = |ids: Vec<i32>| *ids.last().expect("fixture row");
        let last_token: Vec<i32> = api_tokens::table
            .filter(api_tokens::user_id.eq(other.id))
            .select(api_tokens::id)
            .order(api_tokens::id)
            .load(c)
            .unwrap();
        let in_trash: Vec<i32> = contact_trash::table.select(contact_trash::contact_id).load(c).unwrap();
        assert_eq!(in_trash, [trashed]);
        Fixtures {
            contact,
            trashed,
            merge,
            note_of_other,
            token_of_other: last(last_token),
            other_user: other.id,
            import,
            inbox,
            conversation: last(
                conversations::table
                    .select(conversations::id)
                    .order(conversations::id)
                    .load(c)
                    .unwrap(),
            ),
            message: last(
                messages::table
                    .select(messages::id)
                    .order(messages::id)
                    .load(c)
                    .unwrap(),
            ),
            webhook,
            attribute: last(
                custom_attributes::table
                    .select(custom_attributes::id)
                    .order(custom_attributes::id)
                    .load(c)
                    .unwrap(),
            ),
            attribute_key: "plan".into(),
            label: last(labels::table.select(labels::id).order(labels::id).load(c).unwrap()),
        }
    });
    assert_eq!(
        app.with_db(|c| notes::table
            .find(note_of_other)
            .select(notes::author_id)
            .first::<Option<i32>>(c)),
        Ok(Some(other.id))
    );
    (app, fixtures)
}

/// An import as the admin's upload form makes one; its ID.
async fn upload_import(app: &TestApp) -> i32 {
    let (_, html) = app.page("/imports/new").await;
    let part = Part::bytes(b"name,email\nIna,ina@example.com\n".to_vec())
        .file_name("team.csv")
        .mime_str("text/csv")
        .unwrap();
    let form = Form::new().text("csrf_token", csrf_of(&html)).part("file", part);
    let res = app
        .client
        .post(app.url("/imports"))
        .multipart(form)
        .send()
        .await
        .unwrap();
    let to = location(&res);
    to.strip_prefix("/imports/")
        .and_then(|id| id.parse().ok())
        .unwrap_or_else(|| panic!("the upload redirects to its import, not {to:?}"))
}

/// What `who` may do on a route with this access: `Ok(())` when allowed, or
/// the one status a refusal must have.
fn expected(who: Who, access: Access) -> Result<(), StatusCode> {
    use Access::*;
    match (who, access) {
        (_, Public) => Ok(()),
        // The team is set up in every fixture: setup is over.
        (_, FirstRun) => Err(StatusCode::SEE_OTHER),
        (Who::Anonymous, _) => Err(StatusCode::UNAUTHORIZED),
        (_, SignedIn) => Ok(()),
        (Who::Agent, Lead | Admin | NoteAuthor) => Err(StatusCode::FORBIDDEN),
        (Who::Lead, Admin) => Err(StatusCode::FORBIDDEN),
        (Who::Lead | Who::Admin, Lead | NoteAuthor) => Ok(()),
        (Who::Admin, Admin | TokenHolder) => Ok(()),
        // Another user's token is not found, so token IDs are not revealed.
        (Who::Agent | Who::Lead, TokenHolder) => Err(StatusCode::NOT_FOUND),
    }
}

/// One line of the matrix that does not hold, or `None`.
fn judge(
    who: &str,
    route: &Route,
    path: &str,
    allowed: Result<(), StatusCode>,
    got: StatusCode,
    to: &str,
) -> Option<String> {
    let signed_out = got == StatusCode::SEE_OTHER && to.starts_with("/login");
    let fine = match allowed {
        // Signing out answers with the sign-in page.
        Ok(()) if route.path == "/logout" => signed_out,
        Err(StatusCode::SEE_OTHER) => signed_out,
        Ok(()) => {
            !got.is_server_error() && got != StatusCode::UNAUTHORIZED && got != StatusCode::FORBIDDEN && !signed_out
        }
        // Pages answer an anonymous visitor with the sign-in page.
        Err(StatusCode::UNAUTHORIZED) if !path.starts_with("/api/") => signed_out,
        Err(want) => got == want,
    };
    (!fine).then(|| {
        format!(
            "{who}: {} {path} ({:?}) answered {got}{}, expected {}",
            route.method.to_uppercase(),
            route.access,
            if to.is_empty() {
                String::new()
            } else {
                format!(" to {to}")
            },
            match allowed {
                Ok(()) => "to be let through".to_string(),
                Err(s) => s.to_string(),
            }
        )
    })
}

/// The page routes in an order that keeps the session: signing out last.
fn page_routes() -> Vec<&'static Route> {
    let mut routes: Vec<&Route> = leadbook::web::ROUTES.iter().collect();
    routes.sort_by_key(|r| r.path == "/logout");
    routes
}

/// A client of `app` signed in as `who` (or not), and its CSRF token.
async fn client_for(app: &TestApp, who: Who) -> (TestApp, String) {
    let client = match who {
        Who::Anonymous => app.another_client(),
        Who::Agent => app.login_as("agnes@example.com").await,
        Who::Lead => app.login_as("lee@example.com").await,
        Who::Admin => app.login_as("admin@example.com").await,
    };
    let page = if who == Who::Anonymous { "/login" } else { "/profile" };
    let (_, html) = client.page(page).await;
    let csrf = csrf_of(&html);
    (client, csrf)
}

async fn check_pages(who: Who) -> Vec<String> {
    let (app, f) = app_with_fixtures().await;
    let (client, csrf) = client_for(&app, who).await;
    let mut wrong = Vec::new();
    for route in page_routes() {
        let path = f.concrete(route.path);
        let req = match route.method {
            "get" => client.client.get(client.url(&path)),
            "post" => client
                .client
                .post(client.url(&path))
                .form(&[("csrf_token", csrf.as_str())]),
            other => panic!("a page route with method {other}"),
        };
        let res = req.send().await.expect("request");
        let to = location(&res);
        wrong.extend(judge(
            &format!("{who:?}"),
            route,
            &path,
            expected(who, route.access),
            res.status(),
            &to,
        ));
    }
    wrong
}

/// The API, with `token` (none, or a revoked one, count as anonymous).
async fn check_api(who: Who, label: &str, revoke: bool) -> Vec<String> {
    let (app, f) = app_with_fixtures().await;
    let email = match who {
        Who::Anonymous | Who::Agent => "agnes@example.com",
        Who::Lead => "lee@example.com",
        Who::Admin => "admin@example.com",
    };
    let token = app.token_for(email);
    if revoke {
        let id = app.with_db(|c| {
            api_tokens::table
                .select(api_tokens::id)
                .order(api_tokens::id.desc())
                .first::<i32>(c)
                .unwrap()
        });
        app.with_db(|c| {
            let actor = leadbook::service::users::find_by_email(c, email).unwrap();
            leadbook::service::tokens::revoke(c, &actor, id).unwrap();
        });
    }
    let mut wrong = Vec::new();
    for route in leadbook::web::api::ACCESS {
        let path = format!("/api/v1{}", f.concrete(route.path));
        let method = Method::from_bytes(route.method.to_uppercase().as_bytes()).unwrap();
        let mut req = new_client().request(method.clone(), app.url(&path));
        if who != Who::Anonymous || revoke {
            req = req.bearer_auth(&token);
        }
        if method == Method::POST || method == Method::PATCH {
            req = req.json(&json!({}));
        }
        let res = req.send().await.expect("request");
        wrong.extend(judge(
            label,
            route,
            &path,
            expected(who, route.access),
            res.status(),
            "",
        ));
    }
    wrong
}

fn assert_holds(wrong: Vec<String>) {
    assert!(wrong.is_empty(), "the matrix does not hold:\n{}", wrong.join("\n"));
}

#[actix_web::test]
async fn every_page_route_answers_an_anonymous_visitor_as_declared() {
    assert_holds(check_pages(Who::Anonymous).await);
}

#[actix_web::test]
async fn every_page_route_answers_an_agent_as_declared() {
    assert_holds(check_pages(Who::Agent).await);
}

#[actix_web::test]
async fn every_page_route_answers_a_lead_as_declared() {
    assert_holds(check_pages(Who::Lead).await);
}

#[actix_web::test]
async fn every_page_route_answers_an_admin_as_declared() {
    assert_holds(check_pages(Who::Admin).await);
}

#[actix_web::test]
async fn every_api_route_answers_no_token_and_a_revoked_token_with_401() {
    let mut wrong = check_api(Who::Anonymous, "no token", false).await;
    wrong.extend(check_api(Who::Anonymous, "revoked token", true).await);
    assert_holds(wrong);
}

#[actix_web::test]
async fn every_api_route_answers_each_role_as_declared() {
    let mut wrong = Vec::new();
    for (who, label) in [(Who::Agent, "agent"), (Who::Lead, "lead"), (Who::Admin, "admin")] {
        wrong.extend(check_api(who, label, false).await);
    }
    assert_holds(wrong);
}

/// The other side of "another user's things": their own note and token
/// are theirs to change.
#[actix_web::test]
async fn an_agent_may_change_their_own_note_and_revoke_their_own_token() {
    let (app, f) = app_with_fixtures().await;
    let otto = app.token_for(OTHER_AGENT);
    let (status, body) = send(
        &app,
        Method::PATCH,
        &format!("/notes/{}", f.note_of_other),
        &otto,
        Some(json!({"body": "Otto's, edited"})),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let client = app.login_as(OTHER_AGENT).await;
    let res = client
        .submit("/profile", &format!("/tokens/{}/revoke", f.token_of_other), &[])
        .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&res), "/profile");
    let (status, _) = send(&app, Method::GET, "/contacts", &otto, None).await;
    assert_eq!(status, StatusCode::OK, "a later token of Otto's still works");
    let revoked: Option<chrono::NaiveDateTime> = app.with_db(|c| {
        api_tokens::table
            .find(f.token_of_other)
            .select(api_tokens::revoked_at)
            .first(c)
            .unwrap()
    });
    assert!(revoked.is_some(), "Otto's first token is revoked");
}

/// The tables list every route once, so the matrix above covers each.
#[test]
fn the_route_tables_list_each_route_once() {
    let mut seen = std::collections::HashSet::new();
    for r in leadbook::web::ROUTES {
        assert!(seen.insert((r.method, r.path)), "{} {} twice", r.method, r.path);
    }
    let mut seen = std::collections::HashSet::new();
    for r in leadbook::web::api::ACCESS {
        assert!(seen.insert((r.method, r.path)), "{} {} twice", r.method, r.path);
    }
    assert_eq!(leadbook::web::api::ACCESS.len(), leadbook::web::api::ROUTES.len());
    assert!(leadbook::web::ROUTES.len() > 70, "every page route is in the table");
}
