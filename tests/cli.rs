//! The command line: configuration errors, migrate, user add and seed, run as
//! the real binary against a fresh database of the backend under test.

mod common;

use std::process::{Command, Output};

use common::*;
use diesel::prelude::*;
use leadbook::db::schema::{contacts, status_history};
use leadbook::service::{listing, users};

fn leadbook(database_url: &str, args: &[&str], password: Option<&str>) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_leadbook"));
    cmd.args(args)
        .env("DATABASE_URL", database_url)
        .env("RUST_LOG", "warn")
        .env_remove("LEADBOOK_PASSWORD");
    if let Some(p) = password {
        cmd.env("LEADBOOK_PASSWORD", p);
    }
    cmd.output().expect("run leadbook")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[test]
fn a_bad_database_url_is_a_clear_error() {
    for (url, names) in [
        ("mysql://root@localhost/x", "mysql"),
        ("postgres:bad", "DATABASE_URL"),
        ("leadbook.db", "leadbook.db"),
    ] {
        let out = leadbook(url, &["migrate"], None);
        assert!(!out.status.success(), "{url} accepted");
        let err = text(&out.stderr);
        assert!(err.contains("DATABASE_URL") && err.contains(names), "{url}: {err}");
    }
}

#[test]
fn migrate_user_add_and_seed_work_on_a_fresh_database() {
    let (url, _guard) = fresh_database();
    let out = leadbook(&url, &["migrate"], None);
    assert!(out.status.success(), "{}", text(&out.stderr));
    // Every migration of the backend, however many there are by now.
    let folder = if backend() == "postgres" { "postgres" } else { "sqlite" };
    let migrations = std::fs::read_dir(format!("{}/migrations/{folder}", env!("CARGO_MANIFEST_DIR")))
        .unwrap()
        .filter(|e| e.as_ref().is_ok_and(|e| e.path().is_dir()))
        .count();
    assert!(
        text(&out.stdout).contains(&format!("applied {migrations} migration(s)")),
        "{}",
        text(&out.stdout)
    );
    let again = leadbook(&url, &["migrate"], None);
    assert!(text(&again.stdout).contains("applied 0 migration(s)"));

    let out = leadbook(
        &url,
        &[
            "user",
            "add",
            "--email",
            "Lead@Example.com",
            "--name",
            "Lee Lead",
            "--role",
            "lead",
        ],
        Some(PASSWORD),
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let out = leadbook(
        &url,
        &[
            "user",
            "add",
            "--email",
            "x@example.com",
            "--name",
            "X",
            "--role",
            "agent",
        ],
        Some("short"),
    );
    assert!(!out.status.success());
    assert!(
        text(&out.stderr).contains("password must be at least 10 characters"),
        "{}",
        text(&out.stderr)
    );
    let out = leadbook(
        &url,
        &[
            "user",
            "add",
            "--email",
            "lead@example.com",
            "--name",
            "Again",
            "--role",
            "agent",
        ],
        Some(PASSWORD),
    );
    assert!(
        text(&out.stderr).contains("email already belongs to a user"),
        "{}",
        text(&out.stderr)
    );

    let out = leadbook(&url, &["token", "new", "--user", "lead@example.com"], None);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let token = text(&out.stdout).trim().to_string();
    assert!(
        token.starts_with("lb_") && !token.contains(' '),
        "the token alone on stdout: {token}"
    );
    let out = leadbook(&url, &["token", "new", "--user", "nobody@example.com"], None);
    assert!(!out.status.success() && text(&out.stderr).contains("nobody@example.com"));

    let out = leadbook(&url, &["seed", "--contacts", "2500"], None);
    assert!(out.status.success(), "{}", text(&out.stderr));

    let db = leadbook::db::DatabaseUrl::parse(&url).unwrap();
    let mut conn = leadbook::db::establish(&db).unwrap();
    let lead = users::authenticate(&mut conn, "lead@example.com", PASSWORD).expect("the added user signs in");
    assert_eq!(lead.role, users::Role::Lead);
    let total: i64 = contacts::table.count().get_result(&mut conn).unwrap();
    assert_eq!(total, 2500);
    let history: i64 = status_history::table.count().get_result(&mut conn).unwrap();
    assert_eq!(history, 2500, "every seeded contact's creation is in its history");
    let counted: i64 = listing::status_counts(&mut conn).unwrap().iter().map(|(_, n)| n).sum();
    assert_eq!(counted, 2500, "the kept counts agree with the table");
    let distinct_phones: i64 = contacts::table
        .filter(contacts::phone.is_not_null())
        .select(diesel::dsl::count(contacts::phone).aggregate_distinct())
        .get_result(&mut conn)
        .unwrap();
    let phones: i64 = contacts::table
        .filter(contacts::phone.is_not_null())
        .count()
        .get_result(&mut conn)
        .unwrap();
    assert_eq!(distinct_phones, phones);
    assert!(phones > 2000, "most seeded contacts have a phone");
}
