//! Contacts through HTTP: create, refusals, escaping, status changes, edit,
//! assign, delete, and the list's search, filters, sort and paging.

mod common;

use chrono::{Duration, NaiveDateTime, Timelike, Utc};
use common::*;
use diesel::prelude::*;
use leadbook::db::schema::{contacts, status_history};
use leadbook::service::contacts::{self as service, Contact, ContactInput};
use leadbook::service::status::{LeadStatus, StatusSource};
use leadbook::service::users::{Actor, Role};
use reqwest::{Response, StatusCode};
use scraper::{ElementRef, Html, Selector};

const SCRIPT: &str = "<script>alert(1)</script>";
/// How askama writes `SCRIPT` into a page.
const SCRIPT_ESCAPED: &str = "&#60;script&#62;alert(1)&#60;/script&#62;";

// ---------------------------------------------------------------- the app

/// A fresh app whose own client is signed in as the admin, Ada Admin.
async fn app_as_admin() -> TestApp {
    let app = spawn_app().await;
    app.setup_admin().await;
    app
}

/// Adds a team member and signs a client of their own in.
async fn member(app: &TestApp, email: &str, name: &str, role: Role) -> (Actor, TestApp) {
    let actor = app.add_user(email, name, role);
    let client = app.login_as(email).await;
    (actor, client)
}

async fn body(res: Response) -> String {
    res.text().await.expect("body")
}

/// The contact ID a create redirected to.
fn id_from(res: &Response) -> i32 {
    location(res)
        .trim_start_matches("/contacts/")
        .parse()
        .unwrap_or_else(|_| panic!("no contact in Location {:?}", location(res)))
}

/// `/contacts?…` with the pairs URL-encoded.
fn list_url(pairs: &[(&str, &str)]) -> String {
    let query = url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(pairs)
        .finish();
    format!("/contacts?{query}")
}

/// Like a browser: GETs `page`, fills in the form that posts to `action` with
/// its current values (selected options, checked boxes, hidden CSRF token),
/// changes `changes`, and submits it.
async fn submit_like_browser(app: &TestApp, page: &str, action: &str, changes: &[(&str, &str)]) -> Response {
    let (status, html) = app.page(page).await;
    assert_eq!(status, StatusCode::OK, "GET {page}");
    let mut fields = form_fields(&html, action);
    for (name, value) in changes {
        fields.retain(|(n, _)| n != name);
        fields.push((name.to_string(), value.to_string()));
    }
    app.client
        .post(app.url(action))
        .form(&fields)
        .send()
        .await
        .expect("POST")
}

// ------------------------------------------------------- the database side

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

fn all_contacts(app: &TestApp) -> Vec<Contact> {
    app.with_db(|c| contacts::table.select(Contact::as_select()).load(c).expect("contacts"))
}

/// A contact given to `owner` (the form sends the owner's ID).
fn owned_by(name: &str, owner: &Actor) -> ContactInput {
    ContactInput {
        owner: Some(owner.id.to_string()),
        ..named(name)
    }
}

fn add_contacts(app: &TestApp, actor: &Actor, inputs: &[ContactInput]) -> Vec<i32> {
    add_contacts_from(app, actor, inputs, StatusSource::Manual)
}

fn set_activity(app: &TestApp, id: i32, at: Option<NaiveDateTime>) {
    app.with_db(|c| {
        diesel::update(contacts::table.find(id))
            .set(contacts::last_activity_at.eq(at))
            .execute(c)
            .expect("activity set")
    });
}

// ------------------------------------------------------- reading the pages

fn sel(css: &str) -> Selector {
    Selector::parse(css).unwrap_or_else(|e| panic!("selector {css}: {e:?}"))
}

fn squash(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

fn text_of(el: ElementRef) -> String {
    squash(&el.text().collect::<String>())
}

fn texts(html: &str, css: &str) -> Vec<String> {
    Html::parse_document(html).select(&sel(css)).map(text_of).collect()
}

fn first_text(html: &str, css: &str) -> Option<String> {
    texts(html, css).into_iter().next()
}

fn attr(html: &str, css: &str, name: &str) -> Option<String> {
    Html::parse_document(html)
        .select(&sel(css))
        .find_map(|el| el.value().attr(name).map(str::to_string))
}

/// The option a browser shows as chosen: the `selected` one, else the first.
fn chosen_option(select: ElementRef) -> Option<ElementRef> {
    let options: Vec<ElementRef> = select.select(&sel("option")).collect();
    options
        .iter()
        .find(|o| o.value().attr("selected").is_some())
        .or(options.first())
        .copied()
}

/// What a browser would send for the form that posts to `action`.
fn form_fields(html: &str, action: &str) -> Vec<(String, String)> {
    let doc = Html::parse_document(html);
    let form = doc
        .select(&sel(&format!("form[action=\"{action}\"]")))
        .next()
        .unwrap_or_else(|| panic!("no form posts to {action}"));
    let mut fields = Vec::new();
    for input in form.select(&sel("input[name]")) {
        let el = input.value();
        let name = el.attr("name").unwrap_or_default().to_string();
        match el.attr("type").unwrap_or("text") {
            "submit" | "button" => {}
            "checkbox" | "radio" if el.attr("checked").is_none() => {}
            "checkbox" | "radio" => fields.push((name, el.attr("value").unwrap_or("on").into())),
            _ => fields.push((name, el.attr("value").unwrap_or_default().into())),
        }
    }
    for select in form.select(&sel("select[name]")) {
        let name = select.value().attr("name").unwrap_or_default().to_string();
        if let Some(option) = chosen_option(select) {
            let value = option
                .value()
                .attr("value")
                .map(str::to_string)
                .unwrap_or_else(|| text_of(option));
            fields.push((name, value));
        }
    }
    fields
}

/// A form field's value as the page shows it.
fn field_value(html: &str, field: &str) -> String {
    let doc = Html::parse_document(html);
    if let Some(input) = doc.select(&sel(&format!("input[name=\"{field}\"]"))).next() {
        return input.value().attr("value").unwrap_or_default().to_string();
    }
    doc.select(&sel(&format!("select[name=\"{field}\"]")))
        .next()
        .and_then(chosen_option)
        .and_then(|o| o.value().attr("value").map(str::to_string))
        .unwrap_or_else(|| panic!("no field {field}"))
}

/// The error text shown beside a form field ("" when none).
fn error_beside(html: &str, field: &str) -> String {
    let doc = Html::parse_document(html);
    let control = sel(&format!("[name=\"{field}\"]"));
    doc.select(&sel("div.field"))
        .find(|f| f.select(&control).next().is_some())
        .and_then(|f| f.select(&sel("p.error")).next())
        .map(text_of)
        .unwrap_or_default()
}

/// Where the "already belongs to <name>" notice links to.
fn duplicate_link(html: &str) -> Option<String> {
    attr(html, ".duplicate a", "href")
}

fn flash(html: &str) -> Option<String> {
    first_text(html, ".flash .flash-text")
}

/// A value in the details list of a contact's page ("E-mail", "Phone", …).
fn detail(html: &str, label: &str) -> String {
    let doc = Html::parse_document(html);
    doc.select(&sel("dl.attributes dt"))
        .find(|dt| text_of(*dt) == label)
        .and_then(|dt| dt.next_siblings().find_map(ElementRef::wrap))
        .map(text_of)
        .unwrap_or_else(|| panic!("no detail {label}"))
}

/// The contact's status as its page shows it (the badge beside the name).
fn shown_status(html: &str) -> String {
    first_text(html, "h1 .badge").expect("status badge")
}

/// The owner as a contact's page shows it: the chosen option of the assign
/// form (leads, admins) or the plain text (agents).
fn shown_owner(html: &str) -> String {
    let doc = Html::parse_document(html);
    match doc.select(&sel("select#f-owner")).next() {
        Some(select) => chosen_option(select).map(text_of).unwrap_or_default(),
        None => doc
            .select(&sel("p.owner"))
            .next()
            .map(text_of)
            .expect("owner paragraph"),
    }
}

/// The status history lines, newest first ("New → Won by Ada Admin · manual · just now").
fn history_lines(html: &str) -> Vec<String> {
    texts(html, "ol.history li")
}

fn listed_names(html: &str) -> Vec<String> {
    texts(html, "table.contacts tbody a.name")
}

/// The count beside a status ("New", …, or "All") in the counts bar.
/// The `name` attribute of the first `css` element whose text is `text`.
fn attr_where(html: &str, css: &str, text: &str, name: &str) -> Option<String> {
    let doc = Html::parse_document(html);
    doc.select(&sel(css))
        .find(|e| text_of(*e) == text)
        .and_then(|e| e.value().attr(name).map(str::to_string))
}

fn status_count(html: &str, label: &str) -> i64 {
    for link in texts(html, "nav.status-counts a") {
        let words: Vec<&str> = link.split_whitespace().collect();
        if words.first() == Some(&label) {
            return words.last().unwrap().replace(',', "").parse().expect("a number");
        }
    }
    panic!("no count for {label}")
}

/// Names found by a search, in name order.
async fn found(app: &TestApp, q: &str) -> Vec<String> {
    let html = list_page(app, &list_url(&[("q", q), ("sort", "name"), ("order", "asc")])).await;
    listed_names(&html)
}

fn names(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| s.to_string()).collect()
}

// ------------------------------------------------------------------ paging

#[derive(Clone, Copy)]
enum Sort {
    Name,
    Status,
    Created,
    Activity,
}

/// The order the list should show `all` in: the sort value, then the ID,
/// both in the chosen direction; by activity, the never-active last.
fn expected_order(all: &[Contact], sort: Sort, asc: bool) -> Vec<i32> {
    let mut rows = all.to_vec();
    let mut quiet = Vec::new();
    match sort {
        Sort::Name => rows.sort_by(|a, b| (&a.name, a.id).cmp(&(&b.name, b.id))),
        // Pipeline order: the stages New → Won, then the exits.
        Sort::Status => rows.sort_by_key(|c| (c.status().pipeline_rank(), c.id)),
        Sort::Created => rows.sort_by_key(|c| (c.created_at, c.id)),
        Sort::Activity => {
            (rows, quiet) = rows.into_iter().partition(|c| c.last_activity_at.is_some());
            rows.sort_by_key(|c| (c.last_activity_at, c.id));
            quiet.sort_by_key(|c| c.id);
        }
    }
    if !asc {
        rows.reverse();
        quiet.reverse();
    }
    rows.iter().chain(&quiet).map(|c| c.id).collect()
}

/// Checks that paging through `query` shows `expected`, every contact once,
/// in pages of 50, the same pages going forwards and back.
async fn assert_paging(app: &TestApp, query: &str, expected: &[i32]) {
    let (forward, backward) = walk_pages(app, &format!("/contacts?{query}")).await;
    for (way, pages) in [("Next", &forward), ("Previous", &backward)] {
        let seen = pages.concat();
        let mut repeated: Vec<i32> = seen
            .iter()
            .filter(|id| seen.iter().filter(|x| x == id).count() > 1)
            .copied()
            .collect();
        repeated.sort();
        repeated.dedup();
        let missing: Vec<i32> = expected.iter().filter(|id| !seen.contains(id)).copied().collect();
        assert!(
            repeated.is_empty() && missing.is_empty(),
            "{query}: following {way} links shows contacts {repeated:?} more than once \
             and never shows {missing:?}"
        );
        assert_eq!(seen, expected, "{query}: {way} links keep the list's order");
    }
    let sizes: Vec<usize> = forward.iter().map(Vec::len).collect();
    assert_eq!(sizes, [50, 50, 20], "{query}: pages of 50");
    assert_eq!(backward, forward, "{query}: Previous leads back through the same pages");
}

// ================================================================ creating

#[actix_web::test]
async fn an_agent_creates_a_contact_that_is_normalised_recorded_and_theirs() {
    let app = app_as_admin().await;
    let (agnes, agent) = member(&app, "agnes@example.com", "Agnes Agent", Role::Agent).await;

    let res = submit_like_browser(
        &agent,
        "/contacts/new",
        "/contacts",
        &[
            ("name", "  Aisyah binti Ahmad "),
            ("email", " Aisyah.Ahmad@Example.COM"),
            ("phone", "012-345 6789"),
            ("company", "Kedai Runcit Aisyah"),
            ("country", "my"),
        ],
    )
    .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let id = id_from(&res);
    assert_eq!(location(&res), format!("/contacts/{id}"));

    let (status, html) = agent.page(&location(&res)).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(flash(&html).as_deref(), Some("Contact created"));
    assert!(first_text(&html, "h1").unwrap().starts_with("Aisyah binti Ahmad New"));
    assert_eq!(detail(&html, "E-mail"), "aisyah.ahmad@example.com");
    assert_eq!(detail(&html, "Phone"), "+60123456789");
    assert_eq!(detail(&html, "Company"), "Kedai Runcit Aisyah");
    assert_eq!(detail(&html, "Country"), "MY");
    assert_eq!(shown_owner(&html), "Agnes Agent", "the agent owns what they add");
    let history = history_lines(&html);
    assert_eq!(history.len(), 1, "{history:?}");
    assert!(
        history[0].starts_with("Created as New by Agnes Agent · manual"),
        "{history:?}"
    );

    let contact = stored(&app, id).expect("stored");
    assert_eq!(contact.name, "Aisyah binti Ahmad");
    assert_eq!(contact.email.as_deref(), Some("aisyah.ahmad@example.com"));
    assert_eq!(contact.phone.as_deref(), Some("+60123456789"));
    assert_eq!(contact.owner_id, Some(agnes.id));

    let (_, again) = agent.page(&format!("/contacts/{id}")).await;
    assert_eq!(flash(&again), None, "the flash shows once");
}

#[actix_web::test]
async fn contacts_created_by_a_lead_or_an_admin_start_unassigned() {
    let app = app_as_admin().await;
    let (_, lead) = member(&app, "lee@example.com", "Lee Lead", Role::Lead).await;
    for (client, name, who) in [
        (&app, "From the Admin", "Ada Admin"),
        (&lead, "From the Lead", "Lee Lead"),
    ] {
        let res = submit_like_browser(client, "/contacts/new", "/contacts", &[("name", name)]).await;
        assert_eq!(res.status(), StatusCode::SEE_OTHER, "{who}");
        let id = id_from(&res);
        assert_eq!(stored(&app, id).unwrap().owner_id, None, "{who}'s contact");
        let (_, html) = client.page(&location(&res)).await;
        assert_eq!(flash(&html).as_deref(), Some("Contact created"));
        assert_eq!(shown_owner(&html), "Unassigned", "{who}'s contact");
        assert!(history_lines(&html)[0].starts_with(&format!("Created as New by {who} · manual")));
    }
}

#[actix_web::test]
async fn a_contact_can_be_created_with_a_status_given_by_name() {
    let app = app_as_admin().await;
    let id = app.contact_id(&[("name", "Ravi"), ("status", "Negotiating")]).await;
    let (_, html) = app.page(&format!("/contacts/{id}")).await;
    assert_eq!(shown_status(&html), "Negotiating");
    assert!(history_lines(&html)[0].starts_with("Created as Negotiating by Ada Admin · manual"));
}

// ================================================================ refusals

#[actix_web::test]
async fn a_blank_name_is_refused_and_nothing_is_written() {
    let app = app_as_admin().await;
    for name in ["", "   \t "] {
        let res = app
            .create_contact(&[("name", name), ("email", "blank@example.com")])
            .await;
        assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY, "{name:?}");
        let html = body(res).await;
        assert_eq!(error_beside(&html, "name"), "Name is required.");
        assert_eq!(field_value(&html, "email"), "blank@example.com", "typed e-mail kept");
    }
    assert_eq!(app.contact_count(), 0);
}

#[actix_web::test]
async fn a_name_of_256_characters_is_refused_but_255_are_accepted() {
    let app = app_as_admin().await;
    let too_long = "a".repeat(256);
    let res = app.create_contact(&[("name", too_long.as_str())]).await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let html = body(res).await;
    assert_eq!(
        error_beside(&html, "name"),
        "Name is too long (256 characters; at most 255)."
    );
    assert_eq!(field_value(&html, "name"), too_long, "typed name kept");
    assert_eq!(app.contact_count(), 0);

    // Characters, not bytes: 255 two-byte letters fit.
    let longest = "é".repeat(255);
    let id = app.contact_id(&[("name", longest.as_str())]).await;
    assert_eq!(stored(&app, id).unwrap().name, longest);
}

#[actix_web::test]
async fn an_invalid_email_is_refused_beside_its_field() {
    let app = app_as_admin().await;
    for email in ["not-an-email", "chong@@example", "chong@"] {
        let res = app.create_contact(&[("name", "Chong Wei"), ("email", email)]).await;
        assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY, "{email}");
        let html = body(res).await;
        assert_eq!(error_beside(&html, "email"), "E-mail is not a valid address.");
        assert_eq!(field_value(&html, "name"), "Chong Wei", "typed name kept");
        assert_eq!(field_value(&html, "email"), email, "typed e-mail kept");
    }
    // A host without a dot is no customer's mailbox.
    let res = app.create_contact(&[("name", "Siti"), ("email", "siti@example")]).await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let html = body(res).await;
    assert_eq!(
        error_beside(&html, "email"),
        "E-mail needs a domain with a dot, such as siti@example.com."
    );
    assert_eq!(app.contact_count(), 0);
}

#[actix_web::test]
async fn an_invalid_phone_is_refused_beside_its_field() {
    let app = app_as_admin().await;
    for phone in ["call me", "12", "012-345"] {
        let res = app.create_contact(&[("name", "Chong Wei"), ("phone", phone)]).await;
        assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY, "{phone}");
        let html = body(res).await;
        assert_eq!(error_beside(&html, "phone"), "Phone is not a phone number we can read: write a mobile or landline number, e.g. 012-345 6789 or +60 12-345 6789.");
        assert_eq!(field_value(&html, "phone"), phone, "typed phone kept");
    }
    assert_eq!(app.contact_count(), 0);
}

#[actix_web::test]
async fn a_duplicate_email_in_any_case_is_refused_with_a_link_to_the_existing_contact() {
    let app = app_as_admin().await;
    let first = app
        .contact_id(&[("name", "Wei Ming"), ("email", "weiming@example.com")])
        .await;
    for email in ["weiming@example.com", "WeiMing@Example.com", " WEIMING@EXAMPLE.COM "] {
        let res = app.create_contact(&[("name", "Wei Ming Tan"), ("email", email)]).await;
        assert_eq!(res.status(), StatusCode::CONFLICT, "{email}");
        let html = body(res).await;
        assert_eq!(duplicate_link(&html), Some(format!("/contacts/{first}")), "{email}");
        assert_eq!(error_beside(&html, "email"), "E-mail already belongs to Wei Ming.");
        assert_eq!(
            first_text(&html, ".duplicate a").as_deref(),
            Some("Wei Ming"),
            "the refusal names the person"
        );
        assert_eq!(field_value(&html, "name"), "Wei Ming Tan", "typed name kept");
    }
    assert_eq!(app.contact_count(), 1);
}

#[actix_web::test]
async fn a_duplicate_phone_in_another_format_is_refused_with_a_link_to_the_existing_contact() {
    let app = app_as_admin().await;
    let first = app.contact_id(&[("name", "Siti"), ("phone", "012-345 6789")]).await;
    for phone in ["+60 12-345 6789", "60123456789", "+60123456789", "(012) 3456789"] {
        let res = app
            .create_contact(&[("name", "Siti Nurhaliza"), ("phone", phone)])
            .await;
        assert_eq!(res.status(), StatusCode::CONFLICT, "{phone}");
        let html = body(res).await;
        assert_eq!(duplicate_link(&html), Some(format!("/contacts/{first}")), "{phone}");
        assert_eq!(error_beside(&html, "phone"), "Phone already belongs to Siti.");
        let refusal = first_text(&html, ".duplicate").unwrap_or_default();
        assert!(refusal.starts_with("This phone already belongs to Siti."), "{refusal}");
        assert_eq!(
            attr(&html, "#f-phone", "autofocus").as_deref(),
            Some(""),
            "the invalid field takes the focus"
        );
        assert_eq!(field_value(&html, "phone"), phone, "typed phone kept");
    }
    assert_eq!(app.contact_count(), 1);
}

#[actix_web::test]
async fn an_unknown_status_is_refused_on_create() {
    let app = app_as_admin().await;
    for (status, message) in [
        ("9", "Status 9 is not a status ID (use 1 to 7)."),
        ("0", "Status 0 is not a status ID (use 1 to 7)."),
        ("Closed", "Status \"Closed\" is not a status"),
    ] {
        let res = app.create_contact(&[("name", "Tan"), ("status", status)]).await;
        assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY, "{status}");
        let html = body(res).await;
        assert!(error_beside(&html, "status").starts_with(message), "{status}: {html}");
        assert_eq!(field_value(&html, "name"), "Tan");
    }
    assert_eq!(app.contact_count(), 0);
}

#[actix_web::test]
async fn an_unknown_status_is_refused_on_status_change_and_nothing_changes() {
    let app = app_as_admin().await;
    let id = app.contact_id(&[("name", "Bala")]).await;
    let show = format!("/contacts/{id}");
    for (status, message) in [
        ("9", "9 is not a status ID (use 1 to 7)"),
        ("Closed", "is not a status"),
        ("", "is required"),
    ] {
        let res = app
            .submit(&show, &format!("{show}/status"), &[("status", status)])
            .await;
        assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY, "{status:?}");
        assert!(body(res).await.contains(message), "{status:?}");
    }
    assert_eq!(stored(&app, id).unwrap().status(), LeadStatus::New);
    assert_eq!(history_len(&app, id), 1, "no history entry");
    let (_, html) = app.page(&show).await;
    assert_eq!(shown_status(&html), "New");
    let list = list_page(&app, "/contacts").await;
    assert_eq!(status_count(&list, "New"), 1);
}

#[actix_web::test]
async fn forms_without_this_sessions_csrf_token_are_refused_and_change_nothing() {
    let app = app_as_admin().await;
    let (_, agent) = member(&app, "agnes@example.com", "Agnes Agent", Role::Agent).await;
    let id = app.contact_id(&[("name", "Chong")]).await;
    let (_, agent_page) = agent.page("/contacts/new").await;
    let someone_elses = csrf_of(&agent_page);

    let status_path = format!("/contacts/{id}/status");
    let delete_path = format!("/contacts/{id}/delete");
    let cases: [(&str, &[(&str, &str)]); 3] = [
        ("/contacts", &[("name", "Intruder")]),
        (&status_path, &[("status", "won")]),
        (&delete_path, &[]),
    ];
    for (path, fields) in cases {
        for token in [None, Some(""), Some("wrong-token"), Some(someone_elses.as_str())] {
            let mut form: Vec<(&str, &str)> = fields.to_vec();
            if let Some(token) = token {
                form.push(("csrf_token", token));
            }
            let res = app.post_raw(path, &form).await;
            assert_eq!(res.status(), StatusCode::FORBIDDEN, "{path} with {token:?}");
            assert!(body(res).await.contains("This form has expired"));
        }
    }
    assert_eq!(app.contact_count(), 1);
    let contact = stored(&app, id).expect("not deleted");
    assert_eq!(contact.status(), LeadStatus::New);
    assert_eq!(history_len(&app, id), 1);
}

#[actix_web::test]
async fn agents_cannot_delete_contacts() {
    let app = app_as_admin().await;
    let (_, agent) = member(&app, "agnes@example.com", "Agnes Agent", Role::Agent).await;
    let id = agent.contact_id(&[("name", "Dewi")]).await;
    let show = format!("/contacts/{id}");
    let delete = format!("/contacts/{id}/delete");

    let (_, html) = agent.page(&show).await;
    assert_eq!(
        attr(&html, &format!("a[href=\"{delete}\"]"), "href"),
        None,
        "no Delete button"
    );
    let (status, html) = agent.page(&delete).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert!(html.contains("Your role does not allow you to delete contacts."));
    let res = agent.submit(&show, &delete, &[]).await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    assert!(body(res)
        .await
        .contains("Your role does not allow you to delete contacts."));

    assert!(stored(&app, id).is_some(), "still there");
    assert_eq!(app.contact_count(), 1);
    assert_eq!(agent.page(&show).await.0, StatusCode::OK);
}

#[actix_web::test]
async fn agents_cannot_assign_contacts() {
    let app = app_as_admin().await;
    let (agnes, agent) = member(&app, "agnes@example.com", "Agnes Agent", Role::Agent).await;
    let id = app.contact_id(&[("name", "Dewi")]).await;
    let show = format!("/contacts/{id}");

    let (_, html) = agent.page(&show).await;
    assert!(!html.contains(&format!("action=\"{show}/owner\"")), "no assign form");
    let me = agnes.id.to_string();
    let res = agent
        .submit(&show, &format!("{show}/owner"), &[("owner", me.as_str())])
        .await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    assert!(body(res)
        .await
        .contains("Your role does not allow you to assign contacts."));

    // Nor through the edit form.
    let res = agent
        .submit(
            &format!("{show}/edit"),
            &show,
            &[("name", "Dewi"), ("owner", me.as_str())],
        )
        .await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    assert_eq!(stored(&app, id).unwrap().owner_id, None, "still unassigned");
}

#[actix_web::test]
async fn an_unknown_contact_id_is_not_found_on_every_page_and_action() {
    let app = app_as_admin().await;
    let id = app.contact_id(&[("name", "Only One")]).await;
    let missing = format!("/contacts/{}", id + 1000);
    for path in [
        missing.clone(),
        format!("{missing}/edit"),
        format!("{missing}/delete"),
        "/contacts/abc".to_string(),
    ] {
        let (status, html) = app.page(&path).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "GET {path}");
        assert!(html.contains("was not found"), "GET {path}");
    }
    for (path, fields) in [
        (missing.clone(), vec![("name", "Ghost")]),
        (format!("{missing}/status"), vec![("status", "won")]),
        (format!("{missing}/owner"), vec![("owner", "")]),
        (format!("{missing}/delete"), vec![]),
    ] {
        let res = app.submit("/contacts/new", &path, &fields).await;
        assert_eq!(res.status(), StatusCode::NOT_FOUND, "POST {path}");
        assert!(body(res).await.contains("was not found"), "POST {path}");
    }
    assert_eq!(app.contact_count(), 1, "the update created nothing");
    assert_eq!(stored(&app, id).unwrap().name, "Only One");
}

// ================================================================ escaping

#[actix_web::test]
async fn a_script_in_a_name_is_shown_as_text_on_every_page() {
    let app = app_as_admin().await;
    let id = app.contact_id(&[("name", SCRIPT)]).await;
    let show = format!("/contacts/{id}");
    let mut pages = Vec::new();
    for path in [
        "/contacts".to_string(),
        list_url(&[("q", "script")]),
        show.clone(),
        format!("{show}/edit"),
        format!("{show}/delete"),
    ] {
        let (status, html) = app.page(&path).await;
        assert_eq!(status, StatusCode::OK, "{path}");
        pages.push((path, html));
    }
    let res = app.create_contact(&[("name", SCRIPT), ("email", "not-an-email")]).await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    pages.push(("the new form with errors".into(), body(res).await));
    let res = app
        .submit(
            &format!("{show}/edit"),
            &show,
            &[("name", SCRIPT), ("phone", "call me")],
        )
        .await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    pages.push(("the edit form with errors".into(), body(res).await));
    // A search or a bad query echoes what was typed.
    let (_, html) = app.page(&list_url(&[("q", SCRIPT)])).await;
    pages.push(("a search for the script".into(), html));
    let (status, html) = app.page(&list_url(&[("sort", SCRIPT)])).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    pages.push(("a sort by the script".into(), html));

    for (what, html) in pages {
        assert!(!html.contains(SCRIPT), "{what} holds the raw script tag");
        assert!(html.contains(SCRIPT_ESCAPED), "{what} shows the text escaped");
    }
}

// ================================================================== status

#[actix_web::test]
async fn status_changes_by_name_or_id_are_recorded_with_who_and_how() {
    let app = app_as_admin().await;
    let (lee, lead) = member(&app, "lee@example.com", "Lee Lead", Role::Lead).await;
    let id = lead.contact_id(&[("name", "Farah")]).await;
    let show = format!("/contacts/{id}");

    let res = lead
        .submit(&show, &format!("{show}/status"), &[("status", "qualified")])
        .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&res), show);
    let (_, html) = lead.page(&show).await;
    assert_eq!(flash(&html).as_deref(), Some("Status set to Qualified"));
    assert_eq!(shown_status(&html), "Qualified");

    let res = app.submit(&show, &format!("{show}/status"), &[("status", "6")]).await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let (_, html) = app.page(&show).await;
    assert_eq!(shown_status(&html), "Won");
    let lines = history_lines(&html);
    assert_eq!(lines.len(), 3, "{lines:?}");
    for (line, start) in lines.iter().zip([
        "Qualified → Won by Ada Admin · manual",
        "New → Qualified by Lee Lead · manual",
        "Created as New by Lee Lead · manual",
    ]) {
        assert!(line.starts_with(start), "{line:?} should start with {start:?}");
    }

    let entries = app.with_db(|c| service::history(c, id)).unwrap();
    let second = &entries[1];
    assert_eq!(
        (
            second.from_status(),
            second.to_status(),
            second.source.as_str(),
            second.user_id
        ),
        (Some(LeadStatus::New), LeadStatus::Qualified, "manual", Some(lee.id))
    );
}

#[actix_web::test]
async fn setting_the_status_a_contact_already_has_adds_no_history_entry() {
    let app = app_as_admin().await;
    let id = app.contact_id(&[("name", "Gopal"), ("status", "2")]).await;
    let show = format!("/contacts/{id}");
    for status in ["Reach", "2", "reached"] {
        let res = app
            .submit(&show, &format!("{show}/status"), &[("status", status)])
            .await;
        assert_eq!(res.status(), StatusCode::SEE_OTHER, "{status}");
    }
    assert_eq!(history_len(&app, id), 1);
    let (_, html) = app.page(&show).await;
    assert_eq!(shown_status(&html), "Reach");
    assert_eq!(history_lines(&html).len(), 1);
    let list = list_page(&app, "/contacts").await;
    assert_eq!(status_count(&list, "Reach"), 1);
}

#[actix_web::test]
async fn the_status_counts_on_the_list_follow_every_change() {
    let app = app_as_admin().await;
    let a = app.contact_id(&[("name", "Aisyah")]).await;
    let b = app.contact_id(&[("name", "Bala")]).await;
    app.contact_id(&[("name", "Chong")]).await;
    let counts = |html: &str| ["All", "New", "Qualified", "Won"].map(|label| status_count(html, label));
    assert_eq!(counts(&list_page(&app, "/contacts").await), [3, 3, 0, 0]);

    let app_ref = &app;
    let set = |id: i32, status: &'static str| {
        let show = format!("/contacts/{id}");
        async move {
            let res = app_ref
                .submit(&show, &format!("{show}/status"), &[("status", status)])
                .await;
            assert_eq!(res.status(), StatusCode::SEE_OTHER);
        }
    };
    set(a, "qualified").await;
    set(b, "won").await;
    assert_eq!(counts(&list_page(&app, "/contacts").await), [3, 1, 1, 1]);
    set(a, "won").await;
    assert_eq!(counts(&list_page(&app, "/contacts").await), [3, 1, 0, 2]);

    // A status changed through the edit form counts too.
    let res = submit_like_browser(
        &app,
        &format!("/contacts/{b}/edit"),
        &format!("/contacts/{b}"),
        &[("status", "3")],
    )
    .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert_eq!(counts(&list_page(&app, "/contacts").await), [3, 1, 1, 1]);
}

// ==================================================================== edit

#[actix_web::test]
async fn editing_a_contact_saves_every_field() {
    let app = app_as_admin().await;
    let id = app
        .contact_id(&[
            ("name", "Gopal"),
            ("email", "gopal@example.com"),
            ("phone", "012-345 6789"),
        ])
        .await;
    let show = format!("/contacts/{id}");
    let res = submit_like_browser(
        &app,
        &format!("{show}/edit"),
        &show,
        &[
            ("name", "Gopal Krishnan"),
            ("email", "Gopal.K@Example.com"),
            ("phone", "+60 11-3777 7777"),
            ("identifier", "CUST-42"),
            ("company", "Gopal Textiles"),
            ("city", "Klang"),
            ("country", "sg"),
            ("status", "5"),
            ("opted_out", "1"),
        ],
    )
    .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&res), show);

    let (_, html) = app.page(&show).await;
    assert_eq!(flash(&html).as_deref(), Some("Contact saved"));
    assert!(first_text(&html, "h1").unwrap().starts_with("Gopal Krishnan"));
    assert_eq!(shown_status(&html), "Negotiating");
    for (label, value) in [
        ("E-mail", "gopal.k@example.com"),
        ("Phone", "+601137777777"),
        ("Identifier", "CUST-42"),
        ("Company", "Gopal Textiles"),
        ("City", "Klang"),
        ("Country", "SG"),
        ("Messages", "Opted out"),
    ] {
        assert_eq!(detail(&html, label), value, "{label}");
    }
    assert!(history_lines(&html)[0].starts_with("New → Negotiating by Ada Admin · manual"));

    // The edit form now shows the saved values; saving it unchanged changes nothing.
    let (_, form) = app.page(&format!("{show}/edit")).await;
    assert_eq!(field_value(&form, "email"), "gopal.k@example.com");
    assert_eq!(field_value(&form, "status"), "5");
    let res = submit_like_browser(&app, &format!("{show}/edit"), &show, &[]).await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let contact = stored(&app, id).unwrap();
    assert_eq!(contact.city.as_deref(), Some("Klang"));
    assert!(contact.opted_out_at.is_some());
    assert_eq!(history_len(&app, id), 2, "no status change, no entry");
}

#[actix_web::test]
async fn an_email_that_belongs_to_another_contact_is_refused_on_edit() {
    let app = app_as_admin().await;
    let a = app
        .contact_id(&[("name", "Aisyah"), ("email", "aisyah@example.com")])
        .await;
    let b = app.contact_id(&[("name", "Bala"), ("email", "bala@example.com")]).await;
    let show = format!("/contacts/{b}");
    let res = submit_like_browser(
        &app,
        &format!("{show}/edit"),
        &show,
        &[("name", "Bala Murugan"), ("email", "Aisyah@Example.com")],
    )
    .await;
    assert_eq!(res.status(), StatusCode::CONFLICT);
    let html = body(res).await;
    assert_eq!(duplicate_link(&html), Some(format!("/contacts/{a}")));
    assert_eq!(field_value(&html, "name"), "Bala Murugan", "typed name kept");
    assert_eq!(
        attr(&html, "form.grid", "action"),
        Some(show.clone()),
        "still editing contact {b}"
    );

    let contact = stored(&app, b).unwrap();
    assert_eq!(contact.name, "Bala");
    assert_eq!(contact.email.as_deref(), Some("bala@example.com"));
}

#[actix_web::test]
async fn an_edit_with_errors_keeps_what_was_typed_and_saves_nothing() {
    let app = app_as_admin().await;
    let id = app.contact_id(&[("name", "Hana"), ("email", "hana@example.com")]).await;
    let show = format!("/contacts/{id}");
    let res = submit_like_browser(
        &app,
        &format!("{show}/edit"),
        &show,
        &[
            ("name", "Hana Yusof"),
            ("email", "hana at example"),
            ("city", "Melaka"),
            ("status", "3"),
        ],
    )
    .await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let html = body(res).await;
    assert_eq!(error_beside(&html, "email"), "E-mail is not a valid address.");
    assert_eq!(field_value(&html, "name"), "Hana Yusof");
    assert_eq!(field_value(&html, "email"), "hana at example");
    assert_eq!(field_value(&html, "city"), "Melaka");
    assert_eq!(field_value(&html, "status"), "3");
    assert_eq!(attr(&html, "form.grid", "action"), Some(show.clone()));

    let contact = stored(&app, id).unwrap();
    assert_eq!(
        (contact.name.as_str(), contact.city.as_deref(), contact.status()),
        ("Hana", None, LeadStatus::New)
    );
    assert_eq!(history_len(&app, id), 1);
}

#[actix_web::test]
async fn an_agent_edits_their_own_contact_and_keeps_it() {
    let app = app_as_admin().await;
    let (agnes, agent) = member(&app, "agnes@example.com", "Agnes Agent", Role::Agent).await;
    let res = submit_like_browser(&agent, "/contacts/new", "/contacts", &[("name", "Indah")]).await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let id = id_from(&res);
    let show = format!("/contacts/{id}");
    let (_, form) = agent.page(&format!("{show}/edit")).await;
    assert_eq!(
        attr(&form, "select#f-owner", "name"),
        None,
        "agents do not pick owners here"
    );

    let res = submit_like_browser(&agent, &format!("{show}/edit"), &show, &[("company", "Indah Batik")]).await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let contact = stored(&app, id).unwrap();
    assert_eq!(contact.company.as_deref(), Some("Indah Batik"));
    assert_eq!(contact.owner_id, Some(agnes.id), "still the agent's");
}

// ========================================================= assign, delete

#[actix_web::test]
async fn a_lead_assigns_a_contact_to_an_agent_and_back_to_nobody() {
    let app = app_as_admin().await;
    let (agnes, agent) = member(&app, "agnes@example.com", "Agnes Agent", Role::Agent).await;
    let (_, lead) = member(&app, "lee@example.com", "Lee Lead", Role::Lead).await;
    let id = lead.contact_id(&[("name", "Jamal")]).await;
    let show = format!("/contacts/{id}");
    assert!(listed_ids(&list_page(&agent, "/contacts").await).is_empty());

    let agent_id = agnes.id.to_string();
    let res = submit_like_browser(&lead, &show, &format!("{show}/owner"), &[("owner", agent_id.as_str())]).await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&res), show);
    let (_, html) = lead.page(&show).await;
    assert_eq!(flash(&html).as_deref(), Some("Owner changed"));
    assert_eq!(shown_owner(&html), "Agnes Agent");
    assert_eq!(stored(&app, id).unwrap().owner_id, Some(agnes.id));
    assert_eq!(
        listed_ids(&list_page(&agent, "/contacts").await),
        [id],
        "now in the agent's list"
    );

    let res = submit_like_browser(&lead, &show, &format!("{show}/owner"), &[("owner", "")]).await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let (_, html) = lead.page(&show).await;
    assert_eq!(shown_owner(&html), "Unassigned");
    assert_eq!(stored(&app, id).unwrap().owner_id, None);
}

#[actix_web::test]
async fn assigning_to_someone_outside_the_team_is_refused_and_the_owner_stays() {
    let app = app_as_admin().await;
    let (agnes, _) = member(&app, "agnes@example.com", "Agnes Agent", Role::Agent).await;
    let agent_id = agnes.id.to_string();
    let id = app.contact_id(&[("name", "Kumar"), ("owner", agent_id.as_str())]).await;
    let show = format!("/contacts/{id}");
    let unknown = (agnes.id + 1000).to_string();
    for owner in [unknown.as_str(), "boss", "-1"] {
        let res = app.submit(&show, &format!("{show}/owner"), &[("owner", owner)]).await;
        assert!(res.status().is_client_error(), "{owner}: {}", res.status());
        let html = body(res).await;
        assert!(
            html.contains("is not a member of the team") || html.contains("is not a user"),
            "{owner}: {html}"
        );
    }
    assert_eq!(stored(&app, id).unwrap().owner_id, Some(agnes.id));
    let (_, html) = app.page(&show).await;
    assert_eq!(shown_owner(&html), "Agnes Agent");
}

#[actix_web::test]
async fn a_lead_deletes_a_contact_from_its_confirmation_page() {
    let app = app_as_admin().await;
    let (_, lead) = member(&app, "lee@example.com", "Lee Lead", Role::Lead).await;
    let keep = lead.contact_id(&[("name", "Keep Me")]).await;
    let gone = lead.contact_id(&[("name", "Lim Gone"), ("status", "qualified")]).await;
    let list = list_page(&lead, "/contacts").await;
    assert_eq!([status_count(&list, "All"), status_count(&list, "Qualified")], [2, 1]);

    let show = format!("/contacts/{gone}");
    let delete = format!("{show}/delete");
    let (_, html) = lead.page(&show).await;
    assert_eq!(
        attr(&html, &format!("a[href=\"{delete}\"]"), "href"),
        Some(delete.clone())
    );
    let (status, html) = lead.page(&delete).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(first_text(&html, "h1").as_deref(), Some("Delete Lim Gone?"));
    assert!(html.contains("goes to the trash"));

    let res = submit_like_browser(&lead, &delete, &delete, &[]).await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&res), "/contacts");
    let list = list_page(&lead, "/contacts").await;
    assert_eq!(flash(&list).as_deref(), Some("Contact deleted (moved to the trash)"));
    let undo = format!("/trash/{gone}/restore");
    assert_eq!(
        attr(&list, ".flash form.undo", "action").as_deref(),
        Some(undo.as_str()),
        "the notice offers the undo"
    );
    assert_eq!(first_text(&list, ".flash form.undo button").as_deref(), Some("Undo"));
    assert_eq!(listed_ids(&list), [keep]);
    assert_eq!([status_count(&list, "All"), status_count(&list, "Qualified")], [1, 0]);
    assert_eq!(lead.page(&show).await.0, StatusCode::NOT_FOUND);
    assert!(stored(&app, gone).is_none(), "no page or service finds it");
    assert_eq!(history_len(&app, gone), 1, "its history waits in the trash with it");

    // Undo: the contact is back, with its status and history.
    let res = lead.submit("/contacts", &undo, &[]).await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&res), show);
    let (status, html) = lead.page(&show).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(flash(&html).as_deref(), Some("Lim Gone restored from the trash"));
    assert_eq!(stored(&app, gone).unwrap().status_id, 3);
    let list = list_page(&lead, "/contacts").await;
    assert_eq!([status_count(&list, "All"), status_count(&list, "Qualified")], [2, 1]);
}

/// Deleting a note offers an undo that writes it back as it was; only once.
#[actix_web::test]
async fn a_deleted_note_comes_back_with_undo() {
    let app = app_as_admin().await;
    let (_, agent) = member(&app, "alex@example.com", "Alex Agent", Role::Agent).await;
    let id = agent.contact_id(&[("name", "Nora Note")]).await;
    let show = format!("/contacts/{id}");
    let res = agent
        .submit(
            &show,
            &format!("{show}/notes"),
            &[("kind", "call"), ("body", "Asked for <b>gold</b>")],
        )
        .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let (_, html) = agent.page(&show).await;
    let note_id: i32 = attr(&html, "li.note", "id")
        .unwrap()
        .trim_start_matches("note-")
        .parse()
        .unwrap();
    let before = first_text(&html, "li.note").unwrap();

    let res = agent.submit(&show, &format!("/notes/{note_id}/delete"), &[]).await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let (_, html) = agent.page(&show).await;
    assert_eq!(flash(&html).as_deref(), Some("Note deleted"));
    assert_eq!(
        attr(&html, ".flash form.undo", "action").as_deref(),
        Some("/notes/undo")
    );
    assert!(first_text(&html, "li.note").is_none(), "the note is gone");

    // Another user's session has nothing to undo.
    let lead = app.login_as("admin@example.com").await;
    let res = lead.submit("/contacts", "/notes/undo", &[]).await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let (_, list) = lead.page(&location(&res)).await;
    assert!(flash(&list).unwrap_or_default().contains("no deleted note"));

    let res = agent.submit(&show, "/notes/undo", &[]).await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&res), format!("{show}#notes"));
    let (_, html) = agent.page(&show).await;
    assert_eq!(flash(&html).as_deref(), Some("Note restored"));
    assert_eq!(
        attr(&html, "li.note", "id"),
        Some(format!("note-{note_id}")),
        "same note, same ID"
    );
    assert_eq!(
        first_text(&html, "li.note").unwrap(),
        before,
        "same kind, author, time and text"
    );
    assert!(!html.contains("<b>gold</b>") && html.contains("gold"), "still escaped");

    // A second undo has nothing left to restore and writes nothing.
    let res = agent.submit(&show, "/notes/undo", &[]).await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let (_, html) = agent.page(&show).await;
    assert_eq!(html.matches("class=\"note ").count(), 1, "one note, not two");
}

// ==================================================================== list

/// Every column shown is a sort link, ascending on the first click and
/// descending on the second, owner and custom columns included.
#[actix_web::test]
async fn every_column_header_sorts_ascending_first() {
    let app = app_as_admin().await;
    let res = app
        .submit(
            "/settings/attributes",
            "/settings/attributes",
            &[
                ("key", "plan"),
                ("display_name", "Plan"),
                ("type", "list"),
                ("options", "gold\nsilver"),
            ],
        )
        .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    app.contact_id(&[("name", "Ana"), ("custom.plan", "silver")]).await;
    app.contact_id(&[("name", "Bo"), ("custom.plan", "gold")]).await;
    let html = list_page(&app, "/contacts?owner=all&cols=plan").await;
    // A header's text, without the current sort's arrow.
    let header = |html: &str, label: &str| {
        let doc = Html::parse_document(html);
        doc.select(&sel("table.contacts thead th a"))
            .find(|e| text_of(*e).trim_end_matches(['▲', '▼', ' ']) == label)
            .and_then(|e| e.value().attr("href").map(str::to_string))
    };
    for (label, sort) in [
        ("Name", "name"),
        ("Status", "status"),
        ("Owner", "owner"),
        ("Last activity", "activity"),
        ("Created", "created"),
        ("Lead score", "score"),
        ("Plan", "attr.plan"),
    ] {
        let href = header(&html, label).unwrap_or_else(|| panic!("{label} is a sort link"));
        assert!(
            href.contains(&format!("sort={sort}&order=asc")),
            "{label} sorts ascending first: {href}"
        );
    }
    // Sorted by plan: gold before silver; the header now offers descending.
    let href = header(&html, "Plan").unwrap();
    let sorted = list_page(&app, &href).await;
    assert_eq!(listed_names(&sorted), ["Bo", "Ana"]);
    let again = attr_where(&sorted, "table.contacts thead th a", "Plan ▲", "href").expect("the arrow shows");
    assert!(again.contains("order=desc"), "{again}");
    assert_eq!(listed_names(&list_page(&app, &again).await), ["Ana", "Bo"]);
}

/// The list says how many it holds ("1–50 of 120"), counts its chips within
/// the scope it shows, and keeps the search across scope tabs.
#[actix_web::test]
async fn the_list_counts_within_its_scope_and_keeps_the_search() {
    use leadbook::service::status::StatusSource;
    let app = app_as_admin().await;
    let (agent, agent_client) = member(&app, "alex@example.com", "Alex Agent", Role::Agent).await;
    let admin = app.with_db(|c| leadbook::service::users::find_by_email(c, "admin@example.com").unwrap());
    // 60 the agent's own (their first entry made by the agent), 60 unassigned.
    let mine: Vec<_> = (0..60).map(|i| named(&format!("Mine {i:03}"))).collect();
    add_contacts_from(&app, &agent, &mine, StatusSource::Manual);
    let theirs: Vec<_> = (0..60).map(|i| named(&format!("Other {i:03}"))).collect();
    add_contacts_from(&app, &admin, &theirs, StatusSource::Manual);

    // The agent opens on their own contacts: the count and the chips say 60.
    let html = list_page(&agent_client, "/contacts").await;
    assert_eq!(first_text(&html, "#list-count").as_deref(), Some("1–50 of 60"));
    assert_eq!([status_count(&html, "All"), status_count(&html, "New")], [60, 60]);
    // The next page goes on from 51.
    let next = pager(&html, "next").expect("a next page");
    let html = list_page(&agent_client, &next).await;
    assert_eq!(first_text(&html, "#list-count").as_deref(), Some("51–60 of 60"));
    assert!(
        first_text(&html, "nav.pager a").as_deref() == Some("« First"),
        "a First link"
    );

    // Everyone's: 120, team-wide chips.
    let html = list_page(&agent_client, "/contacts?owner=all").await;
    assert_eq!(first_text(&html, "#list-count").as_deref(), Some("1–50 of 120"));
    assert_eq!(status_count(&html, "All"), 120);

    // A search, then the scope tab: the search text stays.
    let html = list_page(&agent_client, "/contacts?q=other+0").await;
    assert_eq!(first_text(&html, "#list-count").as_deref(), Some("No contacts match"));
    let everyone = attr_where(&html, "nav.scopes a", "Everyone", "href").expect("an Everyone tab");
    assert!(everyone.contains("q=other+0"), "{everyone}");
    let html = list_page(&agent_client, &everyone).await;
    assert_eq!(field_value(&html, "q"), "other 0");
    assert_eq!(
        first_text(&html, "#list-count").as_deref(),
        Some("1–50 of 60"),
        "Other 000–059"
    );
}

#[actix_web::test]
async fn search_finds_a_name_fragment_in_any_case() {
    let app = app_as_admin().await;
    let lead = app.add_user("lee@example.com", "Lee Lead", Role::Lead);
    add_contacts(
        &app,
        &lead,
        &[named("Ali bin Abu"), named("Nur Aliya"), named("Bala Murugan")],
    );
    for q in ["ali", "ALI", "aLi"] {
        assert_eq!(found(&app, q).await, names(&["Ali bin Abu", "Nur Aliya"]), "{q}");
    }
    assert_eq!(found(&app, "BIN AB").await, names(&["Ali bin Abu"]));
    assert_eq!(found(&app, "  murUGAN ").await, names(&["Bala Murugan"]));
    assert!(found(&app, "zainal").await.is_empty());
    let html = list_page(&app, &list_url(&[("q", "zainal")])).await;
    assert!(html.contains("No contacts match these filters."));
    assert_eq!(field_value(&html, "q"), "zainal", "the search stays in its box");
}

#[actix_web::test]
async fn search_finds_names_with_accented_letters_as_typed_or_in_another_case() {
    let app = app_as_admin().await;
    let lead = app.add_user("lee@example.com", "Lee Lead", Role::Lead);
    add_contacts(&app, &lead, &[named("Élodie Chua"), named("ZOË TAN")]);
    for (q, who) in [
        ("Élodie", "Élodie Chua"),
        ("élodie", "Élodie Chua"),
        ("ZOË", "ZOË TAN"),
        ("zoë", "ZOË TAN"),
    ] {
        assert_eq!(found(&app, q).await, names(&[who]), "{q}");
    }
}

#[actix_web::test]
async fn search_finds_a_phone_by_its_digits_in_local_or_international_form() {
    let app = app_as_admin().await;
    let lead = app.add_user("lee@example.com", "Lee Lead", Role::Lead);
    let phone = |name: &str, phone: &str| ContactInput {
        phone: phone.into(),
        ..named(name)
    };
    add_contacts(
        &app,
        &lead,
        &[
            phone("Aisyah", "012-345 6789"),
            phone("Bala", "+60 11-3777 7777"),
            phone("Chong", "019-876 5432"),
        ],
    );
    for (q, who) in [
        ("2345", "Aisyah"),
        ("012-345", "Aisyah"),
        ("012 345 6789", "Aisyah"),
        ("+60 12 345", "Aisyah"),
        ("3777", "Bala"),
        ("011-3777", "Bala"),
        ("0198765432", "Chong"),
        ("60198765432", "Chong"),
    ] {
        assert_eq!(found(&app, q).await, names(&[who]), "{q}");
    }
    assert!(found(&app, "555").await.is_empty());
}

#[actix_web::test]
async fn search_finds_an_email_or_identifier_fragment() {
    let app = app_as_admin().await;
    let lead = app.add_user("lee@example.com", "Lee Lead", Role::Lead);
    let with = |name: &str, email: &str, identifier: &str| ContactInput {
        email: email.into(),
        identifier: identifier.into(),
        ..named(name)
    };
    add_contacts(
        &app,
        &lead,
        &[
            with("Siti", "siti.rahmah@kedai.my", "CUST-0001"),
            with("Ravi", "ravi@tech.io", "cust-0002"),
            with("Tan", "", ""),
        ],
    );
    for (q, who) in [
        ("kedai", &["Siti"][..]),
        ("RAVI@", &["Ravi"]),
        ("@tech.io", &["Ravi"]),
        ("cust-0001", &["Siti"]),
        ("CUST-0002", &["Ravi"]),
        ("cust-000", &["Ravi", "Siti"]),
        ("0001", &["Siti"]),
    ] {
        assert_eq!(found(&app, q).await, names(who), "{q}");
    }
}

#[actix_web::test]
async fn search_treats_percent_and_underscore_as_plain_text() {
    let app = app_as_admin().await;
    let lead = app.add_user("lee@example.com", "Lee Lead", Role::Lead);
    add_contacts(
        &app,
        &lead,
        &[
            named("Ah_Kow"),
            named("AhXKow"),
            named("100% Halal"),
            named("1000 Halal"),
        ],
    );
    assert_eq!(found(&app, "h_k").await, names(&["Ah_Kow"]));
    assert_eq!(found(&app, "100%").await, names(&["100% Halal"]));
    assert_eq!(found(&app, "%").await, names(&["100% Halal"]));
}

#[actix_web::test]
async fn the_list_filters_by_one_or_several_statuses() {
    let app = app_as_admin().await;
    let lead = app.add_user("lee@example.com", "Lee Lead", Role::Lead);
    let with = |name: &str, status: &str| ContactInput {
        status: status.into(),
        ..named(name)
    };
    add_contacts(
        &app,
        &lead,
        &[
            with("Aisyah", "new"),
            with("Bala", "qualified"),
            with("Chong", "won"),
            with("Dewi", "lost"),
            with("Eng", "qualified"),
        ],
    );
    let listed = |pairs: Vec<(&'static str, &'static str)>| {
        let app = &app;
        async move {
            let mut pairs = pairs;
            pairs.extend([("sort", "name"), ("order", "asc")]);
            let html = list_page(app, &list_url(&pairs)).await;
            let checked: Vec<String> = Html::parse_document(&html)
                .select(&sel("input[name=status][checked]"))
                .map(|i| i.value().attr("value").unwrap().to_string())
                .collect();
            (listed_names(&html), checked)
        }
    };
    assert_eq!(
        listed(vec![("status", "3")]).await,
        (names(&["Bala", "Eng"]), names(&["3"]))
    );
    assert_eq!(
        listed(vec![("status", "qualified")]).await,
        (names(&["Bala", "Eng"]), names(&["3"]))
    );
    assert_eq!(
        listed(vec![("status", "6"), ("status", "3")]).await,
        (names(&["Bala", "Chong", "Eng"]), names(&["3", "6"]))
    );
    assert_eq!(listed(vec![("status", "5")]).await, (vec![], names(&["5"])));
    // The counts stay those of the whole team.
    let html = list_page(&app, &list_url(&[("status", "3")])).await;
    assert_eq!(status_count(&html, "All"), 5);
    assert_eq!(status_count(&html, "Won"), 1);
}

#[actix_web::test]
async fn the_list_filters_by_owner() {
    let app = app_as_admin().await;
    let (agnes, _) = member(&app, "agnes@example.com", "Agnes Agent", Role::Agent).await;
    let (lee, lead) = member(&app, "lee@example.com", "Lee Lead", Role::Lead).await;
    add_contacts(
        &app,
        &lee,
        &[owned_by("Agent's", &agnes), owned_by("Lead's", &lee), named("Nobody's")],
    );
    let listed = |owner: String| {
        let lead = &lead;
        async move {
            let mut pairs = vec![("sort", "name"), ("order", "asc")];
            if !owner.is_empty() {
                pairs.push(("owner", owner.as_str()));
            }
            let html = list_page(lead, &list_url(&pairs)).await;
            (listed_names(&html), field_value(&html, "owner"))
        }
    };
    let everyone = names(&["Agent's", "Lead's", "Nobody's"]);
    assert_eq!(
        listed("".into()).await,
        (everyone.clone(), "all".into()),
        "a lead sees everyone's by default"
    );
    assert_eq!(listed("all".into()).await, (everyone, "all".into()));
    assert_eq!(listed("me".into()).await, (names(&["Lead's"]), "me".into()));
    assert_eq!(listed("none".into()).await, (names(&["Nobody's"]), "none".into()));
    let agent_id = agnes.id.to_string();
    assert_eq!(listed(agent_id.clone()).await, (names(&["Agent's"]), agent_id));
}

#[actix_web::test]
async fn an_agents_list_opens_on_their_own_contacts() {
    let app = app_as_admin().await;
    let (agnes, agent) = member(&app, "agnes@example.com", "Agnes Agent", Role::Agent).await;
    let (budi, _) = member(&app, "budi@example.com", "Budi Agent", Role::Agent).await;
    let mine = add_contacts(
        &app,
        &agnes,
        &[owned_by("Mine One", &agnes), owned_by("Mine Two", &agnes)],
    );
    add_contacts(&app, &budi, &[owned_by("Budi's", &budi)]);
    let lead = app.add_user("lee@example.com", "Lee Lead", Role::Lead);
    add_contacts(&app, &lead, &[named("Nobody's")]);

    let html = list_page(&agent, &list_url(&[("sort", "name"), ("order", "asc")])).await;
    assert_eq!(listed_names(&html), names(&["Mine One", "Mine Two"]));
    assert_eq!(field_value(&html, "owner"), "me");
    assert_eq!(
        status_count(&html, "All"),
        2,
        "the chips count within the scope: the agent's own"
    );
    let mut ids = listed_ids(&html);
    ids.sort();
    assert_eq!(ids, mine);
    let html = list_page(&agent, &list_url(&[("owner", "all")])).await;
    assert_eq!(listed_ids(&html).len(), 4, "everyone's on request");
}

#[actix_web::test]
async fn the_list_sorts_by_name_and_by_status_both_ways() {
    let app = app_as_admin().await;
    let lead = app.add_user("lee@example.com", "Lee Lead", Role::Lead);
    let with = |name: &str, status: &str| ContactInput {
        status: status.into(),
        ..named(name)
    };
    add_contacts(
        &app,
        &lead,
        &[with("Chong", "won"), with("Aisyah", "reach"), with("Bala", "new")],
    );
    for (sort, order, want) in [
        ("name", "asc", ["Aisyah", "Bala", "Chong"]),
        ("name", "desc", ["Chong", "Bala", "Aisyah"]),
        ("status", "asc", ["Bala", "Aisyah", "Chong"]),
        ("status", "desc", ["Chong", "Aisyah", "Bala"]),
    ] {
        let html = list_page(&app, &list_url(&[("sort", sort), ("order", order)])).await;
        assert_eq!(listed_names(&html), names(&want), "sort={sort}&order={order}");
    }
}

#[actix_web::test]
async fn contacts_without_activity_come_last_in_both_activity_orders() {
    let app = app_as_admin().await;
    let lead = app.add_user("lee@example.com", "Lee Lead", Role::Lead);
    let ids = add_contacts(
        &app,
        &lead,
        &[named("Quiet One"), named("Recent"), named("Quiet Two"), named("Older")],
    );
    let now = Utc::now().naive_utc();
    set_activity(&app, ids[1], Some(now - Duration::hours(1)));
    set_activity(&app, ids[3], Some(now - Duration::days(2)));
    for (query, active) in [
        (list_url(&[]), ["Recent", "Older"]),
        (
            list_url(&[("sort", "activity"), ("order", "desc")]),
            ["Recent", "Older"],
        ),
        (list_url(&[("sort", "activity"), ("order", "asc")]), ["Older", "Recent"]),
    ] {
        let listed = listed_names(&list_page(&app, &query).await);
        assert_eq!(listed.len(), 4, "{query}");
        assert_eq!(listed[..2], names(&active), "{query}: active contacts first, in order");
        let mut quiet = listed[2..].to_vec();
        quiet.sort();
        assert_eq!(
            quiet,
            names(&["Quiet One", "Quiet Two"]),
            "{query}: then the quiet ones"
        );
    }
}

#[actix_web::test]
async fn paging_by_name_shows_every_contact_once_both_ways() {
    let app = app_as_admin().await;
    let lead = app.add_user("lee@example.com", "Lee Lead", Role::Lead);
    // Three contacts per name, created out of name order, so pages break
    // between contacts of the same name.
    let inputs: Vec<ContactInput> = (0..120)
        .map(|i| named(&format!("Contact {:02}", (i * 37) % 40)))
        .collect();
    add_contacts(&app, &lead, &inputs);
    let all = all_contacts(&app);
    assert_paging(&app, "sort=name&order=asc", &expected_order(&all, Sort::Name, true)).await;
    assert_paging(&app, "sort=name&order=desc", &expected_order(&all, Sort::Name, false)).await;
}

#[actix_web::test]
async fn paging_by_status_shows_every_contact_once_both_ways() {
    let app = app_as_admin().await;
    let lead = app.add_user("lee@example.com", "Lee Lead", Role::Lead);
    let inputs: Vec<ContactInput> = (0..120)
        .map(|i| ContactInput {
            status: ((i * 3) % 7 + 1).to_string(),
            ..named(&format!("Contact {i}"))
        })
        .collect();
    add_contacts(&app, &lead, &inputs);
    let all = all_contacts(&app);
    assert_paging(&app, "sort=status&order=asc", &expected_order(&all, Sort::Status, true)).await;
    assert_paging(
        &app,
        "sort=status&order=desc",
        &expected_order(&all, Sort::Status, false),
    )
    .await;
}

#[actix_web::test]
async fn paging_by_activity_shows_every_contact_once_with_the_quiet_ones_last() {
    let app = app_as_admin().await;
    let lead = app.add_user("lee@example.com", "Lee Lead", Role::Lead);
    let inputs: Vec<ContactInput> = (0..120).map(|i| named(&format!("Contact {i}"))).collect();
    let ids = add_contacts(&app, &lead, &inputs);
    // A third never active; the rest spread over 50 minutes, several at the
    // same moment (ties page by ID). Whole seconds, like most stored times.
    let base = Utc::now().naive_utc().with_nanosecond(0).unwrap();
    for (i, id) in ids.iter().enumerate() {
        let at = (i % 3 != 0).then(|| base - Duration::minutes(((i * 7) % 50) as i64));
        set_activity(&app, *id, at);
    }
    let all = all_contacts(&app);
    let want_desc = expected_order(&all, Sort::Activity, false);
    assert_paging(&app, "sort=activity&order=desc", &want_desc).await;
    assert_paging(
        &app,
        "sort=activity&order=asc",
        &expected_order(&all, Sort::Activity, true),
    )
    .await;
    // The default list is by activity, newest first.
    let html = list_page(&app, "/contacts").await;
    assert_eq!(listed_ids(&html), want_desc[..50]);
}

#[actix_web::test]
async fn paging_by_activity_works_with_times_as_precise_as_the_clock() {
    let app = app_as_admin().await;
    let lead = app.add_user("lee@example.com", "Lee Lead", Role::Lead);
    let inputs: Vec<ContactInput> = (0..120).map(|i| named(&format!("Contact {i}"))).collect();
    let ids = add_contacts(&app, &lead, &inputs);
    // Times as `Utc::now()` gives them (sub-microsecond digits included).
    let base = Utc::now().naive_utc();
    for (i, id) in ids.iter().enumerate() {
        let at = (i % 4 != 0).then(|| base - Duration::milliseconds(((i * 7) % 90) as i64 * 1_001));
        set_activity(&app, *id, at);
    }
    let all = all_contacts(&app);
    assert_paging(
        &app,
        "sort=activity&order=desc",
        &expected_order(&all, Sort::Activity, false),
    )
    .await;
    assert_paging(
        &app,
        "sort=activity&order=asc",
        &expected_order(&all, Sort::Activity, true),
    )
    .await;
}

#[actix_web::test]
async fn paging_by_creation_time_shows_every_contact_once_both_ways() {
    let app = app_as_admin().await;
    let lead = app.add_user("lee@example.com", "Lee Lead", Role::Lead);
    let inputs: Vec<ContactInput> = (0..120).map(|i| named(&format!("Contact {i}"))).collect();
    add_contacts(&app, &lead, &inputs);
    let all = all_contacts(&app);
    assert_paging(
        &app,
        "sort=created&order=desc",
        &expected_order(&all, Sort::Created, false),
    )
    .await;
    assert_paging(
        &app,
        "sort=created&order=asc",
        &expected_order(&all, Sort::Created, true),
    )
    .await;
}

#[actix_web::test]
async fn bad_list_queries_answer_400_with_a_clear_message() {
    use base64::Engine;
    let app = app_as_admin().await;
    let name_cursor = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode("f1:tAli");
    let long_search = "a".repeat(201);
    for (query, message) in [
        (list_url(&[("status", "9")]), "9 is not a status ID (use 1 to 7)"),
        (list_url(&[("status", "Closed")]), "is not a status"),
        (list_url(&[("sort", "password_hash")]), "cannot sort by"),
        (list_url(&[("order", "sideways")]), "order must be asc or desc"),
        (
            list_url(&[("owner", "boss")]),
            "owner must be a user ID, me, none or all",
        ),
        (list_url(&[("cursor", "garbage")]), "the page link is not valid"),
        (
            list_url(&[("sort", "status"), ("cursor", name_cursor.as_str())]),
            "the page link is out of date",
        ),
        (list_url(&[("q", long_search.as_str())]), "the search is too long"),
        // Found by the scanner: a NUL reached SQLite's FTS5 parser (500).
        (
            list_url(&[("q", "https://wapiti3.ovh//e.php\0")]),
            "q holds characters that are not allowed",
        ),
    ] {
        let (status, html) = app.page(&query).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{query}");
        assert!(html.contains(message), "{query}: {html}");
        assert!(html.contains("Back to contacts"), "{query}: the error page leads back");
    }
}
