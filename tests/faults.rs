//! Faults (issue 11), on the backend `TEST_DATABASE_URL` picks: the
//! database unavailable when the server starts gives a clear message and a
//! retry, then the server starts when the database appears; a database that
//! never appears ends in one clear sentence, not a panic.

mod common;
use common::*;

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use diesel::connection::SimpleConnection;
use diesel::Connection;

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Starts `leadbook serve`; its stderr lines arrive on the receiver.
fn serve(database_url: &str, port: u16, attempts: &str) -> (Child, mpsc::Receiver<String>) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_leadbook"))
        .arg("serve")
        .env("DATABASE_URL", database_url)
        .env("BIND", format!("127.0.0.1:{port}"))
        .env("DB_CONNECT_ATTEMPTS", attempts)
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("leadbook starts");
    let stderr = child.stderr.take().unwrap();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    (child, rx)
}

/// The first stderr line containing `needle`, within `within`.
fn line_with(rx: &mpsc::Receiver<String>, needle: &str, within: Duration, seen: &mut Vec<String>) -> String {
    let deadline = Instant::now() + within;
    while let Some(left) = deadline.checked_duration_since(Instant::now()) {
        match rx.recv_timeout(left) {
            Ok(line) => {
                seen.push(line.clone());
                if line.contains(needle) {
                    return line;
                }
            }
            Err(_) => break,
        }
    }
    panic!("no line with {needle:?} within {within:?}; stderr so far: {seen:#?}");
}

/// The status line of `GET /healthz`, when something answers on `port`.
fn healthz(port: u16) -> Option<String> {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(("127.0.0.1", port)).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    stream
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
        .ok()?;
    let mut answer = String::new();
    stream.read_to_string(&mut answer).ok()?;
    answer.lines().next().map(str::to_string)
}

/// A database URL that does not work yet, and what makes it work: a
/// SQLite file in a folder not yet made, or a PostgreSQL database not yet
/// created.
fn not_there_yet() -> (String, Box<dyn FnOnce()>, TestDb) {
    let (url, db) = fresh_database();
    match &db {
        TestDb::Postgres { server, name } => {
            let mut conn = diesel::PgConnection::establish(server).unwrap();
            conn.batch_execute(&format!("DROP DATABASE \"{name}\"")).unwrap();
            let (server, name) = (server.clone(), name.clone());
            let make = move || {
                let mut conn = diesel::PgConnection::establish(&server).unwrap();
                conn.batch_execute(&format!("CREATE DATABASE \"{name}\"")).unwrap();
            };
            (url, Box::new(make), db)
        }
        TestDb::Sqlite(dir) => {
            let folder = dir.path().join("not-yet");
            let url = format!("sqlite://{}", folder.join("leadbook.db").display());
            (url, Box::new(move || std::fs::create_dir(&folder).unwrap()), db)
        }
    }
}

#[test]
fn the_server_waits_for_a_database_that_is_not_there_yet() {
    let (url, make_it, _db) = not_there_yet();
    let port = free_port();
    let (mut child, rx) = serve(&url, port, "10");
    let mut seen = Vec::new();
    let retry = line_with(&rx, "retrying in", Duration::from_secs(20), &mut seen);
    assert!(retry.contains("cannot reach the database"), "{retry}");
    assert!(child.try_wait().unwrap().is_none(), "still running, waiting");
    make_it();
    // It starts once the database is there, and serves.
    let deadline = Instant::now() + Duration::from_secs(60);
    let served = loop {
        if let Some(status_line) = healthz(port) {
            break status_line;
        }
        assert!(Instant::now() < deadline, "never served; stderr: {seen:#?}");
        assert!(child.try_wait().unwrap().is_none(), "exited; stderr: {seen:#?}");
        std::thread::sleep(Duration::from_millis(200));
    };
    assert!(served.contains(" 200 "), "{served}");
    let _ = child.kill();
    let _ = child.wait();
    seen.extend(rx.try_iter());
    assert!(!seen.iter().any(|l| l.contains("panicked")), "{seen:#?}");
}

#[test]
fn a_database_that_never_comes_ends_in_one_clear_sentence() {
    let (url, _make_it, _db) = not_there_yet();
    let (mut child, rx) = serve(&url, free_port(), "2");
    let status = child.wait().unwrap();
    let lines: Vec<String> = rx.iter().collect();
    assert_eq!(status.code(), Some(1), "{lines:#?}");
    assert!(
        lines.iter().any(|l| l.contains("retrying in 1 s (attempt 1 of 2)")),
        "{lines:#?}"
    );
    let last = lines.last().expect("an error line");
    assert!(
        last.starts_with("leadbook: the database at ") && last.contains("could not be reached after 2 attempt(s)"),
        "{lines:#?}"
    );
    assert!(!lines.iter().any(|l| l.contains("panicked")), "{lines:#?}");
}
