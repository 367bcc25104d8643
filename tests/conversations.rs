//! Inboxes and incoming messages (issue 5, first part) through real HTTP on
//! the backend `TEST_DATABASE_URL` picks: who the sender is, which
//! conversation a message joins, idempotent re-deliveries, bad input, and 200
//! messages from 50 new senders posted at once.

mod common;
use common::*;

use diesel::prelude::*;
use leadbook::db::schema::{contact_identities, contacts, conversations, messages, status_history};
use leadbook::service::users::Role;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

struct Team {
    app: TestApp,
    admin: String,
    agent: String,
}

async fn team() -> Team {
    let app = spawn_app().await;
    app.add_user("admin@example.com", "Ada Admin", Role::Admin);
    app.add_user("agent@example.com", "Agnes Agent", Role::Agent);
    Team {
        admin: app.token_for("admin@example.com"),
        agent: app.token_for("agent@example.com"),
        app,
    }
}

async fn inbox(t: &Team, name: &str, channel: &str) -> i64 {
    let (status, json) = send(
        &t.app,
        Method::POST,
        "/inboxes",
        &t.admin,
        Some(json!({"name": name, "channel": channel, "delivery": {"kind": "sandbox"}})),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{json}");
    json["id"].as_i64().unwrap()
}

/// How many rows a table holds.
macro_rules! count {
    ($app:expr, $table:expr) => {
        $app.with_db(|c| $table.count().get_result::<i64>(c).unwrap())
    };
}

#[actix_web::test]
async fn admins_manage_inboxes_and_their_delivery_adapter() {
    let t = team().await;
    let (status, json) = send(
        &t.app,
        Method::POST,
        "/inboxes",
        &t.admin,
        Some(json!({"name": "Sales WhatsApp", "channel": "whatsapp", "delivery": {"kind": "webhook", "url": "http://127.0.0.1:9/out"}})),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{json}");
    assert_eq!(
        json,
        json!({"id": json["id"], "name": "Sales WhatsApp", "channel": "whatsapp", "delivery": {"kind": "webhook", "url": "http://127.0.0.1:9/out"}})
    );
    let id = json["id"].as_i64().unwrap();
    let (status, json) = send(
        &t.app,
        Method::PATCH,
        &format!("/inboxes/{id}"),
        &t.admin,
        Some(json!({"delivery": {"kind": "sandbox"}})),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{json}");
    assert_eq!(json["delivery"], json!({"kind": "sandbox"}));
    assert_eq!(json["name"], "Sales WhatsApp");

    for bad in [
        json!({"name": "", "channel": "whatsapp"}),
        json!({"name": "X", "channel": "telegram"}),
        json!({"name": "X", "channel": "sms", "delivery": {"kind": "webhook"}}),
        json!({"name": "X", "channel": "sms", "delivery": {"kind": "webhook", "url": "ftp://x"}}),
        json!({"name": "X", "channel": "sms", "delivery": {"kind": "carrier-pigeon"}}),
    ] {
        let (status, json) = send(&t.app, Method::POST, "/inboxes", &t.admin, Some(bad.clone())).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{bad} → {json}");
    }
    let (status, _) = send(
        &t.app,
        Method::POST,
        "/inboxes",
        &t.agent,
        Some(json!({"name": "X", "channel": "sms"})),
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, list) = send(&t.app, Method::GET, "/inboxes", &t.agent, None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(list.as_array().unwrap().len(), 1);
    let (status, _) = send(&t.app, Method::DELETE, &format!("/inboxes/{id}"), &t.agent, None).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _) = send(&t.app, Method::DELETE, &format!("/inboxes/{id}"), &t.admin, None).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, _) = send(&t.app, Method::DELETE, &format!("/inboxes/{id}"), &t.admin, None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[actix_web::test]
async fn a_new_sender_becomes_an_unassigned_new_contact_and_later_messages_join_its_conversation() {
    let t = team().await;
    let wa = inbox(&t, "Sales WhatsApp", "whatsapp").await;
    let path = format!("/inboxes/{wa}/messages");
    // Any user's token may post incoming messages (a bridge's token).
    let (status, first) = send(
        &t.app,
        Method::POST,
        &path,
        &t.agent,
        Some(json!({"source_id": "60123456789", "name": "Ali", "body": "Hi, is the gold plan available?"})),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{first}");
    assert_eq!(first["contact_created"], true);
    let contact = first["contact_id"].as_i64().unwrap();
    let (_, c) = send(&t.app, Method::GET, &format!("/contacts/{contact}"), &t.agent, None).await;
    assert_eq!(c["name"], "Ali");
    assert_eq!(c["phone"], "+60123456789", "a WhatsApp sender's ID is its phone");
    assert_eq!(c["status_id"], 1);
    assert_eq!(c["owner_id"], Value::Null);
    assert!(c["last_activity_at"].is_string(), "an incoming message is activity");
    let (_, history) = send(
        &t.app,
        Method::GET,
        &format!("/contacts/{contact}/status_history"),
        &t.agent,
        None,
    )
    .await;
    assert_eq!(
        history,
        json!([{"from_id": null, "to_id": 1, "source": "automation", "user_id": null, "at": history[0]["at"]}])
    );

    // The same sender, written another way: same contact, same open conversation.
    let (status, second) = send(
        &t.app,
        Method::POST,
        &path,
        &t.agent,
        Some(json!({"source_id": "+60 12-345 6789", "body": "Hello?"})),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED);
    assert_eq!(second["contact_id"], first["contact_id"]);
    assert_eq!(second["contact_created"], false);
    assert_eq!(second["conversation_id"], first["conversation_id"]);
    let (_, convs) = send(
        &t.app,
        Method::GET,
        &format!("/contacts/{contact}/conversations"),
        &t.agent,
        None,
    )
    .await;
    assert_eq!(convs.as_array().unwrap().len(), 1);
    assert_eq!(convs[0]["unread"], 2);
    assert_eq!(convs[0]["status"], "open");
    let conv = convs[0]["id"].as_i64().unwrap();
    let (_, page) = send(
        &t.app,
        Method::GET,
        &format!("/conversations/{conv}/messages?limit=1"),
        &t.agent,
        None,
    )
    .await;
    assert_eq!(
        page["data"][0]["body"], "Hi, is the gold plan available?",
        "oldest first"
    );
    assert_eq!(page["data"][0]["direction"], "in");
    let cursor = page["next_cursor"].as_str().unwrap().to_string();
    let (_, page) = send(
        &t.app,
        Method::GET,
        &format!("/conversations/{conv}/messages?limit=1&cursor={cursor}"),
        &t.agent,
        None,
    )
    .await;
    assert_eq!(page["data"][0]["body"], "Hello?");
    assert_eq!(page["next_cursor"], Value::Null);
    let message = page["data"][0]["id"].as_i64().unwrap();
    let (status, m) = send(&t.app, Method::GET, &format!("/messages/{message}"), &t.agent, None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(m["delivery"], Value::Null);

    // A resolved conversation is not reused: the next message opens a new one.
    t.app.with_db(|c| {
        diesel::update(conversations::table.find(conv as i32))
            .set(conversations::status.eq("resolved"))
            .execute(c)
            .unwrap()
    });
    let (_, third) = send(
        &t.app,
        Method::POST,
        &path,
        &t.agent,
        Some(json!({"source_id": "+60123456789", "body": "Back again"})),
    )
    .await;
    assert_eq!(third["contact_id"], first["contact_id"]);
    assert_ne!(third["conversation_id"], first["conversation_id"]);
    assert_eq!(count!(t.app, contacts::table), 1);
}

#[actix_web::test]
async fn a_sender_is_matched_by_the_phone_or_email_it_carries_and_gains_the_identity() {
    let t = team().await;
    let messenger = inbox(&t, "Page", "messenger").await;
    let mail = inbox(&t, "Support mail", "email").await;
    let wa = inbox(&t, "WA", "whatsapp").await;
    let (_, siti) = send(
        &t.app,
        Method::POST,
        "/contacts",
        &t.admin,
        Some(json!({"name": "Siti", "email": "siti@example.com", "phone": "+60198765432"})),
    )
    .await;
    let siti = siti["id"].as_i64().unwrap();

    // Messenger gives a page-scoped ID; the optional phone field finds Siti.
    let (_, r) = send(
        &t.app,
        Method::POST,
        &format!("/inboxes/{messenger}/messages"),
        &t.agent,
        Some(json!({"source_id": "psid-778899", "body": "hi", "phone": "019-876 5432"})),
    )
    .await;
    assert_eq!(r["contact_id"], siti);
    assert_eq!(r["contact_created"], false);
    // From then on the identity alone is enough.
    let (_, r) = send(
        &t.app,
        Method::POST,
        &format!("/inboxes/{messenger}/messages"),
        &t.agent,
        Some(json!({"source_id": "psid-778899", "body": "again"})),
    )
    .await;
    assert_eq!(r["contact_id"], siti);
    // An e-mail inbox's sender is its address; a WhatsApp sender its phone.
    let (_, r) = send(
        &t.app,
        Method::POST,
        &format!("/inboxes/{mail}/messages"),
        &t.agent,
        Some(json!({"source_id": "Siti@Example.com", "body": "by mail"})),
    )
    .await;
    assert_eq!(r["contact_id"], siti);
    let (_, r) = send(
        &t.app,
        Method::POST,
        &format!("/inboxes/{wa}/messages"),
        &t.agent,
        Some(json!({"source_id": "+60198765432", "body": "by WhatsApp"})),
    )
    .await;
    assert_eq!(r["contact_id"], siti);
    let identities: i64 = t.app.with_db(|c| {
        contact_identities::table
            .filter(contact_identities::contact_id.eq(siti as i32))
            .count()
            .get_result(c)
            .unwrap()
    });
    assert_eq!(identities, 3, "one identity per inbox");
    // An unknown Messenger sender without phone or e-mail is a new contact named by its ID.
    let (status, r) = send(
        &t.app,
        Method::POST,
        &format!("/inboxes/{messenger}/messages"),
        &t.agent,
        Some(json!({"source_id": "psid-1", "body": "who am I"})),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED);
    assert_eq!(r["contact_created"], true);
    let (_, c) = send(
        &t.app,
        Method::GET,
        &format!("/contacts/{}", r["contact_id"]),
        &t.agent,
        None,
    )
    .await;
    assert_eq!(c["name"], "psid-1");
    assert_eq!(c["phone"], Value::Null);
}

#[actix_web::test]
async fn the_same_external_id_again_stores_nothing_and_answers_the_same_ids() {
    let t = team().await;
    let wa = inbox(&t, "WA", "whatsapp").await;
    let body = json!({"source_id": "+60123456789", "name": "Ali", "body": "Hi", "external_id": "wamid.ABC"});
    let (status, first) = send(
        &t.app,
        Method::POST,
        &format!("/inboxes/{wa}/messages"),
        &t.agent,
        Some(body.clone()),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED);
    let (status, again) = send(
        &t.app,
        Method::POST,
        &format!("/inboxes/{wa}/messages"),
        &t.agent,
        Some(body),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{again}");
    assert_eq!(again["contact_id"], first["contact_id"]);
    assert_eq!(again["conversation_id"], first["conversation_id"]);
    assert_eq!(again["message_id"], first["message_id"]);
    assert_eq!(again["contact_created"], false);
    assert_eq!(count!(t.app, messages::table), 1);
    assert_eq!(count!(t.app, contacts::table), 1);
    // Another inbox may use the same external ID for its own message.
    let sms = inbox(&t, "SMS", "sms").await;
    let (status, _) = send(
        &t.app,
        Method::POST,
        &format!("/inboxes/{sms}/messages"),
        &t.agent,
        Some(json!({"source_id": "+60123456789", "body": "Hi", "external_id": "wamid.ABC"})),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED);
}

#[actix_web::test]
async fn bad_incoming_messages_get_a_clear_4xx_and_store_nothing() {
    let t = team().await;
    let wa = inbox(&t, "WA", "whatsapp").await;
    let mail = inbox(&t, "Mail", "email").await;
    let cases = [
        (
            format!("/inboxes/{wa}/messages"),
            json!({"source_id": "not a phone", "body": "hi"}),
            "source_id",
        ),
        (
            format!("/inboxes/{mail}/messages"),
            json!({"source_id": "nobody", "body": "hi"}),
            "source_id",
        ),
        (
            format!("/inboxes/{wa}/messages"),
            json!({"source_id": "+60123456789", "body": "   "}),
            "body",
        ),
        (
            format!("/inboxes/{wa}/messages"),
            json!({"source_id": "+60123456789", "body": "x".repeat(4097)}),
            "body",
        ),
        (
            format!("/inboxes/{wa}/messages"),
            json!({"source_id": "+60123456789", "body": "hi", "email": "nope"}),
            "email",
        ),
        (format!("/inboxes/{wa}/messages"), json!({"body": "hi"}), "source_id"),
        (
            format!("/inboxes/{wa}/messages"),
            json!({"source_id": 601234, "body": "hi"}),
            "source_id",
        ),
    ];
    for (path, body, field) in cases {
        let (status, json) = send(&t.app, Method::POST, &path, &t.agent, Some(body.clone())).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body} → {json}");
        assert!(json["error"]["fields"][field].is_array(), "{body} → {json}");
    }
    let (status, json) = send(
        &t.app,
        Method::POST,
        "/inboxes/999/messages",
        &t.agent,
        Some(json!({"source_id": "+60123456789", "body": "hi"})),
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{json}");
    let res = new_client()
        .post(t.app.url(&format!("/api/v1/inboxes/{wa}/messages")))
        .json(&json!({"source_id": "+60123456789", "body": "hi"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(count!(t.app, messages::table), 0);
    assert_eq!(count!(t.app, contacts::table), 0);
}

#[actix_web::test]
async fn two_hundred_messages_from_fifty_new_senders_at_once_make_fifty_contacts() {
    let t = team().await;
    let wa = inbox(&t, "WA", "whatsapp").await;
    let messenger = inbox(&t, "Page", "messenger").await;
    let mut tasks = Vec::new();
    for round in 0..4 {
        for sender in 0..50 {
            let url = t.app.url(&format!(
                "/api/v1/inboxes/{}/messages",
                if sender % 2 == 0 { wa } else { messenger }
            ));
            let source = if sender % 2 == 0 {
                format!("+6012{:07}", 1_000_000 + sender)
            } else {
                format!("psid-{sender}")
            };
            let token = t.agent.clone();
            tasks.push(tokio::spawn(async move {
                let res = new_client()
                    .post(url)
                    .bearer_auth(token)
                    .json(&json!({"source_id": source, "body": format!("message {round} from {sender}")}))
                    .send()
                    .await
                    .expect("POST");
                let status = res.status();
                (status, res.text().await.unwrap())
            }));
        }
    }
    for task in tasks {
        let (status, body) = task.await.unwrap();
        assert_eq!(status, StatusCode::CREATED, "{body}");
    }
    assert_eq!(count!(t.app, contacts::table), 50);
    assert_eq!(count!(t.app, messages::table), 200);
    assert_eq!(
        count!(t.app, conversations::table),
        50,
        "one open conversation per sender"
    );
    assert_eq!(count!(t.app, contact_identities::table), 50);
    assert_eq!(count!(t.app, status_history::table), 50);
    // Each conversation holds its sender's four messages.
    let per_conversation: Vec<(i32, i64)> = t.app.with_db(|c| {
        messages::table
            .group_by(messages::conversation_id)
            .select((messages::conversation_id, diesel::dsl::count_star()))
            .load(c)
            .unwrap()
    });
    assert_eq!(per_conversation.len(), 50);
    assert!(per_conversation.iter().all(|(_, n)| *n == 4), "{per_conversation:?}");
    let unread: Vec<i32> = t
        .app
        .with_db(|c| conversations::table.select(conversations::unread).load(c).unwrap());
    assert!(unread.iter().all(|n| *n == 4), "{unread:?}");
}

// ------------------------------------------------------------------ pages

#[actix_web::test]
async fn agents_see_unread_conversations_open_them_reply_and_resolve() {
    let t = team().await;
    let wa = inbox(&t, "Sales WhatsApp", "whatsapp").await;
    let (_, r) = send(
        &t.app,
        Method::POST,
        &format!("/inboxes/{wa}/messages"),
        &t.agent,
        Some(json!({"source_id": "+60123456789", "name": "Ali <b>", "body": "Hi <script>x</script>"})),
    )
    .await;
    send(
        &t.app,
        Method::POST,
        &format!("/inboxes/{wa}/messages"),
        &t.agent,
        Some(json!({"source_id": "+60123456789", "body": "Anyone?"})),
    )
    .await;
    let conv = r["conversation_id"].as_i64().unwrap();
    let contact = r["contact_id"].as_i64().unwrap();
    let agent = t.app.login_as("agent@example.com").await;

    // The menu and the list show two unread messages.
    let (_, html) = agent.page("/contacts").await;
    assert!(
        html.contains(r#"id="unread-total" aria-label="2 unread">2<"#),
        "menu badge"
    );
    let (_, list) = agent.page("/conversations").await;
    assert!(
        list.contains(&format!("/conversations/{conv}")) && list.contains("Ali &#60;b&#62;"),
        "{list}"
    );

    // Opening it reads it: the badge goes.
    let (status, window) = agent.page(&format!("/conversations/{conv}")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(window.contains("Hi &#60;script&#62;x&#60;/script&#62;") && window.contains("Anyone?"));
    assert!(
        window.contains("reply window open"),
        "a WhatsApp conversation shows its window"
    );
    assert!(
        window.contains(&format!("href=\"/contacts/{contact}\"")),
        "the panel opens the contact"
    );
    let (_, html) = agent.page("/contacts").await;
    assert!(!html.contains("unread-total"), "read");

    // A reply from the window is queued (the sandbox delivers it) and shown.
    let res = agent
        .submit(
            &format!("/conversations/{conv}"),
            &format!("/conversations/{conv}/messages"),
            &[("body", "Hello Ali!")],
        )
        .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&res), format!("/conversations/{conv}"));
    let (_, window) = agent.page(&format!("/conversations/{conv}")).await;
    assert!(window.contains("Hello Ali!"));
    // An empty reply is refused with the field named.
    let res = agent
        .submit(
            &format!("/conversations/{conv}"),
            &format!("/conversations/{conv}/messages"),
            &[("body", " ")],
        )
        .await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);

    // The contact's page lists the conversation and offers Send message.
    let (_, page) = agent.page(&format!("/contacts/{contact}")).await;
    assert!(
        page.contains(&format!("/conversations/{conv}")) && page.contains(&format!("/contacts/{contact}/messages/new"))
    );
    let (status, form) = agent.page(&format!("/contacts/{contact}/messages/new")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(form.contains("Sales WhatsApp"));
    let res = agent
        .submit(
            &format!("/contacts/{contact}/messages/new"),
            &format!("/contacts/{contact}/messages"),
            &[("inbox", &wa.to_string()), ("body", "One more thing")],
        )
        .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert_eq!(
        location(&res),
        format!("/conversations/{conv}"),
        "the open conversation is reused"
    );

    let res = agent
        .submit(
            &format!("/conversations/{conv}"),
            &format!("/conversations/{conv}/resolve"),
            &[],
        )
        .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let (_, list) = agent.page("/conversations").await;
    assert!(
        !list.contains(&format!("/conversations/{conv}\"")),
        "resolved conversations leave the list"
    );
}

#[actix_web::test]
async fn admins_connect_inboxes_on_the_settings_page() {
    let t = team().await;
    let res = t.app.login("admin@example.com", PASSWORD).await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let res = t
        .app
        .submit(
            "/settings/inboxes",
            "/settings/inboxes",
            &[
                ("name", "Bridge"),
                ("channel", "sms"),
                ("delivery_kind", "webhook"),
                ("delivery.url", "nope"),
            ],
        )
        .await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        res.text().await.unwrap().contains("id=\"e-delivery.url\""),
        "the URL field's error"
    );
    let res = t
        .app
        .submit(
            "/settings/inboxes",
            "/settings/inboxes",
            &[
                ("name", "Bridge"),
                ("channel", "sms"),
                ("delivery_kind", "webhook"),
                ("delivery.url", "https://bridge.example.com/out"),
            ],
        )
        .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let (_, list) = send(&t.app, Method::GET, "/inboxes", &t.agent, None).await;
    assert_eq!(
        list[0]["delivery"],
        json!({"kind": "webhook", "url": "https://bridge.example.com/out"})
    );
    let agent = t.app.login_as("agent@example.com").await;
    assert_eq!(agent.page("/settings/inboxes").await.0, StatusCode::FORBIDDEN);
}
