//! Headless Chromium over WebDriver, shared by the browser tests
//! (`tests/browser.rs`, the journeys; `tests/pages.rs`, the page tour):
//! chromedriver on a free port, a Chromium session at a chosen window size
//! with JavaScript on or off, and the waiting helpers that clicks and
//! fills need while a submitted form's next page loads. Compiled only with
//! the `browser-tests` feature.

use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use fantoccini::{Client, ClientBuilder, Locator};

use super::{TestApp, PASSWORD};

/// chromedriver on a free port, stopped when dropped.
pub struct Driver {
    child: Child,
    pub port: u16,
    /// Each Chromium session gets its own profile folder in here, so no
    /// cookie or cache outlives its session.
    profiles: tempfile::TempDir,
    sessions: AtomicUsize,
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn start_driver() -> Driver {
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
        profiles: tempfile::tempdir().unwrap(),
        sessions: AtomicUsize::new(0),
    }
}

/// Whether the pages' own scripts run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum JavaScript {
    On,
    /// Chromium's content setting blocks every page script (inline and
    /// `<script src>`), and `<noscript>` renders as markup. WebDriver's own
    /// execute-script still works: it is not a page script.
    Off,
}

/// The journeys' window: a laptop screen.
pub const LAPTOP: (u32, u32) = (1280, 900);

/// A headless Chromium session whose viewport is `width`×`height` CSS
/// pixels (no browser chrome in headless mode; below 500 pixels wide, a
/// phone's screen, emulated), scripts on or off.
pub async fn browser(driver: &Driver, (width, height): (u32, u32), javascript: JavaScript) -> Client {
    let chromium = std::env::var("CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into());
    let n = driver.sessions.fetch_add(1, Ordering::SeqCst);
    let profile = format!(
        "--user-data-dir={}",
        driver.profiles.path().join(n.to_string()).display()
    );
    let mut options = serde_json::json!({
        "binary": chromium,
        "args": ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--no-first-run", "--hide-scrollbars", format!("--window-size={width},{height}"), profile]
    });
    if width < 500 {
        // Chromium's windows are at least 500 pixels wide, even headless: a
        // phone's viewport is emulated (its metrics, touch, mobile layout).
        options["mobileEmulation"] = serde_json::json!({
            "deviceMetrics": {"width": width, "height": height, "pixelRatio": 1.0, "mobile": true, "touch": true}
        });
    }
    if javascript == JavaScript::Off {
        options["prefs"] = serde_json::json!({"profile.managed_default_content_settings.javascript": 2});
    }
    let caps = serde_json::json!({ "goog:chromeOptions": options });
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
            Ok(client) => {
                if width >= 500 {
                    fit_viewport(&client, width, height).await;
                }
                return client;
            }
            Err(e) => last_error = e.to_string(),
        }
        actix_web::rt::time::sleep(Duration::from_millis(200)).await;
    }
    panic!("could not open a Chromium session: {last_error}");
}

/// Grows the window by what headless Chromium takes for its (invisible)
/// toolbars, so that the page's viewport is `width`×`height`.
async fn fit_viewport(c: &Client, width: u32, height: u32) {
    let chrome = c
        .execute(
            "return [window.outerWidth - window.innerWidth, window.outerHeight - window.innerHeight]",
            vec![],
        )
        .await
        .expect("the window's measures");
    let extra = |i: usize| chrome[i].as_u64().unwrap_or(0) as u32;
    if extra(0) > 0 || extra(1) > 0 {
        c.set_window_size(width + extra(0), height + extra(1))
            .await
            .expect("the window is resized");
    }
}

/// `test-artifacts/` (created when missing), where the screenshots land.
pub fn artifacts() -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("test-artifacts");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Retries `act` on the element `css` until it succeeds or 10 s pass: right
/// after a click that submits a form, the old page's elements go stale
/// while the new page loads.
pub async fn on_element<T, F, Fut>(c: &Client, css: &str, act: F) -> T
where
    F: Fn(fantoccini::elements::Element) -> Fut,
    Fut: std::future::Future<Output = Result<T, fantoccini::error::CmdError>>,
{
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        let attempt = match c.find(Locator::Css(css)).await {
            Ok(element) => act(element).await,
            Err(e) => Err(e),
        };
        match attempt {
            Ok(value) => return value,
            Err(e) if std::time::Instant::now() > deadline => panic!("{css}: {e}"),
            Err(_) => actix_web::rt::time::sleep(Duration::from_millis(50)).await,
        }
    }
}

pub async fn fill(c: &Client, css: &str, text: &str) {
    on_element(c, css, |field| async move {
        field.clear().await?;
        field.send_keys(text).await
    })
    .await
}

pub async fn click(c: &Client, css: &str) {
    on_element(c, css, |e| async move { e.click().await }).await
}

/// Chooses the option `value` of the select `css`.
pub async fn select(c: &Client, css: &str, value: &str) {
    on_element(c, css, |e| async move { e.select_by_value(value).await }).await
}

pub async fn text_of(c: &Client, css: &str) -> String {
    on_element(c, css, |e| async move { e.text().await }).await
}

/// The texts of every element `css` matches.
pub async fn texts_of(c: &Client, css: &str) -> Vec<String> {
    let mut texts = Vec::new();
    for element in c.find_all(Locator::Css(css)).await.unwrap() {
        texts.push(element.text().await.unwrap());
    }
    texts
}

/// Like `texts_of`, but waits (up to 10 s) until `css` matches something:
/// right after a click the new page may still be loading.
pub async fn texts_of_when_loaded(c: &Client, css: &str) -> Vec<String> {
    on_element(c, css, |e| async move { e.text().await }).await;
    texts_of(c, css).await
}

/// The value of attribute `name` on the element `css`, once it is there.
pub async fn attr_of(c: &Client, css: &str, name: &str) -> Option<String> {
    let name = name.to_string();
    on_element(c, css, |e| {
        let name = name.clone();
        async move { e.attr(&name).await }
    })
    .await
}

/// The page's flash message, or "" when it has none: the notice's text
/// alone (`.flash .flash-text`), without the Undo button it may hold.
pub async fn flash_of(c: &Client) -> String {
    match c.find(Locator::Css(".flash .flash-text")).await {
        Ok(e) => e.text().await.unwrap_or_default(),
        Err(_) => String::new(),
    }
}

/// Waits until the page's flash message reads `expected` (the page after a
/// form is sent may still be loading).
pub async fn expect_flash(c: &Client, expected: &str) {
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        let shown = flash_of(c).await;
        if shown == expected {
            return;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "flash {shown:?}, expected {expected:?}"
        );
        actix_web::rt::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Waits until the browser is on `expected` (a path).
pub async fn expect_path(c: &Client, expected: &str) {
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        let path = path_of(c).await;
        if path == expected {
            return;
        }
        assert!(std::time::Instant::now() < deadline, "on {path}, expected {expected}");
        actix_web::rt::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The path of the page the browser is on.
pub async fn path_of(c: &Client) -> String {
    c.current_url().await.unwrap().path().to_string()
}

/// Signs in through the login form and lands on the contacts list.
pub async fn sign_in(c: &Client, app: &TestApp, email: &str) {
    c.goto(&app.url("/login")).await.unwrap();
    fill(c, "#f-email", email).await;
    fill(c, "#f-password", PASSWORD).await;
    click(c, "form[action='/login'] button[type=submit]").await;
    expect_path(c, "/contacts").await;
}

/// Signs out with the header's button.
pub async fn sign_out(c: &Client) {
    click(c, "form[action='/logout'] button").await;
    expect_path(c, "/login").await;
}

/// Creates a contact through the new-contact form; returns its page's path.
pub async fn add_contact(c: &Client, app: &TestApp, name: &str, phone: &str) -> String {
    c.goto(&app.url("/contacts/new")).await.unwrap();
    fill(c, "#f-name", name).await;
    fill(c, "#f-phone", phone).await;
    click(c, "form[action='/contacts'] button[type=submit]").await;
    expect_flash(c, "Contact created").await;
    let path = path_of(c).await;
    assert!(path.starts_with("/contacts/"), "{name} has its own page, not {path}");
    path
}

/// What chromedriver's accessibility tree says of an element: its computed
/// role and accessible name (WebDriver's `computedrole` and `computedlabel`,
/// which fantoccini has no call for).
pub async fn accessibility_of(
    c: &Client,
    driver: &Driver,
    element: &fantoccini::elements::Element,
) -> (String, String) {
    let session = c.session_id().await.unwrap().expect("a WebDriver session");
    let base = format!(
        "http://127.0.0.1:{}/session/{session}/element/{}",
        driver.port,
        element.element_id()
    );
    let mut answers = Vec::new();
    for what in ["computedrole", "computedlabel"] {
        let answer: serde_json::Value = reqwest::get(format!("{base}/{what}"))
            .await
            .unwrap_or_else(|e| panic!("{what}: {e}"))
            .json()
            .await
            .unwrap();
        answers.push(
            answer["value"]
                .as_str()
                .unwrap_or_else(|| panic!("{what}: {answer}"))
                .to_string(),
        );
    }
    let label = answers.pop().unwrap();
    (answers.pop().unwrap(), label)
}

/// A screenshot of the whole page, not just the viewport: the page's full
/// height at the viewport's width, through Chromium's DevTools protocol
/// (chromedriver's `goog/cdp/execute`; WebDriver's screenshot stops at the
/// viewport's edge).
pub async fn full_page_screenshot(c: &Client, driver: &Driver) -> Vec<u8> {
    use base64::Engine;
    let session = c.session_id().await.unwrap().expect("a WebDriver session");
    let url = format!("http://127.0.0.1:{}/session/{session}/goog/cdp/execute", driver.port);
    let http = reqwest::Client::new();
    let cdp = |cmd: &'static str, params: serde_json::Value| {
        let request = http.post(&url).json(&serde_json::json!({"cmd": cmd, "params": params}));
        async move {
            let answer: serde_json::Value = request
                .send()
                .await
                .unwrap_or_else(|e| panic!("{cmd}: {e}"))
                .json()
                .await
                .unwrap_or_else(|e| panic!("{cmd}: {e}"));
            answer["value"].clone()
        }
    };
    let size: serde_json::Value = c
        .execute(
            "return [document.documentElement.clientWidth, \
                     Math.max(document.documentElement.scrollHeight, document.body ? document.body.scrollHeight : 0)]",
            vec![],
        )
        .await
        .expect("the page's size");
    let (width, height) = (size[0].as_f64().unwrap_or(0.0), size[1].as_f64().unwrap_or(0.0));
    let shot = cdp(
        "Page.captureScreenshot",
        serde_json::json!({
            "format": "png",
            "captureBeyondViewport": true,
            "clip": {"x": 0, "y": 0, "width": width, "height": height, "scale": 1},
        }),
    )
    .await;
    let data = shot["data"]
        .as_str()
        .unwrap_or_else(|| panic!("Page.captureScreenshot: {shot}"));
    base64::engine::general_purpose::STANDARD
        .decode(data)
        .expect("the screenshot is base64")
}
