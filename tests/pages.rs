//! The page tour, in headless Chromium: every main page, as the role that
//! uses it, at a laptop's 1366×900 and a phone's 390×844, on a small team's
//! realistic data (an admin, a lead, two agents, about 60 contacts with
//! statuses, owners, labels, custom attributes and notes, an inbox with a
//! conversation, a pair of duplicates, a finished import and one waiting
//! at its preview, a trashed contact, the pipeline's figures computed).
//! Each page is screenshotted to `test-artifacts/pages/<backend>/` and
//! checked with axe-core (pinned in `package.json`; `npm ci` installs it);
//! the run's violations are written to `test-artifacts/axe/<backend>.json`
//! and any of impact serious or critical fails the tour. The list, a
//! contact's details and the pipeline are also kept in `docs/screenshots/`
//! (written when missing or with `UPDATE_SCREENSHOTS=1`).
//!
//! A second test works with JavaScript off: each important form (sign in,
//! a contact's create, edit, status and notes, a bulk action, a reply, a
//! merge, an import, sign out) submitted through real clicks.
//!
//! Run it with `npm ci && cargo test --features browser-tests --test pages`
//! (`.ci/run` does, on SQLite and on PostgreSQL).

mod common;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use common::browser::*;
use common::*;
use fantoccini::{Client, Locator};
use leadbook::service::users::Role;
use reqwest::{Method, StatusCode};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

/// The tour's two windows: a laptop and a phone (CSS pixels).
const SIZES: [(u32, u32); 2] = [(1366, 900), (390, 844)];

/// The pages whose screenshots are kept in `docs/screenshots/`, and the
/// name each is kept under.
const DOCUMENTED: [(&str, &str); 3] = [
    ("contacts-lead", "contacts-list"),
    ("contact", "contact-details"),
    ("pipeline", "pipeline"),
];

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The import sample the tour and the JavaScript-off run upload.
fn sample_csv() -> PathBuf {
    repo().join("tests/data/import-sample.csv")
}

// ------------------------------------------------------------------- axe

/// axe-core's script, as `npm ci` installed it from `package-lock.json`.
fn axe_source() -> String {
    let path = repo().join("node_modules/axe-core/axe.min.js");
    std::fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!(
            "{} cannot be read ({e}): run npm ci in {} to install axe-core, pinned in package.json",
            path.display(),
            repo().display()
        )
    })
}

/// One node axe flagged: its selectors and markup.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct AxeNode {
    /// CSS selectors, one per frame or shadow root (usually one).
    target: Vec<Value>,
    html: String,
    /// What is wrong and how to fix it (for contrast: the colours and ratio).
    #[serde(rename = "failureSummary", default)]
    failure_summary: String,
}

/// One rule a page breaks.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Violation {
    id: String,
    impact: Option<String>,
    help: String,
    #[serde(rename = "helpUrl")]
    help_url: String,
    nodes: Vec<AxeNode>,
}

impl Violation {
    fn grave(&self) -> bool {
        matches!(self.impact.as_deref(), Some("serious" | "critical"))
    }

    fn targets(&self, n: usize) -> Vec<String> {
        self.nodes
            .iter()
            .take(n)
            .map(|node| {
                node.target
                    .iter()
                    .map(|t| t.as_str().map(str::to_string).unwrap_or_else(|| t.to_string()))
                    .collect::<Vec<_>>()
                    .join(" >> ")
            })
            .collect()
    }
}

/// One page at one size, as the report has it.
#[derive(Debug, Serialize)]
struct Visit {
    page: String,
    size: String,
    width: u32,
    url: String,
    screenshot: String,
    violations: Vec<Violation>,
}

/// Injects axe-core into the page the browser is on and runs it on the
/// whole document; returns the violations.
async fn run_axe(c: &Client, axe: &str) -> Vec<Violation> {
    c.execute(axe, vec![]).await.expect("axe-core is injected");
    let answer = c
        .execute_async(
            r#"const done = arguments[arguments.length - 1];
            axe.run(document, {resultTypes: ['violations']})
              .then(r => done({violations: r.violations.map(v => ({
                  id: v.id, impact: v.impact, help: v.help, helpUrl: v.helpUrl,
                  nodes: v.nodes.map(n => ({target: n.target, html: n.html, failureSummary: n.failureSummary || ""})),
              }))}))
              .catch(e => done({error: String((e && e.stack) || e)}));"#,
            vec![],
        )
        .await
        .expect("axe.run answers");
    if let Some(error) = answer.get("error") {
        panic!("axe.run failed: {error}");
    }
    serde_json::from_value(answer["violations"].clone()).unwrap_or_else(|e| panic!("axe's answer ({e}): {answer}"))
}

/// The tour's findings, page by page.
struct Tour<'d> {
    driver: &'d Driver,
    axe: String,
    backend: &'static str,
    shots: PathBuf,
    visits: Vec<Visit>,
}

impl<'d> Tour<'d> {
    fn new(driver: &'d Driver) -> Tour<'d> {
        let backend = backend();
        let shots = artifacts().join("pages").join(backend);
        let _ = std::fs::remove_dir_all(&shots);
        std::fs::create_dir_all(&shots).unwrap();
        Tour {
            driver,
            axe: axe_source(),
            backend,
            shots,
            visits: Vec::new(),
        }
    }

    /// Opens `path` and checks it there.
    async fn visit(&mut self, c: &Client, app: &TestApp, page: &str, width: u32, path: &str) {
        c.goto(&app.url(path)).await.unwrap();
        let expected = path.split('?').next().unwrap();
        assert_eq!(path_of(c).await, expected, "{page} opens at {path} (not redirected)");
        if page != "not-found" {
            let error = c.find(Locator::Css(".error-page")).await;
            assert!(error.is_err(), "{page} ({path}) answers an error page");
        }
        self.check(c, page, width).await;
    }

    /// Screenshots the page the browser is on (the whole page in the
    /// artefacts, its first screen in the docs) and runs axe on it.
    async fn check(&mut self, c: &Client, page: &str, width: u32) {
        let height = SIZES.iter().find(|s| s.0 == width).unwrap().1;
        let png = full_page_screenshot(c, self.driver).await;
        assert!(png.starts_with(b"\x89PNG"), "{page}'s screenshot is a PNG");
        let shot = self.shots.join(format!("{page}-{width}.png"));
        std::fs::write(&shot, &png).unwrap();
        if let Some((_, kept)) = DOCUMENTED.iter().find(|(p, _)| *p == page) {
            keep_in_docs(&format!("{kept}-{width}.png"), &c.screenshot().await.unwrap());
        }
        let violations = run_axe(c, &self.axe).await;
        self.visits.push(Visit {
            page: page.to_string(),
            size: format!("{width}x{height}"),
            width,
            url: c.current_url().await.unwrap().to_string(),
            screenshot: shot.strip_prefix(repo()).unwrap_or(&shot).display().to_string(),
            violations,
        });
    }

    /// Writes `test-artifacts/axe/<backend>.json`; returns its path.
    fn write_report(&self) -> PathBuf {
        let dir = artifacts().join("axe");
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join(format!("{}.json", self.backend));
        let version = self.axe.lines().next().unwrap_or_default().trim_start_matches("/*! ");
        let report = json!({
            "axe": version,
            "backend": self.backend,
            "sizes": SIZES.iter().map(|(w, h)| format!("{w}x{h}")).collect::<Vec<_>>(),
            "visits": self.visits,
        });
        std::fs::write(&path, serde_json::to_string_pretty(&report).unwrap()).unwrap();
        path
    }

    /// One line per serious or critical violation: page, size, rule, help
    /// and the first three targets.
    fn grave_lines(&self) -> Vec<String> {
        let mut lines = Vec::new();
        for visit in &self.visits {
            for v in visit.violations.iter().filter(|v| v.grave()) {
                lines.push(format!(
                    "{} at {}: {} ({}) — {}; {} node(s), first: {}",
                    visit.page,
                    visit.size,
                    v.id,
                    v.impact.as_deref().unwrap_or("?"),
                    v.help,
                    v.nodes.len(),
                    v.targets(3).join(" | ")
                ));
            }
        }
        lines
    }
}

/// Writes a screenshot to `docs/screenshots/` when it is missing there or
/// `UPDATE_SCREENSHOTS=1` asks for it (so a CI run never dirties the
/// checkout: the pages show relative times, no two shots are the same).
fn keep_in_docs(name: &str, png: &[u8]) {
    let kept = repo().join("docs/screenshots").join(name);
    if std::env::var("UPDATE_SCREENSHOTS").as_deref() == Ok("1") || !kept.exists() {
        std::fs::create_dir_all(kept.parent().unwrap()).unwrap();
        std::fs::write(&kept, png).unwrap();
    }
}

// ------------------------------------------------------------- the team

/// What the seeded team's pages are about.
struct Team {
    /// Siti binti Rahman: labels, plan, notes, a follow-up, a look-alike.
    rich: i32,
    /// Siti R.: the same mailbox as Siti, so a duplicate pair.
    look_alike: i32,
    /// Siti's first note (by the lead).
    note: i32,
    /// Aminah, who wrote to the WhatsApp inbox.
    customer: i32,
    conversation: i64,
    import_ready: i32,
    import_done: i32,
    attribute: i32,
}

fn api_ok(status: StatusCode, json: &Value, what: &str) {
    assert!(status.is_success(), "{what}: {status} {json}");
}

/// Uploads `file` as the signed-in lead of `lead`; returns the import's ID
/// once its preview is ready.
async fn upload(lead: &TestApp, file: &Path) -> i32 {
    let (_, html) = lead.page("/imports/new").await;
    let token = csrf_of(&html);
    let part = reqwest::multipart::Part::bytes(std::fs::read(file).unwrap())
        .file_name(file.file_name().unwrap().to_string_lossy().to_string())
        .mime_str("text/csv")
        .unwrap();
    let form = reqwest::multipart::Form::new()
        .text("csrf_token", token)
        .part("file", part);
    let res = lead
        .client
        .post(lead.url("/imports"))
        .multipart(form)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::SEE_OTHER, "the sample is accepted");
    let id: i32 = location(&res)
        .trim_start_matches("/imports/")
        .parse()
        .expect("redirected to the import");
    wait_for_import(lead, id, "ready").await;
    id
}

async fn wait_for_import(lead: &TestApp, id: i32, state: &str) {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let (_, json) = {
            let res = lead.get(&format!("/imports/{id}/progress")).await;
            (res.status(), res.json::<Value>().await.unwrap())
        };
        if json["state"] == state {
            return;
        }
        assert!(Instant::now() < deadline, "import {id} is not {state}: {json}");
        actix_web::rt::time::sleep(Duration::from_millis(100)).await;
    }
}

/// An admin, a lead and two agents with about 60 contacts and everything
/// the pages show.
async fn seed_team(app: &TestApp) -> Team {
    use leadbook::service::{attributes, duplicates, followups, labels, messaging, notes, seed, trash, webhooks};
    let ada = app.add_user("ada@example.com", "Ada Admin", Role::Admin);
    let lee = app.add_user("lee@example.com", "Lee Lead", Role::Lead);
    let alex = app.add_user("alex@example.com", "Alex Agent", Role::Agent);
    app.add_user("bala@example.com", "Bala Agent", Role::Agent);
    let admin = app.token_for("ada@example.com");
    app.token_for("alex@example.com");

    // Custom attributes, labels, a webhook; 54 seeded contacts with
    // statuses, owners (the agents), plans and budgets.
    let seeded: Vec<i32> = app.with_db(|c| {
        let attrs = seed::seed_attributes(c).unwrap();
        seed::seed_contacts(c, 54, Some(&attrs), |_| {}).unwrap();
        for (name, color) in [("vip", "#b3261e"), ("wholesale", "#1a5fb4"), ("referral", "#26a269")] {
            labels::create(c, &ada, name, color).unwrap();
        }
        webhooks::create(
            c,
            &ada,
            "https://hooks.example.com/leadbook",
            &["contact.created".into(), "contact.status_changed".into()],
        )
        .unwrap();
        use diesel::prelude::*;
        use leadbook::db::schema::contacts;
        contacts::table
            .select(contacts::id)
            .order(contacts::id)
            .load(c)
            .unwrap()
    });
    let attribute = app.with_db(|c| attributes::by_key(c, "plan").unwrap().id);

    // Named contacts through the API: Siti and her look-alike, and a few more.
    let create = |body: Value| {
        let admin = admin.clone();
        async move {
            let (status, json) = send(app, Method::POST, "/contacts", &admin, Some(body)).await;
            api_ok(status, &json, "contact");
            json["id"].as_i64().unwrap() as i32
        }
    };
    let rich = create(json!({
        "name": "Siti binti Rahman", "email": "siti.rahman@gmail.com", "phone": "013-456 7890",
        "company": "Maju Trading Sdn Bhd", "city": "Kuantan", "status": "Qualified", "owner_id": alex.id,
        "custom_attributes": {"plan": "gold", "budget": 12000}
    }))
    .await;
    let look_alike = create(json!({"name": "Siti R.", "email": "sitirahman+shop@gmail.com", "city": "Kuantan"})).await;
    for (name, status) in [
        ("Lim Mei Ling", "Negotiating"),
        ("Rajesh Kumar", "Won"),
        ("Nur Izzati", "Lost"),
    ] {
        create(json!({"name": name, "email": format!("{}@example.com", name.to_lowercase().replace(' ', ".")), "status": status}))
            .await;
    }

    // An inbox, and a customer's conversation in it: two messages in, a reply out.
    let (status, inbox) = send(
        app,
        Method::POST,
        "/inboxes",
        &admin,
        Some(json!({"name": "Sales WhatsApp", "channel": "whatsapp", "delivery": {"kind": "sandbox"}})),
    )
    .await;
    api_ok(status, &inbox, "inbox");
    let inbox = inbox["id"].as_i64().unwrap();
    let mut conversation = 0;
    let mut customer = 0;
    for body in ["Hi, do you deliver to Ipoh?", "And how much is the gold plan?"] {
        let (status, json) = send(
            app,
            Method::POST,
            &format!("/inboxes/{inbox}/messages"),
            &admin,
            Some(json!({"source_id": "+60172223456", "name": "Aminah", "body": body})),
        )
        .await;
        api_ok(status, &json, "incoming message");
        conversation = json["conversation_id"].as_i64().unwrap();
        customer = json["contact_id"].as_i64().unwrap() as i32;
    }

    let note = app.with_db(|c| {
        messaging::send(c, &alex, customer, inbox as i32, "Yes, we deliver to Ipoh!").unwrap();
        let note = notes::add(
            c,
            &lee,
            rich,
            "call",
            "Called about the gold plan; she wants a quote for 3 shops.",
        )
        .unwrap()
        .id;
        notes::add(
            c,
            &alex,
            rich,
            "meeting",
            "Visited the Kuantan shop. Decision next week.",
        )
        .unwrap();
        notes::add(c, &lee, seeded[0], "note", "Prefers WhatsApp to calls.").unwrap();
        labels::set_for_contact(c, rich, &["vip".into(), "wholesale".into()]).unwrap();
        for (i, id) in seeded.iter().enumerate().take(30) {
            let label = ["vip", "wholesale", "referral"][i % 3];
            labels::set_for_contact(c, *id, &[label.into()]).unwrap();
        }
        let now = chrono::Utc::now().naive_utc();
        followups::set(c, rich, Some(now + chrono::Duration::days(1))).unwrap();
        for (i, id) in seeded.iter().enumerate().skip(5).take(6) {
            followups::set(c, *id, Some(now + chrono::Duration::hours(i as i64 * 7 - 20))).unwrap();
        }
        trash::move_to_trash(c, &lee, &[seeded[53]]).unwrap();
        duplicates::rebuild(c, |_| {}).unwrap();
        note
    });
    assert!(
        app.with_db(|c| duplicates::of_contact(c, rich).unwrap())
            .iter()
            .any(|(_, other, _)| other.id == look_alike),
        "Siti and Siti R. are a duplicate pair"
    );

    // As the lead: the pipeline's figures, one finished import and one at
    // its preview.
    let lead = app.login_as("lee@example.com").await;
    let res = lead.submit("/pipeline", "/pipeline/refresh", &[]).await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER, "pipeline figures computed");
    let import_done = upload(&lead, &sample_csv()).await;
    let res = lead
        .submit(
            &format!("/imports/{import_done}"),
            &format!("/imports/{import_done}/commit"),
            &[],
        )
        .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER, "the import is committed");
    wait_for_import(&lead, import_done, "done").await;
    let import_ready = upload(&lead, &sample_csv()).await;

    Team {
        rich,
        look_alike,
        note,
        customer,
        conversation,
        import_ready,
        import_done,
        attribute,
    }
}

// ------------------------------------------------------------- the tour

#[actix_web::test]
async fn every_page_at_two_sizes_has_no_serious_accessibility_violation() {
    let started = Instant::now();
    let driver = start_driver();
    let mut tour = Tour::new(&driver);
    let app = spawn_app().await;
    let team = seed_team(&app).await;
    println!("page tour: the team seeded in {:.1?}", started.elapsed());

    for size in SIZES {
        let w = size.0;
        let c = browser(&driver, size, JavaScript::On).await;

        // First run on a fresh app: setup, then the empty list.
        let fresh = spawn_app().await;
        tour.visit(&c, &fresh, "setup", w, "/setup").await;
        let viewport = c
            .execute("return [window.innerWidth, window.innerHeight]", vec![])
            .await
            .unwrap();
        assert_eq!(viewport, json!(size), "the viewport is {w}×{} CSS pixels", size.1);
        fill(&c, "#f-name", "Ada Admin").await;
        fill(&c, "#f-email", "ada@example.com").await;
        fill(&c, "#f-password", PASSWORD).await;
        fill(&c, "#f-password_confirm", PASSWORD).await;
        click(&c, "form[action='/setup'] button[type=submit]").await;
        expect_path(&c, "/contacts").await;
        tour.visit(&c, &fresh, "contacts-empty", w, "/contacts").await;
        sign_out(&c).await;

        // Signed out.
        tour.visit(&c, &app, "sign-in", w, "/login").await;

        // An agent's pages.
        sign_in(&c, &app, "alex@example.com").await;
        tour.visit(&c, &app, "contacts-agent", w, "/contacts").await;
        tour.visit(&c, &app, "conversations", w, "/conversations").await;
        let window = format!("/conversations/{}", team.conversation);
        tour.visit(&c, &app, "conversation", w, &window).await;
        let new_message = format!("/contacts/{}/messages/new", team.customer);
        tour.visit(&c, &app, "message-new", w, &new_message).await;
        tour.visit(&c, &app, "profile", w, "/profile").await;
        sign_out(&c).await;

        // A lead's.
        sign_in(&c, &app, "lee@example.com").await;
        tour.visit(&c, &app, "contacts-lead", w, "/contacts?owner=all").await;
        let details = format!("/contacts/{}", team.rich);
        tour.visit(&c, &app, "contact", w, &details).await;
        tour.visit(&c, &app, "contact-new", w, "/contacts/new").await;
        tour.visit(&c, &app, "contact-edit", w, &format!("{details}/edit"))
            .await;
        tour.visit(&c, &app, "note-edit", w, &format!("/notes/{}/edit", team.note))
            .await;
        tour.visit(&c, &app, "contact-delete", w, &format!("{details}/delete"))
            .await;
        let merge = format!("{details}/merge?other={}", team.look_alike);
        c.goto(&app.url(&merge)).await.unwrap();
        assert!(
            c.find(Locator::Css("table.merge-preview")).await.is_ok(),
            "the merge dialog shows its preview"
        );
        tour.check(&c, "merge", w).await;
        tour.visit(&c, &app, "merges", w, "/merges").await;
        tour.visit(&c, &app, "duplicates", w, "/contacts/duplicates").await;
        tour.visit(&c, &app, "import-new", w, "/imports/new").await;
        let preview = format!("/imports/{}", team.import_ready);
        tour.visit(&c, &app, "import-preview", w, &preview).await;
        assert_eq!(
            attr_of(&c, ".import-state", "data-state").await.as_deref(),
            Some("ready")
        );
        let result = format!("/imports/{}", team.import_done);
        tour.visit(&c, &app, "import-result", w, &result).await;
        assert_eq!(
            attr_of(&c, ".import-state", "data-state").await.as_deref(),
            Some("done")
        );
        tour.visit(&c, &app, "pipeline", w, "/pipeline").await;
        tour.visit(&c, &app, "follow-ups", w, "/follow-ups").await;
        tour.visit(&c, &app, "team", w, "/team").await;
        tour.visit(&c, &app, "not-found", w, "/contacts/999999").await;
        tour.visit(&c, &app, "trash", w, "/trash").await;
        sign_out(&c).await;

        // An admin's.
        sign_in(&c, &app, "ada@example.com").await;
        for page in [
            "users",
            "inboxes",
            "attributes",
            "labels",
            "tokens",
            "webhooks",
            "activity",
        ] {
            tour.visit(&c, &app, &format!("settings-{page}"), w, &format!("/settings/{page}"))
                .await;
        }
        let attribute = format!("/settings/attributes/{}", team.attribute);
        tour.visit(&c, &app, "settings-attribute", w, &attribute).await;
        sign_out(&c).await;

        c.close().await.unwrap();
    }

    let report = tour.write_report();
    let total: usize = tour.visits.iter().map(|v| v.violations.len()).sum();
    println!(
        "page tour ({}): {} visits in {:.0?}, {} rule violations of any impact; report {}, screenshots {}",
        tour.backend,
        tour.visits.len(),
        started.elapsed(),
        total,
        report.display(),
        tour.shots.display()
    );
    let grave = tour.grave_lines();
    assert!(
        grave.is_empty(),
        "{} serious or critical accessibility violation(s) (axe-core; full report in {}):\n{}",
        grave.len(),
        report.display(),
        grave.join("\n")
    );
}

// ------------------------------------------------- with JavaScript off

/// Waits until the import page shows `state`, following the page's own
/// "Refresh" link (a `<noscript>` link: with scripts off it is markup) or
/// reloading; returns how many times it had to.
async fn refresh_until(c: &Client, state: &str) -> usize {
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut refreshed = 0;
    loop {
        let shown = attr_of(c, ".import-state", "data-state").await.unwrap_or_default();
        if shown == state {
            return refreshed;
        }
        assert!(
            Instant::now() < deadline,
            "the import page shows {shown:?}, not {state:?}, after a minute of refreshing"
        );
        actix_web::rt::time::sleep(Duration::from_millis(200)).await;
        match c
            .find(Locator::Css("noscript a, .import-progress a[href^='/imports/']"))
            .await
        {
            Ok(link) => link.click().await.unwrap(),
            Err(_) => c.refresh().await.unwrap(),
        }
        refreshed += 1;
    }
}

#[actix_web::test]
async fn every_important_form_works_with_javascript_off() {
    use leadbook::service::seed;
    let app = spawn_app().await;
    app.add_user("ada@example.com", "Ada Admin", Role::Admin);
    app.add_user("lee@example.com", "Lee Lead", Role::Lead);
    app.add_user("alex@example.com", "Alex Agent", Role::Agent);
    let admin = app.token_for("ada@example.com");
    app.with_db(|c| {
        seed::seed_attributes(c).unwrap();
        seed::seed_contacts(c, 8, None, |_| {}).unwrap();
    });
    // Farah, typed in; farah.aziz, the same customer on WhatsApp.
    let (status, farah) = send(
        &app,
        Method::POST,
        "/contacts",
        &admin,
        Some(json!({"name": "Farah Aziz", "email": "farah@example.com"})),
    )
    .await;
    api_ok(status, &farah, "Farah");
    let farah = farah["id"].as_i64().unwrap();
    let (status, inbox) = send(
        &app,
        Method::POST,
        "/inboxes",
        &admin,
        Some(json!({"name": "Sales WhatsApp", "channel": "whatsapp", "delivery": {"kind": "sandbox"}})),
    )
    .await;
    api_ok(status, &inbox, "inbox");
    let (status, incoming) = send(
        &app,
        Method::POST,
        &format!("/inboxes/{}/messages", inbox["id"]),
        &admin,
        Some(json!({"source_id": "+60123987654", "name": "farah.aziz", "body": "Is the promo still on?"})),
    )
    .await;
    api_ok(status, &incoming, "incoming message");
    let other = incoming["contact_id"].as_i64().unwrap();
    let window = format!("/conversations/{}", incoming["conversation_id"]);

    let driver = start_driver();
    let c = browser(&driver, SIZES[0], JavaScript::Off).await;

    // Scripts are off: a page's script changes nothing…
    c.goto("data:text/html,<p id=x>static</p><script>document.getElementById('x').textContent='scripted'</script>")
        .await
        .unwrap();
    assert_eq!(text_of(&c, "#x").await, "static", "page scripts do not run");

    // Sign in.
    sign_in(&c, &app, "lee@example.com").await;
    assert!(text_of(&c, ".menu-user .who").await.contains("Lee Lead"));

    // Create a contact.
    click(&c, "a.button.primary[href='/contacts/new']").await;
    expect_path(&c, "/contacts/new").await;
    fill(&c, "#f-name", "Nadia Hassan").await;
    fill(&c, "#f-email", "nadia@example.com").await;
    fill(&c, "#f-phone", "017-222 3344").await;
    click(&c, "form[action='/contacts'] button[type=submit]").await;
    expect_flash(&c, "Contact created").await;
    let details = path_of(&c).await;
    let id: i32 = details
        .trim_start_matches("/contacts/")
        .parse()
        .expect("the new contact's page");
    assert!(text_of(&c, "h1").await.contains("Nadia Hassan"));

    // Edit it: a company and a plan.
    click(&c, &format!("a.button[href='{details}/edit']")).await;
    expect_path(&c, &format!("{details}/edit")).await;
    fill(&c, "#f-company", "Kedai Nadia").await;
    select(&c, "select[name='custom.plan']", "gold").await;
    click(&c, &format!("form[action='{details}'] button[type=submit]")).await;
    expect_flash(&c, "Contact saved").await;
    expect_path(&c, &details).await;
    assert!(text_of(&c, "dl.attributes").await.contains("Kedai Nadia"));
    assert_eq!(text_of(&c, "dl.custom-attributes .value").await, "gold");

    // Change its status.
    select(&c, "#f-status", "3").await;
    click(&c, "form[action$='/status'] button").await;
    expect_flash(&c, "Status set to Qualified").await;
    assert!(text_of(&c, "h1 .badge").await.contains("Qualified"));

    // Add a note, then delete it.
    fill(&c, "#f-note-body", "Asked for a quote for two shops").await;
    click(&c, &format!("form[action='{details}/notes'] button[type=submit]")).await;
    expect_flash(&c, "Note added").await;
    assert_eq!(
        texts_of(&c, "li.note .note-body").await,
        ["Asked for a quote for two shops"]
    );
    click(&c, "li.note form[action$='/delete'] button").await;
    expect_flash(&c, "Note deleted").await;
    assert!(texts_of(&c, "li.note").await.is_empty(), "the note is gone");

    // A bulk action as a lead: tick the row, open the folded bulk panel
    // (without scripts, ticking does not open it), choose the action, then
    // its value, confirm.
    c.goto(&app.url("/contacts?owner=all")).await.unwrap();
    click(&c, &format!("input[name=ids][value='{id}']")).await;
    assert_eq!(
        attr_of(&c, "details#bulk-panel", "open").await,
        None,
        "the bulk panel is closed (no script opens it)"
    );
    click(&c, "details#bulk-panel > summary").await;
    select(&c, "#bulk-action", "status").await;
    select(&c, "#bulk-status", "6").await;
    click(&c, "form#bulk button[name=scope][value=selected]").await;
    expect_path(&c, "/contacts/bulk").await;
    assert_eq!(
        text_of(&c, "#bulk-count").await,
        "1",
        "the confirmation counts one contact"
    );
    click(&c, "form[action='/contacts/bulk'] button.primary").await;
    expect_flash(&c, "Done: set the status to Won — 1 contacts, 1 changed.").await;
    c.goto(&app.url(&details)).await.unwrap();
    assert!(text_of(&c, "h1 .badge").await.contains("Won"), "Nadia is Won");

    // Reply in a conversation.
    click(&c, "nav.menu a[href='/conversations']").await;
    expect_path(&c, "/conversations").await;
    click(&c, &format!("ul.conversation-list a[href='{window}']")).await;
    expect_path(&c, &window).await;
    fill(&c, "#f-reply", "Yes, until Friday!").await;
    click(&c, "form.reply button[type=submit]").await;
    expect_flash(&c, "Message queued for delivery").await;
    assert_eq!(texts_of(&c, "li.message.out .bubble").await, ["Yes, until Friday!"]);

    // The merge dialog: find, preview, change the preview, confirm.
    c.goto(&app.url(&format!("/contacts/{farah}"))).await.unwrap();
    click(&c, &format!("a[href='/contacts/{farah}/merge']")).await;
    fill(&c, "#merge-q", "farah").await;
    click(&c, "form[role=search] button[type=submit]").await;
    click(&c, &format!("ul.merge-found a[href$='other={other}']")).await;
    assert_eq!(text_of(&c, "tr[data-field=phone] td.result").await, "+60123987654");
    assert_eq!(text_of(&c, "tr[data-field=name] td.result").await, "Farah Aziz");
    click(&c, "input[name=take_from_other][value=name]").await;
    click(&c, "table.merge-preview ~ p.actions button[type=submit]").await;
    let deadline = Instant::now() + Duration::from_secs(10);
    while text_of(&c, "tr[data-field=name] td.result").await != "farah.aziz" {
        assert!(Instant::now() < deadline, "the updated preview takes the other name");
        actix_web::rt::time::sleep(Duration::from_millis(50)).await;
    }
    click(&c, "input[name=take_from_other][value=name]").await;
    click(&c, "table.merge-preview ~ p.actions button[type=submit]").await;
    let deadline = Instant::now() + Duration::from_secs(10);
    while text_of(&c, "tr[data-field=name] td.result").await != "Farah Aziz" {
        assert!(Instant::now() < deadline, "the preview keeps Farah's name again");
        actix_web::rt::time::sleep(Duration::from_millis(50)).await;
    }
    click(
        &c,
        &format!("form[method=post][action='/contacts/{farah}/merge'] button.primary"),
    )
    .await;
    expect_flash(
        &c,
        &format!("Merged contact #{other} into Farah Aziz. Undo it from the merge log (merge #1)."),
    )
    .await;
    assert!(text_of(&c, "dl.attributes").await.contains("+60123987654"));

    // An import: upload, preview, commit, and its result by refreshing.
    click(&c, "nav.menu a[href='/contacts']").await;
    click(&c, "a.button[href='/imports/new']").await;
    expect_path(&c, "/imports/new").await;
    let file = sample_csv().display().to_string();
    on_element(&c, "input[type=file][name=file]", |input| {
        let file = file.clone();
        async move { input.send_keys(&file).await }
    })
    .await;
    click(&c, "form[action='/imports'] button[type=submit]").await;
    let deadline = Instant::now() + Duration::from_secs(30);
    let page = loop {
        let path = path_of(&c).await;
        if path
            .strip_prefix("/imports/")
            .is_some_and(|id| id.parse::<i32>().is_ok())
        {
            break path;
        }
        assert!(Instant::now() < deadline, "still on {path} after the upload");
        actix_web::rt::time::sleep(Duration::from_millis(100)).await;
    };
    let checking = refresh_until(&c, "ready").await;
    assert_eq!(
        attr_of(&c, "ul.import-counts", "data-summary").await.as_deref(),
        Some("created 9, updated 1, skipped 0, rejected 7"),
        "the preview's counts"
    );
    click(&c, &format!("form[action='{page}/commit'] button[type=submit]")).await;
    expect_path(&c, &page).await;
    let committing = refresh_until(&c, "done").await;
    assert_eq!(
        attr_of(&c, "ul.import-counts", "data-summary").await.as_deref(),
        Some("created 9, updated 1, skipped 0, rejected 7"),
        "the result's counts"
    );
    println!("import with scripts off: {checking} refresh(es) to the preview, {committing} to the result");

    // Sign out: the list asks to sign in again.
    sign_out(&c).await;
    c.goto(&app.url("/contacts")).await.unwrap();
    expect_path(&c, "/login").await;

    c.close().await.unwrap();
}
