//! Signing in through a real, certified OpenID Provider (npm oidc-provider, started
//! per test by tests/tools/oidc_provider.mjs on a free loopback port), driven like
//! a browser through its built-in login and consent pages. A provider told to
//! misbehave alters the ID token it hands out; every such token must be refused.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;

use firebreak::config::sign_in::{OidcSettings, SignInSettings};
use firebreak::domain::Role;
use firebreak::domain::sso::RoleMapping;
use reqwest::StatusCode;
use reqwest::cookie::{CookieStore, Jar};
use reqwest::redirect::Policy;
use secrecy::SecretString;

use crate::helpers::{TestApp, csrf_token, html_of, location, spawn_app_with};

pub const CLIENT_ID: &str = "firebreak-test";
const CLIENT_SECRET: &str = "firebreak-test-secret-0123456789";
pub const PROVIDER_NAME: &str = "Test IdP";

/// The provider process; killed when dropped.
pub struct TestProvider {
    child: Child,
    pub issuer: String,
}

impl Drop for TestProvider {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn tools_dir() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/tools")
}

impl TestProvider {
    /// Starts the provider for an app at `app_address`; `misbehave` picks how it alters ID tokens.
    pub fn start(app_address: &str, misbehave: &str) -> TestProvider {
        let mut child = Command::new("node")
            .current_dir(tools_dir())
            .arg("oidc_provider.mjs")
            .args(["--redirect-uri", &format!("{app_address}/login/oidc/callback")])
            .args(["--post-logout-uri", &format!("{app_address}/login")])
            .args(["--client-id", CLIENT_ID, "--client-secret", CLIENT_SECRET])
            .args(["--misbehave", misbehave])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("node runs tests/tools/oidc_provider.mjs (./scripts/test installs oidc-provider)");
        let stdout = child.stdout.take().expect("stdout");
        let mut reader = BufReader::new(stdout);
        let mut line = String::new();
        reader.read_line(&mut line).expect("the provider says where it listens");
        // Keep reading: the provider dies of a closed pipe if it writes to stdout later.
        std::thread::spawn(move || std::io::copy(&mut reader, &mut std::io::sink()));
        let issuer = line.trim().strip_prefix("listening ").expect("a 'listening <issuer>' line").to_owned();
        TestProvider { child, issuer }
    }
}

/// A free loopback address for the app: the provider must know our callback URL
/// before the app starts.
pub fn free_address() -> std::net::SocketAddr {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    listener.local_addr().expect("addr")
}

pub struct SsoSetup {
    pub groups: bool,
    pub password_login: bool,
    pub misbehave: &'static str,
}

impl Default for SsoSetup {
    fn default() -> Self {
        SsoSetup { groups: false, password_login: true, misbehave: "" }
    }
}

pub fn oidc_settings(issuer: &str, groups: bool) -> OidcSettings {
    OidcSettings {
        issuer: issuer.to_owned(),
        client_id: CLIENT_ID.to_owned(),
        client_secret: Some(SecretString::from(CLIENT_SECRET.to_owned())),
        scopes: vec!["email".into(), "profile".into()],
        provider_name: PROVIDER_NAME.to_owned(),
        roles: RoleMapping {
            default_role: Role::Viewer,
            groups_claim: groups.then(|| "groups".to_owned()),
            admin_groups: vec!["sre-leads".into()],
            responder_groups: vec!["on-call".into()],
        },
    }
}

/// An app configured for the provider, and the provider.
pub async fn spawn_with_provider(setup: SsoSetup) -> (TestApp, TestProvider) {
    let addr = free_address();
    let provider = TestProvider::start(&format!("http://{addr}"), setup.misbehave);
    let issuer = provider.issuer.clone();
    let app = spawn_app_with(|s| {
        s.bind = addr;
        s.base_url = url::Url::parse(&format!("http://{addr}")).expect("url");
        s.sign_in = SignInSettings {
            oidc: Some(oidc_settings(&issuer, setup.groups)),
            password_login: setup.password_login,
            ..Default::default()
        };
    })
    .await;
    (app, provider)
}

/// A cookie-keeping client that shows its cookies (to replay one).
struct Person {
    client: reqwest::Client,
    jar: Arc<Jar>,
}

impl Person {
    fn new() -> Person {
        let jar = Arc::new(Jar::default());
        let client = reqwest::Client::builder()
            .redirect(Policy::none())
            .cookie_provider(Arc::clone(&jar))
            .build()
            .expect("client");
        Person { client, jar }
    }

    fn cookie(&self, url: &str, name: &str) -> Option<String> {
        let header = self.jar.cookies(&url.parse().expect("url"))?;
        let header = header.to_str().ok()?.to_owned();
        header.split("; ").find_map(|c| c.strip_prefix(&format!("{name}=")).map(str::to_owned))
    }
}

fn absolute(base: &str, location: &str) -> String {
    url::Url::parse(base).expect("base").join(location).expect("location").to_string()
}

fn form_action(html: &str) -> String {
    let start = html.find("action=\"").expect("the provider's page has a form") + "action=\"".len();
    let end = start + html[start..].find('"').expect("action ends");
    html[start..end].replace("&#x2F;", "/").replace("&amp;", "&")
}

/// How the person answers the provider's pages.
#[derive(Clone, Copy, PartialEq, Eq)]
enum AtProvider {
    SignInAndAllow,
    Cancel,
}

/// Clicks "Sign in with ..." on our sign-in page.
async fn press_sign_in_with_provider(app: &TestApp, person: &Person) -> reqwest::Response {
    let html = person.client.get(format!("{}/login", app.address)).send().await.expect("GET /login");
    let html = html_of(html, StatusCode::OK).await;
    assert!(html.contains(&format!("Sign in with {PROVIDER_NAME}")), "the sign-in page offers the provider");
    let token = csrf_token(&html);
    person
        .client
        .post(format!("{}/login/oidc", app.address))
        .form(&[("csrf_token", token.as_str()), ("next", "/incidents")])
        .send()
        .await
        .expect("POST /login/oidc")
}

/// Goes through the provider's pages as `login` until the provider sends the browser
/// back to our callback; returns that callback URL (not yet visited).
async fn through_provider(person: &Person, start: reqwest::Response, login: &str, answer: AtProvider) -> String {
    assert_eq!(start.status(), StatusCode::SEE_OTHER, "starting a sign-in redirects to the provider");
    let mut url = location(&start);
    for _ in 0..20 {
        if url.contains("/login/oidc/callback") {
            return url;
        }
        let response = person.client.get(&url).send().await.expect("GET at the provider");
        if response.status().is_redirection() {
            url = absolute(&url, &location(&response));
            continue;
        }
        assert_eq!(response.status(), StatusCode::OK, "{url}");
        let html = response.text().await.expect("body");
        let action = absolute(&url, &form_action(&html));
        let response = if answer == AtProvider::Cancel {
            person.client.get(format!("{action}/abort")).send().await.expect("cancel")
        } else if html.contains("name=\"prompt\" value=\"login\"") {
            let fields = [("prompt", "login"), ("login", login), ("password", "anything")];
            person.client.post(&action).form(&fields).send().await.expect("sign in at the provider")
        } else {
            person.client.post(&action).form(&[("prompt", "consent")]).send().await.expect("allow access")
        };
        assert!(response.status().is_redirection(), "the provider moves on after {action}");
        url = absolute(&action, &location(&response));
    }
    panic!("the provider never sent the browser back");
}

async fn visit(person: &Person, url: &str) -> reqwest::Response {
    person.client.get(url).send().await.expect("GET")
}

/// Signs in at the provider as `login`; returns our callback's response.
async fn sign_in_as(app: &TestApp, person: &Person, login: &str) -> reqwest::Response {
    let start = press_sign_in_with_provider(app, person).await;
    let callback = through_provider(person, start, login, AtProvider::SignInAndAllow).await;
    visit(person, &callback).await
}

async fn account(app: &TestApp, email: &str) -> Option<(String, Option<String>)> {
    use diesel::prelude::*;
    use diesel_async::RunQueryDsl;
    use firebreak::db::schema::users;
    let mut conn = app.pool.get().await.expect("conn");
    users::table
        .filter(users::email.eq(email))
        .select((users::role, users::oidc_subject))
        .first(&mut conn)
        .await
        .optional()
        .expect("query users")
}

async fn audit_count(app: &TestApp, action: &str, detail_like: &str) -> i64 {
    app.count(&format!("SELECT count(*) AS n FROM audit_log WHERE action = '{action}' AND detail LIKE '{detail_like}'"))
        .await
}

#[tokio::test]
async fn a_first_sign_in_through_the_provider_creates_a_viewer_account() {
    let (app, _provider) = spawn_with_provider(SsoSetup::default()).await;
    let person = Person::new();
    let start = press_sign_in_with_provider(&app, &person).await;
    let callback = through_provider(&person, start, "alice", AtProvider::SignInAndAllow).await;
    let began = std::time::Instant::now();
    let response = visit(&person, &callback).await;
    // The code exchange, the ID-token checks and the new account's transaction.
    eprintln!("the callback that creates the account took {} ms", began.elapsed().as_millis());
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&response), "/incidents", "back to where the person was going");

    let page = visit(&person, &format!("{}/incidents", app.address)).await;
    let html = html_of(page, StatusCode::OK).await;
    assert!(html.contains("Test alice"), "the header names the person the provider vouched for");
    assert!(html.contains("badge-viewer"), "a new account has the default role");
    assert_eq!(account(&app, "alice@example.test").await, Some(("viewer".into(), Some("alice".into()))));
    assert_eq!(audit_count(&app, "sso.account_created", "role viewer%").await, 1);
    assert_eq!(audit_count(&app, "sso.sign_in", "%").await, 1);

    // Signing in again finds the same account by the provider's subject.
    let again = Person::new();
    let start = press_sign_in_with_provider(&app, &again).await;
    let callback = through_provider(&again, start, "alice", AtProvider::SignInAndAllow).await;
    let began = std::time::Instant::now();
    assert_eq!(visit(&again, &callback).await.status(), StatusCode::SEE_OTHER);
    eprintln!("the callback of a later sign-in took {} ms", began.elapsed().as_millis());
    assert_eq!(app.count("SELECT count(*) AS n FROM users WHERE email = 'alice@example.test'").await, 1);
    assert_eq!(audit_count(&app, "sso.sign_in", "%").await, 2);
}

#[tokio::test]
async fn a_provider_group_makes_an_admin_on_every_sign_in() {
    let (app, _provider) = spawn_with_provider(SsoSetup { groups: true, ..Default::default() }).await;
    let person = Person::new();
    assert_eq!(sign_in_as(&app, &person, "lead-carol").await.status(), StatusCode::SEE_OTHER);
    assert_eq!(account(&app, "carol@example.test").await.map(|a| a.0), Some("admin".into()));
    let admin = visit(&person, &format!("{}/admin/users", app.address)).await;
    assert_eq!(admin.status(), StatusCode::OK, "the group made carol an admin");

    // An admin demotes her in Firebreak; the provider's groups put her back.
    app.count("WITH u AS (UPDATE users SET role = 'viewer' WHERE email = 'carol@example.test' RETURNING 1) SELECT count(*) AS n FROM u")
        .await;
    assert_eq!(sign_in_as(&app, &Person::new(), "lead-carol").await.status(), StatusCode::SEE_OTHER);
    assert_eq!(account(&app, "carol@example.test").await.map(|a| a.0), Some("admin".into()));
    assert_eq!(audit_count(&app, "sso.role_changed", "viewer to admin%").await, 1);
}

#[tokio::test]
async fn groups_never_demote_the_only_active_admin() {
    let (app, _provider) = spawn_with_provider(SsoSetup { groups: true, ..Default::default() }).await;
    add_cli_user(&app, "olga@example.test", "admin").await;
    // olga is in no admin group at the provider.
    assert_eq!(sign_in_as(&app, &Person::new(), "olga").await.status(), StatusCode::SEE_OTHER);
    assert_eq!(account(&app, "olga@example.test").await.map(|a| a.0), Some("admin".into()));
    assert_eq!(audit_count(&app, "sso.role_kept", "stays admin%").await, 1);
}

async fn add_cli_user(app: &TestApp, email: &str, role: &str) -> firebreak::db::users::User {
    firebreak::services::accounts::add_user(
        &app.pool,
        &firebreak::services::Actor::command_line(),
        firebreak::services::accounts::NewUserInput {
            email: email.into(),
            display_name: "Added From The CLI".into(),
            role: role.into(),
            password: "a long enough password".into(),
            time_zone: "UTC".into(),
        },
    )
    .await
    .expect("add a user")
}

#[tokio::test]
async fn an_existing_account_is_linked_by_its_verified_email() {
    let (app, _provider) = spawn_with_provider(SsoSetup::default()).await;
    let dave = add_cli_user(&app, "dave@example.test", "responder").await;
    let person = Person::new();
    assert_eq!(sign_in_as(&app, &person, "dave").await.status(), StatusCode::SEE_OTHER);
    let html = html_of(visit(&person, &format!("{}/incidents", app.address)).await, StatusCode::OK).await;
    assert!(html.contains("Added From The CLI"), "the existing account, not a new one");
    assert_eq!(account(&app, "dave@example.test").await, Some(("responder".into(), Some("dave".into()))));
    assert_eq!(audit_count(&app, "sso.linked", "subject dave at %").await, 1);
    assert_eq!(app.count("SELECT count(*) AS n FROM users WHERE is_service = false").await, 1);
    assert_eq!(dave.email, "dave@example.test");
}

#[tokio::test]
async fn an_unverified_email_creates_no_account() {
    let (app, _provider) = spawn_with_provider(SsoSetup::default()).await;
    let person = Person::new();
    let response = sign_in_as(&app, &person, "unverified-erin").await;
    let html = html_of(response, StatusCode::FORBIDDEN).await;
    assert!(html.contains("Your email address is not verified"), "{html}");
    assert_eq!(account(&app, "erin@example.test").await, None);
    assert_eq!(audit_count(&app, "sso.refused", "email_unverified%").await, 1);
}

#[tokio::test]
async fn a_disabled_account_stays_disabled_whatever_the_provider_says() {
    let (app, _provider) = spawn_with_provider(SsoSetup::default()).await;
    assert_eq!(sign_in_as(&app, &Person::new(), "frank").await.status(), StatusCode::SEE_OTHER);
    app.count("WITH u AS (UPDATE users SET disabled = true WHERE email = 'frank@example.test' RETURNING 1) SELECT count(*) AS n FROM u")
        .await;
    let html = html_of(sign_in_as(&app, &Person::new(), "frank").await, StatusCode::FORBIDDEN).await;
    assert!(html.contains("Your account is disabled"));
    assert_eq!(audit_count(&app, "sso.refused", "account_disabled%").await, 1);
}

/// The misbehaving provider's token is refused with a clear page, an audit entry
/// naming the failed check, and no account.
async fn assert_token_refused(misbehave: &'static str, check: &str) {
    let (app, _provider) = spawn_with_provider(SsoSetup { misbehave, ..Default::default() }).await;
    let person = Person::new();
    let response = sign_in_as(&app, &person, "mallory").await;
    let html = html_of(response, StatusCode::FORBIDDEN).await;
    assert!(html.contains("failed a security check"), "{misbehave}: {html}");
    assert_eq!(account(&app, "mallory@example.test").await, None, "{misbehave}: no account");
    assert_eq!(app.count("SELECT count(*) AS n FROM users").await, 0, "{misbehave}: no account at all");
    assert_eq!(
        audit_count(&app, "sso.refused", &format!("token_rejected: %{check}%")).await,
        1,
        "{misbehave}: the audit log says why"
    );
    let home = visit(&person, &format!("{}/incidents", app.address)).await;
    assert_eq!(home.status(), StatusCode::SEE_OTHER, "{misbehave}: not signed in");
}

#[tokio::test]
async fn a_tampered_signature_is_refused() {
    assert_token_refused("bad-signature", "signature").await;
}

#[tokio::test]
async fn a_token_for_another_audience_is_refused() {
    assert_token_refused("wrong-audience", "audience").await;
}

#[tokio::test]
async fn an_expired_token_is_refused() {
    assert_token_refused("expired", "expired").await;
}

#[tokio::test]
async fn a_token_with_the_wrong_nonce_is_refused() {
    assert_token_refused("wrong-nonce", "nonce").await;
}

#[tokio::test]
async fn new_provider_keys_are_fetched_when_a_token_names_one() {
    let (app, _provider) = spawn_with_provider(SsoSetup { misbehave: "rotate-keys", ..Default::default() }).await;
    let response = sign_in_as(&app, &Person::new(), "grace").await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER, "signed with a key published after discovery");
    assert_eq!(account(&app, "grace@example.test").await.map(|a| a.0), Some("viewer".into()));
}

#[tokio::test]
async fn a_replayed_callback_is_refused() {
    let (app, _provider) = spawn_with_provider(SsoSetup::default()).await;
    let person = Person::new();
    let start = press_sign_in_with_provider(&app, &person).await;
    let callback = through_provider(&person, start, "heidi", AtProvider::SignInAndAllow).await;
    let binding = person.cookie(&callback, "firebreak_oidc").expect("the sign-in is bound to this browser");
    assert_eq!(visit(&person, &callback).await.status(), StatusCode::SEE_OTHER, "the first use signs in");

    // The same state again, with the cookie that carried it: used up.
    let attacker = reqwest::Client::builder().redirect(Policy::none()).build().expect("client");
    let replay =
        attacker.get(&callback).header("Cookie", format!("firebreak_oidc={binding}")).send().await.expect("replay");
    let html = html_of(replay, StatusCode::BAD_REQUEST).await;
    assert!(html.contains("expired or was already used"), "{html}");
    // And in the same browser.
    assert_eq!(visit(&person, &callback).await.status(), StatusCode::BAD_REQUEST);
    assert_eq!(audit_count(&app, "sso.refused", "unknown_state%").await, 2);
    assert_eq!(app.count("SELECT count(*) AS n FROM users").await, 1);
}

#[tokio::test]
async fn a_callback_from_another_browser_is_refused() {
    let (app, _provider) = spawn_with_provider(SsoSetup::default()).await;
    let victim = Person::new();
    let start = press_sign_in_with_provider(&app, &victim).await;
    let callback = through_provider(&victim, start, "ivan", AtProvider::SignInAndAllow).await;
    let other = Person::new();
    let html = html_of(visit(&other, &callback).await, StatusCode::BAD_REQUEST).await;
    assert!(html.contains("in the browser that started them"));
    assert_eq!(app.count("SELECT count(*) AS n FROM users").await, 0);
}

#[tokio::test]
async fn cancelling_at_the_provider_says_what_to_do() {
    let (app, _provider) = spawn_with_provider(SsoSetup::default()).await;
    let person = Person::new();
    let start = press_sign_in_with_provider(&app, &person).await;
    let callback = through_provider(&person, start, "judy", AtProvider::Cancel).await;
    let html = html_of(visit(&person, &callback).await, StatusCode::FORBIDDEN).await;
    assert!(html.contains("Sign-in was cancelled at the identity provider"));
    assert_eq!(audit_count(&app, "sso.refused", "consent_denied: access_denied%").await, 1);
    assert_eq!(app.count("SELECT count(*) AS n FROM users").await, 0);
}

#[tokio::test]
async fn an_unreachable_provider_gets_a_clear_page() {
    let closed = free_address();
    let issuer = format!("http://{closed}");
    let app = spawn_app_with(|s| {
        s.sign_in = SignInSettings { oidc: Some(oidc_settings(&issuer, false)), ..Default::default() };
    })
    .await;
    let person = Person::new();
    let response = press_sign_in_with_provider(&app, &person).await;
    let html = html_of(response, StatusCode::BAD_GATEWAY).await;
    assert!(html.contains("The identity provider cannot be reached"));
    assert_eq!(audit_count(&app, "sso.refused", "provider_unreachable%").await, 1);
}

#[tokio::test]
async fn password_sign_in_can_be_turned_off() {
    let (app, _provider) = spawn_with_provider(SsoSetup { password_login: false, ..Default::default() }).await;
    let user = app.create_user(Role::Admin).await;
    let browser = app.browser();
    let html = browser.page("/login").await;
    assert!(html.contains(&format!("Sign in with {PROVIDER_NAME}")));
    assert!(!html.contains("type=\"password\""), "no password field");
    let response = browser
        .submit("/login", "/login", &[("email", user.email.as_str()), ("password", user.password.as_str())])
        .await;
    let html = html_of(response, StatusCode::FORBIDDEN).await;
    assert!(html.contains("Password sign-in is turned off"));
    assert_eq!(browser.get("/incidents").await.status(), StatusCode::SEE_OTHER, "not signed in");
}

#[tokio::test]
async fn signing_out_also_signs_out_at_the_provider() {
    let (app, provider) = spawn_with_provider(SsoSetup::default()).await;
    let person = Person::new();
    assert_eq!(sign_in_as(&app, &person, "kate").await.status(), StatusCode::SEE_OTHER);
    let html = html_of(visit(&person, &format!("{}/incidents", app.address)).await, StatusCode::OK).await;
    let token = csrf_token(&html);
    let response = person
        .client
        .post(format!("{}/logout", app.address))
        .form(&[("csrf_token", token.as_str())])
        .send()
        .await
        .expect("sign out");
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    let to = location(&response);
    assert!(to.starts_with(&format!("{}/session/end?", provider.issuer)), "to the provider's end-session page: {to}");
    assert!(to.contains(&format!("client_id={CLIENT_ID}")), "{to}");
    let at_provider = visit(&person, &to).await;
    assert_eq!(at_provider.status(), StatusCode::OK, "the provider asks to confirm the sign-out");
    assert_eq!(visit(&person, &format!("{}/incidents", app.address)).await.status(), StatusCode::SEE_OTHER);

    // Someone who signed in with a password just goes back to our sign-in page.
    let user = app.create_user(Role::Viewer).await;
    let browser = app.browser();
    browser.sign_in(&user.email, &user.password).await;
    let response = browser.submit("/incidents", "/logout", &[]).await;
    assert_eq!(location(&response), "/login");
}

/// Signs in through the provider in a real browser, as `login`.
async fn browser_sign_in(browser: &fantoccini::Client, address: &str, login: &str) {
    use fantoccini::Locator;
    let page = std::time::Duration::from_secs(15);
    browser.goto(&format!("{address}/login")).await.expect("open /login");
    let button = format!("//button[normalize-space()='Sign in with {PROVIDER_NAME}']");
    browser.find(Locator::XPath(&button)).await.expect("the provider's button").click().await.expect("click");
    browser
        .wait()
        .at_most(page)
        .for_element(Locator::Css("input[name='login']"))
        .await
        .expect("the provider's sign-in page")
        .send_keys(login)
        .await
        .expect("type the login");
    browser.find(Locator::Css("input[name='password']")).await.expect("password").send_keys("x").await.expect("type");
    browser.find(Locator::Css("button[type='submit']")).await.expect("submit").click().await.expect("click");
    browser
        .wait()
        .at_most(page)
        .for_element(Locator::XPath("//button[normalize-space()='Continue']"))
        .await
        .expect("the provider's consent page")
        .click()
        .await
        .expect("allow");
    browser
        .wait()
        .at_most(page)
        .for_element(Locator::XPath("//form[@action='/logout']"))
        .await
        .unwrap_or_else(|e| panic!("{login} should be signed in to Firebreak: {e}"));
}

#[tokio::test]
async fn in_a_browser_people_sign_in_and_out_through_the_provider() {
    use fantoccini::Locator;
    let page = std::time::Duration::from_secs(15);
    let driver = crate::browser::Chromedriver::start();
    let (app, provider) = spawn_with_provider(SsoSetup { groups: true, ..Default::default() }).await;

    // A new person gets the default role.
    let alice = driver.new_session("alice").await;
    browser_sign_in(&alice, &app.address, "alice").await;
    alice.find(Locator::Css(".badge-viewer")).await.expect("alice is a viewer");

    // A member of the admin group is an admin.
    let carol = driver.new_session("carol").await;
    browser_sign_in(&carol, &app.address, "lead-carol").await;
    carol.find(Locator::Css(".badge-admin")).await.expect("carol is an admin");
    carol.goto(&format!("{}/admin/users", app.address)).await.expect("open the users page");
    carol.find(Locator::XPath("//h1[normalize-space()='Users']")).await.expect("the admin page opens");

    // Signing out reaches the provider, which asks to confirm, then sends carol back to us.
    carol
        .find(Locator::XPath("//form[@action='/logout']//button"))
        .await
        .expect("sign-out")
        .click()
        .await
        .expect("click");
    carol
        .wait()
        .at_most(page)
        .for_element(Locator::Css("button[name='logout'][value='yes']"))
        .await
        .expect("the provider's sign-out page")
        .click()
        .await
        .expect("confirm");
    let back = format!("//button[normalize-space()='Sign in with {PROVIDER_NAME}']");
    carol.wait().at_most(page).for_element(Locator::XPath(&back)).await.expect("back on Firebreak's sign-in page");
    assert!(carol.current_url().await.expect("url").as_str().starts_with(&format!("{}/login", app.address)));
    assert!(!provider.issuer.is_empty());

    alice.close().await.expect("close");
    carol.close().await.expect("close");
}
