//! spawn_app(), a cookie-keeping browser, test users and the HTML checker.

use std::io::Write;
use std::process::{Command, Stdio};
use std::sync::OnceLock;

use base64::Engine;
use diesel::sql_types::Bool;
use diesel::{Connection, PgConnection, QueryableByName, RunQueryDsl};
use firebreak::config::{LogFormat, Settings};
use firebreak::db::{self, DbPool, UserId};
use firebreak::domain::Role;
use firebreak::services::Actor;
use firebreak::services::accounts::{self, NewUserInput};
use firebreak::startup::Application;
use rand::RngCore;
use reqwest::StatusCode;
use reqwest::redirect::Policy;
use secrecy::SecretString;

/// The PostgreSQL server the tests use (no database name).
pub fn server_url() -> String {
    std::env::var("TEST_DATABASE_SERVER").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432".to_owned())
}

fn admin_connection() -> PgConnection {
    PgConnection::establish(&format!("{}/postgres", server_url()))
        .expect("PostgreSQL must answer on 127.0.0.1:5432 (./scripts/test starts it)")
}

#[derive(QueryableByName)]
struct Exists {
    #[diesel(sql_type = Bool)]
    exists: bool,
}

fn database_exists(conn: &mut PgConnection, name: &str) -> bool {
    diesel::sql_query("SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1) AS exists")
        .bind::<diesel::sql_types::Text, _>(name)
        .get_result::<Exists>(conn)
        .expect("query pg_database")
        .exists
}

/// The template's name changes whenever a migration does, so an old template
/// is never used for new code.
fn template_name() -> &'static str {
    static NAME: OnceLock<String> = OnceLock::new();
    NAME.get_or_init(|| {
        let mut files: Vec<_> = walk(std::path::Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/migrations")));
        files.sort();
        // FNV-1a over every migration's path and content.
        let mut hash: u64 = 0xcbf29ce484222325;
        for path in files {
            let bytes = std::fs::read(&path).expect("read migration");
            for b in path.to_string_lossy().bytes().chain(bytes) {
                hash ^= u64::from(b);
                hash = hash.wrapping_mul(0x100000001b3);
            }
        }
        format!("firebreak_tpl_{hash:016x}")
    })
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).expect("read migrations dir") {
        let path = entry.expect("dir entry").path();
        if path.is_dir() {
            out.extend(walk(&path));
        } else {
            out.push(path);
        }
    }
    out
}

/// Creates the migrated template once; test processes running in parallel
/// wait for each other through an advisory lock.
fn ensure_template() -> &'static str {
    let name = template_name();
    let mut conn = admin_connection();
    diesel::sql_query("SELECT pg_advisory_lock(72720001)").execute(&mut conn).expect("lock");
    if !database_exists(&mut conn, name) {
        let building = format!("{name}_building");
        diesel::sql_query(format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", db::quote_ident(&building)))
            .execute(&mut conn)
            .expect("drop half-built template");
        diesel::sql_query(format!("CREATE DATABASE {}", db::quote_ident(&building)))
            .execute(&mut conn)
            .expect("create template");
        db::run_migrations(&format!("{}/{building}", server_url())).expect("migrate template");
        diesel::sql_query(format!("ALTER DATABASE {} RENAME TO {}", db::quote_ident(&building), db::quote_ident(name)))
            .execute(&mut conn)
            .expect("rename template");
    }
    diesel::sql_query("SELECT pg_advisory_unlock(72720001)").execute(&mut conn).expect("unlock");
    name
}

/// A new, empty database, migrated (cloned from the template) or not.
pub fn create_database(migrated: bool) -> (String, String) {
    let name = format!("t_{}", uuid::Uuid::new_v4().simple());
    let mut conn = admin_connection();
    let sql = if migrated {
        let template = ensure_template();
        format!("CREATE DATABASE {} TEMPLATE {}", db::quote_ident(&name), db::quote_ident(template))
    } else {
        format!("CREATE DATABASE {}", db::quote_ident(&name))
    };
    // Two clones of one template at the same instant can collide; retry.
    let mut attempts = 0;
    loop {
        match diesel::sql_query(&sql).execute(&mut conn) {
            Ok(_) => break,
            Err(e) if attempts < 20 => {
                attempts += 1;
                eprintln!("retrying CREATE DATABASE: {e}");
                std::thread::sleep(std::time::Duration::from_millis(100));
            }
            Err(e) => panic!("cannot create test database: {e}"),
        }
    }
    let url = format!("{}/{name}", server_url());
    (name, url)
}

pub fn drop_database(name: &str) {
    let mut conn = admin_connection();
    let _ =
        diesel::sql_query(format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", db::quote_ident(name))).execute(&mut conn);
}

pub struct TestApp {
    pub address: String,
    pub db_name: String,
    pub db_url: String,
    pub pool: DbPool,
}

impl Drop for TestApp {
    fn drop(&mut self) {
        drop_database(&self.db_name);
    }
}

pub fn test_settings(db_url: &str) -> Settings {
    let mut key = [0u8; 64];
    rand::rng().fill_bytes(&mut key);
    Settings {
        database_url: SecretString::from(db_url.to_owned()),
        embedded: None,
        bind: "127.0.0.1:0".parse().expect("addr"),
        base_url: url::Url::parse("http://127.0.0.1").expect("url"),
        session_key: Some(SecretString::from(base64::engine::general_purpose::STANDARD.encode(key))),
        smtp: None,
        mail_from: "Firebreak <firebreak@example.test>".to_owned(),
        db_pool_size: 4,
        workers: 1,
        log_format: LogFormat::Text,
        // One folder per app under one parent that scripts/test empties at the start of a run.
        mail_dir: std::env::temp_dir().join("firebreak-test-mail").join(uuid::Uuid::new_v4().to_string()),
        smtp_ca_pem: None,
        mail_retry_base: std::time::Duration::from_millis(200),
        status_page_name: "Example".to_owned(),
        status_refresh: std::time::Duration::from_secs(30),
        webhook_retry_base: std::time::Duration::from_millis(200),
        metrics_token: None,
        digest_interval: std::time::Duration::from_secs(600),
        db_start_timeout: std::time::Duration::from_secs(60),
        sign_in: Default::default(),
        // Test receivers listen on loopback; tests of the refusal clear this.
        outgoing_allowed_hosts: vec!["127.0.0.1".to_owned(), "localhost".to_owned()],
        // Escalation waits and paging rate limits: a "minute" is half a second in tests.
        escalation_minute: std::time::Duration::from_millis(500),
    }
}

pub async fn spawn_app() -> TestApp {
    spawn_app_with(|_| {}).await
}

pub async fn spawn_app_with(configure: impl FnOnce(&mut Settings)) -> TestApp {
    let (db_name, db_url) = create_database(true);
    let mut settings = test_settings(&db_url);
    configure(&mut settings);
    let app = Application::build(settings).await.expect("build the app");
    let address = format!("http://127.0.0.1:{}", app.port());
    tokio::spawn(app.run_until_stopped());
    let pool = db::build_pool(&db_url, 2).expect("pool");
    TestApp { address, db_name, db_url, pool }
}

impl TestApp {
    /// A second instance of the app on the same database (as behind a load
    /// balancer); it lives until the test ends.
    pub async fn another_instance(&self) -> TestApp {
        let app = Application::build(test_settings(&self.db_url)).await.expect("build the second instance");
        let address = format!("http://127.0.0.1:{}", app.port());
        tokio::spawn(app.run_until_stopped());
        let pool = db::build_pool(&self.db_url, 2).expect("pool");
        // Same database name: whichever TestApp drops first drops it, and
        // dropping twice is harmless.
        TestApp { address, db_name: self.db_name.clone(), db_url: self.db_url.clone(), pool }
    }
}

pub struct TestUser {
    pub id: UserId,
    pub email: String,
    pub name: String,
    pub password: String,
}

impl TestApp {
    /// A new browser with its own cookie jar.
    pub fn browser(&self) -> Browser {
        let client = reqwest::Client::builder().redirect(Policy::none()).cookie_store(true).build().expect("client");
        Browser { client, address: self.address.clone() }
    }

    /// A user created the way the command line does it.
    pub async fn create_user(&self, role: Role) -> TestUser {
        let n = uuid::Uuid::new_v4().simple().to_string();
        let email = format!("{}-{}@example.test", role.as_str(), &n[..8]);
        let name = format!("{} {}", role.label(), &n[..4]);
        let password = format!("pw-{n}");
        let user = accounts::add_user(
            &self.pool,
            &Actor::command_line(),
            NewUserInput {
                email: email.clone(),
                display_name: name.clone(),
                role: role.as_str().to_owned(),
                password: password.clone(),
                time_zone: "UTC".to_owned(),
            },
        )
        .await
        .expect("create user");
        TestUser { id: user.id, email, name, password }
    }

    /// A browser already signed in as a new user with this role.
    pub async fn signed_in(&self, role: Role) -> (Browser, TestUser) {
        let user = self.create_user(role).await;
        let browser = self.browser();
        browser.sign_in(&user.email, &user.password).await;
        (browser, user)
    }

    pub async fn count(&self, sql: &str) -> i64 {
        use diesel::sql_types::BigInt;
        #[derive(QueryableByName)]
        struct Count {
            #[diesel(sql_type = BigInt)]
            n: i64,
        }
        let mut conn = self.pool.get().await.expect("conn");
        diesel_async::RunQueryDsl::get_result::<Count>(diesel::sql_query(sql), &mut conn).await.expect("count query").n
    }
}

pub struct Browser {
    pub client: reqwest::Client,
    pub address: String,
}

impl Browser {
    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.client.get(format!("{}{path}", self.address)).send().await.expect("GET")
    }

    /// GETs a page, asserts 200 and valid HTML, returns the body.
    pub async fn page(&self, path: &str) -> String {
        let response = self.get(path).await;
        assert_eq!(response.status(), StatusCode::OK, "GET {path}");
        let body = response.text().await.expect("body");
        assert_valid_html(path, &body).await;
        body
    }

    /// Posts raw fields, exactly as given (no CSRF token added).
    pub async fn post_raw(&self, path: &str, fields: &[(&str, &str)]) -> reqwest::Response {
        self.client.post(format!("{}{path}", self.address)).form(fields).send().await.expect("POST")
    }

    /// Opens `form_page` like a person would, then submits `fields` to
    /// `action` with that page's CSRF token.
    pub async fn submit(&self, form_page: &str, action: &str, fields: &[(&str, &str)]) -> reqwest::Response {
        let html = self.page(form_page).await;
        let token = csrf_token(&html);
        let mut all: Vec<(&str, &str)> = vec![("csrf_token", token.as_str())];
        all.extend_from_slice(fields);
        self.post_raw(action, &all).await
    }

    pub async fn sign_in(&self, email: &str, password: &str) {
        let response = self.submit("/login", "/login", &[("email", email), ("password", password)]).await;
        assert_eq!(response.status(), StatusCode::SEE_OTHER, "sign-in as {email} should succeed");
    }
}

/// The hidden CSRF token of the first form on a page.
pub fn csrf_token(html: &str) -> String {
    let marker = "name=\"csrf_token\" value=\"";
    let start = html.find(marker).expect("the page has a CSRF token") + marker.len();
    let end = start + html[start..].find('"').expect("token ends");
    html[start..end].to_owned()
}

pub fn location(response: &reqwest::Response) -> String {
    response.headers().get("location").and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned()
}

/// Asserts a 4xx/2xx HTML response body is valid, and returns it.
pub async fn html_of(response: reqwest::Response, expected: StatusCode) -> String {
    let status = response.status();
    let url = response.url().path().to_owned();
    let body = response.text().await.expect("body");
    assert_eq!(status, expected, "{url}: {body}");
    assert_valid_html(&url, &body).await;
    body
}

fn vnu_jar() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/tools/node_modules/vnu-jar/build/dist/vnu.jar")
}

/// Fails the test on any error the Nu HTML Checker reports. Uses the checker
/// service at VNU_URL (./scripts/test starts one), else runs vnu.jar once.
pub async fn assert_valid_html(what: &str, html: &str) {
    let report: serde_json::Value = match std::env::var("VNU_URL") {
        Ok(url) => reqwest::Client::new()
            .post(format!("{url}/?out=json"))
            .header("Content-Type", "text/html; charset=utf-8")
            .header("User-Agent", "firebreak-tests")
            .body(html.to_owned())
            .send()
            .await
            .expect("the HTML checker at VNU_URL answers")
            .json()
            .await
            .expect("checker JSON"),
        Err(_) => {
            let jar = vnu_jar();
            assert!(jar.exists(), "the HTML checker is missing: run ./scripts/test, or `npm ci` in tests/tools");
            let mut child = Command::new("java")
                .args(["-Xss4m", "-jar"])
                .arg(&jar)
                .args(["--errors-only", "--format", "json", "-"])
                .stdin(Stdio::piped())
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .expect("run java");
            child.stdin.take().expect("stdin").write_all(html.as_bytes()).expect("write page");
            let out = child.wait_with_output().expect("vnu output");
            serde_json::from_slice(&out.stderr).expect("vnu JSON on stderr")
        }
    };
    let errors: Vec<String> = report["messages"]
        .as_array()
        .map(|m| {
            m.iter()
                .filter(|m| m["type"] == "error" || m["subType"] == "fatal")
                .map(|m| format!("line {}: {}", m["lastLine"], m["message"]))
                .collect()
        })
        .unwrap_or_default();
    assert!(errors.is_empty(), "{what} is not valid HTML:\n{}\n", errors.join("\n"));
}

/// The value of the first `<input name=...>` on a page, with HTML entities undone.
pub fn input_value(html: &str, name: &str) -> String {
    let marker = format!("name=\"{name}\"");
    let at = html.find(&marker).unwrap_or_else(|| panic!("the page has no input named {name}"));
    let tag = &html[at..at + html[at..].find('>').expect("the tag ends")];
    let v = tag.find("value=\"").map(|i| i + 7).unwrap_or_else(|| panic!("the input {name} has a value"));
    unescape(&tag[v..v + tag[v..].find('"').expect("the value ends")])
}

/// The text of the first `<textarea name=...>` on a page, with HTML entities undone
/// (a line break right after the tag is not part of the text, as in browsers).
pub fn textarea(html: &str, name: &str) -> String {
    let marker = format!("name=\"{name}\"");
    let at = html.find(&marker).unwrap_or_else(|| panic!("the page has no textarea named {name}"));
    let start = at + html[at..].find('>').expect("the tag ends") + 1;
    let end = start + html[start..].find("</textarea>").expect("the textarea ends");
    let text = &html[start..end];
    unescape(text.strip_prefix('\n').unwrap_or(text))
}

/// Undoes the entities askama writes.
pub fn unescape(s: &str) -> String {
    s.replace("&#60;", "<")
        .replace("&lt;", "<")
        .replace("&#62;", ">")
        .replace("&gt;", ">")
        .replace("&#34;", "\"")
        .replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&#38;", "&")
        .replace("&amp;", "&")
}
