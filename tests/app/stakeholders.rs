use reqwest::StatusCode;

use crate::helpers::{Browser, TestApp, html_of, location, spawn_app};
use firebreak::domain::Role;

async fn add_group(admin: &Browser, fields: &[(&str, &str)]) -> reqwest::Response {
    admin.submit("/admin/groups", "/admin/groups", fields).await
}

async fn members(app: &TestApp) -> Vec<String> {
    use diesel::QueryableByName;
    #[derive(QueryableByName)]
    struct Row {
        #[diesel(sql_type = diesel::sql_types::Text)]
        line: String,
    }
    let mut conn = app.pool.get().await.expect("conn");
    let rows: Vec<Row> = diesel_async::RunQueryDsl::load(
        diesel::sql_query("SELECT name || ' ' || email AS line FROM stakeholder_members ORDER BY email"),
        &mut conn,
    )
    .await
    .expect("members");
    rows.into_iter().map(|r| r.line).collect()
}

#[tokio::test]
async fn an_admin_creates_a_group_with_members() {
    let app = spawn_app().await;
    let (admin, _) = app.signed_in(Role::Admin).await;
    let list = admin.page("/admin/groups").await;
    assert!(list.contains("incident reports") && list.contains("SEV1 and SEV2"), "the page explains the defaults");
    let response = add_group(
        &admin,
        &[
            ("name", "Executives"),
            ("description", "C-level"),
            ("members", "Ada Lovelace <Ada@Example.com>\r\n\r\nbob@example.com\r\n"),
        ],
    )
    .await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    let page = location(&response);
    assert!(page.starts_with("/admin/groups/"));
    let html = admin.page(&page).await;
    assert!(html.contains("Added the group Executives."));
    assert!(html.contains("Ada Lovelace &#60;ada@example.com&#62;\nbob@example.com"), "{html}");
    assert_eq!(members(&app).await, ["Ada Lovelace ada@example.com", " bob@example.com"]);
    let list = admin.page("/admin/groups").await;
    assert!(list.contains("<td>Executives</td>\n        <td>C-level</td>\n        <td>2</td>"), "{list}");
    assert_eq!(app.count("SELECT count(*) AS n FROM audit_log WHERE action = 'group.add'").await, 1);
}

#[tokio::test]
async fn bad_member_lines_are_refused_by_number_and_the_text_is_kept() {
    let app = spawn_app().await;
    let (admin, _) = app.signed_in(Role::Admin).await;
    let text = "ok@example.com\nnot an address\nBob <bob@>";
    let response = add_group(&admin, &[("name", "Support"), ("members", text)]).await;
    let html = html_of(response, StatusCode::UNPROCESSABLE_ENTITY).await;
    assert!(html.contains("Check lines 2 and 3:"), "{html}");
    assert!(html.contains("not an address\nBob &#60;bob@&#62;</textarea>"), "the text is kept");
    assert!(html.contains("value=\"Support\""));
    assert_eq!(app.count("SELECT count(*) AS n FROM stakeholder_groups").await, 0);
}

#[tokio::test]
async fn saving_replaces_the_member_list() {
    let app = spawn_app().await;
    let (admin, _) = app.signed_in(Role::Admin).await;
    let response =
        add_group(&admin, &[("name", "Customer success"), ("members", "a@example.com\nB <b@example.com>")]).await;
    let page = location(&response);

    // A bad list changes nothing.
    let response =
        admin.submit(&page, &page, &[("name", "Customer success"), ("members", "c@example.com\nnope")]).await;
    let html = html_of(response, StatusCode::UNPROCESSABLE_ENTITY).await;
    assert!(html.contains("Check line 2:"));
    assert_eq!(members(&app).await, [" a@example.com", "B b@example.com"]);

    let response = admin
        .submit(
            &page,
            &page,
            &[("name", "CS"), ("description", "Account managers"), ("members", "B <b@example.com>\nC <c@example.com>")],
        )
        .await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(members(&app).await, ["B b@example.com", "C c@example.com"]);
    assert!(admin.page(&page).await.contains("Saved the group CS."));
    assert_eq!(
        app.count(
            "SELECT count(*) AS n FROM audit_log WHERE action = 'group.edit' \
             AND detail LIKE '%2 members now (1 added, 1 removed)'"
        )
        .await,
        1
    );
}

#[tokio::test]
async fn group_names_are_unique_whatever_the_case() {
    let app = spawn_app().await;
    let (admin, _) = app.signed_in(Role::Admin).await;
    add_group(&admin, &[("name", "Incident reports")]).await;
    let response = add_group(&admin, &[("name", "INCIDENT REPORTS"), ("members", "x@example.com")]).await;
    let html = html_of(response, StatusCode::UNPROCESSABLE_ENTITY).await;
    assert!(html.contains("A group with this name exists already."));
    assert!(html.contains("x@example.com</textarea>"));
    let response = add_group(&admin, &[("name", "")]).await;
    assert!(html_of(response, StatusCode::UNPROCESSABLE_ENTITY).await.contains("Name the group"));
    assert_eq!(app.count("SELECT count(*) AS n FROM stakeholder_groups").await, 1);
}

#[tokio::test]
async fn deleting_a_group_asks_first() {
    let app = spawn_app().await;
    let (admin, _) = app.signed_in(Role::Admin).await;
    let response = add_group(&admin, &[("name", "Executives"), ("members", "a@example.com")]).await;
    let page = location(&response);
    assert!(admin.page(&page).await.contains(&format!("href=\"{page}/delete\"")));
    let confirm = admin.page(&format!("{page}/delete")).await;
    assert!(confirm.contains("Delete the group Executives?") && confirm.contains("1 member will be removed"));
    let response = admin.submit(&format!("{page}/delete"), &format!("{page}/delete"), &[]).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&response), "/admin/groups");
    assert!(admin.page("/admin/groups").await.contains("Deleted the group Executives."));
    assert_eq!(app.count("SELECT count(*) AS n FROM stakeholder_members").await, 0);
    assert_eq!(app.count("SELECT count(*) AS n FROM audit_log WHERE action = 'group.delete'").await, 1);
    html_of(admin.get(&page).await, StatusCode::NOT_FOUND).await;
}

#[tokio::test]
async fn only_admins_manage_groups() {
    let app = spawn_app().await;
    let (admin, _) = app.signed_in(Role::Admin).await;
    let page = location(&add_group(&admin, &[("name", "Executives")]).await);
    let (responder, _) = app.signed_in(Role::Responder).await;
    for path in ["/admin/groups".to_owned(), page.clone(), format!("{page}/delete")] {
        html_of(responder.get(&path).await, StatusCode::FORBIDDEN).await;
    }
    for action in ["/admin/groups".to_owned(), page.clone(), format!("{page}/delete")] {
        let response = responder.submit("/account", &action, &[("name", "Mine"), ("members", "me@example.com")]).await;
        assert_eq!(response.status(), StatusCode::FORBIDDEN, "{action}");
    }
    assert_eq!(app.count("SELECT count(*) AS n FROM stakeholder_groups WHERE name = 'Executives'").await, 1);
    assert_eq!(app.count("SELECT count(*) AS n FROM stakeholder_members").await, 0);
}
