//! /reports: incidents with known moments are inserted by SQL across two
//! months and severities (one reopened, one never mitigated, one restricted,
//! one declared on a month boundary); the page must show the exact counts,
//! medians, means, detection shares and follow-ups, in tables and SVG charts.

use reqwest::StatusCode;

use crate::helpers::{TestApp, html_of, location, spawn_app};
use crate::updates::{exec, scalar};
use firebreak::db::UserId;
use firebreak::domain::Role;

/// One incident inserted as stored; `None` is SQL NULL.
struct Seed<'a> {
    severity: i16,
    status: &'a str,
    source: &'a str,
    visibility: &'a str,
    impact: &'a str,
    detected: &'a str,
    declared: &'a str,
    acknowledged: Option<&'a str>,
    mitigated: Option<&'a str>,
    resolved: Option<&'a str>,
}

fn ts(v: Option<&str>) -> String {
    v.map(|t| format!("'{t}'")).unwrap_or_else(|| "NULL".to_owned())
}

async fn insert(app: &TestApp, by: UserId, s: Seed<'_>) -> String {
    scalar(
        app,
        &format!(
            "INSERT INTO incidents (title, kind, severity, status, detection_source, visibility, impact_started_at, \
             detected_at, declared_at, acknowledged_at, mitigated_at, resolved_at, declared_by) \
             VALUES ('Seeded', 'outage', {}, '{}', '{}', '{}', '{}', '{}', '{}', {}, {}, {}, {}) RETURNING id::text AS v",
            s.severity,
            s.status,
            s.source,
            s.visibility,
            s.impact,
            s.detected,
            s.declared,
            ts(s.acknowledged),
            ts(s.mitigated),
            ts(s.resolved),
            by.0
        ),
    )
    .await
}

async fn task(app: &TestApp, incident: &str, by: UserId, kind: &str, status: &str, due: Option<&str>) {
    exec(
        app,
        &format!(
            "INSERT INTO tasks (incident_id, title, kind, status, due_at, created_by) \
             VALUES ({incident}, 'Do it', '{kind}', '{status}', {}, {})",
            ts(due),
            by.0
        ),
    )
    .await;
}

/// The incidents of every test here. In UTC: January 2025 has two SEV1 and
/// one SEV2, February two SEV2 (plus one restricted SEV3); one SEV4 falls on
/// 1 March 02:00 UTC, which is still February in New York.
async fn seed(app: &TestApp, admin: UserId, restricted_owner: UserId) {
    // A: SEV1 by alert; detect 10 min, ack 10, mitigate 60, resolve 120.
    let a = insert(
        app,
        admin,
        Seed {
            severity: 1,
            status: "resolved",
            source: "alert",
            visibility: "internal",
            impact: "2025-01-10 10:00Z",
            detected: "2025-01-10 10:10Z",
            declared: "2025-01-10 10:15Z",
            acknowledged: Some("2025-01-10 10:20Z"),
            mitigated: Some("2025-01-10 11:00Z"),
            resolved: Some("2025-01-10 12:00Z"),
        },
    )
    .await;
    // B: SEV1 reported by a customer, closed; detect 30, ack 20, mitigate 120, resolve 360.
    insert(
        app,
        admin,
        Seed {
            severity: 1,
            status: "closed",
            source: "customer",
            visibility: "public",
            impact: "2025-01-20 08:00Z",
            detected: "2025-01-20 08:30Z",
            declared: "2025-01-20 08:40Z",
            acknowledged: Some("2025-01-20 08:50Z"),
            mitigated: Some("2025-01-20 10:00Z"),
            resolved: Some("2025-01-20 14:00Z"),
        },
    )
    .await;
    // C: SEV2 by alert, still investigating: never mitigated; detect 5, ack 10.
    insert(
        app,
        admin,
        Seed {
            severity: 2,
            status: "investigating",
            source: "alert",
            visibility: "internal",
            impact: "2025-01-25 00:00Z",
            detected: "2025-01-25 00:05Z",
            declared: "2025-01-25 00:10Z",
            acknowledged: Some("2025-01-25 00:15Z"),
            mitigated: None,
            resolved: None,
        },
    )
    .await;
    // D: SEV2 found by staff, resolved then reopened: its old resolution does
    // not count; detect 20, ack 20, mitigate 80.
    insert(
        app,
        admin,
        Seed {
            severity: 2,
            status: "identified",
            source: "staff",
            visibility: "internal",
            impact: "2025-02-03 09:00Z",
            detected: "2025-02-03 09:20Z",
            declared: "2025-02-03 09:30Z",
            acknowledged: Some("2025-02-03 09:40Z"),
            mitigated: Some("2025-02-03 10:20Z"),
            resolved: Some("2025-02-03 11:20Z"),
        },
    )
    .await;
    // E: SEV2 by alert; detect 2, ack 10, mitigate 40, resolve 60.
    let e = insert(
        app,
        admin,
        Seed {
            severity: 2,
            status: "resolved",
            source: "alert",
            visibility: "internal",
            impact: "2025-02-14 12:00Z",
            detected: "2025-02-14 12:02Z",
            declared: "2025-02-14 12:05Z",
            acknowledged: Some("2025-02-14 12:12Z"),
            mitigated: Some("2025-02-14 12:40Z"),
            resolved: Some("2025-02-14 13:00Z"),
        },
    )
    .await;
    // F: restricted SEV3 reported by a customer: counts only for its participants and admins.
    insert(
        app,
        restricted_owner,
        Seed {
            severity: 3,
            status: "resolved",
            source: "customer",
            visibility: "restricted",
            impact: "2025-02-20 10:00Z",
            detected: "2025-02-20 10:01Z",
            declared: "2025-02-20 10:02Z",
            acknowledged: Some("2025-02-20 10:03Z"),
            mitigated: Some("2025-02-20 10:04Z"),
            resolved: Some("2025-02-20 10:05Z"),
        },
    )
    .await;
    // G: SEV4, 1 March 02:00 UTC = 28 February 21:00 in New York.
    insert(
        app,
        admin,
        Seed {
            severity: 4,
            status: "resolved",
            source: "other",
            visibility: "internal",
            impact: "2025-03-01 01:00Z",
            detected: "2025-03-01 01:30Z",
            declared: "2025-03-01 02:00Z",
            acknowledged: Some("2025-03-01 02:10Z"),
            mitigated: Some("2025-03-01 03:00Z"),
            resolved: Some("2025-03-01 04:00Z"),
        },
    )
    .await;
    // Follow-ups: A has one overdue and one due later (plus a done one and a
    // mitigation task, which do not count); E one in progress without a due date.
    task(app, &a, admin, "follow_up", "open", Some("2020-01-01 00:00Z")).await;
    task(app, &a, admin, "follow_up", "in_progress", Some("2999-01-01 00:00Z")).await;
    task(app, &a, admin, "follow_up", "done", Some("2020-01-01 00:00Z")).await;
    task(app, &a, admin, "mitigation", "open", Some("2020-01-01 00:00Z")).await;
    task(app, &e, admin, "follow_up", "in_progress", None).await;
}

/// The text of every cell of the table with this id, row by row.
fn table(html: &str, id: &str) -> Vec<Vec<String>> {
    let start = html.find(&format!("id=\"{id}\"")).unwrap_or_else(|| panic!("table {id} is on the page"));
    let end = start + html[start..].find("</table>").expect("the table ends");
    html[start..end]
        .split("<tr")
        .skip(1)
        .map(|row| {
            let row = &row[..row.find("</tr>").unwrap_or(row.len())];
            row.split("<t")
                .skip(1)
                .filter(|cell| cell.starts_with('h') || cell.starts_with('d'))
                .map(|cell| {
                    let body = &cell[cell.find('>').map_or(0, |i| i + 1)..];
                    body[..body.find("</t").unwrap_or(body.len())].trim().to_owned()
                })
                .collect()
        })
        .collect()
}

fn row(cells: &[&str]) -> Vec<String> {
    cells.iter().map(|c| (*c).to_owned()).collect()
}

fn assert_rows(html: &str, id: &str, expected: &[&[&str]]) {
    let rows = table(html, id);
    for e in expected {
        assert!(rows.contains(&row(e)), "{id} should have the row {e:?}; it has {rows:#?}");
    }
}

const JAN_FEB: &str = "/reports?from=2025-01&to=2025-02";

#[tokio::test]
async fn the_report_shows_exact_counts_medians_means_shares_and_follow_ups() {
    let app = spawn_app().await;
    let admin = app.create_user(Role::Admin).await;
    let owner = app.create_user(Role::Responder).await;
    seed(&app, admin.id, owner.id).await;
    let (viewer, _) = app.signed_in(Role::Viewer).await;

    let html = viewer.page(JAN_FEB).await;
    assert!(html.contains(r#"<h2 id="report-summary-heading">Jan 2025 to Feb 2025</h2>"#));
    assert!(html.contains("<dt>Incidents declared</dt><dd>5</dd>"), "the restricted one and March's are left out");
    assert!(html.contains("<dt>Detected by an alert</dt><dd>3 (60%)</dd>"));
    assert!(html.contains("<dd>3, of which 1 overdue</dd>"));
    assert!(html.contains("Restricted incidents count only if you took part in them."));

    assert_rows(
        &html,
        "table-incidents",
        &[
            &["Month", "SEV1", "SEV2", "SEV3", "SEV4", "All severities"],
            &["Jan 2025", "2", "1", "0", "0", "3"],
            &["Feb 2025", "0", "2", "0", "0", "2"],
            &["All months", "2", "3", "0", "0", "5"],
        ],
    );
    assert_eq!(table(&html, "table-incidents").len(), 4, "a header, two months and the total");

    assert_rows(
        &html,
        "table-times",
        &[
            &[
                "Jan 2025",
                "SEV1",
                "2",
                "20 min",
                "20 min",
                "15 min",
                "15 min",
                "1 h 30 min",
                "1 h 30 min",
                "4 h",
                "4 h",
            ],
            // Never mitigated: no value, not zero.
            &["SEV2", "1", "5 min", "5 min", "10 min", "10 min", "—", "—", "—", "—"],
            &["All severities", "3", "10 min", "15 min", "10 min", "13 min", "1 h 30 min", "1 h 30 min", "4 h", "4 h"],
            // The reopened incident keeps its mitigation but has no resolve time.
            &["Feb 2025", "SEV2", "2", "11 min", "11 min", "15 min", "15 min", "1 h", "1 h", "1 h", "1 h"],
            &["All severities", "2", "11 min", "11 min", "15 min", "15 min", "1 h", "1 h", "1 h", "1 h"],
            &[
                "All months",
                "SEV1",
                "2",
                "20 min",
                "20 min",
                "15 min",
                "15 min",
                "1 h 30 min",
                "1 h 30 min",
                "4 h",
                "4 h",
            ],
            &["SEV2", "3", "5 min", "9 min", "10 min", "13 min", "1 h", "1 h", "1 h", "1 h"],
            &["All severities", "5", "10 min", "13 min", "10 min", "14 min", "1 h 10 min", "1 h 15 min", "2 h", "3 h"],
        ],
    );

    assert_rows(
        &html,
        "table-detection",
        &[
            &["Jan 2025", "SEV1", "2", "1 (50%)", "1 (50%)", "0 (0%)"],
            &["SEV2", "1", "1 (100%)", "0 (0%)", "0 (0%)"],
            &["All severities", "3", "2 (67%)", "1 (33%)", "0 (0%)"],
            &["All severities", "2", "1 (50%)", "0 (0%)", "1 (50%)"],
            &["All severities", "5", "3 (60%)", "1 (20%)", "1 (20%)"],
        ],
    );

    assert_rows(
        &html,
        "table-followups",
        &[
            &["Jan 2025", "SEV1", "2", "2", "1"],
            &["SEV2", "1", "0", "0"],
            &["Feb 2025", "SEV2", "2", "1", "0"],
            &["All severities", "5", "3", "1"],
        ],
    );

    // Four charts, each an accessible image named by its title, drawn without style attributes.
    assert_eq!(html.matches(r#"<svg class="chart" viewBox="0 0 720 300" role="img" aria-labelledby="#).count(), 4);
    assert!(html.contains(
        r#"aria-labelledby="chart-incidents-title chart-incidents-desc"><title id="chart-incidents-title">Incidents per month by severity, Jan 2025 to Feb 2025</title>"#
    ));
    assert!(html.contains("<title>Jan 2025 · SEV1: 2</title>"), "each bar says what it is");
    assert!(html.contains("<title>Jan 2025 · Median time to resolve: 4 h</title>"));
    assert!(html.contains("<title>Feb 2025 · Staff or other: 50%</title>"));
    assert!(html.contains("<title>Jan 2025 · Overdue: 1</title>"));
    assert!(!html.contains("style="), "the CSP forbids inline styles");
    assert!(!html.contains("Seeded"), "no incident titles on the report");
}

#[tokio::test]
async fn restricted_incidents_count_for_admins_and_participants_only() {
    let app = spawn_app().await;
    let admin = app.create_user(Role::Admin).await;
    let owner = app.create_user(Role::Responder).await;
    seed(&app, admin.id, owner.id).await;

    let as_admin = app.browser();
    as_admin.sign_in(&admin.email, &admin.password).await;
    let html = as_admin.page(JAN_FEB).await;
    assert_rows(&html, "table-incidents", &[&["Feb 2025", "0", "2", "1", "0", "3"]]);
    assert!(html.contains("Restricted incidents are included."));

    let as_owner = app.browser();
    as_owner.sign_in(&owner.email, &owner.password).await;
    let html = as_owner.page(JAN_FEB).await;
    assert_rows(&html, "table-incidents", &[&["Feb 2025", "0", "2", "1", "0", "3"]]);
    assert_rows(&html, "table-detection", &[&["SEV3", "1", "0 (0%)", "1 (100%)", "0 (0%)"]]);

    let (responder, _) = app.signed_in(Role::Responder).await;
    let html = responder.page(JAN_FEB).await;
    assert_rows(&html, "table-incidents", &[&["Feb 2025", "0", "2", "0", "0", "2"]]);
}

#[tokio::test]
async fn months_are_the_viewers_months() {
    let app = spawn_app().await;
    let admin = app.create_user(Role::Admin).await;
    seed(&app, admin.id, admin.id).await;
    let (browser, me) = app.signed_in(Role::Viewer).await;
    exec(&app, &format!("UPDATE users SET time_zone = 'America/New_York' WHERE id = {}", me.id.0)).await;

    let html = browser.page(JAN_FEB).await;
    // 1 March 02:00 UTC is 28 February in New York: the SEV4 counts in February.
    assert_rows(
        &html,
        "table-incidents",
        &[&["Jan 2025", "2", "1", "0", "0", "3"], &["Feb 2025", "0", "2", "0", "1", "3"]],
    );
    assert!(html.contains("calendar months in America/New_York"));
    // In UTC it is March's, outside the range.
    exec(&app, &format!("UPDATE users SET time_zone = 'UTC' WHERE id = {}", me.id.0)).await;
    let html = browser.page(JAN_FEB).await;
    assert_rows(&html, "table-incidents", &[&["Feb 2025", "0", "2", "0", "0", "2"]]);
    let html = browser.page("/reports?from=2025-03&to=2025-03").await;
    assert_rows(&html, "table-incidents", &[&["Mar 2025", "0", "0", "0", "1", "1"]]);
}

#[tokio::test]
async fn filters_choose_the_months_and_the_severity() {
    let app = spawn_app().await;
    let admin = app.create_user(Role::Admin).await;
    seed(&app, admin.id, admin.id).await;
    let (browser, _) = app.signed_in(Role::Viewer).await;

    // One severity: its column only, and no "All severities" lines.
    let html = browser.page("/reports?from=2025-01&to=2025-02&severity=2").await;
    assert_eq!(
        table(&html, "table-incidents"),
        vec![row(&["Month", "SEV2"]), row(&["Jan 2025", "1"]), row(&["Feb 2025", "2"]), row(&["All months", "3"]),]
    );
    assert_rows(
        &html,
        "table-times",
        &[&["All months", "SEV2", "3", "5 min", "9 min", "10 min", "13 min", "1 h", "1 h", "1 h", "1 h"]],
    );
    assert!(!html.contains("All severities</th>"));
    assert!(html.contains(r#"<option value="2" selected>SEV2</option>"#), "the form shows the choice");

    // Empty months still appear, with zeros and no times.
    let html = browser.page("/reports?from=2024-11&to=2025-01").await;
    assert_rows(
        &html,
        "table-incidents",
        &[
            &["Nov 2024", "0", "0", "0", "0", "0"],
            &["Dec 2024", "0", "0", "0", "0", "0"],
            &["Jan 2025", "2", "1", "0", "0", "3"],
        ],
    );
    assert_rows(&html, "table-times", &[&["Dec 2024", "All severities", "0", "—", "—", "—", "—", "—", "—", "—", "—"]]);
    assert_rows(&html, "table-detection", &[&["Nov 2024", "All severities", "0", "—", "—", "—"]]);

    // Nothing at all: the charts say so.
    let html = browser.page("/reports?from=2019-01&to=2019-03").await;
    assert!(html.contains("No incidents were declared in these months."));
    assert!(html.contains("<dt>Incidents declared</dt><dd>0</dd>"));

    // The default: the last twelve months, this one included, in the form.
    let html = browser.page("/reports").await;
    let months = table(&html, "table-incidents").len() - 2;
    assert_eq!(months, 12);
    assert!(html.contains(r#"<button type="submit" class="button button-secondary">Show report</button>"#));
    assert!(
        html.contains(r#"<label for="from">From month</label>"#)
            && html.contains(r#"<label for="severity">Severity</label>"#)
    );
    // Only "from": twelve months from it.
    let html = browser.page("/reports?from=2025-01").await;
    assert!(html.contains(r#"<h2 id="report-summary-heading">Jan 2025 to Dec 2025</h2>"#));
}

#[tokio::test]
async fn bad_choices_get_a_message_not_an_error_page() {
    let app = spawn_app().await;
    let (browser, _) = app.signed_in(Role::Viewer).await;

    let response = browser.get("/reports?from=2025-13&to=soon&severity=9").await;
    let html = html_of(response, StatusCode::UNPROCESSABLE_ENTITY).await;
    assert!(html.contains("“2025-13” is not a month: enter it as year-month, like 2026-11."));
    assert!(html.contains("“soon” is not a month"));
    assert!(html.contains("Choose a severity from SEV1 to SEV4."));
    assert!(html.contains(r#"aria-invalid="true" aria-describedby="from-error""#));
    assert!(html.contains(r#"aria-invalid="true" aria-describedby="severity-error""#));
    assert!(!html.contains("<svg"), "no report for choices that make no sense");

    let response = browser.get("/reports?from=2025-06&to=2025-01&severity=1").await;
    let html = html_of(response, StatusCode::UNPROCESSABLE_ENTITY).await;
    assert!(html.contains("The last month (Jan 2025) is before the first (Jun 2025): swap them."));
    assert!(html.contains(r#"value="2025-06""#), "the valid values are kept");
    assert!(html.contains(r#"<option value="1" selected>SEV1</option>"#));

    let response = browser.get("/reports?from=2015-01&to=2025-01").await;
    let html = html_of(response, StatusCode::UNPROCESSABLE_ENTITY).await;
    assert!(html.contains("Choose at most 60 months; this range has 121."));

    // A query that cannot even be read is refused, not a crash.
    let response = browser.get("/reports?from=2025-01&from=2025-02").await;
    assert!(response.status().is_client_error(), "{}", response.status());
}

#[tokio::test]
async fn reports_need_a_signed_in_user() {
    let app = spawn_app().await;
    let response = app.browser().get("/reports").await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert!(location(&response).starts_with("/login"));
}

#[tokio::test]
async fn each_component_has_its_incidents_times_and_uptime_and_every_report_downloads_as_csv() {
    let app = spawn_app().await;
    let (browser, _) = app.signed_in(Role::Responder).await;
    let api = crate::updates::component(&app, "Payments, EU").await;
    let search = crate::updates::component(&app, "Search").await;
    exec(&app, &format!("UPDATE components SET created_at = now() - interval '1 second' WHERE id = {search}")).await;
    // Created on the 1st of last month, 2 h of major outage on the 2nd; one incident of 90 min.
    exec(
        &app,
        &format!("UPDATE components SET created_at = date_trunc('month', now() - interval '1 month') WHERE id = {api}"),
    )
    .await;
    exec(
        &app,
        &format!(
            "INSERT INTO component_status_changes (component_id, old_status, new_status, changed_at) VALUES
             ({api}, 'operational', 'major_outage', date_trunc('month', now() - interval '1 month') + interval '1 day'),
             ({api}, 'major_outage', 'operational', date_trunc('month', now() - interval '1 month') + interval '1 day 2 hours')"
        ),
    )
    .await;
    let id = crate::updates::declare(&browser, &[("title", "Payments fail"), ("components", api.as_str())]).await;
    exec(
        &app,
        &format!(
            "UPDATE incidents SET status = 'resolved', impact_started_at = declared_at - interval '30 minutes',
             detected_at = declared_at, resolved_at = declared_at + interval '60 minutes' WHERE id = {id}"
        ),
    )
    .await;

    let months =
        scalar(&app, "SELECT to_char(now() - interval '1 month', 'YYYY-MM') || ' ' || to_char(now(), 'YYYY-MM') AS v")
            .await;
    let (last, this) = months.split_once(' ').expect("two months");
    let html = browser.page(&format!("/reports?from={last}&to={this}")).await;
    let rows = table(&html, "table-components");
    assert_eq!(rows[0][0], "Component");
    let payments = rows.iter().find(|r| r[0] == "Payments, EU").expect("a line for the component");
    assert_eq!(payments[1..4], ["1".to_owned(), "1 h 30 min".to_owned(), "1 h 30 min".to_owned()]);
    assert!(payments[4].starts_with("99.") && payments[4].ends_with('%'), "2 h down last month: {payments:?}");
    assert_eq!(payments[5], "100%", "up all this month");
    let search = rows.iter().find(|r| r[0] == "Search").expect("Search");
    assert_eq!(search[1], "0");
    assert_eq!(search[4], "no data", "Search was created today: last month is no data, not downtime");
    assert_eq!(search[5], "100%");

    let csv = browser.get(&format!("/reports/components.csv?from={last}&to={this}")).await;
    assert_eq!(csv.status(), StatusCode::OK);
    assert_eq!(csv.headers()["content-type"], "text/csv; charset=utf-8");
    assert!(
        csv.headers()["content-disposition"]
            .to_str()
            .expect("ascii")
            .starts_with("attachment; filename=\"firebreak-components-")
    );
    let text = csv.text().await.expect("the CSV");
    let lines: Vec<&str> = text.split("\r\n").collect();
    assert_eq!(
        lines[0],
        format!(
            "component,incidents,total_time_to_resolve_seconds,median_time_to_resolve_seconds,uptime_percent_{last},uptime_percent_{this}"
        )
    );
    assert!(text.contains("\r\n\"Payments, EU\",1,5400,5400,99."), "quoted, in seconds: {text}");
    assert!(text.contains("\r\nSearch,0,,,,100.000\r\n"), "no data is empty: {text}");

    let incidents =
        browser.get(&format!("/reports/incidents.csv?from={last}&to={this}")).await.text().await.expect("CSV");
    assert!(incidents.starts_with("month,severity,incidents,median_time_to_detect_seconds"), "{incidents}");
    assert!(incidents.contains(&format!("\r\n{this},all,1,")), "{incidents}");
    assert!(incidents.contains("\r\nall,all,1,"), "{incidents}");
    let bad = browser.get("/reports/components.csv?from=2026-13").await;
    assert_eq!(bad.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(bad.text().await.expect("message").contains("2026-13"));
    assert!(html.contains("Per component (CSV)"), "the page links the downloads");
}
