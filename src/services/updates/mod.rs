//! Stakeholder updates: the communications lead composes one from a filled-in
//! template, previews it, and sends it. Sending writes the update, its
//! timeline entries, any status and component changes and one outbox row per
//! recipient in a single transaction.

use chrono::{DateTime, Utc};
use diesel_async::{AsyncConnection, AsyncPgConnection};

use super::incidents::{load_for_change, move_status, name_of, notify, record, require_responder};
use super::{Actor, FieldErrors, ServiceError};
use crate::config::Settings;
use crate::db::component_status::{self, Cause};
use crate::db::components::{self, Component};
use crate::db::incidents::{self, Incident, IncidentChanges};
use crate::db::outbox;
use crate::db::stakeholders::{self, Member};
use crate::db::subscribers;
use crate::db::updates::{self, NewUpdate, Update};
use crate::db::{ComponentId, DbPool, GroupId, IncidentId, UserId, incident_roles};
use crate::domain::Role;
use crate::domain::incident::{self as rules, EntryKind, IncidentRole, IncidentStatus, Visibility};
use crate::domain::status::{Audience, ComponentStatus};
use crate::domain::updates::{self as update_rules, Composed, Draft};
use crate::domain::webhooks::EventKind;

mod messages;

pub(crate) use messages::announce_new;
pub use messages::{announce, unsubscribe_link};
use messages::{internal_email, public_email};

/// The raw values of the update form.
#[derive(Debug, Default, Clone, serde::Deserialize)]
#[serde(default)]
pub struct UpdateInput {
    pub status: String,
    pub impact_started_at: String,
    pub impact: String,
    pub actions: String,
    pub next_update: String,
    pub audience: String,
    /// Stakeholder group ids.
    pub groups: Vec<String>,
    /// One per listed component: `"{id}:{status}"`, or `"{id}:"` for no change.
    pub component_status: Vec<String>,
    /// Which button was pressed: `preview` or `send`.
    pub action: String,
    /// When the shown preview was composed (RFC 3339): "send" computes every
    /// time in the message from it, so the text sent is the text read.
    pub composed_at: String,
    /// The fingerprint of the previewed messages: "send" refuses to send
    /// anything else and shows the new text instead.
    pub preview_digest: String,
    /// One per compose form: a double click or a retried POST sends once.
    pub idempotency_key: String,
    /// The final note after a published post-mortem (its own subject).
    pub final_note: bool,
}

/// The longest idempotency key accepted (the form's are 43 characters).
const MAX_IDEMPOTENCY_KEY: usize = 200;

/// How long a preview stays good for: a "send" from an older preview is
/// composed afresh (and so shown again, since its text changed).
const PREVIEW_LIFETIME: chrono::Duration = chrono::Duration::hours(6);

/// One kind of recipient's email, exactly as the outbox will hold it.
#[derive(Debug, Clone)]
pub struct PreviewedEmail {
    /// Who gets this version.
    pub audience: &'static str,
    pub subject: String,
    pub text: String,
}

/// What "send" did.
#[derive(Debug)]
pub enum Sent {
    /// The update is written and its emails queued.
    Sent(Update),
    /// This form was already sent (same idempotency key): nothing new.
    AlreadySent(Update),
    /// The messages differ from the preview the sender read (the incident or
    /// the form changed since): nothing was sent; here is the new preview.
    PreviewChanged(Box<Prepared>),
}

/// A checked update, ready to preview or send.
#[derive(Debug, Clone)]
pub struct Prepared {
    pub draft: Draft,
    pub composed: Composed,
    pub audience: Audience,
    pub groups: Vec<GroupId>,
    /// Components whose status this update changes: (component, new status).
    pub changes: Vec<(Component, ComponentStatus)>,
    pub internal_recipients: Vec<Member>,
    /// The incident's components, whose subscribers get public updates.
    pub affected: Vec<ComponentId>,
    /// How many confirmed subscribers a public update reaches.
    pub subscribers: i64,
    /// The instant every time in the message is computed from.
    pub composed_at: DateTime<Utc>,
    /// When the incident was (or, by this update, is) resolved; `None` while active.
    pub resolved_at: Option<DateTime<Utc>>,
    /// Each kind of recipient's email (subject and text part), as sent.
    pub emails: Vec<PreviewedEmail>,
    /// A fingerprint of `emails`, carried by the form from preview to send.
    pub digest: String,
}

/// Who may speak for an incident: its communications lead, its lead, or an admin.
pub async fn may_send(conn: &mut AsyncPgConnection, incident: IncidentId, actor: &Actor) -> diesel::QueryResult<bool> {
    let Some(user) = actor.id else { return Ok(false) };
    if actor.role == Role::Admin {
        return Ok(true);
    }
    if !actor.role.allows(Role::Responder) {
        return Ok(false);
    }
    let roles = incident_roles::current_roles_of(conn, incident, user).await?;
    Ok(roles.iter().any(|a| matches!(a.role(), IncidentRole::CommsLead | IncidentRole::Lead)))
}

async fn require_sender(
    conn: &mut AsyncPgConnection,
    incident: IncidentId,
    actor: &Actor,
) -> Result<UserId, ServiceError> {
    let me = require_responder(actor)?;
    if !may_send(conn, incident, actor).await? {
        return Err(ServiceError::Forbidden("only the communications lead or the incident lead sends updates"));
    }
    Ok(me)
}

/// Whether sending an update with this status moves the incident. A
/// "resolved" update about a closed incident (e.g. the post-mortem's final
/// note) leaves it closed.
fn moves_status(current: IncidentStatus, drafted: IncidentStatus) -> bool {
    drafted != current && !(current == IncidentStatus::Closed && drafted == IncidentStatus::Resolved)
}

/// Parses and checks the form against the incident as it is now.
async fn prepare_in(
    conn: &mut AsyncPgConnection,
    settings: &Settings,
    incident: &Incident,
    tz: chrono_tz::Tz,
    input: &UpdateInput,
    now: DateTime<Utc>,
    composed_at: DateTime<Utc>,
) -> Result<Prepared, ServiceError> {
    let mut errors = FieldErrors::new();
    if input.idempotency_key.len() > MAX_IDEMPOTENCY_KEY || input.idempotency_key.chars().any(char::is_control) {
        errors.add("idempotency_key", "Reload the form: its idempotency key is not one Firebreak made.");
    }
    let status = errors.check("status", IncidentStatus::parse(&input.status));
    if status == Some(IncidentStatus::Closed) {
        errors.add("status", "Updates describe investigating, identified, monitoring or resolved.");
    }
    if let Some(s) = status
        && moves_status(incident.status(), s)
        && !incident.status().can_move_to(s)
    {
        errors.add(
            "status",
            format!(
                "An incident that is {} cannot move to {}.",
                incident.status().label().to_lowercase(),
                s.label().to_lowercase()
            ),
        );
    }
    let impact_started = match rules::parse_past_time(&input.impact_started_at, tz, now) {
        Ok(Some(t)) => Some(t),
        Ok(None) => {
            errors.add("impact_started_at", "Enter when the impact started.");
            None
        }
        Err(m) => {
            errors.add("impact_started_at", m);
            None
        }
    };
    let impact = errors.check("impact", rules::parse_short_text(&input.impact, "likely impact", 5000));
    let actions = errors.check("actions", rules::parse_short_text(&input.actions, "what is being done", 5000));
    if impact.as_deref().is_some_and(str::is_empty) {
        errors.add("impact", "Say who is affected and how.");
    }
    if actions.as_deref().is_some_and(str::is_empty) {
        errors.add("actions", "Say what is being done.");
    }
    let next = status.map(|s| update_rules::parse_next_update(&input.next_update, s));
    let next = match next {
        Some(Ok(n)) => n,
        Some(Err(m)) => {
            errors.add("next_update", m);
            None
        }
        None => None,
    };
    let audience = errors.check("audience", Audience::parse(&input.audience));
    if audience.is_some_and(Audience::is_public) && incident.visibility() == Visibility::Restricted {
        errors.add("audience", "Restricted incidents are never published; send to internal stakeholders only.");
    }

    let all_groups = stakeholders::list_groups(conn).await?;
    let mut groups = Vec::new();
    for g in &input.groups {
        match g.trim().parse::<GroupId>() {
            Ok(id) if all_groups.iter().any(|x| x.id == id) => groups.push(id),
            _ => errors.add("groups", "Choose groups from the list."),
        }
    }
    groups.sort();
    groups.dedup();
    if audience.is_some_and(Audience::is_internal) && groups.is_empty() {
        errors.add("groups", "Choose at least one stakeholder group, or send to the public status page only.");
    }

    let affected = components::for_incident(conn, incident.id).await?;
    let mut changes = Vec::new();
    for value in &input.component_status {
        let Some((id, wanted)) = value.split_once(':') else {
            errors.add("component_status", "Choose a status for each component from the list.");
            continue;
        };
        let Some(component) = id.trim().parse::<ComponentId>().ok().and_then(|id| affected.iter().find(|c| c.id == id))
        else {
            errors.add("component_status", "Choose components of this incident.");
            continue;
        };
        if wanted.trim().is_empty() {
            continue;
        }
        match ComponentStatus::parse(wanted) {
            Ok(s) if s.as_str() != component.status => changes.push((component.clone(), s)),
            Ok(_) => {}
            Err(m) => errors.add("component_status", m),
        }
    }

    let (Some(status), Some(impact_started), Some(impact), Some(actions), Some(audience), true) =
        (status, impact_started, impact, actions, audience, errors.is_empty())
    else {
        return Err(ServiceError::Invalid(errors));
    };
    let draft = Draft {
        // A message the public reads carries the public title, to everyone it goes to:
        // the preview shows one subject, and that is the one sent.
        title: if audience.is_public() { incident.public_title().to_owned() } else { incident.title.clone() },
        status,
        impact_started_at: impact_started,
        components: affected
            .iter()
            .map(|c| {
                let after = changes
                    .iter()
                    .find(|(changed, _)| changed.id == c.id)
                    .map(|(_, s)| *s)
                    .unwrap_or_else(|| ComponentStatus::parse(&c.status).unwrap_or(ComponentStatus::Operational));
                (c.name.clone(), after)
            })
            .collect(),
        impact,
        actions,
        next_update_at: next.map(|m| composed_at + chrono::Duration::minutes(m)),
        final_note: input.final_note && status == IncidentStatus::Resolved,
    };
    let composed = update_rules::compose(&draft);
    let draft_active = draft.status.is_active();
    let internal_recipients =
        if audience.is_internal() { stakeholders::recipients(conn, &groups).await? } else { Vec::new() };
    let affected: Vec<ComponentId> = affected.iter().map(|c| c.id).collect();
    let subscribers =
        if audience.is_public() { subscribers::count_confirmed_for_components(conn, &affected).await? } else { 0 };
    let mut prepared = Prepared {
        draft,
        composed,
        audience,
        groups,
        changes,
        internal_recipients,
        affected,
        subscribers,
        composed_at,
        resolved_at: (!draft_active)
            .then(|| incident.resolved_at.filter(|_| !incident.status().is_active()).unwrap_or(composed_at)),
        emails: Vec::new(),
        digest: String::new(),
    };
    prepared.emails = previewed_emails(settings, incident, &prepared)?;
    prepared.digest = digest(&prepared.emails);
    Ok(prepared)
}

/// What the preview puts where each subscriber's own links go.
const PREVIEW_UNSUBSCRIBE: &str = "(each subscriber's own unsubscribe link)";
const PREVIEW_PREFERENCES: &str = "(each subscriber's own preferences link)";

/// The subject and text part each kind of recipient gets, rendered by the
/// same code that fills the outbox.
fn previewed_emails(
    settings: &Settings,
    incident: &Incident,
    p: &Prepared,
) -> Result<Vec<PreviewedEmail>, ServiceError> {
    let mut out = Vec::new();
    if p.audience.is_internal() {
        let message =
            internal_email(settings, incident, p).to(settings, "", "preview@invalid").map_err(anyhow::Error::from)?;
        out.push(PreviewedEmail {
            audience: "Internal stakeholders",
            subject: message.subject,
            text: message.text_body,
        });
    }
    if p.audience.is_public() {
        let mut email = public_email(settings, incident, p);
        email.unsubscribe_url = Some(PREVIEW_UNSUBSCRIBE.to_owned());
        let message = email.to(settings, "", "preview@invalid").map_err(anyhow::Error::from)?;
        out.push(PreviewedEmail {
            audience: "Status page subscribers",
            subject: message.subject,
            text: message.text_body,
        });
    }
    Ok(out)
}

/// A fingerprint of the previewed messages (SHA-256, hex).
fn digest(emails: &[PreviewedEmail]) -> String {
    use sha2::{Digest, Sha256};
    let mut h = Sha256::new();
    for e in emails {
        for part in [e.audience, &e.subject, &e.text] {
            h.update((part.len() as u64).to_be_bytes());
            h.update(part.as_bytes());
        }
    }
    h.finalize().iter().map(|b| format!("{b:02x}")).collect()
}

/// The instant a "send" composes its message from: the preview's, while it
/// is recent, so a minute passing between preview and send changes nothing.
fn composed_base(input: &UpdateInput, now: DateTime<Utc>) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(input.composed_at.trim())
        .ok()
        .map(|t| t.with_timezone(&Utc))
        .filter(|t| *t <= now + chrono::Duration::minutes(1) && now - *t <= PREVIEW_LIFETIME)
        .unwrap_or(now)
}

/// Checks the form and shows what would be sent, changing nothing.
pub async fn preview(
    pool: &DbPool,
    settings: &Settings,
    actor: &Actor,
    tz: chrono_tz::Tz,
    id: IncidentId,
    input: &UpdateInput,
) -> Result<Prepared, ServiceError> {
    let mut conn = pool.get().await?;
    let incident = incidents::find(&mut conn, id).await?.ok_or(ServiceError::NotFound)?;
    if !super::incidents::can_view(&mut conn, &incident, actor).await? {
        return Err(ServiceError::NotFound);
    }
    require_sender(&mut conn, id, actor).await?;
    let now = Utc::now();
    prepare_in(&mut conn, settings, &incident, tz, input, now, now).await
}

/// Sends the update: everything it causes is written in one transaction,
/// and the outbox delivers the emails afterwards.
pub async fn send(
    pool: &DbPool,
    settings: &Settings,
    actor: &Actor,
    tz: chrono_tz::Tz,
    id: IncidentId,
    input: &UpdateInput,
) -> Result<Sent, ServiceError> {
    let now = Utc::now();
    let key = Some(input.idempotency_key.trim()).filter(|k| !k.is_empty());
    let mut conn = pool.get().await?;
    let sent = conn
        .transaction(async |conn| {
            let incident = load_for_change(conn, actor, id).await?;
            let me = require_sender(conn, id, actor).await?;
            if let Some(key) = key
                && let Some(update) = updates::find_by_key(conn, id, key).await?
            {
                return Ok(Sent::AlreadySent(update));
            }
            let p = prepare_in(conn, settings, &incident, tz, input, now, composed_base(input, now)).await?;
            if !input.preview_digest.trim().is_empty() && input.preview_digest.trim() != p.digest {
                return Ok(Sent::PreviewChanged(Box::new(p)));
            }
            write(conn, settings, id, incident, me, &p, key, now).await.map(Sent::Sent)
        })
        .await;
    match sent {
        // Two sends with one key at the same moment: the second waited for
        // the first's commit and hit the unique index; it sent nothing.
        Err(ServiceError::Unexpected(e)) if key.is_some() && is_duplicate_key(&e) => {
            let update =
                updates::find_by_key(&mut conn, id, key.unwrap_or_default()).await?.ok_or(ServiceError::NotFound)?;
            Ok(Sent::AlreadySent(update))
        }
        other => other,
    }
}

fn is_duplicate_key(e: &anyhow::Error) -> bool {
    e.downcast_ref::<diesel::result::Error>().is_some_and(super::components::is_unique_violation)
}

/// Writes everything one update causes, in the caller's transaction.
#[expect(clippy::too_many_arguments, reason = "the pieces of one send, each used once")]
async fn write(
    conn: &mut AsyncPgConnection,
    settings: &Settings,
    id: IncidentId,
    incident: Incident,
    me: UserId,
    p: &Prepared,
    key: Option<&str>,
    now: DateTime<Utc>,
) -> Result<Update, ServiceError> {
    {
        let mut incident = incident;
        if moves_status(incident.status(), p.draft.status) {
            incident = move_status(conn, settings, &incident, p.draft.status, me, now).await?;
        }
        let update = updates::insert(
            conn,
            &NewUpdate {
                incident_id: id,
                status: p.draft.status.as_str(),
                audience: p.audience.as_str(),
                impact: &p.draft.impact,
                actions: &p.draft.actions,
                impact_started_at: p.draft.impact_started_at,
                next_update_at: p.draft.next_update_at,
                subject: &p.composed.subject,
                body: &p.composed.body,
                created_by: Some(me),
                created_at: now,
                idempotency_key: key,
            },
        )
        .await?;
        let who = name_of(conn, me).await?;
        for (component, new) in &p.changes {
            let cause = Cause { by: Some(me), incident: Some(id), update: Some(update.id), maintenance: None };
            if let Some(old) = component_status::set(conn, component.id, *new, cause, now).await? {
                let body = format!(
                    "{who} set {} from {} to {}.",
                    component.name,
                    old.label().to_lowercase(),
                    new.label().to_lowercase()
                );
                record(conn, id, Some(me), EntryKind::Component, &body, now).await?;
            }
        }
        if p.audience.is_public() && incident.visibility() == Visibility::Internal {
            incidents::update(
                conn,
                id,
                &IncidentChanges { visibility: Some(Visibility::Public.as_str()), ..Default::default() },
            )
            .await?;
            let body = format!("{who} published the incident on the public status page.");
            record(conn, id, Some(me), EntryKind::System, &body, now).await?;
        }
        if p.audience.is_internal() {
            stakeholders::set_groups_for_incident(conn, id, &p.groups).await?;
        }

        let mut messages = Vec::new();
        if p.audience.is_internal() {
            let email = internal_email(settings, &incident, p);
            for m in &p.internal_recipients {
                messages.push(email.to(settings, &m.name, &m.email).map_err(anyhow::Error::from)?);
            }
        }
        outbox::enqueue(conn, &messages).await?;
        let mut subscriber_count = 0;
        if p.audience.is_public() {
            let subs = subscribers::confirmed_for_components(conn, &p.affected).await?;
            subscriber_count = subs.len();
            let email = public_email(settings, &incident, p);
            super::subscriptions::enqueue_for_subscribers(conn, settings, email, &subs).await?;
            let public =
                |unsubscribe: &str| messages::subscriber_post(settings, &incident, &update, p, now, unsubscribe);
            super::subscriptions::enqueue_webhooks(conn, settings, incident.id, &subs, public).await?;
        }

        let mut audiences = Vec::new();
        if p.audience.is_internal() {
            let n = p.internal_recipients.len();
            audiences.push(format!("{n} internal stakeholder{}", if n == 1 { "" } else { "s" }));
        }
        if p.audience.is_public() {
            audiences.push(format!(
                "the public status page ({subscriber_count} subscriber{})",
                if subscriber_count == 1 { "" } else { "s" }
            ));
        }
        let body = format!("{who} sent an update to {}: {}", audiences.join(" and "), p.composed.subject);
        record(conn, id, Some(me), EntryKind::Update, &body, now).await?;
        let detail = serde_json::json!({
            "update_id": update.public_id,
            "audience": p.audience.as_str(),
            "subject": p.composed.subject,
            "body": p.composed.body,
        });
        super::webhooks::enqueue(conn, settings, EventKind::UpdatePublished, &incident, detail).await?;
        component_status::notify_status_changed(conn).await?;
        notify(conn, id).await?;
        Ok(update)
    }
}

/// The update form's starting values: the template already filled in from
/// the incident and its last update.
pub fn prefill(
    incident: &Incident,
    last: Option<&Update>,
    status: Option<IncidentStatus>,
    tz: chrono_tz::Tz,
) -> UpdateInput {
    let status =
        status.filter(|s| *s != IncidentStatus::Closed).unwrap_or(if incident.status() == IncidentStatus::Closed {
            IncidentStatus::Resolved
        } else {
            incident.status()
        });
    let (impact_hint, actions_hint) = update_rules::suggested_text(status);
    let keep_text = last.is_some_and(|u| u.status == status.as_str());
    let impact = match last {
        Some(u) if keep_text => u.impact.clone(),
        _ if !incident.customer_impact.trim().is_empty() && status.is_active() => incident.customer_impact.clone(),
        _ => impact_hint.to_owned(),
    };
    let actions = match last {
        Some(u) if keep_text => u.actions.clone(),
        _ => actions_hint.to_owned(),
    };
    let audience = match last {
        Some(u) => u.audience.clone(),
        None if incident.visibility() == Visibility::Restricted => Audience::Internal.as_str().to_owned(),
        None => Audience::Both.as_str().to_owned(),
    };
    UpdateInput {
        status: status.as_str().to_owned(),
        impact_started_at: incident.impact_started_at.with_timezone(&tz).format("%Y-%m-%dT%H:%M").to_string(),
        impact,
        actions,
        next_update: update_rules::default_next_update_minutes(incident.severity(), status)
            .map(|m| m.to_string())
            .unwrap_or_default(),
        audience,
        groups: Vec::new(),
        component_status: Vec::new(),
        action: String::new(),
        composed_at: String::new(),
        preview_digest: String::new(),
        idempotency_key: crate::domain::alerts::new_token(),
        final_note: false,
    }
}
