//! The import pages (issue 7) through real HTTP, on the backend
//! `TEST_DATABASE_URL` picks: upload, preview (the dry run), commit with
//! progress, the result and the rejected rows as CSV; files refused as a
//! whole; the upload limit; leads and admins only, CSRF-checked.

mod common;
use common::*;

use std::time::{Duration, Instant};

use leadbook::service::users::Role;
use reqwest::multipart::{Form, Part};
use reqwest::{Method, Response, StatusCode};
use scraper::{Html, Selector};
use serde_json::{json, Value};

/// `import-sample.csv` (docs: the shared sample and its README): UTF-8 with a
/// BOM; with the custom attributes `plan` (gold, silver) and `budget` (a
/// number) it gives `created 9, updated 1, skipped 0, rejected 7`.
const SAMPLE: &str = concat!(
    "\u{feff}",
    r#"name,email,identifier,phone_number,status,owner,plan,budget
Aisyah Rahman,aisyah.rahman@example.com,shop-0001,+60123456789,New,,gold,5000
"Tan, Wei Ming",WEIMING.TAN@Example.com,shop-0002,012-345 6780,Reach,,silver,1200
Siti Nurhaliza,,shop-0003,60198765432,qualified,,,
Rajesh Kumar,rajesh@example.com,,+60 11-3777 7777,Disqualified,,gold,
Lim Mei Ling,meiling@example.com,shop-0005,,Negotiating,,silver,800.50
Ahmad Faizal,ahmad.faizal@example.com,,0162223333,6,,,
Nur Izzati,izzati@example.com,shop-0007,,Lost,,,
Aisyah Rahman,aisyah.rahman@example.com,,,Reach,,,
Chong Kah Wai,not-an-email,shop-0009,,New,,,
Farah Ahmad,farah@example.com,shop-0010,12345,New,,,
Kumar Ravi,ravi@example.com,shop-0011,+60124445555,Closed,,,
Hafiz Osman,hafiz@example.com,shop-0012,+60125556666,New,,platinum,
Grace Wong,grace@example.com,shop-0013,+60127778888,New,,,lots
,nobody@example.com,shop-0014,+60129990000,New,,,
Zul Ariffin,,,,New,,,
"=HYPERLINK(""http://evil.example"",""click"")",formula@example.com,shop-0016,,New,,,
<script>alert(1)</script>,xss@example.com,shop-0017,,New,,,
"#
);

const SAMPLE_HEADER: [&str; 8] = [
    "name",
    "email",
    "identifier",
    "phone_number",
    "status",
    "owner",
    "plan",
    "budget",
];

/// An admin (with the sample's custom attributes defined), a lead and an agent.
async fn team() -> TestApp {
    team_with(&[]).await
}

async fn team_with(settings: &[(&str, &str)]) -> TestApp {
    let app = spawn_app_with(settings).await;
    app.add_user("admin@example.com", "Ada Admin", Role::Admin);
    app.add_user("lead@example.com", "Lee Lead", Role::Lead);
    app.add_user("agent@example.com", "Agnes Agent", Role::Agent);
    let admin = app.token_for("admin@example.com");
    for body in [
        json!({"key": "plan", "display_name": "Plan", "type": "list", "options": ["gold", "silver"]}),
        json!({"key": "budget", "display_name": "Budget", "type": "number"}),
    ] {
        let (status, json) = send(&app, Method::POST, "/custom_attributes", &admin, Some(body)).await;
        assert_eq!(status, StatusCode::CREATED, "{json}");
    }
    app
}

/// The upload form's body: the CSRF token (when given), the other fields,
/// then the file.
fn upload_form(token: Option<&str>, fields: &[(&str, &str)], file_name: &str, bytes: Vec<u8>) -> Form {
    let mut form = Form::new();
    if let Some(token) = token {
        form = form.text("csrf_token", token.to_string());
    }
    for (name, value) in fields {
        form = form.text(name.to_string(), value.to_string());
    }
    let part = Part::bytes(bytes)
        .file_name(file_name.to_string())
        .mime_str("text/csv")
        .expect("mime");
    form.part("file", part)
}

/// Like a browser: takes the token from the upload form, then sends the file.
async fn upload(app: &TestApp, file_name: &str, bytes: impl Into<Vec<u8>>, fields: &[(&str, &str)]) -> Response {
    let (status, html) = app.page("/imports/new").await;
    assert_eq!(status, StatusCode::OK, "the upload form opens");
    let token = csrf_of(&html);
    send_upload(app, Some(&token), fields, file_name, bytes.into()).await
}

async fn send_upload(
    app: &TestApp,
    token: Option<&str>,
    fields: &[(&str, &str)],
    file_name: &str,
    bytes: Vec<u8>,
) -> Response {
    app.client
        .post(app.url("/imports"))
        .multipart(upload_form(token, fields, file_name, bytes))
        .send()
        .await
        .expect("POST /imports")
}

/// Uploads a file that is accepted; returns the import's ID.
async fn checked_import(app: &TestApp, file_name: &str, bytes: impl Into<Vec<u8>>, fields: &[(&str, &str)]) -> i32 {
    let res = upload(app, file_name, bytes, fields).await;
    let status = res.status();
    let to = location(&res);
    let body = res.text().await.unwrap();
    assert_eq!(
        status,
        StatusCode::SEE_OTHER,
        "{file_name} is accepted: {}",
        error_of(&body)
    );
    to.strip_prefix("/imports/")
        .and_then(|id| id.parse().ok())
        .unwrap_or_else(|| panic!("redirected to the import's page, not {to}"))
}

/// The refusal shown on the upload form.
fn error_of(html: &str) -> String {
    texts(html, ".import-error").join(" ")
}

fn texts(html: &str, css: &str) -> Vec<String> {
    let doc = Html::parse_document(html);
    let selector = Selector::parse(css).expect("selector");
    doc.select(&selector)
        .map(|e| e.text().collect::<String>().trim().to_string())
        .collect()
}

fn attr(html: &str, css: &str, name: &str) -> Option<String> {
    let doc = Html::parse_document(html);
    let selector = Selector::parse(css).expect("selector");
    doc.select(&selector)
        .next()
        .and_then(|e| e.value().attr(name))
        .map(str::to_string)
}

/// The counts an import page shows, as `created 9, updated 1, …`.
fn summary_of(html: &str) -> String {
    attr(html, "ul.import-counts", "data-summary").expect("the page shows the counts")
}

/// The column mapping of a preview: (header, what it fills).
fn mapping_of(html: &str) -> Vec<(String, String)> {
    let doc = Html::parse_document(html);
    let row = Selector::parse("table.import-columns tbody tr").unwrap();
    let cell = Selector::parse("td").unwrap();
    doc.select(&row)
        .map(|r| {
            let cells: Vec<String> = r.select(&cell).map(|c| c.text().collect::<String>()).collect();
            (cells[0].clone(), cells[1].clone())
        })
        .collect()
}

/// The rejected rows a page lists: (line, reason).
fn rejected_of(html: &str) -> Vec<(i64, String)> {
    let doc = Html::parse_document(html);
    let row = Selector::parse("table.import-rejected tbody tr").unwrap();
    let reason = Selector::parse("td.reason").unwrap();
    doc.select(&row)
        .map(|r| {
            let line = r.value().attr("data-line").unwrap().parse().unwrap();
            let why = r.select(&reason).next().unwrap().text().collect::<String>();
            (line, why)
        })
        .collect()
}

/// Commits through the preview's form.
async fn commit(app: &TestApp, id: i32) -> Response {
    app.submit(&format!("/imports/{id}"), &format!("/imports/{id}/commit"), &[])
        .await
}

/// Polls the progress until the import is done; returns the last answer.
async fn wait_until_done(app: &TestApp, id: i32) -> Value {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let res = app.get(&format!("/imports/{id}/progress")).await;
        assert_eq!(res.status(), StatusCode::OK);
        assert!(res.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("application/json"));
        let progress: Value = res.json().await.unwrap();
        if progress["state"] == "done" {
            return progress;
        }
        assert_eq!(progress["state"], "committing", "{progress}");
        assert!(Instant::now() < deadline, "import {id} not done in time: {progress}");
        actix_web::rt::time::sleep(Duration::from_millis(50)).await;
    }
}

fn csv_rows(text: &str) -> Vec<Vec<String>> {
    csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(text.as_bytes())
        .records()
        .map(|r| r.expect("valid CSV").iter().map(str::to_string).collect())
        .collect()
}

fn import_count(app: &TestApp) -> i64 {
    use diesel::prelude::*;
    use leadbook::db::schema::imports;
    app.with_db(|c| imports::table.count().get_result(c).expect("count"))
}

fn import_states(app: &TestApp) -> Vec<String> {
    use diesel::prelude::*;
    use leadbook::db::schema::imports;
    app.with_db(|c| {
        imports::table
            .order(imports::id)
            .select(imports::state)
            .load(c)
            .expect("states")
    })
}

#[actix_web::test]
async fn the_sample_is_previewed_committed_and_imported_again_unchanged() {
    let app = team().await;
    let lead = app.login_as("lead@example.com").await;

    // The contacts list leads to the import.
    let (_, list) = lead.page("/contacts").await;
    assert!(list.contains("href=\"/imports/new\""), "the list links the import");

    // Upload: the file is checked, nothing is written yet.
    let id = checked_import(&lead, "import-sample.csv", SAMPLE, &[]).await;
    assert_eq!(lead.contact_count(), 0, "the dry run writes no contact");
    let (status, preview) = lead.page(&format!("/imports/{id}")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(preview.contains("import-sample.csv"), "the page names the file");
    assert_eq!(summary_of(&preview), "created 9, updated 1, skipped 0, rejected 7");
    assert_eq!(
        texts(&preview, "li[data-outcome=created] strong"),
        ["9"],
        "9 to create, in its box"
    );
    let mapping = mapping_of(&preview);
    let expected: Vec<(String, String)> = [
        ("name", "name"),
        ("email", "email"),
        ("identifier", "identifier"),
        ("phone_number", "phone_number"),
        ("status", "status"),
        ("owner", "owner"),
        ("plan", "custom attribute plan"),
        ("budget", "custom attribute budget"),
    ]
    .iter()
    .map(|(h, t)| (h.to_string(), t.to_string()))
    .collect();
    assert_eq!(mapping, expected, "the column mapping");
    let rejected = rejected_of(&preview);
    let lines: Vec<i64> = rejected.iter().map(|(l, _)| *l).collect();
    assert_eq!(lines, [10, 11, 12, 13, 14, 15, 16], "the rejected rows, in file order");
    let why = |line: i64| rejected.iter().find(|(l, _)| *l == line).unwrap().1.clone();
    assert!(why(10).contains("email"), "line 10: {}", why(10));
    assert!(why(11).contains("phone_number"), "line 11: {}", why(11));
    assert!(why(12).contains("Closed"), "line 12: {}", why(12));
    assert!(why(13).contains("plan"), "line 13: {}", why(13));
    assert!(why(14).contains("budget"), "line 14: {}", why(14));
    assert!(why(15).contains("name"), "line 15: {}", why(15));
    assert_eq!(why(16), "needs an email, a phone number or an identifier");
    assert!(
        preview.contains(&format!("action=\"/imports/{id}/commit\"")),
        "the preview offers the commit"
    );

    // Commit: it runs in the background; the progress reaches done.
    let res = commit(&lead, id).await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&res), format!("/imports/{id}"));
    let progress = wait_until_done(&lead, id).await;
    assert_eq!(progress["done_rows"], 17, "{progress}");
    assert_eq!(progress["total_rows"], 17, "{progress}");
    assert_eq!(progress["percent"], 100, "{progress}");
    assert_eq!(
        progress["counts"],
        json!({"created": 9, "updated": 1, "skipped": 0, "rejected": 7})
    );

    // The result: the counts, the rejected rows' file, the way to the contacts.
    let (_, result) = lead.page(&format!("/imports/{id}")).await;
    assert_eq!(summary_of(&result), "created 9, updated 1, skipped 0, rejected 7");
    assert_eq!(attr(&result, ".import-state", "data-state").as_deref(), Some("done"));
    let csv_href = format!("/imports/{id}/rejected.csv");
    assert!(
        result.contains(&format!("href=\"{csv_href}\"")),
        "the result links rejected.csv"
    );
    assert!(result.contains("href=\"/contacts?owner=all\""), "and the contacts");
    assert_eq!(lead.contact_count(), 9);

    let res = lead.get(&csv_href).await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.headers()["content-type"], "text/csv; charset=utf-8");
    assert_eq!(
        res.headers()["content-disposition"],
        "attachment; filename=\"rejected.csv\""
    );
    let rows = csv_rows(&res.text().await.unwrap());
    let mut header: Vec<&str> = SAMPLE_HEADER.to_vec();
    header.push("error");
    assert_eq!(rows[0], header, "the file's header plus an error column");
    assert_eq!(rows.len(), 1 + 7, "7 rejected rows: {rows:?}");
    assert_eq!(rows[1][..2], ["Chong Kah Wai", "not-an-email"], "the row as it was");
    assert!(rows[1][8].contains("email"), "with its reason: {:?}", rows[1]);
    assert_eq!(rows[6][0], "", "the nameless row");
    assert_eq!(rows[7][0], "Zul Ariffin");

    // What was imported shows escaped, and reads as the sample says.
    let (_, list) = lead.page("/contacts?owner=all").await;
    assert!(
        texts(&list, "table.contacts a.name").contains(&"<script>alert(1)</script>".to_string()),
        "the name reads as written"
    );
    assert!(!list.contains("<script>alert(1)</script>"), "and is escaped");

    // The same file again: every accepted row matches and changes nothing.
    let again = checked_import(&lead, "import-sample.csv", SAMPLE, &[]).await;
    assert_ne!(again, id);
    let (_, preview) = lead.page(&format!("/imports/{again}")).await;
    assert_eq!(summary_of(&preview), "created 0, updated 0, skipped 10, rejected 7");
    let res = commit(&lead, again).await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let progress = wait_until_done(&lead, again).await;
    assert_eq!(
        progress["counts"],
        json!({"created": 0, "updated": 0, "skipped": 10, "rejected": 7})
    );
    let (_, result) = lead.page(&format!("/imports/{again}")).await;
    assert_eq!(summary_of(&result), "created 0, updated 0, skipped 10, rejected 7");
    assert_eq!(lead.contact_count(), 9, "nothing new the second time");

    // A committed import is not committed twice.
    let res = commit(&lead, again).await;
    assert_eq!(res.status(), StatusCode::CONFLICT);
    assert!(res.text().await.unwrap().contains("committed already"));

    // The upload form lists both imports, newest first, with their outcome.
    let (_, form) = lead.page("/imports/new").await;
    let listed: Vec<String> = {
        let doc = Html::parse_document(&form);
        let sel = Selector::parse("tr[data-import]").unwrap();
        doc.select(&sel)
            .map(|r| r.value().attr("data-import").unwrap().to_string())
            .collect()
    };
    assert_eq!(listed, [again.to_string(), id.to_string()]);
    assert!(form.contains(&format!("href=\"/imports/{id}\"")));
    assert!(texts(&form, "tr[data-import]")[1].contains("created 9, updated 1, skipped 0, rejected 7"));
}

#[actix_web::test]
async fn files_refused_as_a_whole_say_why_and_write_nothing() {
    let app = team().await;
    let lead = app.login_as("lead@example.com").await;

    let refused: [(&str, Vec<u8>, &str); 6] = [
        (
            "photo.png",
            b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR\0\0\0\x01".to_vec(),
            "This is not a CSV file (it looks like a PNG image).",
        ),
        ("empty.csv", Vec::new(), "The file is empty."),
        (
            "header.csv",
            b"name,email\n".to_vec(),
            "The file has a header but no rows.",
        ),
        (
            "noname.csv",
            b"email,phone\nali@example.com,+60123456789\n".to_vec(),
            "The file has no \"name\" column.",
        ),
        (
            "twice.csv",
            b"name,phone,phone_number\nAli,+60123456789,+60123456789\n".to_vec(),
            "The columns \"phone\" and \"phone_number\" are the same column.",
        ),
        (
            "colour.csv",
            b"name,email,colour\nAli,ali@example.com,red\n".to_vec(),
            "Unknown column \"colour\"",
        ),
    ];
    for (file_name, bytes, message) in refused {
        let res = upload(&lead, file_name, bytes, &[]).await;
        let status = res.status();
        let html = res.text().await.unwrap();
        assert_eq!(status, StatusCode::BAD_REQUEST, "{file_name} is refused");
        let shown = error_of(&html);
        assert!(shown.contains(message), "{file_name}: {shown:?} says {message:?}");
        assert!(
            html.contains("enctype=\"multipart/form-data\""),
            "{file_name}: the form is there to try again"
        );
    }
    assert_eq!(lead.contact_count(), 0, "nothing written");
    assert_eq!(import_states(&app), ["failed"; 6], "each refusal is on record");

    // No file chosen at all.
    let (_, html) = lead.page("/imports/new").await;
    let token = csrf_of(&html);
    let form = Form::new().text("csrf_token", token.clone()).part(
        "file",
        Part::bytes(Vec::new())
            .file_name("")
            .mime_str("application/octet-stream")
            .unwrap(),
    );
    let res = lead
        .client
        .post(lead.url("/imports"))
        .multipart(form)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    assert_eq!(error_of(&res.text().await.unwrap()), "Choose a CSV file to upload.");
    assert_eq!(import_count(&app), 6, "no import recorded without a file");

    // The refused page keeps what was chosen, and escapes the file's words.
    let res = upload(
        &lead,
        "tags.csv",
        "name,email,<b>bold</b>\nAli,ali@example.com,x\n",
        &[("ignore", "notes")],
    )
    .await;
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    let html = res.text().await.unwrap();
    assert!(error_of(&html).contains("\"<b>bold</b>\""), "the header is named");
    assert!(!html.contains("<b>bold</b>"), "escaped");
    assert_eq!(attr(&html, "#f-ignore", "value").as_deref(), Some("notes"));

    // The unknown column, ignored by name (any case) or as unknown: accepted.
    let colour = "name,email,colour\nAli,ali@example.com,red\n";
    let id = checked_import(&lead, "colour.csv", colour, &[("ignore", "notes, Colour")]).await;
    let (_, preview) = lead.page(&format!("/imports/{id}")).await;
    assert_eq!(mapping_of(&preview)[2], ("colour".to_string(), "ignored".to_string()));
    assert_eq!(summary_of(&preview), "created 1, updated 0, skipped 0, rejected 0");
    let id = checked_import(&lead, "colour.csv", colour, &[("ignore_unknown", "1")]).await;
    let (_, preview) = lead.page(&format!("/imports/{id}")).await;
    assert_eq!(summary_of(&preview), "created 1, updated 0, skipped 0, rejected 0");
    assert_eq!(lead.contact_count(), 0, "checked, not committed");
}

#[actix_web::test]
async fn an_upload_over_the_limit_is_refused_with_413() {
    let app = team_with(&[("MAX_UPLOAD_MB", "1")]).await;
    let lead = app.login_as("lead@example.com").await;
    let (_, form) = lead.page("/imports/new").await;
    assert!(form.contains("Up to 1 MB"), "the form states the limit");

    // 1.5 MB of good rows.
    let mut big = String::from("name,email\n");
    let mut n = 0;
    while big.len() < 1_572_864 {
        n += 1;
        big.push_str(&format!("Customer {n},customer{n}@example.com\n"));
    }
    let res = upload(&lead, "big.csv", big, &[]).await;
    assert_eq!(res.status(), StatusCode::PAYLOAD_TOO_LARGE);
    let html = res.text().await.unwrap();
    assert!(
        error_of(&html).contains("larger than the upload limit of 1 MB"),
        "{}",
        error_of(&html)
    );

    // A body announced far over the limit is refused before it is read.
    let huge = vec![b'x'; 24 * 1024 * 1024];
    let res = upload(&lead, "huge.csv", huge, &[]).await;
    assert_eq!(res.status(), StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(import_count(&app), 0, "no import recorded");
    assert_eq!(lead.contact_count(), 0);

    // Just under the limit is fine.
    let mut under = String::from("name,email,company\nAli,ali@example.com,");
    under.push_str(&"x".repeat(1_000_000));
    under.push('\n');
    let id = checked_import(&lead, "under.csv", under, &[]).await;
    let (status, _) = lead.page(&format!("/imports/{id}")).await;
    assert_eq!(status, StatusCode::OK);
}

#[actix_web::test]
async fn only_leads_and_admins_import_and_every_form_needs_its_token() {
    let app = team().await;
    let lead = app.login_as("lead@example.com").await;
    let agent = app.login_as("agent@example.com").await;
    let admin = app.login_as("admin@example.com").await;

    let (_, list) = agent.page("/contacts").await;
    assert!(!list.contains("/imports/new"), "agents are not offered the import");
    let (status, _) = admin.page("/imports/new").await;
    assert_eq!(status, StatusCode::OK, "admins import");

    // An agent cannot upload, even with a valid token.
    let (status, _) = agent.page("/imports/new").await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let agent_token = csrf_of(&agent.page("/contacts").await.1);
    let res = send_upload(&agent, Some(&agent_token), &[], "sample.csv", SAMPLE.into()).await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    assert_eq!(import_count(&app), 0, "nothing recorded for the agent");

    // Nor see, commit or download a lead's import.
    let id = checked_import(&lead, "sample.csv", SAMPLE, &[]).await;
    for path in [
        format!("/imports/{id}"),
        format!("/imports/{id}/progress"),
        format!("/imports/{id}/rejected.csv"),
    ] {
        let (status, _) = agent.page(&path).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{path}");
    }
    let res = agent
        .post_raw(&format!("/imports/{id}/commit"), &[("csrf_token", &agent_token)])
        .await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);

    // The upload without its token, or with another session's, is refused.
    let res = send_upload(&lead, None, &[], "sample.csv", SAMPLE.into()).await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN, "no token");
    let res = send_upload(&lead, Some(&agent_token), &[], "sample.csv", SAMPLE.into()).await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN, "someone else's token");
    assert_eq!(import_count(&app), 1, "only the lead's upload is recorded");

    // The commit without its token is refused, and the import stays ready.
    let res = lead.post_raw(&format!("/imports/{id}/commit"), &[]).await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    let (_, page) = lead.page(&format!("/imports/{id}")).await;
    assert_eq!(attr(&page, ".import-state", "data-state").as_deref(), Some("ready"));
    assert_eq!(lead.contact_count(), 0);

    // Not a multipart body at all.
    let token = csrf_of(&page);
    let res = lead.post_raw("/imports", &[("csrf_token", &token)]).await;
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);

    // An import that does not exist.
    let (status, _) = lead.page("/imports/999").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = lead.page("/imports/999/rejected.csv").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

/// Puts an import in the middle of a commit, as a server that died while
/// writing it leaves it: `seconds_ago` since its last batch.
fn as_if_committing(app: &TestApp, id: i32, seconds_ago: i64) {
    use diesel::prelude::*;
    use leadbook::db::schema::imports;
    let at = chrono::Utc::now().naive_utc() - chrono::Duration::seconds(seconds_ago);
    app.with_db(|c| {
        diesel::update(imports::table.find(id))
            .set((
                imports::state.eq("committing"),
                imports::done_rows.eq(0i64),
                imports::updated_at.eq(at),
            ))
            .execute(c)
            .expect("committing")
    });
}

#[actix_web::test]
async fn a_running_commit_shows_its_progress_and_a_stalled_one_resumes() {
    let app = team().await;
    let lead = app.login_as("lead@example.com").await;
    let id = checked_import(&lead, "sample.csv", SAMPLE, &[]).await;

    // Being written: a progress bar the script follows, no second commit.
    as_if_committing(&app, id, 0);
    let (_, page) = lead.page(&format!("/imports/{id}")).await;
    assert_eq!(attr(&page, "progress", "max").as_deref(), Some("17"));
    assert_eq!(attr(&page, "progress", "value").as_deref(), Some("0"));
    assert_eq!(texts(&page, "[data-progress-text]"), ["0 of 17 rows"]);
    assert_eq!(
        attr(&page, ".import-progress", "data-progress-url"),
        Some(format!("/imports/{id}/progress"))
    );
    assert!(page.contains("<script src=\"/static/import.js\" defer></script>"));
    assert!(!page.contains("Resume"), "a running commit is not resumed");
    let progress: Value = lead.get(&format!("/imports/{id}/progress")).await.json().await.unwrap();
    assert_eq!(
        progress,
        json!({"state": "committing", "done_rows": 0, "total_rows": 17, "percent": 0,
               "text": "0 of 17 rows", "stalled": false,
               "counts": {"created": 0, "updated": 0, "skipped": 0, "rejected": 0}})
    );
    let res = commit(&lead, id).await;
    assert_eq!(res.status(), StatusCode::CONFLICT);
    assert!(res.text().await.unwrap().contains("being committed already"));

    // Silent for two minutes: the page offers to resume, and resuming finishes it.
    as_if_committing(&app, id, 120);
    let (_, page) = lead.page(&format!("/imports/{id}")).await;
    assert!(page.contains("Resume"), "a stalled commit can be resumed");
    assert_eq!(
        attr(&page, ".import-progress", "data-progress-url"),
        None,
        "and is not polled"
    );
    let progress: Value = lead.get(&format!("/imports/{id}/progress")).await.json().await.unwrap();
    assert_eq!(progress["stalled"], true);
    let res = commit(&lead, id).await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let progress = wait_until_done(&lead, id).await;
    assert_eq!(
        progress["counts"],
        json!({"created": 9, "updated": 1, "skipped": 0, "rejected": 7})
    );
    assert_eq!(lead.contact_count(), 9);
}
