//! Faults (issue 11), on the backend `TEST_DATABASE_URL` picks: the
//! database unavailable when the server starts gives a clear message and a
//! retry, then the server starts when the database appears; a database that
//! never appears ends in one clear sentence, not a panic. While serving:
//! PostgreSQL stopped (a private server the test starts itself) gives 503
//! pages and JSON errors, then recovery without a restart; a full disk under
//! SQLite gives a clear 507 and a sound file.

mod common;
use common::*;

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use diesel::connection::SimpleConnection;
use diesel::{Connection, RunQueryDsl};

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

// ------------------------------------------------ the database lost, and full

/// Kills the server when the test ends, passed or not.
struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Runs a `leadbook` subcommand against `database_url`; its stdout.
fn leadbook(database_url: &str, args: &[&str]) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_leadbook"))
        .args(args)
        .env("DATABASE_URL", database_url)
        .env("LEADBOOK_PASSWORD", "correct horse battery staple")
        .env("RUST_LOG", "warn")
        .output()
        .expect("leadbook runs");
    assert!(
        out.status.success(),
        "leadbook {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// A migrated database with an admin, its API token, and `serve` on it
/// (a request waits at most 1 s for a connection).
fn serve_with_token(database_url: &str) -> (Server, u16, String) {
    leadbook(database_url, &["migrate"]);
    leadbook(
        database_url,
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
    let printed = leadbook(database_url, &["token", "new", "--user", "ada@example.com"]);
    let token = printed
        .split_whitespace()
        .find(|w| w.len() >= 32 && w.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-'))
        .unwrap_or_else(|| panic!("a token in {printed:?}"))
        .to_string();
    let port = free_port();
    let child = Command::new(env!("CARGO_BIN_EXE_leadbook"))
        .arg("serve")
        .env("DATABASE_URL", database_url)
        .env("BIND", format!("127.0.0.1:{port}"))
        .env("DB_WAIT_SECS", "1")
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("leadbook serves");
    let server = Server(child);
    let deadline = Instant::now() + Duration::from_secs(30);
    while !healthz(port).is_some_and(|l| l.contains(" 200 ")) {
        assert!(Instant::now() < deadline, "the server never answered");
        std::thread::sleep(Duration::from_millis(100));
    }
    (server, port, token)
}

/// One request: its status, content type and body.
async fn call(
    port: u16,
    method: reqwest::Method,
    path: &str,
    token: &str,
    body: Option<serde_json::Value>,
) -> (u16, String, String) {
    let mut req = reqwest::Client::new()
        .request(method, format!("http://127.0.0.1:{port}{path}"))
        .timeout(Duration::from_secs(15));
    if !token.is_empty() {
        req = req.bearer_auth(token);
    }
    if let Some(body) = body {
        req = req.json(&body);
    }
    let res = req.send().await.expect("an answer");
    let status = res.status().as_u16();
    let kind = res
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_string())
        .unwrap_or_default();
    (status, kind, res.text().await.unwrap())
}

/// A PostgreSQL server of the test's own (initdb in a temporary folder, its
/// own port), so stopping it disturbs neither the shared server nor the
/// other tests. `initdb` refuses to run as root: as root, the server runs as
/// the `postgres` user.
struct PrivatePostgres {
    dir: tempfile::TempDir,
    port: u16,
}

impl PrivatePostgres {
    fn bin(tool: &str) -> String {
        let versions = std::fs::read_dir("/usr/lib/postgresql").expect("PostgreSQL is installed (/usr/lib/postgresql)");
        let mut found: Vec<_> = versions
            .map_while(Result::ok)
            .map(|v| v.path().join("bin").join(tool))
            .filter(|p| p.exists())
            .collect();
        found.sort();
        found
            .pop()
            .unwrap_or_else(|| panic!("{tool} is installed"))
            .display()
            .to_string()
    }

    fn run(&self, tool: &str, args: &[&str]) {
        let root = Command::new("id")
            .arg("-u")
            .output()
            .map(|o| o.stdout == b"0\n")
            .unwrap_or(false);
        let mut cmd = if root {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--", &Self::bin(tool)]);
            c
        } else {
            Command::new(Self::bin(tool))
        };
        let out = cmd.args(args).output().expect("the PostgreSQL tool runs");
        assert!(
            out.status.success(),
            "{tool} {args:?}: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }

    fn data(&self) -> String {
        self.dir.path().join("data").display().to_string()
    }

    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let _ = Command::new("chown")
            .args(["postgres:postgres", &dir.path().display().to_string()])
            .status();
        let pg = PrivatePostgres { dir, port: free_port() };
        pg.run(
            "initdb",
            &["-D", &pg.data(), "-A", "trust", "-U", "postgres", "--no-sync"],
        );
        pg.start();
        pg
    }

    fn start(&self) {
        let options = format!(
            "-p {} -k {} -c listen_addresses=127.0.0.1 -c fsync=off",
            self.port,
            self.dir.path().display()
        );
        let log = self.dir.path().join("log").display().to_string();
        self.run(
            "pg_ctl",
            &["-D", &self.data(), "-o", &options, "-l", &log, "-w", "start"],
        );
    }

    fn stop(&self) {
        self.run("pg_ctl", &["-D", &self.data(), "-m", "fast", "-w", "stop"]);
    }

    fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/postgres?sslmode=disable", self.port)
    }
}

impl Drop for PrivatePostgres {
    fn drop(&mut self) {
        let data = self.data();
        let _ = Command::new("runuser")
            .args([
                "-u",
                "postgres",
                "--",
                &Self::bin("pg_ctl"),
                "-D",
                &data,
                "-m",
                "immediate",
                "stop",
            ])
            .output();
    }
}

#[actix_web::test]
async fn while_postgresql_is_down_pages_and_the_api_answer_503_and_recover_when_it_is_back() {
    use reqwest::Method;
    let pg = PrivatePostgres::new();
    let (_server, port, token) = serve_with_token(&pg.url());
    let (status, _, body) = call(port, Method::GET, "/api/v1/contacts", &token, None).await;
    assert_eq!(status, 200, "{body}");

    pg.stop();
    // Every kind of request says the database is away, quickly: the pooled
    // connections are broken, new ones cannot be made.
    for _ in 0..3 {
        let started = Instant::now();
        let (status, kind, body) = call(port, Method::GET, "/api/v1/contacts", &token, None).await;
        assert_eq!(status, 503, "API: {body}");
        assert!(kind.starts_with("application/json"), "{kind}");
        let json: serde_json::Value = serde_json::from_str(&body).unwrap();
        assert_eq!(json["error"]["code"], "unavailable", "{json}");
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "answered in {:?}",
            started.elapsed()
        );
    }
    let (status, _, body) = call(
        port,
        Method::POST,
        "/api/v1/contacts",
        &token,
        Some(serde_json::json!({"name": "Lost"})),
    )
    .await;
    assert_eq!(status, 503, "a write: {body}");
    let (status, kind, body) = call(port, Method::GET, "/login", "", None).await;
    assert_eq!(status, 503, "page: {body}");
    assert!(kind.starts_with("text/html"), "{kind}");
    assert!(body.contains("The database is not available right now"), "{body}");
    assert_eq!(healthz(port).unwrap_or_default(), "HTTP/1.1 503 Service Unavailable");

    // Back, without restarting leadbook.
    pg.start();
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let (status, _, body) = call(
            port,
            Method::POST,
            "/api/v1/contacts",
            &token,
            Some(serde_json::json!({"name": "After"})),
        )
        .await;
        if status == 201 {
            break;
        }
        assert_eq!(status, 503, "only 503 until it is back: {body}");
        assert!(Instant::now() < deadline, "never recovered");
        std::thread::sleep(Duration::from_millis(200));
    }
    let (status, _, body) = call(port, Method::GET, "/api/v1/contacts", &token, None).await;
    assert_eq!(status, 200, "{body}");
    let json: serde_json::Value = serde_json::from_str(&body).unwrap();
    let names: Vec<&str> = json["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["After"], "the write made while it was down left nothing");
}

/// A real full disk: the SQLite file on a small tmpfs filled to the last
/// byte. Writes are refused with a clear 507, each either whole or absent;
/// reads go on; once space is freed, writes work again and the file is sound.
#[actix_web::test]
async fn a_full_disk_refuses_sqlite_writes_clearly_and_leaves_the_database_sound() {
    use reqwest::Method;
    let dir = tempfile::tempdir().unwrap();
    let mount = dir.path().display().to_string();
    let mounted = Command::new("mount")
        .args(["-t", "tmpfs", "-o", "size=8m", "tmpfs", &mount])
        .status()
        .expect("mount runs");
    assert!(mounted.success(), "a tmpfs can be mounted here (the test needs root)");
    struct Unmount(String);
    impl Drop for Unmount {
        fn drop(&mut self) {
            let _ = Command::new("umount").args(["-l", &self.0]).status();
        }
    }
    let _unmount = Unmount(mount.clone());
    let url = format!("sqlite://{mount}/leadbook.db");
    let (server, port, token) = serve_with_token(&url);

    // Fill the disk.
    let filler = dir.path().join("filler");
    let _ = Command::new("dd")
        .args(["if=/dev/zero", &format!("of={}", filler.display()), "bs=64k"])
        .stderr(Stdio::null())
        .status();
    let (mut created, mut refused) = (0, None);
    for i in 0..20_000 {
        let body = serde_json::json!({"name": format!("Contact {i} {}", "x".repeat(200))});
        let (status, kind, text) = call(port, Method::POST, "/api/v1/contacts", &token, Some(body)).await;
        match status {
            201 => created += 1,
            _ => {
                refused = Some((status, kind, text));
                break;
            }
        }
    }
    let (status, kind, text) = refused.expect("a write is refused once the disk is full");
    assert_eq!(status, 507, "{text}");
    assert!(kind.starts_with("application/json"), "{kind}");
    let json: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(json["error"]["code"], "storage_full", "{json}");
    assert!(
        json["error"]["message"]
            .as_str()
            .unwrap()
            .contains("The database is full"),
        "{json}"
    );
    // Reads go on.
    let (status, _, body) = call(port, Method::GET, "/api/v1/contacts?limit=1", &token, None).await;
    assert_eq!(status, 200, "{body}");

    // Space again: writes work, and every contact the API said it created is there.
    std::fs::remove_file(&filler).unwrap();
    let (status, _, body) = call(
        port,
        Method::POST,
        "/api/v1/contacts",
        &token,
        Some(serde_json::json!({"name": "After"})),
    )
    .await;
    assert_eq!(status, 201, "{body}");
    drop(server);
    let mut conn = diesel::SqliteConnection::establish(&url).unwrap();
    #[derive(diesel::QueryableByName)]
    struct Row {
        #[diesel(sql_type = diesel::sql_types::Text)]
        integrity_check: String,
    }
    let check: Vec<Row> = diesel::sql_query("PRAGMA integrity_check").load(&mut conn).unwrap();
    assert_eq!(
        check.iter().map(|r| r.integrity_check.as_str()).collect::<Vec<_>>(),
        ["ok"]
    );
    #[derive(diesel::QueryableByName)]
    struct Count {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        n: i64,
    }
    let count: Count = diesel::sql_query("SELECT COUNT(*) AS n FROM contacts")
        .get_result(&mut conn)
        .unwrap();
    assert_eq!(count.n, created + 1, "each write whole or absent");
}
