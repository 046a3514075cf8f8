//! How an incident relates to others: a duplicate of another (it is resolved
//! and points there), a false alarm (kept on record, left out of reports), or
//! related to another (a link both ways). Each change is a timeline entry in
//! every incident it touches, written in the same transaction.

use chrono::{DateTime, Utc};
use diesel_async::{AsyncConnection, AsyncPgConnection};

use super::{load_for_change, move_status, name_of, record_and_notify, require_responder};
use crate::config::Settings;
use crate::db::incidents::{self, Incident, IncidentChanges};
use crate::db::{DbPool, IncidentId, UserId};
use crate::domain::incident::{EntryKind, IncidentStatus, Visibility, parse_incident_ref};
use crate::services::{Actor, FieldErrors, ServiceError};

/// "#12 “Checkout errors”", or just "#12" for a restricted incident: the
/// entry is read in the other incident's room, by people who may not see it.
fn named(incident: &Incident) -> String {
    if incident.visibility() == Visibility::Restricted {
        format!("#{}", incident.id)
    } else {
        format!("#{} “{}”", incident.id, incident.title)
    }
}

/// Locks both incidents, always the lower id first (two people linking the
/// same pair in opposite directions wait for each other instead of deadlocking).
/// The other incident is named by `field`'s input; a number that is not there
/// (or not visible to the actor) is a message on that field.
async fn lock_pair(
    conn: &mut AsyncPgConnection,
    actor: &Actor,
    id: IncidentId,
    other_input: &str,
    field: &'static str,
) -> Result<(Incident, Incident), ServiceError> {
    let other = IncidentId(parse_incident_ref(other_input).map_err(|m| invalid(field, m))?);
    if other == id {
        return Err(invalid(field, "That is this incident: give another incident's number."));
    }
    let not_found = |e| match e {
        ServiceError::NotFound => invalid(field, format!("There is no incident #{other} you can see.")),
        e => e,
    };
    if id < other {
        let this = load_for_change(conn, actor, id).await?;
        let other = load_for_change(conn, actor, other).await.map_err(not_found)?;
        Ok((this, other))
    } else {
        let other = load_for_change(conn, actor, other).await.map_err(not_found)?;
        let this = load_for_change(conn, actor, id).await?;
        Ok((this, other))
    }
}

fn invalid(field: &'static str, message: impl Into<String>) -> ServiceError {
    ServiceError::Invalid(FieldErrors::single(field, message))
}

/// Resolves the incident if it is still active (a duplicate or a false alarm
/// leaves the active list), through the usual status change.
async fn resolve_if_active(
    conn: &mut AsyncPgConnection,
    settings: &Settings,
    incident: &Incident,
    me: UserId,
    now: DateTime<Utc>,
) -> Result<(), ServiceError> {
    if incident.status().is_active() {
        move_status(conn, settings, incident, IncidentStatus::Resolved, me, now).await?;
    }
    Ok(())
}

/// Marks `id` as a duplicate of the incident named in `of`: it points there,
/// is resolved if active, and incidents marked as duplicates of it now point
/// at the same place.
pub async fn mark_duplicate(
    pool: &DbPool,
    settings: &Settings,
    actor: &Actor,
    id: IncidentId,
    of: &str,
) -> Result<(), ServiceError> {
    let me = require_responder(actor)?;
    let now = Utc::now();
    let mut conn = pool.get().await?;
    conn.transaction(async |conn| {
        let (this, target) = lock_pair(conn, actor, id, of, "duplicate_of").await?;
        if this.duplicate_of == Some(target.id) {
            return Err(invalid("duplicate_of", format!("This incident is already a duplicate of #{}.", target.id)));
        }
        if let Some(root) = target.duplicate_of {
            return Err(invalid(
                "duplicate_of",
                format!("#{} is itself a duplicate of #{root}: mark this one as a duplicate of #{root}.", target.id),
            ));
        }
        let who = name_of(conn, me).await?;
        incidents::update(conn, id, &IncidentChanges { duplicate_of: Some(Some(target.id)), ..Default::default() })
            .await?;
        let body = format!("{who} marked this incident as a duplicate of {}: the work goes on there.", named(&target));
        record_and_notify(conn, id, me, EntryKind::System, &body, now).await?;
        let body = format!("{who} marked {} as a duplicate of this incident.", named(&this));
        record_and_notify(conn, target.id, me, EntryKind::System, &body, now).await?;
        // Duplicates of this one follow it, so nothing points at a duplicate.
        for d in incidents::duplicates_of(conn, id).await? {
            let changes = IncidentChanges { duplicate_of: Some(Some(target.id)), ..Default::default() };
            incidents::update(conn, d.id, &changes).await?;
            let body = format!("#{id} became a duplicate of {}: this incident now points there.", named(&target));
            record_and_notify(conn, d.id, me, EntryKind::System, &body, now).await?;
        }
        resolve_if_active(conn, settings, &this, me, now).await
    })
    .await
}

/// Takes the duplicate mark off (the incident stays resolved; reopen it with
/// the status control if the work is here after all).
pub async fn unmark_duplicate(pool: &DbPool, actor: &Actor, id: IncidentId) -> Result<(), ServiceError> {
    let me = require_responder(actor)?;
    let now = Utc::now();
    let mut conn = pool.get().await?;
    conn.transaction(async |conn| {
        let this = load_for_change(conn, actor, id).await?;
        let Some(was) = this.duplicate_of else {
            return Err(invalid("duplicate_of", "This incident is not marked as a duplicate."));
        };
        let who = name_of(conn, me).await?;
        incidents::update(conn, id, &IncidentChanges { duplicate_of: Some(None), ..Default::default() }).await?;
        let body = format!("{who} said this incident is not a duplicate of #{was} after all.");
        record_and_notify(conn, id, me, EntryKind::System, &body, now).await?;
        let body = format!("{who} said {} is not a duplicate of this incident after all.", named(&this));
        record_and_notify(conn, was, me, EntryKind::System, &body, now).await?;
        Ok(())
    })
    .await
}

/// Marks the incident as a false alarm (resolved if active, left out of the
/// reports) or takes the mark off.
pub async fn set_false_alarm(
    pool: &DbPool,
    settings: &Settings,
    actor: &Actor,
    id: IncidentId,
    false_alarm: bool,
) -> Result<(), ServiceError> {
    let me = require_responder(actor)?;
    let now = Utc::now();
    let mut conn = pool.get().await?;
    conn.transaction(async |conn| {
        let this = load_for_change(conn, actor, id).await?;
        if this.false_alarm == false_alarm {
            return Ok(());
        }
        let who = name_of(conn, me).await?;
        incidents::update(conn, id, &IncidentChanges { false_alarm: Some(false_alarm), ..Default::default() }).await?;
        let body = if false_alarm {
            format!("{who} marked the incident as a false alarm: it is left out of the reports.")
        } else {
            format!("{who} said the incident is not a false alarm after all: it counts in the reports again.")
        };
        record_and_notify(conn, id, me, EntryKind::System, &body, now).await?;
        if false_alarm {
            resolve_if_active(conn, settings, &this, me, now).await?;
        }
        Ok(())
    })
    .await
}

/// Links the incident named in `other` as related to `id` (both rooms show it),
/// or removes the link.
pub async fn set_related(
    pool: &DbPool,
    actor: &Actor,
    id: IncidentId,
    other: &str,
    related: bool,
) -> Result<(), ServiceError> {
    let me = require_responder(actor)?;
    let now = Utc::now();
    let mut conn = pool.get().await?;
    conn.transaction(async |conn| {
        let (this, that) = lock_pair(conn, actor, id, other, "related").await?;
        let changed = if related {
            incidents::link_related(conn, id, that.id, me).await?
        } else {
            incidents::unlink_related(conn, id, that.id).await?
        };
        if !changed {
            return Ok(());
        }
        let who = name_of(conn, me).await?;
        let (here, there) = if related {
            (
                format!("{who} linked {} as a related incident.", named(&that)),
                format!("{who} linked {} as a related incident.", named(&this)),
            )
        } else {
            (
                format!("{who} removed the link to {}.", named(&that)),
                format!("{who} removed the link to {}.", named(&this)),
            )
        };
        record_and_notify(conn, id, me, EntryKind::System, &here, now).await?;
        record_and_notify(conn, that.id, me, EntryKind::System, &there, now).await?;
        Ok(())
    })
    .await
}
