//! Follow-ups: owner, due date, priority and ticket, the owner's email,
//! `/tasks` and its filters, the follow-up page, the daily overdue digest (one
//! per owner per day, however many instances run), and the dashboard's list of
//! incidents that are not fully closed yet.

use std::time::Duration;

use chrono::Utc;
use reqwest::StatusCode;

use crate::helpers::{Browser, TestApp, html_of, location, spawn_app, spawn_app_with, test_settings};
use crate::smtp::{MailSink, ReceivedMail, configure_for_sink};
use crate::updates::{app_with_mail, declare, exec, scalar};
use firebreak::domain::Role;
use firebreak::services::followups::send_due_digests;
use firebreak::startup::Application;

async fn add_task(browser: &Browser, id: &str, fields: &[(&str, &str)]) -> reqwest::Response {
    let room = format!("/incidents/{id}");
    browser.submit(&room, &format!("{room}/tasks"), fields).await
}

async fn task_id(app: &TestApp, title: &str) -> String {
    scalar(app, &format!("SELECT id::text AS v FROM tasks WHERE title = '{title}'")).await
}

fn mail_to<'a>(mails: &'a [ReceivedMail], address: &str) -> &'a ReceivedMail {
    mails
        .iter()
        .find(|m| m.to.iter().any(|t| t.eq_ignore_ascii_case(address)))
        .unwrap_or_else(|| panic!("no mail to {address} among {:?}", mails.iter().map(|m| &m.to).collect::<Vec<_>>()))
}

/// The part of a page from an element's id to the end of its section.
fn section<'a>(html: &'a str, id: &str) -> &'a str {
    let start = html.find(&format!("id=\"{id}\"")).unwrap_or_else(|| panic!("no #{id} in the page"));
    let rest = &html[start..];
    &rest[..rest.find("</section>").unwrap_or(rest.len())]
}

#[tokio::test]
async fn a_follow_up_with_an_owner_is_due_in_a_week_and_its_owner_is_emailed() {
    let (app, sink) = app_with_mail().await;
    let (lead, lead_user) = app.signed_in(Role::Responder).await;
    let owner = app.create_user(Role::Responder).await;
    let id = declare(&lead, &[("title", "Checkout errors")]).await;
    let owner_id = owner.id.to_string();

    let response = add_task(
        &lead,
        &id,
        &[
            ("title", "Add retries to the payment client"),
            ("details", "Retry idempotent calls twice."),
            ("kind", "follow_up"),
            ("assignee", &owner_id),
            ("priority", "high"),
            ("ticket_url", "https://tickets.example.test/PAY-12"),
        ],
    )
    .await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&response), format!("/incidents/{id}#tasks"));
    assert_eq!(scalar(&app, "SELECT priority AS v FROM tasks").await, "high");
    assert_eq!(scalar(&app, "SELECT ticket_url AS v FROM tasks").await, "https://tickets.example.test/PAY-12");
    assert_eq!(scalar(&app, "SELECT details AS v FROM tasks").await, "Retry idempotent calls twice.");
    assert_eq!(
        scalar(
            &app,
            "SELECT (due_at BETWEEN now() + interval '7 days' - interval '5 minutes' AND now() + interval '7 days')::text AS v FROM tasks"
        )
        .await,
        "true",
        "due 7 days after creation by default"
    );

    let mails = sink.wait_for(1, Duration::from_secs(20)).await;
    let mail = mail_to(&mails, &owner.email);
    assert_eq!(mail.subject(), "Follow-up for you: Add retries to the payment client");
    let text = mail.text();
    let task = task_id(&app, "Add retries to the payment client").await;
    assert!(text.contains(&format!("{} made you the owner of the follow-up", lead_user.name)), "{text}");
    assert!(text.contains("Priority: High"), "{text}");
    assert!(text.contains("Ticket: https://tickets.example.test/PAY-12"), "{text}");
    assert!(text.contains("Retry idempotent calls twice."), "{text}");
    assert!(text.contains(&format!("http://127.0.0.1/incidents/{id}#task-{task}")), "{text}");
    assert!(text.contains("http://127.0.0.1/tasks?mine=1"), "{text}");
    assert_eq!(app.count("SELECT count(*) AS n FROM outbox").await, 1, "one email, in the task's transaction");

    let room = lead.page(&format!("/incidents/{id}")).await;
    assert!(room.contains("High priority"), "the room shows the priority");
    assert!(room.contains(&format!(
        "{} added the follow-up task “Add retries to the payment client”, assigned to {}, high priority.",
        lead_user.name, owner.name
    )));
    assert!(room.contains(&format!("href=\"/tasks/{task}\"")), "the follow-up links to its page");
}

#[tokio::test]
async fn owners_are_emailed_on_assignment_but_not_about_their_own_follow_ups_or_other_tasks() {
    let (app, sink) = app_with_mail().await;
    let (lead, lead_user) = app.signed_in(Role::Responder).await;
    let helper = app.create_user(Role::Responder).await;
    let id = declare(&lead, &[("title", "Search slow")]).await;
    let me = lead_user.id.to_string();
    let helper_id = helper.id.to_string();

    add_task(&lead, &id, &[("title", "Mine"), ("kind", "follow_up"), ("assignee", &me)]).await;
    add_task(&lead, &id, &[("title", "Restart search"), ("kind", "mitigation"), ("assignee", &helper_id)]).await;
    add_task(&lead, &id, &[("title", "Tune the index"), ("kind", "follow_up")]).await;
    assert_eq!(app.count("SELECT count(*) AS n FROM outbox").await, 0);

    // Assigning the unowned follow-up from the room emails its new owner.
    let task = task_id(&app, "Tune the index").await;
    let room = format!("/incidents/{id}");
    let response =
        lead.submit(&room, &format!("{room}/tasks/{task}/assignee"), &[("assignee", helper_id.as_str())]).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    let mails = sink.wait_for(1, Duration::from_secs(20)).await;
    assert_eq!(mail_to(&mails, &helper.email).subject(), "Follow-up for you: Tune the index");
    assert_eq!(app.count("SELECT count(*) AS n FROM outbox").await, 1);
}

#[tokio::test]
async fn a_past_due_date_or_a_bad_ticket_link_is_refused_with_the_values_kept_and_nothing_written() {
    let app = spawn_app().await;
    let (lead, _) = app.signed_in(Role::Responder).await;
    let id = declare(&lead, &[("title", "Queue backlog")]).await;
    let entries = app.count("SELECT count(*) AS n FROM timeline_entries").await;

    let response = add_task(
        &lead,
        &id,
        &[
            ("title", "Alert on queue depth"),
            ("kind", "follow_up"),
            ("priority", "low"),
            ("due_at", "2020-01-01T10:00"),
            ("ticket_url", "ftp://files.example.test/x"),
        ],
    )
    .await;
    let html = html_of(response, StatusCode::UNPROCESSABLE_ENTITY).await;
    assert!(html.contains("That date has passed; choose a due date from now on."), "{html}");
    assert!(html.contains("Enter a link starting with https:// or http://"));
    assert!(html.contains("value=\"2020-01-01T10:00\""), "the due date is kept");
    assert!(html.contains("value=\"ftp://files.example.test/x\""), "the link is kept");
    assert!(html.contains("value=\"Alert on queue depth\""), "the title is kept");
    assert!(html.contains("<option value=\"follow_up\" selected>"), "the kind is kept");
    assert!(html.contains("<option value=\"low\" selected>"), "the priority is kept");
    assert!(html.contains("aria-describedby=\"task-due-error"), "the message is tied to its field");

    let response =
        add_task(&lead, &id, &[("title", "Alert on queue depth"), ("kind", "follow_up"), ("priority", "urgent")]).await;
    assert!(html_of(response, StatusCode::UNPROCESSABLE_ENTITY).await.contains("Choose high, medium or low."));

    assert_eq!(app.count("SELECT count(*) AS n FROM tasks").await, 0);
    assert_eq!(app.count("SELECT count(*) AS n FROM outbox").await, 0);
    assert_eq!(app.count("SELECT count(*) AS n FROM timeline_entries").await, entries);
}

#[tokio::test]
async fn the_tasks_page_lists_open_tasks_the_viewer_may_see_and_filters_them() {
    let app = spawn_app().await;
    let (me, me_user) = app.signed_in(Role::Responder).await;
    let (other, other_user) = app.signed_in(Role::Responder).await;
    let (viewer, _) = app.signed_in(Role::Viewer).await;
    let a = declare(&me, &[("title", "Checkout down")]).await;
    let b = declare(&other, &[("title", "Search slow")]).await;
    let secret = declare(&other, &[("title", "Leaked key"), ("restricted", "true")]).await;
    let (mine, others) = (me_user.id.to_string(), other_user.id.to_string());

    add_task(&me, &a, &[("title", "Write the alert"), ("kind", "follow_up"), ("assignee", &mine)]).await;
    add_task(&me, &a, &[("title", "Restart pods"), ("kind", "mitigation"), ("assignee", &others)]).await;
    add_task(&other, &b, &[("title", "Tune the index"), ("kind", "follow_up"), ("assignee", &others)]).await;
    add_task(&other, &b, &[("title", "Remove the flag"), ("kind", "cleanup")]).await;
    add_task(&other, &secret, &[("title", "Rotate keys"), ("kind", "follow_up"), ("assignee", &others)]).await;
    exec(&app, "UPDATE tasks SET due_at = now() - interval '2 days' WHERE title = 'Write the alert'").await;
    exec(&app, "UPDATE tasks SET status = 'done', completed_at = now() WHERE title = 'Remove the flag'").await;

    let all = me.page("/tasks").await;
    for title in ["Write the alert", "Restart pods", "Tune the index"] {
        assert!(all.contains(title), "{title} is listed");
    }
    assert!(!all.contains("Remove the flag"), "done tasks are not listed");
    assert!(!all.contains("Rotate keys"), "a restricted incident's tasks stay hidden from non-participants");
    assert!(all.contains("<strong class=\"overdue\">Overdue:</strong>"), "overdue is said in words");
    assert!(all.contains("<th scope=\"col\">Priority</th>") && all.contains("<th scope=\"col\">Ticket</th>"));

    let only_mine = me.page("/tasks?mine=1").await;
    assert!(only_mine.contains("Write the alert"));
    assert!(!only_mine.contains("Restart pods") && !only_mine.contains("Tune the index"));

    let overdue = me.page("/tasks?overdue=1").await;
    assert!(overdue.contains("Write the alert"));
    assert!(!overdue.contains("Restart pods") && !overdue.contains("Tune the index"));

    let mitigations = me.page("/tasks?kind=mitigation").await;
    assert!(mitigations.contains("Restart pods"));
    assert!(!mitigations.contains("Write the alert") && !mitigations.contains("Tune the index"));

    let in_b = me.page(&format!("/tasks?incident={b}")).await;
    assert!(in_b.contains("Tune the index"));
    assert!(!in_b.contains("Write the alert") && !in_b.contains("Restart pods"));
    assert!(in_b.contains(&format!("<option value=\"{b}\" selected>")), "the filter shows what is chosen");

    let empty = me.page("/tasks?mine=1&kind=cleanup").await;
    assert!(empty.contains("No unfinished task matches these filters."));

    assert!(other.page("/tasks").await.contains("Rotate keys"), "participants see their restricted incident's tasks");
    let read_only = viewer.page("/tasks").await;
    assert!(read_only.contains("Tune the index") && !read_only.contains("Rotate keys"));
}

#[tokio::test]
async fn a_follow_up_is_changed_on_its_own_page() {
    let (app, sink) = app_with_mail().await;
    let (lead, _) = app.signed_in(Role::Responder).await;
    let owner = app.create_user(Role::Responder).await;
    let (viewer, _) = app.signed_in(Role::Viewer).await;
    let id = declare(&lead, &[("title", "Disk full")]).await;
    add_task(&lead, &id, &[("title", "Alert on disk usage"), ("kind", "follow_up")]).await;
    let task = task_id(&app, "Alert on disk usage").await;
    exec(&app, "UPDATE tasks SET due_at = date_trunc('minute', now()) - interval '3 days'").await;
    let page = format!("/tasks/{task}");

    let html = lead.page(&page).await;
    assert!(html.contains("<strong class=\"overdue\">Overdue:</strong>"), "{html}");
    // The overdue date, left as it is, does not stop other changes.
    let due = scalar(&app, "SELECT to_char(due_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI') AS v FROM tasks").await;
    let owner_id = owner.id.to_string();
    let fields = [
        ("assignee", owner_id.as_str()),
        ("due_at", due.as_str()),
        ("priority", "low"),
        ("ticket_url", "https://tickets.example.test/OPS-7"),
        ("status", "in_progress"),
    ];
    let response = lead.submit(&page, &page, &fields).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&response), page);
    assert_eq!(
        scalar(&app, "SELECT concat_ws(' ', assignee_id, priority, ticket_url, status) AS v FROM tasks").await,
        format!("{} low https://tickets.example.test/OPS-7 in_progress", owner.id)
    );
    let mails = sink.wait_for(1, Duration::from_secs(20)).await;
    assert_eq!(mail_to(&mails, &owner.email).subject(), "Follow-up for you: Alert on disk usage");
    let room = lead.page(&format!("/incidents/{id}")).await;
    assert!(room.contains("updated the follow-up “Alert on disk usage”"), "the timeline records it");

    // Moving the due date into the past is refused, values kept, nothing written.
    let response = lead
        .submit(
            &page,
            &page,
            &[("assignee", ""), ("due_at", "2020-05-01T08:00"), ("priority", "high"), ("status", "open")],
        )
        .await;
    let html = html_of(response, StatusCode::UNPROCESSABLE_ENTITY).await;
    assert!(html.contains("That date has passed"));
    assert!(html.contains("value=\"2020-05-01T08:00\""));
    assert!(html.contains("<option value=\"high\" selected>"));
    assert_eq!(scalar(&app, "SELECT priority AS v FROM tasks").await, "low");

    // Done: it leaves /tasks.
    let fields = [("assignee", owner_id.as_str()), ("due_at", due.as_str()), ("priority", "low"), ("status", "done")];
    assert_eq!(lead.submit(&page, &page, &fields).await.status(), StatusCode::SEE_OTHER);
    assert_eq!(scalar(&app, "SELECT status AS v FROM tasks").await, "done");
    assert!(!lead.page("/tasks").await.contains(&format!("<a href=\"{page}\">")), "done follow-ups leave /tasks");

    // Viewers read it but cannot change it.
    assert!(!viewer.page(&page).await.contains("Save follow-up"));
    let response = viewer.submit(&page, &page, &fields).await;
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
}

/// Creates follow-ups through the room, then gives them owners and due dates
/// directly (so that no assignment email is queued).
async fn overdue_setup(app: &TestApp, lead: &Browser, first: &str, second: &str) {
    let id = declare(lead, &[("title", "Payments outage")]).await;
    for (title, kind) in [
        ("Overdue A", "follow_up"),
        ("Overdue B", "follow_up"),
        ("Later C", "follow_up"),
        ("Done D", "follow_up"),
        ("Overdue E", "follow_up"),
        ("Mitigation F", "mitigation"),
    ] {
        let response = add_task(lead, &id, &[("title", title), ("kind", kind)]).await;
        assert_eq!(response.status(), StatusCode::SEE_OTHER);
    }
    exec(app, &format!("UPDATE tasks SET assignee_id = {first}")).await;
    exec(app, &format!("UPDATE tasks SET assignee_id = {second} WHERE title = 'Overdue E'")).await;
    exec(app, "UPDATE tasks SET due_at = now() - interval '1 day' WHERE title <> 'Later C'").await;
    exec(app, "UPDATE tasks SET priority = 'high' WHERE title = 'Overdue B'").await;
    exec(app, "UPDATE tasks SET status = 'done', completed_at = now() WHERE title = 'Done D'").await;
}

#[tokio::test]
async fn each_owner_gets_one_digest_a_day_listing_only_their_overdue_follow_ups() {
    let (app, sink) = app_with_mail().await;
    let (lead, _) = app.signed_in(Role::Responder).await;
    let first = app.create_user(Role::Responder).await;
    let second = app.create_user(Role::Responder).await;
    overdue_setup(&app, &lead, &first.id.to_string(), &second.id.to_string()).await;
    assert_eq!(app.count("SELECT count(*) AS n FROM outbox").await, 0);

    // Two runs at the same moment on two connections pools (as on two instances).
    let settings = test_settings(&app.db_url);
    let other_pool = firebreak::db::build_pool(&app.db_url, 2).expect("pool");
    let now = Utc::now();
    let (a, b) =
        tokio::join!(send_due_digests(&app.pool, &settings, now), send_due_digests(&other_pool, &settings, now));
    assert!(a.expect("first run") + b.expect("second run") <= 2);
    assert_eq!(send_due_digests(&app.pool, &settings, now).await.expect("third run"), 0, "nothing left for today");
    assert_eq!(app.count("SELECT count(*) AS n FROM outbox WHERE kind = 'followup_digest'").await, 2);
    assert_eq!(app.count("SELECT count(*) AS n FROM followup_digests").await, 2);

    let mails = sink.wait_for(2, Duration::from_secs(20)).await;
    let to_first = mail_to(&mails, &first.email);
    assert_eq!(to_first.subject(), "[Firebreak] 2 follow-ups are overdue");
    let text = to_first.text();
    assert!(text.contains("- Overdue B (high priority) in “Payments outage”: due"), "{text}");
    assert!(text.contains("- Overdue A (medium priority)"), "{text}");
    assert!(text.find("Overdue B") < text.find("Overdue A"), "high priority first");
    for absent in ["Later C", "Done D", "Overdue E", "Mitigation F"] {
        assert!(!text.contains(absent), "{absent} is not in the first owner's digest: {text}");
    }
    assert!(text.contains("http://127.0.0.1/tasks?mine=1&overdue=1"), "{text}");
    let to_second = mail_to(&mails, &second.email);
    assert_eq!(to_second.subject(), "[Firebreak] 1 follow-up is overdue");
    assert!(to_second.text().contains("- Overdue E"));

    // The next day brings the next digest.
    let tomorrow = now + chrono::Duration::days(1);
    assert_eq!(send_due_digests(&app.pool, &settings, tomorrow).await.expect("next day"), 2);
    assert_eq!(app.count("SELECT count(*) AS n FROM followup_digests").await, 4);
}

#[tokio::test]
async fn two_instances_running_the_digest_job_send_one_digest() {
    let sink = MailSink::start().await;
    let fast = Duration::from_millis(100);
    let app = spawn_app_with(|s| {
        configure_for_sink(s, &sink);
        s.digest_interval = fast;
    })
    .await;
    let mut settings = test_settings(&app.db_url);
    configure_for_sink(&mut settings, &sink);
    settings.digest_interval = fast;
    let second = Application::build(settings).await.expect("build the second instance");
    tokio::spawn(second.run_until_stopped());

    let (lead, _) = app.signed_in(Role::Responder).await;
    let owner = app.create_user(Role::Responder).await;
    let id = declare(&lead, &[("title", "Cache stampede")]).await;
    add_task(&lead, &id, &[("title", "Add request coalescing"), ("kind", "follow_up")]).await;
    exec(&app, &format!("UPDATE tasks SET assignee_id = {}, due_at = now() - interval '2 hours'", owner.id)).await;

    let mails = sink.wait_for(1, Duration::from_secs(20)).await;
    assert_eq!(mail_to(&mails, &owner.email).subject(), "[Firebreak] 1 follow-up is overdue");
    // Both jobs tick every 100 ms: give them ten more rounds to send a duplicate.
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(app.count("SELECT count(*) AS n FROM outbox").await, 1);
    assert_eq!(app.count("SELECT count(*) AS n FROM followup_digests").await, 1);
    assert_eq!(sink.messages().len(), 1);
}

#[tokio::test]
async fn the_dashboard_lists_resolved_incidents_until_the_post_mortem_is_published_and_follow_ups_are_done() {
    let app = spawn_app().await;
    let (lead, _) = app.signed_in(Role::Responder).await;
    let (other, _) = app.signed_in(Role::Responder).await;
    let id = declare(&lead, &[("title", "Queue backlog")]).await;
    let room = format!("/incidents/{id}");
    declare(&lead, &[("title", "Still burning")]).await;
    let secret = declare(&other, &[("title", "Secret thing"), ("restricted", "true")]).await;
    exec(&app, &format!("UPDATE incidents SET status = 'resolved', resolved_at = now() WHERE id = {secret}")).await;

    let html = lead.page("/").await;
    assert!(section(&html, "not-fully-closed").contains("Every resolved incident is fully closed."));

    add_task(&lead, &id, &[("title", "Scale the consumers"), ("kind", "follow_up")]).await;
    let response = lead.submit(&room, &format!("{room}/status"), &[("status", "resolved")]).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    let html = lead.page("/").await;
    let waiting = section(&html, "not-fully-closed");
    assert!(waiting.contains("Queue backlog"), "{waiting}");
    assert!(waiting.contains("(not published); 1 open follow-up"), "{waiting}");
    assert!(!waiting.contains("Still burning"), "active incidents are not waiting to close");
    assert!(!waiting.contains("Secret thing"), "restricted incidents stay hidden");
    assert!(waiting.contains(&format!("/tasks?incident={id}&amp;kind=follow_up")));

    exec(&app, &format!("UPDATE postmortems SET status = 'published', published_at = now() WHERE incident_id = {id}"))
        .await;
    let html = lead.page("/").await;
    let waiting = section(&html, "not-fully-closed");
    assert!(waiting.contains("Queue backlog") && waiting.contains("1 open follow-up"));
    assert!(!waiting.contains("not published"), "{waiting}");

    let task = task_id(&app, "Scale the consumers").await;
    lead.submit(&room, &format!("{room}/tasks/{task}/status"), &[("status", "wont_do")]).await;
    let html = lead.page("/").await;
    let waiting = section(&html, "not-fully-closed");
    assert!(!waiting.contains("Queue backlog"), "fully closed: published and no open follow-up");
    assert!(waiting.contains("Every resolved incident is fully closed."));
    assert!(other.page("/").await.contains("Secret thing"), "its participant sees it waiting");
}

/// What the follow-up form holds as loaded: each field with its value, and
/// the hidden `was_` copy the browser sends back with it.
fn loaded_form(html: &str) -> Vec<(String, String)> {
    let mut fields = Vec::new();
    for name in ["assignee", "due_at", "priority", "ticket_url", "status"] {
        let marker = format!("name=\"was_{name}\" value=\"");
        let start = html.find(&marker).unwrap_or_else(|| panic!("the form carries was_{name}")) + marker.len();
        let value = html[start..start + html[start..].find('"').expect("value ends")].replace("&#47;", "/");
        fields.push((name.to_owned(), value.clone()));
        fields.push((format!("was_{name}"), value));
    }
    fields
}

fn with(form: &[(String, String)], name: &str, value: &str) -> Vec<(String, String)> {
    form.iter().map(|(k, v)| (k.clone(), if k == name { value.to_owned() } else { v.clone() })).collect()
}

async fn post_form(browser: &Browser, page: &str, form: &[(String, String)]) -> reqwest::Response {
    let fields: Vec<(&str, &str)> = form.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    browser.submit(page, page, &fields).await
}

#[tokio::test]
async fn two_people_editing_one_follow_up_keep_both_changes_and_a_clash_is_shown_not_overwritten() {
    let app = spawn_app().await;
    let (alice, _) = app.signed_in(Role::Responder).await;
    let (bob, _) = app.signed_in(Role::Responder).await;
    let id = declare(&alice, &[("title", "Queue backlog")]).await;
    add_task(&alice, &id, &[("title", "Alert on queue depth"), ("kind", "follow_up")]).await;
    let page = format!("/tasks/{}", task_id(&app, "Alert on queue depth").await);

    // Both open the form; Alice raises the priority first.
    let alices = loaded_form(&alice.page(&page).await);
    let bobs = loaded_form(&bob.page(&page).await);
    assert_eq!(post_form(&alice, &page, &with(&alices, "priority", "high")).await.status(), StatusCode::SEE_OTHER);

    // Bob adds a ticket on the form he opened before: his change is saved and
    // Alice's priority stays (his form still showed the old one, untouched).
    let ticket = "https://tickets.example.test/OPS-9";
    assert_eq!(post_form(&bob, &page, &with(&bobs, "ticket_url", ticket)).await.status(), StatusCode::SEE_OTHER);
    assert_eq!(
        scalar(&app, "SELECT priority || ' ' || ticket_url AS v FROM tasks").await,
        format!("high {ticket}"),
        "both changes kept"
    );

    // Bob also lowers the priority on that old form: Alice changed that field,
    // so he is shown the clash with his value kept, and nothing is written.
    let response = post_form(&bob, &page, &with(&bobs, "priority", "low")).await;
    let html = html_of(response, StatusCode::CONFLICT).await;
    assert!(html.contains("Someone else changed this while you were editing"), "{html}");
    assert!(html.contains("<option value=\"low\" selected>"), "his value is kept in the form");
    assert_eq!(scalar(&app, "SELECT priority AS v FROM tasks").await, "high");
    let again = loaded_form(&html);
    assert!(again.contains(&("was_priority".to_owned(), "high".to_owned())), "now an edit of Alice's value");

    // Saving again, knowingly, uses his value.
    let resubmitted = with(&with(&again, "priority", "low"), "ticket_url", ticket);
    assert_eq!(post_form(&bob, &page, &resubmitted).await.status(), StatusCode::SEE_OTHER);
    assert_eq!(scalar(&app, "SELECT priority AS v FROM tasks").await, "low");
    let timeline =
        app.count("SELECT count(*) AS n FROM timeline_entries WHERE body LIKE '%updated the follow-up%'").await;
    assert_eq!(timeline, 3, "three saves, each on the timeline; the refused one is not");
}
