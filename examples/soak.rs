//! The soak test's load (issue 11), driven by `bench/soak`: `--connections`
//! clients for `--duration` seconds on the JSON API, a mix of list, search,
//! details, create, edit, status change, incoming messages and merges. It
//! prints throughput, p50/p99 per kind, errors, the server's memory at start
//! and end, and checks the database against what it sent: contacts, messages
//! and status-history rows. Exits 1 when a check fails.
//!
//!   soak --base URL --token T --database-url U --pid PID --inbox ID
//!        [--duration S] [--connections N]

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use diesel::prelude::*;
use leadbook::db::schema::{contacts, messages, status_history};
use reqwest::{Client, Method};
use serde_json::{json, Value};

const KINDS: [&str; 8] = [
    "list", "search", "details", "create", "edit", "status", "incoming", "merge",
];

#[derive(Default)]
struct Tally {
    latencies: HashMap<&'static str, Vec<Duration>>,
    ok: HashMap<&'static str, u64>,
    client_errors: HashMap<&'static str, u64>,
    errors: Vec<String>,
    created: u64,
    merged: u64,
    status_changes: u64,
    incoming: u64,
}

fn arg(name: &str, default: Option<&str>) -> String {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1).cloned())
        .or(default.map(str::to_string))
        .unwrap_or_else(|| panic!("{name} is required"))
}

/// The server's resident memory in KiB: all of it (`VmRSS`), its own
/// (`RssAnon`: heap, stacks, SQLite's page caches) and the files it maps
/// (`RssFile`: the binary and, on SQLite, the database file that
/// `mmap_size` maps; those are the OS's page cache, shared and given back
/// under pressure, and grow with the file, not with a leak).
#[derive(Clone, Copy)]
struct Memory {
    rss: u64,
    anon: u64,
    file: u64,
}

fn memory(pid: &str) -> Memory {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("the server is running");
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.split_whitespace().next())
            .and_then(|v| v.parse().ok())
            .unwrap_or_else(|| panic!("{name} in /proc/{pid}/status"))
    };
    Memory {
        rss: field("VmRSS:"),
        anon: field("RssAnon:"),
        file: field("RssFile:"),
    }
}

struct Counts {
    contacts: i64,
    messages: i64,
    history: i64,
}

fn counts(url: &str) -> Counts {
    let mut c = leadbook::db::AnyConnection::establish(url).expect("database");
    Counts {
        contacts: contacts::table
            .filter(contacts::deleted_at.is_null())
            .count()
            .get_result(&mut c)
            .unwrap(),
        messages: messages::table.count().get_result(&mut c).unwrap(),
        history: status_history::table.count().get_result(&mut c).unwrap(),
    }
}

/// A tiny deterministic generator per client (no shared state, no crate).
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

struct Ctx {
    client: Client,
    base: String,
    token: String,
    inbox: String,
}

impl Ctx {
    async fn call(&self, method: Method, path: &str, body: Option<Value>) -> Result<(u16, Value), String> {
        let mut req = self
            .client
            .request(method, format!("{}/api/v1{path}", self.base))
            .bearer_auth(&self.token);
        if let Some(body) = body {
            req = req.json(&body);
        }
        let res = req.send().await.map_err(|e| format!("{path}: {e}"))?;
        let status = res.status().as_u16();
        let text = res.text().await.map_err(|e| format!("{path}: {e}"))?;
        Ok((status, serde_json::from_str(&text).unwrap_or(Value::Null)))
    }
}

/// One client's loop until `until`; `id` seeds its choices.
async fn client_loop(ctx: Arc<Ctx>, tally: Arc<Mutex<Tally>>, id: u64, until: Instant, senders: u64) {
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15 ^ ((id + 1) * 7919));
    // The contacts this client made, with the status it last set.
    let mut mine: Vec<(i64, u64)> = Vec::new();
    let mut n = 0u64;
    while Instant::now() < until {
        n += 1;
        // Weights: reads 55%, writes 45%.
        let roll = rng.below(100);
        let kind = match roll {
            0..=24 => "list",
            25..=39 => "search",
            40..=54 => "details",
            55..=66 => "create",
            67..=76 => "edit",
            77..=86 => "status",
            87..=95 => "incoming",
            _ => "merge",
        };
        let kind = if mine.len() < 2 && matches!(kind, "edit" | "status" | "merge" | "details") {
            "create"
        } else {
            kind
        };
        let started = Instant::now();
        let result = match kind {
            "list" => ctx.call(Method::GET, "/contacts?limit=50&sort=name", None).await,
            "search" => {
                let q = ["ah", "lim", "tan", "sdn", "60", "gmail"][rng.below(6) as usize];
                ctx.call(Method::GET, &format!("/contacts?q={q}&limit=20"), None).await
            }
            "details" => {
                let (cid, _) = mine[rng.below(mine.len() as u64) as usize];
                ctx.call(Method::GET, &format!("/contacts/{cid}"), None).await
            }
            "create" => {
                let body = json!({"name": format!("Soak {id}-{n}"), "email": format!("soak{id}-{n}@example.com")});
                ctx.call(Method::POST, "/contacts", Some(body)).await
            }
            "edit" => {
                let (cid, _) = mine[rng.below(mine.len() as u64) as usize];
                let body = json!({"company": format!("Company {}", rng.below(1000))});
                ctx.call(Method::PATCH, &format!("/contacts/{cid}"), Some(body)).await
            }
            "status" => {
                let i = rng.below(mine.len() as u64) as usize;
                let (cid, current) = mine[i];
                let next = 1 + (current + rng.below(6)) % 7; // never the current one
                let r = ctx
                    .call(
                        Method::POST,
                        &format!("/contacts/{cid}/status"),
                        Some(json!({"status_id": next})),
                    )
                    .await;
                if matches!(r, Ok((200, _))) {
                    mine[i].1 = next;
                }
                r
            }
            "incoming" => {
                let sender = rng.below(senders);
                let body = json!({"source_id": format!("6012{sender:07}"), "name": format!("Sender {sender}"), "body": format!("message {id}-{n}")});
                ctx.call(Method::POST, &format!("/inboxes/{}/messages", ctx.inbox), Some(body))
                    .await
            }
            _ => {
                let (kept, _) = mine[mine.len() - 2];
                let (other, _) = mine[mine.len() - 1];
                ctx.call(
                    Method::POST,
                    &format!("/contacts/{kept}/merge"),
                    Some(json!({"other_id": other})),
                )
                .await
            }
        };
        let took = started.elapsed();
        let mut t = tally.lock().unwrap();
        t.latencies.entry(kind).or_default().push(took);
        match result {
            Ok((status, body)) if status < 300 => {
                *t.ok.entry(kind).or_default() += 1;
                match kind {
                    "create" => {
                        t.created += 1;
                        mine.push((body["id"].as_i64().expect("created id"), 1));
                    }
                    "status" => t.status_changes += 1,
                    "incoming" => t.incoming += 1,
                    "merge" => {
                        t.merged += 1;
                        mine.pop();
                    }
                    _ => {}
                }
            }
            Ok((status, body)) if status < 500 => {
                *t.client_errors.entry(kind).or_default() += 1;
                if t.errors.len() < 20 {
                    t.errors.push(format!("(4xx, allowed) {kind}: {status} {body}"));
                }
            }
            Ok((status, body)) => t.errors.push(format!("{kind}: {status} {body}")),
            Err(e) => t.errors.push(format!("{kind}: {e}")),
        }
    }
}

fn percentile(sorted: &[Duration], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i].as_secs_f64() * 1000.0
}

#[tokio::main]
async fn main() {
    let base = arg("--base", None);
    let token = arg("--token", None);
    let url = arg("--database-url", None);
    let pid = arg("--pid", None);
    let inbox = arg("--inbox", None);
    let duration: u64 = arg("--duration", Some("600")).parse().unwrap();
    let connections: u64 = arg("--connections", Some("32")).parse().unwrap();
    let senders = 200;
    let client = Client::builder()
        .pool_max_idle_per_host(connections as usize)
        .build()
        .unwrap();
    let ctx = Arc::new(Ctx {
        client,
        base,
        token,
        inbox,
    });

    // Warm-up: every sender's first message (which makes its contact), and
    // what one create and one merge add to the status history.
    for s in 0..senders {
        let body = json!({"source_id": format!("6012{s:07}"), "name": format!("Sender {s}"), "body": "hello"});
        let (status, b) = ctx
            .call(Method::POST, &format!("/inboxes/{}/messages", ctx.inbox), Some(body))
            .await
            .unwrap();
        assert!(status < 300, "warm-up message: {status} {b}");
    }
    let probe = |c: &Counts| c.history;
    let h0 = probe(&counts(&url));
    let (_, a) = ctx
        .call(Method::POST, "/contacts", Some(json!({"name": "Probe A"})))
        .await
        .unwrap();
    let h1 = probe(&counts(&url));
    let (_, b) = ctx
        .call(Method::POST, "/contacts", Some(json!({"name": "Probe B"})))
        .await
        .unwrap();
    let h2 = probe(&counts(&url));
    let (status, m) = ctx
        .call(
            Method::POST,
            &format!("/contacts/{}/merge", a["id"]),
            Some(json!({"other_id": b["id"]})),
        )
        .await
        .unwrap();
    assert_eq!(status, 200, "probe merge: {m}");
    let h3 = probe(&counts(&url));
    let (per_create, per_merge) = (h1 - h0, h3 - h2);
    assert_eq!(h2 - h1, per_create, "creates add the same history rows");

    let before = counts(&url);
    let rss_idle = memory(&pid);
    let tally = Arc::new(Mutex::new(Tally::default()));
    let started = Instant::now();
    let until = started + Duration::from_secs(duration);
    let tasks: Vec<_> = (0..connections)
        .map(|i| tokio::spawn(client_loop(ctx.clone(), tally.clone(), i, until, senders)))
        .collect();
    // The memory baseline is taken under load, a third of the way in (at
    // most 200 s): by then the server has grown its blocking-thread pool
    // (about 80 to 90 threads) and allocator arenas to the load, and its
    // SQLite page caches (8 connections of at most 16 MB) are filling as the
    // load touches pages. Growth after that is what a leak would show.
    let warm = Duration::from_secs((duration / 3).clamp(10, 200).min(duration / 2));
    tokio::time::sleep(warm).await;
    let rss_start = memory(&pid);
    for t in tasks {
        t.await.unwrap();
    }
    let elapsed = started.elapsed().as_secs_f64();
    let rss_end = memory(&pid);
    let after = counts(&url);

    let t = tally.lock().unwrap();
    let mut all: Vec<Duration> = t.latencies.values().flatten().copied().collect();
    all.sort();
    let mut out = String::new();
    out += &format!(
        "soak: {connections} connections, {elapsed:.0} s, {} requests, {:.0} req/s, p50 {:.1} ms, p99 {:.1} ms\n",
        all.len(),
        all.len() as f64 / elapsed,
        percentile(&all, 0.5),
        percentile(&all, 0.99)
    );
    out += "| kind | requests | ok | 4xx | p50 ms | p99 ms |\n|---|---:|---:|---:|---:|---:|\n";
    for kind in KINDS {
        let mut l = t.latencies.get(kind).cloned().unwrap_or_default();
        l.sort();
        out += &format!(
            "| {kind} | {} | {} | {} | {:.1} | {:.1} |\n",
            l.len(),
            t.ok.get(kind).unwrap_or(&0),
            t.client_errors.get(kind).unwrap_or(&0),
            percentile(&l, 0.5),
            percentile(&l, 0.99)
        );
    }
    let failures: Vec<&String> = t.errors.iter().filter(|e| !e.starts_with("(4xx")).collect();
    // A leak is in the server's own memory; the mapped database file grows
    // with the data the load writes (see `Memory`).
    let growth = (rss_end.anon as f64 - rss_start.anon as f64) / rss_start.anon as f64 * 100.0;
    let total_growth = (rss_end.rss as f64 - rss_start.rss as f64) / rss_start.rss as f64 * 100.0;
    out += &format!(
        "errors (5xx or transport): {}\n\
         server memory, own (RssAnon): {} KiB idle before the load, {} KiB at start ({} s into the load), {} KiB at end ({growth:+.1}%)\n\
         server memory, all (VmRSS): {} KiB idle, {} KiB at start, {} KiB at end ({total_growth:+.1}%; mapped files {} → {} KiB)\n",
        failures.len(),
        rss_idle.anon,
        rss_start.anon,
        warm.as_secs(),
        rss_end.anon,
        rss_idle.rss,
        rss_start.rss,
        rss_end.rss,
        rss_start.file,
        rss_end.file,
    );
    let want_contacts = before.contacts + t.created as i64 - t.merged as i64;
    let want_messages = before.messages + t.incoming as i64;
    let want_history =
        before.history + t.status_changes as i64 + t.created as i64 * per_create + t.merged as i64 * per_merge;
    let mut checks = vec![
        ("contacts", before.contacts, after.contacts, want_contacts),
        ("messages", before.messages, after.messages, want_messages),
        ("status history rows", before.history, after.history, want_history),
    ];
    for (what, was, is, want) in &checks {
        out += &format!(
            "{what}: {was} before, {is} after, expected {want}: {}\n",
            if is == want { "ok" } else { "MISMATCH" }
        );
    }
    for e in t.errors.iter().take(10) {
        out += &format!("  {e}\n");
    }
    print!("{out}");
    let _ = std::fs::create_dir_all("test-artifacts");
    let _ = std::fs::write("test-artifacts/soak.txt", &out);
    checks.retain(|(_, _, is, want)| is != want);
    let failed = !failures.is_empty() || growth > 20.0 || !checks.is_empty();
    if failed {
        eprintln!(
            "soak FAILED: errors {}, memory growth {growth:.1}%, mismatches {}",
            failures.len(),
            checks.len()
        );
        std::process::exit(1);
    }
}
