//! The one test helper: `spawn_app()` starts leadbook on a fresh database of
//! its own (a temp SQLite file, or a new PostgreSQL database when
//! `TEST_DATABASE_URL` names a server) and gives a cookie-keeping client.
#![allow(dead_code)]

#[cfg(feature = "browser-tests")]
pub mod browser;
pub mod snap;

use diesel::connection::SimpleConnection;
use diesel::Connection;
use leadbook::config::Settings;
use leadbook::db::{self, AnyConnection};
use leadbook::service::users::{self, Actor, Role};
use reqwest::redirect::Policy;
use reqwest::{Client, Response, StatusCode};

pub const PASSWORD: &str = "correct horse battery";

/// The database a test owns; dropped with the test.
pub enum TestDb {
    Sqlite(tempfile::TempDir),
    Postgres { server: String, name: String },
}

impl Drop for TestDb {
    fn drop(&mut self) {
        if let TestDb::Postgres { server, name } = self {
            if let Ok(mut conn) = diesel::PgConnection::establish(server) {
                let _ = conn.batch_execute(&format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"));
            }
        }
    }
}

/// Which backend this run tests: PostgreSQL when `TEST_DATABASE_URL` is set.
pub fn backend() -> &'static str {
    if std::env::var("TEST_DATABASE_URL").is_ok_and(|v| !v.is_empty()) {
        "postgres"
    } else {
        "sqlite"
    }
}

/// A fresh, empty database: its URL and the guard that removes it.
pub fn fresh_database() -> (String, TestDb) {
    match std::env::var("TEST_DATABASE_URL") {
        Ok(server) if !server.is_empty() => {
            let name = format!("leadbook_test_{:016x}", rand::random::<u64>());
            let mut conn = diesel::PgConnection::establish(&server)
                .unwrap_or_else(|e| panic!("TEST_DATABASE_URL {server} is not reachable: {e}"));
            conn.batch_execute(&format!("CREATE DATABASE \"{name}\""))
                .expect("create test database");
            let mut url = url::Url::parse(&server).expect("TEST_DATABASE_URL is a URL");
            url.set_path(&name);
            (url.to_string(), TestDb::Postgres { server, name })
        }
        _ => {
            let dir = tempfile::tempdir().expect("temp dir");
            let path = dir.path().join("leadbook.db");
            (format!("sqlite://{}", path.display()), TestDb::Sqlite(dir))
        }
    }
}

pub struct TestApp {
    pub address: String,
    pub port: u16,
    pub pool: db::Pool,
    pub client: Client,
    pub database_url: String,
    _db: TestDb,
}

/// A client that keeps cookies and does not follow redirects, so tests see
/// each 303 and where it points.
pub fn new_client() -> Client {
    Client::builder()
        .cookie_store(true)
        .redirect(Policy::none())
        // Below the server's 5 s keep-alive: a connection idle while a test
        // builds fixtures is not reused just as the server closes it (seen
        // as hyper's IncompleteMessage under load).
        .pool_idle_timeout(std::time::Duration::from_secs(2))
        .build()
        .expect("client")
}

pub async fn spawn_app() -> TestApp {
    spawn_app_with(&[]).await
}

/// Starts the app with extra settings (`("DEFAULT_COUNTRY", "SG")`).
pub async fn spawn_app_with(extra: &[(&str, &str)]) -> TestApp {
    let (database_url, guard) = fresh_database();
    spawn_on(database_url, guard, extra)
}

impl TestApp {
    /// Another instance of the app on this app's database (a restart, or a
    /// second server behind a load balancer). The database stays this app's.
    pub fn another_instance(&self, extra: &[(&str, &str)]) -> TestApp {
        spawn_on(
            self.database_url.clone(),
            TestDb::Sqlite(tempfile::tempdir().expect("placeholder")),
            extra,
        )
    }
}

fn spawn_on(database_url: String, guard: TestDb, extra: &[(&str, &str)]) -> TestApp {
    let mut vars: Vec<(String, String)> = vec![
        ("DATABASE_URL".into(), database_url.clone()),
        ("BIND".into(), "127.0.0.1:0".into()),
    ];
    vars.extend(extra.iter().map(|(k, v)| (k.to_string(), v.to_string())));
    let settings =
        Settings::from_lookup(|k| vars.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone())).expect("test settings");
    let app = leadbook::Application::build(settings).expect("app builds");
    let port = app.port;
    actix_web::rt::spawn(app.server);
    TestApp {
        address: format!("http://127.0.0.1:{port}"),
        port,
        pool: app.pool,
        client: new_client(),
        database_url,
        _db: guard,
    }
}

/// Pulls the first `csrf_token` hidden field out of a page.
pub fn csrf_of(html: &str) -> String {
    let marker = "name=\"csrf_token\" value=\"";
    let start = html
        .find(marker)
        .map(|i| i + marker.len())
        .expect("page has a csrf_token field");
    let end = html[start..].find('"').expect("closing quote");
    html[start..start + end].to_string()
}

impl TestApp {
    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.address, path)
    }

    pub fn conn(&self) -> db::PooledConnection {
        self.pool.get().expect("pooled connection")
    }

    /// Runs a closure on a database connection (for fixtures and checks).
    pub fn with_db<T>(&self, f: impl FnOnce(&mut AnyConnection) -> T) -> T {
        let mut conn = self.conn();
        f(&mut conn)
    }

    pub async fn get(&self, path: &str) -> Response {
        self.client.get(self.url(path)).send().await.expect("GET")
    }

    /// GETs a page and returns its status and HTML.
    pub async fn page(&self, path: &str) -> (StatusCode, String) {
        let res = self.get(path).await;
        let status = res.status();
        (status, res.text().await.expect("body"))
    }

    /// POSTs a form exactly as given (no CSRF token added).
    pub async fn post_raw(&self, path: &str, fields: &[(&str, &str)]) -> Response {
        self.client
            .post(self.url(path))
            .form(fields)
            .send()
            .await
            .expect("POST")
    }

    /// Like a browser: GETs `form_page` for its CSRF token, then POSTs `fields` to `action`.
    pub async fn submit(&self, form_page: &str, action: &str, fields: &[(&str, &str)]) -> Response {
        let (_, html) = self.page(form_page).await;
        let token = csrf_of(&html);
        let mut all: Vec<(&str, &str)> = vec![("csrf_token", token.as_str())];
        all.extend_from_slice(fields);
        self.post_raw(action, &all).await
    }

    /// Runs first-run setup; the client is then signed in as that admin.
    pub async fn setup_admin(&self) -> Response {
        let res = self
            .submit(
                "/setup",
                "/setup",
                &[
                    ("name", "Ada Admin"),
                    ("email", "admin@example.com"),
                    ("password", PASSWORD),
                    ("password_confirm", PASSWORD),
                ],
            )
            .await;
        assert_eq!(res.status(), StatusCode::SEE_OTHER, "setup succeeds");
        res
    }

    /// Adds a user directly (user management pages come in a later issue).
    pub fn add_user(&self, email: &str, name: &str, role: Role) -> Actor {
        self.with_db(|c| {
            users::add_user(
                c,
                &users::NewUser {
                    name,
                    email,
                    password: PASSWORD,
                    role,
                },
            )
        })
        .expect("user added")
    }

    /// Signs this app's client in.
    pub async fn login(&self, email: &str, password: &str) -> Response {
        self.submit("/login", "/login", &[("email", email), ("password", password)])
            .await
    }

    /// A second client for the same app, with no session yet.
    pub fn another_client(&self) -> TestApp {
        TestApp {
            address: self.address.clone(),
            port: self.port,
            pool: self.pool.clone(),
            client: new_client(),
            database_url: self.database_url.clone(),
            _db: TestDb::Sqlite(tempfile::tempdir().expect("placeholder")),
        }
    }

    /// A second, separately signed-in client for the same app.
    pub async fn login_as(&self, email: &str) -> TestApp {
        let other = self.another_client();
        let res = other.login(email, PASSWORD).await;
        assert_eq!(res.status(), StatusCode::SEE_OTHER, "{email} signs in");
        other
    }

    /// Creates a contact through the new-contact form; returns the response.
    pub async fn create_contact(&self, fields: &[(&str, &str)]) -> Response {
        self.submit("/contacts/new", "/contacts", fields).await
    }

    /// Creates a contact and returns its ID (from the redirect).
    pub async fn contact_id(&self, fields: &[(&str, &str)]) -> i32 {
        let res = self.create_contact(fields).await;
        assert_eq!(res.status(), StatusCode::SEE_OTHER, "contact created");
        location(&res)
            .trim_start_matches("/contacts/")
            .parse()
            .expect("contact id in Location")
    }

    /// How many contacts the database holds, the trash left out.
    pub fn contact_count(&self) -> i64 {
        use diesel::prelude::*;
        use leadbook::db::schema::contacts;
        self.with_db(|c| {
            contacts::table
                .filter(contacts::deleted_at.is_null())
                .count()
                .get_result(c)
                .expect("count")
        })
    }
}

pub fn location(res: &Response) -> String {
    res.headers()
        .get("location")
        .map(|v| v.to_str().expect("ascii").to_string())
        .unwrap_or_default()
}

impl TestApp {
    /// A new API token for the user with this e-mail (as `leadbook token new` makes).
    pub fn token_for(&self, email: &str) -> String {
        self.with_db(|c| {
            let user = users::find_by_email(c, email).expect("user exists");
            leadbook::service::tokens::create(c, &user, user.id, "test")
                .expect("token")
                .1
        })
    }

    /// A request to `/api/v1{path}` with a bearer token.
    pub fn api(&self, method: reqwest::Method, path: &str, token: &str) -> reqwest::RequestBuilder {
        new_client()
            .request(method, self.url(&format!("/api/v1{path}")))
            .bearer_auth(token)
    }
}

/// An API request as a JSON client makes it: the status and the JSON answer
/// (`null` for an empty body).
pub async fn send(
    app: &TestApp,
    method: reqwest::Method,
    path: &str,
    token: &str,
    body: Option<serde_json::Value>,
) -> (StatusCode, serde_json::Value) {
    let mut req = app.api(method, path, token);
    if let Some(body) = body {
        req = req.json(&body);
    }
    let res = req.send().await.expect("request");
    let status = res.status();
    let text = res.text().await.expect("body");
    let value = if text.is_empty() {
        serde_json::Value::Null
    } else {
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("{path}: not JSON ({e}): {text}"))
    };
    (status, value)
}

/// A contact input with only a name.
pub fn named(name: &str) -> leadbook::service::contacts::ContactInput {
    leadbook::service::contacts::ContactInput {
        name: name.into(),
        ..Default::default()
    }
}

/// Creates contacts through the service (fast fixtures), their first history
/// entry from `source`; returns their IDs.
pub fn add_contacts_from(
    app: &TestApp,
    actor: &Actor,
    inputs: &[leadbook::service::contacts::ContactInput],
    source: leadbook::service::status::StatusSource,
) -> Vec<i32> {
    use leadbook::service::contacts::{self as service, ContactDraft};
    app.with_db(|c| {
        inputs
            .iter()
            .map(|input| {
                let draft = ContactDraft::parse(input, phonenumber::country::Id::MY, &[])
                    .unwrap_or_else(|e| panic!("fixture {input:?} is invalid: {e:?}"));
                service::create(c, actor, &draft, source).expect("fixture created").id
            })
            .collect()
    })
}

/// A CSV text's rows, the header among them.
pub fn csv_rows(text: &str) -> Vec<Vec<String>> {
    csv::ReaderBuilder::new()
        .has_headers(false)
        .from_reader(text.as_bytes())
        .records()
        .map(|r| r.expect("valid CSV").iter().map(str::to_string).collect())
        .collect()
}

// ------------------------------------------------- the contact list's pages

/// The contact IDs a list page shows, in its order.
pub fn listed_ids(html: &str) -> Vec<i32> {
    let link = scraper::Selector::parse("table.contacts tbody a.name").unwrap();
    scraper::Html::parse_document(html)
        .select(&link)
        .map(|a| {
            let href = a.value().attr("href").expect("href");
            href.trim_start_matches("/contacts/")
                .parse()
                .unwrap_or_else(|_| panic!("contact link {href}"))
        })
        .collect()
}

/// The href of the pager's `rel` link (already HTML-unescaped by the parser).
pub fn pager(html: &str, rel: &str) -> Option<String> {
    let link = scraper::Selector::parse(&format!("nav.pager a[rel=\"{rel}\"]")).unwrap();
    scraper::Html::parse_document(html)
        .select(&link)
        .find_map(|a| a.value().attr("href").map(str::to_string))
}

/// The list page at `path`, which must answer 200.
pub async fn list_page(app: &TestApp, path: &str) -> String {
    let (status, html) = app.page(path).await;
    assert_eq!(status, StatusCode::OK, "GET {path}");
    html
}

/// Follows Next links from `first` to the end, then Previous links back to
/// the start; returns the IDs of each page read, both ways in list order.
pub async fn walk_pages(app: &TestApp, first: &str) -> (Vec<Vec<i32>>, Vec<Vec<i32>>) {
    let mut html = list_page(app, first).await;
    assert_eq!(pager(&html, "prev"), None, "the first page has no Previous link");
    let mut forward = vec![listed_ids(&html)];
    while let Some(next) = pager(&html, "next") {
        assert!(next.contains("cursor="), "Next link {next} carries a cursor");
        html = list_page(app, &next).await;
        forward.push(listed_ids(&html));
        assert!(forward.len() <= 10, "Next links never end");
    }
    let mut backward = vec![listed_ids(&html)];
    while let Some(prev) = pager(&html, "prev") {
        assert!(prev.contains("cursor="), "Previous link {prev} carries a cursor");
        html = list_page(app, &prev).await;
        backward.push(listed_ids(&html));
        assert!(backward.len() <= 10, "Previous links never end");
    }
    backward.reverse();
    (forward, backward)
}
