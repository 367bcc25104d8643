//! The list's count (issue 24): exact from the kept counts for status and
//! owner filters, counted up to a cap otherwise; the per-status counts
//! within an owner's scope. Run on both backends.

mod common;

use common::*;
use diesel::prelude::*;
use leadbook::db::schema::contacts;
use leadbook::db::AnyConnection;
use leadbook::service::attributes::{self, DefinitionInput};
use leadbook::service::contacts::{self as contact_service, ContactDraft, ContactInput, OwnerChoice};
use leadbook::service::labels;
use leadbook::service::listing::{self, ContactQuery, Cursor, ListTotal, OwnerFilter, COUNT_CAP};
use leadbook::service::status::{LeadStatus, StatusSource};
use leadbook::service::trash;
use leadbook::service::users::{Actor, Role};

const CALLING_CODE: u16 = 60;

struct Team {
    app: TestApp,
    admin: Actor,
    lead: Actor,
    agents: [Actor; 2],
}

async fn team() -> Team {
    let app = spawn_app().await;
    app.setup_admin().await;
    let admin = app.add_user("boss@example.com", "Bo Boss", Role::Admin);
    let lead = app.add_user("lee@example.com", "Lee Lead", Role::Lead);
    let agents = [
        app.add_user("aida@example.com", "Aida Agent", Role::Agent),
        app.add_user("badrul@example.com", "Badrul Agent", Role::Agent),
    ];
    Team {
        app,
        admin,
        lead,
        agents,
    }
}

/// Creates a contact as `actor`: `owner` by user ID (None: unassigned), with
/// custom attribute values by key.
fn create(
    app: &TestApp,
    actor: &Actor,
    name: &str,
    status: LeadStatus,
    owner: Option<i32>,
    custom: &[(&str, &str)],
) -> i32 {
    app.with_db(|c| {
        let defs = attributes::definitions(c).expect("definitions");
        let input = ContactInput {
            status: status.id().to_string(),
            owner: Some(owner.map_or_else(|| "none".to_string(), |id| id.to_string())),
            custom: custom.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect(),
            ..named(name)
        };
        let draft = ContactDraft::parse(&input, phonenumber::country::Id::MY, &defs)
            .unwrap_or_else(|e| panic!("fixture {input:?}: {e:?}"));
        contact_service::create(c, actor, &draft, StatusSource::Manual)
            .expect("created")
            .id
    })
}

fn query(pairs: &[(&str, &str)]) -> ContactQuery {
    ContactQuery::parse(pairs.iter().copied()).unwrap_or_else(|e| panic!("{pairs:?}: {e}"))
}

/// (status, owner) of every live contact, counted by hand.
fn recount(conn: &mut AnyConnection) -> Vec<(LeadStatus, Option<i32>)> {
    contacts::table
        .filter(contacts::deleted_at.is_null())
        .select((contacts::status_id, contacts::owner_id))
        .load::<(i32, Option<i32>)>(conn)
        .expect("contacts")
        .into_iter()
        .map(|(s, o)| (LeadStatus::from_id(s).expect("status"), o))
        .collect()
}

/// Checks `total` and `status_counts_in` against a recount, for every owner
/// scope and a few status filters, as `me`.
fn assert_counts_exact(app: &TestApp, me: i32, others: &[i32], when: &str) {
    app.with_db(|c| {
        let live = recount(c);
        let mut scopes = vec![
            (OwnerFilter::All, None::<Option<i32>>),
            (OwnerFilter::Me, Some(Some(me))),
            (OwnerFilter::Nobody, Some(None)),
        ];
        scopes.extend(others.iter().map(|id| (OwnerFilter::User(*id), Some(Some(*id)))));
        for (owner, wanted) in scopes {
            let in_scope = |o: &Option<i32>| wanted.is_none_or(|w| w == *o);
            let per_status = listing::status_counts_in(c, owner, me).expect("status counts");
            let expected: Vec<(LeadStatus, i64)> = LeadStatus::ALL
                .into_iter()
                .map(|s| (s, live.iter().filter(|(ls, o)| *ls == s && in_scope(o)).count() as i64))
                .collect();
            assert_eq!(per_status, expected, "{when}: status counts of {owner:?}");
            for statuses in [
                vec![],
                vec![LeadStatus::New],
                vec![LeadStatus::Won, LeadStatus::Lost],
                LeadStatus::ALL.to_vec(),
            ] {
                let mut pairs = vec![("owner".to_string(), owner.as_param())];
                pairs.extend(statuses.iter().map(|s| ("status".to_string(), s.id().to_string())));
                let q = ContactQuery::parse(pairs.iter().map(|(k, v)| (k.as_str(), v.as_str()))).unwrap();
                let want = live
                    .iter()
                    .filter(|(s, o)| in_scope(o) && (statuses.is_empty() || statuses.contains(s)))
                    .count() as i64;
                let total = listing::total(c, &q, me, CALLING_CODE).expect("total");
                assert_eq!(total, ListTotal::Exact(want), "{when}: {pairs:?}");
                // What the kept counts say is what the list holds.
                let listed = listing::matching_ids(c, &q, me, CALLING_CODE).expect("ids").len() as i64;
                assert_eq!(listed, want, "{when}: {pairs:?} lists");
            }
        }
    });
}

#[actix_web::test]
async fn kept_counts_are_exact_by_status_owner_both_and_unassigned() {
    let t = team().await;
    let [aida, badrul] = [t.agents[0].id, t.agents[1].id];
    let others = [badrul, t.lead.id];
    assert_counts_exact(&t.app, aida, &others, "empty");

    let mut ids = Vec::new();
    for (i, status) in LeadStatus::ALL.into_iter().cycle().take(30).enumerate() {
        let owner = [Some(aida), Some(badrul), None, Some(t.lead.id)][i % 4];
        ids.push(create(&t.app, &t.lead, &format!("Contact {i}"), status, owner, &[]));
    }
    assert_counts_exact(&t.app, aida, &others, "after creating");

    t.app.with_db(|c| {
        for id in &ids[..6] {
            contact_service::set_status(c, Some(&t.lead), *id, LeadStatus::Won, StatusSource::Manual).unwrap();
        }
    });
    assert_counts_exact(&t.app, aida, &others, "after status changes");

    t.app.with_db(|c| {
        contact_service::assign(c, &t.lead, ids[0], OwnerChoice::User(badrul)).unwrap();
        contact_service::assign(c, &t.lead, ids[1], OwnerChoice::Nobody).unwrap();
        contact_service::assign(c, &t.lead, ids[2], OwnerChoice::User(aida)).unwrap();
    });
    assert_counts_exact(&t.app, aida, &others, "after assignments");

    t.app.with_db(|c| {
        for id in &ids[3..9] {
            trash::delete(c, &t.lead, *id).unwrap();
        }
    });
    assert_counts_exact(&t.app, aida, &others, "after trashing");
    // Status changes of a trashed contact count nowhere.
    t.app.with_db(|c| {
        diesel::update(contacts::table.find(ids[3]))
            .set(contacts::status_id.eq(LeadStatus::Lost.id()))
            .execute(c)
            .unwrap();
    });
    assert_counts_exact(&t.app, aida, &others, "after a trashed contact's status changed");

    t.app.with_db(|c| {
        trash::restore(c, &t.lead, ids[3]).unwrap();
        trash::restore(c, &t.lead, ids[4]).unwrap();
    });
    assert_counts_exact(&t.app, aida, &others, "after restoring");

    create(&t.app, &t.agents[0], "Made by Aida", LeadStatus::Reach, Some(aida), &[]);
    assert_counts_exact(&t.app, aida, &others, "after one more");
}

#[actix_web::test]
async fn a_count_past_the_cap_says_more_than_the_cap() {
    let t = team().await;
    t.app
        .with_db(|c| labels::create(c, &t.admin, "vip", "#336699").unwrap());
    let ids: Vec<i32> = (0..8)
        .map(|i| create(&t.app, &t.lead, &format!("Capped {i}"), LeadStatus::New, None, &[]))
        .collect();
    t.app.with_db(|c| {
        for id in &ids {
            labels::set_for_contact(c, *id, &["vip".to_string()]).unwrap();
        }
    });
    let me = t.lead.id;
    t.app.with_db(|c| {
        let count = |c: &mut AnyConnection, pairs: &[(&str, &str)], cap: i64| {
            listing::total_capped(c, &query(pairs), me, CALLING_CODE, cap).expect("total")
        };
        for pairs in [
            &[("q", "capped")][..],
            &[("label", "vip")],
            &[("q", "cap"), ("label", "vip")],
        ] {
            assert_eq!(count(c, pairs, 5), ListTotal::AtLeast(5), "{pairs:?}");
            assert_eq!(count(c, pairs, 7), ListTotal::AtLeast(7), "{pairs:?}");
            assert_eq!(count(c, pairs, 8), ListTotal::Exact(8), "{pairs:?}");
            assert_eq!(count(c, pairs, 100), ListTotal::Exact(8), "{pairs:?}");
            assert_eq!(
                listing::total(c, &query(pairs), me, CALLING_CODE).unwrap(),
                ListTotal::Exact(8),
                "{pairs:?} under the real cap"
            );
        }
        assert_eq!(count(c, &[("q", "capped 3")], 5), ListTotal::Exact(1));
        assert_eq!(count(c, &[("q", "nobody")], 5), ListTotal::Exact(0));
        assert_eq!(count(c, &[("label", "missing")], 5), ListTotal::Exact(0));
        // Filters by status and owner only are exact from the kept counts,
        // whatever the cap.
        assert_eq!(count(c, &[("status", "new")], 5), ListTotal::Exact(8));
        assert_eq!(count(c, &[("owner", "none")], 5), ListTotal::Exact(8));
        // The search index still holds trashed contacts: with 3 of the 8 in
        // the trash, 5 are live, which is not more than a cap of 5…
        for id in &ids[..3] {
            trash::delete(c, &t.lead, *id).unwrap();
        }
        assert_eq!(
            count(c, &[("q", "capped")], 5),
            ListTotal::Exact(5),
            "the trash is not counted"
        );
        assert_eq!(count(c, &[("q", "capped")], 4), ListTotal::AtLeast(4));
        // …and one more live match is.
        create(&t.app, &t.lead, "Capped 8", LeadStatus::New, None, &[]);
        assert_eq!(count(c, &[("q", "capped")], 5), ListTotal::AtLeast(5));
        assert_eq!(count(c, &[("q", "capped")], 6), ListTotal::Exact(6));
        for id in &ids[..3] {
            trash::restore(c, &t.lead, *id).unwrap();
        }
        assert_eq!(COUNT_CAP, 1_000);
        // A bad filter is the caller's mistake (4xx), not a server error.
        let err = listing::total(c, &query(&[("attr.nothing", "x")]), me, CALLING_CODE).unwrap_err();
        assert!(actix_web::ResponseError::status_code(&err).is_client_error(), "{err:?}");
    });
}

/// Every ID the list shows for `q`, following its Next cursors (pages of 7).
fn walk(conn: &mut AnyConnection, q: &ContactQuery, me: i32) -> Vec<i32> {
    let mut q = q.clone();
    let mut seen = Vec::new();
    loop {
        let page = listing::page(conn, &q, me, CALLING_CODE, 7).expect("page");
        seen.extend(page.rows.iter().map(|r| r.contact.id));
        match page.next {
            Some(next) => q.cursor = Some(Cursor::decode(&next).expect("cursor")),
            None => return seen,
        }
    }
}

#[actix_web::test]
async fn the_total_is_what_the_list_walks() {
    let t = team().await;
    let [aida, badrul] = [t.agents[0].id, t.agents[1].id];
    t.app.with_db(|c| {
        labels::create(c, &t.admin, "vip", "#336699").unwrap();
        labels::create(c, &t.admin, "cold", "#336699").unwrap();
        for (key, kind, options) in [("plan", "list", vec!["gold", "silver"]), ("budget", "number", vec![])] {
            let input = DefinitionInput {
                key: key.into(),
                display_name: key.into(),
                kind: kind.into(),
                options: options.into_iter().map(String::from).collect(),
                ..Default::default()
            };
            attributes::create(c, &t.admin, &input).expect("attribute");
        }
    });
    let names = [
        "Ismail bin Razak",
        "Siti Rahmah",
        "Razak Hamid",
        "Tan Ah Kow",
        "Nur Aliya",
    ];
    let mut ids = Vec::new();
    for i in 0..40 {
        let plan = ["gold", "silver", ""][i % 3];
        let budget = (i * 250).to_string();
        let mut custom = vec![("budget", budget.as_str())];
        if !plan.is_empty() {
            custom.push(("plan", plan));
        }
        let owner = [Some(aida), Some(badrul), None][i % 3];
        let status = LeadStatus::ALL[i % 7];
        ids.push(create(
            &t.app,
            &t.lead,
            &format!("{} {i}", names[i % 5]),
            status,
            owner,
            &custom,
        ));
    }
    t.app.with_db(|c| {
        for (i, id) in ids.iter().enumerate() {
            let mut held = Vec::new();
            if i % 2 == 0 {
                held.push("vip".to_string());
            }
            if i % 5 == 0 {
                held.push("cold".to_string());
            }
            labels::set_for_contact(c, *id, &held).unwrap();
        }
        trash::delete(c, &t.lead, ids[0]).unwrap();
        trash::delete(c, &t.lead, ids[2]).unwrap();
    });
    t.app.with_db(|c| {
        for pairs in [
            &[][..],
            &[("label", "vip")],
            &[("label", "vip"), ("label", "cold")],
            &[("attr.plan", "gold")],
            &[("attr.plan.set", "0")],
            &[("attr.budget.from", "2500")],
            &[("attr.plan", "silver"), ("label", "vip"), ("owner", "none")],
            &[("q", "razak")],
            &[("q", "razak ismail")],
            &[("q", "ah"), ("status", "1"), ("status", "4")],
            &[("q", "1"), ("owner", "me")],
            &[("owner", "me"), ("status", "won")],
            &[("owner", "none")],
        ] {
            let q = query(pairs);
            let walked = walk(c, &q, aida);
            let total = listing::total(c, &q, aida, CALLING_CODE).expect("total");
            assert_eq!(total, ListTotal::Exact(walked.len() as i64), "{pairs:?}");
            assert_eq!(
                listing::total_capped(c, &q, aida, CALLING_CODE, 3).unwrap(),
                if walked.len() > 3 && !only_status_and_owner(pairs) {
                    ListTotal::AtLeast(3)
                } else {
                    ListTotal::Exact(walked.len() as i64)
                },
                "{pairs:?} capped at 3"
            );
            assert!(
                !walked.contains(&ids[0]) && !walked.contains(&ids[2]),
                "the trash is left out"
            );
        }
    });
}

fn only_status_and_owner(pairs: &[(&str, &str)]) -> bool {
    pairs.iter().all(|(k, _)| *k == "status" || *k == "owner")
}
