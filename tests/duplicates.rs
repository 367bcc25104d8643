//! The duplicate finder: each kind of duplicate found with its reason,
//! strangers left alone, pairs kept current by edits and deletes, the page
//! (leads and admins only, keyset paging), rebuild agreeing with the
//! incremental refresh, the seed's planted duplicates found, and the
//! background rebuild of a database that has contacts but no keys.
//! Runs on SQLite, or on PostgreSQL with `TEST_DATABASE_URL`.

mod common;

use common::*;
use diesel::prelude::*;
use leadbook::db::schema::{contact_match_keys, duplicate_pairs};
use leadbook::db::AnyConnection;
use leadbook::service::contacts::{self as contact_service, ContactDraft, ContactInput};
use leadbook::service::duplicates::{self, Fields};
use leadbook::service::seed;
use leadbook::service::status::StatusSource;
use leadbook::service::users::Role;
use reqwest::StatusCode;

const COMPANY: &str = "Maju Trading Sdn Bhd";
const CITY: &str = "Ipoh";

/// A fresh app whose own client is signed in as the admin.
async fn app_as_admin() -> TestApp {
    let app = spawn_app().await;
    app.setup_admin().await;
    app
}

/// Every stored pair as (lower ID, higher ID, score, reason), in ID order.
fn pairs(app: &TestApp) -> Vec<(i32, i32, i32, String)> {
    app.with_db(|c| {
        duplicate_pairs::table
            .order((duplicate_pairs::contact_id, duplicate_pairs::other_id))
            .select((
                duplicate_pairs::contact_id,
                duplicate_pairs::other_id,
                duplicate_pairs::score,
                duplicate_pairs::reason,
            ))
            .load(c)
            .expect("pairs")
    })
}

/// The stored pair of two contacts, if any, as (score, reason).
fn pair_of(app: &TestApp, a: i32, b: i32) -> Option<(i32, String)> {
    pairs(app)
        .into_iter()
        .find(|p| (p.0, p.1) == (a.min(b), a.max(b)))
        .map(|p| (p.2, p.3))
}

fn keys_of(app: &TestApp, id: i32) -> i64 {
    app.with_db(|c| {
        contact_match_keys::table
            .filter(contact_match_keys::contact_id.eq(id))
            .count()
            .get_result(c)
            .expect("count")
    })
}

/// The original everyone below duplicates.
async fn siti(app: &TestApp) -> i32 {
    app.contact_id(&[
        ("name", "Siti binti Rahman"),
        ("email", "siti.rahman@gmail.com"),
        ("phone", "012-345 6789"),
        ("company", COMPANY),
        ("city", CITY),
    ])
    .await
}

#[actix_web::test]
async fn each_kind_of_duplicate_is_found_with_its_reason() {
    let app = app_as_admin().await;
    let original = siti(&app).await;
    let mailbox = app
        .contact_id(&[("name", "Siti R."), ("email", "sitirahman+shop@gmail.com")])
        .await;
    let phone = app.contact_id(&[("name", "012-345 6789"), ("city", "Kuantan")]).await;
    let handle = app
        .contact_id(&[("name", "@Siti_Rahman"), ("company", "MAJU TRADING"), ("city", CITY)])
        .await;
    let typo = app
        .contact_id(&[("name", "Siti binti Rahmam"), ("company", COMPANY), ("city", CITY)])
        .await;

    let (score, reason) = pair_of(&app, original, mailbox).expect("same mailbox found");
    assert_eq!(score, 970);
    assert_eq!(
        reason,
        "Same mailbox: siti.rahman@gmail.com and sitirahman+shop@gmail.com reach the same inbox"
    );
    let (score, reason) = pair_of(&app, original, phone).expect("phone in a name found");
    assert_eq!(score, 950);
    assert_eq!(
        reason,
        "The phone number of Siti binti Rahman (+60123456789) is written in the name “012-345 6789”"
    );
    let (score, reason) = pair_of(&app, original, handle).expect("handle found");
    assert_eq!(score, 920);
    assert_eq!(
        reason,
        "Same name written differently (“Siti binti Rahman” and “@Siti_Rahman”), same company and city"
    );
    let (score, reason) = pair_of(&app, original, typo).expect("typo found");
    assert_eq!(score, 860);
    assert_eq!(
        reason,
        "Names one letter apart (“Siti binti Rahman” and “Siti binti Rahmam”), same company and city"
    );

    // The page lists them strongest first, each with a merge link.
    let (status, html) = app.page("/contacts/duplicates").await;
    assert_eq!(status, StatusCode::OK);
    let at = |needle: &str| html.find(needle).unwrap_or_else(|| panic!("page shows {needle}"));
    assert!(at("Same mailbox") < at("The phone number of") && at("The phone number of") < at("written differently"));
    assert!(at("written differently") < at("one letter apart"));
    assert!(html.contains(&format!("/contacts/{original}/merge?other={mailbox}")));
    assert!(html.contains("@Siti_Rahman"), "both contacts are named");
}

#[actix_web::test]
async fn strangers_are_not_paired() {
    let app = app_as_admin().await;
    siti(&app).await;
    for fields in [
        // Another father's name, same company and city.
        [("name", "Siti binti Osman"), ("company", COMPANY), ("city", CITY)],
        // The same name written differently, at another company.
        [
            ("name", "siti.rahman"),
            ("company", "Sinar Motor Sdn Bhd"),
            ("city", CITY),
        ],
        // Another person altogether.
        [("name", "Tan Wei Ming"), ("company", COMPANY), ("city", CITY)],
        // A mailbox that differs by a dot outside Gmail is another mailbox.
        [
            ("name", "Ahmad"),
            ("email", "s.itirahman@yahoo.com"),
            ("city", "Kuching"),
        ],
    ] {
        app.contact_id(&fields).await;
    }
    assert_eq!(pairs(&app), vec![], "no pair among strangers");
}

#[actix_web::test]
async fn editing_a_contact_updates_its_pairs_and_deleting_removes_them() {
    let app = app_as_admin().await;
    let original = siti(&app).await;
    let handle = app
        .contact_id(&[("name", "siti.rahman"), ("company", COMPANY), ("city", CITY)])
        .await;
    assert_eq!(pair_of(&app, original, handle).map(|p| p.0), Some(920));

    let edit = |company: &'static str| {
        let app = &app;
        async move {
            let res = app
                .submit(
                    &format!("/contacts/{handle}/edit"),
                    &format!("/contacts/{handle}"),
                    &[("name", "siti.rahman"), ("company", company), ("city", CITY)],
                )
                .await;
            assert_eq!(res.status(), StatusCode::SEE_OTHER, "edit saved");
        }
    };
    edit("Sinar Motor Sdn Bhd").await;
    assert_eq!(
        pair_of(&app, original, handle),
        None,
        "another company: no longer a pair"
    );
    edit(COMPANY).await;
    assert_eq!(pair_of(&app, original, handle).map(|p| p.0), Some(920), "back again");

    assert!(keys_of(&app, handle) > 0);
    let res = app
        .submit(
            &format!("/contacts/{handle}/delete"),
            &format!("/contacts/{handle}/delete"),
            &[],
        )
        .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER, "deleted");
    assert_eq!(pairs(&app), vec![], "the deleted contact's pairs are gone");
    assert_eq!(keys_of(&app, handle), 0, "and its keys");
    assert!(keys_of(&app, original) > 0, "the other keeps its keys");
}

#[actix_web::test]
async fn the_page_is_for_leads_and_admins() {
    let app = app_as_admin().await;
    app.add_user("agent@example.com", "Alif Agent", Role::Agent);
    app.add_user("lead@example.com", "Lina Lead", Role::Lead);
    let agent = app.login_as("agent@example.com").await;
    let lead = app.login_as("lead@example.com").await;
    assert_eq!(agent.page("/contacts/duplicates").await.0, StatusCode::FORBIDDEN);
    assert_eq!(lead.page("/contacts/duplicates").await.0, StatusCode::OK);
    let (_, list) = agent.page("/contacts").await;
    assert!(!list.contains("/contacts/duplicates"), "agents get no link");
    let (_, list) = lead.page("/contacts").await;
    assert!(list.contains("href=\"/contacts/duplicates\""), "leads do");
    assert_eq!(
        lead.page("/contacts/duplicates?after=nonsense").await.0,
        StatusCode::BAD_REQUEST
    );
}

fn draft(name: &str, email: &str, company: &str, city: &str) -> ContactDraft {
    let input = ContactInput {
        name: name.into(),
        email: email.into(),
        company: company.into(),
        city: city.into(),
        ..ContactInput::default()
    };
    ContactDraft::parse(&input, phonenumber::country::Id::MY, &[]).expect("valid draft")
}

/// Seeds `n` contacts plus `percent`% planted duplicates, then rebuilds.
fn seed_with_duplicates(conn: &mut AnyConnection, n: u64, percent: f64) -> u64 {
    seed::seed_contacts(conn, n, None, |_| {}).expect("seed");
    let planted = seed::plant_duplicates(conn, percent, n).expect("plant");
    duplicates::rebuild(conn, |_| {}).expect("rebuild");
    planted
}

#[actix_web::test]
async fn rebuild_agrees_with_refresh() {
    let app = app_as_admin().await;
    let actor = app.with_db(|c| leadbook::service::users::find_by_email(c, "admin@example.com").expect("admin"));
    let names = [
        ("Siti binti Rahman", "siti.rahman@gmail.com", COMPANY, CITY),
        ("siti.rahman", "", COMPANY, CITY),
        ("Siti binti Rahmam", "", COMPANY, CITY),
        ("SITI BINTI RAHMAN", "sitirahman+x@googlemail.com", "", "Kuantan"),
        ("Siti binti Rahman", "", COMPANY, CITY),
        ("Tan Wei Ming", "", COMPANY, CITY),
        ("Tan Wei Minh", "", COMPANY, ""),
        ("Lim Mei Ling", "", "", CITY),
        ("Lim Mei Lingg", "", "", CITY),
    ];
    app.with_db(|c| {
        for (name, email, company, city) in names {
            contact_service::create(c, &actor, &draft(name, email, company, city), StatusSource::Manual)
                .expect("created");
        }
    });
    // Edited after its pairs were found: refresh must forget the old ones.
    app.with_db(|c| {
        let tan = contact_service::create(
            c,
            &actor,
            &draft("Tan Wei Ming", "", COMPANY, "Ipoh"),
            StatusSource::Manual,
        )
        .expect("created");
        contact_service::update(
            c,
            &actor,
            tan.id,
            &draft("Wong Kah Wai", "", COMPANY, "Ipoh"),
            StatusSource::Manual,
        )
        .expect("updated");
    });
    let incremental = pairs(&app);
    assert!(
        incremental.len() >= 8,
        "a good number of pairs to compare: {incremental:?}"
    );
    let keys = |app: &TestApp| -> Vec<(i32, i64)> {
        app.with_db(|c| {
            contact_match_keys::table
                .order((contact_match_keys::contact_id, contact_match_keys::key_hash))
                .select((contact_match_keys::contact_id, contact_match_keys::key_hash))
                .load(c)
                .expect("keys")
        })
    };
    let incremental_keys = keys(&app);
    let stats = app.with_db(|c| duplicates::rebuild(c, |_| {}).expect("rebuild"));
    assert_eq!(stats.contacts, names.len() as u64 + 1);
    assert_eq!(stats.pairs, incremental.len() as u64);
    assert_eq!(pairs(&app), incremental, "rebuild finds what refresh found");
    assert_eq!(keys(&app), incremental_keys);
}

#[actix_web::test]
async fn look_alikes_suggest_a_merge_without_writing() {
    let app = app_as_admin().await;
    let original = siti(&app).await;
    let before = pairs(&app);
    let draft = Fields {
        name: "siti.rahman",
        company: Some("Maju Trading"),
        city: Some("ipoh"),
        ..Fields::default()
    };
    let found = app.with_db(|c| duplicates::look_alikes(c, draft, None).expect("look-alikes"));
    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!(found[0].0, original);
    assert_eq!(found[0].1, "Siti binti Rahman");
    assert!(
        found[0].2.starts_with("Same name written differently"),
        "{}",
        found[0].2
    );
    let itself = Fields {
        name: "Siti binti Rahman",
        email: Some("siti.rahman@gmail.com"),
        company: Some(COMPANY),
        city: Some(CITY),
        ..Fields::default()
    };
    let found = app.with_db(|c| duplicates::look_alikes(c, itself, Some(original)).expect("look-alikes"));
    assert_eq!(found, vec![], "a contact does not look like itself");
    assert_eq!(pairs(&app), before, "nothing written");
}

#[actix_web::test]
async fn seeded_duplicates_are_found_and_paged_strongest_first() {
    let app = app_as_admin().await;
    let planted = app.with_db(|c| seed_with_duplicates(c, 3_000, 4.0));
    assert_eq!(planted, 120);
    let recall = app.with_db(|c| duplicates::recall(c, 1_000).expect("recall"));
    assert_eq!(recall.planted, 120);
    assert_eq!(recall.by_kind.len(), 4, "every kind planted: {:?}", recall.by_kind);
    assert!(
        recall.found * 100 >= recall.planted * 95,
        "recall {} of {}: {:?}",
        recall.found,
        recall.planted,
        recall.by_kind
    );

    // The whole table, page by page, in order, each pair once.
    let total = pairs(&app).len();
    let mut seen = Vec::new();
    let mut after = None;
    loop {
        let page = app.with_db(|c| duplicates::page(c, after, 97).expect("page"));
        let Some(last) = page.last() else { break };
        after = Some(last.cursor());
        seen.extend(page.iter().map(|p| p.cursor()));
    }
    assert_eq!(seen.len(), total);
    assert!(seen.windows(2).all(|w| w[0] > w[1]), "strictly descending");

    // Through the page: 50 at a time, the next link continues.
    let (_, first) = app.page("/contacts/duplicates").await;
    let next = first
        .split("rel=\"next\"")
        .next()
        .and_then(|head| head.rsplit("href=\"").next())
        .and_then(|tail| tail.split('"').next())
        .expect("a next link")
        .replace("&amp;", "&");
    let (c, o) = (seen[49].1, seen[49].2);
    assert!(next.ends_with(&format!(".{c}.{o}")), "{next}");
    let (status, second) = app.page(&next).await;
    assert_eq!(status, StatusCode::OK);
    let link = |(_, c, o): (i32, i32, i32)| format!("/contacts/{c}/merge?other={o}");
    assert!(second.contains(&link(seen[50])) && !second.contains(&link(seen[49])));
    assert!(first.contains(&link(seen[0])) && !first.contains(&link(seen[50])));
}

#[actix_web::test]
async fn a_database_without_keys_is_rebuilt_in_the_background_on_start() {
    let app = spawn_app().await;
    app.with_db(|c| {
        seed::seed_contacts(c, 500, None, |_| {}).expect("seed");
        seed::plant_duplicates(c, 4.0, 500).expect("plant")
    });
    assert_eq!(pairs(&app).len(), 0, "the seed alone writes no pairs");
    let restarted = app.another_instance(&[]);
    let mut waited = 0;
    while pairs(&restarted).is_empty() {
        assert!(waited < 200, "no pairs after 20 s");
        std::thread::sleep(std::time::Duration::from_millis(100));
        waited += 1;
    }
    let recall = restarted.with_db(|c| duplicates::recall(c, 1_000).expect("recall"));
    assert_eq!(recall.planted, 20);
    assert!(recall.found >= 19, "{recall:?}");
}

#[actix_web::test]
async fn a_customer_writing_from_instagram_under_a_handle_is_paired_with_their_contact() {
    let app = app_as_admin().await;
    let original = siti(&app).await;
    let token = app.token_for("admin@example.com");
    let (status, inbox) = send(
        &app,
        reqwest::Method::POST,
        "/inboxes",
        &token,
        Some(serde_json::json!({"name": "Instagram", "channel": "instagram", "delivery": {"kind": "sandbox"}})),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{inbox}");
    let (status, received) = send(
        &app,
        reqwest::Method::POST,
        &format!("/inboxes/{}/messages", inbox["id"]),
        &token,
        Some(serde_json::json!({"source_id": "1784000111", "name": "siti.rahman", "body": "Hi! Is the promo on?"})),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{received}");
    let new = received["contact_id"].as_i64().unwrap() as i32;
    let (score, reason) = pair_of(&app, original, new).expect("the handle is found");
    assert_eq!(score, 720);
    assert_eq!(
        reason,
        "Same name written differently (“Siti binti Rahman” and “siti.rahman”), nothing else known"
    );
    // The same name typed identically, with nothing else, is not evidence.
    let same = app.contact_id(&[("name", "Siti binti Rahman")]).await;
    assert_eq!(pair_of(&app, original, same), None);
}

#[actix_web::test]
async fn an_import_finds_the_pairs_a_rebuild_finds() {
    use leadbook::service::import::{self, ImportOptions};
    let app = app_as_admin().await;
    let actor = app.with_db(|c| leadbook::service::users::find_by_email(c, "admin@example.com").expect("admin"));
    app.with_db(|c| {
        contact_service::create(
            c,
            &actor,
            &draft("Siti binti Rahman", "siti.rahman@gmail.com", COMPANY, CITY),
            StatusSource::Manual,
        )
        .expect("created")
    });
    // Pairs among the file's own rows and with the contact already there;
    // each row has an identifier, since an import needs a key.
    let file = format!(
        "name,email,identifier,company,city\n\
         siti.rahman,,ig-1,{COMPANY},{CITY}\n\
         Siti binti Rahmam,,ig-2,{COMPANY},{CITY}\n\
         SITI BINTI RAHMAN,sitirahman+x@googlemail.com,ig-3,,Kuantan\n\
         Tan Wei Ming,,ig-4,{COMPANY},{CITY}\n\
         Tan Wei Minh,,ig-5,{COMPANY},\n\
         Lim Mei Ling,,ig-6,,{CITY}\n\
         Lim Mei Lingg,,ig-7,,{CITY}\n"
    );
    let options = ImportOptions::default();
    let done = app.with_db(|c| {
        let id = import::start(c, &actor, &options).expect("started");
        import::check(
            c,
            id,
            file.as_bytes(),
            &options,
            phonenumber::country::Id::MY,
            |_, _, _| {},
        )
        .expect("checked");
        import::begin_commit(c, &actor, id).expect("begun");
        import::commit(c, &actor, id, phonenumber::country::Id::MY, |_, _| {}).expect("committed")
    });
    assert_eq!(done.counts.to_string(), "created 7, updated 0, skipped 0, rejected 0");
    // The new contacts wait in the finder's backlog until it catches up.
    assert_eq!(app.with_db(|c| duplicates::backlog(c).expect("counted")), 7);
    assert!(pairs(&app).is_empty(), "no pairs before the catch-up");
    let keyed = app.with_db(|c| duplicates::catch_up(c, |_| {}).expect("caught up"));
    assert_eq!(keyed, 7);
    assert_eq!(app.with_db(|c| duplicates::backlog(c).expect("counted")), 0);
    let imported = pairs(&app);
    assert!(imported.len() >= 5, "the import found pairs: {imported:?}");
    app.with_db(|c| duplicates::rebuild(c, |_| {}).expect("rebuilt"));
    assert_eq!(
        pairs(&app),
        imported,
        "a rebuild finds exactly the pairs the import found"
    );
}
