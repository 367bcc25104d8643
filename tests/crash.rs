//! `kill -9` (issue 11), on the backend `TEST_DATABASE_URL` picks: the
//! server killed during a bulk action or during merges, and `leadbook import`
//! killed during an import. After a restart each bulk action and each merge
//! happened wholly or not at all, and an import run again ends with each
//! row's contact exactly once.
//!
//! Sizes are small here so the suite stays quick; `CRASH_CONTACTS` raises
//! them (docs/hardening.md gives the full-size command).

mod common;
use common::*;

use std::io::Write;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use diesel::prelude::*;
use leadbook::db::schema::{contacts, merges, status_history};

const PASSWORD: &str = "correct horse battery staple";

fn size() -> usize {
    std::env::var("CRASH_CONTACTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(6_000)
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn leadbook(url: &str) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_leadbook"));
    cmd.env("DATABASE_URL", url)
        .env("LEADBOOK_PASSWORD", PASSWORD)
        .env("RUST_LOG", "warn")
        .env("API_RATE_PER_MINUTE", "1000000");
    cmd
}

fn run(url: &str, args: &[&str]) -> String {
    let out = leadbook(url).args(args).output().expect("leadbook runs");
    assert!(
        out.status.success(),
        "leadbook {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// A migrated database with an admin and `n` seeded contacts; the admin's token.
fn prepared(url: &str, n: usize) -> String {
    run(url, &["migrate"]);
    run(
        url,
        &[
            "user",
            "add",
            "--email",
            "ada@example.com",
            "--name",
            "Ada",
            "--role",
            "admin",
        ],
    );
    if n > 0 {
        run(url, &["seed", "--contacts", &n.to_string()]);
    }
    let printed = run(url, &["token", "new", "--user", "ada@example.com"]);
    printed
        .split_whitespace()
        .find(|w| w.len() >= 32)
        .unwrap_or_else(|| panic!("a token in {printed:?}"))
        .to_string()
}

/// `leadbook serve`, answering on the returned port.
fn serve(url: &str) -> (Child, u16) {
    let port = free_port();
    let child = leadbook(url)
        .arg("serve")
        .env("BIND", format!("127.0.0.1:{port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("serve starts");
    let deadline = Instant::now() + Duration::from_secs(30);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "the server never listened");
        std::thread::sleep(Duration::from_millis(50));
    }
    (child, port)
}

fn kill_9(child: &mut Child) {
    let pid = child.id().to_string();
    let status = Command::new("kill").args(["-9", &pid]).status().unwrap();
    assert!(status.success());
    let _ = child.wait();
}

/// A browser-like client signed in as the admin on `port`.
async fn signed_in(port: u16) -> (reqwest::Client, String) {
    let client = reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let base = format!("http://127.0.0.1:{port}");
    let html = client
        .get(format!("{base}/login"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let res = client
        .post(format!("{base}/login"))
        .form(&[
            ("csrf_token", csrf_of(&html).as_str()),
            ("email", "ada@example.com"),
            ("password", PASSWORD),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), reqwest::StatusCode::SEE_OTHER, "signed in");
    let html = client
        .get(format!("{base}/contacts"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    (client, csrf_of(&html))
}

fn connect(url: &str) -> leadbook::db::AnyConnection {
    leadbook::db::AnyConnection::establish(url).expect("connects")
}

fn statuses(url: &str) -> Vec<i32> {
    let mut c = connect(url);
    contacts::table
        .filter(contacts::deleted_at.is_null())
        .order(contacts::id)
        .select(contacts::status_id)
        .load(&mut c)
        .unwrap()
}

#[actix_web::test]
async fn a_bulk_action_cut_by_kill_9_happened_wholly_or_not_at_all() {
    let (url, _db) = fresh_database();
    prepared(&url, size());
    let history = |url: &str| -> i64 { status_history::table.count().get_result(&mut connect(url)).unwrap() };
    // Every contact to Lost (7), then back to New (1), and so on, with the
    // kill at a growing delay until one lands while the action runs.
    let mut delay = Duration::from_millis(20);
    let mut rounds = Vec::new();
    for _ in 0..8 {
        let before = statuses(&url);
        let history_before = history(&url);
        let target = if before.iter().all(|s| *s == 7) { 1 } else { 7 };
        let (mut server, port) = serve(&url);
        let (client, csrf) = signed_in(port).await;
        let request = client
            .post(format!("http://127.0.0.1:{port}/contacts/bulk"))
            .form(&[
                ("csrf_token", csrf.as_str()),
                ("action", "status"),
                ("value", &target.to_string()),
                ("all_matching", "1"),
                ("confirm", "1"),
            ])
            .send();
        let answered = tokio::time::timeout(delay, request).await.is_ok();
        kill_9(&mut server);
        let now = statuses(&url);
        let all_moved = now.iter().all(|s| *s == target);
        let changed = before.iter().filter(|s| **s != target).count() as i64;
        if all_moved {
            assert_eq!(
                history(&url) - history_before,
                changed,
                "one history row per contact moved"
            );
        } else {
            assert_eq!(
                now,
                before,
                "after kill -9 at {delay:?}, {} of {} contacts have status {target}: a half action",
                now.iter().filter(|s| **s == target).count(),
                now.len()
            );
            assert_eq!(history(&url), history_before, "no history row of an action not done");
        }
        rounds.push((delay, answered, all_moved));
        if !answered && !all_moved {
            // Cut mid-way and nothing was written: the case this test is for.
            break;
        }
        delay *= 2;
    }
    assert!(
        rounds.iter().any(|(_, answered, moved)| !answered && !moved),
        "no kill landed while the bulk action ran: {rounds:?}"
    );
}

#[actix_web::test]
async fn merges_cut_by_kill_9_each_happened_wholly_or_not_at_all() {
    let (url, _db) = fresh_database();
    let pairs = (size() / 20).max(100);
    let token = prepared(&url, pairs * 2);
    let ids: Vec<i32> = contacts::table
        .order(contacts::id)
        .select(contacts::id)
        .load(&mut connect(&url))
        .unwrap();
    let (mut server, port) = serve(&url);
    let base = format!("http://127.0.0.1:{port}");
    // Merges one after another from two clients, until the kill.
    let client = reqwest::Client::new();
    let mut merged_ok = Vec::new();
    let answered = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let mut tasks = Vec::new();
    for lane in 0..2 {
        let (client, base, token, answered) = (client.clone(), base.clone(), token.clone(), answered.clone());
        let lane_pairs: Vec<(i32, i32)> = ids.chunks(2).skip(lane).step_by(2).map(|p| (p[0], p[1])).collect();
        tasks.push(tokio::spawn(async move {
            let mut done = Vec::new();
            for (kept, other) in lane_pairs {
                let res = client
                    .post(format!("{base}/api/v1/contacts/{kept}/merge"))
                    .bearer_auth(&token)
                    .json(&serde_json::json!({"other_id": other}))
                    .send()
                    .await;
                match res {
                    Ok(r) if r.status().is_success() => {
                        done.push((kept, other));
                        answered.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                    }
                    _ => break,
                }
            }
            done
        }));
    }
    // The kill lands half-way through the merges.
    let deadline = Instant::now() + Duration::from_secs(120);
    while answered.load(std::sync::atomic::Ordering::SeqCst) < pairs / 2 {
        assert!(Instant::now() < deadline, "the merges never got half-way");
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    kill_9(&mut server);
    for t in tasks {
        merged_ok.extend(t.await.unwrap());
    }
    assert!(!merged_ok.is_empty(), "some merges were answered before the kill");
    assert!(merged_ok.len() < pairs, "the kill landed before every merge was done");

    let mut c = connect(&url);
    let live: std::collections::HashSet<i32> = contacts::table
        .select(contacts::id)
        .load::<i32>(&mut c)
        .unwrap()
        .into_iter()
        .collect();
    let logged: Vec<(i32, i32)> = merges::table
        .select((merges::kept_id, merges::merged_id))
        .load(&mut c)
        .unwrap();
    for pair in ids.chunks(2) {
        let (kept, other) = (pair[0], pair[1]);
        let in_log = logged.contains(&(kept, other));
        assert!(live.contains(&kept), "#{kept} is kept either way");
        assert!(
            in_log != live.contains(&other),
            "merge of #{other} into #{kept}: logged {in_log}, #{other} still there {}",
            live.contains(&other)
        );
    }
    for pair in &merged_ok {
        assert!(logged.contains(pair), "an answered merge {pair:?} is kept");
    }
    // The server starts again on the same database and serves.
    let (mut server, port) = serve(&url);
    let res = reqwest::Client::new()
        .get(format!("http://127.0.0.1:{port}/api/v1/contacts?limit=1"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), reqwest::StatusCode::OK);
    kill_9(&mut server);
}

#[test]
fn an_import_cut_by_kill_9_runs_again_to_each_rows_contact_exactly_once() {
    let (url, _db) = fresh_database();
    prepared(&url, 0);
    let rows = size() * 2;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("contacts.csv");
    let mut out = std::io::BufWriter::new(std::fs::File::create(&file).unwrap());
    writeln!(out, "name,email,company").unwrap();
    for i in 0..rows {
        writeln!(out, "Person {i},person{i}@example.com,Company {}", i % 97).unwrap();
    }
    out.into_inner().unwrap().sync_all().unwrap();
    let path = file.display().to_string();

    // Killed part-way: poll the contacts until some have arrived.
    let mut import = leadbook(&url)
        .args(["import", &path, "--as", "ada@example.com"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let count = |url: &str| -> i64 { contacts::table.count().get_result(&mut connect(url)).unwrap() };
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let n = count(&url);
        if n > 0 {
            break;
        }
        assert!(
            import.try_wait().unwrap().is_none(),
            "the import finished before it could be cut"
        );
        assert!(Instant::now() < deadline, "the import never wrote");
        std::thread::sleep(Duration::from_millis(5));
    }
    kill_9(&mut import);
    let partial = count(&url);
    assert!(partial < rows as i64, "cut part-way ({partial} of {rows})");

    // Run again: to completion, each row's contact once.
    let last = run(&url, &["import", &path, "--as", "ada@example.com"]);
    assert!(last.lines().last().unwrap_or_default().starts_with("created"), "{last}");
    let mut c = connect(&url);
    let emails: Vec<Option<String>> = contacts::table
        .order(contacts::email)
        .select(contacts::email)
        .load(&mut c)
        .unwrap();
    assert_eq!(
        emails.len(),
        rows,
        "each row's contact, once ({partial} before the rerun)"
    );
    let mut unique = emails.clone();
    unique.dedup();
    assert_eq!(unique.len(), rows);
}
