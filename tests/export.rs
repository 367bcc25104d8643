//! Export (issue 7, first part) on the backend `TEST_DATABASE_URL` picks:
//! the filtered list as CSV in the import layout, from the page and the
//! command line; formulas neutralised; leads and admins only.

mod common;
use common::*;

use leadbook::service::users::Role;
use reqwest::{Method, StatusCode};
use serde_json::json;

struct Team {
    app: TestApp,
    admin: String,
}

async fn team_with_contacts() -> Team {
    let app = spawn_app().await;
    app.add_user("admin@example.com", "Ada Admin", Role::Admin);
    app.add_user("lead@example.com", "Lee Lead", Role::Lead);
    app.add_user("agent@example.com", "Agnes Agent", Role::Agent);
    let admin = app.token_for("admin@example.com");
    let agent_id = app.with_db(|c| {
        use diesel::prelude::*;
        use leadbook::db::schema::users;
        users::table
            .filter(users::email.eq("agent@example.com"))
            .select(users::id)
            .first::<i32>(c)
            .unwrap()
    });
    for body in [
        json!({"key": "plan", "display_name": "Plan", "type": "list", "options": ["gold", "silver"]}),
        json!({"key": "budget", "display_name": "Budget", "type": "number"}),
    ] {
        let (status, json) = send(&app, Method::POST, "/custom_attributes", &admin, Some(body)).await;
        assert_eq!(status, StatusCode::CREATED, "{json}");
    }
    let (status, _) = send(&app, Method::POST, "/labels", &admin, Some(json!({"name": "vip"}))).await;
    assert_eq!(status, StatusCode::CREATED);
    for body in [
        json!({"name": "Siti Nurhaliza", "email": "siti@example.com", "phone": "+60198765432", "identifier": "shop-3",
               "company": "Kedai Siti", "city": "Ipoh", "country": "MY", "status_id": 3, "owner_id": agent_id,
               "custom_attributes": {"plan": "gold", "budget": 800.5}}),
        json!({"name": "=HYPERLINK(\"http://evil.example\",\"x\")", "email": "formula@example.com", "status_id": 3}),
        json!({"name": "Tan, \"Wei\" Ming", "phone": "+60123456780", "status_id": 1}),
    ] {
        let (status, json) = send(&app, Method::POST, "/contacts", &admin, Some(body)).await;
        assert_eq!(status, StatusCode::CREATED, "{json}");
    }
    let (status, _) = send(
        &app,
        Method::POST,
        "/contacts/1/labels",
        &admin,
        Some(json!({"labels": ["vip"]})),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    Team { app, admin }
}

const HEADER: [&str; 18] = [
    "name",
    "email",
    "phone_number",
    "identifier",
    "company",
    "city",
    "country",
    "status",
    "owner",
    "labels",
    "plan",
    "budget",
    "id",
    "status_id",
    "created_at",
    "updated_at",
    "last_activity_at",
    "lead_score",
];

#[actix_web::test]
async fn the_page_exports_the_filtered_list_in_the_import_layout() {
    let t = team_with_contacts().await;
    let lead = t.app.login_as("lead@example.com").await;
    let (_, list) = lead.page("/contacts?status=3&sort=name&order=asc").await;
    // askama escapes `&` as `&#38;`.
    assert!(
        list.contains("/contacts/export.csv?status=3&#38;owner=all&#38;sort=name&#38;order=asc"),
        "the list links its own filter's export"
    );
    let res = lead.get("/contacts/export.csv?status=3&sort=name&order=asc").await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.headers()["content-type"], "text/csv; charset=utf-8");
    assert!(res.headers()["content-disposition"]
        .to_str()
        .unwrap()
        .contains("contacts.csv"));
    let rows = csv_rows(&res.text().await.unwrap());
    assert_eq!(rows[0], HEADER);
    assert_eq!(rows.len(), 3, "the two Qualified contacts: {rows:?}");
    // Oldest first: Siti, then the formula, neutralised with one quote.
    assert_eq!(rows[2][0], "'=HYPERLINK(\"http://evil.example\",\"x\")");
    let siti = &rows[1];
    assert_eq!(
        siti[..12],
        [
            "Siti Nurhaliza",
            "siti@example.com",
            "+60198765432",
            "shop-3",
            "Kedai Siti",
            "Ipoh",
            "MY",
            "Qualified",
            "agent@example.com",
            "vip",
            "gold",
            "800.5"
        ]
    );
    assert_eq!((siti[12].as_str(), siti[13].as_str()), ("1", "3"));
    assert!(siti[14].ends_with('Z'), "times in UTC: {}", siti[14]);

    // Everyone's, with a quoted name holding a comma and quotes.
    let res = lead.get("/contacts/export.csv").await;
    let rows = csv_rows(&res.text().await.unwrap());
    assert_eq!(rows.len(), 4);
    assert!(rows.iter().any(|r| r[0] == "Tan, \"Wei\" Ming"), "{rows:?}");
    // Each export keeps a record: who, which filter, how many rows.
    let records: Vec<(Option<i32>, String, i64)> = t.app.with_db(|c| {
        use diesel::prelude::*;
        use leadbook::db::schema::exports;
        exports::table
            .order(exports::id)
            .select((exports::user_id, exports::filter, exports::row_count))
            .load(c)
            .expect("exports")
    });
    let lead_id = t.app.with_db(|c| {
        leadbook::service::users::find_by_email(c, "lead@example.com")
            .expect("lead")
            .id
    });
    assert_eq!(
        records,
        [
            (Some(lead_id), "status=3".to_string(), 2),
            (Some(lead_id), String::new(), 3)
        ]
    );

    // A filter that cannot be read is a 400, not a broken file.
    assert_eq!(
        lead.get("/contacts/export.csv?status=99").await.status(),
        StatusCode::BAD_REQUEST
    );
    // Agents do not export.
    let agent = t.app.login_as("agent@example.com").await;
    assert_eq!(agent.get("/contacts/export.csv").await.status(), StatusCode::FORBIDDEN);
    let _ = &t.admin;
}

#[actix_web::test]
async fn the_command_line_exports_by_status_and_label() {
    let t = team_with_contacts().await;
    let run = |args: &[&str]| {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_leadbook"))
            .args(args)
            .env("DATABASE_URL", &t.app.database_url)
            .env("RUST_LOG", "warn")
            .output()
            .expect("leadbook runs");
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        csv_rows(&String::from_utf8(out.stdout).unwrap())
    };
    let all = run(&["export"]);
    assert_eq!(all[0], HEADER);
    assert_eq!(all.len(), 4);
    let qualified_vip = run(&["export", "--status", "qualified", "--label", "vip"]);
    assert_eq!(qualified_vip.len(), 2);
    assert_eq!(qualified_vip[1][0], "Siti Nurhaliza");
    let new = run(&["export", "--status", "1"]);
    assert_eq!(new.len(), 2);
    assert_eq!(new[1][2], "+60123456780");
}
