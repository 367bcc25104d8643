//! Setup, sign-in, sign-out, sessions and CSRF, through HTTP.

mod common;

use common::*;
use leadbook::service::users::Role;
use reqwest::StatusCode;

#[actix_web::test]
async fn fresh_install_sends_everyone_to_setup_then_setup_signs_in_the_admin() {
    let app = spawn_app().await;
    let res = app.get("/").await;
    assert_eq!(
        (res.status(), location(&res)),
        (StatusCode::SEE_OTHER, "/contacts".into())
    );
    let res = app.get("/contacts").await;
    assert_eq!(location(&res), "/login");
    let res = app.get("/login").await;
    assert_eq!(location(&res), "/setup");

    let res = app.setup_admin().await;
    assert_eq!(location(&res), "/contacts");
    let (status, html) = app.page("/contacts").await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("Ada Admin"), "signed in as the new admin");
    assert!(
        html.contains("No contacts yet"),
        "empty state explains where contacts come from"
    );
    assert!(html.contains("/imports/new") && html.contains("/contacts/new"));

    // Setup is closed once a user exists.
    let res = app.get("/setup").await;
    assert_eq!(location(&res), "/login");
    let other = new_client();
    let res = other
        .post(app.url("/setup"))
        .form(&[
            ("name", "Eve"),
            ("email", "eve@example.com"),
            ("password", PASSWORD),
            ("password_confirm", PASSWORD),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::FORBIDDEN, "no CSRF token, no setup");
    assert_eq!(app.with_db(|c| leadbook::service::users::team(c).unwrap().len()), 1);
}

#[actix_web::test]
async fn setup_form_errors_are_shown_beside_their_fields() {
    let app = spawn_app().await;
    let res = app
        .submit(
            "/setup",
            "/setup",
            &[
                ("name", "Ada"),
                ("email", "not-an-email"),
                ("password", "short"),
                ("password_confirm", "short"),
            ],
        )
        .await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let html = res.text().await.unwrap();
    assert!(html.contains("E-mail is not a valid address"), "{html}");
    assert!(html.contains("Password must be at least 10 characters"));
    assert!(html.contains("value=\"Ada\""), "typed name kept");
    let res = app
        .submit(
            "/setup",
            "/setup",
            &[
                ("name", "Ada"),
                ("email", "a@example.com"),
                ("password", PASSWORD),
                ("password_confirm", "different password"),
            ],
        )
        .await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(res.text().await.unwrap().contains("Repeat password does not match"));
    assert!(
        app.with_db(|c| leadbook::service::users::needs_setup(c).unwrap()),
        "nothing written"
    );
}

#[actix_web::test]
async fn wrong_password_is_refused_with_a_clear_message() {
    let app = spawn_app().await;
    app.add_user("agent@example.com", "Agnes Agent", Role::Agent);
    let res = app.login("agent@example.com", "wrong password!").await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let html = res.text().await.unwrap();
    assert!(html.contains("E-mail or password is not correct."));
    assert!(html.contains("value=\"agent@example.com\""), "typed e-mail kept");
    let res = app.get("/contacts").await;
    assert_eq!(location(&res), "/login", "still signed out");

    let res = app.login("nobody@example.com", PASSWORD).await;
    assert_eq!(
        res.status(),
        StatusCode::UNPROCESSABLE_ENTITY,
        "unknown user gets the same answer"
    );

    let res = app.login("AGENT@example.com", PASSWORD).await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER, "e-mail is case-insensitive");
}

#[actix_web::test]
async fn sign_in_gives_a_new_session_id_and_sign_out_ends_it_everywhere() {
    let app = spawn_app().await;
    app.add_user("lead@example.com", "Lee Lead", Role::Lead);
    let before = app.get("/login").await;
    let anon_cookie = before
        .cookies()
        .find(|c| c.name() == "leadbook_session")
        .map(|c| c.value().to_string());
    let res = app.login("lead@example.com", PASSWORD).await;
    let signed_cookie = res
        .cookies()
        .find(|c| c.name() == "leadbook_session")
        .expect("session cookie");
    assert!(signed_cookie.http_only(), "HttpOnly");
    assert_ne!(
        Some(signed_cookie.value().to_string()),
        anon_cookie,
        "new session ID at sign-in"
    );
    let stolen = signed_cookie.value().to_string();

    let (_, html) = app.page("/contacts").await;
    let res = app.post_raw("/logout", &[("csrf_token", &csrf_of(&html))]).await;
    assert_eq!(location(&res), "/login");

    // The old cookie, replayed from elsewhere, no longer opens anything.
    let replay = new_client()
        .get(app.url("/contacts"))
        .header("cookie", format!("leadbook_session={stolen}"))
        .send()
        .await
        .unwrap();
    assert_eq!(location(&replay), "/login");
}

#[actix_web::test]
async fn a_disabled_user_is_signed_out_at_once() {
    use diesel::prelude::*;
    use leadbook::db::schema::users;
    let app = spawn_app().await;
    let agent = app.add_user("agent@example.com", "Agnes Agent", Role::Agent);
    let agent_client = app.login_as("agent@example.com").await;
    assert_eq!(agent_client.get("/contacts").await.status(), StatusCode::OK);
    app.with_db(|c| {
        diesel::update(users::table.find(agent.id))
            .set(users::disabled_at.eq(Some(chrono::Utc::now().naive_utc())))
            .execute(c)
            .unwrap()
    });
    assert_eq!(location(&agent_client.get("/contacts").await), "/login");
    let res = app.login("agent@example.com", PASSWORD).await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(res.text().await.unwrap().contains("disabled"));
}

#[actix_web::test]
async fn sessions_live_in_the_database_and_are_shared_by_instances() {
    let app = spawn_app().await;
    app.setup_admin().await;
    // A second app instance on the same database, with the same signing key.
    let settings = leadbook::config::Settings::from_lookup(|k| match k {
        "DATABASE_URL" => Some(app.database_url.clone()),
        "BIND" => Some("127.0.0.1:0".into()),
        _ => None,
    })
    .unwrap();
    let second = leadbook::Application::build(settings).unwrap();
    let port = second.port;
    actix_web::rt::spawn(second.server);
    let res = app
        .client
        .get(format!("http://127.0.0.1:{port}/contacts"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK, "the other instance knows the session");
}

#[actix_web::test]
async fn missing_or_wrong_csrf_token_is_refused_and_nothing_is_written() {
    let app = spawn_app().await;
    app.setup_admin().await;
    let res = app.post_raw("/contacts", &[("name", "No Token")]).await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    assert!(res.text().await.unwrap().contains("Reload the page"));
    let res = app
        .post_raw("/contacts", &[("csrf_token", "forged-token"), ("name", "Bad Token")])
        .await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    assert_eq!(app.contact_count(), 0);
}

#[actix_web::test]
async fn unknown_pages_and_ids_get_a_404_page_in_the_layout() {
    let app = spawn_app().await;
    app.setup_admin().await;
    for path in [
        "/no-such-page",
        "/contacts/999999",
        "/contacts/abc",
        "/contacts/999999/edit",
    ] {
        let (status, html) = app.page(path).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{path}");
        assert!(html.contains("404") && html.contains("leadbook"), "{path}: {html}");
    }
    assert_eq!(app.get("/healthz").await.status(), StatusCode::OK);
}

#[actix_web::test]
async fn reading_pages_does_not_rewrite_the_session() {
    let app = spawn_app().await;
    app.setup_admin().await;
    // The first page after setup shows (and so clears) the welcome flash.
    app.get("/contacts").await;
    for path in ["/contacts", "/contacts/new", "/contacts?sort=name&order=asc"] {
        let res = app.get(path).await;
        assert_eq!(res.status(), StatusCode::OK);
        assert!(res.headers().get("set-cookie").is_none(), "{path} rewrote the session");
    }
}
