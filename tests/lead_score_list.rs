//! The lead score exposed, on the backend `TEST_DATABASE_URL` picks: in the
//! contact JSON (0–1, null when none), in the export (three decimals, empty
//! when none; import ignores it), in the OpenAPI description, and as the
//! list's `sort=score` on the pages and in the API, the unscored contacts
//! last in either order and every contact shown once across the pages.

mod common;
use common::*;

use diesel::prelude::*;
use leadbook::db::schema::{contact_scores, contacts};
use leadbook::service::contacts::ContactInput;
use leadbook::service::status::StatusSource;
use leadbook::service::users::{Actor, Role};
use reqwest::{Method, StatusCode};
use scraper::{Html, Selector};
use serde_json::Value;

// ---------------------------------------------------------------- fixtures

/// An app whose own client is signed in as the admin, with a lead who
/// creates the fixtures and the admin's API token.
async fn team() -> (TestApp, Actor, String) {
    let app = spawn_app().await;
    app.setup_admin().await;
    let lead = app.add_user("lee@example.com", "Lee Lead", Role::Lead);
    let token = app.token_for("admin@example.com");
    (app, lead, token)
}

fn add_contacts(app: &TestApp, actor: &Actor, inputs: &[ContactInput]) -> Vec<i32> {
    add_contacts_from(app, actor, inputs, StatusSource::Manual)
}

/// Writes scores (per mille, as the model does) straight into the table.
fn set_scores(app: &TestApp, scores: &[(i32, Option<i32>)]) {
    app.with_db(|c| {
        for (id, score) in scores {
            let one = contact_scores::table.find(*id);
            diesel::delete(one).execute(c).expect("score cleared");
            if let Some(score) = score {
                diesel::insert_into(contact_scores::table)
                    .values((contact_scores::contact_id.eq(*id), contact_scores::score.eq(*score)))
                    .execute(c)
                    .expect("score set");
            }
        }
    });
}

fn stored_scores(app: &TestApp) -> Vec<(i32, Option<i32>)> {
    app.with_db(|c| {
        contacts::table
            .left_join(contact_scores::table)
            .order(contacts::id)
            .select((contacts::id, contact_scores::score.nullable()))
            .load(c)
            .expect("scores")
    })
}

/// 120 contacts: 70 scored (ties, 0, 0.001, 0.734, 1) and 50 without a
/// score, mixed in ID order, so pages of 50 cross from the scored to the
/// unscored in the middle of page 2 and page 3 starts among the unscored.
/// Returns every contact's ID and score.
fn hundred_and_twenty(app: &TestApp, lead: &Actor) -> Vec<(i32, Option<i32>)> {
    let inputs: Vec<ContactInput> = (0..120).map(|i| named(&format!("Contact {i}"))).collect();
    let ids = add_contacts(app, lead, &inputs);
    let scores: Vec<(i32, Option<i32>)> = ids
        .iter()
        .enumerate()
        .map(|(i, id)| {
            let score = match i {
                _ if i % 12 < 5 => None,
                5 => Some(734),
                6 => Some(1),
                7 => Some(1000),
                8 => Some(0),
                // Few distinct values: many ties, which page by ID.
                _ => Some(((i * 7) % 11) as i32 * 100),
            };
            (*id, score)
        })
        .collect();
    assert_eq!(scores.iter().filter(|(_, s)| s.is_some()).count(), 70);
    set_scores(app, &scores);
    scores
}

/// The order the list should show contacts in: by score then ID, both in
/// the chosen direction, the unscored last (by ID, in that direction too).
fn expected_order(all: &[(i32, Option<i32>)], asc: bool) -> Vec<i32> {
    let (mut scored, mut unscored): (Vec<_>, Vec<_>) = all.iter().copied().partition(|(_, s)| s.is_some());
    scored.sort_by_key(|&(id, s)| (s, id));
    unscored.sort_by_key(|&(id, _)| id);
    if !asc {
        scored.reverse();
        unscored.reverse();
    }
    scored.iter().chain(&unscored).map(|(id, _)| *id).collect()
}

/// Every ID once, none missing, in `expected`'s order.
fn assert_each_once(seen: &[i32], expected: &[i32], what: &str) {
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
        "{what}: contacts {repeated:?} shown more than once and {missing:?} never"
    );
    assert_eq!(seen, expected, "{what}: in the list's order");
}

// ------------------------------------------------------------ the pages

fn sel(css: &str) -> Selector {
    Selector::parse(css).unwrap_or_else(|e| panic!("selector {css}: {e:?}"))
}

#[actix_web::test]
async fn the_list_pages_by_lead_score_with_the_unscored_last_both_ways() {
    let (app, lead, _) = team().await;
    let all = hundred_and_twenty(&app, &lead);
    for (order, asc) in [("desc", false), ("asc", true)] {
        let query = format!("/contacts?sort=score&order={order}");
        let expected = expected_order(&all, asc);
        let (forward, backward) = walk_pages(&app, &query).await;
        let sizes: Vec<usize> = forward.iter().map(Vec::len).collect();
        assert_eq!(sizes, [50, 50, 20], "{query}: pages of 50");
        assert_each_once(&forward.concat(), &expected, &format!("{query}, Next links"));
        assert_eq!(backward, forward, "{query}: Previous leads back through the same pages");
    }
    // Highest first (the closest lookalikes), the unscored last.
    let html = list_page(&app, "/contacts?sort=score&order=desc").await;
    let score_of = |id: i32| all.iter().find(|(i, _)| *i == id).unwrap().1;
    let ids = listed_ids(&html);
    assert_eq!(score_of(ids[0]), Some(1000));
    let html = list_page(&app, "/contacts?sort=score&order=asc").await;
    let ids = listed_ids(&html);
    assert_eq!((score_of(ids[0]), score_of(ids[1])), (Some(0), Some(0)));
}

#[actix_web::test]
async fn the_list_offers_the_lead_score_sort_and_shows_the_score() {
    let (app, lead, _) = team().await;
    let ids = add_contacts(&app, &lead, &[named("Scored Siti"), named("Unscored Umar")]);
    set_scores(&app, &[(ids[0], Some(734)), (ids[1], None)]);

    let html = list_page(&app, "/contacts").await;
    let doc = Html::parse_document(&html);
    let header = doc
        .select(&sel("table.contacts thead th a"))
        .find(|a| a.text().collect::<String>().contains("Lead score"))
        .expect("a Lead score column header");
    let href = header.value().attr("href").expect("href");
    assert!(
        href.contains("sort=score") && href.contains("order=asc"),
        "every header sorts ascending on the first click: {href}"
    );
    let cells: Vec<String> = doc
        .select(&sel("table.contacts tbody td[data-label=\"Lead score\"]"))
        .map(|td| td.text().collect::<String>().trim().to_string())
        .collect();
    let mut sorted = cells.clone();
    sorted.sort();
    assert_eq!(sorted, ["73%", "Not scored"], "{cells:?}");

    // Chosen, it says so, and clicking again reverses it.
    let html = list_page(&app, "/contacts?sort=score&order=desc").await;
    assert_eq!(listed_ids(&html), ids, "0.734 first, the unscored last");
    let doc = Html::parse_document(&html);
    let th = doc
        .select(&sel("table.contacts thead th"))
        .find(|th| th.text().collect::<String>().contains("Lead score"))
        .expect("header");
    assert_eq!(th.value().attr("aria-sort"), Some("descending"));
    let again = th.select(&sel("a")).next().unwrap().value().attr("href").unwrap();
    assert!(again.contains("order=asc"), "{again}");
    let html = list_page(&app, "/contacts?sort=score&order=asc").await;
    assert_eq!(listed_ids(&html), ids, "ascending too, the unscored stay last");

    // A cursor of another sort (a name cursor) is refused, not misread.
    use base64::Engine;
    let by_name = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(format!("f{}:tScored Siti", ids[0]));
    let (status, _) = app.page(&format!("/contacts?sort=score&cursor={by_name}")).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (status, _) = app.page("/contacts?sort=bogus").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
}

// -------------------------------------------------------------- the API

fn api_path(pairs: &[(&str, &str)]) -> String {
    let query = url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(pairs)
        .finish();
    format!("/contacts?{query}")
}

fn ids_of(page: &Value) -> Vec<i32> {
    page["data"]
        .as_array()
        .unwrap_or_else(|| panic!("a page has data: {page}"))
        .iter()
        .map(|c| c["id"].as_i64().expect("id") as i32)
        .collect()
}

/// Pages through `sort=score&order=…` with `limit`; returns each page's IDs.
async fn walk_api(app: &TestApp, token: &str, order: &str, limit: usize) -> Vec<Vec<i32>> {
    walk_api_filtered(app, token, &[], order, limit).await
}

/// As `walk_api`, with the list's filters `extra` too.
async fn walk_api_filtered(
    app: &TestApp,
    token: &str,
    extra: &[(&str, &str)],
    order: &str,
    limit: usize,
) -> Vec<Vec<i32>> {
    let limit_text = limit.to_string();
    let mut pages = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let mut pairs = vec![("sort", "score"), ("order", order), ("limit", limit_text.as_str())];
        pairs.extend_from_slice(extra);
        if let Some(c) = &cursor {
            pairs.push(("cursor", c));
        }
        let (status, page) = send(app, Method::GET, &api_path(&pairs), token, None).await;
        assert_eq!(status, StatusCode::OK, "{page}");
        for c in page["data"].as_array().unwrap() {
            assert!(
                c["lead_score"].is_null() || c["lead_score"].as_f64().is_some_and(|s| (0.0..=1.0).contains(&s)),
                "lead_score is null or 0–1: {c}"
            );
        }
        pages.push(ids_of(&page));
        assert!(pages.len() <= 3_000, "the cursors never end");
        match &page["next_cursor"] {
            Value::Null => break,
            Value::String(next) => {
                assert_eq!(pages.last().unwrap().len(), limit, "only the last page is short");
                cursor = Some(next.clone());
            }
            other => panic!("next_cursor is a string or null: {other}"),
        }
    }
    pages
}

#[actix_web::test]
async fn the_api_pages_by_lead_score_with_the_unscored_last_both_ways() {
    let (app, lead, token) = team().await;
    let all = hundred_and_twenty(&app, &lead);
    // 7 and 10 divide the 70 scored: a page ends exactly on the last scored
    // contact, and the next starts the unscored from that cursor; 13 and 50
    // cross the boundary inside a page; 1 reads one contact at a time.
    for limit in [1, 7, 10, 13, 50, 200] {
        for (order, asc) in [("desc", false), ("asc", true)] {
            let pages = walk_api(&app, &token, order, limit).await;
            assert_eq!(pages.len(), 120usize.div_ceil(limit), "limit {limit}, {order}");
            assert_each_once(
                &pages.concat(),
                &expected_order(&all, asc),
                &format!("API sort=score&order={order}&limit={limit}"),
            );
        }
    }
    // The default order is descending.
    let (_, page) = send(&app, Method::GET, "/contacts?sort=score&limit=3", &token, None).await;
    assert_eq!(ids_of(&page), expected_order(&all, false)[..3]);

    // A cursor from another sort is refused, naming `cursor`.
    let (_, by_name) = send(&app, Method::GET, "/contacts?sort=name&limit=2", &token, None).await;
    let cursor = by_name["next_cursor"].as_str().expect("cursor").to_string();
    let (status, err) = send(
        &app,
        Method::GET,
        &api_path(&[("sort", "score"), ("cursor", &cursor)]),
        &token,
        None,
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{err}");
    assert!(err.to_string().contains("cursor"), "{err}");
    // An unknown sort names the choices, score among them.
    let (status, err) = send(&app, Method::GET, "/contacts?sort=lookalike", &token, None).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(err.to_string().contains("activity, score or owner"), "{err}");
}

/// More scored contacts pass the filter than the list reads out whole
/// (2,000), so the list walks the score index in steps and keeps those the
/// filter passes; the result must be the same order as for a narrow list.
#[actix_web::test]
async fn a_broad_filtered_list_by_score_walks_the_score_index_in_order() {
    let (app, _, token) = team().await;
    let now = chrono::Utc::now().naive_utc();
    let all: Vec<(i32, i32, Option<i32>)> = app.with_db(|c| {
        let rows: Vec<_> = (0..3_000)
            .map(|i| {
                (
                    contacts::name.eq(format!("Broad {i}")),
                    // Every seventh is Won, which the filter leaves out.
                    contacts::status_id.eq(if i % 7 == 0 { 6 } else { 1 }),
                    contacts::created_at.eq(now),
                    contacts::updated_at.eq(now),
                )
            })
            .collect();
        c.transaction::<_, diesel::result::Error, _>(|c| {
            // One by one: the two-backend connection has no batch insert.
            for row in rows {
                diesel::insert_into(contacts::table).values(row).execute(c)?;
            }
            Ok(())
        })
        .expect("contacts");
        let ids: Vec<(i32, i32)> = contacts::table
            .order(contacts::id)
            .select((contacts::id, contacts::status_id))
            .load(c)
            .expect("ids");
        ids.iter()
            .enumerate()
            .map(|(i, &(id, status))| (id, status, (i % 10 != 0).then_some(((i * 37) % 1001) as i32)))
            .collect()
    });
    let scores: Vec<(i32, Option<i32>)> = all.iter().map(|&(id, _, s)| (id, s)).collect();
    app.with_db(|c| {
        let rows: Vec<_> = scores
            .iter()
            .filter_map(|&(id, s)| s.map(|s| (contact_scores::contact_id.eq(id), contact_scores::score.eq(s))))
            .collect();
        c.transaction::<_, diesel::result::Error, _>(|c| {
            // One by one: the two-backend connection has no batch insert.
            for row in rows {
                diesel::insert_into(contact_scores::table).values(row).execute(c)?;
            }
            Ok(())
        })
        .expect("scores");
    });
    let new: Vec<(i32, Option<i32>)> = all
        .iter()
        .filter(|(_, st, _)| *st == 1)
        .map(|&(id, _, s)| (id, s))
        .collect();
    assert!(
        new.iter().filter(|(_, s)| s.is_some()).count() > 2_000,
        "broad enough to walk the index"
    );
    for (order, asc) in [("desc", false), ("asc", true)] {
        for limit in [200, 37] {
            let pages = walk_api_filtered(&app, &token, &[("status_id", "1")], order, limit).await;
            assert_each_once(
                &pages.concat(),
                &expected_order(&new, asc),
                &format!("API status_id=1&sort=score&order={order}&limit={limit}"),
            );
        }
    }
}

#[actix_web::test]
async fn the_contact_json_carries_the_score_as_a_fraction_or_null() {
    let (app, lead, token) = team().await;
    let ids = add_contacts(
        &app,
        &lead,
        &[named("A"), named("B"), named("C"), named("D"), named("E")],
    );
    let scores = [Some(734), None, Some(1000), Some(0), Some(5)];
    set_scores(&app, &ids.iter().copied().zip(scores).collect::<Vec<_>>());
    let want = [Some(0.734), None, Some(1.0), Some(0.0), Some(0.005)];
    for (id, want) in ids.iter().zip(want) {
        let res = app
            .api(Method::GET, &format!("/contacts/{id}"), &token)
            .send()
            .await
            .expect("GET");
        assert_eq!(res.status(), StatusCode::OK);
        let text = res.text().await.unwrap();
        let c: Value = serde_json::from_str(&text).unwrap();
        let object = c.as_object().unwrap();
        assert!(
            object.contains_key("lead_score"),
            "lead_score is present, even null: {c}"
        );
        match want {
            Some(v) => assert_eq!(c["lead_score"].as_f64(), Some(v), "{c}"),
            None => assert!(c["lead_score"].is_null(), "{c}"),
        }
    }
    // As written: three decimals at most, no binary noise.
    let text = app
        .api(Method::GET, &format!("/contacts/{}", ids[0]), &token)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(text.contains("\"lead_score\":0.734"), "{text}");
    // The list carries it too.
    let (_, page) = send(&app, Method::GET, "/contacts?sort=created&order=asc", &token, None).await;
    let listed: Vec<Value> = page["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["lead_score"].clone())
        .collect();
    assert_eq!(
        listed,
        [0.734.into(), Value::Null, 1.0.into(), 0.0.into(), 0.005.into()]
    );
}

#[actix_web::test]
async fn openapi_describes_the_score_and_the_sort() {
    let (app, _, token) = team().await;
    let (status, doc) = send(&app, Method::GET, "/openapi.json", &token, None).await;
    assert_eq!(status, StatusCode::OK);
    let score = &doc["components"]["schemas"]["ContactJson"]["properties"]["lead_score"];
    let types = score["type"]
        .as_array()
        .unwrap_or_else(|| panic!("a type list: {score}"));
    assert!(
        types.contains(&"number".into()) && types.contains(&"null".into()),
        "{score}"
    );
    assert_eq!(score["minimum"].as_f64(), Some(0.0), "{score}");
    assert_eq!(score["maximum"].as_f64(), Some(1.0), "{score}");
    let required = doc["components"]["schemas"]["ContactJson"]["required"]
        .as_array()
        .unwrap();
    assert!(!required.contains(&"lead_score".into()), "nullable, so not required");

    let params = doc["paths"]["/api/v1/contacts"]["get"]["parameters"]
        .as_array()
        .unwrap();
    let sort = params.iter().find(|p| p["name"] == "sort").expect("a sort parameter");
    let sort_schema = &sort["schema"];
    let choices: Vec<&str> = sort_schema["enum"]
        .as_array()
        .unwrap_or_else(|| panic!("sort lists its values: {sort}"))
        .iter()
        .filter_map(Value::as_str)
        .collect();
    assert!(choices.contains(&"score"), "{choices:?}");
    // Every value the description offers is one the list takes.
    for choice in choices {
        let (status, page) = send(&app, Method::GET, &format!("/contacts?sort={choice}"), &token, None).await;
        assert_eq!(status, StatusCode::OK, "sort={choice}: {page}");
    }
}

// ---------------------------------------------------------- the export

#[actix_web::test]
async fn the_export_carries_the_score_with_three_decimals_and_import_ignores_it() {
    let (app, lead, _) = team().await;
    let inputs: Vec<ContactInput> = ["a", "b", "c", "d", "e"]
        .iter()
        .map(|n| ContactInput {
            email: format!("{n}@example.com"),
            ..named(&format!("Person {n}"))
        })
        .collect();
    let ids = add_contacts(&app, &lead, &inputs);
    let scores = [Some(734), None, Some(1000), Some(0), Some(50)];
    set_scores(&app, &ids.iter().copied().zip(scores).collect::<Vec<_>>());

    let res = app.get("/contacts/export.csv").await;
    assert_eq!(res.status(), StatusCode::OK);
    let text = res.text().await.unwrap();
    let rows = csv_rows(&text);
    let column = rows[0]
        .iter()
        .position(|h| h == "lead_score")
        .expect("a lead_score column");
    let id_column = rows[0].iter().position(|h| h == "id").unwrap();
    let cells: Vec<(String, String)> = rows[1..]
        .iter()
        .map(|r| (r[id_column].clone(), r[column].clone()))
        .collect();
    let want: Vec<(String, String)> = ids
        .iter()
        .zip(["0.734", "", "1.000", "0.000", "0.050"])
        .map(|(id, s)| (id.to_string(), s.to_string()))
        .collect();
    assert_eq!(cells, want);

    // Importing the file again changes nothing, the scores included, even
    // after the file's scores are edited.
    let before = stored_scores(&app);
    let edited = text.replace("0.734", "0.999");
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("contacts.csv");
    std::fs::write(&file, edited).unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_leadbook"))
        .args(["import", file.to_str().unwrap()])
        .env("DATABASE_URL", &app.database_url)
        .env("RUST_LOG", "warn")
        .output()
        .expect("leadbook runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout} {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        stdout.lines().last(),
        Some("created 0, updated 0, skipped 5, rejected 0"),
        "{stdout}"
    );
    assert_eq!(stored_scores(&app), before);
}
