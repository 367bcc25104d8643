//! The list's search matches each word anywhere, in any order (issue 24):
//! a contact is found when every word of the search is in its name, e-mail
//! or identifier (or, for a phone-like word, its phone's digits). Run on
//! both backends: SQLite's FTS5 trigram table with a LIKE fallback for short
//! words, PostgreSQL's trigram indexes.

mod common;

use common::*;
use leadbook::service::contacts::ContactInput;
use leadbook::service::users::Role;

/// A fresh app, signed in as the admin, with a lead who makes the fixtures.
async fn app_with(inputs: &[ContactInput]) -> (TestApp, Vec<i32>) {
    let app = spawn_app().await;
    app.setup_admin().await;
    let lead = app.add_user("lee@example.com", "Lee Lead", Role::Lead);
    let ids = add_contacts(&app, &lead, inputs);
    (app, ids)
}

fn add_contacts(app: &TestApp, actor: &leadbook::service::users::Actor, inputs: &[ContactInput]) -> Vec<i32> {
    add_contacts_from(app, actor, inputs, leadbook::service::status::StatusSource::Manual)
}

/// The IDs a search lists, in ID order (the list sorted by creation).
async fn found(app: &TestApp, q: &str) -> Vec<i32> {
    let query = url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs([("q", q), ("sort", "created"), ("order", "asc")])
        .finish();
    listed_ids(&list_page(app, &format!("/contacts?{query}")).await)
}

fn with(name: &str, email: &str, phone: &str, identifier: &str) -> ContactInput {
    ContactInput {
        email: email.into(),
        phone: phone.into(),
        identifier: identifier.into(),
        ..named(name)
    }
}

#[actix_web::test]
async fn every_word_must_match_in_any_order() {
    let (app, ids) = app_with(&[
        named("Ismail bin Razak"),
        named("Razak Hamid"),
        named("Ismail Ahmad"),
        named("Nur Ismalia"),
    ])
    .await;
    let [bin_razak, hamid, ahmad, _] = ids[..] else {
        unreachable!()
    };
    for q in [
        "Ismail Razak",
        "razak ismail",
        "  RAZAK   Ismail  ",
        "ismail bin razak",
        "smai zak",
    ] {
        assert_eq!(found(&app, q).await, [bin_razak], "{q:?}");
    }
    // One word alone still finds every contact holding it.
    assert_eq!(found(&app, "razak").await, [bin_razak, hamid]);
    assert_eq!(found(&app, "ismail").await, [bin_razak, ahmad]);
    // A word that matches nothing leaves nothing, whatever the others match.
    assert!(found(&app, "Ismail Zzz").await.is_empty());
    assert!(found(&app, "zzz razak ismail").await.is_empty());
    // A word repeated counts once.
    assert_eq!(found(&app, "razak RAZAK Razak").await, [bin_razak, hamid]);
}

#[actix_web::test]
async fn words_may_match_different_fields() {
    let (app, ids) = app_with(&[
        with("Siti Rahmah", "siti@kedai.my", "", "CUST-0001"),
        with("Siti Aminah", "aminah@tech.io", "", "CUST-0002"),
        with("Ravi", "ravi@kedai.my", "", ""),
    ])
    .await;
    let [rahmah, aminah, ravi] = ids[..] else {
        unreachable!()
    };
    assert_eq!(found(&app, "siti kedai").await, [rahmah]);
    assert_eq!(found(&app, "kedai siti").await, [rahmah]);
    assert_eq!(found(&app, "siti cust-0002").await, [aminah]);
    assert_eq!(found(&app, "kedai.my").await, [rahmah, ravi]);
    assert!(found(&app, "ravi tech").await.is_empty());
}

#[actix_web::test]
async fn short_words_match_beside_long_ones() {
    let (app, ids) = app_with(&[
        named("Ismail Ng"),
        named("Ng Wei Ling"),
        named("Ismail bin Razak"),
        with("Tan Ah Kow", "ak@example.com", "", ""),
    ])
    .await;
    let [ismail_ng, ng_wei, bin_razak, tan] = ids[..] else {
        unreachable!()
    };
    // A two-letter word with a long one: both must match.
    assert_eq!(found(&app, "ng ismail").await, [ismail_ng]);
    assert_eq!(found(&app, "Ismail NG").await, [ismail_ng]);
    assert_eq!(found(&app, "wei ng").await, [ng_wei]);
    // A one-letter word too ("z" is only in Razak).
    assert_eq!(found(&app, "ismail z").await, [bin_razak]);
    // Only short words: each by itself.
    assert_eq!(found(&app, "ah ko").await, [tan]);
    assert_eq!(found(&app, "ng").await, [ismail_ng, ng_wei]);
    assert!(found(&app, "ng zz").await.is_empty());
    // A short word in another field than the long one.
    assert_eq!(found(&app, "ak tan").await, [tan]);
}

#[actix_web::test]
async fn a_phone_number_with_spaces_is_still_one_search() {
    let (app, ids) = app_with(&[
        with("Aisyah", "", "012-345 6789", ""),
        with("Bala", "", "+60 11-3777 7777", ""),
        with("Aisyah Tan", "", "019-876 5432", ""),
    ])
    .await;
    let [aisyah, bala, aisyah_tan] = ids[..] else {
        unreachable!()
    };
    for (q, who) in [
        ("012-345 6789", aisyah),
        ("012 345 6789", aisyah),
        ("+60 12 345", aisyah),
        ("(012) 345-6789", aisyah),
        ("011-3777 7777", bala),
        ("60198765432", aisyah_tan),
    ] {
        assert_eq!(found(&app, q).await, [who], "{q:?}");
    }
    // A phone-like word beside a name: both must match, the word by its digits.
    assert_eq!(found(&app, "aisyah 2345").await, [aisyah]);
    assert_eq!(found(&app, "Aisyah 019-876").await, [aisyah_tan]);
    assert_eq!(found(&app, "aisyah 6019876").await, [aisyah_tan]);
    assert!(found(&app, "bala 2345").await.is_empty());
    assert!(found(&app, "555 0000").await.is_empty());
}

#[actix_web::test]
async fn the_api_searches_by_words_too() {
    let (app, ids) = app_with(&[named("Ismail bin Razak"), named("Razak Hamid")]).await;
    let token = app.token_for("admin@example.com");
    let (status, body) = send(&app, reqwest::Method::GET, "/contacts?q=razak%20ismail", &token, None).await;
    assert_eq!(status, reqwest::StatusCode::OK, "{body}");
    let listed: Vec<i64> = body["data"]
        .as_array()
        .expect("data")
        .iter()
        .map(|c| c["id"].as_i64().expect("id"))
        .collect();
    assert_eq!(listed, [i64::from(ids[0])]);
}

/// A search matching more than 2,000 contacts reads each row instead of the
/// search index's whole set (SQLite; PostgreSQL plans it itself): the same
/// words, in any order, any case, non-ASCII ones too, find the same people.
#[actix_web::test]
async fn a_broad_search_finds_the_same_people_as_a_narrow_one() {
    let mut inputs: Vec<ContactInput> = (0..2_050)
        .map(|i| {
            with(
                &format!("Zoë binti Razak {i:04}"),
                &format!("zoe{i}@kedai.example.com"),
                "",
                "",
            )
        })
        .collect();
    inputs.push(named("Ismail bin Razak"));
    inputs.push(with("Amir Hamzah", "amir@razak-motors.example.com", "", ""));
    inputs.push(named("Zoë Tan"));
    let (app, ids) = app_with(&inputs).await;
    let (zoes, ismail, amir, zoe_tan) = (&ids[..2_050], ids[2_050], ids[2_051], ids[2_052]);
    // The first page of each, and the count.
    let first = |v: &[i32]| v.iter().take(50).copied().collect::<Vec<_>>();
    let everyone_razak: Vec<i32> = zoes.iter().copied().chain([ismail, amir]).collect();
    assert_eq!(found(&app, "razak").await, first(&everyone_razak), "name or e-mail");
    assert_eq!(found(&app, "RAZAK bin").await, first(&[zoes, &[ismail]].concat()));
    assert_eq!(
        found(&app, "ZOË razak").await,
        first(zoes),
        "non-ASCII word, other case"
    );
    assert_eq!(found(&app, "zoë").await, first(&[zoes, &[zoe_tan]].concat()));
    assert_eq!(found(&app, "razak 0042").await, [zoes[42]], "with a rarer word");
    assert_eq!(found(&app, "razak ismail").await, [ismail]);
    let html = list_page(&app, "/contacts?q=razak").await;
    assert!(html.contains("1–50 of more than 1,000"), "the count stops at the cap");
    let html = list_page(&app, "/contacts?q=razak+motors").await;
    assert!(html.contains("1–1 of 1"), "a narrow count is exact");
}
