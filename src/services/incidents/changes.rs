//! Changes to production: requested by anyone, decided by the current lead.

use chrono::Utc;
use diesel_async::AsyncConnection;

use super::{load_for_change, name_of, record_and_notify, require_current_lead, require_responder};
use crate::db::change_requests::{self, ChangeRequest};
use crate::db::{ChangeRequestId, DbPool, IncidentId};
use crate::domain::incident::{ChangeStatus, EntryKind};
use crate::services::{Actor, FieldErrors, ServiceError};

pub async fn request_change(
    pool: &DbPool,
    actor: &Actor,
    id: IncidentId,
    description: &str,
    rollback_plan: &str,
) -> Result<ChangeRequest, ServiceError> {
    let me = require_responder(actor)?;
    let mut errors = FieldErrors::new();
    let description = description.trim();
    let rollback_plan = rollback_plan.trim();
    if description.is_empty() {
        errors.add("change_description", "Say what you want to change in production.");
    }
    if rollback_plan.is_empty() {
        errors.add("change_rollback", "Say how to undo it if it makes things worse.");
    }
    if description.chars().count() > 5000 || rollback_plan.chars().count() > 5000 {
        errors.add("change_description", "Keep it under 5,000 characters.");
    }
    if !errors.is_empty() {
        return Err(ServiceError::Invalid(errors));
    }
    let now = Utc::now();
    let mut conn = pool.get().await?;
    conn.transaction(async |conn| {
        load_for_change(conn, actor, id).await?;
        let change = change_requests::insert(conn, id, me, description, rollback_plan).await?;
        let who = name_of(conn, me).await?;
        let body = format!("{who} asks to change production: {description} (rollback: {rollback_plan})");
        record_and_notify(conn, id, me, EntryKind::Change, &body, now).await?;
        Ok(change)
    })
    .await
}

/// Only the person holding the lead role at this moment approves or rejects.
pub async fn decide_change(
    pool: &DbPool,
    actor: &Actor,
    id: IncidentId,
    change: ChangeRequestId,
    approve: bool,
) -> Result<ChangeRequest, ServiceError> {
    let me = require_responder(actor)?;
    let now = Utc::now();
    let mut conn = pool.get().await?;
    conn.transaction(async |conn| {
        load_for_change(conn, actor, id).await?;
        require_current_lead(conn, id, me).await?;
        let current = change_requests::find_in(conn, id, change).await?.ok_or(ServiceError::NotFound)?;
        if current.status() != ChangeStatus::Pending {
            return Err(ServiceError::Invalid(FieldErrors::single("change", "This change was already decided.")));
        }
        let status = if approve { ChangeStatus::Approved } else { ChangeStatus::Rejected };
        let updated = change_requests::decide(conn, change, status, me, now).await?;
        let who = name_of(conn, me).await?;
        let verb = if approve { "approved" } else { "rejected" };
        record_and_notify(
            conn,
            id,
            me,
            EntryKind::Change,
            &format!("{who} (lead) {verb} the change: {}", updated.description),
            now,
        )
        .await?;
        Ok(updated)
    })
    .await
}

/// An approved change is marked applied once it is done.
pub async fn mark_change_applied(
    pool: &DbPool,
    actor: &Actor,
    id: IncidentId,
    change: ChangeRequestId,
) -> Result<ChangeRequest, ServiceError> {
    let me = require_responder(actor)?;
    let now = Utc::now();
    let mut conn = pool.get().await?;
    conn.transaction(async |conn| {
        load_for_change(conn, actor, id).await?;
        let current = change_requests::find_in(conn, id, change).await?.ok_or(ServiceError::NotFound)?;
        if current.status() != ChangeStatus::Approved {
            return Err(ServiceError::Invalid(FieldErrors::single(
                "change",
                "Only an approved change can be marked applied.",
            )));
        }
        let updated = change_requests::mark_applied(conn, change, me, now).await?;
        let who = name_of(conn, me).await?;
        record_and_notify(
            conn,
            id,
            me,
            EntryKind::Change,
            &format!("{who} applied the change: {}", updated.description),
            now,
        )
        .await?;
        Ok(updated)
    })
    .await
}
