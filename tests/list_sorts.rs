//! The list's sorts of issue 24, walked page by page both ways on both
//! backends: status in pipeline order.

mod common;

use common::*;
use diesel::prelude::*;
use leadbook::db::schema::contacts;
use leadbook::service::contacts::{self as contact_service, Contact, ContactDraft, ContactInput};
use leadbook::service::status::{LeadStatus, StatusSource};
use leadbook::service::users::{Actor, Role};
use reqwest::StatusCode;

async fn app_as_admin() -> (TestApp, Actor) {
    let app = spawn_app().await;
    app.setup_admin().await;
    let lead = app.add_user("lee@example.com", "Lee Lead", Role::Lead);
    (app, lead)
}

fn create(app: &TestApp, actor: &Actor, input: &ContactInput) -> i32 {
    app.with_db(|c| {
        let defs = leadbook::service::attributes::definitions(c).expect("definitions");
        let draft = ContactDraft::parse(input, phonenumber::country::Id::MY, &defs)
            .unwrap_or_else(|e| panic!("fixture {input:?}: {e:?}"));
        contact_service::create(c, actor, &draft, StatusSource::Manual)
            .expect("created")
            .id
    })
}

fn live_contacts(app: &TestApp) -> Vec<Contact> {
    app.with_db(|c| {
        contacts::table
            .filter(contacts::deleted_at.is_null())
            .select(Contact::as_select())
            .load(c)
            .expect("contacts")
    })
}

/// Walks `path`'s pages forwards then back; both ways must show `expected`,
/// every contact once, and the same pages.
async fn assert_walk(app: &TestApp, path: &str, expected: &[i32]) {
    let (forward, backward) = walk_pages(app, path).await;
    let seen = forward.concat();
    let mut repeated: Vec<i32> = seen
        .iter()
        .filter(|id| seen.iter().filter(|x| x == id).count() > 1)
        .copied()
        .collect();
    repeated.sort_unstable();
    repeated.dedup();
    let missing: Vec<i32> = expected.iter().filter(|id| !seen.contains(id)).copied().collect();
    assert!(
        repeated.is_empty() && missing.is_empty(),
        "{path}: contacts {repeated:?} shown more than once, {missing:?} never"
    );
    assert_eq!(seen, expected, "{path}: Next links keep the order");
    assert_eq!(backward, forward, "{path}: Previous leads back through the same pages");
}

/// `ids` in the given direction.
fn directed(mut ids: Vec<i32>, asc: bool) -> Vec<i32> {
    if !asc {
        ids.reverse();
    }
    ids
}

// ------------------------------------------------------------ by status

#[actix_web::test]
async fn status_sorts_in_pipeline_order_both_ways() {
    let (app, lead) = app_as_admin().await;
    let agent = app.add_user("aida@example.com", "Aida Agent", Role::Agent);
    for i in 0..120 {
        let input = ContactInput {
            status: ((i * 3) % 7 + 1).to_string(),
            owner: Some(if i % 4 == 0 {
                agent.id.to_string()
            } else {
                "none".into()
            }),
            ..named(&format!("Contact {i}"))
        };
        create(&app, &lead, &input);
    }
    let all = live_contacts(&app);
    let order = |keep: &dyn Fn(&Contact) -> bool| {
        let mut rows: Vec<&Contact> = all.iter().filter(|c| keep(c)).collect();
        rows.sort_by_key(|c| (c.status().pipeline_rank(), c.id));
        rows.iter().map(|c| c.id).collect::<Vec<i32>>()
    };
    for (order_param, asc) in [("asc", true), ("desc", false)] {
        let path = format!("/contacts?owner=all&sort=status&order={order_param}");
        let expected = directed(order(&|_| true), asc);
        assert_walk(&app, &path, &expected).await;
        // New, Reach, Qualified, Negotiating, Won, then Unqualified and Lost.
        let html = list_page(&app, &path).await;
        let first = all.iter().find(|c| c.id == listed_ids(&html)[0]).unwrap();
        let want = if asc { LeadStatus::New } else { LeadStatus::Lost };
        assert_eq!(first.status(), want, "{path}");
    }
    // Only some statuses, and one owner's: the walk skips the others.
    let some = |c: &Contact| matches!(c.status(), LeadStatus::Lost | LeadStatus::Won | LeadStatus::Reach);
    for (order_param, asc) in [("asc", true), ("desc", false)] {
        let path = format!("/contacts?owner=all&status=lost&status=won&status=reach&sort=status&order={order_param}");
        assert_walk(&app, &path, &directed(order(&some), asc)).await;
    }
    let agents = |c: &Contact| c.owner_id == Some(agent.id);
    let path = format!("/contacts?owner={}&sort=status&order=asc", agent.id);
    assert_walk(&app, &path, &order(&agents)).await;
}

#[actix_web::test]
async fn a_status_cursor_for_a_status_the_list_does_not_show_is_out_of_date() {
    let (app, lead) = app_as_admin().await;
    for i in 0..60 {
        let input = ContactInput {
            status: if i % 2 == 0 { "won" } else { "new" }.into(),
            ..named(&format!("Contact {i}"))
        };
        create(&app, &lead, &input);
    }
    let html = list_page(&app, "/contacts?owner=all&sort=status&order=asc").await;
    let next = pager(&html, "next").expect("a second page");
    // The same cursor on a list of Lost contacts only.
    let (status, body) = app.page(&format!("{next}&status=lost")).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert!(body.contains("out of date"), "{body}");
}
