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

/// A channel bridge (or event receiver): records each body it receives,
/// raw, with its `X-Leadbook-Signature` header, and answers `status`.
struct Bridge {
    url: String,
    received: Arc<Mutex<Vec<(String, String)>>>,
    status: Arc<AtomicU16>,
}

fn bridge(status: u16) -> Bridge {
    let received: Arc<Mutex<Vec<(String, String)>>> = Arc::default();
    let status = Arc::new(AtomicU16::new(status));
    let (r, s) = (received.clone(), status.clone());
    let server = HttpServer::new(move || {
        let (r, s) = (r.clone(), s.clone());
        App::new().route(
            "/out",
            web::post().to(move |req: actix_web::HttpRequest, body: web::Bytes| {
                let (r, s) = (r.clone(), s.clone());
                async move {
                    let signature = req
                        .headers()
                        .get("x-leadbook-signature")
                        .map(|v| v.to_str().unwrap().to_string())
                        .unwrap_or_default();
                    r.lock()
                        .unwrap()
                        .push((String::from_utf8(body.to_vec()).unwrap(), signature));
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
        self.received
            .lock()
            .unwrap()
            .iter()
            .map(|(raw, _)| serde_json::from_str(raw).expect("JSON body"))
            .collect()
    }

    /// Waits (polling) until `n` bodies have arrived.
    async fn wait_for(&self, n: usize) -> Vec<(String, String)> {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let got = self.received.lock().unwrap().clone();
            if got.len() >= n {
                return got;
            }
            assert!(
                Instant::now() < deadline,
                "only {} of {n} deliveries arrived",
                got.len()
            );
            actix_web::rt::time::sleep(Duration::from_millis(25)).await;
        }
    }
}

/// Fast retries, so a failing bridge is given up on within the test.
const FAST: &[(&str, &str)] = &[("DELIVERY_RETRY_MS", "50"), ("DELIVERY_ATTEMPTS", "3")];

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

/// `sha256=<hex HMAC-SHA256>`, computed here independently of the app.
fn expected_signature(secret: &str, body: &str) -> String {
    use hmac::Mac;
    let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(body.as_bytes());
    let hex: String = mac.finalize().into_bytes().iter().map(|b| format!("{b:02x}")).collect();
    format!("sha256={hex}")
}

#[actix_web::test]
async fn event_webhooks_receive_signed_contact_events_through_the_queue() {
    let hook = bridge(200);
    let app = spawn_app_with(FAST).await;
    app.add_user("admin@example.com", "Ada Admin", Role::Admin);
    app.add_user("agent@example.com", "Agnes Agent", Role::Agent);
    let admin = app.token_for("admin@example.com");
    let agent = app.token_for("agent@example.com");
    let (status, _) = send(
        &app,
        Method::POST,
        "/webhooks",
        &agent,
        Some(json!({"url": hook.url, "events": ["contact.created"]})),
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "admins only");
    let (status, json) = send(
        &app,
        Method::POST,
        "/webhooks",
        &admin,
        Some(json!({"url": hook.url, "events": ["contact.nope"]})),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{json}");
    let (status, created) = send(
        &app,
        Method::POST,
        "/webhooks",
        &admin,
        Some(json!({"url": hook.url, "events": ["contact.created", "contact.status_changed", "contact.deleted"]})),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let secret = created["secret"].as_str().expect("the secret, shown once").to_string();
    let (_, list) = send(&app, Method::GET, "/webhooks", &admin, None).await;
    assert!(list[0].get("secret").is_none(), "never shown again: {list}");

    let (_, c) = send(
        &app,
        Method::POST,
        "/contacts",
        &agent,
        Some(json!({"name": "Ali", "phone": "+60123456789"})),
    )
    .await;
    let id = c["id"].as_i64().unwrap();
    send(
        &app,
        Method::PATCH,
        &format!("/contacts/{id}"),
        &agent,
        Some(json!({"city": "Ipoh"})),
    )
    .await;
    send(
        &app,
        Method::POST,
        &format!("/contacts/{id}/status"),
        &agent,
        Some(json!({"status": "qualified"})),
    )
    .await;
    send(&app, Method::DELETE, &format!("/contacts/{id}"), &admin, None).await;

    let got = hook.wait_for(3).await;
    actix_web::rt::time::sleep(Duration::from_millis(300)).await;
    let got_now = hook.received.lock().unwrap().len();
    assert_eq!(got_now, 3, "contact.updated was not subscribed");
    let mut events: Vec<Value> = Vec::new();
    for (raw, signature) in &got {
        assert_eq!(
            signature,
            &expected_signature(&secret, raw),
            "signed with the webhook's secret"
        );
        events.push(serde_json::from_str(raw).unwrap());
    }
    events.sort_by_key(|e| {
        ["contact.created", "contact.status_changed", "contact.deleted"]
            .iter()
            .position(|n| *n == e["event"])
            .unwrap()
    });
    assert_eq!(events[0]["event"], "contact.created");
    assert_eq!(events[0]["contact"]["name"], "Ali");
    assert!(events[0]["id"].as_str().unwrap().starts_with("evt_"));
    assert_eq!(events[1]["event"], "contact.status_changed");
    assert_eq!(events[1]["previous"], json!({"status_id": 1}));
    assert_eq!(events[1]["contact"]["status_id"], 3);
    assert_eq!(events[1]["contact"]["city"], "Ipoh");
    assert_eq!(events[2]["event"], "contact.deleted");
    assert_eq!(events[2]["contact"]["id"], id, "the contact as it was");

    // A failing receiver is retried until it answers.
    hook.status.store(503, Ordering::SeqCst);
    send(
        &app,
        Method::POST,
        "/contacts",
        &agent,
        Some(json!({"name": "Retry me"})),
    )
    .await;
    hook.wait_for(5).await;
    hook.status.store(200, Ordering::SeqCst);
    let all = hook.wait_for(6).await;
    let retried: Vec<&String> = all[3..].iter().map(|(raw, _)| raw).collect();
    assert!(retried.windows(2).all(|w| w[0] == w[1]), "the same event again");
    let (status, _) = send(
        &app,
        Method::DELETE,
        &format!("/webhooks/{}", created["id"]),
        &admin,
        None,
    )
    .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
}

#[actix_web::test]
async fn a_contact_can_opt_out_of_one_inbox() {
    let bridge = bridge(200);
    let app = spawn_app_with(FAST).await;
    app.add_user("admin@example.com", "Ada Admin", Role::Admin);
    let admin = app.token_for("admin@example.com");
    let sms = inbox(&app, &admin, "sms", &bridge.url).await;
    let other = inbox(&app, &admin, "sms", &bridge.url).await;
    let (_, c) = send(
        &app,
        Method::POST,
        "/contacts",
        &admin,
        Some(json!({"name": "Mei", "phone": "+60123457777"})),
    )
    .await;
    let contact = c["id"].as_i64().unwrap();
    let res = app.login("admin@example.com", PASSWORD).await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let res = app
        .submit(
            &format!("/contacts/{contact}"),
            &format!("/contacts/{contact}/opt-outs"),
            &[("inbox", &sms.to_string()), ("out", "1")],
        )
        .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let (status, json) = send(
        &app,
        Method::POST,
        &format!("/contacts/{contact}/messages"),
        &admin,
        Some(json!({"inbox_id": sms, "body": "hi"})),
    )
    .await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert_eq!(json["error"]["code"], "opted_out");
    let (status, _) = send(
        &app,
        Method::POST,
        &format!("/contacts/{contact}/messages"),
        &admin,
        Some(json!({"inbox_id": other, "body": "hi"})),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "other inboxes still reach the contact");
    let res = app
        .submit(
            &format!("/contacts/{contact}"),
            &format!("/contacts/{contact}/opt-outs"),
            &[("inbox", &sms.to_string()), ("out", "0")],
        )
        .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let (status, _) = send(
        &app,
        Method::POST,
        &format!("/contacts/{contact}/messages"),
        &admin,
        Some(json!({"inbox_id": sms, "body": "hi"})),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED);
}
