//! The main journey in a real browser: headless Chromium driven through
//! chromedriver (./scripts/test installs both), one browser session per person.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fantoccini::key::Key;
use fantoccini::{Client, ClientBuilder, Locator};
use firebreak::domain::Role;
use hyper_util::client::legacy::connect::HttpConnector;
use serde_json::{Value, json};

use crate::helpers::{TestUser, spawn_app};

/// How often a wait looks at the page again.
const POLL: Duration = Duration::from_millis(25);
/// Upper bound for page loads and form submissions.
pub(crate) const PAGE: Duration = Duration::from_secs(10);

#[tokio::test]
async fn a_note_appears_live_in_a_second_browser() {
    let driver = Chromedriver::start();
    let app = spawn_app().await;
    let lead_user = app.create_user(Role::Responder).await;
    let scribe_user = app.create_user(Role::Responder).await;

    // The lead signs in, declares and makes the second responder note taker.
    let lead = driver.new_session("lead").await;
    sign_in(&lead, &app.address, &lead_user).await;
    lead.find(Locator::LinkText("Declare incident"))
        .await
        .expect("the header links to the declare form")
        .click()
        .await
        .expect("click");
    lead.wait()
        .at_most(PAGE)
        .for_element(Locator::Id("title"))
        .await
        .expect("the declare form")
        .send_keys("Browser journey incident")
        .await
        .expect("type the title");
    lead.find(Locator::XPath("//button[normalize-space()='Declare incident']"))
        .await
        .expect("declare button")
        .click()
        .await
        .expect("click");
    lead.wait().at_most(PAGE).for_element(Locator::Id("room")).await.expect("declaring opens the room");
    let room = lead.current_url().await.expect("url");
    assert!(room.path().starts_with("/incidents/"), "the room is at /incidents/{{id}}, not {room}");

    lead.find(Locator::XPath("//summary[normalize-space()='Assign a role']"))
        .await
        .expect("the roles card offers to assign one")
        .click()
        .await
        .expect("open it");
    lead.find(Locator::Id("role-role"))
        .await
        .expect("role select")
        .select_by_value("note_taker")
        .await
        .expect("pick note taker");
    lead.find(Locator::Id("role-user"))
        .await
        .expect("person select")
        .select_by_value(&scribe_user.id.to_string())
        .await
        .expect("pick the second responder");
    lead.find(Locator::XPath("//button[normalize-space()='Assign role']"))
        .await
        .expect("assign button")
        .click()
        .await
        .expect("click");
    wait_until(
        &lead,
        Instant::now() + PAGE,
        "the lead's room shows the new note taker",
        NOTE_TAKER_IS,
        &[json!(scribe_user.name)],
    )
    .await;

    // The note taker signs in elsewhere and opens the same room.
    let scribe = driver.new_session("scribe").await;
    sign_in(&scribe, &app.address, &scribe_user).await;
    scribe.goto(room.as_str()).await.expect("open the room");
    scribe
        .wait()
        .at_most(PAGE)
        .for_element(Locator::Css("#room[data-live-connected='true']"))
        .await
        .expect("the room's live stream connects");
    wait_until(
        &scribe,
        Instant::now() + PAGE,
        "the second browser shows who takes notes",
        NOTE_TAKER_IS,
        &[json!(scribe_user.name)],
    )
    .await;
    // Gone if the page navigates or reloads: the note must arrive in place.
    scribe.execute("window.firebreakSamePage = true; return true;", vec![]).await.expect("mark the page");

    // The lead adds a note with Enter; the note taker's open room shows it.
    let note = "Rolled back deploy 4242 from the browser";
    let body = lead.find(Locator::Id("note-body")).await.expect("the note field");
    let sent = Instant::now();
    body.send_keys(&format!("{note}{}", Key::Enter)).await.expect("type the note and press Enter");
    wait_until(
        &scribe,
        sent + Duration::from_secs(2),
        "the note shows live in the second browser within 2 s",
        TIMELINE_HAS,
        &[json!(note)],
    )
    .await;
    let took = sent.elapsed();

    let same_page = scribe.execute("return window.firebreakSamePage === true;", vec![]).await.expect("read the mark");
    assert_eq!(same_page, Value::Bool(true), "the second browser must not reload to see the note");
    assert_eq!(scribe.current_url().await.expect("url"), room, "the second browser stays in the room");
    wait_until(
        &scribe,
        Instant::now() + PAGE,
        "the note taker is still shown after the live refresh",
        NOTE_TAKER_IS,
        &[json!(scribe_user.name)],
    )
    .await;
    wait_until(&lead, Instant::now() + PAGE, "the lead sees the note too", TIMELINE_HAS, &[json!(note)]).await;
    eprintln!("the note reached the second browser {} ms after Enter", took.as_millis());

    lead.close().await.expect("close the lead's browser");
    scribe.close().await.expect("close the note taker's browser");
}

/// True when the room's roles card names arguments[0] as note taker.
const NOTE_TAKER_IS: &str = "
    const dt = Array.from(document.querySelectorAll('#roles dt')).find(d => d.textContent.trim() === 'Note taker');
    return !!dt && !!dt.nextElementSibling && dt.nextElementSibling.textContent.trim() === arguments[0];";

/// True when an entry of the room's timeline contains the text arguments[0].
pub(crate) const TIMELINE_HAS: &str = "
    return Array.from(document.querySelectorAll('#room-timeline > li.timeline-entry'))
        .some(li => li.textContent.includes(arguments[0]));";

/// Signs in through the form like a person would.
pub(crate) async fn sign_in(browser: &Client, address: &str, user: &TestUser) {
    browser.goto(&format!("{address}/login")).await.expect("open /login");
    browser.find(Locator::Id("email")).await.expect("email field").send_keys(&user.email).await.expect("type email");
    browser
        .find(Locator::Id("password"))
        .await
        .expect("password field")
        .send_keys(&user.password)
        .await
        .expect("type password");
    browser
        .find(Locator::XPath("//button[normalize-space()='Sign in']"))
        .await
        .expect("sign-in button")
        .click()
        .await
        .expect("click");
    browser
        .wait()
        .at_most(PAGE)
        .for_element(Locator::XPath("//form[@action='/logout']"))
        .await
        .unwrap_or_else(|e| panic!("{} should be signed in: {e}", user.email));
}

/// Runs `script` in the page every POLL until it returns true; fails the test
/// at `deadline`.
pub(crate) async fn wait_until(browser: &Client, deadline: Instant, what: &str, script: &str, args: &[Value]) {
    loop {
        let result = browser.execute(script, args.to_vec()).await;
        if matches!(result, Ok(Value::Bool(true))) {
            return;
        }
        assert!(Instant::now() < deadline, "timed out: {what} (last result: {result:?})");
        tokio::time::sleep(POLL).await;
    }
}

/// A chromedriver of our own on a port it picks; dropping it quits its
/// browsers, stops it and removes its temporary folder.
pub(crate) struct Chromedriver {
    child: Child,
    port: u16,
    dir: PathBuf,
}

impl Chromedriver {
    pub(crate) fn start() -> Self {
        let program = find_in_path("chromedriver").unwrap_or_else(|| {
            panic!(
                "chromedriver is not installed: run ./scripts/test, which installs Chromium and chromedriver \
                 (apt-get install chromium chromium-driver)"
            )
        });
        let dir = std::env::temp_dir().join(format!("firebreak-browser-{}", uuid::Uuid::new_v4().simple()));
        std::fs::create_dir_all(dir.join("home")).expect("create the browser's temporary folder");
        let mut child = Command::new(program)
            .arg("--port=0")
            .arg(format!("--log-path={}", dir.join("chromedriver.log").display()))
            .env("HOME", dir.join("home"))
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("start chromedriver");
        // chromedriver announces the port it bound; keep reading its output so it never blocks.
        let stdout = child.stdout.take().expect("chromedriver's stdout");
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut lines = BufReader::new(stdout).lines();
            for line in lines.by_ref().map_while(Result::ok) {
                if let Some(port) = line
                    .strip_prefix("ChromeDriver was started successfully on port ")
                    .and_then(|rest| rest.trim_end_matches('.').parse::<u16>().ok())
                {
                    let _ = tx.send(port);
                    break;
                }
            }
            lines.for_each(drop);
        });
        let mut driver = Self { child, port: 0, dir };
        driver.port = rx
            .recv_timeout(PAGE)
            .unwrap_or_else(|_| panic!("chromedriver did not start within {PAGE:?}; its log:\n{}", driver.log()));
        driver
    }

    /// A new browser session: its own profile, so its own cookies.
    pub(crate) async fn new_session(&self, name: &str) -> Client {
        let profile = self.dir.join(format!("profile-{name}"));
        let mut args = vec![
            "--headless".to_owned(),
            "--no-sandbox".to_owned(),
            "--disable-gpu".to_owned(),
            "--disable-dev-shm-usage".to_owned(),
            "--disable-background-networking".to_owned(),
            "--disable-component-update".to_owned(),
            "--disable-sync".to_owned(),
            "--no-first-run".to_owned(),
            "--window-size=1280,1024".to_owned(),
            // app.css scrolls smoothly unless reduced motion is asked for, and
            // chromedriver clicks before a smooth scroll ends ("element click
            // intercepted", SeleniumHQ/selenium#8973).
            "--force-prefers-reduced-motion".to_owned(),
        ];
        args.push(format!("--user-data-dir={}", profile.display()));
        let mut options = json!({ "args": args });
        if let Some(binary) = chromium_binary() {
            options["binary"] = json!(binary);
        }
        let mut capabilities = serde_json::Map::new();
        capabilities.insert("browserName".to_owned(), json!("chrome"));
        capabilities.insert("goog:chromeOptions".to_owned(), options);
        ClientBuilder::new(HttpConnector::new())
            .capabilities(capabilities)
            .connect(&format!("http://127.0.0.1:{}", self.port))
            .await
            .unwrap_or_else(|e| {
                panic!(
                    "chromedriver could not start Chromium ({e}); run ./scripts/test, which installs it. \
                     chromedriver's log:\n{}",
                    self.log()
                )
            })
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("chromedriver.log")).unwrap_or_default()
    }
}

impl Drop for Chromedriver {
    fn drop(&mut self) {
        // /shutdown quits any browser still open (e.g. after a failed
        // assertion); killing chromedriver alone would orphan them.
        if self.port != 0 {
            if let Ok(mut stream) = TcpStream::connect(("127.0.0.1", self.port)) {
                let _ = stream.set_read_timeout(Some(PAGE));
                let _ = stream.write_all(b"GET /shutdown HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n");
                let _ = stream.read_to_end(&mut Vec::new());
            }
            let deadline = Instant::now() + PAGE;
            while matches!(self.child.try_wait(), Ok(None)) && Instant::now() < deadline {
                std::thread::sleep(POLL);
            }
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn find_in_path(program: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path).map(|dir| dir.join(program)).find(|candidate| candidate.is_file())
}

/// Debian's real Chromium binary (its /usr/bin/chromium is a shell wrapper
/// that adds flags of its own); else whatever chromedriver finds.
fn chromium_binary() -> Option<&'static str> {
    ["/usr/lib/chromium/chromium", "/usr/bin/chromium"].into_iter().find(|p| Path::new(p).is_file())
}
