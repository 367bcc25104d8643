//! Issue 11's first part, on the backend `TEST_DATABASE_URL` picks: the
//! security headers on every kind of response, the Origin check beside the
//! CSRF token, the idle and absolute session timeouts, and the rate limits
//! on sign-in (per account, per address) and on the API (per token).

mod common;
use common::*;

use diesel::prelude::*;
use leadbook::db::schema::sessions;
use leadbook::service::users::Role;
use reqwest::{Method, StatusCode};

fn assert_security_headers(res: &reqwest::Response, what: &str) {
    let h = res.headers();
    let get = |name: &str| {
        h.get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_string()
    };
    let csp = get("content-security-policy");
    for directive in [
        "object-src 'none'",
        "base-uri 'none'",
        "frame-ancestors 'none'",
        "script-src 'self'",
    ] {
        assert!(csp.contains(directive), "{what}: CSP {csp:?} lacks {directive}");
    }
    assert!(
        !csp.contains("unsafe-inline"),
        "{what}: no inline script or style: {csp}"
    );
    assert_eq!(get("x-content-type-options"), "nosniff", "{what}");
    assert_eq!(get("x-frame-options"), "DENY", "{what}");
    assert_eq!(get("referrer-policy"), "same-origin", "{what}");
}

#[actix_web::test]
async fn every_kind_of_response_carries_the_security_headers() {
    let app = spawn_app().await;
    let res = app.get("/setup").await;
    assert_security_headers(&res, "the setup page");
    app.setup_admin().await;
    let token = app.token_for("admin@example.com");
    for path in [
        "/contacts",
        "/pipeline",
        "/contacts/999999",
        "/static/app.css",
        "/healthz",
    ] {
        let res = app.get(path).await;
        assert_security_headers(&res, path);
    }
    let res = app.api(Method::GET, "/contacts", &token).send().await.unwrap();
    assert_security_headers(&res, "the API");
    let res = app.api(Method::GET, "/contacts", "wrong").send().await.unwrap();
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    assert_security_headers(&res, "an API error");
}

#[actix_web::test]
async fn the_session_cookie_is_http_only_and_lax_and_renewed_at_sign_in() {
    let app = spawn_app().await;
    let res = app.get("/setup").await;
    let before = res.headers().get("set-cookie").map(|v| v.to_str().unwrap().to_string());
    let before = before.expect("the form's session gets a cookie");
    assert!(
        before.contains("HttpOnly") && before.contains("SameSite=Lax"),
        "{before}"
    );
    assert!(!before.contains("Secure"), "plain HTTP without COOKIE_SECURE: {before}");
    let res = app.setup_admin().await;
    let after = res.headers().get("set-cookie").unwrap().to_str().unwrap().to_string();
    let value = |c: &str| c.split(';').next().unwrap().to_string();
    assert_ne!(value(&before), value(&after), "a new session ID at sign-in");

    let secure = spawn_app_with(&[("COOKIE_SECURE", "on")]).await;
    let res = secure.get("/setup").await;
    let cookie = res.headers().get("set-cookie").unwrap().to_str().unwrap();
    assert!(cookie.contains("Secure"), "{cookie}");
}

#[actix_web::test]
async fn a_form_from_another_origin_is_refused_and_changes_nothing() {
    let app = spawn_app().await;
    app.setup_admin().await;
    let (_, html) = app.page("/contacts/new").await;
    let csrf = csrf_of(&html);
    let form = [("csrf_token", csrf.as_str()), ("name", "Forged Farid")];
    for (header, value) in [
        ("Origin", "https://evil.example"),
        ("Origin", "null"),
        ("Referer", "https://evil.example/phish"),
    ] {
        let res = app
            .client
            .post(app.url("/contacts"))
            .header(header, value)
            .form(&form)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), StatusCode::FORBIDDEN, "{header}: {value}");
        let body = res.text().await.unwrap();
        assert!(body.contains("another site"), "{body}");
    }
    assert_eq!(app.contact_count(), 0, "nothing was created");
    // The same form from our own page goes through.
    let res = app
        .client
        .post(app.url("/contacts"))
        .header("Origin", app.address.as_str())
        .form(&form)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert_eq!(app.contact_count(), 1);
}

/// Rewrites every stored session's sign-in and last-seen times, as if they
/// had happened `ago_secs` seconds before now.
fn age_sessions(app: &TestApp, since_ago: i64, seen_ago: i64) {
    let now = chrono::Utc::now().timestamp();
    app.with_db(|c| {
        let rows: Vec<(String, String)> = sessions::table
            .filter(sessions::user_id.is_not_null())
            .select((sessions::id, sessions::state))
            .load(c)
            .unwrap();
        assert!(!rows.is_empty(), "a signed-in session is stored");
        for (id, state) in rows {
            let mut state: std::collections::HashMap<String, String> = serde_json::from_str(&state).unwrap();
            state.insert("since".into(), (now - since_ago).to_string());
            state.insert("seen".into(), (now - seen_ago).to_string());
            diesel::update(sessions::table.find(id))
                .set(sessions::state.eq(serde_json::to_string(&state).unwrap()))
                .execute(c)
                .unwrap();
        }
    });
}

#[actix_web::test]
async fn an_idle_session_and_an_old_one_end() {
    let app = spawn_app_with(&[("SESSION_IDLE_MINUTES", "30"), ("SESSION_MAX_HOURS", "12")]).await;
    app.setup_admin().await;
    assert_eq!(app.get("/contacts").await.status(), StatusCode::OK);

    // Used 20 minutes ago: still signed in.
    age_sessions(&app, 3600, 20 * 60);
    assert_eq!(app.get("/contacts").await.status(), StatusCode::OK);

    // Idle for 31 minutes: signed out, and told why on the sign-in page.
    age_sessions(&app, 3600, 31 * 60);
    let res = app.get("/contacts").await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&res), "/login");
    let (_, html) = app.page("/login").await;
    assert!(html.contains("without activity"), "{html}");

    // Active a minute ago, but signed in 13 hours ago: signed out too.
    let res = app.login("admin@example.com", PASSWORD).await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    age_sessions(&app, 13 * 3600, 60);
    let res = app.get("/contacts").await;
    assert_eq!(location(&res), "/login", "the absolute timeout");
}

#[actix_web::test]
async fn sign_in_is_limited_per_account_and_per_address() {
    let app = spawn_app_with(&[("LOGIN_LIMIT_ACCOUNT", "3"), ("LOGIN_LIMIT_ADDRESS", "8")]).await;
    app.setup_admin().await;
    app.add_user("lee@example.com", "Lee Lead", Role::Lead);
    let guesser = app.another_client();
    for _ in 0..3 {
        let res = guesser.login("lee@example.com", "wrong password").await;
        assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    }
    // The account is blocked: even the right password is not checked.
    let res = guesser.login("lee@example.com", PASSWORD).await;
    assert_eq!(res.status(), StatusCode::TOO_MANY_REQUESTS);
    let html = res.text().await.unwrap();
    assert!(html.contains("Too many failed sign-ins for this account"), "{html}");
    assert!(html.contains("minutes"), "says how long to wait: {html}");
    // Another account signs in from the same address; a success clears
    // nothing of Lee's.
    let res = guesser.login("admin@example.com", PASSWORD).await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);

    // The address: 8 attempts in all, then refused for any account. Four
    // were counted above (the blocked one was refused before its address
    // was counted).
    let other = app.another_client();
    for i in 0..4 {
        let res = other.login(&format!("nobody{i}@example.com"), "x").await;
        assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    }
    let res = other.login("admin@example.com", PASSWORD).await;
    assert_eq!(res.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(res.text().await.unwrap().contains("from your address"));
}

#[actix_web::test]
async fn the_api_is_limited_per_token() {
    let app = spawn_app_with(&[("API_RATE_PER_MINUTE", "5")]).await;
    app.setup_admin().await;
    app.add_user("lee@example.com", "Lee Lead", Role::Lead);
    let busy = app.token_for("admin@example.com");
    let calm = app.token_for("lee@example.com");
    for _ in 0..5 {
        let (status, _) = send(&app, Method::GET, "/contacts", &busy, None).await;
        assert_eq!(status, StatusCode::OK);
    }
    let res = app.api(Method::GET, "/contacts", &busy).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::TOO_MANY_REQUESTS);
    let wait: u64 = res.headers()["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((1..=60).contains(&wait), "Retry-After {wait}");
    let body: serde_json::Value = res.json().await.unwrap();
    assert_eq!(body["error"]["code"], "rate_limited", "{body}");
    // A write is refused too, and changes nothing.
    let (status, _) = send(
        &app,
        Method::POST,
        "/contacts",
        &busy,
        Some(serde_json::json!({"name": "X"})),
    )
    .await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(app.contact_count(), 0);
    // Another token has its own count.
    let (status, _) = send(&app, Method::GET, "/contacts", &calm, None).await;
    assert_eq!(status, StatusCode::OK);
}
