//! Every page passes axe-core's WCAG 2.1 A and AA rules in headless Chromium,
//! in the light and the dark colour scheme, with realistic data on it.
//! axe-core comes from npm (tests/tools, which ./scripts/test installs).

use std::fmt::Write as _;

use chrono::{Duration, Utc};
use fantoccini::wd::WebDriverCompatibleCommand;
use fantoccini::{Client, Locator};
use firebreak::domain::Role;
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::browser::{Chromedriver, sign_in};
use crate::helpers::{Browser, TestApp, location, spawn_app};
use crate::updates::scalar;

/// The rule sets checked: WCAG 2.0 and 2.1, levels A and AA.
const RUN_AXE: &str = "
    const done = arguments[arguments.length - 1];
    axe.run(document, {
        runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa'] },
        resultTypes: ['violations'],
    }).then(
        r => done({ violations: r.violations.map(v => ({
            id: v.id, impact: v.impact, help: v.help,
            nodes: v.nodes.map(n => ({ target: n.target, summary: n.failureSummary })),
        })) }),
        e => done({ error: String(e) }),
    );";

#[tokio::test]
async fn every_page_passes_axe_in_light_and_dark() {
    let axe_source = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/tools/node_modules/axe-core/axe.min.js"),
    )
    .expect("axe-core is missing: run ./scripts/test, or `npm ci` in tests/tools");
    let driver = Chromedriver::start();
    let app = spawn_app().await;
    let admin_user = app.create_user(Role::Admin).await;
    let admin = app.browser();
    admin.sign_in(&admin_user.email, &admin_user.password).await;
    let seeded = seed(&app, &admin).await;

    let browser = driver.new_session("axe").await;
    let mut failures = String::new();
    // The first-run page, on an app nobody has an account on yet.
    let fresh = spawn_app().await;
    check_page(&browser, &fresh.address, "/setup", &axe_source, &mut failures).await;
    drop(fresh);
    // Sign-in through an identity provider: its button, and the page of a refused sign-in.
    let (sso, _provider) = crate::sso::spawn_with_provider(Default::default()).await;
    for path in ["/login", "/login/oidc/callback"] {
        check_page(&browser, &sso.address, path, &axe_source, &mut failures).await;
    }
    drop(sso);
    let public_pages = [
        "/login".to_owned(),
        "/status".to_owned(),
        "/status/history".to_owned(),
        format!("/status/incidents/{}", seeded.public_id),
        "/status/subscribe".to_owned(),
    ];
    for path in &public_pages {
        check_page(&browser, &app.address, path, &axe_source, &mut failures).await;
    }
    let refused = ("/status/subscribe", "Subscribe to updates", ".field-error");
    check_answer(&browser, &app.address, refused, &axe_source, &mut failures).await;

    sign_in(&browser, &app.address, &admin_user).await;
    let incident = &seeded.incident;
    let postmortem = app.count(&format!("SELECT id AS n FROM postmortems WHERE incident_id = {incident}")).await;
    let pages = [
        "/".to_owned(),
        "/incidents".to_owned(),
        "/incidents/new".to_owned(),
        format!("/incidents/{incident}"),
        format!("/incidents/{incident}/updates/new"),
        "/admin/users".to_owned(),
        "/admin/users/new".to_owned(),
        format!("/admin/users/{}", admin_user.id),
        "/admin/components".to_owned(),
        format!("/admin/components/{}", seeded.component),
        "/admin/groups".to_owned(),
        format!("/admin/groups/{}", seeded.group),
        format!("/admin/groups/{}/delete", seeded.group),
        "/admin/outbox".to_owned(),
        format!("/admin/outbox/{}", app.count("SELECT min(id) AS n FROM outbox").await),
        "/admin/audit".to_owned(),
        "/maintenances".to_owned(),
        "/maintenances/new".to_owned(),
        seeded.maintenance.clone(),
        "/account".to_owned(),
        "/no-such-page".to_owned(),
        "/admin".to_owned(),
        "/tasks".to_owned(),
        "/postmortems".to_owned(),
        format!("/postmortems/{postmortem}"),
        format!("/postmortems/{postmortem}/edit"),
        "/runbooks".to_owned(),
        "/runbooks/new".to_owned(),
        "/reports".to_owned(),
        "/admin/alert-sources".to_owned(),
        "/admin/webhooks".to_owned(),
        "/admin/api-tokens".to_owned(),
        "/oncall".to_owned(),
        "/oncall/policies".to_owned(),
        "/oncall/routing".to_owned(),
        "/oncall/me".to_owned(),
        "/oncall/reports".to_owned(),
        format!("/incidents/{incident}/paging"),
    ];
    for path in &pages {
        check_page(&browser, &app.address, path, &axe_source, &mut failures).await;
    }
    // Forms answered with messages per field, and the update's preview.
    let update_form = format!("/incidents/{incident}/updates/new");
    for answer in [
        ("/incidents/new", "Declare incident", ".field-error"),
        ("/admin/components", "Add component", ".field-error"),
        ("/maintenances/new", "Schedule maintenance", ".field-error"),
        ("/oncall", "Create schedule", ".field-error"),
        (update_form.as_str(), "Preview update", "#preview"),
    ] {
        check_answer(&browser, &app.address, answer, &axe_source, &mut failures).await;
    }
    browser.close().await.expect("close the browser");
    assert!(failures.is_empty(), "axe-core found WCAG 2.1 A/AA violations:\n{failures}");
}

struct Seeded {
    incident: String,
    public_id: String,
    component: String,
    group: String,
    maintenance: String,
}

/// Components, a stakeholder group, an incident with a public update and a
/// maintenance, all made through the app's own forms.
async fn seed(app: &TestApp, admin: &Browser) -> Seeded {
    for (name, group) in [("Website", "Customer facing"), ("Card payments", "Customer facing"), ("Database", "")] {
        let response =
            admin.submit("/admin/components", "/admin/components", &[("name", name), ("group_name", group)]).await;
        assert_eq!(response.status(), StatusCode::SEE_OTHER, "add the component {name}");
    }
    let component = app.count("SELECT id AS n FROM components WHERE name = 'Card payments'").await.to_string();
    let website = app.count("SELECT id AS n FROM components WHERE name = 'Website'").await.to_string();

    let response = admin
        .submit(
            "/admin/groups",
            "/admin/groups",
            &[
                ("name", "Executives"),
                ("description", "Leadership team"),
                ("members", "Ada Lovelace <ada@example.test>\r\nbob@example.test"),
            ],
        )
        .await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER, "add the group");
    let group = location(&response).trim_start_matches("/admin/groups/").to_owned();

    let response = admin
        .submit(
            "/incidents/new",
            "/incidents",
            &[("title", "Card payments fail at checkout"), ("severity", "2"), ("components", &component)],
        )
        .await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER, "declare the incident");
    let incident = location(&response).trim_start_matches("/incidents/").to_owned();
    let response = admin
        .submit(
            &format!("/incidents/{incident}"),
            &format!("/incidents/{incident}/notes"),
            &[("body", "Error rate at 30% since the 09:00 deploy.")],
        )
        .await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER, "add a note");
    let room = format!("/incidents/{incident}");
    for (action, fields) in [
        ("highlights", vec![("mark", "2")]),
        ("tasks", vec![("title", "Roll back deploy 4242"), ("kind", "mitigation"), ("timebox_minutes", "15")]),
        ("changes", vec![("description", "Disable the new checkout flag"), ("rollback_plan", "Enable it again")]),
    ] {
        let response = admin.submit(&room, &format!("{room}/{action}"), &fields).await;
        assert_eq!(response.status(), StatusCode::SEE_OTHER, "{action} in the room");
    }

    let status_choice = format!("{component}:partial_outage");
    let response = admin
        .submit(
            &format!("/incidents/{incident}/updates/new"),
            &format!("/incidents/{incident}/updates"),
            &[
                ("status", "identified"),
                ("impact_started_at", "2026-01-01T09:00"),
                ("impact", "Card payments fail for some customers."),
                ("actions", "We are rolling back the last deploy."),
                ("next_update", "30"),
                ("component_status", &status_choice),
                ("audience", "both"),
                ("groups", &group),
                ("action", "send"),
            ],
        )
        .await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER, "send the update");
    let public_id = scalar(app, "SELECT public_id AS v FROM incidents").await;

    let minutes = |m: i64| (Utc::now() + Duration::minutes(m)).format("%Y-%m-%dT%H:%M").to_string();
    let (starts, ends) = (minutes(60), minutes(120));
    let response = admin
        .submit(
            "/maintenances/new",
            "/maintenances",
            &[
                ("title", "Database upgrade"),
                ("message", "We upgrade the database.\nExpect a short read-only period."),
                ("starts_at", &starts),
                ("ends_at", &ends),
                ("components", &website),
            ],
        )
        .await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER, "schedule the maintenance");
    let maintenance = location(&response);

    Seeded { incident, public_id, component, group, maintenance }
}

/// Opens `path` in the light and then the dark colour scheme, runs axe on it
/// and appends what it finds to `failures`. The scheme is set before the page
/// loads, as for a person whose system is set to it.
async fn check_page(browser: &Client, address: &str, path: &str, axe_source: &str, failures: &mut String) {
    for scheme in ["light", "dark"] {
        set_color_scheme(browser, scheme).await;
        open(browser, address, path).await;
        audit(browser, path, scheme, axe_source, failures).await;
    }
}

/// Like check_page, for the page a form answers with: opens `path`, presses
/// the button labelled `button` and waits for `answer` (a CSS selector).
async fn check_answer(
    browser: &Client,
    address: &str,
    (path, button, answer): (&str, &str, &str),
    axe_source: &str,
    failures: &mut String,
) {
    for scheme in ["light", "dark"] {
        set_color_scheme(browser, scheme).await;
        open(browser, address, path).await;
        browser
            .find(Locator::XPath(&format!("//main//button[normalize-space()='{button}']")))
            .await
            .unwrap_or_else(|e| panic!("{path} has a {button} button: {e}"))
            .click()
            .await
            .expect("click");
        browser
            .wait()
            .at_most(std::time::Duration::from_secs(10))
            .for_element(Locator::Css(answer))
            .await
            .unwrap_or_else(|e| panic!("{button} on {path} should show {answer}: {e}"));
        audit(browser, &format!("{path} after {button}"), scheme, axe_source, failures).await;
    }
}

async fn open(browser: &Client, address: &str, path: &str) {
    browser.goto(&format!("{address}{path}")).await.unwrap_or_else(|e| panic!("open {path}: {e}"));
    let url = browser.current_url().await.expect("url");
    assert_eq!(url.path(), path, "{path} must not redirect");
}

/// Runs axe on the page the browser shows.
pub(crate) async fn audit(browser: &Client, what: &str, scheme: &str, axe_source: &str, failures: &mut String) {
    // Both stylesheets set `color-scheme` in their light and dark palettes.
    let applied = browser
        .execute("return getComputedStyle(document.documentElement).colorScheme;", vec![])
        .await
        .expect("read the colour scheme");
    assert_eq!(applied, json!(scheme), "{what} should be shown in its {scheme} palette");
    browser.execute(&format!("{axe_source}\n;return true;"), vec![]).await.expect("inject axe-core");
    let result = browser.execute_async(RUN_AXE, vec![]).await.unwrap_or_else(|e| panic!("run axe on {what}: {e}"));
    assert!(result["error"].is_null(), "axe failed on {what}: {}", result["error"]);
    for v in result["violations"].as_array().expect("violations") {
        let _ = writeln!(failures, "{what} ({scheme}): {} [{}] {}", v["id"], v["impact"], v["help"]);
        for node in v["nodes"].as_array().into_iter().flatten() {
            let summary = node["summary"].as_str().unwrap_or_default().replace('\n', " ");
            let _ = writeln!(failures, "    {} {summary}", node["target"]);
        }
    }
}

/// Emulates `prefers-color-scheme` through the DevTools protocol; it holds
/// for the pages the session opens next.
async fn set_color_scheme(browser: &Client, scheme: &str) {
    browser
        .issue_cmd(Cdp {
            cmd: "Emulation.setEmulatedMedia",
            params: json!({ "features": [{ "name": "prefers-color-scheme", "value": scheme }] }),
        })
        .await
        .expect("emulate the colour scheme");
}

/// A Chrome DevTools Protocol command, through chromedriver's own endpoint.
#[derive(Debug)]
pub(crate) struct Cdp {
    pub(crate) cmd: &'static str,
    pub(crate) params: Value,
}

impl WebDriverCompatibleCommand for Cdp {
    fn endpoint(&self, base_url: &url::Url, session_id: Option<&str>) -> Result<url::Url, url::ParseError> {
        base_url.join(&format!("session/{}/goog/cdp/execute", session_id.unwrap_or_default()))
    }

    fn method_and_body(&self, _: &url::Url) -> (reqwest::Method, Option<String>) {
        (reqwest::Method::POST, Some(json!({ "cmd": self.cmd, "params": self.params }).to_string()))
    }
}
