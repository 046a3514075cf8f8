//! The post-mortem document and library: the facts drafted from a scripted
//! incident, two people saving over the same version, the detection
//! question, the review flow to publication (library, public page, Markdown
//! export, final stakeholder note) and who may do what.

use reqwest::StatusCode;

use crate::helpers::{Browser, TestApp, csrf_token, html_of, input_value, location, spawn_app, textarea};
use crate::updates::{component, declare, exec, post_update, scalar};
use firebreak::domain::Role;

async fn postmortem_of(app: &TestApp, incident: &str) -> String {
    scalar(app, &format!("SELECT id::text AS v FROM postmortems WHERE incident_id = {incident}")).await
}

/// Posts `fields` to a room action with the room's CSRF token; expects the redirect.
async fn act(browser: &Browser, incident: &str, action: &str, fields: &[(&str, &str)]) {
    let response =
        browser.submit(&format!("/incidents/{incident}"), &format!("/incidents/{incident}/{action}"), fields).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER, "{action} should succeed");
}

/// Every field of the edit form as the page has it, with `changes` applied.
fn edit_fields(html: &str, changes: &[(&str, &str)]) -> Vec<(String, String)> {
    let mut fields: Vec<(String, String)> =
        ["csrf_token", "version", "base_owner"].iter().map(|n| (n.to_string(), input_value(html, n))).collect();
    for s in [
        "summary",
        "customer_impact",
        "detection",
        "root_cause",
        "trigger",
        "resolution",
        "went_well",
        "went_badly",
        "got_lucky",
        "lessons",
    ] {
        fields.push((format!("base_{s}"), input_value(html, &format!("base_{s}"))));
        fields.push((s.to_owned(), textarea(html, s)));
    }
    fields.push(("owner".to_owned(), selected_owner(html)));
    fields.push(("action".to_owned(), "save".to_owned()));
    for (k, v) in changes {
        match fields.iter_mut().find(|(name, _)| name == k) {
            Some(f) => f.1 = v.to_string(),
            None => fields.push((k.to_string(), v.to_string())),
        }
    }
    fields
}

/// A textarea's text (unescaped for the few entities the tests use).
fn selected_owner(html: &str) -> String {
    let select = &html[html.find("name=\"owner\"").expect("owner select")..];
    let select = &select[..select.find("</select>").expect("select ends")];
    select
        .split("<option")
        .find(|o| o.contains(" selected"))
        .map(|o| {
            let start = o.find("value=\"").expect("value") + 7;
            o[start..start + o[start..].find('"').expect("ends")].to_owned()
        })
        .unwrap_or_default()
}

async fn post_form(browser: &Browser, path: &str, fields: &[(String, String)]) -> reqwest::Response {
    let refs: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    browser.post_raw(path, &refs).await
}

/// Opens the edit page, applies `changes` and saves; expects the redirect.
async fn save(browser: &Browser, pm: &str, changes: &[(&str, &str)]) {
    let html = browser.page(&format!("/postmortems/{pm}/edit")).await;
    let response = post_form(browser, &format!("/postmortems/{pm}/edit"), &edit_fields(&html, changes)).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER, "saving the post-mortem");
}

async fn step(browser: &Browser, pm: &str, transition: &str) -> reqwest::Response {
    browser
        .submit(&format!("/postmortems/{pm}"), &format!("/postmortems/{pm}/status"), &[("transition", transition)])
        .await
}

#[tokio::test]
async fn the_draft_holds_the_scripted_incidents_timeline_and_metrics() {
    let app = spawn_app().await;
    let api = component(&app, "Payments API").await;
    let (lead, lead_user) = app.signed_in(Role::Responder).await;
    let scribe = app.create_user(Role::Responder).await;
    let comms = app.create_user(Role::Responder).await;
    let fixer = app.create_user(Role::Responder).await;
    let id = declare(
        &lead,
        &[
            ("title", "Payments time out"),
            ("severity", "2"),
            ("components", api.as_str()),
            ("detection_source", "customer"),
        ],
    )
    .await;
    let pm = postmortem_of(&app, &id).await;

    // Before resolution the page says the facts come later.
    let early = lead.page(&format!("/postmortems/{pm}")).await;
    assert!(early.contains("Firebreak drafts the facts below when it is resolved"), "{early}");

    act(&lead, &id, "roles", &[("role", "note_taker"), ("user", &scribe.id.to_string())]).await;
    act(&lead, &id, "roles", &[("role", "comms_lead"), ("user", &comms.id.to_string())]).await;
    act(&lead, &id, "notes", &[("body", "Rolled back **deploy 4242**")]).await;
    act(&lead, &id, "notes", &[("body", "Coffee is getting cold")]).await;
    let key = scalar(
        &app,
        &format!("SELECT id::text AS v FROM timeline_entries WHERE incident_id = {id} AND body LIKE 'Rolled back%'"),
    )
    .await;
    act(&lead, &id, "highlights", &[("mark", &key)]).await;
    act(&lead, &id, "severity", &[("severity", "1")]).await;
    act(&lead, &id, "status", &[("status", "identified")]).await;
    act(
        &lead,
        &id,
        "tasks",
        &[("title", "Drain the slow payment queue"), ("kind", "mitigation"), ("assignee", &fixer.id.to_string())],
    )
    .await;
    act(
        &lead,
        &id,
        "changes",
        &[("description", "Disable the new payment route"), ("rollback_plan", "Enable it again")],
    )
    .await;
    let change = scalar(&app, &format!("SELECT id::text AS v FROM change_requests WHERE incident_id = {id}")).await;
    act(&lead, &id, &format!("changes/{change}/decision"), &[("decision", "approve")]).await;
    act(&lead, &id, "status", &[("status", "resolved")]).await;
    assert_eq!(
        app.count(&format!("SELECT count(*) AS n FROM postmortems WHERE id = {pm} AND drafted_at IS NOT NULL")).await,
        1
    );
    // The scripted clock: impact 10:00, detected 10:05, declared 10:08,
    // acknowledged 10:10, mitigated 10:40, resolved 11:30 (UTC).
    exec(
        &app,
        &format!(
            "UPDATE incidents SET impact_started_at = '2026-11-01 10:00Z', detected_at = '2026-11-01 10:05Z', \
             declared_at = '2026-11-01 10:08Z', acknowledged_at = '2026-11-01 10:10Z', \
             mitigated_at = '2026-11-01 10:40Z', resolved_at = '2026-11-01 11:30Z' WHERE id = {id}"
        ),
    )
    .await;

    let page = lead.page(&format!("/postmortems/{pm}")).await;
    for (measure, value) in [
        ("Time to detect", "5 min"),
        ("Time to declare", "3 min"),
        ("Time to acknowledge", "5 min"),
        ("Time to mitigate", "40 min"),
        ("Time to resolve", "1 h 30 min"),
        ("Total duration", "1 h 30 min"),
    ] {
        let row = format!("<tr><th scope=\"row\">{measure}</th><td>{value}</td></tr>");
        assert!(page.contains(&row), "{measure} should be {value}");
    }
    assert!(page.contains("<time datetime=\"2026-11-01T10:00:00Z\">2026-11-01 10:00:00 UTC</time>"), "impact start");
    assert!(page.contains("<time datetime=\"2026-11-01T11:30:00Z\">2026-11-01 11:30:00 UTC</time>"), "resolution");
    assert!(!page.contains("drafts the facts below when it is resolved"));

    let timeline = &page[page.find("id=\"pm-timeline\"").expect("timeline")..];
    let timeline = &timeline[..timeline.find("</ol>").expect("timeline ends")];
    assert!(timeline.contains("Rolled back <strong>deploy 4242</strong>"), "the key moment, as Markdown: {timeline}");
    assert!(timeline.contains("Key moment"));
    assert!(timeline.contains("Coffee is getting cold"), "plain notes are in the draft too");
    assert!(timeline.contains(&format!("{} is the incident lead.", lead_user.name)), "role entries");
    assert!(timeline.contains(&format!("made {} note taker.", scribe.name)));
    assert!(timeline.contains("changed the severity: SEV2 → SEV1."), "severity entries");
    assert!(timeline.contains("changed the status: Investigating → Identified."), "status entries");
    assert!(timeline.contains("changed the status: Identified → Resolved."));
    assert!(!timeline.contains("Drain the slow payment queue"), "task entries are listed as tasks instead");

    assert!(page.contains("<dt>Severity</dt><dd>SEV1</dd>"));
    assert!(page.contains("<dt>Components</dt><dd>Payments API</dd>"));
    assert!(page.contains("<dt>Detected by</dt><dd>Customer report</dd>"));
    assert!(page.contains(&format!("<dt>Incident lead</dt><dd>{}</dd>", lead_user.name)));
    assert!(page.contains(&format!("<dt>Note taker</dt><dd>{}</dd>", scribe.name)));
    assert!(page.contains(&format!("<dt>Communications lead</dt><dd>{}</dd>", comms.name)));
    let mut everyone = [&lead_user.name, &scribe.name, &comms.name, &fixer.name];
    everyone.sort_by_key(|n| n.to_lowercase());
    let participants = everyone.iter().map(|n| n.as_str()).collect::<Vec<_>>().join(", ");
    assert!(
        page.contains(&format!("<dt>Participants</dt><dd>{participants}</dd>")),
        "role holders, authors, assignees"
    );
    assert!(page.contains("<strong>Drain the slow payment queue</strong>"), "tasks");
    assert!(page.contains(&fixer.name));
    assert!(page.contains("<strong>Disable the new payment route</strong> <span class=\"badge\">Approved</span>"));
    assert!(page.contains(&format!("decided by {}", lead_user.name)));
    assert!(page.contains("No stakeholder update was sent."));
    assert!(page.contains("Was it detected automatically? If not, why not, and what would have caught it?"));

    // The room links to it.
    let room = lead.page(&format!("/incidents/{id}")).await;
    assert!(room.contains(&format!(
        "<a class=\"button button-secondary\" href=\"/postmortems/{pm}\">Open the post-mortem</a>"
    )));
}

#[tokio::test]
async fn two_people_saving_over_the_same_version_lose_nothing() {
    let app = spawn_app().await;
    let (ann, ann_user) = app.signed_in(Role::Responder).await;
    let (bob, _) = app.signed_in(Role::Responder).await;
    let id = declare(&ann, &[("title", "Search is slow")]).await;
    let pm = postmortem_of(&app, &id).await;
    let edit = format!("/postmortems/{pm}/edit");

    // Both open the form at version 1.
    let ann_form = ann.page(&edit).await;
    let bob_form = bob.page(&edit).await;
    assert_eq!(input_value(&bob_form, "version"), "1");

    let ann_fields = edit_fields(
        &ann_form,
        &[("root_cause", "The index was rebuilt during peak hours."), ("summary", "Search took 30 s for an hour.")],
    );
    assert_eq!(post_form(&ann, &edit, &ann_fields).await.status(), StatusCode::SEE_OTHER);

    let bob_fields = edit_fields(&bob_form, &[("root_cause", "A cron job ran at the wrong hour.")]);
    let conflict = html_of(post_form(&bob, &edit, &bob_fields).await, StatusCode::CONFLICT).await;
    assert!(conflict.contains(&format!("{} saved the post-mortem while you were editing", ann_user.name)));
    let compare = &conflict[conflict.find("id=\"compare-root_cause\"").expect("side by side for the root cause")..];
    assert!(compare.contains("class=\"preview-body pm-mine\">A cron job ran at the wrong hour.</div>"), "Bob's text");
    assert!(
        compare.contains("class=\"preview-body pm-theirs\">The index was rebuilt during peak hours.</div>"),
        "Ann's"
    );
    assert_eq!(textarea(&conflict, "root_cause"), "A cron job ran at the wrong hour.", "Bob's text stays in the form");
    assert_eq!(textarea(&conflict, "summary"), "Search took 30 s for an hour.", "Ann's other section is taken in");
    assert!(!conflict.contains("id=\"compare-summary\""), "only sections both changed are compared");
    assert_eq!(input_value(&conflict, "version"), "2");
    let saved = scalar(&app, &format!("SELECT root_cause AS v FROM postmortems WHERE id = {pm}")).await;
    assert_eq!(saved, "The index was rebuilt during peak hours.", "the first save stands");

    // Bob merges by hand and saves over the new version.
    let merged = "The index was rebuilt during peak hours, by a cron job set to the wrong hour.";
    let again = edit_fields(&conflict, &[("root_cause", merged)]);
    assert_eq!(post_form(&bob, &edit, &again).await.status(), StatusCode::SEE_OTHER);
    assert_eq!(scalar(&app, &format!("SELECT root_cause AS v FROM postmortems WHERE id = {pm}")).await, merged);
    assert_eq!(
        scalar(&app, &format!("SELECT summary AS v FROM postmortems WHERE id = {pm}")).await,
        "Search took 30 s for an hour.",
        "Ann's summary survives Bob's save"
    );
    assert_eq!(scalar(&app, &format!("SELECT version::text AS v FROM postmortems WHERE id = {pm}")).await, "3");
    let room = ann.page(&format!("/incidents/{id}")).await;
    assert!(room.contains("edited the post-mortem (summary, root cause and contributing factors)"), "on the timeline");

    // Preview renders the Markdown and keeps the values without saving.
    let form = bob.page(&edit).await;
    let mut fields = edit_fields(&form, &[("lessons", "Run **heavy jobs** at night.")]);
    fields.retain(|(k, _)| k != "action");
    fields.push(("action".into(), "preview".into()));
    let preview = html_of(post_form(&bob, &edit, &fields).await, StatusCode::OK).await;
    assert!(preview.contains("Run <strong>heavy jobs</strong> at night."), "rendered");
    assert_eq!(textarea(&preview, "lessons"), "Run **heavy jobs** at night.", "kept");
    assert_eq!(scalar(&app, &format!("SELECT lessons AS v FROM postmortems WHERE id = {pm}")).await, "");
}

#[tokio::test]
async fn detection_must_be_written_when_no_alert_caught_the_incident() {
    let app = spawn_app().await;
    let (browser, _) = app.signed_in(Role::Responder).await;
    let id = declare(&browser, &[("title", "Emails not sent"), ("detection_source", "customer")]).await;
    let pm = postmortem_of(&app, &id).await;

    let refused = html_of(step(&browser, &pm, "submit_for_review").await, StatusCode::UNPROCESSABLE_ENTITY).await;
    assert!(refused.contains("not detected by an alert"), "{refused}");
    assert!(refused.contains("id=\"f-detection\" name=\"detection\""), "the edit form opens at the section");
    assert!(refused.contains("aria-invalid=\"true\">"), "the field is marked");
    assert!(refused.contains("id=\"f-detection-error\""));
    assert!(refused.contains("Add a monitoring follow-up task"), "the follow-up is offered");
    assert_eq!(scalar(&app, &format!("SELECT status AS v FROM postmortems WHERE id = {pm}")).await, "draft");

    // The follow-up button belongs to the edit form: half-written sections
    // come back as typed, not saved, and not lost.
    let typed = "A customer wrote in; we were looking at";
    let fields = edit_fields(&refused, &[("detection", typed), ("summary", "Mail stopped for 2 h.")]);
    let added =
        html_of(post_form(&browser, &format!("/postmortems/{pm}/followup"), &fields).await, StatusCode::OK).await;
    assert!(added.contains("Follow-up task added: Add monitoring that would have caught"), "{added}");
    assert_eq!(textarea(&added, "detection"), typed, "the typed section is kept");
    assert_eq!(textarea(&added, "summary"), "Mail stopped for 2 h.");
    assert_eq!(scalar(&app, &format!("SELECT summary AS v FROM postmortems WHERE id = {pm}")).await, "", "not saved");
    assert_eq!(
        scalar(&app, &format!("SELECT title AS v FROM tasks WHERE incident_id = {id} AND kind = 'follow_up'")).await,
        "Add monitoring that would have caught “Emails not sent”"
    );
    // Pressed again (or the form resubmitted): the task already there is named, none is added.
    let again =
        html_of(post_form(&browser, &format!("/postmortems/{pm}/followup"), &fields).await, StatusCode::OK).await;
    assert!(again.contains("A follow-up task already tracks this"), "{again}");
    assert_eq!(
        scalar(&app, &format!("SELECT count(*)::text AS v FROM tasks WHERE incident_id = {id} AND kind = 'follow_up'"))
            .await,
        "1"
    );

    save(&browser, &pm, &[("detection", "A customer wrote in; no alert watches the mail queue.")]).await;
    assert_eq!(step(&browser, &pm, "submit_for_review").await.status(), StatusCode::SEE_OTHER);
    assert_eq!(scalar(&app, &format!("SELECT status AS v FROM postmortems WHERE id = {pm}")).await, "in_review");
    let room = browser.page(&format!("/incidents/{id}")).await;
    assert!(room.contains("sent the post-mortem for review."), "the step is on the timeline");

    // While in review the section stays required.
    let html = browser.page(&format!("/postmortems/{pm}/edit")).await;
    let response =
        post_form(&browser, &format!("/postmortems/{pm}/edit"), &edit_fields(&html, &[("detection", "  ")])).await;
    let refused = html_of(response, StatusCode::UNPROCESSABLE_ENTITY).await;
    assert!(refused.contains("id=\"f-detection-error\""));

    // An alert answers the question already.
    let alerted = declare(&browser, &[("title", "Disk full"), ("detection_source", "alert")]).await;
    let pm2 = postmortem_of(&app, &alerted).await;
    assert_eq!(step(&browser, &pm2, "submit_for_review").await.status(), StatusCode::SEE_OTHER);
}

#[tokio::test]
async fn a_reviewed_post_mortem_is_published_to_the_library_the_status_page_and_markdown() {
    let app = spawn_app().await;
    let (owner, owner_user) = app.signed_in(Role::Responder).await;
    let (reviewer, _) = app.signed_in(Role::Responder).await;
    let id =
        declare(&owner, &[("title", "Card payments fail"), ("severity", "2"), ("detection_source", "alert")]).await;
    let fields = [
        ("status", "identified"),
        ("impact_started_at", "2026-01-01T09:00"),
        ("impact", "Card payments fail for some customers."),
        ("actions", "We are renewing a certificate."),
        ("next_update", "30"),
        ("audience", "public"),
        ("action", "send"),
    ];
    assert_eq!(post_update(&owner, &id, &fields).await.status(), StatusCode::SEE_OTHER, "the incident goes public");
    let pm = postmortem_of(&app, &id).await;
    let root_cause = "The gateway's TLS certificate expired: its renewal ran on a decommissioned host.";
    save(
        &owner,
        &pm,
        &[
            ("owner", &owner_user.id.to_string()),
            ("summary", "Card payments failed for 40 minutes because a certificate expired."),
            ("root_cause", root_cause),
        ],
    )
    .await;
    // A second incident's post-mortem says the same but stays unpublished.
    let other = declare(&owner, &[("title", "Refunds stuck")]).await;
    let other_pm = postmortem_of(&app, &other).await;
    save(&owner, &other_pm, &[("root_cause", "Another decommissioned host.")]).await;

    // Every note is in the draft; one that names a customer is left out of the published version.
    act(&owner, &id, "notes", &[("body", "Acme's CTO called the support line.")]).await;
    act(&owner, &id, "notes", &[("body", "Renewal job found on a decommissioned host.")]).await;
    let draft = owner.page(&format!("/postmortems/{pm}")).await;
    assert!(draft.contains("Renewal job found on a decommissioned host."), "plain notes are in the draft");
    let acme = scalar(
        &app,
        &format!("SELECT id::text AS v FROM timeline_entries WHERE body LIKE 'Acme%' AND incident_id = {id}"),
    )
    .await;
    assert!(draft.contains(&format!("action=\"/postmortems/{pm}/entries/{acme}\"")), "each entry can be left out");
    let hidden = owner
        .submit(&format!("/postmortems/{pm}"), &format!("/postmortems/{pm}/entries/{acme}"), &[("hidden", "yes")])
        .await;
    assert_eq!(location(&hidden), format!("/postmortems/{pm}#entry-{acme}"));
    let draft = owner.page(&format!("/postmortems/{pm}")).await;
    assert!(draft.contains("Left out of the published version"), "{draft}");
    assert!(draft.contains("Put back in the published version"));
    // An entry of another incident cannot be hidden through this post-mortem.
    let elsewhere =
        scalar(&app, &format!("SELECT min(id)::text AS v FROM timeline_entries WHERE incident_id = {other}")).await;
    let response = owner
        .submit(&format!("/postmortems/{pm}"), &format!("/postmortems/{pm}/entries/{elsewhere}"), &[("hidden", "yes")])
        .await;
    assert_eq!(response.status(), StatusCode::NOT_FOUND);

    assert_eq!(step(&owner, &pm, "submit_for_review").await.status(), StatusCode::SEE_OTHER);
    let refused = html_of(step(&owner, &pm, "mark_reviewed").await, StatusCode::FORBIDDEN).await;
    assert!(refused.contains("The owner cannot review their own post-mortem"), "{refused}");
    assert_eq!(step(&reviewer, &pm, "mark_reviewed").await.status(), StatusCode::SEE_OTHER);
    let early = html_of(step(&owner, &pm, "publish").await, StatusCode::UNPROCESSABLE_ENTITY).await;
    assert!(early.contains("Publish once the incident is resolved"), "facts are not final before resolution");
    act(&owner, &id, "status", &[("status", "resolved")]).await;
    let not_theirs = html_of(step(&reviewer, &pm, "publish").await, StatusCode::FORBIDDEN).await;
    assert!(not_theirs.contains("Only the owner, the incident lead or an admin publishes"));
    // The incident is public: before its summary goes on the status page, the publisher reads it there.
    let review = owner.page(&format!("/postmortems/{pm}")).await;
    assert!(review.contains(&format!("href=\"/postmortems/{pm}/publish\">Publish post-mortem…</a>")), "{review}");
    let asked = step(&owner, &pm, "publish").await;
    assert_eq!(location(&asked), format!("/postmortems/{pm}/publish"), "a bare publish asks first");
    assert_eq!(scalar(&app, &format!("SELECT status AS v FROM postmortems WHERE id = {pm}")).await, "reviewed");
    let confirm = html_of(owner.get(&format!("/postmortems/{pm}/publish")).await, StatusCode::OK).await;
    assert!(confirm.contains("This text will be on the public status page"), "{confirm}");
    assert!(confirm.contains("Card payments failed for 40 minutes because a certificate expired."));
    assert!(!confirm.contains("decommissioned"), "only the summary is shown as public");
    assert!(confirm.contains("Publish internally only"));
    let response = owner
        .submit(
            &format!("/postmortems/{pm}/publish"),
            &format!("/postmortems/{pm}/status"),
            &[("transition", "publish"), ("summary_public", "yes")],
        )
        .await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);

    assert_eq!(scalar(&app, &format!("SELECT status AS v FROM postmortems WHERE id = {pm}")).await, "published");
    let facts = scalar(&app, &format!("SELECT published_facts AS v FROM postmortems WHERE id = {pm}")).await;
    assert!(facts.contains("## Metrics") && facts.contains("- **Time to detect:**"), "{facts}");
    assert!(facts.contains("Renewal job found on a decommissioned host."), "plain notes are published: {facts}");
    assert!(!facts.contains("Acme"), "the entry left out is not: {facts}");
    assert!(facts.contains("changed the status: Identified → Resolved."), "frozen timeline");
    assert_eq!(
        app.count(&format!(
            "SELECT count(*) AS n FROM postmortems WHERE id = {pm} AND published_at IS NOT NULL AND published_by = {}",
            owner_user.id
        ))
        .await,
        1
    );
    let page = owner.page(&format!("/postmortems/{pm}")).await;
    assert!(page.contains("As drafted from the incident's record and frozen at publication"));
    assert!(!page.contains("Edit post-mortem"), "published is final");
    assert_eq!(location(&owner.get(&format!("/postmortems/{pm}/edit")).await), format!("/postmortems/{pm}"));
    let room = owner.page(&format!("/incidents/{id}")).await;
    assert!(room.contains("published the post-mortem."), "on the timeline");

    // The final stakeholder note, offered to whoever speaks for the incident.
    let note_link = format!("/incidents/{id}/updates/new?postmortem={pm}");
    assert!(page.contains(&note_link), "offered to the lead");
    let form = owner.page(&note_link).await;
    assert!(form.contains(&format!("Why it happened: {}", root_cause.replace('\'', "&#39;"))), "{form}");
    assert!(form.contains("What we are doing about it:"));
    // It starts from the public summary, goes to internal stakeholders unless the sender
    // chooses otherwise, and has its own subject (not a second "Resolved").
    assert!(form.contains("Card payments failed for 40 minutes because a certificate expired."), "{form}");
    assert!(form.contains("value=\"internal\" checked"), "internal by default: {form}");
    assert!(form.contains("name=\"final_note\" value=\"true\""));
    let token = crate::helpers::csrf_token(&form);
    let preview = owner
        .post_raw(
            &format!("/incidents/{id}/updates"),
            &[
                ("csrf_token", token.as_str()),
                ("status", "resolved"),
                ("impact_started_at", "2026-01-01T09:00"),
                ("impact", "Card payments failed for 40 minutes because a certificate expired."),
                ("actions", "Why it happened: see above."),
                // No stakeholder groups exist here: preview what subscribers would get.
                ("audience", "public"),
                ("final_note", "true"),
                ("action", "preview"),
            ],
        )
        .await;
    let preview = html_of(preview, StatusCode::OK).await;
    assert!(preview.contains("What happened and what we are changing: "), "its own subject: {preview}");
    let reviewer_page = reviewer.page(&format!("/postmortems/{pm}")).await;
    assert!(!reviewer_page.contains(&note_link), "not offered to someone who may not send updates");

    // The public incident page links the summary.
    let public_id = scalar(&app, &format!("SELECT public_id AS v FROM incidents WHERE id = {id}")).await;
    let public = app.browser().page(&format!("/status/incidents/{public_id}")).await;
    assert!(
        public.contains(&format!("href=\"/status/incidents/{public_id}#postmortem\">Read the post-mortem summary"))
    );
    assert!(public.contains("Card payments failed for 40 minutes because a certificate expired."));
    assert!(!public.contains("decommissioned"), "only the summary is public");
    let api: serde_json::Value =
        app.browser().get("/api/v2/incidents.json").await.json().await.expect("the incidents JSON");
    assert_eq!(api["incidents"][0]["status"], "postmortem", "Statuspage's last stage");

    // The Markdown export: the whole document.
    let md = owner.get(&format!("/postmortems/{pm}.md")).await;
    assert_eq!(md.status(), StatusCode::OK);
    assert_eq!(md.headers()["content-type"], "text/markdown; charset=utf-8");
    let disposition = md.headers()["content-disposition"].to_str().expect("ascii").to_owned();
    assert_eq!(disposition, format!("attachment; filename=\"postmortem-{pm}-card-payments-fail.md\""));
    let text = md.text().await.expect("body");
    assert!(text.starts_with("# Post-mortem: Card payments fail\n\nStatus: Published "), "{text}");
    assert!(text.contains("## Key times\n") && text.contains("## Timeline\n") && text.contains("## Tasks\n"));
    assert!(text.contains(&format!("## Root cause and contributing factors\n\n{root_cause}\n")));
    assert!(text.contains("## Lessons\n\n_Not written._"));

    // The library finds it by a word of its root cause, and not the unpublished one.
    let found = owner.page("/postmortems?q=decommissioned").await;
    assert!(found.contains(&format!("<a href=\"/postmortems/{pm}\">Card payments fail</a>")), "{found}");
    assert!(!found.contains("Refunds stuck"), "unpublished post-mortems are not in the library");
    assert!(found.contains("value=\"decommissioned\""), "the search is kept in the form");
    let by_title = owner.page("/postmortems?q=payments&severity=2").await;
    assert!(by_title.contains("Card payments fail"), "the title is searched too");
    let none = owner.page("/postmortems?q=decommissioned&severity=4").await;
    assert!(none.contains("No published post-mortem matches this search."));
    let dated = owner.page("/postmortems?dates=published&from=2000-01-01&until=2000-12-31").await;
    assert!(!dated.contains("Card payments fail"), "outside the date range");
    let all = owner.page("/postmortems").await;
    assert!(all.contains("Card payments fail"));
    let bad = html_of(owner.get("/postmortems?from=yesterday").await, StatusCode::UNPROCESSABLE_ENTITY).await;
    assert!(bad.contains("Enter a date like 2026-11-21."));
}

#[tokio::test]
async fn viewers_read_and_restricted_post_mortems_stay_with_their_participants() {
    let app = spawn_app().await;
    let (lead, _) = app.signed_in(Role::Responder).await;
    let (viewer, _) = app.signed_in(Role::Viewer).await;
    let id = declare(&lead, &[("title", "Status page slow")]).await;
    let pm = postmortem_of(&app, &id).await;

    let page = viewer.page(&format!("/postmortems/{pm}")).await;
    assert!(!page.contains("Edit post-mortem") && !page.contains("Send for review"));
    assert_eq!(viewer.get(&format!("/postmortems/{pm}/edit")).await.status(), StatusCode::FORBIDDEN);
    let token = csrf_token(&page);
    let edit = viewer
        .post_raw(
            &format!("/postmortems/{pm}/edit"),
            &[("csrf_token", &token), ("version", "1"), ("summary", "mine now")],
        )
        .await;
    assert_eq!(edit.status(), StatusCode::FORBIDDEN);
    let status = viewer
        .post_raw(&format!("/postmortems/{pm}/status"), &[("csrf_token", &token), ("transition", "submit_for_review")])
        .await;
    assert_eq!(status.status(), StatusCode::FORBIDDEN);
    assert_eq!(scalar(&app, &format!("SELECT summary || status AS v FROM postmortems WHERE id = {pm}")).await, "draft");
    let no_token = lead.post_raw(&format!("/postmortems/{pm}/edit"), &[("version", "1"), ("summary", "x")]).await;
    assert_eq!(no_token.status(), StatusCode::FORBIDDEN, "CSRF is checked");
    assert_eq!(viewer.get("/postmortems/999999").await.status(), StatusCode::NOT_FOUND);

    // A restricted incident's post-mortem does not exist for others.
    let secret =
        declare(&lead, &[("title", "Leaked token"), ("restricted", "true"), ("detection_source", "alert")]).await;
    let secret_pm = postmortem_of(&app, &secret).await;
    let (outsider, _) = app.signed_in(Role::Responder).await;
    assert_eq!(outsider.get(&format!("/postmortems/{secret_pm}")).await.status(), StatusCode::NOT_FOUND);
    assert_eq!(outsider.get(&format!("/postmortems/{secret_pm}.md")).await.status(), StatusCode::NOT_FOUND);
    save(&lead, &secret_pm, &[("summary", "A token leaked in a log line.")]).await;
    act(&lead, &secret, "status", &[("status", "resolved")]).await;
    for t in ["submit_for_review", "mark_reviewed"] {
        assert_eq!(step(&lead, &secret_pm, t).await.status(), StatusCode::SEE_OTHER, "{t}");
    }
    assert_eq!(step(&lead, &secret_pm, "publish").await.status(), StatusCode::SEE_OTHER);
    assert!(lead.page("/postmortems?q=token").await.contains("Leaked token"), "participants find it");
    assert!(!outsider.page("/postmortems?q=token").await.contains("Leaked token"), "others do not");
    assert!(!outsider.page("/postmortems").await.contains("Leaked token"));
}

#[tokio::test]
async fn a_public_incidents_post_mortem_can_be_published_internally_only() {
    let app = spawn_app().await;
    let (lead, lead_user) = app.signed_in(Role::Responder).await;
    let (reviewer, _) = app.signed_in(Role::Responder).await;
    let id = declare(&lead, &[("title", "Search down"), ("detection_source", "alert")]).await;
    let fields = [
        ("status", "resolved"),
        ("impact_started_at", "2026-01-01T09:00"),
        ("impact", "Search was down."),
        ("actions", "It is back."),
        ("audience", "public"),
        ("action", "send"),
    ];
    assert_eq!(post_update(&lead, &id, &fields).await.status(), StatusCode::SEE_OTHER, "public and resolved");
    let pm = postmortem_of(&app, &id).await;
    let summary = "Search was down for 12 minutes: the index host ran out of disk.";
    save(&lead, &pm, &[("owner", &lead_user.id.to_string()), ("summary", summary)]).await;
    assert_eq!(step(&lead, &pm, "submit_for_review").await.status(), StatusCode::SEE_OTHER);
    assert_eq!(step(&reviewer, &pm, "mark_reviewed").await.status(), StatusCode::SEE_OTHER);
    // The reviewer may not publish: the confirmation is not theirs either.
    assert_eq!(
        location(&reviewer.get(&format!("/postmortems/{pm}/publish")).await),
        format!("/postmortems/{pm}#pm-review")
    );

    let response = lead
        .submit(
            &format!("/postmortems/{pm}/publish"),
            &format!("/postmortems/{pm}/status"),
            &[("transition", "publish"), ("summary_public", "no")],
        )
        .await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(scalar(&app, &format!("SELECT status AS v FROM postmortems WHERE id = {pm}")).await, "published");
    let page = lead.page(&format!("/postmortems/{pm}")).await;
    assert!(page.contains("Published internally only"), "{page}");
    assert!(lead.page("/postmortems").await.contains("Search down"), "in the library");

    let public_id = scalar(&app, &format!("SELECT public_id AS v FROM incidents WHERE id = {id}")).await;
    let public = app.browser().page(&format!("/status/incidents/{public_id}")).await;
    assert!(public.contains("Search was down."), "the update is public");
    assert!(!public.contains(summary), "the summary is not");
    assert!(!public.contains("Read the post-mortem summary"));
    // Once published there is nothing left to confirm.
    assert_eq!(
        location(&lead.get(&format!("/postmortems/{pm}/publish")).await),
        format!("/postmortems/{pm}#pm-review")
    );
}

/// axe-core's WCAG 2.1 A and AA rules on the post-mortem pages, in the light
/// and the dark colour scheme (the same check `accessibility` runs on the
/// other pages).
#[tokio::test]
async fn post_mortem_pages_pass_axe_in_light_and_dark() {
    use fantoccini::Locator;
    use fantoccini::wd::WebDriverCompatibleCommand;
    use serde_json::{Value, json};

    #[derive(Debug)]
    struct Cdp(Value);
    impl WebDriverCompatibleCommand for Cdp {
        fn endpoint(&self, base: &url::Url, session: Option<&str>) -> Result<url::Url, url::ParseError> {
            base.join(&format!("session/{}/goog/cdp/execute", session.unwrap_or_default()))
        }
        fn method_and_body(&self, _: &url::Url) -> (reqwest::Method, Option<String>) {
            let body = json!({ "cmd": "Emulation.setEmulatedMedia", "params": self.0 });
            (reqwest::Method::POST, Some(body.to_string()))
        }
    }
    const RUN_AXE: &str = "
        const done = arguments[arguments.length - 1];
        axe.run(document, { runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa'] },
                            resultTypes: ['violations'] })
           .then(r => done(r.violations.map(v => v.id + ': ' + v.help + ' ' + JSON.stringify(v.nodes.map(n => n.target)))),
                 e => done(['axe failed: ' + e]));";

    let axe = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/tools/node_modules/axe-core/axe.min.js"),
    )
    .expect("axe-core is missing: run ./scripts/test, or `npm ci` in tests/tools");
    let driver = crate::browser::Chromedriver::start();
    let app = spawn_app().await;
    let user = app.create_user(Role::Responder).await;
    let http = app.browser();
    http.sign_in(&user.email, &user.password).await;
    let api = component(&app, "Card payments").await;
    let id = declare(&http, &[("title", "Card payments fail"), ("severity", "2"), ("components", api.as_str())]).await;
    let pm = postmortem_of(&app, &id).await;
    save(
        &http,
        &pm,
        &[
            ("owner", &user.id.to_string()),
            ("summary", "Payments failed for **40 minutes**."),
            ("detection", "A customer told us."),
            ("root_cause", "A certificate expired."),
        ],
    )
    .await;
    act(&http, &id, "notes", &[("body", "Renewed the certificate")]).await;
    act(&http, &id, "status", &[("status", "resolved")]).await;
    let draft = declare(&http, &[("title", "Slow search")]).await;
    let draft_pm = postmortem_of(&app, &draft).await;
    let (reviewer, _) = app.signed_in(Role::Responder).await;
    assert_eq!(step(&http, &pm, "submit_for_review").await.status(), StatusCode::SEE_OTHER);
    assert_eq!(step(&reviewer, &pm, "mark_reviewed").await.status(), StatusCode::SEE_OTHER);
    assert_eq!(step(&http, &pm, "publish").await.status(), StatusCode::SEE_OTHER);

    let browser = driver.new_session("postmortems-axe").await;
    crate::browser::sign_in(&browser, &app.address, &user).await;
    let mut failures = Vec::new();
    let edit = format!("/postmortems/{draft_pm}/edit");
    for path in
        ["/postmortems".to_owned(), format!("/postmortems/{pm}"), format!("/postmortems/{draft_pm}"), edit.clone()]
    {
        for (scheme, preview) in [("light", false), ("dark", false), ("light", true)] {
            if preview && path != edit {
                continue;
            }
            browser
                .issue_cmd(Cdp(json!({ "features": [{ "name": "prefers-color-scheme", "value": scheme }] })))
                .await
                .expect("emulate the colour scheme");
            browser.goto(&format!("{}{path}", app.address)).await.expect("open the page");
            if preview {
                browser
                    .find(Locator::XPath("//main//button[normalize-space()='Preview']"))
                    .await
                    .expect("a Preview button")
                    .click()
                    .await
                    .expect("click");
                browser.wait().for_element(Locator::Css(".pm-preview")).await.expect("the preview shows");
            }
            browser.execute(&format!("{axe}\n;return true;"), vec![]).await.expect("inject axe-core");
            let found = browser.execute_async(RUN_AXE, vec![]).await.expect("run axe");
            for v in found.as_array().into_iter().flatten() {
                failures.push(format!("{path} ({scheme}{}): {v}", if preview { ", preview" } else { "" }));
            }
        }
    }
    browser.close().await.expect("close the browser");
    assert!(failures.is_empty(), "axe-core found WCAG 2.1 A/AA violations:\n{}", failures.join("\n"));
}
