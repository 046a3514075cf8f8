//! A form fuzzer (issue 16, item 9): signed in as an admin over the demo's
//! data, it walks the app's pages like a person clicking every link, finds
//! every form on them, and submits each with hostile values (NUL and control
//! characters, 100,000 characters, markup, SQL, impossible numbers and dates,
//! right-to-left text). No answer may be a 5xx, and no submitted markup may
//! come back unescaped. The API has its own fuzzer: schemathesis in api.rs.

use std::collections::{BTreeMap, HashSet, VecDeque};

use reqwest::StatusCode;

use crate::helpers::{Browser, csrf_token, location, spawn_app, test_settings};

const SCRIPT: &str = "<script>alert('fuzz')</script>";

/// The hostile values, tried in turn on every field.
fn payloads() -> Vec<String> {
    vec![
        String::new(),
        "a\u{0}b".to_owned(),
        "\u{1}\u{1b}[31m\r\n\t\u{7f}".to_owned(),
        "x".repeat(100_000),
        SCRIPT.to_owned(),
        "' OR 1=1; DROP TABLE users; --".to_owned(),
        "-1".to_owned(),
        "99999999999999999999999".to_owned(),
        "1e309".to_owned(),
        "NaN".to_owned(),
        "2026-02-30T25:61".to_owned(),
        "0000-00-00".to_owned(),
        "\u{202e}\u{1f600}\u{fffd}\u{10ffff}".to_owned(),
        "../../etc/passwd".to_owned(),
        "%00%zz&a=b".to_owned(),
        "   ".to_owned(),
    ]
}

#[derive(Debug, Clone)]
struct Form {
    method: String,
    action: String,
    /// Field names (repeated names once), with the values a person could pick (select, radio, checkbox).
    fields: BTreeMap<String, Vec<String>>,
}

fn attr(tag: &str, name: &str) -> Option<String> {
    let key = format!(" {name}=\"");
    let start = tag.find(&key)? + key.len();
    let end = tag[start..].find('"')? + start;
    Some(tag[start..end].replace("&amp;", "&").replace("&#x2f;", "/").replace("&#x2F;", "/"))
}

/// Every form on a page (the templates always quote attributes with ").
fn forms_of(html: &str) -> Vec<Form> {
    let mut forms = Vec::new();
    for chunk in html.split("<form").skip(1) {
        let Some(tag_end) = chunk.find('>') else { continue };
        let tag = &chunk[..tag_end];
        let body = &chunk[tag_end..chunk.find("</form>").unwrap_or(chunk.len())];
        let method = attr(tag, "method").unwrap_or_else(|| "get".to_owned()).to_lowercase();
        let Some(action) = attr(tag, "action") else { continue };
        let mut fields: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for kind in ["<input", "<select", "<textarea", "<button"] {
            for piece in body.split(kind).skip(1) {
                let inner = &piece[..piece.find('>').unwrap_or(piece.len())];
                let Some(name) = attr(inner, "name") else { continue };
                let values = fields.entry(name).or_default();
                if let Some(v) = attr(inner, "value") {
                    values.push(v);
                }
            }
        }
        forms.push(Form { method, action, fields });
    }
    forms
}

/// The same page shape whatever ids it holds: "/incidents/7/tasks/3" → "/incidents/N/tasks/N".
fn shape(path: &str) -> String {
    path.split('/')
        .map(|s| if !s.is_empty() && s.chars().all(|c| c.is_ascii_digit()) { "N" } else { s })
        .collect::<Vec<_>>()
        .join("/")
}

/// Pages not to open: streams that never end, files, and signing out.
fn skipped(path: &str) -> bool {
    ["/events", "/static/", "/logout", ".ics", ".csv", ".json", "/feed", ".atom", ".rss", "/metrics", "/ack/"]
        .iter()
        .any(|s| path.contains(s))
}

/// Actions that would end the fuzzer's own session or lock it out (they are tested elsewhere).
fn signs_out(action: &str, own_admin_page: &str) -> bool {
    action == "/logout" || action.starts_with("/account/sessions/") || action.starts_with(own_admin_page)
}

async fn crawl(browser: &Browser) -> Vec<Form> {
    let mut queue: VecDeque<String> = VecDeque::from(vec!["/".to_owned()]);
    let mut seen_paths = HashSet::new();
    let mut per_shape: BTreeMap<String, usize> = BTreeMap::new();
    let mut forms: BTreeMap<(String, String), Form> = BTreeMap::new();
    let mut pages = 0;
    while let Some(path) = queue.pop_front() {
        if pages >= 250 || !seen_paths.insert(path.clone()) {
            continue;
        }
        let count = per_shape.entry(shape(path.split('?').next().unwrap_or(&path))).or_default();
        *count += 1;
        if *count > 2 {
            continue;
        }
        pages += 1;
        let response = browser.get(&path).await;
        assert!(!response.status().is_server_error(), "GET {path} answered {}", response.status());
        if response.status() != StatusCode::OK {
            continue;
        }
        let html = response.text().await.expect("page");
        for form in forms_of(&html) {
            forms.entry((form.method.clone(), shape(&form.action))).or_insert(form);
        }
        for link in html.split("href=\"").skip(1) {
            let target = &link[..link.find('"').unwrap_or(0)];
            let target = target.replace("&amp;", "&");
            if target.starts_with('/') && !target.starts_with("//") && !skipped(&target) {
                queue.push_back(target.split('#').next().unwrap_or_default().to_owned());
            }
        }
    }
    eprintln!("the fuzzer opened {pages} pages and found {} distinct forms", forms.len());
    forms.into_values().collect()
}

async fn sign_in_again(browser: &Browser, email: &str, password: &str) {
    let response = browser.get("/").await;
    if response.status() == StatusCode::SEE_OTHER && location(&response).starts_with("/login") {
        browser.sign_in(email, password).await;
    }
}

#[tokio::test]
async fn no_form_answers_a_5xx_or_echoes_markup_whatever_is_typed() {
    let app = spawn_app().await;
    let demo = firebreak::services::demo::fill(&app.pool, &test_settings(&app.db_url)).await.expect("demo data");
    let browser = app.browser();
    browser.sign_in(&demo.admin_email, &demo.admin_password).await;
    let own_id = app.count(&format!("SELECT id AS n FROM users WHERE email = '{}'", demo.admin_email)).await;
    let own_admin_page = format!("/admin/users/{own_id}/");
    let forms = crawl(&browser).await;
    assert!(forms.len() >= 40, "the walk found only {} forms", forms.len());

    let payloads = payloads();
    let mut sent = 0;
    for (f, form) in forms.iter().enumerate() {
        if signs_out(&form.action, &own_admin_page) {
            continue;
        }
        for variant in 0..4 {
            // A fresh token each time: an earlier submission may have signed the fuzzer out.
            sign_in_again(&browser, &demo.admin_email, &demo.admin_password).await;
            let token = csrf_token(&browser.get("/account").await.text().await.expect("account page"));
            let mut fields: Vec<(String, String)> = vec![("csrf_token".to_owned(), token)];
            for (i, (name, values)) in form.fields.iter().enumerate() {
                if name == "csrf_token" {
                    continue;
                }
                let pick = f + i * 3 + variant;
                // Half the time a value the page offers, so deeper checks are reached too.
                let value = match values.get(pick % 2 + variant) {
                    Some(v) if variant % 2 == 0 => v.clone(),
                    _ => payloads[pick % payloads.len()].clone(),
                };
                fields.push((name.clone(), value));
            }
            if form.method != "post" {
                // A browser sends a search in the URL, which servers cap at a few kilobytes.
                for (_, v) in fields.iter_mut() {
                    *v = v.chars().take(2_000).collect();
                }
            }
            let url = format!("{}{}", browser.address, form.action);
            let response = if form.method == "post" {
                browser.client.post(&url).form(&fields).send().await
            } else {
                browser.client.get(&url).query(&fields).send().await
            }
            .unwrap_or_else(|e| panic!("{} {} was not answered: {}", form.method, form.action, e.without_url()));
            let status = response.status();
            let body = response.text().await.unwrap_or_default();
            sent += 1;
            assert!(
                !status.is_server_error(),
                "{} {} answered {status} for {:?}",
                form.method,
                form.action,
                fields.iter().map(|(k, v)| (k, v.chars().take(40).collect::<String>())).collect::<Vec<_>>()
            );
            assert!(!body.contains(SCRIPT), "{} {} echoed markup unescaped", form.method, form.action);
        }
    }
    eprintln!("the fuzzer sent {sent} submissions: no 5xx");
}
