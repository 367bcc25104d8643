//! API tokens on the profile and settings pages: shown once, stored hashed,
//! revoked at once; admins see and manage everyone's.

mod common;

use common::*;
use diesel::prelude::*;
use leadbook::db::schema::api_tokens;
use leadbook::service::users::Role;
use reqwest::{Method, StatusCode};

fn secret_in(html: &str) -> Option<String> {
    let start = html.find("<code id=\"new-token\">")? + "<code id=\"new-token\">".len();
    let end = html[start..].find("</code>")?;
    Some(html[start..start + end].to_string())
}

async fn api_status(app: &TestApp, token: &str) -> StatusCode {
    app.api(Method::GET, "/statuses", token).send().await.unwrap().status()
}

#[actix_web::test]
async fn a_user_creates_a_token_sees_it_once_uses_it_and_revokes_it() {
    let app = spawn_app().await;
    app.add_user("agent@example.com", "Agnes Agent", Role::Agent);
    let agent = app.login_as("agent@example.com").await;

    let res = agent
        .submit("/profile", "/profile/tokens", &[("name", "WhatsApp bot")])
        .await;
    assert_eq!(res.status(), StatusCode::CREATED);
    let secret = secret_in(&res.text().await.unwrap()).expect("the new token is shown");
    assert!(secret.starts_with("lb_"));

    // Stored only as a hash, and never shown again.
    let stored: Vec<String> = app.with_db(|c| api_tokens::table.select(api_tokens::token_hash).load(c).unwrap());
    assert_eq!(stored.len(), 1);
    assert_ne!(stored[0], secret);
    assert!(!stored[0].contains(&secret[3..]));
    let (_, profile) = agent.page("/profile").await;
    assert!(profile.contains("WhatsApp bot") && !profile.contains(&secret));

    assert_eq!(api_status(&app, &secret).await, StatusCode::OK);
    let (_, profile) = agent.page("/profile").await;
    assert!(!profile.contains(">never<"), "last use is shown: {profile}");

    let id: i32 = app.with_db(|c| api_tokens::table.select(api_tokens::id).first(c).unwrap());
    let res = agent.submit("/profile", &format!("/tokens/{id}/revoke"), &[]).await;
    assert_eq!(location(&res), "/profile");
    assert_eq!(
        api_status(&app, &secret).await,
        StatusCode::UNAUTHORIZED,
        "revoked at once"
    );
    let (_, profile) = agent.page("/profile").await;
    assert!(profile.contains("revoked"));
}

#[actix_web::test]
async fn only_admins_see_and_manage_everyones_tokens() {
    let app = spawn_app().await;
    app.setup_admin().await;
    let agent_actor = app.add_user("agent@example.com", "Agnes Agent", Role::Agent);
    app.add_user("other@example.com", "Otto Other", Role::Agent);
    let agent = app.login_as("agent@example.com").await;
    let other = app.login_as("other@example.com").await;

    assert_eq!(agent.page("/settings/tokens").await.0, StatusCode::FORBIDDEN);
    let res = agent
        .submit("/profile", "/settings/tokens", &[("user_id", "1"), ("name", "x")])
        .await;
    assert_eq!(
        res.status(),
        StatusCode::FORBIDDEN,
        "agents cannot mint tokens for others"
    );

    // The admin creates a token for the agent; it acts as the agent.
    let uid = agent_actor.id.to_string();
    let res = app
        .submit(
            "/settings/tokens",
            "/settings/tokens",
            &[("user_id", uid.as_str()), ("name", "for agnes")],
        )
        .await;
    assert_eq!(res.status(), StatusCode::CREATED);
    let secret = secret_in(&res.text().await.unwrap()).unwrap();
    let created = app
        .api(Method::POST, "/contacts", &secret)
        .json(&serde_json::json!({"name": "Made by token"}))
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), StatusCode::CREATED);
    let body: serde_json::Value = created.json().await.unwrap();
    assert_eq!(
        body["owner_id"], agent_actor.id,
        "the token acts as its owner (an agent owns what they create)"
    );

    // Another agent cannot revoke it; the admin can, from the settings page.
    let id: i32 = app.with_db(|c| api_tokens::table.select(api_tokens::id).first(c).unwrap());
    let res = other.submit("/profile", &format!("/tokens/{id}/revoke"), &[]).await;
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
    assert_eq!(api_status(&app, &secret).await, StatusCode::OK);
    let (_, page) = app.page("/settings/tokens").await;
    assert!(page.contains("for agnes") && page.contains("Agnes Agent"));
    let res = app
        .submit("/settings/tokens", &format!("/tokens/{id}/revoke"), &[])
        .await;
    assert_eq!(location(&res), "/settings/tokens");
    assert_eq!(api_status(&app, &secret).await, StatusCode::UNAUTHORIZED);
}

#[actix_web::test]
async fn token_forms_need_the_csrf_token() {
    let app = spawn_app().await;
    app.setup_admin().await;
    let res = app.post_raw("/profile/tokens", &[("name", "sneaky")]).await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    let count: i64 = app.with_db(|c| api_tokens::table.count().get_result(c).unwrap());
    assert_eq!(count, 0);
}
