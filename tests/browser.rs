//! The browser journey, in headless Chromium driven over WebDriver:
//! setup → sign in → add a contact → find it by its phone → change its
//! status → see the history entry. A second journey: an admin defines a
//! list attribute and a label, an agent sets both on a contact and logs a
//! call, and the list filtered on both shows just that contact. A third:
//! a WhatsApp message arrives through the API, an agent opens it from the
//! menu's unread badge, replies, sees the reply delivered and the contact
//! moved to Reach. A fourth: a lead merges a duplicate and undoes it. A
//! fifth: a lead imports a CSV file, checks the preview, commits it,
//! watches the progress reach done and downloads the rejected rows. A
//! sixth: a lead filters Won, spreads all matching over two agents, and
//! reads the counts on the workload grid. A seventh: a lead computes the
//! pipeline figures again, the funnel SVG is checked as rendered (a group
//! named by its title and description, each bar a link named with its
//! count; each stage's name, count and bar width, the stages centred, the
//! exits below a rule from the left) and a bar opens the list it counts.
//! Screenshots land in `test-artifacts/`; the funnel's is also kept in
//! `docs/screenshots/` (written when missing or with `UPDATE_SCREENSHOTS=1`).
//!
//! The WebDriver plumbing and helpers are in `tests/common/browser.rs`,
//! shared with the page tour (`tests/pages.rs`).
//!
//! Needs Debian's `chromium` and `chromium-driver`; run it with
//! `cargo test --features browser-tests --test browser` (`.ci/run` does).
//! It fails, never skips, when the browser cannot start.

mod common;

use std::path::PathBuf;
use std::time::Duration;

use common::browser::*;
use common::*;
use fantoccini::Locator;
use leadbook::service::users::Role;

#[actix_web::test]
async fn setup_sign_in_add_find_and_move_a_contact() {
    let app = spawn_app().await;
    let driver = start_driver();
    let c = browser(&driver, LAPTOP, JavaScript::On).await;

    // First run: the app asks for the first admin.
    c.goto(&app.url("/")).await.unwrap();
    assert!(c.current_url().await.unwrap().path().ends_with("/setup"));
    fill(&c, "#f-name", "Ada Admin").await;
    fill(&c, "#f-email", "ada@example.com").await;
    fill(&c, "#f-password", PASSWORD).await;
    fill(&c, "#f-password_confirm", PASSWORD).await;
    click(&c, "form[action='/setup'] button[type=submit]").await;
    assert!(text_of(&c, ".flash").await.contains("Welcome"));

    // Sign out and back in.
    click(&c, "form[action='/logout'] button").await;
    expect_path(&c, "/login").await;
    fill(&c, "#f-email", "ada@example.com").await;
    fill(&c, "#f-password", PASSWORD).await;
    click(&c, "form[action='/login'] button[type=submit]").await;
    expect_path(&c, "/contacts").await;

    // Add a contact.
    click(&c, "a[href='/contacts/new']").await;
    fill(&c, "#f-name", "Siti Nurhaliza").await;
    fill(&c, "#f-email", "Siti@Example.com").await;
    fill(&c, "#f-phone", "019-876 5432").await;
    fill(&c, "#f-company", "Kedai Siti").await;
    click(&c, "form[action='/contacts'] button[type=submit]").await;
    expect_flash(&c, "Contact created").await;
    let details_url = c.current_url().await.unwrap();

    // Find it by a fragment of its phone number.
    c.goto(&app.url("/contacts")).await.unwrap();
    fill(&c, "#q", "8765").await;
    click(&c, "form.filters button[type=submit]").await;
    let found = text_of(&c, "table.contacts tbody").await;
    assert!(
        found.contains("Siti Nurhaliza") && found.contains("+60198765432"),
        "{found}"
    );
    std::fs::write(artifacts().join("contacts-list.png"), c.screenshot().await.unwrap()).unwrap();

    // Change its status and see the history entry.
    click(&c, "table.contacts a.name").await;
    assert_eq!(c.current_url().await.unwrap(), details_url);
    c.find(Locator::Css("#f-status"))
        .await
        .unwrap()
        .select_by_value("3")
        .await
        .unwrap();
    click(&c, "form[action$='/status'] button").await;
    expect_flash(&c, "Status set to Qualified").await;
    let history = text_of(&c, "ol.history li:first-child").await;
    assert!(history.contains("New") && history.contains("Qualified"), "{history}");
    assert!(history.contains("Ada Admin") && history.contains("manual"), "{history}");
    std::fs::write(artifacts().join("contact-details.png"), c.screenshot().await.unwrap()).unwrap();

    c.close().await.unwrap();
}

#[actix_web::test]
async fn custom_attribute_label_and_call_narrow_the_list() {
    let app = spawn_app().await;
    app.add_user("ada@example.com", "Ada Admin", Role::Admin);
    app.add_user("alex@example.com", "Alex Agent", Role::Agent);
    let driver = start_driver();
    let c = browser(&driver, LAPTOP, JavaScript::On).await;

    // The admin defines a list attribute `plan`…
    sign_in(&c, &app, "ada@example.com").await;
    c.goto(&app.url("/settings/attributes")).await.unwrap();
    fill(&c, "#f-key", "plan").await;
    fill(&c, "#f-display_name", "Plan").await;
    c.find(Locator::Css("#f-type"))
        .await
        .unwrap()
        .select_by_value("list")
        .await
        .expect("the type select offers `list`");
    fill(&c, "#f-options", "gold\nsilver\nbronze").await;
    click(&c, "form[action='/settings/attributes'] button[type=submit]").await;
    expect_flash(&c, "Custom attribute \"plan\" added").await;
    let table = text_of(&c, "table.settings-table tbody").await;
    assert!(
        table.contains("plan") && table.contains("Plan") && table.contains("gold, silver, bronze"),
        "the new attribute is listed with its options: {table}"
    );

    // …and a label `vip`, leaving the colour at its default.
    c.goto(&app.url("/settings/labels")).await.unwrap();
    fill(&c, "form[action='/settings/labels'] #f-name", "vip").await;
    click(&c, "form[action='/settings/labels'] button[type=submit]").await;
    expect_flash(&c, "Label \"vip\" added").await;
    assert_eq!(
        texts_of(&c, "ul.label-admin span.label").await,
        ["vip"],
        "vip is listed"
    );
    sign_out(&c).await;

    // The agent adds two contacts; only the second gets the plan, the label and a call.
    sign_in(&c, &app, "alex@example.com").await;
    add_contact(&c, &app, "Badrul Hisham", "012-111 2222").await;
    let details = add_contact(&c, &app, "Chong Mei Ling", "013-333 4444").await;

    click(&c, &format!("a.button[href='{details}/edit']")).await;
    expect_path(&c, &format!("{details}/edit")).await;
    let plan = c
        .find(Locator::Css("select[name='custom.plan']"))
        .await
        .expect("the edit form has a Plan select");
    plan.select_by_value("gold").await.expect("Plan offers gold");
    click(&c, &format!("form[action='{details}'] button[type=submit]")).await;
    expect_flash(&c, "Contact saved").await;
    expect_path(&c, &details).await;

    let vip = c
        .find(Locator::Css("form.label-picker input[name='label'][value='vip']"))
        .await
        .expect("the contact page offers the vip label");
    assert!(!vip.is_selected().await.unwrap(), "vip starts unticked");
    vip.click().await.unwrap();
    click(&c, &format!("form[action='{details}/labels'] button[type=submit]")).await;
    expect_flash(&c, "Labels saved").await;

    click(&c, "form.note-form input[name='kind'][value='call']").await;
    fill(&c, "#f-note-body", "Called about the gold plan").await;
    click(&c, &format!("form[action='{details}/notes'] button[type=submit]")).await;
    expect_flash(&c, "Call added").await;

    // The list filtered on both shows that contact alone.
    c.goto(&app.url("/contacts?owner=all&attr.plan=gold&label=vip"))
        .await
        .unwrap();
    let rows = c.find_all(Locator::Css("table.contacts tbody tr")).await.unwrap();
    let names = texts_of(&c, "table.contacts tbody tr a.name").await;
    assert_eq!(
        (rows.len(), names),
        (1, vec!["Chong Mei Ling".to_string()]),
        "plan=gold and label=vip match exactly Chong Mei Ling"
    );
    assert_eq!(
        texts_of(&c, "table.contacts tbody tr span.label").await,
        ["vip"],
        "the row shows its vip label"
    );
    std::fs::write(artifacts().join("contacts-filtered.png"), c.screenshot().await.unwrap()).unwrap();
    // Without the filters both contacts are there, so the filter did the narrowing.
    c.goto(&app.url("/contacts?owner=all")).await.unwrap();
    let mut everyone = texts_of(&c, "table.contacts tbody tr a.name").await;
    everyone.sort();
    assert_eq!(
        everyone,
        ["Badrul Hisham", "Chong Mei Ling"],
        "both contacts exist unfiltered"
    );

    // The contact's page shows the call, the plan and the label.
    c.goto(&app.url("/contacts?owner=all&attr.plan=gold&label=vip"))
        .await
        .unwrap();
    click(&c, "table.contacts a.name").await;
    expect_path(&c, &details).await;
    let notes = c.find_all(Locator::Css("li.note")).await.unwrap();
    assert_eq!(notes.len(), 1, "one entry in the notes");
    let note = notes[0].text().await.unwrap();
    assert!(note.contains("Called about the gold plan"), "the call's text: {note}");
    let kind = notes[0]
        .find(Locator::Css(".kind"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(kind, "Call", "the entry is a call");
    let custom = text_of(&c, "dl.custom-attributes").await;
    assert!(custom.contains("Plan"), "the Plan attribute is shown: {custom}");
    assert_eq!(text_of(&c, "dl.custom-attributes .value").await, "gold", "Plan is gold");
    assert_eq!(
        texts_of(&c, "p.labels span.label").await,
        ["vip"],
        "the vip chip is shown"
    );
    std::fs::write(
        artifacts().join("contact-plan-label-call.png"),
        c.screenshot().await.unwrap(),
    )
    .unwrap();

    c.close().await.unwrap();
}

#[actix_web::test]
async fn an_agent_answers_an_incoming_whatsapp_message() {
    let app = spawn_app().await;
    app.add_user("ada@example.com", "Ada Admin", Role::Admin);
    app.add_user("alex@example.com", "Alex Agent", Role::Agent);

    // Set-up through the API: the admin connects a WhatsApp inbox…
    let admin = app.token_for("ada@example.com");
    let res = app
        .api(reqwest::Method::POST, "/inboxes", &admin)
        .json(&serde_json::json!({"name": "Sales WhatsApp", "channel": "whatsapp", "delivery": {"kind": "sandbox"}}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), reqwest::StatusCode::CREATED, "the inbox is created");
    let inbox: serde_json::Value = res.json().await.unwrap();
    let inbox = inbox["id"].as_i64().expect("the new inbox's id");

    // …and a customer writes to it (the bridge posts with any user's token).
    let bridge = app.token_for("alex@example.com");
    let res = app
        .api(reqwest::Method::POST, &format!("/inboxes/{inbox}/messages"), &bridge)
        .json(
            &serde_json::json!({"source_id": "+60123456789", "name": "Aminah", "body": "Hi, do you deliver to Ipoh?"}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), reqwest::StatusCode::CREATED, "the message is taken in");
    let incoming: serde_json::Value = res.json().await.unwrap();
    assert_eq!(incoming["contact_created"], true, "Aminah is a new contact: {incoming}");
    let contact = incoming["contact_id"].as_i64().expect("contact_id");
    let conversation = incoming["conversation_id"].as_i64().expect("conversation_id");
    let window = format!("/conversations/{conversation}");

    let driver = start_driver();
    let c = browser(&driver, LAPTOP, JavaScript::On).await;

    // The agent signs in; the menu shows one unread message.
    sign_in(&c, &app, "alex@example.com").await;
    assert_eq!(
        text_of(&c, "#unread-total").await,
        "1",
        "the menu counts one unread message"
    );

    // The conversation list shows Aminah's conversation; the agent opens it.
    click(&c, "a.menu-item[href='/conversations']").await;
    expect_path(&c, "/conversations").await;
    let list = text_of(&c, "ul.conversation-list").await;
    assert!(
        list.contains("Aminah") && list.contains("Sales WhatsApp"),
        "Aminah's conversation is listed: {list}"
    );
    click(&c, &format!("ul.conversation-list a[href='{window}']")).await;
    expect_path(&c, &window).await;

    // The window shows her message, and opening it cleared the unread badge.
    assert_eq!(
        texts_of_when_loaded(&c, "li.message.in .bubble").await,
        ["Hi, do you deliver to Ipoh?"],
        "the incoming message is shown"
    );
    let badge = match c.find(Locator::Css("#unread-total")).await {
        Ok(e) => Some(e.text().await.unwrap_or_default()),
        Err(_) => None,
    };
    assert_eq!(
        badge, None,
        "the menu's unread badge is gone once the conversation is opened"
    );

    // The agent replies.
    fill(&c, "#f-reply", "Yes, we deliver to Ipoh!").await;
    click(&c, "form.reply button[type=submit]").await;
    expect_flash(&c, "Message queued for delivery").await;
    expect_path(&c, &window).await;
    assert_eq!(
        texts_of(&c, "li.message.out .bubble").await,
        ["Yes, we deliver to Ipoh!"],
        "the reply is in the window"
    );
    assert!(
        c.find(Locator::Css("#unread-total")).await.is_err(),
        "still no unread badge after replying"
    );

    // The sandbox delivers in the background: reload until the reply shows `sent`.
    let deadline = std::time::Instant::now() + Duration::from_secs(15);
    loop {
        let state = match c.find(Locator::Css("li.message.out .delivery")).await {
            Ok(e) => e.text().await.unwrap_or_default(),
            Err(_) => String::new(),
        };
        if state == "sent" {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the reply's delivery state is {state:?}, expected \"sent\" within 15 s"
        );
        actix_web::rt::time::sleep(Duration::from_millis(100)).await;
        c.goto(&app.url(&window)).await.unwrap();
    }
    std::fs::write(
        artifacts().join("conversation-window.png"),
        c.screenshot().await.unwrap(),
    )
    .unwrap();

    // From the contact panel to the contact: a delivered message moved New to Reach.
    click(&c, "aside.contact-panel a.contact-link").await;
    expect_path(&c, &format!("/contacts/{contact}")).await;
    let heading = text_of(&c, "h1").await;
    assert!(
        heading.contains("Aminah") && heading.contains("Reach"),
        "the contact's heading shows the Reach status: {heading}"
    );

    c.close().await.unwrap();
}

#[actix_web::test]
async fn a_lead_merges_a_duplicate_and_undoes_it_from_the_merge_log() {
    let app = spawn_app().await;
    app.add_user("ada@example.com", "Ada Admin", Role::Admin);
    app.add_user("lee@example.com", "Lee Lead", Role::Lead);
    let admin = app.token_for("ada@example.com");
    let post = |path: &str, body: serde_json::Value| app.api(reqwest::Method::POST, path, &admin).json(&body).send();
    // A: typed in by an agent. B: the same customer, arrived on WhatsApp.
    let a: serde_json::Value = post(
        "/contacts",
        serde_json::json!({"name": "Farah Aziz", "email": "farah@example.com"}),
    )
    .await
    .unwrap()
    .json()
    .await
    .unwrap();
    let a = a["id"].as_i64().unwrap();
    let inbox: serde_json::Value = post(
        "/inboxes",
        serde_json::json!({"name": "Sales WhatsApp", "channel": "whatsapp", "delivery": {"kind": "sandbox"}}),
    )
    .await
    .unwrap()
    .json()
    .await
    .unwrap();
    let incoming: serde_json::Value = post(
        &format!("/inboxes/{}/messages", inbox["id"]),
        serde_json::json!({"source_id": "+60123987654", "name": "farah.aziz", "body": "Is the promo still on?"}),
    )
    .await
    .unwrap()
    .json()
    .await
    .unwrap();
    let b = incoming["contact_id"].as_i64().expect("B's id");

    let driver = start_driver();
    let c = browser(&driver, LAPTOP, JavaScript::On).await;
    sign_in(&c, &app, "lee@example.com").await;

    // Open A, Merge, find B.
    c.goto(&app.url(&format!("/contacts/{a}"))).await.unwrap();
    click(&c, &format!("a[href='/contacts/{a}/merge']")).await;
    fill(&c, "#merge-q", "farah").await;
    click(&c, "form[role=search] button[type=submit]").await;
    click(&c, &format!("ul.merge-found a[href$='other={b}']")).await;

    // The preview: A's email stays, B's phone fills A's blank, one conversation moves.
    let email = text_of(&c, "tr[data-field=email] td.result").await;
    assert_eq!(email, "farah@example.com");
    let phone = text_of(&c, "tr[data-field=phone] td.result").await;
    assert_eq!(phone, "+60123987654");
    let moving = text_of(&c, ".merge-moving").await;
    assert!(moving.contains("1 conversation(s) with 1 message(s)"), "{moving}");
    std::fs::write(artifacts().join("merge-preview.png"), c.screenshot().await.unwrap()).unwrap();

    // Confirm: A is the merged contact.
    click(
        &c,
        &format!("form[method=post][action='/contacts/{a}/merge'] button.primary"),
    )
    .await;
    expect_flash(
        &c,
        &format!("Merged contact #{b} into Farah Aziz. Undo it from the merge log (merge #1)."),
    )
    .await;
    expect_path(&c, &format!("/contacts/{a}")).await;
    let details = text_of(&c, "dl.attributes").await;
    assert!(details.contains("+60123987654"), "A took B's phone: {details}");
    c.goto(&app.url(&format!("/contacts/{b}"))).await.unwrap();
    assert!(text_of(&c, "main").await.contains("not found"), "B is gone");

    // Undo from the merge log.
    c.goto(&app.url("/merges")).await.unwrap();
    click(&c, "form[action='/merges/1/undo'] button").await;
    expect_flash(
        &c,
        &format!("Merge #1 undone: farah.aziz (#{b}) is back, and Farah Aziz has its own values again."),
    )
    .await;
    assert!(text_of(&c, "tr[data-merge='1']").await.contains("Undone"));
    c.goto(&app.url(&format!("/contacts/{b}"))).await.unwrap();
    assert!(text_of(&c, "h1").await.contains("farah.aziz"), "B is back");

    c.close().await.unwrap();
}

#[actix_web::test]
async fn a_lead_imports_a_file_commits_it_and_downloads_the_rejected_rows() {
    let app = spawn_app().await;
    app.add_user("ada@example.com", "Ada Admin", Role::Admin);
    app.add_user("lee@example.com", "Lee Lead", Role::Lead);
    let admin = app.token_for("ada@example.com");
    let res = app
        .api(reqwest::Method::POST, "/custom_attributes", &admin)
        .json(
            &serde_json::json!({"key": "plan", "display_name": "Plan", "type": "list", "options": ["gold", "silver"]}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(
        res.status(),
        reqwest::StatusCode::CREATED,
        "the plan attribute is defined"
    );

    // A spreadsheet of 3,000 customers, two of them with mistakes: enough
    // rows for the commit to take a moment.
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("customers.csv");
    let mut csv = String::from("name,email,phone_number,plan,notes\n");
    for n in 1..=3000 {
        let plan = ["gold", "silver", ""][n % 3];
        csv.push_str(&format!("Customer {n},customer{n}@example.com,,{plan},\n"));
    }
    csv.push_str("Chong Kah Wai,not-an-email,,gold,met at the fair\n");
    csv.push_str("Hafiz Osman,hafiz@example.com,+60125556666,platinum,\n");
    std::fs::write(&file, csv).unwrap();

    let driver = start_driver();
    let c = browser(&driver, LAPTOP, JavaScript::On).await;
    sign_in(&c, &app, "lee@example.com").await;

    // From the contacts list to the upload form; choose the file and send it.
    click(&c, "a.button[href='/imports/new']").await;
    expect_path(&c, "/imports/new").await;
    let choose_file = || {
        on_element(&c, "input[type=file][name=file]", |input| {
            let path = file.display().to_string();
            async move { input.send_keys(&path).await }
        })
    };
    choose_file().await;
    std::fs::write(artifacts().join("import-upload.png"), c.screenshot().await.unwrap()).unwrap();
    click(&c, "form[action='/imports'] button[type=submit]").await;

    // The notes column is neither standard nor a custom attribute: the file
    // is refused, saying so; ignoring the column lets it through.
    let refusal = text_of(&c, "#upload-error").await;
    assert!(
        refusal.contains("Unknown column \"notes\""),
        "the refusal names the column: {refusal}"
    );
    expect_path(&c, "/imports").await;
    std::fs::write(artifacts().join("import-refused.png"), c.screenshot().await.unwrap()).unwrap();
    fill(&c, "#f-ignore", "notes").await;
    choose_file().await;
    click(&c, "form[action='/imports'] button[type=submit]").await;

    // The preview: the mapping, what would happen, the first problems.
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    let page = loop {
        let path = path_of(&c).await;
        if path
            .strip_prefix("/imports/")
            .is_some_and(|id| id.parse::<i32>().is_ok())
        {
            break path;
        }
        assert!(std::time::Instant::now() < deadline, "still on {path} after the upload");
        actix_web::rt::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(
        attr_of(&c, "ul.import-counts", "data-summary").await.as_deref(),
        Some("created 3000, updated 0, skipped 0, rejected 2"),
        "the dry run's counts"
    );
    assert_eq!(
        text_of(&c, "table.import-columns tr[data-column='plan'] td:last-child").await,
        "custom attribute plan",
        "the plan column fills the custom attribute"
    );
    assert_eq!(
        text_of(&c, "table.import-columns tr[data-column='notes'] td:last-child").await,
        "ignored"
    );
    let reasons = texts_of(&c, "table.import-rejected td.reason").await;
    assert_eq!(reasons.len(), 2, "{reasons:?}");
    assert!(reasons[0].contains("email"), "{reasons:?}");
    assert!(reasons[1].contains("plan"), "{reasons:?}");
    assert_eq!(app.contact_count(), 0, "nothing is written before the commit");
    let states: Vec<String> = app.with_db(|conn| {
        use diesel::prelude::*;
        use leadbook::db::schema::imports;
        imports::table
            .order(imports::id)
            .select(imports::state)
            .load(conn)
            .unwrap()
    });
    assert_eq!(states, ["failed", "ready"], "the refused upload, then the checked one");
    std::fs::write(artifacts().join("import-preview.png"), c.screenshot().await.unwrap()).unwrap();

    // Commit, then stay on the page: its script follows the progress and
    // reloads it when the import is done.
    click(&c, &format!("form[action='{page}/commit'] button[type=submit]")).await;
    let deadline = std::time::Instant::now() + Duration::from_secs(120);
    let mut saw_progress = false;
    loop {
        let state = match c.find(Locator::Css(".import-state")).await {
            Ok(e) => e.attr("data-state").await.unwrap_or_default().unwrap_or_default(),
            Err(_) => String::new(),
        };
        if state == "done" {
            break;
        }
        if state == "committing" && !saw_progress {
            if let Ok(bar) = c.find(Locator::Css(".import-progress progress")).await {
                let max = bar.attr("max").await.unwrap().unwrap_or_default();
                assert_eq!(max, "3002", "the bar counts the file's rows");
                std::fs::write(artifacts().join("import-progress.png"), c.screenshot().await.unwrap()).unwrap();
                saw_progress = true;
            }
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the import page shows {state:?}, not done, after 2 minutes"
        );
        actix_web::rt::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(path_of(&c).await, page, "still on the import's page");
    assert_eq!(
        attr_of(&c, "ul.import-counts", "data-summary").await.as_deref(),
        Some("created 3000, updated 0, skipped 0, rejected 2"),
        "what the import did"
    );
    assert_eq!(app.contact_count(), 3000);
    std::fs::write(artifacts().join("import-done.png"), c.screenshot().await.unwrap()).unwrap();

    // The rejected rows: the result links them; the same user downloads them.
    let href = attr_of(&c, "a[href$='/rejected.csv']", "href")
        .await
        .expect("the result links the rejected rows");
    assert_eq!(href, format!("{page}/rejected.csv"));
    let lee = app.login_as("lee@example.com").await;
    let res = lee.get(&href).await;
    assert_eq!(res.status(), reqwest::StatusCode::OK);
    assert_eq!(
        res.headers()["content-disposition"],
        "attachment; filename=\"rejected.csv\""
    );
    let text = res.text().await.unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 3, "the header and two rows: {text}");
    assert_eq!(lines[0], "name,email,phone_number,plan,notes,error");
    assert!(
        lines[1].starts_with("Chong Kah Wai,not-an-email,,gold,met at the fair,"),
        "{}",
        lines[1]
    );
    assert!(
        lines[2].starts_with("Hafiz Osman,hafiz@example.com,+60125556666,platinum,,"),
        "{}",
        lines[2]
    );

    // On to the imported contacts.
    click(&c, "a.button[href='/contacts?owner=all']").await;
    expect_path(&c, "/contacts").await;
    assert!(
        text_of(&c, "a.count-all strong").await == "3,000",
        "the list counts the imported contacts"
    );

    c.close().await.unwrap();
}

#[actix_web::test]
async fn a_lead_spreads_every_won_contact_over_two_agents_and_reads_the_workload_grid() {
    use diesel::prelude::*;
    use leadbook::db::schema::contacts;
    let app = spawn_app().await;
    app.add_user("lee@example.com", "Lee Lead", Role::Lead);
    let aina = app.add_user("aina@example.com", "Aina Account", Role::Agent).id;
    let bala = app.add_user("bala@example.com", "Bala Account", Role::Agent).id;
    // 8 Won customers among 12 contacts.
    app.with_db(|c| {
        leadbook::service::seed::seed_contacts(c, 12, None, |_| {}).unwrap();
        let ids: Vec<i32> = contacts::table
            .select(contacts::id)
            .order(contacts::id)
            .load(c)
            .unwrap();
        diesel::update(contacts::table)
            .set(contacts::status_id.eq(2))
            .execute(c)
            .unwrap();
        diesel::update(contacts::table.filter(contacts::id.eq_any(&ids[..8])))
            .set(contacts::status_id.eq(6))
            .execute(c)
            .unwrap();
    });

    let driver = start_driver();
    let c = browser(&driver, LAPTOP, JavaScript::On).await;
    sign_in(&c, &app, "lee@example.com").await;
    // Filter Won from the counts bar.
    click(&c, "nav.status-counts a.status-won").await;
    expect_path(&c, "/contacts").await;
    let query = c.current_url().await.unwrap().query().unwrap_or_default().to_string();
    assert!(query.contains("status=6"), "{query}");
    assert_eq!(
        c.find_all(Locator::Css("table.contacts tbody tr")).await.unwrap().len(),
        8
    );

    // Spread over the two account managers, applied to all matching: the
    // bulk panel is folded until a row is ticked, so open it first.
    assert_eq!(
        attr_of(&c, "details#bulk-panel", "open").await,
        None,
        "the bulk panel starts closed"
    );
    click(&c, "details#bulk-panel > summary").await;
    on_element(&c, "#bulk-action", |e| async move { e.select_by_value("spread").await }).await;
    click(&c, &format!("form#bulk input[name=agents][value='{aina}']")).await;
    click(&c, &format!("form#bulk input[name=agents][value='{bala}']")).await;
    click(&c, "form#bulk button[name=all_matching]").await;
    expect_path(&c, "/contacts/bulk").await;
    assert_eq!(
        text_of(&c, "#bulk-count").await,
        "8",
        "the confirmation states the count"
    );
    std::fs::write(artifacts().join("bulk-confirm.png"), c.screenshot().await.unwrap()).unwrap();
    click(&c, "form[action='/contacts/bulk'] button.primary").await;
    expect_flash(
        &c,
        "Done: spread evenly over Aina Account, Bala Account — 8 contacts, 8 changed. Each got: Aina Account 4, Bala Account 4.",
    )
    .await;

    // The workload grid, from the menu: 4 Won each.
    click(&c, "nav.menu a[href='/team']").await;
    expect_path(&c, "/team").await;
    let aina_row = text_of(&c, &format!("tr:has(a[href='/contacts?owner={aina}&status=6'])")).await;
    assert!(aina_row.to_lowercase().starts_with("aina account"), "{aina_row}");
    assert_eq!(
        text_of(&c, &format!("a[href='/contacts?owner={aina}&status=6']")).await,
        "4"
    );
    assert_eq!(
        text_of(&c, &format!("a[href='/contacts?owner={bala}&status=6']")).await,
        "4"
    );
    std::fs::write(artifacts().join("workload-grid.png"), c.screenshot().await.unwrap()).unwrap();
    // A cell opens the list it counts.
    click(&c, &format!("a[href='/contacts?owner={bala}&status=6']")).await;
    expect_path(&c, "/contacts").await;
    assert_eq!(
        c.find_all(Locator::Css("table.contacts tbody tr")).await.unwrap().len(),
        4
    );
    c.close().await.unwrap();
}

#[actix_web::test]
async fn the_pipeline_funnel_is_drawn_accessibly_and_links_each_bar_to_its_list() {
    let app = spawn_app().await;
    app.add_user("ada@example.com", "Ada Admin", Role::Admin);
    app.add_user("lee@example.com", "Lee Lead", Role::Lead);
    // Contacts in six of the seven statuses, every count but two different
    // (Negotiating and Lost both 2), Unqualified empty; created through the
    // API, so each has its history entry.
    let plan: [(&str, i32, usize); 7] = [
        ("New", 1, 6),
        ("Reach", 2, 4),
        ("Qualified", 3, 3),
        ("Negotiating", 5, 2),
        ("Won", 6, 1),
        ("Unqualified", 4, 0),
        ("Lost", 7, 2),
    ];
    let admin = app.token_for("ada@example.com");
    let mut names_in = std::collections::HashMap::new();
    for (status, id, count) in plan {
        let mut names = Vec::new();
        for n in 1..=count {
            let name = format!("{status} customer {n}");
            let res = app
                .api(reqwest::Method::POST, "/contacts", &admin)
                .json(&serde_json::json!({"name": name, "status_id": id}))
                .send()
                .await
                .unwrap();
            assert_eq!(res.status(), reqwest::StatusCode::CREATED, "{name} is created");
            names.push(name);
        }
        names_in.insert(id, names);
    }

    let driver = start_driver();
    let c = browser(&driver, LAPTOP, JavaScript::On).await;
    sign_in(&c, &app, "lee@example.com").await;

    // The funnel's counts are live; the lead still computes the period
    // figures again, as a lead would after a busy morning.
    c.goto(&app.url("/pipeline")).await.unwrap();
    click(&c, "form[action='/pipeline/refresh'] button[type=submit]").await;
    expect_flash(&c, "Pipeline figures computed again").await;
    expect_path(&c, "/pipeline").await;

    // The chart is a group of links to assistive technology (not an image:
    // an image's parts cannot be reached, axe's nested-interactive), named
    // by its title and described by its text alternative: as written in the
    // DOM…
    let chart: serde_json::Value = c
        .execute(
            r#"const svg = document.querySelector('svg#funnel');
            const ids = (svg.getAttribute('aria-labelledby') || '').split(/\s+/).filter(Boolean);
            const title = svg.querySelector(':scope > title');
            const desc = svg.querySelector(':scope > desc');
            const box = svg.getBoundingClientRect();
            return {
                role: svg.getAttribute('role'),
                labelledby: ids.map(id => { const e = document.getElementById(id); return e && e.tagName; }),
                title_is_first_label: !!title && ids[0] === title.id,
                desc_is_second_label: !!desc && ids[1] === desc.id,
                title: title && title.textContent.trim(),
                desc: desc && desc.textContent.trim(),
                width: box.width,
                height: box.height,
            };"#,
            vec![],
        )
        .await
        .unwrap();
    assert_eq!(chart["role"], "group", "{chart}");
    assert_eq!(
        chart["labelledby"],
        serde_json::json!(["title", "desc"]),
        "aria-labelledby names the chart's own title and desc: {chart}"
    );
    assert_eq!(chart["title_is_first_label"], true, "{chart}");
    assert_eq!(chart["desc_is_second_label"], true, "{chart}");
    assert_eq!(chart["title"], "Contacts per status");
    let summary = "New 6, Reach 4, Qualified 3, Negotiating 2, Won 1; left the pipeline: Unqualified 0, Lost 2";
    assert_eq!(chart["desc"], summary, "the desc lists every count");
    assert!(
        chart["width"].as_f64().unwrap() > 0.0 && chart["height"].as_f64().unwrap() > 0.0,
        "the chart is drawn: {chart}"
    );
    // …and as the browser's accessibility tree reads it.
    let svg = c.find(Locator::Css("svg#funnel")).await.unwrap();
    let (role, label) = accessibility_of(&c, &driver, &svg).await;
    assert_eq!(role, "group", "Chromium exposes the chart as a group");
    assert!(
        label.starts_with("Contacts per status") && label.contains(summary),
        "the chart's accessible name is its title and counts: {label:?}"
    );
    // Each bar's link is named with its stage and count.
    let links = c.find_all(Locator::Css("svg#funnel a")).await.unwrap();
    assert_eq!(links.len(), plan.len(), "a link for every status");
    for (link, (status, _, count)) in links.iter().zip(&plan) {
        let (role, label) = accessibility_of(&c, &driver, link).await;
        let exit = matches!(*status, "Unqualified" | "Lost");
        let expected = if exit {
            format!("{status}: {count} contacts (left the pipeline)")
        } else {
            format!("{status}: {count} contacts")
        };
        assert_eq!((role.as_str(), label), ("link", expected), "{status}'s bar");
    }

    // Each stage: its name and count as text beside a bar as wide as its
    // share of the largest count, all measured as rendered. The stages are
    // centred on their track (a funnel); the two exits, below a rule, start
    // at the track's left edge, on the same scale.
    let rule: serde_json::Value = c
        .execute(
            "const r = document.querySelector('svg#funnel line.funnel-rule').getBoundingClientRect(); \
             return {top: r.top, bottom: r.bottom, width: r.width};",
            vec![],
        )
        .await
        .unwrap();
    assert!(rule["width"].as_f64().unwrap() > 100.0, "the rule is drawn: {rule}");
    let rule_y = rule["top"].as_f64().unwrap();
    let bars: serde_json::Value = c
        .execute(
            r#"return Array.from(document.querySelectorAll('svg#funnel a')).map(a => {
                const bar = a.querySelector('rect.funnel-bar');
                const track = a.querySelector('rect.funnel-track');
                const name = a.querySelector('text.funnel-name');
                const count = a.querySelector('text.funnel-count');
                const b = bar.getBoundingClientRect();
                const t = track.getBoundingClientRect();
                return {
                    href: a.getAttribute('href'),
                    name: name.textContent.trim(),
                    count: count.textContent.trim(),
                    name_width: name.getBoundingClientRect().width,
                    count_width: count.getBoundingClientRect().width,
                    width: b.width,
                    height: b.height,
                    left: b.left,
                    centre: b.left + b.width / 2,
                    top: t.top,
                    bottom: t.bottom,
                    track_left: t.left,
                    track_centre: t.left + t.width / 2,
                    track_width: t.width,
                };
            });"#,
            vec![],
        )
        .await
        .unwrap();
    let bars = bars.as_array().expect("a list of bars");
    assert_eq!(bars.len(), plan.len(), "a bar for every status: {bars:?}");
    let most = plan.iter().map(|&(_, _, n)| n).max().unwrap() as f64;
    let widest = bars.iter().map(|b| b["width"].as_f64().unwrap()).fold(0.0, f64::max);
    assert!(widest > 100.0, "the largest bar is drawn wide: {bars:?}");
    let mut measured = Vec::new();
    for (bar, (status, id, count)) in bars.iter().zip(&plan) {
        assert_eq!(bar["name"], *status, "{bar}");
        assert_eq!(bar["count"], count.to_string(), "{status}'s count: {bar}");
        assert_eq!(
            bar["href"],
            format!("/contacts?owner=all&status={id}"),
            "{status}'s bar links its list"
        );
        assert!(
            bar["name_width"].as_f64().unwrap() > 0.0 && bar["count_width"].as_f64().unwrap() > 0.0,
            "{status}'s name and count are drawn as text: {bar}"
        );
        let exit = matches!(*status, "Unqualified" | "Lost");
        let f = |k: &str| bar[k].as_f64().unwrap();
        if exit {
            assert!(f("top") > rule_y, "{status} is drawn below the rule ({rule_y}): {bar}");
        } else {
            assert!(
                f("bottom") < rule_y,
                "{status} is drawn above the rule ({rule_y}): {bar}"
            );
        }
        let width = f("width");
        if *count == 0 {
            assert_eq!(width, 0.0, "an empty stage has no bar: {bar}");
        } else {
            assert!(width > 0.0 && f("height") > 0.0, "{status}'s bar is drawn: {bar}");
            let share = *count as f64 / most;
            assert!(
                (width / widest - share).abs() < 0.01,
                "{status}'s bar is {width}px of {widest}px, not {share:.3} of it"
            );
            // The server places bars in whole units of the viewBox: allow
            // 1% of the track for its rounding.
            let slack = f("track_width") / 100.0;
            if exit {
                assert!(
                    (f("left") - f("track_left")).abs() < slack,
                    "{status} (an exit) starts at the left of its track, not centred: {bar}"
                );
            } else {
                assert!(
                    (f("centre") - f("track_centre")).abs() < slack,
                    "{status} (a stage) is centred on its track: {bar}"
                );
            }
        }
        measured.push((*status, *count, width));
    }
    for &(a, count_a, width_a) in &measured {
        for &(b, count_b, width_b) in &measured {
            if count_a > count_b {
                assert!(
                    width_a > width_b,
                    "{a} ({count_a}) is wider than {b} ({count_b}): {measured:?}"
                );
            } else if count_a == count_b {
                assert!((width_a - width_b).abs() < 0.5, "{a} and {b} are as wide: {measured:?}");
            }
        }
    }

    // The screenshot: kept with the run's artefacts, and in the repository
    // as the chart's documentation. The docs copy is written only when it is
    // missing or UPDATE_SCREENSHOTS=1 asks for it, so a CI run never leaves
    // the checkout dirty (the page shows when the figures were computed, so
    // no two screenshots are the same bytes).
    let png = c.screenshot().await.unwrap();
    assert!(png.starts_with(b"\x89PNG"), "the screenshot is a PNG");
    std::fs::write(artifacts().join("pipeline-funnel.png"), &png).unwrap();
    let kept = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("docs/screenshots/pipeline-funnel.png");
    if std::env::var("UPDATE_SCREENSHOTS").as_deref() == Ok("1") || !kept.exists() {
        std::fs::create_dir_all(kept.parent().unwrap()).unwrap();
        std::fs::write(&kept, &png).unwrap();
    }

    // A bar opens the list it counts: Qualified's three contacts.
    click(&c, "svg#funnel a[href='/contacts?owner=all&status=3'] rect.funnel-bar").await;
    expect_path(&c, "/contacts").await;
    let query = c.current_url().await.unwrap().query().unwrap_or_default().to_string();
    assert!(query.contains("status=3"), "{query}");
    let mut listed = texts_of_when_loaded(&c, "table.contacts tbody tr a.name").await;
    listed.sort();
    assert_eq!(listed, names_in[&3], "the Qualified bar lists the Qualified contacts");
    // And the widest: New's six.
    c.back().await.unwrap();
    expect_path(&c, "/pipeline").await;
    click(&c, "svg#funnel a[href='/contacts?owner=all&status=1'] rect.funnel-bar").await;
    expect_path(&c, "/contacts").await;
    let mut listed = texts_of_when_loaded(&c, "table.contacts tbody tr a.name").await;
    listed.sort();
    assert_eq!(listed, names_in[&1], "the New bar lists the New contacts");

    c.close().await.unwrap();
}
