//! What an update says to each kind of recipient: the stakeholders' and the
//! subscribers' emails, a webhook subscriber's post, and the announcement of
//! a new incident.

use chrono::{DateTime, Utc};
use diesel_async::AsyncPgConnection;

use super::{PREVIEW_PREFERENCES, Prepared};
use crate::config::Settings;
use crate::db::incidents::Incident;
use crate::db::stakeholders;
use crate::db::updates::Update;
use crate::db::{components, outbox};
use crate::domain::incident::Visibility;
use crate::email::compose::{Banner, Email, Tone, link};
use crate::services::incidents::record;

pub(super) fn internal_email(settings: &Settings, incident: &Incident, p: &Prepared) -> Email {
    Email {
        kind: "update",
        subject: format!("[{}] {}", incident.severity(), p.composed.subject),
        heading: p.composed.subject.clone(),
        body: p.composed.body.clone(),
        link_label: "Open the incident room".to_owned(),
        link_url: link(settings, &format!("/incidents/{}", incident.id)),
        footer: Some(format!(
            "You receive this as a member of a stakeholder group for {} incidents.",
            settings.status_page_name
        )),
        banner: Some(Banner {
            label: format!("{} · {}", p.draft.status.label(), incident.severity()),
            tone: Tone::of_status(p.draft.status),
        }),
        ..designed(p, incident)
    }
}

/// The subscribers' email, before each one's unsubscribe link is set.
pub(super) fn public_email(settings: &Settings, incident: &Incident, p: &Prepared) -> Email {
    Email {
        kind: "status_update",
        subject: format!("[{}] {}", settings.status_page_name, p.composed.subject),
        heading: p.composed.subject.clone(),
        body: p.composed.body.clone(),
        link_label: "Follow this incident".to_owned(),
        link_url: link(settings, &format!("/status/incidents/{}", incident.public_id)),
        footer: Some(crate::services::subscriptions::subscriber_footer(settings, PREVIEW_PREFERENCES)),
        banner: Some(Banner { label: p.draft.status.label().to_owned(), tone: Tone::of_status(p.draft.status) }),
        ..designed(p, incident)
    }
}

/// What both kinds of update email show beside the message: the components
/// with their status after this update and, once resolved, when and after how
/// long (computed from the prepared update, so preview and send agree).
fn designed(p: &Prepared, incident: &Incident) -> Email {
    let facts = match p.resolved_at {
        Some(at) => vec![
            ("Resolved at".to_owned(), at.format("%-d %b %Y, %H:%M UTC").to_string()),
            ("Total duration".to_owned(), crate::domain::metrics::format_duration(at - p.draft.impact_started_at)),
        ],
        None => Vec::new(),
    };
    Email {
        incident_id: Some(incident.id),
        components: p
            .draft
            .components
            .iter()
            .map(|(name, s)| (name.clone(), Tone::of_component(*s), s.label().to_owned()))
            .collect(),
        facts,
        ..Default::default()
    }
}

/// The one-click unsubscribe URL of a subscriber (also its List-Unsubscribe).
pub fn unsubscribe_link(settings: &Settings, token: &str) -> String {
    link(settings, &format!("/status/subscriptions/{token}/unsubscribe"))
}

/// Announces a just-opened incident (see `announce`) and records on its
/// timeline how many people were told, in the caller's transaction.
pub(crate) async fn announce_new(
    conn: &mut AsyncPgConnection,
    settings: &Settings,
    incident: &Incident,
    now: chrono::DateTime<chrono::Utc>,
) -> diesel::QueryResult<()> {
    let announced = announce(conn, settings, incident).await?;
    if announced > 0 {
        let body = format!(
            "Announced to the “{}” group ({announced} recipient{}).",
            stakeholders::INCIDENT_REPORTS,
            if announced == 1 { "" } else { "s" }
        );
        record(conn, incident.id, None, crate::domain::incident::EntryKind::System, &body, now).await?;
    }
    Ok(())
}

/// The announcement of a new incident to the "incident reports" group, when
/// that group exists (never for restricted incidents).
pub async fn announce(
    conn: &mut AsyncPgConnection,
    settings: &Settings,
    incident: &Incident,
) -> diesel::QueryResult<usize> {
    if incident.visibility() == Visibility::Restricted {
        return Ok(0);
    }
    let Some(group) = stakeholders::find_group_by_name(conn, stakeholders::INCIDENT_REPORTS).await? else {
        return Ok(0);
    };
    let members = stakeholders::recipients(conn, &[group.id]).await?;
    let components = components::for_incident(conn, incident.id).await?;
    let names: Vec<&str> = components.iter().map(|c| c.name.as_str()).collect();
    let mut body = format!(
        "A {} {} incident was declared at {} in {}.",
        incident.severity(),
        incident.kind().label().to_lowercase(),
        incident.declared_at.format("%-d %b %Y, %H:%M UTC"),
        incident.environment
    );
    if !names.is_empty() {
        body.push_str(&format!("\n\nAffected components: {}.", names.join(", ")));
    }
    let email = Email {
        kind: "announcement",
        subject: format!("[{}] New incident: {}", incident.severity(), incident.title),
        heading: format!("New incident: {}", incident.title),
        body,
        link_label: "Open the incident room".to_owned(),
        link_url: link(settings, &format!("/incidents/{}", incident.id)),
        footer: Some(format!("You receive this as a member of the “{}” group.", group.name)),
        unsubscribe_url: None,
        incident_id: Some(incident.id),
        ..Default::default()
    };
    let mut messages = Vec::with_capacity(members.len());
    for m in &members {
        messages.push(
            email.to(settings, &m.name, &m.email).map_err(|e| diesel::result::Error::QueryBuilderError(e.into()))?,
        );
    }
    outbox::enqueue(conn, &messages).await
}

/// A webhook subscriber's post for this update (public text only).
pub(super) fn subscriber_post(
    settings: &Settings,
    incident: &Incident,
    update: &Update,
    p: &Prepared,
    now: DateTime<Utc>,
    unsubscribe_url: &str,
) -> String {
    let page_url = link(settings, "/status");
    let incident_url = link(settings, &format!("/status/incidents/{}", incident.public_id));
    let components: Vec<(String, String)> =
        p.draft.components.iter().map(|(name, s)| (name.clone(), s.as_str().to_owned())).collect();
    crate::domain::webhooks::subscriber_body(&crate::domain::webhooks::PublicUpdate {
        page_name: &settings.status_page_name,
        page_url: &page_url,
        unsubscribe_url,
        incident_id: &incident.public_id,
        incident_name: incident.public_title(),
        incident_url: &incident_url,
        status: p.draft.status.as_str(),
        update_id: &update.public_id,
        body: &p.composed.body,
        created_at: now,
        components: &components,
    })
}
