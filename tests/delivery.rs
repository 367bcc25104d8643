//! Outgoing messages and their delivery (issue 5, second part), with a real
//! HTTP server standing in for the channel bridge on a free local port: the
//! bridge receives exactly the contract's JSON; a 2xx marks the message sent
//! and a New contact becomes Reach; a 500 is retried and finally failed; a
//! restart delivers what was queued, once; opt-out and WhatsApp's reply
//! window refuse sending.

mod common;
use common::*;

use std::sync::atomic::{AtomicU16, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use actix_web::{web, App, HttpResponse, HttpServer};
use leadbook::service::users::Role;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

/// A channel bridge: records each JSON body it receives and answers `status`.
struct Bridge {
    url: String,
    received: Arc<Mutex<Vec<Value>>>,
    status: Arc<AtomicU16>,
}

fn bridge(status: u16) -> Bridge {
    let received: Arc<Mutex<Vec<Value>>> = Arc::default();
    let status = Arc::new(AtomicU16::new(status));
    let (r, s) = (received.clone(), status.clone());
    let server = HttpServer::new(move || {
        let (r, s) = (r.clone(), s.clone());
        App::new().route(
            "/out",
            web::post().to(move |body: web::Json<Value>| {
                let (r, s) = (r.clone(), s.clone());
                async move {
                    r.lock().unwrap().push(body.into_inner());
                    HttpResponse::build(actix_web::http::StatusCode::from_u16(s.load(Ordering::SeqCst)).unwrap())
                        .finish()
                }
            }),
        )
    })
    .workers(1)
    .bind("127.0.0.1:0")
    .expect("bridge binds");
    let port = server.addrs()[0].port();
    actix_web::rt::spawn(server.run());
    Bridge {
        url: format!("http://127.0.0.1:{port}/out"),
        received,
        status,
    }
}

impl Bridge {
    fn bodies(&self) -> Vec<Value> {
        self.received.lock().unwrap().clone()
    }
}

/// Fast retries, so a failing bridge is given up on within the test.
const FAST: &[(&str, &str)] = &[("DELIVERY_RETRY_MS", "50"), ("DELIVERY_ATTEMPTS", "3")];

async fn send(app: &TestApp, method: Method, path: &str, token: &str, body: Option<Value>) -> (StatusCode, Value) {
    let mut req = app.api(method, path, token);
    if let Some(body) = body {
        req = req.json(&body);
    }
    let res = req.send().await.expect("request");
    let status = res.status();
    let text = res.text().await.expect("body");
    (
        status,
        if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).unwrap()
        },
    )
}

async fn inbox(app: &TestApp, token: &str, channel: &str, url: &str) -> i64 {
    let (status, json) = send(
        app,
        Method::POST,
        "/inboxes",
        token,
        Some(json!({"name": channel, "channel": channel, "delivery": {"kind": "webhook", "url": url}})),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{json}");
    json["id"].as_i64().unwrap()
}

/// Polls a message until its delivery is no longer `queued` (never a fixed sleep).
async fn settled(app: &TestApp, token: &str, message: i64) -> String {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let (_, m) = send(app, Method::GET, &format!("/messages/{message}"), token, None).await;
        let state = m["delivery"].as_str().unwrap_or_default().to_string();
        if state != "queued" {
            return state;
        }
        assert!(Instant::now() < deadline, "message {message} still queued");
        actix_web::rt::time::sleep(Duration::from_millis(25)).await;
    }
}

#[actix_web::test]
async fn a_delivered_reply_is_sent_with_the_contract_json_and_a_new_contact_becomes_reach() {
    let bridge = bridge(200);
    let app = spawn_app_with(FAST).await;
    app.add_user("admin@example.com", "Ada Admin", Role::Admin);
    app.add_user("agent@example.com", "Agnes Agent", Role::Agent);
    let admin = app.token_for("admin@example.com");
    let agent = app.token_for("agent@example.com");
    let wa = inbox(&app, &admin, "whatsapp", &bridge.url).await;
    let (_, incoming) = send(
        &app,
        Method::POST,
        &format!("/inboxes/{wa}/messages"),
        &agent,
        Some(json!({"source_id": "+60123456789", "name": "Ali", "body": "Is gold available?"})),
    )
    .await;
    let contact = incoming["contact_id"].as_i64().unwrap();

    let (status, sent) = send(
        &app,
        Method::POST,
        &format!("/contacts/{contact}/messages"),
        &agent,
        Some(json!({"inbox_id": wa, "body": "Yes! Shall I book it?"})),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{sent}");
    assert_eq!(sent["delivery"], "queued");
    assert_eq!(sent["conversation_created"], false, "the open conversation is reused");
    assert_eq!(sent["conversation_id"], incoming["conversation_id"]);
    let message = sent["message_id"].as_i64().unwrap();
    assert_eq!(settled(&app, &agent, message).await, "sent");

    assert_eq!(
        bridge.bodies(),
        vec![json!({
            "message_id": message,
            "inbox_id": wa,
            "conversation_id": incoming["conversation_id"],
            "contact_id": contact,
            "to": "+60123456789",
            "body": "Yes! Shall I book it?"
        })]
    );
    let (_, c) = send(&app, Method::GET, &format!("/contacts/{contact}"), &agent, None).await;
    assert_eq!(c["status"], "Reach", "a New contact reached by a delivered message");
    let (_, history) = send(
        &app,
        Method::GET,
        &format!("/contacts/{contact}/status_history"),
        &agent,
        None,
    )
    .await;
    assert_eq!(history[0]["from_id"], 1);
    assert_eq!(history[0]["to_id"], 2);
    assert_eq!(history[0]["source"], "automation");

    // A second delivered message does not touch the status again.
    let (_, sent) = send(
        &app,
        Method::POST,
        &format!("/contacts/{contact}/messages"),
        &agent,
        Some(json!({"inbox_id": wa, "body": "See you"})),
    )
    .await;
    assert_eq!(
        settled(&app, &agent, sent["message_id"].as_i64().unwrap()).await,
        "sent"
    );
    let (_, history) = send(
        &app,
        Method::GET,
        &format!("/contacts/{contact}/status_history"),
        &agent,
        None,
    )
    .await;
    assert_eq!(history.as_array().unwrap().len(), 2);
}

#[actix_web::test]
async fn a_failing_bridge_is_retried_with_back_off_and_the_message_finally_failed() {
    let bridge = bridge(500);
    let app = spawn_app_with(FAST).await;
    app.add_user("admin@example.com", "Ada Admin", Role::Admin);
    let admin = app.token_for("admin@example.com");
    let sms = inbox(&app, &admin, "sms", &bridge.url).await;
    let (_, c) = send(
        &app,
        Method::POST,
        "/contacts",
        &admin,
        Some(json!({"name": "Mei", "phone": "+60123450000"})),
    )
    .await;
    let contact = c["id"].as_i64().unwrap();
    // SMS reaches a contact through its phone, without any earlier message.
    let (status, sent) = send(
        &app,
        Method::POST,
        &format!("/contacts/{contact}/messages"),
        &admin,
        Some(json!({"inbox_id": sms, "body": "Promo!"})),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{sent}");
    assert_eq!(sent["conversation_created"], true);
    let message = sent["message_id"].as_i64().unwrap();
    assert_eq!(settled(&app, &admin, message).await, "failed");
    let bodies = bridge.bodies();
    assert_eq!(bodies.len(), 3, "DELIVERY_ATTEMPTS tries: {bodies:?}");
    assert!(bodies.iter().all(|b| b["to"] == "+60123450000"));
    let (_, c) = send(&app, Method::GET, &format!("/contacts/{contact}"), &admin, None).await;
    assert_eq!(c["status"], "New", "an undelivered message reached nobody");

    // Once the bridge recovers, new messages go out.
    bridge.status.store(204, Ordering::SeqCst);
    let (_, sent) = send(
        &app,
        Method::POST,
        &format!("/contacts/{contact}/messages"),
        &admin,
        Some(json!({"inbox_id": sms, "body": "Again"})),
    )
    .await;
    assert_eq!(
        settled(&app, &admin, sent["message_id"].as_i64().unwrap()).await,
        "sent"
    );
}

#[actix_web::test]
async fn messages_queued_before_a_restart_are_delivered_once() {
    let bridge = bridge(200);
    // This instance queues but does not deliver (as if it stopped right after).
    let first = spawn_app_with(&[("DELIVERY_WORKER", "off")]).await;
    first.add_user("admin@example.com", "Ada Admin", Role::Admin);
    let admin = first.token_for("admin@example.com");
    let sms = inbox(&first, &admin, "sms", &bridge.url).await;
    let mut ids = Vec::new();
    for i in 0..5 {
        let (_, c) = send(
            &first,
            Method::POST,
            "/contacts",
            &admin,
            Some(json!({"name": format!("C{i}"), "phone": format!("+6012345{i:04}")})),
        )
        .await;
        let (status, sent) = send(
            &first,
            Method::POST,
            &format!("/contacts/{}/messages", c["id"]),
            &admin,
            Some(json!({"inbox_id": sms, "body": format!("hello {i}")})),
        )
        .await;
        assert_eq!(status, StatusCode::CREATED, "{sent}");
        ids.push(sent["message_id"].as_i64().unwrap());
    }
    actix_web::rt::time::sleep(Duration::from_millis(300)).await;
    assert!(bridge.bodies().is_empty(), "nothing delivered without a worker");

    // Two instances start on the same database: each message goes out once.
    let second = first.another_instance(FAST);
    let third = first.another_instance(FAST);
    for id in &ids {
        assert_eq!(settled(&second, &admin, *id).await, "sent");
    }
    actix_web::rt::time::sleep(Duration::from_millis(300)).await;
    let mut delivered: Vec<i64> = bridge
        .bodies()
        .iter()
        .map(|b| b["message_id"].as_i64().unwrap())
        .collect();
    delivered.sort_unstable();
    assert_eq!(delivered, ids, "each queued message delivered exactly once");
    drop(third);
}

#[actix_web::test]
async fn opted_out_contacts_closed_whatsapp_windows_and_missing_addresses_are_refused() {
    let bridge = bridge(200);
    let app = spawn_app_with(FAST).await;
    app.add_user("admin@example.com", "Ada Admin", Role::Admin);
    let admin = app.token_for("admin@example.com");
    let wa = inbox(&app, &admin, "whatsapp", &bridge.url).await;
    let messenger = inbox(&app, &admin, "messenger", &bridge.url).await;
    let (_, c) = send(
        &app,
        Method::POST,
        "/contacts",
        &admin,
        Some(json!({"name": "Quiet", "phone": "+60123451111", "opted_out": true})),
    )
    .await;
    let quiet = c["id"].as_i64().unwrap();
    let (status, json) = send(
        &app,
        Method::POST,
        &format!("/contacts/{quiet}/messages"),
        &admin,
        Some(json!({"inbox_id": wa, "body": "hi"})),
    )
    .await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert_eq!(json["error"]["code"], "opted_out", "{json}");

    // A WhatsApp contact who never wrote: the 24-hour window is closed.
    let (_, c) = send(
        &app,
        Method::POST,
        "/contacts",
        &admin,
        Some(json!({"name": "Cold", "phone": "+60123452222"})),
    )
    .await;
    let cold = c["id"].as_i64().unwrap();
    let (status, json) = send(
        &app,
        Method::POST,
        &format!("/contacts/{cold}/messages"),
        &admin,
        Some(json!({"inbox_id": wa, "body": "hi"})),
    )
    .await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert_eq!(json["error"]["code"], "reply_window_closed", "{json}");
    // Messenger has no address for a contact that never wrote there.
    let (status, json) = send(
        &app,
        Method::POST,
        &format!("/contacts/{cold}/messages"),
        &admin,
        Some(json!({"inbox_id": messenger, "body": "hi"})),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(json["error"]["fields"]["inbox_id"].is_array(), "{json}");
    for bad in [
        json!({"inbox_id": 999, "body": "hi"}),
        json!({"inbox_id": wa, "body": " "}),
        json!({"body": "hi"}),
    ] {
        let (status, json) = send(
            &app,
            Method::POST,
            &format!("/contacts/{cold}/messages"),
            &admin,
            Some(bad.clone()),
        )
        .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{bad} → {json}");
    }
    let (status, _) = send(
        &app,
        Method::POST,
        "/contacts/999/messages",
        &admin,
        Some(json!({"inbox_id": wa, "body": "hi"})),
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    actix_web::rt::time::sleep(Duration::from_millis(200)).await;
    assert!(bridge.bodies().is_empty(), "nothing refused was delivered");
}
