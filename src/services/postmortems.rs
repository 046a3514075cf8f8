//! The post-mortem of an incident: drafted on resolution, written together
//! (optimistic locking on `version`), reviewed and published. Publishing
//! freezes the drafted facts as Markdown, queues the webhook and, for a
//! public incident, puts the summary on the status page.

use std::collections::BTreeMap;

use chrono::Utc;
use diesel_async::{AsyncConnection, AsyncPgConnection};

use super::incidents::{load_for_change, name_of, notify, record, require_responder};
use super::{Actor, FieldErrors, ServiceError};
use crate::config::Settings;
use crate::db::ids::PostmortemId;
use crate::db::incidents::Incident;
use crate::db::postmortems::{self, Postmortem, SectionChanges};
use crate::db::tasks::Task;
use crate::db::{DbPool, UserId, change_requests, component_status, components, incident_roles, tasks, timeline};
use crate::db::{updates, users};
use crate::domain::Role;
use crate::domain::incident::{DetectionSource, EntryKind, IncidentRole, IncidentStatus, Visibility};
use crate::domain::metrics::{IncidentMetrics, Timestamps};
use crate::domain::postmortem::{
    self as rules, FactChange, FactEntry, FactTask, FactUpdate, Facts, MAX_SECTION_CHARS, PostmortemStatus, Refusal,
    Section, Situation, Transition, Who,
};
use crate::domain::webhooks::EventKind;
use crate::email::compose::link;

/// The post-mortem and its incident, when this person may see them (a
/// restricted incident's post-mortem does not reveal that it exists).
pub async fn find_visible(
    conn: &mut AsyncPgConnection,
    actor: &Actor,
    id: PostmortemId,
) -> Result<(Postmortem, Incident), ServiceError> {
    let pm = postmortems::find(conn, id).await?.ok_or(ServiceError::NotFound)?;
    let incident = crate::db::incidents::find(conn, pm.incident_id).await?.ok_or(ServiceError::NotFound)?;
    if !super::incidents::can_view(conn, &incident, actor).await? {
        return Err(ServiceError::NotFound);
    }
    Ok((pm, incident))
}

/// Whether the detection section is still owed (see `domain::postmortem`).
pub fn detection_missing(incident: &Incident, pm_detection: &str) -> bool {
    rules::detection_missing(incident.detection_source() == DetectionSource::Alert, pm_detection)
}

/// Drafts the facts from the incident's record as it is now.
pub async fn facts(conn: &mut AsyncPgConnection, incident: &Incident) -> diesel::QueryResult<Facts> {
    let id = incident.id;
    let component_names = components::for_incident(conn, id).await?.into_iter().map(|c| c.name).collect();
    let holders = incident_roles::all_for(conn, id).await?;
    let entries = timeline::list_for(conn, id).await?;
    let task_rows = tasks::list_for(conn, id).await?;
    let change_rows = change_requests::list_for(conn, id).await?;
    let mut update_rows = updates::list_for(conn, id).await?;
    update_rows.reverse();
    let hidden = postmortems::hidden_entries(conn, id).await?;

    let mut known: BTreeMap<UserId, String> = BTreeMap::new();
    for h in &holders {
        known.insert(h.assignment.user_id, h.name.clone());
    }
    let mut participants = known.clone();
    for (e, name) in &entries {
        if let (Some(author), Some(name)) = (e.author_id, name) {
            participants.insert(author, name.clone());
        }
    }
    for (t, name) in &task_rows {
        if let (Some(assignee), Some(name)) = (t.assignee_id, name) {
            participants.insert(assignee, name.clone());
        }
    }
    known.extend(participants.iter().map(|(k, v)| (*k, v.clone())));
    // Change requests name people by id only; look up whoever is not known yet.
    for c in &change_rows {
        for uid in [Some(c.requested_by), c.decided_by, c.applied_by].into_iter().flatten() {
            if let std::collections::btree_map::Entry::Vacant(slot) = known.entry(uid) {
                slot.insert(name_of(conn, uid).await?);
            }
        }
    }
    let person = |uid: UserId| known.get(&uid).cloned().unwrap_or_else(|| format!("user {uid}"));

    let holders_of = |role: IncidentRole| {
        let mut out: Vec<String> = Vec::new();
        for h in holders.iter().filter(|h| h.assignment.role() == role) {
            if !out.contains(&h.name) {
                out.push(h.name.clone());
            }
        }
        out
    };
    let mut participant_names: Vec<String> = participants.into_values().collect();
    participant_names.sort_by_key(|n| n.to_lowercase());
    participant_names.dedup();

    let resolved = !incident.status().is_active();
    let timestamps = Timestamps {
        impact_started_at: incident.impact_started_at,
        detected_at: incident.detected_at,
        declared_at: incident.declared_at,
        acknowledged_at: incident.acknowledged_at,
        mitigated_at: incident.mitigated_at,
        resolved_at: incident.resolved_at,
        is_resolved: resolved,
    };
    let times = vec![
        ("Impact started", Some(incident.impact_started_at)),
        ("Detected", Some(incident.detected_at)),
        ("Declared", Some(incident.declared_at)),
        ("Acknowledged", incident.acknowledged_at),
        ("Mitigated", incident.mitigated_at),
        // A reopened incident is not resolved: its old resolution does not count.
        ("Resolved", incident.resolved_at.filter(|_| resolved)),
        ("Closed", incident.closed_at.filter(|_| incident.status() == IncidentStatus::Closed)),
    ];
    let timeline = entries
        .into_iter()
        // Every note (key moments marked), and the status, severity and role changes.
        .filter(|(e, _)| {
            e.highlighted
                || matches!(e.kind(), EntryKind::Note | EntryKind::Status | EntryKind::Severity | EntryKind::Role)
        })
        .map(|(e, author)| FactEntry {
            id: e.id.0,
            hidden: hidden.contains(&e.id),
            at: e.occurred_at,
            author: author.unwrap_or_else(|| "Firebreak".to_owned()),
            kind: e.kind().label().to_owned(),
            body: e.body,
            highlighted: e.highlighted,
        })
        .collect();
    let updates = update_rows
        .into_iter()
        .map(|(u, by)| FactUpdate {
            at: u.created_at,
            by: by.unwrap_or_else(|| "Firebreak".to_owned()),
            audience: u.audience().label().to_owned(),
            subject: u.subject,
            body: u.body,
        })
        .collect();
    let changes = change_rows
        .into_iter()
        .map(|c| FactChange {
            requested_at: c.created_at,
            requested_by: person(c.requested_by),
            status: c.status().label().to_owned(),
            decided: c.decided_by.zip(c.decided_at).map(|(by, at)| (person(by), at)),
            applied: c.applied_by.zip(c.applied_at).map(|(by, at)| (person(by), at)),
            description: c.description,
            rollback_plan: c.rollback_plan,
        })
        .collect();
    let tasks = task_rows
        .into_iter()
        .map(|(t, assignee)| FactTask {
            kind: t.kind().label().to_owned(),
            status: t.status().label().to_owned(),
            assignee,
            due_at: t.due_at,
            ticket_url: t.ticket_url,
            title: t.title,
        })
        .collect();
    Ok(Facts {
        title: incident.title.clone(),
        severity: incident.severity().to_string(),
        kind: incident.kind().label().to_owned(),
        components: component_names,
        environment: incident.environment.clone(),
        detection_source: incident.detection_source().label().to_owned(),
        leads: holders_of(IncidentRole::Lead),
        note_takers: holders_of(IncidentRole::NoteTaker),
        comms_leads: holders_of(IncidentRole::CommsLead),
        participants: participant_names,
        times,
        metrics: IncidentMetrics::of(&timestamps),
        timeline,
        updates,
        changes,
        tasks,
    })
}

/// The raw values of the edit form: the owner, every section, and for each
/// section the fingerprint of the text the editor started from.
#[derive(Debug, Default, Clone, serde::Deserialize)]
#[serde(default)]
pub struct EditInput {
    pub version: String,
    pub owner: String,
    pub base_owner: String,
    pub summary: String,
    pub customer_impact: String,
    pub detection: String,
    pub root_cause: String,
    pub trigger: String,
    pub resolution: String,
    pub went_well: String,
    pub went_badly: String,
    pub got_lucky: String,
    pub lessons: String,
    pub base_summary: String,
    pub base_customer_impact: String,
    pub base_detection: String,
    pub base_root_cause: String,
    pub base_trigger: String,
    pub base_resolution: String,
    pub base_went_well: String,
    pub base_went_badly: String,
    pub base_got_lucky: String,
    pub base_lessons: String,
    /// Which button was pressed: `preview` or `save`.
    pub action: String,
}

impl EditInput {
    /// The form as a saved post-mortem fills it.
    pub fn from_saved(pm: &Postmortem) -> EditInput {
        let mut input = EditInput {
            version: pm.version.to_string(),
            owner: pm.owner_id.map(|o| o.to_string()).unwrap_or_default(),
            base_owner: pm.owner_id.map(|o| o.to_string()).unwrap_or_default(),
            ..Default::default()
        };
        for s in Section::ALL {
            *input.text_mut(*s) = pm.section(*s).to_owned();
            *input.base_mut(*s) = rules::fingerprint(pm.section(*s));
        }
        input
    }

    pub fn text(&self, s: Section) -> &str {
        match s {
            Section::Summary => &self.summary,
            Section::CustomerImpact => &self.customer_impact,
            Section::Detection => &self.detection,
            Section::RootCause => &self.root_cause,
            Section::Trigger => &self.trigger,
            Section::Resolution => &self.resolution,
            Section::WentWell => &self.went_well,
            Section::WentBadly => &self.went_badly,
            Section::GotLucky => &self.got_lucky,
            Section::Lessons => &self.lessons,
        }
    }

    pub fn text_mut(&mut self, s: Section) -> &mut String {
        match s {
            Section::Summary => &mut self.summary,
            Section::CustomerImpact => &mut self.customer_impact,
            Section::Detection => &mut self.detection,
            Section::RootCause => &mut self.root_cause,
            Section::Trigger => &mut self.trigger,
            Section::Resolution => &mut self.resolution,
            Section::WentWell => &mut self.went_well,
            Section::WentBadly => &mut self.went_badly,
            Section::GotLucky => &mut self.got_lucky,
            Section::Lessons => &mut self.lessons,
        }
    }

    /// The fingerprint of the text the editor started from ("" when unknown).
    pub fn base(&self, s: Section) -> &str {
        match s {
            Section::Summary => &self.base_summary,
            Section::CustomerImpact => &self.base_customer_impact,
            Section::Detection => &self.base_detection,
            Section::RootCause => &self.base_root_cause,
            Section::Trigger => &self.base_trigger,
            Section::Resolution => &self.base_resolution,
            Section::WentWell => &self.base_went_well,
            Section::WentBadly => &self.base_went_badly,
            Section::GotLucky => &self.base_got_lucky,
            Section::Lessons => &self.base_lessons,
        }
    }

    pub fn base_mut(&mut self, s: Section) -> &mut String {
        match s {
            Section::Summary => &mut self.base_summary,
            Section::CustomerImpact => &mut self.base_customer_impact,
            Section::Detection => &mut self.base_detection,
            Section::RootCause => &mut self.base_root_cause,
            Section::Trigger => &mut self.base_trigger,
            Section::Resolution => &mut self.base_resolution,
            Section::WentWell => &mut self.base_went_well,
            Section::WentBadly => &mut self.base_went_badly,
            Section::GotLucky => &mut self.base_got_lucky,
            Section::Lessons => &mut self.base_lessons,
        }
    }
}

/// One section both people changed: what you typed beside what they saved.
#[derive(Debug, Clone)]
pub struct SectionConflict {
    pub section: Section,
    pub mine: String,
    pub theirs: String,
}

/// What the editor sees after someone else saved first: the conflicting
/// sections side by side, the sections only they changed taken into the
/// form, and the form moved on to the saved version (saving again is
/// deliberate: it writes the form as it then stands).
#[derive(Debug, Clone)]
pub struct Rebased {
    pub form: EditInput,
    pub conflicts: Vec<SectionConflict>,
    /// Sections only the other person changed (now in the form).
    pub taken: Vec<Section>,
    /// Both changed the owner: (yours, theirs) as user ids ("" for nobody).
    pub owner_conflict: Option<(String, String)>,
    pub saved_by: Option<String>,
}

/// Lines the form up with the saved post-mortem after a conflict.
pub fn rebase(mine: &EditInput, saved: &Postmortem, saved_by: Option<String>) -> Rebased {
    let mut form = mine.clone();
    let mut conflicts = Vec::new();
    let mut taken = Vec::new();
    for s in Section::ALL.iter().copied() {
        let base = Some(mine.base(s)).filter(|b| !b.is_empty());
        let theirs = saved.section(s);
        match rules::merge(base, mine.text(s), theirs) {
            rules::Merged::Theirs => {
                *form.text_mut(s) = theirs.to_owned();
                taken.push(s);
            }
            rules::Merged::Conflict => {
                conflicts.push(SectionConflict { section: s, mine: mine.text(s).to_owned(), theirs: theirs.to_owned() })
            }
            rules::Merged::Same | rules::Merged::Mine => {}
        }
        *form.base_mut(s) = rules::fingerprint(theirs);
    }
    let their_owner = saved.owner_id.map(|o| o.to_string()).unwrap_or_default();
    let mut owner_conflict = None;
    if mine.owner.trim() != their_owner {
        if mine.base_owner.trim() == mine.owner.trim() {
            form.owner = their_owner.clone();
        } else if mine.base_owner.trim() != their_owner {
            owner_conflict = Some((mine.owner.trim().to_owned(), their_owner.clone()));
        }
    }
    form.base_owner = their_owner;
    form.version = saved.version.to_string();
    Rebased { form, conflicts, taken, owner_conflict, saved_by }
}

/// An enabled responder chosen as owner ("" for nobody).
async fn parse_owner(conn: &mut AsyncPgConnection, input: &str) -> Result<Option<UserId>, String> {
    let t = input.trim();
    if t.is_empty() {
        return Ok(None);
    }
    let id: UserId = t.parse().map_err(|_| "Choose the owner from the list.".to_owned())?;
    match users::find(conn, id).await {
        Ok(Some(u)) if !u.disabled && u.role().allows(Role::Responder) => Ok(Some(id)),
        Ok(_) => Err("Choose a responder from the list as owner.".into()),
        Err(e) => Err(format!("Could not look that person up: {e}")),
    }
}

/// Checks the form without saving (the preview).
pub fn check_sections(input: &EditInput) -> FieldErrors {
    let mut errors = FieldErrors::new();
    for s in Section::ALL.iter().copied() {
        if input.text(s).chars().count() > MAX_SECTION_CHARS {
            errors.add(s.as_str(), format!("Keep this section under {MAX_SECTION_CHARS} characters."));
        }
    }
    errors
}

/// Saves the sections and the owner over the version the editor started
/// from. `Conflict` when someone saved since: nothing is written.
pub async fn save(
    pool: &DbPool,
    actor: &Actor,
    id: PostmortemId,
    input: &EditInput,
) -> Result<Postmortem, ServiceError> {
    let me = require_responder(actor)?;
    let now = Utc::now();
    let mut errors = check_sections(input);
    let version: Option<i32> = input.version.trim().parse().ok();
    if version.is_none() {
        errors.add("version", "The form is missing its version; reload the page and try again.");
    }
    let mut conn = pool.get().await?;
    let owner = match parse_owner(&mut conn, &input.owner).await {
        Ok(o) => o,
        Err(m) => {
            errors.add("owner", m);
            None
        }
    };
    let texts: Vec<(Section, String)> = Section::ALL.iter().map(|s| (*s, rules::normalize(input.text(*s)))).collect();
    conn.transaction(async |conn| {
        let (pm, _) = find_visible(conn, actor, id).await?;
        // Lock the incident first, as resolving it does (it then drafts the
        // post-mortem): the same order everywhere, so no deadlock.
        let incident = load_for_change(conn, actor, pm.incident_id).await?;
        let pm = postmortems::find(conn, id).await?.ok_or(ServiceError::NotFound)?;
        if !pm.status().is_editable() {
            return Err(ServiceError::Forbidden("a published post-mortem is final"));
        }
        let text = |s: Section| texts.iter().find(|(x, _)| *x == s).map(|(_, t)| t.as_str()).unwrap_or_default();
        if pm.status() != PostmortemStatus::Draft && detection_missing(&incident, text(Section::Detection)) {
            errors.add("detection", Refusal::DetectionMissing.message());
        }
        let Some(version) = version.filter(|_| errors.is_empty()) else {
            return Err(ServiceError::Invalid(errors));
        };
        if pm.version != version {
            return Err(ServiceError::Conflict);
        }
        let changed: Vec<Section> =
            Section::ALL.iter().copied().filter(|s| rules::normalize(pm.section(*s)) != text(*s)).collect();
        let owner_changed = pm.owner_id != owner;
        if changed.is_empty() && !owner_changed {
            return Ok(pm);
        }
        let changes = SectionChanges {
            owner_id: owner,
            summary: text(Section::Summary),
            customer_impact: text(Section::CustomerImpact),
            detection: text(Section::Detection),
            root_cause: text(Section::RootCause),
            trigger: text(Section::Trigger),
            resolution: text(Section::Resolution),
            went_well: text(Section::WentWell),
            went_badly: text(Section::WentBadly),
            got_lucky: text(Section::GotLucky),
            lessons: text(Section::Lessons),
        };
        let saved = postmortems::save(conn, id, version, &changes, me, now).await?.ok_or(ServiceError::Conflict)?;
        let who = name_of(conn, me).await?;
        let mut parts = Vec::new();
        if !changed.is_empty() {
            let names: Vec<String> = changed.iter().map(|s| s.label().to_lowercase()).collect();
            parts.push(format!("edited the post-mortem ({})", names.join(", ")));
        }
        if owner_changed {
            parts.push(match owner {
                Some(o) if o == me => "took ownership of the post-mortem".to_owned(),
                Some(o) => format!("made {} the post-mortem's owner", name_of(conn, o).await?),
                None => "left the post-mortem without an owner".to_owned(),
            });
        }
        record(conn, incident.id, Some(me), EntryKind::System, &format!("{who} {}.", parts.join(" and ")), now).await?;
        notify(conn, incident.id).await?;
        Ok(saved)
    })
    .await
}

/// Whether publishing `pm` asks first where its summary goes: the incident is
/// on the public status page and there is a summary to show there.
pub fn publication_asks(pm: &Postmortem, incident: &Incident) -> bool {
    incident.visibility() == Visibility::Public && !pm.summary.trim().is_empty()
}

/// Moves the post-mortem along its review flow (see `domain::postmortem`).
/// Publishing freezes the facts and queues the webhook; for a public incident
/// it puts the summary on the status page only when `summary_public` says so
/// (the publisher has seen it: see `publication_asks`).
pub async fn change_status(
    pool: &DbPool,
    settings: &Settings,
    actor: &Actor,
    id: PostmortemId,
    transition: &str,
    summary_public: Option<bool>,
) -> Result<(Postmortem, Incident), ServiceError> {
    let me = require_responder(actor)?;
    let t = Transition::parse(transition).map_err(|m| ServiceError::Invalid(FieldErrors::single("status", m)))?;
    let now = Utc::now();
    let mut conn = pool.get().await?;
    conn.transaction(async |conn| {
        let (pm, _) = find_visible(conn, actor, id).await?;
        // Incident first, then post-mortem: the order resolving takes them in.
        let incident = load_for_change(conn, actor, pm.incident_id).await?;
        let pm = postmortems::find_for_update(conn, id).await?.ok_or(ServiceError::NotFound)?;
        let lead = incident_roles::current_holder(conn, incident.id, IncidentRole::Lead).await?;
        let who = Who {
            is_responder: actor.role.allows(Role::Responder),
            is_admin: actor.role == Role::Admin,
            is_owner: pm.owner_id == Some(me),
            is_lead: lead.is_some_and(|l| l.user_id == me),
        };
        let situation = Situation {
            status: pm.status(),
            has_owner: pm.owner_id.is_some(),
            incident_resolved: !incident.status().is_active(),
            detection_missing: detection_missing(&incident, &pm.detection),
        };
        match rules::check(t, &who, &situation) {
            Ok(_) => {}
            Err(Refusal::DetectionMissing) => {
                return Err(ServiceError::Invalid(FieldErrors::single(
                    "detection",
                    Refusal::DetectionMissing.message(),
                )));
            }
            Err(Refusal::NotAllowed(m)) => return Err(ServiceError::Forbidden(m)),
            Err(r) => return Err(ServiceError::Invalid(FieldErrors::single("status", r.message()))),
        }
        let saved = if t == Transition::Publish {
            let asks = publication_asks(&pm, &incident);
            if asks && summary_public.is_none() {
                return Err(ServiceError::Invalid(FieldErrors::single(
                    "summary_public",
                    "Choose whether the summary goes on the public status page.",
                )));
            }
            let public = asks && summary_public == Some(true);
            let facts = facts(conn, &incident).await?;
            let markdown = facts.to_markdown(chrono_tz::UTC);
            let saved = postmortems::publish(conn, id, &markdown, public, me, now).await?;
            let detail = serde_json::json!({
                "postmortem_id": saved.id,
                "url": link(settings, &format!("/postmortems/{}", saved.id)),
                "summary": saved.summary,
                "published_at": now,
            });
            super::webhooks::enqueue(conn, settings, EventKind::PostmortemPublished, &incident, detail).await?;
            if public {
                component_status::notify_status_changed(conn).await?;
            }
            super::audit(conn, actor, "postmortem.publish", &incident.title, &format!("post-mortem {id}")).await?;
            saved
        } else {
            postmortems::set_status(conn, id, t.to(), me, now).await?
        };
        let who = name_of(conn, me).await?;
        record(conn, incident.id, Some(me), EntryKind::System, &format!("{who} {}.", t.past()), now).await?;
        notify(conn, incident.id).await?;
        Ok((saved, incident))
    })
    .await
}

/// Leaves a timeline entry out of the published facts, or puts it back.
/// Only while the post-mortem is not published (publication is final).
pub async fn set_entry_hidden(
    pool: &DbPool,
    actor: &Actor,
    id: PostmortemId,
    entry: crate::db::EntryId,
    hidden: bool,
) -> Result<(), ServiceError> {
    let me = require_responder(actor)?;
    let mut conn = pool.get().await?;
    conn.transaction(async |conn| {
        let (_, incident) = find_visible(conn, actor, id).await?;
        let pm = postmortems::find_for_update(conn, id).await?.ok_or(ServiceError::NotFound)?;
        if !pm.status().is_editable() {
            return Err(ServiceError::Forbidden("a published post-mortem is final"));
        }
        if timeline::find_in(conn, incident.id, entry).await?.is_none() {
            return Err(ServiceError::NotFound);
        }
        postmortems::set_entry_hidden(conn, id, entry, hidden, me).await?;
        Ok(())
    })
    .await
}

/// The follow-up the detection question often leads to: monitoring that
/// would have caught this incident (a follow-up task of the incident). Asked
/// twice (a second press, a resubmitted form), it gives back the task already
/// there: `(task, false)`.
pub async fn create_monitoring_followup(
    pool: &DbPool,
    actor: &Actor,
    tz: chrono_tz::Tz,
    id: PostmortemId,
) -> Result<(Task, bool), ServiceError> {
    require_responder(actor)?;
    let mut conn = pool.get().await?;
    let (_, incident) = find_visible(&mut conn, actor, id).await?;
    let title: String =
        format!("Add monitoring that would have caught “{}”", incident.title).chars().take(200).collect();
    let existing = crate::db::tasks::list_for(&mut conn, incident.id)
        .await?
        .into_iter()
        .map(|(t, _)| t)
        .find(|t| t.title == title && t.kind() == crate::domain::incident::TaskKind::FollowUp);
    drop(conn);
    if let Some(task) = existing {
        return Ok((task, false));
    }
    let input = super::incidents::TaskInput {
        title,
        kind: crate::domain::incident::TaskKind::FollowUp.as_str().to_owned(),
        ..Default::default()
    };
    Ok((super::incidents::create_task(pool, actor, tz, incident.id, &input).await?, true))
}

/// Fills the update form with the final stakeholder note after publication:
/// why it happened and what is being done about it.
pub fn stakeholder_note(form: &mut super::updates::UpdateInput, pm: &Postmortem, followups: &[String]) {
    fn clip(s: &str, max: usize) -> String {
        let s = rules::normalize(s);
        if s.chars().count() <= max { s } else { format!("{}…", s.chars().take(max).collect::<String>().trim_end()) }
    }
    // The summary is the post-mortem's public text (the status page shows it);
    // the root cause below is internal, so the note goes to stakeholders only
    // unless the sender chooses otherwise, after reading the preview.
    let impact = if pm.summary.trim().is_empty() { &pm.customer_impact } else { &pm.summary };
    if !impact.trim().is_empty() {
        form.impact = clip(impact, 1500);
    }
    form.audience = crate::domain::status::Audience::Internal.as_str().to_owned();
    form.final_note = true;
    let why = if pm.root_cause.trim().is_empty() { &pm.summary } else { &pm.root_cause };
    let mut actions = format!("Why it happened: {}\n\nWhat we are doing about it:", clip(why, 1500));
    if followups.is_empty() {
        actions.push_str(&format!(" {}", clip(&pm.lessons, 1500)));
    }
    for f in followups.iter().take(10) {
        actions.push_str(&format!("\n- {f}"));
    }
    form.actions = actions;
}
