//! The browser journey, in headless Chromium driven over WebDriver:
//! setup → sign in → add a contact → find it by its phone → change its
//! status → see the history entry. Screenshots land in `test-artifacts/`.
//!
//! Needs Debian's `chromium` and `chromium-driver`; run it with
//! `cargo test --features browser-tests --test browser` (`.ci/run` does).
//! It fails, never skips, when the browser cannot start.

mod common;

use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use common::*;
use fantoccini::{Client, ClientBuilder, Locator};

/// chromedriver on a free port, stopped when dropped.
struct Driver {
    child: Child,
    port: u16,
    _profile: tempfile::TempDir,
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start_driver() -> Driver {
    let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let binary = std::env::var("CHROMEDRIVER").unwrap_or_else(|_| "/usr/bin/chromedriver".into());
    let child = Command::new(&binary)
        .arg(format!("--port={port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {binary} (apt-get install chromium chromium-driver): {e}"));
    Driver {
        child,
        port,
        _profile: tempfile::tempdir().unwrap(),
    }
}

async fn browser(driver: &Driver) -> Client {
    let chromium = std::env::var("CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into());
    let profile = format!("--user-data-dir={}", driver._profile.path().display());
    let caps = serde_json::json!({
        "goog:chromeOptions": {
            "binary": chromium,
            "args": ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                     "--disable-background-networking", "--disable-component-update", "--disable-sync",
                     "--no-first-run", "--window-size=1280,900", profile]
        }
    });
    let caps = caps.as_object().unwrap().clone();
    // chromedriver needs a moment after it starts.
    let mut last_error = String::new();
    for _ in 0..50 {
        match ClientBuilder::rustls()
            .expect("rustls connector")
            .capabilities(caps.clone())
            .connect(&format!("http://127.0.0.1:{}", driver.port))
            .await
        {
            Ok(client) => return client,
            Err(e) => last_error = e.to_string(),
        }
        actix_web::rt::time::sleep(Duration::from_millis(200)).await;
    }
    panic!("could not open a Chromium session: {last_error}");
}

fn artifacts() -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("test-artifacts");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

async fn fill(c: &Client, css: &str, text: &str) {
    let field = c.find(Locator::Css(css)).await.unwrap_or_else(|e| panic!("{css}: {e}"));
    field.clear().await.unwrap();
    field.send_keys(text).await.unwrap();
}

async fn click(c: &Client, css: &str) {
    c.find(Locator::Css(css))
        .await
        .unwrap_or_else(|e| panic!("{css}: {e}"))
        .click()
        .await
        .unwrap();
}

async fn text_of(c: &Client, css: &str) -> String {
    c.find(Locator::Css(css))
        .await
        .unwrap_or_else(|e| panic!("{css}: {e}"))
        .text()
        .await
        .unwrap()
}

#[actix_web::test]
async fn setup_sign_in_add_find_and_move_a_contact() {
    let app = spawn_app().await;
    let driver = start_driver();
    let c = browser(&driver).await;

    // First run: the app asks for the first admin.
    c.goto(&app.url("/")).await.unwrap();
    assert!(c.current_url().await.unwrap().path().ends_with("/setup"));
    fill(&c, "#f-name", "Ada Admin").await;
    fill(&c, "#f-email", "ada@example.com").await;
    fill(&c, "#f-password", PASSWORD).await;
    fill(&c, "#f-password_confirm", PASSWORD).await;
    click(&c, "form[action='/setup'] button[type=submit]").await;
    assert!(text_of(&c, ".flash").await.contains("Welcome"));

    // Sign out and back in.
    click(&c, "form[action='/logout'] button").await;
    assert!(c.current_url().await.unwrap().path().ends_with("/login"));
    fill(&c, "#f-email", "ada@example.com").await;
    fill(&c, "#f-password", PASSWORD).await;
    click(&c, "form[action='/login'] button[type=submit]").await;
    assert!(c.current_url().await.unwrap().path().ends_with("/contacts"));

    // Add a contact.
    click(&c, "a[href='/contacts/new']").await;
    fill(&c, "#f-name", "Siti Nurhaliza").await;
    fill(&c, "#f-email", "Siti@Example.com").await;
    fill(&c, "#f-phone", "019-876 5432").await;
    fill(&c, "#f-company", "Kedai Siti").await;
    click(&c, "form[action='/contacts'] button[type=submit]").await;
    assert_eq!(text_of(&c, ".flash").await, "Contact created");
    let details_url = c.current_url().await.unwrap();

    // Find it by a fragment of its phone number.
    c.goto(&app.url("/contacts")).await.unwrap();
    fill(&c, "#q", "8765").await;
    click(&c, "form.filters button[type=submit]").await;
    let found = text_of(&c, "table.contacts tbody").await;
    assert!(
        found.contains("Siti Nurhaliza") && found.contains("+60198765432"),
        "{found}"
    );
    std::fs::write(artifacts().join("contacts-list.png"), c.screenshot().await.unwrap()).unwrap();

    // Change its status and see the history entry.
    click(&c, "table.contacts a.name").await;
    assert_eq!(c.current_url().await.unwrap(), details_url);
    c.find(Locator::Css("#f-status"))
        .await
        .unwrap()
        .select_by_value("3")
        .await
        .unwrap();
    click(&c, "form[action$='/status'] button").await;
    assert_eq!(text_of(&c, ".flash").await, "Status set to Qualified");
    let history = text_of(&c, "ol.history li:first-child").await;
    assert!(history.contains("New") && history.contains("Qualified"), "{history}");
    assert!(history.contains("Ada Admin") && history.contains("manual"), "{history}");
    std::fs::write(artifacts().join("contact-details.png"), c.screenshot().await.unwrap()).unwrap();

    c.close().await.unwrap();
}
