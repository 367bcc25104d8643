//! Pipeline insight (issue 10): the funnel, conversion and median time in
//! stage on a hand-made history with known answers, the stale rule and its
//! list, follow-up reminders and the follow-up queue's order and reasons.

mod common;
use common::*;

use chrono::{Duration, NaiveDateTime, Utc};
use diesel::prelude::*;
use leadbook::db::schema::{contacts, conversations, inboxes, status_history};
use leadbook::service::pipeline::{self, StaleRule};
use leadbook::service::users::Role;
use reqwest::StatusCode;

fn now() -> NaiveDateTime {
    Utc::now().naive_utc()
}

/// `n` fresh contacts (IDs in order), with no history, owner or activity.
fn blank_contacts(app: &TestApp, n: u64) -> Vec<i32> {
    app.with_db(|c| {
        let before: Option<i32> = contacts::table.select(diesel::dsl::max(contacts::id)).first(c).unwrap();
        leadbook::service::seed::seed_contacts(c, n, None, |_| {}).unwrap();
        let ids: Vec<i32> = contacts::table
            .filter(contacts::id.gt(before.unwrap_or(0)))
            .order(contacts::id.asc())
            .select(contacts::id)
            .load(c)
            .unwrap();
        diesel::delete(status_history::table.filter(status_history::contact_id.eq_any(&ids)))
            .execute(c)
            .unwrap();
        diesel::update(contacts::table.filter(contacts::id.eq_any(&ids)))
            .set((
                contacts::owner_id.eq(None::<i32>),
                contacts::last_activity_at.eq(None::<NaiveDateTime>),
                contacts::created_at.eq(now() - Duration::days(60)),
            ))
            .execute(c)
            .unwrap();
        ids
    })
}

/// Writes a contact's history: (status, days ago), oldest first; the
/// contact ends in the last status.
fn history(app: &TestApp, contact: i32, changes: &[(i32, i64)], at: NaiveDateTime) {
    app.with_db(|c| {
        let mut from = None;
        for &(to, days_ago) in changes {
            diesel::insert_into(status_history::table)
                .values((
                    status_history::contact_id.eq(contact),
                    status_history::from_id.eq(from),
                    status_history::to_id.eq(to),
                    status_history::source.eq("manual"),
                    status_history::at.eq(at - Duration::days(days_ago)),
                ))
                .execute(c)
                .unwrap();
            from = Some(to);
        }
        diesel::update(contacts::table.find(contact))
            .set(contacts::status_id.eq(from.unwrap()))
            .execute(c)
            .unwrap();
    });
}

fn inbox(app: &TestApp) -> i32 {
    app.with_db(|c| {
        diesel::insert_into(inboxes::table)
            .values((
                inboxes::name.eq("Test WhatsApp"),
                inboxes::channel.eq("whatsapp"),
                inboxes::delivery_kind.eq("sandbox"),
                inboxes::created_at.eq(now()),
                inboxes::updated_at.eq(now()),
            ))
            .returning(inboxes::id)
            .get_result(c)
            .unwrap()
    })
}

fn conversation(
    app: &TestApp,
    inbox: i32,
    contact: i32,
    incoming: Option<NaiveDateTime>,
    outbound: Option<NaiveDateTime>,
) {
    app.with_db(|c| {
        diesel::insert_into(conversations::table)
            .values((
                conversations::contact_id.eq(contact),
                conversations::inbox_id.eq(inbox),
                conversations::status.eq("open"),
                conversations::unread.eq(0),
                conversations::last_message_at.eq(incoming.max(outbound)),
                conversations::last_incoming_at.eq(incoming),
                conversations::last_outbound_at.eq(outbound),
                conversations::created_at.eq(now() - Duration::days(30)),
                conversations::updated_at.eq(now()),
            ))
            .execute(c)
            .unwrap();
    });
}

#[actix_web::test]
async fn conversion_and_median_time_in_stage_on_a_hand_made_history() {
    let app = spawn_app().await;
    app.setup_admin().await;
    let at = now();
    let [a, b, c, d] = blank_contacts(&app, 4)[..] else {
        panic!("four contacts")
    };
    // New 1, Reach 2, Qualified 3, Unqualified 4, Negotiating 5, Won 6, Lost 7.
    history(&app, a, &[(1, 50), (2, 40), (3, 20), (5, 10), (6, 5)], at);
    history(&app, b, &[(1, 45), (2, 25), (7, 2)], at);
    history(&app, c, &[(1, 20), (3, 15)], at);
    history(&app, d, &[(1, 3)], at);

    let f = app.with_db(|conn| pipeline::compute(conn, 30, &[], at).unwrap());
    let conv: Vec<(i32, i32, i64, i64)> = f
        .conversions
        .iter()
        .map(|c| (c.from, c.to, c.entered, c.converted))
        .collect();
    assert_eq!(
        conv,
        [
            (1, 2, 2, 1), // C and D entered New; C moved on (to Qualified, skipping Reach)
            (2, 3, 1, 0), // B entered Reach (A did before the period); B was Lost
            (3, 5, 2, 1), // A and C entered Qualified; A moved on
            (5, 6, 1, 1), // A: Negotiating, then Won
        ]
    );
    assert_eq!(f.conversions[0].percent(), Some(50.0));

    let day = 86_400;
    let median = |status: i32| {
        f.times
            .iter()
            .find(|t| t.status == status)
            .map(|t| (t.median_seconds, t.spells))
            .unwrap()
    };
    // Spells that ended in the last 30 days: New 20 d (B) and 5 d (C);
    // Reach 20 d (A) and 23 d (B); Qualified 10 d (A); Negotiating 5 d (A).
    assert_eq!(median(1), (Some(25 * day / 2), 2));
    assert_eq!(median(2), (Some(43 * day / 2), 2));
    assert_eq!(median(3), (Some(10 * day), 1));
    assert_eq!(median(5), (Some(5 * day), 1));
    assert_eq!(median(6), (None, 0), "nobody left Won");

    // Over 7 days only B's Reach → Lost (23 d) and A's Negotiating → Won (5 d) ended.
    let week = app.with_db(|conn| pipeline::compute(conn, 7, &[], at).unwrap());
    let spells: Vec<(i32, i64)> = week
        .times
        .iter()
        .filter(|t| t.spells > 0)
        .map(|t| (t.status, t.median_seconds.unwrap()))
        .collect();
    assert_eq!(spells, [(2, 23 * day), (5, 5 * day)]);

    // The page shows them, with the funnel drawn as an accessible SVG.
    let (status, html) = app.page("/pipeline?period=30").await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("<title id=\"funnel-title\">Contacts per status</title>"));
    assert!(
        html.contains(
            "<desc id=\"funnel-desc\">New 1, Reach 0, Qualified 1, Negotiating 0, Won 1; left the pipeline: Unqualified 0, Lost 1</desc>"
        ),
        "{html}"
    );
    assert!(html.contains("<td class=\"num\">50%</td>"));
    assert!(html.contains("<td class=\"num\">12 days 12 h</td>"));
    assert!(html.contains("href=\"/contacts?owner=all&#38;status=6\""));
    assert_eq!(app.get("/pipeline?period=13").await.status(), StatusCode::BAD_REQUEST);
}

#[actix_web::test]
async fn the_funnel_counts_every_live_contact_per_status() {
    let app = spawn_app().await;
    app.setup_admin().await;
    let ids = blank_contacts(&app, 10);
    app.with_db(|c| {
        for (i, id) in ids.iter().enumerate() {
            let status = [1, 1, 1, 1, 2, 2, 3, 5, 6, 7][i];
            diesel::update(contacts::table.find(id))
                .set(contacts::status_id.eq(status))
                .execute(c)
                .unwrap();
        }
    });
    let agent = app.add_user("agent@example.com", "Agnes Agent", Role::Agent);
    let _ = agent;
    let agent = app.login_as("agent@example.com").await;
    let (status, html) = agent.page("/pipeline").await;
    assert_eq!(status, StatusCode::OK, "every role sees the pipeline");
    assert!(
        html.contains("New 4, Reach 2, Qualified 1, Negotiating 1, Won 1; left the pipeline: Unqualified 0, Lost 1")
    );
    // Each bar carries its name and its count as text, in that order.
    for (name, count) in [("New", 4), ("Reach", 2), ("Won", 1)] {
        let at = html.find(&format!(">{name}</text>")).expect(name);
        let rest = &html[at..];
        let count_text = &rest[rest.find("class=\"funnel-count\"").unwrap()..];
        let shown = &count_text[count_text.find('>').unwrap() + 1..count_text.find("</text>").unwrap()];
        assert_eq!(shown, count.to_string(), "{name}");
    }
    // An agent may not make the server compute again; a lead (here the admin) may.
    let res = agent.submit("/pipeline", "/pipeline/refresh", &[]).await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    let res = app.submit("/pipeline", "/pipeline/refresh", &[]).await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    // Trashing a contact takes it out of the funnel.
    app.with_db(|c| {
        let admin = leadbook::service::users::find_by_email(c, "admin@example.com").unwrap();
        leadbook::service::trash::move_to_trash(c, &admin, &[ids[0]]).unwrap();
    });
    let (_, html) = agent.page("/pipeline").await;
    assert!(html.contains("New 3, Reach 2"));
}

#[actix_web::test]
async fn the_stale_rule_counts_and_lists_negotiating_contacts_nobody_wrote_to_for_a_week() {
    let app = spawn_app().await;
    app.setup_admin().await;
    let inbox = inbox(&app);
    let [e, f, g, h, won] = blank_contacts(&app, 5)[..] else {
        panic!("five contacts")
    };
    app.with_db(|c| {
        diesel::update(contacts::table.filter(contacts::id.eq_any([e, f, g, h])))
            .set(contacts::status_id.eq(5))
            .execute(c)
            .unwrap();
        diesel::update(contacts::table.find(won))
            .set(contacts::status_id.eq(6))
            .execute(c)
            .unwrap();
        // G is new: three days old, nobody wrote yet, not stale.
        diesel::update(contacts::table.find(g))
            .set(contacts::created_at.eq(now() - Duration::days(3)))
            .execute(c)
            .unwrap();
    });
    conversation(
        &app,
        inbox,
        e,
        Some(now() - Duration::days(1)),
        Some(now() - Duration::days(10)),
    );
    conversation(&app, inbox, f, None, Some(now() - Duration::days(2)));
    conversation(&app, inbox, won, None, Some(now() - Duration::days(30)));
    // H has no conversation at all: stale.
    let rules = StaleRule::parse_list("negotiating:7").unwrap();
    let figures = app.with_db(|c| pipeline::compute(c, 30, &rules, now()).unwrap());
    assert_eq!(figures.stale.len(), 1);
    assert_eq!(figures.stale[0].count, 2, "E and H");

    let (_, html) = app.page("/pipeline").await;
    assert!(
        html.contains("<a href=\"/contacts?owner=all&#38;status=5&#38;quiet=7\"><strong>2</strong> Negotiating</a>"),
        "{html}"
    );
    let (status, list) = app.page("/contacts?owner=all&status=5&quiet=7").await;
    assert_eq!(status, StatusCode::OK);
    for (id, shown) in [(e, true), (f, false), (g, false), (h, true), (won, false)] {
        assert_eq!(
            list.contains(&format!("href=\"/contacts/{id}\"")),
            shown,
            "contact {id}"
        );
    }
    assert!(list.contains("no message sent for 7 days"), "the filter says itself");
    assert_eq!(app.get("/contacts?quiet=zero").await.status(), StatusCode::BAD_REQUEST);
}

#[actix_web::test]
async fn the_follow_up_queue_puts_due_reminders_then_waiting_customers_first_and_says_why() {
    let app = spawn_app().await;
    app.setup_admin().await;
    let agent = app.add_user("agent@example.com", "Agnes Agent", Role::Agent);
    let other = app.add_user("omar@example.com", "Omar Agent", Role::Agent);
    app.add_user("lead@example.com", "Lee Lead", Role::Lead);
    let inbox = inbox(&app);
    let [p1, p2, p3, p4, p5, p6] = blank_contacts(&app, 6)[..] else {
        panic!("six contacts")
    };
    let t0 = now();
    app.with_db(|c| {
        let set = |c: &mut leadbook::db::AnyConnection, id: i32, status: i32, owner: i32, activity: NaiveDateTime| {
            diesel::update(contacts::table.find(id))
                .set((
                    contacts::status_id.eq(status),
                    contacts::owner_id.eq(owner),
                    contacts::last_activity_at.eq(activity),
                ))
                .execute(c)
                .unwrap();
        };
        set(c, p1, 5, agent.id, t0 - Duration::days(2));
        set(c, p2, 1, agent.id, t0 - Duration::hours(1));
        set(c, p3, 3, agent.id, t0 - Duration::hours(5));
        set(c, p4, 6, agent.id, t0 - Duration::days(9));
        set(c, p5, 2, agent.id, t0);
        set(c, p6, 5, other.id, t0 - Duration::days(20));
        diesel::update(contacts::table.find(p2))
            .set(contacts::follow_up_at.eq(t0 - Duration::hours(3)))
            .execute(c)
            .unwrap();
        diesel::update(contacts::table.find(p5))
            .set(contacts::follow_up_at.eq(t0 + Duration::days(3)))
            .execute(c)
            .unwrap();
    });
    conversation(
        &app,
        inbox,
        p3,
        Some(t0 - Duration::hours(5)),
        Some(t0 - Duration::hours(6)),
    );
    conversation(
        &app,
        inbox,
        p1,
        Some(t0 - Duration::days(3)),
        Some(t0 - Duration::days(2)),
    );

    let (entries, total) = app.with_db(|c| leadbook::service::followups::queue(c, &agent, agent.id, now()).unwrap());
    assert_eq!(total, 4, "the Won contact and Omar's are not in Agnes's queue");
    let order: Vec<(i32, i64, Vec<String>)> = entries
        .iter()
        .map(|e| (e.candidate.id, e.points, e.reasons.clone()))
        .collect();
    assert_eq!(
        order[0],
        (
            p2,
            1000 + 15 + 50,
            vec!["Follow-up was due 3 h ago".into(), "New".into()]
        )
    );
    assert_eq!(
        order[1],
        (
            p3,
            400 + 25 + 200,
            vec!["Waiting for a reply for 5 h".into(), "Qualified".into()]
        )
    );
    assert_eq!(
        order[2],
        (p1, 300 + 10, vec!["Negotiating".into(), "No contact for 2 days".into()])
    );
    assert_eq!(order[3].0, p5);
    assert!(order[3].2[0].starts_with("Follow-up due in "), "{:?}", order[3].2);

    // The page: the agent's own queue, in that order, each row with its reasons.
    let agent_client = app.login_as("agent@example.com").await;
    let (status, html) = agent_client.page("/follow-ups").await;
    assert_eq!(status, StatusCode::OK);
    let pos = |id: i32| html.find(&format!("href=\"/contacts/{id}\"")).unwrap();
    assert!(pos(p2) < pos(p3) && pos(p3) < pos(p1) && pos(p1) < pos(p5));
    assert!(!html.contains(&format!("href=\"/contacts/{p4}\"")));
    assert!(html.contains("Waiting for a reply for 5 h · Qualified"));
    // Another member's queue: a lead may look, an agent may not.
    let path = format!("/follow-ups?agent={}", other.id);
    assert_eq!(agent_client.get(&path).await.status(), StatusCode::FORBIDDEN);
    let lead = app.login_as("lead@example.com").await;
    let (status, html) = lead.page(&format!("/follow-ups?agent={}", agent.id)).await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("Follow-ups of Agnes Agent"));
    assert!(html.contains(&format!("href=\"/contacts/{p2}\"")));
}

#[actix_web::test]
async fn an_agent_sets_and_clears_a_follow_up_on_the_contact_page() {
    let app = spawn_app().await;
    app.setup_admin().await;
    let agent = app.add_user("agent@example.com", "Agnes Agent", Role::Agent);
    let id = blank_contacts(&app, 1)[0];
    app.with_db(|c| {
        diesel::update(contacts::table.find(id))
            .set((contacts::owner_id.eq(agent.id), contacts::status_id.eq(2)))
            .execute(c)
            .unwrap();
    });
    let client = app.login_as("agent@example.com").await;
    let page = format!("/contacts/{id}");
    let action = format!("/contacts/{id}/follow-up");
    // The team's time zone is Asia/Kuala_Lumpur (UTC+8) by default.
    let res = client.submit(&page, &action, &[("at", "2030-01-02T09:30")]).await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let stored: Option<NaiveDateTime> = app.with_db(|c| {
        contacts::table
            .find(id)
            .select(contacts::follow_up_at)
            .first(c)
            .unwrap()
    });
    assert_eq!(stored.unwrap().to_string(), "2030-01-02 01:30:00");
    let (_, html) = client.page(&page).await;
    assert!(html.contains("Follow up 2 Jan 2030, 09:30"), "{html}");
    assert!(
        html.contains("value=\"2 Jan 2030, 09:30\""),
        "the field holds it in the team's format"
    );
    // The pages' own format is read back as typed.
    let res = client.submit(&page, &action, &[("at", "3 Jan 2030, 14:00")]).await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let (_, html) = client.page(&page).await;
    assert!(html.contains("Follow up 3 Jan 2030, 14:00"), "{html}");
    let (_, queue) = client.page("/follow-ups").await;
    assert!(queue.contains("3 Jan 2030, 14:00"), "the queue shows it too");

    let res = client.submit(&page, &action, &[("at", "next tuesday")]).await;
    assert!(res.status().is_client_error(), "{}", res.status());
    let res = client.post_raw(&action, &[("at", "2030-01-02T09:30")]).await;
    assert!(res.status().is_client_error(), "no CSRF token, no change");
    let res = client
        .submit(&page, "/contacts/999999/follow-up", &[("at", "2030-01-02T09:30")])
        .await;
    assert_eq!(res.status(), StatusCode::NOT_FOUND);

    let res = client.submit(&page, &action, &[("at", "")]).await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let (_, html) = client.page(&page).await;
    assert!(html.contains("No follow-up set."));
}
